/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, all in one place. vhm builds against every
 * kernel of its matrix (Debian 12's 6.1 and bookworm-backports' 6.12, and
 * newer); code elsewhere uses the names defined here. Tests are on the
 * feature, not on LINUX_VERSION_CODE, so distro backports work too.
 */
#ifndef VHM_COMPAT_H
#define VHM_COMPAT_H

#include <asm/msr.h>

/* rdmsrl()/wrmsrl() became rdmsrq()/wrmsrq() in 6.16. */
#ifdef rdmsrq
#define vhm_rdmsr(msr, val)	rdmsrq(msr, val)
#define vhm_wrmsr(msr, val)	wrmsrq(msr, val)
#else
#define vhm_rdmsr(msr, val)	rdmsrl(msr, val)
#define vhm_wrmsr(msr, val)	wrmsrl(msr, val)
#endif

/*
 * Entering and leaving a guest, for RCU (the CPU is in a quiescent state
 * while the guest runs), context tracking and lockdep: the kernel's own
 * helpers for hypervisors, static inlines in kvm_host.h on every kernel of
 * the matrix (they call only GPL exports). Interrupts off.
 */
#include <linux/kvm_host.h>
#define vhm_guest_state_enter_irqoff()	guest_state_enter_irqoff()
#define vhm_guest_state_exit_irqoff()	guest_state_exit_irqoff()

/*
 * A reschedule IPI to the calling CPU (interrupts off: it is taken by the
 * next guest entry, which exits at once). Since 6.3 smp_send_reschedule()
 * is a macro that traces the IPI through a header modules do not include;
 * the smp_ops member it calls (the parentheses stop that macro) is a GPL
 * export on every kernel of the matrix.
 */
#include <asm/smp.h>
static inline void vhm_send_reschedule_self(void)
{
	(smp_ops.smp_send_reschedule)(smp_processor_id());
}

/* The same to another CPU: a guest running there exits. */
static inline void vhm_send_reschedule(int cpu)
{
	(smp_ops.smp_send_reschedule)(cpu);
}

/*
 * hrtimer_setup() replaced hrtimer_init() plus setting the function in
 * 6.13 (hrtimer_init() went away in 6.15). Both are functions: Kbuild
 * looks for the new one in the kernel's header.
 */
#include <linux/hrtimer.h>
#ifdef VHM_HAVE_HRTIMER_SETUP
#define vhm_hrtimer_setup(t, fn, clock, mode)	hrtimer_setup(t, fn, clock, mode)
#else
static inline void vhm_hrtimer_setup(struct hrtimer *t,
				     enum hrtimer_restart (*fn)(struct hrtimer *),
				     clockid_t clock, enum hrtimer_mode mode)
{
	hrtimer_init(t, clock, mode);
	t->function = fn;
}
#endif

#endif /* VHM_COMPAT_H */
