// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupt messages between the VM's local APICs (lapic.c): IPIs the
 * guest writes to its ICR, and the IOAPIC's redirected interrupts. The
 * sender finds the targets among the VM's vCPUs under RCU (a vCPU is freed
 * only after a grace period) and sets their state under each target's
 * own raw lock, then kicks it once that lock is dropped. INIT and SIPI
 * start application processors: the target's thread waits for the SIPI
 * in VHM_RUN (vhm_lapic_wait_sipi).
 */
#include <linux/lockdep.h>
#include <linux/rcupdate.h>
#include <linux/rcuwait.h>
#include <linux/sched/signal.h>
#include <asm/apicdef.h>
#include <asm/processor-flags.h>

#include "ioapic.h"
#include "lapic.h"
#include "lapic_priv.h"
#include "regs.h"
#include "vhm.h"
#include "vm.h"

#define LAPIC_SH_NONE		0
#define LAPIC_SH_SELF		1
#define LAPIC_SH_ALL		2
#define LAPIC_SH_OTHERS		3
#define LAPIC_REAL_CODE		(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb))
#define LAPIC_REAL_DATA		(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3))
#define LAPIC_INIT_CR0		(X86_CR0_CD | X86_CR0_NW | X86_CR0_ET)

static bool lapic_match_logical(struct vhm_lapic *apic, u32 dest)
{
	u32 ldr = *lapic_reg(apic, APIC_LDR);

	if (lapic_x2apic(apic))
		return dest == 0xffffffff ||
		       ((dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff));
	dest &= 0xff;
	ldr >>= 24;
	if (dest == 0xff)
		return true;
	if ((*lapic_reg(apic, APIC_DFR) >> 28) == 0xf)	/* flat model */
		return dest & ldr;
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
}

static bool lapic_match_physical(struct vhm_lapic *apic, u32 dest)
{
	if (lapic_x2apic(apic))
		return dest == 0xffffffff || dest == apic->vcpu->id;
	dest &= 0xff;
	return dest == 0xff || dest == *lapic_reg(apic, APIC_ID) >> 24;
}

static bool lapic_targets(struct vhm_lapic *apic, struct vhm_lapic *src,
			  u32 shorthand, const struct vhm_apic_msg *m)
{
	if (!(apic->vcpu->apic_base & MSR_IA32_APICBASE_ENABLE))
		return false;
	switch (shorthand) {
	case LAPIC_SH_SELF:
		return apic == src;
	case LAPIC_SH_ALL:
		return true;
	case LAPIC_SH_OTHERS:
		return apic != src;
	default:
		return m->logical ? lapic_match_logical(apic, m->dest) :
				    lapic_match_physical(apic, m->dest);
	}
}

/* The message reaches apic; false if it had nothing to do. Lock held. */
static bool lapic_accept_locked(struct vhm_lapic *apic,
				const struct vhm_apic_msg *m)
{
	lockdep_assert_held(&apic->lock);
	/* Checked again under the lock: vhm_lapic_set_base() resets it. */
	if (!(apic->vcpu->apic_base & MSR_IA32_APICBASE_ENABLE))
		return false;
	switch (m->mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		return lapic_accept_vector_locked(apic, m->vector, m->level);
	case LAPIC_DM_NMI:
		if (apic->nmi_count < 2)
			apic->nmi_count++;
		return true;
	case LAPIC_DM_INIT:
		if (m->level && !m->assert)
			return false;	/* INIT level de-assert: a no-op */
		apic->init_pending = true;
		return true;
	case LAPIC_DM_SIPI:
		if (!apic->wait_sipi && !apic->init_pending)
			return false;
		apic->sipi_vector = m->vector;
		apic->sipi_pending = true;
		return true;
	default:
		return false;	/* SMI, ExtINT: not emulated */
	}
}

static void lapic_accept(struct vhm_lapic *apic, const struct vhm_apic_msg *m)
{
	unsigned long flags;
	bool kick;

	raw_spin_lock_irqsave(&apic->lock, flags);
	kick = lapic_accept_locked(apic, m);
	raw_spin_unlock_irqrestore(&apic->lock, flags);
	if (kick)
		lapic_kick(apic);
}

/*
 * Every vCPU the message targets; the scan ends at the highest slot ever
 * used (an IPI's cost is on the round trip of vhm-bench's ipi row).
 */
static void lapic_deliver(struct vhm_vm *vm, struct vhm_lapic *src,
			  u32 shorthand, const struct vhm_apic_msg *m)
{
	unsigned int i, n = vhm_vm_vcpu_slots(vm);
	struct vhm_vcpu *vcpu;

	rcu_read_lock();
	for (i = 0; i < n; i++) {
		vcpu = READ_ONCE(vm->vcpus[i]);
		if (!vcpu || !vcpu->lapic ||
		    !lapic_targets(vcpu->lapic, src, shorthand, m))
			continue;
		lapic_accept(vcpu->lapic, m);
		/* Lowest priority: the first that matches takes it. */
		if (m->mode == LAPIC_DM_LOWEST)
			break;
	}
	rcu_read_unlock();
}

void vhm_lapic_deliver(struct vhm_vm *vm, const struct vhm_apic_msg *m)
{
	lapic_deliver(vm, NULL, LAPIC_SH_NONE, m);
}

void lapic_send_ipi(struct vhm_lapic *apic, u32 icr, u32 dest)
{
	struct vhm_apic_msg m = {
		.dest = dest,
		.vector = icr & 0xff,
		.mode = LAPIC_ICR_MODE(icr),
		.logical = icr & LAPIC_ICR_LOGICAL,
		.level = icr & LAPIC_ICR_TRIGGER,
		.assert = icr & LAPIC_ICR_LEVEL,
	};

	/* Vectors 0-15 are illegal: the IPI is not sent (SDM, "Error Handling"). */
	if ((m.mode == LAPIC_DM_FIXED || m.mode == LAPIC_DM_LOWEST) &&
	    m.vector < 16) {
		lapic_error(apic, APIC_ESR_SENDILL);
		return;
	}

	lapic_deliver(apic->vcpu->vm, apic, LAPIC_ICR_SHORTHAND(icr), &m);
}

/* ---------------------------------------------------------------------
 * INIT and SIPI, on the target vCPU's thread.
 */

static void lapic_real_seg(struct vhm_segment *seg, u16 sel, u16 attrib)
{
	seg->selector = sel;
	seg->base = (u64)sel << 4;
	seg->limit = 0xffff;
	seg->attrib = attrib;
}

/* The state after INIT, then the SIPI's start: CS:IP = vector << 8 : 0. */
static int lapic_start_ap(struct vhm_vcpu *vcpu, u8 vector)
{
	struct vhm_sregs s;
	struct vhm_regs r;

	memset(&s, 0, sizeof(s));
	lapic_real_seg(&s.cs, (u16)vector << 8, LAPIC_REAL_CODE);
	lapic_real_seg(&s.ds, 0, LAPIC_REAL_DATA);
	s.es = s.ds;
	s.fs = s.ds;
	s.gs = s.ds;
	s.ss = s.ds;
	lapic_real_seg(&s.tr, 0, VHM_SEG_P | VHM_SEG_TYPE(0xb));
	lapic_real_seg(&s.ldt, 0, VHM_SEG_P | VHM_SEG_TYPE(2));
	s.gdt.limit = 0xffff;
	s.idt.limit = 0xffff;
	s.cr0 = LAPIC_INIT_CR0;
	if (vhm_ops->set_sregs(vcpu, &s))
		return -EIO;
	memset(&r, 0, sizeof(r));
	r.rflags = X86_EFLAGS_FIXED;
	vhm_set_regs(vcpu, &r);
	vhm_events_reset(vcpu);
	vhm_xcr_reset(vcpu);
	return 0;
}

/* Take a pending INIT (wait for SIPI from now on) or SIPI; lock held. */
static int lapic_take_mp(struct vhm_lapic *apic)
{
	int vector = -1;

	lockdep_assert_held(&apic->lock);
	if (apic->init_pending) {
		apic->init_pending = false;
		apic->wait_sipi = true;
		apic->nmi_count = 0;
	}
	if (apic->wait_sipi && apic->sipi_pending) {
		apic->wait_sipi = false;
		vector = apic->sipi_vector;
	}
	apic->sipi_pending = false;
	return vector;
}

static bool lapic_mp_event(struct vhm_lapic *apic)
{
	return READ_ONCE(apic->init_pending) || READ_ONCE(apic->sipi_pending);
}

int vhm_lapic_wait_sipi(struct vhm_vcpu *vcpu)
{
	struct vhm_lapic *apic = vcpu->lapic;
	unsigned long flags;
	int vector;

	for (;;) {
		raw_spin_lock_irqsave(&apic->lock, flags);
		vector = lapic_take_mp(apic);
		raw_spin_unlock_irqrestore(&apic->lock, flags);
		if (vector >= 0)
			return lapic_start_ap(vcpu, vector);
		if (!READ_ONCE(apic->wait_sipi))
			return 0;
		if (rcuwait_wait_event(&apic->wait, lapic_mp_event(apic),
				       TASK_INTERRUPTIBLE))
			return -EINTR;
	}
}
