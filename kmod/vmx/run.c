// SPDX-License-Identifier: GPL-2.0
/*
 * VMX: entering the guest and handling its exits. Exit handlers are indexed
 * by basic exit reason; each returns 1 to enter again, 0 to go to
 * userspace with vcpu->run filled in, or -errno. Intel SDM vol. 3C,
 * chapter 28 "VM exits" and appendix C "VMX basic exit reasons".
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/cpu.h>
#include <linux/kernel.h>
#include <linux/preempt.h>
#include <asm/debugreg.h>
#include <asm/cpufeature.h>
#include <asm/desc.h>
#include <asm/fsgsbase.h>
#include <asm/msr-index.h>
#include <asm/processor.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/traps.h>

#include "compat.h"
#include "enter.h"
#include "lapic.h"
#include "spec.h"
#include "vhm.h"
#include "vmx.h"

#define VMX_IO_SIZE(q)		(((q) & 7) + 1)
#define VMX_IO_IN		BIT(3)
#define VMX_IO_STRING		BIT(4)
#define VMX_IO_REP		BIT(5)
#define VMX_IO_PORT(q)		((q) >> 16)
/* INS/OUTS instruction information: address size, 0/1/2 = 16/32/64 bits. */
#define VMX_INSN_INFO_ASIZE(i)	(((i) >> 7) & 7)
#define VMX_CR_NUM(q)		((q) & 15)
#define VMX_CR_TYPE(q)		(((q) >> 4) & 3)
#define VMX_CR_GPR(q)		(((q) >> 8) & 15)
#define VMX_CR_MOV_TO		0
#define VMX_CR_MOV_FROM		1
#define VMX_VMMCALL_LEN		3
/* EPT violation: an IRET that unblocked NMIs was interrupted. */
#define VMX_EPT_NMI_UNBLOCK	BIT_ULL(12)
#define VMX_DR7_ENABLED		0xffULL	/* L0-3, G0-3 */
#define VMX_DR6_HOST		0xffff0ff0UL
#define VMX_DR6_BD		BIT_ULL(13)	/* general detect */

static int vmx_internal_error(struct vhm_vcpu *vcpu, u32 suberror)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct vmx_exit *e = &vmx->exit;

	return vhm_exit_internal_error(vcpu, suberror, e->reason, e->qual,
				       e->reason == EXIT_REASON_EXCEPTION_NMI ?
				       e->intr_info : e->gpa,
				       vhm_rip(vcpu));
}

static int vmx_unhandled(struct vhm_vcpu *vcpu)
{
	return vmx_internal_error(vcpu, VHM_INTERNAL_UNHANDLED_EXIT);
}

static int vmx_handle_host_event(struct vhm_vcpu *vcpu)
{
	/* An interrupt stays pending until interrupts are on again. */
	return 1;
}

static int vmx_inject_ud(struct vhm_vcpu *vcpu)
{
	vhm_queue_exception(vcpu, UD_VECTOR, false, 0);
	return 1;
}

/*
 * The shared handlers (exits.c), with the instruction length the CPU
 * reports. VMCALL and, through #UD below, AMD's VMMCALL are hypercalls.
 */
static int vmx_handle_vmcall(struct vhm_vcpu *vcpu)
{
	return vhm_exit_hypercall(vcpu, to_vmx(vcpu)->exit.insn_len);
}

static int vmx_handle_cpuid(struct vhm_vcpu *vcpu)
{
	return vhm_exit_cpuid(vcpu, to_vmx(vcpu)->exit.insn_len);
}

static int vmx_handle_xsetbv(struct vhm_vcpu *vcpu)
{
	return vhm_exit_xsetbv(vcpu, to_vmx(vcpu)->exit.insn_len);
}

static int vmx_handle_rdmsr(struct vhm_vcpu *vcpu)
{
	return vhm_exit_msr(vcpu, false, to_vmx(vcpu)->exit.insn_len);
}

static int vmx_handle_wrmsr(struct vhm_vcpu *vcpu)
{
	return vhm_exit_msr(vcpu, true, to_vmx(vcpu)->exit.insn_len);
}

static int vmx_handle_wrmsr_fast(struct vhm_vcpu *vcpu)
{
	return vhm_exit_wrmsr_fast(vcpu, to_vmx(vcpu)->exit.insn_len);
}

/* #UD: VMMCALL (0f 01 d9) is a hypercall; anything else goes back. */
static int vmx_handle_ud(struct vhm_vcpu *vcpu)
{
	static const u8 vmmcall[VMX_VMMCALL_LEN] = { 0x0f, 0x01, 0xd9 };
	u8 bytes[VMX_VMMCALL_LEN];

	if (vhm_fetch_insn_at_rip(vcpu, bytes, sizeof(bytes)) ==
	    sizeof(bytes) && !memcmp(bytes, vmmcall, sizeof(bytes)))
		return vhm_exit_hypercall(vcpu, VMX_VMMCALL_LEN);
	return vmx_inject_ud(vcpu);
}

/*
 * #DB, always intercepted. A #DB that exits leaves DR6 and DR7.GD as they
 * were; its cause (B0-3, BD, BS) is in the exit qualification and goes
 * into the guest's DR6 here, as delivery would have put it: B0-3 replaced,
 * BD and BS added (its delivery clears DR7.GD: vhm_dr_db_delivered()).
 * Then the same #DB is raised in the guest. ICEBP (INT1) exits as a
 * privileged software exception with RIP on it: it is skipped and its
 * #DB (a trap, DR6 unchanged) raised past it.
 */
static int vmx_handle_db(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 qual = vmx->exit.qual, rflags;
	u32 intr;

	if ((vmx->exit.intr_info & INTR_INFO_INTR_TYPE_MASK) ==
	    INTR_TYPE_PRIV_SW_EXCEPTION) {
		vmx_skip(vmx, vmx->exit.insn_len);
		vhm_queue_exception(vcpu, DB_VECTOR, false, 0);
		return 1;
	}
	vmx->dr6 = (vmx->dr6 & ~(u64)DR_TRAP_BITS) |
		   (qual & (DR_TRAP_BITS | VMX_DR6_BD | DR_STEP));
	/*
	 * VM entry wants a single-step trap pending when TF is set under an
	 * STI or MOV SS shadow (SDM 27.3.1.5); a #DB exit does not leave one.
	 */
	rflags = vhm_rflags(vcpu);
	intr = vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO);
	if ((rflags & X86_EFLAGS_TF) &&
	    (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)))
		vmx_write(vmx, GUEST_PENDING_DBG_EXCEPTIONS,
			  vmx_read(vmx, GUEST_PENDING_DBG_EXCEPTIONS) | DR_STEP);
	vhm_queue_exception(vcpu, DB_VECTOR, false, 0);
	return 1;
}

static int vmx_handle_exception(struct vhm_vcpu *vcpu)
{
	u32 info = to_vmx(vcpu)->exit.intr_info;

	/* An NMI was handed to the host right after the exit. */
	if ((info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR)
		return 1;
	switch (info & INTR_INFO_VECTOR_MASK) {
	case MC_VECTOR:
		return vhm_exit_machine_check(vcpu);
	case UD_VECTOR:
		return vmx_handle_ud(vcpu);
	case DB_VECTOR:
		return vmx_handle_db(vcpu);
	case AC_VECTOR:
		/* Back to the guest (always intercepted): error code 0. */
		vhm_queue_exception(vcpu, AC_VECTOR, true, 0);
		return 1;
	default:
		return vmx_unhandled(vcpu);
	}
}

static int vmx_handle_hlt(struct vhm_vcpu *vcpu)
{
	return vhm_exit_hlt(vcpu, to_vmx(vcpu)->exit.insn_len);
}

/*
 * INVD would drop the host's dirty cache lines, WBINVD (WBNOINVD too)
 * would flush the caches of every CPU sharing them on the guest's behalf:
 * guest RAM is ordinary host memory the host keeps coherent, so both are
 * skipped.
 */
static int vmx_handle_skip(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx_skip(vmx, vmx->exit.insn_len);
	return 1;
}

static int vmx_handle_io_string(struct vhm_vcpu *vcpu, u64 q)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct vhm_pio_string p = {
		.port = VMX_IO_PORT(q),
		.size = VMX_IO_SIZE(q),
		/* 0 when the CPU does not report it: pio.c decodes it. */
		.addr_size = vmx_cfg.ins_outs_info ?
			     2 << VMX_INSN_INFO_ASIZE(vmx->exit.insn_info) : 0,
		.in = q & VMX_IO_IN,
		.rep = q & VMX_IO_REP,
		.next_rip = vhm_rip(vcpu) + vmx->exit.insn_len,
	};

	return vhm_pio_string(vcpu, &p);
}

static int vmx_handle_io(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 q = vmx->exit.qual;

	if (q & VMX_IO_STRING)
		return vmx_handle_io_string(vcpu, q);
	return vhm_exit_pio(vcpu, VMX_IO_PORT(q), VMX_IO_SIZE(q),
			    q & VMX_IO_IN, vmx->exit.insn_len);
}

void vmx_skip_insn(struct vhm_vcpu *vcpu, unsigned int len)
{
	vmx_skip(to_vmx(vcpu), len);
}

/*
 * A data breakpoint a MOV SS hit waits out its shadow (SDM vol. 3A,
 * 6.8.3); an exit in the shadow leaves it in the pending debug exceptions
 * (B0-3, with bit 12 "enabled breakpoint"). VM entry drops those when it
 * injects an event, vhm's own #DB trap included (SDM vol. 3C, "Delivery
 * of Pending Debug Exceptions after VM Entry"): they are taken out here
 * and go into vhm's trap after the instruction.
 */
#define VMX_PENDING_DBG_BP	(DR_TRAP_BITS | BIT(12))

u32 vmx_end_shadow(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u32 intr = vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO);
	u32 shadow = GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS;
	u64 pending = vmx_read(vmx, GUEST_PENDING_DBG_EXCEPTIONS);

	if (intr & shadow)
		vmx_write(vmx, GUEST_INTERRUPTIBILITY_INFO, intr & ~shadow);
	if (pending & VMX_PENDING_DBG_BP)
		vmx_write(vmx, GUEST_PENDING_DBG_EXCEPTIONS,
			  pending & ~(u64)VMX_PENDING_DBG_BP);
	return pending & DR_TRAP_BITS;
}

unsigned int vmx_cpl(struct vhm_vcpu *vcpu)
{
	return vmx_guest_cpl(to_vmx(vcpu));
}

/* The guest's CR4 as it sees it, read at the exit. */
u64 vmx_cr4(struct vhm_vcpu *vcpu)
{
	return to_vmx(vcpu)->exit.cr4;
}

/* The checks of MOV to CR0 (Intel SDM vol. 3A, 2.5) vhm cares about. */
static bool vmx_cr0_valid(u64 cr0, u64 cr4, u64 efer)
{
	if (cr0 >> 32)
		return false;
	if ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE))
		return false;
	if ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD))
		return false;
	return !((cr0 & X86_CR0_PG) && (efer & EFER_LME) &&
		 !(cr4 & X86_CR4_PAE));
}

/*
 * MOV to CR0 exits when it changes a bit VMX fixes (NE): emulated whole,
 * including turning long mode on or off with paging.
 */
static int vmx_write_cr0(struct vmx_vcpu *vmx, u64 cr0)
{
	u64 old = vmx_guest_cr0(vmx), efer = vmx_read(vmx, GUEST_IA32_EFER);

	if (!vmx_cr0_valid(cr0, vmx_guest_cr4(vmx), efer)) {
		vhm_queue_exception(vmx->vcpu, GP_VECTOR, true, 0);
		return 1;
	}
	if (((cr0 ^ old) & X86_CR0_PG) && (efer & EFER_LME))
		vmx_set_efer(vmx, cr0 & X86_CR0_PG ? efer | EFER_LMA :
			     efer & ~EFER_LMA);
	vmx_set_guest_cr0(vmx, cr0);
	if ((cr0 ^ old) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))
		vmx->flush_vpid = true;
	vmx_load_pdptrs(vmx);
	return 0;
}

/* MOV to CR4 (cr.c): what the guest's CPUID allows, or #GP. */
static int vmx_write_cr4(struct vhm_vcpu *vcpu, u64 cr4)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 old = vmx_guest_cr4(vmx);

	if (vhm_check_guest_cr4(vcpu, old, cr4, vmx_read(vmx, GUEST_IA32_EFER),
				vmx_read(vmx, GUEST_CR3))) {
		vhm_queue_exception(vcpu, GP_VECTOR, true, 0);
		return 1;
	}
	vmx_set_guest_cr4(vmx, cr4);
	/* Paging-structure caches follow CR4 (PGE, PAE, PCIDE, SMEP...). */
	if (cr4 != old)
		vmx->flush_vpid = true;
	vmx_load_pdptrs(vmx);
	return 0;
}

static int vmx_mov_to_cr(struct vhm_vcpu *vcpu, unsigned int cr, u64 val)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	switch (cr) {
	case 0:
		return vmx_write_cr0(vmx, val);
	case 3:
		vmx_write(vmx, GUEST_CR3, val);
		vmx->flush_vpid = true;
		vmx_load_pdptrs(vmx);
		return 0;
	case 4:
		return vmx_write_cr4(vcpu, val);
	case 8:
		if (val > 15) {
			vhm_queue_exception(vcpu, GP_VECTOR, true, 0);
			return 1;
		}
		if (vcpu->lapic)
			vhm_lapic_set_cr8(vcpu, val);
		else
			vmx->cr8 = val;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * Control register accesses that exit: changes of CR0 bits VMX fixes,
 * every change of CR4, CR8 (the in-kernel APIC's TPR, or a value of its
 * own without one), and CR3 on CPUs that cannot turn its exits off.
 */
static int vmx_handle_cr(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 q = vmx->exit.qual;
	unsigned int cr = VMX_CR_NUM(q), gpr = VMX_CR_GPR(q);
	bool wide = vmx_long_mode64(vmx);
	u64 val;
	int r;

	switch (VMX_CR_TYPE(q)) {
	case VMX_CR_MOV_TO:
		val = vhm_reg_read(vcpu, gpr);
		r = vmx_mov_to_cr(vcpu, cr, wide ? val : (u32)val);
		if (r)
			return r < 0 ? vmx_unhandled(vcpu) : 1;
		break;
	case VMX_CR_MOV_FROM:
		if (cr == 3)
			val = vmx_read(vmx, GUEST_CR3);
		else if (cr == 8)
			val = vcpu->lapic ? vhm_lapic_get_cr8(vcpu) : vmx->cr8;
		else
			return vmx_unhandled(vcpu);
		vhm_reg_write(vcpu, gpr, wide ? val : (u32)val);
		break;
	default:
		return vmx_unhandled(vcpu);
	}
	vmx_skip(vmx, vmx->exit.insn_len);
	return 1;
}

/* MOV to or from a debug register (dr.c). */
static int vmx_handle_dr(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 dr7 = vmx_read(vmx, GUEST_DR7), old = dr7;
	enum vhm_emul e;

	e = vhm_emulate_mov_dr(vcpu, &vmx->dr6, &dr7, vmx_guest_cr4(vmx),
			       vmx_guest_cpl(vmx));
	if (dr7 != old)
		vmx_write(vmx, GUEST_DR7, dr7);
	if (vhm_emul_done(vcpu, e))
		return 1;
	return vmx_internal_error(vcpu, VHM_INTERNAL_EMULATION);
}

void vmx_get_dr67(struct vhm_vcpu *vcpu, u64 *dr6, u64 *dr7)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	*dr6 = vmx->dr6;
	*dr7 = vmx_read(vmx, GUEST_DR7);
}

void vmx_set_dr67(struct vhm_vcpu *vcpu, u64 dr6, u64 dr7)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx->dr6 = dr6;
	vmx_write(vmx, GUEST_DR7, dr7);
}

static int vmx_handle_ept_violation(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	bool write = vmx->exit.qual & EPT_VIOLATION_ACC_WRITE;
	bool delivering = vmx->exit.vectoring & VECTORING_INFO_VALID_MASK;

	/* The IRET runs again: NMIs stay blocked until it completes. */
	if (!delivering && (vmx->exit.qual & VMX_EPT_NMI_UNBLOCK))
		vmx_write(vmx, GUEST_INTERRUPTIBILITY_INFO,
			  vmx_read(vmx, GUEST_INTERRUPTIBILITY_INFO) |
			  GUEST_INTR_STATE_NMI);
	return vhm_exit_nested_fault(vcpu, vmx->exit.gpa, write, delivering);
}

/*
 * A task switch (task_switch.c): exit qualification bits 15:0 the new
 * TSS's selector, 31:30 the source (CALL, IRET, JMP, a task gate in the
 * IDT), the IDT-vectoring information the event the gate delivers.
 */
static int vmx_handle_task_switch(struct vhm_vcpu *vcpu)
{
	const struct vmx_exit *e = &to_vmx(vcpu)->exit;
	struct vhm_task_switch ts = {
		.selector = (u16)e->qual,
		.source = (e->qual >> 30) & 3,
		.insn_len = e->insn_len <= VHM_INSN_MAX_LEN ? e->insn_len : 0,
	};

	if (ts.source == VHM_TS_GATE &&
	    (e->vectoring & VECTORING_INFO_VALID_MASK)) {
		ts.kind = vmx_cut_kind(e->vectoring);
		ts.vector = e->vectoring & VECTORING_INFO_VECTOR_MASK;
		ts.has_err = e->vectoring & VECTORING_INFO_DELIVER_CODE_MASK;
		ts.err = ts.has_err ? e->vectoring_err : 0;
	}
	return vhm_task_switch(vcpu, &ts);
}

const vhm_exit_handler_t vmx_exit_handlers[VMX_NR_EXIT_HANDLERS] = {
	[EXIT_REASON_EXCEPTION_NMI] = vmx_handle_exception,
	[EXIT_REASON_EXTERNAL_INTERRUPT] = vmx_handle_host_event,
	[EXIT_REASON_PREEMPTION_TIMER] = vmx_handle_host_event,
	[EXIT_REASON_TRIPLE_FAULT] = vhm_exit_shutdown,
	[EXIT_REASON_INTERRUPT_WINDOW] = vmx_handle_window,
	[EXIT_REASON_NMI_WINDOW] = vmx_handle_window,
	[EXIT_REASON_CPUID] = vmx_handle_cpuid,
	[EXIT_REASON_HLT] = vmx_handle_hlt,
	[EXIT_REASON_INVD] = vmx_handle_skip,
	[EXIT_REASON_WBINVD] = vmx_handle_skip,
	[EXIT_REASON_RDPMC] = vhm_exit_rdpmc,
	[EXIT_REASON_VMCALL] = vmx_handle_vmcall,
	[EXIT_REASON_VMCLEAR] = vmx_inject_ud,
	[EXIT_REASON_VMLAUNCH] = vmx_inject_ud,
	[EXIT_REASON_VMPTRLD] = vmx_inject_ud,
	[EXIT_REASON_VMPTRST] = vmx_inject_ud,
	[EXIT_REASON_VMREAD] = vmx_inject_ud,
	[EXIT_REASON_VMRESUME] = vmx_inject_ud,
	[EXIT_REASON_VMWRITE] = vmx_inject_ud,
	[EXIT_REASON_VMOFF] = vmx_inject_ud,
	[EXIT_REASON_VMON] = vmx_inject_ud,
	[EXIT_REASON_INVEPT] = vmx_inject_ud,
	[EXIT_REASON_INVVPID] = vmx_inject_ud,
	[EXIT_REASON_VMFUNC] = vmx_inject_ud,
	[EXIT_REASON_MWAIT_INSTRUCTION] = vmx_inject_ud,
	[EXIT_REASON_MONITOR_INSTRUCTION] = vmx_inject_ud,
	[EXIT_REASON_CR_ACCESS] = vmx_handle_cr,
	[EXIT_REASON_DR_ACCESS] = vmx_handle_dr,
	[EXIT_REASON_IO_INSTRUCTION] = vmx_handle_io,
	[EXIT_REASON_MSR_READ] = vmx_handle_rdmsr,
	[EXIT_REASON_MSR_WRITE] = vmx_handle_wrmsr,
	[EXIT_REASON_EPT_VIOLATION] = vmx_handle_ept_violation,
	[EXIT_REASON_XSETBV] = vmx_handle_xsetbv,
	[EXIT_REASON_TASK_SWITCH] = vmx_handle_task_switch,
};

/* Never sleep, never touch the FPU (vendor.h). */
const vhm_exit_handler_t vmx_fast_exit_handlers[VMX_NR_FAST_EXIT_HANDLERS] = {
	[EXIT_REASON_CPUID] = vmx_handle_cpuid,
	[EXIT_REASON_MSR_READ] = vmx_handle_rdmsr,
	[EXIT_REASON_MSR_WRITE] = vmx_handle_wrmsr_fast,
};

/*
 * After the exit: the events it cut short pending again; its basic exit
 * reason, or U32_MAX for an entry the CPU refused.
 */
u32 vmx_exit_code(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx_complete_events(vmx);
	if (vmx->exit.vmfail ||
	    (vmx->exit.reason & VMX_EXIT_REASONS_FAILED_VMENTRY))
		return U32_MAX;
	return vmx->exit.reason & 0xffff;
}

/* Refused entry: the exit reason (bit 31 set) or the VMfail's error. */
int vmx_unhandled_exit(struct vhm_vcpu *vcpu, u32 code)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	if (code == U32_MAX)
		return vhm_exit_fail_entry(vcpu, vmx->exit.vmfail ?
					   vmx->exit.vmfail : vmx->exit.reason);
	return vmx_unhandled(vcpu);
}

/*
 * Interrupts off: translations the guest may hold that are stale. The
 * VM's nested tables changed (stale), or the vCPU arrived on a CPU that
 * may hold its translations from an earlier stay: INVEPT (all VPIDs of
 * this EPT). A CR0/CR3/CR4 change vhm emulated: INVVPID.
 */
void vmx_prepare_tlb(struct vhm_vcpu *vcpu, bool stale)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	if (stale)
		vmx->flush_ept = true;
	if (vmx->flush_ept)
		vmx_invept(vmx_eptp(vcpu->vm));
	if (vmx->flush_vpid)
		vmx_invvpid(vmx->vpid);
	vmx->flush_ept = false;
	vmx->flush_vpid = false;
}

/*
 * Host state VM exits do not restore, or restore differently: the data
 * and FS/GS selectors (exits load null ones), the FS base (per thread),
 * the GDT limit (exits set 0xffff), the LDT (exits unload it), the TSS
 * limit (exits set 0x67), hardware breakpoints (DR7) and DEBUGCTL. The
 * VMCS's HOST_CR3, HOST_CR4 and HOST_FS_BASE are written only when they
 * changed since the last entry with this VMCS on this CPU.
 */
static void vmx_save_host(struct vmx_vcpu *vmx, struct vmx_host_state *h)
{
	u64 cr3 = __read_cr3(), cr4 = vhm_cr4_read();

	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	store_ldt(h->ldt);
	native_store_gdt(&h->gdt);
	if (cpu_feature_enabled(X86_FEATURE_FSGSBASE))
		h->fs_base = rdfsbase();
	else
		vhm_rdmsr(MSR_FS_BASE, h->fs_base);
	vhm_rdmsr(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	if (unlikely(vmx->host_stale)) {
		vmx->host_stale = false;
		vmx->host_cr3 = ~cr3;
		vmx->host_cr4 = ~cr4;
		vmx->host_fs_base = ~h->fs_base;
	}
	if (unlikely(h->fs_base != vmx->host_fs_base)) {
		vmcs_write(HOST_FS_BASE, h->fs_base);
		vmx->host_fs_base = h->fs_base;
	}
	if (unlikely(cr3 != vmx->host_cr3)) {
		vmcs_write(HOST_CR3, cr3);
		vmx->host_cr3 = cr3;
	}
	if (unlikely(cr4 != vmx->host_cr4)) {
		vmcs_write(HOST_CR4, cr4);
		vmx->host_cr4 = cr4;
	}
}

static void vmx_restore_host(const struct vmx_host_state *h)
{
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if (h->fs) {
		loadsegment(fs, h->fs);
		vhm_wrmsr(MSR_FS_BASE, h->fs_base);
	}
	if (h->gs) {
		load_gs_index(h->gs);
		vhm_wrmsr(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	}
	native_load_gdt(&h->gdt);
	if (h->ldt)
		asm volatile("lldt %0" : : "rm"(h->ldt));
	invalidate_tss_limit();
	if (h->debugctl)
		vhm_wrmsr(MSR_IA32_DEBUGCTLMSR, h->debugctl);
}

/*
 * Interrupts off, right after the exit: what the handler of this exit
 * reason needs (all of it for the reasons that may end in an internal
 * error report), and the IDT-vectoring information every exit may carry.
 */
static void vmx_read_exit(struct vmx_vcpu *vmx, int fail)
{
	struct vmx_exit *e = &vmx->exit;

	memset(e, 0, sizeof(*e));
	if (fail) {
		e->vmfail = vmcs_read(VM_INSTRUCTION_ERROR);
		return;
	}
	e->reason = vmcs_read(VM_EXIT_REASON);
	/*
	 * A machine check during VM entry (SDM vol. 3C 27.8) is the host's:
	 * its handler runs now, interrupts still off, as after an #MC exit;
	 * the entry failure then reaches userspace as VHM_EXIT_FAIL_ENTRY.
	 */
	if ((u16)e->reason == EXIT_REASON_MCE_DURING_VMENTRY)
		vhm_exit_machine_check(vmx->vcpu);
	if (e->reason & VMX_EXIT_REASONS_FAILED_VMENTRY)
		return;
	vmx->launched = true;
	e->vectoring = vmcs_read(IDT_VECTORING_INFO_FIELD);
	if (e->vectoring & VECTORING_INFO_DELIVER_CODE_MASK)
		e->vectoring_err = vmcs_read(IDT_VECTORING_ERROR_CODE);
	switch (e->reason) {
	case EXIT_REASON_EXTERNAL_INTERRUPT:
	case EXIT_REASON_PREEMPTION_TIMER:
	case EXIT_REASON_INTERRUPT_WINDOW:
	case EXIT_REASON_NMI_WINDOW:
		return;
	case EXIT_REASON_CPUID:
	case EXIT_REASON_MSR_READ:
	case EXIT_REASON_MSR_WRITE:
	case EXIT_REASON_HLT:
	case EXIT_REASON_VMCALL:
	case EXIT_REASON_XSETBV:
	case EXIT_REASON_INVD:
	case EXIT_REASON_WBINVD:
		e->insn_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
		return;
	case EXIT_REASON_IO_INSTRUCTION:
		e->qual = vmcs_read(EXIT_QUALIFICATION);
		e->insn_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
		e->insn_info = vmcs_read(VMX_INSTRUCTION_INFO);
		return;
	case EXIT_REASON_EPT_VIOLATION:
		e->qual = vmcs_read(EXIT_QUALIFICATION);
		e->gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
		return;
	}
	e->qual = vmcs_read(EXIT_QUALIFICATION);
	e->intr_info = vmcs_read(VM_EXIT_INTR_INFO);
	e->insn_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
	e->insn_info = vmcs_read(VMX_INSTRUCTION_INFO);
	e->gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	/* An NMI that exited belongs to the host: run its handler now. */
	if (e->reason == EXIT_REASON_EXCEPTION_NMI &&
	    (e->intr_info & INTR_INFO_VALID_MASK) &&
	    (e->intr_info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR)
		asm volatile("int $2");
}

/*
 * DR6, which VMX does not switch: the guest's only while its DR7 enables
 * a breakpoint (its DR0-3: vhm_switch_to_guest). The exit leaves DR7 at
 * 0x400.
 */
static void vmx_dr6_load_guest(struct vhm_vcpu *vcpu, u64 dr7)
{
	if (dr7 & VMX_DR7_ENABLED)
		set_debugreg(to_vmx(vcpu)->dr6, 6);
}

static void vmx_dr6_put_guest(struct vhm_vcpu *vcpu, u64 dr7)
{
	if (dr7 & VMX_DR7_ENABLED) {
		get_debugreg(to_vmx(vcpu)->dr6, 6);
		set_debugreg(VMX_DR6_HOST, 6);
	}
}


/* Flush the L1D before every entry (L1TF): vmx_spec_init() decides. */
static bool vmx_l1d_flush __read_mostly;

/*
 * L1TF: a not-present entry in the guest's own page tables lets it read
 * speculatively whatever the L1D holds at the physical address it names,
 * EPT aside: the host's data too. Flush the L1D before every entry (KVM's
 * vmentry_l1d_flush=always; KVM's "cond" needs bookkeeping vhm does not
 * have) where the CPU is affected, has the flush command, the host has
 * not turned mitigations off and no parent hypervisor says it is not
 * needed. The kernel's l1tf= choice is exported to KVM only in 7.x and
 * not followed; the software flush for CPUs without the command is not
 * implemented (docs/ARCHITECTURE.md).
 */
static bool vmx_l1d_flush_wanted(void)
{
	u64 cap = 0;

	if (!boot_cpu_has_bug(X86_BUG_L1TF) ||
	    !boot_cpu_has(X86_FEATURE_FLUSH_L1D) || cpu_mitigations_off())
		return false;
	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		vhm_rdmsr(MSR_IA32_ARCH_CAPABILITIES, cap);
	return !(cap & ARCH_CAP_SKIP_VMENTRY_L1DFLUSH);
}

/*
 * What vmrun.S's ALTERNATIVEs and vmx_enter() do on this host besides the
 * RSB fill, which spec.c reports for both backends (spec.h).
 */
u32 vmx_spec_init(void)
{
	u32 s = boot_cpu_has(VHM_FEATURE_VERW_VMX) ? VHM_SPEC_VERW : 0;

	if (boot_cpu_has(X86_FEATURE_KERNEL_IBRS))
		s |= VHM_SPEC_IBRS;
	if (boot_cpu_has(VHM_FEATURE_BHB_VMEXIT))
		s |= VHM_SPEC_BHB;
	vmx_l1d_flush = vmx_l1d_flush_wanted();
	if (vmx_l1d_flush)
		s |= VHM_SPEC_L1D_FLUSH;
	return s;
}

/*
 * Preemption and interrupts off, the VMCS current on this CPU: the host
 * state VM exits do not restore, the guest's XCR0, breakpoints, MSRs and
 * CR2 around VMLAUNCH/VMRESUME, then the exit's information.
 */
void vmx_enter(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	u64 cr4 = vmcs_read(CR4_READ_SHADOW), dr7 = vmcs_read(GUEST_DR7);
	bool osxsave = cr4 & X86_CR4_OSXSAVE;
	struct vmx_host_state h;
	int fail;

	vmx_save_host(vmx, &h);
	vhm_switch_to_guest(vcpu, osxsave, dr7);
	vmx_dr6_load_guest(vcpu, dr7);
	vmx_msrs_load_guest(vmx, &h);
	if (vmx->cr2 != native_read_cr2())
		native_write_cr2(vmx->cr2);
	vhm_guest_state_enter_irqoff();
	/* Last: nothing of the host's gets into the L1D after it. */
	if (vmx_l1d_flush)
		vhm_wrmsr(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
	fail = vmx_vmenter(vcpu->regs, vmx->launched);
	vhm_guest_exited(vcpu);
	/* Every exit's handling reads these two: no VMREAD wrapper later. */
	vhm_reg_synced(vcpu, VHM_REG_RIP, vmcs_read(GUEST_RIP));
	vhm_reg_synced(vcpu, VHM_REG_RFLAGS, vmcs_read(GUEST_RFLAGS));
	vmx->cr2 = native_read_cr2();
	vmx_msrs_put_guest(vmx, &h);
	vmx_restore_host(&h);
	vmx_dr6_put_guest(vcpu, dr7);
	vhm_switch_to_host(vcpu, osxsave, dr7);
	vmx_read_exit(vmx, fail);
	/* The guest cannot change its CR4 without an exit handled later. */
	vmx->exit.cr4 = cr4;
}

/* Preemption off, interrupts on: the VMCS current on this CPU. */
void vmx_load(struct vhm_vcpu *vcpu)
{
	vmx_vcpu_load(to_vmx(vcpu));
}

