// SPDX-License-Identifier: GPL-2.0
/*
 * The MC146818 CMOS RTC of a PC: ports 0x70 (index; bit 7, the NMI mask,
 * is ignored; reads as all ones) and 0x71 (data), 128 bytes of CMOS.
 *
 * - Time and date (0x00 seconds, 0x02 minutes, 0x04 hours, 0x06 day of
 *   the week 1-7 from Sunday, 0x07 day, 0x08 month, 0x09 year, 0x32
 *   century) are the host's UTC clock at the moment of the read, in BCD,
 *   24-hour mode. Writes to them are ignored: the guest cannot set the
 *   clock (no offset is kept).
 * - Status A = 0x26 (32.768 kHz, 1024 Hz rate; UIP never set), B = 0x02
 *   (24-hour, BCD, no interrupts enabled), C = 0 (no flags), D = 0x80
 *   (battery good); all four read-only.
 * - Everything else (the alarms included) is plain RAM, zero at start.
 *
 * No interrupt: IRQ 8 is never raised (periodic, alarm and update-ended
 * interrupts are not emulated; B's enable bits cannot be set).
 */
#include <string.h>
#include <time.h>

#include "boot/acpi.h"

#define RTC_INDEX_PORT	0x70
#define RTC_DATA_PORT	0x71
#define RTC_INDEX_MASK	0x7f
#define CMOS_SIZE	128

#define RTC_SECONDS	0x00
#define RTC_MINUTES	0x02
#define RTC_HOURS	0x04
#define RTC_WEEKDAY	0x06
#define RTC_DAY		0x07
#define RTC_MONTH	0x08
#define RTC_YEAR	0x09
#define RTC_STATUS_A	0x0a
#define RTC_STATUS_B	0x0b
#define RTC_STATUS_C	0x0c
#define RTC_STATUS_D	0x0d
#define RTC_CENTURY	ACPI_CMOS_CENTURY

#define RTC_A_VALUE	0x26	/* 32.768 kHz divider, 1024 Hz rate */
#define RTC_B_VALUE	0x02	/* 24-hour mode, BCD */
#define RTC_D_VALUE	0x80	/* valid RAM and time */

struct rtc {
	uint8_t index;
	uint8_t cmos[CMOS_SIZE];
};

static struct rtc rtc;

static uint8_t bcd(unsigned int v)
{
	return (v / 10) << 4 | v % 10;
}

/* The register's value if it is the clock's or a status, else -1. */
static int rtc_clock_reg(uint8_t index)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (index) {
	case RTC_SECONDS:	return bcd(tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case RTC_MINUTES:	return bcd(tm.tm_min);
	case RTC_HOURS:		return bcd(tm.tm_hour);
	case RTC_WEEKDAY:	return bcd(tm.tm_wday + 1);
	case RTC_DAY:		return bcd(tm.tm_mday);
	case RTC_MONTH:		return bcd(tm.tm_mon + 1);
	case RTC_YEAR:		return bcd((tm.tm_year + 1900) % 100);
	case RTC_CENTURY:	return bcd((tm.tm_year + 1900) / 100);
	case RTC_STATUS_A:	return RTC_A_VALUE;
	case RTC_STATUS_B:	return RTC_B_VALUE;
	case RTC_STATUS_C:	return 0;
	case RTC_STATUS_D:	return RTC_D_VALUE;
	}
	return -1;
}

static void rtc_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		   bool is_write, void *opaque)
{
	struct rtc *r = opaque;
	uint8_t *p = data;
	int v;

	(void)vmm;
	if (port == RTC_INDEX_PORT) {
		if (is_write)
			r->index = *p & RTC_INDEX_MASK;
		else
			memset(data, 0xff, len);
		return;
	}
	v = rtc_clock_reg(r->index);
	if (is_write) {
		if (v < 0)
			r->cmos[r->index] = *p;
		return;
	}
	memset(data, 0xff, len);
	*p = v < 0 ? r->cmos[r->index] : v;
}

static int rtc_init(struct vmm *vmm)
{
	(void)vmm;
	memset(&rtc, 0, sizeof(rtc));
	return vmm_register_io(VMM_PIO, RTC_INDEX_PORT, 2, rtc_io, &rtc);
}

static struct vmm_device rtc_device = { .name = "rtc", .init = rtc_init };
VMM_DEVICE(rtc_device)
