/* SPDX-License-Identifier: MIT */
/*
 * Fabric in: messages that guests of our own fabric sent to the relay's
 * ports, read from their rings and handed to the router
 * (docs/relay-design.md, "Addresses and the data path", "Back-pressure and
 * the memory bound", "Custody").
 *
 * A ring is read only while the message at its head can go somewhere now
 * (its way out has room, and the relay is below its memory bound):
 * otherwise it stays in the guest-visible ring, which fills, and the sender
 * gets -EAGAIN from its own fabric. That is the end of the back-pressure
 * chain. A message read keeps its ring slots until it leaves the relay's
 * custody (the ring's msg_source_ops: ports.h port_done()).
 */
#ifndef ARGO_RELAY_FABRIC_IN_H
#define ARGO_RELAY_FABRIC_IN_H

#include <stdint.h>

#include "config.h"
#include "msg.h"
#include "ports.h"
#include "router.h"

struct fabric_in_counters {
	uint64_t local_rx;         /* messages read from our rings */
	uint64_t routed_malformed; /* routed messages with a bad header */
};

struct fabric_in {
	const struct relay_config *config;
	struct ports *ports;
	struct router *router;
	struct msg_account *account;
	struct fabric_in_counters counters;
};

void fabric_in_init(struct fabric_in *in, const struct relay_config *config, struct ports *ports,
                    struct router *router, struct msg_account *account);
/* Reads every ring as far as its messages can go. */
void fabric_in_drain(struct fabric_in *in);
/* Reads again the rings left for lack of room (room came back). */
void fabric_in_kick(struct fabric_in *in);

#endif /* ARGO_RELAY_FABRIC_IN_H */
