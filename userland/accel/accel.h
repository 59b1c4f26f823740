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

#define ACCEL_MAX_VCPUS	255

/* One vCPU: its fd and its mmap'ed run area. */
struct accel_vcpu {
	struct accel *accel;
	unsigned int id;	/* vCPU index = initial APIC ID */
	int fd;
	void *run;
};

struct accel {
	const struct accel_ops *ops;
	int sys, vm;
	long run_size;
	bool irqchip;		/* create_irqchip succeeded */
	bool tsc_deadline;	/* its LAPICs have the TSC-deadline mode */
	uint32_t tsc_khz;	/* the guest's TSC rate (CPUID leaves) */
	unsigned int nr_vcpus;
	struct accel_vcpu vcpus[ACCEL_MAX_VCPUS];
};

struct accel_ops {
	const char *name;	/* "vhm", "kvm" */
	/* Open the device; print why not (one line) and return -1. */
	int (*open)(struct accel *a);
	int (*create_vm)(struct accel *a);
	int (*set_memory)(struct accel *a, uint32_t slot, uint64_t gpa,
			  uint64_t size, void *hva);
	/* Whether create_irqchip can work (vhm: VHM_CAP_LAPIC and _IOAPIC). */
	bool (*has_irqchip)(struct accel *a);
	/*
	 * Local APICs (one per vCPU created after it) and an IOAPIC with 24
	 * pins at 0xfec00000; before the first vCPU. 0 or -1 with a message.
	 */
	int (*create_irqchip)(struct accel *a);
	/* Raise (1) or lower (0) IOAPIC pin gsi; -1 with errno. */
	int (*irq_line)(struct accel *a, uint32_t gsi, int level);
	/*
	 * Create vCPU a->nr_vcpus, map its run area and give it its CPUID
	 * table (accel_cpuid_edit); 0 or -1 with a message.
	 */
	int (*create_vcpu)(struct accel *a);
	/* Create one more bare vCPU, id, and return its fd (-1: errno). */
	int (*add_vcpu)(struct accel *a, int id);
	int (*get_regs)(struct accel_vcpu *v, struct vhm_regs *r);
	int (*set_regs)(struct accel_vcpu *v, const struct vhm_regs *r);
	int (*get_sregs)(struct accel_vcpu *v, struct vhm_sregs *s);
	int (*set_sregs)(struct accel_vcpu *v, const struct vhm_sregs *s);
	/* Run until an exit userspace must see; -1 with errno on failure. */
	int (*run)(struct accel_vcpu *v, struct accel_exit *e);
	/*
	 * Make v's next (or current, with a signal) run return
	 * ACCEL_EXIT_INTR: the run area's immediate_exit.
	 */
	void (*kick)(struct accel_vcpu *v);
};

/* The accelerator called name, or NULL (with a message). */
const struct accel_ops *accel_by_name(const char *name);
/* open, create_vm: 0 or -1 with a message. */
int accel_init(struct accel *a, const struct accel_ops *ops);
/* Close everything accel_init and create_vcpu opened; no irqchip left. */
void accel_close(struct accel *a);
/* vCPU 0, the one the boot code sets up. */
static inline struct accel_vcpu *accel_bsp(struct accel *a)
{
	return &a->vcpus[0];
}

/*
 * The CPUID table of vCPU id, edited in place from the accelerator's
 * supported table (nent entries, room for max): the paravirtual leaves
 * (0x40000000 up) go unless keep_pv; without the irqchip the local APIC,
 * x2APIC and TSC-deadline bits go; with it the APIC and x2APIC bits are
 * set (TSC-deadline: where a->tsc_deadline says), and CPUID.1 EBX's
 * initial APIC ID, leaves 0xb/0x1f's x2APIC IDs and 0x8000001e's are id,
 * the hypervisor bit is set, Intel hosts get leaves 0x15/0x16 (TSC from
 * a 1 GHz crystal) and the hypervisor leaf 0x40000010 gives the TSC and
 * APIC bus rates (signature: sig, or the kept one). Returns the new nent.
 */
uint32_t accel_cpuid_edit(struct vhm_cpuid_entry *e, uint32_t nent,
			  uint32_t max, const struct accel *a, unsigned int id,
			  const char *sig);
/* The host TSC rate in kHz (sysfs, else measured); 0 if unknown. */
uint32_t accel_host_tsc_khz(void);

extern const struct accel_ops accel_vhm_ops;
extern const struct accel_ops accel_kvm_ops;

#endif /* ACCEL_H */
