// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of userland/virtio/virtq.c, the device side of a split
 * virtqueue, built on the build machine. The test plays the driver in a
 * "guest RAM" mmap'ed between two PROT_NONE guard pages and registered at
 * a guest-physical base that is not 0, so a pointer built from a guest
 * value without the bounds check, or an access past RAM, ends the test
 * with SIGSEGV. Well-behaved chains (plain, several, wrapping 16-bit
 * indices, indirect) come out with the right segments, the used ring gets
 * what was pushed, interrupt suppression follows the flags and event
 * indices; each hostile-driver rule gets its exact error and breaks the
 * queue (or, for the device's own limits, fails only that request).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "virtio/virtq.h"

#define RAM_SIZE	(2u << 20)
#define GPA_BASE	0x40000000ull
#define QSIZE		16

/* Where the test puts things, as offsets into RAM. */
#define DESC_OFF	0x0000
#define AVAIL_OFF	0x1000
#define USED_OFF	0x2000
#define TABLE_OFF	0x4000	/* indirect tables */
#define BUF_OFF		0x10000	/* buffers: 0x1000 apart */

#define GPA(off)	(GPA_BASE + (off))
#define BUF(i)		GPA(BUF_OFF + (i) * 0x1000ull)

FIXTURE(vq) {
	uint8_t *map;		/* guard page, RAM, guard page */
	size_t map_len;
	uint8_t *ram;
	struct virtq_mem_region region;
	struct virtq_mem mem;
	struct virtq q;
	struct virtq_iov iov[8];
	struct virtq_chain c;
	uint16_t avail_idx;	/* the driver's copy */
};

static void *hva(FIXTURE_DATA(vq) *self, uint64_t gpa)
{
	return self->ram + (gpa - GPA_BASE);
}

static struct virtq_desc *desc(FIXTURE_DATA(vq) *self, unsigned int i)
{
	return (struct virtq_desc *)(self->ram + DESC_OFF) + i;
}

static struct virtq_desc *table(FIXTURE_DATA(vq) *self, unsigned int i)
{
	return (struct virtq_desc *)(self->ram + TABLE_OFF) + i;
}

static struct virtq_avail *avail(FIXTURE_DATA(vq) *self)
{
	return (struct virtq_avail *)(self->ram + AVAIL_OFF);
}

static struct virtq_used *used(FIXTURE_DATA(vq) *self)
{
	return (struct virtq_used *)(self->ram + USED_OFF);
}

static void set_desc(struct virtq_desc *d, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* The driver makes head available and publishes avail->idx. */
static void publish(FIXTURE_DATA(vq) *self, uint16_t head)
{
	avail(self)->ring[self->avail_idx % QSIZE] = head;
	self->avail_idx++;
	__atomic_store_n(&avail(self)->idx, self->avail_idx, __ATOMIC_RELEASE);
}

static int init(FIXTURE_DATA(vq) *self, uint64_t features)
{
	return virtq_init(&self->q, &self->mem, QSIZE, GPA(DESC_OFF),
			  GPA(AVAIL_OFF), GPA(USED_OFF), features);
}

#define F_INDIRECT	(1ull << VIRTIO_F_INDIRECT_DESC)
#define F_EVENT_IDX	(1ull << VIRTIO_F_EVENT_IDX)

FIXTURE_SETUP(vq)
{
	long page = sysconf(_SC_PAGESIZE);

	self->map_len = RAM_SIZE + 2 * page;
	self->map = mmap(NULL, self->map_len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->ram = self->map + page;
	ASSERT_EQ(0, mprotect(self->ram, RAM_SIZE, PROT_READ | PROT_WRITE));
	self->region.gpa = GPA_BASE;
	self->region.size = RAM_SIZE;
	self->region.hva = self->ram;
	self->mem.regions = &self->region;
	self->mem.nr_regions = 1;
	self->avail_idx = 0;
	ASSERT_EQ(0, init(self, F_INDIRECT));
	memset(self->iov, 0, sizeof(self->iov));
	memset(&self->c, 0, sizeof(self->c));
	self->c.iov = self->iov;
	self->c.iov_max = 8;
}

FIXTURE_TEARDOWN(vq)
{
	munmap(self->map, self->map_len);
}

/* The queue must be broken with err, and stay so. */
#define ASSERT_BROKEN(err) do {						\
	ASSERT_EQ(err, virtq_pop(&self->q, &self->c));			\
	ASSERT_TRUE(virtq_broken(&self->q));				\
	ASSERT_EQ(-EIO, virtq_pop(&self->q, &self->c));			\
	ASSERT_EQ(-EIO, virtq_push(&self->q, 0, 0));			\
} while (0)

/* ---- guest memory view ---- */

TEST_F(vq, mem_map_bounds)
{
	const uint64_t end = GPA_BASE + RAM_SIZE;

	ASSERT_EQ(self->ram, virtq_mem_map(&self->mem, GPA_BASE, 1));
	ASSERT_EQ(self->ram, virtq_mem_map(&self->mem, GPA_BASE, RAM_SIZE));
	ASSERT_EQ(self->ram + RAM_SIZE - 1,
		  virtq_mem_map(&self->mem, end - 1, 1));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, end - 1, 2));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, end, 1));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, GPA_BASE - 1, 1));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, GPA_BASE - 1, 2));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, GPA_BASE, RAM_SIZE + 1));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, GPA_BASE, 0));
	/* gpa + len wraps to inside RAM. */
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, GPA_BASE + 16,
				      UINT64_MAX - 15));
	ASSERT_EQ(NULL, virtq_mem_map(&self->mem, UINT64_MAX, 2));
}

/* Two regions adjacent in guest memory, apart in host memory. */
TEST_F(vq, mem_map_no_crossing_regions)
{
	struct virtq_mem_region r[2] = {
		{ GPA_BASE, 0x1000, self->ram },
		{ GPA_BASE + 0x1000, 0x1000, self->ram + 0x8000 },
	};
	struct virtq_mem mem = { r, 2 };

	ASSERT_EQ(self->ram + 0xff0,
		  virtq_mem_map(&mem, GPA_BASE + 0xff0, 0x10));
	ASSERT_EQ(self->ram + 0x8000,
		  virtq_mem_map(&mem, GPA_BASE + 0x1000, 0x10));
	ASSERT_EQ(NULL, virtq_mem_map(&mem, GPA_BASE + 0xff0, 0x20));
}

/* ---- virtq_init ---- */

TEST_F(vq, init_size)
{
	static const unsigned int bad[] = { 0, 3, 24, 32769, 65536, 1u << 31 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, bad[i],
					      GPA(0), GPA(0x80000),
					      GPA(0x100000), 0));
	ASSERT_EQ(0, virtq_init(&self->q, &self->mem, 1, GPA(0), GPA(0x80000),
				GPA(0x100000), 0));
	ASSERT_EQ(0, virtq_init(&self->q, &self->mem, 32768, GPA(0),
				GPA(0x80000), GPA(0x100000), 0));
	ASSERT_EQ(32768, self->q.size);
}

TEST_F(vq, init_alignment)
{
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      GPA(DESC_OFF + 8), GPA(AVAIL_OFF),
				      GPA(USED_OFF), 0));
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      GPA(DESC_OFF), GPA(AVAIL_OFF + 1),
				      GPA(USED_OFF), 0));
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      GPA(DESC_OFF), GPA(AVAIL_OFF),
				      GPA(USED_OFF + 2), 0));
	/* The smallest alignments are enough. */
	ASSERT_EQ(0, virtq_init(&self->q, &self->mem, QSIZE,
				GPA(DESC_OFF + 16), GPA(AVAIL_OFF + 2),
				GPA(USED_OFF + 4), 0));
}

/*
 * A region whose host mapping is 8 bytes off the guest's alignment: a ring
 * must be aligned both in the guest (§2.7) and on the host (atomics).
 */
TEST_F(vq, init_alignment_guest_and_host)
{
	struct virtq_mem_region r = { GPA_BASE, RAM_SIZE - 8, self->ram + 8 };
	struct virtq_mem mem = { &r, 1 };

	/* Aligned in the guest, not on the host. */
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &mem, QSIZE, GPA(DESC_OFF),
				      GPA(AVAIL_OFF), GPA(USED_OFF), 0));
	/* Aligned on the host, not in the guest. */
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &mem, QSIZE,
				      GPA(DESC_OFF + 8), GPA(AVAIL_OFF),
				      GPA(USED_OFF), 0));
}

/* Each ring entirely in RAM, to its last byte (event fields included). */
TEST_F(vq, init_rings_in_ram)
{
	const uint64_t end = GPA_BASE + RAM_SIZE;

	ASSERT_EQ(0, virtq_init(&self->q, &self->mem, QSIZE,
				end - VIRTQ_DESC_BYTES(QSIZE),
				end - 0x1000 - VIRTQ_AVAIL_BYTES(QSIZE),
				(end - 0x2000 - VIRTQ_USED_BYTES(QSIZE)) & ~3ull,
				0));
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      end - VIRTQ_DESC_BYTES(QSIZE) + 16,
				      GPA(AVAIL_OFF), GPA(USED_OFF), 0));
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      GPA(DESC_OFF),
				      end - VIRTQ_AVAIL_BYTES(QSIZE) + 2,
				      GPA(USED_OFF), 0));
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      GPA(DESC_OFF), GPA(AVAIL_OFF),
				      end - VIRTQ_USED_BYTES(QSIZE) + 4 - 2,
				      0));
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      GPA_BASE - 0x1000, GPA(AVAIL_OFF),
				      GPA(USED_OFF), 0));
	/* A ring that would wrap around 2^64. */
	ASSERT_EQ(-EINVAL, virtq_init(&self->q, &self->mem, QSIZE,
				      0xfffffffffffffff0ull, GPA(AVAIL_OFF),
				      GPA(USED_OFF), 0));
}

/* ---- well-behaved drivers ---- */

TEST_F(vq, empty)
{
	ASSERT_EQ(0, virtq_pop(&self->q, &self->c));
	ASSERT_FALSE(virtq_broken(&self->q));
}

/* Two readable then two writable segments, chained out of index order. */
TEST_F(vq, normal_chain)
{
	memcpy(hva(self, BUF(0)), "hello", 5);
	memcpy(hva(self, BUF(1)), "world!", 6);
	set_desc(desc(self, 3), BUF(0), 5, VIRTQ_DESC_F_NEXT, 7);
	set_desc(desc(self, 7), BUF(1), 6, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(2), 100,
		 VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 15);
	set_desc(desc(self, 15), BUF(3), 1, VIRTQ_DESC_F_WRITE, 0);
	publish(self, 3);

	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(3, self->c.head);
	ASSERT_EQ(2, self->c.nr_out);
	ASSERT_EQ(2, self->c.nr_in);
	ASSERT_EQ(11, self->c.out_bytes);
	ASSERT_EQ(101, self->c.in_bytes);
	ASSERT_EQ(5, self->iov[0].len);
	ASSERT_EQ(0, memcmp(self->iov[0].base, "hello", 5));
	ASSERT_EQ(6, self->iov[1].len);
	ASSERT_EQ(0, memcmp(self->iov[1].base, "world!", 6));
	ASSERT_EQ(hva(self, BUF(2)), self->iov[2].base);
	ASSERT_EQ(100, self->iov[2].len);
	ASSERT_EQ(hva(self, BUF(3)), self->iov[3].base);
	ASSERT_EQ(1, self->iov[3].len);
	/* What the device writes lands in the driver's buffer. */
	memcpy(self->iov[3].base, "S", 1);
	ASSERT_EQ('S', *(char *)hva(self, BUF(3)));
	ASSERT_EQ(0, virtq_pop(&self->q, &self->c));
	ASSERT_FALSE(virtq_broken(&self->q));
}

TEST_F(vq, several_chains_in_order)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		set_desc(desc(self, 2 * i), BUF(i), 10 + i, VIRTQ_DESC_F_NEXT,
			 2 * i + 1);
		set_desc(desc(self, 2 * i + 1), BUF(8 + i), 20 + i,
			 VIRTQ_DESC_F_WRITE, 0);
	}
	publish(self, 4);
	publish(self, 0);
	publish(self, 2);
	for (i = 0; i < 3; i++) {
		static const unsigned int order[] = { 4, 0, 2 };
		unsigned int h = order[i];

		ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
		ASSERT_EQ(h, self->c.head);
		ASSERT_EQ(1, self->c.nr_out);
		ASSERT_EQ(1, self->c.nr_in);
		ASSERT_EQ(hva(self, BUF(h / 2)), self->iov[0].base);
		ASSERT_EQ(10 + h / 2, self->iov[0].len);
		ASSERT_EQ(hva(self, BUF(8 + h / 2)), self->iov[1].base);
		ASSERT_EQ(20 + h / 2, self->iov[1].len);
	}
	ASSERT_EQ(0, virtq_pop(&self->q, &self->c));
}

/* The ring as it is after nothing but a push: the used element, the idx. */
TEST_F(vq, used_ring_after_push)
{
	set_desc(desc(self, 5), BUF(0), 64, VIRTQ_DESC_F_WRITE, 0);
	set_desc(desc(self, 6), BUF(1), 64, VIRTQ_DESC_F_WRITE, 0);
	publish(self, 5);
	publish(self, 6);
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(0, used(self)->idx);
	ASSERT_EQ(0, virtq_push(&self->q, 6, 33));
	ASSERT_EQ(1, used(self)->idx);
	ASSERT_EQ(6, used(self)->ring[0].id);
	ASSERT_EQ(33, used(self)->ring[0].len);
	ASSERT_EQ(0, virtq_push(&self->q, 5, 64));
	ASSERT_EQ(2, used(self)->idx);
	ASSERT_EQ(5, used(self)->ring[1].id);
	ASSERT_EQ(64, used(self)->ring[1].len);
	/* A device bug, not the driver's: refused, queue fine. */
	ASSERT_EQ(-ERANGE, virtq_push(&self->q, QSIZE, 0));
	ASSERT_EQ(2, used(self)->idx);
	ASSERT_FALSE(virtq_broken(&self->q));
}

/* Indices near 65535 wrap to 0 on both rings; ring slots wrap modulo size. */
TEST_F(vq, index_wraparound)
{
	const uint16_t start = 65533;
	unsigned int i;

	/* As if the queue had already carried 65533 requests. */
	self->avail_idx = start;
	avail(self)->idx = start;
	used(self)->idx = start;
	self->q.last_avail = self->q.shadow_avail = self->q.used_idx = start;

	for (i = 0; i < 6; i++) {
		set_desc(desc(self, i), BUF(i), 100 + i, 0, 0);
		publish(self, i);
	}
	ASSERT_EQ(3, avail(self)->idx);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
		ASSERT_EQ(i, self->c.head);
		ASSERT_EQ(100 + i, self->iov[0].len);
		ASSERT_EQ(0, virtq_push(&self->q, i, i));
	}
	ASSERT_EQ(0, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(3, used(self)->idx);
	for (i = 0; i < 6; i++) {
		uint16_t slot = (uint16_t)(start + i) % QSIZE;

		ASSERT_EQ(i, used(self)->ring[slot].id);
		ASSERT_EQ(i, used(self)->ring[slot].len);
	}
	ASSERT_FALSE(virtq_broken(&self->q));
}

/* One descriptor pointing to a table: 1 readable, 2 writable, reordered. */
TEST_F(vq, indirect)
{
	set_desc(table(self, 0), BUF(0), 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(table(self, 2), BUF(1), 32,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(table(self, 1), BUF(2), 48, VIRTQ_DESC_F_WRITE, 0);
	/* F_WRITE on the indirect descriptor is ignored (§2.7.5.3.2). */
	set_desc(desc(self, 9), GPA(TABLE_OFF), 3 * 16,
		 VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	publish(self, 9);

	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(9, self->c.head);
	ASSERT_EQ(1, self->c.nr_out);
	ASSERT_EQ(2, self->c.nr_in);
	ASSERT_EQ(hva(self, BUF(0)), self->iov[0].base);
	ASSERT_EQ(16, self->iov[0].len);
	ASSERT_EQ(hva(self, BUF(1)), self->iov[1].base);
	ASSERT_EQ(32, self->iov[1].len);
	ASSERT_EQ(hva(self, BUF(2)), self->iov[2].base);
	ASSERT_EQ(48, self->iov[2].len);
	ASSERT_FALSE(virtq_broken(&self->q));
}

/* §2.7.5.3.2: plain descriptors, then one indirect one, in one chain. */
TEST_F(vq, direct_then_indirect)
{
	set_desc(desc(self, 0), BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), GPA(TABLE_OFF), 2 * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(table(self, 0), BUF(1), 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(table(self, 1), BUF(2), 24, VIRTQ_DESC_F_WRITE, 0);
	publish(self, 0);

	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(2, self->c.nr_out);
	ASSERT_EQ(1, self->c.nr_in);
	ASSERT_EQ(hva(self, BUF(0)), self->iov[0].base);
	ASSERT_EQ(hva(self, BUF(1)), self->iov[1].base);
	ASSERT_EQ(hva(self, BUF(2)), self->iov[2].base);
	ASSERT_EQ(24, self->iov[2].len);
}

/*
 * An indirect table at an address that is not 8-byte aligned, long enough
 * that next needs its high byte (every byte of a descriptor counts).
 */
TEST_F(vq, indirect_unaligned_table)
{
	struct virtq_desc d[2];

	self->q.max_indirect = 300;
	set_desc(&d[0], BUF(0), 5, VIRTQ_DESC_F_NEXT, 299);
	set_desc(&d[1], BUF(1), 7, VIRTQ_DESC_F_WRITE, 0);
	memcpy(self->ram + TABLE_OFF + 3, &d[0], sizeof(d[0]));
	memcpy(self->ram + TABLE_OFF + 3 + 299 * 16, &d[1], sizeof(d[1]));
	set_desc(desc(self, 0), GPA(TABLE_OFF + 3), 300 * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);

	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(1, self->c.nr_out);
	ASSERT_EQ(1, self->c.nr_in);
	ASSERT_EQ(hva(self, BUF(0)), self->iov[0].base);
	ASSERT_EQ(5, self->iov[0].len);
	ASSERT_EQ(hva(self, BUF(1)), self->iov[1].base);
	ASSERT_EQ(7, self->iov[1].len);
}

/* ---- notification suppression ---- */

TEST_F(vq, interrupt_flags)
{
	avail(self)->flags = 0;
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 0, 1));
	avail(self)->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 0, 1));
	/* Without EVENT_IDX, used_event means nothing. */
	avail(self)->flags = 0;
	avail(self)->ring[QSIZE] = 100;
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 0, 1));
}

TEST_F(vq, interrupt_event_idx)
{
	uint16_t *used_event = &avail(self)->ring[QSIZE];

	ASSERT_EQ(0, init(self, F_EVENT_IDX));
	/* The flag is ignored with EVENT_IDX (§2.7.7). */
	avail(self)->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	*used_event = 0;
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 0, 1));
	*used_event = 5;
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 0, 3));
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 0, 5));
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 0, 6));
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 5, 6));
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 6, 9));
	/* Across the 16-bit wrap. */
	*used_event = 65535;
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 65534, 1));
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 65535, 0));
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 65533, 65535));
	*used_event = 1;
	ASSERT_TRUE(virtq_need_interrupt(&self->q, 65534, 2));
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 65534, 1));
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 2, 5));
}

TEST_F(vq, set_notification_flags)
{
	ASSERT_FALSE(virtq_set_notification(&self->q, false));
	ASSERT_EQ(VIRTQ_USED_F_NO_NOTIFY, used(self)->flags);
	ASSERT_FALSE(virtq_set_notification(&self->q, true));
	ASSERT_EQ(0, used(self)->flags);
	/* Something came in while notifications were off. */
	virtq_set_notification(&self->q, false);
	set_desc(desc(self, 0), BUF(0), 1, 0, 0);
	publish(self, 0);
	ASSERT_TRUE(virtq_set_notification(&self->q, true));
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_FALSE(virtq_set_notification(&self->q, true));
}

TEST_F(vq, set_notification_event_idx)
{
	uint16_t *avail_event = (uint16_t *)&used(self)->ring[QSIZE];
	unsigned int i;

	ASSERT_EQ(0, init(self, F_EVENT_IDX));
	*avail_event = 999;
	set_desc(desc(self, 0), BUF(0), 1, 0, 0);
	for (i = 0; i < 3; i++)
		publish(self, 0);
	ASSERT_TRUE(virtq_set_notification(&self->q, true));
	ASSERT_EQ(0, *avail_event);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_FALSE(virtq_set_notification(&self->q, true));
	ASSERT_EQ(3, *avail_event);
	ASSERT_EQ(0, used(self)->flags);
}

/* ---- hostile drivers: the queue breaks ---- */

TEST_F(vq, loop_two)
{
	set_desc(desc(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 1, VIRTQ_DESC_F_NEXT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-ELOOP);
}

TEST_F(vq, loop_self)
{
	set_desc(desc(self, 3), BUF(0), 1, VIRTQ_DESC_F_NEXT, 3);
	publish(self, 3);
	ASSERT_BROKEN(-ELOOP);
}

/* A chain of exactly size descriptors is fine; the walk stops there. */
TEST_F(vq, longest_chain)
{
	unsigned int i;

	for (i = 0; i < QSIZE; i++)
		set_desc(desc(self, i), BUF(i), 1,
			 i < QSIZE - 1 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	self->c.iov_max = 1;	/* must not be written past */
	publish(self, 0);
	ASSERT_EQ(-ENOBUFS, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(QSIZE, self->c.nr_out);
	ASSERT_EQ(NULL, self->iov[1].base);
	ASSERT_FALSE(virtq_broken(&self->q));
	/* Make the last one loop back to the first: size + 1 visits. */
	desc(self, QSIZE - 1)->flags = VIRTQ_DESC_F_NEXT;
	desc(self, QSIZE - 1)->next = 0;
	publish(self, 0);
	ASSERT_BROKEN(-ELOOP);
}

TEST_F(vq, loop_in_indirect_table)
{
	set_desc(table(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(table(self, 1), BUF(1), 1, VIRTQ_DESC_F_NEXT, 2);
	set_desc(table(self, 2), BUF(2), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 0), GPA(TABLE_OFF), 3 * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-ELOOP);
}

TEST_F(vq, next_out_of_range)
{
	set_desc(desc(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, QSIZE);
	publish(self, 0);
	ASSERT_BROKEN(-ERANGE);
}

TEST_F(vq, next_out_of_range_indirect)
{
	/* Within the queue's size but past the table's 2 entries. */
	set_desc(table(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 2);
	set_desc(table(self, 2), BUF(1), 1, 0, 0);
	set_desc(desc(self, 0), GPA(TABLE_OFF), 2 * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-ERANGE);
}

TEST_F(vq, head_out_of_range)
{
	publish(self, QSIZE);
	ASSERT_BROKEN(-ERANGE);
}

TEST_F(vq, head_out_of_range_max)
{
	publish(self, 0xffff);
	ASSERT_BROKEN(-ERANGE);
}

/* size entries ahead is allowed; size + 1 is not. */
TEST_F(vq, avail_idx_too_far)
{
	unsigned int i;

	set_desc(desc(self, 0), BUF(0), 1, 0, 0);
	for (i = 0; i < QSIZE; i++)
		publish(self, 0);
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_FALSE(virtq_broken(&self->q));

	for (i = 1; i < QSIZE; i++)
		ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(0, virtq_pop(&self->q, &self->c));
	/* Now at 16: 16 + size + 1 claims one entry more than can exist. */
	avail(self)->idx = QSIZE + QSIZE + 1;
	ASSERT_BROKEN(-EOVERFLOW);
}

TEST_F(vq, avail_idx_backwards)
{
	avail(self)->idx = 0xffff;	/* 65535 ahead of 0 */
	ASSERT_BROKEN(-EOVERFLOW);
}

TEST_F(vq, indirect_len_zero)
{
	set_desc(desc(self, 0), GPA(TABLE_OFF), 0, VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EINVAL);
}

TEST_F(vq, indirect_len_not_multiple_of_16)
{
	set_desc(table(self, 0), BUF(0), 1, 0, 0);
	set_desc(table(self, 1), BUF(1), 1, 0, 0);
	set_desc(desc(self, 0), GPA(TABLE_OFF), 24, VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EINVAL);
}

TEST_F(vq, indirect_too_large)
{
	unsigned int i;

	for (i = 0; i <= QSIZE; i++)
		set_desc(table(self, i), BUF(0), 1, 0, 0);
	/* max_indirect (= size) entries are fine... */
	set_desc(desc(self, 0), GPA(TABLE_OFF), QSIZE * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));
	/* ...one more is not. */
	desc(self, 0)->len = (QSIZE + 1) * 16;
	publish(self, 0);
	ASSERT_BROKEN(-EINVAL);
}

/* A table as long as a 32-bit length allows: refused before mapping. */
TEST_F(vq, indirect_huge)
{
	set_desc(desc(self, 0), GPA(TABLE_OFF), 0xfffffff0,
		 VIRTQ_DESC_F_INDIRECT, 0);
	self->q.max_indirect = 0x0fffffff;
	publish(self, 0);
	ASSERT_BROKEN(-EFAULT);
}

TEST_F(vq, indirect_nested)
{
	set_desc(table(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(table(self, 1), GPA(TABLE_OFF), 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(desc(self, 0), GPA(TABLE_OFF), 2 * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EINVAL);
}

/* §2.7.5.3.1: F_INDIRECT and F_NEXT together are refused. */
TEST_F(vq, indirect_with_next)
{
	set_desc(table(self, 0), BUF(0), 1, 0, 0);
	set_desc(desc(self, 0), GPA(TABLE_OFF), 16,
		 VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 1, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EINVAL);
}

TEST_F(vq, indirect_not_negotiated)
{
	ASSERT_EQ(0, init(self, 0));
	set_desc(table(self, 0), BUF(0), 1, 0, 0);
	set_desc(desc(self, 0), GPA(TABLE_OFF), 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EINVAL);
}

/* The table's last entry would be past RAM, next to the guard page. */
TEST_F(vq, indirect_table_outside_ram)
{
	const uint64_t end = GPA_BASE + RAM_SIZE;

	set_desc((struct virtq_desc *)hva(self, end - 16), BUF(0), 1,
		 VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 0), end - 16, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EFAULT);
}

TEST_F(vq, readable_after_writable)
{
	set_desc(desc(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 1,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	set_desc(desc(self, 2), BUF(2), 1, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EPROTO);
}

/* The order holds across the step into an indirect table. */
TEST_F(vq, readable_after_writable_indirect)
{
	set_desc(desc(self, 0), BUF(0), 1,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), GPA(TABLE_OFF), 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(table(self, 0), BUF(1), 1, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EPROTO);
}

TEST_F(vq, buffer_past_ram_end)
{
	set_desc(desc(self, 0), GPA_BASE + RAM_SIZE - 8, 16, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EFAULT);
}

TEST_F(vq, buffer_below_ram)
{
	set_desc(desc(self, 0), GPA_BASE - 8, 16, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EFAULT);
}

/* addr + len wraps past 2^64 to an address inside RAM. */
TEST_F(vq, buffer_wraps)
{
	set_desc(desc(self, 0), 0xfffffffffffffff0ull, 0x20 + GPA_BASE, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EFAULT);
}

TEST_F(vq, buffer_len_zero)
{
	set_desc(desc(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 0, 0, 0);
	publish(self, 0);
	ASSERT_BROKEN(-EFAULT);
}

/* Over 2^32 bytes in one chain (§2.7.5), via 1 MiB segments that overlap. */
TEST_F(vq, chain_over_4g)
{
	const unsigned int n = 4097;
	unsigned int i;

	self->q.max_indirect = n;
	for (i = 0; i < n; i++)
		set_desc(table(self, i), GPA_BASE, 1u << 20,
			 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, i + 1);
	table(self, n - 1)->flags = VIRTQ_DESC_F_WRITE;
	set_desc(desc(self, 0), GPA(TABLE_OFF), n * 16,
		 VIRTQ_DESC_F_INDIRECT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-E2BIG);
}

/* ---- the device's own limits: the request fails, the queue does not ---- */

TEST_F(vq, chain_over_cap)
{
	self->q.max_chain_bytes = 8192;
	set_desc(desc(self, 0), BUF(0), 4096, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 4097, VIRTQ_DESC_F_WRITE, 0);
	set_desc(desc(self, 2), BUF(2), 4096, VIRTQ_DESC_F_NEXT, 3);
	set_desc(desc(self, 3), BUF(3), 4096, VIRTQ_DESC_F_WRITE, 0);
	publish(self, 0);
	publish(self, 2);
	ASSERT_EQ(-EMSGSIZE, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(0, self->c.head);
	ASSERT_FALSE(virtq_broken(&self->q));
	ASSERT_EQ(0, virtq_push(&self->q, self->c.head, 0));
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));	/* exactly the cap */
	ASSERT_EQ(2, self->c.head);
	ASSERT_EQ(1, used(self)->idx);
	ASSERT_EQ(0, used(self)->ring[0].id);
	ASSERT_EQ(0, used(self)->ring[0].len);
}

TEST_F(vq, too_many_segments)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		self->iov[i].len = 0xdead;
	self->c.iov_max = 2;
	set_desc(desc(self, 0), BUF(0), 1, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 1, VIRTQ_DESC_F_NEXT, 2);
	set_desc(desc(self, 2), BUF(2), 1, VIRTQ_DESC_F_WRITE, 0);
	publish(self, 0);
	publish(self, 1);
	ASSERT_EQ(-ENOBUFS, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(0, self->c.head);
	for (i = 2; i < 8; i++)
		ASSERT_EQ(0xdead, self->iov[i].len);
	ASSERT_FALSE(virtq_broken(&self->q));
	ASSERT_EQ(1, virtq_pop(&self->q, &self->c));	/* exactly 2 */
	ASSERT_EQ(1, self->c.head);
}

/* A structural error wins over a device limit: the queue breaks. */
TEST_F(vq, structure_before_limits)
{
	self->c.iov_max = 1;
	self->q.max_chain_bytes = 1;
	set_desc(desc(self, 0), BUF(0), 4096, VIRTQ_DESC_F_NEXT, 1);
	set_desc(desc(self, 1), BUF(1), 4096, VIRTQ_DESC_F_NEXT, 0);
	publish(self, 0);
	ASSERT_BROKEN(-ELOOP);
}

TEST_F(vq, set_broken)
{
	set_desc(desc(self, 0), BUF(0), 1, 0, 0);
	publish(self, 0);
	virtq_set_broken(&self->q);
	ASSERT_TRUE(virtq_broken(&self->q));
	ASSERT_EQ(-EIO, virtq_pop(&self->q, &self->c));
	ASSERT_EQ(-EIO, virtq_push(&self->q, 0, 0));
	ASSERT_FALSE(virtq_need_interrupt(&self->q, 0, 1));
	ASSERT_EQ(0, used(self)->idx);
}

TEST_HARNESS_MAIN
