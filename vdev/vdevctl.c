/* SPDX-License-Identifier: MIT */
/*
 * argo-vdevctl: reads argo-vdevd's state and counters over its control
 * socket (vdev/control.c).
 *
 *   argo-vdevctl -s SOCKET [status|devices|counters] [--json]
 *   argo-vdevctl --help | --version
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "argo/version.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: argo-vdevctl -s SOCKET [status|devices|counters] [--json]\n"
	             "       argo-vdevctl --help | --version\n"
	             "Shows argo-vdevd's state and counters, read from its control socket\n"
	             "(the control key of its configuration; docs/virtio-argo.md).\n"
	             "  -s SOCKET   argo-vdevd's control socket\n"
	             "  status      the bus: domain, bus port, devices, subscribers (default)\n"
	             "  devices     and each device\n"
	             "  counters    and every counter\n"
	             "  --json      the same as one JSON object\n");
}

/* A usage error: said on stderr by the caller, exit status 2. */
static int usage_error(void)
{
	fprintf(stderr, "Try 'argo-vdevctl --help' for more information.\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *sock = NULL, *cmd = "status";
	char line[64], buf[4096];
	int json = 0, fd, i;
	ssize_t n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s")) {
			if (i + 1 == argc) {
				fprintf(stderr, "argo-vdevctl: -s needs a SOCKET\n");
				return usage_error();
			}
			sock = argv[++i];
		} else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "status") || !strcmp(argv[i], "devices") ||
		         !strcmp(argv[i], "counters"))
			cmd = argv[i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("argo-vdevctl (%s) %s\n", ARGO_PACKAGE, ARGO_VERSION);
			return 0;
		} else {
			fprintf(stderr, "argo-vdevctl: %s '%s'\n",
			        argv[i][0] == '-' ? "unknown option" : "unknown command", argv[i]);
			return usage_error();
		}
	}
	if (!sock) {
		fprintf(stderr, "argo-vdevctl: -s SOCKET is required\n");
		return usage_error();
	}
	if (strlen(sock) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "argo-vdevctl: %s: socket path longer than %zu bytes\n", sock,
		        sizeof(addr.sun_path) - 1);
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
