/* SPDX-License-Identifier: MIT */
/*
 * An event loop as an object: epoll for file descriptors, and a few one-shot
 * timers whose earliest deadline is the wait's time-out (no timerfd to arm).
 * Every watcher and timer carries its own handler and context, so the loop
 * never needs to know what it dispatches to (as kvmtool's epoll helpers).
 * One thread; handlers run to completion.
 *
 * Watchers and timers belong to their owners (embedded in them); the loop
 * only links to them, so an owner must unwatch / cancel before it goes.
 *
 * Return conventions: 0 or a negative errno.
 */
#ifndef ARGO_UTIL_EVLOOP_H
#define ARGO_UTIL_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_watcher;
struct ev_timer;

typedef void ev_watch_fn(struct ev_watcher *w, uint32_t events);
typedef void ev_timer_fn(struct ev_timer *t);

struct ev_watcher {
	int fd;          /* watched, -1 when not */
	uint32_t events; /* EPOLL* armed */
	ev_watch_fn *handler;
	void *ctx;
};

struct ev_timer {
	uint64_t due_ms; /* monotonic (clock.h), when armed */
	bool armed;
	ev_timer_fn *handler;
	void *ctx;
	struct ev_timer *next; /* the loop's list of timers it knows */
	bool listed;
};

struct evloop {
	int epoll_fd;
	struct ev_timer *timers;
};

int evloop_init(struct evloop *loop);
void evloop_fini(struct evloop *loop);

/* A watcher, not yet watching anything. */
void ev_watcher_init(struct ev_watcher *w, ev_watch_fn *handler, void *ctx);
/* Watches fd for events (EPOLLIN, EPOLLOUT...), or changes what is
 * watched; a call that changes nothing makes no system call. */
int ev_watch(struct evloop *loop, struct ev_watcher *w, int fd, uint32_t events);
/* Stops watching (before the fd is closed). */
void ev_unwatch(struct evloop *loop, struct ev_watcher *w);

void ev_timer_init(struct ev_timer *t, ev_timer_fn *handler, void *ctx);
/* Arms t to fire at due_ms (a timer already armed is moved). */
void ev_timer_arm(struct evloop *loop, struct ev_timer *t, uint64_t due_ms);
void ev_timer_cancel(struct ev_timer *t);

/* One round: waits for events or the earliest timer, runs the handlers of
 * the events, then those of the timers that are due. Returns the number of
 * events handled, or -errno when the wait failed (EINTR is not a failure:
 * 0). */
int evloop_run_once(struct evloop *loop);

#endif /* ARGO_UTIL_EVLOOP_H */
