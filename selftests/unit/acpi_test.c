// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of userland/boot/acpi.c, the firmware tables vhmctl writes,
 * built on the build machine: for 1 to 255 CPUs every table is where the
 * RSDP's pointers say, every checksum is right and the MADT lists each CPU once
 * (processor and APIC ID = index, enabled) and the IOAPIC with ID = the
 * CPU count; 0 and 256 CPUs are refused; RAM that ends below the tables gets none.
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "boot/acpi.h"

#define RAM_SIZE	(2u << 20)

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* The table at addr: its signature and checksum are right; its bytes. */
static const uint8_t *table(const struct vmm *vmm, uint64_t addr,
			    const char *sig)
{
	const uint8_t *t = vmm->ram + addr;

	if (addr < ACPI_TABLES_ADDR || addr >= ACPI_TABLES_ADDR + ACPI_TABLES_SIZE ||
	    memcmp(t, sig, 4) || sum(t, le32(t + 4)))
		return NULL;
	return t;
}

FIXTURE(acpi) {
	struct vmm vmm;
};

FIXTURE_SETUP(acpi)
{
	memset(&self->vmm, 0, sizeof(self->vmm));
	self->vmm.ram_size = RAM_SIZE;
	self->vmm.ram = calloc(1, RAM_SIZE);
	ASSERT_NE(NULL, self->vmm.ram);
}

FIXTURE_TEARDOWN(acpi)
{
	free(self->vmm.ram);
}

/* Check the tables for n CPUs: RSDP, XSDT, RSDT, FADT, DSDT, MADT. */
static int check_tables(struct __test_metadata *_metadata, struct vmm *vmm,
			unsigned int n)
{
	const uint8_t *rsdp = vmm->ram + ACPI_RSDP_ADDR, *xsdt, *rsdt;
	const uint8_t *fadt, *madt, *p, *end;
	unsigned int lapics = 0, ioapics = 0;

	vmm->nr_cpus = n;
	EXPECT_EQ(0, acpi_build(vmm));
	EXPECT_EQ(0, memcmp(rsdp, "RSD PTR ", 8));
	EXPECT_EQ(0, sum(rsdp, 20));
	EXPECT_EQ(2, rsdp[15]);
	EXPECT_EQ(0, sum(rsdp, 36));
	xsdt = table(vmm, le32(rsdp + 24), "XSDT");
	rsdt = table(vmm, le32(rsdp + 16), "RSDT");
	ASSERT_NE(NULL, xsdt);
	ASSERT_NE(NULL, rsdt);
	fadt = table(vmm, le32(xsdt + 36), "FACP");
	madt = table(vmm, le32(xsdt + 44), "APIC");
	ASSERT_NE(NULL, fadt);
	ASSERT_NE(NULL, madt);
	EXPECT_EQ(le32(rsdt + 36), le32(xsdt + 36));
	EXPECT_EQ(le32(rsdt + 40), le32(xsdt + 44));
	EXPECT_NE(NULL, table(vmm, le32(fadt + 0x8c), "DSDT"));
	EXPECT_EQ(0, memcmp(vmm->ram + le32(fadt + 0x24), "FACS", 4));
	EXPECT_EQ(ACPI_PM_TMR_PORT, le32(fadt + 0x4c));
	EXPECT_EQ(ACPI_LAPIC_ADDR, le32(madt + 36));
	EXPECT_EQ(0, le32(madt + 40));	/* no PCAT_COMPAT */
	end = madt + le32(madt + 4);
	for (p = madt + 44; p < end; p += p[1]) {
		ASSERT_LE(2, p[1]);
		if (p[0] == 0) {
			EXPECT_EQ(lapics, p[2]);
			EXPECT_EQ(lapics, p[3]);
			EXPECT_EQ(1, le32(p + 4));
			lapics++;
		} else if (p[0] == 1) {
			EXPECT_EQ(n, p[2]);
			EXPECT_EQ(ACPI_IOAPIC_ADDR, le32(p + 4));
			ioapics++;
		}
	}
	EXPECT_EQ(end, p);
	EXPECT_EQ(n, lapics);
	EXPECT_EQ(1, ioapics);
	return 0;
}

TEST_F(acpi, one_cpu)
{
	check_tables(_metadata, &self->vmm, 1);
}

TEST_F(acpi, every_cpu_count)
{
	unsigned int n;

	for (n = 1; n <= ACPI_MAX_CPUS; n++)
		check_tables(_metadata, &self->vmm, n);
}

TEST_F(acpi, refused_cpu_counts)
{
	self->vmm.nr_cpus = 0;
	EXPECT_EQ(-1, acpi_build(&self->vmm));
	self->vmm.nr_cpus = ACPI_MAX_CPUS + 1;
	EXPECT_EQ(-1, acpi_build(&self->vmm));
}

TEST_F(acpi, no_tables_in_little_ram)
{
	self->vmm.ram_size = ACPI_TABLES_ADDR + ACPI_TABLES_SIZE - 4096;
	self->vmm.nr_cpus = 1;
	EXPECT_EQ(0, acpi_build(&self->vmm));
	EXPECT_EQ(0, self->vmm.ram[ACPI_RSDP_ADDR]);
}

TEST_HARNESS_MAIN
