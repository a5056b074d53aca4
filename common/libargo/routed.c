/* SPDX-License-Identifier: MIT */
/*
 * Routed mode over any fabric: see argo/routed.h. Header layout (little
 * endian, 32 bytes):
 *
 *   0  4  magic    "ARRT"
 *   4  2  version  1
 *   6  2  reserved 0
 *   8  16 hvid     NUL padded, 1..15 bytes of [A-Za-z0-9._-]
 *   24 2  domid
 *   26 2  reserved 0
 *   28 4  port
 *
 * An undeliverable report's payload (what the relays send, through
 * argo_routed_report_put()): u32 error (a positive errno), then the failed
 * destination as hvid[16], u16 domid, u16 0, u32 port (all zero when the
 * routed header that should have named it could not be read: then the
 * error is EINVAL).
 */
#define _GNU_SOURCE
#include "argo/routed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"

_Static_assert(ARGO_ROUTED_REPORT_SIZE == 4 + 24, "a report is an error and a global address");

/* 1..15 bytes of [A-Za-z0-9._-], then NULs to the end of the field. */
static bool hvid_valid(const char *hvid)
{
	size_t i, n = strnlen(hvid, ARGO_HVID_SIZE);

	if (n == 0 || n == ARGO_HVID_SIZE)
		return false;
	for (i = 0; i < n; i++) {
		char c = hvid[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int argo_gaddr_parse(const char *text, struct argo_gaddr *addr)
{
	const char *colon = text ? strchr(text, ':') : NULL;
	unsigned long domid, port;
	char *end;

	if (!colon || colon == text || (size_t)(colon - text) >= ARGO_HVID_SIZE)
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	memcpy(addr->hvid, text, (size_t)(colon - text));
	if (!hvid_valid(addr->hvid))
		return -EINVAL;
	errno = 0;
	domid = strtoul(colon + 1, &end, 0);
	if (errno || end == colon + 1 || *end != ':' || domid >= XEN_DOMID_FIRST_RESERVED)
		return -EINVAL;
	port = strtoul(end + 1, &end, 0);
	if (errno || *end || end[-1] == ':' || port > UINT32_MAX)
		return -EINVAL;
	addr->domid = (argo_domid_t)domid;
	addr->port = (uint32_t)port;
	return 0;
}

/* The 24-byte global address both the header and a report carry. */
static void put_gaddr(uint8_t *p, const struct argo_gaddr *addr)
{
	memset(p, 0, 24);
	memcpy(p, addr->hvid, strnlen(addr->hvid, ARGO_HVID_SIZE - 1));
	put_u16(p + 16, addr->domid);
	put_u32(p + 20, addr->port);
}

/* empty_ok: an all-NUL hvid is accepted (a report about a message whose
 * routed header was unreadable names no destination). */
static int get_gaddr(const uint8_t *p, struct argo_gaddr *addr, bool empty_ok)
{
	size_t i;

	memcpy(addr->hvid, p, ARGO_HVID_SIZE);
	if (!hvid_valid(addr->hvid) && !(empty_ok && !addr->hvid[0]))
		return -EBADMSG;
	for (i = strnlen(addr->hvid, ARGO_HVID_SIZE); i < ARGO_HVID_SIZE; i++)
		if (p[i])
			return -EBADMSG; /* padding must be NULs */
	if (get_u16(p + 18) != 0)
		return -EBADMSG;
	addr->domid = get_u16(p + 16);
	addr->port = get_u32(p + 20);
	return 0;
}

void argo_routed_hdr_put(uint8_t *hdr, const struct argo_gaddr *addr)
{
	put_u32(hdr, ARGO_ROUTED_MAGIC);
	put_u16(hdr + 4, ARGO_ROUTED_VERSION);
	put_u16(hdr + 6, 0);
	put_gaddr(hdr + 8, addr);
}

int argo_routed_hdr_get(const uint8_t *hdr, struct argo_gaddr *addr)
{
	if (get_u32(hdr) != ARGO_ROUTED_MAGIC || get_u16(hdr + 4) != ARGO_ROUTED_VERSION ||
	    get_u16(hdr + 6) != 0)
		return -EBADMSG;
	return get_gaddr(hdr + 8, addr, false);
}

void argo_routed_report_put(uint8_t *out, uint32_t error, const struct argo_gaddr *dst)
{
	put_u32(out, error);
	put_gaddr(out + 4, dst);
}

int argo_routed_report_get(const uint8_t *in, size_t len, uint32_t *error, struct argo_gaddr *dst)
{
	if (len != ARGO_ROUTED_REPORT_SIZE || get_gaddr(in + 4, dst, true) < 0)
		return -EBADMSG;
	*error = get_u32(in);
	return 0;
}

ssize_t argo_routed_sendv(struct argo_fabric *fabric, argo_domid_t relay, uint32_t src_port,
                          const struct argo_gaddr *dst, const struct iovec *iov, unsigned int niov,
                          uint32_t message_type)
{
	xen_argo_send_addr_t addr = {
	    .src = {.aport = src_port, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = ARGO_ROUTED_PORT, .domain_id = relay},
	};
	struct iovec all[XEN_ARGO_MAXIOV];
	uint8_t hdr[ARGO_ROUTED_HDR_SIZE];
	ssize_t n;

	if (!dst || !hvid_valid(dst->hvid) || niov > XEN_ARGO_MAXIOV - 1 || (niov && !iov))
		return -EINVAL;
	argo_routed_hdr_put(hdr, dst);
	all[0].iov_base = hdr;
	all[0].iov_len = sizeof(hdr);
	if (niov)
		memcpy(all + 1, iov, niov * sizeof(*iov));
	n = argo_sendv(fabric, &addr, all, niov + 1, message_type);
	return n < 0 ? n : n - (ssize_t)sizeof(hdr);
}

ssize_t argo_routed_recv(struct argo_ring *ring, argo_domid_t relay, struct argo_gaddr *src,
                         uint32_t *message_type, void *buf, size_t bufsz)
{
	struct argo_gaddr from = {{0}, 0, 0};
	xen_argo_addr_t source;
	uint32_t type;
	uint8_t *p = buf;
	ssize_t n = argo_peek(ring, &source, &type);
	bool routed;

	if (n < 0)
		return n;
	routed = source.domain_id == relay && source.aport == ARGO_ROUTED_PORT;
	if ((size_t)n > bufsz)
		return -EMSGSIZE;
	n = argo_recv(ring, NULL, NULL, buf, bufsz);
	if (n < 0)
		return n;
	if (message_type)
		*message_type = type;
	if (!routed) {
		from.domid = source.domain_id;
		from.port = source.aport;
		if (src)
			*src = from;
		return n;
	}
	if (type == ARGO_MSGTYPE_UNDELIVERABLE) {
		uint32_t error;

		if (argo_routed_report_get(p, (size_t)n, &error, &from) < 0)
			return -EBADMSG;
		if (src)
			*src = from;
		return error > 0 && error < 4096 ? -(ssize_t)error : -EBADMSG;
	}
	if ((size_t)n < ARGO_ROUTED_HDR_SIZE || argo_routed_hdr_get(p, &from) < 0)
		return -EBADMSG;
	n -= ARGO_ROUTED_HDR_SIZE;
	memmove(p, p + ARGO_ROUTED_HDR_SIZE, (size_t)n);
	if (src)
		*src = from;
	return n;
}
