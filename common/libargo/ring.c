/* SPDX-License-Identifier: MIT */
/*
 * The Argo ring engine. See argo/ring.h for the rules and return conventions.
 *
 * Memory ordering, both sides of a ring:
 *   writer: load rx_ptr (acquire)  -> write message bytes -> store tx_ptr (release)
 *   reader: load tx_ptr (acquire)  -> read message bytes  -> store rx_ptr (release)
 * The writer's acquire pairs with the reader's release: the reader has
 * finished copying a message out before the writer can see its slots as free
 * and overwrite them. The reader's acquire pairs with the writer's release:
 * the bytes a new tx_ptr covers are visible before the reader looks at them.
 */
#include "argo/ring.h"

#include <errno.h>
#include <string.h>

static inline uint32_t load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Copy into the ring at offset 'at', wrapping at its end; returns the offset
 * just past the copied bytes (== len when the copy ended exactly at the end). */
static uint32_t copy_in_wrapping(uint8_t *ring, uint32_t len, uint32_t at, const void *src,
                                 uint32_t n)
{
	uint32_t to_end = len - at;

	if (n > to_end) {
		memcpy(ring + at, src, to_end);
		memcpy(ring, (const uint8_t *)src + to_end, n - to_end);
		return n - to_end;
	}
	memcpy(ring + at, src, n);
	return at + n;
}

static void copy_out_wrapping(void *dst, const uint8_t *ring, uint32_t len, uint32_t at, uint32_t n)
{
	uint32_t to_end = len - at;

	if (n > to_end) {
		memcpy(dst, ring + at, to_end);
		memcpy((uint8_t *)dst + to_end, ring, n - to_end);
		return;
	}
	memcpy(dst, ring + at, n);
}

int64_t argo_ring_insert(struct xen_argo_ring *ring, uint32_t len, uint32_t tx,
                         const struct xen_argo_addr *source, uint32_t message_type,
                         const struct iovec *iov, unsigned int niov, uint32_t payload_len)
{
	struct xen_argo_ring_message_header hdr;
	uint32_t rx, at;
	unsigned int i;

	if (argo_ring_too_large(payload_len, len))
		return -EMSGSIZE;

	rx = argo_ring_sanitise_ptr(load_acquire(&ring->rx_ptr), len);
	if (!argo_ring_fits(payload_len, argo_ring_free_space(rx, tx, len)))
		return -EAGAIN;

	memset(&hdr, 0, sizeof(hdr));
	hdr.len = payload_len + (uint32_t)sizeof(hdr);
	hdr.source = *source;
	hdr.message_type = message_type;

	/* tx is slot aligned and at least one slot short of the end, so the
	 * header lands contiguously. */
	memcpy(ring->ring + tx, &hdr, sizeof(hdr));
	at = tx + (uint32_t)sizeof(hdr);
	if (at == len)
		at = 0;

	for (i = 0; i < niov; i++) {
		if (iov[i].iov_len == 0)
			continue;
		at = copy_in_wrapping(ring->ring, len, at, iov[i].iov_base,
		                      (uint32_t)iov[i].iov_len);
	}

	at = argo_roundup16(at);
	if (at >= len)
		at = 0;
	store_release(&ring->tx_ptr, at);
	return at;
}

/* Read both pointers once and check they describe a ring a correct writer
 * could have produced. */
static int ring_view(const struct xen_argo_ring *ring, uint32_t len, struct argo_ring_view *v)
{
	v->len = len;
	v->tx = load_acquire(&ring->tx_ptr);
	v->rx = __atomic_load_n(&ring->rx_ptr, __ATOMIC_RELAXED);
	if (v->tx >= len || v->rx >= len || (v->tx | v->rx) % XEN_ARGO_MSG_SLOT_SIZE)
		return -EBADMSG;
	return 0;
}

uint32_t argo_ring_used(const struct xen_argo_ring *ring, uint32_t len)
{
	struct argo_ring_view v;

	if (ring_view(ring, len, &v) < 0)
		return 0;
	return v.tx >= v.rx ? v.tx - v.rx : len - (v.rx - v.tx);
}

/* Validate and decode the header at rx; returns the payload length. */
static ssize_t next_message(const struct xen_argo_ring *ring, struct argo_ring_view *v,
                            struct xen_argo_ring_message_header *hdr)
{
	uint32_t used;

	if (ring_view(ring, v->len, v) < 0)
		return -EBADMSG;
	if (v->rx == v->tx)
		return -EAGAIN;
	used = v->tx > v->rx ? v->tx - v->rx : v->len - (v->rx - v->tx);
	if (used < sizeof(*hdr))
		return -EBADMSG;
	memcpy(hdr, ring->ring + v->rx, sizeof(*hdr));
	if (hdr->len < sizeof(*hdr) || hdr->len > used || argo_roundup16(hdr->len) > used)
		return -EBADMSG;
	return (ssize_t)(hdr->len - sizeof(*hdr));
}

ssize_t argo_ring_peek(const struct xen_argo_ring *ring, uint32_t len, struct xen_argo_addr *source,
                       uint32_t *message_type)
{
	struct xen_argo_ring_message_header hdr;
	struct argo_ring_view v = {.len = len};
	ssize_t n = next_message(ring, &v, &hdr);

	if (n < 0)
		return n;
	if (source)
		*source = hdr.source;
	if (message_type)
		*message_type = hdr.message_type;
	return n;
}

ssize_t argo_ring_recv(struct xen_argo_ring *ring, uint32_t len, struct xen_argo_addr *source,
                       uint32_t *message_type, void *buf, size_t bufsz)
{
	struct xen_argo_ring_message_header hdr;
	struct argo_ring_view v = {.len = len};
	ssize_t n = next_message(ring, &v, &hdr);
	uint32_t data_at, next_rx;

	if (n < 0)
		return n;
	if ((size_t)n > bufsz)
		return -EMSGSIZE;

	data_at = v.rx + (uint32_t)sizeof(hdr);
	if (data_at == len)
		data_at = 0;
	if (n > 0)
		copy_out_wrapping(buf, ring->ring, len, data_at, (uint32_t)n);
	if (source)
		*source = hdr.source;
	if (message_type)
		*message_type = hdr.message_type;

	next_rx = v.rx + argo_roundup16(hdr.len);
	if (next_rx >= len)
		next_rx -= len;
	store_release(&ring->rx_ptr, next_rx);
	return n;
}

ssize_t argo_ring_read_at(const struct xen_argo_ring *ring, uint32_t len, uint32_t at,
                          struct xen_argo_addr *source, uint32_t *message_type, void *buf,
                          size_t bufsz, uint32_t *next)
{
	struct xen_argo_ring_message_header hdr;
	struct argo_ring_view v;
	uint32_t unread, from_rx, left, data_at, after;
	ssize_t n;

	if (ring_view(ring, len, &v) < 0 || at >= len || at % XEN_ARGO_MSG_SLOT_SIZE)
		return -EBADMSG;
	/* 'at' must lie in [rx, tx] going round the ring. */
	unread = v.tx >= v.rx ? v.tx - v.rx : len - (v.rx - v.tx);
	from_rx = at >= v.rx ? at - v.rx : len - (v.rx - at);
	if (from_rx > unread)
		return -EBADMSG;
	if (at == v.tx)
		return -EAGAIN;
	left = unread - from_rx;
	if (left < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, ring->ring + at, sizeof(hdr));
	if (hdr.len < sizeof(hdr) || hdr.len > left || argo_roundup16(hdr.len) > left)
		return -EBADMSG;
	n = (ssize_t)(hdr.len - sizeof(hdr));
	if (buf) {
		if ((size_t)n > bufsz)
			return -EMSGSIZE;
		data_at = at + (uint32_t)sizeof(hdr);
		if (data_at == len)
			data_at = 0;
		if (n > 0)
			copy_out_wrapping(buf, ring->ring, len, data_at, (uint32_t)n);
	}
	if (source)
		*source = hdr.source;
	if (message_type)
		*message_type = hdr.message_type;
	after = at + argo_roundup16(hdr.len);
	if (after >= len)
		after -= len;
	*next = after;
	return n;
}

void argo_ring_release_to(struct xen_argo_ring *ring, uint32_t to)
{
	/* Release: our reads of the payloads before 'to' are done before the
	 * writer may see the slots as free and overwrite them. */
	store_release(&ring->rx_ptr, to);
}
