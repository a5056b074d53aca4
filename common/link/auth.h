/* SPDX-License-Identifier: MIT */
/*
 * Link keys (docs/protocol.md, "TLS and keys"), on OpenSSL: pre-shared key
 * files, checked for strength as they are read; the TLS 1.3 external PSK
 * and its identity derived from a key for one link's two ends; private
 * files (a certificate's key) checked like key files; randomness.
 *
 * Keys never stay where they are not needed: every buffer that held one is
 * wiped (OPENSSL_cleanse) before it is freed or reused, and keys are
 * compared with CRYPTO_memcmp.
 *
 * Return conventions: 0 on success, negative errno values on failure; the
 * loaders also fill a human-readable reason naming the file.
 */
#ifndef ARGO_AUTH_H
#define ARGO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define AUTH_KEY_MIN 32u /* bytes: 256 bits when they are random */
#define AUTH_KEY_MAX 1024u
/* A key of random bytes has many different byte values (32 random bytes
 * have about 30); fewer than this is a pattern, not a key. */
#define AUTH_KEY_MIN_DISTINCT 16u
/* The TLS PSK is one SHA-384 output: TLS_AES_256_GCM_SHA384's hash. */
#define AUTH_TLS_PSK_SIZE 48u
/* "argo-relay/4 " + two hvids and a blank, with the NUL. */
#define AUTH_PSK_IDENTITY_MAX 48u
/* What every refusal of a weak key says to do instead. */
#define AUTH_KEY_ADVICE                                                                            \
	"a key must be at least 32 random bytes: make one with "                                   \
	"'head -c 32 /dev/urandom > KEYFILE; chmod 600 KEYFILE'"

struct auth_psk {
	uint8_t key[AUTH_KEY_MAX];
	size_t len;
	/* The file it came from, so that one file serving two links is
	 * noticed (auth_same_key()). */
	dev_t dev;
	ino_t ino;
};

/*
 * Loads a pre-shared key file. Refuses (-EPERM) a file that is not a
 * regular file, not owned by expected_uid, or readable/writable by group or
 * others (mode must be 0600 or stricter), and (-EINVAL) one shorter than
 * AUTH_KEY_MIN or longer than AUTH_KEY_MAX bytes, or one that does not look
 * random (auth_key_check()). why (cap bytes) gets a sentence naming the
 * file, the problem and, for a weak key, how to make a good one. Nothing of
 * a refused key is left in psk or on the stack.
 */
int auth_load_psk(const char *path, uid_t expected_uid, struct auth_psk *psk, char *why,
                  size_t cap);

/*
 * Is this key strong enough? 0, or -EINVAL with a static reason: shorter
 * than AUTH_KEY_MIN; text (every byte printable ASCII or white space: a
 * passphrase, or hex or base64 that holds fewer bits than its length
 * says); fewer than AUTH_KEY_MIN_DISTINCT distinct byte values (a
 * pattern). 32 bytes from /dev/urandom pass all three but with a
 * probability below 10^-13.
 */
int auth_key_check(const uint8_t *key, size_t len, const char **why);

/* Do two loaded keys come from the same file, or hold the same bytes?
 * (Constant time in the bytes compared.) */
bool auth_same_key(const struct auth_psk *a, const struct auth_psk *b);

/* Wipes a key. */
void auth_psk_wipe(struct auth_psk *psk);

/*
 * The TLS 1.3 external PSK of one link (docs/protocol.md, "TLS and keys"):
 * HKDF-SHA384 of the key, bound to the initiator's and the acceptor's hvid
 * in that order, so that each direction of a pair of relays has its own and
 * a handshake reflected back to its sender cannot succeed. -EINVAL on a bad
 * hvid, -EIO when OpenSSL fails.
 */
int auth_tls_psk(const struct auth_psk *psk, const char *initiator_hvid, const char *acceptor_hvid,
                 uint8_t out[AUTH_TLS_PSK_SIZE]);

/* The PSK identity the initiator offers: "argo-relay/4 INITIATOR ACCEPTOR".
 * 0, or -EINVAL on a bad hvid. */
int auth_psk_identity(const char *initiator_hvid, const char *acceptor_hvid,
                      char out[AUTH_PSK_IDENTITY_MAX]);

/*
 * Checks a private file that is not a PSK (a certificate's private key) as
 * key files are checked: a regular file, not a symbolic link, owned by
 * expected_uid, mode 0600 or stricter. 0, or -EPERM/-errno with why.
 */
int auth_check_private_file(const char *path, uid_t expected_uid, const char *what, char *why,
                            size_t cap);

/* Fresh random bytes (boot ids, tokens): 0 or -EIO. */
int auth_random(void *buf, size_t len);

#endif /* ARGO_AUTH_H */
