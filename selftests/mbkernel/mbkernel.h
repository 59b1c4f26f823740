/* SPDX-License-Identifier: GPL-2.0 */
/* mbkernel's shared helpers: port I/O, the UART, checks and results. */
#ifndef MBKERNEL_H
#define MBKERNEL_H

#include <stdbool.h>
#include <stdint.h>

enum result {
	PASS = 0x10,
	FAIL_MAGIC = 0x21,	/* EAX is not 0x2BADB002 */
	FAIL_FW_CFG = 0x22,	/* no "QEMU" signature or ID without bit 0 */
	FAIL_CPUS = 0x23,	/* fw_cfg's CPU count is 0 */
	FAIL_BSS = 0x24,	/* bss not zeroed */
	FAIL_MEMORY = 0x25,	/* no or inconsistent mem_lower/mem_upper */
	FAIL_MMAP = 0x26,	/* no memory map, or it misses RAM */
	FAIL_CMDLINE = 0x27,	/* no command line */
	FAIL_MODULE = 0x28,	/* module missing, misplaced or wrong */
	FAIL_DATA = 0x29,	/* the data segment is not loaded */
	FAIL_PCI = 0x2a,	/* 0xcf8 does not read back */
	FAIL_ACPI = 0x2b,	/* no RSDP, a bad checksum, a table missing */
	FAIL_MADT = 0x2c,	/* CPUs or IOAPIC not as fw_cfg says */
	FAIL_PM = 0x2d,		/* the PM timer stands still, no SCI_EN */
	FAIL_RTC = 0x2e,	/* the CMOS date is not BCD or before 2024 */
	FAIL_END = 0x2f,	/* poweroff/reset/kbdreset did not end it */
};

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

void put_char(char c);
void put_str(const char *s);
void put_dec(uint32_t v);
void put_hex(uint32_t v);
void __attribute__((noreturn)) finish(uint32_t code);
/* Unless ok: print "mbkernel: FAIL what" and finish(code). */
void check(bool ok, enum result code, const char *what);
bool str_eq(const char *a, const char *b, uint32_t n);

/* acpi.c: the tables and PM registers; cpus is fw_cfg's CPU count. */
void check_acpi(uint16_t cpus);
/* End through ACPI S5, RESET_REG or the i8042 (how: poweroff, reset, kbdreset). */
void acpi_end(const char *how);
/* rtc.c: the CMOS clock holds a BCD date in 2024 or later. */
void check_rtc(void);

#endif /* MBKERNEL_H */
