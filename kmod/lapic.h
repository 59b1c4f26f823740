/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel local APIC (VHM_CREATE_LAPIC): xAPIC mode only, one per
 * vCPU. Vendor-neutral; the vendors call the hooks below at entry and
 * at HLT.
 */
#ifndef VHM_LAPIC_H
#define VHM_LAPIC_H

#include <linux/types.h>

struct vhm_vm;
struct vhm_vcpu;
struct vhm_create_lapic;

/* VHM_CREATE_LAPIC on the VM fd. */
long vhm_vm_create_lapic(struct vhm_vm *vm,
			 const struct vhm_create_lapic __user *u);
/* At vCPU creation and destruction: nothing if the VM has no APIC. */
int vhm_lapic_vcpu_init(struct vhm_vcpu *vcpu);
void vhm_lapic_vcpu_free(struct vhm_vcpu *vcpu);

/* Whether gpa is in the vCPU's enabled APIC page. */
bool vhm_lapic_covers(struct vhm_vcpu *vcpu, u64 gpa);
/* A load or store of size bytes at offset of the page (mmio.c). */
u32 vhm_lapic_read(struct vhm_vcpu *vcpu, unsigned int offset);
void vhm_lapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val);

/*
 * Interrupts off, vcpu->in_guest set (then a full barrier), the vendor
 * holding no pending interrupt: the vector to make its pending
 * interrupt, or -1. The vector queued last time has been delivered by
 * then (it left the vendor's state) and moves from IRR to ISR.
 */
int vhm_lapic_next_irq(struct vhm_vcpu *vcpu);

/*
 * HLT with interrupts enabled and no event pending in the vendor: sleep
 * until the APIC has an interrupt to deliver. 0 when it has one (the
 * vendor steps past the HLT), -EINTR when a signal came first (the vendor
 * leaves RIP on the HLT, which runs again on the next VHM_RUN).
 */
int vhm_lapic_halt(struct vhm_vcpu *vcpu);

#endif /* VHM_LAPIC_H */
