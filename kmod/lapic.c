// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel local APIC (docs/API.md, VHM_CREATE_LAPIC).
 *
 * The guest's loads and stores to the APIC page (IA32_APIC_BASE) come
 * here from the MMIO path instead of exiting; in x2APIC mode its RDMSR and
 * WRMSR of 0x800-0x8ff do (msrs.c). Interrupts the APIC accepts (its
 * timer, IPIs, the IOAPIC's messages) go into IRR; before each entry the
 * highest one above the processor priority becomes the vendor's pending
 * external interrupt, which the vendor delivers when the guest can take it
 * ("Event delivery"). Once it has left the vendor's state it has been
 * delivered: it moves from IRR to ISR then, at the next entry or APIC
 * access, whichever comes first.
 *
 * The timer counts a 1 GHz bus clock through the divide configuration
 * (one count = divide ns), on a host hrtimer; in TSC-deadline mode the
 * hrtimer expires when the guest's TSC reaches IA32_TSC_DEADLINE.
 *
 * IPIs (fixed, lowest priority, NMI, INIT, SIPI) go to the VM's other
 * APICs under RCU, as TLB shootdowns find vCPUs. INIT puts the target in
 * wait-for-SIPI; vCPUs other than 0 start there. The vCPU thread itself
 * sleeps in VHM_RUN until a SIPI starts it in real mode at vector << 12.
 *
 * The CPU acknowledges an interrupt (INTA) only when it delivers it: until
 * then the vector handed to the vendor is weighed again at each entry, and
 * a higher one that arrived meanwhile, or a TPR raised above it, replaces
 * or withdraws it (while the guest keeps IF clear, say). One whose
 * delivery an exit cut short was acknowledged: it stays, and so does one
 * the VMM set with VHM_SET_VCPU_EVENTS.
 *
 * Limits: a vector the VMM withdraws with VHM_SET_VCPU_EVENTS counts as
 * delivered. Lowest priority goes to the first APIC that matches. No
 * state save/restore ioctls yet. CR8 is the TPR's priority class
 * (vhm_lapic_get_cr8()).
 *
 * Locking: apic->lock is a raw spinlock, the innermost lock (lapic_priv.h,
 * docs/ARCHITECTURE.md). Nothing under it sleeps on PREEMPT_RT: wake-ups
 * and IPIs (lapic_kick()) and the IOAPIC's EOI come after it is dropped.
 */
#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/lockdep.h>
#include <linux/rcuwait.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <asm/apicdef.h>
#include <asm/msr-index.h>

#include "compat.h"
#include "ioapic.h"
#include "lapic.h"
#include "lapic_priv.h"
#include "vhm.h"
#include "vm.h"

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

/* IA32_APIC_BASE's global enable: without it the APIC does nothing. */
static bool lapic_hw_enabled(struct vhm_lapic *apic)
{
	return apic->vcpu->apic_base & MSR_IA32_APICBASE_ENABLE;
}

/* The IRR vector to deliver now, or -1; lock held. */
static int lapic_deliverable(struct vhm_lapic *apic)
{
	int irrv;

	lockdep_assert_held(&apic->lock);
	irrv = lapic_highest(apic, APIC_IRR);
	if (irrv < 0 || !lapic_sw_enabled(apic) || !lapic_hw_enabled(apic))
		return -1;
	if (((u32)irrv >> 4) <= (lapic_ppr(apic) >> 4))
		return -1;
	return irrv;
}

/* The queued vector has been delivered: IRR to ISR. Lock held. */
static void lapic_delivered(struct vhm_lapic *apic)
{
	lockdep_assert_held(&apic->lock);
	if (apic->queued < 0)
		return;
	lapic_clear_vec(apic, APIC_IRR, apic->queued);
	lapic_set_vec(apic, APIC_ISR, apic->queued);
	apic->queued = -1;
}

/* Whether the queued vector left the vendor's state (delivered). */
static bool lapic_vendor_idle(struct vhm_vcpu *vcpu)
{
	return !(vcpu->events.flags & VHM_EVENT_INTERRUPT);
}

/* Before looking at ISR or PPR from the vCPU thread. */
static void lapic_sync(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;

	if (!lapic_vendor_idle(vcpu))
		return;
	raw_spin_lock_irqsave(&apic->lock, flags);
	lapic_delivered(apic);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
}

/*
 * The vendor's pending interrupt is acknowledged (its delivery began and
 * an exit cut it short, or the VMM set the event queue): IRR to ISR now,
 * and it is no longer weighed against newer vectors.
 */
void vhm_lapic_ack(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;

	if (!apic)
		return;
	raw_spin_lock_irqsave(&apic->lock, flags);
	lapic_delivered(apic);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
}

/*
 * Make the vCPU see new state (IRR, an NMI, INIT, SIPI): wake it from
 * HLT or the wait for SIPI, or make it exit if it is in the guest on
 * another CPU. Pairs with the barrier after the vendor sets in_guest:
 * either it sees the state at entry or the IPI comes.
 *
 * Called without apic->lock, from any context: the vCPU threads, the
 * IOAPIC under its lock, and the timer's hrtimer in hard-interrupt
 * context (also on PREEMPT_RT). So no sleeping lock here: the rcuwait's
 * wake-up and the reschedule IPI take only raw locks.
 *
 * vcpu->cpu is read racily: the vCPU may have left that CPU since, and
 * the CPU may have gone offline (hotplug). An offline CPU gets no IPI
 * (the kernel WARNs on a reschedule IPI to one) and needs none: a vCPU is
 * in guest mode only on an online CPU with interrupts off, so one whose
 * CPU went offline has exited, and its next entry sets in_guest, then a
 * full barrier, then reads the APIC state we published before our own
 * barrier. With preemption off, a CPU found online cannot finish going
 * offline (that needs the stop-machine thread on every online CPU) before
 * the IPI is sent.
 */
void lapic_kick(struct vhm_lapic *apic)
{
	struct vhm_vcpu *vcpu = apic->vcpu;
	int cpu;

	rcuwait_wake_up(&apic->wait);
	/* The state before in_guest; pairs with the barrier after setting it. */
	smp_mb();
	if (!READ_ONCE(vcpu->in_guest))
		return;
	cpu = READ_ONCE(vcpu->cpu);
	preempt_disable();
	if (cpu != smp_processor_id() && (unsigned int)cpu < nr_cpu_ids &&
	    cpu_online(cpu))
		vhm_send_reschedule(cpu);
	preempt_enable();
}

bool lapic_x2apic(struct vhm_lapic *apic)
{
	return apic->vcpu->apic_base & X2APIC_ENABLE;
}

/*
 * Interrupts off (the vendors' entry hook): the NMIs the APIC latched go
 * to the event queue, which holds one; the APIC keeps the other. The CPU
 * latches one NMI while it handles another, so two may wait while none is
 * in service and one while one is (NMIs masked); more are lost, as KVM
 * counts them too.
 */
static void lapic_take_nmis(struct vhm_vcpu *vcpu)
{
	bool queued = vcpu->events.flags & VHM_EVENT_NMI_PENDING;
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned int limit, n;

	if (!READ_ONCE(apic->nmi_count))
		return;
	limit = vhm_ops->get_event_blocking(vcpu) & VHM_EVENT_NMI_MASKED ?
		1 : 2;
	raw_spin_lock(&apic->lock);
	n = min(apic->nmi_count + queued, limit);
	if (n && !queued)
		vhm_queue_nmi(vcpu);
	apic->nmi_count = n ? n - 1 : 0;
	raw_spin_unlock(&apic->lock);
}

bool vhm_lapic_nmi_held(struct vhm_vcpu *vcpu)
{
	return vcpu->lapic && READ_ONCE(vcpu->lapic->nmi_count);
}

void vhm_lapic_pending(struct vhm_vcpu *vcpu)
{
	struct vhm_event_queue *q = &vcpu->events;
	struct vhm_lapic *apic = vcpu->lapic;
	int v;

	lockdep_assert_irqs_disabled();
	lapic_take_nmis(vcpu);
	raw_spin_lock(&apic->lock);
	if (!(q->flags & VHM_EVENT_INTERRUPT)) {
		/* The vector queued last time, if any, was taken. */
		lapic_delivered(apic);
	} else if (apic->queued != q->interrupt_vector) {
		/* Acknowledged already: the vendor delivers it. */
		raw_spin_unlock(&apic->lock);
		return;
	}
	/* Nothing pending, or the APIC's offer, not yet taken: weighed again. */
	v = lapic_deliverable(apic);
	apic->queued = v;
	raw_spin_unlock(&apic->lock);
	if (v >= 0)
		vhm_queue_interrupt(vcpu, v);
	else
		vhm_dequeue_interrupt(vcpu);
}

/* ---------------------------------------------------------------------
 * Errors (SDM vol. 3A, "Error Handling"; AMD APM vol. 2, "APIC Error
 * Interrupts"): an IPI with an illegal vector (0-15) is not sent (Send
 * Illegal Vector), an interrupt with one is not accepted (Receive Illegal
 * Vector), an xAPIC access to a reserved register reads 0 and is dropped
 * (Illegal Register Address). Errors accumulate in esr_pending until the
 * guest writes ESR, which makes them readable and clears them.
 *
 * The error interrupt (LVT Error, fixed, edge) is raised only by an error
 * that adds a bit to esr_pending: the ESR write "rearms" it (SDM), and a
 * guest that keeps making the same error gets one interrupt, not one per
 * error (as Xen). An LVT Error vector below 16 is itself a Receive Illegal
 * Vector error, recorded without a second interrupt.
 */

/* Lock held. True when the error interrupt went to IRR. */
static bool lapic_error_locked(struct vhm_lapic *apic, u32 err)
{
	u32 lvt = *lapic_reg(apic, APIC_LVTERR);

	lockdep_assert_held(&apic->lock);
	if ((apic->esr_pending & err) == err)
		return false;
	apic->esr_pending |= err;
	if (lvt & APIC_LVT_MASKED)
		return false;
	if ((lvt & 0xff) < 16) {
		apic->esr_pending |= APIC_ESR_RECVILL;
		return false;
	}
	lapic_set_vec(apic, APIC_IRR, lvt & 0xff);
	lapic_clear_vec(apic, APIC_TMR, lvt & 0xff);
	return true;
}

void lapic_error(struct vhm_lapic *apic, u32 err)
{
	unsigned long flags;
	bool kick;

	raw_spin_lock_irqsave(&apic->lock, flags);
	kick = lapic_error_locked(apic, err);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	if (kick)
		lapic_kick(apic);
}

bool lapic_accept_vector_locked(struct vhm_lapic *apic, u8 vector,
				bool level)
{
	lockdep_assert_held(&apic->lock);
	/* "The local APIC will never set an IRR bit in the range 0 to 15." */
	if (vector < 16)
		return lapic_error_locked(apic, APIC_ESR_RECVILL);
	lapic_set_vec(apic, APIC_IRR, vector);
	if (level)
		lapic_set_vec(apic, APIC_TMR, vector);
	else
		lapic_clear_vec(apic, APIC_TMR, vector);
	return true;
}

/*
 * A write to ESR: the errors since the last write become readable. x2APIC
 * mode allows only 0 (the caller's #GP); xAPIC ignores the value.
 */
static void lapic_esr_write(struct vhm_lapic *apic)
{
	lockdep_assert_held(&apic->lock);
	*lapic_reg(apic, APIC_ESR) = apic->esr_pending;
	apic->esr_pending = 0;
}

/* ---------------------------------------------------------------------
 * Registers.
 */

/* The vector EOI takes out of ISR, or -1; level-triggered ones. Lock held. */
static int lapic_eoi(struct vhm_lapic *apic)
{
	int isrv;

	lockdep_assert_held(&apic->lock);
	isrv = lapic_highest(apic, APIC_ISR);
	if (isrv < 0)
		return -1;
	lapic_clear_vec(apic, APIC_ISR, isrv);
	return lapic_test_vec(apic, APIC_TMR, isrv) ? isrv : -1;
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

/* Lock held. ICR, TMICT, TDCR and EOI are handled by the caller. */
static void lapic_write_locked(struct vhm_lapic *apic, unsigned int off,
			       u32 val)
{
	lockdep_assert_held(&apic->lock);
	switch (off) {
	case APIC_ID:
		if (!lapic_x2apic(apic))
			*lapic_reg(apic, off) = val & 0xff000000;
		break;
	case APIC_TASKPRI:
		*lapic_reg(apic, off) = val & 0xff;
		break;
	case APIC_LDR:
		if (!lapic_x2apic(apic))
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
		lapic_esr_write(apic);
		break;
	case APIC_ICR2:
		*lapic_reg(apic, off) = lapic_x2apic(apic) ? val :
					val & 0xff000000;
		break;
	case APIC_LVTT ... APIC_LVTERR:
		if (!(off & 0xf))
			lapic_lvt_write(apic, off, val);
		break;
	default:
		break;	/* read-only or reserved: ignored */
	}
}

/* Lock held. */
static u32 lapic_read_locked(struct vhm_lapic *apic, unsigned int off)
{
	lockdep_assert_held(&apic->lock);
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

/*
 * The registers at 0x000-0x3f0, a bit per 16-byte offset (SDM vol. 3A,
 * "Local APIC Register Address Map" and "x2APIC Register Address Space").
 * The rest is reserved, LVT CMCI (0x2f0) included: LAPIC_VERSION says 6
 * LVT entries. In x2APIC mode ARBPRI, RRD, DFR and ICR2 do not exist, EOI
 * and SELF IPI are write-only, and a WRMSR to a read-only register or an
 * access to a missing one is #GP.
 */
#define LAPIC_REG(off)		BIT_ULL((off) >> 4)
#define LAPIC_REGS(off, n)	(LAPIC_REG(off) * (BIT_ULL(n) - 1))
#define LAPIC_X2_READABLE	(LAPIC_REG(APIC_ID) | LAPIC_REG(APIC_LVR) | \
				 LAPIC_REG(APIC_TASKPRI) | \
				 LAPIC_REG(APIC_PROCPRI) | LAPIC_REG(APIC_LDR) | \
				 LAPIC_REG(APIC_SPIV) | LAPIC_REGS(APIC_ISR, 8) | \
				 LAPIC_REGS(APIC_TMR, 8) | \
				 LAPIC_REGS(APIC_IRR, 8) | LAPIC_REG(APIC_ESR) | \
				 LAPIC_REG(APIC_ICR) | LAPIC_REGS(APIC_LVTT, 6) | \
				 LAPIC_REG(APIC_TMICT) | LAPIC_REG(APIC_TMCCT) | \
				 LAPIC_REG(APIC_TDCR))
#define LAPIC_X2_WRITABLE	(LAPIC_REG(APIC_TASKPRI) | LAPIC_REG(APIC_EOI) | \
				 LAPIC_REG(APIC_SPIV) | LAPIC_REG(APIC_ESR) | \
				 LAPIC_REG(APIC_ICR) | LAPIC_REGS(APIC_LVTT, 6) | \
				 LAPIC_REG(APIC_TMICT) | LAPIC_REG(APIC_TDCR) | \
				 LAPIC_REG(LAPIC_X2_SELF_IPI))
#define LAPIC_XAPIC_REGS	(LAPIC_X2_READABLE | LAPIC_REG(APIC_ARBPRI) | \
				 LAPIC_REG(APIC_EOI) | LAPIC_REG(APIC_RRR) | \
				 LAPIC_REG(APIC_DFR) | LAPIC_REG(APIC_ICR2))

/*
 * An aligned xAPIC access: false (and an Illegal Register Address error)
 * for a reserved register, which then reads 0 and ignores writes.
 */
static bool lapic_xapic_reg(struct vhm_vcpu *vcpu, unsigned int offset)
{
	if (LAPIC_XAPIC_REGS & LAPIC_REG(offset))
		return true;
	lapic_error(vcpu->lapic, APIC_ESR_ILLREGA);
	return false;
}

static u32 lapic_read(struct vhm_vcpu *vcpu, unsigned int offset)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;
	u32 val;

	if (offset == APIC_TMCCT)
		return lapic_timer_current(apic);
	lapic_sync(vcpu);
	raw_spin_lock_irqsave(&apic->lock, flags);
	val = lapic_read_locked(apic, offset);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	return val;
}

u32 vhm_lapic_read(struct vhm_vcpu *vcpu, unsigned int offset)
{
	if (!lapic_reg_ok(offset) || !lapic_xapic_reg(vcpu, offset))
		return 0;
	return lapic_read(vcpu, offset);
}

/* A write to ICR (low): the destination is in ICR2 already. */
static void lapic_icr_write(struct vhm_lapic *apic, u32 val)
{
	unsigned long flags;
	u32 dest;

	raw_spin_lock_irqsave(&apic->lock, flags);
	*lapic_reg(apic, APIC_ICR) = val & LAPIC_ICR_VALID;
	dest = *lapic_reg(apic, APIC_ICR2);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	lapic_send_ipi(apic, val, lapic_x2apic(apic) ? dest : dest >> 24);
}

static void lapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;
	int eoi = -1;

	switch (offset) {
	case APIC_TMICT:
		lapic_timer_start(apic, val);
		return;
	case APIC_TDCR:
		lapic_timer_divide_change(apic, val);
		return;
	case APIC_ICR:
		lapic_icr_write(apic, val);
		return;
	case APIC_LVTT:
		lapic_timer_mode_change(apic, val);
		break;
	}
	lapic_sync(vcpu);
	raw_spin_lock_irqsave(&apic->lock, flags);
	if (offset == APIC_EOI)
		eoi = lapic_eoi(apic);
	else
		lapic_write_locked(apic, offset, val);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	if (eoi >= 0)
		vhm_ioapic_eoi(vcpu->vm, eoi);
}

void vhm_lapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val)
{
	if (lapic_reg_ok(offset) && lapic_xapic_reg(vcpu, offset))
		lapic_write(vcpu, offset, val);
}

/*
 * CR8 is the TPR's priority class (SDM vol. 3A, "Task Priority in IA-32e
 * Mode"; AMD APM vol. 2, "CR8 and the Local-APIC TPR"): a read gives
 * TPR[7:4], a write sets TPR[7:4] and clears TPR[3:0]. The vendors call
 * these for the guest's MOV CR8 and VHM_GET/SET_SREGS's cr8; a read
 * needs no lock (one register, written whole).
 */
u64 vhm_lapic_get_cr8(struct vhm_vcpu *vcpu)
{
	return (READ_ONCE(*lapic_reg(vcpu->lapic, APIC_TASKPRI)) >> 4) & 0xf;
}

void vhm_lapic_set_cr8(struct vhm_vcpu *vcpu, u64 cr8)
{
	lapic_write(vcpu, APIC_TASKPRI, (cr8 & 0xf) << 4);
}

bool vhm_lapic_covers(struct vhm_vcpu *vcpu, u64 gpa)
{
	u64 base = vcpu->apic_base;

	if (!vcpu->lapic || !(base & MSR_IA32_APICBASE_ENABLE) ||
	    (base & X2APIC_ENABLE))
		return false;
	return (gpa & PAGE_MASK) == (base & MSR_IA32_APICBASE_BASE);
}

/* ---------------------------------------------------------------------
 * x2APIC: MSR 0x800 + offset / 16, in x2APIC mode only.
 */

bool vhm_lapic_is_x2apic_msr(struct vhm_vcpu *vcpu, u32 index)
{
	return vcpu->lapic && index >= APIC_BASE_MSR &&
	       index < APIC_BASE_MSR + LAPIC_NR_REGS;
}

int vhm_lapic_rdmsr(struct vhm_vcpu *vcpu, u32 index, u64 *data)
{
	unsigned int off = (index - APIC_BASE_MSR) << 4;
	struct vhm_lapic *apic = vcpu->lapic;

	if (!lapic_x2apic(apic) || !(LAPIC_X2_READABLE & LAPIC_REG(off)))
		return -EINVAL;
	*data = lapic_read(vcpu, off);
	if (off == APIC_ICR)
		*data |= (u64)*lapic_reg(apic, APIC_ICR2) << 32;
	return 0;
}

int vhm_lapic_wrmsr(struct vhm_vcpu *vcpu, u32 index, u64 data)
{
	unsigned int off = (index - APIC_BASE_MSR) << 4;
	struct vhm_lapic *apic = vcpu->lapic;

	if (!lapic_x2apic(apic) || !(LAPIC_X2_WRITABLE & LAPIC_REG(off)) ||
	    (off != APIC_ICR && (data >> 32)) || (off == APIC_ESR && data))
		return -EINVAL;
	if (off == LAPIC_X2_SELF_IPI) {
		if (data > 0xff)
			return -EINVAL;
		lapic_send_ipi(apic, (u32)data | APIC_DEST_SELF, 0);
		return 0;
	}
	if (off == APIC_ICR) {
		raw_spin_lock_irq(&apic->lock);
		*lapic_reg(apic, APIC_ICR2) = data >> 32;
		raw_spin_unlock_irq(&apic->lock);
	}
	lapic_write(vcpu, off, (u32)data);
	return 0;
}

/*
 * The two x2APIC writes of an IPI's round trip, from the vendors' fast
 * exit table (interrupts off, the guest's FPU loaded: nothing may sleep).
 * The EOI of an edge-triggered vector (a level-triggered one tells the
 * IOAPIC, whose lock sleeps on PREEMPT_RT); a fixed IPI of a valid vector.
 * Anything else, false: vhm_lapic_wrmsr() on the slow path does it all.
 */
static bool lapic_eoi_edge(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;
	bool done;
	int isrv;

	raw_spin_lock(&apic->lock);
	if (lapic_vendor_idle(vcpu))
		lapic_delivered(apic);
	isrv = lapic_highest(apic, APIC_ISR);
	done = isrv < 0 || !lapic_test_vec(apic, APIC_TMR, isrv);
	if (done)
		lapic_eoi(apic);
	raw_spin_unlock(&apic->lock);
	return done;
}

static bool lapic_icr_fixed(struct vhm_lapic *apic, u64 data)
{
	u32 icr = (u32)data;

	if (LAPIC_ICR_MODE(icr) != LAPIC_DM_FIXED || (icr & 0xff) < 16)
		return false;
	raw_spin_lock(&apic->lock);
	*lapic_reg(apic, APIC_ICR2) = data >> 32;
	*lapic_reg(apic, APIC_ICR) = icr & LAPIC_ICR_VALID;
	raw_spin_unlock(&apic->lock);
	lapic_send_ipi(apic, icr, data >> 32);
	return true;
}

bool vhm_lapic_wrmsr_fast(struct vhm_vcpu *vcpu, u32 index, u64 data)
{
	lockdep_assert_irqs_disabled();
	if (!vcpu->lapic || !lapic_x2apic(vcpu->lapic))
		return false;
	if (index == APIC_BASE_MSR + (APIC_EOI >> 4))
		return !data && lapic_eoi_edge(vcpu);
	if (index == APIC_BASE_MSR + (APIC_ICR >> 4))
		return lapic_icr_fixed(vcpu->lapic, data);
	return false;
}

/* The IDs of the mode: xAPIC's 8-bit ID, or x2APIC's 32-bit ID and LDR. */
static void lapic_set_ids(struct vhm_lapic *apic, bool x2apic)
{
	u32 id = apic->vcpu->id;

	if (!x2apic) {
		*lapic_reg(apic, APIC_ID) = id << 24;
		*lapic_reg(apic, APIC_LDR) = 0;
		return;
	}
	*lapic_reg(apic, APIC_ID) = id;
	*lapic_reg(apic, APIC_LDR) = ((id >> 4) << 16) | BIT(id & 0xf);
}

/*
 * The registers after power-up or RESET (SDM vol. 3A, "Local APIC State
 * After Power-Up or Reset"), in xAPIC mode: 0 but the ID, DFR, SVR
 * (software-disabled) and the masked LVTs; no error recorded. Lock held,
 * or the APIC not yet visible; the caller has stopped the timer.
 */
static void lapic_reset_regs(struct vhm_lapic *apic)
{
	memset(apic->regs, 0, sizeof(apic->regs));
	lapic_set_ids(apic, false);
	*lapic_reg(apic, APIC_DFR) = 0xffffffff;
	*lapic_reg(apic, APIC_SPIV) = 0xff;
	lapic_mask_lvts(apic);
	apic->esr_pending = 0;
	apic->period_ns = 0;
	apic->tsc_deadline = 0;
	apic->queued = -1;
}

/*
 * IA32_APIC_BASE's new value, under the lock: IPIs and the IOAPIC check
 * the enable bit under the target's lock (lapic_accept_locked()), so none
 * that saw the APIC enabled sets IRR after the reset below. Going from
 * enabled to disabled resets the APIC: the SDM says its state "may be
 * lost" and "may return to the state ... after power-up or reset", and
 * that across the only way from x2APIC to xAPIC mode (through disabled)
 * no register but the x2APIC ID is kept; QEMU and Bochs software-disable
 * it there too. So it comes back enabled as after RESET, in xAPIC mode
 * with its initial ID (KVM too gives it that ID again), and the timer
 * stops. A vector already handed to the vendor (queued, not yet taken
 * because of IF) is taken back: a disabled APIC delivers nothing. The
 * vCPU thread (an exit handler, an ioctl) owns the event queue. CR8 keeps
 * reaching the TPR meanwhile.
 */
static void lapic_set_base_locked(struct vhm_lapic *apic, u64 data)
{
	struct vhm_vcpu *vcpu = apic->vcpu;
	u64 old = vcpu->apic_base;

	lockdep_assert_held(&apic->lock);
	WRITE_ONCE(vcpu->apic_base, data);
	if ((old & MSR_IA32_APICBASE_ENABLE) &&
	    !(data & MSR_IA32_APICBASE_ENABLE)) {
		if (apic->queued >= 0 && !lapic_vendor_idle(vcpu))
			vhm_dequeue_interrupt(vcpu);
		lapic_reset_regs(apic);
	} else if ((old ^ data) & X2APIC_ENABLE)
		lapic_set_ids(apic, data & X2APIC_ENABLE);
}

/*
 * IA32_APIC_BASE with the APIC: x2APIC mode needs the APIC enabled, and
 * the guest enters it only from xAPIC mode and leaves it only by
 * disabling the APIC (SDM vol. 3A, "x2APIC State Transitions": other
 * transitions are #GP); the VMM (host: VHM_SET_MSRS, VHM_SET_SREGS) may
 * restore any valid state. A change of mode sets the mode's APIC ID and
 * LDR, whoever makes it.
 */
int vhm_lapic_set_base(struct vhm_vcpu *vcpu, u64 data, bool host)
{
	bool was_en = vcpu->apic_base & MSR_IA32_APICBASE_ENABLE;
	bool was_x2 = vcpu->apic_base & X2APIC_ENABLE;
	bool en = data & MSR_IA32_APICBASE_ENABLE;
	bool x2 = data & X2APIC_ENABLE;
	struct vhm_lapic *apic = vcpu->lapic;

	if (x2 && !en)
		return -EINVAL;
	if (!host && ((was_x2 && !x2 && en) || (!was_en && x2)))
		return -EINVAL;
	if (!apic) {
		vcpu->apic_base = data;
		return 0;
	}
	/* It waits for the handler: not under the lock. */
	if (was_en && !en)
		hrtimer_cancel(&apic->timer);
	raw_spin_lock_irq(&apic->lock);
	lapic_set_base_locked(apic, data);
	raw_spin_unlock_irq(&apic->lock);
	return 0;
}

/* An interrupt to deliver, an NMI or an INIT ends a HLT. */
static bool lapic_wakes_hlt(struct vhm_lapic *apic)
{
	unsigned long flags;
	bool r;

	raw_spin_lock_irqsave(&apic->lock, flags);
	r = lapic_deliverable(apic) >= 0 || apic->nmi_count ||
	    apic->init_pending;
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	return r;
}

/*
 * Halt polling, as KVM's: a HLT that the next interrupt ends within
 * microseconds (an IPI's round trip, a timer about to fire) ends sooner by
 * polling than by sleeping and being woken, a context switch each way.
 * The window adapts per vCPU: it grows (from LAPIC_POLL_START_NS,
 * doubling up to halt_poll_ns) after a HLT that a sleep ended within
 * halt_poll_ns, and falls to nothing after one that slept longer; a HLT
 * whose own timer fires within halt_poll_ns polls until then. Polling
 * stops at a signal, when the scheduler wants the CPU, or when another
 * task waits for this CPU (the vCPU that sends the IPI, say, on the same
 * CPU: it would wait for the poller's time slice), as KVM's does.
 */
static unsigned int vhm_halt_poll_ns = 200000;
module_param_named(halt_poll_ns, vhm_halt_poll_ns, uint, 0644);
MODULE_PARM_DESC(halt_poll_ns, "Longest poll (ns) of a HLT before sleeping; the window adapts below it (0: never poll)");

#define LAPIC_POLL_START_NS	10000

static u64 lapic_poll_window(struct vhm_lapic *apic, u64 max)
{
	if (lapic_timer_due_within(apic, max))
		return max;
	return min_t(u64, apic->halt_poll_ns, max);
}

static bool lapic_halt_poll(struct vhm_lapic *apic, u64 ns)
{
	u64 end = ktime_get_ns() + ns;

	do {
		if (lapic_wakes_hlt(apic))
			return true;
		cpu_relax();
	} while (ktime_get_ns() < end && single_task_running() &&
		 !need_resched() && !signal_pending(current));
	return false;
}

/* After a HLT that polled in vain and slept: adapt the window. */
static void lapic_poll_adapt(struct vhm_lapic *apic, u64 slept, u64 max)
{
	if (slept > max)
		apic->halt_poll_ns = 0;
	else if (!apic->halt_poll_ns)
		apic->halt_poll_ns = min_t(u64, LAPIC_POLL_START_NS, max);
	else
		apic->halt_poll_ns = min_t(u64, 2ull * apic->halt_poll_ns, max);
}

int vhm_lapic_halt(struct vhm_vcpu *vcpu)
{
	u64 max = READ_ONCE(vhm_halt_poll_ns), window, start;
	struct vhm_lapic *apic = vcpu->lapic;

	lapic_sync(vcpu);
	window = max ? lapic_poll_window(apic, max) : 0;
	if (window && lapic_halt_poll(apic, window))
		return 0;
	start = ktime_get_ns();
	if (rcuwait_wait_event(&apic->wait, lapic_wakes_hlt(apic),
			       TASK_INTERRUPTIBLE))
		return -EINTR;
	if (max)
		lapic_poll_adapt(apic, ktime_get_ns() - start, max);
	return 0;
}

/* ---------------------------------------------------------------------
 * Creation.
 */

static void lapic_reset(struct vhm_lapic *apic)
{
	lapic_reset_regs(apic);
	/* vCPU 0 is the bootstrap processor; the others wait for SIPI. */
	apic->wait_sipi = apic->vcpu->id != 0;
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
	raw_spin_lock_init(&apic->lock);
	rcuwait_init(&apic->wait);
	lapic_timer_init(apic);
	lapic_reset(apic);
	vcpu->lapic = apic;
	return 0;
}

/* The vCPU's fd is closed: its timer stops (the APIC is freed later). */
void vhm_lapic_vcpu_stop(struct vhm_vcpu *vcpu)
{
	if (vcpu->lapic)
		hrtimer_cancel(&vcpu->lapic->timer);
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
	if ((c.flags & ~VHM_LAPIC_IOAPIC) || c.padding ||
	    memchr_inv(c.reserved, 0, sizeof(c.reserved)))
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (vm->lapic)
		r = -EEXIST;
	else if (vm->vcpu_created)
		r = -EBUSY;
	else if (c.flags & VHM_LAPIC_IOAPIC)
		r = vhm_ioapic_create(vm);
	if (!r)
		vm->lapic = true;
	mutex_unlock(&vm->lock);
	return r;
}
