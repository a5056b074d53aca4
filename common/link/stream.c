/* SPDX-License-Identifier: MIT */
/*
 * The reliable message stream: see stream.h for what it guarantees, and
 * docs/relay-design.md ("Order, acknowledgement, retransmission",
 * "Back-pressure and the memory bound") for why.
 */
#include "stream.h"

#include <errno.h>
#include <stdlib.h>

#include "debug.h"

#define DONE_BITS_INITIAL 1024 /* msns in flight before the bitmap grows */

int stream_init(struct stream *s, struct msg_account *account, uint64_t window)
{
	*s = (struct stream){.account = account, .window = window, .next_msn = 1, .rx_next_msn = 1};
	s->rx_done_bits = calloc(1, DONE_BITS_INITIAL / 8);
	if (!s->rx_done_bits)
		return -ENOMEM;
	s->rx_done_cap = DONE_BITS_INITIAL;
	return 0;
}

void stream_fini(struct stream *s)
{
	struct msg *msg;

	while ((msg = msg_queue_pop(&s->unacked)))
		msg_release(msg);
	s->unsent = NULL;
	s->unsent_bytes = 0;
	free(s->rx_done_bits);
	s->rx_done_bits = NULL;
	s->rx_done_cap = 0;
}

/* What a queue's messages cost in credit. */
static uint64_t queue_cost(const struct msg_queue *q)
{
	return q->bytes + (uint64_t)q->count * WIRE_DATA_HEADER_SIZE;
}

void stream_give_back(struct stream *s, struct msg_queue *out)
{
	struct msg *msg;

	while ((msg = msg_queue_pop(&s->unacked)))
		msg_queue_push(out, msg);
	s->unsent = NULL;
	s->unsent_bytes = 0;
}

/* ---- Credit ------------------------------------------------------------- */

/* What we may grant the peer now: one window less what we still hold for
 * it, and nothing new while the account is at its bound. */
static uint64_t grant_now(const struct stream *s)
{
	uint64_t room = s->window > s->held_from_peer ? s->window - s->held_from_peer : 0;

	if (s->account->held_bytes >= s->account->limit)
		room = 0;
	return s->received_bytes + room;
}

/* The grant to send: a grant is never taken back. */
static uint64_t grant_to_send(const struct stream *s)
{
	uint64_t grant = grant_now(s);

	return grant < s->granted ? s->granted : grant;
}

/* Bytes the peer may still send on our last grant. */
static uint64_t peer_left(const struct stream *s)
{
	return s->granted > s->received_bytes ? s->granted - s->received_bytes : 0;
}

/* ---- Sessions ----------------------------------------------------------- */

void stream_new_session(struct stream *s)
{
	s->credit = s->sent_bytes = s->granted = s->received_bytes = 0;
	s->unsent = s->unacked.head;
	s->unsent_bytes = queue_cost(&s->unacked);
}

void stream_hello(const struct stream *s, struct wire_hello *hello)
{
	hello->rx_next_msn = s->rx_next_msn;
	hello->acked_msn = s->rx_done_msn;
}

/* Frees what the peer has acknowledged (every msn <= acked): those left
 * our custody. */
static void free_acked(struct stream *s, uint64_t acked)
{
	while (s->unacked.head && s->unacked.head->msn <= acked) {
		struct msg *msg = msg_queue_pop(&s->unacked);

		if (s->unsent == msg) {
			s->unsent = msg->next;
			s->unsent_bytes -= WIRE_DATA_COST(msg->len);
		}
		s->counters.acked++;
		msg_done(msg);
	}
}

void stream_resume(struct stream *s, const struct wire_hello *peer)
{
	uint64_t expect = peer->rx_next_msn ? peer->rx_next_msn : 1;
	struct msg *m;

	if (s->peer_boot_id && s->peer_boot_id == peer->boot_id) {
		/* The same peer process as before, and we are too (a peer
		 * only knows our boot after a session with us): it still
		 * has what it received; send only the rest. */
		uint64_t done =
		    peer->acked_msn < s->highest_sent_msn ? peer->acked_msn : s->highest_sent_msn;

		free_acked(s, done);
		if (done > s->peer_done_msn)
			s->peer_done_msn = done;
		s->unsent = s->unacked.head;
		s->unsent_bytes = queue_cost(&s->unacked);
		while (s->unsent && s->unsent->msn < expect) {
			s->unsent_bytes -= WIRE_DATA_COST(s->unsent->len);
			s->unsent = s->unsent->next;
			s->counters.resent_held++;
		}
	} else {
		/* A peer new to us (it or we restarted): it has none of what
		 * we keep. Renumber all of it from what it expects. */
		uint64_t msn = expect;

		for (m = s->unacked.head; m; m = m->next)
			m->msn = msn++;
		s->next_msn = msn;
		s->highest_sent_msn = expect - 1;
		s->peer_done_msn = peer->acked_msn;
		s->unsent = s->unacked.head;
		s->unsent_bytes = queue_cost(&s->unacked);
	}
	s->peer_boot_id = peer->boot_id;
}

/* ---- Sending ------------------------------------------------------------ */

void stream_queue(struct stream *s, struct msg *msg)
{
	msg->msn = s->next_msn++;
	msg_queue_push(&s->unacked, msg);
	if (!s->unsent)
		s->unsent = msg;
	s->unsent_bytes += WIRE_DATA_COST(msg->len);
}

bool stream_can_take(const struct stream *s)
{
	return s->sent_bytes + s->unsent_bytes < s->credit &&
	       s->account->held_bytes < s->account->limit;
}

struct msg *stream_next(const struct stream *s)
{
	/* A message starts with any credit left (so that one larger than the
	 * window still goes), and overshoots by at most itself; and never more
	 * than WIRE_MAX_IN_FLIGHT msns beyond what the peer is done with
	 * (the peer's own count is at least ours: it told us). */
	if (!s->unsent || s->sent_bytes >= s->credit ||
	    s->unsent->msn - s->peer_done_msn > WIRE_MAX_IN_FLIGHT)
		return NULL;
	return s->unsent;
}

void stream_data(const struct stream *s, const struct msg *msg, struct wire_data *data)
{
	*data = (struct wire_data){
	    .msn = msg->msn,
	    .src = msg->src,
	    .dst = msg->dst,
	    .message_type = msg->message_type,
	    .flags = msg->routed ? WIRE_DATA_ROUTED : 0,
	    .origin = msg->origin,
	    .length = msg->len,
	    /* Every DATA carries our acknowledgement and grant (docs/
	     * protocol.md): on a request/response path the reply carries the
	     * request's ACK, with no ACK frame and no deadline. */
	    .acked_msn = s->rx_done_msn,
	    .credit = grant_to_send(s),
	};
}

void stream_sent(struct stream *s, const struct wire_data *data)
{
	struct msg *msg = s->unsent;

	DEBUG_ASSERT(msg && msg->msn == data->msn && msg->len == data->length);
	s->rx_acked_msn = data->acked_msn;
	s->granted = data->credit;
	s->done_bytes_unacked = 0;
	s->sent_bytes += WIRE_DATA_COST(msg->len);
	s->unsent_bytes -= WIRE_DATA_COST(msg->len);
	s->unsent = msg->next;
	s->counters.data_tx++;
	if (msg->msn <= s->highest_sent_msn)
		s->counters.retransmits++;
	else
		s->highest_sent_msn = msg->msn;
}

int stream_on_ack(struct stream *s, uint64_t acked_msn, uint64_t credit)
{
	int more = 0;

	if (acked_msn >= s->next_msn)
		return -EPROTO;
	if (acked_msn > s->peer_done_msn)
		s->peer_done_msn = acked_msn;
	if (s->unacked.head && s->unacked.head->msn <= acked_msn) {
		free_acked(s, acked_msn);
		more = 1;
	}
	if (credit > s->credit) {
		s->credit = credit;
		more = 1;
	}
	return more;
}

struct msg *stream_find_sent(const struct stream *s, uint64_t msn)
{
	struct msg *m;

	if (msn == 0 || msn > s->highest_sent_msn)
		return NULL;
	for (m = s->unacked.head; m && m->msn <= msn; m = m->next)
		if (m->msn == msn)
			return m;
	return NULL;
}

/* ---- Receiving ---------------------------------------------------------- */

/* The done flags: one bit per msn in flight, in a circular bitmap. */
static bool done_bit(const struct stream *s, uint64_t msn)
{
	uint64_t i = msn & (s->rx_done_cap - 1);

	return s->rx_done_bits[i / 8] & (1u << (i % 8));
}

static void set_done_bit(struct stream *s, uint64_t msn, bool on)
{
	uint64_t i = msn & (s->rx_done_cap - 1);

	if (on)
		s->rx_done_bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		s->rx_done_bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* Room for the done flags of every msn up to 'msn'. */
static int done_bits_reserve(struct stream *s, uint64_t msn)
{
	uint64_t cap = s->rx_done_cap, m;
	uint8_t *bits;

	while (msn - s->rx_done_msn >= cap)
		cap *= 2;
	if (cap == s->rx_done_cap)
		return 0;
	bits = calloc(1, cap / 8);
	if (!bits)
		return -ENOMEM;
	for (m = s->rx_done_msn + 1; m < s->rx_next_msn; m++)
		if (done_bit(s, m)) {
			uint64_t i = m & (cap - 1);

			bits[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	free(s->rx_done_bits);
	s->rx_done_bits = bits;
	s->rx_done_cap = cap;
	return 0;
}

int stream_rx_check(struct stream *s, uint64_t msn)
{
	if (msn < s->rx_next_msn) {
		s->counters.duplicates++; /* a retransmission we already have */
		return 1;
	}
	if (msn > s->rx_next_msn)
		return -EPROTO;
	/* A message may start while the peer has credit left (it may then
	 * overshoot by itself), and while we hold fewer than
	 * WIRE_MAX_IN_FLIGHT of its messages. */
	if (s->received_bytes >= s->granted || msn - s->rx_done_msn > WIRE_MAX_IN_FLIGHT) {
		s->counters.overruns++;
		return -EDQUOT;
	}
	return done_bits_reserve(s, msn);
}

void stream_rx_accept(struct stream *s, uint64_t msn, uint32_t len)
{
	DEBUG_ASSERT(msn == s->rx_next_msn && msn - s->rx_done_msn < s->rx_done_cap);
	s->rx_next_msn = msn + 1;
	s->received_bytes += WIRE_DATA_COST(len);
	s->held_from_peer += WIRE_DATA_COST(len);
	s->counters.data_rx++;
}

void stream_rx_released(struct stream *s, uint32_t len)
{
	uint64_t cost = WIRE_DATA_COST(len);

	s->held_from_peer -= cost < s->held_from_peer ? cost : s->held_from_peer;
}

void stream_rx_done(struct stream *s, uint64_t msn, uint32_t len)
{
	stream_rx_released(s, len);
	s->done_bytes_unacked += len;
	if (msn > s->rx_done_msn && msn < s->rx_next_msn) {
		set_done_bit(s, msn, true);
		while (s->rx_done_msn + 1 < s->rx_next_msn && done_bit(s, s->rx_done_msn + 1)) {
			set_done_bit(s, s->rx_done_msn + 1, false);
			s->rx_done_msn++;
		}
	}
}

/* ---- Acknowledgements --------------------------------------------------- */

enum stream_ack stream_ack_check(const struct stream *s, bool urgent, struct wire_ack *ack)
{
	uint64_t grant = grant_to_send(s), acked = s->rx_done_msn;
	bool need;

	need = (urgent && (acked != s->rx_acked_msn || grant != s->granted)) ||
	       acked - s->rx_acked_msn >= STREAM_ACK_EVERY ||
	       (acked != s->rx_acked_msn && s->done_bytes_unacked >= STREAM_ACK_BYTES) ||
	       (grant > s->granted && peer_left(s) < s->window / 4) ||
	       grant - s->granted >= s->window / 2;
	if (!need)
		return acked != s->rx_acked_msn ? STREAM_ACK_LATER : STREAM_ACK_NONE;
	ack->acked_msn = acked;
	ack->credit = grant;
	return STREAM_ACK_NOW;
}

void stream_ack_sent(struct stream *s, const struct wire_ack *ack)
{
	s->rx_acked_msn = ack->acked_msn;
	s->granted = ack->credit;
	s->done_bytes_unacked = 0;
}

bool stream_ack_owed(const struct stream *s)
{
	return s->rx_done_msn != s->rx_acked_msn ||
	       (grant_now(s) > s->granted && peer_left(s) < s->window / 4);
}
