// SPDX-License-Identifier: GPL-2.0
/*
 * String port I/O (INS/OUTS, with or without REP): the vendor reports the
 * exit, this moves the data between guest memory and the run area. One
 * exit carries as many elements as fit in the run area's data space and in
 * the current guest page; a REP with more left executes again. The guest's
 * debug traps are vhm's to raise (dr.c): with RFLAGS.TF or a data
 * breakpoint on the memory operand, an exit stops at the element after
 * which the CPU would trap, and the #DB follows it.
 */
#include <linux/uaccess.h>
#include <asm/processor-flags.h>

#include "regs.h"
#include "vhm.h"
#include "vm.h"

#define VHM_RUN_DATA_SIZE	(PAGE_SIZE - VHM_RUN_DATA_OFFSET)

static u64 vhm_addr_mask(u8 addr_size)
{
	return addr_size == 8 ? ~0ULL : (1ULL << (addr_size * 8)) - 1;
}

static void vhm_set_masked(u64 *reg, u64 val, u8 addr_size)
{
	u64 mask = vhm_addr_mask(addr_size);

	/* 32-bit writes clear the upper half, 16-bit ones keep it. */
	*reg = addr_size == 4 ? (u32)val : (*reg & ~mask) | (val & mask);
}

/* Elements this exit moves: the count, bounded by the run area and page. */
static u32 vhm_pio_chunk(u64 gva, u8 size, u64 count, bool down)
{
	u64 room = VHM_RUN_DATA_SIZE / size;
	u64 in_page = (PAGE_SIZE - (gva & ~PAGE_MASK)) / size;

	if (down || !in_page)
		return 1;
	return min3(count, room, in_page);
}

int vhm_write_guest_virt(struct vhm_vm *vm, const struct vhm_sregs *s,
			 u64 gva, u32 access, const void *buf, unsigned int len)
{
	const struct vhm_memslot *slot;
	unsigned long hva = 0;
	u64 gpa;

	if (vhm_gva_to_gpa(vm, s, gva, access | VHM_PF_WRITE, &gpa))
		return -EFAULT;
	spin_lock(&vm->mmu.lock);
	slot = vhm_find_slot(vm, gpa);
	if (slot && !(slot->flags & VHM_MEM_READONLY) &&
	    gpa + len <= slot->gpa + slot->size)
		hva = slot->hva + (gpa - slot->gpa);
	spin_unlock(&vm->mmu.lock);
	if (!hva)
		return -EFAULT;
	return copy_to_user((void __user *)hva, buf, len) ? -EFAULT : 0;
}

/* Advance rSI or rDI and rCX past the elements done; RIP once all are. */
static void vhm_pio_advance(struct vhm_regs *r, u64 *index, u32 done,
			    const struct vhm_pio_string *p)
{
	s64 step = (s64)done * p->size;

	if (r->rflags & X86_EFLAGS_DF)
		step = -step;
	vhm_set_masked(index, *index + step, p->addr_size);
	if (p->rep) {
		vhm_set_masked(&r->rcx, r->rcx - done, p->addr_size);
		if (r->rcx & vhm_addr_mask(p->addr_size))
			return;
	}
	r->rip = p->next_rip;
}

/*
 * What the exit information may lack (no decode assists, or an emulator
 * that leaves the address size out): the address size and the source
 * segment of OUTS, from the instruction's prefixes.
 */
static void vhm_pio_prefixes(struct vhm_vcpu *vcpu, const struct vhm_sregs *s,
			     const struct vhm_regs *r, struct vhm_pio_string *p,
			     u64 *seg_base)
{
	enum vhm_cpu_mode mode = vhm_guest_mode(s, r);
	u8 bytes[VHM_INSN_MAX_LEN];
	bool a67 = false;
	unsigned int i, n;

	n = vhm_fetch_insn(vcpu, s, r, bytes, sizeof(bytes));
	for (i = 0; i < n; i++) {
		switch (bytes[i]) {
		case 0x67:
			a67 = true;
			continue;
		case 0x26:
			*seg_base = s->es.base;
			continue;
		case 0x2e:
			*seg_base = s->cs.base;
			continue;
		case 0x36:
			*seg_base = s->ss.base;
			continue;
		case 0x3e:
			*seg_base = s->ds.base;
			continue;
		case 0x64:
			*seg_base = s->fs.base;
			continue;
		case 0x65:
			*seg_base = s->gs.base;
			continue;
		case 0x66:
		case 0xf0:
		case 0xf2:
		case 0xf3:
			continue;
		}
		break;
	}
	if (p->addr_size)
		return;
	if (mode == VHM_MODE_LONG64)
		p->addr_size = a67 ? 4 : 8;
	else if (mode == VHM_MODE_PROT32)
		p->addr_size = a67 ? 2 : 4;
	else
		p->addr_size = a67 ? 4 : 2;
}

int vhm_pio_string(struct vhm_vcpu *vcpu, const struct vhm_pio_string *exit)
{
	struct vhm_run *run = vcpu->run;
	u8 *data = (u8 *)run + VHM_RUN_DATA_OFFSET;
	struct vhm_pio_string pio = *exit, *p = &pio;
	struct vhm_sregs s;
	struct vhm_regs r;
	u64 count, gva, seg_base, fault;
	u32 n, access, io_hits;
	int pf;

	vhm_get_regs(vcpu, &r);
	vhm_ops->get_sregs(vcpu, &s);
	seg_base = s.ds.base;
	vhm_pio_prefixes(vcpu, &s, &r, p, &seg_base);
	count = p->rep ? r.rcx & vhm_addr_mask(p->addr_size) : 1;
	if (!count) {			/* REP with rCX = 0: nothing */
		r.rip = p->next_rip;
		vhm_set_regs(vcpu, &r);
		vhm_dr_trap(vcpu, 0);	/* it completed: a single step */
		return 1;
	}
	/* INS always writes ES:rDI; OUTS reads seg:rSI (DS by default). */
	gva = p->in ? s.es.base + (r.rdi & vhm_addr_mask(p->addr_size)) :
		      seg_base + (r.rsi & vhm_addr_mask(p->addr_size));
	n = vhm_pio_chunk(gva, p->size, count, r.rflags & X86_EFLAGS_DF);
	n = vhm_dr_string_elements(vcpu, gva, p->size, n, p->in);
	/* Every element goes through the port: a trap after the first. */
	io_hits = vhm_dr_io_hits(vcpu, p->port, p->size);
	if (io_hits)
		n = 1;

	/*
	 * The guest's page tables must let it read (OUTS) or write (INS)
	 * the whole chunk, as the CPU would check before the port access.
	 */
	access = vhm_gva_access(&s, r.rflags, p->in ? VHM_PF_WRITE : 0);
	pf = vhm_guest_virt_check(vcpu->vm, &s, gva, n * p->size, access,
				  &fault);
	if (pf > 0) {
		vhm_inject_page_fault(vcpu, fault, VHM_PF_ERROR(pf));
		return 1;
	}
	run->exit_reason = VHM_EXIT_IO;
	run->io.direction = p->in ? VHM_IO_IN : VHM_IO_OUT;
	run->io.size = p->size;
	run->io.port = p->port;
	run->io.count = n;
	run->io.data_offset = VHM_RUN_DATA_OFFSET;
	if (p->in) {
		vcpu->pio_in = *p;
		vcpu->pio_in_gva = gva;
		vcpu->pio_in_count = n;
		return 0;
	}
	if (vhm_read_guest_virt(vcpu->vm, &s, gva, access, data,
				n * p->size) !=
	    n * p->size)
		return vhm_pio_error(vcpu, gva);
	vhm_pio_advance(&r, &r.rsi, n, p);
	vhm_set_regs(vcpu, &r);
	vhm_dr_trap(vcpu, vhm_dr_data_hits(vcpu, gva, n * p->size, false) |
		    io_hits);
	return 0;
}

void vhm_complete_pio_string(struct vhm_vcpu *vcpu)
{
	const struct vhm_pio_string *p = &vcpu->pio_in;
	struct vhm_sregs s;
	struct vhm_regs r;
	u32 n = vcpu->pio_in_count;

	if (!n)
		return;
	vcpu->pio_in_count = 0;
	vhm_get_regs(vcpu, &r);
	vhm_ops->get_sregs(vcpu, &s);
	/*
	 * Checked when the exit was made; memory the guest cannot write now
	 * stays as it is, like a bus error.
	 */
	vhm_write_guest_virt(vcpu->vm, &s, vcpu->pio_in_gva,
			     vhm_gva_access(&s, r.rflags, VHM_PF_WRITE),
			     (u8 *)vcpu->run + VHM_RUN_DATA_OFFSET,
			     n * p->size);
	vhm_pio_advance(&r, &r.rdi, n, p);
	vhm_set_regs(vcpu, &r);
	vhm_dr_trap(vcpu, vhm_dr_data_hits(vcpu, vcpu->pio_in_gva,
					   n * p->size, true) |
		    vhm_dr_io_hits(vcpu, p->port, p->size));
}

int vhm_pio_error(struct vhm_vcpu *vcpu, u64 gva)
{
	struct vhm_run *run = vcpu->run;

	run->exit_reason = VHM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = VHM_INTERNAL_EMULATION;
	run->internal.ndata = 1;
	run->internal.data[0] = gva;
	return 0;
}
