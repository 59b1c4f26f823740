// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's XCR0: the XSAVE feature mask it sets with XSETBV. vhm keeps
 * it per vCPU, checks it like the CPU would (against what the guest's
 * CPUID offers and the host has enabled), and loads it for the time the
 * guest runs with CR4.OSXSAVE set; the host's XCR0 is back before
 * interrupts are enabled again. VHM_GET_XCRS / VHM_SET_XCRS save and
 * restore it.
 */
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/xstate.h>
#include <asm/special_insns.h>

#include "vhm.h"
#include "vm.h"
#include "xcr0.h"

#define VHM_XCR0_RESET		XFEATURE_MASK_FP

static u64 vhm_host_xcr0;

void vhm_xcr_init(void)
{
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		vhm_host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
}

bool vhm_xcr_supported(void)
{
	return vhm_host_xcr0;
}

void vhm_xcr_reset(struct vhm_vcpu *vcpu)
{
	vcpu->xcr0 = VHM_XCR0_RESET;
}

/*
 * What the guest may enable: its CPUID leaf 0xd, within the host's XCR0
 * and what its XSAVE image holds (fpu.c). Never PKRU: vhm does not offer
 * protection keys, and a guest XRSTOR of PKRU would set the VMM thread's
 * (the image leaves PKRU out).
 */
static u64 vhm_xcr0_allowed(struct vhm_vcpu *vcpu)
{
	u32 regs[4];

	vhm_cpuid(vcpu, 0xd, 0, regs);
	return (regs[0] | (u64)regs[3] << 32) & vhm_host_xcr0 &
	       vhm_fpu_features() & ~XFEATURE_MASK_PKRU;
}

/* The checks of XSETBV (Intel SDM vol. 2, XSETBV; AMD APM vol. 3). */
int vhm_set_xcr(struct vhm_vcpu *vcpu, u32 index, u64 value)
{
	if (!vhm_host_xcr0 || index != XCR_XFEATURE_ENABLED_MASK)
		return -EINVAL;
	if (!vhm_xcr0_valid(value, vhm_xcr0_allowed(vcpu)))
		return -EINVAL;
	vcpu->xcr0 = value;
	return 0;
}

/*
 * Interrupts off, just before entry: the guest's XCR0 if it uses XSAVE,
 * and a note of the host's PKRU, which the guest cannot reach unless a
 * CPU ignores the XSETBV intercept (vhm_xcr_put_guest()).
 */
void vhm_xcr_load_guest(struct vhm_vcpu *vcpu, bool osxsave)
{
	lockdep_assert_irqs_disabled();
	if (!vhm_host_xcr0)	/* no XSAVE in the host kernel: no XCR0 */
		return;
	if (!osxsave)
		return;
	if (cpu_feature_enabled(X86_FEATURE_OSPKE))
		vcpu->host_pkru = rdpkru();
	if (vcpu->xcr0 != vhm_host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vcpu->xcr0);
}

/*
 * Interrupts off, just after the exit: the host's XCR0 and PKRU back. XCR0
 * is read rather than assumed: a CPU that lets the guest's XSETBV through
 * despite the intercept (QEMU's TCG does) must not leave the host running
 * with the guest's XCR0. What the guest set that way becomes its XCR0 if
 * vhm would have accepted it; the guest may then also have loaded PKRU
 * with XRSTOR, so the host's is put back whenever it differs.
 */
void vhm_xcr_put_guest(struct vhm_vcpu *vcpu, bool osxsave)
{
	u64 xcr0;

	lockdep_assert_irqs_disabled();
	if (!osxsave || !vhm_host_xcr0)
		return;
	xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	if (xcr0 != vcpu->xcr0 &&
	    vhm_xcr0_valid(xcr0, vhm_xcr0_allowed(vcpu)))
		vcpu->xcr0 = xcr0;
	if (xcr0 != vhm_host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vhm_host_xcr0);
	if (cpu_feature_enabled(X86_FEATURE_OSPKE) &&
	    rdpkru() != vcpu->host_pkru)
		wrpkru(vcpu->host_pkru);
}

long vhm_vcpu_get_xcrs(struct vhm_vcpu *vcpu, struct vhm_xcrs __user *u)
{
	struct vhm_xcrs x = {};

	if (!vhm_host_xcr0)
		return -ENOTTY;
	x.nr_xcrs = 1;
	x.xcrs[0].xcr = XCR_XFEATURE_ENABLED_MASK;
	x.xcrs[0].value = vcpu->xcr0;
	return copy_to_user(u, &x, sizeof(x)) ? -EFAULT : 0;
}

long vhm_vcpu_set_xcrs(struct vhm_vcpu *vcpu, const struct vhm_xcrs __user *u)
{
	struct vhm_xcrs x;
	u64 old = vcpu->xcr0;
	u32 i;

	if (!vhm_host_xcr0)
		return -ENOTTY;
	if (copy_from_user(&x, u, sizeof(x)))
		return -EFAULT;
	if (x.flags || x.nr_xcrs > VHM_MAX_XCRS ||
	    memchr_inv(x.reserved, 0, sizeof(x.reserved)))
		return -EINVAL;
	for (i = 0; i < x.nr_xcrs; i++) {
		if (x.xcrs[i].reserved ||
		    vhm_set_xcr(vcpu, x.xcrs[i].xcr, x.xcrs[i].value)) {
			vcpu->xcr0 = old;	/* all or nothing */
			return -EINVAL;
		}
	}
	return 0;
}
