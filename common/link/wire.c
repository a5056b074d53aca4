/* SPDX-License-Identifier: MIT */
/*
 * The relay link protocol's frames (docs/protocol.md): encoders and a strict
 * decoder. Every multi-byte field is packed and unpacked byte by byte, little
 * endian; wire bytes are never cast to structures. Every length is checked
 * against the frame's and the type's bounds before any byte it covers is
 * read, so the decoder never reads past the bytes it was given.
 *
 * Decisions the spec leaves open (kept symmetric: the encoders refuse
 * exactly what the decoder refuses, so whatever decodes re-encodes to the
 * same bytes, which the fuzzer checks):
 *
 * - hvids: the first NUL must be at offset 1..15, the bytes before it in
 *   [A-Za-z0-9._-], every byte after it NUL ("NUL padded", non-zero padding
 *   refused).
 * - Every frame: seq 0 is refused (frames count from 1, HELLO first).
 * - HELLO: magic "ARGR"; 1 <= version_min <= version_max and the range must
 *   include WIRE_VERSION; role 0 or 1; the reserved field 0. Comparing the
 *   role to our own is the session's job.
 * - DATA and UNDELIVERABLE: msn 0 is refused (msns start at 1); both global
 *   addresses must carry valid hvids and a zero reserved field.
 * - UNDELIVERABLE: error must be a positive errno, 1..4095; which ones the
 *   relay understands is its business.
 * - ROUTES: count <= WIRE_MAX_ROUTES and length == 4 + 20 * count exactly.
 *   Entries with hops > WIRE_MAX_ROUTE_HOPS are well-formed (hops is a
 *   u8) and are RETURNED by the decoder: the route table ignores them, as
 *   the spec says ("ignored", not "refused"). The encoder accepts any hops.
 * - CLOSE: any reason (a CLOSE with a reason we do not know still closes);
 *   text of 0..128 bytes of printable ASCII (0x20..0x7e): it goes to a log,
 *   so control bytes (newlines, escapes, NUL) are refused.
 * - The header decoder already applies each type's length bounds, so a
 *   reader never waits for (or buffers) 16 MiB announced by a bogus PING.
 */
#define _POSIX_C_SOURCE 200809L
#include "wire.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "leaf_wire.h"

static int fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EBADMSG;
}

/* ---------------------------------------------------------------------------
 * hvids and global addresses.
 */

/* Offsets inside a global address (24 bytes). */
#define GADDR_SIZE     24u
#define GADDR_DOMID    16u
#define GADDR_RESERVED 18u
#define GADDR_PORT     20u

/* Offsets inside a route entry (20 bytes). */
#define ROUTE_SIZE     20u
#define ROUTE_HOPS     16u
#define ROUTE_RESERVED 17u

static int hvid_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Reads at most WIRE_HVID_SIZE bytes: safe on a char[WIRE_HVID_SIZE] that
 * lacks a NUL, and on a shorter C string. */
int wire_hvid_valid(const char *hvid)
{
	size_t i;

	if (!hvid)
		return 0;
	for (i = 0; i < WIRE_HVID_SIZE; i++) {
		unsigned char c = (unsigned char)hvid[i];

		if (c == '\0')
			return i > 0;
		if (!hvid_char_ok(c))
			return 0;
	}
	return 0; /* 16 bytes and no NUL */
}

/* The four ways an hvid field can be malformed, per field. */
struct hvid_why {
	const char *empty, *unterminated, *bad_char, *padding;
};

#define HVID_WHY(f)                                                                                \
	{                                                                                          \
		f " is empty", f " is not NUL terminated within 16 bytes",                         \
		    f " has a byte outside [A-Za-z0-9._-]", f " has non-zero bytes after its NUL"  \
	}

static const struct hvid_why why_hello_hvid = HVID_WHY("HELLO hvid");
static const struct hvid_why why_data_src = HVID_WHY("DATA src hvid");
static const struct hvid_why why_data_dst = HVID_WHY("DATA dst hvid");
static const struct hvid_why why_undeliv_src = HVID_WHY("UNDELIVERABLE src hvid");
static const struct hvid_why why_undeliv_dst = HVID_WHY("UNDELIVERABLE dst hvid");
static const struct hvid_why why_route_hvid = HVID_WHY("ROUTES entry hvid");

/* Decodes a 16-byte NUL padded hvid field into out (NUL terminated). */
static int get_hvid(const uint8_t *p, char out[WIRE_HVID_SIZE], const struct hvid_why *w,
                    const char **why)
{
	size_t n, i;

	for (n = 0; n < WIRE_HVID_SIZE && p[n] != 0; n++)
		if (!hvid_char_ok(p[n]))
			return fail(why, w->bad_char);
	if (n == WIRE_HVID_SIZE)
		return fail(why, w->unterminated);
	if (n == 0)
		return fail(why, w->empty);
	for (i = n; i < WIRE_HVID_SIZE; i++)
		if (p[i] != 0)
			return fail(why, w->padding);
	memcpy(out, p, WIRE_HVID_SIZE);
	return 0;
}

/* Encodes an hvid (validated by the caller) NUL padded to 16 bytes; bytes
 * after the caller's NUL are not copied. */
static void put_hvid(uint8_t *p, const char *hvid)
{
	size_t n = strnlen(hvid, WIRE_HVID_SIZE);

	memset(p, 0, WIRE_HVID_SIZE);
	memcpy(p, hvid, n);
}

struct gaddr_why {
	const struct hvid_why *hvid;
	const char *reserved;
};

static const struct gaddr_why why_data_src_addr = {&why_data_src,
                                                   "DATA src address reserved field is not 0"};
static const struct gaddr_why why_data_dst_addr = {&why_data_dst,
                                                   "DATA dst address reserved field is not 0"};
static const struct gaddr_why why_undeliv_src_addr = {
    &why_undeliv_src, "UNDELIVERABLE src address reserved field is not 0"};
static const struct gaddr_why why_undeliv_dst_addr = {
    &why_undeliv_dst, "UNDELIVERABLE dst address reserved field is not 0"};

static int get_gaddr(const uint8_t *p, struct wire_gaddr *a, const struct gaddr_why *w,
                     const char **why)
{
	int rc = get_hvid(p, a->hvid, w->hvid, why);

	if (rc)
		return rc;
	if (get_u16(p + GADDR_RESERVED) != 0)
		return fail(why, w->reserved);
	a->domid = get_u16(p + GADDR_DOMID);
	a->port = get_u32(p + GADDR_PORT);
	return 0;
}

static void put_gaddr(uint8_t *p, const struct wire_gaddr *a)
{
	put_hvid(p, a->hvid);
	put_u16(p + GADDR_DOMID, a->domid);
	put_u16(p + GADDR_RESERVED, 0);
	put_u32(p + GADDR_PORT, a->port);
}

/* ---------------------------------------------------------------------------
 * Per-type payload bounds, shared by the header decoder and the payload
 * decoders.
 */

#define DATA_MAX_LENGTH   (WIRE_DATA_HEADER_SIZE + WIRE_MAX_MESSAGE)
#define ROUTES_MIN_LENGTH 4u
#define ROUTES_MAX_LENGTH (ROUTES_MIN_LENGTH + ROUTE_SIZE * WIRE_MAX_ROUTES)
#define CLOSE_MIN_LENGTH  4u
#define CLOSE_MAX_LENGTH  (CLOSE_MIN_LENGTH + WIRE_CLOSE_TEXT_MAX)
#define PING_SIZE         8u
#define ERRNO_MAX         4095u

_Static_assert(DATA_MAX_LENGTH <= WIRE_MAX_PAYLOAD, "DATA bounds exceed the payload limit");
_Static_assert(ROUTES_MAX_LENGTH <= WIRE_MAX_PAYLOAD, "ROUTES bounds exceed the payload limit");
_Static_assert(LEAF_REQUEST_MAX <= WIRE_MAX_PAYLOAD,
               "LEAF_REQUEST bounds exceed the payload limit");
_Static_assert(LEAF_ATTACH_MAX <= WIRE_MAX_PAYLOAD && LEAF_RING_MAX <= WIRE_MAX_PAYLOAD &&
                   LEAF_RX_MAX <= WIRE_MAX_PAYLOAD && LEAF_REPLY_MAX <= WIRE_MAX_PAYLOAD,
               "leaf frame bounds exceed the payload limit");
_Static_assert(LEAF_MAX_MESSAGE == WIRE_MAX_MESSAGE, "two names for Xen's largest message");

/* The leaf frames' bounds (leaf_wire.h has their layouts). */
static int leaf_check_length(uint8_t type, uint32_t length, const char **why)
{
	switch (type) {
	case WIRE_LEAF_ATTACH:
		if (length < LEAF_ATTACH_MIN || length > LEAF_ATTACH_MAX ||
		    (length - LEAF_ATTACH_MIN) % LEAF_RING_STATE_SIZE != 0)
			return fail(why, "LEAF_ATTACH length is not 16 + 24 * rings");
		return 0;
	case WIRE_LEAF_WELCOME:
		return length == LEAF_WELCOME_SIZE ? 0 : fail(why, "LEAF_WELCOME length is not 16");
	case WIRE_LEAF_REQUEST:
		if (length < LEAF_REQUEST_MIN || length > LEAF_REQUEST_MAX)
			return fail(why, "LEAF_REQUEST length out of bounds");
		return 0;
	case WIRE_LEAF_REPLY:
		if (length < LEAF_REPLY_MIN || length > LEAF_REPLY_MAX ||
		    (length - LEAF_REPLY_MIN) % LEAF_REPLY_ENT_SIZE != 0)
			return fail(why, "LEAF_REPLY length is not 16 + 8 * entries");
		return 0;
	case WIRE_LEAF_RING:
		if (length < LEAF_RING_MIN || length > LEAF_RING_MAX)
			return fail(why, "LEAF_RING length out of bounds");
		return 0;
	case WIRE_LEAF_EVENT:
		return length == 0 ? 0 : fail(why, "LEAF_EVENT length is not 0");
	case WIRE_LEAF_RX:
		if (length < LEAF_RX_MIN || length > LEAF_RX_MAX ||
		    (length - LEAF_RX_MIN) % LEAF_RX_ENT_SIZE != 0)
			return fail(why, "LEAF_RX length is not 8 + 8 * rings");
		return 0;
	default:
		return fail(why, "unknown frame type");
	}
}

/* Checks a payload length against its type's bounds. */
static int check_length(uint8_t type, uint32_t length, const char **why)
{
	switch (type) {
	case WIRE_HELLO:
		return length == WIRE_HELLO_SIZE ? 0 : fail(why, "HELLO length is not 56");
	case 2:
		return fail(why, "AUTH (type 2) is not a frame of version 4: TLS authenticates");
	case WIRE_DATA:
		if (length < WIRE_DATA_HEADER_SIZE)
			return fail(why, "DATA length is below the 96-byte data header");
		if (length > DATA_MAX_LENGTH)
			return fail(why, "DATA message is longer than WIRE_MAX_MESSAGE");
		return 0;
	case WIRE_ACK:
		return length == WIRE_ACK_SIZE ? 0 : fail(why, "ACK length is not 16");
	case WIRE_ROUTES:
		if (length < ROUTES_MIN_LENGTH)
			return fail(why, "ROUTES length is below 4");
		if (length > ROUTES_MAX_LENGTH)
			return fail(why, "ROUTES length is above 4 + 20 * WIRE_MAX_ROUTES");
		if ((length - ROUTES_MIN_LENGTH) % ROUTE_SIZE != 0)
			return fail(why, "ROUTES length is not 4 + 20 * count");
		return 0;
	case WIRE_UNDELIVERABLE:
		return length == WIRE_UNDELIVERABLE_SIZE
		           ? 0
		           : fail(why, "UNDELIVERABLE length is not 64");
	case WIRE_PING:
		return length == PING_SIZE ? 0 : fail(why, "PING length is not 8");
	case WIRE_PONG:
		return length == PING_SIZE ? 0 : fail(why, "PONG length is not 8");
	case WIRE_CLOSE:
		if (length < CLOSE_MIN_LENGTH)
			return fail(why, "CLOSE length is below 4");
		if (length > CLOSE_MAX_LENGTH)
			return fail(why, "CLOSE text is longer than 128 bytes");
		return 0;
	default:
		return leaf_check_length(type, length, why);
	}
}

/* ---------------------------------------------------------------------------
 * Header.
 */

size_t wire_put_header(uint8_t *out, uint8_t type, uint32_t length, uint64_t seq)
{
	out[0] = (uint8_t)WIRE_VERSION;
	out[1] = type;
	put_u16(out + 2, 0);
	put_u32(out + 4, length);
	put_u64(out + 8, seq);
	return WIRE_HEADER_SIZE;
}

int64_t wire_parse_header(const uint8_t *buf, size_t len, struct wire_header *hdr, const char **why)
{
	struct wire_header h;
	int rc;

	if (!buf || len < WIRE_HEADER_SIZE)
		return -EAGAIN;
	h.version = buf[0];
	h.type = buf[1];
	h.flags = get_u16(buf + 2);
	h.length = get_u32(buf + 4);
	h.seq = get_u64(buf + 8);
	if (h.version != WIRE_VERSION)
		return fail(why, "frame version is not 4 (this relay speaks version 4 only)");
	if (h.type < WIRE_HELLO || h.type > WIRE_LEAF_RX)
		return fail(why, "unknown frame type");
	if (h.flags != 0)
		return fail(why, "frame flags are not 0");
	if (h.length > WIRE_MAX_PAYLOAD)
		return fail(why, "frame length is above WIRE_MAX_PAYLOAD");
	rc = check_length(h.type, h.length, why);
	if (rc)
		return rc;
	if (h.seq == 0)
		return fail(why, "frame seq is 0 (frames count from 1)");
	if (hdr)
		*hdr = h;
	return (int64_t)WIRE_HEADER_SIZE + h.length;
}

/* ---------------------------------------------------------------------------
 * HELLO.
 */

#define HELLO_MAGIC       0u
#define HELLO_VERSION_MIN 4u
#define HELLO_VERSION_MAX 6u
#define HELLO_HVID        8u
#define HELLO_ROLE        24u
#define HELLO_RESERVED    28u
#define HELLO_RX_NEXT_MSN 32u
#define HELLO_ACKED_MSN   40u
#define HELLO_BOOT_ID     48u

_Static_assert(HELLO_BOOT_ID + 8 == WIRE_HELLO_SIZE, "HELLO layout");

/* The HELLO fields other than the hvid: NULL if fine, else why not. */
static const char *hello_fields_bad(uint16_t vmin, uint16_t vmax, uint32_t role)
{
	if (vmin == 0)
		return "HELLO version_min is 0";
	if (vmin > vmax)
		return "HELLO version_min is above version_max";
	if (vmin > WIRE_VERSION || vmax < WIRE_VERSION)
		return "HELLO version range does not include 4";
	if (role != WIRE_ROLE_INITIATOR && role != WIRE_ROLE_ACCEPTOR)
		return "HELLO role is neither 0 (initiator) nor 1 (acceptor)";
	return NULL;
}

/* One cannot be done with a message one has not received. */
static int hello_msns_bad(uint64_t rx_next_msn, uint64_t acked_msn)
{
	return acked_msn && acked_msn >= rx_next_msn;
}

int wire_put_hello(uint8_t *out, size_t cap, const struct wire_hello *hello)
{
	if (!out || !hello || cap < WIRE_HELLO_SIZE)
		return -EMSGSIZE;
	if (!wire_hvid_valid(hello->hvid) ||
	    hello_fields_bad(hello->version_min, hello->version_max, hello->role) ||
	    hello_msns_bad(hello->rx_next_msn, hello->acked_msn))
		return -EMSGSIZE;
	put_u32(out + HELLO_MAGIC, WIRE_HELLO_MAGIC);
	put_u16(out + HELLO_VERSION_MIN, hello->version_min);
	put_u16(out + HELLO_VERSION_MAX, hello->version_max);
	put_hvid(out + HELLO_HVID, hello->hvid);
	put_u32(out + HELLO_ROLE, hello->role);
	put_u32(out + HELLO_RESERVED, 0);
	put_u64(out + HELLO_RX_NEXT_MSN, hello->rx_next_msn);
	put_u64(out + HELLO_ACKED_MSN, hello->acked_msn);
	put_u64(out + HELLO_BOOT_ID, hello->boot_id);
	return (int)WIRE_HELLO_SIZE;
}

int wire_parse_hello(const uint8_t *payload, uint32_t length, struct wire_hello *hello,
                     const char **why)
{
	struct wire_hello h;
	const char *bad;
	int rc;

	if (!payload || length != WIRE_HELLO_SIZE)
		return fail(why, "HELLO length is not 56");
	if (get_u32(payload + HELLO_MAGIC) != WIRE_HELLO_MAGIC)
		return fail(why, "HELLO magic is not \"ARGR\"");
	h.version_min = get_u16(payload + HELLO_VERSION_MIN);
	h.version_max = get_u16(payload + HELLO_VERSION_MAX);
	h.role = get_u32(payload + HELLO_ROLE);
	bad = hello_fields_bad(h.version_min, h.version_max, h.role);
	if (bad)
		return fail(why, bad);
	rc = get_hvid(payload + HELLO_HVID, h.hvid, &why_hello_hvid, why);
	if (rc)
		return rc;
	if (get_u32(payload + HELLO_RESERVED) != 0)
		return fail(why, "HELLO reserved field is not 0");
	h.rx_next_msn = get_u64(payload + HELLO_RX_NEXT_MSN);
	h.boot_id = get_u64(payload + HELLO_BOOT_ID);
	h.acked_msn = get_u64(payload + HELLO_ACKED_MSN);
	if (hello_msns_bad(h.rx_next_msn, h.acked_msn))
		return fail(why, "HELLO acked_msn is not below rx_next_msn");
	*hello = h;
	return 0;
}

/* ---------------------------------------------------------------------------
 * DATA.
 */

#define DATA_MSN          0u
#define DATA_SRC          8u
#define DATA_DST          32u
#define DATA_MESSAGE_TYPE 56u
#define DATA_FLAGS        60u
#define DATA_ORIGIN_EPOCH 64u
#define DATA_ORIGIN_INDEX 72u
#define DATA_RESERVED2    76u
#define DATA_ACKED_MSN    80u
#define DATA_CREDIT       88u

int wire_put_data_header(uint8_t *out, size_t cap, const struct wire_data *data)
{
	if (!out || !data || cap < WIRE_DATA_HEADER_SIZE)
		return -EMSGSIZE;
	if (data->msn == 0 || data->length > WIRE_MAX_MESSAGE ||
	    (data->flags & ~WIRE_DATA_ROUTED) || !wire_hvid_valid(data->src.hvid) ||
	    !wire_hvid_valid(data->dst.hvid))
		return -EMSGSIZE;
	put_u64(out + DATA_MSN, data->msn);
	put_gaddr(out + DATA_SRC, &data->src);
	put_gaddr(out + DATA_DST, &data->dst);
	put_u32(out + DATA_MESSAGE_TYPE, data->message_type);
	put_u32(out + DATA_FLAGS, data->flags);
	put_u64(out + DATA_ORIGIN_EPOCH, data->origin.epoch);
	put_u32(out + DATA_ORIGIN_INDEX, data->origin.index);
	put_u32(out + DATA_RESERVED2, 0);
	put_u64(out + DATA_ACKED_MSN, data->acked_msn);
	put_u64(out + DATA_CREDIT, data->credit);
	return (int)WIRE_DATA_HEADER_SIZE;
}

int wire_parse_data(const uint8_t *payload, uint32_t length, struct wire_data *data,
                    const char **why)
{
	struct wire_data d;
	int rc;

	if (!payload)
		return fail(why, "DATA length is below the 96-byte data header");
	rc = check_length(WIRE_DATA, length, why);
	if (rc)
		return rc;
	d.msn = get_u64(payload + DATA_MSN);
	if (d.msn == 0)
		return fail(why, "DATA msn is 0");
	rc = get_gaddr(payload + DATA_SRC, &d.src, &why_data_src_addr, why);
	if (rc)
		return rc;
	rc = get_gaddr(payload + DATA_DST, &d.dst, &why_data_dst_addr, why);
	if (rc)
		return rc;
	d.message_type = get_u32(payload + DATA_MESSAGE_TYPE);
	d.flags = get_u32(payload + DATA_FLAGS);
	if (d.flags & ~WIRE_DATA_ROUTED)
		return fail(why, "DATA flags has bits this version does not know");
	if (get_u32(payload + DATA_RESERVED2) != 0)
		return fail(why, "DATA reserved field is not 0");
	d.origin.epoch = get_u64(payload + DATA_ORIGIN_EPOCH);
	d.origin.index = get_u32(payload + DATA_ORIGIN_INDEX);
	d.acked_msn = get_u64(payload + DATA_ACKED_MSN);
	d.credit = get_u64(payload + DATA_CREDIT);
	d.length = length - WIRE_DATA_HEADER_SIZE;
	d.message = payload + WIRE_DATA_HEADER_SIZE;
	*data = d;
	return 0;
}

/* ---------------------------------------------------------------------------
 * ACK, PING/PONG.
 */

int wire_put_ack(uint8_t *out, size_t cap, const struct wire_ack *ack)
{
	if (!out || !ack || cap < WIRE_ACK_SIZE)
		return -EMSGSIZE;
	put_u64(out, ack->acked_msn);
	put_u64(out + 8, ack->credit);
	return (int)WIRE_ACK_SIZE;
}

int wire_parse_ack(const uint8_t *payload, uint32_t length, struct wire_ack *ack, const char **why)
{
	if (!payload || length != WIRE_ACK_SIZE)
		return fail(why, "ACK length is not 16");
	ack->acked_msn = get_u64(payload);
	ack->credit = get_u64(payload + 8);
	return 0;
}

int wire_parse_ping(const uint8_t *payload, uint32_t length, uint64_t *token, const char **why)
{
	if (!payload || length != PING_SIZE)
		return fail(why, "PING/PONG length is not 8");
	*token = get_u64(payload);
	return 0;
}

/* ---------------------------------------------------------------------------
 * ROUTES.
 */

int wire_put_routes(uint8_t *out, size_t cap, const struct wire_route *routes, uint32_t count)
{
	uint32_t i;
	uint8_t *p;

	if (!out || count > WIRE_MAX_ROUTES || (count && !routes) ||
	    cap < ROUTES_MIN_LENGTH + (size_t)ROUTE_SIZE * count)
		return -EMSGSIZE;
	for (i = 0; i < count; i++)
		if (!wire_hvid_valid(routes[i].hvid))
			return -EMSGSIZE;
	put_u32(out, count);
	for (i = 0, p = out + ROUTES_MIN_LENGTH; i < count; i++, p += ROUTE_SIZE) {
		put_hvid(p, routes[i].hvid);
		p[ROUTE_HOPS] = routes[i].hops;
		memset(p + ROUTE_RESERVED, 0, ROUTE_SIZE - ROUTE_RESERVED);
	}
	return (int)(ROUTES_MIN_LENGTH + ROUTE_SIZE * count);
}

int wire_parse_routes(const uint8_t *payload, uint32_t length, struct wire_route *routes,
                      uint32_t *count, const char **why)
{
	const uint8_t *p;
	uint32_t n, i;
	int rc;

	if (!payload)
		return fail(why, "ROUTES length is below 4");
	rc = check_length(WIRE_ROUTES, length, why);
	if (rc)
		return rc;
	n = get_u32(payload);
	if (n > WIRE_MAX_ROUTES)
		return fail(why, "ROUTES count is above WIRE_MAX_ROUTES");
	if ((uint64_t)length != ROUTES_MIN_LENGTH + (uint64_t)ROUTE_SIZE * n)
		return fail(why, "ROUTES count does not match the frame length");
	for (i = 0, p = payload + ROUTES_MIN_LENGTH; i < n; i++, p += ROUTE_SIZE) {
		rc = get_hvid(p, routes[i].hvid, &why_route_hvid, why);
		if (rc)
			return rc;
		if (p[ROUTE_RESERVED] | p[ROUTE_RESERVED + 1] | p[ROUTE_RESERVED + 2])
			return fail(why, "ROUTES entry reserved bytes are not 0");
		routes[i].hops = p[ROUTE_HOPS];
	}
	*count = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * UNDELIVERABLE.
 */

#define UNDELIV_MSN   0u
#define UNDELIV_SRC   8u
#define UNDELIV_DST   32u
#define UNDELIV_ERROR 56u
#define UNDELIV_FLAGS 60u

int wire_put_undeliverable(uint8_t *out, size_t cap, const struct wire_undeliverable *u)
{
	if (!out || !u || cap < WIRE_UNDELIVERABLE_SIZE)
		return -EMSGSIZE;
	if (u->msn == 0 || u->error == 0 || u->error > ERRNO_MAX ||
	    (u->flags & ~WIRE_DATA_ROUTED) || !wire_hvid_valid(u->src.hvid) ||
	    !wire_hvid_valid(u->dst.hvid))
		return -EMSGSIZE;
	put_u64(out + UNDELIV_MSN, u->msn);
	put_gaddr(out + UNDELIV_SRC, &u->src);
	put_gaddr(out + UNDELIV_DST, &u->dst);
	put_u32(out + UNDELIV_ERROR, u->error);
	put_u32(out + UNDELIV_FLAGS, u->flags);
	return (int)WIRE_UNDELIVERABLE_SIZE;
}

int wire_parse_undeliverable(const uint8_t *payload, uint32_t length, struct wire_undeliverable *u,
                             const char **why)
{
	struct wire_undeliverable v;
	int rc;

	if (!payload || length != WIRE_UNDELIVERABLE_SIZE)
		return fail(why, "UNDELIVERABLE length is not 64");
	v.msn = get_u64(payload + UNDELIV_MSN);
	if (v.msn == 0)
		return fail(why, "UNDELIVERABLE msn is 0");
	rc = get_gaddr(payload + UNDELIV_SRC, &v.src, &why_undeliv_src_addr, why);
	if (rc)
		return rc;
	rc = get_gaddr(payload + UNDELIV_DST, &v.dst, &why_undeliv_dst_addr, why);
	if (rc)
		return rc;
	v.error = get_u32(payload + UNDELIV_ERROR);
	if (v.error == 0 || v.error > ERRNO_MAX)
		return fail(why, "UNDELIVERABLE error is not an errno (1..4095)");
	v.flags = get_u32(payload + UNDELIV_FLAGS);
	if (v.flags & ~WIRE_DATA_ROUTED)
		return fail(why, "UNDELIVERABLE flags has bits this version does not know");
	*u = v;
	return 0;
}

/* ---------------------------------------------------------------------------
 * CLOSE.
 */

static int text_char_ok(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

int wire_put_close(uint8_t *out, size_t cap, uint32_t reason, const char *text)
{
	size_t n, i;

	if (!text)
		text = "";
	n = strnlen(text, WIRE_CLOSE_TEXT_MAX + 1);
	if (!out || n > WIRE_CLOSE_TEXT_MAX || cap < CLOSE_MIN_LENGTH + n)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		if (!text_char_ok((unsigned char)text[i]))
			return -EMSGSIZE;
	put_u32(out, reason);
	memcpy(out + CLOSE_MIN_LENGTH, text, n);
	return (int)(CLOSE_MIN_LENGTH + n);
}

int wire_parse_close(const uint8_t *payload, uint32_t length, struct wire_close *c,
                     const char **why)
{
	uint32_t n, i;
	int rc;

	if (!payload)
		return fail(why, "CLOSE length is below 4");
	rc = check_length(WIRE_CLOSE, length, why);
	if (rc)
		return rc;
	n = length - CLOSE_MIN_LENGTH;
	for (i = 0; i < n; i++)
		if (!text_char_ok(payload[CLOSE_MIN_LENGTH + i]))
			return fail(why, "CLOSE text has a byte outside printable ASCII");
	c->reason = get_u32(payload);
	memcpy(c->text, payload + CLOSE_MIN_LENGTH, n);
	c->text[n] = '\0';
	return 0;
}
