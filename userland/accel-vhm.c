// SPDX-License-Identifier: GPL-2.0
/* The vhm accelerator: /dev/vhm (docs/API.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "accel.h"
#include "libvhm.h"

static int vhm_fail(const char *what)
{
	fprintf(stderr, "vhmctl: %s: %s\n", what, strerror(errno));
	return -1;
}

static int vhm_open(struct accel *a)
{
	a->sys = vhm_open_system();
	return a->sys < 0 ? -1 : 0;
}

static int vhm_create_vm(struct accel *a)
{
	a->vm = ioctl(a->sys, VHM_CREATE_VM, 0);
	return a->vm < 0 ? vhm_fail("VHM_CREATE_VM") : 0;
}

static int vhm_set_memory(struct accel *a, uint32_t slot, uint64_t gpa,
			  uint64_t size, void *hva)
{
	struct vhm_memory_slot m = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return ioctl(a->vm, VHM_SET_MEMORY_SLOT, &m) ?
		vhm_fail("VHM_SET_MEMORY_SLOT") : 0;
}

static int vhm_create_vcpu(struct accel *a)
{
	a->vcpu = ioctl(a->vm, VHM_CREATE_VCPU, 0);
	if (a->vcpu < 0)
		return vhm_fail("VHM_CREATE_VCPU");
	a->run_size = ioctl(a->sys, VHM_GET_VCPU_MMAP_SIZE, 0);
	if (a->run_size <= 0)
		return vhm_fail("VHM_GET_VCPU_MMAP_SIZE");
	a->run = mmap(NULL, a->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      a->vcpu, 0);
	if (a->run == MAP_FAILED) {
		a->run = NULL;
		return vhm_fail("mmap run area");
	}
	return 0;
}

static int vhm_add_vcpu(struct accel *a, int id)
{
	return ioctl(a->vm, VHM_CREATE_VCPU, id);
}

static int vhm_get_regs(struct accel *a, struct vhm_regs *r)
{
	return ioctl(a->vcpu, VHM_GET_REGS, r) ? vhm_fail("VHM_GET_REGS") : 0;
}

static int vhm_set_regs(struct accel *a, const struct vhm_regs *r)
{
	return ioctl(a->vcpu, VHM_SET_REGS, r) ? vhm_fail("VHM_SET_REGS") : 0;
}

static int vhm_get_sregs(struct accel *a, struct vhm_sregs *s)
{
	return ioctl(a->vcpu, VHM_GET_SREGS, s) ? vhm_fail("VHM_GET_SREGS") : 0;
}

static int vhm_set_sregs(struct accel *a, const struct vhm_sregs *s)
{
	return ioctl(a->vcpu, VHM_SET_SREGS, s) ? vhm_fail("VHM_SET_SREGS") : 0;
}

static void vhm_exit_io(struct vhm_run *run, struct accel_exit *e)
{
	e->kind = ACCEL_EXIT_IO;
	e->io.port = run->io.port;
	e->io.size = run->io.size;
	e->io.is_write = run->io.direction == VHM_IO_OUT;
	e->io.count = run->io.count;
	e->io.data = (uint8_t *)run + run->io.data_offset;
}

static int vhm_run(struct accel *a, struct accel_exit *e)
{
	struct vhm_run *run = a->run;

	memset(e, 0, sizeof(*e));
	if (ioctl(a->vcpu, VHM_RUN, 0)) {
		if (errno != EINTR)
			return -1;
		e->kind = ACCEL_EXIT_INTR;
		return 0;
	}
	e->reason = run->exit_reason;
	switch (run->exit_reason) {
	case VHM_EXIT_IO:
		vhm_exit_io(run, e);
		break;
	case VHM_EXIT_MMIO:
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = run->mmio.phys_addr;
		e->mmio.len = run->mmio.len;
		e->mmio.is_write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case VHM_EXIT_HYPERCALL:
		e->kind = ACCEL_EXIT_HYPERCALL;
		e->hypercall.nr = run->hypercall.nr;
		memcpy(e->hypercall.args, run->hypercall.args,
		       sizeof(e->hypercall.args));
		e->hypercall.ret = (uint64_t *)&run->hypercall.ret;
		break;
	case VHM_EXIT_HLT:
		e->kind = ACCEL_EXIT_HLT;
		break;
	case VHM_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	case VHM_EXIT_FAIL_ENTRY:
		e->kind = ACCEL_EXIT_FAIL_ENTRY;
		e->info[0] = run->fail_entry.hardware_reason;
		break;
	case VHM_EXIT_INTERNAL_ERROR:
		e->kind = ACCEL_EXIT_INTERNAL;
		e->info[0] = run->internal.suberror;
		e->info[1] = run->internal.data[0];
		break;
	default:
		e->kind = ACCEL_EXIT_OTHER;
	}
	return 0;
}

const struct accel_ops accel_vhm_ops = {
	.name = "vhm",
	.open = vhm_open,
	.create_vm = vhm_create_vm,
	.set_memory = vhm_set_memory,
	.create_vcpu = vhm_create_vcpu,
	.add_vcpu = vhm_add_vcpu,
	.get_regs = vhm_get_regs,
	.set_regs = vhm_set_regs,
	.get_sregs = vhm_get_sregs,
	.set_sregs = vhm_set_sregs,
	.run = vhm_run,
};
