// SPDX-License-Identifier: GPL-2.0
/*
 * Guests written in C (include/guest.h), on either backend: ucalls and the
 * reporting of guest assertions and exceptions, globals shared with the
 * host, CPUID, port I/O, MMIO, HLT and VMMCALL from 64-bit mode, several
 * vCPUs; and machine-code guests that start in real or protected mode, one
 * of which switches itself from real to protected to long mode.
 *
 * Built with the guest code flags (Makefile: GUEST_CFLAGS).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define STR(x)	#x
#define XSTR(x)	STR(x)

GUEST_FIXTURE(guest_test)

/* The vCPU's next exit is of this kind. */
static void expect_exit(struct __test_metadata *_metadata,
			struct guest_vcpu *vcpu, uint32_t reason)
{
	struct ucall uc = { .cmd = UCALL_NONE };
	char why[512];

	ASSERT_VHM(guest_run(vcpu));
	if (vcpu->run->exit_reason != reason)
		guest_ucall_of_exit(vcpu, &uc);
	ASSERT_EQ(reason, vcpu->run->exit_reason)
		TH_LOG("%s", guest_describe(vcpu, &uc, why, sizeof(why)));
}

static void expect_io(struct __test_metadata *_metadata,
		      struct guest_vcpu *vcpu, int dir, int port, int size)
{
	expect_exit(_metadata, vcpu, VHM_EXIT_IO);
	EXPECT_EQ(dir, vcpu->run->io.direction);
	EXPECT_EQ(port, vcpu->run->io.port);
	EXPECT_EQ(size, vcpu->run->io.size);
	EXPECT_EQ(1, vcpu->run->io.count);
}

static void expect_mmio(struct __test_metadata *_metadata,
			struct guest_vcpu *vcpu, uint64_t gpa, int len,
			int is_write)
{
	expect_exit(_metadata, vcpu, VHM_EXIT_MMIO);
	EXPECT_EQ(gpa, vcpu->run->mmio.phys_addr);
	EXPECT_EQ(len, vcpu->run->mmio.len);
	EXPECT_EQ(is_write, vcpu->run->mmio.is_write);
}

/* ---------------------------------------------------------------------
 * ucalls
 */

static void guest_sync_123(uint64_t arg)
{
	GUEST_SYNC(arg);
	GUEST_SYNC(1);
	GUEST_SYNC(2);
	GUEST_SYNC(3);
	GUEST_DONE();
}

TEST_F(guest_test, sync_then_done)
{
	struct guest_vcpu *v = &self->vcpu;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_sync_123, 0xabcdef));
	ASSERT_GUEST_SYNC(v, 0xabcdef);
	ASSERT_GUEST_SYNC(v, 1);
	ASSERT_GUEST_SYNC(v, 2);
	ASSERT_GUEST_SYNC(v, 3);
	ASSERT_GUEST_DONE(v);
	/* After GUEST_DONE, the vCPU halts. */
	expect_exit(_metadata, v, VHM_EXIT_HLT);
}

static void guest_returns(void)
{
	GUEST_SYNC(5);
}

TEST_F(guest_test, return_is_done)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_returns, 0));
	ASSERT_GUEST_SYNC(v, 5);
	ASSERT_GUEST_UCALL(v, UCALL_DONE, &uc);
	EXPECT_STREQ("the guest function returned", uc.msg);
	expect_exit(_metadata, v, VHM_EXIT_HLT);
}

/* The guest's own copy: the line of the failing assertion. */
static uint64_t assert_line;

static void guest_assert_eq(uint64_t seven)
{
	GUEST_ASSERT_EQ(seven, 7);
	assert_line = __LINE__; GUEST_ASSERT_EQ(seven, 42);
	GUEST_FAIL("GUEST_ASSERT_EQ went on");
}

/* The host sees the failure with the guest's file, line and values. */
TEST_F(guest_test, assert_eq_reports_file_and_line)
{
	struct guest_vcpu *v = &self->vcpu;
	char file[128], why[512], want[256];
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_assert_eq, 7));
	ASSERT_EQ(UCALL_ABORT, get_ucall(v, &uc))
		TH_LOG("%s", guest_describe(v, &uc, why, sizeof(why)));
	sync_global_from_guest(&self->vm, assert_line);
	ASSERT_NE(0, assert_line);
	EXPECT_EQ(assert_line, uc.line);
	EXPECT_STREQ("guest_test.c", guest_string(&self->vm, (uintptr_t)uc.file,
						  file, sizeof(file)));
	EXPECT_STREQ("seven == 42", uc.msg);
	EXPECT_EQ(2, uc.nargs);
	EXPECT_EQ(7, uc.args[0]);
	EXPECT_EQ(42, uc.args[1]);
	/* What ASSERT_GUEST_* would print. */
	guest_describe(v, &uc, why, sizeof(why));
	snprintf(want, sizeof(want),
		 "assertion failed at guest_test.c:%llu: seven == 42 (0x7 vs 0x2a)",
		 (unsigned long long)assert_line);
	EXPECT_STREQ(want, why);
	/* After an assertion, the vCPU halts. */
	expect_exit(_metadata, v, VHM_EXIT_HLT);
}

static void guest_assert(uint64_t three)
{
	assert_line = __LINE__; GUEST_ASSERT(three > 5);
	GUEST_FAIL("GUEST_ASSERT went on");
}

TEST_F(guest_test, assert_reports_condition)
{
	struct guest_vcpu *v = &self->vcpu;
	char why[512], want[256];
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_assert, 3));
	ASSERT_EQ(UCALL_ABORT, get_ucall(v, &uc))
		TH_LOG("%s", guest_describe(v, &uc, why, sizeof(why)));
	sync_global_from_guest(&self->vm, assert_line);
	EXPECT_EQ(assert_line, uc.line);
	EXPECT_STREQ("three > 5", uc.msg);
	EXPECT_EQ(0, uc.nargs);
	snprintf(want, sizeof(want), "assertion failed at guest_test.c:%llu: three > 5",
		 (unsigned long long)assert_line);
	EXPECT_STREQ(want, guest_describe(v, &uc, why, sizeof(why)));
}

/* ---------------------------------------------------------------------
 * Memory shared with the host
 */

static uint64_t shared_value;

static void guest_shared_global(void)
{
	GUEST_ASSERT_EQ(shared_value, 0x1234);
	shared_value = 0x5678;
	GUEST_SYNC(&shared_value);
	/* The host wrote it during the sync. */
	GUEST_ASSERT_EQ(shared_value, 0x9abc);
	GUEST_DONE();
}

TEST_F(guest_test, shared_global)
{
	struct guest_vcpu *v = &self->vcpu;

	RETURN_IF_SKIPPED();
	shared_value = 0x1234;
	sync_global_to_guest(&self->vm, shared_value);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_shared_global, 0));
	/* The same address in the guest as in the host. */
	ASSERT_GUEST_SYNC(v, (uintptr_t)&shared_value);
	EXPECT_EQ(0x5678, *guest_var(&self->vm, shared_value));
	EXPECT_EQ(0x5678, *(uint64_t *)(self->vm.ram + (uintptr_t)&shared_value));
	/* Two copies: the host's own is untouched. */
	EXPECT_EQ(0x1234, shared_value);
	*guest_var(&self->vm, shared_value) = 0x9abc;
	ASSERT_GUEST_DONE(v);
}

static void guest_long_mode_state(void)
{
	uint64_t rsp;

	asm volatile("mov %%rsp, %0" : "=r"(rsp));
	GUEST_SYNC_ARGS(guest_read_cr0(), guest_read_cr3(), guest_read_cr4(),
			rsp);
	GUEST_DONE();
}

TEST_F(guest_test, long_mode_state)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_sregs s;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_long_mode_state, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG,
		  uc.args[0]);
	EXPECT_EQ(GUEST_PML4, uc.args[1]);
	EXPECT_EQ(X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT, uc.args[2]);
	/* On vCPU 0's stack, below GUEST_IMAGE. */
	EXPECT_GT(GUEST_IMAGE, uc.args[3]);
	EXPECT_LT(GUEST_IMAGE - GUEST_STACK_SIZE, uc.args[3]);
	ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
	EXPECT_EQ(EFER_LME | EFER_LMA, s.efer);
	EXPECT_EQ(GUEST_SEL_CODE64, s.cs.selector);
	EXPECT_TRUE(s.cs.attrib & VHM_SEG_L);
	ASSERT_GUEST_DONE(v);
}

static void guest_report_id(uint64_t id)
{
	uint64_t rsp;

	asm volatile("mov %%rsp, %0" : "=r"(rsp));
	GUEST_SYNC_ARGS(id, rsp, 0, 0);
	GUEST_SYNC(id + 100);
	GUEST_DONE();
}

/* Each vCPU has its own stack; both run the same guest code. */
TEST_F(guest_test, two_vcpus)
{
	struct guest_vcpu *v0 = &self->vcpu, v1;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_create(&self->vm, 1, &v1));
	ASSERT_VHM(guest_vcpu_start_long(v0, guest_report_id, 0));
	ASSERT_VHM(guest_vcpu_start_long(&v1, guest_report_id, 1));
	ASSERT_GUEST_UCALL(&v1, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_GT(GUEST_IMAGE - GUEST_STACK_SIZE, uc.args[1]);
	EXPECT_LT(GUEST_IMAGE - 2 * GUEST_STACK_SIZE, uc.args[1]);
	ASSERT_GUEST_UCALL(v0, UCALL_SYNC, &uc);
	EXPECT_EQ(0, uc.args[0]);
	EXPECT_GT(GUEST_IMAGE, uc.args[1]);
	EXPECT_LT(GUEST_IMAGE - GUEST_STACK_SIZE, uc.args[1]);
	ASSERT_GUEST_SYNC(v0, 100);
	ASSERT_GUEST_SYNC(&v1, 101);
	ASSERT_GUEST_DONE(&v1);
	ASSERT_GUEST_DONE(v0);
	guest_vcpu_free(&v1);
}

/* ---------------------------------------------------------------------
 * Exits from 64-bit mode: CPUID (handled in the module), port I/O, MMIO,
 * HLT and VMMCALL.
 */

static void guest_cpuid_leaves(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
	guest_cpuid(0x80000001, 0, &a, &b, &c, &d);
	GUEST_SYNC_ARGS(a, b, c, d);
	GUEST_DONE();
}

TEST_F(guest_test, cpuid)
{
	struct guest_vcpu *v = &self->vcpu;
	char vendor[13] = "", host_id[13] = "";
	unsigned int a, b, c, d;
	uint32_t regs[3];
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_cpuid_leaves, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	__cpuid(0, a, b, c, d);
	/* vhm's table stops at leaf 0xd (XSAVE): the maximum says so. */
	EXPECT_EQ(a < 0xd ? a : 0xd, uc.args[0]);
	regs[0] = uc.args[1];
	regs[1] = uc.args[3];
	regs[2] = uc.args[2];
	memcpy(vendor, regs, 12);
	regs[0] = b;
	regs[1] = d;
	regs[2] = c;
	memcpy(host_id, regs, 12);
	EXPECT_STREQ(host_id, vendor);

	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	__cpuid(1, a, b, c, d);
	EXPECT_EQ(a, uc.args[0]);	/* family, model, stepping */
	EXPECT_TRUE(uc.args[2] & (1u << 31)) TH_LOG("no hypervisor bit: %#llx",
						     (unsigned long long)uc.args[2]);
	if (host_vendor() == VENDOR_INTEL) {
		EXPECT_TRUE(c & (1u << 5));	/* the test host has VMX... */
		EXPECT_FALSE(uc.args[2] & (1u << 5)) TH_LOG("VMX visible: %#llx",
							    (unsigned long long)uc.args[2]);
	}

	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	__cpuid(0x80000001, a, b, c, d);
	if (host_vendor() == VENDOR_AMD)
		EXPECT_TRUE(c & (1u << 2));	/* the test host has SVM... */
	EXPECT_FALSE(uc.args[2] & (1u << 2)) TH_LOG("SVM visible: %#llx",
						    (unsigned long long)uc.args[2]);
	ASSERT_GUEST_DONE(v);
}

static void guest_port_io(void)
{
	uint8_t b;
	uint16_t w;
	uint32_t l;

	guest_outb(0x80, 0x12);
	guest_outw(0x1234, 0xbeef);
	guest_outl(0x10, 0xcafef00d);
	b = guest_inb(0x60);
	w = guest_inw(0x61);
	l = guest_inl(0x4000);
	GUEST_SYNC_ARGS(b, w, l, 0);
	GUEST_DONE();
}

TEST_F(guest_test, port_io)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_port_io, 0));
	expect_io(_metadata, v, VHM_IO_OUT, 0x80, 1);
	EXPECT_EQ(0x12, *(uint8_t *)vhm_io_data(&v->raw));
	expect_io(_metadata, v, VHM_IO_OUT, 0x1234, 2);
	EXPECT_EQ(0xbeef, *(uint16_t *)vhm_io_data(&v->raw));
	expect_io(_metadata, v, VHM_IO_OUT, 0x10, 4);
	EXPECT_EQ(0xcafef00d, *(uint32_t *)vhm_io_data(&v->raw));
	expect_io(_metadata, v, VHM_IO_IN, 0x60, 1);
	*(uint8_t *)vhm_io_data(&v->raw) = 0xa5;
	expect_io(_metadata, v, VHM_IO_IN, 0x61, 2);
	*(uint16_t *)vhm_io_data(&v->raw) = 0x1357;
	expect_io(_metadata, v, VHM_IO_IN, 0x4000, 4);
	*(uint32_t *)vhm_io_data(&v->raw) = 0x89abcdef;
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(0xa5, uc.args[0]);
	EXPECT_EQ(0x1357, uc.args[1]);
	EXPECT_EQ(0x89abcdef, uc.args[2]);
	ASSERT_GUEST_DONE(v);
}

static void guest_mmio(void)
{
	volatile uint64_t *q = (volatile uint64_t *)GUEST_MMIO_BASE;
	uint64_t val = *q;
	uint32_t l;
	uint8_t b;

	*q = val + 1;
	guest_writel(GUEST_MMIO_BASE + 0x10, 0xdeadbeef);
	guest_writew(GUEST_MMIO_BASE + 0x20, 0xbeef);
	guest_writeb(GUEST_MMIO_BASE + 0x30, 0x5a);
	l = guest_readl(GUEST_MMIO_BASE + 0x14);
	b = guest_readb(GUEST_MMIO_BASE + 0x1fffff);
	GUEST_SYNC_ARGS(val, l, b, 0);
	GUEST_DONE();
}

/* 0xc0000000 is in the guest's page tables but in no slot. */
TEST_F(guest_test, mmio_outside_slots)
{
	struct guest_vcpu *v = &self->vcpu;
	uint64_t val = 0x1122334455667788ull, data;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_mmio, 0));
	expect_mmio(_metadata, v, GUEST_MMIO_BASE, 8, 0);
	memcpy(v->run->mmio.data, &val, 8);
	expect_mmio(_metadata, v, GUEST_MMIO_BASE, 8, 1);
	memcpy(&data, v->run->mmio.data, 8);
	EXPECT_EQ(val + 1, data);
	expect_mmio(_metadata, v, GUEST_MMIO_BASE + 0x10, 4, 1);
	EXPECT_EQ(0xdeadbeef, *(uint32_t *)v->run->mmio.data);
	expect_mmio(_metadata, v, GUEST_MMIO_BASE + 0x20, 2, 1);
	EXPECT_EQ(0xbeef, *(uint16_t *)v->run->mmio.data);
	expect_mmio(_metadata, v, GUEST_MMIO_BASE + 0x30, 1, 1);
	EXPECT_EQ(0x5a, v->run->mmio.data[0]);
	expect_mmio(_metadata, v, GUEST_MMIO_BASE + 0x14, 4, 0);
	*(uint32_t *)v->run->mmio.data = 0x76543210;
	expect_mmio(_metadata, v, GUEST_MMIO_BASE + 0x1fffff, 1, 0);
	v->run->mmio.data[0] = 0xc3;
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(val, uc.args[0]);
	EXPECT_EQ(0x76543210, uc.args[1]);
	EXPECT_EQ(0xc3, uc.args[2]);
	ASSERT_GUEST_DONE(v);
}

static uint32_t movs_src[3] = { 0x11111111, 0x22222222, 0x33333333 };
static uint32_t movs_dst[3];

/* rep movsl to MMIO (a device FIFO) and from MMIO into RAM. */
static void guest_mmio_movs(void)
{
	void *d = (void *)GUEST_MMIO_BASE, *src = movs_src, *dst = movs_dst;
	unsigned long n = 3;

	asm volatile("rep movsl" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	GUEST_ASSERT_EQ(n, 0);
	d = dst;
	src = (void *)(GUEST_MMIO_BASE + 0x100);
	n = 3;
	asm volatile("rep movsl" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	GUEST_SYNC_ARGS(movs_dst[0], movs_dst[1], movs_dst[2],
			(uint64_t)src);
	GUEST_DONE();
}

/* Each element of a rep movs with an MMIO side is one exit, in order. */
TEST_F(guest_test, mmio_rep_movs)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;
	uint32_t i, w;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_mmio_movs, 0));
	for (i = 0; i < 3; i++) {
		expect_mmio(_metadata, v, GUEST_MMIO_BASE + 4 * i, 4, 1);
		memcpy(&w, v->run->mmio.data, 4);
		EXPECT_EQ(0x11111111u * (i + 1), w);
	}
	for (i = 0; i < 3; i++) {
		expect_mmio(_metadata, v, GUEST_MMIO_BASE + 0x100 + 4 * i, 4, 0);
		w = 0xa0a0a0a0 + i;
		memcpy(v->run->mmio.data, &w, 4);
	}
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(0xa0a0a0a0, uc.args[0]);
	EXPECT_EQ(0xa0a0a0a1, uc.args[1]);
	EXPECT_EQ(0xa0a0a0a2, uc.args[2]);
	EXPECT_EQ(GUEST_MMIO_BASE + 0x10c, uc.args[3]);
	ASSERT_GUEST_DONE(v);
}

/*
 * Issue 13, defect 9: what vhm emulates (string port I/O, MOVS with an
 * MMIO side) obeys the guest's page tables as the CPU would. A read-only
 * page (CR0.WP) takes neither INS nor a MOVS from MMIO: both are a #PF
 * with error code P|W and CR2, no exit, no byte written. With SMAP, a
 * supervisor INS into a user page faults while RFLAGS.AC is clear and
 * works once STAC sets it.
 */
#define PROT_PORT	0x99
#define PTE_RW		(1ull << 1)
#define PTE_US		(1ull << 2)
#define CR0_WP		(1ull << 16)
#define CR4_SMAP	(1ull << 21)

static uint64_t prot_pf_count, prot_pf_error, prot_pf_cr2;

static void prot_pf_handler(struct ex_regs *regs)
{
	prot_pf_count++;
	prot_pf_error = regs->error_code;
	prot_pf_cr2 = guest_read_cr2();
	regs->rip += 2;		/* rep insb (f3 6c), rep movsb (f3 a4) */
}

static void guest_write_cr(int n, uint64_t v)
{
	if (n == 0)
		asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
	else if (n == 3)
		asm volatile("mov %0, %%cr3" : : "r"(v) : "memory");
	else
		asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* Set or clear bits in the entries mapping region (all levels if user). */
static void prot_pte(uint64_t region, uint64_t set, uint64_t clear, bool all)
{
	volatile uint64_t *pml4 = (uint64_t *)GUEST_PML4;
	volatile uint64_t *pdpt = (uint64_t *)GUEST_PDPT;
	volatile uint64_t *pd = (uint64_t *)GUEST_PD;

	pd[region >> 21] = (pd[region >> 21] | set) & ~clear;
	if (all) {
		pdpt[region >> 30] = (pdpt[region >> 30] | set) & ~clear;
		pml4[0] = (pml4[0] | set) & ~clear;
	}
	guest_write_cr(3, guest_read_cr3());	/* flush the TLB */
}

static uint64_t prot_insb(uint8_t *p)
{
	void *d = p;
	unsigned long n = 4;

	asm volatile("rep insb" : "+D"(d), "+c"(n) : "d"(PROT_PORT) : "memory");
	return n;
}

static void guest_protected_pages(uint64_t region)
{
	volatile uint8_t *p = (uint8_t *)region;
	void *d, *src;
	unsigned long n;
	uint64_t v;
	uint32_t a, b, c, dd;

	guest_set_handler(14, prot_pf_handler);
	p[0] = 0x5a;
	guest_write_cr(0, guest_read_cr0() | CR0_WP);
	prot_pte(region, 0, PTE_RW, false);
	n = prot_insb((uint8_t *)p);
	GUEST_SYNC_ARGS(prot_pf_count, prot_pf_error, prot_pf_cr2,
			p[0] | n << 8);
	d = (void *)p;
	src = (void *)GUEST_MMIO_BASE;
	n = 4;
	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	GUEST_SYNC_ARGS(prot_pf_count, prot_pf_error, prot_pf_cr2,
			p[0] | n << 8);
	prot_pte(region, PTE_RW, 0, false);

	guest_cpuid(7, 0, &a, &b, &c, &dd);
	if (!(b & (1u << 20))) {	/* no SMAP */
		GUEST_SYNC_ARGS(0, 0, 0, 0);
		GUEST_DONE();
		return;
	}
	prot_pte(region, PTE_US, 0, true);
	guest_write_cr(4, guest_read_cr4() | CR4_SMAP);
	asm volatile("clac" : : : "memory");
	n = prot_insb((uint8_t *)p);
	asm volatile("stac" : : : "memory");	/* to read the user page */
	v = p[0];
	asm volatile("clac" : : : "memory");
	GUEST_SYNC_ARGS(prot_pf_count, prot_pf_error, prot_pf_cr2,
			v | n << 8);
	asm volatile("stac" : : : "memory");
	n = prot_insb((uint8_t *)p);
	v = p[0];
	asm volatile("clac" : : : "memory");
	guest_write_cr(4, guest_read_cr4() & ~CR4_SMAP);
	prot_pte(region, 0, PTE_US, true);
	GUEST_SYNC_ARGS(prot_pf_count, 0, 0, v | n << 8);
	GUEST_DONE();
}

TEST_F(guest_test, emulated_accesses_obey_guest_page_tables)
{
	struct guest_vcpu *v = &self->vcpu;
	uint64_t region;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	region = (self->vm.free_gpa + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	ASSERT_LE(region + (2ull << 20), self->vm.ram_size);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_protected_pages, region));
	/* INS into the read-only page: #PF, P|W, no exit, nothing written. */
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(3, uc.args[1]);
	EXPECT_EQ(region, uc.args[2]);
	EXPECT_EQ(0x5a | 4 << 8, uc.args[3]);
	/* MOVS from MMIO into it: the same, before any MMIO exit. */
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(3, uc.args[1]);
	EXPECT_EQ(region, uc.args[2]);
	EXPECT_EQ(0x5a | 4 << 8, uc.args[3]);
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	if (!uc.args[0]) {
		ASSERT_GUEST_DONE(v);
		TH_LOG("the CPU has no SMAP: the SMAP case did not run");
		return;
	}
	/* SMAP, AC clear: #PF, P|W (supervisor). */
	EXPECT_EQ(3, uc.args[0]);
	EXPECT_EQ(3, uc.args[1]);
	EXPECT_EQ(region, uc.args[2]);
	EXPECT_EQ(0x5a | 4 << 8, uc.args[3]);
	/* AC set: the INS exits and its bytes land. */
	expect_exit(_metadata, v, VHM_EXIT_IO);
	EXPECT_EQ(VHM_IO_IN, v->run->io.direction);
	EXPECT_EQ(PROT_PORT, v->run->io.port);
	EXPECT_EQ(4, v->run->io.count);
	memset((uint8_t *)v->run + v->run->io.data_offset, 0xa5, 4);
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(3, uc.args[0]);
	EXPECT_EQ(0xa5, uc.args[3]);
	ASSERT_GUEST_DONE(v);
}

static void guest_hlt_vmmcall(void)
{
	guest_hlt();
	GUEST_SYNC(1);
	GUEST_SYNC(guest_vmmcall(0x42, 1, 2, 3, 4, 5, 6));
	GUEST_DONE();
}

TEST_F(guest_test, hlt_and_vmmcall)
{
	struct guest_vcpu *v = &self->vcpu;
	int i;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_hlt_vmmcall, 0));
	expect_exit(_metadata, v, VHM_EXIT_HLT);
	ASSERT_GUEST_SYNC(v, 1);
	expect_exit(_metadata, v, VHM_EXIT_HYPERCALL);
	EXPECT_EQ(0x42, v->run->hypercall.nr);
	for (i = 0; i < 6; i++)
		EXPECT_EQ(i + 1, v->run->hypercall.args[i]) TH_LOG("arg %d", i);
	v->run->hypercall.ret = 0xfeedface;
	ASSERT_GUEST_SYNC(v, 0xfeedface);
	ASSERT_GUEST_DONE(v);
}

static void guest_sse(void)
{
	uint64_t lo = 0x0123456789abcdefull, hi = 0xfedcba9876543210ull;
	uint64_t back_lo, back_hi;

	asm volatile("movq %0, %%xmm5\n\t"
		     "movq %1, %%xmm4\n\t"
		     "punpcklqdq %%xmm4, %%xmm5"
		     : : "r"(lo), "r"(hi) : "xmm4", "xmm5");
	GUEST_SYNC(1);
	asm volatile("movq %%xmm5, %0\n\t"
		     "pshufd $0xee, %%xmm5, %%xmm4\n\t"
		     "movq %%xmm4, %1"
		     : "=r"(back_lo), "=r"(back_hi) : : "xmm4");
	GUEST_ASSERT_EQ(back_lo, lo);
	GUEST_ASSERT_EQ(back_hi, hi);
	GUEST_DONE();
}

/*
 * The guest's XMM registers survive a ucall while the host changes its
 * own: the library's ucall path leaves them alone, vhm keeps them apart.
 */
TEST_F(guest_test, sse_survives_ucall)
{
	struct guest_vcpu *v = &self->vcpu;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_sse, 0));
	ASSERT_GUEST_SYNC(v, 1);
	asm volatile("pcmpeqd %%xmm5, %%xmm5" : : : "xmm5");
	ASSERT_GUEST_DONE(v);
}

/* ---------------------------------------------------------------------
 * Exceptions
 */

extern const char ud2_insn[], pf_insn[];

static void guest_ud2(void)
{
	asm volatile(".globl ud2_insn\nud2_insn: ud2");
	GUEST_FAIL("ud2 went on");
}

TEST_F(guest_test, ud2_reports_vector_and_rip)
{
	struct guest_vcpu *v = &self->vcpu;
	char why[512];
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_ud2, 0));
	ASSERT_EQ(UCALL_EXCEPTION, get_ucall(v, &uc))
		TH_LOG("%s", guest_describe(v, &uc, why, sizeof(why)));
	EXPECT_EQ(6, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	EXPECT_EQ((uintptr_t)ud2_insn, uc.args[2]);
	guest_describe(v, &uc, why, sizeof(why));
	EXPECT_NE(NULL, strstr(why, "exception #UD (vector 6)")) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(why, "(ud2_insn+0)")) TH_LOG("%s", why);
	/* The stub halts after reporting. */
	expect_exit(_metadata, v, VHM_EXIT_HLT);
}

static void guest_page_fault(void)
{
	uint64_t val;

	asm volatile(".globl pf_insn\npf_insn: movq (%1), %0"
		     : "=r"(val) : "r"(GUEST_MAPPED_END) : "memory");
	GUEST_FAIL("the load went on");
}

/* Past the identity map: #PF, not present, with CR2. */
TEST_F(guest_test, page_fault_reports_cr2)
{
	struct guest_vcpu *v = &self->vcpu;
	char why[512];
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(v, guest_page_fault, 0));
	ASSERT_EQ(UCALL_EXCEPTION, get_ucall(v, &uc))
		TH_LOG("%s", guest_describe(v, &uc, why, sizeof(why)));
	EXPECT_EQ(14, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);	/* not present, read, supervisor */
	EXPECT_EQ((uintptr_t)pf_insn, uc.args[2]);
	EXPECT_EQ(GUEST_MAPPED_END, uc.args[3]);
}

static uint64_t ud_count, bp_count;

static void ud_handler(struct ex_regs *regs)
{
	ud_count++;
	regs->rip += 2;		/* past ud2 */
}

static void bp_handler(struct ex_regs *regs)
{
	bp_count++;
	regs->rbx = 0xb0b0;	/* back in the guest's RBX */
}

static void guest_handled_exceptions(void)
{
	uint64_t rbx = 0;

	guest_set_handler(6, ud_handler);
	asm volatile("ud2");
	asm volatile("ud2");
	asm volatile("int3" : "+b"(rbx));
	GUEST_SYNC_ARGS(ud_count, bp_count, rbx, 0);
	GUEST_DONE();
}

/* Handlers installed by the guest (#UD) and by the host (#BP) resume it. */
TEST_F(guest_test, exception_handlers_resume)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	guest_vm_set_handler(&self->vm, 3, bp_handler);
	ASSERT_VHM(guest_vcpu_start_long(v, guest_handled_exceptions, 0));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(0xb0b0, uc.args[2]);
	ASSERT_GUEST_DONE(v);
}

/* ---------------------------------------------------------------------
 * Real and protected mode guests, in machine code. A ucall from them is a
 * struct ucall of their own (offsets in include/guest.h) whose linear
 * address they OUT to UCALL_PORT.
 */

/*
 * Real mode at 0x12340 (CS 0x1000, IP 0x2340): reports CS, SP and CR0.
 * R16_OFF: offset in CS (= DS); R16_LIN: linear address.
 */
#define R16_GPA	0x12340
asm(
	"	.pushsection .rodata.guest_code, \"a\"\n"
	"	.code16\n"
	"r16_start:\n"
	"	movw %cs, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, r16_uc - r16_start + 0x2340 + 24\n"
	"	movw %sp, r16_uc - r16_start + 0x2340 + 32\n"
	"	movl %cr0, %eax\n"
	"	movl %eax, r16_uc - r16_start + 0x2340 + 40\n"
	"	movl $(r16_uc - r16_start + " XSTR(R16_GPA) "), %eax\n"
	"	movw $" XSTR(UCALL_PORT) ", %dx\n"
	"	outl %eax, %dx\n"
	"	hlt\n"
	"	.balign 8\n"
	"r16_uc:\n"
	"	.quad " XSTR(UCALL_SYNC) ", 4, 16, 0, 0, 0, 0, 0\n"
	"	.fill " XSTR(UCALL_MSG_LEN) ", 1, 0\n"
	"r16_end:\n"
	"	.code64\n"
	"	.popsection\n");
extern const uint8_t r16_start[], r16_end[];

TEST_F(guest_test, real_mode_start)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_real(v, R16_GPA, r16_start,
					 r16_end - r16_start));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(16, uc.args[0]);
	EXPECT_EQ(0x1000, uc.args[1]);
	EXPECT_EQ(GUEST_LOW_STACK, uc.args[2]);
	EXPECT_EQ(0, uc.args[3] & X86_CR0_PE);
	expect_exit(_metadata, v, VHM_EXIT_HLT);
}

/* 32-bit protected mode at GUEST_LOW_CODE: reports CS, ESP and CR0. */
asm(
	"	.pushsection .rodata.guest_code, \"a\"\n"
	"	.code32\n"
	"p32_start:\n"
	"	movl %cs, %eax\n"
	"	movl %eax, p32_uc - p32_start + " XSTR(GUEST_LOW_CODE) " + 24\n"
	"	movl %esp, p32_uc - p32_start + " XSTR(GUEST_LOW_CODE) " + 32\n"
	"	movl %cr0, %eax\n"
	"	movl %eax, p32_uc - p32_start + " XSTR(GUEST_LOW_CODE) " + 40\n"
	"	movl $(p32_uc - p32_start + " XSTR(GUEST_LOW_CODE) "), %eax\n"
	"	movw $" XSTR(UCALL_PORT) ", %dx\n"
	"	outl %eax, %dx\n"
	"	hlt\n"
	"	.balign 8\n"
	"p32_uc:\n"
	"	.quad " XSTR(UCALL_SYNC) ", 4, 32, 0, 0, 0, 0, 0\n"
	"	.fill " XSTR(UCALL_MSG_LEN) ", 1, 0\n"
	"p32_end:\n"
	"	.code64\n"
	"	.popsection\n");
extern const uint8_t p32_start[], p32_end[];

TEST_F(guest_test, protected_mode_start)
{
	struct guest_vcpu *v = &self->vcpu;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_prot32(v, GUEST_LOW_CODE, p32_start,
					   p32_end - p32_start));
	ASSERT_GUEST_UCALL(v, UCALL_SYNC, &uc);
	EXPECT_EQ(32, uc.args[0]);
	EXPECT_EQ(GUEST_SEL_CODE32, uc.args[1]);
	EXPECT_EQ(GUEST_IMAGE, uc.args[2]);
	EXPECT_EQ(X86_CR0_PE, uc.args[3] & (X86_CR0_PE | X86_CR0_PG));
	expect_exit(_metadata, v, VHM_EXIT_HLT);
}

/*
 * From real mode to protected mode to long mode with the guest's own GDT,
 * 32-bit IDT and page tables (the first GiB, 2 MiB pages), syncing 16, 32
 * and 64 on the way; then it loads the library's IDT and calls the C
 * function whose address the host put in ESI. The 32-bit IDT's stubs
 * report exceptions as UCALL_EXCEPTION (vector, error code, EIP, CR2).
 * Runs at GUEST_LOW_CODE with CS = 0; MS(x) is x's address there.
 */
#define MS_PML4		0x20000
#define MS_PDPT		0x21000
#define MS_PD		0x22000
#define MS_IDT32	0x23000
#define MS_STACK64	0x90000
#define MS(x)		#x " - ms_start + " XSTR(GUEST_LOW_CODE)
#define MS_UCALL(uc)							\
	"	movl $" MS(uc) ", %eax\n"				\
	"	movw $" XSTR(UCALL_PORT) ", %dx\n"			\
	"	outl %eax, %dx\n"
#define MS_SYNC_STRUCT(name, val)					\
	"	.balign 8\n"						\
	#name ":\n"							\
	"	.quad " XSTR(UCALL_SYNC) ", 1, " #val ", 0, 0, 0, "	\
		MS(ms_file) ", 0\n"					\
	"	.fill " XSTR(UCALL_MSG_LEN) ", 1, 0\n"
asm(
	"	.pushsection .rodata.guest_code, \"a\"\n"
	"	.globl ms_start, ms_end, ms_wrmsr\n"
	"	.code16\n"
	"ms_start:\n"
	"	cli\n"
	"	xorw %ax, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movw $" XSTR(GUEST_LOW_STACK) ", %sp\n"
	MS_UCALL(ms_uc16)
	"	lgdtl " MS(ms_gdtr) "\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"			/* PE */
	"	movl %eax, %cr0\n"
	"	ljmpl $" XSTR(GUEST_SEL_CODE32) ", $" MS(ms_pm32) "\n"

	"	.code32\n"
	"ms_pm32:\n"
	"	movw $" XSTR(GUEST_SEL_DATA) ", %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	movw %ax, %ss\n"
	"	movl $" XSTR(GUEST_LOW_STACK) ", %esp\n"
	/* 32 interrupt gates to ms_exc32 + 16 * vector. */
	"	movl $" XSTR(MS_IDT32) ", %edi\n"
	"	movl $" MS(ms_exc32) ", %eax\n"
	"	movl $32, %ecx\n"
	"1:	movw %ax, (%edi)\n"
	"	movw $" XSTR(GUEST_SEL_CODE32) ", 2(%edi)\n"
	"	movw $0x8e00, 4(%edi)\n"
	"	movl %eax, %edx\n"
	"	shrl $16, %edx\n"
	"	movw %dx, 6(%edi)\n"
	"	addl $16, %eax\n"
	"	addl $8, %edi\n"
	"	loop 1b\n"
	"	lidt " MS(ms_idtr32) "\n"
	MS_UCALL(ms_uc32)
	/* Identity map the first GiB: PD entries P | RW | PS. */
	"	movl $" XSTR(MS_PD) ", %edi\n"
	"	movl $0x83, %eax\n"
	"	movl $512, %ecx\n"
	"2:	movl %eax, (%edi)\n"
	"	movl $0, 4(%edi)\n"
	"	addl $0x200000, %eax\n"
	"	addl $8, %edi\n"
	"	loop 2b\n"
	"	movl $(" XSTR(MS_PD) " + 3), " XSTR(MS_PDPT) "\n"
	"	movl $(" XSTR(MS_PDPT) " + 3), " XSTR(MS_PML4) "\n"
	"	movl %cr4, %eax\n"
	"	orl $0x20, %eax\n"		/* PAE */
	"	movl %eax, %cr4\n"
	"	movl $" XSTR(MS_PML4) ", %eax\n"
	"	movl %eax, %cr3\n"
	"	movl $" XSTR(MSR_EFER_NR) ", %ecx\n"
	"	movl $0x100, %eax\n"		/* LME */
	"	xorl %edx, %edx\n"
	"ms_wrmsr:\n"
	"	wrmsr\n"
	"	movl %cr0, %eax\n"
	"	orl $0x80000000, %eax\n"	/* PG */
	"	movl %eax, %cr0\n"
	"	ljmp $" XSTR(GUEST_SEL_CODE64) ", $" MS(ms_lm64) "\n"

	"	.code64\n"
	"ms_lm64:\n"
	"	movw $" XSTR(GUEST_SEL_DATA) ", %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movl $" XSTR(MS_STACK64) ", %esp\n"
	"	lidt " MS(ms_idtr64) "\n"
	MS_UCALL(ms_uc64)
	"	movl %esi, %esi\n"
	"	call *%rsi\n"
	"3:	hlt\n"
	"	jmp 3b\n"

	/* 32-bit exception stubs: push a 0 error code if the CPU did not. */
	"	.code32\n"
	"	.balign 16\n"
	"ms_exc32:\n"
	"	.set ms_vec, 0\n"
	"	.rept 32\n"
	"	.if !(ms_vec == 8 || (ms_vec >= 10 && ms_vec <= 14) || ms_vec == 17)\n"
	"	pushl $0\n"
	"	.endif\n"
	"	pushl $ms_vec\n"
	"	jmp ms_exc32_common\n"
	"	.balign 16\n"
	"	.set ms_vec, ms_vec + 1\n"
	"	.endr\n"
	"ms_exc32_common:\n"
	"	popl " MS(ms_ucexc) " + 16\n"	/* args[0]: vector */
	"	popl " MS(ms_ucexc) " + 24\n"	/* args[1]: error code */
	"	popl " MS(ms_ucexc) " + 32\n"	/* args[2]: EIP */
	"	movl %cr2, %eax\n"
	"	movl %eax, " MS(ms_ucexc) " + 40\n"	/* args[3]: CR2 */
	MS_UCALL(ms_ucexc)
	"4:	hlt\n"
	"	jmp 4b\n"
	"	.code64\n"

	MS_SYNC_STRUCT(ms_uc16, 16)
	MS_SYNC_STRUCT(ms_uc32, 32)
	MS_SYNC_STRUCT(ms_uc64, 64)
	"	.balign 8\n"
	"ms_ucexc:\n"
	"	.quad " XSTR(UCALL_EXCEPTION) ", 4, 0, 0, 0, 0, " MS(ms_file) ", 0\n"
	"	.fill " XSTR(UCALL_MSG_LEN) ", 1, 0\n"
	"	.balign 8\n"
	"ms_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00af9b000000ffff\n"	/* 0x08: 64-bit code */
	"	.quad 0x00cf93000000ffff\n"	/* 0x10: data */
	"	.quad 0x00cf9b000000ffff\n"	/* 0x18: 32-bit code */
	"ms_gdtr:\n"
	"	.word 4 * 8 - 1\n"
	"	.long " MS(ms_gdt) "\n"
	"ms_idtr32:\n"
	"	.word 32 * 8 - 1\n"
	"	.long " XSTR(MS_IDT32) "\n"
	"ms_idtr64:\n"
	"	.word " XSTR(GUEST_NR_VECTORS) " * 16 - 1\n"
	"	.quad " XSTR(GUEST_IDT) "\n"
	"ms_file:\n"
	"	.asciz \"guest_test.c (mode switch code)\"\n"
	"ms_end:\n"
	"	.popsection\n");
extern const uint8_t ms_start[], ms_end[], ms_wrmsr[];

static void mode_switch_long_c(void)
{
	GUEST_ASSERT(guest_read_cr0() & X86_CR0_PG);
	GUEST_ASSERT(guest_read_cr4() & X86_CR4_PAE);
	GUEST_ASSERT_EQ(guest_read_cr3(), MS_PML4);
	GUEST_DONE();
}

static void start_mode_switch(struct __test_metadata *_metadata,
			      struct guest_vcpu *v)
{
	struct vhm_regs r;

	ASSERT_VHM(guest_vcpu_start_real(v, GUEST_LOW_CODE, ms_start,
					 ms_end - ms_start));
	ASSERT_VHM(vhm_get_regs(&v->raw, &r));
	r.rsi = (uintptr_t)mode_switch_long_c;
	ASSERT_VHM(vhm_set_regs(&v->raw, &r));
}

TEST_F(guest_test, real_to_protected)
{
	struct guest_vcpu *v = &self->vcpu;
	struct vhm_sregs s;

	RETURN_IF_SKIPPED();
	start_mode_switch(_metadata, v);
	ASSERT_GUEST_SYNC(v, 16);
	ASSERT_GUEST_SYNC(v, 32);
	ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
	EXPECT_TRUE(s.cr0 & X86_CR0_PE);
	EXPECT_EQ(GUEST_SEL_CODE32, s.cs.selector);
	EXPECT_TRUE(s.cs.attrib & VHM_SEG_DB);
	EXPECT_EQ(GUEST_SEL_DATA, s.ss.selector);
	EXPECT_EQ(MS_IDT32, s.idt.base);
}

TEST_F(guest_test, real_to_protected_to_long)
{
	struct guest_vcpu *v = &self->vcpu;
	uint64_t wrmsr = GUEST_LOW_CODE + (ms_wrmsr - ms_start);
	struct vhm_sregs s;
	struct ucall uc;
	char why[512];
	uint64_t cmd;

	RETURN_IF_SKIPPED();
	start_mode_switch(_metadata, v);
	ASSERT_GUEST_SYNC(v, 16);
	ASSERT_GUEST_SYNC(v, 32);
	cmd = get_ucall(v, &uc);
	if (cmd == UCALL_EXCEPTION && uc.args[2] == wrmsr)
		TH_LOG("WRMSR EFER.LME (EFER %#x, at %#llx) raised vector %llu",
		       MSR_EFER_NR, (unsigned long long)wrmsr,
		       (unsigned long long)uc.args[0]);
	ASSERT_EQ(UCALL_SYNC, cmd)
		TH_LOG("guest: %s", guest_describe(v, &uc, why, sizeof(why)));
	ASSERT_EQ(64, uc.args[0]);
	ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
	EXPECT_EQ(EFER_LME | EFER_LMA, s.efer);
	EXPECT_TRUE(s.cs.attrib & VHM_SEG_L);
	EXPECT_EQ(MS_PML4, s.cr3);
	ASSERT_GUEST_DONE(v);
}
/*
 * Hardware task switches (kmod/task_switch.c), in a 32-bit protected-mode
 * guest whose GDT and IDT the host builds: JMP to a task, CALL to a task
 * and IRET back, #DE and #GP through task gates (the #GP's error code on
 * the handler task's stack), a TSS whose limit is below 0x67 (#TS with its
 * selector, through a task gate), a #GP through a task gate to a task
 * whose DS is not present (the switch's #NP makes a double fault, through
 * an interrupt gate), and a 16-bit TSS, which vhm refuses
 * (VHM_INTERNAL_TASK_SWITCH). Each step reports with an OUT of AL to
 * TS_PORT; task C (CALL and #DE) lets the faulting DIV retry with ECX = 1,
 * tasks D (#GP) and E (#TS) move task B past its 7-byte far JMP.
 */
#define TS_PORT		0xe0
#define TS_TSS(n)	(0x10000 + (n) * 0x80)	/* A B C D E short 16-bit F */
#define TS_GDT		0x11000
#define TS_IDT		0x11800
#define TS_SEL_CODE	0x08
#define TS_SEL_DATA	0x10
#define TS_SEL_A	0x18
#define TS_SEL_B	0x20
#define TS_SEL_C	0x28
#define TS_SEL_D	0x30
#define TS_SEL_E	0x38
#define TS_SEL_SHORT	0x40
#define TS_SEL_16	0x48
#define TS_SEL_NP	0x50			/* a data segment, not present */
#define TS_SEL_F	0x58			/* its DS is TS_SEL_NP */
#define TS_GDT_ENTRIES	12
#define TS_GDT_LIMIT	(TS_GDT_ENTRIES * 8 - 1)
#define TS_SEL_OUT	0x78			/* beyond the GDT's limit */
#define TS_EFLAGS_NT	(1u << 14)
#define TS_CR0_TS	(1u << 3)
#define TS(x)		#x " - ts_start + " XSTR(GUEST_LOW_CODE)
#define TS_REPORT(n)							\
	"	movb $" #n ", %al\n"					\
	"	outb %al, $" XSTR(TS_PORT) "\n"
asm(
	"	.pushsection .rodata.guest_code, \"a\"\n"
	"	.code32\n"
	"ts_start:\n"
	"	movl $0xa1, %eax\n"
	"	movl $0xa2, %ebx\n"
	"	movl $0xa3, %esi\n"
	"	ljmp $" XSTR(TS_SEL_B) ", $0\n"
	"ts_a_after:\n"
	"	hlt\n"
	"ts_b:\n"
	TS_REPORT(1)
	"	lcall $" XSTR(TS_SEL_C) ", $0\n"
	"ts_b_after_call:\n"
	TS_REPORT(3)
	"	xorl %ecx, %ecx\n"
	"	xorl %edx, %edx\n"
	"	movl $5, %eax\n"
	"ts_b_div:\n"
	"	divl %ecx\n"
	TS_REPORT(5)
	"ts_b_gp:\n"
	"	ljmp $" XSTR(TS_SEL_OUT) ", $0\n"
	TS_REPORT(7)
	"ts_b_ts:\n"
	"	ljmp $" XSTR(TS_SEL_SHORT) ", $0\n"
	TS_REPORT(9)
	"	movl $" XSTR(TS_SEL_F) " << 16, " XSTR(TS_IDT) " + 13 * 8\n"
	"	movl $0x8500, " XSTR(TS_IDT) " + 13 * 8 + 4\n"
	"ts_b_df:\n"
	"	ljmp $" XSTR(TS_SEL_OUT) ", $0\n"
	"	hlt\n"
	"ts_b_16:\n"
	"	ljmp $" XSTR(TS_SEL_16) ", $0\n"
	"	hlt\n"
	"ts_c:\n"
	TS_REPORT(0xc)
	"	movl $1, " XSTR(TS_TSS(1)) " + 44\n"	/* task B's ECX */
	"	iret\n"
	"	jmp ts_c\n"
	"ts_d:\n"
	TS_REPORT(0xd)
	"	addl $7, " XSTR(TS_TSS(1)) " + 32\n"	/* task B's EIP */
	"	iret\n"
	"	jmp ts_d\n"
	"ts_e:\n"
	TS_REPORT(0xe)
	"	addl $7, " XSTR(TS_TSS(1)) " + 32\n"
	"	iret\n"
	"	jmp ts_e\n"
	"ts_f:\n"
	TS_REPORT(0xf)
	"	jmp ts_b_16\n"
	"ts_np:\n"
	TS_REPORT(0xa)
	"	jmp ts_b_16\n"
	"ts_end:\n"
	"	.code64\n"
	"	.popsection\n");
extern const uint8_t ts_start[], ts_a_after[], ts_b[], ts_b_after_call[],
	ts_b_div[], ts_b_gp[], ts_b_ts[], ts_b_df[], ts_b_16[], ts_c[], ts_d[],
	ts_e[], ts_f[], ts_np[], ts_end[];

/* A 32-bit TSS as in SDM figure 8-2. */
struct ts_tss32 {
	uint32_t link, stack[6], cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
} __attribute__((packed));

#define TS_GUEST(x)	((x) - ts_start + GUEST_LOW_CODE)

static uint64_t ts_desc(uint32_t base, uint32_t limit, uint32_t type)
{
	return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)(0x80 | type) << 40 |
	       (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(base >> 24) << 56;
}

static void ts_task(struct guest_vm *vm, int n, const uint8_t *eip,
		    uint32_t esp)
{
	struct ts_tss32 *t = guest_gpa_to_hva(vm, TS_TSS(n), sizeof(*t));

	memset(t, 0, sizeof(*t));
	t->eip = TS_GUEST(eip);
	t->eflags = 2;
	t->esp = esp;
	t->cs = TS_SEL_CODE;
	t->ss = t->ds = t->es = TS_SEL_DATA;
	t->iomap = sizeof(*t);
}

/* A 32-bit interrupt gate to off in the code segment. */
static uint64_t ts_intr_gate(uint32_t off)
{
	return (off & 0xffff) | TS_SEL_CODE << 16 |
	       (0x8e00ull | (uint64_t)(off >> 16) << 16) << 32;
}

static struct ts_tss32 *ts_tss(struct guest_vm *vm, int n)
{
	return guest_gpa_to_hva(vm, TS_TSS(n), sizeof(struct ts_tss32));
}

static void ts_setup(struct __test_metadata *_metadata, struct guest_vcpu *v)
{
	uint64_t *gdt = guest_gpa_to_hva(v->vm, TS_GDT, TS_GDT_ENTRIES * 8);
	uint64_t *idt = guest_gpa_to_hva(v->vm, TS_IDT, 16 * 8);
	struct vhm_sregs s;
	int i;

	ASSERT_VHM(guest_vcpu_start_prot32(v, GUEST_LOW_CODE, ts_start,
					   ts_end - ts_start));
	memset(gdt, 0, TS_GDT_ENTRIES * 8);
	gdt[1] = 0x00cf9b000000ffffull;
	gdt[2] = 0x00cf93000000ffffull;
	gdt[3] = ts_desc(TS_TSS(0), 0x67, 0xb);		/* A: busy, current */
	for (i = 1; i <= 4; i++)
		gdt[3 + i] = ts_desc(TS_TSS(i), 0x67, 0x9);
	gdt[8] = ts_desc(TS_TSS(5), 0x50, 0x9);		/* limit < 0x67 */
	gdt[9] = ts_desc(TS_TSS(6), 0x2b, 0x1);		/* 16-bit TSS */
	gdt[10] = 0x00cf13000000ffffull;		/* P clear */
	gdt[11] = ts_desc(TS_TSS(7), 0x67, 0x9);
	memset(idt, 0, 16 * 8);
	idt[0] = 0x8500ull << 32 | TS_SEL_C << 16;	/* task gates */
	idt[10] = 0x8500ull << 32 | TS_SEL_E << 16;
	idt[13] = 0x8500ull << 32 | TS_SEL_D << 16;
	idt[8] = ts_intr_gate(TS_GUEST(ts_f));
	idt[11] = ts_intr_gate(TS_GUEST(ts_np));
	memset(guest_gpa_to_hva(v->vm, TS_TSS(0), 8 * 0x80), 0, 8 * 0x80);
	ts_task(v->vm, 1, ts_b, 0x6000);
	ts_task(v->vm, 2, ts_c, 0x5000);
	ts_task(v->vm, 3, ts_d, 0x4800);
	ts_task(v->vm, 4, ts_e, 0x4000);
	ts_task(v->vm, 7, ts_b_16, 0x3800);
	ts_tss(v->vm, 7)->ds = TS_SEL_NP;
	ASSERT_VHM(vhm_get_sregs(&v->raw, &s));
	s.gdt.base = TS_GDT;
	s.gdt.limit = TS_GDT_LIMIT;
	s.idt.base = TS_IDT;
	s.idt.limit = 16 * 8 - 1;
	s.cs.selector = TS_SEL_CODE;
	s.ds.selector = s.es.selector = s.ss.selector = TS_SEL_DATA;
	s.tr = (struct vhm_segment){ .base = TS_TSS(0), .limit = 0x67,
				     .selector = TS_SEL_A,
				     .attrib = VHM_SEG_P | 0xb };
	ASSERT_VHM(vhm_set_sregs(&v->raw, &s));
}

/* The next exit is step's report; the vCPU's registers then. */
static void ts_expect(struct __test_metadata *_metadata, struct guest_vcpu *v,
		      int step, struct vhm_regs *r, struct vhm_sregs *s)
{
	expect_io(_metadata, v, VHM_IO_OUT, TS_PORT, 1);
	ASSERT_EQ(step, *((uint8_t *)v->run + v->run->io.data_offset));
	ASSERT_VHM(vhm_get_regs(&v->raw, r));
	ASSERT_VHM(vhm_get_sregs(&v->raw, s));
}

static uint32_t ts_type(struct guest_vm *vm, int sel)
{
	uint64_t *gdt = guest_gpa_to_hva(vm, TS_GDT, TS_GDT_ENTRIES * 8);

	return (gdt[sel >> 3] >> 40) & 0xf;
}

static uint32_t ts_stack_top(struct guest_vm *vm, uint64_t esp)
{
	return *(uint32_t *)guest_gpa_to_hva(vm, esp, 4);
}

TEST_F(guest_test, task_switches)
{
	struct guest_vcpu *v = &self->vcpu;
	struct guest_vm *vm = &self->vm;
	struct vhm_sregs s;
	struct vhm_regs r;

	RETURN_IF_SKIPPED();
	ts_setup(_metadata, v);

	/* JMP to task B: A saved, not busy; B loaded, busy, NT clear. */
	ts_expect(_metadata, v, 1, &r, &s);
	/*
	 * QEMU's SVM (the AMD test host) switches tasks itself, ignoring the
	 * task switch intercept, and leaves TR's type available (9) where a
	 * CPU and vhm load it busy (11): vhm's emulation is not reached.
	 */
	if (host_vendor() == VENDOR_AMD && (s.tr.attrib & 0xf) == 0x9)
		SKIP(return, "the emulator switched tasks without the intercept");
	EXPECT_EQ(TS_SEL_B, s.tr.selector);
	EXPECT_EQ(TS_TSS(1), s.tr.base);
	EXPECT_EQ(0xb, s.tr.attrib & 0xf);
	EXPECT_EQ(0x6000, r.rsp);
	EXPECT_EQ(TS_SEL_CODE, s.cs.selector);
	EXPECT_EQ(TS_SEL_DATA, s.ss.selector);
	EXPECT_EQ(0, r.rflags & TS_EFLAGS_NT);
	EXPECT_TRUE(s.cr0 & TS_CR0_TS);
	EXPECT_EQ(0x9, ts_type(vm, TS_SEL_A));
	EXPECT_EQ(0xb, ts_type(vm, TS_SEL_B));
	EXPECT_EQ(TS_GUEST(ts_a_after), ts_tss(vm, 0)->eip);
	EXPECT_EQ(0xa2, ts_tss(vm, 0)->ebx);
	EXPECT_EQ(0xa3, ts_tss(vm, 0)->esi);
	EXPECT_EQ(TS_SEL_CODE, ts_tss(vm, 0)->cs);

	/* CALL to task C: nested, linked to B, both busy. */
	ts_expect(_metadata, v, 0xc, &r, &s);
	EXPECT_EQ(TS_SEL_C, s.tr.selector);
	EXPECT_TRUE(r.rflags & TS_EFLAGS_NT);
	EXPECT_EQ(TS_SEL_B, ts_tss(vm, 2)->link);
	EXPECT_EQ(0xb, ts_type(vm, TS_SEL_B));
	EXPECT_EQ(0xb, ts_type(vm, TS_SEL_C));
	EXPECT_EQ(TS_GUEST(ts_b_after_call), ts_tss(vm, 1)->eip);
	EXPECT_EQ(0x5000, r.rsp);

	/* IRET back to B: C not busy, its saved EFLAGS without NT. */
	ts_expect(_metadata, v, 3, &r, &s);
	EXPECT_EQ(TS_SEL_B, s.tr.selector);
	EXPECT_EQ(0, r.rflags & TS_EFLAGS_NT);
	EXPECT_EQ(0x9, ts_type(vm, TS_SEL_C));
	EXPECT_EQ(0xb, ts_type(vm, TS_SEL_B));
	EXPECT_EQ(0, ts_tss(vm, 2)->eflags & TS_EFLAGS_NT);
	EXPECT_EQ(0x6000, r.rsp);

	/* #DE through a task gate: C again, no error code pushed. */
	ts_expect(_metadata, v, 0xc, &r, &s);
	EXPECT_EQ(TS_SEL_C, s.tr.selector);
	EXPECT_TRUE(r.rflags & TS_EFLAGS_NT);
	EXPECT_EQ(TS_SEL_B, ts_tss(vm, 2)->link);
	EXPECT_EQ(TS_GUEST(ts_b_div), ts_tss(vm, 1)->eip);
	EXPECT_EQ(0x5000, r.rsp);
	ts_expect(_metadata, v, 5, &r, &s);
	EXPECT_EQ(1, r.rcx);

	/* #GP(0x78) through a task gate: D, the error code on its stack. */
	ts_expect(_metadata, v, 0xd, &r, &s);
	EXPECT_EQ(TS_SEL_D, s.tr.selector);
	EXPECT_EQ(TS_GUEST(ts_b_gp), ts_tss(vm, 1)->eip);
	EXPECT_EQ(0x4800 - 4, r.rsp);
	EXPECT_EQ(TS_SEL_OUT, ts_stack_top(vm, r.rsp));
	ts_expect(_metadata, v, 7, &r, &s);

	/* A TSS limit below 0x67: #TS(selector) through a task gate. */
	ts_expect(_metadata, v, 0xe, &r, &s);
	EXPECT_EQ(TS_SEL_E, s.tr.selector);
	EXPECT_EQ(TS_GUEST(ts_b_ts), ts_tss(vm, 1)->eip);
	EXPECT_EQ(0x4000 - 4, r.rsp);
	EXPECT_EQ(TS_SEL_SHORT, ts_stack_top(vm, r.rsp));
	EXPECT_EQ(0x9, ts_type(vm, TS_SEL_SHORT));
	ts_expect(_metadata, v, 9, &r, &s);

	/*
	 * #GP through a task gate (the guest points vector 13 at task F)
	 * to task F, whose DS is not present: the switch's #NP (vhm's,
	 * after the exit, once the switch is committed) is a contributory
	 * fault while delivering a contributory one, so #DF(0) through the
	 * IDT's interrupt gate, in task F's context. (Without the
	 * combination: the #NP alone, through its interrupt gate: step 0xa.)
	 */
	ts_expect(_metadata, v, 0xf, &r, &s);
	EXPECT_EQ(TS_SEL_F, s.tr.selector);
	EXPECT_EQ(0x3800 - 16, r.rsp);
	EXPECT_EQ(0, ts_stack_top(vm, r.rsp));
	EXPECT_EQ(TS_GUEST(ts_b_16), ts_stack_top(vm, r.rsp + 4));
	EXPECT_EQ(TS_SEL_B, ts_tss(vm, 7)->link);
	EXPECT_EQ(TS_GUEST(ts_b_df), ts_tss(vm, 1)->eip);

	/* A 16-bit TSS: refused with the documented suberror. */
	expect_exit(_metadata, v, VHM_EXIT_INTERNAL_ERROR);
	EXPECT_EQ(VHM_INTERNAL_TASK_SWITCH, v->run->internal.suberror);
	EXPECT_EQ(4, v->run->internal.ndata);
	EXPECT_EQ(VHM_TASK_SWITCH_TSS16, v->run->internal.data[0]);
	EXPECT_EQ(TS_SEL_16, v->run->internal.data[1]);
	EXPECT_EQ(2, v->run->internal.data[2]);		/* JMP */
	EXPECT_EQ(TS_GUEST(ts_b_16), v->run->internal.data[3]);
}


/* ---------------------------------------------------------------------
 * A vCPU whose thread moves between host CPUs, between runs and in the
 * middle of one, with other threads competing for the CPUs: on VMX its
 * VMCS is cleared on the CPU it leaves and loaded on the one it comes to,
 * on SVM its ASID is taken anew. The guest's registers and memory come
 * through every move.
 */
#define MIGRATE_ROUNDS	24
#define MIGRATE_SPIN	20000

static volatile uint64_t migrate_count;

static void guest_migrate(uint64_t rounds)
{
	uint64_t sum = 0, i, j;

	for (i = 0; i < rounds; i++) {
		for (j = 0; j < MIGRATE_SPIN; j++) {
			sum += j ^ i;
			migrate_count++;
		}
		GUEST_SYNC_ARGS(i, sum, migrate_count, 0);
	}
}

struct migrate_load {
	volatile int stop;
	pid_t vcpu_tid;
	int ncpus;
	unsigned long moves;
};

static int pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set);
}

/* Moves the vCPU thread from CPU to CPU while it runs. */
static void *migrate_mover(void *arg)
{
	struct migrate_load *l = arg;
	int cpu = 0;

	while (!l->stop) {
		cpu = (cpu + 1) % l->ncpus;
		if (!pin(l->vcpu_tid, cpu))
			l->moves++;
		usleep(2000);
	}
	return NULL;
}

/* Competes for the CPUs. */
static void *migrate_spinner(void *arg)
{
	struct migrate_load *l = arg;

	while (!l->stop)
		;
	return NULL;
}

TEST_F(guest_test, vcpu_migrates_between_cpus_under_load)
{
	struct migrate_load load = { .vcpu_tid = gettid() };
	pthread_t mover, spin[2];
	uint64_t sum = 0, i, j;
	unsigned long seen = 0;
	int last = -1, moves = 0, t;
	struct ucall uc;

	RETURN_IF_SKIPPED();
	load.ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (load.ncpus < 2)
		SKIP(return, "one host CPU online: nothing to migrate to");
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_migrate,
					 MIGRATE_ROUNDS));
	ASSERT_EQ(0, pthread_create(&mover, NULL, migrate_mover, &load));
	for (t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_create(&spin[t], NULL, migrate_spinner,
					    &load));
	for (i = 0; i < MIGRATE_ROUNDS; i++) {
		for (j = 0; j < MIGRATE_SPIN; j++)
			sum += j ^ i;
		/* Between runs as well: every other round on the other CPU. */
		if (i & 1)
			pin(0, (last + 1) % load.ncpus);
		ASSERT_GUEST_UCALL(&self->vcpu, UCALL_SYNC, &uc);
		EXPECT_EQ(i, uc.args[0]);
		EXPECT_EQ(sum, uc.args[1]);
		EXPECT_EQ((i + 1) * MIGRATE_SPIN, uc.args[2]);
		if (last >= 0 && sched_getcpu() != last)
			moves++;
		last = sched_getcpu();
		seen |= 1ul << (last & 63);
	}
	load.stop = 1;
	pthread_join(mover, NULL);
	for (t = 0; t < 2; t++)
		pthread_join(spin[t], NULL);
	ASSERT_GUEST_DONE(&self->vcpu);
	EXPECT_EQ((uint64_t)MIGRATE_ROUNDS * MIGRATE_SPIN,
		  *guest_var(&self->vm, migrate_count));
	TH_LOG("%d moves seen between runs, %lu affinity changes while running",
	       moves, load.moves);
	/*
	 * How often the scheduler moves the thread depends on the load: in
	 * Bochs beside another emulator it was 4 of 24 rounds. Both CPUs
	 * seen (below) proves the moves happened.
	 */
	EXPECT_LE(1, moves);
	EXPECT_LT(1, __builtin_popcountl(seen));
}

TEST_HARNESS_MAIN
