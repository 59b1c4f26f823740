// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's isa-debug-exit at port 0xf4: a guest writing V there (any size)
 * ends vhmctl with exit status (V << 1) | 1, so test guests report a result
 * that can never be confused with 0 (halt). Reads return all ones.
 */
#include <string.h>

#include "vmm.h"

#define DEBUG_EXIT_PORT	0xf4

static void debug_exit_io(struct vmm *vmm, uint64_t port, void *data,
			  uint32_t len, bool is_write, void *opaque)
{
	uint32_t v = 0;

	(void)port;
	(void)opaque;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
	vmm_stop(vmm, (int)(((v << 1) | 1) & 0xff));
}

static int debug_exit_init(struct vmm *vmm)
{
	(void)vmm;
	return vmm_register_io(VMM_PIO, DEBUG_EXIT_PORT, 1, debug_exit_io,
			       NULL);
}

static struct vmm_device debug_exit_device = {
	.name = "debug-exit",
	.init = debug_exit_init,
};
VMM_DEVICE(debug_exit_device)
