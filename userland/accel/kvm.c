// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM accelerator: /dev/kvm with the same device models, for side-by-
 * side benchmarks and for telling a device-model bug from a vhm bug.
 * Registers are converted between vhm's and KVM's uapi structs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "accel.h"

/* Where KVM's VMX backend puts its real-mode TSS and identity map. */
#define KVM_TSS_ADDR		0xfffbd000
#define KVM_IDENTITY_MAP_ADDR	0xfffbc000

static int kvm_fail(const char *what)
{
	fprintf(stderr, "vhmctl: %s: %s\n", what, strerror(errno));
	return -1;
}

static int kvm_open(struct accel *a)
{
	int version;

	a->sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (a->sys < 0) {
		fprintf(stderr, "vhmctl: cannot open /dev/kvm: %s%s\n",
			strerror(errno), errno == ENOENT ?
			" (modprobe kvm_amd or kvm_intel)" : "");
		return -1;
	}
	version = ioctl(a->sys, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		fprintf(stderr, "vhmctl: KVM API version %d, expected %d\n",
			version, KVM_API_VERSION);
		return -1;
	}
	return 0;
}

static int kvm_create_vm(struct accel *a)
{
	a->vm = ioctl(a->sys, KVM_CREATE_VM, 0);
	if (a->vm < 0)
		return kvm_fail("KVM_CREATE_VM");
	/* Needed on Intel, harmless on AMD (not implemented there: ignore). */
	ioctl(a->vm, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
	{
		uint64_t map = KVM_IDENTITY_MAP_ADDR;

		ioctl(a->vm, KVM_SET_IDENTITY_MAP_ADDR, &map);
	}
	return 0;
}

static int kvm_set_memory(struct accel *a, uint32_t slot, uint64_t gpa,
			  uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region m = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return ioctl(a->vm, KVM_SET_USER_MEMORY_REGION, &m) ?
		kvm_fail("KVM_SET_USER_MEMORY_REGION") : 0;
}

static bool kvm_has_irqchip(struct accel *a)
{
	return ioctl(a->sys, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) > 0;
}

/* KVM's PIC, IOAPIC and a LAPIC per vCPU; APs wait for INIT/SIPI. */
static int kvm_create_irqchip(struct accel *a)
{
	if (ioctl(a->vm, KVM_CREATE_IRQCHIP, 0))
		return kvm_fail("KVM_CREATE_IRQCHIP");
	a->irqchip = true;
	return 0;
}

static int kvm_irq_line(struct accel *a, uint32_t gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	return ioctl(a->vm, KVM_IRQ_LINE, &l);
}

/*
 * The vCPU's CPUID: what KVM supports, edited by accel_cpuid_edit():
 * without the irqchip minus the local APIC and KVM's paravirtual leaves,
 * so that a guest sees the machine it sees on vhm; with it, KVM's
 * signature and leaves stay. Without a table, KVM answers zeros and a
 * Linux guest stops early ("no FPU found"). The layouts agree:
 */
_Static_assert(sizeof(struct kvm_cpuid_entry2) == sizeof(struct vhm_cpuid_entry) &&
	       KVM_CPUID_FLAG_SIGNIFCANT_INDEX == VHM_CPUID_SIGNIFICANT_INDEX,
	       "kvm_cpuid_entry2 and vhm_cpuid_entry differ");

#define KVM_CPUID_MAX	256

static int kvm_set_cpuid(struct accel *a, struct accel_vcpu *v)
{
	struct kvm_cpuid2 *c;
	int rc = -1, khz;

	c = calloc(1, sizeof(*c) + KVM_CPUID_MAX * sizeof(c->entries[0]));
	if (!c)
		return kvm_fail("cpuid table");
	c->nent = KVM_CPUID_MAX;
	if (ioctl(a->sys, KVM_GET_SUPPORTED_CPUID, c)) {
		kvm_fail("KVM_GET_SUPPORTED_CPUID");
		goto out;
	}
	khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (a->irqchip && !a->tsc_khz)
		a->tsc_khz = khz > 0 ? (uint32_t)khz : accel_host_tsc_khz();
	c->nent = accel_cpuid_edit((struct vhm_cpuid_entry *)c->entries,
				   c->nent, KVM_CPUID_MAX, a, v->id, NULL);
	if (ioctl(v->fd, KVM_SET_CPUID2, c)) {
		kvm_fail("KVM_SET_CPUID2");
		goto out;
	}
	rc = 0;
out:
	free(c);
	return rc;
}

static int kvm_create_vcpu(struct accel *a)
{
	struct accel_vcpu *v = &a->vcpus[a->nr_vcpus];

	v->accel = a;
	v->id = a->nr_vcpus;
	v->fd = ioctl(a->vm, KVM_CREATE_VCPU, v->id);
	if (v->fd < 0)
		return kvm_fail("KVM_CREATE_VCPU");
	a->nr_vcpus++;
	if (kvm_set_cpuid(a, v))
		return -1;
	a->run_size = ioctl(a->sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (a->run_size <= 0)
		return kvm_fail("KVM_GET_VCPU_MMAP_SIZE");
	v->run = mmap(NULL, a->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return kvm_fail("mmap run area");
	}
	return 0;
}

/* struct vhm_regs and struct kvm_regs list the same registers in order. */
_Static_assert(sizeof(struct vhm_regs) == sizeof(struct kvm_regs),
	       "vhm_regs and kvm_regs differ");

static int kvm_add_vcpu(struct accel *a, int id)
{
	return ioctl(a->vm, KVM_CREATE_VCPU, id);
}

static int kvm_get_regs(struct accel_vcpu *v, struct vhm_regs *r)
{
	return ioctl(v->fd, KVM_GET_REGS, r) ? kvm_fail("KVM_GET_REGS") : 0;
}

static int kvm_set_regs(struct accel_vcpu *v, const struct vhm_regs *r)
{
	return ioctl(v->fd, KVM_SET_REGS, r) ? kvm_fail("KVM_SET_REGS") : 0;
}

static void seg_from_kvm(struct vhm_segment *v, const struct kvm_segment *k)
{
	v->base = k->base;
	v->limit = k->limit;
	v->selector = k->selector;
	v->attrib = VHM_SEG_TYPE(k->type) | (k->s ? VHM_SEG_S : 0) |
		    VHM_SEG_DPL(k->dpl) | (k->present ? VHM_SEG_P : 0) |
		    (k->avl ? VHM_SEG_AVL : 0) | (k->l ? VHM_SEG_L : 0) |
		    (k->db ? VHM_SEG_DB : 0) | (k->g ? VHM_SEG_G : 0) |
		    (k->unusable ? VHM_SEG_UNUSABLE : 0);
}

static void seg_to_kvm(struct kvm_segment *k, const struct vhm_segment *v)
{
	memset(k, 0, sizeof(*k));
	k->base = v->base;
	k->limit = v->limit;
	k->selector = v->selector;
	k->type = v->attrib & 0xf;
	k->s = !!(v->attrib & VHM_SEG_S);
	k->dpl = (v->attrib >> 5) & 3;
	k->present = !!(v->attrib & VHM_SEG_P);
	k->avl = !!(v->attrib & VHM_SEG_AVL);
	k->l = !!(v->attrib & VHM_SEG_L);
	k->db = !!(v->attrib & VHM_SEG_DB);
	k->g = !!(v->attrib & VHM_SEG_G);
	k->unusable = !!(v->attrib & VHM_SEG_UNUSABLE);
}

#define SEGS(x)	{ &x.cs, &x.ds, &x.es, &x.fs, &x.gs, &x.ss, &x.tr, &x.ldt }

static int kvm_get_sregs(struct accel_vcpu *v, struct vhm_sregs *s)
{
	struct kvm_sregs k;
	struct kvm_segment *ks[] = SEGS(k);
	struct vhm_segment *vs[] = SEGS((*s));
	unsigned int i;

	if (ioctl(v->fd, KVM_GET_SREGS, &k))
		return kvm_fail("KVM_GET_SREGS");
	memset(s, 0, sizeof(*s));
	for (i = 0; i < 8; i++)
		seg_from_kvm(vs[i], ks[i]);
	s->gdt.base = k.gdt.base;
	s->gdt.limit = k.gdt.limit;
	s->idt.base = k.idt.base;
	s->idt.limit = k.idt.limit;
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

static int kvm_set_sregs(struct accel_vcpu *v, const struct vhm_sregs *s)
{
	struct kvm_sregs k;
	struct kvm_segment *ks[] = SEGS(k);
	const struct vhm_segment *vs[] = SEGS((*s));
	unsigned int i;

	if (ioctl(v->fd, KVM_GET_SREGS, &k))	/* keeps interrupt_bitmap */
		return kvm_fail("KVM_GET_SREGS");
	for (i = 0; i < 8; i++)
		seg_to_kvm(ks[i], vs[i]);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	k.apic_base = s->apic_base;
	return ioctl(v->fd, KVM_SET_SREGS, &k) ? kvm_fail("KVM_SET_SREGS") : 0;
}

static void kvm_exit_io(struct kvm_run *run, struct accel_exit *e)
{
	e->kind = ACCEL_EXIT_IO;
	e->io.port = run->io.port;
	e->io.size = run->io.size;
	e->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
	e->io.count = run->io.count;
	e->io.data = (uint8_t *)run + run->io.data_offset;
}

static void kvm_kick(struct accel_vcpu *v)
{
	struct kvm_run *run = v->run;

	__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static int kvm_run(struct accel_vcpu *v, struct accel_exit *e)
{
	struct kvm_run *run = v->run;

	memset(e, 0, sizeof(*e));
	/* EAGAIN: an AP left its wait for INIT/SIPI; run it again */
	if (ioctl(v->fd, KVM_RUN, 0)) {
		if (errno != EINTR && errno != EAGAIN)
			return -1;
		e->kind = ACCEL_EXIT_INTR;
		return 0;
	}
	e->reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		kvm_exit_io(run, e);
		break;
	case KVM_EXIT_MMIO:
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = run->mmio.phys_addr;
		e->mmio.len = run->mmio.len;
		e->mmio.is_write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = ACCEL_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = ACCEL_EXIT_FAIL_ENTRY;
		e->info[0] = run->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = ACCEL_EXIT_INTERNAL;
		e->info[0] = run->internal.suberror;
		e->info[1] = run->internal.ndata ? run->internal.data[0] : 0;
		break;
	default:
		e->kind = ACCEL_EXIT_OTHER;
	}
	return 0;
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.open = kvm_open,
	.create_vm = kvm_create_vm,
	.set_memory = kvm_set_memory,
	.has_irqchip = kvm_has_irqchip,
	.create_irqchip = kvm_create_irqchip,
	.irq_line = kvm_irq_line,
	.create_vcpu = kvm_create_vcpu,
	.add_vcpu = kvm_add_vcpu,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.run = kvm_run,
	.kick = kvm_kick,
};
