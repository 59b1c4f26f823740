/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest GPRs around VMRUN and VMLAUNCH/VMRESUME, for both backends'
 * entry code (svm/vmrun.S, vmx/vmrun.S): the array of 16 u64 in ModRM
 * order (enum vhm_gpr) that the hardware does not switch, the host's
 * callee-saved registers, and the scrubbing of guest values after an
 * exit. The array's address is in %rax for the loads and stores.
 * Macros only: included by the two vmrun.S, never built alone.
 */
#ifndef VHM_GUEST_GPRS_H
#define VHM_GUEST_GPRS_H

#ifdef __ASSEMBLY__

#define GPR(n)	((n) * 8)
#define G_RAX	0
#define G_RCX	1
#define G_RDX	2
#define G_RBX	3
#define G_RBP	5
#define G_RSI	6
#define G_RDI	7

.macro PUSH_HOST_CALLEE_SAVED
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
.endm

.macro POP_HOST_CALLEE_SAVED
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
.endm

/* Every guest GPR but RAX and RSP from the array at %rax; flags kept. */
.macro LOAD_GUEST_GPRS
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
.endm

/* Every guest GPR but RAX and RSP into the array at %rax; flags kept. */
.macro SAVE_GUEST_GPRS
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
.endm

/*
 * No guest value survives in a caller-saved register the host might
 * leak (the callee-saved ones get the host's back); flags are changed.
 */
.macro CLEAR_GUEST_GPRS
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
.endm

#endif /* __ASSEMBLY__ */
#endif /* VHM_GUEST_GPRS_H */
