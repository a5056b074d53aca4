/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd as a whole: the parts, and the event loop that drives them
 * (docs/relay-design.md, "Stages and files"). Only relayd.c, which wires
 * the parts together, sees this (control.c reads them through a const
 * view, control.h); each part
 * knows only the parts after it on a message's way (docs/relay-design.md
 * draws the path):
 *
 *   fabric_in.c  rings of our fabric -> messages      (ports.c: the rings)
 *   link.c       a link's frames -> messages          (common/link: session,
 *                                                      frames, stream)
 *   router.c     where each message goes: policy, routes (routes.c),
 *                undeliverable reports
 *   link.c       messages -> a link's stream and frames
 *   fabric_out.c messages -> rings of our fabric, hold queues, copies
 *                dropped (dedup.c), reports to our guests
 *
 * Where a message came from is its custody ops (link/msg.h), so that the
 * router and the ends never call back into the part that read it.
 *
 * One thread; every handler runs to completion, so nothing needs a lock.
 *
 * Memory bound: every message held anywhere in the relay (on a link waiting
 * for its ack, or in a hold queue waiting for ring space) is counted in the
 * relay's msg_account. Credit granted to peers and reading of local rings
 * both stop when it reaches the configured queue_bytes, so memory stays
 * within queue_bytes plus one message per link (a sender may overshoot its
 * credit by the one message it started).
 */
#ifndef ARGO_RELAY_H
#define ARGO_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "argo/argo.h"
#include "config.h"
#include "control.h"
#include "dedup.h"
#include "evloop.h"
#include "fabric_in.h"
#include "fabric_out.h"
#include "leaf.h"
#include "link.h"
#include "msg.h"
#include "ports.h"
#include "router.h"

struct relay {
	/* Read by every part through this one pointer; a reload writes the
	 * new configuration over it in place (reload.c). */
	struct relay_config *config;
	uid_t key_owner; /* who key files must belong to (the uid at start-up) */
	struct argo_fabric *fabric;
	argo_domid_t domid;
	uint64_t boot_id;

	struct evloop loop;
	struct ev_watcher signal_watch, fabric_watch;
	struct ev_timer tick;      /* every TICK_MS: reconnects, pings, holds */
	struct ev_timer ack_timer; /* delayed acknowledgements, every link */
	int signal_fd;
	bool stopping;

	struct msg_account account; /* every message held: the memory bound */
	struct link_env link_env;
	struct ports ports;
	struct fabric_in in;
	struct router router;
	struct link links[CONFIG_MAX_LINKS];
	int nlinks;
	struct leaf leaves[CONFIG_MAX_LINKS]; /* for the links that serve one */
	struct fabric_out out;
	struct dedup *dedup;
	struct control control;
};

/* reload.c: reads the configuration file again and applies it, or refuses
 * it as a whole and changes nothing (a file with an error, a change that
 * takes a restart, a listener that cannot be opened). Says what happened
 * in summary (and the log). 0 or a negative errno. */
int relay_reload(struct relay *relay, char *summary, size_t cap);

#endif /* ARGO_RELAY_H */
