// SPDX-License-Identifier: GPL-2.0
/*
 * What vhmctl says when a guest ends other than by its own choice: the
 * exits that end the VM (triple fault, refused entry, internal error) and,
 * after SIGTERM, where each vCPU stood, with the kernel-text words and the
 * interrupt frame on a hung Linux guest's stack.
 */
#include <stdio.h>

#include "vmm-internal.h"

enum vmm_end vmm_report_exit(const struct accel_exit *e)
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
void vmm_report_term(struct vmm *vmm)
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
