// SPDX-License-Identifier: GPL-2.0
/*
 * Exit handlers both vendors share: the backends map their exit codes to
 * these (as KVM maps SVM_EXIT_CPUID and EXIT_REASON_CPUID to one handler)
 * and pass the instruction's length; what differs between SVM and VMX is
 * reached through the mechanism operations of vendor.h (GPRs, skipping the
 * instruction, queueing an exception, the CPL, CR4); registers come from
 * the register file (regs.h). Each handler returns 1
 * to enter the guest again or 0 with vcpu->run filled in for userspace;
 * vhm_complete_user_exit() finishes, before the next entry, what userspace
 * answered.
 */
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "lapic.h"
#include "mmu.h"
#include "regs.h"
#include "vhm.h"
#include "vm.h"

/* EDX:EAX, as RDMSR, WRMSR and XSETBV pass 64-bit values. */
static u64 vhm_edx_eax(struct vhm_vcpu *vcpu)
{
	return (u32)vhm_reg_read(vcpu, VHM_GPR_RAX) |
	       vhm_reg_read(vcpu, VHM_GPR_RDX) << 32;
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

/*
 * VHM_EXIT_FAIL_ENTRY: the hardware refused the entry; its reason (the
 * VMX exit reason or VMfail error, SVM's VMEXIT_INVALID) and the CPU.
 */
int vhm_exit_fail_entry(struct vhm_vcpu *vcpu, u64 hardware_reason)
{
	struct vhm_run *run = vcpu->run;

	run->fail_entry.hardware_reason = hardware_reason;
	run->fail_entry.cpu = vcpu->cpu;
	run->exit_reason = VHM_EXIT_FAIL_ENTRY;
	return 0;
}

/*
 * A machine check the guest's run caught (an #MC exit, or one during the
 * entry): the host's handler sees it, as if raised here.
 */
int vhm_exit_machine_check(struct vhm_vcpu *vcpu)
{
	asm volatile("int $0x12");
	return 1;
}

static int vhm_queue_gp(struct vhm_vcpu *vcpu)
{
	vhm_queue_exception(vcpu, X86_TRAP_GP, true, 0);
	return 1;
}

static int vhm_queue_ud(struct vhm_vcpu *vcpu)
{
	vhm_queue_exception(vcpu, X86_TRAP_UD, false, 0);
	return 1;
}

/* What ends a HLT at once, before looking at what blocks it. */
#define VHM_HLT_WAKERS	(VHM_EVENT_EXCEPTION | VHM_EVENT_INTERRUPT | \
			 VHM_EVENT_NMI_PENDING)

/*
 * HLT. With the in-kernel APIC and interrupts enabled, the vCPU thread
 * sleeps here until the APIC has an interrupt (a signal leaves RIP on the
 * HLT); without, userspace sees VHM_EXIT_HLT unless an event is pending.
 */
int vhm_exit_hlt(struct vhm_vcpu *vcpu, unsigned int len)
{
	bool lapic = vcpu->lapic && (vhm_rflags(vcpu) & X86_EFLAGS_IF);

	if (lapic && !(vcpu->events.flags & VHM_HLT_WAKERS) &&
	    vhm_lapic_halt(vcpu))
		return 1;
	vhm_ops->skip_insn(vcpu, len);
	if (lapic || vhm_event_wakes_hlt(vcpu))
		return 1;
	vcpu->run->exit_reason = VHM_EXIT_HLT;
	return 0;
}

/*
 * An instruction vhm emulated (MOV DR): done, or the exception it raises
 * queued. False when it could not be emulated: the caller reports that
 * with its exit's information.
 */
bool vhm_emul_done(struct vhm_vcpu *vcpu, enum vhm_emul e)
{
	switch (e) {
	case VHM_EMUL_DONE:
		return true;
	case VHM_EMUL_GP:
		vhm_queue_gp(vcpu);
		return true;
	case VHM_EMUL_UD:
		vhm_queue_ud(vcpu);
		return true;
	case VHM_EMUL_DB:
		vhm_queue_exception(vcpu, X86_TRAP_DB, false, 0);
		return true;
	default:
		return false;
	}
}

/*
 * Shutdown (a triple fault): the CPU stops, and the event whose delivery
 * failed is gone with it; a VMM that resets the vCPU and runs it again
 * must not get that exception injected into the new context (found by
 * the hostile-guest corpus).
 */
int vhm_exit_shutdown(struct vhm_vcpu *vcpu)
{
	memset(&vcpu->events, 0, sizeof(vcpu->events));
	vcpu->run->exit_reason = VHM_EXIT_SHUTDOWN;
	return 0;
}

/* CPUID: answered from the vCPU's table (cpuid.c). */
int vhm_exit_cpuid(struct vhm_vcpu *vcpu, unsigned int len)
{
	u32 regs[4];

	vhm_guest_cpuid(vcpu, vhm_reg_read(vcpu, VHM_GPR_RAX),
			vhm_reg_read(vcpu, VHM_GPR_RCX), vhm_ops->cr4(vcpu), regs);
	vhm_reg_write(vcpu, VHM_GPR_RAX, regs[0]);
	vhm_reg_write(vcpu, VHM_GPR_RBX, regs[1]);
	vhm_reg_write(vcpu, VHM_GPR_RCX, regs[2]);
	vhm_reg_write(vcpu, VHM_GPR_RDX, regs[3]);
	vhm_ops->skip_insn(vcpu, len);
	return 1;
}

/* XSETBV: #GP above CPL 0 or for a value the CPU would refuse (xcr.c). */
int vhm_exit_xsetbv(struct vhm_vcpu *vcpu, unsigned int len)
{
	if (vhm_ops->cpl(vcpu) ||
	    vhm_set_xcr(vcpu, vhm_reg_read(vcpu, VHM_GPR_RCX), vhm_edx_eax(vcpu)))
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
	run->hypercall.nr = vhm_reg_read(vcpu, VHM_GPR_RAX);
	for (i = 0; i < ARRAY_SIZE(args); i++)
		run->hypercall.args[i] = vhm_reg_read(vcpu, args[i]);
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
		vhm_reg_write(vcpu, VHM_GPR_RAX, (u32)data);
		vhm_reg_write(vcpu, VHM_GPR_RDX, data >> 32);
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
	u32 index = vhm_reg_read(vcpu, VHM_GPR_RCX);
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

/*
 * WRMSR from the fast exit tables: the x2APIC's EOI and fixed IPIs, an
 * IPI's round trip without the slow path's FPU switch and interrupt
 * toggles (vhm-bench's ipi row); anything else VHM_EXIT_SLOW.
 */
int vhm_exit_wrmsr_fast(struct vhm_vcpu *vcpu, unsigned int len)
{
	u32 index = vhm_reg_read(vcpu, VHM_GPR_RCX);

	if (!vhm_lapic_wrmsr_fast(vcpu, index, vhm_edx_eax(vcpu)))
		return VHM_EXIT_SLOW;
	vhm_msr_done(vcpu, VHM_MSR_DONE, true, 0, len);
	return 1;
}

/*
 * IN or OUT of one value (string I/O: pio.c): an exit to userspace with the
 * data in the run area; an IN's result goes to RAX before the next entry.
 */
int vhm_exit_pio(struct vhm_vcpu *vcpu, u16 port, u8 size, bool in,
		 unsigned int len)
{
	struct vhm_run *run = vcpu->run;
	u64 rax = vhm_reg_read(vcpu, VHM_GPR_RAX);
	u32 hits;

	run->io.direction = in ? VHM_IO_IN : VHM_IO_OUT;
	run->io.size = size;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = VHM_RUN_DATA_OFFSET;
	if (in)
		vcpu->pio_in_size = size;
	else
		memcpy((u8 *)run + VHM_RUN_DATA_OFFSET, &rax, size);
	/* An I/O breakpoint's #DB first: the skip's single step joins it. */
	hits = vhm_dr_io_hits(vcpu, port, size);
	if (hits)
		vhm_dr_trap(vcpu, hits);
	vhm_ops->skip_insn(vcpu, len);
	run->exit_reason = VHM_EXIT_IO;
	return 0;
}

/* The data userspace gave for an IN goes into AL, AX or EAX. */
static void vhm_complete_in(struct vhm_vcpu *vcpu)
{
	u64 rax = vhm_reg_read(vcpu, VHM_GPR_RAX);
	u32 val = 0;

	memcpy(&val, (u8 *)vcpu->run + VHM_RUN_DATA_OFFSET, vcpu->pio_in_size);
	if (vcpu->pio_in_size == 4)
		rax = val;	/* a 32-bit write clears the upper half */
	else if (vcpu->pio_in_size == 2)
		rax = (rax & ~0xffffULL) | (u16)val;
	else
		rax = (rax & ~0xffULL) | (u8)val;
	vhm_reg_write(vcpu, VHM_GPR_RAX, rax);
	vcpu->pio_in_size = 0;
}

/*
 * A nested page fault (NPF, EPT violation) at gpa: the memory manager
 * maps guest RAM (mmu.c); anything else is MMIO to emulate (mmio.c).
 * Delivering an event (IDT, GDT, stack) that touched memory with no RAM
 * behind it has no instruction to emulate: an internal error, the event
 * stays pending.
 */
int vhm_exit_nested_fault(struct vhm_vcpu *vcpu, u64 gpa, bool write,
			  bool delivering)
{
	struct vhm_run *run = vcpu->run;
	int r;

	r = vhm_mmu_fault(vcpu->vm, gpa, write);
	if (r != VHM_MMU_MMIO)
		return r < 0 ? r : 1;
	if (!delivering)
		return vhm_emulate_mmio(vcpu, gpa);
	run->internal.suberror = VHM_INTERNAL_DELIVERY;
	run->internal.ndata = 2;
	run->internal.data[0] = gpa;
	run->internal.data[1] = vhm_rip(vcpu);
	run->exit_reason = VHM_EXIT_INTERNAL_ERROR;
	return 0;
}

/* Before the next entry: what userspace answered for the last exit. */
void __vhm_complete_user_exit(struct vhm_vcpu *vcpu)
{
	u64 data = 0;
	enum vhm_msr_result r;

	if (vcpu->pio_in_size)
		vhm_complete_in(vcpu);
	if (vcpu->hypercall_pending) {
		vcpu->hypercall_pending = false;
		vhm_reg_write(vcpu, VHM_GPR_RAX, vcpu->run->hypercall.ret);
	}
	if (vcpu->msr_exit_pending) {
		r = vhm_complete_msr_exit(vcpu, &data);
		vhm_msr_done(vcpu, r, vcpu->msr_exit_write, data,
			     vcpu->msr_exit_len);
	}
	vhm_complete_mmio(vcpu);
	vhm_complete_pio_string(vcpu);
}
