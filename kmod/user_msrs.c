// SPDX-License-Identifier: GPL-2.0
/*
 * The MSRs the host uses only in user mode (user_msrs.h), switched as KVM
 * does with its "user return MSRs": writing them costs more than an exit
 * to user space needs, and the kernel itself never reads them.
 *
 * Per CPU, interrupts off: while guest is true the CPU may hold a guest's
 * values; cur is what it holds, found what vhm puts back.
 *
 * In vhm's own VMX/SVM operation the values found are the host's, the same
 * whenever virtualization is on here (set at the CPU's bring-up): read at
 * the first start after it was turned on (host_known), put back by a
 * user-return notifier before any task returns to user mode on this CPU.
 *
 * On top of KVM they may be a KVM guest's that KVM's own user-return cache
 * expects to find there (KVM writes an MSR only when its cached copy
 * differs), and KVM's notifier may run before or after vhm's would: so
 * they are read at every start and put back exactly whenever the vCPU's
 * thread gives the CPU up (kvm_host.c: sched out, VHM_RUN's return), with
 * no notifier. Nothing of vhm's is left for KVM or user space, and no host
 * value is assumed (a TSC_AUX found may be a KVM guest's).
 */
#include <linux/bits.h>
#include <linux/irqflags.h>
#include <linux/percpu.h>
#include <linux/user-return-notifier.h>
#include <asm/msr-index.h>

#include "compat.h"
#include "kvm_host.h"
#include "user_msrs.h"

struct vhm_umsrs {
	struct user_return_notifier urn;
	bool guest;
	bool host_known;
	u64 cur[VHM_NR_UMSRS];
	u64 found[VHM_NR_UMSRS];
};

static DEFINE_PER_CPU(struct vhm_umsrs, vhm_umsrs);
static unsigned long vhm_umsrs_mask;

static const u32 vhm_umsr_index[VHM_NR_UMSRS] = {
	[VHM_UMSR_TSC_AUX] = MSR_TSC_AUX,
	[VHM_UMSR_STAR] = MSR_STAR,
	[VHM_UMSR_LSTAR] = MSR_LSTAR,
	[VHM_UMSR_CSTAR] = MSR_CSTAR,
	[VHM_UMSR_SFMASK] = MSR_SYSCALL_MASK,
};

void vhm_umsrs_use(enum vhm_umsr slot)
{
	vhm_umsrs_mask |= BIT(slot);
}

bool vhm_umsr_used(enum vhm_umsr slot)
{
	return vhm_umsrs_mask & BIT(slot);
}

static void vhm_umsr_write(struct vhm_umsrs *u, enum vhm_umsr slot, u64 v)
{
	if (u->cur[slot] == v)
		return;
	vhm_wrmsr(vhm_umsr_index[slot], v);
	u->cur[slot] = v;
}

static void vhm_umsrs_read_found(struct vhm_umsrs *u)
{
	unsigned int slot;

	for_each_set_bit(slot, &vhm_umsrs_mask, VHM_NR_UMSRS)
		vhm_rdmsr(vhm_umsr_index[slot], u->found[slot]);
}

void vhm_umsrs_put_back(bool forget)
{
	struct vhm_umsrs *u = this_cpu_ptr(&vhm_umsrs);
	unsigned int slot;

	lockdep_assert_irqs_disabled();
	if (forget)
		u->host_known = false;
	if (!u->guest)
		return;
	u->guest = false;
	if (!vhm_on_kvm)
		user_return_notifier_unregister(&u->urn);
	for_each_set_bit(slot, &vhm_umsrs_mask, VHM_NR_UMSRS)
		vhm_umsr_write(u, slot, u->found[slot]);
}

/* Own operation: a task returns to user mode on this CPU. */
static void vhm_umsrs_on_user_return(struct user_return_notifier *urn)
{
	unsigned long flags;

	local_irq_save(flags);
	vhm_umsrs_put_back(false);
	local_irq_restore(flags);
}

static void vhm_umsrs_start(struct vhm_umsrs *u)
{
	if (vhm_on_kvm || !u->host_known)
		vhm_umsrs_read_found(u);
	if (!vhm_on_kvm) {
		u->host_known = true;
		u->urn.on_user_return = vhm_umsrs_on_user_return;
		user_return_notifier_register(&u->urn);
	}
	memcpy(u->cur, u->found, sizeof(u->cur));
	u->guest = true;
}

void vhm_umsr_load(enum vhm_umsr slot, u64 v)
{
	struct vhm_umsrs *u = this_cpu_ptr(&vhm_umsrs);

	if (!vhm_umsr_used(slot))
		return;
	if (!u->guest)
		vhm_umsrs_start(u);
	vhm_umsr_write(u, slot, v);
}
