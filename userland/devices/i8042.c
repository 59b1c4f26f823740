// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal i8042 keyboard controller, enough for an OS's reboot path:
 * the status port 0x64 always reads 0 (output buffer empty: no data;
 * input buffer empty: ready for a command), the data port 0x60 reads 0.
 * The command 0xfe (pulse the reset line) written to 0x64 resets the
 * machine: vhmctl ends with VMM_END_RESET. Every other command and every
 * data write is accepted and ignored (no keyboard, no mouse, no answers:
 * a driver waiting for a reply times out).
 */
#include <string.h>

#include "vmm.h"

#define I8042_DATA_PORT		0x60
#define I8042_CMD_PORT		0x64
#define I8042_CMD_RESET		0xfe

static void i8042_io(struct vmm *vmm, uint64_t port, void *data,
		     uint32_t len, bool is_write, void *opaque)
{
	(void)opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (port == I8042_CMD_PORT && *(uint8_t *)data == I8042_CMD_RESET)
		vmm_stop(vmm, VMM_END_RESET);
}

static int i8042_init(struct vmm *vmm)
{
	(void)vmm;
	if (vmm_register_io(VMM_PIO, I8042_DATA_PORT, 1, i8042_io, NULL))
		return -1;
	return vmm_register_io(VMM_PIO, I8042_CMD_PORT, 1, i8042_io, NULL);
}

static struct vmm_device i8042_device = {
	.name = "i8042",
	.init = i8042_init,
};
VMM_DEVICE(i8042_device)
