/* SPDX-License-Identifier: MIT */
/*
 * One link of this relay (link.h): the connection and its lifecycle, the
 * frames in and out, and the relay's rules for them. The protocol's layers
 * are in common/link: session.c (handshake, keys), frames.c (framing),
 * stream.c (msn, acknowledgements, credit, resume). docs/protocol.md is the
 * wire format; docs/relay-design.md, "Order, acknowledgement,
 * retransmission", says why the stream works as it does.
 */
#define _GNU_SOURCE
#include "link.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "transport.h"

#define HANDSHAKE_TIMEOUT_MS 5000
/* How often a serial link says HELLO again while it waits for the peer's. */
#define HELLO_RESEND_MS 500
#define OUT_HIGH_WATER  (1u << 20) /* stop encoding DATA beyond this backlog */
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
	static const char *const names[] = {"down", "connecting", "hello", "auth", "up"};

	return state <= LINK_UP ? names[state] : "?";
}

static void link_drop(struct link *link, const char *why);

/* ---- Output ------------------------------------------------------------- */

/* (Re)arms the connection's events; a no-op when they do not change. */
static void watch(struct link *link, uint32_t events)
{
	if (link->frames.fd >= 0)
		ev_watch(link->env->loop, &link->conn_watch, link->frames.fd, events);
}

/* Writes what the connection takes; watches for EPOLLOUT when it takes
 * less. */
static void flush_out(struct link *link)
{
	int ret;

	if (link->frames.fd < 0)
		return;
	ret = frames_flush(&link->frames);
	if (ret == -EAGAIN)
		watch(link, EPOLLIN | EPOLLOUT);
	else if (ret < 0)
		link_drop(link, strerror(-ret));
	else
		watch(link, EPOLLIN);
}

static int put_frame(struct link *link, uint8_t type, const void *p1, uint32_t l1, const void *p2,
                     uint32_t l2)
{
	return frames_put(&link->frames, &link->session, type, p1, l1, p2, l2);
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

	if (link->state != LINK_UP)
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
	return link->state == LINK_UP && stream_ack_owed(&link->stream);
}

void link_ack_now(struct link *link)
{
	if (link->state == LINK_UP) {
		maybe_ack(link, true);
		flush_out(link);
	}
}

/* Custody of a message received on this link: done, it may be
 * acknowledged; let go, the peer keeps it and sends it again. */
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

static const struct msg_source_ops link_source = {
    .done = link_msg_done,
    .release = link_msg_release,
};

/* ---- Sending ------------------------------------------------------------ */

/* Sends what credit and the output backlog allow. */
static void pump(struct link *link)
{
	struct msg *msg;

	if (link->state != LINK_UP || link->frames.fd < 0)
		return;
	while ((msg = stream_next(&link->stream)) &&
	       frames_backlog(&link->frames) < OUT_HIGH_WATER) {
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

	stream_queue(&link->stream, msg);
	pump(link);
}

/* May another message be read from a local ring for this link now? (One
 * may overshoot the credit left: see stream_next().) */
static bool can_take(const void *end)
{
	const struct link *link = end;

	return link->state == LINK_UP && stream_can_take(&link->stream);
}

static void send_undeliverable(void *end, const struct wire_undeliverable *u)
{
	struct link *link = end;
	uint8_t out[WIRE_UNDELIVERABLE_SIZE];

	/* msn 0 (a message read from our own fabric) means nothing to the
	 * peer: the encoder refuses it. */
	if (link->state != LINK_UP || wire_put_undeliverable(out, sizeof(out), u) < 0)
		return;
	put_frame(link, WIRE_UNDELIVERABLE, out, sizeof(out), NULL, 0);
	flush_out(link);
}

static bool is_up(const void *end)
{
	const struct link *link = end;

	return link->state == LINK_UP;
}

static const struct relay_end_ops link_end_ops = {
    .send = enqueue,
    .can_take = can_take,
    .report = send_undeliverable,
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

	if (link->state != LINK_UP)
		return;
	n = router_announcement(link->env->router, link->index, routes, WIRE_MAX_ROUTES);
	len = wire_put_routes(payload, sizeof(payload), routes, n);
	if (len < 0)
		return;
	put_frame(link, WIRE_ROUTES, payload, (uint32_t)len, NULL, 0);
	flush_out(link);
}

/* ---- Sessions ----------------------------------------------------------- */

static void set_state(struct link *link, enum link_state state)
{
	link->state = state;
	link->state_since_ms = now_ms();
}

/* The session's state goes (keys wiped); the stream stays. */
static void end_session(struct link *link)
{
	session_end(&link->session);
	stream_new_session(&link->stream);
	link->ping_token = 0;
}

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
 * level once until the link comes up (then with -v), with what to check. */
static void auth_failed(struct link *link)
{
	link->counters.auth_failures++;
	link->consecutive_auth_failures++;
	if (!link->auth_failure_said++)
		relay_log(0,
		          "link %s: authentication failed with %s: the two ends do not hold the "
		          "same key for this link (check 'key' at both ends; also that the peer "
		          "is %s); said again only with -v, counted in auth failures",
		          link->cfg->name, link->peer_desc, link->cfg->peer_hvid);
}

static void link_drop(struct link *link, const char *why)
{
	const struct relay_config *config = link->env->config;
	bool was_up = link->state == LINK_UP;

	if (link->frames.fd >= 0) {
		ev_unwatch(link->env->loop, &link->conn_watch);
		close(link->frames.fd);
	}
	frames_detach(&link->frames);
	set_down_reason(link, was_up, "%s%s", was_up ? "session ended: " : "", why);
	end_session(link);
	set_state(link, LINK_DOWN);
	if (link->consecutive_auth_failures >= config->max_auth_failures) {
		relay_log(
		    0, "link %s: %u authentication failures in a row: reset, next try in %u ms",
		    link->cfg->name, link->consecutive_auth_failures, config->reset_backoff_ms);
		link->counters.resets++;
		link->consecutive_auth_failures = 0;
		link->next_attempt_ms = now_ms() + config->reset_backoff_ms;
		/* A listening end backs off too: it refuses connections meanwhile. */
		link->refuse_until_ms = link->next_attempt_ms;
	} else {
		link->next_attempt_ms = now_ms() + config->reconnect_ms;
	}
	if (was_up)
		router_link_down(link->env->router, link->index);
}

/*
 * Serial links (a virtio-serial port, a pty, a UART) are byte streams
 * without connections: both ends open their end ("connect"), neither sees
 * the other start or stop, and what one writes while the other side is
 * away (a QEMU chardev with nobody connected) is lost. So on a serial link
 * (docs/relay-design.md, "Serial links"):
 * - both ends may claim the initiator's role, and a new HELLO in the
 *   middle of a session means the peer started afresh: the session layer
 *   says so (session.h, no_connections), and we start afresh with it on
 *   the same stream (restart_session());
 * - HELLO goes out again every HELLO_RESEND_MS until the peer's comes;
 * - frames during the handshake that the session cannot open are left of
 *   an earlier session: skipped and counted (stale_frames); an AUTH among
 *   them counts as a wrong key only if the handshake then times out;
 * - bytes that start no frame are skipped (frames.h, resync).
 * Every other transport has connections, and keeps the strict rules.
 */
static bool no_connections(const struct link *link)
{
	return link->cfg->transport == TRANSPORT_SERIAL;
}

static void send_hello(struct link *link)
{
	uint8_t payload[WIRE_HELLO_SIZE];

	if (session_hello(&link->session, payload) < 0) {
		link_drop(link, "cannot encode our HELLO");
		return;
	}
	link->hello_sent_ms = now_ms();
	put_frame(link, WIRE_HELLO, payload, WIRE_HELLO_SIZE, NULL, 0);
	flush_out(link);
}

/* A new session on the connection frames.fd (what is buffered stays). */
static void begin_session(struct link *link, enum wire_role role)
{
	uint8_t payload[WIRE_HELLO_SIZE];
	struct wire_hello hello = {0};
	const char *why = NULL;

	end_session(link);
	memcpy(hello.hvid, link->env->config->hvid, WIRE_HVID_SIZE);
	hello.boot_id = link->env->boot_id;
	stream_hello(&link->stream, &hello);
	if (session_start(&link->session, role, &link->cfg->psk, link->cfg->peer_hvid, &hello,
	                  payload, &why) < 0) {
		link_drop(link, why);
		return;
	}
	set_state(link, LINK_HELLO);
	link->auth_failed = false;
	link->last_rx_ms = now_ms();
	watch(link, EPOLLIN);
	send_hello(link);
}

static void start_session(struct link *link, int fd, enum wire_role role)
{
	frames_attach(&link->frames, fd);
	begin_session(link, role);
}

/* A serial link's peer started a new session: so do we, on the same
 * stream, keeping the bytes already read (the rest of what the peer sent
 * after its HELLO). What we had written of the old session still goes
 * out: the peer skips it as stale. */
static void restart_session(struct link *link)
{
	bool was_up = link->state == LINK_UP;

	relay_log(0, "link %s: %speer started a new session on the stream; starting ours again",
	          link->cfg->name, was_up ? "session ended: " : "");
	link->counters.restarts++;
	begin_session(link, link->cfg->listen ? WIRE_ROLE_ACCEPTOR : WIRE_ROLE_INITIATOR);
	if (was_up && link->frames.fd >= 0)
		router_link_down(link->env->router, link->index);
}

static void on_hello(struct link *link, const uint8_t *payload, uint32_t len)
{
	uint8_t proof[WIRE_MAC_SIZE];
	const char *why = NULL;
	int ret = session_on_hello(&link->session, payload, len, proof, &why);

	if (ret == -EALREADY)
		return; /* the peer's HELLO again: it had not heard ours yet */
	if (ret == -ECONNRESET) {
		restart_session(link);
		if (link->frames.fd < 0)
			return;
		ret = session_on_hello(&link->session, payload, len, proof, &why);
	}
	if (ret == -EBADMSG)
		link->counters.drop_malformed++;
	if (ret == -EACCES)
		relay_log(0, "link %s: peer says it is '%s', expected '%s'", link->cfg->name,
		          link->session.peer.hvid, link->cfg->peer_hvid);
	if (ret < 0) {
		link_drop(link, why);
		return;
	}
	/* What the peer says of our stream is acted on only once AUTH has
	 * proved it holds the key (on_auth): an unauthenticated HELLO must
	 * not make us free or renumber anything. */
	set_state(link, LINK_AUTH);
	put_frame(link, WIRE_AUTH, proof, WIRE_MAC_SIZE, NULL, 0);
	flush_out(link);
}

static void on_auth(struct link *link, const uint8_t *payload, uint32_t len)
{
	if (session_on_auth(&link->session, payload, len) < 0) {
		auth_failed(link);
		link_drop(link, "authentication failed (wrong key?)");
		return;
	}
	link->consecutive_auth_failures = 0;
	link->counters.sessions++;
	/* The peer's HELLO, now authenticated, tells what it holds of ours. */
	stream_resume(&link->stream, &link->session.peer);
	set_state(link, LINK_UP);
	link->down_reason[0] = '\0';
	link->auth_failure_said = 0;
	relay_log(0, "link %s: up with %s (%s), resuming at msn %llu", link->cfg->name,
	          link->session.peer.hvid, link->peer_desc,
	          (unsigned long long)link->stream.next_msn);
	link_send_routes(link);
	maybe_ack(link, true);
	pump(link);
	router_room(link->env->router);
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
	msg = ret < 0 ? NULL : msg_new(link->env->account, data->length);
	if (!msg) {
		link_drop(link, "out of memory");
		return;
	}
	stream_rx_accept(&link->stream, data->msn, data->length);
	msg_hold(msg, &link_source, link, data->msn);

	/* The true source cannot be forged by a neighbour: it must be the
	 * peer's own hvid or one we route through this very link. */
	if (strcmp(data->src.hvid, link->session.peer.hvid) != 0 &&
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
	if (link->frames.fd >= 0)
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
	uint32_t n;

	if (wire_parse_routes(payload, len, routes, &n, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	router_learn(link->env->router, link->index, routes, n);
}

static void on_undeliverable(struct link *link, const uint8_t *payload, uint32_t len)
{
	struct wire_undeliverable u;
	const char *why = NULL;

	if (wire_parse_undeliverable(payload, len, &u, &why) < 0) {
		link->counters.drop_malformed++;
		link_drop(link, why);
		return;
	}
	router_report(link->env->router, &u, link->index);
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

/* One whole frame (frames_handler): checked by the session, then by type.
 * Returns < 0 when the connection ended. */
static int handle_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	struct link *link = ctx;
	const uint8_t *payload = frame + WIRE_HEADER_SIZE;
	struct wire_close close_msg;
	const char *why = NULL;
	int ret;

	link->last_rx_ms = now_ms();
	if (hdr->type == WIRE_HELLO) {
		on_hello(link, payload, hdr->length);
		return link->frames.fd >= 0 ? 0 : -1;
	}
	ret = session_open(&link->session, hdr, frame, &why);
	if ((ret == -ENOTCONN || ret == -EBADMSG) && link->state != LINK_UP &&
	    no_connections(link)) {
		/* Before the keys, or not under them: left of an earlier
		 * session. An AUTH may also be a wrong key: told apart when the
		 * handshake times out. */
		link->counters.stale_frames++;
		if (ret == -EBADMSG && hdr->type == WIRE_AUTH)
			link->auth_failed = true;
		return 0;
	}
	if (ret == -ENOTCONN) {
		link->counters.drop_malformed++;
	} else if (ret == -EBADMSG) {
		link->counters.drop_mac++;
		if (link->state == LINK_AUTH)
			auth_failed(link);
	} else if (ret == -EPROTO) {
		link->counters.drop_seq++;
	}
	if (ret < 0) {
		link_drop(link, why);
		return -1;
	}
	if (hdr->type == WIRE_AUTH) {
		on_auth(link, payload, hdr->length);
		return link->frames.fd >= 0 ? 0 : -1;
	}
	if (link->state != LINK_UP) {
		link_drop(link, "frame before authentication completed");
		return -1;
	}
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
		link->counters.drop_malformed++;
		link_drop(link, "unexpected frame type");
		return -1;
	}
	return link->frames.fd >= 0 ? 0 : -1;
}

static void read_frames(struct link *link)
{
	const char *why = NULL;
	int ret = frames_read(&link->frames, handle_frame, link, &why);

	switch (ret) {
	case 0:
		maybe_ack(link, false);
		flush_out(link);
		break;
	case -ECANCELED: /* the session ended in a handler */
		break;
	case -ECONNRESET:
		link_drop(link, "connection closed");
		break;
	case -EBADMSG:
		link->counters.drop_malformed++;
		relay_log(0, "link %s: malformed frame: %s", link->cfg->name, why);
		link_drop(link, "malformed frame");
		break;
	case -ENOMEM:
		link_drop(link, "out of memory");
		break;
	default:
		link_drop(link, strerror(-ret));
		break;
	}
}

/* ---- Connections -------------------------------------------------------- */

static void describe_peer(struct link *link)
{
	snprintf(link->peer_desc, sizeof(link->peer_desc), "%s %s",
	         transport_name(link->cfg->transport), link->cfg->address);
}

static void on_listen_event(struct ev_watcher *w, uint32_t events)
{
	struct link *link = w->ctx;
	const struct transport_ops *t = transport_get(link->cfg->transport);
	int fd = t->accept(link->listen_fd);

	(void)events;
	if (fd < 0) {
		if (fd != -EAGAIN)
			relay_log(0, "link %s: accept: %s", link->cfg->name, strerror(-fd));
		return;
	}
	if (now_ms() < link->refuse_until_ms) {
		close(fd);
		return;
	}
	/* A new connection means the peer started over: it replaces ours. */
	if (link->frames.fd >= 0)
		link_drop(link, "replaced by a new connection from the peer");
	describe_peer(link);
	start_session(link, fd, WIRE_ROLE_ACCEPTOR);
}

static void try_connect(struct link *link)
{
	const struct transport_ops *t = transport_get(link->cfg->transport);
	int fd = t->connect(link->cfg->address);

	if (fd < 0) {
		set_down_reason(link, false, "cannot connect to %s: %s (trying again every %u ms)",
		                link->cfg->address, strerror(-fd), link->env->config->reconnect_ms);
		link->next_attempt_ms = now_ms() + link->env->config->reconnect_ms;
		return;
	}
	describe_peer(link);
	frames_attach(&link->frames, fd);
	set_state(link, LINK_CONNECTING);
	watch(link, EPOLLOUT);
}

static void on_connected(struct link *link)
{
	const struct transport_ops *t = transport_get(link->cfg->transport);
	int err = 0, fd = link->frames.fd;
	socklen_t len = sizeof(err);

	if (t->is_socket && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		char why[CONFIG_ADDR_MAX + 64];

		snprintf(why, sizeof(why), "cannot connect to %s: %s", link->cfg->address,
		         strerror(err));
		link_drop(link, why);
		return;
	}
	start_session(link, fd, WIRE_ROLE_INITIATOR);
}

static void on_conn_event(struct ev_watcher *w, uint32_t events)
{
	struct link *link = w->ctx;

	if (link->state == LINK_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(link);
		return;
	}
	if (events & EPOLLOUT) {
		flush_out(link);
		pump(link);
	}
	if (link->frames.fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_frames(link);
}

void link_tick(struct link *link, uint64_t now)
{
	const struct relay_config *config = link->env->config;

	if (link->retired)
		return;

	switch (link->state) {
	case LINK_DOWN:
		if (!link->cfg->listen && now >= link->next_attempt_ms)
			try_connect(link);
		break;
	case LINK_CONNECTING:
	case LINK_HELLO:
	case LINK_AUTH:
		if (now - link->state_since_ms > HANDSHAKE_TIMEOUT_MS && link->auth_failed) {
			link->counters.drop_mac++;
			auth_failed(link);
			link_drop(link,
			          "handshake timed out after an AUTH that failed (wrong key?)");
		} else if (now - link->state_since_ms > HANDSHAKE_TIMEOUT_MS) {
			link_drop(link, "handshake timed out");
		} else if (link->state == LINK_HELLO && no_connections(link) &&
		           now - link->hello_sent_ms >= HELLO_RESEND_MS) {
			send_hello(link);
		}
		break;
	case LINK_UP:
		if (now - link->last_rx_ms > 3ull * config->ping_ms + 1000) {
			link_drop(link, "peer silent (no frame for 3 ping intervals)");
			break;
		}
		maybe_ack(link, true);
		flush_out(link);
		if (link->frames.fd < 0)
			break;
		/* One PING every ping_ms, answered or not (an answer does not
		 * bring the next one forward: issue 13). */
		if (now - link->ping_sent_ms >= config->ping_ms) {
			uint8_t payload[8];

			link->ping_token = now ^ (link->env->boot_id << 1) ^ 1;
			link->ping_sent_ms = now;
			link->ping_sent_us = now_us();
			for (int i = 0; i < 8; i++)
				payload[i] = (uint8_t)(link->ping_token >> (8 * i));
			put_frame(link, WIRE_PING, payload, 8, NULL, 0);
			flush_out(link);
		}
		break;
	}
}

/* A listening link's listener (a no-op for one that connects). */
static int start_listening(struct link *link)
{
	const struct config_link *cfg = link->cfg;
	const struct transport_ops *t = transport_get(cfg->transport);
	int fd, ret;

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
	ret = ev_watch(link->env->loop, &link->listen_watch, fd, EPOLLIN);
	return ret;
}

int link_init(struct link *link, const struct link_env *env, const struct config_link *cfg,
              int index)
{
	/* A peer's window: the bound shared by every link and our own rings. */
	uint64_t window = env->config->queue_bytes / (uint64_t)(env->config->nlinks + 1);
	int ret;

	memset(link, 0, sizeof(*link));
	link->env = env;
	link->cfg = cfg;
	link->index = index;
	link->listen_fd = -1;
	ev_watcher_init(&link->conn_watch, on_conn_event, link);
	ev_watcher_init(&link->listen_watch, on_listen_event, link);
	frames_init(&link->frames);
	link->frames.resync = no_connections(link);
	link->session.no_connections = no_connections(link);
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

	if (link->frames.fd < 0 || link->state != LINK_UP)
		return;
	n = wire_put_close(payload, sizeof(payload), 1, why);
	if (n > 0) {
		put_frame(link, WIRE_CLOSE, payload, (uint32_t)n, NULL, 0);
		flush_out(link);
	}
}

void link_fini(struct link *link)
{
	if (link->frames.fd >= 0) {
		send_close(link, "relay shutting down");
		if (link->frames.fd >= 0) {
			ev_unwatch(link->env->loop, &link->conn_watch);
			close(link->frames.fd);
		}
	}
	if (link->listen_fd >= 0) {
		ev_unwatch(link->env->loop, &link->listen_watch);
		close(link->listen_fd);
	}
	stream_fini(&link->stream);
	frames_fini(&link->frames);
	session_end(&link->session);
}

/* ---- Reconfiguration (SIGHUP, argo-relayctl reload: relay/reload.c) ------ */

void link_stop(struct link *link, const char *why)
{
	if (link->frames.fd >= 0) {
		send_close(link, why);
		if (link->frames.fd >= 0)
			link_drop(link, why);
	}
	if (link->listen_fd >= 0) {
		ev_unwatch(link->env->loop, &link->listen_watch);
		close(link->listen_fd);
		link->listen_fd = -1;
	}
	set_state(link, LINK_DOWN);
}

int link_start(struct link *link)
{
	link->consecutive_auth_failures = 0;
	link->refuse_until_ms = 0;
	link->next_attempt_ms = 0; /* a link that connects does at the next tick */
	link->frames.resync = no_connections(link);
	link->session.no_connections = no_connections(link);
	describe_peer(link);
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
