// SPDX-License-Identifier: GPL-2.0
/*
 * Limits on what one user of /dev/vhm may hold, so that one cannot exhaust
 * the host for everyone (docs/SECURITY.md): VMs per user (by the creator's
 * real uid) and vCPUs per VM, both module parameters root may change at
 * any time (a lower limit applies to new VMs and vCPUs only). The memory
 * behind them is charged to the creator's memory cgroup (GFP_KERNEL_ACCOUNT
 * everywhere a VM or vCPU allocates).
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/cred.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

#include "vhm.h"
#include "vm.h"

static unsigned int vhm_max_vms_per_user = 1024;
module_param_named(max_vms_per_user, vhm_max_vms_per_user, uint, 0644);
MODULE_PARM_DESC(max_vms_per_user,
		 "VMs one user may have at once (0: no limit; default 1024)");

static unsigned int vhm_max_vcpus_per_vm = VHM_MAX_VCPUS;
module_param_named(max_vcpus_per_vm, vhm_max_vcpus_per_vm, uint, 0644);
MODULE_PARM_DESC(max_vcpus_per_vm,
		 "vCPUs one VM may have (at most and by default 64)");

/* uid -> the number of VMs that user has (an xarray value entry). */
static DEFINE_XARRAY(vhm_vms_by_uid);
static DEFINE_MUTEX(vhm_vms_lock);

int vhm_limit_vm_charge(struct vhm_vm *vm)
{
	unsigned int max = READ_ONCE(vhm_max_vms_per_user);
	uid_t uid = __kuid_val(current_uid());
	unsigned long n;
	int r;

	mutex_lock(&vhm_vms_lock);
	n = xa_to_value(xa_load(&vhm_vms_by_uid, uid) ?: xa_mk_value(0));
	if (max && n >= max) {
		mutex_unlock(&vhm_vms_lock);
		pr_warn_ratelimited("user %u has %lu VMs, the most max_vms_per_user allows: end some, or raise /sys/module/vhm/parameters/max_vms_per_user\n",
				    uid, n);
		return -ENOSPC;
	}
	r = xa_err(xa_store(&vhm_vms_by_uid, uid, xa_mk_value(n + 1),
			    GFP_KERNEL_ACCOUNT));
	mutex_unlock(&vhm_vms_lock);
	if (!r)
		vm->uid = uid;
	return r;
}

void vhm_limit_vm_uncharge(struct vhm_vm *vm)
{
	unsigned long n;

	mutex_lock(&vhm_vms_lock);
	n = xa_to_value(xa_load(&vhm_vms_by_uid, vm->uid) ?: xa_mk_value(0));
	if (WARN_ON_ONCE(!n))
		goto unlock;
	if (n == 1)
		xa_erase(&vhm_vms_by_uid, vm->uid);
	else	/* replacing a present entry allocates nothing */
		xa_store(&vhm_vms_by_uid, vm->uid, xa_mk_value(n - 1),
			 GFP_KERNEL);
unlock:
	mutex_unlock(&vhm_vms_lock);
}

/* vm->lock held: may the VM have another vCPU? */
int vhm_limit_vcpu(struct vhm_vm *vm)
{
	unsigned int max = min_t(unsigned int, READ_ONCE(vhm_max_vcpus_per_vm),
				 VHM_MAX_VCPUS);

	lockdep_assert_held(&vm->lock);
	if (vm->nr_vcpus < max)
		return 0;
	pr_warn_ratelimited("a VM of user %u has %u vCPUs, the most max_vcpus_per_vm allows: raise /sys/module/vhm/parameters/max_vcpus_per_vm (up to %u)\n",
			    vm->uid, vm->nr_vcpus, VHM_MAX_VCPUS);
	return -ENOSPC;
}
