/* SPDX-License-Identifier: MIT */
/* The frames of one connection, over its session's TLS: see frames.h. */
#define _GNU_SOURCE
#include "frames.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define IN_INITIAL (64u * 1024)
/* Frames handed to TLS per call, and the records we let pile up before
 * writing them (so a large backlog is encrypted as the fd takes it). */
#define ENCRYPT_CHUNK (64u * 1024)
#define WIRE_AHEAD    (256u * 1024)
/* The output buffer is given back once empty when it grew beyond this;
 * the input buffer once the large frame it grew for is handled. Below
 * it, 64 KiB messages or a leaf's ring chunks would reallocate the buffer
 * (an mremap and its page faults) for every frame. */
#define OUT_KEEP (1u << 20)
#define IN_KEEP  (1u << 20)

void frames_init(struct frames *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

void frames_attach(struct frames *f, struct session *s)
{
	f->session = s;
	f->fd = s ? s->fd : -1;
	f->in_len = 0;
	f->out_len = f->out_off = 0;
	f->why = NULL;
}

void frames_detach(struct frames *f)
{
	frames_attach(f, NULL);
}

void frames_fini(struct frames *f)
{
	free(f->in);
	free(f->out);
	f->in = f->out = NULL;
	f->in_cap = f->out_cap = 0;
	frames_detach(f);
}

/* Counts the wire bytes the session moved since the last look. */
static void count_wire(struct frames *f, uint64_t tx0, uint64_t rx0)
{
	f->counters.bytes_tx += f->session->wire_tx - tx0;
	f->counters.bytes_rx += f->session->wire_rx - rx0;
}

/* ---- Output ------------------------------------------------------------- */

static int out_reserve(struct frames *f, size_t more)
{
	size_t need;
	uint8_t *p;

	if (f->out_off && f->out_off == f->out_len) {
		f->out_off = f->out_len = 0;
	} else if (f->out_off > f->out_cap / 2) {
		memmove(f->out, f->out + f->out_off, f->out_len - f->out_off);
		f->out_len -= f->out_off;
		f->out_off = 0;
	}
	need = f->out_len + more;
	if (need <= f->out_cap)
		return 0;
	p = realloc(f->out, need + need / 2);
	if (!p)
		return -ENOMEM;
	f->out = p;
	f->out_cap = need + need / 2;
	return 0;
}

int frames_put(struct frames *f, struct session *s, uint8_t type, const void *p1, uint32_t l1,
               const void *p2, uint32_t l2)
{
	uint32_t len = l1 + l2;
	uint8_t *frame;

	if (out_reserve(f, WIRE_HEADER_SIZE + len) < 0)
		return -ENOMEM;
	frame = f->out + f->out_len;
	wire_put_header(frame, type, len, session_take_seq(s));
	if (l1)
		memcpy(frame + WIRE_HEADER_SIZE, p1, l1);
	if (l2)
		memcpy(frame + WIRE_HEADER_SIZE + l1, p2, l2);
	f->out_len += WIRE_HEADER_SIZE + len;
	f->counters.frames_tx++;
	return 0;
}

size_t frames_backlog(const struct frames *f)
{
	return f->out_len - f->out_off + (f->session ? session_backlog(f->session) : 0);
}

static int flush(struct frames *f)
{
	struct session *s = f->session;
	int ret;

	if (!s || f->fd < 0)
		return -ENOTCONN;
	for (;;) {
		if (session_backlog(s)) {
			ret = session_send(s, &f->why);
			if (ret < 0)
				return ret;
		}
		if (s->phase == SESSION_TLS) {
			ret = session_handshake(s, &f->why);
			if (ret == -EAGAIN) {
				if (session_backlog(s))
					continue;
				return 0; /* the rest waits for the peer: frames_read() */
			}
			if (ret < 0)
				return ret;
			continue;
		}
		if (f->out_off == f->out_len)
			break;
		while (f->out_off < f->out_len && session_backlog(s) < WIRE_AHEAD) {
			size_t n = f->out_len - f->out_off;
			ssize_t took = session_encrypt(
			    s, f->out + f->out_off, n > ENCRYPT_CHUNK ? ENCRYPT_CHUNK : n, &f->why);

			if (took < 0)
				return (int)took;
			f->out_off += (size_t)took;
		}
	}
	f->out_off = f->out_len = 0;
	if (f->out_cap > OUT_KEEP) {
		free(f->out);
		f->out = NULL;
		f->out_cap = 0;
	}
	return 0;
}

int frames_flush(struct frames *f)
{
	uint64_t tx0, rx0;
	int ret;

	if (!f->session)
		return -ENOTCONN;
	tx0 = f->session->wire_tx;
	rx0 = f->session->wire_rx;
	ret = flush(f);
	count_wire(f, tx0, rx0);
	return ret;
}

/* ---- Input -------------------------------------------------------------- */

static int in_resize(struct frames *f, size_t cap)
{
	uint8_t *p = realloc(f->in, cap);

	if (!p)
		return -ENOMEM;
	f->in = p;
	f->in_cap = cap;
	return 0;
}

static int fail(struct frames *f, const char **why, const char *what, int err)
{
	f->why = what;
	if (why)
		*why = what;
	return err;
}

/* The whole frames in the buffer, each to the handler. 0, -EAGAIN (none
 * ended the connection; the rest needs more bytes), or an error. */
static int cut_frames(struct frames *f, frames_handler *handler, void *ctx, const char **why)
{
	struct session *s = f->session;
	size_t off = 0;
	int ret = 0;

	for (;;) {
		struct wire_header hdr;
		const char *w = NULL;
		int64_t total = wire_parse_header(f->in + off, f->in_len - off, &hdr, &w);

		if (total == -EAGAIN)
			break;
		if (total < 0) {
			ret = fail(f, why, w, -EBADMSG);
			break;
		}
		/* Before the peer's HELLO: that HELLO, of its size, and nothing
		 * else (the header says so before we buffer a byte of it). */
		if (s->phase != SESSION_UP && hdr.type != WIRE_HELLO) {
			ret = fail(f, why, "a frame other than HELLO before the peer's HELLO",
			           -EBADMSG);
			break;
		}
		if ((size_t)total > f->in_len - off) {
			/* Make room for the whole frame. */
			if ((size_t)total > f->in_cap &&
			    in_resize(f, (size_t)total + IN_INITIAL) < 0)
				ret = fail(f, why, "out of memory", -ENOMEM);
			break;
		}
		f->counters.frames_rx++;
		if (handler(ctx, &hdr, f->in + off) < 0)
			return -ECANCELED; /* f may be gone: touch nothing */
		off += (size_t)total;
	}
	if (off) {
		memmove(f->in, f->in + off, f->in_len - off);
		f->in_len -= off;
	}
	return ret;
}

int frames_read(struct frames *f, frames_handler *handler, void *ctx, const char **why)
{
	struct session *s = f->session;
	uint64_t rx0;
	int ret;

	if (!s || f->fd < 0)
		return fail(f, why, "not connected", -ENOTCONN);
	session_readable(s);
	if (s->phase == SESSION_TLS) {
		const char *w = NULL;

		rx0 = s->wire_rx;
		ret = session_handshake(s, &w);
		f->counters.bytes_rx += s->wire_rx - rx0;
		if (ret == -EAGAIN)
			return 0;
		if (ret < 0)
			return fail(f, why, w, ret);
	}
	for (;;) {
		const char *w = NULL;
		ssize_t n;

		if (f->in_cap - f->in_len < IN_INITIAL / 2 &&
		    in_resize(f, f->in_cap < IN_INITIAL ? IN_INITIAL : f->in_cap * 2) < 0)
			return fail(f, why, "out of memory", -ENOMEM);
		rx0 = s->wire_rx;
		n = session_decrypt(s, f->in + f->in_len, f->in_cap - f->in_len, &w);
		f->counters.bytes_rx += s->wire_rx - rx0;
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return fail(f, why, w, (int)n);
		f->in_len += (size_t)n;
		ret = cut_frames(f, handler, ctx, why);
		if (ret < 0)
			return ret;
		if (!session_may_have_more(s))
			break;
	}
	/* A large frame was handled: give its room back. */
	if (f->in_cap > IN_KEEP && f->in_len <= IN_INITIAL / 2)
		in_resize(f, IN_INITIAL);
	return 0;
}
