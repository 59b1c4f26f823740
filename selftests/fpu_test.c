// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's FPU state against the VMM's (kmod/fpu.c): the guest holds
 * distinctive values in XMM0-15 (YMM where it has AVX), MXCSR and the x87
 * control word across many exits to userspace, while the VMM thread loads
 * its own into the same registers around every VHM_RUN, a second thread
 * pinned to the same CPU does the same between sched_yield()s, and a timer
 * signal whose handler scribbles on XMM interrupts everything. Every side
 * must keep its values, and VHM_GET_XSAVE at an exit must show the
 * guest's. Built with the guest code flags.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define FPU_PORT	0x3e0
#define ROUNDS		150	/* the guest's: each a new pattern */
#define EXITS		8	/* PIO exits per round, registers held */
#define NR_REGS		16
#define X86_CR4_OSXSAVE	(1ull << 18)
#define XCR0_YMM	4ull
/* Distinctive control values, none the default on either side. */
#define GUEST_MXCSR	0x5f80		/* round up, all masked */
#define GUEST_FCW	0x027f		/* 53-bit precision */
#define HOST_MXCSR	0x3f80		/* round down */
#define HOST_FCW	0x0e7f		/* round up */
/* The standard XSAVE layout. */
#define XSAVE_FCW	0
#define XSAVE_MXCSR	24
#define XSAVE_XMM	160
#define XSAVE_BV	512

/* One side's registers: 16 x 32 bytes (YMM; only the low half without AVX). */
struct fpu_regs {
	uint8_t r[NR_REGS][32];
	uint32_t mxcsr;
	uint16_t fcw;
} __attribute__((aligned(64)));

static void fill(struct fpu_regs *f, uint32_t seed, bool avx)
{
	int i, j;

	for (i = 0; i < NR_REGS; i++)
		for (j = 0; j < 32; j++)
			f->r[i][j] = j >= 16 && !avx ? 0 :
				     (uint8_t)(seed * 131 + i * 32 + j + 1) ^ 0xa5;
}

/* Bytes that differ; the control words count as one each. */
static int diff(const struct fpu_regs *a, const struct fpu_regs *b, bool avx)
{
	int i, j, n = 0;

	for (i = 0; i < NR_REGS; i++)
		for (j = 0; j < (avx ? 32 : 16); j++)
			n += a->r[i][j] != b->r[i][j];
	return n + (a->mxcsr != b->mxcsr) + (a->fcw != b->fcw);
}

/*
 * Load all of f into the registers, then AFTER (an instruction string
 * using none of them), then store them back into out. The macros keep the
 * guest's and the host's sides the same code.
 */
#define LOAD_XMM(f)							\
	"movdqu 0x000(" f "), %%xmm0\n\t" "movdqu 0x020(" f "), %%xmm1\n\t" \
	"movdqu 0x040(" f "), %%xmm2\n\t" "movdqu 0x060(" f "), %%xmm3\n\t" \
	"movdqu 0x080(" f "), %%xmm4\n\t" "movdqu 0x0a0(" f "), %%xmm5\n\t" \
	"movdqu 0x0c0(" f "), %%xmm6\n\t" "movdqu 0x0e0(" f "), %%xmm7\n\t" \
	"movdqu 0x100(" f "), %%xmm8\n\t" "movdqu 0x120(" f "), %%xmm9\n\t" \
	"movdqu 0x140(" f "), %%xmm10\n\t" "movdqu 0x160(" f "), %%xmm11\n\t" \
	"movdqu 0x180(" f "), %%xmm12\n\t" "movdqu 0x1a0(" f "), %%xmm13\n\t" \
	"movdqu 0x1c0(" f "), %%xmm14\n\t" "movdqu 0x1e0(" f "), %%xmm15\n\t"
#define STORE_XMM(f)							\
	"movdqu %%xmm0, 0x000(" f ")\n\t" "movdqu %%xmm1, 0x020(" f ")\n\t" \
	"movdqu %%xmm2, 0x040(" f ")\n\t" "movdqu %%xmm3, 0x060(" f ")\n\t" \
	"movdqu %%xmm4, 0x080(" f ")\n\t" "movdqu %%xmm5, 0x0a0(" f ")\n\t" \
	"movdqu %%xmm6, 0x0c0(" f ")\n\t" "movdqu %%xmm7, 0x0e0(" f ")\n\t" \
	"movdqu %%xmm8, 0x100(" f ")\n\t" "movdqu %%xmm9, 0x120(" f ")\n\t" \
	"movdqu %%xmm10, 0x140(" f ")\n\t" "movdqu %%xmm11, 0x160(" f ")\n\t" \
	"movdqu %%xmm12, 0x180(" f ")\n\t" "movdqu %%xmm13, 0x1a0(" f ")\n\t" \
	"movdqu %%xmm14, 0x1c0(" f ")\n\t" "movdqu %%xmm15, 0x1e0(" f ")\n\t"
#define LOAD_YMM(f)							\
	"vmovdqu 0x000(" f "), %%ymm0\n\t" "vmovdqu 0x020(" f "), %%ymm1\n\t" \
	"vmovdqu 0x040(" f "), %%ymm2\n\t" "vmovdqu 0x060(" f "), %%ymm3\n\t" \
	"vmovdqu 0x080(" f "), %%ymm4\n\t" "vmovdqu 0x0a0(" f "), %%ymm5\n\t" \
	"vmovdqu 0x0c0(" f "), %%ymm6\n\t" "vmovdqu 0x0e0(" f "), %%ymm7\n\t" \
	"vmovdqu 0x100(" f "), %%ymm8\n\t" "vmovdqu 0x120(" f "), %%ymm9\n\t" \
	"vmovdqu 0x140(" f "), %%ymm10\n\t" "vmovdqu 0x160(" f "), %%ymm11\n\t" \
	"vmovdqu 0x180(" f "), %%ymm12\n\t" "vmovdqu 0x1a0(" f "), %%ymm13\n\t" \
	"vmovdqu 0x1c0(" f "), %%ymm14\n\t" "vmovdqu 0x1e0(" f "), %%ymm15\n\t"
#define STORE_YMM(f)							\
	"vmovdqu %%ymm0, 0x000(" f ")\n\t" "vmovdqu %%ymm1, 0x020(" f ")\n\t" \
	"vmovdqu %%ymm2, 0x040(" f ")\n\t" "vmovdqu %%ymm3, 0x060(" f ")\n\t" \
	"vmovdqu %%ymm4, 0x080(" f ")\n\t" "vmovdqu %%ymm5, 0x0a0(" f ")\n\t" \
	"vmovdqu %%ymm6, 0x0c0(" f ")\n\t" "vmovdqu %%ymm7, 0x0e0(" f ")\n\t" \
	"vmovdqu %%ymm8, 0x100(" f ")\n\t" "vmovdqu %%ymm9, 0x120(" f ")\n\t" \
	"vmovdqu %%ymm10, 0x140(" f ")\n\t" "vmovdqu %%ymm11, 0x160(" f ")\n\t" \
	"vmovdqu %%ymm12, 0x180(" f ")\n\t" "vmovdqu %%ymm13, 0x1a0(" f ")\n\t" \
	"vmovdqu %%ymm14, 0x1c0(" f ")\n\t" "vmovdqu %%ymm15, 0x1e0(" f ")\n\t"
#define LOAD_CTL(f)	"ldmxcsr 0x200(" f ")\n\t" "fldcw 0x204(" f ")\n\t"
#define STORE_CTL(f)	"stmxcsr 0x200(" f ")\n\t" "fnstcw 0x204(" f ")\n\t"
#define FPU_CLOBBERS							\
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",	\
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

/*
 * Host side: load in, make the syscall nr(a0, a1, a2) with the registers
 * held, store them into out; the syscall's result.
 */
static long held_syscall(const struct fpu_regs *in, struct fpu_regs *out,
			 bool avx, long nr, long a0, long a1, long a2)
{
	register long r10 asm("r10") = 0;
	long ret = nr;

	if (avx)
		asm volatile(LOAD_YMM("%[in]") LOAD_CTL("%[in]")
			     "syscall\n\t"
			     STORE_YMM("%[out]") STORE_CTL("%[out]")
			     : "+a"(ret), "+r"(r10)
			     : [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1),
			       "d"(a2)
			     : "rcx", "r11", "memory", FPU_CLOBBERS);
	else
		asm volatile(LOAD_XMM("%[in]") LOAD_CTL("%[in]")
			     "syscall\n\t"
			     STORE_XMM("%[out]") STORE_CTL("%[out]")
			     : "+a"(ret), "+r"(r10)
			     : [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1),
			       "d"(a2)
			     : "rcx", "r11", "memory", FPU_CLOBBERS);
	return ret;
}

/* ---------------------------------------------------------------------
 * The guest
 */

static inline void guest_write_cr4(uint64_t v)
{
	asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline uint64_t guest_xgetbv(void)
{
	uint32_t lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return lo | (uint64_t)hi << 32;
}

/* AVX if the guest's CPUID offers it: CR4.OSXSAVE, XCR0 x87|SSE|YMM. */
static bool guest_enable_avx(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26)) || !(c & (1u << 28)))	/* XSAVE, AVX */
		return false;
	guest_cpuid(0xd, 0, &a, &b, &c, &d);
	if (!(a & XCR0_YMM))
		return false;
	guest_write_cr4(guest_read_cr4() | X86_CR4_OSXSAVE);
	asm volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
	return true;
}

static struct fpu_regs guest_in, guest_out;

/*
 * Each round: a new pattern in all registers and the control words, held
 * across EXITS port writes of the round number (exits to userspace), then
 * compared. GUEST_SYNC reports AVX first.
 */
static void guest_hold_registers(void)
{
	bool avx = guest_enable_avx();
	uint32_t round, i, n;

	GUEST_SYNC(avx);
	for (round = 0; round < ROUNDS; round++) {
		fill(&guest_in, round, avx);
		guest_in.mxcsr = GUEST_MXCSR;
		guest_in.fcw = GUEST_FCW;
		for (i = 0; i < sizeof(guest_out); i++)	/* no libc here */
			((uint8_t *)&guest_out)[i] = 0;
#define GUEST_EXITS(LOAD, STORE)					\
		asm volatile(LOAD("%[in]") LOAD_CTL("%[in]")		\
			     "mov %[n], %%ecx\n"			\
			     "1:\n\t"					\
			     "outl %%eax, %%dx\n\t"			\
			     "dec %%ecx\n\t"				\
			     "jnz 1b\n\t"				\
			     STORE("%[out]") STORE_CTL("%[out]")	\
			     : : [in] "r"(&guest_in), [out] "r"(&guest_out), \
			       "a"(round), [n] "i"(EXITS),		\
			       "d"(FPU_PORT)				\
			     : "rcx", "memory", FPU_CLOBBERS)
		if (avx)
			GUEST_EXITS(LOAD_YMM, STORE_YMM);
		else
			GUEST_EXITS(LOAD_XMM, STORE_XMM);
		for (n = 0, i = 0; i < sizeof(guest_in.r); i++)
			n += guest_in.r[i / 32][i % 32] !=
			     guest_out.r[i / 32][i % 32];
		if (n)	/* the round, the bytes that changed */
			__guest_abort(__FILE__, __LINE__, "registers changed",
				      2, round, n);
		GUEST_ASSERT_EQ(guest_out.mxcsr, GUEST_MXCSR);
		GUEST_ASSERT_EQ(guest_out.fcw, GUEST_FCW);
	}
	GUEST_DONE();
}

/* ---------------------------------------------------------------------
 * The host's disturbers
 */

static bool host_has_avx(void)
{
	unsigned int a, b, c, d, lo, hi;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 27)) || !(c & (1u << 28)))	/* OSXSAVE, AVX */
		return false;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

static void pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

struct yielder {
	pthread_t thread;
	atomic_bool stop;
	bool avx;
	long checks, bad;
};

/* Same CPU as the vCPU: its own registers across sched_yield()s. */
static void *yielder_main(void *arg)
{
	struct yielder *y = arg;
	struct fpu_regs in, out;
	uint32_t seed = 1000;

	pin_to_cpu0();
	while (!atomic_load(&y->stop)) {
		fill(&in, seed++, y->avx);
		in.mxcsr = HOST_MXCSR;
		in.fcw = HOST_FCW;
		memset(&out, 0, sizeof(out));
		held_syscall(&in, &out, y->avx, SYS_sched_yield, 0, 0, 0);
		y->checks++;
		y->bad += diff(&in, &out, y->avx) != 0;
	}
	return NULL;
}

static atomic_long signals;

/* A handler that uses the registers: sigreturn must give them back. */
static void scribble(int sig)
{
	asm volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
		     "pxor %%xmm1, %%xmm1\n\t"
		     "movdqa %%xmm0, %%xmm7\n\t"
		     "movdqa %%xmm0, %%xmm15\n\t"
		     "ldmxcsr %0\n\t"
		     : : "m"((uint32_t){ 0x1f80 }) : "xmm0", "xmm1", "xmm7", "xmm15");
	atomic_fetch_add(&signals, 1);
}

/* ---------------------------------------------------------------------
 * Tests
 */

GUEST_FIXTURE(fpu)

/* The guest's registers in a VHM_GET_XSAVE image at a PIO exit of round. */
static int xsave_diff(int fd, uint32_t round, bool avx)
{
	static struct vhm_xsave x;
	struct fpu_regs want, got = {};
	const uint8_t *b = (const uint8_t *)x.region;
	unsigned int a, ymm_off, c, d, i;

	if (ioctl(fd, VHM_GET_XSAVE, &x))
		return -1;
	fill(&want, round, avx);
	want.mxcsr = GUEST_MXCSR;
	want.fcw = GUEST_FCW;
	__cpuid_count(0xd, 2, a, ymm_off, c, d);
	for (i = 0; i < NR_REGS; i++) {
		memcpy(got.r[i], b + XSAVE_XMM + 16 * i, 16);
		if (avx && (x.region[XSAVE_BV / 4] & XCR0_YMM))
			memcpy(got.r[i] + 16, b + ymm_off + 16 * i, 16);
	}
	memcpy(&got.mxcsr, b + XSAVE_MXCSR, 4);
	memcpy(&got.fcw, b + XSAVE_FCW, 2);
	return diff(&want, &got, avx);
}

/*
 * The guest holds its registers across ROUNDS * EXITS exits; around every
 * VHM_RUN the VMM thread holds its own (the ioctl made with them loaded);
 * a thread on the same CPU yields with its own; a 1 ms timer signal
 * scribbles on XMM. Nobody loses a register; VHM_GET_XSAVE shows the
 * guest's.
 */
TEST_F(fpu, guest_and_host_keep_their_registers)
{
	struct guest_vcpu *v = &self->vcpu;
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct fpu_regs in, out;
	struct yielder y = {};
	bool guest_avx, host_avx = host_has_avx();
	long exits = 0, host_bad = 0, xsave_bad = 0, intr = 0;
	uint32_t seed = 0;
	struct ucall uc;
	long r;

	RETURN_IF_SKIPPED();
	pin_to_cpu0();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_hold_registers, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	guest_avx = uc.args[0];
	TH_LOG("AVX: guest %d, host %d", guest_avx, host_avx);
	y.avx = host_avx;
	ASSERT_EQ(0, pthread_create(&y.thread, NULL, yielder_main, &y));
	signal(SIGALRM, scribble);
	setitimer(ITIMER_REAL, &it, NULL);
	for (;;) {
		fill(&in, seed++, host_avx);
		in.mxcsr = HOST_MXCSR;
		in.fcw = HOST_FCW;
		memset(&out, 0, sizeof(out));
		r = held_syscall(&in, &out, host_avx, SYS_ioctl, v->raw.fd,
				 VHM_RUN, 0);
		host_bad += diff(&in, &out, host_avx) != 0;
		if (r == -EINTR) {
			intr++;
			continue;
		}
		ASSERT_EQ(0, r);
		if (v->run->exit_reason != VHM_EXIT_IO ||
		    v->run->io.port != FPU_PORT)
			break;
		/* Every few exits: the image holds the guest's registers. */
		if (!(exits++ % 5))
			xsave_bad += xsave_diff(v->raw.fd,
						*(uint32_t *)vhm_io_data(&v->raw),
						guest_avx) != 0;
	}
	setitimer(ITIMER_REAL, &(struct itimerval){}, NULL);
	signal(SIGALRM, SIG_DFL);
	atomic_store(&y.stop, true);
	pthread_join(y.thread, NULL);
	v->run_ret = 0;
	guest_ucall_of_exit(v, &uc);
	EXPECT_EQ(UCALL_DONE, uc.cmd)
		TH_LOG("guest: %s (%llu, %llu) at line %llu", uc.msg,
		       (unsigned long long)uc.args[0],
		       (unsigned long long)uc.args[1],
		       (unsigned long long)uc.line);
	EXPECT_EQ(ROUNDS * EXITS, exits);
	EXPECT_EQ(0, host_bad) TH_LOG("VHM_RUNs that changed the VMM's registers");
	EXPECT_EQ(0, xsave_bad) TH_LOG("VHM_GET_XSAVE images without the guest's registers");
	EXPECT_EQ(0, y.bad) TH_LOG("of %ld yields on the vCPU's CPU", y.checks);
	TH_LOG("%ld exits, %ld signals (%ld interrupted runs), %ld yields",
	       exits, (long)atomic_load(&signals), intr, y.checks);
}

/*
 * VHM_SET_XSAVE's values reach the guest's registers (XMM3, MXCSR, FCW)
 * and its MXCSR comes back in VHM_GET_XSAVE (the guest's ucall code may
 * use XMM registers); the reset values are FCW 0x37f and MXCSR 0x1f80; an
 * MXCSR with reserved bits is refused.
 */
static void guest_report_sse(void)
{
	uint64_t lo, hi;
	uint32_t mxcsr;
	uint16_t fcw;

	asm volatile("movq %%xmm3, %0\n\t"
		     "movhlps %%xmm3, %%xmm3\n\t"
		     "movq %%xmm3, %1\n\t"
		     "stmxcsr %2\n\t"
		     "fnstcw %3"
		     : "=r"(lo), "=r"(hi), "=m"(mxcsr), "=m"(fcw) : : "xmm3");
	GUEST_SYNC_ARGS(lo, hi, mxcsr, fcw);
	GUEST_DONE();
}

TEST_F(fpu, set_xsave_reaches_the_guest)
{
	struct guest_vcpu *v = &self->vcpu;
	static struct vhm_xsave x;
	uint8_t *b = (uint8_t *)x.region;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_XSAVE, &x);
	EXPECT_EQ(0x37f, *(uint16_t *)(b + XSAVE_FCW));	/* reset values */
	EXPECT_EQ(0x1f80, *(uint32_t *)(b + XSAVE_MXCSR));
	*(uint64_t *)(b + XSAVE_XMM + 3 * 16) = 0x0123456789abcdefull;
	*(uint64_t *)(b + XSAVE_XMM + 3 * 16 + 8) = 0xfedcba9876543210ull;
	*(uint32_t *)(b + XSAVE_MXCSR) = GUEST_MXCSR;
	*(uint16_t *)(b + XSAVE_FCW) = GUEST_FCW;
	x.region[XSAVE_BV / 4] |= 3;			/* x87, SSE */
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_SET_XSAVE, &x);
	*(uint32_t *)(b + XSAVE_MXCSR) = 1u << 31;	/* reserved */
	EXPECT_EQ(-1, ioctl(v->raw.fd, VHM_SET_XSAVE, &x));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_report_sse, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(0x0123456789abcdefull, uc.args[0]);
	EXPECT_EQ(0xfedcba9876543210ull, uc.args[1]);
	EXPECT_EQ(GUEST_MXCSR, uc.args[2]);
	EXPECT_EQ(GUEST_FCW, uc.args[3]);
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_XSAVE, &x);
	EXPECT_EQ(GUEST_MXCSR, *(uint32_t *)(b + XSAVE_MXCSR));
	ASSERT_GUEST_DONE(v);
}

TEST_HARNESS_MAIN
