// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl fuzzer (issue 13, "Defences to build"): structure-aware random
 * and mutated calls of every ioctl of uapi/linux/vhm.h on every fd type,
 * with an oracle (every refusal must carry an errno docs/API.md documents
 * for that ioctl), plus races: VHM_RUN against close, slot changes,
 * munmap/mprotect/MADV_DONTNEED of guest RAM, fork, CREATE_VCPU and
 * CREATE_VM storms.
 *
 * VHM_FUZZ_SEED (default: time based, printed) makes a run replayable:
 * the same seed issues the same sequence of calls (VHM_RUN's results
 * depend on timing: which run a timer signal ends). VHM_FUZZ_CALLS
 * (default 100000; 10000 in Bochs, the Intel test host, which makes
 * about 800 a second of its emulated time) is the number of ioctls of
 * the "ioctls" case. Each case unloads vhm at its end: a leaked VM, vCPU
 * or file reference shows as rmmod failing with EBUSY.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/vhm.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "vhm_assert.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define PAGE		4096ul

/* ------------------------------------------------------------------
 * Random numbers: xorshift64*, one state per thread.
 */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static int chance(struct rng *r, int percent)
{
	return (int)below(r, 100) < percent;
}

/* Interesting 64-bit values: boundaries, bit 63, unaligned, random. */
static uint64_t rnd_val(struct rng *r)
{
	static const uint64_t v[] = {
		0, 1, 2, 0xf, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x7fff, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
		0xfffff000, 0xfee00000, 0xfec00000, 0xffff0000, 0x0000800000000000ull,
		0x0000fffffffff000ull, 0x00007ffffffff000ull, 1ull << 63,
		~0ull, ~0ull - 0xfff, 0xffff800000000000ull, 0x8000000000000000ull | 0x1000,
	};

	switch (below(r, 4)) {
	case 0:
		return v[below(r, ARRAY_SIZE(v))];
	case 1:
		return v[below(r, ARRAY_SIZE(v))] + below(r, 3) - 1;
	case 2:
		return 1ull << below(r, 64);
	default:
		return rnd(r);
	}
}

static void rnd_bytes(struct rng *r, void *p, size_t n)
{
	unsigned char *b = p;

	while (n >= 8) {
		uint64_t x = rnd(r);

		memcpy(b, &x, 8);
		b += 8;
		n -= 8;
	}
	while (n--)
		*b++ = rnd(r);
}

/* Flip 1..4 random bits of a buffer. */
static void flip_bits(struct rng *r, void *p, size_t n)
{
	unsigned char *b = p;
	int i, k = 1 + below(r, 4);

	for (i = 0; i < k && n; i++)
		b[below(r, n)] ^= 1u << below(r, 8);
}

/* ------------------------------------------------------------------
 * A timer signal per thread: VHM_RUN of a spinning guest returns EINTR.
 */
static void sig_empty(int sig)
{
	(void)sig;
}

static void install_sigalrm(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_empty;	/* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
}

/* A periodic SIGALRM for the calling thread only; 0 or -errno. */
static int ticker_start(timer_t *t, long usec)
{
	struct sigevent sev;
	struct itimerspec its;

	install_sigalrm();
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev.sigev_notify_thread_id = syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, t))
		return -errno;
	its.it_interval.tv_sec = 0;
	its.it_interval.tv_nsec = usec * 1000;
	its.it_value = its.it_interval;
	if (timer_settime(*t, 0, &its, NULL))
		return -errno;
	return 0;
}

static void ticker_stop(timer_t t)
{
	timer_delete(t);
}

/* ------------------------------------------------------------------
 * The ioctls, their fd level and the errnos docs/API.md allows.
 */
enum level { SYS, VM, VCPU };

#define E(x)	(1ull << (x))
/* Every vCPU ioctl (docs/API.md, "vCPU fd"). */
#define VCPU_ERR	(E(EIO) | E(EFAULT) | E(EINTR))

struct ioc {
	const char *name;
	unsigned long cmd;
	enum level level;
	uint64_t allowed;	/* errnos (all below 64) */
};

enum {
	I_API, I_CHECK_EXT, I_CREATE_VM, I_MMAP_SIZE, I_SUPP_CPUID, I_MSR_LIST,
	I_CREATE_VCPU, I_SET_SLOT, I_ENABLE_CAP, I_CREATE_LAPIC, I_IRQ_LINE,
	I_VM_STATS,
	I_RUN, I_GET_REGS, I_SET_REGS, I_GET_SREGS, I_SET_SREGS, I_GET_MSRS,
	I_SET_MSRS, I_GET_XSAVE, I_SET_XSAVE, I_SET_CPUID, I_GET_CPUID,
	I_GET_EVENTS, I_SET_EVENTS, I_GET_XCRS, I_SET_XCRS, I_GET_DEBUGREGS,
	I_SET_DEBUGREGS,
	I_NR_KNOWN,
	I_UNKNOWN = I_NR_KNOWN,	/* unknown numbers, wrong encodings, wrong fd */
	I_NR,
};

static const struct ioc iocs[I_NR] = {
	[I_API] = { "GET_API_VERSION", VHM_GET_API_VERSION, SYS, E(EINVAL) },
	[I_CHECK_EXT] = { "CHECK_EXTENSION", VHM_CHECK_EXTENSION, SYS, 0 },
	[I_CREATE_VM] = { "CREATE_VM", VHM_CREATE_VM, SYS,
			  E(EINVAL) | E(ENOMEM) | E(EMFILE) | E(ENOSPC) |
			  E(EINTR) },
	[I_MMAP_SIZE] = { "GET_VCPU_MMAP_SIZE", VHM_GET_VCPU_MMAP_SIZE, SYS, E(EINVAL) },
	/* EINVAL: non-zero flags (the rule for every struct). */
	[I_SUPP_CPUID] = { "GET_SUPPORTED_CPUID", VHM_GET_SUPPORTED_CPUID, SYS,
			   E(E2BIG) | E(EFAULT) | E(EINVAL) },
	[I_MSR_LIST] = { "GET_MSR_LIST", VHM_GET_MSR_LIST, SYS,
			 E(E2BIG) | E(EFAULT) | E(EINVAL) },
	[I_CREATE_VCPU] = { "CREATE_VCPU", VHM_CREATE_VCPU, VM,
			    E(EINVAL) | E(EEXIST) | E(ENOSPC) | E(ENOMEM) | E(EIO) | E(EMFILE) },
	[I_SET_SLOT] = { "SET_MEMORY_SLOT", VHM_SET_MEMORY_SLOT, VM,
			 E(ENOSPC) | E(EINVAL) | E(ERANGE) | E(EFAULT) | E(EEXIST) | E(ENOENT) },
	[I_ENABLE_CAP] = { "ENABLE_CAP", VHM_ENABLE_CAP, VM, E(EFAULT) | E(EINVAL) },
	[I_CREATE_LAPIC] = { "CREATE_LAPIC", VHM_CREATE_LAPIC, VM,
			     E(EFAULT) | E(EINVAL) | E(EEXIST) | E(EBUSY) | E(ENOMEM) | E(EIO) },
	[I_IRQ_LINE] = { "IRQ_LINE", VHM_IRQ_LINE, VM,
			 E(EFAULT) | E(EINVAL) | E(ENXIO) | E(EIO) },
	[I_VM_STATS] = { "GET_VM_STATS", VHM_GET_VM_STATS, VM,
			 E(EFAULT) | E(EINVAL) | E(EIO) },
	[I_RUN] = { "RUN", VHM_RUN, VCPU, VCPU_ERR | E(EINVAL) | E(ENOMEM) },
	[I_GET_REGS] = { "GET_REGS", VHM_GET_REGS, VCPU, VCPU_ERR },
	[I_SET_REGS] = { "SET_REGS", VHM_SET_REGS, VCPU, VCPU_ERR },
	[I_GET_SREGS] = { "GET_SREGS", VHM_GET_SREGS, VCPU, VCPU_ERR },
	[I_SET_SREGS] = { "SET_SREGS", VHM_SET_SREGS, VCPU, VCPU_ERR | E(EINVAL) },
	[I_GET_MSRS] = { "GET_MSRS", VHM_GET_MSRS, VCPU, VCPU_ERR | E(EINVAL) },
	[I_SET_MSRS] = { "SET_MSRS", VHM_SET_MSRS, VCPU, VCPU_ERR | E(EINVAL) },
	[I_GET_XSAVE] = { "GET_XSAVE", VHM_GET_XSAVE, VCPU, VCPU_ERR },
	[I_SET_XSAVE] = { "SET_XSAVE", VHM_SET_XSAVE, VCPU, VCPU_ERR | E(EINVAL) },
	[I_SET_CPUID] = { "SET_CPUID", VHM_SET_CPUID, VCPU, VCPU_ERR | E(EINVAL) },
	[I_GET_CPUID] = { "GET_CPUID", VHM_GET_CPUID, VCPU, VCPU_ERR | E(EINVAL) | E(E2BIG) },
	[I_GET_EVENTS] = { "GET_VCPU_EVENTS", VHM_GET_VCPU_EVENTS, VCPU, VCPU_ERR },
	[I_SET_EVENTS] = { "SET_VCPU_EVENTS", VHM_SET_VCPU_EVENTS, VCPU, VCPU_ERR | E(EINVAL) },
	/* ENOTTY: a host without XSAVE. */
	[I_GET_XCRS] = { "GET_XCRS", VHM_GET_XCRS, VCPU, VCPU_ERR | E(ENOTTY) },
	[I_SET_XCRS] = { "SET_XCRS", VHM_SET_XCRS, VCPU, VCPU_ERR | E(EINVAL) | E(ENOTTY) },
	[I_GET_DEBUGREGS] = { "GET_DEBUGREGS", VHM_GET_DEBUGREGS, VCPU, VCPU_ERR },
	[I_SET_DEBUGREGS] = { "SET_DEBUGREGS", VHM_SET_DEBUGREGS, VCPU, VCPU_ERR | E(EINVAL) },
	[I_UNKNOWN] = { "unknown/wrong-encoding/wrong-fd", 0, SYS, E(ENOTTY) },
};

#define NERR	134
struct stats {
	uint64_t calls, ok;
	uint64_t err[NERR];
};

/* ------------------------------------------------------------------
 * The fuzzer's world.
 */
#define MAX_VMS		4
#define MAX_VCPUS	4	/* tracked per VM (ids are anything 0..63) */
#define NREGIONS	4
#define REGION_SIZE	(256 * 1024ul)
#define MAX_FAIL_LOGS	30

struct fvcpu {
	int fd;
	int id;
	struct vhm_run *run;
};

struct fvm {
	int fd;		/* -1: closed (an orphan's vCPUs may live on) */
	int orphan;	/* VM fd closed, vCPUs kept */
	int lapic;	/* 0 none, 1 LAPIC, 2 LAPIC + IOAPIC */
	int nvcpus;
	struct fvcpu vcpu[MAX_VCPUS];
};

struct fuzz {
	struct __test_metadata *md;
	struct rng r;
	uint64_t seed;
	uint64_t calls, max_calls;
	uint64_t trace_from;	/* VHM_FUZZ_TRACE: print calls from this one on */
	uint64_t failures;
	int sys;
	int mmap_size;
	struct fvm vm[MAX_VMS];
	unsigned char *region[NREGIONS];
	/* Bad pointers: a PROT_NONE page, a read-only page, a page before a guard. */
	unsigned char *unmapped, *ropage, *guarded;
	unsigned char *buf;	/* 16 KiB argument buffer */
	struct vhm_cpuid *supported;
	struct stats st[I_NR];
	const char *what;	/* argument kind of the current call */
	char summary[160];
};

/* Account the result of one call and apply the oracle. */
static void check(struct fuzz *f, int idx, long ret, int err, const char *extra)
{
	struct stats *s = &f->st[idx];
	const struct ioc *io = &iocs[idx];
	struct __test_metadata *_metadata = f->md;

	s->calls++;
	if (ret >= 0) {
		s->ok++;
		return;
	}
	if (err > 0 && err < NERR)
		s->err[err]++;
	if (err > 0 && err < 64 && (io->allowed & E(err)))
		return;
	f->failures++;
	if (f->failures <= MAX_FAIL_LOGS)
		TH_LOG("ORACLE: seed %" PRIu64 " call %" PRIu64 ": %s (%s) -> %s (errno %d) not documented; %s%s",
		       f->seed, f->calls, io->name, f->what, strerror(err), err,
		       f->summary, extra ? extra : "");
}

/* A definite wrong result that is not an errno (e.g. success on NULL). */
static void fail(struct fuzz *f, const char *fmt, ...)
{
	struct __test_metadata *_metadata = f->md;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->failures++;
	if (f->failures <= MAX_FAIL_LOGS)
		TH_LOG("ORACLE: seed %" PRIu64 " call %" PRIu64 ": %s; %s",
		       f->seed, f->calls, msg, f->summary);
}

static long do_ioctl(struct fuzz *f, int fd, int idx, unsigned long cmd,
		     unsigned long arg, int *err)
{
	long r;

	f->calls++;
	if (f->trace_from && f->calls >= f->trace_from) {
		fprintf(stderr, "# trace %" PRIu64 ": %s cmd %#lx (%s) %s\n", f->calls,
			idx < I_NR ? iocs[idx].name : "?", cmd, f->what, f->summary);
		fflush(stderr);
	}
	errno = 0;
	r = ioctl(fd, cmd, arg);
	*err = r < 0 ? errno : 0;
	(void)idx;
	return r;
}

/* ------------------------------------------------------------------
 * Guest memory: four regions of "instruction soup".
 */
static const struct {
	unsigned char len, b[6];
} soup[] = {
	{ 1, { 0xee } },			/* out dx, al */
	{ 1, { 0xec } },			/* in al, dx */
	{ 2, { 0xe6, 0x80 } },			/* out 0x80, al */
	{ 2, { 0xe5, 0x71 } },			/* in ax, 0x71 */
	{ 1, { 0xf4 } },			/* hlt */
	{ 3, { 0x0f, 0x01, 0xd9 } },		/* vmmcall */
	{ 3, { 0x0f, 0x01, 0xc1 } },		/* vmcall */
	{ 2, { 0x0f, 0xa2 } },			/* cpuid */
	{ 2, { 0x0f, 0x32 } },			/* rdmsr */
	{ 2, { 0x0f, 0x30 } },			/* wrmsr */
	{ 3, { 0x0f, 0x01, 0xd1 } },		/* xsetbv */
	{ 2, { 0x0f, 0x31 } },			/* rdtsc */
	{ 3, { 0x0f, 0x23, 0xc0 } },		/* mov dr0, eax */
	{ 3, { 0x0f, 0x21, 0xf0 } },		/* mov eax, dr6 */
	{ 3, { 0x0f, 0x23, 0xf8 } },		/* mov dr7, eax */
	{ 3, { 0x0f, 0x22, 0xe0 } },		/* mov cr4, eax */
	{ 3, { 0x0f, 0x22, 0xc0 } },		/* mov cr0, eax */
	{ 3, { 0x0f, 0x22, 0xd8 } },		/* mov cr3, eax */
	{ 1, { 0xcc } },			/* int3 */
	{ 2, { 0x0f, 0x0b } },			/* ud2 */
	{ 1, { 0xfb } },			/* sti */
	{ 1, { 0xfa } },			/* cli */
	{ 2, { 0xf3, 0xa4 } },			/* rep movsb */
	{ 2, { 0xf3, 0xaa } },			/* rep stosb */
	{ 2, { 0xf3, 0x6c } },			/* rep insb */
	{ 2, { 0xf3, 0x6e } },			/* rep outsb */
	{ 2, { 0x0f, 0x09 } },			/* wbinvd */
	{ 2, { 0x0f, 0x33 } },			/* rdpmc */
	{ 1, { 0xcf } },			/* iret */
	{ 2, { 0xcd, 0x80 } },			/* int 0x80 */
	{ 2, { 0xeb, 0xfe } },			/* jmp $ */
	{ 2, { 0x0f, 0x05 } },			/* syscall */
	{ 3, { 0x0f, 0x01, 0x38 } },		/* invlpg [eax] */
	{ 2, { 0x89, 0x07 } },			/* mov [edi], eax */
	{ 2, { 0x8b, 0x07 } },			/* mov eax, [edi] */
	{ 2, { 0xf1, 0x90 } },			/* int1; nop */
	{ 3, { 0x0f, 0x01, 0xf9 } },		/* rdtscp */
	{ 2, { 0x0f, 0x01 } },			/* lgdt/lidt family, random modrm */
};

/* The AMD test host's QEMU TCG (see tcg_lme_hazard()). */
static bool on_tcg(void)
{
	static int tcg = -1;

	if (tcg < 0)
		tcg = host_is_qemu_tcg();
	return tcg;
}

#define MSR_EFER_INDEX	0xc0000080u

/*
 * mov eax/ecx/edx/edi, imm32 with interesting values. On TCG not EFER's
 * index: a WRMSR of the soup would set EFER.LME without CR4.PAE often
 * enough to hang the test host in about one million-call run of two
 * (tcg_lme_hazard()); the fuzzer's own EFER writes are filtered there.
 */
static size_t soup_mov(struct rng *r, unsigned char *p)
{
	static const unsigned char op[] = { 0xb8, 0xb9, 0xba, 0xbf };
	static const uint32_t v[] = {
		0xfee00000, 0xfee00300, 0xfee000b0, 0xfec00000, 0xfec00010,
		MSR_EFER_INDEX, 0x1b, 0x6e0, 0x830, 0x277, 0x80000000, 0x3f8, 7,
		0x60000011, 0x20, 0x80000001, 0xd, 0x400, 0x1000,
	};
	uint32_t x = chance(r, 70) ? v[below(r, ARRAY_SIZE(v))] : (uint32_t)rnd(r);

	if (x == MSR_EFER_INDEX && on_tcg())
		x = MSR_EFER_INDEX + 1;		/* STAR */
	p[0] = op[below(r, ARRAY_SIZE(op))];
	memcpy(p + 1, &x, 4);
	return 5;
}

static void fill_soup(struct rng *r, unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i + 8 <= n) {
		unsigned int k = below(r, 10);

		if (k < 5) {
			unsigned int s = below(r, ARRAY_SIZE(soup));

			memcpy(p + i, soup[s].b, soup[s].len);
			i += soup[s].len;
		} else if (k < 8) {
			i += soup_mov(r, p + i);
		} else {
			p[i++] = rnd(r);
		}
	}
	while (i < n)
		p[i++] = 0x90;
}

/* ------------------------------------------------------------------
 * Bad pointers.
 */
/*
 * *writable_ok: 0 unusable, 1 read-only (fine for _IOW), 3 the start
 * readable (a variable-size struct with a zero count may succeed).
 */
static unsigned long bad_ptr(struct fuzz *f, size_t size, int *writable_ok)
{
	*writable_ok = 0;
	switch (below(&f->r, 7)) {
	case 0:
		f->what = "NULL";
		return 0;
	case 1:
		f->what = "kernel address";
		return chance(&f->r, 50) ? 0xffffffff81000000ul : 0xffff888000001000ul;
	case 2:
		f->what = "no access (PROT_NONE)";
		return (unsigned long)f->unmapped + below(&f->r, PAGE);
	case 3:
		f->what = "non-canonical";
		return 1ul << 63 | below(&f->r, 1ul << 40);
	case 4:
		f->what = "straddles a guard page";
		*writable_ok = 3;
		return (unsigned long)f->guarded + PAGE - (size > 1 ? below(&f->r, size - 1) + 1 : 1);
	case 5:
		f->what = "small address";
		return 1 + below(&f->r, 0xfff);
	default:
		/* Readable, not writable: fine for _IOW, EFAULT for _IOR. */
		f->what = "read-only page";
		*writable_ok = 1;
		return (unsigned long)f->ropage;
	}
}

/* ------------------------------------------------------------------
 * The lifecycle: VMs and vCPUs the fuzzer keeps.
 */
static void vcpu_close(struct fvcpu *c)
{
	if (c->run)
		munmap(c->run, PAGE);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->run = NULL;
}

static void vm_close(struct fvm *v)
{
	int i;

	for (i = 0; i < v->nvcpus; i++)
		vcpu_close(&v->vcpu[i]);
	v->nvcpus = 0;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	v->orphan = 0;
	v->lapic = 0;
}

static struct fvm *pick_vm(struct fuzz *f)
{
	int i, k = below(&f->r, MAX_VMS);

	for (i = 0; i < MAX_VMS; i++) {
		struct fvm *v = &f->vm[(k + i) % MAX_VMS];

		if (v->fd >= 0)
			return v;
	}
	return NULL;
}

static struct fvcpu *pick_vcpu(struct fuzz *f, struct fvm **vmp)
{
	int i, k = below(&f->r, MAX_VMS);

	for (i = 0; i < MAX_VMS; i++) {
		struct fvm *v = &f->vm[(k + i) % MAX_VMS];

		if ((v->fd >= 0 || v->orphan) && v->nvcpus) {
			*vmp = v;
			return &v->vcpu[below(&f->r, v->nvcpus)];
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------
 * System fd.
 */
/*
 * GET_MSR_LIST: room for every row, too little (E2BIG with the count),
 * flags or reserved set (EINVAL), a bad pointer (EFAULT).
 */
static void op_msr_list(struct fuzz *f)
{
	struct vhm_msr_list *l = (void *)f->buf;
	struct rng *r = &f->r;
	unsigned long p = (unsigned long)l;
	unsigned int k = below(r, 10);
	long ret;
	int err, w;

	memset(l, 0, sizeof(*l));
	l->nranges = k < 5 ? 512 : (uint32_t)rnd_val(r) & (k < 8 ? 0x3f : ~0u);
	if (k == 8)
		l->flags = 1u << below(r, 32);
	else if (k == 9)
		l->reserved = 1ull << below(r, 64);
	f->what = k < 5 ? "valid" : "mutated";
	if (chance(r, 15))
		p = bad_ptr(f, sizeof(*l) + 4 * sizeof(l->ranges[0]), &w);
	snprintf(f->summary, sizeof(f->summary), "nranges %u flags %#x reserved %#llx ptr %#lx",
		 l->nranges, l->flags, (unsigned long long)l->reserved, p);
	ret = do_ioctl(f, f->sys, I_MSR_LIST, VHM_GET_MSR_LIST, p, &err);
	check(f, I_MSR_LIST, ret, err, NULL);
	if (ret >= 0 && p != (unsigned long)l)
		fail(f, "GET_MSR_LIST succeeded on a bad pointer");
	if (p == (unsigned long)l && k < 5 && ret < 0)
		fail(f, "GET_MSR_LIST(512 rows) failed: %s", strerror(err));
}

static void op_sys(struct fuzz *f)
{
	struct rng *r = &f->r;
	unsigned long arg;
	long ret;
	int err, i;

	switch (below(r, 6)) {
	case 5:
		op_msr_list(f);
		break;
	case 0:
		arg = chance(r, 60) ? 0 : rnd_val(r);
		f->what = arg ? "non-zero" : "valid";
		snprintf(f->summary, sizeof(f->summary), "arg %#lx", arg);
		ret = do_ioctl(f, f->sys, I_API, VHM_GET_API_VERSION, arg, &err);
		check(f, I_API, ret, err, NULL);
		if (!arg && ret != VHM_API_VERSION)
			fail(f, "GET_API_VERSION(0) returned %ld", ret);
		if (arg && ret >= 0)
			fail(f, "GET_API_VERSION(%#lx) succeeded", arg);
		break;
	case 1:
		arg = chance(r, 50) ? below(r, 12) : rnd_val(r);
		f->what = "cap";
		snprintf(f->summary, sizeof(f->summary), "cap %#lx", arg);
		ret = do_ioctl(f, f->sys, I_CHECK_EXT, VHM_CHECK_EXTENSION, arg, &err);
		check(f, I_CHECK_EXT, ret, err, NULL);
		if (arg > VHM_CAP_MSR_LIST && ret != 0)
			fail(f, "CHECK_EXTENSION(%#lx) = %ld for an unknown cap", arg, ret);
		break;
	case 2:
		arg = chance(r, 85) ? 0 : rnd_val(r);
		f->what = arg ? "non-zero" : "valid";
		snprintf(f->summary, sizeof(f->summary), "arg %#lx", arg);
		for (i = 0; i < MAX_VMS && (f->vm[i].fd >= 0 || f->vm[i].nvcpus); i++)
			;
		if (i == MAX_VMS) {
			i = below(r, MAX_VMS);
			vm_close(&f->vm[i]);
		}
		ret = do_ioctl(f, f->sys, I_CREATE_VM, VHM_CREATE_VM, arg, &err);
		check(f, I_CREATE_VM, ret, err, NULL);
		if (ret >= 0) {
			if (arg)
				fail(f, "CREATE_VM(%#lx) succeeded", arg);
			f->vm[i].fd = ret;
			f->vm[i].lapic = 0;
			f->vm[i].orphan = 0;
		} else if (!arg && err != EINTR) {
			/* EINTR: the timer signal came (docs/API.md). */
			sigset_t set, old;
			long again;

			/* The same with the timer signal blocked: does it work then? */
			sigemptyset(&set);
			sigaddset(&set, SIGALRM);
			sigprocmask(SIG_BLOCK, &set, &old);
			again = ioctl(f->sys, VHM_CREATE_VM, 0);
			sigprocmask(SIG_SETMASK, &old, NULL);
			if (again >= 0) {
				f->vm[i].fd = again;
				f->vm[i].lapic = 0;
				f->vm[i].orphan = 0;
			}
			fail(f, "CREATE_VM(0) failed: %s; again with SIGALRM blocked: %s",
			     strerror(err), again >= 0 ? "success" : strerror(errno));
		}
		break;
	case 3:
		arg = chance(r, 60) ? 0 : rnd_val(r);
		f->what = arg ? "non-zero" : "valid";
		snprintf(f->summary, sizeof(f->summary), "arg %#lx", arg);
		ret = do_ioctl(f, f->sys, I_MMAP_SIZE, VHM_GET_VCPU_MMAP_SIZE, arg, &err);
		check(f, I_MMAP_SIZE, ret, err, NULL);
		if (!arg && ret != f->mmap_size)
			fail(f, "GET_VCPU_MMAP_SIZE = %ld", ret);
		break;
	default: {
		struct vhm_cpuid *c = (void *)f->buf;
		int w;
		unsigned long p = (unsigned long)c;
		unsigned int k = below(r, 10);

		memset(c, 0, 8);
		c->nent = k < 5 ? VHM_MAX_CPUID_ENTRIES : (uint32_t)rnd_val(r) & (k < 8 ? 0xff : ~0u);
		if (k == 9)
			c->flags = 1u << below(r, 32);
		f->what = k < 5 ? "valid" : "mutated";
		if (chance(r, 15))
			p = bad_ptr(f, 8 + 40 * 4, &w);
		snprintf(f->summary, sizeof(f->summary), "nent %u flags %#x ptr %#lx",
			 c->nent, c->flags, p);
		ret = do_ioctl(f, f->sys, I_SUPP_CPUID, VHM_GET_SUPPORTED_CPUID, p, &err);
		check(f, I_SUPP_CPUID, ret, err, NULL);
		if (ret >= 0 && p != (unsigned long)c)
			fail(f, "GET_SUPPORTED_CPUID succeeded on a bad pointer");
		if (p == (unsigned long)c && k < 5 && ret < 0)
			fail(f, "GET_SUPPORTED_CPUID(256 entries) failed: %s", strerror(err));
		break;
	}
	}
}

/* ------------------------------------------------------------------
 * VM fd.
 */
static uint64_t rnd_gpa(struct rng *r)
{
	static const uint64_t g[] = {
		0, 0x1000, 0x10000, 0x100000, 0xa0000, 0xfec00000, 0xfee00000,
		0xffff0000, 0xfffc0000, 0x40000000, 0x100000000ull,
		0x0000fffffffc0000ull,
	};

	return chance(r, 80) ? g[below(r, ARRAY_SIZE(g))] : below(r, 1ull << 32) & ~(PAGE - 1);
}

static void op_create_vcpu(struct fuzz *f, struct fvm *v)
{
	struct rng *r = &f->r;
	unsigned long id;
	long ret;
	int err;

	id = chance(r, 85) ? below(r, VHM_MAX_VCPUS) : rnd_val(r);
	f->what = id < VHM_MAX_VCPUS ? "valid" : "id out of range";
	snprintf(f->summary, sizeof(f->summary), "id %#lx", id);
	if (v->nvcpus == MAX_VCPUS)
		vcpu_close(&v->vcpu[--v->nvcpus]);
	ret = do_ioctl(f, v->fd, I_CREATE_VCPU, VHM_CREATE_VCPU, id, &err);
	check(f, I_CREATE_VCPU, ret, err, NULL);
	if (ret < 0) {
		if (id >= VHM_MAX_VCPUS && err != EINVAL)
			fail(f, "CREATE_VCPU(%#lx): %s, not EINVAL", id, strerror(err));
		return;
	}
	if (id >= VHM_MAX_VCPUS)
		fail(f, "CREATE_VCPU(%#lx) succeeded", id);
	v->vcpu[v->nvcpus].fd = ret;
	v->vcpu[v->nvcpus].id = id;
	v->vcpu[v->nvcpus].run = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ret, 0);
	if (v->vcpu[v->nvcpus].run == MAP_FAILED) {
		fail(f, "mmap of a new vCPU fd: %s", strerror(errno));
		v->vcpu[v->nvcpus].run = NULL;
	}
	v->nvcpus++;
}

static void op_set_slot(struct fuzz *f, struct fvm *v)
{
	struct rng *r = &f->r;
	struct vhm_memory_slot *m = (void *)f->buf;
	unsigned long p = (unsigned long)m;
	unsigned int k = below(r, 10), reg = below(r, NREGIONS);
	uint64_t off = below(r, REGION_SIZE / PAGE) * PAGE;
	long ret;
	int err, w = 0;

	memset(m, 0, sizeof(*m));
	m->slot = chance(r, 90) ? below(r, 8) : below(r, 300);
	m->flags = chance(r, 20) ? VHM_MEM_READONLY : 0;
	m->guest_phys_addr = rnd_gpa(r);
	m->size = chance(r, 15) ? 0 : (1 + below(r, (REGION_SIZE - off) / PAGE)) * PAGE;
	m->userspace_addr = (uintptr_t)f->region[reg] + off;
	f->what = "valid";
	if (k >= 6) {
		f->what = "mutated";
		switch (below(r, 8)) {
		case 0:
			m->flags ^= 1u << below(r, 32);
			break;
		case 1:
			m->reserved[below(r, 4)] = rnd_val(r);
			break;
		case 2:
			m->guest_phys_addr = rnd_val(r);
			break;
		case 3:
			m->size = rnd_val(r);
			break;
		case 4:
			m->userspace_addr = rnd_val(r);
			break;
		case 5:
			m->slot = rnd_val(r);
			break;
		case 6:
			/* Kernel or unmapped memory behind the slot. */
			m->userspace_addr = chance(r, 50) ? 0xffff888000000000ull :
					    (uintptr_t)f->unmapped;
			break;
		default:
			flip_bits(r, m, sizeof(*m));
		}
	}
	if (k == 9) {
		f->what = "random bytes";
		rnd_bytes(r, m, sizeof(*m));
	}
	if (chance(r, 5))
		p = bad_ptr(f, sizeof(*m), &w);
	snprintf(f->summary, sizeof(f->summary),
		 "slot %u flags %#x gpa %#llx size %#llx hva %#llx ptr %#lx",
		 m->slot, m->flags, (unsigned long long)m->guest_phys_addr,
		 (unsigned long long)m->size, (unsigned long long)m->userspace_addr, p);
	ret = do_ioctl(f, v->fd, I_SET_SLOT, VHM_SET_MEMORY_SLOT, p, &err);
	check(f, I_SET_SLOT, ret, err, NULL);
	if (ret >= 0 && p != (unsigned long)m && w != 1)
		fail(f, "SET_MEMORY_SLOT succeeded on a bad pointer");
}

static void op_enable_cap(struct fuzz *f, struct fvm *v)
{
	struct rng *r = &f->r;
	struct vhm_enable_cap *c = (void *)f->buf;
	unsigned long p = (unsigned long)c;
	unsigned int k = below(r, 10);
	long ret;
	int err, w = 0;

	memset(c, 0, sizeof(*c));
	c->cap = VHM_CAP_MSR_EXITS;
	c->args[0] = below(r, 4);
	f->what = "valid";
	if (k >= 5) {
		f->what = "mutated";
		switch (below(r, 5)) {
		case 0:
			c->cap = chance(r, 50) ? below(r, 12) : rnd(r);
			break;
		case 1:
			c->flags = 1u << below(r, 32);
			break;
		case 2:
			c->args[below(r, 4)] = rnd_val(r);
			break;
		case 3:
			c->reserved[below(r, 4)] = rnd_val(r);
			break;
		default:
			flip_bits(r, c, sizeof(*c));
		}
	}
	if (k == 9) {
		f->what = "random bytes";
		rnd_bytes(r, c, sizeof(*c));
	}
	if (chance(r, 5))
		p = bad_ptr(f, sizeof(*c), &w);
	snprintf(f->summary, sizeof(f->summary), "cap %u flags %#x args %#llx %#llx ptr %#lx",
		 c->cap, c->flags, (unsigned long long)c->args[0],
		 (unsigned long long)c->args[1], p);
	ret = do_ioctl(f, v->fd, I_ENABLE_CAP, VHM_ENABLE_CAP, p, &err);
	check(f, I_ENABLE_CAP, ret, err, NULL);
	if (ret >= 0 && p != (unsigned long)c && w != 1)
		fail(f, "ENABLE_CAP succeeded on a bad pointer");
	if (!strcmp(f->what, "valid") && p == (unsigned long)c && ret < 0)
		fail(f, "ENABLE_CAP(MSR_EXITS, %#llx) failed: %s",
		     (unsigned long long)c->args[0], strerror(err));
}

static void op_create_lapic(struct fuzz *f, struct fvm *v)
{
	struct rng *r = &f->r;
	struct vhm_create_lapic *c = (void *)f->buf;
	unsigned long p = (unsigned long)c;
	unsigned int k = below(r, 10);
	long ret;
	int err, w = 0;

	memset(c, 0, sizeof(*c));
	c->flags = below(r, 2) ? VHM_LAPIC_IOAPIC : 0;
	f->what = "valid";
	if (k >= 6) {
		f->what = "mutated";
		flip_bits(r, c, sizeof(*c));
	}
	if (k == 9) {
		f->what = "random bytes";
		rnd_bytes(r, c, sizeof(*c));
	}
	if (chance(r, 5))
		p = bad_ptr(f, sizeof(*c), &w);
	snprintf(f->summary, sizeof(f->summary), "flags %#x padding %#x ptr %#lx vcpus %d lapic %d",
		 c->flags, c->padding, p, v->nvcpus, v->lapic);
	ret = do_ioctl(f, v->fd, I_CREATE_LAPIC, VHM_CREATE_LAPIC, p, &err);
	check(f, I_CREATE_LAPIC, ret, err, NULL);
	if (ret >= 0) {
		if (p != (unsigned long)c && w != 1)
			fail(f, "CREATE_LAPIC succeeded on a bad pointer");
		if (v->lapic)
			fail(f, "a second CREATE_LAPIC succeeded");
		/* What the kernel read: the buffer, or the read-only page. */
		v->lapic = *(uint32_t *)p & VHM_LAPIC_IOAPIC ? 2 : 1;
	}
}

static void op_irq_line(struct fuzz *f, struct fvm *v)
{
	struct rng *r = &f->r;
	struct vhm_irq_line *l = (void *)f->buf;
	unsigned long p = (unsigned long)l;
	unsigned int k = below(r, 10);
	long ret;
	int err, w = 0, valid = 0;

	memset(l, 0, sizeof(*l));
	l->gsi = below(r, 24);
	l->level = below(r, 2);
	f->what = "valid";
	if (k >= 6) {
		f->what = "mutated";
		flip_bits(r, l, sizeof(*l));
	} else {
		valid = 1;
	}
	if (k == 9) {
		f->what = "random bytes";
		rnd_bytes(r, l, sizeof(*l));
	}
	if (chance(r, 5)) {
		p = bad_ptr(f, sizeof(*l), &w);
		valid = 0;
	}
	snprintf(f->summary, sizeof(f->summary), "gsi %u level %u flags %#x reserved %#x ptr %#lx ioapic %d",
		 l->gsi, l->level, l->flags, l->reserved, p, v->lapic == 2);
	ret = do_ioctl(f, v->fd, I_IRQ_LINE, VHM_IRQ_LINE, p, &err);
	check(f, I_IRQ_LINE, ret, err, NULL);
	if (valid && v->lapic == 2 && ret < 0)
		fail(f, "IRQ_LINE failed with an IOAPIC: %s", strerror(err));
	if (valid && v->lapic != 2 && (ret >= 0 || err != ENXIO))
		fail(f, "IRQ_LINE without an IOAPIC: %ld/%s, not ENXIO", ret, strerror(err));
}

static void op_vm_stats(struct fuzz *f, struct fvm *v)
{
	struct rng *r = &f->r;
	struct vhm_vm_stats *s = (void *)f->buf;
	unsigned long p = (unsigned long)s;
	long ret;
	int err, w = 0, i;

	memset(s, 0, sizeof(*s));
	f->what = "valid";
	if (chance(r, 30)) {
		f->what = "mutated";
		flip_bits(r, s, sizeof(*s));
	}
	if (chance(r, 10))
		p = bad_ptr(f, sizeof(*s), &w);
	snprintf(f->summary, sizeof(f->summary), "flags %#x padding %#x ptr %#lx",
		 s->flags, s->padding, p);
	ret = do_ioctl(f, v->fd, I_VM_STATS, VHM_GET_VM_STATS, p, &err);
	check(f, I_VM_STATS, ret, err, NULL);
	if (ret >= 0 && p != (unsigned long)s)
		fail(f, "GET_VM_STATS succeeded on a bad pointer");
	if (ret >= 0)
		for (i = 0; i < 9; i++)
			if (s->reserved[i])
				fail(f, "GET_VM_STATS reserved[%d] = %#llx", i,
				     (unsigned long long)s->reserved[i]);
	if (!strcmp(f->what, "valid") && p == (unsigned long)s && ret < 0)
		fail(f, "GET_VM_STATS failed: %s", strerror(err));
}

static void op_vm(struct fuzz *f)
{
	struct fvm *v = pick_vm(f);

	if (!v) {
		op_sys(f);
		return;
	}
	switch (below(&f->r, 12)) {
	case 0: case 1: case 2:
		op_create_vcpu(f, v);
		break;
	case 3: case 4: case 5:
		op_set_slot(f, v);
		break;
	case 6:
		op_enable_cap(f, v);
		break;
	case 7: case 8:
		op_create_lapic(f, v);
		break;
	case 9: case 10:
		op_irq_line(f, v);
		break;
	default:
		op_vm_stats(f, v);
	}
}

/* ------------------------------------------------------------------
 * vCPU fd.
 */
static const uint32_t msr_idx[] = {
	0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0x174, 0x175, 0x176,
	0x277, 0x10, 0x1a0, 0x1b, 0xfe, 0x2ff, 0x250, 0x258, 0x259, 0x268,
	0x26f, 0x200, 0x201, 0x20f, 0x210, 0x6e0, 0x802, 0x808, 0x80b, 0x80f,
	0x830, 0x838, 0x83f, 0x3a, 0x48, 0x49, 0xc0010117, 0xc0011029,
	0x40000000, 0xffffffff, 0, 0x3b,
};

static void rnd_segment(struct rng *r, struct vhm_segment *s, int code, int mode)
{
	s->base = chance(r, 80) ? 0 : rnd_val(r) & (mode ? ~0ull : 0xffff0);
	s->limit = chance(r, 70) ? (mode ? 0xffffffff : 0xffff) : (uint32_t)rnd_val(r);
	s->selector = chance(r, 70) ? (code ? 8 : 16) : rnd(r);
	if (mode == 0)
		s->attrib = VHM_SEG_P | VHM_SEG_S | (code ? 0xb : 3);
	else
		s->attrib = VHM_SEG_P | VHM_SEG_S | VHM_SEG_G | (code ? 0xb : 3) |
			    (code && mode == 2 ? VHM_SEG_L : VHM_SEG_DB);
	if (chance(r, 15))
		s->attrib ^= 1u << below(r, 13);
}

/*
 * QEMU TCG, the AMD test host, restores the host's CR0 at #VMEXIT before
 * its CR4 and refuses paging while the guest's EFER.LME is set without
 * CR4.PAE: the test host CPU then runs on with paging off and hangs. That
 * guest state is valid (vm_test's real_mode_with_efer_lme runs it where
 * the emulator allows), so on TCG the fuzzer does not produce it: no LME
 * in SET_SREGS but in 64-bit mode (elsewhere the guest's own MOV CR0/CR4
 * can get there), no LME without LMA (which needs paging and PAE) in
 * SET_MSRS, and its guests' instruction soup does not load EFER's index
 * (soup_mov()). docs/TESTING.md, "Fuzzing".
 */
#define X86_CR0_PG_BIT	(1ull << 31)
#define EFER_LME	(1ull << 8)
#define EFER_LMA	(1ull << 10)

static bool tcg_lme_hazard(uint64_t efer, uint64_t cr4)
{
	return on_tcg() && (efer & EFER_LME) && !(cr4 & 0x20);
}

/* sregs in one of: real, protected flat, 32-bit paging, PAE, long mode. */
/*
 * On TCG, EFER.LME only in 64-bit mode proper: with paging off the guest's
 * MOV CR4 can clear PAE, and in compatibility mode its MOV CR0 can turn
 * paging off (tcg_lme_hazard()).
 */
static void tcg_sregs_filter(struct vhm_sregs *s)
{
	if (tcg_lme_hazard(s->efer, (s->cr0 & X86_CR0_PG_BIT) &&
				    (s->cs.attrib & VHM_SEG_L) ? s->cr4 : 0))
		s->efer &= ~EFER_LME;
}

/* On TCG, an EFER entry's LME only with LMA (long mode already on). */
static void tcg_msrs_filter(struct vhm_msrs *m, size_t size)
{
	uint32_t i, n = m->nmsrs;

	if (n > (size - 8) / sizeof(m->entries[0]))
		n = (size - 8) / sizeof(m->entries[0]);
	for (i = 0; i < n; i++)
		if (m->entries[i].index == MSR_EFER_INDEX &&
		    tcg_lme_hazard(m->entries[i].data,
				   m->entries[i].data & EFER_LMA ? 0x20 : 0))
			m->entries[i].data &= ~EFER_LME;
}

static void rnd_sregs(struct fuzz *f, struct vhm_sregs *s)
{
	struct rng *r = &f->r;
	unsigned int mode = below(r, 5);
	uint64_t cr3 = chance(r, 70) ? below(r, 0x40) * PAGE : rnd_val(r);

	memset(s, 0, sizeof(*s));
	rnd_segment(r, &s->cs, 1, mode == 0 ? 0 : mode == 4 ? 2 : 1);
	rnd_segment(r, &s->ds, 0, mode ? 1 : 0);
	s->es = s->fs = s->gs = s->ss = s->ds;
	s->tr.attrib = VHM_SEG_P | 0xb;
	s->tr.limit = 0x67;
	s->ldt.attrib = VHM_SEG_UNUSABLE;
	s->gdt.base = below(r, 0x40000);
	s->gdt.limit = chance(r, 50) ? 0xffff : rnd(r);
	s->idt.base = below(r, 0x40000);
	s->idt.limit = chance(r, 50) ? 0x3ff : rnd(r);
	s->apic_base = 0xfee00900;
	switch (mode) {
	case 0:
		s->cr0 = 0x60000010;
		break;
	case 1:
		s->cr0 = 0x11;
		break;
	case 2:
		s->cr0 = 0x80000011;
		s->cr3 = cr3;
		s->cr4 = chance(r, 50) ? 0x10 : 0;	/* PSE */
		break;
	case 3:
		s->cr0 = 0x80000011;
		s->cr3 = cr3;
		s->cr4 = 0x20;
		s->efer = chance(r, 50) ? 0x800 : 0;
		break;
	default:
		s->cr0 = 0x80000011;
		s->cr3 = cr3;
		s->cr4 = 0x20 | (chance(r, 30) ? 0x600 : 0);
		s->efer = 0x500 | (chance(r, 50) ? 0x800 : 0) | (chance(r, 50) ? 1 : 0);
	}
	s->cr2 = rnd_val(r);
	if (chance(r, 20))
		s->cr8 = below(r, 16);
	if (chance(r, 30)) {
		/* Mutations of a plausible state. */
		switch (below(r, 8)) {
		case 0:
			s->cr0 ^= 1ull << below(r, 64);
			break;
		case 1:
			s->cr4 ^= 1ull << below(r, 32);
			break;
		case 2:
			s->efer ^= 1ull << below(r, 16);
			break;
		case 3:
			s->cr8 = rnd_val(r);
			break;
		case 4:
			s->apic_base = rnd_val(r);
			break;
		case 5:
			s->reserved[below(r, 8)] = rnd_val(r);
			break;
		case 6:
			s->gdt.padding[below(r, 3)] = rnd(r);
			break;
		default:
			flip_bits(r, s, sizeof(*s));
		}
	}
	tcg_sregs_filter(s);
}

static void run_handle_exit(struct rng *r, struct fvcpu *c)
{
	struct vhm_run *run = c->run;

	switch (run->exit_reason) {
	case VHM_EXIT_IO:
		if (run->io.direction == VHM_IO_IN &&
		    run->io.data_offset + (uint64_t)run->io.size * run->io.count <= PAGE)
			rnd_bytes(r, (char *)run + run->io.data_offset,
				  run->io.size * run->io.count);
		break;
	case VHM_EXIT_MMIO:
		if (!run->mmio.is_write)
			rnd_bytes(r, run->mmio.data, 8);
		break;
	case VHM_EXIT_HYPERCALL:
		run->hypercall.ret = rnd_val(r);
		break;
	case VHM_EXIT_MSR:
		run->msr.error = chance(r, 50);
		run->msr.data = rnd_val(r);
		break;
	}
}

static void op_run(struct fuzz *f, struct fvcpu *c)
{
	struct rng *r = &f->r;
	unsigned long arg = chance(r, 95) ? 0 : rnd_val(r);
	int i, n = 1 + below(r, 4), err;
	long ret;

	f->what = arg ? "non-zero" : "valid";
	/*
	 * The same random draws whatever the runs return (timing decides
	 * EINTR): a replay with the seed issues the same calls afterwards.
	 */
	struct rng er = { .s = rnd(r) | 1 };
	int imm[4];

	for (i = 0; i < 4; i++)
		imm[i] = chance(r, 10);
	for (i = 0; i < n && f->calls < f->max_calls; i++) {
		if (c->run)
			c->run->immediate_exit = imm[i];
		snprintf(f->summary, sizeof(f->summary), "vcpu %d arg %#lx immediate_exit %d",
			 c->id, arg, c->run ? c->run->immediate_exit : -1);
		ret = do_ioctl(f, c->fd, I_RUN, VHM_RUN, arg, &err);
		check(f, I_RUN, ret, err, NULL);
		if (arg && ret >= 0)
			fail(f, "RUN(%#lx) succeeded", arg);
		if (c->run && c->run->immediate_exit && !arg && (ret >= 0 || err != EINTR))
			fail(f, "RUN with immediate_exit: %ld/%s, not EINTR", ret, strerror(err));
		if (c->run)
			c->run->immediate_exit = 0;
		if (ret < 0 || !c->run)
			break;
		if (c->run->exit_reason > VHM_EXIT_MSR)
			fail(f, "RUN: exit_reason %u", c->run->exit_reason);
		run_handle_exit(&er, c);
	}
}

/*
 * A vCPU ioctl with a struct argument: valid (from a GET or a generator),
 * mutated, random bytes or a bad pointer. gen fills buf; returns its size.
 */
static void op_vcpu_struct(struct fuzz *f, struct fvcpu *c, int idx)
{
	struct rng *r = &f->r;
	unsigned char *b = f->buf;
	unsigned long cmd = iocs[idx].cmd, p = (unsigned long)b;
	size_t size = _IOC_SIZE(cmd);
	int is_read = _IOC_DIR(cmd) & _IOC_READ, is_write = _IOC_DIR(cmd) & _IOC_WRITE;
	unsigned int k = below(r, 20);
	int err, w = 0, get_idx = -1, valid = 1;
	long ret;

	memset(b, 0, 16384);
	f->what = "valid";
	/* The valid argument. */
	switch (idx) {
	case I_SET_REGS: {
		struct vhm_regs *g = (void *)b;

		rnd_bytes(r, g, sizeof(*g));
		if (chance(r, 70))
			g->rip = below(r, 0x40000);
		if (chance(r, 70))
			g->rflags = 2 | (chance(r, 50) ? 0x200 : 0) | (chance(r, 10) ? 0x100 : 0);
		if (chance(r, 50))
			g->rsp = 0x8000 + below(r, 0x10000);
		break;
	}
	case I_SET_SREGS:
		rnd_sregs(f, (void *)b);
		valid = 0;	/* may well be refused */
		break;
	case I_GET_MSRS:
	case I_SET_MSRS: {
		struct vhm_msrs *m = (void *)b;
		unsigned int i;

		m->nmsrs = chance(r, 90) ? below(r, 16) + 1 : below(r, VHM_MAX_MSR_ENTRIES + 1);
		for (i = 0; i < m->nmsrs; i++) {
			m->entries[i].index = chance(r, 90) ? msr_idx[below(r, ARRAY_SIZE(msr_idx))] : rnd(r);
			m->entries[i].data = chance(r, 50) ? below(r, 8) : rnd_val(r);
		}
		size = 8 + m->nmsrs * sizeof(m->entries[0]);
		if (idx == I_SET_MSRS)
			valid = 0;	/* values may be refused: fewer entries */
		break;
	}
	case I_SET_XSAVE:
		get_idx = I_GET_XSAVE;
		break;
	case I_SET_CPUID:
		memcpy(b, f->supported, 8 + f->supported->nent * sizeof(struct vhm_cpuid_entry));
		size = 8 + f->supported->nent * sizeof(struct vhm_cpuid_entry);
		if (chance(r, 50)) {
			struct vhm_cpuid *cp = (void *)b;
			unsigned int e = below(r, cp->nent);

			(&cp->entries[e].eax)[below(r, 4)] ^= 1u << below(r, 32);
		}
		break;
	case I_GET_CPUID:
	case I_SET_XCRS:
	case I_SET_EVENTS:
	case I_SET_DEBUGREGS:
		if (idx == I_GET_CPUID) {
			((struct vhm_cpuid *)b)->nent = chance(r, 80) ? VHM_MAX_CPUID_ENTRIES : below(r, 40);
			size = 8 + VHM_MAX_CPUID_ENTRIES * sizeof(struct vhm_cpuid_entry);
			valid = 0;	/* E2BIG for a small nent */
		} else if (idx == I_SET_XCRS) {
			struct vhm_xcrs *x = (void *)b;

			x->nr_xcrs = 1;
			x->xcrs[0].value = chance(r, 50) ? 1 | 2 | (chance(r, 50) ? 4 : 0) : rnd_val(r) & 0xff;
			valid = 0;
		} else if (idx == I_SET_EVENTS) {
			struct vhm_vcpu_events *e = (void *)b;

			e->flags = below(r, 0x40) & ~VHM_EVENT_ERROR_CODE;
			if (e->flags & VHM_EVENT_EXCEPTION) {
				e->exception_vector = below(r, 32);
				if (e->exception_vector == 2)
					e->exception_vector = 13;
				if (e->exception_vector == 13 || e->exception_vector == 14) {
					e->flags |= VHM_EVENT_ERROR_CODE;
					e->exception_error_code = rnd(r);
				}
			}
			if (e->flags & VHM_EVENT_INTERRUPT)
				e->interrupt_vector = rnd(r);
		} else {
			struct vhm_debugregs *d = (void *)b;
			int i;

			for (i = 0; i < 4; i++)
				d->db[i] = chance(r, 50) ? below(r, 0x40000) : rnd_val(r);
			d->dr6 = (uint32_t)rnd(r);
			d->dr7 = (uint32_t)rnd(r);
		}
		break;
	default:
		break;		/* GETs: the buffer is output */
	}
	if (get_idx >= 0) {
		/* Start from the vCPU's own state (not counted as a call of its own). */
		if (ioctl(c->fd, iocs[get_idx].cmd, b) < 0)
			rnd_bytes(r, b, size);
		if (idx == I_SET_XSAVE && chance(r, 50)) {
			/* XSTATE_BV (512) and XCOMP_BV (520), MXCSR (24). */
			uint64_t *hdr = (uint64_t *)(b + 512);

			switch (below(r, 4)) {
			case 0:
				hdr[0] = rnd_val(r);
				break;
			case 1:
				hdr[1] = rnd_val(r);
				break;
			case 2:
				*(uint32_t *)(b + 24) = rnd(r);
				break;
			default:
				rnd_bytes(r, b, 512);
			}
			valid = 0;
		}
	}
	if (is_write && k >= 12 && k < 18) {
		f->what = "mutated";
		valid = 0;
		if (idx == I_GET_MSRS || idx == I_SET_MSRS || idx == I_SET_CPUID ||
		    idx == I_GET_CPUID) {
			/* Headers: count and flags. */
			if (chance(r, 50))
				*(uint32_t *)b = rnd_val(r);
			else
				*(uint32_t *)(b + 4) = 1u << below(r, 32);
			if (chance(r, 50))
				flip_bits(r, b + 8, size - 8);
		} else {
			flip_bits(r, b, size);
		}
	} else if (is_write && k == 18) {
		f->what = "random bytes";
		valid = 0;
		rnd_bytes(r, b, size);
	}
	/*
	 * Whatever the mutations made of it, on TCG no EFER.LME that could
	 * meet paging off and PAE clear (tcg_lme_hazard()): a mutated
	 * SET_MSRS or SET_SREGS still hung a million-call run that way.
	 */
	if (idx == I_SET_SREGS && size >= sizeof(struct vhm_sregs))
		tcg_sregs_filter((struct vhm_sregs *)b);
	if (idx == I_SET_MSRS && size >= 8)
		tcg_msrs_filter((struct vhm_msrs *)b, size);
	if (k == 19) {
		int variable = idx == I_GET_MSRS || idx == I_SET_MSRS ||
			       idx == I_GET_CPUID || idx == I_SET_CPUID;

		p = bad_ptr(f, size, &w);
		valid = 0;
		/* 2: success is possible (nothing to write, or zero entries). */
		if (w == 1 && (!is_read || idx == I_GET_MSRS))
			w = 2;
		if (w == 3 && variable)
			w = 2;
	}
	snprintf(f->summary, sizeof(f->summary), "vcpu %d ptr %#lx first words %#llx %#llx %#llx",
		 c->id, p, (unsigned long long)((uint64_t *)b)[0],
		 (unsigned long long)((uint64_t *)b)[1], (unsigned long long)((uint64_t *)b)[2]);
	ret = do_ioctl(f, c->fd, idx, cmd, p, &err);
	check(f, idx, ret, err, NULL);
	if (ret >= 0 && p != (unsigned long)b && w != 2)
		fail(f, "%s succeeded on a bad pointer (%s)", iocs[idx].name, f->what);
	if (ret < 0 && valid && p == (unsigned long)b && err != EINTR &&
	    !(err == ENOTTY && (idx == I_GET_XCRS || idx == I_SET_XCRS)))
		fail(f, "%s of a valid argument failed: %s", iocs[idx].name, strerror(err));
	if (ret > 0 && (idx == I_GET_MSRS || idx == I_SET_MSRS) &&
	    p == (unsigned long)b && ret > ((struct vhm_msrs *)b)->nmsrs)
		fail(f, "%s returned %ld for %u entries", iocs[idx].name, ret,
		     ((struct vhm_msrs *)b)->nmsrs);
}

static void op_vcpu(struct fuzz *f)
{
	struct fvm *v;
	struct fvcpu *c = pick_vcpu(f, &v);
	unsigned int k;

	if (!c) {
		op_vm(f);
		return;
	}
	k = below(&f->r, 30);
	if (k < 8)
		op_run(f, c);
	else
		op_vcpu_struct(f, c, I_GET_REGS + below(&f->r, I_NR_KNOWN - I_GET_REGS));
}

/*
 * Unknown numbers, known numbers with the wrong direction or size, and
 * ioctls of another level: all ENOTTY.
 */
static int known_on(unsigned long cmd, enum level lv)
{
	int i;

	for (i = 0; i < I_NR_KNOWN; i++)
		if (iocs[i].cmd == cmd && iocs[i].level == lv)
			return 1;
	return 0;
}

static void op_unknown(struct fuzz *f)
{
	struct rng *r = &f->r;
	struct fvm *v = pick_vm(f);
	struct fvcpu *c;
	unsigned long cmd, arg;
	enum level lv = below(r, 3);
	int fd = f->sys, err;
	unsigned int type;
	long ret;

	if (lv == VM && v)
		fd = v->fd;
	else if (lv == VCPU && (c = pick_vcpu(f, &v)))
		fd = c->fd;
	else
		lv = SYS;
	switch (below(r, 4)) {
	case 0: {
		/* A known ioctl with its direction or size changed. */
		unsigned long k = iocs[below(r, I_NR_KNOWN)].cmd;
		unsigned int dir = _IOC_DIR(k), size = _IOC_SIZE(k);

		if (chance(r, 50))
			dir = (dir + 1 + below(r, 3)) & 3;
		else
			size = chance(r, 50) ? size ^ (1u << below(r, 14)) : below(r, 1u << 14);
		cmd = _IOC(dir, VHMIO, _IOC_NR(k), size);
		f->what = "wrong encoding";
		break;
	}
	case 1:
		cmd = _IOC(below(r, 4), VHMIO, below(r, 256), below(r, 1u << 14));
		f->what = "random number";
		break;
	case 2:
		/* A known ioctl on the wrong fd type. */
		cmd = iocs[below(r, I_NR_KNOWN)].cmd;
		f->what = "other level";
		break;
	default:
		/* Other magics; not the ones the VFS handles itself. */
		do {
			cmd = (uint32_t)rnd(r);
			type = _IOC_TYPE(cmd);
		} while (type == 0 || type == 'T' || type == 'X' || type == 'f' ||
			 type == 0x94 || type == 0x15 || type == VHMIO);
		f->what = "other magic";
	}
	if (known_on(cmd, lv))
		return;
	/* Never a pointer that would be harmful if the number were valid. */
	arg = chance(r, 50) ? (unsigned long)f->buf : rnd_val(r);
	snprintf(f->summary, sizeof(f->summary), "cmd %#lx on the %s fd, arg %#lx", cmd,
		 lv == SYS ? "system" : lv == VM ? "VM" : "vCPU", arg);
	ret = do_ioctl(f, fd, I_UNKNOWN, cmd, arg, &err);
	check(f, I_UNKNOWN, ret, err, NULL);
}

/* Closes, mmap of the fds, rewritten guest code. */
static void op_lifecycle(struct fuzz *f)
{
	struct rng *r = &f->r;
	struct fvm *v;
	struct fvcpu *c;
	void *p;

	switch (below(r, 5)) {
	case 0:
		v = pick_vm(f);
		if (v)
			vm_close(v);
		break;
	case 1:
		c = pick_vcpu(f, &v);
		if (c) {
			vcpu_close(c);
			*c = v->vcpu[--v->nvcpus];
			if (!v->nvcpus && v->orphan)
				v->orphan = 0;
		}
		break;
	case 2:
		/* Close the VM fd, keep its vCPUs: the VM lives on. */
		v = pick_vm(f);
		if (v && v->nvcpus) {
			close(v->fd);
			v->fd = -1;
			v->orphan = 1;
		}
		break;
	case 3:
		/* mmap of a VM fd or the system fd; a vCPU's at an offset. */
		c = pick_vcpu(f, &v);
		if (c) {
			p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c->fd, PAGE * (1 + below(r, 4)));
			if (p != MAP_FAILED)
				munmap(p, PAGE);
		}
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, f->sys, 0);
		if (p != MAP_FAILED) {
			munmap(p, PAGE);
			fail(f, "mmap of the system fd succeeded");
		}
		break;
	default:
		fill_soup(r, f->region[below(r, NREGIONS)] + below(r, REGION_SIZE / PAGE) * PAGE, PAGE);
	}
}

static void fuzz_one(struct fuzz *f)
{
	unsigned int k = below(&f->r, 100);

	f->summary[0] = 0;
	if (k < 6)
		op_sys(f);
	else if (k < 30)
		op_vm(f);
	else if (k < 88)
		op_vcpu(f);
	else if (k < 97)
		op_unknown(f);
	else
		op_lifecycle(f);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static uint64_t fuzz_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return env_u64("VHM_FUZZ_SEED", (uint64_t)ts.tv_sec * 1000000007ull ^ ts.tv_nsec ^ getpid());
}

/* Unload vhm (retrying a moment: a release may still be running). */
static int unload_vhm(void)
{
	int i, r = 0;

	for (i = 0; i < 50; i++) {
		r = vhm_unload();
		if (r != -EBUSY && r != -EWOULDBLOCK)
			return r;
		usleep(100000);
	}
	return r;
}

/* ------------------------------------------------------------------
 * The test cases.
 */
FIXTURE(fuzz) {
	int sys;
	struct timespec t0;
};

FIXTURE_SETUP(fuzz)
{
	self->sys = -1;
	REQUIRE_VHM_HOST();
	host_reset();
	ASSERT_EQ(0, vhm_load(NULL));
	self->sys = vhm_sys_open();
	ASSERT_LE(0, self->sys);
	clock_gettime(CLOCK_MONOTONIC, &self->t0);
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->sys >= 0)
		close(self->sys);
	host_reset();
}

/* The end of every case: nothing left open, so vhm unloads. */
#define EXPECT_UNLOADS()						\
	do {								\
		struct timespec t1;					\
									\
		clock_gettime(CLOCK_MONOTONIC, &t1);			\
		TH_LOG("%.1f s", t1.tv_sec - self->t0.tv_sec +		\
		       (t1.tv_nsec - self->t0.tv_nsec) / 1e9);		\
		close(self->sys);					\
		self->sys = -1;						\
		EXPECT_EQ(0, unload_vhm())				\
			TH_LOG("rmmod vhm: a VM, vCPU or fd leaked");	\
	} while (0)

static void print_stats(struct __test_metadata *_metadata, struct fuzz *f, double secs)
{
	char line[512];
	int i, e, n;

	TH_LOG("seed %" PRIu64 ": %" PRIu64 " calls in %.1f s (%.0f calls/s), %" PRIu64 " oracle failures",
	       f->seed, f->calls, secs, secs > 0 ? f->calls / secs : 0.0, f->failures);
	for (i = 0; i < I_NR; i++) {
		struct stats *s = &f->st[i];

		n = snprintf(line, sizeof(line), "%-20s calls %8" PRIu64 " ok %8" PRIu64,
			     iocs[i].name, s->calls, s->ok);
		for (e = 1; e < NERR && n < (int)sizeof(line) - 40; e++)
			if (s->err[e])
				n += snprintf(line + n, sizeof(line) - n, " %s %" PRIu64,
					      strerrorname_np(e) ? strerrorname_np(e) : "?",
					      s->err[e]);
		TH_LOG("%s", line);
	}
}

static void *map_anon(size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F_TIMEOUT(fuzz, ioctls, 14400)
{
	struct fuzz *f;
	struct timespec t0, t1;
	timer_t tick;
	struct vhm_cpuid *sup;
	double secs;
	int i, j;

	RETURN_IF_SKIPPED();
	f = calloc(1, sizeof(*f));
	ASSERT_NE(NULL, f);
	f->md = _metadata;
	f->sys = self->sys;
	f->seed = fuzz_seed();
	f->r.s = f->seed ? f->seed : 1;
	f->max_calls = env_u64("VHM_FUZZ_CALLS",
			       host_vendor() == VENDOR_INTEL ? 10000 : 100000);
	f->trace_from = env_u64("VHM_FUZZ_TRACE", 0);
	TH_LOG("VHM_FUZZ_SEED=%" PRIu64 " VHM_FUZZ_CALLS=%" PRIu64 " (replay with these)",
	       f->seed, f->max_calls);
	for (i = 0; i < MAX_VMS; i++) {
		f->vm[i].fd = -1;
		for (j = 0; j < MAX_VCPUS; j++)
			f->vm[i].vcpu[j].fd = -1;
	}
	f->mmap_size = ioctl(f->sys, VHM_GET_VCPU_MMAP_SIZE, 0);
	ASSERT_EQ(4096, f->mmap_size);
	for (i = 0; i < NREGIONS; i++) {
		f->region[i] = map_anon(REGION_SIZE, PROT_READ | PROT_WRITE);
		ASSERT_NE(NULL, f->region[i]);
		fill_soup(&f->r, f->region[i], REGION_SIZE);
	}
	f->buf = map_anon(16384, PROT_READ | PROT_WRITE);
	f->unmapped = map_anon(PAGE, PROT_NONE);
	f->ropage = map_anon(PAGE, PROT_READ);
	f->guarded = map_anon(2 * PAGE, PROT_READ | PROT_WRITE);
	ASSERT_TRUE(f->buf && f->unmapped && f->ropage && f->guarded);
	ASSERT_EQ(0, mprotect(f->guarded + PAGE, PAGE, PROT_NONE));
	sup = calloc(1, 8 + VHM_MAX_CPUID_ENTRIES * sizeof(struct vhm_cpuid_entry));
	ASSERT_NE(NULL, sup);
	sup->nent = VHM_MAX_CPUID_ENTRIES;
	ASSERT_LE(0, ioctl(f->sys, VHM_GET_SUPPORTED_CPUID, sup));
	f->supported = sup;
	ASSERT_EQ(0, ticker_start(&tick, 2000));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (f->calls < f->max_calls)
		fuzz_one(f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ticker_stop(tick);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	for (i = 0; i < MAX_VMS; i++)
		vm_close(&f->vm[i]);
	for (i = 0; i < NREGIONS; i++)
		munmap(f->region[i], REGION_SIZE);
	munmap(f->buf, 16384);
	munmap(f->ropage, PAGE);
	munmap(f->unmapped, PAGE);
	munmap(f->guarded, 2 * PAGE);
	print_stats(_metadata, f, secs);
	EXPECT_EQ(0, f->failures) TH_LOG("replay: VHM_FUZZ_SEED=%" PRIu64, f->seed);
	free(sup);
	free(f);
	EXPECT_UNLOADS();
}

/* ------------------------------------------------------------------
 * Races. A real-mode guest at 0x1000 that increments a byte every 64
 * bytes of the 64 KiB at 0x10000 (slot 1) forever:
 *	mov ax, 0x1000; mov es, ax; xor di, di
 * 1:	inc byte [es:di]; add di, 64; jmp 1b
 */
static const unsigned char spin_writer[] = {
	0xb8, 0x00, 0x10, 0x8e, 0xc0, 0x31, 0xff,
	0x26, 0xfe, 0x05, 0x83, 0xc7, 0x40, 0xeb, 0xf8,
};

#define SLOT1_GPA	0x10000
#define SLOT1_SIZE	0x10000

struct racer {
	pthread_t th;
	int fd;			/* vCPU fd */
	struct vhm_run *run;
	atomic_int *stop;
	uint64_t runs, exits, eintr, bad;
	int bad_errno;
	uint64_t allowed;	/* errnos allowed besides EINTR */
};

static void *racer_run(void *arg)
{
	struct racer *rc = arg;
	timer_t tick;

	if (ticker_start(&tick, 2000)) {
		rc->bad++;
		return NULL;
	}
	while (!atomic_load(rc->stop)) {
		long r = ioctl(rc->fd, VHM_RUN, 0);

		rc->runs++;
		if (r == 0) {
			rc->exits++;
			if (rc->run && rc->run->exit_reason == VHM_EXIT_MMIO && !rc->run->mmio.is_write)
				memset(rc->run->mmio.data, 0, 8);
			continue;
		}
		if (errno == EINTR) {
			rc->eintr++;
			continue;
		}
		if (rc->allowed & E(errno)) {
			if (errno == ENOTTY || errno == EBADF)
				break;	/* the fd was replaced: done */
			continue;
		}
		rc->bad++;
		rc->bad_errno = errno;
		break;
	}
	ticker_stop(tick);
	return NULL;
}

/* A VM with slot 0 (code) and slot 1 (data) and n vCPUs at the writer. */
struct race_vm {
	int vm;
	unsigned char *ram0, *ram1;
	struct test_vcpu vcpu[8];
	int n;
};

static int race_vm_create(int sys, struct race_vm *v, int n)
{
	int i, r;

	memset(v, 0, sizeof(*v));
	v->vm = vhm_vm_create(sys);
	if (v->vm < 0)
		return v->vm;
	v->ram0 = guest_ram(0x10000);
	v->ram1 = guest_ram(SLOT1_SIZE);
	if (!v->ram0 || !v->ram1)
		return -ENOMEM;
	memcpy(v->ram0 + 0x1000, spin_writer, sizeof(spin_writer));
	r = vhm_set_slot(v->vm, 0, 0, 0, 0x10000, v->ram0);
	if (!r)
		r = vhm_set_slot(v->vm, 1, 0, SLOT1_GPA, SLOT1_SIZE, v->ram1);
	for (i = 0; !r && i < n; i++) {
		r = vhm_vcpu_create(v->vm, i, &v->vcpu[i]);
		if (!r)
			v->n++;
		if (!r)
			r = vhm_real_mode_at(&v->vcpu[i], 0x1000);
	}
	return r;
}

static void race_vm_destroy(struct race_vm *v)
{
	int i;

	for (i = 0; i < v->n; i++)
		vhm_vcpu_close(&v->vcpu[i]);
	if (v->vm >= 0)
		close(v->vm);
	if (v->ram0)
		munmap(v->ram0, 0x10000);
	if (v->ram1)
		munmap(v->ram1, SLOT1_SIZE);
}

static void racers_start(struct __test_metadata *_metadata, struct race_vm *v,
			 struct racer *rc, atomic_int *stop, uint64_t allowed, int use_run)
{
	int i;

	atomic_store(stop, 0);
	for (i = 0; i < v->n; i++) {
		memset(&rc[i], 0, sizeof(rc[i]));
		rc[i].fd = v->vcpu[i].fd;
		rc[i].run = use_run ? v->vcpu[i].run : NULL;
		rc[i].stop = stop;
		rc[i].allowed = allowed;
		ASSERT_EQ(0, pthread_create(&rc[i].th, NULL, racer_run, &rc[i]));
	}
}

/*
 * Until every racer has come back from RUN once (at most 30 s): the race
 * is with running vCPUs, and on a loaded test host (two cores, an emulator
 * beside) a racer thread can start after a short race is over.
 */
static void racers_wait_ran(struct __test_metadata *_metadata, struct race_vm *v,
			    struct racer *rc)
{
	int i, ms;

	for (i = 0; i < v->n; i++) {
		for (ms = 0; ms < 30000 && !__atomic_load_n(&rc[i].runs, __ATOMIC_RELAXED) &&
		     !__atomic_load_n(&rc[i].bad, __ATOMIC_RELAXED); ms++)
			usleep(1000);
		EXPECT_LT(0, __atomic_load_n(&rc[i].runs, __ATOMIC_RELAXED))
			TH_LOG("vCPU %d's thread did not come back from RUN in 30 s", i);
	}
}

static void racers_stop(struct __test_metadata *_metadata, struct race_vm *v,
			struct racer *rc, atomic_int *stop, const char *what)
{
	int i;

	atomic_store(stop, 1);
	for (i = 0; i < v->n; i++) {
		pthread_join(rc[i].th, NULL);
		EXPECT_EQ(0, rc[i].bad)
			TH_LOG("%s: vCPU %d's RUN failed with %s", what, i,
			       strerror(rc[i].bad_errno));
	}
}

/*
 * RUN in one thread, the vCPU fd (or the VM fd) replaced under it in
 * another (dup2 of /dev/null: the number is never reused by a vhm fd),
 * at varying moments; also the run area unmapped.
 */
TEST_F_TIMEOUT(fuzz, race_run_vs_close, 1200)
{
	/* 60 (each way 15 times; VHM_FUZZ_RACE_ITERS sets another count). */
	int iters = env_u64("VHM_FUZZ_RACE_ITERS", 60);
	struct rng r = { .s = fuzz_seed() | 1 };
	int iter, nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	atomic_int stop;
	struct racer rc[2];
	struct race_vm v;

	RETURN_IF_SKIPPED();
	ASSERT_LE(0, nul);
	for (iter = 0; iter < iters; iter++) {
		unsigned int how = iter % 4;

		ASSERT_VHM(race_vm_create(self->sys, &v, 2));
		racers_start(_metadata, &v, rc, &stop, E(ENOTTY), 0);
		usleep(below(&r, 20000));
		switch (how) {
		case 0:	/* the vCPU fds */
			dup2(nul, v.vcpu[0].fd);
			dup2(nul, v.vcpu[1].fd);
			munmap(v.vcpu[0].run, PAGE);
			v.vcpu[0].run = map_anon(PAGE, PROT_READ);
			break;
		case 1:	/* the VM fd, then one vCPU fd */
			dup2(nul, v.vm);
			usleep(below(&r, 5000));
			dup2(nul, v.vcpu[1].fd);
			break;
		case 2:	/* the VM's memory, then everything */
			munmap(v.ram1, SLOT1_SIZE);
			v.ram1 = NULL;
			dup2(nul, v.vm);
			dup2(nul, v.vcpu[0].fd);
			break;
		default: /* slot deleted, then the vCPU fds */
			vhm_set_slot(v.vm, 1, 0, SLOT1_GPA, 0, NULL);
			dup2(nul, v.vcpu[0].fd);
			dup2(nul, v.vcpu[1].fd);
		}
		usleep(below(&r, 10000));
		racers_stop(_metadata, &v, rc, &stop, "run vs close");
		race_vm_destroy(&v);
	}
	close(nul);
	EXPECT_UNLOADS();
}

/* Slot 1 set, moved, resized, made read-only, deleted under 4 running vCPUs. */
TEST_F_TIMEOUT(fuzz, race_slots_vs_run, 1200)
{
	struct rng r = { .s = fuzz_seed() | 1 };
	struct racer rc[4];
	struct race_vm v;
	atomic_int stop;
	int i, e;
	uint64_t fails = 0;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(race_vm_create(self->sys, &v, 4));
	racers_start(_metadata, &v, rc, &stop, 0, 1);
	racers_wait_ran(_metadata, &v, rc);
	for (i = 0; i < 3000; i++) {
		uint64_t gpa = below(&r, 4) ? SLOT1_GPA : 0x20000 + below(&r, 16) * PAGE;
		uint64_t size = below(&r, 4) ? SLOT1_SIZE : (1 + below(&r, 16)) * PAGE;
		uint32_t flags = below(&r, 4) ? 0 : VHM_MEM_READONLY;

		switch (below(&r, 3)) {
		case 0:
			e = vhm_set_slot(v.vm, 1, 0, 0, 0, NULL);
			if (e && e != -ENOENT && !fails++)
				TH_LOG("deleting slot 1: %s", strerror(-e));
			break;
		default:
			e = vhm_set_slot(v.vm, 1 + below(&r, 2), flags, gpa, size,
					 v.ram1 + below(&r, 2) * PAGE * (size < SLOT1_SIZE));
			if (e && e != -EEXIST && e != -EFAULT && !fails++)
				TH_LOG("setting a slot at %#" PRIx64 ", %#" PRIx64 " bytes: %s",
				       gpa, size, strerror(-e));
			if (e == -EEXIST && below(&r, 2))
				vhm_set_slot(v.vm, 2, 0, 0, 0, NULL);
		}
	}
	racers_stop(_metadata, &v, rc, &stop, "slots vs run");
	EXPECT_EQ(0, fails);
	race_vm_destroy(&v);
	EXPECT_UNLOADS();
}

/* The slot's memory unmapped, remapped, mprotected, MADV_DONTNEEDed under RUN. */
TEST_F_TIMEOUT(fuzz, race_munmap_vs_run, 1200)
{
	struct rng r = { .s = fuzz_seed() | 1 };
	struct racer rc[4];
	struct race_vm v;
	atomic_int stop;
	int i;
	void *p;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(race_vm_create(self->sys, &v, 4));
	racers_start(_metadata, &v, rc, &stop, 0, 1);
	for (i = 0; i < 3000; i++) {
		size_t off = below(&r, 16) * PAGE, len = (1 + below(&r, 16 - off / PAGE)) * PAGE;

		switch (below(&r, 5)) {
		case 0:
			EXPECT_EQ(0, madvise(v.ram1 + off, len, MADV_DONTNEED));
			break;
		case 1:
			EXPECT_EQ(0, mprotect(v.ram1 + off, len, below(&r, 2) ? PROT_READ : PROT_NONE));
			break;
		case 2:
			EXPECT_EQ(0, mprotect(v.ram1, SLOT1_SIZE, PROT_READ | PROT_WRITE));
			break;
		case 3:
			EXPECT_EQ(0, munmap(v.ram1 + off, len));
			usleep(below(&r, 500));
			p = mmap(v.ram1 + off, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			EXPECT_EQ((void *)(v.ram1 + off), p);
			break;
		default:
			/* The same range from a memfd, shared. */
			{
				int mfd = memfd_create("fuzz", MFD_CLOEXEC);

				if (mfd >= 0 && !ftruncate(mfd, len)) {
					p = mmap(v.ram1 + off, len, PROT_READ | PROT_WRITE,
						 MAP_SHARED | MAP_FIXED, mfd, 0);
					EXPECT_EQ((void *)(v.ram1 + off), p);
				}
				if (mfd >= 0)
					close(mfd);
			}
		}
	}
	racers_stop(_metadata, &v, rc, &stop, "munmap vs run");
	race_vm_destroy(&v);
	EXPECT_UNLOADS();
}

/*
 * fork() while VMs exist: in the child every VM and vCPU ioctl (valid
 * arguments) and the vCPU mmap fail with EIO; the child can make VMs of
 * its own; the parent's VM still runs.
 */
TEST_F_TIMEOUT(fuzz, fork_child_eio, 600)
{
	struct race_vm v;
	struct racer rc[2];
	atomic_int stop;
	int i, status;
	pid_t pid;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(race_vm_create(self->sys, &v, 2));
	/* vCPUs running while the process forks. */
	racers_start(_metadata, &v, rc, &stop, 0, 1);
	racers_wait_ran(_metadata, &v, rc);
	for (i = 0; i < 20; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			static unsigned char b[16384];
			int bad = 0, k, nvm;
			void *p;

			for (k = I_CREATE_VCPU; k < I_NR_KNOWN; k++) {
				int fd = iocs[k].level == VM ? v.vm : v.vcpu[k % 2].fd;
				unsigned long arg = 0;

				memset(b, 0, sizeof(b));
				if (_IOC_DIR(iocs[k].cmd))
					arg = (unsigned long)b;
				if (k == I_CREATE_VCPU)
					arg = 5;
				if (k == I_GET_MSRS || k == I_SET_MSRS) {
					((struct vhm_msrs *)b)->nmsrs = 1;
					((struct vhm_msrs *)b)->entries[0].index = 0xc0000080;
				}
				if (k == I_GET_CPUID)
					((struct vhm_cpuid *)b)->nent = 256;
				if ((ioctl(fd, iocs[k].cmd, arg) != -1 || errno != EIO) &&
				    !(errno == ENOTTY && (k == I_GET_XCRS || k == I_SET_XCRS))) {
					fprintf(stderr, "# child: %s: %s, not EIO\n",
						iocs[k].name, strerror(errno));
					bad++;
				}
			}
			p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, v.vcpu[0].fd, 0);
			if (p != MAP_FAILED) {
				fprintf(stderr, "# child: vCPU mmap succeeded\n");
				bad++;
			}
			nvm = ioctl(self->sys, VHM_CREATE_VM, 0);
			if (nvm < 0 || ioctl(nvm, VHM_CREATE_VCPU, 0) < 0) {
				fprintf(stderr, "# child: its own VM: %s\n", strerror(errno));
				bad++;
			}
			_exit(bad);	/* every fd closed by the exit */
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	racers_stop(_metadata, &v, rc, &stop, "fork");
	race_vm_destroy(&v);
	EXPECT_UNLOADS();
}

/* CREATE_VCPU from 4 threads on one VM: each id exactly once, the rest EEXIST. */
struct storm {
	pthread_t th;
	int vm, sys;
	uint64_t seed;
	int fds[VHM_MAX_VCPUS];
	int nfds, bad, bad_errno;
	int vms, rounds;
};

static void *vcpu_storm(void *arg)
{
	struct storm *s = arg;
	struct rng r = { .s = s->seed };
	int i, id;

	for (i = 0; i < 2 * VHM_MAX_VCPUS; i++) {
		long fd;

		id = below(&r, VHM_MAX_VCPUS);
		if (i >= VHM_MAX_VCPUS)
			id = i - VHM_MAX_VCPUS;	/* then every id in order */
		fd = ioctl(s->vm, VHM_CREATE_VCPU, id);
		if (fd >= 0) {
			s->fds[s->nfds++] = fd;
		} else if (errno != EEXIST && errno != ENOSPC && errno != ENOTTY) {
			s->bad++;
			s->bad_errno = errno;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(fuzz, create_vcpu_storm, 600)
{
	/*
	 * 20 rounds of VHM_MAX_VCPUS vCPUs (VHM_FUZZ_STORM_ROUNDS sets
	 * another count; 4 still has each case below once). About a second
	 * of Bochs' emulated time, once 25 s: the slowest round is logged.
	 */
	int rounds = env_u64("VHM_FUZZ_STORM_ROUNDS", 20);
	struct storm s[4];
	int round, i, j, total, nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	double t, slowest = 0;
	int slowest_round = 0;

	RETURN_IF_SKIPPED();
	ASSERT_LE(0, nul);
	for (round = 0; round < rounds; round++) {
		int vm;
		struct vhm_create_lapic cl = { .flags = VHM_LAPIC_IOAPIC };

		t = now_ms();
		vm = vhm_vm_create(self->sys);
		ASSERT_LE(0, vm);
		if (round % 2)
			ASSERT_VHM_IOCTL(vm, VHM_CREATE_LAPIC, &cl);
		for (i = 0; i < 4; i++) {
			memset(&s[i], 0, sizeof(s[i]));
			s[i].vm = vm;
			s[i].seed = fuzz_seed() + i * 7919 + round;
			ASSERT_EQ(0, pthread_create(&s[i].th, NULL, vcpu_storm, &s[i]));
		}
		/*
		 * The VM fd replaced mid-storm (dup2 of /dev/null: the number
		 * is not reused by a vCPU fd): the vCPUs keep the VM alive,
		 * later CREATE_VCPUs see /dev/null (ENOTTY).
		 */
		if (round % 4 == 3)
			dup2(nul, vm);
		total = 0;
		for (i = 0; i < 4; i++) {
			pthread_join(s[i].th, NULL);
			EXPECT_EQ(0, s[i].bad) TH_LOG("CREATE_VCPU: %s", strerror(s[i].bad_errno));
			total += s[i].nfds;
		}
		if (round % 4 != 3)
			EXPECT_EQ(VHM_MAX_VCPUS, total);
		for (i = 0; i < 4; i++)
			for (j = 0; j < s[i].nfds; j++)
				close(s[i].fds[j]);
		close(vm);
		t = now_ms() - t;
		if (t > slowest) {
			slowest = t;
			slowest_round = round;
		}
	}
	TH_LOG("%d rounds, the slowest (round %d) %.1f ms", rounds,
	       slowest_round, slowest);
	close(nul);
	EXPECT_UNLOADS();
}

/* CREATE_VM (with a vCPU, a slot, an APIC) and close from 4 threads. */
static void *vm_storm(void *arg)
{
	struct storm *s = arg;
	struct rng r = { .s = s->seed };
	unsigned char *ram = guest_ram(0x10000);
	int i;

	for (i = 0; i < s->rounds && ram; i++) {
		int vm = ioctl(s->sys, VHM_CREATE_VM, 0), vc = -1;
		struct vhm_create_lapic cl = { .flags = below(&r, 2) };

		if (vm < 0) {
			if (errno != ENOMEM && errno != ENOSPC) {
				s->bad++;
				s->bad_errno = errno;
			}
			continue;
		}
		s->vms++;
		if (below(&r, 2) && ioctl(vm, VHM_CREATE_LAPIC, &cl)) {
			s->bad++;
			s->bad_errno = errno;
		}
		if (below(&r, 2) && vhm_set_slot(vm, 0, 0, 0, 0x10000, ram)) {
			s->bad++;
			s->bad_errno = errno;
		}
		if (below(&r, 2)) {
			vc = ioctl(vm, VHM_CREATE_VCPU, below(&r, VHM_MAX_VCPUS));
			if (vc < 0) {
				s->bad++;
				s->bad_errno = errno;
			}
		}
		/* Either order of closing. */
		if (below(&r, 2)) {
			close(vm);
			if (vc >= 0)
				close(vc);
		} else {
			if (vc >= 0)
				close(vc);
			close(vm);
		}
	}
	if (ram)
		munmap(ram, 0x10000);
	return NULL;
}

TEST_F_TIMEOUT(fuzz, create_vm_storm, 600)
{
	/* 100 VMs a thread (VHM_FUZZ_STORM_VMS sets another count). */
	int vms = env_u64("VHM_FUZZ_STORM_VMS", 100);
	struct storm s[4];
	int i;

	RETURN_IF_SKIPPED();
	for (i = 0; i < 4; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].sys = self->sys;
		s[i].rounds = vms;
		s[i].seed = fuzz_seed() + i;
		ASSERT_EQ(0, pthread_create(&s[i].th, NULL, vm_storm, &s[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(s[i].th, NULL);
		EXPECT_EQ(0, s[i].bad) TH_LOG("thread %d: %s", i, strerror(s[i].bad_errno));
		EXPECT_EQ(vms, s[i].vms);
	}
	EXPECT_UNLOADS();
}

TEST_HARNESS_MAIN
