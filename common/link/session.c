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
 *
 * Serial streams (session.h, "Serial streams"; docs/protocol.md, "Serial
 * links") read through a buffer of their own instead (s->serial): the
 * acceptor and the initiator first look there for the record that starts
 * their session (a ClientHello; the ServerHello echoing our session id),
 * then TLS is given one record at a time, without read-ahead, so that when
 * TLS fails, the record it failed on is still in the buffer: a newer
 * ClientHello there starts the next session.
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
/* A serial stream's input buffer: room for a whole record and more. */
#define SERIAL_BUFFER (64u * 1024)
/* TLS records: the header, and the largest body TLS 1.3 sends. */
#define RECORD_HEADER   5
#define RECORD_BODY_MAX (16384u + 256)
/* The bytes that tell a ClientHello record, our ServerHello, an alert. */
#define CLIENT_HELLO_PREFIX 11
#define SERVER_HELLO_PREFIX 76
#define ALERT_RECORD        7
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

static bool serial(const struct session *s)
{
	return s->creds && s->creds->serial;
}

static bool initiator(const struct session *s)
{
	return s->creds->role == WIRE_ROLE_INITIATOR;
}

static int serial_read(struct session *s, BIO *b, char *out, int want);
static void serial_note_client_hello(struct session *s, const uint8_t *p, size_t n);
static int serial_handshake(struct session *s, const char **why);
static bool refused_by_auth(const struct session *s);
static void note_refusal(struct session *s, const char *what);

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
	if (serial(s))
		return serial_read(s, b, buf, len);
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

/* Appends bytes to send (records, from OpenSSL or our own). 0 or -1. */
static int wire_put(struct session *s, const void *buf, size_t len)
{
	size_t need;

	if (s->wire_off && s->wire_off == s->wire_len)
		s->wire_off = s->wire_len = 0;
	need = s->wire_len + len;
	if (need > s->wire_cap) {
		size_t cap = need + need / 2;
		uint8_t *p;

		if (s->wire_off) {
			memmove(s->wire, s->wire + s->wire_off, s->wire_len - s->wire_off);
			s->wire_len -= s->wire_off;
			s->wire_off = 0;
			need = s->wire_len + len;
			cap = need + need / 2;
		}
		if (need > s->wire_cap) {
			p = realloc(s->wire, cap);
			if (!p)
				return -1;
			s->wire = p;
			s->wire_cap = cap;
		}
	}
	memcpy(s->wire + s->wire_len, buf, len);
	s->wire_len += len;
	return 0;
}

static int fdbio_write(BIO *b, const char *buf, int len)
{
	struct session *s = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (serial(s) && initiator(s) && !s->serial.sid_known)
		serial_note_client_hello(s, (const uint8_t *)buf, (size_t)len);
	if (wire_put(s, buf, (size_t)len) < 0)
		return -1; /* no retry flag: a fatal error */
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

/* A new TLS connection for s (s->ssl was freed), on our BIO. */
static int new_ssl(struct session *s, const char **why)
{
	const struct session_creds *creds = s->creds;
	BIO *bio;

	ERR_clear_error();
	s->why[0] = '\0';
	s->ssl = SSL_new(creds->ctx);
	bio = s->ssl ? BIO_new(bio_method) : NULL;
	if (!bio) {
		fail(why, "OpenSSL: cannot make a TLS connection");
		return -ENOMEM;
	}
	BIO_set_data(bio, s);
	SSL_set_bio(s->ssl, bio, bio); /* the SSL owns it */
	SSL_set_app_data(s->ssl, s);
	if (creds->certs) {
		SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(s->ssl, creds->peer_hvid) != 1) {
			fail(why, "OpenSSL: cannot set the peer's name");
			return -EIO;
		}
	}
	if (creds->serial) {
		/* One record at a time (serial_read()); and a random
		 * legacy_session_id in our ClientHello, which the ServerHello
		 * answering it echoes (RFC 8446, 4.1.3): how the initiator tells
		 * the answer to this attempt from answers to earlier ones. */
		SSL_set_read_ahead(s->ssl, 0);
		if (creds->role == WIRE_ROLE_INITIATOR)
			SSL_set_options(s->ssl, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	}
	if (creds->role == WIRE_ROLE_INITIATOR)
		SSL_set_connect_state(s->ssl);
	else
		SSL_set_accept_state(s->ssl);
	return 0;
}

int session_start(struct session *s, int fd, const struct session_creds *creds, const char **why)
{
	int ret;

	if (s->ssl || s->wire || s->serial.buf)
		session_end(s);
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->creds = creds;
	ret = new_ssl(s, why);
	if (ret < 0) {
		session_end(s);
		return ret;
	}
	s->serial.hunting = creds->serial;
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
	if (serial(s))
		return serial_handshake(s, why);
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
	bool refused = false;
	int n, err, ret;

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
		ret = -ECONNRESET;
		break;
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
		/* TLS was up on our side and the peer refused it (TLS 1.3: the
		 * acceptor checks the initiator's certificate after the
		 * initiator is done): a refusal, as a failed handshake is. */
		refused = s->phase == SESSION_HELLO && refused_by_auth(s);
		if (peer_alert()) {
			fail(why, tls_reason(s, "the peer ended the session (TLS alert)"));
			ret = refused && !serial(s) ? -EACCES : -ECONNRESET;
		} else if (bad_record_mac()) {
			fail(why, tls_reason(s, "TLS record failed authentication (tampered, "
			                        "replayed, reordered or lost?)"));
			ret = -EKEYREJECTED;
		} else {
			fail(why, tls_reason(s, "TLS refused a record"));
			ret = -EPROTO;
		}
		break;
	}
	if (!serial(s))
		return ret;
	if (s->serial.eof && s->serial.pos == s->serial.len) {
		fail(why, "the stream ended"); /* a socket's other end closed */
		return -ECONNRESET;
	}
	if (refused)
		note_refusal(s, s->why);
	/* A serial stream: the peer started afresh, or bytes were lost. */
	return -ERESTART;
}

void session_readable(struct session *s)
{
	s->drained = false;
}

bool session_may_have_more(const struct session *s)
{
	/* A serial stream keeps its own buffer (serial_read). */
	return serial(s) || !s->drained || SSL_has_pending(s->ssl);
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
	s->serial.refused = 0;
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
	free(s->serial.buf);
	s->serial.buf = NULL;
	s->serial.len = s->serial.cap = s->serial.pos = s->serial.rec = s->serial.rec_end = 0;
	s->tx_seq = s->rx_seq = 0;
	s->phase = SESSION_NONE;
}

/* ---------------------------------------------------------------------------
 * Serial streams (session.h, "Serial streams").
 */

enum wire_role session_serial_role(const char *our_hvid, const char *peer_hvid)
{
	return strncmp(our_hvid, peer_hvid, WIRE_HVID_SIZE) < 0 ? WIRE_ROLE_INITIATOR
	                                                        : WIRE_ROLE_ACCEPTOR;
}

/* Alerts that say "you are not who you must be" (a wrong key, identity or
 * certificate), rather than "this is not the session I am in". */
static bool refusal_alert(int desc)
{
	switch (desc) {
	case SSL_AD_HANDSHAKE_FAILURE:
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_DECRYPT_ERROR:
	case SSL_AD_ILLEGAL_PARAMETER: /* OpenSSL 3.0's answer to a binder that
	                                  does not verify (a wrong key) */
	case SSL_AD_UNKNOWN_PSK_IDENTITY:
	case SSL_AD_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* Did the handshake that just failed fail on authentication? (OpenSSL's
 * error queue still holds why.) */
static bool refused_by_auth(const struct session *s)
{
	unsigned long e = ERR_peek_last_error();
	int reason;

	if (!strncmp(s->why, "peer offered", 12))
		return true; /* psk_find(): another link's identity */
	if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return false;
	reason = ERR_GET_REASON(e);
	if (reason >= SSL_AD_REASON_OFFSET)
		return refusal_alert(reason - SSL_AD_REASON_OFFSET);
	switch (reason) {
	case SSL_R_BINDER_DOES_NOT_VERIFY:          /* a wrong key */
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM: /* no PSK, no certificate */
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		return true;
	default:
		return false;
	}
}

static void note_refusal(struct session *s, const char *what)
{
	struct session_serial *r = &s->serial;

	r->refused++;
	r->counters.refusals++;
	snprintf(r->refusal, sizeof(r->refusal), "%s", what);
}

/* Is a ClientHello record at p (n bytes there)? 1 yes, 0 no, -1 cannot
 * tell yet. Record: handshake (22), version 3.1 to 3.3, a length that holds
 * the message; then ClientHello (1) of a length that fits, legacy_version
 * 3.3. */
static int client_hello_at(const uint8_t *p, size_t n)
{
	size_t len, hlen;

	if (n >= 1 && p[0] != 0x16)
		return 0;
	if (n >= 2 && p[1] != 0x03)
		return 0;
	if (n >= 3 && (p[2] < 0x01 || p[2] > 0x03))
		return 0;
	if (n >= 5 && (((size_t)p[3] << 8 | p[4]) < 4 + 38 || ((size_t)p[3] << 8 | p[4]) > 16384))
		return 0;
	if (n >= 6 && p[5] != 0x01)
		return 0;
	if (n < CLIENT_HELLO_PREFIX)
		return -1;
	len = (size_t)p[3] << 8 | p[4];
	hlen = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
	if (hlen + 4 > len || hlen < 38)
		return 0;
	return p[9] == 0x03 && p[10] == 0x03 ? 1 : 0;
}

/* Is a ServerHello record at p? 1 one answering our ClientHello (its
 * legacy_session_id_echo is sid), 2 one answering another, 0 none, -1
 * cannot tell yet. */
static int server_hello_at(const uint8_t *p, size_t n, const uint8_t sid[32])
{
	static const uint8_t head[3] = {0x16, 0x03, 0x03};
	size_t len, hlen, i;

	for (i = 0; i < sizeof(head); i++) {
		if (i >= n)
			return -1;
		if (p[i] != head[i])
			return 0;
	}
	if (n < 6)
		return -1;
	if (p[5] != 0x02)
		return 0;
	if (n < SERVER_HELLO_PREFIX)
		return -1;
	len = (size_t)p[3] << 8 | p[4];
	hlen = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
	if (len > 16384 || hlen + 4 > len || hlen < 70 || p[9] != 0x03 || p[10] != 0x03 ||
	    p[43] != 32)
		return 0;
	return memcmp(p + 44, sid, 32) == 0 ? 1 : 2;
}

/* Is a plaintext alert record at p? 1 yes (*desc), 0 no, -1 cannot tell. */
static int alert_at(const uint8_t *p, size_t n, int *desc)
{
	static const uint8_t head[5] = {0x15, 0x03, 0x03, 0x00, 0x02};
	size_t i;

	for (i = 0; i < sizeof(head); i++) {
		if (i >= n)
			return -1;
		if (p[i] != head[i] && !(i == 2 && p[i] >= 0x01 && p[i] <= 0x03))
			return 0;
	}
	if (n < ALERT_RECORD)
		return -1;
	if (p[5] != 1 && p[5] != 2)
		return 0;
	*desc = p[6];
	return 1;
}

/* The initiator's ClientHello, as OpenSSL writes it: its session id. */
static void serial_note_client_hello(struct session *s, const uint8_t *p, size_t n)
{
	if (n >= SERVER_HELLO_PREFIX && client_hello_at(p, n) == 1 && p[43] == 32) {
		memcpy(s->serial.sid, p + 44, 32);
		s->serial.sid_known = true;
	}
}

/* Reads what the fd has after what is buffered (keeping from the record
 * TLS reads, or from where the hunt is). The bytes read (0 when there was
 * nothing), -EAGAIN when there is no room, or -errno (s->io_errno). */
static ssize_t serial_fill(struct session *s)
{
	struct session_serial *r = &s->serial;
	size_t keep = r->hunting ? r->pos : r->rec;
	ssize_t n;

	if (r->eof || s->drained)
		return 0;
	if (!r->buf) {
		r->buf = malloc(SERIAL_BUFFER);
		if (!r->buf) {
			s->io_errno = ENOMEM;
			return -ENOMEM;
		}
		r->cap = SERIAL_BUFFER;
	}
	if (keep) {
		memmove(r->buf, r->buf + keep, r->len - keep);
		r->len -= keep;
		r->pos -= keep;
		r->rec -= keep;
		r->rec_end -= keep;
	}
	if (r->len == r->cap)
		return -EAGAIN;
	do
		n = read(s->fd, r->buf + r->len, r->cap - r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			s->drained = true;
			return 0;
		}
		s->io_errno = errno;
		return -errno;
	}
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	if ((size_t)n < r->cap - r->len)
		s->drained = true;
	r->len += (size_t)n;
	s->tls_bytes_seen = true;
	s->wire_rx += (uint64_t)n;
	return n;
}

/* The extent of the record whose header is at p: a header that is no
 * record's is given to TLS alone, which refuses it. */
static size_t record_extent(const uint8_t *p)
{
	size_t len = (size_t)p[3] << 8 | p[4];

	if (p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 0x03 && p[2] <= 0x04 && len <= RECORD_BODY_MAX)
		return RECORD_HEADER + len;
	return RECORD_HEADER;
}

/* The BIO's read on a serial stream: up to the end of the record being
 * read, never beyond; nothing while the start of a session is looked
 * for. */
static int serial_read(struct session *s, BIO *b, char *out, int want)
{
	struct session_serial *r = &s->serial;
	size_t n;

	if (r->hunting)
		goto retry;
	if (r->pos == r->rec_end) {
		/* The last record is done with: a new one's header first. */
		r->rec = r->rec_end = r->pos;
		if (r->len - r->pos < RECORD_HEADER && serial_fill(s) < 0 && s->io_errno)
			return -1;
		if (r->len - r->pos < RECORD_HEADER)
			goto starved;
		r->rec_end = r->pos + record_extent(r->buf + r->pos);
		r->records++;
	}
	if (r->pos == r->len && serial_fill(s) < 0 && s->io_errno)
		return -1;
	n = (r->len < r->rec_end ? r->len : r->rec_end) - r->pos;
	if (!n)
		goto starved;
	if (n > (size_t)want)
		n = (size_t)want;
	memcpy(out, r->buf + r->pos, n);
	r->pos += n;
	return (int)n;
starved:
	if (r->eof)
		return 0;
retry:
	BIO_set_retry_read(b);
	return -1;
}

/* Skips what cannot start our session, up to the first thing that does
 * (what to look for: session.h). */
static void serial_hunt(struct session *s)
{
	struct session_serial *r = &s->serial;
	bool acceptor = !initiator(s);
	size_t i = r->pos;

	while (i < r->len) {
		const uint8_t *p = r->buf + i;
		size_t n = r->len - i;
		int m, desc = 0;

		if (acceptor) {
			m = client_hello_at(p, n);
		} else {
			m = r->sid_known && !r->waiting ? server_hello_at(p, n, r->sid) : 0;
			if (m == 2) {
				r->counters.stale_hellos++; /* answers an earlier ClientHello */
				m = 0;
			}
			if (m == 0) {
				int a = alert_at(p, n, &desc);

				if (a == 1 && refusal_alert(desc)) {
					char what[64];

					snprintf(what, sizeof(what),
					         "the peer refused our handshake: %s",
					         SSL_alert_desc_string_long(desc));
					note_refusal(s, what);
				}
				if (a == 1) {
					i += ALERT_RECORD;
					continue;
				}
				m = a < 0 ? -1 : 0;
			}
		}
		if (m == 1) {
			r->counters.stale_bytes += i - r->pos;
			r->pos = r->rec = r->rec_end = i;
			r->hunting = false;
			r->records = 0;
			return;
		}
		if (m < 0)
			break; /* more bytes will tell */
		i++;
	}
	r->counters.stale_bytes += i - r->pos;
	r->pos = r->rec = r->rec_end = i;
}

/* Hunts through what the fd has: 0 found, -EAGAIN not yet, -ECONNRESET at
 * the end of the stream, or the fd's -errno. */
static int serial_seek(struct session *s)
{
	struct session_serial *r = &s->serial;

	for (;;) {
		ssize_t n;

		serial_hunt(s);
		if (!r->hunting)
			return 0;
		if (r->eof)
			return -ECONNRESET;
		n = serial_fill(s);
		if (n < 0)
			return n == -EAGAIN ? -EAGAIN : (int)n;
		if (n == 0)
			return r->eof ? -ECONNRESET : -EAGAIN;
	}
}

/* Where the next session looks from after this one failed: the record it
 * failed on, which may be a newer ClientHello; one byte on when that is
 * the record this session started with. */
static size_t serial_resume_point(const struct session *s)
{
	const struct session_serial *r = &s->serial;
	size_t from = r->records <= 1 && r->rec < r->len ? r->rec + 1 : r->rec;

	if (r->records == 0)
		from = r->pos; /* nothing of it was taken */
	return from < r->len ? from : r->len;
}

/* The bytes from `from` on are looked through afresh. */
static void serial_rewind(struct session *s, size_t from)
{
	struct session_serial *r = &s->serial;

	r->pos = r->rec = r->rec_end = from;
	r->hunting = true;
	r->records = 0;
}

/* The initiator's next attempt: new TLS state; its ClientHello comes with
 * the next session_handshake(). Unsent bytes of the last attempt, when
 * none of them went out, are dropped (they are stale). */
static int serial_attempt(struct session *s, const char **why)
{
	struct session_serial *r = &s->serial;

	SSL_free(s->ssl);
	s->ssl = NULL;
	if (s->wire_off == 0)
		s->wire_len = 0;
	r->waiting = false;
	r->sid_known = false;
	r->hunting = true;
	r->records = 0;
	r->counters.restarts++;
	return new_ssl(s, why);
}

/* This attempt's handshake failed (why: s->why or static): the acceptor
 * looks for the next ClientHello at once; the initiator waits for its
 * next attempt (session_tick()). */
static int serial_next(struct session *s, const char **why)
{
	struct session_serial *r = &s->serial;
	size_t from = serial_resume_point(s);

	SSL_free(s->ssl);
	s->ssl = NULL;
	if (initiator(s)) {
		/* The next attempt starts an interval after this one did (or
		 * after the first tick that sees this, if none had). */
		serial_rewind(s, from);
		r->waiting = true;
		r->sid_known = false;
		return 0;
	}
	if (r->records > 1 && client_hello_at(r->buf + r->rec, r->len - r->rec) == 1)
		r->counters.stale_hellos++; /* a newer ClientHello ended the one we had */
	serial_rewind(s, from);
	r->counters.restarts++;
	return new_ssl(s, why);
}

static int serial_handshake(struct session *s, const char **why)
{
	struct session_serial *r = &s->serial;
	int ret, err;

	for (;;) {
		if (r->waiting || (r->hunting && (!initiator(s) || r->sid_known))) {
			ret = serial_seek(s);
			if (ret == -ECONNRESET)
				fail(why, "the stream ended");
			else if (ret < 0 && ret != -EAGAIN)
				fail(why, strerror(-ret));
			if (ret < 0)
				return ret;
			if (r->waiting)
				return -EAGAIN; /* (never found: nothing is looked for) */
			r->unanswered = 0;
		}
		ERR_clear_error();
		ret = SSL_do_handshake(s->ssl);
		if (ret == 1) {
			const char *w = NULL;

			if (handshake_checks(s, &w) == 0) {
				s->phase = SESSION_HELLO;
				r->unanswered = 0;
				return 0;
			}
			note_refusal(s, w);
		} else {
			err = SSL_get_error(s->ssl, ret);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
				if (r->hunting && initiator(s)) {
					if (!r->sid_known) {
						fail(why, "OpenSSL wrote a ClientHello without a "
						          "session id");
						return -EIO;
					}
					continue; /* our ClientHello is out: look for its answer */
				}
				return -EAGAIN;
			}
			if (err == SSL_ERROR_SYSCALL && s->io_errno) {
				ERR_clear_error();
				fail(why, strerror(s->io_errno));
				return -s->io_errno;
			}
			if (err == SSL_ERROR_SYSCALL && r->eof) {
				ERR_clear_error();
				fail(why, "the stream ended");
				return -ECONNRESET;
			}
			/* Refused: a stale or broken record, or the peer's key. */
			if (refused_by_auth(s))
				note_refusal(s, tls_reason(s, "TLS handshake refused"));
			else
				ERR_clear_error();
		}
		ret = serial_next(s, why);
		if (ret < 0)
			return ret;
	}
}

int session_tick(struct session *s, uint64_t now_ms)
{
	/* A plaintext close_notify alert: "whatever session you had with me
	 * is over" (a peer whose session is up cannot decrypt it). */
	static const uint8_t wake[ALERT_RECORD] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00};
	struct session_serial *r = &s->serial;
	int ret;

	if (!serial(s) || s->phase != SESSION_TLS)
		return 0;
	if (!r->attempt_seen) {
		r->attempt_seen = true;
		r->attempt_ms = now_ms;
	}
	if (initiator(s)) {
		unsigned int shift = r->unanswered < 2 ? r->unanswered : 2;
		uint64_t wait = (uint64_t)SESSION_SERIAL_RETRY_MS << shift;

		if (r->waiting ? now_ms - r->attempt_ms < SESSION_SERIAL_RETRY_MS
		               : !r->hunting || now_ms - r->attempt_ms < wait)
			return 0;
		if (!r->waiting)
			r->unanswered++;
		ret = serial_attempt(s, NULL);
		if (ret < 0)
			return ret;
		r->attempt_seen = true;
		r->attempt_ms = now_ms;
		return 1;
	}
	if (!r->hunting || (r->wake_ms && now_ms - r->wake_ms < SESSION_SERIAL_RETRY_MS))
		return 0;
	if (wire_put(s, wake, sizeof(wake)) < 0)
		return -ENOMEM;
	r->wake_ms = now_ms ? now_ms : 1;
	return 1;
}

int session_restart(struct session *s, const char **why)
{
	struct session_serial *r = &s->serial;
	size_t from;

	if (!serial(s)) {
		fail(why, "not a serial stream");
		return -EINVAL;
	}
	from = serial_resume_point(s);
	SSL_free(s->ssl);
	s->ssl = NULL;
	s->phase = SESSION_TLS;
	s->tx_seq = s->rx_seq = 0;
	s->cipher = s->group = NULL;
	memset(&s->peer, 0, sizeof(s->peer));
	serial_rewind(s, from);
	r->attempt_seen = false;
	r->waiting = false;
	r->sid_known = false;
	r->unanswered = 0;
	r->counters.restarts++;
	return new_ssl(s, why);
}
