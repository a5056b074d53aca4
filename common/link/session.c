/* SPDX-License-Identifier: MIT */
/*
 * One session of a link: TLS 1.3 on OpenSSL 3 and the HELLO exchange
 * (session.h; docs/protocol.md, "Sessions", "TLS and keys").
 *
 * TLS parameters, the same for every transport:
 *   - TLS 1.3 only; no session tickets, no resumption, no 0-RTT, no
 *     middlebox-compatibility records;
 *   - PSK mode: TLS_AES_256_GCM_SHA384 (the PSK's hash is SHA-384), the
 *     external PSK offered under the identity "argo-relay/4 INITIATOR
 *     ACCEPTOR" and bound to both hvids in that order (auth_tls_psk()), and
 *     psk_dhe_ke only (OpenSSL's default without SSL_OP_ALLOW_NO_DHE_KEX;
 *     a handshake without a key share is refused once more after the
 *     fact): every session has fresh (EC)DHE keys, so a key that leaks
 *     later does not open recorded sessions;
 *   - certificate mode: AES-256-GCM first, then ChaCha20-Poly1305 and
 *     AES-128-GCM; both ends present a certificate, verified against the
 *     link's CA file and required to name the peer's hvid;
 *   - groups X25519, P-256, P-384.
 *
 * The BIO. Reading: straight from the fd into OpenSSL's record buffer
 * (read-ahead, SESSION_READ_BUFFER bytes), and a read that returned less
 * than asked marks the fd drained, so the next read says "retry" without a
 * system call until the owner's epoll says the fd is readable again.
 * Writing: the records are appended to s->wire, which session_send()
 * writes out. So OpenSSL never sees a full socket.
 */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* One read takes up to this many bytes of records (four 16 KiB records). */
#define SESSION_READ_BUFFER (4u * (16384 + 256))
/* s->wire is given back once empty when it grew beyond this. */
#define SESSION_WIRE_KEEP (256u * 1024)

#define PSK_CIPHERS       "TLS_AES_256_GCM_SHA384"
#define CERT_CIPHERS      "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define GROUPS            "X25519:P-256:P-384"

static const unsigned char aes256gcm_sha384[2] = {0x13, 0x02};

static void fail(const char **why, const char *what)
{
	if (why)
		*why = what;
}

/* ---------------------------------------------------------------------------
 * The BIO.
 */

static pthread_once_t bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *bio_method;

static int fdbio_read(BIO *b, char *buf, int len)
{
	struct session *s = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (s->drained) {
		BIO_set_retry_read(b);
		return -1;
	}
	do
		n = read(s->fd, buf, (size_t)len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			s->drained = true;
			BIO_set_retry_read(b);
		} else {
			s->io_errno = errno;
		}
		return -1;
	}
	if (n < len)
		s->drained = true; /* it had less than we asked for: empty now */
	if (n > 0)
		s->tls_bytes_seen = true;
	s->wire_rx += (uint64_t)n;
	return (int)n;
}

static int fdbio_write(BIO *b, const char *buf, int len)
{
	struct session *s = BIO_get_data(b);
	size_t need;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (s->wire_off && s->wire_off == s->wire_len)
		s->wire_off = s->wire_len = 0;
	need = s->wire_len + (size_t)len;
	if (need > s->wire_cap) {
		size_t cap = need + need / 2;
		uint8_t *p;

		if (s->wire_off) {
			memmove(s->wire, s->wire + s->wire_off, s->wire_len - s->wire_off);
			s->wire_len -= s->wire_off;
			s->wire_off = 0;
			need = s->wire_len + (size_t)len;
			cap = need + need / 2;
		}
		if (need > s->wire_cap) {
			p = realloc(s->wire, cap);
			if (!p)
				return -1; /* no retry flag: a fatal error */
			s->wire = p;
			s->wire_cap = cap;
		}
	}
	memcpy(s->wire + s->wire_len, buf, (size_t)len);
	s->wire_len += (size_t)len;
	return len;
}

static long fdbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct session *s = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* session_send() writes; nothing to do here */
	case BIO_CTRL_WPENDING:
		return s ? (long)(s->wire_len - s->wire_off) : 0;
	default:
		return 0;
	}
}

static int fdbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void bio_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "argo link fd");

	if (!m || !BIO_meth_set_read(m, fdbio_read) || !BIO_meth_set_write(m, fdbio_write) ||
	    !BIO_meth_set_ctrl(m, fdbio_ctrl) || !BIO_meth_set_create(m, fdbio_create)) {
		BIO_meth_free(m);
		return;
	}
	bio_method = m;
}

/* ---------------------------------------------------------------------------
 * Errors.
 */

/* OpenSSL's reason for the last error, into s->why after a prefix; the
 * error queue is emptied. */
static const char *tls_reason(struct session *s, const char *prefix)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	/* A reason the PSK callback already gave (the peer's identity) says
	 * more than OpenSSL's "no suitable signature algorithm". */
	if (s->why[0] != '\0' && !strncmp(s->why, "peer offered", 12)) {
		ERR_clear_error();
		return s->why;
	}
	if (!r && s->io_errno)
		r = strerror(s->io_errno);
	snprintf(s->why, sizeof(s->why), "%s: %s", prefix, r ? r : "unknown TLS error");
	ERR_clear_error();
	return s->why;
}

/* Is the last OpenSSL error an alert the peer sent (it ended the session
 * and says why), rather than something we found? */
static bool peer_alert(void)
{
	unsigned long e = ERR_peek_last_error();

	return e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET;
}

/* Is the last OpenSSL error a record that failed its authentication tag? */
static bool bad_record_mac(void)
{
	unsigned long e = ERR_peek_last_error();

	return e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ERR_GET_REASON(e) == SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC;
}

/* ---------------------------------------------------------------------------
 * Creds.
 */

/* A PSK "session" for this handshake, as OpenSSL wants external PSKs. */
static SSL_SESSION *psk_session(SSL *ssl, const struct session_creds *c)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, aes256gcm_sha384);
	SSL_SESSION *ss;

	if (!cipher)
		return NULL;
	ss = SSL_SESSION_new();
	if (!ss)
		return NULL;
	if (!SSL_SESSION_set1_master_key(ss, c->psk, sizeof(c->psk)) ||
	    !SSL_SESSION_set_cipher(ss, cipher) ||
	    !SSL_SESSION_set_protocol_version(ss, TLS1_3_VERSION)) {
		SSL_SESSION_free(ss); /* cleanses the key */
		return NULL;
	}
	return ss;
}

static const struct session_creds *creds_of(SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/* Initiator: the PSK and identity to offer. Called again after a
 * HelloRetryRequest with the negotiated hash (md). */
static int psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                   SSL_SESSION **sess)
{
	const struct session_creds *c = creds_of(ssl);
	SSL_SESSION *ss = c ? psk_session(ssl, c) : NULL;

	if (!ss)
		return 0;
	if (md && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(ss))) {
		SSL_SESSION_free(ss);
		*sess = NULL;
		*id = NULL;
		*idlen = 0;
		return 1; /* no PSK for that hash: the handshake fails */
	}
	*sess = ss;
	*id = (const unsigned char *)c->identity;
	*idlen = strlen(c->identity);
	return 1;
}

/* Acceptor: the PSK for the identity offered, if it is the one this link
 * expects (the initiator is our peer, the acceptor us). */
static int psk_find(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
	const struct session_creds *c = creds_of(ssl);
	struct session *s = SSL_get_app_data(ssl);
	size_t want = c ? strlen(c->identity) : 0;

	*sess = NULL;
	if (!c)
		return 0;
	if (len != want || memcmp(identity, c->identity, want) != 0) {
		char shown[AUTH_PSK_IDENTITY_MAX];
		size_t i;

		/* For the log: printable bytes only, cut short. */
		for (i = 0; i < len && i < sizeof(shown) - 1; i++)
			shown[i] =
			    identity[i] >= 0x20 && identity[i] < 0x7f ? (char)identity[i] : '?';
		shown[i] = '\0';
		if (s)
			snprintf(s->why, sizeof(s->why),
			         "peer offered PSK identity '%s%s', this link expects '%s'", shown,
			         len >= sizeof(shown) ? "..." : "", c->identity);
		return 1; /* no PSK: the handshake fails (we have no certificate) */
	}
	*sess = psk_session(ssl, c);
	return *sess ? 1 : 0;
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!why || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* The SSL_CTX both modes share. */
static int creds_common(struct session_creds *c, enum wire_role role, const char *our_hvid,
                        const char *peer_hvid, const char *ciphers, char *why, size_t cap)
{
	SSL_CTX *ctx;

	memset(c, 0, sizeof(*c));
	if (!our_hvid || !peer_hvid || !wire_hvid_valid(our_hvid) || !wire_hvid_valid(peer_hvid) ||
	    (role != WIRE_ROLE_INITIATOR && role != WIRE_ROLE_ACCEPTOR)) {
		say(why, cap, "bad hvid or role");
		return -EINVAL;
	}
	if (pthread_once(&bio_once, bio_init) != 0 || !bio_method) {
		say(why, cap, "OpenSSL: cannot make a BIO method");
		return -EIO;
	}
	ctx = SSL_CTX_new(role == WIRE_ROLE_INITIATOR ? TLS_client_method() : TLS_server_method());
	if (!ctx) {
		say(why, cap, "OpenSSL: cannot make a TLS context");
		return -EIO;
	}
	c->ctx = ctx;
	c->role = role;
	memcpy(c->our_hvid, our_hvid, strnlen(our_hvid, WIRE_HVID_SIZE));
	memcpy(c->peer_hvid, peer_hvid, strnlen(peer_hvid, WIRE_HVID_SIZE));
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, ciphers) || !SSL_CTX_set1_groups_list(ctx, GROUPS) ||
	    !SSL_CTX_set_num_tickets(ctx, 0) || !SSL_CTX_set_app_data(ctx, c)) {
		say(why, cap, "OpenSSL: cannot set the TLS parameters");
		ERR_clear_error();
		return -EIO;
	}
	SSL_CTX_set_options(ctx,
	                    SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT | SSL_OP_ALLOW_NO_DHE_KEX);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, SESSION_READ_BUFFER);
	SSL_CTX_set_max_early_data(ctx, 0);
	return 0;
}

int session_creds_psk(struct session_creds *c, enum wire_role role, const char *our_hvid,
                      const char *peer_hvid, const struct auth_psk *psk, char *why, size_t cap)
{
	const char *initiator = role == WIRE_ROLE_INITIATOR ? our_hvid : peer_hvid;
	const char *acceptor = role == WIRE_ROLE_INITIATOR ? peer_hvid : our_hvid;
	int ret = creds_common(c, role, our_hvid, peer_hvid, PSK_CIPHERS, why, cap);

	if (ret < 0)
		goto fail;
	ret = auth_psk_identity(initiator, acceptor, c->identity);
	if (ret == 0)
		ret = auth_tls_psk(psk, initiator, acceptor, c->psk);
	if (ret < 0) {
		say(why, cap, "cannot derive the link's TLS key");
		goto fail;
	}
	if (role == WIRE_ROLE_INITIATOR) {
		SSL_CTX_set_psk_use_session_callback(c->ctx, psk_use);
		/* No certificate can be trusted (an empty store): a peer that
		 * skips the PSK for a certificate fails. */
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_psk_find_session_callback(c->ctx, psk_find);
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	return 0;
fail:
	session_creds_fini(c);
	return ret;
}

int session_creds_cert(struct session_creds *c, enum wire_role role, const char *our_hvid,
                       const char *peer_hvid, const char *cert_file, const char *key_file,
                       const char *ca_file, char *why, size_t cap)
{
	int ret = creds_common(c, role, our_hvid, peer_hvid, CERT_CIPHERS, why, cap);
	unsigned long e;

	if (ret < 0)
		goto fail;
	c->certs = true;
	ret = -EINVAL;
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1) {
		e = ERR_peek_last_error();
		say(why, cap, "certificate file %s: %s", cert_file,
		    e ? ERR_reason_error_string(e) : "cannot use it");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			say(why, cap, "certificate key file %s: is not the key of %s", key_file,
			    cert_file);
		else
			say(why, cap, "certificate key file %s: %s", key_file,
			    e ? ERR_reason_error_string(e) : "cannot use it");
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ctx) != 1) {
		say(why, cap, "certificate key file %s: is not the key of %s", key_file, cert_file);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
		e = ERR_peek_last_error();
		say(why, cap, "CA file %s: %s", ca_file,
		    e ? ERR_reason_error_string(e) : "cannot use it");
		goto fail;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ERR_clear_error();
	return 0;
fail:
	ERR_clear_error();
	session_creds_fini(c);
	return ret;
}

void session_creds_fini(struct session_creds *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	OPENSSL_cleanse(c, sizeof(*c));
}

/* ---------------------------------------------------------------------------
 * Sessions.
 */

int session_start(struct session *s, int fd, const struct session_creds *creds, const char **why)
{
	BIO *bio;

	if (s->ssl)
		session_end(s);
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->creds = creds;
	ERR_clear_error();
	s->ssl = SSL_new(creds->ctx);
	bio = s->ssl ? BIO_new(bio_method) : NULL;
	if (!bio) {
		fail(why, "OpenSSL: cannot make a TLS connection");
		session_end(s);
		return -ENOMEM;
	}
	BIO_set_data(bio, s);
	SSL_set_bio(s->ssl, bio, bio); /* the SSL owns it */
	SSL_set_app_data(s->ssl, s);
	if (creds->certs) {
		SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(s->ssl, creds->peer_hvid) != 1) {
			fail(why, "OpenSSL: cannot set the peer's name");
			session_end(s);
			return -EIO;
		}
	}
	if (creds->role == WIRE_ROLE_INITIATOR)
		SSL_set_connect_state(s->ssl);
	else
		SSL_set_accept_state(s->ssl);
	s->phase = SESSION_TLS;
	return 0;
}

/* The handshake is done: is it what this link requires? */
static int handshake_checks(struct session *s, const char **why)
{
	const SSL_CIPHER *cipher = SSL_get_current_cipher(s->ssl);
	int group = SSL_get_negotiated_group(s->ssl);

	if (SSL_version(s->ssl) != TLS1_3_VERSION || !cipher) {
		fail(why, "TLS handshake: not TLS 1.3");
		return -EACCES;
	}
	/* psk_dhe_ke only: an (EC)DHE group was used. */
	if (group == 0 || group == NID_undef) {
		fail(why, "TLS handshake: no ephemeral key exchange");
		return -EACCES;
	}
	if (!s->creds->certs && !SSL_session_reused(s->ssl)) {
		fail(why, "TLS handshake: the peer did not use the link's PSK");
		return -EACCES;
	}
	if (s->creds->certs &&
	    (SSL_get_verify_result(s->ssl) != X509_V_OK || !SSL_get0_peer_certificate(s->ssl))) {
		fail(why, "TLS handshake: the peer's certificate did not verify");
		return -EACCES;
	}
	s->cipher = SSL_CIPHER_get_name(cipher);
	s->group = OBJ_nid2sn(group);
	if (!s->group)
		s->group = "?";
	return 0;
}

int session_handshake(struct session *s, const char **why)
{
	int r, err;

	if (s->phase != SESSION_TLS)
		return s->phase == SESSION_NONE ? -ENOTCONN : 0;
	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		r = handshake_checks(s, why);
		if (r < 0)
			return r;
		s->phase = SESSION_HELLO;
		return 0;
	}
	err = SSL_get_error(s->ssl, r);
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		fail(why, "connection closed during the TLS handshake");
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		if (s->io_errno) {
			/* The transport's error, as the link logs it elsewhere. */
			ERR_clear_error();
			fail(why, strerror(s->io_errno));
			return -s->io_errno;
		}
		ERR_clear_error();
		fail(why, "connection closed during the TLS handshake");
		return -ECONNRESET;
	default:
		fail(why, tls_reason(s, "authentication failed (TLS handshake)"));
		return -EACCES;
	}
}

ssize_t session_encrypt(struct session *s, const void *buf, size_t len, const char **why)
{
	int n;

	if (s->phase != SESSION_HELLO && s->phase != SESSION_UP)
		return -ENOTCONN;
	if (len > INT32_MAX)
		len = INT32_MAX;
	/* No ERR_clear_error() before: every failure path empties the queue
	 * (tls_reason()), and on this path it would cost more than the record
	 * (about 2 700 instructions a message, by callgrind). */
	n = SSL_write(s->ssl, buf, (int)len);
	if (n <= 0) {
		fail(why, tls_reason(s, "TLS write"));
		return -EIO;
	}
	return n;
}

size_t session_backlog(const struct session *s)
{
	return s->wire_len - s->wire_off;
}

int session_send(struct session *s, const char **why)
{
	while (s->wire_off < s->wire_len) {
		ssize_t n = write(s->fd, s->wire + s->wire_off, s->wire_len - s->wire_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -EAGAIN;
			s->io_errno = errno;
			fail(why, strerror(errno));
			return -errno;
		}
		s->wire_off += (size_t)n;
		s->wire_tx += (uint64_t)n;
	}
	s->wire_off = s->wire_len = 0;
	if (s->wire_cap > SESSION_WIRE_KEEP) {
		free(s->wire);
		s->wire = NULL;
		s->wire_cap = 0;
	}
	return 0;
}

ssize_t session_decrypt(struct session *s, void *buf, size_t cap, const char **why)
{
	int n, err;

	if (s->phase != SESSION_HELLO && s->phase != SESSION_UP)
		return -ENOTCONN;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	n = SSL_read(s->ssl, buf, (int)cap); /* the error queue is empty: see session_encrypt() */
	if (n > 0)
		return n;
	err = SSL_get_error(s->ssl, n);
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		fail(why, "closed by the peer (TLS close_notify)");
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		if (s->io_errno) {
			fail(why, strerror(s->io_errno));
			ERR_clear_error();
			return -s->io_errno;
		}
		ERR_clear_error();
		fail(why, "connection closed");
		return -ECONNRESET;
	default:
		if (peer_alert()) {
			fail(why, tls_reason(s, "the peer ended the session (TLS alert)"));
			return -ECONNRESET;
		}
		if (bad_record_mac()) {
			fail(why, tls_reason(s, "TLS record failed authentication (tampered, "
			                        "replayed, reordered or lost?)"));
			return -EKEYREJECTED;
		}
		fail(why, tls_reason(s, "TLS refused a record"));
		return -EPROTO;
	}
}

void session_readable(struct session *s)
{
	s->drained = false;
}

int session_hello(struct session *s, const struct wire_hello *hello,
                  uint8_t payload[WIRE_HELLO_SIZE], const char **why)
{
	s->ours = *hello;
	memset(s->ours.hvid, 0, sizeof(s->ours.hvid));
	memcpy(s->ours.hvid, s->creds->our_hvid, sizeof(s->ours.hvid));
	s->ours.version_min = WIRE_VERSION;
	s->ours.version_max = WIRE_VERSION;
	s->ours.role = s->creds->role;
	if (wire_put_hello(payload, WIRE_HELLO_SIZE, &s->ours) < 0) {
		fail(why, "cannot encode our HELLO");
		return -EINVAL;
	}
	return 0;
}

int session_on_hello(struct session *s, const uint8_t *payload, uint32_t len, const char **why)
{
	if (s->phase != SESSION_HELLO) {
		fail(why, "HELLO out of place");
		return -EPROTO;
	}
	if (wire_parse_hello(payload, len, &s->peer, why) < 0)
		return -EBADMSG;
	if (s->peer.version_min > WIRE_VERSION || s->peer.version_max < WIRE_VERSION) {
		fail(why, "peer speaks no version we know");
		return -EPROTO;
	}
	if (strncmp(s->peer.hvid, s->creds->peer_hvid, WIRE_HVID_SIZE) != 0) {
		fail(why, "wrong peer hvid");
		return -EACCES;
	}
	if (s->peer.role == s->creds->role) {
		fail(why, "both ends claim the same role");
		return -EPROTO;
	}
	s->phase = SESSION_UP;
	return 0;
}

uint64_t session_take_seq(struct session *s)
{
	return ++s->tx_seq;
}

int session_open(struct session *s, const struct wire_header *hdr, const uint8_t *frame,
                 const char **why)
{
	(void)frame;
	if (s->phase != SESSION_UP && hdr->type != WIRE_HELLO) {
		fail(why, "a frame before the peer's HELLO");
		return -ENOTCONN;
	}
	if (s->phase == SESSION_UP && hdr->type == WIRE_HELLO) {
		fail(why, "a second HELLO");
		return -ENOTCONN;
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
	if (s->ssl)
		SSL_free(s->ssl); /* and our BIO; its keys are cleansed */
	s->ssl = NULL;
	if (s->wire) {
		OPENSSL_cleanse(s->wire, s->wire_cap);
		free(s->wire);
	}
	s->wire = NULL;
	s->wire_off = s->wire_len = s->wire_cap = 0;
	s->tx_seq = s->rx_seq = 0;
	s->phase = SESSION_NONE;
}
