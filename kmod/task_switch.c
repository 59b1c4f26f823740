// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware task switches to a 32-bit TSS, emulated for both vendors: JMP
 * and CALL far to a TSS or task gate, IRET with EFLAGS.NT, and an event
 * delivered through a task gate of the IDT (Intel SDM vol. 3A, chapter 8
 * "Task Management", 8.3 and 8.4; AMD APM vol. 2, chapter 12). The vendor
 * decodes its exit into struct vhm_task_switch (vm.h).
 *
 * In order: every check that faults in the old task's context (the new TSS
 * descriptor, its type, presence, limit and privilege; the current TSS), the
 * new TSS read whole, the old TSS, the descriptors' busy bits and the link
 * field checked writable; only then anything written. A guest access vhm
 * cannot make (no RAM behind it, or the guest's page tables do not map it)
 * is VHM_INTERNAL_TASK_SWITCH, as are what vhm does not emulate: 16-bit
 * TSSes, long mode, virtual-8086 mode. Segment descriptors of the new task
 * are checked after the switch, as the CPU does: a fault is raised in the
 * new task's context (SDM 8.3 step 12).
 *
 * Not emulated: the T (debug trap) flag of the new TSS, double-fault
 * promotion of a fault raised while delivering an exception (the fault
 * replaces it), the I/O permission bitmap (only read by later I/O).
 */
#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "regs.h"
#include "vhm.h"
#include "vm.h"

/* The 32-bit TSS (SDM figure 8-2); GPRs in ModRM order, segments in Sreg order. */
struct vhm_tss32 {
	u32 link;
	u32 stack[6];		/* ESP0, SS0, ESP1, SS1, ESP2, SS2 */
	u32 cr3;
	u32 eip;
	u32 eflags;
	u32 gpr[8];
	u32 seg[6];
	u32 ldt;
	u16 trap;
	u16 iomap;
} __packed;

/* The part the CPU saves in the old TSS: EIP to GS. */
#define TS_DYN_OFF	offsetof(struct vhm_tss32, eip)
#define TS_DYN_LEN	(offsetof(struct vhm_tss32, ldt) - TS_DYN_OFF)
#define TS32_MIN_LIMIT	0x67
#define TS_BUSY		BIT_ULL(41)	/* in a TSS descriptor's type */
#define TS_ACCESSED	BIT_ULL(40)	/* in a code/data descriptor's type */
#define TS_DESC_TYPE(d)	(((d) >> 40) & 0x1f)	/* type and S */
#define TS_DESC_DPL(d)	(((d) >> 45) & 3)
#define TS_DESC_P	BIT_ULL(47)
#define TS_TYPE_LDT	0x02
#define TS_TYPE_TSS16	0x01
#define TS_TYPE_TSS16_BUSY 0x03
#define TS_TYPE_TSS32	0x09
#define TS_TYPE_TSS32_BUSY 0x0b
#define TS_CODE		BIT(3)		/* type: code, else data */
#define TS_CONFORMING	BIT(2)		/* code */
#define TS_READABLE	BIT(1)		/* code */
#define TS_WRITABLE	BIT(1)		/* data */
#define TS_DR7_LOCAL	0x155ULL	/* L0-L3, LE */

struct vhm_ts {
	struct vhm_vcpu *vcpu;
	const struct vhm_task_switch *in;
	struct vhm_sregs s;	/* the old task's, then the new task's */
	struct vhm_regs r;
	u64 rip;		/* the old task's RIP at the exit */
	u32 sys;		/* access rights of implicit supervisor accesses */
	u32 ext;		/* bit 0 of error codes: an external event */
	u64 new_desc;		/* the new TSS's descriptor */
	u64 new_desc_gva;
	u64 old_desc_gva;
	u64 new_base;
	u64 next_eip;		/* the EIP saved in the old TSS */
	struct vhm_tss32 tss;	/* the new TSS */
	/* The outcome other than success: a fault, or an internal error. */
	u8 fault_vector;
	u32 fault_err;
	u32 reason;		/* VHM_TASK_SWITCH_* */
};

static int ts_fault(struct vhm_ts *c, u8 vector, u16 sel)
{
	c->fault_vector = vector;
	c->fault_err = (sel & 0xfffc) | c->ext;
	return -EAGAIN;
}

static int ts_refuse(struct vhm_ts *c, u32 reason)
{
	c->reason = reason;
	return -EIO;
}

static u64 ts_desc_base(u64 d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
}

static u32 ts_desc_limit(u64 d)
{
	u32 limit = (d & 0xffff) | ((d >> 32) & 0xf0000);

	return d & BIT_ULL(55) ? (limit << 12) | 0xfff : limit;
}

/* The descriptor cache the CPU loads from descriptor d for selector sel. */
static void ts_desc_to_seg(u64 d, u16 sel, struct vhm_segment *seg)
{
	seg->base = ts_desc_base(d);
	seg->limit = ts_desc_limit(d);
	seg->selector = sel;
	seg->attrib = ((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 8);
}

static void ts_null_seg(u16 sel, struct vhm_segment *seg)
{
	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	seg->attrib = VHM_SEG_UNUSABLE;
}

static int ts_read(struct vhm_ts *c, u64 gva, void *buf, unsigned int len)
{
	if (vhm_read_guest_virt(c->vcpu->vm, &c->s, (u32)gva, c->sys, buf,
				len) != len)
		return ts_refuse(c, VHM_TASK_SWITCH_MEMORY);
	return 0;
}

static int ts_write(struct vhm_ts *c, u64 gva, const void *buf,
		    unsigned int len)
{
	unsigned int done = 0, chunk;

	for (; done < len; done += chunk) {
		chunk = min_t(unsigned int, len - done,
			      PAGE_SIZE - ((gva + done) & ~PAGE_MASK));
		if (vhm_write_guest_virt(c->vcpu->vm, &c->s, (u32)(gva + done),
					 c->sys, buf + done, chunk))
			return ts_refuse(c, VHM_TASK_SWITCH_MEMORY);
	}
	return 0;
}

static int ts_check_writable(struct vhm_ts *c, u64 gva, unsigned int len)
{
	u64 fault;

	if (vhm_guest_virt_check(c->vcpu->vm, &c->s, (u32)gva, len,
				 c->sys | VHM_PF_WRITE, &fault))
		return ts_refuse(c, VHM_TASK_SWITCH_MEMORY);
	return 0;
}

/*
 * The descriptor selector sel names in the GDT or the LDT of c->s, and
 * its linear address: -ERANGE beyond the table's limit.
 */
static int ts_read_desc(struct vhm_ts *c, u16 sel, u64 *desc, u64 *gva)
{
	u64 base = c->s.gdt.base;
	u32 limit = c->s.gdt.limit;

	if (sel & 4) {
		if (c->s.ldt.attrib & VHM_SEG_UNUSABLE)
			return -ERANGE;
		base = c->s.ldt.base;
		limit = c->s.ldt.limit;
	}
	if ((sel | 7) > limit)
		return -ERANGE;
	*gva = base + (sel & ~7);
	return ts_read(c, *gva, desc, sizeof(*desc));
}

/* A fault of JMP, CALL or a gate on the new TSS: #GP; IRET's is #TS. */
static int ts_bad_tss(struct vhm_ts *c)
{
	return ts_fault(c, c->in->source == VHM_TS_IRET ? X86_TRAP_TS :
			X86_TRAP_GP, c->in->selector);
}

/*
 * INT n, INT3, INTO through a task gate: the gate's DPL against the CPL
 * (SDM 6.12.1.1), which the CPU leaves to the exit's handler.
 */
static int ts_check_soft_gate(struct vhm_ts *c, unsigned int cpl)
{
	u8 vector = c->in->vector;
	u64 gate;
	int r;

	if ((vector * 8 | 7) > c->s.idt.limit)
		return ts_fault(c, X86_TRAP_GP, vector * 8 + 2);
	r = ts_read(c, c->s.idt.base + vector * 8, &gate, sizeof(gate));
	if (r)
		return r;
	if (TS_DESC_DPL(gate) < cpl)
		return ts_fault(c, X86_TRAP_GP, vector * 8 + 2);
	return 0;
}

/* SDM 8.3 steps 2-4: privilege, the new TSS descriptor. */
static int ts_check_new_tss(struct vhm_ts *c)
{
	const struct vhm_task_switch *in = c->in;
	unsigned int cpl = vhm_ops->cpl(c->vcpu);
	u32 want = in->source == VHM_TS_IRET ? TS_TYPE_TSS32_BUSY :
		   TS_TYPE_TSS32;
	u64 d;
	int r;

	if (in->source == VHM_TS_GATE && in->kind == VHM_CUT_SOFTWARE) {
		r = ts_check_soft_gate(c, cpl);
		if (r)
			return r;
	}
	if (in->selector & 4)
		return ts_bad_tss(c);
	r = ts_read_desc(c, in->selector, &d, &c->new_desc_gva);
	if (r)
		return r == -ERANGE ? ts_bad_tss(c) : r;
	if (TS_DESC_TYPE(d) == TS_TYPE_TSS16 ||
	    TS_DESC_TYPE(d) == TS_TYPE_TSS16_BUSY)
		return ts_refuse(c, VHM_TASK_SWITCH_TSS16);
	if (TS_DESC_TYPE(d) != want)
		return ts_bad_tss(c);
	if ((in->source == VHM_TS_JMP || in->source == VHM_TS_CALL) &&
	    (TS_DESC_DPL(d) < cpl || TS_DESC_DPL(d) < (in->selector & 3)))
		return ts_fault(c, X86_TRAP_GP, in->selector);
	if (!(d & TS_DESC_P))
		return ts_fault(c, X86_TRAP_NP, in->selector);
	if (ts_desc_limit(d) < TS32_MIN_LIMIT)
		return ts_fault(c, X86_TRAP_TS, in->selector);
	c->new_desc = d;
	c->new_base = ts_desc_base(d);
	return 0;
}

/* The current task: a 32-bit TSS in the GDT whose dynamic part fits. */
static int ts_check_old_tss(struct vhm_ts *c)
{
	const struct vhm_segment *tr = &c->s.tr;
	u64 d;
	int r;

	if (VHM_SEG_TYPE(tr->attrib) != TS_TYPE_TSS32_BUSY)
		return ts_refuse(c, VHM_TASK_SWITCH_TSS16);
	if (tr->limit < TS_DYN_OFF + TS_DYN_LEN - 1)
		return ts_fault(c, X86_TRAP_TS, tr->selector);
	if (tr->selector & 4)
		return ts_fault(c, X86_TRAP_TS, tr->selector);
	/* JMP and IRET clear its busy bit; not in a null descriptor. */
	if ((c->in->source != VHM_TS_JMP && c->in->source != VHM_TS_IRET) ||
	    !(tr->selector & ~3))
		return 0;
	r = ts_read_desc(c, tr->selector, &d, &c->old_desc_gva);
	if (r)
		return r == -ERANGE ? ts_fault(c, X86_TRAP_TS, tr->selector) :
		       r;
	return 0;
}

/*
 * The length of the far JMP, far CALL, IRET, INT n, INT3, INTO or INT1 at
 * CS:EIP, for a vendor that does not report it.
 */
static int ts_modrm_extra(const u8 *b, unsigned int n, unsigned int i,
			  bool a32)
{
	u8 mod = b[i] >> 6, rm = b[i] & 7;
	int extra = 0;

	if (mod == 3)
		return -EINVAL;
	if (!a32)
		return mod == 1 ? 1 : mod == 2 || (!mod && rm == 6) ? 2 : 0;
	if (rm == 4) {
		if (i + 1 >= n)
			return -EINVAL;
		extra = 1;
		if (!mod && (b[i + 1] & 7) == 5)
			extra += 4;
	} else if (!mod && rm == 5) {
		extra = 4;
	}
	return extra + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

static int ts_insn_len(struct vhm_ts *c)
{
	u8 b[VHM_INSN_MAX_LEN];
	bool d32 = c->s.cs.attrib & VHM_SEG_DB, o32 = d32, a32 = d32;
	unsigned int n, i;
	int len = -EINVAL, extra;

	n = vhm_fetch_insn(c->vcpu, &c->s, &c->r, b, sizeof(b));
	for (i = 0; i < n && len == -EINVAL; i++) {
		switch (b[i]) {
		case 0x66:
			o32 = !d32;
			continue;
		case 0x67:
			a32 = !d32;
			continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64:
		case 0x65: case 0xf0: case 0xf2: case 0xf3:
			continue;
		case 0xcc: case 0xce: case 0xcf: case 0xf1:
			len = i + 1;
			break;
		case 0xcd:
			len = i + 2;
			break;
		case 0x9a: case 0xea:
			len = i + 3 + (o32 ? 4 : 2);
			break;
		case 0xff:
			extra = i + 1 < n ? ts_modrm_extra(b, n, i + 1, a32) :
				-EINVAL;
			if (extra < 0)
				return ts_refuse(c, VHM_TASK_SWITCH_DECODE);
			len = i + 2 + extra;
			break;
		default:
			return ts_refuse(c, VHM_TASK_SWITCH_DECODE);
		}
	}
	if (len < 0 || len > n)
		return ts_refuse(c, VHM_TASK_SWITCH_DECODE);
	c->next_eip = (u32)(c->r.rip + len);
	return 0;
}

/* The EIP the old task resumes at: after the instruction, or the event's. */
static int ts_next_eip(struct vhm_ts *c)
{
	const struct vhm_task_switch *in = c->in;

	c->next_eip = (u32)c->r.rip;
	if (in->source == VHM_TS_GATE && in->kind != VHM_CUT_SOFTWARE)
		return 0;
	if (in->insn_len) {
		c->next_eip = (u32)(c->r.rip + in->insn_len);
		return 0;
	}
	return ts_insn_len(c);
}

/* Everything the switch writes, writable before any of it is written. */
static int ts_check_writes(struct vhm_ts *c)
{
	u8 src = c->in->source;
	int r;

	r = ts_check_writable(c, c->s.tr.base + TS_DYN_OFF, TS_DYN_LEN);
	if (!r && c->old_desc_gva)
		r = ts_check_writable(c, c->old_desc_gva, 8);
	if (!r && src != VHM_TS_IRET)
		r = ts_check_writable(c, c->new_desc_gva, 8);
	if (!r && (src == VHM_TS_CALL || src == VHM_TS_GATE))
		r = ts_check_writable(c, c->new_base, 2);
	return r;
}

static int ts_set_busy(struct vhm_ts *c, u64 gva, bool busy)
{
	u64 d;
	int r = ts_read(c, gva, &d, sizeof(d));

	if (r)
		return r;
	d = busy ? d | TS_BUSY : d & ~TS_BUSY;
	return ts_write(c, gva, &d, sizeof(d));
}

/* SDM 8.3 steps 7-10: the old task saved, linked, busy bits. */
static int ts_save_old(struct vhm_ts *c)
{
	u8 src = c->in->source;
	u32 dyn[TS_DYN_LEN / 4];
	u32 eflags = c->r.rflags;
	unsigned int i;
	u16 link = c->s.tr.selector;
	int r = 0;

	if (src == VHM_TS_IRET)
		eflags &= ~X86_EFLAGS_NT;
	dyn[0] = c->next_eip;
	dyn[1] = eflags;
	for (i = 0; i < 8; i++)
		dyn[2 + i] = *vhm_regs_gpr(&c->r, i);
	dyn[10] = c->s.es.selector;
	dyn[11] = c->s.cs.selector;
	dyn[12] = c->s.ss.selector;
	dyn[13] = c->s.ds.selector;
	dyn[14] = c->s.fs.selector;
	dyn[15] = c->s.gs.selector;
	if (c->old_desc_gva)
		r = ts_set_busy(c, c->old_desc_gva, false);
	if (!r)
		r = ts_write(c, c->s.tr.base + TS_DYN_OFF, dyn, sizeof(dyn));
	if (!r && (src == VHM_TS_CALL || src == VHM_TS_GATE))
		r = ts_write(c, c->new_base, &link, sizeof(link));
	if (!r && src != VHM_TS_IRET)
		r = ts_set_busy(c, c->new_desc_gva, true);
	return r;
}

/* The LDT of the new task (SDM 8.3 step 12): in the GDT, an LDT, present. */
static int ts_load_ldt(struct vhm_ts *c)
{
	u16 sel = c->tss.ldt;
	u64 d, gva;
	int r;

	if (!(sel & ~3)) {
		ts_null_seg(sel, &c->s.ldt);
		return 0;
	}
	if (sel & 4)
		return ts_fault(c, X86_TRAP_TS, sel);
	r = ts_read_desc(c, sel, &d, &gva);
	if (r)
		return r == -ERANGE ? ts_fault(c, X86_TRAP_TS, sel) : r;
	if (TS_DESC_TYPE(d) != TS_TYPE_LDT || !(d & TS_DESC_P))
		return ts_fault(c, X86_TRAP_TS, sel);
	ts_desc_to_seg(d, sel, &c->s.ldt);
	return 0;
}

/*
 * Whether descriptor d may be loaded into segment register seg at the new
 * CPL (SDM 8.3 step 12, the checks of MOV Sreg and far transfers): 0, or
 * the fault.
 */
static int ts_check_seg(struct vhm_ts *c, unsigned int seg, u16 sel, u64 d,
			unsigned int cpl)
{
	u32 type = TS_DESC_TYPE(d);
	unsigned int dpl = TS_DESC_DPL(d), rpl = sel & 3;
	bool code = type & TS_CODE;

	if (!(type & VHM_SEG_S))
		return ts_fault(c, X86_TRAP_TS, sel);
	switch (seg) {
	case VHM_SREG_CS:
		if (!code || (type & TS_CONFORMING ? dpl > rpl : dpl != rpl))
			return ts_fault(c, X86_TRAP_TS, sel);
		break;
	case VHM_SREG_SS:
		if (code || !(type & TS_WRITABLE) || rpl != cpl || dpl != cpl)
			return ts_fault(c, X86_TRAP_TS, sel);
		if (!(d & TS_DESC_P))
			return ts_fault(c, X86_TRAP_SS, sel);
		return 0;
	default:
		if (code && !(type & TS_READABLE))
			return ts_fault(c, X86_TRAP_TS, sel);
		if ((!code || !(type & TS_CONFORMING)) &&
		    dpl < max(cpl, rpl))
			return ts_fault(c, X86_TRAP_TS, sel);
	}
	if (!(d & TS_DESC_P))
		return ts_fault(c, X86_TRAP_NP, sel);
	return 0;
}

static struct vhm_segment *ts_sreg(struct vhm_sregs *s, unsigned int seg)
{
	struct vhm_segment *segs[] = { &s->es, &s->cs, &s->ss, &s->ds,
				       &s->fs, &s->gs };

	return segs[seg];
}

/* One segment register of the new task, its accessed bit set. */
static int ts_load_seg(struct vhm_ts *c, unsigned int seg, unsigned int cpl)
{
	u16 sel = c->tss.seg[seg];
	u64 d, gva;
	int r;

	if (!(sel & ~3)) {
		if (seg == VHM_SREG_CS || seg == VHM_SREG_SS)
			return ts_fault(c, X86_TRAP_TS, sel);
		ts_null_seg(sel, ts_sreg(&c->s, seg));
		return 0;
	}
	r = ts_read_desc(c, sel, &d, &gva);
	if (r)
		return r == -ERANGE ? ts_fault(c, X86_TRAP_TS, sel) : r;
	r = ts_check_seg(c, seg, sel, d, cpl);
	if (r)
		return r;
	/* Set in memory as by the CPU, where vhm can write the table. */
	if (!(d & TS_ACCESSED)) {
		d |= TS_ACCESSED;
		if (ts_write(c, gva, &d, sizeof(d)))
			c->reason = 0;
	}
	ts_desc_to_seg(d, sel, ts_sreg(&c->s, seg));
	return 0;
}

/*
 * SDM 8.3 step 12: the new task's LDTR and segment registers. A fault
 * leaves the registers not yet loaded as they were: data segments
 * unusable (with the new selectors), CS and SS the old task's descriptors,
 * which VM entry accepts.
 */
static int ts_load_segs(struct vhm_ts *c)
{
	static const u8 order[] = { VHM_SREG_CS, VHM_SREG_SS, VHM_SREG_DS,
				    VHM_SREG_ES, VHM_SREG_FS, VHM_SREG_GS };
	unsigned int cpl = c->tss.seg[VHM_SREG_CS] & 3, i;
	int r;

	for (i = 0; i < ARRAY_SIZE(order); i++)
		if (order[i] != VHM_SREG_CS && order[i] != VHM_SREG_SS)
			ts_null_seg(c->tss.seg[order[i]],
				    ts_sreg(&c->s, order[i]));
	r = ts_load_ldt(c);
	for (i = 0; !r && i < ARRAY_SIZE(order); i++)
		r = ts_load_seg(c, order[i], cpl);
	return r;
}

/* The new task's registers, TR, CR0.TS, CR3; the rest in ts_load_segs. */
static void ts_load_regs(struct vhm_ts *c)
{
	const struct vhm_tss32 *t = &c->tss;
	unsigned int i;
	u64 dr6, dr7;

	c->r.rip = t->eip;
	c->r.rflags = (t->eflags & VHM_RFLAGS_VALID) | X86_EFLAGS_FIXED;
	if (c->in->source == VHM_TS_CALL || c->in->source == VHM_TS_GATE)
		c->r.rflags |= X86_EFLAGS_NT;
	for (i = 0; i < 8; i++)
		*vhm_regs_gpr(&c->r, i) = t->gpr[i];
	ts_desc_to_seg(c->new_desc | TS_BUSY, c->in->selector, &c->s.tr);
	c->s.cr0 |= X86_CR0_TS;
	if (c->s.cr0 & X86_CR0_PG)
		c->s.cr3 = t->cr3;
	/* The local breakpoints belong to the old task (SDM 17.2.4). */
	vhm_ops->get_dr67(c->vcpu, &dr6, &dr7);
	vhm_ops->set_dr67(c->vcpu, dr6, dr7 & ~TS_DR7_LOCAL);
}

/* An exception's error code, pushed on the new task's stack. */
static int ts_push_error(struct vhm_ts *c)
{
	bool big = c->s.ss.attrib & VHM_SEG_DB;
	u32 sp = (big ? (u32)c->r.rsp : (u16)c->r.rsp) - 4;
	u32 err = c->in->err;

	if (!big)
		sp = (u16)sp;
	if (vhm_write_guest_virt(c->vcpu->vm, &c->s, (u32)(c->s.ss.base + sp),
				 vhm_gva_access(&c->s, c->r.rflags,
						VHM_PF_WRITE),
				 &err, sizeof(err)))
		return ts_refuse(c, VHM_TASK_SWITCH_MEMORY);
	c->r.rsp = big ? sp : (c->r.rsp & ~0xffffULL) | sp;
	return 0;
}

/* The event the switch delivers is taken out of the queue: it is done. */
static void ts_consume_event(struct vhm_ts *c)
{
	struct vhm_vcpu *vcpu = c->vcpu;
	u32 blocking;

	if (c->in->source != VHM_TS_GATE)
		return;
	switch (c->in->kind) {
	case VHM_CUT_EXCEPTION:
		vhm_dequeue_exception(vcpu);
		c->ext = 1;
		break;
	case VHM_CUT_NMI:
		vcpu->events.flags &= ~VHM_EVENT_NMI_PENDING;
		c->ext = 1;
		/* NMIs are blocked from the delivery to the next IRET. */
		blocking = vhm_ops->get_event_blocking(vcpu);
		vhm_ops->set_event_blocking(vcpu, blocking |
					    VHM_EVENT_NMI_MASKED);
		break;
	case VHM_CUT_INTERRUPT:
		vhm_dequeue_interrupt(vcpu);
		c->ext = 1;
		break;
	}
}

static int ts_refused(struct vhm_ts *c)
{
	struct vhm_run *run = c->vcpu->run;

	run->exit_reason = VHM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = VHM_INTERNAL_TASK_SWITCH;
	run->internal.ndata = 4;
	run->internal.data[0] = c->reason;
	run->internal.data[1] = c->in->selector;
	run->internal.data[2] = c->in->source;
	run->internal.data[3] = c->rip;
	return 0;
}

/* Checks in the old task's context, and the new TSS read. */
static int ts_prepare(struct vhm_ts *c)
{
	int r;

	if (c->s.efer & EFER_LMA)
		return ts_refuse(c, VHM_TASK_SWITCH_LONG_MODE);
	if (!(c->s.cr0 & X86_CR0_PE) || (c->r.rflags & X86_EFLAGS_VM))
		return ts_refuse(c, VHM_TASK_SWITCH_VM86);
	r = ts_next_eip(c);
	if (!r)
		r = ts_check_new_tss(c);
	if (!r)
		r = ts_check_old_tss(c);
	if (!r)
		r = ts_read(c, c->new_base, &c->tss, sizeof(c->tss));
	if (!r && (c->tss.eflags & X86_EFLAGS_VM))
		r = ts_refuse(c, VHM_TASK_SWITCH_VM86);
	if (!r)
		r = ts_check_writes(c);
	return r;
}

/* The new task's state in the vCPU: after it, faults are the new task's. */
static int ts_switch(struct vhm_ts *c)
{
	int r = ts_save_old(c);
	u32 blocking;

	if (r)
		return r;
	ts_load_regs(c);
	r = ts_load_segs(c);
	if (!r && c->in->source == VHM_TS_GATE && c->in->has_err)
		r = ts_push_error(c);
	vhm_set_regs(c->vcpu, &c->r);
	if (vhm_ops->set_sregs(c->vcpu, &c->s))
		return ts_refuse(c, VHM_TASK_SWITCH_MEMORY);
	blocking = vhm_ops->get_event_blocking(c->vcpu);
	vhm_ops->set_event_blocking(c->vcpu, blocking & ~VHM_EVENT_INT_SHADOW);
	return r;
}

int vhm_task_switch(struct vhm_vcpu *vcpu, const struct vhm_task_switch *in)
{
	struct vhm_ts *c;
	int r;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->vcpu = vcpu;
	c->in = in;
	ts_consume_event(c);
	vhm_get_regs(vcpu, &c->r);
	c->rip = c->r.rip;
	vhm_ops->get_sregs(vcpu, &c->s);
	c->sys = c->s.cr0 & X86_CR0_WP ? VHM_GVA_WP : 0;
	if (c->s.cr4 & X86_CR4_SMAP)
		c->sys |= VHM_GVA_SMAP;
	r = ts_prepare(c);
	if (!r)
		r = ts_switch(c);
	if (r == -EAGAIN) {
		/*
		 * A fault in a switch through a task gate is a fault while
		 * delivering its event: an exception and it may make #DF.
		 */
		if (in->source == VHM_TS_GATE && in->kind == VHM_CUT_EXCEPTION)
			vhm_queue_exception(vcpu, in->vector, in->has_err,
					    in->err);
		vhm_queue_exception(vcpu, c->fault_vector, true, c->fault_err);
		r = 1;
	} else if (r == -EIO) {
		r = ts_refused(c);
	} else if (!r) {
		r = 1;
	}
	kfree(c);
	return r;
}
