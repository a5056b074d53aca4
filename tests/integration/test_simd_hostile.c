/* SPDX-License-Identifier: MIT */
/*
 * argo-simd against hostile and broken clients.
 *
 * Every test starts its own argo-simd (the binary named by $ARGO_SIMD, else
 * build/bin/argo-simd) as a direct child, in a fresh temporary folder, with
 * its stderr captured to a file there. Readiness is the pidfile the daemon
 * writes once its sockets listen. A "victim" pair of well-behaved libargo
 * domains keeps exchanging messages while a hostile client misbehaves over a
 * raw connection (common/libargo/sim_proto.h); afterwards the test checks that the
 * hostile client got the right error, that the daemon is alive and still
 * serves the victims, and, at the end, that every domain is gone and the
 * daemon exits 0 on SIGTERM (under ASan/UBSan a finding makes it exit
 * non-zero, so a sanitized daemon turns leaks and overflows into failures).
 *
 * Waiting is always for a condition, bounded by a time-out that fails the
 * test; nothing sleeps for a fixed time in place of a condition.
 *
 * Prints CUnit's verbose report, then one line "N passed, M failed".
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "argo/argo.h"
#include "argo/ring.h"
#include "sim_proto.h"
#include "../cunit_main.h"

/* Generous bounds: a sanitized daemon on a loaded machine is slow. */
#define TIMEOUT_MS         10000
#define FLOOD_REQUESTS     100000u
#define FLOOD_RSS_LIMIT_KB (16 * 1024)
#define MANY_DOMAINS       500
#define PAIR_PORT          1000u
#define PATH_LEN           108 /* sun_path */

/* ---- Small helpers ------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pause between two polls of a condition (never a wait by itself). */
static void poll_pause(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

#define CHECK_EQ(got, want, what)                                                                  \
	do {                                                                                       \
		long long got_ = (long long)(got), want_ = (long long)(want);                      \
		if (got_ != want_)                                                                 \
			printf("\n    %s:%d: %s: got %lld, want %lld ", __FILE__, __LINE__,        \
			       (what), got_, want_);                                               \
		CU_ASSERT_EQUAL(got_, want_);                                                      \
	} while (0)

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("\n    note: ", stdout);
	vprintf(fmt, ap);
	fputc(' ', stdout);
	va_end(ap);
}

/* ---- The daemon under test ---------------------------------------------- */

static struct {
	char dir[64];
	char sock[PATH_LEN];
	char pidfile[PATH_LEN];
	char log[PATH_LEN];
	pid_t pid; /* > 0 while it runs (our direct child) */
} simd;

static const char *simd_binary(void)
{
	const char *bin = getenv("ARGO_SIMD");

	return bin && *bin ? bin : "build/bin/argo-simd";
}

/* dir/name into out; false if it does not fit a socket path. */
static bool tpath(char out[PATH_LEN], const char *name)
{
	int n = snprintf(out, PATH_LEN, "%s/%s", simd.dir, name);

	return n > 0 && n < PATH_LEN;
}

static void print_file(const char *path, const char *title)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return;
	printf("\n----- %s (%s) -----\n", title, path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	printf("----- end -----\n");
	fclose(f);
}

/* Reads a whole (small) file; NUL-terminated, caller frees. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

/* RLIMIT_NOFILE for the next daemon started (0: inherit ours). */
static rlim_t simd_nofile;

/* Starts argv[0] with stdin/stdout on /dev/null and stderr to errlog. */
static pid_t spawn(const char *const argv[], const char *errlog)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid != 0)
		return pid;
	{
		int null = open("/dev/null", O_RDWR);
		int err = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (null < 0 || err < 0)
			_exit(126);
		dup2(null, 0);
		dup2(null, 1);
		dup2(err, 2);
		close_range(3, ~0u, 0);
		if (simd_nofile) {
			struct rlimit rl = {.rlim_cur = simd_nofile, .rlim_max = simd_nofile};

			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(125);
		}
		execv(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
}

/* Waits for a child of ours to exit: 0, or -ETIMEDOUT. */
static int wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		poll_pause();
	}
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status 0x%x", status);
}

/* Is the pidfile complete and naming our child? */
static bool pidfile_ready(void)
{
	char *text = read_file(simd.pidfile);
	bool ok = false;

	if (text) {
		char *end;
		long v = strtol(text, &end, 10);

		ok = end != text && *end == '\n' && v == (long)simd.pid;
		free(text);
	}
	return ok;
}

/*
 * Starts the daemon: argo-simd --pidfile F [-s SOCK] EXTRA..., and waits
 * until it serves (its pidfile is written after its sockets listen).
 */
static bool daemon_start(bool with_socket, const char *const *extra)
{
	const char *argv[40];
	int64_t deadline;
	int argc = 0, status;
	char why[64];

	argv[argc++] = simd_binary();
	argv[argc++] = "--pidfile";
	argv[argc++] = simd.pidfile;
	if (with_socket) {
		argv[argc++] = "-s";
		argv[argc++] = simd.sock;
	}
	while (extra && *extra && argc < 38)
		argv[argc++] = *extra++;
	argv[argc] = NULL;

	unlink(simd.pidfile);
	simd.pid = spawn(argv, simd.log);
	if (simd.pid < 0) {
		note("fork: %s", strerror(errno));
		simd.pid = 0;
		return false;
	}
	deadline = now_ms() + TIMEOUT_MS;
	while (!pidfile_ready()) {
		if (waitpid(simd.pid, &status, WNOHANG) == simd.pid) {
			describe_status(status, why, sizeof(why));
			note("argo-simd did not start (%s)", why);
			print_file(simd.log, "argo-simd stderr");
			simd.pid = 0;
			return false;
		}
		if (now_ms() > deadline) {
			note("argo-simd not ready after %d ms", TIMEOUT_MS);
			kill(simd.pid, SIGKILL);
			waitpid(simd.pid, &status, 0);
			print_file(simd.log, "argo-simd stderr");
			simd.pid = 0;
			return false;
		}
		poll_pause();
	}
	return true;
}

/* Still running (not exited, not a zombie)? */
static bool daemon_alive(void)
{
	int status;
	char why[64];

	if (simd.pid <= 0)
		return false;
	if (waitpid(simd.pid, &status, WNOHANG) == 0)
		return true;
	describe_status(status, why, sizeof(why));
	note("argo-simd died: %s", why);
	print_file(simd.log, "argo-simd stderr");
	simd.pid = 0;
	return false;
}

static unsigned int count_stats_lines(const char *text)
{
	unsigned int n = 0;
	const char *p = text;

	while ((p = strstr(p, "argo-simd: domains ")) != NULL) {
		n++;
		p++;
	}
	return n;
}

/*
 * The daemon's counters, from the line SIGUSR1 makes it print: sends the
 * signal and waits for a new line to appear in its stderr.
 */
static bool daemon_stats(unsigned long long *domains, unsigned long long *rings)
{
	char *text = read_file(simd.log);
	unsigned int before = text ? count_stats_lines(text) : 0;
	int64_t deadline = now_ms() + TIMEOUT_MS;

	free(text);
	if (!daemon_alive() || kill(simd.pid, SIGUSR1) < 0)
		return false;
	for (;;) {
		text = read_file(simd.log);
		if (text && count_stats_lines(text) > before) {
			const char *last = text, *p = text;
			bool ok;

			while ((p = strstr(p, "argo-simd: domains ")) != NULL)
				last = p++;
			/* The line may still be being written: need its end. */
			ok =
			    strchr(last, '\n') &&
			    sscanf(last, "argo-simd: domains %llu rings %llu", domains, rings) == 2;
			free(text);
			if (ok)
				return true;
		} else {
			free(text);
		}
		if (now_ms() > deadline || !daemon_alive()) {
			note("no statistics line from argo-simd");
			return false;
		}
		poll_pause();
	}
}

/* Waits until the daemon has exactly this many domains. */
static bool daemon_wait_domains(unsigned long long want)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;
	unsigned long long domains = 0, rings = 0;

	for (;;) {
		if (!daemon_stats(&domains, &rings))
			return false;
		if (domains == want)
			return true;
		if (now_ms() > deadline) {
			note("argo-simd has %llu domains, want %llu", domains, want);
			return false;
		}
		poll_pause();
	}
}

/* SIGTERM, then wait (bounded) for the exit; true if it exited 0. */
static bool daemon_stop(void)
{
	int status = 0, ret;
	char why[64];

	if (simd.pid <= 0)
		return false;
	kill(simd.pid, SIGTERM);
	ret = wait_exit(simd.pid, TIMEOUT_MS, &status);
	if (ret < 0) {
		note("argo-simd did not exit within %d ms of SIGTERM", TIMEOUT_MS);
		kill(simd.pid, SIGKILL);
		waitpid(simd.pid, &status, 0);
		print_file(simd.log, "argo-simd stderr");
		simd.pid = 0;
		return false;
	}
	simd.pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	describe_status(status, why, sizeof(why));
	note("argo-simd ended with %s on SIGTERM", why);
	print_file(simd.log, "argo-simd stderr");
	return false;
}

static long daemon_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)simd.pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- Clients: libargo fabrics and raw connections ----------------------- */

#define MAX_FABRICS  (MANY_DOMAINS + 16)
#define MAX_RAWS     64
#define MAX_CHILDREN 8

struct raw {
	int sock, event_fd, staging_fd, shared_fd;
	uint8_t *staging; /* mapped on demand */
	argo_domid_t domid;
};

static struct argo_fabric *fabrics[MAX_FABRICS];
static struct raw *raws[MAX_RAWS];
static pid_t children[MAX_CHILDREN];
static uint32_t next_cookie = 0x5eed0000u;

static void track_child(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] <= 0) {
			children[i] = pid;
			return;
		}
	}
}

static void untrack_child(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* Opens a libargo domain on a socket; NULL (with a note) on failure. */
static struct argo_fabric *fab_open_ret(const char *path, int *retp)
{
	char uri[PATH_LEN + 8];
	struct argo_fabric *f = NULL;
	int i, ret;

	snprintf(uri, sizeof(uri), "sim:%s", path);
	ret = argo_open(uri, &f);
	if (retp)
		*retp = ret;
	if (ret < 0)
		return NULL;
	for (i = 0; i < MAX_FABRICS; i++) {
		if (!fabrics[i]) {
			fabrics[i] = f;
			return f;
		}
	}
	argo_close(f);
	note("too many fabrics for the test's table");
	return NULL;
}

static struct argo_fabric *fab_open(const char *path)
{
	int ret;
	struct argo_fabric *f = fab_open_ret(path, &ret);

	if (!f)
		note("argo_open(%s): %s", path, argo_strerror(ret));
	return f;
}

static void fab_close(struct argo_fabric *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; i < MAX_FABRICS; i++)
		if (fabrics[i] == f)
			fabrics[i] = NULL;
	argo_close(f);
}

static int send_packet(int sock, const void *buf, size_t len, const int *fds, int nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (nfds > 0) {
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
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * Receives one packet within timeout_ms. Fds that come with it go to fds
 * (up to 2) or are closed. Returns its length, 0 at EOF, -ETIMEDOUT, -errno.
 */
static ssize_t recv_packet(int sock, void *buf, size_t len, int timeout_ms, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	struct cmsghdr *cmsg;
	int got = 0, r;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -errno;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		int count, i;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + (size_t)i * sizeof(int), sizeof(fd));
			if (fds && got < 3)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nfds)
		*nfds = got;
	else
		while (got > 0)
			close(fds[--got]);
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

static void raw_close(struct raw *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < MAX_RAWS; i++)
		if (raws[i] == r)
			raws[i] = NULL;
	if (r->staging)
		munmap(r->staging, ARGO_SIM_STAGING_SIZE);
	if (r->staging_fd >= 0)
		close(r->staging_fd);
	if (r->shared_fd >= 0)
		close(r->shared_fd);
	if (r->event_fd >= 0)
		close(r->event_fd);
	if (r->sock >= 0)
		close(r->sock);
	free(r);
}

/*
 * A raw connection: connects, reads the welcome (keeping its fds). Returns
 * 0, the welcome's negative status (refused), -ECONNRESET when the daemon
 * closed without a welcome, -ETIMEDOUT, or -errno.
 */
static int raw_connect_ret(const char *path, struct raw **out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct argo_sim_welcome w;
	struct raw *r = calloc(1, sizeof(*r));
	int fds[3], nfds = 0, i;
	ssize_t n;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->sock = r->event_fd = r->staging_fd = r->shared_fd = -1;
	for (i = 0; i < MAX_RAWS && raws[i]; i++)
		;
	if (i == MAX_RAWS) {
		free(r);
		return -ENFILE;
	}
	raws[i] = r;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	r->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (r->sock < 0 || connect(r->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		raw_close(r);
		return err;
	}
	n = recv_packet(r->sock, &w, sizeof(w), TIMEOUT_MS, fds, &nfds);
	if (nfds > 0)
		r->event_fd = fds[0];
	if (nfds > 1)
		r->staging_fd = fds[1];
	if (nfds > 2)
		r->shared_fd = fds[2];
	if (n <= 0) {
		raw_close(r);
		return n == 0 ? -ECONNRESET : (int)n;
	}
	if ((size_t)n != sizeof(w) || w.magic != ARGO_SIM_MAGIC || w.version != ARGO_SIM_VERSION) {
		raw_close(r);
		return -EPROTO;
	}
	if (w.status < 0) {
		raw_close(r);
		return w.status;
	}
	if (nfds != 3 || w.staging_size != ARGO_SIM_STAGING_SIZE ||
	    w.shared_size != ARGO_SIM_SHARED_SIZE) {
		raw_close(r);
		return -EPROTO;
	}
	r->domid = (argo_domid_t)w.domid;
	*out = r;
	return 0;
}

static struct raw *raw_connect(const char *path)
{
	struct raw *r;
	int ret = raw_connect_ret(path, &r);

	if (ret < 0)
		note("raw connection to %s: %s", path, strerror(-ret));
	return r;
}

static uint8_t *raw_staging(struct raw *r)
{
	if (!r->staging) {
		void *p = mmap(NULL, ARGO_SIM_STAGING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		               r->staging_fd, 0);

		r->staging = p == MAP_FAILED ? NULL : p;
	}
	return r->staging;
}

struct reply {
	struct argo_sim_reply hdr;
	size_t body_len;
	uint8_t body[sizeof(struct xen_argo_ring_data) +
	             XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent) + 64];
};

/*
 * One raw request and its reply. A fresh cookie is put in the request when
 * it has room for a header. Returns 0 or a transport error (-ENOTCONN for
 * EOF, -ETIMEDOUT, -EPROTO for a reply without a header or with fds).
 */
static int raw_call(struct raw *r, void *req, size_t len, const int *fds, int nfds,
                    struct reply *rep, uint32_t *cookiep)
{
	uint8_t buf[sizeof(struct argo_sim_reply) + sizeof(rep->body)];
	int rfds[3], rnfds;
	ssize_t n;
	int ret;

	if (len >= sizeof(struct argo_sim_req_hdr)) {
		struct argo_sim_req_hdr *hdr = req;

		hdr->cookie = ++next_cookie;
		if (cookiep)
			*cookiep = hdr->cookie;
	} else if (cookiep) {
		*cookiep = 0;
	}
	ret = send_packet(r->sock, req, len, fds, nfds, 0);
	if (ret < 0)
		return ret;
	n = recv_packet(r->sock, buf, sizeof(buf), TIMEOUT_MS, rfds, &rnfds);
	while (rnfds > 0)
		close(rfds[--rnfds]);
	if (n == 0)
		return -ENOTCONN;
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(rep->hdr))
		return -EPROTO;
	memcpy(&rep->hdr, buf, sizeof(rep->hdr));
	rep->body_len = (size_t)n - sizeof(rep->hdr);
	memcpy(rep->body, buf + sizeof(rep->hdr), rep->body_len);
	return 0;
}

/*
 * A request that must get the reply want_ret with its cookie echoed (0 for
 * a packet too short to hold one). Returns true when it did.
 */
static bool expect_reply(struct raw *r, void *req, size_t len, const int *fds, int nfds,
                         int32_t want_ret, const char *what)
{
	struct reply rep;
	uint32_t cookie;
	int ret = raw_call(r, req, len, fds, nfds, &rep, &cookie);

	if (ret < 0) {
		note("%s: no reply: %s", what, strerror(-ret));
		CU_FAIL("no reply to a request");
		return false;
	}
	if (rep.hdr.ret != want_ret || rep.hdr.cookie != cookie) {
		note("%s: reply ret %d cookie 0x%x, want ret %d cookie 0x%x", what, rep.hdr.ret,
		     rep.hdr.cookie, want_ret, cookie);
		CU_FAIL("wrong reply");
		return false;
	}
	CU_PASS(what);
	return true;
}

/* A memfd of size bytes with these seals (allow_sealing as for memfd_create). */
static int make_memfd(size_t size, unsigned int seals, bool allow_sealing)
{
	int fd =
	    memfd_create("hostile-ring", MFD_CLOEXEC | (allow_sealing ? MFD_ALLOW_SEALING : 0));

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0 || (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Ring memory exactly as libargo's sim backend makes it. */
static int make_ring_memfd(uint32_t len)
{
	return make_memfd((size_t)argo_ring_npages(len) * XEN_ARGO_PAGE_SIZE,
	                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, true);
}

static struct argo_sim_req_register reg_req(uint32_t aport, argo_domid_t partner, uint32_t len)
{
	struct argo_sim_req_register req;

	memset(&req, 0, sizeof(req));
	req.hdr.op = ARGO_SIM_OP_REGISTER;
	req.reg.aport = aport;
	req.reg.partner_id = partner;
	req.reg.len = len;
	req.npages = argo_ring_npages(len);
	return req;
}

/* Registers a ring over a raw connection with fd; returns the reply's ret. */
static int32_t raw_register(struct raw *r, uint32_t aport, argo_domid_t partner, uint32_t len,
                            int fd)
{
	struct argo_sim_req_register req = reg_req(aport, partner, len);
	struct reply rep;
	int ret = raw_call(r, &req, sizeof(req), &fd, fd >= 0 ? 1 : 0, &rep, NULL);

	return ret < 0 ? ret : rep.hdr.ret;
}

/* A pipe whose write end we pass to the daemon: its read end sees EOF once
 * every copy of the write end, the daemon's included, is closed. */
struct probe {
	int rd, wr;
};

static bool probe_new(struct probe *p)
{
	int fds[2];

	p->rd = p->wr = -1;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return false;
	p->rd = fds[0];
	p->wr = fds[1];
	return true;
}

/* After the reply: true if the daemon closed the fd it was given. */
static bool probe_closed(struct probe *p)
{
	char c;
	ssize_t n;

	close(p->wr);
	n = read(p->rd, &c, 1);
	close(p->rd);
	return n == 0;
}

/* ---- The victim pair ---------------------------------------------------- */

struct pair {
	struct argo_fabric *a, *b;
	struct argo_ring *ra, *rb; /* a's ring for b, b's ring for a */
	unsigned int seq;
};

static struct argo_ring *register_ring(struct argo_fabric *f, uint32_t aport, argo_domid_t partner,
                                       uint32_t len)
{
	xen_argo_register_ring_t reg = {.aport = aport, .partner_id = partner, .len = len};
	struct argo_ring *ring = NULL;
	int ret = argo_register_ring(f, &reg, 0, &ring);

	if (ret < 0) {
		note("register ring %u for %u: %s", aport, partner, argo_strerror(ret));
		return NULL;
	}
	return ring;
}

static bool pair_setup(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	p->a = fab_open(simd.sock);
	p->b = fab_open(simd.sock);
	if (!p->a || !p->b)
		return false;
	p->ra = register_ring(p->a, PAIR_PORT, argo_domid(p->b), 4096);
	p->rb = register_ring(p->b, PAIR_PORT, argo_domid(p->a), 4096);
	return p->ra && p->rb;
}

/* from sends one message to the ring to_ring of to; to reads it back. */
static bool exchange(struct argo_fabric *from, struct argo_fabric *to, struct argo_ring *to_ring,
                     unsigned int seq)
{
	char msg[96], got[128];
	int len = snprintf(msg, sizeof(msg), "message %u from %u to %u:%u", seq, argo_domid(from),
	                   argo_domid(to), to_ring->aport);
	xen_argo_send_addr_t addr = {
	    .src = {.aport = 77, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = to_ring->aport, .domain_id = argo_domid(to)},
	};
	struct iovec iov = {.iov_base = msg, .iov_len = (size_t)len};
	xen_argo_addr_t src;
	uint32_t type = 0;
	ssize_t n;

	argo_event_clear(to);
	n = argo_sendv(from, &addr, &iov, 1, 0x1234 + seq);
	if (n != len) {
		note("send %u -> %u:%u: %s", argo_domid(from), argo_domid(to), to_ring->aport,
		     argo_strerror((int)n));
		return false;
	}
	if (argo_event_clear(to) != 1) {
		note("no event for domain %u after a message", argo_domid(to));
		return false;
	}
	n = argo_recv(to_ring, &src, &type, got, sizeof(got));
	if (n != len || memcmp(got, msg, (size_t)len) != 0 || src.domain_id != argo_domid(from) ||
	    src.aport != 77 || type != 0x1234 + seq) {
		note("recv on %u:%u: %zd (%s)", argo_domid(to), to_ring->aport, n,
		     n < 0 ? argo_strerror((int)n) : "wrong content");
		return false;
	}
	if (argo_notify(to, NULL) != 0 ||
	    argo_recv(to_ring, NULL, NULL, got, sizeof(got)) != -EAGAIN)
		return false;
	return true;
}

/* The victims still talk, both ways, rounds times. */
static bool pair_check(struct pair *p, unsigned int rounds)
{
	unsigned int i;

	for (i = 0; i < rounds; i++) {
		if (!exchange(p->a, p->b, p->rb, p->seq++) ||
		    !exchange(p->b, p->a, p->ra, p->seq++))
			return false;
	}
	return true;
}

/*
 * Waits until the domain domid no longer exists: a header-only send from f
 * to a port where it has no ring says -ECONNREFUSED while it lives and
 * -ESRCH once it is gone (and has no other effect).
 */
static bool wait_domain_gone(struct argo_fabric *f, argo_domid_t domid)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;
	xen_argo_send_addr_t addr = {
	    .src = {.aport = 1, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = 0xFFFFFFF0u, .domain_id = domid},
	};

	for (;;) {
		ssize_t n = argo_sendv(f, &addr, NULL, 0, 0);

		if (n == -ESRCH)
			return true;
		if (n != -ECONNREFUSED) {
			note("probe of domain %u: %s", domid, argo_strerror((int)n));
			return false;
		}
		if (now_ms() > deadline) {
			note("domain %u still exists after %d ms", domid, TIMEOUT_MS);
			return false;
		}
		poll_pause();
	}
}

/* ---- Per-test set-up and tear-down --------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_setup(void)
{
	char tmpl[] = "/tmp/argo-hostile.XXXXXX";

	memset(&simd, 0, sizeof(simd));
	simd_nofile = 0;
	if (!mkdtemp(tmpl)) {
		note("mkdtemp: %s", strerror(errno));
		return;
	}
	memcpy(simd.dir, tmpl, sizeof(tmpl));
	tpath(simd.sock, "simd.sock");
	tpath(simd.pidfile, "simd.pid");
	tpath(simd.log, "simd.stderr");
}

/* Releases whatever a test left (after a failed fatal assertion). */
static void test_teardown(void)
{
	int i, status;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], &status, 0);
			children[i] = 0;
		}
	}
	for (i = 0; i < MAX_RAWS; i++)
		if (raws[i])
			raw_close(raws[i]);
	for (i = 0; i < MAX_FABRICS; i++)
		if (fabrics[i])
			fab_close(fabrics[i]);
	if (simd.pid > 0) {
		kill(simd.pid, SIGKILL);
		waitpid(simd.pid, &status, 0);
		simd.pid = 0;
	}
	if (simd.dir[0])
		nftw(simd.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The end of every test: all clients go, the daemon sees every domain go,
 * and exits 0 on SIGTERM (a sanitizer finding would make it non-zero). */
static void finish(void)
{
	int i;

	for (i = 0; i < MAX_RAWS; i++)
		if (raws[i])
			raw_close(raws[i]);
	for (i = 0; i < MAX_FABRICS; i++)
		if (fabrics[i])
			fab_close(fabrics[i]);
	CU_ASSERT(daemon_wait_domains(0));
	CU_ASSERT(daemon_stop());
}

#define START_DAEMON() CU_ASSERT_FATAL(daemon_start(true, NULL))

/* ---- Malformed requests ------------------------------------------------- */

static void test_malformed_requests(void)
{
	struct pair p;
	struct raw *r;
	struct argo_ring *ra2;
	uint8_t buf[512];
	struct argo_sim_req_hdr hdr;
	struct reply rep;
	int memfd;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);
	/* A ring of the victim that the raw domain may send to. */
	ra2 = register_ring(p.a, 2000, r->domid, 4096);
	CU_ASSERT_FATAL(ra2 != NULL);

	/* Packets too short for a header: -EINVAL, no cookie to echo. */
	memset(buf, 0, sizeof(buf));
	buf[0] = ARGO_SIM_OP_NOTIFY;
	expect_reply(r, buf, 1, NULL, 0, -EINVAL, "1-byte packet");
	expect_reply(r, buf, 4, NULL, 0, -EINVAL, "4-byte packet");
	expect_reply(r, buf, 7, NULL, 0, -EINVAL, "7-byte packet");

	/* Unknown ops. */
	hdr.op = 99;
	expect_reply(r, &hdr, sizeof(hdr), NULL, 0, -EOPNOTSUPP, "op 99");
	hdr.op = 0;
	expect_reply(r, &hdr, sizeof(hdr), NULL, 0, -EOPNOTSUPP, "op 0");
	memset(buf, 0xEE, sizeof(buf));
	((struct argo_sim_req_hdr *)buf)->op = 0xFFFFFFFFu;
	expect_reply(r, buf, sizeof(buf), NULL, 0, -EOPNOTSUPP, "op 0xffffffff with a body");

	/* register: wrong lengths (with a good memfd), no fd. */
	memfd = make_ring_memfd(4096);
	CU_ASSERT_FATAL(memfd >= 0);
	{
		struct {
			struct argo_sim_req_register req;
			uint32_t extra;
		} big;

		memset(&big, 0, sizeof(big));
		big.req = reg_req(2100, p.a ? argo_domid(p.a) : 0, 4096);
		expect_reply(r, &big, sizeof(big), &memfd, 1, -EINVAL,
		             "register, 4 bytes too long");
		expect_reply(r, &big, sizeof(big.req) - 4, &memfd, 1, -EINVAL,
		             "register, 4 bytes short");
		expect_reply(r, &big, sizeof(struct argo_sim_req_hdr), &memfd, 1, -EINVAL,
		             "register, header only");
		expect_reply(r, &big, sizeof(big.req), NULL, 0, -EINVAL, "register without an fd");
	}
	/* register with two fds: refused, both closed by the daemon. */
	{
		struct argo_sim_req_register req = reg_req(2100, argo_domid(p.a), 4096);
		struct probe pr;
		int fds[2];

		CU_ASSERT_FATAL(probe_new(&pr));
		fds[0] = memfd;
		fds[1] = pr.wr;
		expect_reply(r, &req, sizeof(req), fds, 2, -EINVAL, "register with two fds");
		CU_ASSERT(probe_closed(&pr));
	}
	/* None of that registered anything: a FAIL_EXIST register works now. */
	{
		struct argo_sim_req_register req = reg_req(2100, argo_domid(p.a), 4096);

		req.flags = XEN_ARGO_REGISTER_FLAG_FAIL_EXIST;
		expect_reply(r, &req, sizeof(req), &memfd, 1, 0, "register after refusals");
		req.flags = 0x2;
		expect_reply(r, &req, sizeof(req), &memfd, 1, -EINVAL, "register, unknown flag");
	}
	close(memfd);

	/* Ops that take no fd, given one: refused, the fd closed. */
	{
		struct argo_sim_req_unregister unreg;
		struct argo_sim_req_sendv sendv;
		struct argo_sim_req_notify notify;
		struct argo_sim_req_hdr unknown = {.op = 99};
		struct probe pr;

		memset(&unreg, 0, sizeof(unreg));
		unreg.hdr.op = ARGO_SIM_OP_UNREGISTER;
		unreg.unreg.aport = 2100;
		unreg.unreg.partner_id = argo_domid(p.a);
		CU_ASSERT_FATAL(probe_new(&pr));
		expect_reply(r, &unreg, sizeof(unreg), &pr.wr, 1, -EINVAL, "unregister with an fd");
		CU_ASSERT(probe_closed(&pr));

		memset(&sendv, 0, sizeof(sendv));
		sendv.hdr.op = ARGO_SIM_OP_SENDV;
		sendv.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
		sendv.addr.dst.domain_id = argo_domid(p.a);
		sendv.addr.dst.aport = 2000;
		CU_ASSERT_FATAL(probe_new(&pr));
		expect_reply(r, &sendv, sizeof(sendv), &pr.wr, 1, -EINVAL, "sendv with an fd");
		CU_ASSERT(probe_closed(&pr));

		memset(&notify, 0, sizeof(notify));
		notify.hdr.op = ARGO_SIM_OP_NOTIFY;
		CU_ASSERT_FATAL(probe_new(&pr));
		expect_reply(r, &notify, sizeof(notify), &pr.wr, 1, -EINVAL, "notify with an fd");
		CU_ASSERT(probe_closed(&pr));

		CU_ASSERT_FATAL(probe_new(&pr));
		expect_reply(r, &unknown, sizeof(unknown), &pr.wr, 1, -EINVAL, "op 99 with an fd");
		CU_ASSERT(probe_closed(&pr));

		/* The unregister above was refused: the ring is still there. */
		expect_reply(r, &unreg, sizeof(unreg) - 2, NULL, 0, -EINVAL,
		             "unregister, 2 bytes short");
		expect_reply(r, &unreg, sizeof(unreg), NULL, 0, 0, "unregister");
		expect_reply(r, &unreg, sizeof(unreg), NULL, 0, -ENOENT, "unregister again");
	}

	/* sendv: lengths that do not match niov, too many iovs, bad handles. */
	{
		struct {
			struct argo_sim_req_sendv req;
			struct xen_argo_iov iov[10];
		} s;
		uint8_t *staging = raw_staging(r);
		const size_t base = sizeof(s.req), one = sizeof(s.iov[0]);
		char got[64];
		xen_argo_addr_t src;

		CU_ASSERT_FATAL(staging != NULL);
		memset(&s, 0, sizeof(s));
		s.req.hdr.op = ARGO_SIM_OP_SENDV;
		s.req.addr.src.aport = 5;
		s.req.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
		s.req.addr.dst.aport = 2000;
		s.req.addr.dst.domain_id = argo_domid(p.a);
		memcpy(staging, "hello from raw", 14);
		s.iov[0].iov_hnd = 0;
		s.iov[0].iov_len = 14;

		expect_reply(r, &s, base - 4, NULL, 0, -EINVAL, "sendv shorter than its struct");
		s.req.niov = 2;
		expect_reply(r, &s, base + one, NULL, 0, -EFAULT, "sendv, niov 2 with 1 iov");
		s.req.niov = 1;
		expect_reply(r, &s, base, NULL, 0, -EFAULT, "sendv, niov 1 with no iov");
		expect_reply(r, &s, base + one + 4, NULL, 0, -EFAULT, "sendv, 4 stray bytes");
		s.req.niov = 0;
		expect_reply(r, &s, base + one, NULL, 0, -EFAULT, "sendv, niov 0 with 1 iov");
		s.req.niov = 9;
		expect_reply(r, &s, base + 9 * one, NULL, 0, -EINVAL, "sendv, niov 9");
		s.req.niov = 0xFFFFFFFFu;
		expect_reply(r, &s, base, NULL, 0, -EINVAL, "sendv, niov 2^32-1");

		s.req.niov = 1;
		s.iov[0].iov_hnd = ARGO_SIM_STAGING_SIZE;
		s.iov[0].iov_len = 1;
		expect_reply(r, &s, base + one, NULL, 0, -EFAULT, "sendv, handle past staging");
		s.iov[0].iov_hnd = UINT64_MAX - 3;
		s.iov[0].iov_len = 16;
		expect_reply(r, &s, base + one, NULL, 0, -EFAULT, "sendv, wrapping handle");
		s.iov[0].iov_hnd = ARGO_SIM_STAGING_SIZE - 8;
		expect_reply(r, &s, base + one, NULL, 0, -EFAULT, "sendv, straddling staging end");
		s.iov[0].iov_hnd = 0;
		s.iov[0].iov_len = 14;
		s.iov[0].pad = 1;
		expect_reply(r, &s, base + one, NULL, 0, -EINVAL, "sendv, iov pad set");
		s.iov[0].pad = 0;
		s.req.addr.src.domain_id = argo_domid(p.b);
		expect_reply(r, &s, base + one, NULL, 0, -EPERM, "sendv, forged source");
		s.req.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
		/* Nothing arrived so far; now a good one. */
		CU_ASSERT_EQUAL(argo_recv(ra2, NULL, NULL, got, sizeof(got)), -EAGAIN);
		expect_reply(r, &s, base + one, NULL, 0, 14, "sendv from a raw client");
		CHECK_EQ(argo_recv(ra2, &src, NULL, got, sizeof(got)), 14, "raw message length");
		CU_ASSERT(memcmp(got, "hello from raw", 14) == 0);
		CHECK_EQ(src.domain_id, r->domid, "raw message source");
		CHECK_EQ(src.aport, 5, "raw message source port");
	}

	/* notify: nent too large, entries missing, ring_data cut short. */
	{
		struct {
			struct argo_sim_req_notify req;
			struct xen_argo_ring_data rd;
			struct xen_argo_ring_data_ent ent[5];
		} n;
		const size_t base = sizeof(n.req), one = sizeof(n.ent[0]);
		const struct xen_argo_ring_data_ent *back;

		memset(&n, 0, sizeof(n));
		n.req.hdr.op = ARGO_SIM_OP_NOTIFY;
		n.req.has_ring_data = 1;
		expect_reply(r, &n, base - 4, NULL, 0, -EINVAL, "notify shorter than its struct");
		expect_reply(r, &n, base, NULL, 0, -EFAULT, "notify, ring_data missing");
		expect_reply(r, &n, base + 4, NULL, 0, -EFAULT, "notify, ring_data cut");
		n.rd.nent = 1000;
		expect_reply(r, &n, base + sizeof(n.rd) + one, NULL, 0, -EACCES,
		             "notify, nent 1000");
		n.rd.nent = 5;
		expect_reply(r, &n, base + sizeof(n.rd) + 2 * one, NULL, 0, -EFAULT,
		             "notify, nent 5 with 2 entries");
		expect_reply(r, &n, base + sizeof(n.rd) + 5 * one - 1, NULL, 0, -EFAULT,
		             "notify, last entry one byte short");

		/* A good one: the victim's ring for us exists, port 9999 does not. */
		n.rd.nent = 2;
		n.ent[0].ring.aport = 2000;
		n.ent[0].ring.domain_id = argo_domid(p.a);
		n.ent[0].space_required = 16;
		n.ent[1].ring.aport = 9999;
		n.ent[1].ring.domain_id = argo_domid(p.a);
		CU_ASSERT(expect_reply(r, &n, base + sizeof(n.rd) + 2 * one, NULL, 0, 0,
		                       "notify with two entries"));
		CU_ASSERT_EQUAL(raw_call(r, &n, base + sizeof(n.rd) + 2 * one, NULL, 0, &rep, NULL),
		                0);
		CHECK_EQ(rep.hdr.ret, 0, "notify ret");
		CHECK_EQ(rep.body_len, sizeof(n.rd) + 2 * one, "notify reply body");
		back = (const void *)(rep.body + sizeof(n.rd));
		CU_ASSERT((back[0].flags & XEN_ARGO_RING_EXISTS) != 0);
		CU_ASSERT((back[0].flags & XEN_ARGO_RING_SUFFICIENT) != 0);
		CHECK_EQ(back[0].max_message_size, argo_ring_max_message_size(4096),
		         "max_message_size");
		CHECK_EQ(back[1].flags, 0, "flags of a missing ring");
	}

	/* Through all that the raw domain stayed connected and served. */
	{
		struct argo_sim_req_notify n = {.hdr.op = ARGO_SIM_OP_NOTIFY};

		expect_reply(r, &n, sizeof(n), NULL, 0, 0, "notify NULL after the refusals");
	}
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 3));
	finish();
}

/*
 * Requests larger than the daemon's 64 KiB buffer. sim_proto.h: they "are
 * truncated by the daemon (and then refused by the per-op length checks)".
 */
static void test_oversized_requests(void)
{
	static uint8_t big[100 * 1024]; /* static: a fatal assertion must not leak it */
	const size_t size = sizeof(big);
	struct pair p;
	struct raw *r;
	int memfd;

	memset(big, 0, size);
	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);

	((struct argo_sim_req_hdr *)big)->op = 99;
	{
		struct reply rep;
		uint32_t cookie;

		/* Unknown and cut short: either refusal will do. */
		CU_ASSERT_FATAL(raw_call(r, big, size, NULL, 0, &rep, &cookie) == 0);
		CU_ASSERT(rep.hdr.ret == -EOPNOTSUPP || rep.hdr.ret == -EINVAL);
		CHECK_EQ(rep.hdr.cookie, cookie, "100 KiB op 99 cookie");
	}

	memset(big, 0, size);
	((struct argo_sim_req_sendv *)big)->hdr.op = ARGO_SIM_OP_SENDV;
	((struct argo_sim_req_sendv *)big)->addr.dst.domain_id = argo_domid(p.a);
	expect_reply(r, big, size, NULL, 0, -EINVAL, "100 KiB sendv");

	memset(big, 0, size);
	((struct argo_sim_req_unregister *)big)->hdr.op = ARGO_SIM_OP_UNREGISTER;
	expect_reply(r, big, size, NULL, 0, -EINVAL, "100 KiB unregister");

	memfd = make_ring_memfd(4096);
	CU_ASSERT_FATAL(memfd >= 0);
	memset(big, 0, size);
	*(struct argo_sim_req_register *)big = reg_req(3000, argo_domid(p.a), 4096);
	expect_reply(r, big, size, &memfd, 1, -EINVAL, "100 KiB register");
	close(memfd);

	/* A truncated notify must be refused like the others. */
	memset(big, 0, size);
	((struct argo_sim_req_notify *)big)->hdr.op = ARGO_SIM_OP_NOTIFY;
	expect_reply(r, big, size, NULL, 0, -EINVAL, "100 KiB notify (NULL ring_data)");
	memset(big, 0, size);
	{
		struct argo_sim_req_notify *n = (void *)big;
		struct xen_argo_ring_data *rd = (void *)(big + sizeof(*n));

		n->hdr.op = ARGO_SIM_OP_NOTIFY;
		n->has_ring_data = 1;
		rd->nent = 2;
		rd->data[0].ring.domain_id = argo_domid(p.a);
		rd->data[0].ring.aport = PAIR_PORT;
		expect_reply(r, big, size, NULL, 0, -EINVAL, "100 KiB notify (2 entries)");
	}

	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 3));
	finish();
}

/*
 * More fds than any request carries: the daemon's control buffer truncates
 * (MSG_CTRUNC). The request is refused with -EINVAL, every fd is closed,
 * and, as for every request whose header arrived, the cookie is echoed.
 */
static void test_too_many_fds(void)
{
	struct argo_sim_req_register req;
	struct probe pr[6];
	struct pair p;
	struct raw *r;
	int fds[6], i;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);
	for (i = 0; i < 6; i++) {
		CU_ASSERT_FATAL(probe_new(&pr[i]));
		fds[i] = pr[i].wr;
	}
	req = reg_req(3000, argo_domid(p.a), 4096);
	expect_reply(r, &req, sizeof(req), fds, 6, -EINVAL, "register with six fds");
	for (i = 0; i < 6; i++)
		CU_ASSERT(probe_closed(&pr[i]));
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/*
 * A zero-length packet on SOCK_SEQPACKET reads as 0 bytes, as EOF does. The
 * daemon may take it as the domain's death (then the domain must be torn
 * down) or refuse it (-EINVAL, no cookie); either way nothing else changes.
 */
static void test_zero_length_packet(void)
{
	struct argo_ring *ring_for_raw;
	struct argo_sim_reply rep;
	struct pair p;
	struct raw *r;
	argo_domid_t domid;
	ssize_t n;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);
	domid = r->domid;
	ring_for_raw = register_ring(p.a, 2000, domid, 4096);
	CU_ASSERT_FATAL(ring_for_raw != NULL);

	CU_ASSERT_EQUAL(send_packet(r->sock, "", 0, NULL, 0, 0), 0);
	n = recv_packet(r->sock, &rep, sizeof(rep), TIMEOUT_MS, NULL, NULL);
	if (n == 0) {
		/* Taken as the domain's death: it and our ring for it are gone. */
		CU_ASSERT(wait_domain_gone(p.a, domid));
		CHECK_EQ(argo_unregister_ring(p.a, ring_for_raw), -ENOENT,
		         "victim's ring for the dropped domain");
	} else {
		CHECK_EQ(n, sizeof(rep), "reply to a zero-length packet");
		CHECK_EQ(rep.ret, -EINVAL, "zero-length packet");
		CHECK_EQ(rep.cookie, 0, "zero-length packet cookie");
		CHECK_EQ(argo_unregister_ring(p.a, ring_for_raw), 0, "victim's ring");
	}
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* ---- Ring memory that is not what it must be ---------------------------- */

static void test_register_bad_fd_types(void)
{
	const uint32_t len = 4096;
	const size_t size = (size_t)argo_ring_npages(len) * XEN_ARGO_PAGE_SIZE;
	char file[PATH_LEN], ro_path[64];
	int pipefd[2], sp[2], fd, good, ro;
	xen_argo_send_addr_t addr;
	struct pair p;
	struct raw *r;
	argo_domid_t a;
	struct xen_argo_ring *mem;
	char got[64];

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);
	a = argo_domid(p.a);

	CU_ASSERT_FATAL(pipe2(pipefd, O_CLOEXEC) == 0);
	CHECK_EQ(raw_register(r, 3000, a, len, pipefd[0]), -EINVAL, "pipe read end");
	CHECK_EQ(raw_register(r, 3000, a, len, pipefd[1]), -EINVAL, "pipe write end");
	close(pipefd[0]);
	close(pipefd[1]);

	CU_ASSERT_FATAL(tpath(file, "regular-file"));
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(ftruncate(fd, (off_t)size) == 0);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "regular file");
	close(fd);

	fd = open(simd.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "directory");
	close(fd);

	fd = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "eventfd");
	close(fd);

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	CHECK_EQ(raw_register(r, 3000, a, len, sp[0]), -EINVAL, "socket");
	close(sp[0]);
	close(sp[1]);

	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "/dev/zero");
	close(fd);

	fd = make_memfd(size, 0, true);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "memfd without seals");
	close(fd);
	fd = make_memfd(size, 0, false);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "memfd that cannot be sealed");
	close(fd);
	fd = make_memfd(size, F_SEAL_GROW | F_SEAL_SEAL, true);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "memfd sealed against growing only");
	close(fd);
	fd = make_memfd(size - XEN_ARGO_PAGE_SIZE, F_SEAL_SHRINK, true);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "sealed memfd a page too small");
	close(fd);
	fd = make_memfd(0, F_SEAL_SHRINK, true);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "sealed empty memfd");
	close(fd);
	fd = make_memfd(size, F_SEAL_SHRINK | F_SEAL_WRITE, true);
	CHECK_EQ(raw_register(r, 3000, a, len, fd), -EINVAL, "memfd sealed against writing");
	close(fd);

	/* A read-only fd of a good memfd: the daemon could not write the ring. */
	good = make_ring_memfd(len);
	CU_ASSERT_FATAL(good >= 0);
	snprintf(ro_path, sizeof(ro_path), "/proc/self/fd/%d", good);
	ro = open(ro_path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(ro >= 0);
	CHECK_EQ(raw_register(r, 3000, a, len, ro), -EINVAL, "read-only memfd");
	close(ro);

	/* None of those made a ring. */
	memset(&addr, 0, sizeof(addr));
	addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	addr.dst.aport = 3000;
	addr.dst.domain_id = r->domid;
	CHECK_EQ(argo_sendv(p.a, &addr, NULL, 0, 0), -ECONNREFUSED, "send after refused registers");
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 1));

	/* The real thing works, and messages land in it. */
	CHECK_EQ(raw_register(r, 3000, a, len, good), 0, "good memfd");
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, good, 0);
	CU_ASSERT_FATAL(mem != MAP_FAILED);
	{
		struct iovec iov = {.iov_base = "into raw memory", .iov_len = 15};

		CHECK_EQ(argo_sendv(p.a, &addr, &iov, 1, 9), 15, "send to the raw ring");
		CHECK_EQ(argo_ring_recv(mem, len, NULL, NULL, got, sizeof(got)), 15, "raw recv");
		CU_ASSERT(memcmp(got, "into raw memory", 15) == 0);
	}
	/* Re-registering it onto a bad fd removes it, as in Xen (argo.c:1784). */
	CU_ASSERT_FATAL(pipe2(pipefd, O_CLOEXEC) == 0);
	CHECK_EQ(raw_register(r, 3000, a, len, pipefd[0]), -EINVAL, "re-register onto a pipe");
	close(pipefd[0]);
	close(pipefd[1]);
	CHECK_EQ(argo_sendv(p.a, &addr, NULL, 0, 0), -ECONNREFUSED,
	         "send after failed re-register");
	munmap(mem, size);
	close(good);

	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* A registered ring's memory cannot shrink under the daemon: the seal. */
static void test_sealed_ring_cannot_shrink(void)
{
	const uint32_t len = 4096;
	const size_t size = (size_t)argo_ring_npages(len) * XEN_ARGO_PAGE_SIZE;
	xen_argo_send_addr_t addr;
	struct iovec iov = {.iov_base = "after the attempts", .iov_len = 18};
	struct xen_argo_ring *mem;
	struct pair p;
	struct raw *r;
	char got[64];
	ssize_t n;
	int fd;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);

	fd = make_ring_memfd(len);
	CU_ASSERT_FATAL(fd >= 0);
	CHECK_EQ(raw_register(r, 3000, argo_domid(p.a), len, fd), 0, "register");

	errno = 0;
	CU_ASSERT(ftruncate(fd, XEN_ARGO_PAGE_SIZE) < 0 && errno == EPERM);
	errno = 0;
	CU_ASSERT(ftruncate(fd, 0) < 0 && errno == EPERM);
	errno = 0;
	CU_ASSERT(ftruncate(fd, (off_t)size * 2) < 0 && errno == EPERM);
	/* The seals themselves are sealed. */
	errno = 0;
	CU_ASSERT(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM);
	CU_ASSERT((fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK) != 0);

	/* The daemon's staging memory, shared with us, is sealed as well. */
	errno = 0;
	CU_ASSERT(ftruncate(r->staging_fd, 0) < 0 && errno == EPERM);
	errno = 0;
	CU_ASSERT(ftruncate(r->staging_fd, XEN_ARGO_PAGE_SIZE) < 0 && errno == EPERM);

	/* Punching a hole is allowed; it only zeroes the pages (no fault). */
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(mem != MAP_FAILED);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size) < 0)
		note("punching a hole: %s", strerror(errno));
	memset(&addr, 0, sizeof(addr));
	addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	addr.dst.aport = 3000;
	addr.dst.domain_id = r->domid;
	n = argo_sendv(p.a, &addr, &iov, 1, 0);
	CU_ASSERT(n == 18 || n == -EAGAIN);
	if (n == 18) {
		/* The page's pointers were zeroed, the daemon's tx was 0 too. */
		CHECK_EQ(argo_ring_recv(mem, len, NULL, NULL, got, sizeof(got)), 18, "recv");
		CU_ASSERT(memcmp(got, "after the attempts", 18) == 0);
	}
	munmap(mem, size);
	close(fd);

	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* ---- Clients that die --------------------------------------------------- */

static void test_die_mid_request(void)
{
	struct argo_sim_req_notify notify = {.hdr.op = ARGO_SIM_OP_NOTIFY};
	struct argo_ring *ring_for_r;
	struct argo_sim_req_sendv sendv;
	struct pair p;
	struct raw *r;
	argo_domid_t domid;
	int fd, round, sent;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));

	for (round = 0; round < 3; round++) {
		r = raw_connect(simd.sock);
		CU_ASSERT_FATAL(r != NULL);
		domid = r->domid;
		ring_for_r = register_ring(p.a, 3000 + round, domid, 4096);
		CU_ASSERT_FATAL(ring_for_r != NULL);
		fd = make_ring_memfd(4096);
		CU_ASSERT_FATAL(fd >= 0);
		CHECK_EQ(raw_register(r, 3000, argo_domid(p.a), 4096, fd), 0, "raw register");
		close(fd);

		memset(&sendv, 0, sizeof(sendv));
		sendv.hdr.op = ARGO_SIM_OP_SENDV;
		sendv.hdr.cookie = 1;
		sendv.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
		sendv.addr.dst.aport = 3000 + round;
		sendv.addr.dst.domain_id = argo_domid(p.a);
		switch (round) {
		case 0: /* one request, then gone without reading the reply */
			CU_ASSERT_EQUAL(send_packet(r->sock, &sendv, sizeof(sendv), NULL, 0, 0), 0);
			break;
		case 1: /* a request, a malformed one with an fd, then gone */
			fd = make_ring_memfd(4096);
			CU_ASSERT_EQUAL(send_packet(r->sock, &sendv, sizeof(sendv), NULL, 0, 0), 0);
			CU_ASSERT_EQUAL(send_packet(r->sock, &sendv, 4, &fd, 1, 0), 0);
			close(fd);
			break;
		default: /* requests until the socket is full: replies pending */
			for (sent = 0; sent < 100000; sent++) {
				notify.hdr.cookie = (uint32_t)sent;
				if (send_packet(r->sock, &notify, sizeof(notify), NULL, 0,
				                MSG_DONTWAIT) < 0)
					break;
			}
			CU_ASSERT(sent > 0 && sent < 100000);
			break;
		}
		raw_close(r);

		CU_ASSERT(wait_domain_gone(p.a, domid));
		/* Its partner ring went with it. */
		CHECK_EQ(argo_unregister_ring(p.a, ring_for_r), -ENOENT, "ring of a dead partner");
		CU_ASSERT(daemon_alive());
		CU_ASSERT(pair_check(&p, 2));
	}
	finish();
}

/* Blocks until one byte arrives on fd (bounded); false on time-out/EOF. */
static bool wait_byte(int fd, char *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	return read(fd, c, 1) == 1;
}

/*
 * The child's part: connect, tell the parent our domid, wait for "go",
 * register a ring for the victim and send to it, then (how == 'x') _exit
 * right away without reading the replies or (how == 'k') fill our socket
 * with requests and wait to be killed. Exit codes name the failing step.
 */
static void child_domain(const char *sock, argo_domid_t victim, int to_parent, int from_parent,
                         char how)
{
	struct argo_sim_req_register reg = reg_req(4000, victim, 4096);
	struct argo_sim_req_notify notify = {.hdr.op = ARGO_SIM_OP_NOTIFY};
	struct argo_sim_req_sendv sendv;
	struct argo_sim_reply rep;
	struct raw *r;
	char go;
	int fd, i;

	if (raw_connect_ret(sock, &r) < 0)
		_exit(10);
	if (write(to_parent, &r->domid, sizeof(r->domid)) != (ssize_t)sizeof(r->domid))
		_exit(11);
	if (!wait_byte(from_parent, &go, TIMEOUT_MS))
		_exit(12);
	fd = make_ring_memfd(4096);
	if (fd < 0 || send_packet(r->sock, &reg, sizeof(reg), &fd, 1, 0) < 0 ||
	    recv_packet(r->sock, &rep, sizeof(rep), TIMEOUT_MS, NULL, NULL) != sizeof(rep) ||
	    rep.ret != 0)
		_exit(13);
	memset(&sendv, 0, sizeof(sendv));
	sendv.hdr.op = ARGO_SIM_OP_SENDV;
	sendv.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	sendv.addr.dst.aport = 4000;
	sendv.addr.dst.domain_id = victim;
	if (send_packet(r->sock, &sendv, sizeof(sendv), NULL, 0, 0) < 0)
		_exit(14);
	if (how == 'x')
		_exit(0);
	for (i = 0; i < 100000; i++)
		if (send_packet(r->sock, &notify, sizeof(notify), NULL, 0, MSG_DONTWAIT) < 0)
			break;
	if (write(to_parent, "f", 1) != 1)
		_exit(15);
	for (;;)
		pause();
}

static void die_in_child(char how)
{
	int up[2], down[2], status = 0, ret;
	struct argo_ring *ring_for_child;
	argo_domid_t domid = 0, victim;
	struct pair p;
	char c;
	pid_t pid;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	victim = argo_domid(p.a);
	CU_ASSERT_FATAL(pipe2(up, O_CLOEXEC) == 0);
	CU_ASSERT_FATAL(pipe2(down, O_CLOEXEC) == 0);
	fflush(stdout);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		child_domain(simd.sock, victim, up[1], down[0], how);
		_exit(1);
	}
	track_child(pid);
	close(up[1]);
	close(down[0]);
	{
		struct pollfd pfd = {.fd = up[0], .events = POLLIN};

		CU_ASSERT_FATAL(poll(&pfd, 1, TIMEOUT_MS) == 1 &&
		                read(up[0], &domid, sizeof(domid)) == (ssize_t)sizeof(domid));
	}
	ring_for_child = register_ring(p.a, 4000, domid, 4096);
	CU_ASSERT_FATAL(ring_for_child != NULL);
	CU_ASSERT_FATAL(write(down[1], "g", 1) == 1);

	if (how == 'k') {
		CU_ASSERT(wait_byte(up[0], &c, TIMEOUT_MS));
		kill(pid, SIGKILL);
	}
	ret = wait_exit(pid, TIMEOUT_MS, &status);
	CU_ASSERT_EQUAL(ret, 0);
	if (ret == 0)
		untrack_child(pid);
	if (how == 'k') {
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	} else {
		CHECK_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : 1000, 0, "child exit status");
	}
	close(up[0]);
	close(down[1]);

	CU_ASSERT(wait_domain_gone(p.a, domid));
	CHECK_EQ(argo_unregister_ring(p.a, ring_for_child), -ENOENT, "ring of a dead partner");
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 3));
	finish();
}

static void test_die_child_exit(void)
{
	die_in_child('x');
}

static void test_die_child_sigkill(void)
{
	die_in_child('k');
}

/* ---- Scribbling on one's own ring ---------------------------------------- */

static uint32_t lcg(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 1;
}

static void store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Sends n bytes from `from` to (to, aport); returns argo_sendv's result. */
static ssize_t send_bytes(struct argo_fabric *from, argo_domid_t to, uint32_t aport,
                          const void *data, size_t n)
{
	xen_argo_send_addr_t addr = {
	    .src = {.aport = 9, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = aport, .domain_id = to},
	};
	struct iovec iov = {.iov_base = (void *)data, .iov_len = n};

	return argo_sendv(from, &addr, &iov, 1, 0);
}

struct scribbler {
	struct argo_ring *ring;
	volatile bool stop;
	unsigned long rounds, bad_recv;
};

/* Scribbles on every part of the ring and reads it, until told to stop. */
static void *scribble_thread(void *arg)
{
	struct scribbler *s = arg;
	struct xen_argo_ring *mem = s->ring->shared;
	const uint32_t len = s->ring->len;
	uint32_t seed = 12345;
	static uint8_t buf[8192];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint32_t v = lcg(&seed);
		ssize_t n;

		switch (v % 6) {
		case 0:
			store32(&mem->rx_ptr, lcg(&seed));
			break;
		case 1:
			store32(&mem->rx_ptr, lcg(&seed) % (len + 64));
			break;
		case 2:
			store32(&mem->tx_ptr, lcg(&seed));
			break;
		case 3:
			mem->reserved[lcg(&seed) % sizeof(mem->reserved)] = (uint8_t)v;
			break;
		case 4: {
			uint32_t at = lcg(&seed) % (len - 4);

			store32((uint32_t *)(void *)(mem->ring + (at & ~3u)), lcg(&seed));
			break;
		}
		default:
			/* A reader that consumes whatever it finds. */
			n = argo_recv(s->ring, NULL, NULL, buf, sizeof(buf));
			if (!(n >= 0 || n == -EAGAIN || n == -EBADMSG))
				s->bad_recv++;
			break;
		}
		s->rounds++;
	}
	return NULL;
}

static void test_scribble(void)
{
	const uint32_t len = 1024;
	struct argo_fabric *A, *B;
	struct argo_ring *ring;
	struct xen_argo_ring *mem;
	struct pair p;
	char msg[64], got[2048];
	uint32_t tx, expect_tx;
	ssize_t n;
	int i;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	A = fab_open(simd.sock);
	B = fab_open(simd.sock);
	CU_ASSERT_FATAL(A && B);
	ring = register_ring(B, 3000, argo_domid(A), len);
	CU_ASSERT_FATAL(ring != NULL);
	mem = ring->shared;

#define SEND_RECV_OK(text)                                                                         \
	do {                                                                                       \
		size_t l_ = strlen(text);                                                          \
		CHECK_EQ(send_bytes(A, argo_domid(B), 3000, (text), l_), l_, "send " text);        \
		CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), l_, "recv " text);         \
		CU_ASSERT(memcmp(got, (text), l_) == 0);                                           \
		CHECK_EQ(argo_notify(B, NULL), 0, "notify");                                       \
	} while (0)

	SEND_RECV_OK("first, before any scribbling");

	/* Garbage in the reserved bytes and in the free part of the ring. */
	memset(mem->reserved, 0xFF, sizeof(mem->reserved));
	memset(mem->ring, 0xA5, len);
	SEND_RECV_OK("after garbage in reserved and free data");

	/* tx_ptr is the daemon's: whatever we write there, it writes at its own
	 * tx and publishes that. Our reader meanwhile sees a corrupt ring. */
	{
		const uint32_t garbage[] = {0xFFFFFFFFu, 0xDEADBEEFu, 5, len, len + 16, 0};

		for (i = 0; i < (int)(sizeof(garbage) / sizeof(garbage[0])); i++) {
			tx = load32(&mem->tx_ptr);
			CHECK_EQ(load32(&mem->rx_ptr), tx, "ring empty before the tx scribble");
			store32(&mem->tx_ptr, garbage[i] ? garbage[i] : (tx + 256) % len);
			if (garbage[i]) {
				CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), -EBADMSG,
				         "recv with a garbage tx_ptr");
				CHECK_EQ(argo_peek(ring, NULL, NULL), -EBADMSG, "peek");
			}
			snprintf(msg, sizeof(msg), "after tx_ptr scribble %d", i);
			CHECK_EQ(send_bytes(A, argo_domid(B), 3000, msg, strlen(msg)), strlen(msg),
			         "send after a tx scribble");
			expect_tx = tx + argo_roundup16((uint32_t)strlen(msg) + 16);
			if (expect_tx >= len)
				expect_tx -= len;
			CHECK_EQ(load32(&mem->tx_ptr), expect_tx, "tx published by the daemon");
			CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), strlen(msg),
			         "recv after the daemon's tx");
			CU_ASSERT(memcmp(got, msg, strlen(msg)) == 0);
			argo_notify(B, NULL);
		}
	}

	/* rx_ptr garbage: the daemon sanitises it; sends succeed or say EAGAIN. */
	{
		const uint32_t garbage[] = {0xFFFFFFFFu, 5, len + 16, len, 0x80000000u, 1};

		for (i = 0; i < (int)(sizeof(garbage) / sizeof(garbage[0])); i++) {
			tx = load32(&mem->tx_ptr);
			store32(&mem->rx_ptr, garbage[i] == 1 ? tx + 1 : garbage[i]);
			CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), -EBADMSG,
			         "recv with a garbage rx_ptr");
			snprintf(msg, sizeof(msg), "after rx_ptr scribble %d", i);
			n = send_bytes(A, argo_domid(B), 3000, msg, strlen(msg));
			if (n != (ssize_t)strlen(msg) && n != -EAGAIN)
				note("send with rx_ptr 0x%x: %zd", garbage[i], n);
			CU_ASSERT(n == (ssize_t)strlen(msg) || n == -EAGAIN);
			store32(&mem->rx_ptr, tx); /* where the reader really was */
			if (n > 0) {
				CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), n,
				         "recv after restoring rx_ptr");
				CU_ASSERT(memcmp(got, msg, (size_t)n) == 0);
			} else {
				CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), -EAGAIN,
				         "nothing written on EAGAIN");
			}
			argo_notify(B, NULL);
		}
	}

	/* A reader "ahead" of the writer makes the ring look full: EAGAIN, and
	 * the sender is woken once the reader puts rx_ptr right and notifies. */
	tx = load32(&mem->tx_ptr);
	store32(&mem->rx_ptr, (tx + 16) % len);
	argo_event_clear(A);
	CHECK_EQ(send_bytes(A, argo_domid(B), 3000, "blocked", 7), -EAGAIN, "send to a full ring");
	store32(&mem->rx_ptr, tx);
	CHECK_EQ(argo_notify(B, NULL), 0, "notify after fixing rx_ptr");
	CHECK_EQ(argo_event_clear(A), 1, "sender woken");
	SEND_RECV_OK("after the wake-up");

	/* Garbage in an unread message's header: the reader refuses it. */
	{
		struct xen_argo_ring_message_header saved, bad;
		const uint32_t lens[] = {0xFFFFFFF0u, 0, 8, len};

		tx = load32(&mem->tx_ptr);
		CHECK_EQ(send_bytes(A, argo_domid(B), 3000, "victim of garbage", 17), 17, "send");
		memcpy(&saved, mem->ring + tx, sizeof(saved));
		for (i = 0; i < 4; i++) {
			bad = saved;
			bad.len = lens[i];
			memcpy(mem->ring + tx, &bad, sizeof(bad));
			CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), -EBADMSG,
			         "recv of a corrupt header");
		}
		memcpy(mem->ring + tx, &saved, sizeof(saved));
		CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), 17, "recv after repair");
		CU_ASSERT(memcmp(got, "victim of garbage", 17) == 0);
		argo_notify(B, NULL);
	}

	/* Chaos: a thread scribbles everywhere and reads while A sends. */
	{
		struct scribbler s = {.ring = ring};
		pthread_t thread;
		uint32_t seed = 777;
		unsigned long ok = 0, other = 0;
		static char payload[256];

		memset(payload, 'z', sizeof(payload));
		CU_ASSERT_FATAL(pthread_create(&thread, NULL, scribble_thread, &s) == 0);
		for (i = 0; i < 5000; i++) {
			size_t want = lcg(&seed) % 200;

			n = send_bytes(A, argo_domid(B), 3000, payload, want);
			if (n == (ssize_t)want)
				ok++;
			else if (n != -EAGAIN && other++ == 0)
				note("send during scribbling: %zd", n);
			if (i % 1000 == 999 && !pair_check(&p, 1))
				other++;
		}
		__atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
		pthread_join(thread, NULL);
		CHECK_EQ(other, 0, "sends neither done nor EAGAIN, or victims failing");
		CHECK_EQ(s.bad_recv, 0, "recv results other than a message, EAGAIN, EBADMSG");
		CU_ASSERT(ok > 0);
	}

	/*
	 * Back to a sane ring: with rx_ptr 0 or len/2 one of the two leaves at
	 * least half the ring free whatever the daemon's tx is, so a small send
	 * succeeds and publishes the true tx; the reader resumes right before.
	 */
	argo_event_clear(B);
	store32(&mem->rx_ptr, 0);
	n = send_bytes(A, argo_domid(B), 3000, "resynchronised!!", 16);
	if (n == -EAGAIN) {
		store32(&mem->rx_ptr, len / 2);
		n = send_bytes(A, argo_domid(B), 3000, "resynchronised!!", 16);
	}
	CHECK_EQ(n, 16, "send after the chaos");
	tx = load32(&mem->tx_ptr);
	store32(&mem->rx_ptr, (tx + len - 32) % len);
	CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), 16, "recv after the chaos");
	CU_ASSERT(memcmp(got, "resynchronised!!", 16) == 0);
	CHECK_EQ(argo_recv(ring, NULL, NULL, got, sizeof(got)), -EAGAIN, "then empty");
	argo_notify(B, NULL);
	SEND_RECV_OK("business as usual");
#undef SEND_RECV_OK

	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 3));
	finish();
}

/* ---- Floods ------------------------------------------------------------- */

static void test_request_flood(void)
{
	struct argo_sim_req_notify notify = {.hdr.op = ARGO_SIM_OP_NOTIFY};
	uint32_t sent = 0, got = 0, bad = 0;
	long rss_before, rss_held, rss_after;
	int64_t deadline;
	struct pair p;
	struct raw *r;
	int ret;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT(pair_check(&p, 2));
	rss_before = daemon_rss_kb();
	CU_ASSERT(rss_before > 0);

	/* Requests until the kernel pushes back; no reply read. */
	while (sent < FLOOD_REQUESTS) {
		notify.hdr.cookie = sent + 1;
		ret = send_packet(r->sock, &notify, sizeof(notify), NULL, 0, MSG_DONTWAIT);
		if (ret == -EAGAIN)
			break;
		CU_ASSERT_EQUAL_FATAL(ret, 0);
		sent++;
	}
	CU_ASSERT(sent > 0);
	CU_ASSERT(sent < FLOOD_REQUESTS); /* the socket did push back */
	/* The daemon keeps serving the others while the flooder sits. */
	CU_ASSERT(pair_check(&p, 50));
	rss_held = daemon_rss_kb();
	if (rss_held - rss_before >= FLOOD_RSS_LIMIT_KB)
		note("RSS %ld kB -> %ld kB", rss_before, rss_held);
	CU_ASSERT(rss_held - rss_before < FLOOD_RSS_LIMIT_KB);

	/* Then the flooder reads and sends on, to the end: replies in order. */
	deadline = now_ms() + 20 * TIMEOUT_MS;
	while (got < FLOOD_REQUESTS) {
		struct pollfd pfd = {.fd = r->sock, .events = POLLIN};
		int pr;

		if (sent < FLOOD_REQUESTS)
			pfd.events |= POLLOUT;
		pr = poll(&pfd, 1, TIMEOUT_MS);
		if (pr <= 0 || now_ms() > deadline) {
			note("flood stalled: sent %u, replies %u", sent, got);
			CU_FAIL("flood stalled");
			break;
		}
		if (pfd.revents & POLLIN) {
			struct argo_sim_reply rep;
			ssize_t n;

			while ((n = recv(r->sock, &rep, sizeof(rep), MSG_DONTWAIT)) > 0) {
				if (n != sizeof(rep) || rep.cookie != got + 1 || rep.ret != 0) {
					if (bad++ == 0)
						note("reply %u: %zd bytes, cookie %u, ret %d",
						     got + 1, n, rep.cookie, rep.ret);
				}
				got++;
				if (got % 20000 == 0 && !pair_check(&p, 1))
					bad++;
			}
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				CU_FAIL("flooder's connection dropped");
				break;
			}
		}
		if (pfd.revents & (POLLHUP | POLLERR)) {
			CU_FAIL("flooder's connection dropped");
			break;
		}
		while (sent < FLOOD_REQUESTS) {
			notify.hdr.cookie = sent + 1;
			ret = send_packet(r->sock, &notify, sizeof(notify), NULL, 0, MSG_DONTWAIT);
			if (ret == -EAGAIN)
				break;
			if (ret < 0) {
				CU_FAIL("flooder's send failed");
				break;
			}
			sent++;
		}
	}
	CHECK_EQ(got, FLOOD_REQUESTS, "replies");
	CHECK_EQ(bad, 0, "replies out of order or failed");
	rss_after = daemon_rss_kb();
	if (rss_after - rss_before >= FLOOD_RSS_LIMIT_KB)
		note("RSS %ld kB -> %ld kB", rss_before, rss_after);
	CU_ASSERT(rss_after - rss_before < FLOOD_RSS_LIMIT_KB);
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 3));
	finish();
}

static void test_many_connections(void)
{
	static struct argo_fabric *f[MANY_DOMAINS];
	static uint8_t seen[XEN_DOMID_FIRST_RESERVED];
	struct argo_ring *ring;
	unsigned int dups = 0, failed = 0;
	struct pair p;
	int i;

	START_DAEMON();
	CU_ASSERT_FATAL(pair_setup(&p));
	memset(seen, 0, sizeof(seen));
	seen[argo_domid(p.a)] = seen[argo_domid(p.b)] = 1;
	for (i = 0; i < MANY_DOMAINS; i++) {
		f[i] = fab_open(simd.sock);
		if (!f[i]) {
			failed++;
			break;
		}
		if (argo_domid(f[i]) >= XEN_DOMID_FIRST_RESERVED || seen[argo_domid(f[i])]++)
			dups++;
		ring = register_ring(f[i], 4000, argo_domid(p.a), 4096);
		if (!ring) {
			failed++;
			continue;
		}
		/* Every 50th gets a message from a victim, while all are open. */
		if (i % 50 == 0 && !exchange(p.a, f[i], ring, (unsigned int)i))
			failed++;
	}
	CHECK_EQ(failed, 0, "domains that could not open, register or receive");
	CHECK_EQ(dups, 0, "duplicate domids");
	CU_ASSERT(daemon_wait_domains(MANY_DOMAINS + 2));
	CU_ASSERT(pair_check(&p, 2));
	for (i = 0; i < MANY_DOMAINS; i++)
		fab_close(f[i]);
	CU_ASSERT(daemon_wait_domains(2));
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* Lines of the daemon's stderr that contain text. */
static unsigned long count_log_lines(const char *text)
{
	char *log = read_file(simd.log), *p, *line;
	unsigned long n = 0;

	if (!log)
		return 0;
	for (line = log; line && *line; line = p ? p + 1 : NULL) {
		p = strchr(line, '\n');
		if (p)
			*p = '\0';
		if (strstr(line, text))
			n++;
	}
	free(log);
	return n;
}

/*
 * A connection flood that runs the daemon out of fds. Four runs with
 * consecutive fd limits: each accepted domain takes four fds, so in one of
 * them accept() itself is what fails. Whatever the daemon does with the
 * connections it cannot take (leave them queued, or refuse them), it must
 * keep serving the domains it has, must not spin on its listening socket
 * (which shows as one log line per failed accept, hundreds of thousands a
 * second), and must take new domains again once the flood has gone.
 */
static void test_fd_exhaustion(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	rlim_t lim;

	memcpy(addr.sun_path, simd.sock, strlen(simd.sock) + 1);
	for (lim = 40; lim < 44; lim++) {
		int socks[20], i;
		unsigned long spins;
		struct argo_fabric *late;
		struct argo_ring *ring;
		struct pair p;

		unlink(simd.log);
		simd_nofile = lim;
		START_DAEMON();
		CU_ASSERT_FATAL(pair_setup(&p));
		for (i = 0; i < 20; i++) {
			socks[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
			if (socks[i] >= 0 &&
			    connect(socks[i], (struct sockaddr *)&addr, sizeof(addr)) < 0) {
				close(socks[i]);
				socks[i] = -1;
			}
		}
		/* Many loops of the daemon: every pending accept was tried. */
		CU_ASSERT(pair_check(&p, 100));
		spins = count_log_lines("accept on");
		if (spins > 50)
			note("fd limit %lu: %lu failed accepts logged while serving 400 requests",
			     (unsigned long)lim, spins);
		CU_ASSERT(spins <= 50);
		for (i = 0; i < 20; i++)
			if (socks[i] >= 0)
				close(socks[i]);
		CU_ASSERT(daemon_wait_domains(2));
		late = fab_open(simd.sock);
		CU_ASSERT(late != NULL);
		if (late) {
			ring = register_ring(late, 5000, argo_domid(p.a), 4096);
			CU_ASSERT(ring && exchange(p.a, late, ring, 1));
		}
		CU_ASSERT(pair_check(&p, 2));
		finish();
	}
	simd_nofile = 0;
}

/* ---- Static domain sockets ----------------------------------------------- */

static void test_static_domain(void)
{
	char spath[PATH_LEN], arg[PATH_LEN + 8];
	struct argo_fabric *s5, *other, *dyn[6];
	struct argo_ring *ring;
	int64_t deadline;
	struct pair p;
	int ret, i;

	CU_ASSERT_FATAL(tpath(spath, "dom5.sock"));
	snprintf(arg, sizeof(arg), "5=%s", spath);
	{
		const char *const extra[] = {"-D", arg, NULL};

		CU_ASSERT_FATAL(daemon_start(true, extra));
	}
	CU_ASSERT_FATAL(pair_setup(&p));

	s5 = fab_open(spath);
	CU_ASSERT_FATAL(s5 != NULL);
	CHECK_EQ(argo_domid(s5), 5, "static domid");
	other = fab_open_ret(spath, &ret);
	CU_ASSERT(other == NULL);
	CHECK_EQ(ret, -EBUSY, "second connection on a static socket");
	fab_close(other);

	/* Dynamic domids skip the static one. */
	for (i = 0; i < 6; i++) {
		dyn[i] = fab_open(simd.sock);
		CU_ASSERT_FATAL(dyn[i] != NULL);
		CU_ASSERT(argo_domid(dyn[i]) != 5);
	}
	ring = register_ring(s5, 7000, argo_domid(p.a), 4096);
	CU_ASSERT_FATAL(ring != NULL);
	CU_ASSERT(exchange(p.a, s5, ring, 1));
	/* The refused connection made no domain. */
	CU_ASSERT(daemon_wait_domains(2 + 1 + 6));

	fab_close(s5);
	/* The daemon sees the close in its own time: retry while it says EBUSY. */
	deadline = now_ms() + TIMEOUT_MS;
	for (;;) {
		s5 = fab_open_ret(spath, &ret);
		if (ret != -EBUSY || now_ms() > deadline)
			break;
		poll_pause();
	}
	CU_ASSERT_FATAL(s5 != NULL);
	CHECK_EQ(argo_domid(s5), 5, "static domid again");
	/* A new domain 5: the old one's ring is gone. */
	{
		xen_argo_send_addr_t addr = {
		    .src = {.domain_id = XEN_ARGO_DOMID_ANY},
		    .dst = {.aport = 7000, .domain_id = 5},
		};

		CHECK_EQ(argo_sendv(p.a, &addr, NULL, 0, 0), -ECONNREFUSED, "old ring of domain 5");
	}
	ring = register_ring(s5, 7000, argo_domid(p.a), 4096);
	CU_ASSERT_FATAL(ring != NULL);
	CU_ASSERT(exchange(p.a, s5, ring, 2));
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* ---- Durable rings and tagged sends (libargo's extension for relays) ----- */

#define DUR_DOMID 5
#define DUR_PORT  7000u
#define DUR_LEN   4096u
#define DUR_TAG   0xC0FFEE0000000001ull
#define DUR_MARK  "reserved bytes survive"

/* Starts the daemon with a dynamic socket and a static one for DUR_DOMID
 * (its path into spath). */
static bool durable_daemon(char spath[PATH_LEN])
{
	char arg[PATH_LEN + 8];
	const char *const extra[] = {"-D", arg, NULL};

	if (!tpath(spath, "dom5.sock"))
		return false;
	snprintf(arg, sizeof(arg), "%d=%s", DUR_DOMID, spath);
	return daemon_start(true, extra);
}

static int durable_msg(char *buf, size_t len, unsigned int seq)
{
	return snprintf(buf, len, "durable message %u, padded to a size of its own: %0*u", seq,
	                (int)(seq % 7 + 1), seq);
}

/* Sends message seq from f to (domid, aport); the sendv result. */
static ssize_t durable_send(struct argo_fabric *f, argo_domid_t domid, uint32_t aport,
                            unsigned int seq)
{
	char msg[128];
	int len = durable_msg(msg, sizeof(msg), seq);
	xen_argo_send_addr_t addr = {
	    .src = {.aport = 77, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = aport, .domain_id = domid},
	};
	struct iovec iov = {.iov_base = msg, .iov_len = (size_t)len};

	return argo_sendv(f, &addr, &iov, 1, seq);
}

/* Receives the next message of ring: true if it is message seq from 'from'. */
static bool durable_recv(struct argo_ring *ring, argo_domid_t from, unsigned int seq)
{
	char want[128], got[256];
	int len = durable_msg(want, sizeof(want), seq);
	xen_argo_addr_t src;
	uint32_t type = 0;
	ssize_t n = argo_recv(ring, &src, &type, got, sizeof(got));

	if (n != len || memcmp(got, want, (size_t)len) != 0 || src.domain_id != from ||
	    src.aport != 77 || type != seq) {
		note("durable message %u: got %zd (%s) from %u type %u", seq, n,
		     n < 0 ? argo_strerror((int)n) : "content", src.domain_id, type);
		return false;
	}
	return true;
}

/* notify's view of (domid, aport) from f: its flags, or -errno. */
static int ring_flags(struct argo_fabric *f, argo_domid_t domid, uint32_t aport)
{
	struct {
		xen_argo_ring_data_t rd;
		xen_argo_ring_data_ent_t ent;
	} q;
	int ret;

	memset(&q, 0, sizeof(q));
	q.rd.nent = 1;
	q.rd.data[0].ring.domain_id = domid;
	q.rd.data[0].ring.aport = aport;
	ret = argo_notify(f, &q.rd);
	return ret < 0 ? ret : q.rd.data[0].flags;
}

/* Waits until (domid, aport) no longer exists as f sees it (f must be the
 * ring's partner): the daemon has seen its owner's process go. */
static bool wait_ring_gone(struct argo_fabric *f, argo_domid_t domid, uint32_t aport)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;

	for (;;) {
		int flags = ring_flags(f, domid, aport);

		if (flags < 0) {
			note("notify: %s", argo_strerror(flags));
			return false;
		}
		if (!(flags & XEN_ARGO_RING_EXISTS))
			return true;
		if (now_ms() > deadline) {
			note("ring %u:%u still there after %d ms", domid, aport, TIMEOUT_MS);
			return false;
		}
		poll_pause();
	}
}

static int poll_in(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n;
}

/* What the child reports once it has consumed a message and sent tagged. */
struct durable_report {
	uint32_t rx_ptr, tx_ptr;
};

/*
 * The child, a process of the static domain: registers a persistent ring
 * and an ordinary one for 'sender', tells the parent its domid, waits for
 * "go", receives message 0 on the persistent ring, marks the header's
 * reserved bytes, does a tagged send to sender:DUR_PORT+2, reports its
 * ring pointers, and waits to be killed. Exit codes name the failing step.
 */
static void durable_child(const char *spath, argo_domid_t sender, int up, int down)
{
	xen_argo_register_ring_t reg = {.aport = DUR_PORT, .partner_id = sender, .len = DUR_LEN};
	xen_argo_send_addr_t addr = {
	    .src = {.aport = 9, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = DUR_PORT + 2, .domain_id = sender},
	};
	struct iovec iov = {.iov_base = "tagged", .iov_len = 6};
	struct durable_report rep;
	struct argo_ring *ring, *plain;
	struct argo_fabric *f;
	char uri[PATH_LEN + 8], c;
	argo_domid_t domid;

	snprintf(uri, sizeof(uri), "sim:%s", spath);
	if (argo_open(uri, &f) < 0)
		_exit(20);
	if (argo_register_ring_persistent(f, &reg, 0, &ring) < 0)
		_exit(21);
	reg.aport = DUR_PORT + 1;
	if (argo_register_ring(f, &reg, 0, &plain) < 0)
		_exit(22);
	domid = argo_domid(f);
	if (write(up, &domid, sizeof(domid)) != (ssize_t)sizeof(domid))
		_exit(23);
	if (!wait_byte(down, &c, TIMEOUT_MS))
		_exit(24);
	if (poll_in(argo_event_fd(f), TIMEOUT_MS) != 1)
		_exit(25);
	argo_event_clear(f);
	if (!durable_recv(ring, sender, 0))
		_exit(26);
	memcpy(ring->shared->reserved, DUR_MARK, sizeof(DUR_MARK));
	if (argo_notify(f, NULL) != 0)
		_exit(27);
	if (argo_sendv_tagged(f, &addr, &iov, 1, 0, DUR_TAG) != 6)
		_exit(28);
	rep.rx_ptr = __atomic_load_n(&ring->shared->rx_ptr, __ATOMIC_ACQUIRE);
	rep.tx_ptr = __atomic_load_n(&ring->shared->tx_ptr, __ATOMIC_ACQUIRE);
	if (write(up, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(29);
	for (;;)
		pause();
}

/*
 * A process of a static domain is SIGKILLed: its persistent ring stays
 * registered and takes messages, its ordinary ring goes, and the next
 * process on the socket gets the same domain, an event, the ring as it was
 * with every message, and the last send tag.
 */
static void test_durable_sigkill(void)
{
	char spath[PATH_LEN], tagged[16], msg[128];
	struct durable_report rep = {0};
	struct argo_ring *back, *ring = NULL, *none = NULL;
	argo_domid_t domid = 0, sender;
	struct argo_fabric *s5;
	int up[2], down[2], status = 0, ret;
	uint64_t tag = 0;
	char first[128];
	int first_len;
	struct pair p;
	pid_t pid;

	CU_ASSERT_FATAL(durable_daemon(spath));
	CU_ASSERT_FATAL(pair_setup(&p));
	sender = argo_domid(p.a);
	CU_ASSERT_FATAL(pipe2(up, O_CLOEXEC) == 0);
	CU_ASSERT_FATAL(pipe2(down, O_CLOEXEC) == 0);
	fflush(stdout);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		durable_child(spath, sender, up[1], down[0]);
		_exit(1);
	}
	track_child(pid);
	close(up[1]);
	close(down[0]);
	if (poll_in(up[0], TIMEOUT_MS) != 1 ||
	    read(up[0], &domid, sizeof(domid)) != (ssize_t)sizeof(domid)) {
		wait_exit(pid, TIMEOUT_MS, &status);
		note("child gave no domid: exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		CU_FAIL_FATAL("child set-up");
	}
	CHECK_EQ(domid, DUR_DOMID, "static domid of the child");
	back = register_ring(p.a, DUR_PORT + 2, DUR_DOMID, 4096);
	CU_ASSERT_FATAL(back != NULL);
	CHECK_EQ(durable_send(p.a, DUR_DOMID, DUR_PORT, 0), durable_msg(first, sizeof(first), 0),
	         "message 0");
	CU_ASSERT_FATAL(write(down[1], "g", 1) == 1);
	if (poll_in(up[0], TIMEOUT_MS) != 1 ||
	    read(up[0], &rep, sizeof(rep)) != (ssize_t)sizeof(rep)) {
		wait_exit(pid, TIMEOUT_MS, &status);
		note("child gave no report: exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		CU_FAIL_FATAL("child steps");
	}
	CHECK_EQ(argo_recv(back, NULL, NULL, tagged, sizeof(tagged)), 6, "the child's tagged send");
	first_len = durable_msg(first, sizeof(first), 0);
	CHECK_EQ(rep.rx_ptr, argo_roundup16(sizeof(xen_argo_ring_message_header_t) + first_len),
	         "child's rx_ptr");

	kill(pid, SIGKILL);
	ret = wait_exit(pid, TIMEOUT_MS, &status);
	CU_ASSERT_EQUAL(ret, 0);
	if (ret == 0)
		untrack_child(pid);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(up[0]);
	close(down[1]);

	/* Detached: the ordinary ring goes, the domain and its persistent ring
	 * stay and take two more messages. */
	CU_ASSERT_FATAL(wait_ring_gone(p.a, DUR_DOMID, DUR_PORT + 1));
	CHECK_EQ(ring_flags(p.a, DUR_DOMID, DUR_PORT) & XEN_ARGO_RING_EXISTS, XEN_ARGO_RING_EXISTS,
	         "persistent ring while detached");
	for (unsigned int seq = 1; seq <= 2; seq++)
		CHECK_EQ(durable_send(p.a, DUR_DOMID, DUR_PORT, seq),
		         durable_msg(msg, sizeof(msg), seq), "send to the detached domain");
	CHECK_EQ(durable_send(p.a, DUR_DOMID, DUR_PORT + 1, 3), -ECONNREFUSED, "the ordinary ring");
	CU_ASSERT(daemon_wait_domains(3));

	/* The next process. */
	s5 = fab_open(spath);
	CU_ASSERT_FATAL(s5 != NULL);
	CHECK_EQ(argo_domid(s5), DUR_DOMID, "domid after the restart");
	CHECK_EQ(poll_in(argo_event_fd(s5), 0), 1, "event on attach");
	CHECK_EQ(argo_adopt_ring(s5, &ring), 0, "adopt");
	CU_ASSERT_FATAL(ring != NULL);
	CHECK_EQ(ring->aport, DUR_PORT, "adopted aport");
	CHECK_EQ(ring->partner_id, sender, "adopted partner");
	CHECK_EQ(ring->len, DUR_LEN, "adopted len");
	CHECK_EQ(ring->shared->rx_ptr, rep.rx_ptr, "rx_ptr where the child left it");
	CHECK_EQ(ring->shared->tx_ptr,
	         rep.tx_ptr +
	             argo_roundup16(sizeof(xen_argo_ring_message_header_t) +
	                            (uint32_t)durable_msg(msg, sizeof(msg), 1)) +
	             argo_roundup16(sizeof(xen_argo_ring_message_header_t) +
	                            (uint32_t)durable_msg(msg, sizeof(msg), 2)),
	         "tx_ptr after 2 more");
	CHECK_EQ(rep.tx_ptr, rep.rx_ptr, "the child's ring was empty");
	CU_ASSERT(memcmp(ring->shared->reserved, DUR_MARK, sizeof(DUR_MARK)) == 0);
	/* The consumed message is still in the memory, before rx_ptr. */
	CU_ASSERT(memcmp(ring->shared->ring + sizeof(xen_argo_ring_message_header_t), first,
	                 (size_t)first_len) == 0);
	CU_ASSERT(durable_recv(ring, sender, 1));
	CU_ASSERT(durable_recv(ring, sender, 2));
	CHECK_EQ(argo_recv(ring, NULL, NULL, NULL, 0), -EAGAIN, "nothing more");
	CHECK_EQ(argo_adopt_ring(s5, &none), -ENOENT, "second adopt");
	CU_ASSERT(none == NULL);
	CHECK_EQ(argo_last_send_tag(s5, &tag), 0, "last send tag");
	CU_ASSERT(tag == DUR_TAG);
	/* p.a's ring for the domain stayed through the detach. */
	CHECK_EQ(ring_flags(s5, sender, DUR_PORT + 2) & XEN_ARGO_RING_EXISTS, XEN_ARGO_RING_EXISTS,
	         "partner ring of the detached domain");
	/* The adopted ring works on. */
	CU_ASSERT(exchange(p.a, s5, ring, 10));
	/* Unregistered, it goes for good: the domain dies with this process. */
	CHECK_EQ(argo_unregister_ring(s5, ring), 0, "unregister the adopted ring");
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/*
 * A sender blocked with -EAGAIN on a full persistent ring of a detached
 * domain stays queued, and is woken when the next process has adopted the
 * ring, consumed and notified.
 */
static void test_durable_waiter_woken(void)
{
	char spath[PATH_LEN];
	struct argo_ring *ring, *plain;
	struct argo_fabric *s5;
	xen_argo_register_ring_t reg = {.aport = DUR_PORT, .len = 256};
	unsigned int sent = 0, i;
	ssize_t n = 0;
	struct pair p;

	CU_ASSERT_FATAL(durable_daemon(spath));
	CU_ASSERT_FATAL(pair_setup(&p));
	s5 = fab_open(spath);
	CU_ASSERT_FATAL(s5 != NULL);
	reg.partner_id = argo_domid(p.a);
	CHECK_EQ(argo_register_ring_persistent(s5, &reg, 0, &ring), 0, "persistent register");
	plain = register_ring(s5, DUR_PORT + 1, argo_domid(p.a), 4096);
	CU_ASSERT_FATAL(plain != NULL);
	fab_close(s5); /* the process goes */
	CU_ASSERT_FATAL(wait_ring_gone(p.a, DUR_DOMID, DUR_PORT + 1));

	/* Fill the detached ring until the sender is queued. */
	argo_event_clear(p.a);
	for (sent = 0; sent < 16; sent++) {
		n = durable_send(p.a, DUR_DOMID, DUR_PORT, sent);
		if (n < 0)
			break;
	}
	CHECK_EQ(n, -EAGAIN, "send to the full detached ring");
	CU_ASSERT_FATAL(sent > 0 && sent < 16);
	CHECK_EQ(poll_in(argo_event_fd(p.a), 0), 0, "no event yet");

	s5 = fab_open(spath);
	CU_ASSERT_FATAL(s5 != NULL);
	ring = NULL;
	CHECK_EQ(argo_adopt_ring(s5, &ring), 0, "adopt");
	CU_ASSERT_FATAL(ring != NULL);
	CHECK_EQ(poll_in(argo_event_fd(p.a), 0), 0, "no event before the notify");
	argo_event_clear(s5);
	for (i = 0; i < sent; i++)
		CU_ASSERT(durable_recv(ring, argo_domid(p.a), i));
	CHECK_EQ(argo_notify(s5, NULL), 0, "notify");
	CHECK_EQ(poll_in(argo_event_fd(p.a), 0), 1, "the waiting sender's event");
	argo_event_clear(p.a);
	{
		char msg[128];

		CHECK_EQ(durable_send(p.a, DUR_DOMID, DUR_PORT, sent),
		         durable_msg(msg, sizeof(msg), sent), "the retried send");
	}
	CHECK_EQ(poll_in(argo_event_fd(s5), 0), 1, "event for the new message");
	CU_ASSERT(durable_recv(ring, argo_domid(p.a), sent));
	CHECK_EQ(argo_notify(s5, NULL), 0, "notify");

	/* An immediate restart is attached, not refused, whether or not the
	 * daemon has handled the hang-up yet. */
	fab_close(s5);
	s5 = fab_open(spath);
	CU_ASSERT_FATAL(s5 != NULL);
	CHECK_EQ(argo_domid(s5), DUR_DOMID, "domid after an immediate restart");
	ring = NULL;
	CHECK_EQ(argo_adopt_ring(s5, &ring), 0, "adopt after an immediate restart");
	CU_ASSERT_FATAL(ring != NULL);
	CHECK_EQ(argo_recv(ring, NULL, NULL, NULL, 0), -EAGAIN, "everything was read");
	CHECK_EQ(argo_unregister_ring(s5, ring), 0, "unregister");
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* LAST_TAG over a raw connection: its ret, or the tag in *tag. */
static int raw_last_tag(struct raw *r, uint64_t *tag)
{
	struct argo_sim_req_hdr req = {.op = ARGO_SIM_OP_LAST_TAG};
	struct argo_sim_last_tag_reply body;
	struct reply rep;
	int ret = raw_call(r, &req, sizeof(req), NULL, 0, &rep, NULL);

	if (ret < 0)
		return ret;
	if (rep.hdr.ret != 0)
		return rep.hdr.ret;
	if (rep.body_len != sizeof(body))
		return -EPROTO;
	memcpy(&body, rep.body, sizeof(body));
	*tag = body.tag;
	return 0;
}

/*
 * The extension where it does not apply (a dynamic domain), its argument
 * checks, and hostile requests for its ops.
 */
static void test_durable_unsupported_and_malformed(void)
{
	xen_argo_register_ring_t reg = {.aport = DUR_PORT, .len = 4096};
	char spath[PATH_LEN], buf[128];
	struct argo_ring *ring = NULL;
	struct raw *r, *rd;
	uint64_t tag = 1;
	struct pair p;
	int memfd;

	CU_ASSERT_FATAL(durable_daemon(spath));
	CU_ASSERT_FATAL(pair_setup(&p));

	/* A dynamic domain dies with its connection: nothing to keep. */
	reg.partner_id = argo_domid(p.b);
	CHECK_EQ(argo_register_ring_persistent(p.a, &reg, 0, &ring), -EOPNOTSUPP,
	         "persistent register on a dynamic domain");
	CU_ASSERT(ring == NULL);
	CHECK_EQ(argo_adopt_ring(p.a, &ring), -EOPNOTSUPP, "adopt on a dynamic domain");
	CHECK_EQ(argo_register_ring_persistent(p.a, NULL, 0, &ring), -EFAULT, "NULL reg");
	CHECK_EQ(argo_adopt_ring(p.a, NULL), -EFAULT, "NULL ringp");
	CHECK_EQ(argo_last_send_tag(p.a, NULL), -EFAULT, "NULL tag");
	/* Tags work on any sim domain, for the life of the domain. */
	CHECK_EQ(argo_last_send_tag(p.a, &tag), 0, "last tag");
	CU_ASSERT(tag == 0);
	{
		xen_argo_send_addr_t addr = {
		    .src = {.aport = 5, .domain_id = XEN_ARGO_DOMID_ANY},
		    .dst = {.aport = PAIR_PORT, .domain_id = argo_domid(p.b)},
		};
		struct iovec iov = {.iov_base = "t", .iov_len = 1};

		CHECK_EQ(argo_sendv_tagged(p.a, &addr, &iov, 1, 0, 77), 1, "tagged send");
		CHECK_EQ(argo_recv(p.rb, NULL, NULL, buf, sizeof(buf)), 1, "tagged message");
		addr.dst.aport = 4242;
		CHECK_EQ(argo_sendv_tagged(p.a, &addr, &iov, 1, 0, 78), -ECONNREFUSED,
		         "failed tagged send");
		addr.dst.aport = PAIR_PORT;
		CHECK_EQ(argo_sendv_tagged(p.a, &addr, &iov, 1, 0, 0), 1, "tag 0 send");
		CHECK_EQ(argo_recv(p.rb, NULL, NULL, buf, sizeof(buf)), 1, "tag 0 message");
		CHECK_EQ(argo_sendv_tagged(p.a, &addr, NULL, 1, 0, 79), -EFAULT, "NULL iov");
		CHECK_EQ(argo_last_send_tag(p.a, &tag), 0, "last tag");
		CU_ASSERT(tag == 77);
		argo_notify(p.b, NULL);
	}

	/* Raw requests. */
	r = raw_connect(spath);
	CU_ASSERT_FATAL(r != NULL);
	rd = raw_connect(simd.sock);
	CU_ASSERT_FATAL(rd != NULL);
	memfd = make_ring_memfd(4096);
	CU_ASSERT_FATAL(memfd >= 0);
	{
		struct argo_sim_req_register req = reg_req(DUR_PORT, argo_domid(p.a), 4096);

		req.lib_flags = 0x2;
		expect_reply(r, &req, sizeof(req), &memfd, 1, -EINVAL, "register, lib_flags 0x2");
		req.lib_flags = 0x80000001u;
		expect_reply(r, &req, sizeof(req), &memfd, 1, -EINVAL,
		             "register, lib_flags bit 31");
		req.lib_flags = ARGO_SIM_REG_PERSIST;
		expect_reply(rd, &req, sizeof(req), &memfd, 1, -EOPNOTSUPP,
		             "persistent register, dynamic");
		req.flags = 0x2;
		expect_reply(r, &req, sizeof(req), &memfd, 1, -EINVAL, "persistent, Xen flag 0x2");
		req.flags = 0;
		req.reg.pad = 1;
		expect_reply(r, &req, sizeof(req), &memfd, 1, -EINVAL, "persistent, pad set");
		req.reg.pad = 0;
		expect_reply(r, &req, sizeof(req) - 4, &memfd, 1, -EINVAL,
		             "register without lib_flags (version 1 size)");
		expect_reply(r, &req, sizeof(req), &memfd, 1, 0, "persistent register, static");
	}
	close(memfd);
	{
		struct {
			struct argo_sim_req_hdr hdr;
			uint32_t extra[4];
		} big;
		struct argo_sim_req_hdr req;
		struct probe pr;
		struct reply rep;

		memset(&big, 0, sizeof(big));
		big.hdr.op = ARGO_SIM_OP_ADOPT;
		expect_reply(r, &big, sizeof(big.hdr) + 4, NULL, 0, -EINVAL,
		             "adopt, 4 bytes too long");
		expect_reply(r, &big, sizeof(big), NULL, 0, -EINVAL, "adopt, 16 bytes too long");
		CU_ASSERT_FATAL(probe_new(&pr));
		expect_reply(r, &big, sizeof(big.hdr), &pr.wr, 1, -EINVAL, "adopt with an fd");
		CU_ASSERT(probe_closed(&pr));
		big.hdr.op = ARGO_SIM_OP_LAST_TAG;
		expect_reply(r, &big, sizeof(big.hdr) + 1, NULL, 0, -EINVAL,
		             "last_tag, 1 byte too long");
		CU_ASSERT_FATAL(probe_new(&pr));
		expect_reply(r, &big, sizeof(big.hdr), &pr.wr, 1, -EINVAL, "last_tag with an fd");
		CU_ASSERT(probe_closed(&pr));
		/* Well-formed: nothing to adopt (this connection holds its ring),
		 * and no fd with the error. */
		memset(&req, 0, sizeof(req));
		req.op = ARGO_SIM_OP_ADOPT;
		CU_ASSERT_EQUAL(raw_call(r, &req, sizeof(req), NULL, 0, &rep, NULL), 0);
		CHECK_EQ(rep.hdr.ret, -ENOENT, "adopt with nothing left");
		CHECK_EQ(rep.body_len, 0, "adopt error body");
		expect_reply(rd, &req, sizeof(req), NULL, 0, -EOPNOTSUPP, "adopt, dynamic");
	}
	/* A raw tagged sendv; LAST_TAG reads it back; an untagged one keeps it. */
	{
		struct {
			struct argo_sim_req_sendv req;
			struct xen_argo_iov iov;
		} s;
		uint8_t *staging = raw_staging(r);

		CU_ASSERT_FATAL(staging != NULL);
		CHECK_EQ(raw_last_tag(r, &tag), 0, "raw last_tag");
		CU_ASSERT(tag == 0);
		memset(&s, 0, sizeof(s));
		s.req.hdr.op = ARGO_SIM_OP_SENDV;
		s.req.addr.src.domain_id = XEN_ARGO_DOMID_ANY;
		s.req.addr.dst.domain_id = argo_domid(p.b);
		s.req.addr.dst.aport = 4242; /* no ring: refused, tag unchanged */
		s.req.niov = 1;
		s.req.tag = 0x1234;
		s.iov.iov_len = 0;
		expect_reply(r, &s, sizeof(s), NULL, 0, -ECONNREFUSED, "raw tagged send, no ring");
		CHECK_EQ(raw_last_tag(r, &tag), 0, "raw last_tag");
		CU_ASSERT(tag == 0);
		CU_ASSERT_FATAL(register_ring(p.b, 4242, r->domid, 4096) != NULL);
		expect_reply(r, &s, sizeof(s), NULL, 0, 0, "raw tagged send");
		s.req.tag = 0;
		expect_reply(r, &s, sizeof(s), NULL, 0, 0, "raw untagged send");
		CHECK_EQ(raw_last_tag(r, &tag), 0, "raw last_tag");
		CU_ASSERT(tag == 0x1234);
		expect_reply(r, &s, sizeof(s) - 8, NULL, 0, -EFAULT,
		             "sendv without the tag (version 1 layout)");
	}
	/* The static raw domain lets its ring go, so it dies with its socket. */
	{
		struct argo_sim_req_unregister unreg;

		memset(&unreg, 0, sizeof(unreg));
		unreg.hdr.op = ARGO_SIM_OP_UNREGISTER;
		unreg.unreg.aport = DUR_PORT;
		unreg.unreg.partner_id = argo_domid(p.a);
		expect_reply(r, &unreg, sizeof(unreg), NULL, 0, 0,
		             "unregister the persistent ring");
	}
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));
	finish();
}

/* Open fds of the daemon. */
static int daemon_fds(void)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)simd.pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static bool wait_daemon_fds(int want)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;
	int n;

	while ((n = daemon_fds()) != want) {
		if (now_ms() > deadline) {
			note("argo-simd has %d fds, want %d", n, want);
			return false;
		}
		poll_pause();
	}
	return true;
}

/* Bytes of our requests the daemon has not read yet, or queued replies. */
static int sock_queue(int sock, unsigned long what)
{
	int n = -1;

	return ioctl(sock, what, &n) < 0 ? -1 : n;
}

/* Waits until the daemon has read every request we sent. */
static bool wait_requests_read(int sock)
{
	int64_t deadline = now_ms() + TIMEOUT_MS;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000};

	while (sock_queue(sock, SIOCOUTQ) != 0) {
		if (now_ms() > deadline) {
			note("argo-simd does not read our requests");
			return false;
		}
		nanosleep(&ts, NULL);
	}
	return true;
}

/*
 * Brings the daemon to hold an ADOPT reply, with its fd, because r's socket
 * is full. First it learns how many replies fit: notifies one at a time,
 * their replies never read, until one is held (each time the daemon has read
 * the request, and a round trip of another domain, barrier, shows that it
 * has finished it: the reply is then either in our queue or held; a
 * last_tag request, since a notify without waiters may never reach the
 * daemon). Then it
 * reads every reply, the held one included, and sends that many notifies
 * and ADOPT: ADOPT's reply finds the socket full. True when it is held.
 * (Waiting for the held reply to go needs many replies read: a unix socket
 * polls writable again only when 3/4 of its send buffer is free.)
 */
static bool hold_adopt_reply(struct raw *r, struct argo_fabric *barrier)
{
	struct argo_sim_req_notify notify = {.hdr.op = ARGO_SIM_OP_NOTIFY};
	struct argo_sim_req_hdr adopt = {.op = ARGO_SIM_OP_ADOPT, .cookie = 0xADAD};
	struct argo_sim_reply rep;
	int inq = 0, before, fit, i;
	uint64_t tag;

	for (fit = 0; fit < 100000; fit++) {
		notify.hdr.cookie = (uint32_t)fit;
		if (send_packet(r->sock, &notify, sizeof(notify), NULL, 0, 0) < 0 ||
		    !wait_requests_read(r->sock) || argo_last_send_tag(barrier, &tag) != 0)
			return false;
		before = inq;
		inq = sock_queue(r->sock, SIOCINQ);
		if (inq == before)
			break; /* this one is held */
		if (inq != before + (int)sizeof(rep)) {
			note("replies in our queue: %d bytes, then %d", before, inq);
			return false;
		}
	}
	if (fit == 100000 || fit == 0) {
		note("argo-simd held no reply, or the first");
		return false;
	}
	for (i = 0; i <= fit; i++) {
		if (recv_packet(r->sock, &rep, sizeof(rep), TIMEOUT_MS, NULL, NULL) !=
		        sizeof(rep) ||
		    rep.cookie != (uint32_t)i) {
			note("reply %d of %d missing", i, fit + 1);
			return false;
		}
	}
	for (i = 0; i < fit; i++)
		if (send_packet(r->sock, &notify, sizeof(notify), NULL, 0, 0) < 0)
			return false;
	if (send_packet(r->sock, &adopt, sizeof(adopt), NULL, 0, 0) < 0 ||
	    !wait_requests_read(r->sock) || argo_last_send_tag(barrier, &tag) != 0)
		return false;
	inq = sock_queue(r->sock, SIOCINQ);
	if (inq != fit * (int)sizeof(rep)) {
		note("replies in our queue: %d bytes, want %d", inq, fit * (int)sizeof(rep));
		return false;
	}
	return true;
}

/*
 * An ADOPT reply held while the client's socket is full keeps its fd until
 * it is sent, and the daemon's copy of the fd goes once it is sent, or when
 * the client goes with the reply still held.
 */
static void test_durable_adopt_reply_held(void)
{
	struct argo_sim_adopt_reply body;
	int memfd, fd_detached, fd_attached, fds[3], nfds = 0;
	unsigned int replies = 0;
	uint8_t buf[64];
	char spath[PATH_LEN];
	struct stat st1, st2;
	struct pair p;
	struct raw *r;
	ssize_t n;

	CU_ASSERT_FATAL(durable_daemon(spath));
	CU_ASSERT_FATAL(pair_setup(&p));
	r = raw_connect(spath);
	CU_ASSERT_FATAL(r != NULL);
	memfd = make_ring_memfd(4096);
	CU_ASSERT_FATAL(memfd >= 0);
	{
		struct argo_sim_req_register req = reg_req(DUR_PORT, argo_domid(p.a), 4096);

		req.lib_flags = ARGO_SIM_REG_PERSIST;
		expect_reply(r, &req, sizeof(req), &memfd, 1, 0, "persistent register");
	}
	fd_attached = daemon_fds();
	raw_close(r);
	/* socket, eventfd, staging, shared page */
	CU_ASSERT_FATAL(wait_daemon_fds(fd_attached - 4));
	fd_detached = daemon_fds();

	/* Round 1: the held reply goes out with its fd. */
	r = raw_connect(spath);
	CU_ASSERT_FATAL(r != NULL);
	CHECK_EQ(daemon_fds(), fd_attached, "fds of an attached domain");
	CU_ASSERT_FATAL(hold_adopt_reply(r, p.b));
	CHECK_EQ(daemon_fds(), fd_attached + 1, "the held reply's fd");
	for (;;) {
		n = recv_packet(r->sock, buf, sizeof(buf), TIMEOUT_MS, fds, &nfds);
		if (n != (ssize_t)sizeof(struct argo_sim_reply))
			break;
		CU_ASSERT_EQUAL(nfds, 0);
		replies++;
	}
	CHECK_EQ(n, sizeof(struct argo_sim_reply) + sizeof(body), "ADOPT reply length");
	CHECK_EQ(nfds, 1, "ADOPT reply fds");
	if (n == (ssize_t)(sizeof(struct argo_sim_reply) + sizeof(body)) && nfds == 1) {
		struct argo_sim_reply rh;

		memcpy(&rh, buf, sizeof(rh));
		memcpy(&body, buf + sizeof(rh), sizeof(body));
		CHECK_EQ(rh.cookie, 0xADAD, "ADOPT cookie");
		CHECK_EQ(rh.ret, 0, "ADOPT ret");
		CHECK_EQ(body.aport, DUR_PORT, "ADOPT aport");
		CHECK_EQ(body.partner_id, argo_domid(p.a), "ADOPT partner");
		CHECK_EQ(body.len, 4096, "ADOPT len");
		CHECK_EQ(body.npages, argo_ring_npages(4096), "ADOPT npages");
		CU_ASSERT(fstat(fds[0], &st1) == 0 && fstat(memfd, &st2) == 0 &&
		          st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev);
		close(fds[0]);
	} else {
		while (nfds > 0)
			close(fds[--nfds]);
	}
	CU_ASSERT(replies > 0);
	CU_ASSERT(wait_daemon_fds(fd_attached));

	/* Round 2: the client goes with the reply held; its fd goes too. */
	raw_close(r);
	CU_ASSERT_FATAL(wait_daemon_fds(fd_detached));
	r = raw_connect(spath);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_FATAL(hold_adopt_reply(r, p.b));
	CHECK_EQ(daemon_fds(), fd_attached + 1, "the held reply's fd");
	raw_close(r);
	CU_ASSERT(wait_daemon_fds(fd_detached));
	CU_ASSERT(daemon_alive());
	CU_ASSERT(pair_check(&p, 2));

	/* The last process lets the ring go, so that the domain dies. */
	{
		struct argo_fabric *s5 = fab_open(spath);
		struct argo_ring *ring = NULL;

		CU_ASSERT_FATAL(s5 != NULL);
		CHECK_EQ(argo_adopt_ring(s5, &ring), 0, "adopt");
		if (ring)
			CHECK_EQ(argo_unregister_ring(s5, ring), 0, "unregister");
	}
	close(memfd);
	finish();
}

/* ---- Configuration ------------------------------------------------------- */

/* Runs argo-simd with these arguments to its end; true if it ended within
 * the time-out. *status gets its wait status, its stderr goes to errlog. */
static bool run_simd_to_end(const char *const *args, const char *errlog, int *status)
{
	const char *argv[16];
	int argc = 0;
	pid_t pid;

	argv[argc++] = simd_binary();
	while (*args && argc < 15)
		argv[argc++] = *args++;
	argv[argc] = NULL;
	unlink(errlog);
	pid = spawn(argv, errlog);
	if (pid < 0)
		return false;
	if (wait_exit(pid, TIMEOUT_MS, status) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, status, 0);
		note("argo-simd did not end");
		return false;
	}
	return true;
}

/* A config file with text; argo-simd must refuse it with exit status 2 and
 * one line "argo-simd: FILE:LINE: ..." naming the line and the reason. */
static void expect_config_error(const char *name, const char *text, int line, const char *reason)
{
	char file[PATH_LEN], errlog[PATH_LEN], want[PATH_LEN + 32];
	const char *args[] = {"--config", file, NULL};
	char *err;
	int status = 0;

	CU_ASSERT_FATAL(tpath(file, name));
	CU_ASSERT_FATAL(tpath(errlog, "config.stderr"));
	if (text)
		CU_ASSERT_FATAL(write_file(file, text));
	CU_ASSERT_FATAL(run_simd_to_end(args, errlog, &status));
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	err = read_file(errlog);
	CU_ASSERT_FATAL(err != NULL);
	if (line > 0)
		snprintf(want, sizeof(want), "argo-simd: %s:%d: ", file, line);
	else
		snprintf(want, sizeof(want), "argo-simd: %s: ", file);
	if (!strstr(err, want) || !strstr(err, reason) ||
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 2)) {
		note("%s: want \"%s...%s\" and status 2; got status 0x%x and: %s", name, want,
		     reason, status, err);
		CU_FAIL("config error not reported as wanted");
	} else {
		CU_PASS(name);
	}
	free(err);
}

static void test_config_errors(void)
{
	char text[1024];

	snprintf(text, sizeof(text), "[fabric]\nsocket = %s\n[bogus]\nkey = 1\n", simd.sock);
	expect_config_error("unknown-section.ini", text, 4, "unknown section");

	snprintf(text, sizeof(text), "[fabric]\nsocket = %s\nmac_permissive = maybe\n", simd.sock);
	expect_config_error("bad-value.ini", text, 3, "mac_permissive is yes or no");

	snprintf(text, sizeof(text), "[fabric]\nsocket = %s\nfirst_domid = 40000\n", simd.sock);
	expect_config_error("bad-domid.ini", text, 3, "first_domid is a number below 32752");

	snprintf(text, sizeof(text), "[fabric]\nsocket = %s\n[policy]\nrule = permit src 1\n",
	         simd.sock);
	expect_config_error("bad-rule-verb.ini", text, 4, "a rule starts with 'allow' or 'deny'");

	snprintf(
	    text, sizeof(text),
	    "; comment\n[fabric]\nsocket = %s\n[policy]\ndefault = deny\nrule = allow src 99999\n",
	    simd.sock);
	expect_config_error("bad-rule-domid.ini", text, 6, "expected DOMID[:PORT]");

	snprintf(text, sizeof(text), "[policy]\nrule = allow dst 1 dst 2\n");
	expect_config_error("bad-rule-twice.ini", text, 2, "'dst' given twice");

	snprintf(text, sizeof(text), "[fabric]\nsocket = %s\nthis line is no key\n", simd.sock);
	expect_config_error("syntax.ini", text, 3, "syntax error");

	snprintf(text, sizeof(text), "[domains]\n5 = %s\n5 = %s.x\n", simd.sock, simd.sock);
	expect_config_error("dup-domain.ini", text, 3, "this domid is given twice");

	expect_config_error("missing.ini", NULL, 0, "cannot open");
}

/* The first error is the one reported, with its own reason, even when the
 * lines after it are fine or wrong in another way. */
static void test_config_error_first_wins(void)
{
	char text[1024];

	snprintf(text, sizeof(text),
	         "[fabric]\nsocket = %s\nmac_permissive = maybe\n[policy]\ndefault = deny\n",
	         simd.sock);
	expect_config_error("bad-then-good.ini", text, 3, "mac_permissive is yes or no");

	snprintf(text, sizeof(text),
	         "[fabric]\nsocket = %s\nmac_permissive = maybe\n[domains]\n7 = %s.7\n", simd.sock,
	         simd.sock);
	expect_config_error("bad-then-domain.ini", text, 3, "mac_permissive is yes or no");

	snprintf(text, sizeof(text),
	         "[fabric]\nsocket = %s\n[bogus]\nx = 1\n[fabric]\nfirst_domid = zz\n", simd.sock);
	expect_config_error("two-errors.ini", text, 4, "unknown section");
}

static void test_command_line_errors(void)
{
	char errlog[PATH_LEN];
	const char *no_eq[] = {"-s", simd.sock, "-D", "5", NULL};
	const char *big_domid[] = {"-s", simd.sock, "--first-domid", "40000", NULL};
	const char *nothing[] = {"-v", NULL};
	const char *engine[] = {"-s", simd.sock, "--engine", "select", NULL};
	const char *const *cases[] = {no_eq, big_domid, nothing, engine};
	const char *reasons[] = {"--domain takes DOMID=PATH", "--first-domid is a number below",
	                         "nothing to serve", "--engine takes auto, io_uring or epoll"};
	int i, status = 0;

	CU_ASSERT_FATAL(tpath(errlog, "cmdline.stderr"));
	for (i = 0; i < 4; i++) {
		char *err;

		CU_ASSERT_FATAL(run_simd_to_end(cases[i], errlog, &status));
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
		err = read_file(errlog);
		CU_ASSERT(err && strstr(err, reasons[i]));
		if (!err || !strstr(err, reasons[i]))
			note("want \"%s\", got: %s", reasons[i], err ? err : "(nothing)");
		free(err);
	}
}

static void test_config_valid(void)
{
	char file[PATH_LEN], s7[PATH_LEN], text[1024];
	const char *extra[] = {"--config", file, NULL};
	struct argo_fabric *d7, *dyn;
	struct argo_ring *r7000, *r7001, *back7000, *back7001;
	xen_argo_send_addr_t addr;

	CU_ASSERT_FATAL(tpath(file, "good.ini"));
	CU_ASSERT_FATAL(tpath(s7, "dom7.sock"));
	snprintf(text, sizeof(text),
	         "# a good configuration\n"
	         "[fabric]\nsocket = %s\nmac_permissive = yes\n\n"
	         "[domains]\n7 = %s\n\n"
	         "[policy]\ndefault = deny\nrule = allow src * dst *:7000\n",
	         simd.sock, s7);
	CU_ASSERT_FATAL(write_file(file, text));
	CU_ASSERT_FATAL(daemon_start(false, extra));

	d7 = fab_open(s7);
	dyn = fab_open(simd.sock);
	CU_ASSERT_FATAL(d7 && dyn);
	CHECK_EQ(argo_domid(d7), 7, "static domain from the file");
	CU_ASSERT(argo_domid(dyn) != 7);

	/* mac_permissive: wildcard rings are allowed. */
	r7000 = register_ring(d7, 7000, XEN_ARGO_DOMID_ANY, 4096);
	r7001 = register_ring(d7, 7001, XEN_ARGO_DOMID_ANY, 4096);
	CU_ASSERT_FATAL(r7000 && r7001);

	CU_ASSERT(exchange(dyn, d7, r7000, 1));
	memset(&addr, 0, sizeof(addr));
	addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	addr.dst.domain_id = 7;
	addr.dst.aport = 7001;
	CHECK_EQ(argo_sendv(dyn, &addr, NULL, 0, 0), -EACCES, "send to port 7001");
	CHECK_EQ(argo_recv(r7001, NULL, NULL, text, sizeof(text)), -EAGAIN, "nothing in 7001");

	/* The rule is about the destination port, whoever sends. */
	back7000 = register_ring(dyn, 7000, 7, 4096);
	back7001 = register_ring(dyn, 7001, 7, 4096);
	CU_ASSERT_FATAL(back7000 && back7001);
	CU_ASSERT(exchange(d7, dyn, back7000, 2));
	addr.dst.domain_id = argo_domid(dyn);
	CHECK_EQ(argo_sendv(d7, &addr, NULL, 0, 0), -EACCES, "send back to port 7001");
	finish();
}

/* ---- The shared page ------------------------------------------------------ */

/*
 * The page the daemon writes and the client only reads (sim_proto.h,
 * struct argo_sim_shared): it cannot be mapped writable; it counts the
 * space waiters on the domain's rings and the events raised for it.
 */
static void test_shared_page(void)
{
	struct argo_sim_req_notify notify = {.hdr.op = ARGO_SIM_OP_NOTIFY};
	const uint32_t len = 160; /* holds one 64-byte message */
	const struct argo_sim_shared *sh;
	struct argo_fabric *a;
	struct xen_argo_ring *mem;
	uint8_t msg[64] = {1};
	struct iovec iov = {msg, sizeof(msg)};
	xen_argo_send_addr_t addr = {.src = {.domain_id = XEN_ARGO_DOMID_ANY, .aport = 9}};
	struct raw *r;
	void *w;
	int fd;

	START_DAEMON();
	a = fab_open(simd.sock);
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(a && r && r->shared_fd >= 0);
	w = mmap(NULL, ARGO_SIM_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->shared_fd, 0);
	CU_ASSERT(w == MAP_FAILED && errno == EPERM);
	if (w != MAP_FAILED)
		munmap(w, ARGO_SIM_SHARED_SIZE);
	sh = mmap(NULL, ARGO_SIM_SHARED_SIZE, PROT_READ, MAP_SHARED, r->shared_fd, 0);
	CU_ASSERT_FATAL(sh != MAP_FAILED);
	CHECK_EQ(sh->ring_waiters, 0, "waiters at first");
	CHECK_EQ(sh->events_raised, 0, "events at first");

	fd = make_ring_memfd(len);
	CU_ASSERT_FATAL(fd >= 0);
	mem = mmap(NULL, argo_ring_npages(len) * XEN_ARGO_PAGE_SIZE, PROT_READ | PROT_WRITE,
	           MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(mem != MAP_FAILED);
	CHECK_EQ(raw_register(r, 9, argo_domid(a), len, fd), 0, "raw register");
	close(fd);
	addr.dst.domain_id = r->domid;
	addr.dst.aport = 9;
	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), 64, "the first message");
	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), -EAGAIN, "the second, the ring full");
	CHECK_EQ(sh->ring_waiters, 1, "waiters once a sender waits");
	CHECK_EQ(sh->events_raised, 1, "events raised: the first message's");

	/* The owner consumes (rx to tx) and notifies: the waiter is woken. */
	argo_event_clear(a);
	__atomic_store_n(&mem->rx_ptr, __atomic_load_n(&mem->tx_ptr, __ATOMIC_ACQUIRE),
	                 __ATOMIC_RELEASE);
	expect_reply(r, &notify, sizeof(notify), NULL, 0, 0, "notify");
	CHECK_EQ(sh->ring_waiters, 0, "waiters after the notify");
	CHECK_EQ(poll_in(argo_event_fd(a), TIMEOUT_MS), 1, "the sender's event");
	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), 64, "the second message now");
	munmap((void *)sh, ARGO_SIM_SHARED_SIZE);
	munmap(mem, argo_ring_npages(len) * XEN_ARGO_PAGE_SIZE);
}

/*
 * argo_event_wait(): an event raised before the call returns at once, and
 * is taken (the next call with no new event times out); several raises
 * make one return; an event the program already read with
 * argo_event_clear() is not reported again.
 */
static void test_event_wait(void)
{
	uint8_t msg[16] = {7};
	struct iovec iov = {msg, sizeof(msg)};
	xen_argo_send_addr_t addr = {.src = {.domain_id = XEN_ARGO_DOMID_ANY, .aport = 3}};
	struct argo_fabric *a, *b;
	struct argo_ring *ring;
	int64_t t0;

	START_DAEMON();
	a = fab_open(simd.sock);
	b = fab_open(simd.sock);
	CU_ASSERT_FATAL(a && b);
	ring = register_ring(b, PAIR_PORT, argo_domid(a), 4096);
	CU_ASSERT_FATAL(ring != NULL);
	addr.dst.domain_id = argo_domid(b);
	addr.dst.aport = PAIR_PORT;
	CHECK_EQ(argo_event_wait(b, 0), 0, "nothing raised yet");
	t0 = now_ms();
	CHECK_EQ(argo_event_wait(b, 200), 0, "a time-out");
	CU_ASSERT(now_ms() - t0 >= 150);

	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), 16, "send");
	CHECK_EQ(argo_event_wait(b, TIMEOUT_MS), 1, "the event of a message sent before");
	CHECK_EQ(argo_event_wait(b, 0), 0, "taken");
	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), 16, "send");
	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), 16, "send");
	CHECK_EQ(argo_event_wait(b, TIMEOUT_MS), 1, "two raises");
	CHECK_EQ(argo_event_wait(b, 0), 0, "one return for both");
	CHECK_EQ(argo_sendv(a, &addr, &iov, 1, 0), 16, "send");
	CU_ASSERT_FATAL(poll_in(argo_event_fd(b), TIMEOUT_MS) == 1);
	CHECK_EQ(argo_event_clear(b), 1, "read by the program");
	CHECK_EQ(argo_event_wait(b, 0), 0, "an event already taken by a read");
	CHECK_EQ(argo_recv(ring, NULL, NULL, msg, sizeof(msg)), 16, "message 1");
}

struct skip_run {
	const char *sock;
	argo_domid_t peer; /* the sender: the receiver's partner */
	argo_domid_t receiver;
	unsigned int count;
	unsigned int done;
	int error; /* 0, or the -errno that stopped the thread */
	struct argo_fabric *f;
	struct argo_ring *ring;
};

/* Waits for our event, at most TIMEOUT_MS: -ETIMEDOUT is a lost wake-up. */
static int wait_event(struct argo_fabric *f)
{
	int n = poll_in(argo_event_fd(f), TIMEOUT_MS);

	return n == 1 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

static void *skip_receiver(void *arg)
{
	struct skip_run *s = arg;
	uint8_t buf[64];

	while (s->done < s->count) {
		ssize_t n;

		argo_event_clear(s->f);
		n = argo_recv(s->ring, NULL, NULL, buf, sizeof(buf));
		if (n == -EAGAIN) {
			s->error = wait_event(s->f);
			if (s->error)
				return NULL;
			continue;
		}
		if (n != sizeof(buf)) {
			s->error = n < 0 ? (int)n : -EIO;
			return NULL;
		}
		s->done++;
		/* Mostly skipped: it reaches the daemon only when one waits. */
		s->error = argo_notify(s->f, NULL);
		if (s->error)
			return NULL;
	}
	return NULL;
}

static void *skip_sender(void *arg)
{
	struct skip_run *s = arg;
	uint8_t buf[64] = {0};
	struct iovec iov = {buf, sizeof(buf)};
	xen_argo_send_addr_t addr = {.src = {.domain_id = XEN_ARGO_DOMID_ANY, .aport = 1},
	                             .dst = {.domain_id = s->receiver, .aport = PAIR_PORT}};

	while (s->done < s->count) {
		ssize_t n = argo_sendv(s->f, &addr, &iov, 1, 0);

		if (n == -EAGAIN) {
			s->error = wait_event(s->f);
			if (s->error)
				return NULL;
			argo_event_clear(s->f);
			continue;
		}
		if (n != sizeof(buf)) {
			s->error = n < 0 ? (int)n : -EIO;
			return NULL;
		}
		s->done++;
	}
	return NULL;
}

/*
 * A receiver skips its notify while no waiter is published; a sender
 * queued at that very moment must still be woken (the daemon looks at the
 * ring once more after publishing, sim_fabric.c). A ring that holds one
 * message makes nearly every send wait: 20000 messages, none may hang.
 */
static void test_notify_skip_loses_no_waiter(void)
{
	struct skip_run rx = {.count = 20000}, tx = {.count = 20000};
	pthread_t t1, t2;

	START_DAEMON();
	rx.f = fab_open(simd.sock);
	tx.f = fab_open(simd.sock);
	CU_ASSERT_FATAL(rx.f && tx.f);
	rx.ring = register_ring(rx.f, PAIR_PORT, argo_domid(tx.f), 160);
	CU_ASSERT_FATAL(rx.ring != NULL);
	tx.receiver = argo_domid(rx.f);
	CU_ASSERT_FATAL(pthread_create(&t1, NULL, skip_receiver, &rx) == 0);
	CU_ASSERT_FATAL(pthread_create(&t2, NULL, skip_sender, &tx) == 0);
	pthread_join(t2, NULL);
	pthread_join(t1, NULL);
	CHECK_EQ(tx.error, 0, "sender (-ETIMEDOUT: a lost wake-up)");
	CHECK_EQ(rx.error, 0, "receiver");
	CHECK_EQ(tx.done, tx.count, "messages sent");
	CHECK_EQ(rx.done, rx.count, "messages received");
}

/* ---- Shutdown ------------------------------------------------------------ */

/*
 * SIGTERM while domains are still connected (with rings, a pending reply
 * and a static domain): the daemon exits 0 and frees everything, so that a
 * sanitized daemon reports nothing; its sockets are removed.
 */
static void test_sigterm_with_domains(void)
{
	struct argo_sim_req_notify notify = {.hdr.op = ARGO_SIM_OP_NOTIFY};
	char spath[PATH_LEN], arg[PATH_LEN + 8];
	struct argo_fabric *s5;
	struct pair p;
	struct raw *r;
	int i, fd;

	CU_ASSERT_FATAL(tpath(spath, "dom5.sock"));
	snprintf(arg, sizeof(arg), "5=%s", spath);
	{
		const char *const extra[] = {"-D", arg, NULL};

		CU_ASSERT_FATAL(daemon_start(true, extra));
	}
	CU_ASSERT_FATAL(pair_setup(&p));
	s5 = fab_open(spath);
	CU_ASSERT_FATAL(s5 != NULL);
	CU_ASSERT(register_ring(s5, 1, argo_domid(p.a), 4096) != NULL);
	r = raw_connect(simd.sock);
	CU_ASSERT_FATAL(r != NULL);
	fd = make_ring_memfd(4096);
	CHECK_EQ(raw_register(r, 1, argo_domid(p.a), 4096, fd), 0, "raw register");
	close(fd);
	for (i = 0; i < 100000; i++)
		if (send_packet(r->sock, &notify, sizeof(notify), NULL, 0, MSG_DONTWAIT) < 0)
			break;
	CU_ASSERT(pair_check(&p, 1));
	CU_ASSERT(daemon_wait_domains(4));
	CHECK_EQ(argo_fabric_check(p.b), 0, "fabric check while the daemon runs");

	CU_ASSERT(daemon_stop());
	CU_ASSERT(access(simd.sock, F_OK) < 0 && errno == ENOENT);
	CU_ASSERT(access(spath, F_OK) < 0 && errno == ENOENT);
	/* The clients see the fabric gone: a check (no round trip), a send. */
	CHECK_EQ(argo_fabric_check(p.b), -ENOTCONN, "fabric check after the daemon");
	{
		xen_argo_send_addr_t addr = {
		    .src = {.domain_id = XEN_ARGO_DOMID_ANY},
		    .dst = {.aport = PAIR_PORT, .domain_id = argo_domid(p.b)}};

		CHECK_EQ(argo_sendv(p.a, &addr, NULL, 0, 0), -ENOTCONN, "send after the daemon");
	}
	/* The tear-down closes the clients. */
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	static const struct test_def tests[] = {
	    {"malformed requests get errors", test_malformed_requests},
	    {"oversized (100 KiB) requests get errors", test_oversized_requests},
	    {"more fds than a request carries", test_too_many_fds},
	    {"zero-length packet", test_zero_length_packet},
	    {"register with memory that is no sealed memfd", test_register_bad_fd_types},
	    {"sealed ring memory cannot shrink", test_sealed_ring_cannot_shrink},
	    {"client dies mid-request (closes)", test_die_mid_request},
	    {"client process exits mid-request", test_die_child_exit},
	    {"client process SIGKILLed with replies pending", test_die_child_sigkill},
	    {"client scribbles on its ring", test_scribble},
	    {"request flood", test_request_flood},
	    {"500 connections", test_many_connections},
	    {"connection flood past the daemon's fd limit", test_fd_exhaustion},
	    {"static domain socket", test_static_domain},
	    {"durable: SIGKILLed process, restart adopts ring and tag", test_durable_sigkill},
	    {"durable: sender waiting on a detached ring is woken", test_durable_waiter_woken},
	    {"durable: dynamic domains and malformed requests",
	     test_durable_unsupported_and_malformed},
	    {"durable: ADOPT reply held while the socket is full", test_durable_adopt_reply_held},
	    {"config file errors name file, line and reason", test_config_errors},
	    {"config file: the first error wins", test_config_error_first_wins},
	    {"command line errors", test_command_line_errors},
	    {"valid config file: static domain and policy", test_config_valid},
	    {"the shared page: read-only, waiters and events counted", test_shared_page},
	    {"notify skipped without waiters loses no wake-up", test_notify_skip_loses_no_waiter},
	    {"argo_event_wait: waits and takes the event in one call", test_event_wait},
	    {"SIGTERM with domains connected exits 0", test_sigterm_with_domains},
	};
	static const struct suite_def suites[] = {
	    {"argo-simd vs hostile clients", tests, N(tests), NULL, NULL, test_setup,
	     test_teardown},
	};
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	/* 500 domains take four fds each, here and in the daemon. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return cunit_main(suites, N(suites));
}
