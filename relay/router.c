/* SPDX-License-Identifier: MIT */
/*
 * The middle of the relay: route, policy, undeliverable (router.h;
 * docs/relay-design.md, "Policy and undeliverable messages").
 */
#define _GNU_SOURCE
#include "router.h"

#include <errno.h>
#include <string.h>

#include "argo/routed.h"
#include "clock.h"
#include "log.h"

/* The periodic summary of what could not be delivered (router_tick()). */
#define ROUTER_SUMMARY_MS 10000

void router_init(struct router *r, const struct relay_config *config)
{
	memset(r, 0, sizeof(*r));
	r->config = config;
	r->nlinks = (int)config->nlinks;
	routes_init(&r->routes, config);
}

void router_set_local(struct router *r, const struct relay_end *end)
{
	r->local = *end;
}

void router_set_link(struct router *r, int index, const struct relay_end *end)
{
	r->links[index] = *end;
}

static bool is_ours(const struct router *r, const char *hvid)
{
	return strcmp(hvid, r->config->hvid) == 0;
}

void router_route(struct router *r, struct msg *msg)
{
	int link;

	/* The reserved type is the relays' own word (undeliverable reports):
	 * nobody may send it on, or a guest could forge such reports. Nor is
	 * it answered with a report: a guest that sends back what it got (an
	 * echo service) would answer that report in turn, and the two would
	 * loop for ever (issue 11). Dropped and counted. */
	if (msg->message_type == ARGO_MSGTYPE_UNDELIVERABLE) {
		if (!r->counters.reserved_dropped++)
			relay_log(0,
			          "dropped a message of the reserved type %#x from %s:%u:%u to "
			          "%s:%u:%u (a report sent back?); counted as reserved_dropped",
			          ARGO_MSGTYPE_UNDELIVERABLE, msg->src.hvid, msg->src.domid,
			          msg->src.port, msg->dst.hvid, msg->dst.domid, msg->dst.port);
		msg_done(msg);
		return;
	}
	/* Our fabric checks policy itself, after its copies check (a copy of a
	 * message delivered before goes no further, whatever else). */
	if (is_ours(r, msg->dst.hvid)) {
		r->local.ops->send(r->local.end, msg);
		return;
	}
	/* Each relay applies its own policy, whatever its neighbours decided. */
	if (!config_policy_allows(r->config, &msg->src, &msg->dst)) {
		router_undeliverable(r, msg, EACCES);
		return;
	}
	link = routes_lookup(&r->routes, msg->dst.hvid);
	if (link < 0) {
		router_undeliverable(r, msg, EHOSTUNREACH);
		return;
	}
	r->links[link].ops->send(r->links[link].end, msg);
}

static const char *cause_name(struct router *r, int error, int *bit, uint64_t **counter)
{
	switch (error) {
	case ECONNREFUSED:
		*bit = 0;
		*counter = &r->counters.undeliverable_noring;
		return "no ring at the destination";
	case EMSGSIZE:
		*bit = 1;
		*counter = &r->counters.undeliverable_msgsize;
		return "message too large for the destination ring";
	case EACCES:
		*bit = 2;
		*counter = &r->counters.undeliverable_policy;
		return "denied by policy";
	case EHOSTUNREACH:
		*bit = 3;
		*counter = &r->counters.undeliverable_unreachable;
		return "no route to the destination hvid";
	default:
		*bit = 4;
		*counter = &r->counters.undeliverable_other;
		return strerror(error);
	}
}

/* May one more report this relay made go to dst now? A token bucket per
 * destination: report_rate a second, as many at once; the destination
 * whose bucket was used longest ago gives its place to a new one. A second
 * line of defence against report storms: reports never beget reports
 * (above). Reports passed on from a link are not limited again
 * (router_report()). */
static bool report_allowed(struct router *r, const struct wire_gaddr *dst)
{
	uint64_t rate = r->config->report_rate, now = now_ms(), cap = rate * 1000;
	struct report_bucket *b, *oldest = &r->buckets[0];
	int i;

	if (!rate)
		return true;
	for (i = 0; i < ROUTER_REPORT_BUCKETS; i++) {
		b = &r->buckets[i];
		if (b->last_ms && b->dst.domid == dst->domid && b->dst.port == dst->port &&
		    !strcmp(b->dst.hvid, dst->hvid))
			break;
		if (b->last_ms < oldest->last_ms)
			oldest = b;
	}
	if (i == ROUTER_REPORT_BUCKETS) {
		b = oldest;
		b->dst = *dst;
		b->tokens = cap;
	} else {
		/* rate reports a second is rate thousandths a millisecond. */
		uint64_t gained = (now - b->last_ms) * rate;

		b->tokens = b->tokens + gained > cap ? cap : b->tokens + gained;
	}
	b->last_ms = now ? now : 1;
	if (b->tokens < 1000) {
		r->counters.reports_suppressed++;
		return false;
	}
	b->tokens -= 1000;
	return true;
}

/* Back the way the message came: the link it arrived on answers the msn it
 * arrived with; a message from our own rings was sent by a guest of ours. */
static void send_report(struct router *r, const struct wire_undeliverable *u, const struct msg *msg)
{
	if (msg->source_ops && msg->source_ops->report)
		msg->source_ops->report(msg->source, msg->source_seq, u);
	else if (is_ours(r, u->src.hvid))
		r->local.ops->report(r->local.end, u);
}

/* The report of msg, undeliverable for error. */
static struct wire_undeliverable report_of(const struct msg *msg, int error)
{
	return (struct wire_undeliverable){.msn = msg->msn,
	                                   .src = msg->src,
	                                   .dst = msg->dst,
	                                   .error = (uint32_t)error,
	                                   .flags = msg->routed ? WIRE_DATA_ROUTED : 0};
}

/* A report made before a restart and not yet acknowledged: made again,
 * once per message in the journal, so not rate-limited (a suppressed one
 * would be lost for good). */
void router_report_again(struct router *r, const struct msg *msg, int error)
{
	struct wire_undeliverable u = report_of(msg, error);

	r->counters.reports_repeated++;
	send_report(r, &u, msg);
}

void router_undeliverable(struct router *r, struct msg *msg, int error)
{
	struct wire_undeliverable u = report_of(msg, error);
	uint64_t *counter;
	const char *why;
	int bit;

	why = cause_name(r, error, &bit, &counter);
	(*counter)++;
	if (!(r->logged_causes & (1u << bit))) {
		r->logged_causes |= 1u << bit;
		relay_log(0,
		          "undeliverable: %s:%u:%u -> %s:%u:%u: %s (the first of this cause; "
		          "counts every %d s)",
		          msg->src.hvid, msg->src.domid, msg->src.port, msg->dst.hvid,
		          msg->dst.domid, msg->dst.port, why, ROUTER_SUMMARY_MS / 1000);
	}
	/* At most report_rate reports a second towards one source (counted
	 * in reports_suppressed beyond it): a second line of defence against
	 * a storm, after "reports never beget reports". Only here, where the
	 * report is made: see router_report(). */
	if (report_allowed(r, &u.src))
		send_report(r, &u, msg);
	msg_done(msg);
}

void router_report(struct router *r, const struct wire_undeliverable *u, const struct msg *msg)
{
	/* A report another relay made, on its way back: it passed that
	 * relay's rate limit, and answers one message we sent, once (the
	 * link checked), so it cannot make a storm here. Limiting it again
	 * would lose what the relay that made it counted as sent, counted
	 * only here, where nobody looks for the report (issue 11). */
	send_report(r, u, msg);
}

uint64_t router_undeliverable_total(const struct router *r)
{
	const struct router_counters *c = &r->counters;

	return c->undeliverable_noring + c->undeliverable_msgsize + c->undeliverable_policy +
	       c->undeliverable_unreachable + c->undeliverable_other;
}

void router_tick(struct router *r, uint64_t now)
{
	const struct router_counters *c = &r->counters;
	struct router_logged *l = &r->logged;
	uint64_t undeliverable = router_undeliverable_total(r);

	if (now < l->next_ms)
		return;
	l->next_ms = now + ROUTER_SUMMARY_MS;
	if (undeliverable == l->undeliverable && c->reserved_dropped == l->reserved_dropped &&
	    c->reports_suppressed == l->reports_suppressed)
		return;
	relay_log(0,
	          "in the last %d s: %llu undeliverable (%llu in all: no ring %llu, too large "
	          "%llu, policy %llu, no route %llu, other %llu), %llu reports suppressed, %llu "
	          "messages of the reserved type dropped",
	          ROUTER_SUMMARY_MS / 1000, (unsigned long long)(undeliverable - l->undeliverable),
	          (unsigned long long)undeliverable, (unsigned long long)c->undeliverable_noring,
	          (unsigned long long)c->undeliverable_msgsize,
	          (unsigned long long)c->undeliverable_policy,
	          (unsigned long long)c->undeliverable_unreachable,
	          (unsigned long long)c->undeliverable_other,
	          (unsigned long long)(c->reports_suppressed - l->reports_suppressed),
	          (unsigned long long)(c->reserved_dropped - l->reserved_dropped));
	l->undeliverable = undeliverable;
	l->reserved_dropped = c->reserved_dropped;
	l->reports_suppressed = c->reports_suppressed;
}

bool router_can_take(const struct router *r, const struct wire_gaddr *dst)
{
	int link;

	if (is_ours(r, dst->hvid))
		return r->local.ops->can_take(r->local.end);
	link = routes_lookup(&r->routes, dst->hvid);
	return link < 0 || r->links[link].ops->can_take(r->links[link].end);
}

void router_room(struct router *r)
{
	r->room = true;
}

int router_lookup(const struct router *r, const char *hvid)
{
	return routes_lookup(&r->routes, hvid);
}

uint32_t router_learn(struct router *r, int link, const struct wire_route *routes, uint32_t n)
{
	return routes_learn(&r->routes, link, routes, n);
}

void router_link_down(struct router *r, int link)
{
	routes_link_down(&r->routes, link);
}

static bool link_up(const void *ctx, int link)
{
	const struct router *r = ctx;

	return r->links[link].ops->is_up(r->links[link].end);
}

uint32_t router_announcement(const struct router *r, int link, struct wire_route *out, uint32_t cap)
{
	return routes_announcement(&r->routes, link, link_up, r, out, cap);
}
