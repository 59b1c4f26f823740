/* SPDX-License-Identifier: GPL-2.0 */
/* SVM-only declarations; vendor-neutral code never includes this. */
#ifndef VHM_SVM_H
#define VHM_SVM_H

/* Backend code only (Kbuild builds kmod/svm/ with VHM_BACKEND_SVM). */
#ifndef VHM_BACKEND_SVM
#error "the SVM backend's own header: vendor-neutral code uses kmod/vendor.h"
#endif

#include <linux/types.h>
#include <asm/svm.h>

#include "vm.h"

/* Guest GPRs the VMCB does not hold, indexed like the ModRM encoding. */
enum svm_gpr {
	SVM_RAX, SVM_RCX, SVM_RDX, SVM_RBX, SVM_RSP, SVM_RBP, SVM_RSI, SVM_RDI,
	SVM_R8, SVM_R9, SVM_R10, SVM_R11, SVM_R12, SVM_R13, SVM_R14, SVM_R15,
	SVM_NR_GPRS,
};

/*
 * Events not yet delivered (events.c). An event is taken out when it
 * is injected and put back when EXITINTINFO says its delivery was cut
 * short, so between entries everything is here, none in EVENTINJ.
 */
struct svm_events {
	u32 flags;		/* VHM_EVENT_* except INT_SHADOW (in the VMCB) */
	u32 error_code;
	u8 exception_vector;
	u8 interrupt_vector;
	/* IRET intercepted while NMIs were masked: unmask once RIP moves. */
	bool iret_seen;
	u64 iret_rip;		/* linear */
	/* This entry single-steps the guest (TF set by vhm if tf_set). */
	bool single_step;
	bool tf_set;
	/* The exit ended vhm's own single step; the guest's DR6 before it. */
	bool own_step;
	u64 step_dr6;
	/* EVENTINJ of this entry, to tell it from the guest's own events. */
	u32 injected;
	u32 injected_err;
	bool injected_shadow;
	/* This entry offers the pending interrupt as V_IRQ. */
	bool virq;
	/* This entry was in an interrupt shadow, at this linear RIP. */
	bool shadow_entry;
	u64 shadow_rip;
};

struct svm_vcpu {
	struct vmcb *vmcb;
	u64 vmcb_pa;
	/* RAX and RSP live in the VMCB; their slots here are unused. */
	u64 gprs[SVM_NR_GPRS];
	/* The ASID and the CPU and ASID generation it belongs to. */
	u32 asid;
	int asid_cpu;
	u64 asid_gen;
	/* Exits whose result userspace provides before the next entry. */
	u8 pending_in_size;
	struct svm_events ev;
};

static inline struct svm_vcpu *to_svm(struct vhm_vcpu *vcpu)
{
	return vcpu->vendor;
}

static inline void svm_set_intercept(struct vmcb *vmcb, unsigned int bit)
{
	vmcb->control.intercepts[bit / 32] |= BIT(bit % 32);
}

static inline void svm_clr_intercept(struct vmcb *vmcb, unsigned int bit)
{
	vmcb->control.intercepts[bit / 32] &= ~BIT(bit % 32);
}

/* svm.c: per-CPU and global SVM state. */
phys_addr_t svm_host_save_pa(void);
phys_addr_t svm_iopm_pa(void);
phys_addr_t svm_msrpm_pa(void);
/* Interrupts off: give the vCPU an ASID valid on this CPU. */
void svm_assign_asid(struct svm_vcpu *svm);

/* vcpu.c */
u64 svm_gpr_read(struct vhm_vcpu *vcpu, unsigned int reg);
void svm_gpr_write(struct vhm_vcpu *vcpu, unsigned int reg, u64 val);
void svm_skip_insn(struct vhm_vcpu *vcpu, unsigned int len);
void svm_queue_exception(struct vhm_vcpu *vcpu, u8 vector, bool has_err,
			 u32 err);
unsigned int svm_cpl(struct vhm_vcpu *vcpu);
u64 svm_cr4(struct vhm_vcpu *vcpu);
int svm_vcpu_create(struct vhm_vcpu *vcpu);
void svm_vcpu_free(struct vhm_vcpu *vcpu);
void svm_get_regs(struct vhm_vcpu *vcpu, struct vhm_regs *regs);
void svm_set_regs(struct vhm_vcpu *vcpu, const struct vhm_regs *regs);
void svm_get_sregs(struct vhm_vcpu *vcpu, struct vhm_sregs *sregs);
int svm_set_sregs(struct vhm_vcpu *vcpu, const struct vhm_sregs *sregs);
void svm_get_dr67(struct vhm_vcpu *vcpu, u64 *dr6, u64 *dr7);
void svm_set_dr67(struct vhm_vcpu *vcpu, u64 dr6, u64 dr7);

/* events.c */
/* Deliver an exception at the next entry (replaces a pending one). */
void svm_inject_exception(struct svm_vcpu *svm, u8 vector, bool has_err,
			  u32 err);
void svm_get_events(struct vhm_vcpu *vcpu, struct vhm_vcpu_events *ev);
void svm_set_events(struct vhm_vcpu *vcpu, const struct vhm_vcpu_events *ev);
/* Interrupts off, just before VMRUN: inject, or offer the interrupt. */
void svm_inject_events(struct svm_vcpu *svm);
/* Just after the exit: put back an event whose delivery was cut short. */
void svm_complete_events(struct svm_vcpu *svm);
/* A pending event ends a HLT at once. */
bool svm_event_wakes_hlt(struct svm_vcpu *svm);
/* The guest's interrupt shadow ended (an instruction was skipped). */
void svm_clear_interrupt_shadow(struct svm_vcpu *svm);
void svm_skip(struct svm_vcpu *svm, unsigned int len);
int svm_handle_iret(struct vhm_vcpu *vcpu);
int svm_handle_debug(struct vhm_vcpu *vcpu);
int svm_handle_alignment_check(struct vhm_vcpu *vcpu);

/* msr.c */
int svm_get_msr(struct vhm_vcpu *vcpu, u32 index, u64 *data);
int svm_set_msr(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host);
int svm_handle_rdtscp(struct vhm_vcpu *vcpu);

/* run.c */
int svm_run(struct vhm_vcpu *vcpu);

/* vmrun.S: VMSAVE host, VMLOAD guest, VMRUN, VMSAVE guest, VMLOAD host. */
void svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa);

#endif /* VHM_SVM_H */
