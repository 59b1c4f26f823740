// SPDX-License-Identifier: GPL-2.0
/*
 * vhm: the virtual hardware manager. Module load and unload: pick the vendor
 * backend, turn virtualization on for every CPU, expose /dev/vhm.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/cc_platform.h>
#include <linux/module.h>
#include <asm/processor.h>

#include <uapi/linux/vhm.h>
#include "spec.h"
#include "vhm.h"

const struct vhm_vendor_ops *vhm_ops;

bool vhm_verbose;
module_param_named(verbose, vhm_verbose, bool, 0644);
MODULE_PARM_DESC(verbose,
		 "Log each CPU's virtualization on/off transition (default: off)");

static const struct vhm_vendor_ops *vhm_pick_vendor(void)
{
	switch (boot_cpu_data.x86_vendor) {
	case X86_VENDOR_AMD:
	case X86_VENDOR_HYGON:
		return &vhm_svm_ops;
	case X86_VENDOR_INTEL:
	case X86_VENDOR_CENTAUR:
	case X86_VENDOR_ZHAOXIN:
		return &vhm_vmx_ops;
	default:
		return NULL;
	}
}

/*
 * The vendor table's description and exit-code table are there. Its
 * operations are by construction: VHM_VENDOR_TABLE (vendor_ops.h) sets
 * every one to the backend's function, which must exist to link.
 */
static bool vhm_ops_complete(const struct vhm_vendor_ops *o)
{
	return !WARN_ON_ONCE(!o->name || !o->kvm_module || !o->hw_regs ||
			     !o->exit_handlers || !o->nr_exit_handlers ||
			     !o->vcpu_get != !o->vcpu_put);
}

static int __init vhm_init(void)
{
	int r;

	vhm_ops = vhm_pick_vendor();
	if (!vhm_ops) {
		pr_err("unsupported CPU vendor; vhm needs AMD-V with nested paging or Intel VT-x with EPT\n");
		return -ENODEV;
	}
	if (!vhm_ops_complete(vhm_ops))
		return -EINVAL;
	/*
	 * With SME the host's page tables carry the encryption bit, and so
	 * would have to every nested table and leaf vhm builds; vhm does not
	 * set it yet.
	 */
	if (cc_platform_has(CC_ATTR_HOST_MEM_ENCRYPT)) {
		pr_err("host memory encryption (SME) is active and vhm cannot use it yet: boot with mem_encrypt=off to use vhm\n");
		return -EOPNOTSUPP;
	}
	r = vhm_ops->probe();
	if (r)
		return r;
	vhm_spec_init();
	vhm_xcr_init();
	vhm_fpu_setup();
	r = vhm_cpuid_init();
	if (r)
		return r;
	r = vhm_virt_init();
	if (r)
		goto cpuid_exit;
	r = vhm_vcpu_free_init();
	if (r)
		goto virt_exit;
	/* Last: after this, /dev/vhm is exposed to userspace. */
	r = vhm_dev_init();
	if (r)
		goto vcpu_free_exit;
	pr_info("%s ready, /dev/vhm API version %d\n", vhm_ops->name,
		VHM_API_VERSION);
	vhm_spec_report();
	return 0;

vcpu_free_exit:
	vhm_vcpu_free_exit();
virt_exit:
	vhm_virt_exit();
cpuid_exit:
	vhm_cpuid_exit();
	return r;
}

static void __exit vhm_exit(void)
{
	vhm_dev_exit();
	/* Closed vCPUs still free their VMCS/VMCB: before VMXOFF/EFER.SVME. */
	vhm_vcpu_free_exit();
	vhm_virt_exit();
	vhm_cpuid_exit();
}

module_init(vhm_init);
module_exit(vhm_exit);

MODULE_DESCRIPTION("vhm: virtual hardware manager (AMD-V/Intel VT-x hypervisor)");
MODULE_AUTHOR("The vhm developers");
MODULE_LICENSE("GPL");
