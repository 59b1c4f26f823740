// SPDX-License-Identifier: GPL-2.0
/*
 * SVM: entering the guest and handling its exits. Exit handlers are indexed
 * by exit code; each returns 1 to enter again, 0 to go to userspace with
 * vcpu->run filled in, or -errno.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/kernel.h>
#include <linux/preempt.h>
#include <asm/processor.h>
#include <asm/traps.h>
#include <uapi/asm/svm.h>

#include "compat.h"
#include "lapic.h"
#include "svm.h"
#include "vhm.h"

#define SVM_INSN_LEN_HLT	1
#define SVM_INSN_LEN_CPUID	2
#define SVM_INSN_LEN_VMMCALL	3
#define SVM_INSN_LEN_XSETBV	3
#define SVM_INSN_LEN_MSR	2
#define SVM_INSN_LEN_WBINVD	2	/* 0f 09, after any prefixes */
#define SVM_IOIO_PORT(info)	((info) >> 16)
#define SVM_NPF_WRITE		BIT_ULL(1)	/* EXITINFO1 of a nested page fault */
#define SVM_HLT_WAKERS		(VHM_EVENT_EXCEPTION | VHM_EVENT_INTERRUPT | \
				 VHM_EVENT_NMI_PENDING)

static int svm_exit_to_user(struct vhm_vcpu *vcpu, u32 reason)
{
	vcpu->run->exit_reason = reason;
	return 0;
}

static int svm_internal_error(struct vhm_vcpu *vcpu, u32 suberror)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	return vhm_exit_internal_error(vcpu, suberror,
				       vhm_vmcb_exit_code(&vmcb->control),
				       vmcb->control.exit_info_1,
				       vmcb->control.exit_info_2,
				       vmcb->save.rip);
}

static int svm_handle_host_event(struct vhm_vcpu *vcpu)
{
	/* The interrupt or NMI ran in the host once GIF was set again. */
	return 1;
}

static int svm_handle_machine_check(struct vhm_vcpu *vcpu)
{
	/* Let the host's handler see it, as if raised here. */
	asm volatile("int $0x12");
	return 1;
}

/*
 * With the in-kernel APIC and interrupts enabled, HLT sleeps here until
 * the APIC has an interrupt; a signal leaves RIP on the HLT.
 */
static int svm_handle_hlt(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	bool lapic = vcpu->lapic && (svm->vmcb->save.rflags & X86_EFLAGS_IF);

	if (lapic && !(svm->ev.flags & SVM_HLT_WAKERS) && vhm_lapic_halt(vcpu))
		return 1;
	svm_skip(svm, SVM_INSN_LEN_HLT);
	if (lapic || svm_event_wakes_hlt(svm))
		return 1;
	return svm_exit_to_user(vcpu, VHM_EXIT_HLT);
}

static int svm_handle_shutdown(struct vhm_vcpu *vcpu)
{
	return svm_exit_to_user(vcpu, VHM_EXIT_SHUTDOWN);
}

/* The shared handlers (exits.c), with SVM's instruction lengths. */
static int svm_handle_cpuid(struct vhm_vcpu *vcpu)
{
	return vhm_exit_cpuid(vcpu, SVM_INSN_LEN_CPUID);
}

static int svm_handle_vmmcall(struct vhm_vcpu *vcpu)
{
	return vhm_exit_hypercall(vcpu, SVM_INSN_LEN_VMMCALL);
}

static int svm_handle_xsetbv(struct vhm_vcpu *vcpu)
{
	return vhm_exit_xsetbv(vcpu, SVM_INSN_LEN_XSETBV);
}

static int svm_handle_msr(struct vhm_vcpu *vcpu)
{
	return vhm_exit_msr(vcpu, to_svm(vcpu)->vmcb->control.exit_info_1,
			    SVM_INSN_LEN_MSR);
}

static int svm_handle_ioio_string(struct vhm_vcpu *vcpu, u64 info)
{
	struct vhm_pio_string p = {
		.port = SVM_IOIO_PORT(info),
		.size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT,
		/* A16, A32, A64 in bits 7-9: 2, 4 or 8 bytes (0: unknown). */
		.addr_size = ((info & SVM_IOIO_ASIZE_MASK) >> SVM_IOIO_ASIZE_SHIFT) * 2,
		.in = info & SVM_IOIO_TYPE_MASK,
		.rep = info & SVM_IOIO_REP_MASK,
		.next_rip = to_svm(vcpu)->vmcb->control.exit_info_2,
	};

	return vhm_pio_string(vcpu, &p);
}

static int svm_handle_ioio(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	u64 info = svm->vmcb->control.exit_info_1;
	struct vhm_run *run = vcpu->run;
	u8 size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;
	bool in = info & SVM_IOIO_TYPE_MASK;

	if (info & SVM_IOIO_STR_MASK)
		return svm_handle_ioio_string(vcpu, info);
	run->io.direction = in ? VHM_IO_IN : VHM_IO_OUT;
	run->io.size = size;
	run->io.port = SVM_IOIO_PORT(info);
	run->io.count = 1;
	run->io.data_offset = VHM_RUN_DATA_OFFSET;
	if (in)
		svm->pending_in_size = size;
	else
		memcpy((u8 *)run + VHM_RUN_DATA_OFFSET, &svm->vmcb->save.rax,
		       size);
	/* EXITINFO2 holds the next RIP even without NRIP save. */
	svm->vmcb->save.rip = svm->vmcb->control.exit_info_2;
	svm_clear_interrupt_shadow(svm);
	return svm_exit_to_user(vcpu, VHM_EXIT_IO);
}

/* Before entering: the data userspace gave for an IN goes into RAX. */
static void svm_complete_in(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	u64 *rax = &svm->vmcb->save.rax;
	u32 val = 0;

	memcpy(&val, (u8 *)vcpu->run + VHM_RUN_DATA_OFFSET,
	       svm->pending_in_size);
	if (svm->pending_in_size == 4)
		*rax = val;	/* a 32-bit write clears the upper half */
	else if (svm->pending_in_size == 2)
		*rax = (*rax & ~0xffffULL) | (u16)val;
	else
		*rax = (*rax & ~0xffULL) | (u8)val;
	svm->pending_in_size = 0;
}

/*
 * WBINVD (and WBNOINVD, which shares its intercept): the guest's RAM is
 * ordinary host memory, kept coherent by the host; a flush of the host's
 * caches on the guest's behalf would only let it stall every CPU sharing
 * them. The instruction is skipped. No NRIP save or decode assists are
 * assumed: the length is found by reading the instruction's prefixes.
 */
static int svm_handle_wbinvd(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	unsigned int len = SVM_INSN_LEN_WBINVD;
	u8 b[VHM_INSN_MAX_LEN];
	struct vhm_sregs s;
	struct vhm_regs r;
	int i, n;

	svm_get_regs(vcpu, &r);
	svm_get_sregs(vcpu, &s);
	/* Prefixes never contain 0f: the first 0f 09 is the opcode. */
	n = vhm_fetch_insn(vcpu, &s, &r, b, sizeof(b));
	for (i = 0; i + 1 < n; i++) {
		if (b[i] == 0x0f && b[i + 1] == 0x09) {
			len = i + SVM_INSN_LEN_WBINVD;
			break;
		}
	}
	svm_skip(svm, len);
	return 1;
}

/* MOV to CR4 (cr.c): what the guest's CPUID allows, or #GP. */
static int svm_handle_cr4_write(struct vhm_vcpu *vcpu)
{
	struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;
	unsigned int len;
	u64 cr4;

	if (vhm_decode_cr_write(vcpu, 4, &cr4, &len))
		return svm_internal_error(vcpu, VHM_INTERNAL_EMULATION);
	if (vhm_check_guest_cr4(vcpu, save->cr4, cr4, save->efer, save->cr3)) {
		svm_inject_exception(to_svm(vcpu), GP_VECTOR, true, 0);
		return 1;
	}
	/* Paging-structure caches follow CR4 (PGE, PAE, PCIDE, SMEP...). */
	if (cr4 != save->cr4)
		to_svm(vcpu)->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	save->cr4 = cr4;
	svm_skip(to_svm(vcpu), len);
	return 1;
}

/* MOV to or from a debug register (dr.c). */
static int svm_handle_dr(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;

	switch (vhm_emulate_mov_dr(vcpu, &save->dr6, &save->dr7, save->cr4,
				   save->cpl)) {
	case VHM_EMUL_DONE:
		return 1;
	case VHM_EMUL_GP:
		svm_inject_exception(svm, GP_VECTOR, true, 0);
		return 1;
	case VHM_EMUL_UD:
		svm_inject_exception(svm, UD_VECTOR, false, 0);
		return 1;
	default:
		return svm_internal_error(vcpu, VHM_INTERNAL_EMULATION);
	}
}

/* The exit came while an event was being delivered (EXITINTINFO). */
static bool svm_delivering(struct svm_vcpu *svm)
{
	return svm->vmcb->control.exit_int_info & SVM_EXITINTINFO_VALID;
}

/*
 * Delivering an event (IDT, GDT, stack) touched memory with no RAM
 * behind it: no instruction to emulate. The event stays pending.
 */
static int svm_delivery_error(struct vhm_vcpu *vcpu, u64 gpa)
{
	struct vhm_run *run = vcpu->run;

	run->internal.suberror = VHM_INTERNAL_DELIVERY;
	run->internal.ndata = 2;
	run->internal.data[0] = gpa;
	run->internal.data[1] = to_svm(vcpu)->vmcb->save.rip;
	return svm_exit_to_user(vcpu, VHM_EXIT_INTERNAL_ERROR);
}

static int svm_handle_npf(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	u64 gpa = svm->vmcb->control.exit_info_2;
	bool write = svm->vmcb->control.exit_info_1 & SVM_NPF_WRITE;
	int r;

	r = vhm_mmu_fault(vcpu->vm, gpa, write);
	if (r == VHM_MMU_MMIO && svm_delivering(svm))
		return svm_delivery_error(vcpu, gpa);
	if (r == VHM_MMU_MMIO)
		return vhm_emulate_mmio(vcpu, gpa);
	return r < 0 ? r : 1;
}

static int svm_handle_entry_failure(struct vhm_vcpu *vcpu)
{
	struct vhm_run *run = vcpu->run;

	/* VMEXIT_INVALID (-1); some implementations write only 32 bits. */
	run->fail_entry.hardware_reason = (u64)SVM_EXIT_ERR;
	run->fail_entry.cpu = vcpu->cpu;
	return svm_exit_to_user(vcpu, VHM_EXIT_FAIL_ENTRY);
}

static int (*const svm_exit_handlers[])(struct vhm_vcpu *vcpu) = {
	[SVM_EXIT_EXCP_BASE + X86_TRAP_DB] = svm_handle_debug,
	[SVM_EXIT_EXCP_BASE + X86_TRAP_AC] = svm_handle_alignment_check,
	[SVM_EXIT_EXCP_BASE + MC_VECTOR] = svm_handle_machine_check,
	[SVM_EXIT_INTR] = svm_handle_host_event,
	[SVM_EXIT_NMI] = svm_handle_host_event,
	[SVM_EXIT_SMI] = svm_handle_host_event,
	[SVM_EXIT_WRITE_CR4] = svm_handle_cr4_write,
	[SVM_EXIT_READ_DR0 ... SVM_EXIT_READ_DR7] = svm_handle_dr,
	[SVM_EXIT_WRITE_DR0 ... SVM_EXIT_WRITE_DR7] = svm_handle_dr,
	[SVM_EXIT_CPUID] = svm_handle_cpuid,
	[SVM_EXIT_IRET] = svm_handle_iret,
	[SVM_EXIT_HLT] = svm_handle_hlt,
	[SVM_EXIT_IOIO] = svm_handle_ioio,
	[SVM_EXIT_MSR] = svm_handle_msr,
	[SVM_EXIT_RDTSCP] = svm_handle_rdtscp,
	[SVM_EXIT_SHUTDOWN] = svm_handle_shutdown,
	[SVM_EXIT_VMMCALL] = svm_handle_vmmcall,
	[SVM_EXIT_XSETBV] = svm_handle_xsetbv,
	[SVM_EXIT_WBINVD] = svm_handle_wbinvd,
	[SVM_EXIT_RDPMC] = vhm_exit_rdpmc,
};

static int svm_handle_exit(struct vhm_vcpu *vcpu)
{
	struct vmcb_control_area *ctl = &to_svm(vcpu)->vmcb->control;
	u64 code = vhm_vmcb_exit_code(ctl);

	/* An event cut short by the exit is pending again. */
	svm_complete_events(to_svm(vcpu));
	/* VMEXIT_INVALID (-1); some implementations write only 32 bits. */
	if ((u32)code == (u32)SVM_EXIT_ERR)
		return svm_handle_entry_failure(vcpu);
	if (code == SVM_EXIT_NPF)
		return svm_handle_npf(vcpu);
	if (code < ARRAY_SIZE(svm_exit_handlers) && svm_exit_handlers[code])
		return svm_exit_handlers[code](vcpu);
	return svm_internal_error(vcpu, VHM_INTERNAL_UNHANDLED_EXIT);
}

/* Results userspace produced for the last exit, before entering again. */
static void svm_complete_user_exit(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	if (svm->pending_in_size)
		svm_complete_in(vcpu);
	vhm_complete_user_exit(vcpu);
}


static void svm_enter_guest(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	bool osxsave = svm->vmcb->save.cr4 & X86_CR4_OSXSAVE;
	u64 dr7 = svm->vmcb->save.dr7;
	struct vhm_vm *vm = vcpu->vm;
	u64 gen;

	vcpu->cpu = smp_processor_id();
	svm_assign_asid(svm);
	WRITE_ONCE(vcpu->in_guest, true);
	/* Pairs with vhm_flush_remote_tlbs(): see the generation or the IPI. */
	smp_mb();
	gen = atomic64_read(&vm->mmu.tlb_gen);
	if (vcpu->tlb_gen != gen) {
		if (svm->vmcb->control.tlb_ctl == TLB_CONTROL_DO_NOTHING)
			svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
		vcpu->tlb_gen = gen;
	}
	if (vcpu->lapic)
		vhm_lapic_pending(vcpu, &to_svm(vcpu)->ev.flags,
				  &to_svm(vcpu)->ev.interrupt_vector);
	svm_inject_events(svm);
	vhm_xcr_load_guest(vcpu, osxsave);
	vhm_dr_load_guest(vcpu, dr7);
	vhm_guest_state_enter_irqoff();
	svm_vmrun(svm->vmcb_pa, svm->gprs, svm_host_save_pa());
	vhm_guest_state_exit_irqoff();
	vhm_dr_put_guest(vcpu, dr7);
	vhm_xcr_put_guest(vcpu, osxsave);
	WRITE_ONCE(vcpu->in_guest, false);
	svm->vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	svm->vmcb->control.event_inj = 0;
}

int svm_run(struct vhm_vcpu *vcpu)
{
	svm_complete_user_exit(vcpu);
	preempt_disable();
	vhm_fpu_prepare_entry();
	local_irq_disable();
	if (vhm_virt_rebooting()) {	/* SVM is off, or soon (virt.c) */
		local_irq_enable();
		preempt_enable();
		return -EIO;
	}
	svm_enter_guest(vcpu);
	local_irq_enable();
	preempt_enable();
	return svm_handle_exit(vcpu);
}
