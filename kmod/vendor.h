/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vendor operations table: everything that differs between AMD SVM and
 * Intel VMX sits behind it. Vendor-neutral code includes this header only,
 * never svm or vmx internals. Every operation is mandatory: main.c checks
 * the table once at load, and callers never test for NULL.
 */
#ifndef VHM_VENDOR_H
#define VHM_VENDOR_H

#include <linux/types.h>

struct vhm_vcpu;
struct vhm_sregs;

/* npt_pte() permissions. */
#define VHM_NPT_WRITE	BIT(0)

/* A backend's exit handler (struct vhm_vendor_ops, exit_handlers). */
typedef int (*vhm_exit_handler_t)(struct vhm_vcpu *vcpu);
/* A fast exit handler's "not here": the exit goes to exit_handlers. */
#define VHM_EXIT_SLOW	2

struct vhm_vendor_ops {
	/* "AMD-V (SVM)" or "Intel VT-x (VMX)", for messages. */
	const char *name;
	/* VHM_HW_SVM or VHM_HW_VMX. */
	u32 hw_vendor;
	/* The KVM module that competes for the same hardware. */
	const char *kvm_module;
	/*
	 * What the backend can do on this kernel (kvm_host.c picks the mode
	 * at load): own_enable, turn virtualization on and off itself
	 * (cpu_enable, cpu_disable); on_kvm, run on top of what KVM turned
	 * on (cpu_leave), changing none of the per-CPU state KVM set up.
	 */
	bool own_enable;
	bool on_kvm;

	/*
	 * Check on the boot CPU that every feature vhm needs is present and
	 * usable. On failure, print one line saying what is missing and how
	 * to fix it, and return -ENODEV (no such extension),
	 * -EOPNOTSUPP (a required feature is absent) or -EBUSY (turned off
	 * by firmware).
	 */
	int (*probe)(void);
	/*
	 * After probe: which speculation mitigations the backend's entry
	 * applies on this host (VHM_SPEC_* of spec.h), from the same host
	 * bits its entry asm's ALTERNATIVEs are patched from.
	 */
	u32 (*spec_init)(void);
	/* Allocate (free) per-CPU state for every possible CPU. */
	int (*setup)(void);
	void (*teardown)(void);

	/*
	 * On the calling CPU, interrupts off. cpu_in_use: virtualization is
	 * already on (someone else owns it). cpu_enable: turn it on, -EBUSY
	 * if someone else owns it, another -errno if the hardware refused.
	 * cpu_disable: turn it off. cpu_emergency_disable: turn it off from
	 * NMI context on crash or emergency reboot, tolerating any state.
	 */
	bool (*cpu_in_use)(void);
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	void (*cpu_emergency_disable)(void);
	/*
	 * On top of KVM only (kvm_host.c), on the calling CPU, interrupts
	 * off: vhm's guests are done with this CPU for now and another
	 * hypervisor may run on it next. Erase what they left in hardware
	 * state the two share (SVM: the TLB entries tagged with vhm's
	 * ASID). Cheap when there is nothing to erase.
	 */
	void (*cpu_leave)(void);
	/*
	 * On top of KVM only, optional, interrupts off: KVM is about to turn
	 * virtualization off on the calling CPU (suspend, on the last CPU:
	 * kvm_host.c). Write back what vhm keeps in the CPU (VMX: the VMCSs
	 * active there), so that its guests go on after resume.
	 */
	void (*cpu_before_kvm_off)(void);

	/*
	 * How many address-space tags (ASIDs, VPIDs) tell guests' TLB
	 * entries apart on this CPU, 0 without (VHM_CAP_TLB_TAGS).
	 */
	u32 (*nr_tlb_tags)(void);

	/*
	 * A nested page table entry: level 0 points to a table at pa;
	 * levels 1 (4 KiB) and 2 (2 MiB) map guest RAM at pa with the
	 * VHM_NPT_* permissions (always readable and executable).
	 */
	u64 (*npt_pte)(phys_addr_t pa, unsigned int perm, int level);
	/* Whether level 2 entries exist. */
	bool (*npt_has_2m)(void);

	/* Per-vCPU state, in the architectural reset state after create. */
	int (*vcpu_create)(struct vhm_vcpu *vcpu);
	/*
	 * vcpu_release (optional): the vCPU's file is closed, its VM still
	 * alive (on top of KVM: with the KVM VM that keeps VMX on), nothing
	 * runs it again: hardware state that must not outlive the VM goes
	 * (VMX: the VMCS is cleared, written back and inactive). vcpu_free
	 * follows after an RCU grace period, maybe after the VM.
	 */
	void (*vcpu_release)(struct vhm_vcpu *vcpu);
	void (*vcpu_free)(struct vhm_vcpu *vcpu);
	/*
	 * The registers of the register file (regs.h) the VMCB or VMCS holds,
	 * a mask of BIT(enum vhm_gpr or vhm_reg); read_reg and write_reg move
	 * one of them between the hardware's copy and the file.
	 */
	unsigned long hw_regs;
	u64 (*read_reg)(struct vhm_vcpu *vcpu, unsigned int reg);
	void (*write_reg)(struct vhm_vcpu *vcpu, unsigned int reg, u64 val);
	/*
	 * Segment, descriptor-table and control registers, EFER; not
	 * apic_base, which is vcpu->apic_base (vcpu.c). set_sregs: sregs
	 * passed vhm_check_sregs(); -EINVAL if the vendor refuses.
	 */
	void (*get_sregs)(struct vhm_vcpu *vcpu, struct vhm_sregs *sregs);
	int (*set_sregs)(struct vhm_vcpu *vcpu, const struct vhm_sregs *sregs);
	/*
	 * The MSRs vhm virtualizes (docs/API.md): -ENOENT for any other,
	 * -EINVAL for a value the MSR cannot hold. host is true for
	 * VHM_SET_MSRS (which may set what the guest may only read).
	 */
	int (*get_msr)(struct vhm_vcpu *vcpu, u32 index, u64 *data);
	int (*set_msr)(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host);
	/*
	 * What blocks events (the queue is vcpu->events, events.c): the
	 * VHM_EVENT_NMI_MASKED and VHM_EVENT_INT_SHADOW bits of the guest's
	 * state, read or replaced.
	 */
	u32 (*get_event_blocking)(struct vhm_vcpu *vcpu);
	void (*set_event_blocking)(struct vhm_vcpu *vcpu, u32 flags);
	/*
	 * DR6 and DR7, which the vendor's hardware switches (dr.c: DR0-3).
	 */
	void (*get_dr67)(struct vhm_vcpu *vcpu, u64 *dr6, u64 *dr7);
	void (*set_dr67)(struct vhm_vcpu *vcpu, u64 dr6, u64 dr7);
	/*
	 * Mechanism for the shared exit handlers (exits.c). skip_insn: the
	 * intercepted instruction is done, RIP moves past its len bytes and
	 * an interrupt shadow ends. end_shadow: an instruction vhm emulated
	 * completed, its STI or MOV SS shadow (if any) ends; returned (and
	 * taken from the vendor's state): the B0-3 of data breakpoints the
	 * CPU held pending through that shadow, for vhm's trap after the
	 * instruction. cpl, cr4: the guest's, at the exit.
	 */
	void (*skip_insn)(struct vhm_vcpu *vcpu, unsigned int len);
	u32 (*end_shadow)(struct vhm_vcpu *vcpu);
	unsigned int (*cpl)(struct vhm_vcpu *vcpu);
	u64 (*cr4)(struct vhm_vcpu *vcpu);
	/*
	 * One entry (run.c, vhm_enter_guest(), calls them in this order).
	 * vcpu_load (optional): preemption off, interrupts on, make the
	 * vCPU's hardware state current on this CPU. The rest with
	 * interrupts off. prepare_tlb: the guest's tagged translations for
	 * this CPU, flushed if stale (the VM's nested tables changed since
	 * the vCPU's last entry). inject_events: the next event of
	 * vcpu->events the guest can take, or a window for it. enter: the
	 * world switch (the guest's XCR0, breakpoints, MSRs, VMRUN or
	 * VMLAUNCH/VMRESUME) and reading the exit's information; the
	 * registers of the register file are flushed (write_reg, interrupts
	 * off, the hardware state current) before it, and it calls
	 * vhm_regs_exited() right after the guest ran (a vendor may then
	 * fill in registers it reads anyway). After it,
	 * still with interrupts off: exit_code puts the events the exit cut
	 * short back in the queue and returns the exit's code, its index in
	 * the backend's fast_exit_handlers and, with interrupts and
	 * preemption on again, exit_handlers (nr_exit_handlers long); a
	 * code without a handler there, and U32_MAX for an entry the
	 * hardware refused, go to unhandled_exit instead (run.c). Handlers
	 * return 1 to enter again, 0 to return to userspace (vcpu->run
	 * filled in), -errno on failure.
	 */
	void (*vcpu_load)(struct vhm_vcpu *vcpu);
	/*
	 * vcpu_get and vcpu_put (optional, both or neither): interrupts
	 * off, preemption off; get right after vcpu_load and the reboot
	 * check, put after the last exit handled with interrupts off.
	 * Hardware state another hypervisor expects to find unchanged on
	 * this CPU is set aside by get and put back by put (VMX on top of
	 * KVM: the current VMCS).
	 */
	void (*vcpu_get)(struct vhm_vcpu *vcpu);
	void (*vcpu_put)(struct vhm_vcpu *vcpu);
	void (*prepare_tlb)(struct vhm_vcpu *vcpu, bool stale);
	void (*inject_events)(struct vhm_vcpu *vcpu);
	void (*enter)(struct vhm_vcpu *vcpu);
	u32 (*exit_code)(struct vhm_vcpu *vcpu);
	int (*unhandled_exit)(struct vhm_vcpu *vcpu, u32 code);
	const vhm_exit_handler_t *exit_handlers;
	u32 nr_exit_handlers;
	/*
	 * Exits handled right after enter, interrupts and preemption still
	 * off and the guest's FPU registers loaded (run.c): handlers that
	 * never sleep nor touch the FPU. They return as exit_handlers do,
	 * or VHM_EXIT_SLOW to leave this exit to exit_handlers after all.
	 */
	const vhm_exit_handler_t *fast_exit_handlers;
	u32 nr_fast_exit_handlers;
};

extern const struct vhm_vendor_ops vhm_svm_ops;
extern const struct vhm_vendor_ops vhm_vmx_ops;

#include "vendor_ops.h"

#endif /* VHM_VENDOR_H */
