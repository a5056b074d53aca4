/* SPDX-License-Identifier: MIT */
/*
 * The argo transport: a link carried by Argo itself, on a fabric both relays
 * are guests of (the Xen both relay VMs run on, or one shared argo-simd).
 *
 *   connect = FABRIC_URI@DOMID:PORT   sim:/run/argo/l0-links.sock@0:7100
 *   listen  = FABRIC_URI@PORT         sim:/run/argo/l0-links.sock@7100
 *
 * FABRIC_URI is any libargo URI (sim:..., xen:...); the transport opens it
 * itself, once per listener and once per connection (on sim, each is a
 * domain of its own: a listener needs a static socket, -D DOMID=PATH, for
 * its domid to be known). DOMID is the listener's domid on that fabric,
 * PORT the listener's Argo port (32 bits).
 *
 * A byte stream out of datagrams. The link wants a non-blocking byte-stream
 * fd. Each open endpoint (a listener, or a connection) has a pump: a thread
 * that owns a fabric handle, one ring, and one end of a
 * socketpair(AF_UNIX, SOCK_STREAM) per connection; the link gets the other
 * end. The pump reads what the link writes and sends it as Argo messages of
 * at most 64 KiB (type ARLK), and writes the payload of every message from
 * the peer into the socketpair. Argo delivers one sender's messages into a
 * ring reliably and in order, and a sendv sends the whole message or
 * nothing, so nothing needs sequencing here. A full peer ring (-EAGAIN)
 * makes the pump stop reading its socketpair until the fabric's event says
 * there is room, so the link finds its socket full: back-pressure, as on TCP.
 * A full socketpair makes the pump leave messages in its ring, which fills,
 * and the peer's pump waits in turn. Nothing busy-loops: the pump sleeps in
 * poll() on the fabric's event fd and its socketpair ends.
 *
 * Why a thread. The link is one-threaded and transport-agnostic: all it knows
 * of a transport is an fd to poll. An Argo endpoint needs someone to wait on
 * the fabric's event fd and move bytes between ring and stream. A thread per
 * endpoint does that without touching the link or the relay's epoll loop, and
 * shares nothing with the relay's thread but the socketpair (the kernel is
 * the lock). It has its own fabric handle; libargo serialises the calls on
 * one fabric anyway, and only the pump reads its ring. Its signals are
 * blocked: they go to the relay's thread.
 *
 * Connection setup and teardown, as messages with empty payloads:
 *   ARLC  connector -> listener: a new stream from this (domid, port). The
 *         listener's pump makes a socketpair and hands the link's end to
 *         accept() through the listening fd, itself one end of an AF_UNIX
 *         SOCK_SEQPACKET socketpair: each pending connection is one packet
 *         carrying an fd (SCM_RIGHTS), so the kernel keeps the queue of
 *         pending connections and the listening fd polls readable while it
 *         is not empty. One connection per peer domain: a new ARLC from a
 *         domain (the peer restarted) replaces its old connection, whose
 *         socketpair is closed, so the link reads EOF there.
 *   ARLX  the stream ends (the link closed its end): the other pump closes its
 *         socketpair end; that link reads EOF and reconnects by itself.
 * A peer whose ring is gone (sendv -ECONNREFUSED: its process or domain
 * died) ends the stream in the same way; so does a connector's own ring
 * gone with the listener's domain, which it checks when it has heard
 * nothing for a second (probe_ring()). Messages from anyone but the peer,
 * and of unknown types, are dropped and counted (transport_argo_dropped());
 * stream data from a source with no connection is answered with ARLX, so
 * that a connector whose listener restarted starts over (on Xen, where the
 * listener's domain, and with it the connector's ring, outlives the relay
 * process; on sim the domain is the process, hence probe_ring()).
 *
 * connect() opens the fabric, registers the connector's ring (an ephemeral
 * port, partner: the listener's domain) and sends ARLC before it returns,
 * so a listener that is not there is -ECONNREFUSED at once (its domain
 * missing from the fabric too: registering gives -ESRCH); the fd it
 * returns is connected. listen() opens the fabric and registers the
 * listener's ring (partner ANY: it cannot know its peers in advance, so the
 * fabric must allow wildcard rings: argo-simd -m, Xen's mac-permissive).
 * Every failure to open or register is their negative errno.
 *
 * Closing is the link closing its fds. A pump notices (EOF, hang-up), sends
 * ARLX, unregisters its ring, closes its fabric, frees everything and ends;
 * the threads are detached, and at exit the process waits up to a second
 * for pumps still winding down, so that their last bytes and ARLX go out.
 * A listener's pump ends once the listening fd and every connection it
 * accepted are closed. A listener whose fabric goes away (argo-simd
 * restarted) closes its connections and opens the fabric again every
 * second, the listening fd staying valid throughout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "argo/argo.h"
#include "clock.h"
#include "parse.h"
#include "transport.h"

#define ARLK_DATA      0x41524c4bu /* "ARLK": stream bytes */
#define ARLK_CONNECT   0x41524c43u /* "ARLC": connect request */
#define ARLK_CLOSE     0x41524c58u /* "ARLX": the stream ends */

#define ARLK_MSG_MAX   (64u * 1024)      /* stream bytes per message */
#define ARLK_RING_LEN  ((1u << 20) - 64) /* 256 pages with the ring header */
#define ARLK_EPHEMERAL 0xF1000000u       /* connectors' ports: this + 0..0xFFFF */
#define ARLK_MAX_CONNS 8                 /* per listener: one per peer domain */
#define ARLK_BATCH     32                /* messages each way per wake-up */
#define ARLK_RETRY_MS  1000              /* probe the fabric / our ring; reopen */
#define ARLK_BUSY_MS   10                /* sendv -EBUSY: the fabric will not call */
#define ARLK_FORM      "an argo address is FABRIC_URI@DOMID:PORT (connect) or FABRIC_URI@PORT (listen)"

struct arlk_address {
	char uri[TRANSPORT_ADDR_MAX];
	bool has_domid;
	argo_domid_t domid;
	uint32_t port;
};

/* One stream: a socketpair end and the peer's ring. */
struct conn {
	int fd;               /* our end of the socketpair; -1: slot free */
	xen_argo_addr_t peer; /* the other pump's ring */
	uint8_t *tx;          /* read from fd, not sent yet (peer ring full) */
	size_t tx_len;
	uint8_t *rx; /* received, not written to fd yet (socketpair full) */
	size_t rx_off, rx_len;
};

struct pump {
	bool listener;
	char uri[TRANSPORT_ADDR_MAX];
	uint32_t port;              /* our ring's */
	argo_domid_t partner;       /* our ring's partner: ANY on a listener */
	struct argo_fabric *fabric; /* NULL while a listener waits to reopen it */
	struct argo_ring *ring;
	int ctl;           /* listener: our end of the listening socketpair, else -1 */
	bool busy;         /* a send got -EBUSY: retry after ARLK_BUSY_MS */
	uint64_t heard_ms; /* connector: the peer last heard from, or our ring probed */
	struct conn conns[ARLK_MAX_CONNS]; /* a connector has conns[0] */
};

static atomic_ulong dropped;
static atomic_uint next_ephemeral;

/* Live pumps, so that exit can wait for them to finish. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond = PTHREAD_COND_INITIALIZER;
static unsigned int live_pumps;
static pthread_once_t at_exit_once = PTHREAD_ONCE_INIT;

unsigned long transport_argo_dropped(void)
{
	return atomic_load(&dropped);
}

/* ---- Addresses ---------------------------------------------------------- */

/* FABRIC_URI@[DOMID:]PORT. The URI may hold '@' itself: the last one counts. */
static int arlk_parse(const char *address, struct arlk_address *a, const char **why)
{
	const char *at = address ? strrchr(address, '@') : NULL, *p, *colon;
	uint64_t v;

	if (!at) {
		*why = ARLK_FORM;
		return -EINVAL;
	}
	for (p = address; p < at && *p >= 'a' && *p <= 'z'; p++)
		;
	if (p == address || p == at || *p != ':') {
		*why = "the fabric is a libargo URI, SCHEME:ARGUMENT (sim:/run/argo/links.sock, "
		       "xen:/dev/argo), before the last '@'";
		return -EINVAL;
	}
	if ((size_t)(at - address) >= sizeof(a->uri)) {
		*why = "the fabric URI is too long";
		return -EINVAL;
	}
	memcpy(a->uri, address, (size_t)(at - address));
	a->uri[at - address] = '\0';
	p = at + 1;
	colon = strchr(p, ':');
	a->has_domid = colon != NULL;
	a->domid = 0;
	if (colon) {
		if (parse_u64n(p, (size_t)(colon - p), XEN_DOMID_FIRST_RESERVED - 1, &v) < 0) {
			*why = "a domid is a number below 32752 (0x7FF0)";
			return -EINVAL;
		}
		a->domid = (argo_domid_t)v;
		p = colon + 1;
	}
	if (parse_u64(p, UINT32_MAX, &v) < 0) {
		*why = "an argo port is a number from 0 to 4294967295";
		return -EINVAL;
	}
	a->port = (uint32_t)v;
	return 0;
}

static int arlk_check_address(const char *address, const char **why)
{
	struct arlk_address a;
	const char *dummy;

	return arlk_parse(address, &a, why ? why : &dummy);
}

/* ---- Pieces of a pump --------------------------------------------------- */

static ssize_t send_msg(struct pump *p, const xen_argo_addr_t *to, uint32_t type, const void *buf,
                        size_t len)
{
	xen_argo_send_addr_t addr = {.src = {.aport = p->port, .domain_id = XEN_ARGO_DOMID_ANY},
	                             .dst = *to};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return argo_sendv(p->fabric, &addr, &iov, len ? 1 : 0, type);
}

static bool same_addr(const xen_argo_addr_t *a, const xen_argo_addr_t *b)
{
	return a->domain_id == b->domain_id && a->aport == b->aport;
}

static struct conn *conn_of(struct pump *p, const xen_argo_addr_t *src)
{
	int i;

	for (i = 0; i < ARLK_MAX_CONNS; i++)
		if (p->conns[i].fd >= 0 && same_addr(&p->conns[i].peer, src))
			return &p->conns[i];
	return NULL;
}

static bool has_conns(const struct pump *p)
{
	int i;

	for (i = 0; i < ARLK_MAX_CONNS; i++)
		if (p->conns[i].fd >= 0)
			return true;
	return false;
}

/* A stream to peer: our end in a free slot, the link's end in *link_end. */
static struct conn *conn_new(struct pump *p, const xen_argo_addr_t *peer, int *link_end, int *err)
{
	struct conn *c = NULL;
	int i, sv[2];

	for (i = 0; i < ARLK_MAX_CONNS && !c; i++)
		if (p->conns[i].fd < 0)
			c = &p->conns[i];
	if (!c) {
		*err = -EMFILE;
		return NULL;
	}
	c->tx = malloc(2 * ARLK_MSG_MAX);
	if (!c->tx) {
		*err = -ENOMEM;
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		*err = -errno;
		free(c->tx);
		c->tx = NULL;
		return NULL;
	}
	c->rx = c->tx + ARLK_MSG_MAX;
	c->tx_len = c->rx_off = c->rx_len = 0;
	c->peer = *peer;
	c->peer.pad = 0;
	c->fd = sv[0];
	*link_end = sv[1];
	return c;
}

/* Ends a stream: the link reads what we wrote, then EOF. */
static void conn_end(struct pump *p, struct conn *c, bool tell_peer)
{
	if (tell_peer && p->fabric)
		send_msg(p, &c->peer, ARLK_CLOSE, NULL, 0); /* best effort */
	close(c->fd);
	c->fd = -1;
	free(c->tx);
	c->tx = c->rx = NULL;
	c->tx_len = c->rx_off = c->rx_len = 0;
}

/* The fabric went away (or answers nonsense): every stream ends. */
static void pump_lost(struct pump *p)
{
	int i;

	for (i = 0; i < ARLK_MAX_CONNS; i++)
		if (p->conns[i].fd >= 0)
			conn_end(p, &p->conns[i], false);
	argo_close(p->fabric); /* frees the ring handle too */
	p->fabric = NULL;
	p->ring = NULL;
}

static bool fabric_error(int err)
{
	return err == -ENOTCONN || err == -EPROTO;
}

/* A send failed for good: the peer's ring is gone, or the fabric is. */
static void send_failed(struct pump *p, struct conn *c, int err)
{
	if (fabric_error(err))
		pump_lost(p);
	else
		conn_end(p, c, false);
}

static int pump_register(struct pump *p, uint32_t port)
{
	xen_argo_register_ring_t reg = {
	    .aport = port, .partner_id = p->partner, .len = ARLK_RING_LEN};
	int ret;

	/* FAIL_EXIST: never take over a ring someone else in this domain has
	 * (on Xen the relay's own rings may share the domain). */
	ret = argo_register_ring(p->fabric, &reg, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, &p->ring);
	if (ret == 0)
		p->port = port;
	return ret;
}

/* A listener's fabric and ring; the fabric is closed again on failure. */
static int listener_open(struct pump *p, uint32_t port)
{
	int ret = argo_open(p->uri, &p->fabric);

	if (ret < 0) {
		p->fabric = NULL;
		return ret;
	}
	ret = pump_register(p, port);
	if (ret < 0) {
		argo_close(p->fabric);
		p->fabric = NULL;
	}
	return ret;
}

/*
 * A connector's ring has the listener's domain for partner, so the fabric
 * removes it when that domain dies, and tells nobody. If the listener's
 * relay restarts before we send anything, our bytes then reach its new
 * listener, whose ARLX cannot reach us. So a connector that has heard
 * nothing for a while asks: registering the same ring again is -EEXIST
 * while it is there (-ESRCH: the listener's domain is not even back).
 */
static void probe_ring(struct pump *p)
{
	xen_argo_register_ring_t reg = {.aport = p->port,
	                                .partner_id = p->partner,
	                                .len = XEN_ARGO_PAGE_SIZE - sizeof(struct xen_argo_ring)};
	struct argo_ring *again;
	int ret = argo_register_ring(p->fabric, &reg, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, &again);

	if (ret == 0)
		argo_unregister_ring(p->fabric, again);
	if (fabric_error(ret))
		pump_lost(p);
	else if (ret == 0 || ret == -ESRCH)
		conn_end(p, &p->conns[0], true);
}

/* ---- The pump ----------------------------------------------------------- */

/* Writes pending peer bytes into the socketpair: 1 all gone, 0 it is full,
 * -1 the link's end is gone. */
static int conn_flush(struct conn *c)
{
	while (c->rx_len) {
		ssize_t n = send(c->fd, c->rx + c->rx_off, c->rx_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->rx_off += (size_t)n;
		c->rx_len -= (size_t)n;
	}
	c->rx_off = 0;
	return 1;
}

/* The link -> peer: what waits for ring space first, then what the link wrote. */
static void conn_output(struct pump *p, struct conn *c)
{
	int i;

	for (i = 0; i < ARLK_BATCH && c->fd >= 0 && p->fabric; i++) {
		ssize_t n;

		if (!c->tx_len) {
			n = recv(c->fd, c->tx, ARLK_MSG_MAX, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) { /* EOF: the link closed its end */
				conn_end(p, c, true);
				return;
			}
			c->tx_len = (size_t)n;
		}
		n = send_msg(p, &c->peer, ARLK_DATA, c->tx, c->tx_len);
		if (n == -EAGAIN) /* the fabric raises our event when there is room */
			return;
		if (n == -EBUSY) { /* too many waiters there: it will not */
			p->busy = true;
			return;
		}
		if (n < 0) {
			send_failed(p, c, (int)n);
			return;
		}
		c->tx_len = 0;
	}
}

/* Discards the message at the head of our ring, whatever its size. */
static void ring_skip(struct argo_ring *ring)
{
	uint32_t next;

	if (argo_ring_read_at(ring->shared, ring->len, ring->shared->rx_ptr, NULL, NULL, NULL, 0,
	                      &next) >= 0)
		argo_ring_release_to(ring->shared, next);
}

/* A connect request on a listener: a new stream for accept(). */
static void accept_peer(struct pump *p, const xen_argo_addr_t *src)
{
	/* The packet says who connected (accept()'s peer). */
	xen_argo_addr_t who = *src;
	struct iovec iov = {.iov_base = &who, .iov_len = sizeof(who)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = u.buf,
	                     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cmsg;
	struct conn *c;
	int i, link_end, err;

	if (p->ctl < 0) { /* nobody listens any more */
		send_msg(p, src, ARLK_CLOSE, NULL, 0);
		return;
	}
	/* One stream per peer domain: this one replaces the last. */
	for (i = 0; i < ARLK_MAX_CONNS; i++)
		if (p->conns[i].fd >= 0 && p->conns[i].peer.domain_id == src->domain_id)
			conn_end(p, &p->conns[i], true);
	c = conn_new(p, src, &link_end, &err);
	if (!c) {
		send_msg(p, src, ARLK_CLOSE, NULL, 0);
		return;
	}
	memset(u.buf, 0, sizeof(u.buf));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &link_end, sizeof(int));
	if (sendmsg(p->ctl, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		conn_end(p, c, true); /* too many pending: refused */
	close(link_end);              /* the packet holds its own reference */
}

/* peer -> the link: the messages in our ring, in order. 1 when it stopped
 * with messages left that no event will announce again. */
static int pump_input(struct pump *p)
{
	bool consumed = false;
	int i, more = 1, ret;

	for (i = 0; i < ARLK_BATCH * 2; i++) {
		xen_argo_addr_t src;
		uint32_t type;
		ssize_t len = argo_peek(p->ring, &src, &type);
		struct conn *c;

		if (len == -EAGAIN) {
			more = 0;
			break;
		}
		if (len < 0) { /* -EBADMSG: our ring's memory is corrupt */
			pump_lost(p);
			return 0;
		}
		c = conn_of(p, &src);
		if (c && c->rx_len) { /* its stream is full: keep order, wait */
			more = 0;
			break;
		}
		consumed = true;
		if (c)
			p->heard_ms = now_ms();
		if (c && type == ARLK_DATA && (size_t)len <= ARLK_MSG_MAX) {
			len = argo_recv(p->ring, NULL, NULL, c->rx, ARLK_MSG_MAX);
			c->rx_len = len > 0 ? (size_t)len : 0;
			if (conn_flush(c) < 0)
				conn_end(p, c, true);
			continue;
		}
		ring_skip(p->ring);
		if (c && type == ARLK_CLOSE) {
			conn_end(p, c, false);
		} else if (p->listener && type == ARLK_CONNECT) {
			accept_peer(p, &src);
		} else {
			atomic_fetch_add(&dropped, 1);
			/* Stream bytes nobody expects: tell the sender its stream
			 * is over (a connector whose listener restarted). */
			if (!c && p->listener && type == ARLK_DATA)
				send_msg(p, &src, ARLK_CLOSE, NULL, 0);
		}
		if (!p->fabric)
			return 0;
	}
	if (consumed) {
		ret = argo_notify(p->fabric, NULL); /* wakes senders waiting for room */
		if (fabric_error(ret))
			pump_lost(p);
	}
	return more;
}

static bool pump_running(const struct pump *p)
{
	return p->listener ? p->ctl >= 0 || has_conns(p) : p->conns[0].fd >= 0;
}

static void pump_free(struct pump *p)
{
	int i;

	for (i = 0; i < ARLK_MAX_CONNS; i++)
		if (p->conns[i].fd >= 0)
			conn_end(p, &p->conns[i], true);
	if (p->ring)
		argo_unregister_ring(p->fabric, p->ring);
	argo_close(p->fabric);
	if (p->ctl >= 0)
		close(p->ctl);
	free(p);
}

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	struct pollfd pfd[2 + ARLK_MAX_CONNS];
	int more = 0;

	while (pump_running(p)) {
		int n = 0, i, rc, timeout = -1, ev = -1, ctl = -1, at[ARLK_MAX_CONNS];

		if (p->fabric) {
			ev = n;
			pfd[n++] =
			    (struct pollfd){.fd = argo_event_fd(p->fabric), .events = POLLIN};
		}
		if (p->ctl >= 0) { /* only its hang-up matters: the link closed it */
			ctl = n;
			pfd[n++] = (struct pollfd){.fd = p->ctl, .events = 0};
		}
		for (i = 0; i < ARLK_MAX_CONNS; i++) {
			struct conn *c = &p->conns[i];

			at[i] = -1;
			if (c->fd < 0)
				continue;
			at[i] = n;
			pfd[n++] = (struct pollfd){.fd = c->fd,
			                           .events = (short)((c->tx_len ? 0 : POLLIN) |
			                                             (c->rx_len ? POLLOUT : 0))};
		}
		timeout = ARLK_RETRY_MS;
		if (p->busy)
			timeout = ARLK_BUSY_MS;
		if (more)
			timeout = 0;
		rc = poll(pfd, (nfds_t)n, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc < 0)
			continue;
		p->busy = false;
		if (ctl >= 0 && (pfd[ctl].revents & (POLLHUP | POLLERR))) {
			close(p->ctl);
			p->ctl = -1;
		}
		if (!p->fabric) { /* a listener without its fabric */
			if (rc == 0 && p->ctl >= 0)
				listener_open(p, p->port);
			continue;
		}
		if (ev >= 0 && (pfd[ev].revents & POLLIN))
			argo_event_clear(p->fabric);
		if (rc == 0 && p->listener && !more) {
			/* Idle: is the fabric still there? (A notify may not ask
			 * it: libargo answers one with nobody to wake itself.) */
			if (fabric_error(argo_fabric_check(p->fabric))) {
				pump_lost(p);
				continue;
			}
		}
		if (!p->listener && now_ms() - p->heard_ms >= ARLK_RETRY_MS) {
			p->heard_ms = now_ms();
			probe_ring(p);
			if (!pump_running(p))
				continue;
		}
		for (i = 0; i < ARLK_MAX_CONNS && p->fabric; i++) {
			struct conn *c = &p->conns[i];
			short re = at[i] >= 0 ? pfd[at[i]].revents : 0;

			if (c->fd < 0 || at[i] < 0)
				continue;
			if (c->rx_len && conn_flush(c) < 0) {
				conn_end(p, c, true);
				continue;
			}
			if (c->tx_len || (re & POLLIN))
				conn_output(p, c);
			/* the link is gone while we wait for room: nothing to wait for. */
			if (c->fd >= 0 && c->tx_len && (re & (POLLHUP | POLLERR)))
				conn_end(p, c, true);
		}
		more = p->fabric ? pump_input(p) : 0;
	}
	pump_free(p);
	pthread_mutex_lock(&live_lock);
	live_pumps--;
	pthread_cond_broadcast(&live_cond);
	pthread_mutex_unlock(&live_lock);
	return NULL;
}

/* At exit: give the pumps still winding down (their links' ends were just
 * closed) up to a second to send what they hold and ARLX. */
static void pumps_drain(void)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	pthread_mutex_lock(&live_lock);
	while (live_pumps)
		if (pthread_cond_timedwait(&live_cond, &live_lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&live_lock);
}

static void register_drain(void)
{
	atexit(pumps_drain);
}

static int pump_start(struct pump *p)
{
	sigset_t all, old;
	pthread_t thread;
	int ret;

	pthread_once(&at_exit_once, register_drain);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&live_lock);
	live_pumps++;
	pthread_mutex_unlock(&live_lock);
	ret = pthread_create(&thread, NULL, pump_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pthread_mutex_lock(&live_lock);
		live_pumps--;
		pthread_mutex_unlock(&live_lock);
		return -ret;
	}
	/* Named (for ps -L, and the tests) while still joinable, so that the
	 * handle is valid even if the pump has already ended; then detached:
	 * nobody joins a pump. */
	pthread_setname_np(thread, "argo-pump");
	pthread_detach(thread);
	return 0;
}

static struct pump *pump_new(const struct arlk_address *a, bool listener)
{
	struct pump *p = calloc(1, sizeof(*p));
	int i;

	if (!p)
		return NULL;
	p->listener = listener;
	memcpy(p->uri, a->uri, sizeof(p->uri));
	p->partner = listener ? XEN_ARGO_DOMID_ANY : a->domid;
	p->ctl = -1;
	for (i = 0; i < ARLK_MAX_CONNS; i++)
		p->conns[i].fd = -1;
	return p;
}

/* ---- The transport ------------------------------------------------------ */

static int arlk_listen(const char *address)
{
	struct arlk_address a;
	const char *why;
	struct pump *p;
	int ret, sv[2];

	ret = arlk_parse(address, &a, &why);
	if (ret < 0)
		return ret;
	if (a.has_domid)
		return -EINVAL; /* a listener is in its own domain */
	p = pump_new(&a, true);
	if (!p)
		return -ENOMEM;
	ret = listener_open(p, a.port);
	if (ret < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		goto fail;
	}
	p->ctl = sv[0];
	ret = pump_start(p);
	if (ret < 0) {
		close(sv[1]);
		goto fail;
	}
	return sv[1];
fail:
	pump_free(p);
	return ret;
}

static int arlk_accept(int listen_fd, struct transport_peer *peer)
{
	xen_argo_addr_t who;
	struct iovec iov = {.iov_base = &who, .iov_len = sizeof(who)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = u.buf,
	                     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cmsg;
	ssize_t n;
	int fd;

	do
		n = recvmsg(listen_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (n != (ssize_t)sizeof(who) || !cmsg || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		return -ECONNABORTED; /* cannot happen: only our pump writes there */
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	if (peer) {
		snprintf(peer->name, sizeof(peer->name), "domain %u port 0x%x",
		         (unsigned int)who.domain_id, (unsigned int)who.aport);
		snprintf(peer->source, sizeof(peer->source), "domain %u",
		         (unsigned int)who.domain_id);
	}
	return fd;
}

static int arlk_connect(const char *address)
{
	struct arlk_address a;
	const char *why;
	struct pump *p;
	struct conn *c;
	xen_argo_addr_t peer;
	uint32_t first;
	int ret, i, link_end = -1;

	ret = arlk_parse(address, &a, &why);
	if (ret < 0)
		return ret;
	if (!a.has_domid)
		return -EINVAL; /* connecting needs the listener's domid */
	p = pump_new(&a, false);
	if (!p)
		return -ENOMEM;
	ret = argo_open(p->uri, &p->fabric);
	if (ret < 0) {
		p->fabric = NULL;
		goto fail;
	}
	/* An ephemeral port: the next free one from a spread-out start. */
	first = (uint32_t)getpid() * 40503u + atomic_fetch_add(&next_ephemeral, 1);
	ret = -EADDRINUSE;
	for (i = 0; i < 256 && ret < 0; i++) {
		ret = pump_register(p, ARLK_EPHEMERAL + ((first + (uint32_t)i) & 0xFFFFu));
		if (ret < 0 && ret != -EEXIST)
			break;
	}
	if (ret == -ESRCH) /* no such domain on the fabric: nobody listens */
		ret = -ECONNREFUSED;
	if (ret < 0)
		goto fail;
	peer = (xen_argo_addr_t){.aport = a.port, .domain_id = a.domid};
	c = conn_new(p, &peer, &link_end, &ret);
	if (!c)
		goto fail;
	/* -ECONNREFUSED: nobody listens there; -EAGAIN: its ring is full now. */
	ret = (int)send_msg(p, &peer, ARLK_CONNECT, NULL, 0);
	if (ret < 0)
		goto fail;
	p->heard_ms = now_ms();
	ret = pump_start(p);
	if (ret < 0)
		goto fail;
	return link_end;
fail:
	if (link_end >= 0)
		close(link_end);
	for (i = 0; i < ARLK_MAX_CONNS; i++)
		if (p->conns[i].fd >= 0)
			conn_end(p, &p->conns[i], false);
	pump_free(p);
	return ret;
}

extern const struct transport_ops transport_argo_ops;
const struct transport_ops transport_argo_ops = {
    .kind = TRANSPORT_ARGO,
    .check_address = arlk_check_address,
    .listen = arlk_listen,
    .accept = arlk_accept,
    .connect = arlk_connect,
    .is_socket = 1, /* a socketpair: SO_ERROR is 0 */
};
