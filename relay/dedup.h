/* SPDX-License-Identifier: MIT */
/*
 * What this relay has delivered into its fabric, per origin stream, kept in
 * state_dir across restarts, so that it never delivers a message twice
 * (docs/relay-design.md, "Custody", case 4; the reasoning is at the top of
 * dedup.c). Fabric out asks it about every message before sending, and
 * brackets every send with begin/end.
 *
 * Return conventions: 0 or a negative errno.
 */
#ifndef ARGO_RELAY_DEDUP_H
#define ARGO_RELAY_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#include "argo/argo.h"
#include "config.h"
#include "msg.h"
#include "strbuf.h"

struct dedup;

/* Opens state_dir/delivered (anonymous memory when state_dir is empty) and
 * settles a delivery a previous run was in the middle of, asking fabric for
 * its last send tag. *d is set even on failure (dedup_close() it). */
int dedup_open(struct dedup **d, const char *state_dir, struct argo_fabric *fabric);
void dedup_close(struct dedup *d);
/* state_sync: how the records reach the disk (dedup.c says what that buys
 * and costs). STATE_SYNC_EACH writes each through as it is made;
 * STATE_SYNC_BATCH leaves them to dedup_flush(), which the owner calls
 * before it lets go of the messages they settle. */
void dedup_set_sync(struct dedup *d, enum state_sync sync);
/* Records made and not yet written through (STATE_SYNC_BATCH only). */
bool dedup_dirty(const struct dedup *d);
/* Writes them through now: one msync. */
void dedup_flush(struct dedup *d);
/* How many times the table was written through to the disk. */
uint64_t dedup_syncs(const struct dedup *d);
/* Was this message (by origin and destination) settled already (delivered,
 * or found undeliverable here)? When it is a copy of the last message of
 * its stream and that one was undeliverable, *error (if not NULL) is the
 * errno its sender was told, else 0. */
bool dedup_seen(struct dedup *d, const struct msg *msg, int *error);
/* Around one send into the fabric: begin returns the tag to send with (0:
 * send untagged); end records the outcome (delivered or not). */
uint64_t dedup_begin(struct dedup *d, const struct msg *msg);
void dedup_end(struct dedup *d, bool delivered);
/* The message is settled here as undeliverable (error: the errno its sender
 * is told): a copy of it is not sent nor counted again. */
void dedup_undeliverable(struct dedup *d, const struct msg *msg, int error);
void dedup_dump(const struct dedup *d, struct strbuf *out, bool json);

/* Where things are in the file, for tests that write it as a killed run or
 * an older version would have left it. */
struct dedup_layout {
	size_t size, v2_size, totals, intent_valid;
};
void dedup_layout(struct dedup_layout *out);

#endif /* ARGO_RELAY_DEDUP_H */
