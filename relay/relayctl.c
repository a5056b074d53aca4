/* SPDX-License-Identifier: MIT */
/*
 * argo-relayctl: asks a running relay over its control socket (control.h)
 * and prints the answer; docs/relay-control.md is the reference of the
 * commands and of every field they show, argo-relayctl(1) the manual.
 *
 *   argo-relayctl [-s SOCKET | -n NAME] [--json] [COMMAND]
 *
 * The answer goes to standard output; an error (the relay's, or ours) to
 * standard error, as JSON with --json, and the exit status is 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "argo/version.h"

/* Where argo-relayd@NAME.service's relays put their control sockets
 * (dist/tmpfiles-argo.conf, the example configuration). */
#define CONTROL_DIR "/run/argo-relay"

static const char *const commands[] = {"status",   "links",    "routes",
                                       "mappings", "counters", "reload"};

static bool json;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: argo-relayctl [-s SOCKET | -n NAME] [--json] [COMMAND]\n"
	        "Asks a running argo-relayd. COMMAND:\n"
	        "  status     everything below but reload (the default)\n"
	        "  links      each link: state, why it is down, counters\n"
	        "  routes     the hvids the relay reaches, and through which link\n"
	        "  mappings   import and proxy ports, and messages held for ring space\n"
	        "  counters   messages in and out, undeliverable, memory held\n"
	        "  reload     make the relay read its configuration again\n"
	        "Options:\n"
	        "  -s, --socket SOCKET   the relay's control socket (its 'control' path)\n"
	        "  -n, --name NAME       the relay of argo-relayd@NAME: " CONTROL_DIR "/NAME.ctl\n"
	        "  -j, --json            answer in JSON (fields: docs/relay-control.md)\n"
	        "  -h, --help            print this help and exit\n"
	        "  -V, --version         print the version and exit\n"
	        "Without -s or -n: $ARGO_RELAY_CONTROL, else the one socket in " CONTROL_DIR "/.\n"
	        "Exit status: 0 when the relay answered, 1 when it could not be reached or\n"
	        "answered with an error (on standard error; as JSON with --json), 2 for a\n"
	        "usage error.\n");
}

/* An error of ours or the relay's: on standard error, as the answer would
 * be (a JSON object with --json). Returns 1, the exit status. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char text[1024];
	const char *c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!json) {
		fprintf(stderr, "argo-relayctl: %s\n", text);
		return 1;
	}
	fputs("{\"error\":\"", stderr);
	for (c = text; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(stderr, "\\%c", *c);
		else if ((unsigned char)*c < 0x20)
			fprintf(stderr, "\\u%04x", (unsigned char)*c);
		else
			fputc(*c, stderr);
	}
	fputs("\"}\n", stderr);
	return 1;
}

/* The default socket: $ARGO_RELAY_CONTROL, else the only *.ctl of
 * CONTROL_DIR. 0, or an error said (1). */
static int default_socket(char *path, size_t cap)
{
	const char *env = getenv("ARGO_RELAY_CONTROL");
	char names[256] = "";
	struct dirent *e;
	int found = 0;
	DIR *dir;

	if (env && *env) {
		snprintf(path, cap, "%s", env);
		return 0;
	}
	dir = opendir(CONTROL_DIR);
	if (!dir)
		return fail("no control socket: give -s SOCKET or -n NAME (%s: %s)", CONTROL_DIR,
		            strerror(errno));
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);

		if (n < 5 || strcmp(e->d_name + n - 4, ".ctl"))
			continue;
		if (!found++)
			snprintf(path, cap, "%s/%s", CONTROL_DIR, e->d_name);
		if (strlen(names) + n + 3 < sizeof(names))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%.*s",
			         found > 1 ? ", " : "", (int)(n - 4), e->d_name);
	}
	closedir(dir);
	if (found == 1)
		return 0;
	if (!found)
		return fail("no control socket in %s: is a relay running? Give -s SOCKET (its "
		            "'control' path) or -n NAME",
		            CONTROL_DIR);
	return fail("%d relays run here (%s): say which with -n NAME or -s SOCKET", found, names);
}

/* Sends the command, reads the whole answer into *answer (malloc'd). */
static int ask(const char *sock, const char *cmd, char **answer, size_t *len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char line[64], *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t got;
	int fd;

	if (strlen(sock) >= sizeof(addr.sun_path))
		return fail("%s: path too long for a unix socket", sock);
	memcpy(addr.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return fail("cannot reach the relay at %s: %s%s", sock, strerror(err),
		            err == ENOENT || err == ECONNREFUSED
		                ? " (is argo-relayd running with this 'control' path?)"
		            : err == EACCES ? " (the socket's control_mode and control_group say "
		                              "who may use it)"
		                            : "");
	}
	snprintf(line, sizeof(line), "%s%s\n", cmd, json ? " json" : "");
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		int err = errno;

		close(fd);
		return fail("%s: %s", sock, strerror(err));
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *more = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!more) {
				free(buf);
				close(fd);
				return fail("out of memory");
			}
			buf = more;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (got < 0) {
		free(buf);
		return fail("%s: %s", sock, strerror(errno));
	}
	if (n == 0) {
		free(buf);
		return fail("the relay at %s closed without an answer", sock);
	}
	buf[n] = '\0';
	*answer = buf;
	*len = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'}, {"name", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *name = NULL, *cmd = "status";
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64], *answer = NULL;
	size_t len = 0, i;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:n:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("argo-relayctl (" ARGO_PACKAGE ") " ARGO_VERSION "\n");
			return 0;
		case ':':
			fprintf(stderr, "argo-relayctl: option %s needs a value\n",
			        argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			if (optopt)
				fprintf(stderr, "argo-relayctl: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "argo-relayctl: unknown option %s\n",
				        argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	/* One command, one of ours: "status links" is not "links". */
	if (optind < argc)
		cmd = argv[optind++];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i]))
			break;
	/* Usage errors after the options: exit 2, said as any error is
	 * (JSON with --json). */
	if (i == sizeof(commands) / sizeof(commands[0]))
		return 1 + fail("unknown command '%s' (status, links, routes, mappings, counters, "
		                "reload)",
		                cmd);
	if (optind < argc)
		return 1 + fail("one command at a time: '%s' after '%s'", argv[optind], cmd);
	if (sock && name)
		return 1 + fail("-s and -n name the same thing: give one of them");
	if (name) {
		if (!*name || strchr(name, '/'))
			return 1 + fail("-n takes the NAME of argo-relayd@NAME, not '%s'", name);
		snprintf(path, sizeof(path), "%s/%s.ctl", CONTROL_DIR, name);
		sock = path;
	} else if (!sock) {
		if (default_socket(path, sizeof(path)))
			return 1;
		sock = path;
	}
	if (ask(sock, cmd, &answer, &len))
		return 1;
	/* The relay's own errors: "error: ..." in text, {"error":...} in JSON. */
	if (!strncmp(answer, "error: ", 7) || !strncmp(answer, "{\"error\":", 9)) {
		fwrite(answer, 1, len, stderr);
		ret = 1;
	} else {
		ret = fwrite(answer, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
	}
	free(answer);
	return ret;
}
