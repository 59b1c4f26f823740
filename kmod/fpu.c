// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's FPU/SSE/AVX state, kept by the kernel's FPU core the way it
 * keeps KVM's: the guest state is swapped into the registers for the whole
 * of VHM_RUN (preemption saves and restores it like any task state) and
 * swapped out before returning to userspace. XCR0 stays the host's.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/fpu/xcr.h>

#include "vhm.h"
#include "vm.h"

int vhm_fpu_init(struct vhm_vcpu *vcpu)
{
	return fpu_alloc_guest_fpstate(&vcpu->guest_fpu) ? 0 : -ENOMEM;
}

void vhm_fpu_free(struct vhm_vcpu *vcpu)
{
	fpu_free_guest_fpstate(&vcpu->guest_fpu);
}

void vhm_fpu_load_guest(struct vhm_vcpu *vcpu)
{
	fpu_swap_kvm_fpstate(&vcpu->guest_fpu, true);
}

void vhm_fpu_put_guest(struct vhm_vcpu *vcpu)
{
	fpu_swap_kvm_fpstate(&vcpu->guest_fpu, false);
}

/*
 * Preemption off, before each entry: if the thread was preempted since
 * VHM_RUN loaded the guest state, the registers hold someone else's state
 * until the return to userspace would reload them; reload them now.
 */
void vhm_fpu_prepare_entry(void)
{
	lockdep_assert_preemption_disabled();
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
}

/*
 * The features the UABI buffer covers: the host's XCR0. A kernel that
 * turned XSAVE off (CR4.OSXSAVE clear) has no XCR0 to read: XGETBV would
 * be #UD, and the state is x87 and SSE only.
 */
static u64 vhm_fpu_uabi_features(void)
{
	return vhm_xcr_supported() ? xgetbv(XCR_XFEATURE_ENABLED_MASK) :
				     XFEATURE_MASK_FPSSE;
}

long vhm_vcpu_get_xsave(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_xsave *x;
	long r = 0;

	x = kzalloc(sizeof(*x), GFP_KERNEL_ACCOUNT);
	if (!x)
		return -ENOMEM;
	fpu_copy_guest_fpstate_to_uabi(&vcpu->guest_fpu, x->region,
				       sizeof(x->region),
				       vhm_fpu_uabi_features(), 0);
	if (copy_to_user(argp, x, sizeof(*x)))
		r = -EFAULT;
	kfree(x);
	return r;
}

/*
 * The XSAVE header (after the 512-byte legacy area) of the standard
 * format: only features the buffer covers, no compaction, reserved bytes
 * zero. Checked here because a kernel without XSAVE ignores the header.
 */
static bool vhm_xsave_header_valid(const struct vhm_xsave *x)
{
	const u64 *h = (const u64 *)((const u8 *)x->region + 512);

	return !(h[0] & ~vhm_fpu_uabi_features()) && !h[1] &&
	       !memchr_inv(&h[2], 0, 6 * sizeof(u64));
}

long vhm_vcpu_set_xsave(struct vhm_vcpu *vcpu, const void __user *argp)
{
	struct vhm_xsave *x;
	u32 pkru = 0;
	long r = -EINVAL;

	x = memdup_user(argp, sizeof(*x));
	if (IS_ERR(x))
		return PTR_ERR(x);
	/* The kernel also checks MXCSR and each feature's state. */
	if (vhm_xsave_header_valid(x))
		r = fpu_copy_uabi_to_guest_fpstate(&vcpu->guest_fpu, x->region,
						   vhm_fpu_uabi_features(),
						   &pkru);
	kfree(x);
	return r;
}
