/* SPDX-License-Identifier: MIT */
/*
 * Reloading the configuration (SIGHUP, argo-relayctl reload): relay.h's
 * relay_reload(); docs/relay-config.md, "Reloading", says what a user
 * sees.
 *
 * Stages, as at start-up: the new file is read and checked in full
 * (config_load(), key files included) into a configuration of its own;
 * then it is compared with the running one, and refused as a whole if it
 * changes what only a restart can (the fabric, the hvid, the control
 * socket, state, memory, the imports' rings); then the link plan is made
 * and every listener it needs is tried; only then does anything change.
 * A refused reload changes nothing.
 *
 * Every part of the relay reads the configuration through one pointer, so
 * the new one is copied over the running one in place, with its links
 * moved so that a link keeps its slot (links[i], its index in routes and
 * custody) for as long as it lives: a link is named by its NAME across
 * reloads. Unchanged links are not touched; a link whose address,
 * transport, key or certificate files changed is stopped and started
 * again on the same stream with new TLS credentials (nothing it holds is
 * lost, the peer resumes); a link whose peer changed is a new link; a
 * removed link is retired: its connection and
 * listener close, the messages queued on it go back to the router (another
 * route, or undeliverable and reported), and its slot stays until nothing
 * it received is held any more. Links to leaf endpoints (relay/leaf.c)
 * hold a domain in our fabric: one may change its address or key, but
 * adding, removing or pointing one at another domain takes a restart.
 * Keys are wiped again once the links have made their credentials.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "relay.h"
#include "transport.h"

enum plan {
	PLAN_KEEP,    /* unchanged */
	PLAN_RESTART, /* same peer; its address, transport, key or certificates changed */
	PLAN_NEW,     /* a new link (or its peer changed) */
};

struct reload {
	struct relay *relay;
	struct relay_config *next;
	/* For each link of the new file (its index there): what happens,
	 * which slot it takes, and why it restarts. */
	enum plan plan[CONFIG_MAX_LINKS];
	int slot[CONFIG_MAX_LINKS];
	const char *why[CONFIG_MAX_LINKS];
	/* For each slot of the running relay: kept by a link of the new file
	 * (its index there), or -1 (retired now, or already). */
	int kept_by[CONFIG_MAX_LINKS];
	unsigned int nslots;
	unsigned int added, restarted, removed, unchanged;
};

/* ---- What may change ------------------------------------------------------ */

/* The first key that only a restart can change, or NULL. */
static const char *needs_restart(const struct relay_config *a, const struct relay_config *b)
{
	unsigned int i;

	if (strcmp(a->hvid, b->hvid))
		return "hvid";
	if (strcmp(a->fabric, b->fabric))
		return "fabric";
	if (strcmp(a->control, b->control))
		return "control";
	if (a->control_mode != b->control_mode)
		return "control_mode";
	if (a->control_group != b->control_group)
		return "control_group";
	if (strcmp(a->state_dir, b->state_dir))
		return "state_dir";
	if (strcmp(a->user, b->user))
		return "user";
	if (a->queue_bytes != b->queue_bytes)
		return "queue_bytes";
	if (a->ring_len != b->ring_len)
		return "ring_len";
	if (a->proxy_port_min != b->proxy_port_min || a->proxy_port_max != b->proxy_port_max)
		return "proxy_ports";
	if (a->nimports != b->nimports)
		return "[imports]";
	for (i = 0; i < a->nimports; i++)
		if (a->imports[i].port != b->imports[i].port ||
		    a->imports[i].partner != b->imports[i].partner ||
		    memcmp(&a->imports[i].target, &b->imports[i].target,
		           sizeof(a->imports[i].target)))
			return "[imports]";
	return NULL;
}

static bool same_address(const struct config_link *a, const struct config_link *b)
{
	return a->transport == b->transport && a->listen == b->listen &&
	       !strcmp(a->address, b->address);
}

/* ---- The plan ------------------------------------------------------------- */

static int running_slot(const struct relay *relay, const char *name)
{
	int i;

	for (i = 0; i < relay->nlinks; i++)
		if (!relay->links[i].retired && !strcmp(relay->config->links[i].name, name))
			return i;
	return -1;
}

/* A slot for a new link: a retired one whose messages are all gone, or one
 * never used; -1 when all are taken. */
static int free_slot(struct reload *r, const bool *taken)
{
	struct relay *relay = r->relay;
	int i;

	for (i = 0; i < relay->nlinks; i++)
		if (!taken[i] && r->kept_by[i] < 0 && link_reusable(&relay->links[i]))
			return i;
	for (i = relay->nlinks; i < CONFIG_MAX_LINKS; i++)
		if (!taken[i])
			return i;
	return -1;
}

static int make_plan(struct reload *r, char *why, size_t cap)
{
	struct relay *relay = r->relay;
	const struct relay_config *old = relay->config, *next = r->next;
	bool taken[CONFIG_MAX_LINKS] = {false};
	uint8_t digest[LINK_CREDS_DIGEST_SIZE];
	unsigned int j;
	int i, ret;

	for (i = 0; i < CONFIG_MAX_LINKS; i++)
		r->kept_by[i] = -1;
	/* Links that keep their slot first, then the new ones take what is
	 * free (so that a new link never takes a slot a kept one needs). */
	for (j = 0; j < next->nlinks; j++) {
		const struct config_link *n = &next->links[j];

		i = running_slot(relay, n->name);
		if (i < 0 || strcmp(old->links[i].peer_hvid, n->peer_hvid)) {
			r->plan[j] = PLAN_NEW;
			continue;
		}
		r->slot[j] = i;
		r->kept_by[i] = (int)j;
		taken[i] = true;
		if (strcmp(old->links[i].leaf, n->leaf)) {
			snprintf(why, cap,
			         "link %s: its 'leaf' changed, which takes a restart of the relay",
			         n->name);
			return -EINVAL;
		}
		ret = link_creds_digest(&relay->link_env, n, digest);
		if (ret < 0) {
			snprintf(why, cap, "link %s: cannot read its %s: %s", n->name,
			         n->cert_file[0] ? "certificate files" : "key", strerror(-ret));
			return ret;
		}
		if (!same_address(&old->links[i], n)) {
			r->plan[j] = PLAN_RESTART;
			r->why[j] = "configuration reloaded: its address changed";
		} else if (!!old->links[i].cert_file[0] != !!n->cert_file[0] ||
		           memcmp(digest, relay->links[i].creds_digest, sizeof(digest))) {
			r->plan[j] = PLAN_RESTART;
			r->why[j] = n->cert_file[0]
			                ? "configuration reloaded: its certificates changed"
			                : "configuration reloaded: its key changed";
		} else {
			r->plan[j] = PLAN_KEEP;
		}
	}
	/* A link to a leaf endpoint holds a domain of our fabric (leaf.c):
	 * one comes and goes with the relay. */
	for (j = 0; j < next->nlinks; j++)
		if (r->plan[j] == PLAN_NEW && next->links[j].leaf[0]) {
			snprintf(why, cap,
			         "link %s: adding a link to a leaf endpoint takes a restart of the "
			         "relay",
			         next->links[j].name);
			return -EINVAL;
		}
	for (i = 0; i < relay->nlinks; i++)
		if (!relay->links[i].retired && r->kept_by[i] < 0 && old->links[i].leaf[0]) {
			snprintf(
			    why, cap,
			    "link %s: removing a link to a leaf endpoint takes a restart of the "
			    "relay",
			    old->links[i].name);
			return -EINVAL;
		}
	r->nslots = (unsigned int)relay->nlinks;
	for (j = 0; j < next->nlinks; j++) {
		if (r->plan[j] != PLAN_NEW)
			continue;
		i = free_slot(r, taken);
		if (i < 0) {
			snprintf(why, cap,
			         "no room for link %s: %d links, with those removed whose messages "
			         "are still held",
			         next->links[j].name, CONFIG_MAX_LINKS);
			return -ENOSPC;
		}
		r->slot[j] = i;
		taken[i] = true;
		if ((unsigned int)i >= r->nslots)
			r->nslots = (unsigned int)i + 1;
	}
	return 0;
}

/* Is this address what a running link that stops in this reload listens
 * on? Then it is free once that link stopped. */
static bool freed_by_reload(const struct reload *r, const struct config_link *n)
{
	const struct relay *relay = r->relay;
	int i;

	for (i = 0; i < relay->nlinks; i++) {
		const struct config_link *o = &relay->config->links[i];
		int k = r->kept_by[i];

		if (relay->links[i].retired || !o->listen || !same_address(o, n))
			continue;
		if (k < 0 || r->plan[k] == PLAN_RESTART)
			return true;
	}
	return false;
}

/*
 * Does a process listen on this unix socket path? Told from /proc/net/unix
 * (its listening sockets carry __SO_ACCEPTCON, 0x10000, in Flags), not by
 * connecting: the listener may be a relay's link, which takes a new
 * connection for its peer starting over and drops its session.
 */
static bool unix_path_listened(const char *path)
{
	char line[512], abs[PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/net/unix", "re");

	if (!f)
		return false; /* then listening will tell, when the link starts */
	if (!realpath(path, abs))
		abs[0] = '\0';
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long flags;
		char bound[256];

		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %255s", &flags, bound) == 2 &&
		    (flags & 0x10000) && (!strcmp(bound, path) || !strcmp(bound, abs)))
			found = true;
	}
	fclose(f);
	return found;
}

/* Every address a new or restarted link listens on must be free (or be
 * freed by this reload): tried now, before anything changes. */
static int try_listeners(const struct reload *r, char *why, size_t cap)
{
	const struct relay_config *next = r->next;
	unsigned int j;

	for (j = 0; j < next->nlinks; j++) {
		const struct config_link *n = &next->links[j];
		const struct transport_ops *t;
		int fd;

		if (r->plan[j] == PLAN_KEEP || !n->listen || freed_by_reload(r, n))
			continue;
		if (n->transport == TRANSPORT_UNIX || n->transport == TRANSPORT_SERIAL) {
			/* A socket path: free, or a stale file listen() replaces. */
			if (unix_path_listened(n->address)) {
				snprintf(why, cap, "link %s: cannot listen on %s: %s", n->name,
				         n->address, strerror(EADDRINUSE));
				return -EADDRINUSE;
			}
			continue;
		}
		t = transport_get(n->transport);
		fd = t->listen(n->address);
		if (fd < 0) {
			snprintf(why, cap, "link %s: cannot listen on %s: %s", n->name, n->address,
			         strerror(-fd));
			return fd;
		}
		close(fd);
	}
	return 0;
}

/* ---- Applying it ---------------------------------------------------------- */

/* The new configuration, its links moved to their slots; retired slots
 * keep an empty entry (no name, no peer: nothing routes to it). */
static void stage(struct reload *r, struct relay_config *staged)
{
	const struct relay_config *next = r->next;
	unsigned int j, k;

	*staged = *next;
	memset(staged->links, 0, sizeof(staged->links));
	for (j = 0; j < next->nlinks; j++)
		staged->links[r->slot[j]] = next->links[j];
	staged->nlinks = r->nslots;
	for (k = 0; k < next->nroutes; k++)
		staged->routes[k].link = (unsigned int)r->slot[next->routes[k].link];
}

static void apply(struct reload *r)
{
	struct relay *relay = r->relay;
	struct relay_config *config = relay->config;
	struct msg_queue orphans = {0};
	struct relay_end end;
	struct msg *msg;
	unsigned int j;
	int i, ret;

	/* Stop what goes or changes, while the running configuration still
	 * names it in the log. */
	for (i = 0; i < relay->nlinks; i++) {
		int k = r->kept_by[i];

		if (relay->links[i].retired)
			continue;
		if (k < 0) {
			relay_log(0, "link %s: removed from the configuration",
			          config->links[i].name);
			link_retire(&relay->links[i], &orphans);
			r->removed++;
		} else if (r->plan[k] == PLAN_RESTART) {
			relay_log(0, "link %s: %s; restarting", config->links[i].name, r->why[k]);
			link_stop(&relay->links[i], r->why[k]);
		}
	}

	/* The new configuration, in place: every part reads it from now on. */
	stage(r, config);
	explicit_bzero(r->next, sizeof(*r->next));
	relay->nlinks = (int)config->nlinks;
	relay->router.nlinks = relay->nlinks;
	relay->control.view.nlinks = relay->nlinks;
	routes_reconfigure(&relay->router.routes);
	dedup_set_sync(relay->dedup, config->state_sync);

	for (j = 0; j < config->nlinks; j++) {
		struct link *link = &relay->links[j];

		if (!config->links[j].name[0])
			continue; /* retired */
		if (r->kept_by[j] >= 0) {
			if (r->plan[r->kept_by[j]] == PLAN_RESTART) {
				ret = link_start(link);
				if (ret < 0)
					relay_log(RELAY_LOG_ERR,
					          "link %s: cannot start again: %s (it stays down)",
					          config->links[j].name, strerror(-ret));
				r->restarted++;
			} else {
				r->unchanged++;
			}
			continue;
		}
		/* A new link, in a fresh slot or one whose retired link is done. */
		if (link->retired)
			link_fini(link);
		ret = link_init(link, &relay->link_env, &config->links[j], (int)j);
		if (ret < 0)
			relay_log(RELAY_LOG_ERR, "link %s: cannot start: %s (it stays down)",
			          config->links[j].name, strerror(-ret));
		else
			relay_log(0, "link %s: added (%s %s, peer %s)", config->links[j].name,
			          transport_name(config->links[j].transport),
			          config->links[j].address, config->links[j].peer_hvid);
		end = link_end(link);
		router_set_link(&relay->router, (int)j, &end);
		r->added++;
	}

	/* The links made their TLS credentials: the raw keys are not needed. */
	config_wipe_keys(config);

	/* What removed links had queued goes another way, or back to its
	 * sender as undeliverable. */
	j = 0;
	while ((msg = msg_queue_pop(&orphans))) {
		router_route(&relay->router, msg);
		j++;
	}
	if (j)
		relay_log(0, "%u messages queued on removed links sent on again", j);
}

/* ---- relay_reload() ------------------------------------------------------- */

/* The service manager is told a reload began (with the time, as systemd's
 * Type=notify-reload wants it) and when the relay is ready again,
 * whatever the outcome. */
static void notify_reloading(void)
{
	char state[96];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	             (unsigned long long)ts.tv_nsec / 1000);
	daemon_notify(state);
}

static void notify_ready(const char *status)
{
	char state[900];

	snprintf(state, sizeof(state), "READY=1\nSTATUS=%s\n", status);
	daemon_notify(state);
}

int relay_reload(struct relay *relay, char *summary, size_t cap)
{
	static struct relay_config next;
	struct reload r = {.relay = relay, .next = &next};
	const char *key;
	char why[600];
	int ret;

	relay_log(0, "reloading %s", relay->config->path);
	notify_reloading();
	ret = config_load(relay->config->path, relay->key_owner, &next, why, sizeof(why));
	if (ret < 0)
		goto refused;
	key = needs_restart(relay->config, &next);
	if (key) {
		snprintf(why, sizeof(why), "%s changed, which takes a restart of the relay", key);
		ret = -EINVAL;
		goto refused;
	}
	ret = make_plan(&r, why, sizeof(why));
	if (ret < 0)
		goto refused;
	ret = try_listeners(&r, why, sizeof(why));
	if (ret < 0)
		goto refused;
	apply(&r);
	snprintf(summary, cap,
	         "reloaded %s: %u links added, %u restarted, %u removed, %u unchanged; %u "
	         "routes, %u rules",
	         relay->config->path, r.added, r.restarted, r.removed, r.unchanged,
	         relay->config->nroutes, relay->config->nrules);
	relay_log(0, "%s", summary);
	notify_ready(summary);
	return 0;

refused:
	explicit_bzero(&next, sizeof(next));
	snprintf(summary, cap, "reload refused, the running configuration stays: %s", why);
	relay_log(RELAY_LOG_ERR, "%s", summary);
	notify_ready(summary);
	return ret;
}
