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
#include "msg.h"
#include "strbuf.h"

struct dedup;

/* Opens state_dir/delivered (anonymous memory when state_dir is empty) and
 * settles a delivery a previous run was in the middle of, asking fabric for
 * its last send tag. *d is set even on failure (dedup_close() it). */
int dedup_open(struct dedup **d, const char *state_dir, struct argo_fabric *fabric);
void dedup_close(struct dedup *d);
/* state_sync: every change written through to the disk before the relay
 * goes on (dedup.c says what that buys and costs). */
void dedup_set_sync(struct dedup *d, bool sync);
/* How many times the table was written through to the disk. */
uint64_t dedup_syncs(const struct dedup *d);
/* Was this message (by origin and destination) delivered already? */
bool dedup_seen(struct dedup *d, const struct msg *msg);
/* Around one send into the fabric: begin returns the tag to send with (0:
 * send untagged); end records the outcome (delivered or not). */
uint64_t dedup_begin(struct dedup *d, const struct msg *msg);
void dedup_end(struct dedup *d, bool delivered);
void dedup_dump(const struct dedup *d, struct strbuf *out, bool json);

#endif /* ARGO_RELAY_DEDUP_H */
