/* SPDX-License-Identifier: MIT */
/* argo-relayd as a daemon: see daemon.h. */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int daemon_detach(int *ready_fd)
{
	int pipefd[2], devnull;
	pid_t pid;
	char status;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		/* The child writes 'R' once it serves; a child that fails
		 * first closes the pipe (exits) and read() returns 0. */
		close(pipefd[1]);
		while (read(pipefd[0], &status, 1) < 0 && errno == EINTR)
			;
		_exit(status == 'R' ? 0 : 1);
	}
	close(pipefd[0]);
	if (setsid() < 0)
		return -errno;
	/* Let go of the caller's stdin and stdout (a shell's $(...) waits for
	 * them); stderr stays, it is our log. */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0)
		return -errno;
	close(devnull);
	*ready_fd = pipefd[1];
	return 0;
}

void daemon_ready(int ready_fd)
{
	if (ready_fd < 0)
		return;
	/* Nothing to do if the parent is gone: it could only exit 0 now. */
	if (write(ready_fd, "R", 1) != 1) {
	}
	close(ready_fd);
}

int daemon_write_pidfile(const char *path)
{
	char text[24];
	int fd, n, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (write(fd, text, (size_t)n) != n)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

int daemon_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	socklen_t len;
	size_t n;
	ssize_t sent;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(addr.sun_path))
		return -EINVAL;
	memcpy(addr.sun_path, path, n);
	if (path[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract: no trailing NUL in the length */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
	if (sent < 0)
		err = -errno;
	else if ((size_t)sent != strlen(state))
		err = -EIO;
	close(fd);
	return err;
}
