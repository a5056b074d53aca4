/* SPDX-License-Identifier: MIT */
/*
 * The route table: which link reaches which hvid. Static routes come from
 * the configuration and always win; the rest is learned from neighbours'
 * ROUTES announcements (distance vector, split horizon, at most
 * WIRE_MAX_ROUTE_HOPS hops) and forgotten when their link goes down.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "relay.h"

void routes_init(struct relay *relay)
{
	const struct relay_config *config = relay->config;
	unsigned int i;

	relay->nroutes = 0;
	for (i = 0; i < config->nroutes; i++) {
		struct route *r = &relay->routes[relay->nroutes++];

		memcpy(r->hvid, config->routes[i].hvid, WIRE_HVID_SIZE);
		r->link = (int)config->routes[i].link;
		r->hops = 1;
		r->is_static = true;
	}
}

static struct route *find(struct relay *relay, const char *hvid)
{
	int i;

	for (i = 0; i < relay->nroutes; i++)
		if (strcmp(relay->routes[i].hvid, hvid) == 0)
			return &relay->routes[i];
	return NULL;
}

int routes_lookup(const struct relay *relay, const char *hvid)
{
	const struct route *r = find((struct relay *)relay, hvid);
	int i;

	if (r)
		return r->link;
	/* A direct peer is reachable through its link even before it announces. */
	for (i = 0; i < relay->nlinks; i++)
		if (strcmp(relay->links[i].cfg->peer_hvid, hvid) == 0)
			return i;
	return -1;
}

static void changed(struct relay *relay)
{
	relay->routes_changed = true;
}

void routes_learn(struct relay *relay, int link, const struct wire_route *routes, uint32_t n)
{
	uint32_t i;
	int j;

	/* Forget what this link said before: the announcement is complete. */
	for (j = 0; j < relay->nroutes; j++) {
		struct route *r = &relay->routes[j];

		if (!r->is_static && r->link == link) {
			*r = relay->routes[--relay->nroutes];
			j--;
			changed(relay);
		}
	}
	for (i = 0; i < n; i++) {
		struct route *r;

		if (routes[i].hops >= WIRE_MAX_ROUTE_HOPS ||
		    strcmp(routes[i].hvid, relay->config->hvid) == 0)
			continue;
		r = find(relay, routes[i].hvid);
		if (r && (r->is_static || r->hops <= routes[i].hops + 1))
			continue;
		if (!r) {
			if (relay->nroutes >=
			    (int)(sizeof(relay->routes) / sizeof(relay->routes[0])))
				continue;
			r = &relay->routes[relay->nroutes++];
			memcpy(r->hvid, routes[i].hvid, WIRE_HVID_SIZE);
		}
		r->link = link;
		r->hops = (uint8_t)(routes[i].hops + 1);
		r->is_static = false;
		changed(relay);
	}
}

void routes_link_down(struct relay *relay, int link)
{
	int j;

	for (j = 0; j < relay->nroutes; j++) {
		struct route *r = &relay->routes[j];

		if (!r->is_static && r->link == link) {
			*r = relay->routes[--relay->nroutes];
			j--;
			changed(relay);
		}
	}
}

uint32_t routes_announcement(const struct relay *relay, int link, struct wire_route *out,
                             uint32_t cap)
{
	uint32_t n = 0;
	int j;

	if (cap == 0)
		return 0;
	memcpy(out[n].hvid, relay->config->hvid, WIRE_HVID_SIZE);
	out[n++].hops = 0;
	for (j = 0; j < relay->nroutes && n < cap; j++) {
		const struct route *r = &relay->routes[j];

		/* Split horizon: never tell a link what we learned from it. */
		if (r->link == link || r->link < 0 || relay->links[r->link].state != LINK_UP)
			continue;
		memcpy(out[n].hvid, r->hvid, WIRE_HVID_SIZE);
		out[n++].hops = r->hops;
	}
	return n;
}
