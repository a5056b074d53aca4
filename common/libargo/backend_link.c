/* SPDX-License-Identifier: MIT */
/*
 * libargo's link backend: a leaf endpoint. The program runs where no Argo
 * is (a KVM guest); its domain lives at the relay of the level it joins,
 * which makes its argo_op calls there and keeps this process's copy of
 * its rings up to date over a link like any relay's: TLS 1.3 on the same
 * session layer (common/link/session.h), the leaf its client
 * (docs/client-api.md, "Leaf endpoints"; the frames: docs/protocol.md,
 * "Leaf endpoints").
 *
 * One thread per fabric plays the hypervisor's part here: it owns the
 * link (connects, handshakes, pings, reconnects and resumes after a cut),
 * writes what the relay sends into the rings' memory and publishes tx_ptr
 * as Xen would, raises the event fd on the relay's LEAF_EVENT, and tells
 * the relay where the rings' readers are (LEAF_RX). A call (register,
 * sendv, notify...) hands one request to the thread and waits for its
 * reply; the front's fabric lock keeps it to one at a time.
 *
 * Locking: leaf->mu guards everything: the state, the call in flight, the
 * ring list and the rings' memory writes, and the connection (fd, TLS
 * session, frames), which only the thread opens, reads and closes, and a
 * caller writes its request to when the link is up. The thread holds mu except
 * while it polls; a caller holds it except while it waits on leaf->cond.
 * Called with fabric->lock held (fabric.h), never taken here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "argo/ring.h"
#include "auth.h"
#include "bytes.h"
#include "clock.h"
#include "fabric.h"
#include "frames.h"
#include "leaf_wire.h"
#include "link_uri.h"
#include "session.h"
#include "transport.h"

#define RECONNECT_MS 100  /* between connection attempts */
#define HANDSHAKE_MS 3000 /* connected to WELCOME: TLS, HELLOs, ATTACH */
#define PING_MS      1000
/* The relay answers every PING; a relay that reads what we write on a
 * socket is alive too (a 16 MiB request may keep it from answering for a
 * while). Not on a serial line: a tty takes bytes with nobody reading. */
#define SILENCE_MS       (4 * PING_MS)
#define RX_POLL_MS       10 /* how soon a reader's progress reaches the relay */
#define CLOSE_TIMEOUT_MS 2000
#define SERIAL_TICK_MS   100 /* a serial handshake's timed work (session_tick()) */
/* TLS handshakes refused in a row (the relay did not take our key or
 * certificate, or we did not take its) before argo_open gives up: one can
 * be a line that carried bytes of an earlier session, three are a wrong
 * key. */
#define MAX_AUTH_FAILURES 3

enum leaf_state {
	LEAF_DOWN,       /* no connection; the next attempt at next_try_ms */
	LEAF_CONNECTING, /* a socket connect in progress */
	LEAF_HANDSHAKE,  /* TLS, then the HELLOs */
	LEAF_ATTACHING,  /* ATTACH sent, waiting for WELCOME */
	LEAF_UP,
	LEAF_FAILED, /* for good: every call returns fail_err */
};

/* One ring handle of this domain. */
struct leaf_ring {
	struct leaf_ring *next;
	uint32_t id; /* our name for it, on the wire */
	struct xen_argo_ring *shared;
	size_t map_size;
	uint32_t aport, len;
	argo_domid_t partner_id;
	bool registered;    /* from register's success to unregister's */
	uint32_t wpos;      /* where the relay's next bytes go */
	uint32_t published; /* the tx_ptr we last published */
	uint32_t rx_told;   /* the rx_ptr the relay last heard of */
};

/* The call in flight. */
struct leaf_call {
	uint8_t *req; /* LEAF_REQUEST payload: head, then body (data or entries) */
	uint32_t req_len;
	uint64_t id;
	uint64_t sent_in; /* the session it was last sent in, 0 never */
	bool done;
	int32_t ret;
	uint32_t nent;
	uint8_t ents[XEN_ARGO_MAX_NOTIFY_COUNT * LEAF_REPLY_ENT_SIZE];
};

struct leaf_fabric {
	struct argo_fabric base; /* first, for casts */
	struct link_uri uri;
	struct session_creds creds; /* the link's TLS credentials (the PSK derived) */
	uint64_t boot;              /* this process's attachment: a new one is a new domain */

	pthread_t thread;
	int wake_fd; /* callers wake the thread */
	pthread_mutex_t mu;
	pthread_cond_t cond;

	/* (mu) */
	enum leaf_state state;
	int fail_err;
	char fail_why[512]; /* what fail_err means here, for argo_open_error() */
	int last_error;     /* the last connect error, for argo_open's answer */
	bool stop;
	bool welcomed; /* a WELCOME came once: base.domid is ours */
	unsigned int auth_failures;
	struct leaf_call *call;
	struct leaf_ring *rings;
	uint32_t next_ring_id;
	uint64_t next_id;
	uint64_t session_no;         /* sessions that reached LEAF_UP */
	uint64_t dropped_ring_bytes; /* LEAF_RING for a handle we freed */

	/* (mu); opened, read and closed by the thread only. */
	int fd; /* the connection, -1 when none */
	struct session session;
	struct frames frames;
	bool want_write;          /* the fd took less than we had: wait until it is writable */
	const char *last_problem; /* what ended the last attempt, for argo_open's answer */
	uint64_t next_try_ms, deadline_ms, next_ping_ms;
	uint64_t last_rx_ms; /* the relay's last frame, or the last bytes it took (sockets) */
};

static struct leaf_fabric *to_leaf(struct argo_fabric *f)
{
	return (struct leaf_fabric *)f;
}

static void wake(struct leaf_fabric *L)
{
	uint64_t one = 1;

	/* EAGAIN only if the counter is saturated: a wake-up is pending. */
	if (write(L->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

/* ---- The connection (the thread, mu held) -------------------------------- */

static void fail_for_good(struct leaf_fabric *L, int err);
static void fail_why(struct leaf_fabric *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Says what the failure to come means (before fail_for_good()). */
static void fail_why(struct leaf_fabric *L, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(L->fail_why, sizeof(L->fail_why), fmt, ap);
	va_end(ap);
}

static void disconnect(struct leaf_fabric *L)
{
	frames_detach(&L->frames);
	session_end(&L->session);
	if (L->fd >= 0)
		close(L->fd);
	L->fd = -1;
	L->want_write = false;
	L->state = LEAF_DOWN;
	L->next_try_ms = now_ms() + RECONNECT_MS;
}

/*
 * The TLS handshake failed (why: OpenSSL's reason): the relay did not take
 * our key or certificate (its alert says so), or we did not take its. Said
 * often enough, that is final. A relay of a version before 4 speaks no TLS:
 * its first bytes are a frame header, which TLS reads as a record of a
 * wrong version.
 */
static void handshake_failed(struct leaf_fabric *L, const char *reason)
{
	char why[192];
	bool old_relay;
	const char *tls;

	/* The reason may be the session's, which disconnect() ends. */
	snprintf(why, sizeof(why), "%s", reason ? reason : "?");
	old_relay = strstr(why, "wrong version number") != NULL;
	tls = strstr(why, "): ") ? strstr(why, "): ") + 3 : why;
	disconnect(L);
	L->last_problem = "the TLS handshake failed";
	if (old_relay) {
		fail_why(
		    L,
		    "the relay at %s does not speak TLS: it speaks another version of the link "
		    "protocol (this leaf speaks %u, TLS 1.3)",
		    L->uri.address, WIRE_VERSION);
		fail_for_good(L, -EPROTONOSUPPORT);
		return;
	}
	if (++L->auth_failures < MAX_AUTH_FAILURES)
		return;
	if (L->creds.certs)
		fail_why(L,
		         "%u TLS handshakes with the relay at %s failed: its certificate must name "
		         "%s and lead to %s, ours (%s) must name %s and lead to the relay's CA "
		         "(TLS: %s)",
		         L->auth_failures, L->uri.address, L->uri.hvid, L->uri.ca, L->uri.cert,
		         L->uri.name, tls);
	else
		fail_why(
		    L,
		    "%u TLS handshakes with the relay at %s failed: it did not take our key %s "
		    "as leaf %s's to hvid %s; both ends need the same key file, the relay's "
		    "[link] peer = %s and its hvid = %s (TLS: %s)",
		    L->auth_failures, L->uri.address, L->uri.key, L->uri.name, L->uri.hvid,
		    L->uri.name, L->uri.hvid, tls);
	fail_for_good(L, -EKEYREJECTED);
}

static void fail_for_good(struct leaf_fabric *L, int err)
{
	if (L->state != LEAF_DOWN)
		disconnect(L);
	L->state = LEAF_FAILED;
	L->fail_err = err;
	pthread_cond_broadcast(&L->cond);
}

static int put(struct leaf_fabric *L, uint8_t type, const void *p1, uint32_t l1, const void *p2,
               uint32_t l2)
{
	return frames_put(&L->frames, &L->session, type, p1, l1, p2, l2);
}

static int on_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame);

/*
 * Our half of the TLS handshake is done and the relay hung up before its
 * HELLO: in TLS 1.3 the server checks the client's certificate after the
 * client has finished, so this is its refusal, which may have come while
 * we were writing our HELLO (EPIPE). Its alert, if it sent one, is still
 * to be read, and names the reason.
 */
static void refused_after_tls(struct leaf_fabric *L)
{
	const char *why = NULL;

	if (frames_read(&L->frames, on_frame, L, &why) == -EACCES && why) {
		handshake_failed(L, why);
		return;
	}
	handshake_failed(L, "the relay hung up as our TLS handshake ended: it did not take our "
	                    "certificate or key");
}

/* Moves what it can to the fd: the TLS handshake's flights, then frames. */
static int flush_out(struct leaf_fabric *L)
{
	uint64_t tx0 = L->frames.counters.bytes_tx;
	int ret = frames_flush(&L->frames);

	if (L->frames.counters.bytes_tx != tx0 && L->state == LEAF_UP &&
	    transport_get(L->uri.transport)->is_socket)
		L->last_rx_ms = now_ms();
	L->want_write = ret == -EAGAIN;
	if (ret == -EACCES)
		handshake_failed(L, L->frames.why);
	else if ((ret == -EPIPE || ret == -ECONNRESET) && L->state == LEAF_HANDSHAKE &&
	         L->session.phase == SESSION_HELLO)
		refused_after_tls(L);
	else if (ret < 0 && ret != -EAGAIN)
		disconnect(L);
	return ret;
}

/* The session's frames start (afresh), with our HELLO: it waits in the
 * buffer to leave with the end of the TLS handshake. */
static void begin_frames(struct leaf_fabric *L)
{
	uint8_t payload[WIRE_HELLO_SIZE];
	struct wire_hello hello = {0};
	const char *why = NULL;

	frames_attach(&L->frames, &L->session);
	hello.boot_id = L->boot;
	hello.rx_next_msn = 1; /* a leaf carries no DATA stream */
	if (session_hello(&L->session, &hello, payload, &why) < 0 ||
	    put(L, WIRE_HELLO, payload, WIRE_HELLO_SIZE, NULL, 0) < 0) {
		disconnect(L);
		return;
	}
	L->state = LEAF_HANDSHAKE;
	L->deadline_ms = now_ms() + HANDSHAKE_MS;
	L->last_rx_ms = now_ms();
	flush_out(L); /* the ClientHello */
}

/* A connection: TLS starts, we its client. */
static void start_session(struct leaf_fabric *L)
{
	const char *why = NULL;

	if (session_start(&L->session, L->fd, &L->creds, &why) < 0) {
		disconnect(L);
		return;
	}
	begin_frames(L);
}

/*
 * A serial stream's session failed after TLS came up (session_decrypt()'s
 * -ERESTART: the relay started afresh and says so, or the line lost
 * bytes). The next one starts on the same stream (session.h, "Serial
 * streams"); what the old one had queued is dropped, and a call in flight
 * goes again once it is up.
 */
static void restart_session(struct leaf_fabric *L, const char *why)
{
	const char *w = NULL;

	L->last_problem = why;
	frames_detach(&L->frames);
	if (session_restart(&L->session, &w) < 0) {
		disconnect(L);
		return;
	}
	begin_frames(L);
}

static void try_connect(struct leaf_fabric *L)
{
	const struct transport_ops *t = transport_get(L->uri.transport);
	int fd = t->connect(L->uri.address);

	if (fd < 0) {
		L->last_error = fd == -ENOENT || fd == -ENXIO ? -ENOENT : -ECONNREFUSED;
		L->last_problem = NULL;
		L->next_try_ms = now_ms() + RECONNECT_MS;
		return;
	}
	L->fd = fd;
	if (t->is_socket) {
		L->state = LEAF_CONNECTING;
		L->deadline_ms = now_ms() + HANDSHAKE_MS;
	} else {
		start_session(L);
	}
}

static void on_connected(struct leaf_fabric *L)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(L->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		L->last_error = -ECONNREFUSED;
		L->last_problem = NULL;
		disconnect(L);
		return;
	}
	start_session(L);
}

/* What we say of our rings when we attach. */
static void send_attach(struct leaf_fabric *L)
{
	struct leaf_ring_state *states = calloc(LEAF_MAX_RINGS, sizeof(*states));
	uint8_t *payload = malloc(LEAF_ATTACH_MAX);
	struct leaf_ring *r;
	uint32_t n = 0;
	int len = -ENOMEM;

	if (!states || !payload)
		goto out;
	for (r = L->rings; r && n < LEAF_MAX_RINGS; r = r->next) {
		/* A ring whose register is still to be answered has an id
		 * already; one the fabric will refuse (bad length) is left out. */
		if (!argo_ring_len_valid(r->len))
			continue;
		r->rx_told = __atomic_load_n(&r->shared->rx_ptr, __ATOMIC_ACQUIRE);
		r->wpos = r->published;
		states[n] = (struct leaf_ring_state){
		    .id = r->id,
		    .aport = r->aport,
		    .partner_id = r->partner_id,
		    .flags = r->registered ? LEAF_RING_REGISTERED : 0,
		    .len = r->len,
		    .tx = r->published,
		    .rx = r->rx_told,
		};
		n++;
	}
	len = leaf_put_attach(payload, LEAF_ATTACH_MAX, L->boot, states, n);
	if (len >= 0)
		len = put(L, WIRE_LEAF_ATTACH, payload, (uint32_t)len, NULL, 0);
out:
	free(states);
	free(payload);
	if (len < 0)
		disconnect(L);
	else
		L->state = LEAF_ATTACHING;
}

/* The readers of our rings moved on: tell the relay, so that senders see
 * the room. Before every request, and whenever the thread wakes. */
static void push_rx(struct leaf_fabric *L)
{
	uint8_t head[LEAF_RX_MIN], ents[64 * LEAF_RX_ENT_SIZE];
	struct leaf_ring *r = L->rings;

	while (r) {
		uint32_t n = 0;

		for (; r && n < 64; r = r->next) {
			uint32_t rx = __atomic_load_n(&r->shared->rx_ptr, __ATOMIC_ACQUIRE);

			if (rx == r->rx_told || !r->registered)
				continue;
			leaf_put_rx_ent(ents + n * LEAF_RX_ENT_SIZE, r->id, rx);
			r->rx_told = rx;
			n++;
		}
		if (n && (leaf_put_rx(head, n) < 0 ||
		          put(L, WIRE_LEAF_RX, head, LEAF_RX_MIN, ents, n * LEAF_RX_ENT_SIZE) < 0))
			return;
	}
}

/* Is any ring holding messages its reader may take (so its rx_ptr may
 * move without a call)? */
static bool rings_unread(const struct leaf_fabric *L)
{
	const struct leaf_ring *r;

	for (r = L->rings; r; r = r->next)
		if (r->registered && r->published != r->rx_told)
			return true;
	return false;
}

static struct leaf_ring *find_ring(struct leaf_fabric *L, uint32_t id)
{
	struct leaf_ring *r;

	for (r = L->rings; r && r->id != id; r = r->next)
		;
	return r;
}

/* ---- Frames in ------------------------------------------------------------ */

/* The relay's HELLO (TLS authenticated it already): we attach. */
static void on_hello(struct leaf_fabric *L, const uint8_t *payload, uint32_t len)
{
	const char *why = NULL;
	int ret = session_on_hello(&L->session, payload, len, &why);

	if (ret == -EACCES) {
		/* The relay there serves another level than we asked for (its
		 * certificate named it, its HELLO does not). */
		fail_why(L, "the relay at %s serves hvid %s, not %s", L->uri.address,
		         L->session.peer.hvid, L->uri.hvid);
		fail_for_good(L, -EHOSTUNREACH);
		return;
	}
	if (ret < 0) {
		L->last_problem = why;
		disconnect(L);
		return;
	}
	send_attach(L);
}

static void on_welcome(struct leaf_fabric *L, const uint8_t *payload, uint32_t len)
{
	struct leaf_welcome w;
	struct leaf_ring *r;
	bool have_registered = false;
	const char *why;

	if (L->state != LEAF_ATTACHING || leaf_parse_welcome(payload, len, &w, &why) < 0) {
		disconnect(L);
		return;
	}
	if (w.status < 0) {
		fail_why(L, "the relay at %s has no domain for us (%s): its log says why",
		         L->uri.address, strerror(-w.status));
		fail_for_good(L, w.status);
		return;
	}
	for (r = L->rings; r; r = r->next)
		have_registered |= r->registered;
	if (L->welcomed &&
	    (w.domid != L->base.domid || (have_registered && !(w.flags & LEAF_WELCOME_RESUMED)))) {
		/* Our domain died at the relay (its fabric went away). */
		fail_why(L, "our domain at the relay is gone");
		fail_for_good(L, -ENOTCONN);
		return;
	}
	L->base.domid = w.domid;
	L->welcomed = true;
	L->auth_failures = 0;
	L->state = LEAF_UP;
	L->session_no++;
	L->next_ping_ms = now_ms() + PING_MS;
	pthread_cond_broadcast(&L->cond);
}

static void on_reply(struct leaf_fabric *L, const uint8_t *payload, uint32_t len)
{
	struct leaf_reply rep;
	const char *why;

	if (leaf_parse_reply(payload, len, &rep, &why) < 0) {
		disconnect(L);
		return;
	}
	/* A reply to a call that is no longer waiting (sent again after a
	 * cut, answered twice) has nobody to go to. */
	if (!L->call || L->call->done || rep.id != L->call->id)
		return;
	L->call->ret = rep.ret;
	L->call->nent = rep.nent;
	memcpy(L->call->ents, rep.ents, (size_t)rep.nent * LEAF_REPLY_ENT_SIZE);
	L->call->done = true;
	pthread_cond_broadcast(&L->cond);
}

/* Bytes of one of our rings, written where the relay's copy has them;
 * tx_ptr published once a whole delivery is there, as Xen publishes it
 * after a whole message. */
static void on_ring(struct leaf_fabric *L, const uint8_t *payload, uint32_t len)
{
	struct leaf_ring_bytes rb;
	struct leaf_ring *r;
	const char *why;

	if (leaf_parse_ring(payload, len, &rb, &why) < 0) {
		disconnect(L);
		return;
	}
	r = find_ring(L, rb.ring_id);
	if (!r) {
		L->dropped_ring_bytes += rb.n; /* the handle was released */
		return;
	}
	if (rb.offset != r->wpos || rb.n > r->len - rb.offset) {
		disconnect(L); /* out of place: resume from what we published */
		return;
	}
	memcpy(r->shared->ring + rb.offset, rb.bytes, rb.n);
	r->wpos = rb.offset + rb.n == r->len ? 0 : rb.offset + rb.n;
	if (rb.flags & LEAF_RING_PUBLISH) {
		if (rb.tx != r->wpos) {
			disconnect(L);
			return;
		}
		/* Release: the reader that sees tx_ptr sees the bytes before it. */
		__atomic_store_n(&r->shared->tx_ptr, rb.tx, __ATOMIC_RELEASE);
		r->published = rb.tx;
	}
}

static void raise_event(struct leaf_fabric *L)
{
	uint64_t one = 1;

	/* EAGAIN only if the counter is saturated: the event is pending anyway. */
	if (write(L->base.event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

static int on_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	struct leaf_fabric *L = ctx;
	const uint8_t *payload = frame + WIRE_HEADER_SIZE;
	int fd = L->fd;
	const char *why = NULL;
	int ret;

	L->last_rx_ms = now_ms();
	ret = session_open(&L->session, hdr, frame, &why);
	if (ret < 0) {
		L->last_problem = why;
		disconnect(L);
		return -1;
	}
	switch (hdr->type) {
	case WIRE_HELLO:
		on_hello(L, payload, hdr->length);
		break;
	case WIRE_LEAF_WELCOME:
		on_welcome(L, payload, hdr->length);
		break;
	case WIRE_LEAF_REPLY:
		on_reply(L, payload, hdr->length);
		break;
	case WIRE_LEAF_RING:
		on_ring(L, payload, hdr->length);
		break;
	case WIRE_LEAF_EVENT:
		raise_event(L);
		break;
	case WIRE_PING:
		put(L, WIRE_PONG, payload, hdr->length, NULL, 0);
		break;
	case WIRE_PONG:
		break;
	case WIRE_CLOSE: /* the relay stops (it will be back) */
	default:
		disconnect(L);
		break;
	}
	return L->fd == fd && L->state != LEAF_DOWN && L->state != LEAF_FAILED ? 0 : -1;
}

/* ---- The thread ------------------------------------------------------------ */

static void send_call(struct leaf_fabric *L)
{
	struct leaf_call *c = L->call;

	if (!c || c->done || c->sent_in == L->session_no)
		return;
	if (put(L, WIRE_LEAF_REQUEST, c->req, c->req_len, NULL, 0) == 0)
		c->sent_in = L->session_no;
}

static void on_io(struct leaf_fabric *L, short revents)
{
	const char *why;
	int ret;

	if (L->state == LEAF_CONNECTING) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			on_connected(L);
		return;
	}
	if (revents & POLLOUT)
		flush_out(L);
	if (L->fd >= 0 && (revents & (POLLIN | POLLERR | POLLHUP))) {
		why = NULL;
		ret = frames_read(&L->frames, on_frame, L, &why);
		/* A serial session starts again on the same stream, whose
		 * bytes may already be here. */
		while (ret == -ERESTART && L->fd >= 0) {
			restart_session(L, why);
			if (L->fd < 0)
				return;
			why = NULL;
			ret = frames_read(&L->frames, on_frame, L, &why);
		}
		if (ret == -EACCES) {
			handshake_failed(L, why);
		} else if ((ret == -ECONNRESET || ret == -EPIPE) && L->state == LEAF_HANDSHAKE &&
		           L->session.phase == SESSION_HELLO) {
			/* Our TLS handshake was done, the relay's was not: in TLS 1.3
			 * the server checks the client's certificate after the client
			 * has finished, and says no with an alert instead of its
			 * HELLO. */
			handshake_failed(L, why);
		} else if (ret < 0 && ret != -ECANCELED) {
			/* The relay hung up: it is restarting, or it refuses our
			 * source for a while (failed handshakes), or nobody is there
			 * yet (a virtio-serial port reads as end of file until its
			 * host side is connected). */
			if (L->state == LEAF_HANDSHAKE)
				L->last_problem =
				    L->session.tls_bytes_seen
				        ? "the relay closed the connection during the TLS "
				          "handshake"
				        : "the relay closed the connection before TLS began";
			disconnect(L);
		}
	}
}

/*
 * A serial handshake's timed work: its retries (session_tick()), and the
 * relay's refusals, which on a serial stream do not end the handshake (the
 * session tries again itself): as many as MAX_AUTH_FAILURES are final, and
 * fewer at the deadline count as failed handshakes.
 */
static void serial_time(struct leaf_fabric *L, uint64_t now)
{
	const struct session_serial *r = &L->session.serial;
	int ret = session_tick(&L->session, now);

	if (ret > 0)
		flush_out(L);
	else if (ret < 0)
		disconnect(L);
	if (L->state != LEAF_HANDSHAKE || !r->refused)
		return;
	if (L->auth_failures + r->refused >= MAX_AUTH_FAILURES || now >= L->deadline_ms) {
		L->auth_failures += r->refused - 1;
		handshake_failed(L, r->refusal);
	}
}

/* Timers: connecting, handshake time-out, pings, the relay's silence. */
static void on_time(struct leaf_fabric *L, uint64_t now)
{
	uint8_t token[8];

	if (L->creds.serial && L->fd >= 0 && L->state == LEAF_HANDSHAKE)
		serial_time(L, now);
	switch (L->state) {
	case LEAF_DOWN:
		if (now >= L->next_try_ms)
			try_connect(L);
		break;
	case LEAF_CONNECTING:
	case LEAF_HANDSHAKE:
	case LEAF_ATTACHING:
		if (now >= L->deadline_ms)
			disconnect(L);
		break;
	case LEAF_UP:
		if (now - L->last_rx_ms > SILENCE_MS) {
			disconnect(L);
			break;
		}
		if (now >= L->next_ping_ms) {
			put_u64(token, now);
			put(L, WIRE_PING, token, sizeof(token), NULL, 0);
			L->next_ping_ms = now + PING_MS;
		}
		break;
	case LEAF_FAILED:
		break;
	}
}

static int poll_timeout(const struct leaf_fabric *L, uint64_t now)
{
	uint64_t at;

	switch (L->state) {
	case LEAF_DOWN:
		at = L->next_try_ms;
		break;
	case LEAF_CONNECTING:
	case LEAF_HANDSHAKE:
	case LEAF_ATTACHING:
		at = L->deadline_ms;
		if (L->creds.serial && L->state == LEAF_HANDSHAKE && now + SERIAL_TICK_MS < at)
			at = now + SERIAL_TICK_MS;
		break;
	case LEAF_UP:
		at = L->next_ping_ms;
		if (rings_unread(L) && now + RX_POLL_MS < at)
			at = now + RX_POLL_MS;
		break;
	default:
		return -1;
	}
	return at <= now ? 0 : (int)(at - now);
}

static void *leaf_thread(void *arg)
{
	struct leaf_fabric *L = arg;
	sigset_t all;

	/* Signals are the program's: none is delivered to this thread (a
	 * write to a closed socket returns EPIPE here instead). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&L->mu);
	while (!L->stop) {
		struct pollfd pfd[2] = {{.fd = L->wake_fd, .events = POLLIN}, {.fd = -1}};
		uint64_t now = now_ms(), count;
		int n, fd;

		on_time(L, now);
		if (L->state == LEAF_UP) {
			push_rx(L);
			send_call(L);
		}
		if (L->fd >= 0 && L->state != LEAF_CONNECTING && !L->want_write &&
		    frames_backlog(&L->frames))
			flush_out(L);
		fd = L->fd;
		if (fd >= 0) {
			pfd[1].fd = fd;
			pfd[1].events = POLLIN;
			/* Not for a backlog that waits for the TLS handshake: the
			 * relay's flight (POLLIN) moves it on. */
			if (L->state == LEAF_CONNECTING || L->want_write)
				pfd[1].events |= POLLOUT;
		}
		n = poll_timeout(L, now_ms());
		pthread_mutex_unlock(&L->mu);
		n = poll(pfd, 2, n);
		pthread_mutex_lock(&L->mu);
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			if (read(L->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				break;
		}
		if (fd >= 0 && fd == L->fd && pfd[1].revents)
			on_io(L, pfd[1].revents);
	}
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

/* ---- Calls ------------------------------------------------------------------ */

static void deadline_ts(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * flush_out() from a caller's thread. A write to a connection the relay
 * closed raises SIGPIPE in the writing thread, and the signal is the
 * program's to handle, not ours to cause: it is blocked here, and one the
 * write made (EPIPE) is taken back; a program that blocks SIGPIPE itself
 * finds it pending, as after a write of its own. One system call when the
 * program blocks it, two otherwise; none on a serial line (a tty's write
 * fails with EIO, never SIGPIPE).
 */
static void flush_from_caller(struct leaf_fabric *L)
{
	static const struct timespec now = {0, 0};
	sigset_t pipe_set, old;
	int ret;

	if (!transport_get(L->uri.transport)->is_socket) {
		flush_out(L);
		return;
	}
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ret = flush_out(L);
	if (sigismember(&old, SIGPIPE))
		return;
	if (ret == -EPIPE)
		while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * One request (its payload built by the caller with id 0 in place) to the
 * relay, and its answer. A relay that cannot be reached within the
 * time-out fails the fabric for good (-ENOTCONN): whether the call happened
 * cannot be known then, so nothing after it may pretend to.
 */
static int call(struct leaf_fabric *L, struct leaf_call *c, unsigned int timeout_ms)
{
	struct timespec until;
	int ret;

	deadline_ts(&until, timeout_ms);
	pthread_mutex_lock(&L->mu);
	if (L->state == LEAF_FAILED) {
		ret = L->fail_err;
		goto out;
	}
	c->id = L->next_id++;
	put_u64(c->req, c->id);
	L->call = c;
	/* The request goes from this thread when the link is up (one thread
	 * switch fewer on every call); what the connection does not take at
	 * once, the link's thread sends when it can. */
	if (L->state == LEAF_UP) {
		push_rx(L);
		send_call(L);
		if (!L->want_write)
			flush_from_caller(L);
		if (L->want_write || L->state != LEAF_UP)
			wake(L);
	} else {
		wake(L);
	}
	while (!c->done && L->state != LEAF_FAILED) {
		if (pthread_cond_timedwait(&L->cond, &L->mu, &until) == ETIMEDOUT && !c->done) {
			fail_for_good(L, -ENOTCONN);
			break;
		}
	}
	L->call = NULL;
	ret = c->done ? c->ret : L->fail_err;
out:
	pthread_mutex_unlock(&L->mu);
	return ret;
}

/* A call with a request of body_len bytes after the head (allocated). */
static struct leaf_call *new_call(const struct leaf_request *r, size_t body_len)
{
	struct leaf_call *c = calloc(1, sizeof(*c));
	size_t cap = LEAF_REQUEST_MIN + LEAF_SENDV_FIXED + 8u * XEN_ARGO_MAXIOV;
	int len;

	if (!c)
		return NULL;
	c->req = malloc(cap + body_len);
	if (!c->req) {
		free(c);
		return NULL;
	}
	len = leaf_put_request(c->req, cap, r);
	if (len < 0) {
		free(c->req);
		free(c);
		return NULL;
	}
	c->req_len = (uint32_t)(len + body_len);
	return c;
}

static void free_call(struct leaf_call *c)
{
	if (c) {
		free(c->req);
		free(c);
	}
}

static int simple_call(struct leaf_fabric *L, const struct leaf_request *r)
{
	struct leaf_call *c = new_call(r, 0);
	int ret;

	if (!c)
		return -ENOMEM;
	ret = call(L, c, L->uri.timeout_ms);
	free_call(c);
	return ret;
}

/* ---- The backend ops ------------------------------------------------------ */

static void leaf_free(struct leaf_fabric *L)
{
	frames_fini(&L->frames);
	session_end(&L->session);
	if (L->fd >= 0)
		close(L->fd);
	while (L->rings) {
		struct leaf_ring *r = L->rings;

		L->rings = r->next;
		munmap(r->shared, r->map_size);
		free(r);
	}
	if (L->wake_fd >= 0)
		close(L->wake_fd);
	if (L->base.event_fd >= 0)
		close(L->base.event_fd);
	pthread_cond_destroy(&L->cond);
	pthread_mutex_destroy(&L->mu);
	session_creds_fini(&L->creds); /* the derived PSK wiped */
	free(L);
}

static void stop_thread(struct leaf_fabric *L)
{
	pthread_mutex_lock(&L->mu);
	L->stop = true;
	wake(L);
	pthread_mutex_unlock(&L->mu);
	pthread_join(L->thread, NULL);
}

/* The link's TLS credentials, as a relay makes its links': from the key
 * file (checked, then wiped once the link's PSK is derived), or from
 * certificates. */
static int load_creds(struct leaf_fabric *L, char *why, size_t cap)
{
	struct auth_psk psk;
	int ret;

	why[0] = '\0';
	if (!L->uri.key[0]) {
		ret = auth_check_private_file(L->uri.cert_key, geteuid(), "certificate key file",
		                              why, cap);
		if (ret == 0)
			ret = session_creds_cert(&L->creds, WIRE_ROLE_INITIATOR, L->uri.name,
			                         L->uri.hvid, L->uri.cert, L->uri.cert_key,
			                         L->uri.ca, why, cap);
		return ret;
	}
	ret = auth_load_psk(L->uri.key, geteuid(), &psk, why, cap);
	if (ret == 0)
		ret = session_creds_psk(&L->creds, WIRE_ROLE_INITIATOR, L->uri.name, L->uri.hvid,
		                        &psk, why, cap);
	auth_psk_wipe(&psk);
	return ret;
}

/* The creds, and whether the link is a serial stream: the session's rules
 * for one (session.h, "Serial streams"). On a serial line the leaf is the
 * TLS client too, whatever the hvids: both ends know the rule. */
static int make_creds(struct leaf_fabric *L, char *why, size_t cap)
{
	int ret = load_creds(L, why, cap);

	if (ret == 0)
		L->creds.serial = L->uri.transport == TRANSPORT_SERIAL;
	return ret;
}

static int link_open(const char *address, struct argo_fabric **fabricp)
{
	struct leaf_fabric *L;
	pthread_condattr_t ca;
	struct timespec until;
	char why[256];
	const char *uwhy;
	int ret;

	L = calloc(1, sizeof(*L));
	if (!L)
		return -ENOMEM;
	L->wake_fd = L->base.event_fd = L->fd = -1;
	frames_init(&L->frames);
	pthread_mutex_init(&L->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&L->cond, &ca);
	pthread_condattr_destroy(&ca);
	ret = link_uri_parse(address, &L->uri, &uwhy);
	if (ret < 0) {
		argo_set_open_error("%s", uwhy);
		goto fail;
	}
	ret = make_creds(L, why, sizeof(why));
	if (ret < 0) {
		argo_set_open_error("%s", why[0] ? why : "cannot load the link's key");
		goto fail;
	}
	L->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	L->base.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (L->wake_fd < 0 || L->base.event_fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (auth_random(&L->boot, sizeof(L->boot)) < 0 ||
	    auth_random(&L->next_id, sizeof(L->next_id)) < 0) {
		ret = -EIO;
		goto fail;
	}
	/* Request ids are also the relay's send tags: never 0, never reused
	 * by this process (2^62 of them). */
	L->boot |= 1;
	L->next_id = (L->next_id >> 2) | 1;
	L->next_ring_id = 1;
	L->state = LEAF_DOWN;
	L->last_error = -ECONNREFUSED;
	ret = pthread_create(&L->thread, NULL, leaf_thread, L);
	if (ret) {
		ret = -ret;
		goto fail;
	}

	/* Wait until the relay has given us our domain. */
	deadline_ts(&until, L->uri.timeout_ms);
	pthread_mutex_lock(&L->mu);
	while (L->state != LEAF_UP && L->state != LEAF_FAILED) {
		if (pthread_cond_timedwait(&L->cond, &L->mu, &until) == ETIMEDOUT &&
		    L->state != LEAF_UP) {
			/* Nobody answered in time: what stopped the last attempt. */
			if (L->last_problem)
				fail_why(L, "no relay answered at %s within %u ms: %s",
				         L->uri.address, L->uri.timeout_ms, L->last_problem);
			else
				fail_why(L, "no relay answered at %s within %u ms%s%s",
				         L->uri.address, L->uri.timeout_ms,
				         L->state == LEAF_DOWN ? "; connecting: " : "",
				         L->state == LEAF_DOWN ? strerror(-L->last_error) : "");
			fail_for_good(L, L->state == LEAF_DOWN && !L->last_problem ? L->last_error
			                                                           : -ETIMEDOUT);
			break;
		}
	}
	ret = L->state == LEAF_UP ? 0 : L->fail_err;
	if (ret < 0 && L->fail_why[0])
		argo_set_open_error("%s", L->fail_why);
	pthread_mutex_unlock(&L->mu);
	if (ret < 0) {
		stop_thread(L);
		goto fail;
	}
	*fabricp = &L->base;
	return 0;

fail:
	leaf_free(L);
	return ret;
}

static void link_destroy(struct argo_fabric *fabric)
{
	struct leaf_fabric *L = to_leaf(fabric);
	struct leaf_request r = {.id = 1, .op = LEAF_OP_CLOSE};
	struct leaf_call *c = new_call(&r, 0);

	/* The domain dies with the fabric handle, as a sim domain does. */
	if (c)
		call(L, c,
		     L->uri.timeout_ms < CLOSE_TIMEOUT_MS ? L->uri.timeout_ms : CLOSE_TIMEOUT_MS);
	free_call(c);
	stop_thread(L);
	leaf_free(L);
}

static int link_register_ring(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                              uint32_t flags, struct argo_ring_handle *h)
{
	struct leaf_fabric *L = to_leaf(fabric);
	/* The pages Xen expects for this len; no more than a maximal ring
	 * needs (a larger len is refused before pages matter), as on sim. */
	uint64_t npages = argo_ring_npages(reg->len) ? argo_ring_npages(reg->len) : 1;
	uint64_t max_pages = (XEN_ARGO_MAX_RING_SIZE >> 12) + 1;
	size_t size = (size_t)(npages < max_pages ? npages : max_pages) * XEN_ARGO_PAGE_SIZE;
	struct leaf_request r = {.id = 1, .op = LEAF_OP_REGISTER};
	struct leaf_ring *ring, **pp;
	struct leaf_call *c;
	int ret;

	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	ring->shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ring->shared == MAP_FAILED) {
		free(ring);
		return -ENOMEM;
	}
	ring->map_size = size;
	ring->aport = reg->aport;
	ring->partner_id = reg->partner_id;
	ring->len = reg->len;

	/* In the list before the request goes: what the relay writes into it
	 * may arrive before the answer. */
	pthread_mutex_lock(&L->mu);
	ring->id = L->next_ring_id++;
	ring->next = L->rings;
	L->rings = ring;
	pthread_mutex_unlock(&L->mu);

	r.u.reg.ring_id = ring->id;
	r.u.reg.reg = *reg;
	r.u.reg.flags = flags;
	c = new_call(&r, 0);
	ret = c ? call(L, c, L->uri.timeout_ms) : -ENOMEM;
	free_call(c);

	pthread_mutex_lock(&L->mu);
	if (ret == 0) {
		ring->registered = true;
	} else {
		for (pp = &L->rings; *pp != ring; pp = &(*pp)->next)
			;
		*pp = ring->next;
	}
	pthread_mutex_unlock(&L->mu);
	if (ret < 0) {
		munmap(ring->shared, ring->map_size);
		free(ring);
		return ret;
	}
	h->pub.shared = ring->shared;
	h->pub.len = reg->len;
	h->pub.aport = reg->aport;
	h->pub.partner_id = reg->partner_id;
	h->pub.backend = ring;
	h->map_size = size;
	return 0;
}

static int link_unregister_ring(struct argo_fabric *fabric, const xen_argo_unregister_ring_t *unreg)
{
	struct leaf_fabric *L = to_leaf(fabric);
	struct leaf_request r = {.id = 1, .op = LEAF_OP_UNREGISTER, .u.unreg = *unreg};
	struct leaf_ring *ring;
	int ret = simple_call(L, &r);

	if (ret == 0) {
		pthread_mutex_lock(&L->mu);
		for (ring = L->rings; ring; ring = ring->next)
			if (ring->aport == unreg->aport && ring->partner_id == unreg->partner_id)
				ring->registered = false;
		pthread_mutex_unlock(&L->mu);
	}
	return ret;
}

static void link_release_ring(struct argo_ring_handle *h)
{
	struct leaf_fabric *L = to_leaf(h->fabric);
	struct leaf_ring *ring = h->pub.backend, **pp;

	pthread_mutex_lock(&L->mu);
	for (pp = &L->rings; *pp && *pp != ring; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ring->next;
	pthread_mutex_unlock(&L->mu);
	munmap(ring->shared, ring->map_size);
	free(ring);
	h->pub.shared = NULL;
	h->pub.backend = NULL;
}

static ssize_t link_sendv(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                          const struct iovec *iov, unsigned int niov, uint32_t message_type)
{
	struct leaf_fabric *L = to_leaf(fabric);
	struct leaf_request r = {.id = 1, .op = LEAF_OP_SENDV};
	uint64_t total = 0;
	struct leaf_call *c;
	unsigned int i;
	uint8_t *p;
	int ret;

	r.u.send.addr = *addr;
	r.u.send.niov = niov;
	r.u.send.message_type = message_type;
	if (niov <= XEN_ARGO_MAXIOV) {
		for (i = 0; i < niov; i++) {
			r.u.send.lens[i] = iov[i].iov_len;
			total = iov[i].iov_len > UINT64_MAX - total ? UINT64_MAX
			                                            : total + iov[i].iov_len;
		}
		/* The payload goes only when Xen could take it all; otherwise the
		 * lengths alone get Xen's answer. */
		r.u.send.has_data = total <= LEAF_MAX_MESSAGE;
	}
	c = new_call(&r, r.u.send.has_data ? (size_t)total : 0);
	if (!c)
		return -ENOMEM;
	if (r.u.send.has_data) {
		p = c->req + c->req_len - total;
		for (i = 0; i < niov; i++) {
			if (iov[i].iov_len)
				memcpy(p, iov[i].iov_base, iov[i].iov_len);
			p += iov[i].iov_len;
		}
	}
	ret = call(L, c, L->uri.timeout_ms);
	free_call(c);
	return ret;
}

static int link_notify(struct argo_fabric *fabric, xen_argo_ring_data_t *ring_data)
{
	struct leaf_fabric *L = to_leaf(fabric);
	struct leaf_request r = {.id = 1, .op = LEAF_OP_NOTIFY};
	uint32_t i, n = 0;
	struct leaf_call *c;
	int ret;

	if (ring_data) {
		r.u.notify.has_ring_data = true;
		r.u.notify.nent = ring_data->nent;
		r.u.notify.pad = ring_data->pad;
		/* More than Xen takes: the count alone, the fabric says -EACCES. */
		n = ring_data->nent <= XEN_ARGO_MAX_NOTIFY_COUNT ? ring_data->nent : 0;
	}
	c = new_call(&r, (size_t)n * LEAF_NOTIFY_ENT);
	if (!c)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		leaf_put_notify_ent(c->req + c->req_len - (n - i) * LEAF_NOTIFY_ENT,
		                    &ring_data->data[i]);
	ret = call(L, c, L->uri.timeout_ms);
	if (ret == 0 && ring_data) {
		if (c->nent != n) {
			ret = -EPROTO;
		} else {
			/* As Xen: only flags and max_message_size are written back. */
			for (i = 0; i < n; i++) {
				uint16_t flags;
				uint32_t max;

				leaf_get_reply_ent(c->ents, i, &flags, &max);
				ring_data->data[i].flags = flags;
				ring_data->data[i].max_message_size = max;
			}
		}
	}
	free_call(c);
	return ret;
}

static int link_sync(struct argo_fabric *fabric)
{
	struct leaf_request r = {.id = 1, .op = LEAF_OP_SYNC};

	return simple_call(to_leaf(fabric), &r);
}

const struct argo_backend_ops argo_backend_link = {
    .scheme = "link",
    .open = link_open,
    .register_ring = link_register_ring,
    .unregister_ring = link_unregister_ring,
    .release_ring = link_release_ring,
    .sendv = link_sendv,
    .notify = link_notify,
    .destroy = link_destroy,
    .sync = link_sync,
};
