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

/*
 * The control path must be free: nothing there, or a socket nobody listens
 * on (left by a relay that died). A live socket belongs to a running relay
 * and is never taken over (as argo-simd does with its sockets): unlinking
 * it would leave that relay unreachable for argo-relayctl, and our exit
 * would remove its file. Nor is anything but a socket removed.
 */
static int claim_path(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, err;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		relay_log(0, "control socket %s: the path exists and is not a socket; not removed",
		          path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ? 0 : errno;
	close(fd);
	if (err == 0) {
		relay_log(0,
		          "control socket %s is in use by a running relay (argo-relayctl -s %s "
		          "status): stop that one first, or give this one another 'control' path",
		          path, path);
		return -EADDRINUSE;
	}
	if (err != ECONNREFUSED) {
		relay_log(0, "control socket %s: cannot tell whether a relay listens there: %s",
		          path, strerror(err));
		return -err;
	}
	relay_log(1, "control socket %s: left by a relay that is gone; replaced", path);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int control_init(struct control *c, const struct relay_config *config, struct evloop *loop)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *path = config->control;
	mode_t old_mask;
	int fd, ret;

	memset(&c->view, 0, sizeof(c->view));
	c->view.config = config;
	c->listen_fd = -1;
	ev_watcher_init(&c->watch, on_client, c);
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	ret = claim_path(path, &addr);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Made with no permission at all, whatever the umask, then given its
	 * group and mode, and only then listened on. */
	old_mask = umask(0777);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret < 0) {
		int err = -errno;

		/* EADDRINUSE here: another relay bound it since we looked. */
		relay_log(0, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	c->listen_fd = fd;
	if ((config->control_group >= 0 &&
	     chown(path, (uid_t)-1, (gid_t)config->control_group) < 0) ||
	    chmod(path, (mode_t)config->control_mode) < 0 || listen(fd, 8) < 0) {
		int err = -errno;

		relay_log(0, "control socket %s: %s", path, strerror(errno));
		control_fini(c, loop);
		return err;
	}
	return ev_watch(loop, &c->watch, fd, EPOLLIN);
}

void control_set_view(struct control *c, const struct control_view *view)
{
	c->view = *view;
}

void control_fini(struct control *c, struct evloop *loop)
{
	if (c->listen_fd >= 0) {
		ev_unwatch(loop, &c->watch);
		close(c->listen_fd);
		/* Ours: we bound it (claim_path() never lets us bind another's). */
		unlink(c->view.config->control);
		c->listen_fd = -1;
	}
}

/* ---- The answers (docs/relay-control.md names every field) --------------- */

/* A JSON string: quoted, with quotes, backslashes and control bytes escaped. */
static void json_str(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			strbuf_add(sb, "\\%c", ch);
		else if (ch < 0x20)
			strbuf_add(sb, "\\u%04x", ch);
		else
			strbuf_add(sb, "%c", ch);
	}
	strbuf_add(sb, "\"");
}

#define U(x) ((unsigned long long)(x))

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
	if (json) {
		strbuf_add(sb, ",\"leaf\":{\"domain\":");
		json_str(sb, leaf->cfg->leaf);
		strbuf_add(sb,
		           ",\"domid\":%d,\"state\":\"%s\","
		           "\"rings\":%u,\"attaches\":%llu,\"resumes\":%llu,\"domains\":%llu,"
		           "\"register\":%llu,\"unregister\":%llu,\"sendv\":%llu,\"notify\":%llu,"
		           "\"sync\":%llu,\"close\":%llu,\"replayed\":%llu,\"sends_settled\":%llu,"
		           "\"ring_bytes\":%llu,\"ring_frames\":%llu,\"events\":%llu,"
		           "\"rx_moves\":%llu,\"malformed\":%llu}",
		           leaf->domain ? (int)leaf->domid : -1, leaf_state_name(leaf), leaf->nmaps,
		           U(c->attaches), U(c->resumes), U(c->domains), U(rq[LEAF_OP_REGISTER]),
		           U(rq[LEAF_OP_UNREGISTER]), U(rq[LEAF_OP_SENDV]), U(rq[LEAF_OP_NOTIFY]),
		           U(rq[LEAF_OP_SYNC]), U(rq[LEAF_OP_CLOSE]), U(c->replayed),
		           U(c->sends_settled), U(c->ring_bytes), U(c->ring_frames), U(c->events),
		           U(c->rx_moves), U(c->malformed));
	} else {
		strbuf_add(sb,
		           "             leaf %s: domain %d (%s), %u rings; attaches %llu (resumed "
		           "%llu), domains %llu; sendv %llu, notify %llu, register %llu; replayed "
		           "%llu; to the leaf %llu B in %llu frames, %llu events\n",
		           leaf->cfg->leaf, leaf->domain ? (int)leaf->domid : -1,
		           leaf_state_name(leaf), leaf->nmaps, U(c->attaches), U(c->resumes),
		           U(c->domains), U(rq[LEAF_OP_SENDV]), U(rq[LEAF_OP_NOTIFY]),
		           U(rq[LEAF_OP_REGISTER]), U(c->replayed), U(c->ring_bytes),
		           U(c->ring_frames), U(c->events));
	}
}

/* What every line of a link says, gathered once. */
struct link_view {
	const struct link_counters *c;
	const struct stream_counters *s;
	const struct stream *st;
	const struct session *ses; /* the session in use, or NULL */
	uint64_t uptime;
	struct session_serial_counters sc;
	struct frames_counters f;
};

static void link_view(const struct link *l, struct link_view *lv)
{
	lv->c = &l->counters;
	lv->s = &l->stream.counters;
	lv->st = &l->stream;
	lv->ses = l->up ? &l->up->session : NULL;
	lv->uptime = l->up_since_ms ? now_ms() - l->up_since_ms : 0;
	link_frames_counters(l, &lv->f);
	link_serial_counters(l, &lv->sc);
}

static void dump_link_json(const struct link *l, struct strbuf *sb)
{
	struct link_view lv;
	const struct link_counters *c;
	const struct stream_counters *s;
	const struct stream *st;
	const struct session *ses;

	link_view(l, &lv);
	c = lv.c;
	s = lv.s;
	st = lv.st;
	ses = lv.ses;
	strbuf_add(sb, "{\"name\":");
	json_str(sb, l->cfg->name);
	strbuf_add(sb, ",\"transport\":\"%s\",\"address\":", transport_name(l->cfg->transport));
	json_str(sb, l->cfg->address);
	strbuf_add(sb, ",\"down_reason\":");
	json_str(sb, l->state == LINK_UP ? "" : l->down_reason);
	strbuf_add(sb, ",\"peer_address\":");
	json_str(sb, ses ? l->up->peer.name : "");
	strbuf_add(sb,
	           ",\"listen\":%s,\"peer\":\"%s\",\"state\":\"%s\",\"auth\":\"%s\","
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
	           "\"restarts\":%llu,\"refusals\":%llu,\"acked\":%llu,"
	           "\"reports_held\":%llu,\"reports_dropped\":%llu",
	           l->cfg->listen ? "true" : "false", l->cfg->peer_hvid, link_state_name(l->state),
	           l->cfg->cert_file[0] ? "cert" : "psk", ses && ses->cipher ? ses->cipher : "",
	           ses && ses->group ? ses->group : "", U(lv.uptime), link_pending(l),
	           U(lv.f.frames_tx), U(lv.f.frames_rx), U(lv.f.bytes_tx), U(lv.f.bytes_rx),
	           U(s->data_tx), U(s->data_rx), U(s->retransmits), U(s->duplicates),
	           U(c->sessions), U(c->auth_failures), U(c->resets), U(c->refused), U(c->evicted),
	           U(c->replaced), U(c->drop_mac), U(c->drop_seq), U(c->drop_malformed),
	           U(c->drop_spoofed), U(c->drop_credit), U(c->drop_report), U(c->drop_route),
	           st->unacked.count, U(st->unacked.bytes), U(c->rtt_us), U(st->next_msn),
	           U(st->rx_next_msn), U(st->rx_done_msn), U(s->resent_held), U(st->held_from_peer),
	           U(lv.sc.stale_hellos), U(lv.sc.stale_bytes), U(lv.sc.restarts),
	           U(lv.sc.refusals), U(s->acked), U(c->reports_held), U(c->reports_dropped));
	dump_leaf(l, sb, true);
	strbuf_add(sb, "}");
}

static void dump_link_text(const struct link *l, struct strbuf *sb)
{
	struct link_view lv;
	const struct link_counters *c;
	const struct stream_counters *s;
	const struct stream *st;
	const struct session *ses;
	char rtt[24] = "-";

	link_view(l, &lv);
	c = lv.c;
	s = lv.s;
	st = lv.st;
	ses = lv.ses;
	/* A round trip is shown while it means something: up, and measured. */
	if (l->state == LINK_UP && c->rtt_us)
		snprintf(rtt, sizeof(rtt), "%llu us", U(c->rtt_us));
	strbuf_add(sb,
	           "  %-10s %-6s %-28s peer %-8s %-10s frames tx %llu rx %llu, bytes tx %llu "
	           "rx %llu, messages tx %llu rx %llu, retransmits %llu, duplicates %llu, "
	           "queue %u (%llu B), rtt %s\n"
	           "             %s%s%s%s%s, up %llu ms, pending %u; sessions %llu, auth failures "
	           "%llu, resets %llu, refused %llu, replaced %llu\n"
	           "             dropped: mac %llu, seq %llu, malformed %llu, spoofed %llu, "
	           "credit %llu, report %llu, route %llu\n",
	           l->cfg->name, transport_name(l->cfg->transport), l->cfg->address,
	           l->cfg->peer_hvid, link_state_name(l->state), U(lv.f.frames_tx),
	           U(lv.f.frames_rx), U(lv.f.bytes_tx), U(lv.f.bytes_rx), U(s->data_tx),
	           U(s->data_rx), U(s->retransmits), U(s->duplicates), st->unacked.count,
	           U(st->unacked.bytes), rtt, l->cfg->cert_file[0] ? "tls cert" : "tls psk",
	           ses && ses->cipher ? " " : "", ses && ses->cipher ? ses->cipher : "",
	           ses && ses->group ? " " : "", ses && ses->group ? ses->group : "", U(lv.uptime),
	           link_pending(l), U(c->sessions), U(c->auth_failures), U(c->resets),
	           U(c->refused), U(c->replaced), U(c->drop_mac), U(c->drop_seq),
	           U(c->drop_malformed), U(c->drop_spoofed), U(c->drop_credit), U(c->drop_report),
	           U(c->drop_route));
	if (l->cfg->transport == TRANSPORT_SERIAL)
		strbuf_add(
		    sb,
		    "             serial: restarts %llu, stale bytes %llu, stale hellos %llu, "
		    "refusals %llu\n",
		    U(lv.sc.restarts), U(lv.sc.stale_bytes), U(lv.sc.stale_hellos),
		    U(lv.sc.refusals));
	if (l->state != LINK_UP && l->down_reason[0])
		strbuf_add(sb, "             not up: %s\n", l->down_reason);
	dump_leaf(l, sb, false);
}

static void dump_links(const struct control_view *v, struct strbuf *sb, bool json)
{
	int i, shown = 0;

	if (json)
		strbuf_add(sb, "\"links\":[");
	for (i = 0; i < v->nlinks; i++) {
		const struct link *l = &v->links[i];

		if (l->retired)
			continue; /* removed by a reload, its slot still held */
		if (json) {
			strbuf_add(sb, "%s", shown++ ? "," : "");
			dump_link_json(l, sb);
		} else {
			dump_link_text(l, sb);
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

void control_custody(const struct control_view *v, struct control_custody *cs)
{
	const struct router_counters *r = &v->router->counters;
	const struct fabric_out_counters *out = &v->out->counters;
	int i;

	*cs = (struct control_custody){
	    .from_fabric = v->in->counters.local_rx,
	    .passed = out->local_delivered + out->duplicates_dropped +
	              router_undeliverable_total(v->router) + r->reserved_dropped,
	    .released = v->account->released,
	    .held = v->account->messages,
	};
	for (i = 0; i < v->nlinks; i++) {
		cs->from_links += v->links[i].stream.counters.data_rx;
		cs->passed += v->links[i].stream.counters.acked + v->links[i].counters.drop_spoofed;
	}
}

static void dump_counters(const struct control_view *v, struct strbuf *sb, bool json)
{
	const struct fabric_in_counters *in = &v->in->counters;
	const struct fabric_out_counters *out = &v->out->counters;
	const struct router_counters *r = &v->router->counters;
	const struct msg_account *a = v->account;
	struct control_custody cs;

	control_custody(v, &cs);
	if (json)
		strbuf_add(sb,
		           "\"counters\":{\"local_rx\":%llu,\"local_delivered\":%llu,"
		           "\"local_held\":%llu,\"held_bytes\":%llu,\"held_peak\":%llu,\"queue_"
		           "limit\":%llu,"
		           "\"undeliverable\":{\"no_ring\":%llu,\"msgsize\":%llu,\"policy\":%llu,"
		           "\"unreachable\":%llu,\"other\":%llu},\"reports_sent\":%llu,"
		           "\"reports_failed\":%llu,\"reports_suppressed\":%llu,"
		           "\"reserved_dropped\":%llu,"
		           "\"duplicates_dropped\":%llu,\"rings_adopted\":%llu,"
		           "\"rings_gone\":%llu,\"rings_reregistered\":%llu,\"proxies_freed\":%llu,"
		           "\"routed_malformed\":%llu,\"held_messages\":%llu,\"released\":%llu,"
		           "\"reports_repeated\":%llu,\"awaiting_sync\":%u,"
		           "\"local_undeliverable\":%llu,",
		           U(in->local_rx), U(out->local_delivered), U(out->local_held),
		           U(a->held_bytes), U(a->held_peak), U(v->config->queue_bytes),
		           U(r->undeliverable_noring), U(r->undeliverable_msgsize),
		           U(r->undeliverable_policy), U(r->undeliverable_unreachable),
		           U(r->undeliverable_other), U(out->reports_sent), U(out->reports_failed),
		           U(r->reports_suppressed), U(r->reserved_dropped),
		           U(out->duplicates_dropped), U(v->ports->rings_adopted),
		           U(v->ports->rings_gone), U(v->ports->rings_reregistered),
		           U(v->ports->proxies_freed), U(in->routed_malformed), U(a->messages),
		           U(a->released), U(r->reports_repeated), fabric_out_awaiting_sync(v->out),
		           U(out->local_undeliverable));
	else
		strbuf_add(
		    sb,
		    "  messages: from the fabric %llu, delivered to the fabric %llu, held for ring "
		    "space %llu\n"
		    "  memory: held %llu B (peak %llu B) of queue_bytes %llu B\n"
		    "  undeliverable: no ring %llu, too large %llu, policy %llu, no route %llu,"
		    " other %llu; reports sent %llu (refused %llu, suppressed %llu)\n"
		    "  messages of the reserved type dropped %llu\n"
		    "  copies dropped (settled before) %llu (reported again %llu), rings adopted "
		    "%llu\n"
		    "  rings dropped by the fabric (partner died) %llu, registered again %llu, "
		    "proxy ports freed %llu\n"
		    "  routed messages with a bad header %llu\n"
		    "  custody: taken %llu (from the fabric %llu, from links %llu) = passed on %llu"
		    " + let go %llu + held %llu%s\n",
		    U(in->local_rx), U(out->local_delivered), U(out->local_held), U(a->held_bytes),
		    U(a->held_peak), U(v->config->queue_bytes), U(r->undeliverable_noring),
		    U(r->undeliverable_msgsize), U(r->undeliverable_policy),
		    U(r->undeliverable_unreachable), U(r->undeliverable_other),
		    U(out->reports_sent), U(out->reports_failed), U(r->reports_suppressed),
		    U(r->reserved_dropped), U(out->duplicates_dropped), U(r->reports_repeated),
		    U(v->ports->rings_adopted), U(v->ports->rings_gone),
		    U(v->ports->rings_reregistered), U(v->ports->proxies_freed),
		    U(in->routed_malformed), U(cs.from_fabric + cs.from_links), U(cs.from_fabric),
		    U(cs.from_links), U(cs.passed), U(cs.released), U(cs.held),
		    cs.from_fabric + cs.from_links == cs.passed + cs.released + cs.held
		        ? ""
		        : " (DOES NOT ADD UP: a bug, please report it)");
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

/* An error answer: "error: TEXT", or {"error":"TEXT"} (argo-relayctl
 * prints either on standard error and exits 1). */
static void answer_error(struct strbuf *sb, bool json, const char *text)
{
	sb->len = 0;
	if (json) {
		strbuf_add(sb, "{\"error\":");
		json_str(sb, text);
		strbuf_add(sb, "}\n");
	} else {
		strbuf_add(sb, "error: %s\n", text);
	}
}

/* reload: the relay reads its file again (relay_reload()). */
static void answer_reload(struct control *c, bool json, struct strbuf *sb)
{
	char summary[800];
	int ret = -ENOSYS;

	if (c->reload)
		ret = c->reload(c->reload_ctx, summary, sizeof(summary));
	else
		snprintf(summary, sizeof(summary), "this relay cannot reload");
	if (ret < 0) {
		answer_error(sb, json, summary);
	} else if (json) {
		strbuf_add(sb, "{\"hvid\":\"%s\",\"reloaded\":", c->view.config->hvid);
		json_str(sb, summary);
		strbuf_add(sb, "}\n");
	} else {
		strbuf_add(sb, "%s\n", summary);
	}
}

void control_set_reload(struct control *c, control_reload_fn *fn, void *ctx)
{
	c->reload = fn;
	c->reload_ctx = ctx;
}

/* The sections of the state, in the order status shows them. */
static const struct {
	const char *name;
	void (*dump)(const struct control_view *v, struct strbuf *sb, bool json);
} sections[] = {
    {"links", dump_links},
    {"routes", dump_routes},
    {"mappings", dump_mappings},
    {"counters", dump_counters},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* One section (all: status), with the relay's line first. */
static void answer_state(const struct control_view *v, const char *which, bool json,
                         struct strbuf *sb)
{
	size_t i;

	if (json) {
		strbuf_add(sb, "{\"hvid\":\"%s\",\"domid\":%u,\"fabric\":", v->config->hvid,
		           v->domid);
		json_str(sb, v->config->fabric);
	} else {
		strbuf_add(sb, "relay %s: domain %u on %s\n", v->config->hvid, v->domid,
		           v->config->fabric);
	}
	for (i = 0; i < NSECTIONS; i++) {
		if (which && strcmp(which, sections[i].name))
			continue;
		strbuf_add(sb, json ? "," : "%s:\n", sections[i].name);
		sections[i].dump(v, sb, json);
	}
	if (json)
		strbuf_add(sb, "}\n");
}

/* A command line: COMMAND [json], exactly. */
static void answer(struct control *c, char *line, struct strbuf *sb)
{
	char *save = NULL, *cmd = strtok_r(line, " \t", &save);
	char *opt = cmd ? strtok_r(NULL, " \t", &save) : NULL;
	bool json = opt && !strcmp(opt, "json");
	char why[200];
	size_t i;

	if (!cmd) {
		answer_error(sb, false,
		             "no command (status, links, routes, mappings, counters, "
		             "reload; add 'json' for JSON)");
		return;
	}
	if (opt && !json) {
		snprintf(why, sizeof(why), "one command at a time: '%.40s' after '%.40s'", opt,
		         cmd);
		answer_error(sb, false, why);
		return;
	}
	if ((opt = strtok_r(NULL, " \t", &save))) {
		snprintf(why, sizeof(why), "nothing may follow 'json': '%.40s'", opt);
		answer_error(sb, json, why);
		return;
	}
	if (!strcmp(cmd, "reload")) {
		answer_reload(c, json, sb);
		return;
	}
	if (!strcmp(cmd, "status")) {
		answer_state(&c->view, NULL, json, sb);
		return;
	}
	for (i = 0; i < NSECTIONS; i++)
		if (!strcmp(cmd, sections[i].name)) {
			answer_state(&c->view, cmd, json, sb);
			return;
		}
	snprintf(why, sizeof(why),
	         "unknown command '%.40s' (status, links, routes, mappings, counters, reload; "
	         "add 'json' for JSON)",
	         cmd);
	answer_error(sb, json, why);
}

void control_status(const struct control *c, struct strbuf *sb)
{
	answer_state(&c->view, NULL, false, sb);
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
	answer(c, cmd, &sb);
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
