/* SPDX-License-Identifier: MIT */
/*
 * The Argo ring engine: Xen's exact rules for laying messages into a ring and
 * taking them out again. Both sides use it: the sim fabric writes with
 * argo_ring_insert() as the hypervisor does, and every receiver, on any
 * fabric, reads with argo_ring_recv().
 *
 * The ring memory is shared with another party that may be buggy or hostile
 * (on sim, the client can scribble on the page the daemon writes into), so
 * every pointer read from the page goes through argo_ring_sanitise_ptr() and
 * is read exactly once per operation.
 *
 * Return conventions: non-negative values are byte counts or ring offsets;
 * failures are negative errno values, exactly as Xen returns them.
 */
#ifndef ARGO_RING_H
#define ARGO_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "argo/abi.h"

/* Largest payload Xen accepts in one sendv (16 MiB - 32), for any ring. */
#define ARGO_MAX_MESSAGE_PAYLOAD                                                                   \
	(XEN_ARGO_MAX_RING_SIZE - sizeof(struct xen_argo_ring_message_header) -                    \
	 XEN_ARGO_MSG_SLOT_SIZE)

static inline uint32_t argo_roundup16(uint32_t x)
{
	/* Callers pass values below 2^31; the mask keeps the result aligned. */
	return (x + (XEN_ARGO_MSG_SLOT_SIZE - 1)) & ~(XEN_ARGO_MSG_SLOT_SIZE - 1);
}

/*
 * A pointer read from the shared page, made safe to use: rounded up to a
 * slot, and any value at or past the end of the ring taken as 0. This is how
 * Xen treats the receiver's rx_ptr on every use.
 */
static inline uint32_t argo_ring_sanitise_ptr(uint32_t ptr, uint32_t len)
{
	if (ptr >= len)
		return 0;
	ptr = argo_roundup16(ptr);
	return ptr >= len ? 0 : ptr;
}

/*
 * Bytes free between tx (where the writer is) and rx (where the reader is).
 * rx == tx means empty, so the whole ring is reported free; the one-slot gap
 * that keeps "full" distinct from "empty" is charged in argo_ring_fits().
 */
static inline uint32_t argo_ring_free_space(uint32_t rx, uint32_t tx, uint32_t len)
{
	if (rx == tx)
		return len;
	if (rx > tx)
		return rx - tx;
	return len - (tx - rx);
}

/* Would a payload of this many bytes fit now? Xen's test, including its
 * strict ">=": a message may never make tx catch up with rx. */
static inline bool argo_ring_fits(uint32_t payload, uint32_t space)
{
	return (uint64_t)argo_roundup16(payload) + sizeof(struct xen_argo_ring_message_header) <
	       space;
}

/* Largest payload this ring can ever take: header plus the empty slot. */
static inline uint32_t argo_ring_max_message_size(uint32_t len)
{
	return len - (uint32_t)sizeof(struct xen_argo_ring_message_header) - XEN_ARGO_MSG_SLOT_SIZE;
}

/* Too large for this ring, however empty it is: Xen's -EMSGSIZE test. */
static inline bool argo_ring_too_large(uint32_t payload, uint32_t len)
{
	return len <=
	       sizeof(struct xen_argo_ring_message_header) + (uint64_t)argo_roundup16(payload);
}

/* Does len pass Xen's length rules (>= 48, <= 16 MiB, slot multiple)?
 * Registration also caps the page count at 4096 (argo.c:2108), so the
 * largest ring that can really be registered is 16 MiB - 64 bytes. */
static inline bool argo_ring_len_valid(uint32_t len)
{
	return len >= XEN_ARGO_MIN_RING_LEN && len <= XEN_ARGO_MAX_RING_SIZE &&
	       (len % XEN_ARGO_MSG_SLOT_SIZE) == 0;
}

/* Pages a guest must provide for a ring of len bytes (header included). */
static inline uint32_t argo_ring_npages(uint32_t len)
{
	return (uint32_t)(((uint64_t)len + sizeof(struct xen_argo_ring) + XEN_ARGO_PAGE_SIZE - 1) /
	                  XEN_ARGO_PAGE_SIZE);
}

/*
 * Writer side, as the hypervisor does it. 'tx' is the writer's own copy of
 * the transmit pointer (the page's copy is only ever written, never
 * trusted). Reads rx_ptr from the page once, then writes the header and the
 * payload gathered from iov[0..niov) (payload may wrap at the ring's end, the
 * header never does), publishes the new tx_ptr, and returns it.
 * Returns the new tx (>= 0), -EMSGSIZE if the ring can never hold the
 * payload, or -EAGAIN if it cannot hold it now.
 */
int64_t argo_ring_insert(struct xen_argo_ring *ring, uint32_t len, uint32_t tx,
                         const struct xen_argo_addr *source, uint32_t message_type,
                         const struct iovec *iov, unsigned int niov, uint32_t payload_len);

/*
 * The state of the ring as seen by the reader at one moment: both pointers
 * read once (tx with acquire semantics, so the message bytes it covers are
 * visible). Used by argo_ring_peek()/argo_ring_recv(), and handy for tests.
 */
struct argo_ring_view {
	uint32_t rx, tx, len;
};

/*
 * Reader side. argo_ring_peek() describes the next message without consuming
 * it: returns its payload length (>= 0), -EAGAIN when the ring is empty, or
 * -EBADMSG when the ring's pointers or the header are inconsistent (the
 * ring's memory was corrupted; nothing is consumed).
 */
ssize_t argo_ring_peek(const struct xen_argo_ring *ring, uint32_t len, struct xen_argo_addr *source,
                       uint32_t *message_type);

/*
 * Copies the next message's payload into buf and releases its slots by
 * advancing rx_ptr. Returns the payload length, -EAGAIN when empty, -EBADMSG
 * on a corrupt ring, or -EMSGSIZE when bufsz is smaller than the payload (the
 * message stays in the ring; argo_ring_peek() tells the size needed).
 * source and message_type may be NULL. After consuming, a receiver must call
 * notify so that senders waiting for space are told.
 */
ssize_t argo_ring_recv(struct xen_argo_ring *ring, uint32_t len, struct xen_argo_addr *source,
                       uint32_t *message_type, void *buf, size_t bufsz);

/*
 * For a reader that releases slots later than it reads them (a relay keeps
 * each message in its ring until the next hop has it, so that a restarted
 * relay can read it again). argo_ring_read_at() reads the message at offset
 * 'at' (rx_ptr, or an offset an earlier call returned in *next) and releases
 * nothing. It copies the payload when buf is not NULL (-EMSGSIZE when bufsz
 * is too small). Returns the payload length and sets *next to the offset of
 * the following message; -EAGAIN when 'at' is where the writer is (nothing
 * more to read); -EBADMSG when 'at' is not inside the unread part of the
 * ring or the header there is inconsistent.
 */
ssize_t argo_ring_read_at(const struct xen_argo_ring *ring, uint32_t len, uint32_t at,
                          struct xen_argo_addr *source, uint32_t *message_type, void *buf,
                          size_t bufsz, uint32_t *next);

/* Releases every slot before 'to' (an offset argo_ring_read_at() returned):
 * publishes rx_ptr. Call argo_notify() afterwards, as after argo_ring_recv(). */
void argo_ring_release_to(struct xen_argo_ring *ring, uint32_t to);

/* Bytes currently queued in the ring (0 when empty), from the reader's view. */
uint32_t argo_ring_used(const struct xen_argo_ring *ring, uint32_t len);

#endif /* ARGO_RING_H */
