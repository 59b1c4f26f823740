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
#include "vhm.h"
#include "vmx.h"

#define VMX_EVENT_KEPT	(VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE | \
			 VHM_EVENT_INTERRUPT | VHM_EVENT_NMI_PENDING)
#define VMX_SHADOW	(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)
#define VMX_WINDOWS	(CPU_BASED_INTR_WINDOW_EXITING | \
			 CPU_BASED_NMI_WINDOW_EXITING)

void vmx_inject_exception(struct vmx_vcpu *vmx, u8 vector, bool has_err,
			  u32 err)
{
	struct vmx_events *ev = &vmx->ev;

	ev->flags &= ~VHM_EVENT_ERROR_CODE;
	ev->flags |= VHM_EVENT_EXCEPTION | (has_err ? VHM_EVENT_ERROR_CODE : 0);
	ev->exception_vector = vector;
	ev->error_code = has_err ? err : 0;
}

void vmx_get_events(struct vhm_vcpu *vcpu, struct vhm_vcpu_events *out)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	const struct vmx_events *ev = &vmx->ev;
	u32 intr = vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO);

	out->flags = ev->flags;
	if (intr & GUEST_INTR_STATE_NMI)
		out->flags |= VHM_EVENT_NMI_MASKED;
	if (intr & VMX_SHADOW)
		out->flags |= VHM_EVENT_INT_SHADOW;
	out->exception_vector = ev->exception_vector;
	out->exception_error_code = ev->error_code;
	out->interrupt_vector = ev->interrupt_vector;
}

void vmx_set_events(struct vhm_vcpu *vcpu, const struct vhm_vcpu_events *in)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct vmx_events *ev = &vmx->ev;
	u32 intr = 0;

	ev->flags = in->flags & VMX_EVENT_KEPT;
	ev->exception_vector = in->exception_vector;
	ev->error_code = in->exception_error_code;
	ev->interrupt_vector = in->interrupt_vector;
	if (in->flags & VHM_EVENT_NMI_MASKED)
		intr |= GUEST_INTR_STATE_NMI;
	/* Which shadow it is follows RFLAGS.IF at entry (vmx_fix_shadow). */
	if (in->flags & VHM_EVENT_INT_SHADOW)
		intr |= GUEST_INTR_STATE_STI;
	vmx_write(vmx, GUEST_INTERRUPTIBILITY_INFO, intr);
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
static void vmx_inject_pending_exception(struct vmx_events *ev)
{
	u32 info = ev->exception_vector | INTR_TYPE_HARD_EXCEPTION |
		   INTR_INFO_VALID_MASK;

	if ((ev->flags & VHM_EVENT_ERROR_CODE) &&
	    (vmcs_read(GUEST_CR0) & X86_CR0_PE))
		info |= INTR_INFO_DELIVER_CODE_MASK;
	vmx_entry_event(ev, info, ev->error_code);
	ev->flags &= ~(VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE);
	ev->exception_vector = 0;
	ev->error_code = 0;
}

/* One event per entry, by priority: exception, NMI, interrupt. */
static bool vmx_inject_one(struct vmx_events *ev, u32 intr, u64 rflags)
{
	if (ev->flags & VHM_EVENT_EXCEPTION) {
		vmx_inject_pending_exception(ev);
		return true;
	}
	if ((ev->flags & VHM_EVENT_NMI_PENDING) &&
	    !(intr & (GUEST_INTR_STATE_NMI | VMX_SHADOW))) {
		vmx_entry_event(ev, NMI_VECTOR | INTR_TYPE_NMI_INTR |
				INTR_INFO_VALID_MASK, 0);
		ev->flags &= ~VHM_EVENT_NMI_PENDING;
		return true;
	}
	if ((ev->flags & VHM_EVENT_INTERRUPT) && (rflags & X86_EFLAGS_IF) &&
	    !(intr & VMX_SHADOW)) {
		vmx_entry_event(ev, ev->interrupt_vector | INTR_TYPE_EXT_INTR |
				INTR_INFO_VALID_MASK, 0);
		ev->flags &= ~VHM_EVENT_INTERRUPT;
		ev->interrupt_vector = 0;
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
 * shadow holds an NMI window.
 */
static u32 vmx_windows(const struct vmx_events *ev, u32 intr)
{
	u32 proc = 0;

	if (ev->flags & VHM_EVENT_INTERRUPT)
		proc |= CPU_BASED_INTR_WINDOW_EXITING;
	if (!(ev->flags & VHM_EVENT_NMI_PENDING))
		return proc;
	if ((intr & GUEST_INTR_STATE_STI) && !(intr & GUEST_INTR_STATE_NMI))
		return proc | CPU_BASED_INTR_WINDOW_EXITING;
	return proc | CPU_BASED_NMI_WINDOW_EXITING;
}

/* Interrupts off, the VMCS current: the event for this entry, if any. */
void vmx_inject_events(struct vmx_vcpu *vmx)
{
	struct vmx_events *ev = &vmx->ev;
	u64 rflags = vmcs_read(GUEST_RFLAGS);
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	u32 fixed = vmx_fix_shadow(intr, rflags);
	u32 proc;

	if (fixed != intr)
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO, fixed);
	ev->injected = 0;
	if (ev->flags)
		vmx_inject_one(ev, fixed, rflags);
	proc = (vmx->proc & ~VMX_WINDOWS) | vmx_windows(ev, fixed);
	if (proc != vmx->proc) {
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, proc);
		vmx->proc = proc;
	}
}

/* An event whose delivery an exit (or a failed entry) cut short. */
static void vmx_put_back(struct vmx_vcpu *vmx, u32 info, u32 err)
{
	struct vmx_events *ev = &vmx->ev;
	u8 vector = info & INTR_INFO_VECTOR_MASK;

	switch (info & INTR_INFO_INTR_TYPE_MASK) {
	case INTR_TYPE_HARD_EXCEPTION:
		vmx_inject_exception(vmx, vector,
				     info & INTR_INFO_DELIVER_CODE_MASK, err);
		break;
	case INTR_TYPE_NMI_INTR:
		/* Not delivered: the NMI is not blocking itself yet. */
		ev->flags |= VHM_EVENT_NMI_PENDING;
		vmx_write(vmx, GUEST_INTERRUPTIBILITY_INFO,
			  vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO) &
			  ~GUEST_INTR_STATE_NMI);
		break;
	case INTR_TYPE_EXT_INTR:
		ev->flags |= VHM_EVENT_INTERRUPT;
		ev->interrupt_vector = vector;
		break;
	default:
		/* The guest's INTn, INT3, INTO: RIP is on it, it runs again. */
		break;
	}
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

bool vmx_event_wakes_hlt(struct vmx_vcpu *vmx)
{
	u32 f = vmx->ev.flags;
	u32 intr;

	if (f & VHM_EVENT_EXCEPTION)
		return true;
	intr = vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO);
	if ((f & VHM_EVENT_NMI_PENDING) && !(intr & GUEST_INTR_STATE_NMI))
		return true;
	return (f & VHM_EVENT_INTERRUPT) &&
	       (vmx_read(vmx, GUEST_RFLAGS) & X86_EFLAGS_IF);
}

/* The window is open: the next entry injects the event. */
int vmx_handle_window(struct vhm_vcpu *vcpu)
{
	return 1;
}
