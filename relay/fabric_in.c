/* SPDX-License-Identifier: MIT */
/*
 * Fabric in: rings to messages (fabric_in.h; docs/relay-design.md,
 * "Back-pressure and the memory bound", "Custody").
 */
#define _GNU_SOURCE
#include "fabric_in.h"

#include <errno.h>
#include <string.h>

#include "argo/routed.h"
#include "log.h"

void fabric_in_init(struct fabric_in *in, const struct relay_config *config, struct ports *ports,
                    struct router *router, struct msg_account *account)
{
	memset(in, 0, sizeof(*in));
	in->config = config;
	in->ports = ports;
	in->router = router;
	in->account = account;
}

/* Custody of a message read from a ring: done, its slots may be released;
 * let go, it stays in the ring for the next run to read again. */
static void ring_msg_done(void *source, uint64_t index, uint32_t len)
{
	(void)len;
	port_done(source, (uint32_t)index);
}

static void ring_msg_release(void *source, uint64_t index, uint32_t len)
{
	(void)source;
	(void)index;
	(void)len;
}

static const struct msg_source_ops ring_source = {
    .done = ring_msg_done,
    .release = ring_msg_release,
};

/* Can a message for dst be taken on now? Nothing new while the relay is
 * at its memory bound; otherwise its way out must have room. */
static bool can_go(struct fabric_in *in, const struct wire_gaddr *dst)
{
	return in->account->held_bytes < in->account->limit && router_can_take(in->router, dst);
}

/* Reads one ring while its next message can go somewhere. The slots stay
 * taken until port_done(). */
static void drain_port(struct fabric_in *in, struct local_port *p)
{
	p->blocked = false;
	for (;;) {
		struct wire_gaddr src = {0}, dst;
		struct msg *msg;
		xen_argo_addr_t from;
		uint32_t type, next, index;
		ssize_t n = argo_ring_read_at(p->ring->shared, p->ring->len, p->read_at, &from,
		                              &type, NULL, 0, &next);
		bool bad_header = false;

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			relay_log(0, "port %u: ring corrupt (%s)", p->port, argo_strerror((int)n));
			break;
		}
		memcpy(src.hvid, in->config->hvid, WIRE_HVID_SIZE);
		src.domid = from.domain_id;
		src.port = from.aport;
		dst = p->remote;
		if (p->kind == PORT_ROUTED ? in->account->held_bytes >= in->account->limit
		                           : !can_go(in, &dst)) {
			p->blocked = true;
			break;
		}
		msg = port_read_reserve(p) < 0 ? NULL : msg_new(in->account, (uint32_t)n);
		if (!msg) {
			p->blocked = true;
			break;
		}
		if (argo_ring_read_at(p->ring->shared, p->ring->len, p->read_at, NULL, NULL,
		                      msg->data, msg->len, &next) != n) {
			msg_discard(msg);
			break;
		}
		if (p->kind == PORT_ROUTED) {
			/* The destination is in the routed header (a bad one
			 * goes back to the sender as EINVAL, below). */
			struct argo_gaddr g;

			msg->routed = true;
			bad_header =
			    n < ARGO_ROUTED_HDR_SIZE || argo_routed_hdr_get(msg->data, &g) < 0;
			if (!bad_header) {
				memset(&dst, 0, sizeof(dst));
				memcpy(dst.hvid, g.hvid, WIRE_HVID_SIZE);
				dst.domid = g.domid;
				dst.port = g.port;
				if (!router_can_take(in->router, &dst)) {
					msg_discard(msg);
					p->blocked = true;
					break;
				}
				msg_trim_front(msg, ARGO_ROUTED_HDR_SIZE);
			}
		}
		index = port_read_commit(p, next);
		msg_hold(msg, &ring_source, p, index);
		in->counters.local_rx++;
		msg->origin.epoch = port_epoch(p);
		msg->origin.index = index;
		msg->src = src;
		msg->dst = dst;
		msg->message_type = type;
		if (bad_header) {
			in->counters.routed_malformed++;
			router_undeliverable(in->router, msg, EINVAL);
			continue;
		}
		router_route(in->router, msg);
	}
}

void fabric_in_drain(struct fabric_in *in)
{
	int i;

	for (i = 0; i < in->ports->nports; i++)
		if (in->ports->ports[i].ring)
			drain_port(in, &in->ports->ports[i]);
}

void fabric_in_kick(struct fabric_in *in)
{
	int i;

	for (i = 0; i < in->ports->nports; i++)
		if (in->ports->ports[i].blocked && in->ports->ports[i].ring)
			drain_port(in, &in->ports->ports[i]);
}
