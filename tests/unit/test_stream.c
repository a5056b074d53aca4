/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the reliable stream (common/link/stream.c) and the custody
 * of the messages it carries (common/link/msg.c), linked alone: msn
 * numbering, credit and the one-message overshoot, cumulative
 * acknowledgements and what they free, acknowledgements riding on DATA and
 * when an ACK frame is due, duplicates and gaps, resuming after a cut with
 * the same peer process and with a new one, and the done flags of many
 * messages in flight; credit and the in-flight limit enforced on receive
 * and kept to on send; what messages cost (their length and a header). The
 * sources of messages are the test's own ops, so every done and release is
 * counted.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "../cunit_main.h"

#define WINDOW 4096u
/* What a message of n bytes costs in credit and memory (WIRE_DATA_COST). */
#define C(n) ((uint64_t)(n) + WIRE_DATA_HEADER_SIZE)

/* ---- a message source that records what it is told ---- */

#define MAX_CALLS 8192
static struct {
	unsigned int done, released;
	uint64_t done_seq[MAX_CALLS];
} src;

static void src_done(void *source, uint64_t seq, uint32_t len)
{
	(void)source;
	(void)len;
	if (src.done < MAX_CALLS)
		src.done_seq[src.done] = seq;
	src.done++;
}

static void src_release(void *source, uint64_t seq, uint32_t len)
{
	(void)source;
	(void)seq;
	(void)len;
	src.released++;
}

static const struct msg_source_ops test_source = {.done = src_done, .release = src_release};

static struct msg_account account;
static struct stream s;

static void setup(void)
{
	memset(&src, 0, sizeof(src));
	memset(&account, 0, sizeof(account));
	account.limit = 1u << 20;
	if (stream_init(&s, &account, WINDOW) < 0)
		abort();
}

static void teardown(void)
{
	stream_fini(&s);
}

/* The first grant of a session, so that later checks are about the
 * acknowledgements alone. */
static void first_grant(void)
{
	struct wire_ack ack;

	CU_ASSERT_EQUAL_FATAL(stream_ack_check(&s, true, &ack), STREAM_ACK_NOW);
	CU_ASSERT_EQUAL(ack.credit, s.window);
	stream_ack_sent(&s, &ack);
}

/* A message of len bytes from the test's source, with seq 'seq'. */
static struct msg *message(uint32_t len, uint64_t seq)
{
	struct msg *m = msg_new(&account, len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	msg_hold(m, &test_source, NULL, seq);
	strcpy(m->src.hvid, "l1");
	strcpy(m->dst.hvid, "l0");
	memset(m->data, (int)seq, len);
	return m;
}

/* Sends what stream_next() gives, as a link's pump would; returns how many. */
static unsigned int send_all(void)
{
	struct wire_data d;
	struct msg *m;
	unsigned int n = 0;

	while ((m = stream_next(&s))) {
		stream_data(&s, m, &d);
		CU_ASSERT_EQUAL(d.msn, m->msn);
		CU_ASSERT_EQUAL(d.length, m->len);
		stream_sent(&s, &d);
		n++;
	}
	return n;
}

/* The peer's HELLO after a cut. */
static struct wire_hello peer_hello(uint64_t boot, uint64_t rx_next, uint64_t acked)
{
	struct wire_hello h = {.boot_id = boot, .rx_next_msn = rx_next, .acked_msn = acked};

	return h;
}

/* ---- sending ---- */

static void test_msn_order_and_no_credit(void)
{
	unsigned int i;

	for (i = 0; i < 3; i++)
		stream_queue(&s, message(10, i));
	CU_ASSERT_EQUAL(s.unacked.count, 3);
	CU_ASSERT_EQUAL(s.unacked.head->msn, 1);
	CU_ASSERT_EQUAL(s.unacked.tail->msn, 3);
	CU_ASSERT_EQUAL(s.next_msn, 4);
	/* No grant yet: nothing goes, and no more may be taken on. */
	CU_ASSERT_PTR_NULL(stream_next(&s));
	CU_ASSERT_FALSE(stream_can_take(&s));
	CU_ASSERT_EQUAL(send_all(), 0);
}

static void test_credit_overshoot_by_one(void)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		stream_queue(&s, message(60, i));
	/* A grant of one message and 40 bytes. */
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, C(60) + 40), 1);
	/* One goes, then one more (started with 40 left), then nothing. */
	CU_ASSERT_EQUAL(send_all(), 2);
	CU_ASSERT_EQUAL(s.sent_bytes, 2 * C(60));
	CU_ASSERT_FALSE(stream_can_take(&s));
	/* A larger grant lets the rest go; a smaller one changes nothing. */
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, C(60) + 30), 0);
	CU_ASSERT_EQUAL(send_all(), 0);
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 1000), 1);
	CU_ASSERT_EQUAL(send_all(), 2);
	CU_ASSERT_EQUAL(s.counters.data_tx, 4);
	CU_ASSERT_TRUE(stream_can_take(&s));
	/* Nothing was acknowledged: nothing left our custody. */
	CU_ASSERT_EQUAL(src.done, 0);
	CU_ASSERT_EQUAL(s.unacked.count, 4);
}

static void test_can_take_stops_at_the_bound(void)
{
	struct msg *big;

	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 1u << 30), 1);
	CU_ASSERT_TRUE(stream_can_take(&s));
	big = message(64, 0);
	account.limit = 64; /* the holder's memory is now at its bound */
	CU_ASSERT_FALSE(stream_can_take(&s));
	stream_queue(&s, big);
	account.limit = 1u << 20;
	CU_ASSERT_TRUE(stream_can_take(&s));
}

static void test_cumulative_ack_frees_in_order(void)
{
	unsigned int i;

	for (i = 0; i < 5; i++)
		stream_queue(&s, message(8, 100 + i));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 1000), 1);
	CU_ASSERT_EQUAL(send_all(), 5);
	CU_ASSERT_EQUAL(stream_on_ack(&s, 3, 1000), 1);
	CU_ASSERT_EQUAL(src.done, 3);
	CU_ASSERT_EQUAL(src.done_seq[0], 100);
	CU_ASSERT_EQUAL(src.done_seq[1], 101);
	CU_ASSERT_EQUAL(src.done_seq[2], 102);
	CU_ASSERT_EQUAL(s.unacked.count, 2);
	CU_ASSERT_EQUAL(account.messages, 2);
	CU_ASSERT_EQUAL(account.held_bytes, 2 * C(8));
	/* The same acknowledgement again frees nothing more. */
	CU_ASSERT_EQUAL(stream_on_ack(&s, 3, 1000), 0);
	CU_ASSERT_EQUAL(src.done, 3);
	/* An acknowledgement of a message never sent is refused. */
	CU_ASSERT_EQUAL(stream_on_ack(&s, 6, 1000), -EPROTO);
	CU_ASSERT_EQUAL(stream_on_ack(&s, 5, 1000), 1);
	CU_ASSERT_EQUAL(src.done, 5);
	CU_ASSERT_EQUAL(account.messages, 0);
	CU_ASSERT_EQUAL(src.released, 0);
}

/* ---- receiving and acknowledging ---- */

/* The peer's DATA msn arrives and is taken (as a link does). */
static void receive(uint64_t msn, uint32_t len)
{
	CU_ASSERT_EQUAL(stream_rx_check(&s, msn), 0);
	stream_rx_accept(&s, msn, len);
}

static void test_duplicates_and_gaps(void)
{
	first_grant();
	receive(1, 10);
	receive(2, 10);
	CU_ASSERT_EQUAL(stream_rx_check(&s, 1), 1);
	CU_ASSERT_EQUAL(stream_rx_check(&s, 2), 1);
	CU_ASSERT_EQUAL(s.counters.duplicates, 2);
	CU_ASSERT_EQUAL(stream_rx_check(&s, 4), -EPROTO);
	CU_ASSERT_EQUAL(s.rx_next_msn, 3);
	CU_ASSERT_EQUAL(s.held_from_peer, 2 * C(10));
	CU_ASSERT_EQUAL(s.counters.data_rx, 2);
}

static void test_done_out_of_order_is_cumulative(void)
{
	struct wire_data d;
	struct wire_ack ack;

	first_grant();
	receive(1, 10);
	receive(2, 10);
	receive(3, 10);
	stream_rx_done(&s, 2, 10);
	CU_ASSERT_EQUAL(s.rx_done_msn, 0); /* 1 still held */
	stream_rx_done(&s, 3, 10);
	CU_ASSERT_EQUAL(s.rx_done_msn, 0);
	stream_rx_done(&s, 1, 10);
	CU_ASSERT_EQUAL(s.rx_done_msn, 3);
	CU_ASSERT_EQUAL(s.held_from_peer, 0);
	/* Owed, and it rides on the next DATA: then nothing is owed. */
	CU_ASSERT_TRUE(stream_ack_owed(&s));
	CU_ASSERT_EQUAL(stream_ack_check(&s, false, &ack), STREAM_ACK_LATER);
	stream_queue(&s, message(5, 0));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 100), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(stream_next(&s));
	stream_data(&s, stream_next(&s), &d);
	CU_ASSERT_EQUAL(d.acked_msn, 3);
	CU_ASSERT_EQUAL(d.credit, 3 * C(10) + WINDOW); /* received + a window (nothing held) */
	stream_sent(&s, &d);
	CU_ASSERT_FALSE(stream_ack_owed(&s));
	CU_ASSERT_EQUAL(stream_ack_check(&s, true, &ack), STREAM_ACK_NONE);
}

static void test_ack_every_64_messages(void)
{
	struct wire_ack ack;
	uint64_t m;

	s.window = 1u << 20; /* only the acknowledgements are in question */
	first_grant();
	for (m = 1; m <= STREAM_ACK_EVERY; m++) {
		receive(m, 1);
		stream_rx_done(&s, m, 1);
		if (m < STREAM_ACK_EVERY)
			CU_ASSERT_NOT_EQUAL(stream_ack_check(&s, false, &ack), STREAM_ACK_NOW);
	}
	CU_ASSERT_EQUAL_FATAL(stream_ack_check(&s, false, &ack), STREAM_ACK_NOW);
	CU_ASSERT_EQUAL(ack.acked_msn, STREAM_ACK_EVERY);
	stream_ack_sent(&s, &ack);
	CU_ASSERT_EQUAL(stream_ack_check(&s, false, &ack), STREAM_ACK_NONE);
	CU_ASSERT_EQUAL(s.rx_acked_msn, STREAM_ACK_EVERY);
}

static void test_ack_after_16k_done(void)
{
	struct wire_ack ack;

	/* A window larger than what is sent, so that only the
	 * acknowledgement is in question. */
	s.window = 1u << 20;
	first_grant();
	receive(1, STREAM_ACK_BYTES - 1);
	stream_rx_done(&s, 1, STREAM_ACK_BYTES - 1);
	receive(2, 1);
	CU_ASSERT_EQUAL(stream_ack_check(&s, false, &ack), STREAM_ACK_LATER);
	stream_rx_done(&s, 2, 1);
	CU_ASSERT_EQUAL(stream_ack_check(&s, false, &ack), STREAM_ACK_NOW);
	CU_ASSERT_EQUAL(ack.acked_msn, 2);
}

static void test_grant_window_bound_and_never_back(void)
{
	struct wire_ack ack;
	struct msg *hold;

	/* Nothing received: one window. */
	first_grant();
	/* 1000 received and still held: the grant stays where it was. */
	receive(1, 1000);
	CU_ASSERT_EQUAL(stream_ack_check(&s, true, &ack), STREAM_ACK_NONE);
	/* Done with them: a window beyond what was received. */
	stream_rx_done(&s, 1, 1000);
	CU_ASSERT_EQUAL_FATAL(stream_ack_check(&s, true, &ack), STREAM_ACK_NOW);
	CU_ASSERT_EQUAL(ack.credit, C(1000) + WINDOW);
	stream_ack_sent(&s, &ack);
	/* At the holder's bound: nothing new, but nothing taken back. */
	hold = msg_new(&account, 10);
	account.limit = 10;
	receive(2, 500);
	stream_rx_done(&s, 2, 500);
	CU_ASSERT_EQUAL_FATAL(stream_ack_check(&s, true, &ack), STREAM_ACK_NOW);
	CU_ASSERT_EQUAL(ack.credit, C(1000) + WINDOW);
	CU_ASSERT_EQUAL(ack.acked_msn, 2);
	msg_discard(hold);
	account.limit = 1u << 20;
}

/* A peer that sends beyond what it was granted is caught on the DATA that
 * starts beyond it (one message may overshoot, as a sender may). */
static void test_credit_enforced_on_receive(void)
{
	unsigned int i;

	/* No grant yet: no DATA may come. */
	CU_ASSERT_EQUAL(stream_rx_check(&s, 1), -EDQUOT);
	CU_ASSERT_EQUAL(s.counters.overruns, 1);
	first_grant(); /* WINDOW */
	for (i = 1; i <= 4; i++)
		receive(i, 1000); /* the 4th starts at 3 * 1096 < 4096 */
	CU_ASSERT_EQUAL(s.received_bytes, 4 * C(1000));
	CU_ASSERT_EQUAL(stream_rx_check(&s, 5), -EDQUOT);
	CU_ASSERT_EQUAL(s.counters.overruns, 2);
	CU_ASSERT_EQUAL(s.rx_next_msn, 5); /* nothing was taken */
}

/* Empty messages are not free: 100 000 of them do not fit in a window. */
static void test_empty_messages_cost(void)
{
	struct msg *m = msg_new(&account, 0);
	uint64_t msn = 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(account.held_bytes, WIRE_DATA_HEADER_SIZE);
	msg_discard(m);
	CU_ASSERT_EQUAL(account.held_bytes, 0);
	first_grant();
	while (msn < 100000 && stream_rx_check(&s, msn) == 0)
		stream_rx_accept(&s, msn++, 0);
	CU_ASSERT_EQUAL(msn - 1, (WINDOW + WIRE_DATA_HEADER_SIZE - 1) / WIRE_DATA_HEADER_SIZE);
	CU_ASSERT_EQUAL(s.held_from_peer, (msn - 1) * WIRE_DATA_HEADER_SIZE);
}

/* At most WIRE_MAX_IN_FLIGHT messages received and not done, whatever the
 * credit. */
static void test_in_flight_cap_on_receive(void)
{
	uint64_t m;

	s.window = 1u << 30;
	first_grant();
	for (m = 1; m <= WIRE_MAX_IN_FLIGHT; m++)
		receive(m, 0);
	CU_ASSERT_EQUAL(stream_rx_check(&s, m), -EDQUOT);
	stream_rx_done(&s, 1, 0);
	CU_ASSERT_EQUAL(stream_rx_check(&s, m), 0);
}

/* ...which a sender keeps to by itself. */
static void test_in_flight_cap_on_send(void)
{
	unsigned int i;

	for (i = 0; i < WIRE_MAX_IN_FLIGHT + 5; i++)
		stream_queue(&s, message(0, i));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 1u << 30), 1);
	CU_ASSERT_EQUAL(send_all(), WIRE_MAX_IN_FLIGHT);
	CU_ASSERT_EQUAL(stream_on_ack(&s, 3, 1u << 30), 1);
	CU_ASSERT_EQUAL(send_all(), 3);
	CU_ASSERT_EQUAL(stream_on_ack(&s, 10, 1u << 30), 1);
	CU_ASSERT_EQUAL(send_all(), 2);
}

/* A report must answer a message we sent and the peer has not
 * acknowledged. */
static void test_find_sent(void)
{
	unsigned int i;

	for (i = 0; i < 3; i++)
		stream_queue(&s, message(10, i));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, C(10) + 1), 1);
	CU_ASSERT_EQUAL(send_all(), 2);
	CU_ASSERT_PTR_EQUAL(stream_find_sent(&s, 1), s.unacked.head);
	CU_ASSERT_PTR_EQUAL(stream_find_sent(&s, 2), s.unacked.head->next);
	CU_ASSERT_PTR_NULL(stream_find_sent(&s, 3)); /* queued, not sent */
	CU_ASSERT_PTR_NULL(stream_find_sent(&s, 0));
	CU_ASSERT_PTR_NULL(stream_find_sent(&s, 99));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 1, C(10) + 1), 1);
	CU_ASSERT_PTR_NULL(stream_find_sent(&s, 1)); /* acknowledged: gone */
	CU_ASSERT_PTR_NOT_NULL(stream_find_sent(&s, 2));
}

/* ---- resuming after a cut ---- */

static void test_resume_same_peer(void)
{
	struct wire_hello h = peer_hello(0xB007, 1, 0);
	unsigned int i;

	stream_resume(&s, &h); /* the first session with this peer */
	for (i = 0; i < 5; i++)
		stream_queue(&s, message(10, i));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 1000), 1);
	CU_ASSERT_EQUAL(send_all(), 5);
	/* Cut. The same peer process holds 1..3 and is done with 1..2. */
	stream_new_session(&s);
	CU_ASSERT_EQUAL(s.credit, 0);
	CU_ASSERT_PTR_EQUAL(s.unsent, s.unacked.head);
	h = peer_hello(0xB007, 4, 2);
	stream_resume(&s, &h);
	CU_ASSERT_EQUAL(src.done, 2);
	CU_ASSERT_EQUAL(s.counters.resent_held, 1); /* 3: the peer still has it */
	CU_ASSERT_EQUAL(s.unsent->msn, 4);
	CU_ASSERT_EQUAL(s.unsent_bytes, 2 * C(10));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 2, 1000), 1);
	CU_ASSERT_EQUAL(send_all(), 2);
	CU_ASSERT_EQUAL(s.counters.retransmits, 2); /* 4 and 5 went before */
	CU_ASSERT_EQUAL(s.counters.data_tx, 7);
}

static void test_resume_new_peer_renumbers(void)
{
	struct wire_hello h = peer_hello(0xAAAA, 1, 0);
	unsigned int i;

	stream_resume(&s, &h);
	for (i = 0; i < 3; i++)
		stream_queue(&s, message(10, i));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 0, 1000), 1);
	CU_ASSERT_EQUAL(send_all(), 3);
	/* Cut; a new peer process expects msn 10 and holds nothing of ours. */
	stream_new_session(&s);
	h = peer_hello(0xBBBB, 10, 9);
	stream_resume(&s, &h);
	CU_ASSERT_EQUAL(src.done, 0); /* nothing it says is about our messages */
	CU_ASSERT_EQUAL(s.unacked.head->msn, 10);
	CU_ASSERT_EQUAL(s.unacked.tail->msn, 12);
	CU_ASSERT_EQUAL(s.next_msn, 13);
	CU_ASSERT_EQUAL(s.unsent_bytes, 3 * C(10));
	CU_ASSERT_EQUAL(stream_on_ack(&s, 9, 1000), 1); /* a grant */
	CU_ASSERT_EQUAL(send_all(), 3);
	CU_ASSERT_EQUAL(s.counters.retransmits, 0); /* new msns: first sends */
	CU_ASSERT_EQUAL(stream_on_ack(&s, 11, 1000), 1);
	CU_ASSERT_EQUAL(src.done, 2);
	CU_ASSERT_EQUAL(s.peer_boot_id, 0xBBBB);
}

static void test_many_in_flight(void)
{
	const uint64_t n = 5000; /* past the done flags' first size */
	uint64_t m;

	s.window = 1u << 30;
	first_grant();
	for (m = 1; m <= n; m++)
		receive(m, 1);
	for (m = n; m >= 2; m--)
		stream_rx_done(&s, m, 1);
	CU_ASSERT_EQUAL(s.rx_done_msn, 0);
	stream_rx_done(&s, 1, 1);
	CU_ASSERT_EQUAL(s.rx_done_msn, n);
	CU_ASSERT_EQUAL(s.held_from_peer, 0);
	/* The flags start afresh for what comes next. */
	receive(n + 1, 1);
	receive(n + 2, 1);
	stream_rx_done(&s, n + 2, 1);
	CU_ASSERT_EQUAL(s.rx_done_msn, n);
	stream_rx_done(&s, n + 1, 1);
	CU_ASSERT_EQUAL(s.rx_done_msn, n + 2);
}

/* ---- custody at the ends ---- */

static void test_fini_releases_and_release_keeps_acks(void)
{
	unsigned int i;

	for (i = 0; i < 3; i++)
		stream_queue(&s, message(10, i));
	first_grant();
	receive(1, 7);
	stream_rx_released(&s, 7);
	CU_ASSERT_EQUAL(s.held_from_peer, 0);
	CU_ASSERT_EQUAL(s.rx_done_msn, 0); /* let go, not done: the peer sends it again */
	stream_fini(&s);
	CU_ASSERT_EQUAL(src.released, 3);
	CU_ASSERT_EQUAL(src.done, 0);
	CU_ASSERT_EQUAL(account.messages, 0);
	CU_ASSERT_EQUAL(account.held_bytes, 0);
	CU_ASSERT_EQUAL(stream_init(&s, &account, WINDOW), 0); /* for teardown */
}

static void test_account_room_again(void)
{
	struct msg *a = message(60, 1), *b = message(60, 2);

	account.limit = C(60) + 1;
	CU_ASSERT_EQUAL(account.held_peak, 2 * C(60));
	CU_ASSERT_FALSE(account.room_again);
	msg_done(a); /* one left: below the bound again */
	CU_ASSERT_TRUE(account.room_again);
	account.room_again = false;
	msg_trim_front(b, 20);
	CU_ASSERT_EQUAL(b->len, 40);
	CU_ASSERT_EQUAL(account.held_bytes, C(40));
	CU_ASSERT_EQUAL(b->data[0], 2);
	msg_release(b);
	CU_ASSERT_FALSE(account.room_again); /* it was below already */
	CU_ASSERT_EQUAL(src.done, 1);
	CU_ASSERT_EQUAL(src.released, 1);
	account.limit = 1u << 20;
}

int main(void)
{
	static const struct test_def sending[] = {
	    T(test_msn_order_and_no_credit),     T(test_credit_overshoot_by_one),
	    T(test_can_take_stops_at_the_bound), T(test_cumulative_ack_frees_in_order),
	    T(test_in_flight_cap_on_send),       T(test_find_sent),
	};
	static const struct test_def receiving[] = {
	    T(test_duplicates_and_gaps),
	    T(test_done_out_of_order_is_cumulative),
	    T(test_ack_every_64_messages),
	    T(test_ack_after_16k_done),
	    T(test_grant_window_bound_and_never_back),
	    T(test_many_in_flight),
	    T(test_credit_enforced_on_receive),
	    T(test_empty_messages_cost),
	    T(test_in_flight_cap_on_receive),
	};
	static const struct test_def resuming[] = {
	    T(test_resume_same_peer),
	    T(test_resume_new_peer_renumbers),
	};
	static const struct test_def custody[] = {
	    T(test_fini_releases_and_release_keeps_acks),
	    T(test_account_room_again),
	};
	static const struct suite_def suites[] = {
	    {"sending", sending, N(sending), NULL, NULL, setup, teardown},
	    {"receiving", receiving, N(receiving), NULL, NULL, setup, teardown},
	    {"resuming", resuming, N(resuming), NULL, NULL, setup, teardown},
	    {"custody", custody, N(custody), NULL, NULL, setup, teardown},
	};

	return cunit_main(suites, N(suites));
}
