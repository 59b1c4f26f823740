// SPDX-License-Identifier: GPL-2.0
/* VHM_GET_MSRS and VHM_SET_MSRS: lists of MSRs in and out. */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/apicdef.h>
#include <asm/msr-index.h>
#include <asm/mtrr.h>

#include "lapic.h"
#include "msr_table.h"
#include "vhm.h"
#include "vm.h"

/* The EFER bits a vCPU has: SYSCALL, long mode, NX (not SVME: hidden). */
#define VHM_EFER_VALID		(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

#define VHM_MTRR_CAP		(8 | BIT(8) | BIT(10))	/* 8 variable, fixed, WC */
#define VHM_MTRR_DEF_VALID	(0xff | BIT(10) | BIT(11))
/* Fast strings on; BTS and PEBS unavailable. */
#define VHM_MISC_ENABLE_RESET	(BIT(0) | BIT(11) | BIT(12))

/*
 * WRMSR to EFER (Intel SDM vol. 3A 2.2.1, 9.8.5; AMD APM vol. 2 3.1.7,
 * 14.6): reserved bits and, while paging is on, a change of LME are #GP;
 * LMA is set by the CPU when paging turns on in long mode, so the guest's
 * write keeps the current LMA. VHM_SET_MSRS may set LMA too, but only as
 * CR0 and CR4 make it (vhm_long_mode_consistent()), as VHM_SET_SREGS.
 */
int vhm_efer_update(u64 old, u64 *efer, u64 cr0, u64 cr4, bool host)
{
	u64 v = *efer;

	if (v & ~VHM_EFER_VALID)
		return -EINVAL;
	if (host && !vhm_long_mode_consistent(cr0, cr4, v))
		return -EINVAL;
	if (!host) {
		v = (v & ~EFER_LMA) | (old & EFER_LMA);
		if (((v ^ old) & EFER_LME) && (cr0 & X86_CR0_PG))
			return -EINVAL;
	}
	*efer = v;
	return 0;
}

/* Each byte of PAT: UC, WC, WT, WP, WB or UC- (SDM vol. 3A 13.12.2). */
bool vhm_pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 type = pat >> (i * 8);

		if (type > 7 || type == 2 || type == 3)
			return false;
	}
	return true;
}

/*
 * Values no CPU holds in these MSRs (SDM vol. 4; AMD APM vol. 2): the
 * guest's WRMSR gets #GP, VHM_SET_MSRS -EINVAL, on both vendors. (Where
 * the guest reaches an MSR without exits, the CPU checks it itself.)
 */
static bool vhm_msr_value_valid(u32 index, u64 data)
{
	switch (index) {
	case MSR_IA32_CR_PAT:
		return vhm_pat_valid(data);
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		return vhm_canonical(data);
	default:
		return true;
	}
}

void vhm_msrs_reset(struct vhm_vcpu *vcpu)
{
	vcpu->apic_base = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
			  (vcpu->id ? 0 : MSR_IA32_APICBASE_BSP);
	vcpu->misc_enable = VHM_MISC_ENABLE_RESET;
	vhm_msr_table_reset(vcpu);
}

/* The MTRR at index, or NULL. */
static u64 *vhm_mtrr(struct vhm_vcpu *vcpu, u32 index)
{
	if (index >= MTRRphysBase_MSR(0) && index <= MTRRphysMask_MSR(7))
		return &vcpu->mtrr_var[index - MTRRphysBase_MSR(0)];
	switch (index) {
	case MSR_MTRRfix64K_00000:
		return &vcpu->mtrr_fixed[0];
	case MSR_MTRRfix16K_80000:
	case MSR_MTRRfix16K_A0000:
		return &vcpu->mtrr_fixed[1 + index - MSR_MTRRfix16K_80000];
	case MSR_MTRRfix4K_C0000 ... MSR_MTRRfix4K_F8000:
		return &vcpu->mtrr_fixed[3 + index - MSR_MTRRfix4K_C0000];
	case MSR_MTRRdefType:
		return &vcpu->mtrr_def_type;
	default:
		return NULL;
	}
}

/* Memory types an MTRR may hold: UC, WC, WT, WP, WB. */
static bool vhm_mtrr_type_valid(u8 type)
{
	return type <= 6 && type != 2 && type != 3;
}

static bool vhm_mtrr_valid(u32 index, u64 data)
{
	int i;

	if (index == MSR_MTRRdefType)
		return !(data & ~VHM_MTRR_DEF_VALID) &&
		       vhm_mtrr_type_valid(data & 0xff);
	if (index >= MTRRphysBase_MSR(0) && index <= MTRRphysMask_MSR(7)) {
		if ((index - MTRRphysBase_MSR(0)) & 1)	/* a mask */
			return !(data & (GENMASK_ULL(10, 0) | GENMASK_ULL(63, 52)));
		return !(data & (GENMASK_ULL(11, 8) | GENMASK_ULL(63, 52))) &&
		       vhm_mtrr_type_valid(data & 0xff);
	}
	for (i = 0; i < 8; i++)		/* fixed: one type per byte */
		if (!vhm_mtrr_type_valid(data >> (i * 8)))
			return false;
	return true;
}

/*
 * IA32_TSC_ADJUST (SDM vol. 3B, 18.17.3): the guest's write of it adds the
 * change to its TSC, and its write of the TSC adds that change to it. A
 * VMM's writes (restoring both) set each alone. The TSC moves on between
 * the read and the write here: the change lands within those cycles.
 */
static int vhm_tsc_add(struct vhm_vcpu *vcpu, u64 delta)
{
	u64 tsc;
	int r = vhm_ops->get_msr(vcpu, MSR_IA32_TSC, &tsc);

	return r ? r : vhm_ops->set_msr(vcpu, MSR_IA32_TSC, tsc + delta, true);
}

static int vhm_set_tsc_adjust(struct vhm_vcpu *vcpu, u64 data, bool host)
{
	int r = host ? 0 : vhm_tsc_add(vcpu, data - vcpu->tsc_adjust);

	if (!r)
		vcpu->tsc_adjust = data;
	return r;
}

static void vhm_guest_wrote_tsc(struct vhm_vcpu *vcpu, u64 data)
{
	u64 tsc;

	if (!vhm_ops->get_msr(vcpu, MSR_IA32_TSC, &tsc))
		vcpu->tsc_adjust += data - tsc;
}

int vhm_get_msr(struct vhm_vcpu *vcpu, u32 index, u64 *data)
{
	u64 *mtrr = vhm_mtrr(vcpu, index);
	int r;

	if (mtrr) {
		*data = *mtrr;
		return 0;
	}
	if (vhm_lapic_is_x2apic_msr(vcpu, index))
		return vhm_lapic_rdmsr(vcpu, index, data);
	switch (index) {
	case MSR_MTRRcap:
		*data = VHM_MTRR_CAP;
		return 0;
	case MSR_IA32_APICBASE:
		*data = vcpu->apic_base;
		return 0;
	case MSR_IA32_TSC_DEADLINE:
		if (!vcpu->lapic)
			break;
		*data = vhm_lapic_get_tsc_deadline(vcpu);
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*data = vcpu->misc_enable;
		return 0;
	case MSR_TSC_AUX:
		*data = vcpu->tsc_aux;
		return 0;
	case MSR_IA32_TSC_ADJUST:
		*data = vcpu->tsc_adjust;
		return 0;
	}
	r = vhm_ops->get_msr(vcpu, index, data);
	return r == -ENOENT ? vhm_msr_table_get(vcpu, index, data) : r;
}

int vhm_set_msr(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	u64 *mtrr = vhm_mtrr(vcpu, index);
	int r;

	if (mtrr) {
		if (!vhm_mtrr_valid(index, data))
			return -EINVAL;
		*mtrr = data;
		return 0;
	}
	if (vhm_lapic_is_x2apic_msr(vcpu, index))
		return vhm_lapic_wrmsr(vcpu, index, data);
	if (!vhm_msr_value_valid(index, data))
		return -EINVAL;
	switch (index) {
	case MSR_MTRRcap:
		return host && data == VHM_MTRR_CAP ? 0 : -EINVAL;
	case MSR_IA32_APICBASE:
		if (data & ~VHM_APIC_BASE_VALID)
			return -EINVAL;
		return vhm_lapic_set_base(vcpu, data, host);
	case MSR_IA32_TSC_DEADLINE:
		if (!vcpu->lapic)
			break;
		vhm_lapic_set_tsc_deadline(vcpu, data);
		return 0;
	case MSR_IA32_MISC_ENABLE:
		vcpu->misc_enable = data;
		return 0;
	case MSR_TSC_AUX:
		if (data >> 32)
			return -EINVAL;
		vcpu->tsc_aux = data;
		return 0;
	case MSR_IA32_TSC_ADJUST:
		return vhm_set_tsc_adjust(vcpu, data, host);
	case MSR_IA32_TSC:
		if (!host)
			vhm_guest_wrote_tsc(vcpu, data);
		break;
	}
	r = vhm_ops->set_msr(vcpu, index, data, host);
	return r == -ENOENT ? vhm_msr_table_set(vcpu, index, data, host) : r;
}

static enum vhm_msr_result vhm_msr_exit(struct vhm_vcpu *vcpu, int err,
					 u32 index, u64 data, bool write)
{
	u32 reason = err == -ENOENT ? VHM_MSR_EXIT_UNKNOWN :
		     VHM_MSR_EXIT_INVALID;
	struct vhm_run *run = vcpu->run;

	if (!(READ_ONCE(vcpu->vm->msr_exits) & reason))
		return VHM_MSR_GP;
	run->exit_reason = VHM_EXIT_MSR;
	memset(&run->msr, 0, sizeof(run->msr));
	run->msr.is_write = write;
	run->msr.reason = reason;
	run->msr.index = index;
	run->msr.data = write ? data : 0;
	vcpu->msr_exit_pending = true;
	vcpu->msr_exit_write = write;
	return VHM_MSR_USER;
}

enum vhm_msr_result vhm_guest_rdmsr(struct vhm_vcpu *vcpu, u32 index,
				    u64 *data)
{
	int r = vhm_get_msr(vcpu, index, data);

	/* A read fails only for an MSR vhm does not know. */
	return r ? vhm_msr_exit(vcpu, -ENOENT, index, 0, false) : VHM_MSR_DONE;
}

enum vhm_msr_result vhm_guest_wrmsr(struct vhm_vcpu *vcpu, u32 index,
				    u64 data)
{
	int r = vhm_set_msr(vcpu, index, data, false);

	return r ? vhm_msr_exit(vcpu, r, index, data, true) : VHM_MSR_DONE;
}

enum vhm_msr_result vhm_complete_msr_exit(struct vhm_vcpu *vcpu, u64 *data)
{
	vcpu->msr_exit_pending = false;
	if (READ_ONCE(vcpu->run->msr.error))
		return VHM_MSR_GP;
	if (!vcpu->msr_exit_write)
		*data = READ_ONCE(vcpu->run->msr.data);
	return VHM_MSR_DONE;
}

/* The header, checked; the entries copied in. */
static struct vhm_msr_entry *vhm_msrs_in(struct vhm_msrs __user *umsrs,
					 u32 *nmsrs)
{
	struct vhm_msrs hdr;

	if (copy_from_user(&hdr, umsrs, sizeof(hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr.flags || hdr.nmsrs > VHM_MAX_MSR_ENTRIES)
		return ERR_PTR(-EINVAL);
	*nmsrs = hdr.nmsrs;
	if (!hdr.nmsrs)
		return NULL;
	return memdup_user(umsrs->entries, hdr.nmsrs * sizeof(umsrs->entries[0]));
}

static long vhm_msrs_do(struct vhm_vcpu *vcpu, struct vhm_msrs __user *umsrs,
			bool set)
{
	struct vhm_msr_entry *e;
	u32 i, n;
	long r;

	e = vhm_msrs_in(umsrs, &n);
	if (IS_ERR(e))
		return PTR_ERR(e);
	for (i = 0; i < n; i++) {
		if (e[i].reserved) {
			r = -EINVAL;
			goto free;
		}
		r = set ? vhm_set_msr(vcpu, e[i].index, e[i].data, true) :
			  vhm_get_msr(vcpu, e[i].index, &e[i].data);
		if (r)
			break;
	}
	r = i;
	if (!set && i && copy_to_user(umsrs->entries, e, i * sizeof(*e)))
		r = -EFAULT;
free:
	kfree(e);
	return r;
}

long vhm_vcpu_get_msrs(struct vhm_vcpu *vcpu, struct vhm_msrs __user *umsrs)
{
	return vhm_msrs_do(vcpu, umsrs, false);
}

long vhm_vcpu_set_msrs(struct vhm_vcpu *vcpu, struct vhm_msrs __user *umsrs)
{
	return vhm_msrs_do(vcpu, umsrs, true);
}
