/* SPDX-License-Identifier: MIT */
/*
 * One link of this relay to a peer relay (docs/protocol.md; docs/
 * relay-design.md, "Links and sessions"): connecting or accepting over its
 * transport, and after a cut reconnecting, with a back-off after repeated
 * failed handshakes; a TLS session on each connection (link/session.h),
 * its frames (link/frames.h) and the reliable stream across sessions
 * (link/stream.h); pings; and the relay's rules for what comes in (credit,
 * the sources a neighbour may speak for, the routes it may announce, the
 * reports it may send).
 *
 * A listening link runs up to LINK_MAX_PENDING handshakes at once, each on
 * its own connection, beside the session in use: a connection replaces
 * that session only once it has authenticated (TLS) and sent a good
 * HELLO. Failed handshakes are counted per source (the address without its
 * port, the uid, the CID, the domain: transport.h); a source that fails
 * max_auth_failures in a row is refused for reset_backoff_ms, and only it.
 *
 * Messages the peer sends go to the router (router.h); the router sends
 * messages out through the link's relay_end (link_end()). The link is the
 * custody source of what it received (link/msg.h): it acknowledges a
 * message to the peer only once the router's way out is done with it, and
 * reports one that could not be delivered back to the peer.
 */
#ifndef ARGO_RELAY_LINK_H
#define ARGO_RELAY_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "evloop.h"
#include "frames.h"
#include "msg.h"
#include "router.h"
#include "session.h"
#include "stream.h"
#include "transport.h"

/* Handshakes a listening link runs at once, and from one source. */
#define LINK_MAX_PENDING        8
#define LINK_PENDING_PER_SOURCE 4
/* Sources whose failed handshakes a link remembers. */
#define LINK_LOCKOUT_SLOTS 16
/* Reports a link keeps while it is down, for its next session. */
#define LINK_MAX_HELD_REPORTS 4096
/* A digest of what a link's credentials are made of (SHA-256). */
#define LINK_CREDS_DIGEST_SIZE 32

/* What every link of a relay shares. */
struct link_env {
	const struct relay_config *config;
	struct evloop *loop;
	struct router *router;
	struct msg_account *account;
	/* One deadline for the delayed acknowledgements of every link: when
	 * it fires, the owner calls link_ack_now() on each. */
	struct ev_timer *ack_timer;
	uint64_t boot_id;
};

enum link_state {
	LINK_DOWN,       /* no session: waiting to (re)connect, or for the peer */
	LINK_CONNECTING, /* non-blocking connect in progress */
	LINK_HANDSHAKE,  /* connected: TLS and HELLO running */
	LINK_UP,
};

/* A leaf endpoint served on this link (relay/leaf.c, docs/protocol.md
 * "Leaf endpoints"): the link carries its frames (WIRE_LEAF_*) and tells it
 * when a session comes and goes; nothing of the leaf is routed. The relay
 * is always the acceptor of a leaf's sessions, whichever end connects. */
struct link_leaf_ops {
	/* The session is up (authenticated): the leaf's ATTACH comes next. */
	void (*up)(void *leaf);
	/* The session ended. */
	void (*down)(void *leaf);
	/* One leaf frame: 0, or < 0 to end the session (*why says why). */
	int (*frame)(void *leaf, uint8_t type, const uint8_t *payload, uint32_t len,
	             const char **why);
	/* The connection took what was queued: more may go. */
	void (*writable)(void *leaf);
};

struct link_counters {
	uint64_t sessions, auth_failures, resets;
	uint64_t drop_mac, drop_seq, drop_malformed, drop_spoofed;
	uint64_t drop_credit; /* sessions ended: DATA beyond credit or WIRE_MAX_IN_FLIGHT */
	uint64_t drop_report; /* UNDELIVERABLE reports that answered nothing we sent */
	uint64_t drop_route;  /* announced hvids the link may not announce */
	uint64_t refused;     /* connections refused: their source was locked out */
	uint64_t evicted;     /* handshakes dropped to make room for newer ones */
	uint64_t replaced;    /* sessions replaced by a newer authenticated one */
	uint64_t rtt_us;      /* last measured */
	/* UNDELIVERABLE reports for the peer's messages, found while the link
	 * was down: kept for its next session, and those beyond
	 * LINK_MAX_HELD_REPORTS, or for a peer that restarted meanwhile,
	 * dropped (its copies bring them back: docs/relay-design.md). */
	uint64_t reports_held, reports_dropped;
};

struct link;

/* One connection of a link: the session in use, or one still proving
 * itself. */
struct link_conn {
	struct link *link;
	int fd; /* -1: this slot is free */
	bool connecting;
	struct ev_watcher watch;
	struct session session;
	struct frames frames;
	uint64_t since_ms;
	struct transport_peer peer;
	bool auth_failed; /* its handshake failed authentication (said: auth_failed()) */
};

/* Failed handshakes from one source. */
struct link_lockout {
	char source[TRANSPORT_PEER_MAX]; /* "" when free */
	unsigned int failures;           /* in a row */
	uint64_t until_ms;               /* refused until then */
	uint64_t last_ms;
	bool refusal_logged;
};

struct link {
	const struct link_env *env;
	const struct config_link *cfg;
	int index;
	enum link_state state;
	struct session_creds creds; /* the link's TLS credentials */
	bool have_creds;
	/* What creds were made of (link_creds_digest()): a reload makes new
	 * ones only when it changed. */
	uint8_t creds_digest[LINK_CREDS_DIGEST_SIZE];
	/* conns[0] is the connecting side's one connection; a listening
	 * link uses them all for the handshakes it runs. */
	struct link_conn conns[1 + LINK_MAX_PENDING];
	struct link_conn *up; /* the session in use, or NULL */
	int listen_fd;        /* for listening links, -1 otherwise */
	struct ev_watcher listen_watch;
	uint64_t next_attempt_ms;                        /* connecting side: next try */
	unsigned int consecutive_failures;               /* connecting side: in a row */
	struct link_lockout lockout[LINK_LOCKOUT_SLOTS]; /* listening side */
	char peer_desc[CONFIG_ADDR_MAX + 16];            /* the session's peer, for log lines */
	uint64_t state_since_ms, last_rx_ms, up_since_ms;
	uint64_t ping_token, ping_sent_ms, ping_sent_us;
	unsigned int auth_failure_said; /* since the link was last up: logged once */
	/* Removed from the configuration (link_retire()): no connection, no
	 * listener, only the stream stays, for the messages received on it
	 * that are still held elsewhere. */
	bool retired;
	/* Why it is not up (the last failure), for argo-relayctl; empty while
	 * up and before anything failed. */
	char down_reason[CONFIG_ADDR_MAX + TRANSPORT_PEER_MAX + 160];
	struct frames_counters frames_done;         /* of the connections that ended */
	struct session_serial_counters serial_done; /* likewise (serial links) */
	struct stream stream;                       /* the message stream, across sessions */
	/* Reports for messages the peer sent us, found undeliverable while
	 * no session was up: sent first in the next session, our HELLO's
	 * acknowledgement stopping short of the first of them, so that the
	 * peer still holds each message its report answers. */
	struct wire_undeliverable *held_reports;
	uint32_t nheld_reports, held_reports_cap;

	struct link_counters counters;

	/* Set for a leaf endpoint's link (link_set_leaf()), NULL otherwise. */
	const struct link_leaf_ops *leaf_ops;
	void *leaf;
};

int link_init(struct link *link, const struct link_env *env, const struct config_link *cfg,
              int index);
void link_fini(struct link *link);
/* The router's way out through this link. */
struct relay_end link_end(struct link *link);
/* Periodic work: reconnects, handshake time-outs, pings. */
void link_tick(struct link *link, uint64_t now_ms);
/* Announces our routes (after they changed). */
void link_send_routes(struct link *link);
/* Sends any acknowledgement or grant still owed (the deadline passed). */
void link_ack_now(struct link *link);
/* Arms the acknowledgement deadline (a no-op when armed): grants and
 * acknowledgements owed go by then, unless DATA carries them first. */
void links_ack_soon(const struct link_env *env);
/* Is an acknowledgement owed to the peer? */
bool link_ack_owed(const struct link *link);
const char *link_state_name(enum link_state state);
/* The frame counters of every connection the link had, the live ones
 * included. */
void link_frames_counters(const struct link *link, struct frames_counters *out);
/* What serial streams skipped and restarted (session.h), every connection
 * the link had included. */
void link_serial_counters(const struct link *link, struct session_serial_counters *out);
/* Handshakes running now (not the session in use). */
unsigned int link_pending(const struct link *link);

/* ---- Reconfiguration (relay/reload.c) ---- */
/* The stream, and the custody of what it holds, outlives all three. */
/* Closes every connection (a CLOSE frame first when up, saying why) and
 * the listener. */
void link_stop(struct link *link, const char *why);
/* After link_stop() and a new cfg: new TLS credentials if what they are
 * made of changed (link_creds_digest()), then listens again, or connects
 * at the next tick. */
int link_start(struct link *link);
/* Removed from the configuration: stopped for good; every message queued
 * on it goes to out (ownership), for the router to send another way. */
void link_retire(struct link *link, struct msg_queue *out);
/* May a retired link's slot take a new link (nothing it received is
 * still held anywhere)? */
bool link_reusable(const struct link *link);
/* The digest of what cfg's credentials are made of: its key (while the
 * configuration holds it) or its certificate files' bytes, salted with
 * the relay's boot id. 0, or -errno (a file that cannot be read). */
int link_creds_digest(const struct link_env *env, const struct config_link *cfg,
                      uint8_t out[LINK_CREDS_DIGEST_SIZE]);

/* ---- For a leaf endpoint served on the link (relay/leaf.c) ---- */
void link_set_leaf(struct link *link, const struct link_leaf_ops *ops, void *leaf);
/* Appends one frame of the session (0, -ENOMEM, -EIO); link_flush() sends. */
int link_put_frame(struct link *link, uint8_t type, const void *p1, uint32_t l1, const void *p2,
                   uint32_t l2);
void link_flush(struct link *link);
/* Bytes queued and not yet written. */
size_t link_backlog(const struct link *link);

#endif /* ARGO_RELAY_LINK_H */
