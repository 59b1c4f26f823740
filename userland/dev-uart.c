// SPDX-License-Identifier: GPL-2.0
/*
 * A 16550-compatible UART at 0x3f8 (COM1) for guests that poll: the
 * transmitter prints to stdout and is always empty; the receiver takes its
 * bytes from stdin. There are no interrupts (IIR always says none pending),
 * so stdin is looked at when the guest reads the line status or the
 * receive buffer: a polling guest sees each byte as soon as it arrives,
 * and vhmctl never blocks on stdin. Received bytes wait in a 16-byte FIFO
 * (also with FIFOs off), and stdin is read only when there is room, so
 * nothing is overrun. In loopback mode (MCR bit 4) transmitted bytes are
 * received instead of printed.
 *
 * When stdin is the terminal and vhmctl runs in the foreground, the
 * terminal goes "raw-ish" for the run (no line editing, no echo, CR stays
 * CR, Ctrl-Z and Ctrl-S/Q go to the guest, Ctrl-C still ends vhmctl) and is
 * restored at exit and on SIGINT, SIGTERM, SIGHUP and SIGQUIT. A background
 * vhmctl leaves a terminal stdin alone and receives nothing.
 */
#include <errno.h>
#include <poll.h>
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
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_IIR_NONE	0x01
#define UART_IIR_FIFO	0xc0
#define UART_FCR_ENABLE	0x01
#define UART_FCR_CLR_RX	0x02
#define UART_MCR_LOOP	0x10
#define UART_MSR_UP	0xb0	/* DCD, DSR, CTS: the line is up */

#define UART_FIFO	16

struct uart {
	uint8_t regs[8];
	uint8_t dll, dlm;
	uint8_t rx[UART_FIFO];
	unsigned int rx_head, rx_len;
	bool input;		/* stdin is read */
	bool eof;		/* stdin is done */
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

static void uart_rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_len < UART_FIFO)
		u->rx[(u->rx_head + u->rx_len++) % UART_FIFO] = c;
}

/* Move what stdin has (without waiting) into the receive FIFO. */
static void uart_rx_fill(struct uart *u)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	uint8_t buf[UART_FIFO];
	ssize_t n, i;

	if (!u->input || u->eof || u->rx_len == UART_FIFO ||
	    poll(&p, 1, 0) <= 0)
		return;
	n = read(STDIN_FILENO, buf, UART_FIFO - u->rx_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		u->eof = true;
		return;
	}
	for (i = 0; i < n; i++)
		uart_rx_push(u, buf[i]);
}

static uint8_t uart_rx_pop(struct uart *u)
{
	uint8_t c;

	uart_rx_fill(u);
	if (!u->rx_len)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO;
	u->rx_len--;
	return c;
}

static void uart_write(struct uart *u, unsigned int reg, uint8_t v)
{
	bool dlab = u->regs[UART_LCR] & UART_LCR_DLAB;

	if (reg == UART_THR && !dlab) {
		if (u->regs[UART_MCR] & UART_MCR_LOOP)
			uart_rx_push(u, v);
		else if (write(STDOUT_FILENO, &v, 1) != 1)
			return;
	} else if (reg == 0) {
		u->dll = v;
	} else if (reg == 1 && dlab) {
		u->dlm = v;
	} else if (reg == UART_FCR) {
		if (v & UART_FCR_CLR_RX)
			u->rx_len = 0;
		u->regs[UART_FCR] = v & UART_FCR_ENABLE;
	} else if (reg != UART_LSR && reg != UART_MSR) {
		u->regs[reg] = v;
	}
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
		return UART_IIR_NONE |
		       (u->regs[UART_FCR] & UART_FCR_ENABLE ? UART_IIR_FIFO : 0);
	case UART_LSR:
		if (!u->rx_len)
			uart_rx_fill(u);
		return UART_LSR_THRE | UART_LSR_TEMT |
		       (u->rx_len ? UART_LSR_DR : 0);
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
	(void)vmm;
	memset(&com1, 0, sizeof(com1));
	com1.input = uart_input_setup();
	return vmm_register_io(VMM_PIO, UART_BASE, 8, uart_io, &com1);
}

static struct vmm_device uart_device = { .name = "uart", .init = uart_init };
VMM_DEVICE(uart_device)
