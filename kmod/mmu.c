// SPDX-License-Identifier: GPL-2.0
/*
 * Nested page tables: a 4-level table per VM translating guest-physical to
 * host-physical addresses. Entries are created on nested page faults from
 * the VMM's own page tables (get_user_pages, nothing pinned) and removed
 * when the host changes those (MMU notifier), so swap, THP, KSM, migration
 * and MADV_DONTNEED keep working on guest RAM. The entry format is the
 * vendor's (vhm_ops->npt_pte).
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <asm/io.h>

#include "vhm.h"
#include "vm.h"

#define NPT_LEVELS	4
#define NPT_ENTRIES	512
#define NPT_ADDR_MASK	GENMASK_ULL(51, 12)
#define NPT_LARGE	BIT_ULL(7)	/* the same bit in NPT and EPT */
#define NPT_CACHE	(NPT_LEVELS - 1)

static unsigned int npt_index(u64 gpa, int level)
{
	return (gpa >> (PAGE_SHIFT + 9 * (level - 1))) & (NPT_ENTRIES - 1);
}

static u64 npt_level_size(int level)
{
	return 1ULL << (PAGE_SHIFT + 9 * (level - 1));
}

static u64 *npt_table(u64 entry)
{
	return __va(entry & NPT_ADDR_MASK);
}

/* Pages for intermediate tables, allocated before the lock is taken. */
struct npt_cache {
	u64 *pages[NPT_CACHE];
	unsigned int nr;
};

static int npt_cache_fill(struct npt_cache *c)
{
	while (c->nr < NPT_CACHE) {
		c->pages[c->nr] = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!c->pages[c->nr])
			return -ENOMEM;
		c->nr++;
	}
	return 0;
}

static void npt_cache_free(struct npt_cache *c)
{
	while (c->nr)
		free_page((unsigned long)c->pages[--c->nr]);
}

/* mmu->lock held: install a 4 KiB leaf for gpa. */
static void npt_install(struct vhm_mmu *mmu, struct npt_cache *c, u64 gpa,
			u64 leaf)
{
	u64 *table = mmu->root;
	int level;

	for (level = NPT_LEVELS; level > 1; level--) {
		u64 *e = &table[npt_index(gpa, level)];

		if (*e & NPT_LARGE && level > 1)
			*e = 0;	/* a stale large leaf: replace by a table */
		if (!*e)
			*e = vhm_ops->npt_pte(__pa(c->pages[--c->nr]), 0, 0);
		table = npt_table(*e);
	}
	WRITE_ONCE(table[npt_index(gpa, 1)], leaf);
}

/* mmu->lock held: clear every leaf in [start, end); true if any was set. */
static bool npt_zap(u64 *table, int level, u64 base, u64 start, u64 end)
{
	u64 size = npt_level_size(level);
	bool zapped = false;
	unsigned int i;

	for (i = 0; i < NPT_ENTRIES; i++) {
		u64 lo = base + i * size, hi = lo + size;

		if (hi <= start || lo >= end || !table[i])
			continue;
		if (level == 1 || table[i] & NPT_LARGE) {
			WRITE_ONCE(table[i], 0);
			zapped = true;
		} else {
			zapped |= npt_zap(npt_table(table[i]), level - 1, lo,
					  start, end);
		}
	}
	return zapped;
}

static void npt_free(u64 *table, int level)
{
	unsigned int i;

	for (i = 0; level > 1 && i < NPT_ENTRIES; i++)
		if (table[i] && !(table[i] & NPT_LARGE))
			npt_free(npt_table(table[i]), level - 1);
	free_page((unsigned long)table);
}

static void vhm_tlb_flush_ipi(void *unused)
{
}

/*
 * Make every vCPU drop translations of zapped entries: bump the TLB
 * generation (checked before each entry, which then flushes its TLB tag)
 * and kick the vCPUs in guest mode out so they see it.
 */
void vhm_flush_remote_tlbs(struct vhm_vm *vm)
{
	cpumask_var_t cpus;
	unsigned int i;

	atomic64_inc(&vm->mmu.tlb_gen);
	/*
	 * Order the new generation before reading in_guest; pairs with the
	 * smp_mb() between setting in_guest and reading the generation on
	 * entry: either the vCPU sees the new generation or we see it in
	 * the guest and kick it out.
	 */
	smp_mb__after_atomic();
	if (!zalloc_cpumask_var(&cpus, GFP_ATOMIC)) {
		on_each_cpu(vhm_tlb_flush_ipi, NULL, 1);
		return;
	}
	rcu_read_lock();
	for (i = 0; i < VHM_MAX_VCPUS; i++) {
		struct vhm_vcpu *vcpu = READ_ONCE(vm->vcpus[i]);

		if (vcpu && READ_ONCE(vcpu->in_guest))
			cpumask_set_cpu(READ_ONCE(vcpu->cpu), cpus);
	}
	rcu_read_unlock();
	preempt_disable();
	smp_call_function_many(cpus, vhm_tlb_flush_ipi, NULL, 1);
	preempt_enable();
	free_cpumask_var(cpus);
}

/* mmu->lock held: zap the gpa ranges backed by [hstart, hend). */
static bool vhm_mmu_zap_hva(struct vhm_vm *vm, unsigned long hstart,
			    unsigned long hend)
{
	bool zapped = false;
	unsigned int i;

	for (i = 0; i < VHM_MAX_MEMORY_SLOTS; i++) {
		const struct vhm_memslot *s = &vm->slots[i];
		u64 start, end;

		if (!s->size || hend <= s->hva || hstart >= s->hva + s->size)
			continue;
		start = s->gpa + (max_t(u64, hstart, s->hva) - s->hva);
		end = s->gpa + (min_t(u64, hend, s->hva + s->size) - s->hva);
		zapped |= npt_zap(vm->mmu.root, NPT_LEVELS, 0, start, end);
	}
	return zapped;
}

static int vhm_mn_invalidate_range_start(struct mmu_notifier *mn,
					 const struct mmu_notifier_range *range)
{
	struct vhm_vm *vm = container_of(mn, struct vhm_vm, mmu.mn);
	bool zapped;

	spin_lock(&vm->mmu.lock);
	vm->mmu.in_progress++;
	vm->mmu.seq++;
	zapped = vhm_mmu_zap_hva(vm, range->start, range->end);
	spin_unlock(&vm->mmu.lock);
	if (zapped)
		vhm_flush_remote_tlbs(vm);
	return 0;
}

static void vhm_mn_invalidate_range_end(struct mmu_notifier *mn,
					const struct mmu_notifier_range *range)
{
	struct vhm_vm *vm = container_of(mn, struct vhm_vm, mmu.mn);

	spin_lock(&vm->mmu.lock);
	vm->mmu.seq++;
	vm->mmu.in_progress--;
	spin_unlock(&vm->mmu.lock);
}

/* The VMM's address space is going away: nothing may stay mapped. */
static void vhm_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct vhm_vm *vm = container_of(mn, struct vhm_vm, mmu.mn);

	spin_lock(&vm->mmu.lock);
	vm->mmu.seq++;
	npt_zap(vm->mmu.root, NPT_LEVELS, 0, 0, ~0ULL);
	spin_unlock(&vm->mmu.lock);
	vhm_flush_remote_tlbs(vm);
}

static const struct mmu_notifier_ops vhm_mn_ops = {
	.invalidate_range_start = vhm_mn_invalidate_range_start,
	.invalidate_range_end = vhm_mn_invalidate_range_end,
	.release = vhm_mn_release,
};

int vhm_mmu_init(struct vhm_vm *vm)
{
	struct vhm_mmu *mmu = &vm->mmu;
	int r;

	spin_lock_init(&mmu->lock);
	mmu->root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!mmu->root)
		return -ENOMEM;
	mmu->mn.ops = &vhm_mn_ops;
	r = mmu_notifier_register(&mmu->mn, vm->mm);
	if (r) {
		free_page((unsigned long)mmu->root);
		mmu->root = NULL;
		return r;
	}
	mmu->mn_registered = true;
	return 0;
}

void vhm_mmu_destroy(struct vhm_vm *vm)
{
	if (vm->mmu.mn_registered)
		mmu_notifier_unregister(&vm->mmu.mn, vm->mm);
	if (vm->mmu.root)
		npt_free(vm->mmu.root, NPT_LEVELS);
}

phys_addr_t vhm_mmu_root_pa(struct vhm_vm *vm)
{
	return __pa(vm->mmu.root);
}

void vhm_mmu_unmap_gpa(struct vhm_vm *vm, u64 gpa, u64 size)
{
	bool zapped;

	spin_lock(&vm->mmu.lock);
	vm->mmu.seq++;
	zapped = npt_zap(vm->mmu.root, NPT_LEVELS, 0, gpa, gpa + size);
	spin_unlock(&vm->mmu.lock);
	if (zapped)
		vhm_flush_remote_tlbs(vm);
}

/* mmu->lock held: where gpa lives in the VMM, or 0 for MMIO. */
static unsigned long vhm_gpa_to_hva(struct vhm_vm *vm, u64 gpa, bool write)
{
	const struct vhm_memslot *s = vhm_find_slot(vm, gpa);

	if (!s || (write && (s->flags & VHM_MEM_READONLY)))
		return 0;
	return s->hva + (gpa - s->gpa);
}

/*
 * A nested page fault at gpa: map the VMM's page there. Reads map the page
 * read-only (it may be the shared zero page); the first write faults again
 * and maps it writable, breaking COW on the host side.
 */
int vhm_mmu_fault(struct vhm_vm *vm, u64 gpa, bool write)
{
	struct vhm_mmu *mmu = &vm->mmu;
	struct npt_cache cache = { .nr = 0 };
	unsigned long hva, seq;
	struct page *page;
	long n;
	int r;

	gpa &= PAGE_MASK;
	r = npt_cache_fill(&cache);
	if (r)
		goto free_cache;
retry:
	spin_lock(&mmu->lock);
	hva = vhm_gpa_to_hva(vm, gpa, write);
	seq = mmu->seq;
	spin_unlock(&mmu->lock);
	if (!hva) {
		r = VHM_MMU_MMIO;
		goto free_cache;
	}

	n = get_user_pages_unlocked(hva, 1, &page, write ? FOLL_WRITE : 0);
	if (n != 1) {
		/* Nothing mapped there in the VMM (munmap'ed): MMIO. */
		r = n == -EFAULT || n == 0 ? VHM_MMU_MMIO : n;
		goto free_cache;
	}

	spin_lock(&mmu->lock);
	if (mmu->in_progress || mmu->seq != seq) {
		/* The host changed its mapping meanwhile: look again. */
		spin_unlock(&mmu->lock);
		put_page(page);
		goto retry;
	}
	npt_install(mmu, &cache, gpa,
		    vhm_ops->npt_pte(page_to_phys(page),
				     write ? VHM_NPT_WRITE : 0, 1));
	spin_unlock(&mmu->lock);
	if (write)
		set_page_dirty_lock(page);
	mark_page_accessed(page);
	put_page(page);
	r = 0;
free_cache:
	npt_cache_free(&cache);
	return r;
}
