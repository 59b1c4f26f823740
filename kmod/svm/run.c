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
#include "enter.h"
#include "kvm_host.h"
#include "lapic.h"
#include "spec.h"
#include "svm.h"
#include "vhm.h"

#define SVM_INSN_LEN_HLT	1
#define SVM_INSN_LEN_CPUID	2
#define SVM_INSN_LEN_VMMCALL	3
#define SVM_INSN_LEN_XSETBV	3
#define SVM_INSN_LEN_MSR	2
#define SVM_INSN_LEN_0F	2	/* 0f xx, after any prefixes */
#define SVM_OPCODE_INVD		0x08	/* 0f 08 */
#define SVM_OPCODE_WBINVD	0x09	/* 0f 09 */
#define SVM_IOIO_PORT(info)	((info) >> 16)
#define SVM_NPF_WRITE		BIT_ULL(1)	/* EXITINFO1 of a nested page fault */
/* EXITINFO2 of a task switch (APM vol. 2, 15.14.2) */
#define SVM_TS_IRET		BIT_ULL(36)
#define SVM_TS_JMP		BIT_ULL(38)
#define SVM_TS_HAS_ERR		BIT_ULL(44)

static int svm_internal_error(struct vhm_vcpu *vcpu, u32 suberror)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	return vhm_exit_internal_error(vcpu, suberror,
				       vhm_vmcb_exit_code(&vmcb->control),
				       vmcb->control.exit_info_1,
				       vmcb->control.exit_info_2,
				       vhm_rip(vcpu));
}

static int svm_handle_host_event(struct vhm_vcpu *vcpu)
{
	/* The interrupt or NMI ran in the host once GIF was set again. */
	return 1;
}

static int svm_handle_hlt(struct vhm_vcpu *vcpu)
{
	return vhm_exit_hlt(vcpu, SVM_INSN_LEN_HLT);
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

/*
 * Fast: RDMSR, and the WRMSRs vhm_exit_wrmsr_fast() takes (x2APIC EOI,
 * fixed IPIs); other writes may start timers or sleep: exit_handlers.
 */
static int svm_handle_msr_fast(struct vhm_vcpu *vcpu)
{
	if (to_svm(vcpu)->vmcb->control.exit_info_1)
		return vhm_exit_wrmsr_fast(vcpu, SVM_INSN_LEN_MSR);
	return vhm_exit_msr(vcpu, false, SVM_INSN_LEN_MSR);
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
	u64 info = to_svm(vcpu)->vmcb->control.exit_info_1;

	if (info & SVM_IOIO_STR_MASK)
		return svm_handle_ioio_string(vcpu, info);
	/* EXITINFO2 holds the next RIP even without NRIP save. */
	return vhm_exit_pio(vcpu, SVM_IOIO_PORT(info),
			    (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT,
			    info & SVM_IOIO_TYPE_MASK,
			    to_svm(vcpu)->vmcb->control.exit_info_2 -
			    vhm_rip(vcpu));
}

/*
 * Skip the two-byte instruction 0f op at RIP. No NRIP save or decode
 * assists are assumed: the length is found by reading its prefixes.
 */
static int svm_skip_0f(struct vhm_vcpu *vcpu, u8 op)
{
	unsigned int len = SVM_INSN_LEN_0F;
	u8 b[VHM_INSN_MAX_LEN];
	int i, n;

	/* Prefixes never contain 0f: the first 0f op is the opcode. */
	n = vhm_fetch_insn_at_rip(vcpu, b, sizeof(b));
	for (i = 0; i + 1 < n; i++) {
		if (b[i] == 0x0f && b[i + 1] == op) {
			len = i + SVM_INSN_LEN_0F;
			break;
		}
	}
	svm_skip(to_svm(vcpu), len);
	return 1;
}

/*
 * WBINVD (and WBNOINVD, which shares its intercept): the guest's RAM is
 * ordinary host memory, kept coherent by the host; a flush of the host's
 * caches on the guest's behalf would only let it stall every CPU sharing
 * them. The instruction is skipped.
 */
static int svm_handle_wbinvd(struct vhm_vcpu *vcpu)
{
	return svm_skip_0f(vcpu, SVM_OPCODE_WBINVD);
}

/*
 * INVD would drop dirty lines of the host's caches: skipped, as on VMX
 * (guest RAM is host memory the host keeps coherent).
 */
static int svm_handle_invd(struct vhm_vcpu *vcpu)
{
	return svm_skip_0f(vcpu, SVM_OPCODE_INVD);
}

/*
 * Instructions vhm intercepts and the guest's CPU does not have: #UD,
 * as the architecture gives it. The SVM instructions (VMRUN, VMLOAD,
 * VMSAVE, STGI, CLGI, SKINIT, INVLPGA) with the guest's EFER.SVME clear
 * (vhm sets it in the VMCB and hides it: the guest cannot set it);
 * MONITOR/MWAIT and RDPRU with their CPUID bits hidden (cpuid.c); RSM
 * outside SMM, which the guest never enters. (At CPL > 0 the CPU may
 * raise its #GP before the intercept: a hardware CPU with SVME clear
 * would give #UD.) Never an internal error for the VMM.
 */
static int svm_handle_ud(struct vhm_vcpu *vcpu)
{
	vhm_queue_exception(vcpu, UD_VECTOR, false, 0);
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
		vhm_queue_exception(vcpu, GP_VECTOR, true, 0);
		return 1;
	}
	/* Paging-structure caches follow CR4 (PGE, PAE, PCIDE, SMEP...). */
	if (cr4 != save->cr4)
		to_svm(vcpu)->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	save->cr4 = cr4;
	svm_skip(to_svm(vcpu), len);
	return 1;
}

/*
 * MOV to CR8, intercepted with the in-kernel APIC only: the TPR's
 * priority class (lapic.c); bits 63:4 set are #GP (SDM vol. 3A, "Task
 * Priority in IA-32e Mode").
 */
static int svm_handle_cr8_write(struct vhm_vcpu *vcpu)
{
	unsigned int len;
	u64 cr8;

	if (!vcpu->lapic || vhm_decode_cr_write(vcpu, 8, &cr8, &len))
		return svm_internal_error(vcpu, VHM_INTERNAL_EMULATION);
	if (cr8 > 15) {
		vhm_queue_exception(vcpu, GP_VECTOR, true, 0);
		return 1;
	}
	vhm_lapic_set_cr8(vcpu, cr8);
	svm_skip(to_svm(vcpu), len);
	return 1;
}

/* MOV to or from a debug register (dr.c). */
static int svm_handle_dr(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;

	if (vhm_emul_done(vcpu, vhm_emulate_mov_dr(vcpu, &save->dr6,
						   &save->dr7, save->cr4,
						   save->cpl)))
		return 1;
	return svm_internal_error(vcpu, VHM_INTERNAL_EMULATION);
}

/* The exit came while an event was being delivered (EXITINTINFO). */
static bool svm_delivering(struct svm_vcpu *svm)
{
	return svm->vmcb->control.exit_int_info & SVM_EXITINTINFO_VALID;
}

static int svm_handle_npf(struct vhm_vcpu *vcpu)
{
	struct vmcb_control_area *ctl = &to_svm(vcpu)->vmcb->control;

	return vhm_exit_nested_fault(vcpu, ctl->exit_info_2,
				     ctl->exit_info_1 & SVM_NPF_WRITE,
				     svm_delivering(to_svm(vcpu)));
}

/*
 * A task switch (task_switch.c): EXITINFO1 the new TSS's selector,
 * EXITINFO2 IRET or JMP and the error code, EXITINTINFO the event a task
 * gate delivers. No instruction length without NRIP save: decoded there.
 */
static int svm_handle_task_switch(struct vhm_vcpu *vcpu)
{
	struct vmcb_control_area *ctl = &to_svm(vcpu)->vmcb->control;
	u32 info = ctl->exit_int_info;
	struct vhm_task_switch ts = {
		.selector = (u16)ctl->exit_info_1,
		.source = VHM_TS_CALL,
	};

	if (ctl->exit_info_2 & SVM_TS_IRET) {
		ts.source = VHM_TS_IRET;
	} else if (ctl->exit_info_2 & SVM_TS_JMP) {
		ts.source = VHM_TS_JMP;
	} else if (info & SVM_EXITINTINFO_VALID) {
		ts.source = VHM_TS_GATE;
		ts.vector = info & SVM_EXITINTINFO_VEC_MASK;
		ts.kind = svm_cut_kind(info & SVM_EXITINTINFO_TYPE_MASK,
				       ts.vector, false);
		ts.has_err = ctl->exit_info_2 & SVM_TS_HAS_ERR;
		ts.err = ts.has_err ? (u32)ctl->exit_info_2 : 0;
	}
	return vhm_task_switch(vcpu, &ts);
}

const vhm_exit_handler_t svm_exit_handlers[SVM_NR_EXIT_HANDLERS] = {
	[SVM_EXIT_EXCP_BASE + X86_TRAP_DB] = svm_handle_debug,
	[SVM_EXIT_EXCP_BASE + X86_TRAP_AC] = svm_handle_alignment_check,
	[SVM_EXIT_EXCP_BASE + MC_VECTOR] = vhm_exit_machine_check,
	[SVM_EXIT_INTR] = svm_handle_host_event,
	[SVM_EXIT_NMI] = svm_handle_host_event,
	[SVM_EXIT_SMI] = svm_handle_host_event,
	[SVM_EXIT_WRITE_CR4] = svm_handle_cr4_write,
	[SVM_EXIT_WRITE_CR8] = svm_handle_cr8_write,
	[SVM_EXIT_READ_DR0 ... SVM_EXIT_READ_DR7] = svm_handle_dr,
	[SVM_EXIT_WRITE_DR0 ... SVM_EXIT_WRITE_DR7] = svm_handle_dr,
	[SVM_EXIT_CPUID] = svm_handle_cpuid,
	[SVM_EXIT_IRET] = svm_handle_iret,
	[SVM_EXIT_HLT] = svm_handle_hlt,
	[SVM_EXIT_IOIO] = svm_handle_ioio,
	[SVM_EXIT_MSR] = svm_handle_msr,
	[SVM_EXIT_SHUTDOWN] = vhm_exit_shutdown,
	[SVM_EXIT_VMMCALL] = svm_handle_vmmcall,
	[SVM_EXIT_XSETBV] = svm_handle_xsetbv,
	[SVM_EXIT_WBINVD] = svm_handle_wbinvd,
	[SVM_EXIT_INVD] = svm_handle_invd,
	[SVM_EXIT_RSM] = svm_handle_ud,
	[SVM_EXIT_INVLPGA] = svm_handle_ud,
	[SVM_EXIT_VMRUN] = svm_handle_ud,
	[SVM_EXIT_VMLOAD] = svm_handle_ud,
	[SVM_EXIT_VMSAVE] = svm_handle_ud,
	[SVM_EXIT_STGI] = svm_handle_ud,
	[SVM_EXIT_CLGI] = svm_handle_ud,
	[SVM_EXIT_SKINIT] = svm_handle_ud,
	[SVM_EXIT_MONITOR] = svm_handle_ud,
	[SVM_EXIT_MWAIT] = svm_handle_ud,
	[SVM_EXIT_MWAIT_COND] = svm_handle_ud,
	[SVM_EXIT_RDPRU] = svm_handle_ud,
	[SVM_EXIT_RDPMC] = vhm_exit_rdpmc,
	[SVM_EXIT_NPF] = svm_handle_npf,
	[SVM_EXIT_TASK_SWITCH] = svm_handle_task_switch,
};

/* Never sleep, never touch the FPU (vendor.h). */
const vhm_exit_handler_t svm_fast_exit_handlers[SVM_NR_FAST_EXIT_HANDLERS] = {
	[SVM_EXIT_CPUID] = svm_handle_cpuid,
	[SVM_EXIT_MSR] = svm_handle_msr_fast,
};

/* After the exit: the events it cut short pending again; its code. */
u32 svm_exit_code(struct vhm_vcpu *vcpu)
{
	u64 code = vhm_vmcb_exit_code(&to_svm(vcpu)->vmcb->control);

	svm_complete_events(to_svm(vcpu));
	return code > U32_MAX ? U32_MAX : code;
}

int svm_unhandled_exit(struct vhm_vcpu *vcpu, u32 code)
{
	/* VMEXIT_INVALID (-1); some implementations write only 32 bits. */
	if (code == (u32)SVM_EXIT_ERR)
		return vhm_exit_fail_entry(vcpu, (u64)SVM_EXIT_ERR);
	return svm_internal_error(vcpu, VHM_INTERNAL_UNHANDLED_EXIT);
}


/*
 * Interrupts off, before the event injection: an ASID valid on this CPU,
 * flushed if the nested tables changed since the vCPU's last entry.
 */
void svm_prepare_tlb(struct vhm_vcpu *vcpu, bool stale)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	svm_assign_asid(svm);
	if (stale && svm->vmcb->control.tlb_ctl == TLB_CONTROL_DO_NOTHING)
		svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	if (vhm_on_kvm)
		svm_tlb_on_kvm(svm);
}

/*
 * What vmrun.S's ALTERNATIVEs do on this host besides the RSB fill, which
 * spec.c reports for both backends (spec.h). In CALL_UNTRAIN_RET the second
 * replacement wins when both bits are set.
 */
u32 svm_spec_init(void)
{
	u32 s = boot_cpu_has(VHM_FEATURE_VERW_SVM) ? VHM_SPEC_VERW : 0;

	if (boot_cpu_has(X86_FEATURE_SRSO_ALIAS))
		s |= VHM_SPEC_SRSO_ALIAS;
	else if (boot_cpu_has(X86_FEATURE_UNRET))
		s |= VHM_SPEC_UNTRAIN_RET;
	if (boot_cpu_has(X86_FEATURE_IBPB_ON_VMEXIT))
		s |= VHM_SPEC_IBPB_ON_EXIT;
	return s;
}

/* Interrupts off: the guest's XCR0 and breakpoints around VMRUN. */
void svm_enter(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	bool osxsave = svm->vmcb->save.cr4 & X86_CR4_OSXSAVE;
	u64 dr7 = svm->vmcb->save.dr7;

	vhm_switch_to_guest(vcpu, osxsave, dr7);
	vhm_guest_state_enter_irqoff();
	svm_vmrun(svm->vmcb_pa, vcpu->regs, svm_host_save_pa());
	vhm_guest_exited(vcpu);
	vhm_switch_to_host(vcpu, osxsave, dr7);
	svm->vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	svm->vmcb->control.event_inj = 0;
}
