/* SPDX-License-Identifier: GPL-2.0 */
/* SVM-only declarations; vendor-neutral code never includes this. */
#ifndef VHM_SVM_H
#define VHM_SVM_H

#include <linux/types.h>
#include <asm/svm.h>

#include "vm.h"

/* Guest GPRs the VMCB does not hold, indexed like the ModRM encoding. */
enum svm_gpr {
	SVM_RAX, SVM_RCX, SVM_RDX, SVM_RBX, SVM_RSP, SVM_RBP, SVM_RSI, SVM_RDI,
	SVM_R8, SVM_R9, SVM_R10, SVM_R11, SVM_R12, SVM_R13, SVM_R14, SVM_R15,
	SVM_NR_GPRS,
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
	bool pending_hypercall;
};

static inline struct svm_vcpu *to_svm(struct vhm_vcpu *vcpu)
{
	return vcpu->vendor;
}

/* svm.c: per-CPU and global SVM state. */
phys_addr_t svm_host_save_pa(void);
phys_addr_t svm_iopm_pa(void);
phys_addr_t svm_msrpm_pa(void);
/* Interrupts off: give the vCPU an ASID valid on this CPU. */
void svm_assign_asid(struct svm_vcpu *svm);

/* svm_vcpu.c */
int svm_vcpu_create(struct vhm_vcpu *vcpu);
void svm_vcpu_free(struct vhm_vcpu *vcpu);
void svm_get_regs(struct vhm_vcpu *vcpu, struct vhm_regs *regs);
void svm_set_regs(struct vhm_vcpu *vcpu, const struct vhm_regs *regs);
void svm_get_sregs(struct vhm_vcpu *vcpu, struct vhm_sregs *sregs);
int svm_set_sregs(struct vhm_vcpu *vcpu, const struct vhm_sregs *sregs);
/* Deliver an exception at the next entry. */
void svm_inject_exception(struct svm_vcpu *svm, u8 vector, bool has_err,
			  u32 err);

/* svm_msr.c */
int svm_get_msr(struct vhm_vcpu *vcpu, u32 index, u64 *data);
int svm_set_msr(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host);
int svm_handle_msr(struct vhm_vcpu *vcpu);
void svm_complete_msr(struct vhm_vcpu *vcpu);
int svm_handle_rdtscp(struct vhm_vcpu *vcpu);

/* svm_run.c */
int svm_run(struct vhm_vcpu *vcpu);

/* svm_vmrun.S: VMSAVE host, VMLOAD guest, VMRUN, VMSAVE guest, VMLOAD host. */
void svm_vmrun(u64 vmcb_pa, u64 *gprs, u64 host_save_pa);

#endif /* VHM_SVM_H */
