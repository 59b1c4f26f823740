/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device side of a virtio 1.x split virtqueue (virtio 1.2 §2.7): the
 * descriptor table, available ring and used ring the driver placed in guest
 * RAM, read and written through a bounds-checked view of that RAM.
 *
 * The driver is not trusted. Every guest address and length goes through
 * virtq_mem_map(); each descriptor is read from guest memory once into a
 * local copy; every walk is bounded. A driver that breaks the ring's rules
 * gets the queue marked broken (virtq_broken()), which the device layer
 * turns into DEVICE_NEEDS_RESET (§2.1.2); nothing is read or written
 * outside the registered RAM. Two limits of the device itself (more
 * segments than the caller can hold, more bytes than max_chain_bytes) only
 * fail that one request; see virtq_pop().
 *
 * Not thread-safe: one thread owns a queue. Guest memory is little-endian,
 * as virtio 1.x requires, and so is the host (checked below).
 */
#ifndef VHM_VIRTQ_H
#define VHM_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtq.c reads the little-endian rings natively"
#endif

/* A range of guest-physical RAM and where the VMM mapped it. */
struct virtq_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

/* The guest RAM a queue may touch: regions that do not overlap. */
struct virtq_mem {
	const struct virtq_mem_region *regions;
	unsigned int nr_regions;
};

/*
 * The host address of guest range [gpa, gpa + len), or NULL unless the
 * whole range lies inside one region. len 0 and gpa + len past 2^64 give
 * NULL. Nothing else in virtq.c turns a guest address into a pointer.
 */
void *virtq_mem_map(const struct virtq_mem *mem, uint64_t gpa, uint64_t len);

/* The layout in guest memory (§2.7.5, §2.7.6, §2.7.8). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1
#define VIRTQ_USED_F_NO_NOTIFY		1

/* Feature bits (§6) that change how the ring is read. */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29

#define VIRTQ_MAX_SIZE		32768
/* The spec's chain cap is 2^32 bytes (§2.7.5); ours defaults lower. */
#define VIRTQ_DEFAULT_MAX_CHAIN_BYTES	(1ull << 30)

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* [size], then uint16_t used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];	/* [size], then uint16_t avail_event */
};

/* Bytes each part takes for a queue of size entries (§2.7, table). */
#define VIRTQ_DESC_BYTES(size)	(16ull * (size))
#define VIRTQ_AVAIL_BYTES(size)	(6ull + 2ull * (size))
#define VIRTQ_USED_BYTES(size)	(6ull + 8ull * (size))

/* One segment of a chain, in host memory (already bounds-checked). */
struct virtq_iov {
	void *base;
	uint32_t len;
};

/*
 * A popped request. The caller sets iov and iov_max; virtq_pop() fills
 * the rest: iov[0 .. nr_out) are readable (driver to device), then
 * iov[nr_out .. nr_out + nr_in) writable (device to driver).
 */
struct virtq_chain {
	struct virtq_iov *iov;
	unsigned int iov_max;

	uint16_t head;		/* to hand back to virtq_push() */
	unsigned int nr_out;
	unsigned int nr_in;
	uint64_t out_bytes;
	uint64_t in_bytes;
};

struct virtq {
	const struct virtq_mem *mem;
	unsigned int size;		/* a power of two */
	struct virtq_desc *desc;	/* host addresses of the three parts */
	struct virtq_avail *avail;
	struct virtq_used *used;

	uint16_t last_avail;	/* next avail ring entry to take */
	uint16_t shadow_avail;	/* avail->idx when last read */
	uint16_t used_idx;	/* the used->idx we last published */

	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_F_INDIRECT_DESC negotiated */
	bool broken;

	/* Device limits; virtq_init() sets defaults, callers may lower. */
	uint64_t max_chain_bytes;	/* at most 2^32 */
	unsigned int max_indirect;	/* entries in one indirect table */
};

/*
 * Set q up for the rings the driver programmed at desc_gpa, avail_gpa and
 * used_gpa with the negotiated features (bit n = feature n). 0, or
 * -EINVAL if size is not a power of two in 1..32768, a ring is misaligned
 * (16, 2 and 4 bytes, §2.7) or not entirely inside one RAM region.
 * Defaults: max_chain_bytes 1 GiB, max_indirect = size.
 */
int virtq_init(struct virtq *q, const struct virtq_mem *mem,
	       unsigned int size, uint64_t desc_gpa, uint64_t avail_gpa,
	       uint64_t used_gpa, uint64_t features);

/*
 * Take the next available chain. 1: chain is filled in. 0: the ring is
 * empty. Negative errno:
 *   -EIO        the queue was already broken;
 * the driver broke a rule; the queue is now broken:
 *   -EOVERFLOW  avail->idx moved more than size past the last seen index;
 *   -ERANGE     a head or next index >= size (or the indirect table's);
 *   -ELOOP      a chain visits more descriptors than its table holds;
 *   -EFAULT     a buffer or indirect table not entirely in RAM, or of
 *               length 0, or whose address + length wraps 64 bits;
 *   -EINVAL     a bad indirect descriptor: feature not negotiated, table
 *               length 0 / not a multiple of 16 / over max_indirect
 *               entries, F_NEXT with F_INDIRECT, F_INDIRECT in a table;
 *   -EPROTO     a readable descriptor after a writable one (§2.7.4.2);
 *   -E2BIG      the chain's total length is over 2^32 bytes (§2.7.5);
 * a device limit; only this request fails, the queue stays usable and
 * chain->head is valid (hand it back with virtq_push(q, head, 0)):
 *   -EMSGSIZE   total length over max_chain_bytes;
 *   -ENOBUFS    more segments than chain->iov_max.
 * The structure of the whole chain is checked before either limit.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);

/*
 * Hand head back with written_len bytes written into its writable part,
 * and publish it (release store of used->idx, §2.7.8.2). 0; -EIO if the
 * queue is broken; -ERANGE if head >= size (a device bug).
 */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written_len);

/*
 * Whether the driver wants an interrupt now that used->idx went from
 * old_used to new_used (§2.7.7): with VIRTIO_F_EVENT_IDX, if used_event
 * lies in [old_used, new_used) modulo 2^16 (vring_need_event); without,
 * unless avail->flags has VIRTQ_AVAIL_F_NO_INTERRUPT. False when broken.
 */
bool virtq_need_interrupt(struct virtq *q, uint16_t old_used,
			  uint16_t new_used);

/*
 * Ask the driver for notifications (enable) or to skip them (§2.7.10):
 * avail_event = the next index to take with VIRTIO_F_EVENT_IDX, else
 * VIRTQ_USED_F_NO_NOTIFY. After enabling, returns whether buffers came
 * in meanwhile (the caller must then pop them: no notification will come
 * for those).
 */
bool virtq_set_notification(struct virtq *q, bool enable);

/* The driver broke the ring's rules: stop using it until reset. */
void virtq_set_broken(struct virtq *q);

static inline bool virtq_broken(const struct virtq *q)
{
	return q->broken;
}

#endif /* VHM_VIRTQ_H */
