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
#include <sys/stat.h>
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

/* What dedup_dump() wrote last (appended). */
static char dumped[512];

void strbuf_add(struct strbuf *sb, const char *fmt, ...)
{
	size_t used = strlen(dumped);
	va_list ap;

	(void)sb;
	va_start(ap, fmt);
	vsnprintf(dumped + used, sizeof(dumped) - used, fmt, ap);
	va_end(ap);
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
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	m.origin.index = 9;
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	m.origin.index = 11;
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	/* Another destination, epoch or source is another stream. */
	m = msg_for(77, 10, 7001);
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	m = msg_for(78, 10, 7000);
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	m = msg_for(77, 10, 7000);
	strcpy(m.src.hvid, "l1");
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	/* The window: a copy is at most 2^24 below; a new message may be any
	 * distance above, even more than 2^31 (a routed port feeding many
	 * destinations), and across the 2^32 wrap. */
	m = msg_for(77, 10 - (1u << 24) + 1, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	m.origin.index = 10 - (1u << 24);
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	m.origin.index = 10 + (1u << 31) + 5;
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	m = msg_for(77, 0xFFFFFFF0u, 7002);
	deliver(&m, true);
	m.origin.index = 3; /* after the wrap */
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	deliver(&m, true);
	m.origin.index = 0xFFFFFFF5u; /* before the wrap: a copy */
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
}

static void test_failed_send_leaves_nothing(void)
{
	struct msg m = msg_for(5, 1, 7000);

	fresh();
	deliver(&m, false);
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	CU_ASSERT_EQUAL(fabric_tag, 0);
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
}

static void test_survives_restart(void)
{
	struct msg m = msg_for(9, 100, 7000);

	fresh();
	deliver(&m, true);
	dedup_close(table);
	table = NULL;
	open_table();
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	m.origin.index = 101;
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
}

/* state_sync = each: the record of every delivery is written through to
 * the disk (one msync; the intent never is), and what it wrote is in the
 * file itself (read back through another mapping: the table a new run
 * maps). */
static void test_state_sync(void)
{
	struct msg m = msg_for(11, 5, 7000);
	struct dedup *second = NULL;

	fresh();
	deliver(&m, true);
	CU_ASSERT_EQUAL(dedup_syncs(table), 0);
	CU_ASSERT_FALSE(dedup_dirty(table));
	dedup_set_sync(table, STATE_SYNC_EACH);
	m.origin.index = 6;
	deliver(&m, true);
	CU_ASSERT_EQUAL(dedup_syncs(table), 1);
	CU_ASSERT_FALSE(dedup_dirty(table));
	deliver(&m, false); /* the intent only: nothing written through */
	CU_ASSERT_EQUAL(dedup_syncs(table), 1);
	CU_ASSERT_EQUAL(log_lines, 0);
	CU_ASSERT_FATAL(dedup_open(&second, config.state_dir, NULL) == 0);
	CU_ASSERT_TRUE(dedup_seen(second, &m, NULL));
	dedup_close(second);
}

/* state_sync = batch (yes): records stay dirty until the owner flushes,
 * then one msync writes them all; a failed send dirties nothing. */
static void test_state_sync_batch(void)
{
	struct msg m = msg_for(12, 1, 7000);
	int i;

	fresh();
	dedup_set_sync(table, STATE_SYNC_BATCH);
	deliver(&m, false);
	CU_ASSERT_FALSE(dedup_dirty(table));
	for (i = 0; i < 50; i++) {
		m = msg_for(12 + (uint64_t)(i % 3), (uint32_t)(10 + i), 7000 + (uint32_t)(i % 5));
		deliver(&m, true);
	}
	dedup_undeliverable(table, &m, ECONNREFUSED);
	CU_ASSERT_TRUE(dedup_dirty(table));
	CU_ASSERT_EQUAL(dedup_syncs(table), 0);
	dedup_flush(table);
	CU_ASSERT_EQUAL(dedup_syncs(table), 1);
	CU_ASSERT_FALSE(dedup_dirty(table));
	dedup_flush(table); /* nothing left: no write */
	CU_ASSERT_EQUAL(dedup_syncs(table), 1);
	/* A change of policy writes what a batch left. */
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_dirty(table));
	dedup_set_sync(table, STATE_SYNC_NO);
	CU_ASSERT_EQUAL(dedup_syncs(table), 2);
	CU_ASSERT_FALSE(dedup_dirty(table));
}

/* The totals as argo-relayctl shows them. */
static bool totals_are(unsigned int delivered, unsigned int undeliverable)
{
	char want[128];

	dumped[0] = 0;
	dedup_dump(table, NULL, true);
	snprintf(want, sizeof(want), "\"settled_delivered\":%u,\"settled_undeliverable\":%u",
	         delivered, undeliverable);
	if (!strstr(dumped, want)) {
		fprintf(stderr, "\n    totals: %s, want %s\n", dumped, want);
		return false;
	}
	return true;
}

static size_t sizeof_table(void)
{
	struct dedup_layout lay;

	dedup_layout(&lay);
	return lay.size;
}

static long file_size(void)
{
	char path[sizeof(dir) + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/delivered", dir);
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	return (long)st.st_size;
}

static void write_word(long off, const void *word, size_t len)
{
	char path[sizeof(dir) + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/delivered", dir);
	f = fopen(path, "r+");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(fseek(f, off, SEEK_SET), 0);
	CU_ASSERT_EQUAL(fwrite(word, len, 1, f), 1);
	fclose(f);
}

/* Restarts the table: closes it and opens it again (a new run). */
static void reopen(void)
{
	dedup_close(table);
	table = NULL;
	open_table();
}

/* A message settled undeliverable is settled: a copy is not new, and the
 * copy of the last one says what its sender was told; the totals count
 * every message once, across restarts. */
static void test_undeliverable_settled(void)
{
	struct msg m = msg_for(20, 1, 7000);
	int error = -1;

	fresh();
	deliver(&m, true);
	m.origin.index = 2;
	CU_ASSERT_FALSE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, 0);
	dedup_undeliverable(table, &m, ECONNREFUSED);
	CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, ECONNREFUSED);
	m.origin.index = 1; /* an older copy: delivered, or nothing to say */
	CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, 0);
	m.origin.index = 3;
	deliver(&m, true);
	m.origin.index = 2; /* no longer the last one: the journal knows it */
	CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, ECONNREFUSED);
	m.origin.index = 4;
	dedup_undeliverable(table, &m, EMSGSIZE);
	reopen();
	CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, EMSGSIZE);
	CU_ASSERT_TRUE(totals_are(2, 2));
}

/* A run killed in the middle of settling a message (the intent written and
 * still valid, the record or the total maybe not yet): the next run
 * finishes it, and counts it once however far the dead run got. */
static void test_settle_counts_once(void)
{
	struct msg m = msg_for(30, 7, 7000);
	const uint32_t one = 1;
	struct dedup_layout lay;
	long valid, totals;
	uint64_t tag;

	fresh();
	dedup_layout(&lay);
	valid = (long)lay.intent_valid;
	totals = (long)lay.totals; /* delivered, then undeliverable */
	/* Undeliverable, killed just before the intent was cleared. */
	dedup_undeliverable(table, &m, ECONNREFUSED);
	write_word(valid, &one, sizeof(one));
	reopen();
	CU_ASSERT_TRUE(totals_are(0, 1));
	/* ...killed before the total was written. */
	m.origin.index = 8;
	dedup_undeliverable(table, &m, ECONNREFUSED);
	CU_ASSERT_TRUE(totals_are(0, 2));
	write_word(valid, &one, sizeof(one));
	write_word(totals + 8, &(uint64_t){1}, sizeof(uint64_t));
	reopen();
	CU_ASSERT_TRUE(totals_are(0, 2));
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	/* A delivery the fabric made, killed before anything was recorded. */
	m.origin.index = 9;
	tag = dedup_begin(table, &m);
	fabric_tag = tag;
	reopen();
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	CU_ASSERT_TRUE(totals_are(1, 2));
	/* ...and one recorded and counted, killed before the intent was
	 * cleared. */
	m.origin.index = 10;
	deliver(&m, true);
	write_word(valid, &one, sizeof(one));
	reopen();
	CU_ASSERT_TRUE(totals_are(2, 2));
}

/* Every message settled undeliverable is known by a copy of it, not only
 * the last of its stream, across restarts; the journal keeps the newest
 * DEDUP_JOURNAL (8192), and a copy of a delivered message says nothing. */
static void test_undeliverable_journal(void)
{
	struct msg m = msg_for(50, 1, 7000), other = msg_for(51, 1, 7001);
	uint32_t i;
	int error;

	fresh();
	for (i = 1; i <= 9; i++) {
		m.origin.index = i;
		if (i % 3 == 0)
			dedup_undeliverable(table, &m, i == 9 ? EMSGSIZE : ECONNREFUSED);
		else
			deliver(&m, true);
		other.origin.index = i;
		deliver(&other, true);
	}
	reopen();
	for (i = 1; i <= 9; i++) {
		m.origin.index = i;
		error = -1;
		CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
		CU_ASSERT_EQUAL(error, i % 3 ? 0 : i == 9 ? EMSGSIZE : ECONNREFUSED);
		other.origin.index = i;
		CU_ASSERT_TRUE(dedup_seen(table, &other, &error));
		CU_ASSERT_EQUAL(error, 0);
	}
	/* 8192 newer ones later, the first is forgotten: a copy of it is
	 * still a copy, with nothing to say. */
	for (i = 0; i < 8192; i++) {
		other.origin.index = 100 + i;
		dedup_undeliverable(table, &other, ECONNREFUSED);
	}
	m.origin.index = 3;
	CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, 0);
	m.origin.index = 9; /* the last of its stream: its entry says so */
	CU_ASSERT_TRUE(dedup_seen(table, &m, &error));
	CU_ASSERT_EQUAL(error, EMSGSIZE);
	other.origin.index = 100;
	CU_ASSERT_TRUE(dedup_seen(table, &other, &error));
	CU_ASSERT_EQUAL(error, ECONNREFUSED);
}

/* A version 2 table (no totals) is kept and grows into version 3. */
static void test_version_2_grows(void)
{
	char path[sizeof(dir) + 16];
	struct msg m = msg_for(40, 3, 7000);
	const uint32_t two = 2;
	struct dedup_layout lay;
	long size;

	fresh();
	dedup_layout(&lay);
	deliver(&m, true);
	dedup_close(table);
	table = NULL;
	size = file_size();
	CU_ASSERT_EQUAL(size, (long)lay.size);
	snprintf(path, sizeof(path), "%s/delivered", dir);
	CU_ASSERT_EQUAL_FATAL(truncate(path, (off_t)lay.v2_size), 0);
	write_word(8, &two, sizeof(two)); /* magic (8 bytes), then the version */
	log_lines = 0;
	open_table();
	CU_ASSERT_EQUAL(log_lines, 0);
	CU_ASSERT_EQUAL(file_size(), size);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	CU_ASSERT_TRUE(totals_are(0, 0));
	m.origin.index = 4;
	deliver(&m, true);
	CU_ASSERT_TRUE(totals_are(1, 0));
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
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));

	m = msg_for(4, 51, 7000);
	tag = dedup_begin(table, &m);
	/* died before the send: the fabric still has the previous tag */
	dedup_close(table);
	table = NULL;
	open_table();
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
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
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
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
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	/* Stream 1000 is used again: now 1001 is the oldest. */
	m.origin.index = 2;
	deliver(&m, true);
	log_lines = 0;
	m = msg_for(99999, 1, 7000);
	deliver(&m, true);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	CU_ASSERT_EQUAL(log_lines, 1);
	m = msg_for(1001, 1, 7000);
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL)); /* it made room */
	m = msg_for(1000, 2, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
	m = msg_for(1002, 1, 7000);
	CU_ASSERT_TRUE(dedup_seen(table, &m, NULL));
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
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	/* A file of another size (another version's): said too, not
	 * silently forgotten. */
	deliver(&m, true);
	dedup_close(table);
	table = NULL;
	CU_ASSERT_EQUAL_FATAL(truncate(path, 4096), 0);
	log_lines = 0;
	open_table();
	CU_ASSERT_EQUAL(log_lines, 1);
	CU_ASSERT_FALSE(dedup_seen(table, &m, NULL));
	CU_ASSERT_EQUAL(file_size(), (long)sizeof_table());
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_copies_and_window),
	    T(test_failed_send_leaves_nothing),
	    T(test_survives_restart),
	    T(test_settle_in_flight),
	    T(test_tags_never_go_back),
	    T(test_no_tags),
	    T(test_full_table),
	    T(test_foreign_file),
	    T(test_state_sync),
	    T(test_state_sync_batch),
	    T(test_undeliverable_settled),
	    T(test_settle_counts_once),
	    T(test_version_2_grows),
	    T(test_undeliverable_journal),
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
