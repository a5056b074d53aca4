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

struct link_counters {
	uint64_t sessions, auth_failures, resets;
	uint64_t drop_mac, drop_seq, drop_malformed, drop_spoofed;
	/* Serial links: frames of an earlier session skipped during the
	 * handshake, and sessions restarted on the same stream. */
	uint64_t stale_frames, restarts;
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
	unsigned int auth_failure_said;       /* since the link was last up: logged once */
	char peer_desc[CONFIG_ADDR_MAX + 16]; /* for log lines */
	uint64_t state_since_ms, last_rx_ms;
	uint64_t ping_token, ping_sent_ms, ping_sent_us;
	uint64_t hello_sent_ms; /* serial links resend HELLO until answered */
	bool auth_failed;       /* serial links: an AUTH failed in this handshake */
	/* Removed from the configuration (link_retire()): no connection, no
	 * listener, only the stream stays, for the messages received on it
	 * that are still held elsewhere. */
	bool retired;
	/* Why it is not up (the last failure), for argo-relayctl; empty while
	 * up and before anything failed. */
	char down_reason[CONFIG_ADDR_MAX + 96];

	struct session session; /* one connection's handshake and keys */
	struct frames frames;   /* its bytes and frames */
	struct stream stream;   /* the message stream, across sessions */

	struct link_counters counters;
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

/* Reconfiguration (relay/reload.c). The stream, and the custody of what
 * it holds, outlives all three. */
/* Closes the connection (a CLOSE frame first when up, saying why) and the
 * listener. */
void link_stop(struct link *link, const char *why);
/* After link_stop() and a new cfg: listens again, or connects at the next
 * tick. */
int link_start(struct link *link);
/* Removed from the configuration: stopped for good; every message queued
 * on it goes to out (ownership), for the router to send another way. */
void link_retire(struct link *link, struct msg_queue *out);
/* May a retired link's slot take a new link (nothing it received is
 * still held anywhere)? */
bool link_reusable(const struct link *link);

#endif /* ARGO_RELAY_LINK_H */
