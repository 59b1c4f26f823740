// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's writes to control registers vhm intercepts: MOV to CR4. With
 * nested paging CR0 and CR3 need no intercept, but CR4 does: the guest may
 * only turn on what its CPUID offers (a bit for a hidden feature, or one
 * no CPU has, is a #GP as on real hardware), and vhm must see OSXSAVE
 * change to switch XCR0 (xcr.c). The instruction is fetched and decoded
 * here, as neither decode assists nor NRIP save are assumed.
 */
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "regs.h"
#include "vhm.h"
#include "vm.h"

/* CR4 bits a guest may set, each if its CPUID leaf/register/bit says so. */
static const struct {
	u64 cr4;
	u32 function;
	u8 reg;		/* 1 EBX, 2 ECX, 3 EDX */
	u8 bit;
} vhm_cr4_features[] = {
	{ X86_CR4_VME, 1, 3, 1 },
	{ X86_CR4_PVI, 1, 3, 1 },
	{ X86_CR4_DE, 1, 3, 2 },
	{ X86_CR4_PSE, 1, 3, 3 },
	{ X86_CR4_PAE, 1, 3, 6 },
	{ X86_CR4_MCE, 1, 3, 7 },
	{ X86_CR4_PGE, 1, 3, 13 },
	{ X86_CR4_OSFXSR, 1, 3, 24 },
	{ X86_CR4_OSXMMEXCPT, 1, 3, 25 },
	{ X86_CR4_PCIDE, 1, 2, 17 },
	{ X86_CR4_OSXSAVE, 1, 2, 26 },
	{ X86_CR4_FSGSBASE, 7, 1, 0 },
	{ X86_CR4_SMEP, 7, 1, 7 },
	{ X86_CR4_SMAP, 7, 1, 20 },
};

/* Always allowed: time-stamp disable, performance counters at CPL 3. */
#define VHM_CR4_ALWAYS	(X86_CR4_TSD | X86_CR4_PCE)

static u64 vhm_cr4_allowed(struct vhm_vcpu *vcpu)
{
	u64 allowed = VHM_CR4_ALWAYS;
	unsigned int i;
	u32 regs[4];

	for (i = 0; i < ARRAY_SIZE(vhm_cr4_features); i++) {
		vhm_cpuid(vcpu, vhm_cr4_features[i].function, 0, regs);
		if (regs[vhm_cr4_features[i].reg] &
		    BIT(vhm_cr4_features[i].bit))
			allowed |= vhm_cr4_features[i].cr4;
	}
	/* A host kernel running without XSAVE has no XCR0 to give a guest. */
	if (!vhm_xcr_supported())
		allowed &= ~X86_CR4_OSXSAVE;
	return allowed;
}

int vhm_check_guest_cr4(struct vhm_vcpu *vcpu, u64 old, u64 cr4, u64 efer,
			u64 cr3)
{
	bool lma = efer & EFER_LMA;

	if (cr4 & ~vhm_cr4_allowed(vcpu))
		return -EINVAL;
	if (lma && !(cr4 & X86_CR4_PAE))
		return -EINVAL;
	if ((cr4 & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE) &&
	    (!lma || (cr3 & 0xfff)))
		return -EINVAL;
	return 0;
}

u64 *vhm_regs_gpr(struct vhm_regs *r, unsigned int n)
{
	u64 *gprs[] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi,
		&r->rdi, &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13,
		&r->r14, &r->r15,
	};

	return gprs[n & 15];
}

int vhm_fetch_mov_cr(struct vhm_vcpu *vcpu, struct vhm_mov_cr *m,
		     struct vhm_regs *r, enum vhm_cpu_mode *mode)
{
	u8 bytes[VHM_INSN_MAX_LEN] = { 0 };
	struct vhm_sregs s;
	unsigned int n;

	vhm_get_regs(vcpu, r);
	vhm_ops->get_sregs(vcpu, &s);
	*mode = vhm_guest_mode(&s, r);
	n = vhm_fetch_insn(vcpu, &s, r, bytes, sizeof(bytes));
	return vhm_decode_mov_cr(bytes, n, *mode, m);
}

int vhm_decode_cr_write(struct vhm_vcpu *vcpu, unsigned int cr, u64 *value,
			unsigned int *len)
{
	enum vhm_cpu_mode mode;
	struct vhm_mov_cr m;
	struct vhm_regs r;

	if (vhm_fetch_mov_cr(vcpu, &m, &r, &mode) || !m.write || m.debug ||
	    m.cr != cr)
		return -EINVAL;
	*value = *vhm_regs_gpr(&r, m.gpr);
	if (mode != VHM_MODE_LONG64)
		*value = (u32)*value;
	*len = m.len;
	return 0;
}
