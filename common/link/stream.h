/* SPDX-License-Identifier: MIT */
/*
 * The reliable message stream of one link, both directions (docs/
 * protocol.md, "Reliability"; docs/relay-design.md, "Order,
 * acknowledgement, retransmission"): message sequence numbers (msn),
 * cumulative acknowledgements, byte credit, and resuming after a cut.
 *
 * Pure state: no I/O, no clock, no knowledge of the session under it (TLS)
 * or of the frames that carry it. The owner moves frames and
 * asks this layer what to put in them and what the peer's mean. A relay
 * link and a leaf endpoint use it the same way.
 *
 * The stream outlives sessions. Every message sent keeps its msn and stays
 * in 'unacked' until the peer acknowledges it, and the peer acknowledges a
 * message only once it has left the peer's custody (msg.h), never on mere
 * receipt, so a peer killed at any moment has lost nothing we no longer
 * keep. The peer's HELLO says which msn it expects next (it holds every one
 * before) and which it is done with: with the same peer process as before,
 * we free what it is done with and resend from what it expects; with a new
 * one (it restarted, or we did) it has nothing of ours, and everything we
 * keep is renumbered from what it expects and sent again. Copies that then
 * reach the last relay twice are dropped there by origin (relay/dedup.c).
 *
 * Credit. We grant the peer 'window' bytes beyond what we still hold of
 * its messages, and nothing new while our account is at its bound; a
 * sender starts a message while it has any credit left, so it overshoots
 * by at most one message. A message costs its length plus its DATA header
 * (WIRE_DATA_COST), on both ends, so empty messages are not free. Both
 * are enforced on receive: a DATA that starts beyond our grant, or that
 * would leave more than WIRE_MAX_IN_FLIGHT messages received and not done,
 * is refused (stream_rx_check()), and the owner ends the session; a sender
 * keeps to both by itself (stream_next()).
 *
 * Return conventions: 0 or a negative errno; booleans where noted.
 */
#ifndef ARGO_LINK_STREAM_H
#define ARGO_LINK_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "wire.h"

/* Acknowledgements wait for others to join them: one goes out when the
 * peer is running short of credit, when this many messages are done and
 * not acknowledged (the peer keeps them until then)... */
#define STREAM_ACK_EVERY 64
/* ...or when this many message bytes are done and not acknowledged (the
 * sender keeps them in its ring until then, and a ring holds only a few
 * large messages), or, for whatever is left, by the owner's short deadline
 * (STREAM_ACK_LATER). */
#define STREAM_ACK_BYTES (16u * 1024)

struct stream_counters {
	uint64_t data_tx, data_rx;
	uint64_t retransmits; /* DATA sent again after a cut */
	uint64_t duplicates;  /* DATA received again (msn already had): dropped */
	uint64_t resent_held; /* after a cut: not sent again, the peer still had them */
	uint64_t overruns;    /* DATA refused: beyond our grant or WIRE_MAX_IN_FLIGHT */
	/* Messages the peer acknowledged (ACK, DATA or HELLO): they left our
	 * custody through this stream (docs/relay-control.md, "Accounting"). */
	uint64_t acked;
};

struct stream {
	struct msg_account *account; /* the holder's memory and its bound */
	uint64_t window;             /* credit granted beyond what we hold for the peer */

	/* Sending: kept across sessions of one pair of boots. */
	uint64_t next_msn;         /* msn of the next new message to queue */
	struct msg_queue unacked;  /* queued or sent, waiting for an ack, in msn order */
	struct msg *unsent;        /* first of unacked not sent in this session */
	uint64_t unsent_bytes;     /* cost of the messages from unsent to the tail */
	uint64_t highest_sent_msn; /* to tell retransmissions from first sends */
	uint64_t peer_boot_id;     /* the peer process our msns are known to */
	uint64_t peer_done_msn;    /* the peer said it is done with every msn up to this */
	/* ...this session only. */
	uint64_t credit;     /* the peer's grant: bytes we may send */
	uint64_t sent_bytes; /* DATA cost sent (WIRE_DATA_COST of each message) */

	/* Receiving: kept across sessions. */
	uint64_t rx_next_msn;        /* next msn we expect from the peer */
	uint64_t rx_done_msn;        /* every msn up to this one has left our custody */
	uint64_t rx_acked_msn;       /* highest msn we acknowledged (<= rx_done_msn) */
	uint64_t done_bytes_unacked; /* message bytes done since our last ACK */
	uint64_t held_from_peer;     /* cost of what we received from the peer and still hold */
	/* Done flags of msns rx_done_msn+1 .. rx_next_msn-1: bit (msn % cap),
	 * cap a power of two, grown as needed. */
	uint8_t *rx_done_bits;
	uint64_t rx_done_cap;
	/* ...this session only. */
	uint64_t granted;        /* our last grant to the peer */
	uint64_t received_bytes; /* DATA cost received */

	struct stream_counters counters;
};

int stream_init(struct stream *s, struct msg_account *account, uint64_t window);
/* Releases every message still unacknowledged (msg_release). */
void stream_fini(struct stream *s);
/* Hands every message still unacknowledged, in msn order, to out
 * (ownership, custody unchanged): the stream will not send them. */
void stream_give_back(struct stream *s, struct msg_queue *out);

/* ---- Sessions ---- */
/* A new session begins: no credit either way; everything unacknowledged
 * is unsent again. */
void stream_new_session(struct stream *s);
/* What our HELLO says of the stream: the next msn we expect, and the last
 * one we are done with. */
void stream_hello(const struct stream *s, struct wire_hello *hello);
/* The peer's HELLO, authenticated: free, keep, renumber and resend
 * according to what it holds and what it is done with. */
void stream_resume(struct stream *s, const struct wire_hello *peer);

/* ---- Sending ---- */
/* Queues a message (ownership passes to the stream; it gets the next msn). */
void stream_queue(struct stream *s, struct msg *msg);
/* Could another message be taken on now (credit left after what is queued,
 * and the account below its bound)? */
bool stream_can_take(const struct stream *s);
/* The next message to send, or NULL (none, no credit left, or
 * WIRE_MAX_IN_FLIGHT messages the peer has not said it is done with). */
struct msg *stream_next(const struct stream *s);
/* The DATA header for msg (stream_next()'s), our acknowledgement and grant
 * riding along; stream_sent() once the frame is out. */
void stream_data(const struct stream *s, const struct msg *msg, struct wire_data *data);
void stream_sent(struct stream *s, const struct wire_data *data);
/* The peer's acknowledgement and grant (ACK frame or DATA). 1 when it
 * freed something or raised our credit (more may go now), 0 when not,
 * -EPROTO when it acknowledges a message never sent. */
int stream_on_ack(struct stream *s, uint64_t acked_msn, uint64_t credit);

/* A message we sent (in this session or an earlier one) and the peer has
 * not acknowledged yet, by its msn: NULL when there is none. */
struct msg *stream_find_sent(const struct stream *s, uint64_t msn);

/* ---- Receiving ---- */
/* A DATA with this msn arrived: 0 it is the next one (reserve done, then
 * stream_accept() it), 1 a duplicate (counted; drop it), -EPROTO a gap,
 * -EDQUOT the peer overran its credit or WIRE_MAX_IN_FLIGHT (counted; the
 * session must end), -ENOMEM. */
int stream_rx_check(struct stream *s, uint64_t msn);
void stream_rx_accept(struct stream *s, uint64_t msn, uint32_t len);
/* A message received on this stream left our custody (msg_source_ops
 * done), or was let go without being passed on (release). */
void stream_rx_done(struct stream *s, uint64_t msn, uint32_t len);
void stream_rx_released(struct stream *s, uint32_t len);

/* ---- Acknowledgements ---- */
enum stream_ack {
	STREAM_ACK_NONE,  /* nothing owed */
	STREAM_ACK_LATER, /* owed: arm the short deadline, it may ride on DATA */
	STREAM_ACK_NOW,   /* send *ack now (then stream_ack_sent()) */
};
/* Is an ACK frame due? urgent: the deadline passed (or the session just
 * came up): anything owed goes. */
enum stream_ack stream_ack_check(const struct stream *s, bool urgent, struct wire_ack *ack);
void stream_ack_sent(struct stream *s, const struct wire_ack *ack);
/* An acknowledgement, or a grant the peer is short of, that no DATA of
 * ours has carried yet. */
bool stream_ack_owed(const struct stream *s);

#endif /* ARGO_LINK_STREAM_H */
