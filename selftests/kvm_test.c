// SPDX-License-Identifier: GPL-2.0
/*
 * vhm and the stock KVM module (shipped in the same kernel package) cannot
 * own the hardware at once. vhm refuses to load beside KVM with -EBUSY and
 * one kernel log line that names the fix, loads once KVM is gone, and
 * leaves every CPU clean for KVM after it is unloaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "vhm_util.h"

FIXTURE(kvm) {
	struct kmsg_log kmsg;
	char fix[64];
};

FIXTURE_SETUP(kvm)
{
	self->kmsg.fd = -1;
	self->kmsg.text = NULL;
	REQUIRE_VHM_HOST();
	host_reset();
	ASSERT_EQ(0, kmsg_open(&self->kmsg));
	snprintf(self->fix, sizeof(self->fix), "rmmod %s kvm", kvm_vendor_module());
	if (modprobe(kvm_vendor_module()))
		SKIP(return, "the stock %s module is not available", kvm_vendor_module());
}

FIXTURE_TEARDOWN(kvm)
{
	kmsg_close(&self->kmsg);
	host_reset();
}

static void unload_kvm(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, module_unload(kvm_vendor_module()));
	ASSERT_EQ(0, module_unload("kvm"));
}

/* KVM running a VM has virtualization on: the hardware says it's taken. */
TEST_F(kvm, refused_while_kvm_runs_a_vm)
{
	struct kvm_holder h;
	char line[512];

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, kvm_hold_vm(&h));
	EXPECT_EQ(-EBUSY, vhm_load(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, self->fix, line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	EXPECT_NE(NULL, strstr(line, "another hypervisor")) TH_LOG("got: %s", line);
	kvm_release_vm(&h);
}

/* Loaded but idle KVM would take the hardware at its next VM: refused too. */
TEST_F(kvm, refused_while_kvm_loaded)
{
	char line[512];

	RETURN_IF_SKIPPED();
	EXPECT_EQ(-EBUSY, vhm_load(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, self->fix, line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	EXPECT_FALSE(access("/dev/vhm", F_OK) == 0);
}

TEST_F(kvm, loads_after_kvm_removed)
{
	RETURN_IF_SKIPPED();
	ASSERT_EQ(-EBUSY, vhm_load(NULL));
	unload_kvm(_metadata);
	ASSERT_EQ(0, vhm_load(NULL));
	EXPECT_EQ(0, access("/dev/vhm", F_OK));
	EXPECT_EQ(0, vhm_unload());
}

/*
 * After vhm is unloaded no CPU may still have virtualization on: KVM turns
 * it on on every online CPU when it creates a VM (6.1) or loads (6.12) and
 * fails with -EBUSY if any CPU is already taken.
 */
TEST_F(kvm, kvm_works_after_vhm_unloaded)
{
	int i;

	RETURN_IF_SKIPPED();
	unload_kvm(_metadata);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, vhm_load(NULL));
		ASSERT_EQ(0, vhm_unload());
	}
	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	EXPECT_EQ(0, kvm_try_create_vm());
}

TEST_HARNESS_MAIN
