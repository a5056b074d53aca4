/* SPDX-License-Identifier: MIT */
/*
 * The relay's ports in its own fabric, and their rings (docs/relay-design.md,
 * "Addresses and the data path", "Custody"). It is an ordinary Argo client
 * there, with three kinds of ports of its own domain:
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
 * A ring is also the durable queue of what guests sent the relay: a message
 * read from it keeps its slots until it has left the relay's custody, and
 * only then does rx_ptr move past it (port_done()). The rings are registered
 * persistent where the fabric can, so a relay killed at any moment leaves
 * every message it had not passed on in its rings, and the next run adopts
 * them (ports_init()) and reads them again. What the next run needs to know
 * of each ring is in the ring's own header, in the reserved bytes Xen never
 * touches (struct ring_state in ports.c).
 *
 * Shared by fabric in (reads the rings) and fabric out (sends from the
 * ports); holds no message itself.
 */
#ifndef ARGO_RELAY_PORTS_H
#define ARGO_RELAY_PORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "argo/argo.h"
#include "config.h"
#include "strbuf.h"
#include "wire.h"

/* Xen gives a domain 128 rings; keep a few for imports added later. */
#define MAX_LOCAL_PORTS 120

enum port_kind { PORT_FREE, PORT_IMPORT, PORT_PROXY, PORT_ROUTED };

struct ring_state;
struct ports;

/* A message read from a ring and not yet done with. */
struct pending {
	uint32_t end; /* offset just past it: rx_ptr once it and those before are done */
	bool done;
};

struct local_port {
	struct ports *owner;
	enum port_kind kind;
	uint32_t port;
	argo_domid_t partner;
	struct wire_gaddr remote; /* import target, or the remote a proxy stands for */
	struct argo_ring *ring;
	struct ring_state *state; /* in the ring's header */
	uint64_t last_used;
	bool blocked; /* the message at its head waits for room on its way out */
	/* The fabric dropped the ring (its partner died; Xen tells nobody):
	 * found by port_recheck(). Its memory, and what is in it, is still
	 * ours and still read; it is registered again when the partner is
	 * back (a sim static domain, a Xen domid used again). */
	bool gone;
	bool recheck; /* a send to its partner failed: check before the next use */
	/* Reading ahead of rx_ptr: read_at is the next message to read, with
	 * index next_index; first_index is the message at rx_ptr. */
	uint32_t read_at, next_index, first_index;
	/* Messages first_index .. next_index-1, circular. */
	struct pending *pend;
	uint32_t pend_cap, pend_head, pend_count;
};

struct ports {
	struct argo_fabric *fabric;
	const struct relay_config *config;
	uint64_t boot_id;
	struct local_port ports[MAX_LOCAL_PORTS];
	int nports;
	uint64_t clock;      /* for LRU */
	uint32_t next_proxy; /* the next proxy port number to try */
	int routed;          /* the routed port's slot, -1 when there is none */
	bool persistent;     /* the fabric keeps our rings across runs */
	bool notify_pending; /* ring space was released this round */
	bool no_recheck;     /* the fabric cannot register a ring again */
	uint64_t next_check_ms;
	uint64_t rings_adopted;
	uint64_t rings_gone;         /* rings the fabric dropped (partner died) */
	uint64_t rings_reregistered; /* ... and that were registered again */
	uint64_t proxies_freed;      /* proxy ports whose partner stayed gone */
};

/* Takes over the rings an earlier run left in the fabric, registers the
 * imports' and the routed port's that are missing. */
int ports_init(struct ports *ports, struct argo_fabric *fabric, const struct relay_config *config,
               uint64_t boot_id);
/* Persistent rings stay in the fabric for the next run, with what was not
 * passed on; the others are unregistered. */
void ports_fini(struct ports *ports);

/* The routed port, or NULL. */
struct local_port *ports_routed(struct ports *ports);
/* The port of ours that stands for remote when talking to local domid; with
 * allocate, a proxy port is made when there is none (NULL and *err when
 * that fails). */
struct local_port *port_for_remote(struct ports *ports, const struct wire_gaddr *remote,
                                   argo_domid_t domid, bool allocate, int *err);

/* The epoch of the port's ring (drawn when it was registered, kept in it):
 * with the index of a message, its origin (wire.h). */
uint64_t port_epoch(const struct local_port *p);
/* Reading ahead: room to remember one more message (-ENOMEM), then the
 * message read (its end offset): returns its index in the ring. */
int port_read_reserve(struct local_port *p);
uint32_t port_read_commit(struct local_port *p, uint32_t next);
/* The message of that index left our custody: rx_ptr moves over every
 * message done before it. */
void port_done(struct local_port *p, uint32_t index);
/* Is p's ring still registered? If not, registers it again (its partner is
 * back) or marks it gone (argo_ring_reregister()). -ESRCH when the partner
 * is not there; 0 otherwise (also where the fabric cannot tell). */
int port_recheck(struct ports *ports, struct local_port *p);
/* A send to domain domid failed for want of the domain or its ring: it may
 * have died, and our rings partnered with it with it; check them before
 * their next use. */
void ports_partner_failed(struct ports *ports, argo_domid_t domid);
/* Once a tick: every PORTS_CHECK_MS, rechecks every ring that has a single
 * partner, and lets go of proxy ports whose partner stayed gone and whose
 * ring holds nothing. */
void ports_check(struct ports *ports, uint64_t now_ms);
/* End of a round: tell the fabric about released ring space, once. */
void ports_flush(struct ports *ports);

void ports_dump(const struct ports *ports, struct strbuf *out, bool json);

#endif /* ARGO_RELAY_PORTS_H */
