/* SPDX-License-Identifier: MIT */
/*
 * libargo's xen backend: real Xen Argo through the argo.ko module's
 * /dev/argo (l1/kmod/, interface in l1/include/uapi/linux/argo_dev.h).
 *
 *   xen:            the default device, /dev/argo
 *   xen:/some/dev   another path to the same kind of device
 *
 * One fabric is one open /dev/argo: its rings are unregistered when it is
 * closed, but for persistent ones, which the module keeps registered with
 * their memory for a later process to adopt. Every fabric opened in one
 * guest is the same Xen domain (unlike sim:, where each connection is a
 * domain of its own), so rings are shared by name between them: registering
 * the same (aport, partner) through a second fabric takes the ring over, as
 * in Xen. The last send tag is the domain's (the module's) too.
 *
 * The event fd is the device fd itself: it polls readable after VIRQ_ARGO,
 * and an 8-byte read() consumes the events (argo_event_clear). It is opened
 * O_NONBLOCK so that the read says EAGAIN when there is nothing.
 *
 * Called with fabric->lock held (fabric.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/argo_dev.h>

#include "fabric.h"

#define XEN_DEFAULT_DEVICE ARGO_DEV_PATH

_Static_assert(sizeof(struct argo_dev_addr) == sizeof(xen_argo_addr_t), "argo_dev_addr");
_Static_assert(sizeof(struct argo_dev_unregister) == sizeof(xen_argo_unregister_ring_t),
               "argo_dev_unregister");

struct xen_fabric_client {
	struct argo_fabric base; /* first, for casts */
	int fd;
	/* The module has persistent rings and send tags (an older argo.ko
	 * says ENOTTY to ARGO_IOC_LAST_TAG): else those ops are -EOPNOTSUPP. */
	bool durable;
};

static struct xen_fabric_client *to_xen(struct argo_fabric *fabric)
{
	return (struct xen_fabric_client *)fabric;
}

static struct argo_dev_addr dev_addr(const xen_argo_addr_t *a)
{
	struct argo_dev_addr d = {.aport = a->aport, .domain_id = a->domain_id, .pad = a->pad};

	return d;
}

static int xen_open(const char *address, struct argo_fabric **fabricp)
{
	const char *path = *address ? address : XEN_DEFAULT_DEVICE;
	struct xen_fabric_client *xen;
	uint32_t domid = 0;
	uint64_t tag;
	int fd, ret;

	if (path[0] != '/')
		return -EINVAL;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, ARGO_IOC_GET_DOMID, &domid) < 0) {
		/* Not an Argo device at all: the answer makes no sense to us. */
		ret = errno == ENOTTY || errno == EINVAL ? -EPROTO : -errno;
		close(fd);
		return ret;
	}
	if (domid >= XEN_DOMID_FIRST_RESERVED) {
		close(fd);
		return -EPROTO;
	}
	xen = calloc(1, sizeof(*xen));
	if (!xen) {
		close(fd);
		return -ENOMEM;
	}
	xen->fd = fd;
	xen->durable = ioctl(fd, ARGO_IOC_LAST_TAG, &tag) == 0 || errno != ENOTTY;
	xen->base.event_fd = fd;
	xen->base.domid = (argo_domid_t)domid;
	*fabricp = &xen->base;
	return 0;
}

static void xen_destroy(struct argo_fabric *fabric)
{
	struct xen_fabric_client *xen = to_xen(fabric);

	/* The module unregisters every ring this fd still owns, persistent
	 * ones aside (it keeps them for ARGO_IOC_ADOPT). */
	close(xen->fd);
	free(xen);
}

static int xen_unregister_ring(struct argo_fabric *fabric, const xen_argo_unregister_ring_t *unreg)
{
	struct argo_dev_unregister arg = {
	    .aport = unreg->aport,
	    .partner_id = unreg->partner_id,
	    .pad = unreg->pad,
	};

	if (ioctl(to_xen(fabric)->fd, ARGO_IOC_UNREGISTER, &arg) < 0)
		return -errno;
	return 0;
}

static int register_common(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                           uint32_t flags, uint32_t dev_flags, struct argo_ring_handle *h)
{
	struct xen_fabric_client *xen = to_xen(fabric);
	struct argo_dev_register arg = {
	    .aport = reg->aport,
	    .partner_id = reg->partner_id,
	    .pad = reg->pad,
	    .len = reg->len,
	    .flags = flags,
	    .dev_flags = dev_flags,
	};
	size_t size;
	void *mem;
	int ret;

	if (ioctl(xen->fd, ARGO_IOC_REGISTER, &arg) < 0)
		return -errno;
	size = (size_t)arg.npages * XEN_ARGO_PAGE_SIZE;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, xen->fd, (off_t)arg.mmap_offset);
	if (mem == MAP_FAILED) {
		xen_argo_unregister_ring_t unreg = {.aport = reg->aport,
		                                    .partner_id = reg->partner_id};

		ret = -errno;
		xen_unregister_ring(fabric, &unreg);
		return ret;
	}
	h->pub.shared = mem;
	h->pub.len = reg->len;
	h->pub.aport = reg->aport;
	h->pub.partner_id = reg->partner_id;
	h->map_size = size;
	return 0;
}

static int xen_register_ring(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                             uint32_t flags, struct argo_ring_handle *h)
{
	return register_common(fabric, reg, flags, 0, h);
}

static int xen_register_ring_persistent(struct argo_fabric *fabric,
                                        const xen_argo_register_ring_t *reg, uint32_t flags,
                                        struct argo_ring_handle *h)
{
	if (!to_xen(fabric)->durable)
		return -EOPNOTSUPP;
	return register_common(fabric, reg, flags, ARGO_DEV_REG_PERSIST, h);
}

/* The module hands this fd the oldest orphaned persistent ring of the
 * domain: map it as register does. */
static int xen_adopt_ring(struct argo_fabric *fabric, struct argo_ring_handle *h)
{
	struct xen_fabric_client *xen = to_xen(fabric);
	struct argo_dev_adopt arg;
	size_t size;
	void *mem;

	if (!xen->durable)
		return -EOPNOTSUPP;
	memset(&arg, 0, sizeof(arg));
	if (ioctl(xen->fd, ARGO_IOC_ADOPT, &arg) < 0)
		return -errno;
	/* A ring the module kept is one it registered: anything else is not
	 * the device we know. */
	if (!argo_ring_len_valid(arg.len) || arg.npages != argo_ring_npages(arg.len) ||
	    arg.partner_id > XEN_ARGO_DOMID_ANY)
		return -EPROTO;
	size = (size_t)arg.npages * XEN_ARGO_PAGE_SIZE;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, xen->fd, (off_t)arg.mmap_offset);
	/* On failure the ring stays this fd's, registered and persistent: it
	 * is orphaned again when the fabric is closed. */
	if (mem == MAP_FAILED)
		return -errno;
	h->pub.shared = mem;
	h->pub.len = arg.len;
	h->pub.aport = arg.aport;
	h->pub.partner_id = (argo_domid_t)arg.partner_id;
	h->map_size = size;
	return 0;
}

/* The module registers the ring's own pages again (ARGO_IOC_REREGISTER). */
static int xen_reregister_ring(struct argo_fabric *fabric, struct argo_ring_handle *h)
{
	struct argo_dev_reregister arg = {.aport = h->pub.aport, .partner_id = h->pub.partner_id};

	if (ioctl(to_xen(fabric)->fd, ARGO_IOC_REREGISTER, &arg) < 0)
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	return 0;
}

static void xen_release_ring(struct argo_ring_handle *h)
{
	munmap(h->pub.shared, h->map_size);
	h->pub.shared = NULL;
}

/* Tag 0: a plain ARGO_IOC_SENDV (a module without tags still sends). */
static ssize_t xen_sendv_tagged(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                                const struct iovec *iov, unsigned int niov, uint32_t message_type,
                                uint64_t tag)
{
	struct argo_dev_iov iovs[XEN_ARGO_MAXIOV];
	struct argo_dev_sendv_tagged arg = {
	    .sendv =
	        {
	            .src = dev_addr(&addr->src),
	            .dst = dev_addr(&addr->dst),
	            .niov = niov,
	            .message_type = message_type,
	        },
	    .tag = tag,
	};
	unsigned int i;
	int ret;

	/* Too many iovs: the module passes the count to Xen, which refuses. */
	if (niov <= XEN_ARGO_MAXIOV) {
		for (i = 0; i < niov; i++) {
			iovs[i].iov_base = (uint64_t)(uintptr_t)iov[i].iov_base;
			iovs[i].iov_len = iov[i].iov_len;
		}
		arg.sendv.iov = (uint64_t)(uintptr_t)iovs;
	}
	if (tag && !to_xen(fabric)->durable)
		return -EOPNOTSUPP;
	if (tag)
		ret = ioctl(to_xen(fabric)->fd, ARGO_IOC_SENDV_TAGGED, &arg);
	else
		ret = ioctl(to_xen(fabric)->fd, ARGO_IOC_SENDV, &arg.sendv);
	return ret < 0 ? -errno : ret;
}

static ssize_t xen_sendv(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                         const struct iovec *iov, unsigned int niov, uint32_t message_type)
{
	return xen_sendv_tagged(fabric, addr, iov, niov, message_type, 0);
}

static int xen_last_send_tag(struct argo_fabric *fabric, uint64_t *tag)
{
	uint64_t t = 0;

	if (!to_xen(fabric)->durable)
		return -EOPNOTSUPP;
	if (ioctl(to_xen(fabric)->fd, ARGO_IOC_LAST_TAG, &t) < 0)
		return -errno;
	*tag = t;
	return 0;
}

static int xen_notify(struct argo_fabric *fabric, xen_argo_ring_data_t *ring_data)
{
	struct argo_dev_notify arg = {.ring_data = (uint64_t)(uintptr_t)ring_data};

	if (ioctl(to_xen(fabric)->fd, ARGO_IOC_NOTIFY, &arg) < 0)
		return -errno;
	return 0;
}

const struct argo_backend_ops argo_backend_xen = {
    .scheme = "xen",
    .open = xen_open,
    .register_ring = xen_register_ring,
    .unregister_ring = xen_unregister_ring,
    .release_ring = xen_release_ring,
    .sendv = xen_sendv,
    .notify = xen_notify,
    .destroy = xen_destroy,
    .register_ring_persistent = xen_register_ring_persistent,
    .adopt_ring = xen_adopt_ring,
    .sendv_tagged = xen_sendv_tagged,
    .last_send_tag = xen_last_send_tag,
    .reregister_ring = xen_reregister_ring,
};
