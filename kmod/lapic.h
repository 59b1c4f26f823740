/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel local APIC (VHM_CREATE_LAPIC): one per vCPU, xAPIC and
 * x2APIC. Vendor-neutral; the vendors call the hooks below at entry and
 * at HLT, run.c before each entry, msrs.c for its MSRs, the IOAPIC to
 * deliver.
 */
#ifndef VHM_LAPIC_H
#define VHM_LAPIC_H

#include <linux/types.h>

struct vhm_vm;
struct vhm_vcpu;
struct vhm_create_lapic;

/* An interrupt message: an IPI, or an IOAPIC redirection. */
struct vhm_apic_msg {
	u32 dest;		/* APIC ID or logical mask */
	u8 vector;
	u8 mode;		/* delivery mode: 0 fixed, 1 lowest, 4 NMI, ... */
	bool logical;
	bool level;		/* level-triggered (EOI goes to the IOAPIC) */
	bool assert;		/* INIT: assert, not de-assert */
};

/* Deliver m to the VM's APICs it is addressed to (the IOAPIC). */
void vhm_lapic_deliver(struct vhm_vm *vm, const struct vhm_apic_msg *m);

/* VHM_CREATE_LAPIC on the VM fd. */
long vhm_vm_create_lapic(struct vhm_vm *vm,
			 const struct vhm_create_lapic __user *u);
/* At vCPU creation and destruction: nothing if the VM has no APIC. */
int vhm_lapic_vcpu_init(struct vhm_vcpu *vcpu);
void vhm_lapic_vcpu_stop(struct vhm_vcpu *vcpu);
void vhm_lapic_vcpu_free(struct vhm_vcpu *vcpu);

/* Whether gpa is in the vCPU's enabled APIC page. */
bool vhm_lapic_covers(struct vhm_vcpu *vcpu, u64 gpa);
/* A load or store of size bytes at offset of the page (mmio.c). */
u32 vhm_lapic_read(struct vhm_vcpu *vcpu, unsigned int offset);
void vhm_lapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val);

/*
 * The vCPU's pending interrupt is acknowledged (an exit cut its delivery
 * short, or the VMM set the event queue): the vector the APIC queued for
 * it, if any, moves from IRR to ISR and is no longer weighed again.
 */
void vhm_lapic_ack(struct vhm_vcpu *vcpu);

/*
 * HLT with interrupts enabled and no event pending in the vendor: sleep
 * until the APIC has an interrupt to deliver. 0 when it has one (the
 * vendor steps past the HLT), -EINTR when a signal came first (the vendor
 * leaves RIP on the HLT, which runs again on the next VHM_RUN).
 */
int vhm_lapic_halt(struct vhm_vcpu *vcpu);


/*
 * The vendors' entry hook (after in_guest and its barrier): the APIC's
 * NMI, and its interrupt into the vCPU's event queue. A vector the APIC
 * queued before and the guest has not taken yet is weighed again: a
 * higher one replaces it, a TPR above it withdraws it (the CPU
 * acknowledges an interrupt only as it delivers it).
 */
void vhm_lapic_pending(struct vhm_vcpu *vcpu);
/*
 * An NMI the APIC latched beyond the one in the event queue: after the
 * queue's NMI is injected, the next waits for the NMI window.
 */
bool vhm_lapic_nmi_held(struct vhm_vcpu *vcpu);

/*
 * Before each entry (run.c): a vCPU waiting for SIPI sleeps until one
 * comes and then starts at it; -EINTR when a signal came first.
 */
int vhm_lapic_wait_sipi(struct vhm_vcpu *vcpu);

/* msrs.c: IA32_APIC_BASE, the x2APIC MSRs and IA32_TSC_DEADLINE. */
int vhm_lapic_set_base(struct vhm_vcpu *vcpu, u64 data, bool host);
bool vhm_lapic_is_x2apic_msr(struct vhm_vcpu *vcpu, u32 index);
int vhm_lapic_rdmsr(struct vhm_vcpu *vcpu, u32 index, u64 *data);
int vhm_lapic_wrmsr(struct vhm_vcpu *vcpu, u32 index, u64 data);
bool vhm_lapic_wrmsr_fast(struct vhm_vcpu *vcpu, u32 index, u64 data);
u64 vhm_lapic_get_tsc_deadline(struct vhm_vcpu *vcpu);
/* CR8, linked to the TPR (with an in-kernel APIC only). */
u64 vhm_lapic_get_cr8(struct vhm_vcpu *vcpu);
void vhm_lapic_set_cr8(struct vhm_vcpu *vcpu, u64 cr8);
void vhm_lapic_set_tsc_deadline(struct vhm_vcpu *vcpu, u64 deadline);

#endif /* VHM_LAPIC_H */
