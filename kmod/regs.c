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

/*
 * The whole file (the MMIO and string I/O emulation take it on every such
 * exit): the registers the hardware holds read first where they are not
 * yet, then plain copies (struct vhm_regs lists the GPRs in its own order).
 */
void vhm_get_regs(struct vhm_vcpu *vcpu, struct vhm_regs *r)
{
	unsigned long missing = vhm_ops->hw_regs & ~vcpu->regs_avail;
	const u64 *g = vcpu->regs;
	unsigned int reg;

	BUILD_BUG_ON(sizeof(*r) != VHM_NR_REGS * sizeof(u64));
	for_each_set_bit(reg, &missing, VHM_NR_REGS)
		vhm_reg_read(vcpu, reg);
	r->rax = g[VHM_GPR_RAX];
	r->rbx = g[VHM_GPR_RBX];
	r->rcx = g[VHM_GPR_RCX];
	r->rdx = g[VHM_GPR_RDX];
	r->rsi = g[VHM_GPR_RSI];
	r->rdi = g[VHM_GPR_RDI];
	r->rsp = g[VHM_GPR_RSP];
	r->rbp = g[VHM_GPR_RBP];
	r->r8 = g[VHM_GPR_R8];
	r->r9 = g[VHM_GPR_R9];
	r->r10 = g[VHM_GPR_R10];
	r->r11 = g[VHM_GPR_R11];
	r->r12 = g[VHM_GPR_R12];
	r->r13 = g[VHM_GPR_R13];
	r->r14 = g[VHM_GPR_R14];
	r->r15 = g[VHM_GPR_R15];
	r->rip = g[VHM_REG_RIP];
	r->rflags = g[VHM_REG_RFLAGS];
}

/* The whole file, current; the hardware's copies written before entry. */
void vhm_set_regs(struct vhm_vcpu *vcpu, const struct vhm_regs *r)
{
	u64 *g = vcpu->regs;

	g[VHM_GPR_RAX] = r->rax;
	g[VHM_GPR_RBX] = r->rbx;
	g[VHM_GPR_RCX] = r->rcx;
	g[VHM_GPR_RDX] = r->rdx;
	g[VHM_GPR_RSI] = r->rsi;
	g[VHM_GPR_RDI] = r->rdi;
	g[VHM_GPR_RSP] = r->rsp;
	g[VHM_GPR_RBP] = r->rbp;
	g[VHM_GPR_R8] = r->r8;
	g[VHM_GPR_R9] = r->r9;
	g[VHM_GPR_R10] = r->r10;
	g[VHM_GPR_R11] = r->r11;
	g[VHM_GPR_R12] = r->r12;
	g[VHM_GPR_R13] = r->r13;
	g[VHM_GPR_R14] = r->r14;
	g[VHM_GPR_R15] = r->r15;
	g[VHM_REG_RIP] = r->rip;
	g[VHM_REG_RFLAGS] = (r->rflags & VHM_RFLAGS_VALID) | X86_EFLAGS_FIXED;
	vcpu->regs_avail = GENMASK(VHM_NR_REGS - 1, 0);
	vcpu->regs_dirty |= vhm_ops->hw_regs;
}
