/* SPDX-License-Identifier: MIT */
/*
 * argo-conformance-peer: a domain for the conformance suite's cross-domain
 * cases, driven from elsewhere. Options: usage() below, and
 * argo-conformance-peer(1).
 *
 * Listens on the UNIX socket PATH and serves one connection at a time: each
 * request of the remote-peer wire (peer_proto.h) becomes the same libargo
 * call on its own fabric handle (argo_open(URI) at each HELLO), and every
 * VIRQ_ARGO this domain gets is passed on as an EVENT frame. On Xen it runs
 * in a PV domU, and vchan-socket-proxy carries PATH's stream to dom0, where
 * `argo-conformance --peer remote:DIR` drives it (docs/xen-fabric.md); on
 * sim it runs next to the suite (tests/run-all.sh, suite conformance-remote).
 *
 * The handle is closed (its rings go) when the connection ends or the next
 * HELLO comes. DIE closes it and exits: on sim that is the domain's death;
 * on Xen, dom0 kills the whole domain instead (xl destroy).
 * -d: detach once listening. Exit status 0 after DIE, 1 on an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "argo/argo.h"
#include "argo/version.h"
#include "peer_proto.h"

static struct {
	const char *fabric_uri;
	const char *listen_path;
	const char *pidfile;
	bool detach;
	bool verbose;
} opt;

static struct argo_fabric *g_fabric;
static struct argo_ring *g_rings[PEER_MAX_RINGS];
static uint32_t g_session;
static int g_conn = -1;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "argo-conformance-peer: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define vlog(...)                                                                                  \
	do {                                                                                       \
		if (opt.verbose)                                                                   \
			logf_(__VA_ARGS__);                                                        \
	} while (0)

static void close_fabric(void)
{
	if (!g_fabric)
		return;
	argo_close(g_fabric); /* frees the ring handles too */
	g_fabric = NULL;
	memset(g_rings, 0, sizeof(g_rings));
}

static int reply(uint32_t seq, uint16_t op, const void *p1, size_t n1, const void *p2, size_t n2)
{
	return peer_send(g_conn, g_session, seq, (uint16_t)(op | PEER_REPLY), p1, n1, p2, n2);
}

static int reply_ret(uint32_t seq, uint16_t op, int32_t ret)
{
	return reply(seq, op, &ret, sizeof(ret), NULL, 0);
}

static struct argo_ring *ring_by_id(const void *payload, uint32_t len, uint32_t *idp)
{
	uint32_t id;

	if (len < sizeof(id))
		return NULL;
	memcpy(&id, payload, sizeof(id));
	if (idp)
		*idp = id;
	return id < PEER_MAX_RINGS ? g_rings[id] : NULL;
}

static int op_hello(uint32_t seq, uint32_t session)
{
	struct {
		int32_t ret;
		uint32_t domid;
	} r = {0, 0};

	close_fabric();
	g_session = session;
	r.ret = argo_open(opt.fabric_uri, &g_fabric);
	if (r.ret < 0) {
		g_fabric = NULL;
		logf_("argo_open(%s): %s", opt.fabric_uri, argo_strerror(r.ret));
	} else {
		r.domid = argo_domid(g_fabric);
		vlog("session %08x: domain %u", session, r.domid);
	}
	return reply(seq, PEER_HELLO, &r, sizeof(r), NULL, 0);
}

static int op_register(uint32_t seq, const void *p, uint32_t len)
{
	struct {
		xen_argo_register_ring_t reg;
		uint32_t flags;
	} a;
	struct {
		int32_t ret;
		uint32_t id;
	} r = {0, 0};
	struct argo_ring *ring;
	uint32_t id;

	if (len != sizeof(a))
		return reply_ret(seq, PEER_REGISTER, -EPROTO);
	memcpy(&a, p, sizeof(a));
	for (id = 0; id < PEER_MAX_RINGS && g_rings[id]; id++)
		;
	if (id == PEER_MAX_RINGS)
		return reply_ret(seq, PEER_REGISTER, -ENOMEM);
	r.ret = argo_register_ring(g_fabric, &a.reg, a.flags, &ring);
	if (r.ret == 0) {
		g_rings[id] = ring;
		r.id = id;
	}
	vlog("register(aport %u, partner %u, len %u, flags 0x%x): %d", a.reg.aport,
	     a.reg.partner_id, a.reg.len, a.flags, r.ret);
	return reply(seq, PEER_REGISTER, &r, sizeof(r), NULL, 0);
}

static int op_unregister(uint32_t seq, const void *p, uint32_t len)
{
	xen_argo_unregister_ring_t u;
	int32_t ret;

	if (len != sizeof(u))
		return reply_ret(seq, PEER_UNREGISTER, -EPROTO);
	memcpy(&u, p, sizeof(u));
	ret = argo_unregister_raw(g_fabric, &u);
	vlog("unregister(aport %u, partner %u): %d", u.aport, u.partner_id, ret);
	return reply_ret(seq, PEER_UNREGISTER, ret);
}

static int op_release(uint32_t seq, const void *p, uint32_t len)
{
	uint32_t id;
	struct argo_ring *ring = ring_by_id(p, len, &id);

	if (!ring)
		return reply_ret(seq, PEER_RELEASE, -EBADF);
	argo_ring_release(ring);
	g_rings[id] = NULL;
	return reply_ret(seq, PEER_RELEASE, 0);
}

static int op_sendv(uint32_t seq, const uint8_t *p, uint32_t len)
{
	struct {
		xen_argo_send_addr_t addr;
		uint32_t niov, type, nlens, pad;
	} a;
	struct iovec iov[PEER_MAX_IOVS];
	uint64_t lens[PEER_MAX_IOVS];
	size_t off, i;
	int64_t ret;

	if (len < sizeof(a))
		return reply_ret(seq, PEER_SENDV, -EPROTO);
	memcpy(&a, p, sizeof(a));
	off = sizeof(a);
	if (a.nlens > PEER_MAX_IOVS || len - off < a.nlens * sizeof(uint64_t))
		return reply_ret(seq, PEER_SENDV, -EPROTO);
	memcpy(lens, p + off, a.nlens * sizeof(uint64_t));
	off += a.nlens * sizeof(uint64_t);
	for (i = 0; i < a.nlens; i++) {
		if (lens[i] > len - off)
			return reply_ret(seq, PEER_SENDV, -EPROTO);
		iov[i].iov_base = lens[i] ? (void *)(p + off) : NULL;
		iov[i].iov_len = lens[i];
		off += lens[i];
	}
	ret = argo_sendv(g_fabric, &a.addr, a.nlens ? iov : NULL, a.niov, a.type);
	vlog("sendv(%u:%u -> %u:%u, niov %u): %lld", a.addr.src.domain_id, a.addr.src.aport,
	     a.addr.dst.domain_id, a.addr.dst.aport, a.niov, (long long)ret);
	return reply(seq, PEER_SENDV, &ret, sizeof(ret), NULL, 0);
}

static int op_notify(uint32_t seq, const uint8_t *p, uint32_t len)
{
	struct {
		int32_t ret;
		uint32_t nent;
	} r = {0, 0};
	xen_argo_ring_data_t hdr, *rd = NULL;
	uint32_t has_data;
	size_t ents;
	int ret;

	if (len < sizeof(has_data))
		return reply_ret(seq, PEER_NOTIFY, -EPROTO);
	memcpy(&has_data, p, sizeof(has_data));
	if (has_data) {
		if (len < sizeof(has_data) + sizeof(hdr))
			return reply_ret(seq, PEER_NOTIFY, -EPROTO);
		memcpy(&hdr, p + sizeof(has_data), sizeof(hdr));
		ents = len - sizeof(has_data) - sizeof(hdr);
		if (ents % sizeof(xen_argo_ring_data_ent_t) ||
		    ents / sizeof(xen_argo_ring_data_ent_t) > PEER_MAX_NENT)
			return reply_ret(seq, PEER_NOTIFY, -EPROTO);
		rd = malloc(sizeof(hdr) + ents + 1);
		if (!rd)
			return reply_ret(seq, PEER_NOTIFY, -ENOMEM);
		memcpy(rd, p + sizeof(has_data), sizeof(hdr) + ents);
		r.nent = (uint32_t)(ents / sizeof(xen_argo_ring_data_ent_t));
	}
	r.ret = argo_notify(g_fabric, rd);
	vlog("notify(%s%u entries): %d", rd ? "" : "NULL, ", r.nent, r.ret);
	ret = reply(seq, PEER_NOTIFY, &r, sizeof(r), rd ? rd->data : NULL,
	            rd ? r.nent * sizeof(xen_argo_ring_data_ent_t) : 0);
	free(rd);
	return ret;
}

static int op_read_ring(uint32_t seq, const void *p, uint32_t len)
{
	struct argo_ring *ring = ring_by_id(p, len, NULL);
	struct {
		int32_t ret;
		uint32_t size;
	} r = {0, 0};

	if (!ring)
		return reply_ret(seq, PEER_READ_RING, -EBADF);
	r.size = (uint32_t)sizeof(struct xen_argo_ring) + ring->len;
	return reply(seq, PEER_READ_RING, &r, sizeof(r), ring->shared, r.size);
}

static int op_recv(uint32_t seq, const void *p, uint32_t len)
{
	struct {
		uint32_t id, bufsz, peek;
	} a;
	struct {
		int64_t ret;
		xen_argo_addr_t src;
		uint32_t type;
	} r;
	struct argo_ring *ring;
	void *buf = NULL;
	int ret;

	if (len != sizeof(a))
		return reply_ret(seq, PEER_RECV, -EPROTO);
	memcpy(&a, p, sizeof(a));
	ring = a.id < PEER_MAX_RINGS ? g_rings[a.id] : NULL;
	if (!ring || a.bufsz > XEN_ARGO_MAX_RING_SIZE)
		return reply_ret(seq, PEER_RECV, -EBADF);
	memset(&r, 0, sizeof(r));
	if (a.peek) {
		r.ret = argo_peek(ring, &r.src, &r.type);
	} else {
		buf = malloc(a.bufsz ? a.bufsz : 1);
		if (!buf)
			return reply_ret(seq, PEER_RECV, -ENOMEM);
		r.ret = argo_recv(ring, &r.src, &r.type, buf, a.bufsz);
	}
	ret = reply(seq, PEER_RECV, &r, sizeof(r), buf, !a.peek && r.ret > 0 ? (size_t)r.ret : 0);
	free(buf);
	return ret;
}

/* One request; < 0 ends the connection. 1 after DIE. */
static int serve_frame(const struct peer_hdr *h, const uint8_t *p)
{
	if (h->op == PEER_HELLO)
		return op_hello(h->seq, h->session);
	if (h->session != g_session) {
		vlog("dropping op %u of session %08x (now %08x)", h->op, h->session, g_session);
		return 0;
	}
	if (h->op == PEER_DIE) {
		reply_ret(h->seq, PEER_DIE, 0);
		return 1;
	}
	if (!g_fabric)
		return reply_ret(h->seq, h->op, -ENOTCONN);
	switch (h->op) {
	case PEER_REGISTER:
		return op_register(h->seq, p, h->len);
	case PEER_UNREGISTER:
		return op_unregister(h->seq, p, h->len);
	case PEER_RELEASE:
		return op_release(h->seq, p, h->len);
	case PEER_SENDV:
		return op_sendv(h->seq, p, h->len);
	case PEER_NOTIFY:
		return op_notify(h->seq, p, h->len);
	case PEER_READ_RING:
		return op_read_ring(h->seq, p, h->len);
	case PEER_RECV:
		return op_recv(h->seq, p, h->len);
	default:
		return reply_ret(h->seq, h->op, -EOPNOTSUPP);
	}
}

/* Serves one connection until it ends; 1 after DIE. */
static int serve(void)
{
	for (;;) {
		struct pollfd pfd[2] = {{.fd = g_conn, .events = POLLIN}, {.fd = -1}};
		int n;

		if (g_fabric) {
			pfd[1].fd = argo_event_fd(g_fabric);
			pfd[1].events = POLLIN;
		}
		n = poll(pfd, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logf_("poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t count = 1;

			if (argo_event_clear(g_fabric) > 0) {
				vlog("event");
				if (peer_send(g_conn, g_session, 0, PEER_EVENT, &count,
				              sizeof(count), NULL, 0) < 0)
					return 0;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			struct peer_hdr h;
			void *p;
			int ret = peer_recv(g_conn, &h, &p);

			if (ret < 0) {
				if (ret != -ECONNRESET)
					logf_("reading a request: %s", strerror(-ret));
				return 0;
			}
			ret = serve_frame(&h, p);
			free(p);
			if (ret != 0)
				return ret > 0 ? 1 : 0;
		}
	}
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		logf_("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		logf_("socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		logf_("listening on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: argo-conformance-peer --fabric URI --listen PATH [options]\n"
	        "A domain for argo-conformance's cross-domain cases, driven through a unix\n"
	        "socket (argo-conformance --peer remote:DIR).\n"
	        "\n"
	        "  -f, --fabric URI          the fabric this domain opens\n"
	        "  -l, --listen PATH         the unix socket to serve, one connection at a time\n"
	        "  -p, --pidfile FILE        write the pid there\n"
	        "  -d, --detach              detach once listening\n"
	        "  -v, --verbose             log every request\n"
	        "  -h, --help                print this help and exit\n"
	        "  -V, --version             print the version and exit\n"
	        "\n"
	        "Exit status: 0 after the driver's DIE, 1 on an error, 2 for a usage error.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"fabric", required_argument, NULL, 'f'},  {"listen", required_argument, NULL, 'l'},
	    {"pidfile", required_argument, NULL, 'p'}, {"detach", no_argument, NULL, 'd'},
	    {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	int c, lfd, status = 1;

	while ((c = getopt_long(argc, argv, "f:l:p:dvhV", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			opt.fabric_uri = optarg;
			break;
		case 'l':
			opt.listen_path = optarg;
			break;
		case 'p':
			opt.pidfile = optarg;
			break;
		case 'd':
			opt.detach = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("argo-conformance-peer (%s) %s\n", ARGO_PACKAGE, ARGO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!opt.fabric_uri || !opt.listen_path || optind < argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(opt.listen_path);
	if (lfd < 0)
		return 1;
	if (opt.detach && daemon(0, 1) < 0) {
		logf_("daemon: %s", strerror(errno));
		return 1;
	}
	if (opt.pidfile) {
		FILE *f = fopen(opt.pidfile, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
			logf_("writing %s failed", opt.pidfile);
			return 1;
		}
	}
	logf_("serving %s on %s", opt.fabric_uri, opt.listen_path);
	for (;;) {
		int ret;

		g_conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (g_conn < 0) {
			if (errno == EINTR)
				continue;
			logf_("accept: %s", strerror(errno));
			break;
		}
		vlog("connection");
		ret = serve();
		close_fabric();
		close(g_conn);
		g_conn = -1;
		g_session = 0;
		if (ret == 1) {
			status = 0;
			break;
		}
		if (ret < 0)
			break;
	}
	close(lfd);
	unlink(opt.listen_path);
	logf_("exiting");
	return status;
}
