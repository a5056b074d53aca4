/* SPDX-License-Identifier: MIT */
/* The event loop object: see evloop.h. */
#define _GNU_SOURCE
#include "evloop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"

#define EVENTS_PER_WAIT 64

int evloop_init(struct evloop *loop)
{
	loop->timers = NULL;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epoll_fd < 0 ? -errno : 0;
}

void evloop_fini(struct evloop *loop)
{
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	loop->epoll_fd = -1;
	loop->timers = NULL;
}

void ev_watcher_init(struct ev_watcher *w, ev_watch_fn *handler, void *ctx)
{
	w->fd = -1;
	w->events = 0;
	w->handler = handler;
	w->ctx = ctx;
}

int ev_watch(struct evloop *loop, struct ev_watcher *w, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (w->fd == fd && w->events == events)
		return 0;
	if (w->fd >= 0 && w->fd != fd)
		ev_unwatch(loop, w);
	/* MOD first: a watcher re-arms its fd often (EPOLLOUT on and off);
	 * ADD when the fd is new to epoll. */
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
	    (errno != ENOENT || epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0))
		return -errno;
	w->fd = fd;
	w->events = events;
	return 0;
}

void ev_unwatch(struct evloop *loop, struct ev_watcher *w)
{
	if (w->fd >= 0)
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
	w->events = 0;
}

void ev_timer_init(struct ev_timer *t, ev_timer_fn *handler, void *ctx)
{
	t->due_ms = 0;
	t->armed = false;
	t->handler = handler;
	t->ctx = ctx;
	t->next = NULL;
	t->listed = false;
}

void ev_timer_arm(struct evloop *loop, struct ev_timer *t, uint64_t due_ms)
{
	if (!t->listed) {
		t->next = loop->timers;
		loop->timers = t;
		t->listed = true;
	}
	t->due_ms = due_ms;
	t->armed = true;
}

void ev_timer_cancel(struct ev_timer *t)
{
	t->armed = false;
}

/* Milliseconds until the earliest armed timer; -1 when none is armed. */
static int wait_ms(const struct evloop *loop)
{
	const struct ev_timer *t;
	uint64_t first = UINT64_MAX, now;

	for (t = loop->timers; t; t = t->next)
		if (t->armed && t->due_ms < first)
			first = t->due_ms;
	if (first == UINT64_MAX)
		return -1;
	now = now_ms();
	if (first <= now)
		return 0;
	return first - now > (uint64_t)INT32_MAX ? INT32_MAX : (int)(first - now);
}

int evloop_run_once(struct evloop *loop)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	struct ev_timer *t;
	uint64_t now;
	int n, i;

	n = epoll_wait(loop->epoll_fd, events, EVENTS_PER_WAIT, wait_ms(loop));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct ev_watcher *w = events[i].data.ptr;

		/* A handler earlier in this batch may have stopped it. */
		if (w->fd >= 0)
			w->handler(w, events[i].events);
	}
	now = now_ms();
	for (t = loop->timers; t; t = t->next)
		if (t->armed && t->due_ms <= now) {
			t->armed = false;
			t->handler(t);
		}
	return n;
}
