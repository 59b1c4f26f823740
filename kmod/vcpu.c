// SPDX-License-Identifier: GPL-2.0
/* The vCPU object, its fd and its mmap'ed run area. */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "lapic.h"
#include "regs.h"
#include "vhm.h"
#include "vm.h"

static long vhm_vcpu_get_regs(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_regs regs;

	vhm_get_regs(vcpu, &regs);
	return copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
}

static long vhm_vcpu_set_regs(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_regs regs;

	if (copy_from_user(&regs, argp, sizeof(regs)))
		return -EFAULT;
	vhm_set_regs(vcpu, &regs);
	/* An IN in flight is not completed over registers set by hand. */
	vcpu->pio_in_size = 0;
	return 0;
}

static long vhm_vcpu_get_sregs(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_sregs sregs;

	memset(&sregs, 0, sizeof(sregs));
	vhm_ops->get_sregs(vcpu, &sregs);
	sregs.apic_base = vcpu->apic_base;
	if (vcpu->lapic)
		sregs.cr8 = vhm_lapic_get_cr8(vcpu);
	return copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
}

static long vhm_vcpu_set_sregs(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_sregs sregs;
	int r;

	if (copy_from_user(&sregs, argp, sizeof(sregs)))
		return -EFAULT;
	r = vhm_check_sregs(&sregs);
	if (r)
		return r;
	r = vhm_ops->set_sregs(vcpu, &sregs);
	if (r)
		return r;
	/* Checked above: cannot fail. The x2APIC ID follows the mode. */
	r = vhm_lapic_set_base(vcpu, sregs.apic_base, true);
	if (!r && vcpu->lapic)
		vhm_lapic_set_cr8(vcpu, sregs.cr8);
	return r;
}

static long vhm_vcpu_ioctl(struct file *filp, unsigned int ioctl,
			   unsigned long arg)
{
	struct vhm_vcpu *vcpu = filp->private_data;
	void __user *argp = (void __user *)arg;
	long r;

	if (!vhm_vm_owned_by_current(vcpu->vm))
		return -EIO;
	if (mutex_lock_interruptible(&vcpu->lock))
		return -EINTR;
	switch (ioctl) {
	case VHM_RUN:
		r = arg ? -EINVAL : vhm_vcpu_run(vcpu);
		break;
	case VHM_GET_REGS:
		r = vhm_vcpu_get_regs(vcpu, argp);
		break;
	case VHM_SET_REGS:
		r = vhm_vcpu_set_regs(vcpu, argp);
		break;
	case VHM_GET_SREGS:
		r = vhm_vcpu_get_sregs(vcpu, argp);
		break;
	case VHM_SET_SREGS:
		r = vhm_vcpu_set_sregs(vcpu, argp);
		break;
	case VHM_GET_MSRS:
		r = vhm_vcpu_get_msrs(vcpu, argp);
		break;
	case VHM_SET_MSRS:
		r = vhm_vcpu_set_msrs(vcpu, argp);
		break;
	case VHM_GET_XSAVE:
		r = vhm_vcpu_get_xsave(vcpu, argp);
		break;
	case VHM_SET_XSAVE:
		r = vhm_vcpu_set_xsave(vcpu, argp);
		break;
	case VHM_SET_CPUID:
		r = vhm_vcpu_set_cpuid(vcpu, argp);
		break;
	case VHM_GET_CPUID:
		r = vhm_vcpu_get_cpuid(vcpu, argp);
		break;
	case VHM_GET_XCRS:
		r = vhm_vcpu_get_xcrs(vcpu, argp);
		break;
	case VHM_SET_XCRS:
		r = vhm_vcpu_set_xcrs(vcpu, argp);
		break;
	case VHM_GET_DEBUGREGS:
		r = vhm_vcpu_get_debugregs(vcpu, argp);
		break;
	case VHM_SET_DEBUGREGS:
		r = vhm_vcpu_set_debugregs(vcpu, argp);
		break;
	case VHM_GET_VCPU_EVENTS:
		r = vhm_vcpu_get_events(vcpu, argp);
		break;
	case VHM_SET_VCPU_EVENTS:
		r = vhm_vcpu_set_events(vcpu, argp);
		break;
	default:
		r = -ENOTTY;
	}
	mutex_unlock(&vcpu->lock);
	return r;
}

static vm_fault_t vhm_run_fault(struct vm_fault *vmf)
{
	struct vhm_vcpu *vcpu = vmf->vma->vm_file->private_data;

	if (vmf->pgoff)
		return VM_FAULT_SIGBUS;
	vmf->page = virt_to_page(vcpu->run);
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct vhm_run_vm_ops = {
	.fault = vhm_run_fault,
};

static int vhm_vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct vhm_vcpu *vcpu = filp->private_data;

	if (!vhm_vm_owned_by_current(vcpu->vm))
		return -EIO;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > PAGE_SIZE)
		return -EINVAL;
	vma->vm_ops = &vhm_run_vm_ops;
	return 0;
}

static void vhm_vcpu_free(struct vhm_vcpu *vcpu)
{
	vhm_lapic_vcpu_free(vcpu);
	vhm_ops->vcpu_free(vcpu);
	vhm_cpuid_vcpu_free(vcpu);
	vhm_fpu_free(vcpu);
	free_page((unsigned long)vcpu->run);
	kfree(vcpu);
}

/*
 * Closed vCPUs wait here for the grace period that TLB shootdowns and IPI
 * delivery (which walk vm->vcpus under RCU) need, without making the
 * closing thread wait: closing a VM of 64 vCPUs took 64 grace periods one
 * after another when each close called synchronize_rcu(). The VM itself
 * ends in the closing thread (vhm_vcpu_release()). One at a time: the
 * frees are short, and a storm of killed VMMs must not make the kernel
 * start a worker thread for each.
 */
static struct workqueue_struct *vhm_vcpu_free_wq;

/* Nothing here touches vcpu->vm: the VM may be gone by now. */
static void vhm_vcpu_free_work(struct work_struct *work)
{
	vhm_vcpu_free(container_of(to_rcu_work(work), struct vhm_vcpu,
				   free_work));
}

static int vhm_vcpu_release(struct inode *inode, struct file *filp)
{
	struct vhm_vcpu *vcpu = filp->private_data;
	struct vhm_vm *vm = vcpu->vm;

	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->vcpus[vcpu->id], NULL);
	vm->nr_vcpus--;
	mutex_unlock(&vm->lock);
	/* Its timer must not fire into a VM that may be freed below. */
	vhm_lapic_vcpu_stop(vcpu);
	if (vhm_ops->vcpu_release)
		vhm_ops->vcpu_release(vcpu);
	INIT_RCU_WORK(&vcpu->free_work, vhm_vcpu_free_work);
	queue_rcu_work(vhm_vcpu_free_wq, &vcpu->free_work);
	/*
	 * The VM's last user gone, it ends now (and counts no more against
	 * max_vms_per_user): whoever could still read this vCPU under RCU
	 * held the VM.
	 */
	vhm_vm_put(vm);
	return 0;
}

int vhm_vcpu_free_init(void)
{
	vhm_vcpu_free_wq = alloc_ordered_workqueue("vhm-vcpu-free", 0);
	return vhm_vcpu_free_wq ? 0 : -ENOMEM;
}

void vhm_vcpu_free_exit(void)
{
	rcu_barrier();
	destroy_workqueue(vhm_vcpu_free_wq);
}

static const struct file_operations vhm_vcpu_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = vhm_vcpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = vhm_vcpu_mmap,
	.release = vhm_vcpu_release,
	.llseek = noop_llseek,
};

static struct vhm_vcpu *vhm_vcpu_alloc(struct vhm_vm *vm, u32 id)
{
	struct vhm_vcpu *vcpu;

	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return NULL;
	vcpu->run = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->run)
		goto free_vcpu;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->spec_cpu = -1;
	mutex_init(&vcpu->lock);
	vhm_regs_reset(vcpu);
	vhm_msrs_reset(vcpu);
	vhm_xcr_reset(vcpu);
	vhm_dr_reset(vcpu);
	if (vhm_fpu_init(vcpu))
		goto free_run;
	if (vhm_cpuid_vcpu_init(vcpu))
		goto free_fpu;
	if (vhm_ops->vcpu_create(vcpu))
		goto free_cpuid;
	if (vhm_lapic_vcpu_init(vcpu))
		goto free_vendor;
	return vcpu;

free_vendor:
	vhm_ops->vcpu_free(vcpu);
free_cpuid:
	vhm_cpuid_vcpu_free(vcpu);
free_fpu:
	vhm_fpu_free(vcpu);
free_run:
	free_page((unsigned long)vcpu->run);
free_vcpu:
	kfree(vcpu);
	return NULL;
}

/* vm->lock held: publish the vCPU in the VM and as an fd. */
static long vhm_vcpu_install(struct vhm_vm *vm, struct vhm_vcpu *vcpu)
{
	char name[24];
	struct file *file;
	int fd;

	lockdep_assert_held(&vm->lock);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	snprintf(name, sizeof(name), "vhm-vcpu:%u", vcpu->id);
	file = anon_inode_getfile(name, &vhm_vcpu_fops, vcpu, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	WRITE_ONCE(vm->vcpus[vcpu->id], vcpu);
	if (vcpu->id >= vm->vcpu_slots)
		WRITE_ONCE(vm->vcpu_slots, vcpu->id + 1);
	vm->nr_vcpus++;
	vhm_vm_get(vm);
	/* Last: from here on userspace sees the vCPU. */
	fd_install(fd, file);
	return fd;
}

long vhm_create_vcpu(struct vhm_vm *vm, unsigned long id)
{
	struct vhm_vcpu *vcpu;
	long r;

	if (id >= VHM_MAX_VCPUS)
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		r = -EEXIST;
		goto unlock;
	}
	r = vhm_limit_vcpu(vm);
	if (r)
		goto unlock;
	vcpu = vhm_vcpu_alloc(vm, id);
	if (!vcpu) {
		r = -ENOMEM;
		goto unlock;
	}
	r = vhm_vcpu_install(vm, vcpu);
	if (r < 0)
		vhm_vcpu_free(vcpu);
	else
		vm->vcpu_created = true;
unlock:
	mutex_unlock(&vm->lock);
	return r;
}
