/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of a leaf endpoint's pieces that need no relay: the payload
 * codec of its frames (common/link/leaf_wire.c) against the layouts of
 * docs/protocol.md, "Leaf endpoints" (exact bytes written here by hand,
 * round trips, every refusal), the header bounds of the leaf frame types
 * (wire.c), and the `link:` URI (common/libargo/link_uri.c).
 *
 * Decoder inputs are heap copies of exactly the bytes given, so ASan sees
 * any read past them.
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
#include "link_uri.h"
#include "wire.h"
#include "../cunit_main.h"

/* A heap copy of n bytes (at least 1 allocated). */
static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (n)
		memcpy(d, p, n);
	return d;
}

#define BAD(rc, why, word)                                                                         \
	CU_ASSERT((rc) == -EBADMSG && (why) != NULL && strstr((why), (word)) != NULL)

/* ---- LEAF_ATTACH --------------------------------------------------------- */

static void test_attach_layout(void)
{
	static const uint8_t want[16 + 24] = {
	    /* boot */ 0x08,    0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	    /* nrings */ 1,     0,    0,    0,
	    /* reserved */ 0,   0,    0,    0,
	    /* id */ 0x2a,      0,    0,    0,
	    /* aport */ 0x58,   0x1b, 0,    0,
	    /* partner */ 0x05, 0x00,
	    /* flags */ 0x01,   0x00,
	    /* len */ 0x00,     0x01, 0,    0,
	    /* tx */ 0x40,      0,    0,    0,
	    /* rx */ 0x20,      0,    0,    0,
	};
	struct leaf_ring_state in = {.id = 42,
	                             .aport = 7000,
	                             .partner_id = 5,
	                             .flags = LEAF_RING_REGISTERED,
	                             .len = 256,
	                             .tx = 64,
	                             .rx = 32};
	struct leaf_ring_state out;
	struct leaf_attach a;
	uint8_t buf[64], *copy;
	const char *why = NULL;
	int n = leaf_put_attach(buf, sizeof(buf), 0x0102030405060708ull, &in, 1);

	CU_ASSERT_EQUAL(n, 40);
	CU_ASSERT(memcmp(buf, want, sizeof(want)) == 0);
	copy = dup_bytes(want, sizeof(want));
	CU_ASSERT_EQUAL(leaf_parse_attach(copy, sizeof(want), &a, &why), 0);
	CU_ASSERT_EQUAL(a.boot, 0x0102030405060708ull);
	CU_ASSERT_EQUAL(a.nrings, 1);
	CU_ASSERT_EQUAL(leaf_get_ring_state(&a, 0, &out, &why), 0);
	CU_ASSERT(out.id == 42 && out.aport == 7000 && out.partner_id == 5 &&
	          out.flags == LEAF_RING_REGISTERED && out.len == 256 && out.tx == 64 &&
	          out.rx == 32);
	free(copy);
}

static void test_attach_refused(void)
{
	struct leaf_ring_state r = {.id = 1, .len = 256};
	struct leaf_ring_state s;
	struct leaf_attach a;
	uint8_t buf[64], *copy;
	const char *why;

	/* Encoder: what the decoder would refuse. */
	CU_ASSERT_EQUAL(leaf_put_attach(buf, sizeof(buf), 0, &r, 1), -EMSGSIZE);
	r.tx = 256;
	CU_ASSERT_EQUAL(leaf_put_attach(buf, sizeof(buf), 1, &r, 1), -EMSGSIZE);
	r.tx = 8;
	CU_ASSERT_EQUAL(leaf_put_attach(buf, sizeof(buf), 1, &r, 1), -EMSGSIZE);
	r.tx = 0;
	r.len = 40;
	CU_ASSERT_EQUAL(leaf_put_attach(buf, sizeof(buf), 1, &r, 1), -EMSGSIZE);
	r.len = 256;
	CU_ASSERT_EQUAL(leaf_put_attach(buf, 39, 1, &r, 1), -EMSGSIZE);

	CU_ASSERT_EQUAL(leaf_put_attach(buf, sizeof(buf), 1, &r, 1), 40);
	copy = dup_bytes(buf, 40);
	why = NULL;
	BAD(leaf_parse_attach(copy, 39, &a, &why), why, "16 + 24");
	why = NULL;
	BAD(leaf_parse_attach(copy, 15, &a, &why), why, "16 + 24");
	copy[8] = 2; /* count 2, one entry */
	why = NULL;
	BAD(leaf_parse_attach(copy, 40, &a, &why), why, "count");
	copy[8] = 1;
	copy[12] = 1;
	why = NULL;
	BAD(leaf_parse_attach(copy, 40, &a, &why), why, "reserved");
	copy[12] = 0;
	copy[26] = 2; /* an unknown ring flag */
	CU_ASSERT_EQUAL(leaf_parse_attach(copy, 40, &a, &why), 0);
	why = NULL;
	BAD(leaf_get_ring_state(&a, 0, &s, &why), why, "flags");
	copy[26] = 0;
	copy[32] = 0x18; /* tx 24: not a slot */
	why = NULL;
	BAD(leaf_get_ring_state(&a, 0, &s, &why), why, "slot");
	copy[32] = 0;
	memset(copy, 0, 8); /* boot 0 */
	why = NULL;
	BAD(leaf_parse_attach(copy, 40, &a, &why), why, "boot");
	free(copy);
}

/* ---- LEAF_WELCOME -------------------------------------------------------- */

static void test_welcome(void)
{
	static const uint8_t want[16] = {0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	struct leaf_welcome w = {.status = 0, .domid = 7, .flags = LEAF_WELCOME_RESUMED}, got;
	uint8_t buf[16], *copy;
	const char *why = NULL;

	CU_ASSERT_EQUAL(leaf_put_welcome(buf, sizeof(buf), &w), 16);
	CU_ASSERT(memcmp(buf, want, 16) == 0);
	copy = dup_bytes(buf, 16);
	CU_ASSERT_EQUAL(leaf_parse_welcome(copy, 16, &got, &why), 0);
	CU_ASSERT(got.status == 0 && got.domid == 7 && got.flags == LEAF_WELCOME_RESUMED);
	copy[8] = 2;
	why = NULL;
	BAD(leaf_parse_welcome(copy, 16, &got, &why), why, "flags");
	copy[8] = 0;
	copy[0] = 5; /* a positive status */
	why = NULL;
	BAD(leaf_parse_welcome(copy, 16, &got, &why), why, "status");
	/* A refusal carries no domid. */
	w.status = -ENODEV;
	CU_ASSERT_EQUAL(leaf_put_welcome(buf, sizeof(buf), &w), 16);
	CU_ASSERT_EQUAL(buf[4], 0);
	memcpy(copy, buf, 16);
	CU_ASSERT_EQUAL(leaf_parse_welcome(copy, 16, &got, &why), 0);
	CU_ASSERT_EQUAL(got.status, -ENODEV);
	copy[4] = 7;
	why = NULL;
	BAD(leaf_parse_welcome(copy, 16, &got, &why), why, "domid");
	w.status = 0;
	w.domid = XEN_DOMID_FIRST_RESERVED;
	CU_ASSERT_EQUAL(leaf_put_welcome(buf, sizeof(buf), &w), -EMSGSIZE);
	free(copy);
}

/* ---- LEAF_REQUEST -------------------------------------------------------- */

static void test_request_register(void)
{
	static const uint8_t want[36] = {
	    /* id */ 9,         0,    0, 0, 0, 0, 0, 0,
	    /* op */ 1,         0,    0, 0,
	    /* reserved */ 0,   0,    0, 0,
	    /* ring id */ 3,    0,    0, 0,
	    /* aport */ 0x58,   0x1b, 0, 0,
	    /* partner */ 0xf4, 0x7f,
	    /* pad */ 0x34,     0x12,
	    /* len */ 0x00,     0x01, 0, 0,
	    /* flags */ 1,      0,    0, 0,
	};
	struct leaf_request r = {.id = 9, .op = LEAF_OP_REGISTER}, got;
	uint8_t buf[64], *copy;
	const char *why = NULL;

	r.u.reg.ring_id = 3;
	r.u.reg.reg = (xen_argo_register_ring_t){
	    .aport = 7000, .partner_id = XEN_ARGO_DOMID_ANY, .pad = 0x1234, .len = 256};
	r.u.reg.flags = 1;
	CU_ASSERT_EQUAL(leaf_put_request(buf, sizeof(buf), &r), 36);
	CU_ASSERT(memcmp(buf, want, 36) == 0);
	copy = dup_bytes(buf, 36);
	CU_ASSERT_EQUAL(leaf_parse_request(copy, 36, &got, &why), 0);
	CU_ASSERT(got.id == 9 && got.op == LEAF_OP_REGISTER && got.u.reg.ring_id == 3 &&
	          got.u.reg.reg.aport == 7000 && got.u.reg.reg.partner_id == XEN_ARGO_DOMID_ANY &&
	          got.u.reg.reg.pad == 0x1234 && got.u.reg.reg.len == 256 && got.u.reg.flags == 1);
	why = NULL;
	BAD(leaf_parse_request(copy, 35, &got, &why), why, "36");
	copy[16] = 0; /* ring id 0 */
	why = NULL;
	BAD(leaf_parse_request(copy, 36, &got, &why), why, "ring id");
	copy[16] = 3;
	copy[8] = 77; /* an unknown op */
	why = NULL;
	BAD(leaf_parse_request(copy, 36, &got, &why), why, "op");
	copy[8] = 1;
	memset(copy, 0, 8);
	why = NULL;
	BAD(leaf_parse_request(copy, 36, &got, &why), why, "id");
	free(copy);
}

/* A sendv request with its payload, as the leaf builds it. */
static size_t build_sendv(uint8_t *buf, size_t cap, uint32_t niov, const uint64_t *lens,
                          bool with_data)
{
	struct leaf_request r = {.id = 5, .op = LEAF_OP_SENDV};
	uint64_t total = 0;
	uint32_t i;
	int n;

	r.u.send.addr.src = (xen_argo_addr_t){.aport = 1, .domain_id = XEN_ARGO_DOMID_ANY};
	r.u.send.addr.dst = (xen_argo_addr_t){.aport = 7000, .domain_id = 5};
	r.u.send.niov = niov;
	r.u.send.message_type = 0xA5A5;
	for (i = 0; i < niov && i < XEN_ARGO_MAXIOV; i++) {
		r.u.send.lens[i] = lens[i];
		total += lens[i];
	}
	r.u.send.has_data = with_data;
	n = leaf_put_request(buf, cap, &r);
	if (n < 0)
		return 0;
	if (with_data)
		memset(buf + n, 0x5a, total);
	return (size_t)n + (with_data ? total : 0);
}

static void test_request_sendv(void)
{
	uint64_t lens[9] = {3, 0, 5};
	static uint8_t buf[128];
	struct leaf_request got;
	uint8_t *copy;
	const char *why = NULL;
	size_t n = build_sendv(buf, sizeof(buf), 3, lens, true);

	CU_ASSERT_EQUAL(n, 16 + 32 + 24 + 8);
	CU_ASSERT_EQUAL(buf[40], 1); /* has_data */
	copy = dup_bytes(buf, n);
	CU_ASSERT_EQUAL(leaf_parse_request(copy, (uint32_t)n, &got, &why), 0);
	CU_ASSERT(got.u.send.niov == 3 && got.u.send.has_data && got.u.send.data_len == 8 &&
	          got.u.send.lens[0] == 3 && got.u.send.lens[2] == 5 &&
	          got.u.send.addr.dst.domain_id == 5 && got.u.send.addr.src.aport == 1 &&
	          got.u.send.message_type == 0xA5A5 && got.u.send.data == copy + n - 8);
	why = NULL;
	BAD(leaf_parse_request(copy, (uint32_t)n - 1, &got, &why), why, "payload");
	free(copy);

	/* Without its payload where Xen could take it: refused both ways. */
	CU_ASSERT_EQUAL(build_sendv(buf, sizeof(buf), 3, lens, false), 0);
	/* More than Xen takes: lengths alone. */
	lens[0] = LEAF_MAX_MESSAGE;
	lens[2] = 1;
	n = build_sendv(buf, sizeof(buf), 3, lens, false);
	CU_ASSERT_EQUAL(n, 16 + 32 + 24);
	copy = dup_bytes(buf, n);
	CU_ASSERT_EQUAL(leaf_parse_request(copy, (uint32_t)n, &got, &why), 0);
	CU_ASSERT(!got.u.send.has_data && got.u.send.data == NULL && got.u.send.data_len == 0);
	copy[40] = 1; /* claims its payload: there is none (nor could there be) */
	why = NULL;
	BAD(leaf_parse_request(copy, (uint32_t)n, &got, &why), why, "exactly");
	free(copy);
	/* Lengths that overflow 64 bits add up to "too many", not to a wrap. */
	lens[0] = UINT64_MAX;
	lens[1] = 2;
	n = build_sendv(buf, sizeof(buf), 2, lens, false);
	copy = dup_bytes(buf, n);
	CU_ASSERT_EQUAL(leaf_parse_request(copy, (uint32_t)n, &got, &why), 0);
	CU_ASSERT(!got.u.send.has_data);
	free(copy);
	/* Nine iovs: the count alone. */
	n = build_sendv(buf, sizeof(buf), 9, lens, false);
	CU_ASSERT_EQUAL(n, 16 + 32);
	copy = dup_bytes(buf, n);
	CU_ASSERT_EQUAL(leaf_parse_request(copy, (uint32_t)n, &got, &why), 0);
	CU_ASSERT(got.u.send.niov == 9 && !got.u.send.has_data);
	why = NULL;
	BAD(leaf_parse_request(copy, (uint32_t)n - 1, &got, &why), why, "fixed");
	free(copy);
}

static void test_request_notify(void)
{
	struct leaf_request r = {.id = 2, .op = LEAF_OP_NOTIFY}, got;
	xen_argo_ring_data_ent_t e = {.ring = {.aport = 9, .domain_id = 3, .pad = 0},
	                              .flags = 0xFFFF,
	                              .space_required = 100,
	                              .max_message_size = 0x5EEDF00D},
	                         back;
	uint8_t buf[16 + 16 + 2 * LEAF_NOTIFY_ENT], *copy;
	const char *why = NULL;
	int n;

	r.u.notify.has_ring_data = true;
	r.u.notify.nent = 2;
	n = leaf_put_request(buf, sizeof(buf), &r);
	CU_ASSERT_EQUAL(n, 32);
	leaf_put_notify_ent(buf + 32, &e);
	leaf_put_notify_ent(buf + 32 + LEAF_NOTIFY_ENT, &e);
	copy = dup_bytes(buf, sizeof(buf));
	CU_ASSERT_EQUAL(leaf_parse_request(copy, sizeof(buf), &got, &why), 0);
	CU_ASSERT(got.u.notify.has_ring_data && got.u.notify.nent == 2);
	leaf_get_notify_ent(got.u.notify.ents, 1, &back);
	CU_ASSERT(memcmp(&back, &e, sizeof(e)) == 0);
	why = NULL;
	BAD(leaf_parse_request(copy, sizeof(buf) - 1, &got, &why), why, "entries");
	free(copy);
	/* A count Xen refuses travels alone; a NULL ring_data has none. */
	r.u.notify.nent = 257;
	CU_ASSERT_EQUAL(leaf_put_request(buf, sizeof(buf), &r), 32);
	copy = dup_bytes(buf, 32);
	CU_ASSERT_EQUAL(leaf_parse_request(copy, 32, &got, &why), 0);
	CU_ASSERT_EQUAL(got.u.notify.nent, 257);
	free(copy);
	r.u.notify.has_ring_data = false;
	CU_ASSERT_EQUAL(leaf_put_request(buf, sizeof(buf), &r), -EMSGSIZE);
	r.u.notify.nent = 0;
	CU_ASSERT_EQUAL(leaf_put_request(buf, sizeof(buf), &r), 32);
}

/* ---- LEAF_REPLY, LEAF_RING, LEAF_RX --------------------------------------- */

static void test_reply(void)
{
	struct leaf_reply r = {.id = 0x1122334455667788ull, .ret = -EAGAIN, .nent = 1}, got;
	uint8_t buf[24], *copy;
	const char *why = NULL;
	uint16_t flags;
	uint32_t max;

	CU_ASSERT_EQUAL(leaf_put_reply(buf, sizeof(buf), &r), 16);
	leaf_put_reply_ent(buf + 16, 0x0009, 224);
	CU_ASSERT_EQUAL(buf[8], (uint8_t)-EAGAIN);
	CU_ASSERT_EQUAL(buf[11], 0xff);
	copy = dup_bytes(buf, 24);
	CU_ASSERT_EQUAL(leaf_parse_reply(copy, 24, &got, &why), 0);
	CU_ASSERT(got.id == r.id && got.ret == -EAGAIN && got.nent == 1);
	leaf_get_reply_ent(got.ents, 0, &flags, &max);
	CU_ASSERT(flags == 9 && max == 224);
	copy[18] = 1;
	why = NULL;
	BAD(leaf_parse_reply(copy, 24, &got, &why), why, "padding");
	why = NULL;
	BAD(leaf_parse_reply(copy, 20, &got, &why), why, "8 * entries");
	free(copy);
	r.ret = -5000;
	CU_ASSERT_EQUAL(leaf_put_reply(buf, sizeof(buf), &r), -EMSGSIZE);
}

static void test_ring(void)
{
	struct leaf_ring_bytes rb = {.ring_id = 4,
	                             .offset = 240,
	                             .flags = LEAF_RING_PUBLISH,
	                             .tx = 16,
	                             .n = 32},
	                       got;
	uint8_t buf[16 + 32], *copy;
	const char *why = NULL;

	CU_ASSERT_EQUAL(leaf_put_ring(buf, &rb), 16);
	memset(buf + 16, 0x77, 32);
	copy = dup_bytes(buf, sizeof(buf));
	CU_ASSERT_EQUAL(leaf_parse_ring(copy, sizeof(buf), &got, &why), 0);
	CU_ASSERT(got.ring_id == 4 && got.offset == 240 && got.flags == LEAF_RING_PUBLISH &&
	          got.tx == 16 && got.n == 32 && got.bytes == copy + 16);
	copy[8] = 0; /* no PUBLISH, but a tx */
	why = NULL;
	BAD(leaf_parse_ring(copy, sizeof(buf), &got, &why), why, "PUBLISH");
	copy[8] = 3;
	why = NULL;
	BAD(leaf_parse_ring(copy, sizeof(buf), &got, &why), why, "flags");
	free(copy);
	rb.n = LEAF_RING_CHUNK + 1;
	CU_ASSERT_EQUAL(leaf_put_ring(buf, &rb), -EMSGSIZE);
	/* A PUBLISH with no bytes is well formed (it publishes what came before). */
	rb.n = 0;
	CU_ASSERT_EQUAL(leaf_put_ring(buf, &rb), 16);
	rb.flags = 0;
	rb.tx = 0;
	CU_ASSERT_EQUAL(leaf_put_ring(buf, &rb), -EMSGSIZE);
}

static void test_rx(void)
{
	uint8_t buf[8 + 16], *copy;
	const uint8_t *ents;
	const char *why = NULL;
	uint32_t n, id, rx;

	CU_ASSERT_EQUAL(leaf_put_rx(buf, 2), 8);
	leaf_put_rx_ent(buf + 8, 1, 64);
	leaf_put_rx_ent(buf + 16, 3, 4096);
	copy = dup_bytes(buf, sizeof(buf));
	CU_ASSERT_EQUAL(leaf_parse_rx(copy, sizeof(buf), &n, &ents, &why), 0);
	CU_ASSERT_EQUAL(n, 2);
	leaf_get_rx_ent(ents, 1, &id, &rx);
	CU_ASSERT(id == 3 && rx == 4096);
	why = NULL;
	BAD(leaf_parse_rx(copy, 16, &n, &ents, &why), why, "count");
	why = NULL;
	BAD(leaf_parse_rx(copy, 20, &n, &ents, &why), why, "8 + 8");
	free(copy);
}

/* The frame header applies each leaf type's length bounds. */
static void test_header_bounds(void)
{
	static const struct {
		uint8_t type;
		uint32_t min, max, step;
	} b[] = {
	    {WIRE_LEAF_ATTACH, 16, LEAF_ATTACH_MAX, 24},
	    {WIRE_LEAF_WELCOME, 16, 16, 1},
	    {WIRE_LEAF_REQUEST, 16, LEAF_REQUEST_MAX, 1},
	    {WIRE_LEAF_REPLY, 16, LEAF_REPLY_MAX, 8},
	    {WIRE_LEAF_RING, 16, LEAF_RING_MAX, 1},
	    {WIRE_LEAF_EVENT, 0, 0, 1},
	    {WIRE_LEAF_RX, 8, LEAF_RX_MAX, 8},
	};
	uint8_t h[16];
	struct wire_header hdr;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		wire_put_header(h, b[i].type, b[i].min, 1);
		CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, &why), 16 + b[i].min);
		wire_put_header(h, b[i].type, b[i].max, 1);
		CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, &why), 16 + b[i].max);
		wire_put_header(h, b[i].type, b[i].max + 1, 1);
		CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, &why), -EBADMSG);
		if (b[i].min) {
			wire_put_header(h, b[i].type, b[i].min - 1, 1);
			CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, &why), -EBADMSG);
		}
		if (b[i].step > 1) {
			wire_put_header(h, b[i].type, b[i].min + b[i].step - 1, 1);
			CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, &why), -EBADMSG);
		}
	}
	wire_put_header(h, WIRE_LEAF_RX + 1, 8, 1);
	CU_ASSERT_EQUAL(wire_parse_header(h, 16, &hdr, &why), -EBADMSG);
}

/* ---- The link: URI --------------------------------------------------------- */

static void test_uri_good(void)
{
	struct link_uri u;
	const char *why = NULL;

	CU_ASSERT_EQUAL(
	    link_uri_parse("serial:/dev/virtio-ports/argo0?key=/etc/argo/leaf.key&hvid=l0", &u,
	                   &why),
	    0);
	CU_ASSERT(u.transport == TRANSPORT_SERIAL &&
	          !strcmp(u.address, "/dev/virtio-ports/argo0") &&
	          !strcmp(u.key, "/etc/argo/leaf.key") && !strcmp(u.hvid, "l0") &&
	          !strcmp(u.name, "leaf") && u.timeout_ms == 30000);
	CU_ASSERT_EQUAL(
	    link_uri_parse("tcp:192.0.2.1:7400?name=dd&timeout=0x3e8&hvid=kvm-a&key=k", &u, &why),
	    0);
	CU_ASSERT(u.transport == TRANSPORT_TCP && !strcmp(u.address, "192.0.2.1:7400") &&
	          !strcmp(u.name, "dd") && u.timeout_ms == 1000 && !strcmp(u.hvid, "kvm-a"));
	CU_ASSERT_EQUAL(link_uri_parse("vsock:2:5000?key=k&hvid=l0", &u, &why), 0);
	CU_ASSERT_EQUAL(link_uri_parse("unix:/run/x.sock?key=k&hvid=l0", &u, &why), 0);
	/* Certificates instead of a key. */
	CU_ASSERT_EQUAL(
	    link_uri_parse("unix:/x?cert=c.pem&hvid=l0&cert_key=k.pem&ca=ca.pem&name=dd", &u, &why),
	    0);
	CU_ASSERT(!strcmp(u.cert, "c.pem") && !strcmp(u.cert_key, "k.pem") &&
	          !strcmp(u.ca, "ca.pem") && u.key[0] == '\0' && !strcmp(u.name, "dd"));
}

static void test_uri_bad(void)
{
	static const struct {
		const char *uri, *word;
	} bad[] = {
	    {"/dev/x?key=k&hvid=l0", "followed by"},
	    {"argo:sim:/x@1:2?key=k&hvid=l0", "followed by"},
	    {"serial:/dev/x", "?key"},
	    {"serial:?key=k&hvid=l0", "empty"},
	    {"serial:/dev/x?hvid=l0", "key="},
	    {"serial:/dev/x?key=k", "hvid="},
	    {"serial:/dev/x?key=k&hvid=l0&key=j", "twice"},
	    {"serial:/dev/x?key=k&hvid=toolong-hvid-name", "hvid="},
	    {"serial:/dev/x?key=k&hvid=l0&name=a/b", "name="},
	    {"serial:/dev/x?key=k&hvid=l0&timeout=99", "timeout="},
	    {"serial:/dev/x?key=k&hvid=l0&timeout=010x", "timeout="},
	    {"serial:/dev/x?key=k&hvid=l0&colour=blue", "parameters"},
	    {"serial:/dev/x?key=k&hvid=l0&", "KEY=VALUE"},
	    {"serial:/dev/x?key=&hvid=l0", "key="},
	    {"tcp:nohost?key=k&hvid=l0", ""},
	    {"unix:/x?cert=c&cert_key=k&hvid=l0", "all of cert="},
	    {"unix:/x?cert=c&cert_key=k&ca=a&key=k&hvid=l0", "not both"},
	    {"unix:/x?cert=c&cert_key=k&ca=a&ca=b&hvid=l0", "twice"},
	    {"unix:/x?ca=&cert=c&cert_key=k&hvid=l0", "file paths"},
	};
	struct link_uri u;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		int rc = link_uri_parse(bad[i].uri, &u, &why);

		if (rc != -EINVAL || !why || !strstr(why, bad[i].word))
			fprintf(stderr, "\n    %s: %d %s\n", bad[i].uri, rc, why ? why : "(none)");
		CU_ASSERT(rc == -EINVAL && why && strstr(why, bad[i].word));
	}
}

int main(void)
{
	static const struct test_def wire[] = {
	    T(test_attach_layout),
	    T(test_attach_refused),
	    T(test_welcome),
	    T(test_request_register),
	    T(test_request_sendv),
	    T(test_request_notify),
	    T(test_reply),
	    T(test_ring),
	    T(test_rx),
	    T(test_header_bounds),
	};
	static const struct test_def uri[] = {
	    T(test_uri_good),
	    T(test_uri_bad),
	};
	static const struct suite_def suites[] = {
	    SUITE("leaf frames", wire),
	    SUITE("link: URI", uri),
	};

	return cunit_main(suites, N(suites));
}
