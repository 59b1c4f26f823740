// SPDX-License-Identifier: GPL-2.0
/*
 * A 16550-compatible UART at 0x3f8 (COM1) whose transmitter prints to
 * stdout. Enough for guests that poll the line status and write bytes:
 * the transmitter is always empty, no byte is ever received.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

#define UART_BASE	0x3f8
#define UART_THR	0	/* transmit holding (DLAB 0) */
#define UART_LCR	3
#define UART_LSR	5
#define UART_LCR_DLAB	0x80
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40

struct uart {
	uint8_t regs[8];
	uint8_t dll, dlm;
};

static struct uart com1;

static void uart_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		    bool is_write, void *opaque)
{
	struct uart *u = opaque;
	unsigned int reg = port - UART_BASE;
	uint8_t *v = data;
	bool dlab = u->regs[UART_LCR] & UART_LCR_DLAB;

	(void)vmm;
	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		if (reg == UART_THR && !dlab) {
			if (write(STDOUT_FILENO, v, 1) != 1)
				return;
		} else if (reg == 0) {
			u->dll = *v;
		} else if (reg == 1 && dlab) {
			u->dlm = *v;
		} else if (reg != UART_LSR) {
			u->regs[reg] = *v;
		}
		return;
	}
	if (reg == UART_LSR)
		*v = UART_LSR_THRE | UART_LSR_TEMT;
	else if (reg == 0)
		*v = dlab ? u->dll : 0;
	else if (reg == 1 && dlab)
		*v = u->dlm;
	else
		*v = u->regs[reg];
}

static int uart_init(struct vmm *vmm)
{
	(void)vmm;
	return vmm_register_io(VMM_PIO, UART_BASE, 8, uart_io, &com1);
}

static struct vmm_device uart_device = { .name = "uart", .init = uart_init };
VMM_DEVICE(uart_device)
