/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhmctl's VMM core: one VM with one memory slot of guest RAM, its vCPUs
 * (one host thread each while vmm_run() runs), the device registry (port
 * I/O and MMIO handlers by range, one handler signature) and the run loop
 * (vmm.c); the vCPU entry states (vmm-cpu.c); what a VM that ended badly
 * says (vmm-report.c).
 * Device handlers run with vmm_lock() held, one at a time whatever vCPU
 * exits; a device's own threads (timers, input) take it too.
 */
#ifndef VMM_H
#define VMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhm.h>

#include "accel/accel.h"

struct vmm {
	struct accel accel;	/* /dev/vhm or /dev/kvm */
	uint8_t *ram;
	uint64_t ram_size;
	unsigned int nr_cpus;	/* vCPUs: what fw_cfg and the MADT report */
	int stop;		/* -1, or vhmctl's exit status (vmm_stop) */
	pthread_mutex_t lock;	/* the devices' (vmm_lock) */
	pthread_mutex_t run_lock;	/* running, done, with run_cond */
	pthread_cond_t run_cond;
	unsigned int running;	/* vCPU threads still running */
	bool done[ACCEL_MAX_VCPUS];
	pthread_t threads[ACCEL_MAX_VCPUS];
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

/*
 * How the guest ended: vhmctl's exit status. A device can end the run with
 * any other status (vmm_stop(): the debug-exit port, whose statuses are
 * odd; the guest's own power-off and reset are even).
 */
enum vmm_end {
	VMM_END_HALT = 0,
	VMM_END_ERROR = 1,
	VMM_END_SHUTDOWN = 3,
	VMM_END_ENTRY_FAILED = 4,
	VMM_END_INTERNAL = 5,
	VMM_END_POWEROFF = 6,	/* ACPI S5 (devices/acpi-pm.c) */
	VMM_END_RESET = 8,	/* 0xcf9 (devices/pci.c), i8042 0xfe (i8042.c) */
};

/*
 * The in-kernel interrupt controllers (local APICs, IOAPIC): never, if
 * the accelerator has them, or required (an error without).
 */
enum vmm_irqchip { VMM_IRQCHIP_OFF, VMM_IRQCHIP_AUTO, VMM_IRQCHIP_ON };

/*
 * nr_cpus vCPUs (vCPU 0 the one the setup functions prepare; with the
 * irqchip the others wait for INIT/SIPI) and ram_size bytes of RAM at 0 on
 * accelerator ops; then every device's init. 0, or -1 with a message and
 * nothing left to destroy.
 */
int vmm_create(struct vmm *vmm, uint64_t ram_size, unsigned int nr_cpus,
	       enum vmm_irqchip irqchip, const struct accel_ops *ops);
/*
 * The counterpart of a vmm_create() that succeeded, once no vCPU runs
 * (vmm_run() returned, or was never called): closes the vCPUs and the VM
 * (accel_close()), frees guest RAM and empties the I/O registry. Device
 * threads are not stopped: from then on their vmm_irq_line() does nothing.
 */
void vmm_destroy(struct vmm *vmm);
int vmm_load_file(struct vmm *vmm, const char *path, uint64_t gpa);
int vmm_setup_real(struct vmm *vmm, uint64_t entry);
int vmm_setup_long(struct vmm *vmm, uint64_t entry);

/*
 * The Linux 64-bit boot protocol's machine: long mode, the first
 * max(4 GiB, RAM) identity-mapped (up to VMM_LINUX_PT_GIB) in 2 MiB pages,
 * a GDT with flat __BOOT_CS 0x10 (64-bit code) and __BOOT_DS 0x18, IF
 * clear, RSI = boot_params (the zero page). The structures live in low
 * RAM below VMM_LINUX_LOW_END, which the boot protocol keeps free.
 */
#define VMM_LINUX_GDT		0x500
#define VMM_LINUX_PT		0x10000	/* PML4, PDPT, then a PD per GiB */
#define VMM_LINUX_PT_GIB	64
#define VMM_LINUX_STACK		0x80000
#define VMM_LINUX_LOW_END	(VMM_LINUX_PT + (2 + VMM_LINUX_PT_GIB) * 0x1000)
int vmm_setup_linux64(struct vmm *vmm, uint64_t entry, uint64_t boot_params);
/* 32-bit protected mode, flat 4 GiB segments, paging off (multiboot). */
int vmm_setup_protected(struct vmm *vmm, uint32_t entry, uint32_t eax,
			uint32_t ebx);
/*
 * From any thread: end vmm_run() with status (the first status given
 * wins); every vCPU thread ends after its current exit.
 */
void vmm_stop(struct vmm *vmm, int status);
/* Device state: one lock for all handlers and device threads. */
void vmm_lock(struct vmm *vmm);
void vmm_unlock(struct vmm *vmm);
/* Raise or lower IOAPIC pin gsi; nothing without the irqchip. */
void vmm_irq_line(struct vmm *vmm, uint32_t gsi, int level);
/*
 * Run every vCPU on a thread of its own until the guest ends: an enum
 * vmm_end, or the status a device passed to vmm_stop(). A vCPU whose HLT
 * exits (RFLAGS.IF clear: nothing can wake it) ends its thread; the VM
 * ends with VMM_END_HALT when no vCPU is left running.
 */
int vmm_run(struct vmm *vmm);

#endif /* VMM_H */
