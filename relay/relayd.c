/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd: forwards Argo messages between its fabric and other relays.
 *
 *   argo-relayd [-v] [-d] [--pidfile FILE] [--syslog] CONFIG   run
 *   argo-relayd --check-config CONFIG   validate and exit (0 valid, 2 not)
 * (argo-relayd(8), docs/man/argo-relayd.8).
 *
 * Stages, as in OpenBSD's relayd: the configuration is read and checked in
 * full first (config.c); then the fabric, the links and the control socket
 * are set up; then privileges are dropped (config 'user'); then the event
 * loop runs until SIGTERM/SIGINT. This file wires the parts together
 * (relay.h) and is the only one that knows them all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argo/version.h"
#include "auth.h"
#include "clock.h"
#include "daemon.h"
#include "debug.h"
#include "log.h"
#include "relay.h"

#define TICK_MS 50

/* The process's one relay (file scope, so that wipe_keys() reaches it at
 * any exit). */
static struct relay_config the_config;
static struct relay the_relay;

/* ---- Custody checks (ARGO_DEBUG builds) ---------------------------------- */

#ifdef ARGO_DEBUG
struct custody_sums {
	const struct relay *relay;
	uint64_t bytes, messages;
	uint64_t from_link[CONFIG_MAX_LINKS]; /* bytes held per source link */
};

static void count_held(const struct msg *msg, void *ctx)
{
	struct custody_sums *sums = ctx;
	int i;

	/* Every message in a queue is in someone's custody. */
	assert(msg->source_ops && msg->custody == MSG_HELD);
	sums->bytes += msg_cost(msg);
	sums->messages++;
	for (i = 0; i < sums->relay->nlinks; i++)
		if (msg->source == &sums->relay->links[i])
			sums->from_link[i] += msg_cost(msg);
}

/*
 * Between two rounds of the loop every message the relay holds is in
 * exactly one queue (a link's unacknowledged messages, or a hold queue):
 * the account must add up to them, and each link must hold for its peer
 * what those queues hold from it.
 *
 * And the memory bound. Rings are read only below queue_bytes (so what
 * came from rings is at most queue_bytes and one message), and a peer is
 * granted at most one window beyond what the relay holds for it (so what
 * came from a link is at most a window and the one message it started on
 * its last credit): held_bytes <= queue_bytes + the windows + one message
 * per link and one more. Peers keep to their credit because the relay
 * enforces it on receive (stream_rx_check()): a DATA beyond it ends the
 * session before the message is held. All in cost (WIRE_DATA_COST).
 */
static void check_custody(const struct relay *relay)
{
	struct custody_sums sums = {.relay = relay};
	struct control_custody totals;
	uint64_t bound = relay->account.limit + relay->account.largest;
	const struct msg *m;
	int i;

	for (i = 0; i < relay->nlinks; i++)
		for (m = relay->links[i].stream.unacked.head; m; m = m->next)
			count_held(m, &sums);
	fabric_out_each(&relay->out, count_held, &sums);
	assert(sums.bytes == relay->account.held_bytes);
	assert(sums.messages == relay->account.messages);
	for (i = 0; i < relay->nlinks; i++) {
		assert(sums.from_link[i] == relay->links[i].stream.held_from_peer);
		bound += relay->links[i].stream.window + relay->account.largest;
	}
	assert(relay->account.held_bytes <= bound);
	/* Every message taken was passed on, let go of, or is held: counted
	 * where each of those happens (docs/relay-control.md, "Accounting"). */
	control_custody(&relay->control.view, &totals);
	assert(totals.from_fabric + totals.from_links ==
	       totals.passed + totals.released + totals.held);
}
#else
static void check_custody(const struct relay *relay)
{
	(void)relay;
}
#endif

/* ---- The loop's handlers -------------------------------------------------- */

/* SIGUSR1: what `argo-relayctl status` shows, into the log, a line each. */
static void log_counters(const struct relay *relay)
{
	struct strbuf sb = {0};
	char *line, *save = NULL;

	control_status(&relay->control, &sb);
	relay_log(0, "counters (SIGUSR1):");
	for (line = sb.buf ? strtok_r(sb.buf, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		relay_log(0, "%s", line);
	free(sb.buf);
}

static void on_signal(struct ev_watcher *w, uint32_t events)
{
	struct relay *relay = w->ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(relay->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			log_counters(relay);
			break;
		case SIGHUP: {
			char summary[800];

			relay_log(0, "SIGHUP: reloading the configuration");
			relay_reload(relay, summary, sizeof(summary)); /* it logs the outcome */
			break;
		}
		default: /* SIGTERM, SIGINT */
			relay_log(0, "%s: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			daemon_notify("STOPPING=1\n");
			relay->stopping = true;
			break;
		}
	}
}

/* Our fabric raised the event: ring space came back (holds), messages came
 * in (our rings). */
static void on_fabric(struct ev_watcher *w, uint32_t events)
{
	struct relay *relay = w->ctx;

	(void)events;
	argo_event_clear(relay->fabric);
	fabric_out_retry(&relay->out);
	fabric_in_drain(&relay->in);
}

static void on_tick(struct ev_timer *t)
{
	struct relay *relay = t->ctx;
	uint64_t now = now_ms();
	int i;

	ev_timer_arm(&relay->loop, &relay->tick, now + TICK_MS);
	for (i = 0; i < relay->nlinks; i++)
		link_tick(&relay->links[i], now);
	/* Holds normally move on the fabric's event; this also covers a send
	 * that got -EBUSY (too many waiters: the fabric will not tell us). */
	if (fabric_out_holding(&relay->out))
		fabric_out_retry(&relay->out);
	router_tick(&relay->router, now);
	ports_check(&relay->ports, now);
	check_custody(relay);
}

/* The acknowledgement deadline passed: what every link owes goes now. */
static void on_ack_deadline(struct ev_timer *t)
{
	struct relay *relay = t->ctx;
	int i;

	for (i = 0; i < relay->nlinks; i++)
		link_ack_now(&relay->links[i]);
}

/* After every round's handlers: work that is done once per round. */
static void end_of_round(struct relay *relay)
{
	int i;

	/* This round's deliveries written to the disk at once (state_sync),
	 * then acknowledged. */
	fabric_out_flush(&relay->out);
	/* Links gained room, or the relay fell below its memory bound: read
	 * the rings that were left for lack of it. */
	if (relay->router.room || relay->account.room_again) {
		relay->router.room = false;
		fabric_in_kick(&relay->in);
	}
	/* Ring space released this round is announced once. */
	ports_flush(&relay->ports);
	/* Route changes are announced once per round, not per frame. */
	if (relay->router.routes.changed) {
		relay->router.routes.changed = false;
		for (i = 0; i < relay->nlinks; i++)
			link_send_routes(&relay->links[i]);
	}
	/* Below the memory bound again: peers may be waiting for credit. */
	if (relay->account.room_again) {
		relay->account.room_again = false;
		links_ack_soon(&relay->link_env);
	}
	/* No deadline to wake up for when DATA carried every ACK owed. */
	if (relay->ack_timer.armed) {
		for (i = 0; i < relay->nlinks && !link_ack_owed(&relay->links[i]); i++)
			;
		if (i == relay->nlinks)
			ev_timer_cancel(&relay->ack_timer);
	}
}

/* ---- Start-up and the loop ---------------------------------------------- */

/* argo-relayctl reload. */
static int reload_for_control(void *ctx, char *summary, size_t cap)
{
	return relay_reload(ctx, summary, cap);
}

static int drop_privileges(const char *user)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return errno ? -errno : -ESRCH; /* ESRCH: no such user (config.c checked) */
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return -errno;
	return 0;
}

static int setup(struct relay *relay)
{
	const struct relay_config *config = relay->config;
	struct relay_end end;
	struct control_view view;
	sigset_t mask;
	unsigned int i;
	int ret;

	relay->signal_fd = -1;
	relay->control.listen_fd = -1;
	ret = evloop_init(&relay->loop);
	if (ret < 0)
		return ret;
	ev_watcher_init(&relay->signal_watch, on_signal, relay);
	ev_watcher_init(&relay->fabric_watch, on_fabric, relay);
	ev_timer_init(&relay->tick, on_tick, relay);
	ev_timer_init(&relay->ack_timer, on_ack_deadline, relay);
	if (auth_random(&relay->boot_id, sizeof(relay->boot_id)) < 0)
		return -EIO;
	relay->account.limit = config->queue_bytes;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	relay->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (relay->signal_fd < 0)
		return -errno;
	ev_watch(&relay->loop, &relay->signal_watch, relay->signal_fd, EPOLLIN);
	ev_timer_arm(&relay->loop, &relay->tick, now_ms() + TICK_MS);
	/* First: a relay started with a running one's control path stops
	 * here, before it touches a fabric or a link. */
	ret = control_init(&relay->control, config, &relay->loop);
	if (ret < 0)
		return ret;

	ret = argo_open(config->fabric, &relay->fabric);
	if (ret < 0) {
		relay_log(RELAY_LOG_ERR, "cannot open fabric %s: %s", config->fabric,
		          argo_open_error());
		return ret;
	}
	relay->domid = argo_domid(relay->fabric);
	ev_watch(&relay->loop, &relay->fabric_watch, argo_event_fd(relay->fabric), EPOLLIN);

	router_init(&relay->router, config);
	relay->link_env = (struct link_env){
	    .config = config,
	    .loop = &relay->loop,
	    .router = &relay->router,
	    .account = &relay->account,
	    .ack_timer = &relay->ack_timer,
	    .boot_id = relay->boot_id,
	};
	relay->nlinks = (int)config->nlinks;
	for (i = 0; i < config->nlinks; i++) {
		ret = link_init(&relay->links[i], &relay->link_env, &config->links[i], (int)i);
		if (ret < 0)
			return ret;
		end = link_end(&relay->links[i]);
		router_set_link(&relay->router, (int)i, &end);
		if (config->links[i].leaf[0]) {
			ret = leaf_init(&relay->leaves[i], &config->links[i], &relay->links[i],
			                &relay->loop);
			if (ret < 0)
				return ret;
		}
	}
	/* The links derived their TLS keys: the raw keys are not needed. */
	config_wipe_keys(&the_config);
	ret = dedup_open(&relay->dedup, config->state_dir, relay->fabric);
	if (ret < 0)
		return ret;
	dedup_set_sync(relay->dedup, config->state_sync);
	ret = ports_init(&relay->ports, relay->fabric, config, relay->boot_id);
	if (ret < 0)
		return ret;
	fabric_out_init(&relay->out, relay->fabric, config, &relay->ports, relay->dedup,
	                &relay->router);
	end = fabric_out_end(&relay->out);
	router_set_local(&relay->router, &end);
	fabric_in_init(&relay->in, config, &relay->ports, &relay->router, &relay->account);

	view = (struct control_view){
	    .config = config,
	    .domid = relay->domid,
	    .links = relay->links,
	    .nlinks = relay->nlinks,
	    .router = &relay->router,
	    .ports = &relay->ports,
	    .in = &relay->in,
	    .out = &relay->out,
	    .account = &relay->account,
	    .dedup = relay->dedup,
	};
	control_set_view(&relay->control, &view);
	control_set_reload(&relay->control, reload_for_control, relay);
	return 0;
}

static void run(struct relay *relay)
{
	while (!relay->stopping) {
		int n = evloop_run_once(&relay->loop);

		if (n < 0) {
			relay_log(0, "epoll_wait: %s", strerror(-n));
			return;
		}
		end_of_round(relay);
	}
}

/* In the order that lets go of every message while its source is still
 * there to be told (the holds and the links' queues), then the rings. */
static void teardown(struct relay *relay)
{
	int i;

	control_fini(&relay->control, &relay->loop);
	fabric_out_fini(&relay->out);
	for (i = 0; i < relay->nlinks; i++)
		if (relay->config->links[i].leaf[0])
			leaf_fini(&relay->leaves[i]);
	for (i = 0; i < relay->nlinks; i++)
		link_fini(&relay->links[i]);
	DEBUG_ASSERT(relay->account.held_bytes == 0 && relay->account.messages == 0);
	ports_fini(&relay->ports);
	dedup_close(relay->dedup);
	argo_close(relay->fabric);
	if (relay->signal_fd >= 0)
		close(relay->signal_fd);
	evloop_fini(&relay->loop);
}

/* Keys never outlive the process's need for them: the raw keys go once the
 * links have derived theirs (setup()), the derived ones with the links
 * (teardown()), and whatever is left on any way out. */
static void wipe_keys(void)
{
	int i;

	config_wipe_keys(&the_config);
	for (i = 0; i < CONFIG_MAX_LINKS; i++)
		explicit_bzero(the_relay.links[i].creds.psk, sizeof(the_relay.links[i].creds.psk));
}

/* No core file and no ptrace by other users' processes: both would show
 * the keys. */
static int harden(void)
{
	struct rlimit none = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setrlimit(RLIMIT_CORE, &none) < 0)
		return -errno;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: argo-relayd [options] CONFIG\n"
	        "       argo-relayd --check-config CONFIG\n"
	        "  -v, --verbose         log more: links, sessions, state (repeat for more)\n"
	        "  -d, --daemon          detach once serving (the parent exits 0 then, 1 if\n"
	        "                        start-up failed)\n"
	        "      --pidfile FILE    write the relay's pid here once serving\n"
	        "      --syslog          log to syslog (facility daemon), not standard error\n"
	        "      --check-config    read and check CONFIG and its key files, say what is\n"
	        "                        valid but probably not meant, and exit\n"
	        "      --syntax-only     with --check-config: the file alone, without reading\n"
	        "                        the key files or looking up the user and group\n"
	        "  -h, --help            print this help and exit\n"
	        "  -V, --version         print the version and exit\n"
	        "Signals: SIGHUP reloads CONFIG (as argo-relayctl reload), SIGUSR1 logs the\n"
	        "counters (argo-relayctl status), SIGTERM or SIGINT stops the relay.\n"
	        "Exit status: 0 after SIGTERM/SIGINT or a valid --check-config, 1 when\n"
	        "start-up fails, 2 for a usage or configuration error.\n"
	        "See argo-relayd(8) and argo-relayd.conf(5).\n");
}

/* What the configuration probably did not mean (config_warnings()). */
static void warn_stderr(void *ctx, const char *text)
{
	fprintf(stderr, "argo-relayd: %s: warning: %s\n", (const char *)ctx, text);
}

static void warn_log(void *ctx, const char *text)
{
	(void)ctx;
	relay_log(0, "warning: %s", text);
}

/* The command line. */
struct options {
	const char *path;
	const char *pidfile;
	bool check_only, syntax_only, daemonize, use_syslog;
};

/* 0: go on; 1: done (--help, --version), exit 0; -1: usage error, exit 2. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_PIDFILE = 256, OPT_SYSLOG, OPT_CHECK, OPT_SYNTAX };
	static const struct option longopts[] = {
	    {"verbose", no_argument, NULL, 'v'},
	    {"daemon", no_argument, NULL, 'd'},
	    {"pidfile", required_argument, NULL, OPT_PIDFILE},
	    {"syslog", no_argument, NULL, OPT_SYSLOG},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"syntax-only", no_argument, NULL, OPT_SYNTAX},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vdhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			relay_verbose++;
			break;
		case 'd':
			o->daemonize = true;
			break;
		case OPT_PIDFILE:
			o->pidfile = optarg;
			break;
		case OPT_SYSLOG:
			o->use_syslog = true;
			break;
		case OPT_CHECK:
			o->check_only = true;
			break;
		case OPT_SYNTAX:
			o->syntax_only = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("argo-relayd (" ARGO_PACKAGE ") " ARGO_VERSION "\n");
			return 1;
		case ':':
			fprintf(stderr, "argo-relayd: option %s needs a value\n", argv[optind - 1]);
			usage(stderr);
			return -1;
		default:
			if (optopt)
				fprintf(stderr, "argo-relayd: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "argo-relayd: unknown option %s\n",
				        argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "argo-relayd: %s\n",
		        optind == argc ? "the configuration file is missing"
		                       : "one configuration file only");
		usage(stderr);
		return -1;
	}
	if (o->syntax_only && !o->check_only) {
		fprintf(stderr, "argo-relayd: --syntax-only goes with --check-config\n");
		usage(stderr);
		return -1;
	}
	o->path = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct relay_config *config = &the_config;
	struct relay *relay = &the_relay;
	struct options opts = {0};
	static char abs_path[PATH_MAX];
	int ready_fd = -1, ret;
	char why[512];

	ret = parse_options(argc, argv, &opts);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = harden();
	if (ret < 0) {
		fprintf(stderr, "argo-relayd: cannot turn core dumps off: %s\n", strerror(-ret));
		return 1;
	}
	atexit(wipe_keys);
	/* The file is read again on reload, maybe from elsewhere: by its
	 * absolute path (key files are relative to its folder). */
	if (!opts.check_only && realpath(opts.path, abs_path))
		opts.path = abs_path;
	relay->key_owner = geteuid();
	ret =
	    config_load_flags(opts.path, relay->key_owner,
	                      opts.syntax_only ? CONFIG_SYNTAX_ONLY : 0, config, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "argo-relayd: %s\n", why);
		return 2;
	}
	/* A user that does not exist here is this file's error on this
	 * machine: said now, not as "cannot become" after start-up. */
	if (!opts.syntax_only && config->user[0] && !getpwnam(config->user)) {
		fprintf(
		    stderr,
		    "argo-relayd: %s: user '%s' does not exist on this system (getent passwd %s "
		    "finds nothing): the relay could not drop privileges to it\n",
		    opts.path, config->user, config->user);
		config_wipe_keys(config);
		return 2;
	}
	if (opts.check_only) {
		unsigned int i, leaves = 0;

		for (i = 0; i < config->nlinks; i++)
			leaves += config->links[i].leaf[0] != 0;
		config_warnings(config, geteuid(), warn_stderr, (void *)opts.path);
		printf("argo-relayd: %s: %s (hvid %s, %u links, %u of them to leaf endpoints, %u "
		       "routes, %u imports, %u rules)%s\n",
		       opts.path, opts.syntax_only ? "syntax valid" : "valid", config->hvid,
		       config->nlinks, leaves, config->nroutes, config->nimports, config->nrules,
		       opts.syntax_only ? "; key files, user and group not checked" : "");
		config_wipe_keys(config);
		return 0;
	}

	relay->config = config;
	relay_log_set_hvid(config->hvid);
	relay_log_open(opts.use_syslog);
	config_warnings(config, geteuid(), warn_log, NULL);
	if (opts.daemonize && (ret = daemon_detach(&ready_fd)) < 0) {
		relay_log(RELAY_LOG_ERR, "cannot detach: %s", strerror(-ret));
		return 1;
	}
	/* What the relay makes is its own: state files, unix link sockets;
	 * the control socket gets its configured mode and group. */
	umask(077);
	ret = setup(relay);
	if (ret < 0) {
		relay_log(RELAY_LOG_ERR, "start-up failed: %s", strerror(-ret));
		/* The control socket, if it was ours, goes with us. */
		control_fini(&relay->control, &relay->loop);
		return 1;
	}
	if (config->user[0] && (ret = drop_privileges(config->user)) < 0) {
		relay_log(RELAY_LOG_ERR, "cannot become user %s: %s", config->user,
		          ret == -ESRCH ? "no such user" : strerror(-ret));
		control_fini(&relay->control, &relay->loop);
		return 1;
	}
	if (opts.pidfile && (ret = daemon_write_pidfile(opts.pidfile)) < 0) {
		relay_log(RELAY_LOG_ERR, "pid file %s: %s", opts.pidfile, strerror(-ret));
		control_fini(&relay->control, &relay->loop);
		return 1;
	}
	relay_log(0, "serving: domain %u on %s, %d links", relay->domid, config->fabric,
	          relay->nlinks);
	daemon_ready(ready_fd);
	if (snprintf(why, sizeof(why), "READY=1\nSTATUS=serving: domain %u on %s, %d links\n",
	             relay->domid, the_config.fabric, relay->nlinks) < (int)sizeof(why))
		daemon_notify(why);
	run(relay);
	teardown(relay);
	wipe_keys();
	relay_log(0, "stopped");
	if (opts.pidfile)
		unlink(opts.pidfile);
	return 0;
}
