/* SPDX-License-Identifier: MIT */
/*
 * One session of a link (docs/protocol.md, "Handshake" and "Keys and
 * AUTH"): the HELLO exchange, the keys derived from the pre-shared key and
 * both HELLOs, the AUTH proofs, and the protection of every later frame (a
 * sequence number and an HMAC). A session is one connection; a new
 * connection starts a new session with fresh nonces and keys.
 *
 * Pure state: no I/O, no buffers. frames.h asks it to seal what goes out
 * and to open what comes in; the owner feeds it the HELLO and AUTH frames.
 * This is the layer issue 14 replaces with TLS 1.3: what the stream above
 * needs of it is the peer's HELLO (hvid, boot_id, what it holds of our
 * stream) once the peer is authenticated, nothing else.
 *
 * Return conventions: 0 or a negative errno; *why gets a static sentence
 * for the log.
 */
#ifndef ARGO_LINK_SESSION_H
#define ARGO_LINK_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "wire.h"

enum session_phase {
	SESSION_HELLO, /* our HELLO sent, waiting for the peer's */
	SESSION_AUTH,  /* our AUTH sent, waiting for the peer's */
	SESSION_UP,    /* both proved they hold the key */
};

struct session {
	enum session_phase phase;
	enum wire_role role;
	const struct auth_psk *psk;
	const char *peer_hvid;        /* the hvid the peer must announce */
	struct wire_hello ours, peer; /* peer: valid from SESSION_AUTH on */
	struct auth_session keys;     /* valid from SESSION_AUTH on; wiped by session_end() */
	uint64_t tx_seq, rx_seq;      /* last frame seq sent / received */
};

/*
 * Starts a session in role: completes our HELLO (hello: hvid, boot_id and
 * the stream's fields, filled by the caller; the session adds versions,
 * role and a fresh nonce) and encodes it into payload. -EIO without
 * randomness, -EINVAL when it cannot be encoded.
 */
int session_start(struct session *s, enum wire_role role, const struct auth_psk *psk,
                  const char *peer_hvid, const struct wire_hello *hello,
                  uint8_t payload[WIRE_HELLO_SIZE], const char **why);

/*
 * The peer's HELLO: checked (version, hvid, role), keys derived, and our
 * AUTH proof to send. -EBADMSG malformed, -EACCES a peer that says it is
 * someone else (s->peer.hvid says who), -EPROTO out of place or not
 * acceptable, -EIO the derivation failed.
 */
int session_on_hello(struct session *s, const uint8_t *payload, uint32_t len,
                     uint8_t proof[WIRE_MAC_SIZE], const char **why);

/* The peer's AUTH: 0 the session is up, -EACCES the proof is wrong (a
 * wrong key) or out of place. What the peer's HELLO says of our stream may
 * be acted on only after this. */
int session_on_auth(struct session *s, const uint8_t *payload, uint32_t len);

/* What a frame of this type carries after its payload (the MAC). */
uint32_t session_trailer_size(uint8_t type);
/* The seq to write in the header of the next frame of this type. */
uint64_t session_next_seq(const struct session *s, uint8_t type);
/* Protects a frame of this type (header with session_next_seq()'s seq,
 * and payload: len bytes at frame): appends its MAC, and the seq is used.
 * -EIO when it cannot: nothing unauthenticated may leave. */
int session_seal(struct session *s, uint8_t type, uint8_t *frame, size_t len);
/*
 * Checks a received frame other than HELLO (its MAC, right after the
 * payload; its seq): 0, -ENOTCONN before the keys exist, -EBADMSG a bad
 * MAC (a wrong key while SESSION_AUTH, tampering after), -EPROTO a seq
 * replayed or out of order.
 */
int session_open(struct session *s, const struct wire_header *hdr, const uint8_t *frame,
                 const char **why);

/* Ends the session: keys wiped. */
void session_end(struct session *s);

#endif /* ARGO_LINK_SESSION_H */
