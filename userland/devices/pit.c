// SPDX-License-Identifier: GPL-2.0
/*
 * An i8254 PIT at ports 0x40-0x43 and the PC's port 0x61 (system control
 * port B: bit 0 gates channel 2, bit 1 the speaker, bit 4 toggles like
 * the DRAM refresh, bit 5 is channel 2's output). The counters run at
 * 1.193182 MHz of CLOCK_MONOTONIC and are computed when read, so guests
 * polling them (Linux calibrates its TSC with channel 2 in mode 0) see
 * time pass. Channel 0 raises GSI 2 (ISA IRQ 0, overridden to GSI 2 in
 * the MADT) from a timerfd thread: modes 2 and 3 give an edge each
 * period, mode 0 raises the line at terminal count until the channel is
 * programmed again. Commands: counter latch, read-back (count and
 * status), lo / hi / lo-then-hi access; BCD is ignored (binary counts).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "vmm.h"

#define PIT_BASE	0x40
#define PIT_CMD		3
#define PIT_PORT_B	0x61
#define PIT_HZ		1193182ull
#define PIT_GSI		2
#define PIT_MIN_NS	100000	/* channel 0 interrupts: at most 10 kHz */

#define PIT_ACCESS_LATCH	0
#define PIT_ACCESS_LO		1
#define PIT_ACCESS_HI		2
#define PIT_ACCESS_LOHI		3

#define PORTB_GATE2	0x01
#define PORTB_SPEAKER	0x02
#define PORTB_REFRESH	0x10
#define PORTB_OUT2	0x20

struct pit_channel {
	uint8_t mode, access;
	uint32_t reload;	/* 1-65536 */
	uint64_t start;		/* ns when counting (re)started */
	uint64_t frozen;	/* ticks counted when the gate went low */
	bool gate, armed;	/* armed: a count was written */
	bool write_hi;		/* lo/hi: the next write is the high byte */
	bool read_hi;		/* lo/hi: the next read is the high byte */
	bool latched, status_latched;
	uint16_t latch;
	uint8_t status;
	uint8_t write_lo;
};

struct pit {
	struct vmm *vmm;
	struct pit_channel ch[3];
	uint8_t port_b;		/* bits 0-3 as written */
	int timer;		/* timerfd of channel 0's interrupts */
	bool irq_high;		/* mode 0: the line is up */
};

static struct pit pit;

static uint64_t pit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* PIT ticks since the channel started counting. */
static uint64_t pit_ticks(const struct pit_channel *c)
{
	if (!c->armed)
		return 0;
	if (!c->gate)
		return c->frozen;
	return (unsigned __int128)(pit_now() - c->start) * PIT_HZ /
	       1000000000ull;
}

static uint16_t pit_count(const struct pit_channel *c)
{
	uint64_t t = pit_ticks(c);
	uint32_t r = c->reload;

	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		return (uint16_t)(r - t);	/* wraps on, as the chip does */
	case 3:
		return (uint16_t)((r - 2 * (t % ((r + 1) / 2))) & ~1u);
	default:
		return (uint16_t)(r - t % r);
	}
}

static bool pit_out(const struct pit_channel *c)
{
	uint64_t t = pit_ticks(c);

	if (!c->armed)
		return c->mode != 0;
	switch (c->mode) {
	case 0:
	case 1:
		return t >= c->reload;
	case 3:
		return t % c->reload < (c->reload + 1) / 2;
	default:
		return t % c->reload != c->reload - 1;
	}
}

/* Channel 0's timerfd after a (re)programming, and its line. */
static void pit_timer_program(struct pit *p)
{
	struct pit_channel *c = &p->ch[0];
	struct itimerspec its = { 0 };
	uint64_t ns = c->reload * 1000000000ull / PIT_HZ;

	if (p->irq_high) {
		vmm_irq_line(p->vmm, PIT_GSI, 0);
		p->irq_high = false;
	}
	if (ns < PIT_MIN_NS)
		ns = PIT_MIN_NS;
	if (c->armed && (c->mode == 0 || c->mode == 2 || c->mode == 3)) {
		its.it_value.tv_sec = ns / 1000000000;
		its.it_value.tv_nsec = ns % 1000000000;
		if (c->mode != 0)
			its.it_interval = its.it_value;
	}
	timerfd_settime(p->timer, 0, &its, NULL);
}

/* A count was written: the channel starts again from it. */
static void pit_load(struct pit *p, unsigned int n, uint32_t count)
{
	struct pit_channel *c = &p->ch[n];

	c->reload = count ? count : 0x10000;
	c->start = pit_now();
	c->frozen = 0;
	c->armed = true;
	if (n == 0)
		pit_timer_program(p);
}

static void pit_write_count(struct pit *p, unsigned int n, uint8_t v)
{
	struct pit_channel *c = &p->ch[n];

	switch (c->access) {
	case PIT_ACCESS_LO:
		pit_load(p, n, v);
		break;
	case PIT_ACCESS_HI:
		pit_load(p, n, v << 8);
		break;
	default:
		if (!c->write_hi)
			c->write_lo = v;
		else
			pit_load(p, n, c->write_lo | v << 8);
		c->write_hi = !c->write_hi;
	}
}

/* The next byte of a 16-bit value in the channel's access mode. */
static uint8_t pit_byte(struct pit_channel *c, uint16_t v, bool *done)
{
	*done = true;
	if (c->access == PIT_ACCESS_LO)
		return v;
	if (c->access == PIT_ACCESS_HI)
		return v >> 8;
	c->read_hi = !c->read_hi;
	*done = !c->read_hi;
	return c->read_hi ? v & 0xff : v >> 8;
}

static uint8_t pit_read_count(struct pit_channel *c)
{
	uint8_t v;
	bool done;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (!c->latched)
		return pit_byte(c, pit_count(c), &done);
	v = pit_byte(c, c->latch, &done);
	if (done)
		c->latched = false;
	return v;
}

static void pit_latch(struct pit_channel *c)
{
	if (c->latched)
		return;		/* the first latch holds until read */
	c->latch = pit_count(c);
	c->latched = true;
}

static void pit_latch_status(struct pit_channel *c)
{
	if (c->status_latched)
		return;
	c->status = pit_out(c) << 7 | !c->armed << 6 | c->access << 4 |
		    c->mode << 1;
	c->status_latched = true;
}

/* Read-back: bits 1-3 select channels, bit 5 clear latches the counts,
 * bit 4 clear the statuses. */
static void pit_read_back(struct pit *p, uint8_t v)
{
	unsigned int n;

	for (n = 0; n < 3; n++) {
		if (!(v & (2 << n)))
			continue;
		if (!(v & 0x20))
			pit_latch(&p->ch[n]);
		if (!(v & 0x10))
			pit_latch_status(&p->ch[n]);
	}
}

static void pit_command(struct pit *p, uint8_t v)
{
	unsigned int n = v >> 6, access = (v >> 4) & 3;
	struct pit_channel *c = &p->ch[n];

	if (n == 3) {
		pit_read_back(p, v);
		return;
	}
	if (access == PIT_ACCESS_LATCH) {
		pit_latch(c);
		return;
	}
	c->access = access;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;	/* 6, 7 are 2, 3 */
	c->write_hi = c->read_hi = false;
	c->latched = c->status_latched = false;
	c->armed = false;	/* until a count is written */
	if (n == 0)
		pit_timer_program(p);
}

static void pit_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		   bool is_write, void *opaque)
{
	struct pit *p = opaque;
	unsigned int reg = port - PIT_BASE;
	uint8_t *v = data;

	(void)vmm;
	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (reg == PIT_CMD)
		is_write ? pit_command(p, *v) : (void)(*v = 0xff);
	else if (is_write)
		pit_write_count(p, reg, *v);
	else
		*v = pit_read_count(&p->ch[reg]);
}

/* Channel 2's gate: counting pauses while low; a rise restarts modes
 * 1, 2, 3 and 5 (triggered) and resumes modes 0 and 4. */
static void pit_gate2(struct pit *p, bool gate)
{
	struct pit_channel *c = &p->ch[2];

	if (gate == c->gate)
		return;
	if (!gate) {
		c->frozen = pit_ticks(c);
		c->gate = false;
		return;
	}
	c->gate = true;
	if (c->mode == 0 || c->mode == 4)
		c->start = pit_now() - c->frozen * 1000000000ull / PIT_HZ;
	else
		c->start = pit_now();
}

static void port_b_io(struct vmm *vmm, uint64_t port, void *data,
		      uint32_t len, bool is_write, void *opaque)
{
	struct pit *p = opaque;
	uint8_t *v = data;

	(void)vmm;
	(void)port;
	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		p->port_b = *v & 0x0f;
		pit_gate2(p, *v & PORTB_GATE2);
		return;
	}
	/* the refresh bit flips every 15 us on a PC */
	*v = p->port_b | ((pit_now() / 15085) & 1 ? PORTB_REFRESH : 0) |
	     (pit_out(&p->ch[2]) ? PORTB_OUT2 : 0);
}

/* Channel 0's interrupts: an edge per period, or mode 0's rise. */
static void *pit_thread(void *arg)
{
	struct pit *p = arg;
	uint64_t n;

	for (;;) {
		if (read(p->timer, &n, sizeof(n)) != sizeof(n)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return NULL;
		}
		vmm_lock(p->vmm);
		if (p->ch[0].mode == 0) {
			vmm_irq_line(p->vmm, PIT_GSI, 1);
			p->irq_high = true;
		} else {
			vmm_irq_line(p->vmm, PIT_GSI, 1);
			vmm_irq_line(p->vmm, PIT_GSI, 0);
		}
		vmm_unlock(p->vmm);
	}
}

static int pit_init(struct vmm *vmm)
{
	pthread_t t;
	unsigned int n;

	memset(&pit, 0, sizeof(pit));
	pit.vmm = vmm;
	for (n = 0; n < 3; n++) {
		pit.ch[n].gate = n != 2;
		pit.ch[n].reload = 0x10000;
		pit.ch[n].access = PIT_ACCESS_LOHI;
	}
	pit.timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (pit.timer < 0) {
		perror("vhmctl: timerfd_create");
		return -1;
	}
	if (vmm->accel.irqchip && pthread_create(&t, NULL, pit_thread, &pit)) {
		fprintf(stderr, "vhmctl: cannot start the PIT's thread\n");
		return -1;
	}
	if (vmm_register_io(VMM_PIO, PIT_BASE, 4, pit_io, &pit))
		return -1;
	return vmm_register_io(VMM_PIO, PIT_PORT_B, 1, port_b_io, &pit);
}

static struct vmm_device pit_device = { .name = "pit", .init = pit_init };
VMM_DEVICE(pit_device)
