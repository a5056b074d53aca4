/* SPDX-License-Identifier: MIT */
/*
 * The relay's side of its own fabric. It is an ordinary Argo client there,
 * with two kinds of ports of its own domain:
 *
 *   import ports (from the configuration): a guest sends to
 *   (relay domid, import port) with plain Argo; the relay forwards to the
 *   import's global target.
 *
 *   proxy ports (allocated on first use): a message from a remote endpoint
 *   R to a local guest G is sent into the fabric from a proxy port that
 *   stands for R, with a ring of its own (partner G), so that G's replies to
 *   that port go back to R. When R is the target of an import, the import
 *   port itself stands for R, so that a guest's conversation through an
 *   import uses one port both ways.
 *
 * Delivery into the fabric keeps order per destination: a message for a
 * destination that already has held messages joins the hold queue; a full
 * ring (-EAGAIN) starts one. Xen (and argo-simd) recorded us as a waiter,
 * so the fabric's event tells when to try again.
 *
 * A ring is read only when the message at its head can go somewhere now (its
 * link is up and has credit): otherwise it stays in the guest-visible ring,
 * which fills, and the sender gets -EAGAIN from its own fabric. That is the
 * end of the back-pressure chain, and also why a link failure loses nothing
 * that was not yet read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

/* Xen gives a domain 128 rings; keep a few for imports added later. */
#define MAX_LOCAL_PORTS 120

enum port_kind { PORT_IMPORT, PORT_PROXY };

struct local_port {
	enum port_kind kind;
	uint32_t port;
	argo_domid_t partner;
	struct wire_gaddr remote; /* import target, or the remote a proxy stands for */
	struct argo_ring *ring;
	uint64_t last_used;
	bool blocked; /* head message waits for link credit */
};

/* Messages waiting for room in one local destination's ring. */
struct hold {
	struct hold *next;
	argo_domid_t domid;
	uint32_t port;
	struct msg_queue q;
};

struct local {
	struct local_port ports[MAX_LOCAL_PORTS];
	int nports;
	struct hold *holds;
	uint64_t clock; /* for LRU */
	uint32_t next_proxy;
	uint8_t buf[XEN_ARGO_MAX_RING_SIZE];
};

static bool gaddr_eq(const struct wire_gaddr *a, const struct wire_gaddr *b)
{
	return a->domid == b->domid && a->port == b->port && strcmp(a->hvid, b->hvid) == 0;
}

static int register_port(struct relay *relay, struct local_port *p)
{
	xen_argo_register_ring_t reg = {
	    .aport = p->port,
	    .partner_id = p->partner,
	    .len = relay->config->ring_len,
	};
	int ret =
	    argo_register_ring(relay->fabric, &reg, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, &p->ring);

	if (ret < 0 && ret != -EEXIST)
		relay_log(ret == -ESRCH ? 1 : 0, "cannot register port %u (partner %u): %s",
		          p->port, p->partner, argo_strerror(ret));
	return ret;
}

int local_init(struct relay *relay)
{
	struct local *local = calloc(1, sizeof(*local));
	unsigned int i;
	int ret;

	if (!local)
		return -ENOMEM;
	relay->local = local;
	local->next_proxy = relay->config->proxy_port_min;
	for (i = 0; i < relay->config->nimports; i++) {
		const struct config_import *imp = &relay->config->imports[i];
		struct local_port *p = &local->ports[local->nports];

		if (local->nports >= MAX_LOCAL_PORTS)
			return -ENOSPC;
		p->kind = PORT_IMPORT;
		p->port = imp->port;
		p->partner = imp->partner;
		p->remote = imp->target;
		ret = register_port(relay, p);
		if (ret < 0)
			return ret;
		local->nports++;
	}
	return 0;
}

void local_fini(struct relay *relay)
{
	struct local *local = relay->local;
	struct hold *h;
	int i;

	if (!local)
		return;
	while ((h = local->holds)) {
		struct relay_msg *msg;

		local->holds = h->next;
		while ((msg = queue_pop(&h->q)))
			msg_free(relay, msg);
		free(h);
	}
	for (i = 0; i < local->nports; i++)
		if (local->ports[i].ring)
			argo_unregister_ring(relay->fabric, local->ports[i].ring);
	free(local);
	relay->local = NULL;
}

/* The port of ours that stands for remote when talking to local domid. */
static struct local_port *port_for_remote(struct relay *relay, const struct wire_gaddr *remote,
                                          argo_domid_t domid, bool allocate, int *err)
{
	struct local *local = relay->local;
	struct local_port *p, *victim = NULL;
	int i;

	for (i = 0; i < local->nports; i++) {
		p = &local->ports[i];
		if (gaddr_eq(&p->remote, remote) &&
		    (p->partner == domid || p->partner == XEN_ARGO_DOMID_ANY)) {
			p->last_used = ++local->clock;
			return p;
		}
	}
	*err = -ENOSPC;
	if (!allocate)
		return NULL;

	if (local->nports < MAX_LOCAL_PORTS) {
		p = &local->ports[local->nports++];
	} else {
		/* Reuse the proxy unused for longest. */
		for (i = 0; i < local->nports; i++) {
			p = &local->ports[i];
			if (p->kind == PORT_PROXY && (!victim || p->last_used < victim->last_used))
				victim = p;
		}
		if (!victim)
			return NULL;
		relay_log(1, "proxy port %u (for %s:%u:%u) recycled", victim->port,
		          victim->remote.hvid, victim->remote.domid, victim->remote.port);
		argo_unregister_ring(relay->fabric, victim->ring);
		p = victim;
	}
	memset(p, 0, sizeof(*p));
	p->kind = PORT_PROXY;
	p->partner = domid;
	p->remote = *remote;
	p->last_used = ++local->clock;
	for (uint64_t tries = 0;
	     tries <= (uint64_t)relay->config->proxy_port_max - relay->config->proxy_port_min;
	     tries++) {
		int ret;

		p->port = local->next_proxy;
		local->next_proxy = local->next_proxy >= relay->config->proxy_port_max
		                        ? relay->config->proxy_port_min
		                        : local->next_proxy + 1;
		ret = register_port(relay, p);
		if (ret == 0)
			return p;
		/* Only a port already in use is worth another try; anything else
		 * (the destination domain is gone: -ESRCH) fails every port. */
		if (ret != -EEXIST) {
			*err = ret;
			break;
		}
	}
	/* Forget the slot (it is the last one or a recycled one). */
	*p = local->ports[--local->nports];
	return NULL;
}

static struct hold *find_hold(struct local *local, argo_domid_t domid, uint32_t port)
{
	struct hold *h;

	for (h = local->holds; h; h = h->next)
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

/* The message has arrived where it was going: release what held it. */
static void delivered(struct relay *relay, struct relay_msg *msg)
{
	relay->counters.local_delivered++;
	if (msg->from_link >= 0)
		link_release_held(&relay->links[msg->from_link], msg->len);
	msg_free(relay, msg);
}

/* One send into the fabric: 1 delivered, 0 ring full (keep it), <0 error. */
static int try_send(struct relay *relay, struct relay_msg *msg)
{
	int err = 0;
	struct local_port *p = port_for_remote(relay, &msg->src, msg->dst.domid, true, &err);
	xen_argo_send_addr_t addr = {
	    .dst = {.aport = msg->dst.port, .domain_id = msg->dst.domid},
	};
	struct iovec iov = {.iov_base = msg->data, .iov_len = msg->len};
	ssize_t n;

	if (!p)
		return err;
	addr.src.aport = p->port;
	addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	n = argo_sendv(relay->fabric, &addr, &iov, 1, msg->message_type);
	if (n >= 0)
		return 1;
	if (n == -EAGAIN || n == -EBUSY)
		return 0;
	return (int)n;
}

void local_deliver(struct relay *relay, struct relay_msg *msg)
{
	struct local *local = relay->local;
	struct hold *h = find_hold(local, msg->dst.domid, msg->dst.port);
	int ret;

	if (!config_policy_allows(relay->config, &msg->src, &msg->dst)) {
		relay_undeliverable(relay, msg, EACCES);
		return;
	}
	if (!h) {
		ret = try_send(relay, msg);
		if (ret > 0) {
			delivered(relay, msg);
			return;
		}
		if (ret < 0) {
			relay_undeliverable(relay, msg, undeliverable_cause(ret));
			return;
		}
		h = calloc(1, sizeof(*h));
		if (!h) {
			relay_undeliverable(relay, msg, ENOMEM);
			return;
		}
		h->domid = msg->dst.domid;
		h->port = msg->dst.port;
		h->next = local->holds;
		local->holds = h;
	}
	relay->counters.local_held++;
	queue_push(&h->q, msg);
}

/* Retries every hold queue in order; frees the empty ones. */
static void retry_holds(struct relay *relay)
{
	struct hold **hp = &relay->local->holds, *h;

	while ((h = *hp)) {
		struct relay_msg *msg;

		while ((msg = h->q.head)) {
			int ret = try_send(relay, msg);

			if (ret == 0)
				break;
			queue_pop(&h->q);
			if (ret > 0)
				delivered(relay, msg);
			else
				relay_undeliverable(relay, msg, undeliverable_cause(ret));
		}
		if (!h->q.head) {
			*hp = h->next;
			free(h);
		} else {
			hp = &h->next;
		}
	}
}

/* Tells a local guest that a message it sent could not be delivered: a
 * control message of the reserved type, from the port it sent to. */
static void report_to_guest(struct relay *relay, const struct local_port *from, argo_domid_t domid,
                            uint32_t port, const struct wire_gaddr *dst, uint32_t error)
{
	uint8_t payload[4 + 24];
	xen_argo_send_addr_t addr = {
	    .src = {.aport = from->port, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = port, .domain_id = domid},
	};
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload)};
	int i;

	for (i = 0; i < 4; i++)
		payload[i] = (uint8_t)(error >> (8 * i));
	memcpy(payload + 4, dst->hvid, WIRE_HVID_SIZE);
	payload[20] = (uint8_t)dst->domid;
	payload[21] = (uint8_t)(dst->domid >> 8);
	payload[22] = payload[23] = 0;
	for (i = 0; i < 4; i++)
		payload[24 + i] = (uint8_t)(dst->port >> (8 * i));
	if (argo_sendv(relay->fabric, &addr, &iov, 1, WIRE_MSGTYPE_UNDELIVERABLE) >= 0)
		relay->counters.reports_sent++;
}

void local_report_undeliverable(struct relay *relay, const struct wire_undeliverable *u)
{
	int err;
	const struct local_port *p = port_for_remote(relay, &u->dst, u->src.domid, false, &err);

	if (p)
		report_to_guest(relay, p, u->src.domid, u->src.port, &u->dst, u->error);
}

/* Reads one ring while its head can go somewhere. Returns true if it
 * consumed anything (so notify must tell waiting senders). */
static bool drain_port(struct relay *relay, struct local_port *p)
{
	struct local *local = relay->local;
	bool consumed = false;

	p->blocked = false;
	for (;;) {
		struct wire_gaddr src = {0};
		struct relay_msg *msg;
		xen_argo_addr_t from;
		uint32_t type;
		ssize_t n = argo_peek(p->ring, &from, &type);
		int link = -1;

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			relay_log(0, "port %u: ring corrupt (%s)", p->port, argo_strerror((int)n));
			break;
		}
		memcpy(src.hvid, relay->config->hvid, WIRE_HVID_SIZE);
		src.domid = from.domain_id;
		src.port = from.aport;
		if (strcmp(p->remote.hvid, relay->config->hvid) != 0) {
			link = routes_lookup(relay, p->remote.hvid);
			if (link >= 0 && !link_can_take(&relay->links[link])) {
				p->blocked = true;
				break;
			}
		}
		msg = msg_new(relay, (uint32_t)n);
		if (!msg) {
			p->blocked = true;
			break;
		}
		if (argo_recv(p->ring, NULL, NULL, msg->data, msg->len) != n) {
			msg_free(relay, msg);
			break;
		}
		consumed = true;
		p->last_used = ++local->clock;
		relay->counters.local_rx++;
		msg->from_link = -1;
		msg->src = src;
		msg->dst = p->remote;
		msg->message_type = type;
		relay_route(relay, msg);
	}
	return consumed;
}

static void drain_all(struct relay *relay)
{
	struct local *local = relay->local;
	bool consumed = false;
	int i;

	for (i = 0; i < local->nports; i++)
		consumed |= drain_port(relay, &local->ports[i]);
	/* Senders waiting on our rings learn that there is room again. */
	if (consumed)
		argo_notify(relay->fabric, NULL);
}

void local_on_event(struct relay *relay)
{
	argo_event_clear(relay->fabric);
	retry_holds(relay);
	drain_all(relay);
}

void local_kick(struct relay *relay)
{
	struct local *local = relay->local;
	bool consumed = false;
	int i;

	if (!local)
		return;
	for (i = 0; i < local->nports; i++)
		if (local->ports[i].blocked)
			consumed |= drain_port(relay, &local->ports[i]);
	if (consumed)
		argo_notify(relay->fabric, NULL);
}

void local_tick(struct relay *relay)
{
	/* Holds normally move on the fabric's event; this also covers a send
	 * that got -EBUSY (too many waiters: the fabric will not tell us). */
	if (relay->local && relay->local->holds)
		retry_holds(relay);
}

void local_dump(struct relay *relay, struct strbuf *out, bool json)
{
	struct local *local = relay->local;
	struct hold *h;
	int i;

	if (json)
		strbuf_add(out, "\"mappings\":[");
	for (i = 0; local && i < local->nports; i++) {
		const struct local_port *p = &local->ports[i];
		const char *kind = p->kind == PORT_IMPORT ? "import" : "proxy";

		if (json)
			strbuf_add(out,
			           "%s{\"kind\":\"%s\",\"port\":%u,\"partner\":%u,"
			           "\"remote\":\"%s:%u:%u\",\"queued\":%u}",
			           i ? "," : "", kind, p->port, p->partner, p->remote.hvid,
			           p->remote.domid, p->remote.port,
			           argo_ring_used(p->ring->shared, p->ring->len));
		else
			strbuf_add(out,
			           "  %-6s port %-10u partner %-5u <-> %s:%u:%u  ring bytes %u%s\n",
			           kind, p->port, p->partner, p->remote.hvid, p->remote.domid,
			           p->remote.port, argo_ring_used(p->ring->shared, p->ring->len),
			           p->blocked ? " (waiting for link credit)" : "");
	}
	if (json)
		strbuf_add(out, "],\"holds\":[");
	for (h = local ? local->holds : NULL, i = 0; h; h = h->next, i++) {
		if (json)
			strbuf_add(out,
			           "%s{\"domid\":%u,\"port\":%u,\"messages\":%u,\"bytes\":%llu}",
			           i ? "," : "", h->domid, h->port, h->q.count,
			           (unsigned long long)h->q.bytes);
		else
			strbuf_add(out, "  hold for %u:%u: %u messages, %llu bytes\n", h->domid,
			           h->port, h->q.count, (unsigned long long)h->q.bytes);
	}
	if (json)
		strbuf_add(out, "]");
}
