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

#define GPR(n)	((n) * 8)
#define G_RAX	0
#define G_RCX	1
#define G_RDX	2
#define G_RBX	3
#define G_RBP	5
#define G_RSI	6
#define G_RDI	7
#define VMCS_HOST_RSP	0x6c14

	.text
SYM_FUNC_START(vmx_vmenter)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdi			/* guest gprs: 0(%rsp) */

	mov	$VMCS_HOST_RSP, %eax
	vmwrite	%rsp, %rax

	/* The flags of this test survive the loads below. */
	test	%sil, %sil
	mov	%rdi, %rax
	mov	GPR(G_RCX)(%rax), %rcx
	mov	GPR(G_RDX)(%rax), %rdx
	mov	GPR(G_RBX)(%rax), %rbx
	mov	GPR(G_RBP)(%rax), %rbp
	mov	GPR(G_RSI)(%rax), %rsi
	mov	GPR(G_RDI)(%rax), %rdi
	mov	GPR(8)(%rax), %r8
	mov	GPR(9)(%rax), %r9
	mov	GPR(10)(%rax), %r10
	mov	GPR(11)(%rax), %r11
	mov	GPR(12)(%rax), %r12
	mov	GPR(13)(%rax), %r13
	mov	GPR(14)(%rax), %r14
	mov	GPR(15)(%rax), %r15
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
	mov	%rcx, GPR(G_RCX)(%rax)
	mov	%rdx, GPR(G_RDX)(%rax)
	mov	%rbx, GPR(G_RBX)(%rax)
	mov	%rbp, GPR(G_RBP)(%rax)
	mov	%rsi, GPR(G_RSI)(%rax)
	mov	%rdi, GPR(G_RDI)(%rax)
	mov	%r8, GPR(8)(%rax)
	mov	%r9, GPR(9)(%rax)
	mov	%r10, GPR(10)(%rax)
	mov	%r11, GPR(11)(%rax)
	mov	%r12, GPR(12)(%rax)
	mov	%r13, GPR(13)(%rax)
	mov	%r14, GPR(14)(%rax)
	mov	%r15, GPR(15)(%rax)
	popq	GPR(G_RAX)(%rax)
	setbe	%al
	movzbl	%al, %eax

	/* No guest value survives in a register the host might leak. */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$8, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmx_vmenter)
