// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel IOAPIC (docs/API.md, VHM_LAPIC_IOAPIC): an 82093AA-style
 * IOAPIC, version 0x20 (with the EOI register), 24 pins, at 0xfec00000.
 *
 * Userspace devices drive its input lines with VHM_IRQ_LINE (1: asserted,
 * whatever the pin's polarity). An edge-triggered pin sends its
 * redirection entry's message on each assertion; a level-triggered one
 * while asserted, once, until the local APIC's EOI of that vector (or the
 * EOI register) clears remote IRR. Messages go to the local APICs through
 * vhm_lapic_deliver() with the IOAPIC's lock held: the lock order is
 * IOAPIC, then a local APIC, never the reverse (lapic.c calls
 * vhm_ioapic_eoi() after dropping its own lock).
 *
 * The IOAPIC's lock is an ordinary spinlock_t (a sleeping lock on
 * PREEMPT_RT), taken only by vCPU threads and VHM_IRQ_LINE callers, in
 * process context with interrupts on: never from the APIC timer's hrtimer
 * nor with interrupts off. So the local APICs' raw locks may nest inside
 * it, and the wake-ups and IPIs of the deliveries (lapic_kick()) may run
 * under it; a delivery to many vCPUs stays preemptible on RT. Interrupts
 * are not disabled for it: no interrupt handler takes it.
 */
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "ioapic.h"
#include "lapic.h"
#include "vhm.h"
#include "vm.h"

#define IOAPIC_BASE		0xfec00000ULL
#define IOAPIC_SIZE		0x100
#define IOAPIC_PINS		24
#define IOAPIC_REGSEL		0x00
#define IOAPIC_WINDOW		0x10
#define IOAPIC_EOI		0x40
#define IOAPIC_REG_ID		0x00
#define IOAPIC_REG_VERSION	0x01
#define IOAPIC_REG_ARB		0x02
#define IOAPIC_REG_REDTBL	0x10	/* two registers per pin */
#define IOAPIC_VERSION		(((IOAPIC_PINS - 1) << 16) | 0x20)

/* Redirection entry bits. */
#define IOAPIC_RTE_VECTOR	0xffULL
#define IOAPIC_RTE_MODE(e)	(((e) >> 8) & 7)
#define IOAPIC_RTE_LOGICAL	BIT_ULL(11)
#define IOAPIC_RTE_REMOTE_IRR	BIT_ULL(14)
#define IOAPIC_RTE_LEVEL	BIT_ULL(15)
#define IOAPIC_RTE_MASKED	BIT_ULL(16)
#define IOAPIC_RTE_DEST(e)	((u32)((e) >> 56))
/* What the guest writes: all but delivery status (12) and remote IRR. */
#define IOAPIC_RTE_WRITABLE	(GENMASK_ULL(11, 0) | BIT_ULL(13) | \
				 GENMASK_ULL(16, 15) | GENMASK_ULL(63, 56))

struct vhm_ioapic {
	struct vhm_vm *vm;
	spinlock_t lock;	/* all of the below */
	u32 regsel;
	u32 id;
	u32 lines;		/* asserted inputs, one bit per pin */
	u64 rte[IOAPIC_PINS];
};

static struct vhm_ioapic *ioapic_of(struct vhm_vm *vm)
{
	/* Pairs with the release in vhm_ioapic_create(). */
	return smp_load_acquire(&vm->ioapic);
}

/* Send pin's message if it is due. Lock held. */
static void ioapic_service(struct vhm_ioapic *io, unsigned int pin)
{
	u64 e = io->rte[pin];
	struct vhm_apic_msg m = {
		.dest = IOAPIC_RTE_DEST(e),
		.vector = e & IOAPIC_RTE_VECTOR,
		.mode = IOAPIC_RTE_MODE(e),
		.logical = e & IOAPIC_RTE_LOGICAL,
		.level = e & IOAPIC_RTE_LEVEL,
		.assert = true,
	};

	lockdep_assert_held(&io->lock);
	if ((e & IOAPIC_RTE_MASKED) || !(io->lines & BIT(pin)))
		return;
	if (e & IOAPIC_RTE_LEVEL) {
		if (e & IOAPIC_RTE_REMOTE_IRR)
			return;
		io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
	}
	vhm_lapic_deliver(io->vm, &m);
}

/* Lock held, as in everything below that touches the registers. */
static void ioapic_set_line(struct vhm_ioapic *io, unsigned int pin,
			    bool level)
{
	bool was = io->lines & BIT(pin);

	lockdep_assert_held(&io->lock);
	if (level)
		io->lines |= BIT(pin);
	else
		io->lines &= ~BIT(pin);
	/* Edge: on assertion only. Level: while asserted (remote IRR). */
	if (level && (!was || (io->rte[pin] & IOAPIC_RTE_LEVEL)))
		ioapic_service(io, pin);
}

long vhm_vm_irq_line(struct vhm_vm *vm, const struct vhm_irq_line __user *u)
{
	struct vhm_ioapic *io = ioapic_of(vm);
	struct vhm_irq_line l;

	if (copy_from_user(&l, u, sizeof(l)))
		return -EFAULT;
	if (l.flags || l.reserved || l.level > 1 || l.gsi >= IOAPIC_PINS)
		return -EINVAL;
	if (!io)
		return -ENXIO;
	spin_lock(&io->lock);
	ioapic_set_line(io, l.gsi, l.level);
	spin_unlock(&io->lock);
	return 0;
}

void vhm_ioapic_eoi(struct vhm_vm *vm, u8 vector)
{
	struct vhm_ioapic *io = ioapic_of(vm);
	unsigned int pin;

	if (!io)
		return;
	spin_lock(&io->lock);
	for (pin = 0; pin < IOAPIC_PINS; pin++) {
		if ((io->rte[pin] & IOAPIC_RTE_VECTOR) != vector ||
		    !(io->rte[pin] & IOAPIC_RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
		ioapic_service(io, pin);
	}
	spin_unlock(&io->lock);
}

/* ---------------------------------------------------------------------
 * Registers: IOREGSEL selects, IOWIN reads and writes the selected one.
 */

static u32 ioapic_read_reg(struct vhm_ioapic *io)
{
	unsigned int r = io->regsel, pin;

	lockdep_assert_held(&io->lock);
	switch (r) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->id << 24;
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION;
	}
	pin = (r - IOAPIC_REG_REDTBL) / 2;
	if (r < IOAPIC_REG_REDTBL || pin >= IOAPIC_PINS)
		return 0;
	return r & 1 ? io->rte[pin] >> 32 : (u32)io->rte[pin];
}

static void ioapic_write_rte(struct vhm_ioapic *io, unsigned int pin,
			     bool high, u32 val)
{
	u64 e = io->rte[pin];

	if (high)
		e = (e & 0xffffffffULL) | ((u64)val << 32);
	else
		e = (e & ~0xffffffffULL) | val;
	e = (e & IOAPIC_RTE_WRITABLE) | (io->rte[pin] & IOAPIC_RTE_REMOTE_IRR);
	if (!(e & IOAPIC_RTE_LEVEL))
		e &= ~IOAPIC_RTE_REMOTE_IRR;
	io->rte[pin] = e;
	/* An unmasked level-triggered line still asserted fires now. */
	if (e & IOAPIC_RTE_LEVEL)
		ioapic_service(io, pin);
}

static void ioapic_write_reg(struct vhm_ioapic *io, u32 val)
{
	unsigned int r = io->regsel, pin;

	lockdep_assert_held(&io->lock);
	if (r == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	pin = (r - IOAPIC_REG_REDTBL) / 2;
	if (r >= IOAPIC_REG_REDTBL && pin < IOAPIC_PINS)
		ioapic_write_rte(io, pin, r & 1, val);
}

bool vhm_ioapic_covers(struct vhm_vcpu *vcpu, u64 gpa)
{
	return ioapic_of(vcpu->vm) && gpa >= IOAPIC_BASE &&
	       gpa < IOAPIC_BASE + IOAPIC_SIZE;
}

u32 vhm_ioapic_read(struct vhm_vcpu *vcpu, unsigned int offset)
{
	struct vhm_ioapic *io = ioapic_of(vcpu->vm);
	u32 val = 0;

	spin_lock(&io->lock);
	if (offset == IOAPIC_REGSEL)
		val = io->regsel;
	else if (offset == IOAPIC_WINDOW)
		val = ioapic_read_reg(io);
	spin_unlock(&io->lock);
	return val;
}

void vhm_ioapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val)
{
	struct vhm_ioapic *io = ioapic_of(vcpu->vm);

	if (offset == IOAPIC_EOI) {
		vhm_ioapic_eoi(vcpu->vm, val & 0xff);
		return;
	}
	spin_lock(&io->lock);
	if (offset == IOAPIC_REGSEL)
		io->regsel = val & 0xff;
	else if (offset == IOAPIC_WINDOW)
		ioapic_write_reg(io, val);
	spin_unlock(&io->lock);
}

/* ---------------------------------------------------------------------
 * Creation: every pin masked, edge-triggered, ID 0.
 */

int vhm_ioapic_create(struct vhm_vm *vm)
{
	struct vhm_ioapic *io;
	unsigned int pin;

	lockdep_assert_held(&vm->lock);
	io = kzalloc(sizeof(*io), GFP_KERNEL_ACCOUNT);
	if (!io)
		return -ENOMEM;
	io->vm = vm;
	spin_lock_init(&io->lock);
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = IOAPIC_RTE_MASKED;
	/* Published initialized: pairs with the acquire in ioapic_of(). */
	smp_store_release(&vm->ioapic, io);
	return 0;
}

void vhm_ioapic_free(struct vhm_vm *vm)
{
	kfree(vm->ioapic);
	vm->ioapic = NULL;
}
