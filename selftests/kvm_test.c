// SPDX-License-Identifier: GPL-2.0
/*
 * vhm and the stock KVM module (shipped in the same kernel package).
 *
 * Where vhm turns virtualization on itself (6.1, 6.12) the two cannot own
 * the hardware at once: vhm refuses to load beside KVM with -EBUSY and one
 * kernel log line that names the fix, loads once KVM is gone, refuses KVM's
 * vendor module while loaded, and leaves every CPU clean for KVM after it
 * is unloaded.
 *
 * Where the kernel owns it (7.x, kernel_owns_virt()): vhm runs on top of
 * kvm_amd's or kvm_intel's enablement (each vhm VM holds a KVM VM, which
 * pins the vendor module). Without KVM, on AMD vhm keeps its own
 * enablement, which KVM then cannot take; on Intel it refuses, naming
 * what to do (the kernel keeps CR4.VMXE's shadow: docs/KERNEL-7X.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vhm_assert.h"
#include "vhm_util.h"
#include "vhm_vm.h"

FIXTURE(kvm) {
	struct kmsg_log kmsg;
	char fix[64];
};

FIXTURE_SETUP(kvm)
{
	self->kmsg.fd = -1;
	self->kmsg.text = NULL;
	REQUIRE_VHM_HOST();
	host_reset_all();
	ASSERT_EQ(0, kmsg_open(&self->kmsg));
	snprintf(self->fix, sizeof(self->fix), "rmmod %s kvm", kvm_vendor_module());
	if (modprobe(kvm_vendor_module()))
		SKIP(return, "the stock %s module is not available", kvm_vendor_module());
}

FIXTURE_TEARDOWN(kvm)
{
	kmsg_close(&self->kmsg);
	host_reset_all();
}

static void unload_kvm(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, module_unload(kvm_vendor_module()));
	ASSERT_EQ(0, module_unload("kvm"));
}

/* The tests of vhm's own enablement, which excludes KVM: not on 7.x. */
#define REQUIRE_OWN_ENABLEMENT()					\
	REQUIRE_MODE(!kernel_owns_virt(), "the kernel owns VMX/SVM: the on_kvm tests apply")

/* The tests of vhm on top of KVM: 7.x. */
#define REQUIRE_ON_KVM()						\
	REQUIRE_MODE(kernel_owns_virt(), "vhm turns virtualization on itself on this kernel")

/* KVM running a VM has virtualization on: the hardware says it's taken. */
TEST_F(kvm, refused_while_kvm_runs_a_vm)
{
	struct kvm_holder h;
	char line[512];

	REQUIRE_OWN_ENABLEMENT();
	ASSERT_EQ(0, kvm_hold_vm(&h));
	EXPECT_EQ(-EBUSY, vhm_load_alone(NULL));
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

	REQUIRE_OWN_ENABLEMENT();
	EXPECT_EQ(-EBUSY, vhm_load_alone(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, self->fix, line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	EXPECT_FALSE(access("/dev/vhm", F_OK) == 0);
}

TEST_F(kvm, loads_after_kvm_removed)
{
	REQUIRE_OWN_ENABLEMENT();
	ASSERT_EQ(-EBUSY, vhm_load_alone(NULL));
	unload_kvm(_metadata);
	ASSERT_EQ(0, vhm_load_alone(NULL));
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

	REQUIRE_OWN_ENABLEMENT();
	unload_kvm(_metadata);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, vhm_load_alone(NULL));
		ASSERT_EQ(0, vhm_unload());
	}
	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	EXPECT_EQ(0, kvm_try_create_vm());
}

/*
 * KVM's vendor module loaded after vhm: refused at its load (vhm's module
 * notifier), EBUSY and vhm's one line naming the fix, with no kernel WARN
 * (KVM's init would take the emergency-callback slot vhm holds, make
 * check's log check sees a WARN); KVM loads and runs once vhm is gone.
 */
TEST_F(kvm, kvm_load_refused_while_vhm_loaded)
{
	char line[512];

	REQUIRE_OWN_ENABLEMENT();
	unload_kvm(_metadata);
	ASSERT_EQ(0, vhm_load_alone(NULL));
	EXPECT_NE(0, modprobe(kvm_vendor_module()));
	EXPECT_FALSE(module_loaded(kvm_vendor_module()));
	EXPECT_TRUE(kmsg_find(&self->kmsg, "unload vhm first", line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: refusing to load ", 22)) TH_LOG("got: %s", line);
	EXPECT_NE(NULL, strstr(line, kvm_vendor_module())) TH_LOG("got: %s", line);
	ASSERT_EQ(0, vhm_unload());
	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	EXPECT_EQ(0, kvm_try_create_vm());
}

/* A VM whose real-mode guest writes 0x42 to port 0x10, then halts. */
static int small_vm_create(struct real_vm *v)
{
	static const unsigned char code[] = {
		0xb0, 0x42,		/* mov $0x42, %al */
		0xe6, 0x10,		/* out %al, $0x10 */
		0xf4,			/* hlt */
	};

	return real_vm_create(v, code, sizeof(code), 1);
}

static void small_vm_run(struct __test_metadata *_metadata, struct real_vm *v)
{
	ASSERT_VHM(vhm_run(&v->vcpu[0]));
	ASSERT_EQ(VHM_EXIT_IO, v->vcpu[0].run->exit_reason);
	EXPECT_EQ(0x10, v->vcpu[0].run->io.port);
	EXPECT_EQ(0x42, *(uint8_t *)vhm_io_data(&v->vcpu[0]));
	ASSERT_VHM(vhm_run(&v->vcpu[0]));
	EXPECT_EQ(VHM_EXIT_HLT, v->vcpu[0].run->exit_reason);
}

/*
 * 7.x, AMD: beside kvm_amd vhm loads on top of KVM's enablement and runs
 * guests; each vhm VM holds a KVM VM, so kvm_amd cannot go while one
 * exists, and can once they are gone. A VM made without KVM is refused
 * with one line naming the module; with it back, VMs work again.
 */
TEST_F(kvm, on_kvm_runs_guests_and_pins_kvm)
{
	struct real_vm v, v2;
	char line[512];

	REQUIRE_ON_KVM();
	ASSERT_EQ(0, vhm_load_alone(NULL));
	EXPECT_TRUE(kmsg_find(&self->kmsg, "on top of KVM", line, sizeof(line)));
	ASSERT_VHM(small_vm_create(&v));
	small_vm_run(_metadata, &v);
	/* In use (delete_module with O_NONBLOCK: EWOULDBLOCK); still on. */
	EXPECT_EQ(-EWOULDBLOCK, module_unload(kvm_vendor_module()));
	ASSERT_VHM(small_vm_create(&v2));
	small_vm_run(_metadata, &v2);
	real_vm_close(&v2);
	real_vm_close(&v);
	ASSERT_EQ(0, module_unload(kvm_vendor_module()));
	EXPECT_TRUE(module_loaded("vhm"));

	EXPECT_GT(0, small_vm_create(&v));
	real_vm_close(&v);
	snprintf(line, sizeof(line), "modprobe %s", kvm_vendor_module());
	EXPECT_TRUE(kmsg_find(&self->kmsg, line, line, sizeof(line)));

	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	ASSERT_VHM(small_vm_create(&v));
	small_vm_run(_metadata, &v);
	real_vm_close(&v);
	EXPECT_EQ(0, vhm_unload());
	EXPECT_EQ(0, kvm_try_create_vm());
}

/*
 * In a child's own mount namespace, file bound over /dev/kvm: a VM made
 * there is refused with ENODEV. The exit status: 0, or what differed.
 */
static int vm_with_fake_dev_kvm(const char *file)
{
	int sys, vm, r = 0;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(file, "/dev/kvm", NULL, MS_BIND, NULL))
		return 10;
	sys = vhm_sys_open();
	if (sys < 0)
		return 11;
	vm = vhm_vm_create(sys);
	if (vm != -ENODEV)
		r = vm >= 0 ? 12 : 13;
	if (vm >= 0)
		close(vm);
	close(sys);
	return r;
}

/*
 * 7.x on top of KVM: vhm opens "/dev/kvm" in the VMM's mount namespace,
 * where the VMM (root here; any user in a user namespace) may have bound
 * another file over it: a regular file, another character device, vhm's
 * own. vhm calls only KVM's device: ENODEV and one line, no oops; VMs
 * with the real /dev/kvm are unaffected.
 */
TEST_F(kvm, on_kvm_refuses_a_fake_dev_kvm)
{
	static const char *const fakes[] = {
		"/tmp/vhm-fake-kvm", "/dev/null", "/dev/vhm",
	};
	struct real_vm v;
	char line[512];
	unsigned int i;
	int status, fd;
	pid_t pid;

	REQUIRE_ON_KVM();
	ASSERT_EQ(0, vhm_load_alone(NULL));
	fd = open(fakes[0], O_CREAT | O_WRONLY, 0666);
	ASSERT_LE(0, fd);
	close(fd);
	for (i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(vm_with_fake_dev_kvm(fakes[i]));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status)) TH_LOG("%s: status %#x", fakes[i], status);
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s over /dev/kvm", fakes[i]);
	}
	unlink(fakes[0]);
	EXPECT_TRUE(kmsg_find(&self->kmsg, "is not KVM's device", line, sizeof(line)));
	ASSERT_VHM(small_vm_create(&v));
	small_vm_run(_metadata, &v);
	real_vm_close(&v);
	EXPECT_EQ(0, vhm_unload());
}

/*
 * Virtualization on on every online CPU, or on none: 1, 0, or -1 mixed.
 * SVM: EFER.SVME, an MSR. VMX: CR4.VMXE, which user space cannot read (no
 * MSR, no /proc or sysfs file shows it): -2, unknown.
 */
#define VIRT_ON_UNKNOWN	(-2)

static int virt_on_everywhere(struct __test_metadata *_metadata)
{
	int cpu, on = 0, n = nr_cpus_online();
	uint64_t efer;

	if (host_vendor() != VENDOR_AMD)
		return VIRT_ON_UNKNOWN;
	for (cpu = 0; cpu < n; cpu++) {
		EXPECT_EQ(0, read_msr(cpu, MSR_EFER, &efer));
		on += !!(efer & EFER_SVME);
	}
	return on == n ? 1 : on == 0 ? 0 : -1;
}

/* Unknown (VMX) passes: what the guests' runs show is all there is. */
#define EXPECT_VIRT_ON(want)						\
	do {								\
		int on_ = virt_on_everywhere(_metadata);		\
		if (on_ != VIRT_ON_UNKNOWN) {				\
			EXPECT_EQ(want, on_);				\
		}							\
	} while (0)

/*
 * 7.x, kvm.enable_virt_at_load=0 (KVM turns virtualization on only while
 * it has a VM): vhm's VM's KVM VM turns it on for every CPU (its guest
 * runs: with VMX, where CR4.VMXE cannot be read from user space, that is
 * the proof), and once vhm's VM is gone KVM turns it off again: vhm left
 * nothing on (SVM: EFER.SVME clear everywhere); a new vhm VM gets it
 * turned on again.
 */
TEST_F(kvm, on_kvm_virt_only_while_vhm_vm_exists)
{
	struct real_vm v;
	int i, on = 1;

	REQUIRE_ON_KVM();
	unload_kvm(_metadata);
	ASSERT_EQ(0, system("modprobe kvm enable_virt_at_load=0"));
	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	EXPECT_VIRT_ON(0);
	ASSERT_EQ(0, vhm_load_alone(NULL));
	EXPECT_VIRT_ON(0);
	ASSERT_VHM(small_vm_create(&v));
	EXPECT_VIRT_ON(1);
	small_vm_run(_metadata, &v);
	real_vm_close(&v);
	/* The vCPU and the KVM VM are freed after the close: wait for it. */
	for (i = 0; i < 50 && on == 1; i++) {
		usleep(100000);
		on = virt_on_everywhere(_metadata);
	}
	if (on != VIRT_ON_UNKNOWN) {
		EXPECT_EQ(0, on);
	} else {
		TH_LOG("VMX: CR4.VMXE is not visible from user space; the guests' runs are the check");
	}
	ASSERT_VHM(small_vm_create(&v));
	small_vm_run(_metadata, &v);
	real_vm_close(&v);
	EXPECT_EQ(0, vhm_unload());
}

/*
 * 7.x, AMD, no KVM: vhm's own enablement; kvm_amd loaded then is refused
 * (vhm's module notifier: EBUSY and its line),
 * and loads and runs VMs once vhm is gone.
 */
TEST_F(kvm, on_kvm_own_enablement_excludes_kvm)
{
	struct real_vm v;
	char line[512];

	REQUIRE_ON_KVM();
	if (host_vendor() != VENDOR_AMD)
		SKIP(return, "VMX on 7.x has no own enablement (the kernel shadows CR4): intel_7x_needs_kvm");
	unload_kvm(_metadata);
	ASSERT_EQ(0, vhm_load_alone(NULL));
	ASSERT_VHM(small_vm_create(&v));
	small_vm_run(_metadata, &v);
	EXPECT_NE(0, modprobe(kvm_vendor_module()));
	EXPECT_FALSE(module_loaded(kvm_vendor_module()));
	EXPECT_TRUE(kmsg_find(&self->kmsg, "unload vhm first", line, sizeof(line)));
	real_vm_close(&v);
	/* SVM still vhm's: another VM runs. */
	ASSERT_VHM(small_vm_create(&v));
	small_vm_run(_metadata, &v);
	real_vm_close(&v);
	EXPECT_EQ(0, vhm_unload());
	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	EXPECT_EQ(0, kvm_try_create_vm());
}

/*
 * 7.x, Intel: vhm runs VMX only on top of kvm_intel's (the kernel owns
 * CR4.VMXE): without kvm_intel an errno and one line saying what to do;
 * with it vhm loads (on_kvm_runs_guests_and_pins_kvm runs its guests).
 */
TEST_F(kvm, intel_7x_needs_kvm)
{
	char line[512];

	RETURN_IF_SKIPPED();
	if (!kernel_owns_virt() || host_vendor() != VENDOR_INTEL)
		SKIP(return, "7.x with VT-x only");
	unload_kvm(_metadata);
	EXPECT_EQ(-ENODEV, vhm_load_alone(NULL));
	EXPECT_FALSE(module_loaded("vhm"));
	ASSERT_TRUE(kmsg_find(&self->kmsg, "modprobe kvm_intel", line, sizeof(line)));
	EXPECT_EQ(0, strncmp(line, "vhm: ", 5)) TH_LOG("got: %s", line);
	ASSERT_EQ(0, modprobe(kvm_vendor_module()));
	EXPECT_EQ(0, vhm_load_alone(NULL));
	EXPECT_EQ(0, vhm_unload());
}

TEST_HARNESS_MAIN
