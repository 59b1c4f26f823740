// SPDX-License-Identifier: GPL-2.0
/*
 * The local APIC's timer (lapic.c): one-shot and periodic modes count a
 * 1 GHz bus clock through the divide configuration (one count = divide
 * ns); TSC-deadline mode expires when the guest's TSC reaches
 * IA32_TSC_DEADLINE. Each runs on one host hrtimer, whose handler puts
 * the LVT's vector in IRR and kicks the vCPU.
 *
 * The hrtimer expires in hard-interrupt context on every kernel, PREEMPT_RT
 * included (HRTIMER_MODE_*_HARD: without it RT moves the expiry to the
 * softirq thread, which delays a guest's tick behind other softirq work).
 * That is valid because the handler does only raw-safe work: it takes the
 * raw apic->lock, forwards the timer, and kicks the vCPU after dropping the
 * lock, which wakes it through an rcuwait (no waitqueue spinlock, a
 * sleeping lock on RT) or sends it a reschedule IPI. Every hrtimer_start()
 * names the same HARD mode (RT WARNs on a mismatch).
 */
#include <linux/hrtimer.h>
#include <linux/math64.h>
#include <asm/apicdef.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "compat.h"
#include "lapic.h"
#include "lapic_priv.h"
#include "vhm.h"
#include "vm.h"

static u32 lapic_timer_mode(struct vhm_lapic *apic)
{
	return *lapic_reg(apic, APIC_LVTT) & LAPIC_LVT_TIMER_MODE;
}

/* The divisor a divide configuration value selects (1 to 128). */
static u32 lapic_divide_of(u32 dcr)
{
	u32 v = (dcr & 3) | ((dcr & 8) >> 1);

	return 1u << ((v + 1) & 7);
}

static u32 lapic_divide(struct vhm_lapic *apic)
{
	return lapic_divide_of(*lapic_reg(apic, APIC_TDCR));
}

/* The period of an initial count (periodic: never below the minimum). */
static u64 lapic_period_ns(struct vhm_lapic *apic, u32 count)
{
	u64 ns = (u64)count * lapic_divide(apic);

	if (lapic_timer_mode(apic) == LAPIC_LVT_PERIODIC)
		ns = max_t(u64, ns, LAPIC_MIN_PERIOD_NS);
	return ns;
}

static enum hrtimer_restart lapic_timer_fn(struct hrtimer *t)
{
	struct vhm_lapic *apic = container_of(t, struct vhm_lapic, timer);
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	unsigned long flags;
	bool kick = false;
	u32 lvt;

	raw_spin_lock_irqsave(&apic->lock, flags);
	lvt = *lapic_reg(apic, APIC_LVTT);
	/* A vector below 16 is a Receive Illegal Vector error instead. */
	if (!(lvt & APIC_LVT_MASKED))
		kick = lapic_accept_vector_locked(apic, lvt & 0xff, false);
	if (lapic_timer_mode(apic) == LAPIC_LVT_PERIODIC) {
		hrtimer_forward_now(t, ns_to_ktime(apic->period_ns));
		ret = HRTIMER_RESTART;
	} else if (lapic_timer_mode(apic) == LAPIC_LVT_DEADLINE) {
		apic->tsc_deadline = 0;
	}
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	if (kick)
		lapic_kick(apic);
	return ret;
}

void lapic_timer_init(struct vhm_lapic *apic)
{
	vhm_hrtimer_setup(&apic->timer, lapic_timer_fn, CLOCK_MONOTONIC,
			  HRTIMER_MODE_REL_HARD);
}

/* A write to the initial count: stop, and start again unless 0. */
void lapic_timer_start(struct vhm_lapic *apic, u32 count)
{
	unsigned long flags;
	u64 ns;

	/* It waits for the handler: not under the lock. */
	hrtimer_cancel(&apic->timer);
	raw_spin_lock_irqsave(&apic->lock, flags);
	if (lapic_timer_mode(apic) == LAPIC_LVT_DEADLINE)
		goto unlock;	/* the initial count is ignored then */
	*lapic_reg(apic, APIC_TMICT) = count;
	ns = lapic_period_ns(apic, count);
	apic->period_ns = ns;
	if (count)
		hrtimer_start(&apic->timer, ns_to_ktime(ns),
			      HRTIMER_MODE_REL_HARD);
unlock:
	raw_spin_unlock_irqrestore(&apic->lock, flags);
}

u32 lapic_timer_current(struct vhm_lapic *apic)
{
	s64 left;

	if (lapic_timer_mode(apic) == LAPIC_LVT_DEADLINE ||
	    !hrtimer_active(&apic->timer))
		return 0;
	left = ktime_to_ns(hrtimer_get_remaining(&apic->timer));
	if (left <= 0)
		return 0;
	return div_u64(left, lapic_divide(apic));
}

/*
 * A write of val to TDCR, lock not held. A count in progress goes on from
 * where it is at the new rate (as KVM's update_target_expiration()): the
 * current count is kept, the time left and the period are scaled. A
 * one-shot that has fired stays stopped.
 */
void lapic_timer_divide_change(struct vhm_lapic *apic, u32 val)
{
	unsigned long flags;
	u32 old_div = lapic_divide(apic);
	bool counting;
	s64 left = 0;

	counting = lapic_timer_mode(apic) != LAPIC_LVT_DEADLINE &&
		   hrtimer_active(&apic->timer);
	if (counting) {
		left = ktime_to_ns(hrtimer_get_remaining(&apic->timer));
		/* It waits for the handler: not under the lock. */
		counting = hrtimer_cancel(&apic->timer);
	}
	raw_spin_lock_irqsave(&apic->lock, flags);
	*lapic_reg(apic, APIC_TDCR) = val & 0xb;
	if (!counting)
		goto unlock;
	left = max_t(s64, left, 0);
	left = div_u64(left, old_div) * lapic_divide(apic);
	apic->period_ns = lapic_period_ns(apic, *lapic_reg(apic, APIC_TMICT));
	hrtimer_start(&apic->timer, ns_to_ktime(left), HRTIMER_MODE_REL_HARD);
unlock:
	raw_spin_unlock_irqrestore(&apic->lock, flags);
}

/* Whether the timer is armed and fires within ns (any mode). */
bool lapic_timer_due_within(struct vhm_lapic *apic, u64 ns)
{
	return hrtimer_active(&apic->timer) &&
	       ktime_to_ns(hrtimer_get_remaining(&apic->timer)) <= (s64)ns;
}

/*
 * Before a write of val to LVT timer, lock not held: a change of mode
 * disarms the timer (the count and the deadline start from zero).
 */
void lapic_timer_mode_change(struct vhm_lapic *apic, u32 val)
{
	unsigned long flags;

	if ((val & LAPIC_LVT_TIMER_MODE) == lapic_timer_mode(apic))
		return;
	hrtimer_cancel(&apic->timer);
	raw_spin_lock_irqsave(&apic->lock, flags);
	*lapic_reg(apic, APIC_TMICT) = 0;
	apic->tsc_deadline = 0;
	raw_spin_unlock_irqrestore(&apic->lock, flags);
}

u64 vhm_lapic_get_tsc_deadline(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;

	if (lapic_timer_mode(apic) != LAPIC_LVT_DEADLINE)
		return 0;
	return READ_ONCE(apic->tsc_deadline);
}

/* The guest's TSC cycles from now to deadline, in host ns (0: past). */
static u64 lapic_deadline_ns(struct vhm_vcpu *vcpu, u64 deadline)
{
	u64 now;

	if (vhm_get_msr(vcpu, MSR_IA32_TSC, &now) || deadline <= now ||
	    !tsc_khz)
		return 0;
	return mul_u64_u32_div(deadline - now, NSEC_PER_MSEC, tsc_khz);
}

/* WRMSR IA32_TSC_DEADLINE from the vCPU thread: ignored in other modes. */
void vhm_lapic_set_tsc_deadline(struct vhm_vcpu *vcpu, u64 deadline)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;
	u64 ns;

	if (lapic_timer_mode(apic) != LAPIC_LVT_DEADLINE)
		return;
	hrtimer_cancel(&apic->timer);
	ns = deadline ? lapic_deadline_ns(vcpu, deadline) : 0;
	raw_spin_lock_irqsave(&apic->lock, flags);
	apic->tsc_deadline = deadline;
	if (deadline)
		hrtimer_start(&apic->timer, ns_to_ktime(ns),
			      HRTIMER_MODE_REL_HARD);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
}
