/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the shared helpers (common/util): the one number parser of
 * the configuration and the transports' addresses, little-endian packing,
 * the growing string, and the event loop's watchers and timers.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bytes.h"
#include "clock.h"
#include "evloop.h"
#include "parse.h"
#include "strbuf.h"
#include "../cunit_main.h"

static void test_parse_accepts(void)
{
	uint64_t v = 0;
	uint32_t w = 0;

	CU_ASSERT_EQUAL(parse_u64("0", 10, &v), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_MAX);
	CU_ASSERT_EQUAL(parse_u32("0x7FEF", UINT32_MAX, &w), 0);
	CU_ASSERT_EQUAL(w, 0x7fef);
	CU_ASSERT_EQUAL(parse_u32("0XfF", UINT32_MAX, &w), 0);
	CU_ASSERT_EQUAL(w, 255);
	CU_ASSERT_EQUAL(parse_u32("010", UINT32_MAX, &w), 0);
	CU_ASSERT_EQUAL(w, 10); /* decimal, never octal */
	CU_ASSERT_EQUAL(parse_u32n("7100:5", 4, UINT32_MAX, &w), 0);
	CU_ASSERT_EQUAL(w, 7100);
	CU_ASSERT_EQUAL(parse_u32("4294967295", UINT32_MAX, &w), 0);
	CU_ASSERT_EQUAL(w, UINT32_MAX);
}

static void test_parse_refuses(void)
{
	static const char *const bad[] = {"",
	                                  "0x",
	                                  "x1",
	                                  "-1",
	                                  "+1",
	                                  " 1",
	                                  "1 ",
	                                  "1x",
	                                  "0x-1",
	                                  "0x0x10",
	                                  "1.5",
	                                  "0x1g",
	                                  "18446744073709551616",
	                                  "99999999999999999999999"};
	uint64_t v = 42;
	uint32_t w = 42;
	size_t i;

	for (i = 0; i < N(bad); i++) {
		CU_ASSERT_EQUAL(parse_u64(bad[i], UINT64_MAX, &v), -EINVAL);
		CU_ASSERT_EQUAL(v, 42); /* never written on failure */
	}
	CU_ASSERT_EQUAL(parse_u32("4294967296", UINT32_MAX, &w), -EINVAL);
	CU_ASSERT_EQUAL(parse_u32("11", 10, &w), -EINVAL); /* above max */
	CU_ASSERT_EQUAL(parse_u32n("12", 0, UINT32_MAX, &w), -EINVAL);
	CU_ASSERT_EQUAL(w, 42);
}

static void test_bytes_little_endian(void)
{
	uint8_t b[8];

	put_u16(b, 0x1234);
	CU_ASSERT(b[0] == 0x34 && b[1] == 0x12);
	put_u32(b, 0x89abcdefu);
	CU_ASSERT(b[0] == 0xef && b[1] == 0xcd && b[2] == 0xab && b[3] == 0x89);
	CU_ASSERT_EQUAL(get_u32(b), 0x89abcdefu);
	put_u64(b, 0x0102030405060708ull);
	CU_ASSERT(b[0] == 8 && b[7] == 1);
	CU_ASSERT_EQUAL(get_u64(b), 0x0102030405060708ull);
	CU_ASSERT_EQUAL(get_u16(b + 6), 0x0102);
}

static void test_strbuf_grows(void)
{
	struct strbuf sb = {0};
	int i;

	for (i = 0; i < 1000; i++)
		strbuf_add(&sb, "%d,", i % 10);
	CU_ASSERT_EQUAL(sb.len, 2000);
	CU_ASSERT_EQUAL(strlen(sb.buf), 2000);
	CU_ASSERT_EQUAL(memcmp(sb.buf, "0,1,2,", 6), 0);
	CU_ASSERT_EQUAL(memcmp(sb.buf + 1994, "7,8,9,", 6), 0);
	free(sb.buf);
}

/* ---- the event loop ---- */

static int fired_watch, fired_timer;
static uint32_t seen_events;

static void on_readable(struct ev_watcher *w, uint32_t events)
{
	char c;

	fired_watch++;
	seen_events = events;
	if (read(w->fd, &c, 1) != 1)
		fired_watch += 100;
}

static void on_timer(struct ev_timer *t)
{
	(void)t;
	fired_timer++;
}

static void test_evloop_watchers_and_timers(void)
{
	struct evloop loop;
	struct ev_watcher w;
	struct ev_timer t, later;
	uint64_t t0;
	int p[2];

	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	ev_watcher_init(&w, on_readable, NULL);
	ev_timer_init(&t, on_timer, NULL);
	ev_timer_init(&later, on_timer, NULL);
	CU_ASSERT_EQUAL(ev_watch(&loop, &w, p[0], EPOLLIN), 0);
	/* Armed twice and moved: it fires once, when due (about 20 ms). */
	t0 = now_ms();
	ev_timer_arm(&loop, &t, t0 + 1000);
	ev_timer_arm(&loop, &t, t0 + 20);
	ev_timer_arm(&loop, &later, t0 + 60000);
	while (!fired_timer)
		CU_ASSERT_FATAL(evloop_run_once(&loop) >= 0);
	CU_ASSERT(now_ms() >= t0 + 20);
	CU_ASSERT_EQUAL(fired_timer, 1);
	CU_ASSERT_FALSE(t.armed);
	CU_ASSERT_EQUAL(fired_watch, 0);
	ev_timer_cancel(&later);
	/* A readable pipe: the watcher's own handler, with EPOLLIN. */
	CU_ASSERT_EQUAL(write(p[1], "x", 1), 1);
	CU_ASSERT_EQUAL(evloop_run_once(&loop), 1);
	CU_ASSERT_EQUAL(fired_watch, 1);
	CU_ASSERT(seen_events & EPOLLIN);
	/* Unwatched: no handler, and nothing armed means no wait either way
	 * (a timer 10 ms out ends the round). */
	ev_unwatch(&loop, &w);
	CU_ASSERT_EQUAL(w.fd, -1);
	CU_ASSERT_EQUAL(write(p[1], "y", 1), 1);
	ev_timer_arm(&loop, &t, now_ms() + 10);
	CU_ASSERT_EQUAL(evloop_run_once(&loop), 0);
	CU_ASSERT_EQUAL(fired_watch, 1);
	CU_ASSERT_EQUAL(fired_timer, 2);
	close(p[0]);
	close(p[1]);
	evloop_fini(&loop);
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_parse_accepts),
	    T(test_parse_refuses),
	    T(test_bytes_little_endian),
	    T(test_strbuf_grows),
	    T(test_evloop_watchers_and_timers),
	};
	static const struct suite_def suites[] = {SUITE("util", tests)};

	return cunit_main(suites, N(suites));
}
