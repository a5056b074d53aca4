/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd: forwards Argo messages between its fabric and other relays.
 *
 *   argo-relayd [-v] CONFIG            run
 *   argo-relayd --check-config CONFIG  validate and exit (0 valid, 2 not)
 *
 * Stages, as in OpenBSD's relayd: the configuration is read and checked in
 * full first (config.c); then the fabric, the links and the control socket
 * are set up; then privileges are dropped (config 'user'); then the event
 * loop runs until SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "argo/routed.h"
#include "relay.h"

#define TICK_MS 50
/* How long an acknowledgement may wait for others to join it (or for DATA
 * going the other way to carry it). The sender keeps a message in its ring
 * until the ack reaches it, so this bounds how long a quiet stream holds
 * ring space; busy streams are acknowledged every 64 messages or 16 KiB
 * (link.c). The deadline is the epoll_wait time-out: no timer to arm, and
 * it is dropped when DATA going the other way carried every ACK owed. */
#define ACK_DELAY_MS 1

int relay_verbose;
static int epoll_fd = -1;
static struct relay the_relay;
static int signal_fd = -1, timer_fd = -1;
static uint64_t ack_deadline_ms; /* 0: no acknowledgement is waiting */

/* epoll tags that are not links. */
static char tag_fabric, tag_signal, tag_timer, tag_control;

void relay_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > relay_verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "argo-relayd[%s]: ", the_relay.config ? the_relay.config->hvid : "-");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void relay_watch(struct relay *relay, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = {.events = events, .data.ptr = tag};

	(void)relay;
	/* Links re-arm their fd often: MOD first, ADD when it is new. */
	if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void relay_unwatch(struct relay *relay, int fd)
{
	(void)relay;
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

void relay_ack_soon(struct relay *relay)
{
	(void)relay;
	if (!ack_deadline_ms)
		ack_deadline_ms = now_ms() + ACK_DELAY_MS;
}

/* The epoll_wait time-out: until the acknowledgement deadline, if any. */
static int ack_wait_ms(struct relay *relay)
{
	uint64_t now;
	int i;

	if (ack_deadline_ms) {
		for (i = 0; i < relay->nlinks && !link_ack_owed(&relay->links[i]); i++)
			;
		if (i == relay->nlinks)
			ack_deadline_ms = 0;
	}
	if (!ack_deadline_ms)
		return -1;
	now = now_ms();
	return now >= ack_deadline_ms ? 0 : (int)(ack_deadline_ms - now);
}

static void send_due_acks(struct relay *relay)
{
	int i;

	if (!ack_deadline_ms || now_ms() < ack_deadline_ms)
		return;
	ack_deadline_ms = 0;
	for (i = 0; i < relay->nlinks; i++)
		link_ack_now(&relay->links[i]);
}

/* ---- Messages ----------------------------------------------------------- */

struct relay_msg *msg_new(struct relay *relay, uint32_t len)
{
	struct relay_msg *msg = malloc(sizeof(*msg) + len);

	if (!msg)
		return NULL;
	memset(msg, 0, sizeof(*msg));
	msg->len = len;
	msg->from_link = -1;
	msg->from_port = -1;
	relay->held_bytes += len;
	if (relay->held_bytes > relay->held_peak)
		relay->held_peak = relay->held_bytes;
	return msg;
}

void msg_free(struct relay *relay, struct relay_msg *msg)
{
	bool was_full = relay->held_bytes >= relay->config->queue_bytes;

	relay->held_bytes -= msg->len;
	free(msg);
	/* Below the bound again: every link may grant credit again, and its
	 * peer may be waiting for exactly that. */
	if (was_full && relay->held_bytes < relay->config->queue_bytes)
		relay_ack_soon(relay);
}

void msg_done(struct relay *relay, struct relay_msg *msg)
{
	int from_link = msg->from_link, from_port = msg->from_port;
	uint64_t in_msn = msg->in_msn;
	uint32_t len = msg->len, index = msg->origin.index;

	/* Freed first: the grant link_rx_done() may send counts the room. */
	msg_free(relay, msg);
	if (from_link >= 0)
		link_rx_done(&relay->links[from_link], in_msn, len);
	if (from_port >= 0)
		local_port_done(relay, from_port, index);
}

void queue_push(struct msg_queue *q, struct relay_msg *msg)
{
	msg->next = NULL;
	if (q->tail)
		q->tail->next = msg;
	else
		q->head = msg;
	q->tail = msg;
	q->bytes += msg->len;
	q->count++;
}

struct relay_msg *queue_pop(struct msg_queue *q)
{
	struct relay_msg *msg = q->head;

	if (!msg)
		return NULL;
	q->head = msg->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= msg->len;
	q->count--;
	msg->next = NULL;
	return msg;
}

/* ---- Routing ------------------------------------------------------------ */

void relay_route(struct relay *relay, struct relay_msg *msg)
{
	int link;

	/* The reserved type is the relays' own word (undeliverable reports):
	 * nobody may send it on, or a guest could forge such reports. */
	if (msg->message_type == ARGO_MSGTYPE_UNDELIVERABLE) {
		relay_undeliverable(relay, msg, EINVAL);
		return;
	}
	if (strcmp(msg->dst.hvid, relay->config->hvid) == 0) {
		local_deliver(relay, msg);
		return;
	}
	/* Each relay applies its own policy, whatever its neighbours decided. */
	if (!config_policy_allows(relay->config, &msg->src, &msg->dst)) {
		relay_undeliverable(relay, msg, EACCES);
		return;
	}
	link = routes_lookup(relay, msg->dst.hvid);
	if (link < 0) {
		relay_undeliverable(relay, msg, EHOSTUNREACH);
		return;
	}
	link_enqueue(&relay->links[link], msg);
}

static const char *cause_name(int error, int *bit, uint64_t **counter, struct relay *relay)
{
	switch (error) {
	case ECONNREFUSED:
		*bit = 0;
		*counter = &relay->counters.undeliverable_noring;
		return "no ring at the destination";
	case EMSGSIZE:
		*bit = 1;
		*counter = &relay->counters.undeliverable_msgsize;
		return "message too large for the destination ring";
	case EACCES:
		*bit = 2;
		*counter = &relay->counters.undeliverable_policy;
		return "denied by policy";
	case EHOSTUNREACH:
		*bit = 3;
		*counter = &relay->counters.undeliverable_unreachable;
		return "no route to the destination hvid";
	default:
		*bit = 4;
		*counter = &relay->counters.undeliverable_other;
		return strerror(error);
	}
}

void relay_undeliverable(struct relay *relay, struct relay_msg *msg, int error)
{
	uint64_t *counter;
	const char *why;
	int bit, link;

	why = cause_name(error, &bit, &counter, relay);
	(*counter)++;
	if (!(relay->logged_causes & (1u << bit))) {
		relay->logged_causes |= 1u << bit;
		relay_log(0, "undeliverable: %s:%u:%u -> %s:%u:%u: %s (logged once per cause)",
		          msg->src.hvid, msg->src.domid, msg->src.port, msg->dst.hvid,
		          msg->dst.domid, msg->dst.port, why);
	}
	if (strcmp(msg->src.hvid, relay->config->hvid) == 0) {
		struct wire_undeliverable u = {.msn = msg->msn,
		                               .src = msg->src,
		                               .dst = msg->dst,
		                               .error = (uint32_t)error,
		                               .flags = msg->routed ? WIRE_DATA_ROUTED : 0};

		local_report_undeliverable(relay, &u);
	} else {
		link = routes_lookup(relay, msg->src.hvid);
		if (link >= 0)
			link_send_undeliverable(&relay->links[link], msg, error);
	}
	msg_done(relay, msg);
}

/* ---- Start-up and the loop ---------------------------------------------- */

static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return -ENOENT;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return -errno;
	return 0;
}

static int setup(struct relay *relay)
{
	struct itimerspec tick = {
	    .it_interval = {.tv_nsec = TICK_MS * 1000000L},
	    .it_value = {.tv_nsec = TICK_MS * 1000000L},
	};
	sigset_t mask;
	unsigned int i;
	int ret;

	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0)
		return -errno;
	if (auth_random(&relay->boot_id, sizeof(relay->boot_id)) < 0)
		return -EIO;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (signal_fd < 0 || timer_fd < 0 || timerfd_settime(timer_fd, 0, &tick, NULL) < 0)
		return -errno;
	relay_watch(relay, signal_fd, EPOLLIN, &tag_signal);
	relay_watch(relay, timer_fd, EPOLLIN, &tag_timer);

	ret = argo_open(relay->config->fabric, &relay->fabric);
	if (ret < 0) {
		relay_log(0, "cannot open fabric %s: %s", relay->config->fabric,
		          argo_strerror(ret));
		return ret;
	}
	relay->domid = argo_domid(relay->fabric);
	relay_watch(relay, argo_event_fd(relay->fabric), EPOLLIN, &tag_fabric);

	relay->nlinks = (int)relay->config->nlinks;
	for (i = 0; i < relay->config->nlinks; i++) {
		ret = link_init(relay, &relay->links[i], &relay->config->links[i], (int)i);
		if (ret < 0)
			return ret;
	}
	routes_init(relay);
	ret = dedup_open(relay);
	if (ret < 0)
		return ret;
	ret = local_init(relay);
	if (ret < 0)
		return ret;
	ret = control_init(relay);
	if (ret < 0)
		return ret;
	relay_watch(relay, control_listen_fd, EPOLLIN, &tag_control);
	return 0;
}

static void on_tick(struct relay *relay)
{
	uint64_t now = now_ms(), expirations;
	int i;

	if (read(timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		relay_log(0, "timer: %s", strerror(errno));
	for (i = 0; i < relay->nlinks; i++)
		link_tick(&relay->links[i], now);
	local_tick(relay);
}

static void run(struct relay *relay)
{
	struct epoll_event events[64];
	int n, i;

	for (;;) {
		n = epoll_wait(epoll_fd, events, 64, ack_wait_ms(relay));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			relay_log(0, "epoll_wait: %s", strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			void *tag = events[i].data.ptr;

			if (tag == &tag_signal)
				return;
			if (tag == &tag_timer)
				on_tick(relay);

			else if (tag == &tag_fabric)
				local_on_event(relay);
			else if (tag == &tag_control)
				control_on_event(relay, control_listen_fd);
			else if ((char *)tag >= (char *)relay->links &&
			         (char *)tag < (char *)(relay->links + relay->nlinks)) {
				/* A link watches its session fd with the link itself as
				 * tag, and its listening fd with &link->listen_fd. */
				size_t k = (size_t)((char *)tag - (char *)relay->links) /
				           sizeof(struct link);
				struct link *link = &relay->links[k];

				link_on_event(link,
				              tag == &link->listen_fd ? link->listen_fd : link->fd,
				              events[i].events);
			}
		}
		send_due_acks(relay);
		/* Ring space released this round is announced once. */
		local_flush(relay);
		/* Route changes are announced once per round, not per frame. */
		if (relay->routes_changed) {
			relay->routes_changed = false;
			for (i = 0; i < relay->nlinks; i++)
				link_send_routes(&relay->links[i]);
		}
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: argo-relayd [-v] CONFIG\n"
	             "       argo-relayd --check-config CONFIG\n");
}

int main(int argc, char **argv)
{
	static struct relay_config config;
	struct relay *relay = &the_relay;
	bool check_only = false;
	const char *path = NULL;
	char why[512];
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			relay_verbose++;
		else if (!strcmp(argv[i], "--check-config"))
			check_only = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			usage(stderr);
			return 2;
		} else
			path = argv[i];
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	ret = config_load(path, geteuid(), &config, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "argo-relayd: %s\n", why);
		return 2;
	}
	if (check_only) {
		printf("argo-relayd: %s: valid (hvid %s, %u links, %u routes, %u imports)\n", path,
		       config.hvid, config.nlinks, config.nroutes, config.nimports);
		return 0;
	}

	relay->config = &config;
	ret = setup(relay);
	if (ret < 0) {
		relay_log(0, "start-up failed: %s", strerror(-ret));
		return 1;
	}
	if (config.user[0] && (ret = drop_privileges(config.user)) < 0) {
		relay_log(0, "cannot become %s: %s", config.user, strerror(-ret));
		return 1;
	}
	relay_log(0, "serving: domain %u on %s, %d links", relay->domid, config.fabric,
	          relay->nlinks);
	run(relay);
	relay_log(0, "stopping");
	control_fini(relay);
	local_fini(relay);
	for (i = 0; i < relay->nlinks; i++)
		link_fini(&relay->links[i]);
	dedup_close(relay);
	argo_close(relay->fabric);
	return 0;
}
