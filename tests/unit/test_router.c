/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the relay's router (relay/router.c), for what becomes of
 * undeliverable reports: the ones this relay makes are limited to
 * report_rate per destination and the rest counted; the ones it passes on
 * from a link are never limited again. Before, a report passed on met each
 * relay's bucket on the way back; the buckets drift apart by the jitter
 * between the relays, so at the edge of a burst one relay of the path could
 * drop a report the relay that made it had counted as sent (issue 11,
 * service-restart-conversation-survives).
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "router.h"
#include "../cunit_main.h"

/* ---- stubs for what router.c uses from the rest of the relay ---- */

void relay_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

bool config_policy_allows(const struct relay_config *c, const struct wire_gaddr *src,
                          const struct wire_gaddr *dst)
{
	(void)c;
	(void)src;
	(void)dst;
	return true;
}

/* ---- a link as the source of messages: it counts the reports ---- */

static unsigned int reports_back, done_count;
static uint64_t last_report_seq;

static void source_done(void *source, uint64_t seq, uint32_t len)
{
	(void)source;
	(void)seq;
	(void)len;
	done_count++;
}

static void source_release(void *source, uint64_t seq, uint32_t len)
{
	(void)source;
	(void)seq;
	(void)len;
}

static void source_report(void *source, uint64_t seq, const struct wire_undeliverable *u)
{
	(void)source;
	(void)u;
	last_report_seq = seq;
	reports_back++;
}

static const struct msg_source_ops link_ops = {
    .done = source_done,
    .release = source_release,
    .report = source_report,
};

static struct relay_config config;
static struct router router;
static struct msg_account account = {.limit = 1u << 20};

static void setup(void)
{
	memset(&config, 0, sizeof(config));
	strcpy(config.hvid, "l1");
	config.report_rate = 100;
	router_init(&router, &config);
	reports_back = done_count = 0;
}

/* A message from l2:1:40000 to l0:5:7000 that came in on a link with msn
 * seq. */
static struct msg *from_link(uint64_t seq)
{
	struct msg *m = msg_new(&account, 8);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	strcpy(m->src.hvid, "l2");
	m->src.domid = 1;
	m->src.port = 40000;
	strcpy(m->dst.hvid, "l0");
	m->dst.domid = 5;
	m->dst.port = 7000;
	m->msn = seq;
	msg_hold(m, &link_ops, NULL, seq);
	return m;
}

static struct wire_undeliverable report_for(const struct msg *m)
{
	struct wire_undeliverable u;

	memset(&u, 0, sizeof(u));
	u.msn = m->msn;
	u.src = m->src;
	u.dst = m->dst;
	u.error = ECONNREFUSED;
	return u;
}

/* Reports this relay makes: report_rate at once (plus what the time the
 * loop takes refills), the rest suppressed and counted; every message is
 * done with either way. */
static void test_own_reports_limited(void)
{
	unsigned int i, n = 300;

	setup();
	for (i = 0; i < n; i++)
		router_undeliverable(&router, from_link(i + 1), ECONNREFUSED);
	CU_ASSERT_EQUAL(done_count, n);
	CU_ASSERT_EQUAL(router.counters.undeliverable_noring, n);
	CU_ASSERT_EQUAL(reports_back + router.counters.reports_suppressed, n);
	CU_ASSERT(reports_back >= 100);
	CU_ASSERT(router.counters.reports_suppressed > 0);
	CU_ASSERT_EQUAL(account.messages, 0);
}

/* Reports another relay made, passed on from a link: every one goes back,
 * whatever the burst; none is suppressed here. */
static void test_passed_on_reports_not_limited(void)
{
	unsigned int i, n = 1000, answered = 0;

	setup();
	for (i = 0; i < n; i++) {
		struct msg *m = from_link(i + 1);
		struct wire_undeliverable u = report_for(m);

		last_report_seq = 0;
		router_report(&router, &u, m);
		/* Back to the link it came from, for the msn it came with. */
		answered += last_report_seq == i + 1;
		msg_done(m);
	}
	CU_ASSERT_EQUAL(reports_back, n);
	CU_ASSERT_EQUAL(answered, n);
	CU_ASSERT_EQUAL(router.counters.reports_suppressed, 0);
	CU_ASSERT_EQUAL(account.messages, 0);
}

/* The reports this relay makes still meet a full bucket after a burst
 * passed on to the same destination: passing on takes no tokens. */
static void test_passed_on_take_no_tokens(void)
{
	unsigned int i;

	setup();
	for (i = 0; i < 500; i++) {
		struct msg *m = from_link(i + 1);
		struct wire_undeliverable u = report_for(m);

		router_report(&router, &u, m);
		msg_done(m);
	}
	reports_back = 0;
	for (i = 0; i < 100; i++)
		router_undeliverable(&router, from_link(1000 + i), ECONNREFUSED);
	CU_ASSERT_EQUAL(reports_back, 100);
	CU_ASSERT_EQUAL(router.counters.reports_suppressed, 0);
}

/* report_rate 0: no limit on the reports this relay makes either. */
static void test_no_limit(void)
{
	unsigned int i, n = 1000;

	setup();
	config.report_rate = 0;
	for (i = 0; i < n; i++)
		router_undeliverable(&router, from_link(i + 1), ECONNREFUSED);
	CU_ASSERT_EQUAL(reports_back, n);
	CU_ASSERT_EQUAL(router.counters.reports_suppressed, 0);
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_own_reports_limited),
	    T(test_passed_on_reports_not_limited),
	    T(test_passed_on_take_no_tokens),
	    T(test_no_limit),
	};
	static const struct suite_def suites[] = {SUITE("router", tests)};

	return cunit_main(suites, N(suites));
}
