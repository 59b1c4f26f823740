// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's register file (regs.h): filling and writing back the
 * registers the VMCB or VMCS holds, and VHM_GET/SET_REGS.
 */
#include <asm/processor-flags.h>

#include "compat.h"
#include "emulate.h"
#include "regs.h"

/*
 * A new vCPU: RESET leaves the processor signature in EDX; the registers
 * the vendor holds come from its reset state on first use.
 */
void vhm_regs_reset(struct vhm_vcpu *vcpu)
{
	memset(vcpu->regs, 0, sizeof(vcpu->regs));
	vcpu->regs[VHM_GPR_RDX] = cpuid_eax(1);
	vcpu->regs_avail = ~vhm_ops->hw_regs;
	vcpu->regs_dirty = 0;
}

void __vhm_regs_flush(struct vhm_vcpu *vcpu)
{
	unsigned int reg;

	for_each_set_bit(reg, &vcpu->regs_dirty, VHM_NR_REGS)
		vhm_ops->write_reg(vcpu, reg, vcpu->regs[reg]);
	vcpu->regs_dirty = 0;
}

/*
 * After an exit (the vendors' enter), interrupts off: the hardware's
 * copies are the newer ones.
 */
void vhm_regs_exited(struct vhm_vcpu *vcpu)
{
	WARN_ON_ONCE(vcpu->regs_dirty);
	vcpu->regs_avail = ~vhm_ops->hw_regs;
}

/* struct vhm_regs lists the GPRs in its own order. */
static const u8 vhm_regs_order[] = {
	VHM_GPR_RAX, VHM_GPR_RBX, VHM_GPR_RCX, VHM_GPR_RDX,
	VHM_GPR_RSI, VHM_GPR_RDI, VHM_GPR_RSP, VHM_GPR_RBP,
	VHM_GPR_R8, VHM_GPR_R9, VHM_GPR_R10, VHM_GPR_R11,
	VHM_GPR_R12, VHM_GPR_R13, VHM_GPR_R14, VHM_GPR_R15,
	VHM_REG_RIP, VHM_REG_RFLAGS,
};

void vhm_get_regs(struct vhm_vcpu *vcpu, struct vhm_regs *r)
{
	u64 *out = &r->rax;
	unsigned int i;

	BUILD_BUG_ON(sizeof(*r) != sizeof(vhm_regs_order) * sizeof(u64));
	for (i = 0; i < ARRAY_SIZE(vhm_regs_order); i++)
		out[i] = vhm_reg_read(vcpu, vhm_regs_order[i]);
}

void vhm_set_regs(struct vhm_vcpu *vcpu, const struct vhm_regs *r)
{
	const u64 *in = &r->rax;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vhm_regs_order); i++)
		vhm_reg_write(vcpu, vhm_regs_order[i], in[i]);
	vhm_reg_write(vcpu, VHM_REG_RFLAGS,
		      (r->rflags & VHM_RFLAGS_VALID) | X86_EFLAGS_FIXED);
}
