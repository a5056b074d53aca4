/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's `remote:DIR` domains (remote_peer.h): a libargo
 * fabric backend of the suite's own, whose every op is a request to an
 * argo-conformance-peer over the remote-peer wire (peer_proto.h).
 *
 * A reader thread takes the peer's frames: replies go to the one request
 * waiting (the fabric lock already serialises ops), EVENT frames bump an
 * eventfd, which is the handle's event fd, so that polling it and
 * argo_event_clear() behave as on a local fabric.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fabric.h"
#include "peer_proto.h"
#include "remote_peer.h"

/* A peer answers HELLO within a second, even in a domU of a nested Xen
 * under TCG. One that does not (seen on Xen: the vchan proxy of a domU
 * that just served the previous case, now and then) is passed over for
 * the next free one after this long (it cost a minute a time at 60 s). */
#define HELLO_TIMEOUT_MS 15000
#define RPC_TIMEOUT_MS   30000

struct remote_fabric {
	struct argo_fabric base; /* first, for casts */
	int fd;
	char dir[PATH_MAX];
	char sock[PATH_MAX];
	uint32_t session, seq;
	pthread_t reader;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* The reply awaited (guarded by mu). */
	uint32_t want_seq;
	int have_reply;
	void *reply;
	uint32_t reply_len;
	uint16_t reply_op;
	int dead;
	struct remote_fabric *next; /* open handles of this process */
};

static const struct argo_backend_ops remote_ops;
static struct remote_fabric *g_open;
static pthread_mutex_t g_open_mu = PTHREAD_MUTEX_INITIALIZER;

static struct remote_fabric *to_remote(struct argo_fabric *f)
{
	return (struct remote_fabric *)f;
}

bool remote_is(const struct argo_fabric *fabric)
{
	return fabric && fabric->ops == &remote_ops;
}

bool remote_ring_is(const struct argo_ring *ring)
{
	const struct argo_ring_handle *h = (const struct argo_ring_handle *)ring;

	return ring && remote_is(h->fabric);
}

static uint32_t ring_id(const struct argo_ring *ring)
{
	return (uint32_t)((uintptr_t)ring->backend - 1);
}

static void *reader_main(void *arg)
{
	struct remote_fabric *rf = arg;

	for (;;) {
		struct peer_hdr h;
		void *p;
		int ret = peer_recv(rf->fd, &h, &p);

		if (ret < 0)
			break;
		if (h.session != rf->session) {
			free(p);
			continue;
		}
		if (h.op == PEER_EVENT) {
			uint64_t one = 1;

			if (write(rf->base.event_fd, &one, sizeof(one)) < 0)
				perror("remote peer: eventfd");
			free(p);
			continue;
		}
		pthread_mutex_lock(&rf->mu);
		if ((h.op & PEER_REPLY) && h.seq == rf->want_seq && !rf->have_reply) {
			rf->reply = p;
			rf->reply_len = h.len;
			rf->reply_op = h.op;
			rf->have_reply = 1;
			pthread_cond_broadcast(&rf->cv);
			p = NULL;
		}
		pthread_mutex_unlock(&rf->mu);
		free(p);
	}
	pthread_mutex_lock(&rf->mu);
	rf->dead = 1;
	pthread_cond_broadcast(&rf->cv);
	pthread_mutex_unlock(&rf->mu);
	return NULL;
}

/* One request and its reply (malloc'd into *replyp, at least min bytes,
 * whose first field, ret, is returned when it is negative). */
static int64_t rpc(struct remote_fabric *rf, uint16_t op, const void *p1, size_t n1, const void *p2,
                   size_t n2, void **replyp, size_t min, int timeout_ms)
{
	struct timespec deadline;
	int64_t ret = 0;
	int err;

	*replyp = NULL;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rf->mu);
	if (rf->dead) {
		pthread_mutex_unlock(&rf->mu);
		return -ENOTCONN;
	}
	rf->want_seq = ++rf->seq;
	rf->have_reply = 0;
	err = peer_send(rf->fd, rf->session, rf->seq, op, p1, n1, p2, n2);
	if (err < 0) {
		pthread_mutex_unlock(&rf->mu);
		return -ENOTCONN;
	}
	while (!rf->have_reply && !rf->dead && err == 0)
		err = pthread_cond_timedwait(&rf->cv, &rf->mu, &deadline);
	if (!rf->have_reply) {
		if (!rf->dead)
			fprintf(stderr, "remote peer %s: no answer to op %u within %d ms\n",
			        rf->sock, op, timeout_ms);
		rf->dead = 1;
		pthread_mutex_unlock(&rf->mu);
		return -ENOTCONN;
	}
	rf->have_reply = 0;
	*replyp = rf->reply;
	rf->reply = NULL;
	if (rf->reply_op != (op | PEER_REPLY) || rf->reply_len < min ||
	    rf->reply_len < sizeof(int32_t)) {
		int32_t r32 = 0;

		if (rf->reply_len >= sizeof(r32) && *replyp)
			memcpy(&r32, *replyp, sizeof(r32));
		ret = r32 < 0 ? r32 : -EPROTO;
		free(*replyp);
		*replyp = NULL;
	}
	pthread_mutex_unlock(&rf->mu);
	return ret;
}

static int32_t ret32(const void *reply)
{
	int32_t r;

	memcpy(&r, reply, sizeof(r));
	return r;
}

static int rpc_ret(struct remote_fabric *rf, uint16_t op, const void *p, size_t n)
{
	void *reply;
	int64_t ret = rpc(rf, op, p, n, NULL, 0, &reply, sizeof(int32_t), RPC_TIMEOUT_MS);

	if (ret < 0)
		return (int)ret;
	ret = ret32(reply);
	free(reply);
	return (int)ret;
}

/* ---- The backend ---------------------------------------------------------- */

static int remote_backend_open(const char *address, struct argo_fabric **fabricp)
{
	return remote_open(address, 0, fabricp);
}

static int remote_register_ring(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                                uint32_t flags, struct argo_ring_handle *h)
{
	struct {
		xen_argo_register_ring_t reg;
		uint32_t flags;
	} a;
	struct {
		int32_t ret;
		uint32_t id;
	} r;
	size_t size = sizeof(struct xen_argo_ring) + (size_t)reg->len;
	void *reply, *mem;
	int64_t ret;

	memset(&a, 0, sizeof(a));
	a.reg = *reg;
	a.flags = flags;
	ret = rpc(to_remote(fabric), PEER_REGISTER, &a, sizeof(a), NULL, 0, &reply, sizeof(r),
	          RPC_TIMEOUT_MS);
	if (ret < 0)
		return (int)ret;
	memcpy(&r, reply, sizeof(r));
	free(reply);
	if (r.ret < 0)
		return r.ret;
	/* A local copy of the peer's ring, refreshed by remote_ring_sync. */
	mem = calloc(1, size);
	if (!mem) {
		rpc_ret(to_remote(fabric), PEER_RELEASE, &r.id, sizeof(r.id));
		return -ENOMEM;
	}
	h->pub.shared = mem;
	h->pub.len = reg->len;
	h->pub.aport = reg->aport;
	h->pub.partner_id = reg->partner_id;
	h->pub.backend = (void *)(uintptr_t)(r.id + 1);
	h->map_size = size;
	return 0;
}

static int remote_unregister_ring(struct argo_fabric *fabric,
                                  const xen_argo_unregister_ring_t *unreg)
{
	return rpc_ret(to_remote(fabric), PEER_UNREGISTER, unreg, sizeof(*unreg));
}

static void remote_release_ring(struct argo_ring_handle *h)
{
	uint32_t id = ring_id(&h->pub);

	rpc_ret(to_remote(h->fabric), PEER_RELEASE, &id, sizeof(id));
	free(h->pub.shared);
	h->pub.shared = NULL;
}

static ssize_t remote_sendv(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                            const struct iovec *iov, unsigned int niov, uint32_t message_type)
{
	struct {
		xen_argo_send_addr_t addr;
		uint32_t niov, type, nlens, pad;
	} a;
	uint64_t lens[PEER_MAX_IOVS];
	size_t total = 0, off, i;
	uint8_t *buf;
	void *reply;
	int64_t ret;

	memset(&a, 0, sizeof(a));
	a.addr = *addr;
	a.niov = niov;
	a.type = message_type;
	a.nlens = iov ? (niov < PEER_MAX_IOVS ? niov : PEER_MAX_IOVS) : 0;
	for (i = 0; i < a.nlens; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -EFAULT; /* as the device says for a bad pointer */
		lens[i] = iov[i].iov_len;
		total += iov[i].iov_len;
		if (total > PEER_MAX_PAYLOAD / 2)
			return -E2BIG; /* not passed through: far beyond Xen's limit */
	}
	off = a.nlens * sizeof(uint64_t);
	buf = malloc(off + total + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, lens, off);
	for (i = 0; i < a.nlens; i++) {
		if (iov[i].iov_len)
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ret = rpc(to_remote(fabric), PEER_SENDV, &a, sizeof(a), buf, off, &reply, sizeof(int64_t),
	          RPC_TIMEOUT_MS);
	free(buf);
	if (ret < 0)
		return (ssize_t)ret;
	memcpy(&ret, reply, sizeof(ret));
	free(reply);
	return (ssize_t)ret;
}

static int remote_notify(struct argo_fabric *fabric, xen_argo_ring_data_t *rd)
{
	struct {
		uint32_t has_data;
		xen_argo_ring_data_t hdr;
	} a;
	struct {
		int32_t ret;
		uint32_t nent;
	} r;
	size_t ents = 0;
	uint8_t *reply;
	int64_t ret;

	memset(&a, 0, sizeof(a));
	if (rd) {
		if (rd->nent > PEER_MAX_NENT)
			return -E2BIG; /* not passed through */
		a.has_data = 1;
		a.hdr.nent = rd->nent;
		a.hdr.pad = rd->pad;
		ents = (size_t)rd->nent * sizeof(xen_argo_ring_data_ent_t);
	}
	ret = rpc(to_remote(fabric), PEER_NOTIFY, &a, rd ? sizeof(a) : sizeof(a.has_data),
	          rd ? rd->data : NULL, ents, (void **)&reply, sizeof(r), RPC_TIMEOUT_MS);
	if (ret < 0)
		return (int)ret;
	memcpy(&r, reply, sizeof(r));
	if (rd && r.nent == rd->nent)
		memcpy(rd->data, reply + sizeof(r), ents);
	free(reply);
	return r.ret;
}

static void remote_destroy(struct argo_fabric *fabric)
{
	struct remote_fabric *rf = to_remote(fabric), **pp;

	pthread_mutex_lock(&g_open_mu);
	for (pp = &g_open; *pp; pp = &(*pp)->next) {
		if (*pp == rf) {
			*pp = rf->next;
			break;
		}
	}
	pthread_mutex_unlock(&g_open_mu);
	shutdown(rf->fd, SHUT_RDWR);
	pthread_join(rf->reader, NULL);
	close(rf->fd);
	close(rf->base.event_fd);
	free(rf->reply);
	pthread_cond_destroy(&rf->cv);
	pthread_mutex_destroy(&rf->mu);
	free(rf);
}

static const struct argo_backend_ops remote_ops = {
    .scheme = "remote",
    .open = remote_backend_open,
    .register_ring = remote_register_ring,
    .unregister_ring = remote_unregister_ring,
    .release_ring = remote_release_ring,
    .sendv = remote_sendv,
    .notify = remote_notify,
    .destroy = remote_destroy,
};

/* ---- Rings in the other domain -------------------------------------------- */

struct xen_argo_ring *remote_ring_sync(struct argo_ring *ring)
{
	struct argo_ring_handle *h = (struct argo_ring_handle *)ring;
	uint32_t id = ring_id(ring);
	struct {
		int32_t ret;
		uint32_t size;
	} r;
	uint8_t *reply;

	if (rpc(to_remote(h->fabric), PEER_READ_RING, &id, sizeof(id), NULL, 0, (void **)&reply,
	        sizeof(r), RPC_TIMEOUT_MS) < 0)
		return ring->shared;
	memcpy(&r, reply, sizeof(r));
	if (r.ret == 0 && r.size == h->map_size)
		memcpy(ring->shared, reply + sizeof(r), r.size);
	free(reply);
	return ring->shared;
}

static ssize_t recv_or_peek(struct argo_ring *ring, xen_argo_addr_t *source, uint32_t *message_type,
                            void *buf, size_t bufsz, uint32_t peek)
{
	struct argo_ring_handle *h = (struct argo_ring_handle *)ring;
	struct {
		uint32_t id, bufsz, peek;
	} a = {ring_id(ring), (uint32_t)(bufsz > UINT32_MAX ? UINT32_MAX : bufsz), peek};
	struct {
		int64_t ret;
		xen_argo_addr_t src;
		uint32_t type;
	} r;
	uint8_t *reply;
	int64_t ret;

	ret = rpc(to_remote(h->fabric), PEER_RECV, &a, sizeof(a), NULL, 0, (void **)&reply,
	          sizeof(r), RPC_TIMEOUT_MS);
	if (ret < 0)
		return (ssize_t)ret;
	memcpy(&r, reply, sizeof(r));
	if (!peek && r.ret > 0) {
		if ((size_t)r.ret > bufsz) {
			free(reply);
			return -EPROTO;
		}
		memcpy(buf, reply + sizeof(r), (size_t)r.ret);
	}
	free(reply);
	if (r.ret >= 0) {
		if (source)
			*source = r.src;
		if (message_type)
			*message_type = r.type;
	}
	return (ssize_t)r.ret;
}

ssize_t remote_recv(struct argo_ring *ring, xen_argo_addr_t *source, uint32_t *message_type,
                    void *buf, size_t bufsz)
{
	return recv_or_peek(ring, source, message_type, buf, bufsz, 0);
}

ssize_t remote_peek(struct argo_ring *ring, xen_argo_addr_t *source, uint32_t *message_type)
{
	return recv_or_peek(ring, source, message_type, NULL, 0, 1);
}

/* ---- Opening and killing --------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool in_use(const char *sock)
{
	const struct remote_fabric *rf;
	bool used = false;

	pthread_mutex_lock(&g_open_mu);
	for (rf = g_open; rf; rf = rf->next)
		used |= !strcmp(rf->sock, sock);
	pthread_mutex_unlock(&g_open_mu);
	return used;
}

static int sock_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".sock");
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Connects to one peer and says HELLO. */
static int try_peer(const char *dir, const char *sock, struct argo_fabric **fabricp)
{
	struct remote_fabric *rf;
	struct {
		int32_t ret;
		uint32_t domid;
	} r;
	void *reply;
	int64_t ret;
	int fd = connect_to(sock);

	if (fd < 0)
		return fd;
	rf = calloc(1, sizeof(*rf));
	if (!rf) {
		close(fd);
		return -ENOMEM;
	}
	rf->fd = fd;
	snprintf(rf->dir, sizeof(rf->dir), "%s", dir);
	snprintf(rf->sock, sizeof(rf->sock), "%s", sock);
	if (getrandom(&rf->session, sizeof(rf->session), 0) != sizeof(rf->session))
		rf->session = (uint32_t)now_ms() ^ ((uint32_t)getpid() << 16);
	rf->session |= 1; /* never 0, the peer's "no session" */
	rf->base.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&rf->mu, NULL);
	pthread_cond_init(&rf->cv, NULL);
	if (rf->base.event_fd < 0 || pthread_create(&rf->reader, NULL, reader_main, rf) != 0) {
		if (rf->base.event_fd >= 0)
			close(rf->base.event_fd);
		close(fd);
		free(rf);
		return -ENOMEM;
	}
	rf->base.ops = &remote_ops;
	rf->base.rings = NULL;
	rf->base.wait_fd = -1; /* argo_event_wait() makes it */
	pthread_mutex_init(&rf->base.lock, NULL);
	ret = rpc(rf, PEER_HELLO, NULL, 0, NULL, 0, &reply, sizeof(r), HELLO_TIMEOUT_MS);
	if (ret == 0) {
		memcpy(&r, reply, sizeof(r));
		free(reply);
		ret = r.ret;
		rf->base.domid = (argo_domid_t)r.domid;
	}
	if (ret < 0) {
		fprintf(stderr, "remote peer %s: HELLO: %s\n", sock, argo_strerror((int)ret));
		argo_close(&rf->base);
		return (int)ret;
	}
	pthread_mutex_lock(&g_open_mu);
	rf->next = g_open;
	g_open = rf;
	pthread_mutex_unlock(&g_open_mu);
	*fabricp = &rf->base;
	return 0;
}

int remote_open(const char *dir, int wait_ms, struct argo_fabric **fabricp)
{
	uint64_t deadline = now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	int last = -ENOENT;

	if (!dir || !*dir || !fabricp)
		return -EINVAL;
	for (;;) {
		struct dirent **names;
		int n = scandir(dir, &names, sock_filter, versionsort), i;
		bool done = false;

		for (i = 0; i < n; i++) {
			char path[PATH_MAX];

			if (!done &&
			    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) <
			        (int)sizeof(path) &&
			    !in_use(path)) {
				last = try_peer(dir, path, fabricp);
				done = last == 0;
			}
			free(names[i]);
		}
		if (n >= 0)
			free(names);
		if (done)
			return 0;
		if (now_ms() >= deadline)
			return last == -ENOENT || last == -ECONNREFUSED ? -ENODEV : last;
		/* Peers appear as their domains come up: look again shortly. */
		poll(NULL, 0, 100);
	}
}

int remote_kill(struct argo_fabric *fabric)
{
	struct remote_fabric *rf = to_remote(fabric);
	char hook[PATH_MAX], domid[16];
	int ret = 0;

	if (!remote_is(fabric))
		return -EINVAL;
	snprintf(domid, sizeof(domid), "%u", (unsigned int)fabric->domid);
	if (snprintf(hook, sizeof(hook), "%s/kill", rf->dir) < (int)sizeof(hook) &&
	    access(hook, X_OK) == 0) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			return -errno;
		if (pid == 0) {
			execl(hook, hook, domid, rf->sock, (char *)NULL);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "remote peer %s: %s %s failed\n", rf->sock, hook, domid);
			ret = -EIO;
		}
	} else {
		void *reply;
		int64_t r =
		    rpc(rf, PEER_DIE, NULL, 0, NULL, 0, &reply, sizeof(int32_t), RPC_TIMEOUT_MS);

		if (r < 0)
			ret = (int)r;
		else
			free(reply);
	}
	unlink(rf->sock);
	pthread_mutex_lock(&rf->mu);
	rf->dead = 1;
	pthread_mutex_unlock(&rf->mu);
	return ret;
}
