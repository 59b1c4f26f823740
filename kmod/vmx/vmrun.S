/* SPDX-License-Identifier: GPL-2.0 */
/*
 * int vmx_vmenter(u64 *gprs, bool launched)
 *
 * Called with interrupts off and the vCPU's VMCS current. Records the
 * stack pointer as HOST_RSP, loads the guest GPRs the VMCS does not hold,
 * VMLAUNCH (first entry after VMCLEAR) or VMRESUME. A VM exit lands on
 * vmx_vmexit (HOST_RIP) with RSP = HOST_RSP and RFLAGS cleared; a failed
 * VMLAUNCH/VMRESUME falls through to the same place with CF or ZF set.
 * Both store the guest GPRs back; the return value is 0 after an exit,
 * 1 after a VMfail.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

#include "../guest_gprs.S"

#define VMCS_HOST_RSP	0x6c14

	.text
SYM_FUNC_START(vmx_vmenter)
	PUSH_HOST_CALLEE_SAVED
	push	%rdi			/* guest gprs: 0(%rsp) */

	mov	$VMCS_HOST_RSP, %eax
	vmwrite	%rsp, %rax

	/* The flags of this test survive the loads below. */
	test	%sil, %sil
	mov	%rdi, %rax
	LOAD_GUEST_GPRS
	mov	GPR(G_RAX)(%rax), %rax
	jnz	1f
	vmlaunch
	jmp	vmx_vmexit
1:	vmresume

SYM_INNER_LABEL(vmx_vmexit, SYM_L_GLOBAL)
	/* Reached by VM exits, never by an indirect branch. */
	ANNOTATE_NOENDBR
	/* RSP is HOST_RSP again; the GPRs are the guest's. Flags: see above. */
	push	%rax
	mov	8(%rsp), %rax
	SAVE_GUEST_GPRS
	popq	GPR(G_RAX)(%rax)
	setbe	%al
	movzbl	%al, %eax

	CLEAR_GUEST_GPRS
	add	$8, %rsp
	POP_HOST_CALLEE_SAVED
	RET
SYM_FUNC_END(vmx_vmenter)
