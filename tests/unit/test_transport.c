/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the link transports (relay/transport*.c): unix, tcp
 * (127.0.0.1 and, when the machine has it, [::1]), serial (over a pty pair,
 * and to a unix socket path as a QEMU chardev in server mode gives) and
 * vsock (address parsing; a listening socket only if this kernel has
 * AF_VSOCK; never a connection).
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "transport.h"

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
	return ops->accept(lfd);
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
	                                            TRANSPORT_VSOCK};
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
	CU_ASSERT_PTR_NULL(transport_get(TRANSPORT_ARGO));
	CU_ASSERT_TRUE(transport_get(TRANSPORT_UNIX)->is_socket);
	CU_ASSERT_TRUE(transport_get(TRANSPORT_TCP)->is_socket);
	CU_ASSERT_FALSE(transport_get(TRANSPORT_SERIAL)->is_socket);
	CU_ASSERT_TRUE(transport_get(TRANSPORT_VSOCK)->is_socket);
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

#define N(a) (sizeof(a) / sizeof((a)[0]))

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
	CU_ASSERT_EQUAL(ops->accept(lfd), -EAGAIN);
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
	CU_ASSERT_EQUAL(ops->accept(lfd), -EAGAIN);
	close(lfd);
}

/* ---------------------------------------------------------------------------
 */

struct test_def {
	const char *name;
	CU_TestFunc fn;
};

#define T(fn)                                                                                      \
	{                                                                                          \
#fn, fn                                                                            \
	}

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
	};
	unsigned int run, failed, i;
	CU_pSuite s;

	/* As in argo-relayd: a peer that goes away is an EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("transports", suite_init, suite_clean);
	if (!s) {
		CU_cleanup_registry();
		return 2;
	}
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
			CU_cleanup_registry();
			return 2;
		}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	if (CU_get_number_of_suites_failed() > 0)
		failed++;
	CU_cleanup_registry();
	printf("%u passed, %u failed\n", run - (failed > run ? run : failed), failed);
	return failed ? 1 : 0;
}
