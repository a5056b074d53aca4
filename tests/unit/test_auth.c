/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of link keys (common/link/auth.c, auth.h) against
 * docs/protocol.md, "TLS and keys": key strength, key files, the TLS PSK
 * and identity of a link, private files.
 *
 * The known answer (kat_tls_psk) was computed outside this project with the
 * OpenSSL command line, from the inputs below written out byte by byte:
 *
 *   openssl kdf -keylen 48 -kdfopt digest:SHA384 -kdfopt hexkey:<psk> \
 *       -kdfopt salt:"argo-relay v4" \
 *       -kdfopt hexinfo:<"argo-relay v4 tls psk" || hvid_i || hvid_a> HKDF
 *
 * (hvids NUL padded to 16 bytes), and cross-checked with Python's hmac
 * module (RFC 5869 by hand).
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

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
 * The TLS PSK of a link.
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

/* clang-format off */
/* HKDF-SHA384 for initiator "l1-xen", acceptor "l0-host". */
static const uint8_t kat_tls_psk[AUTH_TLS_PSK_SIZE] = {
    0x3A, 0xC0, 0x5E, 0x68, 0xFC, 0xCC, 0x3F, 0x24, 0x33, 0x43, 0x24, 0x54, 0xC5, 0x8D, 0x4E, 0xC1,
    0x39, 0xB5, 0x1B, 0xB5, 0xBC, 0x96, 0xF2, 0xA9, 0xEA, 0x55, 0xBF, 0x6C, 0xD7, 0xBE, 0xF8, 0x0B,
    0x95, 0xAD, 0xCC, 0x92, 0x88, 0x7B, 0x0E, 0x97, 0x8C, 0x87, 0x80, 0x8C, 0x63, 0xF7, 0x96, 0x5A};
/* clang-format on */

static void test_tls_psk_kat(void)
{
	struct auth_psk psk = kat_psk();
	uint8_t out[AUTH_TLS_PSK_SIZE];

	CU_ASSERT_EQUAL_FATAL(auth_tls_psk(&psk, "l1-xen", "l0-host", out), 0);
	CU_ASSERT_EQUAL(memcmp(out, kat_tls_psk, sizeof(out)), 0);
}

/* Each direction of a pair, each pair, and each key has its own PSK: a
 * handshake reflected back to its sender, or replayed to another link,
 * offers the wrong one. */
static void test_tls_psk_bound(void)
{
	struct auth_psk psk = kat_psk(), other = kat_psk();
	uint8_t a[AUTH_TLS_PSK_SIZE], b[AUTH_TLS_PSK_SIZE];

	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "l1-xen", "l0-host", a), 0);
	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "l0-host", "l1-xen", b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "l1-xen", "l0", b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	other.key[47] ^= 1;
	CU_ASSERT_EQUAL(auth_tls_psk(&other, "l1-xen", "l0-host", b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	/* Deterministic. */
	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "l1-xen", "l0-host", b), 0);
	CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
}

static void test_tls_psk_refuses(void)
{
	struct auth_psk psk = kat_psk();
	uint8_t out[AUTH_TLS_PSK_SIZE];

	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "", "l0", out), -EINVAL);
	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "l1", "bad/hvid", out), -EINVAL);
	CU_ASSERT_EQUAL(auth_tls_psk(&psk, NULL, "l0", out), -EINVAL);
	CU_ASSERT_EQUAL(auth_tls_psk(NULL, "l1", "l0", out), -EINVAL);
	psk.len = 31;
	CU_ASSERT_EQUAL(auth_tls_psk(&psk, "l1", "l0", out), -EINVAL);
}

static void test_identity(void)
{
	char id[AUTH_PSK_IDENTITY_MAX];

	CU_ASSERT_EQUAL(auth_psk_identity("l1-xen", "l0-host", id), 0);
	CU_ASSERT_STRING_EQUAL(id, "argo-relay/4 l1-xen l0-host");
	CU_ASSERT_EQUAL(auth_psk_identity("abcdefghijklmno", "ABCDEFGHIJKLMNO", id), 0);
	CU_ASSERT_STRING_EQUAL(id, "argo-relay/4 abcdefghijklmno ABCDEFGHIJKLMNO");
	CU_ASSERT_EQUAL(auth_psk_identity("a b", "l0", id), -EINVAL);
	CU_ASSERT_EQUAL(auth_psk_identity("l1", "", id), -EINVAL);
}

/* ---------------------------------------------------------------------------
 * Key strength.
 */

static void check_weak(const uint8_t *key, size_t len, const char *word)
{
	const char *why = NULL;
	int rc = auth_key_check(key, len, &why);

	CHECKF(rc == -EINVAL && why && strstr(why, word),
	       "len %zu: rc %d why \"%s\" (want \"%s\")\n", len, rc, why ? why : "(null)", word);
}

static void test_key_check(void)
{
	static const char *const texts[] = {
	    "correct horse battery staple, and a bit more",
	    /* 32 random bytes in hex and in base64: text, whatever they hold */
	    "9f2c4be07d1a38e5f60b7c24a9d18e3f5b0c7a2e4d6f8190a3b5c7d9e1f20486",
	    "nyxL4H0aOOX2C3wkqdGOP1sMei5Nb4GQo7XH2eHyBIY=",
	    "0123456789abcdef0123456789abcdef\n",
	    "tab\tseparated\tand\r\ncarriage returns, long enough",
	};
	uint8_t key[1024];
	const char *why = "untouched";
	size_t i;
	int ok = 0;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		check_weak((const uint8_t *)texts[i], strlen(texts[i]), "text");
	memset(key, 0, sizeof(key));
	check_weak(key, 32, "different byte values");
	check_weak(key, 1024, "different byte values");
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i % 15 ? 0xA5 : 0x01 + i % 14);
	check_weak(key, 1024, "different byte values");
	check_weak(key, 31, "short");
	check_weak(NULL, 0, "short");
	/* Random keys pass (each fails with probability below 10^-13). */
	for (i = 0; i < 10000; i++) {
		CU_ASSERT_FATAL(RAND_bytes(key, 32) == 1);
		ok += auth_key_check(key, 32, &why) == 0;
	}
	CHECKF(ok == 10000, "%d of 10000 random keys passed\n", ok);
	/* One random key, then a newline (echo'ed into a file): not text. */
	key[32] = '\n';
	CU_ASSERT_EQUAL(auth_key_check(key, 33, &why), 0);
	/* A byte of every value: fine. */
	for (i = 0; i < 256; i++)
		key[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(auth_key_check(key, 256, NULL), 0);
}

static void test_same_key(void)
{
	struct auth_psk a = kat_psk(), b = kat_psk();

	CU_ASSERT_TRUE(auth_same_key(&a, &b)); /* the same bytes */
	b.key[5] ^= 0x40;
	CU_ASSERT_FALSE(auth_same_key(&a, &b));
	b.key[5] ^= 0x40;
	b.len = 47;
	CU_ASSERT_FALSE(auth_same_key(&a, &b));
	b = kat_psk();
	b.key[0] = 0xFF;
	a.dev = b.dev = 7;
	a.ino = b.ino = 99; /* the same file, whatever it held when read */
	CU_ASSERT_TRUE(auth_same_key(&a, &b));
	b.ino = 100;
	CU_ASSERT_FALSE(auth_same_key(&a, &b));
	auth_psk_wipe(&a);
	CU_ASSERT_EQUAL(a.len, 0);
	CU_ASSERT_EQUAL(a.key[1], 0);
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

/* Writes name in tmpdir with these bytes and mode; returns its path. */
static const char *keyfile_bytes(const char *name, const void *bytes, size_t n, mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, bytes, n) == (ssize_t)n);
	CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
	close(fd);
	return path;
}

/* A passphrase, a hex key, a pattern: refused, with the way to make a good
 * one. */
static void test_psk_refuses_weak(void)
{
	static const char pass[] = "our link password, long enough to pass a length check";
	static const char hex[] =
	    "9f2c4be07d1a38e5f60b7c24a9d18e3f5b0c7a2e4d6f8190a3b5c7d9e1f20486\n";
	uint8_t zeros[64] = {0};

	check_refused(keyfile_bytes("pass", pass, strlen(pass), 0600), getuid(), -EINVAL, "text");
	check_refused(keyfile_bytes("pass", pass, strlen(pass), 0600), getuid(), -EINVAL,
	              "head -c 32 /dev/urandom");
	check_refused(keyfile_bytes("hex", hex, strlen(hex), 0600), getuid(), -EINVAL, "text");
	check_refused(keyfile_bytes("zeros", zeros, sizeof(zeros), 0600), getuid(), -EINVAL,
	              "different byte values");
	check_refused(keyfile("s31", 31, 0600), getuid(), -EINVAL, "head -c 32 /dev/urandom");
}

static void test_private_file(void)
{
	char why[512];

	CU_ASSERT_EQUAL(auth_check_private_file(keyfile("pk", 40, 0600), getuid(),
	                                        "certificate key file", why, sizeof(why)),
	                0);
	CU_ASSERT_EQUAL(auth_check_private_file(keyfile("pk", 40, 0640), getuid(),
	                                        "certificate key file", why, sizeof(why)),
	                -EPERM);
	CHECKF(strstr(why, "certificate key file") && strstr(why, "mode 0640"), "why: %s\n", why);
	CU_ASSERT_EQUAL(auth_check_private_file(keyfile("pk", 40, 0600), getuid() + 1,
	                                        "certificate key file", why, sizeof(why)),
	                -EPERM);
	CHECKF(strstr(why, "owned by uid"), "why: %s\n", why);
	CU_ASSERT_EQUAL(auth_check_private_file("/nonexistent/k", getuid(), "certificate key file",
	                                        why, sizeof(why)),
	                -ENOENT);
}

/* ---------------------------------------------------------------------------
 */

int main(void)
{
	static const struct test_def keys[] = {
	    T(test_tls_psk_kat), T(test_tls_psk_bound), T(test_tls_psk_refuses), T(test_identity),
	    T(test_key_check),   T(test_same_key),      T(test_random),
	};
	static const struct test_def files[] = {
	    T(test_psk_accepts),       T(test_psk_refuses_modes), T(test_psk_refuses_owner),
	    T(test_psk_refuses_sizes), T(test_psk_refuses_kinds), T(test_psk_refuses_weak),
	    T(test_private_file),
	};
	static const struct suite_def suites[] = {
	    SUITE("auth keys", keys),
	    {"auth key files", files, N(files), suite_init, suite_clean, NULL, NULL},
	};

	return cunit_main(suites, N(suites));
}
