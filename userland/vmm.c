// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM's lifecycle (vmm.h): the device and I/O registries, creating and
 * destroying a VM, and running it, a host thread per vCPU. The vCPU entry
 * states and guest page tables are in vmm-cpu.c, what a VM that ended
 * badly says in vmm-report.c.
 */
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

#include "vmm-internal.h"

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

/* Guest RAM: anonymous memory, the VM's one memory slot, at GPA 0. */
static int vmm_map_ram(struct vmm *vmm)
{
	struct accel *a = &vmm->accel;

	vmm->ram = mmap(NULL, vmm->ram_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vmm->ram == MAP_FAILED) {
		vmm->ram = NULL;
		return vmm_fail("mmap guest RAM");
	}
	return a->ops->set_memory(a, 0, 0, vmm->ram_size, vmm->ram);
}

static int vmm_init_devices(struct vmm *vmm)
{
	struct vmm_device *d;

	for (d = devices; d; d = d->next)
		if (d->init(vmm))
			return -1;
	return 0;
}

/* The VM, its RAM, irqchip and vCPUs, then the devices. */
static int vmm_build(struct vmm *vmm, enum vmm_irqchip irqchip,
		     const struct accel_ops *ops)
{
	unsigned int i;

	if (accel_init(&vmm->accel, ops) || vmm_map_ram(vmm) ||
	    vmm_irqchip(vmm, irqchip))
		return -1;
	for (i = 0; i < vmm->nr_cpus; i++)
		if (ops->create_vcpu(&vmm->accel))
			return -1;
	return vmm_init_devices(vmm);
}

int vmm_create(struct vmm *vmm, uint64_t ram_size, unsigned int nr_cpus,
	       enum vmm_irqchip irqchip, const struct accel_ops *ops)
{
	memset(vmm, 0, sizeof(*vmm));
	vmm->ram_size = ram_size;
	vmm->nr_cpus = nr_cpus;
	vmm->stop = -1;
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_mutex_init(&vmm->run_lock, NULL);
	pthread_cond_init(&vmm->run_cond, NULL);
	if (!vmm_build(vmm, irqchip, ops))
		return 0;
	vmm_destroy(vmm);
	return -1;
}

/*
 * Under the devices' lock: their threads raise IRQs with it held and then
 * find no irqchip (accel_close() clears it), so never a closed VM fd.
 */
void vmm_destroy(struct vmm *vmm)
{
	vmm_lock(vmm);
	accel_close(&vmm->accel);
	if (vmm->ram)
		munmap(vmm->ram, vmm->ram_size);
	vmm->ram = NULL;
	nr_ios = 0;
	vmm_unlock(vmm);
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
			return vmm_report_exit(&e);
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

/* With run_lock held: wait for run_cond, at most ns (< 1 s). */
static void vmm_wait(struct vmm *vmm, long ns)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ns;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&vmm->run_cond, &vmm->run_lock, &t);
}

/* With run_lock held: kick the running vCPUs until every one is done. */
static void vmm_end_all(struct vmm *vmm)
{
	unsigned int i;

	while (vmm->running) {
		for (i = 0; i < vmm->nr_cpus; i++) {
			if (vmm->done[i])
				continue;
			vmm->accel.ops->kick(&vmm->accel.vcpus[i]);
			pthread_kill(vmm->threads[i], SIGUSR1);
		}
		vmm_wait(vmm, 10000000);
	}
}

static void vmm_signals(void)
{
	struct sigaction sa = { .sa_handler = vmm_kick_signal };
	struct sigaction term = { .sa_handler = vmm_term_signal,
				  .sa_flags = SA_RESTART };

	sigaction(SIGUSR1, &sa, NULL);
	/* Device threads' reads restart; a vCPU's run ioctl still ends. */
	sigaction(SIGTERM, &term, NULL);
}

/* With run_lock held: a thread per vCPU; how many started. */
static unsigned int vmm_start_vcpus(struct vmm *vmm)
{
	unsigned int n;

	for (n = 0; n < vmm->nr_cpus; n++) {
		if (pthread_create(&vmm->threads[n], NULL, vmm_vcpu_thread,
				   &vmm->accel.vcpus[n]))
			break;
		vmm->running++;
	}
	if (n < vmm->nr_cpus) {
		fprintf(stderr, "vhmctl: cannot start the thread of vCPU %u\n",
			n);
		vmm->stop = VMM_END_ERROR;
	}
	return n;
}

/* With run_lock held: until the VM stops, no vCPU runs or SIGTERM. */
static void vmm_wait_end(struct vmm *vmm)
{
	while (vmm->running && !vmm_stopped(vmm)) {
		vmm_wait(vmm, 100000000);
		if (vmm_term_sig)
			__atomic_store_n(&vmm->stop, 128 + vmm_term_sig,
					 __ATOMIC_SEQ_CST);
	}
}

int vmm_run(struct vmm *vmm)
{
	unsigned int i, started;

	vmm_signals();
	pthread_mutex_lock(&vmm->run_lock);
	started = vmm_start_vcpus(vmm);
	vmm_wait_end(vmm);
	vmm_end_all(vmm);
	pthread_mutex_unlock(&vmm->run_lock);
	for (i = 0; i < started; i++)
		pthread_join(vmm->threads[i], NULL);
	if (vmm_term_sig)
		vmm_report_term(vmm);
	return vmm_stopped(vmm) ? vmm->stop : VMM_END_HALT;
}
