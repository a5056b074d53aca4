/* SPDX-License-Identifier: MIT */
/*
 * Our vhost-user front end: the requests QEMU would send a back end, over a
 * unix socket, with file descriptors in SCM_RIGHTS. Written from the
 * protocol's description (QEMU's docs/interop/vhost-user.rst): a 12-byte
 * header {request, flags, size} in host byte order, then size bytes.
 *
 * Every request is synchronous. Requests without a reply of their own ask
 * for one (NEED_REPLY) when the back end has REPLY_ACK, so that a refusal
 * is seen at once rather than as a dead device later. Each wait is bounded
 * by v->timeout_ms: a back end that does not answer is treated as gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdev.h"

#define VHU_VERSION         0x1u
#define VHU_FLAG_REPLY      0x4u
#define VHU_FLAG_NEED_REPLY 0x8u
#define VHU_HDR_SIZE        12u
#define VHU_MAX_PAYLOAD     (VHU_HDR_SIZE + 8 + 8 * 32 + VDEV_CONFIG_SPACE)
#define VHU_VRING_NOFD      0x100u

enum {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* host order, as the protocol says */
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int vhu_connect(struct vhu *v, const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->timeout_ms = 5000;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* Non-blocking connect: a back end that stopped accepting (a full
	 * listen backlog) gives EAGAIN at once rather than blocking the whole
	 * daemon until it accepts; then blocking again, every wait below
	 * being bounded by poll. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	v->fd = fd;
	return 0;
}

void vhu_close(struct vhu *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

/* Reads exactly len bytes within the time-out. */
static int read_full(struct vhu *v, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = v->fd, .events = POLLIN};
		ssize_t n;
		int rc = poll(&p, 1, (int)v->timeout_ms);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		n = recv(v->fd, buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

/*
 * One request: header and payload (with fds), then, when reply is not NULL,
 * a reply of exactly rlen bytes; when ack is set (and the back end has
 * REPLY_ACK), a u64 status reply instead, 0 meaning success.
 */
static int xfer(struct vhu *v, uint32_t req, const void *payload, uint32_t plen, const int *fds,
                unsigned int nfds, void *reply, uint32_t rlen, bool ack)
{
	uint8_t hdr[VHU_HDR_SIZE], rh[VHU_HDR_SIZE], rbuf[VHU_MAX_PAYLOAD];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cm;
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, plen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = plen ? 2 : 1};
	uint32_t flags = VHU_VERSION, rsize;
	bool want_ack = ack && !reply && (v->protocol & (1ull << VHU_PROTOCOL_F_REPLY_ACK));
	ssize_t n;
	int rc;

	if (v->fd < 0)
		return -ENOTCONN;
	if (nfds > 8)
		return -EINVAL;
	if (want_ack)
		flags |= VHU_FLAG_NEED_REPLY;
	put32(hdr, req);
	put32(hdr + 4, flags);
	put32(hdr + 8, plen);
	if (nfds) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(v->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(hdr) + plen)
		return -EIO; /* a stream socket that takes part of 300 bytes is broken */
	if (!reply && !want_ack)
		return 0;
	rc = read_full(v, rh, sizeof(rh));
	if (rc)
		return rc;
	rsize = get32(rh + 8);
	if (get32(rh) != req || !(get32(rh + 4) & VHU_FLAG_REPLY) || rsize > sizeof(rbuf))
		return -EPROTO;
	rc = read_full(v, rbuf, rsize);
	if (rc)
		return rc;
	if (want_ack) {
		if (rsize != 8)
			return -EPROTO;
		return get64(rbuf) ? -EIO : 0;
	}
	if (rsize != rlen)
		return -EPROTO;
	memcpy(reply, rbuf, rlen);
	return 0;
}

static int get_u64(struct vhu *v, uint32_t req, uint64_t *val)
{
	uint8_t b[8];
	int rc = xfer(v, req, NULL, 0, NULL, 0, b, 8, false);

	if (!rc)
		*val = get64(b);
	return rc;
}

static int set_u64(struct vhu *v, uint32_t req, uint64_t val)
{
	uint8_t b[8];

	put64(b, val);
	return xfer(v, req, b, 8, NULL, 0, NULL, 0, true);
}

static int set_state(struct vhu *v, uint32_t req, uint32_t index, uint32_t num)
{
	uint8_t b[8];

	put32(b, index);
	put32(b + 4, num);
	return xfer(v, req, b, 8, NULL, 0, NULL, 0, true);
}

int vhu_handshake(struct vhu *v)
{
	uint64_t proto = 0, want;
	int rc;

	rc = xfer(v, VHU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0, false);
	if (!rc)
		rc = get_u64(v, VHU_GET_FEATURES, &v->features);
	if (rc)
		return rc;
	v->protocol = 0;
	v->queue_num = 0;
	if (!(v->features & (1ull << VHU_F_PROTOCOL_FEATURES)))
		return 0;
	rc = get_u64(v, VHU_GET_PROTOCOL_FEATURES, &proto);
	if (rc)
		return rc;
	want = proto & ((1ull << VHU_PROTOCOL_F_MQ) | (1ull << VHU_PROTOCOL_F_REPLY_ACK) |
	                (1ull << VHU_PROTOCOL_F_CONFIG));
	/* Not acknowledged even with REPLY_ACK: it is what turns it on. */
	{
		uint8_t b[8];

		put64(b, want);
		rc = xfer(v, VHU_SET_PROTOCOL_FEATURES, b, 8, NULL, 0, NULL, 0, false);
	}
	if (rc)
		return rc;
	v->protocol = want;
	if (want & (1ull << VHU_PROTOCOL_F_MQ)) {
		uint64_t n;

		rc = get_u64(v, VHU_GET_QUEUE_NUM, &n);
		if (rc)
			return rc;
		v->queue_num = n > VDEV_MAX_QUEUES ? VDEV_MAX_QUEUES : (uint32_t)n;
	}
	return 0;
}

int vhu_get_config(struct vhu *v, uint32_t offset, uint8_t *buf, uint32_t len)
{
	uint8_t b[12 + VDEV_CONFIG_SPACE];
	int rc;

	if (!(v->protocol & (1ull << VHU_PROTOCOL_F_CONFIG)))
		return -EOPNOTSUPP;
	if (len > VDEV_CONFIG_SPACE)
		return -EINVAL;
	memset(b, 0, sizeof(b));
	put32(b, offset);
	put32(b + 4, len);
	/* A reply of size 0 is the back end's refusal: xfer sees a wrong size. */
	rc = xfer(v, VHU_GET_CONFIG, b, 12 + len, NULL, 0, b, 12 + len, false);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	memcpy(buf, b + 12, len);
	return 0;
}

int vhu_set_config(struct vhu *v, uint32_t offset, const uint8_t *buf, uint32_t len)
{
	uint8_t b[12 + VDEV_CONFIG_SPACE];

	if (!(v->protocol & (1ull << VHU_PROTOCOL_F_CONFIG)))
		return -EOPNOTSUPP;
	if (len > VDEV_CONFIG_SPACE)
		return -EINVAL;
	put32(b, offset);
	put32(b + 4, len);
	put32(b + 8, 0); /* a write by the driver, not migration */
	memcpy(b + 12, buf, len);
	return xfer(v, VHU_SET_CONFIG, b, 12 + len, NULL, 0, NULL, 0, true);
}

int vhu_set_features(struct vhu *v, uint64_t features)
{
	return set_u64(v, VHU_SET_FEATURES, features);
}

int vhu_set_mem_table(struct vhu *v, int memfd, uint64_t size, uint64_t uaddr)
{
	uint8_t b[8 + 32];

	/* One region: guest physical addresses are offsets in the memfd. */
	put32(b, 1);
	put32(b + 4, 0);
	put64(b + 8, 0);      /* guest address */
	put64(b + 16, size);  /* size */
	put64(b + 24, uaddr); /* our address of it */
	put64(b + 32, 0);     /* mmap offset */
	return xfer(v, VHU_SET_MEM_TABLE, b, sizeof(b), &memfd, 1, NULL, 0, true);
}

int vhu_set_vring_num(struct vhu *v, uint32_t index, uint32_t num)
{
	return set_state(v, VHU_SET_VRING_NUM, index, num);
}

int vhu_set_vring_addr(struct vhu *v, uint32_t index, uint64_t desc, uint64_t used, uint64_t avail)
{
	uint8_t b[40];

	put32(b, index);
	put32(b + 4, 0); /* no logging */
	put64(b + 8, desc);
	put64(b + 16, used);
	put64(b + 24, avail);
	put64(b + 32, 0);
	return xfer(v, VHU_SET_VRING_ADDR, b, sizeof(b), NULL, 0, NULL, 0, true);
}

int vhu_set_vring_base(struct vhu *v, uint32_t index, uint32_t base)
{
	return set_state(v, VHU_SET_VRING_BASE, index, base);
}

int vhu_get_vring_base(struct vhu *v, uint32_t index, uint32_t *base)
{
	uint8_t b[8];
	int rc;

	put32(b, index);
	put32(b + 4, 0);
	rc = xfer(v, VHU_GET_VRING_BASE, b, 8, NULL, 0, b, 8, false);
	if (!rc)
		*base = get32(b + 4);
	return rc;
}

int vhu_set_vring_fd(struct vhu *v, uint32_t request, uint32_t index, int fd)
{
	uint8_t b[8];

	put64(b, index | (fd < 0 ? VHU_VRING_NOFD : 0));
	return xfer(v, request, b, 8, fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1, NULL, 0, true);
}

int vhu_set_vring_enable(struct vhu *v, uint32_t index, bool enable)
{
	if (!(v->features & (1ull << VHU_F_PROTOCOL_FEATURES)))
		return 0; /* rings start enabled */
	return set_state(v, VHU_SET_VRING_ENABLE, index, enable ? 1 : 0);
}
