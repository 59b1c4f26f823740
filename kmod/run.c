// SPDX-License-Identifier: GPL-2.0
/*
 * VHM_RUN: the vCPU is the calling thread. It enters the guest again and
 * again until an exit needs userspace, a signal is pending, or an error;
 * the host scheduler may preempt or migrate it between entries.
 */
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "lapic.h"
#include "regs.h"
#include "spec.h"
#include "vhm.h"
#include "vm.h"

static int vhm_run_interrupted(struct vhm_vcpu *vcpu)
{
	vcpu->run->exit_reason = VHM_EXIT_INTR;
	return -EINTR;
}

/*
 * The exit's handler in the backend's exit-code table (vendor.h), or its
 * report of an exit vhm does not handle. The index is the hardware's exit
 * code, which a guest chooses: no speculation past the table's end.
 */
static int vhm_handle_exit(struct vhm_vcpu *vcpu)
{
	u32 code = vhm_ops->exit_code(vcpu);
	u32 n = vhm_ops->nr_exit_handlers;
	vhm_exit_handler_t handler = NULL;

	if (code < n)
		handler = vhm_ops->exit_handlers[array_index_nospec(code, n)];
	return handler ? handler(vcpu) : vhm_ops->unhandled_exit(vcpu, code);
}

/*
 * One entry and exit, the same on both vendors (vendor.h: the mechanism
 * ops in the order called). What userspace answered for the last exit is
 * completed first. With interrupts off: no entry once the host reboots
 * (virtualization is off, or soon: virt.c); the guest's FPU registers
 * (fpu.c: only from here to the exit); in_guest, then the TLB
 * generation; the local APIC's events into the queue;
 * the event for this entry; the register file; the speculation barriers
 * (spec.c) around the world switch.
 */
static int vhm_enter_guest(struct vhm_vcpu *vcpu)
{
	u64 gen;

	vhm_complete_user_exit(vcpu);
	preempt_disable();
	if (vhm_ops->vcpu_load)
		vhm_ops->vcpu_load(vcpu);
	local_irq_disable();
	if (vhm_virt_rebooting()) {
		local_irq_enable();
		preempt_enable();
		return -EIO;
	}
	vhm_fpu_enter(vcpu);
	vcpu->cpu = smp_processor_id();
	WRITE_ONCE(vcpu->in_guest, true);
	/* Pairs with vhm_flush_remote_tlbs(): see the generation or the IPI. */
	smp_mb();
	gen = atomic64_read(&vcpu->vm->mmu.tlb_gen);
	vhm_ops->prepare_tlb(vcpu, vcpu->tlb_gen != gen);
	vcpu->tlb_gen = gen;
	if (vcpu->lapic)
		vhm_lapic_pending(vcpu);
	vhm_ops->inject_events(vcpu);
	vhm_regs_flush(vcpu);
	vhm_spec_enter(vcpu);
	vhm_ops->enter(vcpu);
	vhm_spec_exited();
	WRITE_ONCE(vcpu->in_guest, false);
	vhm_fpu_exit(vcpu);
	local_irq_enable();
	preempt_enable();
	return vhm_handle_exit(vcpu);
}

static int vhm_run_loop(struct vhm_vcpu *vcpu)
{
	int r;

	for (;;) {
		if (signal_pending(current))
			return vhm_run_interrupted(vcpu);
		/* The host scheduler decides: no trip to userspace needed. */
		cond_resched();
		if (vcpu->lapic && vhm_lapic_wait_sipi(vcpu))
			return vhm_run_interrupted(vcpu);
		r = vhm_enter_guest(vcpu);
		if (r <= 0)
			return r;
	}
}

int vhm_vcpu_run(struct vhm_vcpu *vcpu)
{
	if (READ_ONCE(vcpu->run->immediate_exit))
		return vhm_run_interrupted(vcpu);
	return vhm_run_loop(vcpu);
}
