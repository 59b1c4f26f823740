// SPDX-License-Identifier: GPL-2.0
/*
 * Reading guest memory from the vCPU thread: guest-physical addresses are
 * the VMM's own memory (copy_from_user through the slots), guest-virtual
 * ones are translated by walking the guest's page tables in software.
 */
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "regs.h"
#include "vhm.h"
#include "vm.h"

#define PTE_P		BIT_ULL(0)
#define PTE_RW		BIT_ULL(1)
#define PTE_US		BIT_ULL(2)
#define PTE_PS		BIT_ULL(7)
#define PTE_NX		BIT_ULL(63)
#define PTE_ADDR	GENMASK_ULL(51, 12)

/*
 * What the entries of a walk allow, combined over its levels (Intel SDM
 * vol. 3A 4.6; AMD APM vol. 2 5.6): writable and user only if every level
 * says so, not executable if any level says so.
 */
struct vhm_walk {
	u32 access;	/* VHM_GVA_* of the access being checked */
	bool nx_on;	/* EFER.NXE (long mode and PAE paging) */
	bool rw, us, nx;
};

static void vhm_walk_start(struct vhm_walk *w, u32 access, bool nx_on)
{
	w->access = access;
	w->nx_on = nx_on;
	w->rw = true;
	w->us = true;
	w->nx = false;
}

static void vhm_walk_add(struct vhm_walk *w, u64 e)
{
	w->rw &= !!(e & PTE_RW);
	w->us &= !!(e & PTE_US);
	w->nx |= w->nx_on && (e & PTE_NX);
}

/* The #PF error code bits of the access itself (P is the caller's). */
static int vhm_walk_fault(const struct vhm_walk *w, u32 p)
{
	u32 error = p | (w->access & (VHM_PF_WRITE | VHM_PF_USER));

	if ((w->access & VHM_PF_FETCH) &&
	    (w->nx_on || (w->access & VHM_GVA_SMEP)))
		error |= VHM_PF_FETCH;
	return VHM_GVA_PF | error;
}

/*
 * The checks of a translation that reached a page: 0 if the access may
 * go on, else VHM_GVA_PF | the #PF error code (P set).
 */
static int vhm_walk_check(const struct vhm_walk *w)
{
	u32 a = w->access;
	bool user = a & VHM_PF_USER;

	if (user && !w->us)
		return vhm_walk_fault(w, VHM_PF_PRESENT);
	if ((a & VHM_PF_WRITE) && !w->rw && (user || (a & VHM_GVA_WP)))
		return vhm_walk_fault(w, VHM_PF_PRESENT);
	if (a & VHM_PF_FETCH) {
		if (w->nx || (!user && w->us && (a & VHM_GVA_SMEP)))
			return vhm_walk_fault(w, VHM_PF_PRESENT);
	} else if (!user && w->us && (a & VHM_GVA_SMAP) && !(a & VHM_GVA_AC)) {
		return vhm_walk_fault(w, VHM_PF_PRESENT);
	}
	return 0;
}

enum vhm_cpu_mode vhm_guest_mode(const struct vhm_sregs *s,
				 const struct vhm_regs *r)
{
	if (!(s->cr0 & X86_CR0_PE) || (r->rflags & X86_EFLAGS_VM))
		return VHM_MODE_REAL;
	if ((s->efer & EFER_LMA) && (s->cs.attrib & VHM_SEG_L))
		return VHM_MODE_LONG64;
	return s->cs.attrib & VHM_SEG_DB ? VHM_MODE_PROT32 : VHM_MODE_PROT16;
}

int vhm_read_guest_phys(struct vhm_vm *vm, u64 gpa, void *buf, unsigned int len)
{
	const struct vhm_memslot *s;
	unsigned long hva = 0;

	spin_lock(&vm->mmu.lock);
	s = vhm_find_slot(vm, gpa);
	if (s && gpa + len <= s->gpa + s->size)
		hva = s->hva + (gpa - s->gpa);
	spin_unlock(&vm->mmu.lock);
	if (!hva)
		return -EFAULT;
	return copy_from_user(buf, (void __user *)hva, len) ? -EFAULT : 0;
}

/*
 * One level of a page walk: the entry, 0 when it is there, -EFAULT when
 * the table is not in guest RAM, VHM_GVA_PF | error when not present.
 */
static int vhm_walk_entry(struct vhm_vm *vm, struct vhm_walk *w, u64 table,
			  unsigned int index, unsigned int entry_size,
			  u64 *entry)
{
	u64 e = 0;
	int r;

	r = vhm_read_guest_phys(vm, table + index * entry_size, &e, entry_size);
	if (r)
		return r;
	if (!(e & PTE_P))
		return vhm_walk_fault(w, 0);
	*entry = e;
	return 0;
}

static int vhm_walk_long(struct vhm_vm *vm, struct vhm_walk *w, u64 cr3,
			 u64 gva, int levels, u64 *gpa)
{
	u64 table = cr3 & PTE_ADDR, e;
	int level, r;

	for (level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);

		r = vhm_walk_entry(vm, w, table, (gva >> shift) & 511, 8, &e);
		if (r)
			return r;
		vhm_walk_add(w, e);
		if (level == 1 || (level <= 3 && (e & PTE_PS))) {
			u64 mask = (1ULL << shift) - 1;

			*gpa = ((e & PTE_ADDR) & ~mask) | (gva & mask);
			return vhm_walk_check(w);
		}
		table = e & PTE_ADDR;
	}
	return -EFAULT;
}

/* PAE paging: the PDPTEs carry no permissions. */
static int vhm_walk_pae(struct vhm_vm *vm, struct vhm_walk *w, u64 cr3,
			u64 gva, u64 *gpa)
{
	u64 pdpte;
	int r;

	r = vhm_walk_entry(vm, w, cr3 & GENMASK_ULL(31, 5), (gva >> 30) & 3, 8,
			   &pdpte);
	if (r)
		return r;
	return vhm_walk_long(vm, w, pdpte & PTE_ADDR, gva, 2, gpa);
}

static int vhm_walk_32(struct vhm_vm *vm, struct vhm_walk *w, u64 cr3,
		       u32 gva, bool pse, u64 *gpa)
{
	u64 pde = 0, pte = 0;
	int r;

	r = vhm_walk_entry(vm, w, cr3 & GENMASK_ULL(31, 12), gva >> 22, 4,
			   &pde);
	if (r)
		return r;
	vhm_walk_add(w, pde);
	if (pse && (pde & PTE_PS)) {
		*gpa = (pde & GENMASK_ULL(31, 22)) | (gva & GENMASK(21, 0));
		return vhm_walk_check(w);
	}
	r = vhm_walk_entry(vm, w, pde & GENMASK_ULL(31, 12), (gva >> 12) & 1023,
			   4, &pte);
	if (r)
		return r;
	vhm_walk_add(w, pte);
	*gpa = (pte & GENMASK_ULL(31, 12)) | (gva & GENMASK(11, 0));
	return vhm_walk_check(w);
}

u32 vhm_gva_access(const struct vhm_sregs *s, u64 rflags, u32 what)
{
	u32 access = what & (VHM_PF_WRITE | VHM_PF_FETCH);

	/* CPL: SS.DPL (3 in virtual-8086 mode, 0 in real mode). */
	if ((rflags & X86_EFLAGS_VM) ||
	    ((s->cr0 & X86_CR0_PE) && ((s->ss.attrib >> 5) & 3) == 3))
		access |= VHM_PF_USER;
	if (s->cr0 & X86_CR0_WP)
		access |= VHM_GVA_WP;
	if (s->cr4 & X86_CR4_SMEP)
		access |= VHM_GVA_SMEP;
	if (s->cr4 & X86_CR4_SMAP)
		access |= VHM_GVA_SMAP;
	if (rflags & X86_EFLAGS_AC)
		access |= VHM_GVA_AC;
	return access;
}

int vhm_gva_to_gpa(struct vhm_vm *vm, const struct vhm_sregs *s, u64 gva,
		   u32 access, u64 *gpa)
{
	bool nx_on = s->efer & EFER_NX;
	struct vhm_walk w;

	if (!(s->cr0 & X86_CR0_PG)) {
		*gpa = gva;
		return 0;
	}
	if (s->efer & EFER_LMA) {
		vhm_walk_start(&w, access, nx_on);
		return vhm_walk_long(vm, &w, s->cr3, gva,
				     s->cr4 & X86_CR4_LA57 ? 5 : 4, gpa);
	}
	if (s->cr4 & X86_CR4_PAE) {
		vhm_walk_start(&w, access, nx_on);
		return vhm_walk_pae(vm, &w, s->cr3, gva, gpa);
	}
	vhm_walk_start(&w, access, false);
	return vhm_walk_32(vm, &w, s->cr3, gva, s->cr4 & X86_CR4_PSE, gpa);
}

/*
 * Up to len bytes of the instruction at the guest's CS:RIP, fetched as the
 * guest's CPU would (NX, SMEP, U/S): the count fetched, short at a page
 * the guest may not execute.
 */
unsigned int vhm_fetch_insn(struct vhm_vcpu *vcpu, const struct vhm_sregs *s,
			    const struct vhm_regs *r, u8 *bytes,
			    unsigned int len)
{
	u64 rip = s->cs.base + r->rip;

	if (vhm_guest_mode(s, r) != VHM_MODE_LONG64)
		rip = (u32)rip;
	return vhm_read_guest_virt(vcpu->vm, s, rip,
				   vhm_gva_access(s, r->rflags, VHM_PF_FETCH),
				   bytes, len);
}

/* The same from the vCPU's current registers. */
unsigned int vhm_fetch_insn_at_rip(struct vhm_vcpu *vcpu, u8 *bytes,
				   unsigned int len)
{
	struct vhm_sregs s;
	struct vhm_regs r;

	vhm_get_regs(vcpu, &r);
	vhm_ops->get_sregs(vcpu, &s);
	return vhm_fetch_insn(vcpu, &s, &r, bytes, len);
}

int vhm_guest_virt_check(struct vhm_vm *vm, const struct vhm_sregs *s,
			 u64 gva, unsigned int len, u32 access, u64 *fault)
{
	u64 gpa, page = gva & PAGE_MASK, end = gva + len;
	int r;

	for (; page < end; page += PAGE_SIZE) {
		*fault = max(page, gva);
		r = vhm_gva_to_gpa(vm, s, *fault, access, &gpa);
		if (r)
			return r;
	}
	return 0;
}

/* Up to len bytes at gva, stopping early at an unmapped page. */
int vhm_read_guest_virt(struct vhm_vm *vm, const struct vhm_sregs *s, u64 gva,
			u32 access, void *buf, unsigned int len)
{
	unsigned int done = 0;

	while (done < len) {
		unsigned int chunk = min_t(unsigned int, len - done,
					   PAGE_SIZE - ((gva + done) & ~PAGE_MASK));
		u64 gpa;

		if (vhm_gva_to_gpa(vm, s, gva + done, access, &gpa) ||
		    vhm_read_guest_phys(vm, gpa, buf + done, chunk))
			break;
		done += chunk;
	}
	return done;
}
