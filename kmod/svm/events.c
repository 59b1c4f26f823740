// SPDX-License-Identifier: GPL-2.0
/*
 * SVM: events for the guest (docs/API.md, "Event delivery"). Pending
 * exceptions and NMIs go into EVENTINJ, one per entry, when the guest can
 * take them. A pending external interrupt is offered as a virtual
 * interrupt (V_IRQ with its vector, TPR ignored: the local APIC already
 * weighed priorities), which the guest takes by itself as soon as
 * RFLAGS.IF and no interrupt shadow allow, with no exit for a window; at
 * the next exit a cleared V_IRQ means it was taken. Not EVENTINJ: QEMU's
 * SVM (the AMD test host) can deliver an EVENTINJ interrupt a second time,
 * with IF clear, if its vCPU thread is kicked before the guest's next exit
 * (docs/TESTING.md, "Known problem"); KVM guests there hang on it.
 *
 * NMI masking without vNMI is kept here: delivering an NMI masks NMIs and
 * intercepts IRET. The intercept comes before IRET executes, and without
 * NRIP save vhm does not know where it ends, so vhm lets it run and
 * unmasks at the first later exit with RIP elsewhere. While an NMI waits
 * for that, the guest is single-stepped (RFLAGS.TF; #DB always exits) so
 * the exit comes right after the IRET. The same single step waits out an
 * interrupt shadow, for NMIs and interrupts. When an event is injected
 * while an NMI waits, a self-IPI makes the guest exit right after that
 * delivery.
 *
 * #DB and #AC are intercepted at all times and reflected into the guest:
 * a guest whose delivery of either raises it again (a data breakpoint on
 * its own exception frame, an #AC handler on a misaligned stack) would
 * otherwise loop in the CPU with no exit for host interrupts
 * (CVE-2015-8104, CVE-2015-5307). Each round now exits, so the host
 * scheduler and signals reach the vCPU thread.
 */
#include <linux/kernel.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>
#include <asm/svm.h>

#include "compat.h"
#include "lapic.h"
#include "svm.h"
#include "vhm.h"

#define SVM_VIRQ	(V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK)
#define SVM_EVENT_ID	(SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_MASK | \
			 SVM_EVTINJ_VEC_MASK)
#define SVM_DR6_BS	BIT_ULL(14)	/* single step */

static u64 svm_linear_rip(struct svm_vcpu *svm)
{
	return svm->vmcb->save.cs.base + vhm_rip(svm->vcpu);
}

static bool svm_in_shadow(struct svm_vcpu *svm)
{
	return svm->vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK;
}

void svm_clear_interrupt_shadow(struct svm_vcpu *svm)
{
	svm->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
}

/*
 * The instruction completed: its interrupt shadow, if any, is over, and
 * a single step the guest asked for traps after it.
 */
void svm_skip(struct svm_vcpu *svm, unsigned int len)
{
	vhm_reg_write(svm->vcpu, VHM_REG_RIP, vhm_rip(svm->vcpu) + len);
	svm_clear_interrupt_shadow(svm);
	vhm_dr_single_step(svm->vcpu);
}

static bool svm_nmi_blocked(struct svm_vcpu *svm)
{
	return svm->ev.nmi_masked || svm_in_shadow(svm);
}

static void svm_mask_nmis(struct svm_vcpu *svm, bool masked)
{
	struct svm_events *ev = &svm->ev;

	ev->iret_seen = false;
	ev->nmi_masked = masked;
	if (masked)
		svm_set_intercept(svm->vmcb, INTERCEPT_IRET);
	else
		svm_clr_intercept(svm->vmcb, INTERCEPT_IRET);
}

u32 svm_get_event_blocking(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	return (svm->ev.nmi_masked ? VHM_EVENT_NMI_MASKED : 0) |
	       (svm_in_shadow(svm) ? VHM_EVENT_INT_SHADOW : 0);
}

void svm_set_event_blocking(struct vhm_vcpu *vcpu, u32 flags)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	svm_mask_nmis(svm, flags & VHM_EVENT_NMI_MASKED);
	if (flags & VHM_EVENT_INT_SHADOW)
		svm->vmcb->control.int_state |= SVM_INTERRUPT_SHADOW_MASK;
	else
		svm_clear_interrupt_shadow(svm);
}

static void svm_evtinj(struct svm_vcpu *svm, u32 type, u8 vector,
		       bool has_err, u32 err)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;

	ctl->event_inj = SVM_EVTINJ_VALID | type | vector |
			 (has_err ? SVM_EVTINJ_VALID_ERR : 0);
	ctl->event_inj_err = err;
	svm->ev.injected = ctl->event_inj;
	svm->ev.injected_err = err;
	svm->ev.injected_shadow = svm_in_shadow(svm);
}

static void svm_inject_pending_exception(struct svm_vcpu *svm)
{
	const struct vhm_event_queue *q = &svm->vcpu->events;
	/* Real mode pushes no error code. */
	bool has_err = (q->flags & VHM_EVENT_ERROR_CODE) &&
		       (svm->vmcb->save.cr0 & X86_CR0_PE);

	svm_evtinj(svm, SVM_EVTINJ_TYPE_EXEPT, q->exception_vector, has_err,
		   q->error_code);
	vhm_dequeue_exception(svm->vcpu);
}

/* One EVENTINJ per entry, by priority: exception, NMI. */
static bool svm_inject_one(struct svm_vcpu *svm)
{
	struct vhm_event_queue *q = &svm->vcpu->events;

	if (q->flags & VHM_EVENT_EXCEPTION) {
		svm_inject_pending_exception(svm);
		return true;
	}
	if ((q->flags & VHM_EVENT_NMI_PENDING) && !svm_nmi_blocked(svm)) {
		svm_evtinj(svm, SVM_EVTINJ_TYPE_NMI, NMI_VECTOR, false, 0);
		q->flags &= ~VHM_EVENT_NMI_PENDING;
		svm_mask_nmis(svm, true);
		return true;
	}
	return false;
}

/* The pending interrupt as V_IRQ, for the guest to take when it can. */
static void svm_offer_irq(struct svm_vcpu *svm)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;

	ctl->int_vector = svm->vcpu->events.interrupt_vector;
	ctl->int_ctl |= SVM_VIRQ;
	svm->ev.virq = true;
}

/* After an exit: a V_IRQ the guest took is delivered. */
static void svm_irq_taken(struct svm_vcpu *svm)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;
	struct svm_events *ev = &svm->ev;

	if (ev->virq && !(ctl->int_ctl & V_IRQ_MASK))
		vhm_dequeue_interrupt(svm->vcpu);
	ev->virq = false;
	ctl->int_ctl &= ~SVM_VIRQ;
}

/* An exit after one guest instruction: a #DB trap from RFLAGS.TF. */
static void svm_single_step(struct svm_vcpu *svm)
{
	u64 rflags = vhm_rflags(svm->vcpu);

	svm->ev.single_step = true;
	svm->ev.tf_set = !(rflags & X86_EFLAGS_TF);
	svm->ev.step_dr6 = svm->vmcb->save.dr6;
	vhm_reg_write(svm->vcpu, VHM_REG_RFLAGS, rflags | X86_EFLAGS_TF);
}

/* After the exit: own_step says whether a #DB now may be vhm's step. */
static void svm_end_single_step(struct svm_vcpu *svm)
{
	svm->ev.own_step = svm->ev.single_step && svm->ev.tf_set;
	if (!svm->ev.single_step)
		return;
	svm->ev.single_step = false;
	if (svm->ev.tf_set)
		vhm_reg_write(svm->vcpu, VHM_REG_RFLAGS,
			      vhm_rflags(svm->vcpu) & ~X86_EFLAGS_TF);
	svm->ev.tf_set = false;
}

/*
 * An interrupt held only by the shadow waits by single step, not as
 * V_IRQ: QEMU's SVM drops the VMCB's shadow at VMRUN and would deliver it
 * one instruction early. Exact on hardware as well.
 */
static bool svm_irq_wait_step(struct svm_vcpu *svm, bool injected)
{
	if (injected || !svm_in_shadow(svm))
		return false;
	return vhm_rflags(svm->vcpu) & X86_EFLAGS_IF;
}

/*
 * An NMI waits for an IRET whose intercept already came, or for a shadow.
 * (Masked with no IRET seen yet, the IRET intercept will exit.)
 */
static bool svm_nmi_wait_step(struct svm_vcpu *svm, bool injected)
{
	if (injected)
		return false;
	return svm->ev.iret_seen || svm_in_shadow(svm);
}

void svm_inject_events(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	const struct vhm_event_queue *q = &vcpu->events;
	bool injected = svm_inject_one(svm);
	bool step = false;

	lockdep_assert_irqs_disabled();
	/* The guest reads CR8 from V_TPR without exits: the APIC's TPR. */
	if (vcpu->lapic)
		svm->vmcb->control.int_ctl =
			(svm->vmcb->control.int_ctl & ~V_TPR_MASK) |
			vhm_lapic_get_cr8(vcpu);
	if (q->flags & VHM_EVENT_INTERRUPT) {
		step = svm_irq_wait_step(svm, injected);
		if (!step)
			svm_offer_irq(svm);
	}
	if (q->flags & VHM_EVENT_NMI_PENDING) {
		if (injected)
			vhm_send_reschedule_self();
		step |= svm_nmi_wait_step(svm, injected);
	}
	if (step)
		svm_single_step(svm);
	svm->ev.shadow_entry = svm_in_shadow(svm);
	svm->ev.shadow_rip = svm_linear_rip(svm);
}

/*
 * The guest entered in a shadow and left without running an instruction
 * or taking an event: the shadow still holds. (QEMU's SVM drops the
 * VMCB's shadow at VMRUN and reports none on such an exit.)
 */
static void svm_keep_shadow(struct svm_vcpu *svm)
{
	if (svm->ev.shadow_entry && svm->ev.shadow_rip == svm_linear_rip(svm))
		svm->vmcb->control.int_state |= SVM_INTERRUPT_SHADOW_MASK;
	svm->ev.shadow_entry = false;
}

/*
 * What an exit cut short, from the type and vector of EXITINTINFO; ours:
 * an event vhm injected.
 */
enum vhm_cut_event svm_cut_kind(u32 type, u8 vector, bool ours)
{
	switch (type) {
	case SVM_EXITINTINFO_TYPE_EXEPT:
		/*
		 * Exceptions are vectors 0-31. QEMU's SVM reports a V_IRQ
		 * whose delivery it cut short as an exception; it is the
		 * interrupt. The guest's own INT3 and INTO are software.
		 */
		if (vector >= 32)
			return VHM_CUT_INTERRUPT;
		if (!ours && (vector == X86_TRAP_BP || vector == X86_TRAP_OF))
			return VHM_CUT_SOFTWARE;
		return VHM_CUT_EXCEPTION;
	case SVM_EXITINTINFO_TYPE_NMI:
		return VHM_CUT_NMI;
	case SVM_EXITINTINFO_TYPE_INTR:
		return VHM_CUT_INTERRUPT;
	default:
		return VHM_CUT_SOFTWARE;
	}
}

/* An event whose delivery an exit (or a failed entry) cut short. */
static void svm_put_back(struct svm_vcpu *svm, u32 info, u32 err)
{
	struct svm_events *ev = &svm->ev;
	u8 vector = info & SVM_EXITINTINFO_VEC_MASK;
	bool ours = (info & SVM_EVENT_ID) == (ev->injected & SVM_EVENT_ID);
	enum vhm_cut_event kind;

	/* Not delivered: the shadow is still the one it was injected under. */
	if (ours && !ev->injected_shadow)
		svm_clear_interrupt_shadow(svm);
	kind = svm_cut_kind(info & SVM_EXITINTINFO_TYPE_MASK, vector, ours);
	/* Not delivered: the NMI is not blocking itself yet. */
	if (kind == VHM_CUT_NMI)
		svm_mask_nmis(svm, false);
	vhm_requeue_event(svm->vcpu, kind, vector,
			  info & SVM_EXITINTINFO_VALID_ERR, err);
}

void svm_complete_events(struct svm_vcpu *svm)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;
	struct svm_events *ev = &svm->ev;

	svm_end_single_step(svm);
	svm_keep_shadow(svm);
	svm_irq_taken(svm);
	if ((u32)vhm_vmcb_exit_code(ctl) == (u32)SVM_EXIT_ERR) {
		if (ev->injected)
			svm_put_back(svm, ev->injected, ev->injected_err);
	} else if (ctl->exit_int_info & SVM_EXITINTINFO_VALID) {
		svm_put_back(svm, ctl->exit_int_info, ctl->exit_int_info_err);
	}
	ev->injected = 0;
	if (ev->iret_seen && svm_linear_rip(svm) != ev->iret_rip)
		svm_mask_nmis(svm, false);
}

int svm_handle_iret(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	/* Before IRET runs: NMIs stay masked until RIP has moved on. */
	svm_clr_intercept(svm->vmcb, INTERCEPT_IRET);
	svm->ev.iret_seen = true;
	svm->ev.iret_rip = svm_linear_rip(svm);
	return 1;
}

/*
 * #DB (always intercepted): the VMCB's DR6 is the guest's and already
 * holds the cause, so reflecting it is re-raising the same exception.
 * After vhm's own single step (TF set by vhm), the BS bit is vhm's: DR6
 * goes back to what the guest had, plus any breakpoint that hit in the
 * same instruction, which is then the guest's #DB.
 */
int svm_handle_debug(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;
	u64 gained;

	if (svm->ev.own_step) {
		svm->ev.own_step = false;
		gained = save->dr6 & ~svm->ev.step_dr6 & ~SVM_DR6_BS;
		save->dr6 = svm->ev.step_dr6 | gained;
		if (!gained)
			return 1;
	}
	vhm_queue_exception(vcpu, X86_TRAP_DB, false, 0);
	return 1;
}

/* #AC (always intercepted): back to the guest, error code 0. */
int svm_handle_alignment_check(struct vhm_vcpu *vcpu)
{
	vhm_queue_exception(vcpu, X86_TRAP_AC, true, 0);
	return 1;
}
