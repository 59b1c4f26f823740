// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-physical memory slots: ranges of guest-physical addresses backed by
 * ranges of the VMM's own virtual memory.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/mm.h>
#include <linux/uaccess.h>

#include "vhm.h"
#include "vm.h"

/* Guest-physical addresses vhm maps: 4-level nested paging. */
#define VHM_GPA_LIMIT	(1ULL << 48)

static bool vhm_slot_overlaps(const struct vhm_memslot *s, u64 gpa, u64 size)
{
	return s->size && gpa < s->gpa + s->size && s->gpa < gpa + size;
}

/* The validity rules, each with its own errno (docs/API.md). */
static int vhm_check_slot(const struct vhm_memory_slot *m)
{
	unsigned int i;

	if (m->slot >= VHM_MAX_MEMORY_SLOTS)
		return -ENOSPC;
	if (m->flags & ~VHM_MEM_FLAGS_VALID)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(m->reserved); i++)
		if (m->reserved[i])
			return -EINVAL;
	if (!m->size)
		return 0;
	if (!PAGE_ALIGNED(m->guest_phys_addr) || !PAGE_ALIGNED(m->size) ||
	    !PAGE_ALIGNED(m->userspace_addr))
		return -EINVAL;
	if (m->guest_phys_addr + m->size < m->guest_phys_addr ||
	    m->guest_phys_addr + m->size > VHM_GPA_LIMIT ||
	    m->userspace_addr + m->size < m->userspace_addr)
		return -ERANGE;
	if (!access_ok((void __user *)(unsigned long)m->userspace_addr, m->size))
		return -EFAULT;
	return 0;
}

int vhm_set_memory_slot(struct vhm_vm *vm,
			const struct vhm_memory_slot __user *uslot)
{
	struct vhm_memory_slot m;
	struct vhm_memslot *slot, old;
	unsigned int i;
	int r;

	if (copy_from_user(&m, uslot, sizeof(m)))
		return -EFAULT;
	r = vhm_check_slot(&m);
	if (r)
		return r;

	mutex_lock(&vm->slots_lock);
	slot = &vm->slots[m.slot];
	old = *slot;
	if (!m.size && !slot->size) {
		r = -ENOENT;
		goto unlock;
	}
	for (i = 0; i < VHM_MAX_MEMORY_SLOTS; i++) {
		if (i != m.slot &&
		    vhm_slot_overlaps(&vm->slots[i], m.guest_phys_addr, m.size)) {
			r = -EEXIST;
			goto unlock;
		}
	}
	/*
	 * The old range's nested mappings go, and the vCPUs' TLBs are
	 * flushed, before the new slot is visible: an MMU-notifier
	 * invalidation of the old hva that comes after finds no slot to zap,
	 * so nothing of the old slot may be left for the guest to reach by
	 * then (the host frees those pages as soon as the notifier returns).
	 * The change counts as an invalidation in progress: no fault maps
	 * anything until it is done, and the zap of a long range may drop the
	 * lock between pieces (invalidations meanwhile still see the old slot
	 * and zap it themselves).
	 */
	spin_lock(&vm->mmu.lock);
	vm->mmu.in_progress++;
	vm->mmu.seq++;
	if (old.size)
		vhm_mmu_zap_gpa(vm, old.gpa, old.size);
	slot->gpa = m.guest_phys_addr;
	slot->size = m.size;
	slot->hva = m.userspace_addr;
	slot->flags = m.flags;
	vm->mmu.seq++;
	vm->mmu.in_progress--;
	spin_unlock(&vm->mmu.lock);
unlock:
	mutex_unlock(&vm->slots_lock);
	return r;
}

const struct vhm_memslot *vhm_find_slot(struct vhm_vm *vm, u64 gpa)
{
	unsigned int i;

	lockdep_assert(lockdep_is_held(&vm->mmu.lock) ||
		       lockdep_is_held(&vm->slots_lock));
	for (i = 0; i < VHM_MAX_MEMORY_SLOTS; i++)
		if (vhm_slot_overlaps(&vm->slots[i], gpa, 1))
			return &vm->slots[i];
	return NULL;
}
