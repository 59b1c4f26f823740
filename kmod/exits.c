// SPDX-License-Identifier: GPL-2.0
/*
 * Exit handlers both vendors share: the backends map their exit codes to
 * these (as KVM maps SVM_EXIT_CPUID and EXIT_REASON_CPUID to one handler)
 * and pass the instruction's length; what differs between SVM and VMX is
 * reached through the mechanism operations of vendor.h (GPRs, skipping the
 * instruction, queueing an exception, the CPL, CR4). Each handler returns 1
 * to enter the guest again or 0 with vcpu->run filled in for userspace;
 * vhm_complete_user_exit() finishes, before the next entry, what userspace
 * answered.
 */
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "vhm.h"
#include "vm.h"

static u64 vhm_gpr(struct vhm_vcpu *vcpu, enum vhm_gpr reg)
{
	return vhm_ops->gpr_read(vcpu, reg);
}

static void vhm_set_gpr(struct vhm_vcpu *vcpu, enum vhm_gpr reg, u64 val)
{
	vhm_ops->gpr_write(vcpu, reg, val);
}

/* EDX:EAX, as RDMSR, WRMSR and XSETBV pass 64-bit values. */
static u64 vhm_edx_eax(struct vhm_vcpu *vcpu)
{
	return (u32)vhm_gpr(vcpu, VHM_GPR_RAX) |
	       vhm_gpr(vcpu, VHM_GPR_RDX) << 32;
}

/*
 * VHM_EXIT_INTERNAL_ERROR with the exit's own description: its code, two
 * words of information and the guest's RIP (docs/API.md).
 */
int vhm_exit_internal_error(struct vhm_vcpu *vcpu, u32 suberror, u64 code,
			    u64 info1, u64 info2, u64 rip)
{
	struct vhm_run *run = vcpu->run;

	run->internal.suberror = suberror;
	run->internal.ndata = 4;
	run->internal.data[0] = code;
	run->internal.data[1] = info1;
	run->internal.data[2] = info2;
	run->internal.data[3] = rip;
	run->exit_reason = VHM_EXIT_INTERNAL_ERROR;
	return 0;
}

static int vhm_queue_gp(struct vhm_vcpu *vcpu)
{
	vhm_ops->queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
}

static int vhm_queue_ud(struct vhm_vcpu *vcpu)
{
	vhm_ops->queue_exception(vcpu, X86_TRAP_UD, false, 0);
	return 1;
}

/* CPUID: answered from the vCPU's table (cpuid.c). */
int vhm_exit_cpuid(struct vhm_vcpu *vcpu, unsigned int len)
{
	u32 regs[4];

	vhm_guest_cpuid(vcpu, vhm_gpr(vcpu, VHM_GPR_RAX),
			vhm_gpr(vcpu, VHM_GPR_RCX), vhm_ops->cr4(vcpu), regs);
	vhm_set_gpr(vcpu, VHM_GPR_RAX, regs[0]);
	vhm_set_gpr(vcpu, VHM_GPR_RBX, regs[1]);
	vhm_set_gpr(vcpu, VHM_GPR_RCX, regs[2]);
	vhm_set_gpr(vcpu, VHM_GPR_RDX, regs[3]);
	vhm_ops->skip_insn(vcpu, len);
	return 1;
}

/* XSETBV: #GP above CPL 0 or for a value the CPU would refuse (xcr.c). */
int vhm_exit_xsetbv(struct vhm_vcpu *vcpu, unsigned int len)
{
	if (vhm_ops->cpl(vcpu) ||
	    vhm_set_xcr(vcpu, vhm_gpr(vcpu, VHM_GPR_RCX), vhm_edx_eax(vcpu)))
		return vhm_queue_gp(vcpu);
	vhm_ops->skip_insn(vcpu, len);
	return 1;
}

/*
 * RDPMC: vhm gives the guest no performance counters (CPUID leaf 0xa is
 * zero), so every counter index is one the CPU does not have: #GP.
 */
int vhm_exit_rdpmc(struct vhm_vcpu *vcpu)
{
	return vhm_queue_gp(vcpu);
}

/*
 * VMCALL/VMMCALL: the hypercall ABI (docs/HYPERCALLS.md). Number in RAX,
 * arguments in RDI, RSI, RDX, R10, R8, R9; userspace's result goes to RAX
 * (vhm_complete_user_exit()). Refused with #UD above CPL 0: guest user
 * mode never reaches the VMM.
 */
int vhm_exit_hypercall(struct vhm_vcpu *vcpu, unsigned int len)
{
	static const enum vhm_gpr args[] = {
		VHM_GPR_RDI, VHM_GPR_RSI, VHM_GPR_RDX,
		VHM_GPR_R10, VHM_GPR_R8, VHM_GPR_R9,
	};
	unsigned int cpl = vhm_ops->cpl(vcpu), i;
	struct vhm_run *run = vcpu->run;

	if (cpl)
		return vhm_queue_ud(vcpu);
	run->hypercall.nr = vhm_gpr(vcpu, VHM_GPR_RAX);
	for (i = 0; i < ARRAY_SIZE(args); i++)
		run->hypercall.args[i] = vhm_gpr(vcpu, args[i]);
	run->hypercall.ret = 0;
	run->hypercall.cpl = cpl;
	memset(run->hypercall.padding, 0, sizeof(run->hypercall.padding));
	vcpu->hypercall_pending = true;
	vhm_ops->skip_insn(vcpu, len);
	run->exit_reason = VHM_EXIT_HYPERCALL;
	return 0;
}

/* The end of an RDMSR/WRMSR: #GP, or the result in EDX:EAX and skip. */
static void vhm_msr_done(struct vhm_vcpu *vcpu, enum vhm_msr_result r,
			 bool write, u64 data, unsigned int len)
{
	if (r == VHM_MSR_GP) {
		vhm_queue_gp(vcpu);
		return;
	}
	if (!write) {
		vhm_set_gpr(vcpu, VHM_GPR_RAX, (u32)data);
		vhm_set_gpr(vcpu, VHM_GPR_RDX, data >> 32);
	}
	vhm_ops->skip_insn(vcpu, len);
}

/*
 * RDMSR/WRMSR that exit: #GP for what vhm lacks, or an exit to userspace
 * if the VMM asked for them (VHM_CAP_MSR_EXITS); the instruction then
 * completes before the next entry.
 */
int vhm_exit_msr(struct vhm_vcpu *vcpu, bool write, unsigned int len)
{
	u32 index = vhm_gpr(vcpu, VHM_GPR_RCX);
	enum vhm_msr_result r;
	u64 data = 0;

	if (write) {
		data = vhm_edx_eax(vcpu);
		r = vhm_guest_wrmsr(vcpu, index, data);
	} else {
		r = vhm_guest_rdmsr(vcpu, index, &data);
	}
	if (r == VHM_MSR_USER) {
		vcpu->msr_exit_len = len;
		return 0;
	}
	vhm_msr_done(vcpu, r, write, data, len);
	return 1;
}

/* Before the next entry: what userspace answered for the last exit. */
void vhm_complete_user_exit(struct vhm_vcpu *vcpu)
{
	u64 data = 0;
	enum vhm_msr_result r;

	if (vcpu->hypercall_pending) {
		vcpu->hypercall_pending = false;
		vhm_set_gpr(vcpu, VHM_GPR_RAX, vcpu->run->hypercall.ret);
	}
	if (vcpu->msr_exit_pending) {
		r = vhm_complete_msr_exit(vcpu, &data);
		vhm_msr_done(vcpu, r, vcpu->msr_exit_write, data,
			     vcpu->msr_exit_len);
	}
	vhm_complete_mmio(vcpu);
	vhm_complete_pio_string(vcpu);
}
