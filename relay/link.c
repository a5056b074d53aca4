/* SPDX-License-Identifier: MIT */
/*
 * One link of this relay (link.h): its connections and their lifecycle,
 * the frames in and out, and the relay's rules for them. The protocol's
 * layers are in common/link: session.c (TLS, HELLO), frames.c (framing),
 * stream.c (msn, acknowledgements, credit, resume). docs/protocol.md is the
 * wire format; docs/relay-design.md, "Links and sessions" and "Order,
 * acknowledgement, retransmission", says why it works as it does.
 */
#define _GNU_SOURCE
#include "link.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define HANDSHAKE_TIMEOUT_MS 5000
#define OUT_HIGH_WATER       (1u << 20) /* stop encoding DATA beyond this backlog */
/* How long an acknowledgement may wait for others to join it (or for DATA
 * going the other way to carry it). The sender keeps a message in its ring
 * until the ack reaches it, so this bounds how long a quiet stream holds
 * ring space; busy streams are acknowledged every STREAM_ACK_EVERY messages
 * or STREAM_ACK_BYTES (stream.h). The deadline is the event loop's time-out
 * (one timer for all links, env->ack_timer): nothing to arm per ACK, and
 * the owner drops it when DATA going the other way carried every ACK owed. */
#define ACK_DELAY_MS 1

const char *link_state_name(enum link_state state)
{
	static const char *const names[] = {"down", "connecting", "handshake", "up"};

	return state <= LINK_UP ? names[state] : "?";
}

static void link_drop(struct link *link, const char *why);
static void conn_error(struct link_conn *c, int err, const char *why);
static int conn_restart(struct link_conn *c, const char *why);
static void read_conn(struct link_conn *c);

static void set_state(struct link *link, enum link_state state)
{
	if (link->state != state)
		link->state_since_ms = now_ms();
	link->state = state;
}

/* ---- Connections -------------------------------------------------------- */

/* (Re)arms a connection's events; a no-op when they do not change. */
static void conn_watch(struct link_conn *c, uint32_t events)
{
	if (c->fd >= 0)
		ev_watch(c->link->env->loop, &c->watch, c->fd, events);
}

static void serial_counters_add(struct session_serial_counters *to,
                                const struct session_serial_counters *c)
{
	to->stale_bytes += c->stale_bytes;
	to->stale_hellos += c->stale_hellos;
	to->restarts += c->restarts;
	to->refusals += c->refusals;
}

/* Closes a connection and frees its slot (the session in use goes through
 * link_drop(), which calls this). */
static void conn_close(struct link_conn *c)
{
	struct link *link = c->link;
	const struct frames_counters *f = &c->frames.counters;

	if (c->fd < 0)
		return;
	ev_unwatch(link->env->loop, &c->watch);
	serial_counters_add(&link->serial_done, &c->session.serial.counters);
	/* What TLS queued last (an alert saying why the handshake failed)
	 * goes if the fd takes it now: the peer then knows. */
	if (c->session.ssl && !c->connecting && session_backlog(&c->session))
		session_send(&c->session, NULL);
	session_end(&c->session);
	memset(&c->session, 0, sizeof(c->session));
	close(c->fd);
	c->fd = -1;
	c->connecting = false;
	c->auth_failed = false;
	frames_detach(&c->frames);
	link->frames_done.frames_tx += f->frames_tx;
	link->frames_done.frames_rx += f->frames_rx;
	link->frames_done.bytes_tx += f->bytes_tx;
	link->frames_done.bytes_rx += f->bytes_rx;
	memset(&c->frames.counters, 0, sizeof(c->frames.counters));
}

static void conn_take(struct link_conn *c, int fd, const struct transport_peer *peer)
{
	c->fd = fd;
	c->since_ms = now_ms();
	c->peer = *peer;
	c->auth_failed = false;
	memset(&c->frames.counters, 0, sizeof(c->frames.counters));
}

/* Writes what the connection takes; watches for EPOLLOUT when it takes
 * less. */
static void conn_flush(struct link_conn *c)
{
	int ret;

	if (c->fd < 0 || c->connecting)
		return;
	ret = frames_flush(&c->frames);
	if (ret == -EAGAIN)
		conn_watch(c, EPOLLIN | EPOLLOUT);
	else if (ret < 0)
		conn_error(c, ret, c->frames.why ? c->frames.why : strerror(-ret));
	else
		conn_watch(c, EPOLLIN);
}

static void flush_out(struct link *link)
{
	if (link->up)
		conn_flush(link->up);
}

static int put_frame(struct link *link, uint8_t type, const void *p1, uint32_t l1, const void *p2,
                     uint32_t l2)
{
	struct link_conn *c = link->up;

	return frames_put(&c->frames, &c->session, type, p1, l1, p2, l2);
}

int link_put_frame(struct link *link, uint8_t type, const void *p1, uint32_t l1, const void *p2,
                   uint32_t l2)
{
	if (!link->up)
		return -ENOTCONN;
	return put_frame(link, type, p1, l1, p2, l2);
}

void link_flush(struct link *link)
{
	flush_out(link);
}

size_t link_backlog(const struct link *link)
{
	return link->up ? frames_backlog(&link->up->frames) : 0;
}

void link_set_leaf(struct link *link, const struct link_leaf_ops *ops, void *leaf)
{
	link->leaf_ops = ops;
	link->leaf = leaf;
}

/* ---- Lockout: failed handshakes per source ------------------------------ */

static struct link_lockout *lockout_find(struct link *link, const char *source, bool make)
{
	struct link_lockout *free_slot = NULL, *oldest = NULL;
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < LINK_LOCKOUT_SLOTS; i++) {
		struct link_lockout *l = &link->lockout[i];

		if (l->source[0] && !strcmp(l->source, source))
			return l;
		if (!l->source[0] || (l->until_ms <= now && !l->failures)) {
			if (!free_slot)
				free_slot = l;
		} else if (l->until_ms <= now && (!oldest || l->last_ms < oldest->last_ms)) {
			oldest = l; /* not refused now: may be forgotten */
		}
	}
	if (!make)
		return NULL;
	if (!free_slot)
		free_slot = oldest;
	if (!free_slot)
		return NULL; /* every slot holds a refused source: remember none more */
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->source, sizeof(free_slot->source), "%s", source);
	return free_slot;
}

static bool lockout_refuses(struct link *link, const char *source)
{
	struct link_lockout *l = lockout_find(link, source, false);

	return l && l->until_ms > now_ms();
}

/* A handshake from source failed: after max_auth_failures in a row, the
 * source (and only it) is refused for reset_backoff_ms. */
static void lockout_fail(struct link *link, const char *source)
{
	const struct relay_config *config = link->env->config;
	struct link_lockout *l = lockout_find(link, source, true);

	if (!l)
		return;
	l->last_ms = now_ms();
	if (++l->failures < config->max_auth_failures)
		return;
	l->failures = 0;
	l->until_ms = l->last_ms + config->reset_backoff_ms;
	l->refusal_logged = false;
	link->counters.resets++;
	relay_log(0,
	          "link %s: %u failed handshakes in a row from %s: refusing connections from it "
	          "for %u ms (other sources and the session in use are not affected)",
	          link->cfg->name, config->max_auth_failures, source, config->reset_backoff_ms);
}

static void lockout_ok(struct link *link, const char *source)
{
	struct link_lockout *l = lockout_find(link, source, false);

	if (l)
		memset(l, 0, sizeof(*l));
}

/* ---- Why a link is not up ------------------------------------------------ */

/*
 * Why the link is not up, kept for argo-relayctl (down_reason) and logged:
 * at the default level when it is news (the session ended, or the reason
 * changed: "Connection refused" after "No such file"), with -v when the
 * same failure repeats at every attempt.
 */
static void set_down_reason(struct link *link, bool news, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_down_reason(struct link *link, bool news, const char *fmt, ...)
{
	char why[sizeof(link->down_reason)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (strcmp(why, link->down_reason)) {
		news = true;
		memcpy(link->down_reason, why, sizeof(why));
	}
	relay_log(news ? 0 : 1, "link %s: %s", link->cfg->name, why);
}

/* A handshake failed authentication: counted, and said at the default
 * level once until the link comes up (then with -v), with what to check
 * and who it was. */
static void auth_failed(struct link *link, const char *peer)
{
	link->counters.auth_failures++;
	if (!link->auth_failure_said++)
		relay_log(0,
		          "link %s: authentication failed with %s: the two ends do not hold the "
		          "same %s for this link (check '%s' at both ends; also that the peer "
		          "is %s); said again only with -v, counted in auth failures",
		          link->cfg->name, peer,
		          link->cfg->cert_file[0] ? "certificates' CA" : "key",
		          link->cfg->cert_file[0] ? "cert', 'cert_key' and 'ca" : "key",
		          link->cfg->peer_hvid);
}

/* ---- Acknowledgements --------------------------------------------------- */

void links_ack_soon(const struct link_env *env)
{
	if (!env->ack_timer->armed)
		ev_timer_arm(env->loop, env->ack_timer, now_ms() + ACK_DELAY_MS);
}

/* Sends an ACK frame when one is due (stream.h says when); otherwise arms
 * the deadline for what is owed. */
static void maybe_ack(struct link *link, bool urgent)
{
	uint8_t payload[WIRE_ACK_SIZE];
	struct wire_ack ack;

	/* A leaf's link carries no stream (its requests are answered). */
	if (link->state != LINK_UP || link->leaf_ops)
		return;
	switch (stream_ack_check(&link->stream, urgent, &ack)) {
	case STREAM_ACK_NONE:
		return;
	case STREAM_ACK_LATER:
		links_ack_soon(link->env);
		return;
	case STREAM_ACK_NOW:
		break;
	}
	if (wire_put_ack(payload, sizeof(payload), &ack) < 0 ||
	    put_frame(link, WIRE_ACK, payload, WIRE_ACK_SIZE, NULL, 0) < 0)
		return;
	stream_ack_sent(&link->stream, &ack);
}

bool link_ack_owed(const struct link *link)
{
	return link->state == LINK_UP && !link->leaf_ops && stream_ack_owed(&link->stream);
}

void link_ack_now(struct link *link)
{
	if (link->state == LINK_UP) {
		maybe_ack(link, true);
		flush_out(link);
	}
}

/* ---- Custody of what the peer sent -------------------------------------- */

/* Done, it may be acknowledged; let go, the peer keeps it and sends it
 * again; undeliverable, the peer is told (the msn it came with). */
static void link_msg_done(void *source, uint64_t msn, uint32_t len)
{
	struct link *link = source;

	stream_rx_done(&link->stream, msn, len);
	if (link->state == LINK_UP) {
		maybe_ack(link, false);
		flush_out(link);
	}
}

static void link_msg_release(void *source, uint64_t msn, uint32_t len)
{
	struct link *link = source;

	(void)msn;
	stream_rx_released(&link->stream, len);
}

/* A report while no session is up: kept for the next one. */
static void hold_report(struct link *link, const struct wire_undeliverable *u)
{
	if (link->nheld_reports == link->held_reports_cap) {
		uint32_t cap = link->held_reports_cap ? link->held_reports_cap * 2 : 16;
		struct wire_undeliverable *n;

		n = cap > LINK_MAX_HELD_REPORTS ? NULL
		                                : realloc(link->held_reports, cap * sizeof(*n));
		if (!n) {
			if (!link->counters.reports_dropped++)
				relay_log(0,
				          "link %s: down with %u reports waiting for it: more are "
				          "dropped (counted: reports_dropped)",
				          link->cfg->name, link->nheld_reports);
			return;
		}
		link->held_reports = n;
		link->held_reports_cap = cap;
	}
	link->held_reports[link->nheld_reports++] = *u;
	link->counters.reports_held++;
}

static void send_undeliverable(struct link *link, const struct wire_undeliverable *u)
{
	uint8_t out[WIRE_UNDELIVERABLE_SIZE];

	if (link->state != LINK_UP) {
		hold_report(link, u);
		return;
	}
	if (wire_put_undeliverable(out, sizeof(out), u) < 0)
		return;
	put_frame(link, WIRE_UNDELIVERABLE, out, sizeof(out), NULL, 0);
	flush_out(link);
}

/* The msn our acknowledgements must stay below while reports wait: the
 * peer frees a message on its acknowledgement, and a report that comes
 * after it answers nothing (0: no limit). */
static uint64_t held_reports_floor(const struct link *link)
{
	uint64_t floor = 0;
	uint32_t i;

	for (i = 0; i < link->nheld_reports; i++)
		if (!floor || link->held_reports[i].msn < floor)
			floor = link->held_reports[i].msn;
	return floor;
}

/* A session is up: the reports kept while the link was down go first, if
 * the peer is the process that sent their messages (a peer that restarted
 * sends them again, and the last relay reports the copies). */
static void send_held_reports(struct link *link, bool same_peer)
{
	uint32_t i, n = link->nheld_reports;

	link->nheld_reports = 0;
	if (!same_peer) {
		if (n)
			relay_log(1,
			          "link %s: %u reports for a run of the peer that is gone: dropped",
			          link->cfg->name, n);
		link->counters.reports_dropped += n;
		return;
	}
	for (i = 0; i < n; i++) {
		uint8_t out[WIRE_UNDELIVERABLE_SIZE];

		if (wire_put_undeliverable(out, sizeof(out), &link->held_reports[i]) >= 0)
			put_frame(link, WIRE_UNDELIVERABLE, out, sizeof(out), NULL, 0);
	}
	if (n)
		relay_log(1, "link %s: %u reports kept while it was down, sent", link->cfg->name,
		          n);
}

static void link_msg_report(void *source, uint64_t msn, const struct wire_undeliverable *u)
{
	struct wire_undeliverable v = *u;

	/* The peer knows the message by the msn it sent it with. */
	v.msn = msn;
	send_undeliverable(source, &v);
}

static const struct msg_source_ops link_source = {
    .done = link_msg_done,
    .release = link_msg_release,
    .report = link_msg_report,
};

/* ---- Sending ------------------------------------------------------------ */

/* Sends what credit and the output backlog allow. */
static void pump(struct link *link)
{
	struct msg *msg;

	if (link->state != LINK_UP || link->leaf_ops)
		return;
	while ((msg = stream_next(&link->stream)) &&
	       frames_backlog(&link->up->frames) < OUT_HIGH_WATER) {
		uint8_t hdr[WIRE_DATA_HEADER_SIZE];
		struct wire_data data;

		stream_data(&link->stream, msg, &data);
		if (wire_put_data_header(hdr, sizeof(hdr), &data) < 0) {
			/* Cannot happen for a message we accepted; never send garbage. */
			relay_log(0, "link %s: cannot encode msn %llu", link->cfg->name,
			          (unsigned long long)msg->msn);
			break;
		}
		if (put_frame(link, WIRE_DATA, hdr, sizeof(hdr), msg->data, msg->len) < 0)
			break;
		stream_sent(&link->stream, &data);
	}
	flush_out(link);
}

/* The router's send: queue a message for the peer (ownership). */
static void enqueue(void *end, struct msg *msg)
{
	struct link *link = end;

	/* A leaf's name is no level: nothing is routed to it (its domain is
	 * in our own fabric), and a message addressed to that hvid goes back
	 * to its sender as unreachable. */
	if (link->leaf_ops) {
		router_undeliverable(link->env->router, msg, EHOSTUNREACH);
		return;
	}
	stream_queue(&link->stream, msg);
	pump(link);
}

/* May another message be read from a local ring for this link now? (One
 * may overshoot the credit left: see stream_next().) */
static bool can_take(const void *end)
{
	const struct link *link = end;

	if (link->leaf_ops)
		return true; /* refused at once (enqueue()) */
	return link->state == LINK_UP && stream_can_take(&link->stream);
}

static bool is_up(const void *end)
{
	const struct link *link = end;

	return link->state == LINK_UP;
}

static const struct relay_end_ops link_end_ops = {
    .send = enqueue,
    .can_take = can_take,
    .report = NULL, /* reports go back along the way a message came (msg.h) */
    .is_up = is_up,
};

struct relay_end link_end(struct link *link)
{
	return (struct relay_end){.ops = &link_end_ops, .end = link};
}

void link_send_routes(struct link *link)
{
	struct wire_route routes[WIRE_MAX_ROUTES];
	uint8_t payload[4 + WIRE_MAX_ROUTES * 20];
	uint32_t n;
	int len;

	if (link->state != LINK_UP || link->leaf_ops)
		return;
	n = router_announcement(link->env->router, link->index, routes, WIRE_MAX_ROUTES);
	len = wire_put_routes(payload, sizeof(payload), routes, n);
	if (len < 0)
		return;
	put_frame(link, WIRE_ROUTES, payload, (uint32_t)len, NULL, 0);
	flush_out(link);
}

/* ---- Sessions ----------------------------------------------------------- */

/* The session in use is over, its connection kept: a serial stream's next
 * session starts on it (conn_restart()). The stream keeps what was not
 * acknowledged, to send again; the routes through the link go (a leaf's
 * session: the leaf is away until it attaches again). */
static void session_over(struct link *link)
{
	bool was_up = link->state == LINK_UP;

	link->up = NULL;
	link->up_since_ms = 0;
	stream_new_session(&link->stream);
	link->ping_token = 0;
	set_state(link, link->cfg->listen ? LINK_DOWN : LINK_HANDSHAKE);
	if (link->leaf_ops) {
		if (was_up)
			link->leaf_ops->down(link->leaf);
	} else {
		router_link_down(link->env->router, link->index);
	}
}

/* The session in use ends (the connection is closed; the stream stays). */
static void link_drop(struct link *link, const char *why)
{
	const struct relay_config *config = link->env->config;
	struct link_conn *c = link->up ? link->up : (!link->cfg->listen ? &link->conns[0] : NULL);
	bool was_up = link->state == LINK_UP;

	set_down_reason(link, was_up, "%s%s", was_up ? "session ended: " : "", why);
	if (c)
		conn_close(c);
	link->up = NULL;
	link->up_since_ms = 0;
	stream_new_session(&link->stream);
	link->ping_token = 0;
	set_state(link, LINK_DOWN);
	if (!link->cfg->listen) {
		if (link->consecutive_failures >= config->max_auth_failures) {
			relay_log(0,
			          "link %s: %u authentication failures in a row: reset, next try "
			          "in %u ms",
			          link->cfg->name, link->consecutive_failures,
			          config->reset_backoff_ms);
			link->counters.resets++;
			link->consecutive_failures = 0;
			link->next_attempt_ms = now_ms() + config->reset_backoff_ms;
		} else {
			link->next_attempt_ms = now_ms() + config->reconnect_ms;
		}
	}
	if (was_up && link->leaf_ops)
		link->leaf_ops->down(link->leaf);
	else if (was_up)
		router_link_down(link->env->router, link->index);
}

/* A connection that is not (or not yet) the session in use failed or
 * ended. failed: a handshake that went wrong (counted against its source:
 * it did not authenticate, or not in time), not a connection that merely
 * closed. */
static void conn_end(struct link_conn *c, const char *why, bool failed)
{
	struct link *link = c->link;

	if (c == link->up || (!link->cfg->listen && c == &link->conns[0])) {
		if (failed)
			link->consecutive_failures++;
		link_drop(link, why);
		return;
	}
	/* A wrong key was said once already (auth_failed()). */
	relay_log(failed && !c->auth_failed ? 0 : 1, "link %s: handshake with %s %s: %s",
	          link->cfg->name, c->peer.name, failed ? "failed" : "ended", why);
	if (link->state != LINK_UP)
		snprintf(link->down_reason, sizeof(link->down_reason), "handshake with %s %s: %s",
		         c->peer.name, failed ? "failed" : "ended", why);
	if (failed)
		lockout_fail(link, c->peer.source);
	conn_close(c);
}

/* Errors of frames_read()/frames_flush() and of the handlers, counted. */
static void conn_error(struct link_conn *c, int err, const char *why)
{
	struct link *link = c->link;
	bool up = c == link->up;

	switch (err) {
	case -ERESTART: /* a serial stream: the next session on the same fd */
		if (conn_restart(c, why) == 0)
			read_conn(c);
		return;
	case -EACCES: /* the TLS handshake failed: no key, a wrong one, tampering */
		auth_failed(link, c->peer.name);
		c->auth_failed = true;
		conn_end(c, why, true);
		return;
	case -EKEYREJECTED:
		link->counters.drop_mac++;
		break;
	case -EPROTO:
	case -EBADMSG:
	case -EMSGSIZE:
		link->counters.drop_malformed++;
		if (up)
			relay_log(0, "link %s: malformed: %s", link->cfg->name, why);
		/* Garbage before the handshake completes is a failed one. */
		conn_end(c, why, !up && c->session.tls_bytes_seen);
		return;
	default:
		break;
	}
	conn_end(c, why, false);
}

/* Our HELLO, with what we hold of the peer's stream now. */
static int send_hello(struct link_conn *c, const char **why)
{
	uint8_t payload[WIRE_HELLO_SIZE];
	struct wire_hello hello = {0};
	int ret;

	hello.boot_id = c->link->env->boot_id;
	stream_hello(&c->link->stream, &hello);
	/* Not beyond a message whose report waits to be sent (above). */
	if (held_reports_floor(c->link) && hello.acked_msn >= held_reports_floor(c->link))
		hello.acked_msn = held_reports_floor(c->link) - 1;
	ret = session_hello(&c->session, &hello, payload, why);
	if (ret < 0)
		return ret;
	return frames_put(&c->frames, &c->session, WIRE_HELLO, payload, WIRE_HELLO_SIZE, NULL, 0);
}

/* A connected fd: its TLS session starts. */
static void conn_start(struct link_conn *c)
{
	struct link *link = c->link;
	const char *why = NULL;

	c->connecting = false;
	c->since_ms = now_ms();
	if (session_start(&c->session, c->fd, &link->creds, &why) < 0) {
		conn_end(c, why, false);
		return;
	}
	frames_attach(&c->frames, &c->session);
	if (!link->cfg->listen)
		set_state(link, LINK_HANDSHAKE);
	/* The initiator's HELLO waits in the buffer for the handshake; the
	 * acceptor (a listening link; a leaf's, whichever end connected) sends
	 * its own once the peer's has come (promote()). */
	if (link->creds.role == WIRE_ROLE_INITIATOR && send_hello(c, &why) < 0) {
		conn_end(c, why ? why : "out of memory", false);
		return;
	}
	conn_watch(c, EPOLLIN);
	conn_flush(c);
}

/*
 * Serial links (a virtio-serial port, a pty): a byte stream without
 * connections, whose two ends come and go unseen (docs/relay-design.md,
 * "Serial links"). The session layer does most of it (session.h, "Serial
 * streams": roles from the hvids, handshakes retried and restarted inside
 * the session, stale bytes skipped); here:
 * - session_tick() from link_tick(), for the initiator's retries and the
 *   acceptor's "I am new";
 * - -ERESTART (the peer started afresh, or the stream lost bytes): the
 *   session in use is over as if the connection had been cut (routes
 *   withdrawn, what was not acknowledged kept to send again), and the
 *   next starts at once on the same fd (conn_restart());
 * - the handshake time-out: handshakes refused as a wrong key would be
 *   count as one authentication failure, the rest as no answer.
 */
static bool serial_link(const struct link *link)
{
	return link->cfg->transport == TRANSPORT_SERIAL;
}

/* The next session on c's fd, after -ERESTART. 0, or -1 when the
 * connection ended instead. */
static int conn_restart(struct link_conn *c, const char *why)
{
	struct link *link = c->link;
	const char *w = NULL;

	if (c == link->up) {
		relay_log(0,
		          "link %s: session ended: %s (the peer started afresh, or the stream lost "
		          "bytes); starting again on the same stream",
		          link->cfg->name, why);
		session_over(link);
	} else {
		relay_log(1, "link %s: handshake ended: %s; starting again on the same stream",
		          link->cfg->name, why);
	}
	c->since_ms = now_ms();
	if (session_restart(&c->session, &w) < 0) {
		conn_end(c, w ? w : "cannot start a new session", false);
		return -1;
	}
	frames_attach(&c->frames, &c->session);
	if (link->creds.role == WIRE_ROLE_INITIATOR && send_hello(c, &w) < 0) {
		conn_end(c, w ? w : "out of memory", false);
		return -1;
	}
	conn_flush(c);
	return c->fd >= 0 ? 0 : -1;
}

/* A serial handshake that did not come up in time. */
static void serial_timed_out(struct link_conn *c)
{
	struct link *link = c->link;
	const struct session_serial *r = &c->session.serial;
	char msg[sizeof(r->refusal) + 96];

	if (!r->refused) {
		conn_end(c, "handshake timed out (no answer on the serial stream)", false);
		return;
	}
	snprintf(msg, sizeof(msg),
	         "handshake timed out after %u refused attempts (wrong key or certificate?); "
	         "last: %s",
	         r->refused, r->refusal);
	relay_log(1, "link %s: %s", link->cfg->name, msg);
	auth_failed(link, c->peer.name);
	c->auth_failed = true;
	conn_end(c, msg, true);
}

/* The peer of c authenticated and sent a good HELLO: c becomes the session
 * in use, replacing the one before, if any. */
static void promote(struct link_conn *c)
{
	struct link *link = c->link;
	const char *why = NULL;
	bool same_peer;

	if (link->up && link->up != c) {
		char msg[TRANSPORT_PEER_MAX + 64];

		link->counters.replaced++;
		snprintf(msg, sizeof(msg), "replaced by a new authenticated session from %s",
		         c->peer.name);
		link_drop(link, msg);
	}
	link->up = c;
	if (link->cfg->listen)
		lockout_ok(link, c->peer.source);
	link->consecutive_failures = 0;
	link->down_reason[0] = '\0';
	link->auth_failure_said = 0;
	stream_new_session(&link->stream);
	if (link->creds.role == WIRE_ROLE_ACCEPTOR && send_hello(c, &why) < 0) {
		link->up = NULL;
		conn_end(c, why ? why : "out of memory", false);
		return;
	}
	link->counters.sessions++;
	snprintf(link->peer_desc, sizeof(link->peer_desc), "%s %s",
	         transport_name(link->cfg->transport), c->peer.name);
	if (link->leaf_ops) {
		set_state(link, LINK_UP);
		link->up_since_ms = link->last_rx_ms = now_ms();
		relay_log(0, "link %s: up with leaf %s (%s, %s, %s)", link->cfg->name,
		          c->session.peer.hvid, link->peer_desc, c->session.cipher,
		          c->session.group);
		conn_flush(c);
		if (link->up == c)
			link->leaf_ops->up(link->leaf);
		return;
	}
	/* The peer's HELLO, authenticated, tells what it holds of ours. */
	same_peer = link->stream.peer_boot_id == c->session.peer.boot_id;
	stream_resume(&link->stream, &c->session.peer);
	set_state(link, LINK_UP);
	send_held_reports(link, same_peer);
	link->up_since_ms = link->last_rx_ms = now_ms();
	relay_log(0, "link %s: up with %s (%s, %s, %s), resuming at msn %llu", link->cfg->name,
	          c->session.peer.hvid, link->peer_desc, c->session.cipher, c->session.group,
	          (unsigned long long)link->stream.next_msn);
	link_send_routes(link);
	maybe_ack(link, true);
	pump(link);
	router_room(link->env->router);
}

static void on_hello(struct link_conn *c, const uint8_t *payload, uint32_t len)
{
	struct link *link = c->link;
	const char *why = NULL;
	int ret = session_on_hello(&c->session, payload, len, &why);

	if (ret == -EBADMSG)
		link->counters.drop_malformed++;
	if (ret == -EACCES)
		relay_log(0, "link %s: %s says it is '%s', expected '%s'", link->cfg->name,
		          c->peer.name, c->session.peer.hvid, link->cfg->peer_hvid);
	if (ret < 0) {
		/* It holds the key, yet speaks wrong: counted as a failure. */
		conn_end(c, why, true);
		return;
	}
	promote(c);
}

/* ---- Frames in ---------------------------------------------------------- */

/* An acknowledgement and grant from the peer, in an ACK frame or riding on
 * a DATA. Returns true when more may be sent now (by this link, if still
 * up, and from local rings). */
static bool apply_ack(struct link *link, uint64_t acked_msn, uint64_t credit)
{
	int ret = stream_on_ack(&link->stream, acked_msn, credit);

	if (ret < 0) {
		link_drop(link, "acknowledgement of a message never sent");
		return false;
	}
	return ret > 0;
}

/* The message a DATA carries (its acknowledgement already applied). */
static void take_data(struct link *link, const struct wire_data *data)
{
	struct router *router = link->env->router;
	struct msg *msg;
	int ret = stream_rx_check(&link->stream, data->msn);

	if (ret == 1)
		return; /* a retransmission we already have */
	if (ret == -EPROTO) {
		link_drop(link, "gap in the message sequence");
		return;
	}
	if (ret == -EDQUOT) {
		link->counters.drop_credit++;
		link_drop(link, "the peer sent DATA beyond its credit or the in-flight limit");
		return;
	}
	msg = ret < 0 ? NULL : msg_new(link->env->account, data->length);
	if (!msg) {
		link_drop(link, "out of memory");
		return;
	}
	stream_rx_accept(&link->stream, data->msn, data->length);
	msg_hold(msg, &link_source, link, data->msn);

	/* The true source cannot be forged by a neighbour: it must be the
	 * peer's own hvid or one we route through this very link (which it
	 * may announce only when allowed: routes.h). */
	if (strncmp(data->src.hvid, link->cfg->peer_hvid, WIRE_HVID_SIZE) != 0 &&
	    router_lookup(router, data->src.hvid) != link->index) {
		link->counters.drop_spoofed++;
		relay_log(1, "link %s: dropped a message claiming to come from %s", link->cfg->name,
		          data->src.hvid);
		msg_done(msg);
		return;
	}
	/* The msn it came with, until a link queues it: an UNDELIVERABLE
	 * answering it names that DATA (and msn 0 would be refused). */
	msg->msn = data->msn;
	msg->src = data->src;
	msg->dst = data->dst;
	msg->message_type = data->message_type;
	msg->origin = data->origin;
	msg->routed = data->flags & WIRE_DATA_ROUTED;
	memcpy(msg->data, data->message, data->length);
	router_route(router, msg);
}

static void on_data(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_data data;
	const char *why = NULL;
	bool more;

	if (wire_parse_data(payload, len, &data, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	/* The acknowledgement it carries first, as an ACK frame before it
	 * would be; what that lets us send goes after the message. */
	more = apply_ack(link, data.acked_msn, data.credit);
	if (link->state == LINK_UP)
		take_data(link, &data);
	if (more) {
		pump(link);
		router_room(link->env->router);
	}
}

static void on_ack(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_ack ack;
	const char *why = NULL;

	if (wire_parse_ack(payload, len, &ack, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	if (apply_ack(link, ack.acked_msn, ack.credit)) {
		pump(link);
		router_room(link->env->router);
	}
}

static void on_routes(struct link *link, const uint8_t *payload, uint32_t len)
{
	static struct wire_route routes[WIRE_MAX_ROUTES];
	const char *why = NULL;
	uint32_t n, refused;

	if (wire_parse_routes(payload, len, routes, &n, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	refused = router_learn(link->env->router, link->index, routes, n);
	if (refused) {
		/* Logged when it changes, not for every announcement. */
		if (link->counters.drop_route == 0)
			relay_log(0,
			          "link %s: peer %s announced %u hvids it may not (another link's "
			          "peer, or not in 'announce'): ignored",
			          link->cfg->name, link->cfg->peer_hvid, refused);
		link->counters.drop_route += refused;
	}
}

static bool same_gaddr(const struct wire_gaddr *a, const struct wire_gaddr *b)
{
	return !strncmp(a->hvid, b->hvid, WIRE_HVID_SIZE) && a->domid == b->domid &&
	       a->port == b->port;
}

/* A report for a message we sent on this link: it must answer one we sent
 * and the peer still holds, once; then it goes back the way that message
 * came. */
static void on_undeliverable(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_undeliverable u;
	const char *why = NULL;
	struct msg *msg;

	if (wire_parse_undeliverable(payload, len, &u, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	msg = stream_find_sent(&link->stream, u.msn);
	if (!msg || msg->reported || !same_gaddr(&msg->src, &u.src) ||
	    !same_gaddr(&msg->dst, &u.dst) ||
	    (u.flags & WIRE_DATA_ROUTED) != (msg->routed ? WIRE_DATA_ROUTED : 0u)) {
		if (link->counters.drop_report++ == 0)
			relay_log(0,
			          "link %s: dropped an UNDELIVERABLE for msn %llu (%s:%u:%u -> "
			          "%s:%u:%u) that answers nothing we sent (logged once)",
			          link->cfg->name, (unsigned long long)u.msn, u.src.hvid,
			          u.src.domid, u.src.port, u.dst.hvid, u.dst.domid, u.dst.port);
		return;
	}
	msg->reported = true;
	router_report(link->env->router, &u, msg);
}

static void on_ping(struct link *link, uint8_t type, const uint8_t *payload, uint32_t len)
{
	const char *why = NULL;
	uint64_t token;

	if (wire_parse_ping(payload, len, &token, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	if (type == WIRE_PING) {
		put_frame(link, WIRE_PONG, payload, len, NULL, 0);
		flush_out(link);
	} else if (token == link->ping_token && link->ping_token) {
		link->counters.rtt_us = now_us() - link->ping_sent_us;
		link->ping_token = 0;
	}
}

/* A frame of a leaf's session (its HELLO came): the leaf's own, pings, or
 * its goodbye. Returns < 0 when the connection ended. */
static int leaf_frame(struct link *link, struct link_conn *c, const struct wire_header *hdr,
                      const uint8_t *payload)
{
	struct wire_close close_msg;
	const char *why = NULL;

	switch (hdr->type) {
	case WIRE_PING:
	case WIRE_PONG:
		on_ping(link, hdr->type, payload, hdr->length);
		break;
	case WIRE_CLOSE:
		if (wire_parse_close(payload, hdr->length, &close_msg, &why) == 0)
			relay_log(0, "link %s: leaf closed: %s", link->cfg->name, close_msg.text);
		link_drop(link, "closed by the leaf");
		return -1;
	case WIRE_LEAF_ATTACH:
	case WIRE_LEAF_REQUEST:
	case WIRE_LEAF_RX:
		if (link->leaf_ops->frame(link->leaf, hdr->type, payload, hdr->length, &why) < 0) {
			link->counters.drop_malformed++;
			link_drop(link, why ? why : "leaf protocol error");
			return -1;
		}
		break;
	default:
		/* DATA, ROUTES, reports and the relay's own leaf frames have no
		 * business coming from a leaf. */
		link->counters.drop_malformed++;
		link_drop(link, "a frame a leaf does not send");
		return -1;
	}
	return link->up == c ? 0 : -1;
}

/* One whole frame (frames_handler): checked by the session, then by type.
 * Returns < 0 when the connection ended. */
static int handle_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	struct link_conn *c = ctx;
	struct link *link = c->link;
	const uint8_t *payload = frame + WIRE_HEADER_SIZE;
	struct wire_close close_msg;
	const char *why = NULL;
	int ret;

	ret = session_open(&c->session, hdr, frame, &why);
	if (ret < 0) {
		if (ret == -EPROTO)
			link->counters.drop_seq++;
		else
			link->counters.drop_malformed++;
		conn_end(c, why, c != link->up);
		return -1;
	}
	if (hdr->type == WIRE_HELLO) {
		on_hello(c, payload, hdr->length);
		return c->fd >= 0 && link->up == c ? 0 : -1;
	}
	/* Past session_open, only the session in use has frames but HELLO. */
	link->last_rx_ms = now_ms();
	if (link->leaf_ops)
		return leaf_frame(link, c, hdr, payload);
	switch (hdr->type) {
	case WIRE_DATA:
		on_data(link, payload, hdr->length);
		break;
	case WIRE_ACK:
		on_ack(link, payload, hdr->length);
		break;
	case WIRE_ROUTES:
		on_routes(link, payload, hdr->length);
		break;
	case WIRE_UNDELIVERABLE:
		on_undeliverable(link, payload, hdr->length);
		break;
	case WIRE_PING:
	case WIRE_PONG:
		on_ping(link, hdr->type, payload, hdr->length);
		break;
	case WIRE_CLOSE:
		if (wire_parse_close(payload, hdr->length, &close_msg, &why) == 0)
			relay_log(0, "link %s: peer closed: %s", link->cfg->name, close_msg.text);
		link_drop(link, "closed by the peer");
		return -1;
	default:
		/* A leaf's frames have no business on a link between relays. */
		link->counters.drop_malformed++;
		link_drop(link, "unexpected frame type");
		return -1;
	}
	return link->up == c ? 0 : -1;
}

static void read_conn(struct link_conn *c)
{
	struct link *link = c->link;
	const char *why = NULL;
	int ret = frames_read(&c->frames, handle_frame, c, &why);

	switch (ret) {
	case 0:
		if (c == link->up)
			maybe_ack(link, false);
		conn_flush(c);
		break;
	case -ECANCELED: /* the connection ended in a handler */
		break;
	case -ENOMEM:
		conn_end(c, "out of memory", false);
		break;
	default:
		conn_error(c, ret, why ? why : strerror(-ret));
		break;
	}
}

/* ---- Connecting and accepting ------------------------------------------- */

/* A free slot for a new handshake; when there is none, the oldest of the
 * new connection's own source goes if it already has its share, else the
 * oldest of all. */
static struct link_conn *pending_slot(struct link *link, const char *source)
{
	struct link_conn *free_slot = NULL, *oldest = NULL, *oldest_same = NULL, *victim;
	unsigned int same = 0;
	int i;

	for (i = 0; i < 1 + LINK_MAX_PENDING; i++) {
		struct link_conn *c = &link->conns[i];

		if (c == link->up)
			continue;
		if (c->fd < 0) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		if (!strcmp(c->peer.source, source)) {
			same++;
			if (!oldest_same || c->since_ms < oldest_same->since_ms)
				oldest_same = c;
		}
		if (!oldest || c->since_ms < oldest->since_ms)
			oldest = c;
	}
	if (same >= LINK_PENDING_PER_SOURCE)
		victim = oldest_same;
	else if (free_slot)
		return free_slot;
	else
		victim = oldest;
	if (!victim)
		return NULL;
	link->counters.evicted++;
	relay_log(1, "link %s: handshake with %s dropped for a newer connection", link->cfg->name,
	          victim->peer.name);
	conn_close(victim);
	return victim;
}

static void on_listen_event(struct ev_watcher *w, uint32_t events)
{
	struct link *link = w->ctx;
	const struct transport_ops *t = transport_get(link->cfg->transport);
	struct transport_peer peer;
	struct link_conn *c;
	int fd;

	(void)events;
	memset(&peer, 0, sizeof(peer));
	fd = t->accept(link->listen_fd, &peer);
	if (fd < 0) {
		if (fd != -EAGAIN)
			relay_log(0, "link %s: accept: %s", link->cfg->name, strerror(-fd));
		return;
	}
	if (!peer.source[0])
		snprintf(peer.source, sizeof(peer.source), "%s", "?");
	if (!peer.name[0])
		snprintf(peer.name, sizeof(peer.name), "%s", "?");
	if (lockout_refuses(link, peer.source)) {
		struct link_lockout *l = lockout_find(link, peer.source, false);

		link->counters.refused++;
		if (l && !l->refusal_logged) {
			l->refusal_logged = true;
			relay_log(
			    0,
			    "link %s: refused a connection from %s (locked out for %llu ms more)",
			    link->cfg->name, peer.name,
			    (unsigned long long)(l->until_ms - now_ms()));
		}
		close(fd);
		return;
	}
	c = pending_slot(link, peer.source);
	if (!c) {
		close(fd);
		return;
	}
	relay_log(1, "link %s: connection from %s", link->cfg->name, peer.name);
	conn_take(c, fd, &peer);
	conn_start(c);
}

static void try_connect(struct link *link)
{
	const struct transport_ops *t = transport_get(link->cfg->transport);
	struct link_conn *c = &link->conns[0];
	struct transport_peer peer;
	int fd = t->connect(link->cfg->address);

	if (fd < 0) {
		set_down_reason(link, false, "cannot connect to %s: %s (trying again every %u ms)",
		                link->cfg->address, strerror(-fd), link->env->config->reconnect_ms);
		link->next_attempt_ms = now_ms() + link->env->config->reconnect_ms;
		return;
	}
	memset(&peer, 0, sizeof(peer));
	snprintf(peer.name, sizeof(peer.name), "%.*s", (int)sizeof(peer.name) - 1,
	         link->cfg->address);
	snprintf(peer.source, sizeof(peer.source), "%.*s", (int)sizeof(peer.source) - 1,
	         link->cfg->address);
	conn_take(c, fd, &peer);
	c->connecting = true;
	set_state(link, LINK_CONNECTING);
	conn_watch(c, EPOLLOUT);
}

static void on_connected(struct link_conn *c)
{
	const struct transport_ops *t = transport_get(c->link->cfg->transport);
	int err = 0;
	socklen_t len = sizeof(err);

	if (t->is_socket && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		char why[CONFIG_ADDR_MAX + 64];

		snprintf(why, sizeof(why), "cannot connect to %s: %s", c->link->cfg->address,
		         strerror(err));
		conn_end(c, why, false);
		return;
	}
	conn_start(c);
}

static void on_conn_event(struct ev_watcher *w, uint32_t events)
{
	struct link_conn *c = w->ctx;

	if (c->fd < 0)
		return;
	if (c->connecting) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(c);
		return;
	}
	if (events & EPOLLOUT) {
		conn_flush(c);
		if (c->fd >= 0 && c == c->link->up && c->link->leaf_ops)
			c->link->leaf_ops->writable(c->link->leaf);
		else if (c->fd >= 0 && c == c->link->up)
			pump(c->link);
	}
	if (c->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_conn(c);
}

/* ---- Time --------------------------------------------------------------- */

void link_tick(struct link *link, uint64_t now)
{
	const struct relay_config *config = link->env->config;
	int i;

	if (link->retired || !link->have_creds)
		return;
	/* Serial streams' timed work; handshakes that take too long. */
	for (i = 0; i < 1 + LINK_MAX_PENDING; i++) {
		struct link_conn *c = &link->conns[i];
		int ret;

		if (c->fd < 0 || c->connecting)
			continue;
		if (serial_link(link)) {
			ret = session_tick(&c->session, now);
			if (ret > 0)
				conn_flush(c);
			else if (ret < 0)
				conn_end(c, "cannot start a new handshake", false);
		}
		if (c->fd < 0 || c == link->up || now - c->since_ms <= HANDSHAKE_TIMEOUT_MS)
			continue;
		if (serial_link(link))
			serial_timed_out(c);
		else
			conn_end(c, "handshake timed out", c->session.tls_bytes_seen);
	}
	switch (link->state) {
	case LINK_DOWN:
		if (!link->cfg->listen && now >= link->next_attempt_ms)
			try_connect(link);
		break;
	case LINK_CONNECTING:
	case LINK_HANDSHAKE:
		break;
	case LINK_UP:
		if (now - link->last_rx_ms > 3ull * config->ping_ms + 1000) {
			link_drop(link, "peer silent (no frame for 3 ping intervals)");
			break;
		}
		maybe_ack(link, true);
		flush_out(link);
		if (link->state != LINK_UP)
			break;
		/* One PING every ping_ms, answered or not (an answer does not
		 * bring the next one forward: issue 13). */
		if (now - link->ping_sent_ms >= config->ping_ms) {
			uint8_t payload[8];

			link->ping_token = now ^ (link->env->boot_id << 1) ^ 1;
			link->ping_sent_ms = now;
			link->ping_sent_us = now_us();
			for (int k = 0; k < 8; k++)
				payload[k] = (uint8_t)(link->ping_token >> (8 * k));
			put_frame(link, WIRE_PING, payload, 8, NULL, 0);
			flush_out(link);
		}
		break;
	}
}

/* ---- Set-up and the end ------------------------------------------------- */

/* Our role in the link's sessions. A leaf always initiates (it is the TLS
 * client), whichever end connects, on a serial line too: a leaf's link
 * accepts. A serial link's ends both open the stream: the hvids decide. */
static enum wire_role link_role(const struct link_env *env, const struct config_link *cfg)
{
	if (cfg->leaf[0])
		return WIRE_ROLE_ACCEPTOR;
	if (cfg->transport == TRANSPORT_SERIAL)
		return session_serial_role(env->config->hvid, cfg->peer_hvid);
	return cfg->listen ? WIRE_ROLE_ACCEPTOR : WIRE_ROLE_INITIATOR;
}

/* Adds a file's bytes to a digest. */
static int digest_file(EVP_MD_CTX *md, const char *path)
{
	unsigned char buf[4096];
	FILE *f = fopen(path, "re");
	size_t n;
	int ret = 0;

	if (!f)
		return -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (!EVP_DigestUpdate(md, buf, n))
			ret = -EIO;
	if (ferror(f))
		ret = -EIO;
	fclose(f);
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

int link_creds_digest(const struct link_env *env, const struct config_link *cfg,
                      uint8_t out[LINK_CREDS_DIGEST_SIZE])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ret = 0;

	if (!md)
		return -ENOMEM;
	/* Salted with the relay's boot id: the digest of a key says nothing
	 * outside this process. */
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(md, &env->boot_id, sizeof(env->boot_id)))
		ret = -EIO;
	if (ret == 0 && cfg->cert_file[0]) {
		ret = digest_file(md, cfg->cert_file);
		if (ret == 0)
			ret = digest_file(md, cfg->cert_key_file);
		if (ret == 0)
			ret = digest_file(md, cfg->ca_file);
	} else if (ret == 0 && !EVP_DigestUpdate(md, cfg->psk.key, cfg->psk.len)) {
		ret = -EIO;
	}
	if (ret == 0 && (!EVP_DigestFinal_ex(md, out, &len) || len != LINK_CREDS_DIGEST_SIZE))
		ret = -EIO;
	EVP_MD_CTX_free(md);
	return ret;
}

/* The link's TLS credentials from its configuration (its key, while the
 * configuration still holds it, or its certificates). */
static int make_creds(struct link *link, struct session_creds *creds)
{
	const struct link_env *env = link->env;
	const struct config_link *cfg = link->cfg;
	enum wire_role role = link_role(env, cfg);
	char why[512];
	int ret;

	if (cfg->cert_file[0])
		ret = session_creds_cert(creds, role, env->config->hvid, cfg->peer_hvid,
		                         cfg->cert_file, cfg->cert_key_file, cfg->ca_file, why,
		                         sizeof(why));
	else
		ret = session_creds_psk(creds, role, env->config->hvid, cfg->peer_hvid, &cfg->psk,
		                        why, sizeof(why));
	if (ret < 0) {
		snprintf(link->down_reason, sizeof(link->down_reason), "%.*s",
		         (int)sizeof(link->down_reason) - 1, why);
		relay_log(RELAY_LOG_ERR, "link %s: %s", cfg->name, why);
		return ret;
	}
	creds->serial = cfg->transport == TRANSPORT_SERIAL;
	ret = link_creds_digest(env, cfg, link->creds_digest);
	if (ret < 0) {
		session_creds_fini(creds);
		relay_log(RELAY_LOG_ERR, "link %s: cannot read its credentials again: %s",
		          cfg->name, strerror(-ret));
	}
	return ret;
}

static void describe_peer(struct link *link)
{
	snprintf(link->peer_desc, sizeof(link->peer_desc), "%s %s",
	         transport_name(link->cfg->transport), link->cfg->address);
}

/* A listening link's listener (a no-op for one that connects). */
static int start_listening(struct link *link)
{
	const struct config_link *cfg = link->cfg;
	const struct transport_ops *t = transport_get(cfg->transport);
	int fd;

	if (!cfg->listen)
		return 0;
	fd = t->listen(cfg->address);
	if (fd < 0) {
		snprintf(link->down_reason, sizeof(link->down_reason), "cannot listen on %s: %s",
		         cfg->address, strerror(-fd));
		relay_log(RELAY_LOG_ERR, "link %s: %s", cfg->name, link->down_reason);
		return fd;
	}
	link->listen_fd = fd;
	if (!link->down_reason[0])
		snprintf(link->down_reason, sizeof(link->down_reason),
		         "listening on %s; %s has not connected yet", cfg->address, cfg->peer_hvid);
	return ev_watch(link->env->loop, &link->listen_watch, fd, EPOLLIN);
}

int link_init(struct link *link, const struct link_env *env, const struct config_link *cfg,
              int index)
{
	/* A peer's window: the bound shared by every link and our own rings. */
	uint64_t window = env->config->queue_bytes / (uint64_t)(env->config->nlinks + 1);
	int ret, i;

	memset(link, 0, sizeof(*link));
	link->env = env;
	link->cfg = cfg;
	link->index = index;
	link->listen_fd = -1;
	for (i = 0; i < 1 + LINK_MAX_PENDING; i++) {
		link->conns[i].link = link;
		link->conns[i].fd = -1;
		ev_watcher_init(&link->conns[i].watch, on_conn_event, &link->conns[i]);
		frames_init(&link->conns[i].frames);
	}
	ev_watcher_init(&link->listen_watch, on_listen_event, link);
	ret = make_creds(link, &link->creds);
	if (ret < 0)
		return ret;
	link->have_creds = true;
	ret = stream_init(&link->stream, env->account, window);
	if (ret < 0)
		return ret;
	set_state(link, LINK_DOWN);
	describe_peer(link);
	return start_listening(link);
}

/* Tells an up peer why we close (a CLOSE frame), as far as the connection
 * takes it now. */
static void send_close(struct link *link, const char *why)
{
	uint8_t payload[64];
	int n;

	if (!link->up || link->state != LINK_UP)
		return;
	n = wire_put_close(payload, sizeof(payload), 1, why);
	if (n > 0) {
		put_frame(link, WIRE_CLOSE, payload, (uint32_t)n, NULL, 0);
		flush_out(link);
	}
}

/* Every connection and the listener closed; the stream stays. */
static void close_all(struct link *link)
{
	int i;

	for (i = 0; i < 1 + LINK_MAX_PENDING; i++)
		conn_close(&link->conns[i]);
	link->up = NULL;
	if (link->listen_fd >= 0) {
		ev_unwatch(link->env->loop, &link->listen_watch);
		close(link->listen_fd);
		link->listen_fd = -1;
	}
}

void link_fini(struct link *link)
{
	int i;

	send_close(link, "relay shutting down");
	close_all(link);
	for (i = 0; i < 1 + LINK_MAX_PENDING; i++)
		frames_fini(&link->conns[i].frames);
	stream_fini(&link->stream);
	free(link->held_reports);
	link->held_reports = NULL;
	link->nheld_reports = link->held_reports_cap = 0;
	if (link->have_creds)
		session_creds_fini(&link->creds);
	link->have_creds = false;
}

/* ---- Reconfiguration (SIGHUP, argo-relayctl reload: relay/reload.c) ------ */

void link_stop(struct link *link, const char *why)
{
	send_close(link, why);
	if (link->up || (!link->cfg->listen && link->conns[0].fd >= 0))
		link_drop(link, why);
	close_all(link);
	set_state(link, LINK_DOWN);
}

int link_start(struct link *link)
{
	uint8_t digest[LINK_CREDS_DIGEST_SIZE];
	int ret;

	link->consecutive_failures = 0;
	memset(link->lockout, 0, sizeof(link->lockout));
	link->next_attempt_ms = 0; /* a link that connects does at the next tick */
	link->down_reason[0] = '\0';
	link->auth_failure_said = 0;
	describe_peer(link);
	/* New credentials when its key or certificates changed. Made in
	 * place (the TLS context points at them), which no connection minds
	 * now: link_stop() closed them all. Without any, the link stays
	 * down (link_tick() and the listener want them). */
	memcpy(digest, link->creds_digest, sizeof(digest));
	if (!link->have_creds || link_creds_digest(link->env, link->cfg, link->creds_digest) < 0 ||
	    memcmp(digest, link->creds_digest, sizeof(digest))) {
		if (link->have_creds)
			session_creds_fini(&link->creds);
		link->have_creds = false;
		ret = make_creds(link, &link->creds);
		if (ret < 0)
			return ret;
		link->have_creds = true;
		relay_log(0, "link %s: new TLS credentials (%s)", link->cfg->name,
		          link->cfg->cert_file[0] ? "certificates" : "key");
	}
	return start_listening(link);
}

void link_retire(struct link *link, struct msg_queue *out)
{
	struct msg_queue given = {0};
	struct msg *msg;

	link_stop(link, "link removed from the configuration");
	stream_give_back(&link->stream, &given);
	while ((msg = msg_queue_pop(&given))) {
		/* The msn it came with (see msg.h), not the one this link gave
		 * it: what an UNDELIVERABLE answering it names. */
		msg->msn = msg->source_ops == &link_source ? msg->source_seq : 0;
		msg_queue_push(out, msg);
	}
	link->retired = true;
}

bool link_reusable(const struct link *link)
{
	return link->retired && link->stream.held_from_peer == 0 && link->stream.unacked.count == 0;
}

void link_frames_counters(const struct link *link, struct frames_counters *out)
{
	int i;

	*out = link->frames_done;
	for (i = 0; i < 1 + LINK_MAX_PENDING; i++) {
		const struct frames_counters *f = &link->conns[i].frames.counters;

		out->frames_tx += f->frames_tx;
		out->frames_rx += f->frames_rx;
		out->bytes_tx += f->bytes_tx;
		out->bytes_rx += f->bytes_rx;
	}
}

void link_serial_counters(const struct link *link, struct session_serial_counters *out)
{
	int i;

	*out = link->serial_done;
	for (i = 0; i < 1 + LINK_MAX_PENDING; i++)
		if (link->conns[i].fd >= 0)
			serial_counters_add(out, &link->conns[i].session.serial.counters);
}

unsigned int link_pending(const struct link *link)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < 1 + LINK_MAX_PENDING; i++)
		if (link->conns[i].fd >= 0 && &link->conns[i] != link->up)
			n++;
	return n;
}
