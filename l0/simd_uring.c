/* SPDX-License-Identifier: MIT */
/*
 * argo-simd's io_uring engine (simd.h): one io_uring_enter per request.
 *
 * Each client has exactly one receive in flight, so its request lands in
 * its own buffer while the daemon sleeps. Handling a request queues, in
 * this order, the eventfd writes it raised (VIRQ_ARGO of the receivers, the
 * wake-ups first), the reply, and the client's next receive linked behind
 * the reply; the next io_uring_enter submits them all and waits for the
 * next request. Successful writes and sends post no completion
 * (IOSQE_CQE_SKIP_SUCCESS), so that wait is not cut short.
 *
 * A reply that does not fit the client's socket waits inside io_uring; its
 * linked receive starts only once it went, so a client that does not read
 * its replies is not read either (one reply held, as with epoll).
 *
 * Lifetimes: a completion names its client (or listener) by pointer, in
 * user_data with the operation in the low bits. A client is freed only
 * once its receive has completed (a receive always completes: with data,
 * end of file, an error, or -ECANCELED when the send it was linked to
 * failed or the client was dropped). Queued submissions use fd numbers, so
 * they are submitted before any fd of the daemon's closes.
 * docs/sim-fabric.md, "Design".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "simd.h"

enum op { OP_RECV = 1, OP_SEND, OP_ACCEPT, OP_SIGNALS, OP_WRITE };
#define OP_MASK       7u

#define QUEUE_DEPTH   256
#define MAX_LISTENERS (SIMD_MAX_STATIC_DOMAINS + 1)

static struct {
	struct io_uring ring;
	bool running; /* between init and fini */
	bool paused;  /* listeners not watched (out of fds) */
	int signal_fd;
	struct listener *listeners[MAX_LISTENERS];
	unsigned int nlisteners;
} ur;

static uint64_t tagged(const void *ptr, enum op op)
{
	return (uint64_t)(uintptr_t)ptr | op;
}

/* A free submission entry; submits what is queued when the queue is full
 * (never between a reply and its linked receive: see queue_reply). */
static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ur.ring);

	if (!sqe) {
		io_uring_submit(&ur.ring);
		sqe = io_uring_get_sqe(&ur.ring);
	}
	return sqe; /* not NULL: the queue was just emptied */
}

static int ur_init(void)
{
	static const int needed[] = {IORING_OP_RECVMSG, IORING_OP_SENDMSG, IORING_OP_WRITE,
	                             IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL};
	struct io_uring_probe *probe;
	unsigned int i;
	int ret;

	/* Completion work runs only when we wait for it (6.1): no
	 * interruption of the loop, fewer wake-ups; older kernels refuse the
	 * flags and get the plain ring. Single issuer: one thread submits. */
	ret = io_uring_queue_init(QUEUE_DEPTH, &ur.ring,
	                          IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(QUEUE_DEPTH, &ur.ring, IORING_SETUP_COOP_TASKRUN);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(QUEUE_DEPTH, &ur.ring, 0);
	if (ret < 0)
		return ret;
	/* Completions skipped on success (5.17), none dropped on overflow. */
	if (!(ur.ring.features & IORING_FEAT_CQE_SKIP) ||
	    !(ur.ring.features & IORING_FEAT_NODROP)) {
		io_uring_queue_exit(&ur.ring);
		return -EOPNOTSUPP;
	}
	probe = io_uring_get_probe_ring(&ur.ring);
	for (i = 0; probe && i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!io_uring_opcode_supported(probe, needed[i]))
			break;
	ret = probe && i == sizeof(needed) / sizeof(needed[0]) ? 0 : -EOPNOTSUPP;
	if (probe)
		io_uring_free_probe(probe);
	if (ret < 0) {
		io_uring_queue_exit(&ur.ring);
		return ret;
	}
	ur.signal_fd = -1;
	ur.running = true;
	return 0;
}

static void arm_listener(struct listener *l)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_poll_add(sqe, l->fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tagged(l, OP_ACCEPT));
	l->armed = true;
}

static void arm_signals(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_poll_add(sqe, ur.signal_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tagged(NULL, OP_SIGNALS));
}

static int ur_add_listener(struct listener *l)
{
	if (ur.nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	ur.listeners[ur.nlisteners++] = l;
	arm_listener(l);
	return 0;
}

static int ur_add_signalfd(int fd)
{
	ur.signal_fd = fd;
	arm_signals();
	return 0;
}

static void ur_pause_listeners(bool pause)
{
	unsigned int i;

	ur.paused = pause;
	for (i = 0; !pause && i < ur.nlisteners; i++)
		if (!ur.listeners[i]->armed)
			arm_listener(ur.listeners[i]);
}

/* The client's next request, into its buffer. MSG_TRUNC: the true length
 * of a packet longer than the buffer. */
static void prep_recv(struct io_uring_sqe *sqe, struct client *c)
{
	c->riov.iov_base = c->request;
	c->riov.iov_len = sizeof(c->request);
	memset(&c->rmsg, 0, sizeof(c->rmsg));
	c->rmsg.msg_iov = &c->riov;
	c->rmsg.msg_iovlen = 1;
	c->rmsg.msg_control = c->rcontrol.buf;
	c->rmsg.msg_controllen = sizeof(c->rcontrol.buf);
	io_uring_prep_recvmsg(sqe, c->fd, &c->rmsg, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	io_uring_sqe_set_data64(sqe, tagged(c, OP_RECV));
	c->busy = true;
}

static int ur_add_client(struct client *c)
{
	prep_recv(get_sqe(), c);
	return 0;
}

static void ur_send_reply(struct client *c)
{
	struct io_uring_sqe *send, *recv;

	/* The reply and its linked receive go in one submission. */
	if (io_uring_sq_space_left(&ur.ring) < 2)
		io_uring_submit(&ur.ring);
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
	send = io_uring_get_sqe(&ur.ring);
	io_uring_prep_sendmsg(send, c->fd, &c->smsg, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(send, tagged(c, OP_SEND));
	/* A reply with an fd completes either way: the fd, our dup, is
	 * closed as soon as it went (the client may hold on to its own). */
	io_uring_sqe_set_flags(send, c->reply_fd >= 0 ? IOSQE_IO_LINK
	                                              : IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
	recv = io_uring_get_sqe(&ur.ring);
	prep_recv(recv, c);
}

static void ur_raise(struct client *c)
{
	static const uint64_t one = 1;
	struct io_uring_sqe *sqe = get_sqe();

	/* The eventfd is O_NONBLOCK: issued inline at submission. */
	io_uring_prep_write(sqe, c->event_fd, &one, sizeof(one), (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, tagged(NULL, OP_WRITE));
	io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
}

static void ur_flush(void)
{
	if (ur.running && io_uring_sq_ready(&ur.ring))
		io_uring_submit(&ur.ring);
}

static bool ur_forget(struct client *c)
{
	struct io_uring_sqe *sqe;

	if (!ur.running)
		return true;
	/* What is queued may name the fds about to close (a write to this
	 * client's eventfd, its reply): issue it while they are still its. */
	ur_flush();
	if (!c->busy)
		return true;
	/* End its receive (or the reply it waits behind) now, and submit the
	 * cancel at once: the struct may be reused once its receive completes. */
	sqe = get_sqe();
	io_uring_prep_cancel64(sqe, tagged(c, OP_RECV), 0);
	io_uring_sqe_set_data64(sqe, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
	sqe = get_sqe();
	io_uring_prep_cancel64(sqe, tagged(c, OP_SEND), 0);
	io_uring_sqe_set_data64(sqe, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
	io_uring_submit(&ur.ring);
	return false;
}

static void completed(struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	void *ptr = (void *)(uintptr_t)(data & ~(uint64_t)OP_MASK);
	struct client *c = ptr;

	switch (data & OP_MASK) {
	case OP_ACCEPT: {
		struct listener *l = ptr;

		l->armed = false;
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			simd_log(0, "poll on %s: %s", l->path, strerror(-cqe->res));
		simd_accept(l);
		if (!ur.paused && !l->armed)
			arm_listener(l);
		break;
	}
	case OP_SIGNALS:
		if (simd_signals())
			arm_signals();
		break;
	case OP_WRITE:
		/* Only failures complete; EAGAIN is a saturated counter. */
		if (cqe->res != -EAGAIN)
			simd_log(0, "cannot raise an event: %s", strerror(-cqe->res));
		break;
	case OP_SEND:
		/* A failure (its linked receive is cancelled and completes
		 * next), or a reply that carried an fd. */
		if (cqe->res >= 0) {
			c->reply_pending = false;
			if (c->reply_fd >= 0)
				close(c->reply_fd);
			c->reply_fd = -1;
		} else if (!c->gone) {
			simd_client_failed(c);
		}
		break;
	case OP_RECV:
		c->busy = false;
		/* A receive linked behind the reply runs after it went. */
		c->reply_pending = false;
		if (c->reply_fd >= 0) {
			close(c->reply_fd);
			c->reply_fd = -1;
		}
		if (c->gone)
			simd_client_release(c);
		else if (cqe->res <= 0)
			simd_client_failed(c); /* 0: the domain has gone */
		else
			simd_request(c, (size_t)cqe->res, &c->rmsg);
		break;
	default:
		break; /* a cancel that failed: its target had completed */
	}
}

static void ur_run(void)
{
	while (!simd_stopping()) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		int ret;

		/* Submits the writes, replies and receives the last requests
		 * queued, and sleeps until something completes. */
		ret = io_uring_submit_and_wait(&ur.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			simd_log(0, "io_uring_enter: %s", strerror(-ret));
			return;
		}
		io_uring_for_each_cqe(&ur.ring, head, cqe)
		{
			completed(cqe);
			seen++;
			if (simd_stopping())
				break;
		}
		io_uring_cq_advance(&ur.ring, seen);
	}
}

static void ur_fini(void)
{
	if (!ur.running)
		return;
	ur.running = false;
	/* Cancels what is in flight; the core then frees every client. */
	io_uring_queue_exit(&ur.ring);
}

const struct simd_engine simd_engine_uring = {
    .name = "io_uring",
    .init = ur_init,
    .add_listener = ur_add_listener,
    .add_signalfd = ur_add_signalfd,
    .pause_listeners = ur_pause_listeners,
    .add_client = ur_add_client,
    .send_reply = ur_send_reply,
    .raise = ur_raise,
    .flush = ur_flush,
    .forget = ur_forget,
    .run = ur_run,
    .fini = ur_fini,
};
