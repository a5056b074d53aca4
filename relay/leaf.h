/* SPDX-License-Identifier: MIT */
/*
 * A leaf endpoint served by this relay (docs/relay-design.md, "Leaf
 * endpoints"; the frames: docs/protocol.md): a program where there is no
 * Argo, whose domain the relay holds in its own level's fabric. The domain
 * is a fabric connection of its own (`leaf =`, a static socket of
 * argo-simd), so its domid is the fabric's to give and every message the
 * leaf sends is stamped with it by the fabric, never by the leaf or the
 * relay. The relay makes the leaf's argo_op calls on that connection, keeps
 * the leaf's copy of each ring up to date byte for byte, moves the ring's
 * rx_ptr where the leaf's reader is, and passes the domain's VIRQ_ARGO on.
 *
 * Custody: what the fabric delivered into the leaf's rings stays in them
 * until the leaf's reader has taken it (rx_ptr follows the leaf's); the
 * rings are registered persistent, so a relay killed at any moment leaves
 * them, with their contents, to the next run, which resumes from what the
 * leaf says it has. A leaf's request answered once is answered the same
 * again if it comes again (after a cut), and a send is never made twice
 * (its tag is the request's id).
 *
 * The link (link.h) carries the frames; nothing of a leaf goes through the
 * router.
 *
 * Return conventions: 0 or a negative errno.
 */
#ifndef ARGO_RELAY_LEAF_H
#define ARGO_RELAY_LEAF_H

#include <stdbool.h>
#include <stdint.h>

#include "argo/argo.h"
#include "config.h"
#include "evloop.h"
#include "leaf_wire.h"
#include "link.h"

struct leaf_counters {
	uint64_t attaches;                    /* sessions the leaf attached in */
	uint64_t resumes;                     /* ...of them with the domain it had */
	uint64_t domains;                     /* domains made for it */
	uint64_t requests[LEAF_OP_CLOSE + 1]; /* by op */
	uint64_t replayed;      /* requests that came again, answered from the last answer */
	uint64_t sends_settled; /* a send made before a restart, found by its tag */
	uint64_t ring_bytes, ring_frames, events; /* to the leaf */
	uint64_t rx_moves;                        /* rx_ptr the leaf moved */
	uint64_t malformed;                       /* frames refused (the session ended) */
};

/* A ring of the leaf's domain, as the relay holds it. */
struct leaf_ring_map {
	uint32_t id;            /* the leaf's name for it (0: not the leaf's) */
	struct argo_ring *ring; /* the relay's handle, its memory the fabric's */
	uint32_t sent;          /* the leaf has every byte before this one (or will) */
	uint32_t target;        /* tx_ptr to publish when sent reaches it */
	bool in_flight;         /* a delivery started and not yet published */
	bool mirrored;          /* the leaf has a copy (false: it let go of its handle) */
};

struct leaf {
	const struct config_link *cfg;
	struct link *link;
	struct evloop *loop;
	struct argo_fabric *domain; /* NULL while the leaf has none */
	argo_domid_t domid;
	uint64_t owner; /* the leaf process (ATTACH boot) the domain is for */
	                /* Leaf processes whose domain ended: refused if they come back. */
#define LEAF_RETIRED 8
	uint64_t retired[LEAF_RETIRED];
	unsigned int next_retired;
	bool attached;   /* this session's ATTACH was answered */
	bool event_owed; /* the domain's event came; the leaf has not had it */
	bool reply_owed; /* last_reply waits for the leaf's copies to catch up */
	struct ev_watcher event_watch;
	struct leaf_ring_map *maps;
	unsigned int nmaps, cap;
	/* The last request answered: a leaf sends it again after a cut. */
	bool have_last;
	uint64_t last_id;
	uint32_t last_len;
	uint8_t last_reply[LEAF_REPLY_MAX];
	/* After a restart, the first request may be a send the previous run
	 * made: the fabric's last send tag says. */
	bool check_tag;
	struct leaf_counters counters;
};

/* Serves the leaf of cfg on link. Takes over the domain (and its rings)
 * the previous run left, if any. -EINVAL when cfg->leaf is not a static
 * domain's socket. */
int leaf_init(struct leaf *leaf, const struct config_link *cfg, struct link *link,
              struct evloop *loop);
/* Lets go of the domain without ending it: the next run takes it over. */
void leaf_fini(struct leaf *leaf);
/* "none", "away" (a domain, the leaf not attached) or "attached". */
const char *leaf_state_name(const struct leaf *leaf);

#endif /* ARGO_RELAY_LEAF_H */
