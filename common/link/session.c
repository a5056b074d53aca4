/* SPDX-License-Identifier: MIT */
/*
 * One session of a link: handshake and frame protection (session.h;
 * docs/protocol.md, "Handshake" and "Keys and AUTH").
 */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static void fail(const char **why, const char *what)
{
	if (why)
		*why = what;
}

int session_start(struct session *s, enum wire_role role, const struct auth_psk *psk,
                  const char *peer_hvid, const struct wire_hello *hello,
                  uint8_t payload[WIRE_HELLO_SIZE], const char **why)
{
	explicit_bzero(&s->keys, sizeof(s->keys));
	s->phase = SESSION_HELLO;
	s->role = role;
	s->psk = psk;
	s->peer_hvid = peer_hvid;
	s->tx_seq = s->rx_seq = 0;
	memset(&s->peer, 0, sizeof(s->peer));
	s->ours = *hello;
	s->ours.version_min = WIRE_VERSION;
	s->ours.version_max = WIRE_VERSION;
	s->ours.role = role;
	if (auth_random(s->ours.nonce, WIRE_NONCE_SIZE) < 0) {
		fail(why, "no randomness for a nonce");
		return -EIO;
	}
	if (wire_put_hello(payload, WIRE_HELLO_SIZE, &s->ours) < 0) {
		fail(why, "cannot encode our HELLO");
		return -EINVAL;
	}
	return 0;
}

static void hellos(const struct session *s, const struct wire_hello **initiator,
                   const struct wire_hello **acceptor)
{
	*initiator = s->role == WIRE_ROLE_INITIATOR ? &s->ours : &s->peer;
	*acceptor = s->role == WIRE_ROLE_INITIATOR ? &s->peer : &s->ours;
}

int session_on_hello(struct session *s, const uint8_t *payload, uint32_t len,
                     uint8_t proof[WIRE_MAC_SIZE], const char **why)
{
	const struct wire_hello *initiator, *acceptor;

	if (s->phase != SESSION_HELLO) {
		fail(why, "HELLO in the middle of a session");
		return -EPROTO;
	}
	if (wire_parse_hello(payload, len, &s->peer, why) < 0)
		return -EBADMSG;
	if (s->peer.version_min > WIRE_VERSION || s->peer.version_max < WIRE_VERSION) {
		fail(why, "peer speaks no version we know");
		return -EPROTO;
	}
	if (strcmp(s->peer.hvid, s->peer_hvid) != 0) {
		fail(why, "wrong peer hvid");
		return -EACCES;
	}
	if (s->peer.role == s->role) {
		fail(why, "both ends claim the same role");
		return -EPROTO;
	}
	hellos(s, &initiator, &acceptor);
	if (auth_derive(s->psk, initiator, acceptor, s->role, &s->keys) < 0 ||
	    auth_proof(s->keys.tx_key, initiator, acceptor, proof) < 0) {
		fail(why, "key derivation failed");
		return -EIO;
	}
	s->phase = SESSION_AUTH;
	return 0;
}

/* Constant-time comparison, so a proof's timing says nothing of the key. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int session_on_auth(struct session *s, const uint8_t *payload, uint32_t len)
{
	const struct wire_hello *initiator, *acceptor;
	uint8_t expected[WIRE_MAC_SIZE];

	hellos(s, &initiator, &acceptor);
	if (s->phase != SESSION_AUTH || len != WIRE_MAC_SIZE ||
	    auth_proof(s->keys.rx_key, initiator, acceptor, expected) < 0 ||
	    !equal_ct(expected, payload, WIRE_MAC_SIZE))
		return -EACCES;
	s->phase = SESSION_UP;
	return 0;
}

uint32_t session_trailer_size(uint8_t type)
{
	return type == WIRE_HELLO ? 0 : WIRE_MAC_SIZE;
}

uint64_t session_next_seq(const struct session *s, uint8_t type)
{
	return type == WIRE_HELLO ? 0 : s->tx_seq + 1;
}

int session_seal(struct session *s, uint8_t type, uint8_t *frame, size_t len)
{
	if (type == WIRE_HELLO)
		return 0;
	if (auth_mac(s->keys.tx_key, frame, len, frame + len) < 0)
		return -EIO;
	s->tx_seq++;
	return 0;
}

int session_open(struct session *s, const struct wire_header *hdr, const uint8_t *frame,
                 const char **why)
{
	if (s->phase == SESSION_HELLO) {
		fail(why, "authenticated frame before the handshake");
		return -ENOTCONN;
	}
	if (auth_verify(s->keys.rx_key, frame, WIRE_HEADER_SIZE + hdr->length,
	                frame + WIRE_HEADER_SIZE + hdr->length) < 0) {
		fail(why, s->phase == SESSION_AUTH ? "authentication failed (wrong key?)"
		                                   : "frame with a bad MAC (tampered?)");
		return -EBADMSG;
	}
	if (hdr->seq != s->rx_seq + 1) {
		fail(why, hdr->seq <= s->rx_seq ? "replayed frame" : "frame out of order");
		return -EPROTO;
	}
	s->rx_seq = hdr->seq;
	return 0;
}

void session_end(struct session *s)
{
	explicit_bzero(&s->keys, sizeof(s->keys));
	s->tx_seq = s->rx_seq = 0;
	s->phase = SESSION_HELLO;
}
