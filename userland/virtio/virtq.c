// SPDX-License-Identifier: GPL-2.0
/*
 * The device side of a virtio split virtqueue; virtq.h says what each call
 * does. Section numbers are those of virtio 1.2.
 *
 * Memory ordering (§2.7.13): the driver writes descriptors and ring
 * entries, then avail->idx; we load avail->idx with acquire so what we
 * read after it is at least as new. We write the used element, then
 * store used->idx with release so the driver sees the element first.
 * Around notification suppression both sides need a full barrier
 * between their index write and their read of the other's event field.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "virtio/virtq.h"

void *virtq_mem_map(const struct virtq_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	/*
	 * gpa + len wrapping past 2^64: the region test below cannot wrap
	 * and would refuse it too; this says so where a reader looks first.
	 */
	if (!len || len > UINT64_MAX - gpa)
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct virtq_mem_region *r = &mem->regions[i];
		uint64_t off;

		/* Written so that nothing here can wrap either. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		off = gpa - r->gpa;
		if (len > r->size - off)
			return NULL;	/* crosses the region's end */
		return (char *)r->hva + off;
	}
	return NULL;
}

/* A ring part: in one region, and aligned in guest and host address. */
static void *map_ring(const struct virtq_mem *mem, uint64_t gpa,
		      uint64_t len, uint64_t align)
{
	void *p;

	if (gpa & (align - 1))
		return NULL;
	p = virtq_mem_map(mem, gpa, len);
	/* The atomic index accesses need the host side aligned too. */
	if (p && ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

int virtq_init(struct virtq *q, const struct virtq_mem *mem,
	       unsigned int size, uint64_t desc_gpa, uint64_t avail_gpa,
	       uint64_t used_gpa, uint64_t features)
{
	memset(q, 0, sizeof(*q));
	/* §2.7: a power of two, at most 32768. */
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	q->mem = mem;
	q->size = size;
	/* §2.7, "Virtqueue Part Alignment": 16, 2 and 4 bytes. */
	q->desc = map_ring(mem, desc_gpa, VIRTQ_DESC_BYTES(size), 16);
	q->avail = map_ring(mem, avail_gpa, VIRTQ_AVAIL_BYTES(size), 2);
	q->used = map_ring(mem, used_gpa, VIRTQ_USED_BYTES(size), 4);
	if (!q->desc || !q->avail || !q->used) {
		memset(q, 0, sizeof(*q));
		return -EINVAL;
	}
	q->event_idx = features & (1ull << VIRTIO_F_EVENT_IDX);
	q->indirect = features & (1ull << VIRTIO_F_INDIRECT_DESC);
	q->max_chain_bytes = VIRTQ_DEFAULT_MAX_CHAIN_BYTES;
	q->max_indirect = size;
	/*
	 * Both indices start at 0 when the driver enables the queue
	 * (§2.7.6, §2.7.8: the driver zeroes them); memset did that.
	 */
	return 0;
}

void virtq_set_broken(struct virtq *q)
{
	q->broken = true;
}

/* Mark the queue broken and return err: the driver broke a rule. */
static int fail(struct virtq *q, int err)
{
	virtq_set_broken(q);
	return err;
}

/*
 * Copy one descriptor out of guest memory: every field read exactly once,
 * through atomic loads the compiler may neither repeat nor merge, so a
 * driver changing it under us cannot make two checks see two values.
 * Indirect tables need not be 8-byte aligned (§2.7.5.3 asks nothing), so
 * the unaligned case copies bytes.
 */
static void read_desc(const struct virtq_desc *src, struct virtq_desc *d)
{
	if (!((uintptr_t)src & 7)) {
		d->addr = __atomic_load_n(&src->addr, __ATOMIC_RELAXED);
		d->len = __atomic_load_n(&src->len, __ATOMIC_RELAXED);
		d->flags = __atomic_load_n(&src->flags, __ATOMIC_RELAXED);
		d->next = __atomic_load_n(&src->next, __ATOMIC_RELAXED);
	} else {
		const unsigned char *s = (const void *)src;
		unsigned char *t = (unsigned char *)d;
		size_t i;

		for (i = 0; i < sizeof(*d); i++)
			t[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
	}
}

/* What a walk over one chain has gathered so far. */
struct walk {
	struct virtq_chain *c;
	uint64_t bytes;		/* all segments, even those not stored */
	unsigned int nr_seg;
	bool writable;		/* a device-writable segment was seen */
};

/* Check one plain (non-indirect) descriptor and record its segment. */
static int add_segment(struct virtq *q, struct walk *w,
		       const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	/* §2.7.4.2: readable descriptors first, then writable ones. */
	if (w->writable && !write)
		return -EPROTO;
	w->writable |= write;
	/*
	 * Zero-length buffers are refused as QEMU does: no driver needs them
	 * and they would make the map check meaningless.
	 */
	p = virtq_mem_map(q->mem, d->addr, d->len);
	if (!p)
		return -EFAULT;
	w->bytes += d->len;	/* < 2^28 * 2^32 + 2^47: cannot wrap */
	if (w->bytes > (1ull << 32))
		return -E2BIG;	/* §2.7.5: at most 2^32 bytes in total */
	if (w->nr_seg < w->c->iov_max) {
		w->c->iov[w->nr_seg].base = p;
		w->c->iov[w->nr_seg].len = d->len;
	}
	w->nr_seg++;
	if (write) {
		w->c->nr_in++;
		w->c->in_bytes += d->len;
	} else {
		w->c->nr_out++;
		w->c->out_bytes += d->len;
	}
	return 0;
}

/*
 * Follow a chain through table[0 .. n), starting at idx. At most n
 * descriptors: a longer chain revisits one, so it is a loop (§2.7.5:
 * loops are forbidden), and the bound also ends a walk that a driver
 * keeps extending while we read. A plain chain may end in one descriptor
 * pointing to an indirect table (§2.7.5.3.2: the device MUST handle zero
 * or more chained descriptors followed by an indirect one).
 */
static int walk_indirect(struct virtq *q, struct walk *w,
			 const struct virtq_desc *d);

static int walk_table(struct virtq *q, struct walk *w,
		      const struct virtq_desc *table, unsigned int n,
		      unsigned int idx, bool in_indirect)
{
	unsigned int count;
	struct virtq_desc d;
	int ret;

	for (count = 0; count < n; count++) {
		read_desc(&table[idx], &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: no table inside a table. */
			if (in_indirect)
				return -EINVAL;
			return walk_indirect(q, w, &d);
		}
		ret = add_segment(q, w, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return -ERANGE;
		idx = d.next;
	}
	return -ELOOP;
}

/* d has VIRTQ_DESC_F_INDIRECT: walk the table it points to (§2.7.5.3). */
static int walk_indirect(struct virtq *q, struct walk *w,
			 const struct virtq_desc *d)
{
	const struct virtq_desc *table;
	unsigned int n;

	if (!q->indirect)
		return -EINVAL;	/* §2.7.5.3.1: only if negotiated */
	/*
	 * §2.7.5.3.1: the driver MUST NOT set F_NEXT with F_INDIRECT, so the
	 * indirect descriptor always ends its chain; refuse rather than
	 * guess what would follow. F_WRITE on it is ignored (§2.7.5.3.2).
	 */
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return -EINVAL;
	if (!d->len || d->len % sizeof(struct virtq_desc))
		return -EINVAL;
	n = d->len / sizeof(struct virtq_desc);
	if (n > q->max_indirect)
		return -EINVAL;
	table = virtq_mem_map(q->mem, d->addr, d->len);
	if (!table)
		return -EFAULT;
	/* The table's chain starts at its entry 0 (§2.7.5.3). */
	return walk_table(q, w, table, n, 0, true);
}

/*
 * How many entries the driver has made available. Re-reads avail->idx
 * only when the last read is used up; acquire so the entries and the
 * descriptors they name are read after it (§2.7.13.3 on the driver side).
 */
static int avail_pending(struct virtq *q)
{
	uint16_t n;

	if (q->shadow_avail == q->last_avail)
		q->shadow_avail = __atomic_load_n(&q->avail->idx,
						  __ATOMIC_ACQUIRE);
	n = q->shadow_avail - q->last_avail;
	/* The driver cannot have more than size entries outstanding. */
	if (n > q->size)
		return fail(q, -EOVERFLOW);
	return n;
}

int virtq_pop(struct virtq *q, struct virtq_chain *chain)
{
	struct walk w = { .c = chain };
	uint16_t head;
	int ret;

	if (q->broken)
		return -EIO;
	ret = avail_pending(q);
	if (ret <= 0)
		return ret;
	/* size is a power of two: the mask is the modulo of §2.7.6. */
	head = __atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)],
			       __ATOMIC_RELAXED);
	if (head >= q->size)
		return fail(q, -ERANGE);
	q->last_avail++;
	chain->head = head;
	chain->nr_out = chain->nr_in = 0;
	chain->out_bytes = chain->in_bytes = 0;

	ret = walk_table(q, &w, q->desc, q->size, head, false);
	if (ret)
		return fail(q, ret);
	/* The device's own limits: fail the request, keep the queue. */
	if (w.bytes > q->max_chain_bytes)
		return -EMSGSIZE;
	if (w.nr_seg > chain->iov_max)
		return -ENOBUFS;
	return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written_len)
{
	struct virtq_used_elem *e;

	if (q->broken)
		return -EIO;
	if (head >= q->size)
		return -ERANGE;
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, written_len, __ATOMIC_RELAXED);
	q->used_idx++;
	/* §2.7.8.2: the element is visible before the index that shows it. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* §2.7.7 (vring_need_event): has new_used passed event since old_used? */
static bool need_event(uint16_t event, uint16_t new_used, uint16_t old_used)
{
	return (uint16_t)(new_used - event - 1) < (uint16_t)(new_used - old_used);
}

bool virtq_need_interrupt(struct virtq *q, uint16_t old_used,
			  uint16_t new_used)
{
	uint16_t event;

	if (q->broken)
		return false;
	/*
	 * Full barrier: our used->idx store must be visible before we read
	 * what the driver asked, or we could both decide to wait (§2.7.14, §2.7.7).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* used_event sits right after avail->ring[size] (§2.7.6). */
	event = __atomic_load_n(&q->avail->ring[q->size], __ATOMIC_RELAXED);
	return need_event(event, new_used, old_used);
}

bool virtq_set_notification(struct virtq *q, bool enable)
{
	uint16_t *avail_event = (uint16_t *)&q->used->ring[q->size];
	uint16_t flags;

	if (q->event_idx) {
		/* Notify us when you make entry last_avail available. */
		if (enable)
			__atomic_store_n(avail_event, q->last_avail,
					 __ATOMIC_RELAXED);
	} else {
		flags = __atomic_load_n(&q->used->flags, __ATOMIC_RELAXED);
		if (enable)
			flags &= ~VIRTQ_USED_F_NO_NOTIFY;
		else
			flags |= VIRTQ_USED_F_NO_NOTIFY;
		__atomic_store_n(&q->used->flags, flags, __ATOMIC_RELAXED);
	}
	if (!enable || q->broken)
		return false;
	/*
	 * A driver that added buffers before seeing our store did not
	 * notify: look again after a full barrier (§2.7.13.4's pattern).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) !=
	       q->last_avail;
}
