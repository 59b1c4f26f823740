/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHM_MSR_TABLE_H
#define VHM_MSR_TABLE_H

#include <linux/types.h>

struct vhm_vcpu;

/*
 * msr_table.c: the MSRs a guest may touch without a CPUID check (legacy
 * performance counters, model-specific configuration), answered as KVM
 * without a virtual PMU does. -ENOENT: not in the table for this host's
 * vendor; -EINVAL: a value the MSR refuses (#GP for the guest).
 */
void vhm_msr_table_reset(struct vhm_vcpu *vcpu);
int vhm_msr_table_get(struct vhm_vcpu *vcpu, u32 index, u64 *data);
int vhm_msr_table_set(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host);

struct vhm_msr_info;
struct vhm_msr_list;
unsigned int vhm_msr_table_info(struct vhm_msr_info *out, unsigned int room);
long vhm_get_msr_list(struct vhm_msr_list __user *u);

#endif
