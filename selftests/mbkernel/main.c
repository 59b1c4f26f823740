// SPDX-License-Identifier: GPL-2.0
/*
 * mbkernel: a multiboot v1 test kernel for vhmctl (and for QEMU's
 * -kernel, the reference). It prints on COM1, reads fw_cfg, checks what
 * the boot loader promised and writes a result code to the debug-exit port
 * 0xf4: 0x10 when every check passed (vhmctl's exit status 33), otherwise
 * the failed check's code below (status code * 2 + 1).
 *
 * The command line (after the kernel's file name) may say module=TEXT:
 * then module 0 must hold exactly the bytes TEXT, page aligned above the
 * kernel. It also checks the ACPI tables and PM registers (acpi.c) and
 * the CMOS clock (rtc.c). When every check passed, the command-line words
 * poweroff (ACPI S5 through PM1a_CNT), reset (the FADT's RESET_REG) and
 * kbdreset (i8042 command 0xfe) end it that way instead of 0x10 on the
 * debug-exit port; FAIL_END if the machine goes on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbkernel.h"

#define MB_BOOT_MAGIC	0x2badb002

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table;
	uint32_t boot_loader_name, apm_table;
};

struct mb_module {
	uint32_t mod_start, mod_end, string, reserved;
};

struct mb_mmap {
	uint32_t size;
	uint64_t base, len;
	uint32_t type;
} __attribute__((packed));

extern char _end[];
/* volatile: never written, but the compiler must not assume them. */
static volatile uint8_t untouched[1024];	/* bss: must be zero */
static volatile uint32_t loaded = 0x5a5a1234;	/* data: must be loaded */

/* gcc may call these even in freestanding code. */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;

	while (n--)
		*p++ = c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

void put_char(char c)
{
	while (!(inb(0x3fd) & 0x20))	/* LSR.THRE */
		;
	outb(0x3f8, c);
}

void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

void put_dec(uint32_t v)
{
	char buf[12];
	int i = 0;

	do {
		buf[i++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (i)
		put_char(buf[--i]);
}

void put_hex(uint32_t v)
{
	int i;

	put_str("0x");
	for (i = 28; i >= 0; i -= 4)
		put_char("0123456789abcdef"[(v >> i) & 0xf]);
}

void __attribute__((noreturn)) finish(uint32_t code)
{
	outl(0xf4, code);	/* a 32-bit write: vhmctl takes any size */
	for (;;)
		asm volatile("cli; hlt");
}

void check(bool ok, enum result code, const char *what)
{
	if (ok)
		return;
	put_str("mbkernel: FAIL ");
	put_str(what);
	put_str("\n");
	finish(code);
}

/* PCI configuration mechanism #1: what answers at 00:00.0. */
static void check_pci(void)
{
	uint32_t id;

	outl(0xcf8, 0x80000000);
	check(inl(0xcf8) == 0x80000000, FAIL_PCI, "0xcf8 does not read back");
	id = inl(0xcfc);
	put_str("pci: 00:00.0 ");
	if (id == 0xffffffff) {
		put_str("absent\n");
		return;
	}
	put_str("is ");
	put_hex(id);
	put_str("\n");
}

static void fw_cfg_read(uint16_t key, void *buf, unsigned int len)
{
	uint8_t *p = buf;

	outw(0x510, key);
	while (len--)
		*p++ = inb(0x511);
}

bool str_eq(const char *a, const char *b, uint32_t n)
{
	while (n--)
		if (*a++ != *b++)
			return false;
	return true;
}

/* The value of word key= in the command line (its length in *len). */
static const char *cmdline_value(const char *s, const char *key,
				 uint32_t *len)
{
	uint32_t klen = 0, n;

	while (key[klen])
		klen++;
	while (*s) {
		for (n = 0; s[n] && s[n] != ' '; n++)
			;
		if (n > klen && str_eq(s, key, klen)) {
			*len = n - klen;
			return s + klen;
		}
		s += n;
		while (*s == ' ')
			s++;
	}
	return NULL;
}

static uint64_t check_fw_cfg(uint16_t *nr_cpus)
{
	uint8_t sig[4];
	uint32_t id;
	uint16_t cpus;
	uint64_t ram;

	fw_cfg_read(0x0000, sig, 4);
	fw_cfg_read(0x0001, &id, 4);
	fw_cfg_read(0x0005, &cpus, 2);
	fw_cfg_read(0x0003, &ram, 8);
	check(str_eq((char *)sig, "QEMU", 4) && (id & 1), FAIL_FW_CFG,
	      "fw_cfg signature or ID");
	check(cpus, FAIL_CPUS, "fw_cfg CPU count is 0");
	put_str("fw_cfg: QEMU, ");
	put_dec(cpus);
	put_str(cpus == 1 ? " CPU, " : " CPUs, ");
	put_dec(ram >> 10);
	put_str(" KiB RAM\n");
	*nr_cpus = cpus;
	return ram;
}

/* The map has RAM at 0-600K and 1M-(end - 1M), and none beyond the end. */
static void check_mmap(const struct mb_info *mbi, uint64_t ram)
{
	uint32_t at = mbi->mmap_addr, end = at + mbi->mmap_length, n = 0;
	bool low = false, high = ram <= (1 << 20);
	const struct mb_mmap *m;

	check(mbi->flags & (1 << 6), FAIL_MMAP, "no memory map");
	for (; at < end; at += m->size + 4, n++) {
		m = (const struct mb_mmap *)at;
		if (m->type != 1)
			continue;
		check(m->base + m->len <= ram, FAIL_MMAP, "memory map: RAM beyond the end");
		if (m->base == 0 && m->len >= (600 << 10))
			low = true;
		if (m->base <= (1 << 20) && m->base + m->len + (1 << 20) > ram)
			high = true;
	}
	check(low && high, FAIL_MMAP, "memory map misses RAM");
	put_str("memory map: ");
	put_dec(n);
	put_str(" entries, RAM at 0 and 1 MiB to the end\n");
}

static void check_module(const struct mb_info *mbi, const char *cmdline)
{
	const struct mb_module *mod = (const struct mb_module *)mbi->mods_addr;
	uint32_t want_len = 0;
	const char *want = cmdline_value(cmdline, "module=", &want_len);

	if (!want) {
		put_str("module: none expected, ");
		put_dec(mbi->flags & (1 << 3) ? mbi->mods_count : 0);
		put_str(" given\n");
		return;
	}
	check((mbi->flags & (1 << 3)) && mbi->mods_count >= 1, FAIL_MODULE,
	      "no module");
	check(!(mod->mod_start & 0xfff) && mod->mod_start >= (uint32_t)_end,
	      FAIL_MODULE, "module not page aligned above the kernel");
	check(mod->mod_end - mod->mod_start == want_len &&
	      str_eq((const char *)mod->mod_start, want, want_len),
	      FAIL_MODULE, "module bytes differ from the command line's");
	put_str("module: ");
	put_dec(want_len);
	put_str(" bytes as expected, page aligned above the kernel\n");
}

/* The words poweroff, reset, kbdreset: end that way (acpi_end). */
static void end_by_cmdline(const char *s)
{
	static const char *const ways[] = { "poweroff", "reset", "kbdreset" };
	uint32_t n, w, len;

	for (; *s; s += n) {
		while (*s == ' ')
			s++;
		for (n = 0; s[n] && s[n] != ' '; n++)
			;
		for (w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
			for (len = 0; ways[w][len]; len++)
				;
			if (n == len && str_eq(s, ways[w], len))
				acpi_end(ways[w]);
		}
	}
}

void __attribute__((noreturn)) mb_main(uint32_t magic, const struct mb_info *mbi);

void mb_main(uint32_t magic, const struct mb_info *mbi)
{
	uint64_t ram, upper_end;
	const char *cmdline;
	unsigned int i;
	uint16_t cpus;

	put_str("mbkernel: hello from 32-bit protected mode\n");
	if (magic != MB_BOOT_MAGIC) {
		put_str("mbkernel: EAX is ");
		put_hex(magic);
		put_str("\n");
		check(false, FAIL_MAGIC, "multiboot magic");
	}
	ram = check_fw_cfg(&cpus);
	check_pci();
	check_acpi(cpus);
	check_rtc();
	for (i = 0; i < sizeof(untouched); i++)
		check(!untouched[i], FAIL_BSS, "bss not zero");
	check(loaded == 0x5a5a1234, FAIL_DATA, "data not loaded");
	check(mbi->flags & 1, FAIL_MEMORY, "no mem_lower/mem_upper");
	put_str("memory: lower ");
	put_dec(mbi->mem_lower);
	put_str(" KiB, upper ");
	put_dec(mbi->mem_upper);
	put_str(" KiB\n");
	/*
	 * Firmware may keep a little at the top of low memory (QEMU's BIOS
	 * says 639 KiB) and of RAM (QEMU's ACPI tables): vhmctl has neither,
	 * which vhmctl_test.sh sees in the output.
	 */
	upper_end = ((uint64_t)mbi->mem_upper + 1024) << 10;
	check(mbi->mem_lower >= 600 && mbi->mem_lower <= 640 &&
	      upper_end <= ram && upper_end + (1 << 20) > ram,
	      FAIL_MEMORY, "mem_lower/mem_upper disagree with fw_cfg");
	check_mmap(mbi, ram);
	check(mbi->flags & (1 << 2), FAIL_CMDLINE, "no command line");
	cmdline = (const char *)mbi->cmdline;
	while (*cmdline && *cmdline != ' ')	/* the kernel's file name */
		cmdline++;
	while (*cmdline == ' ')
		cmdline++;
	put_str("cmdline: ");
	put_str(*cmdline ? cmdline : "(empty)");
	put_str("\n");
	check_module(mbi, cmdline);
	if (mbi->flags & (1 << 9)) {
		put_str("loader: ");
		put_str((const char *)mbi->boot_loader_name);
		put_str("\n");
	}
	put_str("mbkernel: all checks passed\n");
	end_by_cmdline(cmdline);
	finish(PASS);
}
