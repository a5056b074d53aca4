/* SPDX-License-Identifier: MIT */
/*
 * argo-vdevd's control socket, spoken as argo-relayd's is: a client
 * connects, sends one line ("status", "devices" or "counters", optionally
 * followed by " json"), reads the answer until the daemon closes. Answers
 * come at once from the daemon's own state; a client that does not send its
 * line within a second is dropped, so the loop never waits on it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdev.h"

struct out {
	char *buf;
	size_t len, cap;
};

static void add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t cap = (o->cap + (size_t)n + 1) * 2;
			char *p = realloc(o->buf, cap);

			if (!p)
				return;
			o->buf = p;
			o->cap = cap;
		}
	}
}

int control_open(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, probe;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* A live daemon on this path is refused; a stale socket replaced. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int live = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;

		close(probe);
		if (live)
			return -EADDRINUSE;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static const char *type_name(enum vdev_type t)
{
	return t == VDEV_BLK ? "blk" : "fs";
}

/* The counters of c, as "name value" pairs (text) or JSON members. */
static void counters(struct out *o, const struct counters *c, bool json, const char *indent)
{
	static const char *const reasons[] = {
	    "",          "short",        "size",      "type",     "unknown",
	    "device",    "not_attached", "busy",      "queue",    "id",
	    "id_in_use", "segs",         "too_large", "fragment", "not_ready",
	    "field",     "needs_reset",  "backend",
	};
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
	    {"msgs_in", c->msgs_in},
	    {"msgs_out", c->msgs_out},
	    {"bytes_in", c->bytes_in},
	    {"bytes_out", c->bytes_out},
	    {"chains", c->chains},
	    {"chain_out_bytes", c->chain_out_bytes},
	    {"chain_in_bytes", c->chain_in_bytes},
	    {"fragments_in", c->fragments_in},
	    {"fragments_out", c->fragments_out},
	    {"errors_sent", c->errors_sent},
	    {"errors_suppressed", c->errors_suppressed},
	    {"sendv_calls", c->sendv_calls},
	    {"notify_calls", c->notify_calls},
	    {"ring_checks", c->ring_checks},
	    {"ring_probes", c->ring_probes},
	    {"rings_lost", c->rings_lost},
	    {"send_waits", c->send_waits},
	    {"foreign", c->foreign},
	    {"attaches", c->attaches},
	    {"detaches", c->detaches},
	    {"resets", c->resets},
	    {"driver_gone", c->driver_gone},
	    {"backend_connects", c->backend_connects},
	    {"backend_lost", c->backend_lost},
	    {"backend_errors", c->backend_errors},
	    {"chains_failed", c->chains_failed},
	    {"chains_dropped", c->chains_dropped},
	    {"latency_us_avg", c->latency_samples ? c->latency_us_sum / c->latency_samples : 0},
	    {"latency_us_max", c->latency_us_max},
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (json)
			add(o, "%s\"%s\": %llu,\n", indent, f[i].name, (unsigned long long)f[i].v);
		else
			add(o, "%s%s %llu\n", indent, f[i].name, (unsigned long long)f[i].v);
	}
	if (json)
		add(o, "%s\"refused\": {", indent);
	for (i = 1; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (json)
			add(o, "%s\"%s\": %llu", i > 1 ? ", " : "", reasons[i],
			    (unsigned long long)c->refused[i]);
		else if (c->refused[i])
			add(o, "%srefused_%s %llu\n", indent, reasons[i],
			    (unsigned long long)c->refused[i]);
	}
	if (json)
		add(o, "}\n");
}

static void answer(struct out *o, struct bus *b, const char *cmd, bool json)
{
	unsigned int i;
	bool all = !strcmp(cmd, "counters"), devs = all || !strcmp(cmd, "devices");

	if (!all && !devs && strcmp(cmd, "status")) {
		add(o, json ? "{\"error\": \"unknown command\"}\n"
		            : "error: unknown command (status, devices, counters)\n");
		return;
	}
	if (json)
		add(o,
		    "{\n  \"version\": \"%s\",\n  \"domid\": %u,\n  \"bus_port\": %u,\n"
		    "  \"subscribers\": %u,\n",
		    VDEV_VERSION, b->domid, b->cfg->bus_port, b->nsubscribers);
	else
		add(o, "argo-vdevd %s domain %u bus port %#x, %u device(s), %u subscriber(s)\n",
		    VDEV_VERSION, b->domid, b->cfg->bus_port, b->ndevices, b->nsubscribers);
	if (all) {
		if (json) {
			add(o, "  \"bus\": {\n");
			counters(o, &b->c, true, "    ");
			add(o, "  },\n");
		} else {
			add(o, "bus:\n");
			counters(o, &b->c, false, "  ");
		}
	}
	if (json)
		add(o, "  \"devices\": [");
	for (i = 0; i < b->ndevices; i++) {
		const struct device *d = &b->devices[i];
		char drv[32] = "-";

		if (d->attached)
			snprintf(drv, sizeof(drv), "%u:%#x", d->driver.domain_id, d->driver.aport);
		if (json) {
			add(o,
			    "%s\n    {\"name\": \"%s\", \"number\": %u, \"type\": \"%s\", "
			    "\"port\": %u, \"backend\": \"%s\", \"backend_up\": %s, "
			    "\"attached\": %s, \"driver\": \"%s\", \"status\": %u, "
			    "\"queues\": %u",
			    i ? "," : "", d->cfg->name, d->cfg->number, type_name(d->cfg->type),
			    d->port, d->cfg->socket, d->backend_up ? "true" : "false",
			    d->attached ? "true" : "false", drv, d->status, d->nqueues);
			if (devs) {
				add(o, ",\n     \"counters\": {\n");
				counters(o, &d->c, true, "       ");
				add(o, "     }");
			}
			add(o, "}");
		} else {
			add(o,
			    "device %s number %u type %s port %#x backend %s (%s) driver %s "
			    "status %#x queues %u\n",
			    d->cfg->name, d->cfg->number, type_name(d->cfg->type), d->port,
			    d->cfg->socket, d->backend_up ? "up" : "down", drv, d->status,
			    d->nqueues);
			if (devs)
				counters(o, &d->c, false, "  ");
		}
	}
	if (json)
		add(o, "\n  ]\n}\n");
}

void control_accept(int lfd, struct bus *b)
{
	struct out o = {0};
	char line[128];
	size_t got = 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	char *nl, *sp;
	bool json = false;

	if (fd < 0)
		return;
	while (got < sizeof(line) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			goto out;
		n = read(fd, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
		line[got] = 0;
		if (strchr(line, '\n'))
			break;
	}
	line[got] = 0;
	nl = strchr(line, '\n');
	if (!nl)
		goto out;
	*nl = 0;
	sp = strchr(line, ' ');
	if (sp) {
		*sp = 0;
		json = !strcmp(sp + 1, "json");
	}
	answer(&o, b, line, json);
	if (o.buf) {
		size_t off = 0;

		while (off < o.len) {
			ssize_t n = write(fd, o.buf + off, o.len - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
out:
	free(o.buf);
	close(fd);
}
