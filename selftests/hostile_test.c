// SPDX-License-Identifier: GPL-2.0
/*
 * Guests that attack the host (issue 13): exceptions whose delivery
 * raises them again (#AC, #DB: CVE-2015-5307, CVE-2015-8104), cache
 * flushes and performance counters (WBINVD, RDPMC), hypercalls from guest
 * user mode. The host must stay in control: the vCPU thread can be
 * interrupted, the guest gets the architectural answer. Guests are C
 * functions (include/guest.h). Built with the guest code flags.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define X86_CR0_AM		(1ull << 18)
#define X86_EFLAGS_TF		(1ull << 8)
#define X86_EFLAGS_AC		(1ull << 18)
#define DR6_BS			(1ull << 14)
/* L0, breakpoint 0 on data writes (R/W0 01), 8 bytes (LEN0 10). */
#define DR7_WRITE8_0		(0x400 | 1ull | 1ull << 16 | 2ull << 18)
#define TSS_IST1		(GUEST_TSS + 0x24)
#define IDT_IST_SHIFT		32	/* in a gate's low quadword */

GUEST_FIXTURE(hostile)

static uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t)hi << 32;
}

static void guest_write_cr0(uint64_t v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static uint64_t guest_read_dr6(void)
{
	uint64_t v;

	asm volatile("mov %%dr6, %0" : "=r"(v));
	return v;
}

static void guest_write_dr(unsigned int n, uint64_t v)
{
	switch (n) {
	case 0:
		asm volatile("mov %0, %%dr0" : : "r"(v) : "memory");
		break;
	case 6:
		asm volatile("mov %0, %%dr6" : : "r"(v) : "memory");
		break;
	case 7:
		asm volatile("mov %0, %%dr7" : : "r"(v) : "memory");
		break;
	}
}

static void on_alarm(int sig)
{
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---------------------------------------------------------------------
 * #AC: intercepted, reflected with error code 0
 */

static volatile uint64_t ac_count, ac_err, ac_cs;
static uint8_t ac_buf[16] __attribute__((aligned(16)));

static void ac_handler(struct ex_regs *regs)
{
	ac_count++;
	ac_err = regs->error_code;
	ac_cs = regs->cs;
	/* The load runs again, now without alignment checking. */
	regs->rflags &= ~X86_EFLAGS_AC;
}

static void guest_ac_in_user_mode(void)
{
	uint64_t cr0 = guest_read_cr0();
	uint32_t v;

	guest_set_handler(17, ac_handler);
	guest_write_cr0(cr0 | X86_CR0_AM);
	guest_enter_user();
	GUEST_ASSERT_EQ(guest_cpl(), 3);
	asm volatile("pushfq\n\t"
		     "orq %[ac], (%%rsp)\n\t"
		     "popfq\n\t"
		     "movl (%[p]), %[v]\n\t"
		     "pushfq\n\t"
		     "andq %[noac], (%%rsp)\n\t"
		     "popfq"
		     : [v] "=r"(v)
		     : [p] "r"(ac_buf + 1), [ac] "i"(X86_EFLAGS_AC),
		       [noac] "i"(~X86_EFLAGS_AC)
		     : "cc", "memory");
	guest_leave_user();
	guest_write_cr0(cr0);
	GUEST_SYNC_ARGS(ac_count, ac_err, ac_cs & 3, guest_cpl());
	GUEST_DONE();
}

/*
 * A misaligned load at CPL 3 with CR0.AM and RFLAGS.AC: the #AC (which
 * vhm intercepts) reaches the guest's handler, error code 0, from CPL 3.
 */
TEST_F(hostile, ac_in_user_mode_reaches_guest)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_ac_in_user_mode, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[3]);	/* back at CPL 0 */
	if (!uc.args[0])
		SKIP(return,
		     "the test host's CPU raised no #AC: it does not check alignment (QEMU's TCG does not)");
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	EXPECT_EQ(3, uc.args[2]);
	ASSERT_GUEST_DONE(v);
}

/* ---------------------------------------------------------------------
 * #DB: intercepted, DR6 the guest's, loops interruptible
 */

static volatile uint64_t db_count, db_dr6, db_rip;

static void db_handler(struct ex_regs *regs)
{
	db_count++;
	db_dr6 = guest_read_dr6();
	db_rip = regs->rip;
	regs->rflags &= ~X86_EFLAGS_TF;
}

static void guest_single_step(uint64_t icebp)
{
	uint64_t after_nop, after_int1;

	guest_set_handler(1, db_handler);
	guest_write_dr(6, 0);
	/* POPF sets TF: the trap comes after the next instruction. */
	asm volatile("pushfq\n\t"
		     "orq %[tf], (%%rsp)\n\t"
		     "popfq\n\t"
		     "nop\n"
		     "1:\n\t"
		     "leaq 1b(%%rip), %[l]"
		     : [l] "=r"(after_nop) : [tf] "i"(X86_EFLAGS_TF)
		     : "cc", "memory");
	GUEST_SYNC_ARGS(db_count, db_dr6 & DR6_BS, db_rip == after_nop,
			db_rip);
	if (!icebp)
		GUEST_DONE();
	/* ICEBP (INT1): a #DB trap past the instruction. */
	asm volatile(".byte 0xf1\n"
		     "2:\n\t"
		     "leaq 2b(%%rip), %[l]"
		     : [l] "=r"(after_int1) : : "memory");
	GUEST_SYNC_ARGS(db_count, db_rip == after_int1, db_rip, 0);
	GUEST_DONE();
}

static bool host_is_intel(void)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	return b == 0x756e6547;		/* "Genu" */
}

/*
 * The guest single-steps itself and executes ICEBP: each #DB (which vhm
 * intercepts) reaches its handler at the right RIP, and the single step
 * shows in the guest's DR6 (on VMX, DR6 comes from the exit
 * qualification: the CPU does not write it when the #DB exits). ICEBP
 * only on Intel: VMX reports it apart (a privileged software exception),
 * and QEMU's TCG (the AMD test host) may hand it to its own debugger.
 */
TEST_F(hostile, db_reflected_with_guest_dr6)
{
	struct guest_vcpu *v = &self->vcpu;
	bool icebp = host_is_intel();
	struct vhm_debugregs d;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_single_step, icebp));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(DR6_BS, uc.args[1]);
	EXPECT_EQ(1, uc.args[2]) TH_LOG("#DB at rip %#llx",
					(unsigned long long)uc.args[3]);
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_DEBUGREGS, &d);
	EXPECT_TRUE(d.dr6 & DR6_BS);
	if (!icebp) {
		TH_LOG("ICEBP not tried: not an Intel host");
		ASSERT_GUEST_DONE(v);
		return;
	}
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]) TH_LOG("#DB at rip %#llx",
					(unsigned long long)uc.args[2]);
	ASSERT_GUEST_DONE(v);
}

static uint8_t db_ist[4096] __attribute__((aligned(16)));

static void db_count_handler(struct ex_regs *regs)
{
	db_count++;
}

static void guest_db_loop(void)
{
	volatile uint64_t *idt = (volatile uint64_t *)GUEST_IDT;
	uint64_t top = (uintptr_t)db_ist + sizeof(db_ist);

	guest_set_handler(1, db_count_handler);
	/* Every #DB frame at the same place: IST1, SS at top - 8. */
	*(volatile uint64_t *)TSS_IST1 = top;
	idt[2 * 1] |= 1ull << IDT_IST_SHIFT;
	guest_write_dr(0, top - 8);
	guest_write_dr(7, DR7_WRITE8_0);
	GUEST_SYNC(0);
	/*
	 * The write hits the breakpoint; delivering its #DB writes the frame
	 * over the breakpoint again, and so on forever. Where data
	 * breakpoints do not fire (QEMU's TCG does not arm them in a guest),
	 * the guest spins instead.
	 */
	*(volatile uint64_t *)(top - 8) = 0;
	for (;;)
		asm volatile("pause");
}

/*
 * A #DB whose delivery raises #DB again (CVE-2015-8104) never leaves the
 * CPU to the host unless vhm intercepts #DB: a signal must still end
 * VHM_RUN within a second.
 */
TEST_F(hostile, db_loop_is_interruptible)
{
	struct guest_vcpu *v = &self->vcpu;
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct timespec t0;
	struct vhm_regs r;
	double took;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_VHM(guest_vcpu_start_long(v, guest_db_loop, 0));
	ASSERT_GUEST_SYNC(v, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, guest_run(v));
	took = seconds_since(&t0);
	EXPECT_EQ(VHM_EXIT_INTR, v->run->exit_reason);
	EXPECT_LT(took, 1.2) TH_LOG("VHM_RUN returned after %.3f s", took);
	/* The vCPU is intact: its state can be read, it can run again. */
	ASSERT_VHM(vhm_get_regs(&v->raw, &r));
	it.it_value.tv_usec = 50000;
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, guest_run(v));
	TH_LOG("#DB handler ran %llu times",
	       (unsigned long long)*guest_var(&self->vm, db_count));
}

/* ---------------------------------------------------------------------
 * CPU-time limits: a guest that never exits on its own must not hold off
 * the host's CPU-time timers. They fire through task work on the thread's
 * way back to user space, so VHM_RUN goes there and restarts, unseen by
 * the VMM (docs/API.md, VHM_RUN).
 */

static volatile sig_atomic_t prof_fired, real_fired;
static struct vhm_run *volatile spinning_run;

/* A VMM's signal handler: the VHM_RUN it interrupted returns EINTR. */
static void on_cpu_timer(int sig)
{
	if (sig == SIGPROF)
		prof_fired = 1;
	else
		real_fired = 1;
	if (spinning_run)
		spinning_run->immediate_exit = 1;
}

static void guest_spin(void)
{
	GUEST_SYNC(0);
	for (;;)
		asm volatile("" : : : "memory");
}

/*
 * ITIMER_PROF after 0.2 s of the process's CPU time must fire while the
 * guest spins; its handler sets immediate_exit, so VHM_RUN returns EINTR.
 * A real-time timer of 20 s is the backstop (before the fix it ended
 * VHM_RUN: the CPU-time timer never fired).
 */
TEST_F(hostile, cpu_time_timer_fires_under_spinning_guest)
{
	struct itimerval prof = { .it_value = { .tv_usec = 200000 } };
	struct itimerval real = { .it_value = { .tv_sec = 20 } };
	struct itimerval off = { 0 };
	struct sigaction sa = { .sa_handler = on_cpu_timer };
	struct guest_vcpu *v = &self->vcpu;
	struct timespec t0;
	double took;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, sigaction(SIGPROF, &sa, NULL));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_VHM(guest_vcpu_start_long(v, guest_spin, 0));
	ASSERT_GUEST_SYNC(v, 0);
	prof_fired = real_fired = 0;
	spinning_run = v->run;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &real, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_PROF, &prof, NULL));
	EXPECT_EQ(-EINTR, guest_run(v));
	took = seconds_since(&t0);
	setitimer(ITIMER_PROF, &off, NULL);
	setitimer(ITIMER_REAL, &off, NULL);
	spinning_run = NULL;
	v->run->immediate_exit = 0;
	EXPECT_EQ(VHM_EXIT_INTR, v->run->exit_reason);
	EXPECT_TRUE(prof_fired)
		TH_LOG("the CPU-time timer never fired while the guest spun; the real-time backstop ended VHM_RUN after %.1f s",
		       took);
	EXPECT_FALSE(real_fired);
	TH_LOG("SIGPROF after %.2f s of wall time", took);
}

/* The child of rlimit_cpu_ends_spinning_guest: its own VM, spinning. */
static int spin_under_rlimit_cpu(int sys)
{
	struct rlimit cpu = { .rlim_cur = 1, .rlim_max = 2 };
	struct rlimit core = { 0 };
	struct guest_vcpu v = { .raw.fd = -1 };
	struct guest_vm vm = { .fd = -1 };
	struct ucall uc;

	if (setrlimit(RLIMIT_CORE, &core) || setrlimit(RLIMIT_CPU, &cpu))
		return 10;
	if (guest_vm_create(&vm, sys) || guest_vcpu_create(&vm, 0, &v) ||
	    guest_vcpu_start_long(&v, guest_spin, 0))
		return 11;
	if (get_ucall(&v, &uc) != UCALL_SYNC)
		return 12;
	guest_run(&v);
	return 13;	/* VHM_RUN returned: the limit's signal did not kill */
}

/*
 * RLIMIT_CPU of 1 s (SIGXCPU, default action: the process ends; SIGKILL
 * at 2 s) must end a VMM whose guest spins without exits, as it ends any
 * process. A guest must not buy unlimited CPU time past the host's limits.
 */
TEST_F(hostile, rlimit_cpu_ends_spinning_guest)
{
	struct timespec t0;
	int status = 0;
	pid_t pid, r;

	RETURN_IF_SKIPPED();
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(spin_under_rlimit_cpu(self->sys));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!(r = waitpid(pid, &status, WNOHANG)) &&
	       seconds_since(&t0) < 60)
		usleep(50000);
	if (!r) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_NE(0, r)
		TH_LOG("the VMM ran its spinning guest for 60 s of wall time past a 1 s RLIMIT_CPU");
	ASSERT_TRUE(WIFSIGNALED(status))
		TH_LOG("the child exited with status %d (10-12: setup failed, 13: VHM_RUN returned)",
		       WEXITSTATUS(status));
	EXPECT_TRUE(WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL)
		TH_LOG("killed by signal %d", WTERMSIG(status));
	TH_LOG("the limit's signal %d after %.1f s of wall time",
	       WTERMSIG(status), seconds_since(&t0));
}

/* ---------------------------------------------------------------------
 * WBINVD and RDPMC
 */

#define WBINVD_LOOPS	200

static void guest_wbinvd(void)
{
	uint64_t t0, t1, t2, t3;
	uint32_t a, b, c, d;
	int i;

	t0 = guest_rdtsc();
	for (i = 0; i < WBINVD_LOOPS; i++)
		asm volatile("wbinvd" : : : "memory");
	t1 = guest_rdtsc();
	for (i = 0; i < WBINVD_LOOPS; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	t2 = guest_rdtsc();
	for (i = 0; i < WBINVD_LOOPS; i++)
		asm volatile("nop" : : : "memory");
	t3 = guest_rdtsc();
	/* WBNOINVD (F3 0F 09, WBINVD where unknown): skipped whole too. */
	for (i = 0; i < WBINVD_LOOPS; i++)
		asm volatile(".byte 0xf3, 0x0f, 0x09" : : : "memory");
	GUEST_SYNC_ARGS(t1 - t0, t2 - t1, t3 - t2, i);
	GUEST_DONE();
}

/*
 * WBINVD exits and is skipped (no host cache flush). The exit is seen in
 * the time it takes: about a CPUID's (which always exits), far above a
 * NOP's. (On a real CPU an unintercepted WBINVD flushes the caches and
 * may be slower still; on the test hosts' emulators it costs a NOP.)
 */
TEST_F(hostile, wbinvd_exits_and_is_skipped)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_wbinvd, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	TH_LOG("TSC cycles for %d: WBINVD %llu, CPUID %llu, NOP %llu",
	       WBINVD_LOOPS, (unsigned long long)uc.args[0],
	       (unsigned long long)uc.args[1], (unsigned long long)uc.args[2]);
	EXPECT_EQ(WBINVD_LOOPS, uc.args[3]);
	EXPECT_GE(uc.args[0] * 4, uc.args[1]);
	EXPECT_GT(uc.args[0], uc.args[2] * 4);
	ASSERT_GUEST_DONE(v);
}

static volatile uint64_t gp_count, gp_err;

static void gp_skip2_handler(struct ex_regs *regs)
{
	gp_count++;
	gp_err = regs->error_code;
	regs->rip += 2;		/* rdpmc */
}

static uint64_t guest_rdpmc(uint32_t index)
{
	uint32_t lo = 0, hi = 0;

	asm volatile("rdpmc" : "+a"(lo), "+d"(hi) : "c"(index));
	return lo | (uint64_t)hi << 32;
}

static void guest_rdpmc_gp(void)
{
	guest_set_handler(13, gp_skip2_handler);
	guest_rdpmc(0);			/* a general-purpose counter */
	guest_rdpmc(1u << 30);		/* Intel's fixed counter 0 */
	GUEST_SYNC_ARGS(gp_count, gp_err, 0, 0);
	GUEST_DONE();
}

/* vhm hides the PMU: RDPMC of any counter is #GP(0) in the guest. */
TEST_F(hostile, rdpmc_is_gp)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_rdpmc_gp, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	ASSERT_GUEST_DONE(v);
}

/* ---------------------------------------------------------------------
 * Hypercalls from guest user mode
 */

static volatile uint64_t ud_count, ud_cs;

static void ud_skip3_handler(struct ex_regs *regs)
{
	ud_count++;
	ud_cs = regs->cs;
	regs->rip += 3;		/* vmmcall, vmcall */
}

static void guest_user_hypercalls(void)
{
	uint64_t ret;

	guest_set_handler(6, ud_skip3_handler);
	guest_enter_user();
	guest_vmmcall(0x1234, 1, 2, 3, 4, 5, 6);
	asm volatile("vmcall" : : "a"(0x1235ull) : "memory");
	guest_leave_user();
	GUEST_SYNC_ARGS(ud_count, ud_cs & 3, guest_cpl(), 0);
	ret = guest_vmmcall(0x4321, 1, 2, 3, 4, 5, 6);
	GUEST_SYNC(ret);
	GUEST_DONE();
}

/*
 * VMMCALL and VMCALL at CPL 3 are #UD in the guest and never reach
 * userspace; at CPL 0 VMMCALL still is VHM_EXIT_HYPERCALL, with cpl 0.
 */
TEST_F(hostile, user_mode_hypercall_is_ud)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_run *run = v->run;
	struct ucall uc;
	char why[512];
	int i;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_user_hypercalls, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(3, uc.args[1]);
	EXPECT_EQ(0, uc.args[2]);
	ASSERT_VHM(guest_run(v));
	uc.cmd = UCALL_NONE;
	ASSERT_EQ(VHM_EXIT_HYPERCALL, run->exit_reason)
		TH_LOG("%s", guest_describe(v, &uc, why, sizeof(why)));
	EXPECT_EQ(0x4321, run->hypercall.nr);
	for (i = 0; i < 6; i++)
		EXPECT_EQ(i + 1, run->hypercall.args[i]);
	EXPECT_EQ(0, run->hypercall.cpl);
	run->hypercall.ret = 0x77;
	ASSERT_GUEST_SYNC(v, 0x77);
	ASSERT_GUEST_DONE(v);
}

TEST_HARNESS_MAIN
