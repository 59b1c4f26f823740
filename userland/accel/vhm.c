// SPDX-License-Identifier: GPL-2.0
/* The vhm accelerator: /dev/vhm (docs/API.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

static bool vhm_has_irqchip(struct accel *a)
{
	return ioctl(a->sys, VHM_CHECK_EXTENSION, VHM_CAP_LAPIC) > 0 &&
	       ioctl(a->sys, VHM_CHECK_EXTENSION, VHM_CAP_IOAPIC) > 0;
}

static int vhm_create_irqchip(struct accel *a)
{
	struct vhm_create_lapic c = { .flags = VHM_LAPIC_IOAPIC };

	if (ioctl(a->vm, VHM_CREATE_LAPIC, &c))
		return vhm_fail("VHM_CREATE_LAPIC");
	a->irqchip = true;
	a->tsc_deadline = true;
	a->tsc_khz = accel_host_tsc_khz();
	return 0;
}

static int vhm_irq_line(struct accel *a, uint32_t gsi, int level)
{
	struct vhm_irq_line l = { .gsi = gsi, .level = level };

	return ioctl(a->vm, VHM_IRQ_LINE, &l);
}

/*
 * With the irqchip, the supported table edited for this vCPU (APIC IDs,
 * timing leaves, the signature "VHMVHMVHM"); without it the module's
 * default table (it hides the APIC already).
 */
static int vhm_set_cpuid(struct accel *a, struct accel_vcpu *v)
{
	struct vhm_cpuid *c;
	int rc = -1;

	if (!a->irqchip)
		return 0;
	c = calloc(1, sizeof(*c) + VHM_MAX_CPUID_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return vhm_fail("cpuid table");
	c->nent = VHM_MAX_CPUID_ENTRIES;
	if (ioctl(a->sys, VHM_GET_SUPPORTED_CPUID, c)) {
		vhm_fail("VHM_GET_SUPPORTED_CPUID");
		goto out;
	}
	c->nent = accel_cpuid_edit(c->entries, c->nent, VHM_MAX_CPUID_ENTRIES,
				   a, v->id, "VHMVHMVHM\0\0\0");
	if (ioctl(v->fd, VHM_SET_CPUID, c)) {
		vhm_fail("VHM_SET_CPUID");
		goto out;
	}
	rc = 0;
out:
	free(c);
	return rc;
}

static int vhm_create_vcpu(struct accel *a)
{
	struct accel_vcpu *v = &a->vcpus[a->nr_vcpus];

	v->accel = a;
	v->id = a->nr_vcpus;
	v->fd = ioctl(a->vm, VHM_CREATE_VCPU, v->id);
	if (v->fd < 0)
		return vhm_fail("VHM_CREATE_VCPU");
	a->nr_vcpus++;
	a->run_size = ioctl(a->sys, VHM_GET_VCPU_MMAP_SIZE, 0);
	if (a->run_size <= 0)
		return vhm_fail("VHM_GET_VCPU_MMAP_SIZE");
	v->run = mmap(NULL, a->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return vhm_fail("mmap run area");
	}
	return vhm_set_cpuid(a, v);
}

static int vhm_add_vcpu(struct accel *a, int id)
{
	return ioctl(a->vm, VHM_CREATE_VCPU, id);
}

static int vhm_get_regs(struct accel_vcpu *v, struct vhm_regs *r)
{
	return ioctl(v->fd, VHM_GET_REGS, r) ? vhm_fail("VHM_GET_REGS") : 0;
}

static int vhm_set_regs(struct accel_vcpu *v, const struct vhm_regs *r)
{
	return ioctl(v->fd, VHM_SET_REGS, r) ? vhm_fail("VHM_SET_REGS") : 0;
}

static int vhm_get_sregs(struct accel_vcpu *v, struct vhm_sregs *s)
{
	return ioctl(v->fd, VHM_GET_SREGS, s) ? vhm_fail("VHM_GET_SREGS") : 0;
}

static int vhm_set_sregs(struct accel_vcpu *v, const struct vhm_sregs *s)
{
	return ioctl(v->fd, VHM_SET_SREGS, s) ? vhm_fail("VHM_SET_SREGS") : 0;
}

static void vhm_kick(struct accel_vcpu *v)
{
	struct vhm_run *run = v->run;

	__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
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

static int vhm_run(struct accel_vcpu *v, struct accel_exit *e)
{
	struct vhm_run *run = v->run;

	memset(e, 0, sizeof(*e));
	if (ioctl(v->fd, VHM_RUN, 0)) {
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
	.has_irqchip = vhm_has_irqchip,
	.create_irqchip = vhm_create_irqchip,
	.irq_line = vhm_irq_line,
	.create_vcpu = vhm_create_vcpu,
	.add_vcpu = vhm_add_vcpu,
	.get_regs = vhm_get_regs,
	.set_regs = vhm_set_regs,
	.get_sregs = vhm_get_sregs,
	.set_sregs = vhm_set_sregs,
	.run = vhm_run,
	.kick = vhm_kick,
};
