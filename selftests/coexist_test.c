// SPDX-License-Identifier: GPL-2.0
/*
 * A KVM guest and a vhm guest on the same CPUs (issue 14, item 4).
 *
 * Both guests run the same 32-bit protected-mode program (coexist_code
 * below): a computation with a known answer and an exit on every step: IN
 * of a key the VMM chooses, CPUID, OUT of the running value, and a HLT
 * every 16 steps. Each VMM checks every value its guest produces against
 * its own computation of it (struct answer), so a guest whose registers,
 * memory or exits another hypervisor disturbed fails at once, with the
 * step. Where the CPU has RDTSCP, each guest also sets IA32_TSC_AUX to a
 * value of its VMM's (CX_AUX_KVM, CX_AUX_VHM: both hypervisors keep the
 * guest's in the CPU while it runs and switch it lazily) and checks with
 * RDTSCP at every step that it still reads its own. The KVM side is a minimal VMM on /dev/kvm's ioctls (struct
 * kvm_guest: 64 KiB of RAM, one vCPU, no in-kernel irqchip); the vhm side
 * uses the selftest library (guest_vcpu_start_prot32()).
 *
 * What the test expects on this host (expected_mode()):
 * - "run": vhm runs beside KVM. Then a KVM and a vhm guest run together
 *   for VHM_COEXIST_SECS (default 60) seconds, both VMM threads pinned to
 *   the same CPU, which rotates over the online CPUs every 2 seconds;
 *   vhm loads and unloads while a KVM guest runs; KVM VMs start and stop
 *   (and kvm_amd/kvm_intel unloads and loads, unless vhm pins it) while a
 *   vhm guest runs.
 * - "refuse": vhm refuses to load beside KVM, with the documented errno
 *   and one kernel log line (docs/ARCHITECTURE.md, "Compatibility"), and
 *   the KVM guest runs on unharmed; with vhm holding the hardware, KVM
 *   cannot take it (kvm_amd/kvm_intel's load or KVM_CREATE_VM fails with
 *   EBUSY) and the vhm guest runs on unharmed.
 * The rule, first match:
 * 1. VHM_COEXIST_EXPECT=run|refuse in the environment (make check can pin
 *    it per kernel; a test host's command line passes it to init);
 * 2. a kernel where vhm turns virtualization on itself (no
 *    x86_virt_get_ref() in /proc/kallsyms: 6.1, 6.12): "refuse", by
 *    design (docs/ARCHITECTURE.md);
 * 3. a kernel that owns virtualization (7.x): vhm's own report, when it
 *    is loaded beside the loaded KVM module: loaded, with its one line
 *    "... on top of KVM's (kvm_amd|kvm_intel) ...": "run"; refused:
 *    "refuse" (the tests then check the refusal's errno and line; with
 *    VMX that is a FRED host, where vhm refuses with or without KVM).
 *    Loaded without that line: the test fails.
 * No KVM module, or a KVM that cannot create a VM here: SKIP.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define STR(x)	#x
#define XSTR(x)	STR(x)

/* The guest program's ports and constants (ABI between it and struct answer). */
#define CX_PORT_KEY	0x3f1	/* IN: the next key, or CX_STOP */
#define CX_PORT_VALUE	0x3f0	/* OUT: the running value after a step */
#define CX_PORT_ERROR	0x3f2	/* OUT: CPUID's answer changed (EBX) */
#define CX_PORT_DONE	0x3f3	/* OUT: the final value, then HLT forever */
#define CX_PORT_AUX	0x3f4	/* OUT: RDTSCP's TSC_AUX was not the guest's */
#define CX_PORT_AUX_IS	0x3f5	/* OUT, first: the TSC_AUX checked, or NO_AUX */
#define CX_AUX_KVM	0x4b564du	/* each guest's TSC_AUX, in ESP at start */
#define CX_AUX_VHM	0x56484du
#define CX_NO_AUX	0xffffffffu	/* ESP once there is no RDTSCP */
#define CX_SEED		0x1badb002u
#define CX_MUL		1103515245u
#define CX_STOP		0xffffffffu
#define CX_HLT_EVERY	16	/* must be a power of 2 */

/*
 * aux = ESP; if RDTSCP: WRMSR TSC_AUX = aux, else aux = NO_AUX; OUT aux
 * to AUX_IS; x = SEED; for (i = 0;; i++) { k = IN; if (k == STOP) break;
 * x = x * MUL + k + i; CPUID(0), EBX as at the start; RDTSCP's ECX is
 * aux (unless NO_AUX); OUT x; HLT when (i + 1) % 16 == 0 } OUT x to
 * DONE; HLT forever.
 * Position independent; no stack (ESP holds aux), no memory accesses.
 */
asm(
	"	.pushsection .rodata.guest_code, \"a\"\n"
	"	.code32\n"
	"coexist_code:\n"
	"	movl $0x80000001, %eax\n"
	"	cpuid\n"
	"	btl $27, %edx\n"		/* RDTSCP */
	"	jc 0f\n"
	"	movl $" XSTR(CX_NO_AUX) ", %esp\n"
	"	jmp 7f\n"
	"0:	movl $0xc0000103, %ecx\n"	/* IA32_TSC_AUX */
	"	movl %esp, %eax\n"
	"	xorl %edx, %edx\n"
	"	wrmsr\n"
	"7:	movl %esp, %eax\n"
	"	movw $" XSTR(CX_PORT_AUX_IS) ", %dx\n"
	"	outl %eax, %dx\n"
	"	xorl %esi, %esi\n"
	"	movl $" XSTR(CX_SEED) ", %edi\n"
	"	xorl %eax, %eax\n"
	"	cpuid\n"
	"	movl %ebx, %ebp\n"
	"1:	movw $" XSTR(CX_PORT_KEY) ", %dx\n"
	"	inl %dx, %eax\n"
	"	cmpl $" XSTR(CX_STOP) ", %eax\n"
	"	je 3f\n"
	"	imull $" XSTR(CX_MUL) ", %edi, %edi\n"
	"	addl %eax, %edi\n"
	"	addl %esi, %edi\n"
	"	xorl %eax, %eax\n"
	"	cpuid\n"
	"	cmpl %ebp, %ebx\n"
	"	jne 4f\n"
	"	cmpl $" XSTR(CX_NO_AUX) ", %esp\n"
	"	je 2f\n"
	"	rdtscp\n"
	"	cmpl %esp, %ecx\n"
	"	jne 6f\n"
	"2:	movl %edi, %eax\n"
	"	movw $" XSTR(CX_PORT_VALUE) ", %dx\n"
	"	outl %eax, %dx\n"
	"	incl %esi\n"
	"	testl $" XSTR(CX_HLT_EVERY) " - 1, %esi\n"
	"	jnz 1b\n"
	"	hlt\n"
	"	jmp 1b\n"
	"3:	movl %edi, %eax\n"
	"	movw $" XSTR(CX_PORT_DONE) ", %dx\n"
	"	outl %eax, %dx\n"
	"5:	hlt\n"
	"	jmp 5b\n"
	"4:	movl %ebx, %eax\n"
	"	movw $" XSTR(CX_PORT_ERROR) ", %dx\n"
	"	outl %eax, %dx\n"
	"	jmp 5b\n"
	"6:	movl %ecx, %eax\n"
	"	movw $" XSTR(CX_PORT_AUX) ", %dx\n"
	"	outl %eax, %dx\n"
	"	jmp 5b\n"
	"coexist_code_end:\n"
	"	.code64\n"
	"	.popsection\n");
extern const uint8_t coexist_code[], coexist_code_end[];

/* ---------------------------------------------------------------------
 * The answer: one checker for both VMMs, fed with neutral exits.
 */

enum cx_kind { CX_IN, CX_OUT, CX_HLT, CX_OTHER };

struct cx_exit {
	enum cx_kind kind;
	uint16_t port;
	uint8_t size;
	uint32_t count;
	void *data;		/* IN: where the VMM puts the value */
	char what[96];		/* CX_OTHER: the exit, for the failure */
};

struct answer {
	uint32_t i;		/* steps done */
	uint32_t x;		/* the guest's value after step i */
	uint32_t next;		/* the value step i must produce */
	bool keyed;		/* the guest has step i's key */
	bool stopping;		/* the guest got CX_STOP */
	bool done;		/* ... and reported the right final value */
	uint32_t hlt_at;	/* i at the last periodic HLT */
	uint64_t hlts;
	bool aux_told;		/* the guest said which TSC_AUX it checks */
	uint32_t aux;		/* ... that one, or CX_NO_AUX */
	char err[256];		/* the first failure */
};

static void answer_init(struct answer *a)
{
	memset(a, 0, sizeof(*a));
	a->x = CX_SEED;
}

static uint32_t cx_key(uint32_t i)
{
	uint32_t k = (i * 0x9e3779b9u) ^ 0x5a5a5a5au;

	return k == CX_STOP ? k ^ 1 : k;
}

/*
 * One exit of the guest: answer an IN, check an OUT or a HLT. stop: answer
 * the next key request with CX_STOP. 1 when the guest finished (its final
 * HLT after the right DONE value), 0 to go on, -1 on a wrong answer.
 */
static int answer_step(struct answer *a, const struct cx_exit *e, bool stop)
{
	uint32_t v = 0;

	if (e->kind == CX_OTHER) {
		snprintf(a->err, sizeof(a->err), "step %u: unexpected exit: %s",
			 a->i, e->what);
		return -1;
	}
	if (e->kind == CX_HLT) {
		if (a->done)
			return 1;
		if (a->keyed || a->stopping || a->i == 0 ||
		    a->i % CX_HLT_EVERY || a->hlt_at == a->i) {
			snprintf(a->err, sizeof(a->err),
				 "step %u: HLT where the program has none", a->i);
			return -1;
		}
		a->hlt_at = a->i;
		a->hlts++;
		return 0;
	}
	if (e->size != 4 || e->count != 1) {
		snprintf(a->err, sizeof(a->err),
			 "step %u: %s of port %#x, size %u count %u",
			 a->i, e->kind == CX_IN ? "IN" : "OUT", e->port,
			 e->size, e->count);
		return -1;
	}
	if (e->kind == CX_OUT && e->port == CX_PORT_AUX_IS && !a->aux_told) {
		memcpy(&a->aux, e->data, 4);
		a->aux_told = true;
		return 0;
	}
	if (e->kind == CX_IN && e->port == CX_PORT_KEY && !a->keyed &&
	    !a->stopping && a->aux_told) {
		v = stop ? CX_STOP : cx_key(a->i);
		memcpy(e->data, &v, 4);
		if (stop)
			a->stopping = true;
		else
			a->next = a->x * CX_MUL + v + a->i;
		a->keyed = !stop;
		return 0;
	}
	if (e->kind == CX_OUT)
		memcpy(&v, e->data, 4);
	if (e->kind == CX_OUT && e->port == CX_PORT_VALUE && a->keyed) {
		if (v != a->next) {
			snprintf(a->err, sizeof(a->err),
				 "step %u: the guest computed %#x, the answer is %#x",
				 a->i, v, a->next);
			return -1;
		}
		a->x = v;
		a->i++;
		a->keyed = false;
		return 0;
	}
	if (e->kind == CX_OUT && e->port == CX_PORT_DONE && a->stopping &&
	    !a->done) {
		if (v != a->x) {
			snprintf(a->err, sizeof(a->err),
				 "after %u steps the guest ended with %#x, the answer is %#x",
				 a->i, v, a->x);
			return -1;
		}
		a->done = true;
		return 0;
	}
	if (e->kind == CX_OUT && e->port == CX_PORT_ERROR) {
		snprintf(a->err, sizeof(a->err),
			 "step %u: CPUID(0).EBX changed in the guest to %#x",
			 a->i, v);
		return -1;
	}
	if (e->kind == CX_OUT && e->port == CX_PORT_AUX) {
		snprintf(a->err, sizeof(a->err),
			 "step %u: RDTSCP gave the guest TSC_AUX %#x, not its own",
			 a->i, v);
		return -1;
	}
	snprintf(a->err, sizeof(a->err), "step %u: %s of port %#x out of order",
		 a->i, e->kind == CX_IN ? "IN" : "OUT", e->port);
	return -1;
}

/* ---------------------------------------------------------------------
 * A minimal KVM VMM: 64 KiB of RAM at 0, one vCPU in flat 32-bit
 * protected mode at KVM_GUEST_CODE, no in-kernel irqchip (HLT exits).
 */

#define KVM_GUEST_RAM	0x10000
#define KVM_GUEST_CODE	0x1000

struct kvm_guest {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	void *ram;
};

static void kvm_guest_free(struct kvm_guest *g)
{
	if (g->run)
		munmap(g->run, g->run_size);
	if (g->vcpu >= 0)
		close(g->vcpu);
	if (g->vm >= 0)
		close(g->vm);
	if (g->kvm >= 0)
		close(g->kvm);
	if (g->ram)
		munmap(g->ram, KVM_GUEST_RAM);
	memset(g, 0, sizeof(*g));
	g->kvm = g->vm = g->vcpu = -1;
}

static void kvm_flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

#define KVM_CPUID_MAX	256

/* The guest's CPUID: what KVM supports (RDTSCP among it, for TSC_AUX). */
static int kvm_guest_set_cpuid(struct kvm_guest *g)
{
	struct kvm_cpuid2 *c;
	int r = -ENOMEM;

	c = calloc(1, sizeof(*c) + KVM_CPUID_MAX * sizeof(c->entries[0]));
	if (!c)
		return r;
	c->nent = KVM_CPUID_MAX;
	r = ioctl(g->kvm, KVM_GET_SUPPORTED_CPUID, c);
	if (!r)
		r = ioctl(g->vcpu, KVM_SET_CPUID2, c);
	free(c);
	return r;
}

/* 0 or -errno (the failing call's), *what naming the call. */
static int kvm_guest_create(struct kvm_guest *g, const char **what)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int r;

	memset(g, 0, sizeof(*g));
	g->kvm = g->vm = g->vcpu = -1;
#define KVM_STEP(call, name)						\
	do {								\
		*what = name;						\
		r = (call);						\
		if (r < 0) {						\
			r = -errno;					\
			kvm_guest_free(g);				\
			return r;					\
		}							\
	} while (0)
	KVM_STEP(g->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), "open /dev/kvm");
	KVM_STEP(g->vm = ioctl(g->kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
	g->ram = mmap(NULL, KVM_GUEST_RAM, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->ram == MAP_FAILED) {
		g->ram = NULL;
		KVM_STEP(-1, "mmap guest RAM");
	}
	memcpy((char *)g->ram + KVM_GUEST_CODE, coexist_code,
	       coexist_code_end - coexist_code);
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = KVM_GUEST_RAM,
		.userspace_addr = (uintptr_t)g->ram,
	};
	KVM_STEP(ioctl(g->vm, KVM_SET_USER_MEMORY_REGION, &region),
		 "KVM_SET_USER_MEMORY_REGION");
	KVM_STEP(g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
	KVM_STEP(kvm_guest_set_cpuid(g), "KVM_GET_SUPPORTED_CPUID/KVM_SET_CPUID2");
	KVM_STEP(ioctl(g->kvm, KVM_GET_VCPU_MMAP_SIZE, 0),
		 "KVM_GET_VCPU_MMAP_SIZE");
	g->run_size = r;
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->vcpu, 0);
	if (g->run == MAP_FAILED) {
		g->run = NULL;
		KVM_STEP(-1, "mmap kvm_run");
	}
	KVM_STEP(ioctl(g->vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	kvm_flat_seg(&sregs.cs, 0x08, 11);	/* code, execute/read, accessed */
	kvm_flat_seg(&sregs.ds, 0x10, 3);	/* data, read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = (sregs.cr0 | X86_CR0_PE) & ~X86_CR0_PG;
	KVM_STEP(ioctl(g->vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = KVM_GUEST_CODE;
	regs.rsp = CX_AUX_KVM;
	regs.rflags = 2;
	KVM_STEP(ioctl(g->vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
#undef KVM_STEP
	*what = NULL;
	return 0;
}

/* KVM_RUN once, the exit as a cx_exit. 0 or -errno. */
static int kvm_guest_enter(struct kvm_guest *g, struct cx_exit *e)
{
	struct kvm_run *run = g->run;

	if (ioctl(g->vcpu, KVM_RUN, 0) < 0)
		return -errno;
	memset(e, 0, sizeof(*e));
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		e->kind = run->io.direction == KVM_EXIT_IO_OUT ? CX_OUT : CX_IN;
		e->port = run->io.port;
		e->size = run->io.size;
		e->count = run->io.count;
		e->data = (char *)run + run->io.data_offset;
		break;
	case KVM_EXIT_HLT:
		e->kind = CX_HLT;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = CX_OTHER;
		snprintf(e->what, sizeof(e->what),
			 "KVM_EXIT_FAIL_ENTRY, hardware error %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = CX_OTHER;
		snprintf(e->what, sizeof(e->what),
			 "KVM_EXIT_INTERNAL_ERROR, suberror %u",
			 run->internal.suberror);
		break;
	default:
		e->kind = CX_OTHER;
		snprintf(e->what, sizeof(e->what), "KVM exit reason %u",
			 run->exit_reason);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * The vhm side: the selftest library's VM, the same program.
 */

struct vhm_guest {
	int sys;
	struct guest_vm vm;
	struct guest_vcpu vcpu;
};

static void vhm_guest_free(struct vhm_guest *g)
{
	guest_vcpu_free(&g->vcpu);
	guest_vm_free(&g->vm);
	if (g->sys >= 0)
		close(g->sys);
	g->sys = -1;
}

/* The program's TSC_AUX value, in ESP (see coexist_code). */
static int vhm_guest_set_aux(struct vhm_guest *g)
{
	struct vhm_regs regs;
	int r = vhm_get_regs(&g->vcpu.raw, &regs);

	if (r)
		return r;
	regs.rsp = CX_AUX_VHM;
	return vhm_set_regs(&g->vcpu.raw, &regs);
}

/* 0 or -errno, *what naming the failed step. */
static int vhm_guest_create(struct vhm_guest *g, const char **what)
{
	int r;

	memset(g, 0, sizeof(*g));
	g->vm.fd = -1;
	g->vcpu.raw.fd = -1;
	*what = "open /dev/vhm";
	g->sys = vhm_sys_open();
	if (g->sys < 0)
		return g->sys;
	*what = "guest_vm_create";
	r = guest_vm_create(&g->vm, g->sys);
	if (!r) {
		*what = "guest_vcpu_create";
		r = guest_vcpu_create(&g->vm, 0, &g->vcpu);
	}
	if (!r) {
		*what = "guest_vcpu_start_prot32";
		r = guest_vcpu_start_prot32(&g->vcpu, GUEST_LOW_CODE, coexist_code,
					    coexist_code_end - coexist_code);
	}
	if (!r) {
		*what = "VHM_SET_REGS";
		r = vhm_guest_set_aux(g);
	}
	if (r)
		vhm_guest_free(g);
	else
		*what = NULL;
	return r;
}

static int vhm_guest_enter(struct vhm_guest *g, struct cx_exit *e)
{
	struct vhm_run *run = g->vcpu.run;
	int r = guest_run(&g->vcpu);

	if (r)
		return r;
	memset(e, 0, sizeof(*e));
	switch (run->exit_reason) {
	case VHM_EXIT_IO:
		e->kind = run->io.direction == VHM_IO_OUT ? CX_OUT : CX_IN;
		e->port = run->io.port;
		e->size = run->io.size;
		e->count = run->io.count;
		e->data = vhm_io_data(&g->vcpu.raw);
		break;
	case VHM_EXIT_HLT:
		e->kind = CX_HLT;
		break;
	case VHM_EXIT_FAIL_ENTRY:
		e->kind = CX_OTHER;
		snprintf(e->what, sizeof(e->what),
			 "VHM_EXIT_FAIL_ENTRY, hardware reason %#llx on CPU %u",
			 (unsigned long long)run->fail_entry.hardware_reason,
			 run->fail_entry.cpu);
		break;
	default:
		e->kind = CX_OTHER;
		snprintf(e->what, sizeof(e->what), "vhm exit reason %u",
			 run->exit_reason);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * A VMM thread: runs its guest, pinned to the CPU of the schedule, until
 * told to stop or its step budget is spent, then lets the guest finish.
 */

#define CX_SLOT_MS	2000	/* the shared CPU changes this often */
#define CX_MAX_GAP_MS	10000	/* a guest without a step this long: stalled */

static double cx_epoch;		/* the schedule's start, now_ms() */
static int cx_ncpus;		/* CPUs the schedule rotates over */

/* The CPU every VMM thread is pinned to now: the same for all. */
static int cx_slot_cpu(double t)
{
	return (int)((t - cx_epoch) / CX_SLOT_MS) % cx_ncpus;
}

static void cx_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

enum cx_hv { CX_KVM, CX_VHM };

struct vmm {
	enum cx_hv hv;
	const char *name;
	union {
		struct kvm_guest kvm;
		struct vhm_guest vhm;
	};
	struct answer ans;
	uint32_t max_steps;	/* stop after this many steps; 0: when told */
	atomic_bool stop;	/* finish now */
	atomic_uint steps;	/* ans.i, for other threads */
	double start_ms, end_ms, max_gap_ms;
	uint64_t exits;
	uint64_t eintrs;	/* runs a signal ended */
	int enter_err;		/* -errno of a failed KVM_RUN/VHM_RUN */
	bool failed;
	bool finished;		/* the guest ended cleanly */
	pthread_t thread;
};

static int vmm_create(struct vmm *m, enum cx_hv hv, uint32_t max_steps,
		      const char **what)
{
	memset(m, 0, sizeof(*m));
	m->hv = hv;
	m->name = hv == CX_KVM ? "KVM" : "vhm";
	m->max_steps = max_steps;
	answer_init(&m->ans);
	return hv == CX_KVM ? kvm_guest_create(&m->kvm, what) :
			      vhm_guest_create(&m->vhm, what);
}

static void vmm_free(struct vmm *m)
{
	if (m->hv == CX_KVM)
		kvm_guest_free(&m->kvm);
	else
		vhm_guest_free(&m->vhm);
}

static bool host_has_rdtscp(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27));
}

/*
 * The VMM's own TSC_AUX after a run, where Linux keeps the CPU's number
 * (bits 0-11): KVM and vhm must have put the host's back. Read only when
 * the thread stayed on one CPU around it. false, with the reason in err.
 */
static bool host_tsc_aux_ok(struct answer *a, bool rdtscp)
{
	unsigned int c1, c2;
	uint32_t aux;

	if (!rdtscp || syscall(SYS_getcpu, &c1, NULL, NULL))
		return true;
	asm volatile("rdtscp" : "=c"(aux) : : "rax", "rdx");
	if (syscall(SYS_getcpu, &c2, NULL, NULL) || c1 != c2 ||
	    (aux & 0xfff) == c1)
		return true;
	snprintf(a->err, sizeof(a->err),
		 "step %u: the VMM read TSC_AUX %#x on CPU %u", a->i, aux, c1);
	return false;
}

static void *vmm_thread(void *arg)
{
	struct vmm *m = arg;
	bool rdtscp = host_has_rdtscp();
	double last, t;
	int cpu = -1, r;
	struct cx_exit e;
	bool stop;

	m->start_ms = last = now_ms();
	for (;;) {
		t = now_ms();
		if (cx_slot_cpu(t) != cpu) {
			cpu = cx_slot_cpu(t);
			cx_pin(cpu);
		}
		r = m->hv == CX_KVM ? kvm_guest_enter(&m->kvm, &e) :
				      vhm_guest_enter(&m->vhm, &e);
		/*
		 * A signal for the process (SIGCHLD of another thread's
		 * modprobe: system() blocks it in that thread only) ends a
		 * run with EINTR, as on any VMM: run again.
		 */
		if (r == -EINTR) {
			m->eintrs++;
			continue;
		}
		if (r) {
			m->enter_err = r;
			m->failed = true;
			break;
		}
		m->exits++;
		if (!host_tsc_aux_ok(&m->ans, rdtscp)) {
			m->failed = true;
			break;
		}
		stop = atomic_load(&m->stop) ||
		       (m->max_steps && m->ans.i >= m->max_steps);
		r = answer_step(&m->ans, &e, stop);
		if (r < 0) {
			m->failed = true;
			break;
		}
		if (r > 0) {
			m->finished = true;
			break;
		}
		if (m->ans.i != atomic_load(&m->steps)) {
			t = now_ms();
			if (t - last > m->max_gap_ms)
				m->max_gap_ms = t - last;
			last = t;
			atomic_store(&m->steps, m->ans.i);
		}
	}
	m->end_ms = now_ms();
	return NULL;
}

static int vmm_start(struct vmm *m)
{
	return -pthread_create(&m->thread, NULL, vmm_thread, m);
}

/* Tell the thread to stop, wait for it. */
static void vmm_stop(struct vmm *m)
{
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
}

/* The guest ended cleanly with every answer right. */
#define EXPECT_VMM_CLEAN(m)						\
	do {								\
		EXPECT_EQ(0, (m)->enter_err)				\
			TH_LOG("%s: %s_RUN: %s", (m)->name,		\
			       (m)->hv == CX_KVM ? "KVM" : "VHM",	\
			       strerror(-(m)->enter_err));		\
		EXPECT_FALSE((m)->failed && !(m)->enter_err)		\
			TH_LOG("%s guest: %s", (m)->name, (m)->ans.err); \
		EXPECT_TRUE((m)->finished)				\
			TH_LOG("%s guest did not finish", (m)->name);	\
		EXPECT_LT(0, (m)->ans.i)				\
			TH_LOG("%s guest made no step", (m)->name);	\
		EXPECT_GE(CX_MAX_GAP_MS, (m)->max_gap_ms)		\
			TH_LOG("%s guest stalled for %.0f ms", (m)->name, \
			       (m)->max_gap_ms);			\
		EXPECT_TRUE((m)->ans.aux != CX_NO_AUX ||		\
			    !host_has_rdtscp())				\
			TH_LOG("%s guest: no RDTSCP in its CPUID", (m)->name); \
		TH_LOG("%s guest: TSC_AUX %#x checked at every step, %u steps, %llu HLTs, %llu exits (%llu EINTR) in %.1f s, longest gap %.0f ms", \
		       (m)->name, (m)->ans.aux, (m)->ans.i,		\
		       (unsigned long long)(m)->ans.hlts,		\
		       (unsigned long long)(m)->exits,			\
		       (unsigned long long)(m)->eintrs,			\
		       ((m)->end_ms - (m)->start_ms) / 1e3, (m)->max_gap_ms); \
	} while (0)

/* ---------------------------------------------------------------------
 * What this host must do, and the refusal it must show.
 */

enum cx_mode { CX_REFUSE, CX_RUN };

static bool kallsyms_has(const char *sym)
{
	char line[512], *name;
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f)) {
		name = strrchr(line, ' ');
		if (name) {
			name[strcspn(name, "\t\n")] = 0;
			found = !strcmp(name + 1, sym);
		}
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * The expectation (the rule at the top of this file); kmsg sees vhm's
 * line of a probing load.
 */
static enum cx_mode expected_mode(struct __test_metadata *_metadata,
				  char *why, size_t len)
{
	const char *env = getenv("VHM_COEXIST_EXPECT");
	struct kmsg_log k;
	char line[512];
	bool said;
	int r;

	if (env && (!strcmp(env, "run") || !strcmp(env, "refuse"))) {
		snprintf(why, len, "VHM_COEXIST_EXPECT=%s", env);
		return !strcmp(env, "run") ? CX_RUN : CX_REFUSE;
	}
	if (!kallsyms_has("x86_virt_get_ref")) {
		snprintf(why, len, "vhm's own enablement on this kernel");
		return CX_REFUSE;
	}
	if (kmsg_open(&k))
		return CX_REFUSE;
	r = vhm_load_alone(NULL);
	said = kmsg_find(&k, "on top of KVM", line, sizeof(line));
	kmsg_close(&k);
	if (r) {
		snprintf(why, len, "7.x, vhm's load beside KVM: %s", strerror(-r));
		return CX_REFUSE;
	}
	vhm_unload();
	EXPECT_TRUE(said) TH_LOG("vhm loaded beside KVM without its \"on top of KVM\" line");
	snprintf(why, len, "7.x, vhm said: %.100s", said ? line : "nothing");
	return CX_RUN;
}

/* ---------------------------------------------------------------------
 * The tests.
 */

FIXTURE(coexist) {
	enum cx_mode mode;
	char why[160];
	char fix[64];		/* the refusal line's advice */
	/*
	 * 7.x with VMX: no own enablement, so where vhm refuses beside KVM
	 * (a FRED host) it refuses everywhere.
	 */
	bool kernel_owns_vmx;
	int secs;
	struct vmm a, b;
	bool a_made, b_made;
};

FIXTURE_SETUP(coexist)
{
	int r;

	self->a_made = self->b_made = false;
	REQUIRE_VHM_HOST();
	host_reset_all();
	if (modprobe(kvm_vendor_module()))
		SKIP(return, "the stock %s module is not available",
		     kvm_vendor_module());
	r = kvm_try_create_vm();
	if (r)
		SKIP(return, "KVM cannot create a VM here: %s", strerror(-r));
	self->mode = expected_mode(_metadata, self->why, sizeof(self->why));
	self->kernel_owns_vmx = host_vendor() == VENDOR_INTEL &&
				kallsyms_has("x86_virt_get_ref");
	snprintf(self->fix, sizeof(self->fix), "rmmod %s kvm",
		 kvm_vendor_module());
	self->secs = getenv("VHM_COEXIST_SECS") ?
		     atoi(getenv("VHM_COEXIST_SECS")) : 60;
	if (self->secs < 1)
		self->secs = 1;
	cx_ncpus = nr_cpus_online() < 4 ? nr_cpus_online() : 4;
	cx_epoch = now_ms();
	TH_LOG("expected: %s (%s)", self->mode == CX_RUN ?
	       "vhm runs beside KVM" : "vhm refuses beside KVM", self->why);
}

FIXTURE_TEARDOWN(coexist)
{
	if (self->b_made)
		vmm_free(&self->b);
	if (self->a_made)
		vmm_free(&self->a);
	host_reset_all();
}

/*
 * vhm's load must be refused the documented way: the errno, and exactly
 * one kernel log line from vhm, which tells what to do.
 */
static void expect_refused_load(struct __test_metadata *_metadata,
				FIXTURE_DATA(coexist) *self)
{
	int want = self->kernel_owns_vmx ? -EOPNOTSUPP : -EBUSY;
	const char *needle = self->kernel_owns_vmx ? "fred=off" : self->fix;
	struct kmsg_log k;
	char line[512];
	int lines = 0, r;
	char *p, *end, *hit;

	ASSERT_EQ(0, kmsg_open(&k));
	r = vhm_load_alone(NULL);
	if (!r)
		vhm_unload();
	EXPECT_EQ(want, r) TH_LOG("vhm's load: %s", strerror(-r));
	EXPECT_FALSE(module_loaded("vhm"));
	EXPECT_TRUE(kmsg_find(&k, needle, line, sizeof(line)))
		TH_LOG("no kernel log line with \"%s\"", needle);
	/*
	 * One line from vhm, the refusal (not one per CPU, no informational
	 * line of a load that did not happen); the kernel's taint note at a
	 * first load is not vhm's.
	 */
	for (p = k.text; p && *p; p = end + 1) {
		end = strchrnul(p, '\n');
		hit = strstr(p, "taints kernel");
		lines += !strncmp(p, "vhm: ", 5) && !(hit && hit < end);
		if (!*end)
			break;
	}
	EXPECT_EQ(1, lines) TH_LOG("vhm's lines: %s", k.text ? k.text : "");
	kmsg_close(&k);
}

/* Start the KVM guest's VMM (into self->a). */
static void start_kvm_guest(struct __test_metadata *_metadata,
			    FIXTURE_DATA(coexist) *self, uint32_t max_steps)
{
	const char *what;
	int r = vmm_create(&self->a, CX_KVM, max_steps, &what);

	ASSERT_EQ(0, r) TH_LOG("KVM: %s: %s", what, strerror(-r));
	self->a_made = true;
	ASSERT_EQ(0, vmm_start(&self->a));
}

/* Let a VMM run for ms milliseconds, or less if it ends. */
static void let_run(struct vmm *m, int ms)
{
	double until = now_ms() + ms;

	while (now_ms() < until && !m->failed && !m->finished)
		usleep(20000);
}

/*
 * A KVM guest and a vhm guest at once, on the same CPU, for
 * VHM_COEXIST_SECS; or, where vhm refuses beside KVM, the refusal while
 * the KVM guest runs on.
 */
TEST_F_TIMEOUT(coexist, guests_at_once, 600)
{
	const char *what;
	int r;

	RETURN_IF_SKIPPED();
	start_kvm_guest(_metadata, self, 0);
	if (self->mode == CX_REFUSE) {
		let_run(&self->a, 500);
		expect_refused_load(_metadata, self);
		let_run(&self->a, 1000);
		vmm_stop(&self->a);
		EXPECT_VMM_CLEAN(&self->a);
		return;
	}
	r = vhm_load_alone(NULL);
	if (r)
		vmm_stop(&self->a);
	ASSERT_EQ(0, r) TH_LOG("vhm's load beside KVM: %s", strerror(-r));
	r = vmm_create(&self->b, CX_VHM, 0, &what);
	if (r)
		vmm_stop(&self->a);
	ASSERT_EQ(0, r) TH_LOG("vhm: %s: %s", what, strerror(-r));
	self->b_made = true;
	ASSERT_EQ(0, vmm_start(&self->b));
	let_run(&self->b, self->secs * 1000);
	vmm_stop(&self->b);
	vmm_stop(&self->a);
	EXPECT_VMM_CLEAN(&self->a);
	EXPECT_VMM_CLEAN(&self->b);
	/* Both ran the whole time, side by side. */
	EXPECT_LE(self->secs * 1000 * 0.9, self->b.end_ms - self->b.start_ms);
	vmm_free(&self->b);
	self->b_made = false;
	EXPECT_EQ(0, vhm_unload());
}

/*
 * vhm loads, runs a short guest and unloads, several times, while a KVM
 * guest runs on; or, where vhm refuses, every load is refused.
 */
TEST_F_TIMEOUT(coexist, vhm_cycles_under_kvm_guest, 600)
{
	const char *what;
	int i, r;

	RETURN_IF_SKIPPED();
	start_kvm_guest(_metadata, self, 0);
	for (i = 0; i < 3 && !self->a.failed; i++) {
		if (self->mode == CX_REFUSE) {
			expect_refused_load(_metadata, self);
			continue;
		}
		r = vhm_load_alone(NULL);
		EXPECT_EQ(0, r) TH_LOG("round %d: vhm's load: %s", i, strerror(-r));
		if (r)
			break;
		r = vmm_create(&self->b, CX_VHM, 2000, &what);
		EXPECT_EQ(0, r) TH_LOG("vhm: %s: %s", what, strerror(-r));
		if (!r) {
			self->b_made = true;
			vmm_thread(&self->b);	/* here: 2000 steps */
			EXPECT_VMM_CLEAN(&self->b);
			vmm_free(&self->b);
			self->b_made = false;
		}
		EXPECT_EQ(0, vhm_unload());
	}
	let_run(&self->a, 500);
	vmm_stop(&self->a);
	EXPECT_VMM_CLEAN(&self->a);
}

/*
 * KVM VMs start, run a short guest and stop, and the KVM vendor module
 * unloads and loads again (unless vhm pins it: EWOULDBLOCK), while a vhm
 * guest runs on; or, where vhm refuses beside KVM, KVM cannot take the
 * hardware vhm holds and the vhm guest runs on.
 */
TEST_F_TIMEOUT(coexist, kvm_cycles_under_vhm_guest, 600)
{
	struct kmsg_log k;
	char line[512];
	const char *what;
	int i, r;

	RETURN_IF_SKIPPED();
	if (self->mode == CX_REFUSE)
		kvm_unload_all();
	if (self->mode == CX_REFUSE && self->kernel_owns_vmx) {
		/* No vhm guest at all on this kernel: the refusal is all. */
		expect_refused_load(_metadata, self);
		return;
	}
	ASSERT_EQ(0, vhm_load_alone(NULL));
	r = vmm_create(&self->b, CX_VHM, 0, &what);
	ASSERT_EQ(0, r) TH_LOG("vhm: %s: %s", what, strerror(-r));
	self->b_made = true;
	ASSERT_EQ(0, vmm_start(&self->b));
	let_run(&self->b, 500);
	if (self->mode == CX_REFUSE) {
		/*
		 * KVM's vendor module is refused at its load while vhm holds
		 * the hardware (before its init could turn virtualization on
		 * or take the emergency-callback slot vhm holds, a WARN):
		 * EBUSY and vhm's line; the vhm guest runs on.
		 */
		ASSERT_EQ(0, kmsg_open(&k));
		r = modprobe(kvm_vendor_module());
		EXPECT_NE(0, r) TH_LOG("%s loaded while vhm holds the hardware",
				       kvm_vendor_module());
		EXPECT_FALSE(module_loaded(kvm_vendor_module()));
		EXPECT_TRUE(kmsg_find(&k, "unload vhm first", line, sizeof(line)))
			TH_LOG("no line from vhm refusing %s", kvm_vendor_module());
		kmsg_close(&k);
		let_run(&self->b, 1000);
	} else {
		for (i = 0; i < 3 && !self->b.failed; i++) {
			r = vmm_create(&self->a, CX_KVM, 2000, &what);
			EXPECT_EQ(0, r) TH_LOG("round %d: KVM: %s: %s", i, what,
					       strerror(-r));
			if (r)
				break;
			self->a_made = true;
			vmm_thread(&self->a);	/* here: 2000 steps */
			EXPECT_VMM_CLEAN(&self->a);
			vmm_free(&self->a);
			self->a_made = false;
			/*
			 * The vendor module: unloaded and back, or pinned by
			 * vhm's VM (a reference: delete_module()'s O_NONBLOCK
			 * answer is EWOULDBLOCK).
			 */
			r = module_unload(kvm_vendor_module());
			if (r == -EWOULDBLOCK)
				continue;
			EXPECT_EQ(0, r) TH_LOG("rmmod %s: %s", kvm_vendor_module(),
					       strerror(-r));
			EXPECT_EQ(0, modprobe(kvm_vendor_module()));
		}
	}
	vmm_stop(&self->b);
	EXPECT_VMM_CLEAN(&self->b);
	vmm_free(&self->b);
	self->b_made = false;
	EXPECT_EQ(0, vhm_unload());
}

TEST_HARNESS_MAIN
