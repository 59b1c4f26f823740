// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel IOAPIC (VHM_LAPIC_IOAPIC, VHM_IRQ_LINE), seen by a C
 * guest on vCPU 0: its ID and version registers, an edge-triggered pin
 * interrupting once per assertion, a level-triggered pin interrupting
 * again after each EOI while asserted (remote IRR set in between), a
 * masked pin holding its line until unmasked, a vector below 16 refused by
 * the local APIC with an error, and the ioctl's checks.
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

#define APIC_BASE	0xfee00000ull
#define APIC_EOI	0xb0
#define APIC_SVR	0xf0
#define APIC_IRR	0x200
#define APIC_ESR	0x280
#define ESR_RECV_ILLEGAL	0x40
#define SVR_ENABLE	0x100
#define IOAPIC_BASE	0xfec00000ull
#define IOAPIC_REGSEL	0x00
#define IOAPIC_WINDOW	0x10
#define RTE_LEVEL	(1u << 15)
#define RTE_REMOTE_IRR	(1u << 14)
#define RTE_MASKED	(1u << 16)

#define EDGE_PIN	4
#define EDGE_VECTOR	0x51
#define LEVEL_PIN	9
#define LEVEL_VECTOR	0x62
#define ILLEGAL_VECTOR	7

GUEST_FIXTURE_LAPIC(ioapic_test, VHM_CAP_IOAPIC, VHM_LAPIC_IOAPIC)

/* ---------------------------------------------------------------------
 * Guest side.
 */

static volatile uint64_t irq_count, irq_vector, irq_rte;
static volatile int eoi_in_handler = 1;

static uint32_t ioapic_read(uint32_t reg)
{
	guest_writel(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	return guest_readl(IOAPIC_BASE + IOAPIC_WINDOW);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	guest_writel(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	guest_writel(IOAPIC_BASE + IOAPIC_WINDOW, v);
}

#define LEVEL_STORM	5	/* the handler masks the asserted pin then */

static void irq_handler(struct ex_regs *regs)
{
	irq_count++;
	irq_vector = regs->vector;
	irq_rte = ioapic_read(0x10 + 2 * LEVEL_PIN);
	if (!eoi_in_handler)
		return;
	/* Nothing clears the line: mask it, or it interrupts forever. */
	if (regs->vector == LEVEL_VECTOR && irq_count >= LEVEL_STORM)
		ioapic_write(0x10 + 2 * LEVEL_PIN,
			     RTE_MASKED | RTE_LEVEL | LEVEL_VECTOR);
	guest_writel(APIC_BASE + APIC_EOI, 0);
}

static void guest_sti_nops(void)
{
	asm volatile("sti; nop; nop; nop; nop; cli" : : : "memory");
}

static void guest_setup(void)
{
	guest_set_handler(EDGE_VECTOR, irq_handler);
	guest_set_handler(LEVEL_VECTOR, irq_handler);
	guest_writel(APIC_BASE + APIC_SVR, SVR_ENABLE | 0xff);
}

static void guest_registers(void)
{
	int pin;

	GUEST_ASSERT_EQ(0x00170020, ioapic_read(0x01));
	ioapic_write(0x00, 5u << 24);
	GUEST_ASSERT_EQ(5u << 24, ioapic_read(0x00));
	for (pin = 0; pin < 24; pin++)
		GUEST_ASSERT_EQ(RTE_MASKED, ioapic_read(0x10 + 2 * pin));
	/* Remote IRR and delivery status are read-only. */
	ioapic_write(0x10, RTE_REMOTE_IRR | (1u << 12) | 0x33);
	GUEST_ASSERT_EQ(0x33, ioapic_read(0x10));
	ioapic_write(0x11, 0xff000000);
	GUEST_ASSERT_EQ(0xff000000, ioapic_read(0x11));
	GUEST_DONE();
}

/* Each assertion of the edge pin interrupts once. */
static void guest_edge(void)
{
	guest_setup();
	ioapic_write(0x11 + 2 * EDGE_PIN, 0);		/* to APIC ID 0 */
	ioapic_write(0x10 + 2 * EDGE_PIN, EDGE_VECTOR);
	GUEST_SYNC(1);		/* the host pulses the line */
	guest_sti_nops();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(EDGE_VECTOR, irq_vector);
	GUEST_SYNC(2);		/* the host raises it and keeps it high */
	guest_sti_nops();
	guest_sti_nops();
	GUEST_ASSERT_EQ(2, irq_count);
	GUEST_DONE();
}

/* The level pin: remote IRR until EOI, then again while asserted. */
static void guest_level(void)
{
	guest_setup();
	eoi_in_handler = 0;
	ioapic_write(0x11 + 2 * LEVEL_PIN, 0);
	ioapic_write(0x10 + 2 * LEVEL_PIN, RTE_LEVEL | LEVEL_VECTOR);
	GUEST_SYNC(1);		/* the host asserts the line */
	guest_sti_nops();
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT(irq_rte & RTE_REMOTE_IRR);
	guest_sti_nops();
	GUEST_ASSERT_EQ(1, irq_count);		/* in service: no more */
	guest_writel(APIC_BASE + APIC_EOI, 0);	/* still asserted: again */
	guest_sti_nops();
	GUEST_ASSERT_EQ(2, irq_count);
	/* EOI in the handler: again and again until it masks the pin. */
	eoi_in_handler = 1;
	guest_writel(APIC_BASE + APIC_EOI, 0);
	guest_sti_nops();
	GUEST_ASSERT_EQ(LEVEL_STORM, irq_count);
	GUEST_ASSERT_EQ(0, ioapic_read(0x10 + 2 * LEVEL_PIN) & RTE_REMOTE_IRR);
	GUEST_SYNC(2);		/* the host deasserts it */
	ioapic_write(0x10 + 2 * LEVEL_PIN, RTE_LEVEL | LEVEL_VECTOR);
	guest_sti_nops();
	GUEST_ASSERT_EQ(LEVEL_STORM, irq_count);
	GUEST_DONE();
}

/* A masked level pin holds its asserted line until unmasked. */
static void guest_masked(void)
{
	guest_setup();
	ioapic_write(0x11 + 2 * LEVEL_PIN, 0);
	ioapic_write(0x10 + 2 * LEVEL_PIN,
		     RTE_MASKED | RTE_LEVEL | LEVEL_VECTOR);
	GUEST_SYNC(1);		/* the host asserts the line */
	guest_sti_nops();
	GUEST_ASSERT_EQ(0, irq_count);
	GUEST_SYNC(2);		/* the host deasserts it */
	ioapic_write(0x10 + 2 * LEVEL_PIN, RTE_LEVEL | LEVEL_VECTOR);
	guest_sti_nops();
	GUEST_ASSERT_EQ(0, irq_count);
	ioapic_write(0x10 + 2 * LEVEL_PIN,
		     RTE_MASKED | RTE_LEVEL | LEVEL_VECTOR);
	GUEST_SYNC(3);		/* the host asserts it again */
	ioapic_write(0x10 + 2 * LEVEL_PIN, RTE_LEVEL | LEVEL_VECTOR);
	guest_sti_nops();
	GUEST_ASSERT(irq_count >= 1);
	GUEST_DONE();
}

/*
 * Vector 7 from an edge pin: the local APIC accepts no interrupt (no IRR
 * bit 0-15) and records Receive Illegal Vector in its ESR (issue 15).
 */
static void guest_illegal_vector(void)
{
	guest_setup();
	guest_writel(APIC_BASE + APIC_ESR, 0);
	GUEST_ASSERT_EQ(0, guest_readl(APIC_BASE + APIC_ESR));
	ioapic_write(0x11 + 2 * EDGE_PIN, 0);
	ioapic_write(0x10 + 2 * EDGE_PIN, ILLEGAL_VECTOR);
	GUEST_SYNC(1);		/* the host pulses the line */
	guest_sti_nops();
	GUEST_ASSERT_EQ(0, irq_count);
	GUEST_ASSERT_EQ(0, guest_readl(APIC_BASE + APIC_IRR));
	guest_writel(APIC_BASE + APIC_ESR, 0);
	GUEST_ASSERT_EQ(ESR_RECV_ILLEGAL, guest_readl(APIC_BASE + APIC_ESR));
	GUEST_DONE();
}

/* ---------------------------------------------------------------------
 * Host side.
 */

static int irq_line(int vm, uint32_t gsi, uint32_t level)
{
	struct vhm_irq_line l = { .gsi = gsi, .level = level };

	return ioctl(vm, VHM_IRQ_LINE, &l) ? -errno : 0;
}

TEST_F(ioapic_test, registers)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_registers, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(ioapic_test, edge_pin)
{
	int vm = self->vm.fd;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_edge, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, 1);
	ASSERT_VHM(irq_line(vm, EDGE_PIN, 1));
	ASSERT_VHM(irq_line(vm, EDGE_PIN, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, 2);
	ASSERT_VHM(irq_line(vm, EDGE_PIN, 1));
	ASSERT_VHM(irq_line(vm, EDGE_PIN, 1));	/* no new edge */
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(ioapic_test, level_pin)
{
	int vm = self->vm.fd;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_level, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, 1);
	ASSERT_VHM(irq_line(vm, LEVEL_PIN, 1));
	ASSERT_GUEST_SYNC(&self->vcpu, 2);
	ASSERT_VHM(irq_line(vm, LEVEL_PIN, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(ioapic_test, masked_pin)
{
	int vm = self->vm.fd;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_masked, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, 1);
	ASSERT_VHM(irq_line(vm, LEVEL_PIN, 1));
	ASSERT_GUEST_SYNC(&self->vcpu, 2);
	ASSERT_VHM(irq_line(vm, LEVEL_PIN, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, 3);
	ASSERT_VHM(irq_line(vm, LEVEL_PIN, 1));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(ioapic_test, illegal_vector_is_esr_error)
{
	int vm = self->vm.fd;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_illegal_vector, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, 1);
	ASSERT_VHM(irq_line(vm, EDGE_PIN, 1));
	ASSERT_VHM(irq_line(vm, EDGE_PIN, 0));
	ASSERT_GUEST_DONE(&self->vcpu);
}

TEST_F(ioapic_test, bad_arguments)
{
	struct vhm_irq_line l;
	struct vhm_create_lapic c;
	int vm = self->vm.fd, vm2;

	RETURN_IF_SKIPPED();
	memset(&l, 0, sizeof(l));
	l.gsi = 24;
	EXPECT_EQ(-1, ioctl(vm, VHM_IRQ_LINE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.gsi = 0;
	l.level = 2;
	EXPECT_EQ(-1, ioctl(vm, VHM_IRQ_LINE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.level = 1;
	l.flags = 1;
	EXPECT_EQ(-1, ioctl(vm, VHM_IRQ_LINE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.flags = 0;
	l.reserved = 1;
	EXPECT_EQ(-1, ioctl(vm, VHM_IRQ_LINE, &l));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm, VHM_IRQ_LINE, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	/* An APIC without the IOAPIC: no lines; unknown flags refused. */
	vm2 = ioctl(self->sys, VHM_CREATE_VM, 0);
	ASSERT_LE(0, vm2);
	memset(&c, 0, sizeof(c));
	c.flags = 2;
	EXPECT_EQ(-1, ioctl(vm2, VHM_CREATE_LAPIC, &c));
	EXPECT_EQ(EINVAL, errno);
	c.flags = 0;
	ASSERT_VHM_IOCTL(vm2, VHM_CREATE_LAPIC, &c);
	l.reserved = 0;
	EXPECT_EQ(-1, ioctl(vm2, VHM_IRQ_LINE, &l));
	EXPECT_EQ(ENXIO, errno);
	close(vm2);
}

TEST_HARNESS_MAIN
