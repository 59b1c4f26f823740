// SPDX-License-Identifier: GPL-2.0
/*
 * SVM: the MSRs whose state lives in the VMCB, and the guest's RDMSR and
 * WRMSR. The MSRs VMLOAD/VMSAVE switch are passed through
 * (svm.c clears their bits in the MSR permission map), but for the writes
 * of the linear addresses, which come here to be checked (msrs.c).
 */
#include <asm/msr-index.h>
#include <asm/msr.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "svm.h"
#include "vhm.h"

static u64 *svm_vmcb_msr(struct vmcb_save_area *save, u32 index)
{
	switch (index) {
	case MSR_STAR:
		return &save->star;
	case MSR_LSTAR:
		return &save->lstar;
	case MSR_CSTAR:
		return &save->cstar;
	case MSR_SYSCALL_MASK:
		return &save->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &save->kernel_gs_base;
	case MSR_FS_BASE:
		return &save->fs.base;
	case MSR_GS_BASE:
		return &save->gs.base;
	case MSR_IA32_SYSENTER_CS:
		return &save->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:
		return &save->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:
		return &save->sysenter_eip;
	case MSR_IA32_CR_PAT:
		return &save->g_pat;
	default:
		return NULL;
	}
}

int svm_get_msr(struct vhm_vcpu *vcpu, u32 index, u64 *data)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	u64 *field = svm_vmcb_msr(&svm->vmcb->save, index);

	if (field) {
		*data = *field;
		return 0;
	}
	switch (index) {
	case MSR_EFER:
		*data = svm->vmcb->save.efer & ~EFER_SVME;
		return 0;
	case MSR_IA32_TSC:
		*data = rdtsc() + svm->vmcb->control.tsc_offset;
		return 0;
	default:
		return -ENOENT;
	}
}

/* EFER.SVME stays set for the guest and hidden from it. */
static int svm_set_efer(struct svm_vcpu *svm, u64 data, bool host)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	int r;

	r = vhm_efer_update(save->efer & ~EFER_SVME, &data, save->cr0,
			    save->cr4, host);
	if (r)
		return r;
	save->efer = data | EFER_SVME;
	return 0;
}

int svm_set_msr(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	u64 *field = svm_vmcb_msr(&svm->vmcb->save, index);

	if (field) {
		*field = data;
		return 0;
	}
	switch (index) {
	case MSR_EFER:
		return svm_set_efer(svm, data, host);
	case MSR_IA32_TSC:
		svm->vmcb->control.tsc_offset = data - rdtsc();
		return 0;
	default:
		return -ENOENT;
	}
}
