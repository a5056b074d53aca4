/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "simd_config.h"

#include "argo/version.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: argo-simd [options]\n"
	        "  -s, --socket PATH         socket where each connection becomes a new domain\n"
	        "  -D, --domain DOMID=PATH   socket that gives the domain DOMID (one at a time)\n"
	        "  -f, --first-domid N       lowest domid handed out on --socket (default 1)\n"
	        "  -m, --mac-permissive      allow wildcard (DOMID_ANY) rings\n"
	        "  -p, --policy RULE         send rule: allow|deny [src D[:P]] [dst D[:P]]\n"
	        "  -P, --policy-default A    allow (default) or deny what no rule matches\n"
	        "  -c, --config FILE         INI file (see docs/sim-fabric.md)\n"
	        "  -u, --user NAME           drop privileges to NAME once the sockets are bound\n"
	        "      --socket-mode MODE    file mode of the --socket socket (octal, default 0600)\n"
	        "      --domain-mode MODE    file mode of the --domain sockets (default 0600)\n"
	        "      --group GROUP         group of every socket (name or number)\n"
	        "  -d, --daemon              detach once ready (the parent exits 0 when serving)\n"
	        "      --pidfile FILE        write the daemon's pid here\n"
	        "  -v, --verbose             log every connection (twice: and every refused\n"
	        "                            request)\n"
	        "      --engine E            auto (default), io_uring or epoll: the event loop\n"
	        "                            (also ARGO_SIMD_ENGINE in the environment)\n"
	        "  -h, --help                print this help and exit\n"
	        "  -V, --version             print the version and exit\n"
	        "SIGUSR1 prints statistics; SIGTERM or SIGINT stops the daemon.\n"
	        "Exit status: 0 after SIGTERM/SIGINT, 1 when start-up fails, 2 for a\n"
	        "command-line or configuration error.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") ||
	    !strcasecmp(s, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") ||
	    !strcasecmp(s, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* A socket's file mode: octal, at most 0777 (who may connect: write). */
static int parse_mode(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 0777)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* A group by name or number. */
static int parse_group(const char *s, long *out)
{
	unsigned long n;
	struct group *gr;

	if (parse_uint(s, 0x7fffffff, &n) == 0) {
		*out = (long)n;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -ENOENT;
	*out = (long)gr->gr_gid;
	return 0;
}

static int copy_path(char *dst, size_t size, const char *src)
{
	if (!*src || strlen(src) >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* Shared by the file and the command line: returns a reason or NULL. */
static const char *add_static(struct simd_config *config, const char *domid_text, const char *path)
{
	unsigned long domid;
	unsigned int i;

	if (parse_uint(domid_text, XEN_DOMID_FIRST_RESERVED - 1, &domid) < 0)
		return "a domid is a number below 32752";
	for (i = 0; i < config->nstatics; i++)
		if (config->statics[i].domid == domid)
			return "this domid is given twice";
	if (config->nstatics >= SIMD_MAX_STATIC_DOMAINS)
		return "too many static domains";
	if (copy_path(config->statics[config->nstatics].socket, SIMD_PATH_MAX, path) < 0)
		return "socket path empty or longer than 107 bytes";
	config->statics[config->nstatics++].domid = (argo_domid_t)domid;
	return NULL;
}

static const char *set_policy_default(struct simd_config *config, const char *value)
{
	if (!strcmp(value, "allow"))
		config->policy.default_allow = true;
	else if (!strcmp(value, "deny"))
		config->policy.default_allow = false;
	else
		return "policy default is 'allow' or 'deny'";
	return NULL;
}

struct file_state {
	struct simd_config *config;
	const char *why;
};

/* inih handler: returns 0 (error) with st->why set. */
static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct file_state *st = user;
	struct simd_config *config = st->config;
	unsigned long n;

	/* inih goes on after an error; keep the first one's reason. */
	if (st->why)
		return 0;

	if (!strcmp(section, "fabric")) {
		if (!strcmp(name, "socket")) {
			if (copy_path(config->socket, SIMD_PATH_MAX, value) < 0)
				st->why = "socket path empty or longer than 107 bytes";
		} else if (!strcmp(name, "first_domid")) {
			if (parse_uint(value, XEN_DOMID_FIRST_RESERVED - 1, &n) < 0)
				st->why = "first_domid is a number below 32752";
			else
				config->first_domid = (argo_domid_t)n;
		} else if (!strcmp(name, "mac_permissive")) {
			if (parse_bool(value, &config->mac_permissive) < 0)
				st->why = "mac_permissive is yes or no";
		} else if (!strcmp(name, "user")) {
			if (strlen(value) >= sizeof(config->user))
				st->why = "user name too long";
			else
				memcpy(config->user, value, strlen(value) + 1);
		} else if (!strcmp(name, "socket_mode")) {
			if (parse_mode(value, &config->socket_mode) < 0)
				st->why = "socket_mode is an octal file mode, 0 to 0777";
		} else if (!strcmp(name, "domain_mode")) {
			if (parse_mode(value, &config->domain_mode) < 0)
				st->why = "domain_mode is an octal file mode, 0 to 0777";
		} else if (!strcmp(name, "group")) {
			if (parse_group(value, &config->group) < 0)
				st->why = "group: no such group";
		} else {
			st->why = "unknown key in [fabric] (socket, first_domid, mac_permissive, user, "
			          "socket_mode, domain_mode, group)";
		}
	} else if (!strcmp(section, "domains")) {
		st->why = add_static(config, name, value);
	} else if (!strcmp(section, "policy")) {
		if (!strcmp(name, "default")) {
			st->why = set_policy_default(config, value);
		} else if (!strcmp(name, "rule")) {
			const char *why;

			if (sim_policy_add(&config->policy, value, &why) < 0)
				st->why = why;
		} else {
			st->why = "unknown key in [policy] (default, rule)";
		}
	} else {
		st->why = "unknown section (fabric, domains, policy)";
	}
	return st->why == NULL;
}

static int parse_file(struct simd_config *config, const char *path)
{
	struct file_state st = {.config = config};
	int line = ini_parse(path, on_ini_entry, &st);

	if (line == -1) {
		fprintf(stderr, "argo-simd: %s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	if (line != 0) {
		fprintf(stderr, "argo-simd: %s:%d: %s\n", path, line,
		        st.why ? st.why : "syntax error (expected [section] or key = value)");
		return -1;
	}
	return 0;
}

enum { OPT_PIDFILE = 256, OPT_SOCKET_MODE, OPT_DOMAIN_MODE, OPT_GROUP, OPT_ENGINE };

static int parse_engine(const char *s, enum simd_engine_choice *out)
{
	if (!strcmp(s, "auto"))
		*out = SIMD_ENGINE_AUTO;
	else if (!strcmp(s, "io_uring"))
		*out = SIMD_ENGINE_URING;
	else if (!strcmp(s, "epoll"))
		*out = SIMD_ENGINE_EPOLL;
	else
		return -EINVAL;
	return 0;
}

int simd_config_parse(struct simd_config *config, int argc, char **argv)
{
	static const struct option options[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"domain", required_argument, NULL, 'D'},
	    {"first-domid", required_argument, NULL, 'f'},
	    {"mac-permissive", no_argument, NULL, 'm'},
	    {"policy", required_argument, NULL, 'p'},
	    {"policy-default", required_argument, NULL, 'P'},
	    {"config", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"daemon", no_argument, NULL, 'd'},
	    {"pidfile", required_argument, NULL, OPT_PIDFILE},
	    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
	    {"domain-mode", required_argument, NULL, OPT_DOMAIN_MODE},
	    {"group", required_argument, NULL, OPT_GROUP},
	    {"engine", required_argument, NULL, OPT_ENGINE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *optstring = "s:D:f:mp:P:c:u:dvhV";
	const char *why;
	unsigned long n;
	int c;

	memset(config, 0, sizeof(*config));
	config->first_domid = 1;
	config->socket_mode = 0600;
	config->domain_mode = 0600;
	config->group = -1;
	sim_policy_init(&config->policy, true);
	if (getenv("ARGO_SIMD_ENGINE") &&
	    parse_engine(getenv("ARGO_SIMD_ENGINE"), &config->engine) < 0) {
		fprintf(stderr, "argo-simd: ARGO_SIMD_ENGINE: auto, io_uring or epoll\n");
		return -1;
	}

	/* First pass: the file, so that the command line can override it. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, options, NULL)) != -1)
		if (c == 'c' && parse_file(config, optarg) < 0)
			return -1;

	opterr = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, optstring, options, NULL)) != -1) {
		why = NULL;
		switch (c) {
		case 's':
			if (copy_path(config->socket, SIMD_PATH_MAX, optarg) < 0)
				why = "socket path empty or longer than 107 bytes";
			break;
		case 'D': {
			char *eq = strchr(optarg, '=');

			if (!eq) {
				why = "--domain takes DOMID=PATH";
				break;
			}
			*eq = '\0';
			why = add_static(config, optarg, eq + 1);
			*eq = '=';
			break;
		}
		case 'f':
			if (parse_uint(optarg, XEN_DOMID_FIRST_RESERVED - 1, &n) < 0)
				why = "--first-domid is a number below 32752";
			else
				config->first_domid = (argo_domid_t)n;
			break;
		case 'm':
			config->mac_permissive = true;
			break;
		case 'p':
			if (sim_policy_add(&config->policy, optarg, &why) < 0 && !why)
				why = "bad rule";
			break;
		case 'P':
			why = set_policy_default(config, optarg);
			break;
		case 'c':
			break;
		case 'u':
			if (strlen(optarg) >= sizeof(config->user))
				why = "user name too long";
			else
				memcpy(config->user, optarg, strlen(optarg) + 1);
			break;
		case 'd':
			config->daemonize = true;
			break;
		case OPT_SOCKET_MODE:
			if (parse_mode(optarg, &config->socket_mode) < 0)
				why = "an octal file mode, 0 to 0777";
			break;
		case OPT_DOMAIN_MODE:
			if (parse_mode(optarg, &config->domain_mode) < 0)
				why = "an octal file mode, 0 to 0777";
			break;
		case OPT_GROUP:
			if (parse_group(optarg, &config->group) < 0)
				why = "no such group";
			break;
		case OPT_PIDFILE:
			if (strlen(optarg) >= sizeof(config->pidfile))
				why = "pidfile path too long";
			else
				memcpy(config->pidfile, optarg, strlen(optarg) + 1);
			break;
		case 'v':
			config->verbose++;
			break;
		case OPT_ENGINE:
			if (parse_engine(optarg, &config->engine) < 0)
				why = "--engine takes auto, io_uring or epoll";
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("argo-simd (%s) %s\n", ARGO_PACKAGE, ARGO_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
		if (why) {
			fprintf(stderr, "argo-simd: %s: %s\n", argv[optind - 1], why);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "argo-simd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!config->socket[0] && !config->nstatics) {
		fprintf(stderr, "argo-simd: nothing to serve: give --socket or --domain\n");
		return -1;
	}
	return 0;
}
