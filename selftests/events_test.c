// SPDX-License-Identifier: GPL-2.0
/*
 * VHM_GET_VCPU_EVENTS / VHM_SET_VCPU_EVENTS on the AMD backend, seen by C
 * guests (include/guest.h): injected exceptions with and without error
 * codes, external interrupts held while the guest cannot take them (IF=0,
 * the STI shadow) and delivered when it can, NMIs held while an NMI handler
 * runs and delivered after its IRET, an event whose delivery an exit cut
 * short, a vCPU saved and restored into a fresh one, and the argument
 * checks.
 *
 * Built with the guest code flags (Makefile: GUEST_CFLAGS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define IRQ_VECTOR	0x40
#define IRQ_VECTOR2	0x41
#define PF_ADDR		0xdead000ull

GUEST_FIXTURE(events_test)

static struct vhm_vcpu_events events(uint32_t flags, uint8_t exc_vector,
				     uint32_t error_code, uint8_t irq_vector)
{
	struct vhm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	ev.flags = flags;
	ev.exception_vector = exc_vector;
	ev.exception_error_code = error_code;
	ev.interrupt_vector = irq_vector;
	return ev;
}

static uint64_t guest_rip(struct __test_metadata *_metadata,
			  struct guest_vcpu *v)
{
	struct vhm_regs r;

	EXPECT_VHM(vhm_get_regs(&v->raw, &r));
	return r.rip;
}

/* ---------------------------------------------------------------------
 * Guest side: handlers record what they saw.
 */

static volatile uint64_t seen_count, seen_vector, seen_error, seen_rip;
static volatile uint64_t seen_cr2;

static void record_handler(struct ex_regs *regs)
{
	seen_count++;
	seen_vector = regs->vector;
	seen_error = regs->error_code;
	seen_rip = regs->rip;
	seen_cr2 = guest_read_cr2();
}

/* SYNC(0): the host injects; then the handler's record. */
static void guest_report_events(void)
{
	for (;;) {
		GUEST_SYNC(0);
		GUEST_SYNC_ARGS(seen_count, seen_vector, seen_error, seen_rip);
		GUEST_SYNC(seen_cr2);
	}
}

struct exc_case {
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
};

/* #GP with an error code, #PF with its CR2, #UD without a code. */
TEST_F(events_test, inject_exceptions)
{
	static const struct exc_case cases[] = {
		{ 13, true, 0x1234 }, { 14, true, 0x2 }, { 6, false, 0 },
	};
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_vcpu_events ev;
	struct vhm_sregs s;
	struct ucall uc;
	unsigned int i;

	RETURN_IF_SKIPPED();
	for (i = 0; i < 32; i++)
		guest_vm_set_handler(&self->vm, i, record_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_report_events, 0));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct exc_case *c = &cases[i];
		uint64_t rip;

		ASSERT_GUEST_SYNC(v, 0);
		rip = guest_rip(_metadata, v);
		if (c->vector == 14) {
			ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
			s.cr2 = PF_ADDR;
			ASSERT_VHM(vhm_set_sregs(&v->raw, &s));
		}
		ev = events(VHM_EVENT_EXCEPTION |
			    (c->has_error_code ? VHM_EVENT_ERROR_CODE : 0),
			    c->vector, c->error_code, 0);
		ASSERT_VHM(vhm_set_events(&v->raw, &ev));
		ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
		EXPECT_EQ(i + 1, uc.args[0]);
		EXPECT_EQ(c->vector, uc.args[1]);
		EXPECT_EQ(c->error_code, uc.args[2]);
		EXPECT_EQ(rip, uc.args[3]);
		ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
		if (c->vector == 14)
			EXPECT_EQ(PF_ADDR, uc.args[0]);
		/* Delivered: nothing is left pending. */
		ASSERT_VHM(vhm_get_events(&v->raw, &ev));
		EXPECT_EQ(0, ev.flags & VHM_EVENT_EXCEPTION);
	}
}

/* ---------------------------------------------------------------------
 * External interrupts
 */

static volatile uint64_t irq_count, irq_rip, irq_vector;

static void irq_handler(struct ex_regs *regs)
{
	irq_count++;
	irq_rip = regs->rip;
	irq_vector = regs->vector;
}

extern const char sti_nop_end[], sti_hlt_end[];

static void __attribute__((noinline)) guest_sti_nop(void)
{
	asm volatile("sti; nop\n"
		     ".globl sti_nop_end\n"
		     "sti_nop_end:\n"
		     "cli" : : : "memory");
}

static void __attribute__((noinline)) guest_sti_hlt(void)
{
	asm volatile("sti; hlt\n"
		     ".globl sti_hlt_end\n"
		     "sti_hlt_end:\n"
		     "cli" : : : "memory");
}

static void guest_interrupts(void)
{
	/* IF=1: delivered at once. */
	asm volatile("sti" : : : "memory");
	GUEST_SYNC(0);
	GUEST_SYNC_ARGS(irq_count, irq_vector, 0, 0);
	/* IF=0: held across exits until STI and the instruction after it. */
	asm volatile("cli" : : : "memory");
	GUEST_SYNC(1);
	GUEST_SYNC(irq_count);
	guest_sti_nop();
	GUEST_SYNC_ARGS(irq_count, irq_rip, 0, 0);
	/* sti; hlt: the interrupt ends the HLT and returns after it. */
	GUEST_SYNC(2);
	guest_sti_hlt();
	GUEST_SYNC_ARGS(irq_count, irq_rip, 0, 0);
	GUEST_DONE();
}

TEST_F(events_test, interrupt_window)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_vcpu_events ev;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, IRQ_VECTOR, irq_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_interrupts, 0));

	ASSERT_GUEST_SYNC(v, 0);
	ev = events(VHM_EVENT_INTERRUPT, 0, 0, IRQ_VECTOR);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(IRQ_VECTOR, uc.args[1]);

	ASSERT_GUEST_SYNC(v, 1);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	/* Held: the guest has IF=0, and GET says so. */
	ASSERT_GUEST_SYNC(v, 1);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(VHM_EVENT_INTERRUPT, ev.flags);
	EXPECT_EQ(IRQ_VECTOR, ev.interrupt_vector);
	/* After STI's shadow: the return address is past the nop. */
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ((uintptr_t)sti_nop_end, uc.args[1]);

	ASSERT_GUEST_SYNC(v, 2);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	/* No HLT exit: the interrupt ends it, returning after the HLT. */
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(3, uc.args[0]);
	EXPECT_EQ((uintptr_t)sti_hlt_end, uc.args[1]);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(0, ev.flags);
	ASSERT_GUEST_DONE(v);
}

/* ---------------------------------------------------------------------
 * NMIs
 */

static volatile uint64_t nmi_count, nmi_depth, nmi_max_depth;

static void nmi_handler(struct ex_regs *regs)
{
	nmi_count++;
	if (++nmi_depth > nmi_max_depth)
		nmi_max_depth = nmi_depth;
	if (nmi_count == 1) {
		/* The host injects a second NMI here: it must wait. */
		GUEST_SYNC(100);
		GUEST_SYNC(nmi_count);
	}
	nmi_depth--;
}

static void guest_nmis(void)
{
	GUEST_SYNC(0);
	GUEST_SYNC_ARGS(nmi_count, nmi_max_depth, 0, 0);
	GUEST_DONE();
}

TEST_F(events_test, nmi_masked_until_iret)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_vcpu_events ev;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, 2, nmi_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_nmis, 0));
	ASSERT_GUEST_SYNC(v, 0);
	ev = events(VHM_EVENT_NMI_PENDING, 0, 0, 0);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));

	/* In the handler: masked, nothing pending; add a second NMI. */
	ASSERT_GUEST_SYNC(v, 100);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(VHM_EVENT_NMI_MASKED, ev.flags);
	ev.flags |= VHM_EVENT_NMI_PENDING;
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	/* Still in the first handler: the second waits for its IRET. */
	ASSERT_GUEST_SYNC(v, 1);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(VHM_EVENT_NMI_MASKED | VHM_EVENT_NMI_PENDING, ev.flags);
	/* After the IRET: delivered, never nested. */
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(0, ev.flags);
	ASSERT_GUEST_DONE(v);
}

static volatile uint64_t nmi_rip, ud_count;

static void nmi_record_handler(struct ex_regs *regs)
{
	nmi_count++;
	nmi_rip = regs->rip;
}

static void ud_count_handler(struct ex_regs *regs)
{
	ud_count++;
}

static void guest_exception_then_nmi(void)
{
	GUEST_SYNC(0);
	GUEST_SYNC_ARGS(nmi_count, nmi_rip, ud_count, 0);
	GUEST_DONE();
}

/* lib/guest_x86_stubs.S: the IDT's entry points. */
extern const uint64_t guest_exception_stubs[GUEST_NR_VECTORS];

/*
 * An exception and an NMI set together: the exception is delivered first
 * and the NMI right after it, before the exception handler's first
 * instruction (vhm makes the guest exit at once to inject it).
 */
TEST_F(events_test, nmi_right_after_exception)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_vcpu_events ev;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, 2, nmi_record_handler);
	guest_vm_set_handler(&self->vm, 6, ud_count_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_exception_then_nmi, 0));
	ASSERT_GUEST_SYNC(v, 0);
	ev = events(VHM_EVENT_EXCEPTION | VHM_EVENT_NMI_PENDING, 6, 0, 0);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(guest_exception_stubs[6], uc.args[1]);
	EXPECT_EQ(1, uc.args[2]);
}

extern const char out_nop_end[];

/* A port I/O exit, then a NOP the host may put in a shadow. */
static void __attribute__((noinline)) guest_out_nop(void)
{
	asm volatile("outb %%al, $0x80\n"
		     "nop\n"
		     ".globl out_nop_end\n"
		     "out_nop_end:" : : : "memory");
}

static void guest_shadows(void)
{
	asm volatile("sti" : : : "memory");
	guest_out_nop();
	guest_out_nop();
	GUEST_SYNC_ARGS(nmi_count, nmi_rip, irq_count, irq_rip);
	GUEST_DONE();
}

/*
 * VHM_EVENT_INT_SHADOW set by the host holds an NMI, then an interrupt,
 * for exactly one instruction: both return past the NOP.
 */
TEST_F(events_test, shadow_holds_one_instruction)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_vcpu_events ev;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, 2, nmi_record_handler);
	guest_vm_set_handler(&self->vm, IRQ_VECTOR, irq_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_shadows, 0));

	ASSERT_VHM(guest_run(v));
	ASSERT_EQ(VHM_EXIT_IO, v->run->exit_reason);
	ev = events(VHM_EVENT_NMI_PENDING | VHM_EVENT_INT_SHADOW, 0, 0, 0);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	ASSERT_VHM(guest_run(v));
	ASSERT_EQ(VHM_EXIT_IO, v->run->exit_reason);
	ev = events(VHM_EVENT_INTERRUPT | VHM_EVENT_INT_SHADOW, 0, 0,
		    IRQ_VECTOR);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));

	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ((uintptr_t)out_nop_end, uc.args[1]);
	EXPECT_EQ(1, uc.args[2]);
	EXPECT_EQ((uintptr_t)out_nop_end, uc.args[3]);
	ASSERT_GUEST_DONE(v);
}

extern const char mss_out_end[], mss_mmio_end[];

/* MOV to SS (its own selector), then an OUT that exits in its shadow. */
static void __attribute__((noinline)) guest_mov_ss_out_nop(void)
{
	asm volatile("mov %%ss, %%eax\n\t"
		     "mov %%eax, %%ss\n\t"
		     "outb %%al, $0x80\n"
		     ".globl mss_out_end\n"
		     "mss_out_end:\n\t"
		     "nop" : : : "rax", "memory");
}

/* The same with a load from MMIO the VMM answers (vhm emulates it). */
static void __attribute__((noinline)) guest_mov_ss_mmio_nop(void)
{
	asm volatile("mov %%ss, %%eax\n\t"
		     "mov %%eax, %%ss\n\t"
		     "movl (%0), %%eax\n"
		     ".globl mss_mmio_end\n"
		     "mss_mmio_end:\n\t"
		     "nop" : : "r"(GUEST_MMIO_BASE) : "rax", "memory");
}

static void guest_mov_ss_shadows(void)
{
	(void)*(volatile uint32_t *)GUEST_MMIO_BASE;	/* its page table */
	GUEST_SYNC(0);
	asm volatile("sti" : : : "memory");
	guest_mov_ss_out_nop();
	guest_mov_ss_out_nop();
	GUEST_SYNC_ARGS(nmi_count, nmi_rip, irq_count, irq_rip);
	nmi_count = 0;
	irq_count = 0;
	guest_mov_ss_mmio_nop();
	guest_mov_ss_mmio_nop();
	GUEST_SYNC_ARGS(nmi_count, nmi_rip, irq_count, irq_rip);
	GUEST_DONE();
}

/*
 * At an exit in a MOV SS shadow, vhm completed the instruction: the
 * shadow is over (GET shows none); an NMI, then an interrupt, set there
 * arrive right after the instruction. Then the guest's report.
 */
static void mss_events_at_exits(struct __test_metadata *_metadata,
				struct guest_vcpu *v, uint32_t reason,
				uintptr_t end)
{
	struct vhm_vcpu_events ev;
	struct ucall uc;
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_VHM(guest_run(v));
		ASSERT_EQ(reason, v->run->exit_reason);
		if (reason == VHM_EXIT_IO) {
			ASSERT_EQ(0x80, v->run->io.port);
		} else {
			ASSERT_EQ(GUEST_MMIO_BASE, v->run->mmio.phys_addr);
			memset(v->run->mmio.data, 0, 4);
		}
		EXPECT_EQ(end, guest_rip(_metadata, v));
		ASSERT_VHM(vhm_get_events(&v->raw, &ev));
		EXPECT_EQ(0, ev.flags & VHM_EVENT_INT_SHADOW)
			TH_LOG("exit %d: a shadow after the instruction completed",
			       i);
		if (i == 0) {
			ev.flags |= VHM_EVENT_NMI_PENDING;
		} else {
			ev.flags |= VHM_EVENT_INTERRUPT;
			ev.interrupt_vector = IRQ_VECTOR;
		}
		ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	}
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(end, uc.args[1]) TH_LOG("NMI after %#llx, want %#llx",
					  (unsigned long long)uc.args[1],
					  (unsigned long long)end);
	EXPECT_EQ(1, uc.args[2]);
	EXPECT_EQ(end, uc.args[3]) TH_LOG("interrupt after %#llx, want %#llx",
					  (unsigned long long)uc.args[3],
					  (unsigned long long)end);
}

/*
 * The MOV SS shadow (SDM vol. 3A, 6.8.3; AMD APM vol. 2, "Interrupt
 * Shadows") covers the one instruction after the MOV SS. Here that
 * instruction exits to the VMM: an OUT (the vendor's skip completes it)
 * and an MMIO load (vhm's emulation does), and the VMM sets an NMI, then
 * an interrupt, at each exit: both must come right after the instruction,
 * not after the NOP past it.
 */
TEST_F(events_test, mov_ss_shadow_ends_after_exiting_instruction)
{
	struct guest_vcpu *v = &self->vcpu;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, 2, nmi_record_handler);
	guest_vm_set_handler(&self->vm, IRQ_VECTOR, irq_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_mov_ss_shadows, 0));
	/* The untouched MMIO page is a read first: answered here. */
	ASSERT_VHM(guest_run(v));
	ASSERT_EQ(VHM_EXIT_MMIO, v->run->exit_reason);
	memset(v->run->mmio.data, 0, 4);
	ASSERT_GUEST_SYNC(v, 0);
	mss_events_at_exits(_metadata, v, VHM_EXIT_IO, (uintptr_t)mss_out_end);
	mss_events_at_exits(_metadata, v, VHM_EXIT_MMIO,
			    (uintptr_t)mss_mmio_end);
	ASSERT_GUEST_DONE(v);
}

/* ---------------------------------------------------------------------
 * Save and restore
 */

TEST_F(events_test, set_get_round_trip)
{
	struct vhm_vcpu_events in, out;

	RETURN_IF_SKIPPED();
	in = events(VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE |
		    VHM_EVENT_INTERRUPT | VHM_EVENT_NMI_PENDING |
		    VHM_EVENT_NMI_MASKED | VHM_EVENT_INT_SHADOW,
		    13, 0xfedc1234, 0xfe);
	ASSERT_VHM(vhm_set_events(&self->vcpu.raw, &in));
	memset(&out, 0xff, sizeof(out));
	ASSERT_VHM(vhm_get_events(&self->vcpu.raw, &out));
	EXPECT_EQ(0, memcmp(&in, &out, sizeof(in)));

	in = events(VHM_EVENT_EXCEPTION, 31, 0, 0);
	ASSERT_VHM(vhm_set_events(&self->vcpu.raw, &in));
	ASSERT_VHM(vhm_get_events(&self->vcpu.raw, &out));
	EXPECT_EQ(0, memcmp(&in, &out, sizeof(in)));

	in = events(0, 0, 0, 0);
	ASSERT_VHM(vhm_set_events(&self->vcpu.raw, &in));
	memset(&out, 0xff, sizeof(out));
	ASSERT_VHM(vhm_get_events(&self->vcpu.raw, &out));
	EXPECT_EQ(0, memcmp(&in, &out, sizeof(in)));
}

static void guest_irq_after_sync(void)
{
	asm volatile("sti" : : : "memory");
	GUEST_SYNC(0);
	GUEST_SYNC_ARGS(irq_count, irq_vector, 0, 0);
	GUEST_DONE();
}

/*
 * The IDT moved to where no RAM is: delivering the interrupt exits
 * (VHM_INTERNAL_DELIVERY) and the interrupt is still pending; SET replaces
 * it, and once the IDT is back the replacement is delivered.
 */
TEST_F(events_test, delivery_cut_short_stays_pending)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_vcpu_events ev;
	struct vhm_sregs s, moved;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, IRQ_VECTOR, irq_handler);
	guest_vm_set_handler(&self->vm, IRQ_VECTOR2, irq_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_irq_after_sync, 0));
	ASSERT_GUEST_SYNC(v, 0);
	ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
	moved = s;
	moved.idt.base = GUEST_MMIO_BASE;
	ASSERT_VHM(vhm_set_sregs(&v->raw, &moved));
	ev = events(VHM_EVENT_INTERRUPT, 0, 0, IRQ_VECTOR);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));

	ASSERT_VHM(guest_run(v));
	ASSERT_EQ(VHM_EXIT_INTERNAL_ERROR, v->run->exit_reason);
	EXPECT_EQ(VHM_INTERNAL_DELIVERY, v->run->internal.suberror);
	EXPECT_EQ(GUEST_MMIO_BASE + IRQ_VECTOR * 16,
		  v->run->internal.data[0]);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(VHM_EVENT_INTERRUPT, ev.flags);
	EXPECT_EQ(IRQ_VECTOR, ev.interrupt_vector);

	ev.interrupt_vector = IRQ_VECTOR2;
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	ASSERT_VHM(vhm_set_sregs(&v->raw, &s));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(IRQ_VECTOR2, uc.args[1]);
	ASSERT_GUEST_DONE(v);
}

static void guest_save_restore(void)
{
	asm volatile("cli" : : : "memory");
	GUEST_SYNC(0);
	GUEST_SYNC(irq_count);
	guest_sti_nop();
	GUEST_SYNC_ARGS(irq_count, irq_vector, irq_rip, 0);
	GUEST_DONE();
}

/*
 * A vCPU with an interrupt held (IF=0) saved with REGS, SREGS, XSAVE and
 * EVENTS and restored into a fresh vCPU: the guest goes on there and takes
 * the interrupt after its STI.
 */
TEST_F(events_test, save_restore_into_new_vcpu)
{
	struct guest_vcpu *v = &self->vcpu, v2 = { .raw.fd = -1 };
	static struct vhm_xsave xsave;
	struct vhm_vcpu_events ev, ev2;
	struct vhm_sregs s;
	struct vhm_regs r;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, IRQ_VECTOR, irq_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_save_restore, 0));
	ASSERT_GUEST_SYNC(v, 0);
	ev = events(VHM_EVENT_INTERRUPT, 0, 0, IRQ_VECTOR);
	ASSERT_VHM(vhm_set_events(&v->raw, &ev));
	ASSERT_GUEST_SYNC(v, 0);

	ASSERT_VHM(vhm_get_regs(&v->raw, &r));
	ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
	ASSERT_VHM_IOCTL(v->raw.fd, VHM_GET_XSAVE, &xsave);
	ASSERT_VHM(vhm_get_events(&v->raw, &ev));
	EXPECT_EQ(VHM_EVENT_INTERRUPT, ev.flags);

	ASSERT_VHM(guest_vcpu_create(&self->vm, 1, &v2));
	ASSERT_VHM(vhm_set_regs(&v2.raw, &r));
	ASSERT_VHM(vhm_set_sregs(&v2.raw, &s));
	ASSERT_VHM_IOCTL(v2.raw.fd, VHM_SET_XSAVE, &xsave);
	ASSERT_VHM(vhm_set_events(&v2.raw, &ev));
	ASSERT_VHM(vhm_get_events(&v2.raw, &ev2));
	EXPECT_EQ(0, memcmp(&ev, &ev2, sizeof(ev)));
	guest_vcpu_free(v);

	ASSERT_GUEST_UCALL(&v2, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(IRQ_VECTOR, uc.args[1]);
	EXPECT_EQ((uintptr_t)sti_nop_end, uc.args[2]);
	ASSERT_GUEST_DONE(&v2);
	guest_vcpu_free(&v2);
}

/* ---------------------------------------------------------------------
 * Argument checks
 */

TEST_F(events_test, bad_arguments)
{
	static const struct {
		uint32_t flags;
		uint8_t exc_vector;
		uint32_t error_code;
		uint8_t irq_vector;
	} bad[] = {
		{ 1u << 6, 0, 0, 0 },				/* unknown flag */
		{ 1u << 31, 0, 0, 0 },
		{ VHM_EVENT_EXCEPTION, 2, 0, 0 },		/* NMI's vector */
		{ VHM_EVENT_EXCEPTION, 32, 0, 0 },		/* not an exception */
		{ VHM_EVENT_EXCEPTION, 255, 0, 0 },
		{ VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE, 6, 0, 0 },
		{ VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE, 3, 1, 0 },
		{ VHM_EVENT_ERROR_CODE, 0, 0, 0 },		/* no exception */
		{ VHM_EVENT_EXCEPTION, 13, 0x1234, 0 },	/* code, no flag */
		{ 0, 13, 0, 0 },				/* vector, no flag */
		{ 0, 0, 0, IRQ_VECTOR },
	};
	struct test_vcpu *raw = &self->vcpu.raw;
	struct vhm_vcpu_events ev, good, now;
	unsigned int i;

	RETURN_IF_SKIPPED();
	EXPECT_EQ(-1, ioctl(raw->fd, VHM_GET_VCPU_EVENTS, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(raw->fd, VHM_SET_VCPU_EVENTS, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	good = events(VHM_EVENT_INTERRUPT, 0, 0, 0x20);
	ASSERT_VHM(vhm_set_events(raw, &good));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ev = events(bad[i].flags, bad[i].exc_vector, bad[i].error_code,
			    bad[i].irq_vector);
		EXPECT_EQ(-EINVAL, vhm_set_events(raw, &ev))
			TH_LOG("case %u", i);
	}
	ev = good;
	ev.padding[5] = 1;
	EXPECT_EQ(-EINVAL, vhm_set_events(raw, &ev));
	ev = good;
	ev.reserved[5] = 1;
	EXPECT_EQ(-EINVAL, vhm_set_events(raw, &ev));
	/* Nothing changed. */
	ASSERT_VHM(vhm_get_events(raw, &now));
	EXPECT_EQ(0, memcmp(&good, &now, sizeof(good)));

	/* Accepted: #DF with its code, #GP without one, vector 0. */
	ev = events(VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE, 8, 0, 0);
	EXPECT_VHM(vhm_set_events(raw, &ev));
	ev = events(VHM_EVENT_EXCEPTION, 13, 0, 0);
	EXPECT_VHM(vhm_set_events(raw, &ev));
	ev = events(VHM_EVENT_EXCEPTION | VHM_EVENT_INTERRUPT, 0, 0, 0);
	EXPECT_VHM(vhm_set_events(raw, &ev));
}

TEST_HARNESS_MAIN
