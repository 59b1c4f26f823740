// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's debug registers. Every MOV to or from a debug register
 * exits; vhm keeps DR0-3 here and DR6/DR7 where the vendor's hardware
 * switches them (VMCB, VMCS). The guest's DR0-3 are loaded into the CPU
 * only while it runs with breakpoints enabled in DR7, and the host's
 * breakpoints are restored after every exit (an exit resets DR7), as is
 * the host's DR6 (vhm_dr_put_guest()). The host's DR0-3 and DR7 are read
 * before the entry and written back after it, only when either side has
 * breakpoints enabled: the kernel's own restore helper is exported to KVM
 * only on 7.x.
 */
#include <linux/sched.h>
#include <asm/debugreg.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>

#include "regs.h"
#include "vhm.h"
#include "vm.h"

/* DR6: B0-3, BD, BS, BT are the guest's; the rest reads as 1 (no RTM). */
#define VHM_DR6_FIXED1	0xffff0ff0ULL
#define VHM_DR6_BD	BIT(13)		/* the #DB was a general detect */
#define VHM_DR6_VALID	(DR_TRAP_BITS | VHM_DR6_BD | DR_STEP | BIT(15))
#define VHM_DR7_FIXED1	BIT(10)
#define VHM_DR7_GD	BIT(13)		/* general detect */
#define VHM_DR7_ZERO	(BIT(11) | BIT(12) | BIT(14) | BIT(15))
#define VHM_DR7_ENABLED	0xffULL		/* L0-3, G0-3 */

void vhm_dr_reset(struct vhm_vcpu *vcpu)
{
	memset(vcpu->db, 0, sizeof(vcpu->db));
}

static u64 vhm_dr6_value(u64 val)
{
	return (val & VHM_DR6_VALID) | VHM_DR6_FIXED1;
}

static u64 vhm_dr7_value(u64 val)
{
	return (val | VHM_DR7_FIXED1) & ~VHM_DR7_ZERO;
}

static enum vhm_emul vhm_dr_write(struct vhm_vcpu *vcpu, unsigned int n,
				  u64 val, u64 *dr6, u64 *dr7)
{
	if (n < 4) {
		vcpu->db[n] = val;
		return VHM_EMUL_DONE;
	}
	if (val >> 32)
		return VHM_EMUL_GP;
	if (n == 6)
		*dr6 = vhm_dr6_value(val);
	else
		*dr7 = vhm_dr7_value(val);
	return VHM_EMUL_DONE;
}

static u64 vhm_dr_read(struct vhm_vcpu *vcpu, unsigned int n, u64 dr6, u64 dr7)
{
	if (n < 4)
		return vcpu->db[n];
	return n == 6 ? dr6 : dr7;
}

/*
 * DR7.GD (general detect): a MOV to or from any debug register raises #DB
 * before it executes (a fault, RIP stays on the MOV), with DR6.BD set and
 * B0-3 clear; entering the handler clears GD so that the handler can use
 * the debug registers (vhm_dr_db_delivered(), as for every #DB). The hardware's own check never comes
 * first here: VMX's MOV-DR exit takes priority over the #DB, and QEMU's
 * TCG checks its SVM intercept (and has no GD at all); an AMD CPU raises
 * the #DB before the intercept, and it comes back as a #DB exit.
 */
static bool vhm_dr_general_detect(u64 *dr6, u64 *dr7)
{
	if (!(*dr7 & VHM_DR7_GD))
		return false;
	*dr6 = (*dr6 & ~(u64)DR_TRAP_BITS) | VHM_DR6_BD;
	return true;
}

/*
 * The debug trap after an instruction vhm completed for the guest (or an
 * iteration of a REP string instruction, which traps after each one): with
 * RFLAGS.TF set, the CPU would have raised the single-step #DB with DR6.BS
 * (SDM vol. 3A, "Single-Step Exception Condition"; AMD APM vol. 2, "Single
 * Step"), and a data breakpoint its memory accesses hit (hits: B0-3) is a
 * #DB trap too, with those bits (SDM vol. 3A, "Data Memory and I/O
 * Breakpoint Exception Conditions"). The instruction never completed in
 * the guest, so vhm raises it: queued for the next entry, RIP already
 * past the instruction (or still on a REP with more to do). B0-3 are
 * replaced, other DR6 bits kept. An exception already pending (which no
 * completed instruction leaves) is kept.
 */
static bool vhm_dr_trap_dr6(struct vhm_vcpu *vcpu, u64 *dr6, u32 hits)
{
	bool step = vhm_rflags(vcpu) & X86_EFLAGS_TF;

	if ((!step && !hits) || (vcpu->events.flags & VHM_EVENT_EXCEPTION))
		return false;
	*dr6 = (*dr6 & ~(u64)DR_TRAP_BITS) | hits | (step ? DR_STEP : 0);
	vhm_queue_exception(vcpu, X86_TRAP_DB, false, 0);
	return true;
}

/*
 * The instruction (or iteration) vhm completed also ends the guest's STI
 * or MOV SS shadow it ran in, if any (SDM vol. 3A, 6.8.3 "Masking
 * Exceptions and Interrupts When Switching Stacks"; AMD APM vol. 2,
 * "Interrupt Shadows"), as the vendor's skip does for the instructions it
 * completes; the breakpoints a MOV SS hit, held through it, join the trap.
 */
void vhm_dr_trap(struct vhm_vcpu *vcpu, u32 hits)
{
	u64 dr6, dr7;

	hits |= vhm_ops->end_shadow(vcpu);
	vhm_ops->get_dr67(vcpu, &dr6, &dr7);
	if (vhm_dr_trap_dr6(vcpu, &dr6, hits))
		vhm_ops->set_dr67(vcpu, dr6, dr7);
}

/* An instruction completed through the vendor's skip: no memory access. */
void vhm_dr_single_step(struct vhm_vcpu *vcpu)
{
	vhm_dr_trap(vcpu, 0);
}

#define VHM_DR_RW_OFF	4	/* not a R/W value: neither Ln nor Gn set */

/* Breakpoint n's R/W field (00 fetch, 01 write, 10 I/O, 11 data), or off. */
static unsigned int vhm_dr_rw(u64 dr7, unsigned int n)
{
	if (!(dr7 & (3ULL << (2 * n))))
		return VHM_DR_RW_OFF;
	return (dr7 >> (16 + 4 * n)) & 3;
}

/* Breakpoint n watches data accesses of this kind (R/W 01: writes, 11: both). */
static bool vhm_dr_watches(u64 dr7, unsigned int n, bool write)
{
	unsigned int rw = vhm_dr_rw(dr7, n);

	return rw == 3 || (rw == 1 && write);
}

/*
 * The bytes breakpoint n covers: LEN 00, 01, 11, 10 are 1, 2, 4, 8 bytes,
 * from DRn with its low bits ignored (the CPU aligns it to the length).
 */
static void vhm_dr_range(struct vhm_vcpu *vcpu, u64 dr7, unsigned int n,
			 u64 *start, u64 *len)
{
	static const u8 lens[4] = { 1, 2, 8, 4 };

	*len = lens[(dr7 >> (18 + 4 * n)) & 3];
	*start = vcpu->db[n] & ~(*len - 1);
}

/* B0-3 of the enabled data breakpoints that an access to [la, la + len) hits. */
u32 vhm_dr_data_hits(struct vhm_vcpu *vcpu, u64 la, u64 len, bool write)
{
	u64 dr6, dr7, start, n_len;
	unsigned int n;
	u32 hits = 0;

	vhm_ops->get_dr67(vcpu, &dr6, &dr7);
	for (n = 0; n < 4; n++) {
		if (!vhm_dr_watches(dr7, n, write))
			continue;
		vhm_dr_range(vcpu, dr7, n, &start, &n_len);
		if (la < start + n_len && start < la + len)
			hits |= BIT(n);
	}
	return hits;
}

/*
 * B0-3 of the enabled I/O breakpoints (R/W 10, defined with CR4.DE only)
 * that an access to the ports [port, port + size) hits. The CPU never runs
 * the IN, OUT, INS or OUTS vhm intercepts, so their trap is vhm's to raise.
 */
u32 vhm_dr_io_hits(struct vhm_vcpu *vcpu, u16 port, unsigned int size)
{
	u64 dr6, dr7, start, len;
	unsigned int n;
	u32 hits = 0;

	if (!(vhm_ops->cr4(vcpu) & X86_CR4_DE))
		return 0;
	vhm_ops->get_dr67(vcpu, &dr6, &dr7);
	for (n = 0; n < 4; n++) {
		if (vhm_dr_rw(dr7, n) != 2)
			continue;
		vhm_dr_range(vcpu, dr7, n, &start, &len);
		if (port < start + len && start < (u64)port + size)
			hits |= BIT(n);
	}
	return hits;
}

/*
 * How many of the n elements (size bytes each, upward from la) of a REP
 * string instruction vhm may move before the guest's debug trap: one with
 * RFLAGS.TF (a trap after every iteration), else up to the first that
 * hits a data breakpoint ("Repeated INS and OUTS instructions generate a
 * data-breakpoint debug exception after the iteration in which the memory
 * address breakpoint location is accessed", SDM vol. 3A).
 */
u32 vhm_dr_string_elements(struct vhm_vcpu *vcpu, u64 la, unsigned int size,
			   u32 n, bool write)
{
	u64 dr6, dr7, start, len, first;
	unsigned int i;

	if (vhm_rflags(vcpu) & X86_EFLAGS_TF)
		return 1;
	vhm_ops->get_dr67(vcpu, &dr6, &dr7);
	for (i = 0; i < 4; i++) {
		if (!vhm_dr_watches(dr7, i, write))
			continue;
		vhm_dr_range(vcpu, dr7, i, &start, &len);
		if (start + len <= la)
			continue;
		first = start > la ? (start - la) / size : 0;
		if (first < n)
			n = first + 1;
	}
	return n;
}

/*
 * Entering the #DB handler clears DR7.GD, whatever the #DB's cause
 * (single step, breakpoint, general detect, ICEBP), so that the handler
 * can read DR6. An injected #DB does not do it: vhm does, for every #DB
 * it raises in the guest (a GD left set made the handler's MOV from DR6
 * a #DB of its own, again and again).
 */
void vhm_dr_db_delivered(struct vhm_vcpu *vcpu)
{
	u64 dr6, dr7;

	vhm_ops->get_dr67(vcpu, &dr6, &dr7);
	if (dr7 & VHM_DR7_GD)
		vhm_ops->set_dr67(vcpu, dr6, dr7 & ~VHM_DR7_GD);
}

enum vhm_emul vhm_emulate_mov_dr(struct vhm_vcpu *vcpu, u64 *dr6, u64 *dr7,
				 u64 cr4, unsigned int cpl)
{
	enum vhm_cpu_mode mode;
	struct vhm_mov_cr m;
	struct vhm_regs r;
	enum vhm_emul e = VHM_EMUL_DONE;
	unsigned int n;
	u64 *reg;

	if (vhm_fetch_mov_cr(vcpu, &m, &r, &mode) || !m.debug)
		return VHM_EMUL_FAILED;
	if (cpl)
		return VHM_EMUL_GP;
	n = m.cr;
	if (n == 4 || n == 5) {	/* aliases of DR6, DR7 unless CR4.DE */
		if (cr4 & X86_CR4_DE)
			return VHM_EMUL_UD;
		n += 2;
	}
	if (n > 7)
		return VHM_EMUL_UD;
	if (vhm_dr_general_detect(dr6, dr7))
		return VHM_EMUL_DB;
	reg = vhm_regs_gpr(&r, m.gpr);
	if (m.write)
		e = vhm_dr_write(vcpu, n, mode == VHM_MODE_LONG64 ? *reg :
				 (u32)*reg, dr6, dr7);
	else
		*reg = vhm_dr_read(vcpu, n, *dr6, *dr7);
	if (e != VHM_EMUL_DONE)
		return e;
	r.rip += m.len;
	vhm_set_regs(vcpu, &r);
	/* Completed without the vendor's skip: the single step is raised here. */
	vhm_dr_trap_dr6(vcpu, dr6, vhm_ops->end_shadow(vcpu));
	return VHM_EMUL_DONE;
}

/*
 * The host's breakpoints, interrupts off until vhm_dr_put_guest(): nothing
 * can change them in between. Read from the CPU rather than from the
 * kernel's per-CPU copy of them, which is not exported.
 */
static void vhm_dr_save_host(struct vhm_vcpu *vcpu)
{
	get_debugreg(vcpu->host_db[0], 0);
	get_debugreg(vcpu->host_db[1], 1);
	get_debugreg(vcpu->host_db[2], 2);
	get_debugreg(vcpu->host_db[3], 3);
	get_debugreg(vcpu->host_dr7, 7);
}

/* DR7 last: no breakpoint enabled on an address not yet restored. */
static void vhm_dr_restore_host(struct vhm_vcpu *vcpu)
{
	set_debugreg(vcpu->host_db[0], 0);
	set_debugreg(vcpu->host_db[1], 1);
	set_debugreg(vcpu->host_db[2], 2);
	set_debugreg(vcpu->host_db[3], 3);
	set_debugreg(vcpu->host_dr7, 7);
}

/*
 * Interrupts off, before entry. The host's breakpoints are saved when the
 * guest's replace them or when the host has some (the exit clears DR7
 * either way).
 */
void vhm_dr_load_guest(struct vhm_vcpu *vcpu, u64 dr7)
{
	lockdep_assert_irqs_disabled();
	vcpu->host_db_saved = (dr7 & VHM_DR7_ENABLED) || hw_breakpoint_active();
	if (vcpu->host_db_saved)
		vhm_dr_save_host(vcpu);
	if (!(dr7 & VHM_DR7_ENABLED))
		return;
	set_debugreg(0, 7);	/* no host breakpoint on the guest's addresses */
	set_debugreg(vcpu->db[0], 0);
	set_debugreg(vcpu->db[1], 1);
	set_debugreg(vcpu->db[2], 2);
	set_debugreg(vcpu->db[3], 3);
}

/*
 * After every exit, interrupts off: the host's breakpoints, and DR6 at its
 * reset value DR6_RESERVED whatever the guest left there. The host's #DB
 * handler takes DR6 as the cause of its next debug exception (and resets
 * it only then), so a stale BS or B0-3 of the guest would turn a host
 * INT1 or breakpoint into a "single step" or a hit that did not happen.
 * Both vendors need it: VMX does not switch DR6 at all, so a guest #DB
 * (a single step with RFLAGS.TF, a breakpoint) sets bits in the host's
 * DR6 whether or not the guest's DR7 enables breakpoints; SVM's VMRUN
 * loads the guest's DR6 from the VMCB and #VMEXIT saves it back, and vhm
 * does not rely on #VMEXIT putting the host's value back (QEMU's TCG does,
 * from the host save area; that is not architectural state). Reading DR6 is cheap next to the exit; it is written only when it
 * differs.
 */
void vhm_dr_put_guest(struct vhm_vcpu *vcpu, u64 dr7)
{
	unsigned long dr6;

	lockdep_assert_irqs_disabled();
	if (vcpu->host_db_saved)
		vhm_dr_restore_host(vcpu);
	get_debugreg(dr6, 6);
	if (dr6 != DR6_RESERVED)
		set_debugreg(DR6_RESERVED, 6);
}

long vhm_vcpu_get_debugregs(struct vhm_vcpu *vcpu,
			    struct vhm_debugregs __user *u)
{
	struct vhm_debugregs d = {};

	memcpy(d.db, vcpu->db, sizeof(d.db));
	vhm_ops->get_dr67(vcpu, &d.dr6, &d.dr7);
	return copy_to_user(u, &d, sizeof(d)) ? -EFAULT : 0;
}

long vhm_vcpu_set_debugregs(struct vhm_vcpu *vcpu,
			    const struct vhm_debugregs __user *u)
{
	struct vhm_debugregs d;

	if (copy_from_user(&d, u, sizeof(d)))
		return -EFAULT;
	if (d.flags || d.padding || memchr_inv(d.reserved, 0, sizeof(d.reserved)))
		return -EINVAL;
	if (d.dr6 >> 32 || d.dr7 >> 32)
		return -EINVAL;
	memcpy(vcpu->db, d.db, sizeof(d.db));
	vhm_ops->set_dr67(vcpu, vhm_dr6_value(d.dr6), vhm_dr7_value(d.dr7));
	return 0;
}
