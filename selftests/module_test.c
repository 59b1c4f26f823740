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
