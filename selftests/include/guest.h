/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guests written in C, as in KVM's selftests: guest code is an ordinary
 * function of the test program, run by a vCPU in 64-bit mode.
 *
 * How: selftests are static, non-PIE executables (loaded at 0x400000). The
 * host side (lib/guest.c) copies every PT_LOAD segment of /proc/self/exe
 * into guest RAM at the same addresses and identity-maps the low 4 GiB, so
 * a function pointer, a string literal or a global variable of the test has
 * the same address in the host and in the guest (guest-virtual =
 * guest-physical = host-virtual of the image). The guest and the host have
 * separate copies of globals: see guest_var() and sync_global_*().
 *
 * The guest reports to the host with ucalls (GUEST_SYNC, GUEST_ASSERT*,
 * GUEST_DONE): it fills a struct ucall on its stack and writes the
 * struct's address with a 4-byte OUT to UCALL_PORT; the host reads the
 * struct through its own mapping of guest RAM. An exception the guest does
 * not handle is reported the same way (UCALL_EXCEPTION), then the vCPU
 * halts.
 *
 * Guest code rules:
 * - no libc: nothing links the guest to glibc's TLS, locks or ifuncs
 *   (memcpy & co. pick AVX versions, which #UD in the guest: CR4.OSXSAVE
 *   is clear). Beware that the compiler turns clearing or copying loops
 *   into memset/memcpy calls (-fno-tree-loop-distribute-patterns stops
 *   that) and large struct copies too (avoid them).
 * - no stack protector (-fno-stack-protector): it reads the canary from
 *   %fs:0x28, and the guest has no TLS.
 * - no red zone (-mno-red-zone): exceptions are taken on the interrupted
 *   code's stack; the frame the CPU pushes would overwrite a leaf
 *   function's locals below RSP, and a handler would resume it with them
 *   clobbered.
 * The Makefile builds the programs that contain guest code with those
 * flags (GUEST_CFLAGS). SSE is allowed: vhm keeps the guest's FPU/SSE
 * state apart from the VMM's (kmod/fpu.c) and the long-mode setup enables
 * it (CR4.OSFXSR). The library's own guest code (lib/guest_x86.c,
 * lib/guest_x86_stubs.S) follows the rules whatever the flags and uses
 * general-purpose registers only, so a ucall never changes the FPU/SSE
 * state a test is looking at, and works with CR4.OSFXSR clear.
 *
 * Real mode and 32-bit protected mode guests are machine code placed in low
 * memory by guest_vcpu_start_real() and guest_vcpu_start_prot32(); they
 * can report with ucalls too (a struct ucall of their own, OUT of its
 * address to UCALL_PORT).
 */
#ifndef VHM_GUEST_H
#define VHM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vhm_vm.h"

/*
 * Guest-physical memory, identity-mapped with 2 MiB pages from 0 to
 * GUEST_MAPPED_END in long mode. RAM (slot 0) is 0 .. GUEST_RAM_SIZE; the
 * rest of the mapped range has no slot behind it, so accesses there are
 * MMIO exits.
 */
#define GUEST_LOW_STACK		0x7000		/* real/protected mode stack top */
#define GUEST_LOW_CODE		0x8000		/* where mode tests put their code */
#define GUEST_LOW_END		0xa0000		/* 0 .. this: free for such tests */
#define GUEST_GDT		0x100000
#define GUEST_IDT		0x101000
#define GUEST_TSS		0x102000
#define GUEST_PML4		0x103000
#define GUEST_PDPT		0x104000
#define GUEST_PD		0x105000	/* 4 pages: 0 .. 4 GiB */
/* The same identity map with U/S set at every level (guest_enter_user()). */
#define GUEST_PML4_USER		0x110000
#define GUEST_PDPT_USER		0x111000
#define GUEST_PD_USER		0x112000	/* 4 pages */
#define GUEST_STACKS		0x200000	/* vCPU n: its stack tops at */
#define GUEST_STACK_SIZE	0x8000		/*   GUEST_IMAGE - n * this */
#define GUEST_IMAGE		0x400000	/* the test program */
#define GUEST_RAM_SIZE		(32ull << 20)
#define GUEST_MAPPED_END	(4ull << 30)
#define GUEST_MMIO_BASE		0xc0000000ull	/* mapped, no RAM: MMIO */

/* GDT selectors (long mode and guest_vcpu_start_prot32()). */
#define GUEST_SEL_CODE64	0x08
#define GUEST_SEL_DATA		0x10
#define GUEST_SEL_CODE32	0x18
#define GUEST_SEL_TSS		0x20		/* 16 bytes in long mode */
#define GUEST_SEL_USER_DATA	0x33		/* DPL 3, RPL 3 */
#define GUEST_SEL_USER_CODE64	0x3b		/* DPL 3, RPL 3 */
#define GUEST_GDT_LIMIT		0x3f
/* The TSS's RSP0 (64-bit TSS layout): the stack CPL 3 -> 0 switches to. */
#define GUEST_TSS_RSP0		(GUEST_TSS + 4)
/* int $GUEST_VEC_LEAVE_USER (a DPL 3 gate) is guest_leave_user(). */
#define GUEST_VEC_LEAVE_USER	0xfe

#define GUEST_NR_EXCEPTIONS	32		/* vectors 0-31 */
#define GUEST_NR_VECTORS	256		/* IDT entries and handlers */

/* Control register and EFER bits the guests and tests use. */
#define X86_CR0_PE		(1ull << 0)
#define X86_CR0_MP		(1ull << 1)
#define X86_CR0_ET		(1ull << 4)
#define X86_CR0_NE		(1ull << 5)
#define X86_CR0_PG		(1ull << 31)
#define X86_CR4_PAE		(1ull << 5)
#define X86_CR4_OSFXSR		(1ull << 9)
#define X86_CR4_OSXMMEXCPT	(1ull << 10)
#define EFER_LME		(1ull << 8)
#define EFER_LMA		(1ull << 10)
#define MSR_EFER_NR		0xc0000080

/*
 * ucalls. The numbers and the layout are ABI between the guest code (also
 * hand-written machine code in tests) and the host side: offsets in bytes
 * are cmd 0, nargs 8, args 16, file 48, line 56, msg 64.
 */
#define UCALL_PORT		0x3f0
#define UCALL_NONE		0	/* not a ucall (get_ucall()) */
#define UCALL_SYNC		1	/* args: GUEST_SYNC's values */
#define UCALL_ABORT		2	/* msg: the failed assertion */
#define UCALL_DONE		3
#define UCALL_EXCEPTION		4	/* args: vector, error code, rip, cr2 */
#define UCALL_MSG_LEN		128

struct ucall {
	uint64_t cmd;
	uint64_t nargs;			/* how many args are meaningful */
	uint64_t args[4];
	const char *file;		/* guest address (same in the host), or 0 */
	uint64_t line;
	char msg[UCALL_MSG_LEN];	/* NUL-terminated */
};

/* ---------------------------------------------------------------------
 * Guest side: call only from guest code.
 */

void __guest_ucall(uint64_t cmd, const char *file, uint64_t line,
		   const char *msg, uint64_t nargs, uint64_t a0, uint64_t a1,
		   uint64_t a2, uint64_t a3);
/* UCALL_ABORT or UCALL_DONE, then halt forever (VHM_EXIT_HLT). */
void __guest_abort(const char *file, uint64_t line, const char *msg,
		   uint64_t nargs, uint64_t a0, uint64_t a1)
	__attribute__((noreturn));
void __guest_done(const char *file, uint64_t line) __attribute__((noreturn));

#define GUEST_SYNC(arg)							\
	__guest_ucall(UCALL_SYNC, __FILE__, __LINE__, 0, 1,		\
		      (uint64_t)(arg), 0, 0, 0)
#define GUEST_SYNC_ARGS(a0, a1, a2, a3)					\
	__guest_ucall(UCALL_SYNC, __FILE__, __LINE__, 0, 4,		\
		      (uint64_t)(a0), (uint64_t)(a1), (uint64_t)(a2),	\
		      (uint64_t)(a3))
/* Returning from the guest function is a GUEST_DONE() too. */
#define GUEST_DONE()	__guest_done(__FILE__, __LINE__)
#define GUEST_FAIL(msg)	__guest_abort(__FILE__, __LINE__, msg, 0, 0, 0)
#define GUEST_ASSERT(cond)						\
	do {								\
		if (!(cond))						\
			__guest_abort(__FILE__, __LINE__, #cond, 0, 0, 0); \
	} while (0)
/* Reports both values (as uint64_t) with "a == b". */
#define GUEST_ASSERT_EQ(a, b)						\
	do {								\
		uint64_t __ga = (uint64_t)(a), __gb = (uint64_t)(b);	\
									\
		if (__ga != __gb)					\
			__guest_abort(__FILE__, __LINE__, #a " == " #b, 2, \
				      __ga, __gb);			\
	} while (0)

/* The frame an exception handler gets; it may change rip and the GPRs. */
struct ex_regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

typedef void (*guest_handler_t)(struct ex_regs *regs);

/*
 * Per-vector handlers (exceptions, NMI, interrupts: all 256 vectors are
 * interrupt gates; vectors 32-255 and NMI have error_code 0): NULL (the
 * default) reports UCALL_EXCEPTION and halts. A handler returns to the
 * (possibly changed) frame with IRETQ.
 * Set from the guest with guest_set_handler() or from the host with
 * guest_vm_set_handler().
 */
extern guest_handler_t guest_handlers[GUEST_NR_VECTORS];

static inline void guest_set_handler(unsigned int vector, guest_handler_t h)
{
	guest_handlers[vector] = h;
}

/*
 * Guest user mode. guest_enter_user() returns at CPL 3 (64-bit user code
 * and stack segments, IOPL 3 so that ucalls still work, the same RSP)
 * with CR3 on the GUEST_PML4_USER tables (every page user-accessible).
 * Exceptions and interrupts then run their handlers at CPL 0 on the
 * stack guest_enter_user() put in the TSS: 8 KiB below the RSP it was
 * called with, which leaves the user code those 8 KiB. The TSS is shared:
 * one vCPU at a time in user mode. guest_leave_user() returns at CPL 0
 * with the kernel segments and tables back.
 */
void guest_enter_user(void);
void guest_leave_user(void);

/* The guest's current privilege level (CS.RPL). */
static inline unsigned int guest_cpl(void)
{
	uint16_t cs;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

/* Instructions that exit to the host, and a few others. */
static inline void guest_outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void guest_outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void guest_outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t guest_inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t guest_inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t guest_inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void guest_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a,
			       uint32_t *b, uint32_t *c, uint32_t *d)
{
	asm volatile("cpuid"
		     : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
		     : "a"(leaf), "c"(subleaf));
}

static inline void guest_hlt(void)
{
	asm volatile("hlt" : : : "memory");
}

/* VMMCALL: number in RAX, arguments in RDI, RSI, RDX, R10, R8, R9. */
static inline uint64_t guest_vmmcall(uint64_t nr, uint64_t a0, uint64_t a1,
				     uint64_t a2, uint64_t a3, uint64_t a4,
				     uint64_t a5)
{
	register uint64_t r10 asm("r10") = a3;
	register uint64_t r8 asm("r8") = a4;
	register uint64_t r9 asm("r9") = a5;
	uint64_t ret;

	asm volatile("vmmcall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8),
		       "r"(r9)
		     : "memory");
	return ret;
}

static inline uint64_t guest_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}

static inline void guest_wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr"
		     : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
		     : "memory");
}

#define GUEST_READ_CR(n)						\
	static inline uint64_t guest_read_cr##n(void)			\
	{								\
		uint64_t v;						\
									\
		asm volatile("mov %%cr" #n ", %0" : "=r"(v));		\
		return v;						\
	}
GUEST_READ_CR(0)
GUEST_READ_CR(2)
GUEST_READ_CR(3)
GUEST_READ_CR(4)
#undef GUEST_READ_CR

/* MMIO: one access of exactly this size (volatile). */
static inline uint8_t guest_readb(uint64_t addr)
{
	return *(volatile uint8_t *)addr;
}

static inline uint16_t guest_readw(uint64_t addr)
{
	return *(volatile uint16_t *)addr;
}

static inline uint32_t guest_readl(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline uint64_t guest_readq(uint64_t addr)
{
	return *(volatile uint64_t *)addr;
}

static inline void guest_writeb(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)addr = v;
}

static inline void guest_writew(uint64_t addr, uint16_t v)
{
	*(volatile uint16_t *)addr = v;
}

static inline void guest_writel(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline void guest_writeq(uint64_t addr, uint64_t v)
{
	*(volatile uint64_t *)addr = v;
}

/* ---------------------------------------------------------------------
 * Host side. Functions return 0 or -errno and print nothing, like the raw
 * wrappers of vhm_vm.h; the ASSERT_GUEST_* macros assert.
 */

struct guest_vm {
	int fd;			/* the VM fd */
	uint8_t *ram;		/* guest-physical x is at ram + x */
	uint64_t ram_size;	/* slot 0: 0 .. ram_size */
	uint64_t image_end;	/* the end of the program's image */
	uint64_t free_gpa;	/* RAM from here to ram_size is unused */
};

struct guest_vcpu {
	struct test_vcpu raw;	/* for the raw wrappers of vhm_vm.h */
	struct vhm_run *run;	/* raw.run */
	struct guest_vm *vm;
	int id;
	int run_ret;		/* the last guest_run(): 0 or -errno */
};

/*
 * A VM with guest RAM in slot 0 holding this program's image, the GDT,
 * the IDT with the exception stubs, the TSS and the page tables.
 */
int guest_vm_create(struct guest_vm *vm, int sys);
void guest_vm_free(struct guest_vm *vm);
/* Create vCPU id (0 .. VHM_MAX_VCPUS - 1) and map its run area. */
int guest_vcpu_create(struct guest_vm *vm, int id, struct guest_vcpu *vcpu);
void guest_vcpu_free(struct guest_vcpu *vcpu);

/*
 * 64-bit mode at code(arg): flat CS/DS/SS, paging with the identity map,
 * the library's GDT, IDT and TSS, RSP on the vCPU's own stack, RDI = arg.
 * code is a guest function, void fn(void) or void fn(uint64_t).
 */
int guest_vcpu_start_long(struct guest_vcpu *vcpu, void *code, uint64_t arg);
/*
 * 32-bit protected mode, flat segments (CS GUEST_SEL_CODE32, data
 * GUEST_SEL_DATA), no paging, no IDT (an exception shuts down), at gpa
 * with ESP at the vCPU's stack top. Copies len bytes of code to gpa first
 * unless code is NULL.
 */
int guest_vcpu_start_prot32(struct guest_vcpu *vcpu, uint64_t gpa,
			    const void *code, size_t len);
/*
 * Real mode at gpa (below 1 MiB): CS:IP = (gpa >> 4) & 0xf000 : gpa & 0xffff,
 * DS = ES = SS = 0, SP = GUEST_LOW_STACK, the real-mode IVT at 0. Copies
 * len bytes of code to gpa first unless code is NULL.
 */
int guest_vcpu_start_real(struct guest_vcpu *vcpu, uint64_t gpa,
			  const void *code, size_t len);

/* Where guest-physical gpa .. gpa + len is in the host; NULL outside RAM. */
void *guest_gpa_to_hva(struct guest_vm *vm, uint64_t gpa, uint64_t len);
/* The guest's copy of a global (or static) variable of this program. */
#define guest_var(vm, var)						\
	((__typeof__(&(var)))guest_gpa_to_hva(vm, (uintptr_t)&(var),	\
					       sizeof(var)))
#define sync_global_to_guest(vm, var)					\
	memcpy(guest_var(vm, var), &(var), sizeof(var))
#define sync_global_from_guest(vm, var)					\
	memcpy(&(var), guest_var(vm, var), sizeof(var))
/* Install an exception handler in the guest's copy of guest_handlers. */
void guest_vm_set_handler(struct guest_vm *vm, unsigned int vector,
			  guest_handler_t h);

/* VHM_RUN once, its result also in vcpu->run_ret: 0 or -errno. */
int guest_run(struct guest_vcpu *vcpu);
/*
 * The ucall the vCPU's last guest_run() exit carries: its cmd, with *uc
 * filled in, or UCALL_NONE (uc->cmd too) when the exit is something else.
 */
uint64_t guest_ucall_of_exit(struct guest_vcpu *vcpu, struct ucall *uc);
/*
 * guest_run(), then guest_ucall_of_exit(). Other exits stay in vcpu->run
 * for the caller.
 */
uint64_t get_ucall(struct guest_vcpu *vcpu, struct ucall *uc);
/*
 * One line for a test failure: the ucall (a guest assertion with the
 * guest's file:line, an exception with the function the RIP is in, ...)
 * or, when uc->cmd is UCALL_NONE, the vCPU's last exit. Returns buf.
 */
char *guest_describe(struct guest_vcpu *vcpu, const struct ucall *uc,
		     char *buf, size_t len);
/* "name+0xoff" of the function of this program at addr, or "?". */
const char *guest_symbol(uint64_t addr, char *buf, size_t len);
/* Copy the guest's NUL-terminated string at gva; "?" if it is not in RAM. */
const char *guest_string(struct guest_vm *vm, uint64_t gva, char *buf,
			 size_t len);

/*
 * In TEST/TEST_F bodies (kselftest_harness.h included first): run the
 * vCPU to its next ucall, which must be cmd; otherwise fail the test
 * saying what the guest did instead (a guest assertion's file, line and
 * values; an exception; another exit).
 */
#define ASSERT_GUEST_UCALL(vcpu, want, uc)				\
	do {								\
		char __why[512] = "";					\
		uint64_t expected_ucall = (want);			\
		uint64_t guest_ucall = get_ucall(vcpu, uc);		\
									\
		if (guest_ucall != expected_ucall)			\
			guest_describe(vcpu, uc, __why, sizeof(__why));	\
		ASSERT_EQ(expected_ucall, guest_ucall)			\
			TH_LOG("guest: %s", __why);			\
	} while (0)
/* The next ucall is GUEST_SYNC(val) (its first argument is val). */
#define ASSERT_GUEST_SYNC(vcpu, val)					\
	do {								\
		struct ucall __uc;					\
		char __where[256];					\
		uint64_t expected_sync = (val);				\
									\
		ASSERT_GUEST_UCALL(vcpu, UCALL_SYNC, &__uc);		\
		ASSERT_EQ(expected_sync, __uc.args[0])			\
			TH_LOG("GUEST_SYNC at %s:%llu",			\
			       guest_string((vcpu)->vm,			\
					    (uintptr_t)__uc.file,	\
					    __where, sizeof(__where)),	\
			       (unsigned long long)__uc.line);		\
	} while (0)
#define ASSERT_GUEST_DONE(vcpu)						\
	do {								\
		struct ucall __uc;					\
									\
		ASSERT_GUEST_UCALL(vcpu, UCALL_DONE, &__uc);		\
	} while (0)

/*
 * The fixture of tests that run one guest, for TEST_F(name, ...)
 * (kselftest_harness.h, vhm_util.h and vhm_assert.h included first):
 * self->sys is /dev/vhm (REQUIRE_VHM_GUESTS()), self->vm a VM from
 * guest_vm_create(), self->vcpu its vCPU 0. GUEST_FIXTURE_LAPIC() first
 * requires that VHM_CHECK_EXTENSION(cap) answers 1 and creates the VM's
 * in-kernel local APICs (VHM_CREATE_LAPIC with lapic_flags) before the
 * vCPU.
 */
#define GUEST_FIXTURE(name)	__GUEST_FIXTURE(name, 0, 0)
#define GUEST_FIXTURE_LAPIC(name, cap, lapic_flags)			\
	__GUEST_FIXTURE(name, cap, lapic_flags)
#define __GUEST_FIXTURE(name, cap, lapic_flags)				\
	FIXTURE(name) {							\
		int sys;						\
		struct guest_vm vm;					\
		struct guest_vcpu vcpu;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		struct vhm_create_lapic c;				\
									\
		self->sys = -1;						\
		self->vm.fd = -1;					\
		self->vm.ram = NULL;					\
		self->vcpu.raw.fd = -1;					\
		REQUIRE_VHM_GUESTS(self->sys);				\
		if (cap)						\
			ASSERT_EQ(1, ioctl(self->sys, VHM_CHECK_EXTENSION, \
					   cap));			\
		ASSERT_VHM(guest_vm_create(&self->vm, self->sys));	\
		if (cap) {						\
			memset(&c, 0, sizeof(c));			\
			c.flags = lapic_flags;				\
			ASSERT_VHM_IOCTL(self->vm.fd, VHM_CREATE_LAPIC, &c); \
		}							\
		ASSERT_VHM(guest_vcpu_create(&self->vm, 0, &self->vcpu)); \
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		guest_vcpu_free(&self->vcpu);				\
		guest_vm_free(&self->vm);				\
		if (self->sys >= 0)					\
			close(self->sys);				\
	}

#endif /* VHM_GUEST_H */
