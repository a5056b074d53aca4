/* SPDX-License-Identifier: MIT */
/*
 * The control socket and its answers (control.h); argo-relayctl is the
 * client (relayctl.c). docs/relay-config.md lists the commands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "leaf.h"

#include "clock.h"
#include "log.h"
#include "strbuf.h"
#include "transport.h"

static void on_client(struct ev_watcher *w, uint32_t events);

int control_init(struct control *c, const struct control_view *view, struct evloop *loop)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *path = view->config->control;
	mode_t old_mask;
	int fd, ret;

	c->view = *view;
	c->listen_fd = -1;
	ev_watcher_init(&c->watch, on_client, c);
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* Made with no permission at all, whatever the umask, then given its
	 * group and mode, and only then listened on. */
	old_mask = umask(0777);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret < 0 ||
	    (view->config->control_group >= 0 &&
	     chown(path, (uid_t)-1, (gid_t)view->config->control_group) < 0) ||
	    chmod(path, (mode_t)view->config->control_mode) < 0 || listen(fd, 8) < 0) {
		int err = -errno;

		relay_log(0, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	c->listen_fd = fd;
	return ev_watch(loop, &c->watch, fd, EPOLLIN);
}

void control_fini(struct control *c, struct evloop *loop)
{
	if (c->listen_fd >= 0) {
		ev_unwatch(loop, &c->watch);
		close(c->listen_fd);
		unlink(c->view.config->control);
		c->listen_fd = -1;
	}
}

/* A leaf endpoint's link: its domain and what went to and fro. */
static void dump_leaf(const struct link *l, struct strbuf *sb, bool json)
{
	const struct leaf *leaf = l->leaf;
	const struct leaf_counters *c;
	const uint64_t *rq;

	if (!l->leaf_ops || !leaf)
		return;
	c = &leaf->counters;
	rq = c->requests;
	if (json)
		strbuf_add(
		    sb,
		    ",\"leaf\":{\"domain\":\"%s\",\"domid\":%d,\"state\":\"%s\","
		    "\"rings\":%u,\"attaches\":%llu,\"resumes\":%llu,\"domains\":%llu,"
		    "\"register\":%llu,\"unregister\":%llu,\"sendv\":%llu,\"notify\":%llu,"
		    "\"sync\":%llu,\"close\":%llu,\"replayed\":%llu,\"sends_settled\":%llu,"
		    "\"ring_bytes\":%llu,\"ring_frames\":%llu,\"events\":%llu,"
		    "\"rx_moves\":%llu,\"malformed\":%llu}",
		    leaf->cfg->leaf, leaf->domain ? (int)leaf->domid : -1, leaf_state_name(leaf),
		    leaf->nmaps, (unsigned long long)c->attaches, (unsigned long long)c->resumes,
		    (unsigned long long)c->domains, (unsigned long long)rq[LEAF_OP_REGISTER],
		    (unsigned long long)rq[LEAF_OP_UNREGISTER],
		    (unsigned long long)rq[LEAF_OP_SENDV], (unsigned long long)rq[LEAF_OP_NOTIFY],
		    (unsigned long long)rq[LEAF_OP_SYNC], (unsigned long long)rq[LEAF_OP_CLOSE],
		    (unsigned long long)c->replayed, (unsigned long long)c->sends_settled,
		    (unsigned long long)c->ring_bytes, (unsigned long long)c->ring_frames,
		    (unsigned long long)c->events, (unsigned long long)c->rx_moves,
		    (unsigned long long)c->malformed);
	else
		strbuf_add(sb,
		           "             leaf %s: domain %d (%s), %u rings; attaches %llu (resumed "
		           "%llu), domains %llu; sendv %llu, notify %llu, register %llu; replayed "
		           "%llu; to the leaf %llu B in %llu frames, %llu events\n",
		           leaf->cfg->leaf, leaf->domain ? (int)leaf->domid : -1,
		           leaf_state_name(leaf), leaf->nmaps, (unsigned long long)c->attaches,
		           (unsigned long long)c->resumes, (unsigned long long)c->domains,
		           (unsigned long long)rq[LEAF_OP_SENDV],
		           (unsigned long long)rq[LEAF_OP_NOTIFY],
		           (unsigned long long)rq[LEAF_OP_REGISTER],
		           (unsigned long long)c->replayed, (unsigned long long)c->ring_bytes,
		           (unsigned long long)c->ring_frames, (unsigned long long)c->events);
}

static void dump_links(const struct control_view *v, struct strbuf *sb, bool json)
{
	uint64_t now = now_ms();
	int i;

	if (json)
		strbuf_add(sb, "\"links\":[");
	for (i = 0; i < v->nlinks; i++) {
		const struct link *l = &v->links[i];
		const struct link_counters *c = &l->counters;
		const struct stream_counters *s = &l->stream.counters;
		const struct stream *st = &l->stream;
		const struct session *ses = l->up ? &l->up->session : NULL;
		uint64_t uptime = l->up_since_ms ? now - l->up_since_ms : 0;
		struct session_serial_counters sc;
		struct frames_counters f;

		link_frames_counters(l, &f);
		link_serial_counters(l, &sc);
		if (json) {
			strbuf_add(
			    sb,
			    "%s{\"name\":\"%s\",\"transport\":\"%s\",\"address\":\"%s\","
			    "\"peer\":\"%s\",\"state\":\"%s\",\"auth\":\"%s\",\"peer_address\":\"%"
			    "s\","
			    "\"tls_cipher\":\"%s\",\"tls_group\":\"%s\",\"uptime_ms\":%llu,"
			    "\"pending\":%u,\"frames_tx\":%llu,"
			    "\"frames_rx\":%llu,\"bytes_tx\":%llu,\"bytes_rx\":%llu,"
			    "\"data_tx\":%llu,\"data_rx\":%llu,\"retransmits\":%llu,"
			    "\"duplicates\":%llu,\"sessions\":%llu,\"auth_failures\":%llu,"
			    "\"resets\":%llu,\"refused\":%llu,\"evicted\":%llu,\"replaced\":%llu,"
			    "\"drops\":{\"mac\":%llu,\"seq\":%llu,"
			    "\"malformed\":%llu,\"spoofed\":%llu,\"credit\":%llu,\"report\":%llu,"
			    "\"route\":%llu},\"queue_messages\":%u,"
			    "\"queue_bytes\":%llu,\"rtt_us\":%llu,\"next_msn\":%llu,"
			    "\"rx_next_msn\":%llu,\"rx_done_msn\":%llu,\"resent_held\":%llu,"
			    "\"held_from_peer\":%llu,\"stale_frames\":%llu,\"stale_bytes\":%llu,"
			    "\"restarts\":%llu,\"refusals\":%llu",
			    i ? "," : "", l->cfg->name, transport_name(l->cfg->transport),
			    l->cfg->address, l->cfg->peer_hvid, link_state_name(l->state),
			    l->cfg->cert_file[0] ? "cert" : "psk", ses ? l->up->peer.name : "",
			    ses && ses->cipher ? ses->cipher : "",
			    ses && ses->group ? ses->group : "", (unsigned long long)uptime,
			    link_pending(l), (unsigned long long)f.frames_tx,
			    (unsigned long long)f.frames_rx, (unsigned long long)f.bytes_tx,
			    (unsigned long long)f.bytes_rx, (unsigned long long)s->data_tx,
			    (unsigned long long)s->data_rx, (unsigned long long)s->retransmits,
			    (unsigned long long)s->duplicates, (unsigned long long)c->sessions,
			    (unsigned long long)c->auth_failures, (unsigned long long)c->resets,
			    (unsigned long long)c->refused, (unsigned long long)c->evicted,
			    (unsigned long long)c->replaced, (unsigned long long)c->drop_mac,
			    (unsigned long long)c->drop_seq, (unsigned long long)c->drop_malformed,
			    (unsigned long long)c->drop_spoofed, (unsigned long long)c->drop_credit,
			    (unsigned long long)c->drop_report, (unsigned long long)c->drop_route,
			    st->unacked.count, (unsigned long long)st->unacked.bytes,
			    (unsigned long long)c->rtt_us, (unsigned long long)st->next_msn,
			    (unsigned long long)st->rx_next_msn,
			    (unsigned long long)st->rx_done_msn, (unsigned long long)s->resent_held,
			    (unsigned long long)st->held_from_peer,
			    (unsigned long long)sc.stale_hellos, (unsigned long long)sc.stale_bytes,
			    (unsigned long long)sc.restarts, (unsigned long long)sc.refusals);
			dump_leaf(l, sb, true);
			strbuf_add(sb, "}");
		} else {
			strbuf_add(
			    sb,
			    "  %-10s %-6s %-28s peer %-8s %-10s frames %llu/%llu bytes "
			    "%llu/%llu retransmits %llu duplicates %llu queue %u (%llu B) "
			    "rtt %llu us\n"
			    "             %s%s%s%s%s up %llu ms, pending %u; sessions %llu auth "
			    "failures "
			    "%llu resets %llu refused %llu replaced %llu\n"
			    "             drops: mac %llu seq %llu malformed %llu spoofed %llu "
			    "credit "
			    "%llu report %llu route %llu\n",
			    l->cfg->name, transport_name(l->cfg->transport), l->cfg->address,
			    l->cfg->peer_hvid, link_state_name(l->state),
			    (unsigned long long)f.frames_tx, (unsigned long long)f.frames_rx,
			    (unsigned long long)f.bytes_tx, (unsigned long long)f.bytes_rx,
			    (unsigned long long)s->retransmits, (unsigned long long)s->duplicates,
			    st->unacked.count, (unsigned long long)st->unacked.bytes,
			    (unsigned long long)c->rtt_us,
			    l->cfg->cert_file[0] ? "tls cert" : "tls psk",
			    ses && ses->cipher ? " " : "", ses && ses->cipher ? ses->cipher : "",
			    ses && ses->group ? " " : "", ses && ses->group ? ses->group : "",
			    (unsigned long long)uptime, link_pending(l),
			    (unsigned long long)c->sessions, (unsigned long long)c->auth_failures,
			    (unsigned long long)c->resets, (unsigned long long)c->refused,
			    (unsigned long long)c->replaced, (unsigned long long)c->drop_mac,
			    (unsigned long long)c->drop_seq, (unsigned long long)c->drop_malformed,
			    (unsigned long long)c->drop_spoofed, (unsigned long long)c->drop_credit,
			    (unsigned long long)c->drop_report, (unsigned long long)c->drop_route);
			if (l->cfg->transport == TRANSPORT_SERIAL)
				strbuf_add(sb,
				           "             serial: restarts %llu, stale bytes %llu, "
				           "stale hellos %llu, refusals %llu\n",
				           (unsigned long long)sc.restarts,
				           (unsigned long long)sc.stale_bytes,
				           (unsigned long long)sc.stale_hellos,
				           (unsigned long long)sc.refusals);
			dump_leaf(l, sb, false);
		}
	}
	if (json)
		strbuf_add(sb, "]");
}

static void dump_routes(const struct control_view *v, struct strbuf *sb, bool json)
{
	const struct routes *t = &v->router->routes;
	int i;

	if (json)
		strbuf_add(sb, "\"routes\":[");
	for (i = 0; i < t->n; i++) {
		const struct route *r = &t->table[i];
		const char *via = r->link >= 0 ? v->config->links[r->link].name : "-";

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

static void dump_counters(const struct control_view *v, struct strbuf *sb, bool json)
{
	const struct fabric_in_counters *in = &v->in->counters;
	const struct fabric_out_counters *out = &v->out->counters;
	const struct router_counters *r = &v->router->counters;
	const struct msg_account *a = v->account;

	if (json)
		strbuf_add(
		    sb,
		    "\"counters\":{\"local_rx\":%llu,\"local_delivered\":%llu,"
		    "\"local_held\":%llu,\"held_bytes\":%llu,\"held_peak\":%llu,\"queue_"
		    "limit\":%llu,"
		    "\"undeliverable\":{\"no_ring\":%llu,\"msgsize\":%llu,\"policy\":%llu,"
		    "\"unreachable\":%llu,\"other\":%llu},\"reports_sent\":%llu,"
		    "\"reports_failed\":%llu,\"reports_suppressed\":%llu,"
		    "\"reserved_dropped\":%llu,"
		    "\"duplicates_dropped\":%llu,\"rings_adopted\":%llu,"
		    "\"rings_gone\":%llu,\"rings_reregistered\":%llu,\"proxies_freed\":%llu,"
		    "\"routed_malformed\":%llu,",
		    (unsigned long long)in->local_rx, (unsigned long long)out->local_delivered,
		    (unsigned long long)out->local_held, (unsigned long long)a->held_bytes,
		    (unsigned long long)a->held_peak, (unsigned long long)v->config->queue_bytes,
		    (unsigned long long)r->undeliverable_noring,
		    (unsigned long long)r->undeliverable_msgsize,
		    (unsigned long long)r->undeliverable_policy,
		    (unsigned long long)r->undeliverable_unreachable,
		    (unsigned long long)r->undeliverable_other,
		    (unsigned long long)out->reports_sent, (unsigned long long)out->reports_failed,
		    (unsigned long long)r->reports_suppressed,
		    (unsigned long long)r->reserved_dropped,
		    (unsigned long long)out->duplicates_dropped,
		    (unsigned long long)v->ports->rings_adopted,
		    (unsigned long long)v->ports->rings_gone,
		    (unsigned long long)v->ports->rings_reregistered,
		    (unsigned long long)v->ports->proxies_freed,
		    (unsigned long long)in->routed_malformed);
	else
		strbuf_add(
		    sb,
		    "  from fabric %llu, delivered to fabric %llu, held for ring space %llu\n"
		    "  held bytes %llu (peak %llu) of %llu\n"
		    "  undeliverable: no ring %llu, too large %llu, policy %llu, no route %llu,"
		    " other %llu; reports sent %llu (refused %llu, suppressed %llu)\n"
		    "  messages of the reserved type dropped %llu\n"
		    "  copies dropped (delivered before) %llu, rings adopted %llu\n"
		    "  rings dropped by the fabric (partner died) %llu, registered again %llu, "
		    "proxy ports freed %llu\n"
		    "  routed messages with a bad header %llu\n",
		    (unsigned long long)in->local_rx, (unsigned long long)out->local_delivered,
		    (unsigned long long)out->local_held, (unsigned long long)a->held_bytes,
		    (unsigned long long)a->held_peak, (unsigned long long)v->config->queue_bytes,
		    (unsigned long long)r->undeliverable_noring,
		    (unsigned long long)r->undeliverable_msgsize,
		    (unsigned long long)r->undeliverable_policy,
		    (unsigned long long)r->undeliverable_unreachable,
		    (unsigned long long)r->undeliverable_other,
		    (unsigned long long)out->reports_sent, (unsigned long long)out->reports_failed,
		    (unsigned long long)r->reports_suppressed,
		    (unsigned long long)r->reserved_dropped,
		    (unsigned long long)out->duplicates_dropped,
		    (unsigned long long)v->ports->rings_adopted,
		    (unsigned long long)v->ports->rings_gone,
		    (unsigned long long)v->ports->rings_reregistered,
		    (unsigned long long)v->ports->proxies_freed,
		    (unsigned long long)in->routed_malformed);
	dedup_dump(v->dedup, sb, json);
	if (json)
		strbuf_add(sb, "}");
}

/* The mappings: our ports, then the hold queues. */
static void dump_mappings(const struct control_view *v, struct strbuf *sb, bool json)
{
	ports_dump(v->ports, sb, json);
	fabric_out_dump(v->out, sb, json);
}

static void answer(const struct control_view *v, const char *cmd, struct strbuf *sb)
{
	bool json = strstr(cmd, " json") != NULL;
	bool all = !strncmp(cmd, "status", 6);
	bool any = false;

	if (json)
		strbuf_add(sb, "{\"hvid\":\"%s\",\"domid\":%u,\"fabric\":\"%s\"", v->config->hvid,
		           v->domid, v->config->fabric);
	else
		strbuf_add(sb, "relay %s: domain %u on %s\n", v->config->hvid, v->domid,
		           v->config->fabric);
#define SECTION(name, fn)                                                                          \
	if (all || !strncmp(cmd, name, strlen(name))) {                                            \
		any = true;                                                                        \
		if (json)                                                                          \
			strbuf_add(sb, ",");                                                       \
		else                                                                               \
			strbuf_add(sb, name ":\n");                                                \
		fn(v, sb, json);                                                                   \
	}
	SECTION("links", dump_links)
	SECTION("routes", dump_routes)
	SECTION("mappings", dump_mappings)
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

static void on_client(struct ev_watcher *w, uint32_t events)
{
	struct control *c = w->ctx;
	struct strbuf sb = {0};
	struct pollfd pfd;
	char cmd[128];
	ssize_t n;
	size_t off = 0;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	(void)events;
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
	answer(&c->view, cmd, &sb);
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
