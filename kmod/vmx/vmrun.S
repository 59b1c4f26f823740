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
 *
 * Speculation (kmod/spec.h), each an ALTERNATIVE on the host's bits: VERW
 * right before VMLAUNCH/VMRESUME; after the exit, before the first RET,
 * the RSB fill, the host's SPEC_CTRL again where it uses legacy IBRS
 * (whose protection takes effect on the write), the BHB clearing.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/percpu.h>

#include "../guest_gprs.S"
#include "../spec_macros.S"

#define VMCS_HOST_RSP	0x6c14

	.text
SYM_FUNC_START(vmx_vmenter)
	PUSH_HOST_CALLEE_SAVED
	push	%rdi			/* guest gprs: 0(%rsp) */

	mov	$VMCS_HOST_RSP, %eax
	vmwrite	%rsp, %rax

	/* CF = launched: survives the loads and the VERW (ZF only) below. */
	bt	$0, %esi
	mov	%rdi, %rax
	LOAD_GUEST_GPRS
	mov	GPR(G_RAX)(%rax), %rax
	/* The host's data out of the CPU's buffers (MDS, TAA, RFDS...). */
	VHM_VERW VHM_FEATURE_VERW_VMX
	jc	1f
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
	/* The result in RBX (the guest's is stored): the flags go next. */
	setbe	%bl
	movzbl	%bl, %ebx

	/* Before any RET: no return prediction the guest left behind. */
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, \
			   X86_FEATURE_RSB_VMEXIT_LITE
	/* Legacy IBRS protects from the write on: write it again. */
	ALTERNATIVE "jmp .Lvhm_spec_ctrl_done", "", X86_FEATURE_KERNEL_IBRS
	movl	$MSR_IA32_SPEC_CTRL, %ecx
	movl	PER_CPU_VAR(x86_spec_ctrl_current), %eax
	movl	PER_CPU_VAR(x86_spec_ctrl_current + 4), %edx
	wrmsr
.Lvhm_spec_ctrl_done:
	/* No branch history the guest left behind (clobbers RAX, RCX). */
	ALTERNATIVE "", "call vhm_clear_bhb_loop", VHM_FEATURE_BHB_VMEXIT

	CLEAR_GUEST_GPRS
	mov	%ebx, %eax
	add	$8, %rsp
	POP_HOST_CALLEE_SAVED
	RET
SYM_FUNC_END(vmx_vmenter)
