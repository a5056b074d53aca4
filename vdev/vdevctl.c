/* SPDX-License-Identifier: MIT */
/*
 * argo-vdevctl: reads argo-vdevd's state and counters over its control
 * socket (vdev/control.c).
 *
 *   argo-vdevctl -s SOCKET [status|devices|counters] [--json]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *sock = NULL, *cmd = "status";
	char line[64], buf[4096];
	int json = 0, fd, i;
	ssize_t n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "status") || !strcmp(argv[i], "devices") ||
		         !strcmp(argv[i], "counters"))
			cmd = argv[i];
		else {
			fprintf(
			    stderr,
			    "usage: argo-vdevctl -s SOCKET [status|devices|counters] [--json]\n");
			return 2;
		}
	}
	if (!sock || strlen(sock) >= sizeof(addr.sun_path)) {
		fprintf(stderr,
		        "usage: argo-vdevctl -s SOCKET [status|devices|counters] [--json]\n");
		return 2;
	}
	memcpy(addr.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "argo-vdevctl: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	snprintf(line, sizeof(line), "%s%s\n", cmd, json ? " json" : "");
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		fprintf(stderr, "argo-vdevctl: write: %s\n", strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	close(fd);
	return n < 0 ? 1 : 0;
}
