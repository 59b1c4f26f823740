// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts between vCPUs through the in-kernel local APICs
 * (VHM_CREATE_LAPIC): an application processor waits for INIT/SIPI in
 * VHM_RUN, starts in real mode at the SIPI's vector, switches its APIC to
 * x2APIC mode and sends the bootstrap processor a fixed IPI through the
 * ICR MSR; NMIs by IPI, and the one the CPU latches while it handles
 * another; a signal ends the wait for SIPI.
 *
 * Built with the guest code flags (Makefile: GUEST_CFLAGS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "vhm_util.h"
#include "vhm_vm.h"
#include "guest.h"
#include "vhm_assert.h"

#define APIC_BASE	0xfee00000ull
#define APIC_EOI	0xb0
#define APIC_SVR	0xf0
#define APIC_ICR	0x300
#define APIC_ICR2	0x310
#define SVR_ENABLE	0x100
#define ICR_NMI		0x400
#define ICR_INIT	0x500
#define ICR_SIPI	0x600
#define ICR_ASSERT	0x4000

#define AP_ID		1
#define AP_VECTOR	0x45	/* the AP's IPI to the BSP */
#define AP_MARK		0x7000	/* the AP stores its x2APIC ID here */
#define SIPI_VECTOR	(GUEST_LOW_CODE >> 12)

/*
 * The AP's real-mode code: IA32_APIC_BASE |= EN | EXTD (x2APIC), ICR MSR
 * = fixed AP_VECTOR to APIC ID 0, store the x2APIC ID MSR at AP_MARK, HLT
 * with IF=0 (an exit to userspace).
 */
/* Real mode: x2APIC on, ECX the ICR MSR, EDX 0 (destination APIC ID 0). */
#define AP_CODE_X2APIC_ICR_TO_0						\
	0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,	/* mov ecx, 0x1b */	\
	0x0f, 0x32,				/* rdmsr */		\
	0x66, 0x0d, 0x00, 0x0c, 0x00, 0x00,	/* or eax, 0xc00 */	\
	0x0f, 0x30,				/* wrmsr */		\
	0x66, 0xb9, 0x30, 0x08, 0x00, 0x00,	/* mov ecx, 0x830 */	\
	0x66, 0x31, 0xd2			/* xor edx, edx */

static const uint8_t ap_code[] = {
	AP_CODE_X2APIC_ICR_TO_0,
	0x66, 0xb8, AP_VECTOR, 0x40, 0x00, 0x00, /* mov eax, 0x4000 | vec */
	0x0f, 0x30,				/* wrmsr */
	0x66, 0xb9, 0x02, 0x08, 0x00, 0x00,	/* mov ecx, 0x802 (ID) */
	0x0f, 0x32,				/* rdmsr */
	0x66, 0xa3, AP_MARK & 0xff, AP_MARK >> 8, /* mov [AP_MARK], eax */
	0xf4,					/* hlt */
};

FIXTURE(ipi_test) {
	int sys;
	struct guest_vm vm;
	struct guest_vcpu bsp, ap;
};

FIXTURE_SETUP(ipi_test)
{
	struct vhm_create_lapic c;

	self->sys = -1;
	self->vm.fd = -1;
	self->vm.ram = NULL;
	self->bsp.raw.fd = -1;
	self->ap.raw.fd = -1;
	REQUIRE_VHM_GUESTS(self->sys);
	ASSERT_EQ(1, ioctl(self->sys, VHM_CHECK_EXTENSION, VHM_CAP_LAPIC));
	ASSERT_VHM(guest_vm_create(&self->vm, self->sys));
	memset(&c, 0, sizeof(c));
	ASSERT_VHM_IOCTL(self->vm.fd, VHM_CREATE_LAPIC, &c);
	ASSERT_VHM(guest_vcpu_create(&self->vm, 0, &self->bsp));
	ASSERT_VHM(guest_vcpu_create(&self->vm, AP_ID, &self->ap));
}

FIXTURE_TEARDOWN(ipi_test)
{
	guest_vcpu_free(&self->ap);
	guest_vcpu_free(&self->bsp);
	guest_vm_free(&self->vm);
	if (self->sys >= 0)
		close(self->sys);
}

/*
 * The AP's real-mode code for nmi_ipis_latched: x2APIC on, then three
 * NMI IPIs to APIC ID 0 through the ICR MSR, HLT with IF=0.
 */
static const uint8_t ap_nmi_code[] = {
	AP_CODE_X2APIC_ICR_TO_0,
	0x66, 0xb8, 0x00, 0x44, 0x00, 0x00,	/* mov eax, 0x4400: NMI */
	0x0f, 0x30,				/* wrmsr */
	0x0f, 0x30,				/* wrmsr */
	0x0f, 0x30,				/* wrmsr */
	0xf4,					/* hlt */
};

/* ---------------------------------------------------------------------
 * Guest side (the BSP).
 */

static volatile uint64_t irq_count, irq_vector, nmi_count;

static void apic_write(uint32_t reg, uint32_t v)
{
	guest_writel(APIC_BASE + reg, v);
}

static void irq_handler(struct ex_regs *regs)
{
	irq_count++;
	irq_vector = regs->vector;
	apic_write(APIC_EOI, 0);
}

static void nmi_handler(struct ex_regs *regs)
{
	nmi_count++;
}

static void send_ipi(uint32_t dest, uint32_t icr)
{
	apic_write(APIC_ICR2, dest << 24);
	apic_write(APIC_ICR, icr);
}

/* INIT, SIPI: the AP runs ap_code and sends AP_VECTOR back. */
static void guest_start_ap(void)
{
	int i;

	guest_set_handler(AP_VECTOR, irq_handler);
	apic_write(APIC_SVR, SVR_ENABLE | 0xff);
	send_ipi(AP_ID, ICR_INIT | ICR_ASSERT);
	send_ipi(AP_ID, ICR_SIPI | ICR_ASSERT | SIPI_VECTOR);
	for (i = 0; i < 100000 && !irq_count; i++)
		asm volatile("sti; hlt; cli" : : : "memory");
	GUEST_ASSERT_EQ(1, irq_count);
	GUEST_ASSERT_EQ(AP_VECTOR, irq_vector);
	GUEST_DONE();
}

/* An NMI to our own APIC ID (physical destination 0). */
static void guest_nmi_ipi(void)
{
	guest_set_handler(2, nmi_handler);
	apic_write(APIC_SVR, SVR_ENABLE | 0xff);
	send_ipi(0, ICR_NMI | ICR_ASSERT);
	asm volatile("nop" : : : "memory");
	GUEST_ASSERT_EQ(1, nmi_count);
	/* An NMI to the AP (waiting for SIPI) does not reach us. */
	send_ipi(AP_ID, ICR_NMI | ICR_ASSERT);
	asm volatile("nop" : : : "memory");
	GUEST_ASSERT_EQ(1, nmi_count);
	GUEST_DONE();
}

/*
 * INIT and SIPI to the AP, then an exit: the VMM runs the AP, whose three
 * NMIs reach this vCPU while it is out of the guest; then count them.
 */
static void guest_nmis_latched(void)
{
	int i;

	guest_set_handler(2, nmi_handler);
	apic_write(APIC_SVR, SVR_ENABLE | 0xff);
	send_ipi(AP_ID, ICR_INIT | ICR_ASSERT);
	send_ipi(AP_ID, ICR_SIPI | ICR_ASSERT | SIPI_VECTOR);
	GUEST_SYNC_ARGS(0, 0, 0, 0);
	for (i = 0; i < 100; i++)
		asm volatile("nop" : : : "memory");
	GUEST_SYNC_ARGS(1, nmi_count, 0, 0);
	GUEST_DONE();
}

/* ---------------------------------------------------------------------
 * Host side.
 */

static void *ap_thread(void *arg)
{
	struct guest_vcpu *ap = arg;

	guest_run(ap);
	return NULL;
}

/*
 * The AP's VHM_RUN sleeps until the SIPI, runs ap_code in real mode at
 * CS = SIPI_VECTOR << 8 and exits at its HLT; the BSP got AP_VECTOR.
 */
TEST_F(ipi_test, init_sipi_starts_ap_which_sends_ipi)
{
	struct vhm_sregs s;
	struct vhm_regs r;
	pthread_t t;
	uint32_t *mark;

	RETURN_IF_SKIPPED();
	memcpy(guest_gpa_to_hva(&self->vm, GUEST_LOW_CODE, sizeof(ap_code)),
	       ap_code, sizeof(ap_code));
	mark = guest_gpa_to_hva(&self->vm, AP_MARK, 4);
	*mark = 0xdead;
	ASSERT_EQ(0, pthread_create(&t, NULL, ap_thread, &self->ap));
	ASSERT_VHM(guest_vcpu_start_long(&self->bsp, guest_start_ap, 0));
	ASSERT_GUEST_DONE(&self->bsp);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, self->ap.run_ret);
	EXPECT_EQ(VHM_EXIT_HLT, self->ap.run->exit_reason);
	EXPECT_EQ(AP_ID, *mark);
	ASSERT_VHM(vhm_get_sregs(&self->ap.raw, &s));
	EXPECT_EQ(SIPI_VECTOR << 8, s.cs.selector);
	EXPECT_EQ(GUEST_LOW_CODE, s.cs.base);
	EXPECT_EQ(0, s.cr0 & 1);
	EXPECT_EQ(0xc00, s.apic_base & 0xc00);
	ASSERT_VHM(vhm_get_regs(&self->ap.raw, &r));
	EXPECT_EQ(sizeof(ap_code), r.rip);
}

TEST_F(ipi_test, nmi_ipi)
{
	RETURN_IF_SKIPPED();
	ASSERT_VHM(guest_vcpu_start_long(&self->bsp, guest_nmi_ipi, 0));
	ASSERT_GUEST_DONE(&self->bsp);
}

/*
 * NMIs are edge-triggered and the CPU latches one while it handles
 * another (SDM vol. 3A, "NMI Handling"): three NMIs that arrive while the
 * BSP is out of the guest, none in service, give it exactly two, the
 * second after the first handler's IRET (KVM's rule as well). Without the
 * latch they merged into one.
 */
TEST_F(ipi_test, nmi_ipis_latched)
{
	struct ucall uc;
	pthread_t t;

	RETURN_IF_SKIPPED();
	memcpy(guest_gpa_to_hva(&self->vm, GUEST_LOW_CODE,
				sizeof(ap_nmi_code)),
	       ap_nmi_code, sizeof(ap_nmi_code));
	ASSERT_VHM(guest_vcpu_start_long(&self->bsp, guest_nmis_latched, 0));
	ASSERT_GUEST_UCALL(&self->bsp, UCALL_SYNC, &uc);
	ASSERT_EQ(0, uc.args[0]);
	ASSERT_EQ(0, pthread_create(&t, NULL, ap_thread, &self->ap));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, self->ap.run_ret);
	ASSERT_EQ(VHM_EXIT_HLT, self->ap.run->exit_reason);
	ASSERT_GUEST_UCALL(&self->bsp, UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	EXPECT_EQ(2, uc.args[1]) TH_LOG("NMIs delivered");
	ASSERT_GUEST_DONE(&self->bsp);
}

static void on_alarm(int sig)
{
}

/* Without a SIPI, only a signal ends the AP's VHM_RUN; RIP is untouched. */
TEST_F(ipi_test, ap_waits_for_sipi)
{
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct vhm_regs before, after;

	RETURN_IF_SKIPPED();
	ASSERT_VHM(vhm_get_regs(&self->ap.raw, &before));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, guest_run(&self->ap));
	EXPECT_EQ(VHM_EXIT_INTR, self->ap.run->exit_reason);
	ASSERT_VHM(vhm_get_regs(&self->ap.raw, &after));
	EXPECT_EQ(before.rip, after.rip);
}

TEST_HARNESS_MAIN
