/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ring engine (common/ring.c, argo/ring.h) against Xen's
 * rules as docs/xen-argo-notes.md records them ("Ring semantics": sections
 * d, f and g there). argo_ring_insert() plays the hypervisor, argo_ring_recv()
 * / argo_ring_peek() / argo_ring_used() the receiver.
 *
 * Expected values are computed by small reference models written here from
 * the notes (ref_*), never by the functions under test. Rings are allocated
 * at their exact size (64 + len bytes), so ASan catches any write past the
 * ring's end.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argo/ring.h"
#include "../cunit_main.h"

#define HDR  16u   /* sizeof(struct xen_argo_ring_message_header) */
#define FILL 0xAAu /* what the ring bytes hold before a write */

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

/* ---------------------------------------------------------------------------
 * Reference models, from the notes (Xen argo.c), independent of ring.h.
 */

/* ROUNDUP_MESSAGE in 32-bit unsigned arithmetic (wraps like Xen's). */
static uint32_t ref_ru(uint32_t x)
{
	return (uint32_t)(x + 15u) & ~(uint32_t)15u;
}

/* get_sanitized_ring: rx = RU(raw); rx >= len -> 0. */
static uint32_t ref_sanitise(uint32_t raw, uint32_t len)
{
	uint32_t rx = ref_ru(raw);

	return rx >= len ? 0 : rx;
}

/* ringbuf_insert's sp. */
static uint32_t ref_space(uint32_t rx, uint32_t tx, uint32_t len)
{
	int64_t sp;

	if (rx == tx)
		return len;
	sp = (int64_t)rx - (int64_t)tx;
	if (sp < 0)
		sp += len;
	return (uint32_t)sp;
}

/* ringbuf_insert's outcome for a payload of p bytes given the free space:
 * 0 on success, else the errno it returns. */
static int ref_insert_err(uint32_t p, uint32_t space, uint32_t len)
{
	if ((uint64_t)len <= HDR + (uint64_t)ref_ru(p))
		return -EMSGSIZE;
	if ((uint64_t)ref_ru(p) + HDR >= space)
		return -EAGAIN;
	return 0;
}

/* tx after a message of p bytes written at tx. */
static uint32_t ref_next_tx(uint32_t tx, uint32_t p, uint32_t len)
{
	uint32_t t = tx + HDR;

	if (t == len)
		t = 0;
	t = (uint32_t)(((uint64_t)t + p) % len);
	/* A copy ending exactly at the end leaves tx = 0 in Xen. */
	t = ref_ru(t);
	if (t >= len)
		t -= len;
	return t;
}

static uint32_t ref_npages(uint32_t len)
{
	return (uint32_t)(((uint64_t)ref_ru(len) + 64u + 4095u) / 4096u);
}

/* ---------------------------------------------------------------------------
 * Helpers.
 */

static uint8_t pat(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 131u + i * 7u + 3u);
}

static void fill_pat(uint8_t *buf, uint32_t n, uint32_t seed)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		buf[i] = pat(seed, i);
}

/* A ring of exactly 64 + len bytes, ring bytes FILL, header zero. */
static struct xen_argo_ring *ring_new(uint32_t len)
{
	struct xen_argo_ring *r = malloc(sizeof(*r) + len);

	CU_ASSERT_FATAL(r != NULL);
	memset(r, 0, sizeof(*r));
	memset(r->ring, FILL, len);
	return r;
}

static void ring_reset(struct xen_argo_ring *r, uint32_t len, uint32_t rx, uint32_t tx)
{
	memset(r, 0, sizeof(*r));
	memset(r->ring, FILL, len);
	r->rx_ptr = rx;
	r->tx_ptr = tx;
}

static struct xen_argo_addr mkaddr(uint32_t aport, argo_domid_t dom)
{
	struct xen_argo_addr a = {.aport = aport, .domain_id = dom, .pad = 0};

	return a;
}

/* One message from one buffer. */
static int64_t put(struct xen_argo_ring *r, uint32_t len, uint32_t tx, const void *data, uint32_t n,
                   uint32_t type, uint32_t aport, argo_domid_t dom)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = n};
	struct xen_argo_addr src = mkaddr(aport, dom);

	return argo_ring_insert(r, len, tx, &src, type, &iov, 1, n);
}

/* Does the ring hold, physically, at offset 'at', a header for p bytes from
 * (aport, dom) of this type, the header contiguous, followed by the payload
 * wrapping at the end of the ring? */
static bool message_at(const struct xen_argo_ring *r, uint32_t len, uint32_t at,
                       const uint8_t *data, uint32_t p, uint32_t type, uint32_t aport,
                       argo_domid_t dom)
{
	struct xen_argo_ring_message_header h;
	uint32_t i;

	if (at % 16 || at + HDR > len)
		return false;
	memcpy(&h, r->ring + at, sizeof(h));
	if (h.len != p + HDR || h.source.aport != aport || h.source.domain_id != dom ||
	    h.source.pad != 0 || h.message_type != type)
		return false;
	for (i = 0; i < p; i++)
		if (r->ring[(at + HDR + i) % len] != data[i])
			return false;
	return true;
}

/* Are all ring bytes outside the message [at, at + 16 + p) (mod len) still
 * FILL? That includes the padding up to the next slot. */
static bool rest_untouched(const struct xen_argo_ring *r, uint32_t len, uint32_t at, uint32_t p)
{
	uint32_t i, span = HDR + p;

	for (i = 0; i < len; i++) {
		uint32_t rel = (i + len - at) % len;

		if (rel < span)
			continue;
		if (r->ring[i] != FILL)
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------
 * Suite: inline helpers.
 */

static void test_roundup16(void)
{
	CU_ASSERT_EQUAL(argo_roundup16(0), 0);
	CU_ASSERT_EQUAL(argo_roundup16(1), 16);
	CU_ASSERT_EQUAL(argo_roundup16(15), 16);
	CU_ASSERT_EQUAL(argo_roundup16(16), 16);
	CU_ASSERT_EQUAL(argo_roundup16(17), 32);
	CU_ASSERT_EQUAL(argo_roundup16(0xFFFFE0), 0xFFFFE0);
	CU_ASSERT_EQUAL(argo_roundup16(0xFFFFE1), 0xFFFFF0);
	CU_ASSERT_EQUAL(argo_roundup16(0x7FFFFFF0), 0x7FFFFFF0);
	for (uint32_t x = 0; x < 5000; x++)
		CHECKF(argo_roundup16(x) == ref_ru(x), "x=%u\n", x);
}

static void test_sanitise_ptr(void)
{
	static const uint32_t lens[] = {48, 64, 128, 4032, 4048, XEN_ARGO_MAX_RING_SIZE};
	uint32_t huge;
	size_t k;

	/* Explicit cases for a 64-byte ring. */
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0, 64), 0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(1, 64), 16); /* unaligned: up */
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(15, 64), 16);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(16, 64), 16);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(17, 64), 32);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(48, 64), 48);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(49, 64), 0); /* rounds to len */
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(63, 64), 0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(64, 64), 0); /* >= len */
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(65, 64), 0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(1000, 64), 0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0x7FFFFFFF, 64), 0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0x80000000u, 64), 0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0xFFFFFFF0u, 64), 0);
	for (huge = 0xFFFFFFF1u; huge != 0; huge++)
		CHECKF(argo_ring_sanitise_ptr(huge, 64) == 0, "raw=%#x\n", huge);
	/* The largest ring: just below the end stays, rounding onto it wraps. */
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0xFFFFEF, XEN_ARGO_MAX_RING_SIZE), 0xFFFFF0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0xFFFFF0, XEN_ARGO_MAX_RING_SIZE), 0xFFFFF0);
	CU_ASSERT_EQUAL(argo_ring_sanitise_ptr(0xFFFFF1, XEN_ARGO_MAX_RING_SIZE), 0);

	/* Every small value and the top of the range, against Xen's rule. */
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k], raw;

		for (raw = 0; raw < 4200; raw++)
			CHECKF(argo_ring_sanitise_ptr(raw, len) == ref_sanitise(raw, len),
			       "len=%u raw=%u\n", len, raw);
		for (raw = len - 40; raw < len + 40; raw++)
			CHECKF(argo_ring_sanitise_ptr(raw, len) == ref_sanitise(raw, len),
			       "len=%u raw=%u\n", len, raw);
		for (raw = 0xFFFFFFE0u; raw != 0; raw++)
			CHECKF(argo_ring_sanitise_ptr(raw, len) == ref_sanitise(raw, len),
			       "len=%u raw=%#x\n", len, raw);
	}
}

static void test_free_space(void)
{
	static const uint32_t lens[] = {48, 64, 128, 256};
	size_t k;

	CU_ASSERT_EQUAL(argo_ring_free_space(0, 0, 64), 64);   /* empty */
	CU_ASSERT_EQUAL(argo_ring_free_space(32, 32, 64), 64); /* empty anywhere */
	CU_ASSERT_EQUAL(argo_ring_free_space(32, 0, 64), 32);
	CU_ASSERT_EQUAL(argo_ring_free_space(0, 32, 64), 32);
	CU_ASSERT_EQUAL(argo_ring_free_space(16, 0, 64), 16);
	CU_ASSERT_EQUAL(argo_ring_free_space(0, 48, 64), 16);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k], rx, tx;

		for (rx = 0; rx < len; rx += 16)
			for (tx = 0; tx < len; tx += 16)
				CHECKF(argo_ring_free_space(rx, tx, len) == ref_space(rx, tx, len),
				       "len=%u rx=%u tx=%u\n", len, rx, tx);
	}
}

static void test_fits_and_too_large(void)
{
	static const uint32_t lens[] = {48, 64, 128, 4032, 4048, 65536, XEN_ARGO_MAX_RING_SIZE};
	uint32_t space, p;
	size_t k;

	CU_ASSERT_EQUAL(ARGO_MAX_MESSAGE_PAYLOAD, 0xFFFFE0u);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k], max = argo_ring_max_message_size(len);

		CHECKF(max == len - 32, "len=%u max=%u\n", len, max);
		/* max_message_size fits an empty ring, one byte more never does. */
		CHECKF(!argo_ring_too_large(max, len), "len=%u\n", len);
		CHECKF(argo_ring_too_large(max + 1, len), "len=%u\n", len);
		CHECKF(argo_ring_too_large(max + 16, len), "len=%u\n", len);
		CHECKF(!argo_ring_too_large(0, len), "len=%u\n", len);
		CHECKF(argo_ring_fits(max, len), "len=%u\n", len);
		CHECKF(!argo_ring_fits(max + 1, len), "len=%u\n", len);
	}
	CU_ASSERT_FALSE(argo_ring_too_large(ARGO_MAX_MESSAGE_PAYLOAD, XEN_ARGO_MAX_RING_SIZE));
	CU_ASSERT_TRUE(argo_ring_too_large(ARGO_MAX_MESSAGE_PAYLOAD + 1, XEN_ARGO_MAX_RING_SIZE));

	/* fits() is Xen's "RU(p) + 16 < sp" for every slot-aligned space. */
	for (space = 16; space <= 512; space += 16)
		for (p = 0; p <= 520; p++)
			CHECKF(argo_ring_fits(p, space) == (ref_ru(p) + HDR < space),
			       "p=%u space=%u\n", p, space);
	/* The one-slot-empty rule: a payload filling all but the header can't. */
	CU_ASSERT_FALSE(argo_ring_fits(0, 16));
	CU_ASSERT_TRUE(argo_ring_fits(0, 32));
	CU_ASSERT_TRUE(argo_ring_fits(16, 48));
	CU_ASSERT_FALSE(argo_ring_fits(17, 48));
	CU_ASSERT_FALSE(argo_ring_fits(32, 48));
}

static void test_len_valid(void)
{
	CU_ASSERT_FALSE(argo_ring_len_valid(0));
	CU_ASSERT_FALSE(argo_ring_len_valid(16));
	CU_ASSERT_FALSE(argo_ring_len_valid(32));
	CU_ASSERT_FALSE(argo_ring_len_valid(47));
	CU_ASSERT_TRUE(argo_ring_len_valid(48));
	CU_ASSERT_FALSE(argo_ring_len_valid(49));
	CU_ASSERT_FALSE(argo_ring_len_valid(56));
	CU_ASSERT_TRUE(argo_ring_len_valid(64));
	CU_ASSERT_FALSE(argo_ring_len_valid(4031));
	CU_ASSERT_TRUE(argo_ring_len_valid(4032));
	CU_ASSERT_FALSE(argo_ring_len_valid(4040));
	CU_ASSERT_TRUE(argo_ring_len_valid(4048));
	CU_ASSERT_TRUE(argo_ring_len_valid(4096));
	CU_ASSERT_TRUE(argo_ring_len_valid(XEN_ARGO_MAX_RING_SIZE - 16));
	CU_ASSERT_TRUE(argo_ring_len_valid(XEN_ARGO_MAX_RING_SIZE));
	CU_ASSERT_FALSE(argo_ring_len_valid(XEN_ARGO_MAX_RING_SIZE + 1));
	CU_ASSERT_FALSE(argo_ring_len_valid(XEN_ARGO_MAX_RING_SIZE + 16));
	CU_ASSERT_FALSE(argo_ring_len_valid(0xFFFFFFF0u));
	for (uint32_t len = 0; len < 10000; len++)
		CHECKF(argo_ring_len_valid(len) == (len >= 48 && len % 16 == 0), "len=%u\n", len);
}

static void test_npages(void)
{
	CU_ASSERT_EQUAL(argo_ring_npages(47), 1);
	CU_ASSERT_EQUAL(argo_ring_npages(48), 1);
	CU_ASSERT_EQUAL(argo_ring_npages(4031), 1);
	CU_ASSERT_EQUAL(argo_ring_npages(4032), 1); /* largest one-page ring */
	CU_ASSERT_EQUAL(argo_ring_npages(4033), 2);
	CU_ASSERT_EQUAL(argo_ring_npages(4048), 2);
	CU_ASSERT_EQUAL(argo_ring_npages(4096), 2);
	CU_ASSERT_EQUAL(argo_ring_npages(8128), 2);
	CU_ASSERT_EQUAL(argo_ring_npages(8144), 3);
	CU_ASSERT_EQUAL(argo_ring_npages(XEN_ARGO_MAX_RING_SIZE - 64), 4096);
	/* 16 MiB + its 64-byte header is one page more than Xen's npages cap. */
	CU_ASSERT_EQUAL(argo_ring_npages(XEN_ARGO_MAX_RING_SIZE), 4097);
	CU_ASSERT_EQUAL(argo_ring_npages(XEN_ARGO_MAX_RING_SIZE + 16), 4097);
	for (uint32_t len = 0; len < 70000; len++)
		CHECKF(argo_ring_npages(len) == ref_npages(len), "len=%u\n", len);
	for (uint32_t len = XEN_ARGO_MAX_RING_SIZE - 9000; len < XEN_ARGO_MAX_RING_SIZE + 9000;
	     len++)
		CHECKF(argo_ring_npages(len) == ref_npages(len), "len=%u\n", len);
}

/* ---------------------------------------------------------------------------
 * Suite: writer (argo_ring_insert).
 */

static void test_header_layout(void)
{
	const uint32_t len = 256;
	struct xen_argo_ring *r = ring_new(len);
	struct xen_argo_ring_message_header h;
	uint8_t zero[56] = {0};
	int64_t tx;

	tx = put(r, len, 0, "hello", 5, 0xDEADBEEFu, 0x12345678u, 7);
	CU_ASSERT_EQUAL(tx, 32);        /* RU(16 + 5) */
	CU_ASSERT_EQUAL(r->tx_ptr, 32); /* published in the page */
	CU_ASSERT_EQUAL(r->rx_ptr, 0);  /* the writer never writes rx */
	memcpy(&h, r->ring, sizeof(h));
	CU_ASSERT_EQUAL(h.len, 5 + 16);
	CU_ASSERT_EQUAL(h.source.aport, 0x12345678u);
	CU_ASSERT_EQUAL(h.source.domain_id, 7);
	CU_ASSERT_EQUAL(h.source.pad, 0);
	CU_ASSERT_EQUAL(h.message_type, 0xDEADBEEFu);
	CU_ASSERT_EQUAL(memcmp(r->ring + 16, "hello", 5), 0);
	CU_ASSERT_TRUE(rest_untouched(r, len, 0, 5));
	CU_ASSERT_EQUAL(memcmp(r->reserved, zero, sizeof(zero)), 0);

	/* Header-only, exactly one slot of payload, one byte over a slot. */
	tx = put(r, len, 32, NULL, 0, 1, 2, 3);
	CU_ASSERT_EQUAL(tx, 48);
	tx = put(r, len, 48, "0123456789abcdef", 16, 1, 2, 3);
	CU_ASSERT_EQUAL(tx, 80);
	tx = put(r, len, 80, "0123456789abcdefg", 17, 1, 2, 3);
	CU_ASSERT_EQUAL(tx, 128);
	CU_ASSERT_EQUAL(r->tx_ptr, 128);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 32 + 16 + 32 + 48);
	free(r);
}

static void test_header_in_last_slot(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[20], out[20];
	int64_t tx;

	fill_pat(data, sizeof(data), 1);
	ring_reset(r, len, 112, 112);
	tx = put(r, len, 112, data, 20, 9, 10, 11);
	/* Header at 112..127 (never split), payload wrapped to 0..19. */
	CU_ASSERT_EQUAL(tx, 32);
	CU_ASSERT_EQUAL(r->tx_ptr, 32);
	CU_ASSERT_TRUE(message_at(r, len, 112, data, 20, 9, 10, 11));
	CU_ASSERT_EQUAL(memcmp(r->ring, data, 20), 0);
	CU_ASSERT_TRUE(rest_untouched(r, len, 112, 20));
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 20);
	CU_ASSERT_EQUAL(memcmp(out, data, 20), 0);
	CU_ASSERT_EQUAL(r->rx_ptr, 32);

	/* A header-only message in the last slot: tx wraps to 0 at len. */
	ring_reset(r, len, 112, 112);
	tx = put(r, len, 112, NULL, 0, 9, 10, 11);
	CU_ASSERT_EQUAL(tx, 0);
	CU_ASSERT_EQUAL(r->tx_ptr, 0);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(r->rx_ptr, 0);
	free(r);
}

static void test_message_ends_at_ring_end(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[32], out[32];
	int64_t tx;

	fill_pat(data, sizeof(data), 2);
	ring_reset(r, len, 80, 80);
	tx = put(r, len, 80, data, 32, 1, 2, 3);
	CU_ASSERT_EQUAL(tx, 0); /* 80 + 16 + 32 == len -> 0 */
	CU_ASSERT_EQUAL(r->tx_ptr, 0);
	CU_ASSERT_TRUE(message_at(r, len, 80, data, 32, 1, 2, 3));
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 48);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 32);
	CU_ASSERT_EQUAL(memcmp(out, data, 32), 0);
	CU_ASSERT_EQUAL(r->rx_ptr, 0);

	/* Payload ending in the middle of the last slot: padding to len -> 0. */
	ring_reset(r, len, 80, 80);
	tx = put(r, len, 80, data, 20, 1, 2, 3);
	CU_ASSERT_EQUAL(tx, 0);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 20);
	CU_ASSERT_EQUAL(r->rx_ptr, 0);
	free(r);
}

/* Every 16-byte starting offset, every payload size a ring can take, one
 * message written and read back. */
static void test_wrap_every_offset(void)
{
	static const uint32_t lens[] = {48, 64, 128};
	size_t k;

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k], o, p;
		struct xen_argo_ring *r = ring_new(len);
		struct xen_argo_ring *snap = ring_new(len);
		uint8_t data[128], out[128 + 1];

		for (o = 0; o < len; o += 16) {
			for (p = 0; p <= len - 32; p++) {
				struct xen_argo_addr src;
				uint32_t type = 0, want = ref_next_tx(o, p, len);
				int64_t tx;
				ssize_t n;

				fill_pat(data, p, o + p);
				ring_reset(r, len, o, o);
				tx = put(r, len, o, data, p, 0x1000 + p, 0xA0000 + o,
				         (argo_domid_t)p);
				CHECKF(tx == want, "len=%u o=%u p=%u tx=%lld want=%u\n", len, o, p,
				       (long long)tx, want);
				CHECKF(r->tx_ptr == want, "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(r->rx_ptr == o, "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(message_at(r, len, o, data, p, 0x1000 + p, 0xA0000 + o,
				                  (argo_domid_t)p),
				       "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(rest_untouched(r, len, o, p), "len=%u o=%u p=%u\n", len, o,
				       p);
				CHECKF(argo_ring_used(r, len) == HDR + ref_ru(p),
				       "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(argo_ring_peek(r, len, NULL, NULL) == (ssize_t)p,
				       "len=%u o=%u p=%u\n", len, o, p);

				memset(out, 0x5C, sizeof(out));
				n = argo_ring_recv(r, len, &src, &type, out, p);
				CHECKF(n == (ssize_t)p, "len=%u o=%u p=%u n=%zd\n", len, o, p, n);
				CHECKF(memcmp(out, data, p) == 0, "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(out[p] == 0x5C, "len=%u o=%u p=%u: wrote past payload\n",
				       len, o, p);
				CHECKF(src.aport == 0xA0000 + o && src.domain_id == p &&
				           src.pad == 0 && type == 0x1000 + p,
				       "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(r->rx_ptr == want, "len=%u o=%u p=%u\n", len, o, p);
				CHECKF(argo_ring_used(r, len) == 0, "len=%u o=%u p=%u\n", len, o,
				       p);
				CHECKF(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)) ==
				           -EAGAIN,
				       "len=%u o=%u p=%u\n", len, o, p);
			}
			/* One byte over max_message_size: -EMSGSIZE, ring untouched. */
			ring_reset(r, len, o, o);
			memcpy(snap, r, sizeof(*r) + len);
			CHECKF(put(r, len, o, data, len - 31, 1, 1, 1) == -EMSGSIZE,
			       "len=%u o=%u\n", len, o);
			CHECKF(memcmp(snap, r, sizeof(*r) + len) == 0, "len=%u o=%u\n", len, o);
		}
		free(snap);
		free(r);
	}
}

/* Several messages back to back from every offset, including ones that
 * wrap, read back in order. */
static void test_several_messages_every_offset(void)
{
	static const uint32_t sizes[] = {1, 20, 7, 0, 16, 33, 2};
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[7][40], out[64];
	uint32_t o;

	for (o = 0; o < len; o += 16) {
		uint32_t tx = o, used = 0, nput = 0, i;

		ring_reset(r, len, o, o);
		for (i = 0; i < 7; i++) {
			uint32_t p = sizes[i];
			int want_err = ref_insert_err(p, len - used, len);
			int64_t ret;

			fill_pat(data[i], p, i * 100 + o);
			ret = put(r, len, tx, data[i], p, i, 100 + i, 5);
			if (want_err) {
				CHECKF(ret == want_err, "o=%u i=%u ret=%lld\n", o, i,
				       (long long)ret);
				break;
			}
			CHECKF(ret == ref_next_tx(tx, p, len), "o=%u i=%u ret=%lld\n", o, i,
			       (long long)ret);
			tx = (uint32_t)ret;
			used += HDR + ref_ru(p);
			nput++;
			CHECKF(argo_ring_used(r, len) == used, "o=%u i=%u\n", o, i);
		}
		CHECKF(nput == 3, "o=%u nput=%u\n", o, nput); /* 32+48+32 = 112; 0-byte: 128 */
		for (i = 0; i < nput; i++) {
			uint32_t type = 99;
			ssize_t n = argo_ring_recv(r, len, NULL, &type, out, sizeof(out));

			CHECKF(n == (ssize_t)sizes[i], "o=%u i=%u n=%zd\n", o, i, n);
			CHECKF(n >= 0 && memcmp(out, data[i], (size_t)n) == 0, "o=%u i=%u\n", o, i);
			CHECKF(type == i, "o=%u i=%u\n", o, i);
		}
		CHECKF(r->rx_ptr == tx, "o=%u\n", o);
		CHECKF(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)) == -EAGAIN, "o=%u\n",
		       o);
	}
	free(r);
}

/* A deterministic stream against a FIFO model: the writer's
 * success/EAGAIN/EMSGSIZE must match Xen's rule at every fill level. */
static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void stream_one(uint32_t len, uint32_t start, unsigned int rounds)
{
	struct {
		uint32_t p, seed;
	} fifo[512];
	unsigned int head = 0, count = 0, r_i;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t *data = malloc(len), *out = malloc(len);
	uint32_t tx = start, used = 0, seed = 1;

	CU_ASSERT_FATAL(data != NULL && out != NULL);
	ring_reset(r, len, start, start);
	for (r_i = 0; r_i < rounds; r_i++) {
		unsigned int writes = 1 + rnd() % 6, reads = rnd() % 5, j;

		for (j = 0; j < writes; j++) {
			uint32_t p = (rnd() % 4) ? rnd() % 40 : rnd() % (len - 16);
			int want_err = ref_insert_err(p, len - used, len);
			int64_t ret;

			fill_pat(data, p, seed);
			ret = put(r, len, tx, data, p, seed, seed, (argo_domid_t)(seed & 0x7FFF));
			if (want_err) {
				CHECKF(ret == want_err, "len=%u used=%u p=%u ret=%lld\n", len, used,
				       p, (long long)ret);
				continue;
			}
			CHECKF(ret == ref_next_tx(tx, p, len), "len=%u tx=%u p=%u ret=%lld\n", len,
			       tx, p, (long long)ret);
			if (ret < 0)
				break;
			tx = (uint32_t)ret;
			used += HDR + ref_ru(p);
			CHECKF(used < len, "len=%u used=%u: the empty slot was filled\n", len,
			       used);
			fifo[(head + count) % 512].p = p;
			fifo[(head + count) % 512].seed = seed;
			count++;
			seed++;
		}
		CHECKF(argo_ring_used(r, len) == used, "len=%u used=%u\n", len, used);
		for (j = 0; j < reads && count; j++) {
			uint32_t p = fifo[head].p, s = fifo[head].seed, type = 0;
			struct xen_argo_addr src;
			ssize_t n = argo_ring_recv(r, len, &src, &type, out, len);

			fill_pat(data, p, s);
			CHECKF(n == (ssize_t)p, "len=%u n=%zd p=%u\n", len, n, p);
			CHECKF(memcmp(out, data, p) == 0, "len=%u seed=%u\n", len, s);
			CHECKF(type == s && src.aport == s && src.domain_id == (s & 0x7FFF),
			       "len=%u seed=%u\n", len, s);
			used -= HDR + ref_ru(p);
			head = (head + 1) % 512;
			count--;
		}
	}
	while (count) {
		ssize_t n = argo_ring_recv(r, len, NULL, NULL, out, len);

		CHECKF(n == (ssize_t)fifo[head].p, "len=%u drain\n", len);
		fill_pat(data, fifo[head].p, fifo[head].seed);
		CHECKF(memcmp(out, data, fifo[head].p) == 0, "len=%u drain\n", len);
		head = (head + 1) % 512;
		count--;
	}
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, len), -EAGAIN);
	CU_ASSERT_EQUAL(r->rx_ptr, tx);
	free(out);
	free(data);
	free(r);
}

static void test_stream_model(void)
{
	static const uint32_t lens[] = {48, 64, 128, 256};
	size_t k;

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
		for (uint32_t o = 0; o < lens[k]; o += 16)
			stream_one(lens[k], o, 300);
	stream_one(4032, 4016, 500);
	stream_one(4032, 0, 500);
}

/* At every (rx, tx) pair: exactly the largest payload that fits succeeds
 * and one byte more gives -EAGAIN (-EMSGSIZE when the ring is empty). */
static void test_free_space_every_fill_level(void)
{
	static const uint32_t lens[] = {48, 64, 128};
	size_t k;

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k], rx, tx;
		struct xen_argo_ring *r = ring_new(len), *snap = ring_new(len);
		uint8_t data[128];

		fill_pat(data, sizeof(data), 3);
		for (rx = 0; rx < len; rx += 16) {
			for (tx = 0; tx < len; tx += 16) {
				uint32_t space = ref_space(rx, tx, len);
				int64_t ret;

				CHECKF(argo_ring_free_space(rx, tx, len) == space, "rx=%u tx=%u\n",
				       rx, tx);
				if (space >= 32) {
					uint32_t pmax = space - 32;

					ring_reset(r, len, rx, tx);
					ret = put(r, len, tx, data, pmax, 1, 1, 1);
					CHECKF(ret == ref_next_tx(tx, pmax, len),
					       "len=%u rx=%u tx=%u pmax=%u ret=%lld\n", len, rx, tx,
					       pmax, (long long)ret);
					/* Now exactly one slot is left: full, but not "empty". */
					CHECKF(ret >= 0 && (uint32_t)ret != rx &&
					           ref_space(rx, (uint32_t)ret, len) == 16,
					       "len=%u rx=%u tx=%u\n", len, rx, tx);
					/* ... and not even a header-only message fits. */
					CHECKF(put(r, len, (uint32_t)ret, NULL, 0, 1, 1, 1) ==
					           -EAGAIN,
					       "len=%u rx=%u tx=%u\n", len, rx, tx);

					ring_reset(r, len, rx, tx);
					memcpy(snap, r, sizeof(*r) + len);
					ret = put(r, len, tx, data, pmax + 1, 1, 1, 1);
					CHECKF(ret == (space == len ? -EMSGSIZE : -EAGAIN),
					       "len=%u rx=%u tx=%u p=%u ret=%lld\n", len, rx, tx,
					       pmax + 1, (long long)ret);
					CHECKF(memcmp(snap, r, sizeof(*r) + len) == 0,
					       "len=%u rx=%u tx=%u: failed insert wrote\n", len, rx,
					       tx);
				} else {
					/* space == 16: full. */
					ring_reset(r, len, rx, tx);
					memcpy(snap, r, sizeof(*r) + len);
					CHECKF(put(r, len, tx, NULL, 0, 1, 1, 1) == -EAGAIN,
					       "len=%u rx=%u tx=%u\n", len, rx, tx);
					CHECKF(memcmp(snap, r, sizeof(*r) + len) == 0,
					       "len=%u rx=%u tx=%u\n", len, rx, tx);
				}
			}
		}
		free(snap);
		free(r);
	}
}

static void test_empty_and_full_edges(void)
{
	const uint32_t len = 64;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[33], out[64];
	int64_t tx;

	fill_pat(data, sizeof(data), 4);
	/* Empty: max_message_size (32) fits. */
	tx = put(r, len, 0, data, 32, 1, 1, 1);
	CU_ASSERT_EQUAL(tx, 48);
	/* Full (one slot left): nothing fits; oversize still says EMSGSIZE. */
	CU_ASSERT_EQUAL(put(r, len, 48, NULL, 0, 1, 1, 1), -EAGAIN);
	CU_ASSERT_EQUAL(put(r, len, 48, data, 32, 1, 1, 1), -EAGAIN);
	CU_ASSERT_EQUAL(put(r, len, 48, data, 33, 1, 1, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(r->tx_ptr, 48);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 48);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 32);
	/* rx == tx == 48: empty, at a non-zero offset. */
	CU_ASSERT_EQUAL(r->rx_ptr, 48);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 0);
	CU_ASSERT_EQUAL(argo_ring_peek(r, len, NULL, NULL), -EAGAIN);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), -EAGAIN);
	tx = put(r, len, 48, data, 32, 1, 1, 1);
	CU_ASSERT_EQUAL(tx, 32); /* header 48..63, payload 0..31 */
	CU_ASSERT_TRUE(message_at(r, len, 48, data, 32, 1, 1, 1));
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 32);
	CU_ASSERT_EQUAL(memcmp(out, data, 32), 0);

	/* The smallest ring (48): 16 payload bytes at most. */
	free(r);
	r = ring_new(48);
	CU_ASSERT_EQUAL(put(r, 48, 0, data, 17, 1, 1, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(put(r, 48, 0, data, 16, 1, 1, 1), 32);
	CU_ASSERT_EQUAL(put(r, 48, 32, NULL, 0, 1, 1, 1), -EAGAIN);
	free(r);
}

static void test_max_message_size_on_empty_ring(void)
{
	static const uint32_t lens[] = {48, 64, 128, 4032, 4048, 65536};
	size_t k;

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k], max = len - 32;
		struct xen_argo_ring *r = ring_new(len);
		uint8_t *data = malloc(len), *out = malloc(len);

		CU_ASSERT_FATAL(data != NULL && out != NULL);
		fill_pat(data, len, len);
		CHECKF(put(r, len, 0, data, max + 1, 1, 1, 1) == -EMSGSIZE, "len=%u\n", len);
		CHECKF(put(r, len, 0, data, len, 1, 1, 1) == -EMSGSIZE, "len=%u\n", len);
		CHECKF(r->tx_ptr == 0, "len=%u\n", len);
		CHECKF(put(r, len, 0, data, max, 1, 1, 1) == len - 16, "len=%u\n", len);
		CHECKF(argo_ring_recv(r, len, NULL, NULL, out, len) == (ssize_t)max, "len=%u\n",
		       len);
		CHECKF(memcmp(out, data, max) == 0, "len=%u\n", len);
		/* From the last slot, the maximal message wraps and ends one slot
		 * before the header it started from. */
		ring_reset(r, len, len - 16, len - 16);
		CHECKF(put(r, len, len - 16, data, max, 1, 1, 1) == len - 32, "len=%u\n", len);
		CHECKF(argo_ring_recv(r, len, NULL, NULL, out, len) == (ssize_t)max, "len=%u\n",
		       len);
		CHECKF(memcmp(out, data, max) == 0, "len=%u\n", len);
		free(out);
		free(data);
		free(r);
	}
}

static void test_emsgsize_before_eagain(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[200] = {0};

	/* Full ring (rx one slot ahead of tx). */
	ring_reset(r, len, 16, 0);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 97, 1, 1, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 128, 1, 1, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 96, 1, 1, 1), -EAGAIN);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 0, 1, 1, 1), -EAGAIN);
	/* Also with a garbage rx_ptr: the size test comes first. */
	ring_reset(r, len, 0xFFFFFFFFu, 0);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 97, 1, 1, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(r->tx_ptr, 0);
	free(r);
}

/* Garbage rx_ptr in the page: the writer must use Xen's sanitised value,
 * and never write rx_ptr back. */
static void test_insert_uses_sanitised_rx(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[128];
	uint32_t raws[200 + 20], nraw = 0, tx, i;

	fill_pat(data, sizeof(data), 5);
	for (i = 0; i < 200; i++)
		raws[nraw++] = i;
	raws[nraw++] = 0x7FFFFFFF;
	raws[nraw++] = 0x80000000u;
	for (i = 0xFFFFFFF0u; i != 0; i++)
		raws[nraw++] = i;

	for (tx = 0; tx < len; tx += 16) {
		for (i = 0; i < nraw; i++) {
			uint32_t raw = raws[i], srx = ref_sanitise(raw, len);
			uint32_t space = ref_space(srx, tx, len);
			int64_t ret;

			if (space >= 32) {
				ring_reset(r, len, raw, tx);
				ret = put(r, len, tx, data, space - 32, 1, 1, 1);
				CHECKF(ret == ref_next_tx(tx, space - 32, len),
				       "tx=%u raw rx=%#x ret=%lld\n", tx, raw, (long long)ret);
				CHECKF(r->rx_ptr == raw, "tx=%u raw rx=%#x: rx written\n", tx, raw);
			}
			ring_reset(r, len, raw, tx);
			ret = put(r, len, tx, data, space >= 32 ? space - 31 : 0, 1, 1, 1);
			CHECKF(ret == (space == len ? -EMSGSIZE : -EAGAIN),
			       "tx=%u raw rx=%#x space=%u ret=%lld\n", tx, raw, space,
			       (long long)ret);
			CHECKF(r->rx_ptr == raw && r->tx_ptr == tx, "tx=%u raw rx=%#x\n", tx, raw);
		}
	}

	/* A few by hand, tx = 0. */
	ring_reset(r, len, 1, 0); /* -> 16: one slot free, full */
	CU_ASSERT_EQUAL(put(r, len, 0, NULL, 0, 1, 1, 1), -EAGAIN);
	ring_reset(r, len, 17, 0); /* -> 32: a header-only message fits */
	CU_ASSERT_EQUAL(put(r, len, 0, NULL, 0, 1, 1, 1), 16);
	ring_reset(r, len, 17, 0);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 1, 1, 1, 1), -EAGAIN);
	ring_reset(r, len, 113, 0); /* -> 128 >= len -> 0: empty */
	CU_ASSERT_EQUAL(put(r, len, 0, data, 96, 1, 1, 1), 112);
	ring_reset(r, len, 5000, 0); /* >= len -> 0: empty */
	CU_ASSERT_EQUAL(put(r, len, 0, data, 96, 1, 1, 1), 112);
	ring_reset(r, len, 0xFFFFFFF1u, 0); /* rounds (32-bit) to 0: empty */
	CU_ASSERT_EQUAL(put(r, len, 0, data, 96, 1, 1, 1), 112);
	ring_reset(r, len, 0xFFFFFFF1u, 64); /* rx 0, tx 64: 64 free */
	CU_ASSERT_EQUAL(put(r, len, 64, data, 32, 1, 1, 1), 112);
	ring_reset(r, len, 0xFFFFFFF1u, 64);
	CU_ASSERT_EQUAL(put(r, len, 64, data, 33, 1, 1, 1), -EAGAIN);
	free(r);
}

static void test_zero_iovs(void)
{
	const uint32_t len = 64;
	struct xen_argo_ring *r = ring_new(len);
	struct xen_argo_addr src = mkaddr(0xBEEF, 3), got;
	uint32_t o, type;

	for (o = 0; o < len; o += 16) {
		int64_t ret;

		ring_reset(r, len, o, o);
		ret = argo_ring_insert(r, len, o, &src, 77, NULL, 0, 0);
		CHECKF(ret == (o + 16) % len, "o=%u ret=%lld\n", o, (long long)ret);
		CHECKF(message_at(r, len, o, NULL, 0, 77, 0xBEEF, 3), "o=%u\n", o);
		CHECKF(rest_untouched(r, len, o, 0), "o=%u\n", o);
		CHECKF(argo_ring_peek(r, len, &got, &type) == 0, "o=%u\n", o);
		type = 0;
		memset(&got, 0, sizeof(got));
		CHECKF(argo_ring_recv(r, len, &got, &type, NULL, 0) == 0, "o=%u\n", o);
		CHECKF(got.aport == 0xBEEF && got.domain_id == 3 && type == 77, "o=%u\n", o);
		CHECKF(r->rx_ptr == (o + 16) % len, "o=%u\n", o);
		CHECKF(argo_ring_recv(r, len, NULL, NULL, NULL, 0) == -EAGAIN, "o=%u\n", o);
	}
	free(r);
}

/* Gathers 8 pieces (some empty, NULL base) in order, from every offset so
 * that pieces straddle the wrap point at different places. */
static void gather_every_offset(uint32_t len, const uint32_t *lens8)
{
	struct xen_argo_ring *r = ring_new(len);
	struct xen_argo_addr src = mkaddr(1, 2);
	uint8_t pieces[8][64], want[8 * 64], out[8 * 64];
	struct iovec iov[8];
	uint32_t total = 0, o, i;

	for (i = 0; i < 8; i++) {
		fill_pat(pieces[i], lens8[i], 1000 + i);
		iov[i].iov_base = lens8[i] ? pieces[i] : NULL;
		iov[i].iov_len = lens8[i];
		memcpy(want + total, pieces[i], lens8[i]);
		total += lens8[i];
	}
	for (o = 0; o < len; o += 16) {
		int64_t ret;

		ring_reset(r, len, o, o);
		ret = argo_ring_insert(r, len, o, &src, 5, iov, 8, total);
		CHECKF(ret == ref_next_tx(o, total, len), "len=%u o=%u ret=%lld\n", len, o,
		       (long long)ret);
		CHECKF(message_at(r, len, o, want, total, 5, 1, 2), "len=%u o=%u\n", len, o);
		CHECKF(rest_untouched(r, len, o, total), "len=%u o=%u\n", len, o);
		memset(out, 0, sizeof(out));
		CHECKF(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)) == (ssize_t)total,
		       "len=%u o=%u\n", len, o);
		CHECKF(memcmp(out, want, total) == 0, "len=%u o=%u\n", len, o);
	}
	free(r);
}

static void test_eight_iovs(void)
{
	static const uint32_t with_empty[8] = {3, 0, 10, 0, 0, 17, 1, 0};
	static const uint32_t fib[8] = {1, 2, 3, 5, 8, 13, 21, 34}; /* 87 bytes */
	static const uint32_t all_empty[8] = {0};

	gather_every_offset(64, with_empty);
	gather_every_offset(128, with_empty);
	gather_every_offset(128, fib);
	gather_every_offset(256, fib);
	gather_every_offset(48, all_empty);
}

/* Pieces placed by hand around the wrap point. */
static void test_iov_straddle_wrap(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	struct xen_argo_addr src = mkaddr(1, 2);
	uint8_t a[32], b[32], c[32], out[64];
	struct iovec iov[3];
	int64_t ret;

	fill_pat(a, sizeof(a), 11);
	fill_pat(b, sizeof(b), 12);
	fill_pat(c, sizeof(c), 13);

	/* Header 96..111; a at 112..121; b at 122..127 then 0..13; c at 14..18. */
	iov[0] = (struct iovec){a, 10};
	iov[1] = (struct iovec){b, 20};
	iov[2] = (struct iovec){c, 5};
	ring_reset(r, len, 96, 96);
	ret = argo_ring_insert(r, len, 96, &src, 0, iov, 3, 35);
	CU_ASSERT_EQUAL(ret, 32);
	CU_ASSERT_EQUAL(memcmp(r->ring + 112, a, 10), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring + 122, b, 6), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring, b + 6, 14), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring + 14, c, 5), 0);
	CU_ASSERT_EQUAL(r->ring[19], FILL);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 35);
	CU_ASSERT_EQUAL(memcmp(out, a, 10), 0);
	CU_ASSERT_EQUAL(memcmp(out + 10, b, 20), 0);
	CU_ASSERT_EQUAL(memcmp(out + 30, c, 5), 0);

	/* First piece ends exactly at the end; the second starts at 0. */
	iov[0] = (struct iovec){a, 32};
	iov[1] = (struct iovec){b, 5};
	ring_reset(r, len, 80, 80);
	ret = argo_ring_insert(r, len, 80, &src, 0, iov, 2, 37);
	CU_ASSERT_EQUAL(ret, 16);
	CU_ASSERT_EQUAL(memcmp(r->ring + 96, a, 32), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring, b, 5), 0);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 37);
	CU_ASSERT_EQUAL(memcmp(out, a, 32), 0);
	CU_ASSERT_EQUAL(memcmp(out + 32, b, 5), 0);

	/* An empty piece exactly at the wrap point, between the two. */
	iov[0] = (struct iovec){a, 32};
	iov[1] = (struct iovec){NULL, 0};
	iov[2] = (struct iovec){c, 3};
	ring_reset(r, len, 80, 80);
	ret = argo_ring_insert(r, len, 80, &src, 0, iov, 3, 35);
	CU_ASSERT_EQUAL(ret, 16);
	CU_ASSERT_EQUAL(memcmp(r->ring, c, 3), 0);

	/* Header in the last slot: every piece lands from 0. */
	iov[0] = (struct iovec){a, 4};
	iov[1] = (struct iovec){b, 4};
	ring_reset(r, len, 112, 112);
	ret = argo_ring_insert(r, len, 112, &src, 0, iov, 2, 8);
	CU_ASSERT_EQUAL(ret, 16);
	CU_ASSERT_EQUAL(memcmp(r->ring, a, 4), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring + 4, b, 4), 0);
	free(r);
}

/* Xen does not zero the gap between a payload's end and the next slot. */
static void test_padding_not_zeroed(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t before[128], data[16];
	uint32_t i;

	fill_pat(data, sizeof(data), 21);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 5, 1, 1, 1), 32);
	for (i = 21; i < 32; i++)
		CHECKF(r->ring[i] == FILL, "pad byte %u = %#x\n", i, r->ring[i]);

	/* Distinct prior bytes, message wrapped: its padding keeps each one. */
	ring_reset(r, len, 112, 112);
	for (i = 0; i < len; i++)
		r->ring[i] = (uint8_t)(i ^ 0x5A);
	memcpy(before, r->ring, len);
	CU_ASSERT_EQUAL(put(r, len, 112, data, 3, 1, 1, 1), 16);
	CU_ASSERT_EQUAL(memcmp(r->ring, data, 3), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring + 3, before + 3, 13), 0);
	CU_ASSERT_EQUAL(memcmp(r->ring + 16, before + 16, 96), 0);
	free(r);
}

/* ---------------------------------------------------------------------------
 * Suite: reader.
 */

static void test_recv_empty(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t out[16];
	uint32_t o;

	for (o = 0; o < len; o += 16) {
		ring_reset(r, len, o, o);
		memset(out, 0x33, sizeof(out));
		CHECKF(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)) == -EAGAIN, "o=%u\n",
		       o);
		CHECKF(argo_ring_peek(r, len, NULL, NULL) == -EAGAIN, "o=%u\n", o);
		CHECKF(argo_ring_used(r, len) == 0, "o=%u\n", o);
		CHECKF(r->rx_ptr == o && r->tx_ptr == o, "o=%u\n", o);
		CHECKF(out[0] == 0x33, "o=%u\n", o);
	}
	free(r);
}

static void test_recv_buffer_too_small(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	struct xen_argo_addr src;
	uint8_t data[20], out[32];
	uint32_t type = 0;

	fill_pat(data, sizeof(data), 31);
	CU_ASSERT_EQUAL(put(r, len, 0, data, 20, 0x55, 0x1234, 9), 48);
	memset(out, 0x77, sizeof(out));
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, 19), -EMSGSIZE);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, 0), -EMSGSIZE);
	CU_ASSERT_EQUAL(r->rx_ptr, 0); /* the message stays */
	CU_ASSERT_EQUAL(out[0], 0x77);
	CU_ASSERT_EQUAL(argo_ring_peek(r, len, &src, &type), 20);
	CU_ASSERT_EQUAL(src.aport, 0x1234);
	CU_ASSERT_EQUAL(src.domain_id, 9);
	CU_ASSERT_EQUAL(type, 0x55);
	CU_ASSERT_EQUAL(argo_ring_peek(r, len, NULL, NULL), 20); /* still there */
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, 20), 20);
	CU_ASSERT_EQUAL(memcmp(out, data, 20), 0);
	CU_ASSERT_EQUAL(out[20], 0x77);
	CU_ASSERT_EQUAL(r->rx_ptr, 48);
	free(r);
}

/* A valid one-message ring (16-byte payload at 0, tx 32), then corrupted. */
static void corrupt_case(uint32_t rx, uint32_t tx, uint32_t hdr_len, const char *what)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[16], out[128];
	ssize_t n;

	fill_pat(data, sizeof(data), 41);
	CU_ASSERT_EQUAL_FATAL(put(r, len, 0, data, 16, 1, 1, 1), 32);
	r->rx_ptr = rx;
	r->tx_ptr = tx;
	memcpy(r->ring, &hdr_len, sizeof(hdr_len));
	memset(out, 0x66, sizeof(out));
	n = argo_ring_peek(r, len, NULL, NULL);
	CHECKF(n == -EBADMSG, "%s: peek %zd\n", what, n);
	n = argo_ring_recv(r, len, NULL, NULL, out, sizeof(out));
	CHECKF(n == -EBADMSG, "%s: recv %zd\n", what, n);
	CHECKF(r->rx_ptr == rx && r->tx_ptr == tx, "%s: consumed\n", what);
	CHECKF(out[0] == 0x66, "%s: buffer written\n", what);
	free(r);
}

static void test_recv_corrupt(void)
{
	/* Pointers. */
	corrupt_case(0, 17, 32, "tx unaligned");
	corrupt_case(0, 8, 32, "tx unaligned (< header)");
	corrupt_case(0, 128, 32, "tx == len");
	corrupt_case(0, 144, 32, "tx > len");
	corrupt_case(0, 0xFFFFFFF0u, 32, "tx huge");
	corrupt_case(1, 32, 32, "rx unaligned");
	corrupt_case(128, 32, 32, "rx == len");
	corrupt_case(0xFFFFFFFFu, 32, 32, "rx huge");
	/* The header. used == 32 bytes. */
	corrupt_case(0, 32, 0, "hdr.len 0");
	corrupt_case(0, 32, 15, "hdr.len 15");
	corrupt_case(0, 32, 33, "hdr.len 33 > used");
	corrupt_case(0, 32, 48, "hdr.len 48 > used");
	corrupt_case(0, 32, 0xFFFFFFF0u, "hdr.len huge");
	corrupt_case(0, 32, 0xFFFFFFFFu, "hdr.len max");
}

static void test_recv_header_len_edges(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[16], out[32];
	uint32_t hl;

	fill_pat(data, sizeof(data), 51);
	/* hdr.len exactly the used bytes: a 16-byte payload. */
	put(r, len, 0, data, 16, 1, 1, 1);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 16);
	CU_ASSERT_EQUAL(r->rx_ptr, 32);

	/* Header rewritten shorter: the reader trusts hdr.len for the slots it
	 * releases, then finds the garbage that follows. */
	ring_reset(r, len, 0, 0);
	put(r, len, 0, data, 16, 1, 1, 1);
	hl = 17;
	memcpy(r->ring, &hl, sizeof(hl));
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(r->rx_ptr, 32);

	ring_reset(r, len, 0, 0);
	put(r, len, 0, data, 16, 1, 1, 1);
	hl = 16;
	memcpy(r->ring, &hl, sizeof(hl));
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(r->rx_ptr, 16);
	/* The payload bytes now read as a header: 0x..-length garbage. */
	memset(r->ring + 16, 0xFF, 4);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), -EBADMSG);
	CU_ASSERT_EQUAL(r->rx_ptr, 16);

	/* A wrapped message whose header claims more than is used. */
	ring_reset(r, len, 96, 96);
	CU_ASSERT_EQUAL(put(r, len, 96, data, 16, 1, 1, 1), 0);
	hl = 16 + 17;
	memcpy(r->ring + 96, &hl, sizeof(hl));
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), -EBADMSG);
	CU_ASSERT_EQUAL(r->rx_ptr, 96);
	free(r);
}

static void test_peek_and_null_outputs(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	struct xen_argo_addr src;
	uint8_t out[8];
	uint32_t type = 0;

	put(r, len, 0, "abc", 3, 0xFEEDu, 0x7000, 4);
	CU_ASSERT_EQUAL(argo_ring_peek(r, len, &src, &type), 3);
	CU_ASSERT_EQUAL(src.aport, 0x7000);
	CU_ASSERT_EQUAL(src.domain_id, 4);
	CU_ASSERT_EQUAL(type, 0xFEEDu);
	CU_ASSERT_EQUAL(r->rx_ptr, 0);
	CU_ASSERT_EQUAL(argo_ring_peek(r, len, &src, NULL), 3);
	CU_ASSERT_EQUAL(argo_ring_peek(r, len, NULL, &type), 3);
	CU_ASSERT_EQUAL(r->rx_ptr, 0);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, out, sizeof(out)), 3);
	CU_ASSERT_EQUAL(memcmp(out, "abc", 3), 0);
	CU_ASSERT_EQUAL(r->rx_ptr, 32);
	free(r);
}

static void test_used(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t data[40] = {0};
	int64_t tx;

	ring_reset(r, len, 64, 64);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 0);
	tx = put(r, len, 64, data, 40, 1, 1, 1); /* 64 bytes: 64..127 */
	CU_ASSERT_EQUAL(tx, 0);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 64);
	tx = put(r, len, 0, data, 1, 1, 1, 1); /* 32 bytes: tx 32 < rx 64 */
	CU_ASSERT_EQUAL(tx, 32);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 96);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, data, sizeof(data)), 40);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 32);
	CU_ASSERT_EQUAL(argo_ring_recv(r, len, NULL, NULL, data, sizeof(data)), 1);
	CU_ASSERT_EQUAL(argo_ring_used(r, len), 0);
	free(r);
}

/* Reading ahead of rx_ptr, as a relay does: every message of a wrapped
 * stream read at its offset, nothing released, then released in steps; the
 * offsets chain exactly as argo_ring_recv() would move rx_ptr. */
static void test_read_at_chain_and_release(void)
{
	const uint32_t len = 256;
	struct xen_argo_ring *r = ring_new(len), *copy = ring_new(len);
	uint32_t start, at, next, i, offs[8];
	struct xen_argo_addr src;
	uint8_t out[64], data[40];
	uint32_t type;
	int64_t tx;

	for (start = 0; start < len; start += 16) {
		ring_reset(r, len, start, start);
		tx = start;
		for (i = 0; i < 4; i++) {
			memset(data, (int)(0x10 + i), sizeof(data));
			tx = put(r, len, (uint32_t)tx, data, 20 + i * 5, 100 + i, 7,
			         (argo_domid_t)i);
			CHECKF(tx >= 0, "start %u msg %u: %lld\n", start, i, (long long)tx);
		}
		memcpy(copy, r, sizeof(*r) + len);
		/* The reference: where recv moves rx_ptr after each message. */
		for (i = 0; i < 4; i++) {
			CHECKF(argo_ring_recv(copy, len, NULL, NULL, out, sizeof(out)) ==
			           (ssize_t)(20 + i * 5),
			       "start %u ref %u\n", start, i);
			offs[i] = copy->rx_ptr;
		}
		at = start;
		for (i = 0; i < 4; i++) {
			ssize_t n =
			    argo_ring_read_at(r, len, at, &src, &type, out, sizeof(out), &next);

			CHECKF(n == (ssize_t)(20 + i * 5) && next == offs[i] && type == 100 + i &&
			           src.domain_id == i && out[0] == 0x10 + i &&
			           out[n - 1] == 0x10 + i,
			       "start %u msg %u: n %zd next %u (want %u)\n", start, i, n, next,
			       offs[i]);
			at = next;
		}
		CHECKF(argo_ring_read_at(r, len, at, NULL, NULL, NULL, 0, &next) == -EAGAIN,
		       "start %u: read past the writer\n", start);
		CU_ASSERT_EQUAL(r->rx_ptr, start); /* nothing released yet */
		argo_ring_release_to(r, offs[1]);
		CU_ASSERT_EQUAL(r->rx_ptr, offs[1]);
		/* Released slots are no longer readable; unreleased ones are. */
		CHECKF(argo_ring_read_at(r, len, start, NULL, NULL, NULL, 0, &next) == -EBADMSG,
		       "start %u: released slot read\n", start);
		CHECKF(argo_ring_read_at(r, len, offs[1], NULL, NULL, NULL, 0, &next) == 30 &&
		           next == offs[2],
		       "start %u: third message after release\n", start);
		CU_ASSERT_EQUAL(argo_ring_used(r, len), (tx - offs[1] + len) % len);
	}
	free(r);
	free(copy);
}

static void test_read_at_refuses(void)
{
	const uint32_t len = 128;
	struct xen_argo_ring *r = ring_new(len);
	uint8_t out[8], data[8] = {0};
	uint32_t next = 0xDEAD;

	ring_reset(r, len, 32, 32);
	put(r, len, 32, data, 8, 1, 1, 1); /* 32 .. 64 */
	/* Not slot aligned, past the end, before rx, past tx. */
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 40, NULL, NULL, NULL, 0, &next), -EBADMSG);
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 128, NULL, NULL, NULL, 0, &next), -EBADMSG);
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 16, NULL, NULL, NULL, 0, &next), -EBADMSG);
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 96, NULL, NULL, NULL, 0, &next), -EBADMSG);
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 64, NULL, NULL, NULL, 0, &next), -EAGAIN);
	/* Too small a buffer: refused, the size still readable without one. */
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 32, NULL, NULL, out, 7, &next), -EMSGSIZE);
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 32, NULL, NULL, NULL, 0, &next), 8);
	CU_ASSERT_EQUAL(next, 64);
	/* A header claiming more than was written. */
	r->ring[32] = 16 + 40;
	CU_ASSERT_EQUAL(argo_ring_read_at(r, len, 32, NULL, NULL, NULL, 0, &next), -EBADMSG);
	CU_ASSERT_EQUAL(r->rx_ptr, 32);
	free(r);
}

/* ---------------------------------------------------------------------------
 */

int main(void)
{
	static const struct test_def helpers[] = {
	    T(test_roundup16),          T(test_sanitise_ptr), T(test_free_space),
	    T(test_fits_and_too_large), T(test_len_valid),    T(test_npages),
	};
	static const struct test_def writer[] = {
	    T(test_header_layout),
	    T(test_header_in_last_slot),
	    T(test_message_ends_at_ring_end),
	    T(test_wrap_every_offset),
	    T(test_several_messages_every_offset),
	    T(test_stream_model),
	    T(test_free_space_every_fill_level),
	    T(test_empty_and_full_edges),
	    T(test_max_message_size_on_empty_ring),
	    T(test_emsgsize_before_eagain),
	    T(test_insert_uses_sanitised_rx),
	    T(test_zero_iovs),
	    T(test_eight_iovs),
	    T(test_iov_straddle_wrap),
	    T(test_padding_not_zeroed),
	};
	static const struct test_def reader[] = {
	    T(test_recv_empty),
	    T(test_recv_buffer_too_small),
	    T(test_recv_corrupt),
	    T(test_recv_header_len_edges),
	    T(test_peek_and_null_outputs),
	    T(test_used),
	    T(test_read_at_chain_and_release),
	    T(test_read_at_refuses),
	};
	static const struct suite_def suites[] = {
	    SUITE("ring helpers", helpers),
	    SUITE("ring writer", writer),
	    SUITE("ring reader", reader),
	};

	return cunit_main(suites, N(suites));
}
