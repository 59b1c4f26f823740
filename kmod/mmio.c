// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO exits: the guest touched guest-physical memory without RAM behind
 * it (or wrote to a read-only slot). Neither NRIP save nor decode assists
 * are assumed: the instruction is fetched through the guest's page tables,
 * decoded (emulate.c), and its memory access becomes a VHM_EXIT_MMIO. A
 * load completes when userspace enters the vCPU again.
 */
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "emulate.h"
#include "ioapic.h"
#include "lapic.h"
#include "regs.h"
#include "vhm.h"
#include "vm.h"

/* Replace the low addr_size bytes of *reg, as string instructions do. */
static void vhm_set_addr_reg(u64 *reg, u64 val, u8 addr_size)
{
	if (addr_size == 8)
		*reg = val;
	else if (addr_size == 4)
		*reg = (u32)val;
	else
		*reg = (*reg & ~0xffffULL) | (u16)val;
}

static int vhm_mmio_emulation_error(struct vhm_vcpu *vcpu, u64 gpa, u64 rip,
				    const u8 *bytes)
{
	struct vhm_run *run = vcpu->run;

	run->exit_reason = VHM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = VHM_INTERNAL_EMULATION;
	run->internal.ndata = 4;
	run->internal.data[0] = gpa;
	run->internal.data[1] = rip;
	memcpy(&run->internal.data[2], bytes, 16);
	return 0;
}

/* One iteration of STOS: advance rDI, count rCX, step past when done. */
static void vhm_stos_step(const struct vhm_insn *insn, struct vhm_regs *r)
{
	s64 delta = r->rflags & X86_EFLAGS_DF ? -insn->size : insn->size;

	vhm_set_addr_reg(&r->rdi, r->rdi + delta, insn->addr_size);
	if (insn->rep) {
		vhm_set_addr_reg(&r->rcx, r->rcx - 1, insn->addr_size);
		if (r->rcx & GENMASK_ULL(insn->addr_size * 8 - 1, 0))
			return;	/* executed again for the next element */
	}
	r->rip += insn->len;
}

/* One iteration of MOVS: advance rSI and rDI, count rCX, step past. */
static void vhm_movs_step(const struct vhm_insn *insn, struct vhm_regs *r)
{
	s64 delta = r->rflags & X86_EFLAGS_DF ? -insn->size : insn->size;

	vhm_set_addr_reg(&r->rsi, r->rsi + delta, insn->addr_size);
	vhm_stos_step(insn, r);
}

static u64 vhm_seg_base(const struct vhm_sregs *s, u8 seg)
{
	switch (seg) {
	case VHM_SREG_ES:
		return s->es.base;
	case VHM_SREG_CS:
		return s->cs.base;
	case VHM_SREG_SS:
		return s->ss.base;
	case VHM_SREG_FS:
		return s->fs.base;
	case VHM_SREG_GS:
		return s->gs.base;
	default:
		return s->ds.base;
	}
}

/* A linear address: seg base + an offset truncated to the address size. */
static u64 vhm_linear_addr(const struct vhm_insn *insn, enum vhm_cpu_mode mode,
			   u64 base, u64 offset)
{
	u64 la = base + (offset & GENMASK_ULL(insn->addr_size * 8 - 1, 0));

	return mode == VHM_MODE_LONG64 ? la : (u32)la;
}

/*
 * The linear address of the memory operand of insn (emulate.h), for the
 * guest's data breakpoints; r as before the instruction. STOS: ES:rDI;
 * MOVS has two (vhm_emulate_movs()).
 */
static u64 vhm_operand_addr(const struct vhm_insn *insn, enum vhm_cpu_mode mode,
			    const struct vhm_sregs *s, struct vhm_regs *r)
{
	u64 ea = insn->disp;

	if (insn->op == VHM_INSN_STOS)
		return vhm_linear_addr(insn, mode, s->es.base, r->rdi);
	if (insn->rip_relative)
		ea += r->rip + insn->len;
	if (insn->base != VHM_GPR_NONE)
		ea += *vhm_regs_gpr(r, insn->base);
	if (insn->index != VHM_GPR_NONE)
		ea += *vhm_regs_gpr(r, insn->index) * insn->scale;
	return vhm_linear_addr(insn, mode, vhm_seg_base(s, insn->seg), ea);
}

/* The guest's data breakpoints that insn's load or store (not MOVS) hits. */
static u32 vhm_operand_hits(struct vhm_vcpu *vcpu, const struct vhm_insn *insn,
			    enum vhm_cpu_mode mode, const struct vhm_sregs *s,
			    struct vhm_regs *r)
{
	return vhm_dr_data_hits(vcpu, vhm_operand_addr(insn, mode, s, r),
				insn->size, !vhm_insn_is_load(insn));
}

static bool vhm_gpa_writable_ram(struct vhm_vm *vm, u64 gpa)
{
	const struct vhm_memslot *slot;
	bool ram;

	spin_lock(&vm->mmu.lock);
	slot = vhm_find_slot(vm, gpa);
	ram = slot && !(slot->flags & VHM_MEM_READONLY);
	spin_unlock(&vm->mmu.lock);
	return ram;
}

/*
 * Translate a MOVS operand with the guest's rights: 0 with *gpa, 1 when
 * the guest gets a #PF for it instead, -EINVAL when vhm cannot go on.
 */
static int vhm_movs_operand(struct vhm_vcpu *vcpu, const struct vhm_sregs *s,
			    u64 gva, u32 access, u64 *gpa)
{
	int r = vhm_gva_to_gpa(vcpu->vm, s, gva, access, gpa);

	if (r > 0) {
		vhm_inject_page_fault(vcpu, gva, VHM_PF_ERROR(r));
		return 1;
	}
	return r ? -EINVAL : 0;
}

/*
 * MOVS with one side in MMIO (the page of gpa). Both operands are checked
 * against the guest's page tables first (the CPU may have checked only
 * the one that faulted): a #PF for the guest returns 1. To MMIO: read the
 * source from guest RAM now and exit with the store. From MMIO: exit with
 * the load; vhm_complete_mmio() writes the data to ES:rDI. Both sides
 * MMIO: an emulation error. The data breakpoints both accesses hit are
 * left in vcpu->mmio_db_hits for the debug trap after the iteration.
 */
static int vhm_emulate_movs(struct vhm_vcpu *vcpu, u64 gpa,
			    const struct vhm_insn *insn, enum vhm_cpu_mode mode,
			    const struct vhm_sregs *s, struct vhm_regs *r)
{
	u64 dst = vhm_linear_addr(insn, mode, s->es.base, r->rdi);
	u64 src = vhm_linear_addr(insn, mode, vhm_seg_base(s, insn->seg),
				  r->rsi);
	u32 rd = vhm_gva_access(s, r->rflags, 0);
	struct vhm_run *run = vcpu->run;
	u64 dst_gpa, src_gpa;
	int ret;

	ret = vhm_movs_operand(vcpu, s, src, rd, &src_gpa);
	if (!ret)
		ret = vhm_movs_operand(vcpu, s, dst, rd | VHM_PF_WRITE,
				       &dst_gpa);
	if (ret)
		return ret;
	vcpu->mmio_db_hits = vhm_dr_data_hits(vcpu, src, insn->size, false) |
			     vhm_dr_data_hits(vcpu, dst, insn->size, true);
	if (dst_gpa >> PAGE_SHIFT == gpa >> PAGE_SHIFT) {
		if (vhm_read_guest_virt(vcpu->vm, s, src, rd, run->mmio.data,
					insn->size) != insn->size)
			return -EINVAL;
		run->mmio.is_write = 1;
		vhm_movs_step(insn, r);
		return 0;
	}
	if (!vhm_gpa_writable_ram(vcpu->vm, dst_gpa))
		return -EINVAL;	/* MMIO to MMIO */
	run->mmio.is_write = 0;
	vcpu->mmio_load = *insn;
	vcpu->mmio_load_pending = true;
	vcpu->mmio_movs_dst = dst;
	return 0;
}

/* The instruction at the guest's RIP, decoded; bytes: what was fetched. */
static int vhm_mmio_decode(struct vhm_vcpu *vcpu, struct vhm_regs *r,
			   struct vhm_sregs *s, enum vhm_cpu_mode *mode,
			   struct vhm_insn *insn, u8 *bytes)
{
	unsigned int n;

	vhm_get_regs(vcpu, r);
	vhm_ops->get_sregs(vcpu, s);
	*mode = vhm_guest_mode(s, r);
	n = vhm_fetch_insn(vcpu, s, r, bytes, VHM_INSN_MAX_LEN);
	return vhm_insn_decode(bytes, n, *mode, insn);
}

/* The register pages of the in-kernel devices: the local APIC, the IOAPIC. */
struct vhm_kernel_regs {
	u32 (*read)(struct vhm_vcpu *vcpu, unsigned int offset);
	void (*write)(struct vhm_vcpu *vcpu, unsigned int offset, u32 val);
};

static const struct vhm_kernel_regs vhm_lapic_regs = {
	.read = vhm_lapic_read,
	.write = vhm_lapic_write,
};

static const struct vhm_kernel_regs vhm_ioapic_regs = {
	.read = vhm_ioapic_read,
	.write = vhm_ioapic_write,
};

/*
 * An access to an in-kernel device's page: 32-bit loads and stores of
 * registers; other sizes read 0 and are dropped, string instructions are
 * an emulation error.
 */
static int vhm_emulate_kernel_regs(struct vhm_vcpu *vcpu, u64 gpa,
				   const struct vhm_kernel_regs *dev)
{
	unsigned int off = gpa & ~PAGE_MASK;
	u8 bytes[16] = { 0 };
	enum vhm_cpu_mode mode;
	struct vhm_insn insn;
	struct vhm_sregs s;
	struct vhm_regs r;
	u64 *reg;
	u32 hits;

	if (vhm_mmio_decode(vcpu, &r, &s, &mode, &insn, bytes) ||
	    insn.op == VHM_INSN_MOVS || insn.op == VHM_INSN_STOS)
		return vhm_mmio_emulation_error(vcpu, gpa, r.rip, bytes);
	hits = vhm_operand_hits(vcpu, &insn, mode, &s, &r);
	if (vhm_insn_is_load(&insn)) {
		reg = vhm_regs_gpr(&r, insn.reg);
		*reg = vhm_insn_load_result(&insn, *reg,
					    insn.size == 4 ?
					    dev->read(vcpu, off) : 0);
	} else if (insn.size == 4) {
		dev->write(vcpu, off,
				vhm_insn_store_value(&insn,
						     *vhm_regs_gpr(&r, insn.reg)));
	}
	r.rip += insn.len;
	vhm_set_regs(vcpu, &r);
	vhm_dr_trap(vcpu, hits);
	return 1;
}

int vhm_emulate_mmio(struct vhm_vcpu *vcpu, u64 gpa)
{
	struct vhm_run *run = vcpu->run;
	u8 bytes[16] = { 0 };
	struct vhm_sregs s;
	struct vhm_regs r;
	struct vhm_insn insn;
	enum vhm_cpu_mode mode;
	int ret;
	u64 v;

	if (vhm_lapic_covers(vcpu, gpa))
		return vhm_emulate_kernel_regs(vcpu, gpa, &vhm_lapic_regs);
	if (vhm_ioapic_covers(vcpu, gpa))
		return vhm_emulate_kernel_regs(vcpu, gpa, &vhm_ioapic_regs);
	if (vhm_mmio_decode(vcpu, &r, &s, &mode, &insn, bytes))
		return vhm_mmio_emulation_error(vcpu, gpa, r.rip, bytes);

	run->exit_reason = VHM_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = insn.size;
	run->mmio.is_write = !vhm_insn_is_load(&insn);
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (insn.op == VHM_INSN_MOVS) {
		ret = vhm_emulate_movs(vcpu, gpa, &insn, mode, &s, &r);
		if (ret < 0)
			return vhm_mmio_emulation_error(vcpu, gpa, r.rip, bytes);
		if (ret)	/* a #PF for the guest: no exit */
			return 1;
	} else if (vhm_insn_is_load(&insn)) {
		vcpu->mmio_db_hits = vhm_operand_hits(vcpu, &insn, mode, &s, &r);
		vcpu->mmio_load = insn;
		vcpu->mmio_load_pending = true;
		r.rip += insn.len;
	} else {
		vcpu->mmio_db_hits = vhm_operand_hits(vcpu, &insn, mode, &s, &r);
		v = vhm_insn_store_value(&insn, *vhm_regs_gpr(&r, insn.reg));
		memcpy(run->mmio.data, &v, insn.size);
		if (insn.op == VHM_INSN_STOS)
			vhm_stos_step(&insn, &r);
		else
			r.rip += insn.len;
	}
	vhm_set_regs(vcpu, &r);
	/*
	 * RIP is past the instruction the VMM completes: so is its shadow,
	 * also for VHM_GET_VCPU_EVENTS at this exit.
	 */
	vcpu->mmio_db_hits |= vhm_ops->end_shadow(vcpu);
	/* A store is done (the VMM's part aside); a load traps once loaded. */
	if (!vcpu->mmio_load_pending)
		vhm_dr_trap(vcpu, vcpu->mmio_db_hits);
	return 0;
}

/*
 * A MOVS from MMIO: the data to ES:rDI (checked to be RAM when the exit
 * was made, but the VMM may have changed its slots since: then the guest
 * gets the data nowhere, as a write to unbacked memory would), and step.
 */
static void vhm_complete_movs(struct vhm_vcpu *vcpu,
			      const struct vhm_insn *insn, struct vhm_regs *r,
			      u64 val)
{
	struct vhm_sregs s;

	vhm_ops->get_sregs(vcpu, &s);
	vhm_write_guest_virt(vcpu->vm, &s, vcpu->mmio_movs_dst,
			     vhm_gva_access(&s, r->rflags, VHM_PF_WRITE), &val,
			     insn->size);
	vhm_movs_step(insn, r);
}

void vhm_complete_mmio(struct vhm_vcpu *vcpu)
{
	const struct vhm_insn *insn = &vcpu->mmio_load;
	struct vhm_regs r;
	u64 val = 0, *reg;

	if (!vcpu->mmio_load_pending)
		return;
	vcpu->mmio_load_pending = false;
	vhm_get_regs(vcpu, &r);
	memcpy(&val, vcpu->run->mmio.data, insn->size);
	if (insn->op == VHM_INSN_MOVS) {
		vhm_complete_movs(vcpu, insn, &r, val);
	} else {
		reg = vhm_regs_gpr(&r, insn->reg);
		*reg = vhm_insn_load_result(insn, *reg, val);
	}
	vhm_set_regs(vcpu, &r);
	vhm_dr_trap(vcpu, vcpu->mmio_db_hits);
}
