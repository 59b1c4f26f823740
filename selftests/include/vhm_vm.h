/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raw wrappers around the VM and vCPU ioctls for the selftests: each
 * returns the ioctl's result or -errno and prints nothing, so negative
 * tests can check errnos and positive ones assert on 0.
 */
#ifndef VHM_VM_H
#define VHM_VM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vhm.h>

struct test_vcpu {
	int fd;
	struct vhm_run *run;
};

int vhm_sys_open(void);
int vhm_vm_create(int sys);
/* Create vCPU id and map its run area. */
int vhm_vcpu_create(int vm, int id, struct test_vcpu *vcpu);
void vhm_vcpu_close(struct test_vcpu *vcpu);
int vhm_set_slot(int vm, uint32_t slot, uint32_t flags, uint64_t gpa,
		 uint64_t size, void *hva);
/* Anonymous, private guest RAM of size bytes (page aligned). */
void *guest_ram(size_t size);
int vhm_run(struct test_vcpu *vcpu);
int vhm_get_regs(struct test_vcpu *vcpu, struct vhm_regs *regs);
int vhm_set_regs(struct test_vcpu *vcpu, const struct vhm_regs *regs);
int vhm_get_sregs(struct test_vcpu *vcpu, struct vhm_sregs *sregs);
int vhm_set_sregs(struct test_vcpu *vcpu, const struct vhm_sregs *sregs);
int vhm_get_events(struct test_vcpu *vcpu, struct vhm_vcpu_events *ev);
int vhm_set_events(struct test_vcpu *vcpu, const struct vhm_vcpu_events *ev);
/* Real mode, CS:IP = 0:ip, flat 64 KiB data segments. */
int vhm_real_mode_at(struct test_vcpu *vcpu, uint16_t ip);
/* The data of a VHM_EXIT_IO exit. */
void *vhm_io_data(struct test_vcpu *vcpu);

/*
 * A VM for tests about the host around guests (module loads, KVM, CPU
 * hotplug): its own /dev/vhm fd, one slot of REAL_VM_RAM bytes at GPA 0
 * with len bytes of code at REAL_VM_CODE, and nr_vcpus vCPUs (at most
 * REAL_VM_MAX_VCPUS) in real mode starting there. 0 or -errno; after
 * either, real_vm_close() frees what was made.
 */
#define REAL_VM_RAM		0x10000
#define REAL_VM_CODE		0x1000
#define REAL_VM_MAX_VCPUS	2
struct real_vm {
	int sys, vm;
	struct test_vcpu vcpu[REAL_VM_MAX_VCPUS];
	void *ram;
};
int real_vm_create(struct real_vm *v, const void *code, size_t len,
		   int nr_vcpus);
void real_vm_close(struct real_vm *v);

/*
 * The host for tests that run guests: no KVM module, vhm loaded. vhm stays
 * loaded from one such test to the next (a module load takes ~20 s in
 * Bochs) and is unloaded when the program ends, if a test loaded it.
 * Tests that need a fresh module unload it themselves. 0 or the load's
 * error.
 */
int vhm_guests_host_ready(void);

/*
 * FIXTURE_SETUP of a test that runs guests: no KVM, vhm loaded (kept
 * loaded across the program's tests: vhm_guests_host_ready()), /dev/vhm
 * open in sys. The teardown needs no host_reset().
 * Needs kselftest_harness.h and vhm_util.h.
 */
#define REQUIRE_VHM_GUESTS(sys)						\
	do {								\
		REQUIRE_VHM_HOST();					\
		ASSERT_EQ(0, vhm_guests_host_ready());			\
		(sys) = vhm_sys_open();					\
		ASSERT_LE(0, (sys));					\
	} while (0)

#endif /* VHM_VM_H */
