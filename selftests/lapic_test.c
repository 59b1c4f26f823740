// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel local APIC (VHM_CREATE_LAPIC), seen by C guests
 * (include/guest.h): its registers after reset, the one-shot and periodic
 * timer ending HLTs in the kernel, self-IPIs through the ICR, the task
 * priority holding a lower-priority vector back, a vector that waits for
 * IF weighed again when a higher one arrives or the TPR rises (the CPU
 * acknowledges only as it delivers), a signal ending a HLT
 * the APIC sleeps in, x2APIC mode's MSRs, the TSC-deadline timer, the
 * mode VHM_SET_SREGS sets with its IDs, CR8 as the TPR, the ESR's errors
 * and the error interrupt, disabling and re-enabling the APIC through
 * IA32_APIC_BASE, and the ioctl's argument checks.
 *
 * Built with the guest code flags (Makefile: GUEST_CFLAGS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define APIC_BASE	0xfee00000ull
#define APIC_ID		0x20
#define APIC_LVR	0x30
#define APIC_TPR	0x80
#define APIC_PPR	0xa0
#define APIC_EOI	0xb0
#define APIC_DFR	0xe0
#define APIC_SVR	0xf0
#define APIC_ISR	0x100
#define APIC_IRR	0x200
#define APIC_ICR	0x300
#define APIC_ICR2	0x310
#define APIC_LVTT	0x320
#define APIC_LVT0	0x350
#define APIC_TMICT	0x380
#define APIC_TMCCT	0x390
#define APIC_TDCR	0x3e0

#define SVR_ENABLE	0x100
#define LVT_MASKED	0x10000
#define LVT_PERIODIC	0x20000
#define ICR_SELF	0x40000
#define TDCR_BY_1	0xb

#define TIMER_VECTOR	0x40
#define IPI_VECTOR	0x42
#define LOW_VECTOR	0x45	/* priority class 4 */

GUEST_FIXTURE_LAPIC(lapic_test, VHM_CAP_LAPIC, 0)

/* ---------------------------------------------------------------------
 * Guest side.
 */

static volatile uint64_t irq_count, irq_vector, irq_ppr;

static uint32_t apic_read(uint32_t reg)
{
	return guest_readl(APIC_BASE + reg);
}

static void apic_write(uint32_t reg, uint32_t v)
{
	guest_writel(APIC_BASE + reg, v);
}

static void irq_handler(struct ex_regs *regs)
{
	irq_count++;
	irq_vector = regs->vector;
	irq_ppr = apic_read(APIC_PPR);
	apic_write(APIC_EOI, 0);
}

static void guest_apic_enable(void)
{
	guest_set_handler(TIMER_VECTOR, irq_handler);
	guest_set_handler(IPI_VECTOR, irq_handler);
	guest_set_handler(LOW_VECTOR, irq_handler);
	apic_write(APIC_SVR, SVR_ENABLE | 0xff);
	apic_write(APIC_TDCR, TDCR_BY_1);
}

static void guest_sti_hlt(void)
{
	asm volatile("sti; hlt; cli" : : : "memory");
}

static void guest_sti_nop(void)
{
	asm volatile("sti; nop; nop; cli" : : : "memory");
}

static void guest_reset_state(void)
{
	GUEST_ASSERT_EQ(0, apic_read(APIC_ID));
	GUEST_ASSERT_EQ(0x50014, apic_read(APIC_LVR));
	GUEST_ASSERT_EQ(0xff, apic_read(APIC_SVR));
	GUEST_ASSERT_EQ(0xffffffff, apic_read(APIC_DFR));
	GUEST_ASSERT_EQ(LVT_MASKED, apic_read(APIC_LVTT));
	GUEST_ASSERT_EQ(LVT_MASKED, apic_read(APIC_LVT0));
	GUEST_ASSERT_EQ(0, apic_read(APIC_TPR));
	GUEST_ASSERT_EQ(0, apic_read(APIC_TMCCT));
	/* Software-disabled: the LVTs stay masked. */
	apic_write(APIC_LVTT, TIMER_VECTOR);
	GUEST_ASSERT_EQ(LVT_MASKED | TIMER_VECTOR, apic_read(APIC_LVTT));
	apic_write(APIC_SVR, SVR_ENABLE | 0xff);
	apic_write(APIC_LVTT, TIMER_VECTOR);
	GUEST_ASSERT_EQ(TIMER_VECTOR, apic_read(APIC_LVTT));
	apic_write(APIC_TPR, 0x123);
	GUEST_ASSERT_EQ(0x23, apic_read(APIC_TPR));
	GUEST_DONE();
}

/* A 1 ms one-shot: sti; hlt sleeps in the kernel until it fires. */
static void guest_oneshot(void)
{
	int i;

	guest_apic_enable();
	apic_write(APIC_LVTT, TIMER_VECTOR);
	apic_write(APIC_TMICT, 1000000);
	GUEST_ASSERT(apic_read(APIC_TMCCT) <= 1000000);
	for (i = 0; i < 1000 && !irq_count; i++)
		guest_sti_hlt();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(TIMER_VECTOR, irq_vector);
	/* In the handler, before EOI: PPR is the vector's class. */
	GUEST_ASSERT_EQ(TIMER_VECTOR & 0xf0, irq_ppr);
	GUEST_ASSERT_EQ(0, apic_read(APIC_TMCCT));
	GUEST_ASSERT_EQ(0, apic_read(APIC_ISR + 0x20));
	GUEST_ASSERT_EQ(0, apic_read(APIC_PPR));
	GUEST_DONE();
}

/*
 * The periodic timer's handler masks the LVT at the fifth interrupt: a
 * guest whose handler takes longer than the period (two APIC exits each,
 * in Bochs on top of kvm_intel: over 200 us) would otherwise take the next
 * interrupt at every IRET and never get back to its loop, as on hardware.
 */
static void periodic_handler(struct ex_regs *regs)
{
	irq_count++;
	if (irq_count >= 5)
		apic_write(APIC_LVTT, LVT_MASKED | LVT_PERIODIC | TIMER_VECTOR);
	apic_write(APIC_EOI, 0);
}

/*
 * A 200 us periodic timer fires 5 times (one initial-count write); masked
 * by its handler, then stopped by a 0 count.
 */
static void guest_periodic(void)
{
	int i;

	guest_apic_enable();
	guest_set_handler(TIMER_VECTOR, periodic_handler);
	apic_write(APIC_LVTT, LVT_PERIODIC | TIMER_VECTOR);
	apic_write(APIC_TMICT, 200000);
	for (i = 0; i < 10000 && irq_count < 5; i++)
		guest_sti_hlt();
	apic_write(APIC_TMICT, 0);
	GUEST_ASSERT(irq_count >= 5);
	GUEST_ASSERT_EQ(0, apic_read(APIC_TMCCT));
	GUEST_DONE();
}

/* Self-IPIs: the shorthand, and the physical destination of our ID. */
static void guest_self_ipi(void)
{
	guest_apic_enable();
	apic_write(APIC_ICR, ICR_SELF | IPI_VECTOR);
	/* IF=0: in IRR, not delivered. */
	GUEST_ASSERT_EQ(1u << (IPI_VECTOR % 32),
			apic_read(APIC_IRR + (IPI_VECTOR / 32) * 0x10));
	GUEST_ASSERT_EQ(0, irq_count);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(IPI_VECTOR, irq_vector);
	apic_write(APIC_ICR2, 0);
	apic_write(APIC_ICR, IPI_VECTOR);
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_ASSERT_EQ(0, apic_read(APIC_IRR + (IPI_VECTOR / 32) * 0x10));
	GUEST_DONE();
}

/* TPR 0x50 holds vector 0x45 back until it is lowered to 0x30. */
static void guest_tpr(void)
{
	guest_apic_enable();
	apic_write(APIC_TPR, 0x50);
	apic_write(APIC_ICR, ICR_SELF | LOW_VECTOR);
	guest_sti_nop();
	GUEST_ASSERT_EQ(0, irq_count);
	GUEST_ASSERT_EQ(1u << (LOW_VECTOR % 32),
			apic_read(APIC_IRR + (LOW_VECTOR / 32) * 0x10));
	GUEST_ASSERT_EQ(0x50, apic_read(APIC_PPR));
	apic_write(APIC_TPR, 0x30);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(LOW_VECTOR, irq_vector);
	GUEST_ASSERT_EQ(0x40, irq_ppr);
	GUEST_ASSERT_EQ(0x30, apic_read(APIC_PPR));
	GUEST_DONE();
}

/*
 * CR8 is the TPR's priority class (SDM vol. 3A, "Task Priority in IA-32e
 * Mode"; APM vol. 2, "CR8 and the Local-APIC TPR"): a write sets TPR[7:4]
 * and clears TPR[3:0], a read gives TPR[7:4], and CR8 holds interrupts
 * back as the TPR does. The host then sees CR8 in VHM_GET_SREGS and sets
 * the TPR through VHM_SET_SREGS's cr8.
 */
static uint64_t read_cr8(void)
{
	uint64_t v;

	asm volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static void write_cr8(uint64_t v)
{
	asm volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

static void guest_cr8_tpr(void)
{
	guest_apic_enable();
	write_cr8(5);
	GUEST_ASSERT_EQ(0x50, apic_read(APIC_TPR));
	GUEST_ASSERT_EQ(5, read_cr8());
	apic_write(APIC_TPR, 0x3f);
	GUEST_ASSERT_EQ(3, read_cr8());
	/* CR8 5 holds vector 0x45 (class 4) back, CR8 3 lets it in. */
	write_cr8(5);
	apic_write(APIC_ICR, ICR_SELF | LOW_VECTOR);
	guest_sti_nop();
	GUEST_ASSERT_EQ(0, irq_count);
	write_cr8(3);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(LOW_VECTOR, irq_vector);
	GUEST_SYNC(read_cr8());
	GUEST_SYNC_ARGS(apic_read(APIC_TPR), read_cr8(), 0, 0);
	GUEST_DONE();
}

/*
 * The APIC acknowledges an interrupt only when the CPU takes it (SDM vol.
 * 3A, "Interrupt Acceptance for Fixed Interrupts"; APM vol. 2, "Interrupt
 * Delivery"): until then the highest IRR vector above the PPR is the one
 * delivered. With IF clear, a vector already waiting (handed to the vendor
 * at an earlier entry) is overtaken by a higher one, and held back by a
 * TPR raised above it, through the APIC page or CR8. kvm-unit-tests'
 * eventinj "vec 32/33" is the first case.
 */
static volatile uint64_t irq_order[2];

static void order_handler(struct ex_regs *regs)
{
	if (irq_count < 2)
		irq_order[irq_count] = regs->vector;
	irq_count++;
	apic_write(APIC_EOI, 0);
}

static void guest_higher_vector_first(void)
{
	guest_apic_enable();
	guest_set_handler(IPI_VECTOR, order_handler);
	guest_set_handler(LOW_VECTOR, order_handler);
	apic_write(APIC_ICR, ICR_SELF | IPI_VECTOR);
	apic_write(APIC_ICR, ICR_SELF | LOW_VECTOR);
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_ASSERT_EQ(LOW_VECTOR, irq_order[0]);
	GUEST_ASSERT_EQ(IPI_VECTOR, irq_order[1]);
	GUEST_ASSERT_EQ(0, apic_read(APIC_IRR + (IPI_VECTOR / 32) * 0x10));
	GUEST_ASSERT_EQ(0, apic_read(APIC_ISR + (IPI_VECTOR / 32) * 0x10));
	GUEST_DONE();
}

static void guest_tpr_holds_waiting_vector(void)
{
	guest_apic_enable();
	apic_write(APIC_ICR, ICR_SELF | LOW_VECTOR);
	apic_write(APIC_TPR, 0x50);
	guest_sti_nop();
	GUEST_ASSERT_EQ(0, irq_count);
	GUEST_ASSERT_EQ(1u << (LOW_VECTOR % 32),
			apic_read(APIC_IRR + (LOW_VECTOR / 32) * 0x10));
	GUEST_ASSERT_EQ(0, apic_read(APIC_ISR + (LOW_VECTOR / 32) * 0x10));
	GUEST_ASSERT_EQ(0x50, apic_read(APIC_PPR));
	apic_write(APIC_TPR, 0x30);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(LOW_VECTOR, irq_vector);
	/* The same through CR8. */
	apic_write(APIC_ICR, ICR_SELF | LOW_VECTOR);
	write_cr8(5);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	write_cr8(0);
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_ASSERT_EQ(0, apic_read(APIC_IRR + (LOW_VECTOR / 32) * 0x10));
	GUEST_DONE();
}

#define MSR_APIC_BASE	0x1b
#define MSR_TSC_DEADLINE	0x6e0
#define X2APIC_MSR(reg)	(0x800 + ((reg) >> 4))
#define APIC_BASE_EXTD	(1u << 10)
#define LVT_DEADLINE	(2u << 17)

static uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* In x2APIC mode the page is gone: PPR and EOI are MSRs. */
static void x2apic_irq_handler(struct ex_regs *regs)
{
	irq_count++;
	irq_vector = regs->vector;
	irq_ppr = guest_rdmsr(X2APIC_MSR(APIC_PPR));
	guest_wrmsr(X2APIC_MSR(APIC_EOI), 0);
}

/* x2APIC mode: the registers as MSRs, the ID and LDR, SELF IPI, EOI. */
static void guest_x2apic(void)
{
	guest_apic_enable();
	guest_set_handler(IPI_VECTOR, x2apic_irq_handler);
	guest_wrmsr(MSR_APIC_BASE, guest_rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	GUEST_ASSERT_EQ(0, guest_rdmsr(X2APIC_MSR(APIC_ID)));
	GUEST_ASSERT_EQ(1, guest_rdmsr(X2APIC_MSR(0xd0)));	/* LDR */
	GUEST_ASSERT_EQ(0x50014, guest_rdmsr(X2APIC_MSR(APIC_LVR)));
	GUEST_ASSERT_EQ(SVR_ENABLE | 0xff, guest_rdmsr(X2APIC_MSR(APIC_SVR)));
	guest_wrmsr(X2APIC_MSR(0x3f0), IPI_VECTOR);		/* SELF IPI */
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(IPI_VECTOR, irq_vector);
	GUEST_ASSERT_EQ(IPI_VECTOR & 0xf0, irq_ppr);
	GUEST_ASSERT_EQ(0, guest_rdmsr(X2APIC_MSR(APIC_ISR + 0x20)));
	/* The 64-bit ICR: a fixed IPI to our x2APIC ID 0. */
	guest_wrmsr(X2APIC_MSR(APIC_ICR), IPI_VECTOR);
	GUEST_ASSERT_EQ(IPI_VECTOR, guest_rdmsr(X2APIC_MSR(APIC_ICR)));
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_DONE();
}

/* TSC deadline: armed by the MSR, fires once, then reads 0. */
static void guest_tsc_deadline(void)
{
	uint64_t far;
	int i;

	guest_apic_enable();
	apic_write(APIC_LVTT, LVT_DEADLINE | TIMER_VECTOR);
	apic_write(APIC_TMICT, 1000);		/* ignored in this mode */
	GUEST_ASSERT_EQ(0, apic_read(APIC_TMICT));
	/* Far in the future: armed, reads back, never fires before 0 disarms. */
	far = guest_rdtsc() + (1ull << 50);
	guest_wrmsr(MSR_TSC_DEADLINE, far);
	GUEST_ASSERT_EQ(far, guest_rdmsr(MSR_TSC_DEADLINE));
	guest_wrmsr(MSR_TSC_DEADLINE, 0);
	GUEST_ASSERT_EQ(0, guest_rdmsr(MSR_TSC_DEADLINE));
	guest_sti_nop();
	GUEST_ASSERT_EQ(0, irq_count);
	guest_wrmsr(MSR_TSC_DEADLINE, guest_rdtsc() + 2000000);
	for (i = 0; i < 1000 && !irq_count; i++)
		guest_sti_hlt();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(TIMER_VECTOR, irq_vector);
	GUEST_ASSERT_EQ(0, guest_rdmsr(MSR_TSC_DEADLINE));
	/* A deadline already past fires at once. */
	guest_wrmsr(MSR_TSC_DEADLINE, 1);
	for (i = 0; i < 1000 && irq_count < 2; i++)
		guest_sti_hlt();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_DONE();
}

/*
 * The timer's divide configuration (SDM vol. 3A, "APIC Timer"): TDCR bits
 * 0, 1 and 3 select divide by 2, 4, 8, 16, 32, 64, 128 or 1 (0b1011); the
 * current count decrements at the bus clock divided by that. For each
 * value: TDCR written with every reserved bit set reads back the value
 * alone, and TMCCT falls over the same span of TSC cycles (the LVT
 * masked, the initial count 0xffffffff). Each TMCCT read is an exit: the
 * TSC read on both sides of it dates it, a sample whose window is wide
 * (the host was busy) is taken again. Each divide's sample is compared
 * with a divide-by-1 sample taken just before it: a test host's clock and
 * its TSC drift apart over seconds under load (CI's run of 2026-12-08: a
 * divide-by-1 reference taken once was 10-40% off every later sample).
 */
static const uint32_t tdcr_values[8] = {
	0xb, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa,	/* divide by 1 ... 128 */
};

#define DIV_SPAN	8000000ull	/* TSC cycles per measurement */
#define DIV_TRIES	5
#define DIV_PCT_LO	67	/* % of d: within a third below */
#define DIV_PCT_HI	150	/* and a half above */
#define ONESHOT_COUNT	20000000u

/* TMCCT and when it was read; returns the width of that window. */
static uint64_t tmcct_at(uint32_t *count, uint64_t *tsc)
{
	uint64_t t0 = guest_rdtsc(), t1;

	*count = apic_read(APIC_TMCCT);
	t1 = guest_rdtsc();
	*tsc = t0 + (t1 - t0) / 2;
	return t1 - t0;
}

static volatile uint64_t irq_tsc;

static void timer_tsc_handler(struct ex_regs *regs)
{
	irq_tsc = guest_rdtsc();
	irq_count++;
	apic_write(APIC_EOI, 0);
}

/* A one-shot of ONESHOT_COUNT: TSC cycles from the write to the interrupt. */
static uint64_t oneshot_cycles(uint32_t tdcr)
{
	uint64_t t0;
	int i;

	irq_count = 0;
	apic_write(APIC_TDCR, tdcr);
	t0 = guest_rdtsc();
	apic_write(APIC_TMICT, ONESHOT_COUNT);
	for (i = 0; i < 100000 && !irq_count; i++)
		guest_sti_hlt();
	GUEST_ASSERT_EQ(1, irq_count);
	return irq_tsc - t0;
}

/*
 * TMCCT's fall over DIV_SPAN TSC cycles of a count of 0xffffffff; a
 * sample whose TMCCT reads took long (the host was busy) is taken again.
 */
static void divide_sample(uint32_t *c0, uint32_t *c1, uint64_t *t0,
			  uint64_t *t1)
{
	uint64_t w;
	int try;

	for (try = 0; try < DIV_TRIES; try++) {
		apic_write(APIC_TMICT, 0xffffffff);
		w = tmcct_at(c0, t0);
		while (guest_rdtsc() < *t0 + DIV_SPAN)
			asm volatile("pause");
		w += tmcct_at(c1, t1);
		if (w < DIV_SPAN / 16)
			break;
	}
}

/*
 * Whether a sample's rate is within DIV_PCT_LO..DIV_PCT_HI % of divide by
 * 1's over d (the host checks the same bound): a divide off by a power of
 * two, or ignored, is outside. A pair outside is taken again, up to
 * DIV_TRIES times: under load a test host's vCPU can lose time between
 * the two reads that the TSC and the APIC's clock count differently; a
 * divide vhm gets wrong is wrong in every pair.
 */
/* 100 * (rate at divide 1) / (rate at divide d); guest and host. */
static uint64_t divide_pct(uint64_t dec1, uint64_t span1, uint64_t dec,
			   uint64_t span)
{
	return 100 * dec1 * span / (dec * span1);
}

static bool divide_ratio_ok(uint64_t dec1, uint64_t span1, uint64_t dec,
			    uint64_t span, uint64_t d)
{
	uint64_t pct;

	if (!dec || !span1)
		return false;
	pct = divide_pct(dec1, span1, dec, span);
	return pct >= DIV_PCT_LO * d && pct <= DIV_PCT_HI * d;
}

static void guest_timer_divide(void)
{
	uint64_t t0, t1, dec1 = 0, span1 = 0, n1, f1, f2;
	uint32_t c0, c1, back;
	int i, try, sample;

	guest_apic_enable();
	guest_set_handler(TIMER_VECTOR, timer_tsc_handler);
	apic_write(APIC_LVTT, LVT_MASKED | TIMER_VECTOR);
	for (i = 0; i < 8; i++) {
		for (sample = 0; sample < DIV_TRIES; sample++) {
			/* The reference: divide by 1, just before. */
			apic_write(APIC_TDCR, tdcr_values[0]);
			divide_sample(&c0, &c1, &t0, &t1);
			dec1 = c0 - c1;
			span1 = t1 - t0;
			apic_write(APIC_TDCR, tdcr_values[i] | 0xfffffff4);
			back = apic_read(APIC_TDCR);
			divide_sample(&c0, &c1, &t0, &t1);
			if (divide_ratio_ok(dec1, span1, c0 - c1, t1 - t0,
					    1u << i))
				break;
		}
		apic_write(APIC_TMICT, 0);
		GUEST_SYNC_ARGS(i, back, c0 - c1, t1 - t0);
		GUEST_SYNC_ARGS(i, sample, dec1, span1);
	}
	GUEST_ASSERT(dec1 > 0);
	/*
	 * One-shots of the same initial count, divide by 1 and by 2: the
	 * TSC cycles ONESHOT_COUNT bus clocks take (from the last divide by
	 * 1 rate above), and each timer's. A timer is never early; one whose
	 * interrupt came late (the host was busy) is measured again.
	 */
	apic_write(APIC_LVTT, TIMER_VECTOR);
	n1 = ONESHOT_COUNT * span1 / dec1;
	for (try = 0; try < DIV_TRIES; try++) {
		f1 = oneshot_cycles(tdcr_values[0]);
		f2 = oneshot_cycles(tdcr_values[1]);
		if (f1 < n1 * 3 / 2 && f2 < n1 * 3)
			break;
	}
	GUEST_SYNC_ARGS(n1, f1, f2, try);
	GUEST_DONE();
}

/*
 * A TDCR write while the timer counts: the current count goes on from
 * where it was, at the new rate (SDM vol. 3A, "APIC Timer": the divide
 * configuration sets the rate the count decrements at); it does not jump
 * by the ratio of the two divisors. Divide by 1 to 128 under a count of
 * 0xffffffff, then 128 to 1 under one of 0x4000000 (8.6 s at 128, 67 ms
 * at 1); then a one-shot sped up from 128 to 1 still fires.
 */
#define DIV_CHANGE_COUNT	0x4000000u

static void guest_timer_divide_change(void)
{
	uint32_t c0, c1, c2, c3;
	int i;

	guest_apic_enable();
	guest_set_handler(TIMER_VECTOR, timer_tsc_handler);
	apic_write(APIC_LVTT, LVT_MASKED | TIMER_VECTOR);
	apic_write(APIC_TDCR, tdcr_values[0]);
	apic_write(APIC_TMICT, 0xffffffff);
	c0 = apic_read(APIC_TMCCT);
	apic_write(APIC_TDCR, tdcr_values[7]);
	c1 = apic_read(APIC_TMCCT);
	apic_write(APIC_TMICT, DIV_CHANGE_COUNT);
	c2 = apic_read(APIC_TMCCT);
	apic_write(APIC_TDCR, tdcr_values[0]);
	c3 = apic_read(APIC_TMCCT);
	apic_write(APIC_TMICT, 0);
	GUEST_SYNC_ARGS(c0, c1, c2, c3);
	irq_count = 0;
	apic_write(APIC_LVTT, TIMER_VECTOR);
	apic_write(APIC_TDCR, tdcr_values[7]);
	apic_write(APIC_TMICT, ONESHOT_COUNT);
	apic_write(APIC_TDCR, tdcr_values[0]);
	for (i = 0; i < 100000 && !irq_count; i++)
		guest_sti_hlt();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_DONE();
}

/*
 * The VMM switches the APIC's mode with VHM_SET_SREGS (apic_base) while
 * the guest waits at each GUEST_SYNC: the x2APIC ID and logical ID are
 * then the ones x2APIC mode derives from the APIC ID (SDM vol. 3A,
 * "x2APIC Register Availability" and "Logical Destination Mode in x2APIC
 * Mode": LDR = cluster << 16 | 1 << (ID & 0xf), 1 for ID 0), and back in
 * xAPIC mode the ID is in bits 31:24 and the LDR is 0 again.
 */
#define APIC_LDR	0xd0

static void guest_sregs_apic_mode(void)
{
	GUEST_SYNC(0);
	GUEST_SYNC_ARGS(1, guest_rdmsr(X2APIC_MSR(APIC_ID)),
			guest_rdmsr(X2APIC_MSR(APIC_LDR)),
			guest_rdmsr(MSR_APIC_BASE));
	GUEST_SYNC_ARGS(2, apic_read(APIC_ID), apic_read(APIC_LDR),
			guest_rdmsr(MSR_APIC_BASE));
	GUEST_DONE();
}

/* Nothing will wake this HLT but a signal. */
static void guest_hlt_forever(void)
{
	guest_apic_enable();
	GUEST_SYNC(0);
	guest_sti_hlt();
	GUEST_SYNC(1);
	GUEST_DONE();
}

/* ---------------------------------------------------------------------
 * Errors (SDM vol. 3A, "Error Handling"; issue 15): the ESR shows the
 * errors since the previous write to it, only after a write ("write
 * before read"), and LVT Error raises an interrupt when an error comes.
 */
#define APIC_ESR	0x280
#define APIC_LVTERR	0x370
#define ESR_SEND_ILLEGAL	0x20
#define ESR_RECV_ILLEGAL	0x40
#define ESR_ILLEGAL_REG		0x80
#define ICR_LOWEST	0x100
#define ERR_VECTOR	0x4e

static uint32_t esr_latch(void)
{
	apic_write(APIC_ESR, 0);
	return apic_read(APIC_ESR);
}

/* A fixed or lowest-priority IPI with a vector below 16 is not sent. */
static void guest_esr_send_illegal(void)
{
	guest_apic_enable();
	GUEST_ASSERT_EQ(0, esr_latch());
	apic_write(APIC_ICR, ICR_SELF | 3);
	GUEST_ASSERT_EQ(0, apic_read(APIC_IRR));
	/* Recorded, but readable only after a write. */
	GUEST_ASSERT_EQ(0, apic_read(APIC_ESR));
	apic_write(APIC_ESR, 0);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, apic_read(APIC_ESR));
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, apic_read(APIC_ESR));
	/* The next write shows that nothing happened since. */
	GUEST_ASSERT_EQ(0, esr_latch());
	/* Lowest priority to our own ID (physical): the same. */
	apic_write(APIC_ICR2, 0);
	apic_write(APIC_ICR, ICR_LOWEST | 15);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, esr_latch());
	/* Vector 16 and above are legal. */
	apic_write(APIC_ICR, ICR_SELF | IPI_VECTOR);
	GUEST_ASSERT_EQ(0, esr_latch());
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(IPI_VECTOR, irq_vector);
	GUEST_DONE();
}

/* The timer's LVT with vector 3: Receive Illegal Vector, no IRR bit. */
static void guest_esr_recv_illegal(void)
{
	uint32_t esr = 0;
	int i;

	guest_apic_enable();
	GUEST_ASSERT_EQ(0, esr_latch());
	apic_write(APIC_LVTT, 3);
	apic_write(APIC_TMICT, 1000);
	for (i = 0; i < 10000 && !esr; i++)
		esr = esr_latch();
	GUEST_ASSERT_EQ(ESR_RECV_ILLEGAL, esr);
	GUEST_ASSERT_EQ(0, apic_read(APIC_IRR));
	guest_sti_nop();
	GUEST_ASSERT_EQ(0, irq_count);
	GUEST_DONE();
}

/*
 * LVT Error: unmasked, an error raises its vector once, until ESR is
 * written again; masked, the error is only recorded; with a vector below
 * 16, that is a Receive Illegal Vector error too.
 */
static void guest_esr_interrupt(void)
{
	guest_apic_enable();
	guest_set_handler(ERR_VECTOR, irq_handler);
	apic_write(APIC_LVTERR, ERR_VECTOR);
	GUEST_ASSERT_EQ(ERR_VECTOR, apic_read(APIC_LVTERR));
	apic_write(APIC_ICR, ICR_SELF | 3);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(ERR_VECTOR, irq_vector);
	/* The same error again before the ESR write: no second interrupt. */
	apic_write(APIC_ICR, ICR_SELF | 3);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, esr_latch());
	/* Rearmed by that write. */
	apic_write(APIC_ICR, ICR_SELF | 3);
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, esr_latch());
	/* Masked: recorded, no interrupt. */
	apic_write(APIC_LVTERR, LVT_MASKED | ERR_VECTOR);
	apic_write(APIC_ICR, ICR_SELF | 3);
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, esr_latch());
	/* An illegal LVT Error vector is itself an error. */
	apic_write(APIC_LVTERR, 5);
	apic_write(APIC_ICR, ICR_SELF | 3);
	guest_sti_nop();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL | ESR_RECV_ILLEGAL, esr_latch());
	GUEST_ASSERT_EQ(0, apic_read(APIC_IRR));
	GUEST_DONE();
}

/*
 * xAPIC: a reserved register (0x010, LVT CMCI at 0x2f0 with 6 LVTs, SELF
 * IPI at 0x3f0, which only x2APIC mode has) reads 0, ignores writes and
 * sets Illegal Register Address; a real one does not.
 */
static void guest_esr_illegal_reg(void)
{
	guest_apic_enable();
	GUEST_ASSERT_EQ(0, esr_latch());
	GUEST_ASSERT_EQ(0x50014, apic_read(APIC_LVR));
	GUEST_ASSERT_EQ(0, esr_latch());
	GUEST_ASSERT_EQ(0, apic_read(0x10));
	GUEST_ASSERT_EQ(ESR_ILLEGAL_REG, esr_latch());
	GUEST_ASSERT_EQ(0, apic_read(0x2f0));
	GUEST_ASSERT_EQ(ESR_ILLEGAL_REG, esr_latch());
	apic_write(0x3f0, IPI_VECTOR);
	GUEST_ASSERT_EQ(ESR_ILLEGAL_REG, esr_latch());
	guest_sti_nop();
	GUEST_ASSERT_EQ(0, irq_count);
	GUEST_DONE();
}

static volatile uint64_t gp_count;

/* #GP of a WRMSR or RDMSR (2 bytes): count it, skip the instruction. */
static void gp_handler(struct ex_regs *regs)
{
	gp_count++;
	regs->rip += 2;
}

/*
 * x2APIC mode: ESR takes only 0 (else #GP), the ICR and SELF IPI with
 * vector 3 set Send Illegal Vector; a missing register is #GP instead of
 * Illegal Register Address (reserved 0x801, RRD 0x80c), and so is a WRMSR
 * to a read-only one (version 0x803).
 */
static void guest_esr_x2apic(void)
{
	guest_apic_enable();
	guest_set_handler(13, gp_handler);
	guest_wrmsr(MSR_APIC_BASE, guest_rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	guest_wrmsr(X2APIC_MSR(APIC_ESR), 0);
	GUEST_ASSERT_EQ(0, gp_count);
	guest_wrmsr(X2APIC_MSR(APIC_ESR), 1);
	GUEST_ASSERT_EQ(1, gp_count);
	guest_wrmsr(X2APIC_MSR(APIC_ICR), 3);
	GUEST_ASSERT_EQ(0, guest_rdmsr(X2APIC_MSR(APIC_ESR)));
	guest_wrmsr(X2APIC_MSR(APIC_ESR), 0);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, guest_rdmsr(X2APIC_MSR(APIC_ESR)));
	guest_wrmsr(X2APIC_MSR(APIC_ESR), 0);
	GUEST_ASSERT_EQ(0, guest_rdmsr(X2APIC_MSR(APIC_ESR)));
	guest_wrmsr(X2APIC_MSR(0x3f0), 3);			/* SELF IPI */
	guest_wrmsr(X2APIC_MSR(APIC_ESR), 0);
	GUEST_ASSERT_EQ(ESR_SEND_ILLEGAL, guest_rdmsr(X2APIC_MSR(APIC_ESR)));
	GUEST_ASSERT_EQ(0, guest_rdmsr(X2APIC_MSR(APIC_IRR)));
	GUEST_ASSERT_EQ(1, gp_count);
	guest_rdmsr(X2APIC_MSR(0x10));
	GUEST_ASSERT_EQ(2, gp_count);
	guest_rdmsr(X2APIC_MSR(0xc0));
	GUEST_ASSERT_EQ(3, gp_count);
	guest_wrmsr(X2APIC_MSR(APIC_LVR), 0);
	GUEST_ASSERT_EQ(4, gp_count);
	guest_wrmsr(X2APIC_MSR(APIC_ESR), 0);
	GUEST_ASSERT_EQ(0, guest_rdmsr(X2APIC_MSR(APIC_ESR)));
	GUEST_DONE();
}

/* ---------------------------------------------------------------------
 * Disabling the APIC through IA32_APIC_BASE (SDM vol. 3A, "Enabling or
 * Disabling the Local APIC", "x2APIC State Transitions"; issue 15).
 */
#define APIC_BASE_EN	(1u << 11)
#define APIC_LDR_REG	0xd0

static uint64_t guest_tsc_now(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* IF set for about 2 million TSC cycles (some ms). */
static void guest_sti_spin(void)
{
	uint64_t end = guest_tsc_now() + 2000000;

	asm volatile("sti" : : : "memory");
	while (guest_tsc_now() < end)
		asm volatile("pause");
	asm volatile("cli" : : : "memory");
}

/*
 * Set up a state worth losing: a new ID, TPR, a periodic timer, LVT
 * Error, a recorded error and a vector waiting in IRR (IF clear).
 */
static void guest_apic_busy_state(void)
{
	guest_apic_enable();
	apic_write(APIC_ID, 0x05000000);
	apic_write(APIC_TPR, 0x20);
	apic_write(APIC_LVTERR, ERR_VECTOR | LVT_MASKED);
	apic_write(APIC_LVTT, LVT_PERIODIC | TIMER_VECTOR);
	apic_write(APIC_TMICT, 200000);
	apic_write(APIC_ICR, ICR_SELF | 3);
	apic_write(APIC_ICR, ICR_SELF | IPI_VECTOR);
	GUEST_ASSERT_EQ(0x05000000, apic_read(APIC_ID));
}

/* After re-enabling: xAPIC mode, the state after RESET. */
static void guest_apic_reset_regs(void)
{
	int i;

	GUEST_ASSERT_EQ(APIC_BASE_EN,
			guest_rdmsr(MSR_APIC_BASE) & (APIC_BASE_EN | APIC_BASE_EXTD));
	GUEST_ASSERT_EQ(0, apic_read(APIC_ID));
	GUEST_ASSERT_EQ(0x50014, apic_read(APIC_LVR));
	GUEST_ASSERT_EQ(0xff, apic_read(APIC_SVR));
	GUEST_ASSERT_EQ(0, apic_read(APIC_TPR));
	GUEST_ASSERT_EQ(0, apic_read(APIC_PPR));
	GUEST_ASSERT_EQ(0, apic_read(APIC_LDR_REG));
	GUEST_ASSERT_EQ(0xffffffff, apic_read(APIC_DFR));
	GUEST_ASSERT_EQ(LVT_MASKED, apic_read(APIC_LVTT));
	GUEST_ASSERT_EQ(LVT_MASKED, apic_read(APIC_LVTERR));
	GUEST_ASSERT_EQ(0, apic_read(APIC_TMICT));
	GUEST_ASSERT_EQ(0, apic_read(APIC_TMCCT));
	GUEST_ASSERT_EQ(0, apic_read(APIC_TDCR));
	for (i = 0; i < 8; i++) {
		GUEST_ASSERT_EQ(0, apic_read(APIC_IRR + i * 0x10));
		GUEST_ASSERT_EQ(0, apic_read(APIC_ISR + i * 0x10));
	}
	GUEST_ASSERT_EQ(0, esr_latch());
}

static void guest_apic_disable(void)
{
	uint64_t base = guest_rdmsr(MSR_APIC_BASE);
	uint64_t count;

	guest_set_handler(13, gp_handler);
	guest_apic_busy_state();
	guest_wrmsr(MSR_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN);
	GUEST_ASSERT_EQ(0, gp_count);
	GUEST_ASSERT_EQ(base & ~(uint64_t)APIC_BASE_EN,
			guest_rdmsr(MSR_APIC_BASE));
	/* Nothing is delivered: not the vector in IRR, not the timer. */
	guest_sti_spin();
	GUEST_ASSERT_EQ(0, irq_count);
	/* No x2APIC MSRs; from disabled, x2APIC mode only through xAPIC. */
	guest_rdmsr(X2APIC_MSR(APIC_LVR));
	GUEST_ASSERT_EQ(1, gp_count);
	guest_wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	GUEST_ASSERT_EQ(2, gp_count);
	guest_wrmsr(MSR_APIC_BASE, (base & ~(uint64_t)APIC_BASE_EN) |
		    APIC_BASE_EXTD);
	GUEST_ASSERT_EQ(3, gp_count);
	/* The page is the VMM's MMIO now: the host answers this read. */
	GUEST_SYNC(apic_read(APIC_LVR));
	/* CR8 still works (the TPR); put back before re-enabling. */
	write_cr8(5);
	GUEST_ASSERT_EQ(5, read_cr8());
	write_cr8(0);
	guest_wrmsr(MSR_APIC_BASE, base);
	GUEST_ASSERT_EQ(3, gp_count);
	guest_apic_reset_regs();
	/* And it works again once software-enabled. */
	guest_apic_enable();
	apic_write(APIC_ICR, ICR_SELF | IPI_VECTOR);
	guest_sti_nop();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(IPI_VECTOR, irq_vector);

	/* x2APIC -> disabled -> xAPIC, the only way back: reset again. */
	guest_wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	guest_wrmsr(X2APIC_MSR(APIC_TPR), 0x30);
	guest_wrmsr(MSR_APIC_BASE, base);
	GUEST_ASSERT_EQ(4, gp_count);
	guest_wrmsr(MSR_APIC_BASE, base & ~(uint64_t)(APIC_BASE_EN |
						       APIC_BASE_EXTD));
	guest_wrmsr(MSR_APIC_BASE, base);
	GUEST_ASSERT_EQ(4, gp_count);
	guest_apic_reset_regs();
	count = irq_count;
	guest_sti_nop();
	GUEST_ASSERT_EQ(count, irq_count);
	GUEST_DONE();
}

/* ---------------------------------------------------------------------
 * Host side.
 */

TEST_F(lapic_test, reset_state)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_reset_state, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

/* ASSERT_GUEST_DONE fails on any other exit: HLT never exited. */
TEST_F(lapic_test, oneshot_timer_hlt)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_oneshot, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, periodic_timer)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_periodic, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, self_ipi)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_self_ipi, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, tpr_masks_lower_priority)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_tpr, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, higher_vector_overtakes_waiting_one)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_higher_vector_first, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, tpr_holds_waiting_vector_back)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_tpr_holds_waiting_vector, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

/* CR8 <-> TPR on both vendors (issue 15). */
TEST_F(lapic_test, cr8_is_tpr)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_sregs s;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_cr8_tpr, 0));
	ASSERT_GUEST_SYNC(v, 3);
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_SREGS, &s);
	EXPECT_EQ(3, s.cr8);
	s.cr8 = 7;
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_SET_SREGS, &s);
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(0x70, uc.args[0]);
	EXPECT_EQ(7, uc.args[1]);
	ASSERT_GUEST_DONE(v);
}

TEST_F(lapic_test, x2apic_msrs)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_x2apic, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, tsc_deadline_timer)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_tsc_deadline, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

/*
 * Every divide value: TMCCT falls d times slower than with divide by 1
 * (a divide-by-1 sample just before; within DIV_PCT_LO..DIV_PCT_HI %),
 * TDCR keeps bits 0, 1 and 3 only; a one-shot with divide by 2 fires no
 * earlier than one with divide by 1, twice as late.
 */
TEST_F(lapic_test, timer_divide_configurations)
{
	struct guest_vcpu *v = &self->vcpu;
	uint64_t n1, f1, f2;
	struct ucall uc;
	int i;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_timer_divide, 0));
	for (i = 0; i < 8; i++) {
		uint64_t d = 1u << i, dec, span, dec1, span1, pct;

		ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
		ASSERT_EQ(i, uc.args[0]);
		EXPECT_EQ(tdcr_values[i], uc.args[1])
			TH_LOG("TDCR %#x | 0xfffffff4 read %#llx", tdcr_values[i],
			       (unsigned long long)uc.args[1]);
		dec = uc.args[2];
		span = uc.args[3];
		ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
		ASSERT_EQ(i, uc.args[0]);
		dec1 = uc.args[2];
		span1 = uc.args[3];
		ASSERT_NE(0, dec) TH_LOG("divide by %llu: TMCCT did not move",
					 (unsigned long long)d);
		ASSERT_NE(0, dec1);
		ASSERT_NE(0, span1);
		pct = divide_pct(dec1, span1, dec, span);
		TH_LOG("divide by %3llu: %llu counts in %llu TSC cycles, %llu.%02llux slower than by 1 (%llu in %llu; try %llu)",
		       (unsigned long long)d, (unsigned long long)dec,
		       (unsigned long long)span, (unsigned long long)pct / 100,
		       (unsigned long long)pct % 100, (unsigned long long)dec1,
		       (unsigned long long)span1,
		       (unsigned long long)uc.args[1]);
		EXPECT_LE(DIV_PCT_LO * d, pct);
		EXPECT_GE(DIV_PCT_HI * d, pct);
	}
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	n1 = uc.args[0];
	f1 = uc.args[1];
	f2 = uc.args[2];
	TH_LOG("one-shot of %u: %llu TSC cycles due, divide by 1 fired after %llu, by 2 after %llu (try %llu)",
	       ONESHOT_COUNT, (unsigned long long)n1, (unsigned long long)f1,
	       (unsigned long long)f2, (unsigned long long)uc.args[3]);
	EXPECT_LE(n1 * 3 / 4, f1) TH_LOG("divide by 1 fired early");
	EXPECT_LE(n1 * 3 / 2, f2) TH_LOG("divide by 2 fired early");
	EXPECT_LT(f1, f2);
	ASSERT_GUEST_DONE(v);
}

TEST_F(lapic_test, timer_divide_change_keeps_count)
{
	struct guest_vcpu *v = &self->vcpu;
	uint64_t c0, c1, c2, c3;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_timer_divide_change, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	c0 = uc.args[0];
	c1 = uc.args[1];
	c2 = uc.args[2];
	c3 = uc.args[3];
	TH_LOG("divide 1 -> 128: TMCCT %#llx -> %#llx; 128 -> 1: %#llx -> %#llx",
	       (unsigned long long)c0, (unsigned long long)c1,
	       (unsigned long long)c2, (unsigned long long)c3);
	EXPECT_LE(c1, c0);
	EXPECT_LE(c0 / 2, c1) TH_LOG("the count jumped down at divide 128");
	EXPECT_LE(c2, DIV_CHANGE_COUNT);
	EXPECT_LE(c3, c2) TH_LOG("the count jumped up at divide 1");
	EXPECT_LE(c2 / 2, c3);
	ASSERT_GUEST_DONE(v);
}

static void set_apic_base(struct __test_metadata *_metadata,
			  struct guest_vcpu *v, bool x2apic)
{
	struct vhm_sregs s;

	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_SREGS, &s);
	s.apic_base &= ~(uint64_t)APIC_BASE_EXTD;
	if (x2apic)
		s.apic_base |= APIC_BASE_EXTD;
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_SET_SREGS, &s);
}

/* VHM_SET_SREGS changes the APIC's mode with its IDs (issue 15). */
TEST_F(lapic_test, set_sregs_apic_mode_sets_ids)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_sregs s;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_sregs_apic_mode, 0));
	ASSERT_GUEST_SYNC(v, 0);
	/* x2APIC mode without the APIC enabled is no state. */
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_SREGS, &s);
	s.apic_base = (s.apic_base | APIC_BASE_EXTD) & ~(1ull << 11);
	EXPECT_EQ(-1, ioctl(v->raw.fd, VHM_SET_SREGS, &s));
	EXPECT_EQ(EINVAL, errno);
	set_apic_base(_metadata, v, true);
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);		/* x2APIC ID: vCPU 0 */
	EXPECT_EQ(1, uc.args[2]);		/* cluster 0, bit 0 */
	EXPECT_TRUE(uc.args[3] & APIC_BASE_EXTD);
	/* The VMM may go back to xAPIC mode directly (the guest may not). */
	set_apic_base(_metadata, v, false);
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	EXPECT_EQ(0, uc.args[2]);
	EXPECT_FALSE(uc.args[3] & APIC_BASE_EXTD);
	ASSERT_GUEST_DONE(v);
}

static void on_alarm(int sig)
{
}

/* A signal ends the sleep with -EINTR; RIP stays on the HLT. */
TEST_F(lapic_test, signal_ends_hlt)
{
	struct guest_vcpu *v = &self->vcpu;
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct vhm_regs r;
	uint8_t insn;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_VHM(guest_vcpu_start_long(v, guest_hlt_forever, 0));
	ASSERT_GUEST_SYNC(v, 0);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, guest_run(v));
	EXPECT_EQ(VHM_EXIT_INTR, v->run->exit_reason);
	ASSERT_VHM(vhm_get_regs(&v->raw, &r));
	memcpy(&insn, guest_gpa_to_hva(&self->vm, r.rip, 1), 1);
	EXPECT_EQ(0xf4, insn);
	/* A self-IPI from the host's side is not in this slice: stop here. */
}

TEST_F(lapic_test, bad_arguments)
{
	struct vhm_create_lapic c;
	struct guest_vm vm2;
	struct guest_vcpu v2;
	int vm;

	RETURN_IF_SKIPPED();
	vm = self->vm.fd;
	memset(&c, 0, sizeof(c));
	/* Once only, and not after a vCPU. */
	EXPECT_EQ(-1, ioctl(vm, VHM_CREATE_LAPIC, &c));
	EXPECT_EQ(EEXIST, errno);

	ASSERT_VHM(guest_vm_create(&vm2, self->sys));
	EXPECT_EQ(-1, ioctl(vm2.fd, VHM_CREATE_LAPIC, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	c.flags = 2;	/* bit 0 is VHM_LAPIC_IOAPIC */
	EXPECT_EQ(-1, ioctl(vm2.fd, VHM_CREATE_LAPIC, &c));
	EXPECT_EQ(EINVAL, errno);
	c.flags = 0;
	c.padding = 1;
	EXPECT_EQ(-1, ioctl(vm2.fd, VHM_CREATE_LAPIC, &c));
	EXPECT_EQ(EINVAL, errno);
	c.padding = 0;
	c.reserved[2] = 1;
	EXPECT_EQ(-1, ioctl(vm2.fd, VHM_CREATE_LAPIC, &c));
	EXPECT_EQ(EINVAL, errno);
	c.reserved[2] = 0;
	ASSERT_VHM(guest_vcpu_create(&vm2, 0, &v2));
	EXPECT_EQ(-1, ioctl(vm2.fd, VHM_CREATE_LAPIC, &c));
	EXPECT_EQ(EBUSY, errno);

	/* Without an APIC the page is MMIO for userspace, as before. */
	ASSERT_VHM(guest_vcpu_start_long(&v2, guest_reset_state, 0));
	EXPECT_VHM(guest_run(&v2));
	EXPECT_EQ(VHM_EXIT_MMIO, v2.run->exit_reason);
	EXPECT_EQ(APIC_BASE + APIC_ID, v2.run->mmio.phys_addr);
	guest_vcpu_free(&v2);
	guest_vm_free(&vm2);
}

/* ESR (issue 15): each case fails on a module that records no error. */
TEST_F(lapic_test, esr_send_illegal_vector)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_esr_send_illegal, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, esr_receive_illegal_vector)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_esr_recv_illegal, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, esr_error_interrupt)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_esr_interrupt, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, esr_illegal_register)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_esr_illegal_reg, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(lapic_test, esr_x2apic)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_esr_x2apic, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

/*
 * Disabled through IA32_APIC_BASE, the APIC delivers nothing and its page
 * is MMIO for the VMM (the guest's read of the version exits; the VMM
 * answers all ones, as a bus with nothing there); re-enabled, it is in
 * xAPIC mode with its RESET state.
 */
TEST_F(lapic_test, apic_disable_reenable)
{
	struct guest_vcpu *v = &self->vcpu;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_apic_disable, 0));
	EXPECT_VHM(guest_run(v));
	ASSERT_EQ(VHM_EXIT_MMIO, v->run->exit_reason);
	EXPECT_EQ(APIC_BASE + APIC_LVR, v->run->mmio.phys_addr);
	EXPECT_EQ(4, v->run->mmio.len);
	EXPECT_EQ(0, v->run->mmio.is_write);
	memset(v->run->mmio.data, 0xff, 4);
	ASSERT_GUEST_SYNC(v, 0xffffffff);
	ASSERT_GUEST_DONE(v);
}

TEST_HARNESS_MAIN
