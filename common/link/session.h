/* SPDX-License-Identifier: MIT */
/*
 * One session of a link: one connection's TLS 1.3 (OpenSSL) and the HELLO
 * exchange inside it (docs/protocol.md, "Sessions", "TLS and keys"). A
 * session is one connection; a new connection starts a new session, with
 * fresh ephemeral keys.
 *
 * How a link's sessions authenticate is its session_creds, made once at
 * start-up: an external PSK derived from the link's key file (the default;
 * psk_dhe_ke only, so every session has forward secrecy), or mutual
 * certificates. The creds know both ends' hvids and which end we are.
 *
 * The owner (a relay link, a leaf endpoint) drives it through frames.h:
 *
 *   session_start(s, fd, creds)     the TLS handshake begins (the
 *                                   initiator's ClientHello is queued)
 *   frames_attach(f, s)             frames of this session
 *   session_hello() + frames_put()  our HELLO: the initiator queues it at
 *                                   once (it leaves when the handshake is
 *                                   done), the acceptor once the peer's
 *                                   HELLO has come
 *   frames_flush(), frames_read()   drive the handshake, then move frames
 *   session_open() on every frame   phase and sequence checks
 *   session_on_hello() on HELLO     the peer is up: what its HELLO says of
 *                                   our stream may be acted on
 *   session_end()                   TLS state freed (keys wiped)
 *
 * TLS runs over the fd through a BIO of our own (session.c): reads go
 * straight from the fd into OpenSSL's record buffer, one read() per
 * wake-up for many records; the records OpenSSL writes are collected here
 * and written with one write() per flush. So a full socket never blocks
 * OpenSSL (no WANT_WRITE to retry with the same buffer), and no read is
 * made just to be told EAGAIN.
 *
 * A serial link (a virtio-serial port, a pty: a byte stream without
 * connections) keeps one session on its fd across the peer's restarts; the
 * rules are at "Serial streams" below and in docs/protocol.md, "Serial
 * links".
 *
 * Return conventions: 0 or a negative errno; *why gets a sentence for the
 * log (static, or in the session: valid until the next call on it).
 */
#ifndef ARGO_LINK_SESSION_H
#define ARGO_LINK_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "wire.h"

struct ssl_st;
struct ssl_ctx_st;

/* How one link's sessions authenticate (one OpenSSL SSL_CTX). */
struct session_creds {
	struct ssl_ctx_st *ctx;
	enum wire_role role;
	bool certs; /* mutual certificates; else the PSK */
	/* Set by the owner after session_creds_*() when the link is a serial
	 * stream (role: session_serial_role()); its sessions then follow the
	 * rules of "Serial streams" below. */
	bool serial;
	char our_hvid[WIRE_HVID_SIZE], peer_hvid[WIRE_HVID_SIZE];
	/* PSK mode: the identity the initiator offers, and the TLS PSK
	 * (auth_tls_psk(); wiped by session_creds_fini()). */
	char identity[AUTH_PSK_IDENTITY_MAX];
	uint8_t psk[AUTH_TLS_PSK_SIZE];
};

/*
 * Creds from a pre-shared key (already loaded and checked, auth.h): the
 * TLS PSK is derived here for this link's two ends and role; the caller
 * may wipe its copy of the key afterwards. -EINVAL bad hvids, -EIO OpenSSL
 * failed; why (cap bytes) says what.
 */
int session_creds_psk(struct session_creds *c, enum wire_role role, const char *our_hvid,
                      const char *peer_hvid, const struct auth_psk *psk, char *why, size_t cap);
/*
 * Creds from certificates: our chain (PEM), its private key (PEM), and the
 * CA certificates (PEM) the peer's chain must lead to; the peer's
 * certificate must name its hvid (subjectAltName DNS, or the common name).
 * -EINVAL with why naming the file that cannot be used.
 */
int session_creds_cert(struct session_creds *c, enum wire_role role, const char *our_hvid,
                       const char *peer_hvid, const char *cert_file, const char *key_file,
                       const char *ca_file, char *why, size_t cap);
void session_creds_fini(struct session_creds *c);

/* Serial streams: what was skipped or started again (kept across
 * session_restart(), zeroed by session_start()). */
struct session_serial_counters {
	uint64_t stale_bytes;  /* skipped looking for the start of a session */
	uint64_t stale_hellos; /* handshakes of another session: a ClientHello
	                          superseded by a newer one, a ServerHello
	                          answering an earlier ClientHello of ours */
	uint64_t restarts;     /* sessions started again on the same fd */
	uint64_t refusals;     /* handshakes refused as a wrong key or
	                          certificate is refused */
};

/* A serial session's own input (session.c): the bytes read from the fd,
 * of which TLS is given one record at a time, so that the record a failure
 * came with is still here to look at when the next session starts. */
struct session_serial {
	uint8_t *buf;
	size_t len, cap;
	size_t pos;           /* the next byte for TLS */
	size_t rec, rec_end;  /* the record TLS is reading: [rec, rec_end) */
	unsigned int records; /* records of this session begun so far */
	bool hunting;         /* looking for the start of a session */
	bool waiting;         /* initiator: the next attempt waits for a tick */
	bool eof;
	bool sid_known;          /* initiator: sid is our ClientHello's */
	uint8_t sid[32];         /* its legacy_session_id, echoed by the answer */
	bool attempt_seen;       /* a tick has seen this attempt: attempt_ms */
	uint64_t attempt_ms;     /* when the attempt started (tick time) */
	uint64_t wake_ms;        /* acceptor: when it last said it is new */
	unsigned int unanswered; /* initiator: attempts in a row without an answer */
	unsigned int refused;    /* refusals since a session last came up */
	char refusal[192];       /* the last one, for the log */
	struct session_serial_counters counters;
};

enum session_phase {
	SESSION_NONE,  /* no connection */
	SESSION_TLS,   /* the TLS handshake is running */
	SESSION_HELLO, /* TLS is up (the peer proved its key or certificate);
	                  the peer's HELLO has not come yet */
	SESSION_UP,    /* the peer's HELLO came and was good */
};

struct session {
	enum session_phase phase;
	const struct session_creds *creds;
	int fd; /* the owner's; -1 when none */
	struct ssl_st *ssl;
	struct wire_hello ours, peer; /* peer: valid from SESSION_UP on */
	uint64_t tx_seq, rx_seq;      /* last frame seq sent / received */

	/* Our BIO (session.c). The records OpenSSL wrote, not yet on the fd: */
	uint8_t *wire;
	size_t wire_off, wire_len, wire_cap;
	bool drained;              /* the fd gave less than asked: empty until it polls readable */
	int io_errno;              /* a read's or write's errno, for the log */
	uint64_t wire_tx, wire_rx; /* bytes written to / read from the fd */
	bool tls_bytes_seen;       /* the peer sent anything at all */

	/* What was negotiated (static strings), from SESSION_HELLO on. */
	const char *cipher, *group;
	char why[192];

	struct session_serial serial; /* creds->serial only */
};

/*
 * Starts a session on fd (a connected non-blocking byte stream, still the
 * caller's to close) with creds (which must outlive it); s is zeroed, or
 * was ended with session_end(). The initiator's first flight goes with the
 * first frames_flush(). -ENOMEM, -EIO.
 */
int session_start(struct session *s, int fd, const struct session_creds *creds, const char **why);

/* Completes our HELLO (hello: boot_id and the stream's fields; the session
 * adds the versions, our hvid and role) and encodes it into payload. */
int session_hello(struct session *s, const struct wire_hello *hello,
                  uint8_t payload[WIRE_HELLO_SIZE], const char **why);

/*
 * The peer's HELLO: checked (version, hvid, role). 0 the session is up;
 * -EBADMSG malformed, -EACCES a peer that says it is someone else
 * (s->peer.hvid says who), -EPROTO out of place or not acceptable.
 */
int session_on_hello(struct session *s, const uint8_t *payload, uint32_t len, const char **why);

/* The seq for the next frame we send (and it is used). */
uint64_t session_take_seq(struct session *s);

/*
 * Checks a received frame (its header decoded; frame: header and payload)
 * before the owner acts on it: -ENOTCONN anything but a HELLO before the
 * session is up, or a second HELLO; -EPROTO a seq out of order (TLS keeps
 * order, so only a broken peer does this).
 */
int session_open(struct session *s, const struct wire_header *hdr, const uint8_t *frame,
                 const char **why);

/* Ends the session: TLS state freed and wiped. The fd stays the owner's. */
void session_end(struct session *s);

/* ---- Serial streams ------------------------------------------------------
 *
 * On a serial link both ends open their end of one byte stream; neither
 * sees the other start or stop; what one writes while the other is away
 * may be lost, or read much later by a new reader. So, with creds->serial
 * (docs/protocol.md, "Serial links"):
 *
 * - Roles come from the two hvids, which both ends know: the lower is the
 *   initiator (TLS client), session_serial_role().
 * - The acceptor (TLS server) skips bytes until a ClientHello record starts
 *   (counters.stale_bytes), and on any failure of the handshake ends that
 *   attempt and starts a fresh server session on the same fd, looking for
 *   the next ClientHello from the record that failed on (restarts): a
 *   newer ClientHello supersedes the one in hand (stale_hellos). While it
 *   waits for one it says, every SESSION_SERIAL_RETRY_MS (session_tick()),
 *   that it is new: a plaintext close_notify alert, which a peer whose
 *   session is up cannot decrypt and so starts afresh.
 * - The initiator offers a ClientHello with a random legacy_session_id and
 *   skips everything but the ServerHello that echoes it (stale_bytes; a
 *   ServerHello answering an earlier one: stale_hellos). An attempt with no
 *   answer within SESSION_SERIAL_RETRY_MS (1, 2, then 4 times that when
 *   they go unanswered in a row) or that fails is followed by a fresh one
 *   (new TLS state, new ClientHello; restarts), not sooner than the
 *   interval after the last began.
 * - All of that happens inside session_handshake() and session_tick(): the
 *   owner sees a session in SESSION_TLS until one comes up. Frames the
 *   initiator queued before (its HELLO) stay valid.
 * - A handshake refused as a wrong key or certificate is refused (by us, or
 *   by the peer's alert) counts in counters.refusals and serial.refused
 *   (since a session last came up; serial.refusal says the last): the
 *   owner reports a wrong key when its own time-out for the handshake
 *   passes with serial.refused > 0, rather than failing at the first.
 * - Once TLS is up, a record that fails (does not decrypt, is plaintext, an
 *   alert) means the peer started afresh or the stream lost bytes:
 *   session_decrypt() returns -ERESTART, and the owner ends what it had of
 *   the session (frames, the peer's HELLO) and calls session_restart().
 */

/* How long an initiator's attempt waits for an answer, and how often an
 * acceptor that waits for a ClientHello says it is new. */
#define SESSION_SERIAL_RETRY_MS 500

/* The role of our end of a serial link: the lower hvid (strcmp order)
 * initiates. Both hvids must differ (a link to ourselves is no link). */
enum wire_role session_serial_role(const char *our_hvid, const char *peer_hvid);

/*
 * Timed work of a serial session; now_ms from any monotonic clock, called
 * every 50 to 100 ms (and a no-op for other sessions, or once up). Returns
 * 1 when it queued bytes to send (call frames_flush()), 0 otherwise, or
 * -ENOMEM/-EIO when it could not start a new attempt (end the session).
 */
int session_tick(struct session *s, uint64_t now_ms);

/*
 * Starts a new session on the same fd after session_decrypt() said
 * -ERESTART (or whenever the owner wants a fresh one): TLS state freed, the
 * bytes read and not yet used kept from the record the last one failed on.
 * The owner then starts its frames again (frames_attach()), queues its
 * HELLO if it initiates, and reads (frames_read(): bytes may be waiting
 * here though the fd is not readable). Serial sessions only: -EINVAL
 * otherwise; -ENOMEM, -EIO.
 */
int session_restart(struct session *s, const char **why);

/* ---- The byte stream, for frames.c --------------------------------------- */

/*
 * Drives the TLS handshake: 0 done (SESSION_HELLO: the peer is
 * authenticated), -EAGAIN waiting for the peer's bytes, -EACCES failed (the
 * peer does not hold the key or certificate, tampering, or not TLS at all),
 * -ECONNRESET the connection ended, or a read's -errno. Queues what it has
 * to send (session_send()). A serial session never fails here on what TLS
 * refused: it starts the next attempt itself (see "Serial streams").
 */
int session_handshake(struct session *s, const char **why);
/* Encrypts up to len bytes of frames into records to send: the bytes
 * taken (> 0), or -EIO. */
ssize_t session_encrypt(struct session *s, const void *buf, size_t len, const char **why);
/* Records queued and not yet written. */
size_t session_backlog(const struct session *s);
/* Writes queued records: 0 all out, -EAGAIN some left (wait until the fd
 * is writable), or the write's -errno. */
int session_send(struct session *s, const char **why);
/*
 * Decrypts what the peer sent into buf: the bytes (> 0); -EAGAIN nothing
 * now (wait until the fd is readable); -ECONNRESET the peer closed;
 * -EACCES the peer refused our credentials after our TLS handshake was
 * done (TLS 1.3: an acceptor checks the initiator's certificate last), as
 * a failed handshake; -EKEYREJECTED a record failed authentication (tampering, a replayed,
 * reordered or lost record); -EPROTO anything else TLS refused (a record
 * that is not TLS); or a read's -errno. On a serial stream, every TLS
 * failure (all but the fd's own errors and end of file) is -ERESTART: see
 * session_restart().
 */
ssize_t session_decrypt(struct session *s, void *buf, size_t cap, const char **why);
/* The fd polled readable: reads may find bytes again. */
void session_readable(struct session *s);
/* Whether session_decrypt() may return more before the fd polls readable
 * again: false once a socket read came back short (the socket is empty)
 * and OpenSSL holds no record bytes nor plaintext. Saves the call that
 * would only find -EAGAIN (about 880 instructions a message: benchmarks.md). */
bool session_may_have_more(const struct session *s);

#endif /* ARGO_LINK_SESSION_H */
