// SPDX-License-Identifier: GPL-2.0
/*
 * Intel VT-x (VMX) backend: feature probing and VMXON/VMXOFF per CPU.
 * Intel SDM vol. 3C, 24.7 "Enabling and entering VMX operation" and
 * appendix A "VMX capability reporting facility".
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
#include <asm/tlbflush.h>

#include <uapi/linux/vhm.h>
#include "compat.h"
#include "vendor.h"
#include "vmx.h"

#define VHM_VMX_CPUID_ECX_VMX		BIT(5)	/* CPUID 1 ECX */
#define VHM_VMX_BASIC_TRUE_CTLS		BIT_ULL(55)
#define VHM_VMX_BASIC_MEM_TYPE(b)		(((b) >> 50) & 0xf)
#define VHM_VMX_BASIC_VMCS_SIZE(b)		(((b) >> 32) & 0x1fff)
#define VHM_VMX_MEM_TYPE_WB			6
#define VHM_VMX_PROC_SECONDARY		BIT(31)
#define VHM_VMX_PROC2_EPT			BIT(1)
#define VHM_VMX_PROC2_VPID			BIT(5)
#define VHM_VMX_PROC2_UNRESTRICTED		BIT(7)
#define VHM_VMX_EPT_CAP_WALK4		BIT_ULL(6)
#define VHM_VMX_EPT_CAP_WB			BIT_ULL(14)
#define VHM_VMX_NR_VPIDS			65535

/* The VMXON region, one page per CPU, tagged with the VMCS revision. */
static DEFINE_PER_CPU(struct page *, vmx_vmxon_page);
static u32 vmx_revision;
static bool vmx_has_vpid;

/* The allowed-1 settings (high half) of a VMX control capability MSR. */
static u32 vmx_allowed1(u32 msr)
{
	u64 v;

	vhm_rdmsr(msr, v);
	return v >> 32;
}

static int vmx_probe_feature_control(void)
{
	u64 fc;

	vhm_rdmsr(MSR_IA32_FEAT_CTL, fc);
	if (!(fc & FEAT_CTL_LOCKED)) {
		pr_err("IA32_FEATURE_CONTROL is not locked; the kernel should have set it at boot: update the firmware or kernel\n");
		return -EOPNOTSUPP;
	}
	if (!(fc & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("Intel VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX): enable VT-x in the BIOS setup\n");
		return -EBUSY;
	}
	return 0;
}

static int vmx_probe_controls(void)
{
	u64 basic, ept_cap;
	u32 proc, proc2;

	vhm_rdmsr(MSR_IA32_VMX_BASIC, basic);
	if (VHM_VMX_BASIC_MEM_TYPE(basic) != VHM_VMX_MEM_TYPE_WB ||
	    VHM_VMX_BASIC_VMCS_SIZE(basic) > PAGE_SIZE) {
		pr_err("unsupported VMCS layout (IA32_VMX_BASIC %#llx)\n", basic);
		return -EOPNOTSUPP;
	}
	vmx_revision = basic & 0x7fffffff;

	proc = vmx_allowed1(basic & VHM_VMX_BASIC_TRUE_CTLS ?
			    MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
			    MSR_IA32_VMX_PROCBASED_CTLS);
	proc2 = (proc & VHM_VMX_PROC_SECONDARY) ?
		vmx_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2) : 0;
	if (!(proc2 & VHM_VMX_PROC2_EPT) || !(proc2 & VHM_VMX_PROC2_UNRESTRICTED)) {
		pr_err("Intel VT-x without %s; vhm needs EPT and unrestricted guest\n",
		       !(proc2 & VHM_VMX_PROC2_EPT) ? "EPT" : "unrestricted guest");
		return -EOPNOTSUPP;
	}
	vhm_rdmsr(MSR_IA32_VMX_EPT_VPID_CAP, ept_cap);
	if (!(ept_cap & VHM_VMX_EPT_CAP_WALK4) || !(ept_cap & VHM_VMX_EPT_CAP_WB)) {
		pr_err("EPT without 4-level walks or write-back paging structures (IA32_VMX_EPT_VPID_CAP %#llx)\n",
		       ept_cap);
		return -EOPNOTSUPP;
	}
	vmx_has_vpid = proc2 & VHM_VMX_PROC2_VPID;
	return 0;
}

static int vmx_probe(void)
{
	int r;

	if (!(cpuid_ecx(1) & VHM_VMX_CPUID_ECX_VMX)) {
		pr_err("this CPU has no Intel VT-x (VMX); vhm needs Intel VT-x with EPT or AMD-V with nested paging\n");
		return -ENODEV;
	}
	r = vmx_probe_feature_control();
	if (r)
		return r;
	return vmx_probe_controls();
}

static void vmx_teardown(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (per_cpu(vmx_vmxon_page, cpu))
			__free_page(per_cpu(vmx_vmxon_page, cpu));
		per_cpu(vmx_vmxon_page, cpu) = NULL;
	}
}

static int vmx_setup(void)
{
	struct page *page;
	int cpu;

	for_each_possible_cpu(cpu) {
		page = alloc_pages_node(cpu_to_node(cpu),
					GFP_KERNEL | __GFP_ZERO, 0);
		if (!page) {
			vmx_teardown();
			return -ENOMEM;
		}
		*(u32 *)page_address(page) = vmx_revision;
		per_cpu(vmx_vmxon_page, cpu) = page;
	}
	return 0;
}

static bool vmx_cpu_in_use(void)
{
	return cr4_read_shadow() & X86_CR4_VMXE;
}

static int vmx_cpu_enable(void)
{
	struct page *page = __this_cpu_read(vmx_vmxon_page);
	int r;

	if (vmx_cpu_in_use())
		return -EBUSY;
	cr4_set_bits(X86_CR4_VMXE);
	r = vmx_insn_vmxon(page_to_phys(page));
	if (r)
		cr4_clear_bits(X86_CR4_VMXE);
	return r;
}

static void vmx_cpu_disable(void)
{
	vmx_insn_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

static void vmx_cpu_emergency_disable(void)
{
	/* VMX operation blocks INIT: the next kernel could not start CPUs. */
	if (vmx_cpu_in_use())
		vmx_cpu_disable();
}

static long vmx_check_cap(u32 cap)
{
	switch (cap) {
	case VHM_CAP_TLB_TAGS:
		return vmx_has_vpid ? VHM_VMX_NR_VPIDS : 0;
	default:
		return 0;
	}
}

const struct vhm_vendor_ops vhm_vmx_ops = {
	.name = "Intel VT-x (VMX)",
	.hw_vendor = VHM_HW_VMX,
	.kvm_module = "kvm_intel",
	.probe = vmx_probe,
	.setup = vmx_setup,
	.teardown = vmx_teardown,
	.cpu_in_use = vmx_cpu_in_use,
	.cpu_enable = vmx_cpu_enable,
	.cpu_disable = vmx_cpu_disable,
	.cpu_emergency_disable = vmx_cpu_emergency_disable,
	.check_cap = vmx_check_cap,
};
