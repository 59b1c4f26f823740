// SPDX-License-Identifier: GPL-2.0
/*
 * Refusal on CPUs without what vhm needs. Not part of the default run: the
 * test hosts run it in extra boots of CPU models without SVM, or with SVM
 * but without nested paging (make check's amd-nohw stage). The case for
 * IA32_FEATURE_CONTROL locked without VMX (firmware that turns VT-x off)
 * has no test host: Bochs locks it with VMX on. On any other CPU each case
 * skips, saying which CPU it needs.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "vhm_util.h"

static bool cpu_flag(const char *flag)
{
	char line[8192], word[64];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	snprintf(word, sizeof(word), " %s", flag);
	while (!found && fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "flags", 5))
			continue;
		line[strcspn(line, "\n")] = ' ';
		for (p = strstr(line, word); p; p = strstr(p + 1, word))
			if (p[strlen(word)] == ' ')
				found = true;
		break;
	}
	fclose(f);
	return found;
}

#define FEAT_CTL		0x3a
#define FEAT_CTL_LOCKED		(1ull << 0)
#define FEAT_CTL_VMX		(1ull << 2)	/* VMXON outside SMX */

static bool cpuid_has_vmx(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 5));
}

FIXTURE(nohw) {
	struct kmsg_log kmsg;
};

FIXTURE_SETUP(nohw)
{
	self->kmsg.fd = -1;
	self->kmsg.text = NULL;
	if (geteuid() != 0)
		SKIP(return, "needs root");
	if (access(vhm_module_path(), R_OK))
		SKIP(return, "no vhm.ko at %s", vhm_module_path());
	ASSERT_EQ(0, kmsg_open(&self->kmsg));
}

FIXTURE_TEARDOWN(nohw)
{
	kmsg_close(&self->kmsg);
	host_reset();
}

TEST_F(nohw, refused_without_svm_or_vmx)
{
	char line[512];

	RETURN_IF_SKIPPED();
	if (cpu_flag("svm") || cpu_flag("vmx") || cpuid_has_vmx())
		SKIP(return, "needs a CPU without SVM and VMX");
	EXPECT_EQ(-ENODEV, vhm_load(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, "vhm needs", line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	EXPECT_NE(NULL, strstr(line, "has no")) TH_LOG("got: %s", line);
}

TEST_F(nohw, refused_without_nested_paging)
{
	char line[512];

	RETURN_IF_SKIPPED();
	if (!cpu_flag("svm") || cpu_flag("npt"))
		SKIP(return, "needs a CPU with SVM but without NPT");
	EXPECT_EQ(-EOPNOTSUPP, vhm_load(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, "nested paging", line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	EXPECT_NE(NULL, strstr(line, "needs NPT")) TH_LOG("got: %s", line);
}

TEST_F(nohw, refused_when_feature_control_locks_vmx_off)
{
	char line[512];
	uint64_t fc;

	RETURN_IF_SKIPPED();
	if (!cpuid_has_vmx() || read_msr(0, FEAT_CTL, &fc) ||
	    (fc & (FEAT_CTL_LOCKED | FEAT_CTL_VMX)) != FEAT_CTL_LOCKED)
		SKIP(return, "needs VMX with IA32_FEATURE_CONTROL locked without it (firmware with VT-x off)");
	EXPECT_EQ(-EBUSY, vhm_load(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, "IA32_FEATURE_CONTROL", line,
			      sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	EXPECT_NE(NULL, strstr(line, "enable VT-x in the BIOS setup"))
		TH_LOG("got: %s", line);
}

TEST_HARNESS_MAIN
