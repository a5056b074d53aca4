/* SPDX-License-Identifier: MIT */
/*
 * One link of this relay to a peer relay (docs/protocol.md; docs/
 * relay-design.md, "Order, acknowledgement, retransmission"): connecting
 * or accepting over its transport, and after a cut reconnecting, with a
 * back-off after repeated authentication failures; a session on each
 * connection (link/session.h), its frames (link/frames.h) and the reliable
 * stream across sessions (link/stream.h); pings; and the relay's rules for
 * what comes in (sources a neighbour may speak for, routes it announces).
 *
 * Messages the peer sends go to the router (router.h); the router sends
 * messages and reports out through the link's relay_end (link_end()). The
 * link is the custody source of what it received (link/msg.h): it
 * acknowledges a message to the peer only once the router's way out is
 * done with it.
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
	LINK_DOWN,       /* waiting to (re)connect, or for a peer to connect */
	LINK_CONNECTING, /* non-blocking connect in progress */
	LINK_HELLO,      /* HELLO sent, waiting for the peer's */
	LINK_AUTH,       /* AUTH sent, waiting for the peer's */
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
	uint64_t rtt_us; /* last measured */
};

struct link {
	const struct link_env *env;
	const struct config_link *cfg;
	int index;
	enum link_state state;
	struct ev_watcher conn_watch; /* the connection: frames.fd */
	int listen_fd;                /* for listening links, -1 otherwise */
	struct ev_watcher listen_watch;
	uint64_t next_attempt_ms; /* reconnect time (connecting side) */
	uint64_t refuse_until_ms; /* listening side: reset backoff */
	unsigned int consecutive_auth_failures;
	char peer_desc[CONFIG_ADDR_MAX + 16]; /* for log lines */
	uint64_t state_since_ms, last_rx_ms;
	uint64_t ping_token, ping_sent_ms, ping_sent_us;

	struct session session; /* one connection's handshake and keys */
	struct frames frames;   /* its bytes and frames */
	struct stream stream;   /* the message stream, across sessions */

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

/* ---- For a leaf endpoint served on the link (relay/leaf.c) ---- */
void link_set_leaf(struct link *link, const struct link_leaf_ops *ops, void *leaf);
/* Appends one frame of the session (0, -ENOMEM, -EIO); link_flush() sends. */
int link_put_frame(struct link *link, uint8_t type, const void *p1, uint32_t l1, const void *p2,
                   uint32_t l2);
void link_flush(struct link *link);
/* Bytes queued and not yet written. */
size_t link_backlog(const struct link *link);

#endif /* ARGO_RELAY_LINK_H */
