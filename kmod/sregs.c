// SPDX-License-Identifier: GPL-2.0
/*
 * Architectural validity of VHM_SET_SREGS input, the same on both vendors:
 * reserved fields, reserved control-register bits, and the combinations of
 * CR0, CR4 and EFER no CPU can be in.
 */
#include <asm/apicdef.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "vhm.h"
#include "vm.h"

#define VHM_CR4_VALID	(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | \
			 X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | \
			 X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | \
			 X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | \
			 X86_CR4_FSGSBASE | X86_CR4_PCIDE | X86_CR4_OSXSAVE | \
			 X86_CR4_SMEP | X86_CR4_SMAP)
#define VHM_EFER_VALID	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

static int vhm_check_segment(const struct vhm_segment *seg)
{
	return seg->attrib & ~VHM_SEG_ATTRIB_VALID ? -EINVAL : 0;
}

static int vhm_check_segments(const struct vhm_sregs *s)
{
	const struct vhm_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(segs); i++)
		if (vhm_check_segment(segs[i]))
			return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(s->gdt.padding); i++)
		if (s->gdt.padding[i] || s->idt.padding[i])
			return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(s->reserved); i++)
		if (s->reserved[i])
			return -EINVAL;
	return 0;
}

/*
 * Long mode is active exactly when enabled with paging on, and needs PAE:
 * the one rule for VHM_SET_SREGS and a VMM's write of EFER. No CPU is in
 * another combination, and an emulator given one (QEMU with EFER.LMA and
 * paging off) ran the guest's 64-bit code from unpaged addresses without
 * ever exiting, which stalled a test host CPU (found by the fuzzer).
 */
bool vhm_long_mode_consistent(u64 cr0, u64 cr4, u64 efer)
{
	bool lma = efer & EFER_LMA;

	return lma == ((cr0 & X86_CR0_PG) && (efer & EFER_LME)) &&
	       (!lma || (cr4 & X86_CR4_PAE));
}

static int vhm_check_control(const struct vhm_sregs *s)
{
	bool paging = s->cr0 & X86_CR0_PG;
	bool lma = s->efer & EFER_LMA;

	if (s->cr0 >> 32 || s->cr4 & ~VHM_CR4_VALID ||
	    s->efer & ~VHM_EFER_VALID || s->cr8 > 15 ||
	    s->apic_base & ~VHM_APIC_BASE_VALID)
		return -EINVAL;
	/* x2APIC mode with the APIC disabled is no state (SDM 10.12.5). */
	if ((s->apic_base & X2APIC_ENABLE) &&
	    !(s->apic_base & MSR_IA32_APICBASE_ENABLE))
		return -EINVAL;
	if ((paging && !(s->cr0 & X86_CR0_PE)) ||
	    ((s->cr0 & X86_CR0_NW) && !(s->cr0 & X86_CR0_CD)))
		return -EINVAL;
	if (!vhm_long_mode_consistent(s->cr0, s->cr4, s->efer))
		return -EINVAL;
	if ((s->cr4 & X86_CR4_PCIDE) && !lma)
		return -EINVAL;
	return 0;
}

int vhm_check_sregs(const struct vhm_sregs *sregs)
{
	int r = vhm_check_segments(sregs);

	return r ? r : vhm_check_control(sregs);
}
