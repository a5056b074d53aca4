/* SPDX-License-Identifier: MIT */
/*
 * The control socket: argo-relayctl connects, sends one command line
 * ("status", "links", "routes", "mappings", "counters", each optionally
 * followed by " json"), reads the answer until the relay closes. The relay
 * answers at once from its state, which control only reads (every pointer
 * of its view is const); a client that does not send its command within a
 * second is dropped, so the loop never waits on it long.
 */
#ifndef ARGO_RELAY_CONTROL_H
#define ARGO_RELAY_CONTROL_H

#include "argo/argo.h"
#include "config.h"
#include "dedup.h"
#include "evloop.h"
#include "fabric_in.h"
#include "fabric_out.h"
#include "link.h"
#include "msg.h"
#include "ports.h"
#include "router.h"
#include "strbuf.h"

/* What the answers read. */
struct control_view {
	const struct relay_config *config;
	argo_domid_t domid;
	const struct link *links;
	int nlinks;
	const struct router *router;
	const struct ports *ports;
	const struct fabric_in *in;
	const struct fabric_out *out;
	const struct msg_account *account;
	const struct dedup *dedup;
};

/* argo-relayctl reload: the relay's relay_reload() (relay.h). */
typedef int control_reload_fn(void *ctx, char *summary, size_t cap);

struct control {
	struct control_view view;
	control_reload_fn *reload;
	void *reload_ctx;
	int listen_fd;
	struct ev_watcher watch;
};

/* Listens on the configured control path, first thing at start-up. The
 * path must be free or a stale socket (replaced); a live socket (a running
 * relay's) is refused with -EADDRINUSE, anything else there with -EEXIST,
 * each logged with what to do. */
int control_init(struct control *c, const struct relay_config *config, struct evloop *loop);
/* What the answers read, once the relay's parts are set up. */
void control_set_view(struct control *c, const struct control_view *view);
/* What `reload` calls. */
void control_set_reload(struct control *c, control_reload_fn *fn, void *ctx);
/* What `argo-relayctl status` shows, as text (SIGUSR1 logs it). */
void control_status(const struct control *c, struct strbuf *sb);
/* Every message the relay took into its custody, and where each went
 * (docs/relay-control.md, "Accounting"), from the parts' own counters:
 * from_fabric + from_links = passed + released + held whenever no handler
 * is running (the control socket's answers, the ARGO_DEBUG checks). */
struct control_custody {
	uint64_t from_fabric; /* read from our rings */
	uint64_t from_links;  /* taken from the links' peers */
	/* Passed on for good: delivered into the fabric, copies dropped,
	 * undeliverable (reported), of the reserved type dropped, spoofed
	 * sources dropped, acknowledged by the next relay. */
	uint64_t passed;
	uint64_t released; /* let go of without passing on (shutting down) */
	uint64_t held;     /* in the relay's custody now */
};
void control_custody(const struct control_view *v, struct control_custody *cs);
/* Stops listening and removes the socket file (ours). */
void control_fini(struct control *c, struct evloop *loop);

#endif /* ARGO_RELAY_CONTROL_H */
