/* SPDX-License-Identifier: MIT */
/*
 * One link: an authenticated, ordered frame stream to a peer relay, over any
 * transport (docs/protocol.md).
 *
 * Sessions and the reliable stream. A session is one connection: fresh
 * nonces, fresh keys, frame seq from 1. The DATA stream outlives sessions:
 * every message keeps its msn and stays in link->unacked until the peer
 * acknowledges it. The peer acknowledges a message only once it has left
 * the peer's custody (delivered, acknowledged by the relay after it, or
 * reported undeliverable), never on mere receipt, so a peer killed at any
 * moment has lost nothing we no longer keep.
 *
 * The peer's HELLO says which msn it expects next (it holds everything
 * before) and which it is done with. With the same peer process as before,
 * we free what it is done with and resend from what it expects; with a new
 * one (it restarted, or we did) it has nothing of ours, and everything we
 * keep is renumbered from what it expects and sent again. Copies that then
 * reach the last relay twice are dropped there by origin (dedup.c).
 * Duplicates on the link itself (msn below what we expect) are dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"
#include "transport.h"

#define HANDSHAKE_TIMEOUT_MS 5000
/* How often a serial link says HELLO again while it waits for the peer's. */
#define HELLO_RESEND_MS 500
#define OUT_HIGH_WATER       (1u << 20) /* stop encoding DATA beyond this backlog */
#define IN_INITIAL           (64u * 1024)

const char *link_state_name(enum link_state state)
{
	static const char *const names[] = {"down", "connecting", "hello", "auth", "up"};

	return state <= LINK_UP ? names[state] : "?";
}

static uint64_t credit_window(const struct link *link)
{
	return link->relay->config->queue_bytes / (uint64_t)(link->relay->nlinks + 1);
}

/* ---- Output ------------------------------------------------------------- */

static int out_reserve(struct link *link, size_t more)
{
	size_t need;
	uint8_t *p;

	if (link->out_off && link->out_off == link->out_len) {
		link->out_off = link->out_len = 0;
	} else if (link->out_off > link->out_cap / 2) {
		memmove(link->out, link->out + link->out_off, link->out_len - link->out_off);
		link->out_len -= link->out_off;
		link->out_off = 0;
	}
	need = link->out_len + more;
	if (need <= link->out_cap)
		return 0;
	p = realloc(link->out, need + need / 2);
	if (!p)
		return -ENOMEM;
	link->out = p;
	link->out_cap = need + need / 2;
	return 0;
}

/*
 * Appends one frame: header, payload (in up to two pieces), and the MAC with
 * our direction's key (HELLO has none). Returns 0 or -ENOMEM.
 */
static int put_frame(struct link *link, uint8_t type, const void *p1, uint32_t l1, const void *p2,
                     uint32_t l2)
{
	uint32_t len = l1 + l2;
	bool mac = type != WIRE_HELLO;
	uint64_t seq = mac ? ++link->tx_seq : 0;
	uint8_t *frame;

	if (out_reserve(link, WIRE_HEADER_SIZE + len + WIRE_MAC_SIZE) < 0)
		return -ENOMEM;
	frame = link->out + link->out_len;
	wire_put_header(frame, type, len, seq);
	if (l1)
		memcpy(frame + WIRE_HEADER_SIZE, p1, l1);
	if (l2)
		memcpy(frame + WIRE_HEADER_SIZE + l1, p2, l2);
	if (mac && auth_mac(link->keys.tx_key, frame, WIRE_HEADER_SIZE + len,
	                    frame + WIRE_HEADER_SIZE + len) < 0) {
		/* Nothing unauthenticated may leave: the frame is not appended. */
		link->tx_seq--;
		return -EIO;
	}
	link->out_len += WIRE_HEADER_SIZE + len + (mac ? WIRE_MAC_SIZE : 0);
	link->counters.frames_tx++;
	return 0;
}

static void link_drop(struct link *link, const char *why);

/* (Re)arms the session fd's events, only when they change. */
static void watch(struct link *link, uint32_t events)
{
	if (link->watched != events) {
		relay_watch(link->relay, link->fd, events, link);
		link->watched = events;
	}
}

/* Writes what the socket takes; watches for EPOLLOUT when it takes less. */
static void flush_out(struct link *link)
{
	while (link->out_off < link->out_len) {
		ssize_t n =
		    write(link->fd, link->out + link->out_off, link->out_len - link->out_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				watch(link, EPOLLIN | EPOLLOUT);
				return;
			}
			link_drop(link, strerror(errno));
			return;
		}
		link->out_off += (size_t)n;
		link->counters.bytes_tx += (uint64_t)n;
	}
	link->out_off = link->out_len = 0;
	watch(link, EPOLLIN);
}

/* ---- Credit ------------------------------------------------------------- */

/* What we may grant the peer now: one window less what we still hold for
 * it, and nothing new while the relay as a whole is at its bound. */
static uint64_t grant_now(const struct link *link)
{
	uint64_t window = credit_window(link);
	uint64_t room = window > link->held_from_peer ? window - link->held_from_peer : 0;

	if (link->relay->held_bytes >= link->relay->config->queue_bytes)
		room = 0;
	return link->received_bytes + room;
}

/*
 * Acknowledgements are delayed: an ACK is a frame the peer must wake up for,
 * and on a request/response path that doubles the work of every hop. One
 * goes out when the peer is running short of credit, when ACK_EVERY
 * messages are unacknowledged (the peer keeps them until then), or, for
 * whatever is left, when the short delayed-ack timer fires (urgent; see
 * ACK_DELAY_US in relayd.c).
 */
#define ACK_EVERY 64
/* ...or when this many message bytes are done and not acknowledged: the
 * sender keeps them in its ring until then, and a ring holds only a few
 * large messages (a 128 KiB ring: a cycle of argo-stream's 16 B .. 64 KiB
 * sizes does not fit). */
#define ACK_BYTES (16u * 1024)

static void maybe_ack(struct link *link, bool urgent)
{
	uint64_t grant = grant_now(link), acked = link->rx_done_msn;
	uint64_t window = credit_window(link);
	uint64_t peer_left;
	uint8_t payload[WIRE_ACK_SIZE];
	struct wire_ack ack;
	bool need;

	if (link->state != LINK_UP)
		return;
	if (grant < link->granted)
		grant = link->granted; /* a grant is never taken back */
	peer_left = link->granted > link->received_bytes ? link->granted - link->received_bytes : 0;
	need = (urgent && (acked != link->rx_acked_msn || grant != link->granted)) ||
	       acked - link->rx_acked_msn >= ACK_EVERY ||
	       (acked != link->rx_acked_msn && link->done_bytes_unacked >= ACK_BYTES) ||
	       (grant > link->granted && peer_left < window / 4) ||
	       grant - link->granted >= window / 2;
	if (!need) {
		if (acked != link->rx_acked_msn)
			relay_ack_soon(link->relay);
		return;
	}
	ack.acked_msn = acked;
	ack.credit = grant;
	if (wire_put_ack(payload, sizeof(payload), &ack) < 0 ||
	    put_frame(link, WIRE_ACK, payload, WIRE_ACK_SIZE, NULL, 0) < 0)
		return;
	link->rx_acked_msn = acked;
	link->granted = grant;
	link->done_bytes_unacked = 0;
}

/* The done flags: one bit per msn in flight, in a circular bitmap. */
static bool done_bit(const struct link *link, uint64_t msn)
{
	uint64_t i = msn & (link->rx_done_cap - 1);

	return link->rx_done_bits[i / 8] & (1u << (i % 8));
}

static void set_done_bit(struct link *link, uint64_t msn, bool on)
{
	uint64_t i = msn & (link->rx_done_cap - 1);

	if (on)
		link->rx_done_bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		link->rx_done_bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* Room for the done flags of every msn up to 'msn'. */
static int done_bits_reserve(struct link *link, uint64_t msn)
{
	uint64_t cap = link->rx_done_cap ? link->rx_done_cap : 1024, m;
	uint8_t *bits;

	while (msn - link->rx_done_msn >= cap)
		cap *= 2;
	if (cap == link->rx_done_cap)
		return 0;
	bits = calloc(1, cap / 8);
	if (!bits)
		return -ENOMEM;
	for (m = link->rx_done_msn + 1; link->rx_done_bits && m < link->rx_next_msn; m++)
		if (done_bit(link, m)) {
			uint64_t i = m & (cap - 1);

			bits[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	free(link->rx_done_bits);
	link->rx_done_bits = bits;
	link->rx_done_cap = cap;
	return 0;
}

bool link_ack_owed(const struct link *link)
{
	uint64_t window = credit_window(link);
	uint64_t peer_left =
	    link->granted > link->received_bytes ? link->granted - link->received_bytes : 0;

	/* An acknowledgement, or a grant the peer is short of (maybe_ack's
	 * rule), that no DATA of ours has carried yet. */
	return link->state == LINK_UP &&
	       (link->rx_done_msn != link->rx_acked_msn ||
	        (grant_now(link) > link->granted && peer_left < window / 4));
}

void link_ack_now(struct link *link)
{
	if (link->state == LINK_UP) {
		maybe_ack(link, true);
		flush_out(link);
	}
}

void link_rx_done(struct link *link, uint64_t msn, uint32_t len)
{
	link->held_from_peer -= len < link->held_from_peer ? len : link->held_from_peer;
	link->done_bytes_unacked += len;
	if (msn > link->rx_done_msn && msn < link->rx_next_msn) {
		set_done_bit(link, msn, true);
		while (link->rx_done_msn + 1 < link->rx_next_msn &&
		       done_bit(link, link->rx_done_msn + 1)) {
			set_done_bit(link, link->rx_done_msn + 1, false);
			link->rx_done_msn++;
		}
	}
	if (link->state == LINK_UP) {
		maybe_ack(link, false);
		flush_out(link);
	}
}

/* ---- The reliable stream ------------------------------------------------ */

void link_enqueue(struct link *link, struct relay_msg *msg)
{
	msg->msn = link->next_msn++;
	msg->next = NULL;
	queue_push(&link->unacked, msg);
	if (!link->unsent)
		link->unsent = msg;
	link->unsent_bytes += msg->len;
	link_pump(link);
}

bool link_can_take(const struct link *link)
{
	return link->state == LINK_UP && link->sent_bytes + link->unsent_bytes < link->credit &&
	       link->relay->held_bytes < link->relay->config->queue_bytes;
}

void link_pump(struct link *link)
{
	if (link->state != LINK_UP || link->fd < 0)
		return;
	/* A sender may start a message with any credit left (so that a message
	 * larger than the window still goes), and overshoots by at most it. */
	while (link->unsent && link->sent_bytes < link->credit &&
	       link->out_len - link->out_off < OUT_HIGH_WATER) {
		struct relay_msg *msg = link->unsent;
		uint8_t hdr[WIRE_DATA_HEADER_SIZE];
		struct wire_data data = {
		    .msn = msg->msn,
		    .src = msg->src,
		    .dst = msg->dst,
		    .message_type = msg->message_type,
		    .flags = msg->routed ? WIRE_DATA_ROUTED : 0,
		    .origin = msg->origin,
		    .length = msg->len,
		};

		uint64_t grant = grant_now(link);

		/* Every DATA carries our acknowledgement and grant (docs/
		 * protocol.md): on a request/response path the reply carries
		 * the request's ACK, with no ACK frame and no delayed ACK. */
		if (grant < link->granted)
			grant = link->granted;
		data.acked_msn = link->rx_done_msn;
		data.credit = grant;
		if (wire_put_data_header(hdr, sizeof(hdr), &data) < 0) {
			/* Cannot happen for a message we accepted; never send garbage. */
			relay_log(0, "link %s: cannot encode msn %llu", link->cfg->name,
			          (unsigned long long)msg->msn);
			break;
		}
		if (put_frame(link, WIRE_DATA, hdr, sizeof(hdr), msg->data, msg->len) < 0)
			break;
		link->rx_acked_msn = data.acked_msn;
		link->granted = grant;
		link->done_bytes_unacked = 0;
		link->sent_bytes += msg->len;
		link->unsent_bytes -= msg->len;
		link->unsent = msg->next;
		link->counters.data_tx++;
		if (msg->msn <= link->highest_sent_msn)
			link->counters.retransmits++;
		else
			link->highest_sent_msn = msg->msn;
	}
	flush_out(link);
}

/* Frees what the peer has acknowledged (every msn <= acked). */
static void free_acked(struct link *link, uint64_t acked)
{
	struct relay *relay = link->relay;

	while (link->unacked.head && link->unacked.head->msn <= acked) {
		struct relay_msg *msg = queue_pop(&link->unacked);

		if (link->unsent == msg) {
			link->unsent = msg->next;
			link->unsent_bytes -= msg->len;
		}
		msg_done(relay, msg);
	}
}

/* ---- Sessions ----------------------------------------------------------- */

/* Constant-time comparison, so a proof's timing says nothing of the key. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static void reset_session(struct link *link)
{
	link->auth_failed = false;
	link->tx_seq = link->rx_seq = 0;
	link->credit = link->sent_bytes = link->granted = link->received_bytes = 0;
	link->in_len = 0;
	link->out_len = link->out_off = 0;
	link->unsent = link->unacked.head;
	link->unsent_bytes = link->unacked.bytes;
	link->ping_token = 0;
	explicit_bzero(&link->keys, sizeof(link->keys));
}

static void set_state(struct link *link, enum link_state state)
{
	link->state = state;
	link->state_since_ms = relay_now_ms();
}

static void link_drop(struct link *link, const char *why)
{
	struct relay *relay = link->relay;
	bool was_up = link->state == LINK_UP;

	if (link->fd >= 0) {
		relay_unwatch(relay, link->fd);
		close(link->fd);
		link->fd = -1;
		link->watched = 0;
	}
	relay_log(was_up ? 0 : 1, "link %s: %s%s%s", link->cfg->name,
	          was_up ? "session ended: " : "", why, was_up ? "" : "");
	reset_session(link);
	set_state(link, LINK_DOWN);
	if (link->consecutive_auth_failures >= relay->config->max_auth_failures) {
		relay_log(0,
		          "link %s: %u authentication failures in a row: reset, next try in %u ms",
		          link->cfg->name, link->consecutive_auth_failures,
		          relay->config->reset_backoff_ms);
		link->counters.resets++;
		link->consecutive_auth_failures = 0;
		link->next_attempt_ms = relay_now_ms() + relay->config->reset_backoff_ms;
		/* A listening end backs off too: it refuses connections meanwhile. */
		link->refuse_until_ms = link->next_attempt_ms;
	} else {
		link->next_attempt_ms = relay_now_ms() + relay->config->reconnect_ms;
	}
	if (was_up)
		routes_link_down(relay, link->index);
}

/*
 * Serial links (a virtio-serial port, a pty, a UART) are byte streams
 * without connections: both ends open their end ("connect"), neither sees
 * the other start or stop, and what one writes while the other side is
 * away (a QEMU chardev with nobody connected) is lost. So on a serial link:
 * - when both ends claim the initiator's role, the end whose HELLO nonce is
 *   lower takes it (both see the same two nonces);
 * - HELLO goes out again every HELLO_RESEND_MS until the peer's comes, and
 *   the same HELLO received twice (same nonce) is ignored;
 * - frames before the handshake are what is left of an earlier session
 *   (counted as stale, skipped), not a reason to drop the stream; bytes
 *   that are no frame's start (the tail of an earlier session's frame)
 *   are skipped one by one until a header parses; an AUTH that fails
 *   before the handshake is done may be an earlier session's: it counts
 *   as a wrong key only if the handshake then times out;
 * - a new HELLO from the peer in the middle of a session means the peer
 *   started afresh (a relay restarted, the channel reconnected): we start
 *   afresh with it on the same stream, as a new connection would elsewhere.
 * Every other transport has connections, and keeps the strict rules.
 */
static bool no_connections(const struct link *link)
{
	return link->cfg->transport == TRANSPORT_SERIAL;
}

static void send_hello(struct link *link)
{
	uint8_t payload[WIRE_HELLO_SIZE];

	if (wire_put_hello(payload, sizeof(payload), &link->our_hello) < 0) {
		link_drop(link, "cannot encode our HELLO");
		return;
	}
	link->hello_sent_ms = relay_now_ms();
	put_frame(link, WIRE_HELLO, payload, WIRE_HELLO_SIZE, NULL, 0);
	flush_out(link);
}

static void start_session(struct link *link, int fd, enum wire_role role)
{
	uint8_t payload[WIRE_HELLO_SIZE];

	reset_session(link);
	link->fd = fd;
	link->role = role;
	memset(&link->our_hello, 0, sizeof(link->our_hello));
	link->our_hello.version_min = WIRE_VERSION;
	link->our_hello.version_max = WIRE_VERSION;
	memcpy(link->our_hello.hvid, link->relay->config->hvid, WIRE_HVID_SIZE);
	link->our_hello.rx_next_msn = link->rx_next_msn;
	link->our_hello.acked_msn = link->rx_done_msn;
	link->our_hello.boot_id = link->relay->boot_id;
	link->our_hello.role = role;
	if (auth_random(link->our_hello.nonce, WIRE_NONCE_SIZE) < 0) {
		link_drop(link, "no randomness for a nonce");
		return;
	}
	if (wire_put_hello(payload, sizeof(payload), &link->our_hello) < 0) {
		link_drop(link, "cannot encode our HELLO");
		return;
	}
	set_state(link, LINK_HELLO);
	link->last_rx_ms = relay_now_ms();
	link->watched = 0;
	watch(link, EPOLLIN);
	send_hello(link);
}

/* A serial link's peer started a new session: so do we, on the same
 * stream, keeping the bytes already read (the peer's HELLO among them). */
static void restart_session(struct link *link)
{
	size_t in_len = link->in_len;
	bool was_up = link->state == LINK_UP;

	relay_log(0, "link %s: %speer started a new session on the stream; starting ours again",
	          link->cfg->name, was_up ? "session ended: " : "");
	link->counters.restarts++;
	if (was_up)
		routes_link_down(link->relay, link->index);
	start_session(link, link->fd, link->cfg->listen ? WIRE_ROLE_ACCEPTOR : WIRE_ROLE_INITIATOR);
	link->in_len = in_len;
}

static void on_hello(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_hello *peer = &link->peer_hello;
	const struct wire_hello *initiator, *acceptor;
	uint8_t proof[WIRE_MAC_SIZE];
	const char *why = NULL;

	if (link->state != LINK_HELLO) {
		struct wire_hello again;

		if (!no_connections(link)) {
			link_drop(link, "HELLO in the middle of a session");
			return;
		}
		if (wire_parse_hello(payload, len, &again, &why) < 0) {
			link->counters.drop_malformed++;
			link_drop(link, why);
			return;
		}
		/* The peer's HELLO once more: it had not heard ours yet. */
		if (!memcmp(again.nonce, peer->nonce, WIRE_NONCE_SIZE))
			return;
		restart_session(link);
		if (link->fd < 0)
			return;
	}
	if (wire_parse_hello(payload, len, peer, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	if (peer->version_min > WIRE_VERSION || peer->version_max < WIRE_VERSION) {
		link_drop(link, "peer speaks no version we know");
		return;
	}
	if (strcmp(peer->hvid, link->cfg->peer_hvid) != 0) {
		relay_log(0, "link %s: peer says it is '%s', expected '%s'", link->cfg->name,
		          peer->hvid, link->cfg->peer_hvid);
		link_drop(link, "wrong peer hvid");
		return;
	}
	if (peer->role == link->role) {
		int lower = memcmp(link->our_hello.nonce, peer->nonce, WIRE_NONCE_SIZE);

		if (!no_connections(link) || lower == 0) {
			link_drop(link, "both ends claim the same role");
			return;
		}
		/* Both ends opened the stream: the lower nonce initiates. */
		link->role = lower < 0 ? WIRE_ROLE_INITIATOR : WIRE_ROLE_ACCEPTOR;
	}

	initiator = link->role == WIRE_ROLE_INITIATOR ? &link->our_hello : peer;
	acceptor = link->role == WIRE_ROLE_INITIATOR ? peer : &link->our_hello;
	if (auth_derive(&link->cfg->psk, initiator, acceptor, link->role, &link->keys) < 0 ||
	    auth_proof(link->keys.tx_key, initiator, acceptor, proof) < 0) {
		link_drop(link, "key derivation failed");
		return;
	}

	/* What the peer says of our stream is acted on only once AUTH has
	 * proved it holds the key (on_auth): an unauthenticated HELLO must
	 * not make us free or renumber anything. */

	set_state(link, LINK_AUTH);
	put_frame(link, WIRE_AUTH, proof, WIRE_MAC_SIZE, NULL, 0);
	flush_out(link);
}

/* The peer's HELLO, now authenticated, tells what it holds of ours
 * (everything below rx_next_msn) and what it is done with (up to
 * acked_msn): free, keep, renumber and resend accordingly. */
static void resume_stream(struct link *link)
{
	const struct wire_hello *peer = &link->peer_hello;
	struct relay_msg *m;
	uint64_t expect;

	expect = peer->rx_next_msn ? peer->rx_next_msn : 1;
	if (link->peer_boot_id && link->peer_boot_id == peer->boot_id) {
		/* The same peer process as before, and we are too (a peer
		 * only knows our boot after a session with us): it still
		 * has what it received; send only the rest. */
		free_acked(link, peer->acked_msn < link->highest_sent_msn ? peer->acked_msn
		                                                          : link->highest_sent_msn);
		link->unsent = link->unacked.head;
		link->unsent_bytes = link->unacked.bytes;
		while (link->unsent && link->unsent->msn < expect) {
			link->unsent_bytes -= link->unsent->len;
			link->unsent = link->unsent->next;
			link->counters.resent_held++;
		}
	} else {
		/* A peer new to us (it or we restarted): it has none of what
		 * we keep. Renumber all of it from what it expects. */
		uint64_t msn = expect;

		for (m = link->unacked.head; m; m = m->next)
			m->msn = msn++;
		link->next_msn = msn;
		link->highest_sent_msn = expect - 1;
		link->unsent = link->unacked.head;
		link->unsent_bytes = link->unacked.bytes;
	}
	link->peer_boot_id = peer->boot_id;
}

static void on_auth(struct link *link, const uint8_t *payload, uint32_t len)
{
	const struct wire_hello *initiator, *acceptor;
	uint8_t expected[WIRE_MAC_SIZE];

	initiator = link->role == WIRE_ROLE_INITIATOR ? &link->our_hello : &link->peer_hello;
	acceptor = link->role == WIRE_ROLE_INITIATOR ? &link->peer_hello : &link->our_hello;
	if (link->state != LINK_AUTH || len != WIRE_MAC_SIZE ||
	    auth_proof(link->keys.rx_key, initiator, acceptor, expected) < 0 ||
	    !equal_ct(expected, payload, WIRE_MAC_SIZE)) {
		link->counters.auth_failures++;
		link->consecutive_auth_failures++;
		link_drop(link, "authentication failed (wrong key?)");
		return;
	}
	link->consecutive_auth_failures = 0;
	link->counters.sessions++;
	resume_stream(link);
	set_state(link, LINK_UP);
	relay_log(0, "link %s: up with %s (%s), resuming at msn %llu", link->cfg->name,
	          link->peer_hello.hvid, link->peer_desc, (unsigned long long)link->next_msn);
	link_send_routes(link);
	maybe_ack(link, true);
	link_pump(link);
	local_kick(link->relay);
}

/* ---- Frames in ---------------------------------------------------------- */

/* An acknowledgement and grant from the peer, in an ACK frame or riding
 * on a DATA. Returns true when it freed something or raised our credit
 * (more may be sent now: the link, if still up, and local rings). */
static bool apply_ack(struct link *link, uint64_t acked_msn, uint64_t credit)
{
	bool more = false;

	if (acked_msn >= link->next_msn) {
		link_drop(link, "acknowledgement of a message never sent");
		return false;
	}
	if (link->unacked.head && link->unacked.head->msn <= acked_msn) {
		free_acked(link, acked_msn);
		more = true;
	}
	if (credit > link->credit) {
		link->credit = credit;
		more = true;
	}
	return more;
}

/* The message a DATA carries (its acknowledgement already applied). */
static void take_data(struct link *link, const struct wire_data *data)
{
	struct relay *relay = link->relay;
	struct relay_msg *msg;

	if (data->msn < link->rx_next_msn) {
		link->counters.duplicates++; /* a retransmission we already have */
		return;
	}
	if (data->msn > link->rx_next_msn) {
		link_drop(link, "gap in the message sequence");
		return;
	}
	msg = done_bits_reserve(link, data->msn) < 0 ? NULL : msg_new(relay, data->length);
	if (!msg) {
		link_drop(link, "out of memory");
		return;
	}
	link->rx_next_msn++;
	link->received_bytes += data->length;
	link->held_from_peer += data->length;
	link->counters.data_rx++;
	msg->from_link = link->index;
	msg->in_msn = data->msn;

	/* The true source cannot be forged by a neighbour: it must be the
	 * peer's own hvid or one we route through this very link. */
	if (strcmp(data->src.hvid, link->peer_hello.hvid) != 0 &&
	    routes_lookup(relay, data->src.hvid) != link->index) {
		link->counters.drop_spoofed++;
		relay_log(1, "link %s: dropped a message claiming to come from %s", link->cfg->name,
		          data->src.hvid);
		msg_done(relay, msg);
		return;
	}
	/* The msn it came with, until a link queues it: an UNDELIVERABLE
	 * answering it names that DATA (and msn 0 would be refused). */
	msg->msn = data->msn;
	msg->src = data->src;
	msg->dst = data->dst;
	msg->message_type = data->message_type;
	msg->origin = data->origin;
	msg->routed = data->flags & WIRE_DATA_ROUTED;
	memcpy(msg->data, data->message, data->length);
	relay_route(relay, msg);
}

static void on_data(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_data data;
	const char *why = NULL;
	bool more;

	if (wire_parse_data(payload, len, &data, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	/* The acknowledgement it carries first, as an ACK frame before it
	 * would be; what that lets us send goes after the message. */
	more = apply_ack(link, data.acked_msn, data.credit);
	if (link->fd >= 0)
		take_data(link, &data);
	if (more) {
		if (link->fd >= 0)
			link_pump(link);
		local_kick(link->relay);
	}
}

static void on_ack(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_ack ack;
	const char *why = NULL;

	if (wire_parse_ack(payload, len, &ack, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	if (apply_ack(link, ack.acked_msn, ack.credit)) {
		if (link->fd >= 0)
			link_pump(link);
		local_kick(link->relay);
	}
}

static void on_routes(struct link *link, const uint8_t *payload, uint32_t len)
{
	static struct wire_route routes[WIRE_MAX_ROUTES];
	const char *why = NULL;
	uint32_t n;

	if (wire_parse_routes(payload, len, routes, &n, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	routes_learn(link->relay, link->index, routes, n);
}

static void on_undeliverable(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct relay *relay = link->relay;
	struct wire_undeliverable u;
	const char *why = NULL;
	int next;

	if (wire_parse_undeliverable(payload, len, &u, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	if (strcmp(u.src.hvid, relay->config->hvid) == 0) {
		local_report_undeliverable(relay, &u);
		return;
	}
	/* On its way back to the sender's relay. */
	next = routes_lookup(relay, u.src.hvid);
	if (next >= 0 && next != link->index && relay->links[next].state == LINK_UP) {
		uint8_t out[WIRE_UNDELIVERABLE_SIZE];

		if (wire_put_undeliverable(out, sizeof(out), &u) < 0)
			return;
		put_frame(&relay->links[next], WIRE_UNDELIVERABLE, out, sizeof(out), NULL, 0);
		flush_out(&relay->links[next]);
	}
}

static void on_ping(struct link *link, uint8_t type, const uint8_t *payload, uint32_t len)
{
	const char *why = NULL;
	uint64_t token;

	if (wire_parse_ping(payload, len, &token, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	if (type == WIRE_PING) {
		put_frame(link, WIRE_PONG, payload, len, NULL, 0);
		flush_out(link);
	} else if (token == link->ping_token && link->ping_token) {
		link->counters.rtt_us = relay_now_us() - link->ping_sent_us;
		link->ping_token = 0;
	}
}

/* One complete frame at link->in: check, then dispatch. Returns false when
 * the session ended. */
static bool handle_frame(struct link *link, const struct wire_header *hdr, const uint8_t *frame)
{
	const uint8_t *payload = frame + WIRE_HEADER_SIZE;
	struct wire_close close_msg;
	const char *why = NULL;

	link->counters.frames_rx++;
	link->last_rx_ms = relay_now_ms();
	if (hdr->type == WIRE_HELLO) {
		on_hello(link, payload, hdr->length);
		return link->fd >= 0;
	}
	if (link->state != LINK_AUTH && link->state != LINK_UP) {
		if (no_connections(link)) {
			link->counters.stale_frames++;
			return true;
		}
		link->counters.drop_malformed++;
		link_drop(link, "authenticated frame before the handshake");
		return false;
	}
	if (link->state == LINK_AUTH && hdr->type != WIRE_AUTH && no_connections(link) &&
	    auth_verify(link->keys.rx_key, frame, WIRE_HEADER_SIZE + hdr->length,
	                payload + hdr->length) < 0) {
		/* Left of an earlier session, under other keys. */
		link->counters.stale_frames++;
		return true;
	}
	if (auth_verify(link->keys.rx_key, frame, WIRE_HEADER_SIZE + hdr->length,
	                payload + hdr->length) < 0) {
		if (link->state == LINK_AUTH && no_connections(link)) {
			/* An AUTH of an earlier session, or a wrong key: told
			 * apart when the handshake times out. */
			link->counters.stale_frames++;
			link->auth_failed = true;
			return true;
		}
		link->counters.drop_mac++;
		if (link->state == LINK_AUTH) {
			link->counters.auth_failures++;
			link->consecutive_auth_failures++;
			link_drop(link, "authentication failed (wrong key?)");
		} else {
			link_drop(link, "frame with a bad MAC (tampered?)");
		}
		return false;
	}
	if (hdr->seq != link->rx_seq + 1) {
		link->counters.drop_seq++;
		link_drop(link, hdr->seq <= link->rx_seq ? "replayed frame" : "frame out of order");
		return false;
	}
	link->rx_seq = hdr->seq;

	if (hdr->type == WIRE_AUTH) {
		on_auth(link, payload, hdr->length);
		return link->fd >= 0;
	}
	if (link->state != LINK_UP) {
		link_drop(link, "frame before authentication completed");
		return false;
	}
	switch (hdr->type) {
	case WIRE_DATA:
		on_data(link, payload, hdr->length);
		break;
	case WIRE_ACK:
		on_ack(link, payload, hdr->length);
		break;
	case WIRE_ROUTES:
		on_routes(link, payload, hdr->length);
		break;
	case WIRE_UNDELIVERABLE:
		on_undeliverable(link, payload, hdr->length);
		break;
	case WIRE_PING:
	case WIRE_PONG:
		on_ping(link, hdr->type, payload, hdr->length);
		break;
	case WIRE_CLOSE:
		if (wire_parse_close(payload, hdr->length, &close_msg, &why) == 0)
			relay_log(0, "link %s: peer closed: %s", link->cfg->name, close_msg.text);
		link_drop(link, "closed by the peer");
		return false;
	default:
		link->counters.drop_malformed++;
		link_drop(link, "unexpected frame type");
		return false;
	}
	return link->fd >= 0;
}

static void read_frames(struct link *link)
{
	bool drained = false;

	while (!drained) {
		size_t off = 0, want;
		ssize_t n;

		if (link->in_cap - link->in_len < IN_INITIAL / 2) {
			size_t cap = link->in_cap ? link->in_cap * 2 : IN_INITIAL;
			uint8_t *p = realloc(link->in, cap);

			if (!p) {
				link_drop(link, "out of memory");
				return;
			}
			link->in = p;
			link->in_cap = cap;
		}
		want = link->in_cap - link->in_len;
		n = read(link->fd, link->in + link->in_len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				link_drop(link, strerror(errno));
			break;
		}
		if (n == 0) {
			link_drop(link, "connection closed");
			return;
		}
		link->in_len += (size_t)n;
		link->counters.bytes_rx += (uint64_t)n;
		/* The socket had less than we asked for: it is empty now, and
		 * epoll (level-triggered) says when more comes; no read just
		 * to be told EAGAIN. */
		drained = (size_t)n < want;

		/* Every complete frame in the buffer. */
		while (link->fd >= 0) {
			struct wire_header hdr;
			const char *why = NULL;
			int64_t total =
			    wire_parse_header(link->in + off, link->in_len - off, &hdr, &why);

			if (total == -EAGAIN)
				break;
			if (total < 0 && no_connections(link)) {
				/* Not a frame's start: the tail of a frame of an
				 * earlier session. Look one byte on. */
				link->counters.stale_bytes++;
				off++;
				continue;
			}
			if (total < 0) {
				link->counters.drop_malformed++;
				relay_log(0, "link %s: malformed frame: %s", link->cfg->name, why);
				link_drop(link, "malformed frame");
				return;
			}
			if ((size_t)total > link->in_len - off) {
				/* Make room for the whole frame. */
				if ((size_t)total > link->in_cap) {
					uint8_t *p = realloc(link->in, (size_t)total + IN_INITIAL);

					if (!p) {
						link_drop(link, "out of memory");
						return;
					}
					link->in = p;
					link->in_cap = (size_t)total + IN_INITIAL;
				}
				break;
			}
			if (!handle_frame(link, &hdr, link->in + off))
				return;
			off += (size_t)total;
		}
		if (link->fd < 0)
			return;
		memmove(link->in, link->in + off, link->in_len - off);
		link->in_len -= off;
	}
	if (link->fd >= 0) {
		maybe_ack(link, false);
		flush_out(link);
	}
}

/* ---- Control frames out ------------------------------------------------- */

void link_send_routes(struct link *link)
{
	static struct wire_route routes[WIRE_MAX_ROUTES];
	static uint8_t payload[4 + WIRE_MAX_ROUTES * 20];
	uint32_t n;
	int len;

	if (link->state != LINK_UP)
		return;
	n = routes_announcement(link->relay, link->index, routes, WIRE_MAX_ROUTES);
	len = wire_put_routes(payload, sizeof(payload), routes, n);
	if (len < 0)
		return;
	put_frame(link, WIRE_ROUTES, payload, (uint32_t)len, NULL, 0);
	flush_out(link);
}

void link_send_undeliverable(struct link *link, const struct relay_msg *msg, int error)
{
	struct wire_undeliverable u = {
	    .msn = msg->msn,
	    .src = msg->src,
	    .dst = msg->dst,
	    .error = (uint32_t)error,
	    .flags = msg->routed ? WIRE_DATA_ROUTED : 0,
	};
	uint8_t out[WIRE_UNDELIVERABLE_SIZE];

	/* msn 0 (read from our own fabric) has no meaning for the peer. */
	if (link->state != LINK_UP || wire_put_undeliverable(out, sizeof(out), &u) < 0)
		return;
	put_frame(link, WIRE_UNDELIVERABLE, out, sizeof(out), NULL, 0);
	flush_out(link);
}

/* ---- Connections -------------------------------------------------------- */

static void describe_peer(struct link *link)
{
	snprintf(link->peer_desc, sizeof(link->peer_desc), "%s %s",
	         transport_name(link->cfg->transport), link->cfg->address);
}

static void on_accept(struct link *link)
{
	const struct transport_ops *t = transport_get(link->cfg->transport);
	int fd = t->accept(link->listen_fd);

	if (fd < 0) {
		if (fd != -EAGAIN)
			relay_log(0, "link %s: accept: %s", link->cfg->name, strerror(-fd));
		return;
	}
	if (relay_now_ms() < link->refuse_until_ms) {
		close(fd);
		return;
	}
	/* A new connection means the peer started over: it replaces ours. */
	if (link->fd >= 0)
		link_drop(link, "replaced by a new connection from the peer");
	describe_peer(link);
	start_session(link, fd, WIRE_ROLE_ACCEPTOR);
}

static void try_connect(struct link *link)
{
	const struct transport_ops *t = transport_get(link->cfg->transport);
	int fd = t->connect(link->cfg->address);

	if (fd < 0) {
		relay_log(1, "link %s: connect %s: %s", link->cfg->name, link->cfg->address,
		          strerror(-fd));
		link->next_attempt_ms = relay_now_ms() + link->relay->config->reconnect_ms;
		return;
	}
	describe_peer(link);
	link->fd = fd;
	set_state(link, LINK_CONNECTING);
	link->watched = 0;
	watch(link, EPOLLOUT);
}

static void on_connected(struct link *link)
{
	const struct transport_ops *t = transport_get(link->cfg->transport);
	int err = 0, fd = link->fd;
	socklen_t len = sizeof(err);

	if (t->is_socket && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		link_drop(link, strerror(err));
		return;
	}
	link->fd = -1;
	start_session(link, fd, WIRE_ROLE_INITIATOR);
}

void link_on_event(struct link *link, int fd, uint32_t events)
{
	if (fd == link->listen_fd) {
		on_accept(link);
		return;
	}
	if (fd != link->fd)
		return;
	if (link->state == LINK_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(link);
		return;
	}
	if (events & EPOLLOUT) {
		flush_out(link);
		if (link->fd >= 0)
			link_pump(link);
	}
	if (link->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_frames(link);
}

void link_tick(struct link *link, uint64_t now)
{
	const struct relay_config *config = link->relay->config;

	switch (link->state) {
	case LINK_DOWN:
		if (!link->cfg->listen && now >= link->next_attempt_ms)
			try_connect(link);
		break;
	case LINK_CONNECTING:
	case LINK_HELLO:
	case LINK_AUTH:
		if (now - link->state_since_ms > HANDSHAKE_TIMEOUT_MS && link->auth_failed) {
			link->counters.drop_mac++;
			link->counters.auth_failures++;
			link->consecutive_auth_failures++;
			link_drop(link, "handshake timed out after an AUTH that failed (wrong key?)");
		} else if (now - link->state_since_ms > HANDSHAKE_TIMEOUT_MS) {
			link_drop(link, "handshake timed out");
		} else if (link->state == LINK_HELLO && no_connections(link) &&
		           now - link->hello_sent_ms >= HELLO_RESEND_MS) {
			send_hello(link);
		}
		break;
	case LINK_UP:
		if (now - link->last_rx_ms > 3ull * config->ping_ms + 1000) {
			link_drop(link, "peer silent (no frame for 3 ping intervals)");
			break;
		}
		maybe_ack(link, true);
		flush_out(link);
		if (link->fd < 0)
			break;
		if (!link->ping_token || now - link->ping_sent_ms > config->ping_ms) {
			uint8_t payload[8];

			link->ping_token = now ^ (link->relay->boot_id << 1) ^ 1;
			link->ping_sent_ms = now;
			link->ping_sent_us = relay_now_us();
			for (int i = 0; i < 8; i++)
				payload[i] = (uint8_t)(link->ping_token >> (8 * i));
			put_frame(link, WIRE_PING, payload, 8, NULL, 0);
			flush_out(link);
		}
		break;
	}
}

int link_init(struct relay *relay, struct link *link, const struct config_link *cfg, int index)
{
	memset(link, 0, sizeof(*link));
	link->relay = relay;
	link->cfg = cfg;
	link->index = index;
	link->fd = -1;
	link->listen_fd = -1;
	link->next_msn = 1;
	link->rx_next_msn = 1;
	if (done_bits_reserve(link, 1) < 0)
		return -ENOMEM;
	set_state(link, LINK_DOWN);
	describe_peer(link);
	if (cfg->listen) {
		const struct transport_ops *t = transport_get(cfg->transport);
		int fd = t->listen(cfg->address);

		if (fd < 0) {
			relay_log(0, "link %s: cannot listen on %s: %s", cfg->name, cfg->address,
			          strerror(-fd));
			return fd;
		}
		link->listen_fd = fd;
		relay_watch(relay, fd, EPOLLIN, &link->listen_fd);
	}
	return 0;
}

void link_fini(struct link *link)
{
	struct relay_msg *msg;

	if (link->fd >= 0) {
		if (link->state == LINK_UP) {
			uint8_t payload[64];
			int n = wire_put_close(payload, sizeof(payload), 1, "relay shutting down");

			if (n > 0) {
				put_frame(link, WIRE_CLOSE, payload, (uint32_t)n, NULL, 0);
				flush_out(link);
			}
		}
		if (link->fd >= 0)
			close(link->fd);
	}
	if (link->listen_fd >= 0)
		close(link->listen_fd);
	while ((msg = queue_pop(&link->unacked)))
		msg_free(link->relay, msg);
	free(link->in);
	free(link->out);
	free(link->rx_done_bits);
	explicit_bzero(&link->keys, sizeof(link->keys));
}
