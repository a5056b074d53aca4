/* SPDX-License-Identifier: MIT */
/*
 * The frames of one connection (docs/protocol.md, "Frames"): an output
 * buffer of whole frames, handed to the session's TLS as the connection
 * takes them; an input buffer of what TLS decrypted, cut into whole frames,
 * each handed to the owner. Frames are never split or reordered.
 *
 * Before the peer's HELLO has come, only a HELLO of its exact size is read
 * (and nothing at all before TLS has authenticated the peer): an
 * unauthenticated or half-set-up connection makes us hold at most a TLS
 * record. The input buffer grows to the largest frame and is given back
 * once that frame is handled, when it grew beyond 1 MiB; the output buffer
 * likewise once written.
 *
 * No policy here: what a frame means, and whether the session may go on,
 * is the owner's (a relay link, a leaf endpoint).
 *
 * Return conventions: 0 or a negative errno, as documented per function;
 * f->why says why the last call failed (for the log).
 */
#ifndef ARGO_LINK_FRAMES_H
#define ARGO_LINK_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "wire.h"

struct frames_counters {
	uint64_t frames_tx, frames_rx;
	uint64_t bytes_tx, bytes_rx; /* on the wire: TLS records, handshake included */
};

struct frames {
	int fd; /* the connection's byte stream (the session's), -1 when none */
	struct session *session;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct frames_counters counters; /* kept across connections */
	const char *why;                 /* the last failure's reason */
};

void frames_init(struct frames *f);
/* A new connection: the frames of session s (started on its fd). Both
 * buffers start empty. */
void frames_attach(struct frames *f, struct session *s);
/* The connection ended (the owner ends the session and closes the fd):
 * what was buffered is dropped. */
void frames_detach(struct frames *f);
void frames_fini(struct frames *f);

/* Appends one frame: header (with the session's next seq) and payload (in
 * up to two pieces). 0 or -ENOMEM. It leaves with frames_flush(). */
int frames_put(struct frames *f, struct session *s, uint8_t type, const void *p1, uint32_t l1,
               const void *p2, uint32_t l2);
/* Bytes appended and not yet handed to TLS, plus TLS records not yet
 * written. */
size_t frames_backlog(const struct frames *f);
/*
 * Moves what it can: the TLS handshake while it runs, then the frames,
 * encrypted, to the fd. 0: everything is out, or what is left waits for
 * the handshake, which frames_read() drives on (call this again after it);
 * -EAGAIN: some is left, wait until the fd is writable; -EACCES: the TLS
 * handshake failed; or the write's -errno.
 */
int frames_flush(struct frames *f);

/* Called for each whole frame read (frame: its header and payload, hdr
 * decoded); returns 0 to go on, or < 0 when the connection ended (then
 * nothing of f is touched again). */
typedef int frames_handler(void *ctx, const struct wire_header *hdr, const uint8_t *frame);

/*
 * Reads what the fd has (it polled readable, or the owner wants to know),
 * drives the TLS handshake, and hands every whole frame to handler.
 * Returns 0 once the fd is drained (wait until it is readable; call
 * frames_flush() for what the handshake queued); -ECANCELED when the
 * handler ended the connection; -ECONNRESET at end of file; -EACCES the
 * TLS handshake failed (the peer is not who it must be); -EKEYREJECTED a
 * TLS record failed authentication; -EPROTO TLS refused a record; -EBADMSG
 * a malformed frame header, or anything but a HELLO of its size before the
 * peer's HELLO; -ENOMEM; -ERESTART a serial stream's session ended (the
 * peer started afresh: session_restart(), then frames_attach() again); or
 * the read's -errno. *why (and f->why) says what.
 */
int frames_read(struct frames *f, frames_handler *handler, void *ctx, const char **why);

#endif /* ARGO_LINK_FRAMES_H */
