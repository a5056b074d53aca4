/* SPDX-License-Identifier: MIT */
/*
 * argo-simd: the sim fabric daemon. It plays Xen's part for the processes of
 * one OS instance: each connection on its sockets is one domain; requests
 * are the argo_op commands (common/libargo/sim_proto.h), carried out by the fabric
 * model (sim_fabric.c); VIRQ_ARGO is an eventfd per domain.
 *
 * One thread, one epoll loop: every request runs to completion before the
 * next, which gives the fabric its atomicity without locks. A client that
 * floods requests without reading replies is not read from until its reply
 * is taken (one reply in flight per client), so no client can make the
 * daemon's memory grow.
 *
 * A static domain with persistent rings (libargo's extension for relays)
 * is detached, not destroyed, when its connection closes, and the next
 * connection on its socket is attached to it (docs/sim-fabric.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim_fabric.h"
#include "sim_proto.h"
#include "simd_config.h"

#define MAX_FDS_PER_REQUEST 4
#define REQUESTS_PER_WAKE   64

struct listener {
	int fd;
	const char *path;
	bool is_static; /* gives one fixed domid */
	argo_domid_t domid;
	struct client *holder; /* the connected domain, for a static listener */
	/* The static domain when no process holds it but its persistent rings
	 * keep it (never set together with holder). */
	struct sim_domain *detached;
};

struct client {
	struct client *prev, *next; /* simd.clients */
	int fd;
	int event_fd;
	int staging_fd;
	uint8_t *staging;
	struct sim_domain *domain;
	struct listener *listener;
	bool reply_pending; /* waiting for the socket to take 'reply' */
	size_t reply_len;
	int reply_fd; /* -1, or an fd of ours that goes with 'reply' (then closed) */
	_Alignas(
	    16) uint8_t reply[sizeof(struct argo_sim_reply) + sizeof(struct xen_argo_ring_data) +
	                      XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent)];
};

static struct {
	struct simd_config config;
	struct sim_fabric *fabric;
	int epoll_fd;
	int signal_fd;
	struct listener listeners[SIMD_MAX_STATIC_DOMAINS + 1];
	unsigned int nlisteners;
	argo_domid_t next_domid;
	unsigned long refused_requests;
	struct client *clients; /* every connected domain, to free at exit */
	/* Out of fds: listeners are not watched until a client goes. */
	bool accept_paused;
	/* Requests arrive here; one buffer, as one request runs at a time. */
	_Alignas(16) uint8_t request[ARGO_SIM_MAX_REQUEST];
} simd;

static void logmsg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > simd.config.verbose)
		return;
	va_start(ap, fmt);
	fputs("argo-simd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void signal_client(void *ctx)
{
	struct client *client = ctx;
	uint64_t one = 1;

	/* EAGAIN only if the counter is saturated: the event is pending anyway. */
	if (write(client->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		logmsg(0, "cannot raise the event of domain %u: %s", sim_domain_id(client->domain),
		       strerror(errno));
}

static int epoll_set(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};

	return epoll_ctl(simd.epoll_fd, op, fd, &ev);
}

/* ---- Connections -------------------------------------------------------- */

static bool domid_reserved_for_static(argo_domid_t domid)
{
	unsigned int i;

	for (i = 0; i < simd.config.nstatics; i++)
		if (simd.config.statics[i].domid == domid)
			return true;
	return false;
}

/* Next free dynamic domid, never one that a static socket stands for. */
static int allocate_domid(void)
{
	unsigned int span = XEN_DOMID_FIRST_RESERVED - simd.config.first_domid, i;

	for (i = 0; i < span; i++) {
		argo_domid_t d = simd.next_domid;

		simd.next_domid = d + 1 >= XEN_DOMID_FIRST_RESERVED ? simd.config.first_domid
		                                                    : (argo_domid_t)(d + 1);
		if (!sim_domain_exists(simd.fabric, d) && !domid_reserved_for_static(d))
			return d;
	}
	return -ENOSPC;
}

static int send_welcome(int fd, int status, argo_domid_t domid, const int *fds, int nfds)
{
	struct argo_sim_welcome welcome = {
	    .magic = ARGO_SIM_MAGIC,
	    .version = ARGO_SIM_VERSION,
	    .status = status,
	    .domid = domid,
	    .staging_size = ARGO_SIM_STAGING_SIZE,
	};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = &welcome, .iov_len = sizeof(welcome)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* The domain's "guest memory" for sendv: sealed so it cannot shrink under us. */
static int make_staging(struct client *client)
{
	client->staging_fd = memfd_create("argo-sim-staging", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (client->staging_fd < 0)
		return -errno;
	if (ftruncate(client->staging_fd, ARGO_SIM_STAGING_SIZE) < 0 ||
	    fcntl(client->staging_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	client->staging =
	    mmap(NULL, ARGO_SIM_STAGING_SIZE, PROT_READ, MAP_SHARED, client->staging_fd, 0);
	if (client->staging == MAP_FAILED) {
		client->staging = NULL;
		return -errno;
	}
	return 0;
}

/* Stops (or resumes) watching the listening sockets. When accept fails
 * for want of fds, the pending connection keeps the listener readable:
 * watching it would spin, so wait for a client to go instead. */
static void pause_accepting(bool pause)
{
	unsigned int i;

	simd.accept_paused = pause;
	for (i = 0; i < simd.nlisteners; i++)
		epoll_set(EPOLL_CTL_MOD, simd.listeners[i].fd, pause ? 0 : EPOLLIN,
		          &simd.listeners[i]);
	logmsg(0, pause ? "out of file descriptors: not accepting until a domain goes"
	                : "accepting connections again");
}

static void free_client(struct client *client)
{
	struct listener *listener = client->listener;

	if (client->domain) {
		/* A domain that has persistent rings outlives its process; only a
		 * static domain can have them, so it has a listener to wait on. */
		if (listener && sim_domain_detach(simd.fabric, client->domain) == 0) {
			logmsg(1, "domain %u detached", sim_domain_id(client->domain));
			listener->detached = client->domain;
		} else {
			logmsg(1, "domain %u gone", sim_domain_id(client->domain));
			sim_domain_destroy(simd.fabric, client->domain);
		}
	}
	if (listener && listener->holder == client)
		listener->holder = NULL;
	if (client->reply_fd >= 0)
		close(client->reply_fd);
	if (client->staging)
		munmap(client->staging, ARGO_SIM_STAGING_SIZE);
	if (client->staging_fd >= 0)
		close(client->staging_fd);
	if (client->event_fd >= 0)
		close(client->event_fd);
	if (client->fd >= 0)
		close(client->fd);
	if (client->prev)
		client->prev->next = client->next;
	else if (simd.clients == client)
		simd.clients = client->next;
	if (client->next)
		client->next->prev = client->prev;
	free(client);
	if (simd.accept_paused)
		pause_accepting(false);
}

/* Has the other end of this connection hung up (nothing left to read)? */
static bool peer_gone(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};
	char byte;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLHUP | POLLERR))
		return true;
	/* Readable: gone only if what is there is the end of the stream. */
	return (pfd.revents & POLLRDHUP) && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void accept_client(struct listener *listener)
{
	struct client *client;
	int fd, domid, ret, fds[2];
	bool attach = false;

	fd = accept4(listener->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			pause_accepting(true);
		else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			logmsg(0, "accept on %s: %s", listener->path, strerror(errno));
		return;
	}

	/* A static domain's previous process may have gone without the loop
	 * having seen it yet: its hang-up is pending. Finish it off first, so
	 * that a quick restart is not refused. */
	if (listener->is_static && listener->holder && peer_gone(listener->holder->fd))
		free_client(listener->holder);
	if (listener->is_static)
		domid = listener->holder ? -EBUSY : listener->domid;
	else
		domid = allocate_domid();
	if (domid < 0) {
		logmsg(0, "refusing a connection on %s: %s", listener->path,
		       domid == -EBUSY ? "its domain is already connected" : "no domid free");
		send_welcome(fd, domid, 0, NULL, 0);
		close(fd);
		return;
	}

	client = calloc(1, sizeof(*client));
	if (!client) {
		send_welcome(fd, -ENOMEM, 0, NULL, 0);
		close(fd);
		return;
	}
	client->fd = fd;
	client->staging_fd = -1;
	client->reply_fd = -1;
	client->listener = listener->is_static ? listener : NULL;
	client->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = client->event_fd < 0 ? -errno : make_staging(client);
	if (!ret && listener->detached) {
		/* The domain's previous process has gone; this one takes over. */
		attach = true;
		client->domain = listener->detached;
		listener->detached = NULL;
		sim_domain_attach(simd.fabric, client->domain, client);
	} else if (!ret) {
		ret = sim_domain_create(simd.fabric, (argo_domid_t)domid, client, &client->domain);
		if (!ret && listener->is_static)
			sim_domain_allow_persist(client->domain, 1);
	}
	if (!ret) {
		fds[0] = client->event_fd;
		fds[1] = client->staging_fd;
		ret = send_welcome(fd, 0, (argo_domid_t)domid, fds, 2);
	}
	if (!ret && epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN, client) < 0)
		ret = -errno;
	if (ret) {
		logmsg(0, "cannot set up domain %d: %s", domid, strerror(-ret));
		if (ret != -EPIPE && ret != -ECONNRESET)
			send_welcome(fd, ret, 0, NULL, 0);
		free_client(client);
		return;
	}
	client->next = simd.clients;
	if (client->next)
		client->next->prev = client;
	simd.clients = client;
	if (listener->is_static)
		listener->holder = client;
	logmsg(1, "domain %d %s on %s", domid, attach ? "attached" : "connected", listener->path);
}

/* ---- Requests ----------------------------------------------------------- */

static void close_fds(const int *fds, int nfds)
{
	int i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Runs one request; fills the reply; returns the reply's length. */
static size_t handle_request(struct client *client, size_t len, bool truncated, const int *fds,
                             int nfds)
{
	const struct argo_sim_req_hdr *hdr = (const void *)simd.request;
	struct argo_sim_reply *reply = (void *)client->reply;
	size_t reply_len = sizeof(*reply);
	int64_t ret;

	reply->cookie = len >= sizeof(*hdr) ? hdr->cookie : 0;
	if (len < sizeof(*hdr)) {
		ret = -EINVAL;
		goto out;
	}
	/* Only register carries an fd, and exactly one. */
	if (nfds != (hdr->op == ARGO_SIM_OP_REGISTER ? 1 : 0)) {
		ret = -EINVAL;
		goto out;
	}

	switch (hdr->op) {
	case ARGO_SIM_OP_REGISTER: {
		const struct argo_sim_req_register *req = (const void *)simd.request;

		if (len != sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		ret = sim_register_ring_ext(simd.fabric, client->domain, &req->reg, req->npages,
		                            req->flags, req->lib_flags, fds[0]);
		break;
	}
	case ARGO_SIM_OP_UNREGISTER: {
		const struct argo_sim_req_unregister *req = (const void *)simd.request;

		if (len != sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		ret = sim_unregister_ring(simd.fabric, client->domain, &req->unreg);
		break;
	}
	case ARGO_SIM_OP_SENDV: {
		const struct argo_sim_req_sendv *req = (const void *)simd.request;
		struct xen_argo_iov iovs[XEN_ARGO_MAXIOV];
		uint32_t niov;

		if (len < sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		/* Dispatch order: niov is checked before the iovs are read. */
		niov = req->niov;
		if (niov > XEN_ARGO_MAXIOV) {
			ret = sim_sendv(simd.fabric, client->domain, &req->addr, NULL, niov,
			                req->message_type, NULL, 0);
			break;
		}
		if (len != sizeof(*req) + niov * sizeof(iovs[0])) {
			ret = -EFAULT; /* the iov array is not where it should be */
			break;
		}
		memcpy(iovs, simd.request + sizeof(*req), niov * sizeof(iovs[0]));
		ret = sim_sendv_tagged(simd.fabric, client->domain, &req->addr, iovs, niov,
		                       req->message_type, client->staging, ARGO_SIM_STAGING_SIZE,
		                       req->tag);
		break;
	}
	case ARGO_SIM_OP_NOTIFY: {
		const struct argo_sim_req_notify *req = (const void *)simd.request;
		struct xen_argo_ring_data *rd;
		size_t rd_bytes;

		if (len < sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		if (!req->has_ring_data) {
			ret = sim_notify(simd.fabric, client->domain, NULL, 0);
			break;
		}
		rd = (void *)(simd.request + sizeof(*req));
		rd_bytes = len - sizeof(*req);
		ret = sim_notify(simd.fabric, client->domain, rd, rd_bytes);
		if (ret == 0) {
			size_t ents = (size_t)rd->nent * sizeof(rd->data[0]);

			memcpy(client->reply + sizeof(*reply), rd, sizeof(*rd) + ents);
			reply_len += sizeof(*rd) + ents;
		}
		break;
	}
	case ARGO_SIM_OP_ADOPT: {
		struct argo_sim_adopt_reply body;
		struct sim_adopted adopted;

		if (len != sizeof(*hdr) || truncated) {
			ret = -EINVAL;
			break;
		}
		ret = sim_adopt_ring(simd.fabric, client->domain, &adopted);
		if (ret == 0) {
			body.aport = adopted.aport;
			body.partner_id = adopted.partner;
			body.len = adopted.len;
			body.npages = adopted.npages;
			memcpy(client->reply + sizeof(*reply), &body, sizeof(body));
			reply_len += sizeof(body);
			client->reply_fd = adopted.fd; /* sent with the reply, then closed */
		}
		break;
	}
	case ARGO_SIM_OP_KEEP: {
		const struct argo_sim_req_keep *req = (const void *)simd.request;

		if (len != sizeof(*req) || truncated || req->keep > 1 || req->pad) {
			ret = -EINVAL;
			break;
		}
		ret = sim_domain_keep(client->domain, (int)req->keep);
		break;
	}
	case ARGO_SIM_OP_LAST_TAG: {
		struct argo_sim_last_tag_reply body;

		if (len != sizeof(*hdr) || truncated) {
			ret = -EINVAL;
			break;
		}
		body.tag = sim_domain_last_tag(client->domain);
		memcpy(client->reply + sizeof(*reply), &body, sizeof(body));
		reply_len += sizeof(body);
		ret = 0;
		break;
	}
	default:
		ret = -EOPNOTSUPP;
		break;
	}
out:
	close_fds(fds, nfds);
	if (ret < 0 && ret != -EAGAIN) {
		simd.refused_requests++;
		logmsg(2, "domain %u: op %u: %s", sim_domain_id(client->domain),
		       len >= sizeof(*hdr) ? hdr->op : 0, strerror((int)-ret));
	}
	reply->ret = (int32_t)ret;
	return reply_len;
}

/* Sends the reply, with reply_fd if there is one (then closed: it was our
 * own dup); -EAGAIN when the socket is full (try again on EPOLLOUT, the fd
 * kept until then). */
static int flush_reply(struct client *client)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = client->reply, .iov_len = client->reply_len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (client->reply_fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &client->reply_fd, sizeof(int));
	}
	n = sendmsg(client->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0) {
		client->reply_pending = false;
		if (client->reply_fd >= 0) {
			close(client->reply_fd);
			client->reply_fd = -1;
		}
		return 0;
	}
	return errno == EAGAIN ? -EAGAIN : -errno;
}

/* Reads one request. >0: handled; 0: nothing to read; <0: drop the client. */
static int read_one_request(struct client *client)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS_PER_REQUEST * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = simd.request, .iov_len = sizeof(simd.request)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	int fds[MAX_FDS_PER_REQUEST], nfds = 0, ret;
	struct cmsghdr *cmsg;
	ssize_t n;

	n = recvmsg(client->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET; /* the domain has gone */

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			int count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i;

			for (i = 0; i < count; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cmsg) + (size_t)i * sizeof(int), sizeof(fd));
				if (nfds < MAX_FDS_PER_REQUEST)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* More fds than any request carries: refuse the request. */
		close_fds(fds, nfds);
		nfds = 0;
		client->reply_len = handle_request(client,
		                                   (size_t)n < sizeof(struct argo_sim_req_hdr)
		                                       ? (size_t)n
		                                       : sizeof(struct argo_sim_req_hdr),
		                                   true, NULL, 0);
	} else {
		client->reply_len =
		    handle_request(client, (size_t)n, (msg.msg_flags & MSG_TRUNC) != 0, fds, nfds);
	}
	client->reply_pending = true;
	ret = flush_reply(client);
	if (ret == -EAGAIN)
		return epoll_set(EPOLL_CTL_MOD, client->fd, EPOLLOUT, client) < 0 ? -errno : 1;
	return ret < 0 ? ret : 1;
}

static void service_client(struct client *client, uint32_t events)
{
	int i, ret = 0;

	if (client->reply_pending) {
		ret = flush_reply(client);
		if (ret == -EAGAIN)
			return;
		if (ret == 0 && epoll_set(EPOLL_CTL_MOD, client->fd, EPOLLIN, client) < 0)
			ret = -errno;
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (i = 0; i < REQUESTS_PER_WAKE; i++) {
			ret = read_one_request(client);
			if (ret <= 0 || client->reply_pending)
				break;
		}
	}
	if (ret < 0)
		free_client(client);
}

/* ---- Start-up ----------------------------------------------------------- */

static int listen_on(struct listener *listener, const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* A socket file left by a daemon that died is replaced; a live one is not. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	listener->fd = fd;
	listener->path = path;
	return epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN, listener) < 0 ? -errno : 0;
}

static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return -ENOENT;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return -errno;
	return 0;
}

/* --daemon: the parent waits on a pipe until the child serves, so that
 * whoever started us can use the sockets as soon as we return. */
static int daemonize(int *ready_fd)
{
	int pipefd[2];
	pid_t pid;
	char status;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &status, 1) != 1)
			_exit(1);
		_exit(status == 'R' ? 0 : 1);
	}
	close(pipefd[0]);
	if (setsid() < 0)
		return -errno;
	/* Let go of the caller's stdin and stdout (a shell's $(...) waits for
	 * them); stderr stays, it is our log. */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0)
		return -errno;
	close(devnull);
	*ready_fd = pipefd[1];
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -errno : 0;
}

static void remove_sockets(void)
{
	unsigned int i;

	for (i = 0; i < simd.nlisteners; i++)
		unlink(simd.listeners[i].path);
}

static int setup(void)
{
	struct sim_fabric_config fabric_config = {
	    .mac_permissive = simd.config.mac_permissive,
	    .policy = &simd.config.policy,
	    .signal = signal_client,
	};
	sigset_t mask;
	unsigned int i;
	int ret;

	simd.fabric = sim_fabric_new(&fabric_config);
	simd.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!simd.fabric || simd.epoll_fd < 0)
		return -ENOMEM;
	simd.next_domid = simd.config.first_domid;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	simd.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (simd.signal_fd < 0 || epoll_set(EPOLL_CTL_ADD, simd.signal_fd, EPOLLIN, NULL) < 0)
		return -errno;

	if (simd.config.socket[0]) {
		ret = listen_on(&simd.listeners[simd.nlisteners], simd.config.socket);
		if (ret < 0) {
			fprintf(stderr, "argo-simd: %s: %s\n", simd.config.socket, strerror(-ret));
			return ret;
		}
		simd.nlisteners++;
	}
	for (i = 0; i < simd.config.nstatics; i++) {
		struct listener *l = &simd.listeners[simd.nlisteners];

		ret = listen_on(l, simd.config.statics[i].socket);
		if (ret < 0) {
			fprintf(stderr, "argo-simd: %s: %s\n", simd.config.statics[i].socket,
			        strerror(-ret));
			return ret;
		}
		l->is_static = true;
		l->domid = simd.config.statics[i].domid;
		simd.nlisteners++;
	}
	return 0;
}

static void print_stats(void)
{
	struct sim_fabric_stats st;

	sim_fabric_get_stats(simd.fabric, &st);
	fprintf(stderr,
	        "argo-simd: domains %llu rings %llu sends %llu (failed %llu) bytes %llu "
	        "notifies %llu signals %llu refused %lu detached %llu\n",
	        (unsigned long long)st.domains, (unsigned long long)st.rings,
	        (unsigned long long)st.sends_ok, (unsigned long long)st.sends_failed,
	        (unsigned long long)st.bytes_sent, (unsigned long long)st.notifies,
	        (unsigned long long)st.signals, simd.refused_requests,
	        (unsigned long long)st.detached);
}

/* Returns when SIGTERM or SIGINT arrives. */
static void run(void)
{
	struct epoll_event events[64];
	int n, i;

	for (;;) {
		n = epoll_wait(simd.epoll_fd, events, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logmsg(0, "epoll_wait: %s", strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			void *ptr = events[i].data.ptr;

			if (!ptr) {
				struct signalfd_siginfo si;

				while (read(simd.signal_fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1)
						print_stats();
					else
						return;
				}
			} else if (ptr >= (void *)simd.listeners &&
			           ptr < (void *)(simd.listeners + simd.nlisteners)) {
				accept_client(ptr);
			} else {
				service_client(ptr, events[i].events);
			}
		}
	}
}

int main(int argc, char **argv)
{
	int ready_fd = -1, ret;

	ret = simd_config_parse(&simd.config, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (simd.config.daemonize && (ret = daemonize(&ready_fd)) < 0) {
		fprintf(stderr, "argo-simd: cannot detach: %s\n", strerror(-ret));
		return 1;
	}
	if (setup() < 0)
		return 1;
	if (simd.config.user[0] && (ret = drop_privileges(simd.config.user)) < 0) {
		fprintf(stderr, "argo-simd: cannot become %s: %s\n", simd.config.user,
		        strerror(-ret));
		return 1;
	}
	if (simd.config.pidfile[0] && (ret = write_pidfile(simd.config.pidfile)) < 0) {
		fprintf(stderr, "argo-simd: %s: %s\n", simd.config.pidfile, strerror(-ret));
		return 1;
	}
	logmsg(1, "serving %u socket(s)%s", simd.nlisteners,
	       simd.config.mac_permissive ? ", mac-permissive" : "");
	if (ready_fd >= 0) {
		if (write(ready_fd, "R", 1) != 1)
			return 1;
		close(ready_fd);
	}
	run();
	while (simd.clients)
		free_client(simd.clients);
	remove_sockets();
	sim_fabric_free(simd.fabric);
	return 0;
}
