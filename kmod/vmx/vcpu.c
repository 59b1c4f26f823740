// SPDX-License-Identifier: GPL-2.0
/*
 * VMX vCPU state: the VMCS (controls, host state, the guest's registers)
 * in the architectural reset state, and VHM_GET/SET_(S)REGS. A VMCS can
 * only be read and written on the CPU where it is current, so every access
 * from outside the entry path goes through vmx_read()/vmx_write() (or a
 * vmx_vmcs_get() ... vmx_vmcs_put() section), which make it current on
 * the calling CPU first. Intel SDM vol. 3C, chapter 25 "Virtual machine
 * control structures" and 26.3 "Checking and loading guest state".
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <asm/desc.h>
#include <asm/io.h>
#include <asm/processor.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/traps.h>

#include "compat.h"
#include "vhm.h"
#include "vmx.h"

#define VMX_RESET_CR0	(X86_CR0_CD | X86_CR0_NW | X86_CR0_ET)
#define VMX_RESET_PAT	0x0007040600070406ULL
#define VMX_RESET_DR7	0x400
#define VMX_RESET_DR6	0xffff0ff0ULL
#define VMX_AR_DATA	(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3))
#define VMX_AR_CODE	(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb))
#define VMX_RFLAGS_FIXED	X86_EFLAGS_FIXED
#define VMX_INTR_BLOCKING	(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)

/* Segment registers in VMCS field order: ES, CS, SS, DS, FS, GS, LDTR, TR. */
enum vmx_seg { VMX_ES, VMX_CS, VMX_SS, VMX_DS, VMX_FS, VMX_GS, VMX_LDTR,
	       VMX_TR, VMX_NR_SEGS };
#define VMX_SEG_SEL(s)		(GUEST_ES_SELECTOR + 2 * (s))
#define VMX_SEG_LIMIT(s)	(GUEST_ES_LIMIT + 2 * (s))
#define VMX_SEG_AR(s)		(GUEST_ES_AR_BYTES + 2 * (s))
#define VMX_SEG_BASE(s)		(GUEST_ES_BASE + 2 * (s))

u64 vmx_read(struct vmx_vcpu *vmx, unsigned long field)
{
	struct vmx_section sec;
	u64 value;

	vmx_vmcs_get(vmx, &sec);
	value = vmcs_read(field);
	vmx_vmcs_put(vmx, &sec);
	return value;
}

void vmx_write(struct vmx_vcpu *vmx, unsigned long field, u64 value)
{
	struct vmx_section sec;

	vmx_vmcs_get(vmx, &sec);
	vmcs_write(field, value);
	vmx_vmcs_put(vmx, &sec);
}

/*
 * CR0 bits the guest owns: all but those VMX operation fixes (NE; PE and
 * PG are free with unrestricted guest). The guest reads its own value of
 * the others from the read shadow; writing a different one exits.
 */
static u64 vmx_cr0_host_bits(void)
{
	return (vmx_cfg.cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG)) |
	       (~vmx_cfg.cr0_fixed1 & 0xffffffffULL);
}

static u64 vmx_cr0_hw(u64 cr0)
{
	return (cr0 | (vmx_cfg.cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG))) &
	       vmx_cfg.cr0_fixed1;
}

/* Current VMCS: what the guest sees in CR0 and CR4. */
static u64 vmcs_guest_cr0(void)
{
	u64 mask = vmcs_read(CR0_GUEST_HOST_MASK);

	return (vmcs_read(GUEST_CR0) & ~mask) |
	       (vmcs_read(CR0_READ_SHADOW) & mask);
}

/* Every CR4 bit is the host's: each change exits (cr.c checks it). */
static u64 vmcs_guest_cr4(void)
{
	return vmcs_read(CR4_READ_SHADOW);
}

static void vmcs_set_guest_cr0(u64 cr0)
{
	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(GUEST_CR0, vmx_cr0_hw(cr0));
}

static void vmcs_set_guest_cr4(u64 cr4)
{
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmcs_write(GUEST_CR4, (cr4 | vmx_cfg.cr4_fixed0) & vmx_cfg.cr4_fixed1);
}

u64 vmx_guest_cr0(struct vmx_vcpu *vmx)
{
	struct vmx_section sec;
	u64 cr0;

	vmx_vmcs_get(vmx, &sec);
	cr0 = vmcs_guest_cr0();
	vmx_vmcs_put(vmx, &sec);
	return cr0;
}

u64 vmx_guest_cr4(struct vmx_vcpu *vmx)
{
	return vmx_read(vmx, CR4_READ_SHADOW);
}

void vmx_set_guest_cr0(struct vmx_vcpu *vmx, u64 cr0)
{
	struct vmx_section sec;

	vmx_vmcs_get(vmx, &sec);
	vmcs_set_guest_cr0(cr0);
	vmx_vmcs_put(vmx, &sec);
}

void vmx_set_guest_cr4(struct vmx_vcpu *vmx, u64 cr4)
{
	struct vmx_section sec;

	vmx_vmcs_get(vmx, &sec);
	vmcs_set_guest_cr4(cr4);
	vmx_vmcs_put(vmx, &sec);
}

/*
 * PAE paging with EPT: VM entry loads the four PDPTEs from the VMCS, not
 * from memory, so they follow every CR0/CR3/CR4 change vhm makes.
 */
void vmx_load_pdptrs(struct vmx_vcpu *vmx)
{
	u64 cr0 = vmx_guest_cr0(vmx), cr4 = vmx_guest_cr4(vmx);
	u64 pdpte[4] = { 0 };
	int i;

	if (!(cr0 & X86_CR0_PG) || !(cr4 & X86_CR4_PAE) ||
	    (vmx_read(vmx, GUEST_IA32_EFER) & EFER_LMA))
		return;
	if (vhm_read_guest_phys(vmx->vcpu->vm,
				vmx_read(vmx, GUEST_CR3) & GENMASK_ULL(31, 5),
				pdpte, sizeof(pdpte)))
		memset(pdpte, 0, sizeof(pdpte));
	for (i = 0; i < 4; i++)
		vmx_write(vmx, GUEST_PDPTR0 + 2 * i, pdpte[i]);
}

static void vmx_init_controls(struct vmx_vcpu *vmx)
{
	u32 proc2 = vmx_cfg.proc2;

	/* Without a VPID (vmx_vpid_alloc()), VPIDs stay off for the vCPU. */
	if (!vmx->vpid)
		proc2 &= ~SECONDARY_EXEC_ENABLE_VPID;
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, vmx_cfg.pin);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, vmx_cfg.proc);
	vmx->proc = vmx_cfg.proc;
	vmcs_write(SECONDARY_VM_EXEC_CONTROL, proc2);
	vmcs_write(VM_EXIT_CONTROLS, vmx_cfg.exit);
	vmcs_write(VM_ENTRY_CONTROLS, vmx_cfg.entry);
	/*
	 * A machine check belongs to the host; #UD is looked at for the AMD
	 * hypercall instruction (VMMCALL), handled like VMCALL. #AC and #DB
	 * always exit and are reflected (vmx_run.c): a guest whose delivery
	 * of one raises it again would otherwise keep the CPU in microcode,
	 * deaf to host interrupts (CVE-2015-5307, CVE-2015-8104). Nothing
	 * changes the bitmap later.
	 */
	vmcs_write(EXCEPTION_BITMAP, BIT(UD_VECTOR) | BIT(MC_VECTOR) |
		   BIT(AC_VECTOR) | BIT(DB_VECTOR));
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(CR0_GUEST_HOST_MASK, vmx_cr0_host_bits());
	vmcs_write(CR4_GUEST_HOST_MASK, ~0UL);
	vmcs_write(TSC_OFFSET, 0);
	vmcs_write(VMCS_LINK_POINTER, ~0ULL);
	vmcs_write(EPT_POINTER, vmx_eptp(vmx->vcpu->vm));
	if (vmx_cfg.proc & CPU_BASED_USE_MSR_BITMAPS)
		vmcs_write(MSR_BITMAP, vmx_msr_bitmap_pa());
	if (vmx->vpid)
		vmcs_write(VIRTUAL_PROCESSOR_ID, vmx->vpid);
	/* Reloaded at every entry (its value is not saved on exit). */
	if (vmx_cfg.pin & PIN_BASED_VMX_PREEMPTION_TIMER)
		vmcs_write(VMX_PREEMPTION_TIMER_VALUE, vmx_cfg.preemption_timer);
}

/* Host state the same on every CPU; vmx.c writes the per-CPU part. */
static void vmx_init_host(void)
{
	struct desc_ptr idt;
	u64 v;

	vmcs_write(HOST_CR0, read_cr0());
	vmcs_write(HOST_CR4, vhm_cr4_read());
	vmcs_write(HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(HOST_DS_SELECTOR, 0);
	vmcs_write(HOST_ES_SELECTOR, 0);
	vmcs_write(HOST_FS_SELECTOR, 0);
	vmcs_write(HOST_GS_SELECTOR, 0);
	vmcs_write(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	store_idt(&idt);
	vmcs_write(HOST_IDTR_BASE, idt.address);
	vmcs_write(HOST_RIP, (unsigned long)vmx_vmexit);
	vhm_rdmsr(MSR_IA32_SYSENTER_CS, v);
	vmcs_write(HOST_IA32_SYSENTER_CS, v);
	vhm_rdmsr(MSR_IA32_SYSENTER_EIP, v);
	vmcs_write(HOST_IA32_SYSENTER_EIP, v);
	vhm_rdmsr(MSR_EFER, v);
	vmcs_write(HOST_IA32_EFER, v);
	vhm_rdmsr(MSR_IA32_CR_PAT, v);
	vmcs_write(HOST_IA32_PAT, v);
}

static void vmcs_set_seg(enum vmx_seg seg, u16 sel, u64 base, u32 limit,
			 u32 ar)
{
	vmcs_write(VMX_SEG_SEL(seg), sel);
	vmcs_write(VMX_SEG_BASE(seg), base);
	vmcs_write(VMX_SEG_LIMIT(seg), limit);
	vmcs_write(VMX_SEG_AR(seg), ar);
}

/* The state after RESET (Intel SDM vol. 3A, 10.1.1). */
static void vmx_init_guest(void)
{
	enum vmx_seg s;

	for (s = VMX_ES; s <= VMX_GS; s++)
		vmcs_set_seg(s, 0, 0, 0xffff, VMX_AR_DATA);
	vmcs_set_seg(VMX_CS, 0xf000, 0xffff0000, 0xffff, VMX_AR_CODE);
	vmcs_set_seg(VMX_LDTR, 0, 0, 0xffff, VHM_SEG_P | VHM_SEG_TYPE(2));
	vmcs_set_seg(VMX_TR, 0, 0, 0xffff, VHM_SEG_P | VHM_SEG_TYPE(0xb));
	vmcs_write(GUEST_GDTR_BASE, 0);
	vmcs_write(GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(GUEST_IDTR_BASE, 0);
	vmcs_write(GUEST_IDTR_LIMIT, 0xffff);
	vmcs_set_guest_cr0(VMX_RESET_CR0);
	vmcs_set_guest_cr4(0);
	vmcs_write(GUEST_CR3, 0);
	vmcs_write(GUEST_IA32_EFER, 0);
	vmcs_write(GUEST_IA32_PAT, VMX_RESET_PAT);
	vmcs_write(GUEST_DR7, VMX_RESET_DR7);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(GUEST_RIP, 0xfff0);
	vmcs_write(GUEST_RSP, 0);
	vmcs_write(GUEST_RFLAGS, VMX_RFLAGS_FIXED);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	for (s = 0; s < 4; s++)
		vmcs_write(GUEST_PDPTR0 + 2 * s, 0);
}

int vmx_vcpu_create(struct vhm_vcpu *vcpu)
{
	struct vmx_section sec;
	struct vmx_vcpu *vmx;
	struct page *page;
	int vpid;

	vmx = kzalloc(sizeof(*vmx), GFP_KERNEL_ACCOUNT);
	if (!vmx)
		return -ENOMEM;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		goto free_vmx;
	vpid = vmx_vpid_alloc();
	if (vpid < 0)
		goto free_page;
	vmx->vmcs = page_address(page);
	vmx->vmcs_pa = page_to_phys(page);
	*(u32 *)vmx->vmcs = vmx_revision;
	vmx->vpid = vpid;
	vmx->cpu = -1;
	INIT_LIST_HEAD(&vmx->loaded);
	vmx->vcpu = vcpu;
	vmx->dr6 = VMX_RESET_DR6;
	vcpu->vendor = vmx;

	vmx_vmclear(vmx->vmcs_pa);	/* launch state clear, data in memory */
	vmx_vmcs_get(vmx, &sec);
	vmx_init_controls(vmx);
	vmx_init_host();
	vmx_init_guest();
	vmx_vmcs_put(vmx, &sec);
	return 0;

free_page:
	__free_page(page);
free_vmx:
	kfree(vmx);
	return -ENOMEM;
}

/*
 * VMCLEAR while the VM lives: on top of KVM, KVM turns VMX off once its
 * last VM is gone (the one this VM holds among them), and a VMCS still
 * active then was never written back; its page is freed later.
 */
void vmx_vcpu_release(struct vhm_vcpu *vcpu)
{
	vmx_vcpu_clear(to_vmx(vcpu));
}

void vmx_vcpu_free(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx_vcpu_clear(vmx);
	vmx_vpid_free(vmx->vpid);
	__free_page(virt_to_page(vmx->vmcs));
	kfree(vmx);
}

/* RSP, RIP and RFLAGS: the VMCS's copies (regs.h). */
static unsigned long vmx_reg_field(unsigned int reg)
{
	switch (reg) {
	case VHM_GPR_RSP:
		return GUEST_RSP;
	case VHM_REG_RIP:
		return GUEST_RIP;
	default:
		WARN_ON_ONCE(reg != VHM_REG_RFLAGS);
		return GUEST_RFLAGS;
	}
}

u64 vmx_read_reg(struct vhm_vcpu *vcpu, unsigned int reg)
{
	return vmx_read(to_vmx(vcpu), vmx_reg_field(reg));
}

/* Only from vhm_regs_flush(): interrupts off, the VMCS current. */
void vmx_write_reg(struct vhm_vcpu *vcpu, unsigned int reg, u64 val)
{
	lockdep_assert_irqs_disabled();
	vmcs_write(vmx_reg_field(reg), val);
}

/*
 * VMX access rights: VHM_SEG_* bits 0-7 as they are, AVL/L/DB/G four bits
 * higher, "unusable" in bit 16 (a null selector loaded, or not present).
 */
static void vmcs_seg_out(struct vhm_segment *out, enum vmx_seg seg)
{
	u32 ar = vmcs_read(VMX_SEG_AR(seg));

	out->selector = vmcs_read(VMX_SEG_SEL(seg));
	out->base = vmcs_read(VMX_SEG_BASE(seg));
	out->limit = vmcs_read(VMX_SEG_LIMIT(seg));
	out->attrib = (ar & 0xff) | ((ar >> 4) & 0xf00);
	if (ar & VMX_AR_UNUSABLE_MASK)
		out->attrib = (out->attrib & ~VHM_SEG_P) | VHM_SEG_UNUSABLE;
}

static void vmcs_seg_in(enum vmx_seg seg, const struct vhm_segment *in)
{
	u32 ar = (in->attrib & 0xff) | ((in->attrib & 0xf00) << 4);

	if ((in->attrib & VHM_SEG_UNUSABLE) || !(in->attrib & VHM_SEG_P))
		ar |= VMX_AR_UNUSABLE_MASK;
	else if (seg != VMX_LDTR && seg != VMX_TR)
		ar |= VMX_AR_TYPE_ACCESSES_MASK;	/* loading sets it */
	vmcs_set_seg(seg, in->selector, in->base, in->limit, ar);
}

static struct vhm_segment *vmx_sregs_seg(struct vhm_sregs *s, enum vmx_seg seg)
{
	struct vhm_segment *segs[VMX_NR_SEGS] = {
		&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs, &s->ldt, &s->tr,
	};

	return segs[seg];
}

void vmx_get_sregs(struct vhm_vcpu *vcpu, struct vhm_sregs *s)
{
	struct vmx_section sec;
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	enum vmx_seg seg;

	vmx_vmcs_get(vmx, &sec);
	for (seg = 0; seg < VMX_NR_SEGS; seg++)
		vmcs_seg_out(vmx_sregs_seg(s, seg), seg);
	s->gdt.base = vmcs_read(GUEST_GDTR_BASE);
	s->gdt.limit = vmcs_read(GUEST_GDTR_LIMIT);
	s->idt.base = vmcs_read(GUEST_IDTR_BASE);
	s->idt.limit = vmcs_read(GUEST_IDTR_LIMIT);
	s->cr0 = vmcs_guest_cr0();
	s->cr3 = vmcs_read(GUEST_CR3);
	s->cr4 = vmcs_guest_cr4();
	s->efer = vmcs_read(GUEST_IA32_EFER);
	vmx_vmcs_put(vmx, &sec);
	s->cr2 = vmx->cr2;
	s->cr8 = vmx->cr8;
}

/* Current VMCS: EFER and the IA-32e mode guest control that follows LMA. */
static void vmcs_set_efer(u64 efer)
{
	u64 entry = vmcs_read(VM_ENTRY_CONTROLS);

	vmcs_write(GUEST_IA32_EFER, efer);
	if (efer & EFER_LMA)
		entry |= VM_ENTRY_IA32E_MODE;
	else
		entry &= ~(u64)VM_ENTRY_IA32E_MODE;
	vmcs_write(VM_ENTRY_CONTROLS, entry);
}

void vmx_set_efer(struct vmx_vcpu *vmx, u64 efer)
{
	struct vmx_section sec;

	vmx_vmcs_get(vmx, &sec);
	vmcs_set_efer(efer);
	vmx_vmcs_put(vmx, &sec);
}

int vmx_set_sregs(struct vhm_vcpu *vcpu, const struct vhm_sregs *s)
{
	struct vmx_section sec;
	struct vmx_vcpu *vmx = to_vmx(vcpu);
	struct vhm_sregs in = *s;
	enum vmx_seg seg;

	vmx_vmcs_get(vmx, &sec);
	for (seg = 0; seg < VMX_NR_SEGS; seg++)
		vmcs_seg_in(seg, vmx_sregs_seg(&in, seg));
	vmcs_write(GUEST_GDTR_BASE, s->gdt.base);
	vmcs_write(GUEST_GDTR_LIMIT, s->gdt.limit);
	vmcs_write(GUEST_IDTR_BASE, s->idt.base);
	vmcs_write(GUEST_IDTR_LIMIT, s->idt.limit);
	vmcs_set_guest_cr0(s->cr0);
	vmcs_write(GUEST_CR3, s->cr3);
	vmcs_set_guest_cr4(s->cr4);
	vmcs_set_efer(s->efer);
	vmx_vmcs_put(vmx, &sec);
	vmx->cr2 = s->cr2;
	vmx->cr8 = s->cr8;
	vmx_load_pdptrs(vmx);
	vmx->flush_vpid = true;
	return 0;
}

unsigned int vmx_guest_cpl(struct vmx_vcpu *vmx)
{
	return VMX_AR_DPL(vmx_read(vmx, GUEST_SS_AR_BYTES));
}

bool vmx_long_mode64(struct vmx_vcpu *vmx)
{
	return (vmx_read(vmx, GUEST_IA32_EFER) & EFER_LMA) &&
	       (vmx_read(vmx, GUEST_CS_AR_BYTES) & VMX_AR_L_MASK);
}

/*
 * Past an instruction: RIP moves on, an STI or MOV SS shadow ends, a
 * single step the guest asked for traps after it.
 */
void vmx_skip(struct vmx_vcpu *vmx, unsigned int len)
{
	struct vmx_section sec;
	u64 rip = vhm_rip(vmx->vcpu) + len, intr;

	vmx_vmcs_get(vmx, &sec);
	vmcs_write(GUEST_RIP, rip);
	vhm_reg_synced(vmx->vcpu, VHM_REG_RIP, rip);
	intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	if (intr & VMX_INTR_BLOCKING)
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
			   intr & ~(u64)VMX_INTR_BLOCKING);
	vmx_vmcs_put(vmx, &sec);
	vhm_dr_single_step(vmx->vcpu);
}
