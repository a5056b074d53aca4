/* SPDX-License-Identifier: MIT */
/* The frames of one connection: see frames.h. */
#define _GNU_SOURCE
#include "frames.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_INITIAL (64u * 1024)

void frames_init(struct frames *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

void frames_attach(struct frames *f, int fd)
{
	f->fd = fd;
	f->in_len = 0;
	f->out_len = f->out_off = 0;
}

void frames_detach(struct frames *f)
{
	frames_attach(f, -1);
}

void frames_fini(struct frames *f)
{
	free(f->in);
	free(f->out);
	f->in = f->out = NULL;
	f->in_cap = f->out_cap = 0;
	frames_detach(f);
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
	uint32_t len = l1 + l2, trailer = session_trailer_size(type);
	uint8_t *frame;

	if (out_reserve(f, WIRE_HEADER_SIZE + len + trailer) < 0)
		return -ENOMEM;
	frame = f->out + f->out_len;
	wire_put_header(frame, type, len, session_next_seq(s, type));
	if (l1)
		memcpy(frame + WIRE_HEADER_SIZE, p1, l1);
	if (l2)
		memcpy(frame + WIRE_HEADER_SIZE + l1, p2, l2);
	/* Nothing unauthenticated may leave: a frame the session cannot seal
	 * is not appended. */
	if (session_seal(s, type, frame, WIRE_HEADER_SIZE + len) < 0)
		return -EIO;
	f->out_len += WIRE_HEADER_SIZE + len + trailer;
	f->counters.frames_tx++;
	return 0;
}

size_t frames_backlog(const struct frames *f)
{
	return f->out_len - f->out_off;
}

int frames_flush(struct frames *f)
{
	while (f->out_off < f->out_len) {
		ssize_t n = write(f->fd, f->out + f->out_off, f->out_len - f->out_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		f->out_off += (size_t)n;
		f->counters.bytes_tx += (uint64_t)n;
	}
	f->out_off = f->out_len = 0;
	return 0;
}

/* ---- Input -------------------------------------------------------------- */

static int in_grow(struct frames *f, size_t cap)
{
	uint8_t *p = realloc(f->in, cap);

	if (!p)
		return -ENOMEM;
	f->in = p;
	f->in_cap = cap;
	return 0;
}

int frames_read(struct frames *f, frames_handler *handler, void *ctx, const char **why)
{
	bool drained = false;

	while (!drained) {
		size_t off = 0, want;
		ssize_t n;

		if (f->in_cap - f->in_len < IN_INITIAL / 2 &&
		    in_grow(f, f->in_cap ? f->in_cap * 2 : IN_INITIAL) < 0)
			return -ENOMEM;
		want = f->in_cap - f->in_len;
		n = read(f->fd, f->in + f->in_len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		f->in_len += (size_t)n;
		f->counters.bytes_rx += (uint64_t)n;
		/* The fd had less than we asked for: it is empty now, and
		 * epoll (level-triggered) says when more comes; no read just
		 * to be told EAGAIN. */
		drained = (size_t)n < want;

		/* Every whole frame in the buffer. */
		for (;;) {
			struct wire_header hdr;
			int64_t total = wire_parse_header(f->in + off, f->in_len - off, &hdr, why);

			if (total == -EAGAIN)
				break;
			if (total < 0)
				return -EBADMSG;
			if ((size_t)total > f->in_len - off) {
				/* Make room for the whole frame. */
				if ((size_t)total > f->in_cap &&
				    in_grow(f, (size_t)total + IN_INITIAL) < 0)
					return -ENOMEM;
				break;
			}
			f->counters.frames_rx++;
			if (handler(ctx, &hdr, f->in + off) < 0)
				return -ECANCELED;
			off += (size_t)total;
		}
		memmove(f->in, f->in + off, f->in_len - off);
		f->in_len -= off;
	}
	return 0;
}
