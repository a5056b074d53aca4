/* SPDX-License-Identifier: MIT */
/*
 * Addresses as the docs and the configuration write them, for what the
 * relay shows (argo-relayctl's text, log lines): ports below 0x10000 in
 * decimal (7000), others in hex (proxy ports 0xf0000001, the routed port
 * 0xa4600000); the wildcard domid as "any" (XEN_ARGO_DOMID_ANY, 32756).
 * docs/relay-control.md.
 */
#ifndef ARGO_RELAY_SHOW_H
#define ARGO_RELAY_SHOW_H

#include <stdint.h>
#include <stdio.h>

#include "argo/abi.h"

struct show_buf {
	char s[24];
};

static inline const char *show_port(struct show_buf *b, uint32_t port)
{
	snprintf(b->s, sizeof(b->s), port < 0x10000 ? "%u" : "%#x", port);
	return b->s;
}

static inline const char *show_domid(struct show_buf *b, uint32_t domid)
{
	if (domid == XEN_ARGO_DOMID_ANY)
		snprintf(b->s, sizeof(b->s), "any");
	else
		snprintf(b->s, sizeof(b->s), "%u", domid);
	return b->s;
}

/* HVID:DOMID:PORT */
struct show_gaddr {
	char s[64];
};

static inline const char *show_gaddr(struct show_gaddr *b, const char *hvid, uint32_t domid,
                                     uint32_t port)
{
	struct show_buf d = {{0}}, p = {{0}};

	snprintf(b->s, sizeof(b->s), "%s:%s:%s", hvid, show_domid(&d, domid), show_port(&p, port));
	return b->s;
}

#endif /* ARGO_RELAY_SHOW_H */
