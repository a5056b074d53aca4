/* SPDX-License-Identifier: MIT */
/*
 * A leaf endpoint's frame payloads: leaf_wire.h; the layouts are drawn in
 * docs/protocol.md, "Leaf endpoints". Every reserved field must be 0 and
 * every length add up exactly, as in wire.c: whatever decodes re-encodes
 * to the same bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include "leaf_wire.h"

#include <errno.h>
#include <string.h>

#include "argo/ring.h"
#include "bytes.h"

#define ERRNO_MAX 4095

static int fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EBADMSG;
}

/* ---- LEAF_ATTACH ---------------------------------------------------------- */

int leaf_put_attach(uint8_t *out, size_t cap, uint64_t boot, const struct leaf_ring_state *rings,
                    uint32_t nrings)
{
	size_t len = LEAF_ATTACH_MIN + (size_t)nrings * LEAF_RING_STATE_SIZE;
	uint32_t i;

	if (nrings > LEAF_MAX_RINGS || len > cap || boot == 0)
		return -EMSGSIZE;
	for (i = 0; i < nrings; i++)
		if (rings[i].id == 0 || (rings[i].flags & ~LEAF_RING_REGISTERED) ||
		    !argo_ring_len_valid(rings[i].len) || rings[i].tx >= rings[i].len ||
		    rings[i].tx % XEN_ARGO_MSG_SLOT_SIZE)
			return -EMSGSIZE;
	put_u64(out, boot);
	put_u32(out + 8, nrings);
	put_u32(out + 12, 0);
	for (i = 0; i < nrings; i++) {
		uint8_t *e = out + LEAF_ATTACH_MIN + (size_t)i * LEAF_RING_STATE_SIZE;

		put_u32(e, rings[i].id);
		put_u32(e + 4, rings[i].aport);
		put_u16(e + 8, rings[i].partner_id);
		put_u16(e + 10, rings[i].flags);
		put_u32(e + 12, rings[i].len);
		put_u32(e + 16, rings[i].tx);
		put_u32(e + 20, rings[i].rx);
	}
	return (int)len;
}

int leaf_parse_attach(const uint8_t *p, uint32_t len, struct leaf_attach *a, const char **why)
{
	if (len < LEAF_ATTACH_MIN || len > LEAF_ATTACH_MAX ||
	    (len - LEAF_ATTACH_MIN) % LEAF_RING_STATE_SIZE != 0)
		return fail(why, "LEAF_ATTACH length is not 16 + 24 * rings");
	a->boot = get_u64(p);
	a->nrings = get_u32(p + 8);
	if (a->boot == 0)
		return fail(why, "LEAF_ATTACH boot is 0");
	if (get_u32(p + 12) != 0)
		return fail(why, "LEAF_ATTACH reserved field is not 0");
	if (a->nrings != (len - LEAF_ATTACH_MIN) / LEAF_RING_STATE_SIZE)
		return fail(why, "LEAF_ATTACH ring count does not match its length");
	a->rings = p + LEAF_ATTACH_MIN;
	return 0;
}

int leaf_get_ring_state(const struct leaf_attach *a, uint32_t i, struct leaf_ring_state *s,
                        const char **why)
{
	const uint8_t *e = a->rings + (size_t)i * LEAF_RING_STATE_SIZE;

	s->id = get_u32(e);
	s->aport = get_u32(e + 4);
	s->partner_id = get_u16(e + 8);
	s->flags = get_u16(e + 10);
	s->len = get_u32(e + 12);
	s->tx = get_u32(e + 16);
	s->rx = get_u32(e + 20);
	if (s->flags & ~LEAF_RING_REGISTERED)
		return fail(why, "LEAF_ATTACH ring flags has bits this version does not know");
	if (s->id == 0)
		return fail(why, "LEAF_ATTACH ring id is 0");
	if (!argo_ring_len_valid(s->len))
		return fail(why, "LEAF_ATTACH ring length is not a valid Argo ring length");
	if (s->tx >= s->len || s->tx % XEN_ARGO_MSG_SLOT_SIZE != 0)
		return fail(why, "LEAF_ATTACH ring tx is not a slot inside the ring");
	return 0;
}

/* ---- LEAF_WELCOME --------------------------------------------------------- */

int leaf_put_welcome(uint8_t *out, size_t cap, const struct leaf_welcome *w)
{
	if (cap < LEAF_WELCOME_SIZE || w->status > 0 || w->status < -ERRNO_MAX ||
	    (w->flags & ~LEAF_WELCOME_RESUMED) ||
	    (w->status == 0 && w->domid >= XEN_DOMID_FIRST_RESERVED))
		return -EMSGSIZE;
	put_u32(out, (uint32_t)w->status);
	put_u16(out + 4, w->status == 0 ? w->domid : 0);
	put_u16(out + 6, 0);
	put_u32(out + 8, w->flags);
	put_u32(out + 12, 0);
	return LEAF_WELCOME_SIZE;
}

int leaf_parse_welcome(const uint8_t *p, uint32_t len, struct leaf_welcome *w, const char **why)
{
	if (len != LEAF_WELCOME_SIZE)
		return fail(why, "LEAF_WELCOME length is not 16");
	w->status = (int32_t)get_u32(p);
	w->domid = get_u16(p + 4);
	w->flags = get_u32(p + 8);
	if (w->status > 0 || w->status < -ERRNO_MAX)
		return fail(why, "LEAF_WELCOME status is not 0 or a negative errno");
	if (get_u16(p + 6) != 0 || get_u32(p + 12) != 0)
		return fail(why, "LEAF_WELCOME reserved field is not 0");
	if (w->flags & ~LEAF_WELCOME_RESUMED)
		return fail(why, "LEAF_WELCOME flags has bits this version does not know");
	if (w->status == 0 ? w->domid >= XEN_DOMID_FIRST_RESERVED : w->domid != 0)
		return fail(why, "LEAF_WELCOME domid is not a domain's");
	return 0;
}

/* ---- LEAF_REQUEST --------------------------------------------------------- */

static void put_addr(uint8_t *p, const xen_argo_addr_t *a)
{
	put_u32(p, a->aport);
	put_u16(p + 4, a->domain_id);
	put_u16(p + 6, a->pad);
}

static void get_addr(const uint8_t *p, xen_argo_addr_t *a)
{
	a->aport = get_u32(p);
	a->domain_id = get_u16(p + 4);
	a->pad = get_u16(p + 6);
}

/* The sum of a sendv's lengths, saturating: > LEAF_MAX_MESSAGE is all
 * that matters beyond it. */
static uint64_t sum_lens(const uint64_t *lens, uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		sum = lens[i] > UINT64_MAX - sum ? UINT64_MAX : sum + lens[i];
	return sum;
}

/* Is the payload of this sendv carried? Whenever Xen could read all of it. */
static bool send_has_data(uint32_t niov, const uint64_t *lens)
{
	return niov <= XEN_ARGO_MAXIOV && sum_lens(lens, niov) <= LEAF_MAX_MESSAGE;
}

int leaf_put_request(uint8_t *out, size_t cap, const struct leaf_request *r)
{
	size_t len = LEAF_REQUEST_MIN;
	uint32_t i, k;

	if (r->id == 0 || cap < LEAF_REQUEST_MIN)
		return -EMSGSIZE;
	put_u64(out, r->id);
	put_u32(out + 8, r->op);
	put_u32(out + 12, 0);
	switch (r->op) {
	case LEAF_OP_REGISTER:
		len += 20;
		if (cap < len)
			return -EMSGSIZE;
		put_u32(out + 16, r->u.reg.ring_id);
		put_u32(out + 20, r->u.reg.reg.aport);
		put_u16(out + 24, r->u.reg.reg.partner_id);
		put_u16(out + 26, r->u.reg.reg.pad);
		put_u32(out + 28, r->u.reg.reg.len);
		put_u32(out + 32, r->u.reg.flags);
		if (r->u.reg.ring_id == 0)
			return -EMSGSIZE;
		break;
	case LEAF_OP_UNREGISTER:
		len += 8;
		if (cap < len)
			return -EMSGSIZE;
		put_u32(out + 16, r->u.unreg.aport);
		put_u16(out + 20, r->u.unreg.partner_id);
		put_u16(out + 22, r->u.unreg.pad);
		break;
	case LEAF_OP_SENDV:
		k = r->u.send.niov <= XEN_ARGO_MAXIOV ? r->u.send.niov : 0;
		len += LEAF_SENDV_FIXED + 8u * k;
		if (cap < len ||
		    r->u.send.has_data != send_has_data(r->u.send.niov, r->u.send.lens))
			return -EMSGSIZE;
		put_addr(out + 16, &r->u.send.addr.src);
		put_addr(out + 24, &r->u.send.addr.dst);
		put_u32(out + 32, r->u.send.niov);
		put_u32(out + 36, r->u.send.message_type);
		put_u32(out + 40, r->u.send.has_data);
		put_u32(out + 44, 0);
		for (i = 0; i < k; i++)
			put_u64(out + 48 + 8 * i, r->u.send.lens[i]);
		break;
	case LEAF_OP_NOTIFY:
		len += LEAF_NOTIFY_FIXED;
		if (cap < len ||
		    (!r->u.notify.has_ring_data && (r->u.notify.nent || r->u.notify.pad)))
			return -EMSGSIZE;
		put_u32(out + 16, r->u.notify.has_ring_data);
		put_u32(out + 20, r->u.notify.nent);
		put_u32(out + 24, r->u.notify.pad);
		put_u32(out + 28, 0);
		break;
	case LEAF_OP_SYNC:
	case LEAF_OP_CLOSE:
		break;
	default:
		return -EMSGSIZE;
	}
	return (int)len;
}

void leaf_put_notify_ent(uint8_t out[LEAF_NOTIFY_ENT], const xen_argo_ring_data_ent_t *e)
{
	put_addr(out, &e->ring);
	put_u16(out + 8, e->flags);
	put_u16(out + 10, e->pad);
	put_u32(out + 12, e->space_required);
	put_u32(out + 16, e->max_message_size);
}

void leaf_get_notify_ent(const uint8_t *ents, uint32_t i, xen_argo_ring_data_ent_t *e)
{
	const uint8_t *p = ents + (size_t)i * LEAF_NOTIFY_ENT;

	get_addr(p, &e->ring);
	e->flags = get_u16(p + 8);
	e->pad = get_u16(p + 10);
	e->space_required = get_u32(p + 12);
	e->max_message_size = get_u32(p + 16);
}

static int parse_sendv(const uint8_t *p, uint32_t len, struct leaf_request *r, const char **why)
{
	uint32_t k, i, has_data;
	uint64_t fixed;

	if (len < LEAF_REQUEST_MIN + LEAF_SENDV_FIXED)
		return fail(why, "LEAF_REQUEST sendv is shorter than its fixed part");
	get_addr(p + 16, &r->u.send.addr.src);
	get_addr(p + 24, &r->u.send.addr.dst);
	r->u.send.niov = get_u32(p + 32);
	r->u.send.message_type = get_u32(p + 36);
	has_data = get_u32(p + 40);
	if (get_u32(p + 44) != 0)
		return fail(why, "LEAF_REQUEST sendv reserved field is not 0");
	if (has_data > 1)
		return fail(why, "LEAF_REQUEST sendv has_data is not 0 or 1");
	k = r->u.send.niov <= XEN_ARGO_MAXIOV ? r->u.send.niov : 0;
	fixed = LEAF_REQUEST_MIN + LEAF_SENDV_FIXED + 8u * (uint64_t)k;
	if (len < fixed)
		return fail(why, "LEAF_REQUEST sendv is shorter than its iov lengths");
	memset(r->u.send.lens, 0, sizeof(r->u.send.lens));
	for (i = 0; i < k; i++)
		r->u.send.lens[i] = get_u64(p + 48 + 8 * i);
	r->u.send.has_data = has_data;
	if (r->u.send.has_data != send_has_data(r->u.send.niov, r->u.send.lens))
		return fail(
		    why, "LEAF_REQUEST sendv carries its payload exactly when Xen could take it");
	r->u.send.data_len = has_data ? sum_lens(r->u.send.lens, k) : 0;
	if (len - fixed != r->u.send.data_len)
		return fail(why, "LEAF_REQUEST sendv payload does not match its iov lengths");
	r->u.send.data = has_data ? p + fixed : NULL;
	return 0;
}

static int parse_notify(const uint8_t *p, uint32_t len, struct leaf_request *r, const char **why)
{
	uint32_t has, n;

	if (len < LEAF_REQUEST_MIN + LEAF_NOTIFY_FIXED)
		return fail(why, "LEAF_REQUEST notify is shorter than its fixed part");
	has = get_u32(p + 16);
	r->u.notify.nent = get_u32(p + 20);
	r->u.notify.pad = get_u32(p + 24);
	if (has > 1 || get_u32(p + 28) != 0)
		return fail(why,
		            "LEAF_REQUEST notify has_ring_data or reserved field out of range");
	r->u.notify.has_ring_data = has;
	if (!has && (r->u.notify.nent || r->u.notify.pad))
		return fail(why, "LEAF_REQUEST notify without ring data has entries");
	n = has && r->u.notify.nent <= XEN_ARGO_MAX_NOTIFY_COUNT ? r->u.notify.nent : 0;
	if (len != LEAF_REQUEST_MIN + LEAF_NOTIFY_FIXED + (uint64_t)n * LEAF_NOTIFY_ENT)
		return fail(why, "LEAF_REQUEST notify length does not match its entries");
	r->u.notify.ents = p + LEAF_REQUEST_MIN + LEAF_NOTIFY_FIXED;
	return 0;
}

int leaf_parse_request(const uint8_t *p, uint32_t len, struct leaf_request *r, const char **why)
{
	if (len < LEAF_REQUEST_MIN || len > LEAF_REQUEST_MAX)
		return fail(why, "LEAF_REQUEST length out of bounds");
	memset(r, 0, sizeof(*r));
	r->id = get_u64(p);
	r->op = get_u32(p + 8);
	if (r->id == 0)
		return fail(why, "LEAF_REQUEST id is 0");
	if (get_u32(p + 12) != 0)
		return fail(why, "LEAF_REQUEST reserved field is not 0");
	switch (r->op) {
	case LEAF_OP_REGISTER:
		if (len != LEAF_REQUEST_MIN + 20)
			return fail(why, "LEAF_REQUEST register length is not 36");
		r->u.reg.ring_id = get_u32(p + 16);
		r->u.reg.reg.aport = get_u32(p + 20);
		r->u.reg.reg.partner_id = get_u16(p + 24);
		r->u.reg.reg.pad = get_u16(p + 26);
		r->u.reg.reg.len = get_u32(p + 28);
		r->u.reg.flags = get_u32(p + 32);
		if (r->u.reg.ring_id == 0)
			return fail(why, "LEAF_REQUEST register ring id is 0");
		return 0;
	case LEAF_OP_UNREGISTER:
		if (len != LEAF_REQUEST_MIN + 8)
			return fail(why, "LEAF_REQUEST unregister length is not 24");
		r->u.unreg.aport = get_u32(p + 16);
		r->u.unreg.partner_id = get_u16(p + 20);
		r->u.unreg.pad = get_u16(p + 22);
		return 0;
	case LEAF_OP_SENDV:
		return parse_sendv(p, len, r, why);
	case LEAF_OP_NOTIFY:
		return parse_notify(p, len, r, why);
	case LEAF_OP_SYNC:
	case LEAF_OP_CLOSE:
		return len == LEAF_REQUEST_MIN ? 0 : fail(why, "LEAF_REQUEST length is not 16");
	default:
		return fail(why, "LEAF_REQUEST op unknown");
	}
}

/* ---- LEAF_REPLY ----------------------------------------------------------- */

int leaf_put_reply(uint8_t *out, size_t cap, const struct leaf_reply *r)
{
	if (cap < LEAF_REPLY_MIN || r->id == 0 || r->nent > XEN_ARGO_MAX_NOTIFY_COUNT ||
	    r->ret < -ERRNO_MAX || r->ret > (int32_t)LEAF_MAX_MESSAGE)
		return -EMSGSIZE;
	put_u64(out, r->id);
	put_u32(out + 8, (uint32_t)r->ret);
	put_u32(out + 12, r->nent);
	return LEAF_REPLY_MIN;
}

void leaf_put_reply_ent(uint8_t out[LEAF_REPLY_ENT_SIZE], uint16_t flags, uint32_t max_message_size)
{
	put_u16(out, flags);
	put_u16(out + 2, 0);
	put_u32(out + 4, max_message_size);
}

int leaf_parse_reply(const uint8_t *p, uint32_t len, struct leaf_reply *r, const char **why)
{
	uint32_t i;

	if (len < LEAF_REPLY_MIN || len > LEAF_REPLY_MAX ||
	    (len - LEAF_REPLY_MIN) % LEAF_REPLY_ENT_SIZE != 0)
		return fail(why, "LEAF_REPLY length is not 16 + 8 * entries");
	r->id = get_u64(p);
	r->ret = (int32_t)get_u32(p + 8);
	r->nent = get_u32(p + 12);
	if (r->id == 0)
		return fail(why, "LEAF_REPLY id is 0");
	if (r->ret < -ERRNO_MAX || r->ret > (int32_t)LEAF_MAX_MESSAGE)
		return fail(why, "LEAF_REPLY ret is neither a length nor a negative errno");
	if (r->nent != (len - LEAF_REPLY_MIN) / LEAF_REPLY_ENT_SIZE)
		return fail(why, "LEAF_REPLY entry count does not match its length");
	r->ents = p + LEAF_REPLY_MIN;
	for (i = 0; i < r->nent; i++)
		if (get_u16(r->ents + (size_t)i * LEAF_REPLY_ENT_SIZE + 2) != 0)
			return fail(why, "LEAF_REPLY entry padding is not 0");
	return 0;
}

void leaf_get_reply_ent(const uint8_t *ents, uint32_t i, uint16_t *flags,
                        uint32_t *max_message_size)
{
	const uint8_t *p = ents + (size_t)i * LEAF_REPLY_ENT_SIZE;

	*flags = get_u16(p);
	*max_message_size = get_u32(p + 4);
}

/* ---- LEAF_RING ------------------------------------------------------------ */

int leaf_put_ring(uint8_t out[LEAF_RING_MIN], const struct leaf_ring_bytes *r)
{
	if (r->n > LEAF_RING_CHUNK || (r->flags & ~LEAF_RING_PUBLISH) ||
	    (!(r->flags & LEAF_RING_PUBLISH) && (r->tx || !r->n)))
		return -EMSGSIZE;
	put_u32(out, r->ring_id);
	put_u32(out + 4, r->offset);
	put_u32(out + 8, r->flags);
	put_u32(out + 12, r->tx);
	return LEAF_RING_MIN;
}

int leaf_parse_ring(const uint8_t *p, uint32_t len, struct leaf_ring_bytes *r, const char **why)
{
	if (len < LEAF_RING_MIN || len > LEAF_RING_MAX)
		return fail(why, "LEAF_RING length out of bounds");
	r->ring_id = get_u32(p);
	r->offset = get_u32(p + 4);
	r->flags = get_u32(p + 8);
	r->tx = get_u32(p + 12);
	r->n = len - LEAF_RING_MIN;
	r->bytes = p + LEAF_RING_MIN;
	if (r->flags & ~LEAF_RING_PUBLISH)
		return fail(why, "LEAF_RING flags has bits this version does not know");
	if (!(r->flags & LEAF_RING_PUBLISH) && (r->tx || !r->n))
		return fail(why, "LEAF_RING without PUBLISH carries a tx or no bytes");
	return 0;
}

/* ---- LEAF_RX -------------------------------------------------------------- */

int leaf_put_rx(uint8_t out[LEAF_RX_MIN], uint32_t count)
{
	if (count > LEAF_MAX_RINGS)
		return -EMSGSIZE;
	put_u32(out, count);
	put_u32(out + 4, 0);
	return LEAF_RX_MIN;
}

void leaf_put_rx_ent(uint8_t out[LEAF_RX_ENT_SIZE], uint32_t ring_id, uint32_t rx)
{
	put_u32(out, ring_id);
	put_u32(out + 4, rx);
}

int leaf_parse_rx(const uint8_t *p, uint32_t len, uint32_t *count, const uint8_t **ents,
                  const char **why)
{
	if (len < LEAF_RX_MIN || len > LEAF_RX_MAX || (len - LEAF_RX_MIN) % LEAF_RX_ENT_SIZE != 0)
		return fail(why, "LEAF_RX length is not 8 + 8 * rings");
	*count = get_u32(p);
	if (get_u32(p + 4) != 0)
		return fail(why, "LEAF_RX reserved field is not 0");
	if (*count != (len - LEAF_RX_MIN) / LEAF_RX_ENT_SIZE)
		return fail(why, "LEAF_RX count does not match its length");
	*ents = p + LEAF_RX_MIN;
	return 0;
}

void leaf_get_rx_ent(const uint8_t *ents, uint32_t i, uint32_t *ring_id, uint32_t *rx)
{
	const uint8_t *p = ents + (size_t)i * LEAF_RX_ENT_SIZE;

	*ring_id = get_u32(p);
	*rx = get_u32(p + 4);
}
