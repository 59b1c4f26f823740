/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side, 64-bit mode: the entry points of the 256 vectors (exceptions,
 * NMI, interrupts; the host points the IDT at guest_exception_stubs[]) and
 * the return address of guest functions.
 *
 * Each stub makes the frame uniform (a 0 error code for vectors without
 * one, then the vector) and jumps to guest_exception_common, which saves
 * the GPRs below that as struct ex_regs (include/guest.h) and calls
 * __guest_exception(regs). The CPU aligns RSP to 16 bytes before pushing
 * its 5 words: with the 2 words of the stub and 15 GPRs, RSP is 16-byte
 * aligned at the call, as the ABI wants.
 */

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || \
			   (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.text
	.code64

/* One 16-byte stub per vector: stub v is at guest_exception_stub0 + 16 * v. */
	.balign 16
guest_exception_stub0:
	.set	vec, 0
	.rept	256
	.balign 16
	.if !HAS_ERROR_CODE(vec)
	pushq	$0
	.endif
	pushq	$vec
	jmp	guest_exception_common
	.set	vec, vec + 1
	.endr

	.balign 16
guest_exception_common:
	pushq	%r15
	pushq	%r14
	pushq	%r13
	pushq	%r12
	pushq	%r11
	pushq	%r10
	pushq	%r9
	pushq	%r8
	pushq	%rdi
	pushq	%rsi
	pushq	%rbp
	pushq	%rbx
	pushq	%rdx
	pushq	%rcx
	pushq	%rax
	movq	%rsp, %rdi
	cld
	call	__guest_exception
	popq	%rax
	popq	%rcx
	popq	%rdx
	popq	%rbx
	popq	%rbp
	popq	%rsi
	popq	%rdi
	popq	%r8
	popq	%r9
	popq	%r10
	popq	%r11
	popq	%r12
	popq	%r13
	popq	%r14
	popq	%r15
	addq	$16, %rsp		/* vector, error code */
	iretq

/*
 * The return address guest_vcpu_start_long() leaves on the stack: the
 * guest function returned (RSP is 16-byte aligned here, so the call
 * leaves the callee the alignment it expects).
 */
	.globl	guest_return_stub
guest_return_stub:
	call	__guest_returned
1:	hlt
	jmp	1b

	.section .rodata
	.balign	8
	.globl	guest_exception_stubs
guest_exception_stubs:
	.set	vec, 0
	.rept	256
	.quad	guest_exception_stub0 + 16 * vec
	.set	vec, vec + 1
	.endr

	.section .note.GNU-stack, "", @progbits
