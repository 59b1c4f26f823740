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

#include <uapi/linux/vhm.h>
#include "compat.h"
#include "vendor.h"

#define SVM_CPUID_FN		0x8000000a
#define SVM_CPUID_ECX_SVM	BIT(2)	/* CPUID 0x80000001 ECX */
#define SVM_CPUID_EDX_NPT	BIT(0)	/* CPUID 0x8000000a EDX */
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)	/* VM_CR MSR */

/* The host save area the CPU uses on every VMRUN, one page per CPU. */
static DEFINE_PER_CPU(struct page *, svm_hsave_page);
static u32 svm_nr_asids;

static int svm_probe(void)
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

static void svm_teardown(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (per_cpu(svm_hsave_page, cpu))
			__free_page(per_cpu(svm_hsave_page, cpu));
		per_cpu(svm_hsave_page, cpu) = NULL;
	}
}

static int svm_setup(void)
{
	struct page *page;
	int cpu;

	for_each_possible_cpu(cpu) {
		page = alloc_pages_node(cpu_to_node(cpu),
					GFP_KERNEL | __GFP_ZERO, 0);
		if (!page) {
			svm_teardown();
			return -ENOMEM;
		}
		per_cpu(svm_hsave_page, cpu) = page;
	}
	return 0;
}

static bool svm_cpu_in_use(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	return efer & EFER_SVME;
}

static int svm_cpu_enable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;
	vhm_wrmsr(MSR_VM_HSAVE_PA,
		  page_to_phys(__this_cpu_read(svm_hsave_page)));
	vhm_wrmsr(MSR_EFER, efer | EFER_SVME);
	return 0;
}

static void svm_cpu_disable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	vhm_wrmsr(MSR_EFER, efer & ~EFER_SVME);
	vhm_wrmsr(MSR_VM_HSAVE_PA, 0);
}

static void svm_cpu_emergency_disable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	/* A crash between CLGI and STGI leaves GIF clear: INIT is blocked. */
	asm volatile("stgi" ::: "memory");
	vhm_wrmsr(MSR_EFER, efer & ~EFER_SVME);
}

static long svm_check_cap(u32 cap)
{
	switch (cap) {
	case VHM_CAP_TLB_TAGS:
		return svm_nr_asids;
	default:
		return 0;
	}
}

const struct vhm_vendor_ops vhm_svm_ops = {
	.name = "AMD-V (SVM)",
	.hw_vendor = VHM_HW_SVM,
	.kvm_module = "kvm_amd",
	.probe = svm_probe,
	.setup = svm_setup,
	.teardown = svm_teardown,
	.cpu_in_use = svm_cpu_in_use,
	.cpu_enable = svm_cpu_enable,
	.cpu_disable = svm_cpu_disable,
	.cpu_emergency_disable = svm_cpu_emergency_disable,
	.check_cap = svm_check_cap,
};
