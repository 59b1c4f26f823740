/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the in-kernel local APIC: its state, shared by lapic.c (the
 * registers), lapic_timer.c and lapic_ipi.c. Nothing else includes it.
 */
#ifndef VHM_LAPIC_PRIV_H
#define VHM_LAPIC_PRIV_H

#include <linux/hrtimer.h>
#include <linux/rcuwait.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#define LAPIC_NR_REGS		64	/* 16-byte registers 0x000-0x3f0 */
#define LAPIC_VERSION		0x00050014	/* integrated, max LVT 5 */
#define LAPIC_SVR_VALID		0x1ff	/* vector and software enable */
#define LAPIC_LVT_TIMER_MODE	(3u << 17)
#define LAPIC_LVT_PERIODIC	(1u << 17)
#define LAPIC_LVT_DEADLINE	(2u << 17)
#define LAPIC_ICR_VALID		0x000ccfff	/* what the ICR keeps */
#define LAPIC_ICR_SHORTHAND(icr)	(((icr) >> 18) & 3)
#define LAPIC_ICR_LEVEL		(1u << 14)	/* assert (INIT: not de-assert) */
#define LAPIC_ICR_TRIGGER	(1u << 15)	/* level-triggered */
#define LAPIC_ICR_LOGICAL	(1u << 11)
#define LAPIC_ICR_MODE(icr)	(((icr) >> 8) & 7)
#define LAPIC_X2_SELF_IPI	0x3f0	/* x2APIC only */
/*
 * A periodic timer fires at most this often (ns): the host's protection.
 * Each expiry is a hard interrupt on the host, whether the vCPU runs or
 * not; 200 us (5000 Hz, more than any guest's periodic tick needs) is
 * KVM's default minimum too. It was 10 us.
 */
#define LAPIC_MIN_PERIOD_NS	200000

/* Delivery modes (ICR bits 8-10, IOAPIC redirection entries). */
enum lapic_dm {
	LAPIC_DM_FIXED = 0,
	LAPIC_DM_LOWEST = 1,
	LAPIC_DM_SMI = 2,
	LAPIC_DM_NMI = 4,
	LAPIC_DM_INIT = 5,
	LAPIC_DM_SIPI = 6,
	LAPIC_DM_EXTINT = 7,
};

struct vhm_vcpu;

/*
 * Locking (docs/ARCHITECTURE.md, "Locking of the interrupt controllers"):
 * lock is a raw spinlock because it is taken with interrupts off (the
 * vendors' entry hooks) and from the timer's hrtimer, which expires in
 * hard-interrupt context even on PREEMPT_RT. It is the innermost lock:
 * under it only registers and flags change and the hrtimer is started
 * (its base lock is raw too). Waking the vCPU (lapic_kick()) happens
 * after it is dropped. Lock order: the IOAPIC's lock, then this one.
 */
struct vhm_lapic {
	struct vhm_vcpu *vcpu;
	raw_spinlock_t lock;	/* regs, queued, the flags below */
	u32 regs[LAPIC_NR_REGS];
	int queued;		/* the vendor's pending interrupt, or -1 */
	struct hrtimer timer;
	u64 period_ns;		/* of the running count */
	u64 tsc_deadline;	/* IA32_TSC_DEADLINE; 0: disarmed */
	/*
	 * The vCPU thread sleeping in HLT or in the wait for SIPI: the only
	 * waiter (VHM_RUN holds the vCPU's mutex). An rcuwait, because its
	 * wake-up takes no sleeping lock and so may come from the hrtimer.
	 */
	struct rcuwait wait;
	/*
	 * Set by IPIs (under lock), taken by the vCPU thread: the NMIs
	 * latched here (at most 2, vhm_lapic_pending()), INIT, SIPI.
	 */
	u8 nmi_count;
	bool init_pending;
	bool sipi_pending;
	u8 sipi_vector;
	bool wait_sipi;		/* INIT received, no SIPI yet */
	u32 halt_poll_ns;	/* the vCPU thread's: its HLTs' poll window */
	/*
	 * Errors detected since the guest last wrote ESR (APIC_ESR_*): a
	 * write copies them to the readable ESR and clears them (SDM vol.
	 * 3A, "Error Handling").
	 */
	u32 esr_pending;
};

static inline u32 *lapic_reg(struct vhm_lapic *apic, unsigned int offset)
{
	return &apic->regs[offset >> 4];
}

/* IRR, ISR and TMR: 8 registers of 32 bits, vector v in bit v % 32. */
static inline void lapic_set_vec(struct vhm_lapic *apic, unsigned int base,
				 u8 v)
{
	*lapic_reg(apic, base + (v >> 5) * 0x10) |= BIT(v & 31);
}

static inline void lapic_clear_vec(struct vhm_lapic *apic, unsigned int base,
				   u8 v)
{
	*lapic_reg(apic, base + (v >> 5) * 0x10) &= ~BIT(v & 31);
}

static inline bool lapic_test_vec(struct vhm_lapic *apic, unsigned int base,
				  u8 v)
{
	return *lapic_reg(apic, base + (v >> 5) * 0x10) & BIT(v & 31);
}

/*
 * lapic.c: make the vCPU see new state (wake it, or IPI its CPU). Lock
 * not held; any context (the hrtimer, interrupts off, the IOAPIC's lock).
 */
void lapic_kick(struct vhm_lapic *apic);
bool lapic_x2apic(struct vhm_lapic *apic);
/*
 * Lock held, any context: a fixed, edge or level interrupt the APIC
 * accepts (IRR), or for vectors 0-15 a Receive Illegal Vector error.
 * Both may put a vector in IRR: true when the vCPU needs a kick.
 */
bool lapic_accept_vector_locked(struct vhm_lapic *apic, u8 vector,
				bool level);
/* Record errors (APIC_ESR_*) and kick; lock not held. */
void lapic_error(struct vhm_lapic *apic, u32 err);

/* lapic_timer.c: the timer's registers; lock not held. */
void lapic_timer_init(struct vhm_lapic *apic);
void lapic_timer_start(struct vhm_lapic *apic, u32 count);
u32 lapic_timer_current(struct vhm_lapic *apic);
bool lapic_timer_due_within(struct vhm_lapic *apic, u64 ns);
/* Before a write of val to LVT timer: a new mode disarms the timer. */
void lapic_timer_mode_change(struct vhm_lapic *apic, u32 val);
/* A write to TDCR: a running count goes on at the new rate. */
void lapic_timer_divide_change(struct vhm_lapic *apic, u32 val);

/* lapic_ipi.c: a write to ICR (low) from the APIC's own vCPU. */
void lapic_send_ipi(struct vhm_lapic *apic, u32 icr, u32 dest);

#endif /* VHM_LAPIC_PRIV_H */
