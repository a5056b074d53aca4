/* SPDX-License-Identifier: MIT */
/*
 * One request of the private protocol between libargo's sim backend and
 * argo-simd (common/libargo/sim_proto.h), run against the fabric model
 * (sim_fabric.h) for the domain that sent it: the daemon's dispatch,
 * without its sockets (simd.c does the I/O), so that a fuzzer can drive it.
 */
#ifndef ARGO_SIMD_PROTO_H
#define ARGO_SIMD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "argo/abi.h"
#include "sim_fabric.h"
#include "sim_proto.h"

/* The largest reply: its header and a notify's ring_data written back. */
#define SIMD_REPLY_MAX                                                                             \
	(sizeof(struct argo_sim_reply) + sizeof(struct xen_argo_ring_data) +                       \
	 XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent))

/*
 * Runs the request in request[0..len) (16-byte aligned; a notify's entries
 * are written back in place), truncated when the packet was longer than the
 * buffer, with the fds that came with it (closed here, whatever happens).
 * staging is the domain's staging memory, ARGO_SIM_STAGING_SIZE bytes.
 * Writes the reply into reply[0..SIMD_REPLY_MAX) and its length into
 * *reply_len; an adopt's reply also sets *reply_fd, an fd to send with it
 * (the caller closes it after). Returns the op's result, as in the reply.
 */
int64_t simd_handle_request(struct sim_fabric *fabric, struct sim_domain *domain,
                            const uint8_t *staging, uint8_t *request, size_t len, bool truncated,
                            const int *fds, int nfds, uint8_t *reply, size_t *reply_len,
                            int *reply_fd);

#endif /* ARGO_SIMD_PROTO_H */
