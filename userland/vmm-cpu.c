// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU entry states the boot code and vhm-bench start guests in (real,
 * 32-bit protected, 64-bit long mode, the Linux 64-bit boot protocol's)
 * and the guest page tables: the identity map built for long mode and the
 * walk of a guest's own tables (vmm-report.c).
 */
#include <stdio.h>
#include <string.h>

#include "vmm-internal.h"

static int vmm_set_entry(struct vmm *vmm, const struct vhm_sregs *s,
			 uint64_t entry, uint64_t rsp)
{
	struct vhm_regs r = { .rip = entry, .rflags = 2, .rsp = rsp };
	struct accel_vcpu *v = accel_bsp(&vmm->accel);

	return v->accel->ops->set_sregs(v, s) ||
	       v->accel->ops->set_regs(v, &r) ? -1 : 0;
}

/* Real mode at CS:IP = 0:entry. */
int vmm_setup_real(struct vmm *vmm, uint64_t entry)
{
	struct vhm_sregs s;

	if (entry > 0xffff) {
		fprintf(stderr, "vhmctl: a real-mode entry must be below 64 KiB\n");
		return -1;
	}
	if (vmm->accel.ops->get_sregs(accel_bsp(&vmm->accel), &s))
		return -1;
	s.cs.base = 0;
	s.cs.selector = 0;
	return vmm_set_entry(vmm, &s, entry, 0xfffe);
}

/* Guest-physical layout of the long-mode boot structures (--load). */
#define LM_GDT		0x500
#define LM_PML4		0x1000		/* then the PDPT, then 4 PDs */
#define LM_STACK	0x80000

/*
 * Identity-map the first gib GiB in 2 MiB pages: the PML4 at pml4, the
 * PDPT in the next page, then one page directory per GiB (at most 512).
 */
static void vmm_build_page_tables(struct vmm *vmm, uint64_t pml4_gpa,
				  unsigned int gib)
{
	uint64_t *pml4 = (uint64_t *)(vmm->ram + pml4_gpa);
	uint64_t pdpt_gpa = pml4_gpa + 0x1000, pd_gpa = pdpt_gpa + 0x1000;
	uint64_t *pdpt = (uint64_t *)(vmm->ram + pdpt_gpa);
	uint64_t *pd = (uint64_t *)(vmm->ram + pd_gpa);
	unsigned int i;

	memset(pml4, 0, 2 * 0x1000);
	pml4[0] = pdpt_gpa | 3;
	for (i = 0; i < gib; i++)
		pdpt[i] = (pd_gpa + i * 0x1000) | 3;
	for (i = 0; i < gib * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* P, RW, PS */
}

static void vmm_segment(struct vhm_segment *seg, uint16_t sel, uint16_t attrib)
{
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = sel;
	seg->attrib = attrib;
}

/*
 * 64-bit mode: a GDT at gdt_gpa with 64-bit code at selector cs and flat
 * data at cs + 8 (all data segment registers), the page tables at
 * pml4_gpa, SSE on, EFLAGS.IF clear, no IDT.
 */
static int vmm_enter_long(struct vmm *vmm, uint64_t gdt_gpa, uint16_t cs,
			  uint64_t pml4_gpa, struct vhm_regs *r)
{
	uint64_t *gdt = (uint64_t *)(vmm->ram + gdt_gpa);
	struct accel_vcpu *v = accel_bsp(&vmm->accel);
	const struct accel_ops *ops = vmm->accel.ops;
	struct vhm_sregs s;

	memset(gdt, 0, cs);
	gdt[cs / 8] = 0x00af9b000000ffffULL;		/* 64-bit code */
	gdt[cs / 8 + 1] = 0x00cf93000000ffffULL;	/* data */
	if (ops->get_sregs(v, &s))
		return -1;
	vmm_segment(&s.cs, cs, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) |
		    VHM_SEG_L | VHM_SEG_G);
	vmm_segment(&s.ds, cs + 8, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3) |
		    VHM_SEG_DB | VHM_SEG_G);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.gdt.base = gdt_gpa;
	s.gdt.limit = cs + 2 * 8 - 1;
	s.cr0 = 0x80050033;	/* PG, AM, WP, NE, ET, MP, PE */
	s.cr3 = pml4_gpa;
	s.cr4 = 0x620;		/* OSXMMEXCPT, OSFXSR, PAE */
	s.efer = 0x500;		/* LMA, LME */
	r->rflags = 2;
	return ops->set_sregs(v, &s) || ops->set_regs(v, r) ? -1 : 0;
}

int vmm_setup_long(struct vmm *vmm, uint64_t entry)
{
	struct vhm_regs r = { .rip = entry, .rsp = LM_STACK };

	if (vmm->ram_size < LM_STACK || entry >= vmm->ram_size) {
		fprintf(stderr, "vhmctl: long mode needs at least 512 KiB of RAM and the entry inside it\n");
		return -1;
	}
	vmm_build_page_tables(vmm, LM_PML4, 4);
	return vmm_enter_long(vmm, LM_GDT, 8, LM_PML4, &r);
}

int vmm_setup_linux64(struct vmm *vmm, uint64_t entry, uint64_t boot_params)
{
	struct vhm_regs r = { .rip = entry, .rsi = boot_params,
			      .rsp = VMM_LINUX_STACK };
	uint64_t gib = (vmm->ram_size + (1ull << 30) - 1) >> 30;

	if (vmm->ram_size < VMM_LINUX_LOW_END + 0x1000) {
		fprintf(stderr, "vhmctl: the Linux entry needs more than %#x bytes of RAM\n",
			VMM_LINUX_LOW_END);
		return -1;
	}
	if (gib < 4)
		gib = 4;
	if (gib > VMM_LINUX_PT_GIB)
		gib = VMM_LINUX_PT_GIB;
	vmm_build_page_tables(vmm, VMM_LINUX_PT, gib);
	return vmm_enter_long(vmm, VMM_LINUX_GDT, 0x10, VMM_LINUX_PT, &r);
}

/* Flat 4 GiB, paging off: what multiboot promises (EFLAGS.IF clear). */
int vmm_setup_protected(struct vmm *vmm, uint32_t entry, uint32_t eax,
			uint32_t ebx)
{
	struct vhm_regs r = { .rip = entry, .rflags = 2, .rax = eax, .rbx = ebx };
	struct accel_vcpu *v = accel_bsp(&vmm->accel);
	const struct accel_ops *ops = vmm->accel.ops;
	struct vhm_sregs s;

	if (ops->get_sregs(v, &s))
		return -1;
	vmm_segment(&s.cs, 8, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) |
		    VHM_SEG_DB | VHM_SEG_G);
	vmm_segment(&s.ds, 16, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3) |
		    VHM_SEG_DB | VHM_SEG_G);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.cr0 = 0x11;		/* ET, PE: caches on, no paging */
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	return ops->set_sregs(v, &s) || ops->set_regs(v, &r) ? -1 : 0;
}

/*
 * A guest-virtual address through the guest's 4-level page tables (CR3)
 * to vhmctl's view of guest RAM; NULL if unmapped or outside RAM. Large
 * pages (1 GiB, 2 MiB) end the walk early.
 */
uint64_t *vmm_gva_to_ram(struct vmm *vmm, uint64_t cr3, uint64_t gva)
{
	uint64_t table = cr3 & 0x000ffffffffff000ull, e = 0;
	int level, shift;

	for (level = 4; level >= 1; level--) {
		shift = 12 + 9 * (level - 1);
		if (table + 0x1000 > vmm->ram_size)
			return NULL;
		memcpy(&e, vmm->ram + table + ((gva >> shift) & 511) * 8, 8);
		if (!(e & 1))
			return NULL;
		table = e & 0x000ffffffffff000ull;
		if ((level == 3 || level == 2) && (e & 0x80)) {
			table &= ~((1ull << shift) - 1);
			break;
		}
	}
	table += gva & ((1ull << shift) - 1) & ~7ull;
	return table + 8 <= vmm->ram_size ? (uint64_t *)(vmm->ram + table) : NULL;
}
