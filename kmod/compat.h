/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, all in one place. vhm builds against every
 * kernel of its matrix (Debian 12's 6.1, bookworm-backports' and Debian
 * 13's 6.12, trixie-backports' 7.3 and its -rt flavour); code elsewhere uses
 * the names defined here. Tests are on the
 * feature, not on LINUX_VERSION_CODE, so distro backports work too.
 */
#ifndef VHM_COMPAT_H
#define VHM_COMPAT_H

/*
 * Speculation mitigations around guest entry (kmod/spec.h): the host's
 * feature bits whose names or meaning changed. This part is included by
 * the entry asm too; always the names, never numbers (they moved).
 *
 * VERW before VMLAUNCH/VMRESUME: 7.x split "clear CPU buffers" into a bit
 * for user and one for guests (and added X86_FEATURE_CLEAR_CPU_BUF_VM_MMIO
 * with the split); until then X86_FEATURE_CLEAR_CPU_BUF covers both. VERW
 * before VMRUN: X86_FEATURE_CLEAR_CPU_BUF_VM (AMD TSA) where it exists.
 * The BHB clearing after a VM exit: renamed in 7.x, same meaning.
 */
#include <asm/cpufeatures.h>
#ifdef X86_FEATURE_CLEAR_CPU_BUF_VM_MMIO
#define VHM_FEATURE_VERW_VMX	X86_FEATURE_CLEAR_CPU_BUF_VM
#else
#define VHM_FEATURE_VERW_VMX	X86_FEATURE_CLEAR_CPU_BUF
#endif
#ifdef X86_FEATURE_CLEAR_CPU_BUF_VM
#define VHM_FEATURE_VERW_SVM	X86_FEATURE_CLEAR_CPU_BUF_VM
#else
#define VHM_FEATURE_VERW_SVM	X86_FEATURE_CLEAR_CPU_BUF
#endif
#ifdef X86_FEATURE_CLEAR_BHB_VMEXIT
#define VHM_FEATURE_BHB_VMEXIT	X86_FEATURE_CLEAR_BHB_VMEXIT
#else
#define VHM_FEATURE_BHB_VMEXIT	X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT
#endif

#ifndef __ASSEMBLY__

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

/*
 * cpuid(), cpuid_count() and cpuid_eax()..cpuid_edx() moved from
 * <asm/processor.h> to <asm/cpuid/api.h> in 6.16 (7.x's processor.h no
 * longer pulls them in). Kbuild looks for the header.
 */
#ifdef VHM_HAVE_ASM_CPUID_API
#include <asm/cpuid/api.h>
#endif

/*
 * Syscore (suspend/resume on the last CPU): register_syscore_ops() with
 * callbacks taking no argument became register_syscore() of a struct
 * syscore whose callbacks take its data pointer in 6.18; Debian 13's 6.12
 * has the new form backported, so Kbuild looks for it in the header.
 * Callbacks are declared as int f(VHM_SYSCORE_ARG) and void g(VHM_SYSCORE_ARG).
 */
#include <linux/syscore_ops.h>
#ifdef VHM_HAVE_REGISTER_SYSCORE
#define VHM_SYSCORE_ARG	void *data
#define VHM_DEFINE_SYSCORE(name, suspend_fn, resume_fn)			\
	static const struct syscore_ops name##_ops = {			\
		.suspend = suspend_fn,					\
		.resume = resume_fn,					\
	};								\
	static struct syscore name = { .ops = &name##_ops }
#define vhm_register_syscore(s)		register_syscore(s)
#define vhm_unregister_syscore(s)	unregister_syscore(s)
#else
#define VHM_SYSCORE_ARG	void
#define VHM_DEFINE_SYSCORE(name, suspend_fn, resume_fn)			\
	static struct syscore_ops name = {				\
		.suspend = suspend_fn,					\
		.resume = resume_fn,					\
	}
#define vhm_register_syscore(s)		register_syscore_ops(s)
#define vhm_unregister_syscore(s)	unregister_syscore_ops(s)
#endif

/*
 * Crash and emergency reboot. Until 6.x a module turning VMX/SVM on
 * registers a callback the kernel runs in NMI context on every CPU
 * (cpu_emergency_register_virt_callback(), a GPL export). 7.x removed it:
 * the core kernel (arch/x86/virt/hw.c) owns virtualization and its
 * emergency path itself does VMXOFF and clears CR4.VMXE, or STGI and
 * clears EFER.SVME, on every CPU where the hardware says it is on, with
 * nobody's callback needed; the callback that remains
 * (x86_virt_register_emergency_callback()) is exported to KVM only. So
 * there vhm registers nothing and relies on that path (its own callback
 * would only have done the same after VMCLEAR of its VMCSs, which a crash
 * dump does not need). Kbuild looks for the old function.
 */
#include <asm/reboot.h>
#ifdef VHM_HAVE_EMERGENCY_VIRT_CALLBACK
#define vhm_emergency_register(cb)	cpu_emergency_register_virt_callback(cb)
#define vhm_emergency_unregister(cb)	cpu_emergency_unregister_virt_callback(cb)
#else
static inline void vhm_emergency_register(void (*cb)(void)) { }
static inline void vhm_emergency_unregister(void (*cb)(void)) { }
#endif

/*
 * CR4.VMXE. Until 6.x a module sets and clears it with cr4_set_bits() and
 * cr4_clear_bits(), which keep the kernel's per-CPU copy of CR4 in step,
 * and reads that copy with cr4_read_shadow() (GPL exports). 7.x turns VMX
 * on itself, for KVM only (arch/x86/virt/hw.c: x86_virt_get_ref()), and
 * exports the CR4 helpers to KVM only. A raw write behind the kernel's
 * copy would be undone by its next write from the copy (an mm switch, a
 * TLB flush, a TSD toggle), which is a #GP in VMX operation. So on 7.x
 * the VMX backend has no own enablement (VHM_KERNEL_OWNS_VMX): it runs on
 * top of kvm_intel's VMX operation or refuses (kvm_host.c), the CR4
 * writes below are never reached, and CR4 is read with the inline
 * __read_cr4(). Kbuild looks for x86_virt_get_ref().
 */
#include <asm/tlbflush.h>
#ifdef VHM_HAVE_X86_VIRT
#define VHM_KERNEL_OWNS_VIRT	true
#define VHM_KERNEL_OWNS_VMX	true
static inline unsigned long vhm_cr4_read(void) { return __read_cr4(); }
static inline void vhm_cr4_set_bits(unsigned long mask) { WARN_ON_ONCE(1); }
static inline void vhm_cr4_clear_bits(unsigned long mask) { WARN_ON_ONCE(1); }
#else
#define VHM_KERNEL_OWNS_VIRT	false
#define VHM_KERNEL_OWNS_VMX	false
static inline unsigned long vhm_cr4_read(void) { return cr4_read_shadow(); }
static inline void vhm_cr4_set_bits(unsigned long mask) { cr4_set_bits(mask); }
static inline void vhm_cr4_clear_bits(unsigned long mask)
{
	cr4_clear_bits(mask);
}
#endif

/*
 * Running on top of KVM (kmod/kvm_host.c) where the kernel owns
 * virtualization (VHM_KERNEL_OWNS_VIRT: 7.x). vhm notices when a vCPU's
 * thread gives its CPU up through a preempt notifier, the hook KVM itself
 * uses (preempt_notifier_*: GPL exports, no namespace, on every kernel of
 * the matrix; CONFIG_PREEMPT_NOTIFIERS, which KVM selects, so every
 * kernel with KVM has them). Without them vhm cannot run beside KVM.
 */
#include <linux/preempt.h>
#ifdef CONFIG_PREEMPT_NOTIFIERS
#define VHM_CAN_RUN_ON_KVM	true
static inline void vhm_preempt_notifier_inc(void) { preempt_notifier_inc(); }
static inline void vhm_preempt_notifier_dec(void) { preempt_notifier_dec(); }
#else
#define VHM_CAN_RUN_ON_KVM	false
static inline void vhm_preempt_notifier_inc(void) { }
static inline void vhm_preempt_notifier_dec(void) { }
#endif

/*
 * The VMCB's exit code: two u32 (exit_code, exit_code_hi) until 6.x, one
 * u64 exit_code in 7.x (SVM_EXIT_ERR became -1ull). Always compare the
 * whole 64-bit code, e.g. with (u64)SVM_EXIT_ERR. Kbuild looks for
 * exit_code_hi in the header. (Macros, expanded in the SVM backend only:
 * this vendor-neutral header includes no vendor header.)
 */
#ifdef VHM_HAVE_VMCB_EXIT_CODE_HI
#define vhm_vmcb_exit_code(ctl)	\
	((u64)(ctl)->exit_code | ((u64)(ctl)->exit_code_hi << 32))
#else
#define vhm_vmcb_exit_code(ctl)	((u64)(ctl)->exit_code)
#endif

/*
 * The VMCB control field at 0x90 whose bit 0 enables nested paging:
 * nested_ctl and SVM_NESTED_CTL_NP_ENABLE until 6.x, misc_ctl and
 * SVM_MISC_ENABLE_NP in 7.x. An lvalue. Kbuild looks for misc_ctl.
 */
#ifdef VHM_HAVE_VMCB_MISC_CTL
#define vhm_vmcb_misc_ctl(ctl)	((ctl)->misc_ctl)
#define VHM_VMCB_NP_ENABLE	SVM_MISC_ENABLE_NP
#else
#define vhm_vmcb_misc_ctl(ctl)	((ctl)->nested_ctl)
#define VHM_VMCB_NP_ENABLE	SVM_NESTED_CTL_NP_ENABLE
#endif

/*
 * Whether the host wants an IBPB when a CPU switches between prediction
 * domains (spectre_v2_user= not "off"), the gate of KVM's IBPB on a vCPU
 * switch. Until 6.14 that is X86_FEATURE_USE_IBPB. After it the gate is
 * the static key switch_vcpu_ibpb, exported to KVM only (7.x), so vhm
 * approximates it from what any module sees: IBPB available, the CPU
 * affected, mitigations not off. (spectre_v2_user=off on such a kernel is
 * then not followed: vhm does more barriers than the host, never fewer.)
 */
#include <linux/cpu.h>
#include <asm/cpufeature.h>
static inline bool vhm_host_ibpb_on_switch(void)
{
#ifdef X86_FEATURE_USE_IBPB
	return boot_cpu_has(X86_FEATURE_USE_IBPB);
#else
	return boot_cpu_has(X86_FEATURE_IBPB) &&
	       boot_cpu_has_bug(X86_BUG_SPECTRE_V2_USER) &&
	       !cpu_mitigations_off();
#endif
}

/*
 * VMSCAPE: the host IBPBs on the next return to user space of a CPU that
 * ran a guest, when it sets this per-CPU flag (a GPL export, no
 * namespace, in every kernel of the matrix; older point releases lack the
 * bit and the flag).
 */
#ifdef X86_FEATURE_IBPB_EXIT_TO_USER
#include <asm/nospec-branch.h>
static inline bool vhm_host_vmscape(void)
{
	return cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER);
}

static inline void vhm_vmscape_ibpb_on_exit_to_user(void)
{
	this_cpu_write(x86_ibpb_exit_to_user, true);
}
#else
static inline bool vhm_host_vmscape(void) { return false; }
static inline void vhm_vmscape_ibpb_on_exit_to_user(void) { }
#endif

/*
 * FRED (6.9+, on by default from 7.x on CPUs that have it; fred=off turns
 * it off): INT n to a vector of the kernel's, such as INT 2 to hand on an
 * NMI, is a #GP then. Older kernels have no such bit.
 */
#ifdef X86_FEATURE_FRED
static inline bool vhm_host_fred(void)
{
	return cpu_feature_enabled(X86_FEATURE_FRED);
}
#else
static inline bool vhm_host_fred(void) { return false; }
#endif

#endif /* !__ASSEMBLY__ */
#endif /* VHM_COMPAT_H */
