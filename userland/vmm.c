// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "libvhm.h"
#include "vmm.h"

#define VMM_MAX_IO	32

struct vmm_io {
	enum vmm_space space;
	uint64_t start, len;
	vmm_io_fn fn;
	void *opaque;
};

static struct vmm_io ios[VMM_MAX_IO];
static int nr_ios;
static struct vmm_device *devices;

void vmm_device_add(struct vmm_device *dev)
{
	dev->next = devices;
	devices = dev;
}

int vmm_register_io(enum vmm_space space, uint64_t start, uint64_t len,
		    vmm_io_fn fn, void *opaque)
{
	if (nr_ios == VMM_MAX_IO)
		return -ENOSPC;
	ios[nr_ios++] = (struct vmm_io){ space, start, len, fn, opaque };
	return 0;
}

/* Accesses no device claims: reads return all ones, writes vanish. */
static void vmm_dispatch(struct vmm *vmm, enum vmm_space space, uint64_t addr,
			 void *data, uint32_t len, bool is_write)
{
	int i;

	for (i = 0; i < nr_ios; i++) {
		if (ios[i].space == space && addr >= ios[i].start &&
		    addr < ios[i].start + ios[i].len) {
			ios[i].fn(vmm, addr, data, len, is_write, ios[i].opaque);
			return;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
}

static int vmm_fail(const char *what)
{
	fprintf(stderr, "vhmctl: %s: %s\n", what, strerror(errno));
	return -1;
}

int vmm_create(struct vmm *vmm, uint64_t ram_size)
{
	struct vhm_memory_slot slot = { 0 };
	struct vmm_device *d;

	vmm->sys = vhm_open_system();
	if (vmm->sys < 0)
		return -1;
	vmm->vm = ioctl(vmm->sys, VHM_CREATE_VM, 0);
	if (vmm->vm < 0)
		return vmm_fail("VHM_CREATE_VM");
	vmm->ram_size = ram_size;
	vmm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vmm->ram == MAP_FAILED)
		return vmm_fail("mmap guest RAM");
	slot.size = ram_size;
	slot.userspace_addr = (uintptr_t)vmm->ram;
	if (ioctl(vmm->vm, VHM_SET_MEMORY_SLOT, &slot))
		return vmm_fail("VHM_SET_MEMORY_SLOT");
	vmm->vcpu = ioctl(vmm->vm, VHM_CREATE_VCPU, 0);
	if (vmm->vcpu < 0)
		return vmm_fail("VHM_CREATE_VCPU");
	vmm->run = mmap(NULL, ioctl(vmm->sys, VHM_GET_VCPU_MMAP_SIZE, 0),
			PROT_READ | PROT_WRITE, MAP_SHARED, vmm->vcpu, 0);
	if (vmm->run == MAP_FAILED)
		return vmm_fail("mmap run area");
	for (d = devices; d; d = d->next)
		if (d->init(vmm))
			return -1;
	return 0;
}

int vmm_load_file(struct vmm *vmm, const char *path, uint64_t gpa)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || fstat(fd, &st))
		return vmm_fail(path);
	if (gpa >= vmm->ram_size || (uint64_t)st.st_size > vmm->ram_size - gpa) {
		fprintf(stderr, "vhmctl: %s (%lld bytes at %#llx) does not fit in %llu bytes of RAM\n",
			path, (long long)st.st_size, (unsigned long long)gpa,
			(unsigned long long)vmm->ram_size);
		close(fd);
		return -1;
	}
	n = read(fd, vmm->ram + gpa, st.st_size);
	close(fd);
	return n == st.st_size ? 0 : vmm_fail(path);
}

static int vmm_set_entry(struct vmm *vmm, const struct vhm_sregs *s,
			 uint64_t entry, uint64_t rsp)
{
	struct vhm_regs r = { .rip = entry, .rflags = 2, .rsp = rsp };

	if (ioctl(vmm->vcpu, VHM_SET_SREGS, s))
		return vmm_fail("VHM_SET_SREGS");
	if (ioctl(vmm->vcpu, VHM_SET_REGS, &r))
		return vmm_fail("VHM_SET_REGS");
	return 0;
}

/* Real mode at CS:IP = 0:entry. */
int vmm_setup_real(struct vmm *vmm, uint64_t entry)
{
	struct vhm_sregs s;

	if (entry > 0xffff) {
		fprintf(stderr, "vhmctl: a real-mode entry must be below 64 KiB\n");
		return -1;
	}
	if (ioctl(vmm->vcpu, VHM_GET_SREGS, &s))
		return vmm_fail("VHM_GET_SREGS");
	s.cs.base = 0;
	s.cs.selector = 0;
	return vmm_set_entry(vmm, &s, entry, 0xfffe);
}

/* Guest-physical layout of the long-mode boot structures. */
#define LM_GDT		0x500
#define LM_PML4		0x1000
#define LM_PDPT		0x2000
#define LM_PD		0x3000		/* 4 pages: the first 4 GiB in 2 MiB pages */
#define LM_STACK	0x80000

static void vmm_build_page_tables(struct vmm *vmm)
{
	uint64_t *pml4 = (uint64_t *)(vmm->ram + LM_PML4);
	uint64_t *pdpt = (uint64_t *)(vmm->ram + LM_PDPT);
	uint64_t *pd = (uint64_t *)(vmm->ram + LM_PD);
	int i;

	pml4[0] = LM_PDPT | 3;
	for (i = 0; i < 4; i++)
		pdpt[i] = (LM_PD + i * 0x1000) | 3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* P, RW, PS */
}

static void vmm_segment(struct vhm_segment *seg, uint16_t sel, uint16_t attrib)
{
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = sel;
	seg->attrib = attrib;
}

int vmm_setup_long(struct vmm *vmm, uint64_t entry)
{
	uint64_t *gdt = (uint64_t *)(vmm->ram + LM_GDT);
	struct vhm_sregs s;

	if (vmm->ram_size < LM_STACK || entry >= vmm->ram_size) {
		fprintf(stderr, "vhmctl: long mode needs at least 512 KiB of RAM and the entry inside it\n");
		return -1;
	}
	vmm_build_page_tables(vmm);
	gdt[1] = 0x00af9b000000ffffULL;		/* 64-bit code */
	gdt[2] = 0x00cf93000000ffffULL;		/* data */
	if (ioctl(vmm->vcpu, VHM_GET_SREGS, &s))
		return vmm_fail("VHM_GET_SREGS");
	vmm_segment(&s.cs, 8, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) |
		    VHM_SEG_L | VHM_SEG_G);
	vmm_segment(&s.ds, 16, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3) |
		    VHM_SEG_DB | VHM_SEG_G);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.gdt.base = LM_GDT;
	s.gdt.limit = 3 * 8 - 1;
	s.cr0 = 0x80050033;	/* PG, AM, WP, NE, ET, MP, PE */
	s.cr3 = LM_PML4;
	s.cr4 = 0x620;		/* OSXMMEXCPT, OSFXSR, PAE */
	s.efer = 0x500;		/* LMA, LME */
	return vmm_set_entry(vmm, &s, entry, LM_STACK);
}

static enum vmm_end vmm_report(struct vmm *vmm)
{
	struct vhm_run *run = vmm->run;

	switch (run->exit_reason) {
	case VHM_EXIT_HLT:
		return VMM_END_HALT;
	case VHM_EXIT_SHUTDOWN:
		fprintf(stderr, "vhmctl: the guest shut down (triple fault)\n");
		return VMM_END_SHUTDOWN;
	case VHM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "vhmctl: the CPU refused the guest state (hardware reason %#llx)\n",
			(unsigned long long)run->fail_entry.hardware_reason);
		return VMM_END_ENTRY_FAILED;
	case VHM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "vhmctl: vhm internal error %u (data %#llx %#llx)\n",
			run->internal.suberror,
			(unsigned long long)run->internal.data[0],
			(unsigned long long)run->internal.data[1]);
		return VMM_END_INTERNAL;
	default:
		fprintf(stderr, "vhmctl: unexpected exit %u\n", run->exit_reason);
		return VMM_END_ERROR;
	}
}

enum vmm_end vmm_run(struct vmm *vmm)
{
	struct vhm_run *run = vmm->run;
	uint8_t *data;
	uint32_t i;

	for (;;) {
		if (ioctl(vmm->vcpu, VHM_RUN, 0)) {
			if (errno == EINTR)
				continue;
			vmm_fail("VHM_RUN");
			return VMM_END_ERROR;
		}
		switch (run->exit_reason) {
		case VHM_EXIT_IO:
			data = (uint8_t *)run + run->io.data_offset;
			for (i = 0; i < run->io.count; i++)
				vmm_dispatch(vmm, VMM_PIO, run->io.port,
					     data + i * run->io.size, run->io.size,
					     run->io.direction == VHM_IO_OUT);
			break;
		case VHM_EXIT_MMIO:
			vmm_dispatch(vmm, VMM_MMIO, run->mmio.phys_addr,
				     run->mmio.data, run->mmio.len,
				     run->mmio.is_write);
			break;
		case VHM_EXIT_HYPERCALL:
			run->hypercall.ret = -38;	/* -ENOSYS: none defined */
			break;
		default:
			return vmm_report(vmm);
		}
	}
}
