/* SPDX-License-Identifier: MIT */
/* The route table: see routes.h. */
#include "routes.h"

#include <stdbool.h>
#include <string.h>

void routes_init(struct routes *t, const struct relay_config *config)
{
	unsigned int i;

	t->config = config;
	t->n = 0;
	t->changed = false;
	for (i = 0; i < config->nroutes; i++) {
		struct route *r = &t->table[t->n++];

		memcpy(r->hvid, config->routes[i].hvid, WIRE_HVID_SIZE);
		r->link = (int)config->routes[i].link;
		r->hops = 1;
		r->is_static = true;
	}
}

static struct route *find(struct routes *t, const char *hvid)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->table[i].hvid, hvid) == 0)
			return &t->table[i];
	return NULL;
}

/* The link whose configured peer hvid is, or -1. */
static int peer_link(const struct routes *t, const char *hvid)
{
	unsigned int i;

	for (i = 0; i < t->config->nlinks; i++)
		if (strncmp(t->config->links[i].peer_hvid, hvid, WIRE_HVID_SIZE) == 0)
			return (int)i;
	return -1;
}

int routes_lookup(const struct routes *t, const char *hvid)
{
	const struct route *r = find((struct routes *)t, hvid);
	int link;

	if (r && r->is_static)
		return r->link;
	/* A configured peer is reached through its own link, whatever anyone
	 * announced, and before it announces anything. */
	link = peer_link(t, hvid);
	if (link >= 0)
		return link;
	return r ? r->link : -1;
}

bool routes_may_announce(const struct routes *t, int link, const char *hvid)
{
	const struct config_link *l = &t->config->links[link];
	int peer = peer_link(t, hvid);
	unsigned int i;

	if (strncmp(hvid, t->config->hvid, WIRE_HVID_SIZE) == 0)
		return false;
	if (peer >= 0)
		return peer == link; /* a link speaks for its own peer only */
	if (l->announce_any)
		return true;
	for (i = 0; i < l->nannounce; i++)
		if (strncmp(l->announce[i], hvid, WIRE_HVID_SIZE) == 0)
			return true;
	return false;
}

/* Forgets what a link said (not the static routes through it). */
static void forget(struct routes *t, int link)
{
	int j;

	for (j = 0; j < t->n; j++) {
		struct route *r = &t->table[j];

		if (!r->is_static && r->link == link) {
			*r = t->table[--t->n];
			j--;
			t->changed = true;
		}
	}
}

#define TABLE_SIZE ((int)(sizeof(((struct routes *)0)->table) / sizeof(struct route)))

/*
 * A link's announcement is complete: what it no longer says is forgotten.
 * But only what differs counts as a change: neighbours announce again when
 * their table changed, so a table that called an identical announcement a
 * change would be announced back and forth for ever (issue 13: two idle
 * relays without static routes sent each other 33 000 frames a second).
 * So the routes the link gave before are marked, the announcement is
 * applied entry by entry (an entry of the link that keeps its hop count is
 * no change), and what is still marked at the end is forgotten. What the
 * link may not announce (routes_may_announce()) is refused and counted.
 */
uint32_t routes_learn(struct routes *t, int link, const struct wire_route *routes, uint32_t n)
{
	bool before[TABLE_SIZE]; /* a route this link gave before, not repeated yet */
	uint32_t i, refused = 0;
	int j;

	for (j = 0; j < t->n; j++)
		before[j] = !t->table[j].is_static && t->table[j].link == link;
	for (i = 0; i < n; i++) {
		uint8_t hops = (uint8_t)(routes[i].hops + 1);
		struct route *r;

		if (routes[i].hops >= WIRE_MAX_ROUTE_HOPS)
			continue;
		r = find(t, routes[i].hvid);
		/* What a static route says stands, whoever announces it (our
		 * own announcement comes back this way too: split horizon
		 * keeps it out). */
		if (r && r->is_static)
			continue;
		if (!routes_may_announce(t, link, routes[i].hvid)) {
			if (strncmp(routes[i].hvid, t->config->hvid, WIRE_HVID_SIZE) != 0)
				refused++;
			continue;
		}
		if (r && before[r - t->table]) {
			/* What the link said before, said again: a change only
			 * when the hop count moved. */
			before[r - t->table] = false;
			if (r->hops != hops) {
				r->hops = hops;
				t->changed = true;
			}
			continue;
		}
		if (r && r->hops <= hops)
			continue;
		if (!r) {
			if (t->n >= TABLE_SIZE)
				continue;
			r = &t->table[t->n];
			before[t->n++] = false;
			memcpy(r->hvid, routes[i].hvid, WIRE_HVID_SIZE);
		}
		r->link = link;
		r->hops = hops;
		r->is_static = false;
		t->changed = true;
	}
	/* What the link no longer says, from the end so that the entries
	 * moved into the holes were already looked at. */
	for (j = t->n - 1; j >= 0; j--)
		if (before[j]) {
			t->table[j] = t->table[--t->n];
			t->changed = true;
		}
	return refused;
}

void routes_link_down(struct routes *t, int link)
{
	forget(t, link);
}

uint32_t routes_announcement(const struct routes *t, int link, routes_link_up_fn *link_up,
                             const void *ctx, struct wire_route *out, uint32_t cap)
{
	uint32_t n = 0;
	int j;

	if (cap == 0)
		return 0;
	memcpy(out[n].hvid, t->config->hvid, WIRE_HVID_SIZE);
	out[n++].hops = 0;
	for (j = 0; j < t->n && n < cap; j++) {
		const struct route *r = &t->table[j];

		/* Split horizon: never tell a link what we learned from it. */
		if (r->link == link || r->link < 0 || !link_up(ctx, r->link))
			continue;
		memcpy(out[n].hvid, r->hvid, WIRE_HVID_SIZE);
		out[n++].hops = r->hops;
	}
	return n;
}

void routes_reconfigure(struct routes *t)
{
	const struct relay_config *config = t->config;
	unsigned int i;
	int j;

	for (j = 0; j < t->n; j++) {
		const struct route *r = &t->table[j];
		bool gone = r->link < 0 || r->link >= (int)config->nlinks ||
		            !config->links[r->link].name[0];

		/* Static routes are made again below; a learned one goes with
		 * its link, or when the link may no longer announce it. */
		if (r->is_static || gone || !routes_may_announce(t, r->link, r->hvid)) {
			t->table[j] = t->table[--t->n];
			j--;
		}
	}
	for (i = 0; i < config->nroutes; i++) {
		struct route *r = find(t, config->routes[i].hvid);

		if (!r) {
			r = &t->table[t->n++];
			memcpy(r->hvid, config->routes[i].hvid, WIRE_HVID_SIZE);
		}
		r->link = (int)config->routes[i].link;
		r->hops = 1;
		r->is_static = true;
	}
	t->changed = true;
}
