// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM is the VMM's memory, managed by the host's memory manager:
 * guests (C functions, include/guest.h) on RAM backed by a memfd, a shared
 * file, hugetlbfs and THP (2 MiB nested entries, VHM_GET_VM_STATS), pages
 * merged by KSM (and copy-on-write broken by a guest write), and 1 GiB of
 * guest RAM pushed to zram swap by a memory cgroup. In every case the host
 * and the guest see the same bytes, both ways.
 *
 * Built with the guest code flags (Makefile: GUEST_CFLAGS).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define PAGE		4096ull
#define SIZE_2M		(2ull << 20)
#define WORDS		(PAGE / 8)
#define TEST_SLOT	1
#define TEST_GPA	(1ull << 30)	/* identity-mapped by the guest */
#define TEST_SIZE	(4ull << 20)	/* two 2 MiB pages */
#define NO_PAGE		(~0ull)

#define HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HUGE_FREE	"/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"
#define THP_MAX_PTES_NONE \
	"/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none"
#define KSM		"/sys/kernel/mm/ksm/"
#define CGROOT		"/sys/fs/cgroup"
#define CGROUP		CGROOT "/vhm-mem-test"
#define ZRAM		"/sys/block/zram0"

/* ---------------------------------------------------------------------
 * The guest: runs commands the host puts in its copy of cmd, one GUEST_SYNC
 * (with the op) after each.
 */
enum { OP_NONE, OP_VERIFY, OP_WRITE, OP_DONE };

struct mem_cmd {
	uint64_t op;
	uint64_t gpa;		/* first page */
	uint64_t npages;
	uint64_t step;		/* words checked/written per page: every step-th */
	uint64_t seed;
	uint64_t zero_page;	/* VERIFY: this page must read zero (or NO_PAGE) */
	uint64_t pattern_gpa;	/* non-0: every page holds this gpa's pattern */
};

static struct mem_cmd cmd;

/* The value of word w of page p (guest-physical) for a seed. */
static inline uint64_t pattern(uint64_t seed, uint64_t gpa, uint64_t w)
{
	return (seed ^ gpa ^ (w << 48)) * 0x9e3779b97f4a7c15ull + w;
}

/*
 * Last page first: after a long write, the pages still resident are the
 * last ones written (the swap test reads them before swapping others in).
 */
static void guest_verify(volatile struct mem_cmd *c)
{
	uint64_t i, w;

	for (i = c->npages; i-- > 0;) {
		uint64_t gpa = c->gpa + i * PAGE;
		uint64_t pgpa = c->pattern_gpa ? c->pattern_gpa : gpa;
		volatile uint64_t *p = (volatile uint64_t *)gpa;
		bool zero = i == c->zero_page;

		for (w = 0; w < WORDS; w += c->step)
			GUEST_ASSERT_EQ(p[w], zero ? 0 : pattern(c->seed, pgpa, w));
	}
}

static void guest_write(volatile struct mem_cmd *c)
{
	uint64_t i, w;

	for (i = 0; i < c->npages; i++) {
		uint64_t gpa = c->gpa + i * PAGE;
		volatile uint64_t *p = (volatile uint64_t *)gpa;

		for (w = 0; w < WORDS; w += c->step)
			p[w] = pattern(c->seed, gpa, w);
	}
}

static void guest_main(void)
{
	volatile struct mem_cmd *c = &cmd;

	for (;;) {
		switch (c->op) {
		case OP_VERIFY:
			guest_verify(c);
			break;
		case OP_WRITE:
			guest_write(c);
			break;
		case OP_DONE:
			GUEST_DONE();
		default:
			break;
		}
		GUEST_SYNC(c->op);
	}
}

/* ---------------------------------------------------------------------
 * Host helpers
 */

/* The host side of the same pattern, on the host's mapping of gpa. */
static void host_write(void *hva, uint64_t gpa, uint64_t npages, uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i < npages; i++)
		for (w = 0; w < WORDS; w++)
			((uint64_t *)hva)[i * WORDS + w] =
				pattern(seed, gpa + i * PAGE, w);
}

/* The first word that differs from the pattern, or -1. */
static long host_check(const void *hva, uint64_t gpa, uint64_t npages,
		       uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i < npages; i++)
		for (w = 0; w < WORDS; w++)
			if (((const uint64_t *)hva)[i * WORDS + w] !=
			    pattern(seed, gpa + i * PAGE, w))
				return i * WORDS + w;
	return -1;
}

static int get_stats(int vm, struct vhm_vm_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(vm, VHM_GET_VM_STATS, st) ? -errno : 0;
}

static long long read_num(const char *path)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 0);
}

static int write_num(const char *path, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return write_text(path, buf);
}

/* "key value" in a file like /proc/vmstat or memory.stat; -1 if absent. */
static long long read_key(const char *path, const char *key)
{
	static char buf[16384];
	size_t kl = strlen(key);
	char *p;

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

/* AnonHugePages (kB) of the mapping holding addr, from /proc/self/smaps. */
static long smaps_anon_huge_kb(void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi, a = (unsigned long)addr;
	char line[512];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* An anonymous region of size bytes at a 2 MiB-aligned address. */
static void *map_aligned(size_t size)
{
	uint8_t *p = mmap(NULL, size + SIZE_2M, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + SIZE_2M - 1) & ~(SIZE_2M - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + SIZE_2M - a);
	return a;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------
 * The fixture: a guest VM (slot 0: the program, tables) whose vCPU runs
 * guest_main; each test adds slot TEST_SLOT at TEST_GPA and undoes its host
 * changes (hugetlb pool, THP mode, KSM, swap, cgroup) in the teardown.
 */
FIXTURE(mem) {
	int sys;
	struct guest_vm vm;
	struct guest_vcpu vcpu;
	void *ram;		/* TEST_SLOT's memory */
	size_t ram_size;
	int fd;			/* memfd or file behind ram, or -1 */
	long long old_hugepages;	/* -1: untouched */
	char old_thp[16];		/* "": untouched */
	long long old_max_ptes_none;	/* -1: untouched */
	long long old_ksm[3];		/* run, pages_to_scan, sleep_millisecs */
	bool ksm_changed;
	bool swap_on;
	bool cgroup_made;
};

/* Run one guest command to its GUEST_SYNC. */
static void guest_cmd(struct __test_metadata *_metadata,
		      FIXTURE_DATA(mem) *self, uint64_t op, uint64_t gpa,
		      uint64_t npages, uint64_t step, uint64_t seed,
		      uint64_t zero_page, uint64_t pattern_gpa)
{
	struct mem_cmd *c = guest_var(&self->vm, cmd);

	c->op = op;
	c->gpa = gpa;
	c->npages = npages;
	c->step = step;
	c->seed = seed;
	c->zero_page = zero_page;
	c->pattern_gpa = pattern_gpa;
	ASSERT_GUEST_SYNC(&self->vcpu, op);
}

FIXTURE_SETUP(mem)
{
	void *warm;

	self->sys = -1;
	self->vm.fd = -1;
	self->vcpu.raw.fd = -1;
	self->fd = -1;
	self->old_hugepages = -1;
	self->old_max_ptes_none = -1;
	REQUIRE_VHM_GUESTS(self->sys);
	ASSERT_VHM(guest_vm_create(&self->vm, self->sys));
	ASSERT_VHM(guest_vcpu_create(&self->vm, 0, &self->vcpu));
	guest_var(&self->vm, cmd)->op = OP_NONE;
	ASSERT_VHM(guest_vcpu_start_long(&self->vcpu, guest_main, 0));
	ASSERT_GUEST_SYNC(&self->vcpu, OP_NONE);
	/*
	 * Every guest path once on a spare page of slot 0: from here on the
	 * guest's own code, stack and tables are mapped, so the counters
	 * move only for the memory a test gives it.
	 */
	guest_cmd(_metadata, self, OP_WRITE, self->vm.free_gpa, 1, 1, 9,
		  NO_PAGE, 0);
	guest_cmd(_metadata, self, OP_VERIFY, self->vm.free_gpa, 1, 1, 9,
		  NO_PAGE, 0);
	/* And the guest page table covering TEST_GPA (slot 0). */
	warm = guest_ram(PAGE);
	ASSERT_NE(NULL, warm);
	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA, PAGE,
				warm));
	guest_cmd(_metadata, self, OP_WRITE, TEST_GPA, 1, 1, 9, NO_PAGE, 0);
	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA, 0,
				NULL));
	munmap(warm, PAGE);
}

static void swap_teardown(struct __test_metadata *_metadata,
			  FIXTURE_DATA(mem) *self)
{
	if (self->cgroup_made) {
		write_num(CGROOT "/cgroup.procs", getpid());
		EXPECT_EQ(0, rmdir(CGROUP));
	}
	if (self->swap_on) {
		EXPECT_EQ(0, swapoff("/dev/zram0"));
		write_text(ZRAM "/reset", "1");
	}
}

FIXTURE_TEARDOWN(mem)
{
	guest_vcpu_free(&self->vcpu);
	guest_vm_free(&self->vm);
	if (self->ram)
		munmap(self->ram, self->ram_size);
	if (self->fd >= 0)
		close(self->fd);
	swap_teardown(_metadata, self);
	if (self->old_hugepages >= 0)
		write_num(HUGEPAGES, self->old_hugepages);
	if (self->old_thp[0])
		write_text(THP_ENABLED, self->old_thp);
	if (self->old_max_ptes_none >= 0)
		write_num(THP_MAX_PTES_NONE, self->old_max_ptes_none);
	if (self->ksm_changed) {
		write_num(KSM "run", 2);	/* unmerge everything */
		write_num(KSM "run", self->old_ksm[0]);
		write_num(KSM "pages_to_scan", self->old_ksm[1]);
		write_num(KSM "sleep_millisecs", self->old_ksm[2]);
	}
	if (self->sys >= 0)
		close(self->sys);
}

#define GUEST_VERIFY(gpa, n, seed)					\
	guest_cmd(_metadata, self, OP_VERIFY, gpa, n, 1, seed, NO_PAGE, 0)
#define GUEST_WRITE(gpa, n, seed)					\
	guest_cmd(_metadata, self, OP_WRITE, gpa, n, 1, seed, NO_PAGE, 0)

/*
 * The round trip every backing must pass: the host's bytes (already
 * written with seed 1) reach the guest, the guest's (seed 2) reach the
 * host's mapping.
 */
static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(mem) *self)
{
	uint64_t n = self->ram_size / PAGE;

	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA,
				self->ram_size, self->ram));
	GUEST_VERIFY(TEST_GPA, n, 1);
	GUEST_WRITE(TEST_GPA, n, 2);
	ASSERT_EQ(-1, host_check(self->ram, TEST_GPA, n, 2));
}

/* ---------------------------------------------------------------------
 * VHM_GET_VM_STATS
 */

TEST_F(mem, stats_arguments)
{
	struct vhm_vm_stats st;
	unsigned int i;

	RETURN_IF_SKIPPED();
	EXPECT_EQ(-1, ioctl(self->vm.fd, VHM_GET_VM_STATS, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->vm.fd, VHM_GET_VM_STATS, NULL));
	EXPECT_EQ(EFAULT, errno);
	memset(&st, 0, sizeof(st));
	st.flags = 1;
	EXPECT_EQ(-1, ioctl(self->vm.fd, VHM_GET_VM_STATS, &st));
	EXPECT_EQ(EINVAL, errno);
	memset(&st, 0, sizeof(st));
	st.padding = 1;
	EXPECT_EQ(-1, ioctl(self->vm.fd, VHM_GET_VM_STATS, &st));
	EXPECT_EQ(EINVAL, errno);
	/* Not a vCPU ioctl, and the size is part of the number. */
	EXPECT_EQ(-1, ioctl(self->vcpu.raw.fd, VHM_GET_VM_STATS, &st));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->vm.fd, _IOWR(VHMIO, 0x4f, uint64_t), &st));
	EXPECT_EQ(ENOTTY, errno);
	/* Out: reserved is zero; the guest has faulted its pages in. */
	memset(&st, 0xff, sizeof(st));
	st.flags = 0;
	st.padding = 0;
	ASSERT_VHM_IOCTL(self->vm.fd, VHM_GET_VM_STATS, &st);
	for (i = 0; i < sizeof(st.reserved) / sizeof(st.reserved[0]); i++)
		EXPECT_EQ(0, st.reserved[i]);
	EXPECT_EQ(0, st.flags);
	EXPECT_LT(0, st.nested_faults);
	EXPECT_LT(0, st.mapped_4k + st.mapped_2m);
	EXPECT_GE(st.nested_faults, st.mapped_4k + st.mapped_2m);
}

/* Counters follow a slot's life: faults map, deleting the slot zaps. */
TEST_F(mem, stats_count_faults_and_zaps)
{
	struct vhm_vm_stats a, b, c;
	uint64_t n = 16;

	RETURN_IF_SKIPPED();
	self->ram_size = n * PAGE;
	self->ram = guest_ram(self->ram_size);
	ASSERT_NE(NULL, self->ram);
	host_write(self->ram, TEST_GPA, n, 1);
	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA,
				self->ram_size, self->ram));
	ASSERT_VHM(get_stats(self->vm.fd, &a));
	GUEST_VERIFY(TEST_GPA, n, 1);
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(a.mapped_4k + n, b.mapped_4k);
	EXPECT_LE(a.nested_faults + n, b.nested_faults);
	EXPECT_EQ(a.mapped_2m, b.mapped_2m);
	/* Writes upgrade the same entries: no new ones. */
	GUEST_WRITE(TEST_GPA, n, 2);
	ASSERT_VHM(get_stats(self->vm.fd, &c));
	EXPECT_EQ(b.mapped_4k, c.mapped_4k);
	EXPECT_LE(b.nested_faults + n, c.nested_faults);
	ASSERT_EQ(-1, host_check(self->ram, TEST_GPA, n, 2));
	/* munmap is an invalidation of the whole slot. */
	ASSERT_EQ(0, munmap(self->ram, self->ram_size));
	self->ram = NULL;
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(c.mapped_4k - n, b.mapped_4k);
	EXPECT_EQ(c.zapped_4k + n, b.zapped_4k);
	EXPECT_LT(c.invalidations, b.invalidations);
}

/* ---------------------------------------------------------------------
 * Backings
 */

TEST_F(mem, memfd)
{
	uint64_t n = TEST_SIZE / PAGE;
	uint8_t *copy;

	RETURN_IF_SKIPPED();
	self->fd = memfd_create("vhm-mem-test", MFD_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, TEST_SIZE));
	self->ram_size = TEST_SIZE;
	self->ram = mmap(NULL, TEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
	host_write(self->ram, TEST_GPA, n, 1);
	round_trip(_metadata, self);
	/* The guest wrote the memfd's pages themselves. */
	copy = malloc(TEST_SIZE);
	ASSERT_NE(NULL, copy);
	ASSERT_EQ(TEST_SIZE, pread(self->fd, copy, TEST_SIZE, 0));
	EXPECT_EQ(-1, host_check(copy, TEST_GPA, n, 2));
	free(copy);
}

/* A MAP_SHARED file on the initramfs' root file system (page cache). */
TEST_F(mem, shared_file)
{
	const char *path = "/vhm-mem-test.img";
	uint64_t n = TEST_SIZE / PAGE;
	uint8_t *buf;

	RETURN_IF_SKIPPED();
	buf = malloc(TEST_SIZE);
	ASSERT_NE(NULL, buf);
	self->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->fd);
	unlink(path);
	/* Written with write(): the guest reads the page cache. */
	host_write(buf, TEST_GPA, n, 1);
	ASSERT_EQ(TEST_SIZE, pwrite(self->fd, buf, TEST_SIZE, 0));
	self->ram_size = TEST_SIZE;
	self->ram = mmap(NULL, TEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
	round_trip(_metadata, self);
	/* And read(): the guest's writes are the file's contents. */
	memset(buf, 0, TEST_SIZE);
	ASSERT_EQ(TEST_SIZE, pread(self->fd, buf, TEST_SIZE, 0));
	EXPECT_EQ(-1, host_check(buf, TEST_GPA, n, 2));
	free(buf);
}

TEST_F(mem, hugetlbfs_maps_2m)
{
	struct vhm_vm_stats a, b;
	uint64_t n = TEST_SIZE / PAGE;
	long long want;

	RETURN_IF_SKIPPED();
	self->old_hugepages = read_num(HUGEPAGES);
	ASSERT_LE(0, self->old_hugepages);
	want = read_num(HUGE_FREE) + TEST_SIZE / SIZE_2M;
	ASSERT_EQ(0, write_num(HUGEPAGES, self->old_hugepages +
				       TEST_SIZE / SIZE_2M));
	ASSERT_EQ(want, read_num(HUGE_FREE))
		TH_LOG("the kernel could not reserve %llu huge pages",
		       TEST_SIZE / SIZE_2M);
	self->ram_size = TEST_SIZE;
	self->ram = mmap(NULL, TEST_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
	host_write(self->ram, TEST_GPA, n, 1);
	ASSERT_VHM(get_stats(self->vm.fd, &a));
	round_trip(_metadata, self);
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(a.mapped_2m + TEST_SIZE / SIZE_2M, b.mapped_2m);
	EXPECT_EQ(a.mapped_4k, b.mapped_4k);
	TH_LOG("hugetlbfs: 2 MiB entries %llu -> %llu, faults %llu -> %llu",
	       a.mapped_2m, b.mapped_2m, a.nested_faults, b.nested_faults);
}

/*
 * THP: the mode must allow MADV_HUGEPAGE regions; set it if not. False
 * (the test SKIPs) on a kernel built without THP: Debian's PREEMPT_RT
 * flavour has none.
 */
static bool thp_allow_madvise(struct __test_metadata *_metadata,
			      FIXTURE_DATA(mem) *self)
{
	char mode[128];
	int r = read_text(THP_ENABLED, mode, sizeof(mode));

	if (r == -ENOENT)
		return false;
	EXPECT_EQ(0, r) TH_LOG("%s: %s", THP_ENABLED, strerror(-r));
	if (r || !strstr(mode, "[never]"))
		return !r;
	snprintf(self->old_thp, sizeof(self->old_thp), "never");
	EXPECT_EQ(0, write_text(THP_ENABLED, "madvise"));
	return true;
}

/*
 * 4 KiB pages only for [p, p + size): MADV_NOHUGEPAGE, which a kernel
 * without THP refuses with EINVAL (its pages are 4 KiB anyway).
 */
static int no_thp(void *p, size_t size)
{
	if (!madvise(p, size, MADV_NOHUGEPAGE))
		return 0;
	return errno == EINVAL &&
	       access("/sys/kernel/mm/transparent_hugepage", F_OK) ? 0 : -1;
}

TEST_F(mem, thp_maps_2m_and_split_zaps_it)
{
	uint64_t n = TEST_SIZE / PAGE, hole = n / 2 + 5;
	struct vhm_vm_stats a, b, c;
	long kb;

	RETURN_IF_SKIPPED();
	if (!thp_allow_madvise(_metadata, self))
		SKIP(return, "kernel without transparent huge pages");
	self->ram_size = TEST_SIZE;
	self->ram = map_aligned(TEST_SIZE);
	ASSERT_NE(NULL, self->ram);
	ASSERT_EQ(0, madvise(self->ram, TEST_SIZE, MADV_HUGEPAGE));
	host_write(self->ram, TEST_GPA, n, 1);
	kb = smaps_anon_huge_kb(self->ram);
	ASSERT_EQ(TEST_SIZE / 1024, kb)
		TH_LOG("the host did not back the region with THP");
	ASSERT_VHM(get_stats(self->vm.fd, &a));
	round_trip(_metadata, self);
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(a.mapped_2m + TEST_SIZE / SIZE_2M, b.mapped_2m);
	EXPECT_EQ(a.mapped_4k, b.mapped_4k);
	TH_LOG("THP: 2 MiB entries %llu -> %llu", a.mapped_2m, b.mapped_2m);

	/*
	 * Dropping one 4 KiB page splits the second huge page: an
	 * invalidation covering part of a 2 MiB entry drops all of it.
	 * khugepaged must not collapse the range back into a huge page
	 * before the guest reads it again (it did, in a slow test host: the
	 * guest then rightly got a 2 MiB entry): no empty page allowed.
	 */
	self->old_max_ptes_none = read_num(THP_MAX_PTES_NONE);
	ASSERT_LE(0, self->old_max_ptes_none);
	ASSERT_EQ(0, write_num(THP_MAX_PTES_NONE, 0));
	ASSERT_EQ(0, madvise((uint8_t *)self->ram + hole * PAGE, PAGE,
			     MADV_DONTNEED));
	ASSERT_VHM(get_stats(self->vm.fd, &c));
	EXPECT_EQ(b.mapped_2m - 1, c.mapped_2m);
	EXPECT_EQ(b.zapped_2m + 1, c.zapped_2m);
	/* The guest still sees its bytes, and zeros in the dropped page. */
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA, n, 1, 2, hole, 0);
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(c.mapped_2m, b.mapped_2m);
	EXPECT_LT(c.mapped_4k, b.mapped_4k);
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25	/* Linux 6.1 */
#endif

/*
 * 4 KiB entries first; then the host collapses the pages into a THP
 * (MADV_COLLAPSE): the invalidation zaps the small entries, and the next
 * guest accesses replace their (empty) tables by 2 MiB entries.
 */
TEST_F(mem, thp_collapse_replaces_4k_by_2m)
{
	uint64_t n = TEST_SIZE / PAGE;
	struct vhm_vm_stats a, b, c;

	RETURN_IF_SKIPPED();
	if (!thp_allow_madvise(_metadata, self))
		SKIP(return, "kernel without transparent huge pages");
	self->ram_size = TEST_SIZE;
	self->ram = map_aligned(TEST_SIZE);
	ASSERT_NE(NULL, self->ram);
	ASSERT_EQ(0, no_thp(self->ram, TEST_SIZE));
	host_write(self->ram, TEST_GPA, n, 1);
	ASSERT_EQ(0, smaps_anon_huge_kb(self->ram));
	ASSERT_VHM(get_stats(self->vm.fd, &a));
	round_trip(_metadata, self);
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(a.mapped_4k + n, b.mapped_4k);
	EXPECT_EQ(a.mapped_2m, b.mapped_2m);

	ASSERT_EQ(0, madvise(self->ram, TEST_SIZE, MADV_HUGEPAGE));
	ASSERT_EQ(0, madvise(self->ram, TEST_SIZE, MADV_COLLAPSE))
		TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	ASSERT_EQ(TEST_SIZE / 1024, smaps_anon_huge_kb(self->ram));
	ASSERT_VHM(get_stats(self->vm.fd, &c));
	EXPECT_EQ(a.mapped_4k, c.mapped_4k);
	EXPECT_LE(b.zapped_4k + n, c.zapped_4k);

	GUEST_VERIFY(TEST_GPA, n, 2);
	GUEST_WRITE(TEST_GPA, n, 3);
	ASSERT_EQ(-1, host_check(self->ram, TEST_GPA, n, 3));
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(a.mapped_4k, b.mapped_4k);
	EXPECT_EQ(a.mapped_2m + TEST_SIZE / SIZE_2M, b.mapped_2m);
	TH_LOG("collapse: 4 KiB entries %llu -> %llu, 2 MiB entries %llu -> %llu",
	       a.mapped_4k + n, b.mapped_4k, a.mapped_2m, b.mapped_2m);
}

/* A slot whose gpa and hva differ by less than 2 MiB gets 4 KiB entries. */
TEST_F(mem, thp_misaligned_slot_maps_4k)
{
	uint64_t n = SIZE_2M / PAGE;
	struct vhm_vm_stats a, b;
	uint8_t *base;

	RETURN_IF_SKIPPED();
	if (!thp_allow_madvise(_metadata, self))
		SKIP(return, "kernel without transparent huge pages");
	base = map_aligned(TEST_SIZE);
	ASSERT_NE(NULL, base);
	ASSERT_EQ(0, madvise(base, TEST_SIZE, MADV_HUGEPAGE));
	memset(base, 1, TEST_SIZE);
	ASSERT_EQ(TEST_SIZE / 1024, smaps_anon_huge_kb(base));
	self->ram = base;
	self->ram_size = TEST_SIZE;
	host_write(base + PAGE, TEST_GPA, n, 1);
	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA,
				2 * SIZE_2M - 2 * PAGE, base + PAGE));
	ASSERT_VHM(get_stats(self->vm.fd, &a));
	GUEST_VERIFY(TEST_GPA, n, 1);
	GUEST_WRITE(TEST_GPA, n, 3);
	ASSERT_EQ(-1, host_check(base + PAGE, TEST_GPA, n, 3));
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	EXPECT_EQ(a.mapped_2m, b.mapped_2m);
	EXPECT_EQ(a.mapped_4k + n, b.mapped_4k);
}

/* ---------------------------------------------------------------------
 * KSM: identical guest pages merged under the guest; a guest write breaks
 * the sharing for that page only.
 */
#define KSM_SAME	8
#define KSM_PAGES	16

static void ksm_start(struct __test_metadata *_metadata,
		      FIXTURE_DATA(mem) *self)
{
	if (access(KSM "run", W_OK))
		SKIP(return, "kernel without KSM");
	self->old_ksm[0] = read_num(KSM "run");
	self->old_ksm[1] = read_num(KSM "pages_to_scan");
	self->old_ksm[2] = read_num(KSM "sleep_millisecs");
	self->ksm_changed = true;
	ASSERT_EQ(0, write_num(KSM "pages_to_scan", 1000));
	ASSERT_EQ(0, write_num(KSM "sleep_millisecs", 10));
	ASSERT_EQ(0, write_num(KSM "run", 1));
}

TEST_F(mem, ksm_merge_and_cow)
{
	struct vhm_vm_stats a, b;
	long long sharing0, sharing = 0;
	uint64_t *p, i, w;
	double t0;

	RETURN_IF_SKIPPED();
	self->ram_size = KSM_PAGES * PAGE;
	self->ram = map_aligned(self->ram_size);
	ASSERT_NE(NULL, self->ram);
	ASSERT_EQ(0, no_thp(self->ram, self->ram_size));
	/* Pages 0..KSM_SAME-1 all hold the pattern of page 0; others theirs. */
	p = self->ram;
	host_write(self->ram, TEST_GPA, KSM_PAGES, 1);
	for (i = 1; i < KSM_SAME; i++)
		memcpy(p + i * WORDS, p, PAGE);
	ASSERT_EQ(0, madvise(self->ram, self->ram_size, MADV_MERGEABLE));
	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA,
				self->ram_size, self->ram));
	/* The guest maps them all (read), then KSM merges under it. */
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA, KSM_SAME, 1, 1,
		  NO_PAGE, TEST_GPA);
	GUEST_VERIFY(TEST_GPA + KSM_SAME * PAGE, KSM_PAGES - KSM_SAME, 1);
	ASSERT_VHM(get_stats(self->vm.fd, &a));
	sharing0 = read_num(KSM "pages_sharing");
	ksm_start(_metadata, self);
	RETURN_IF_SKIPPED();
	t0 = now();
	while (now() - t0 < 120) {
		sharing = read_num(KSM "pages_sharing");
		if (sharing - sharing0 >= KSM_SAME - 1)
			break;
		usleep(100 * 1000);
	}
	ASSERT_LE(KSM_SAME - 1, sharing - sharing0)
		TH_LOG("ksmd merged %lld pages in 120 s", sharing - sharing0);
	TH_LOG("KSM: pages_sharing +%lld after %.1f s", sharing - sharing0,
	       now() - t0);
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	/* Merging replaced the pages the guest had mapped. */
	EXPECT_LE(a.zapped_4k + KSM_SAME - 1, b.zapped_4k);

	/* The guest reads the merged pages right, ... */
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA, KSM_SAME, 1, 1,
		  NO_PAGE, TEST_GPA);
	GUEST_VERIFY(TEST_GPA + KSM_SAME * PAGE, KSM_PAGES - KSM_SAME, 1);
	/* ...writes one (copy on write), and only that page changes. */
	GUEST_WRITE(TEST_GPA + 3 * PAGE, 1, 5);
	for (i = 0; i < KSM_SAME; i++) {
		for (w = 0; w < WORDS; w++) {
			uint64_t want = i == 3 ?
				pattern(5, TEST_GPA + 3 * PAGE, w) :
				pattern(1, TEST_GPA, w);

			ASSERT_EQ(want, p[i * WORDS + w])
				TH_LOG("page %llu word %llu", (unsigned long long)i,
				       (unsigned long long)w);
		}
	}
	EXPECT_EQ(-1, host_check(p + KSM_SAME * WORDS, TEST_GPA + KSM_SAME * PAGE,
				 KSM_PAGES - KSM_SAME, 1));
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA + 3 * PAGE, 1, 1, 5,
		  NO_PAGE, 0);
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA + 4 * PAGE, 1, 1, 1,
		  NO_PAGE, TEST_GPA);
	/* The host's write reaches the guest as well, in one page only. */
	host_write(p + 5 * WORDS, TEST_GPA + 5 * PAGE, 1, 6);
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA + 5 * PAGE, 1, 1, 6,
		  NO_PAGE, 0);
	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA + 6 * PAGE, 2, 1, 1,
		  NO_PAGE, TEST_GPA);
}

/* ---------------------------------------------------------------------
 * Swap: 1 GiB of guest RAM in a memory cgroup of a quarter of that, swap
 * on zram. VHM_TEST_SWAP_MIB sets another size (the Bochs test host uses
 * 256: 1 GiB takes too long at its speed; the paths are the same).
 */
#define SWAP_MIB	1024
#define SWAP_STEP	128	/* 4 words per page: every page is distinct */

static uint64_t swap_ram(void)
{
	const char *e = getenv("VHM_TEST_SWAP_MIB");
	unsigned long mib = e ? strtoul(e, NULL, 0) : 0;

	return (uint64_t)(mib >= 64 && mib <= 4096 ? mib : SWAP_MIB) << 20;
}

#define SWAP_RAM	swap_ram()
#define SWAP_CG_MAX	(SWAP_RAM / 4)

static void cgroup_enter(struct __test_metadata *_metadata,
			 FIXTURE_DATA(mem) *self)
{
	char ctl[256];

	if (access(CGROOT "/cgroup.controllers", R_OK)) {
		ASSERT_EQ(0, mount("cgroup2", CGROOT, "cgroup2", 0, NULL))
			TH_LOG("mount cgroup2: %s", strerror(errno));
	}
	ASSERT_EQ(0, read_text(CGROOT "/cgroup.controllers", ctl, sizeof(ctl)));
	ASSERT_NE(NULL, strstr(ctl, "memory"));
	ASSERT_EQ(0, write_text(CGROOT "/cgroup.subtree_control", "+memory"));
	rmdir(CGROUP);	/* left by a killed run */
	ASSERT_EQ(0, mkdir(CGROUP, 0755));
	self->cgroup_made = true;
	ASSERT_EQ(0, write_num(CGROUP "/memory.max", SWAP_CG_MAX));
	ASSERT_EQ(0, write_text(CGROUP "/memory.swap.max", "max"));
	ASSERT_EQ(0, write_num(CGROUP "/cgroup.procs", getpid()));
}

static void zram_swap_on(struct __test_metadata *_metadata,
			 FIXTURE_DATA(mem) *self)
{
	if (access(ZRAM, F_OK) && modprobe("zram"))
		SKIP(return, "no zram module");
	ASSERT_EQ(0, access(ZRAM, F_OK));
	write_text(ZRAM "/reset", "1");
	ASSERT_EQ(0, write_num(ZRAM "/disksize", 3 * SWAP_RAM / 2));
	ASSERT_EQ(0, system("mkswap /dev/zram0 >/dev/null"));
	ASSERT_EQ(0, swapon("/dev/zram0", 0))
		TH_LOG("swapon: %s", strerror(errno));
	self->swap_on = true;
}

TEST_F(mem, swap_through_zram_in_cgroup)
{
	long long out0, in0, out1, in1, swapped;
	uint64_t n = SWAP_RAM / PAGE;
	struct vhm_vm_stats a, b;
	double t0, t1, t2;

	RETURN_IF_SKIPPED();
	zram_swap_on(_metadata, self);
	RETURN_IF_SKIPPED();
	cgroup_enter(_metadata, self);
	self->ram_size = SWAP_RAM;
	self->ram = map_aligned(SWAP_RAM);
	ASSERT_NE(NULL, self->ram);
	/* 4 KiB pages: what is measured is swapping, not THP. */
	ASSERT_EQ(0, no_thp(self->ram, SWAP_RAM));
	ASSERT_VHM(vhm_set_slot(self->vm.fd, TEST_SLOT, 0, TEST_GPA,
				SWAP_RAM, self->ram));
	out0 = read_key("/proc/vmstat", "pswpout");
	in0 = read_key("/proc/vmstat", "pswpin");
	ASSERT_VHM(get_stats(self->vm.fd, &a));

	t0 = now();
	guest_cmd(_metadata, self, OP_WRITE, TEST_GPA, n, SWAP_STEP, 7,
		  NO_PAGE, 0);
	t1 = now();
	out1 = read_key("/proc/vmstat", "pswpout");
	swapped = read_num(CGROUP "/memory.swap.current");
	TH_LOG("guest wrote %llu MiB in %.1f s: pswpout +%lld, cgroup swap %lld MiB, memory %lld MiB",
	       (unsigned long long)SWAP_RAM >> 20, t1 - t0, out1 - out0, swapped >> 20,
	       read_num(CGROUP "/memory.current") >> 20);
	/* At least half of what exceeds the cgroup's limit went to swap. */
	EXPECT_LE((long long)(SWAP_RAM - SWAP_CG_MAX) / 2, swapped);
	EXPECT_LE((long long)((SWAP_RAM - SWAP_CG_MAX) / 2 / PAGE), out1 - out0);
	EXPECT_GE((long long)SWAP_CG_MAX, read_num(CGROUP "/memory.current"));

	guest_cmd(_metadata, self, OP_VERIFY, TEST_GPA, n, SWAP_STEP, 7,
		  NO_PAGE, 0);
	t2 = now();
	in1 = read_key("/proc/vmstat", "pswpin");
	ASSERT_VHM(get_stats(self->vm.fd, &b));
	TH_LOG("guest verified it in %.1f s: pswpin +%lld; faults +%llu, zapped 4k +%llu, invalidations +%llu",
	       t2 - t1, in1 - in0, b.nested_faults - a.nested_faults,
	       b.zapped_4k - a.zapped_4k, b.invalidations - a.invalidations);
	EXPECT_LE((long long)((SWAP_RAM - SWAP_CG_MAX) / 2 / PAGE), in1 - in0);
	/* Reclaim took pages the guest had mapped: they were zapped. */
	EXPECT_LE((SWAP_RAM - SWAP_CG_MAX) / 2 / PAGE, b.zapped_4k - a.zapped_4k);
	/* The host reads the guest's bytes too (swapping them in again). */
	EXPECT_EQ(pattern(7, TEST_GPA + (n - 1) * PAGE, 0),
		  ((uint64_t *)self->ram)[(n - 1) * WORDS]);
	EXPECT_EQ(pattern(7, TEST_GPA, 128), ((uint64_t *)self->ram)[128]);
}

/* ---------------------------------------------------------------------
 * A slot change racing the host freeing the slot's old pages (issue 13,
 * defect 1). vhm must remove the old range's nested entries, and make
 * the vCPUs forget them, before the new slot is visible: an MMU-notifier
 * invalidation of the old memory that comes after finds no slot and zaps
 * nothing, and the host reuses those pages at once. The guest reads the
 * slot without pause; the host moves the slot between two buffers (or
 * deletes it) while another thread drops the old buffer's pages
 * (MADV_DONTNEED) and fills freshly allocated memory with POISON, which
 * the page allocator takes from the pages just freed. POISON is never in
 * any slot: a guest that reads it read a page the host freed.
 */
#define RACE_PAGES	16
#define RACE_ROUNDS	race_rounds()	/* 300; VHM_TEST_RACE_ROUNDS */
#define RACE_SPRAY	(4 * RACE_PAGES)
#define RACE_GOOD	0x600d600d600d600dull
#define RACE_POISON	0xdeadbeefbaadf00dull

static uint64_t race_stop, race_passes, race_poison, race_last;

/* The Bochs test host asks for fewer rounds (tools/testhost/run). */
static int race_rounds(void)
{
	const char *e = getenv("VHM_TEST_RACE_ROUNDS");
	int n = e ? atoi(e) : 0;

	return n >= 10 && n <= 10000 ? n : 300;
}

/* The guest's side of the globals the host changes or watches. */
#define RACE_V(var)	(*(volatile uint64_t *)&(var))

static void guest_race_reader(void)
{
	uint64_t i, v;

	while (!RACE_V(race_stop)) {
		for (i = 0; i < RACE_PAGES; i++) {
			v = guest_readq(TEST_GPA + i * PAGE);
			if (v == RACE_POISON)
				RACE_V(race_poison)++;
			else if (v != RACE_GOOD && v)
				RACE_V(race_last) = v;
		}
		RACE_V(race_passes)++;
	}
	GUEST_DONE();
}

struct race_vcpu {
	struct guest_vcpu *vcpu;
	int done;		/* the guest reached GUEST_DONE */
	int bad_exit;		/* an exit other than an MMIO read or DONE */
};

/* The vCPU thread: MMIO reads (the slot deleted) read 0. */
static void *race_vcpu_thread(void *arg)
{
	struct race_vcpu *r = arg;
	struct vhm_run *run = r->vcpu->run;
	struct ucall uc;

	for (;;) {
		if (get_ucall(r->vcpu, &uc) == UCALL_DONE) {
			r->done = 1;
			return NULL;
		}
		if (r->vcpu->run_ret || uc.cmd != UCALL_NONE ||
		    run->exit_reason != VHM_EXIT_MMIO || run->mmio.is_write) {
			r->bad_exit = 1;
			return NULL;
		}
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
	}
}

struct race_free {
	pthread_barrier_t *go;
	uint64_t *buf;		/* the slot's memory before the change */
	uint64_t *spray;
	useconds_t delay;	/* after the slot change started */
};

/* Drop the old buffer's pages and hand them to the POISON writer. */
static void *race_free_thread(void *arg)
{
	struct race_free *f = arg;
	uint64_t i;

	pthread_barrier_wait(f->go);
	if (f->delay)
		usleep(f->delay);
	madvise(f->buf, RACE_PAGES * PAGE, MADV_DONTNEED);
	for (i = 0; i < RACE_SPRAY; i++)
		f->spray[i * WORDS] = RACE_POISON;
	return NULL;
}

static void race_fill(uint64_t *buf)
{
	uint64_t i;

	for (i = 0; i < RACE_PAGES; i++)
		buf[i * WORDS] = RACE_GOOD;
}

static uint64_t race_passes_now(struct guest_vm *vm)
{
	return __atomic_load_n(guest_var(vm, race_passes), __ATOMIC_RELAXED);
}

/* Wait until the guest read the slot whole at least twice. */
static void race_wait_passes(struct guest_vm *vm, const struct race_vcpu *r)
{
	uint64_t start = race_passes_now(vm);
	double t0 = now();

	while (race_passes_now(vm) < start + 2 && !r->bad_exit && !r->done &&
	       now() - t0 < 10)
		sched_yield();
}

TEST(slot_change_never_leaves_freed_pages_to_the_guest)
{
	struct guest_vcpu vcpu = { .raw.fd = -1 };
	struct guest_vm vm = { .fd = -1 };
	struct race_vcpu r = { .vcpu = &vcpu };
	uint64_t *buf[2], *spray;
	pthread_barrier_t go;
	pthread_t vt, ft;
	int sys = -1, round, cur = 0, moves = 0, deletes = 0;

	REQUIRE_VHM_GUESTS(sys);
	ASSERT_VHM(guest_vm_create(&vm, sys));
	ASSERT_VHM(guest_vcpu_create(&vm, 0, &vcpu));
	buf[0] = guest_ram(RACE_PAGES * PAGE);
	buf[1] = guest_ram(RACE_PAGES * PAGE);
	ASSERT_NE(NULL, buf[0]);
	ASSERT_NE(NULL, buf[1]);
	race_fill(buf[0]);
	ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, TEST_GPA,
				RACE_PAGES * PAGE, buf[0]));
	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, 2));
	ASSERT_VHM(guest_vcpu_start_long(&vcpu, guest_race_reader, 0));
	ASSERT_EQ(0, pthread_create(&vt, NULL, race_vcpu_thread, &r));

	for (round = 0; round < RACE_ROUNDS && !r.bad_exit && !r.done;
	     round++) {
		int next = !cur, delete = round % 4 == 3;
		struct race_free f = { .go = &go, .buf = buf[cur],
				       .delay = (round % 3) * 1000 };

		race_wait_passes(&vm, &r);
		race_fill(buf[next]);
		spray = mmap(NULL, RACE_SPRAY * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, spray);
		f.spray = spray;
		ASSERT_EQ(0, pthread_create(&ft, NULL, race_free_thread, &f));
		pthread_barrier_wait(&go);
		if (delete) {
			ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, TEST_GPA,
						0, NULL));
			deletes++;
		} else {
			ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, TEST_GPA,
						RACE_PAGES * PAGE,
						buf[next]));
			moves++;
		}
		pthread_join(ft, NULL);
		race_wait_passes(&vm, &r);
		munmap(spray, RACE_SPRAY * PAGE);
		if (delete)
			ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0,
						TEST_GPA, RACE_PAGES * PAGE,
						buf[next]));
		cur = next;
	}
	__atomic_store_n(guest_var(&vm, race_stop), 1, __ATOMIC_RELAXED);
	pthread_join(vt, NULL);
	EXPECT_EQ(0, r.bad_exit) TH_LOG("the vCPU stopped at exit %u",
					vcpu.run->exit_reason);
	EXPECT_EQ(1, r.done);
	sync_global_from_guest(&vm, race_poison);
	sync_global_from_guest(&vm, race_last);
	sync_global_from_guest(&vm, race_passes);
	EXPECT_EQ(0, race_poison)
		TH_LOG("the guest read host memory freed after %d slot moves and %d deletions",
		       moves, deletes);
	EXPECT_EQ(0, race_last)
		TH_LOG("the guest read 0x%llx, neither its data nor a fresh page",
		       (unsigned long long)race_last);
	EXPECT_GT(race_passes, 2 * RACE_ROUNDS);
	TH_LOG("%d moves, %d deletions, %llu guest passes over the slot",
	       moves, deletes, (unsigned long long)race_passes);
	pthread_barrier_destroy(&go);
	munmap(buf[0], RACE_PAGES * PAGE);
	munmap(buf[1], RACE_PAGES * PAGE);
	guest_vcpu_free(&vcpu);
	guest_vm_free(&vm);
	close(sys);
}

/* ---------------------------------------------------------------------
 * A huge, sparse guest mapping (issue 13, defect 10): a 16 GiB slot at
 * 512 GiB with one 4 KiB page touched per 2 MiB, so 8192 level-1 nested
 * tables, torn down three ways: munmap (an MMU-notifier invalidation),
 * deleting the slot, destroying the VM. vhm zaps such ranges a piece at a
 * time and lets the CPU go between pieces; the test host's log check fails
 * the run on any soft lockup or RCU stall. The guest reaches the range
 * through a PML4 entry the host adds: 1 GiB pages over 512 GiB .. 1 TiB.
 */
#define SPARSE_GPA	(512ull << 30)
#define SPARSE_SIZE	sparse_size()	/* 16 GiB; VHM_TEST_SPARSE_GIB */
#define SPARSE_STEP	SIZE_2M
#define SPARSE_TOUCHES	(SPARSE_SIZE / SPARSE_STEP)

/* The Bochs test host asks for a smaller range (tools/testhost/run). */
static uint64_t sparse_size(void)
{
	const char *e = getenv("VHM_TEST_SPARSE_GIB");
	int gib = e ? atoi(e) : 0;

	return (uint64_t)(gib >= 1 && gib <= 64 ? gib : 16) << 30;
}
#define SPARSE_PDPT	0x10a000ull	/* free: after GUEST_PD's 4 pages */
#define PTE_P_RW	3ull
#define PTE_PS_1G	(1ull << 7)

/* n: the touches (the guest cannot read the host's environment). */
static void guest_sparse_touch(uint64_t n)
{
	uint64_t i;

	for (;;) {
		for (i = 0; i < n; i++)
			guest_writeq(SPARSE_GPA + i * SPARSE_STEP, i + 1);
		GUEST_SYNC(n);
	}
}

static bool host_has_1g_pages(void)
{
	unsigned int a, b, c, d;

	__cpuid(0x80000001, a, b, c, d);
	return d & (1u << 26);
}

static void *sparse_map(void)
{
	void *p = mmap(NULL, SPARSE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* One 4 KiB page per touch, not a 2 MiB THP each. */
	madvise(p, SPARSE_SIZE, MADV_NOHUGEPAGE);
	return p;
}

/* Touch the range once more from the guest: the entries are all there. */
static void sparse_fill(struct __test_metadata *_metadata,
			struct guest_vcpu *v, int vm)
{
	struct vhm_vm_stats st;

	ASSERT_GUEST_SYNC(v, SPARSE_TOUCHES);
	ASSERT_VHM(get_stats(vm, &st));
	EXPECT_LE(SPARSE_TOUCHES, st.mapped_4k);
}

TEST(huge_sparse_mapping_torn_down_without_stalls)
{
	struct guest_vcpu vcpu = { .raw.fd = -1 };
	struct guest_vm vm = { .fd = -1 };
	struct vhm_vm_stats st;
	uint64_t *pml4, *pdpt, i;
	double t0, t_munmap, t_delete, t_destroy;
	int sys = -1;
	void *ram;

	REQUIRE_VHM_GUESTS(sys);
	if (!host_has_1g_pages())
		SKIP(return, "the CPU has no 1 GiB pages: the guest cannot reach 512 GiB with the library's tables");
	ASSERT_VHM(guest_vm_create(&vm, sys));
	ASSERT_VHM(guest_vcpu_create(&vm, 0, &vcpu));
	pml4 = guest_gpa_to_hva(&vm, GUEST_PML4, PAGE);
	pdpt = guest_gpa_to_hva(&vm, SPARSE_PDPT, PAGE);
	ASSERT_NE(NULL, pml4);
	ASSERT_NE(NULL, pdpt);
	ASSERT_EQ(0, pml4[1]);		/* the library maps 0 .. 4 GiB only */
	for (i = 0; i < 512; i++)
		pdpt[i] = (SPARSE_GPA + (i << 30)) | PTE_P_RW | PTE_PS_1G;
	pml4[1] = SPARSE_PDPT | PTE_P_RW;

	ram = sparse_map();
	ASSERT_NE(NULL, ram);
	ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, SPARSE_GPA, SPARSE_SIZE,
				ram));
	ASSERT_VHM(guest_vcpu_start_long(&vcpu, guest_sparse_touch,
					 SPARSE_TOUCHES));
	sparse_fill(_metadata, &vcpu, vm.fd);
	t0 = now();
	ASSERT_EQ(0, munmap(ram, SPARSE_SIZE));
	t_munmap = now() - t0;
	ASSERT_VHM(get_stats(vm.fd, &st));
	EXPECT_GT(SPARSE_TOUCHES, st.mapped_4k) TH_LOG("munmap zapped nothing");

	ram = sparse_map();
	ASSERT_NE(NULL, ram);
	ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, SPARSE_GPA, SPARSE_SIZE,
				ram));
	sparse_fill(_metadata, &vcpu, vm.fd);
	t0 = now();
	ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, SPARSE_GPA, 0, NULL));
	t_delete = now() - t0;
	ASSERT_VHM(get_stats(vm.fd, &st));
	EXPECT_GT(SPARSE_TOUCHES, st.mapped_4k) TH_LOG("the deletion zapped nothing");

	ASSERT_VHM(vhm_set_slot(vm.fd, TEST_SLOT, 0, SPARSE_GPA, SPARSE_SIZE,
				ram));
	sparse_fill(_metadata, &vcpu, vm.fd);
	t0 = now();
	guest_vcpu_free(&vcpu);
	guest_vm_free(&vm);
	t_destroy = now() - t0;
	munmap(ram, SPARSE_SIZE);
	close(sys);
	TH_LOG("%llu pages torn down: munmap %.2f s, slot deletion %.2f s, VM destruction %.2f s",
	       (unsigned long long)SPARSE_TOUCHES, t_munmap, t_delete,
	       t_destroy);
}

TEST_HARNESS_MAIN
