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
 * it was go, its space waits go. Nobody is signalled (as in Xen). */
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

/* Counters for argo-simd's status line and for tests. */
struct sim_fabric_stats {
	uint64_t domains, rings;
	uint64_t sends_ok, sends_failed, bytes_sent;
	uint64_t notifies, signals;
};
void sim_fabric_get_stats(const struct sim_fabric *fabric, struct sim_fabric_stats *stats);

#endif /* ARGO_SIM_FABRIC_H */
