// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel local APIC, xAPIC mode (docs/API.md, VHM_CREATE_LAPIC).
 *
 * The guest's loads and stores to the APIC page (IA32_APIC_BASE) come
 * here from the MMIO path instead of exiting. Interrupts the APIC accepts
 * (its timer, a self-IPI) go into IRR; before each entry the highest one
 * above the processor priority becomes the vendor's pending external
 * interrupt, which the vendor delivers when the guest can take it
 * ("Event delivery"). Once it has left the vendor's state it has been
 * delivered: it moves from IRR to ISR then, at the next entry or APIC
 * access, whichever comes first.
 *
 * The timer counts a 1 GHz bus clock through the divide configuration
 * (one count = divide ns), on a host hrtimer.
 *
 * Limits of this first version: a vector handed to the vendor stays there
 * until delivered, even if the guest raises its TPR above it or a higher
 * vector arrives meanwhile (while the guest keeps IF clear); a vector the
 * VMM withdraws with VHM_SET_VCPU_EVENTS counts as delivered. Only
 * self-IPIs; no state save/restore ioctls yet.
 */
#include <linux/bitops.h>
#include <linux/hrtimer.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <asm/apicdef.h>
#include <asm/msr-index.h>

#include "compat.h"
#include "lapic.h"
#include "vhm.h"
#include "vm.h"

#define LAPIC_NR_REGS		64	/* 16-byte registers 0x000-0x3f0 */
#define LAPIC_VERSION		0x00050014	/* integrated, max LVT 5 */
#define LAPIC_SVR_VALID		0x1ff	/* vector and software enable */
#define LAPIC_LVT_TIMER_MODE	(3u << 17)
#define LAPIC_LVT_PERIODIC	(1u << 17)
#define LAPIC_ICR_VALID		0x000ccfff	/* what the ICR keeps */
#define LAPIC_ICR_SHORTHAND	(3u << 18)
#define LAPIC_ICR_SELF		(1u << 18)
#define LAPIC_ICR_MODE		(7u << 8)	/* 0: fixed */
#define LAPIC_ICR_LOGICAL	(1u << 11)
/* A periodic timer fires at most this often (ns): the host's protection. */
#define LAPIC_MIN_PERIOD_NS	10000

struct vhm_lapic {
	struct vhm_vcpu *vcpu;
	spinlock_t lock;	/* regs, queued; taken from the hrtimer too */
	u32 regs[LAPIC_NR_REGS];
	int queued;		/* the vendor's pending interrupt, or -1 */
	struct hrtimer timer;
	u64 period_ns;		/* of the running count */
	wait_queue_head_t halt_wq;
};

static inline u32 *lapic_reg(struct vhm_lapic *apic, unsigned int offset)
{
	return &apic->regs[offset >> 4];
}

/* IRR, ISR and TMR: 8 registers of 32 bits, vector v in bit v % 32. */
static void lapic_set_vec(struct vhm_lapic *apic, unsigned int base, u8 v)
{
	*lapic_reg(apic, base + (v >> 5) * 0x10) |= BIT(v & 31);
}

static void lapic_clear_vec(struct vhm_lapic *apic, unsigned int base, u8 v)
{
	*lapic_reg(apic, base + (v >> 5) * 0x10) &= ~BIT(v & 31);
}

/* The highest vector set in IRR or ISR, or -1. */
static int lapic_highest(struct vhm_lapic *apic, unsigned int base)
{
	int i;
	u32 w;

	for (i = 7; i >= 0; i--) {
		w = *lapic_reg(apic, base + i * 0x10);
		if (w)
			return i * 32 + __fls(w);
	}
	return -1;
}

static u32 lapic_ppr(struct vhm_lapic *apic)
{
	u32 tpr = *lapic_reg(apic, APIC_TASKPRI) & 0xff;
	int isrv = lapic_highest(apic, APIC_ISR);

	if (isrv < 0 || (tpr >> 4) >= ((u32)isrv >> 4))
		return tpr;
	return isrv & 0xf0;
}

static bool lapic_sw_enabled(struct vhm_lapic *apic)
{
	return *lapic_reg(apic, APIC_SPIV) & APIC_SPIV_APIC_ENABLED;
}

/* The IRR vector to deliver now, or -1; lock held. */
static int lapic_deliverable(struct vhm_lapic *apic)
{
	int irrv = lapic_highest(apic, APIC_IRR);

	if (irrv < 0 || !lapic_sw_enabled(apic))
		return -1;
	if (((u32)irrv >> 4) <= (lapic_ppr(apic) >> 4))
		return -1;
	return irrv;
}

/* The queued vector has been delivered: IRR to ISR. Lock held. */
static void lapic_delivered(struct vhm_lapic *apic)
{
	if (apic->queued < 0)
		return;
	lapic_clear_vec(apic, APIC_IRR, apic->queued);
	lapic_set_vec(apic, APIC_ISR, apic->queued);
	apic->queued = -1;
}

/* Whether the queued vector left the vendor's state (delivered). */
static bool lapic_vendor_idle(struct vhm_vcpu *vcpu)
{
	struct vhm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	vhm_ops->get_events(vcpu, &ev);
	return !(ev.flags & VHM_EVENT_INTERRUPT);
}

/* Before looking at ISR or PPR from the vCPU thread. */
static void lapic_sync(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;

	if (!lapic_vendor_idle(vcpu))
		return;
	spin_lock_irqsave(&apic->lock, flags);
	lapic_delivered(apic);
	spin_unlock_irqrestore(&apic->lock, flags);
}

int vhm_lapic_next_irq(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;
	int v;

	spin_lock(&apic->lock);
	lapic_delivered(apic);
	v = lapic_deliverable(apic);
	apic->queued = v;
	spin_unlock(&apic->lock);
	return v;
}

/*
 * Make the vCPU see a new IRR bit: wake it from HLT, or make it exit if
 * it is in the guest on another CPU. Pairs with the barrier after the
 * vendor sets in_guest: either it sees IRR at entry or the IPI comes.
 */
static void lapic_kick(struct vhm_lapic *apic)
{
	struct vhm_vcpu *vcpu = apic->vcpu;
	int cpu;

	wake_up_interruptible(&apic->halt_wq);
	/* IRR before in_guest; pairs with the barrier after setting it. */
	smp_mb();
	if (!READ_ONCE(vcpu->in_guest))
		return;
	cpu = READ_ONCE(vcpu->cpu);
	if (cpu != raw_smp_processor_id())
		vhm_send_reschedule(cpu);
}

/* ---------------------------------------------------------------------
 * The timer.
 */

static u32 lapic_divide(struct vhm_lapic *apic)
{
	u32 dcr = *lapic_reg(apic, APIC_TDCR);
	u32 v = (dcr & 3) | ((dcr & 8) >> 1);

	return 1u << ((v + 1) & 7);
}

static enum hrtimer_restart lapic_timer_fn(struct hrtimer *t)
{
	struct vhm_lapic *apic = container_of(t, struct vhm_lapic, timer);
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	unsigned long flags;
	u32 lvt;

	spin_lock_irqsave(&apic->lock, flags);
	lvt = *lapic_reg(apic, APIC_LVTT);
	if (!(lvt & APIC_LVT_MASKED))
		lapic_set_vec(apic, APIC_IRR, lvt & 0xff);
	if ((lvt & LAPIC_LVT_TIMER_MODE) == LAPIC_LVT_PERIODIC) {
		hrtimer_forward_now(t, ns_to_ktime(apic->period_ns));
		ret = HRTIMER_RESTART;
	}
	spin_unlock_irqrestore(&apic->lock, flags);
	lapic_kick(apic);
	return ret;
}

/* A write to the initial count: stop, and start again unless 0. */
static void lapic_timer_start(struct vhm_lapic *apic, u32 count)
{
	unsigned long flags;
	u32 lvt;
	u64 ns;

	/* It waits for the handler: not under the lock. */
	hrtimer_cancel(&apic->timer);
	spin_lock_irqsave(&apic->lock, flags);
	*lapic_reg(apic, APIC_TMICT) = count;
	lvt = *lapic_reg(apic, APIC_LVTT);
	ns = (u64)count * lapic_divide(apic);
	if ((lvt & LAPIC_LVT_TIMER_MODE) == LAPIC_LVT_PERIODIC)
		ns = max_t(u64, ns, LAPIC_MIN_PERIOD_NS);
	apic->period_ns = ns;
	if (count)
		hrtimer_start(&apic->timer, ns_to_ktime(ns), HRTIMER_MODE_REL);
	spin_unlock_irqrestore(&apic->lock, flags);
}

static u32 lapic_timer_current(struct vhm_lapic *apic)
{
	s64 left;

	if (!hrtimer_active(&apic->timer))
		return 0;
	left = ktime_to_ns(hrtimer_get_remaining(&apic->timer));
	if (left <= 0)
		return 0;
	return div_u64(left, lapic_divide(apic));
}

/* ---------------------------------------------------------------------
 * Registers.
 */

static void lapic_eoi(struct vhm_lapic *apic)
{
	int isrv = lapic_highest(apic, APIC_ISR);

	if (isrv >= 0)
		lapic_clear_vec(apic, APIC_ISR, isrv);
}

/*
 * A write to ICR low: fixed-mode self-IPIs only (the self shorthand, or
 * physical destination this APIC's ID). Other IPIs are ignored.
 */
static void lapic_icr_write(struct vhm_lapic *apic, u32 val)
{
	u32 dest = *lapic_reg(apic, APIC_ICR2) >> 24;
	u32 id = *lapic_reg(apic, APIC_ID) >> 24;
	bool self;

	*lapic_reg(apic, APIC_ICR) = val & LAPIC_ICR_VALID;
	if (val & LAPIC_ICR_MODE)
		return;
	self = (val & LAPIC_ICR_SHORTHAND) == LAPIC_ICR_SELF ||
	       (!(val & LAPIC_ICR_SHORTHAND) && !(val & LAPIC_ICR_LOGICAL) &&
		dest == id);
	if (self)
		lapic_set_vec(apic, APIC_IRR, val & 0xff);
}

static void lapic_mask_lvts(struct vhm_lapic *apic)
{
	unsigned int off;

	for (off = APIC_LVTT; off <= APIC_LVTERR; off += 0x10)
		*lapic_reg(apic, off) |= APIC_LVT_MASKED;
}

static void lapic_lvt_write(struct vhm_lapic *apic, unsigned int off, u32 val)
{
	u32 valid = APIC_LVT_MASKED | 0xff;

	if (off == APIC_LVTT)
		valid |= LAPIC_LVT_TIMER_MODE;
	else if (off != APIC_LVTERR)
		valid |= 0x700 | APIC_LVT_LEVEL_TRIGGER | APIC_INPUT_POLARITY;
	if (!lapic_sw_enabled(apic))
		val |= APIC_LVT_MASKED;
	*lapic_reg(apic, off) = val & valid;
}

/* Lock held. */
static void lapic_write_locked(struct vhm_lapic *apic, unsigned int off,
			       u32 val)
{
	switch (off) {
	case APIC_ID:
		*lapic_reg(apic, off) = val & 0xff000000;
		break;
	case APIC_TASKPRI:
		*lapic_reg(apic, off) = val & 0xff;
		break;
	case APIC_EOI:
		lapic_eoi(apic);
		break;
	case APIC_LDR:
		*lapic_reg(apic, off) = val & 0xff000000;
		break;
	case APIC_DFR:
		*lapic_reg(apic, off) = val | 0x0fffffff;
		break;
	case APIC_SPIV:
		*lapic_reg(apic, off) = val & LAPIC_SVR_VALID;
		if (!(val & APIC_SPIV_APIC_ENABLED))
			lapic_mask_lvts(apic);
		break;
	case APIC_ESR:
		*lapic_reg(apic, off) = 0;	/* no error is ever recorded */
		break;
	case APIC_ICR:
		lapic_icr_write(apic, val);
		break;
	case APIC_ICR2:
		*lapic_reg(apic, off) = val & 0xff000000;
		break;
	case APIC_LVTT ... APIC_LVTERR:
		if (!(off & 0xf))
			lapic_lvt_write(apic, off, val);
		break;
	case APIC_TDCR:
		*lapic_reg(apic, off) = val & 0xb;
		break;
	default:
		break;	/* read-only or reserved: ignored */
	}
}

static u32 lapic_read_locked(struct vhm_lapic *apic, unsigned int off)
{
	switch (off) {
	case APIC_LVR:
		return LAPIC_VERSION;
	case APIC_ARBPRI:
		return 0;
	case APIC_PROCPRI:
		return lapic_ppr(apic);
	case APIC_EOI:
	case APIC_TMCCT:
		return 0;	/* TMCCT: read without the lock */
	default:
		return *lapic_reg(apic, off);
	}
}

/* Registers are 32 bits at 16-byte offsets; other accesses read 0. */
static bool lapic_reg_ok(unsigned int offset)
{
	return !(offset & 0xf) && offset < LAPIC_NR_REGS * 0x10;
}

u32 vhm_lapic_read(struct vhm_vcpu *vcpu, unsigned int offset)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;
	u32 val;

	if (!lapic_reg_ok(offset))
		return 0;
	if (offset == APIC_TMCCT)
		return lapic_timer_current(apic);
	lapic_sync(vcpu);
	spin_lock_irqsave(&apic->lock, flags);
	val = lapic_read_locked(apic, offset);
	spin_unlock_irqrestore(&apic->lock, flags);
	return val;
}

void vhm_lapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;

	if (!lapic_reg_ok(offset))
		return;
	if (offset == APIC_TMICT) {
		lapic_timer_start(apic, val);
		return;
	}
	lapic_sync(vcpu);
	spin_lock_irqsave(&apic->lock, flags);
	lapic_write_locked(apic, offset, val);
	spin_unlock_irqrestore(&apic->lock, flags);
}

bool vhm_lapic_covers(struct vhm_vcpu *vcpu, u64 gpa)
{
	u64 base = vcpu->apic_base;

	if (!vcpu->lapic || !(base & MSR_IA32_APICBASE_ENABLE))
		return false;
	return (gpa & PAGE_MASK) == (base & MSR_IA32_APICBASE_BASE);
}

static bool lapic_has_irq(struct vhm_lapic *apic)
{
	unsigned long flags;
	bool r;

	spin_lock_irqsave(&apic->lock, flags);
	r = lapic_deliverable(apic) >= 0;
	spin_unlock_irqrestore(&apic->lock, flags);
	return r;
}

int vhm_lapic_halt(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;

	lapic_sync(vcpu);
	if (wait_event_interruptible(apic->halt_wq, lapic_has_irq(apic)))
		return -EINTR;
	return 0;
}

/* ---------------------------------------------------------------------
 * Creation.
 */

static void lapic_reset(struct vhm_lapic *apic)
{
	*lapic_reg(apic, APIC_ID) = apic->vcpu->id << 24;
	*lapic_reg(apic, APIC_DFR) = 0xffffffff;
	*lapic_reg(apic, APIC_SPIV) = 0xff;
	lapic_mask_lvts(apic);
	apic->queued = -1;
}

int vhm_lapic_vcpu_init(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic;

	if (!vcpu->vm->lapic)
		return 0;
	apic = kzalloc(sizeof(*apic), GFP_KERNEL_ACCOUNT);
	if (!apic)
		return -ENOMEM;
	apic->vcpu = vcpu;
	spin_lock_init(&apic->lock);
	init_waitqueue_head(&apic->halt_wq);
	vhm_hrtimer_setup(&apic->timer, lapic_timer_fn, CLOCK_MONOTONIC,
			  HRTIMER_MODE_REL);
	lapic_reset(apic);
	vcpu->lapic = apic;
	return 0;
}

void vhm_lapic_vcpu_free(struct vhm_vcpu *vcpu)
{
	if (!vcpu->lapic)
		return;
	hrtimer_cancel(&vcpu->lapic->timer);
	kfree(vcpu->lapic);
	vcpu->lapic = NULL;
}

long vhm_vm_create_lapic(struct vhm_vm *vm,
			 const struct vhm_create_lapic __user *u)
{
	struct vhm_create_lapic c;
	long r = 0;

	if (copy_from_user(&c, u, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.padding || memchr_inv(c.reserved, 0, sizeof(c.reserved)))
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (vm->lapic)
		r = -EEXIST;
	else if (vm->vcpu_created)
		r = -EBUSY;
	else
		vm->lapic = true;
	mutex_unlock(&vm->lock);
	return r;
}
