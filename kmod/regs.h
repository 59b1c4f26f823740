/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's register file, the same on both vendors (KVM's regs_avail and
 * regs_dirty idea). vcpu->regs[] holds the 16 GPRs in ModRM order (enum
 * vhm_gpr), RIP and RFLAGS. The GPRs the hardware does not switch live only
 * there: the entry code loads and stores them. The others, which the VMCB
 * or VMCS holds (vhm_ops->hw_regs), are read from it on first use after an
 * exit (regs_avail) and written back before the next entry once changed
 * (regs_dirty). Vendor code reaches those four through these helpers too,
 * so the two copies never disagree. Only the vCPU's own thread uses them.
 */
#ifndef VHM_REGS_H
#define VHM_REGS_H

#include <linux/bitops.h>

#include "vhm.h"
#include "vm.h"

enum vhm_reg {
	VHM_REG_RIP = 16,	/* after the 16 of enum vhm_gpr */
	VHM_REG_RFLAGS,
};

/* RFLAGS bits a guest can hold: not VM, VIF, VIP (the rest is reserved). */
#define VHM_RFLAGS_VALID	0x3f7fd5ULL

static inline u64 vhm_reg_read(struct vhm_vcpu *vcpu, unsigned int reg)
{
	if (!test_bit(reg, &vcpu->regs_avail)) {
		vcpu->regs[reg] = vhm_ops->read_reg(vcpu, reg);
		__set_bit(reg, &vcpu->regs_avail);
	}
	return vcpu->regs[reg];
}

static inline void vhm_reg_write(struct vhm_vcpu *vcpu, unsigned int reg,
				 u64 val)
{
	vcpu->regs[reg] = val;
	__set_bit(reg, &vcpu->regs_avail);
	if (vhm_ops->hw_regs & BIT(reg))
		__set_bit(reg, &vcpu->regs_dirty);
}

static inline u64 vhm_rip(struct vhm_vcpu *vcpu)
{
	return vhm_reg_read(vcpu, VHM_REG_RIP);
}

static inline u64 vhm_rflags(struct vhm_vcpu *vcpu)
{
	return vhm_reg_read(vcpu, VHM_REG_RFLAGS);
}

/*
 * Vendor code that read or wrote the hardware's copy itself (after an
 * exit, or skipping an instruction): the file holds the same value.
 */
static inline void vhm_reg_synced(struct vhm_vcpu *vcpu, unsigned int reg,
				  u64 val)
{
	vcpu->regs[reg] = val;
	__set_bit(reg, &vcpu->regs_avail);
	__clear_bit(reg, &vcpu->regs_dirty);
}

/* regs.c */
void vhm_regs_reset(struct vhm_vcpu *vcpu);
void __vhm_regs_flush(struct vhm_vcpu *vcpu);
void vhm_regs_exited(struct vhm_vcpu *vcpu);

/* Before an entry, interrupts off: what changed goes to the VMCB/VMCS. */
static inline void vhm_regs_flush(struct vhm_vcpu *vcpu)
{
	if (vcpu->regs_dirty)
		__vhm_regs_flush(vcpu);
}
void vhm_get_regs(struct vhm_vcpu *vcpu, struct vhm_regs *r);
void vhm_set_regs(struct vhm_vcpu *vcpu, const struct vhm_regs *r);

#endif /* VHM_REGS_H */
