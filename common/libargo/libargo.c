/* SPDX-License-Identifier: MIT */
/*
 * libargo's front: URI dispatch, the fabric lock, ring handle bookkeeping.
 * Everything that talks to a hypervisor is in a backend (fabric.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fabric.h"

static const struct argo_backend_ops *const backends[] = {
    &argo_backend_sim,
    &argo_backend_xen,
    &argo_backend_link,
};

/* This thread's last argo_open() failure, in words. */
static _Thread_local char open_error[512];

static const char *explain_open_error(const char *uri, int err, char *buf, size_t cap);

const char *argo_open_error(void)
{
	return open_error;
}

void argo_set_open_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_error, sizeof(open_error), fmt, ap);
	va_end(ap);
}

static int open_backend(const char *uri, struct argo_fabric **fabricp)
{
	const char *colon;
	size_t i;
	int ret;

	if (!uri || !fabricp)
		return -EINVAL;
	colon = strchr(uri, ':');
	if (!colon || colon == uri)
		return -EINVAL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct argo_backend_ops *ops = backends[i];

		if (strlen(ops->scheme) != (size_t)(colon - uri) ||
		    memcmp(ops->scheme, uri, (size_t)(colon - uri)) != 0)
			continue;
		ret = ops->open(colon + 1, fabricp);
		if (ret < 0)
			return ret;
		(*fabricp)->ops = ops;
		(*fabricp)->rings = NULL;
		(*fabricp)->wait_fd = -1;
		pthread_mutex_init(&(*fabricp)->lock, NULL);
		return 0;
	}
	return -EPROTONOSUPPORT;
}

/*
 * A failed open always leaves a sentence naming the errno: the backend's
 * own words (a link: URI's problem, its key file's, the relay's answer)
 * after argo_strerror()'s, else what the fabric's transport error means.
 */
int argo_open(const char *uri, struct argo_fabric **fabricp)
{
	char why[sizeof(open_error)];
	int ret;

	open_error[0] = '\0';
	ret = open_backend(uri, fabricp);
	if (ret >= 0)
		return ret;
	if (open_error[0]) {
		memcpy(why, open_error, sizeof(why));
		/* Cut at the buffer's end, if ever that long. */
		if (snprintf(open_error, sizeof(open_error), "%s: %s", argo_strerror(ret), why) < 0)
			open_error[0] = '\0';
	} else {
		explain_open_error(uri, ret, open_error, sizeof(open_error));
	}
	return ret;
}

static void unlink_handle(struct argo_ring_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		h->fabric->rings = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

void argo_close(struct argo_fabric *fabric)
{
	if (!fabric)
		return;
	pthread_mutex_lock(&fabric->lock);
	while (fabric->rings) {
		struct argo_ring_handle *h = fabric->rings;

		unlink_handle(h);
		fabric->ops->release_ring(h);
		free(h);
	}
	pthread_mutex_unlock(&fabric->lock);
	pthread_mutex_destroy(&fabric->lock);
	if (fabric->wait_fd >= 0)
		close(fabric->wait_fd);
	fabric->ops->destroy(fabric);
}

argo_domid_t argo_domid(const struct argo_fabric *fabric)
{
	return fabric->domid;
}

int argo_event_fd(const struct argo_fabric *fabric)
{
	return fabric->event_fd;
}

int argo_event_clear(struct argo_fabric *fabric)
{
	uint64_t count;
	ssize_t n;

	if (fabric->ops->event_clear)
		return fabric->ops->event_clear(fabric);
	n = read(fabric->event_fd, &count, sizeof(count));
	if (n == (ssize_t)sizeof(count))
		return 1;
	return errno == EAGAIN ? 0 : -errno;
}

/*
 * Edge-triggered: every raise (an eventfd write, a driver's wake-up) after
 * the last epoll_wait() is reported once, whether or not the fd was read,
 * so waiting and taking the event are one call. An fd that was read empty
 * since the edge is not reported (epoll polls it before reporting): then
 * whoever read it took the event.
 */
int argo_event_wait(struct argo_fabric *fabric, int timeout_ms)
{
	struct epoll_event ev;
	int fd, n;

	fd = __atomic_load_n(&fabric->wait_fd, __ATOMIC_ACQUIRE);
	if (fd < 0) {
		pthread_mutex_lock(&fabric->lock);
		fd = fabric->wait_fd;
		if (fd < 0) {
			ev.events = EPOLLIN | EPOLLET;
			ev.data.u64 = 0;
			fd = epoll_create1(EPOLL_CLOEXEC);
			if (fd >= 0 && epoll_ctl(fd, EPOLL_CTL_ADD, fabric->event_fd, &ev) < 0) {
				close(fd);
				fd = -1;
			}
			if (fd >= 0)
				__atomic_store_n(&fabric->wait_fd, fd, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&fabric->lock);
		if (fd < 0)
			return -errno;
	}
	do
		n = epoll_wait(fd, &ev, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* A new handle, filled by one of the backend's register/adopt ops: exactly
 * one of reg_op (with reg, flags) and adopt_op is given. */
static int new_ring(struct argo_fabric *fabric,
                    int (*reg_op)(struct argo_fabric *, const xen_argo_register_ring_t *, uint32_t,
                                  struct argo_ring_handle *),
                    int (*adopt_op)(struct argo_fabric *, struct argo_ring_handle *),
                    const xen_argo_register_ring_t *reg, uint32_t flags, struct argo_ring **ringp)
{
	struct argo_ring_handle *h;
	int ret;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fabric = fabric;
	h->fd = -1;
	pthread_mutex_lock(&fabric->lock);
	ret = reg_op ? reg_op(fabric, reg, flags, h) : adopt_op(fabric, h);
	if (ret == 0) {
		h->next = fabric->rings;
		if (h->next)
			h->next->prev = h;
		fabric->rings = h;
	}
	pthread_mutex_unlock(&fabric->lock);
	if (ret < 0) {
		free(h);
		return ret;
	}
	*ringp = &h->pub;
	return 0;
}

int argo_register_ring(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                       uint32_t flags, struct argo_ring **ringp)
{
	if (!reg || !ringp)
		return -EFAULT;
	return new_ring(fabric, fabric->ops->register_ring, NULL, reg, flags, ringp);
}

int argo_register_ring_persistent(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                                  uint32_t flags, struct argo_ring **ringp)
{
	if (!fabric->ops->register_ring_persistent)
		return -EOPNOTSUPP;
	if (!reg || !ringp)
		return -EFAULT;
	return new_ring(fabric, fabric->ops->register_ring_persistent, NULL, reg, flags, ringp);
}

int argo_adopt_ring(struct argo_fabric *fabric, struct argo_ring **ringp)
{
	if (!fabric->ops->adopt_ring)
		return -EOPNOTSUPP;
	if (!ringp)
		return -EFAULT;
	return new_ring(fabric, NULL, fabric->ops->adopt_ring, NULL, 0, ringp);
}

int argo_ring_reregister(struct argo_fabric *fabric, struct argo_ring *ring)
{
	struct argo_ring_handle *h = (struct argo_ring_handle *)ring;
	int ret;

	if (!ring)
		return -EFAULT;
	if (!fabric->ops->reregister_ring)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->reregister_ring(fabric, h);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

int argo_unregister_raw(struct argo_fabric *fabric, const xen_argo_unregister_ring_t *unreg)
{
	int ret;

	if (!unreg)
		return -EFAULT;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->unregister_ring(fabric, unreg);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

void argo_ring_release(struct argo_ring *ring)
{
	struct argo_ring_handle *h = (struct argo_ring_handle *)ring;
	struct argo_fabric *fabric;

	if (!ring)
		return;
	fabric = h->fabric;
	pthread_mutex_lock(&fabric->lock);
	unlink_handle(h);
	fabric->ops->release_ring(h);
	pthread_mutex_unlock(&fabric->lock);
	free(h);
}

int argo_unregister_ring(struct argo_fabric *fabric, struct argo_ring *ring)
{
	xen_argo_unregister_ring_t unreg = {.aport = ring->aport, .partner_id = ring->partner_id};
	int ret = argo_unregister_raw(fabric, &unreg);

	argo_ring_release(ring);
	return ret;
}

ssize_t argo_sendv(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                   const struct iovec *iov, unsigned int niov, uint32_t message_type)
{
	ssize_t ret;

	if (!addr || (niov && !iov && niov <= XEN_ARGO_MAXIOV))
		return -EFAULT;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->sendv(fabric, addr, iov, niov, message_type);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

ssize_t argo_sendv_tagged(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                          const struct iovec *iov, unsigned int niov, uint32_t message_type,
                          uint64_t tag)
{
	ssize_t ret;

	if (!tag)
		return argo_sendv(fabric, addr, iov, niov, message_type);
	if (!fabric->ops->sendv_tagged)
		return -EOPNOTSUPP;
	if (!addr || (niov && !iov && niov <= XEN_ARGO_MAXIOV))
		return -EFAULT;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->sendv_tagged(fabric, addr, iov, niov, message_type, tag);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

int argo_last_send_tag(struct argo_fabric *fabric, uint64_t *tag)
{
	int ret;

	if (!fabric->ops->last_send_tag)
		return -EOPNOTSUPP;
	if (!tag)
		return -EFAULT;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->last_send_tag(fabric, tag);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

int argo_notify(struct argo_fabric *fabric, xen_argo_ring_data_t *ring_data)
{
	int ret;

	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->notify(fabric, ring_data);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

int argo_fabric_check(struct argo_fabric *fabric)
{
	int ret = 0;

	if (!fabric->ops->check)
		return 0;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->check(fabric);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

/*
 * Why argo_open(uri) failed with err when the backend did not say: a
 * fabric's transport is not Argo (-ENOENT is no socket, not no ring), so
 * say what failed and what to check, naming the errno.
 */
static const char *explain_open_error(const char *uri, int err, char *buf, size_t cap)
{
	const char *colon = uri ? strchr(uri, ':') : NULL;
	const char *where = colon ? colon + 1 : "";
	bool sim = colon && colon - uri == 3 && !strncmp(uri, "sim", 3);
	bool xen = colon && colon - uri == 3 && !strncmp(uri, "xen", 3);

	if (!buf || !cap)
		return "";
	switch (-err) {
	case ENOENT:
		if (sim) {
			snprintf(buf, cap,
			         "no fabric socket at %s (ENOENT): is argo-simd running on %s?",
			         where, where);
			return buf;
		}
		if (xen) {
			snprintf(buf, cap,
			         "%s does not exist (ENOENT): is this Xen with Argo, and the argo "
			         "module loaded (modprobe argo)?",
			         where);
			return buf;
		}
		break;
	case ECONNREFUSED:
		if (sim) {
			snprintf(
			    buf, cap,
			    "nothing serves %s (ECONNREFUSED; a socket left by an argo-simd that "
			    "stopped?): is argo-simd running on %s?",
			    where, where);
			return buf;
		}
		break;
	case ENOTSOCK:
		if (sim) {
			snprintf(buf, cap,
			         "%s is not a socket (ENOTSOCK): sim: takes argo-simd's socket",
			         where);
			return buf;
		}
		break;
	case EBUSY:
		if (sim) {
			snprintf(
			    buf, cap,
			    "the static domain of %s is taken (EBUSY): another process is "
			    "connected on it, and a static domain is one process at a time; is "
			    "this relay or program already running?",
			    where);
			return buf;
		}
		break;
	case EACCES:
		snprintf(buf, cap,
		         "permission denied (EACCES): %s refuses you by the mode of its socket or "
		         "device; its file mode and group say who may use it (argo-simd "
		         "--socket-mode, --domain-mode, --group; the group argo when installed)",
		         where);
		return buf;
	case ENOSPC:
		if (sim) {
			snprintf(buf, cap, "argo-simd on %s has no domid free (ENOSPC)", where);
			return buf;
		}
		break;
	case EPROTO:
		if (!sim && !xen)
			break; /* a link: backend says what its relay answered */
		snprintf(buf, cap,
		         "%s does not speak this library's protocol (EPROTO): an argo-simd of "
		         "another version, or not argo-simd at all?",
		         where);
		return buf;
	case EPROTONOSUPPORT:
		snprintf(buf, cap,
		         "'%s': unknown fabric scheme (EPROTONOSUPPORT): sim:SOCKET, link:URI or "
		         "xen:/dev/argo",
		         uri ? uri : "");
		return buf;
	case EINVAL:
		snprintf(buf, cap,
		         "'%s' is not a fabric URI (EINVAL): sim:SOCKET, xen:/dev/argo or link:URI",
		         uri ? uri : "");
		return buf;
	default:
		break;
	}
	snprintf(buf, cap, "%s: %s", where, argo_strerror(err));
	return buf;
}

int argo_keep_domain(struct argo_fabric *fabric, int keep)
{
	int ret;

	if (!fabric->ops->keep_domain)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->keep_domain(fabric, keep);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

int argo_sync(struct argo_fabric *fabric)
{
	int ret;

	if (!fabric->ops->sync)
		return 0;
	pthread_mutex_lock(&fabric->lock);
	ret = fabric->ops->sync(fabric);
	pthread_mutex_unlock(&fabric->lock);
	return ret;
}

const char *argo_strerror(int err)
{
	switch (-err) {
	case 0:
		return "success";
	case EAGAIN:
		return "ring full (EAGAIN)";
	case EMSGSIZE:
		return "message too large for the ring (EMSGSIZE)";
	case ECONNREFUSED:
		return "no ring there (ECONNREFUSED)";
	case ESRCH:
		return "no such domain (ESRCH)";
	case EPERM:
		return "not permitted (EPERM)";
	case EACCES:
		/* Both meanings, since the number is the same: from sendv, a
		 * policy; from argo_open, the file mode of the fabric's socket
		 * or device (docs/sim-fabric.md, "Who may connect"). */
		return "permission denied (EACCES): refused by a policy, or, opening the fabric, "
		       "by the mode of its socket or device";
	case EEXIST:
		return "ring exists (EEXIST)";
	case ENOENT:
		return "no such ring (ENOENT)";
	case ENOSPC:
		return "too many rings (ENOSPC)";
	case EBUSY:
		return "too many waiters (EBUSY)";
	case EINVAL:
		return "invalid argument (EINVAL)";
	case EFAULT:
		return "bad address (EFAULT)";
	case ENOTCONN:
		return "the fabric has gone (ENOTCONN)";
	case EPROTO:
		return "the fabric answered nonsense (EPROTO)";
	case EPROTONOSUPPORT:
		return "unknown fabric scheme (EPROTONOSUPPORT)";
	case EOPNOTSUPP:
		return "not supported by this fabric (EOPNOTSUPP)";
	case EKEYREJECTED:
		return "the relay did not accept our key, or we its (EKEYREJECTED)";
	case EHOSTUNREACH:
		return "no such hvid there (EHOSTUNREACH)";
	case ETIMEDOUT:
		return "timed out (ETIMEDOUT)";
	default:
		return strerror(-err);
	}
}
