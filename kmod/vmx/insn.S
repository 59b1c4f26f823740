/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMX instructions that may fault, with exception-table fixups: a fault or
 * a VMfail becomes an error code instead of an oops.
 */
#include <linux/linkage.h>
#include <linux/errno.h>
#include <asm/asm.h>

	.text

/* int vmx_insn_vmxon(u64 pa): 0, -EIO on VMfail, -EFAULT on #UD/#GP. */
SYM_FUNC_START(vmx_insn_vmxon)
	push	%rdi
1:	vmxon	(%rsp)
	jbe	2f
	pop	%rdi
	xor	%eax, %eax
	RET
2:	pop	%rdi
	mov	$-EIO, %eax
	RET
3:	pop	%rdi
	mov	$-EFAULT, %eax
	RET
	_ASM_EXTABLE(1b, 3b)
SYM_FUNC_END(vmx_insn_vmxon)

/* int vmx_insn_vmxoff(void): 0, -EFAULT when not in VMX operation. */
SYM_FUNC_START(vmx_insn_vmxoff)
1:	vmxoff
	xor	%eax, %eax
	RET
2:	mov	$-EFAULT, %eax
	RET
	_ASM_EXTABLE(1b, 2b)
SYM_FUNC_END(vmx_insn_vmxoff)
