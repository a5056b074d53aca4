/* SPDX-License-Identifier: MIT */
/* The route table: see routes.h. */
#include "routes.h"

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

int routes_lookup(const struct routes *t, const char *hvid)
{
	const struct route *r = find((struct routes *)t, hvid);
	unsigned int i;

	if (r)
		return r->link;
	/* A direct peer is reachable through its link even before it announces. */
	for (i = 0; i < t->config->nlinks; i++)
		if (strcmp(t->config->links[i].peer_hvid, hvid) == 0)
			return (int)i;
	return -1;
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

void routes_learn(struct routes *t, int link, const struct wire_route *routes, uint32_t n)
{
	uint32_t i;

	/* Forget what this link said before: the announcement is complete. */
	forget(t, link);
	for (i = 0; i < n; i++) {
		struct route *r;

		if (routes[i].hops >= WIRE_MAX_ROUTE_HOPS ||
		    strcmp(routes[i].hvid, t->config->hvid) == 0)
			continue;
		r = find(t, routes[i].hvid);
		if (r && (r->is_static || r->hops <= routes[i].hops + 1))
			continue;
		if (!r) {
			if (t->n >= (int)(sizeof(t->table) / sizeof(t->table[0])))
				continue;
			r = &t->table[t->n++];
			memcpy(r->hvid, routes[i].hvid, WIRE_HVID_SIZE);
		}
		r->link = link;
		r->hops = (uint8_t)(routes[i].hops + 1);
		r->is_static = false;
		t->changed = true;
	}
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
