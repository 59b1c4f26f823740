// SPDX-License-Identifier: GPL-2.0
/*
 * A 16550-compatible UART at 0x3f8 (COM1), IRQ 4 (GSI 4): the transmitter
 * prints to stdout and is always empty at once; the receiver takes its
 * bytes from stdin, read by a thread of its own (blocking, never polled)
 * into a 16-byte FIFO (also with FIFOs off) whenever the FIFO has room,
 * so nothing is overrun and a guest that polls LSR.DR sees each byte as
 * soon as it arrives. In loopback mode (MCR bit 4) transmitted bytes are
 * received instead of printed (overrunning the FIFO sets LSR.OE).
 *
 * Interrupts (IER bits 0-2): received data available, transmitter holding
 * register empty (pending after a THR write has gone out and when the
 * interrupt is enabled; cleared by reading IIR while it is the one shown,
 * or by writing THR), receiver line status (overrun; cleared by reading
 * LSR). IIR shows the highest pending one. The interrupt line follows
 * "one is pending", and each new condition (data into an empty FIFO, THR
 * empty again, an overrun) lowers and raises it: a new edge for the
 * IOAPIC's edge-triggered pin. Without an irqchip the line goes nowhere.
 *
 * When stdin is the terminal and vhmctl runs in the foreground, the
 * terminal goes "raw-ish" for the run (no line editing, no echo, CR stays
 * CR, Ctrl-Z and Ctrl-S/Q go to the guest, Ctrl-C still ends vhmctl) and is
 * restored at exit and on SIGINT, SIGTERM, SIGHUP and SIGQUIT. A background
 * vhmctl leaves a terminal stdin alone and receives nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vmm.h"

#define UART_BASE	0x3f8
#define UART_RBR	0	/* receive buffer (DLAB 0, read) */
#define UART_THR	0	/* transmit holding (DLAB 0, write) */
#define UART_IER	1
#define UART_IIR	2	/* read */
#define UART_FCR	2	/* write */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_LCR_DLAB	0x80
#define UART_LSR_DR	0x01
#define UART_LSR_OE	0x02
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_IIR_NONE	0x01
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_RLSI	0x06
#define UART_IER_RDI	0x01
#define UART_IER_THRI	0x02
#define UART_IER_RLSI	0x04
#define UART_GSI	4
#define UART_IIR_FIFO	0xc0
#define UART_FCR_ENABLE	0x01
#define UART_FCR_CLR_RX	0x02
#define UART_MCR_LOOP	0x10
#define UART_MSR_UP	0xb0	/* DCD, DSR, CTS: the line is up */

#define UART_FIFO	16

struct uart {
	struct vmm *vmm;
	uint8_t regs[8];
	uint8_t dll, dlm;
	uint8_t rx[UART_FIFO];
	unsigned int rx_head, rx_len;
	bool input;		/* stdin is read */
	bool thr_int;		/* THR-empty interrupt pending */
	uint8_t lsr_err;	/* LSR.OE until LSR is read */
	bool line;		/* the interrupt line is up */
	pthread_cond_t room;	/* rx_len < UART_FIFO (with vmm_lock) */
};

static struct uart com1;

/* The terminal's settings while the guest runs, and how to undo them. */
static struct termios saved_tty;
static bool tty_changed;

static void tty_restore(void)
{
	if (tty_changed)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_changed = false;
}

static void tty_signal(int sig)
{
	tty_restore();
	raise(sig);		/* SA_RESETHAND: the default action now */
}

static void tty_raw(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = tty_signal,
				.sa_flags = SA_RESETHAND | SA_NODEFER };
	struct termios t;
	unsigned int i;

	if (tty_changed || tcgetattr(STDIN_FILENO, &saved_tty))
		return;
	t = saved_tty;
	t.c_iflag &= ~(ICRNL | INLCR | IGNCR | IXON);
	t.c_lflag &= ~(ICANON | ECHO | ECHONL | IEXTEN);
	t.c_cc[VSUSP] = _POSIX_VDISABLE;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(tty_restore);
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t))
		tty_changed = true;
}

/* Read stdin or not; a terminal stdin goes raw-ish (see above). */
static bool uart_input_setup(void)
{
	pid_t fg;

	if (!isatty(STDIN_FILENO))
		return true;
	fg = tcgetpgrp(STDIN_FILENO);
	if (fg >= 0 && fg != getpgrp())
		return false;	/* a background job: reading would stop us */
	tty_raw();
	return true;
}

/* The highest pending interrupt's IIR code, or UART_IIR_NONE. */
static uint8_t uart_pending(const struct uart *u)
{
	uint8_t ier = u->regs[UART_IER];

	if (ier & UART_IER_RLSI && u->lsr_err)
		return UART_IIR_RLSI;
	if (ier & UART_IER_RDI && u->rx_len)
		return UART_IIR_RDI;
	if (ier & UART_IER_THRI && u->thr_int)
		return UART_IIR_THRI;
	return UART_IIR_NONE;
}

/* The line follows the pending state; a new condition makes an edge. */
static void uart_irq(struct uart *u, bool new_event)
{
	bool pending = uart_pending(u) != UART_IIR_NONE;

	if (u->line && (!pending || new_event)) {
		vmm_irq_line(u->vmm, UART_GSI, 0);
		u->line = false;
	}
	if (pending && !u->line) {
		vmm_irq_line(u->vmm, UART_GSI, 1);
		u->line = true;
	}
}

static void uart_rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_len == UART_FIFO) {
		u->lsr_err |= UART_LSR_OE;
		uart_irq(u, true);
		return;
	}
	u->rx[(u->rx_head + u->rx_len++) % UART_FIFO] = c;
	uart_irq(u, u->rx_len == 1);
}

static uint8_t uart_rx_pop(struct uart *u)
{
	uint8_t c;

	if (!u->rx_len)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO;
	u->rx_len--;
	pthread_cond_signal(&u->room);
	uart_irq(u, false);
	return c;
}

/* stdin to the FIFO, as much as fits, blocking in read() unlocked. */
static void *uart_reader(void *arg)
{
	struct uart *u = arg;
	uint8_t buf[UART_FIFO];
	ssize_t n, i;
	size_t room;

	for (;;) {
		vmm_lock(u->vmm);
		while (u->rx_len == UART_FIFO)
			pthread_cond_wait(&u->room, &u->vmm->lock);
		room = UART_FIFO - u->rx_len;
		vmm_unlock(u->vmm);
		n = read(STDIN_FILENO, buf, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return NULL;	/* end of file: the receiver stays empty */
		vmm_lock(u->vmm);
		for (i = 0; i < n; i++)
			uart_rx_push(u, buf[i]);
		vmm_unlock(u->vmm);
	}
}

/* THR: out at once, so empty again at once (a new THRE condition). */
static void uart_transmit(struct uart *u, uint8_t v)
{
	u->thr_int = false;
	uart_irq(u, false);
	if (u->regs[UART_MCR] & UART_MCR_LOOP)
		uart_rx_push(u, v);
	else if (write(STDOUT_FILENO, &v, 1) != 1)
		return;
	u->thr_int = true;
	uart_irq(u, true);
}

static void uart_write(struct uart *u, unsigned int reg, uint8_t v)
{
	bool dlab = u->regs[UART_LCR] & UART_LCR_DLAB;

	if (reg == UART_THR && !dlab) {
		uart_transmit(u, v);
	} else if (reg == 0) {
		u->dll = v;
	} else if (reg == 1 && dlab) {
		u->dlm = v;
	} else if (reg == UART_IER) {
		/* enabling the THR interrupt with THR empty: it is pending */
		if (v & ~u->regs[UART_IER] & UART_IER_THRI)
			u->thr_int = true;
		u->regs[UART_IER] = v & 0x0f;
		uart_irq(u, true);
	} else if (reg == UART_FCR) {
		if (v & UART_FCR_CLR_RX) {
			u->rx_len = 0;
			pthread_cond_signal(&u->room);
		}
		u->regs[UART_FCR] = v & UART_FCR_ENABLE;
		uart_irq(u, false);
	} else if (reg != UART_LSR && reg != UART_MSR) {
		u->regs[reg] = v;
	}
}

static uint8_t uart_read_iir(struct uart *u)
{
	uint8_t iir = uart_pending(u);

	if (iir == UART_IIR_THRI) {
		u->thr_int = false;
		uart_irq(u, false);
	}
	return iir | (u->regs[UART_FCR] & UART_FCR_ENABLE ? UART_IIR_FIFO : 0);
}

static uint8_t uart_read_lsr(struct uart *u)
{
	uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_err |
		      (u->rx_len ? UART_LSR_DR : 0);

	u->lsr_err = 0;
	uart_irq(u, false);
	return lsr;
}

static uint8_t uart_read(struct uart *u, unsigned int reg)
{
	bool dlab = u->regs[UART_LCR] & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR:
		return dlab ? u->dll : uart_rx_pop(u);
	case UART_IER:
		return dlab ? u->dlm : u->regs[UART_IER];
	case UART_IIR:
		return uart_read_iir(u);
	case UART_LSR:
		return uart_read_lsr(u);
	case UART_MSR:
		return u->regs[UART_MCR] & UART_MCR_LOOP ? 0 : UART_MSR_UP;
	default:
		return u->regs[reg];
	}
}

static void uart_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		    bool is_write, void *opaque)
{
	struct uart *u = opaque;
	unsigned int reg = port - UART_BASE;
	uint8_t *v = data;

	(void)vmm;
	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		uart_write(u, reg, *v);
	else
		*v = uart_read(u, reg);
}

static int uart_init(struct vmm *vmm)
{
	pthread_t t;

	memset(&com1, 0, sizeof(com1));
	com1.vmm = vmm;
	pthread_cond_init(&com1.room, NULL);
	com1.input = uart_input_setup();
	if (com1.input && pthread_create(&t, NULL, uart_reader, &com1)) {
		fprintf(stderr, "vhmctl: cannot start the UART's input thread\n");
		return -1;
	}
	return vmm_register_io(VMM_PIO, UART_BASE, 8, uart_io, &com1);
}

static struct vmm_device uart_device = { .name = "uart", .init = uart_init };
VMM_DEVICE(uart_device)
