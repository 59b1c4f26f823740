/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Nested page tables (AMD NPT, Intel EPT) filled lazily from the VMM's page
 * tables, and kept coherent with them through an MMU notifier.
 */
#ifndef VHM_MMU_H
#define VHM_MMU_H

#include <linux/mmu_notifier.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct vhm_vm;

/* What VHM_GET_VM_STATS reports; mmu->lock. */
struct vhm_mmu_stats {
	u64 faults;		/* nested page faults that mapped RAM */
	u64 mapped_4k;		/* leaves present now */
	u64 mapped_2m;
	u64 invalidations;	/* MMU-notifier ranges that hit guest RAM */
	u64 zapped_4k;		/* leaves removed, for any reason */
	u64 zapped_2m;
};

/* Table pages for the next fault, kept from fault to fault (mmu.c). */
#define VHM_NPT_CACHE	3		/* one per level above the leaves */
struct vhm_npt_cache {
	u64 *pages[VHM_NPT_CACHE];
	unsigned int nr;
};

struct vhm_mmu {
	spinlock_t lock;		/* the tables, seq, in_progress, cache */
	u64 *root;			/* 4-level table, 512 entries */
	unsigned long seq;		/* bumped by every invalidation */
	unsigned int in_progress;	/* invalidations between start and end */
	atomic64_t tlb_gen;		/* bumped when stale TLB entries may exist */
	struct mmu_notifier mn;
	bool mn_registered;
	struct vhm_mmu_stats stats;
	struct vhm_npt_cache cache;
};

/* vhm_mmu_fault() results besides 0 (mapped) and -errno. */
#define VHM_MMU_MMIO	1	/* no RAM there (or a write to read-only RAM) */

int vhm_mmu_init(struct vhm_vm *vm);
void vhm_mmu_destroy(struct vhm_vm *vm);
int vhm_mmu_fault(struct vhm_vm *vm, u64 gpa, bool write);
void vhm_mmu_zap_gpa(struct vhm_vm *vm, u64 gpa, u64 size);
/* The physical address of the root table, for the VMCB/VMCS. */
phys_addr_t vhm_mmu_root_pa(struct vhm_vm *vm);

#endif /* VHM_MMU_H */
