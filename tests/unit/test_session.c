/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the link session's handshake (common/link/session.c) and of
 * the frames' resynchronisation (common/link/frames.c) on a stream without
 * connections (a serial link: docs/relay-design.md, "Serial links"): both
 * ends claiming the initiator's role (the lower nonce takes it, the keys
 * agree), the strict rule everywhere else, the peer's HELLO again and a new
 * one in the middle of a session, and bytes that start no frame skipped
 * and counted. Two sessions talk to each other in memory; the frames go
 * over a socketpair.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frames.h"
#include "session.h"
#include "../cunit_main.h"

static struct auth_psk psk = {.key = "a key of thirty-two bytes or so!", .len = 32};

/* Starts session s for hvid us talking to them; its HELLO into payload. */
static void start(struct session *s, bool no_connections, enum wire_role role, const char *us,
                  const char *them, uint8_t payload[WIRE_HELLO_SIZE])
{
	struct wire_hello hello = {0};

	memset(s, 0, sizeof(*s));
	s->no_connections = no_connections;
	strncpy(hello.hvid, us, WIRE_HVID_SIZE - 1);
	hello.boot_id = 1;
	CU_ASSERT_EQUAL_FATAL(session_start(s, role, &psk, them, &hello, payload, NULL), 0);
}

/* Both HELLOs exchanged, both AUTHs checked: 0 when both ends are up. */
static int handshake(struct session *a, struct session *b, const uint8_t *ha, const uint8_t *hb)
{
	uint8_t pa[WIRE_MAC_SIZE], pb[WIRE_MAC_SIZE];
	int ret;

	ret = session_on_hello(a, hb, WIRE_HELLO_SIZE, pa, NULL);
	if (ret < 0)
		return ret;
	ret = session_on_hello(b, ha, WIRE_HELLO_SIZE, pb, NULL);
	if (ret < 0)
		return ret;
	if (session_on_auth(a, pb, WIRE_MAC_SIZE) < 0 || session_on_auth(b, pa, WIRE_MAC_SIZE) < 0)
		return -EACCES;
	return 0;
}

/* A sealed frame from a opens at b. */
static void check_frame_a_to_b(struct session *a, struct session *b)
{
	uint8_t frame[WIRE_HEADER_SIZE + 8 + WIRE_MAC_SIZE] = {0};
	struct wire_header hdr;

	wire_put_header(frame, WIRE_PING, 8, session_next_seq(a, WIRE_PING));
	CU_ASSERT_EQUAL_FATAL(session_seal(a, WIRE_PING, frame, WIRE_HEADER_SIZE + 8), 0);
	CU_ASSERT_EQUAL_FATAL(wire_parse_header(frame, sizeof(frame), &hdr, NULL),
	                      (int64_t)sizeof(frame));
	CU_ASSERT_EQUAL(session_open(b, &hdr, frame, NULL), 0);
}

static void test_same_role_refused_with_connections(void)
{
	uint8_t ha[WIRE_HELLO_SIZE], hb[WIRE_HELLO_SIZE], proof[WIRE_MAC_SIZE];
	struct session a, b;
	const char *why = NULL;

	start(&a, false, WIRE_ROLE_INITIATOR, "a", "b", ha);
	start(&b, false, WIRE_ROLE_INITIATOR, "b", "a", hb);
	CU_ASSERT_EQUAL(session_on_hello(&a, hb, WIRE_HELLO_SIZE, proof, &why), -EPROTO);
	CU_ASSERT_STRING_EQUAL(why, "both ends claim the same role");
	session_end(&a);
	session_end(&b);
}

static void test_both_initiate_lower_nonce_takes_it(void)
{
	int round;

	/* Fresh nonces each round: either end may be the lower. */
	for (round = 0; round < 16; round++) {
		uint8_t ha[WIRE_HELLO_SIZE], hb[WIRE_HELLO_SIZE];
		struct session a, b;
		int lower;

		start(&a, true, WIRE_ROLE_INITIATOR, "a", "b", ha);
		start(&b, true, WIRE_ROLE_INITIATOR, "b", "a", hb);
		lower = memcmp(a.ours.nonce, b.ours.nonce, WIRE_NONCE_SIZE);
		CU_ASSERT_EQUAL_FATAL(handshake(&a, &b, ha, hb), 0);
		CU_ASSERT_EQUAL(a.role, lower < 0 ? WIRE_ROLE_INITIATOR : WIRE_ROLE_ACCEPTOR);
		CU_ASSERT_NOT_EQUAL(a.role, b.role);
		CU_ASSERT_EQUAL(a.phase, SESSION_UP);
		CU_ASSERT_EQUAL(b.phase, SESSION_UP);
		check_frame_a_to_b(&a, &b);
		check_frame_a_to_b(&b, &a);
		session_end(&a);
		session_end(&b);
	}
}

static void test_own_hello_refused(void)
{
	uint8_t ha[WIRE_HELLO_SIZE], proof[WIRE_MAC_SIZE];
	struct session a;

	/* A stream that loops back: our own HELLO, same nonce, same role. */
	start(&a, true, WIRE_ROLE_INITIATOR, "a", "a", ha);
	CU_ASSERT_EQUAL(session_on_hello(&a, ha, WIRE_HELLO_SIZE, proof, NULL), -EPROTO);
	session_end(&a);
}

static void test_hello_again_and_new_session(void)
{
	uint8_t ha[WIRE_HELLO_SIZE], hb[WIRE_HELLO_SIZE], hb2[WIRE_HELLO_SIZE];
	uint8_t proof[WIRE_MAC_SIZE];
	struct session a, b, strict;
	const char *why = NULL;

	start(&a, true, WIRE_ROLE_INITIATOR, "a", "b", ha);
	start(&b, true, WIRE_ROLE_INITIATOR, "b", "a", hb);
	CU_ASSERT_EQUAL_FATAL(handshake(&a, &b, ha, hb), 0);
	/* The peer's HELLO once more (it resent it before it heard ours). */
	CU_ASSERT_EQUAL(session_on_hello(&a, hb, WIRE_HELLO_SIZE, proof, NULL), -EALREADY);
	CU_ASSERT_EQUAL(a.phase, SESSION_UP);
	/* The peer restarted: a fresh nonce. */
	start(&b, true, WIRE_ROLE_INITIATOR, "b", "a", hb2);
	CU_ASSERT_EQUAL(session_on_hello(&a, hb2, WIRE_HELLO_SIZE, proof, &why), -ECONNRESET);
	CU_ASSERT_STRING_EQUAL(why, "the peer started a new session on the stream");
	/* The owner starts afresh and hands it the HELLO again. */
	start(&a, true, WIRE_ROLE_INITIATOR, "a", "b", ha);
	CU_ASSERT_EQUAL(handshake(&a, &b, ha, hb2), 0);
	check_frame_a_to_b(&a, &b);
	/* A malformed HELLO mid-session is malformed, not a restart. */
	memset(hb2, 0, 4);
	CU_ASSERT_EQUAL(session_on_hello(&a, hb2, WIRE_HELLO_SIZE, proof, NULL), -EBADMSG);
	session_end(&a);
	session_end(&b);

	/* With connections, any HELLO mid-session is out of place. */
	start(&strict, false, WIRE_ROLE_INITIATOR, "a", "b", ha);
	start(&b, false, WIRE_ROLE_ACCEPTOR, "b", "a", hb);
	CU_ASSERT_EQUAL_FATAL(handshake(&strict, &b, ha, hb), 0);
	CU_ASSERT_EQUAL(session_on_hello(&strict, hb, WIRE_HELLO_SIZE, proof, NULL), -EPROTO);
	session_end(&strict);
	session_end(&b);
}

/* ---- frames: resynchronisation ---- */

static unsigned int frames_seen;
static uint8_t type_seen;

static int count_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	(void)ctx;
	(void)frame;
	frames_seen++;
	type_seen = hdr->type;
	return 0;
}

/* Writes the tail of a HELLO frame (its first `cut` bytes read by an
 * earlier reader), then a whole HELLO frame; reads it with resync as given.
 * Returns frames_read()'s result; *stale the bytes skipped. */
static int read_after_tail(bool resync, size_t cut, uint64_t *stale)
{
	uint8_t payload[WIRE_HELLO_SIZE];
	struct wire_hello hello = {.version_min = WIRE_VERSION,
	                           .version_max = WIRE_VERSION,
	                           .hvid = "peer",
	                           .boot_id = 7,
	                           .role = WIRE_ROLE_INITIATOR};
	struct session none = {0};
	struct frames out, in;
	int sv[2], ret;
	size_t len;

	/* A fixed nonce, so no run finds a frame header in it by chance. */
	memset(hello.nonce, 0xA5, sizeof(hello.nonce));
	CU_ASSERT_EQUAL_FATAL(wire_put_hello(payload, sizeof(payload), &hello), WIRE_HELLO_SIZE);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	frames_init(&out);
	frames_init(&in);
	in.resync = resync;
	frames_attach(&out, sv[0]);
	frames_attach(&in, sv[1]);
	CU_ASSERT_EQUAL_FATAL(
	    frames_put(&out, &none, WIRE_HELLO, payload, WIRE_HELLO_SIZE, NULL, 0), 0);
	len = frames_backlog(&out);
	CU_ASSERT_EQUAL_FATAL(write(sv[0], out.out + cut, len - cut), (ssize_t)(len - cut));
	CU_ASSERT_EQUAL_FATAL(frames_flush(&out), 0);
	frames_seen = 0;
	type_seen = 0;
	ret = frames_read(&in, count_frame, NULL, NULL);
	*stale = in.counters.stale_bytes;
	frames_fini(&out);
	frames_fini(&in);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

static void test_frames_resync_skips_a_tail(void)
{
	size_t cut;

	for (cut = 1; cut < WIRE_HEADER_SIZE + WIRE_HELLO_SIZE; cut += 7) {
		uint64_t stale = 0;

		CU_ASSERT_EQUAL(read_after_tail(true, cut, &stale), 0);
		CU_ASSERT_EQUAL(frames_seen, 1);
		CU_ASSERT_EQUAL(type_seen, WIRE_HELLO);
		CU_ASSERT_EQUAL(stale, WIRE_HEADER_SIZE + WIRE_HELLO_SIZE - cut);
	}
}

static void test_frames_strict_refuses_a_tail(void)
{
	uint64_t stale = 0;

	CU_ASSERT_EQUAL(read_after_tail(false, 1, &stale), -EBADMSG);
	CU_ASSERT_EQUAL(frames_seen, 0);
	CU_ASSERT_EQUAL(stale, 0);
}

int main(void)
{
	static const struct test_def handshake_tests[] = {
	    T(test_same_role_refused_with_connections),
	    T(test_both_initiate_lower_nonce_takes_it),
	    T(test_own_hello_refused),
	    T(test_hello_again_and_new_session),
	};
	static const struct test_def frames_tests[] = {
	    T(test_frames_resync_skips_a_tail),
	    T(test_frames_strict_refuses_a_tail),
	};
	static const struct suite_def suites[] = {
	    {"handshake", handshake_tests, N(handshake_tests), NULL, NULL, NULL, NULL},
	    {"frames", frames_tests, N(frames_tests), NULL, NULL, NULL, NULL},
	};

	return cunit_main(suites, N(suites));
}
