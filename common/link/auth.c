/* SPDX-License-Identifier: MIT */
/*
 * Link keys on OpenSSL 3 (auth.h; docs/protocol.md, "TLS and keys"): key
 * files and their strength, the TLS PSK and identity of a link, private
 * files, randomness.
 *
 * Labels are the ASCII bytes of the strings in the spec, without a NUL.
 */
#define _POSIX_C_SOURCE 200809L
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define LABEL_SALT   "argo-relay v4"
#define LABEL_PSK    "argo-relay v4 tls psk"
#define IDENTITY_TAG "argo-relay/4"
#define LABEL_LEN(l) (sizeof(l) - 1)

_Static_assert(AUTH_PSK_IDENTITY_MAX >= LABEL_LEN(IDENTITY_TAG) + 2 * WIRE_HVID_SIZE,
               "identity fits: the tag, two hvids of at most 15 bytes, two blanks, a NUL");

/* ---------------------------------------------------------------------------
 * Private files: key files and a certificate's key.
 */

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!why || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* "readable", "writable", "readable and writable"... for a 3-bit class. */
static const char *access_words(unsigned int bits)
{
	static const char *const words[8] = {
	    "",
	    "executable",
	    "writable",
	    "writable and executable",
	    "readable",
	    "readable and executable",
	    "readable and writable",
	    "readable, writable and executable",
	};

	return words[bits & 7];
}

static void say_mode(char *why, size_t cap, const char *what, const char *path, mode_t mode)
{
	unsigned int g = (mode >> 3) & 7, o = mode & 7;
	unsigned int perm = (unsigned int)mode & 07777;

	if (g && o && g == o)
		say(why, cap, "%s %s: mode %04o is %s by its group and others; chmod 600 it", what,
		    path, perm, access_words(g));
	else if (g && o)
		say(why, cap, "%s %s: mode %04o is %s by its group and %s by others; chmod 600 it",
		    what, path, perm, access_words(g), access_words(o));
	else if (g)
		say(why, cap, "%s %s: mode %04o is %s by its group; chmod 600 it", what, path, perm,
		    access_words(g));
	else
		say(why, cap, "%s %s: mode %04o is %s by others; chmod 600 it", what, path, perm,
		    access_words(o));
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

/* Opens a private file and checks what it is: an fd and *st, or a negative
 * errno with why. */
static int open_private(const char *path, uid_t expected_uid, const char *what, struct stat *st,
                        char *why, size_t cap)
{
	int fd, rc;

	/* O_NONBLOCK: opening a FIFO must not hang (fstat then refuses it). */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = errno;
		if (rc == ELOOP) {
			say(why, cap, "%s %s: is a symbolic link; give the path of the file itself",
			    what, path);
			return -EPERM;
		}
		if (rc == ENOENT)
			say(why, cap, "%s %s: does not exist", what, path);
		else if (rc == EACCES)
			say(why, cap, "%s %s: permission denied to uid %u", what, path,
			    (unsigned int)geteuid());
		else
			say(why, cap, "%s %s: cannot open it: %s", what, path, strerror(rc));
		return -rc;
	}
	if (fstat(fd, st) != 0) {
		rc = errno;
		say(why, cap, "%s %s: cannot stat it: %s", what, path, strerror(rc));
		close(fd);
		return -rc;
	}
	if (!S_ISREG(st->st_mode)) {
		say(why, cap, "%s %s: is %s, not a regular file", what, path,
		    file_kind(st->st_mode));
		close(fd);
		return -EPERM;
	}
	if (st->st_uid != expected_uid) {
		say(why, cap, "%s %s: owned by uid %u, not by the relay's user (uid %u); chown it",
		    what, path, (unsigned int)st->st_uid, (unsigned int)expected_uid);
		close(fd);
		return -EPERM;
	}
	if ((st->st_mode & 077) != 0) {
		say_mode(why, cap, what, path, st->st_mode);
		close(fd);
		return -EPERM;
	}
	return fd;
}

int auth_check_private_file(const char *path, uid_t expected_uid, const char *what, char *why,
                            size_t cap)
{
	struct stat st;
	int fd;

	say(why, cap, "%s", "");
	if (!path || !what) {
		say(why, cap, "no path given");
		return -EINVAL;
	}
	fd = open_private(path, expected_uid, what, &st, why, cap);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Key strength.
 */

static bool is_text_byte(uint8_t c)
{
	return (c >= 0x20 && c <= 0x7e) || c == '\t' || c == '\n' || c == '\r';
}

int auth_key_check(const uint8_t *key, size_t len, const char **why)
{
	uint8_t seen[256 / 8] = {0};
	unsigned int distinct = 0;
	bool text = true;
	size_t i;

	if (!key || len < AUTH_KEY_MIN) {
		if (why)
			*why = "too short";
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		uint8_t c = key[i];

		text = text && is_text_byte(c);
		if (!(seen[c / 8] & (1u << (c % 8)))) {
			seen[c / 8] |= (uint8_t)(1u << (c % 8));
			distinct++;
		}
	}
	OPENSSL_cleanse(seen, sizeof(seen));
	if (text) {
		if (why)
			*why = "is text (a passphrase, or hex or base64?), not random bytes";
		return -EINVAL;
	}
	if (distinct < AUTH_KEY_MIN_DISTINCT) {
		if (why)
			*why = "has too few different byte values to be random (a pattern?)";
		return -EINVAL;
	}
	return 0;
}

bool auth_same_key(const struct auth_psk *a, const struct auth_psk *b)
{
	if ((a->dev || a->ino) && a->dev == b->dev && a->ino == b->ino)
		return true;
	return a->len == b->len && CRYPTO_memcmp(a->key, b->key, a->len) == 0;
}

void auth_psk_wipe(struct auth_psk *psk)
{
	if (psk)
		OPENSSL_cleanse(psk, sizeof(*psk));
}

/* ---------------------------------------------------------------------------
 * Key files.
 */

int auth_load_psk(const char *path, uid_t expected_uid, struct auth_psk *psk, char *why, size_t cap)
{
	uint8_t buf[AUTH_KEY_MAX + 1];
	const char *weak = NULL;
	struct stat st;
	size_t got = 0;
	int fd, rc;

	say(why, cap, "%s", "");
	if (!path || !psk) {
		say(why, cap, "key file: no path given");
		return -EINVAL;
	}
	memset(psk, 0, sizeof(*psk));
	fd = open_private(path, expected_uid, "key file", &st, why, cap);
	if (fd < 0)
		return fd;
	if (st.st_size < (off_t)AUTH_KEY_MIN || st.st_size > (off_t)AUTH_KEY_MAX) {
		say(why, cap, "key file %s: %lld bytes; a key must be %u to %u bytes; %s", path,
		    (long long)st.st_size, AUTH_KEY_MIN, AUTH_KEY_MAX, AUTH_KEY_ADVICE);
		close(fd);
		return -EINVAL;
	}
	/* Read up to one byte more than allowed, to see a file that grew. */
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errno;
			say(why, cap, "key file %s: cannot read it: %s", path, strerror(rc));
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return -rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		say(why, cap,
		    "key file %s: changed size while being read (%zu bytes read, %lld expected)",
		    path, got, (long long)st.st_size);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EIO;
	}
	if (auth_key_check(buf, got, &weak) < 0) {
		say(why, cap, "key file %s: %s; %s", path, weak, AUTH_KEY_ADVICE);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EINVAL;
	}
	memcpy(psk->key, buf, got);
	psk->len = got;
	psk->dev = st.st_dev;
	psk->ino = st.st_ino;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/* ---------------------------------------------------------------------------
 * The TLS PSK of a link.
 */

/* hvid NUL padded to exactly 16 bytes. 0, or -EINVAL for a bad hvid. */
static int pad_hvid(uint8_t out[WIRE_HVID_SIZE], const char *hvid)
{
	size_t n;

	if (!hvid || !wire_hvid_valid(hvid))
		return -EINVAL;
	n = strnlen(hvid, WIRE_HVID_SIZE);
	memset(out, 0, WIRE_HVID_SIZE);
	memcpy(out, hvid, n);
	return 0;
}

int auth_tls_psk(const struct auth_psk *psk, const char *initiator_hvid, const char *acceptor_hvid,
                 uint8_t out[AUTH_TLS_PSK_SIZE])
{
	uint8_t info[LABEL_LEN(LABEL_PSK) + 2 * WIRE_HVID_SIZE];
	OSSL_PARAM params[6], *p = params;
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;
	int ok;

	if (!psk || !out || psk->len < AUTH_KEY_MIN || psk->len > AUTH_KEY_MAX ||
	    pad_hvid(info + LABEL_LEN(LABEL_PSK), initiator_hvid) < 0 ||
	    pad_hvid(info + LABEL_LEN(LABEL_PSK) + WIRE_HVID_SIZE, acceptor_hvid) < 0)
		return -EINVAL;
	memcpy(info, LABEL_PSK, LABEL_LEN(LABEL_PSK));
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!kctx)
		return -EIO;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA384", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)psk->key, psk->len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)LABEL_SALT,
	                                         LABEL_LEN(LABEL_SALT));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info));
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, AUTH_TLS_PSK_SIZE, params) > 0;
	EVP_KDF_CTX_free(kctx); /* cleanses its state */
	if (!ok)
		OPENSSL_cleanse(out, AUTH_TLS_PSK_SIZE);
	return ok ? 0 : -EIO;
}

int auth_psk_identity(const char *initiator_hvid, const char *acceptor_hvid,
                      char out[AUTH_PSK_IDENTITY_MAX])
{
	int n;

	if (!initiator_hvid || !acceptor_hvid || !wire_hvid_valid(initiator_hvid) ||
	    !wire_hvid_valid(acceptor_hvid))
		return -EINVAL;
	n = snprintf(out, AUTH_PSK_IDENTITY_MAX, "%s %s %s", IDENTITY_TAG, initiator_hvid,
	             acceptor_hvid);
	return n > 0 && (size_t)n < AUTH_PSK_IDENTITY_MAX ? 0 : -EINVAL;
}

/* ---------------------------------------------------------------------------
 * Randomness.
 */

int auth_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	if (!buf && len)
		return -EINVAL;
	while (len) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		if (RAND_bytes(p, n) != 1)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
