// SPDX-License-Identifier: GPL-2.0
/*
 * ACPI tables (ACPI 6.x layouts), written once into guest RAM at
 * ACPI_TABLES_ADDR in the BIOS area (0xe0000-0xfffff: reserved in the e820
 * map of the Linux boot protocol and in the multiboot memory map), where a
 * guest finds the RSDP by scanning on 16-byte boundaries; a Linux guest is
 * also told its address in boot_params.acpi_rsdp_addr. The tables:
 *
 * - RSDP revision 2 -> RSDT (32-bit pointers) and XSDT (64-bit): FADT, MADT.
 * - FADT revision 3 (ACPI 2.0 layout with the X_ fields): SCI on IRQ 9,
 *   SMI_CMD 0 (always in ACPI mode: PM1a_CNT reads SCI_EN), the PM1a event
 *   and control blocks and the 32-bit PM timer (acpi.h's ports), RESET_REG
 *   = 0x06 to I/O port 0xcf9, IAPC_BOOT_ARCH: legacy devices and an 8042,
 *   no VGA; the CMOS century at 0x32; FACS and DSDT.
 * - FACS: empty (no waking vector, no global lock owner).
 * - DSDT: Name (_S5, Package () { 5, 5, 0, 0 }), hand-encoded AML: what
 *   an OS needs to learn SLP_TYP for soft-off (S5).
 * - MADT: local APIC address 0xfee00000, no PCAT_COMPAT (the 8259s never interrupt); a
 *   Processor Local APIC per CPU (processor and APIC ID = CPU index,
 *   enabled), one IOAPIC (ID = CPU count, 0xfec00000, GSI base 0),
 *   overrides ISA IRQ 0 -> GSI 2 (edge, active high) and IRQ 9 -> GSI 9
 *   (the SCI: level, active high), a local APIC NMI on LINT1 of every
 *   processor.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "acpi.h"

#define ACPI_OEM_ID		"VHM   "
#define ACPI_OEM_TABLE_ID	"VHMCTL  "
#define ACPI_CREATOR_ID		"VHM "

/* Where each table goes, from ACPI_TABLES_ADDR. */
#define OFF_RSDP	0x000
#define OFF_RSDT	0x040
#define OFF_XSDT	0x080
#define OFF_FACS	0x100	/* 64-byte aligned */
#define OFF_DSDT	0x140
#define OFF_FADT	0x200
#define OFF_MADT	0x400

struct acpi_gas {		/* Generic Address Structure */
	uint8_t space_id, bit_width, bit_offset, access_width;
	uint64_t address;
} __attribute__((packed));

#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE	1

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;	/* of the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint8_t reserved2[3];
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk, x_gpe1_blk;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header layout");
_Static_assert(offsetof(struct acpi_fadt, flags) == 0x70, "FADT layout");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 0x8c, "FADT layout");
_Static_assert(sizeof(struct acpi_fadt) == 244, "FADT revision 3 layout");

#define FADT_REVISION		3
#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_PWR_BUTTON		(1u << 4)	/* no fixed power button */
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed sleep button */
#define FADT_TMR_VAL_EXT	(1u << 8)	/* 32-bit PM timer */
#define FADT_RESET_REG_SUP	(1u << 10)
#define BOOT_ARCH_LEGACY	(1u << 0)
#define BOOT_ARCH_8042		(1u << 1)
#define BOOT_ARCH_NO_VGA	(1u << 2)

struct acpi_facs {
	char signature[4];
	uint32_t length, hardware_signature, firmware_waking_vector;
	uint32_t global_lock, flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version, reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");

struct madt_lapic {
	uint8_t type, length, processor_id, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, ioapic_id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_override {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length, processor_id;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_OVERRIDE		2
#define MADT_LAPIC_NMI		4
#define MADT_ENABLED		1
#define MADT_ALL_PROCESSORS	0xff
/* MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3. */
#define MPS_ACTIVE_HIGH		0x1
#define MPS_EDGE		(0x1 << 2)
#define MPS_LEVEL		(0x3 << 2)

/*
 * DefinitionBlock body: Name (_S5, Package () { 5, 5, 0, 0 }).
 * NameOp '_S5_' PackageOp PkgLength(8, itself included) NumElements(4)
 * BytePrefix 5, BytePrefix 5, ZeroOp, ZeroOp.
 */
static const uint8_t dsdt_aml[] = {
	0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
	0x0a, ACPI_SLP_TYP_S5, 0x0a, ACPI_SLP_TYP_S5, 0x00, 0x00,
};

static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

static void acpi_header(struct acpi_header *h, const char *sig,
			uint32_t len, uint8_t revision)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Set the checksum of the table at h, whose header gives its length. */
static void acpi_seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = acpi_checksum(h, h->length);
}

static struct acpi_gas acpi_io_gas(uint16_t port, uint8_t len)
{
	return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO,
				  .bit_width = len * 8, .address = port };
}

static void acpi_fadt(uint8_t *base)
{
	struct acpi_fadt *f = (struct acpi_fadt *)(base + OFF_FADT);

	acpi_header(&f->h, "FACP", sizeof(*f), FADT_REVISION);
	f->firmware_ctrl = ACPI_TABLES_ADDR + OFF_FACS;
	f->dsdt = ACPI_TABLES_ADDR + OFF_DSDT;
	f->x_firmware_ctrl = f->firmware_ctrl;
	f->x_dsdt = f->dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	f->smi_cmd = 0;		/* ACPI mode is always on */
	f->pm1a_evt_blk = ACPI_PM1A_EVT_PORT;
	f->pm1_evt_len = ACPI_PM1_EVT_LEN;
	f->pm1a_cnt_blk = ACPI_PM1A_CNT_PORT;
	f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f->pm_tmr_blk = ACPI_PM_TMR_PORT;
	f->pm_tmr_len = ACPI_PM_TMR_LEN;
	f->x_pm1a_evt_blk = acpi_io_gas(ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN);
	f->x_pm1a_cnt_blk = acpi_io_gas(ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN);
	f->x_pm_tmr_blk = acpi_io_gas(ACPI_PM_TMR_PORT, ACPI_PM_TMR_LEN);
	f->p_lvl2_lat = 101;	/* > 100: no C2 */
	f->p_lvl3_lat = 1001;	/* > 1000: no C3 */
	f->century = ACPI_CMOS_CENTURY;
	f->iapc_boot_arch = BOOT_ARCH_LEGACY | BOOT_ARCH_8042 |
			    BOOT_ARCH_NO_VGA;
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON |
		   FADT_SLP_BUTTON | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP;
	f->reset_reg = acpi_io_gas(ACPI_RESET_PORT, 1);
	f->reset_reg.access_width = GAS_ACCESS_BYTE;
	f->reset_value = ACPI_RESET_VALUE;
	acpi_seal(&f->h);
}

static void acpi_facs_dsdt(uint8_t *base)
{
	struct acpi_facs *facs = (struct acpi_facs *)(base + OFF_FACS);
	struct acpi_header *dsdt = (struct acpi_header *)(base + OFF_DSDT);

	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;
	acpi_header(dsdt, "DSDT", sizeof(*dsdt) + sizeof(dsdt_aml), 2);
	memcpy(dsdt + 1, dsdt_aml, sizeof(dsdt_aml));
	acpi_seal(dsdt);
}

/* Append an entry of len bytes to the MADT at h. */
static void madt_add(struct acpi_header *h, const void *entry, size_t len)
{
	memcpy((uint8_t *)h + h->length, entry, len);
	h->length += len;
}

static void madt_override(struct acpi_header *h, uint8_t irq, uint32_t gsi,
			  uint16_t flags)
{
	struct madt_override o = {
		.type = MADT_OVERRIDE, .length = sizeof(o), .bus = 0,
		.source = irq, .gsi = gsi, .flags = flags,
	};

	madt_add(h, &o, sizeof(o));
}

static void acpi_madt(uint8_t *base, unsigned int nr_cpus)
{
	struct acpi_header *h = (struct acpi_header *)(base + OFF_MADT);
	uint32_t lapic_addr = ACPI_LAPIC_ADDR, flags = 0;
	struct madt_ioapic io = {
		.type = MADT_IOAPIC, .length = sizeof(io), .ioapic_id = nr_cpus,
		.address = ACPI_IOAPIC_ADDR, .gsi_base = 0,
	};
	struct madt_lapic_nmi nmi = {
		.type = MADT_LAPIC_NMI, .length = sizeof(nmi),
		.processor_id = MADT_ALL_PROCESSORS,
		.flags = MPS_ACTIVE_HIGH | MPS_EDGE, .lint = 1,
	};
	unsigned int i;

	acpi_header(h, "APIC", sizeof(*h), 4);
	madt_add(h, &lapic_addr, 4);
	madt_add(h, &flags, 4);		/* no PCAT_COMPAT: the 8259s never interrupt */
	for (i = 0; i < nr_cpus; i++) {
		struct madt_lapic l = {
			.type = MADT_LAPIC, .length = sizeof(l),
			.processor_id = i, .apic_id = i, .flags = MADT_ENABLED,
		};

		madt_add(h, &l, sizeof(l));
	}
	madt_add(h, &io, sizeof(io));
	madt_override(h, 0, 2, MPS_ACTIVE_HIGH | MPS_EDGE);
	madt_override(h, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_ACTIVE_HIGH | MPS_LEVEL);
	madt_add(h, &nmi, sizeof(nmi));
	acpi_seal(h);
}

/* RSDT and XSDT, both listing FADT and MADT; the RSDP pointing at them. */
static void acpi_roots(uint8_t *base)
{
	static const uint32_t tables[] = { OFF_FADT, OFF_MADT };
	struct acpi_header *rsdt = (struct acpi_header *)(base + OFF_RSDT);
	struct acpi_header *xsdt = (struct acpi_header *)(base + OFF_XSDT);
	struct acpi_rsdp *rsdp = (struct acpi_rsdp *)(base + OFF_RSDP);
	unsigned int i, n = sizeof(tables) / sizeof(tables[0]);

	acpi_header(rsdt, "RSDT", sizeof(*rsdt) + 4 * n, 1);
	acpi_header(xsdt, "XSDT", sizeof(*xsdt) + 8 * n, 1);
	for (i = 0; i < n; i++) {
		uint32_t a32 = ACPI_TABLES_ADDR + tables[i];
		uint64_t a64 = a32;

		memcpy((uint8_t *)(rsdt + 1) + 4 * i, &a32, 4);
		memcpy((uint8_t *)(xsdt + 1) + 8 * i, &a64, 8);
	}
	acpi_seal(rsdt);
	acpi_seal(xsdt);
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = ACPI_TABLES_ADDR + OFF_RSDT;
	rsdp->xsdt_address = ACPI_TABLES_ADDR + OFF_XSDT;
	rsdp->length = sizeof(*rsdp);
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
}

_Static_assert(OFF_MADT + sizeof(struct acpi_header) + 8 +
	       ACPI_MAX_CPUS * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_override) +
	       sizeof(struct madt_lapic_nmi) <= ACPI_TABLES_SIZE,
	       "the MADT fits for every CPU count");
_Static_assert(OFF_FADT + sizeof(struct acpi_fadt) <= OFF_MADT, "FADT fits");

int acpi_build(struct vmm *vmm)
{
	uint8_t *base;

	if (vmm->ram_size < ACPI_TABLES_ADDR + ACPI_TABLES_SIZE)
		return 0;	/* no BIOS area: no tables */
	if (vmm->nr_cpus < 1 || vmm->nr_cpus > ACPI_MAX_CPUS) {
		fprintf(stderr, "vhmctl: ACPI: %u CPUs (1 to %d)\n",
			vmm->nr_cpus, ACPI_MAX_CPUS);
		return -1;
	}
	base = vmm->ram + ACPI_TABLES_ADDR;
	memset(base, 0, ACPI_TABLES_SIZE);
	acpi_facs_dsdt(base);
	acpi_fadt(base);
	acpi_madt(base, vmm->nr_cpus);
	acpi_roots(base);
	return 0;
}
