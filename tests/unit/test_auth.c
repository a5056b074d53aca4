/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of link authentication (common/auth.c, auth.h) against
 * docs/protocol.md, "Keys and AUTH".
 *
 * The known answers (kat_*) were computed outside this project with the
 * OpenSSL command line, from the inputs below written out byte by byte:
 *
 *   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:<psk> \
 *       -kdfopt hexsalt:<nonce_i || nonce_a> \
 *       -kdfopt hexinfo:<"argo-relay v1 i2a" || hvid_i || hvid_a> HKDF
 *   openssl dgst -sha256 -mac HMAC -macopt hexkey:<k_dir> <file>
 *
 * where <file> held "argo-relay v1 auth" || HELLO_i || HELLO_a (the 84-byte
 * version-3 payloads, acked_msn 0) for the proofs, and the 24 bytes of kat_frame for the frame MAC;
 * and cross-checked with Python's hmac module (RFC 5869 by hand).
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "../cunit_main.h"

#define CHECKF(cond, ...)                                                                          \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_) {                                                                        \
			fprintf(stderr, "\n    %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
		}                                                                                  \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE);             \
	} while (0)

/* ---------------------------------------------------------------------------
 * Known answers.
 */

/* PSK: the 48 bytes 0x00..0x2f. */
static struct auth_psk kat_psk(void)
{
	struct auth_psk p;
	unsigned int i;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < 48; i++)
		p.key[i] = (uint8_t)i;
	p.len = 48;
	return p;
}

/* HELLO_i: hvid "l1-xen", nonce 0x00..0x1f, rx_next_msn 1, boot_id
 * 0x1111111111111111, role 0. HELLO_a: hvid "l0-host", nonce 0x80..0x9f,
 * rx_next_msn 5, boot_id 0x2222222222222222, role 1. */
static struct wire_hello kat_hello(enum wire_role role)
{
	struct wire_hello h;
	unsigned int i;

	memset(&h, 0, sizeof(h));
	h.version_min = 3;
	h.version_max = 3;
	strcpy(h.hvid, role == WIRE_ROLE_INITIATOR ? "l1-xen" : "l0-host");
	for (i = 0; i < WIRE_NONCE_SIZE; i++)
		h.nonce[i] = (uint8_t)((role == WIRE_ROLE_INITIATOR ? 0x00 : 0x80) + i);
	h.rx_next_msn = role == WIRE_ROLE_INITIATOR ? 1 : 5;
	h.boot_id = role == WIRE_ROLE_INITIATOR ? 0x1111111111111111ull : 0x2222222222222222ull;
	h.role = role;
	return h;
}

/* clang-format off */
static const uint8_t kat_k_i2a[32] = {0x93, 0x2f, 0x51, 0x2d, 0x82, 0x82, 0x02, 0x1b,
				      0xb1, 0x5e, 0xe1, 0x5a, 0x4e, 0x6d, 0xe0, 0x6e,
				      0xa1, 0xea, 0x61, 0xb7, 0x9c, 0x0f, 0x90, 0xf5,
				      0x66, 0x7d, 0x1b, 0xd7, 0xa9, 0xfe, 0x93, 0x78};
static const uint8_t kat_k_a2i[32] = {0x17, 0xcb, 0x4f, 0xd5, 0x85, 0x8b, 0x77, 0xee,
				      0x4a, 0xae, 0x58, 0x2d, 0xfd, 0xb8, 0x39, 0x22,
				      0x1a, 0x40, 0x6a, 0x98, 0x3b, 0xea, 0xe2, 0xe3,
				      0x00, 0x11, 0x84, 0x49, 0x98, 0x13, 0x0f, 0xc0};
/* HMAC(k_i2a, "argo-relay v1 auth" || HELLO_i || HELLO_a): the initiator's. */
static const uint8_t kat_proof_i[32] = {0x1e, 0xbc, 0xd5, 0x9d, 0xe9, 0x18, 0x7a, 0x9c,
					0xdd, 0xfc, 0x84, 0x6c, 0xc6, 0x09, 0xf6, 0x4e,
					0x7f, 0x28, 0xd2, 0xf1, 0x5d, 0x62, 0xc3, 0x73,
					0x26, 0x5c, 0x67, 0x08, 0x5c, 0xf9, 0x27, 0x18};
/* The same with k_a2i: the acceptor's. */
static const uint8_t kat_proof_a[32] = {0xff, 0x20, 0x8c, 0x98, 0xd0, 0xc7, 0xb0, 0x7b,
					0x39, 0xe4, 0x4e, 0x51, 0xb0, 0xa9, 0xf4, 0xf9,
					0x7e, 0x71, 0x13, 0xd9, 0x99, 0xe2, 0x99, 0x55,
					0x92, 0x2e, 0x83, 0x6b, 0xa1, 0xc8, 0xcd, 0x53};
/* A PING frame, seq 1, token 0x0123456789abcdef, and its MAC with k_a2i. */
static const uint8_t kat_frame[24] = {0x01, 0x07, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
				      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				      0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
static const uint8_t kat_frame_mac[32] = {0xb2, 0xae, 0xc2, 0xc6, 0x86, 0xef, 0x47, 0x34,
					  0x36, 0x40, 0x53, 0x6b, 0x7a, 0x43, 0x91, 0x7c,
					  0xd7, 0xd8, 0x0e, 0x1c, 0x33, 0xfc, 0x31, 0xd8,
					  0x3b, 0xd9, 0x74, 0x82, 0x02, 0x09, 0xef, 0x26};

/* clang-format on */

/* HMAC-SHA256 by OpenSSL's one-shot API, independent of auth.c's contexts. */
static void ref_hmac(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t out[32])
{
	size_t n = 0;

	CU_ASSERT_FATAL(
	    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, msg, len, out, 32, &n) != NULL);
	CU_ASSERT_EQUAL(n, 32);
}

static struct auth_session derive(const struct auth_psk *psk, const struct wire_hello *i,
                                  const struct wire_hello *a, enum wire_role role)
{
	struct auth_session s;

	memset(&s, 0xCC, sizeof(s));
	CU_ASSERT_EQUAL(auth_derive(psk, i, a, role, &s), 0);
	return s;
}

/* ---------------------------------------------------------------------------
 * Key derivation.
 */

static void test_kat_keys(void)
{
	struct auth_psk psk = kat_psk();
	struct wire_hello hi = kat_hello(WIRE_ROLE_INITIATOR), ha = kat_hello(WIRE_ROLE_ACCEPTOR);
	struct auth_session si = derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR);
	struct auth_session sa = derive(&psk, &hi, &ha, WIRE_ROLE_ACCEPTOR);

	CU_ASSERT_EQUAL(memcmp(si.tx_key, kat_k_i2a, 32), 0);
	CU_ASSERT_EQUAL(memcmp(si.rx_key, kat_k_a2i, 32), 0);
	CU_ASSERT_EQUAL(memcmp(sa.tx_key, kat_k_a2i, 32), 0);
	CU_ASSERT_EQUAL(memcmp(sa.rx_key, kat_k_i2a, 32), 0);
}

static void test_kat_proof_and_mac(void)
{
	struct wire_hello hi = kat_hello(WIRE_ROLE_INITIATOR), ha = kat_hello(WIRE_ROLE_ACCEPTOR);
	uint8_t out[32];

	CU_ASSERT_EQUAL(auth_proof(kat_k_i2a, &hi, &ha, out), 0);
	CU_ASSERT_EQUAL(memcmp(out, kat_proof_i, 32), 0);
	CU_ASSERT_EQUAL(auth_proof(kat_k_a2i, &hi, &ha, out), 0);
	CU_ASSERT_EQUAL(memcmp(out, kat_proof_a, 32), 0);
	CU_ASSERT_EQUAL(auth_mac(kat_k_a2i, kat_frame, sizeof(kat_frame), out), 0);
	CU_ASSERT_EQUAL(memcmp(out, kat_frame_mac, 32), 0);
	CU_ASSERT_EQUAL(auth_verify(kat_k_a2i, kat_frame, sizeof(kat_frame), kat_frame_mac), 0);
	CU_ASSERT_EQUAL(auth_verify(kat_k_i2a, kat_frame, sizeof(kat_frame), kat_frame_mac),
	                -EBADMSG);
	/* Garbage after an hvid's NUL in the struct does not change anything:
	 * the proof covers the HELLO as sent. */
	memset(hi.hvid + 7, 'Z', sizeof(hi.hvid) - 7);
	CU_ASSERT_EQUAL(auth_proof(kat_k_i2a, &hi, &ha, out), 0);
	CU_ASSERT_EQUAL(memcmp(out, kat_proof_i, 32), 0);
}

static void test_deterministic_and_mirrored(void)
{
	struct auth_psk psk = kat_psk();
	struct wire_hello hi = kat_hello(WIRE_ROLE_INITIATOR), ha = kat_hello(WIRE_ROLE_ACCEPTOR);
	struct auth_session a, b, i;

	CU_ASSERT_EQUAL(auth_random(hi.nonce, sizeof(hi.nonce)), 0);
	CU_ASSERT_EQUAL(auth_random(ha.nonce, sizeof(ha.nonce)), 0);
	a = derive(&psk, &hi, &ha, WIRE_ROLE_ACCEPTOR);
	b = derive(&psk, &hi, &ha, WIRE_ROLE_ACCEPTOR);
	i = derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR);
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a.tx_key, a.rx_key, 32), 0);
	CU_ASSERT_EQUAL(memcmp(i.tx_key, a.rx_key, 32), 0);
	CU_ASSERT_EQUAL(memcmp(i.rx_key, a.tx_key, 32), 0);
}

/* Keys of a session with one input changed: all four keys must differ from
 * the base session's. */
static void check_all_differ(const struct auth_session *x, const struct auth_session *y,
                             const char *what)
{
	CHECKF(memcmp(x->tx_key, y->tx_key, 32) != 0 && memcmp(x->rx_key, y->rx_key, 32) != 0 &&
	           memcmp(x->tx_key, y->rx_key, 32) != 0 && memcmp(x->rx_key, y->tx_key, 32) != 0,
	       "%s: keys did not change\n", what);
}

static void test_keys_differ(void)
{
	const struct auth_psk psk0 = kat_psk();
	const struct wire_hello hi0 = kat_hello(WIRE_ROLE_INITIATOR);
	const struct wire_hello ha0 = kat_hello(WIRE_ROLE_ACCEPTOR);
	struct auth_session base = derive(&psk0, &hi0, &ha0, WIRE_ROLE_INITIATOR), s;
	struct wire_hello hi, ha;
	struct auth_psk psk;
	unsigned int i;

	for (i = 0; i < WIRE_NONCE_SIZE * 8; i += 37) {
		hi = hi0;
		hi.nonce[i / 8] ^= (uint8_t)(1u << (i % 8));
		s = derive(&psk0, &hi, &ha0, WIRE_ROLE_INITIATOR);
		check_all_differ(&base, &s, "nonce_i");
		ha = ha0;
		ha.nonce[i / 8] ^= (uint8_t)(1u << (i % 8));
		s = derive(&psk0, &hi0, &ha, WIRE_ROLE_INITIATOR);
		check_all_differ(&base, &s, "nonce_a");
	}
	/* The nonces swapped. */
	hi = hi0;
	ha = ha0;
	memcpy(hi.nonce, ha0.nonce, WIRE_NONCE_SIZE);
	memcpy(ha.nonce, hi0.nonce, WIRE_NONCE_SIZE);
	s = derive(&psk0, &hi, &ha, WIRE_ROLE_INITIATOR);
	check_all_differ(&base, &s, "nonces swapped");
	/* The PSK: one bit, one byte shorter, one zero byte longer. */
	for (i = 0; i < psk0.len; i += 5) {
		psk = psk0;
		psk.key[i] ^= 0x01;
		s = derive(&psk, &hi0, &ha0, WIRE_ROLE_INITIATOR);
		check_all_differ(&base, &s, "psk bit");
	}
	psk = psk0;
	psk.len--;
	s = derive(&psk, &hi0, &ha0, WIRE_ROLE_INITIATOR);
	check_all_differ(&base, &s, "psk shorter");
	psk = psk0;
	psk.key[psk.len++] = 0;
	s = derive(&psk, &hi0, &ha0, WIRE_ROLE_INITIATOR);
	check_all_differ(&base, &s, "psk longer");
	/* The hvids: each one, a one-character change, and swapped. */
	hi = hi0;
	strcpy(hi.hvid, "l1-xem");
	s = derive(&psk0, &hi, &ha0, WIRE_ROLE_INITIATOR);
	check_all_differ(&base, &s, "hvid_i");
	ha = ha0;
	strcpy(ha.hvid, "l0-hos");
	s = derive(&psk0, &hi0, &ha, WIRE_ROLE_INITIATOR);
	check_all_differ(&base, &s, "hvid_a");
	hi = hi0;
	ha = ha0;
	strcpy(hi.hvid, ha0.hvid);
	strcpy(ha.hvid, hi0.hvid);
	s = derive(&psk0, &hi, &ha, WIRE_ROLE_INITIATOR);
	check_all_differ(&base, &s, "hvids swapped");
	/* Other HELLO fields do not enter the keys (only the proof). */
	hi = hi0;
	hi.boot_id++;
	hi.rx_next_msn += 100;
	s = derive(&psk0, &hi, &ha0, WIRE_ROLE_INITIATOR);
	CU_ASSERT_EQUAL(memcmp(&s, &base, sizeof(s)), 0);
}

static void test_proof(void)
{
	struct auth_psk psk = kat_psk(), other = kat_psk();
	struct wire_hello hi = kat_hello(WIRE_ROLE_INITIATOR), ha = kat_hello(WIRE_ROLE_ACCEPTOR);
	struct auth_session si, sa, bad;
	uint8_t sent[32], want[32];

	si = derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR);
	sa = derive(&psk, &hi, &ha, WIRE_ROLE_ACCEPTOR);
	/* The initiator proves with its tx key; the acceptor checks with its rx key. */
	CU_ASSERT_EQUAL(auth_proof(si.tx_key, &hi, &ha, sent), 0);
	CU_ASSERT_EQUAL(auth_proof(sa.rx_key, &hi, &ha, want), 0);
	CU_ASSERT_EQUAL(memcmp(sent, want, 32), 0);
	/* And the other way. */
	CU_ASSERT_EQUAL(auth_proof(sa.tx_key, &hi, &ha, sent), 0);
	CU_ASSERT_EQUAL(auth_proof(si.rx_key, &hi, &ha, want), 0);
	CU_ASSERT_EQUAL(memcmp(sent, want, 32), 0);
	/* The two directions' proofs differ: a reflected proof fails. */
	CU_ASSERT_EQUAL(auth_proof(si.tx_key, &hi, &ha, want), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(sent, want, 32), 0);
	/* A peer with another PSK. */
	other.key[0] ^= 0x80;
	bad = derive(&other, &hi, &ha, WIRE_ROLE_INITIATOR);
	CU_ASSERT_EQUAL(auth_proof(bad.tx_key, &hi, &ha, sent), 0);
	CU_ASSERT_EQUAL(auth_proof(sa.rx_key, &hi, &ha, want), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(sent, want, 32), 0);
	/* Any HELLO field changes the proof. */
	CU_ASSERT_EQUAL(auth_proof(si.tx_key, &hi, &ha, sent), 0);
	hi.boot_id ^= 1;
	CU_ASSERT_EQUAL(auth_proof(si.tx_key, &hi, &ha, want), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(sent, want, 32), 0);
	hi.boot_id ^= 1;
	ha.rx_next_msn ^= 1;
	CU_ASSERT_EQUAL(auth_proof(si.tx_key, &hi, &ha, want), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(sent, want, 32), 0);
	ha.rx_next_msn ^= 1;
	/* HELLOs swapped. */
	CU_ASSERT_EQUAL(auth_proof(si.tx_key, &ha, &hi, want), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(sent, want, 32), 0);
}

static void test_refuses_bad_input(void)
{
	struct auth_psk psk = kat_psk();
	struct wire_hello hi = kat_hello(WIRE_ROLE_INITIATOR), ha = kat_hello(WIRE_ROLE_ACCEPTOR);
	struct auth_session s;
	uint8_t out[32];

	psk.len = AUTH_KEY_MIN - 1;
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR, &s), -EINVAL);
	psk.len = AUTH_KEY_MAX + 1;
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR, &s), -EINVAL);
	psk.len = AUTH_KEY_MIN;
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR, &s), 0);
	psk.len = AUTH_KEY_MAX;
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR, &s), 0);
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, (enum wire_role)2, &s), -EINVAL);
	CU_ASSERT_EQUAL(auth_derive(NULL, &hi, &ha, WIRE_ROLE_INITIATOR, &s), -EINVAL);
	hi.hvid[0] = '\0';
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR, &s), -EINVAL);
	CU_ASSERT_EQUAL(auth_proof(kat_k_i2a, &hi, &ha, out), -EINVAL);
	hi = kat_hello(WIRE_ROLE_INITIATOR);
	memset(ha.hvid, 'x', sizeof(ha.hvid)); /* no NUL */
	CU_ASSERT_EQUAL(auth_derive(&psk, &hi, &ha, WIRE_ROLE_INITIATOR, &s), -EINVAL);
	CU_ASSERT_EQUAL(auth_proof(kat_k_i2a, &hi, &ha, out), -EINVAL);
	CU_ASSERT_EQUAL(auth_mac(kat_k_i2a, NULL, 1, out), -EINVAL);
	CU_ASSERT_EQUAL(auth_verify(kat_k_i2a, kat_frame, sizeof(kat_frame), NULL), -EBADMSG);
}

/* ---------------------------------------------------------------------------
 * MACs.
 */

static void test_verify_every_bit(void)
{
	enum { LEN = 16 + 64 + 61 };
	uint8_t *frame = malloc(LEN), mac[32], ref[32];
	unsigned int i;

	CU_ASSERT_FATAL(frame != NULL);
	for (i = 0; i < LEN; i++)
		frame[i] = (uint8_t)(i * 13 + 1);
	CU_ASSERT_EQUAL(auth_mac(kat_k_i2a, frame, LEN, mac), 0);
	ref_hmac(kat_k_i2a, frame, LEN, ref);
	CU_ASSERT_EQUAL(memcmp(mac, ref, 32), 0);
	CU_ASSERT_EQUAL(auth_verify(kat_k_i2a, frame, LEN, mac), 0);
	for (i = 0; i < LEN * 8; i++) {
		frame[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECKF(auth_verify(kat_k_i2a, frame, LEN, mac) == -EBADMSG, "frame bit %u\n", i);
		frame[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (i = 0; i < 32 * 8; i++) {
		mac[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECKF(auth_verify(kat_k_i2a, frame, LEN, mac) == -EBADMSG, "mac bit %u\n", i);
		mac[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CU_ASSERT_EQUAL(auth_verify(kat_k_i2a, frame, LEN - 1, mac), -EBADMSG);
	CU_ASSERT_EQUAL(auth_verify(kat_k_a2i, frame, LEN, mac), -EBADMSG);
	CU_ASSERT_EQUAL(auth_verify(kat_k_i2a, frame, LEN, mac), 0);
	/* An empty message. */
	CU_ASSERT_EQUAL(auth_mac(kat_k_i2a, NULL, 0, mac), 0);
	ref_hmac(kat_k_i2a, (const uint8_t *)"", 0, ref);
	CU_ASSERT_EQUAL(memcmp(mac, ref, 32), 0);
	free(frame);
}

/* Many keys interleaved (more than auth.c caches per thread), sizes from 0
 * to 64 KiB + 16: every MAC equals OpenSSL's one-shot HMAC. */
static void test_mac_many_keys(void)
{
	static const size_t sizes[] = {0, 1, 16, 55, 56, 63, 64, 65, 1000, 65536 + 16};
	size_t max = 65536 + 16;
	uint8_t keys[5][32], mac[32], ref[32];
	uint8_t *buf = malloc(max);
	unsigned int i, k, z;

	CU_ASSERT_FATAL(buf != NULL);
	/* Keys that differ in one byte only: the last, the first, the middle. */
	CU_ASSERT_EQUAL(auth_random(keys[0], 32), 0);
	for (k = 1; k < 5; k++)
		memcpy(keys[k], keys[0], 32);
	keys[1][31] ^= 1;
	keys[2][31] ^= 2;
	keys[3][0] ^= 0x80;
	keys[4][16] ^= 0x10;
	CU_ASSERT_EQUAL(auth_random(buf, max), 0);
	for (i = 0; i < 200; i++) {
		/* Patterns: alternate two keys, cycle through all, repeat one. */
		k = i < 60 ? i % 2 : i < 120 ? i % 5 : (i / 7) % 5;
		z = (i * 7) % (sizeof(sizes) / sizeof(sizes[0]));
		CU_ASSERT_EQUAL(auth_mac(keys[k], buf, sizes[z], mac), 0);
		ref_hmac(keys[k], buf, sizes[z], ref);
		CHECKF(memcmp(mac, ref, 32) == 0, "call %u key %u size %zu\n", i, k, sizes[z]);
	}
	free(buf);
}

struct thread_arg {
	unsigned int seed;
	int failures;
};

static void *mac_thread(void *p)
{
	struct thread_arg *a = p;
	uint8_t key[2][32], msg[300], mac[32], ref[32];
	unsigned int i;
	size_t n;

	memset(key, (int)a->seed, sizeof(key));
	key[1][0] ^= 0xFF;
	for (i = 0; i < 2000; i++) {
		memset(msg, (int)(i + a->seed), sizeof(msg));
		n = (i * 31) % sizeof(msg);
		if (auth_mac(key[i % 2], msg, n, mac) != 0)
			a->failures++;
		else if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key[i % 2], 32, msg, n, ref,
		                    32, NULL) ||
		         memcmp(mac, ref, 32) != 0)
			a->failures++;
	}
	return NULL;
}

/* Threads each with their own keys: the per-thread contexts never mix. */
static void test_mac_threads(void)
{
	pthread_t t[4];
	struct thread_arg a[4];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		a[i].seed = i + 1;
		a[i].failures = 0;
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, mac_thread, &a[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECKF(a[i].failures == 0, "thread %u: %d failures\n", i, a[i].failures);
	}
}

static void test_random(void)
{
	uint8_t a[32], b[32], *big = malloc(1 << 20);

	CU_ASSERT_FATAL(big != NULL);
	CU_ASSERT_EQUAL(auth_random(a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(auth_random(b, sizeof(b)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(auth_random(a, 0), 0);
	CU_ASSERT_EQUAL(auth_random(big, 1 << 20), 0);
	free(big);
}

/* ---------------------------------------------------------------------------
 * Key files.
 */

static char tmpdir[64];

static int suite_init(void)
{
	strcpy(tmpdir, "/tmp/test-auth.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes name in tmpdir with n bytes (i*7+3) and mode; returns its path. */
static const char *keyfile(const char *name, size_t n, mode_t mode)
{
	static char path[256];
	uint8_t buf[2048];
	size_t i;
	int fd;

	CU_ASSERT_FATAL(n <= sizeof(buf));
	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, buf, n) == (ssize_t)n);
	CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
	close(fd);
	return path;
}

/* Expects a refusal rc whose reason names the path and contains word. */
static void check_refused(const char *path, uid_t uid, int rc_want, const char *word)
{
	struct auth_psk psk;
	char why[512];
	int rc;

	memset(&psk, 0xAB, sizeof(psk));
	why[0] = '\0';
	rc = auth_load_psk(path, uid, &psk, why, sizeof(why));
	CHECKF(rc == rc_want && strstr(why, path) && strstr(why, word),
	       "%s: rc %d (want %d), why \"%s\" (want \"%s\")\n", path, rc, rc_want, why, word);
	CHECKF(psk.len == 0, "%s: psk.len %zu after a refusal\n", path, psk.len);
}

static void check_accepted(const char *path, size_t n)
{
	struct auth_psk psk;
	char why[512];
	size_t i;
	bool same = true;
	int rc;

	memset(&psk, 0xAB, sizeof(psk));
	rc = auth_load_psk(path, getuid(), &psk, why, sizeof(why));
	CHECKF(rc == 0 && psk.len == n, "%s: rc %d len %zu why \"%s\"\n", path, rc, psk.len, why);
	for (i = 0; i < n && i < AUTH_KEY_MAX; i++)
		same = same && psk.key[i] == (uint8_t)(i * 7 + 3);
	CU_ASSERT_TRUE(same);
}

static void test_psk_accepts(void)
{
	check_accepted(keyfile("k32", 32, 0600), 32);
	check_accepted(keyfile("k1024", 1024, 0400), 1024);
	check_accepted(keyfile("k100", 100, 0600), 100);
	check_accepted(keyfile("k33", 33, 0400), 33);
	check_accepted(keyfile("k700", 64, 0700), 64); /* owner bits only */
}

static void test_psk_refuses_modes(void)
{
	check_refused(keyfile("m644", 32, 0644), getuid(), -EPERM, "mode 0644");
	check_refused(keyfile("m644", 32, 0644), getuid(), -EPERM, "chmod 600");
	check_refused(keyfile("m640", 32, 0640), getuid(), -EPERM,
	              "mode 0640 is readable by its group");
	check_refused(keyfile("m604", 32, 0604), getuid(), -EPERM,
	              "mode 0604 is readable by others");
	check_refused(keyfile("m660", 32, 0660), getuid(), -EPERM, "writable by its group");
	check_refused(keyfile("m602", 32, 0602), getuid(), -EPERM, "writable by others");
	check_refused(keyfile("m601", 32, 0601), getuid(), -EPERM, "executable by others");
	check_refused(keyfile("m666", 32, 0666), getuid(), -EPERM, "group and others");
	check_refused(keyfile("m4600", 32, 04640), getuid(), -EPERM, "mode 4640");
}

static void test_psk_refuses_owner(void)
{
	check_refused(keyfile("owner", 32, 0600), getuid() + 1, -EPERM, "owned by uid");
	check_refused(keyfile("owner", 32, 0600), getuid() + 1, -EPERM, "chown");
}

static void test_psk_refuses_sizes(void)
{
	check_refused(keyfile("s0", 0, 0600), getuid(), -EINVAL, "0 bytes");
	check_refused(keyfile("s31", 31, 0600), getuid(), -EINVAL, "31 bytes");
	check_refused(keyfile("s1025", 1025, 0600), getuid(), -EINVAL, "1025 bytes");
	check_refused(keyfile("s2048", 2048, 0400), getuid(), -EINVAL, "32 to 1024");
}

static void test_psk_refuses_kinds(void)
{
	char path[256], target[256];
	struct auth_psk psk;
	char why[16];

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	check_refused(path, getuid(), -ENOENT, "does not exist");
	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	CU_ASSERT_FATAL(mkdir(path, 0700) == 0);
	check_refused(path, getuid(), -EPERM, "a directory");
	/* A symlink to a good key file. */
	snprintf(target, sizeof(target), "%s", keyfile("good", 32, 0600));
	snprintf(path, sizeof(path), "%s/link", tmpdir);
	CU_ASSERT_FATAL(symlink(target, path) == 0);
	check_refused(path, getuid(), -EPERM, "symbolic link");
	/* A FIFO: refused, without blocking in open(). */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
	check_refused(path, getuid(), -EPERM, "FIFO");
	check_refused("/dev/null", getuid(), -EPERM, "character device");
	/* A short reason buffer is truncated, not overrun; none at all is fine. */
	memset(why, 'x', sizeof(why));
	CU_ASSERT_EQUAL(auth_load_psk(path, getuid(), &psk, why, sizeof(why)), -EPERM);
	CU_ASSERT_EQUAL(strnlen(why, sizeof(why)), sizeof(why) - 1);
	CU_ASSERT_EQUAL(auth_load_psk(path, getuid(), &psk, NULL, 0), -EPERM);
	CU_ASSERT_EQUAL(auth_load_psk(target, getuid(), &psk, NULL, 0), 0);
	CU_ASSERT_EQUAL(psk.len, 32);
}

/* ---------------------------------------------------------------------------
 */

int main(void)
{
	static const struct test_def keys[] = {
	    T(test_kat_keys),
	    T(test_kat_proof_and_mac),
	    T(test_deterministic_and_mirrored),
	    T(test_keys_differ),
	    T(test_proof),
	    T(test_refuses_bad_input),
	};
	static const struct test_def macs[] = {
	    T(test_verify_every_bit),
	    T(test_mac_many_keys),
	    T(test_mac_threads),
	    T(test_random),
	};
	static const struct test_def files[] = {
	    T(test_psk_accepts),       T(test_psk_refuses_modes), T(test_psk_refuses_owner),
	    T(test_psk_refuses_sizes), T(test_psk_refuses_kinds),
	};
	static const struct suite_def suites[] = {
	    SUITE("auth keys", keys),
	    SUITE("auth macs", macs),
	    {"auth key files", files, N(files), suite_init, suite_clean, NULL, NULL},
	};

	return cunit_main(suites, N(suites));
}
