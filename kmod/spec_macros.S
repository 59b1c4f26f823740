/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Speculation-mitigation macros for both backends' entry asm (svm/vmrun.S,
 * vmx/vmrun.S; kmod/spec.h says what they are for). Macros only: included
 * by the two vmrun.S, never built alone.
 */
#ifndef VHM_SPEC_MACROS_H
#define VHM_SPEC_MACROS_H

#ifdef __ASSEMBLY__

#include <asm/alternative.h>

#include "compat.h"

/*
 * VERW with vhm's own selector (nospec.S; the kernel's x86_verw_sel is
 * exported to KVM only in 7.x): clears the CPU's buffers (MDS, TAA, MMIO
 * stale data, RFDS, TSA). Changes ZF only. The skip jump is what gets
 * patched out, as in the kernel's own macro, so the RIP-relative VERW is
 * never moved by the alternatives code.
 */
.macro VHM_VERW feature
	ALTERNATIVE "jmp .Lvhm_skip_verw_\@", "", \feature
	verw	vhm_verw_sel(%rip)
.Lvhm_skip_verw_\@:
.endm

#endif /* __ASSEMBLY__ */
#endif /* VHM_SPEC_MACROS_H */
