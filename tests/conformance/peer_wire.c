/* SPDX-License-Identifier: MIT */
/* Frames of the remote-peer wire (peer_proto.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "peer_proto.h"

int peer_send(int fd, uint32_t session, uint32_t seq, uint16_t op, const void *p1, size_t n1,
              const void *p2, size_t n2)
{
	struct peer_hdr h = {.magic = PEER_MAGIC,
	                     .session = session,
	                     .seq = seq,
	                     .op = op,
	                     .len = (uint32_t)(n1 + n2)};
	struct iovec iov[3] = {
	    {.iov_base = &h, .iov_len = sizeof(h)},
	    {.iov_base = (void *)p1, .iov_len = n1},
	    {.iov_base = (void *)p2, .iov_len = n2},
	};
	struct iovec *v = iov;
	int cnt = 3;

	if (n1 + n2 > PEER_MAX_PAYLOAD)
		return -EMSGSIZE;
	while (cnt > 0) {
		ssize_t n = writev(fd, v, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (cnt > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int peer_recv(int fd, struct peer_hdr *hdr, void **payload)
{
	uint32_t magic = 0;
	void *p = NULL;
	int ret;

	*payload = NULL;
	/* Find the magic, one byte at a time past anything else. */
	ret = read_all(fd, &magic, sizeof(magic));
	while (ret == 0 && magic != PEER_MAGIC) {
		uint8_t b;

		ret = read_all(fd, &b, 1);
		magic = (magic >> 8) | ((uint32_t)b << 24);
	}
	if (ret < 0)
		return ret;
	hdr->magic = magic;
	ret = read_all(fd, (char *)hdr + sizeof(magic), sizeof(*hdr) - sizeof(magic));
	if (ret < 0)
		return ret;
	if (hdr->len > PEER_MAX_PAYLOAD)
		return -EPROTO;
	if (hdr->len) {
		p = malloc(hdr->len);
		if (!p)
			return -ENOMEM;
		ret = read_all(fd, p, hdr->len);
		if (ret < 0) {
			free(p);
			return ret;
		}
	}
	*payload = p;
	return 0;
}
