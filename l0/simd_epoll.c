/* SPDX-License-Identifier: MIT */
/*
 * argo-simd's epoll engine (simd.h), for kernels or sandboxes without
 * io_uring: a level-triggered epoll set, and one system call per operation
 * (recvmsg a request, write an eventfd, sendmsg a reply). A reply that does
 * not fit the client's socket is held, and the client not read, until the
 * socket polls writable. docs/sim-fabric.md, "Design".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "simd.h"

/* What an epoll event is about: the low bits of its data (every object
 * named there is at least 8-byte aligned). */
enum tag { TAG_CLIENT, TAG_LISTENER, TAG_SIGNALS };
#define TAG_MASK      3u

#define MAX_LISTENERS (SIMD_MAX_STATIC_DOMAINS + 1)

static struct {
	int fd;
	struct listener *listeners[MAX_LISTENERS];
	unsigned int nlisteners;
	/* Clients dropped while a batch of events is handled: an event later
	 * in the batch may still name them, so they are freed after it. */
	struct client *dropped[64];
	unsigned int ndropped;
	bool in_batch;
} ep = {.fd = -1};

static uint64_t tagged(const void *ptr, enum tag tag)
{
	return (uint64_t)(uintptr_t)ptr | tag;
}

static int ctl(int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};

	return epoll_ctl(ep.fd, op, fd, &ev) < 0 ? -errno : 0;
}

static int ep_init(void)
{
	ep.fd = epoll_create1(EPOLL_CLOEXEC);
	return ep.fd < 0 ? -errno : 0;
}

static int ep_add_listener(struct listener *listener)
{
	if (ep.nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	ep.listeners[ep.nlisteners++] = listener;
	return ctl(EPOLL_CTL_ADD, listener->fd, EPOLLIN, tagged(listener, TAG_LISTENER));
}

static int ep_add_signalfd(int fd)
{
	return ctl(EPOLL_CTL_ADD, fd, EPOLLIN, tagged(NULL, TAG_SIGNALS));
}

static void ep_pause_listeners(bool pause)
{
	unsigned int i;

	for (i = 0; i < ep.nlisteners; i++)
		ctl(EPOLL_CTL_MOD, ep.listeners[i]->fd, pause ? 0 : EPOLLIN,
		    tagged(ep.listeners[i], TAG_LISTENER));
}

static int ep_add_client(struct client *c)
{
	return ctl(EPOLL_CTL_ADD, c->fd, EPOLLIN, tagged(c, TAG_CLIENT));
}

/* Sends the reply, with reply_fd if there is one (then closed: it was our
 * own dup); -EAGAIN when the socket is full (the fd kept until it goes). */
static int flush_reply(struct client *c)
{
	ssize_t n;

	c->siov.iov_base = c->reply;
	c->siov.iov_len = c->reply_len;
	memset(&c->smsg, 0, sizeof(c->smsg));
	c->smsg.msg_iov = &c->siov;
	c->smsg.msg_iovlen = 1;
	if (c->reply_fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&c->scontrol, 0, sizeof(c->scontrol));
		c->smsg.msg_control = c->scontrol.buf;
		c->smsg.msg_controllen = sizeof(c->scontrol.buf);
		cmsg = CMSG_FIRSTHDR(&c->smsg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &c->reply_fd, sizeof(int));
	}
	n = sendmsg(c->fd, &c->smsg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	c->reply_pending = false;
	if (c->reply_fd >= 0) {
		close(c->reply_fd);
		c->reply_fd = -1;
	}
	return 0;
}

static void ep_send_reply(struct client *c)
{
	int ret = flush_reply(c);

	if (ret == -EAGAIN)
		ret = ctl(EPOLL_CTL_MOD, c->fd, EPOLLOUT, tagged(c, TAG_CLIENT));
	if (ret < 0)
		simd_client_failed(c);
}

static void ep_raise(struct client *c)
{
	static const uint64_t one = 1;

	if (write(c->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		simd_log(0, "cannot raise an event: %s", strerror(errno));
}

static void ep_flush(void)
{
	/* Nothing is ever queued. */
}

static bool ep_forget(struct client *c)
{
	/* Closing the fd takes it out of the set; only a batch being handled
	 * may still name the client. */
	if (!ep.in_batch)
		return true;
	/* More than fit here (rare): freed at exit with the other zombies. */
	if (ep.ndropped < sizeof(ep.dropped) / sizeof(ep.dropped[0]))
		ep.dropped[ep.ndropped++] = c;
	return false;
}

/* Reads one request (the set is level-triggered: a client with more
 * queued is reported again, after the others ready now, which keeps clients
 * fair and spares a read that finds nothing after each request). */
static void read_request(struct client *c)
{
	ssize_t n;

	c->riov.iov_base = c->request;
	c->riov.iov_len = sizeof(c->request);
	memset(&c->rmsg, 0, sizeof(c->rmsg));
	c->rmsg.msg_iov = &c->riov;
	c->rmsg.msg_iovlen = 1;
	c->rmsg.msg_control = c->rcontrol.buf;
	c->rmsg.msg_controllen = sizeof(c->rcontrol.buf);
	/* MSG_TRUNC: the true length of a packet longer than the buffer. */
	n = recvmsg(c->fd, &c->rmsg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		simd_client_failed(c); /* 0: the domain has gone */
		return;
	}
	simd_request(c, (size_t)n, &c->rmsg);
}

static void service_client(struct client *c, uint32_t events)
{
	if (c->gone)
		return;
	if (c->reply_pending) {
		int ret = flush_reply(c);

		if (ret == -EAGAIN)
			return;
		if (ret == 0)
			ret = ctl(EPOLL_CTL_MOD, c->fd, EPOLLIN, tagged(c, TAG_CLIENT));
		if (ret < 0)
			simd_client_failed(c);
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		read_request(c);
	}
}

static void ep_run(void)
{
	struct epoll_event events[64];
	int n, i;

	while (!simd_stopping()) {
		n = epoll_wait(ep.fd, events, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			simd_log(0, "epoll_wait: %s", strerror(errno));
			return;
		}
		ep.in_batch = true;
		for (i = 0; i < n && !simd_stopping(); i++) {
			uint64_t data = events[i].data.u64;
			void *ptr = (void *)(uintptr_t)(data & ~(uint64_t)TAG_MASK);

			switch (data & TAG_MASK) {
			case TAG_SIGNALS:
				simd_signals();
				break;
			case TAG_LISTENER:
				simd_accept(ptr);
				break;
			default:
				service_client(ptr, events[i].events);
				break;
			}
		}
		ep.in_batch = false;
		while (ep.ndropped)
			simd_client_release(ep.dropped[--ep.ndropped]);
	}
}

static void ep_fini(void)
{
	ep.in_batch = false;
	if (ep.fd >= 0)
		close(ep.fd);
	ep.fd = -1;
}

const struct simd_engine simd_engine_epoll = {
    .name = "epoll",
    .init = ep_init,
    .add_listener = ep_add_listener,
    .add_signalfd = ep_add_signalfd,
    .pause_listeners = ep_pause_listeners,
    .add_client = ep_add_client,
    .send_reply = ep_send_reply,
    .raise = ep_raise,
    .flush = ep_flush,
    .forget = ep_forget,
    .run = ep_run,
    .fini = ep_fini,
};
