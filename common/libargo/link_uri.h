/* SPDX-License-Identifier: MIT */
/*
 * The address of a `link:` fabric (a leaf endpoint, docs/client-api.md,
 * "Leaf endpoints"):
 *
 *   link:TRANSPORT:ADDRESS?key=PATH&hvid=HVID[&name=NAME][&timeout=MS]
 *   link:TRANSPORT:ADDRESS?cert=PEM&cert_key=PEM&ca=PEM&hvid=HVID[&name=NAME]...
 *
 * TRANSPORT is unix, tcp, serial or vsock and ADDRESS the relay's address
 * in that transport's `connect =` form (docs/relay-config.md); it may not
 * contain '?'. The link is TLS 1.3 as every link: key is the link's
 * pre-shared key file, or cert, cert_key and ca the leaf's certificate
 * chain, its private key and the CA the relay's certificate must lead to
 * (as a relay's `cert`, `cert_key`, `ca`). hvid is the level the leaf joins
 * (the relay's hvid), name what the leaf is to it (the relay's `peer =`,
 * default "leaf"), timeout how long a call may wait for an unreachable
 * relay (default 30000 ms).
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
	char key[LINK_URI_KEY_MAX]; /* "" with certificates */
	char cert[LINK_URI_KEY_MAX], cert_key[LINK_URI_KEY_MAX], ca[LINK_URI_KEY_MAX];
	char hvid[WIRE_HVID_SIZE]; /* the relay's */
	char name[WIRE_HVID_SIZE]; /* ours */
	unsigned int timeout_ms;
};

/* uri: what follows "link:". */
int link_uri_parse(const char *uri, struct link_uri *out, const char **why);

#endif /* ARGO_LIBARGO_LINK_URI_H */
