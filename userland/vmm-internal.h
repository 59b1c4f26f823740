/* SPDX-License-Identifier: GPL-2.0 */
/* What the VMM core's files (vmm.c, vmm-cpu.c, vmm-report.c) share. */
#ifndef VMM_INTERNAL_H
#define VMM_INTERNAL_H

#include "vmm.h"

/* vmm-cpu.c */
uint64_t *vmm_gva_to_ram(struct vmm *vmm, uint64_t cr3, uint64_t gva);

/* vmm-report.c */
/* An exit that ends the VM: its enum vmm_end, said on stderr. */
enum vmm_end vmm_report_exit(const struct accel_exit *e);
/* Where a terminated guest's vCPUs stood: for a guest that hung. */
void vmm_report_term(struct vmm *vmm);

#endif /* VMM_INTERNAL_H */
