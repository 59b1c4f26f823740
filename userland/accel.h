/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Accelerators: vhmctl and vhm-bench drive a VM on /dev/vhm (default) or on
 * /dev/kvm with the same device models and boot code. Register state is
 * exchanged in vhm's uapi structs (struct vhm_regs, struct vhm_sregs);
 * the KVM backend converts. Exits come back in struct accel_exit, whose
 * data pointers point into the accelerator's run area, so a handler's
 * answer (IN data, MMIO read data) reaches the guest at the next run.
 */
#ifndef ACCEL_H
#define ACCEL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/vhm.h>

enum accel_exit_kind {
	ACCEL_EXIT_IO,
	ACCEL_EXIT_MMIO,
	ACCEL_EXIT_HYPERCALL,
	ACCEL_EXIT_HLT,
	ACCEL_EXIT_SHUTDOWN,
	ACCEL_EXIT_FAIL_ENTRY,
	ACCEL_EXIT_INTERNAL,
	ACCEL_EXIT_INTR,	/* a signal interrupted the run */
	ACCEL_EXIT_OTHER,	/* reason: the accelerator's own number */
};

struct accel_exit {
	enum accel_exit_kind kind;
	uint32_t reason;	/* the accelerator's exit reason */
	union {
		struct {
			uint16_t port;
			uint8_t size;
			bool is_write;
			uint32_t count;
			uint8_t *data;	/* count * size bytes */
		} io;
		struct {
			uint64_t addr;
			uint32_t len;
			bool is_write;
			uint8_t *data;	/* 8 bytes */
		} mmio;
		struct {
			uint64_t nr, args[6];
			uint64_t *ret;
		} hypercall;
		uint64_t info[2];	/* FAIL_ENTRY, INTERNAL: reason, data */
	};
};

struct accel {
	const struct accel_ops *ops;
	int sys, vm, vcpu;
	void *run;		/* the vCPU's mmap'ed run area */
	long run_size;
};

struct accel_ops {
	const char *name;	/* "vhm", "kvm" */
	/* Open the device; print why not (one line) and return -1. */
	int (*open)(struct accel *a);
	int (*create_vm)(struct accel *a);
	int (*set_memory)(struct accel *a, uint32_t slot, uint64_t gpa,
			  uint64_t size, void *hva);
	/* Create vCPU 0 and map its run area. */
	int (*create_vcpu)(struct accel *a);
	/* Create one more vCPU, id, and return its fd (-1: errno). */
	int (*add_vcpu)(struct accel *a, int id);
	int (*get_regs)(struct accel *a, struct vhm_regs *r);
	int (*set_regs)(struct accel *a, const struct vhm_regs *r);
	int (*get_sregs)(struct accel *a, struct vhm_sregs *s);
	int (*set_sregs)(struct accel *a, const struct vhm_sregs *s);
	/* Run until an exit userspace must see; -1 with errno on failure. */
	int (*run)(struct accel *a, struct accel_exit *e);
};

/* The accelerator called name, or NULL (with a message). */
const struct accel_ops *accel_by_name(const char *name);
/* open, create_vm: 0 or -1 with a message. */
int accel_init(struct accel *a, const struct accel_ops *ops);
/* Close everything accel_init and create_vcpu opened. */
void accel_close(struct accel *a);

extern const struct accel_ops accel_vhm_ops;
extern const struct accel_ops accel_kvm_ops;

#endif /* ACCEL_H */
