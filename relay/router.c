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
#include "log.h"

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
	 * nobody may send it on, or a guest could forge such reports. */
	if (msg->message_type == ARGO_MSGTYPE_UNDELIVERABLE) {
		router_undeliverable(r, msg, EINVAL);
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

void router_undeliverable(struct router *r, struct msg *msg, int error)
{
	struct wire_undeliverable u = {.msn = msg->msn,
	                               .src = msg->src,
	                               .dst = msg->dst,
	                               .error = (uint32_t)error,
	                               .flags = msg->routed ? WIRE_DATA_ROUTED : 0};
	uint64_t *counter;
	const char *why;
	int bit;

	why = cause_name(r, error, &bit, &counter);
	(*counter)++;
	if (!(r->logged_causes & (1u << bit))) {
		r->logged_causes |= 1u << bit;
		relay_log(0, "undeliverable: %s:%u:%u -> %s:%u:%u: %s (logged once per cause)",
		          msg->src.hvid, msg->src.domid, msg->src.port, msg->dst.hvid,
		          msg->dst.domid, msg->dst.port, why);
	}
	router_report(r, &u, msg);
	msg_done(msg);
}

void router_report(struct router *r, const struct wire_undeliverable *u, const struct msg *msg)
{
	/* Back the way the message came: the link it arrived on answers the
	 * msn it arrived with; a message from our own rings was sent by a
	 * guest of ours. */
	if (msg->source_ops && msg->source_ops->report)
		msg->source_ops->report(msg->source, msg->source_seq, u);
	else if (is_ours(r, u->src.hvid))
		r->local.ops->report(r->local.end, u);
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
