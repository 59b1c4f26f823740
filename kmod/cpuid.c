// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID: the table each vCPU answers from. The default ("supported") table
 * is built once from the host's CPUID with everything the vCPU does not
 * really provide hidden: SVM and VMX themselves, performance monitoring,
 * machine-check architecture, monitor/mwait, the local APIC (a VMM that
 * creates the in-kernel one offers it), protection keys and the speculation-control MSRs it does not
 * virtualize. Userspace may replace a vCPU's table with VHM_SET_CPUID.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/msr-index.h>
#include <asm/processor.h>

#include "compat.h"
#include "vhm.h"
#include "user_msrs.h"
#include "vm.h"
#include "xcr0.h"

#define B(n)	((u32)BIT(n))
#define VHM_CPUID7_ECX_RDPID	B(22)
#define VHM_CPUID7_EBX_TSC_ADJUST B(1)
#define VHM_CPUID81_EDX_RDTSCP	B(27)

struct vhm_cpuid_mask {
	u32 function;
	u32 index;
	u32 eax, ebx, ecx, edx;	/* bits kept */
};

/* Leaves not listed are copied as they are; leaves listed are masked. */
static const struct vhm_cpuid_mask vhm_cpuid_masks[] = {
	/* MONITOR, DS-CPL, VMX, SMX, EST, TM2, xTPR, PDCM, x2APIC, TSC deadline */
	{ 1, 0, ~0u, ~0u,
	  (u32)~(B(3) | B(4) | B(5) | B(6) | B(7) | B(8) | B(14) | B(15) | B(21) |
	    B(24)),
	  /* MCE, APIC, MCA, PSN, DS, ACPI, TM, PBE */
	  ~(B(7) | B(9) | B(14) | B(18) | B(21) | B(22) | B(29) | B(31)) },
	{ 6, 0, 0, 0, 0, 0 },				/* thermal, power */
	/* leaf 7: SGX, RTM, HLE, MPX, PQM/PQE, PT; PKU/OSPKE, WAITPKG; spec-ctrl */
	{ 7, 0, ~0u, ~(B(2) | B(4) | B(11) | B(12) | B(14) | B(15) | B(25)),
	  ~(B(3) | B(4) | B(5)), 0 },
	{ 0xa, 0, 0, 0, 0, 0 },				/* PMU */
	{ 0xb, 0, 0, 0, 0, 0 },				/* x2APIC topology */
	/* SVM, IBS, SKINIT, WDT, LWP, TOPOEXT, PERFCTR core/NB/L2, MWAITX */
	{ 0x80000001, 0, ~0u, ~0u,
	  ~(B(2) | B(10) | B(12) | B(13) | B(15) | B(22) | B(23) | B(24) |
	    B(28) | B(29)), ~0u },
	{ 0x80000007, 0, 0, 0, 0, B(8) },		/* invariant TSC only */
	{ 0x80000008, 0, ~0u, 0, 0, 0 },		/* address sizes only */
	{ 0x8000000a, 0, 0, 0, 0, 0 },			/* SVM */
};

static struct vhm_cpuid_entry *vhm_supported;
static unsigned int vhm_nr_supported;

static void vhm_cpuid_mask_entry(struct vhm_cpuid_entry *e)
{
	unsigned int i;

	if (e->function == 1)
		e->ecx |= B(31);	/* a hypervisor is present */
	/* IA32_TSC_ADJUST is virtualized on every host (msrs.c). */
	if (e->function == 7 && e->index == 0)
		e->ebx |= VHM_CPUID7_EBX_TSC_ADJUST;
	/* Without the guest's TSC_AUX in the CPU, no RDTSCP nor RDPID. */
	if (e->function == 7 && e->index == 0 &&
	    !vhm_umsr_used(VHM_UMSR_TSC_AUX))
		e->ecx &= ~VHM_CPUID7_ECX_RDPID;
	if (e->function == 0x80000001 && !vhm_umsr_used(VHM_UMSR_TSC_AUX))
		e->edx &= ~VHM_CPUID81_EDX_RDTSCP;
	for (i = 0; i < ARRAY_SIZE(vhm_cpuid_masks); i++) {
		const struct vhm_cpuid_mask *m = &vhm_cpuid_masks[i];

		if (m->function != e->function || m->index != e->index)
			continue;
		e->eax &= m->eax;
		e->ebx &= m->ebx;
		e->ecx &= m->ecx;
		e->edx &= m->edx;
	}
}

/*
 * Leaf 0xd: only the XSAVE features a guest may enable (xcr.c): never PKRU,
 * nor AMX (its tile data is a dynamic feature the guest fpstate does not
 * hold), nor supervisor states (IA32_XSS is not virtualized), and the
 * subleaves of features it hides are empty.
 */
#define VHM_XCR0_HIDDEN	(VHM_XCR0_PKRU | VHM_XCR0_XTILE)

static void vhm_cpuid_mask_xsave(struct vhm_cpuid_entry *e)
{
	switch (e->index) {
	case 0:
		e->eax &= ~(u32)VHM_XCR0_HIDDEN;
		e->edx &= ~(u32)(VHM_XCR0_HIDDEN >> 32);
		return;
	case 1:
		e->eax &= ~B(3);		/* XSAVES */
		e->ecx = 0;			/* XSS bits */
		e->edx = 0;
		return;
	default:
		if (e->index < 64 && (VHM_XCR0_HIDDEN & BIT_ULL(e->index) ||
				      e->ecx & B(0)))	/* a supervisor state */
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
}

static void vhm_cpuid_add(u32 function, u32 index, u32 flags)
{
	struct vhm_cpuid_entry *e;

	if (vhm_nr_supported >= VHM_MAX_CPUID_ENTRIES)
		return;
	e = &vhm_supported[vhm_nr_supported++];
	e->function = function;
	e->index = index;
	e->flags = flags;
	cpuid_count(function, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
	vhm_cpuid_mask_entry(e);
	if (function == 0xd)
		vhm_cpuid_mask_xsave(e);
}

/* Leaves with subleaves the table keeps: caches (4), XSAVE (0xd). */
static void vhm_cpuid_add_leaf(u32 function)
{
	u32 i, a, b, c, d;

	switch (function) {
	case 4:
		for (i = 0; i < 8; i++) {
			cpuid_count(4, i, &a, &b, &c, &d);
			vhm_cpuid_add(4, i, VHM_CPUID_SIGNIFICANT_INDEX);
			if (!(a & 0x1f))
				break;
		}
		return;
	case 7:
	case 0xd:
		for (i = 0; i < (function == 7 ? 1 : 64); i++) {
			cpuid_count(function, i, &a, &b, &c, &d);
			if (i < 2 || a || b || c || d)
				vhm_cpuid_add(function, i,
					      VHM_CPUID_SIGNIFICANT_INDEX);
		}
		return;
	default:
		vhm_cpuid_add(function, 0, 0);
	}
}

int vhm_cpuid_init(void)
{
	u32 max, f;

	vhm_supported = kcalloc(VHM_MAX_CPUID_ENTRIES, sizeof(*vhm_supported),
				GFP_KERNEL);
	if (!vhm_supported)
		return -ENOMEM;
	max = min_t(u32, cpuid_eax(0), 0xd);
	for (f = 0; f <= max; f++)
		vhm_cpuid_add_leaf(f);
	vhm_supported[0].eax = max;
	max = min_t(u32, cpuid_eax(0x80000000), 0x80000008);
	for (f = 0x80000000; f <= max; f++)
		vhm_cpuid_add_leaf(f);
	return 0;
}

void vhm_cpuid_exit(void)
{
	kfree(vhm_supported);
}

int vhm_cpuid_vcpu_init(struct vhm_vcpu *vcpu)
{
	vcpu->cpuid = kmemdup(vhm_supported,
			      vhm_nr_supported * sizeof(*vhm_supported),
			      GFP_KERNEL_ACCOUNT);
	vcpu->nr_cpuid = vhm_nr_supported;
	return vcpu->cpuid ? 0 : -ENOMEM;
}

void vhm_cpuid_vcpu_free(struct vhm_vcpu *vcpu)
{
	kfree(vcpu->cpuid);
}

/* The guest's CPUID: the table's answer, zeros when it has none. */
void vhm_cpuid(struct vhm_vcpu *vcpu, u32 function, u32 index, u32 *regs)
{
	const struct vhm_cpuid_entry *e;
	unsigned int i;

	memset(regs, 0, 4 * sizeof(*regs));
	for (i = 0; i < vcpu->nr_cpuid; i++) {
		e = &vcpu->cpuid[i];
		if (e->function != function ||
		    ((e->flags & VHM_CPUID_SIGNIFICANT_INDEX) && e->index != index))
			continue;
		regs[0] = e->eax;
		regs[1] = e->ebx;
		regs[2] = e->ecx;
		regs[3] = e->edx;
		if (function == 1)	/* the initial APIC ID is the vCPU's */
			regs[1] = (regs[1] & 0x00ffffff) | (vcpu->id << 24);
		return;
	}
}

/*
 * CPUID.(EAX=0xd, ECX=0):EBX, the size of the XSAVE area for the features
 * enabled in xcr0: the end of the highest of them, from its subleaf (the
 * legacy area and the header take 576 bytes).
 */
static u32 vhm_xsave_size(struct vhm_vcpu *vcpu, u64 xcr0)
{
	u32 size = 576, regs[4];
	unsigned int i;

	for (i = 2; i < 64; i++) {
		if (!(xcr0 & BIT_ULL(i)))
			continue;
		vhm_cpuid(vcpu, 0xd, i, regs);
		size = max(size, regs[0] + regs[1]);
	}
	return size;
}

#define VHM_CPUID1_XSAVE		B(26)	/* ECX */
#define VHM_CPUID1_OSXSAVE	B(27)
#define VHM_CPUID1_APIC		B(9)	/* EDX */

/*
 * The guest's CPUID instruction: the table, with OSXSAVE mirroring the
 * guest's own CR4 rather than the host's (PKU and OSPKE are not offered),
 * and the APIC bit clear while IA32_APIC_BASE's global enable (bit 11)
 * is: "the CPUID feature flag for the APIC ... is also set to 0" (SDM
 * vol. 3A, "Enabling or Disabling the Local APIC"), as KVM gives it.
 */
void vhm_guest_cpuid(struct vhm_vcpu *vcpu, u32 function, u32 index, u64 cr4,
		     u32 *regs)
{
	vhm_cpuid(vcpu, function, index, regs);
	if (function == 0xd && index == 0)
		regs[1] = vhm_xsave_size(vcpu, vcpu->xcr0);
	if (function != 1)
		return;
	if (!(vcpu->apic_base & MSR_IA32_APICBASE_ENABLE))
		regs[3] &= ~VHM_CPUID1_APIC;
	if (!vhm_xcr_supported())	/* the host kernel runs without XSAVE */
		regs[2] &= ~VHM_CPUID1_XSAVE;
	regs[2] &= ~VHM_CPUID1_OSXSAVE;
	if ((cr4 & X86_CR4_OSXSAVE) && (regs[2] & VHM_CPUID1_XSAVE))
		regs[2] |= VHM_CPUID1_OSXSAVE;
}

static long vhm_cpuid_copy_out(struct vhm_cpuid __user *u,
			       const struct vhm_cpuid_entry *entries, u32 n)
{
	u32 room;

	if (get_user(room, &u->nent))
		return -EFAULT;
	if (put_user(n, &u->nent))
		return -EFAULT;
	if (room < n)
		return -E2BIG;
	if (copy_to_user(u->entries, entries, n * sizeof(*entries)))
		return -EFAULT;
	return 0;
}

long vhm_get_supported_cpuid(struct vhm_cpuid __user *u)
{
	return vhm_cpuid_copy_out(u, vhm_supported, vhm_nr_supported);
}

long vhm_vcpu_get_cpuid(struct vhm_vcpu *vcpu, struct vhm_cpuid __user *u)
{
	return vhm_cpuid_copy_out(u, vcpu->cpuid, vcpu->nr_cpuid);
}

static int vhm_cpuid_check(const struct vhm_cpuid_entry *e, u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		if (e[i].flags & ~VHM_CPUID_FLAGS_VALID)
			return -EINVAL;
		for (j = 0; j < ARRAY_SIZE(e[i].reserved); j++)
			if (e[i].reserved[j])
				return -EINVAL;
	}
	return 0;
}

long vhm_vcpu_set_cpuid(struct vhm_vcpu *vcpu, struct vhm_cpuid __user *u)
{
	struct vhm_cpuid_entry *e;
	struct vhm_cpuid hdr;
	int r;

	if (copy_from_user(&hdr, u, sizeof(hdr)))
		return -EFAULT;
	if (hdr.flags || hdr.nent > VHM_MAX_CPUID_ENTRIES)
		return -EINVAL;
	e = memdup_user(u->entries, hdr.nent * sizeof(*e));
	if (IS_ERR(e))
		return PTR_ERR(e);
	r = vhm_cpuid_check(e, hdr.nent);
	if (r) {
		kfree(e);
		return r;
	}
	kfree(vcpu->cpuid);
	vcpu->cpuid = e;
	vcpu->nr_cpuid = hdr.nent;
	return 0;
}
