// SPDX-License-Identifier: GPL-2.0
/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit
 * entry, as a boot loader without BIOS does it:
 *
 * - the image: a bzImage, "HdrS" at 0x202, protocol 2.12 or later with
 *   XLF_KERNEL_64 in xloadflags (the 64-bit entry point); older or 32-bit
 *   only kernels are refused. The setup code (setup_sects + 1 sectors, 4
 *   when setup_sects is 0) is not run: only its header is used. The
 *   protected-mode kernel (syssize 16-byte paragraphs after it) is loaded
 *   at pref_address (at least 1 MiB; rounded up to kernel_alignment when
 *   the kernel is relocatable), and RAM must hold init_size bytes from
 *   there: the room the kernel decompresses itself in.
 * - the zero page (struct boot_params) at LINUX_ZERO_PAGE: zeroed, the
 *   setup header copied from the image (0x1f1 up to the end its jump at
 *   0x200 says), then type_of_loader 0xff (undefined loader), loadflags
 *   with CAN_USE_HEAP (heap_end_ptr 0xde00) and without QUIET_FLAG and
 *   KEEP_SEGMENTS, vid_mode 0xffff, code32_start, cmd_line_ptr, the
 *   initrd and the e820 map: RAM 0 to 0x9fc00, reserved 0x9fc00 to 1 MiB
 *   (where a PC has its EBDA, VGA and BIOS; acpi.c's tables lie there),
 *   RAM 1 MiB to the end; acpi_rsdp_addr (protocol 2.14 and later).
 * - the command line, NUL-terminated, at LINUX_CMDLINE (at most
 *   cmdline_size bytes); empty without --cmdline.
 * - --initrd: page aligned, as high as possible below the end of RAM,
 *   initrd_addr_max and 4 GiB, and above the kernel's init_size.
 * - the machine: vmm_setup_linux64() (vmm.h): 64-bit mode, identity
 *   mapping, __BOOT_CS 0x10 and __BOOT_DS 0x18, IF clear, RSI = the zero
 *   page; RIP = the load address + 0x200, the 64-bit entry.
 */
#define _GNU_SOURCE	/* asprintf */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/bootparam.h>
#include <asm/e820.h>

#include "acpi.h"
#include "boot.h"

_Static_assert(sizeof(struct boot_params) == 4096, "zero page layout");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "setup header");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "RSDP");

#define LINUX_MAGIC		"HdrS"
#define LINUX_MIN_VERSION	0x020c	/* 2.12: xloadflags */
#define LINUX_RSDP_VERSION	0x020e	/* 2.14: acpi_rsdp_addr */
#define LINUX_ZERO_PAGE		0x7000
#define LINUX_CMDLINE		0x8000
#define LINUX_CMDLINE_MAX	(VMM_LINUX_PT - LINUX_CMDLINE)
#define LINUX_ENTRY64		0x200	/* from the load address */
#define LINUX_LOADER_UNDEF	0xff
#define LINUX_HEAP_END		0xde00
#define LINUX_VID_NORMAL	0xffff

#define LOW_RAM_END		0x9fc00
#define HIGH_START		(1ull << 20)
#define GiB4			(1ull << 32)
#define PAGE			4096ull

_Static_assert(VMM_LINUX_LOW_END <= VMM_LINUX_STACK &&
	       VMM_LINUX_STACK <= LOW_RAM_END, "low memory layout");

struct linux_layout {
	const struct boot_args *args;
	const char *path;
	uint64_t setup_size, kernel_size;
	uint64_t load, kernel_end;
	uint64_t initrd;
	char *cmdline;		/* what the guest gets (never freed: the plan's) */
	size_t cmdline_len;
};

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static int linux_error(const struct linux_layout *l, const char *what)
{
	fprintf(stderr, "vhmctl: %s: Linux: %s\n", l->path, what);
	return -1;
}

/* The header checks: protocol version, 64-bit entry, sizes. */
static int linux_check_image(struct linux_layout *l, struct setup_header *h)
{
	const struct boot_file *f = &l->args->kernel;
	uint64_t hdr_end = 0x202 + f->data[0x201];
	char msg[128];

	memset(h, 0, sizeof(*h));
	if (hdr_end > f->size)
		return linux_error(l, "the setup header is cut short");
	if (hdr_end > 0x1f1 + sizeof(*h))
		hdr_end = 0x1f1 + sizeof(*h);
	memcpy(h, f->data + 0x1f1, hdr_end - 0x1f1);
	if (h->version < LINUX_MIN_VERSION) {
		snprintf(msg, sizeof(msg),
			 "boot protocol %u.%02u is too old: the 64-bit entry needs 2.12 or later",
			 h->version >> 8, h->version & 0xff);
		return linux_error(l, msg);
	}
	if (!(h->xloadflags & XLF_KERNEL_64))
		return linux_error(l, "not a 64-bit kernel (xloadflags lacks XLF_KERNEL_64)");
	if (!(h->loadflags & LOADED_HIGH))
		return linux_error(l, "a zImage (loaded low) cannot be booted");
	l->setup_size = ((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	l->kernel_size = (uint64_t)h->syssize * 16;
	if (!h->syssize && f->size > l->setup_size)
		l->kernel_size = f->size - l->setup_size;
	if (l->setup_size > f->size || l->kernel_size > f->size - l->setup_size ||
	    !l->kernel_size)
		return linux_error(l, "the protected-mode kernel is cut short");
	if (h->relocatable_kernel &&
	    (!h->kernel_alignment ||
	     h->kernel_alignment & (h->kernel_alignment - 1)))
		return linux_error(l, "kernel_alignment is not a power of two");
	return 0;
}

/* Where the kernel goes and what it needs: pref_address, init_size. */
static int linux_place_kernel(struct linux_layout *l,
			      const struct setup_header *h)
{
	uint64_t load = h->pref_address, need;
	char msg[96];

	if (load < HIGH_START)
		load = HIGH_START;
	if (h->relocatable_kernel)
		load = align_up(load, h->kernel_alignment);
	need = h->init_size > l->kernel_size ? h->init_size : l->kernel_size;
	if (load >= GiB4 || need >= GiB4 || load + need > GiB4) {
		snprintf(msg, sizeof(msg),
			 "the kernel at %#llx would not lie below 4 GiB",
			 (unsigned long long)load);
		return linux_error(l, msg);
	}
	l->load = load;
	l->kernel_end = load + need;
	return boot_check_ram(l->args, l->kernel_end);
}

/* The initrd: highest page below RAM's end, initrd_addr_max and 4 GiB. */
static int linux_place_initrd(struct linux_layout *l,
			      const struct setup_header *h)
{
	uint64_t size = l->args->initrd.size, limit = l->args->ram_size;
	uint64_t low = align_up(l->kernel_end, PAGE);

	if (!l->args->initrd.data || !size)
		return 0;
	if (boot_check_ram(l->args, low + size))
		return -1;
	if (limit > (uint64_t)h->initrd_addr_max + 1)
		limit = (uint64_t)h->initrd_addr_max + 1;
	if (limit > GiB4)
		limit = GiB4;
	if (size > limit || ((limit - size) & ~(PAGE - 1)) < low) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "the initrd (%llu bytes) does not fit between the kernel and initrd_addr_max %#x",
			 (unsigned long long)size, h->initrd_addr_max);
		return linux_error(l, msg);
	}
	l->initrd = (limit - size) & ~(PAGE - 1);
	return 0;
}

/*
 * The command line the guest gets: --cmdline, and the TSC rate (an AMD
 * guest has no CPUID leaf for it, and calibration against the PIT fails
 * where port I/O is slow).
 */
static int linux_build_cmdline(struct linux_layout *l)
{
	const char *c = l->args->cmdline ? l->args->cmdline : "";
	uint32_t khz = l->args->linux_tsc_khz;

	if (!khz || strstr(c, "tsc_early_khz="))
		return asprintf(&l->cmdline, "%s", c) < 0 ? -1 : 0;
	return asprintf(&l->cmdline, "%s%stsc_early_khz=%u", c, *c ? " " : "",
			khz) < 0 ? -1 : 0;
}

static int linux_check_cmdline(struct linux_layout *l,
			       const struct setup_header *h)
{
	uint64_t max = h->cmdline_size;
	char msg[96];

	if (linux_build_cmdline(l))
		return linux_error(l, "out of memory");
	l->cmdline_len = strlen(l->cmdline);
	if (max > LINUX_CMDLINE_MAX - 1)
		max = LINUX_CMDLINE_MAX - 1;
	if (l->cmdline_len <= max)
		return 0;
	snprintf(msg, sizeof(msg),
		 "the command line is %zu bytes, the kernel takes at most %llu",
		 l->cmdline_len, (unsigned long long)max);
	return linux_error(l, msg);
}

static void linux_add_e820(struct boot_params *bp, uint64_t addr,
			   uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

/* The zero page: the image's header and what the boot loader fills in. */
static void linux_fill_zero_page(struct boot_params *bp,
				 const struct linux_layout *l,
				 const struct setup_header *h)
{
	uint64_t ram = l->args->ram_size;

	memset(bp, 0, sizeof(*bp));
	bp->hdr = *h;
	bp->hdr.type_of_loader = LINUX_LOADER_UNDEF;
	bp->hdr.loadflags = (h->loadflags | CAN_USE_HEAP) &
			    ~(QUIET_FLAG | KEEP_SEGMENTS);
	bp->hdr.heap_end_ptr = LINUX_HEAP_END;
	bp->hdr.vid_mode = LINUX_VID_NORMAL;
	bp->hdr.code32_start = l->load;
	bp->hdr.cmd_line_ptr = LINUX_CMDLINE;
	if (l->initrd) {
		bp->hdr.ramdisk_image = l->initrd;
		bp->hdr.ramdisk_size = l->args->initrd.size;
	}
	if (h->version >= LINUX_RSDP_VERSION)
		bp->acpi_rsdp_addr = ACPI_RSDP_ADDR;
	/* The kernel is above 16 MiB, so RAM reaches past 1 MiB. */
	linux_add_e820(bp, 0, LOW_RAM_END, E820_RAM);
	linux_add_e820(bp, LOW_RAM_END, HIGH_START - LOW_RAM_END, E820_RESERVED);
	linux_add_e820(bp, HIGH_START, ram - HIGH_START, E820_RAM);
}

static int linux_plan(struct boot_plan *plan, const struct linux_layout *l,
		      const struct setup_header *h)
{
	const struct boot_args *a = l->args;

	plan->info = calloc(1, sizeof(struct boot_params));
	if (!plan->info)
		return linux_error(l, "out of memory");
	linux_fill_zero_page((struct boot_params *)plan->info, l, h);
	if (boot_add_chunk(plan, l->load, a->kernel.data + l->setup_size,
			   l->kernel_size, 0) ||
	    boot_add_chunk(plan, LINUX_ZERO_PAGE, plan->info,
			   sizeof(struct boot_params), 0) ||
	    boot_add_chunk(plan, LINUX_CMDLINE, l->cmdline, l->cmdline_len, 1))
		return -1;
	if (l->initrd &&
	    boot_add_chunk(plan, l->initrd, a->initrd.data, a->initrd.size, 0))
		return -1;
	plan->linux64 = true;
	plan->entry = l->load + LINUX_ENTRY64;
	plan->zero_page = LINUX_ZERO_PAGE;
	return 0;
}

int linux_prepare(struct boot_plan *plan, const struct boot_args *args)
{
	struct linux_layout l = { .args = args, .path = args->kernel.path };
	const struct boot_file *f = &args->kernel;
	struct setup_header h;

	if (f->size < 0x206 || memcmp(f->data + 0x202, LINUX_MAGIC, 4))
		return 0;
	if (linux_check_image(&l, &h) || linux_check_cmdline(&l, &h) ||
	    linux_place_kernel(&l, &h) || linux_place_initrd(&l, &h) ||
	    linux_plan(plan, &l, &h))
		return -1;
	return 1;
}
