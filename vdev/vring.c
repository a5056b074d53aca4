/* SPDX-License-Identifier: MIT */
/*
 * Shadow memory: the memory argo-vdevd shares with one back-end connection
 * (VHOST_USER_SET_MEM_TABLE). The driver's memory never reaches the driver
 * domain, so each chain is rebuilt here: its bytes in a slot of its own,
 * described by an indirect descriptor table, published on a split ring the
 * back end reads. A new connection gets a new memfd, so that a back end we
 * gave up on can never write into memory a later chain uses.
 *
 * Layout, per queue q: the ring (descriptors, available ring, used ring),
 * page aligned, then qsize slots; slot i is chain id i's: its indirect
 * table (max_segs entries), then its bytes, out then in, end to end.
 * "Guest physical" addresses given to the back end are offsets in the memfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev.h"

#define PAGE 4096u

/* Split ring layouts (virtio 1.x, little endian on x86). */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vdesc) == 16, "virtq_desc");

#define VDESC_F_NEXT     1
#define VDESC_F_WRITE    2
#define VDESC_F_INDIRECT 4

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

int shadow_create(struct shadow *s, uint32_t nqueues, uint32_t qsize, uint32_t max_segs,
                  uint32_t max_chain)
{
	uint64_t avail_end, used_off;
	void *p;

	memset(s, 0, sizeof(*s));
	s->memfd = -1;
	s->nqueues = nqueues;
	s->qsize = qsize;
	s->max_segs = max_segs;
	avail_end = 16ull * qsize + 4 + 2ull * qsize + 2;
	used_off = align_up(avail_end, 4);
	s->ring_bytes = align_up(used_off + 4 + 8ull * qsize + 2, PAGE);
	s->table_bytes = align_up(16ull * max_segs, 64);
	s->slot_bytes = align_up(s->table_bytes + max_chain, PAGE);
	s->size = nqueues * (s->ring_bytes + qsize * s->slot_bytes);
	s->memfd = memfd_create("argo-vdevd-shadow", MFD_CLOEXEC);
	if (s->memfd < 0)
		return -errno;
	/* Sparse: pages exist once a chain of that size has used them. */
	if (ftruncate(s->memfd, (off_t)s->size) < 0)
		goto fail;
	p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
	if (p == MAP_FAILED)
		goto fail;
	s->base = p;
	return 0;
fail : {
	int err = -errno;

	close(s->memfd);
	s->memfd = -1;
	return err;
}
}

void shadow_destroy(struct shadow *s)
{
	if (s->base)
		munmap(s->base, s->size);
	if (s->memfd >= 0)
		close(s->memfd);
	s->base = NULL;
	s->memfd = -1;
}

uint64_t shadow_ring_off(const struct shadow *s, uint32_t q)
{
	return q * (s->ring_bytes + s->qsize * s->slot_bytes);
}

uint64_t shadow_slot_off(const struct shadow *s, uint32_t q, uint32_t id)
{
	return shadow_ring_off(s, q) + s->ring_bytes + id * s->slot_bytes;
}

void svring_init(struct svring *r, const struct shadow *s, uint32_t q, uint32_t num)
{
	uint64_t off = shadow_ring_off(s, q);

	r->num = num;
	r->desc_off = off;
	r->avail_off = off + 16ull * num;
	r->used_off = off + align_up(16ull * num + 4 + 2ull * num + 2, 4);
	r->next_avail = 0;
	r->last_used = 0;
	/* A ring the back end sees for the first time starts empty. */
	memset(shadow_ptr(s, off), 0, s->ring_bytes);
}

void svring_table(const struct shadow *s, uint32_t q, uint16_t id, const uint8_t *seg_len,
                  uint16_t n_out, uint16_t n_in)
{
	uint64_t slot = shadow_slot_off(s, q, id), data = slot + s->table_bytes;
	struct vdesc *table = (struct vdesc *)shadow_ptr(s, slot);
	uint32_t i, nseg = (uint32_t)n_out + n_in;

	for (i = 0; i < nseg; i++) {
		uint32_t len = vmsg_le32(seg_len, i);

		table[i].addr = data;
		table[i].len = len;
		table[i].flags = (uint16_t)((i + 1 < nseg ? VDESC_F_NEXT : 0) |
		                            (i >= n_out ? VDESC_F_WRITE : 0));
		table[i].next = (uint16_t)(i + 1 < nseg ? i + 1 : 0);
		data += len;
	}
}

void svring_publish(struct svring *r, const struct shadow *s, uint32_t q, uint16_t id,
                    uint32_t nseg)
{
	struct vdesc *desc = (struct vdesc *)shadow_ptr(s, r->desc_off);
	uint16_t *avail = (uint16_t *)shadow_ptr(s, r->avail_off);

	desc[id].addr = shadow_slot_off(s, q, id);
	desc[id].len = nseg * (uint32_t)sizeof(struct vdesc);
	desc[id].flags = VDESC_F_INDIRECT;
	desc[id].next = 0;
	/* avail: flags (0), idx, ring[num]. */
	avail[2 + r->next_avail % r->num] = id;
	r->next_avail++;
	/* The back end reads the entry, the descriptors and the chain's bytes
	 * once it sees idx: publish idx last, with release order. */
	__atomic_store_n(&avail[1], r->next_avail, __ATOMIC_RELEASE);
}

int svring_used(struct svring *r, const struct shadow *s, uint32_t *id, uint32_t *len)
{
	const uint16_t *used = (const uint16_t *)shadow_ptr(s, r->used_off);
	const uint32_t *elem;
	/* Pairs with the back end's release of used->idx after it wrote the
	 * element (and the in buffers it describes). */
	uint16_t idx = __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);

	if (idx == r->last_used)
		return 0;
	elem = (const uint32_t *)shadow_ptr(s, r->used_off + 4 + 8ull * (r->last_used % r->num));
	*id = elem[0];
	*len = elem[1];
	r->last_used++;
	return 1;
}
