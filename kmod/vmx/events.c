// SPDX-License-Identifier: GPL-2.0
/*
 * VMX: events for the guest (docs/API.md, "Event delivery"). Pending
 * exceptions, NMIs and external interrupts go into the VM-entry
 * interruption-information field, one per entry, when the guest can take
 * them. What blocks them is the guest's interruptibility state in the
 * VMCS: the STI and MOV SS shadows, and NMI blocking, which the CPU keeps
 * itself with virtual NMIs (set by delivering an NMI, cleared by IRET).
 * A held interrupt asks for an interrupt window, a held NMI for an NMI
 * window: the guest exits as soon as it could take the event and the next
 * entry injects it. Intel SDM vol. 3C, 26.6 "Event injection", 25.7.1
 * "Interrupt-window exiting and virtual-interrupt delivery", 27.2.4
 * "Information for VM exits that occur during event delivery".
 */
#include <linux/kernel.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "compat.h"
#include "lapic.h"
#include "vhm.h"
#include "vmx.h"

#define VMX_SHADOW	(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)
#define VMX_WINDOWS	(CPU_BASED_INTR_WINDOW_EXITING | \
			 CPU_BASED_NMI_WINDOW_EXITING)

u32 vmx_get_event_blocking(struct vhm_vcpu *vcpu)
{
	u32 intr = vmx_read(to_vmx(vcpu), GUEST_INTERRUPTIBILITY_INFO);

	return (intr & GUEST_INTR_STATE_NMI ? VHM_EVENT_NMI_MASKED : 0) |
	       (intr & VMX_SHADOW ? VHM_EVENT_INT_SHADOW : 0);
}

void vmx_set_event_blocking(struct vhm_vcpu *vcpu, u32 flags)
{
	u32 intr = 0;

	if (flags & VHM_EVENT_NMI_MASKED)
		intr |= GUEST_INTR_STATE_NMI;
	/* Which shadow it is follows RFLAGS.IF at entry (vmx_fix_shadow). */
	if (flags & VHM_EVENT_INT_SHADOW)
		intr |= GUEST_INTR_STATE_STI;
	vmx_write(to_vmx(vcpu), GUEST_INTERRUPTIBILITY_INFO, intr);
}

static void vmx_entry_event(struct vmx_events *ev, u32 info, u32 err)
{
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
	if (info & INTR_INFO_DELIVER_CODE_MASK)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, err);
	ev->injected = info;
	ev->injected_err = err;
}

/* Real mode pushes no error code (and VM entry refuses one there). */
static void vmx_inject_pending_exception(struct vmx_vcpu *vmx)
{
	const struct vhm_event_queue *q = &vmx->vcpu->events;
	u32 info = q->exception_vector | INTR_TYPE_HARD_EXCEPTION |
		   INTR_INFO_VALID_MASK;

	if ((q->flags & VHM_EVENT_ERROR_CODE) &&
	    (vmcs_read(GUEST_CR0) & X86_CR0_PE))
		info |= INTR_INFO_DELIVER_CODE_MASK;
	vmx_entry_event(&vmx->ev, info, q->error_code);
	vhm_dequeue_exception(vmx->vcpu);
}

/* One event per entry, by priority: exception, NMI, interrupt. */
static bool vmx_inject_one(struct vmx_vcpu *vmx, u32 intr, u64 rflags)
{
	struct vhm_event_queue *q = &vmx->vcpu->events;

	if (q->flags & VHM_EVENT_EXCEPTION) {
		vmx_inject_pending_exception(vmx);
		return true;
	}
	if ((q->flags & VHM_EVENT_NMI_PENDING) &&
	    !(intr & (GUEST_INTR_STATE_NMI | VMX_SHADOW))) {
		vmx_entry_event(&vmx->ev, NMI_VECTOR | INTR_TYPE_NMI_INTR |
				INTR_INFO_VALID_MASK, 0);
		q->flags &= ~VHM_EVENT_NMI_PENDING;
		return true;
	}
	if ((q->flags & VHM_EVENT_INTERRUPT) && (rflags & X86_EFLAGS_IF) &&
	    !(intr & VMX_SHADOW)) {
		vmx_entry_event(&vmx->ev, q->interrupt_vector |
				INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK, 0);
		vhm_dequeue_interrupt(vmx->vcpu);
		return true;
	}
	return false;
}

/*
 * VM entry refuses blocking by STI with RFLAGS.IF clear: a shadow set by
 * the host (or left over IF being cleared by hand) then is a MOV SS one,
 * which blocks the same events for the same instruction.
 */
static u32 vmx_fix_shadow(u32 intr, u64 rflags)
{
	if ((intr & GUEST_INTR_STATE_STI) && !(rflags & X86_EFLAGS_IF)) {
		intr &= ~GUEST_INTR_STATE_STI;
		intr |= GUEST_INTR_STATE_MOV_SS;
	}
	return intr;
}

/*
 * The window a held event waits for. An NMI held only by an STI shadow
 * waits for the interrupt window (IF is set under an STI shadow, and that
 * window opens when the shadow ends), as CPUs differ in whether an STI
 * shadow holds an NMI window. An NMI the APIC still holds after the
 * queue's was injected waits for the NMI window too: the injected NMI
 * blocks NMIs until its handler's IRET, and the exit then lets the next
 * entry inject it (as KVM's enable_nmi_window after an injection; without
 * it the second of two latched NMIs waited for any later exit).
 */
static u32 vmx_windows(struct vhm_vcpu *vcpu, u32 intr)
{
	const struct vhm_event_queue *q = &vcpu->events;
	u32 proc = 0;

	if (q->flags & VHM_EVENT_INTERRUPT)
		proc |= CPU_BASED_INTR_WINDOW_EXITING;
	if (!(q->flags & VHM_EVENT_NMI_PENDING) && !vhm_lapic_nmi_held(vcpu))
		return proc;
	if ((intr & GUEST_INTR_STATE_STI) && !(intr & GUEST_INTR_STATE_NMI))
		return proc | CPU_BASED_INTR_WINDOW_EXITING;
	return proc | CPU_BASED_NMI_WINDOW_EXITING;
}

/* Interrupts off, the VMCS current: the event for this entry, if any. */
void vmx_inject_events(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	const struct vhm_event_queue *q = &vmx->vcpu->events;
	u64 rflags = vhm_rflags(vmx->vcpu);
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	u32 fixed = vmx_fix_shadow(intr, rflags);
	u32 proc;

	if (fixed != intr)
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO, fixed);
	vmx->ev.injected = 0;
	if (q->flags)
		vmx_inject_one(vmx, fixed, rflags);
	proc = (vmx->proc & ~VMX_WINDOWS) | vmx_windows(vcpu, fixed);
	if (proc != vmx->proc) {
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, proc);
		vmx->proc = proc;
	}
}

/*
 * What an exit cut short, by the type of the interruption information
 * (bits 10:8); the other types, the guest's INTn, INT3 and INTO, are
 * software (0).
 */
static const u8 vmx_cut_kinds[8] = {
	[INTR_TYPE_EXT_INTR >> 8] = VHM_CUT_INTERRUPT,
	[INTR_TYPE_NMI_INTR >> 8] = VHM_CUT_NMI,
	[INTR_TYPE_HARD_EXCEPTION >> 8] = VHM_CUT_EXCEPTION,
};

enum vhm_cut_event vmx_cut_kind(u32 info)
{
	return vmx_cut_kinds[(info & INTR_INFO_INTR_TYPE_MASK) >> 8];
}

/* An event whose delivery an exit (or a failed entry) cut short. */
static void vmx_put_back(struct vmx_vcpu *vmx, u32 info, u32 err)
{
	enum vhm_cut_event kind = vmx_cut_kind(info);

	/* Not delivered: the NMI is not blocking itself yet. */
	if (kind == VHM_CUT_NMI)
		vmx_write(vmx, GUEST_INTERRUPTIBILITY_INFO,
			  vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO) &
			  ~GUEST_INTR_STATE_NMI);
	vhm_requeue_event(vmx->vcpu, kind, info & INTR_INFO_VECTOR_MASK,
			  info & INTR_INFO_DELIVER_CODE_MASK, err);
}

/*
 * After the exit, before its handler: an event whose delivery the exit
 * interrupted is pending again (IDT-vectoring information); an injection
 * the CPU refused with the entry is pending as it was.
 */
void vmx_complete_events(struct vmx_vcpu *vmx)
{
	const struct vmx_exit *e = &vmx->exit;
	u32 injected = vmx->ev.injected;

	vmx->ev.injected = 0;
	if (e->vmfail || (e->reason & VMX_EXIT_REASONS_FAILED_VMENTRY)) {
		if (injected)
			vmx_put_back(vmx, injected, vmx->ev.injected_err);
		vmx_write(vmx, VM_ENTRY_INTR_INFO_FIELD, 0);
		return;
	}
	if (e->vectoring & VECTORING_INFO_VALID_MASK)
		vmx_put_back(vmx, e->vectoring, e->vectoring_err);
}

/* The window is open: the next entry injects the event. */
int vmx_handle_window(struct vhm_vcpu *vcpu)
{
	return 1;
}
