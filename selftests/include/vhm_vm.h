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
/* Real mode, CS:IP = 0:ip, flat 64 KiB data segments. */
int vhm_real_mode_at(struct test_vcpu *vcpu, uint16_t ip);
/* The data of a VHM_EXIT_IO exit. */
void *vhm_io_data(struct test_vcpu *vcpu);

/*
 * FIXTURE_SETUP of a test that runs guests: a clean host, vhm loaded,
 * /dev/vhm open in sys.
 * Needs kselftest_harness.h and vhm_util.h.
 */
#define REQUIRE_VHM_GUESTS(sys)						\
	do {								\
		REQUIRE_VHM_HOST();					\
		host_reset();						\
		ASSERT_EQ(0, vhm_load(NULL));				\
		(sys) = vhm_sys_open();					\
		ASSERT_LE(0, (sys));					\
	} while (0)

#endif /* VHM_VM_H */
