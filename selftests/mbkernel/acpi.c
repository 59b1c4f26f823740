// SPDX-License-Identifier: GPL-2.0
/*
 * mbkernel's ACPI checks: the RSDP found by scanning the BIOS area
 * (0xe0000-0xfffff, 16-byte steps), the checksums of RSDP, XSDT (RSDT
 * before revision 2), FADT,
 * MADT and DSDT, the MADT's enabled local APICs (as many as fw_cfg's CPU
 * count) and its one IOAPIC at 0xfec00000, \_S5 in the DSDT, SCI_EN in
 * PM1a_CNT, a PM timer that advances. acpi_end() then powers off through
 * PM1a_CNT (SLP_TYP from \_S5, SLP_EN), resets through the FADT's
 * RESET_REG, or through the i8042's command 0xfe.
 */
#include <stddef.h>

#include "mbkernel.h"

#define BIOS_START	0xe0000
#define BIOS_END	0x100000
#define IOAPIC_ADDR	0xfec00000

/* FADT offsets (ACPI 6.x, table 5.9). */
#define FADT_DSDT		0x28
#define FADT_SMI_CMD		0x30
#define FADT_ACPI_ENABLE	0x34
#define FADT_PM1A_CNT_BLK	0x40
#define FADT_PM_TMR_BLK		0x4c
#define FADT_FLAGS		0x70
#define FADT_RESET_SPACE	0x74
#define FADT_RESET_ADDR		0x78
#define FADT_RESET_VALUE	0x80
#define FADT_X_DSDT		0x8c
#define FADT_RESET_REG_SUP	(1u << 10)
#define FADT_TMR_VAL_EXT	(1u << 8)

#define PM1_CNT_SCI_EN		(1u << 0)
#define PM1_CNT_SLP_TYP_SHIFT	10
#define PM1_CNT_SLP_EN		(1u << 13)

struct rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt, length;
	uint64_t xsdt;
	uint8_t extended_checksum, reserved[3];
} __attribute__((packed));

struct sdt {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

static const struct sdt *fadt;
static uint32_t s5_slp_typ;

static uint32_t at32(const void *p, uint32_t off)
{
	const uint8_t *b = (const uint8_t *)p + off;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint8_t sum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static const struct rsdp *find_rsdp(void)
{
	uint32_t a;

	for (a = BIOS_START; a < BIOS_END; a += 16)
		if (str_eq((const char *)a, "RSD PTR ", 8) &&
		    !sum((const void *)a, 20))
			return (const struct rsdp *)a;
	return NULL;
}

static const struct sdt *table(uint64_t addr, const char *sig)
{
	const struct sdt *t = (const struct sdt *)(uint32_t)addr;

	check(addr && addr < (1ull << 32), FAIL_ACPI, "table address");
	check(str_eq(t->signature, sig, 4), FAIL_ACPI, sig);
	check(t->length >= sizeof(*t) && !sum(t, t->length), FAIL_ACPI,
	      "table checksum");
	return t;
}

/* SLP_TYPa of \_S5: Name (_S5, Package () { a, b, ... }) in the AML. */
static bool find_s5(const struct sdt *dsdt)
{
	const uint8_t *p = (const uint8_t *)(dsdt + 1);
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;

	for (; p + 8 < end; p++) {
		if (!str_eq((const char *)p, "_S5_", 4) || p[4] != 0x12)
			continue;
		p += 5 + 1 + (p[5] >> 6) + 1;	/* PkgLength, NumElements */
		if (*p == 0x0a)			/* BytePrefix */
			s5_slp_typ = p[1];
		else if (*p == 0x00 || *p == 0x01)	/* Zero, One */
			s5_slp_typ = *p;
		else
			return false;
		return true;
	}
	return false;
}

/*
 * The root table's FADT and MADT (returned), the FADT's DSDT and its \_S5.
 * The root is the XSDT from RSDP revision 2 on, else the RSDT (QEMU's
 * SeaBIOS gives revision 0).
 */
static const struct sdt *check_tables(const struct rsdp *r)
{
	const struct sdt *root, *madt = NULL, *dsdt;
	uint32_t i, n, size = r->revision >= 2 ? 8 : 4;
	uint64_t a;

	check(r->revision < 2 || !sum(r, r->length), FAIL_ACPI,
	      "RSDP extended checksum");
	root = r->revision >= 2 ? table(r->xsdt, "XSDT") : table(r->rsdt, "RSDT");
	n = (root->length - sizeof(*root)) / size;
	for (i = 0; i < n; i++) {
		a = at32(root + 1, size * i);
		if (size == 8)
			a |= (uint64_t)at32(root + 1, size * i + 4) << 32;
		if (str_eq((const char *)(uint32_t)a, "FACP", 4))
			fadt = table(a, "FACP");
		if (str_eq((const char *)(uint32_t)a, "APIC", 4))
			madt = table(a, "APIC");
	}
	check(fadt && madt, FAIL_ACPI, "the root table lacks FACP or APIC");
	a = fadt->length >= FADT_X_DSDT + 8 ? at32(fadt, FADT_X_DSDT) : 0;
	dsdt = table(a ? a : at32(fadt, FADT_DSDT), "DSDT");
	check(find_s5(dsdt), FAIL_ACPI, "no \\_S5 in the DSDT");
	return madt;
}

/* Enabled local APICs must be fw_cfg's CPUs; one IOAPIC at 0xfec00000. */
static void check_madt(const struct sdt *madt, uint16_t cpus)
{
	const uint8_t *p = (const uint8_t *)(madt + 1) + 8;
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	uint32_t lapics = 0, ioapics = 0, ioapic_addr = 0;

	for (; p + 2 <= end && p[1] >= 2; p += p[1]) {
		if (p[0] == 0 && (at32(p, 4) & 1))
			lapics++;
		if (p[0] == 1) {
			ioapics++;
			ioapic_addr = at32(p, 4);
		}
	}
	put_str("acpi: MADT: ");
	put_dec(lapics);
	put_str(lapics == 1 ? " local APIC, " : " local APICs, ");
	put_dec(ioapics);
	put_str(" IOAPIC at ");
	put_hex(ioapic_addr);
	put_str("\n");
	check(lapics == cpus, FAIL_MADT, "MADT: local APICs != fw_cfg CPUs");
	check(ioapics == 1 && ioapic_addr == IOAPIC_ADDR, FAIL_MADT,
	      "MADT: not one IOAPIC at 0xfec00000");
}

static void check_pm(void)
{
	uint16_t tmr = at32(fadt, FADT_PM_TMR_BLK);
	uint16_t cnt = at32(fadt, FADT_PM1A_CNT_BLK);
	uint32_t smi_cmd = at32(fadt, FADT_SMI_CMD), t0 = inl(tmr), i;

	/* SMI_CMD 0: always in ACPI mode. Else enable it (QEMU's SeaBIOS). */
	if (smi_cmd && !(inw(cnt) & PM1_CNT_SCI_EN))
		outb(smi_cmd, ((const uint8_t *)fadt)[FADT_ACPI_ENABLE]);
	for (i = 0; i < 1000000 && !(inw(cnt) & PM1_CNT_SCI_EN); i++)
		;
	check(inw(cnt) & PM1_CNT_SCI_EN, FAIL_PM, "PM1a_CNT without SCI_EN");
	for (i = 0; i < 10000000 && inl(tmr) == t0; i++)
		;
	check(i < 10000000, FAIL_PM, "the PM timer stands still");
	put_str("acpi: PM timer at ");
	put_hex(tmr);
	put_str(at32(fadt, FADT_FLAGS) & FADT_TMR_VAL_EXT ? " (32-bit)" : " (24-bit)");
	put_str(smi_cmd ? " advances, SCI_EN set by SMI_CMD" : " advances, SCI_EN set");
	put_str(", \\_S5 SLP_TYP ");
	put_dec(s5_slp_typ);
	put_str("\n");
}

void check_acpi(uint16_t cpus)
{
	const struct rsdp *r = find_rsdp();
	const struct sdt *madt;

	check(r, FAIL_ACPI, "no RSDP in 0xe0000-0xfffff");
	madt = check_tables(r);
	put_str("acpi: RSDP at ");
	put_hex((uint32_t)r);
	put_str(" revision ");
	put_dec(r->revision);
	put_str(r->revision >= 2 ? ", XSDT" : ", RSDT");
	put_str(", FACP, DSDT, APIC: checksums right\n");
	check_madt(madt, cpus);
	check_pm();
}

void acpi_end(const char *how)
{
	uint16_t cnt = at32(fadt, FADT_PM1A_CNT_BLK);
	const uint8_t *f = (const uint8_t *)fadt;

	put_str("mbkernel: ");
	put_str(how);
	put_str("\n");
	if (str_eq(how, "poweroff", 9)) {
		outw(cnt, (inw(cnt) & ~(7u << PM1_CNT_SLP_TYP_SHIFT)) |
			  s5_slp_typ << PM1_CNT_SLP_TYP_SHIFT);
		outw(cnt, inw(cnt) | PM1_CNT_SLP_EN);
	} else if (str_eq(how, "reset", 6)) {
		check(at32(fadt, FADT_FLAGS) & FADT_RESET_REG_SUP &&
		      f[FADT_RESET_SPACE] == 1, FAIL_END, "no I/O RESET_REG");
		outb(at32(fadt, FADT_RESET_ADDR), f[FADT_RESET_VALUE]);
	} else {
		while (inb(0x64) & 2)	/* input buffer full */
			;
		outb(0x64, 0xfe);
	}
	check(false, FAIL_END, "still running");
}
