// SPDX-License-Identifier: GPL-2.0
/*
 * VHM_RUN: the vCPU is the calling thread. It enters the guest again and
 * again until an exit needs userspace, a signal is pending, or an error;
 * the host scheduler may preempt or migrate it between entries.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "lapic.h"
#include "vhm.h"
#include "vm.h"

static int vhm_run_interrupted(struct vhm_vcpu *vcpu)
{
	vcpu->run->exit_reason = VHM_EXIT_INTR;
	return -EINTR;
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
		r = vhm_ops->run(vcpu);
		if (r <= 0)
			return r;
	}
}

int vhm_vcpu_run(struct vhm_vcpu *vcpu)
{
	int r;

	if (READ_ONCE(vcpu->run->immediate_exit))
		return vhm_run_interrupted(vcpu);
	vhm_fpu_load_guest(vcpu);
	r = vhm_run_loop(vcpu);
	vhm_fpu_put_guest(vcpu);
	return r;
}
