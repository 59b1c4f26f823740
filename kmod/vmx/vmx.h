/* SPDX-License-Identifier: GPL-2.0 */
/* VMX-only declarations; vendor-neutral code never includes this. */
#ifndef VHM_VMX_H
#define VHM_VMX_H

/* Backend code only (Kbuild builds kmod/vmx/ with VHM_BACKEND_VMX). */
#ifndef VHM_BACKEND_VMX
#error "the VMX backend's own header: vendor-neutral code uses kmod/vendor.h"
#endif

#include <linux/list.h>
#include <linux/types.h>
#include <asm/asm.h>
#include <asm/desc_defs.h>
#include <asm/vmx.h>

#include "emulate.h"
#include "regs.h"
#include "vm.h"

/* insn.S: 0, -EIO on VMfail, -EFAULT on a fault (#UD/#GP). */
int vmx_insn_vmxon(u64 pa);
int vmx_insn_vmxoff(void);

/* RSP, RIP and RFLAGS, which the VMCS holds (regs.h). */
#define VMX_HW_REGS	(BIT(VHM_GPR_RSP) | BIT(VHM_REG_RIP) | BIT(VHM_REG_RFLAGS))

/* Guest MSRs the VMCS does not hold (msr.c: how they are switched). */
enum vmx_msr_slot {
	VMX_MSR_KERNEL_GS_BASE, VMX_MSR_STAR, VMX_MSR_LSTAR, VMX_MSR_CSTAR,
	VMX_MSR_SFMASK, VMX_NR_MSRS,
};

/*
 * What the exit left in the VMCS, read before preemption is enabled: the
 * fields the exit reason's handler uses (vmx_read_exit), others 0.
 */
struct vmx_exit {
	u32 reason;
	u32 intr_info;
	u32 vectoring;
	u32 vectoring_err;
	u32 insn_len;
	u32 insn_info;
	u64 qual;
	u64 gpa;
	u64 cr4;		/* the guest's (read shadow) at the entry */
	int vmfail;		/* VMLAUNCH/VMRESUME failed: the error number */
};

/* Events not yet delivered (events.c); blocking is in the VMCS. */
struct vmx_events {
	/* What the last entry injected, put back if the entry failed. */
	u32 injected;
	u32 injected_err;
};

struct vmx_vcpu {
	struct vhm_vcpu *vcpu;
	void *vmcs;
	u64 vmcs_pa;
	/*
	 * The CPU the VMCS is active on (-1: clear in memory), its node on
	 * that CPU's list, and whether VMLAUNCH ran since the last VMCLEAR.
	 * Changed only on that CPU with interrupts off.
	 */
	int cpu;
	struct list_head loaded;
	bool launched;
	u16 vpid;
	/* The guest's CR2 (its GPRs are in the register file, regs.h). */
	u64 cr2;
	u8 cr8;
	u64 msrs[VMX_NR_MSRS];
	/* DR6: VMX does not switch it (dr.c keeps DR0-3, DR7 is in the VMCS). */
	u64 dr6;
	/*
	 * The host state last written to the VMCS by vmx_enter_guest (valid
	 * unless host_stale: set when the VMCS is loaded on another CPU).
	 */
	bool host_stale;
	/*
	 * On top of KVM: the per-CPU host fields (GDT, TSS, GS base) are
	 * owed since the VMCS came to this CPU (vmx_vmcs_get() writes them),
	 * and the VMCS that was current when VHM_RUN's entries began
	 * (vmx_run_get(), vmx_run_put()).
	 */
	bool host_percpu_stale;
	u64 run_prev_vmcs;
	u64 host_cr3;
	u64 host_cr4;
	unsigned long host_fs_base;
	/* The processor-based controls now in the VMCS (windows vary). */
	u32 proc;
	struct vmx_events ev;
	/* TLB flushes owed before the next entry. */
	bool flush_ept;
	bool flush_vpid;
	struct vmx_exit exit;
};

static inline struct vmx_vcpu *to_vmx(struct vhm_vcpu *vcpu)
{
	return vcpu->vendor;
}

/*
 * A VMX instruction faulted (#UD, #GP): outside VMX operation, which is
 * expected only once the reboot notifier turned VMX off under a running
 * vCPU; anything else is a vhm bug, reported once. The instruction is
 * skipped (a VMREAD then reads 0).
 */
void vmx_insn_fault(const char *insn);

/*
 * A VMX instruction with an exception-table fixup: a fault skips the
 * instruction after it, which clears the bool operand fault (true before).
 */
#define VMX_INSN_FIXUP(insn)						\
	"1: " insn "\n\t"						\
	"movb $0, %[fault]\n\t"					\
	"2:\n\t"							\
	_ASM_EXTABLE(1b, 2b)

/* VMREAD/VMWRITE of the current VMCS (preemption off, VMCS loaded). */
static __always_inline u64 vmcs_read(unsigned long field)
{
	bool fault = true;
	u64 value = 0;

	asm volatile(VMX_INSN_FIXUP("vmread %[field], %[value]")
		     : [value] "+rm"(value), [fault] "+qm"(fault)
		     : [field] "r"(field) : "cc");
	if (unlikely(fault))
		vmx_insn_fault("vmread");
	return value;
}

static __always_inline void vmcs_write(unsigned long field, u64 value)
{
	bool fault = true;

	asm volatile(VMX_INSN_FIXUP("vmwrite %[value], %[field]")
		     : [fault] "+qm"(fault)
		     : [field] "r"(field), [value] "rm"(value) : "cc", "memory");
	if (unlikely(fault))
		vmx_insn_fault("vmwrite");
}

/* vmx.c: capabilities and per-CPU state */
struct vmx_config {
	u32 pin, proc, proc2, exit, entry;
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	bool ins_outs_info;	/* INS/OUTS address size in the exit info */
	bool invept_single;
	bool ept_2m;		/* 2 MiB EPT leaves */
	bool invvpid_single;
	bool has_vpid;
	u32 preemption_timer;	/* its initial value, if used */
};

extern struct vmx_config vmx_cfg;
extern u32 vmx_revision;
extern const u32 vmx_switched_msrs[VMX_NR_MSRS];
int vmx_vpid_alloc(void);
void vmx_vpid_free(int vpid);
/*
 * Preemption off, interrupts on: the vCPU's VMCS active on this CPU (moved
 * here if it was active on another one) and, in vhm's own VMX operation,
 * current. On top of KVM it is made current only inside a section
 * (vmx_vmcs_get() or vmx_run_get()), with interrupts off.
 */
void vmx_vcpu_load(struct vmx_vcpu *vmx);
/*
 * A VMX section, the only way to VMREAD, VMWRITE or enter: from
 * vmx_vmcs_get() to vmx_vmcs_put() preemption and interrupts are off and
 * the vCPU's VMCS is current on this CPU. On top of KVM the VMCS current
 * before (a KVM vCPU's, which KVM expects to find current when that vCPU
 * runs again) is current again after vmx_vmcs_put(). Sections nest.
 */
#define VMX_NO_VMCS	(~0ULL)	/* VMPTRST: no current VMCS */

struct vmx_section {
	u64 prev_vmcs;
	unsigned long flags;
};

void vmx_vmcs_get(struct vmx_vcpu *vmx, struct vmx_section *s);
void vmx_vmcs_put(struct vmx_vcpu *vmx, const struct vmx_section *s);
/*
 * The same for VHM_RUN's entries, interrupts already off (run.c calls
 * them as the vendor ops vcpu_get and vcpu_put).
 */
void vmx_run_get(struct vhm_vcpu *vcpu);
void vmx_cpu_before_kvm_off(void);
void vmx_run_put(struct vhm_vcpu *vcpu);
/* VMCLEAR a VMCS that is active nowhere (a new one). */
void vmx_vmclear(u64 pa);
/* VMCLEAR the vCPU's VMCS wherever it is active. */
void vmx_vcpu_clear(struct vmx_vcpu *vmx);
void vmx_vcpu_release(struct vhm_vcpu *vcpu);
void vmx_invept(u64 eptp);
void vmx_invvpid(u16 vpid);
u64 vmx_eptp(struct vhm_vm *vm);

/* vcpu.c */
u64 vmx_read(struct vmx_vcpu *vmx, unsigned long field);
void vmx_write(struct vmx_vcpu *vmx, unsigned long field, u64 value);
/* The CR0/CR4 the guest sees (its read shadows). */
u64 vmx_guest_cr0(struct vmx_vcpu *vmx);
u64 vmx_guest_cr4(struct vmx_vcpu *vmx);
void vmx_set_guest_cr0(struct vmx_vcpu *vmx, u64 cr0);
void vmx_set_guest_cr4(struct vmx_vcpu *vmx, u64 cr4);
void vmx_load_pdptrs(struct vmx_vcpu *vmx);
/* EFER, with the IA-32e mode guest entry control following EFER.LMA. */
void vmx_set_efer(struct vmx_vcpu *vmx, u64 efer);
void vmx_skip(struct vmx_vcpu *vmx, unsigned int len);
/* The guest's privilege level (SS.DPL). */
unsigned int vmx_guest_cpl(struct vmx_vcpu *vmx);
bool vmx_long_mode64(struct vmx_vcpu *vmx);

/* Host state switched in software around each entry (run.c). */
struct vmx_host_state {
	u64 kernel_gs_base;
	unsigned long fs_base;
	u64 debugctl;
	struct desc_ptr gdt;
	u16 ds, es, fs, gs, ldt;
};

/* msr.c */
int vmx_msr_bitmap_setup(void);
void vmx_msr_bitmap_free(void);
u64 vmx_msr_bitmap_pa(void);
/* At probe: the MSRs switched lazily (user_msrs.c). */
void vmx_msrs_use(void);
/* Interrupts off, around the entry. */
void vmx_msrs_load_guest(struct vmx_vcpu *vmx, struct vmx_host_state *h);
void vmx_msrs_put_guest(struct vmx_vcpu *vmx, const struct vmx_host_state *h);

/* events.c */
/* Deliver an exception at the next entry. */
/* Interrupts off, the VMCS current, right before the entry. */
/* After the exit, before its handler. */
void vmx_complete_events(struct vmx_vcpu *vmx);
/* What an interruption information field says the event is. */
enum vhm_cut_event vmx_cut_kind(u32 info);
int vmx_handle_window(struct vhm_vcpu *vcpu);

/* run.c */

/* The basic exit reasons of the SDM, 0-75 (exit_handlers). */
#define VMX_NR_EXIT_HANDLERS	76
extern const vhm_exit_handler_t vmx_exit_handlers[VMX_NR_EXIT_HANDLERS];
#define VMX_NR_FAST_EXIT_HANDLERS	(EXIT_REASON_MSR_WRITE + 1)
extern const vhm_exit_handler_t
	vmx_fast_exit_handlers[VMX_NR_FAST_EXIT_HANDLERS];
void vmx_load(struct vhm_vcpu *vcpu);

/*
 * vmrun.S: load the guest GPRs, VMLAUNCH (launched false) or
 * VMRESUME, store them back after the exit. 0 after a VM exit, 1 if the
 * instruction failed (VMfail: VM_INSTRUCTION_ERROR says why).
 */
int vmx_vmenter(u64 *regs, bool launched);
/* Where VM exits land (HOST_RIP). */
void vmx_vmexit(void);

/*
 * The backend's operations (vendor_ops.h), vmx_<op>, each typed as its
 * member of struct vhm_vendor_ops (vendor.h); defined across the backend.
 */
VHM_VENDOR_OPS(VHM_VENDOR_OP_DECLARE, vmx)

#endif /* VHM_VMX_H */
