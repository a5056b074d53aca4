/* SPDX-License-Identifier: MIT */
/*
 * The seam between libargo's front (libargo.c) and its fabric backends
 * (backend_sim.c, backend_xen.c, and a leaf endpoint's backend_link.c,
 * docs/client-api.md). A backend
 * fills in a struct argo_fabric and answers the ops; the front keeps the
 * lock and the list of ring handles, so backends stay small.
 *
 * Locking: fabric->lock serialises every op on one fabric (a backend's
 * transport to its hypervisor is one request at a time), and guards
 * fabric->rings. Backends are called with it held, except open and the
 * final destroy.
 */
#ifndef ARGO_FABRIC_H
#define ARGO_FABRIC_H

#include <pthread.h>
#include <stdbool.h>

#include "argo/argo.h"

struct argo_ring_handle {
	struct argo_ring pub; /* what the caller sees; first, for casts */
	struct argo_fabric *fabric;
	struct argo_ring_handle *prev, *next;
	size_t map_size;
	int fd;          /* sim: the ring's memfd, kept to register it again; else -1 */
	bool persistent; /* registered (or adopted) persistent */
};

struct argo_backend_ops {
	const char *scheme; /* the URI prefix before ':' */
	int (*open)(const char *address, struct argo_fabric **fabricp);
	/* Allocate the ring's pages, register them, fill handle->pub. */
	int (*register_ring)(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
	                     uint32_t flags, struct argo_ring_handle *handle);
	int (*unregister_ring)(struct argo_fabric *fabric, const xen_argo_unregister_ring_t *unreg);
	/* Unmap a ring's pages (the fabric may or may not still have it). */
	void (*release_ring)(struct argo_ring_handle *handle);
	ssize_t (*sendv)(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
	                 const struct iovec *iov, unsigned int niov, uint32_t message_type);
	int (*notify)(struct argo_fabric *fabric, xen_argo_ring_data_t *ring_data);
	void (*destroy)(struct argo_fabric *fabric);

	/* Durable rings and tagged sends (argo.h), optional: NULL where the
	 * fabric cannot, and the front answers -EOPNOTSUPP. */
	/* As register_ring, and the fabric keeps the ring past this process. */
	int (*register_ring_persistent)(struct argo_fabric *fabric,
	                                const xen_argo_register_ring_t *reg, uint32_t flags,
	                                struct argo_ring_handle *handle);
	/* Map the next persistent ring left behind and fill handle->pub. */
	int (*adopt_ring)(struct argo_fabric *fabric, struct argo_ring_handle *handle);
	/* sendv that records tag (not 0) with the send, atomically. */
	ssize_t (*sendv_tagged)(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
	                        const struct iovec *iov, unsigned int niov, uint32_t message_type,
	                        uint64_t tag);
	int (*last_send_tag)(struct argo_fabric *fabric, uint64_t *tag);
	/* Registers the handle's ring again on its own memory, with
	 * XEN_ARGO_REGISTER_FLAG_FAIL_EXIST (argo_ring_reregister()). */
	int (*reregister_ring)(struct argo_fabric *fabric, struct argo_ring_handle *handle);

	/* argo_event_clear(), optional: NULL reads event_fd. Called without
	 * the lock. */
	int (*event_clear)(struct argo_fabric *fabric);
	/* argo_fabric_check(), optional: NULL where the fabric cannot go away
	 * (0). */
	int (*check)(struct argo_fabric *fabric);
	/* The domain outlives this process even with no persistent ring. */
	int (*keep_domain)(struct argo_fabric *fabric, int keep);

	/* argo_sync(): where ring memory is a copy (a leaf endpoint), bring
	 * it and the fabric's view together. NULL: nothing to do. */
	int (*sync)(struct argo_fabric *fabric);
};

struct argo_fabric {
	const struct argo_backend_ops *ops;
	pthread_mutex_t lock;
	argo_domid_t domid;
	int event_fd;
	struct argo_ring_handle *rings;
	int wait_fd; /* argo_event_wait()'s epoll fd, or -1; made under lock */
};

/* A backend's open says why it failed, for argo_open_error() (printf
 * format; this thread's last open). */
void argo_set_open_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern const struct argo_backend_ops argo_backend_sim;
extern const struct argo_backend_ops argo_backend_xen;
extern const struct argo_backend_ops argo_backend_link;

#endif /* ARGO_FABRIC_H */
