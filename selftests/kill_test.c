// SPDX-License-Identifier: GPL-2.0
/*
 * Kill storm (issue 13, "Defences to build"): VMMs killed with SIGKILL in
 * every phase of their life, then `rmmod vhm`, and the host's memory
 * counters back where they were.
 *
 * Each VMM is a forked child that opens /dev/vhm itself and does one phase,
 * round-robin:
 *   creating  VMs, in-kernel APICs, vCPUs (run areas mapped) and memory
 *             slots created and closed in a loop, in varying orders;
 *   running   a C guest on 2 vCPUs on 2 threads: one spins in the guest
 *             without exits, one does port I/O (an exit per OUT);
 *   ioctl     threads asleep inside VHM_RUN: vCPU 0 in `sti; hlt` with the
 *             in-kernel APIC, vCPU 1 waiting for INIT/SIPI, while the main
 *             thread creates and deletes a 64 MiB memory slot in a loop;
 *   munmap    16 MiB of guest RAM in a second slot, written by 2 vCPUs,
 *             populated by the VMM and then munmap()ed / MADV_DONTNEED'd /
 *             remapped in a loop.
 * The parent waits until the child reports that it reached its phase
 * (every 8th child not even that: killed wherever it is), sleeps 0-20 ms and
 * kills it; the child must die of that SIGKILL within 10 s (a VMM stuck in
 * the kernel is reported with its kernel stack). The children run in waves
 * of VHM_KILL_WAVE (8) at once; VHM_KILL_ROUNDS (1000; 100 on VMX, which
 * only the slow Bochs test host has) children in all.
 *
 * Memory is measured before and after, each time after dropping caches,
 * shrinking every slab cache, compacting and folding the per-CPU counters:
 * /proc/meminfo, /proc/vmstat, free pages including the per-CPU lists of
 * /proc/zoneinfo, the totals of /proc/slabinfo, /proc/vmallocinfo, and the
 * memory cgroup the storm's children ran in (vhm charges every per-VM and
 * per-vCPU allocation to the caller's cgroup: what is still charged once
 * every child is gone is what the dead VMMs left behind). The noise is
 * measured by taking the baseline twice with nothing in between; the
 * tolerances derive from it (with floors) and are printed next to the
 * numbers.
 *
 * Built with the guest code flags (Makefile: GUEST_CFLAGS).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"

#define KIB			1024ll
#define MIB			(1024ll * 1024)
#define CG_KILL			CGROOT "/vhm-kill"
#define CG_WARM			CG_KILL "/warmup"
#define CG_STORM		CG_KILL "/storm"
#define CG_NUDGE		CGROOT "/vhm-kill-nudge"

#define MUNMAP_GPA		(1ull << 30)	/* identity-mapped by the guest */
#define MUNMAP_SIZE		(16ull << 20)
#define SLOT_BIG_SIZE		(64ull << 20)
#define SLOT_BIG_GPA		(2ull << 30)
#define PIO_PORT		0x80

#define REAP_LIMIT_MS		10000	/* a SIGKILLed VMM must be gone by then */
#define READY_LIMIT_MS		20000	/* a child must reach its phase by then */

enum phase { PH_CREATE, PH_RUN, PH_IOCTL, PH_MUNMAP, NR_PHASES };
static const char * const phase_name[NR_PHASES] = {
	"creating", "running", "in-ioctl", "munmap",
};

/* What each child tells the parent, in memory shared across fork(). */
struct child_rec {
	volatile int ready;		/* reached its phase */
	volatile int err;		/* setup failed: -errno */
	volatile int err_line;		/* ... at this line */
	volatile uint64_t progress;	/* loop iterations of its phase */
	volatile uint64_t exits;	/* guest exits seen */
};

static struct child_rec *recs;		/* one per child */
static int nr_recs;

/* ---------------------------------------------------------------------
 * Guests.
 */
static volatile uint64_t guest_counter;

/* Spins without exiting (only the host's timer interrupts end a run). */
static void guest_spin(void)
{
	for (;;)
		guest_counter++;
}

/* An OUT, an exit to userspace, each time round. */
static void guest_pio(void)
{
	uint8_t v = 0;

	for (;;)
		guest_outb(PIO_PORT, v++);
}

/* `sti; hlt` with the in-kernel APIC: VHM_RUN sleeps until a signal. */
static void guest_halt(void)
{
	for (;;)
		asm volatile("sti; hlt; cli" : : : "memory");
}

/* Writes every page of the munmap phase's slot, again and again. */
static void guest_touch(uint64_t start)
{
	uint64_t i, n = 0;

	for (;;) {
		for (i = 0; i < MUNMAP_SIZE; i += 4096)
			*(volatile uint64_t *)(MUNMAP_GPA + i) = ++n + start;
	}
}

/* ---------------------------------------------------------------------
 * Children (the VMMs). Setup failures are recorded, then _exit(1): the
 * parent sees an exit instead of its SIGKILL and fails the test with the
 * errno and line.
 */
static struct child_rec *me;

#define CHILD_TRY(expr)							\
	do {								\
		int __r = (expr);					\
									\
		if (__r < 0) {						\
			me->err = __r;					\
			me->err_line = __LINE__;			\
			_exit(1);					\
		}							\
	} while (0)

static int errno_of(int r)
{
	return r < 0 ? -errno : r;
}

/* Run the vCPU forever; any exit (I/O, MMIO, interrupted) runs it again. */
static void *vcpu_loop(void *arg)
{
	struct guest_vcpu *v = arg;

	for (;;) {
		int r = guest_run(v);

		if (r && r != -EINTR) {
			me->err = r;
			me->err_line = __LINE__;
			_exit(1);
		}
		me->exits++;
	}
	return NULL;
}

static void start_vcpu_thread(struct guest_vcpu *v)
{
	pthread_t t;

	CHILD_TRY(-pthread_create(&t, NULL, vcpu_loop, v));
}

/* VMs, APICs, vCPUs and slots created and closed in a loop. */
static void phase_create(int sys)
{
	void *ram = guest_ram(4 << 20);
	static struct test_vcpu left[128];
	struct test_vcpu v[4];
	int vms[4], i, j, k, nleft = 0;
	uint64_t n;

	CHILD_TRY(ram ? 0 : -ENOMEM);
	me->ready = 1;
	for (n = 0;; n++) {
		int nvms = 1 + n % 4, nvcpus = 1 + (n / 4) % 4;

		for (i = 0; i < nvms; i++) {
			CHILD_TRY(vms[i] = vhm_vm_create(sys));
			if ((n + i) & 1) {
				struct vhm_create_lapic c = {
					.flags = (n & 2) ? VHM_LAPIC_IOAPIC : 0,
				};

				CHILD_TRY(errno_of(ioctl(vms[i],
							 VHM_CREATE_LAPIC, &c)));
			}
			for (k = 0; k < 3; k++)
				CHILD_TRY(vhm_set_slot(vms[i], k, 0,
						       (uint64_t)k << 20, 1 << 20,
						       (char *)ram + (k << 20)));
			for (j = 0; j < nvcpus; j++)
				CHILD_TRY(vhm_vcpu_create(vms[i], j, &v[j]));
			/* Close in a varying order: vCPUs first, or the VM. */
			if (n & 4)
				close(vms[i]);
			/* Some vCPUs stay open (their VM with them) a while. */
			for (j = 0; j < nvcpus; j++) {
				if ((n + j) % 3)
					vhm_vcpu_close(&v[j]);
				else
					left[nleft++] = v[j];
			}
			if (!(n & 4))
				close(vms[i]);
		}
		/* ... until 100 accumulate; the exit closes the rest. */
		if (nleft > 100) {
			while (nleft)
				vhm_vcpu_close(&left[--nleft]);
		}
		me->progress = n + 1;
	}
}

/* A C guest on 2 vCPUs: one spinning, one exiting on port I/O. */
static void phase_run(int sys)
{
	static struct guest_vm vm;
	static struct guest_vcpu v0, v1;

	CHILD_TRY(guest_vm_create(&vm, sys));
	CHILD_TRY(guest_vcpu_create(&vm, 0, &v0));
	CHILD_TRY(guest_vcpu_create(&vm, 1, &v1));
	CHILD_TRY(guest_vcpu_start_long(&v0, guest_spin, 0));
	CHILD_TRY(guest_vcpu_start_long(&v1, guest_pio, 0));
	start_vcpu_thread(&v0);
	start_vcpu_thread(&v1);
	while (me->exits < 2)
		sched_yield();
	me->ready = 1;
	for (;;)
		pause();
}

/* Threads asleep in VHM_RUN while the main thread changes a big slot. */
static void phase_ioctl(int sys)
{
	static struct guest_vm vm;
	static struct guest_vcpu v0, v1;
	struct vhm_create_lapic c = { .flags = 0 };
	char *big;
	uint64_t n;

	CHILD_TRY(guest_vm_create(&vm, sys));
	CHILD_TRY(errno_of(ioctl(vm.fd, VHM_CREATE_LAPIC, &c)));
	CHILD_TRY(guest_vcpu_create(&vm, 0, &v0));
	CHILD_TRY(guest_vcpu_create(&vm, 1, &v1));	/* waits for SIPI */
	CHILD_TRY(guest_vcpu_start_long(&v0, guest_halt, 0));
	start_vcpu_thread(&v0);
	start_vcpu_thread(&v1);
	big = guest_ram(SLOT_BIG_SIZE);
	CHILD_TRY(big ? 0 : -ENOMEM);
	usleep(2000);
	me->ready = 1;
	for (n = 0;; n++) {
		CHILD_TRY(vhm_set_slot(vm.fd, 1, n & 1 ? VHM_MEM_READONLY : 0,
				       SLOT_BIG_GPA, SLOT_BIG_SIZE, big));
		CHILD_TRY(vhm_set_slot(vm.fd, 1, 0, SLOT_BIG_GPA, 0, big));
		me->progress = n + 1;
	}
}

/* vCPUs writing guest RAM while the VMM munmaps and remaps it. */
static void phase_munmap(int sys)
{
	static struct guest_vm vm;
	static struct guest_vcpu v0, v1;
	char *ram;
	uint64_t n;

	CHILD_TRY(guest_vm_create(&vm, sys));
	ram = guest_ram(MUNMAP_SIZE);
	CHILD_TRY(ram ? 0 : -ENOMEM);
	memset(ram, 0x5a, MUNMAP_SIZE);
	CHILD_TRY(vhm_set_slot(vm.fd, 1, 0, MUNMAP_GPA, MUNMAP_SIZE, ram));
	CHILD_TRY(guest_vcpu_create(&vm, 0, &v0));
	CHILD_TRY(guest_vcpu_create(&vm, 1, &v1));
	CHILD_TRY(guest_vcpu_start_long(&v0, guest_touch, 0));
	CHILD_TRY(guest_vcpu_start_long(&v1, guest_touch, 1ull << 40));
	start_vcpu_thread(&v0);
	start_vcpu_thread(&v1);
	me->ready = 1;
	for (n = 0;; n++) {
		if (n % 3 == 2) {
			CHILD_TRY(errno_of(madvise(ram, MUNMAP_SIZE,
						   MADV_DONTNEED)));
		} else {
			CHILD_TRY(errno_of(munmap(ram, MUNMAP_SIZE)));
			/* Accesses meanwhile are MMIO exits; then RAM again. */
			CHILD_TRY(mmap(ram, MUNMAP_SIZE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				       -1, 0) == MAP_FAILED ? -errno : 0);
		}
		memset(ram, (int)n, MUNMAP_SIZE);
		me->progress = n + 1;
	}
}

static void child_main(int idx, enum phase ph, const char *cgroup)
{
	char pid[32];
	int fd, sys;

	me = &recs[idx];
	/* Into the storm's memory cgroup: its charges are the dead VMMs'. */
	if (cgroup) {
		fd = open(cgroup, O_WRONLY | O_CLOEXEC);
		CHILD_TRY(fd < 0 ? -errno : 0);
		snprintf(pid, sizeof(pid), "%d", getpid());
		CHILD_TRY(write(fd, pid, strlen(pid)) < 0 ? -errno : 0);
		close(fd);
	}
	CHILD_TRY(sys = vhm_sys_open());
	switch (ph) {
	case PH_CREATE:
		phase_create(sys);
		break;
	case PH_RUN:
		phase_run(sys);
		break;
	case PH_IOCTL:
		phase_ioctl(sys);
		break;
	default:
		phase_munmap(sys);
		break;
	}
	_exit(2);
}

static int env_int(const char *name, int def, int min, int max)
{
	const char *e = getenv(name);
	int n = e ? atoi(e) : def;

	return n >= min && n <= max ? n : def;
}

/*
 * A kernel stack on one line, innermost first ("a+0x1/0x2 < b+0x3/0x4"), so
 * a CI log that keeps only a window around the failure still shows it.
 */
static void one_line_stack(char *buf)
{
	char *in = buf, *out = buf, *p;

	while ((p = strstr(in, "] "))) {
		char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p - 2) : strlen(p + 2);

		if (out != buf) {
			memcpy(out, " < ", 3);
			out += 3;
		}
		memmove(out, p + 2, len);
		out += len;
		if (!end)
			break;
		in = end + 1;
	}
	*out = 0;
}

/* The kernel stacks of a VMM that did not die: every thread's. */
static void log_stuck(struct __test_metadata *_metadata, pid_t pid)
{
	char path[600], buf[4096];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid,
			 d->d_name);
		if (!read_text(path, buf, sizeof(buf)))
			TH_LOG("stuck VMM thread %s: %.200s", d->d_name, buf);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", pid,
			 d->d_name);
		if (!read_text(path, buf, sizeof(buf))) {
			one_line_stack(buf);
			TH_LOG("kernel stack of %s: %s", d->d_name, buf);
		}
	}
	closedir(dir);
}


struct storm_stats {
	int kills;
	int killed_by_sigkill;		/* per the wait status */
	int other_death;		/* exited, or another signal */
	int stuck;			/* not reaped within REAP_LIMIT_MS */
	int not_ready;			/* never reached its phase in time */
	int early;			/* killed without waiting for its phase */
	int per_phase[NR_PHASES];
	int ready_per_phase[NR_PHASES];
	uint64_t progress[NR_PHASES];
	uint64_t exits[NR_PHASES];
	double reap_max_ms[NR_PHASES];
	double reap_sum_ms[NR_PHASES];
};

struct child {
	pid_t pid;
	int idx;
	enum phase ph;
	bool early;
};

/*
 * After a VMM outlived REAP_LIMIT_MS: slow or really stuck? Wait up to
 * LATE_LIMIT_MS more, showing the stacks again halfway (still the same
 * place, or moving), and say when it died. It stays a failure either way.
 */
#define LATE_LIMIT_MS	60000

static void late_reap(struct __test_metadata *_metadata, pid_t pid)
{
	double t0 = now_ms();
	bool shown = false;
	int status;

	while (now_ms() - t0 < LATE_LIMIT_MS) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			TH_LOG("... it died %.1f s later", (now_ms() - t0) / 1000);
			return;
		}
		if (!shown && now_ms() - t0 > LATE_LIMIT_MS / 2) {
			log_stuck(_metadata, pid);
			shown = true;
		}
		usleep(10000);
	}
	TH_LOG("... and was still alive %d s later", LATE_LIMIT_MS / 1000);
	log_stuck(_metadata, pid);
}

/*
 * n children, wave at a time, in cgroup (its cgroup.procs) or not; the first
 * child's phase is first_phase, then round-robin. Returns false when a child
 * stayed stuck (the module must then not be unloaded: it is in use).
 */
static bool storm(struct __test_metadata *_metadata, int n, int wave,
		  const char *cgroup, struct storm_stats *st, unsigned int seed)
{
	struct child *c = calloc(wave, sizeof(*c));
	bool ok = true;
	int base, i;

	memset(st, 0, sizeof(*st));
	srand(seed);
	for (base = 0; base < n; base += wave) {
		int cnt = n - base < wave ? n - base : wave;

		for (i = 0; i < cnt; i++) {
			int idx = base + i;

			c[i].idx = idx;
			c[i].ph = idx % NR_PHASES;
			c[i].early = idx % 8 == 7;
			memset((void *)&recs[idx % nr_recs], 0, sizeof(recs[0]));
			c[i].pid = fork();
			if (c[i].pid < 0) {
				TH_LOG("fork: %s", strerror(errno));
				_metadata->passed = 0;
				cnt = i;
				break;
			}
			if (c[i].pid == 0)
				child_main(idx % nr_recs, c[i].ph, cgroup);
		}
		for (i = 0; i < cnt; i++) {
			struct child_rec *r = &recs[c[i].idx % nr_recs];
			double t0 = now_ms(), t;
			int status = 0;
			pid_t w = 0;

			if (!c[i].early) {
				while (!r->ready && !r->err &&
				       now_ms() - t0 < READY_LIMIT_MS &&
				       !(w = waitpid(c[i].pid, &status, WNOHANG)))
					usleep(500);
				if (!r->ready && !r->err)
					st->not_ready++;
			} else {
				st->early++;
			}
			if (!w) {
				usleep(rand() % 20001);
				kill(c[i].pid, SIGKILL);
			}
			st->kills++;
			t0 = now_ms();
			while (!w) {
				w = waitpid(c[i].pid, &status, WNOHANG);
				if (w || now_ms() - t0 > REAP_LIMIT_MS)
					break;
				usleep(200);
			}
			t = now_ms() - t0;
			st->per_phase[c[i].ph]++;
			st->ready_per_phase[c[i].ph] += !!r->ready;
			st->progress[c[i].ph] += r->progress;
			st->exits[c[i].ph] += r->exits;
			if (w != c[i].pid) {
				st->stuck++;
				ok = false;
				TH_LOG("VMM %d (%s phase, ready %d) not reaped %d ms after SIGKILL",
				       c[i].idx, phase_name[c[i].ph], r->ready,
				       REAP_LIMIT_MS);
				log_stuck(_metadata, c[i].pid);
				late_reap(_metadata, c[i].pid);
				continue;
			}
			if (t > st->reap_max_ms[c[i].ph])
				st->reap_max_ms[c[i].ph] = t;
			st->reap_sum_ms[c[i].ph] += t;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
				st->killed_by_sigkill++;
			} else {
				st->other_death++;
				if (st->other_death <= 10)
					TH_LOG("VMM %d (%s phase) did not die by SIGKILL: status 0x%x, setup error %d (%s) at kill_test.c:%d",
					       c[i].idx, phase_name[c[i].ph],
					       status, r->err, strerror(-r->err),
					       r->err_line);
			}
		}
		if (!ok)
			break;
	}
	free(c);
	return ok;
}

static void storm_report(struct __test_metadata *_metadata,
			 const char *what, const struct storm_stats *st,
			 double secs)
{
	int p;

	TH_LOG("%s: %d VMMs killed in %.1f s: %d died by SIGKILL, %d otherwise, %d stuck; %d killed before reaching their phase on purpose, %d never reached it",
	       what, st->kills, secs, st->killed_by_sigkill, st->other_death,
	       st->stuck, st->early, st->not_ready);
	for (p = 0; p < NR_PHASES; p++)
		TH_LOG("  %-8s %4d VMMs, %4d in their phase when killed, progress %llu loops, %llu guest exits; SIGKILL to reaped: mean %.1f ms, max %.1f ms",
		       phase_name[p], st->per_phase[p], st->ready_per_phase[p],
		       (unsigned long long)st->progress[p],
		       (unsigned long long)st->exits[p],
		       st->per_phase[p] ? st->reap_sum_ms[p] / st->per_phase[p] : 0,
		       st->reap_max_ms[p]);
}

/* ---------------------------------------------------------------------
 * Counters.
 */
enum {
	C_MEMFREE, C_FREE_PCP, C_USED, C_SLAB, C_SUNRECLAIM, C_KSTACK,
	C_PAGETABLES, C_VMALLOC, C_SLABINFO, C_VMALLOCINFO, C_VHM_VMAP,
	NR_COUNTERS
};

static const char * const counter_name[NR_COUNTERS] = {
	"MemFree", "free+pcp", "used (total - free+pcp)", "Slab",
	"SUnreclaim", "KernelStack", "PageTables", "VmallocUsed",
	"slabinfo total", "vmallocinfo total", "vmallocinfo [vhm]",
};

/* Floors of the tolerances (KiB), whatever the measured noise. */
static const long long counter_floor[NR_COUNTERS] = {
	4096, 2048, 2048, 512, 512, 128, 256, 256, 512, 256, 0,
};

struct counters {
	long long v[NR_COUNTERS];	/* KiB (C_VHM_VMAP: entries) */
	long long nr_free_pages, nr_slab_unreclaimable, nr_page_table_pages,
		  nr_kernel_stack;	/* /proc/vmstat, as is */
};

static long long field(const char *text, const char *name)
{
	const char *p = text;
	size_t len = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') &&
		    (p[len] == ':' || p[len] == ' '))
			return strtoll(p + len + 1 + strspn(p + len + 1, " "),
				       NULL, 10);
		p += len;
	}
	return -1;
}

static char big_buf[1 << 20];

/* The pages on the per-CPU free lists: /proc/zoneinfo's "count:" lines. */
static long long pcp_pages(void)
{
	long long sum = 0;
	char *p = big_buf;

	if (read_text("/proc/zoneinfo", big_buf, sizeof(big_buf)))
		return 0;
	while ((p = strstr(p, "count: "))) {
		sum += strtoll(p + 7, NULL, 10);
		p += 7;
	}
	return sum;
}

/* Sum of num_objs * objsize over /proc/slabinfo (KiB). */
static long long slabinfo_total(void)
{
	long long total = 0;
	char *line, *save;

	if (read_text("/proc/slabinfo", big_buf, sizeof(big_buf)))
		return -1;
	for (line = strtok_r(big_buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		long long active, num, size;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num,
			   &size) == 4)
			total += num * size;
	}
	return total / KIB;
}

/* vmalloc bytes (KiB), and the entries a vhm function allocated. */
static long long vmallocinfo_total(long long *vhm_entries)
{
	long long total = 0;
	char *line, *save;

	*vhm_entries = 0;
	if (read_text("/proc/vmallocinfo", big_buf, sizeof(big_buf)))
		return -1;
	for (line = strtok_r(big_buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		/* Mappings of IO memory and module text are not memory. */
		/*
		 * Not allocations: mappings of IO memory, and the areas
		 * vfree() left for the lazy purge (dead tasks' stacks).
		 */
		if (strstr(line, "ioremap") || strstr(line, "unpurged") ||
		    strstr(line, "vm_map_ram"))
			continue;
		total += strtoll(sp + 1, NULL, 10);
		if (strstr(line, "[vhm]"))
			(*vhm_entries)++;
	}
	return total / KIB;
}

/*
 * KASAN's vmalloc shadow (the debug kernel of make check-debug): a vfree()d
 * area keeps its shadow pages until the kernel purges lazily freed areas,
 * which it does on its own only once 32 MiB a CPU bit of them wait. Dead
 * tasks' kernel stacks are such areas: after a thousand killed VMMs, 11 MiB
 * of shadow, counted by no /proc/meminfo field, made "used" look like a
 * leak (until rmmod purged them). Loading or unloading a module purges them
 * (set_memory_*() calls vm_unmap_aliases()): on such a kernel every
 * measurement first loads and unloads msr.
 */
static bool purge_by_module;

static bool kernel_has_symbol(const char *name)
{
	size_t len = strlen(name), cap = 0;
	char *line = NULL;
	bool found = false;
	ssize_t n;
	FILE *f;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return false;
	while (!found && (n = getline(&line, &cap, f)) > 0) {
		char *sym = strrchr(line, ' ');

		found = sym && !strncmp(sym + 1, name, len) &&
			(sym[len + 1] == '\n' || sym[len + 1] == '\0');
	}
	free(line);
	fclose(f);
	return found;
}

/* 0, or why the msr module could not be cycled. */
static int purge_lazy_vmalloc(void)
{
	if (module_loaded("msr"))
		return module_unload("msr") ?: modprobe("msr");
	return modprobe("msr") ?: module_unload("msr");
}

/* Give back everything the kernel gives back on request. */
static void settle(void)
{
	struct dirent *d;
	char path[600];
	DIR *dir;

	sync();
	write_text("/proc/sys/vm/drop_caches", "3");
	dir = opendir("/sys/kernel/slab");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 d->d_name);
		write_text(path, "1");
	}
	if (dir)
		closedir(dir);
	write_text("/proc/sys/vm/compact_memory", "1");
	if (purge_by_module)
		purge_lazy_vmalloc();
	usleep(1500000);	/* RCU frees, the vmstat worker */
	write_text("/proc/sys/vm/stat_refresh", "1");
}

static void measure(struct counters *c)
{
	static char meminfo[8192], vmstat[16384];
	long long total;

	settle();
	memset(c, 0, sizeof(*c));
	read_text("/proc/meminfo", meminfo, sizeof(meminfo));
	read_text("/proc/vmstat", vmstat, sizeof(vmstat));
	total = field(meminfo, "MemTotal");
	c->v[C_MEMFREE] = field(meminfo, "MemFree");
	c->v[C_SLAB] = field(meminfo, "Slab");
	c->v[C_SUNRECLAIM] = field(meminfo, "SUnreclaim");
	c->v[C_KSTACK] = field(meminfo, "KernelStack");
	c->v[C_PAGETABLES] = field(meminfo, "PageTables");
	c->v[C_VMALLOC] = field(meminfo, "VmallocUsed");
	c->nr_free_pages = field(vmstat, "nr_free_pages");
	c->nr_slab_unreclaimable = field(vmstat, "nr_slab_unreclaimable");
	c->nr_page_table_pages = field(vmstat, "nr_page_table_pages");
	c->nr_kernel_stack = field(vmstat, "nr_kernel_stack");
	c->v[C_FREE_PCP] = (c->nr_free_pages + pcp_pages()) * 4;
	c->v[C_USED] = total - c->v[C_FREE_PCP];
	c->v[C_SLABINFO] = slabinfo_total();
	c->v[C_VMALLOCINFO] = vmallocinfo_total(&c->v[C_VHM_VMAP]);
}

static long long llabs_(long long x)
{
	return x < 0 ? -x : x;
}

/*
 * Tolerance per counter: 4 times the noise of two baselines (the larger of
 * the loaded and the unloaded pair), at least the floor.
 */
static void tolerances(const struct counters *a0, const struct counters *a1,
		       const struct counters *b0, const struct counters *b1,
		       long long *tol)
{
	int i;

	for (i = 0; i < NR_COUNTERS; i++) {
		long long noise = llabs_(a1->v[i] - a0->v[i]);

		if (llabs_(b1->v[i] - b0->v[i]) > noise)
			noise = llabs_(b1->v[i] - b0->v[i]);
		tol[i] = 4 * noise > counter_floor[i] ? 4 * noise :
							counter_floor[i];
	}
}

static void log_counters(struct __test_metadata *_metadata, const char *what,
			 const struct counters *c)
{
	TH_LOG("%s: MemFree %lld, free+pcp %lld, used %lld, Slab %lld, SUnreclaim %lld, KernelStack %lld, PageTables %lld, VmallocUsed %lld, slabinfo %lld, vmallocinfo %lld KiB (%lld [vhm] entries); vmstat nr_free_pages %lld, nr_slab_unreclaimable %lld, nr_page_table_pages %lld, nr_kernel_stack %lld",
	       what, c->v[C_MEMFREE], c->v[C_FREE_PCP], c->v[C_USED],
	       c->v[C_SLAB], c->v[C_SUNRECLAIM], c->v[C_KSTACK],
	       c->v[C_PAGETABLES], c->v[C_VMALLOC], c->v[C_SLABINFO],
	       c->v[C_VMALLOCINFO], c->v[C_VHM_VMAP], c->nr_free_pages,
	       c->nr_slab_unreclaimable, c->nr_page_table_pages,
	       c->nr_kernel_stack);
}

/*
 * after vs base: counters that grew (or, for the free ones, shrank) by more
 * than the tolerance fail. Returns how many did. MemFree alone is shown,
 * never judged: pages move between the buddy lists and the per-CPU lists
 * without being used (25 MiB either way in the test hosts); free+pcp, the
 * two together, is the free-memory check.
 */
static int compare(struct __test_metadata *_metadata, const char *what,
		   const struct counters *base, const struct counters *after,
		   const long long *tol)
{
	int i, bad = 0;

	for (i = 0; i < NR_COUNTERS; i++) {
		long long d = after->v[i] - base->v[i];
		long long leak = (i == C_MEMFREE || i == C_FREE_PCP) ? -d : d;
		bool over = i != C_MEMFREE && leak > tol[i];

		TH_LOG("%s %-22s baseline %9lld  after %9lld  delta %+7lld  tolerance %lld%s",
		       what, counter_name[i], base->v[i], after->v[i], d,
		       tol[i], over ? "  <-- EXCEEDED" : "");
		bad += over;
	}
	return bad;
}

/* The memory cgroup's charges and the kernel part of memory.stat. */
static void cgroup_report(struct __test_metadata *_metadata, const char *cg,
			  long long *current, long long *kernel)
{
	static const char * const keys[] = {
		"anon", "file", "kernel", "kernel_stack", "pagetables",
		"percpu", "sock", "vmalloc", "slab_reclaimable",
		"slab_unreclaimable",
	};
	char path[256], buf[64], line[512];
	size_t i, o = 0;

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	*current = read_text(path, buf, sizeof(buf)) ? -1 : atoll(buf);
	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	if (read_text(path, big_buf, sizeof(big_buf)))
		big_buf[0] = 0;
	*kernel = field(big_buf, "kernel");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		o += snprintf(line + o, sizeof(line) - o, " %s %lld",
			      keys[i], field(big_buf, keys[i]));
	TH_LOG("cgroup %s: memory.current %lld bytes;%s", cg, *current, line);
}

/* Every non-zero line of the cgroup's memory.stat, on one line. */
static void cgroup_dump_stat(struct __test_metadata *_metadata, const char *cg)
{
	char path[256], out[2048], *line, *save = NULL;
	size_t o = 0;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	if (read_text(path, big_buf, sizeof(big_buf)))
		return;
	out[0] = 0;
	for (line = strtok_r(big_buf, "\n", &save); line && o < sizeof(out) - 1;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *v = strchr(line, ' ');

		if (v && strtoll(v + 1, NULL, 10))
			o += snprintf(out + o, sizeof(out) - o, " %s;", line);
	}
	TH_LOG("cgroup %s memory.stat:%s", cg, out);
}

/*
 * Reclaim what the cgroup can give back (page cache, per-CPU charge
 * stocks), with no task in it: what stays charged is kernel memory the dead
 * VMMs' objects still hold. memory.high, not memory.max: reclaim and a
 * drain of the per-CPU stocks without the OOM killer's report.
 */
static void cgroup_squeeze(const char *cg)
{
	char path[256];

	settle();
	snprintf(path, sizeof(path), "%s/memory.high", cg);
	write_text(path, "0");
	usleep(500000);
}

/* CG_KILL with the memory controller for its two children. */
static int cgroups_make(void)
{
	int r = cgroup_make(CG_KILL);

	if (r)
		return r;
	if (write_text(CG_KILL "/cgroup.subtree_control", "+memory"))
		return -EIO;
	if (mkdir(CG_WARM, 0755) || mkdir(CG_STORM, 0755))
		return -errno;
	return 0;
}

static void cgroups_remove(void)
{
	rmdir(CG_WARM);
	rmdir(CG_STORM);
	rmdir(CG_KILL);
	rmdir(CG_NUDGE);
}

/*
 * Make each CPU's charge stock let go of the removed cgroups' object
 * cgroup: a child in another cgroup opens and closes files (struct file
 * is charged) on every CPU, so the stock caches its object cgroup instead.
 */
static void nudge_charge_stocks(void)
{
	int cpu, i, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char pid[32];
	pid_t p;

	p = fork();
	if (p < 0)
		return;
	if (!p) {
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (write_text(CG_NUDGE "/cgroup.procs", pid))
			_exit(1);
		for (cpu = 0; cpu < ncpu; cpu++) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set))
				continue;
			for (i = 0; i < 256; i++)
				close(open("/dev/null", O_RDONLY));
		}
		_exit(0);
	}
	waitpid(p, NULL, 0);
}

/*
 * What the dead VMMs' objects still hold, with vhm unloaded: remove the
 * storm's and the warm-up's cgroups. Their object cgroup goes to CG_KILL,
 * and once no charged object is left it is released and gives back the
 * bytes that were still charged without an object (objcg nr_charged_bytes,
 * which PREEMPT_RT's per-CPU stock trylock leaves behind). What CG_KILL
 * keeps after that is held by live objects. Returns its memory.current,
 * polled for up to 10 s until it is no more than limit.
 */
static long long cgroups_release(struct __test_metadata *_metadata,
				 long long limit)
{
	char buf[64];
	long long cur = -1;
	int i;

	rmdir(CG_WARM);
	rmdir(CG_STORM);
	if (cgroup_make(CG_NUDGE))
		return -1;
	for (i = 0; i < 20; i++) {
		settle();
		nudge_charge_stocks();
		usleep(500000);
		cur = read_text(CG_KILL "/memory.current", buf, sizeof(buf)) ?
		      -1 : atoll(buf);
		if (cur >= 0 && cur <= limit)
			break;
	}
	TH_LOG("cgroups removed: %s still charged %lld bytes after %d ms",
	       CG_KILL, cur, (i + 1) * 500);
	return cur;
}

/* Processes with /dev/vhm (or a VM/vCPU fd) open; logs the first few. */
static int vhm_users(struct __test_metadata *_metadata)
{
	pid_t pids[5];
	int i, n = vhm_fd_holders(pids, 5);

	for (i = 0; i < n && i < 5; i++)
		TH_LOG("pid %d still has vhm open", pids[i]);
	return n;
}

static void kmsg_check(struct __test_metadata *_metadata, struct kmsg_log *k)
{
	static const char * const bad[] = {
		"BUG:", "WARNING: CPU:", "Oops", "general protection fault",
		"soft lockup", "hard LOCKUP", "rcu: INFO", "blocked for more than",
		"Call Trace", "refcount_t:", "list_add corruption",
		"list_del corruption", "Bad page",
	};
	char line[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_FALSE(kmsg_find(k, bad[i], line, sizeof(line)))
			TH_LOG("kernel log: %s", line);
}

/* ---------------------------------------------------------------------
 * The test.
 */
FIXTURE(kill) {
	struct kmsg_log kmsg;
};

FIXTURE_SETUP(kill)
{
	self->kmsg.fd = -1;
	self->kmsg.text = NULL;
	REQUIRE_VHM_HOST();
	host_reset();
	ASSERT_FALSE(module_loaded("vhm"));
	ASSERT_EQ(0, kmsg_open(&self->kmsg));
}

FIXTURE_TEARDOWN(kill)
{
	kmsg_close(&self->kmsg);
	cgroups_remove();
	host_reset();
}

TEST_F_TIMEOUT(kill, storm_then_rmmod_counters_return, 1200)
{
	/*
	 * Bochs (the Intel test host) runs about 20 times slower than the
	 * AMD test host's QEMU: 100 VMMs there unless told otherwise.
	 */
	int rounds = env_int("VHM_KILL_ROUNDS",
			     host_vendor() == VENDOR_INTEL ? 100 : 1000,
			     1, 1000000);
	int wave = env_int("VHM_KILL_WAVE", 8, 1, 200);
	struct counters u0, u1, l0, l1, l2, u2;
	long long tol[NR_COUNTERS], cg_cur, cg_kernel, w_cur, w_kernel;
	long long cg_tol, released;
	struct storm_stats st;
	char refcnt[32];
	double t0;
	int bad, waited, ph;
	bool ok;

	RETURN_IF_SKIPPED();
	nr_recs = rounds;
	recs = mmap(NULL, nr_recs * sizeof(*recs), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, recs);
	cgroups_remove();	/* left by a killed run */
	ASSERT_EQ(0, cgroups_make());
	TH_LOG("%d VMMs in waves of %d (VHM_KILL_ROUNDS, VHM_KILL_WAVE)",
	       rounds, wave);
	if (kernel_has_symbol("kasan_populate_vmalloc")) {
		ASSERT_EQ(0, purge_lazy_vmalloc())
			TH_LOG("KASAN vmalloc shadow: loading and unloading msr purges lazily freed areas; it failed");
		purge_by_module = true;
		TH_LOG("KASAN vmalloc shadow: each measurement loads and unloads msr first (the lazy vmalloc purge)");
	}

	/*
	 * Warm-up: a load, one small storm (every phase, twice) and an unload,
	 * so that one-time allocations are in the baseline; then the
	 * baselines, twice each, with and without vhm loaded.
	 */
	ASSERT_EQ(0, vhm_load(NULL));
	t0 = now_ms();
	ASSERT_TRUE(storm(_metadata, 8, 8, CG_WARM "/cgroup.procs", &st, 1));
	storm_report(_metadata, "warm-up", &st, (now_ms() - t0) / 1e3);
	ASSERT_EQ(8, st.killed_by_sigkill);
	ASSERT_EQ(0, vhm_unload());
	cgroup_squeeze(CG_WARM);
	cgroup_report(_metadata, CG_WARM, &w_cur, &w_kernel);
	measure(&u0);
	measure(&u1);
	ASSERT_EQ(0, vhm_load(NULL));
	measure(&l0);
	measure(&l1);
	log_counters(_metadata, "baseline unloaded #1", &u0);
	log_counters(_metadata, "baseline unloaded #2", &u1);
	log_counters(_metadata, "baseline loaded #1", &l0);
	log_counters(_metadata, "baseline loaded #2", &l1);
	tolerances(&u0, &u1, &l0, &l1, tol);

	/* The storm. */
	t0 = now_ms();
	ok = storm(_metadata, rounds, wave, CG_STORM "/cgroup.procs", &st, 42);
	storm_report(_metadata, "storm", &st, (now_ms() - t0) / 1e3);
	ASSERT_TRUE(ok) TH_LOG("a killed VMM stayed stuck in the kernel");
	EXPECT_EQ(rounds, st.killed_by_sigkill);
	EXPECT_EQ(0, st.not_ready);
	/* Every phase was really reached (the kills landed in it). */
	for (ph = 0; ph < NR_PHASES; ph++) {
		EXPECT_LE(st.per_phase[ph] / 2, st.ready_per_phase[ph])
			TH_LOG("%s phase", phase_name[ph]);
	}

	/* No VMM left: nobody holds vhm; then rmmod. */
	EXPECT_EQ(0, vhm_users(_metadata));
	for (waited = 0; waited < 50; waited++) {
		if (!read_text("/sys/module/vhm/refcnt", refcnt, sizeof(refcnt)) &&
		    atoi(refcnt) == 0)
			break;
		usleep(100000);
	}
	EXPECT_EQ(0, waited) TH_LOG("vhm's refcount reached 0 only %d ms after the last reap (refcnt %s)",
				    waited * 100, refcnt);
	/* The storm's cgroup: what is still charged to the dead VMMs. */
	cgroup_squeeze(CG_STORM);
	cgroup_report(_metadata, CG_STORM, &cg_cur, &cg_kernel);
	measure(&l2);
	log_counters(_metadata, "after storm, loaded", &l2);
	ASSERT_EQ(0, vhm_unload()) TH_LOG("rmmod vhm after the storm");
	ASSERT_FALSE(module_loaded("vhm"));
	measure(&u2);
	log_counters(_metadata, "after rmmod", &u2);

	/* Compare. */
	bad = compare(_metadata, "loaded:  ", &l1, &l2, tol);
	bad += compare(_metadata, "unloaded:", &u1, &u2, tol);
	EXPECT_EQ(0, bad) TH_LOG("%d counters beyond their tolerance", bad);
	EXPECT_EQ(0, u2.v[C_VHM_VMAP]) TH_LOG("vmalloc areas of vhm after rmmod");
	EXPECT_EQ(l1.v[C_VHM_VMAP], l2.v[C_VHM_VMAP])
		TH_LOG("vmalloc areas of vhm before/after the storm");
	/*
	 * The cgroup: per-CPU charge stocks are drained by memory.high=0; the
	 * warm-up's leftovers (8 VMMs) show the floor. 256 KiB, or twice the
	 * warm-up's, for 1000 VMMs, i.e. well under a page per VMM.
	 */
	cg_tol = 2 * w_cur > 256 * KIB ? 2 * w_cur : 256 * KIB;
	if (cg_cur > cg_tol) {
		/*
		 * Frees that wait for a grace period or a worker (a vCPU's
		 * memory, the per-CPU stocks' drain: queued work, slower on
		 * PREEMPT_RT) can still be under way: once more, 2 s later,
		 * with every non-zero line of memory.stat shown.
		 */
		cgroup_dump_stat(_metadata, CG_STORM);
		sleep(2);
		cgroup_squeeze(CG_STORM);
		cgroup_report(_metadata, CG_STORM, &cg_cur, &cg_kernel);
		cgroup_dump_stat(_metadata, CG_STORM);
	}
	TH_LOG("cgroup leftovers: storm %lld bytes (%lld per VMM), warm-up %lld bytes; tolerance %lld",
	       cg_cur, cg_cur / (rounds ? rounds : 1), w_cur, cg_tol);
	/*
	 * Charges no memory backs: on PREEMPT_RT (Debian's 7.3-rt) the storm's
	 * cgroup kept 0.8 to 5.5 KiB per VMM of "kernel" charges with no
	 * slab, vmalloc, stack, page table or percpu part, and the host's
	 * counters above back within their tolerance (docs/TESTING.md, "Kill
	 * storm"). Removing the cgroups tells them from a leak: a live
	 * object keeps its charge, bytes without one are given back.
	 */
	if (cg_cur > cg_tol) {
		released = cgroups_release(_metadata, cg_tol);
		EXPECT_GE(cg_tol, released)
			TH_LOG("kernel memory charged to the dead VMMs: %lld bytes, %lld with their cgroups removed",
			       cg_cur, released);
	}
	kmsg_check(_metadata, &self->kmsg);
	munmap(recs, nr_recs * sizeof(*recs));
}

TEST_HARNESS_MAIN
