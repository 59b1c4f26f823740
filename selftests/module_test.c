// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifecycle: load/unload cycles, the device node appearing and going,
 * refusal to unload while in use, module parameters, and hardware
 * virtualization turned on at load and off at unload on every CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "vhm_util.h"

FIXTURE(mod) {
	struct kmsg_log kmsg;
};

FIXTURE_SETUP(mod)
{
	self->kmsg.fd = -1;
	self->kmsg.text = NULL;
	REQUIRE_VHM_HOST();
	host_reset();
	ASSERT_FALSE(module_loaded("vhm"));
	ASSERT_EQ(0, kmsg_open(&self->kmsg));
}

FIXTURE_TEARDOWN(mod)
{
	kmsg_close(&self->kmsg);
	host_reset();
}

/*
 * 50 cycles; VHM_TEST_LOAD_CYCLES sets another count (the Bochs test host
 * uses 10: a load takes seconds at its speed, the path is the same).
 */
static int load_cycles(void)
{
	const char *e = getenv("VHM_TEST_LOAD_CYCLES");
	int n = e ? atoi(e) : 0;

	return n >= 2 && n <= 1000 ? n : 50;
}

TEST_F(mod, load_unload_cycles)
{
	int i, n = load_cycles();

	RETURN_IF_SKIPPED();
	TH_LOG("%d cycles", n);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, vhm_load(NULL)) TH_LOG("load %d", i);
		ASSERT_EQ(0, access("/dev/vhm", F_OK)) TH_LOG("load %d", i);
		ASSERT_EQ(0, vhm_unload()) TH_LOG("unload %d", i);
		ASSERT_NE(0, access("/dev/vhm", F_OK)) TH_LOG("unload %d", i);
	}
}

TEST_F(mod, load_logs_ready_line)
{
	char line[512];

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vhm_load(NULL));
	ASSERT_TRUE(kmsg_find(&self->kmsg, " ready, /dev/vhm API version 1",
			       line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, "ready")) TH_LOG("got: %s", line);
	EXPECT_NE(NULL, strstr(line, host_vendor() == VENDOR_AMD ?
				      "AMD-V" : "VT-x")) TH_LOG("got: %s", line);
}

TEST_F(mod, second_load_is_eexist)
{
	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vhm_load(NULL));
	EXPECT_EQ(-EEXIST, vhm_load(NULL));
	EXPECT_EQ(0, vhm_unload());
}

TEST_F(mod, unload_refused_while_dev_open)
{
	int fd;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vhm_load(NULL));
	fd = open("/dev/vhm", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, vhm_unload());
	EXPECT_TRUE(module_loaded("vhm"));
	close(fd);
	EXPECT_EQ(0, vhm_unload());
}

TEST_F(mod, bad_parameter_value_refused)
{
	RETURN_IF_SKIPPED();
	/* A value the parameter's type cannot parse fails the load. */
	EXPECT_EQ(-EINVAL, vhm_load("verbose=maybe"));
	EXPECT_FALSE(module_loaded("vhm"));
}

/* Every parameter has a description `modinfo` shows (the .modinfo section). */
TEST_F(mod, parameters_documented)
{
	static const char * const want[] = {
		"parm=verbose:", "parmtype=verbose:bool", "license=GPL",
		"description=",
	};
	struct stat st;
	char *buf;
	size_t i, j;
	FILE *f;

	RETURN_IF_SKIPPED();
	f = fopen(vhm_module_path(), "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fstat(fileno(f), &st));
	buf = malloc(st.st_size);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(1, fread(buf, st.st_size, 1, f));
	fclose(f);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;

		for (j = 0; j + strlen(want[i]) < (size_t)st.st_size; j++) {
			if (!memcmp(buf + j, want[i], strlen(want[i])) &&
			    (j == 0 || buf[j - 1] == 0)) {
				found = true;
				break;
			}
		}
		EXPECT_TRUE(found) TH_LOG("modinfo lacks %s", want[i]);
	}
	free(buf);
	ASSERT_EQ(0, vhm_load(NULL));
	EXPECT_EQ(0, access("/sys/module/vhm/parameters/verbose", R_OK));
}

/*
 * Speculation mitigations (docs/ARCHITECTURE.md, "Speculative execution"):
 * what vhm says it applies around guest entry, the read-only parameter
 * entry_mitigations (also logged at load), against the host kernel's own
 * selection in /sys/devices/system/cpu/vulnerabilities and /proc/cpuinfo.
 * The kernel sets the bits vhm's entry code is patched from together with
 * these strings (arch/x86/kernel/cpu/bugs.c of 6.1, 6.12 and 7.3).
 */
static char spec_vuln[4096];	/* every vulnerabilities file, "name: text" */
static char spec_list[256];	/* " verw rsb ... " */

static const char *vuln(const char *name)
{
	static char buf[512];
	char path[128];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/vulnerabilities/%s",
		 name);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return "";
	buf[strcspn(buf, "\n")] = 0;
	snprintf(path, sizeof(path), "%s: ", name);
	if (!strstr(spec_vuln, path))
		snprintf(spec_vuln + strlen(spec_vuln),
			 sizeof(spec_vuln) - strlen(spec_vuln), "%s%s\n",
			 path, buf);
	return buf;
}

static bool vuln_has(const char *name, const char *text)
{
	return strstr(vuln(name), text);
}

/* Case aside: 6.1 says "Mitigation: safe RET", 6.12 "Mitigation: Safe RET". */
static bool vuln_starts(const char *name, const char *text)
{
	return !strncasecmp(vuln(name), text, strlen(text));
}

/* A word of the "flags" or "bugs" line of /proc/cpuinfo's first CPU. */
static bool cpuinfo_has(const char *key, const char *word)
{
	char line[8192], w[64];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	snprintf(w, sizeof(w), " %s ", word);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) || line[strlen(key)] != '\t')
			continue;
		line[strcspn(line, "\n")] = 0;
		strcat(line, " ");
		found = strstr(strchr(line, ':'), w);
		break;
	}
	fclose(f);
	return found;
}

static bool listed(const char *name)
{
	char w[64];

	snprintf(w, sizeof(w), " %s ", name);
	return strstr(spec_list, w);
}

static bool cmdline_has(const char *word)
{
	char buf[1024];

	if (read_text("/proc/cmdline", buf, sizeof(buf)) < 0)
		return false;
	return strstr(buf, word);
}

TEST_F(mod, entry_mitigations_follow_host)
{
	static const char * const names[] = {
		"verw", "rsb", "rsb-lite", "untrain-ret", "srso-alias",
		"ibpb-on-exit", "ibrs", "bhb", "l1d-flush", "ibpb-on-vm-switch",
		"div0", "vmscape", "none",
	};
	bool amd = host_vendor() == VENDOR_AMD, host, vhm;
	char param[200], line[512], *w;
	size_t i;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vhm_load(NULL));
	ASSERT_EQ(0, read_text("/sys/module/vhm/parameters/entry_mitigations",
			       param, sizeof(param)));
	param[strcspn(param, "\n")] = 0;
	TH_LOG("vhm: %s", param);
	ASSERT_TRUE(kmsg_find(&self->kmsg, "vhm: entry mitigations: ", line,
			      sizeof(line)));
	EXPECT_NE(NULL, strstr(line, param)) TH_LOG("log: %s", line);
	snprintf(spec_list, sizeof(spec_list), " %s ", param);
	/* Only names vhm documents, "none" alone. */
	for (w = strtok(param, " "); w; w = strtok(NULL, " ")) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(w, names[i]))
				break;
		EXPECT_LT(i, sizeof(names) / sizeof(names[0]))
			TH_LOG("unknown mitigation %s", w);
	}
	if (listed("none"))
		EXPECT_STREQ(" none ", spec_list);

	spec_vuln[0] = 0;
	/* VERW: the CPU-buffer clearing the host selected for guests. */
	if (amd) {
		/* Without microcode a kernel in a VM forces it on anyway. */
		host = (vuln_has("tsa", "Mitigation: Clear CPU buffers") &&
			!vuln_has("tsa", "user/kernel")) ||
		       (vuln_has("tsa", "Clear CPU buffers attempted") &&
			cpuinfo_has("flags", "hypervisor"));
		EXPECT_EQ(host, listed("verw"));
	} else {
		host = vuln_has("mds", "Clear CPU buffers") ||
		       vuln_has("tsx_async_abort", "Clear CPU buffers") ||
		       vuln_has("reg_file_data_sampling", "Clear CPU buffers");
		if (host)
			EXPECT_TRUE(listed("verw"));
		/* MMIO stale data alone may use a key VERW only for MMIO. */
		if (listed("verw"))
			EXPECT_TRUE(host || vuln_has("mmio_stale_data",
						     "Clear CPU buffers"));
	}
	/* RSB after exit: spectre_v2's modes without eIBRS; PBRSB. */
	host = vuln_starts("spectre_v2", "Mitigation: Retpolines") ||
	       vuln_starts("spectre_v2", "Mitigation: LFENCE") ||
	       vuln_starts("spectre_v2", "Mitigation: IBRS");
	vhm = vuln_has("spectre_v2", "PBRSB-eIBRS: SW sequence");
	EXPECT_EQ(host && !vhm, listed("rsb"));
	EXPECT_EQ(vhm, listed("rsb-lite"));
	/* Legacy IBRS: the host's SPEC_CTRL written again after exits. */
	EXPECT_EQ(vuln_starts("spectre_v2", "Mitigation: IBRS"),
		  listed("ibrs"));
	/* BHI: the kernel reports its choice for KVM itself. */
	EXPECT_EQ(vuln_has("spectre_v2", "KVM: SW loop"), listed("bhb"));
	/* Retbleed and SRSO untraining (AMD), IBPB on every exit. */
	host = vuln_starts("retbleed", "Mitigation: untrained return thunk") ||
	       vuln_starts("spec_rstack_overflow", "Mitigation: Safe RET");
	EXPECT_EQ(host, listed("untrain-ret") || listed("srso-alias"));
	host = vuln_starts("retbleed", "Mitigation: IBPB") ||
	       vuln_starts("spec_rstack_overflow", "Mitigation: IBPB") ||
	       vuln_starts("vmscape", "Mitigation: IBPB on VMEXIT");
	EXPECT_EQ(host, listed("ibpb-on-exit"));
	/* IBPB between VMs where the host does IBPB between tasks. */
	host = vuln_has("spectre_v2", "IBPB: conditional") ||
	       vuln_has("spectre_v2", "IBPB: always-on");
	if (host)
		EXPECT_TRUE(listed("ibpb-on-vm-switch") ||
			    listed("ibpb-on-exit"));
	if (listed("ibpb-on-vm-switch"))
		EXPECT_TRUE(cpuinfo_has("flags", "ibpb"));
	/* VMSCAPE: IBPB before the VMM runs again. */
	EXPECT_EQ(vuln_starts("vmscape", "Mitigation: IBPB before exit"),
		  listed("vmscape"));
	/* L1TF (Intel): the L1D flush command before every entry. */
	host = !amd && cpuinfo_has("bugs", "l1tf") &&
	       cpuinfo_has("flags", "flush_l1d") &&
	       !cmdline_has("mitigations=off");
	EXPECT_EQ(host, listed("l1d-flush"));
	/* Zen1: the divider cleared before entry, whatever the options. */
	EXPECT_EQ(cpuinfo_has("bugs", "div0"), listed("div0"));
	TH_LOG("host:\n%s", spec_vuln);
}

static void cpu_line(char *buf, size_t len, int cpu, const char *state)
{
	snprintf(buf, len, "vhm: CPU %d: %s %s", cpu,
		 host_vendor() == VENDOR_AMD ? "AMD-V (SVM)" : "Intel VT-x (VMX)",
		 state);
}

/*
 * With verbose=1 every CPU logs its transitions: on at load, off at unload.
 * On AMD the hardware itself is read too: EFER.SVME of every CPU.
 */
TEST_F(mod, every_cpu_on_at_load_off_at_unload)
{
	int cpu, n = nr_cpus_online();
	char needle[96];
	uint64_t efer;

	RETURN_IF_SKIPPED();
	if (vhm_test_on_kvm())
		SKIP(return, "vhm runs on top of KVM's enablement here: it turns no CPU on or off itself (kvm_test's on_kvm cases)");
	ASSERT_EQ(0, vhm_load("verbose=1"));
	for (cpu = 0; cpu < n; cpu++) {
		cpu_line(needle, sizeof(needle), cpu, "on");
		EXPECT_TRUE(kmsg_find(&self->kmsg, needle, NULL, 0))
			TH_LOG("no '%s' in the kernel log", needle);
		if (host_vendor() != VENDOR_AMD)
			continue;
		ASSERT_EQ(0, read_msr(cpu, MSR_EFER, &efer));
		EXPECT_TRUE(efer & EFER_SVME) TH_LOG("CPU %d", cpu);
	}
	ASSERT_EQ(0, vhm_unload());
	for (cpu = 0; cpu < n; cpu++) {
		cpu_line(needle, sizeof(needle), cpu, "off");
		EXPECT_TRUE(kmsg_find(&self->kmsg, needle, NULL, 0))
			TH_LOG("no '%s' in the kernel log", needle);
		if (host_vendor() != VENDOR_AMD)
			continue;
		ASSERT_EQ(0, read_msr(cpu, MSR_EFER, &efer));
		EXPECT_FALSE(efer & EFER_SVME) TH_LOG("CPU %d leaked", cpu);
	}
}

TEST_HARNESS_MAIN
