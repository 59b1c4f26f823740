// SPDX-License-Identifier: GPL-2.0
/*
 * AMD-V (SVM) backend: feature probing and turning SVM on and off per CPU.
 * AMD APM vol. 2, 15.4 "Enabling SVM" and 15.30.4 "VM_HSAVE_PA MSR".
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/kernel.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/io.h>
#include <linux/percpu.h>
#include <linux/topology.h>
#include <asm/processor.h>
#include <asm/msr-index.h>
#include <asm/pgtable_types.h>

#include <uapi/linux/vhm.h>
#include "compat.h"
#include "svm.h"
#include "vendor.h"

#define SVM_CPUID_FN		0x8000000a
#define SVM_CPUID_ECX_SVM	BIT(2)	/* CPUID 0x80000001 ECX */
#define SVM_CPUID_EDX_NPT	BIT(0)	/* CPUID 0x8000000a EDX */
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)	/* VM_CR MSR */

/* The host save area the CPU uses on every VMRUN, one page per CPU. */
static DEFINE_PER_CPU(struct page *, svm_hsave_page);
/* Where VMSAVE keeps the host's FS/GS/TR/syscall state across a VMRUN. */
static DEFINE_PER_CPU(struct page *, svm_host_save_page);
static u32 svm_nr_asids;

/* Every port and every MSR intercepted (IOPM 12 KiB, MSRPM 8 KiB). */
#define SVM_IOPM_ORDER	2
#define SVM_MSRPM_ORDER	1
static struct page *svm_iopm, *svm_msrpm;

/*
 * ASIDs per CPU: handed out in order; when they run out, a new generation
 * starts and the whole TLB is flushed, so a vCPU whose ASID is from an old
 * generation (or another CPU) takes a fresh one.
 */
struct svm_asids {
	u32 next;
	u64 gen;
	bool flush_all;
};
static DEFINE_PER_CPU(struct svm_asids, svm_asids) = { .next = 1, .gen = 1 };

int svm_probe(void)
{
	u64 vm_cr;

	if (boot_cpu_data.extended_cpuid_level < SVM_CPUID_FN ||
	    !(cpuid_ecx(0x80000001) & SVM_CPUID_ECX_SVM)) {
		pr_err("this CPU has no AMD-V (SVM); vhm needs AMD-V with nested paging or Intel VT-x with EPT\n");
		return -ENODEV;
	}
	vhm_rdmsr(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVMDIS) {
		pr_err("AMD-V is disabled by the firmware (VM_CR.SVMDIS): enable SVM in the BIOS setup\n");
		return -EBUSY;
	}
	if (!(cpuid_edx(SVM_CPUID_FN) & SVM_CPUID_EDX_NPT)) {
		pr_err("AMD-V without nested paging (NPT); vhm needs NPT\n");
		return -EOPNOTSUPP;
	}
	svm_nr_asids = cpuid_ebx(SVM_CPUID_FN);
	return 0;
}

/*
 * MSRs VMLOAD/VMSAVE switch with the guest's VMCB: the guest reads and
 * writes them without exits. Two bits (read, write) per MSR, in three
 * 2 KiB ranges (APM vol. 2, 15.11).
 */
static void svm_msrpm_pass_through(u8 *msrpm)
{
	static const u32 msrs[] = {
		MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_STAR,
		MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_IA32_SYSENTER_CS,
		MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	};
	unsigned int i, bit;

	for (i = 0; i < ARRAY_SIZE(msrs); i++) {
		u32 m = msrs[i];

		if (m < 0x2000)
			bit = m * 2;
		else if (m >= 0xc0000000 && m < 0xc0002000)
			bit = 0x800 * 8 + (m - 0xc0000000) * 2;
		else
			continue;
		msrpm[bit / 8] &= ~(3 << (bit % 8));
	}
}

void svm_teardown(void)
{
	vhm_free_percpu_pages(&svm_hsave_page);
	vhm_free_percpu_pages(&svm_host_save_page);
	if (svm_iopm)
		__free_pages(svm_iopm, SVM_IOPM_ORDER);
	if (svm_msrpm)
		__free_pages(svm_msrpm, SVM_MSRPM_ORDER);
	svm_iopm = NULL;
	svm_msrpm = NULL;
}

int svm_setup(void)
{
	if (vhm_alloc_percpu_pages(&svm_hsave_page) ||
	    vhm_alloc_percpu_pages(&svm_host_save_page))
		goto teardown;
	svm_iopm = alloc_pages(GFP_KERNEL, SVM_IOPM_ORDER);
	svm_msrpm = alloc_pages(GFP_KERNEL, SVM_MSRPM_ORDER);
	if (!svm_iopm || !svm_msrpm)
		goto teardown;
	memset(page_address(svm_iopm), 0xff, PAGE_SIZE << SVM_IOPM_ORDER);
	memset(page_address(svm_msrpm), 0xff, PAGE_SIZE << SVM_MSRPM_ORDER);
	svm_msrpm_pass_through(page_address(svm_msrpm));
	return 0;

teardown:
	svm_teardown();
	return -ENOMEM;
}

phys_addr_t svm_host_save_pa(void)
{
	return page_to_phys(__this_cpu_read(svm_host_save_page));
}

phys_addr_t svm_iopm_pa(void)
{
	return page_to_phys(svm_iopm);
}

phys_addr_t svm_msrpm_pa(void)
{
	return page_to_phys(svm_msrpm);
}

void svm_assign_asid(struct svm_vcpu *svm)
{
	struct svm_asids *a = this_cpu_ptr(&svm_asids);
	int cpu = smp_processor_id();

	lockdep_assert_irqs_disabled();
	if (svm->asid_cpu == cpu && svm->asid_gen == a->gen) {
		svm->vmcb->control.asid = svm->asid;
		return;
	}
	if (a->next >= svm_nr_asids) {
		a->gen++;
		a->next = 1;
		a->flush_all = true;
	}
	svm->asid = a->next++;
	svm->asid_cpu = cpu;
	svm->asid_gen = a->gen;
	svm->vmcb->control.asid = svm->asid;
	/* A reused ASID may hold another vCPU's translations. */
	svm->vmcb->control.tlb_ctl = a->flush_all ? TLB_CONTROL_FLUSH_ALL_ASID :
				     TLB_CONTROL_FLUSH_ASID;
	a->flush_all = false;
}

/* NPT entries are ordinary x86 page table entries, user-accessible. */
/* SVM's nested paging always has 2 MiB entries (AMD APM vol. 2, 15.25). */
bool svm_npt_has_2m(void)
{
	return true;
}

u64 svm_npt_pte(phys_addr_t pa, unsigned int perm, int level)
{
	u64 pte = pa | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;

	if (!level)
		return pte | _PAGE_RW;
	if (perm & VHM_NPT_WRITE)
		pte |= _PAGE_RW | _PAGE_DIRTY;
	if (level == 2)
		pte |= _PAGE_PSE;
	return pte;
}

bool svm_cpu_in_use(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	return efer & EFER_SVME;
}

int svm_cpu_enable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;
	vhm_wrmsr(MSR_VM_HSAVE_PA,
		  page_to_phys(__this_cpu_read(svm_hsave_page)));
	vhm_wrmsr(MSR_EFER, efer | EFER_SVME);
	/* Whatever ran before may have left tagged translations. */
	this_cpu_ptr(&svm_asids)->flush_all = true;
	return 0;
}

void svm_cpu_disable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	vhm_wrmsr(MSR_EFER, efer & ~EFER_SVME);
	vhm_wrmsr(MSR_VM_HSAVE_PA, 0);
}

void svm_cpu_emergency_disable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	/* A crash between CLGI and STGI leaves GIF clear: INIT is blocked. */
	asm volatile("stgi" ::: "memory");
	vhm_wrmsr(MSR_EFER, efer & ~EFER_SVME);
}

u32 svm_nr_tlb_tags(void)
{
	return svm_nr_asids;
}

const struct vhm_vendor_ops vhm_svm_ops = {
	VHM_VENDOR_TABLE(svm, "AMD-V (SVM)", VHM_HW_SVM, "kvm_amd", SVM_HW_REGS)
};
