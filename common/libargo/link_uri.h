/* SPDX-License-Identifier: MIT */
/*
 * The address of a `link:` fabric (a leaf endpoint, docs/client-api.md,
 * "Leaf endpoints"):
 *
 *   link:TRANSPORT:ADDRESS?key=PATH&hvid=HVID[&name=NAME][&timeout=MS]
 *
 * TRANSPORT is unix, tcp, serial or vsock and ADDRESS the relay's address
 * in that transport's `connect =` form (docs/relay-config.md); it may not
 * contain '?'. key is the link's pre-shared key file, hvid the level the
 * leaf joins (the relay must announce it), name what the leaf announces
 * (the relay's `peer =`, default "leaf"), timeout how long a call may wait
 * for an unreachable relay (default 30000 ms).
 *
 * Return conventions: 0, or -EINVAL with *why (a static sentence).
 */
#ifndef ARGO_LIBARGO_LINK_URI_H
#define ARGO_LIBARGO_LINK_URI_H

#include "transport.h"
#include "wire.h"

#define LINK_URI_KEY_MAX         256
#define LINK_URI_DEFAULT_NAME    "leaf"
#define LINK_URI_DEFAULT_TIMEOUT 30000u
#define LINK_URI_MIN_TIMEOUT     100u
#define LINK_URI_MAX_TIMEOUT     3600000u

struct link_uri {
	enum transport_kind transport;
	char address[TRANSPORT_ADDR_MAX];
	char key[LINK_URI_KEY_MAX];
	char hvid[WIRE_HVID_SIZE]; /* the relay's */
	char name[WIRE_HVID_SIZE]; /* ours */
	unsigned int timeout_ms;
};

/* uri: what follows "link:". */
int link_uri_parse(const char *uri, struct link_uri *out, const char **why);

#endif /* ARGO_LIBARGO_LINK_URI_H */
