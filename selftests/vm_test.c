// SPDX-License-Identifier: GPL-2.0
/*
 * VMs and vCPUs (AMD SVM or Intel VMX), with small real-mode guests written as
 * machine code: the fd lifecycle, memory slots and their errnos, register
 * state, and every exit to userspace (port I/O, MMIO, hypercall, HLT,
 * shutdown, failed entry, signals).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <pthread.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "vhm_assert.h"

#define RAM_SIZE	0x10000
#define CODE		0x1000

FIXTURE(vm) {
	int sys, vm;
	struct test_vcpu vcpu;
	unsigned char *ram;
};

FIXTURE_SETUP(vm)
{
	self->sys = self->vm = -1;
	self->vcpu.fd = -1;
	REQUIRE_VHM_GUESTS(self->sys);
	self->vm = vhm_vm_create(self->sys);
	ASSERT_LE(0, self->vm);
	ASSERT_VHM(vhm_vcpu_create(self->vm, 0, &self->vcpu));
	self->ram = guest_ram(RAM_SIZE);
	ASSERT_NE(NULL, self->ram);
	ASSERT_VHM(vhm_set_slot(self->vm, 0, 0, 0, RAM_SIZE, self->ram));
	ASSERT_VHM(vhm_real_mode_at(&self->vcpu, CODE));
}

FIXTURE_TEARDOWN(vm)
{
	if (self->vcpu.fd >= 0)
		vhm_vcpu_close(&self->vcpu);
	if (self->vm >= 0)
		close(self->vm);
	if (self->sys >= 0)
		close(self->sys);
}

static void load_code(unsigned char *ram, const unsigned char *code, size_t len)
{
	memcpy(ram + CODE, code, len);
}

#define LOAD(code) load_code(self->ram, code, sizeof(code))

static void expect_io(struct __test_metadata *_metadata, struct test_vcpu *v,
		      int dir, int port, int size)
{
	ASSERT_VHM(vhm_run(v));
	ASSERT_EQ(VHM_EXIT_IO, v->run->exit_reason);
	EXPECT_EQ(dir, v->run->io.direction);
	EXPECT_EQ(port, v->run->io.port);
	EXPECT_EQ(size, v->run->io.size);
	EXPECT_EQ(1, v->run->io.count);
}

TEST_F(vm, mmap_size_and_create_args)
{
	RETURN_IF_SKIPPED();
	EXPECT_EQ(4096, ioctl(self->sys, VHM_GET_VCPU_MMAP_SIZE, 0));
	EXPECT_EQ(-1, ioctl(self->sys, VHM_CREATE_VM, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->sys, VHM_GET_VCPU_MMAP_SIZE, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, vcpu_ids)
{
	struct test_vcpu v;

	RETURN_IF_SKIPPED();
	EXPECT_EQ(-EEXIST, vhm_vcpu_create(self->vm, 0, &v));
	EXPECT_EQ(-EINVAL, vhm_vcpu_create(self->vm, VHM_MAX_VCPUS, &v));
	EXPECT_EQ(-EINVAL, vhm_vcpu_create(self->vm, -1, &v));
	ASSERT_VHM(vhm_vcpu_create(self->vm, VHM_MAX_VCPUS - 1, &v));
	vhm_vcpu_close(&v);
	/* The id is free again once its fd is closed. */
	ASSERT_VHM(vhm_vcpu_create(self->vm, VHM_MAX_VCPUS - 1, &v));
	vhm_vcpu_close(&v);
}

TEST_F(vm, unknown_ioctls)
{
	RETURN_IF_SKIPPED();
	EXPECT_EQ(-1, ioctl(self->vm, VHM_RUN, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, VHM_CREATE_VCPU, 1));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, _IO(VHMIO, 0xbf), 0));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(vm, slot_errors)
{
	struct vhm_memory_slot m = { .slot = 1, .size = 4096,
				     .guest_phys_addr = 0x100000 };
	void *p = guest_ram(1 << 20);

	RETURN_IF_SKIPPED();
	ASSERT_NE(NULL, p);
	m.userspace_addr = (uintptr_t)p;
	EXPECT_EQ(-ENOSPC, vhm_set_slot(self->vm, VHM_MAX_MEMORY_SLOTS, 0,
					0x100000, 4096, p));
	EXPECT_EQ(-EINVAL, vhm_set_slot(self->vm, 1, 2, 0x100000, 4096, p));
	EXPECT_EQ(-EINVAL, vhm_set_slot(self->vm, 1, 0, 0x100800, 4096, p));
	EXPECT_EQ(-EINVAL, vhm_set_slot(self->vm, 1, 0, 0x100000, 100, p));
	EXPECT_EQ(-EINVAL, vhm_set_slot(self->vm, 1, 0, 0x100000, 4096,
					(char *)p + 1));
	EXPECT_EQ(-ERANGE, vhm_set_slot(self->vm, 1, 0, -4096ull, 8192, p));
	EXPECT_EQ(-ERANGE, vhm_set_slot(self->vm, 1, 0, 1ull << 48, 4096, p));
	EXPECT_EQ(-EFAULT, vhm_set_slot(self->vm, 1, 0, 0x100000, 4096,
					(void *)0xffff800000000000ull));
	EXPECT_EQ(-EEXIST, vhm_set_slot(self->vm, 1, 0, 0x8000, 0x10000, p));
	EXPECT_EQ(-ENOENT, vhm_set_slot(self->vm, 1, 0, 0, 0, NULL));
	m.reserved[3] = 1;
	EXPECT_EQ(-1, ioctl(self->vm, VHM_SET_MEMORY_SLOT, &m));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->vm, VHM_SET_MEMORY_SLOT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* Create, move, resize, delete. */
	EXPECT_VHM(vhm_set_slot(self->vm, 1, 0, 0x100000, 4096, p));
	EXPECT_VHM(vhm_set_slot(self->vm, 1, 0, 0x200000, 4096, p));
	EXPECT_VHM(vhm_set_slot(self->vm, 1, 0, 0x200000, 1 << 20, p));
	EXPECT_VHM(vhm_set_slot(self->vm, 1, 0, 0, 0, NULL));
	EXPECT_EQ(-ENOENT, vhm_set_slot(self->vm, 1, 0, 0, 0, NULL));
	munmap(p, 1 << 20);
}

TEST_F(vm, many_slots)
{
	char *p = guest_ram(200 * 4096);
	int i;

	RETURN_IF_SKIPPED();
	ASSERT_NE(NULL, p);
	for (i = 1; i <= 200; i++)
		ASSERT_EQ(0, vhm_set_slot(self->vm, i, 0, 0x100000 + i * 8192ull,
					  4096, p + (i - 1) * 4096)) TH_LOG("slot %d", i);
	for (i = 1; i <= 200; i++)
		ASSERT_VHM(vhm_set_slot(self->vm, i, 0, 0, 0, NULL));
	munmap(p, 200 * 4096);
}

TEST_F(vm, regs_round_trip)
{
	struct vhm_regs r, back;
	struct vhm_sregs s, sback;

	RETURN_IF_SKIPPED();
	memset(&r, 0, sizeof(r));
	r.rax = 1; r.rbx = 2; r.rcx = 3; r.rdx = 4; r.rsi = 5; r.rdi = 6;
	r.rsp = 7; r.rbp = 8; r.r8 = 9; r.r15 = 0x1234567890abcdefull;
	r.rip = 0x1000; r.rflags = 0x202;
	ASSERT_VHM(vhm_set_regs(&self->vcpu, &r));
	ASSERT_VHM(vhm_get_regs(&self->vcpu, &back));
	EXPECT_EQ(0, memcmp(&r, &back, sizeof(r)));
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	s.cr0 = 0x11;	/* PE | ET */
	s.cs.attrib = VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) | VHM_SEG_DB;
	s.cs.limit = 0xffffffff;
	s.gdt.base = 0x5000;
	s.gdt.limit = 0x17;
	s.cr3 = 0x3000;
	s.cr8 = 5;
	ASSERT_VHM(vhm_set_sregs(&self->vcpu, &s));
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &sback));
	EXPECT_EQ(0, memcmp(&s, &sback, sizeof(s)));
}

TEST_F(vm, bad_sregs)
{
	struct vhm_sregs s, bad;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	bad = s; bad.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.gdt.padding[1] = 1;
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.cs.attrib |= 0x8000;
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.cr0 = 0x80000000;	/* PG without PE */
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.efer = 1ull << 12;	/* SVME: not for guests */
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.efer = 1ull << 10;	/* LMA without paging */
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.cr4 = 1ull << 13;	/* VMXE */
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	bad = s; bad.cr8 = 16;
	EXPECT_EQ(-EINVAL, vhm_set_sregs(&self->vcpu, &bad));
	EXPECT_EQ(-EFAULT, vhm_set_sregs(&self->vcpu, (void *)8));
	EXPECT_EQ(-EFAULT, vhm_get_sregs(&self->vcpu, (void *)8));
	EXPECT_EQ(-EFAULT, vhm_get_regs(&self->vcpu, (void *)8));
}

TEST_F(vm, port_io_out_in_hlt)
{
	static const unsigned char code[] = {
		0xb0, 0x42,		/* mov $0x42, %al */
		0xe6, 0x10,		/* out %al, $0x10 */
		0xe4, 0x11,		/* in $0x11, %al */
		0xe6, 0x12,		/* out %al, $0x12 */
		0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, /* mov $0x12345678, %eax */
		0x66, 0xe7, 0x13,	/* out %eax, $0x13 */
		0xba, 0x00, 0x40,	/* mov $0x4000, %dx */
		0xed,			/* in (%dx), %ax */
		0xe7, 0x14,		/* out %ax, $0x14 */
		0xf4,			/* hlt */
	};
	struct vhm_regs r;

	RETURN_IF_SKIPPED();
	LOAD(code);
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 1);
	EXPECT_EQ(0x42, *(uint8_t *)vhm_io_data(&self->vcpu));
	expect_io(_metadata, &self->vcpu, VHM_IO_IN, 0x11, 1);
	*(uint8_t *)vhm_io_data(&self->vcpu) = 0x99;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x12, 1);
	EXPECT_EQ(0x99, *(uint8_t *)vhm_io_data(&self->vcpu));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x13, 4);
	EXPECT_EQ(0x12345678, *(uint32_t *)vhm_io_data(&self->vcpu));
	expect_io(_metadata, &self->vcpu, VHM_IO_IN, 0x4000, 2);
	*(uint16_t *)vhm_io_data(&self->vcpu) = 0xbeef;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x14, 2);
	EXPECT_EQ(0xbeef, *(uint16_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_HLT, self->vcpu.run->exit_reason);
	ASSERT_VHM(vhm_get_regs(&self->vcpu, &r));
	EXPECT_EQ(CODE + sizeof(code), r.rip);
	/* in %ax kept the upper half of EAX. */
	EXPECT_EQ(0x1234beef, r.rax & 0xffffffff);
}

TEST_F(vm, string_io_rep)
{
	static const unsigned char code[] = {
		0xbe, 0x00, 0x30,	/* mov $0x3000, %si */
		0xb9, 0x05, 0x00,	/* mov $5, %cx */
		0xba, 0x10, 0x00,	/* mov $0x10, %dx */
		0xfc,			/* cld */
		0xf3, 0x6e,		/* rep outsb */
		0xbf, 0x00, 0x31,	/* mov $0x3100, %di */
		0xb9, 0x03, 0x00,	/* mov $3, %cx */
		0xba, 0x11, 0x00,	/* mov $0x11, %dx */
		0xf3, 0x6d,		/* rep insw */
		0xa1, 0x04, 0x31,	/* mov 0x3104, %ax */
		0xe7, 0x12,		/* out %ax, $0x12 */
		0xf4,
	};
	uint16_t *in;
	struct vhm_regs r;

	RETURN_IF_SKIPPED();
	LOAD(code);
	memcpy(self->ram + 0x3000, "hello", 5);
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_IO, self->vcpu.run->exit_reason);
	EXPECT_EQ(VHM_IO_OUT, self->vcpu.run->io.direction);
	EXPECT_EQ(0x10, self->vcpu.run->io.port);
	EXPECT_EQ(1, self->vcpu.run->io.size);
	EXPECT_EQ(5, self->vcpu.run->io.count);
	EXPECT_EQ(0, memcmp(vhm_io_data(&self->vcpu), "hello", 5));
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_IO, self->vcpu.run->exit_reason);
	EXPECT_EQ(VHM_IO_IN, self->vcpu.run->io.direction);
	EXPECT_EQ(0x11, self->vcpu.run->io.port);
	EXPECT_EQ(2, self->vcpu.run->io.size);
	EXPECT_EQ(3, self->vcpu.run->io.count);
	in = vhm_io_data(&self->vcpu);
	in[0] = 0x1111;
	in[1] = 0x2222;
	in[2] = 0x3333;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x12, 2);
	EXPECT_EQ(0x3333, *(uint16_t *)vhm_io_data(&self->vcpu));
	EXPECT_EQ(0x2222, *(uint16_t *)(self->ram + 0x3102));
	ASSERT_VHM(vhm_get_regs(&self->vcpu, &r));
	EXPECT_EQ(0x3005, r.rsi & 0xffff);
	EXPECT_EQ(0x3106, r.rdi & 0xffff);
	EXPECT_EQ(0, r.rcx & 0xffff);
}

TEST_F(vm, mmio_outside_slots)
{
	static const unsigned char code16[] = {
		0xb8, 0x00, 0x20,	/* mov $0x2000, %ax */
		0x8e, 0xd8,		/* mov %ax, %ds (base 0x20000: no RAM) */
		0xa1, 0x34, 0x12,	/* mov 0x1234, %ax */
		0xe7, 0x10,		/* out %ax, $0x10 */
		0xc7, 0x06, 0x00, 0x01, 0xcd, 0xab, /* movw $0xabcd, 0x100 */
		0x66, 0x0f, 0xb6, 0x1e, 0x02, 0x01, /* movzbl 0x102, %ebx */
		0x66, 0x89, 0xd8,	/* mov %ebx, %eax */
		0x66, 0xe7, 0x11,	/* out %eax, $0x11 */
		0xf4,
	};

	RETURN_IF_SKIPPED();
	LOAD(code16);
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_MMIO, self->vcpu.run->exit_reason);
	EXPECT_EQ(0x21234, self->vcpu.run->mmio.phys_addr);
	EXPECT_EQ(2, self->vcpu.run->mmio.len);
	EXPECT_EQ(0, self->vcpu.run->mmio.is_write);
	self->vcpu.run->mmio.data[0] = 0x11;
	self->vcpu.run->mmio.data[1] = 0x22;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 2);
	EXPECT_EQ(0x2211, *(uint16_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_MMIO, self->vcpu.run->exit_reason);
	EXPECT_EQ(0x20100, self->vcpu.run->mmio.phys_addr);
	EXPECT_EQ(2, self->vcpu.run->mmio.len);
	EXPECT_EQ(1, self->vcpu.run->mmio.is_write);
	EXPECT_EQ(0xabcd, *(uint16_t *)self->vcpu.run->mmio.data);
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_MMIO, self->vcpu.run->exit_reason);
	EXPECT_EQ(0x20102, self->vcpu.run->mmio.phys_addr);
	EXPECT_EQ(1, self->vcpu.run->mmio.len);
	self->vcpu.run->mmio.data[0] = 0xf0;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x11, 4);
	EXPECT_EQ(0xf0, *(uint32_t *)vhm_io_data(&self->vcpu));
}

TEST_F(vm, readonly_slot_writes_exit)
{
	static const unsigned char code[] = {
		0xa1, 0x00, 0x80,	/* mov 0x8000, %ax: RAM, readable */
		0xe7, 0x10,		/* out %ax, $0x10 */
		0xc7, 0x06, 0x00, 0x80, 0x34, 0x12, /* movw $0x1234, 0x8000 */
		0xf4,
	};
	unsigned char *rom = guest_ram(4096);

	RETURN_IF_SKIPPED();
	ASSERT_NE(NULL, rom);
	rom[0] = 0x5a;
	rom[1] = 0xa5;
	/* Carve 0x8000 out of slot 0 and map the ROM there. */
	ASSERT_VHM(vhm_set_slot(self->vm, 0, 0, 0, 0x8000, self->ram));
	ASSERT_VHM(vhm_set_slot(self->vm, 1, VHM_MEM_READONLY, 0x8000, 4096, rom));
	LOAD(code);
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 2);
	EXPECT_EQ(0xa55a, *(uint16_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_MMIO, self->vcpu.run->exit_reason);
	EXPECT_EQ(0x8000, self->vcpu.run->mmio.phys_addr);
	EXPECT_EQ(1, self->vcpu.run->mmio.is_write);
	EXPECT_EQ(0x1234, *(uint16_t *)self->vcpu.run->mmio.data);
	EXPECT_EQ(0x5a, rom[0]);
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_HLT, self->vcpu.run->exit_reason);
}

TEST_F(vm, guest_and_host_share_ram)
{
	static const unsigned char code[] = {
		0xa1, 0x00, 0x30,	/* mov 0x3000, %ax */
		0xe7, 0x10,		/* out %ax, $0x10 */
		0xc7, 0x06, 0x02, 0x30, 0x78, 0x56, /* movw $0x5678, 0x3002 */
		0xf4,
	};

	RETURN_IF_SKIPPED();
	LOAD(code);
	self->ram[0x3000] = 0x34;
	self->ram[0x3001] = 0x12;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 2);
	EXPECT_EQ(0x1234, *(uint16_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_HLT, self->vcpu.run->exit_reason);
	EXPECT_EQ(0x5678, *(uint16_t *)(self->ram + 0x3002));
}

TEST_F(vm, dontneed_and_munmap_under_guest)
{
	static const unsigned char code[] = {
		0xb8, 0x00, 0x10,	/* mov $0x1000, %ax */
		0x8e, 0xd8,		/* mov %ax, %ds: base 0x10000 */
		/* loop: */
		0xa1, 0x00, 0x00,	/* mov 0x0, %ax */
		0xe7, 0x10,		/* out %ax, $0x10 */
		0xeb, 0xf9,		/* jmp loop */
	};
	unsigned char *data = guest_ram(4096);

	RETURN_IF_SKIPPED();
	ASSERT_NE(NULL, data);
	ASSERT_VHM(vhm_set_slot(self->vm, 1, 0, 0x10000, 4096, data));
	LOAD(code);
	data[0] = 0xaa;
	data[1] = 0xbb;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 2);
	EXPECT_EQ(0xbbaa, *(uint16_t *)vhm_io_data(&self->vcpu));
	/* The host drops the page: the guest sees the zero page after it. */
	ASSERT_EQ(0, madvise(data, 4096, MADV_DONTNEED));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 2);
	EXPECT_EQ(0, *(uint16_t *)vhm_io_data(&self->vcpu));
	data[0] = 0x11;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 2);
	EXPECT_EQ(0x11, *(uint16_t *)vhm_io_data(&self->vcpu));
	/* The host unmaps it: the guest's access becomes MMIO. */
	ASSERT_EQ(0, munmap(data, 4096));
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_MMIO, self->vcpu.run->exit_reason);
	EXPECT_EQ(0x10000, self->vcpu.run->mmio.phys_addr);
}

TEST_F(vm, hypercall)
{
	static const unsigned char code[] = {
		0x66, 0xb8, 0x07, 0x00, 0x00, 0x00,	/* mov $7, %eax */
		0x66, 0xbf, 0x11, 0x00, 0x00, 0x00,	/* mov $0x11, %edi */
		0x66, 0xbe, 0x22, 0x00, 0x00, 0x00,	/* mov $0x22, %esi */
		0x0f, 0x01, 0xd9,			/* vmmcall */
		0x66, 0xe7, 0x10,			/* out %eax, $0x10 */
		0xf4,
	};

	RETURN_IF_SKIPPED();
	LOAD(code);
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_HYPERCALL, self->vcpu.run->exit_reason);
	EXPECT_EQ(7, self->vcpu.run->hypercall.nr);
	EXPECT_EQ(0x11, self->vcpu.run->hypercall.args[0]);
	EXPECT_EQ(0x22, self->vcpu.run->hypercall.args[1]);
	self->vcpu.run->hypercall.ret = 0xcafe;
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 4);
	EXPECT_EQ(0xcafe, *(uint32_t *)vhm_io_data(&self->vcpu));
}

/*
 * Big real mode ("unreal"): the guest loads a 4 GiB data segment in
 * protected mode, returns to real mode and keeps the limit, then reaches
 * RAM at 16 MiB with 32-bit addresses. Real mode runs natively (SVM,
 * VMX unrestricted guest); the descriptor cache must survive the switch.
 */
TEST_F(vm, big_real_mode)
{
	static const unsigned char code[] = {
		0xfa,				/* cli */
		0x0f, 0x01, 0x16, 0x00, 0x31,	/* lgdt (0x3100) */
		0x0f, 0x20, 0xc0,		/* mov %cr0, %eax */
		0x0c, 0x01,			/* or $1, %al */
		0x0f, 0x22, 0xc0,		/* mov %eax, %cr0 */
		0xbb, 0x08, 0x00,		/* mov $8, %bx */
		0x8e, 0xdb,			/* mov %bx, %ds */
		0x24, 0xfe,			/* and $0xfe, %al */
		0x0f, 0x22, 0xc0,		/* mov %eax, %cr0 */
		0x31, 0xdb,			/* xor %bx, %bx */
		0x8e, 0xdb,			/* mov %bx, %ds */
		0x66, 0xbe, 0x00, 0x00, 0x00, 0x01,	/* mov $0x1000000, %esi */
		0x67, 0x66, 0x8b, 0x06,		/* mov (%esi), %eax */
		0x66, 0xe7, 0x10,		/* out %eax, $0x10 */
		0x66, 0xf7, 0xd0,		/* not %eax */
		0x67, 0x66, 0x89, 0x46, 0x04,	/* mov %eax, 4(%esi) */
		0xf4,				/* hlt */
	};
	/* Null descriptor; flat 4 GiB read/write data, G and D/B set. */
	static const unsigned char gdt[] = {
		0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
	};
	static const unsigned char gdtr[] = { 0x0f, 0x00, 0x00, 0x30, 0, 0 };
	uint32_t *high = guest_ram(0x1000);
	struct vhm_sregs s;

	RETURN_IF_SKIPPED();
	ASSERT_NE(NULL, high);
	ASSERT_VHM(vhm_set_slot(self->vm, 1, 0, 0x1000000, 0x1000, high));
	high[0] = 0x600dcafe;
	LOAD(code);
	memcpy(self->ram + 0x3000, gdt, sizeof(gdt));
	memcpy(self->ram + 0x3100, gdtr, sizeof(gdtr));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 4);
	EXPECT_EQ(0x600dcafe, *(uint32_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_HLT, self->vcpu.run->exit_reason);
	EXPECT_EQ(~0x600dcafeu, high[1]);
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	EXPECT_EQ(0, s.cr0 & 1);
	EXPECT_EQ(0, s.ds.selector);
	EXPECT_EQ(0, s.ds.base);
	EXPECT_EQ(0xffffffffu, s.ds.limit);
}

TEST_F(vm, triple_fault_is_shutdown)
{
	static const unsigned char code[] = { 0xcc };	/* int3, no IDT */
	struct vhm_vcpu_events ev;
	struct vhm_sregs s;
	struct vhm_regs r;

	RETURN_IF_SKIPPED();
	LOAD(code);
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	s.idt.limit = 0;
	ASSERT_VHM(vhm_set_sregs(&self->vcpu, &s));
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_SHUTDOWN, self->vcpu.run->exit_reason);
	/* The vCPU stays inspectable. */
	EXPECT_VHM(vhm_get_regs(&self->vcpu, &r));
	EXPECT_VHM(vhm_get_sregs(&self->vcpu, &s));
	/* The #GP/#DF that failed is not left for a reset vCPU. */
	EXPECT_VHM(vhm_get_events(&self->vcpu, &ev));
	EXPECT_EQ(0, ev.flags & (VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE));
}

TEST_F(vm, invalid_state_fails_entry)
{
	struct vhm_sregs s;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	/* Long mode with CR3 beyond any physical address: the CPU refuses. */
	s.cr0 = 0x80000011;
	s.cr4 = 0x20;
	s.efer = 0x500;
	s.cr3 = 1ull << 62;
	s.cs.attrib = VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) | VHM_SEG_L;
	ASSERT_VHM(vhm_set_sregs(&self->vcpu, &s));
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_FAIL_ENTRY, self->vcpu.run->exit_reason)
		TH_LOG("exit %u: %#llx %#llx %#llx %#llx",
		       self->vcpu.run->exit_reason,
		       self->vcpu.run->internal.data[0],
		       self->vcpu.run->internal.data[1],
		       self->vcpu.run->internal.data[2],
		       self->vcpu.run->internal.data[3]);
	/* SVM: VMEXIT_INVALID; VMX: exit reason 33 (invalid guest state), bit 31. */
	EXPECT_EQ(host_vendor() == VENDOR_AMD ? ~0ull : 0x80000021ull,
		  self->vcpu.run->fail_entry.hardware_reason);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(vm, signal_interrupts_spinning_guest)
{
	static const unsigned char code[] = { 0xeb, 0xfe };	/* jmp . */
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval t = { .it_value = { .tv_usec = 200000 } };

	RETURN_IF_SKIPPED();
	LOAD(code);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &t, NULL));
	EXPECT_EQ(-EINTR, vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_INTR, self->vcpu.run->exit_reason);
	self->vcpu.run->immediate_exit = 1;
	EXPECT_EQ(-EINTR, vhm_run(&self->vcpu));
	self->vcpu.run->immediate_exit = 0;
}

/* Only the process that created a VM may drive it. */
TEST_F(vm, forked_child_gets_eio)
{
	struct vhm_regs r;
	int status;
	pid_t pid;

	RETURN_IF_SKIPPED();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct test_vcpu v;

		_exit(vhm_get_regs(&self->vcpu, &r) == -EIO &&
		      vhm_run(&self->vcpu) == -EIO &&
		      vhm_vcpu_create(self->vm, 5, &v) == -EIO ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Every close order; then the module unloads (no leaked reference). */
TEST_F(vm, close_orders_then_unload)
{
	struct test_vcpu a, b;
	int vm2;

	RETURN_IF_SKIPPED();
	vm2 = vhm_vm_create(self->sys);
	ASSERT_LE(0, vm2);
	ASSERT_VHM(vhm_vcpu_create(vm2, 0, &a));
	ASSERT_VHM(vhm_vcpu_create(vm2, 1, &b));
	close(vm2);			/* VM first: the vCPUs keep it alive */
	EXPECT_VHM(vhm_get_regs(&a, &(struct vhm_regs){ 0 }));
	vhm_vcpu_close(&b);
	vhm_vcpu_close(&a);
	vhm_vcpu_close(&self->vcpu);	/* vCPU before its VM */
	self->vcpu.fd = -1;
	close(self->vm);
	self->vm = -1;
	EXPECT_EQ(-EWOULDBLOCK, vhm_unload());	/* the system fd is open */
	close(self->sys);
	self->sys = -1;
	EXPECT_EQ(0, vhm_unload());
}

/* A VMM killed while its guest runs frees everything; rmmod works. */
TEST_F(vm, killed_vmm_then_unload)
{
	static const unsigned char code[] = { 0xeb, 0xfe };
	int status;
	pid_t pid;

	RETURN_IF_SKIPPED();
	LOAD(code);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int sys = vhm_sys_open(), vm = vhm_vm_create(sys);
		struct test_vcpu v;
		void *ram = guest_ram(RAM_SIZE);

		memcpy(ram, self->ram, RAM_SIZE);
		if (vm < 0 || vhm_vcpu_create(vm, 0, &v) ||
		    vhm_set_slot(vm, 0, 0, 0, RAM_SIZE, ram) ||
		    vhm_real_mode_at(&v, CODE))
			_exit(1);
		vhm_run(&v);
		_exit(2);
	}
	usleep(300000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	vhm_vcpu_close(&self->vcpu);
	self->vcpu.fd = -1;
	close(self->vm);
	self->vm = -1;
	close(self->sys);
	self->sys = -1;
	EXPECT_EQ(0, vhm_unload());
}

struct msr_list {
	struct vhm_msrs hdr;
	struct vhm_msr_entry e[8];
};

static int msrs(struct test_vcpu *v, unsigned long ioctl_nr, struct msr_list *l,
		int n)
{
	l->hdr.nmsrs = n;
	return ioctl(v->fd, ioctl_nr, l) < 0 ? -errno : ioctl(v->fd, ioctl_nr, l);
}

TEST_F(vm, msrs_in_and_out)
{
	struct msr_list l = { 0 }, back = { 0 };
	int i;

	RETURN_IF_SKIPPED();
	l.e[0].index = 0xc0000081;	/* STAR */
	l.e[0].data = 0x0023001000000000ull;
	l.e[1].index = 0xc0000082;	/* LSTAR */
	l.e[1].data = 0xffffffff81000000ull;
	l.e[2].index = 0x277;		/* PAT */
	l.e[2].data = 0x0007040600070406ull;
	l.e[3].index = 0xc0000103;	/* TSC_AUX */
	l.e[3].data = 5;
	l.e[4].index = 0x2ff;		/* MTRRdefType */
	l.e[4].data = 0xc06;
	l.e[5].index = 0xc0000100;	/* FS base */
	l.e[5].data = 0x7000;
	EXPECT_EQ(6, msrs(&self->vcpu, VHM_SET_MSRS, &l, 6));
	for (i = 0; i < 6; i++)
		back.e[i].index = l.e[i].index;
	EXPECT_EQ(6, msrs(&self->vcpu, VHM_GET_MSRS, &back, 6));
	for (i = 0; i < 6; i++)
		EXPECT_EQ(l.e[i].data, back.e[i].data) TH_LOG("MSR %#x", l.e[i].index);
	/* Processing stops at the first MSR vhm does not have. */
	back.e[1].index = 0x12345678;
	EXPECT_EQ(1, msrs(&self->vcpu, VHM_GET_MSRS, &back, 3));
	/* ... or a value it cannot hold. */
	l.e[1].index = 0x277;
	l.e[1].data = 0x0202020202020202ull;
	EXPECT_EQ(1, msrs(&self->vcpu, VHM_SET_MSRS, &l, 2));
	l.e[0].reserved = 1;
	EXPECT_EQ(-EINVAL, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.e[0].reserved = 0;
	l.hdr.flags = 1;
	EXPECT_EQ(-EINVAL, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.hdr.flags = 0;
	EXPECT_EQ(-EINVAL, msrs(&self->vcpu, VHM_GET_MSRS, &l, VHM_MAX_MSR_ENTRIES + 1));
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, VHM_GET_MSRS, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/*
 * A VMM's EFER follows CR0 and CR4 as VHM_SET_SREGS does: LMA exactly when
 * LME is set with paging on, and only with PAE. The fuzzer set LME|LMA with
 * paging off; QEMU then ran the guest's code from unpaged 64-bit addresses
 * without ever exiting and a test host CPU stalled.
 */
TEST_F(vm, vmm_efer_follows_cr0_and_cr4)
{
	const uint64_t lme = 1ull << 8, lma = 1ull << 10;
	struct msr_list l = { 0 };
	struct vhm_sregs s;

	RETURN_IF_SKIPPED();
	l.e[0].index = 0xc0000080;	/* EFER, paging off at reset */
	l.e[0].data = lme | lma;
	EXPECT_EQ(0, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.e[0].data = lma;
	EXPECT_EQ(0, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.e[0].data = lme;
	EXPECT_EQ(1, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));

	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	s.cr0 = 0x80000011;		/* PG | ET | PE */
	s.cr4 = 0x20;			/* PAE */
	s.efer = lme | lma;
	ASSERT_VHM(vhm_set_sregs(&self->vcpu, &s));
	l.e[0].data = lme;		/* long mode on, LMA cleared */
	EXPECT_EQ(0, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.e[0].data = 0;		/* PAE paging, out of long mode */
	EXPECT_EQ(1, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.e[0].data = lme | lma | (1ull << 11);	/* back, NX too */
	EXPECT_EQ(1, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	l.e[0].data = 0;
	EXPECT_EQ(1, msrs(&self->vcpu, VHM_GET_MSRS, &l, 1));
	EXPECT_EQ(lme | lma | (1ull << 11), l.e[0].data);
}

/*
 * Real mode with EFER.LME set, a state every CPU allows (firmware passes
 * through it on the way to long mode), runs and exits as any other.
 */
TEST_F(vm, real_mode_with_efer_lme)
{
	static const unsigned char code[] = {
		0xb0, 0x5a,		/* mov $0x5a, %al */
		0xe6, 0x10,		/* out %al, $0x10 */
		0xf4,			/* hlt */
	};
	struct vhm_sregs s;

	RETURN_IF_SKIPPED();
	if (host_is_qemu_tcg() && !getenv("VHM_TEST_TCG_LME"))
		SKIP(return, "QEMU TCG restores the host's CR0 before its CR4 at #VMEXIT and keeps paging off while the guest's EFER.LME is set without CR4.PAE: the test host would hang (docs/TESTING.md)");
	LOAD(code);
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	s.efer = 1ull << 8;
	ASSERT_VHM(vhm_set_sregs(&self->vcpu, &s));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 1);
	EXPECT_EQ(0x5a, *(uint8_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	EXPECT_EQ(VHM_EXIT_HLT, self->vcpu.run->exit_reason);
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	EXPECT_EQ(1ull << 8, s.efer);
}

/*
 * The guest's RDMSR/WRMSR; an MSR vhm lacks raises #GP in the guest. (LSTAR
 * takes a canonical address: 0x5566778811223344, the value here until
 * vhm checked it on VMX as the CPU does, is #GP.)
 */
TEST_F(vm, guest_rdmsr_wrmsr)
{
	static const unsigned char code[] = {
		0x66, 0xb9, 0x82, 0x00, 0x00, 0xc0,	/* mov $LSTAR, %ecx */
		0x66, 0xb8, 0x44, 0x33, 0x22, 0x11,	/* mov $0x11223344, %eax */
		0x66, 0xba, 0x88, 0x88, 0xff, 0xff,	/* mov $0xffff8888, %edx */
		0x0f, 0x30,				/* wrmsr */
		0x66, 0xb9, 0x03, 0x01, 0x00, 0xc0,	/* mov $TSC_AUX, %ecx */
		0x0f, 0x32,				/* rdmsr */
		0x66, 0xe7, 0x10,			/* out %eax, $0x10 */
		0x66, 0xb9, 0x78, 0x56, 0x34, 0x12,	/* mov $0x12345678, %ecx */
		0x0f, 0x32,				/* rdmsr: #GP */
		0xf4,
	};
	static const unsigned char gp_handler[] = {
		0xb0, 0x0d, 0xe6, 0x99, 0xf4,		/* mov $13, %al; out %al, $0x99; hlt */
	};
	struct msr_list l = { 0 };

	RETURN_IF_SKIPPED();
	LOAD(code);
	memcpy(self->ram + 0x2000, gp_handler, sizeof(gp_handler));
	*(uint32_t *)(self->ram + 13 * 4) = 0x2000;	/* IVT[13] = 0:0x2000 */
	l.e[0].index = 0xc0000103;
	l.e[0].data = 0xabcd;
	ASSERT_EQ(1, msrs(&self->vcpu, VHM_SET_MSRS, &l, 1));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 4);
	EXPECT_EQ(0xabcd, *(uint32_t *)vhm_io_data(&self->vcpu));
	l.e[0].index = 0xc0000082;
	ASSERT_EQ(1, msrs(&self->vcpu, VHM_GET_MSRS, &l, 1));
	EXPECT_EQ(0xffff888811223344ull, l.e[0].data);
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x99, 1);
	EXPECT_EQ(13, *(uint8_t *)vhm_io_data(&self->vcpu));
}

/* XSAVE state in and out, and the guest really running with it. */
TEST_F(vm, xsave_state)
{
	static const unsigned char code[] = {
		0x66, 0x0f, 0x7e, 0xc0,		/* movd %xmm0, %eax */
		0x66, 0xe7, 0x10,		/* out %eax, $0x10 */
		0x66, 0xb8, 0xef, 0xbe, 0xad, 0xde,	/* mov $0xdeadbeef, %eax */
		0x66, 0x0f, 0x6e, 0xc8,		/* movd %eax, %xmm1 */
		0xf4,
	};
	static struct vhm_xsave x;
	struct vhm_sregs s;

	RETURN_IF_SKIPPED();
	LOAD(code);
	ASSERT_VHM(vhm_get_sregs(&self->vcpu, &s));
	s.cr0 = 0x10;		/* ET; EM and TS clear */
	s.cr4 = 0x600;		/* OSFXSR | OSXMMEXCPT */
	ASSERT_VHM(vhm_set_sregs(&self->vcpu, &s));
	ASSERT_VHM_IOCTL(self->vcpu.fd, VHM_GET_XSAVE, &x);
	x.region[160 / 4] = 0x13572468;	/* XMM0, legacy area offset 160 */
	x.region[512 / 4] |= 2;		/* XSTATE_BV: SSE state present */
	ASSERT_VHM_IOCTL(self->vcpu.fd, VHM_SET_XSAVE, &x);
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 4);
	EXPECT_EQ(0x13572468, *(uint32_t *)vhm_io_data(&self->vcpu));
	ASSERT_VHM(vhm_run(&self->vcpu));
	ASSERT_EQ(VHM_EXIT_HLT, self->vcpu.run->exit_reason);
	ASSERT_VHM_IOCTL(self->vcpu.fd, VHM_GET_XSAVE, &x);
	EXPECT_EQ(0xdeadbeef, x.region[176 / 4]);	/* XMM1 */
	/* A header with reserved bits is refused. */
	x.region[512 / 4 + 2] = 1;	/* XCOMP_BV: compacted, not ours */
	x.region[512 / 4 + 3] = 0x80000000;
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, VHM_SET_XSAVE, &x));
	EXPECT_EQ(EINVAL, errno);
}

struct cpuid_table {
	struct vhm_cpuid hdr;
	struct vhm_cpuid_entry e[VHM_MAX_CPUID_ENTRIES];
};

static struct vhm_cpuid_entry *cpuid_find(struct cpuid_table *t, uint32_t fn)
{
	uint32_t i;

	for (i = 0; i < t->hdr.nent; i++)
		if (t->e[i].function == fn)
			return &t->e[i];
	return NULL;
}

/* The supported table hides what the vCPU does not provide. */
TEST_F(vm, supported_cpuid)
{
	static struct cpuid_table t;
	struct vhm_cpuid_entry *e;

	RETURN_IF_SKIPPED();
	t.hdr.nent = 1;
	EXPECT_EQ(-1, ioctl(self->sys, VHM_GET_SUPPORTED_CPUID, &t));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_LT(4, t.hdr.nent);
	t.hdr.nent = VHM_MAX_CPUID_ENTRIES;
	ASSERT_VHM_IOCTL(self->sys, VHM_GET_SUPPORTED_CPUID, &t);
	e = cpuid_find(&t, 1);
	ASSERT_NE(NULL, e);
	EXPECT_TRUE(e->ecx & (1u << 31)) TH_LOG("hypervisor bit");
	EXPECT_FALSE(e->ecx & (1u << 5)) TH_LOG("VMX");
	e = cpuid_find(&t, 0x80000001);
	ASSERT_NE(NULL, e);
	EXPECT_FALSE(e->ecx & (1u << 2)) TH_LOG("SVM");
	e = cpuid_find(&t, 0x8000000a);
	if (e)
		EXPECT_EQ(0, e->eax | e->ebx | e->ecx | e->edx) TH_LOG("SVM leaf");
	e = cpuid_find(&t, 0xa);
	if (e)
		EXPECT_EQ(0, e->eax | e->ebx | e->ecx | e->edx) TH_LOG("PMU");
}

/* The guest's CPUID answers from its table, which userspace may replace. */
TEST_F(vm, guest_cpuid_table)
{
	static const unsigned char code[] = {
		0x66, 0xb8, 0x01, 0x00, 0x00, 0x00,	/* mov $1, %eax */
		0x0f, 0xa2,				/* cpuid */
		0x66, 0x89, 0xc8,			/* mov %ecx, %eax */
		0x66, 0xe7, 0x10,			/* out %eax, $0x10 */
		0x66, 0xb8, 0x00, 0x00, 0x00, 0x40,	/* mov $0x40000000, %eax */
		0x0f, 0xa2,				/* cpuid */
		0x66, 0xe7, 0x11,			/* out %eax, $0x11 */
		0x66, 0x89, 0xd8,			/* mov %ebx, %eax */
		0x66, 0xe7, 0x12,			/* out %eax, $0x12 */
		0xf4,
	};
	static struct cpuid_table t;

	RETURN_IF_SKIPPED();
	LOAD(code);
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 4);
	EXPECT_TRUE(*(uint32_t *)vhm_io_data(&self->vcpu) & (1u << 31));
	/* No such leaf in the default table: zeros. */
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x11, 4);
	EXPECT_EQ(0, *(uint32_t *)vhm_io_data(&self->vcpu));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x12, 4);
	EXPECT_EQ(0, *(uint32_t *)vhm_io_data(&self->vcpu));

	memset(&t, 0, sizeof(t));
	t.hdr.nent = 2;
	t.e[0].function = 1;
	t.e[0].ecx = 0x80000000;
	t.e[1].function = 0x40000000;
	t.e[1].eax = 0x1234;
	t.e[1].ebx = 0x5678;
	ASSERT_VHM_IOCTL(self->vcpu.fd, VHM_SET_CPUID, &t);
	t.hdr.nent = VHM_MAX_CPUID_ENTRIES;
	ASSERT_VHM_IOCTL(self->vcpu.fd, VHM_GET_CPUID, &t);
	EXPECT_EQ(2, t.hdr.nent);
	ASSERT_VHM(vhm_real_mode_at(&self->vcpu, CODE));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x10, 4);
	EXPECT_EQ(0x80000000, *(uint32_t *)vhm_io_data(&self->vcpu));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x11, 4);
	EXPECT_EQ(0x1234, *(uint32_t *)vhm_io_data(&self->vcpu));
	expect_io(_metadata, &self->vcpu, VHM_IO_OUT, 0x12, 4);
	EXPECT_EQ(0x5678, *(uint32_t *)vhm_io_data(&self->vcpu));

	t.hdr.nent = 1;
	t.e[0].flags = 2;
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, VHM_SET_CPUID, &t));
	EXPECT_EQ(EINVAL, errno);
	t.e[0].flags = 0;
	t.e[0].reserved[2] = 1;
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, VHM_SET_CPUID, &t));
	EXPECT_EQ(EINVAL, errno);
	t.hdr.nent = VHM_MAX_CPUID_ENTRIES + 1;
	EXPECT_EQ(-1, ioctl(self->vcpu.fd, VHM_SET_CPUID, &t));
	EXPECT_EQ(EINVAL, errno);
}

#define NR_VMS		8
#define NR_VCPUS	4
#define NR_LOOPS	200

struct spin_vcpu {
	struct test_vcpu v;
	int outs;
	int last_exit;
	int err;
};

static void *spin_vcpu_thread(void *arg)
{
	struct spin_vcpu *sv = arg;

	for (;;) {
		sv->err = vhm_run(&sv->v);
		if (sv->err)
			return NULL;
		sv->last_exit = sv->v.run->exit_reason;
		if (sv->last_exit != VHM_EXIT_IO)
			return NULL;
		sv->outs++;
	}
}

/* 8 VMs with 4 vCPUs each, all running at once on the 2 host CPUs. */
TEST_F(vm, many_vms_many_vcpus)
{
	static const unsigned char code[] = {
		0xb9, NR_LOOPS & 0xff, NR_LOOPS >> 8,	/* mov $NR_LOOPS, %cx */
		0xe6, 0x10,				/* out %al, $0x10 */
		0x49,					/* dec %cx */
		0x75, 0xfb,				/* jnz .-3 */
		0xf4,
	};
	static struct spin_vcpu sv[NR_VMS][NR_VCPUS];
	pthread_t th[NR_VMS][NR_VCPUS];
	int vms[NR_VMS], i, j;
	unsigned char *ram;

	RETURN_IF_SKIPPED();
	for (i = 0; i < NR_VMS; i++) {
		vms[i] = vhm_vm_create(self->sys);
		ASSERT_LE(0, vms[i]);
		ram = guest_ram(RAM_SIZE);
		ASSERT_NE(NULL, ram);
		memcpy(ram + CODE, code, sizeof(code));
		ASSERT_VHM(vhm_set_slot(vms[i], 0, 0, 0, RAM_SIZE, ram));
		for (j = 0; j < NR_VCPUS; j++) {
			ASSERT_VHM(vhm_vcpu_create(vms[i], j, &sv[i][j].v));
			ASSERT_VHM(vhm_real_mode_at(&sv[i][j].v, CODE));
		}
	}
	for (i = 0; i < NR_VMS; i++)
		for (j = 0; j < NR_VCPUS; j++)
			ASSERT_EQ(0, pthread_create(&th[i][j], NULL,
						    spin_vcpu_thread, &sv[i][j]));
	for (i = 0; i < NR_VMS; i++)
		for (j = 0; j < NR_VCPUS; j++) {
			pthread_join(th[i][j], NULL);
			EXPECT_EQ(0, sv[i][j].err);
			EXPECT_EQ(VHM_EXIT_HLT, sv[i][j].last_exit);
			EXPECT_EQ(NR_LOOPS, sv[i][j].outs);
			vhm_vcpu_close(&sv[i][j].v);
		}
	for (i = 0; i < NR_VMS; i++)
		close(vms[i]);
}

TEST_HARNESS_MAIN
