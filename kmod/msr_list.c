// SPDX-License-Identifier: GPL-2.0
/*
 * VHM_GET_MSR_LIST: the MSRs vhm answers in the kernel on this host, and
 * how. The ranges of msrs.c, lapic.c and the vendors' msr.c are listed
 * here (tools/check-msr-table compares them with the code); msr_table.c's
 * come from its own table. Every other MSR is unknown: #GP, or an exit
 * to the VMM where it enabled VHM_CAP_MSR_EXITS.
 */
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <asm/msr-index.h>
#include <asm/mtrr.h>

#include "msr_table.h"
#include "vm.h"

#define VHM_MSR_X2APIC_FIRST	0x800
#define VHM_MSR_X2APIC_LAST	0x8ff

static const struct vhm_msr_info vhm_msrs_owned[] = {
	{ MSR_IA32_TSC, MSR_IA32_TSC, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_IA32_TSC_ADJUST, MSR_IA32_TSC_ADJUST, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_IA32_APICBASE, MSR_IA32_APICBASE, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_MTRRcap, MSR_MTRRcap, VHM_MSR_READ_ONLY, 0 },
	{ MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE, VHM_MSR_VIRTUALIZED, 0 },
	{ MTRRphysBase_MSR(0), MTRRphysMask_MSR(7), VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_MTRRfix64K_00000, MSR_MTRRfix64K_00000, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_MTRRfix16K_80000, MSR_MTRRfix16K_A0000, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_MTRRfix4K_C0000, MSR_MTRRfix4K_F8000, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_IA32_CR_PAT, MSR_IA32_CR_PAT, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_MTRRdefType, MSR_MTRRdefType, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_IA32_TSC_DEADLINE, MSR_IA32_TSC_DEADLINE, VHM_MSR_VIRTUALIZED,
	  VHM_MSR_INFO_LAPIC },
	{ VHM_MSR_X2APIC_FIRST, VHM_MSR_X2APIC_LAST, VHM_MSR_VIRTUALIZED,
	  VHM_MSR_INFO_LAPIC | VHM_MSR_INFO_X2APIC },
	{ MSR_EFER, MSR_EFER, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_STAR, MSR_SYSCALL_MASK, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_FS_BASE, MSR_KERNEL_GS_BASE, VHM_MSR_VIRTUALIZED, 0 },
	{ MSR_TSC_AUX, MSR_TSC_AUX, VHM_MSR_VIRTUALIZED, 0 },
};

static int vhm_msr_info_cmp(const void *a, const void *b)
{
	const struct vhm_msr_info *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

long vhm_get_msr_list(struct vhm_msr_list __user *u)
{
	unsigned int own = ARRAY_SIZE(vhm_msrs_owned), n;
	struct vhm_msr_info *list;
	struct vhm_msr_list hdr;
	long r;

	if (copy_from_user(&hdr, u, sizeof(hdr)))
		return -EFAULT;
	if (hdr.flags || hdr.reserved)
		return -EINVAL;
	n = own + vhm_msr_table_info(NULL, 0);
	list = kcalloc(n, sizeof(*list), GFP_KERNEL_ACCOUNT);
	if (!list)
		return -ENOMEM;
	memcpy(list, vhm_msrs_owned, sizeof(vhm_msrs_owned));
	vhm_msr_table_info(list + own, n - own);
	sort(list, n, sizeof(*list), vhm_msr_info_cmp, NULL);
	if (put_user(n, &u->nranges))
		r = -EFAULT;
	else if (hdr.nranges < n)
		r = -E2BIG;
	else if (copy_to_user(u->ranges, list, n * sizeof(*list)))
		r = -EFAULT;
	else
		r = 0;
	kfree(list);
	return r;
}
