/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the backends' enter op does around the world switch, the same for
 * both, interrupts off: the guest's XCR0 and breakpoints in (with its
 * CR4.OSXSAVE and DR7), and its TSC_AUX (switched lazily, user_msrs.c);
 * right after VMRUN or VMLAUNCH/VMRESUME the kernel's guest-state
 * accounting ends and the register file goes stale; then the host's
 * breakpoints and XCR0 again. Inline: they are on every exit's path.
 */
#ifndef VHM_ENTER_H
#define VHM_ENTER_H

#include "compat.h"
#include "regs.h"
#include "user_msrs.h"
#include "vm.h"

static inline void vhm_switch_to_guest(struct vhm_vcpu *vcpu, bool osxsave,
				       u64 dr7)
{
	vhm_xcr_load_guest(vcpu, osxsave);
	vhm_dr_load_guest(vcpu, dr7);
	vhm_umsr_load(VHM_UMSR_TSC_AUX, vcpu->tsc_aux);
}

static inline void vhm_guest_exited(struct vhm_vcpu *vcpu)
{
	vhm_guest_state_exit_irqoff();
	vhm_regs_exited(vcpu);
}

static inline void vhm_switch_to_host(struct vhm_vcpu *vcpu, bool osxsave,
				      u64 dr7)
{
	vhm_dr_put_guest(vcpu, dr7);
	vhm_xcr_put_guest(vcpu, osxsave);
}

#endif /* VHM_ENTER_H */
