/* SPDX-License-Identifier: MIT */
/*
 * Link authentication (docs/protocol.md, "Keys and AUTH"), on OpenSSL:
 * pre-shared key files, HKDF-SHA256 session keys per direction, HMAC-SHA256
 * on every frame, and the AUTH proof.
 *
 * Return conventions: 0 on success, negative errno values on failure; the
 * key-file loader also fills a human-readable reason.
 */
#ifndef ARGO_AUTH_H
#define ARGO_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define AUTH_KEY_MIN          32u
#define AUTH_KEY_MAX          1024u
#define AUTH_SESSION_KEY_SIZE 32u

struct auth_psk {
	uint8_t key[AUTH_KEY_MAX];
	size_t len;
};

/*
 * Loads a pre-shared key file. Refuses (-EPERM) a file that is not a
 * regular file, not owned by expected_uid, or readable/writable by group or
 * others (mode must be 0600 or stricter), and (-EINVAL) one shorter than
 * AUTH_KEY_MIN or longer than AUTH_KEY_MAX bytes. why (cap bytes) gets a
 * sentence naming the file and the problem.
 */
int auth_load_psk(const char *path, uid_t expected_uid, struct auth_psk *psk, char *why,
                  size_t cap);

struct auth_session {
	uint8_t tx_key[AUTH_SESSION_KEY_SIZE]; /* our direction */
	uint8_t rx_key[AUTH_SESSION_KEY_SIZE]; /* the peer's direction */
};

/*
 * Derives a session's keys from the PSK and both HELLOs (as decoded), for
 * our role. Both ends derive the same pair, mirrored.
 */
int auth_derive(const struct auth_psk *psk, const struct wire_hello *initiator,
                const struct wire_hello *acceptor, enum wire_role our_role,
                struct auth_session *session);

/* The 32-byte AUTH proof for a direction key (ours to send, the peer's to
 * check): HMAC(key, "argo-relay v1 auth" || HELLO_i || HELLO_a). */
int auth_proof(const uint8_t key[AUTH_SESSION_KEY_SIZE], const struct wire_hello *initiator,
               const struct wire_hello *acceptor, uint8_t proof[WIRE_MAC_SIZE]);

/* MAC over a frame's header and payload (len bytes from frame). */
int auth_mac(const uint8_t key[AUTH_SESSION_KEY_SIZE], const uint8_t *frame, size_t len,
             uint8_t mac[WIRE_MAC_SIZE]);

/* Checks a received MAC in constant time: 0 or -EBADMSG (also on any
 * internal error: it fails closed). */
int auth_verify(const uint8_t key[AUTH_SESSION_KEY_SIZE], const uint8_t *frame, size_t len,
                const uint8_t mac[WIRE_MAC_SIZE]);

/* Fresh random bytes (nonces, boot ids): 0 or -EIO. */
int auth_random(void *buf, size_t len);

#endif /* ARGO_AUTH_H */
