// SPDX-License-Identifier: GPL-2.0
/* The /dev/vhm misc device and the system fd's ioctls. */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <uapi/linux/vhm.h>
#include "msr_table.h"
#include "vhm.h"
#include "vm.h"

static long vhm_check_extension(unsigned long cap)
{
	switch (cap) {
	case VHM_CAP_HW_VENDOR:
		return vhm_ops->hw_vendor;
	case VHM_CAP_NESTED_PAGING:
		return 1;
	case VHM_CAP_MSR_EXITS:
		return VHM_MSR_EXIT_VALID;
	case VHM_CAP_XCRS:
		return vhm_xcr_supported();
	case VHM_CAP_DEBUGREGS:
	case VHM_CAP_LAPIC:
	case VHM_CAP_IOAPIC:
	case VHM_CAP_MSR_LIST:
		return 1;
	case VHM_CAP_TLB_TAGS:
		return vhm_ops->nr_tlb_tags();
	default:
		return 0;
	}
}

static long vhm_dev_ioctl(struct file *filp, unsigned int ioctl,
			  unsigned long arg)
{
	switch (ioctl) {
	case VHM_GET_API_VERSION:
		if (arg)
			return -EINVAL;
		return VHM_API_VERSION;
	case VHM_CHECK_EXTENSION:
		return vhm_check_extension(arg);
	case VHM_CREATE_VM:
		return vhm_create_vm(arg);
	case VHM_GET_VCPU_MMAP_SIZE:
		return arg ? -EINVAL : PAGE_SIZE;
	case VHM_GET_SUPPORTED_CPUID:
		return vhm_get_supported_cpuid((void __user *)arg);
	case VHM_GET_MSR_LIST:
		return vhm_get_msr_list((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vhm_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = vhm_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice vhm_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vhm",
	.fops = &vhm_dev_fops,
	/* Root only; tools/udev/99-vhm.rules opens it to the "vhm" group. */
	.mode = 0600,
};

int vhm_dev_init(void)
{
	return misc_register(&vhm_dev);
}

void vhm_dev_exit(void)
{
	misc_deregister(&vhm_dev);
}
