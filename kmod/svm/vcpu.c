// SPDX-License-Identifier: GPL-2.0
/*
 * SVM vCPU state: the VMCB (intercepts, nested paging, the guest's
 * registers) in the architectural reset state, and VHM_GET/SET_(S)REGS.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <asm/io.h>
#include <asm/processor.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

#include "compat.h"
#include "svm.h"
#include "vhm.h"

#define SVM_RESET_CR0	(X86_CR0_CD | X86_CR0_NW | X86_CR0_ET)
#define SVM_RESET_PAT	0x0007040600070406ULL
#define SVM_SEG_DATA	(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3))
#define SVM_SEG_CODE	(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb))
#define SVM_RFLAGS_FIXED	X86_EFLAGS_FIXED

static void svm_init_control(struct vhm_vcpu *vcpu, struct vmcb *vmcb)
{
	static const unsigned int intercepts[] = {
		INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI, INTERCEPT_INIT,
		INTERCEPT_CPUID, INTERCEPT_HLT, INTERCEPT_IOIO_PROT,
		INTERCEPT_MSR_PROT, INTERCEPT_SHUTDOWN, INTERCEPT_INVD,
		INTERCEPT_INVLPGA, INTERCEPT_TASK_SWITCH, INTERCEPT_RSM,
		INTERCEPT_VMRUN, INTERCEPT_VMMCALL, INTERCEPT_VMLOAD,
		INTERCEPT_VMSAVE, INTERCEPT_STGI, INTERCEPT_CLGI,
		INTERCEPT_SKINIT, INTERCEPT_MONITOR, INTERCEPT_MWAIT,
		INTERCEPT_XSETBV, INTERCEPT_RDPRU, INTERCEPT_CR4_WRITE,
		INTERCEPT_WBINVD, INTERCEPT_RDPMC,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(intercepts); i++)
		svm_set_intercept(vmcb, intercepts[i]);
	/*
	 * With the in-kernel APIC, CR8 is its TPR: writes exit (svm/run.c),
	 * reads see V_TPR, which svm_inject_events() keeps equal to it.
	 */
	if (vcpu->vm->lapic)
		svm_set_intercept(vmcb, INTERCEPT_CR8_WRITE);
	/* Debug registers stay the host's: every access exits. */
	vmcb->control.intercepts[INTERCEPT_DR] = ~0u;
	/* A machine check belongs to the host. */
	svm_set_intercept(vmcb, INTERCEPT_EXCEPTION_OFFSET + MC_VECTOR);
	/*
	 * #AC and #DB always exit and are reflected (svm_events.c): a guest
	 * whose delivery of one raises it again would otherwise keep the
	 * CPU in microcode, deaf to host interrupts (CVE-2015-5307,
	 * CVE-2015-8104). Never cleared.
	 */
	svm_set_intercept(vmcb, INTERCEPT_EXCEPTION_OFFSET + AC_VECTOR);
	svm_set_intercept(vmcb, INTERCEPT_EXCEPTION_OFFSET + DB_VECTOR);
	vmcb->control.iopm_base_pa = svm_iopm_pa();
	vmcb->control.msrpm_base_pa = svm_msrpm_pa();
	vmcb->control.int_ctl = V_INTR_MASKING_MASK;
	vhm_vmcb_misc_ctl(&vmcb->control) = VHM_VMCB_NP_ENABLE;
	vmcb->control.nested_cr3 = vhm_mmu_root_pa(vcpu->vm);
}

static void svm_set_seg(struct vmcb_seg *seg, u16 sel, u64 base, u32 limit,
			u16 attrib)
{
	seg->selector = sel;
	seg->base = base;
	seg->limit = limit;
	seg->attrib = attrib;
}

/* The state after RESET (AMD APM vol. 2, 14.1.3). */
static void svm_init_save(struct vmcb *vmcb)
{
	struct vmcb_save_area *save = &vmcb->save;

	svm_set_seg(&save->cs, 0xf000, 0xffff0000, 0xffff, SVM_SEG_CODE);
	svm_set_seg(&save->ds, 0, 0, 0xffff, SVM_SEG_DATA);
	save->es = save->ds;
	save->fs = save->ds;
	save->gs = save->ds;
	save->ss = save->ds;
	svm_set_seg(&save->ldtr, 0, 0, 0xffff, VHM_SEG_P | VHM_SEG_TYPE(2));
	svm_set_seg(&save->tr, 0, 0, 0xffff, VHM_SEG_P | VHM_SEG_TYPE(0xb));
	save->gdtr.limit = 0xffff;
	save->idtr.limit = 0xffff;
	save->cr0 = SVM_RESET_CR0;
	save->efer = EFER_SVME;
	save->dr6 = 0xffff0ff0;
	save->dr7 = 0x400;
	save->rflags = SVM_RFLAGS_FIXED;
	save->rip = 0xfff0;
	save->g_pat = SVM_RESET_PAT;
}

int svm_vcpu_create(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm;
	struct page *page;

	svm = kzalloc(sizeof(*svm), GFP_KERNEL_ACCOUNT);
	if (!svm)
		return -ENOMEM;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page) {
		kfree(svm);
		return -ENOMEM;
	}
	svm->vmcb = page_address(page);
	svm->vmcb_pa = page_to_phys(page);
	svm->asid_cpu = -1;
	svm->vcpu = vcpu;
	svm_init_control(vcpu, svm->vmcb);
	svm_init_save(svm->vmcb);
	vcpu->vendor = svm;
	return 0;
}

void svm_vcpu_free(struct vhm_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	__free_page(virt_to_page(svm->vmcb));
	kfree(svm);
}

static void svm_seg_out(struct vhm_segment *out, const struct vmcb_seg *seg)
{
	out->base = seg->base;
	out->limit = seg->limit;
	out->selector = seg->selector;
	out->attrib = seg->attrib & 0xfff;
	if (!(seg->attrib & VHM_SEG_P))
		out->attrib |= VHM_SEG_UNUSABLE;
}

static void svm_seg_in(struct vmcb_seg *seg, const struct vhm_segment *in)
{
	seg->base = in->base;
	seg->limit = in->limit;
	seg->selector = in->selector;
	seg->attrib = in->attrib & 0xfff;
	if (in->attrib & VHM_SEG_UNUSABLE)
		seg->attrib &= ~VHM_SEG_P;
}

void svm_get_sregs(struct vhm_vcpu *vcpu, struct vhm_sregs *s)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;

	svm_seg_out(&s->cs, &save->cs);
	svm_seg_out(&s->ds, &save->ds);
	svm_seg_out(&s->es, &save->es);
	svm_seg_out(&s->fs, &save->fs);
	svm_seg_out(&s->gs, &save->gs);
	svm_seg_out(&s->ss, &save->ss);
	svm_seg_out(&s->tr, &save->tr);
	svm_seg_out(&s->ldt, &save->ldtr);
	s->gdt.base = save->gdtr.base;
	s->gdt.limit = save->gdtr.limit;
	s->idt.base = save->idtr.base;
	s->idt.limit = save->idtr.limit;
	s->cr0 = save->cr0;
	s->cr2 = save->cr2;
	s->cr3 = save->cr3;
	s->cr4 = save->cr4;
	s->cr8 = svm->vmcb->control.int_ctl & V_TPR_MASK;
	s->efer = save->efer & ~EFER_SVME;
}

int svm_set_sregs(struct vhm_vcpu *vcpu, const struct vhm_sregs *s)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;

	/* The guest's translations and paging-structure caches follow them. */
	if (save->cr0 != s->cr0 || save->cr3 != s->cr3 || save->cr4 != s->cr4)
		svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	svm_seg_in(&save->cs, &s->cs);
	svm_seg_in(&save->ds, &s->ds);
	svm_seg_in(&save->es, &s->es);
	svm_seg_in(&save->fs, &s->fs);
	svm_seg_in(&save->gs, &s->gs);
	svm_seg_in(&save->ss, &s->ss);
	svm_seg_in(&save->tr, &s->tr);
	svm_seg_in(&save->ldtr, &s->ldt);
	save->gdtr.base = s->gdt.base;
	save->gdtr.limit = s->gdt.limit;
	save->idtr.base = s->idt.base;
	save->idtr.limit = s->idt.limit;
	save->cr0 = s->cr0;
	/* The privilege level: CS.DPL once protected, 0 in real mode. */
	save->cpl = s->cr0 & X86_CR0_PE ? (save->cs.attrib >> 5) & 3 : 0;
	save->cr2 = s->cr2;
	save->cr3 = s->cr3;
	save->cr4 = s->cr4;
	svm->vmcb->control.int_ctl = (svm->vmcb->control.int_ctl & ~V_TPR_MASK) |
				     s->cr8;
	save->efer = s->efer | EFER_SVME;
	return 0;
}

void svm_get_dr67(struct vhm_vcpu *vcpu, u64 *dr6, u64 *dr7)
{
	*dr6 = to_svm(vcpu)->vmcb->save.dr6;
	*dr7 = to_svm(vcpu)->vmcb->save.dr7;
}

void svm_set_dr67(struct vhm_vcpu *vcpu, u64 dr6, u64 dr7)
{
	to_svm(vcpu)->vmcb->save.dr6 = dr6;
	to_svm(vcpu)->vmcb->save.dr7 = dr7;
}

/* The registers of the register file the VMCB holds (regs.h). */
static u64 *svm_reg(struct vhm_vcpu *vcpu, unsigned int reg)
{
	struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;

	switch (reg) {
	case VHM_GPR_RAX:
		return &save->rax;
	case VHM_GPR_RSP:
		return &save->rsp;
	case VHM_REG_RIP:
		return &save->rip;
	default:
		WARN_ON_ONCE(reg != VHM_REG_RFLAGS);
		return &save->rflags;
	}
}

u64 svm_read_reg(struct vhm_vcpu *vcpu, unsigned int reg)
{
	return *svm_reg(vcpu, reg);
}

void svm_write_reg(struct vhm_vcpu *vcpu, unsigned int reg, u64 val)
{
	*svm_reg(vcpu, reg) = val;
}

void svm_skip_insn(struct vhm_vcpu *vcpu, unsigned int len)
{
	svm_skip(to_svm(vcpu), len);
}

/* SVM keeps no pending debug exceptions across an exit. */
u32 svm_end_shadow(struct vhm_vcpu *vcpu)
{
	svm_clear_interrupt_shadow(to_svm(vcpu));
	return 0;
}

unsigned int svm_cpl(struct vhm_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.cpl;
}

u64 svm_cr4(struct vhm_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.cr4;
}
