/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel IOAPIC (VHM_LAPIC_IOAPIC): 24 pins at 0xfec00000, fed by
 * VHM_IRQ_LINE, delivering through the local APICs (lapic.h).
 */
#ifndef VHM_IOAPIC_H
#define VHM_IOAPIC_H

#include <linux/types.h>

struct vhm_vm;
struct vhm_vcpu;
struct vhm_irq_line;

/* VHM_CREATE_LAPIC with VHM_LAPIC_IOAPIC, vm->lock held. */
int vhm_ioapic_create(struct vhm_vm *vm);
/* At VM destruction. */
void vhm_ioapic_free(struct vhm_vm *vm);

/* VHM_IRQ_LINE on the VM fd. */
long vhm_vm_irq_line(struct vhm_vm *vm, const struct vhm_irq_line __user *u);

/* The register page (mmio.c): whether gpa is in it, 32-bit accesses. */
bool vhm_ioapic_covers(struct vhm_vcpu *vcpu, u64 gpa);
u32 vhm_ioapic_read(struct vhm_vcpu *vcpu, unsigned int offset);
void vhm_ioapic_write(struct vhm_vcpu *vcpu, unsigned int offset, u32 val);

/* A local APIC's EOI of a level-triggered vector (no IOAPIC: nothing). */
void vhm_ioapic_eoi(struct vhm_vm *vm, u8 vector);

#endif /* VHM_IOAPIC_H */
