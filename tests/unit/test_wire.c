/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the frame codec (common/wire.c, wire.h) against
 * docs/protocol.md: the exact bytes of every encoded type (written here by
 * hand from the spec's offset tables, never by the encoder), round trips,
 * and every way the strict decoder must refuse a frame.
 *
 * Every buffer handed to the decoder is a heap copy of exactly the bytes it
 * is told about, and every encoder output buffer is exactly cap bytes, so
 * ASan catches any read or write past them.
 *
 * `test-wire --write-corpus DIR` writes the fuzzer's seed corpus
 * (tests/fuzz/corpus/wire/) instead of running the tests.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaf_wire.h"
#include "wire.h"
#include "../cunit_main.h"

/* An assertion that prints the loop context when it fails. */
#define CHECKF(cond, ...)                                                                          \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_) {                                                                        \
			fprintf(stderr, "\n    %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
		}                                                                                  \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE);             \
	} while (0)

/* -EBADMSG with a reason that contains word. */
#define CHECK_BAD(rc, why, word)                                                                   \
	CHECKF((rc) == -EBADMSG && (why) != NULL && strstr((why), (word)) != NULL,                 \
	       "rc %d why \"%s\", expected -EBADMSG mentioning \"%s\"\n", (int)(rc),               \
	       (why) ? (why) : "(null)", (word))

/* ---------------------------------------------------------------------------
 * Helpers.
 */

/* A heap copy of exactly n bytes (ASan-guarded); never NULL. */
static uint8_t *dup_exact(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	CU_ASSERT_FATAL(p != NULL);
	if (n)
		memcpy(p, src, n);
	return p;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A full frame: header and payload (TLS protects it: no MAC of its own).
 * Returns its malloc'ed bytes, *total its size. */
static uint8_t *frame_build(uint8_t type, const uint8_t *payload, uint32_t len, uint64_t seq,
                            size_t *total)
{
	size_t n = WIRE_HEADER_SIZE + len;
	uint8_t *f = malloc(n);

	if (!f || wire_put_header(f, type, len, seq) != WIRE_HEADER_SIZE) {
		free(f);
		return NULL;
	}
	memcpy(f + WIRE_HEADER_SIZE, payload, len);
	*total = n;
	return f;
}

static uint8_t *frame(uint8_t type, const uint8_t *payload, uint32_t len, uint64_t seq,
                      size_t *total)
{
	uint8_t *f = frame_build(type, payload, len, seq, total);

	CU_ASSERT_FATAL(f != NULL);
	return f;
}

/* A 16-byte header with these raw fields. */
static void raw_header(uint8_t h[WIRE_HEADER_SIZE], uint8_t version, uint8_t type, uint16_t flags,
                       uint32_t length, uint64_t seq)
{
	h[0] = version;
	h[1] = type;
	put_le(h + 2, flags, 2);
	put_le(h + 4, length, 4);
	put_le(h + 8, seq, 8);
}

/* Parses a header given exactly n bytes of it. */
static int64_t parse_header_exact(const uint8_t *buf, size_t n, struct wire_header *h,
                                  const char **why)
{
	uint8_t *copy = dup_exact(buf, n);
	int64_t rc;

	*why = NULL;
	rc = wire_parse_header(copy, n, h, why);
	free(copy);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Samples and their exact bytes, from the spec's tables.
 */

/* clang-format off */

static struct wire_hello sample_hello(void)
{
	struct wire_hello h;

	memset(&h, 0, sizeof(h));
	h.version_min = 4;
	h.version_max = 4;
	strcpy(h.hvid, "l0-host");
	h.rx_next_msn = 0x0102030405060708ull;
	h.boot_id = 0x1112131415161718ull;
	h.role = WIRE_ROLE_ACCEPTOR;
	h.acked_msn = 0x0102030405060707ull;
	return h;
}

static const uint8_t hello_bytes[WIRE_HELLO_SIZE] = {
    /* 0 magic "ARGR" */ 'A', 'R', 'G', 'R',
    /* 4 version_min */ 0x04, 0x00,
    /* 6 version_max */ 0x04, 0x00,
    /* 8 hvid */ 'l', '0', '-', 'h', 'o', 's', 't', 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 24 role */ 0x01, 0x00, 0x00, 0x00,
    /* 28 reserved */ 0x00, 0x00, 0x00, 0x00,
    /* 32 rx_next_msn */ 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    /* 40 acked_msn */ 0x07, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    /* 48 boot_id */ 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11};

static const uint8_t data_msg[3] = {'a', 'b', 'c'};

static struct wire_data sample_data(void)
{
	struct wire_data d;

	memset(&d, 0, sizeof(d));
	d.msn = 0x8877665544332211ull;
	strcpy(d.src.hvid, "l1-xen");
	d.src.domid = 0x0102;
	d.src.port = 0xA0B0C0D0u;
	strcpy(d.dst.hvid, "l0");
	d.dst.domid = 5;
	d.dst.port = 7000;
	d.message_type = 0xDEADBEEFu;
	d.flags = WIRE_DATA_ROUTED;
	d.origin.epoch = 0x1020304050607080ull;
	d.origin.index = 0x0A0B0C0Du;
	d.acked_msn = 0x2827262524232221ull;
	d.credit = 0x3837363534333231ull;
	d.length = sizeof(data_msg);
	d.message = data_msg;
	return d;
}

static const uint8_t data_bytes[WIRE_DATA_HEADER_SIZE + 3] = {
    /* 0 msn */ 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    /* 8 src.hvid */ 'l', '1', '-', 'x', 'e', 'n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 24 src.domid */ 0x02, 0x01,
    /* 26 src.reserved */ 0x00, 0x00,
    /* 28 src.port */ 0xD0, 0xC0, 0xB0, 0xA0,
    /* 32 dst.hvid */ 'l', '0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 48 dst.domid */ 0x05, 0x00,
    /* 50 dst.reserved */ 0x00, 0x00,
    /* 52 dst.port 7000 */ 0x58, 0x1B, 0x00, 0x00,
    /* 56 message_type */ 0xEF, 0xBE, 0xAD, 0xDE,
    /* 60 flags: routed */ 0x01, 0x00, 0x00, 0x00,
    /* 64 origin.epoch */ 0x80, 0x70, 0x60, 0x50, 0x40, 0x30, 0x20, 0x10,
    /* 72 origin.index */ 0x0D, 0x0C, 0x0B, 0x0A,
    /* 76 reserved */ 0x00, 0x00, 0x00, 0x00,
    /* 80 acked_msn */ 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    /* 88 credit */ 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
    /* 96 message */ 'a', 'b', 'c'};

static const struct wire_ack ack_sample = {.acked_msn = 0x0102030405060708ull,
					   .credit = 0xF0E0D0C0B0A09080ull};

static const uint8_t ack_bytes[WIRE_ACK_SIZE] = {
    /* 0 acked_msn */ 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    /* 8 credit */ 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0};

static const struct wire_route routes_sample[2] = {{"a", 0}, {"b.c_d-9", 15}};

static const uint8_t routes_bytes[4 + 2 * 20] = {
    /* 0 count */ 0x02, 0x00, 0x00, 0x00,
    /* 4 [0].hvid */ 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 20 [0].hops */ 0x00,
    /* 21 [0].reserved */ 0x00, 0x00, 0x00,
    /* 24 [1].hvid */ 'b', '.', 'c', '_', 'd', '-', '9', 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 40 [1].hops */ 0x0F,
    /* 41 [1].reserved */ 0x00, 0x00, 0x00};

static struct wire_undeliverable sample_undeliverable(void)
{
	struct wire_undeliverable u;

	memset(&u, 0, sizeof(u));
	u.msn = 7;
	strcpy(u.src.hvid, "l1");
	u.src.domid = 1;
	u.src.port = 0x10;
	strcpy(u.dst.hvid, "nowhere");
	u.dst.domid = 0x7FF4;
	u.dst.port = 0x12345678u;
	u.error = EHOSTUNREACH;
	u.flags = WIRE_DATA_ROUTED;
	return u;
}

static const uint8_t undeliverable_bytes[WIRE_UNDELIVERABLE_SIZE] = {
    /* 0 msn */ 0x07, 0, 0, 0, 0, 0, 0, 0,
    /* 8 src.hvid */ 'l', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 24 src.domid */ 0x01, 0x00,
    /* 26 src.reserved */ 0x00, 0x00,
    /* 28 src.port */ 0x10, 0x00, 0x00, 0x00,
    /* 32 dst.hvid */ 'n', 'o', 'w', 'h', 'e', 'r', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 48 dst.domid */ 0xF4, 0x7F,
    /* 50 dst.reserved */ 0x00, 0x00,
    /* 52 dst.port */ 0x78, 0x56, 0x34, 0x12,
    /* 56 error EHOSTUNREACH (113 on Linux) */ 0x71, 0x00, 0x00, 0x00,
    /* 60 flags: routed */ 0x01, 0x00, 0x00, 0x00};

static const uint8_t close_bytes[4 + 12] = {
    /* 0 reason */ 0x03, 0x00, 0x00, 0x00,
    /* 4 text */ 'a', 'u', 't', 'h', ' ', 'f', 'a', 'i', 'l', 'u', 'r', 'e'};

static const uint8_t ping_bytes[8] = {0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01};

/* clang-format on */

/* One valid payload per type, for the table-driven tests. */
struct sample {
	uint8_t type;
	const char *name;
	const uint8_t *payload;
	uint32_t len;
};

static struct sample samples[8];

static void init_samples(void)
{
	samples[0] = (struct sample){WIRE_HELLO, "hello", hello_bytes, sizeof(hello_bytes)};
	samples[1] = (struct sample){WIRE_DATA, "data", data_bytes, sizeof(data_bytes)};
	samples[2] = (struct sample){WIRE_ACK, "ack", ack_bytes, sizeof(ack_bytes)};
	samples[3] = (struct sample){WIRE_ROUTES, "routes", routes_bytes, sizeof(routes_bytes)};
	samples[4] = (struct sample){WIRE_UNDELIVERABLE, "undeliverable", undeliverable_bytes,
	                             sizeof(undeliverable_bytes)};
	samples[5] = (struct sample){WIRE_PING, "ping", ping_bytes, sizeof(ping_bytes)};
	samples[6] = (struct sample){WIRE_PONG, "pong", ping_bytes, sizeof(ping_bytes)};
	samples[7] = (struct sample){WIRE_CLOSE, "close", close_bytes, sizeof(close_bytes)};
}

#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/*
 * Decodes a payload of type with the matching parser (on an exact heap
 * copy) and, when it decodes, re-encodes it and compares the bytes. Returns
 * the parser's result; a decode that does not re-encode identically is a
 * test failure.
 */
static struct wire_route routes_buf[WIRE_MAX_ROUTES];

static int decode_reencode(uint8_t type, const uint8_t *payload, uint32_t len, const char **why)
{
	uint8_t *in = dup_exact(payload, len);
	uint8_t *out = malloc(len ? len : 1);
	int rc = 0, n = -1;

	CU_ASSERT_FATAL(out != NULL);
	*why = NULL;
	/* A leaf endpoint's payloads (a bit flip can make one of a relay's
	 * frame) are test-leaf's (leaf_wire.c). */
	if (type >= WIRE_LEAF_ATTACH && type <= WIRE_LEAF_RX) {
		free(in);
		free(out);
		return 0;
	}
	switch (type) {
	case WIRE_HELLO: {
		struct wire_hello h;

		rc = wire_parse_hello(in, len, &h, why);
		if (!rc)
			n = wire_put_hello(out, len, &h);
		break;
	}
	case WIRE_DATA: {
		struct wire_data d;

		rc = wire_parse_data(in, len, &d, why);
		if (!rc) {
			CHECKF(d.message == in + WIRE_DATA_HEADER_SIZE &&
			           d.length == len - WIRE_DATA_HEADER_SIZE,
			       "DATA message pointer/length\n");
			n = wire_put_data_header(out, len, &d);
			if (n == (int)WIRE_DATA_HEADER_SIZE) {
				memcpy(out + n, d.message, d.length);
				n += (int)d.length;
			}
		}
		break;
	}
	case WIRE_ACK: {
		struct wire_ack a;

		rc = wire_parse_ack(in, len, &a, why);
		if (!rc)
			n = wire_put_ack(out, len, &a);
		break;
	}
	case WIRE_ROUTES: {
		uint32_t count = 0;

		rc = wire_parse_routes(in, len, routes_buf, &count, why);
		if (!rc)
			n = wire_put_routes(out, len, routes_buf, count);
		break;
	}
	case WIRE_UNDELIVERABLE: {
		struct wire_undeliverable u;

		rc = wire_parse_undeliverable(in, len, &u, why);
		if (!rc)
			n = wire_put_undeliverable(out, len, &u);
		break;
	}
	case WIRE_PING:
	case WIRE_PONG: {
		uint64_t token;

		rc = wire_parse_ping(in, len, &token, why);
		if (!rc) {
			put_le(out, token, 8);
			n = 8;
		}
		break;
	}
	case WIRE_CLOSE: {
		struct wire_close c;

		rc = wire_parse_close(in, len, &c, why);
		if (!rc)
			n = wire_put_close(out, len, c.reason, c.text);
		break;
	}
	default:
		CU_FAIL("no decoder for this type");
		rc = -EBADMSG;
		break;
	}
	if (rc == 0)
		CHECKF(n == (int)len && memcmp(in, out, len) == 0,
		       "type %u len %u: decoded but re-encoded to %d different bytes\n", type, len,
		       n);
	else
		CHECKF(rc == -EBADMSG && *why != NULL, "type %u len %u: rc %d why %s\n", type, len,
		       rc, *why ? *why : "(null)");
	free(in);
	free(out);
	return rc;
}

/* ---------------------------------------------------------------------------
 * hvids.
 */

static void test_hvid_valid(void)
{
	static const char no_nul[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
	                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
	static const char *const bad_chars[] = {"a b",  "a/b", "a\xff", "a@", "a:b",
	                                        "x\ty", "\n",  "a+b",   "~"};
	size_t i;

	CU_ASSERT_TRUE(wire_hvid_valid("a"));
	CU_ASSERT_TRUE(wire_hvid_valid("l0-host"));
	CU_ASSERT_TRUE(wire_hvid_valid("AZaz09._-"));
	CU_ASSERT_TRUE(wire_hvid_valid("123456789012345"));   /* 15 */
	CU_ASSERT_FALSE(wire_hvid_valid("1234567890123456")); /* 16 */
	CU_ASSERT_FALSE(wire_hvid_valid(""));
	CU_ASSERT_FALSE(wire_hvid_valid(NULL));
	CU_ASSERT_FALSE(wire_hvid_valid(no_nul)); /* reads only 16 bytes (ASan) */
	for (i = 0; i < sizeof(bad_chars) / sizeof(bad_chars[0]); i++)
		CHECKF(!wire_hvid_valid(bad_chars[i]), "\"%s\"\n", bad_chars[i]);
}

/* ---------------------------------------------------------------------------
 * Header.
 */

static void test_header_layout(void)
{
	static const uint8_t want[16] = {WIRE_VERSION, 0x03, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01,
	                                 0x88,         0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
	uint8_t *out = malloc(WIRE_HEADER_SIZE);
	struct wire_header h;
	const char *why;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_header(out, WIRE_DATA, 0x01020304u, 0x1122334455667788ull),
	                WIRE_HEADER_SIZE);
	CU_ASSERT_EQUAL(memcmp(out, want, 16), 0);
	/* That length is above WIRE_MAX_PAYLOAD: refused on the way back. */
	CHECK_BAD(parse_header_exact(out, 16, &h, &why), why, "WIRE_MAX_PAYLOAD");
	wire_put_header(out, WIRE_DATA, 0x00010304u, 0x1122334455667788ull);
	CU_ASSERT_EQUAL(parse_header_exact(out, 16, &h, &why), 16 + 0x00010304);
	CU_ASSERT_EQUAL(h.version, WIRE_VERSION);
	CU_ASSERT_EQUAL(h.type, WIRE_DATA);
	CU_ASSERT_EQUAL(h.flags, 0);
	CU_ASSERT_EQUAL(h.length, 0x00010304u);
	CU_ASSERT_EQUAL(h.seq, 0x1122334455667788ull);
	free(out);
}

/* Each type's payload length bounds, from the spec. */
static const struct {
	uint8_t type;
	uint32_t min, max;
} bounds[] = {
    {WIRE_HELLO, 56, 56},
    {WIRE_DATA, 96, 96 + 0xFFFFE0},
    {WIRE_ACK, 16, 16},
    {WIRE_ROUTES, 4, 4 + 20 * 1024},
    {WIRE_UNDELIVERABLE, 64, 64},
    {WIRE_PING, 8, 8},
    {WIRE_PONG, 8, 8},
    {WIRE_CLOSE, 4, 4 + 128},
};

static void test_header_lengths(void)
{
	uint8_t h[16];
	struct wire_header hdr;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		uint8_t t = bounds[i].type;
		uint32_t l;

		raw_header(h, WIRE_VERSION, t, 0, bounds[i].min, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == 16 + bounds[i].min, "type %u min\n",
		       t);
		raw_header(h, WIRE_VERSION, t, 0, bounds[i].max, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == 16 + bounds[i].max, "type %u max\n",
		       t);
		CHECKF(hdr.length == bounds[i].max && hdr.type == t, "type %u\n", t);
		raw_header(h, WIRE_VERSION, t, 0, bounds[i].min - 1, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == -EBADMSG && why, "type %u min-1\n",
		       t);
		raw_header(h, WIRE_VERSION, t, 0, bounds[i].max + 1, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == -EBADMSG && why, "type %u max+1\n",
		       t);
		raw_header(h, WIRE_VERSION, t, 0, 0, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == -EBADMSG, "type %u len 0\n", t);
		raw_header(h, WIRE_VERSION, t, 0, 0xFFFFFFFFu, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == -EBADMSG, "type %u len ~0\n", t);
		raw_header(h, WIRE_VERSION, t, 0, WIRE_MAX_PAYLOAD + 1, 1);
		CHECKF(parse_header_exact(h, 16, &hdr, &why) == -EBADMSG, "type %u len max+1\n", t);
		if (t == WIRE_ROUTES) {
			for (l = 4; l <= 4 + 20 * 3; l++) {
				int64_t rc;

				raw_header(h, WIRE_VERSION, t, 0, l, 9);
				rc = parse_header_exact(h, 16, &hdr, &why);
				CHECKF((l - 4) % 20 == 0 ? rc == 16 + l : rc == -EBADMSG,
				       "ROUTES length %u: %lld\n", l, (long long)rc);
			}
			raw_header(h, WIRE_VERSION, t, 0, 4 + 20 * 1025, 1);
			CU_ASSERT_EQUAL(parse_header_exact(h, 16, &hdr, &why), -EBADMSG);
		}
	}
	raw_header(h, WIRE_VERSION, WIRE_HELLO, 0, 84, 1);
	CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "HELLO length");
	/* AUTH (2) was a type of version 3: TLS authenticates now. */
	raw_header(h, WIRE_VERSION, 2, 0, 32, 1);
	CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "AUTH");
	raw_header(h, WIRE_VERSION, WIRE_DATA, 0, 95, 1);
	CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "DATA length");
	raw_header(h, WIRE_VERSION, WIRE_DATA, 0, WIRE_MAX_PAYLOAD + 1, 1);
	CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "WIRE_MAX_PAYLOAD");
}

static void test_header_bad_fields(void)
{
	static const uint8_t versions[] = {0, 1, 2, 3, 5, 0x81, 0xFF};
	static const uint8_t types[] = {0, 2, 17, 18, 0x80, 0xFF};
	uint8_t h[16];
	struct wire_header hdr;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(versions); i++) {
		raw_header(h, versions[i], WIRE_PING, 0, 8, 1);
		CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "version");
	}
	for (i = 0; i < sizeof(types); i++) {
		raw_header(h, WIRE_VERSION, types[i], 0, 8, 1);
		CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "type");
	}
	for (i = 0; i < 16; i++) {
		raw_header(h, WIRE_VERSION, WIRE_PING, (uint16_t)(1u << i), 8, 1);
		CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "flags");
	}
	/* Frames count from 1: seq 0 is refused on every type. */
	raw_header(h, WIRE_VERSION, WIRE_HELLO, 0, 56, 0);
	CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "seq");
	raw_header(h, WIRE_VERSION, WIRE_PING, 0, 8, 0);
	CHECK_BAD(parse_header_exact(h, 16, &hdr, &why), why, "seq");
	/* Any other seq: checking it is the session's job. */
	raw_header(h, WIRE_VERSION, WIRE_HELLO, 0, 56, 1ull << 63);
	CU_ASSERT_EQUAL(parse_header_exact(h, 16, &hdr, &why), 16 + 56);
	raw_header(h, WIRE_VERSION, WIRE_PING, 0, 8, ~0ull);
	CU_ASSERT_EQUAL(parse_header_exact(h, 16, &hdr, &why), 16 + 8);
	CU_ASSERT_EQUAL(hdr.seq, ~0ull);
	/* why may be NULL. */
	raw_header(h, 1, WIRE_PING, 0, 8, 1);
	CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, NULL), -EBADMSG);
}

static void test_header_short(void)
{
	struct wire_header hdr;
	const char *why;
	uint8_t h[16];
	size_t n;

	CU_ASSERT_EQUAL(wire_parse_header(NULL, 0, &hdr, &why), -EAGAIN);
	/* Even garbage is "not enough bytes yet" below 16 bytes. */
	raw_header(h, 9, 99, 0xFFFF, 0xFFFFFFFFu, 0);
	for (n = 0; n < 16; n++)
		CHECKF(parse_header_exact(h, n, &hdr, &why) == -EAGAIN, "n=%zu\n", n);
}

/* Every frame cut at every byte: -EAGAIN below 16 bytes, then the full
 * total (more than what is there). The payload parsers, given a payload
 * cut short, refuse it (or, for DATA and CLOSE, decode the shorter valid
 * frame it then is). */
static void test_truncated_everywhere(void)
{
	size_t s;

	for (s = 0; s < NSAMPLES; s++) {
		const struct sample *sm = &samples[s];
		size_t total, n;
		uint8_t *f = frame(sm->type, sm->payload, sm->len, 5, &total);
		struct wire_header hdr;
		const char *why;
		uint32_t l;

		CHECKF(parse_header_exact(f, total, &hdr, &why) == (int64_t)total, "%s\n",
		       sm->name);
		for (n = 0; n < total; n++) {
			int64_t rc = parse_header_exact(f, n, &hdr, &why);

			if (n < WIRE_HEADER_SIZE)
				CHECKF(rc == -EAGAIN, "%s cut at %zu: %lld\n", sm->name, n,
				       (long long)rc);
			else
				CHECKF(rc == (int64_t)total && (size_t)rc > n,
				       "%s cut at %zu: %lld\n", sm->name, n, (long long)rc);
		}
		CU_ASSERT_EQUAL(decode_reencode(sm->type, sm->payload, sm->len, &why), 0);
		for (l = 0; l < sm->len; l++) {
			int rc = decode_reencode(sm->type, sm->payload, l, &why);
			bool may_pass = (sm->type == WIRE_DATA && l >= 96) ||
			                (sm->type == WIRE_CLOSE && l >= 4);

			CHECKF(may_pass ? rc == 0 : rc == -EBADMSG, "%s payload cut at %u: %d\n",
			       sm->name, l, rc);
		}
		/* One byte too many. */
		if (sm->type != WIRE_DATA && sm->type != WIRE_CLOSE) {
			uint8_t *big = calloc(1, sm->len + 1u);

			CU_ASSERT_FATAL(big != NULL);
			memcpy(big, sm->payload, sm->len);
			CHECKF(decode_reencode(sm->type, big, sm->len + 1, &why) == -EBADMSG,
			       "%s + 1\n", sm->name);
			free(big);
		}
		free(f);
	}
}

/* Every bit of every sample frame flipped: never a crash, and whatever
 * still decodes re-encodes to the same bytes. */
static void test_every_bit_flip(void)
{
	size_t s;

	for (s = 0; s < NSAMPLES; s++) {
		const struct sample *sm = &samples[s];
		size_t total, i;
		uint8_t *f = frame(sm->type, sm->payload, sm->len, 1, &total);
		unsigned int b;

		for (i = 0; i < WIRE_HEADER_SIZE + sm->len; i++) {
			for (b = 0; b < 8; b++) {
				struct wire_header hdr;
				const char *why;
				int64_t rc;

				f[i] ^= (uint8_t)(1u << b);
				rc = parse_header_exact(f, total, &hdr, &why);
				CHECKF(rc == -EBADMSG || rc > 0, "%s bit %zu.%u: %lld\n", sm->name,
				       i, b, (long long)rc);
				if (rc > 0 && (size_t)rc <= total)
					decode_reencode(hdr.type, f + WIRE_HEADER_SIZE, hdr.length,
					                &why);
				f[i] ^= (uint8_t)(1u << b);
			}
		}
		free(f);
	}
}

/* ---------------------------------------------------------------------------
 * HELLO.
 */

static void test_hello_layout(void)
{
	struct wire_hello h = sample_hello(), back;
	uint8_t *out = malloc(WIRE_HELLO_SIZE);
	const char *why = NULL;
	size_t total;
	uint8_t *f;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_hello(out, WIRE_HELLO_SIZE, &h), 56);
	CU_ASSERT_EQUAL(memcmp(out, hello_bytes, 56), 0);
	CU_ASSERT_EQUAL(wire_parse_hello(out, 56, &back, &why), 0);
	CU_ASSERT_EQUAL(back.version_min, 4);
	CU_ASSERT_EQUAL(back.version_max, 4);
	CU_ASSERT_STRING_EQUAL(back.hvid, "l0-host");
	CU_ASSERT_EQUAL(back.rx_next_msn, h.rx_next_msn);
	CU_ASSERT_EQUAL(back.boot_id, h.boot_id);
	CU_ASSERT_EQUAL(back.role, WIRE_ROLE_ACCEPTOR);
	CU_ASSERT_EQUAL(back.acked_msn, h.acked_msn);
	/* The whole frame: header and payload. */
	f = frame(WIRE_HELLO, out, 56, 1, &total);
	CU_ASSERT_EQUAL(total, 16 + 56);
	CU_ASSERT_EQUAL(f[0], WIRE_VERSION);
	CU_ASSERT_EQUAL(f[1], 1);
	CU_ASSERT_EQUAL(f[4], 56);
	free(f);
	/* Garbage after the hvid's NUL in the struct is not sent. */
	memset(h.hvid, 'Z', sizeof(h.hvid));
	memcpy(h.hvid, "l0-host", 8);
	CU_ASSERT_EQUAL(wire_put_hello(out, WIRE_HELLO_SIZE, &h), 56);
	CU_ASSERT_EQUAL(memcmp(out, hello_bytes, 56), 0);
	free(out);
}

static void test_hello_encoder_refuses(void)
{
	struct wire_hello h = sample_hello();
	uint8_t *small = malloc(55), *out = malloc(56);

	CU_ASSERT_FATAL(small && out);
	CU_ASSERT_EQUAL(wire_put_hello(small, 55, &h), -EMSGSIZE);
	CU_ASSERT_EQUAL(wire_put_hello(NULL, 0, &h), -EMSGSIZE);
	h.role = 2;
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), -EMSGSIZE);
	h = sample_hello();
	h.hvid[0] = '\0';
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), -EMSGSIZE);
	h = sample_hello();
	memset(h.hvid, 'a', sizeof(h.hvid)); /* no NUL */
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), -EMSGSIZE);
	h = sample_hello();
	h.version_min = 5;
	h.version_max = 6;
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), -EMSGSIZE);
	h.version_min = 0;
	h.version_max = 3;
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), -EMSGSIZE);
	h = sample_hello();
	h.acked_msn = h.rx_next_msn; /* done with a message not yet received */
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), -EMSGSIZE);
	h = sample_hello();
	h.version_min = 1;
	h.version_max = 9;
	CU_ASSERT_EQUAL(wire_put_hello(out, 56, &h), 56);
	free(small);
	free(out);
}

static void hello_mut(unsigned int off, const uint8_t *bytes, unsigned int n, const char *word)
{
	uint8_t b[WIRE_HELLO_SIZE];
	struct wire_hello h;
	const char *why = NULL;
	uint8_t *copy;

	memcpy(b, hello_bytes, sizeof(b));
	memcpy(b + off, bytes, n);
	copy = dup_exact(b, sizeof(b));
	CHECK_BAD(wire_parse_hello(copy, sizeof(b), &h, &why), why, word);
	free(copy);
}

static void test_hello_decoder_refuses(void)
{
	static const uint8_t magic[4] = {'A', 'R', 'G', 'S'};
	static const uint8_t magic_be[4] = {'R', 'G', 'R', 'A'};
	static const uint8_t v0[4] = {0, 0, 1, 0}, v21[4] = {2, 0, 1, 0}, v23[4] = {5, 0, 6, 0};
	static const uint8_t v33[4] = {3, 0, 3, 0}, reserved[4] = {0, 0, 1, 0};
	static const uint8_t v00[4] = {0, 0, 0, 0};
	static const uint8_t role2[4] = {2, 0, 0, 0}, role_hi[4] = {0, 0, 0, 1};
	static const uint8_t empty[1] = {0};
	static const uint8_t full16[16] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
	                                   'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p'};
	static const uint8_t pad[2] = {0, 'x'};
	static const uint8_t badc[1] = {'/'};
	static const uint8_t space[1] = {' '};
	static const uint8_t high[1] = {0xC3};
	uint8_t v11[4] = {1, 0, 9, 0}, b[56];
	struct wire_hello h;
	const char *why;
	uint8_t *copy;

	hello_mut(0, magic, 4, "magic");
	hello_mut(0, magic_be, 4, "magic");
	hello_mut(4, v0, 4, "version_min");
	hello_mut(4, v00, 4, "version_min");
	hello_mut(4, v21, 4, "version_min is above");
	hello_mut(4, v23, 4, "include 4");
	hello_mut(4, v33, 4, "include 4"); /* version 3 speakers */
	hello_mut(40, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\x7f", 8, "acked_msn");
	hello_mut(24, role2, 4, "role");
	hello_mut(24, role_hi, 4, "role");
	hello_mut(28, reserved, 4, "reserved");
	hello_mut(8, empty, 1, "hvid is empty");
	hello_mut(8, full16, 16, "NUL terminated");
	hello_mut(8 + 7, pad, 2, "after its NUL");   /* "l0-host\0x" */
	hello_mut(8 + 15, badc, 1, "after its NUL"); /* the last padding byte */
	hello_mut(8 + 2, badc, 1, "[A-Za-z0-9._-]");
	hello_mut(8, space, 1, "[A-Za-z0-9._-]");
	hello_mut(8 + 6, high, 1, "[A-Za-z0-9._-]");
	/* A wider range that includes 1 is fine. */
	memcpy(b, hello_bytes, 56);
	memcpy(b + 4, v11, 4);
	copy = dup_exact(b, 56);
	CU_ASSERT_EQUAL(wire_parse_hello(copy, 56, &h, &why), 0);
	CU_ASSERT_EQUAL(h.version_max, 9);
	free(copy);
	/* A 15-byte hvid is fine, a role of 0 too. */
	memcpy(b + 8, "abcdefghijklmno", 16);
	b[24] = 0;
	copy = dup_exact(b, 56);
	CU_ASSERT_EQUAL(wire_parse_hello(copy, 56, &h, &why), 0);
	CU_ASSERT_STRING_EQUAL(h.hvid, "abcdefghijklmno");
	CU_ASSERT_EQUAL(h.role, WIRE_ROLE_INITIATOR);
	free(copy);
}

/* ---------------------------------------------------------------------------
 * DATA.
 */

static void test_data_layout(void)
{
	struct wire_data d = sample_data(), back;
	uint8_t *out = malloc(96), *f;
	const char *why = NULL;
	uint8_t payload[99];
	size_t total;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_data_header(out, 96, &d), 96);
	CU_ASSERT_EQUAL(memcmp(out, data_bytes, 96), 0);
	memcpy(payload, out, 96);
	memcpy(payload + 96, data_msg, 3);
	f = frame(WIRE_DATA, payload, 99, 42, &total);
	CU_ASSERT_EQUAL(total, 16 + 99);
	CU_ASSERT_EQUAL(wire_parse_data(f + 16, 99, &back, &why), 0);
	CU_ASSERT_EQUAL(back.msn, d.msn);
	CU_ASSERT_STRING_EQUAL(back.src.hvid, "l1-xen");
	CU_ASSERT_EQUAL(back.src.domid, 0x0102);
	CU_ASSERT_EQUAL(back.src.port, 0xA0B0C0D0u);
	CU_ASSERT_STRING_EQUAL(back.dst.hvid, "l0");
	CU_ASSERT_EQUAL(back.dst.domid, 5);
	CU_ASSERT_EQUAL(back.dst.port, 7000);
	CU_ASSERT_EQUAL(back.message_type, 0xDEADBEEFu);
	CU_ASSERT_EQUAL(back.flags, WIRE_DATA_ROUTED);
	CU_ASSERT_EQUAL(back.origin.epoch, d.origin.epoch);
	CU_ASSERT_EQUAL(back.origin.index, d.origin.index);
	CU_ASSERT_EQUAL(back.length, 3);
	CU_ASSERT_EQUAL(back.acked_msn, d.acked_msn);
	CU_ASSERT_EQUAL(back.credit, d.credit);
	CU_ASSERT_PTR_EQUAL(back.message, f + 16 + 96);
	free(f);
	free(out);
}

static void test_data_bounds(void)
{
	struct wire_data d = sample_data(), back;
	uint32_t maxlen = WIRE_DATA_HEADER_SIZE + WIRE_MAX_MESSAGE;
	uint8_t *big = calloc(1, (size_t)maxlen + 1), *out = malloc(96);
	const char *why = NULL;

	CU_ASSERT_FATAL(big && out);
	memcpy(big, data_bytes, 96);
	CU_ASSERT_EQUAL(wire_parse_data(big, maxlen, &back, &why), 0);
	CU_ASSERT_EQUAL(back.length, WIRE_MAX_MESSAGE);
	CHECK_BAD(wire_parse_data(big, maxlen + 1, &back, &why), why, "WIRE_MAX_MESSAGE");
	CU_ASSERT_EQUAL(wire_parse_data(big, 96, &back, &why), 0);
	CU_ASSERT_EQUAL(back.length, 0);
	CHECK_BAD(wire_parse_data(big, 95, &back, &why), why, "DATA length");
	CHECK_BAD(wire_parse_data(NULL, 0, &back, &why), why, "DATA length");
	/* Encoder. */
	d.length = WIRE_MAX_MESSAGE;
	CU_ASSERT_EQUAL(wire_put_data_header(out, 96, &d), 96);
	d.length = WIRE_MAX_MESSAGE + 1;
	CU_ASSERT_EQUAL(wire_put_data_header(out, 96, &d), -EMSGSIZE);
	d = sample_data();
	CU_ASSERT_EQUAL(wire_put_data_header(out, 95, &d), -EMSGSIZE);
	d.msn = 0;
	CU_ASSERT_EQUAL(wire_put_data_header(out, 96, &d), -EMSGSIZE);
	d = sample_data();
	strcpy(d.dst.hvid, "a b");
	CU_ASSERT_EQUAL(wire_put_data_header(out, 96, &d), -EMSGSIZE);
	d = sample_data();
	d.src.hvid[0] = 0;
	CU_ASSERT_EQUAL(wire_put_data_header(out, 96, &d), -EMSGSIZE);
	free(big);
	free(out);
}

static void data_mut(unsigned int off, uint8_t val, const char *word)
{
	uint8_t b[sizeof(data_bytes)];
	struct wire_data d;
	const char *why = NULL;
	uint8_t *copy;

	memcpy(b, data_bytes, sizeof(b));
	b[off] = val;
	copy = dup_exact(b, sizeof(b));
	CHECK_BAD(wire_parse_data(copy, sizeof(b), &d, &why), why, word);
	free(copy);
}

static void test_data_decoder_refuses(void)
{
	uint8_t b[sizeof(data_bytes)];
	struct wire_data d;
	const char *why = NULL;
	unsigned int i;

	/* msn 0 */
	memcpy(b, data_bytes, sizeof(b));
	memset(b, 0, 8);
	CHECK_BAD(wire_parse_data(b, sizeof(b), &d, &why), why, "msn");
	data_mut(60, 2, "DATA flags");
	for (i = 61; i < 64; i++)
		data_mut(i, 1, "DATA flags");
	for (i = 76; i < 80; i++)
		data_mut(i, 1, "DATA reserved");
	data_mut(26, 1, "src address reserved");
	data_mut(27, 0x80, "src address reserved");
	data_mut(50, 1, "dst address reserved");
	data_mut(51, 0xFF, "dst address reserved");
	data_mut(8, 0, "src hvid is empty");
	data_mut(32, 0, "dst hvid is empty");
	data_mut(8 + 15, 'x', "src hvid has non-zero");
	data_mut(32 + 3, 'x', "dst hvid has non-zero"); /* "l0\0x" */
	data_mut(8 + 1, '*', "src hvid has a byte");
	data_mut(32 + 1, 0x7F, "dst hvid has a byte");
	memcpy(b, data_bytes, sizeof(b));
	memcpy(b + 8, "0123456789abcdef", 16);
	CHECK_BAD(wire_parse_data(b, sizeof(b), &d, &why), why, "src hvid is not NUL");
	memcpy(b, data_bytes, sizeof(b));
	memcpy(b + 32, "0123456789abcdef", 16);
	CHECK_BAD(wire_parse_data(b, sizeof(b), &d, &why), why, "dst hvid is not NUL");
	/* Any message_type, domid and port are fine. */
	memcpy(b, data_bytes, sizeof(b));
	memset(b + 24, 0xFF, 2);
	memset(b + 28, 0xFF, 4);
	memset(b + 56, 0xFF, 4);
	CU_ASSERT_EQUAL(decode_reencode(WIRE_DATA, b, sizeof(b), &why), 0);
}

/* ---------------------------------------------------------------------------
 * ACK, PING/PONG.
 */

static void test_ack(void)
{
	uint8_t *out = malloc(16);
	struct wire_ack a;
	const char *why = NULL;
	size_t total;
	uint8_t *f;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_ack(out, 16, &ack_sample), 16);
	CU_ASSERT_EQUAL(memcmp(out, ack_bytes, 16), 0);
	CU_ASSERT_EQUAL(wire_parse_ack(out, 16, &a, &why), 0);
	CU_ASSERT_EQUAL(a.acked_msn, ack_sample.acked_msn);
	CU_ASSERT_EQUAL(a.credit, ack_sample.credit);
	CU_ASSERT_EQUAL(wire_put_ack(out, 15, &ack_sample), -EMSGSIZE);
	CHECK_BAD(wire_parse_ack(out, 15, &a, &why), why, "ACK length");
	CHECK_BAD(wire_parse_ack(out, 17, &a, &why), why, "ACK length");
	f = frame(WIRE_ACK, ack_bytes, 16, 3, &total);
	CU_ASSERT_EQUAL(total, 16 + 16);
	free(f);
	free(out);
}

static void test_ping(void)
{
	uint8_t *p = dup_exact(ping_bytes, 8);
	struct wire_header hdr;
	const char *why = NULL;
	uint64_t token = 0;
	size_t total;
	uint8_t *f;

	CU_ASSERT_EQUAL(wire_parse_ping(p, 8, &token, &why), 0);
	CU_ASSERT_EQUAL(token, 0x0123456789ABCDEFull);
	CHECK_BAD(wire_parse_ping(p, 7, &token, &why), why, "length");
	CHECK_BAD(wire_parse_ping(NULL, 0, &token, &why), why, "length");
	free(p);
	f = frame(WIRE_PONG, ping_bytes, 8, 1, &total);
	CU_ASSERT_EQUAL(parse_header_exact(f, total, &hdr, &why), 16 + 8);
	CU_ASSERT_EQUAL(hdr.type, WIRE_PONG);
	CU_ASSERT_EQUAL(hdr.seq, 1);
	free(f);
}

/* ---------------------------------------------------------------------------
 * ROUTES.
 */

static void test_routes_layout(void)
{
	uint8_t *out = malloc(sizeof(routes_bytes));
	struct wire_route r[WIRE_MAX_ROUTES];
	const char *why = NULL;
	uint32_t count = 99;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_routes(out, sizeof(routes_bytes), routes_sample, 2), 44);
	CU_ASSERT_EQUAL(memcmp(out, routes_bytes, 44), 0);
	CU_ASSERT_EQUAL(wire_parse_routes(out, 44, r, &count, &why), 0);
	CU_ASSERT_EQUAL(count, 2);
	CU_ASSERT_STRING_EQUAL(r[0].hvid, "a");
	CU_ASSERT_EQUAL(r[0].hops, 0);
	CU_ASSERT_STRING_EQUAL(r[1].hvid, "b.c_d-9");
	CU_ASSERT_EQUAL(r[1].hops, 15);
	CU_ASSERT_EQUAL(wire_put_routes(out, 43, routes_sample, 2), -EMSGSIZE);
	/* No routes at all. */
	CU_ASSERT_EQUAL(wire_put_routes(out, 4, NULL, 0), 4);
	CU_ASSERT_EQUAL(wire_parse_routes(out, 4, r, &count, &why), 0);
	CU_ASSERT_EQUAL(count, 0);
	free(out);
}

static void test_routes_max_and_hops(void)
{
	static struct wire_route in[WIRE_MAX_ROUTES + 1], back[WIRE_MAX_ROUTES];
	size_t cap = 4 + 20 * (WIRE_MAX_ROUTES + 1);
	uint8_t *out = malloc(cap);
	const char *why = NULL;
	uint32_t i, count = 0;

	CU_ASSERT_FATAL(out != NULL);
	for (i = 0; i <= WIRE_MAX_ROUTES; i++) {
		snprintf(in[i].hvid, sizeof(in[i].hvid), "hv%u", i);
		in[i].hops = (uint8_t)i; /* includes 16..255: encoded as is */
	}
	CU_ASSERT_EQUAL(wire_put_routes(out, cap, in, WIRE_MAX_ROUTES + 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(wire_put_routes(out, cap, in, WIRE_MAX_ROUTES), 4 + 20 * WIRE_MAX_ROUTES);
	CU_ASSERT_EQUAL(wire_parse_routes(out, 4 + 20 * WIRE_MAX_ROUTES, back, &count, &why), 0);
	CU_ASSERT_EQUAL(count, WIRE_MAX_ROUTES);
	for (i = 0; i < WIRE_MAX_ROUTES; i++)
		CHECKF(strcmp(back[i].hvid, in[i].hvid) == 0 && back[i].hops == (uint8_t)i,
		       "route %u\n", i);
	/* Hops above 15 are returned for the route table to ignore. */
	CU_ASSERT_EQUAL(back[16].hops, 16);
	CU_ASSERT_EQUAL(back[255].hops, 255);
	CU_ASSERT_EQUAL(decode_reencode(WIRE_ROUTES, out, 4 + 20 * WIRE_MAX_ROUTES, &why), 0);
	/* A bad hvid in the input: refused. */
	strcpy(in[7].hvid, "");
	CU_ASSERT_EQUAL(wire_put_routes(out, cap, in, 8), -EMSGSIZE);
	free(out);
}

static void routes_check_bad(const uint8_t *b, uint32_t len, const char *word)
{
	static struct wire_route r[WIRE_MAX_ROUTES];
	uint8_t *copy = dup_exact(b, len);
	const char *why = NULL;
	uint32_t count = 0;

	CHECK_BAD(wire_parse_routes(copy, len, r, &count, &why), why, word);
	free(copy);
}

static void test_routes_decoder_refuses(void)
{
	uint8_t b[sizeof(routes_bytes)];
	static uint8_t big[4 + 20 * 1025];

	memcpy(b, routes_bytes, sizeof(b));
	b[0] = 3; /* count above the entries */
	routes_check_bad(b, sizeof(b), "count does not match");
	b[0] = 1; /* count below the entries */
	routes_check_bad(b, sizeof(b), "count does not match");
	b[0] = 0;
	routes_check_bad(b, sizeof(b), "count does not match");
	b[0] = 2;
	b[3] = 0x80; /* huge count */
	routes_check_bad(b, sizeof(b), "WIRE_MAX_ROUTES");
	put_le(b, 1025, 4);
	routes_check_bad(b, sizeof(b), "WIRE_MAX_ROUTES");
	memcpy(b, routes_bytes, sizeof(b));
	routes_check_bad(b, sizeof(b) - 1, "4 + 20 * count");
	routes_check_bad(b, 3, "below 4");
	b[21] = 1;
	routes_check_bad(b, sizeof(b), "reserved");
	memcpy(b, routes_bytes, sizeof(b));
	b[43] = 1;
	routes_check_bad(b, sizeof(b), "reserved");
	memcpy(b, routes_bytes, sizeof(b));
	b[24] = 0;
	routes_check_bad(b, sizeof(b), "hvid is empty");
	memcpy(b, routes_bytes, sizeof(b));
	memcpy(b + 4, "0123456789ABCDEF", 16);
	routes_check_bad(b, sizeof(b), "hvid is not NUL");
	memcpy(b, routes_bytes, sizeof(b));
	b[4 + 10] = 'q';
	routes_check_bad(b, sizeof(b), "after its NUL");
	memcpy(b, routes_bytes, sizeof(b));
	b[24 + 3] = '!';
	routes_check_bad(b, sizeof(b), "byte outside");
	/* 1025 entries: beyond the length bound. */
	put_le(big, 1025, 4);
	routes_check_bad(big, sizeof(big), "above");
}

/* ---------------------------------------------------------------------------
 * UNDELIVERABLE.
 */

static void test_undeliverable(void)
{
	struct wire_undeliverable u = sample_undeliverable(), back;
	uint8_t *out = malloc(64);
	const char *why = NULL;
	uint8_t b[64];

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_undeliverable(out, 64, &u), 64);
	CU_ASSERT_EQUAL(memcmp(out, undeliverable_bytes, 64), 0);
	CU_ASSERT_EQUAL(wire_parse_undeliverable(out, 64, &back, &why), 0);
	CU_ASSERT_EQUAL(back.msn, 7);
	CU_ASSERT_STRING_EQUAL(back.src.hvid, "l1");
	CU_ASSERT_EQUAL(back.src.domid, 1);
	CU_ASSERT_EQUAL(back.src.port, 0x10);
	CU_ASSERT_STRING_EQUAL(back.dst.hvid, "nowhere");
	CU_ASSERT_EQUAL(back.dst.domid, 0x7FF4);
	CU_ASSERT_EQUAL(back.dst.port, 0x12345678u);
	CU_ASSERT_EQUAL(back.error, EHOSTUNREACH);
	CU_ASSERT_EQUAL(back.flags, WIRE_DATA_ROUTED);
	CU_ASSERT_EQUAL(wire_put_undeliverable(out, 63, &u), -EMSGSIZE);
	u.error = 0;
	CU_ASSERT_EQUAL(wire_put_undeliverable(out, 64, &u), -EMSGSIZE);
	u.error = 4096;
	CU_ASSERT_EQUAL(wire_put_undeliverable(out, 64, &u), -EMSGSIZE);
	u = sample_undeliverable();
	u.msn = 0;
	CU_ASSERT_EQUAL(wire_put_undeliverable(out, 64, &u), -EMSGSIZE);
	free(out);

	CHECK_BAD(wire_parse_undeliverable(undeliverable_bytes, 63, &back, &why), why, "length");
	CHECK_BAD(wire_parse_undeliverable(undeliverable_bytes, 65, &back, &why), why, "length");
	memcpy(b, undeliverable_bytes, 64);
	b[0] = 0;
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "msn");
	memcpy(b, undeliverable_bytes, 64);
	memset(b + 56, 0, 4);
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "error");
	put_le(b + 56, 4096, 4);
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "error");
	put_le(b + 56, 0x80000000u, 4); /* a negative errno */
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "error");
	put_le(b + 56, 4095, 4);
	CU_ASSERT_EQUAL(wire_parse_undeliverable(b, 64, &back, &why), 0);
	memcpy(b, undeliverable_bytes, 64);
	b[26] = 1;
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "src address reserved");
	memcpy(b, undeliverable_bytes, 64);
	b[51] = 1;
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "dst address reserved");
	memcpy(b, undeliverable_bytes, 64);
	b[8] = 0;
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "src hvid is empty");
	memcpy(b, undeliverable_bytes, 64);
	b[32 + 15] = 'x';
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "dst hvid has non-zero");
	memcpy(b, undeliverable_bytes, 64);
	b[32] = '#';
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "dst hvid has a byte");
	memcpy(b, undeliverable_bytes, 64);
	b[60] = 2;
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "flags");
	memcpy(b, undeliverable_bytes, 64);
	b[63] = 0x80;
	CHECK_BAD(wire_parse_undeliverable(b, 64, &back, &why), why, "flags");
}

/* ---------------------------------------------------------------------------
 * CLOSE.
 */

static void test_close(void)
{
	char text[WIRE_CLOSE_TEXT_MAX + 2];
	uint8_t *out = malloc(4 + 128);
	struct wire_close c;
	const char *why = NULL;
	uint8_t b[4 + 128];

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(wire_put_close(out, 16, 3, "auth failure"), 16);
	CU_ASSERT_EQUAL(memcmp(out, close_bytes, 16), 0);
	CU_ASSERT_EQUAL(wire_parse_close(out, 16, &c, &why), 0);
	CU_ASSERT_EQUAL(c.reason, 3);
	CU_ASSERT_STRING_EQUAL(c.text, "auth failure");
	CU_ASSERT_EQUAL(wire_put_close(out, 15, 3, "auth failure"), -EMSGSIZE);
	/* Empty and NULL text. */
	CU_ASSERT_EQUAL(wire_put_close(out, 4, 1, ""), 4);
	CU_ASSERT_EQUAL(wire_put_close(out, 4, 1, NULL), 4);
	CU_ASSERT_EQUAL(wire_parse_close(out, 4, &c, &why), 0);
	CU_ASSERT_EQUAL(c.reason, 1);
	CU_ASSERT_STRING_EQUAL(c.text, "");
	/* 128 bytes of text fit, 129 do not. */
	memset(text, '~', sizeof(text));
	text[128] = '\0';
	CU_ASSERT_EQUAL(wire_put_close(out, 132, 0xFFFFFFFFu, text), 132);
	CU_ASSERT_EQUAL(wire_parse_close(out, 132, &c, &why), 0);
	CU_ASSERT_EQUAL(strlen(c.text), 128);
	CU_ASSERT_EQUAL(c.reason, 0xFFFFFFFFu);
	text[128] = '~';
	text[129] = '\0';
	CU_ASSERT_EQUAL(wire_put_close(out, 132, 1, text), -EMSGSIZE);
	CU_ASSERT_EQUAL(wire_put_close(out, 132, 1, "line\nbreak"), -EMSGSIZE);
	CU_ASSERT_EQUAL(wire_put_close(out, 132, 1, "caf\xc3\xa9"), -EMSGSIZE);
	free(out);

	memset(b, 'x', sizeof(b));
	memset(b, 0, 4);
	CHECK_BAD(wire_parse_close(b, 3, &c, &why), why, "below 4");
	CHECK_BAD(wire_parse_close(b, 133, &c, &why), why, "128");
	b[10] = '\0';
	CHECK_BAD(wire_parse_close(b, 20, &c, &why), why, "printable");
	b[10] = '\n';
	CHECK_BAD(wire_parse_close(b, 20, &c, &why), why, "printable");
	b[10] = 0x1B;
	CHECK_BAD(wire_parse_close(b, 20, &c, &why), why, "printable");
	b[10] = 0x7F;
	CHECK_BAD(wire_parse_close(b, 20, &c, &why), why, "printable");
	b[10] = 0x80;
	CHECK_BAD(wire_parse_close(b, 20, &c, &why), why, "printable");
	b[10] = ' ';
	CU_ASSERT_EQUAL(wire_parse_close(b, 20, &c, &why), 0);
}

/* ---------------------------------------------------------------------------
 * A stream of frames back to back, as a link reads them.
 */

static void test_stream(void)
{
	uint8_t stream[1024];
	size_t off = 0, i, n = 0;
	const struct sample *order[NSAMPLES];

	for (i = 0; i < NSAMPLES; i++) {
		size_t total;
		uint8_t *f =
		    frame(samples[i].type, samples[i].payload, samples[i].len, i + 1, &total);

		CU_ASSERT_FATAL(off + total <= sizeof(stream));
		memcpy(stream + off, f, total);
		off += total;
		order[i] = &samples[i];
		free(f);
	}
	for (i = 0; i < off;) {
		struct wire_header hdr;
		const char *why;
		int64_t rc = parse_header_exact(stream + i, off - i, &hdr, &why);

		CU_ASSERT_FATAL(rc > 0 && (size_t)rc <= off - i);
		CHECKF(hdr.type == order[n]->type && hdr.length == order[n]->len, "frame %zu\n", n);
		CU_ASSERT_EQUAL(decode_reencode(hdr.type, stream + i + 16, hdr.length, &why), 0);
		i += (size_t)rc;
		n++;
	}
	CU_ASSERT_EQUAL(n, NSAMPLES);
}

/* ---------------------------------------------------------------------------
 * The fuzzer's seed corpus.
 */

static int write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* One frame of each of a leaf endpoint's types (leaf_wire.h), and a leaf's
 * session back to back (after its HELLO), for fuzz-wire's leaf payloads. */
static int write_leaf_frame(const char *dir, const char *name, uint8_t type, const uint8_t *p,
                            size_t n, uint64_t seq, uint8_t *stream, size_t *off)
{
	size_t total;
	uint8_t *f = frame_build(type, p, (uint32_t)n, seq, &total);
	int rc;

	if (!f)
		return -1;
	rc = write_file(dir, name, f, total);
	memcpy(stream + *off, f, total);
	*off += total;
	free(f);
	return rc;
}

static int write_leaf_corpus(const char *dir, int rc)
{
	static uint8_t stream[4096];
	static const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	const struct leaf_ring_state rings[2] = {
	    {.id = 1,
	     .aport = 7000,
	     .partner_id = XEN_ARGO_DOMID_ANY,
	     .flags = LEAF_RING_REGISTERED,
	     .len = 4096,
	     .tx = 64,
	     .rx = 32},
	    {.id = 2, .aport = 7001, .partner_id = 5, .flags = 0, .len = 8192, .tx = 0, .rx = 0},
	};
	struct leaf_welcome w = {.status = 0, .domid = 7, .flags = LEAF_WELCOME_RESUMED};
	struct leaf_request r;
	struct leaf_reply rep = {.id = 18, .ret = 0, .nent = 1};
	struct leaf_ring_bytes rb = {
	    .ring_id = 1, .offset = 64, .flags = LEAF_RING_PUBLISH, .tx = 72, .n = sizeof(bytes)};
	xen_argo_ring_data_ent_t ent = {.ring = {.aport = 7000, .domain_id = 5},
	                                .space_required = 100};
	uint8_t p[512];
	size_t off = 0;
	uint64_t seq = 2; /* after the HELLO */
	int n;

	n = leaf_put_attach(p, sizeof(p), 0x1234567890abcdefull, rings, 2);
	rc |= n < 0 || write_leaf_frame(dir, "leaf-attach.bin", WIRE_LEAF_ATTACH, p, (size_t)n,
	                                seq++, stream, &off);
	n = leaf_put_welcome(p, sizeof(p), &w);
	rc |= n < 0 || write_leaf_frame(dir, "leaf-welcome.bin", WIRE_LEAF_WELCOME, p, (size_t)n,
	                                seq++, stream, &off);
	memset(&r, 0, sizeof(r));
	r.id = 17;
	r.op = LEAF_OP_REGISTER;
	r.u.reg.ring_id = 3;
	r.u.reg.reg.aport = 7002;
	r.u.reg.reg.partner_id = XEN_ARGO_DOMID_ANY;
	r.u.reg.reg.len = 4096;
	n = leaf_put_request(p, sizeof(p), &r);
	rc |= n < 0 || write_leaf_frame(dir, "leaf-register.bin", WIRE_LEAF_REQUEST, p, (size_t)n,
	                                seq++, stream, &off);
	memset(&r, 0, sizeof(r));
	r.id = 18;
	r.op = LEAF_OP_SENDV;
	r.u.send.addr.src.aport = 7000;
	r.u.send.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	r.u.send.addr.dst.aport = 7100;
	r.u.send.addr.dst.domain_id = 5;
	r.u.send.niov = 2;
	r.u.send.has_data = true;
	r.u.send.lens[0] = 3;
	r.u.send.lens[1] = 5;
	n = leaf_put_request(p, sizeof(p) - sizeof(bytes), &r);
	if (n >= 0) {
		memcpy(p + n, bytes, sizeof(bytes));
		n += (int)sizeof(bytes);
	}
	rc |= n < 0 || write_leaf_frame(dir, "leaf-sendv.bin", WIRE_LEAF_REQUEST, p, (size_t)n,
	                                seq++, stream, &off);
	memset(&r, 0, sizeof(r));
	r.id = 19;
	r.op = LEAF_OP_NOTIFY;
	r.u.notify.has_ring_data = true;
	r.u.notify.nent = 1;
	n = leaf_put_request(p, sizeof(p) - LEAF_NOTIFY_ENT, &r);
	if (n >= 0) {
		leaf_put_notify_ent(p + n, &ent);
		n += (int)LEAF_NOTIFY_ENT;
	}
	rc |= n < 0 || write_leaf_frame(dir, "leaf-notify.bin", WIRE_LEAF_REQUEST, p, (size_t)n,
	                                seq++, stream, &off);
	n = leaf_put_reply(p, sizeof(p) - LEAF_REPLY_ENT_SIZE, &rep);
	if (n >= 0) {
		leaf_put_reply_ent(p + n, XEN_ARGO_RING_EXISTS, 4000);
		n += (int)LEAF_REPLY_ENT_SIZE;
	}
	rc |= n < 0 || write_leaf_frame(dir, "leaf-reply.bin", WIRE_LEAF_REPLY, p, (size_t)n, seq++,
	                                stream, &off);
	n = leaf_put_ring(p, &rb);
	if (n >= 0) {
		memcpy(p + n, bytes, sizeof(bytes));
		n += (int)sizeof(bytes);
	}
	rc |= n < 0 || write_leaf_frame(dir, "leaf-ring.bin", WIRE_LEAF_RING, p, (size_t)n, seq++,
	                                stream, &off);
	rc |= write_leaf_frame(dir, "leaf-event.bin", WIRE_LEAF_EVENT, p, 0, seq++, stream, &off);
	n = leaf_put_rx(p, 2);
	if (n >= 0) {
		leaf_put_rx_ent(p + n, 1, 72);
		leaf_put_rx_ent(p + n + LEAF_RX_ENT_SIZE, 2, 0);
		n += 2 * (int)LEAF_RX_ENT_SIZE;
	}
	rc |= n < 0 ||
	      write_leaf_frame(dir, "leaf-rx.bin", WIRE_LEAF_RX, p, (size_t)n, seq++, stream, &off);
	rc |= write_file(dir, "leaf-stream.bin", stream, off);
	return rc ? 1 : 0;
}

static int write_corpus(const char *dir)
{
	static uint8_t stream[4096];
	size_t off = 0, i;
	int rc = 0;

	init_samples();
	for (i = 0; i < NSAMPLES; i++) {
		size_t total;
		uint8_t *f =
		    frame_build(samples[i].type, samples[i].payload, samples[i].len, i + 1, &total);
		char name[64];

		if (!f)
			return 1;
		snprintf(name, sizeof(name), "%s.bin", samples[i].name);
		rc |= write_file(dir, name, f, total);
		memcpy(stream + off, f, total);
		off += total;
		free(f);
	}
	/* All of them back to back, as on a link. */
	rc |= write_file(dir, "stream.bin", stream, off);
	/* A ROUTES frame with a few more entries, one with hops 16. */
	{
		struct wire_route r[5] = {
		    {"l0", 0}, {"l1-a", 1}, {"l1-b", 2}, {"far.x", 15}, {"gone", 16}};
		uint8_t p[4 + 5 * 20];
		size_t total;
		uint8_t *f;

		if (wire_put_routes(p, sizeof(p), r, 5) != (int)sizeof(p))
			return 1;
		f = frame_build(WIRE_ROUTES, p, sizeof(p), 2, &total);
		if (!f)
			return 1;
		rc |= write_file(dir, "routes5.bin", f, total);
		free(f);
	}
	return write_leaf_corpus(dir, rc);
}

/* ---------------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
	static const struct test_def header[] = {
	    T(test_hvid_valid),        T(test_header_layout), T(test_header_lengths),
	    T(test_header_bad_fields), T(test_header_short),  T(test_truncated_everywhere),
	    T(test_every_bit_flip),    T(test_stream),
	};
	static const struct test_def types[] = {
	    T(test_hello_layout),
	    T(test_hello_encoder_refuses),
	    T(test_hello_decoder_refuses),
	    T(test_data_layout),
	    T(test_data_bounds),
	    T(test_data_decoder_refuses),
	    T(test_ack),
	    T(test_ping),
	    T(test_routes_layout),
	    T(test_routes_max_and_hops),
	    T(test_routes_decoder_refuses),
	    T(test_undeliverable),
	    T(test_close),
	};
	static const struct suite_def suites[] = {
	    SUITE("wire header", header),
	    SUITE("wire types", types),
	};

	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	init_samples();
	return cunit_main(suites, N(suites));
}
