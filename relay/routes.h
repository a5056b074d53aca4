/* SPDX-License-Identifier: MIT */
/*
 * The route table: which link reaches which hvid. Static routes come from
 * the configuration and always win; the rest is learned from neighbours'
 * ROUTES announcements (distance vector, split horizon, at most
 * WIRE_MAX_ROUTE_HOPS hops) and forgotten when their link goes down. A
 * link's configured peer is reachable through it before it announces
 * anything. Links are named by their index in the configuration.
 */
#ifndef ARGO_RELAY_ROUTES_H
#define ARGO_RELAY_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "wire.h"

struct route {
	char hvid[WIRE_HVID_SIZE];
	int link;     /* index, or -1 for none */
	uint8_t hops; /* 0 for a direct peer */
	bool is_static;
};

struct routes {
	const struct relay_config *config;
	struct route table[CONFIG_MAX_ROUTES + CONFIG_MAX_LINKS * 4];
	int n;
	bool changed; /* since the owner last announced them */
};

void routes_init(struct routes *t, const struct relay_config *config);
/* The link that reaches hvid, or -1. */
int routes_lookup(const struct routes *t, const char *hvid);
/* A link's announcement (complete: it replaces what the link said before). */
void routes_learn(struct routes *t, int link, const struct wire_route *routes, uint32_t n);
void routes_link_down(struct routes *t, int link);
/* The configuration changed (a reload): the static routes are its own
 * again (they replace what was learned for their hvid), and what was
 * learned through a link that is gone is forgotten. Announced again. */
void routes_reconfigure(struct routes *t);
/* Fills the announcement for a link (split horizon; only routes through
 * links that are up): returns the count. */
typedef bool routes_link_up_fn(const void *ctx, int link);
uint32_t routes_announcement(const struct routes *t, int link, routes_link_up_fn *link_up,
                             const void *ctx, struct wire_route *out, uint32_t cap);

#endif /* ARGO_RELAY_ROUTES_H */
