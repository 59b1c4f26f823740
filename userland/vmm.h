/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhmctl's VMM core: one VM with one memory slot of guest RAM, its vCPUs,
 * the device registry (port I/O and MMIO handlers by range, one handler
 * signature) and the run loop.
 */
#ifndef VMM_H
#define VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhm.h>

#include "accel.h"

struct vmm {
	struct accel accel;	/* /dev/vhm or /dev/kvm */
	uint8_t *ram;
	uint64_t ram_size;
};

/* One handler signature for port I/O and MMIO (kvmtool's shape). */
typedef void (*vmm_io_fn)(struct vmm *vmm, uint64_t addr, void *data,
			  uint32_t len, bool is_write, void *opaque);

enum vmm_space { VMM_PIO, VMM_MMIO };

int vmm_register_io(enum vmm_space space, uint64_t start, uint64_t len,
		    vmm_io_fn fn, void *opaque);

/* Devices add themselves at startup; vmm_create() calls their init. */
struct vmm_device {
	const char *name;
	int (*init)(struct vmm *vmm);
	struct vmm_device *next;
};
void vmm_device_add(struct vmm_device *dev);
#define VMM_DEVICE(dev)							\
	static void __attribute__((constructor)) dev##_register(void)	\
	{								\
		vmm_device_add(&dev);					\
	}

/* How the guest ended: vhmctl's exit status. */
enum vmm_end {
	VMM_END_HALT = 0,
	VMM_END_ERROR = 1,
	VMM_END_SHUTDOWN = 3,
	VMM_END_ENTRY_FAILED = 4,
	VMM_END_INTERNAL = 5,
};

/* One vCPU and ram_size bytes of RAM at 0 on accelerator ops. */
int vmm_create(struct vmm *vmm, uint64_t ram_size,
	       const struct accel_ops *ops);
int vmm_load_file(struct vmm *vmm, const char *path, uint64_t gpa);
int vmm_setup_real(struct vmm *vmm, uint64_t entry);
int vmm_setup_long(struct vmm *vmm, uint64_t entry);
enum vmm_end vmm_run(struct vmm *vmm);

#endif /* VMM_H */
