/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the link transports (relay/transport*.c): unix, tcp
 * (127.0.0.1 and, when the machine has it, [::1]), serial (over a pty pair,
 * and to a unix socket path as a QEMU chardev in server mode gives) and
 * vsock (address parsing; a listening socket only if this kernel has
 * AF_VSOCK; never a connection) and argo (address parsing, then streams
 * against an argo-simd the "argo" suite starts itself: $ARGO_SIMD, else
 * build/bin/argo-simd).
 *
 * Every wait is a poll() with a bounded time-out; nothing sleeps.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "argo/argo.h"
#include "transport.h"
#include "../cunit_main.h"

#define TIMEOUT_MS 5000

static char dir[64];

/* ---------------------------------------------------------------------------
 * Helpers
 */

static void path_in_dir(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Waits for events on fd; returns revents (0 on time-out). */
static short wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? pfd.revents : 0;
}

static bool nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);

	return fl >= 0 && fdf >= 0 && (fl & O_NONBLOCK) && (fdf & FD_CLOEXEC);
}

/* Writes everything, polling when the fd is full. */
static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!(wait_fd(fd, POLLOUT, TIMEOUT_MS) & POLLOUT))
				return -ETIMEDOUT;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes within the time-out. */
static int read_exact(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!(wait_fd(fd, POLLIN, TIMEOUT_MS) & (POLLIN | POLLHUP | POLLERR)))
				return -ETIMEDOUT;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends a pattern from a to b and another from b to a, checks both. */
static void exchange(int a, int b, const unsigned char *data, size_t len)
{
	unsigned char *got = malloc(len), *rev = malloc(len);
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rev);
	for (i = 0; i < len; i++)
		rev[i] = data[len - 1 - i];
	CU_ASSERT_EQUAL(write_all(a, data, len), 0);
	CU_ASSERT_EQUAL(read_exact(b, got, len), 0);
	CU_ASSERT_EQUAL(memcmp(got, data, len), 0);
	CU_ASSERT_EQUAL(write_all(b, rev, len), 0);
	CU_ASSERT_EQUAL(read_exact(a, got, len), 0);
	CU_ASSERT_EQUAL(memcmp(got, rev, len), 0);
	free(got);
	free(rev);
}

/* Every byte value, then the ones a terminal likes to eat or rewrite. */
static size_t binary_pattern(unsigned char *buf, size_t cap)
{
	static const unsigned char special[] = {0x00, 0x0a, 0x0d, 0x0d, 0x0a, 0x11, 0x13, 0x7f,
	                                        0xff, 0x03, 0x04, 0x1a, 0x1c, 0x15, 0x17, 0x12,
	                                        0x16, 0x0f, 0x08, 0x09, 0x1b, 0x00, 0xff, 0x11};
	size_t n = 0, i;

	for (i = 0; i < 256 && n < cap; i++)
		buf[n++] = (unsigned char)i;
	for (i = 0; i < sizeof(special) && n < cap; i++)
		buf[n++] = special[i];
	for (i = 0; i < 256 && n < cap; i++)
		buf[n++] = (unsigned char)(255 - i);
	return n;
}

/* A connect() result that may still be in progress: waits until it is
 * writable and returns SO_ERROR (0 when connected). */
static int finish_connect(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!(wait_fd(fd, POLLOUT, TIMEOUT_MS) & (POLLOUT | POLLERR | POLLHUP)))
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/* Accepts one connection once the listener is readable. */
static int accept_one(const struct transport_ops *ops, int lfd)
{
	if (!(wait_fd(lfd, POLLIN, TIMEOUT_MS) & POLLIN))
		return -ETIMEDOUT;
	return ops->accept(lfd, NULL);
}

static int sockopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

/* ---------------------------------------------------------------------------
 * The table
 */

static void test_table(void)
{
	static const enum transport_kind kinds[] = {TRANSPORT_UNIX, TRANSPORT_TCP, TRANSPORT_SERIAL,
	                                            TRANSPORT_VSOCK, TRANSPORT_ARGO};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct transport_ops *ops = transport_get(kinds[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
		CU_ASSERT_EQUAL(ops->kind, kinds[i]);
		CU_ASSERT_PTR_NOT_NULL(ops->check_address);
		CU_ASSERT_PTR_NOT_NULL(ops->listen);
		CU_ASSERT_PTR_NOT_NULL(ops->accept);
		CU_ASSERT_PTR_NOT_NULL(ops->connect);
	}
	CU_ASSERT_TRUE(transport_get(TRANSPORT_UNIX)->is_socket);
	CU_ASSERT_TRUE(transport_get(TRANSPORT_TCP)->is_socket);
	CU_ASSERT_FALSE(transport_get(TRANSPORT_SERIAL)->is_socket);
	CU_ASSERT_TRUE(transport_get(TRANSPORT_VSOCK)->is_socket);
	CU_ASSERT_TRUE(transport_get(TRANSPORT_ARGO)->is_socket);
}

/* check_address: 0 for good addresses; -EINVAL and a reason for bad ones. */
static void check_addresses(enum transport_kind kind, const char *const *good, size_t ngood,
                            const char *const *bad, size_t nbad)
{
	const struct transport_ops *ops = transport_get(kind);
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
	for (i = 0; i < ngood; i++) {
		const char *why = NULL;
		int rc = ops->check_address(good[i], &why);

		if (rc != 0)
			fprintf(stderr, "\n    %s '%s' refused: %s\n", transport_name(kind),
			        good[i], why ? why : "?");
		CU_ASSERT_EQUAL(rc, 0);
	}
	for (i = 0; i < nbad; i++) {
		const char *why = NULL;
		int rc = ops->check_address(bad[i], &why);

		if (rc != -EINVAL || !why)
			fprintf(stderr, "\n    %s '%s' taken (%d)\n", transport_name(kind), bad[i],
			        rc);
		CU_ASSERT_EQUAL(rc, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(why);
		/* why may be NULL */
		CU_ASSERT_EQUAL(ops->check_address(bad[i], NULL), -EINVAL);
	}
}

static void test_check_unix(void)
{
	static const char *const good[] = {"/run/argo-relay/l1.sock", "rel.sock",
	                                   "/" /* syntax only */};
	static const char *const bad[] = {
	    "",
	    "/tmp/0123456789012345678901234567890123456789012345678901234567890123456789"
	    "01234567890123456789012345678901234567.sock",
	};

	check_addresses(TRANSPORT_UNIX, good, N(good), bad, N(bad));
}

static void test_check_tcp(void)
{
	static const char *const good[] = {
	    "127.0.0.1:7000",  "0.0.0.0:1",     "[::1]:65535",          "[::]:7000",
	    "[fe80::1%lo]:80", "relay-l0:7000", "relay.example.org:443"};
	static const char *const bad[] = {
	    "",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    "127.0.0.1:-1",
	    "127.0.0.1:+80",
	    "127.0.0.1:80x",
	    "::1:7000",
	    "[::1]",
	    "[::1]7000",
	    "[]:7000",
	    "[l0]:7000",
	    "[1.2.3.4]:80",
	    "1.2.3.256:80",
	    ":80",
	    "a b:80",
	    "host!:80",
	    "127.0.0.1:123456",
	};

	check_addresses(TRANSPORT_TCP, good, N(good), bad, N(bad));
}

static void test_check_serial(void)
{
	static const char *const good[] = {"/dev/virtio-ports/argo-relay", "/dev/pts/3",
	                                   "/run/qemu/l1.sock"};
	static const char *const bad[] = {
	    "",
	    "/dev/virtio-ports/012345678901234567890123456789012345678901234567890123456789"
	    "0123456789012345678901234567890",
	};

	check_addresses(TRANSPORT_SERIAL, good, N(good), bad, N(bad));
}

static void test_check_vsock(void)
{
	static const char *const good[] = {"3:5000",
	                                   "2:1",
	                                   "host:5000",
	                                   "any:5000",
	                                   "5000",
	                                   "0x10:0x1388",
	                                   "4294967294:4294967294"};
	static const char *const bad[] = {"",
	                                  ":",
	                                  "3:",
	                                  ":5000",
	                                  "guest:5000",
	                                  "3:x",
	                                  "-1:5000",
	                                  "3:-1",
	                                  "3:5000:1",
	                                  "4294967295:1",
	                                  "3:4294967295",
	                                  "3 :5000",
	                                  "any:",
	                                  "99999999999:1"};

	check_addresses(TRANSPORT_VSOCK, good, N(good), bad, N(bad));
}

static void test_check_argo(void)
{
	static const char *const good[] = {
	    "sim:/run/argo/l0-links.sock@0:7100",
	    "sim:/run/argo/l0-links.sock@7100",
	    "xen:/dev/argo@0:7100",
	    "xen:@7100",                    /* libargo's default device */
	    "sim:/run/a@b/links.sock@5:70", /* the last '@' counts */
	    "sim:/x@0x7FEF:0xFFFFFFFF",
	    "sim:/x@32751:4294967295",
	    "sim:/x@0",
	};
	static const char *const bad[] = {
	    "",
	    "7100",
	    "@7100",
	    "sim@7100",
	    ":/x@7100",
	    "/run/argo/links.sock@7100",
	    "SIM:/x@7100",
	    "sim:/x@",
	    "sim:/x@7100x",
	    "sim:/x@-1",
	    "sim:/x@+1",
	    "sim:/x@ 7100",
	    "sim:/x@7100 ",
	    "sim:/x@32752:7100",
	    "sim:/x@0x7FF0:1",
	    "sim:/x@4294967296",
	    "sim:/x@0x100000000",
	    "sim:/x@1:2:3",
	    "sim:/x@1:",
	    "sim:/x@:7100",
	    "sim:/x@0x:1",
	    "sim:/x@0x-1:1",
	    "sim:/x@99999999999999999999999:1",
	};

	check_addresses(TRANSPORT_ARGO, good, N(good), bad, N(bad));
}

/* ---------------------------------------------------------------------------
 * unix
 */

static void test_unix_round_trip(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_UNIX);
	unsigned char data[4096];
	char path[128];
	int lfd, c, s;
	size_t i;

	path_in_dir(path, sizeof(path), "u1.sock");
	lfd = ops->listen(path);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(lfd));
	/* Nothing to accept yet: EAGAIN, not a block. */
	CU_ASSERT_EQUAL(ops->accept(lfd, NULL), -EAGAIN);
	c = ops->connect(path);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(c));
	CU_ASSERT_EQUAL(finish_connect(c), 0);
	s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(s >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(s));
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7);
	exchange(c, s, data, sizeof(data));
	/* Closing one end: the other reads EOF. */
	close(c);
	CU_ASSERT(wait_fd(s, POLLIN, TIMEOUT_MS) & (POLLIN | POLLHUP));
	CU_ASSERT_EQUAL(read(s, data, 1), 0);
	close(s);
	close(lfd);
	unlink(path);
}

static void test_unix_connect_errors(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_UNIX);
	char path[128];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	path_in_dir(path, sizeof(path), "nobody.sock");
	CU_ASSERT_EQUAL(ops->connect(path), -ENOENT);
	/* A stale socket file: refused. */
	path_in_dir(path, sizeof(path), "stale0.sock");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(fd >= 0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	CU_ASSERT_EQUAL(ops->connect(path), -ECONNREFUSED);
	unlink(path);
	CU_ASSERT_EQUAL(ops->connect(""), -EINVAL);
	CU_ASSERT_EQUAL(ops->listen(""), -EINVAL);
}

/* A socket file nobody listens on (a relay that died) is replaced. */
static void test_unix_stale_replaced(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_UNIX);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[128];
	struct stat st;
	int fd, lfd, c, s;

	path_in_dir(path, sizeof(path), "stale.sock");
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A listener that goes away without unlinking its file. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	CU_ASSERT_EQUAL_FATAL(listen(fd, 1), 0);
	close(fd);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));

	lfd = ops->listen(path);
	CU_ASSERT_FATAL(lfd >= 0);
	c = ops->connect(path);
	CU_ASSERT_FATAL(c >= 0);
	s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(s >= 0);
	exchange(c, s, (const unsigned char *)"stale", 5);
	close(c);
	close(s);
	close(lfd);
	unlink(path);
}

static void test_unix_live_refused(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_UNIX);
	char path[128], file[128];
	int lfd, c, s, fd;

	path_in_dir(path, sizeof(path), "live.sock");
	lfd = ops->listen(path);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_EQUAL(ops->listen(path), -EADDRINUSE);
	/* The probe that found the listener alive shows up there as a
	 * connection closed at once: the link layer sees EOF before HELLO. */
	s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(s >= 0);
	CU_ASSERT(wait_fd(s, POLLIN, TIMEOUT_MS) & (POLLIN | POLLHUP));
	CU_ASSERT_EQUAL(read(s, &fd, 1), 0);
	close(s);
	/* The first listener is untouched and still works. */
	c = ops->connect(path);
	CU_ASSERT_FATAL(c >= 0);
	s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(s >= 0);
	exchange(c, s, (const unsigned char *)"live", 4);
	close(c);
	close(s);
	/* A live listener whose backlog is full still counts as live: fill it
	 * with connections nobody accepts until connect says EAGAIN. */
	{
		int conns[64], n = 0, i;

		while (n < 64) {
			conns[n] = ops->connect(path);
			if (conns[n] < 0)
				break;
			n++;
		}
		CU_ASSERT_EQUAL(ops->listen(path), -EADDRINUSE);
		for (i = 0; i < n; i++)
			close(conns[i]);
	}
	close(lfd);
	unlink(path);

	/* Not a socket at all: never deleted. */
	path_in_dir(file, sizeof(file), "plain-file");
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(ops->listen(file), -EADDRINUSE);
	CU_ASSERT_EQUAL(access(file, F_OK), 0);
	unlink(file);
}

/* ---------------------------------------------------------------------------
 * tcp
 */

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static void tcp_round_trip(const char *host_fmt)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_TCP);
	unsigned char data[16384];
	char addr[128];
	int lfd, c, s, port;
	size_t i;

	snprintf(addr, sizeof(addr), host_fmt, 0);
	lfd = ops->listen(addr); /* port 0: an ephemeral port */
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(lfd));
	CU_ASSERT_EQUAL(sockopt_int(lfd, SOL_SOCKET, SO_REUSEADDR), 1);
	port = bound_port(lfd);
	CU_ASSERT_FATAL(port > 0);
	snprintf(addr, sizeof(addr), host_fmt, port);
	CU_ASSERT_EQUAL(ops->check_address(addr, NULL), 0);

	c = ops->connect(addr);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(c));
	CU_ASSERT_EQUAL(finish_connect(c), 0);
	s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(s >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(s));
	for (i = 0; i < 2; i++) {
		int fd = i ? s : c;

		CU_ASSERT_EQUAL(sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
		CU_ASSERT_EQUAL(sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
		CU_ASSERT(sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) > 0);
		CU_ASSERT(sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) <= 30);
		CU_ASSERT(sockopt_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) > 0);
	}
	/* exchange() writes everything before it reads: 16 KiB fits in any
	 * loopback socket's buffers. */
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i ^ (i >> 8));
	exchange(c, s, data, sizeof(data));
	close(c);
	close(s);
	close(lfd);
}

static void test_tcp_ipv4(void)
{
	tcp_round_trip("127.0.0.1:%d");
}

static void test_tcp_ipv6(void)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool have = fd >= 0 && bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;

	if (fd >= 0)
		close(fd);
	if (!have) {
		fprintf(stderr, "(no [::1] here: IPv6 part not run) ");
		return;
	}
	tcp_round_trip("[::1]:%d");
}

static void test_tcp_refused_and_busy(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_TCP);
	char addr[64];
	int lfd, port, c, rc;

	/* A port nobody listens on: find a free one, then let it go. */
	lfd = ops->listen("127.0.0.1:0");
	CU_ASSERT_FATAL(lfd >= 0);
	port = bound_port(lfd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	/* The same port again while it listens: in use (SO_REUSEADDR does not
	 * allow two listeners). */
	rc = ops->listen(addr);
	CU_ASSERT_EQUAL(rc, -EADDRINUSE);
	if (rc >= 0)
		close(rc);
	close(lfd);
	c = ops->connect(addr);
	if (c >= 0) {
		CU_ASSERT_EQUAL(finish_connect(c), -ECONNREFUSED);
		close(c);
	} else {
		CU_ASSERT_EQUAL(c, -ECONNREFUSED);
	}
	/* And it can be listened on again at once. */
	lfd = ops->listen(addr);
	CU_ASSERT(lfd >= 0);
	if (lfd >= 0)
		close(lfd);

	CU_ASSERT_EQUAL(ops->connect("127.0.0.1:0"), -EINVAL);
	CU_ASSERT_EQUAL(ops->connect("nonsense"), -EINVAL);
	CU_ASSERT_EQUAL(ops->listen("::1:80"), -EINVAL);
}

/* ---------------------------------------------------------------------------
 * serial
 */

static void test_serial_pty(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_SERIAL);
	unsigned char data[1024], got[1024];
	struct termios tio;
	const char *slave;
	char slave_path[128];
	int master, fd;
	size_t n, i;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	CU_ASSERT_FATAL(master >= 0);
	CU_ASSERT_EQUAL_FATAL(grantpt(master), 0);
	CU_ASSERT_EQUAL_FATAL(unlockpt(master), 0);
	slave = ptsname(master);
	CU_ASSERT_PTR_NOT_NULL_FATAL(slave);
	snprintf(slave_path, sizeof(slave_path), "%s", slave);
	CU_ASSERT_EQUAL(fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK), 0);

	CU_ASSERT_EQUAL(ops->check_address(slave_path, NULL), 0);
	fd = ops->connect(slave_path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(fd));
	CU_ASSERT_TRUE(isatty(fd));
	CU_ASSERT_EQUAL_FATAL(tcgetattr(fd, &tio), 0);
	CU_ASSERT_FALSE(tio.c_lflag & (ECHO | ICANON | ISIG | IEXTEN));
	CU_ASSERT_FALSE(tio.c_iflag & (IXON | IXOFF | ICRNL | INLCR | IGNCR | ISTRIP));
	CU_ASSERT_FALSE(tio.c_oflag & OPOST);
	CU_ASSERT_EQUAL(tio.c_cflag & CSIZE, CS8);
	CU_ASSERT_FALSE(tio.c_cflag & PARENB);
	CU_ASSERT_TRUE(tio.c_cflag & CLOCAL);
	/* Opened O_NOCTTY: it did not become our controlling terminal. */
	CU_ASSERT(tcgetsid(fd) < 0 || tcgetsid(fd) != getsid(0));

	n = binary_pattern(data, sizeof(data));
	/* master -> relay: no echo may come back, so what the master reads
	 * next must be exactly what the relay sends. */
	CU_ASSERT_EQUAL(write_all(master, data, n), 0);
	CU_ASSERT_EQUAL(read_exact(fd, got, n), 0);
	CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)~data[i];
	CU_ASSERT_EQUAL(write_all(fd, data, n), 0);
	CU_ASSERT_EQUAL(read_exact(master, got, n), 0);
	CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
	/* And the special bytes alone, each way, in one write each. */
	exchange(master, fd, (const unsigned char *)"\x00\x0a\x0d\x11\x13\x7f\xff\x0d\x0a", 9);

	/* The peer goes away: the relay side sees it (EIO / HUP on a pty). */
	close(master);
	CU_ASSERT(wait_fd(fd, POLLIN, TIMEOUT_MS) & (POLLHUP | POLLERR | POLLIN));
	close(fd);
}

/* On the host, QEMU's chardev in server mode is a unix socket: serial
 * connect goes to it as a unix stream. */
static void test_serial_unix_socket(void)
{
	const struct transport_ops *ser = transport_get(TRANSPORT_SERIAL);
	const struct transport_ops *un = transport_get(TRANSPORT_UNIX);
	unsigned char data[1024];
	char path[128];
	int lfd, c, s;
	size_t n;

	path_in_dir(path, sizeof(path), "chardev.sock");
	lfd = un->listen(path);
	CU_ASSERT_FATAL(lfd >= 0);
	c = ser->connect(path);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(c));
	CU_ASSERT_FALSE(isatty(c));
	s = accept_one(un, lfd);
	CU_ASSERT_FATAL(s >= 0);
	n = binary_pattern(data, sizeof(data));
	exchange(c, s, data, n);
	close(c);
	close(s);
	close(lfd);
	unlink(path);

	/* Chardev in client mode: the relay listens, QEMU connects. */
	lfd = ser->listen(path);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(lfd));
	c = un->connect(path);
	CU_ASSERT_FATAL(c >= 0);
	s = accept_one(ser, lfd);
	CU_ASSERT_FATAL(s >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(s));
	exchange(c, s, data, n);
	close(c);
	close(s);
	close(lfd);
	unlink(path);
}

static void test_serial_errors(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_SERIAL);
	char path[128];
	int fd;

	path_in_dir(path, sizeof(path), "no-such-port");
	CU_ASSERT_EQUAL(ops->connect(path), -ENOENT);
	path_in_dir(path, sizeof(path), "regular-file");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(ops->connect(path), -ENODEV);
	unlink(path);
	CU_ASSERT_EQUAL(ops->connect(dir), -ENODEV);
	CU_ASSERT_EQUAL(ops->connect(""), -EINVAL);
	/* A character device that is not a terminal is used as it is (a
	 * virtio port is one): /dev/null stands in for it. */
	fd = ops->connect("/dev/null");
	CU_ASSERT(fd >= 0);
	if (fd >= 0) {
		CU_ASSERT_TRUE(nonblock_cloexec(fd));
		CU_ASSERT_FALSE(isatty(fd));
		close(fd);
	}
}

/* ---------------------------------------------------------------------------
 * vsock: no connection is ever opened here (CID 2 is this machine's host
 * side); a listening socket only when the kernel has AF_VSOCK.
 */

static void test_vsock(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_VSOCK);
	int probe = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int lfd;

	/* Addresses connect() refuses before it makes any socket. */
	CU_ASSERT_EQUAL(ops->connect("5000"), -EINVAL);
	CU_ASSERT_EQUAL(ops->connect("any:5000"), -EINVAL);
	CU_ASSERT_EQUAL(ops->connect("guest:5000"), -EINVAL);
	CU_ASSERT_EQUAL(ops->listen("x"), -EINVAL);

	if (probe < 0) {
		/* No AF_VSOCK in this kernel: a clear error, not a crash. */
		fprintf(stderr, "(no AF_VSOCK here: errno %d) ", errno);
		CU_ASSERT_EQUAL(ops->listen("any:40123"), -EAFNOSUPPORT);
		CU_ASSERT_EQUAL(ops->listen("40123"), -EAFNOSUPPORT);
		return;
	}
	close(probe);
	lfd = ops->listen("any:0x9c7b");
	if (lfd == -EADDRINUSE || lfd == -EADDRNOTAVAIL || lfd == -EAFNOSUPPORT) {
		fprintf(stderr, "(vsock listen: %s) ", strerror(-lfd));
		return;
	}
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(lfd));
	CU_ASSERT_EQUAL(ops->accept(lfd, NULL), -EAGAIN);
	close(lfd);
}

/* ---------------------------------------------------------------------------
 * argo, against a live argo-simd: -s dyn.sock (connectors and a raw domain),
 * -D 5=l5.sock (the listener, domain 5), mac-permissive (the listener's
 * ring takes any domain). Started with --daemon, which returns once the
 * daemon serves; we are its subreaper, so we can wait for it at the end.
 */

#define ARLK_DATA    0x41524c4bu
#define ARLK_CONNECT 0x41524c43u
#define ARLK_CLOSE   0x41524c58u

struct simd {
	char dir[64], dyn[128], l5[128], log[128], pidfile[128];
	pid_t pid;
};

static struct simd sim;

static const char *simd_binary(void)
{
	const char *bin = getenv("ARGO_SIMD");

	return bin && *bin ? bin : "build/bin/argo-simd";
}

static void pause_ms(int ms)
{
	poll(NULL, 0, ms);
}

/* Starts argo-simd for d (its paths already set); 0 once it serves. */
static int simd_start(struct simd *d)
{
	char l5arg[160];
	int status, fd;
	pid_t child;
	FILE *f;

	snprintf(l5arg, sizeof(l5arg), "5=%s", d->l5);
	unlink(d->pidfile);
	fflush(stdout);
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(simd_binary(), simd_binary(), "-s", d->dyn, "-D", l5arg, "-m", "-d",
		      "--pidfile", d->pidfile, (char *)NULL);
		_exit(127);
	}
	/* --daemon: the parent exits 0 only once the daemon serves. */
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "argo-simd (%s) did not start: see %s\n", simd_binary(), d->log);
		return -1;
	}
	f = fopen(d->pidfile, "r");
	if (!f || fscanf(f, "%d", &d->pid) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* SIGTERM, then waits (bounded) for it: 0 when it exited 0 (a sanitizer
 * finding makes a sanitized daemon exit otherwise). */
static int simd_stop(struct simd *d)
{
	int status = -1, tries;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (tries = 0; tries < TIMEOUT_MS / 5; tries++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			break;
		pause_ms(5);
	}
	if (tries == TIMEOUT_MS / 5) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
	}
	d->pid = 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void simd_paths(struct simd *d)
{
	snprintf(d->dyn, sizeof(d->dyn), "%s/dyn.sock", d->dir);
	snprintf(d->l5, sizeof(d->l5), "%s/l5.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/simd.log", d->dir);
	snprintf(d->pidfile, sizeof(d->pidfile), "%s/simd.pid", d->dir);
}

static void simd_remove(struct simd *d)
{
	unlink(d->dyn);
	unlink(d->l5);
	unlink(d->log);
	unlink(d->pidfile);
	rmdir(d->dir);
}

/* Threads of ours named "argo-pump" (the transport names its pumps so). */
static int count_pumps(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "argo-pump\n"))
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Every pump has ended (each test closes all it opened): no thread left
 * behind, nothing for the sanitizers to find still running at exit. */
static bool pumps_gone(void)
{
	int tries;

	for (tries = 0; tries < TIMEOUT_MS / 5; tries++) {
		if (count_pumps() == 0)
			return true;
		pause_ms(5);
	}
	return false;
}

static void listen_addr(char *out, size_t cap, const struct simd *d, unsigned int port)
{
	snprintf(out, cap, "sim:%s@%u", d->l5, port);
}

static void connect_addr(char *out, size_t cap, const struct simd *d, unsigned int port)
{
	snprintf(out, cap, "sim:%s@5:%u", d->dyn, port);
}

/* A connection through the listener lfd: *c the connector's end, *s the
 * accepted one. */
static void argo_pair(int lfd, unsigned int port, int *c, int *s)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_ARGO);
	char addr[256];

	connect_addr(addr, sizeof(addr), &sim, port);
	*c = ops->connect(addr);
	CU_ASSERT_FATAL(*c >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(*c));
	CU_ASSERT_EQUAL(finish_connect(*c), 0);
	*s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(*s >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(*s));
}

static int argo_listen_on(unsigned int port)
{
	char addr[256];
	int lfd;

	listen_addr(addr, sizeof(addr), &sim, port);
	lfd = transport_get(TRANSPORT_ARGO)->listen(addr);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_TRUE(nonblock_cloexec(lfd));
	return lfd;
}

/* Byte off of the stream that side 'from' sends. */
static unsigned char pattern(int from, size_t off)
{
	return (unsigned char)(off * 31 + (off >> 11) + (size_t)from * 101);
}

/* Both ends write total bytes in chunks of assorted sizes while both read;
 * every byte is checked. 0, or -1 (and a message) on a loss, a corrupt
 * byte, an early EOF or a time-out. */
static int duplex(int a, int b, size_t total)
{
	static const size_t chunks[] = {1, 7, 100, 1000, 4096, 65536, 70001, 333, 131072, 65535};
	size_t sent[2] = {0, 0}, got[2] = {0, 0}, k[2] = {0, 0};
	int fds[2] = {a, b}, i, rc = 0;
	unsigned char *buf = malloc(140000);

	if (!buf)
		return -1;
	while (rc == 0 && (got[0] < total || got[1] < total)) {
		struct pollfd pfd[2];

		for (i = 0; i < 2; i++)
			pfd[i] = (struct pollfd){
			    .fd = fds[i],
			    .events = (short)(POLLIN | (sent[i] < total ? POLLOUT : 0))};
		if (poll(pfd, 2, TIMEOUT_MS) <= 0) {
			fprintf(stderr, "\n    duplex: stuck at %zu/%zu and %zu/%zu bytes\n",
			        got[0], total, got[1], total);
			rc = -1;
			break;
		}
		for (i = 0; i < 2 && rc == 0; i++) {
			ssize_t n;
			size_t j, len;

			if ((pfd[i].revents & POLLOUT) && sent[i] < total) {
				len = chunks[k[i]++ % N(chunks)];
				if (len > total - sent[i])
					len = total - sent[i];
				for (j = 0; j < len; j++)
					buf[j] = pattern(i, sent[i] + j);
				n = write(fds[i], buf, len);
				if (n > 0)
					sent[i] += (size_t)n;
				else if (n < 0 && errno != EAGAIN) {
					fprintf(stderr, "\n    duplex: write: %s\n",
					        strerror(errno));
					rc = -1;
				}
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				/* Read at fds[i]: bytes the other side sent. */
				int from = 1 - i;

				n = read(fds[i], buf, 140000);
				if (n < 0 && errno == EAGAIN)
					continue;
				if (n <= 0) {
					fprintf(stderr, "\n    duplex: %s after %zu bytes\n",
					        n ? strerror(errno) : "EOF", got[from]);
					rc = -1;
					break;
				}
				for (j = 0; j < (size_t)n; j++)
					if (buf[j] != pattern(from, got[from] + j)) {
						fprintf(stderr, "\n    duplex: byte %zu wrong\n",
						        got[from] + j);
						rc = -1;
						break;
					}
				got[from] += (size_t)n;
			}
		}
	}
	free(buf);
	return rc;
}

/* Reads until EOF (bytes before it are allowed): 0 on EOF in time. */
static int expect_eof(int fd)
{
	unsigned char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (!(wait_fd(fd, POLLIN, TIMEOUT_MS) & (POLLIN | POLLHUP | POLLERR)))
			return -ETIMEDOUT;
	}
}

static void test_argo_round_trip(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_ARGO);
	unsigned char data[1024];
	int lfd, c, s;
	size_t n;

	lfd = argo_listen_on(7100);
	/* Nothing to accept yet: EAGAIN, not a block. */
	CU_ASSERT_EQUAL(ops->accept(lfd, NULL), -EAGAIN);
	argo_pair(lfd, 7100, &c, &s);
	CU_ASSERT_EQUAL(count_pumps(), 2); /* the listener's and the connection's */
	n = binary_pattern(data, sizeof(data));
	exchange(c, s, data, n);
	/* 1 MiB each way at once, in chunks of 1 B to 128 KiB. */
	CU_ASSERT_EQUAL(duplex(c, s, 1u << 20), 0);
	/* Closing one end: the other reads EOF. */
	close(c);
	CU_ASSERT_EQUAL(expect_eof(s), 0);
	close(s);
	CU_ASSERT_EQUAL(ops->accept(lfd, NULL), -EAGAIN);
	close(lfd);
	CU_ASSERT_TRUE(pumps_gone());
}

/* EOF each way, several connections through one listener, and accepted
 * connections that outlive their listening fd. */
static void test_argo_eof(void)
{
	int lfd, c, s, c2, s2;

	lfd = argo_listen_on(7101);
	argo_pair(lfd, 7101, &c, &s);
	exchange(c, s, (const unsigned char *)"one", 3);
	close(s); /* the accepting side goes: the connector reads EOF */
	CU_ASSERT_EQUAL(expect_eof(c), 0);
	close(c);

	argo_pair(lfd, 7101, &c, &s);
	argo_pair(lfd, 7101, &c2, &s2); /* a new connection from the same domain? no: */
	/* each connect() is a domain of its own on the dynamic socket, so both
	 * stand side by side. */
	exchange(c, s, (const unsigned char *)"two", 3);
	exchange(c2, s2, (const unsigned char *)"three", 5);
	close(lfd); /* the listener goes; its connections stay */
	CU_ASSERT_EQUAL(duplex(c2, s2, 200000), 0);
	close(c2);
	CU_ASSERT_EQUAL(expect_eof(s2), 0);
	close(s2);
	close(c);
	CU_ASSERT_EQUAL(expect_eof(s), 0);
	close(s);
	CU_ASSERT_TRUE(pumps_gone());
}

/* A writer much faster than its reader: it is held back (its socket stops
 * taking bytes: the rings and socketpairs between are full), and not one
 * byte is lost. */
static void test_argo_back_pressure(void)
{
	unsigned char *buf = malloc(65536);
	size_t written = 0, got = 0, total, j;
	bool stalled = false;
	int lfd, c, s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	lfd = argo_listen_on(7102);
	argo_pair(lfd, 7102, &c, &s);
	/* Write until nothing moves for 300 ms; nobody reads s. */
	while (!stalled && written < (64u << 20)) {
		ssize_t n;

		for (j = 0; j < 65536; j++)
			buf[j] = pattern(0, written + j);
		n = write(c, buf, 65536);
		if (n > 0) {
			written += (size_t)n;
			continue;
		}
		CU_ASSERT_FATAL(n < 0 && errno == EAGAIN);
		stalled = !(wait_fd(c, POLLOUT, 300) & POLLOUT);
	}
	CU_ASSERT_TRUE(stalled);
	/* Held back within the buffers on the way: two socketpairs and a
	 * 1 MiB ring, a few MiB at most. */
	CU_ASSERT(written < (8u << 20));
	/* Now read it all, and 1 MiB more written meanwhile. */
	total = written + (1u << 20);
	while (got < total) {
		struct pollfd pfd[2] = {{.fd = s, .events = POLLIN},
		                        {.fd = c, .events = written < total ? POLLOUT : 0}};
		ssize_t n;

		if (poll(pfd, 2, TIMEOUT_MS) <= 0)
			break;
		if ((pfd[1].revents & POLLOUT) && written < total) {
			size_t len = total - written < 65536 ? total - written : 65536;

			for (j = 0; j < len; j++)
				buf[j] = pattern(0, written + j);
			n = write(c, buf, len);
			if (n > 0)
				written += (size_t)n;
		}
		if (pfd[0].revents & POLLIN) {
			n = read(s, buf, 65536);
			if (n <= 0)
				break;
			for (j = 0; j < (size_t)n; j++)
				if (buf[j] != pattern(0, got + j))
					break;
			CU_ASSERT_EQUAL_FATAL(j, (size_t)n);
			got += (size_t)n;
		}
	}
	CU_ASSERT_EQUAL(got, total);
	close(c);
	CU_ASSERT_EQUAL(expect_eof(s), 0);
	close(s);
	close(lfd);
	free(buf);
	CU_ASSERT_TRUE(pumps_gone());
}

static void test_argo_errors(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_ARGO);
	char addr[256];
	int lfd, rc;

	/* Nobody there (no domain 5 on the fabric): refused at once. */
	connect_addr(addr, sizeof(addr), &sim, 7103);
	CU_ASSERT_EQUAL(ops->connect(addr), -ECONNREFUSED);
	/* No fabric there. */
	snprintf(addr, sizeof(addr), "sim:%s/none.sock@5:7100", sim.dir);
	CU_ASSERT_EQUAL(ops->connect(addr), -ENOENT);
	snprintf(addr, sizeof(addr), "sim:%s/none.sock@7100", sim.dir);
	CU_ASSERT_EQUAL(ops->listen(addr), -ENOENT);
	snprintf(addr, sizeof(addr), "nosuch:%s@5:7100", sim.dir);
	CU_ASSERT_EQUAL(ops->connect(addr), -EPROTONOSUPPORT);
	/* Domain 5 is taken by a listener: a second one there is refused. */
	lfd = argo_listen_on(7103);
	/* Domain 5 is there, but nobody listens on that port. */
	connect_addr(addr, sizeof(addr), &sim, 7999);
	CU_ASSERT_EQUAL(ops->connect(addr), -ECONNREFUSED);
	listen_addr(addr, sizeof(addr), &sim, 7104);
	rc = ops->listen(addr);
	CU_ASSERT_EQUAL(rc, -EBUSY);
	if (rc >= 0)
		close(rc);
	close(lfd);
	/* The wrong form for the call. */
	snprintf(addr, sizeof(addr), "sim:%s@5:7100", sim.l5);
	CU_ASSERT_EQUAL(ops->listen(addr), -EINVAL);
	snprintf(addr, sizeof(addr), "sim:%s@7100", sim.dyn);
	CU_ASSERT_EQUAL(ops->connect(addr), -EINVAL);
	CU_ASSERT_EQUAL(ops->connect("nonsense"), -EINVAL);
	CU_ASSERT_TRUE(pumps_gone());
}

/* A raw domain on the fabric, speaking the transport's messages by hand. */
struct raw {
	struct argo_fabric *fabric;
	struct argo_ring *ring[2]; /* ports 9 and 10 */
};

static void raw_open(struct raw *r)
{
	char uri[160];
	unsigned int i;

	snprintf(uri, sizeof(uri), "sim:%s", sim.dyn);
	CU_ASSERT_EQUAL_FATAL(argo_open(uri, &r->fabric), 0);
	for (i = 0; i < 2; i++) {
		xen_argo_register_ring_t reg = {.aport = 9 + i, .partner_id = 5, .len = 65536};

		CU_ASSERT_EQUAL_FATAL(argo_register_ring(r->fabric, &reg, 0, &r->ring[i]), 0);
	}
}

static ssize_t raw_send(struct raw *r, uint32_t from_port, uint32_t to_port, uint32_t type,
                        const char *text)
{
	xen_argo_send_addr_t addr = {.src = {.aport = from_port, .domain_id = XEN_ARGO_DOMID_ANY},
	                             .dst = {.aport = to_port, .domain_id = 5}};
	struct iovec iov = {.iov_base = (void *)text, .iov_len = text ? strlen(text) : 0};

	return argo_sendv(r->fabric, &addr, &iov, text ? 1 : 0, type);
}

/* The next message into raw port 9 + which: its type, payload in buf
 * (NUL-terminated); the source must be the listener. -1 on a time-out. */
static int64_t raw_recv(struct raw *r, int which, char *buf, size_t cap)
{
	xen_argo_addr_t src;
	uint32_t type;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		ssize_t n = argo_recv(r->ring[which], &src, &type, buf, cap - 1);

		if (n >= 0) {
			argo_notify(r->fabric, NULL);
			buf[n] = '\0';
			CU_ASSERT_EQUAL(src.domain_id, 5);
			return type;
		}
		if (!(wait_fd(argo_event_fd(r->fabric), POLLIN, TIMEOUT_MS / 100) & POLLIN))
			continue;
		argo_event_clear(r->fabric);
	}
	return -1;
}

static bool read_text(int fd, const char *want)
{
	char buf[64] = {0};
	size_t len = strlen(want);

	return len < sizeof(buf) && read_exact(fd, buf, len) == 0 && !memcmp(buf, want, len);
}

/* What the listener does with messages from others: stream bytes from a
 * source with no connection are dropped, counted and answered with ARLX;
 * unknown types are dropped and counted; a second connect request from a
 * domain replaces its first connection. */
static void test_argo_foreign_and_replaced(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_ARGO);
	unsigned long dropped = transport_argo_dropped();
	struct raw r;
	char buf[128];
	int lfd, x, y;

	lfd = argo_listen_on(7105);
	raw_open(&r);
	/* Bytes without a connect request: dropped, and the stream is closed. */
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_DATA, "junk"), 4);
	CU_ASSERT_EQUAL(raw_recv(&r, 0, buf, sizeof(buf)), ARLK_CLOSE);
	CU_ASSERT_EQUAL(transport_argo_dropped(), dropped + 1);
	CU_ASSERT_EQUAL(ops->accept(lfd, NULL), -EAGAIN);

	/* A connection from port 9, both ways. */
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_CONNECT, NULL), 0);
	x = accept_one(ops, lfd);
	CU_ASSERT_FATAL(x >= 0);
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_DATA, "hello"), 5);
	CU_ASSERT_TRUE(read_text(x, "hello"));
	CU_ASSERT_EQUAL(write_all(x, "back", 4), 0);
	CU_ASSERT_EQUAL(raw_recv(&r, 0, buf, sizeof(buf)), ARLK_DATA);
	CU_ASSERT_STRING_EQUAL(buf, "back");

	/* The same domain connects again from port 10 (it restarted): the
	 * first connection ends (EOF there, ARLX to port 9). */
	CU_ASSERT_EQUAL(raw_send(&r, 10, 7105, ARLK_CONNECT, NULL), 0);
	y = accept_one(ops, lfd);
	CU_ASSERT_FATAL(y >= 0);
	CU_ASSERT_EQUAL(expect_eof(x), 0);
	CU_ASSERT_EQUAL(raw_recv(&r, 0, buf, sizeof(buf)), ARLK_CLOSE);
	/* The old port's bytes now go nowhere; the new port's arrive. */
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_DATA, "stale"), 5);
	CU_ASSERT_EQUAL(raw_send(&r, 10, 7105, 0x12345678u, "odd"), 3);
	CU_ASSERT_EQUAL(raw_send(&r, 10, 7105, ARLK_DATA, "new"), 3);
	CU_ASSERT_TRUE(read_text(y, "new"));
	CU_ASSERT_EQUAL(transport_argo_dropped(), dropped + 3);
	CU_ASSERT_EQUAL(raw_recv(&r, 0, buf, sizeof(buf)), ARLK_CLOSE); /* for "stale" */

	/* The accepting side closes: ARLX to the peer. */
	close(y);
	CU_ASSERT_EQUAL(raw_recv(&r, 1, buf, sizeof(buf)), ARLK_CLOSE);
	/* ARLX from the peer: EOF. */
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_CONNECT, NULL), 0);
	x = accept_one(ops, lfd);
	CU_ASSERT_FATAL(x >= 0);
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_DATA, "last"), 4);
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_CLOSE, NULL), 0);
	CU_ASSERT_TRUE(read_text(x, "last"));
	CU_ASSERT_EQUAL(expect_eof(x), 0);
	close(x);

	/* The peer's domain dies: the next bytes sent to it find no ring
	 * (-ECONNREFUSED), and the stream ends. */
	CU_ASSERT_EQUAL(raw_send(&r, 9, 7105, ARLK_CONNECT, NULL), 0);
	x = accept_one(ops, lfd);
	CU_ASSERT_FATAL(x >= 0);
	argo_close(r.fabric);
	CU_ASSERT_EQUAL(write_all(x, "anyone?", 7), 0);
	CU_ASSERT_EQUAL(expect_eof(x), 0);
	close(x);
	close(lfd);
	CU_ASSERT_TRUE(pumps_gone());
}

/* The listener's domain dies without a word and is back at once (its relay
 * was SIGKILLed and restarted), while the connection is idle: the
 * connector's ring went with it (its partner died), so nothing could tell
 * the connector; it finds out by itself within a second or two. */
static void test_argo_listener_died(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_ARGO);
	xen_argo_register_ring_t reg = {
	    .aport = 7107, .partner_id = XEN_ARGO_DOMID_ANY, .len = 65536};
	struct argo_fabric *f;
	struct argo_ring *ring;
	xen_argo_addr_t src;
	uint32_t type;
	char uri[160], addr[256];
	int c;

	snprintf(uri, sizeof(uri), "sim:%s", sim.l5);
	CU_ASSERT_EQUAL_FATAL(argo_open(uri, &f), 0);
	CU_ASSERT_EQUAL_FATAL(argo_register_ring(f, &reg, 0, &ring), 0);
	connect_addr(addr, sizeof(addr), &sim, 7107);
	c = ops->connect(addr);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT_EQUAL(argo_peek(ring, &src, &type), 0);
	CU_ASSERT_EQUAL(type, ARLK_CONNECT);
	argo_close(f); /* the domain dies */
	CU_ASSERT_EQUAL_FATAL(argo_open(uri, &f), 0);
	CU_ASSERT_EQUAL_FATAL(argo_register_ring(f, &reg, 0, &ring), 0);
	CU_ASSERT_EQUAL(expect_eof(c), 0);
	close(c);
	argo_close(f);
	CU_ASSERT_TRUE(pumps_gone());
}

/* The listener's fabric goes away and comes back (argo-simd restarted):
 * its connections end, and it serves again on the new fabric, through the
 * same listening fd. */
static void test_argo_fabric_restart(void)
{
	const struct transport_ops *ops = transport_get(TRANSPORT_ARGO);
	char addr[256];
	int lfd, c, s, tries;

	lfd = argo_listen_on(7106);
	argo_pair(lfd, 7106, &c, &s);
	CU_ASSERT_EQUAL_FATAL(simd_stop(&sim), 0);
	CU_ASSERT_EQUAL(expect_eof(s), 0); /* noticed within a second */
	close(s);
	close(c);
	CU_ASSERT_EQUAL_FATAL(simd_start(&sim), 0);
	/* The listener opens the fabric again within a second or so. */
	connect_addr(addr, sizeof(addr), &sim, 7106);
	for (tries = 0; tries < 60; tries++) {
		c = ops->connect(addr);
		if (c != -ECONNREFUSED)
			break;
		pause_ms(50);
	}
	CU_ASSERT_FATAL(c >= 0);
	s = accept_one(ops, lfd);
	CU_ASSERT_FATAL(s >= 0);
	CU_ASSERT_EQUAL(duplex(c, s, 100000), 0);
	close(c);
	CU_ASSERT_EQUAL(expect_eof(s), 0);
	close(s);
	close(lfd);
	CU_ASSERT_TRUE(pumps_gone());
}

static int argo_suite_init(void)
{
	snprintf(sim.dir, sizeof(sim.dir), "/tmp/test-transport-argo.XXXXXX");
	if (!mkdtemp(sim.dir))
		return -1;
	simd_paths(&sim);
	/* The daemon detaches: as our subreaper child we can still reap it. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || simd_start(&sim) < 0)
		return -1;
	return 0;
}

static int argo_suite_clean(void)
{
	int rc = simd_stop(&sim);

	if (rc < 0)
		fprintf(stderr, "argo-simd did not exit cleanly: see %s\n", sim.log);
	else
		simd_remove(&sim);
	return rc;
}

/* ---------------------------------------------------------------------------
 */

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-transport.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int suite_clean(void)
{
	return rmdir(dir) == 0 ? 0 : -1;
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_table),
	    T(test_check_unix),
	    T(test_check_tcp),
	    T(test_check_serial),
	    T(test_check_vsock),
	    T(test_unix_round_trip),
	    T(test_unix_connect_errors),
	    T(test_unix_stale_replaced),
	    T(test_unix_live_refused),
	    T(test_tcp_ipv4),
	    T(test_tcp_ipv6),
	    T(test_tcp_refused_and_busy),
	    T(test_serial_pty),
	    T(test_serial_unix_socket),
	    T(test_serial_errors),
	    T(test_vsock),
	    T(test_check_argo),
	};
	static const struct test_def argo_tests[] = {
	    T(test_argo_round_trip),           T(test_argo_eof),
	    T(test_argo_back_pressure),        T(test_argo_errors),
	    T(test_argo_foreign_and_replaced), T(test_argo_listener_died),
	    T(test_argo_fabric_restart),
	};
	static const struct suite_def suites[] = {
	    {"transports", tests, N(tests), suite_init, suite_clean, NULL, NULL},
	    {"argo", argo_tests, N(argo_tests), argo_suite_init, argo_suite_clean, NULL, NULL},
	};

	/* As in argo-relayd: a peer that goes away is an EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cunit_main(suites, N(suites));
}
