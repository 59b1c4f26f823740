/* SPDX-License-Identifier: GPL-2.0 */
/* Vendor-neutral declarations shared by the files of vhm.ko. */
#ifndef VHM_H
#define VHM_H

#include <linux/percpu.h>

#include "vendor.h"

struct page;

/* The vendor backend chosen at load time. */
extern const struct vhm_vendor_ops *vhm_ops;
/* Module parameter: log every per-CPU virtualization transition. */
extern bool vhm_verbose;

/* virt.c: hardware virtualization on every online CPU. */
int vhm_virt_init(void);
void vhm_virt_exit(void);
/*
 * The host is rebooting (or kexec'ing): virtualization is off, or about
 * to be, on every CPU. Checked with interrupts off before each entry.
 */
bool vhm_virt_rebooting(void);
/* The first online CPU with VMX/SVM on (in_use) or off; nr_cpu_ids: none. */
int vhm_first_cpu_virt(bool in_use);
/* The backends' per-CPU pages: zeroed, on each CPU's node. */
int vhm_alloc_percpu_pages(struct page *__percpu *pages);
void vhm_free_percpu_pages(struct page *__percpu *pages);

/* cpuid.c: the supported CPUID table, built at load. */
int vhm_cpuid_init(void);
void vhm_cpuid_exit(void);

/* xcr.c: the host's XCR0, read at load; false if it has no XSAVE. */
void vhm_xcr_init(void);
bool vhm_xcr_supported(void);
/* fpu.c: what the guests' XSAVE images hold, found at load after XCR0. */
void vhm_fpu_setup(void);
u64 vhm_fpu_features(void);

/* dev.c: the /dev/vhm misc device. */
int vhm_dev_init(void);
void vhm_dev_exit(void);
int vhm_vcpu_free_init(void);
void vhm_vcpu_free_exit(void);

#endif /* VHM_H */
