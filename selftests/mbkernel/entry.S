/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mbkernel's multiboot header and entry. Built twice: as an ELF kernel
 * (flags: page-aligned modules, memory information) and, with -DAOUT, as a
 * flat image whose header carries the a.out kludge addresses (flag 16).
 * The entry loads its own GDT (multiboot leaves GDTR undefined), its own
 * stack, and calls mb_main(EAX, EBX).
 */
#define MB_MAGIC	0x1badb002
#ifdef AOUT
#define MB_FLAGS	0x00010003
#else
#define MB_FLAGS	0x00000003
#endif

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
#ifdef AOUT
	/* header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr */
	.long mb_header, _load_start, _edata, _end, _start
#endif

	.text
	.code32
	.globl _start
_start:
	cli
	lgdt gdt_ptr
	ljmp $8, $1f
1:	mov $16, %cx
	mov %cx, %ds
	mov %cx, %es
	mov %cx, %fs
	mov %cx, %gs
	mov %cx, %ss
	mov $stack_top, %esp
	push %ebx		/* the multiboot info */
	push %eax		/* the magic */
	call mb_main
2:	hlt
	jmp 2b

	.section .rodata
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* flat 32-bit code */
	.quad 0x00cf92000000ffff	/* flat data */
gdt_ptr:
	.word 3 * 8 - 1
	.long gdt

	.bss
	.balign 16
	.space 8192
stack_top:

	.section .note.GNU-stack, "", @progbits
