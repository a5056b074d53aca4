/* SPDX-License-Identifier: MIT */
/*
 * The middle of the relay (docs/relay-design.md, "Addresses and the data
 * path", "Policy and undeliverable messages"): where a message goes (our
 * own fabric, or the link its route names), whether policy lets it, and
 * what happens when it cannot go anywhere (counted, logged once per cause,
 * reported towards its source).
 *
 * The router knows the two kinds of ends a message can leave by only as
 * relay_end ops tables (relay/fabric_out.c, relay/link.c), and nothing of
 * where a message came from (its custody ops, link/msg.h): the ends call
 * in, the router calls out, and no call comes back.
 */
#ifndef ARGO_RELAY_ROUTER_H
#define ARGO_RELAY_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"
#include "routes.h"
#include "wire.h"

/* A way out of the relay: our own fabric, or one link. */
struct relay_end_ops {
	/* Takes a message (ownership) towards its destination. */
	void (*send)(void *end, struct msg *msg);
	/* May a message for this end be read from a ring now (room, credit)? */
	bool (*can_take)(const void *end);
	/* Tells one of our own guests that a message it sent could not be
	 * delivered (our fabric's end only; reports for messages that came
	 * from a link go back along it, link/msg.h). */
	void (*report)(void *end, const struct wire_undeliverable *u);
	/* Is it up (worth announcing routes through)? */
	bool (*is_up)(const void *end);
};

struct relay_end {
	const struct relay_end_ops *ops;
	void *end;
};

/* Messages the relay could not deliver, by cause; and what became of the
 * reports. */
struct router_counters {
	uint64_t undeliverable_noring, undeliverable_msgsize, undeliverable_policy,
	    undeliverable_unreachable, undeliverable_other;
	/* Messages of the reserved type (ARGO_MSGTYPE_UNDELIVERABLE) that a
	 * guest sent, or a link brought: dropped, never answered (a report
	 * about a report would loop, issue 11). */
	uint64_t reserved_dropped;
	/* Reports this relay made over the rate allowed per destination
	 * (report_rate): not sent. Reports passed on are never limited. */
	uint64_t reports_suppressed;
	/* Reports sent again for a copy of a message found undeliverable
	 * before (router_report_again()). */
	uint64_t reports_repeated;
};

/* Reports per destination: a token bucket each (router.c). */
#define ROUTER_REPORT_BUCKETS 64
struct report_bucket {
	struct wire_gaddr dst;
	uint64_t last_ms; /* when tokens was last brought up to date; 0: unused */
	uint64_t tokens;  /* in thousandths of a report */
};

/* What the periodic log line last said (router_tick()). */
struct router_logged {
	uint64_t undeliverable, reserved_dropped, reports_suppressed;
	uint64_t next_ms;
};

struct router {
	const struct relay_config *config;
	struct routes routes;
	struct relay_end local;                   /* our own fabric */
	struct relay_end links[CONFIG_MAX_LINKS]; /* by index in the configuration */
	int nlinks;
	/* A link gained room (credit, acknowledgements) since the owner last
	 * looked: rings left for lack of it may be read again. */
	bool room;
	uint32_t logged_causes; /* bit per cause already logged once */
	struct router_counters counters;
	struct report_bucket buckets[ROUTER_REPORT_BUCKETS];
	struct router_logged logged;
};

void router_init(struct router *r, const struct relay_config *config);
void router_set_local(struct router *r, const struct relay_end *end);
void router_set_link(struct router *r, int index, const struct relay_end *end);

/* A message to route (ownership): to our fabric, to a link, or back to its
 * source as undeliverable. */
void router_route(struct router *r, struct msg *msg);
/* Counts and (once per cause) logs an undeliverable message, reports it
 * towards its source (within report_rate), and is done with it (error: a
 * positive errno). */
void router_undeliverable(struct router *r, struct msg *msg, int error);
/* A copy of a message found undeliverable here before (its sender was told
 * error): tells its sender again, without counting it undeliverable again
 * (the first report may have been lost with a relay killed on its way). */
void router_report_again(struct router *r, const struct msg *msg, int error);
/* An UNDELIVERABLE report that came in on a link, matched to msg, the
 * message it answers (still held: the link found it among what it sent):
 * back the way msg came, to our guest or the link before; always (the
 * relay that made it applied report_rate). */
void router_report(struct router *r, const struct wire_undeliverable *u, const struct msg *msg);
/* Once per tick: every ROUTER_SUMMARY_MS, one log line with what was
 * undeliverable, dropped or suppressed since the last one, if anything was
 * (so that a storm shows in the log, not only its first message). */
void router_tick(struct router *r, uint64_t now_ms);
/* Total undeliverable messages, all causes. */
uint64_t router_undeliverable_total(const struct router *r);
/* Could a message for dst be taken on now (its way out has room)? */
bool router_can_take(const struct router *r, const struct wire_gaddr *dst);
/* A link gained room. */
void router_room(struct router *r);

/* Routes: the link that reaches hvid (or -1), a link's announcement learned,
 * a link gone down, the announcement to send on a link. */
int router_lookup(const struct router *r, const char *hvid);
/* Returns the count of entries the link was not allowed to announce. */
uint32_t router_learn(struct router *r, int link, const struct wire_route *routes, uint32_t n);
void router_link_down(struct router *r, int link);
uint32_t router_announcement(const struct router *r, int link, struct wire_route *out,
                             uint32_t cap);

#endif /* ARGO_RELAY_ROUTER_H */
