// SPDX-License-Identifier: GPL-2.0
/*
 * VMX: the MSRs vhm keeps for the guest and its RDMSR/WRMSR (the MSR
 * bitmap below lets FS/GS base, KERNEL_GS_BASE and SYSENTER_* through,
 * every other access exits). FS/GS base, SYSENTER_*, EFER and PAT live
 * in the VMCS guest-state area and are switched by VM entry and exit.
 * KERNEL_GS_BASE is not in the VMCS: the guest's value is written to the
 * CPU just before entry and the host's put back just after the exit,
 * interrupts off (the host's context switch reads it), each only when the
 * two differ. The syscall MSRs (STAR, LSTAR, CSTAR, SFMASK) and TSC_AUX,
 * used by the host only in user mode (SYSCALL, SYSRET, RDTSCP, RDPID), are
 * switched lazily: the guest's values are written at the first entry on a
 * CPU and stay there while the vCPU thread loops in VHM_RUN; a user-return
 * notifier puts the host's back before any task returns to user mode on
 * that CPU, as KVM does with its "user return MSRs".
 */
#include <linux/percpu.h>
#include <linux/user-return-notifier.h>
#include <asm/cpufeature.h>
#include <asm/msr-index.h>
#include <asm/msr.h>
#include <asm/processor-flags.h>
#include <asm/traps.h>

#include "compat.h"
#include "kvm_host.h"
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
		vmx_msrs_changed(vmx);
		return 0;
	}
	if (index == MSR_IA32_TSC) {
		vmx_write(vmx, TSC_OFFSET, data - rdtsc());
		return 0;
	}
	return -ENOENT;
}

static bool vmx_switches_tsc_aux(void)
{
	return vmx_cfg.proc2 & SECONDARY_EXEC_ENABLE_RDTSCP;
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
 * The lazily switched MSRs as this CPU holds them (slots STAR to SFMASK of
 * msrs[], and TSC_AUX). While guest is true some may be a guest's; gen is
 * the msrs_gen of the vCPU values they are, 0 if none; found and
 * found_tsc_aux are what vhm puts back. Changed with interrupts off.
 *
 * In vhm's own VMX operation the values found are the host's, put back
 * when the task returns to user mode (a user-return notifier). On top of
 * KVM they may be a KVM guest's that KVM's user-return cache expects to
 * find there (KVM writes them only when its cached copy differs): they are
 * read when vhm starts switching and put back exactly whenever the vCPU's
 * thread gives the CPU up (vmx_cpu_leave(): sched out, VHM_RUN's return),
 * so that nothing of vhm's is left for KVM or user space and vhm's own
 * cache is forgotten. No host value is assumed then (nor read as one: a
 * TSC_AUX found may be a KVM guest's, and KVM puts the host's back).
 */
struct vmx_lazy_msrs {
	struct user_return_notifier urn;
	bool guest;
	u64 gen;
	u64 cur[VMX_NR_MSRS];
	u64 tsc_aux;
	u64 found[VMX_NR_MSRS];
	u64 found_tsc_aux;
};

static DEFINE_PER_CPU(struct vmx_lazy_msrs, vmx_lazy_msrs);
static atomic64_t vmx_msrs_gen;

/* New values in vmx->msrs[]: a number no vCPU had before (never 0). */
void vmx_msrs_changed(struct vmx_vcpu *vmx)
{
	vmx->msrs_gen = atomic64_inc_return(&vmx_msrs_gen);
}

static void vmx_lazy_write(u64 *cur, u32 index, u64 v)
{
	if (*cur == v)
		return;
	vhm_wrmsr(index, v);
	*cur = v;
}

/* Interrupts off: the values found back, vhm's cache forgotten. */
static void vmx_lazy_put_back(struct vmx_lazy_msrs *l)
{
	int i;

	if (!l->guest)
		return;
	l->guest = false;
	l->gen = 0;
	if (!vhm_on_kvm)
		user_return_notifier_unregister(&l->urn);
	for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
		vmx_lazy_write(&l->cur[i], vmx_switched_msrs[i], l->found[i]);
	if (vmx_switches_tsc_aux())
		vmx_lazy_write(&l->tsc_aux, MSR_TSC_AUX, l->found_tsc_aux);
}

/* A task returns to user mode on this CPU (vhm's own VMX operation). */
static void vmx_msrs_restore_host(struct user_return_notifier *urn)
{
	unsigned long flags;

	local_irq_save(flags);
	vmx_lazy_put_back(container_of(urn, struct vmx_lazy_msrs, urn));
	local_irq_restore(flags);
}

/*
 * Interrupts off, before VMXOFF on this CPU (vmx_cpu_disable), or on top
 * of KVM whenever the vCPU's thread gives it up (vmx_cpu_leave).
 */
void vmx_msrs_drop_cpu(void)
{
	vmx_lazy_put_back(this_cpu_ptr(&vmx_lazy_msrs));
}

/*
 * Own VMX operation: the CPU holds the host's values (the syscall MSRs as
 * at load, the same on every CPU); arm the notifier.
 */
static void vmx_lazy_start_own(struct vmx_lazy_msrs *l)
{
	int i;

	for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
		l->found[i] = vmx_host_msrs[i];
	if (vmx_switches_tsc_aux())
		vhm_rdmsr(MSR_TSC_AUX, l->found_tsc_aux);
	l->urn.on_user_return = vmx_msrs_restore_host;
	user_return_notifier_register(&l->urn);
}

/* On top of KVM: whatever the CPU holds now, a KVM guest's or the host's. */
static void vmx_lazy_start_on_kvm(struct vmx_lazy_msrs *l)
{
	int i;

	for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
		vhm_rdmsr(vmx_switched_msrs[i], l->found[i]);
	if (vmx_switches_tsc_aux())
		vhm_rdmsr(MSR_TSC_AUX, l->found_tsc_aux);
}

static void vmx_lazy_start(struct vmx_lazy_msrs *l)
{
	int i;

	if (vhm_on_kvm)
		vmx_lazy_start_on_kvm(l);
	else
		vmx_lazy_start_own(l);
	for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
		l->cur[i] = l->found[i];
	l->tsc_aux = l->found_tsc_aux;
	l->guest = true;
}

void vmx_msrs_load_guest(struct vmx_vcpu *vmx, struct vmx_host_state *h)
{
	struct vmx_lazy_msrs *l = this_cpu_ptr(&vmx_lazy_msrs);
	u64 kgs = vmx_msr_loadable(VMX_MSR_KERNEL_GS_BASE,
				   vmx->msrs[VMX_MSR_KERNEL_GS_BASE]);
	int i;

	vhm_rdmsr(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	if (kgs != h->kernel_gs_base)
		vhm_wrmsr(MSR_KERNEL_GS_BASE, kgs);
	if (!l->guest)
		vmx_lazy_start(l);
	if (l->gen != vmx->msrs_gen) {
		for (i = VMX_MSR_STAR; i < VMX_NR_MSRS; i++)
			vmx_lazy_write(&l->cur[i], vmx_switched_msrs[i],
				       vmx_msr_loadable(i, vmx->msrs[i]));
		l->gen = vmx->msrs_gen;
	}
	if (vmx_switches_tsc_aux())
		vmx_lazy_write(&l->tsc_aux, MSR_TSC_AUX, vmx->vcpu->tsc_aux);
}

/* The syscall MSRs and TSC_AUX stay the guest's (vmx_msrs_restore_host). */
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
