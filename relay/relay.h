/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd's internals, shared by its stages:
 *   config.c     reads the file (done before anything starts)
 *   link.c       one authenticated, ordered frame stream to a peer relay
 *   routes.c     which link reaches which hvid
 *   local.c      the relay's side of its own fabric: import rings, proxy
 *                ports, delivery with hold queues
 *   dedup.c      what the relay delivered, per origin stream, kept across
 *                restarts so that nothing is delivered twice
 *   relayd.c     the event loop that ties them together
 *   control.c    the control socket argo-relayctl talks to
 *
 * One thread; every handler runs to completion. Lock-free by construction:
 * nothing here is shared with another thread.
 *
 * Memory bound: every message held anywhere in the relay (on a link waiting
 * for its ack, or in a hold queue waiting for ring space) is a struct
 * relay_msg counted in relay.held_bytes. Credit granted to peers and
 * reading of local rings both stop when held_bytes reaches the configured
 * queue_bytes, so memory stays within queue_bytes plus one message per
 * link (a sender may overshoot its credit by the one message it started).
 */
#ifndef ARGO_RELAY_H
#define ARGO_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "argo/argo.h"
#include "auth.h"
#include "config.h"
#include "wire.h"

struct relay;

/*
 * One message in flight through this relay. The relay has custody of it
 * until it is delivered into a ring, acknowledged by the next relay, or
 * reported undeliverable: only then (msg_done) is the place it came from
 * told, so that a relay killed at any moment loses nothing it was given
 * (docs/relay-design.md, "Custody").
 */
struct relay_msg {
	struct relay_msg *next;
	uint64_t msn;    /* on the link it is queued on (0 until queued) */
	int from_link;   /* link it arrived on, -1 when read from our fabric */
	uint64_t in_msn; /* its msn on from_link */
	int from_port;   /* local port (ring) it was read from, -1 otherwise */
	struct wire_origin origin;
	bool routed; /* routed mode: delivered with a routed header (argo/routed.h) */
	struct wire_gaddr src, dst;
	uint32_t message_type;
	uint32_t len;
	uint8_t data[];
};

struct msg_queue {
	struct relay_msg *head, *tail;
	uint64_t bytes;
	uint32_t count;
};

enum link_state {
	LINK_DOWN,       /* waiting to (re)connect, or for a peer to connect */
	LINK_CONNECTING, /* non-blocking connect in progress */
	LINK_HELLO,      /* HELLO sent, waiting for the peer's */
	LINK_AUTH,       /* AUTH sent, waiting for the peer's */
	LINK_UP,
};

struct link_counters {
	uint64_t frames_tx, frames_rx, bytes_tx, bytes_rx;
	uint64_t data_tx, data_rx, retransmits, duplicates;
	uint64_t sessions, auth_failures, resets;
	uint64_t drop_mac, drop_seq, drop_malformed, drop_spoofed;
	/* Serial links: frames of an earlier session skipped before the
	 * handshake, and sessions restarted on the same stream. */
	uint64_t stale_frames, stale_bytes, restarts;
	uint64_t resent_held; /* after a reconnect: not resent, the peer still had them */
	uint64_t rtt_us;      /* last measured */
};

struct link {
	struct relay *relay;
	const struct config_link *cfg;
	int index;
	enum link_state state;
	int fd;           /* the session's stream, -1 when down */
	uint32_t watched; /* epoll events armed on fd */
	int listen_fd;    /* for listening links, -1 otherwise */
	enum wire_role role;
	uint64_t next_attempt_ms; /* reconnect time (connecting side) */
	uint64_t refuse_until_ms; /* listening side: reset backoff */
	unsigned int consecutive_auth_failures;
	char peer_desc[CONFIG_ADDR_MAX + 16]; /* for log lines */

	/* Session (reset on every new connection). */
	struct wire_hello our_hello, peer_hello;
	struct auth_session keys;
	uint64_t tx_seq, rx_seq; /* last frame seq sent / received */
	uint64_t credit;         /* peer's grant: bytes we may send this session */
	uint64_t sent_bytes;     /* DATA message bytes sent this session */
	uint64_t granted;        /* our last grant to the peer */
	uint64_t received_bytes; /* DATA message bytes received this session */
	uint64_t ping_token, ping_sent_ms, ping_sent_us;
	uint64_t state_since_ms, last_rx_ms;
	uint64_t hello_sent_ms; /* serial links resend HELLO until answered */
	bool auth_failed;       /* serial links: an AUTH failed in this handshake */

	/* Reliable stream, kept across sessions of one pair of relay boots. */
	uint64_t peer_boot_id;
	uint64_t next_msn;           /* msn of the next new message to queue */
	uint64_t rx_next_msn;        /* next msn we expect from the peer */
	uint64_t rx_done_msn;        /* every msn up to this one has left our custody */
	uint64_t rx_acked_msn;       /* highest msn we acknowledged (<= rx_done_msn) */
	uint64_t done_bytes_unacked; /* message bytes done since our last ACK */
	/* Done flags of msns rx_done_msn+1 .. rx_next_msn-1: bit (msn % cap),
	 * cap a power of two, grown as needed. */
	uint8_t *rx_done_bits;
	uint64_t rx_done_cap;
	struct msg_queue unacked;  /* queued or sent, waiting for an ack, in msn order */
	struct relay_msg *unsent;  /* first of unacked not sent in this session */
	uint64_t unsent_bytes;     /* message bytes from unsent to the tail */
	uint64_t highest_sent_msn; /* to tell retransmissions from first sends */
	uint64_t held_from_peer;   /* bytes received from this peer still held here */

	/* Byte buffers. */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;

	struct link_counters counters;
};

/* Route entry: how to reach a hvid. */
struct route {
	char hvid[WIRE_HVID_SIZE];
	int link;     /* index, or -1 for none */
	uint8_t hops; /* 0 for a direct peer */
	bool is_static;
};

/* Counters of messages the relay could not deliver, by cause. */
struct relay_counters {
	uint64_t local_rx, local_delivered, local_held;
	uint64_t duplicates_dropped; /* copies of messages already delivered (dedup.c) */
	uint64_t rings_adopted;      /* rings taken over from a previous run */
	uint64_t undeliverable_noring, undeliverable_msgsize, undeliverable_policy,
	    undeliverable_unreachable, undeliverable_other;
	uint64_t reports_sent;
	uint64_t routed_malformed; /* routed messages with a bad header */
};

struct relay {
	struct relay_config *config;
	struct argo_fabric *fabric;
	argo_domid_t domid;
	uint64_t boot_id;
	struct link links[CONFIG_MAX_LINKS];
	int nlinks;
	struct route routes[CONFIG_MAX_ROUTES + CONFIG_MAX_LINKS * 4];
	int nroutes;
	bool routes_changed;
	uint64_t held_bytes; /* see the memory bound above */
	uint64_t held_peak;  /* the most ever held, to check the bound */
	struct relay_counters counters;
	struct local *local; /* local.c */
	struct dedup *dedup; /* dedup.c */
	/* Causes already logged once (bit per cause), so logs cannot flood. */
	uint32_t logged_causes;
};

/* ---- relayd.c ---- */
uint64_t relay_now_ms(void);
uint64_t relay_now_us(void);
void relay_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* epoll registration for a link's fds. */
void relay_watch(struct relay *relay, int fd, uint32_t events, void *tag);
void relay_unwatch(struct relay *relay, int fd);
/* Arms the delayed-acknowledgement timer (a no-op when armed). */
void relay_ack_soon(struct relay *relay);
extern int relay_verbose;

/* ---- messages ---- */
struct relay_msg *msg_new(struct relay *relay, uint32_t len);
void msg_free(struct relay *relay, struct relay_msg *msg);
/* The message left our custody for good: tell where it came from (so it
 * can be acknowledged or released from its ring), then free it. */
void msg_done(struct relay *relay, struct relay_msg *msg);
void queue_push(struct msg_queue *q, struct relay_msg *msg);
struct relay_msg *queue_pop(struct msg_queue *q);

/* ---- link.c ---- */
int link_init(struct relay *relay, struct link *link, const struct config_link *cfg, int index);
void link_fini(struct link *link);
/* Events on the link's fd (or listening fd). */
void link_on_event(struct link *link, int fd, uint32_t events);
/* Periodic work: reconnects, pings. */
void link_tick(struct link *link, uint64_t now_ms);
/* Queue a message for the peer; takes ownership. */
void link_enqueue(struct link *link, struct relay_msg *msg);
/* May another message be read from a local ring for this link now? (A
 * message may overshoot the credit left: see link_pump.) */
bool link_can_take(const struct link *link);
/* Send what can be sent (after credit arrives or queueing). */
void link_pump(struct link *link);
void link_send_routes(struct link *link);
/* Sends any acknowledgement or grant still owed to the peer. */
void link_ack_now(struct link *link);
/* Is an acknowledgement owed to the peer? */
bool link_ack_owed(const struct link *link);
/* A message that arrived on this link (msn, len bytes) left our custody. */
void link_rx_done(struct link *link, uint64_t msn, uint32_t len);
void link_send_undeliverable(struct link *link, const struct relay_msg *msg, int error);
const char *link_state_name(enum link_state state);

/* ---- routes.c ---- */
void routes_init(struct relay *relay);
/* The link that reaches hvid, or -1. */
int routes_lookup(const struct relay *relay, const char *hvid);
void routes_learn(struct relay *relay, int link, const struct wire_route *routes, uint32_t n);
void routes_link_down(struct relay *relay, int link);
/* Fill the announcement for a link (split horizon); returns the count. */
uint32_t routes_announcement(const struct relay *relay, int link, struct wire_route *out,
                             uint32_t cap);

/* ---- local.c ---- */
int local_init(struct relay *relay);
void local_fini(struct relay *relay);
/* The fabric raised our event: drain import and proxy rings, retry holds. */
void local_on_event(struct relay *relay);
/* A message for an endpoint of our own fabric (dst.hvid == ours); takes
 * ownership. */
void local_deliver(struct relay *relay, struct relay_msg *msg);
/* An UNDELIVERABLE came back for a message one of our guests sent. */
void local_report_undeliverable(struct relay *relay, const struct wire_undeliverable *u);
/* Links gained credit: try reading rings that were left for lack of it. */
void local_kick(struct relay *relay);
void local_tick(struct relay *relay);
/* A message read from local port 'port' (index origin_index) left our
 * custody: its slots in the ring may be released. */
void local_port_done(struct relay *relay, int port, uint32_t origin_index);
/* End of an event-loop round: tell the fabric about released ring space. */
void local_flush(struct relay *relay);
struct strbuf;
void local_dump(struct relay *relay, struct strbuf *out, bool json);

/* ---- dedup.c ---- */
/* Opens state_dir/delivered (anonymous memory without a state_dir) and
 * settles a delivery a previous run was in the middle of. */
int dedup_open(struct relay *relay);
void dedup_close(struct relay *relay);
/* Was this message (by origin and destination) delivered already? */
bool dedup_seen(struct relay *relay, const struct relay_msg *msg);
/* Around one send into the fabric: begin returns the tag to send with;
 * end records the outcome (delivered or not). */
uint64_t dedup_begin(struct relay *relay, const struct relay_msg *msg);
void dedup_end(struct relay *relay, bool delivered);
struct strbuf;
void dedup_dump(struct relay *relay, struct strbuf *out, bool json);

/* ---- control.c ---- */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void strbuf_add(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int control_init(struct relay *relay);
void control_on_event(struct relay *relay, int fd);
void control_fini(struct relay *relay);
extern int control_listen_fd;

/* ---- relayd.c: the routing decision for any message ---- */
/* Route a message: to our fabric, to a link, or back as undeliverable. */
void relay_route(struct relay *relay, struct relay_msg *msg);
/* Count and (once per cause) log an undeliverable message, and report it
 * towards its source. Frees msg. */
void relay_undeliverable(struct relay *relay, struct relay_msg *msg, int error);

#endif /* ARGO_RELAY_H */
