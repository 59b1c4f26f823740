// SPDX-License-Identifier: GPL-2.0
/*
 * mbkernel's CMOS clock check: status D says the time is valid, status B
 * says BCD (or binary) and 24-hour mode, the date's digits are valid, and
 * the year (century register 0x32) is 2024 or later. The date itself is
 * not printed: the output must not change from day to day.
 */
#include "mbkernel.h"

#define CMOS_INDEX	0x70
#define CMOS_DATA	0x71
#define RTC_UIP		0x80	/* status A: update in progress */
#define RTC_B_24H	0x02
#define RTC_B_BINARY	0x04

static uint8_t cmos(uint8_t index)
{
	outb(CMOS_INDEX, index);
	return inb(CMOS_DATA);
}

static bool bcd_ok(uint8_t v, uint8_t max)
{
	return (v & 0xf) <= 9 && (v >> 4) <= 9 && (v >> 4) * 10 + (v & 0xf) <= max;
}

static uint32_t value(uint8_t v, bool binary)
{
	return binary ? v : (v >> 4) * 10 + (v & 0xf);
}

void check_rtc(void)
{
	uint8_t b, day, month, year, century;
	uint32_t i;
	bool bin;

	for (i = 0; i < 1000000 && (cmos(0x0a) & RTC_UIP); i++)
		;
	b = cmos(0x0b);
	bin = b & RTC_B_BINARY;
	day = cmos(0x07);
	month = cmos(0x08);
	year = cmos(0x09);
	century = cmos(0x32);
	check(cmos(0x0d) & 0x80, FAIL_RTC, "CMOS status D: time not valid");
	check(b & RTC_B_24H, FAIL_RTC, "RTC not in 24-hour mode");
	check(bin || (bcd_ok(day, 31) && bcd_ok(month, 12) &&
		      bcd_ok(year, 99) && bcd_ok(century, 99)),
	      FAIL_RTC, "RTC date is not BCD");
	check(value(day, bin) >= 1 && value(month, bin) >= 1 &&
	      value(century, bin) * 100 + value(year, bin) >= 2024,
	      FAIL_RTC, "RTC date before 2024");
	put_str(bin ? "rtc: binary" : "rtc: BCD");
	put_str(" 24-hour date, 2024 or later\n");
}
