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

#include "emulate.h"
#include "regs.h"
#include "vm.h"

/*
 * Events not yet delivered (events.c). An event is taken out when it
 * is injected and put back when EXITINTINFO says its delivery was cut
 * short, so between entries everything is here, none in EVENTINJ.
 */
struct svm_events {
	/* NMIs are masked (an NMI delivered, its IRET not yet run). */
	bool nmi_masked;
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
	struct vhm_vcpu *vcpu;
	struct vmcb *vmcb;
	u64 vmcb_pa;
	/* The ASID and the CPU and ASID generation it belongs to. */
	u32 asid;
	int asid_cpu;
	u64 asid_gen;
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
/* On top of KVM, interrupts off: the ASID flushed if KVM may have used it. */
void svm_tlb_on_kvm(struct svm_vcpu *svm);

/* vcpu.c */
/* RAX, RSP, RIP and RFLAGS, which the VMCB holds (regs.h). */
#define SVM_HW_REGS	(BIT(VHM_GPR_RAX) | BIT(VHM_GPR_RSP) | \
			 BIT(VHM_REG_RIP) | BIT(VHM_REG_RFLAGS))

/* events.c */
/* Deliver an exception at the next entry (replaces a pending one). */
/* Interrupts off, just before VMRUN: inject, or offer the interrupt. */
/* Just after the exit: put back an event whose delivery was cut short. */
void svm_complete_events(struct svm_vcpu *svm);
enum vhm_cut_event svm_cut_kind(u32 type, u8 vector, bool ours);
/* A pending event ends a HLT at once. */
/* The guest's interrupt shadow ended (an instruction was skipped). */
void svm_clear_interrupt_shadow(struct svm_vcpu *svm);
void svm_skip(struct svm_vcpu *svm, unsigned int len);
int svm_handle_iret(struct vhm_vcpu *vcpu);
int svm_handle_debug(struct vhm_vcpu *vcpu);
int svm_handle_alignment_check(struct vhm_vcpu *vcpu);

/* msr.c */

/* run.c */

/* The exit codes vhm handles go up to SVM_EXIT_NPF (exit_handlers). */
#define SVM_NR_EXIT_HANDLERS	(SVM_EXIT_NPF + 1)
extern const vhm_exit_handler_t svm_exit_handlers[SVM_NR_EXIT_HANDLERS];
#define SVM_NR_FAST_EXIT_HANDLERS	(SVM_EXIT_MSR + 1)
extern const vhm_exit_handler_t
	svm_fast_exit_handlers[SVM_NR_FAST_EXIT_HANDLERS];

/* vmrun.S: VMSAVE host, VMLOAD guest, VMRUN, VMSAVE guest, VMLOAD host. */
void svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa);

/*
 * The backend's operations (vendor_ops.h), svm_<op>, each typed as its
 * member of struct vhm_vendor_ops (vendor.h); defined across the backend.
 */
VHM_VENDOR_OPS(VHM_VENDOR_OP_DECLARE, svm)

#endif /* VHM_SVM_H */
