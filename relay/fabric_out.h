/* SPDX-License-Identifier: MIT */
/*
 * Fabric out: messages for endpoints of our own fabric, sent into their
 * rings from the port that stands for their source; hold queues for full
 * rings; copies recognised and dropped (dedup.h); undeliverable reports to
 * our own guests (docs/relay-design.md, "Addresses and the data path",
 * "Custody").
 *
 * Delivery keeps order per destination: a message for a destination that
 * already has held messages joins its hold queue; a full ring (-EAGAIN)
 * starts one. Xen (and argo-simd) recorded us as a waiter, so the fabric's
 * event tells when to try again (fabric_out_retry()).
 */
#ifndef ARGO_RELAY_FABRIC_OUT_H
#define ARGO_RELAY_FABRIC_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "argo/argo.h"
#include "config.h"
#include "dedup.h"
#include "msg.h"
#include "ports.h"
#include "router.h"
#include "strbuf.h"

struct fabric_out_counters {
	uint64_t local_delivered;     /* let go of once their record is on disk (state_sync) */
	uint64_t local_held;          /* messages that waited in a hold queue */
	uint64_t duplicates_dropped;  /* copies of messages already delivered (dedup.h) */
	uint64_t reports_sent;        /* undeliverable reports to our guests */
	uint64_t reports_failed;      /* ... that the fabric refused (the guest is gone) */
	uint64_t local_undeliverable; /* messages for our fabric settled undeliverable */
};

struct hold;

struct fabric_out {
	struct argo_fabric *fabric;
	const struct relay_config *config;
	struct ports *ports;
	struct dedup *dedup;
	struct router *router;
	struct hold *holds; /* per destination, each in order */
	/* Delivered, kept until their records reach the disk (state_sync =
	 * batch): fabric_out_flush() lets them go at the end of the round. */
	struct msg_queue settled;
	struct fabric_out_counters counters;
};

void fabric_out_init(struct fabric_out *out, struct argo_fabric *fabric,
                     const struct relay_config *config, struct ports *ports, struct dedup *dedup,
                     struct router *router);
/* Lets go of every held message (shutting down). */
void fabric_out_fini(struct fabric_out *out);
/* End of a round: writes the records of this round's deliveries to the
 * disk (one msync, state_sync = batch), then is done with those messages
 * (acknowledged, their ring slots released). */
void fabric_out_flush(struct fabric_out *out);
/* Messages delivered and waiting for fabric_out_flush(). */
uint32_t fabric_out_awaiting_sync(const struct fabric_out *out);
/* The router's end for our own fabric (router.h). */
struct relay_end fabric_out_end(struct fabric_out *out);
/* Retries every hold queue, in order (ring space came back, or a tick). */
void fabric_out_retry(struct fabric_out *out);
/* True when messages wait in hold queues. */
bool fabric_out_holding(const struct fabric_out *out);
/* Calls fn for every held message (ARGO_DEBUG custody checks). */
void fabric_out_each(const struct fabric_out *out, void (*fn)(const struct msg *, void *),
                     void *ctx);
void fabric_out_dump(const struct fabric_out *out, struct strbuf *sb, bool json);

#endif /* ARGO_RELAY_FABRIC_OUT_H */
