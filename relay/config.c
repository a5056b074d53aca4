/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd's configuration file (config.h, docs/relay-config.md), read
 * with libinih.
 *
 * libinih is driven through ini_parse_stream() with our own line reader, so
 * that this file knows which line every entry is on and sees every section
 * header (even of an empty section) when it is read:
 *   - the reader counts lines, checks section headers as they come (unknown
 *     section, bad or duplicate link name), closes the previous [link]
 *     section (its required keys and its address, which can only be checked
 *     once its transport is known), strips leading blanks (so an indented
 *     line is an ordinary line, never an inih "continuation" of the
 *     previous value) and refuses lines longer than inih's buffer, which it
 *     would otherwise split silently;
 *   - the handler checks each key = value on its line;
 *   - after the file: required [relay] keys, routes to links (a route may
 *     come before its link), links and routes against the relay's own
 *     hvid, imports against the proxy port range.
 * Only the first problem is kept ("FILE:LINE: problem"); the reader stops
 * at it, and the handler refuses anything once one is stored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "argo/ring.h"
#include "config.h"
#include "parse.h"
#include "session.h"
#include "transport.h"

#define KiB                 1024ull
#define MiB                 (1024ull * KiB)
#define GiB                 (1024ull * MiB)

#define DEFAULT_QUEUE_BYTES (8 * MiB)
#define MIN_QUEUE_BYTES     (64 * KiB)
#define MAX_QUEUE_BYTES     (4 * GiB)
#define DEFAULT_RING_LEN    (256u * 1024)
/* The largest ring Xen really registers (argo/ring.h). */
#define MAX_RING_LEN      (XEN_ARGO_MAX_RING_SIZE - sizeof(struct xen_argo_ring))
#define DEFAULT_PROXY_MIN 0xF0000000u
#define DEFAULT_PROXY_MAX 0xF000FFFFu
#define UNIX_PATH_LIMIT   108 /* sizeof(sockaddr_un.sun_path) */

enum section { SEC_NONE, SEC_RELAY, SEC_LINK, SEC_ROUTES, SEC_IMPORTS, SEC_POLICY };

/* [relay] keys, in the order of relay_keys[]. */
enum relay_key {
	RK_HVID,
	RK_FABRIC,
	RK_CONTROL,
	RK_STATE_DIR,
	RK_USER,
	RK_QUEUE_BYTES,
	RK_RING_LEN,
	RK_PROXY_PORTS,
	RK_MAX_AUTH_FAILURES,
	RK_RESET_BACKOFF_MS,
	RK_RECONNECT_MS,
	RK_PING_MS,
	RK_REPORT_RATE,
	RK_CONTROL_MODE,
	RK_CONTROL_GROUP,
	RK_STATE_SYNC,
	RK_COUNT
};

static const char *const relay_keys[RK_COUNT] = {
    "hvid",         "fabric",   "control",     "state_dir",         "user",
    "queue_bytes",  "ring_len", "proxy_ports", "max_auth_failures", "reset_backoff_ms",
    "reconnect_ms", "ping_ms",  "report_rate", "control_mode",      "control_group",
    "state_sync",
};

/* Where each [link] key was (0: not given). */
struct link_lines {
	unsigned int transport, address, peer, key, cert, cert_key, ca, announce, leaf;
};

struct parser {
	struct relay_config *config;
	const char *path;
	uid_t key_owner;
	unsigned int flags; /* CONFIG_SYNTAX_ONLY */
	FILE *file;
	char *buf;
	size_t bufcap;
	unsigned int line; /* the line the reader handed to inih last */

	enum section section;
	int link; /* index of the current [link] */
	bool relay_seen;
	unsigned int relay_lines[RK_COUNT];
	bool default_seen;
	struct link_lines link_lines[CONFIG_MAX_LINKS];
	char route_link[CONFIG_MAX_ROUTES][CONFIG_NAME_MAX];
	unsigned int route_line[CONFIG_MAX_ROUTES];
	unsigned int import_line[CONFIG_MAX_IMPORTS];

	bool failed;
	unsigned int err_line; /* 0: the whole file */
	char err[512];
};

static void fail(struct parser *p, unsigned int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parser *p, unsigned int line, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err_line = line;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------------
 * Value parsers. They return 0 or -EINVAL and never write on failure.
 */

/* A size: a decimal number with an optional K, M or G (binary) suffix. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!(s[0] >= '0' && s[0] <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		switch (*end) {
		case 'K':
		case 'k':
			mult = KiB;
			break;
		case 'M':
		case 'm':
			mult = MiB;
			break;
		case 'G':
		case 'g':
			mult = GiB;
			break;
		default:
			return -EINVAL;
		}
		if (end[1])
			return -EINVAL;
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

/* A domid a guest can have: below DOMID_FIRST_RESERVED. */
static int parse_domid(const char *s, argo_domid_t *out)
{
	uint32_t v;

	if (parse_u32(s, XEN_DOMID_FIRST_RESERVED - 1u, &v) < 0)
		return -EINVAL;
	*out = (argo_domid_t)v;
	return 0;
}

static bool hvid_ok(const char *s)
{
	return strlen(s) < WIRE_HVID_SIZE && wire_hvid_valid(s);
}

static void set_hvid(char dst[WIRE_HVID_SIZE], const char *src)
{
	memset(dst, 0, WIRE_HVID_SIZE);
	memcpy(dst, src, strlen(src));
}

static bool name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= CONFIG_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Copies a string that must be non-empty and shorter than size. */
static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

#define HVID_RULE "1 to 15 characters of [A-Za-z0-9._-]"

/* ---------------------------------------------------------------------------
 * [relay]
 */

static void relay_entry(struct parser *p, const char *name, const char *value)
{
	struct relay_config *c = p->config;
	unsigned int line = p->line;
	uint64_t v;
	int k;

	for (k = 0; k < RK_COUNT; k++)
		if (!strcmp(name, relay_keys[k]))
			break;
	if (k == RK_COUNT) {
		fail(p, line,
		     "unknown key '%s' in [relay] (hvid, fabric, control, state_dir, user, "
		     "queue_bytes, ring_len, proxy_ports, max_auth_failures, reset_backoff_ms, "
		     "reconnect_ms, ping_ms, report_rate, control_mode, control_group, state_sync)",
		     name);
		return;
	}
	if (p->relay_lines[k]) {
		fail(p, line, "key '%s' given twice in [relay] (first on line %u)", name,
		     p->relay_lines[k]);
		return;
	}
	p->relay_lines[k] = line;

	switch ((enum relay_key)k) {
	case RK_HVID:
		if (!hvid_ok(value))
			fail(p, line, "hvid '%s' is not a valid hvid (" HVID_RULE ")", value);
		else
			set_hvid(c->hvid, value);
		break;
	case RK_FABRIC: {
		const char *colon = strchr(value, ':');
		const char *q;

		for (q = value; colon && q < colon; q++)
			if (!(*q >= 'a' && *q <= 'z'))
				break;
		if (!colon || colon == value || q != colon)
			fail(
			    p, line,
			    "fabric must be a libargo URI, SCHEME:ARGUMENT (sim:/run/argo/l1.sock, "
			    "xen:/dev/argo)");
		else if (copy_str(c->fabric, sizeof(c->fabric), value) < 0)
			fail(p, line, "fabric URI longer than %zu bytes", sizeof(c->fabric) - 1);
		break;
	}
	case RK_CONTROL:
		if (copy_str(c->control, UNIX_PATH_LIMIT, value) < 0)
			fail(p, line, "control must be a socket path of 1 to %d bytes",
			     UNIX_PATH_LIMIT - 1);
		break;
	case RK_STATE_DIR:
		if (copy_str(c->state_dir, sizeof(c->state_dir), value) < 0)
			fail(p, line, "state_dir must be a path of 1 to %zu bytes",
			     sizeof(c->state_dir) - 1);
		break;
	case RK_STATE_SYNC:
		if (!strcmp(value, "yes") || !strcmp(value, "batch"))
			c->state_sync = STATE_SYNC_BATCH;
		else if (!strcmp(value, "each"))
			c->state_sync = STATE_SYNC_EACH;
		else if (!strcmp(value, "no"))
			c->state_sync = STATE_SYNC_NO;
		else
			fail(p, line, "state_sync must be no, yes (batch) or each");
		break;
	case RK_CONTROL_MODE: {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (!*value || *value == '-' || *value == '+' || errno || *end || m > 0777)
			fail(p, line, "control_mode must be an octal file mode, 0 to 0777");
		else
			c->control_mode = (uint32_t)m;
		break;
	}
	case RK_CONTROL_GROUP: {
		struct group *gr;
		uint32_t n;

		if (parse_u32(value, 0x7fffffff, &n) == 0)
			c->control_group = (int64_t)n;
		else if ((gr = getgrnam(value)))
			c->control_group = (int64_t)gr->gr_gid;
		else if ((p->flags & CONFIG_SYNTAX_ONLY) && name_ok(value))
			c->control_group = -1; /* a name this machine may not have */
		else
			fail(p, line, "control_group '%s' is no group (a name or a number)", value);
		break;
	}
	case RK_USER:
		if (!name_ok(value) || value[0] == '-')
			fail(p, line,
			     "user must be a user name of 1 to %d characters of [A-Za-z0-9._-]",
			     CONFIG_NAME_MAX - 1);
		else
			copy_str(c->user, sizeof(c->user), value);
		break;
	case RK_QUEUE_BYTES:
		if (parse_size(value, &v) < 0)
			fail(p, line,
			     "queue_bytes '%s' is not a size (a number with an optional K, M or G "
			     "suffix)",
			     value);
		else if (v < MIN_QUEUE_BYTES || v > MAX_QUEUE_BYTES)
			fail(p, line, "queue_bytes must be from 64K to 4G");
		else
			c->queue_bytes = v;
		break;
	case RK_RING_LEN:
		if (parse_size(value, &v) < 0)
			fail(p, line,
			     "ring_len '%s' is not a size (a number with an optional K, M or G "
			     "suffix)",
			     value);
		else if (v > MAX_RING_LEN || !argo_ring_len_valid((uint32_t)v))
			fail(p, line,
			     "ring_len must be a valid Argo ring length: a multiple of 16 from 48 "
			     "to %zu (16M - 64)",
			     (size_t)MAX_RING_LEN);
		else
			c->ring_len = (uint32_t)v;
		break;
	case RK_PROXY_PORTS: {
		char lo[24], hi[24];
		const char *dash = strchr(value, '-');
		uint32_t min, max;
		size_t n;

		if (!dash || (size_t)(dash - value) >= sizeof(lo) ||
		    strlen(dash + 1) >= sizeof(hi)) {
			fail(p, line, "proxy_ports must be a port range MIN-MAX");
			break;
		}
		n = (size_t)(dash - value);
		memcpy(lo, value, n);
		lo[n] = '\0';
		memcpy(hi, dash + 1, strlen(dash + 1) + 1);
		if (parse_u32(lo, UINT32_MAX, &min) < 0 || parse_u32(hi, UINT32_MAX, &max) < 0)
			fail(p, line,
			     "proxy_ports must be a port range MIN-MAX of numbers (decimal or 0x "
			     "hex) below 2^32");
		else if (min > max)
			fail(p, line, "proxy_ports range is inverted: %u > %u", min, max);
		else {
			c->proxy_port_min = min;
			c->proxy_port_max = max;
		}
		break;
	}
	case RK_MAX_AUTH_FAILURES:
	case RK_RESET_BACKOFF_MS:
	case RK_RECONNECT_MS:
	case RK_PING_MS:
	case RK_REPORT_RATE: {
		static const struct {
			uint32_t min, max;
		} bounds[] = {
		    [RK_MAX_AUTH_FAILURES] = {1, 1000},
		    [RK_RESET_BACKOFF_MS] = {100, 86400000},
		    [RK_RECONNECT_MS] = {10, 600000},
		    [RK_PING_MS] = {50, 600000},
		    [RK_REPORT_RATE] = {0, 1000000},
		};
		uint32_t n;

		if (parse_u32(value, UINT32_MAX, &n) < 0 || n < bounds[k].min ||
		    n > bounds[k].max) {
			fail(p, line, "%s must be a number from %u to %u", name, bounds[k].min,
			     bounds[k].max);
			break;
		}
		if (k == RK_MAX_AUTH_FAILURES)
			c->max_auth_failures = n;
		else if (k == RK_RESET_BACKOFF_MS)
			c->reset_backoff_ms = n;
		else if (k == RK_RECONNECT_MS)
			c->reconnect_ms = n;
		else if (k == RK_PING_MS)
			c->ping_ms = n;
		else
			c->report_rate = n;
		break;
	}
	case RK_COUNT:
		break;
	}
}

/* ---------------------------------------------------------------------------
 * [link NAME]
 */

/* The key file's path: relative paths are relative to the configuration
 * file's folder. */
static int key_path(const struct parser *p, const char *value, char *out, size_t cap)
{
	const char *slash = strrchr(p->path, '/');
	int n;

	if (value[0] == '/' || !slash)
		n = snprintf(out, cap, "%s", value);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - p->path), p->path, value);
	return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* leaf = FABRIC_URI: the domain the relay holds for a leaf endpoint
 * (relay/leaf.c). Only a sim fabric can give the relay a domain to hold:
 * a static socket of argo-simd (-D DOMID=PATH). */
static void leaf_entry(struct parser *p, struct config_link *l, const char *value)
{
	struct sockaddr_un sun;

	if (!strncmp(value, "xen:", 4)) {
		fail(p, p->line,
		     "leaf = %s: on a xen fabric the relay cannot make a domain for a leaf "
		     "endpoint (Xen creates domains, not its guests); run the leaf's program in "
		     "a domain of that Xen, or give this level a sim fabric",
		     value);
		return;
	}
	if (strncmp(value, "sim:", 4) != 0 || !value[4] ||
	    strlen(value + 4) >= sizeof(sun.sun_path)) {
		fail(p, p->line,
		     "leaf = %s: a leaf's domain is a static socket of the level's argo-simd, "
		     "sim:PATH (PATH 1 to 107 bytes; argo-simd -D DOMID=PATH)",
		     value);
		return;
	}
	copy_str(l->leaf, sizeof(l->leaf), value);
}

/* announce = HVID [HVID...] | *: blanks or commas between. */
static void announce_entry(struct parser *p, struct config_link *l, const char *value)
{
	char buf[256], *tok, *save = NULL;

	if (copy_str(buf, sizeof(buf), value) < 0 || !*value) {
		fail(p, p->line, "announce takes hvids separated by blanks, or '*'");
		return;
	}
	for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		if (!strcmp(tok, "*")) {
			l->announce_any = true;
			continue;
		}
		if (!hvid_ok(tok)) {
			fail(p, p->line, "announce: '%s' is not a valid hvid (" HVID_RULE ")", tok);
			return;
		}
		if (l->nannounce >= CONFIG_MAX_ANNOUNCE) {
			fail(p, p->line, "announce: more than %d hvids", CONFIG_MAX_ANNOUNCE);
			return;
		}
		set_hvid(l->announce[l->nannounce++], tok);
	}
	if (l->announce_any && l->nannounce) {
		fail(p, p->line,
		     "announce: '*' already allows every hvid; give either '*' or a list");
		return;
	}
}

static void link_entry(struct parser *p, const char *name, const char *value)
{
	struct config_link *l = &p->config->links[p->link];
	struct link_lines *ll = &p->link_lines[p->link];
	unsigned int line = p->line;
	unsigned int *seen = NULL;

	if (!strcmp(name, "transport"))
		seen = &ll->transport;
	else if (!strcmp(name, "listen") || !strcmp(name, "connect"))
		seen = &ll->address;
	else if (!strcmp(name, "peer"))
		seen = &ll->peer;
	else if (!strcmp(name, "key"))
		seen = &ll->key;
	else if (!strcmp(name, "cert"))
		seen = &ll->cert;
	else if (!strcmp(name, "cert_key"))
		seen = &ll->cert_key;
	else if (!strcmp(name, "ca"))
		seen = &ll->ca;
	else if (!strcmp(name, "announce"))
		seen = &ll->announce;
	else if (!strcmp(name, "leaf"))
		seen = &ll->leaf;
	if (!seen) {
		fail(p, line,
		     "unknown key '%s' in [link %s] (transport, listen, connect, peer, key, cert, "
		     "cert_key, ca, announce, leaf)",
		     name, l->name);
		return;
	}
	if (*seen) {
		if (seen == &ll->address && strcmp(name, l->listen ? "listen" : "connect"))
			fail(p, line,
			     "[link %s] has both listen and connect (line %u): a link either "
			     "listens or connects",
			     l->name, *seen);
		else
			fail(p, line, "key '%s' given twice in [link %s] (first on line %u)", name,
			     l->name, *seen);
		return;
	}
	*seen = line;

	if (seen == &ll->transport) {
		unsigned int t;

		for (t = 0; strcmp(transport_name((enum transport_kind)t), "?") != 0; t++)
			if (!strcmp(value, transport_name((enum transport_kind)t)))
				break;
		if (!strcmp(transport_name((enum transport_kind)t), "?"))
			fail(p, line, "transport must be one of unix, tcp, serial, vsock, argo");
		else if (!transport_get((enum transport_kind)t))
			fail(p, line, "transport %s is not implemented yet",
			     transport_name((enum transport_kind)t));
		else
			l->transport = (enum transport_kind)t;
	} else if (seen == &ll->address) {
		l->listen = !strcmp(name, "listen");
		if (copy_str(l->address, sizeof(l->address), value) < 0)
			fail(p, line, "%s address must be 1 to %zu bytes long", name,
			     sizeof(l->address) - 1);
	} else if (seen == &ll->leaf) {
		leaf_entry(p, l, value);
	} else if (seen == &ll->peer) {
		if (!hvid_ok(value))
			fail(p, line, "peer '%s' is not a valid hvid (" HVID_RULE ")", value);
		else
			set_hvid(l->peer_hvid, value);
	} else if (seen == &ll->announce) {
		announce_entry(p, l, value);
	} else if (seen == &ll->key) {
		char reason[512];
		int rc;

		if (!*value) {
			fail(p, line, "key needs the path of a key file");
			return;
		}
		if (key_path(p, value, l->key_file, sizeof(l->key_file)) < 0) {
			fail(p, line, "key file path longer than %zu bytes",
			     sizeof(l->key_file) - 1);
			return;
		}
		if (p->flags & CONFIG_SYNTAX_ONLY)
			return; /* the key file is not read */
		reason[0] = '\0';
		rc = auth_load_psk(l->key_file, p->key_owner, &l->psk, reason, sizeof(reason));
		if (rc < 0)
			fail(p, line, "%s", reason[0] ? reason : "cannot load the key file");
	} else {
		char *out = seen == &ll->cert       ? l->cert_file
		            : seen == &ll->cert_key ? l->cert_key_file
		                                    : l->ca_file;

		if (!*value) {
			fail(p, line, "%s needs the path of a file", name);
			return;
		}
		if (key_path(p, value, out, CONFIG_PATH_MAX) < 0) {
			fail(p, line, "%s path longer than %d bytes", name, CONFIG_PATH_MAX - 1);
			return;
		}
		if (seen == &ll->cert_key && !(p->flags & CONFIG_SYNTAX_ONLY)) {
			char reason[512];

			reason[0] = '\0';
			if (auth_check_private_file(out, p->key_owner, "certificate key file",
			                            reason, sizeof(reason)) < 0)
				fail(p, line, "%s", reason);
		}
	}
}

/* A [link] section ends: everything it needs, and its address. */
static void link_close(struct parser *p)
{
	struct relay_config *c = p->config;
	struct config_link *l = &c->links[p->link];
	const struct link_lines *ll = &p->link_lines[p->link];
	const struct transport_ops *ops;
	const char *why = NULL;
	unsigned int i;

	if (!ll->transport || !ll->address || !ll->peer) {
		fail(p, l->line, "[link %s]: missing required key '%s'", l->name,
		     !ll->transport ? "transport"
		     : !ll->address ? "listen' or 'connect"
		                    : "peer");
		return;
	}
	if (!ll->key && !ll->cert && !ll->cert_key && !ll->ca) {
		fail(p, l->line,
		     "[link %s]: missing required key 'key' (a pre-shared key file; or cert, "
		     "cert_key and ca for certificates)",
		     l->name);
		return;
	}
	if (ll->key && (ll->cert || ll->cert_key || ll->ca)) {
		fail(p,
		     ll->cert       ? ll->cert
		     : ll->cert_key ? ll->cert_key
		                    : ll->ca,
		     "[link %s] has both a key (line %u) and certificates: a link uses one or the "
		     "other",
		     l->name, ll->key);
		return;
	}
	if (!ll->key && (!ll->cert || !ll->cert_key || !ll->ca)) {
		fail(p, l->line,
		     "[link %s]: certificates need cert, cert_key and ca; '%s' is missing", l->name,
		     !ll->cert       ? "cert"
		     : !ll->cert_key ? "cert_key"
		                     : "ca");
		return;
	}
	if (!ll->key && !(p->flags & CONFIG_SYNTAX_ONLY)) {
		/* Loaded once now, so that a bad file stops the relay here. */
		struct session_creds creds;
		char reason[512];

		if (session_creds_cert(&creds, WIRE_ROLE_INITIATOR, "check", "check", l->cert_file,
		                       l->cert_key_file, l->ca_file, reason, sizeof(reason)) < 0) {
			fail(p, ll->cert, "%s", reason);
			return;
		}
		session_creds_fini(&creds);
	}
	ops = transport_get(l->transport);
	if (!ops) { /* refused at the transport line already */
		fail(p, ll->transport, "transport %s is not implemented yet",
		     transport_name(l->transport));
		return;
	}
	if (ops->check_address(l->address, &why) < 0) {
		fail(p, ll->address, "bad %s address '%s' for %s: %s",
		     l->listen ? "listen" : "connect", l->address, transport_name(l->transport),
		     why ? why : "invalid");
		return;
	}
	/* check_address() takes both forms; connecting needs a peer's CID. */
	if (l->transport == TRANSPORT_VSOCK && !l->listen &&
	    (!strchr(l->address, ':') || !strncmp(l->address, "any:", 4))) {
		fail(p, ll->address,
		     "bad connect address '%s' for vsock: connecting needs CID:PORT", l->address);
		return;
	}
	/* argo likewise: FABRIC_URI@DOMID:PORT connects, FABRIC_URI@PORT listens. */
	if (l->transport == TRANSPORT_ARGO) {
		const char *at = strrchr(l->address, '@');
		bool has_domid = at && strchr(at, ':');

		if (l->listen && has_domid) {
			fail(p, ll->address,
			     "bad listen address '%s' for argo: listening takes FABRIC_URI@PORT",
			     l->address);
			return;
		}
		if (!l->listen && !has_domid) {
			fail(p, ll->address,
			     "bad connect address '%s' for argo: connecting needs "
			     "FABRIC_URI@DOMID:PORT",
			     l->address);
			return;
		}
	}
	if (l->leaf[0] && l->transport == TRANSPORT_ARGO) {
		fail(p, ll->transport,
		     "[link %s] serves a leaf endpoint, which reaches its relay over unix, tcp, "
		     "serial or vsock (a program that has Argo needs no leaf)",
		     l->name);
		return;
	}
	if (l->leaf[0] && ll->announce) {
		fail(p, ll->announce,
		     "[link %s] serves a leaf endpoint, which announces no routes and sends only "
		     "from its own domain: announce has no place here",
		     l->name);
		return;
	}
	/* Two links cannot listen on one address (unix and serial listen on
	 * unix socket paths alike). */
	for (i = 0; l->listen && i < (unsigned int)p->link; i++) {
		const struct config_link *o = &c->links[i];
		bool unixish =
		    (l->transport == TRANSPORT_UNIX || l->transport == TRANSPORT_SERIAL) &&
		    (o->transport == TRANSPORT_UNIX || o->transport == TRANSPORT_SERIAL);

		if (o->listen && (unixish || o->transport == l->transport) &&
		    !strcmp(o->address, l->address)) {
			fail(p, ll->address, "[link %s] listens on the same address as [link %s]",
			     l->name, o->name);
			return;
		}
	}
}

/* ---------------------------------------------------------------------------
 * [routes], [imports], [policy]
 */

static void route_entry(struct parser *p, const char *name, const char *value)
{
	struct relay_config *c = p->config;
	unsigned int i;

	if (!hvid_ok(name)) {
		fail(p, p->line, "route to '%s': not a valid hvid (" HVID_RULE ")", name);
		return;
	}
	if (!name_ok(value)) {
		fail(p, p->line, "route to %s: '%s' is not a link name", name, value);
		return;
	}
	for (i = 0; i < c->nroutes; i++)
		if (!strcmp(c->routes[i].hvid, name)) {
			fail(p, p->line, "a second route to %s (the first is on line %u)", name,
			     p->route_line[i]);
			return;
		}
	if (c->nroutes >= CONFIG_MAX_ROUTES) {
		fail(p, p->line, "too many routes (at most %d)", CONFIG_MAX_ROUTES);
		return;
	}
	set_hvid(c->routes[c->nroutes].hvid, name);
	copy_str(p->route_link[c->nroutes], CONFIG_NAME_MAX, value);
	p->route_line[c->nroutes] = p->line;
	c->nroutes++;
}

/* PORT = HVID:DOMID:PORT [from DOMID] */
static void import_entry(struct parser *p, const char *name, const char *value)
{
	struct relay_config *c = p->config;
	struct config_import im = {.partner = XEN_ARGO_DOMID_ANY};
	char buf[CONFIG_ADDR_MAX], *save = NULL, *target, *word, *f1, *f2, *f3;
	unsigned int i;

	if (parse_u32(name, UINT32_MAX, &im.port) < 0) {
		fail(p, p->line, "import port '%s' is not a number below 2^32", name);
		return;
	}
	if (copy_str(buf, sizeof(buf), value) < 0) {
		fail(p, p->line, "import %u: expected HVID:DOMID:PORT [from DOMID]", im.port);
		return;
	}
	target = strtok_r(buf, " \t", &save);
	if (!target) {
		fail(p, p->line, "import %u: expected HVID:DOMID:PORT [from DOMID]", im.port);
		return;
	}
	f1 = target;
	f2 = strchr(f1, ':');
	f3 = f2 ? strchr(f2 + 1, ':') : NULL;
	if (!f2 || !f3 || strchr(f3 + 1, ':')) {
		fail(p, p->line, "import %u: the target must be HVID:DOMID:PORT", im.port);
		return;
	}
	*f2++ = '\0';
	*f3++ = '\0';
	if (!hvid_ok(f1)) {
		fail(p, p->line, "import %u: '%s' is not a valid hvid (" HVID_RULE ")", im.port,
		     f1);
		return;
	}
	set_hvid(im.target.hvid, f1);
	if (parse_domid(f2, &im.target.domid) < 0) {
		fail(p, p->line, "import %u: target domid '%s' is not a domid (0 to 32751)",
		     im.port, f2);
		return;
	}
	if (parse_u32(f3, UINT32_MAX, &im.target.port) < 0) {
		fail(p, p->line, "import %u: target port '%s' is not a number below 2^32", im.port,
		     f3);
		return;
	}
	word = strtok_r(NULL, " \t", &save);
	if (word) {
		const char *domid = strtok_r(NULL, " \t", &save);

		if (strcmp(word, "from") || !domid) {
			fail(p, p->line, "import %u: after the target only 'from DOMID' may follow",
			     im.port);
			return;
		}
		if (parse_domid(domid, &im.partner) < 0) {
			fail(p, p->line, "import %u: 'from %s' is not a domid (0 to 32751)",
			     im.port, domid);
			return;
		}
		if (strtok_r(NULL, " \t", &save)) {
			fail(p, p->line, "import %u: unexpected text after 'from %s'", im.port,
			     domid);
			return;
		}
	}
	for (i = 0; i < c->nimports; i++)
		if (c->imports[i].port == im.port) {
			fail(p, p->line, "import port %u given twice (first on line %u)", im.port,
			     p->import_line[i]);
			return;
		}
	if (c->nimports >= CONFIG_MAX_IMPORTS) {
		fail(p, p->line, "too many imports (at most %d)", CONFIG_MAX_IMPORTS);
		return;
	}
	p->import_line[c->nimports] = p->line;
	c->imports[c->nimports++] = im;
}

/* HVID[:DOMID[:PORT]], each field '*' for any. Returns a reason or NULL. */
static const char *parse_side(char *spec, char hvid[WIRE_HVID_SIZE], int32_t *domid, int64_t *port)
{
	char *f2 = strchr(spec, ':'), *f3 = NULL;
	argo_domid_t d;
	uint32_t v;

	if (f2) {
		*f2++ = '\0';
		f3 = strchr(f2, ':');
		if (f3) {
			*f3++ = '\0';
			if (strchr(f3, ':'))
				return "an address is HVID[:DOMID[:PORT]]";
		}
	}
	memset(hvid, 0, WIRE_HVID_SIZE);
	*domid = -1;
	*port = -1;
	if (strcmp(spec, "*")) {
		if (!hvid_ok(spec))
			return "the hvid is not valid (" HVID_RULE ", or '*')";
		set_hvid(hvid, spec);
	}
	if (f2 && strcmp(f2, "*")) {
		if (parse_domid(f2, &d) < 0)
			return "the domid is not a domid (0 to 32751, or '*')";
		*domid = d;
	}
	if (f3 && strcmp(f3, "*")) {
		if (parse_u32(f3, UINT32_MAX, &v) < 0)
			return "the port is not a number below 2^32 (or '*')";
		*port = v;
	}
	return NULL;
}

/* allow|deny [src HVID[:DOMID[:PORT]]] [dst HVID[:DOMID[:PORT]]] */
static void rule_entry(struct parser *p, const char *value)
{
	struct relay_config *c = p->config;
	struct config_rule r;
	char buf[CONFIG_ADDR_MAX], *save = NULL, *word;
	bool src_seen = false, dst_seen = false;

	if (strlen(value) >= sizeof(buf)) {
		fail(p, p->line, "rule too long");
		return;
	}
	memcpy(buf, value, strlen(value) + 1);
	memset(&r, 0, sizeof(r));
	r.src_domid = r.dst_domid = -1;
	r.src_port = r.dst_port = -1;
	word = strtok_r(buf, " \t", &save);
	if (!word || (strcmp(word, "allow") && strcmp(word, "deny"))) {
		fail(p, p->line,
		     "a rule starts with allow or deny: allow|deny [src HVID[:DOMID[:PORT]]] "
		     "[dst HVID[:DOMID[:PORT]]]");
		return;
	}
	r.allow = !strcmp(word, "allow");
	while ((word = strtok_r(NULL, " \t", &save))) {
		bool src = !strcmp(word, "src");
		char *spec;
		const char *why;

		if (!src && strcmp(word, "dst")) {
			fail(p, p->line, "rule: expected 'src' or 'dst', not '%s'", word);
			return;
		}
		if (src ? src_seen : dst_seen) {
			fail(p, p->line, "rule: '%s' given twice", word);
			return;
		}
		spec = strtok_r(NULL, " \t", &save);
		if (!spec) {
			fail(p, p->line, "rule: '%s' needs HVID[:DOMID[:PORT]]", word);
			return;
		}
		if (src) {
			src_seen = true;
			why = parse_side(spec, r.src_hvid, &r.src_domid, &r.src_port);
		} else {
			dst_seen = true;
			why = parse_side(spec, r.dst_hvid, &r.dst_domid, &r.dst_port);
		}
		if (why) {
			fail(p, p->line, "rule: %s: %s", word, why);
			return;
		}
	}
	if (c->nrules >= CONFIG_MAX_RULES) {
		fail(p, p->line, "too many rules (at most %d)", CONFIG_MAX_RULES);
		return;
	}
	c->rules[c->nrules++] = r;
}

static void policy_entry(struct parser *p, const char *name, const char *value)
{
	if (!strcmp(name, "default")) {
		if (p->default_seen) {
			fail(p, p->line, "key 'default' given twice in [policy]");
			return;
		}
		p->default_seen = true;
		if (!strcmp(value, "allow"))
			p->config->default_allow = true;
		else if (!strcmp(value, "deny"))
			p->config->default_allow = false;
		else
			fail(p, p->line, "policy default must be allow or deny");
	} else if (!strcmp(name, "rule")) {
		rule_entry(p, value);
	} else {
		fail(p, p->line, "unknown key '%s' in [policy] (default, rule)", name);
	}
}

/* ---------------------------------------------------------------------------
 * inih glue
 */

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;

	(void)section; /* ours: p->section, set by the reader */
	if (p->failed)
		return 0; /* keep the first error only */
	if (!name)
		return 1; /* a new-section call, if this libinih makes them */
	if (!value)
		value = "";
	switch (p->section) {
	case SEC_NONE:
		fail(p, p->line, "'%s' is outside any section (start with [relay])", name);
		break;
	case SEC_RELAY:
		relay_entry(p, name, value);
		break;
	case SEC_LINK:
		link_entry(p, name, value);
		break;
	case SEC_ROUTES:
		route_entry(p, name, value);
		break;
	case SEC_IMPORTS:
		import_entry(p, name, value);
		break;
	case SEC_POLICY:
		policy_entry(p, name, value);
		break;
	}
	return !p->failed;
}

static void section_close(struct parser *p)
{
	if (p->section == SEC_LINK)
		link_close(p);
	p->section = SEC_NONE;
}

/* A section header line (starts with '['), checked as it is read. */
static void section_open(struct parser *p, const char *s)
{
	struct relay_config *c = p->config;
	const char *close = strchr(s, ']'), *rest;
	char text[64];
	size_t n;
	unsigned int i;

	if (!close)
		return; /* inih reports the syntax error */
	section_close(p);
	if (p->failed)
		return;
	for (rest = close + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest && *rest != ';' && *rest != '#' && *rest != '\r' && *rest != '\n') {
		fail(p, p->line, "unexpected text after the section header");
		return;
	}
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	n = (size_t)(close - s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= sizeof(text)) {
		fail(p, p->line, "unknown section (relay, link NAME, routes, imports, policy)");
		return;
	}
	memcpy(text, s, n);
	text[n] = '\0';

	if (!strcmp(text, "relay")) {
		if (p->relay_seen) {
			fail(p, p->line, "section [relay] given twice");
			return;
		}
		p->relay_seen = true;
		p->section = SEC_RELAY;
	} else if (!strcmp(text, "routes")) {
		p->section = SEC_ROUTES;
	} else if (!strcmp(text, "imports")) {
		p->section = SEC_IMPORTS;
	} else if (!strcmp(text, "policy")) {
		p->section = SEC_POLICY;
	} else if (!strncmp(text, "link", 4) && (text[4] == ' ' || text[4] == '\t' || !text[4])) {
		const char *name = text + 4;
		struct config_link *l;

		while (*name == ' ' || *name == '\t')
			name++;
		if (!name_ok(name)) {
			fail(p, p->line,
			     "a link section is [link NAME], NAME 1 to %d characters of "
			     "[A-Za-z0-9._-]",
			     CONFIG_NAME_MAX - 1);
			return;
		}
		for (i = 0; i < c->nlinks; i++)
			if (!strcmp(c->links[i].name, name)) {
				fail(p, p->line, "duplicate link name '%s' (first on line %u)",
				     name, c->links[i].line);
				return;
			}
		if (c->nlinks >= CONFIG_MAX_LINKS) {
			fail(p, p->line, "too many links (at most %d)", CONFIG_MAX_LINKS);
			return;
		}
		l = &c->links[c->nlinks];
		copy_str(l->name, sizeof(l->name), name);
		l->line = p->line;
		p->link = (int)c->nlinks++;
		p->section = SEC_LINK;
	} else {
		fail(p, p->line, "unknown section [%s] (relay, link NAME, routes, imports, policy)",
		     text);
	}
}

/* inih's line reader: see the top of the file. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t n;
	char *s;
	size_t len;

	if (p->failed)
		return NULL;
	n = getline(&p->buf, &p->bufcap, p->file);
	if (n < 0)
		return NULL;
	p->line++;
	s = p->buf;
	if ((size_t)n != strlen(s)) {
		fail(p, p->line, "a NUL byte in the line");
		return NULL;
	}
	if (p->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3; /* a UTF-8 byte order mark */
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	if (num <= 0 || len >= (size_t)num) {
		fail(p, p->line, "line longer than %d bytes", num > 2 ? num - 2 : 0);
		return NULL;
	}
	if (s[0] == '[') {
		section_open(p, s);
		if (p->failed)
			return NULL;
	}
	memcpy(str, s, len + 1);
	return str;
}

/* ---------------------------------------------------------------------------
 * After the whole file
 */

static void whole_file_checks(struct parser *p)
{
	struct relay_config *c = p->config;
	unsigned int i, j;

	if (!p->relay_seen) {
		fail(p, 0, "missing section [relay] (it needs hvid, fabric and control)");
		return;
	}
	for (i = 0; i < RK_CONTROL + 1; i++)
		if (!p->relay_lines[i]) {
			fail(p, 0, "missing required key '%s' in [relay]", relay_keys[i]);
			return;
		}
	if (c->state_sync != STATE_SYNC_NO && !c->state_dir[0]) {
		fail(p, p->relay_lines[RK_STATE_SYNC],
		     "state_sync needs state_dir (the table to write)");
		return;
	}
	for (i = 0; i < c->nlinks; i++)
		if (!strcmp(c->links[i].peer_hvid, c->hvid)) {
			fail(p, p->link_lines[i].peer,
			     "[link %s]: peer %s is this relay's own hvid", c->links[i].name,
			     c->hvid);
			return;
		}
	for (i = 0; i < c->nlinks; i++) {
		if (!c->links[i].leaf[0])
			continue;
		if (strncmp(c->fabric, "sim:", 4) != 0) {
			fail(
			    p, p->link_lines[i].leaf,
			    "[link %s]: a leaf's domain is in this relay's own level, whose fabric "
			    "%s cannot give the relay one (on Xen, Xen makes domains, not its "
			    "guests); a program on a Xen level runs in a domain of that Xen",
			    c->links[i].name, c->fabric);
			return;
		}
		if (!strcmp(c->links[i].leaf, c->fabric)) {
			fail(p, p->link_lines[i].leaf,
			     "[link %s]: leaf = %s is this relay's own fabric: a leaf needs a "
			     "domain of its own (another static socket, argo-simd -D DOMID=PATH)",
			     c->links[i].name, c->links[i].leaf);
			return;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(c->links[j].leaf, c->links[i].leaf)) {
				fail(p, p->link_lines[i].leaf,
				     "[link %s]: leaf = %s is [link %s]'s already: one domain per "
				     "leaf",
				     c->links[i].name, c->links[i].leaf, c->links[j].name);
				return;
			}
	}
	/* One key per link: a key that also opens another link would let
	 * that link's peer speak on this one. (Not checked without the key
	 * files: CONFIG_SYNTAX_ONLY.) */
	for (i = 0; i < c->nlinks && !(p->flags & CONFIG_SYNTAX_ONLY); i++)
		for (j = 0; j < i; j++)
			if (p->link_lines[i].key && p->link_lines[j].key &&
			    auth_same_key(&c->links[i].psk, &c->links[j].psk)) {
				fail(p, p->link_lines[i].key,
				     "[link %s]: key file %s is also the key of [link %s] (line "
				     "%u); "
				     "give each link its own key (%s)",
				     c->links[i].name, c->links[i].key_file, c->links[j].name,
				     p->link_lines[j].key, "head -c 32 /dev/urandom > FILE");
				return;
			}
	for (i = 0; i < c->nroutes; i++) {
		for (j = 0; j < c->nlinks; j++)
			if (!strcmp(c->links[j].name, p->route_link[i]))
				break;
		if (j == c->nlinks) {
			fail(p, p->route_line[i], "route to %s: no link named '%s'",
			     c->routes[i].hvid, p->route_link[i]);
			return;
		}
		if (!strcmp(c->routes[i].hvid, c->hvid)) {
			fail(p, p->route_line[i], "a route to %s, this relay's own hvid", c->hvid);
			return;
		}
		if (c->links[j].leaf[0]) {
			fail(p, p->route_line[i],
			     "route to %s: [link %s] serves a leaf endpoint, whose domain is in "
			     "this relay's own fabric; nothing is routed through it",
			     c->routes[i].hvid, c->links[j].name);
			return;
		}
		c->routes[i].link = j;
	}
	for (i = 0; i < c->nimports; i++) {
		uint32_t port = c->imports[i].port;

		if (port >= c->proxy_port_min && port <= c->proxy_port_max) {
			fail(p, p->import_line[i],
			     "import port %u is inside proxy_ports (%u-%u), which the relay "
			     "allocates for senders",
			     port, c->proxy_port_min, c->proxy_port_max);
			return;
		}
	}
}

static void set_defaults(struct relay_config *c)
{
	c->queue_bytes = DEFAULT_QUEUE_BYTES;
	c->ring_len = DEFAULT_RING_LEN;
	c->proxy_port_min = DEFAULT_PROXY_MIN;
	c->proxy_port_max = DEFAULT_PROXY_MAX;
	c->max_auth_failures = 5;
	c->reset_backoff_ms = 30000;
	c->reconnect_ms = 200;
	c->ping_ms = 1000;
	c->report_rate = 100;
	c->control_mode = 0600;
	c->control_group = -1;
	c->default_allow = false;
}

int config_load(const char *path, uid_t key_owner, struct relay_config *config, char *why,
                size_t cap)
{
	return config_load_flags(path, key_owner, 0, config, why, cap);
}

int config_load_flags(const char *path, uid_t key_owner, unsigned int flags,
                      struct relay_config *config, char *why, size_t cap)
{
	struct parser *p;
	int rc, line, err;

	if (why && cap)
		why[0] = '\0';
	if (!path || !config)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (why && cap)
			snprintf(why, cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	memset(config, 0, sizeof(*config));
	set_defaults(config);
	p->config = config;
	p->path = path;
	p->key_owner = key_owner;
	p->flags = flags;
	if (strlen(path) >= sizeof(config->path)) {
		fail(p, 0, "configuration file path longer than %zu bytes",
		     sizeof(config->path) - 1);
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(config->path, path, strlen(path) + 1);
	p->file = fopen(path, "re");
	if (!p->file) {
		err = errno;
		fail(p, 0, "cannot open: %s", strerror(err));
		rc = -err;
		goto out;
	}

	line = ini_parse_stream(read_line, p, on_entry, p);
	if (ferror(p->file)) {
		p->failed = false;
		fail(p, 0, "read error");
		rc = -EIO;
		goto out;
	}
	/* inih returns the first line it had a problem with: a syntax error
	 * there comes before any error of ours (the reader stops at ours). */
	if (line > 0 && (!p->failed || (unsigned int)line < p->err_line)) {
		p->failed = false;
		fail(p, (unsigned int)line, "syntax error: expected [section] or key = value");
	} else if (line < 0) {
		p->failed = false;
		fail(p, 0, "%s", line == -2 ? "out of memory" : "cannot read");
	}
	if (!p->failed) {
		section_close(p);
		whole_file_checks(p);
	}
	rc = p->failed ? -EINVAL : 0;
out:
	if (p->failed && why && cap) {
		if (p->err_line)
			snprintf(why, cap, "%s:%u: %s", path, p->err_line, p->err);
		else
			snprintf(why, cap, "%s: %s", path, p->err);
	}
	if (p->file)
		fclose(p->file);
	free(p->buf);
	free(p);
	if (rc < 0) {
		/* Nothing half-loaded survives, keys least of all. */
		explicit_bzero(config, sizeof(*config));
	}
	return rc;
}

void config_wipe_keys(struct relay_config *config)
{
	unsigned int i;

	for (i = 0; i < CONFIG_MAX_LINKS; i++)
		auth_psk_wipe(&config->links[i].psk);
}

/* ---------------------------------------------------------------------------
 * Policy
 */

static bool side_matches(const char *hvid, int32_t domid, int64_t port, const struct wire_gaddr *a)
{
	if (hvid[0] && strncmp(hvid, a->hvid, WIRE_HVID_SIZE))
		return false;
	if (domid >= 0 && (argo_domid_t)domid != a->domid)
		return false;
	if (port >= 0 && (uint32_t)port != a->port)
		return false;
	return true;
}

bool config_policy_allows(const struct relay_config *config, const struct wire_gaddr *src,
                          const struct wire_gaddr *dst)
{
	unsigned int i;

	for (i = 0; i < config->nrules; i++) {
		const struct config_rule *r = &config->rules[i];

		if (side_matches(r->src_hvid, r->src_domid, r->src_port, src) &&
		    side_matches(r->dst_hvid, r->dst_domid, r->dst_port, dst))
			return r->allow;
	}
	return config->default_allow;
}

/* ---------------------------------------------------------------------------
 * Warnings: valid, but probably not what was meant
 */

unsigned int config_warnings(const struct relay_config *config, uid_t euid,
                             void (*say)(void *ctx, const char *text), void *ctx)
{
	unsigned int i, n = 0, allows = 0;
	char text[400];

	for (i = 0; i < config->nrules; i++)
		allows += config->rules[i].allow;
	if (!config->default_allow && !allows) {
		say(ctx, "[policy] allows nothing (no 'rule = allow ...', and 'default' is deny): "
		         "this relay forwards no message, every one is refused and reported "
		         "EACCES; see 'Default deny' in docs/relay-config.md");
		n++;
	}
	if (!config->state_dir[0]) {
		say(ctx,
		    "no state_dir: the table of what was delivered lives in memory, so after "
		    "a crash or SIGKILL the relay may deliver a message twice; give it a folder "
		    "of its own (state_dir = /var/lib/argo-relay/NAME)");
		n++;
	}
	if (!config->user[0] && euid == 0) {
		snprintf(text, sizeof(text),
		         "no user: started by root, the relay keeps root's privileges (fine under "
		         "argo-relayd@.service, which runs it as user argo; elsewhere set user = "
		         "argo)");
		say(ctx, text);
		n++;
	}
	return n;
}
