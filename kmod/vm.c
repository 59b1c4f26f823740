// SPDX-License-Identifier: GPL-2.0
/* The VM object and its fd. */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "ioapic.h"
#include "kvm_host.h"
#include "lapic.h"
#include "vhm.h"
#include "vm.h"

void vhm_vm_get(struct vhm_vm *vm)
{
	refcount_inc(&vm->refs);
}

static void vhm_vm_free(struct vhm_vm *vm)
{
	if (vm->charged)
		vhm_limit_vm_uncharge(vm);
	vhm_ioapic_free(vm);
	vhm_mmu_destroy(vm);
	mmdrop(vm->mm);
	/* Last: KVM may turn virtualization off once its VM is gone. */
	vhm_kvm_release(vm->kvm_vm);
	kvfree(vm);
}

void vhm_vm_put(struct vhm_vm *vm)
{
	if (refcount_dec_and_test(&vm->refs))
		vhm_vm_free(vm);
}

static long vhm_vm_ioctl(struct file *filp, unsigned int ioctl,
			 unsigned long arg)
{
	struct vhm_vm *vm = filp->private_data;

	if (!vhm_vm_owned_by_current(vm))
		return -EIO;
	switch (ioctl) {
	case VHM_CREATE_VCPU:
		return vhm_create_vcpu(vm, arg);
	case VHM_SET_MEMORY_SLOT:
		return vhm_set_memory_slot(vm, (void __user *)arg);
	case VHM_ENABLE_CAP:
		return vhm_vm_enable_cap(vm, (void __user *)arg);
	case VHM_CREATE_LAPIC:
		return vhm_vm_create_lapic(vm, (void __user *)arg);
	case VHM_IRQ_LINE:
		return vhm_vm_irq_line(vm, (void __user *)arg);
	case VHM_GET_VM_STATS:
		return vhm_vm_get_stats(vm, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int vhm_vm_release(struct inode *inode, struct file *filp)
{
	vhm_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations vhm_vm_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = vhm_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = vhm_vm_release,
	.llseek = noop_llseek,
};

/*
 * The VM, or an ERR_PTR: -ENOMEM, or -EINTR when a signal is pending while
 * the MMU notifier is registered (the kernel's mm_take_all_locks() gives
 * up then; the VMM calls VHM_CREATE_VM again).
 */
static struct vhm_vm *vhm_vm_alloc(void)
{
	static atomic64_t next_id = ATOMIC64_INIT(0);
	struct vhm_vm *vm = kvzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	int r;

	if (!vm)
		return ERR_PTR(-ENOMEM);
	vm->id = atomic64_inc_return(&next_id);
	refcount_set(&vm->refs, 1);
	mutex_init(&vm->lock);
	mutex_init(&vm->slots_lock);
	vm->mm = current->mm;
	mmgrab(vm->mm);
	r = vhm_mmu_init(vm);
	if (r) {
		vhm_vm_put(vm);
		return ERR_PTR(r);
	}
	return vm;
}

long vhm_create_vm(unsigned long arg)
{
	struct vhm_vm *vm;
	struct file *file;
	int fd, r;

	if (arg)
		return -EINVAL;
	vm = vhm_vm_alloc();
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	r = vhm_limit_vm_charge(vm);
	if (r)
		goto put_vm;
	vm->charged = true;
	vm->kvm_vm = vhm_kvm_hold();
	if (IS_ERR(vm->kvm_vm)) {
		r = PTR_ERR(vm->kvm_vm);
		vm->kvm_vm = NULL;
		goto put_vm;
	}
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		r = fd;
		goto put_vm;
	}
	file = anon_inode_getfile("vhm-vm", &vhm_vm_fops, vm, O_RDWR);
	if (IS_ERR(file)) {
		r = PTR_ERR(file);
		goto put_fd;
	}
	/* Last: from here on userspace sees the VM. */
	fd_install(fd, file);
	return fd;

put_fd:
	put_unused_fd(fd);
put_vm:
	vhm_vm_put(vm);
	return r;
}
