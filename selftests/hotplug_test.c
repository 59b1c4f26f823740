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
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhm.h>

#include "kselftest_harness.h"
#include "vhm_assert.h"
#include "vhm_util.h"
#include "vhm_vm.h"

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

/* vhm's own enablement: not where it runs on top of KVM's (7.x). */
#define REQUIRE_OWN_ENABLEMENT()					\
	REQUIRE_MODE(!vhm_test_on_kvm(), "vhm runs on top of KVM's enablement here: the on_kvm cases apply")

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

	REQUIRE_OWN_ENABLEMENT();
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
	REQUIRE_OWN_ENABLEMENT();
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
	REQUIRE_OWN_ENABLEMENT();
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
 * Suspend to RAM with S3 and the kernel's test modes here: true, else
 * false and why in why.
 */
static bool suspend_test_mode(char *why, size_t len)
{
	char state[128] = "";

	read_text("/sys/power/state", state, sizeof(state));
	if (!strstr(state, "mem") || access("/sys/power/pm_test", W_OK)) {
		snprintf(why, len, "no suspend-to-RAM test mode here (state: %s)", state);
		return false;
	}
	if (write_text("/sys/power/mem_sleep", "deep")) {
		snprintf(why, len, "the firmware offers no S3 (deep) sleep");
		return false;
	}
	return true;
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

	REQUIRE_OWN_ENABLEMENT();
	if (!suspend_test_mode(state, sizeof(state)))
		SKIP(return, "%s", state);

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

/*
 * On top of KVM (7.x): a VM with one vCPU per CPU; each vCPU's guest
 * writes its round number to port 0x10 in a loop. Run on CPU 0 and CPU 1
 * (with VMX, each vCPU's VMCS is then active on its CPU), the CPU change
 * (offline/online, suspend), then run again on both: the guests go on
 * where they were. vhm must have written its VMCSs back before KVM's
 * VMXOFF there (vmx.c: the hotplug state, the syscore suspend callback).
 */
/* Two vCPUs, each counting in AX and writing the count to port 0x10. */
static int hp_vm_create(struct real_vm *v)
{
	static const unsigned char code[] = {
		0x31, 0xc0,		/* xor %ax, %ax */
		0x40,			/* 1: inc %ax */
		0xe6, 0x10,		/* out %al, $0x10 */
		0xeb, 0xfb,		/* jmp 1b */
	};

	return real_vm_create(v, code, sizeof(code), 2);
}

/* The calling thread on that CPU only, or on every CPU (-1). */
static int pin_to_cpu(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (cpu < 0 ? i < nr_cpus_online() : i == cpu)
			CPU_SET(i, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* Each vCPU on its own CPU: two more port writes, the counts that follow. */
static void hp_vm_run(struct __test_metadata *_metadata, struct real_vm *v,
		      int *count)
{
	int i, k;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pin_to_cpu(i));
		for (k = 0; k < 2; k++) {
			ASSERT_VHM(vhm_run(&v->vcpu[i]));
			ASSERT_EQ(VHM_EXIT_IO, v->vcpu[i].run->exit_reason);
			EXPECT_EQ(++count[i] & 0xff,
				  *(uint8_t *)vhm_io_data(&v->vcpu[i]))
				TH_LOG("vCPU %d on CPU %d", i, i);
		}
	}
	pin_to_cpu(-1);
}

#define REQUIRE_ON_KVM()						\
	REQUIRE_MODE(vhm_test_on_kvm(), "vhm turns virtualization on itself here (VHM_TEST_ON_KVM=1 on 7.x runs these)")

TEST_F(hp, on_kvm_offline_online_keeps_guests)
{
	int count[2] = { 0, 0 }, round;
	struct real_vm v;

	REQUIRE_ON_KVM();
	ASSERT_EQ(0, vhm_load(NULL));
	ASSERT_VHM(hp_vm_create(&v));
	hp_vm_run(_metadata, &v, count);
	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, cpu_set_online(TEST_CPU, false));
		ASSERT_EQ(0, cpu_set_online(TEST_CPU, true));
		hp_vm_run(_metadata, &v, count);
	}
	real_vm_close(&v);
	ASSERT_EQ(0, vhm_unload());
}

TEST_F(hp, on_kvm_suspend_resume_keeps_guests)
{
	int count[2] = { 0, 0 };
	char state[256] = "";
	struct real_vm v;

	REQUIRE_ON_KVM();
	if (!suspend_test_mode(state, sizeof(state)))
		SKIP(return, "%s", state);
	ASSERT_EQ(0, vhm_load(NULL));
	ASSERT_VHM(hp_vm_create(&v));
	hp_vm_run(_metadata, &v, count);
	ASSERT_EQ(0, write_text("/sys/power/pm_test", "core"));
	write_text("/sys/module/suspend/parameters/pm_test_delay", "0");
	EXPECT_EQ(0, write_text("/sys/power/state", "mem"));
	write_text("/sys/power/pm_test", "none");
	hp_vm_run(_metadata, &v, count);
	real_vm_close(&v);
	ASSERT_EQ(0, vhm_unload());
}

TEST_HARNESS_MAIN
