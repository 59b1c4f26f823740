/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Speculative-execution hygiene around guest entry and exit, following the
 * host kernel's own mitigation selection (its X86_FEATURE_* and X86_BUG_*
 * bits, set at boot; docs/ARCHITECTURE.md, "Speculative execution"). The
 * asm parts are ALTERNATIVEs the module loader patches from those bits;
 * the C parts test the same bits. spec.c reports what is active. The
 * asm's own macros: spec_macros.S.
 */
#ifndef VHM_SPEC_H
#define VHM_SPEC_H

#include <linux/types.h>
#include <asm/alternative.h>
#include <asm/cpufeatures.h>

#include "compat.h"

/* One bit per mitigation, in the order of their names (spec.c). */
#define VHM_SPEC_VERW		(1u << 0)	/* VERW before entry */
#define VHM_SPEC_RSB		(1u << 1)	/* RSB fill after exit */
#define VHM_SPEC_RSB_LITE	(1u << 2)	/* one RSB entry (PBRSB) */
#define VHM_SPEC_UNTRAIN_RET	(1u << 3)	/* retbleed untraining */
#define VHM_SPEC_SRSO_ALIAS	(1u << 4)	/* SRSO alias untraining */
#define VHM_SPEC_IBPB_ON_EXIT	(1u << 5)	/* IBPB after every exit */
#define VHM_SPEC_IBRS		(1u << 6)	/* host SPEC_CTRL rewrite */
#define VHM_SPEC_BHB		(1u << 7)	/* BHB clearing after exit */
#define VHM_SPEC_L1D_FLUSH	(1u << 8)	/* L1D flush before entry */
#define VHM_SPEC_IBPB_VM_SWITCH	(1u << 9)	/* IBPB on a VM switch */
#define VHM_SPEC_DIV0		(1u << 10)	/* divider clear (Zen1) */
#define VHM_SPEC_VMSCAPE	(1u << 11)	/* IBPB before the VMM */

struct vhm_vcpu;

/*
 * nospec.S: IBPB (clobbers RAX, RCX, RDX). Also there, called from
 * vmx/vmrun.S only: vhm_clear_bhb_loop, and VERW's vhm_verw_sel.
 */
void vhm_ibpb(void);

/* spec.c */
extern u32 vhm_spec;
void vhm_spec_init(void);
void vhm_spec_report(void);
void vhm_spec_vm_switch(struct vhm_vcpu *vcpu);
void vhm_spec_cpu_leave(bool to_user);

/*
 * Interrupts off, right before the vendor's enter op. Zen1
 * (X86_BUG_DIV0): a divide by zero in the guest may return the host's
 * last quotient, so clear the divider; the kernel's own
 * amd_clear_divider() is an export in 6.1 and inline since, this is the
 * same instruction, patched in by the same bug bit. Inline: on every
 * exit's path.
 */
static inline void vhm_spec_enter(struct vhm_vcpu *vcpu)
{
	if (vhm_spec & VHM_SPEC_IBPB_VM_SWITCH)
		vhm_spec_vm_switch(vcpu);
	asm volatile(ALTERNATIVE("", "div %2\n\t", X86_BUG_DIV0)
		     : : "a" (0), "d" (0), "r" (1));
}

/*
 * Interrupts off, right after the vendor's enter, on the CPU that ran the
 * guest: where the host selected it (VMSCAPE), it does an IBPB before
 * this thread returns to user space, the VMM the guest might steer.
 */
static inline void vhm_spec_exited(void)
{
	if (vhm_spec & VHM_SPEC_VMSCAPE)
		vhm_vmscape_ibpb_on_exit_to_user();
}

#endif /* VHM_SPEC_H */
