// SPDX-License-Identifier: GPL-2.0
/*
 * vhm on top of KVM's enablement of VMX/SVM. On 7.x the kernel turns
 * virtualization on for KVM's modules only (arch/x86/virt/hw.c, exported
 * to them alone), so beside KVM vhm borrows what KVM turned on instead of
 * refusing:
 *
 * - Each vhm VM holds a KVM VM, made as any VMM makes one (KVM_CREATE_VM
 *   on /dev/kvm, in the creator's context, as VirtualBox 7.2.10 does).
 *   While it exists KVM keeps virtualization on, on every online CPU and
 *   every CPU that comes online (before vhm's hotplug callback: KVM's
 *   state is earlier), and the file pins kvm_amd/kvm_intel: their rmmod
 *   fails with EBUSY until the last vhm VM is gone. Only plain exports
 *   (filp_open, fget, close_fd), no KVM-only symbol.
 * - Whenever a vCPU's thread gives its CPU up, the backend's cpu_leave
 *   erases what vhm's guest left in hardware state KVM shares (a preempt
 *   notifier, as KVM's own vcpu_put), and the MSRs switched lazily are put
 *   back as found (user_msrs.c).
 *
 * Without a usable KVM (kvm.ko and /dev/kvm, at vhm's load), vhm keeps
 * its own enablement where the backend can do that on this kernel (SVM:
 * EFER has no kernel shadow; KVM loaded later then fails to turn SVM on,
 * with EBUSY); it refuses where it cannot (VMX on 7.x). On kernels where vhm turns virtualization on itself (6.1, 6.12)
 * KVM and vhm exclude each other, as before: vhm refuses beside KVM.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/cpumask.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sched/signal.h>
#include <linux/security.h>
#include <linux/string.h>

#include "compat.h"
#include "kvm_host.h"
#include "spec.h"
#include "user_msrs.h"
#include "vhm.h"
#include "vm.h"

bool vhm_on_kvm;

/*
 * kvm.ko is loaded: its exported kvm_get_kvm (plain GPL, 6.1 to 7.x) is
 * there. The reference is dropped at once.
 */
static bool vhm_kvm_loaded(void)
{
	if (!__symbol_get("kvm_get_kvm"))
		return false;
	__symbol_put("kvm_get_kvm");
	return true;
}

/*
 * "/dev/kvm" is resolved in the caller's mount namespace, where a VMM may
 * have bound any file over it (a user namespace lets any user do that):
 * only KVM's own device is called, the misc character device of
 * KVM_MINOR (a mount of the caller's may not hold device nodes: nodev),
 * whose module registered that minor.
 */
static bool vhm_kvm_is_dev(struct file *dev)
{
	struct inode *inode = file_inode(dev);

	return S_ISCHR(inode->i_mode) &&
	       inode->i_rdev == MKDEV(MISC_MAJOR, KVM_MINOR) &&
	       dev->f_op->owner && dev->f_op->unlocked_ioctl;
}

/*
 * KVM can run VMs: kvm.ko is loaded and its vendor module registered
 * /dev/kvm (kvm.ko alone, e.g. after kvm_amd refused to load, cannot).
 */
static bool vhm_kvm_usable(void)
{
	struct file *dev;
	bool usable;

	if (!vhm_kvm_loaded())
		return false;
	dev = filp_open("/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (IS_ERR(dev))
		return false;
	usable = vhm_kvm_is_dev(dev);
	fput(dev);
	return usable;
}

int vhm_kvm_mode_init(void)
{
	bool kvm = vhm_kvm_loaded();

	vhm_on_kvm = false;
	if (!VHM_KERNEL_OWNS_VIRT) {
		if (!kvm)
			return 0;
		pr_err("KVM (kvm.ko) is loaded and takes %s whenever it runs a VM: rmmod %s kvm first\n",
		       vhm_ops->name, vhm_ops->kvm_module);
		return -EBUSY;
	}
	if (!kvm || !vhm_kvm_usable()) {
		if (vhm_ops->own_enable)
			return 0;
		pr_err("on this kernel vhm runs %s on top of KVM's: modprobe %s first\n",
		       vhm_ops->name, vhm_ops->kvm_module);
		return -ENODEV;
	}
	if (!vhm_ops->on_kvm || !VHM_CAN_RUN_ON_KVM) {
		pr_err("vhm cannot run %s beside KVM on this kernel yet: rmmod %s kvm first\n",
		       vhm_ops->name, vhm_ops->kvm_module);
		return -EBUSY;
	}
	vhm_on_kvm = true;
	vhm_preempt_notifier_inc();
	pr_info("%s on top of KVM's (%s): %s stays loaded while vhm VMs exist\n",
		vhm_ops->name, vhm_ops->kvm_module, vhm_ops->kvm_module);
	return 0;
}

void vhm_kvm_mode_exit(void)
{
	if (vhm_on_kvm)
		vhm_preempt_notifier_dec();
	vhm_on_kvm = false;
}

/* Virtualization is on, on every online CPU (KVM's, while its VM lives). */
static int vhm_kvm_check_cpus_on(void)
{
	int cpu = vhm_first_cpu_virt(false);

	if (cpu < 0)
		return cpu;
	if (cpu < nr_cpu_ids) {
		pr_err("KVM's VM did not turn %s on for CPU %d: reload %s and vhm\n",
		       vhm_ops->name, cpu, vhm_ops->kvm_module);
		return -EBUSY;
	}
	return 0;
}

/*
 * A KVM VM of the module of dev: KVM's anonymous "kvm-vm" file. Another
 * thread of the caller may have put any file at the descriptor
 * KVM_CREATE_VM returned before vhm took it.
 */
static bool vhm_kvm_is_vm(struct file *vm, struct file *dev)
{
	return vm->f_op != dev->f_op && vm->f_op->owner == dev->f_op->owner &&
	       !strcmp(vm->f_path.dentry->d_name.name, "kvm-vm");
}

/*
 * KVM_CREATE_VM as the VMM's own ioctl would make it (the security
 * modules' ioctl hook first), in the caller's file table; take the file
 * and close the descriptor.
 */
static struct file *vhm_kvm_create_vm(struct file *dev)
{
	struct file *vm;
	long fd;

	fd = security_file_ioctl(dev, KVM_CREATE_VM, 0);
	if (fd)
		return ERR_PTR(fd);
	fd = dev->f_op->unlocked_ioctl(dev, KVM_CREATE_VM, 0);
	if (fd < 0)
		return ERR_PTR(fd);
	vm = fget(fd);
	close_fd(fd);
	if (!vm)
		return ERR_PTR(-EAGAIN);
	if (!vhm_kvm_is_vm(vm, dev)) {
		fput(vm);
		return ERR_PTR(-EAGAIN);
	}
	return vm;
}

/*
 * Suspend on top of KVM: KVM's syscore callback turns virtualization off
 * on the last CPU; the vendor's cpu_before_kvm_off must run before it.
 * Syscore suspend runs in reverse registration order, and KVM registers
 * its callback when its first VM turns virtualization on (at its load, or
 * at its first VM with kvm.enable_virt_at_load=0). So vhm's is registered
 * while vhm holds KVM VMs (from the first, already made, to the last):
 * always after KVM's, which stays registered meanwhile. The other CPUs
 * went offline before (the vendor's hotplug state).
 */
static int vhm_kvm_suspend(VHM_SYSCORE_ARG)
{
	vhm_ops->cpu_before_kvm_off();
	return 0;
}

VHM_DEFINE_SYSCORE(vhm_kvm_syscore, vhm_kvm_suspend, NULL);
static DEFINE_MUTEX(vhm_kvm_holds_lock);
static unsigned int vhm_kvm_holds;

static void vhm_kvm_holds_inc(void)
{
	if (!vhm_ops->cpu_before_kvm_off)
		return;
	mutex_lock(&vhm_kvm_holds_lock);
	if (!vhm_kvm_holds++)
		vhm_register_syscore(&vhm_kvm_syscore);
	mutex_unlock(&vhm_kvm_holds_lock);
}

static void vhm_kvm_holds_dec(void)
{
	if (!vhm_ops->cpu_before_kvm_off)
		return;
	mutex_lock(&vhm_kvm_holds_lock);
	if (!--vhm_kvm_holds)
		vhm_unregister_syscore(&vhm_kvm_syscore);
	mutex_unlock(&vhm_kvm_holds_lock);
}

struct file *vhm_kvm_hold(void)
{
	struct file *dev, *vm;
	int r;

	if (!vhm_on_kvm)
		return NULL;
	dev = filp_open("/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (IS_ERR(dev)) {
		if (fatal_signal_pending(current))
			return dev;	/* the VMM is being killed: no advice */
		pr_err_ratelimited("vhm runs on top of KVM here and /dev/kvm cannot be opened (%ld): modprobe %s (and give the VMM access to /dev/kvm)\n",
				   PTR_ERR(dev), vhm_ops->kvm_module);
		return dev;
	}
	if (!vhm_kvm_is_dev(dev)) {
		fput(dev);
		pr_err_ratelimited("vhm runs on top of KVM here and the VMM's /dev/kvm is not KVM's device (character device 10:%d): give the VMM the host's /dev/kvm\n",
				   KVM_MINOR);
		return ERR_PTR(-ENODEV);
	}
	vm = vhm_kvm_create_vm(dev);
	fput(dev);
	if (IS_ERR(vm)) {
		if (fatal_signal_pending(current))
			return vm;
		pr_err_ratelimited("vhm runs on top of KVM here and KVM_CREATE_VM failed (%ld): see KVM's messages; check %s is loaded\n",
				   PTR_ERR(vm), vhm_ops->kvm_module);
		return vm;
	}
	r = vhm_kvm_check_cpus_on();
	if (r) {
		fput(vm);
		return ERR_PTR(r);
	}
	vhm_kvm_holds_inc();
	return vm;
}

void vhm_kvm_release(struct file *kvm_vm)
{
	if (!kvm_vm)
		return;
	vhm_kvm_holds_dec();
	fput(kvm_vm);
}

#ifdef CONFIG_PREEMPT_NOTIFIERS
/* Interrupts off: another thread, maybe a KVM vCPU, runs next. */
static void vhm_kvm_sched_out(struct preempt_notifier *pn,
			      struct task_struct *next)
{
	vhm_ops->cpu_leave();
	vhm_umsrs_put_back(false);
	vhm_spec_cpu_leave(false);
}

static void vhm_kvm_sched_in(struct preempt_notifier *pn, int cpu)
{
}

static struct preempt_ops vhm_kvm_preempt_ops = {
	.sched_in = vhm_kvm_sched_in,
	.sched_out = vhm_kvm_sched_out,
};

void vhm_kvm_run_begin(struct vhm_vcpu *vcpu)
{
	if (!vhm_on_kvm)
		return;
	preempt_notifier_init(&vcpu->kvm_pn, &vhm_kvm_preempt_ops);
	preempt_disable();
	preempt_notifier_register(&vcpu->kvm_pn);
	preempt_enable();
}

void vhm_kvm_run_end(struct vhm_vcpu *vcpu)
{
	unsigned long flags;

	if (!vhm_on_kvm)
		return;
	preempt_disable();
	preempt_notifier_unregister(&vcpu->kvm_pn);
	local_irq_save(flags);
	vhm_ops->cpu_leave();
	vhm_umsrs_put_back(false);
	vhm_spec_cpu_leave(true);
	local_irq_restore(flags);
	preempt_enable();
}
#else
void vhm_kvm_run_begin(struct vhm_vcpu *vcpu) { }
void vhm_kvm_run_end(struct vhm_vcpu *vcpu) { }
#endif
