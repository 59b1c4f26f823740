/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The MSRs the host uses only in user mode, switched lazily for both
 * backends (user_msrs.c): SYSCALL/SYSRET's STAR, LSTAR, CSTAR and SFMASK,
 * RDTSCP/RDPID's TSC_AUX. A guest's value written before an entry stays
 * in the CPU while the vCPU thread loops in VHM_RUN; the host's is put
 * back before any task runs in user mode on that CPU, and whenever the
 * thread gives the CPU up on top of KVM.
 */
#ifndef VHM_USER_MSRS_H
#define VHM_USER_MSRS_H

#include <linux/types.h>

enum vhm_umsr {
	VHM_UMSR_TSC_AUX, VHM_UMSR_STAR, VHM_UMSR_LSTAR, VHM_UMSR_CSTAR,
	VHM_UMSR_SFMASK, VHM_NR_UMSRS,
};

/* At the backend's probe (cpuid.c reads them): the slots it switches. */
void vhm_umsrs_use(enum vhm_umsr slot);
bool vhm_umsr_used(enum vhm_umsr slot);

/* Interrupts off, before an entry: the guest's value in the CPU. */
void vhm_umsr_load(enum vhm_umsr slot, u64 v);

/*
 * Interrupts off: the values found put back (the vCPU thread gives the
 * CPU up on top of KVM, or virtualization goes off on this CPU: then
 * forget, so that the host's values are read again at the next start).
 */
void vhm_umsrs_put_back(bool forget);

#endif /* VHM_USER_MSRS_H */
