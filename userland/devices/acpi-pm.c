// SPDX-License-Identifier: GPL-2.0
/*
 * ACPI fixed hardware, as boot/acpi.c's FADT describes it, and the tables
 * themselves (written when the VM is created, before any image is loaded):
 *
 * - PM1a event block, 0x600: PM1_STS (16 bits, write 1 to clear) and
 *   PM1_EN (16 bits, kept). No event is ever raised: no SCI.
 * - PM1a control block, 0x604 (16 bits): SCI_EN always reads 1 (there is
 *   no legacy mode to leave); SLP_EN (bit 13, write-only) with SLP_TYP
 *   (bits 10-12) = 5, the DSDT's \_S5, powers off: vhmctl ends with
 *   VMM_END_POWEROFF. Other sleep types are ignored (the guest goes on).
 * - PM timer, 0x608: 32 bits at 3.579545 MHz, from CLOCK_MONOTONIC.
 *
 * Accesses of any size at any offset of the 12 bytes work byte by byte.
 */
#include <string.h>
#include <time.h>

#include "boot/acpi.h"

#define PM1_CNT_SCI_EN		(1u << 0)
#define PM1_CNT_SLP_TYP_SHIFT	10
#define PM1_CNT_SLP_TYP_MASK	(7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN		(1u << 13)

#define PM_BLOCK_LEN	(ACPI_PM_TMR_PORT + ACPI_PM_TMR_LEN - ACPI_PM1A_EVT_PORT)
#define OFF_STS		0
#define OFF_EN		2
#define OFF_CNT		(ACPI_PM1A_CNT_PORT - ACPI_PM1A_EVT_PORT)
#define OFF_TMR		(ACPI_PM_TMR_PORT - ACPI_PM1A_EVT_PORT)

struct acpi_pm {
	uint16_t sts, en, cnt;
};

static struct acpi_pm acpi_pm;

static uint32_t pm_timer(void)
{
	struct timespec ts;
	uint64_t ticks;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ticks = (uint64_t)ts.tv_sec * ACPI_PM_TMR_HZ +
		(uint64_t)ts.tv_nsec * ACPI_PM_TMR_HZ / 1000000000;
	return (uint32_t)ticks;
}

/* The block's bytes as the guest reads them. */
static void pm_snapshot(const struct acpi_pm *pm, uint8_t *b)
{
	uint16_t cnt = (pm->cnt & ~PM1_CNT_SLP_EN) | PM1_CNT_SCI_EN;
	uint32_t tmr = pm_timer();

	memset(b, 0, PM_BLOCK_LEN);
	memcpy(b + OFF_STS, &pm->sts, 2);
	memcpy(b + OFF_EN, &pm->en, 2);
	memcpy(b + OFF_CNT, &cnt, 2);
	memcpy(b + OFF_TMR, &tmr, 4);
}

static void pm_write_byte(struct acpi_pm *pm, unsigned int off, uint8_t v)
{
	unsigned int shift = 8 * (off & 1);

	switch (off & ~1u) {
	case OFF_STS:
		pm->sts &= ~(v << shift);
		break;
	case OFF_EN:
		pm->en = (pm->en & ~(0xff << shift)) | v << shift;
		break;
	case OFF_CNT:
		pm->cnt = (pm->cnt & ~(0xff << shift)) | v << shift;
		break;
	}			/* the timer is read-only */
}

static void acpi_pm_io(struct vmm *vmm, uint64_t port, void *data,
		       uint32_t len, bool is_write, void *opaque)
{
	unsigned int off = port - ACPI_PM1A_EVT_PORT, i;
	struct acpi_pm *pm = opaque;
	uint8_t b[PM_BLOCK_LEN], *p = data;

	if (!is_write) {
		pm_snapshot(pm, b);
		for (i = 0; i < len; i++)
			p[i] = off + i < PM_BLOCK_LEN ? b[off + i] : 0xff;
		return;
	}
	for (i = 0; i < len && off + i < PM_BLOCK_LEN; i++)
		pm_write_byte(pm, off + i, p[i]);
	if ((pm->cnt & PM1_CNT_SLP_EN) &&
	    (pm->cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT ==
	    ACPI_SLP_TYP_S5)
		vmm_stop(vmm, VMM_END_POWEROFF);
	pm->cnt &= ~PM1_CNT_SLP_EN;
}

static int acpi_pm_init(struct vmm *vmm)
{
	memset(&acpi_pm, 0, sizeof(acpi_pm));
	if (acpi_build(vmm))
		return -1;
	return vmm_register_io(VMM_PIO, ACPI_PM1A_EVT_PORT, PM_BLOCK_LEN,
			       acpi_pm_io, &acpi_pm);
}

static struct vmm_device acpi_pm_device = {
	.name = "acpi-pm",
	.init = acpi_pm_init,
};
VMM_DEVICE(acpi_pm_device)
