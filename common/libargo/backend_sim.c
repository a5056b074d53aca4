/* SPDX-License-Identifier: MIT */
/*
 * libargo's sim backend: talks to argo-simd over its socket
 * (common/libargo/sim_proto.h). Called with fabric->lock held (fabric.h).
 *
 * The daemon's shared page lets two calls end here without a system call
 * when they would do nothing: a notify without ring data while no sender
 * waits on our rings, and an event clear when no event was raised since
 * the last one we read (docs/sim-fabric.md, "The shared page").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fabric.h"
#include "sim_proto.h"

struct sim_fabric_client {
	struct argo_fabric base; /* first, for casts */
	int sock;
	int staging_fd;
	uint8_t *staging;
	size_t staging_size;
	int shared_fd;
	const struct argo_sim_shared *shared; /* read-only: the daemon writes it */
	uint64_t events_consumed;             /* the counts our eventfd reads returned, summed */
	uint32_t next_cookie;
};

static struct sim_fabric_client *to_sim(struct argo_fabric *fabric)
{
	return (struct sim_fabric_client *)fabric;
}

#define MAX_RECV_FDS 3

/* Receives one packet and up to three fds. Returns its length or -errno. */
static ssize_t recv_packet(int sock, void *buf, size_t len, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(MAX_RECV_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -ENOTCONN : -errno;
	if (n == 0)
		return -ENOTCONN;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		int count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i;

		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + (size_t)i * sizeof(int), sizeof(fd));
			if (*nfds < MAX_RECV_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EPROTO;
	return n;
}

/*
 * One request, one reply. pass_fd >= 0 travels with the request. The reply
 * header's ret is returned; any reply body is copied to body (up to
 * body_len bytes) and its length stored in *body_got. A reply may carry an
 * fd only when recv_fd is given: then *recv_fd is that fd (the caller closes
 * it) or -1 when none came.
 */
static int64_t rpc_fd(struct sim_fabric_client *sim, void *req, size_t req_len, int pass_fd,
                      void *body, size_t body_len, size_t *body_got, int *recv_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct argo_sim_req_hdr *hdr = req;
	struct iovec iov = {.iov_base = req, .iov_len = req_len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	uint8_t reply[sizeof(struct argo_sim_reply) + sizeof(struct xen_argo_ring_data) +
	              XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent)];
	struct argo_sim_reply rh;
	int fds[MAX_RECV_FDS], nfds, i;
	ssize_t n;

	hdr->cookie = ++sim->next_cookie;
	if (pass_fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(sim->sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE || errno == ECONNRESET ? -ENOTCONN : -errno;

	n = recv_packet(sim->sock, reply, sizeof(reply), fds, &nfds);
	if (recv_fd && nfds == 1 && n >= 0) {
		*recv_fd = fds[0];
		nfds = 0;
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (n < 0)
		return n;
	if ((size_t)n < sizeof(rh) || nfds)
		return -EPROTO;
	memcpy(&rh, reply, sizeof(rh));
	if (rh.cookie != hdr->cookie)
		return -EPROTO;
	if (body_got) {
		size_t got = (size_t)n - sizeof(rh);

		if (got > body_len)
			return -EPROTO;
		memcpy(body, reply + sizeof(rh), got);
		*body_got = got;
	}
	return rh.ret;
}

static int64_t rpc(struct sim_fabric_client *sim, void *req, size_t req_len, int pass_fd,
                   void *body, size_t body_len, size_t *body_got)
{
	return rpc_fd(sim, req, req_len, pass_fd, body, body_len, body_got, NULL);
}

static int sim_open(const char *address, struct argo_fabric **fabricp)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct argo_sim_welcome welcome;
	struct sim_fabric_client *sim;
	int fds[MAX_RECV_FDS] = {-1, -1, -1}, nfds = 0, ret;
	void *shared;
	ssize_t n;

	if (!*address || strlen(address) >= sizeof(addr.sun_path))
		return -EINVAL;
	memcpy(addr.sun_path, address, strlen(address) + 1);

	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	sim->staging_fd = -1;
	sim->shared_fd = -1;
	sim->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sim->sock < 0) {
		ret = -errno;
		goto fail;
	}
	if (connect(sim->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto fail;
	}
	n = recv_packet(sim->sock, &welcome, sizeof(welcome), fds, &nfds);
	if (n < 0) {
		ret = n == -ENOTCONN ? -ECONNREFUSED : (int)n;
		goto fail;
	}
	if ((size_t)n != sizeof(welcome) || welcome.magic != ARGO_SIM_MAGIC ||
	    welcome.version != ARGO_SIM_VERSION) {
		ret = -EPROTO;
		goto fail;
	}
	if (welcome.status < 0) {
		ret = welcome.status;
		goto fail;
	}
	if (nfds != 3 || welcome.staging_size != ARGO_SIM_STAGING_SIZE ||
	    welcome.shared_size != ARGO_SIM_SHARED_SIZE) {
		ret = -EPROTO;
		goto fail;
	}
	sim->base.event_fd = fds[0];
	sim->staging_fd = fds[1];
	sim->shared_fd = fds[2];
	nfds = 0;
	shared = mmap(NULL, ARGO_SIM_SHARED_SIZE, PROT_READ, MAP_SHARED, sim->shared_fd, 0);
	if (shared == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	sim->shared = shared;
	if (fcntl(sim->base.event_fd, F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		goto fail;
	}
	sim->staging_size = welcome.staging_size;
	sim->staging =
	    mmap(NULL, sim->staging_size, PROT_READ | PROT_WRITE, MAP_SHARED, sim->staging_fd, 0);
	if (sim->staging == MAP_FAILED) {
		sim->staging = NULL;
		ret = -errno;
		goto fail;
	}
	sim->base.domid = (argo_domid_t)welcome.domid;
	*fabricp = &sim->base;
	return 0;

fail:
	while (nfds > 0)
		close(fds[--nfds]);
	if (sim->shared)
		munmap((void *)sim->shared, ARGO_SIM_SHARED_SIZE);
	if (sim->staging_fd >= 0) {
		close(sim->staging_fd);
		close(sim->shared_fd);
		close(sim->base.event_fd);
	}
	if (sim->sock >= 0)
		close(sim->sock);
	free(sim);
	return ret;
}

static void sim_destroy(struct argo_fabric *fabric)
{
	struct sim_fabric_client *sim = to_sim(fabric);

	/* Closing the socket is the domain's death: the daemon tears down. */
	close(sim->sock);
	munmap(sim->staging, sim->staging_size);
	close(sim->staging_fd);
	munmap((void *)sim->shared, ARGO_SIM_SHARED_SIZE);
	close(sim->shared_fd);
	close(sim->base.event_fd);
	free(sim);
}

/*
 * argo_event_clear(): the daemon writes 1 per raise and counts the raise in
 * events_raised before the write is issued, and a read returns (and
 * consumes) the sum of the writes that landed. So while the reads' counts
 * add up to events_raised, every write was consumed and the eventfd is not
 * readable: no read needed. A raise whose write has not landed yet keeps
 * the sums apart, and we read until it has.
 */
static int sim_event_clear(struct argo_fabric *fabric)
{
	struct sim_fabric_client *sim = to_sim(fabric);
	uint64_t raised = __atomic_load_n(&sim->shared->events_raised, __ATOMIC_SEQ_CST);
	uint64_t count;
	ssize_t n;

	if (raised == __atomic_load_n(&sim->events_consumed, __ATOMIC_RELAXED))
		return 0;
	n = read(fabric->event_fd, &count, sizeof(count));
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	__atomic_add_fetch(&sim->events_consumed, count, __ATOMIC_RELAXED);
	return 1;
}

/*
 * argo_fabric_check(): outside a request (we hold the lock) the daemon
 * sends us nothing, so our socket is readable or hung up only when the
 * daemon closed it or died. One poll, no round trip.
 */
static int sim_check(struct argo_fabric *fabric)
{
	struct pollfd pfd = {.fd = to_sim(fabric)->sock, .events = POLLIN | POLLRDHUP};
	int n;

	do
		n = poll(&pfd, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR))
		return -ENOTCONN;
	return pfd.revents & POLLIN ? -EPROTO : 0;
}

static int register_common(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                           uint32_t flags, uint32_t lib_flags, struct argo_ring_handle *h)
{
	struct argo_sim_req_register req = {
	    .hdr.op = ARGO_SIM_OP_REGISTER,
	    .reg = *reg,
	    .flags = flags,
	    .lib_flags = lib_flags,
	};
	uint64_t npages =
	    ((uint64_t)reg->len + sizeof(struct xen_argo_ring) + XEN_ARGO_PAGE_SIZE - 1) /
	    XEN_ARGO_PAGE_SIZE;
	/* Pass the page count Xen expects for this len; allocate no more than a
	 * maximal ring needs (a larger len is refused before pages matter). */
	uint64_t alloc_pages = npages < (XEN_ARGO_MAX_RING_SIZE >> 12) + 1
	                           ? npages
	                           : (XEN_ARGO_MAX_RING_SIZE >> 12) + 1;
	size_t size = (size_t)alloc_pages * XEN_ARGO_PAGE_SIZE;
	void *mem;
	int fd, ret;

	req.npages = npages > UINT32_MAX ? UINT32_MAX : (uint32_t)npages;
	fd = memfd_create("argo-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = (int)rpc(to_sim(fabric), &req, sizeof(req), fd, NULL, 0, NULL);
	if (ret < 0) {
		close(fd);
		munmap(mem, size);
		return ret;
	}
	/* Kept: the same memory can be registered again (sim_reregister_ring). */
	h->fd = fd;
	h->persistent = lib_flags & ARGO_SIM_REG_PERSIST;
	h->pub.shared = mem;
	h->pub.len = reg->len;
	h->pub.aport = reg->aport;
	h->pub.partner_id = reg->partner_id;
	h->map_size = size;
	return 0;
}

static int sim_register_ring(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                             uint32_t flags, struct argo_ring_handle *h)
{
	return register_common(fabric, reg, flags, 0, h);
}

static int sim_register_ring_persistent(struct argo_fabric *fabric,
                                        const xen_argo_register_ring_t *reg, uint32_t flags,
                                        struct argo_ring_handle *h)
{
	return register_common(fabric, reg, flags, ARGO_SIM_REG_PERSIST, h);
}

/* The daemon hands back the memfd of a ring an earlier process of this
 * domain registered: map it as register does. */
static int sim_adopt_ring(struct argo_fabric *fabric, struct argo_ring_handle *h)
{
	struct argo_sim_req_hdr req = {.op = ARGO_SIM_OP_ADOPT};
	struct argo_sim_adopt_reply body;
	size_t got = 0, size;
	struct stat st;
	int64_t ret;
	void *mem;
	int fd = -1;

	ret = rpc_fd(to_sim(fabric), &req, sizeof(req), -1, &body, sizeof(body), &got, &fd);
	/* Success comes with the fd and a sane body, an error with neither. */
	if (ret < 0 && fd < 0 && got == 0)
		return (int)ret;
	if (ret != 0 || fd < 0 || got != sizeof(body) || !argo_ring_len_valid(body.len) ||
	    body.npages != argo_ring_npages(body.len) || body.partner_id > XEN_ARGO_DOMID_ANY) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	size = (size_t)body.npages * XEN_ARGO_PAGE_SIZE;
	/* Never map past the file's end: touching such a page would be SIGBUS. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size) {
		close(fd);
		return -EPROTO;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = mem == MAP_FAILED ? -errno : 0;
	if (ret < 0) {
		close(fd);
		return (int)ret;
	}
	h->fd = fd;
	h->persistent = true;
	h->pub.shared = mem;
	h->pub.len = body.len;
	h->pub.aport = body.aport;
	h->pub.partner_id = (argo_domid_t)body.partner_id;
	h->map_size = size;
	return 0;
}

static int sim_unregister_ring(struct argo_fabric *fabric, const xen_argo_unregister_ring_t *unreg)
{
	struct argo_sim_req_unregister req = {.hdr.op = ARGO_SIM_OP_UNREGISTER, .unreg = *unreg};

	return (int)rpc(to_sim(fabric), &req, sizeof(req), -1, NULL, 0, NULL);
}

static void sim_release_ring(struct argo_ring_handle *h)
{
	munmap(h->pub.shared, h->map_size);
	h->pub.shared = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/* The same memfd again, with FAIL_EXIST: the daemon maps it anew, and
 * takes tx_ptr from the page, so the ring goes on where it was. */
static int sim_reregister_ring(struct argo_fabric *fabric, struct argo_ring_handle *h)
{
	struct argo_sim_req_register req = {
	    .hdr.op = ARGO_SIM_OP_REGISTER,
	    .reg = {.aport = h->pub.aport, .partner_id = h->pub.partner_id, .len = h->pub.len},
	    .npages = argo_ring_npages(h->pub.len),
	    .flags = XEN_ARGO_REGISTER_FLAG_FAIL_EXIST,
	    .lib_flags = h->persistent ? ARGO_SIM_REG_PERSIST : 0,
	};

	if (h->fd < 0)
		return -EOPNOTSUPP;
	return (int)rpc(to_sim(fabric), &req, sizeof(req), h->fd, NULL, 0, NULL);
}

static ssize_t sim_sendv_tagged(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                                const struct iovec *iov, unsigned int niov, uint32_t message_type,
                                uint64_t tag)
{
	struct sim_fabric_client *sim = to_sim(fabric);
	struct {
		struct argo_sim_req_sendv req;
		struct xen_argo_iov iovs[XEN_ARGO_MAXIOV];
	} msg;
	size_t used = 0, len = sizeof(msg.req);
	unsigned int i;

	memset(&msg, 0, sizeof(msg));
	msg.req.hdr.op = ARGO_SIM_OP_SENDV;
	msg.req.addr = *addr;
	msg.req.niov = niov;
	msg.req.message_type = message_type;
	msg.req.tag = tag;

	/* Too many iovs: the fabric refuses before reading any of them. */
	if (niov <= XEN_ARGO_MAXIOV) {
		for (i = 0; i < niov; i++) {
			size_t n = iov[i].iov_len;

			/* Lengths Xen cannot hold, or data past the staging area, get
			 * handles the fabric refuses in Xen's own order. */
			msg.iovs[i].iov_len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			if (n <= sim->staging_size - used) {
				if (n)
					memcpy(sim->staging + used, iov[i].iov_base, n);
				msg.iovs[i].iov_hnd = used;
				used += n;
			} else {
				msg.iovs[i].iov_hnd = UINT64_MAX;
			}
		}
		len += niov * sizeof(msg.iovs[0]);
	}
	return (ssize_t)rpc(sim, &msg, len, -1, NULL, 0, NULL);
}

static ssize_t sim_sendv(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                         const struct iovec *iov, unsigned int niov, uint32_t message_type)
{
	return sim_sendv_tagged(fabric, addr, iov, niov, message_type, 0);
}

static int sim_last_send_tag(struct argo_fabric *fabric, uint64_t *tag)
{
	struct argo_sim_req_hdr req = {.op = ARGO_SIM_OP_LAST_TAG};
	struct argo_sim_last_tag_reply body;
	size_t got = 0;
	int64_t ret = rpc(to_sim(fabric), &req, sizeof(req), -1, &body, sizeof(body), &got);

	if (ret != 0)
		return ret < 0 ? (int)ret : -EPROTO;
	if (got != sizeof(body))
		return -EPROTO;
	*tag = body.tag;
	return 0;
}

static int sim_keep_domain(struct argo_fabric *fabric, int keep)
{
	struct argo_sim_req_keep req = {.hdr.op = ARGO_SIM_OP_KEEP, .keep = keep != 0};

	return (int)rpc(to_sim(fabric), &req, sizeof(req), -1, NULL, 0, NULL);
}

static int sim_notify(struct argo_fabric *fabric, xen_argo_ring_data_t *ring_data)
{
	struct sim_fabric_client *sim = to_sim(fabric);
	struct {
		struct argo_sim_req_notify req;
		struct xen_argo_ring_data rd;
		struct xen_argo_ring_data_ent ents[XEN_ARGO_MAX_NOTIFY_COUNT];
	} msg;
	uint8_t body[sizeof(struct xen_argo_ring_data) +
	             XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent)];
	struct xen_argo_ring_data_ent *back = (void *)(body + sizeof(struct xen_argo_ring_data));
	size_t len = sizeof(msg.req), got = 0;
	uint32_t i, nent;
	int64_t ret;

	memset(&msg.req, 0, sizeof(msg.req));
	msg.req.hdr.op = ARGO_SIM_OP_NOTIFY;
	if (!ring_data) {
		/* Nobody to wake: the daemon would do nothing. The fence orders
		 * our rx_ptr stores (argo_recv) before the load, and pairs with
		 * the daemon's between publishing a waiter and rechecking the
		 * space (sim_fabric.c, recheck_after_queueing). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&sim->shared->ring_waiters, __ATOMIC_RELAXED))
			return 0;
		return (int)rpc(sim, &msg, len, -1, NULL, 0, NULL);
	}

	msg.req.has_ring_data = 1;
	msg.rd = *ring_data;
	nent = ring_data->nent;
	len += sizeof(msg.rd);
	/* More than Xen takes: send the count alone, the fabric says -EACCES. */
	if (nent <= XEN_ARGO_MAX_NOTIFY_COUNT) {
		memcpy(msg.ents, ring_data->data, nent * sizeof(msg.ents[0]));
		len += nent * sizeof(msg.ents[0]);
	}
	ret = rpc(sim, &msg, len, -1, body, sizeof(body), &got);
	if (ret != 0)
		return (int)ret;
	if (got != sizeof(struct xen_argo_ring_data) + nent * sizeof(back[0]))
		return -EPROTO;
	/* As Xen: only flags and max_message_size are written back. */
	for (i = 0; i < nent; i++) {
		ring_data->data[i].flags = back[i].flags;
		ring_data->data[i].max_message_size = back[i].max_message_size;
	}
	return 0;
}

const struct argo_backend_ops argo_backend_sim = {
    .scheme = "sim",
    .open = sim_open,
    .register_ring = sim_register_ring,
    .unregister_ring = sim_unregister_ring,
    .release_ring = sim_release_ring,
    .sendv = sim_sendv,
    .notify = sim_notify,
    .destroy = sim_destroy,
    .register_ring_persistent = sim_register_ring_persistent,
    .adopt_ring = sim_adopt_ring,
    .sendv_tagged = sim_sendv_tagged,
    .last_send_tag = sim_last_send_tag,
    .reregister_ring = sim_reregister_ring,
    .event_clear = sim_event_clear,
    .check = sim_check,
    .keep_domain = sim_keep_domain,
};
