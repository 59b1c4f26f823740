// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side of include/guest.h: ucalls and the C half of exception
 * handling (the entry stubs are in guest_x86_stubs.S). Everything here runs
 * in the guest, in 64-bit mode, so it is built by the rules of guest code
 * whatever flags the test program has: general-purpose registers only (a
 * ucall leaves the guest's FPU/SSE state alone), no stack protector, and no
 * loop the compiler could turn into a libc call. The red zone is harmless
 * here: nothing below resumes after an exception in this file's code.
 */
#pragma GCC target("general-regs-only")
#pragma GCC optimize("no-stack-protector", "no-tree-loop-distribute-patterns")

#include "guest.h"

guest_handler_t guest_handlers[GUEST_NR_VECTORS];

static void guest_copy_msg(char *dst, const char *src)
{
	unsigned int i = 0;

	for (; src && src[i] && i < UCALL_MSG_LEN - 1; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

/*
 * The struct lives on this function's stack, in guest RAM below 4 GiB: a
 * 32-bit OUT carries its whole address. The host reads it during the exit.
 */
void __guest_ucall(uint64_t cmd, const char *file, uint64_t line,
		   const char *msg, uint64_t nargs, uint64_t a0, uint64_t a1,
		   uint64_t a2, uint64_t a3)
{
	struct ucall uc;

	uc.cmd = cmd;
	uc.nargs = nargs;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = a2;
	uc.args[3] = a3;
	uc.file = file;
	uc.line = line;
	guest_copy_msg(uc.msg, msg);
	asm volatile("outl %0, %1"
		     : : "a"((uint32_t)(uintptr_t)&uc), "Nd"(UCALL_PORT)
		     : "memory");
}

static void __attribute__((noreturn)) guest_halt_forever(void)
{
	for (;;)
		asm volatile("hlt");
}

void __guest_abort(const char *file, uint64_t line, const char *msg,
		   uint64_t nargs, uint64_t a0, uint64_t a1)
{
	__guest_ucall(UCALL_ABORT, file, line, msg, nargs, a0, a1, 0, 0);
	guest_halt_forever();
}

void __guest_done(const char *file, uint64_t line)
{
	__guest_ucall(UCALL_DONE, file, line, 0, 0, 0, 0, 0, 0);
	guest_halt_forever();
}

/* guest_return_stub (the guest function's return address) calls this. */
void __guest_returned(void)
{
	__guest_ucall(UCALL_DONE, 0, 0, "the guest function returned", 0, 0,
		      0, 0, 0);
	guest_halt_forever();
}

#define GUEST_USER_KSTACK_GAP	8192	/* include/guest.h */
#define X86_EFLAGS_IOPL3	0x3000

void guest_enter_user(void)
{
	uint64_t rsp;

	asm volatile("mov %%rsp, %0" : "=r"(rsp));
	*(volatile uint64_t *)GUEST_TSS_RSP0 =
		(rsp - GUEST_USER_KSTACK_GAP) & ~15ull;
	/*
	 * IRETQ to the next instruction at CPL 3 with the RSP of now; the
	 * frame goes below the red zone. IRETQ nulls DS and ES (DPL 0).
	 */
	asm volatile("mov %[cr3], %%cr3\n\t"
		     "mov %%rsp, %%rax\n\t"
		     "sub $128, %%rsp\n\t"
		     "pushq %[ss]\n\t"
		     "pushq %%rax\n\t"
		     "pushfq\n\t"
		     "orq %[iopl], (%%rsp)\n\t"
		     "pushq %[cs]\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "iretq\n"
		     "1:"
		     : : [cr3] "r"((uint64_t)GUEST_PML4_USER),
		       [ss] "i"(GUEST_SEL_USER_DATA),
		       [cs] "i"(GUEST_SEL_USER_CODE64),
		       [iopl] "i"(X86_EFLAGS_IOPL3)
		     : "rax", "cc", "memory");
}

void guest_leave_user(void)
{
	asm volatile("int %0" : : "i"(GUEST_VEC_LEAVE_USER) : "memory");
}

/* int $GUEST_VEC_LEAVE_USER from CPL 3: return at CPL 0 instead. */
static void guest_back_to_kernel(struct ex_regs *regs)
{
	regs->cs = GUEST_SEL_CODE64;
	regs->ss = GUEST_SEL_DATA;
	regs->rflags &= ~(uint64_t)X86_EFLAGS_IOPL3;
	asm volatile("mov %0, %%cr3\n\t"
		     "mov %1, %%ds\n\t"
		     "mov %1, %%es"
		     : : "r"((uint64_t)GUEST_PML4), "r"((uint16_t)GUEST_SEL_DATA)
		     : "memory");
}

/* From guest_exception_common with the frame it built. */
void __guest_exception(struct ex_regs *regs)
{
	guest_handler_t h = guest_handlers[regs->vector % GUEST_NR_VECTORS];
	uint64_t cr2;

	if (regs->vector == GUEST_VEC_LEAVE_USER && (regs->cs & 3)) {
		guest_back_to_kernel(regs);
		return;
	}
	if (h) {
		h(regs);
		return;
	}
	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	__guest_ucall(UCALL_EXCEPTION, 0, 0, "unhandled exception", 4,
		      regs->vector, regs->error_code, regs->rip, cr2);
	guest_halt_forever();
}
