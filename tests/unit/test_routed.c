/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of routed mode's library side (common/routed.c,
 * argo/routed.h): global address parsing, the routed header's bytes, and
 * argo_routed_recv() on a ring filled by argo_ring_insert() (the fabric's
 * writer), which plays the relay and other domains. The expected header
 * bytes are written out here from docs/client-api.md, not produced by the
 * encoder under test.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argo/routed.h"
#include "../cunit_main.h"

#define RELAY  3
#define RLEN   4096u
#define MYPORT 40000u

static const uint8_t hdr_l0_5_7000[ARGO_ROUTED_HDR_SIZE] = {
    /* 0 magic "ARRT" */ 'A',
    'R',
    'R',
    'T',
    /* 4 version */ 0x01,
    0x00,
    /* 6 reserved */ 0x00,
    0x00,
    /* 8 hvid */ 'l',
    '0',
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    /* 24 domid */ 0x05,
    0x00,
    /* 26 reserved */ 0x00,
    0x00,
    /* 28 port 7000 */ 0x58,
    0x1B,
    0x00,
    0x00};

/* A ring of RLEN bytes owned by the test, and its handle. */
struct test_ring {
	struct argo_ring handle;
	uint32_t tx;
};

static struct test_ring *ring_new(void)
{
	struct test_ring *t = calloc(1, sizeof(*t));

	t->handle.shared = calloc(1, sizeof(struct xen_argo_ring) + RLEN);
	t->handle.len = RLEN;
	return t;
}

static void ring_free(struct test_ring *t)
{
	free(t->handle.shared);
	free(t);
}

/* As the fabric would write it: a message from (domid, port). */
static void deliver(struct test_ring *t, argo_domid_t domid, uint32_t port, uint32_t type,
                    const void *a, size_t alen, const void *b, size_t blen)
{
	struct xen_argo_addr src = {.aport = port, .domain_id = domid};
	struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
	int64_t tx = argo_ring_insert(t->handle.shared, RLEN, t->tx, &src, type, iov, 2,
	                              (uint32_t)(alen + blen));

	CU_ASSERT_FATAL(tx >= 0);
	t->tx = (uint32_t)tx;
}

static void test_gaddr_parse(void)
{
	struct argo_gaddr a;

	CU_ASSERT_EQUAL(argo_gaddr_parse("l0:5:7000", &a), 0);
	CU_ASSERT_STRING_EQUAL(a.hvid, "l0");
	CU_ASSERT_EQUAL(a.domid, 5);
	CU_ASSERT_EQUAL(a.port, 7000);
	CU_ASSERT_EQUAL(argo_gaddr_parse("abcdefghijklmno:0:0xA4600000", &a), 0);
	CU_ASSERT_EQUAL(a.port, 0xA4600000u);
	CU_ASSERT_EQUAL(argo_gaddr_parse("abcdefghijklmnop:0:1", &a), -EINVAL); /* 16 bytes */
	CU_ASSERT_EQUAL(argo_gaddr_parse(":5:7000", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse("l0:5", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse("l0:5:", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse("l0::7000", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse("l0:32752:1", &a), -EINVAL); /* a reserved domid */
	CU_ASSERT_EQUAL(argo_gaddr_parse("l0:5:4294967296", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse("l 0:5:7000", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse("l0:5:7000x", &a), -EINVAL);
	CU_ASSERT_EQUAL(argo_gaddr_parse(NULL, &a), -EINVAL);
}

static void test_header_bytes(void)
{
	struct argo_gaddr a = {"l0", 5, 7000}, back;
	uint8_t h[ARGO_ROUTED_HDR_SIZE];

	memset(h, 0xEE, sizeof(h));
	argo_routed_hdr_put(h, &a);
	CU_ASSERT_EQUAL(memcmp(h, hdr_l0_5_7000, sizeof(h)), 0);
	CU_ASSERT_EQUAL(argo_routed_hdr_get(hdr_l0_5_7000, &back), 0);
	CU_ASSERT_STRING_EQUAL(back.hvid, "l0");
	CU_ASSERT_EQUAL(back.domid, 5);
	CU_ASSERT_EQUAL(back.port, 7000);
	/* Every byte the decoder must check, changed one at a time. */
	for (unsigned int i = 0; i < 28; i++) {
		uint8_t bad[ARGO_ROUTED_HDR_SIZE];
		int ret;

		if (i >= 24 && i < 26)
			continue; /* domid: any value is an address */
		memcpy(bad, hdr_l0_5_7000, sizeof(bad));
		bad[i] ^= (i == 8 || i == 9) ? 0x80 : 0x01; /* hvid: an invalid character */
		ret = argo_routed_hdr_get(bad, &back);
		if (ret != -EBADMSG)
			fprintf(stderr, "\n    byte %u changed: %d\n", i, ret);
		CU_ASSERT_EQUAL(ret, -EBADMSG);
	}
}

static void test_recv_routed_and_plain(void)
{
	struct test_ring *t = ring_new();
	struct argo_gaddr src;
	uint8_t buf[256];
	uint32_t type = 0;

	/* From the relay's routed port: the header is taken off. */
	deliver(t, RELAY, ARGO_ROUTED_PORT, 77, hdr_l0_5_7000, sizeof(hdr_l0_5_7000), "hello", 5);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, &type, buf, sizeof(buf)), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
	CU_ASSERT_STRING_EQUAL(src.hvid, "l0");
	CU_ASSERT_EQUAL(src.domid, 5);
	CU_ASSERT_EQUAL(src.port, 7000);
	CU_ASSERT_EQUAL(type, 77);
	/* A local domain forging a header from port ARGO_ROUTED_PORT: it is
	 * not the relay, so the bytes are its payload, unbelieved. */
	deliver(t, 9, ARGO_ROUTED_PORT, 1, hdr_l0_5_7000, sizeof(hdr_l0_5_7000), "x", 1);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)), 33);
	CU_ASSERT_STRING_EQUAL(src.hvid, "");
	CU_ASSERT_EQUAL(src.domid, 9);
	CU_ASSERT_EQUAL(src.port, ARGO_ROUTED_PORT);
	/* The relay from another port: a plain message too. */
	deliver(t, RELAY, 1234, 1, "abc", 3, NULL, 0);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)), 3);
	CU_ASSERT_STRING_EQUAL(src.hvid, "");
	CU_ASSERT_EQUAL(src.port, 1234);
	/* A bad header from the relay: consumed and refused, then on. */
	{
		uint8_t bad[ARGO_ROUTED_HDR_SIZE];

		memcpy(bad, hdr_l0_5_7000, sizeof(bad));
		bad[4] = 2; /* version */
		deliver(t, RELAY, ARGO_ROUTED_PORT, 1, bad, sizeof(bad), "y", 1);
		deliver(t, RELAY, ARGO_ROUTED_PORT, 1, "short", 5, NULL, 0);
	}
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)),
	                -EBADMSG);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)),
	                -EBADMSG);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)), -EAGAIN);
	/* A buffer without room for the header: refused, nothing consumed. */
	deliver(t, RELAY, ARGO_ROUTED_PORT, 1, hdr_l0_5_7000, sizeof(hdr_l0_5_7000), "12345678", 8);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, 39), -EMSGSIZE);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, 40), 8);
	ring_free(t);
}

static void test_recv_reports(void)
{
	struct test_ring *t = ring_new();
	static const int errs[] = {ECONNREFUSED, EMSGSIZE, EACCES, EHOSTUNREACH};
	struct argo_gaddr src;
	uint8_t buf[256], report[28];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		memset(report, 0, sizeof(report));
		report[0] = (uint8_t)errs[i];
		memcpy(report + 4, hdr_l0_5_7000 + 8, 24); /* the failed destination */
		deliver(t, RELAY, ARGO_ROUTED_PORT, ARGO_MSGTYPE_UNDELIVERABLE, report,
		        sizeof(report), NULL, 0);
		memset(&src, 0, sizeof(src));
		CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)),
		                -errs[i]);
		CU_ASSERT_STRING_EQUAL(src.hvid, "l0");
		CU_ASSERT_EQUAL(src.port, 7000);
	}
	/* A report about a message whose routed header was unreadable names
	 * no destination: EINVAL, with an empty source. */
	memset(report, 0, sizeof(report));
	report[0] = EINVAL;
	deliver(t, RELAY, ARGO_ROUTED_PORT, ARGO_MSGTYPE_UNDELIVERABLE, report, sizeof(report),
	        NULL, 0);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(src.hvid, "");
	/* A report with an error of 0 or a bad length is not believed. */
	memcpy(report + 4, hdr_l0_5_7000 + 8, 24);
	memset(report + 0, 0, 4);
	deliver(t, RELAY, ARGO_ROUTED_PORT, ARGO_MSGTYPE_UNDELIVERABLE, report, sizeof(report),
	        NULL, 0);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)),
	                -EBADMSG);
	report[0] = ECONNREFUSED;
	deliver(t, RELAY, ARGO_ROUTED_PORT, ARGO_MSGTYPE_UNDELIVERABLE, report, 27, NULL, 0);
	CU_ASSERT_EQUAL(argo_routed_recv(&t->handle, RELAY, &src, NULL, buf, sizeof(buf)),
	                -EBADMSG);
	ring_free(t);
}

/* The report encoder writes what the decoder (and argo_routed_recv, above)
 * reads: the error, then the destination as in a routed header. */
static void test_report_bytes(void)
{
	struct argo_gaddr dst = {"l0", 5, 7000}, got, none = {"", 0, 0};
	uint8_t report[ARGO_ROUTED_REPORT_SIZE + 1], expect[ARGO_ROUTED_REPORT_SIZE] = {0};
	uint32_t error = 0;

	expect[0] = EHOSTUNREACH;
	memcpy(expect + 4, hdr_l0_5_7000 + 8, 24);
	memset(report, 0xAA, sizeof(report));
	argo_routed_report_put(report, EHOSTUNREACH, &dst);
	CU_ASSERT_EQUAL(memcmp(report, expect, sizeof(expect)), 0);
	CU_ASSERT_EQUAL(report[ARGO_ROUTED_REPORT_SIZE], 0xAA); /* nothing past it */
	CU_ASSERT_EQUAL(argo_routed_report_get(report, ARGO_ROUTED_REPORT_SIZE, &error, &got), 0);
	CU_ASSERT_EQUAL(error, EHOSTUNREACH);
	CU_ASSERT_STRING_EQUAL(got.hvid, "l0");
	CU_ASSERT_EQUAL(got.domid, 5);
	CU_ASSERT_EQUAL(got.port, 7000);
	/* No destination (the routed header was unreadable): an empty hvid. */
	argo_routed_report_put(report, EINVAL, &none);
	CU_ASSERT_EQUAL(argo_routed_report_get(report, ARGO_ROUTED_REPORT_SIZE, &error, &got), 0);
	CU_ASSERT_EQUAL(error, EINVAL);
	CU_ASSERT_STRING_EQUAL(got.hvid, "");
	/* A wrong length, a bad hvid or a non-zero reserved field is refused. */
	argo_routed_report_put(report, EINVAL, &dst);
	CU_ASSERT_EQUAL(argo_routed_report_get(report, ARGO_ROUTED_REPORT_SIZE - 1, &error, &got),
	                -EBADMSG);
	CU_ASSERT_EQUAL(argo_routed_report_get(report, ARGO_ROUTED_REPORT_SIZE + 1, &error, &got),
	                -EBADMSG);
	report[4 + 2] = '!';
	CU_ASSERT_EQUAL(argo_routed_report_get(report, ARGO_ROUTED_REPORT_SIZE, &error, &got),
	                -EBADMSG);
	argo_routed_report_put(report, EINVAL, &dst);
	report[4 + 18] = 1;
	CU_ASSERT_EQUAL(argo_routed_report_get(report, ARGO_ROUTED_REPORT_SIZE, &error, &got),
	                -EBADMSG);
}

static void test_sendv_refuses(void)
{
	struct argo_gaddr bad = {"", 5, 7000}, good = {"l0", 5, 7000};
	struct iovec iov[XEN_ARGO_MAXIOV] = {{0}};

	/* Refused before the fabric is touched (NULL here). */
	CU_ASSERT_EQUAL(argo_routed_sendv(NULL, RELAY, MYPORT, &bad, iov, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(argo_routed_sendv(NULL, RELAY, MYPORT, NULL, iov, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(argo_routed_sendv(NULL, RELAY, MYPORT, &good, iov, XEN_ARGO_MAXIOV, 0),
	                -EINVAL);
	CU_ASSERT_EQUAL(argo_routed_sendv(NULL, RELAY, MYPORT, &good, NULL, 1, 0), -EINVAL);
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_gaddr_parse),  T(test_header_bytes),  T(test_recv_routed_and_plain),
	    T(test_recv_reports), T(test_report_bytes), T(test_sendv_refuses),
	};
	static const struct suite_def suites[] = {SUITE("routed mode", tests)};

	return cunit_main(suites, N(suites));
}
