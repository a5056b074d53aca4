/* SPDX-License-Identifier: MIT */
/*
 * The relay's ports in its own fabric and their rings: see ports.h, and
 * docs/relay-design.md ("Custody", "Where the ring record lives").
 */
#define _GNU_SOURCE
#include "ports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argo/routed.h"
#include "auth.h"
#include "clock.h"
#include "log.h"
#include "show.h"

/* How often rings with a single partner are checked (port_recheck()). */
#define PORTS_CHECK_MS 1000

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

static bool gaddr_eq(const struct wire_gaddr *a, const struct wire_gaddr *b)
{
	return a->domid == b->domid && a->port == b->port && strcmp(a->hvid, b->hvid) == 0;
}

static struct ring_state *ring_state_of(struct argo_ring *ring)
{
	return (struct ring_state *)(void *)ring->shared->reserved;
}

/* A ring just registered: it is empty; write our record into it. */
static void ring_state_init(struct ports *ports, struct local_port *p)
{
	struct ring_state *st = ring_state_of(p->ring);
	uint64_t epoch = 0;

	while (!epoch)
		if (auth_random(&epoch, sizeof(epoch)) < 0)
			epoch = now_us() ^ ((uint64_t)ports->boot_id << 1);
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

static int register_port(struct ports *ports, struct local_port *p)
{
	xen_argo_register_ring_t reg = {
	    .aport = p->port,
	    .partner_id = p->partner,
	    .len = ports->config->ring_len,
	};
	int ret = -EOPNOTSUPP;

	if (ports->persistent) {
		ret = argo_register_ring_persistent(ports->fabric, &reg,
		                                    XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, &p->ring);
		if (ret == -EOPNOTSUPP) {
			relay_log(0, "the fabric cannot keep rings across restarts: a restart "
			             "loses what is in them");
			ports->persistent = false;
		}
	}
	if (ret == -EOPNOTSUPP)
		ret = argo_register_ring(ports->fabric, &reg, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST,
		                         &p->ring);
	if (ret < 0 && ret != -EEXIST)
		relay_log(ret == -ESRCH ? 2 : 0, "cannot register port %u (partner %u): %s",
		          p->port, p->partner, argo_strerror(ret));
	if (ret == 0)
		ring_state_init(ports, p);
	return ret;
}

/* A slot made empty (its pending list is the caller's to free). */
static void clear_slot(struct ports *ports, struct local_port *p)
{
	memset(p, 0, sizeof(*p));
	p->owner = ports;
	p->kind = PORT_FREE;
}

/* A free slot in the port table, or NULL. */
static struct local_port *new_port_slot(struct ports *ports)
{
	int i;

	for (i = 0; i < ports->nports; i++)
		if (ports->ports[i].kind == PORT_FREE)
			return &ports->ports[i];
	return ports->nports < MAX_LOCAL_PORTS ? &ports->ports[ports->nports++] : NULL;
}

static void free_port_slot(struct ports *ports, struct local_port *p)
{
	free(p->pend);
	clear_slot(ports, p);
	while (ports->nports && ports->ports[ports->nports - 1].kind == PORT_FREE)
		ports->nports--;
}

/* Takes over the rings an earlier run of this relay left in the fabric. */
static void adopt_rings(struct ports *ports)
{
	for (;;) {
		const struct config_import *imp = NULL;
		struct argo_ring *ring;
		struct ring_state *st;
		struct local_port *p;
		unsigned int i;
		int ret = argo_adopt_ring(ports->fabric, &ring);

		if (ret == -ENOENT)
			return;
		if (ret < 0) {
			if (ret != -EOPNOTSUPP)
				relay_log(0, "cannot adopt rings: %s", argo_strerror(ret));
			return;
		}
		st = ring_state_of(ring);
		for (i = 0; i < ports->config->nimports; i++)
			if (ports->config->imports[i].port == ring->aport &&
			    ports->config->imports[i].partner == ring->partner_id)
				imp = &ports->config->imports[i];
		p = new_port_slot(ports);
		/* A ring of another length than ring_len (changed since) is
		 * kept as it is: ring_len is for rings registered from now on. */
		if (__atomic_load_n(&st->magic, __ATOMIC_ACQUIRE) != RING_STATE_MAGIC || !p ||
		    (!imp && st->kind == PORT_ROUTED &&
		     (ring->aport != ARGO_ROUTED_PORT || ports->routed >= 0)) ||
		    (!imp && st->kind != PORT_ROUTED &&
		     (st->kind != PORT_PROXY || !wire_hvid_valid(st->remote_hvid)))) {
			relay_log(0,
			          "ring of port %u (partner %u) left by an earlier run is not "
			          "one we can use now: unregistered, with what it held",
			          ring->aport, ring->partner_id);
			argo_unregister_ring(ports->fabric, ring);
			if (p)
				free_port_slot(ports, p);
			continue;
		}
		clear_slot(ports, p);
		p->kind = imp ? PORT_IMPORT : st->kind == PORT_ROUTED ? PORT_ROUTED : PORT_PROXY;
		p->port = ring->aport;
		p->partner = ring->partner_id;
		if (imp) {
			p->remote = imp->target;
		} else if (p->kind == PORT_ROUTED) {
			ports->routed = (int)(p - ports->ports);
		} else {
			memcpy(p->remote.hvid, st->remote_hvid, WIRE_HVID_SIZE);
			p->remote.domid = st->remote_domid;
			p->remote.port = st->remote_port;
		}
		p->ring = ring;
		p->last_used = ++ports->clock;
		ring_state_resume(p);
		ports->rings_adopted++;
		relay_log(1, "adopted the ring of port %u (%u bytes waiting)", p->port,
		          argo_ring_used(ring->shared, ring->len));
		/* Its partner may have died while we were away: the fabric
		 * kept the memory, not the registration. */
		port_recheck(ports, p);
	}
}

int ports_init(struct ports *ports, struct argo_fabric *fabric, const struct relay_config *config,
               uint64_t boot_id)
{
	unsigned int i;
	int j, ret;

	memset(ports, 0, sizeof(*ports));
	ports->fabric = fabric;
	ports->config = config;
	ports->boot_id = boot_id;
	for (j = 0; j < MAX_LOCAL_PORTS; j++)
		clear_slot(ports, &ports->ports[j]);
	ports->next_proxy = ports->config->proxy_port_min;
	ports->persistent = true;
	ports->routed = -1;
	adopt_rings(ports);
	for (i = 0; i < ports->config->nimports; i++) {
		const struct config_import *imp = &ports->config->imports[i];
		struct local_port *p = NULL;

		for (j = 0; j < ports->nports; j++)
			if (ports->ports[j].kind == PORT_IMPORT &&
			    ports->ports[j].port == imp->port &&
			    ports->ports[j].partner == imp->partner)
				p = &ports->ports[j];
		if (p)
			continue; /* adopted */
		p = new_port_slot(ports);
		if (!p)
			return -ENOSPC;
		p->kind = PORT_IMPORT;
		p->port = imp->port;
		p->partner = imp->partner;
		p->remote = imp->target;
		ret = register_port(ports, p);
		if (ret < 0)
			return ret;
	}
	if (ports->routed < 0) {
		/* Routed mode needs a wildcard ring: a fabric that does not
		 * allow those (not mac-permissive) leaves the relay without it. */
		struct local_port *p = new_port_slot(ports);

		if (!p)
			return -ENOSPC;
		p->kind = PORT_ROUTED;
		p->port = ARGO_ROUTED_PORT;
		p->partner = XEN_ARGO_DOMID_ANY;
		ret = register_port(ports, p);
		if (ret == 0) {
			ports->routed = (int)(p - ports->ports);
		} else {
			relay_log(0, "no routed mode: cannot register the routed port %#x (%s)",
			          ARGO_ROUTED_PORT, argo_strerror(ret));
			free_port_slot(ports, p);
		}
	}
	/* Whatever the adopted rings hold goes now. */
	ports->notify_pending = true;
	return 0;
}

void ports_fini(struct ports *ports)
{
	int i;

	for (i = 0; i < ports->nports; i++) {
		struct local_port *p = &ports->ports[i];

		/* Persistent rings stay for the next run, with what we did not
		 * pass on yet. */
		if (p->ring && ports->persistent)
			argo_ring_release(p->ring);
		else if (p->ring)
			argo_unregister_ring(ports->fabric, p->ring);
		free(p->pend);
		clear_slot(ports, p);
	}
	ports->nports = 0;
}

struct local_port *ports_routed(struct ports *ports)
{
	return ports->routed >= 0 ? &ports->ports[ports->routed] : NULL;
}

struct local_port *port_for_remote(struct ports *ports, const struct wire_gaddr *remote,
                                   argo_domid_t domid, bool allocate, int *err)
{
	struct local_port *p, *victim = NULL;
	int i;

	for (i = 0; i < ports->nports; i++) {
		p = &ports->ports[i];
		if ((p->kind == PORT_IMPORT || p->kind == PORT_PROXY) &&
		    gaddr_eq(&p->remote, remote) &&
		    (p->partner == domid || p->partner == XEN_ARGO_DOMID_ANY)) {
			p->last_used = ++ports->clock;
			return p;
		}
	}
	*err = -ENOSPC;
	if (!allocate)
		return NULL;

	p = new_port_slot(ports);
	if (!p) {
		/* Reuse the proxy unused for longest, among those whose ring
		 * holds nothing we still answer for. */
		for (i = 0; i < ports->nports; i++) {
			p = &ports->ports[i];
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
		argo_unregister_ring(ports->fabric, victim->ring);
		free(victim->pend);
		p = victim;
	}
	clear_slot(ports, p);
	p->kind = PORT_PROXY;
	p->partner = domid;
	p->remote = *remote;
	p->last_used = ++ports->clock;
	for (uint64_t tries = 0;
	     tries <= (uint64_t)ports->config->proxy_port_max - ports->config->proxy_port_min;
	     tries++) {
		int ret;

		p->port = ports->next_proxy;
		ports->next_proxy = ports->next_proxy >= ports->config->proxy_port_max
		                        ? ports->config->proxy_port_min
		                        : ports->next_proxy + 1;
		ret = register_port(ports, p);
		if (ret == 0)
			return p;
		/* Only a port already in use is worth another try; anything else
		 * (the destination domain is gone: -ESRCH) fails every port. */
		if (ret != -EEXIST) {
			*err = ret;
			break;
		}
	}
	/* Forget the slot: others keep their places (messages in flight
	 * hold a pointer to the port they came from). */
	free_port_slot(ports, p);
	return NULL;
}

int port_recheck(struct ports *ports, struct local_port *p)
{
	int ret;

	p->recheck = false;
	if (!p->ring || p->partner == XEN_ARGO_DOMID_ANY || ports->no_recheck)
		return 0;
	ret = argo_ring_reregister(ports->fabric, p->ring);
	switch (ret) {
	case -EEXIST:
		p->gone = false;
		return 0;
	case 0:
		ports->rings_reregistered++;
		if (!p->gone)
			ports->rings_gone++;
		p->gone = false;
		relay_log(0, "port %u: the fabric had dropped its ring (domain %u died); "
		             "registered again for the new domain %u",
		          p->port, p->partner, p->partner);
		return 0;
	case -ESRCH:
		if (!p->gone) {
			ports->rings_gone++;
			relay_log(1, "port %u: its partner, domain %u, is gone, and its ring with it",
			          p->port, p->partner);
		}
		p->gone = true;
		return -ESRCH;
	case -EOPNOTSUPP:
		relay_log(0, "the fabric cannot register a ring again: a ring whose partner "
		             "died stays unreachable when the partner comes back");
		ports->no_recheck = true;
		return 0;
	default:
		relay_log(0, "port %u: cannot check its ring: %s", p->port, argo_strerror(ret));
		return 0;
	}
}

void ports_partner_failed(struct ports *ports, argo_domid_t domid)
{
	int i;

	for (i = 0; i < ports->nports; i++)
		if (ports->ports[i].ring && ports->ports[i].partner == domid)
			ports->ports[i].recheck = true;
}

void ports_check(struct ports *ports, uint64_t now)
{
	int i;

	if (now < ports->next_check_ms)
		return;
	ports->next_check_ms = now + PORTS_CHECK_MS;
	for (i = 0; i < ports->nports; i++) {
		struct local_port *p = &ports->ports[i];

		if (!p->ring || p->partner == XEN_ARGO_DOMID_ANY)
			continue;
		port_recheck(ports, p);
		/* A proxy whose partner stayed gone, holding nothing: its slot
		 * goes (a remote that writes again gets a new proxy). */
		if (p->kind == PORT_PROXY && p->gone && !p->pend_count && !p->blocked &&
		    !argo_ring_used(p->ring->shared, p->ring->len)) {
			relay_log(1, "proxy port %u (for %s:%u:%u): partner %u gone, port freed",
			          p->port, p->remote.hvid, p->remote.domid, p->remote.port,
			          p->partner);
			argo_unregister_ring(ports->fabric, p->ring);
			ports->proxies_freed++;
			free_port_slot(ports, p);
		}
	}
}

uint64_t port_epoch(const struct local_port *p)
{
	return p->state->epoch;
}

/* Room to remember one more message read from p. */
int port_read_reserve(struct local_port *p)
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

uint32_t port_read_commit(struct local_port *p, uint32_t next)
{
	p->pend[(p->pend_head + p->pend_count) % p->pend_cap] =
	    (struct pending){.end = next, .done = false};
	p->pend_count++;
	p->read_at = next;
	p->last_used = ++p->owner->clock;
	return p->next_index++;
}

void port_done(struct local_port *p, uint32_t origin_index)
{
	uint32_t pos = origin_index - p->first_index, new_rx = 0;
	bool advanced = false;

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
	p->owner->notify_pending = true;
}

void ports_flush(struct ports *ports)
{
	/* Senders waiting on our rings learn that there is room again. */
	if (ports->notify_pending) {
		ports->notify_pending = false;
		argo_notify(ports->fabric, NULL);
	}
}

void ports_dump(const struct ports *ports, struct strbuf *out, bool json)
{
	int i, shown = 0;

	if (json)
		strbuf_add(out, "\"mappings\":[");
	for (i = 0; i < ports->nports; i++) {
		const struct local_port *p = &ports->ports[i];
		const char *kind = p->kind == PORT_IMPORT  ? "import"
		                   : p->kind == PORT_PROXY ? "proxy"
		                                           : "routed";

		struct show_buf port = {{0}}, partner = {{0}};
		struct show_gaddr remote = {{0}};

		if (p->kind == PORT_FREE)
			continue;
		/* The routed port stands for no one remote. */
		if (p->kind == PORT_ROUTED)
			snprintf(remote.s, sizeof(remote.s), "-");
		else
			show_gaddr(&remote, p->remote.hvid, p->remote.domid, p->remote.port);
		if (json)
			strbuf_add(out,
			           "%s{\"kind\":\"%s\",\"port\":%u,\"partner\":%u,"
			           "\"remote\":\"%s\",\"queued\":%u,\"unfinished\":%u,"
			           "\"gone\":%s}",
			           shown++ ? "," : "", kind, p->port, p->partner, remote.s,
			           argo_ring_used(p->ring->shared, p->ring->len), p->pend_count,
			           p->gone ? "true" : "false");
		else
			strbuf_add(out,
			           "  %-6s port %-10s partner %-5s <-> %s  ring bytes %u, "
			           "%u read and not finished%s%s\n",
			           kind, show_port(&port, p->port),
			           show_domid(&partner, p->partner), remote.s,
			           argo_ring_used(p->ring->shared, p->ring->len), p->pend_count,
			           p->blocked ? " (waiting for link credit)" : "",
			           p->gone ? " (partner gone: ring not registered)" : "");
	}
	if (json)
		strbuf_add(out, "]");
}
