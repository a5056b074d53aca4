/* SPDX-License-Identifier: MIT */
/*
 * The unix transport: ADDR is a filesystem path, SOCK_STREAM (relays on one
 * OS instance, tests). Also the socket half of the serial transport (a
 * QEMU/libvirt chardev socket), which reaches these through transport_get().
 *
 * listen() replaces a stale socket file (one nobody listens on) but refuses
 * with -EADDRINUSE when a live listener answers, or when the path is not a
 * socket at all. connect() on a unix stream socket completes at once or
 * fails at once (-ECONNREFUSED, -ENOENT, -EAGAIN when the listener's backlog
 * is full), so the fd it returns is always connected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport.h"

#define UNIX_BACKLOG 16

static int unix_fill(const char *address, struct sockaddr_un *sun)
{
	size_t len;

	if (!address)
		return -EINVAL;
	len = strlen(address);
	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, address, len + 1);
	return 0;
}

static int unix_check_address(const char *address, const char **why)
{
	struct sockaddr_un sun;
	int rc = unix_fill(address, &sun);

	if (rc < 0) {
		if (why)
			*why = rc == -ENAMETOOLONG ? "a unix socket path is at most 107 bytes long"
			                           : "a unix socket address is a filesystem path";
		return -EINVAL;
	}
	return 0;
}

static int unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* Does a live listener answer on this path? 1 yes, 0 no (stale), < 0 error. */
static int unix_live(const struct sockaddr_un *sun)
{
	int fd = unix_socket();
	int rc;

	if (fd < 0)
		return fd;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		rc = 1;
	else if (errno == ECONNREFUSED)
		rc = 0;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		rc = 1; /* a listener whose backlog is full: alive */
	else
		rc = -errno;
	close(fd);
	return rc;
}

static int unix_listen(const char *address)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	rc = unix_fill(address, &sun);
	if (rc < 0)
		return rc;
	fd = unix_socket();
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		if (rc != -EADDRINUSE)
			goto fail;
		/* Something is there: replace it only if it is a dead socket. */
		if (lstat(address, &st) < 0 || !S_ISSOCK(st.st_mode))
			goto fail;
		rc = unix_live(&sun);
		if (rc != 0) {
			if (rc > 0)
				rc = -EADDRINUSE;
			goto fail;
		}
		if (unlink(address) < 0 && errno != ENOENT) {
			rc = -errno;
			goto fail;
		}
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	if (listen(fd, UNIX_BACKLOG) < 0) {
		rc = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

/* The connecting process's credentials, as the kernel took them at
 * connect(): "uid U pid P", source "uid U". */
static void unix_describe(int fd, struct transport_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		snprintf(peer->name, sizeof(peer->name), "uid %u pid %d", (unsigned int)cred.uid,
		         (int)cred.pid);
		snprintf(peer->source, sizeof(peer->source), "uid %u", (unsigned int)cred.uid);
	} else {
		snprintf(peer->name, sizeof(peer->name), "?");
		snprintf(peer->source, sizeof(peer->source), "?");
	}
}

static int unix_accept(int listen_fd, struct transport_peer *peer)
{
	int fd;

	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (peer)
		unix_describe(fd, peer);
	return fd;
}

static int unix_connect(const char *address)
{
	struct sockaddr_un sun;
	int fd, rc;

	rc = unix_fill(address, &sun);
	if (rc < 0)
		return rc;
	fd = unix_socket();
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

extern const struct transport_ops transport_unix_ops;
const struct transport_ops transport_unix_ops = {
    .kind = TRANSPORT_UNIX,
    .check_address = unix_check_address,
    .listen = unix_listen,
    .accept = unix_accept,
    .connect = unix_connect,
    .is_socket = 1,
};
