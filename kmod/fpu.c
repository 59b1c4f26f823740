// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's x87/SSE/AVX state: an XSAVE image of vhm's own per vCPU, in
 * the standard (non-compacted) format, which is also the VHM_GET/SET_XSAVE
 * format. The guest's state is in the registers only around one world
 * switch: interrupts off, kernel_fpu_begin_mask() (it saves the VMM
 * thread's registers once per VHM_RUN and has the return to userspace
 * restore them), XRSTOR of the image, the entry, XSAVE after the exit,
 * kernel_fpu_end(). Preemption, signals and the kernel's own FPU users
 * never see the guest's registers. Only GPL exports any module may use,
 * on every kernel of the matrix (the guest-fpstate helpers are KVM's
 * only on 7.x).
 *
 * What the image holds (vhm_fpu_features): the host's XCR0 without PKRU
 * (not offered to guests; the VMM thread's PKRU stays loaded, xcr.c) and
 * without dynamic, XFD-capable features such as AMX tile data (the guest
 * cannot enable them: cpuid.c, xcr.c). XSAVE and XRSTOR run with the
 * host's XCR0 loaded, which holds all the guest may enable. A host kernel
 * without XSAVE gets FXSAVE/FXRSTOR of the legacy area.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/asm.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/xstate.h>

#include "compat.h"
#include "vhm.h"
#include "vm.h"
#include "xcr0.h"

/* The standard format: the legacy area, then the 64-byte header. */
#define VHM_FPU_LEGACY_SIZE	512
#define VHM_FPU_HEADER_SIZE	64
#define VHM_FPU_FCW_INIT	0x37f
#define VHM_FPU_MXCSR_INIT	0x1f80
#define VHM_FPU_MXCSR_MASK_DEF	0xffbf	/* FXSAVE's mask reads 0 */
/* CPUID.(EAX=0xd, ECX=i): ECX bit 2, the feature can be armed in XFD. */
#define VHM_CPUID_XSTATE_XFD	BIT(2)
#define VHM_XCR0_MPX		(VHM_XCR0_BNDREGS | VHM_XCR0_BNDCSR)

struct vhm_fpu_legacy {
	u16 fcw, fsw;
	u8 ftw, reserved;
	u16 fop;
	u64 fip, fdp;
	u32 mxcsr, mxcsr_mask;
	u8 st[8][16];
	u8 xmm[16][16];
	u8 available[96];
} __packed;

struct vhm_fpu_header {
	u64 xstate_bv;
	u64 xcomp_bv;
	u64 reserved[6];
} __packed;

struct vhm_fpu_image {
	union {
		u8 bytes[VHM_FPU_IMAGE_SIZE];
		struct {
			struct vhm_fpu_legacy legacy;
			struct vhm_fpu_header header;
		};
	};
} __aligned(64);

static u64 vhm_fpu_mask __ro_after_init;
static u32 vhm_mxcsr_mask __ro_after_init;
/* Where XSAVE puts feature i >= 2 of vhm_fpu_mask (CPUID leaf 0xd). */
static u16 vhm_fpu_offset[64] __ro_after_init;
static u16 vhm_fpu_size[64] __ro_after_init;

static bool vhm_fpu_xsave(void)
{
	return vhm_xcr_supported();
}

u64 vhm_fpu_features(void)
{
	return vhm_fpu_mask;
}

/* The features above SSE the image can hold: fixed, user, in 4 KiB. */
static u64 vhm_fpu_setup_extended(u64 host)
{
	u64 mask = 0;
	u32 eax, ebx, ecx, edx;
	unsigned int i;

	for (i = 2; i < 64; i++) {
		if (!(host & BIT_ULL(i)))
			continue;
		cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx);
		if ((ecx & VHM_CPUID_XSTATE_XFD) ||
		    ebx < VHM_FPU_LEGACY_SIZE + VHM_FPU_HEADER_SIZE ||
		    ebx + eax > VHM_FPU_IMAGE_SIZE)
			continue;
		vhm_fpu_offset[i] = ebx;
		vhm_fpu_size[i] = eax;
		mask |= BIT_ULL(i);
	}
	return mask;
}

/*
 * At load: the features the image holds and the MXCSR bits the CPU
 * accepts (the kernel's own mask is not exported on 7.x). A feature left
 * out takes its dependents with it (xcr0.h's rules: AVX-512 needs AVX, its
 * three bits and MPX's two go together).
 */
void vhm_fpu_setup(void)
{
	struct fxregs_state *fx;
	u64 host, mask;

	vhm_mxcsr_mask = VHM_FPU_MXCSR_MASK_DEF;
	fx = kzalloc(sizeof(*fx), GFP_KERNEL);
	if (fx) {
		kernel_fpu_begin_mask(0);
		asm volatile("fxsave64 %0" : "=m" (*fx));
		kernel_fpu_end();
		if (fx->mxcsr_mask)
			vhm_mxcsr_mask = fx->mxcsr_mask;
		kfree(fx);
	}
	if (!vhm_fpu_xsave()) {
		vhm_fpu_mask = XFEATURE_MASK_FPSSE;
		return;
	}
	host = xgetbv(XCR_XFEATURE_ENABLED_MASK) &
	       ~(VHM_XCR0_PKRU | VHM_XCR0_XTILE);
	mask = XFEATURE_MASK_FPSSE | vhm_fpu_setup_extended(host);
	if (!(mask & VHM_XCR0_YMM))
		mask &= ~VHM_XCR0_AVX512;
	if ((mask & VHM_XCR0_AVX512) != VHM_XCR0_AVX512)
		mask &= ~VHM_XCR0_AVX512;
	if ((mask & VHM_XCR0_MPX) != VHM_XCR0_MPX)
		mask &= ~VHM_XCR0_MPX;
	vhm_fpu_mask = mask;
}

/*
 * Components whose XSTATE_BV bit is clear get their initial values, as
 * XRSTOR would load them, so that the image reads the same as the
 * registers would. Without XSAVE the whole legacy area is always loaded.
 */
static void vhm_fpu_normalize(struct vhm_fpu_image *img)
{
	struct vhm_fpu_legacy *l = &img->legacy;
	u64 bv = img->header.xstate_bv;
	unsigned int i;

	if (!vhm_fpu_xsave()) {
		img->header.xstate_bv = XFEATURE_MASK_FPSSE;
		return;
	}
	if (!(bv & XFEATURE_MASK_FP)) {
		l->fcw = VHM_FPU_FCW_INIT;
		l->fsw = 0;
		l->ftw = 0;
		l->fop = 0;
		l->fip = 0;
		l->fdp = 0;
		memset(l->st, 0, sizeof(l->st));
	}
	if (!(bv & XFEATURE_MASK_SSE))
		memset(l->xmm, 0, sizeof(l->xmm));
	for (i = 2; i < 64; i++)
		if ((vhm_fpu_mask & ~bv) & BIT_ULL(i))
			memset(&img->bytes[vhm_fpu_offset[i]], 0,
			       vhm_fpu_size[i]);
}

/* The architectural initial state (RESET): FCW 0x37f, MXCSR 0x1f80. */
static void vhm_fpu_reset(struct vhm_fpu_image *img)
{
	memset(img, 0, sizeof(*img));
	img->legacy.fcw = VHM_FPU_FCW_INIT;
	img->legacy.mxcsr = VHM_FPU_MXCSR_INIT;
	img->legacy.mxcsr_mask = vhm_mxcsr_mask;
	vhm_fpu_normalize(img);
}

int vhm_fpu_init(struct vhm_vcpu *vcpu)
{
	BUILD_BUG_ON(sizeof(struct vhm_fpu_image) != sizeof(struct vhm_xsave));
	BUILD_BUG_ON(sizeof(struct vhm_fpu_legacy) != VHM_FPU_LEGACY_SIZE);
	/* A power-of-two kmalloc is aligned to its size: 64 is enough. */
	vcpu->fpu = kmalloc(sizeof(*vcpu->fpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu->fpu)
		return -ENOMEM;
	vhm_fpu_reset(vcpu->fpu);
	return 0;
}

void vhm_fpu_free(struct vhm_vcpu *vcpu)
{
	kfree(vcpu->fpu);
	vcpu->fpu = NULL;
}

/* 1 if the CPU refused the image (#GP), else 0. */
static int vhm_fpu_restore(const struct vhm_fpu_image *img)
{
	u32 lo = vhm_fpu_mask, hi = vhm_fpu_mask >> 32;
	int fault = 1;

	if (vhm_fpu_xsave())
		asm volatile("1: xrstor64 %[img]\n\t"
			     "xor %[fault], %[fault]\n"
			     "2:\n"
			     _ASM_EXTABLE(1b, 2b)
			     : [fault] "+r" (fault)
			     : [img] "m" (*img), "a" (lo), "d" (hi)
			     : "memory");
	else
		asm volatile("1: fxrstor64 %[img]\n\t"
			     "xor %[fault], %[fault]\n"
			     "2:\n"
			     _ASM_EXTABLE(1b, 2b)
			     : [fault] "+r" (fault)
			     : [img] "m" (*img)
			     : "memory");
	return fault;
}

static void vhm_fpu_save(struct vhm_fpu_image *img)
{
	u32 lo = vhm_fpu_mask, hi = vhm_fpu_mask >> 32;

	if (vhm_fpu_xsave())
		asm volatile("xsave64 %[img]"
			     : [img] "+m" (*img) : "a" (lo), "d" (hi)
			     : "memory");
	else
		asm volatile("fxsave64 %[img]" : [img] "+m" (*img) : : "memory");
}

/*
 * Interrupts off, before the vendor's entry (which loads the guest's XCR0
 * afterwards): the VMM thread's registers saved once per VHM_RUN by the
 * kernel, then the guest's loaded. vhm_fpu_set() checks every image the
 * CPU could refuse; should it refuse one anyway, the guest gets the
 * initial state rather than the host a #GP.
 */
void vhm_fpu_enter(struct vhm_vcpu *vcpu)
{
	lockdep_assert_irqs_disabled();
	kernel_fpu_begin_mask(0);
	if (unlikely(vhm_fpu_restore(vcpu->fpu))) {
		WARN_ONCE(1, "vhm: the CPU refused a guest's FPU state\n");
		vhm_fpu_reset(vcpu->fpu);
		vhm_fpu_restore(vcpu->fpu);
	}
}

/* Interrupts off, after the exit (the host's XCR0 back): the guest's saved. */
void vhm_fpu_exit(struct vhm_vcpu *vcpu)
{
	lockdep_assert_irqs_disabled();
	vhm_fpu_save(vcpu->fpu);
	kernel_fpu_end();
}

long vhm_vcpu_get_xsave(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_fpu_image *img;
	long r = 0;

	img = kmalloc(sizeof(*img), GFP_KERNEL_ACCOUNT);
	if (!img)
		return -ENOMEM;
	memcpy(img, vcpu->fpu, sizeof(*img));
	vhm_fpu_normalize(img);
	if (copy_to_user(argp, img, sizeof(*img)))
		r = -EFAULT;
	kfree(img);
	return r;
}

/*
 * The features a VHM_SET_XSAVE buffer may mark present: the host's XCR0
 * (what VHM_GET_XSAVE returned before vhm kept its own image). Those the
 * image does not hold (PKRU) are accepted and dropped. A kernel that
 * turned XSAVE off has no XCR0 to read: x87 and SSE only.
 */
static u64 vhm_fpu_uabi_features(void)
{
	return vhm_fpu_xsave() ? xgetbv(XCR_XFEATURE_ENABLED_MASK) :
				 XFEATURE_MASK_FPSSE;
}

/*
 * What XRSTOR would refuse, with #GP in the host (Intel SDM vol. 1,
 * 13.8): in the header, features the buffer does not cover, compaction,
 * reserved bytes; MXCSR's reserved bits.
 */
static bool vhm_fpu_image_valid(const struct vhm_fpu_image *img)
{
	const struct vhm_fpu_header *h = &img->header;

	return !(h->xstate_bv & ~vhm_fpu_uabi_features()) && !h->xcomp_bv &&
	       !memchr_inv(h->reserved, 0, sizeof(h->reserved)) &&
	       !(img->legacy.mxcsr & ~vhm_mxcsr_mask);
}

long vhm_vcpu_set_xsave(struct vhm_vcpu *vcpu, const void __user *argp)
{
	struct vhm_fpu_image *img;
	long r = -EINVAL;

	img = memdup_user(argp, sizeof(*img));
	if (IS_ERR(img))
		return PTR_ERR(img);
	if (!vhm_fpu_image_valid(img))
		goto free;
	img->header.xstate_bv &= vhm_fpu_mask;
	img->legacy.mxcsr_mask = vhm_mxcsr_mask;
	vhm_fpu_normalize(img);
	memcpy(vcpu->fpu, img, sizeof(*img));
	r = 0;
free:
	kfree(img);
	return r;
}
