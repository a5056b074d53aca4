/* SPDX-License-Identifier: MIT */
/*
 * The payloads of a leaf endpoint's frames (docs/protocol.md, "Leaf
 * endpoints"): what libargo's link backend (common/libargo/backend_link.c)
 * and the relay that serves it (relay/leaf.c) say to each other about the
 * leaf's domain. The frames themselves (types WIRE_LEAF_*, header, session)
 * are wire.h's; this file packs and unpacks what they carry, byte by byte,
 * little endian, and checks every field.
 *
 * A leaf is a program whose domain lives at the relay: the relay holds a
 * domain of its level's fabric for it and makes the leaf's argo_op calls
 * there (LEAF_REQUEST, answered by LEAF_REPLY); the leaf keeps a copy of
 * each of its rings, which the relay keeps up to date byte for byte
 * (LEAF_RING) and whose reader's rx_ptr the leaf reports back (LEAF_RX);
 * LEAF_EVENT is the domain's VIRQ_ARGO. LEAF_ATTACH and LEAF_WELCOME start
 * (or resume) the leaf's use of its domain after each handshake.
 *
 * Return conventions: encoders return the payload length, or -EMSGSIZE
 * when it does not fit in cap or a field is out of bounds; decoders return
 * 0, or -EBADMSG with *why (a static sentence) on anything malformed, and
 * never read past the length they are given.
 */
#ifndef ARGO_LINK_LEAF_WIRE_H
#define ARGO_LINK_LEAF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "argo/abi.h"

/* Xen's largest sendv payload (MAX_ARGO_MESSAGE_SIZE). */
#define LEAF_MAX_MESSAGE 0xFFFFE0u
/* Ring handles a leaf may list when it attaches (Xen allows 128 rings per
 * domain; a leaf may still hold handles of rings re-registered away). */
#define LEAF_MAX_RINGS 1024u
/* The most ring bytes one LEAF_RING frame carries. */
#define LEAF_RING_CHUNK      (256u * 1024)

#define LEAF_ATTACH_MIN      16u
#define LEAF_RING_STATE_SIZE 24u
#define LEAF_ATTACH_MAX      (LEAF_ATTACH_MIN + LEAF_MAX_RINGS * LEAF_RING_STATE_SIZE)
#define LEAF_WELCOME_SIZE    16u
#define LEAF_REQUEST_MIN     16u
/* The largest request: a sendv with 8 lengths and the largest payload. */
#define LEAF_SENDV_FIXED 32u
#define LEAF_REQUEST_MAX                                                                           \
	(LEAF_REQUEST_MIN + LEAF_SENDV_FIXED + 8u * XEN_ARGO_MAXIOV + LEAF_MAX_MESSAGE)
#define LEAF_NOTIFY_FIXED   16u
#define LEAF_NOTIFY_ENT     20u
#define LEAF_REPLY_MIN      16u
#define LEAF_REPLY_ENT_SIZE 8u
#define LEAF_REPLY_MAX      (LEAF_REPLY_MIN + XEN_ARGO_MAX_NOTIFY_COUNT * LEAF_REPLY_ENT_SIZE)
#define LEAF_RING_MIN       16u
#define LEAF_RING_MAX       (LEAF_RING_MIN + LEAF_RING_CHUNK)
#define LEAF_RX_MIN         8u
#define LEAF_RX_ENT_SIZE    8u
#define LEAF_RX_MAX         (LEAF_RX_MIN + LEAF_MAX_RINGS * LEAF_RX_ENT_SIZE)

/* LEAF_ATTACH ring entry flags. */
#define LEAF_RING_REGISTERED 0x1u /* registered as far as the leaf knows */

/* LEAF_WELCOME flags. */
#define LEAF_WELCOME_RESUMED 0x1u /* the relay kept this leaf's domain and rings */

/* LEAF_RING flags. */
#define LEAF_RING_PUBLISH 0x1u /* after writing, publish tx as the ring's tx_ptr */

/* A ring as the leaf has it, in LEAF_ATTACH. */
struct leaf_ring_state {
	uint32_t id; /* the leaf's name for this handle (its register request's) */
	uint32_t aport;
	argo_domid_t partner_id;
	uint16_t flags; /* LEAF_RING_REGISTERED */
	uint32_t len;
	uint32_t tx; /* the last tx_ptr it published: every byte before is there */
	uint32_t rx; /* its reader's rx_ptr */
};

struct leaf_attach {
	uint64_t boot; /* random per argo_open: a new value is a new leaf process */
	uint32_t nrings;
	/* Decoder: nrings entries at 'rings' (wire bytes, leaf_get_ring_state);
	 * encoder: the caller's array. */
	const uint8_t *rings;
};

struct leaf_welcome {
	int32_t status; /* 0, or the -errno the leaf's argo_open (or resume) fails with */
	argo_domid_t domid;
	uint32_t flags; /* LEAF_WELCOME_* */
};

enum leaf_op {
	LEAF_OP_REGISTER = 1,
	LEAF_OP_UNREGISTER = 2,
	LEAF_OP_SENDV = 3,
	LEAF_OP_NOTIFY = 4,
	LEAF_OP_SYNC = 5,  /* nothing: its reply follows everything the relay had to say */
	LEAF_OP_CLOSE = 6, /* the leaf's domain dies */
};

struct leaf_request {
	uint64_t id; /* never 0; grows by one per request of a leaf process */
	uint32_t op; /* enum leaf_op */
	union {
		struct {
			uint32_t ring_id;
			xen_argo_register_ring_t reg; /* as the caller gave it, pad included */
			uint32_t flags;
		} reg;
		xen_argo_unregister_ring_t unreg;
		struct {
			xen_argo_send_addr_t addr; /* pads included */
			uint32_t niov;             /* as given; above 8, no lengths follow */
			uint32_t message_type;
			/* false when the lengths add up to more than Xen takes: the
			 * payload is not sent (the send fails before it is read). */
			bool has_data;
			uint64_t lens[XEN_ARGO_MAXIOV];
			const uint8_t *data; /* decoder: has_data ? the sum of lens bytes : NULL */
			uint64_t data_len;
		} send;
		struct {
			bool has_ring_data; /* false: notify with a NULL ring_data */
			uint32_t nent, pad; /* ring_data's nent and pad, as given */
			/* nent <= 256 entries (wire bytes: leaf_get_notify_ent); above
			 * 256, none (Xen refuses the count before reading any). */
			const uint8_t *ents;
		} notify;
	} u;
};

struct leaf_reply {
	uint64_t id;
	int32_t ret;
	uint32_t nent;       /* notify: the entries written back */
	const uint8_t *ents; /* decoder: wire bytes (leaf_get_reply_ent) */
};

struct leaf_ring_bytes {
	uint32_t ring_id;
	uint32_t offset; /* where the bytes go in the ring (after its 64-byte header) */
	uint32_t flags;  /* LEAF_RING_* */
	uint32_t tx;     /* with PUBLISH: the tx_ptr to publish (offset + n, mod len) */
	uint32_t n;
	const uint8_t *bytes;
};

/* ---- Encoders (the caller frames them) ----------------------------------- */
int leaf_put_attach(uint8_t *out, size_t cap, uint64_t boot, const struct leaf_ring_state *rings,
                    uint32_t nrings);
int leaf_put_welcome(uint8_t *out, size_t cap, const struct leaf_welcome *w);
/* The request's fixed part: for a sendv everything but the payload (which
 * follows it in the frame, has_data ? data_len bytes : none); for a notify
 * everything but the entries (nent * LEAF_NOTIFY_ENT bytes from
 * leaf_put_notify_ent, when has_ring_data and nent <= 256). */
int leaf_put_request(uint8_t *out, size_t cap, const struct leaf_request *r);
void leaf_put_notify_ent(uint8_t out[LEAF_NOTIFY_ENT], const xen_argo_ring_data_ent_t *e);
/* The reply's fixed part; nent entries of LEAF_REPLY_ENT_SIZE follow
 * (leaf_put_reply_ent). */
int leaf_put_reply(uint8_t *out, size_t cap, const struct leaf_reply *r);
void leaf_put_reply_ent(uint8_t out[LEAF_REPLY_ENT_SIZE], uint16_t flags,
                        uint32_t max_message_size);
/* The fixed part of LEAF_RING; r->n bytes follow. */
int leaf_put_ring(uint8_t out[LEAF_RING_MIN], const struct leaf_ring_bytes *r);
/* The fixed part of LEAF_RX; count entries follow (leaf_put_rx_ent). */
int leaf_put_rx(uint8_t out[LEAF_RX_MIN], uint32_t count);
void leaf_put_rx_ent(uint8_t out[LEAF_RX_ENT_SIZE], uint32_t ring_id, uint32_t rx);

/* ---- Decoders -------------------------------------------------------------- */
int leaf_parse_attach(const uint8_t *p, uint32_t len, struct leaf_attach *a, const char **why);
/* Entry i of a decoded attach (i < nrings): 0, or -EBADMSG (non-zero pad,
 * an invalid ring length or pointer). */
int leaf_get_ring_state(const struct leaf_attach *a, uint32_t i, struct leaf_ring_state *s,
                        const char **why);
int leaf_parse_welcome(const uint8_t *p, uint32_t len, struct leaf_welcome *w, const char **why);
int leaf_parse_request(const uint8_t *p, uint32_t len, struct leaf_request *r, const char **why);
void leaf_get_notify_ent(const uint8_t *ents, uint32_t i, xen_argo_ring_data_ent_t *e);
int leaf_parse_reply(const uint8_t *p, uint32_t len, struct leaf_reply *r, const char **why);
void leaf_get_reply_ent(const uint8_t *ents, uint32_t i, uint16_t *flags,
                        uint32_t *max_message_size);
int leaf_parse_ring(const uint8_t *p, uint32_t len, struct leaf_ring_bytes *r, const char **why);
/* *count entries at *ents (leaf_get_rx_ent). */
int leaf_parse_rx(const uint8_t *p, uint32_t len, uint32_t *count, const uint8_t **ents,
                  const char **why);
void leaf_get_rx_ent(const uint8_t *ents, uint32_t i, uint32_t *ring_id, uint32_t *rx);

#endif /* ARGO_LINK_LEAF_WIRE_H */
