/* SPDX-License-Identifier: MIT */
/* The address of a `link:` fabric: link_uri.h. */
#define _POSIX_C_SOURCE 200809L
#include "link_uri.h"

#include <errno.h>
#include <string.h>

#include "parse.h"

static int fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EINVAL;
}

/* Copies the n bytes at s into out (cap bytes with the NUL): -EINVAL when
 * they do not fit or are empty. */
static int copy_field(char *out, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap || memchr(s, '\0', n))
		return -EINVAL;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int parse_transport(const char *s, size_t n, enum transport_kind *kind)
{
	static const enum transport_kind kinds[] = {TRANSPORT_UNIX, TRANSPORT_TCP, TRANSPORT_SERIAL,
	                                            TRANSPORT_VSOCK};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *name = transport_name(kinds[i]);

		if (strlen(name) == n && !memcmp(name, s, n)) {
			*kind = kinds[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* One key=value of the query; the keys seen so far in *seen. */
static int parse_param(const char *s, size_t n, struct link_uri *u, unsigned int *seen,
                       const char **why)
{
	const char *eq = memchr(s, '=', n);
	size_t klen, vlen;
	const char *v;
	uint32_t ms;

	if (!eq)
		return fail(why, "a link: parameter is KEY=VALUE");
	klen = (size_t)(eq - s);
	v = eq + 1;
	vlen = n - klen - 1;
#define KEY_IS(k) (klen == strlen(k) && !memcmp(s, k, klen))
	if (KEY_IS("key")) {
		if (*seen & 1)
			return fail(why, "link: key= given twice");
		*seen |= 1;
		if (copy_field(u->key, sizeof(u->key), v, vlen) < 0)
			return fail(why, "link: key= is a key file path of 1 to 255 bytes");
	} else if (KEY_IS("hvid")) {
		if (*seen & 2)
			return fail(why, "link: hvid= given twice");
		*seen |= 2;
		if (copy_field(u->hvid, sizeof(u->hvid), v, vlen) < 0 || !wire_hvid_valid(u->hvid))
			return fail(why, "link: hvid= is 1 to 15 characters of [A-Za-z0-9._-]");
	} else if (KEY_IS("name")) {
		if (*seen & 4)
			return fail(why, "link: name= given twice");
		*seen |= 4;
		if (copy_field(u->name, sizeof(u->name), v, vlen) < 0 || !wire_hvid_valid(u->name))
			return fail(why, "link: name= is 1 to 15 characters of [A-Za-z0-9._-]");
	} else if (KEY_IS("timeout")) {
		if (*seen & 8)
			return fail(why, "link: timeout= given twice");
		*seen |= 8;
		if (parse_u32n(v, vlen, LINK_URI_MAX_TIMEOUT, &ms) < 0 || ms < LINK_URI_MIN_TIMEOUT)
			return fail(why, "link: timeout= is 100 to 3600000 milliseconds");
		u->timeout_ms = ms;
	} else if (KEY_IS("cert") || KEY_IS("cert_key") || KEY_IS("ca")) {
		unsigned int bit = KEY_IS("cert") ? 16 : KEY_IS("cert_key") ? 32 : 64;
		char *out = bit == 16 ? u->cert : bit == 32 ? u->cert_key : u->ca;

		if (*seen & bit)
			return fail(why, "link: cert=, cert_key= or ca= given twice");
		*seen |= bit;
		if (copy_field(out, LINK_URI_KEY_MAX, v, vlen) < 0)
			return fail(why,
			            "link: cert=, cert_key= and ca= are file paths of 1 to 255 "
			            "bytes");
	} else {
		return fail(why, "link: knows the parameters key, cert, cert_key, ca, hvid, name "
		                 "and timeout only");
	}
#undef KEY_IS
	return 0;
}

int link_uri_parse(const char *uri, struct link_uri *u, const char **why)
{
	const char *colon, *query, *p;
	unsigned int seen = 0;
	const char *dummy;
	int ret;

	memset(u, 0, sizeof(*u));
	u->timeout_ms = LINK_URI_DEFAULT_TIMEOUT;
	memcpy(u->name, LINK_URI_DEFAULT_NAME, sizeof(LINK_URI_DEFAULT_NAME));
	colon = strchr(uri, ':');
	if (!colon || parse_transport(uri, (size_t)(colon - uri), &u->transport) < 0)
		return fail(why,
		            "link: is followed by unix:, tcp:, serial: or vsock: and the relay's "
		            "address");
	query = strchr(colon + 1, '?');
	if (!query)
		return fail(why, "link: needs ?key=KEYFILE&hvid=HVID after the address");
	if (copy_field(u->address, sizeof(u->address), colon + 1, (size_t)(query - colon - 1)) < 0)
		return fail(why, "link: address is empty or longer than 255 bytes");
	ret = transport_get(u->transport)->check_address(u->address, why ? why : &dummy);
	if (ret < 0)
		return -EINVAL;
	for (p = query + 1;;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		ret = parse_param(p, n, u, &seen, why);
		if (ret < 0)
			return ret;
		if (!amp)
			break;
		p = amp + 1;
	}
	if ((seen & 1) && (seen & (16 | 32 | 64)))
		return fail(why, "link: takes either key= or cert=, cert_key= and ca=, not both");
	if (!(seen & (1 | 16 | 32 | 64)))
		return fail(why, "link: needs key=KEYFILE (the link's pre-shared key), or cert=, "
		                 "cert_key= and ca= (certificates)");
	if (!(seen & 1) && (seen & (16 | 32 | 64)) != (16 | 32 | 64))
		return fail(why, "link: certificates need all of cert=, cert_key= and ca=");
	if (!(seen & 2))
		return fail(why, "link: needs hvid=HVID (the level the relay serves)");
	return 0;
}
