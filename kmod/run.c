// SPDX-License-Identifier: GPL-2.0
/*
 * VHM_RUN: the vCPU is the calling thread. It enters the guest again and
 * again until an exit needs userspace, a signal is pending, or an error;
 * the host scheduler may preempt or migrate it between entries.
 */
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "kvm_host.h"
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
 * The handler for code in a backend's exit-code table (vendor.h), or NULL.
 * The index is the hardware's exit code, which a guest chooses: no
 * speculation past the table's end.
 */
static vhm_exit_handler_t vhm_exit_lookup(const vhm_exit_handler_t *table,
					  u32 n, u32 code)
{
	return code < n ? table[array_index_nospec(code, n)] : NULL;
}

/* The exit's handler, or the backend's report of an exit vhm ignores. */
static int vhm_handle_exit(struct vhm_vcpu *vcpu, u32 code)
{
	vhm_exit_handler_t handler = vhm_exit_lookup(vhm_ops->exit_handlers,
						     vhm_ops->nr_exit_handlers,
						     code);

	return handler ? handler(vcpu) : vhm_ops->unhandled_exit(vcpu, code);
}

/*
 * Still interrupts and preemption off, the guest's FPU registers loaded:
 * an exit the backend's fast table handles without sleeping (CPUID, RDMSR,
 * the x2APIC's EOI and fixed IPIs: vhm_exit_wrmsr_fast()), as
 * KVM's fastpath exits. Re-entering from here saves the switch to the
 * host's FPU state and back, and the interrupt and preemption toggles.
 */
static int vhm_handle_fast_exit(struct vhm_vcpu *vcpu, u32 code)
{
	vhm_exit_handler_t handler =
		vhm_exit_lookup(vhm_ops->fast_exit_handlers,
				vhm_ops->nr_fast_exit_handlers, code);

	return handler ? handler(vcpu) : VHM_EXIT_SLOW;
}

/*
 * Fast exits in a row before interrupts are let in once. On hardware an
 * interrupt for the host pending meanwhile makes the next entry exit at
 * once, which is not fast; an emulator need not (QEMU's TCG kept a host
 * timer interrupt pending for seconds under a guest looping on CPUID).
 * The bound keeps the host's interrupt latency independent of that.
 */
#define VHM_FAST_EXITS_MAX	64

/*
 * Work the kernel does for this thread only on its way back to user space:
 * TIF_NOTIFY_RESUME's (task work, which is how CPU-time timers fire:
 * RLIMIT_CPU's SIGXCPU and SIGKILL, ITIMER_PROF, CLOCK_*_CPUTIME_ID; the
 * memory cgroup's memory.high throttling; rseq), or TIF_NOTIFY_SIGNAL's
 * (task work queued to run as soon as possible: io_uring). A guest that
 * never exits on its own must not hold it off.
 */
static bool vhm_user_work_pending(void)
{
	return test_thread_flag(TIF_NOTIFY_RESUME) ||
	       test_thread_flag(TIF_NOTIFY_SIGNAL);
}

/*
 * VHM_RUN stops for a signal (EINTR, VHM_EXIT_INTR), or goes to user space
 * for that work and comes straight back, unseen by the VMM: with
 * TIF_NOTIFY_SIGNAL set, the way out calls get_signal(), which runs the
 * task work; with no signal to handle the kernel restarts the system call
 * (-ERESTARTNOHAND). A signal with a handler, pending by then or raised by
 * the work (SIGPROF), is handled and VHM_RUN returns EINTR, as for any
 * signal: a restart must not swallow the signal a VMM kicks its vCPU with.
 */
static int vhm_run_stop(struct vhm_vcpu *vcpu)
{
	int r = vhm_run_interrupted(vcpu);

	if (task_sigpending(current))
		return r;
	set_thread_flag(TIF_NOTIFY_SIGNAL);
	return -ERESTARTNOHAND;
}

/*
 * After a fast exit: the host needs this CPU (a reschedule, a signal or
 * other work for the thread, a reboot) and the run loop's checks, or it
 * has not taken its interrupts for VHM_FAST_EXITS_MAX entries.
 */
static bool vhm_host_needs_cpu(unsigned int fast_exits)
{
	return fast_exits >= VHM_FAST_EXITS_MAX || need_resched() ||
	       signal_pending(current) || vhm_user_work_pending() ||
	       vhm_virt_rebooting();
}

/*
 * One world switch, interrupts off, the guest's FPU registers loaded:
 * in_guest, then the TLB generation; the local APIC's events into the
 * queue; the event for this entry; the register file; the speculation
 * barriers (spec.c) around the vendor's enter. The exit's code.
 */
static u32 vhm_world_switch(struct vhm_vcpu *vcpu)
{
	u64 gen;

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
	return vhm_ops->exit_code(vcpu);
}

/*
 * Entries until an exit that is not fast, the same on both vendors
 * (vendor.h: the mechanism ops in the order called). What userspace
 * answered for the last exit is completed first; a triple fault that or an
 * exit's handler raised (events.c) is a shutdown exit instead. With
 * interrupts off: no entry once the host reboots (virtualization is off,
 * or soon: virt.c); the guest's FPU registers (fpu.c: only from here to
 * the exit).
 */
static int vhm_enter_guest(struct vhm_vcpu *vcpu)
{
	unsigned int fast_exits = 0;
	u32 code;
	int r;

	vhm_complete_user_exit(vcpu);
	if (vcpu->events.shutdown)
		return vhm_exit_shutdown(vcpu);
	preempt_disable();
	if (vhm_ops->vcpu_load)
		vhm_ops->vcpu_load(vcpu);
	local_irq_disable();
	if (vhm_virt_rebooting()) {
		local_irq_enable();
		preempt_enable();
		return -EIO;
	}
	if (vhm_ops->vcpu_get)
		vhm_ops->vcpu_get(vcpu);
	vhm_fpu_enter(vcpu);
	do {
		code = vhm_world_switch(vcpu);
		r = vhm_handle_fast_exit(vcpu, code);
	} while (r == 1 && !vcpu->events.shutdown &&
		 !vhm_host_needs_cpu(++fast_exits));
	vhm_fpu_exit(vcpu);
	if (vhm_ops->vcpu_put)
		vhm_ops->vcpu_put(vcpu);
	local_irq_enable();
	preempt_enable();
	return r == VHM_EXIT_SLOW ? vhm_handle_exit(vcpu, code) : r;
}

static int vhm_run_loop(struct vhm_vcpu *vcpu)
{
	int r;

	for (;;) {
		if (signal_pending(current) || vhm_user_work_pending())
			return vhm_run_stop(vcpu);
		/* The host scheduler decides: no trip to userspace needed. */
		cond_resched();
		if (vcpu->lapic && vhm_lapic_wait_sipi(vcpu))
			return vhm_run_stop(vcpu);
		r = vhm_enter_guest(vcpu);
		if (r <= 0)
			return r;
	}
}

int vhm_vcpu_run(struct vhm_vcpu *vcpu)
{
	int r;

	if (READ_ONCE(vcpu->run->immediate_exit))
		return vhm_run_interrupted(vcpu);
	vhm_kvm_run_begin(vcpu);
	r = vhm_run_loop(vcpu);
	vhm_kvm_run_end(vcpu);
	return r;
}
