/* SPDX-License-Identifier: GPL-2.0 */
/*
 * void svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa)
 *
 * Called with interrupts off. With GIF clear: VMSAVE the host's
 * FS/GS/TR/LDTR/syscall state, VMLOAD the guest's, load the guest GPRs the
 * VMCB does not hold, VMRUN; after #VMEXIT store them back, VMSAVE the
 * guest's state into its VMCB, VMLOAD the host's, set GIF again (a pending
 * interrupt or NMI is then taken by the host).
 *
 * Speculation (kmod/spec.h), each an ALTERNATIVE on the host's bits: VERW
 * right before VMRUN; after the exit, before the first RET, the RSB fill,
 * the retbleed/SRSO untraining and the IBPB the host wants on every exit.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

#include "../guest_gprs.S"
#include "../spec_macros.S"

	.text
SYM_FUNC_START(svm_vmrun)
	PUSH_HOST_CALLEE_SAVED
	push	%rdx			/* host save area:  16(%rsp) */
	push	%rsi			/* guest gprs:       8(%rsp) */
	push	%rdi			/* VMCB:             0(%rsp) */

	clgi
	mov	%rdx, %rax
	vmsave	%rax
	mov	(%rsp), %rax
	vmload	%rax

	mov	8(%rsp), %rax
	LOAD_GUEST_GPRS

	/*
	 * With V_INTR_MASKING the host's IF at VMRUN decides whether physical
	 * interrupts exit the guest: set it. GIF is clear, so the host still
	 * takes no interrupt here. STI's one-instruction shadow ends on the
	 * NOP, not on VMRUN: QEMU's SVM carries a shadow VMRUN runs in over
	 * to the guest (the guest's first instruction, or an injected event,
	 * then runs in it), where VMRUN should load the VMCB's own.
	 */
	mov	(%rsp), %rax
	/* The host's data out of the CPU's buffers (TSA, MDS...). */
	VHM_VERW VHM_FEATURE_VERW_SVM
	sti
	nop
	vmrun	%rax
	cli

	/* #VMEXIT: G_RAX and RSP are the host's again, the rest the guest's. */
	mov	8(%rsp), %rax
	SAVE_GUEST_GPRS

	mov	(%rsp), %rax
	vmsave	%rax
	mov	16(%rsp), %rax
	vmload	%rax

	/*
	 * Before any RET: no return prediction the guest left behind, no
	 * return training (entry_untrain_ret, srso_alias_untrain_ret: plain
	 * exports), and an IBPB where the host wants one after every exit
	 * (vhm_ibpb clobbers RAX, RCX, RDX, cleared below). No call depth
	 * to reset: that accounting (retbleed=stuff) is Intel's only.
	 */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, \
			   X86_FEATURE_RSB_VMEXIT_LITE
	CALL_UNTRAIN_RET
	ALTERNATIVE "", "call vhm_ibpb", X86_FEATURE_IBPB_ON_VMEXIT

	CLEAR_GUEST_GPRS
	add	$24, %rsp
	POP_HOST_CALLEE_SAVED
	stgi
	RET
SYM_FUNC_END(svm_vmrun)
