// SPDX-License-Identifier: GPL-2.0
/* Choosing and opening an accelerator, vCPU CPUID tables (accel.h). */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include <sys/mman.h>

#include "accel.h"

#define CPUID_1_ECX_X2APIC	(1u << 21)
#define CPUID_1_ECX_DEADLINE	(1u << 24)
#define CPUID_1_ECX_HYPERVISOR	(1u << 31)
#define CPUID_1_EDX_APIC	(1u << 9)
#define CPUID_HV_BASE		0x40000000
#define CPUID_HV_TIMING		0x40000010
#define APIC_BUS_KHZ		1000000	/* the LAPIC timer counts at 1 GHz */

const struct accel_ops *accel_by_name(const char *name)
{
	if (!strcmp(name, "vhm"))
		return &accel_vhm_ops;
	if (!strcmp(name, "kvm"))
		return &accel_kvm_ops;
	fprintf(stderr, "vhmctl: unknown accelerator '%s' (vhm or kvm)\n", name);
	return NULL;
}

int accel_init(struct accel *a, const struct accel_ops *ops)
{
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->sys = a->vm = -1;
	if (ops->open(a))
		return -1;
	return ops->create_vm(a);
}

void accel_close(struct accel *a)
{
	struct accel_vcpu *v;
	unsigned int i;

	for (i = 0; i < a->nr_vcpus; i++) {
		v = &a->vcpus[i];
		if (v->run)
			munmap(v->run, a->run_size);
		if (v->fd >= 0)
			close(v->fd);
		v->run = NULL;
		v->fd = -1;
	}
	a->nr_vcpus = 0;
	if (a->vm >= 0)
		close(a->vm);
	if (a->sys >= 0)
		close(a->sys);
	a->vm = a->sys = -1;
	a->irqchip = false;
}

static struct vhm_cpuid_entry *cpuid_find(struct vhm_cpuid_entry *e,
					  uint32_t nent, uint32_t fn,
					  uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < nent; i++)
		if (e[i].function == fn &&
		    (!(e[i].flags & VHM_CPUID_SIGNIFICANT_INDEX) ||
		     e[i].index == idx))
			return &e[i];
	return NULL;
}

/* Replace or add leaf fn (subleaf 0, index not significant). */
static void cpuid_set(struct vhm_cpuid_entry *e, uint32_t *nent, uint32_t max,
		      uint32_t fn, const uint32_t r[4])
{
	struct vhm_cpuid_entry *x = cpuid_find(e, *nent, fn, 0);

	if (!x) {
		if (*nent == max)
			return;
		x = &e[(*nent)++];
	}
	memset(x, 0, sizeof(*x));
	x->function = fn;
	x->eax = r[0];
	x->ebx = r[1];
	x->ecx = r[2];
	x->edx = r[3];
}

static bool host_is_intel(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid(0, eax, ebx, ecx, edx);
	return ebx == 0x756e6547 && edx == 0x49656e69 && ecx == 0x6c65746e;
}

/* Leaves 0x15 (TSC = 1 GHz crystal * tsc_khz / 10^6) and 0x16 (MHz). */
static void cpuid_intel_tsc(struct vhm_cpuid_entry *e, uint32_t *nent,
			    uint32_t max, uint32_t tsc_khz)
{
	const uint32_t l15[4] = { 1000000, tsc_khz, 1000000000, 0 };
	const uint32_t l16[4] = { tsc_khz / 1000, tsc_khz / 1000, 1000, 0 };
	struct vhm_cpuid_entry *l0 = cpuid_find(e, *nent, 0, 0);

	if (!tsc_khz || !l0)
		return;
	if (l0->eax < 0x16)
		l0->eax = 0x16;
	cpuid_set(e, nent, max, 0x15, l15);
	cpuid_set(e, nent, max, 0x16, l16);
}

/* The local APIC's bits and this vCPU's APIC IDs. */
static void cpuid_apic(struct vhm_cpuid_entry *e, uint32_t nent,
		       const struct accel *a, unsigned int id)
{
	uint32_t i;

	for (i = 0; i < nent; i++) {
		switch (e[i].function) {
		case 1:
			e[i].ecx |= CPUID_1_ECX_X2APIC | CPUID_1_ECX_HYPERVISOR;
			if (a->tsc_deadline)
				e[i].ecx |= CPUID_1_ECX_DEADLINE;
			e[i].edx |= CPUID_1_EDX_APIC;
			e[i].ebx = (e[i].ebx & 0x00ffffff) | id << 24;
			break;
		case 0xb:
		case 0x1f:
			e[i].edx = id;
			break;
		case 0x8000001e:
			e[i].eax = id;
			break;
		}
	}
}

/* Drop the paravirtual leaves, or (keep) only raise their maximum. */
static uint32_t cpuid_hv(struct vhm_cpuid_entry *e, uint32_t nent,
			 bool keep)
{
	uint32_t i, n = 0;

	for (i = 0; i < nent; i++) {
		if (e[i].function >> 28 == 4 && !keep)
			continue;
		if (e[i].function == CPUID_HV_BASE &&
		    e[i].eax < CPUID_HV_TIMING)
			e[i].eax = CPUID_HV_TIMING;
		e[n++] = e[i];
	}
	return n;
}

uint32_t accel_cpuid_edit(struct vhm_cpuid_entry *e, uint32_t nent,
			  uint32_t max, const struct accel *a, unsigned int id,
			  const char *sig)
{
	uint32_t base[4] = { CPUID_HV_TIMING };
	const uint32_t timing[4] = { a->tsc_khz, APIC_BUS_KHZ };
	uint32_t i;

	if (!a->irqchip) {
		for (i = 0; i < nent; i++) {
			if (e[i].function != 1)
				continue;
			e[i].ecx &= ~(CPUID_1_ECX_X2APIC | CPUID_1_ECX_DEADLINE);
			e[i].edx &= ~CPUID_1_EDX_APIC;
		}
		return cpuid_hv(e, nent, false);
	}
	nent = cpuid_hv(e, nent, !sig);
	cpuid_apic(e, nent, a, id);
	if (host_is_intel())
		cpuid_intel_tsc(e, &nent, max, a->tsc_khz);
	if (sig) {
		memcpy(&base[1], sig, 12);
		cpuid_set(e, &nent, max, CPUID_HV_BASE, base);
	}
	cpuid_set(e, &nent, max, CPUID_HV_TIMING, timing);
	return nent;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* TSC ticks over 50 ms of CLOCK_MONOTONIC_RAW. */
static uint32_t tsc_measure_khz(void)
{
	struct timespec d = { 0, 50000000 };
	double t0, t1;
	uint64_t c0, c1;

	t0 = now_ns();
	c0 = __rdtsc();
	nanosleep(&d, NULL);
	c1 = __rdtsc();
	t1 = now_ns();
	return (uint32_t)((c1 - c0) / (t1 - t0) * 1e6 + 0.5);
}

uint32_t accel_host_tsc_khz(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "r");
	unsigned int khz = 0;

	if (f) {
		if (fscanf(f, "%u", &khz) != 1)
			khz = 0;
		fclose(f);
	}
	return khz ? khz : tsc_measure_khz();
}
