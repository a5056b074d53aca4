/* SPDX-License-Identifier: MIT */
/*
 * The relay link protocol's frames (docs/protocol.md): layout constants,
 * encoders, and a strict decoder. No I/O and no crypto here: the frames
 * travel inside TLS 1.3 (session.h), which protects them; frames.h moves
 * them.
 *
 * Return conventions: 0 or a length on success; negative errno values on
 * failure: -EMSGSIZE (too large to encode), -EAGAIN (decoder: not enough
 * bytes yet), -EBADMSG (decoder: malformed; *why says what, a static string).
 */
#ifndef ARGO_WIRE_H
#define ARGO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "argo/abi.h"

#define WIRE_VERSION            4u
#define WIRE_HEADER_SIZE        16u
#define WIRE_MAX_MESSAGE        0xFFFFE0u /* Xen's largest sendv payload */
#define WIRE_DATA_HEADER_SIZE   96u
#define WIRE_MAX_PAYLOAD        (16u * 1024 * 1024 + 4096)
#define WIRE_HVID_SIZE          16u         /* NUL padded; 1..15 significant bytes */
#define WIRE_HELLO_MAGIC        0x52475241u /* "ARGR" */
#define WIRE_HELLO_SIZE         56u
#define WIRE_ACK_SIZE           16u
#define WIRE_UNDELIVERABLE_SIZE 64u
#define WIRE_MAX_ROUTES         1024u
#define WIRE_MAX_ROUTE_HOPS     15u
#define WIRE_CLOSE_TEXT_MAX     128u
/* What a DATA message costs in credit and in a holder's memory account, on
 * both ends of a link: its length plus its DATA header, so that empty
 * messages are not free (docs/protocol.md, "ACK"). */
#define WIRE_DATA_COST(len) ((uint64_t)(len) + WIRE_DATA_HEADER_SIZE)
/* A sender never has DATA more than this many msns above the last one the
 * peer acknowledged; a receiver refuses what would hold more. */
#define WIRE_MAX_IN_FLIGHT 8192u

enum wire_type {
	WIRE_HELLO = 1,
	/* 2 was AUTH (version 3 and before): TLS authenticates now, and the
	 * decoder refuses the type. */
	WIRE_DATA = 3,
	WIRE_ACK = 4,
	WIRE_ROUTES = 5,
	WIRE_UNDELIVERABLE = 6,
	WIRE_PING = 7,
	WIRE_PONG = 8,
	WIRE_CLOSE = 9,
	/* A leaf endpoint's frames (docs/protocol.md, "Leaf endpoints";
	 * payloads in leaf_wire.h): only on a link to a leaf. */
	WIRE_LEAF_ATTACH = 10,
	WIRE_LEAF_WELCOME = 11,
	WIRE_LEAF_REQUEST = 12,
	WIRE_LEAF_REPLY = 13,
	WIRE_LEAF_RING = 14,
	WIRE_LEAF_EVENT = 15,
	WIRE_LEAF_RX = 16,
};

enum wire_role { WIRE_ROLE_INITIATOR = 0, WIRE_ROLE_ACCEPTOR = 1 };

struct wire_gaddr {
	char hvid[WIRE_HVID_SIZE]; /* NUL padded, NUL terminated */
	argo_domid_t domid;
	uint32_t port;
};

struct wire_header {
	uint8_t version, type;
	uint16_t flags;
	uint32_t length;
	uint64_t seq;
};

struct wire_hello {
	uint16_t version_min, version_max;
	char hvid[WIRE_HVID_SIZE];
	uint32_t role;
	uint64_t rx_next_msn; /* next msn we expect: we hold everything before it */
	uint64_t acked_msn;   /* we are done with every msn up to this one */
	uint64_t boot_id;
};

/* Where a message entered the relays: the ring it was read from (a random
 * epoch per ring incarnation, kept in the ring) and its index in that ring.
 * Travels end to end unchanged, so the last relay can tell a resent copy. */
struct wire_origin {
	uint64_t epoch;
	uint32_t index;
};

/* DATA flags. */
#define WIRE_DATA_ROUTED 0x1u /* routed mode: deliver with a routed header (argo/routed.h) */

struct wire_data {
	uint64_t msn;
	struct wire_gaddr src, dst;
	uint32_t message_type;
	uint32_t flags; /* WIRE_DATA_*; other bits are refused */
	struct wire_origin origin;
	/* An ACK riding along (as an ACK frame before this DATA would say):
	 * acked_msn 0 and credit 0 say nothing. */
	uint64_t acked_msn, credit;
	uint32_t length;
	const uint8_t *message; /* decoder: points into the frame buffer */
};

struct wire_ack {
	uint64_t acked_msn;
	uint64_t credit;
};

struct wire_route {
	char hvid[WIRE_HVID_SIZE];
	uint8_t hops;
};

struct wire_undeliverable {
	uint64_t msn;
	struct wire_gaddr src, dst;
	uint32_t error; /* positive errno */
	uint32_t flags; /* WIRE_DATA_ROUTED when the message was routed */
};

struct wire_close {
	uint32_t reason;
	char text[WIRE_CLOSE_TEXT_MAX + 1];
};

/* Is this a valid hvid: 1..15 bytes of [A-Za-z0-9._-], NUL terminated?
 * Reads at most WIRE_HVID_SIZE bytes. */
int wire_hvid_valid(const char *hvid);

/* Writes a frame header; returns WIRE_HEADER_SIZE. */
size_t wire_put_header(uint8_t *out, uint8_t type, uint32_t length, uint64_t seq);

/*
 * Payload encoders: write the payload of one frame type into out (which has
 * room for cap bytes) and return its length, or -EMSGSIZE when cap is too
 * small or a field is out of bounds. The caller frames it with
 * wire_put_header().
 */
int wire_put_hello(uint8_t *out, size_t cap, const struct wire_hello *hello);
/* DATA: writes the 96-byte data header only; the message bytes follow it. */
int wire_put_data_header(uint8_t *out, size_t cap, const struct wire_data *data);
int wire_put_ack(uint8_t *out, size_t cap, const struct wire_ack *ack);
int wire_put_routes(uint8_t *out, size_t cap, const struct wire_route *routes, uint32_t count);
int wire_put_undeliverable(uint8_t *out, size_t cap, const struct wire_undeliverable *u);
/* text: NULL or 0..WIRE_CLOSE_TEXT_MAX bytes of printable ASCII (0x20..0x7e). */
int wire_put_close(uint8_t *out, size_t cap, uint32_t reason, const char *text);

/*
 * Decoder, step 1: the header of the frame at the start of buf (len bytes
 * available). Returns the frame's total size (header + payload) once the
 * header is valid, -EAGAIN when fewer than WIRE_HEADER_SIZE bytes are
 * there, -EBADMSG on a bad version, type, flags or length. The total may
 * exceed len: read more, then go on. The length is checked against the
 * type's own bounds here already (e.g. a PING must say 8), and seq must not
 * be 0 (frames count from 1).
 */
int64_t wire_parse_header(const uint8_t *buf, size_t len, struct wire_header *hdr,
                          const char **why);

/* Decoder, step 2: payloads (payload points just past the header, length
 * hdr->length bytes). -EBADMSG with *why on anything malformed. */
int wire_parse_hello(const uint8_t *payload, uint32_t length, struct wire_hello *hello,
                     const char **why);
int wire_parse_data(const uint8_t *payload, uint32_t length, struct wire_data *data,
                    const char **why);
int wire_parse_ack(const uint8_t *payload, uint32_t length, struct wire_ack *ack, const char **why);
/* routes must have room for WIRE_MAX_ROUTES entries; *count is set.
 * Entries with hops > WIRE_MAX_ROUTE_HOPS are returned as they are: the
 * route table ignores them (the spec says "ignored", not "refused"). */
int wire_parse_routes(const uint8_t *payload, uint32_t length, struct wire_route *routes,
                      uint32_t *count, const char **why);
int wire_parse_undeliverable(const uint8_t *payload, uint32_t length, struct wire_undeliverable *u,
                             const char **why);
int wire_parse_ping(const uint8_t *payload, uint32_t length, uint64_t *token, const char **why);
int wire_parse_close(const uint8_t *payload, uint32_t length, struct wire_close *c,
                     const char **why);

#endif /* ARGO_WIRE_H */
