// SPDX-License-Identifier: GPL-2.0
/*
 * Events not yet delivered to the guest: the queue both vendors inject
 * from (struct vhm_event_queue), VHM_GET_VCPU_EVENTS and
 * VHM_SET_VCPU_EVENTS with their architectural rules. What blocks an event
 * (NMI masking, the interrupt shadow) is the vendor's state (vendor.h).
 */
#include <linux/bits.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/trapnr.h>

#include <asm/processor-flags.h>

#include "exception.h"
#include "lapic.h"
#include "regs.h"
#include "vhm.h"
#include "vm.h"

#define VHM_NMI_VECTOR		2
#define VHM_NR_EXCEPTIONS	32
/* #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX push an error code. */
#define VHM_ERROR_CODE_VECTORS	(BIT(8) | BIT(10) | BIT(11) | BIT(12) | \
				 BIT(13) | BIT(14) | BIT(17) | BIT(21) | \
				 BIT(29) | BIT(30))

static bool vhm_events_reserved_clear(const struct vhm_vcpu_events *ev)
{
	return !memchr_inv(ev->padding, 0, sizeof(ev->padding)) &&
	       !memchr_inv(ev->reserved, 0, sizeof(ev->reserved));
}

static int vhm_check_exception(const struct vhm_vcpu_events *ev)
{
	u8 v = ev->exception_vector;

	if (!(ev->flags & VHM_EVENT_EXCEPTION))
		return v || (ev->flags & VHM_EVENT_ERROR_CODE) ? -EINVAL : 0;
	if (v >= VHM_NR_EXCEPTIONS || v == VHM_NMI_VECTOR)
		return -EINVAL;
	if ((ev->flags & VHM_EVENT_ERROR_CODE) &&
	    !(VHM_ERROR_CODE_VECTORS & BIT(v)))
		return -EINVAL;
	return 0;
}

/* What VHM_SET_VCPU_EVENTS accepts (docs/API.md). */
static int vhm_check_vcpu_events(const struct vhm_vcpu_events *ev)
{
	if (ev->flags & ~VHM_EVENT_FLAGS_VALID)
		return -EINVAL;
	if (!vhm_events_reserved_clear(ev))
		return -EINVAL;
	if (!(ev->flags & VHM_EVENT_ERROR_CODE) && ev->exception_error_code)
		return -EINVAL;
	if (!(ev->flags & VHM_EVENT_INTERRUPT) && ev->interrupt_vector)
		return -EINVAL;
	return vhm_check_exception(ev);
}

/*
 * Raise the exception at the next entry. With one already pending (an
 * exit cut its delivery short, or the VMM set it), the two combine as the
 * CPU's would (exception.c): the new one alone, #DF(0), or a shutdown.
 */
void vhm_queue_exception(struct vhm_vcpu *vcpu, u8 vector, bool has_err,
			 u32 err)
{
	struct vhm_event_queue *q = &vcpu->events;

	if (q->flags & VHM_EVENT_EXCEPTION) {
		int v = vhm_exception_merge(q->exception_vector, vector);

		if (v == VHM_EXC_SHUTDOWN) {
			q->shutdown = true;
			return;
		}
		if (v == VHM_EXC_DF) {
			vector = VHM_EXC_DF;
			has_err = true;
			err = 0;
		}
	}
	q->flags &= ~VHM_EVENT_ERROR_CODE;
	q->flags |= VHM_EVENT_EXCEPTION | (has_err ? VHM_EVENT_ERROR_CODE : 0);
	q->exception_vector = vector;
	q->error_code = has_err ? err : 0;
}

void vhm_queue_nmi(struct vhm_vcpu *vcpu)
{
	vcpu->events.flags |= VHM_EVENT_NMI_PENDING;
}

void vhm_queue_interrupt(struct vhm_vcpu *vcpu, u8 vector)
{
	vcpu->events.flags |= VHM_EVENT_INTERRUPT;
	vcpu->events.interrupt_vector = vector;
}

/*
 * Exceptions of the fault class: all but the traps (#DB as KVM treats
 * it, #BP, #OF) and the aborts (#DF, #MC). NMI is not an exception here.
 */
#define VHM_NOT_FAULTS	(BIT(X86_TRAP_DB) | BIT(X86_TRAP_NMI) | \
			 BIT(X86_TRAP_BP) | BIT(X86_TRAP_OF) | \
			 BIT(X86_TRAP_DF) | BIT(X86_TRAP_MC))

/*
 * The vendor injected the pending exception (or interrupt). A fault's
 * frame holds RFLAGS.RF set, as the CPU pushes it for every fault but
 * an instruction breakpoint (Intel SDM vol. 3A, "Instruction-Breakpoint
 * Exception Condition"; KVM does the same): event injection does not
 * set it, so it is set in RFLAGS here, before the entry, and delivery
 * through the gate clears it again.
 */
void vhm_dequeue_exception(struct vhm_vcpu *vcpu)
{
	struct vhm_event_queue *q = &vcpu->events;

	if (q->exception_vector == X86_TRAP_DB)
		vhm_dr_db_delivered(vcpu);
	else if (!(VHM_NOT_FAULTS & BIT(q->exception_vector)))
		vhm_reg_write(vcpu, VHM_REG_RFLAGS,
			      vhm_rflags(vcpu) | X86_EFLAGS_RF);
	q->flags &= ~(VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE);
	q->exception_vector = 0;
	q->error_code = 0;
}

/*
 * An event whose delivery an exit (or a failed entry) cut short, as the
 * backend decoded it: pending again, for the next entry. A software event
 * (INTn, the guest's own INT3 or INTO) is not: RIP is still on its
 * instruction, which runs again.
 */
void vhm_requeue_event(struct vhm_vcpu *vcpu, enum vhm_cut_event kind,
		       u8 vector, bool has_err, u32 err)
{
	switch (kind) {
	case VHM_CUT_EXCEPTION:
		vhm_queue_exception(vcpu, vector, has_err, err);
		break;
	case VHM_CUT_NMI:
		vhm_queue_nmi(vcpu);
		break;
	case VHM_CUT_INTERRUPT:
		/* The CPU acknowledged it: the APIC no longer weighs it. */
		vhm_lapic_ack(vcpu);
		vhm_queue_interrupt(vcpu, vector);
		break;
	case VHM_CUT_SOFTWARE:
		break;
	}
}

void vhm_dequeue_interrupt(struct vhm_vcpu *vcpu)
{
	vcpu->events.flags &= ~VHM_EVENT_INTERRUPT;
	vcpu->events.interrupt_vector = 0;
}

/* Nothing pending, nothing blocked: RESET, INIT. */
void vhm_events_reset(struct vhm_vcpu *vcpu)
{
	memset(&vcpu->events, 0, sizeof(vcpu->events));
	vhm_ops->set_event_blocking(vcpu, 0);
}

/*
 * A HLT just completed (its shadow, if any, is over): whether a pending
 * event ends it at once. NMIs wait while masked, interrupts while IF is
 * clear.
 */
bool vhm_event_wakes_hlt(struct vhm_vcpu *vcpu)
{
	u32 f = vcpu->events.flags;

	if (f & VHM_EVENT_EXCEPTION)
		return true;
	if ((f & VHM_EVENT_NMI_PENDING) &&
	    !(vhm_ops->get_event_blocking(vcpu) & VHM_EVENT_BLOCKING))
		return true;
	return (f & VHM_EVENT_INTERRUPT) && (vhm_rflags(vcpu) & X86_EFLAGS_IF);
}

long vhm_vcpu_get_events(struct vhm_vcpu *vcpu, void __user *argp)
{
	const struct vhm_event_queue *q = &vcpu->events;
	struct vhm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	ev.flags = q->flags | vhm_ops->get_event_blocking(vcpu);
	ev.exception_vector = q->exception_vector;
	ev.exception_error_code = q->error_code;
	ev.interrupt_vector = q->interrupt_vector;
	return copy_to_user(argp, &ev, sizeof(ev)) ? -EFAULT : 0;
}

long vhm_vcpu_set_events(struct vhm_vcpu *vcpu, const void __user *argp)
{
	struct vhm_vcpu_events ev;
	int r;

	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	r = vhm_check_vcpu_events(&ev);
	if (r)
		return r;
	/* The APIC's vector queued so far counts as delivered (lapic.c). */
	vhm_lapic_ack(vcpu);
	vcpu->events.flags = ev.flags & VHM_EVENT_QUEUED;
	vcpu->events.shutdown = false;
	vcpu->events.exception_vector = ev.exception_vector;
	vcpu->events.error_code = ev.exception_error_code;
	vcpu->events.interrupt_vector = ev.interrupt_vector;
	vhm_ops->set_event_blocking(vcpu, ev.flags & VHM_EVENT_BLOCKING);
	return 0;
}

/*
 * A #PF for an access vhm emulated (guest_mem.c): CR2 and the pending
 * exception, delivered at the next entry. An exception already pending
 * (which no emulated instruction leaves) is kept instead.
 */
void vhm_inject_page_fault(struct vhm_vcpu *vcpu, u64 gva, u32 error)
{
	struct vhm_sregs s;

	if (vcpu->events.flags & VHM_EVENT_EXCEPTION)
		return;
	vhm_ops->get_sregs(vcpu, &s);
	s.cr2 = gva;
	if (vhm_ops->set_sregs(vcpu, &s))
		return;
	vhm_queue_exception(vcpu, X86_TRAP_PF, true, error);
}
