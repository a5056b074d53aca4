/* SPDX-License-Identifier: MIT */
/*
 * argo-relayctl: reads a running relay's state over its control socket.
 *
 *   argo-relayctl -s SOCKET [status|links|routes|mappings|counters] [--json]
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
	fprintf(out, "usage: argo-relayctl -s SOCKET [status|links|routes|mappings|counters] "
	             "[--json]\n"
	             "Shows a running argo-relayd's state, read over its control socket.\n"
	             "  -s SOCKET       the relay's control socket (its 'control' key); required\n"
	             "  --json          the answer as one JSON document\n"
	             "  -h, --help      print this help and exit\n"
	             "  -V, --version   print the version and exit\n"
	             "The command is status when none is given.\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *sock = NULL, *cmd = "status";
	char line[160], buf[65536];
	int json = 0, fd, i;
	ssize_t n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("argo-relayctl (%s) %s\n", ARGO_PACKAGE, ARGO_VERSION);
			return 0;
		} else if (argv[i][0] != '-')
			cmd = argv[i];
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!sock || strlen(sock) >= sizeof(addr.sun_path)) {
		fprintf(stderr,
		        "argo-relayctl: -s SOCKET (the relay's 'control' path) is required\n");
		return 2;
	}
	memcpy(addr.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "argo-relayctl: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	snprintf(line, sizeof(line), "%s%s\n", cmd, json ? " json" : "");
	if (write(fd, line, strlen(line)) < 0) {
		fprintf(stderr, "argo-relayctl: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}
