/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's `remote:DIR` domains: fabric handles whose calls
 * are made by an argo-conformance-peer in another domain (peer_proto.h).
 *
 * DIR holds one listening socket per peer domain, NAME.sock; remote_open
 * takes the first one (in name order) that this process does not use yet,
 * waiting up to wait_ms for one to appear. The handle works with every
 * libargo call (it is a struct argo_fabric with its own ops); its event fd
 * fires when the peer's domain got VIRQ_ARGO. Its rings' memory is in the
 * other domain: read it with remote_ring_sync (a copy, fetched now) and
 * remote_recv/remote_peek (done there), never through ring->shared
 * directly. remote_kill makes the domain die.
 */
#ifndef ARGO_REMOTE_PEER_H
#define ARGO_REMOTE_PEER_H

#include <stdbool.h>

#include "argo/argo.h"

#define REMOTE_SCHEME "remote:"

int remote_open(const char *dir, int wait_ms, struct argo_fabric **fabricp);
bool remote_is(const struct argo_fabric *fabric);
bool remote_ring_is(const struct argo_ring *ring);
/* Fetches the ring's header and bytes from the peer into ring->shared (a
 * local copy) and returns it; ring->shared as it was when that fails. */
struct xen_argo_ring *remote_ring_sync(struct argo_ring *ring);
ssize_t remote_recv(struct argo_ring *ring, xen_argo_addr_t *source, uint32_t *message_type,
                    void *buf, size_t bufsz);
ssize_t remote_peek(struct argo_ring *ring, xen_argo_addr_t *source, uint32_t *message_type);
/* The peer's domain dies: DIR/kill DOMID SOCKET if that program exists
 * (on Xen: xl destroy), else the peer closes its handle and exits (on sim,
 * a domain whose connection closes is dead). Its socket is removed, so no
 * later remote_open takes it. The handle stays to be closed. 0 or -errno. */
int remote_kill(struct argo_fabric *fabric);

#endif
