// SPDX-License-Identifier: GPL-2.0
/*
 * Boot protocol detection and the protocol-independent half of booting a
 * kernel image (boot.h). Detection, in order: a multiboot v1 header; a
 * Linux bzImage ("HdrS" at 0x202, linux.c); anything else is an
 * error ("unknown image format"), flat binaries being --load's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "boot.h"

int boot_file_map(struct boot_file *f, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	f->path = path;
	f->data = NULL;
	f->size = 0;
	if (fd < 0 || fstat(fd, &st))
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	f->size = st.st_size;
	if (f->size) {
		f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (f->data == MAP_FAILED) {
			f->data = NULL;
			goto fail;
		}
	} else {
		f->data = (const uint8_t *)"";	/* mapped, and empty */
	}
	close(fd);
	return 0;
fail:
	fprintf(stderr, "vhmctl: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int boot_add_chunk(struct boot_plan *plan, uint64_t gpa, const void *src,
		   uint64_t len, uint64_t zero)
{
	if (plan->nr_chunks == BOOT_MAX_CHUNKS) {
		fprintf(stderr, "vhmctl: the image has more than %d pieces to load\n",
			BOOT_MAX_CHUNKS - 2);
		return -1;
	}
	plan->chunk[plan->nr_chunks++] = (struct boot_chunk){ gpa, src, len, zero };
	return 0;
}

/* "16M", "1G", "640K": how --mem is written. */
static const char *size_str(uint64_t v, char *buf, size_t len)
{
	if (v && !(v & ((1ull << 30) - 1)))
		snprintf(buf, len, "%lluG", (unsigned long long)(v >> 30));
	else if (v && !(v & ((1ull << 20) - 1)))
		snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)((v + 1023) >> 10));
	return buf;
}

int boot_check_ram(const struct boot_args *args, uint64_t end)
{
	char need[32], have[32];
	uint64_t mib = 1ull << 20;

	if (end <= args->ram_size)
		return 0;
	/* In whole MiB: the smallest --mem that is enough. */
	end = end > UINT64_MAX - mib ? end : (end + mib - 1) & ~(mib - 1);
	fprintf(stderr, "vhmctl: too little memory: needs %s, --mem is %s\n",
		size_str(end, need, sizeof(need)),
		size_str(args->ram_size, have, sizeof(have)));
	return -1;
}

int boot_prepare(struct boot_plan *plan, const struct boot_args *args)
{
	int rc;

	memset(plan, 0, sizeof(*plan));
	rc = multiboot_prepare(plan, args);
	if (!rc)
		rc = linux_prepare(plan, args);
	if (rc)
		return rc < 0 ? -1 : 0;
	fprintf(stderr, "vhmctl: %s: unknown image format (neither multiboot nor a Linux bzImage; boot flat binaries with --load)\n",
		args->kernel.path);
	return -1;
}

int boot_load(struct vmm *vmm, const struct boot_plan *plan)
{
	const struct boot_chunk *c;
	unsigned int i;

	for (i = 0; i < plan->nr_chunks; i++) {
		c = &plan->chunk[i];
		/* boot_prepare() checked that every chunk fits. */
		memcpy(vmm->ram + c->gpa, c->src, c->len);
		memset(vmm->ram + c->gpa + c->len, 0, c->zero);
	}
	if (plan->linux64)
		return vmm_setup_linux64(vmm, plan->entry, plan->zero_page);
	return vmm_setup_protected(vmm, plan->entry, plan->eax, plan->ebx);
}
