/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The speculation barriers vhm runs itself (kmod/spec.h): the ones whose
 * kernel counterparts 7.x exports to KVM only (x86_verw_sel, write_ibpb,
 * clear_bhb_loop). Called from both backends' entry asm and from spec.c.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/segment.h>

#include "compat.h"

/* The operand of VERW: any writable data segment selector. */
	.pushsection .rodata
	.balign 2
SYM_DATA(vhm_verw_sel, .word __KERNEL_DS)
	.popsection

	.text
/*
 * IBPB: the predictors learnt before it do not steer branches after it.
 * Where the IBPB leaves return predictions alone (X86_BUG_IBPB_NO_RET)
 * the RSB is refilled too, as the kernel's own write_ibpb does.
 * Clobbers RAX, RCX, RDX and the flags.
 */
SYM_FUNC_START(vhm_ibpb)
	movl	$MSR_IA32_PRED_CMD, %ecx
	movl	$PRED_CMD_IBPB, %eax
	xorl	%edx, %edx
	wrmsr
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_BUG_IBPB_NO_RET
	RET
SYM_FUNC_END(vhm_ibpb)

/*
 * Branch history clearing after a VM exit (Intel BHI): a copy of the
 * kernel's clear_bhb_loop (arch/x86/entry/entry_64.S, the same in 6.1,
 * 6.12 and 7.3), which 7.x exports to KVM only. The nested CALLs and RETs
 * keep the loop stream detector off; the RETs sit in the upper half of a
 * cache line (ITS). A later kernel's tuning of the counts is not picked
 * up. Clobbers RAX, RCX and the flags.
 */
SYM_FUNC_START(vhm_clear_bhb_loop)
	push	%rbp
	mov	%rsp, %rbp
	movl	$5, %ecx
	ANNOTATE_INTRA_FUNCTION_CALL
	call	1f
	jmp	5f
	.align 64, 0xcc
	.skip 32 - (.Lret1 - 1f), 0xcc
	ANNOTATE_INTRA_FUNCTION_CALL
1:	call	2f
.Lret1:	RET
	.align 64, 0xcc
	.skip 32 - 18, 0xcc
2:	movl	$5, %eax
3:	jmp	4f
	nop
4:	sub	$1, %eax
	jnz	3b
	sub	$1, %ecx
	jnz	1b
.Lret2:	RET
5:	lfence
	pop	%rbp
	RET
SYM_FUNC_END(vhm_clear_bhb_loop)
STACK_FRAME_NON_STANDARD(vhm_clear_bhb_loop)
