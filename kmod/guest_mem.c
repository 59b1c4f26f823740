// SPDX-License-Identifier: GPL-2.0
/*
 * Reading guest memory from the vCPU thread: guest-physical addresses are
 * the VMM's own memory (copy_from_user through the slots), guest-virtual
 * ones are translated by walking the guest's page tables in software.
 */
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "vhm.h"
#include "vm.h"

#define PTE_P		BIT_ULL(0)
#define PTE_PS		BIT_ULL(7)
#define PTE_ADDR	GENMASK_ULL(51, 12)

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

/* One level of a page walk: the entry's address bits, or -EFAULT. */
static int vhm_walk_entry(struct vhm_vm *vm, u64 table, unsigned int index,
			  unsigned int entry_size, u64 *entry)
{
	u64 e = 0;
	int r;

	r = vhm_read_guest_phys(vm, table + index * entry_size, &e, entry_size);
	if (r)
		return r;
	if (!(e & PTE_P))
		return -EFAULT;
	*entry = e;
	return 0;
}

static int vhm_walk_long(struct vhm_vm *vm, u64 cr3, u64 gva, int levels,
			 u64 *gpa)
{
	u64 table = cr3 & PTE_ADDR, e;
	int level, r;

	for (level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);

		r = vhm_walk_entry(vm, table, (gva >> shift) & 511, 8, &e);
		if (r)
			return r;
		if (level == 1 || (level <= 3 && (e & PTE_PS))) {
			u64 mask = (1ULL << shift) - 1;

			*gpa = ((e & PTE_ADDR) & ~mask) | (gva & mask);
			return 0;
		}
		table = e & PTE_ADDR;
	}
	return -EFAULT;
}

static int vhm_walk_pae(struct vhm_vm *vm, u64 cr3, u64 gva, u64 *gpa)
{
	u64 pdpte;
	int r;

	r = vhm_walk_entry(vm, cr3 & GENMASK_ULL(31, 5), (gva >> 30) & 3, 8,
			   &pdpte);
	if (r)
		return r;
	return vhm_walk_long(vm, pdpte & PTE_ADDR, gva, 2, gpa);
}

static int vhm_walk_32(struct vhm_vm *vm, u64 cr3, u32 gva, bool pse, u64 *gpa)
{
	u64 pde = 0, pte = 0;
	int r;

	r = vhm_walk_entry(vm, cr3 & GENMASK_ULL(31, 12), gva >> 22, 4, &pde);
	if (r)
		return r;
	if (pse && (pde & PTE_PS)) {
		*gpa = (pde & GENMASK_ULL(31, 22)) | (gva & GENMASK(21, 0));
		return 0;
	}
	r = vhm_walk_entry(vm, pde & GENMASK_ULL(31, 12), (gva >> 12) & 1023, 4,
			   &pte);
	if (r)
		return r;
	*gpa = (pte & GENMASK_ULL(31, 12)) | (gva & GENMASK(11, 0));
	return 0;
}

int vhm_gva_to_gpa(struct vhm_vm *vm, const struct vhm_sregs *s, u64 gva,
		   u64 *gpa)
{
	if (!(s->cr0 & X86_CR0_PG)) {
		*gpa = gva;
		return 0;
	}
	if (s->efer & EFER_LMA)
		return vhm_walk_long(vm, s->cr3, gva,
				     s->cr4 & X86_CR4_LA57 ? 5 : 4, gpa);
	if (s->cr4 & X86_CR4_PAE)
		return vhm_walk_pae(vm, s->cr3, gva, gpa);
	return vhm_walk_32(vm, s->cr3, gva, s->cr4 & X86_CR4_PSE, gpa);
}

/* Up to len bytes at gva, stopping early at an unmapped page. */
int vhm_read_guest_virt(struct vhm_vm *vm, const struct vhm_sregs *s, u64 gva,
			void *buf, unsigned int len)
{
	unsigned int done = 0;

	while (done < len) {
		unsigned int chunk = min_t(unsigned int, len - done,
					   PAGE_SIZE - ((gva + done) & ~PAGE_MASK));
		u64 gpa;

		if (vhm_gva_to_gpa(vm, s, gva + done, &gpa) ||
		    vhm_read_guest_phys(vm, gpa, buf + done, chunk))
			break;
		done += chunk;
	}
	return done;
}
