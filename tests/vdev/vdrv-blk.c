/* SPDX-License-Identifier: MIT */
/*
 * vdrv-blk: a virtio-blk cycle through any path to a driver domain, with
 * the user-space driver (vdrv.c): for tests/integration/test-vdev-relay.sh,
 * where the device is reached through relays (its ports imported by the
 * guest's relay), as the guest of virtio-argo-l1-to-l0 reaches it.
 *
 *   vdrv-blk URI BUS_DOMID [--mib N] [--reads N] [--max-rx BYTES]
 *
 * HELLO (retried for 30 s: the path may still be coming up), device 0
 * initialised with our max_rx, N MiB written in 1 MiB requests and read
 * back, N random 4 KiB reads, each compared; prints the figures.
 * Exit 0 when everything matched, 1 otherwise, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vdrv.h"

#define MIB       (1u << 20)
#define F_PACKED  (1ull << 34)
#define BLK_T_IN  0
#define BLK_T_OUT 1

static int64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void pattern(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void blk_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, 16);
	h[0] = (uint8_t)type;
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(sector >> (8 * i));
}

/* One request: out = header (+ data), in = len data bytes (reads) + status.
 * Returns the status byte, or a negative errno. */
static int blk_io(struct vdrv_dev *dev, uint16_t id, uint32_t type, uint64_t sector, uint8_t *buf,
                  uint32_t len)
{
	uint8_t h[16];
	const void *out[2] = {h, buf};
	uint32_t out_len[2] = {16, len}, in_len[2] = {len, 1};
	struct vdrv_done d;
	int rc;

	blk_hdr(h, type, sector);
	if (type == BLK_T_OUT)
		rc = vdrv_submit(dev, 0, id, out, out_len, 2, in_len + 1, 1, 0, NULL);
	else
		rc = vdrv_submit(dev, 0, id, out, out_len, 1, in_len, 2, 0, NULL);
	if (rc)
		return rc;
	rc = vdrv_wait_done(dev, &d, 30000);
	if (rc)
		return rc;
	if (d.id != id || d.used_len != (type == BLK_T_IN ? len + 1 : 1u)) {
		free(d.data);
		return -EPROTO;
	}
	if (type == BLK_T_IN)
		memcpy(buf, d.data, len);
	rc = d.data[d.used_len - 1];
	free(d.data);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned int mib = 16, reads = 200, max_rx = 128 * 1024, i;
	struct vmsg q, r;
	struct vdrv drv;
	struct vdrv_dev dev;
	uint8_t *w, *b;
	uint64_t neg;
	int64_t t0, end;
	int rc, bad = 0;

	if (argc < 3) {
		fprintf(stderr,
		        "usage: vdrv-blk URI BUS_DOMID [--mib N] [--reads N] [--max-rx B]\n");
		return 2;
	}
	for (i = 3; i + 1 < (unsigned int)argc; i += 2) {
		if (!strcmp(argv[i], "--mib"))
			mib = (unsigned int)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--reads"))
			reads = (unsigned int)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--max-rx"))
			max_rx = (unsigned int)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "vdrv-blk: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	rc = vdrv_open(&drv, argv[1], (argo_domid_t)atoi(argv[2]), VIRTIO_ARGO_BUS_PORT, 64 * 1024);
	if (rc) {
		fprintf(stderr, "vdrv-blk: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	drv.timeout_ms = 10000;
	memset(&q, 0, sizeof(q));
	q.type = VIRTIO_ARGO_TYPE_BUS;
	q.msg_id = VIRTIO_ARGO_BUS_HELLO;
	q.u.hello.bus_version = VIRTIO_ARGO_BUS_VERSION;
	q.u.hello.revision = VIRTIO_ARGO_REVISION;
	q.u.hello.max_msg_size = VIRTIO_ARGO_MAX_MSG_SIZE;
	q.u.hello.max_rx = 4096;
	end = now_us() + 30000000;
	while ((rc = vdrv_bus_call(&drv, &q, &r)) != 0 && now_us() < end)
		usleep(200000);
	if (rc) {
		fprintf(stderr, "vdrv-blk: no answer to HELLO: %s\n", strerror(-rc));
		return 1;
	}
	printf("bus: %u device(s), max_rx %u\n", r.u.hello.num_devices, r.u.hello.max_rx);
	rc = vdrv_dev_open(&drv, &dev, 0, 1 * MIB, 0);
	if (!rc)
		rc = vdrv_init_device(&dev, ~F_PACKED, 1, 128, max_rx, &neg);
	if (rc) {
		fprintf(stderr, "vdrv-blk: device 0: %s\n", strerror(-rc));
		return 1;
	}
	printf("device 0: its max_rx %u, chains up to %u buffers / %u bytes; ours %u\n",
	       dev.dev_max_rx, dev.max_segs, dev.max_chain, max_rx);
	w = malloc(MIB);
	b = malloc(MIB);
	if (!w || !b)
		return 1;

	t0 = now_us();
	for (i = 0; i < mib && !bad; i++) {
		pattern(w, MIB, i);
		rc = blk_io(&dev, 1, BLK_T_OUT, (uint64_t)i * (MIB / 512), w, MIB);
		if (rc) {
			fprintf(stderr, "vdrv-blk: write %u: %d\n", i, rc);
			bad = 1;
		}
	}
	if (!bad)
		printf("write %u MiB: %.2f MiB/s\n", mib, mib / ((now_us() - t0) / 1e6));
	t0 = now_us();
	for (i = 0; i < mib && !bad; i++) {
		pattern(w, MIB, i);
		rc = blk_io(&dev, 2, BLK_T_IN, (uint64_t)i * (MIB / 512), b, MIB);
		if (rc || memcmp(w, b, MIB)) {
			fprintf(stderr, "vdrv-blk: read %u: %s\n", i, rc ? "error" : "data differ");
			bad = 1;
		}
	}
	if (!bad)
		printf("read %u MiB: %.2f MiB/s, identical\n", mib, mib / ((now_us() - t0) / 1e6));
	t0 = now_us();
	srand(1);
	for (i = 0; i < reads && !bad && mib; i++) {
		uint32_t blk = (uint32_t)rand() % (mib * 256);

		pattern(w, MIB, blk / 256);
		rc = blk_io(&dev, 3, BLK_T_IN, (uint64_t)blk * 8, b, 4096);
		if (rc || memcmp(w + (blk % 256) * 4096, b, 4096)) {
			fprintf(stderr, "vdrv-blk: 4 KiB read at block %u: %s\n", blk,
			        rc ? "error" : "data differ");
			bad = 1;
		}
	}
	if (!bad && reads && mib)
		printf("%u random 4 KiB reads: %.0f IOPS, identical\n", reads,
		       reads / ((now_us() - t0) / 1e6));
	printf("driver: %llu sendv, %llu notify\n", (unsigned long long)drv.sendv_calls,
	       (unsigned long long)drv.notify_calls);
	free(w);
	free(b);
	vdrv_dev_close(&dev);
	vdrv_close(&drv);
	return bad;
}
