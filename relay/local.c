/* SPDX-License-Identifier: MIT */
/*
 * The relay's side of its own fabric. It is an ordinary Argo client there,
 * with three kinds of ports of its own domain:
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
 *   the routed port (ARGO_ROUTED_PORT, argo/routed.h): programs in routed
 *   mode send to it with a routed header naming a global destination; a
 *   routed message is delivered from it, with a header naming the global
 *   source, so that the answer comes back the same way.
 *
 * Delivery into the fabric keeps order per destination: a message for a
 * destination that already has held messages joins the hold queue; a full
 * ring (-EAGAIN) starts one. Xen (and argo-simd) recorded us as a waiter,
 * so the fabric's event tells when to try again.
 *
 * A ring is read only when the message at its head can go somewhere now (its
 * link is up and has credit): otherwise it stays in the guest-visible ring,
 * which fills, and the sender gets -EAGAIN from its own fabric. That is the
 * end of the back-pressure chain.
 *
 * The ring is also the durable queue. A message read from it keeps its slots
 * until it has left our custody (msg_done: the next relay acknowledged it,
 * or it was delivered or reported); only then does rx_ptr move past it. The
 * rings are registered persistent where the fabric can (a static sim
 * domain), so a relay killed at any moment leaves every message it had not
 * passed on in its rings, and the next run adopts them and reads them again.
 * What the next run needs to know of each ring is in the ring's own header,
 * in the reserved bytes Xen never touches (struct ring_state).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argo/routed.h"
#include "relay.h"

/* Xen gives a domain 128 rings; keep a few for imports added later. */
#define MAX_LOCAL_PORTS 120

enum port_kind { PORT_FREE, PORT_IMPORT, PORT_PROXY, PORT_ROUTED };

/*
 * Our record in a ring's header (xen_argo_ring.reserved). 'commit' packs the
 * rx_ptr we are about to publish (high half) with the index of the message
 * there (low half) in one 64-bit store made before rx_ptr's own, so that a
 * run killed between the two is finished by the next: it publishes the
 * committed rx_ptr. The index is what the origin of each message is made of,
 * with the epoch, a random number drawn when the ring was first registered.
 */
#define RING_STATE_MAGIC 0x594c5241u /* "ARLY" */
struct ring_state {
	uint32_t magic;
	uint8_t kind; /* enum port_kind */
	uint8_t pad[3];
	uint64_t epoch;
	uint64_t commit;
	char remote_hvid[WIRE_HVID_SIZE];
	uint16_t remote_domid;
	uint16_t pad2;
	uint32_t remote_port;
};
_Static_assert(sizeof(struct ring_state) <= sizeof(((struct xen_argo_ring *)0)->reserved),
               "the relay's ring state must fit the header's reserved bytes");

/* A message read from a ring and not yet done with. */
struct pending {
	uint32_t end; /* offset just past it: rx_ptr once it and those before are done */
	bool done;
};

struct local_port {
	enum port_kind kind;
	uint32_t port;
	argo_domid_t partner;
	struct wire_gaddr remote; /* import target, or the remote a proxy stands for */
	struct argo_ring *ring;
	struct ring_state *state; /* in the ring's header */
	uint64_t last_used;
	bool blocked; /* head message waits for link credit */
	/* Reading ahead of rx_ptr: read_at is the next message to read, with
	 * index next_index; first_index is the message at rx_ptr. */
	uint32_t read_at, next_index, first_index;
	/* Messages first_index .. next_index-1, circular. */
	struct pending *pend;
	uint32_t pend_cap, pend_head, pend_count;
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
	int routed;          /* the routed port's slot, -1 when there is none */
	bool persistent;     /* the fabric keeps our rings across runs */
	bool notify_pending; /* ring space was released this round */
	uint8_t buf[XEN_ARGO_MAX_RING_SIZE];
};

static bool gaddr_eq(const struct wire_gaddr *a, const struct wire_gaddr *b)
{
	return a->domid == b->domid && a->port == b->port && strcmp(a->hvid, b->hvid) == 0;
}

static struct ring_state *ring_state_of(struct argo_ring *ring)
{
	return (struct ring_state *)(void *)ring->shared->reserved;
}

/* A ring just registered: it is empty; write our record into it. */
static void ring_state_init(struct relay *relay, struct local_port *p)
{
	struct ring_state *st = ring_state_of(p->ring);
	uint64_t epoch = 0;

	while (!epoch)
		if (auth_random(&epoch, sizeof(epoch)) < 0)
			epoch = now_us() ^ ((uint64_t)relay->boot_id << 1);
	memset(st, 0, sizeof(*st));
	st->kind = (uint8_t)p->kind;
	st->epoch = epoch;
	memcpy(st->remote_hvid, p->remote.hvid, WIRE_HVID_SIZE);
	st->remote_domid = p->remote.domid;
	st->remote_port = p->remote.port;
	st->commit = 0;
	__atomic_store_n(&st->magic, RING_STATE_MAGIC, __ATOMIC_RELEASE);
	p->state = st;
	p->read_at = p->next_index = p->first_index = 0;
	p->pend_head = p->pend_count = 0;
}

/* A ring adopted from an earlier run: finish its last release, if that run
 * died between the commit and rx_ptr, and read again from rx_ptr. */
static void ring_state_resume(struct local_port *p)
{
	struct ring_state *st = ring_state_of(p->ring);
	uint64_t commit = __atomic_load_n(&st->commit, __ATOMIC_ACQUIRE);
	uint32_t rx = (uint32_t)(commit >> 32);

	if (rx < p->ring->len && rx % XEN_ARGO_MSG_SLOT_SIZE == 0 &&
	    __atomic_load_n(&p->ring->shared->rx_ptr, __ATOMIC_RELAXED) != rx)
		argo_ring_release_to(p->ring->shared, rx);
	p->state = st;
	p->read_at = argo_ring_sanitise_ptr(p->ring->shared->rx_ptr, p->ring->len);
	p->first_index = p->next_index = (uint32_t)commit;
	p->pend_head = p->pend_count = 0;
}

static int register_port(struct relay *relay, struct local_port *p)
{
	struct local *local = relay->local;
	xen_argo_register_ring_t reg = {
	    .aport = p->port,
	    .partner_id = p->partner,
	    .len = relay->config->ring_len,
	};
	int ret = -EOPNOTSUPP;

	if (local->persistent) {
		ret = argo_register_ring_persistent(relay->fabric, &reg,
		                                    XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, &p->ring);
		if (ret == -EOPNOTSUPP) {
			relay_log(0, "the fabric cannot keep rings across restarts: a restart "
			             "loses what is in them");
			local->persistent = false;
		}
	}
	if (ret == -EOPNOTSUPP)
		ret = argo_register_ring(relay->fabric, &reg, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST,
		                         &p->ring);
	if (ret < 0 && ret != -EEXIST)
		relay_log(ret == -ESRCH ? 1 : 0, "cannot register port %u (partner %u): %s",
		          p->port, p->partner, argo_strerror(ret));
	if (ret == 0)
		ring_state_init(relay, p);
	return ret;
}

/* A free slot in the port table, or NULL. */
static struct local_port *new_port_slot(struct local *local)
{
	int i;

	for (i = 0; i < local->nports; i++)
		if (local->ports[i].kind == PORT_FREE)
			return &local->ports[i];
	return local->nports < MAX_LOCAL_PORTS ? &local->ports[local->nports++] : NULL;
}

static void free_port_slot(struct local *local, struct local_port *p)
{
	free(p->pend);
	memset(p, 0, sizeof(*p));
	p->kind = PORT_FREE;
	while (local->nports && local->ports[local->nports - 1].kind == PORT_FREE)
		local->nports--;
}

/* Takes over the rings an earlier run of this relay left in the fabric. */
static void adopt_rings(struct relay *relay)
{
	struct local *local = relay->local;

	for (;;) {
		const struct config_import *imp = NULL;
		struct argo_ring *ring;
		struct ring_state *st;
		struct local_port *p;
		unsigned int i;
		int ret = argo_adopt_ring(relay->fabric, &ring);

		if (ret == -ENOENT)
			return;
		if (ret < 0) {
			if (ret != -EOPNOTSUPP)
				relay_log(0, "cannot adopt rings: %s", argo_strerror(ret));
			return;
		}
		st = ring_state_of(ring);
		for (i = 0; i < relay->config->nimports; i++)
			if (relay->config->imports[i].port == ring->aport &&
			    relay->config->imports[i].partner == ring->partner_id)
				imp = &relay->config->imports[i];
		p = new_port_slot(local);
		if (__atomic_load_n(&st->magic, __ATOMIC_ACQUIRE) != RING_STATE_MAGIC ||
		    ring->len != relay->config->ring_len || !p ||
		    (!imp && st->kind == PORT_ROUTED &&
		     (ring->aport != ARGO_ROUTED_PORT || local->routed >= 0)) ||
		    (!imp && st->kind != PORT_ROUTED &&
		     (st->kind != PORT_PROXY || !wire_hvid_valid(st->remote_hvid)))) {
			relay_log(0,
			          "ring of port %u (partner %u) left by an earlier run is not "
			          "one we can use now: unregistered, with what it held",
			          ring->aport, ring->partner_id);
			argo_unregister_ring(relay->fabric, ring);
			if (p)
				free_port_slot(local, p);
			continue;
		}
		memset(p, 0, sizeof(*p));
		p->kind = imp ? PORT_IMPORT : st->kind == PORT_ROUTED ? PORT_ROUTED : PORT_PROXY;
		p->port = ring->aport;
		p->partner = ring->partner_id;
		if (imp) {
			p->remote = imp->target;
		} else if (p->kind == PORT_ROUTED) {
			local->routed = (int)(p - local->ports);
		} else {
			memcpy(p->remote.hvid, st->remote_hvid, WIRE_HVID_SIZE);
			p->remote.domid = st->remote_domid;
			p->remote.port = st->remote_port;
		}
		p->ring = ring;
		p->last_used = ++local->clock;
		ring_state_resume(p);
		relay->counters.rings_adopted++;
		relay_log(1, "adopted the ring of port %u (%u bytes waiting)", p->port,
		          argo_ring_used(ring->shared, ring->len));
	}
}

int local_init(struct relay *relay)
{
	struct local *local = calloc(1, sizeof(*local));
	unsigned int i;
	int j, ret;

	if (!local)
		return -ENOMEM;
	relay->local = local;
	local->next_proxy = relay->config->proxy_port_min;
	local->persistent = true;
	local->routed = -1;
	adopt_rings(relay);
	for (i = 0; i < relay->config->nimports; i++) {
		const struct config_import *imp = &relay->config->imports[i];
		struct local_port *p = NULL;

		for (j = 0; j < local->nports; j++)
			if (local->ports[j].kind == PORT_IMPORT &&
			    local->ports[j].port == imp->port &&
			    local->ports[j].partner == imp->partner)
				p = &local->ports[j];
		if (p)
			continue; /* adopted */
		p = new_port_slot(local);
		if (!p)
			return -ENOSPC;
		p->kind = PORT_IMPORT;
		p->port = imp->port;
		p->partner = imp->partner;
		p->remote = imp->target;
		ret = register_port(relay, p);
		if (ret < 0)
			return ret;
	}
	if (local->routed < 0) {
		/* Routed mode needs a wildcard ring: a fabric that does not
		 * allow those (not mac-permissive) leaves the relay without it. */
		struct local_port *p = new_port_slot(local);

		if (!p)
			return -ENOSPC;
		p->kind = PORT_ROUTED;
		p->port = ARGO_ROUTED_PORT;
		p->partner = XEN_ARGO_DOMID_ANY;
		ret = register_port(relay, p);
		if (ret == 0) {
			local->routed = (int)(p - local->ports);
		} else {
			relay_log(0, "no routed mode: cannot register the routed port %#x (%s)",
			          ARGO_ROUTED_PORT, argo_strerror(ret));
			free_port_slot(local, p);
		}
	}
	/* Whatever the adopted rings hold goes now. */
	local->notify_pending = true;
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
	for (i = 0; i < local->nports; i++) {
		struct local_port *p = &local->ports[i];

		/* Persistent rings stay for the next run, with what we did not
		 * pass on yet. */
		if (p->ring && local->persistent)
			argo_ring_release(p->ring);
		else if (p->ring)
			argo_unregister_ring(relay->fabric, p->ring);
		free(p->pend);
	}
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
		if ((p->kind == PORT_IMPORT || p->kind == PORT_PROXY) &&
		    gaddr_eq(&p->remote, remote) &&
		    (p->partner == domid || p->partner == XEN_ARGO_DOMID_ANY)) {
			p->last_used = ++local->clock;
			return p;
		}
	}
	*err = -ENOSPC;
	if (!allocate)
		return NULL;

	p = new_port_slot(local);
	if (!p) {
		/* Reuse the proxy unused for longest, among those whose ring
		 * holds nothing we still answer for. */
		for (i = 0; i < local->nports; i++) {
			p = &local->ports[i];
			/* Its ring must hold nothing: neither messages read
			 * and not finished, nor messages not read yet. */
			if (p->kind == PORT_PROXY && !p->pend_count && !p->blocked &&
			    !argo_ring_used(p->ring->shared, p->ring->len) &&
			    (!victim || p->last_used < victim->last_used))
				victim = p;
		}
		if (!victim)
			return NULL;
		relay_log(1, "proxy port %u (for %s:%u:%u) recycled", victim->port,
		          victim->remote.hvid, victim->remote.domid, victim->remote.port);
		argo_unregister_ring(relay->fabric, victim->ring);
		free(victim->pend);
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
	/* Forget the slot: others keep their places, since messages name
	 * their port by its place. */
	free_port_slot(local, p);
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

/* The message has arrived where it was going (or had already). */
static void delivered(struct relay *relay, struct relay_msg *msg, bool duplicate)
{
	if (duplicate)
		relay->counters.duplicates_dropped++;
	else
		relay->counters.local_delivered++;
	msg_done(relay, msg);
}

/* One send into the fabric: 1 delivered, 2 delivered before (a copy: drop
 * it), 0 ring full (keep it), <0 error. */
static int try_send(struct relay *relay, struct relay_msg *msg)
{
	struct local *local = relay->local;
	int err = -ENOPROTOOPT, niov = 1;
	struct local_port *p;
	xen_argo_send_addr_t addr = {
	    .dst = {.aport = msg->dst.port, .domain_id = msg->dst.domid},
	};
	uint8_t hdr[ARGO_ROUTED_HDR_SIZE];
	struct iovec iov[2] = {{.iov_base = msg->data, .iov_len = msg->len}};
	uint64_t tag;
	ssize_t n;

	/* A copy of a message delivered before goes no further, whatever
	 * else would have happened to it. */
	if (dedup_seen(relay, msg))
		return 2;
	if (msg->routed) {
		/* From the routed port, the global source in front. */
		struct argo_gaddr src = {.domid = msg->src.domid, .port = msg->src.port};

		p = local->routed >= 0 ? &local->ports[local->routed] : NULL;
		memcpy(src.hvid, msg->src.hvid, WIRE_HVID_SIZE);
		argo_routed_hdr_put(hdr, &src);
		iov[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof(hdr)};
		iov[1] = (struct iovec){.iov_base = msg->data, .iov_len = msg->len};
		niov = 2;
	} else {
		p = port_for_remote(relay, &msg->src, msg->dst.domid, true, &err);
	}
	if (!p)
		return err;
	addr.src.aport = p->port;
	addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	tag = dedup_begin(relay, msg);
	if (tag)
		n = argo_sendv_tagged(relay->fabric, &addr, iov, (unsigned int)niov,
		                      msg->message_type, tag);
	else
		n = argo_sendv(relay->fabric, &addr, iov, (unsigned int)niov, msg->message_type);
	dedup_end(relay, n >= 0);
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

	if (dedup_seen(relay, msg)) {
		delivered(relay, msg, true);
		return;
	}
	if (!config_policy_allows(relay->config, &msg->src, &msg->dst)) {
		relay_undeliverable(relay, msg, EACCES);
		return;
	}
	if (!h) {
		ret = try_send(relay, msg);
		if (ret > 0) {
			delivered(relay, msg, ret == 2);
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
				delivered(relay, msg, ret == 2);
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
	uint8_t payload[ARGO_ROUTED_REPORT_SIZE];
	xen_argo_send_addr_t addr = {
	    .src = {.aport = from->port, .domain_id = XEN_ARGO_DOMID_ANY},
	    .dst = {.aport = port, .domain_id = domid},
	};
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload)};
	struct argo_gaddr failed = {.domid = dst->domid, .port = dst->port};

	memcpy(failed.hvid, dst->hvid, WIRE_HVID_SIZE);
	argo_routed_report_put(payload, error, &failed);
	if (argo_sendv(relay->fabric, &addr, &iov, 1, ARGO_MSGTYPE_UNDELIVERABLE) >= 0)
		relay->counters.reports_sent++;
}

void local_report_undeliverable(struct relay *relay, const struct wire_undeliverable *u)
{
	struct local *local = relay->local;
	const struct local_port *p = NULL;
	int err;

	/* The report comes from the port the guest sent to: the routed port
	 * for a routed message, else the import or proxy port that stands
	 * for the destination. */
	if (u->flags & WIRE_DATA_ROUTED)
		p = local->routed >= 0 ? &local->ports[local->routed] : NULL;
	else
		p = port_for_remote(relay, &u->dst, u->src.domid, false, &err);
	if (p)
		report_to_guest(relay, p, u->src.domid, u->src.port, &u->dst, u->error);
}

/* Room to remember one more message read from p. */
static int pend_reserve(struct local_port *p)
{
	struct pending *n;
	uint32_t cap, i;

	if (p->pend_count < p->pend_cap)
		return 0;
	cap = p->pend_cap ? p->pend_cap * 2 : 256;
	n = malloc(cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < p->pend_count; i++)
		n[i] = p->pend[(p->pend_head + i) % p->pend_cap];
	free(p->pend);
	p->pend = n;
	p->pend_cap = cap;
	p->pend_head = 0;
	return 0;
}

void local_port_done(struct relay *relay, int port, uint32_t origin_index)
{
	struct local *local = relay->local;
	struct local_port *p;
	uint32_t pos, new_rx = 0;
	bool advanced = false;

	if (!local || port < 0 || port >= local->nports)
		return;
	p = &local->ports[port];
	pos = origin_index - p->first_index;
	if (p->kind == PORT_FREE || pos >= p->pend_count) {
		relay_log(0, "port %u: done with message %u, which it does not hold", p->port,
		          origin_index);
		return;
	}
	p->pend[(p->pend_head + pos) % p->pend_cap].done = true;
	while (p->pend_count && p->pend[p->pend_head].done) {
		new_rx = p->pend[p->pend_head].end;
		p->pend_head = (p->pend_head + 1) % p->pend_cap;
		p->pend_count--;
		p->first_index++;
		advanced = true;
	}
	if (!advanced)
		return;
	/* The commit first, then rx_ptr (a release store, so the commit is
	 * visible no later): see struct ring_state. */
	__atomic_store_n(&p->state->commit, (uint64_t)new_rx << 32 | p->first_index,
	                 __ATOMIC_RELAXED);
	argo_ring_release_to(p->ring->shared, new_rx);
	local->notify_pending = true;
}

/* Can a message for dst be taken on now (its link, if any, has credit)? */
static bool can_go(struct relay *relay, const struct wire_gaddr *dst)
{
	int link;

	if (strcmp(dst->hvid, relay->config->hvid) == 0)
		return true;
	link = routes_lookup(relay, dst->hvid);
	return link < 0 || link_can_take(&relay->links[link]);
}

/* Reads one ring while its next message can go somewhere. The slots stay
 * taken until local_port_done(). */
static void drain_port(struct relay *relay, struct local_port *p)
{
	struct local *local = relay->local;

	p->blocked = false;
	for (;;) {
		struct wire_gaddr src = {0}, dst;
		struct relay_msg *msg;
		xen_argo_addr_t from;
		uint32_t type, next;
		ssize_t n = argo_ring_read_at(p->ring->shared, p->ring->len, p->read_at, &from,
		                              &type, NULL, 0, &next);
		bool bad_header = false;

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			relay_log(0, "port %u: ring corrupt (%s)", p->port, argo_strerror((int)n));
			break;
		}
		memcpy(src.hvid, relay->config->hvid, WIRE_HVID_SIZE);
		src.domid = from.domain_id;
		src.port = from.aport;
		dst = p->remote;
		if (p->kind != PORT_ROUTED && !can_go(relay, &dst)) {
			p->blocked = true;
			break;
		}
		msg = pend_reserve(p) < 0 ? NULL : msg_new(relay, (uint32_t)n);
		if (!msg) {
			p->blocked = true;
			break;
		}
		if (argo_ring_read_at(p->ring->shared, p->ring->len, p->read_at, NULL, NULL,
		                      msg->data, msg->len, &next) != n) {
			msg_free(relay, msg);
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
				if (!can_go(relay, &dst)) {
					msg_free(relay, msg);
					p->blocked = true;
					break;
				}
				msg->len -= ARGO_ROUTED_HDR_SIZE;
				relay->held_bytes -= ARGO_ROUTED_HDR_SIZE;
				memmove(msg->data, msg->data + ARGO_ROUTED_HDR_SIZE, msg->len);
			}
		}
		p->pend[(p->pend_head + p->pend_count) % p->pend_cap] =
		    (struct pending){.end = next, .done = false};
		p->pend_count++;
		p->read_at = next;
		p->last_used = ++local->clock;
		relay->counters.local_rx++;
		msg->from_port = (int)(p - local->ports);
		msg->origin.epoch = p->state->epoch;
		msg->origin.index = p->next_index++;
		msg->src = src;
		msg->dst = dst;
		msg->message_type = type;
		if (bad_header) {
			relay->counters.routed_malformed++;
			relay_undeliverable(relay, msg, EINVAL);
			continue;
		}
		relay_route(relay, msg);
	}
}

static void drain_all(struct relay *relay)
{
	struct local *local = relay->local;
	int i;

	for (i = 0; i < local->nports; i++)
		if (local->ports[i].ring)
			drain_port(relay, &local->ports[i]);
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
	int i;

	if (!local)
		return;
	for (i = 0; i < local->nports; i++)
		if (local->ports[i].blocked && local->ports[i].ring)
			drain_port(relay, &local->ports[i]);
}

void local_flush(struct relay *relay)
{
	/* Senders waiting on our rings learn that there is room again. */
	if (relay->local && relay->local->notify_pending) {
		relay->local->notify_pending = false;
		argo_notify(relay->fabric, NULL);
	}
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
	int i, shown = 0;

	if (json)
		strbuf_add(out, "\"mappings\":[");
	for (i = 0; local && i < local->nports; i++) {
		const struct local_port *p = &local->ports[i];
		const char *kind = p->kind == PORT_IMPORT  ? "import"
		                   : p->kind == PORT_PROXY ? "proxy"
		                                           : "routed";

		if (p->kind == PORT_FREE)
			continue;
		if (json)
			strbuf_add(out,
			           "%s{\"kind\":\"%s\",\"port\":%u,\"partner\":%u,"
			           "\"remote\":\"%s:%u:%u\",\"queued\":%u,\"unfinished\":%u}",
			           shown++ ? "," : "", kind, p->port, p->partner, p->remote.hvid,
			           p->remote.domid, p->remote.port,
			           argo_ring_used(p->ring->shared, p->ring->len), p->pend_count);
		else
			strbuf_add(out,
			           "  %-6s port %-10u partner %-5u <-> %s:%u:%u  ring bytes %u, "
			           "%u read and not finished%s\n",
			           kind, p->port, p->partner, p->remote.hvid, p->remote.domid,
			           p->remote.port, argo_ring_used(p->ring->shared, p->ring->len),
			           p->pend_count, p->blocked ? " (waiting for link credit)" : "");
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
