/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the frame decoder (common/link/wire.c, and a leaf
 * endpoint's payloads, common/link/leaf_wire.c; the frames inside TLS,
 * fuzz_handshake.c fuzzes what comes before them). `make fuzz` builds
 * it with clang -fsanitize=fuzzer,address,undefined and runs it on a copy of
 * tests/fuzz/corpus/wire/ (frames written by `test-wire --write-corpus`).
 *
 * Two passes over each input:
 *  1. as a link's byte stream: headers, then (when the whole frame is there)
 *     the payload parser of its type, frame after frame;
 *  2. as one payload of any length: the first byte picks the type, the rest
 *     is given to that type's parser directly, so that the parsers' own
 *     length checks see lengths the header decoder would refuse.
 * Payloads are copied to buffers of exactly their length, so ASan sees any
 * read past them. Whatever decodes must re-encode to the same bytes; a
 * refusal must be -EBADMSG with a reason; anything else aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaf_wire.h"
#include "wire.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_wire: %s:%d: check failed: %s\n", __FILE__,          \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct wire_route routes[WIRE_MAX_ROUTES];

/* The leaf frames: decodes in (len bytes) as type and re-encodes it into
 * out (*n bytes). 0 decoded, -EBADMSG refused, 1 nothing to decode. */
static int leaf_payload(uint8_t type, const uint8_t *in, uint32_t len, uint8_t *out, int *n,
                        const char **why)
{
	int rc = 1;
	uint32_t i;

	switch (type) {
	case WIRE_LEAF_ATTACH: {
		static struct leaf_ring_state st[LEAF_MAX_RINGS];
		struct leaf_attach a;

		rc = leaf_parse_attach(in, len, &a, why);
		for (i = 0; rc == 0 && i < a.nrings; i++)
			rc = leaf_get_ring_state(&a, i, &st[i], why);
		if (!rc)
			*n = leaf_put_attach(out, len, a.boot, st, a.nrings);
		break;
	}
	case WIRE_LEAF_WELCOME: {
		struct leaf_welcome w;

		rc = leaf_parse_welcome(in, len, &w, why);
		if (!rc)
			*n = leaf_put_welcome(out, len, &w);
		break;
	}
	case WIRE_LEAF_REQUEST: {
		struct leaf_request r;
		xen_argo_ring_data_ent_t e;

		rc = leaf_parse_request(in, len, &r, why);
		if (rc)
			break;
		*n = leaf_put_request(out, len, &r);
		if (*n < 0)
			break;
		if (r.op == LEAF_OP_SENDV && r.u.send.has_data) {
			CHECK(*n + r.u.send.data_len <= len);
			memcpy(out + *n, r.u.send.data, r.u.send.data_len);
			*n += (int)r.u.send.data_len;
		} else if (r.op == LEAF_OP_NOTIFY && r.u.notify.has_ring_data &&
		           r.u.notify.nent <= XEN_ARGO_MAX_NOTIFY_COUNT) {
			for (i = 0; i < r.u.notify.nent; i++) {
				leaf_get_notify_ent(r.u.notify.ents, i, &e);
				leaf_put_notify_ent(out + *n, &e);
				*n += LEAF_NOTIFY_ENT;
			}
		}
		break;
	}
	case WIRE_LEAF_REPLY: {
		struct leaf_reply r;
		uint16_t flags;
		uint32_t max;

		rc = leaf_parse_reply(in, len, &r, why);
		if (rc)
			break;
		*n = leaf_put_reply(out, len, &r);
		for (i = 0; *n >= 0 && i < r.nent; i++) {
			leaf_get_reply_ent(r.ents, i, &flags, &max);
			leaf_put_reply_ent(out + *n, flags, max);
			*n += LEAF_REPLY_ENT_SIZE;
		}
		break;
	}
	case WIRE_LEAF_RING: {
		struct leaf_ring_bytes rb;

		rc = leaf_parse_ring(in, len, &rb, why);
		if (rc)
			break;
		*n = leaf_put_ring(out, &rb);
		if (*n >= 0) {
			memcpy(out + *n, rb.bytes, rb.n);
			*n += (int)rb.n;
		}
		break;
	}
	case WIRE_LEAF_RX: {
		const uint8_t *ents;
		uint32_t count, id, rx;

		rc = leaf_parse_rx(in, len, &count, &ents, why);
		if (rc)
			break;
		*n = leaf_put_rx(out, count);
		for (i = 0; *n >= 0 && i < count; i++) {
			leaf_get_rx_ent(ents, i, &id, &rx);
			leaf_put_rx_ent(out + *n, id, rx);
			*n += LEAF_RX_ENT_SIZE;
		}
		break;
	}
	}
	return rc;
}

/* Decodes payload (exactly len bytes) as type; when it decodes, re-encodes
 * it and compares. */
static void payload(uint8_t type, const uint8_t *data, uint32_t len)
{
	uint8_t *in = malloc(len ? len : 1), *out = malloc(len ? len : 1);
	const char *why = NULL;
	int rc, n = -1;

	CHECK(in && out);
	if (len)
		memcpy(in, data, len);
	switch (type) {
	case WIRE_HELLO: {
		struct wire_hello h;

		rc = wire_parse_hello(in, len, &h, &why);
		if (!rc) {
			CHECK(wire_hvid_valid(h.hvid));
			n = wire_put_hello(out, len, &h);
		}
		break;
	}
	case WIRE_DATA: {
		struct wire_data d;

		rc = wire_parse_data(in, len, &d, &why);
		if (!rc) {
			CHECK(d.message == in + WIRE_DATA_HEADER_SIZE);
			CHECK(d.length == len - WIRE_DATA_HEADER_SIZE &&
			      d.length <= WIRE_MAX_MESSAGE);
			n = wire_put_data_header(out, len, &d);
			CHECK(n == (int)WIRE_DATA_HEADER_SIZE);
			memcpy(out + n, d.message, d.length);
			n += (int)d.length;
		}
		break;
	}
	case WIRE_ACK: {
		struct wire_ack a;

		rc = wire_parse_ack(in, len, &a, &why);
		if (!rc)
			n = wire_put_ack(out, len, &a);
		break;
	}
	case WIRE_ROUTES: {
		uint32_t count = 0, i;

		rc = wire_parse_routes(in, len, routes, &count, &why);
		if (!rc) {
			CHECK(count <= WIRE_MAX_ROUTES);
			for (i = 0; i < count; i++)
				CHECK(wire_hvid_valid(routes[i].hvid));
			n = wire_put_routes(out, len, routes, count);
		}
		break;
	}
	case WIRE_UNDELIVERABLE: {
		struct wire_undeliverable u;

		rc = wire_parse_undeliverable(in, len, &u, &why);
		if (!rc)
			n = wire_put_undeliverable(out, len, &u);
		break;
	}
	case WIRE_PING:
	case WIRE_PONG: {
		uint64_t token = 0;
		unsigned int i;

		rc = wire_parse_ping(in, len, &token, &why);
		if (!rc) {
			CHECK(len == 8);
			for (i = 0; i < 8; i++)
				out[i] = (uint8_t)(token >> (8 * i));
			n = 8;
		}
		break;
	}
	case WIRE_CLOSE: {
		struct wire_close c;

		rc = wire_parse_close(in, len, &c, &why);
		if (!rc) {
			CHECK(strlen(c.text) <= WIRE_CLOSE_TEXT_MAX);
			n = wire_put_close(out, len, c.reason, c.text);
		}
		break;
	}
	default:
		rc = leaf_payload(type, in, len, out, &n, &why);
		if (rc == 1) { /* EVENT (empty), unknown types (2, AUTH before version 4) */
			free(in);
			free(out);
			return;
		}
		break;
	}
	if (rc == 0) {
		CHECK(n == (int)len);
		CHECK(memcmp(in, out, len) == 0);
	} else {
		CHECK(rc == -EBADMSG && why != NULL);
	}
	free(in);
	free(out);
}

static void stream(const uint8_t *data, size_t size)
{
	while (size > 0) {
		struct wire_header h;
		const char *why = NULL;
		uint8_t *copy = malloc(size < WIRE_HEADER_SIZE ? size : WIRE_HEADER_SIZE);
		uint8_t hb[WIRE_HEADER_SIZE];
		size_t avail = size < WIRE_HEADER_SIZE ? size : WIRE_HEADER_SIZE;
		int64_t total;

		/* The header decoder sees only the header's bytes (or fewer). */
		CHECK(copy != NULL);
		memcpy(copy, data, avail);
		total = wire_parse_header(copy, avail, &h, &why);
		free(copy);
		if (total == -EAGAIN) {
			CHECK(size < WIRE_HEADER_SIZE);
			return;
		}
		if (total < 0) {
			CHECK(total == -EBADMSG && why != NULL);
			return;
		}
		CHECK(h.version == WIRE_VERSION && h.flags == 0 && h.length <= WIRE_MAX_PAYLOAD);
		CHECK(total == (int64_t)WIRE_HEADER_SIZE + h.length && h.seq != 0);
		CHECK(wire_put_header(hb, h.type, h.length, h.seq) == WIRE_HEADER_SIZE);
		CHECK(memcmp(hb, data, WIRE_HEADER_SIZE) == 0);
		if ((uint64_t)total > size)
			return; /* a reader would wait for more */
		payload(h.type, data + WIRE_HEADER_SIZE, h.length);
		data += total;
		size -= (size_t)total;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stream(data, size);
	if (size >= 1 && size - 1 <= UINT32_MAX)
		payload((uint8_t)(data[0] % (WIRE_LEAF_RX + 1)), data + 1, (uint32_t)(size - 1));
	return 0;
}
