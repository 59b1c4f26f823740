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
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/uaccess.h>
#include <asm/io.h>

#include "vhm.h"
#include "vm.h"

#define NPT_LEVELS	4
#define NPT_ENTRIES	512
#define NPT_ADDR_MASK	GENMASK_ULL(51, 12)
#define NPT_LARGE	BIT_ULL(7)	/* the same bit in NPT and EPT */
#define NPT_2M_LEVEL	2
#define NPT_2M_SIZE	(1ULL << (PAGE_SHIFT + 9))
#define NPT_2M_PAGES	(NPT_2M_SIZE >> PAGE_SHIFT)

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

/*
 * Pages for intermediate tables, allocated before the lock is taken and
 * kept for later faults when this one needs none (most faults): a fault
 * allocates only what the previous ones used. Full under the lock, a
 * fault cannot run out (each takes at most one page per level).
 */
static bool npt_cache_full(struct vhm_mmu *mmu)
{
	return READ_ONCE(mmu->cache.nr) == VHM_NPT_CACHE;
}

static int npt_cache_topup(struct vhm_mmu *mmu)
{
	u64 *page;

	while (!npt_cache_full(mmu)) {
		page = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!page)
			return -ENOMEM;
		spin_lock(&mmu->lock);
		if (mmu->cache.nr < VHM_NPT_CACHE) {
			mmu->cache.pages[mmu->cache.nr++] = page;
			page = NULL;
		}
		spin_unlock(&mmu->lock);
		if (page)	/* another fault filled it meanwhile */
			free_page((unsigned long)page);
	}
	return 0;
}

static void npt_cache_free(struct vhm_npt_cache *c)
{
	while (c->nr)
		free_page((unsigned long)c->pages[--c->nr]);
}

/* mmu->lock held: a leaf at level appears (n = 1) or goes (n = -1). */
static void npt_account(struct vhm_mmu *mmu, int level, int n)
{
	lockdep_assert_held(&mmu->lock);
	if (level == 1)
		mmu->stats.mapped_4k += n;
	else
		mmu->stats.mapped_2m += n;
}

/* mmu->lock held: the 4 KiB leaves in a level-1 table. */
static unsigned int npt_count_leaves(const u64 *table)
{
	unsigned int i, n = 0;

	for (i = 0; i < NPT_ENTRIES; i++)
		n += !!table[i];
	return n;
}

/*
 * mmu->lock held: install a leaf for gpa at level 1 (4 KiB) or 2 (2 MiB).
 * A large leaf in the way of a 4 KiB one is replaced by a table, a table of
 * 4 KiB leaves in the way of a large one is detached and returned: the
 * caller frees it once the vCPUs flushed their TLBs (*flush is set then,
 * and whenever a translation the TLBs may hold was dropped).
 */
static u64 *npt_install(struct vhm_mmu *mmu, u64 gpa, u64 leaf,
			int leaf_level, bool *flush)
{
	struct vhm_npt_cache *c = &mmu->cache;
	u64 *table = mmu->root, *old_table = NULL;
	u64 *e;
	int level;

	lockdep_assert_held(&mmu->lock);
	for (level = NPT_LEVELS; level > leaf_level; level--) {
		e = &table[npt_index(gpa, level)];
		if (*e & NPT_LARGE) {
			/* A large leaf: replaced by a table of small ones. */
			npt_account(mmu, level, -1);
			WRITE_ONCE(*e, 0);
			*flush = true;
		}
		if (!*e)
			WRITE_ONCE(*e, vhm_ops->npt_pte(__pa(c->pages[--c->nr]),
							0, 0));
		table = npt_table(*e);
	}
	e = &table[npt_index(gpa, leaf_level)];
	if (*e && leaf_level > 1 && !(*e & NPT_LARGE)) {
		old_table = npt_table(*e);
		mmu->stats.mapped_4k -= npt_count_leaves(old_table);
		*flush = true;
	} else if (*e) {
		npt_account(mmu, leaf_level, -1);
	}
	WRITE_ONCE(*e, leaf);
	npt_account(mmu, leaf_level, 1);
	return old_table;
}

/* mmu->lock held: clear every leaf in [start, end); true if any was set. */
static bool npt_zap(struct vhm_mmu *mmu, u64 *table, int level, u64 base,
		    u64 start, u64 end)
{
	u64 size = npt_level_size(level);
	bool zapped = false;
	unsigned int i;

	lockdep_assert_held(&mmu->lock);
	for (i = 0; i < NPT_ENTRIES; i++) {
		u64 lo = base + i * size, hi = lo + size;

		if (hi <= start || lo >= end || !table[i])
			continue;
		if (level == 1 || table[i] & NPT_LARGE) {
			/* A large leaf goes whole, even if partly covered. */
			WRITE_ONCE(table[i], 0);
			npt_account(mmu, level, -1);
			if (level == 1)
				mmu->stats.zapped_4k++;
			else
				mmu->stats.zapped_2m++;
			zapped = true;
		} else {
			zapped |= npt_zap(mmu, npt_table(table[i]), level - 1,
					  lo, start, end);
		}
	}
	return zapped;
}

/*
 * The guest-physical range vhm maps, and the pieces long zaps are cut into
 * so that they can let the CPU go between them (a piece is at most 512
 * level-1 tables: some 262 000 entries).
 */
#define NPT_GPA_END	(1ULL << (PAGE_SHIFT + 9 * NPT_LEVELS))
#define NPT_ZAP_PIECE	(1ULL << 30)

/*
 * mmu->lock held: zap [start, end) a piece at a time, skipping the 512 GiB
 * ranges the root has no table for. With resched, the lock may be dropped
 * between pieces (cond_resched_lock()); the caller made sure that nothing
 * can be mapped in the range meanwhile (an invalidation in progress makes
 * faults retry). True if anything was zapped.
 */
static bool npt_zap_range(struct vhm_mmu *mmu, u64 start, u64 end,
			  bool resched)
{
	u64 at = start, next, top = npt_level_size(NPT_LEVELS);
	bool zapped = false;

	lockdep_assert_held(&mmu->lock);
	WARN_ON_ONCE(resched && !mmu->in_progress);
	end = min(end, NPT_GPA_END);
	while (at < end) {
		if (!mmu->root[npt_index(at, NPT_LEVELS)]) {
			next = (at | (top - 1)) + 1;
		} else {
			next = min(end, (at | (NPT_ZAP_PIECE - 1)) + 1);
			zapped |= npt_zap(mmu, mmu->root, NPT_LEVELS, 0, at,
					  next);
		}
		at = next;
		if (resched && at < end)
			cond_resched_lock(&mmu->lock);
	}
	return zapped;
}

/* No lock (nothing else can reach the tables): may sleep. */
static void npt_free(u64 *table, int level)
{
	unsigned int i;

	for (i = 0; level > 1 && i < NPT_ENTRIES; i++) {
		if (table[i] && !(table[i] & NPT_LARGE))
			npt_free(npt_table(table[i]), level - 1);
		if (level >= 3)
			cond_resched();
	}
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
	unsigned int i, n;
	cpumask_var_t cpus;

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
	n = vhm_vm_vcpu_slots(vm);
	for (i = 0; i < n; i++) {
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

/*
 * mmu->lock held: zap the gpa ranges backed by [hstart, hend); true if any
 * entry was zapped. Counts the invalidation if it hits guest RAM.
 */
static bool vhm_mmu_zap_hva(struct vhm_vm *vm, unsigned long hstart,
			    unsigned long hend, bool resched)
{
	bool zapped = false, hit = false;
	unsigned int i;

	lockdep_assert_held(&vm->mmu.lock);
	for (i = 0; i < VHM_MAX_MEMORY_SLOTS; i++) {
		const struct vhm_memslot *s = &vm->slots[i];
		u64 start, end;

		if (!s->size || hend <= s->hva || hstart >= s->hva + s->size)
			continue;
		start = s->gpa + (max_t(u64, hstart, s->hva) - s->hva);
		end = s->gpa + (min_t(u64, hend, s->hva + s->size) - s->hva);
		zapped |= npt_zap_range(&vm->mmu, start, end, resched);
		hit = true;
	}
	if (hit)
		vm->mmu.stats.invalidations++;
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
	zapped = vhm_mmu_zap_hva(vm, range->start, range->end,
				 mmu_notifier_range_blockable(range));
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
	vm->mmu.in_progress++;
	vm->mmu.seq++;
	npt_zap_range(&vm->mmu, 0, NPT_GPA_END, true);
	vm->mmu.seq++;
	vm->mmu.in_progress--;
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
	npt_cache_free(&vm->mmu.cache);
}

phys_addr_t vhm_mmu_root_pa(struct vhm_vm *vm)
{
	return __pa(vm->mmu.root);
}

/*
 * mmu->lock held and an invalidation in progress (mmu->in_progress, so no
 * fault maps anything meanwhile): remove every nested entry in [gpa,
 * gpa + size), dropping the lock between pieces of a long range, and, if
 * any was there, make the vCPUs drop it from their TLBs before returning
 * with the lock held, so that no invalidation of the host pages behind the
 * range can complete while a vCPU may still reach them.
 */
void vhm_mmu_zap_gpa(struct vhm_vm *vm, u64 gpa, u64 size)
{
	lockdep_assert_held(&vm->mmu.lock);
	if (npt_zap_range(&vm->mmu, gpa, gpa + size, true))
		vhm_flush_remote_tlbs(vm);
}

/*
 * mmu->lock held: the slot holding gpa, copied (slot changes bump mmu->seq,
 * so the copy stays true while the sequence count does); false for MMIO.
 */
static bool vhm_fault_slot(struct vhm_vm *vm, u64 gpa, bool write,
			   struct vhm_memslot *slot)
{
	const struct vhm_memslot *s = vhm_find_slot(vm, gpa);

	lockdep_assert_held(&vm->mmu.lock);
	if (!s || (write && (s->flags & VHM_MEM_READONLY)))
		return false;
	*slot = *s;
	return true;
}

/*
 * Can the slot hold a 2 MiB entry at gpa: the aligned 2 MiB around gpa is
 * all in the slot, and host-virtual addresses are 2 MiB aligned where
 * guest-physical ones are (so one host huge page can back it).
 */
static bool vhm_slot_allows_2m(const struct vhm_memslot *s, u64 gpa)
{
	u64 base = gpa & ~(NPT_2M_SIZE - 1);

	return !((s->hva - s->gpa) & (NPT_2M_SIZE - 1)) &&
	       base >= s->gpa && base + NPT_2M_SIZE <= s->gpa + s->size;
}

/*
 * Interrupts off: if the VMM maps hva with a present PMD or PUD leaf, the
 * pfn it maps hva to and whether the leaf is writable. Each level is read
 * once (the tables may change under us; the caller checks the result
 * against the page get_user_pages returned).
 */
static void vhm_host_leaf_2m(struct mm_struct *mm, unsigned long hva,
			     unsigned long *pfn, bool *writable)
{
	pgd_t pgd = READ_ONCE(*pgd_offset(mm, hva));
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	if (pgd_none(pgd) || !pgd_present(pgd))
		return;
	p4d = READ_ONCE(*p4d_offset(&pgd, hva));
	if (p4d_none(p4d) || !p4d_present(p4d))
		return;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (!(pud_val(pud) & _PAGE_PRESENT))
		return;
	if (pud_leaf(pud)) {
		*pfn = pud_pfn(pud) + ((hva & ~PUD_MASK) >> PAGE_SHIFT);
		*writable = pud_write(pud);
		return;
	}
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	if (!(pmd_val(pmd) & _PAGE_PRESENT) || !pmd_leaf(pmd))
		return;
	*pfn = pmd_pfn(pmd) + ((hva & ~PMD_MASK) >> PAGE_SHIFT);
	*writable = pmd_write(pmd);
}

/*
 * mmu->lock held, no invalidation in progress and none since get_user_pages
 * (sequence count checked): is page, which the VMM maps at hva, part of a
 * host huge page the VMM maps at PMD (or PUD) level, covering the aligned
 * 2 MiB around hva, writable if write? The host page tables cannot change
 * under us without an invalidation, which waits for mmu->lock; interrupts
 * off keep the tables themselves from being freed during the walk (their
 * freeing waits for an IPI or an RCU-sched grace period), as in GUP-fast.
 */
static bool vhm_host_maps_2m(struct mm_struct *mm, unsigned long hva,
			     struct page *page, bool write)
{
	struct folio *folio = page_folio(page);
	unsigned long flags, pfn = 0, base;
	bool writable = false;

	local_irq_save(flags);
	vhm_host_leaf_2m(mm, hva, &pfn, &writable);
	local_irq_restore(flags);
	if (pfn != page_to_pfn(page) || (write && !writable))
		return false;
	base = pfn - ((hva >> PAGE_SHIFT) & (NPT_2M_PAGES - 1));
	return base >= folio_pfn(folio) &&
	       base + NPT_2M_PAGES <= folio_pfn(folio) + folio_nr_pages(folio);
}

/* mmu->lock held: map the 2 MiB around gpa if everything allows it. */
static int vhm_fault_level(struct vhm_vm *vm, const struct vhm_memslot *s,
			   u64 gpa, unsigned long hva, struct page *page,
			   bool write)
{
	lockdep_assert_held(&vm->mmu.lock);
	if (!vhm_ops->npt_has_2m())
		return 1;
	if (vhm_slot_allows_2m(s, gpa) &&
	    vhm_host_maps_2m(vm->mm, hva, page, write))
		return NPT_2M_LEVEL;
	return 1;
}

/*
 * A nested page fault at gpa: map the VMM's page there. Reads map the page
 * read-only (it may be the shared zero page); the first write faults again
 * and maps it writable, breaking COW on the host side.
 */
int vhm_mmu_fault(struct vhm_vm *vm, u64 gpa, bool write)
{
	struct vhm_mmu *mmu = &vm->mmu;
	struct vhm_memslot slot;
	unsigned long hva, seq;
	bool ok, flush = false;
	u64 *old_table;
	struct page *page;
	phys_addr_t pa;
	int r, level;
	long n;

	gpa &= PAGE_MASK;
retry:
	r = npt_cache_topup(mmu);
	if (r)
		return r;
	spin_lock(&mmu->lock);
	ok = vhm_fault_slot(vm, gpa, write, &slot);
	seq = mmu->seq;
	spin_unlock(&mmu->lock);
	if (!ok)
		return VHM_MMU_MMIO;
	hva = slot.hva + (gpa - slot.gpa);

	n = get_user_pages_unlocked(hva, 1, &page, write ? FOLL_WRITE : 0);
	if (n != 1) {
		/* Nothing mapped there in the VMM (munmap'ed): MMIO. */
		return n == -EFAULT || n == 0 ? VHM_MMU_MMIO : n;
	}

	spin_lock(&mmu->lock);
	if (mmu->in_progress || mmu->seq != seq ||
	    mmu->cache.nr < VHM_NPT_CACHE) {
		/* The host changed its mapping, or faults took table pages. */
		spin_unlock(&mmu->lock);
		put_page(page);
		goto retry;
	}
	level = vhm_fault_level(vm, &slot, gpa, hva, page, write);
	pa = page_to_phys(page);
	if (level == NPT_2M_LEVEL)
		pa &= ~(NPT_2M_SIZE - 1);
	old_table = npt_install(mmu, gpa,
				vhm_ops->npt_pte(pa, write ? VHM_NPT_WRITE : 0,
						 level),
				level, &flush);
	mmu->stats.faults++;
	spin_unlock(&mmu->lock);
	if (flush)
		vhm_flush_remote_tlbs(vm);
	if (old_table)
		free_page((unsigned long)old_table);
	if (write)
		set_page_dirty_lock(page);
	mark_page_accessed(page);
	put_page(page);
	return 0;
}

/* VHM_GET_VM_STATS */
long vhm_vm_get_stats(struct vhm_vm *vm, struct vhm_vm_stats __user *u)
{
	struct vhm_vm_stats st;

	if (copy_from_user(&st, u, sizeof(st)))
		return -EFAULT;
	if (st.flags || st.padding)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	spin_lock(&vm->mmu.lock);
	st.nested_faults = vm->mmu.stats.faults;
	st.mapped_4k = vm->mmu.stats.mapped_4k;
	st.mapped_2m = vm->mmu.stats.mapped_2m;
	st.invalidations = vm->mmu.stats.invalidations;
	st.zapped_4k = vm->mmu.stats.zapped_4k;
	st.zapped_2m = vm->mmu.stats.zapped_2m;
	spin_unlock(&vm->mmu.lock);
	if (copy_to_user(u, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}
