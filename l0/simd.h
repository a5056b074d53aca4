/* SPDX-License-Identifier: MIT */
/*
 * argo-simd's insides, shared by its core (simd.c: domains, requests,
 * start-up) and its two engines, the event loops that move the bytes
 * (simd_uring.c: io_uring, one io_uring_enter per request; simd_epoll.c:
 * epoll and one system call per operation, where io_uring is missing).
 * docs/sim-fabric.md, "Design", says how they divide the work.
 *
 * Return conventions: 0 or -errno.
 */
#ifndef ARGO_SIMD_H
#define ARGO_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "sim_fabric.h"
#include "sim_proto.h"
#include "simd_config.h"

/* A request carries at most one fd; more are received (and closed) up to
 * this many, so that the refusal can say "too many". */
#define SIMD_MAX_FDS_PER_REQUEST 4

/*
 * Each client's request buffer. The largest legal request, a notify of 256
 * entries, fits. Requests are received with MSG_TRUNC, so the true length of
 * a longer packet is known, and handle_request() decides every longer one
 * from its length and the bytes a legal request of its op has (all within
 * the buffer): the answers are those a 64 KiB buffer gave.
 */
#define SIMD_REQUEST_BUF 8192
_Static_assert(SIMD_REQUEST_BUF >=
                   sizeof(struct argo_sim_req_notify) + sizeof(struct xen_argo_ring_data) +
                       XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent),
               "a notify of 256 entries fits the request buffer");

struct listener {
	int fd;
	const char *path;
	bool is_static; /* gives one fixed domid */
	argo_domid_t domid;
	struct client *holder; /* the connected domain, for a static listener */
	/* The static domain when no process holds it but its persistent rings
	 * keep it (never set together with holder). */
	struct sim_domain *detached;
	bool armed; /* io_uring engine: a poll for a connection is in flight */
};

union simd_control {
	char buf[CMSG_SPACE(SIMD_MAX_FDS_PER_REQUEST * sizeof(int))];
	struct cmsghdr align;
};

union simd_reply_control {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

struct client {
	struct client *prev, *next; /* simd's list of connected clients */
	int fd;
	int event_fd;
	int staging_fd;
	uint8_t *staging;
	int shared_fd;
	struct argo_sim_shared *shared; /* the shared page: we write, the client reads */
	struct sim_domain *domain;
	struct listener *listener;
	/* Torn down (domain gone, fds closed): the struct waits only for its
	 * engine to stop referring to it. */
	bool gone;

	/* The reply (one at a time: the next request is read once it went). */
	bool reply_pending;
	size_t reply_len;
	int reply_fd; /* -1, or an fd of ours that goes with the reply (then closed) */
	_Alignas(
	    16) uint8_t reply[sizeof(struct argo_sim_reply) + sizeof(struct xen_argo_ring_data) +
	                      XEN_ARGO_MAX_NOTIFY_COUNT * sizeof(struct xen_argo_ring_data_ent)];

	/* The request being received and the messages of the engine's
	 * operations: with io_uring the kernel reads and writes them while the
	 * operation is in flight, so they live here, not on a stack. */
	struct msghdr rmsg, smsg;
	struct iovec riov, siov;
	union simd_control rcontrol;
	union simd_reply_control scontrol;
	bool busy; /* io_uring engine: a receive (maybe behind a send) is in flight */
	_Alignas(16) uint8_t request[SIMD_REQUEST_BUF];
};

/* ---- simd.c: what the engines call ---------------------------------------- */

/* A listener is readable: accept one connection. */
void simd_accept(struct listener *listener);
/* c->request holds the first bytes of a request of n bytes (its true
 * length), received with msg (flags, and the control data with any fds):
 * runs it and sends the reply through the engine. */
void simd_request(struct client *c, size_t n, const struct msghdr *msg);
/* The client's connection ended or failed: its domain goes (or is detached)
 * now, and the struct once the engine lets go of it. */
void simd_client_failed(struct client *c);
/* The engine no longer refers to c, which is gone: free it. */
void simd_client_release(struct client *c);
/* The signalfd is readable: handles the signals; false once told to stop. */
bool simd_signals(void);
bool simd_stopping(void);
/* One log line on stderr, "argo-simd: " first, when level <= -v count. */
void simd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- The engines ------------------------------------------------------------ */

struct simd_engine {
	const char *name;
	/* 0, or -errno when this engine cannot run here. */
	int (*init)(void);
	int (*add_listener)(struct listener *listener);
	int (*add_signalfd)(int fd);
	/* Stop (or resume) watching the listeners (out of fds). */
	void (*pause_listeners)(bool pause);
	/* Start receiving the client's requests. */
	int (*add_client)(struct client *c);
	/* Send c->reply (c->reply_len bytes, with c->reply_fd if >= 0, closed
	 * once sent), then receive again; a failure ends in
	 * simd_client_failed(). Holds the reply while the socket is full. */
	void (*send_reply)(struct client *c);
	/* VIRQ_ARGO: add 1 to c->event_fd (EAGAIN, a saturated counter, is
	 * ignored: the event is pending anyway). Raises and replies take
	 * effect in the order they were asked for. */
	void (*raise)(struct client *c);
	/* Carry out at once what was asked for so far (before the core writes
	 * to a socket itself: the welcome). */
	void (*flush)(void);
	/* c's fds are about to be closed: nothing of the engine may use their
	 * numbers afterwards. Returns true when nothing refers to c any more
	 * (it can be freed at once); false when the engine will call
	 * simd_client_release() later. */
	bool (*forget)(struct client *c);
	/* Runs until simd_stopping(). */
	void (*run)(void);
	void (*fini)(void);
};

extern const struct simd_engine simd_engine_epoll;
extern const struct simd_engine simd_engine_uring;

#endif /* ARGO_SIMD_H */
