/* SPDX-License-Identifier: GPL-2.0 */
/*
 * void svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa)
 *
 * Called with interrupts off. With GIF clear: VMSAVE the host's
 * FS/GS/TR/LDTR/syscall state, VMLOAD the guest's, load the guest GPRs the
 * VMCB does not hold, VMRUN; after #VMEXIT store them back, VMSAVE the
 * guest's state into its VMCB, VMLOAD the host's, set GIF again (a pending
 * interrupt or NMI is then taken by the host).
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

#define GPR(n)	((n) * 8)
#define G_RCX	1
#define G_RDX	2
#define G_RBX	3
#define G_RBP	5
#define G_RSI	6
#define G_RDI	7

	.text
SYM_FUNC_START(svm_vmrun)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdx			/* host save area:  16(%rsp) */
	push	%rsi			/* guest gprs:       8(%rsp) */
	push	%rdi			/* VMCB:             0(%rsp) */

	clgi
	mov	%rdx, %rax
	vmsave	%rax
	mov	(%rsp), %rax
	vmload	%rax

	mov	8(%rsp), %rax
	mov	GPR(G_RCX)(%rax), %rcx
	mov	GPR(G_RDX)(%rax), %rdx
	mov	GPR(G_RBX)(%rax), %rbx
	mov	GPR(G_RBP)(%rax), %rbp
	mov	GPR(G_RDI)(%rax), %rdi
	mov	GPR(8)(%rax), %r8
	mov	GPR(9)(%rax), %r9
	mov	GPR(10)(%rax), %r10
	mov	GPR(11)(%rax), %r11
	mov	GPR(12)(%rax), %r12
	mov	GPR(13)(%rax), %r13
	mov	GPR(14)(%rax), %r14
	mov	GPR(15)(%rax), %r15
	mov	GPR(G_RSI)(%rax), %rsi

	/*
	 * With V_INTR_MASKING the host's IF at VMRUN decides whether physical
	 * interrupts exit the guest: set it. GIF is clear, so the host still
	 * takes no interrupt here. STI's one-instruction shadow ends on the
	 * NOP, not on VMRUN: QEMU's SVM carries a shadow VMRUN runs in over
	 * to the guest (the guest's first instruction, or an injected event,
	 * then runs in it), where VMRUN should load the VMCB's own.
	 */
	mov	(%rsp), %rax
	sti
	nop
	vmrun	%rax
	cli

	/* #VMEXIT: G_RAX and RSP are the host's again, the rest the guest's. */
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

	mov	(%rsp), %rax
	vmsave	%rax
	mov	16(%rsp), %rax
	vmload	%rax

	/* No guest value survives in a register the host might leak. */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$24, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	stgi
	RET
SYM_FUNC_END(svm_vmrun)
