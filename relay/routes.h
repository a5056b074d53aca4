/* SPDX-License-Identifier: MIT */
/*
 * The route table: which link reaches which hvid. Static routes come from
 * the configuration and always win; then every link's configured peer is
 * reached through its own link, whatever anyone announces; the rest is
 * learned from neighbours' ROUTES announcements (distance vector, split
 * horizon, at most WIRE_MAX_ROUTE_HOPS hops) and forgotten when their link
 * goes down. A link may announce only its own peer and the hvids its
 * configuration allows ("announce"), never this relay's hvid nor another
 * link's peer (docs/relay-design.md, "Routes and sources"). Links are named
 * by their index in the configuration.
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
/* A link's announcement (complete: it replaces what the link said before).
 * Returns how many entries it was not allowed to announce (ignored). */
uint32_t routes_learn(struct routes *t, int link, const struct wire_route *routes, uint32_t n);
/* May this link announce hvid (and speak for it)? */
bool routes_may_announce(const struct routes *t, int link, const char *hvid);
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
