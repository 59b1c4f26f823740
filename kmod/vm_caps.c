// SPDX-License-Identifier: GPL-2.0
/* VHM_ENABLE_CAP: optional behaviours a VMM turns on for its VM. */
#include <linux/uaccess.h>

#include "vm.h"

static int vhm_enable_msr_exits(struct vhm_vm *vm,
				const struct vhm_enable_cap *cap)
{
	if (cap->args[0] & ~(u64)VHM_MSR_EXIT_VALID || cap->args[1] ||
	    cap->args[2] || cap->args[3])
		return -EINVAL;
	WRITE_ONCE(vm->msr_exits, cap->args[0]);
	return 0;
}

long vhm_vm_enable_cap(struct vhm_vm *vm,
		       const struct vhm_enable_cap __user *ucap)
{
	struct vhm_enable_cap cap;

	if (copy_from_user(&cap, ucap, sizeof(cap)))
		return -EFAULT;
	if (cap.flags || memchr_inv(cap.reserved, 0, sizeof(cap.reserved)))
		return -EINVAL;
	switch (cap.cap) {
	case VHM_CAP_MSR_EXITS:
		return vhm_enable_msr_exits(vm, &cap);
	default:
		return -EINVAL;
	}
}
