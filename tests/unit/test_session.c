/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of a link session over TLS 1.3 and its frames (common/link/
 * session.c, frames.c) against docs/protocol.md, "Sessions" and "TLS and
 * keys": two sessions, an initiator and an acceptor, on the two ends of a
 * socketpair, in one thread. The handshake with a pre-shared key (TLS 1.3,
 * AES-256-GCM, an ephemeral X25519 exchange, the PSK really used), and
 * every way it must fail: a wrong key, another link's identity, a
 * handshake reflected to its sender, bytes that are not TLS; the HELLO's
 * checks; what is read before the peer's HELLO (only that HELLO: a 16 MiB
 * header is refused before anything is buffered); buffers given back after
 * a large frame; and mutual certificates (made here with the openssl
 * command line), with a wrong name and an unknown CA.
 *
 * Then the rules of a serial stream (session.h, "Serial streams"), the
 * socketpair standing for the byte stream and a clock of our own driving
 * session_tick(): roles from the hvids; bytes, ClientHellos and ServerHellos
 * of earlier sessions skipped and counted; the initiator's retries and
 * their back-off; either end restarting mid-session (the acceptor's
 * wake-up, the ClientHello that ends a session starting the next); half a
 * record before a new session; a wrong key, another link's identity and a
 * refused certificate counted as refusals, never as an error; the input
 * buffer bounded while it looks through a MiB of junk.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "frames.h"
#include "session.h"
#include "wire.h"
#include "../cunit_main.h"

#define CHECKF(cond, ...)                                                                          \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_) {                                                                        \
			fprintf(stderr, "\n    %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
		}                                                                                  \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE);             \
	} while (0)

/* One end of a connection. */
struct end {
	int fd;
	struct session_creds creds;
	struct session s;
	struct frames f;
	int err;               /* the first error of frames_read/flush, 0 */
	const char *why;       /* its reason */
	unsigned int frames;   /* frames handed to the handler (HELLO included) */
	uint64_t last_length;  /* of the last frame */
	bool send_hello;       /* the acceptor answers the peer's HELLO */
	unsigned int restarts; /* serial: session_restart() after -ERESTART */
};

static struct end a, b; /* a: initiator, b: acceptor */
static char tmpdir[64];

static void key(struct auth_psk *k)
{
	memset(k, 0, sizeof(*k));
	k->len = 32;
	CU_ASSERT_FATAL(auth_random(k->key, 32) == 0);
}

static void put_hello(struct end *e)
{
	uint8_t p[WIRE_HELLO_SIZE];
	struct wire_hello h = {.rx_next_msn = 1, .boot_id = 7};

	CU_ASSERT_FATAL(session_hello(&e->s, &h, p, NULL) == 0);
	CU_ASSERT_FATAL(frames_put(&e->f, &e->s, WIRE_HELLO, p, sizeof(p), NULL, 0) == 0);
}

static int handler(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	struct end *e = ctx;
	const char *why = NULL;
	int ret = session_open(&e->s, hdr, frame, &why);

	e->frames++;
	e->last_length = hdr->length;
	if (ret == 0 && hdr->type == WIRE_HELLO) {
		ret = session_on_hello(&e->s, frame + WIRE_HEADER_SIZE, hdr->length, &why);
		if (ret == 0 && e->send_hello)
			put_hello(e);
	}
	if (ret < 0) {
		e->err = ret;
		e->why = why;
		return -1;
	}
	return 0;
}

/* Two ends on a socketpair with these creds (made by the caller). */
static void start(void)
{
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) ==
	                0);
	a.fd = sv[0];
	b.fd = sv[1];
	memset(&a.s, 0, sizeof(a.s));
	memset(&b.s, 0, sizeof(b.s));
	frames_init(&a.f);
	frames_init(&b.f);
	CU_ASSERT_FATAL(session_start(&a.s, a.fd, &a.creds, NULL) == 0);
	CU_ASSERT_FATAL(session_start(&b.s, b.fd, &b.creds, NULL) == 0);
	frames_attach(&a.f, &a.s);
	frames_attach(&b.f, &b.s);
	a.err = b.err = 0;
	a.frames = b.frames = 0;
	a.restarts = b.restarts = 0;
	a.send_hello = false;
	b.send_hello = true;
	put_hello(&a);
}

static void stop(void)
{
	frames_fini(&a.f);
	frames_fini(&b.f);
	session_end(&a.s);
	session_end(&b.s);
	session_creds_fini(&a.creds);
	session_creds_fini(&b.creds);
	close(a.fd);
	close(b.fd);
}

/* Moves bytes both ways for exactly this many rounds. */
static void spin(int rounds)
{
	while (rounds-- > 0) {
		frames_flush(&a.f);
		frames_read(&a.f, handler, &a, &a.why);
		frames_flush(&b.f);
		frames_read(&b.f, handler, &b, &b.why);
	}
}

/* Moves bytes both ways until both are up, one failed, or rounds pass. */
static void run(int rounds)
{
	while (rounds-- > 0 && !a.err && !b.err &&
	       !(a.s.phase == SESSION_UP && b.s.phase == SESSION_UP && !frames_backlog(&a.f) &&
	         !frames_backlog(&b.f))) {
		struct end *e[2] = {&a, &b};
		int i;

		for (i = 0; i < 2; i++) {
			const char *why = NULL;
			int ret;

			if (e[i]->err)
				continue;
			ret = frames_flush(&e[i]->f);
			if (ret < 0 && ret != -EAGAIN) {
				e[i]->err = ret;
				e[i]->why = e[i]->f.why;
				continue;
			}
			ret = frames_read(&e[i]->f, handler, e[i], &why);
			if (ret < 0 && ret != -ECANCELED) {
				e[i]->err = ret;
				e[i]->why = why;
			}
		}
	}
}

static void psk_creds(const struct auth_psk *ka, const struct auth_psk *kb)
{
	char why[256];

	CU_ASSERT_FATAL(session_creds_psk(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0", ka, why,
	                                  sizeof(why)) == 0);
	CU_ASSERT_FATAL(
	    session_creds_psk(&b.creds, WIRE_ROLE_ACCEPTOR, "l0", "l1", kb, why, sizeof(why)) == 0);
}

/* ---------------------------------------------------------------------------
 * The pre-shared key.
 */

static void test_psk_handshake(void)
{
	struct auth_psk k;
	uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	key(&k);
	psk_creds(&k, &k);
	start();
	run(50);
	CHECKF(a.s.phase == SESSION_UP && b.s.phase == SESSION_UP,
	       "phases %d %d, err %d %d (%s / %s)\n", a.s.phase, b.s.phase, a.err, b.err,
	       a.why ? a.why : "", b.why ? b.why : "");
	CU_ASSERT_STRING_EQUAL(a.s.cipher, "TLS_AES_256_GCM_SHA384");
	CU_ASSERT_STRING_EQUAL(b.s.cipher, "TLS_AES_256_GCM_SHA384");
	/* psk_dhe_ke: an ephemeral group was used. */
	CU_ASSERT_STRING_EQUAL(a.s.group, "X25519");
	CU_ASSERT_STRING_EQUAL(b.s.peer.hvid, "l1");
	CU_ASSERT_STRING_EQUAL(a.s.peer.hvid, "l0");
	CU_ASSERT_EQUAL(a.s.peer.role, WIRE_ROLE_ACCEPTOR);
	/* A frame each way, counted on the wire. */
	CU_ASSERT_EQUAL(frames_put(&a.f, &a.s, WIRE_PING, ping, 8, NULL, 0), 0);
	CU_ASSERT_EQUAL(frames_put(&b.f, &b.s, WIRE_PONG, ping, 8, NULL, 0), 0);
	spin(5);
	CU_ASSERT_EQUAL(a.frames, 2);
	CU_ASSERT_EQUAL(b.frames, 2);
	CU_ASSERT_EQUAL(a.err, 0);
	CU_ASSERT_EQUAL(b.err, 0);
	CU_ASSERT(a.f.counters.bytes_tx > 0 && a.f.counters.bytes_tx == b.f.counters.bytes_rx);
	CU_ASSERT(b.f.counters.bytes_tx == a.f.counters.bytes_rx);
	stop();
}

static void test_wrong_key(void)
{
	struct auth_psk ka, kb;

	key(&ka);
	key(&kb);
	psk_creds(&ka, &kb);
	start();
	run(50);
	CHECKF(b.err == -EACCES, "acceptor: %d %s\n", b.err, b.why ? b.why : "");
	CU_ASSERT(b.s.phase == SESSION_TLS);
	/* The acceptor's alert tells the initiator (sent as it closes). */
	CU_ASSERT(a.s.phase == SESSION_TLS);
	stop();
}

/* The initiator offers the identity of another pair of hvids: the acceptor
 * looks for none other than its own link's. */
static void test_wrong_identity(void)
{
	struct auth_psk k;
	char why[256];

	key(&k);
	CU_ASSERT_FATAL(session_creds_psk(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l9", &k, why,
	                                  sizeof(why)) == 0);
	CU_ASSERT_FATAL(
	    session_creds_psk(&b.creds, WIRE_ROLE_ACCEPTOR, "l0", "l1", &k, why, sizeof(why)) == 0);
	start();
	run(50);
	CHECKF(b.err == -EACCES && b.why &&
	           strstr(b.why, "peer offered PSK identity 'argo-relay/4 l1 l9'"),
	       "acceptor: %d %s\n", b.err, b.why ? b.why : "");
	stop();
}

/* A handshake reflected to its sender: an initiator talking to an initiator
 * with the same key, and an acceptor given the pair the other way round
 * (the "Selfie" reflection on a PSK shared by both directions). */
static void test_reflection(void)
{
	struct auth_psk k;
	char why[256];

	key(&k);
	CU_ASSERT_FATAL(session_creds_psk(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0", &k, why,
	                                  sizeof(why)) == 0);
	CU_ASSERT_FATAL(session_creds_psk(&b.creds, WIRE_ROLE_INITIATOR, "l1", "l0", &k, why,
	                                  sizeof(why)) == 0);
	start();
	run(50);
	CHECKF(a.err < 0 || b.err < 0, "two initiators came up\n");
	CU_ASSERT(a.s.phase == SESSION_TLS && b.s.phase == SESSION_TLS);
	stop();

	CU_ASSERT_FATAL(session_creds_psk(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0", &k, why,
	                                  sizeof(why)) == 0);
	CU_ASSERT_FATAL(
	    session_creds_psk(&b.creds, WIRE_ROLE_ACCEPTOR, "l1", "l0", &k, why, sizeof(why)) == 0);
	start();
	run(50);
	CHECKF(b.err == -EACCES, "reflected: %d %s\n", b.err, b.why ? b.why : "");
	stop();
}

/* Anything that is not TLS fails the handshake at once. */
static void test_not_tls(void)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: l0\r\n\r\n";
	struct auth_psk k;

	key(&k);
	psk_creds(&k, &k);
	start();
	CU_ASSERT_FATAL(write(a.fd, junk, sizeof(junk) - 1) == (ssize_t)(sizeof(junk) - 1));
	b.err = frames_read(&b.f, handler, &b, &b.why);
	CHECKF(b.err == -EACCES, "acceptor: %d %s\n", b.err, b.why ? b.why : "");
	stop();
}

/* ---------------------------------------------------------------------------
 * HELLO and what comes before it.
 */

/* TLS done, then the initiator's first frame is not its HELLO, or a HELLO
 * that names someone else: refused, and the 16 MiB header before anything
 * of it is buffered. */
static void tls_then(uint8_t type, uint32_t length, const uint8_t *payload, int want,
                     const char *word)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct auth_psk k;
	int i;

	key(&k);
	psk_creds(&k, &k);
	start();
	/* Take back the queued HELLO: this initiator sends what it is told. */
	a.f.out_len = a.f.out_off = 0;
	a.s.tx_seq = 0;
	for (i = 0; i < 20 && (a.s.phase == SESSION_TLS || b.s.phase == SESSION_TLS); i++) {
		frames_flush(&a.f);
		frames_read(&b.f, handler, &b, &b.why);
		frames_flush(&b.f);
		frames_read(&a.f, handler, &a, &a.why);
	}
	CU_ASSERT_FATAL(a.s.phase == SESSION_HELLO && b.s.phase == SESSION_HELLO);
	wire_put_header(hdr, type, length, 1);
	CU_ASSERT_FATAL(frames_put(&a.f, &a.s, type, payload, payload ? length : 0, NULL, 0) == 0);
	/* frames_put wrote its own header; for a header alone, write ours. */
	if (!payload) {
		a.f.out_len = a.f.out_off = 0;
		memcpy(a.f.out, hdr, sizeof(hdr));
		a.f.out_len = sizeof(hdr);
	}
	frames_flush(&a.f);
	b.err = frames_read(&b.f, handler, &b, &b.why);
	if (b.err == -ECANCELED)
		b.err = b.err ? b.err : 0;
	CHECKF((want == -ECANCELED ? b.err == -ECANCELED || b.err < 0 : b.err == want) && b.why &&
	           strstr(b.why, word),
	       "type %u length %u: %d %s\n", type, length, b.err, b.why ? b.why : "");
	CHECKF(b.f.in_cap <= 64 * 1024, "the acceptor's input buffer grew to %zu\n", b.f.in_cap);
	CU_ASSERT(b.s.phase != SESSION_UP);
	stop();
}

static void test_before_hello(void)
{
	uint8_t ping[8] = {0};
	uint8_t hello[WIRE_HELLO_SIZE];
	struct wire_hello h = {.version_min = 4, .version_max = 4, .rx_next_msn = 1};

	tls_then(WIRE_DATA, WIRE_DATA_HEADER_SIZE + WIRE_MAX_MESSAGE, NULL, -EBADMSG,
	         "other than HELLO");
	tls_then(WIRE_PING, 8, ping, -EBADMSG, "other than HELLO");
	/* A HELLO naming another hvid: its key, not its name. */
	strcpy(h.hvid, "l7");
	h.role = WIRE_ROLE_INITIATOR;
	CU_ASSERT_FATAL(wire_put_hello(hello, sizeof(hello), &h) == WIRE_HELLO_SIZE);
	tls_then(WIRE_HELLO, WIRE_HELLO_SIZE, hello, -ECANCELED, "wrong peer hvid");
	/* The acceptor's role claimed by the initiator. */
	strcpy(h.hvid, "l1");
	h.role = WIRE_ROLE_ACCEPTOR;
	CU_ASSERT_FATAL(wire_put_hello(hello, sizeof(hello), &h) == WIRE_HELLO_SIZE);
	tls_then(WIRE_HELLO, WIRE_HELLO_SIZE, hello, -ECANCELED, "same role");
}

/* A large frame after the HELLOs: read whole, then its room given back. */
static void test_large_frame_room_back(void)
{
	static uint8_t big[4u << 20];
	struct auth_psk k;
	int i;

	key(&k);
	psk_creds(&k, &k);
	start();
	run(50);
	CU_ASSERT_FATAL(a.s.phase == SESSION_UP && b.s.phase == SESSION_UP);
	memset(big, 0xAB, sizeof(big));
	CU_ASSERT_EQUAL(frames_put(&a.f, &a.s, WIRE_ROUTES, big, 4, NULL, 0), 0);
	/* A DATA-sized payload: any bytes do, the handler only counts. */
	CU_ASSERT_EQUAL(frames_put(&a.f, &a.s, WIRE_DATA, big, sizeof(big), NULL, 0), 0);
	for (i = 0; i < 2000 && b.frames < 3; i++) {
		frames_flush(&a.f);
		frames_read(&b.f, handler, &b, &b.why);
	}
	CU_ASSERT_EQUAL(b.frames, 3);
	CU_ASSERT_EQUAL(b.last_length, sizeof(big));
	CHECKF(b.f.in_cap <= 64 * 1024, "input buffer still %zu after the frame\n", b.f.in_cap);
	stop();
}

/* ---------------------------------------------------------------------------
 * Serial streams: the socketpair stands for the port, clock_ms for time.
 */

static uint64_t clock_ms = 10000;

/* a: "l0", the lower hvid, so the initiator; b: "l1". */
static void serial_creds(const struct auth_psk *ka, const struct auth_psk *kb, const char *a_peer)
{
	char why[256];

	CU_ASSERT_FATAL(session_creds_psk(&a.creds, session_serial_role("l0", "l1"), "l0", a_peer,
	                                  ka, why, sizeof(why)) == 0);
	CU_ASSERT_FATAL(session_creds_psk(&b.creds, session_serial_role("l1", "l0"), "l1", "l0", kb,
	                                  why, sizeof(why)) == 0);
	a.creds.serial = b.creds.serial = true;
}

/* What the owner does on -ERESTART: a new session on the same fd. */
static void restart(struct end *e)
{
	const char *why = NULL;

	CHECKF(session_restart(&e->s, &why) == 0, "session_restart: %s\n", why ? why : "");
	frames_attach(&e->f, &e->s);
	e->err = 0;
	e->restarts++;
	if (e->s.creds->role == WIRE_ROLE_INITIATOR)
		put_hello(e);
}

/* One end's turn: its tick, its flush, its read. */
static void serial_turn(struct end *e)
{
	const char *why = NULL;
	int ret;

	if (e->err)
		return;
	ret = session_tick(&e->s, clock_ms);
	if (ret < 0) {
		e->err = ret;
		return;
	}
	ret = frames_flush(&e->f);
	if (ret < 0 && ret != -EAGAIN) {
		e->err = ret;
		e->why = e->f.why;
		return;
	}
	ret = frames_read(&e->f, handler, e, &why);
	if (ret == -ERESTART) {
		restart(e);
		ret = frames_read(&e->f, handler, e, &why);
	}
	if (ret < 0 && ret != -ECANCELED && ret != -ERESTART) {
		e->err = ret;
		e->why = why;
	}
}

static bool both_up(void)
{
	return a.s.phase == SESSION_UP && b.s.phase == SESSION_UP && !frames_backlog(&a.f) &&
	       !frames_backlog(&b.f);
}

/* Turns until both are up (or one failed), step ms of the clock each. */
static void serial_run(int rounds, uint64_t step)
{
	while (rounds-- > 0 && !a.err && !b.err && !both_up()) {
		serial_turn(&a);
		serial_turn(&b);
		clock_ms += step;
	}
}

/* The serial pair, started, and nothing read yet. */
static void serial_start(const struct auth_psk *ka, const struct auth_psk *kb)
{
	serial_creds(ka, kb, "l1");
	start();
}

/* A frame from a to b, read there: 0 when it came. */
static int ping_through(void)
{
	uint8_t ping[8] = {9, 8, 7, 6, 5, 4, 3, 2};
	unsigned int before = b.frames;
	int i;

	if (frames_put(&a.f, &a.s, WIRE_PING, ping, 8, NULL, 0) < 0)
		return -1;
	for (i = 0; i < 10 && b.frames == before; i++) {
		frames_flush(&a.f);
		frames_read(&b.f, handler, &b, &b.why);
	}
	return b.frames == before + 1 && b.last_length == 8 ? 0 : -1;
}

static void test_serial_roles(void)
{
	CU_ASSERT_EQUAL(session_serial_role("l0", "l1"), WIRE_ROLE_INITIATOR);
	CU_ASSERT_EQUAL(session_serial_role("l1", "l0"), WIRE_ROLE_ACCEPTOR);
	CU_ASSERT_EQUAL(session_serial_role("dd", "l0"), WIRE_ROLE_INITIATOR);
	CU_ASSERT_EQUAL(session_serial_role("l0", "dd"), WIRE_ROLE_ACCEPTOR);
	/* A prefix is lower: both ends still agree. */
	CU_ASSERT_EQUAL(session_serial_role("l0", "l00"), WIRE_ROLE_INITIATOR);
	CU_ASSERT_EQUAL(session_serial_role("l00", "l0"), WIRE_ROLE_ACCEPTOR);
}

static void test_serial_handshake(void)
{
	struct auth_psk k;

	key(&k);
	serial_start(&k, &k);
	serial_run(50, 1);
	CHECKF(both_up(), "phases %d %d, err %d %d (%s / %s)\n", a.s.phase, b.s.phase, a.err, b.err,
	       a.why ? a.why : "", b.why ? b.why : "");
	CU_ASSERT_STRING_EQUAL(a.s.cipher, "TLS_AES_256_GCM_SHA384");
	CU_ASSERT_STRING_EQUAL(b.s.group, "X25519");
	CU_ASSERT_EQUAL(ping_through(), 0);
	/* Nothing started twice; nothing skipped but the acceptor's "I am
	 * new" at its first tick (a plaintext close_notify, 7 bytes). */
	CU_ASSERT_EQUAL(a.s.serial.counters.restarts + b.s.serial.counters.restarts, 0);
	CU_ASSERT_EQUAL(b.s.serial.counters.stale_bytes, 0);
	CHECKF(a.s.serial.counters.stale_bytes == 7, "initiator skipped %llu bytes\n",
	       (unsigned long long)a.s.serial.counters.stale_bytes);
	CU_ASSERT(a.f.counters.bytes_tx == b.f.counters.bytes_rx);
	stop();
}

/* Junk before anything (the tail of an earlier reader's stream, a
 * ClientHello's first bytes and no more): skipped and counted. */
static void test_serial_junk_first(void)
{
	uint8_t junk[1000];
	static const uint8_t almost[] = {0x16, 0x03, 0x01, 0x00, 0x20, 0x02};
	struct auth_psk k;
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	key(&k);
	serial_start(&k, &k);
	CU_ASSERT_FATAL(write(a.fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	CU_ASSERT_FATAL(write(a.fd, almost, sizeof(almost)) == (ssize_t)sizeof(almost));
	serial_run(50, 1);
	CHECKF(both_up(), "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
	       b.why ? b.why : "");
	CHECKF(b.s.serial.counters.stale_bytes == sizeof(junk) + sizeof(almost),
	       "stale_bytes %llu\n", (unsigned long long)b.s.serial.counters.stale_bytes);
	CU_ASSERT_EQUAL(ping_through(), 0);
	stop();
}

/* Nobody reads for a while: the initiator offers again after 500 ms, then
 * 1 s, then every 2 s; the acceptor, coming, answers each ClientHello in
 * turn, the newest taking over; the initiator skips the answers to its
 * earlier ones. */
static void test_serial_retries(void)
{
	static const uint64_t at[] = {499, 500, 1499, 1500, 3499, 3500, 5499, 5500};
	static const uint64_t want[] = {0, 1, 1, 2, 2, 3, 3, 4};
	uint64_t t0;
	struct auth_psk k;
	size_t i;

	key(&k);
	serial_start(&k, &k);
	t0 = clock_ms;
	CU_ASSERT_EQUAL(session_tick(&a.s, t0), 0); /* the first tick sees the attempt */
	frames_flush(&a.f);                         /* its ClientHello */
	for (i = 0; i < N(at); i++) {
		session_tick(&a.s, t0 + at[i]);
		frames_flush(&a.f);
		CHECKF(a.s.serial.counters.restarts == want[i],
		       "at +%llu ms: %llu attempts again\n", (unsigned long long)at[i],
		       (unsigned long long)a.s.serial.counters.restarts);
	}
	clock_ms = t0 + 5600;
	/* Five ClientHellos wait for b now; a's HELLO waits for TLS. */
	serial_run(100, 1);
	CHECKF(both_up(), "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
	       b.why ? b.why : "");
	CHECKF(b.s.serial.counters.stale_hellos == 4 && b.s.serial.counters.restarts == 4,
	       "acceptor: stale_hellos %llu, restarts %llu\n",
	       (unsigned long long)b.s.serial.counters.stale_hellos,
	       (unsigned long long)b.s.serial.counters.restarts);
	CHECKF(a.s.serial.counters.stale_hellos == 4, "initiator: stale_hellos %llu\n",
	       (unsigned long long)a.s.serial.counters.stale_hellos);
	CU_ASSERT_EQUAL(a.restarts + b.restarts, 0); /* all of it inside the handshake */
	CU_ASSERT_EQUAL(a.s.serial.refused + b.s.serial.refused, 0);
	CU_ASSERT_EQUAL(ping_through(), 0);
	stop();
}

/* The acceptor's relay restarts (a new session on its end): it says so
 * until the initiator, whose session was up, starts afresh. What the
 * initiator had sent to the old one is skipped. */
static void test_serial_acceptor_restarts(void)
{
	uint8_t ping[8] = {0};
	struct auth_psk k;
	uint64_t skipped;

	key(&k);
	serial_start(&k, &k);
	serial_run(50, 1);
	CU_ASSERT_FATAL(both_up());
	CU_ASSERT_FATAL(frames_put(&a.f, &a.s, WIRE_PING, ping, 8, NULL, 0) == 0);
	frames_flush(&a.f); /* in the stream, never read by the old b */
	frames_fini(&b.f);
	session_end(&b.s);
	CU_ASSERT_FATAL(session_start(&b.s, b.fd, &b.creds, NULL) == 0);
	frames_attach(&b.f, &b.s);
	b.frames = 0;
	serial_run(100, 20);
	CHECKF(both_up(), "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
	       b.why ? b.why : "");
	CU_ASSERT_EQUAL(a.restarts, 1); /* the wake-up ended its session */
	CU_ASSERT_EQUAL(b.restarts, 0);
	skipped = b.s.serial.counters.stale_bytes;
	CHECKF(skipped >= 8 + WIRE_HEADER_SIZE, "acceptor skipped %llu bytes\n",
	       (unsigned long long)skipped);
	CU_ASSERT_EQUAL(ping_through(), 0);
	stop();
}

/* The initiator's relay restarts: its new ClientHello ends the acceptor's
 * session, and starts the next one, nothing of it skipped. */
static void test_serial_initiator_restarts(void)
{
	struct auth_psk k;

	key(&k);
	serial_start(&k, &k);
	serial_run(50, 1);
	CU_ASSERT_FATAL(both_up());
	frames_fini(&a.f);
	session_end(&a.s);
	CU_ASSERT_FATAL(session_start(&a.s, a.fd, &a.creds, NULL) == 0);
	frames_attach(&a.f, &a.s);
	put_hello(&a);
	serial_run(100, 1);
	CHECKF(both_up(), "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
	       b.why ? b.why : "");
	CU_ASSERT_EQUAL(b.restarts, 1);
	CU_ASSERT_EQUAL(a.restarts, 0);
	CU_ASSERT_EQUAL(b.s.serial.counters.stale_bytes, 0);
	CU_ASSERT_EQUAL(ping_through(), 0);
	stop();
}

/* Half a record (the initiator killed while writing it), then the
 * initiator's new session: the acceptor's session ends on the broken
 * record and the next starts at the ClientHello inside it. */
static void test_serial_half_record(void)
{
	uint8_t ping[64] = {0}, rec[256];
	struct auth_psk k;
	ssize_t n;

	key(&k);
	serial_start(&k, &k);
	serial_run(50, 1);
	CU_ASSERT_FATAL(both_up());
	CU_ASSERT_FATAL(frames_put(&a.f, &a.s, WIRE_PING, ping, 8, NULL, 0) == 0);
	frames_flush(&a.f);
	n = read(b.fd, rec, sizeof(rec)); /* the record, taken off the stream */
	CU_ASSERT_FATAL(n > 20);
	CU_ASSERT_FATAL(write(a.fd, rec, (size_t)n / 2) == n / 2);
	frames_fini(&a.f);
	session_end(&a.s);
	CU_ASSERT_FATAL(session_start(&a.s, a.fd, &a.creds, NULL) == 0);
	frames_attach(&a.f, &a.s);
	put_hello(&a);
	serial_run(100, 20);
	CHECKF(both_up(), "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
	       b.why ? b.why : "");
	CU_ASSERT_EQUAL(b.restarts, 1);
	CHECKF(b.s.serial.counters.stale_bytes >= (uint64_t)n / 2 - 5,
	       "acceptor skipped %llu of the %zd bytes\n",
	       (unsigned long long)b.s.serial.counters.stale_bytes, n / 2);
	CU_ASSERT_EQUAL(ping_through(), 0);
	stop();
}

/* A wrong key, and another link's identity: no session ever, no error
 * either (the owner's time-out decides), but refusals on both ends, with
 * the reason. */
static void serial_refused(const struct auth_psk *ka, const struct auth_psk *kb, const char *a_peer,
                           const char *b_word)
{
	serial_creds(ka, kb, a_peer);
	start();
	serial_run(100, 50); /* five seconds */
	CU_ASSERT(a.s.phase == SESSION_TLS && b.s.phase == SESSION_TLS);
	CHECKF(!a.err && !b.err, "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
	       b.why ? b.why : "");
	CHECKF(b.s.serial.refused >= 3 && strstr(b.s.serial.refusal, b_word),
	       "acceptor: %u refusals, last '%s'\n", b.s.serial.refused, b.s.serial.refusal);
	CHECKF(a.s.serial.refused >= 3 && strstr(a.s.serial.refusal, "the peer refused"),
	       "initiator: %u refusals, last '%s'\n", a.s.serial.refused, a.s.serial.refusal);
	CU_ASSERT(a.s.serial.counters.restarts >= 3);
	stop();
}

static void test_serial_wrong_key(void)
{
	struct auth_psk ka, kb;

	key(&ka);
	key(&kb);
	serial_refused(&ka, &kb, "l1", "binder does not verify");
}

static void test_serial_wrong_identity(void)
{
	struct auth_psk k;

	key(&k);
	serial_refused(&k, &k, "l9", "peer offered PSK identity 'argo-relay/4 l0 l9'");
}

/* A MiB of junk: skipped as it comes, in a buffer that does not grow. */
static void test_serial_junk_bounded(void)
{
	static uint8_t junk[16384];
	struct auth_psk k;
	size_t sent = 0;
	int i;

	for (i = 0; i < (int)sizeof(junk); i++)
		junk[i] = (uint8_t)(0x17 + (i % 3)); /* record-ish bytes, never a ClientHello */
	key(&k);
	serial_start(&k, &k);
	while (sent < (1u << 20)) {
		ssize_t n = write(a.fd, junk, sizeof(junk));

		if (n > 0)
			sent += (size_t)n;
		CU_ASSERT_FATAL(frames_read(&b.f, handler, &b, &b.why) == 0);
	}
	CU_ASSERT_FATAL(frames_read(&b.f, handler, &b, &b.why) == 0);
	CHECKF(b.s.serial.cap <= 64 * 1024, "input buffer %zu\n", b.s.serial.cap);
	CHECKF(b.s.serial.counters.stale_bytes + b.s.serial.len == sent,
	       "skipped %llu + kept %zu of %zu\n",
	       (unsigned long long)b.s.serial.counters.stale_bytes, b.s.serial.len, sent);
	CU_ASSERT(b.s.serial.len <= 16);
	CU_ASSERT(b.s.phase == SESSION_TLS && b.s.serial.hunting);
	stop();
}

/* ---------------------------------------------------------------------------
 * Certificates.
 */

static char ca[128], ca2[128], certs[4][128], keys[4][128];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A CA (name), and a certificate for hvid signed by it, with the hvid as
 * its subjectAltName. */
static int make_ca(const char *name, char *crt)
{
	snprintf(crt, 128, "%s/%s.crt", tmpdir, name);
	return sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	          "-keyout %s.key -out %s.crt -subj /CN=%s -days 2 2>/dev/null",
	          tmpdir, name, name, name);
}

static int make_cert(const char *caname, const char *hvid, char *crt, char *keyf)
{
	snprintf(crt, 128, "%s/%s-%s.crt", tmpdir, caname, hvid);
	snprintf(keyf, 128, "%s/%s-%s.key", tmpdir, caname, hvid);
	return sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	          "-keyout %s-%s.key -out %s-%s.csr -subj /CN=%s 2>/dev/null && "
	          "printf 'subjectAltName=DNS:%s\\n' > %s-%s.ext && "
	          "openssl x509 -req -in %s-%s.csr -CA %s.crt -CAkey %s.key -CAcreateserial "
	          "-out %s-%s.crt -days 2 -extfile %s-%s.ext 2>/dev/null && chmod 600 %s-%s.key",
	          tmpdir, caname, hvid, caname, hvid, hvid, hvid, caname, hvid, caname, hvid,
	          caname, caname, caname, hvid, caname, hvid, caname, hvid);
}

static int certs_init(void)
{
	strcpy(tmpdir, "/tmp/test-session.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (make_ca("ca", ca) || make_ca("other", ca2) ||
	    make_cert("ca", "l1", certs[0], keys[0]) || make_cert("ca", "l0", certs[1], keys[1]) ||
	    make_cert("ca", "l9", certs[2], keys[2]) || make_cert("other", "l1", certs[3], keys[3]))
		return -1;
	return 0;
}

static int certs_clean(void)
{
	return sh("rm -rf '%s'", tmpdir) == 0 ? 0 : -1;
}

static int cert_pair(int client, const char *client_ca, int server)
{
	char why[512];

	if (session_creds_cert(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0", certs[client],
	                       keys[client], client_ca, why, sizeof(why)) < 0 ||
	    session_creds_cert(&b.creds, WIRE_ROLE_ACCEPTOR, "l0", "l1", certs[server],
	                       keys[server], ca, why, sizeof(why)) < 0) {
		fprintf(stderr, "\n    creds: %s\n", why);
		return -1;
	}
	return 0;
}

static void test_certificates(void)
{
	CU_ASSERT_FATAL(cert_pair(0, ca, 1) == 0);
	start();
	run(50);
	CHECKF(a.s.phase == SESSION_UP && b.s.phase == SESSION_UP, "err %d %d (%s / %s)\n", a.err,
	       b.err, a.why ? a.why : "", b.why ? b.why : "");
	CU_ASSERT_STRING_EQUAL(a.s.cipher, "TLS_AES_256_GCM_SHA384");
	stop();
}

static void test_certificate_refused(void)
{
	char why[512];

	/* The initiator presents l9's certificate: the acceptor wants l1. */
	CU_ASSERT_FATAL(cert_pair(2, ca, 1) == 0);
	start();
	run(50);
	CHECKF(b.err == -EACCES && b.s.phase == SESSION_TLS, "wrong name: %d %s\n", b.err,
	       b.why ? b.why : "");
	stop();
	/* The initiator's certificate comes from a CA the acceptor does not
	 * trust. */
	CU_ASSERT_FATAL(cert_pair(3, ca, 1) == 0);
	start();
	run(50);
	CHECKF(b.err == -EACCES && b.s.phase == SESSION_TLS, "unknown CA: %d %s\n", b.err,
	       b.why ? b.why : "");
	stop();
	/* The initiator trusts another CA: the acceptor's certificate fails. */
	CU_ASSERT_FATAL(cert_pair(0, ca2, 1) == 0);
	start();
	run(50);
	CHECKF(a.err == -EACCES && a.s.phase == SESSION_TLS, "untrusted acceptor: %d %s\n", a.err,
	       a.why ? a.why : "");
	stop();
	/* A key that is not the certificate's. */
	CU_ASSERT_EQUAL(session_creds_cert(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0", certs[0],
	                                   keys[1], ca, why, sizeof(why)),
	                -EINVAL);
	CHECKF(strstr(why, "is not the key of"), "why: %s\n", why);
	CU_ASSERT_EQUAL(session_creds_cert(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0",
	                                   "/nonexistent", keys[0], ca, why, sizeof(why)),
	                -EINVAL);
	CHECKF(strstr(why, "certificate file /nonexistent"), "why: %s\n", why);
}

/* Certificates on a serial stream: up; and a certificate with the wrong
 * name refused on both ends, counted, not an error. */
static void test_serial_certificates(void)
{
	char why[512];
	int i;

	for (i = 0; i < 2; i++) {
		int client = i == 0 ? 1 : 2; /* l0's own certificate, then l9's */

		CU_ASSERT_FATAL(session_creds_cert(&a.creds, WIRE_ROLE_INITIATOR, "l0", "l1",
		                                   certs[client], keys[client], ca, why,
		                                   sizeof(why)) == 0);
		CU_ASSERT_FATAL(session_creds_cert(&b.creds, WIRE_ROLE_ACCEPTOR, "l1", "l0",
		                                   certs[0], keys[0], ca, why, sizeof(why)) == 0);
		a.creds.serial = b.creds.serial = true;
		start();
		serial_run(100, 50);
		if (i == 0) {
			CHECKF(both_up(), "err %d %d (%s / %s)\n", a.err, b.err, a.why ? a.why : "",
			       b.why ? b.why : "");
		} else {
			/* TLS 1.3: the initiator is done before the acceptor
			 * checks its certificate, so it may be past TLS. */
			CU_ASSERT(a.s.phase != SESSION_UP && b.s.phase == SESSION_TLS);
			CHECKF(b.s.serial.refused >= 3 &&
			           strstr(b.s.serial.refusal, "certificate verify failed"),
			       "acceptor: %u, '%s'\n", b.s.serial.refused, b.s.serial.refusal);
			CHECKF(a.s.serial.refused >= 3, "initiator: %u, '%s'\n", a.s.serial.refused,
			       a.s.serial.refusal);
		}
		stop();
	}
}

/* ---------------------------------------------------------------------------
 * The fuzzer's seed corpus (tests/fuzz/corpus/handshake/), with the key
 * fuzz_handshake.c uses.
 */

static int write_seed(const char *dir, const char *name, uint8_t mode, const void *b, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(mode, f) == EOF || fwrite(b, 1, n, f) != n) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* What fd has now, into buf. */
static size_t grab(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap);

	return n > 0 ? (size_t)n : 0;
}

static int write_corpus(const char *dir)
{
	static uint8_t buf[65536];
	static const char junk[] = "GET / HTTP/1.1\r\n\r\n";
	uint8_t frames[1024], *p = frames;
	struct wire_hello h = {.version_min = 4, .version_max = 4, .rx_next_msn = 1, .boot_id = 9};
	struct wire_route routes[2] = {{"l1", 0}, {"l2", 1}};
	struct auth_psk k = {.len = 32};
	char why[256];
	size_t n, i;
	int rc = 0, len;

	for (i = 0; i < 32; i++)
		k.key[i] = (uint8_t)(i * 11 + 5); /* fuzz_handshake.c's key */
	if (session_creds_psk(&a.creds, WIRE_ROLE_INITIATOR, "l1", "l0", &k, why, sizeof(why)) ||
	    session_creds_psk(&b.creds, WIRE_ROLE_ACCEPTOR, "l0", "l1", &k, why, sizeof(why)))
		return 1;
	{
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			return 1;
		a.fd = sv[0];
		b.fd = sv[1];
		frames_init(&a.f);
		frames_init(&b.f);
		if (session_start(&a.s, a.fd, &a.creds, NULL) ||
		    session_start(&b.s, b.fd, &b.creds, NULL))
			return 1;
		frames_attach(&a.f, &a.s);
		frames_attach(&b.f, &b.s);
	}
	/* The initiator's ClientHello, then the acceptor's answer to it. */
	frames_flush(&a.f);
	n = grab(b.fd, buf, sizeof(buf));
	rc |= write_seed(dir, "00-clienthello.bin", 0, buf, n);
	if (write(a.fd, buf, n) != (ssize_t)n) /* put it back for the acceptor */
		rc = 1;
	frames_read(&b.f, handler, &b, NULL);
	frames_flush(&b.f);
	n = grab(a.fd, buf, sizeof(buf));
	rc |= write_seed(dir, "01-serverflight.bin", 1, buf, n);
	stop();
	/* The authenticated initiator's first plaintext: a HELLO, ROUTES, a
	 * PING; and a first frame that is not a HELLO, announcing 16 MiB. */
	strcpy(h.hvid, "l1");
	h.role = WIRE_ROLE_INITIATOR;
	p += wire_put_header(p, WIRE_HELLO, WIRE_HELLO_SIZE, 1);
	p += wire_put_hello(p, WIRE_HELLO_SIZE, &h);
	len = wire_put_routes(p + WIRE_HEADER_SIZE, 64, routes, 2);
	p += wire_put_header(p, WIRE_ROUTES, (uint32_t)len, 2) + (size_t)len;
	p += wire_put_header(p, WIRE_PING, 8, 3);
	memset(p, 7, 8);
	p += 8;
	rc |= write_seed(dir, "02-hello-routes-ping.bin", 2, frames, (size_t)(p - frames));
	wire_put_header(frames, WIRE_DATA, WIRE_DATA_HEADER_SIZE + WIRE_MAX_MESSAGE, 1);
	rc |= write_seed(dir, "02-data-first.bin", 2, frames, WIRE_HEADER_SIZE);
	rc |= write_seed(dir, "00-not-tls.bin", 0, junk, sizeof(junk) - 1);
	/* Serial streams: junk, then a ClientHello twice, for the acceptor
	 * (3); an alert, then the answer to another ClientHello, for the
	 * initiator (4). */
	if (session_creds_psk(&a.creds, session_serial_role("l0", "l1"), "l0", "l1", &k, why,
	                      sizeof(why)) ||
	    session_creds_psk(&b.creds, session_serial_role("l1", "l0"), "l1", "l0", &k, why,
	                      sizeof(why)))
		return 1;
	a.creds.serial = b.creds.serial = true;
	{
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			return 1;
		a.fd = sv[0];
		b.fd = sv[1];
		frames_init(&a.f);
		frames_init(&b.f);
		if (session_start(&a.s, a.fd, &a.creds, NULL) ||
		    session_start(&b.s, b.fd, &b.creds, NULL))
			return 1;
		frames_attach(&a.f, &a.s);
		frames_attach(&b.f, &b.s);
	}
	frames_flush(&a.f);
	n = grab(b.fd, buf + 64, sizeof(buf) - 2 * 64);
	memcpy(buf, junk, sizeof(junk) - 1);
	memmove(buf + sizeof(junk) - 1, buf + 64, n);
	memcpy(buf + sizeof(junk) - 1 + n, buf + sizeof(junk) - 1, n);
	rc |= write_seed(dir, "03-junk-clienthello-twice.bin", 3, buf, sizeof(junk) - 1 + 2 * n);
	if (write(a.fd, buf + sizeof(junk) - 1, n) != (ssize_t)n)
		rc = 1;
	frames_read(&b.f, handler, &b, NULL);
	frames_flush(&b.f);
	{
		static const uint8_t alert[7] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x33};

		memcpy(buf, alert, sizeof(alert));
		n = grab(a.fd, buf + sizeof(alert), sizeof(buf) - sizeof(alert));
		rc |= write_seed(dir, "04-alert-stale-serverflight.bin", 4, buf, sizeof(alert) + n);
	}
	stop();
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct test_def psk[] = {
	    T(test_psk_handshake),
	    T(test_wrong_key),
	    T(test_wrong_identity),
	    T(test_reflection),
	    T(test_not_tls),
	    T(test_before_hello),
	    T(test_large_frame_room_back),
	};
	static const struct test_def serial[] = {
	    T(test_serial_roles),
	    T(test_serial_handshake),
	    T(test_serial_junk_first),
	    T(test_serial_retries),
	    T(test_serial_acceptor_restarts),
	    T(test_serial_initiator_restarts),
	    T(test_serial_half_record),
	    T(test_serial_wrong_key),
	    T(test_serial_wrong_identity),
	    T(test_serial_junk_bounded),
	};
	static const struct test_def cert[] = {
	    T(test_certificates),
	    T(test_certificate_refused),
	    T(test_serial_certificates),
	};
	static const struct suite_def suites[] = {
	    SUITE("session psk", psk),
	    SUITE("session serial", serial),
	    {"session certificates", cert, N(cert), certs_init, certs_clean, NULL, NULL},
	};

	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	return cunit_main(suites, N(suites));
}
