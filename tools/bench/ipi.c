// SPDX-License-Identifier: GPL-2.0
/*
 * vhm-bench's ipi row: the round trip of a fixed IPI between two vCPUs,
 * as the external suite of issue 15 measures it. The bootstrap processor
 * (long mode) starts the second vCPU with INIT and SIPI, then n times
 * sends it a fixed IPI through the x2APIC ICR and spins (PAUSE) until the
 * handler has counted it; the second vCPU (real mode) sleeps in HLT with
 * interrupts on between the IPIs, so each one wakes a halted vCPU. The
 * time runs from the OUT to START_PORT to the OUT to DONE_PORT, both
 * answered by the VMM on the sender's thread: ns per round trip.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"
#include "bench.h"

#define BSP_GPA		0x100000ull	/* long mode (vmm_setup_long) */
#define AP_GPA		0x9000u		/* real mode, CS 0x900 */
#define AP_HANDLER	0x100u		/* offset in CS 0x900 */
#define SIPI_VECTOR	(AP_GPA >> 12)
#define IPI_VECTOR	0x40
#define READY_GPA	0x7000u		/* the AP: APIC on, IF set */
#define ACKS_GPA	0x7004u		/* IPIs the AP has handled */
#define AP_STACK	0x8000u
#define START_PORT	0xf5

struct ipi_run {
	double start, done;
};

/* Guest, long mode: x2APIC on, INIT/SIPI to APIC 1, n round trips. */
static size_t ipi_bsp_code(uint8_t *c, uint32_t n)
{
	uint8_t *p = c, *wait, *loop, *ack;

	*p++ = 0xb9; put32(p, 0x1b); p += 4;	/* mov $APIC_BASE,%ecx */
	*p++ = 0x0f; *p++ = 0x32;		/* rdmsr */
	*p++ = 0x0d; put32(p, 0xc00); p += 4;	/* or $(EN|EXTD),%eax */
	*p++ = 0x0f; *p++ = 0x30;		/* wrmsr */
	*p++ = 0xb9; put32(p, 0x80f); p += 4;	/* SVR: APIC on */
	*p++ = 0xb8; put32(p, 0x1ff); p += 4;
	*p++ = 0x31; *p++ = 0xd2;		/* xor %edx,%edx */
	*p++ = 0x0f; *p++ = 0x30;
	*p++ = 0xb9; put32(p, 0x830); p += 4;	/* ICR, to APIC ID 1: */
	*p++ = 0xba; put32(p, 1); p += 4;
	*p++ = 0xb8; put32(p, 0x4500); p += 4;	/* INIT, assert */
	*p++ = 0x0f; *p++ = 0x30;
	*p++ = 0xb8; put32(p, 0x4600 | SIPI_VECTOR); p += 4;	/* SIPI */
	*p++ = 0x0f; *p++ = 0x30;
	wait = p;				/* 1: pause */
	*p++ = 0xf3; *p++ = 0x90;
	*p++ = 0x83; *p++ = 0x3c; *p++ = 0x25;	/* cmpl $1,READY_GPA */
	put32(p, READY_GPA); p += 4; *p++ = 1;
	*p++ = 0x75; *p = wait - (p + 1); p++;	/* jne 1b */
	*p++ = 0xe6; *p++ = START_PORT;		/* out %al,$START_PORT */
	*p++ = 0xbe; put32(p, n); p += 4;	/* mov $n,%esi */
	*p++ = 0x31; *p++ = 0xff;		/* xor %edi,%edi */
	loop = p;				/* 2: */
	*p++ = 0xff; *p++ = 0xc7;		/* inc %edi */
	*p++ = 0xb8; put32(p, IPI_VECTOR); p += 4;	/* fixed IPI */
	*p++ = 0x0f; *p++ = 0x30;		/* wrmsr (ECX, EDX kept) */
	ack = p;				/* 3: pause */
	*p++ = 0xf3; *p++ = 0x90;
	*p++ = 0x39; *p++ = 0x3c; *p++ = 0x25;	/* cmp %edi,ACKS_GPA */
	put32(p, ACKS_GPA); p += 4;
	*p++ = 0x75; *p = ack - (p + 1); p++;	/* jne 3b */
	*p++ = 0xff; *p++ = 0xce;		/* dec %esi */
	*p++ = 0x75; *p = loop - (p + 1); p++;	/* jnz 2b */
	*p++ = 0xe6; *p++ = DONE_PORT;		/* out %al,$DONE_PORT */
	*p++ = 0xf4;				/* hlt */
	return p - c;
}

/*
 * Guest, real mode at the SIPI's page: x2APIC on, say it is ready, then
 * HLT with interrupts on for good; the handler (at AP_HANDLER, the IVT's
 * IPI_VECTOR entry) sends the EOI and then counts the IPI.
 */
static const uint8_t ipi_ap_code[] = {
	0x31, 0xc0,				/* xor %ax,%ax */
	0x8e, 0xd8,				/* mov %ax,%ds */
	0x8e, 0xd0,				/* mov %ax,%ss */
	0xbc, AP_STACK & 0xff, AP_STACK >> 8,	/* mov $AP_STACK,%sp */
	0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,	/* mov $APIC_BASE,%ecx */
	0x0f, 0x32,				/* rdmsr */
	0x66, 0x0d, 0x00, 0x0c, 0x00, 0x00,	/* or $(EN|EXTD),%eax */
	0x0f, 0x30,				/* wrmsr */
	0x66, 0xb9, 0x0f, 0x08, 0x00, 0x00,	/* SVR: APIC on */
	0x66, 0xb8, 0xff, 0x01, 0x00, 0x00,
	0x66, 0x31, 0xd2,			/* xor %edx,%edx */
	0x0f, 0x30,				/* wrmsr */
	0xc6, 0x06, READY_GPA & 0xff, READY_GPA >> 8, 1,	/* movb $1 */
	0xfb,					/* sti */
	0xf4,					/* 1: hlt */
	0xeb, 0xfd,				/* jmp 1b */
};

static const uint8_t ipi_ap_handler[] = {
	0x66, 0x50, 0x66, 0x51, 0x66, 0x52,	/* push %eax, %ecx, %edx */
	0x66, 0xb9, 0x0b, 0x08, 0x00, 0x00,	/* mov $0x80b,%ecx (EOI) */
	0x66, 0x31, 0xc0,			/* xor %eax,%eax */
	0x66, 0x31, 0xd2,			/* xor %edx,%edx */
	0x0f, 0x30,				/* wrmsr */
	0x66, 0xff, 0x06, ACKS_GPA & 0xff, ACKS_GPA >> 8,	/* incl */
	0x66, 0x5a, 0x66, 0x59, 0x66, 0x58,	/* pop %edx, %ecx, %eax */
	0xcf,					/* iret */
};

/* The sender's OUTs: the clock's start and stop, and the end. */
static void ipi_port(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		     bool is_write, void *opaque)
{
	struct ipi_run *run = opaque;

	(void)data;
	(void)len;
	(void)is_write;
	if (port == START_PORT) {
		run->start = now();
	} else {
		run->done = now();
		vmm_stop(vmm, 0);
	}
}

static void ipi_load(struct vmm *vmm, uint32_t n)
{
	uint16_t ivt[2] = { AP_HANDLER, AP_GPA >> 4 };
	uint8_t code[256];
	size_t len = ipi_bsp_code(code, n);

	memcpy(vmm->ram + BSP_GPA, code, len);
	memcpy(vmm->ram + AP_GPA, ipi_ap_code, sizeof(ipi_ap_code));
	memcpy(vmm->ram + AP_GPA + AP_HANDLER, ipi_ap_handler,
	       sizeof(ipi_ap_handler));
	memcpy(vmm->ram + IPI_VECTOR * 4, ivt, sizeof(ivt));
}

/* One repetition in a fresh VM: ns per round trip, or -1 if it hung. */
static double ipi_rep(uint32_t n)
{
	struct ipi_run run = { 0, 0 };
	struct vmm vmm;
	uint32_t acks;
	int end;

	if (vmm_create(&vmm, 4 << 20, 2, VMM_IRQCHIP_ON, ops))
		die("creating the two-vCPU VM");
	ipi_load(&vmm, n);
	if (vmm_setup_long(&vmm, BSP_GPA) ||
	    vmm_register_io(VMM_PIO, DONE_PORT, 2, ipi_port, &run))
		die("the ipi guest's setup");
	bench_watch(NULL);
	end = vmm_run(&vmm);
	alarm(0);
	memcpy(&acks, vmm.ram + ACKS_GPA, 4);
	vmm_destroy(&vmm);
	if (bench_timed_out() || end || acks != n || !run.done) {
		fprintf(stderr, "vhm-bench: ipi on %s: %u of %u IPIs acknowledged, status %d\n",
			ops->name, acks, n, end);
		return -1;
	}
	return (run.done - run.start) * 1e9 / n;
}

void bench_ipi(uint32_t n)
{
	double ns;
	int r;

	for (r = 0; r < reps; r++) {
		ns = ipi_rep(n);
		if (ns < 0)
			return;	/* vmm_run() ended by SIGTERM stays ended */
		emit(label, "ipi", "ns/op", "lower", ns);
	}
}
