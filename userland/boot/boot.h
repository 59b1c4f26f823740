/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhmctl run --kernel: boot protocols, detected from the image. A protocol
 * turns the files and the RAM size into a plan (what goes where in guest
 * RAM, the entry state) before any VM exists, so that every error about the
 * image or the memory size comes first; boot_load() then carries the plan
 * out in the VM.
 */
#ifndef BOOT_H
#define BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm.h"

/* A file mapped read-only. */
struct boot_file {
	const char *path;
	const uint8_t *data;
	uint64_t size;
};

struct boot_args {
	struct boot_file kernel;
	struct boot_file initrd;	/* data NULL: none */
	const char *cmdline;		/* NULL: none */
	uint64_t ram_size;
	/*
	 * A Linux guest's TSC rate in kHz, appended to its command line as
	 * tsc_early_khz= unless already there (0: nothing appended).
	 */
	uint32_t linux_tsc_khz;
};

/* Copy len bytes from src to gpa, then zero zero bytes after them. */
struct boot_chunk {
	uint64_t gpa;
	const void *src;
	uint64_t len, zero;
};

#define BOOT_MAX_CHUNKS	32

struct boot_plan {
	struct boot_chunk chunk[BOOT_MAX_CHUNKS];
	unsigned int nr_chunks;
	uint8_t *info;			/* malloc'ed: the protocol's tables */
	/*
	 * The entry: 32-bit protected mode with EAX and EBX (multiboot), or
	 * with linux64 the Linux 64-bit entry, RSI = zero_page.
	 */
	uint64_t entry;
	uint32_t eax, ebx;
	bool linux64;
	uint64_t zero_page;
};

/* Map path; a message and -1 when it cannot be read. */
int boot_file_map(struct boot_file *f, const char *path);

/* Detect the image's protocol and plan; a message and -1 on errors. */
int boot_prepare(struct boot_plan *plan, const struct boot_args *args);
/* Copy the plan into the VM's RAM and set its vCPU's entry state. */
int boot_load(struct vmm *vmm, const struct boot_plan *plan);

/* Helpers for the protocols. */
int boot_add_chunk(struct boot_plan *plan, uint64_t gpa, const void *src,
		   uint64_t len, uint64_t zero);
/* "too little memory: needs X, --mem is Y" when end > ram_size. */
int boot_check_ram(const struct boot_args *args, uint64_t end);

/*
 * The protocols: 0 when the image is not theirs, 1 when it is and the plan
 * is made, -1 (with a message) when it is theirs but cannot be booted.
 */
int multiboot_prepare(struct boot_plan *plan, const struct boot_args *args);
int linux_prepare(struct boot_plan *plan, const struct boot_args *args);

#endif /* BOOT_H */
