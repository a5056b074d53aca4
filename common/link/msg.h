/* SPDX-License-Identifier: MIT */
/*
 * A message of the link protocol on its way: its addresses, its origin, its
 * payload, and its custody (docs/relay-design.md, "Custody").
 *
 * Custody. Whoever takes a message from somewhere (a ring of its fabric, a
 * link's stream) stays responsible for it until it has been passed on for
 * good: delivered into a ring, acknowledged by the next hop, or reported
 * undeliverable. The message carries where it came from as a small ops
 * table (as a kvmtool device holds its transport's ops), so the code that
 * passes it on, or finds it undeliverable, tells the source with msg_done()
 * and never needs to know what the source is. Each message held is either
 * done or released exactly once; ARGO_DEBUG builds check it (util/debug.h).
 *
 * Memory. Every message alive is counted in its msg_account at its cost
 * (WIRE_DATA_COST: its length plus a DATA header, so that empty messages
 * count too), against a bound (the relay's queue_bytes): the stream grants
 * credit and the fabric side reads rings only below it (stream.h,
 * relay/fabric_in.c).
 *
 * Reports. When a message cannot be delivered, whoever finds out tells the
 * source the way it came, hop by hop (report below): a link sends an
 * UNDELIVERABLE answering the msn the message arrived with; our own ring
 * has no report op, and the relay tells its guest itself.
 *
 * One thread: nothing here is locked.
 */
#ifndef ARGO_LINK_MSG_H
#define ARGO_LINK_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* Where a message came from, seen from whoever holds it. 'source' and 'seq'
 * are what msg_hold() was given: the port and the ring index, the link and
 * the msn. Both are called after the message is freed, so that what they
 * compute (a grant) counts the room. */
struct msg_source_ops {
	/* It left our custody for good: the source may forget it (release
	 * its ring slots, acknowledge it to the hop before). */
	void (*done)(void *source, uint64_t seq, uint32_t len);
	/* We let go of it without passing it on (shutting down): the source
	 * still has it and offers it again (it stays in its ring; the hop
	 * before sends it again). */
	void (*release)(void *source, uint64_t seq, uint32_t len);
	/* Optional: it could not be delivered (u: what the report says,
	 * its msn to be replaced by seq): tell whoever gave it to us. Called
	 * while the message is still held. */
	void (*report)(void *source, uint64_t seq, const struct wire_undeliverable *u);
};

/* What every message alive costs, against a bound. */
struct msg_account {
	uint64_t held_bytes; /* cost (WIRE_DATA_COST) of every message alive */
	uint64_t held_peak;  /* the most ever held, to check the bound */
	uint64_t limit;      /* the bound: credit and ring reads stop here */
	uint64_t messages;   /* messages alive */
	uint64_t largest;    /* the largest cost ever held (for the bound's checks) */
	uint64_t released;   /* messages let go of without being passed on (msg_release) */
	/* held_bytes fell below limit since the holder last looked: peers
	 * may be granted credit again (the holder clears it). */
	bool room_again;
};

#ifdef ARGO_DEBUG
/* Where a message is in its life (checked by ARGO_DEBUG builds). */
enum msg_custody { MSG_NEW = 1, MSG_HELD, MSG_GONE };
#endif

struct msg {
	struct msg *next; /* in the one queue that holds it */
	/* On the link it is queued on; until then, the msn it arrived with
	 * (an UNDELIVERABLE answering it names that). */
	uint64_t msn;
	const struct msg_source_ops *source_ops; /* NULL until msg_hold() */
	void *source;
	uint64_t source_seq;
	struct msg_account *account;
	struct wire_origin origin;
	bool routed;   /* routed mode: delivered with a routed header (argo/routed.h) */
	bool reported; /* an UNDELIVERABLE for it came back (one is taken, no more) */
	struct wire_gaddr src, dst;
	uint32_t message_type;
	uint32_t len;
#ifdef ARGO_DEBUG
	enum msg_custody custody;
	bool queued;
#endif
	uint8_t data[];
};

/* Messages in order; a message is in at most one queue at a time. */
struct msg_queue {
	struct msg *head, *tail;
	uint64_t bytes;
	uint32_t count;
};

/* What a message costs in its account. */
static inline uint64_t msg_cost(const struct msg *msg)
{
	return WIRE_DATA_COST(msg->len);
}

/* A message of len payload bytes, counted in account; no source yet. NULL
 * when out of memory. */
struct msg *msg_new(struct msg_account *account, uint32_t len);
/* The holder takes custody: from now on the message ends with msg_done()
 * or msg_release(), which tell source_ops. */
void msg_hold(struct msg *msg, const struct msg_source_ops *ops, void *source, uint64_t seq);
/* Drops the first n bytes of the payload (a routed header). */
void msg_trim_front(struct msg *msg, uint32_t n);
/* The message left our custody for good: freed, then the source is told. */
void msg_done(struct msg *msg);
/* Let go without passing it on: freed, then the source is told. */
void msg_release(struct msg *msg);
/* A message never held (read, then left where it was): freed. */
void msg_discard(struct msg *msg);

void msg_queue_push(struct msg_queue *q, struct msg *msg);
struct msg *msg_queue_pop(struct msg_queue *q);

#endif /* ARGO_LINK_MSG_H */
