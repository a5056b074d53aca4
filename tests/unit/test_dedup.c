/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the relay's delivered-messages table (relay/dedup.c): what
 * counts as a copy, what survives a restart (the file in state_dir), how
 * the one delivery in flight is settled with the fabric's send tag, and
 * what happens when the table is full. The fabric is a stub here: its last
 * send tag is a variable the test sets, as argo-simd would have recorded it.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dedup.h"
#include "log.h"
#include "strbuf.h"
#include "../cunit_main.h"

/* ---- stubs for what dedup.c uses from the relay and libargo ---- */

static uint64_t fabric_tag;    /* the fabric's record of the last tagged send */
static int fabric_tag_err;     /* what argo_last_send_tag returns */
static unsigned int log_lines; /* relay_log calls at level 0 */

int argo_last_send_tag(struct argo_fabric *fabric, uint64_t *tag)
{
	(void)fabric;
	if (!tag)
		return -EFAULT; /* as libargo */
	*tag = fabric_tag;
	return fabric_tag_err;
}

const char *argo_strerror(int err)
{
	return strerror(-err);
}

void relay_log(int level, const char *fmt, ...)
{
	(void)fmt;
	if (level == 0)
		log_lines++;
}

void strbuf_add(struct strbuf *sb, const char *fmt, ...)
{
	(void)sb;
	(void)fmt;
}

/* ---- helpers ---- */

static struct relay_config config;
static struct dedup *table;
static char dir[] = "/tmp/argo-dedup-test.XXXXXX";

static void open_table(void)
{
	CU_ASSERT_FATAL(dedup_open(&table, config.state_dir, NULL) == 0);
}

static struct msg msg_for(uint64_t epoch, uint32_t index, uint32_t dst_port)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	strcpy(m.src.hvid, "l2");
	m.src.domid = 3;
	m.src.port = 40000;
	strcpy(m.dst.hvid, "l0");
	m.dst.domid = 5;
	m.dst.port = dst_port;
	m.origin.epoch = epoch;
	m.origin.index = index;
	return m;
}

/* One delivery as fabric_out.c makes it: begin, the send, end. */
static void deliver(const struct msg *m, bool ok)
{
	uint64_t tag = dedup_begin(table, m);

	if (ok && tag)
		fabric_tag = tag; /* the fabric records it with the send */
	dedup_end(table, ok);
}

static void fresh(void)
{
	char path[sizeof(dir) + 16];

	dedup_close(table);
	table = NULL;
	snprintf(path, sizeof(path), "%s/delivered", dir);
	unlink(path);
	fabric_tag = 0;
	fabric_tag_err = 0;
	log_lines = 0;
	open_table();
}

/* ---- tests ---- */

static void test_copies_and_window(void)
{
	struct msg m;

	fresh();
	m = msg_for(77, 10, 7000);
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	m.origin.index = 9;
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	m.origin.index = 11;
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	/* Another destination, epoch or source is another stream. */
	m = msg_for(77, 10, 7001);
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	m = msg_for(78, 10, 7000);
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	m = msg_for(77, 10, 7000);
	strcpy(m.src.hvid, "l1");
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	/* The window: a copy is at most 2^24 below; a new message may be any
	 * distance above, even more than 2^31 (a routed port feeding many
	 * destinations), and across the 2^32 wrap. */
	m = msg_for(77, 10 - (1u << 24) + 1, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	m.origin.index = 10 - (1u << 24);
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	m.origin.index = 10 + (1u << 31) + 5;
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	m = msg_for(77, 0xFFFFFFF0u, 7002);
	deliver(&m, true);
	m.origin.index = 3; /* after the wrap */
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	deliver(&m, true);
	m.origin.index = 0xFFFFFFF5u; /* before the wrap: a copy */
	CU_ASSERT_TRUE(dedup_seen(table, &m));
}

static void test_failed_send_leaves_nothing(void)
{
	struct msg m = msg_for(5, 1, 7000);

	fresh();
	deliver(&m, false);
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	CU_ASSERT_EQUAL(fabric_tag, 0);
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
}

static void test_survives_restart(void)
{
	struct msg m = msg_for(9, 100, 7000);

	fresh();
	deliver(&m, true);
	dedup_close(table);
	table = NULL;
	open_table();
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	m.origin.index = 101;
	CU_ASSERT_FALSE(dedup_seen(table, &m));
}

/* state_sync: the intent and the record of every delivery are written
 * through to the disk (two msync calls), and what they wrote is in the file
 * itself (read back through another mapping: the table a new run maps). */
static void test_state_sync(void)
{
	struct msg m = msg_for(11, 5, 7000);
	struct dedup *second = NULL;

	fresh();
	deliver(&m, true);
	CU_ASSERT_EQUAL(dedup_syncs(table), 0);
	dedup_set_sync(table, true);
	m.origin.index = 6;
	deliver(&m, true);
	CU_ASSERT_EQUAL(dedup_syncs(table), 2);
	deliver(&m, false); /* the intent only */
	CU_ASSERT_EQUAL(dedup_syncs(table), 3);
	CU_ASSERT_EQUAL(log_lines, 0);
	CU_ASSERT_FATAL(dedup_open(&second, config.state_dir, NULL) == 0);
	CU_ASSERT_TRUE(dedup_seen(second, &m));
	dedup_close(second);
}

/* Killed between the send and the record: the fabric's tag decides. */
static void test_settle_in_flight(void)
{
	struct msg m = msg_for(4, 50, 7000);
	uint64_t tag;

	fresh();
	tag = dedup_begin(table, &m);
	CU_ASSERT(tag != 0);
	fabric_tag = tag; /* the send happened; the process died here */
	dedup_close(table);
	table = NULL;
	open_table();
	CU_ASSERT_TRUE(dedup_seen(table, &m));

	m = msg_for(4, 51, 7000);
	tag = dedup_begin(table, &m);
	/* died before the send: the fabric still has the previous tag */
	dedup_close(table);
	table = NULL;
	open_table();
	CU_ASSERT_FALSE(dedup_seen(table, &m));
	/* The next tag is never one the fabric already holds. */
	CU_ASSERT(dedup_begin(table, &m) > fabric_tag);
	dedup_end(table, false);
	(void)tag;
}

/* A file started afresh while the fabric kept its last tag (from the old
 * file): new tags start above it, so a stale intent cannot look done. */
static void test_tags_never_go_back(void)
{
	struct msg m = msg_for(1, 1, 7000);

	fresh();
	dedup_close(table);
	table = NULL;
	fabric_tag = 1000;
	open_table();
	CU_ASSERT(dedup_begin(table, &m) == 1001);
	dedup_end(table, false);
}

/* Without tags from the fabric (the xen backend before it had them): a
 * warning, untagged sends, and the table still works. */
static void test_no_tags(void)
{
	struct msg m = msg_for(2, 7, 7000);

	fresh();
	dedup_close(table);
	table = NULL;
	fabric_tag_err = -EOPNOTSUPP;
	log_lines = 0;
	open_table();
	CU_ASSERT(log_lines >= 1);
	CU_ASSERT_EQUAL(dedup_begin(table, &m), 0);
	dedup_end(table, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	fabric_tag_err = 0;
}

static void test_full_table(void)
{
	struct msg m;
	uint32_t i;

	fresh();
	for (i = 0; i < 8192; i++) {
		m = msg_for(1000 + i, 1, 7000);
		deliver(&m, true);
	}
	m = msg_for(1000, 1, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	/* Stream 1000 is used again: now 1001 is the oldest. */
	m.origin.index = 2;
	deliver(&m, true);
	log_lines = 0;
	m = msg_for(99999, 1, 7000);
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	CU_ASSERT_EQUAL(log_lines, 1);
	m = msg_for(1001, 1, 7000);
	CU_ASSERT_FALSE(dedup_seen(table, &m)); /* it made room */
	m = msg_for(1000, 2, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
	m = msg_for(1002, 1, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m));
}

static void test_foreign_file(void)
{
	char path[sizeof(dir) + 16];
	FILE *f;
	struct msg m = msg_for(3, 3, 7000);

	fresh();
	deliver(&m, true);
	dedup_close(table);
	table = NULL;
	snprintf(path, sizeof(path), "%s/delivered", dir);
	f = fopen(path, "r+");
	CU_ASSERT_FATAL(f != NULL);
	fputs("not a table", f);
	fclose(f);
	log_lines = 0;
	open_table();
	CU_ASSERT_EQUAL(log_lines, 1);
	CU_ASSERT_FALSE(dedup_seen(table, &m));
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_copies_and_window),  T(test_failed_send_leaves_nothing),
	    T(test_survives_restart),   T(test_settle_in_flight),
	    T(test_tags_never_go_back), T(test_no_tags),
	    T(test_full_table),         T(test_foreign_file),
	    T(test_state_sync),
	};
	static const struct suite_def suites[] = {SUITE("delivered-messages table", tests)};
	char path[sizeof(dir) + 16];
	int ret;

	if (!mkdtemp(dir))
		return 2;
	memcpy(config.state_dir, dir, sizeof(dir));
	ret = cunit_main(suites, N(suites));
	dedup_close(table);
	table = NULL;
	snprintf(path, sizeof(path), "%s/delivered", dir);
	unlink(path);
	rmdir(dir);
	return ret;
}
