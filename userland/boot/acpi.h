/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The firmware tables vhmctl gives every guest (acpi.c) and the fixed
 * hardware they describe (devices/acpi-pm.c: PM1a event and control
 * blocks, the PM timer; devices/pci.c: the reset register at 0xcf9).
 */
#ifndef ACPI_H
#define ACPI_H

#include "vmm.h"

/* The tables live in the BIOS area, which every memory map reserves. */
#define ACPI_TABLES_ADDR	0xe0000
#define ACPI_TABLES_SIZE	0x2000
#define ACPI_RSDP_ADDR		ACPI_TABLES_ADDR

#define ACPI_SCI_IRQ		9
#define ACPI_PM1A_EVT_PORT	0x600	/* 2 bytes status, 2 bytes enable */
#define ACPI_PM1_EVT_LEN	4
#define ACPI_PM1A_CNT_PORT	0x604
#define ACPI_PM1_CNT_LEN	2
#define ACPI_PM_TMR_PORT	0x608
#define ACPI_PM_TMR_LEN		4
#define ACPI_PM_TMR_HZ		3579545
#define ACPI_RESET_PORT		0xcf9
#define ACPI_RESET_VALUE	0x06
#define ACPI_SLP_TYP_S5		5	/* \_S5 in the DSDT says so */
#define ACPI_CMOS_CENTURY	0x32

#define ACPI_IOAPIC_ADDR	0xfec00000
#define ACPI_LAPIC_ADDR		0xfee00000
#define ACPI_MAX_CPUS		255

/*
 * Write RSDP, RSDT, XSDT, FADT, FACS, DSDT and MADT (one local APIC per
 * vmm->nr_cpus) at ACPI_TABLES_ADDR. Nothing when RAM ends below them.
 */
int acpi_build(struct vmm *vmm);

#endif /* ACPI_H */
