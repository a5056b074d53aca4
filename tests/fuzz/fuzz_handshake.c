/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a link's handshake (common/link/session.c, frames.c)
 * fed what an attacker can send, over a socketpair, in one of three places
 * chosen by the input's first byte:
 *
 *   0  to an acceptor, before anything: ClientHellos, records, garbage;
 *   1  to an initiator that sent its ClientHello: server flights;
 *   2  to an acceptor whose TLS handshake with a real initiator (the same
 *      key) completed: the plaintext the authenticated peer sends first
 *      (its HELLO, or anything else);
 *   3  to the acceptor of a serial stream (session.h, "Serial streams"),
 *      which looks for a ClientHello in what comes and starts a new TLS
 *      session on every failure, its ticks running;
 *   4  to the initiator of a serial stream, which looks for the
 *      ServerHello answering its ClientHello, skipping the rest, and
 *      offers new ClientHellos as its ticks run.
 *
 * Beyond not crashing (ASan/UBSan), it checks: in 0 and 1 no input
 * completes the TLS handshake (the peer would need the key and an
 * ephemeral secret it does not have); in 2 the session comes up only on a
 * HELLO of the right hvid and role, and nothing is buffered beyond one
 * HELLO before it; in 3 and 4 no input completes the handshake either, and
 * the serial input buffer never grows beyond its 64 KiB. Seeds:
 * tests/fuzz/corpus/handshake/ (written by test-session --write-corpus).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "frames.h"
#include "session.h"
#include "wire.h"

#define MAX_INPUT (60u * 1024) /* fits a socketpair's buffer at once */

static struct auth_psk key;
static struct session_creds initiator, acceptor;
static struct session_creds serial_initiator, serial_acceptor; /* l0 and l1 */

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-handshake: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char why[256];
	size_t i;

	(void)argc;
	(void)argv;
	key.len = 32;
	for (i = 0; i < 32; i++)
		key.key[i] = (uint8_t)(i * 11 + 5); /* a fixed key: seeds stay valid */
	check(session_creds_psk(&initiator, WIRE_ROLE_INITIATOR, "l1", "l0", &key, why,
	                        sizeof(why)) == 0,
	      "initiator creds");
	check(session_creds_psk(&acceptor, WIRE_ROLE_ACCEPTOR, "l0", "l1", &key, why,
	                        sizeof(why)) == 0,
	      "acceptor creds");
	check(session_creds_psk(&serial_initiator, session_serial_role("l0", "l1"), "l0", "l1",
	                        &key, why, sizeof(why)) == 0,
	      "serial initiator creds");
	check(session_creds_psk(&serial_acceptor, session_serial_role("l1", "l0"), "l1", "l0", &key,
	                        why, sizeof(why)) == 0,
	      "serial acceptor creds");
	serial_initiator.serial = serial_acceptor.serial = true;
	return 0;
}

static int on_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	struct session *s = ctx;
	const char *why = NULL;

	if (session_open(s, hdr, frame, &why) < 0)
		return -1;
	if (hdr->type == WIRE_HELLO &&
	    session_on_hello(s, frame + WIRE_HEADER_SIZE, hdr->length, &why) < 0)
		return -1;
	return 0;
}

/* Reads and drops what the other end wrote. */
static void discard(int fd)
{
	uint8_t buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Drives a session on what is in its socket: frames_read/flush until it
 * fails or nothing more happens; a serial one's ticks 200 ms apart. */
static void drive(struct frames *f, int other)
{
	uint64_t clock_ms = 1000;
	int i;

	for (i = 0; i < 64; i++) {
		int t = session_tick(f->session, clock_ms += 200);
		int r = frames_read(f, on_frame, f->session, NULL);
		int w = frames_flush(f);

		discard(other);
		check(f->session->serial.cap <= 64 * 1024, "a serial input buffer grew");
		if (r < 0 || t < 0 || (w < 0 && w != -EAGAIN) ||
		    (f->session->drained && !f->session->creds->serial))
			break;
	}
}

static void raw(const uint8_t *data, size_t len, const struct session_creds *creds)
{
	struct session s = {0};
	struct frames f;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return;
	frames_init(&f);
	check(session_start(&s, sv[0], creds, NULL) == 0, "session_start");
	frames_attach(&f, &s);
	frames_flush(&f); /* an initiator's ClientHello */
	discard(sv[1]);
	if (len && write(sv[1], data, len) != (ssize_t)len)
		goto out;
	if (!creds->serial)
		shutdown(sv[1], SHUT_WR); /* a serial stream never ends: ticks go on */
	drive(&f, sv[1]);
	check(s.phase == SESSION_TLS || s.phase == SESSION_NONE,
	      "a handshake completed with an attacker's bytes");
out:
	frames_fini(&f);
	session_end(&s);
	close(sv[0]);
	close(sv[1]);
}

/* A real handshake, then data as the authenticated initiator's plaintext. */
static void authenticated(const uint8_t *data, size_t len)
{
	struct session a = {0}, b = {0};
	struct frames fa, fb;
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return;
	frames_init(&fa);
	frames_init(&fb);
	check(session_start(&a, sv[0], &initiator, NULL) == 0, "session_start");
	check(session_start(&b, sv[1], &acceptor, NULL) == 0, "session_start");
	frames_attach(&fa, &a);
	frames_attach(&fb, &b);
	for (i = 0; i < 16 && (a.phase == SESSION_TLS || b.phase == SESSION_TLS); i++) {
		frames_flush(&fa);
		frames_read(&fb, on_frame, &b, NULL);
		frames_flush(&fb);
		frames_read(&fa, on_frame, &a, NULL);
	}
	check(a.phase == SESSION_HELLO && b.phase == SESSION_HELLO, "the real handshake failed");
	if (len && session_encrypt(&a, data, len, NULL) < 0)
		goto out;
	session_send(&a, NULL);
	shutdown(sv[0], SHUT_WR);
	for (i = 0; i < 64; i++) {
		int r = frames_read(&fb, on_frame, &b, NULL);

		/* Before the peer's HELLO, nothing beyond one HELLO is held. */
		check(b.phase == SESSION_UP || fb.in_cap <= 64 * 1024,
		      "more than a HELLO buffered before the peer's HELLO");
		if (r < 0 || b.drained)
			break;
	}
	if (b.phase == SESSION_UP)
		check(!strcmp(b.peer.hvid, "l1") && b.peer.role == WIRE_ROLE_INITIATOR,
		      "up with a HELLO of the wrong hvid or role");
out:
	frames_fini(&fa);
	frames_fini(&fb);
	session_end(&a);
	session_end(&b);
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > MAX_INPUT)
		return 0;
	switch (data[0] % 5) {
	case 0:
		raw(data + 1, size - 1, &acceptor);
		break;
	case 1:
		raw(data + 1, size - 1, &initiator);
		break;
	case 3:
		raw(data + 1, size - 1, &serial_acceptor);
		break;
	case 4:
		raw(data + 1, size - 1, &serial_initiator);
		break;
	default:
		authenticated(data + 1, size - 1);
		break;
	}
	return 0;
}
