/* SPDX-License-Identifier: MIT */
/*
 * Fabric out: messages to rings, hold queues, reports, copies dropped
 * (fabric_out.h; docs/relay-design.md, "Custody").
 */
#define _GNU_SOURCE
#include "fabric_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argo/routed.h"
#include "show.h"

_Static_assert(ARGO_HVID_SIZE == WIRE_HVID_SIZE, "a routed hvid is a wire hvid");

/* Messages waiting for room in one local destination's ring. */
struct hold {
	struct hold *next;
	argo_domid_t domid;
	uint32_t port;
	struct msg_queue q;
};

void fabric_out_init(struct fabric_out *out, struct argo_fabric *fabric,
                     const struct relay_config *config, struct ports *ports, struct dedup *dedup,
                     struct router *router)
{
	memset(out, 0, sizeof(*out));
	out->fabric = fabric;
	out->config = config;
	out->ports = ports;
	out->dedup = dedup;
	out->router = router;
}

void fabric_out_flush(struct fabric_out *out)
{
	struct msg *msg;

	if (!out->settled.head)
		return;
	dedup_flush(out->dedup);
	while ((msg = msg_queue_pop(&out->settled))) {
		out->counters.local_delivered++;
		msg_done(msg);
	}
}

uint32_t fabric_out_awaiting_sync(const struct fabric_out *out)
{
	return out->settled.count;
}

void fabric_out_fini(struct fabric_out *out)
{
	struct hold *h;

	/* Delivered: done with, once written down. */
	fabric_out_flush(out);
	while ((h = out->holds)) {
		struct msg *msg;

		out->holds = h->next;
		while ((msg = msg_queue_pop(&h->q)))
			msg_release(msg);
		free(h);
	}
}

static struct hold *find_hold(struct fabric_out *out, argo_domid_t domid, uint32_t port)
{
	struct hold *h;

	for (h = out->holds; h; h = h->next)
		if (h->domid == domid && h->port == port)
			return h;
	return NULL;
}

/* Map a fabric error to what the sender is told. */
static int undeliverable_cause(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ESRCH:
		return ECONNREFUSED;
	case -EMSGSIZE:
		return EMSGSIZE;
	case -EACCES:
	case -EPERM:
		return EACCES;
	default:
		return -err;
	}
}

/* The message has arrived where it was going. Its record must reach the
 * disk before the relay before us hears it is done (state_sync): with a
 * batch, that is at the end of the round (fabric_out_flush()). */
static void delivered(struct fabric_out *out, struct msg *msg)
{
	if (dedup_dirty(out->dedup)) {
		msg_queue_push(&out->settled, msg);
		return;
	}
	out->counters.local_delivered++;
	msg_done(msg);
}

/* A copy of a message settled before (dedup.h): dropped. If that one was
 * found undeliverable here (error), its sender is told again: the report
 * may have been lost with the relay before us (docs/relay-design.md,
 * "Custody"). */
static void copy_dropped(struct fabric_out *out, struct msg *msg, int error)
{
	out->counters.duplicates_dropped++;
	if (error)
		router_report_again(out->router, msg, error);
	msg_done(msg);
}

/* The message cannot be delivered: settled here for good (a copy of it is
 * not reported or counted again), then reported to its sender. */
static void undeliverable(struct fabric_out *out, struct msg *msg, int error)
{
	out->counters.local_undeliverable++;
	dedup_undeliverable(out->dedup, msg, error);
	router_undeliverable(out->router, msg, error);
}

/* One send into the fabric: 1 delivered, 2 settled before (a copy: drop
 * it; *copy_error as dedup_seen() says), 0 ring full (keep it), <0
 * error. */
static int try_send(struct fabric_out *out, struct msg *msg, int *copy_error)
{
	int err = -ENOPROTOOPT, niov = 1;
	struct local_port *p;
	xen_argo_send_addr_t addr = {
	    .dst = {.aport = msg->dst.port, .domain_id = msg->dst.domid},
	};
	uint8_t hdr[ARGO_ROUTED_HDR_SIZE];
	struct iovec iov[2] = {{.iov_base = msg->data, .iov_len = msg->len}};
	uint64_t tag;
	ssize_t n;

	/* A copy of a message settled before goes no further, whatever
	 * else would have happened to it. */
	if (dedup_seen(out->dedup, msg, copy_error))
		return 2;
	if (msg->routed) {
		/* From the routed port, the global source in front. */
		struct argo_gaddr src = {.domid = msg->src.domid, .port = msg->src.port};

		p = ports_routed(out->ports);
		memcpy(src.hvid, msg->src.hvid, WIRE_HVID_SIZE);
		argo_routed_hdr_put(hdr, &src);
		iov[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof(hdr)};
		iov[1] = (struct iovec){.iov_base = msg->data, .iov_len = msg->len};
		niov = 2;
	} else {
		p = port_for_remote(out->ports, &msg->src, msg->dst.domid, true, &err);
	}
	if (!p)
		return err;
	/* Its partner failed us lately, or left: the ring that takes the
	 * answers may have gone with it, and must be back before the new
	 * domain answers (issue 11). */
	if (p->recheck || p->gone)
		port_recheck(out->ports, p);
	addr.src.aport = p->port;
	addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	tag = dedup_begin(out->dedup, msg);
	if (tag)
		n = argo_sendv_tagged(out->fabric, &addr, iov, (unsigned int)niov,
		                      msg->message_type, tag);
	else
		n = argo_sendv(out->fabric, &addr, iov, (unsigned int)niov, msg->message_type);
	dedup_end(out->dedup, n >= 0);
	if (n >= 0)
		return 1;
	if (n == -EAGAIN || n == -EBUSY)
		return 0;
	if (n == -ESRCH || n == -ECONNREFUSED)
		ports_partner_failed(out->ports, msg->dst.domid);
	return (int)n;
}

/* A message for an endpoint of our own fabric (the router's send). */
static void deliver(void *end, struct msg *msg)
{
	struct fabric_out *out = end;
	struct hold *h = find_hold(out, msg->dst.domid, msg->dst.port);
	int ret, copy_error;

	if (dedup_seen(out->dedup, msg, &copy_error)) {
		copy_dropped(out, msg, copy_error);
		return;
	}
	if (!config_policy_allows(out->config, &msg->src, &msg->dst)) {
		undeliverable(out, msg, EACCES);
		return;
	}
	if (!h) {
		ret = try_send(out, msg, &copy_error);
		if (ret == 1) {
			delivered(out, msg);
			return;
		}
		if (ret == 2) {
			copy_dropped(out, msg, copy_error);
			return;
		}
		if (ret < 0) {
			undeliverable(out, msg, undeliverable_cause(ret));
			return;
		}
		h = calloc(1, sizeof(*h));
		if (!h) {
			undeliverable(out, msg, ENOMEM);
			return;
		}
		h->domid = msg->dst.domid;
		h->port = msg->dst.port;
		h->next = out->holds;
		out->holds = h;
	}
	out->counters.local_held++;
	msg_queue_push(&h->q, msg);
}

void fabric_out_retry(struct fabric_out *out)
{
	struct hold **hp = &out->holds, *h;

	while ((h = *hp)) {
		struct msg *msg;

		while ((msg = h->q.head)) {
			int copy_error, ret = try_send(out, msg, &copy_error);

			if (ret == 0)
				break;
			msg_queue_pop(&h->q);
			if (ret == 1)
				delivered(out, msg);
			else if (ret == 2)
				copy_dropped(out, msg, copy_error);
			else
				undeliverable(out, msg, undeliverable_cause(ret));
		}
		if (!h->q.head) {
			*hp = h->next;
			free(h);
		} else {
			hp = &h->next;
		}
	}
}

bool fabric_out_holding(const struct fabric_out *out)
{
	return out->holds != NULL;
}

/* Tells a local guest that a message it sent could not be delivered: a
 * control message of the reserved type, from the port it sent to. */
static void report_to_guest(struct fabric_out *out, const struct local_port *from,
                            argo_domid_t domid, uint32_t port, const struct wire_gaddr *dst,
                            uint32_t error)
{
	uint8_t payload[ARGO_ROUTED_REPORT_SIZE];
	xen_argo_send_addr_t addr = {
	    .src = {.aport = from->port, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = port, .domain_id = domid},
	};
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload)};
	struct argo_gaddr failed = {.domid = dst->domid, .port = dst->port};

	memcpy(failed.hvid, dst->hvid, WIRE_HVID_SIZE);
	argo_routed_report_put(payload, error, &failed);
	if (argo_sendv(out->fabric, &addr, &iov, 1, ARGO_MSGTYPE_UNDELIVERABLE) >= 0)
		out->counters.reports_sent++;
	else
		out->counters.reports_failed++;
}

/* An undeliverable report for a message one of our guests sent (the
 * router's report). */
static void report(void *end, const struct wire_undeliverable *u)
{
	struct fabric_out *out = end;
	const struct local_port *p;
	int err;

	/* The report comes from the port the guest sent to: the routed port
	 * for a routed message, else the import or proxy port that stands
	 * for the destination. */
	if (u->flags & WIRE_DATA_ROUTED)
		p = ports_routed(out->ports);
	else
		p = port_for_remote(out->ports, &u->dst, u->src.domid, false, &err);
	if (p)
		report_to_guest(out, p, u->src.domid, u->src.port, &u->dst, u->error);
}

/* Our fabric takes every message: what does not fit waits in a hold queue,
 * bounded by what the links and rings may bring in. */
static bool can_take(const void *end)
{
	(void)end;
	return true;
}

static bool is_up(const void *end)
{
	(void)end;
	return true;
}

static const struct relay_end_ops fabric_out_ops = {
    .send = deliver,
    .can_take = can_take,
    .report = report,
    .is_up = is_up,
};

struct relay_end fabric_out_end(struct fabric_out *out)
{
	return (struct relay_end){.ops = &fabric_out_ops, .end = out};
}

void fabric_out_each(const struct fabric_out *out, void (*fn)(const struct msg *, void *),
                     void *ctx)
{
	const struct hold *h;
	const struct msg *m;

	for (h = out->holds; h; h = h->next)
		for (m = h->q.head; m; m = m->next)
			fn(m, ctx);
	for (m = out->settled.head; m; m = m->next)
		fn(m, ctx);
}

void fabric_out_dump(const struct fabric_out *out, struct strbuf *sb, bool json)
{
	const struct hold *h;
	struct show_buf port = {{0}};
	int i;

	if (json)
		strbuf_add(sb, ",\"holds\":[");
	for (h = out->holds, i = 0; h; h = h->next, i++) {
		if (json)
			strbuf_add(sb,
			           "%s{\"domid\":%u,\"port\":%u,\"messages\":%u,\"bytes\":%llu}",
			           i ? "," : "", h->domid, h->port, h->q.count,
			           (unsigned long long)h->q.bytes);
		else
			strbuf_add(sb, "  held for %u:%s: %u messages, %llu bytes\n", h->domid,
			           show_port(&port, h->port), h->q.count,
			           (unsigned long long)h->q.bytes);
	}
	if (json)
		strbuf_add(sb, "]");
}
