// SPDX-License-Identifier: GPL-2.0
/*
 * VMX: the MSRs vhm keeps for the guest and its RDMSR/WRMSR (the MSR
 * bitmap below lets FS/GS base, KERNEL_GS_BASE and SYSENTER_* through,
 * every other access exits). FS/GS base, SYSENTER_*, EFER and PAT live
 * in the VMCS guest-state area and are switched by VM entry and exit.
 * KERNEL_GS_BASE is not in the VMCS: the guest's value is written to the
 * CPU just before entry and the host's put back just after the exit,
 * interrupts off (the host's context switch reads it), each only when the
 * two differ. The syscall MSRs (STAR, LSTAR, CSTAR, SFMASK), used by the
 * host only in user mode (SYSCALL, SYSRET), are switched lazily, as
 * TSC_AUX is for both backends (user_msrs.c).
 */
#include <asm/cpufeature.h>
#include <asm/msr-index.h>
#include <asm/msr.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "compat.h"
#include "user_msrs.h"
#include "vhm.h"
#include "vmx.h"


static unsigned long vmx_msr_field(u32 index)
{
	switch (index) {
	case MSR_FS_BASE:
		return GUEST_FS_BASE;
	case MSR_GS_BASE:
		return GUEST_GS_BASE;
	case MSR_IA32_SYSENTER_CS:
		return GUEST_SYSENTER_CS;
	case MSR_IA32_SYSENTER_ESP:
		return GUEST_SYSENTER_ESP;
	case MSR_IA32_SYSENTER_EIP:
		return GUEST_SYSENTER_EIP;
	case MSR_IA32_CR_PAT:
		return GUEST_IA32_PAT;
	case MSR_EFER:
		return GUEST_IA32_EFER;
	default:
		return 0;
	}
}

/*
 * The MSR bitmap (SDM vol. 3C, 25.6.9), one page for every vCPU: accesses
 * exit except those to MSRs the VMCS switches itself and whose checks the
 * CPU makes (#GP for a non-canonical base): FS/GS base and SYSENTER_*, and
 * KERNEL_GS_BASE, which vhm loads before entry and reads back after exit.
 */
static struct page *vmx_msr_bitmap;

static const u32 vmx_passthrough_msrs[] = {
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_IA32_SYSENTER_CS,
	MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
};

/* Read bitmaps for MSRs 0-0x1fff and 0xc0000000-0xc0001fff, then writes. */
static void vmx_msr_bitmap_allow(u8 *map, u32 index)
{
	unsigned int base = index >= 0xc0000000 ? 1024 : 0;
	unsigned int bit = index & 0x1fff;

	__clear_bit(bit, (unsigned long *)(map + base));
	__clear_bit(bit, (unsigned long *)(map + 2048 + base));
}

int vmx_msr_bitmap_setup(void)
{
	unsigned int i;
	u8 *map;

	if (!(vmx_cfg.proc & CPU_BASED_USE_MSR_BITMAPS))
		return 0;
	vmx_msr_bitmap = alloc_page(GFP_KERNEL);
	if (!vmx_msr_bitmap)
		return -ENOMEM;
	map = page_address(vmx_msr_bitmap);
	memset(map, 0xff, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(vmx_passthrough_msrs); i++)
		vmx_msr_bitmap_allow(map, vmx_passthrough_msrs[i]);
	return 0;
}

void vmx_msr_bitmap_free(void)
{
	if (vmx_msr_bitmap)
		__free_page(vmx_msr_bitmap);
	vmx_msr_bitmap = NULL;
}

/* For the VMCS: 0 when every MSR access exits (no bitmap control). */
u64 vmx_msr_bitmap_pa(void)
{
	return vmx_msr_bitmap ? page_to_phys(vmx_msr_bitmap) : 0;
}

static int vmx_msr_slot(u32 index)
{
	int i;

	for (i = 0; i < VMX_NR_MSRS; i++)
		if (vmx_switched_msrs[i] == index)
			return i;
	return -1;
}

int vmx_get_msr(struct vhm_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long field = vmx_msr_field(index);
	int slot = vmx_msr_slot(index);

	if (field) {
		*data = vmx_read(vmx, field);
		return 0;
	}
	if (slot >= 0) {
		*data = vmx->msrs[slot];
		return 0;
	}
	if (index == MSR_IA32_TSC) {
		*data = rdtsc() + vmx_read(vmx, TSC_OFFSET);
		return 0;
	}
	return -ENOENT;
}

static int vmx_set_efer_msr(struct vmx_vcpu *vmx, u64 data, bool host)
{
	int r;

	r = vhm_efer_update(vmx_read(vmx, GUEST_IA32_EFER), &data,
			    vmx_guest_cr0(vmx), vmx_guest_cr4(vmx), host);
	if (r)
		return r;
	vmx_set_efer(vmx, data);
	return 0;
}

int vmx_set_msr(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long field = vmx_msr_field(index);
	int slot = vmx_msr_slot(index);

	if (index == MSR_EFER)
		return vmx_set_efer_msr(vmx, data, host);
	if (field) {
		vmx_write(vmx, field, data);
		return 0;
	}
	if (slot >= 0) {
		vmx->msrs[slot] = data;
		return 0;
	}
	if (index == MSR_IA32_TSC) {
		vmx_write(vmx, TSC_OFFSET, data - rdtsc());
		return 0;
	}
	return -ENOENT;
}

/*
 * What the real register can hold of a value vhm keeps: VHM_SET_MSRS (and
 * the guest's WRMSR) store any value, as on SVM, but WRMSR of a
 * non-canonical address or of SFMASK's reserved bits would fault here.
 */
static u64 vmx_msr_loadable(int slot, u64 v)
{
	if (slot == VMX_MSR_SFMASK)
		return (u32)v;
	if (slot == VMX_MSR_STAR || vhm_canonical(v))
		return v;
	return 0;
}

/*
 * At probe, before CPUID is masked: the syscall MSRs, and TSC_AUX where the guest may execute
 * RDTSCP and RDPID, are switched lazily (user_msrs.c).
 */
void vmx_msrs_use(void)
{
	int i;

	BUILD_BUG_ON(VMX_NR_MSRS - VMX_MSR_STAR !=
		     VHM_NR_UMSRS - VHM_UMSR_STAR);
	for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
		vhm_umsrs_use(VHM_UMSR_STAR + i - VMX_MSR_STAR);
	if (vmx_cfg.proc2 & SECONDARY_EXEC_ENABLE_RDTSCP)
		vhm_umsrs_use(VHM_UMSR_TSC_AUX);
}

void vmx_msrs_load_guest(struct vmx_vcpu *vmx, struct vmx_host_state *h)
{
	u64 kgs = vmx_msr_loadable(VMX_MSR_KERNEL_GS_BASE,
				   vmx->msrs[VMX_MSR_KERNEL_GS_BASE]);
	int i;

	vhm_rdmsr(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	if (kgs != h->kernel_gs_base)
		vhm_wrmsr(MSR_KERNEL_GS_BASE, kgs);
	for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
		vhm_umsr_load(VHM_UMSR_STAR + i - VMX_MSR_STAR,
			      vmx_msr_loadable(i, vmx->msrs[i]));
}

/* The syscall MSRs stay the guest's (user_msrs.c). */
void vmx_msrs_put_guest(struct vmx_vcpu *vmx, const struct vmx_host_state *h)
{
	u64 *kgs = &vmx->msrs[VMX_MSR_KERNEL_GS_BASE], v;

	/* SWAPGS in the guest changes KERNEL_GS_BASE without an exit. */
	vhm_rdmsr(MSR_KERNEL_GS_BASE, v);
	if (v != vmx_msr_loadable(VMX_MSR_KERNEL_GS_BASE, *kgs))
		*kgs = v;
	if (v != h->kernel_gs_base)
		vhm_wrmsr(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
}
