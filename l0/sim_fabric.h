/* SPDX-License-Identifier: MIT */
/*
 * The sim fabric's hypervisor model: domains, rings, waiters, and the four
 * argo_op commands with Xen's checks in Xen's order (docs/sim-fabric.md,
 * which cites the lines of Xen's argo.c each rule comes from).
 *
 * This file knows nothing of sockets: argo-simd (simd.c) feeds it requests,
 * and unit tests drive it directly. It is single-threaded by design: the
 * daemon runs one event loop, so every operation is atomic with respect to
 * every other, which is the effect Xen's L1/L2/L3 locks achieve.
 *
 * Return conventions: 0 or a byte count on success, negative errno values
 * exactly as Xen's argo_op returns them.
 */
#ifndef ARGO_SIM_FABRIC_H
#define ARGO_SIM_FABRIC_H

#include <stddef.h>
#include <stdint.h>

#include "argo/abi.h"
#include "sim_policy.h"

struct sim_fabric;
struct sim_domain;

struct sim_fabric_config {
	int mac_permissive;              /* allow wildcard (ANY) rings, as Xen's boot option */
	const struct sim_policy *policy; /* the static send firewall; NULL = allow all */
	/* Raise VIRQ_ARGO on a domain: called with the domain's ctx. */
	void (*signal)(void *ctx);
};

struct sim_fabric *sim_fabric_new(const struct sim_fabric_config *config);
/* Tears down every domain left, then frees the fabric. */
void sim_fabric_free(struct sim_fabric *fabric);

/* Brings a domain into existence with this domid. -EINVAL for a reserved
 * domid, -EEXIST when it is taken, -ENOMEM. */
int sim_domain_create(struct sim_fabric *fabric, argo_domid_t domid, void *ctx,
                      struct sim_domain **domainp);
/* The domain dies: its rings go, other domains' rings whose single partner
 * it was go, its space waits go. Nobody is signalled (as in Xen). A
 * persistent ring of another domain that goes this way leaves its memory
 * behind, unregistered, for sim_adopt_ring() (and a registration of the
 * same name replaces it): a guest's memory outlives Xen's registration. */
void sim_domain_destroy(struct sim_fabric *fabric, struct sim_domain *domain);
argo_domid_t sim_domain_id(const struct sim_domain *domain);
int sim_domain_exists(const struct sim_fabric *fabric, argo_domid_t domid);

/* register_ring: the ring's memory is the memfd ring_fd (borrowed: the
 * fabric maps it and keeps no reference to the fd itself). */
int sim_register_ring(struct sim_fabric *fabric, struct sim_domain *domain,
                      const struct xen_argo_register_ring *reg, uint32_t npages, uint32_t flags,
                      int ring_fd);

int sim_unregister_ring(struct sim_fabric *fabric, struct sim_domain *domain,
                        const struct xen_argo_unregister_ring *unreg);

/* sendv. iov handles are offsets into 'memory' (the domain's staging area
 * of memory_size bytes); a handle outside it is -EFAULT, as a bad guest
 * address is in Xen. niov is the raw arg3 (> 8 gives -EINVAL). Returns the
 * payload bytes sent. */
int64_t sim_sendv(struct sim_fabric *fabric, struct sim_domain *domain,
                  const struct xen_argo_send_addr *addr, const struct xen_argo_iov *iovs,
                  uint32_t niov, uint32_t message_type, const uint8_t *memory, size_t memory_size);

/* notify. ring_data may be NULL (the NULL handle). ring_data_bytes is how
 * much of the caller's memory holds ring_data: entries beyond it are -EFAULT.
 * Entries are written back in place. */
int sim_notify(struct sim_fabric *fabric, struct sim_domain *domain,
               struct xen_argo_ring_data *ring_data, size_t ring_data_bytes);

/*
 * Durable rings and tagged sends: libargo's extension for relays, not part
 * of Xen's ABI (docs/sim-fabric.md, "Durable rings"). They model a domain
 * that outlives the process serving it, as a Xen guest outlives any one of
 * its processes.
 */

/* lib_flags of sim_register_ring_ext(). */
#define SIM_REG_PERSIST 0x1u

/* Whether the domain may hold persistent rings (the daemon allows it for
 * static domains only). Off at creation. */
void sim_domain_allow_persist(struct sim_domain *domain, int allow);

/* register_ring with the extension's lib_flags, checked before Xen's checks:
 * an unknown bit is -EINVAL, SIM_REG_PERSIST where the domain may not have
 * persistent rings -EOPNOTSUPP. flags goes to Xen's checks unchanged. A
 * persistent ring keeps its own dup of ring_fd (closed when the ring goes),
 * so that sim_adopt_ring() can hand the memory to a later process.
 * Registering an existing ring again sets its persistence anew. */
int sim_register_ring_ext(struct sim_fabric *fabric, struct sim_domain *domain,
                          const struct xen_argo_register_ring *reg, uint32_t npages, uint32_t flags,
                          uint32_t lib_flags, int ring_fd);

/* Whether the domain outlives its process even without a persistent ring
 * (its last send tag with it): for a domain a relay holds for a leaf
 * endpoint, whose guest is elsewhere. -EOPNOTSUPP for a domain that may not
 * persist. Off at creation; kept across detach and attach. */
int sim_domain_keep(struct sim_domain *domain, int keep);

/*
 * The domain's process has gone. With no persistent ring, and not kept,
 * this does nothing and returns -ENOENT (destroy the domain then). Otherwise the domain is
 * detached and 0 returned: its other rings are removed (as if unregistered),
 * its space waits on any ring are dropped, its ctx is forgotten (signals for
 * it are remembered as pending, not delivered); it keeps its domid, its
 * persistent rings (with their waiters: others may keep sending) and its
 * last send tag. Other domains' rings for it stay.
 */
int sim_domain_detach(struct sim_fabric *fabric, struct sim_domain *domain);
/* A new process takes over a detached domain: ctx is its signal context;
 * every persistent ring becomes not yet adopted; the domain is signalled
 * once, so that the new process drains. */
void sim_domain_attach(struct sim_fabric *fabric, struct sim_domain *domain, void *ctx);
int sim_domain_is_detached(const struct sim_domain *domain);

struct sim_adopted {
	uint32_t aport;
	argo_domid_t partner;
	uint32_t len;
	uint32_t npages;
	int fd; /* a new fd for the ring's memory: the caller closes it */
};
/* Takes over the next persistent ring of the domain not yet adopted since
 * the last attach, in the order the rings were first registered, then the
 * memory of persistent rings a partner's death unregistered: 0 and
 * *out. -ENOENT when none is left, -EOPNOTSUPP for a domain that may not
 * persist, -errno when the fd cannot be duplicated (nothing taken then). */
int sim_adopt_ring(struct sim_fabric *fabric, struct sim_domain *domain, struct sim_adopted *out);

/* sim_sendv() that also records tag (when not 0) as the domain's last send
 * tag if, and only if, the send succeeds. */
int64_t sim_sendv_tagged(struct sim_fabric *fabric, struct sim_domain *domain,
                         const struct xen_argo_send_addr *addr, const struct xen_argo_iov *iovs,
                         uint32_t niov, uint32_t message_type, const uint8_t *memory,
                         size_t memory_size, uint64_t tag);
/* The tag of the domain's last successful tagged send; 0 when none. */
uint64_t sim_domain_last_tag(const struct sim_domain *domain);

/*
 * Publishing the domain's waiter count (argo-simd's shared page, struct
 * argo_sim_shared.ring_waiters): from now on the model keeps *where equal
 * to the number of space waiters queued on the domain's rings (written with
 * sequentially consistent stores), and, since a process that reads 0 there
 * skips its notify, it looks at a ring's rx_ptr once more after queueing a
 * waiter on it, and wakes the waiters whose space is there now, as that
 * skipped notify would have. NULL stops publishing. Unit tests and a model
 * without the daemon publish nothing and behave exactly as before.
 */
void sim_domain_publish_waiters(struct sim_domain *domain, uint32_t *where);

/* Counters for argo-simd's status line and for tests. */
struct sim_fabric_stats {
	uint64_t domains, rings; /* detached domains and their rings included */
	uint64_t sends_ok, sends_failed, bytes_sent;
	uint64_t notifies, signals;
	uint64_t rechecks_woken; /* waiters woken by the check after publishing */
	uint64_t detached;         /* domains detached now */
	uint64_t signals_deferred; /* raised on a detached domain: left pending */
	/* Messages (and their payload bytes) still unread in rings that went:
	 * their domain died, they were unregistered, their partner died. */
	uint64_t lost_messages, lost_bytes;
	uint64_t rings_vanished; /* persistent rings a partner's death unregistered */
};
void sim_fabric_get_stats(const struct sim_fabric *fabric, struct sim_fabric_stats *stats);

/* Messages per domid, kept when the domain dies (a domid used again adds
 * to them): what a test needs to account for every message a relay took
 * in or gave out (docs/sim-fabric.md, "Signals, statistics, start-up").
 * Successful sends only; "reports" are those of the relays' reserved
 * message type (ARGO_MSGTYPE_UNDELIVERABLE, argo/routed.h). */
struct sim_domid_stats {
	uint64_t sent, sent_reports;         /* sendv by this domid */
	uint64_t received, received_reports; /* into this domid's rings */
};
void sim_fabric_domid_stats(const struct sim_fabric *fabric, argo_domid_t domid,
                            struct sim_domid_stats *stats);

#endif /* ARGO_SIM_FABRIC_H */
