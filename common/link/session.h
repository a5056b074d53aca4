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

/* ---- The byte stream, for frames.c --------------------------------------- */

/*
 * Drives the TLS handshake: 0 done (SESSION_HELLO: the peer is
 * authenticated), -EAGAIN waiting for the peer's bytes, -EACCES failed (the
 * peer does not hold the key or certificate, tampering, or not TLS at all),
 * -ECONNRESET the connection ended, or a read's -errno. Queues what it has
 * to send (session_send()).
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
 * -EKEYREJECTED a record failed authentication (tampering, a replayed,
 * reordered or lost record); -EPROTO anything else TLS refused (a record
 * that is not TLS); or a read's -errno.
 */
ssize_t session_decrypt(struct session *s, void *buf, size_t cap, const char **why);
/* The fd polled readable: reads may find bytes again. */
void session_readable(struct session *s);

#endif /* ARGO_LINK_SESSION_H */
