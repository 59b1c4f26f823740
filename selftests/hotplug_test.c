// SPDX-License-Identifier: GPL-2.0
/*
 * CPU hotplug and suspend while vhm is loaded: a CPU going offline leaves
 * virtualization, a CPU coming online enters it, and suspend/resume turns
 * it off and back on. Checked through vhm's verbose log on both vendors
 * and through EFER.SVME of each CPU on AMD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vhm.h>

#include "kselftest_harness.h"
#include "vhm_util.h"

#define TEST_CPU 1

FIXTURE(hp) {
	struct kmsg_log kmsg;
};

FIXTURE_SETUP(hp)
{
	self->kmsg.fd = -1;
	self->kmsg.text = NULL;
	REQUIRE_VHM_HOST();
	if (nr_cpus_online() < 2)
		SKIP(return, "needs 2 CPUs, the host has %d", nr_cpus_online());
	if (access("/sys/devices/system/cpu/cpu1/online", W_OK))
		SKIP(return, "CPU 1 cannot be taken offline here");
	host_reset();
	ASSERT_EQ(0, kmsg_open(&self->kmsg));
}

FIXTURE_TEARDOWN(hp)
{
	cpu_set_online(TEST_CPU, true);
	kmsg_close(&self->kmsg);
	host_reset();
}

static bool logged(struct kmsg_log *k, int cpu, const char *state)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "vhm: CPU %d: %s %s", cpu,
		 host_vendor() == VENDOR_AMD ? "AMD-V (SVM)" : "Intel VT-x (VMX)",
		 state);
	return kmsg_find(k, needle, NULL, 0);
}

/* On AMD, read EFER.SVME of the CPU; elsewhere report "unknown" (-1). */
static int svme(int cpu)
{
	uint64_t efer;

	if (host_vendor() != VENDOR_AMD)
		return -1;
	if (read_msr(cpu, MSR_EFER, &efer))
		return -2;
	return !!(efer & EFER_SVME);
}

static void expect_svme(struct __test_metadata *_metadata, int cpu, int on)
{
	int s = svme(cpu);

	if (s == -1)
		return;
	EXPECT_EQ(on, s) TH_LOG("CPU %d EFER.SVME", cpu);
}

TEST_F(hp, offline_online_while_loaded)
{
	int fd, round;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vhm_load("verbose=1"));
	expect_svme(_metadata, TEST_CPU, 1);
	for (round = 0; round < 3; round++) {
		kmsg_close(&self->kmsg);
		ASSERT_EQ(0, kmsg_open(&self->kmsg));
		ASSERT_EQ(0, cpu_set_online(TEST_CPU, false));
		EXPECT_TRUE(logged(&self->kmsg, TEST_CPU, "off"));
		ASSERT_EQ(0, cpu_set_online(TEST_CPU, true));
		EXPECT_TRUE(logged(&self->kmsg, TEST_CPU, "on"));
		expect_svme(_metadata, TEST_CPU, 1);
	}
	fd = open("/dev/vhm", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(VHM_API_VERSION, ioctl(fd, VHM_GET_API_VERSION, 0));
	close(fd);
	ASSERT_EQ(0, vhm_unload());
	expect_svme(_metadata, 0, 0);
	expect_svme(_metadata, TEST_CPU, 0);
}

TEST_F(hp, cpu_onlined_after_load_is_enabled)
{
	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, cpu_set_online(TEST_CPU, false));
	ASSERT_EQ(0, vhm_load("verbose=1"));
	EXPECT_FALSE(logged(&self->kmsg, TEST_CPU, "on"));
	ASSERT_EQ(0, cpu_set_online(TEST_CPU, true));
	EXPECT_TRUE(logged(&self->kmsg, TEST_CPU, "on"));
	expect_svme(_metadata, TEST_CPU, 1);
	ASSERT_EQ(0, vhm_unload());
	EXPECT_TRUE(logged(&self->kmsg, TEST_CPU, "off"));
	expect_svme(_metadata, TEST_CPU, 0);
}

/* A CPU offline at unload time must not come back with SVM/VMX on. */
TEST_F(hp, unload_while_cpu_offline)
{
	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vhm_load("verbose=1"));
	ASSERT_EQ(0, cpu_set_online(TEST_CPU, false));
	ASSERT_EQ(0, vhm_unload());
	ASSERT_EQ(0, cpu_set_online(TEST_CPU, true));
	expect_svme(_metadata, TEST_CPU, 0);
	/* And vhm loads again, finding every CPU free. */
	ASSERT_EQ(0, vhm_load(NULL));
	ASSERT_EQ(0, vhm_unload());
}

/*
 * Suspend to RAM in the kernel's "core" test mode: every suspend step runs
 * (non-boot CPUs offline, syscore suspend with interrupts off) except the
 * firmware sleep itself, then everything resumes.
 */
TEST_F(hp, suspend_resume)
{
	char state[256] = "";
	int cpu;

	RETURN_IF_SKIPPED();
	read_text("/sys/power/state", state, sizeof(state));
	if (!strstr(state, "mem") || access("/sys/power/pm_test", W_OK))
		SKIP(return, "no suspend-to-RAM test mode here (state: %s)", state);
	if (write_text("/sys/power/mem_sleep", "deep"))
		SKIP(return, "the firmware offers no S3 (deep) sleep");

	ASSERT_EQ(0, vhm_load("verbose=1"));
	ASSERT_EQ(0, write_text("/sys/power/pm_test", "core"));
	write_text("/sys/module/suspend/parameters/pm_test_delay", "0");
	EXPECT_EQ(0, write_text("/sys/power/state", "mem"));
	write_text("/sys/power/pm_test", "none");
	for (cpu = 0; cpu < 2; cpu++) {
		EXPECT_TRUE(logged(&self->kmsg, cpu, "off")) TH_LOG("CPU %d", cpu);
		EXPECT_TRUE(logged(&self->kmsg, cpu, "on")) TH_LOG("CPU %d", cpu);
		expect_svme(_metadata, cpu, 1);
	}
	ASSERT_EQ(0, vhm_unload());
}

TEST_HARNESS_MAIN
