// SPDX-License-Identifier: GPL-2.0
/*
 * Multiboot v1 (the Multiboot Specification 0.6.96), as GRUB does it:
 *
 * - the header: magic 0x1BADB002, flags, checksum (the three sum to 0),
 *   4-byte aligned in the image's first 8192 bytes. Flags 0 (page-align
 *   modules: always done), 1 (memory information: always given), 2 (video
 *   mode: accepted, no video information is given, the guest has no
 *   display) and 16 (the a.out kludge) are understood; any other bit of
 *   0-15 is a requirement we cannot meet, so an error.
 * - the image: with flag 16, the header's load_addr/load_end_addr/
 *   bss_end_addr/entry_addr say what to load where; otherwise an ELF32 or
 *   ELF64 executable whose PT_LOAD segments go to their physical addresses
 *   (bss zeroed). An entry point inside a segment's virtual range is moved
 *   to its physical address (higher-half kernels). Everything, the entry
 *   included, must lie below 4 GiB: the kernel is entered in 32-bit mode.
 * - the machine: 32-bit protected mode, flat 4 GiB code and data segments,
 *   paging off, EFLAGS.IF clear, EAX = 0x2BADB002, EBX = the info's
 *   physical address. The GDT register is not meaningful (the kernel loads
 *   its own GDT before loading segment registers); ESP is undefined.
 * - above the kernel, page aligned: the module (--initrd), then one page
 *   or more of boot information: the info structure with memory sizes
 *   (lower 640 KiB, upper from 1 MiB to the end of RAM), the command line
 *   (the kernel's file name, then --cmdline's text after a space, like GRUB
 *   and QEMU), the module list (the module's string is its file name),
 *   the memory map (RAM 0-640K and 1M-end, 640K-1M reserved) and the boot
 *   loader's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"

#define MB_MAGIC		0x1badb002
#define MB_BOOT_MAGIC		0x2badb002
#define MB_SEARCH		8192
#define MB_FLAG_PAGE_ALIGN	(1u << 0)
#define MB_FLAG_MEMORY		(1u << 1)
#define MB_FLAG_VIDEO		(1u << 2)
#define MB_FLAG_AOUT		(1u << 16)
#define MB_FLAGS_KNOWN		(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY | \
				 MB_FLAG_VIDEO)

/* The info structure's flags: which fields are valid. */
#define MBI_MEMORY		(1u << 0)
#define MBI_CMDLINE		(1u << 2)
#define MBI_MODS		(1u << 3)
#define MBI_MMAP		(1u << 6)
#define MBI_LOADER_NAME		(1u << 9)

#define LOW_END			(640u << 10)
#define HIGH_START		(1u << 20)
#define GiB4			(1ull << 32)
#define PAGE			4096ull

struct mb_header {
	uint32_t magic, flags, checksum;
	/* With MB_FLAG_AOUT: */
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr;
	uint32_t entry_addr;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table;
	uint32_t boot_loader_name, apm_table;
	uint8_t vbe_and_framebuffer[44];	/* not given: flags 11, 12 */
};
_Static_assert(sizeof(struct mb_info) == 116, "multiboot info layout");

struct mb_module {
	uint32_t mod_start, mod_end, string, reserved;
};

struct mb_mmap {
	uint32_t size;		/* of the rest: 20 */
	uint64_t base, len;
	uint32_t type;
} __attribute__((packed));

#define MB_RAM		1
#define MB_RESERVED	2

/* What is loaded where: the kernel's pieces, then the module and info. */
struct mb_layout {
	const struct boot_args *args;
	const char *path;
	uint64_t kernel_end;
	uint32_t entry;
};

static uint64_t align_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

static int mb_error(const struct mb_layout *l, const char *what)
{
	fprintf(stderr, "vhmctl: %s: multiboot: %s\n", l->path, what);
	return -1;
}

/* Find a valid header; its offset in the file, or -1. */
static long mb_find_header(const struct boot_file *f, struct mb_header *h)
{
	uint64_t end = f->size < MB_SEARCH ? f->size : MB_SEARCH;
	uint64_t off;

	for (off = 0; off + 12 <= end; off += 4) {
		memset(h, 0, sizeof(*h));
		memcpy(h, f->data + off, 12);
		if (h->magic != MB_MAGIC ||
		    (uint32_t)(h->magic + h->flags + h->checksum))
			continue;
		memcpy(h, f->data + off,
		       f->size - off < sizeof(*h) ? f->size - off : sizeof(*h));
		return off;
	}
	return -1;
}

/* A piece of the kernel: len bytes of the file at off, zero bytes after. */
static int mb_add_piece(struct boot_plan *plan, struct mb_layout *l,
			uint64_t gpa, uint64_t off, uint64_t len,
			uint64_t zero)
{
	const struct boot_file *f = &l->args->kernel;
	uint64_t end;

	if (off > f->size || len > f->size - off)
		return mb_error(l, "a segment lies beyond the end of the file");
	end = gpa + len + zero;		/* no overflow when all are < 4 GiB */
	if (gpa >= GiB4 || len >= GiB4 || zero >= GiB4 || end > GiB4) {
		char msg[80];

		snprintf(msg, sizeof(msg), "a segment at %#llx crosses 4 GiB",
			 (unsigned long long)gpa);
		return mb_error(l, msg);
	}
	if (end > l->kernel_end)
		l->kernel_end = end;
	return boot_add_chunk(plan, gpa, f->data + off, len, zero);
}

static int mb_load_aout(struct boot_plan *plan, struct mb_layout *l,
			const struct mb_header *h, uint64_t hdr_off)
{
	uint64_t size = l->args->kernel.size, off, len, bss = 0;

	if (hdr_off + sizeof(*h) > size)
		return mb_error(l, "the a.out kludge header is cut short");
	if (h->load_addr > h->header_addr ||
	    h->header_addr - h->load_addr > hdr_off)
		return mb_error(l, "load_addr does not fit header_addr");
	off = hdr_off - (h->header_addr - h->load_addr);
	if (!h->load_end_addr)
		len = size - off;
	else if (h->load_end_addr < h->load_addr)
		return mb_error(l, "load_end_addr is below load_addr");
	else
		len = h->load_end_addr - h->load_addr;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + len)
			return mb_error(l, "bss_end_addr is below the loaded image");
		bss = h->bss_end_addr - (h->load_addr + len);
	}
	l->entry = h->entry_addr;
	return mb_add_piece(plan, l, h->load_addr, off, len, bss);
}

/* ELF32 and ELF64 program headers, in one shape. */
struct mb_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

#define PT_LOAD		1

static void mb_phdr_read(const uint8_t *p, bool elf64, struct mb_phdr *ph)
{
	uint32_t v32[8];
	uint64_t v64[7];

	if (elf64) {	/* type, flags, offset, vaddr, paddr, filesz, memsz */
		memcpy(&ph->type, p, 4);
		memcpy(v64, p + 8, 5 * 8);
		ph->offset = v64[0];
		ph->vaddr = v64[1];
		ph->paddr = v64[2];
		ph->filesz = v64[3];
		ph->memsz = v64[4];
	} else {	/* type, offset, vaddr, paddr, filesz, memsz, ... */
		memcpy(v32, p, 6 * 4);
		ph->type = v32[0];
		ph->offset = v32[1];
		ph->vaddr = v32[2];
		ph->paddr = v32[3];
		ph->filesz = v32[4];
		ph->memsz = v32[5];
	}
}

static int mb_load_elf(struct boot_plan *plan, struct mb_layout *l)
{
	const struct boot_file *f = &l->args->kernel;
	const uint8_t *e = f->data;
	uint64_t entry = 0, phoff = 0, phys_entry;
	uint16_t machine, type, phentsize = 0, phnum = 0, i;
	bool elf64, translated = false;
	struct mb_phdr ph;
	char msg[96];

	if (f->size < 64 || memcmp(e, "\177ELF", 4))
		return mb_error(l, "neither ELF nor the a.out kludge (header flag 16)");
	elf64 = e[4] == 2;
	if ((e[4] != 1 && e[4] != 2) || e[5] != 1)
		return mb_error(l, "not a little-endian ELF32 or ELF64 file");
	memcpy(&type, e + 16, 2);
	memcpy(&machine, e + 18, 2);
	if ((type != 2 && type != 3) || (machine != 3 && machine != 62))
		return mb_error(l, "not an x86 ELF executable");
	if (elf64) {
		memcpy(&entry, e + 24, 8);
		memcpy(&phoff, e + 32, 8);
		memcpy(&phentsize, e + 54, 2);
		memcpy(&phnum, e + 56, 2);
	} else {
		memcpy(&entry, e + 24, 4);
		memcpy(&phoff, e + 28, 4);
		memcpy(&phentsize, e + 42, 2);
		memcpy(&phnum, e + 44, 2);
	}
	if (phentsize < (elf64 ? 56 : 32) || phoff > f->size ||
	    (uint64_t)phnum * phentsize > f->size - phoff)
		return mb_error(l, "bad ELF program headers");
	phys_entry = entry;
	for (i = 0; i < phnum; i++) {
		mb_phdr_read(e + phoff + (uint64_t)i * phentsize, elf64, &ph);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		if (ph.filesz > ph.memsz)
			return mb_error(l, "a segment's file size exceeds its memory size");
		if (mb_add_piece(plan, l, ph.paddr, ph.offset, ph.filesz,
				 ph.memsz - ph.filesz))
			return -1;
		if (!translated && entry >= ph.vaddr &&
		    entry - ph.vaddr < ph.memsz) {
			phys_entry = entry - ph.vaddr + ph.paddr;
			translated = true;
		}
	}
	if (!plan->nr_chunks)
		return mb_error(l, "no loadable ELF segment");
	if (phys_entry >= GiB4) {
		snprintf(msg, sizeof(msg),
			 "entry point %#llx is not below 4 GiB (the kernel starts in 32-bit mode)",
			 (unsigned long long)phys_entry);
		return mb_error(l, msg);
	}
	l->entry = phys_entry;
	return 0;
}

/* The boot information, at info (guest-physical), in plan->info. */
struct mb_info_layout {
	uint64_t info, mmap, mods, cmdline, mod_string, loader_name, end;
};

static const char mb_loader_name[] = "vhmctl";

static void mb_plan_info(struct mb_info_layout *il, uint64_t base,
			 const struct boot_args *a, size_t cmdline_len)
{
	il->info = base;
	il->mmap = il->info + 128;
	il->mods = il->mmap + 3 * sizeof(struct mb_mmap);
	il->cmdline = il->mods + sizeof(struct mb_module);
	il->mod_string = il->cmdline + cmdline_len + 1;
	il->loader_name = il->mod_string +
			  (a->initrd.data ? strlen(a->initrd.path) + 1 : 0);
	il->end = il->loader_name + sizeof(mb_loader_name);
}

static void mb_put_mmap(uint8_t *p, uint64_t base, uint64_t len, uint32_t type)
{
	struct mb_mmap m = { .size = 20, .base = base, .len = len, .type = type };

	memcpy(p, &m, sizeof(m));
}

/* The memory map: what of 0-640K, 640K-1M, 1M-end there is. */
static uint32_t mb_fill_mmap(uint8_t *p, uint64_t ram)
{
	uint32_t n = 0;

	mb_put_mmap(p, 0, ram < LOW_END ? ram : LOW_END, MB_RAM);
	n++;
	if (ram > LOW_END)
		mb_put_mmap(p + n++ * sizeof(struct mb_mmap), LOW_END,
			    HIGH_START - LOW_END, MB_RESERVED);
	if (ram > HIGH_START)
		mb_put_mmap(p + n++ * sizeof(struct mb_mmap), HIGH_START,
			    ram - HIGH_START, MB_RAM);
	return n * sizeof(struct mb_mmap);
}

static void mb_fill_info(uint8_t *buf, const struct mb_info_layout *il,
			 const struct boot_args *a, const char *cmdline,
			 const struct mb_module *mod)
{
	struct mb_info info = { 0 };
	uint64_t ram = a->ram_size, upper;
	uint8_t *at = buf - il->info;	/* at + gpa: where gpa's bytes go */

	upper = ram > HIGH_START ? (ram - HIGH_START) >> 10 : 0;
	info.flags = MBI_MEMORY | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
	info.mem_lower = (ram < LOW_END ? ram : LOW_END) >> 10;
	info.mem_upper = upper > UINT32_MAX ? UINT32_MAX : upper;
	info.cmdline = il->cmdline;
	strcpy((char *)at + il->cmdline, cmdline);
	info.mmap_addr = il->mmap;
	info.mmap_length = mb_fill_mmap(at + il->mmap, ram);
	info.boot_loader_name = il->loader_name;
	memcpy(at + il->loader_name, mb_loader_name, sizeof(mb_loader_name));
	if (mod) {
		struct mb_module m = *mod;

		m.string = il->mod_string;
		info.flags |= MBI_MODS;
		info.mods_count = 1;
		info.mods_addr = il->mods;
		memcpy(at + il->mods, &m, sizeof(m));
		strcpy((char *)at + il->mod_string, a->initrd.path);
	}
	memcpy(buf, &info, sizeof(info));
}

/* The module and the boot information above the kernel. */
static int mb_plan_rest(struct boot_plan *plan, const struct mb_layout *l)
{
	const struct boot_args *a = l->args;
	struct mb_module mod = { 0 };
	struct mb_info_layout il;
	uint64_t top = align_up(l->kernel_end);
	char *cmdline;
	size_t len;

	if (a->initrd.data) {
		mod.mod_start = top;	/* checked below */
		mod.mod_end = top + a->initrd.size;
		top = align_up(top + a->initrd.size);
	}
	len = strlen(l->path) + (a->cmdline ? 1 + strlen(a->cmdline) : 0);
	cmdline = malloc(len + 1);
	if (!cmdline)
		return mb_error(l, "out of memory");
	snprintf(cmdline, len + 1, "%s%s%s", l->path, a->cmdline ? " " : "",
		 a->cmdline ? a->cmdline : "");
	mb_plan_info(&il, top, a, len);
	if (boot_check_ram(a, il.end))
		return -1;
	if (il.end > GiB4)
		return mb_error(l, "the modules and boot information would lie above 4 GiB");
	plan->info = calloc(1, il.end - il.info);
	if (!plan->info)
		return mb_error(l, "out of memory");
	mb_fill_info(plan->info, &il, a, cmdline, a->initrd.data ? &mod : NULL);
	free(cmdline);
	if (a->initrd.data &&
	    boot_add_chunk(plan, mod.mod_start, a->initrd.data,
			   a->initrd.size, 0))
		return -1;
	plan->eax = MB_BOOT_MAGIC;
	plan->ebx = il.info;
	plan->entry = l->entry;
	return boot_add_chunk(plan, il.info, plan->info, il.end - il.info, 0);
}

int multiboot_prepare(struct boot_plan *plan, const struct boot_args *args)
{
	struct mb_layout l = { .args = args, .path = args->kernel.path };
	struct mb_header h;
	long off = mb_find_header(&args->kernel, &h);
	char msg[96];

	if (off < 0)
		return 0;
	if (h.flags & 0xffff & ~MB_FLAGS_KNOWN) {
		snprintf(msg, sizeof(msg),
			 "the header requires features vhmctl lacks (flags %#x)",
			 h.flags & 0xffff & ~MB_FLAGS_KNOWN);
		return mb_error(&l, msg);
	}
	if (h.flags & MB_FLAG_AOUT ? mb_load_aout(plan, &l, &h, off) :
				     mb_load_elf(plan, &l))
		return -1;
	return mb_plan_rest(plan, &l) ? -1 : 1;
}
