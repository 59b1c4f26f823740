// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

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

/* The irqchip as asked; 0, or -1 with a message. */
static int vmm_irqchip(struct vmm *vmm, enum vmm_irqchip irqchip)
{
	struct accel *a = &vmm->accel;

	if (irqchip == VMM_IRQCHIP_OFF)
		return 0;
	if (!a->ops->has_irqchip(a)) {
		if (irqchip == VMM_IRQCHIP_AUTO)
			return 0;
		fprintf(stderr, "vhmctl: --cpus %u needs %s (in-kernel local APICs and IOAPIC); this %s lacks it\n",
			vmm->nr_cpus, a->ops == &accel_vhm_ops ?
			"VHM_CAP_LAPIC and VHM_CAP_IOAPIC" : "KVM_CAP_IRQCHIP",
			a->ops == &accel_vhm_ops ? "vhm module" : "KVM");
		return -1;
	}
	return a->ops->create_irqchip(a);
}

int vmm_create(struct vmm *vmm, uint64_t ram_size, unsigned int nr_cpus,
	       enum vmm_irqchip irqchip, const struct accel_ops *ops)
{
	struct accel *a = &vmm->accel;
	struct vmm_device *d;
	unsigned int i;

	if (accel_init(a, ops))
		return -1;
	vmm->ram_size = ram_size;
	vmm->nr_cpus = nr_cpus;
	vmm->stop = -1;
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_mutex_init(&vmm->run_lock, NULL);
	pthread_cond_init(&vmm->run_cond, NULL);
	vmm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vmm->ram == MAP_FAILED)
		return vmm_fail("mmap guest RAM");
	if (ops->set_memory(a, 0, 0, ram_size, vmm->ram) ||
	    vmm_irqchip(vmm, irqchip))
		return -1;
	for (i = 0; i < nr_cpus; i++)
		if (ops->create_vcpu(a))
			return -1;
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
	struct accel_vcpu *v = accel_bsp(&vmm->accel);

	return v->accel->ops->set_sregs(v, s) ||
	       v->accel->ops->set_regs(v, &r) ? -1 : 0;
}

/* Real mode at CS:IP = 0:entry. */
int vmm_setup_real(struct vmm *vmm, uint64_t entry)
{
	struct vhm_sregs s;

	if (entry > 0xffff) {
		fprintf(stderr, "vhmctl: a real-mode entry must be below 64 KiB\n");
		return -1;
	}
	if (vmm->accel.ops->get_sregs(accel_bsp(&vmm->accel), &s))
		return -1;
	s.cs.base = 0;
	s.cs.selector = 0;
	return vmm_set_entry(vmm, &s, entry, 0xfffe);
}

/* Guest-physical layout of the long-mode boot structures (--load). */
#define LM_GDT		0x500
#define LM_PML4		0x1000		/* then the PDPT, then 4 PDs */
#define LM_STACK	0x80000

/*
 * Identity-map the first gib GiB in 2 MiB pages: the PML4 at pml4, the
 * PDPT in the next page, then one page directory per GiB (at most 512).
 */
static void vmm_build_page_tables(struct vmm *vmm, uint64_t pml4_gpa,
				  unsigned int gib)
{
	uint64_t *pml4 = (uint64_t *)(vmm->ram + pml4_gpa);
	uint64_t pdpt_gpa = pml4_gpa + 0x1000, pd_gpa = pdpt_gpa + 0x1000;
	uint64_t *pdpt = (uint64_t *)(vmm->ram + pdpt_gpa);
	uint64_t *pd = (uint64_t *)(vmm->ram + pd_gpa);
	unsigned int i;

	memset(pml4, 0, 2 * 0x1000);
	pml4[0] = pdpt_gpa | 3;
	for (i = 0; i < gib; i++)
		pdpt[i] = (pd_gpa + i * 0x1000) | 3;
	for (i = 0; i < gib * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* P, RW, PS */
}

static void vmm_segment(struct vhm_segment *seg, uint16_t sel, uint16_t attrib)
{
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = sel;
	seg->attrib = attrib;
}

/*
 * 64-bit mode: a GDT at gdt_gpa with 64-bit code at selector cs and flat
 * data at cs + 8 (all data segment registers), the page tables at
 * pml4_gpa, SSE on, EFLAGS.IF clear, no IDT.
 */
static int vmm_enter_long(struct vmm *vmm, uint64_t gdt_gpa, uint16_t cs,
			  uint64_t pml4_gpa, struct vhm_regs *r)
{
	uint64_t *gdt = (uint64_t *)(vmm->ram + gdt_gpa);
	struct accel_vcpu *v = accel_bsp(&vmm->accel);
	const struct accel_ops *ops = vmm->accel.ops;
	struct vhm_sregs s;

	memset(gdt, 0, cs);
	gdt[cs / 8] = 0x00af9b000000ffffULL;		/* 64-bit code */
	gdt[cs / 8 + 1] = 0x00cf93000000ffffULL;	/* data */
	if (ops->get_sregs(v, &s))
		return -1;
	vmm_segment(&s.cs, cs, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) |
		    VHM_SEG_L | VHM_SEG_G);
	vmm_segment(&s.ds, cs + 8, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3) |
		    VHM_SEG_DB | VHM_SEG_G);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.gdt.base = gdt_gpa;
	s.gdt.limit = cs + 2 * 8 - 1;
	s.cr0 = 0x80050033;	/* PG, AM, WP, NE, ET, MP, PE */
	s.cr3 = pml4_gpa;
	s.cr4 = 0x620;		/* OSXMMEXCPT, OSFXSR, PAE */
	s.efer = 0x500;		/* LMA, LME */
	r->rflags = 2;
	return ops->set_sregs(v, &s) || ops->set_regs(v, r) ? -1 : 0;
}

int vmm_setup_long(struct vmm *vmm, uint64_t entry)
{
	struct vhm_regs r = { .rip = entry, .rsp = LM_STACK };

	if (vmm->ram_size < LM_STACK || entry >= vmm->ram_size) {
		fprintf(stderr, "vhmctl: long mode needs at least 512 KiB of RAM and the entry inside it\n");
		return -1;
	}
	vmm_build_page_tables(vmm, LM_PML4, 4);
	return vmm_enter_long(vmm, LM_GDT, 8, LM_PML4, &r);
}

int vmm_setup_linux64(struct vmm *vmm, uint64_t entry, uint64_t boot_params)
{
	struct vhm_regs r = { .rip = entry, .rsi = boot_params,
			      .rsp = VMM_LINUX_STACK };
	uint64_t gib = (vmm->ram_size + (1ull << 30) - 1) >> 30;

	if (vmm->ram_size < VMM_LINUX_LOW_END + 0x1000) {
		fprintf(stderr, "vhmctl: the Linux entry needs more than %#x bytes of RAM\n",
			VMM_LINUX_LOW_END);
		return -1;
	}
	if (gib < 4)
		gib = 4;
	if (gib > VMM_LINUX_PT_GIB)
		gib = VMM_LINUX_PT_GIB;
	vmm_build_page_tables(vmm, VMM_LINUX_PT, gib);
	return vmm_enter_long(vmm, VMM_LINUX_GDT, 0x10, VMM_LINUX_PT, &r);
}

/* Flat 4 GiB, paging off: what multiboot promises (EFLAGS.IF clear). */
int vmm_setup_protected(struct vmm *vmm, uint32_t entry, uint32_t eax,
			uint32_t ebx)
{
	struct vhm_regs r = { .rip = entry, .rflags = 2, .rax = eax, .rbx = ebx };
	struct accel_vcpu *v = accel_bsp(&vmm->accel);
	const struct accel_ops *ops = vmm->accel.ops;
	struct vhm_sregs s;

	if (ops->get_sregs(v, &s))
		return -1;
	vmm_segment(&s.cs, 8, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb) |
		    VHM_SEG_DB | VHM_SEG_G);
	vmm_segment(&s.ds, 16, VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3) |
		    VHM_SEG_DB | VHM_SEG_G);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.cr0 = 0x11;		/* ET, PE: caches on, no paging */
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	return ops->set_sregs(v, &s) || ops->set_regs(v, &r) ? -1 : 0;
}

void vmm_stop(struct vmm *vmm, int status)
{
	int none = -1;

	__atomic_compare_exchange_n(&vmm->stop, &none, status, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vmm->run_lock);
	pthread_cond_broadcast(&vmm->run_cond);
	pthread_mutex_unlock(&vmm->run_lock);
}

static bool vmm_stopped(struct vmm *vmm)
{
	return __atomic_load_n(&vmm->stop, __ATOMIC_SEQ_CST) >= 0;
}

void vmm_lock(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->lock);
}

void vmm_unlock(struct vmm *vmm)
{
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_irq_line(struct vmm *vmm, uint32_t gsi, int level)
{
	struct accel *a = &vmm->accel;

	if (a->irqchip && a->ops->irq_line(a, gsi, level))
		fprintf(stderr, "vhmctl: irq line %u: %s\n", gsi, strerror(errno));
}

static enum vmm_end vmm_report(const struct accel_exit *e)
{
	switch (e->kind) {
	case ACCEL_EXIT_HLT:
		return VMM_END_HALT;
	case ACCEL_EXIT_SHUTDOWN:
		fprintf(stderr, "vhmctl: the guest shut down (triple fault)\n");
		return VMM_END_SHUTDOWN;
	case ACCEL_EXIT_FAIL_ENTRY:
		fprintf(stderr, "vhmctl: the CPU refused the guest state (hardware reason %#llx)\n",
			(unsigned long long)e->info[0]);
		return VMM_END_ENTRY_FAILED;
	case ACCEL_EXIT_INTERNAL:
		fprintf(stderr, "vhmctl: internal error %llu of the accelerator (data %#llx)\n",
			(unsigned long long)e->info[0],
			(unsigned long long)e->info[1]);
		return VMM_END_INTERNAL;
	default:
		fprintf(stderr, "vhmctl: unexpected exit %u\n", e->reason);
		return VMM_END_ERROR;
	}
}

/* A port I/O or MMIO exit, handled with the devices locked. */
static void vmm_exit(struct vmm *vmm, const struct accel_exit *e)
{
	uint32_t i;

	vmm_lock(vmm);
	if (e->kind == ACCEL_EXIT_IO) {
		for (i = 0; i < e->io.count && !vmm_stopped(vmm); i++)
			vmm_dispatch(vmm, VMM_PIO, e->io.port,
				     e->io.data + i * e->io.size,
				     e->io.size, e->io.is_write);
	} else {
		vmm_dispatch(vmm, VMM_MMIO, e->mmio.addr, e->mmio.data,
			     e->mmio.len, e->mmio.is_write);
	}
	vmm_unlock(vmm);
}

/* Run v until the VM stops (its status) or v halts (-1). */
static int vmm_vcpu_loop(struct vmm *vmm, struct accel_vcpu *v)
{
	struct accel_exit e;

	while (!vmm_stopped(vmm)) {
		if (vmm->accel.ops->run(v, &e)) {
			vmm_fail("run");
			return VMM_END_ERROR;
		}
		switch (e.kind) {
		case ACCEL_EXIT_INTR:
			break;
		case ACCEL_EXIT_IO:
		case ACCEL_EXIT_MMIO:
			vmm_exit(vmm, &e);
			break;
		case ACCEL_EXIT_HYPERCALL:
			*e.hypercall.ret = -38;	/* -ENOSYS: none defined */
			break;
		case ACCEL_EXIT_HLT:
			return -1;
		default:
			return vmm_report(&e);
		}
	}
	return vmm->stop;
}

static void *vmm_vcpu_thread(void *arg)
{
	struct accel_vcpu *v = arg;
	/* struct vmm begins with its struct accel */
	struct vmm *vmm = (struct vmm *)v->accel;
	int end = vmm_vcpu_loop(vmm, v);

	if (end >= 0)
		vmm_stop(vmm, end);
	pthread_mutex_lock(&vmm->run_lock);
	vmm->done[v->id] = true;
	vmm->running--;
	pthread_cond_broadcast(&vmm->run_cond);
	pthread_mutex_unlock(&vmm->run_lock);
	return NULL;
}

/* Interrupts VHM_RUN/KVM_RUN (EINTR); SA_RESTART must not be set. */
static void vmm_kick_signal(int sig)
{
	(void)sig;
}

/* SIGTERM (e.g. timeout(1)): end the run, then say where each vCPU was. */
static volatile sig_atomic_t vmm_term_sig;

static void vmm_term_signal(int sig)
{
	vmm_term_sig = sig;
}

/*
 * A guest-virtual address through the guest's 4-level page tables (CR3)
 * to vhmctl's view of guest RAM; NULL if unmapped or outside RAM. Large
 * pages (1 GiB, 2 MiB) end the walk early.
 */
static uint64_t *vmm_gva_to_ram(struct vmm *vmm, uint64_t cr3, uint64_t gva)
{
	uint64_t table = cr3 & 0x000ffffffffff000ull, e = 0;
	int level, shift;

	for (level = 4; level >= 1; level--) {
		shift = 12 + 9 * (level - 1);
		if (table + 0x1000 > vmm->ram_size)
			return NULL;
		memcpy(&e, vmm->ram + table + ((gva >> shift) & 511) * 8, 8);
		if (!(e & 1))
			return NULL;
		table = e & 0x000ffffffffff000ull;
		if ((level == 3 || level == 2) && (e & 0x80)) {
			table &= ~((1ull << shift) - 1);
			break;
		}
	}
	table += gva & ((1ull << shift) - 1) & ~7ull;
	return table + 8 <= vmm->ram_size ? (uint64_t *)(vmm->ram + table) : NULL;
}

/* Linux x86-64's kernel text: worth naming (tests map it to symbols). */
static bool vmm_is_text(uint64_t v)
{
	return v >= 0xffffffff80000000ull && v < 0xffffffffc0000000ull;
}

/*
 * The kernel-text words on a hung vCPU's stack, from RSP to the end of
 * its 16 KiB stack, and the interrupt frame (RIP, CS 0x10, RFLAGS) found
 * there or on the stack an x86-64 Linux IRQ stack's top word points to:
 * what the interrupt on the stack interrupted, and with which RFLAGS.
 */
static void vmm_report_stack(struct vmm *vmm, unsigned int id, uint64_t cr3,
			     uint64_t rsp)
{
	uint64_t w[64], *p, at = rsp, end = (rsp | 0x3fff) + 1;
	unsigned int i, n, hop;

	for (hop = 0; hop < 2; hop++) {
		for (n = 0; n < 64 && at + n * 8 < end; n++) {
			p = vmm_gva_to_ram(vmm, cr3, at + n * 8);
			if (!p)
				break;
			w[n] = *p;
		}
		fprintf(stderr, "vhmctl: terminated: vCPU %u stack %#llx:", id,
			(unsigned long long)at);
		for (i = 0; i < n; i++)
			if (vmm_is_text(w[i]))
				fprintf(stderr, " +%#x 0x%016llx", i * 8,
					(unsigned long long)w[i]);
		fprintf(stderr, "\n");
		for (i = 0; i + 2 < n; i++)
			if (vmm_is_text(w[i]) && w[i + 1] == 0x10)
				fprintf(stderr, "vhmctl: terminated: vCPU %u interrupted at RIP 0x%016llx RFLAGS %#llx\n",
					id, (unsigned long long)w[i],
					(unsigned long long)w[i + 2]);
		/* the IRQ stack's top word: the interrupted stack */
		p = vmm_gva_to_ram(vmm, cr3, end - 8);
		if (!p || (*p >> 47) != 0x1ffff || (*p | 0x3fff) + 1 == end)
			return;
		at = *p;
		end = (at | 0x3fff) + 1;
	}
}

/* Where a terminated guest's vCPUs stood: for a guest that hung. */
static void vmm_report_term(struct vmm *vmm)
{
	struct vhm_sregs s;
	struct vhm_regs r;
	unsigned int i;

	for (i = 0; i < vmm->nr_cpus; i++) {
		struct accel_vcpu *v = &vmm->accel.vcpus[i];

		if (vmm->accel.ops->get_regs(v, &r) ||
		    vmm->accel.ops->get_sregs(v, &s))
			continue;
		fprintf(stderr, "vhmctl: terminated: vCPU %u at RIP %#llx RSP %#llx RFLAGS %#llx CR0 %#llx CS %#x\n",
			i, (unsigned long long)r.rip, (unsigned long long)r.rsp,
			(unsigned long long)r.rflags, (unsigned long long)s.cr0,
			s.cs.selector);
		if ((s.cr0 & 0x80000000) && (r.rsp >> 47) == 0x1ffff)
			vmm_report_stack(vmm, i, s.cr3, r.rsp);
	}
}

/* With run_lock held: wait for run_cond, at most 100 ms. */
static void vmm_wait_100ms(struct vmm *vmm)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += 100000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&vmm->run_cond, &vmm->run_lock, &t);
}

/* With run_lock held: kick the running vCPUs until every one is done. */
static void vmm_end_all(struct vmm *vmm)
{
	struct timespec t;
	unsigned int i;

	while (vmm->running) {
		for (i = 0; i < vmm->nr_cpus; i++) {
			if (vmm->done[i])
				continue;
			vmm->accel.ops->kick(&vmm->accel.vcpus[i]);
			pthread_kill(vmm->threads[i], SIGUSR1);
		}
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 10000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&vmm->run_cond, &vmm->run_lock, &t);
	}
}

int vmm_run(struct vmm *vmm)
{
	struct sigaction sa = { .sa_handler = vmm_kick_signal };
	struct sigaction term = { .sa_handler = vmm_term_signal,
				  .sa_flags = SA_RESTART };
	unsigned int i, started;

	sigaction(SIGUSR1, &sa, NULL);
	/* Device threads' reads restart; a vCPU's run ioctl still ends. */
	sigaction(SIGTERM, &term, NULL);
	pthread_mutex_lock(&vmm->run_lock);
	for (started = 0; started < vmm->nr_cpus; started++) {
		if (pthread_create(&vmm->threads[started], NULL,
				   vmm_vcpu_thread,
				   &vmm->accel.vcpus[started]))
			break;
		vmm->running++;
	}
	if (started < vmm->nr_cpus) {
		fprintf(stderr, "vhmctl: cannot start the thread of vCPU %u\n",
			started);
		vmm->stop = VMM_END_ERROR;
	}
	while (vmm->running && !vmm_stopped(vmm)) {
		vmm_wait_100ms(vmm);
		if (vmm_term_sig)
			__atomic_store_n(&vmm->stop, 128 + vmm_term_sig,
					 __ATOMIC_SEQ_CST);
	}
	vmm_end_all(vmm);
	pthread_mutex_unlock(&vmm->run_lock);
	for (i = 0; i < started; i++)
		pthread_join(vmm->threads[i], NULL);
	if (vmm_term_sig)
		vmm_report_term(vmm);
	return vmm_stopped(vmm) ? vmm->stop : VMM_END_HALT;
}
