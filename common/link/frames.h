/* SPDX-License-Identifier: MIT */
/*
 * The frames of one connection (docs/protocol.md, "Frames"): an output
 * buffer of whole frames, each sealed by the session, written as the
 * non-blocking fd takes them; an input buffer read from the fd and cut into
 * whole frames, each handed to the owner. Frames are never split or
 * reordered; the buffers grow as needed and are kept across connections.
 *
 * No policy here: what a frame means, and whether the session may go on,
 * is the owner's (a relay link, a leaf endpoint).
 *
 * Return conventions: 0 or a negative errno, as documented per function.
 */
#ifndef ARGO_LINK_FRAMES_H
#define ARGO_LINK_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "wire.h"

struct frames_counters {
	uint64_t frames_tx, frames_rx, bytes_tx, bytes_rx;
};

struct frames {
	int fd; /* the connection's byte stream, -1 when none */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct frames_counters counters; /* kept across connections */
};

void frames_init(struct frames *f);
/* A new connection on fd: both buffers start empty. */
void frames_attach(struct frames *f, int fd);
/* The connection ended (the owner closes the fd): what was buffered is
 * dropped. */
void frames_detach(struct frames *f);
void frames_fini(struct frames *f);

/* Appends one frame: header, payload (in up to two pieces), sealed by s.
 * 0, -ENOMEM, or -EIO (the session could not seal it: nothing appended). */
int frames_put(struct frames *f, struct session *s, uint8_t type, const void *p1, uint32_t l1,
               const void *p2, uint32_t l2);
/* Bytes appended and not yet written. */
size_t frames_backlog(const struct frames *f);
/* Writes what the fd takes: 0 everything is out, -EAGAIN some is left
 * (wait until the fd is writable), or the write's -errno. */
int frames_flush(struct frames *f);

/* Called for each whole frame read (frame: its header, payload and
 * trailer, hdr decoded); returns 0 to go on, or < 0 when the connection
 * ended (then nothing of f is touched again). */
typedef int frames_handler(void *ctx, const struct wire_header *hdr, const uint8_t *frame);

/*
 * Reads what the fd has and hands every whole frame to handler. Returns 0
 * once the fd is drained (wait until it is readable), -ECANCELED when the
 * handler ended the connection, -ECONNRESET at end of file, -EBADMSG for a
 * malformed header (*why says what), -ENOMEM, or the read's -errno.
 */
int frames_read(struct frames *f, frames_handler *handler, void *ctx, const char **why);

#endif /* ARGO_LINK_FRAMES_H */
