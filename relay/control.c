/* SPDX-License-Identifier: MIT */
/*
 * The control socket: argo-relayctl connects, sends one command line
 * ("status", "links", "routes", "mappings", "counters", each optionally
 * followed by " json"), reads the answer until the relay closes. The relay
 * answers at once from its own state; a client that does not send its
 * command within a second is dropped, so the loop never waits on it.
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

#include "relay.h"

int control_listen_fd = -1;

void strbuf_add(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = sb->cap - sb->len;

		va_start(ap, fmt);
		n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		size_t cap = (sb->cap + (size_t)n + 1) * 2;
		char *p = realloc(sb->buf, cap);

		if (!p)
			return;
		sb->buf = p;
		sb->cap = cap;
	}
}

int control_init(struct relay *relay)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *path = relay->config->control;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		int err = -errno;

		relay_log(0, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	control_listen_fd = fd;
	return 0;
}

void control_fini(struct relay *relay)
{
	if (control_listen_fd >= 0) {
		close(control_listen_fd);
		unlink(relay->config->control);
	}
}

static void dump_links(struct relay *relay, struct strbuf *sb, bool json)
{
	int i;

	if (json)
		strbuf_add(sb, "\"links\":[");
	for (i = 0; i < relay->nlinks; i++) {
		const struct link *l = &relay->links[i];
		const struct link_counters *c = &l->counters;

		if (json) {
			strbuf_add(
			    sb,
			    "%s{\"name\":\"%s\",\"transport\":\"%s\",\"address\":\"%s\","
			    "\"peer\":\"%s\",\"state\":\"%s\",\"frames_tx\":%llu,"
			    "\"frames_rx\":%llu,\"bytes_tx\":%llu,\"bytes_rx\":%llu,"
			    "\"data_tx\":%llu,\"data_rx\":%llu,\"retransmits\":%llu,"
			    "\"duplicates\":%llu,\"sessions\":%llu,\"auth_failures\":%llu,"
			    "\"resets\":%llu,\"drops\":{\"mac\":%llu,\"seq\":%llu,"
			    "\"malformed\":%llu,\"spoofed\":%llu},\"queue_messages\":%u,"
			    "\"queue_bytes\":%llu,\"rtt_us\":%llu,\"next_msn\":%llu,"
			    "\"rx_next_msn\":%llu,\"rx_done_msn\":%llu,\"resent_held\":%llu,"
			    "\"stale_frames\":%llu,\"stale_bytes\":%llu,\"restarts\":%llu}",
			    i ? "," : "", l->cfg->name, transport_name(l->cfg->transport),
			    l->cfg->address, l->cfg->peer_hvid, link_state_name(l->state),
			    (unsigned long long)c->frames_tx, (unsigned long long)c->frames_rx,
			    (unsigned long long)c->bytes_tx, (unsigned long long)c->bytes_rx,
			    (unsigned long long)c->data_tx, (unsigned long long)c->data_rx,
			    (unsigned long long)c->retransmits, (unsigned long long)c->duplicates,
			    (unsigned long long)c->sessions, (unsigned long long)c->auth_failures,
			    (unsigned long long)c->resets, (unsigned long long)c->drop_mac,
			    (unsigned long long)c->drop_seq, (unsigned long long)c->drop_malformed,
			    (unsigned long long)c->drop_spoofed, l->unacked.count,
			    (unsigned long long)l->unacked.bytes, (unsigned long long)c->rtt_us,
			    (unsigned long long)l->next_msn, (unsigned long long)l->rx_next_msn,
			    (unsigned long long)l->rx_done_msn, (unsigned long long)c->resent_held,
			    (unsigned long long)c->stale_frames, (unsigned long long)c->stale_bytes,
			    (unsigned long long)c->restarts);
		} else {
			strbuf_add(
			    sb,
			    "  %-10s %-6s %-28s peer %-8s %-10s frames %llu/%llu bytes "
			    "%llu/%llu retransmits %llu duplicates %llu queue %u (%llu B) "
			    "rtt %llu us\n"
			    "             sessions %llu auth failures %llu resets %llu drops: "
			    "mac %llu seq %llu malformed %llu spoofed %llu\n",
			    l->cfg->name, transport_name(l->cfg->transport), l->cfg->address,
			    l->cfg->peer_hvid, link_state_name(l->state),
			    (unsigned long long)c->frames_tx, (unsigned long long)c->frames_rx,
			    (unsigned long long)c->bytes_tx, (unsigned long long)c->bytes_rx,
			    (unsigned long long)c->retransmits, (unsigned long long)c->duplicates,
			    l->unacked.count, (unsigned long long)l->unacked.bytes,
			    (unsigned long long)c->rtt_us, (unsigned long long)c->sessions,
			    (unsigned long long)c->auth_failures, (unsigned long long)c->resets,
			    (unsigned long long)c->drop_mac, (unsigned long long)c->drop_seq,
			    (unsigned long long)c->drop_malformed,
			    (unsigned long long)c->drop_spoofed);
		}
	}
	if (json)
		strbuf_add(sb, "]");
}

static void dump_routes(struct relay *relay, struct strbuf *sb, bool json)
{
	int i;

	if (json)
		strbuf_add(sb, "\"routes\":[");
	for (i = 0; i < relay->nroutes; i++) {
		const struct route *r = &relay->routes[i];
		const char *via = r->link >= 0 ? relay->links[r->link].cfg->name : "-";

		if (json)
			strbuf_add(
			    sb, "%s{\"hvid\":\"%s\",\"link\":\"%s\",\"hops\":%u,\"static\":%s}",
			    i ? "," : "", r->hvid, via, r->hops, r->is_static ? "true" : "false");
		else
			strbuf_add(sb, "  %-16s via %-10s hops %u%s\n", r->hvid, via, r->hops,
			           r->is_static ? " (static)" : "");
	}
	if (json)
		strbuf_add(sb, "]");
}

static void dump_counters(struct relay *relay, struct strbuf *sb, bool json)
{
	const struct relay_counters *c = &relay->counters;

	if (json)
		strbuf_add(
		    sb,
		    "\"counters\":{\"local_rx\":%llu,\"local_delivered\":%llu,"
		    "\"local_held\":%llu,\"held_bytes\":%llu,\"held_peak\":%llu,\"queue_"
		    "limit\":%llu,"
		    "\"undeliverable\":{\"no_ring\":%llu,\"msgsize\":%llu,\"policy\":%llu,"
		    "\"unreachable\":%llu,\"other\":%llu},\"reports_sent\":%llu,"
		    "\"duplicates_dropped\":%llu,\"rings_adopted\":%llu,"
		    "\"routed_malformed\":%llu,",
		    (unsigned long long)c->local_rx, (unsigned long long)c->local_delivered,
		    (unsigned long long)c->local_held, (unsigned long long)relay->held_bytes,
		    (unsigned long long)relay->held_peak,
		    (unsigned long long)relay->config->queue_bytes,
		    (unsigned long long)c->undeliverable_noring,
		    (unsigned long long)c->undeliverable_msgsize,
		    (unsigned long long)c->undeliverable_policy,
		    (unsigned long long)c->undeliverable_unreachable,
		    (unsigned long long)c->undeliverable_other, (unsigned long long)c->reports_sent,
		    (unsigned long long)c->duplicates_dropped, (unsigned long long)c->rings_adopted,
		    (unsigned long long)c->routed_malformed);
	else
		strbuf_add(
		    sb,
		    "  from fabric %llu, delivered to fabric %llu, held for ring space %llu\n"
		    "  held bytes %llu (peak %llu) of %llu\n"
		    "  undeliverable: no ring %llu, too large %llu, policy %llu, no route %llu,"
		    " other %llu; reports sent %llu\n"
		    "  copies dropped (delivered before) %llu, rings adopted %llu, routed messages "
		    "with a bad header %llu\n",
		    (unsigned long long)c->local_rx, (unsigned long long)c->local_delivered,
		    (unsigned long long)c->local_held, (unsigned long long)relay->held_bytes,
		    (unsigned long long)relay->held_peak,
		    (unsigned long long)relay->config->queue_bytes,
		    (unsigned long long)c->undeliverable_noring,
		    (unsigned long long)c->undeliverable_msgsize,
		    (unsigned long long)c->undeliverable_policy,
		    (unsigned long long)c->undeliverable_unreachable,
		    (unsigned long long)c->undeliverable_other, (unsigned long long)c->reports_sent,
		    (unsigned long long)c->duplicates_dropped, (unsigned long long)c->rings_adopted,
		    (unsigned long long)c->routed_malformed);
	dedup_dump(relay, sb, json);
	if (json)
		strbuf_add(sb, "}");
}

static void answer(struct relay *relay, const char *cmd, struct strbuf *sb)
{
	bool json = strstr(cmd, " json") != NULL;
	bool all = !strncmp(cmd, "status", 6);
	bool any = false;

	if (json)
		strbuf_add(sb, "{\"hvid\":\"%s\",\"domid\":%u,\"fabric\":\"%s\"",
		           relay->config->hvid, relay->domid, relay->config->fabric);
	else
		strbuf_add(sb, "relay %s: domain %u on %s\n", relay->config->hvid, relay->domid,
		           relay->config->fabric);
#define SECTION(name, fn)                                                                          \
	if (all || !strncmp(cmd, name, strlen(name))) {                                            \
		any = true;                                                                        \
		if (json)                                                                          \
			strbuf_add(sb, ",");                                                       \
		else                                                                               \
			strbuf_add(sb, name ":\n");                                                \
		fn(relay, sb, json);                                                               \
	}
	SECTION("links", dump_links)
	SECTION("routes", dump_routes)
	SECTION("mappings", local_dump)
	SECTION("counters", dump_counters)
#undef SECTION
	if (json)
		strbuf_add(sb, "}\n");
	if (!any) {
		sb->len = 0;
		strbuf_add(sb,
		           "error: unknown command '%s' (status, links, routes, mappings, "
		           "counters; add 'json' for JSON)\n",
		           cmd);
	}
}

void control_on_event(struct relay *relay, int listen_fd)
{
	struct strbuf sb = {0};
	struct pollfd pfd;
	char cmd[128];
	ssize_t n;
	size_t off = 0;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 1000) <= 0 || (n = read(fd, cmd, sizeof(cmd) - 1)) <= 0) {
		close(fd);
		return;
	}
	cmd[n] = '\0';
	cmd[strcspn(cmd, "\r\n")] = '\0';
	answer(relay, cmd, &sb);
	while (off < sb.len) {
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0)
			break;
		n = write(fd, sb.buf + off, sb.len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(sb.buf);
	close(fd);
}
