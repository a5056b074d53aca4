/* SPDX-License-Identifier: MIT */
/*
 * argo-simd: the sim fabric daemon. It plays Xen's part for the processes of
 * one OS instance: each connection on its sockets is one domain; requests
 * are the argo_op commands (common/libargo/sim_proto.h), carried out by the fabric
 * model (sim_fabric.c); VIRQ_ARGO is an eventfd per domain.
 *
 * One thread, one event loop (an engine, simd.h: io_uring where the kernel
 * has it, epoll otherwise): every request runs to completion before the
 * next, which gives the fabric its atomicity without locks. A client that
 * floods requests without reading replies is not read from until its reply
 * is taken (one reply in flight per client), so no client can make the
 * daemon's memory grow. This file is the core: domains, requests, start-up.
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
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "simd.h"
#include "simd_proto.h"

static struct {
	struct simd_config config;
	struct sim_fabric *fabric;
	const struct simd_engine *engine;
	int signal_fd;
	bool stop; /* SIGTERM or SIGINT came */
	struct listener listeners[SIMD_MAX_STATIC_DOMAINS + 1];
	unsigned int nlisteners;
	argo_domid_t next_domid;
	unsigned long refused_requests;
	struct client *clients; /* every connected domain, to free at exit */
	/* Torn down, waiting for the engine to let go of them. */
	struct client *zombies;
	/* Out of fds: listeners are not watched until a client goes. */
	bool accept_paused;
} simd;

void simd_log(int level, const char *fmt, ...)
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

	/* Counted before the write is issued, so that the client can tell
	 * when every write was consumed (sim_proto.h). */
	__atomic_add_fetch(&client->shared->events_raised, 1, __ATOMIC_SEQ_CST);
	simd.engine->raise(client);
}

bool simd_stopping(void)
{
	return simd.stop;
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
	    .shared_size = ARGO_SIM_SHARED_SIZE,
	};
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
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

/* The page we tell the client things on without a round trip: mapped
 * read-write here, then sealed so that the client can map it only
 * read-only (F_SEAL_FUTURE_WRITE), and against shrinking. */
static int make_shared(struct client *client)
{
	void *mem;

	client->shared_fd = memfd_create("argo-sim-shared", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (client->shared_fd < 0)
		return -errno;
	if (ftruncate(client->shared_fd, ARGO_SIM_SHARED_SIZE) < 0)
		return -errno;
	mem = mmap(NULL, ARGO_SIM_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	           client->shared_fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	client->shared = mem;
	if (fcntl(client->shared_fd, F_ADD_SEALS,
	          F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return 0;
}

/* Stops (or resumes) watching the listening sockets. When accept fails
 * for want of fds, the pending connection keeps the listener readable:
 * watching it would spin, so wait for a client to go instead. */
static void pause_accepting(bool pause)
{
	simd.accept_paused = pause;
	simd.engine->pause_listeners(pause);
	simd_log(0, pause ? "out of file descriptors: not accepting until a domain goes"
	                  : "accepting connections again");
}

static void list_unlink(struct client **head, struct client *client)
{
	if (client->prev)
		client->prev->next = client->next;
	else if (*head == client)
		*head = client->next;
	if (client->next)
		client->next->prev = client->prev;
	client->prev = client->next = NULL;
}

static void list_push(struct client **head, struct client *client)
{
	client->prev = NULL;
	client->next = *head;
	if (client->next)
		client->next->prev = client;
	*head = client;
}

/*
 * The connection is over: the domain goes (or is detached), the fds close.
 * The struct itself is freed now if the engine holds nothing of it, or
 * waits among the zombies until the engine calls simd_client_release().
 */
static void drop_client(struct client *client, bool listed)
{
	struct listener *listener = client->listener;
	bool free_now;

	if (client->gone)
		return;
	client->gone = true;
	if (client->domain) {
		/* The page goes with this process; a domain that stays stops
		 * publishing into it. */
		sim_domain_publish_waiters(client->domain, NULL);
		/* A domain that has persistent rings outlives its process; only a
		 * static domain can have them, so it has a listener to wait on. */
		if (listener && sim_domain_detach(simd.fabric, client->domain) == 0) {
			simd_log(1, "domain %u detached", sim_domain_id(client->domain));
			listener->detached = client->domain;
		} else {
			simd_log(1, "domain %u gone", sim_domain_id(client->domain));
			sim_domain_destroy(simd.fabric, client->domain);
		}
		client->domain = NULL;
	}
	if (listener && listener->holder == client)
		listener->holder = NULL;
	/* Before any fd closes: the engine may still have uses of their
	 * numbers queued. */
	free_now = simd.engine->forget(client);
	if (client->reply_fd >= 0)
		close(client->reply_fd);
	client->reply_fd = -1;
	if (client->staging)
		munmap(client->staging, ARGO_SIM_STAGING_SIZE);
	if (client->staging_fd >= 0)
		close(client->staging_fd);
	if (client->shared)
		munmap(client->shared, ARGO_SIM_SHARED_SIZE);
	if (client->shared_fd >= 0)
		close(client->shared_fd);
	if (client->event_fd >= 0)
		close(client->event_fd);
	if (client->fd >= 0) {
		/* The client sees the end now: an io_uring operation still in
		 * flight (cancelled asynchronously, even after our exit) holds
		 * the socket open past close(). */
		shutdown(client->fd, SHUT_RDWR);
		close(client->fd);
	}
	client->staging = NULL;
	client->shared = NULL;
	client->staging_fd = client->shared_fd = client->event_fd = client->fd = -1;
	if (listed)
		list_unlink(&simd.clients, client);
	if (free_now)
		free(client);
	else
		list_push(&simd.zombies, client);
	if (simd.accept_paused)
		pause_accepting(false);
}

void simd_client_failed(struct client *client)
{
	drop_client(client, true);
}

void simd_client_release(struct client *client)
{
	list_unlink(&simd.zombies, client);
	free(client);
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

void simd_accept(struct listener *listener)
{
	struct client *client;
	int fd, domid, ret, fds[3];
	bool attach = false;

	fd = accept4(listener->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			pause_accepting(true);
		else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			simd_log(0, "accept on %s: %s", listener->path, strerror(errno));
		return;
	}

	/* A static domain's previous process may have gone without the loop
	 * having seen it yet: its hang-up is pending. Finish it off first, so
	 * that a quick restart is not refused. */
	if (listener->is_static && listener->holder && peer_gone(listener->holder->fd))
		drop_client(listener->holder, true);
	if (listener->is_static)
		domid = listener->holder ? -EBUSY : listener->domid;
	else
		domid = allocate_domid();
	if (domid < 0) {
		simd_log(0, "refusing a connection on %s: %s", listener->path,
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
	client->shared_fd = -1;
	client->event_fd = -1;
	client->reply_fd = -1;
	client->listener = listener->is_static ? listener : NULL;
	client->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = client->event_fd < 0 ? -errno : make_staging(client);
	if (!ret)
		ret = make_shared(client);
	if (!ret && listener->detached) {
		/* The domain's previous process has gone; this one takes over. */
		attach = true;
		client->domain = listener->detached;
		listener->detached = NULL;
		sim_domain_publish_waiters(client->domain, &client->shared->ring_waiters);
		sim_domain_attach(simd.fabric, client->domain, client);
	} else if (!ret) {
		ret = sim_domain_create(simd.fabric, (argo_domid_t)domid, client, &client->domain);
		if (!ret && listener->is_static)
			sim_domain_allow_persist(client->domain, 1);
		if (!ret)
			sim_domain_publish_waiters(client->domain, &client->shared->ring_waiters);
	}
	if (!ret) {
		fds[0] = client->event_fd;
		fds[1] = client->staging_fd;
		fds[2] = client->shared_fd;
		/* An attached domain's event is raised before it learns it is
		 * connected. */
		simd.engine->flush();
		ret = send_welcome(fd, 0, (argo_domid_t)domid, fds, 3);
	}
	if (ret) {
		simd_log(0, "cannot set up domain %d: %s", domid, strerror(-ret));
		if (ret != -EPIPE && ret != -ECONNRESET)
			send_welcome(fd, ret, 0, NULL, 0);
		drop_client(client, false);
		return;
	}
	list_push(&simd.clients, client);
	if (listener->is_static)
		listener->holder = client;
	ret = simd.engine->add_client(client);
	if (ret) {
		simd_log(0, "cannot watch domain %d: %s", domid, strerror(-ret));
		drop_client(client, true);
		return;
	}
	simd_log(1, "domain %d %s on %s", domid, attach ? "attached" : "connected", listener->path);
}

static void print_stats(void);

/* ---- Requests ----------------------------------------------------------- */

static void close_fds(const int *fds, int nfds)
{
	int i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Runs one request (simd_proto.c); fills the reply; returns its length. */
static size_t handle_request(struct client *client, size_t len, bool truncated, const int *fds,
                             int nfds)
{
	const struct argo_sim_req_hdr *hdr = (const void *)client->request;
	size_t reply_len;
	int64_t ret =
	    simd_handle_request(simd.fabric, client->domain, client->staging, client->request, len,
	                        truncated, fds, nfds, client->reply, &reply_len, &client->reply_fd);

	if (ret < 0 && ret != -EAGAIN) {
		simd.refused_requests++;
		simd_log(2, "domain %u: op %u: %s", sim_domain_id(client->domain),
		         len >= sizeof(*hdr) ? hdr->op : 0, strerror((int)-ret));
	}
	return reply_len;
}

/* The fds that came with a request (any beyond SIMD_MAX_FDS_PER_REQUEST
 * were closed by the kernel's MSG_CTRUNC or here). */
static int take_fds(const struct msghdr *msg, int *fds)
{
	struct cmsghdr *cmsg;
	int nfds = 0;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR((struct msghdr *)msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			int count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i;

			for (i = 0; i < count; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cmsg) + (size_t)i * sizeof(int), sizeof(fd));
				if (nfds < SIMD_MAX_FDS_PER_REQUEST)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
	}
	return nfds;
}

void simd_request(struct client *client, size_t n, const struct msghdr *msg)
{
	int fds[SIMD_MAX_FDS_PER_REQUEST], nfds = take_fds(msg, fds);
	/* Longer than any request may be: refused by every known op. */
	bool truncated = n > ARGO_SIM_MAX_REQUEST;

	if (msg->msg_flags & MSG_CTRUNC) {
		/* More fds than any request carries: refuse the request. */
		close_fds(fds, nfds);
		client->reply_len = handle_request(
		    client,
		    n < sizeof(struct argo_sim_req_hdr) ? n : sizeof(struct argo_sim_req_hdr), true,
		    NULL, 0);
	} else {
		client->reply_len = handle_request(client, n, truncated, fds, nfds);
	}
	client->reply_pending = true;
	simd.engine->send_reply(client);
}

bool simd_signals(void)
{
	struct signalfd_siginfo si;

	while (read(simd.signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			print_stats();
		else
			simd.stop = true;
	}
	return !simd.stop;
}

/* ---- Start-up ----------------------------------------------------------- */

/* Binds and listens with an explicit file mode and group, whatever the
 * umask: the file is made with no permission at all (umask 0777 around
 * bind), given its group and mode, and only then listened on. */
static int listen_on(struct listener *listener, const char *path, unsigned int mode)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t old_mask;
	int fd, ret;

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
	old_mask = umask(0777);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret < 0 ||
	    (simd.config.group >= 0 && chown(path, (uid_t)-1, (gid_t)simd.config.group) < 0) ||
	    chmod(path, (mode_t)mode) < 0 || listen(fd, 64) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	listener->fd = fd;
	listener->path = path;
	return simd.engine->add_listener(listener);
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

/* io_uring unless the configuration says otherwise or the kernel (or a
 * seccomp filter) refuses it; then epoll, which every kernel has. */
static int pick_engine(void)
{
	int ret;

	if (simd.config.engine != SIMD_ENGINE_EPOLL) {
		ret = simd_engine_uring.init();
		if (ret == 0) {
			simd.engine = &simd_engine_uring;
			return 0;
		}
		if (simd.config.engine == SIMD_ENGINE_URING) {
			fprintf(stderr, "argo-simd: io_uring: %s\n", strerror(-ret));
			return ret;
		}
		simd_log(1, "io_uring not available (%s): epoll", strerror(-ret));
	}
	ret = simd_engine_epoll.init();
	if (ret < 0) {
		fprintf(stderr, "argo-simd: epoll: %s\n", strerror(-ret));
		return ret;
	}
	simd.engine = &simd_engine_epoll;
	return 0;
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
	if (!simd.fabric)
		return -ENOMEM;
	ret = pick_engine();
	if (ret < 0)
		return ret;
	simd.next_domid = simd.config.first_domid;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	simd.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (simd.signal_fd < 0)
		return -errno;
	ret = simd.engine->add_signalfd(simd.signal_fd);
	if (ret < 0)
		return ret;

	if (simd.config.socket[0]) {
		ret = listen_on(&simd.listeners[simd.nlisteners], simd.config.socket,
		                simd.config.socket_mode);
		if (ret < 0) {
			fprintf(stderr, "argo-simd: %s: %s\n", simd.config.socket, strerror(-ret));
			return ret;
		}
		simd.nlisteners++;
	}
	for (i = 0; i < simd.config.nstatics; i++) {
		struct listener *l = &simd.listeners[simd.nlisteners];

		ret = listen_on(l, simd.config.statics[i].socket, simd.config.domain_mode);
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
	        "notifies %llu signals %llu refused %lu detached %llu rechecked %llu lost %llu "
	        "(%llu bytes) vanished %llu\n",
	        (unsigned long long)st.domains, (unsigned long long)st.rings,
	        (unsigned long long)st.sends_ok, (unsigned long long)st.sends_failed,
	        (unsigned long long)st.bytes_sent, (unsigned long long)st.notifies,
	        (unsigned long long)st.signals, simd.refused_requests,
	        (unsigned long long)st.detached, (unsigned long long)st.rechecks_woken,
	        (unsigned long long)st.lost_messages, (unsigned long long)st.lost_bytes,
	        (unsigned long long)st.rings_vanished);
	/* The static domains' messages (relays, services), a line each. */
	for (unsigned int i = 0; i < simd.config.nstatics; i++) {
		struct sim_domid_stats d;

		sim_fabric_domid_stats(simd.fabric, simd.config.statics[i].domid, &d);
		fprintf(stderr,
		        "argo-simd: domain %u: sent %llu (reports %llu), received %llu (reports "
		        "%llu)\n",
		        simd.config.statics[i].domid, (unsigned long long)d.sent,
		        (unsigned long long)d.sent_reports, (unsigned long long)d.received,
		        (unsigned long long)d.received_reports);
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
	simd_log(1, "serving %u socket(s)%s, engine %s", simd.nlisteners,
	         simd.config.mac_permissive ? ", mac-permissive" : "", simd.engine->name);
	if (ready_fd >= 0) {
		if (write(ready_fd, "R", 1) != 1)
			return 1;
		close(ready_fd);
	}
	simd.engine->run();
	/* The engine lets go of everything first (io_uring cancels what is
	 * in flight), then every domain is torn down. */
	simd.engine->fini();
	while (simd.clients)
		drop_client(simd.clients, true);
	while (simd.zombies)
		simd_client_release(simd.zombies);
	remove_sockets();
	sim_fabric_free(simd.fabric);
	return 0;
}
