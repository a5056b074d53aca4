/* SPDX-License-Identifier: MIT */
/*
 * argo-blkbench: throughput and latency of a block device with O_DIRECT,
 * one request at a time (queue depth 1), for the virtio-argo scenarios
 * (fio would bring Ceph's libraries into the images).
 *
 *   argo-blkbench DEVICE randread|seqread|seqwrite [-b BYTES] [-n OPS] [-s MIB]
 *
 * randread: -b (default 4096) bytes at random aligned offsets in the first
 * -s MiB (default: the whole device); seqread/seqwrite: -b (default 1 MiB)
 * bytes at consecutive offsets from 0. -n requests (default 2000 random,
 * 64 sequential). seqwrite overwrites the device. Prints one line:
 *   MODE bs=B ops=N bytes=T seconds=S MiB/s=X iops=I lat_us: min= p50= p99= max=
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: argo-blkbench DEVICE randread|seqread|seqwrite [-b BYTES] [-n OPS] [-s MIB]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *devpath, *mode;
	uint64_t bs = 0, ops = 0, span = 0, size, seed = 0x9E3779B97F4A7C15ull;
	uint64_t *lat, t0, t1, start, i, off;
	int fd, opt, writing, random;
	unsigned char *buf;
	double secs;

	if (argc < 3)
		usage();
	devpath = argv[1];
	mode = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "b:n:s:")) != -1) {
		switch (opt) {
		case 'b':
			bs = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			ops = strtoull(optarg, NULL, 0);
			break;
		case 's':
			span = strtoull(optarg, NULL, 0) << 20;
			break;
		default:
			usage();
		}
	}
	random = !strcmp(mode, "randread");
	writing = !strcmp(mode, "seqwrite");
	if (!random && !writing && strcmp(mode, "seqread"))
		usage();
	if (!bs)
		bs = random ? 4096 : 1 << 20;
	if (!ops)
		ops = random ? 2000 : 64;
	if (bs % 4096 || bs > (64u << 20)) {
		fprintf(stderr, "argo-blkbench: -b must be a multiple of 4096, at most 64 MiB\n");
		return 2;
	}

	fd = open(devpath, (writing ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0) {
		fprintf(stderr, "argo-blkbench: %s: %s\n", devpath, strerror(errno));
		return 1;
	}
	if (!span || span > size)
		span = size;
	if (span < bs || (!random && ops * bs > size)) {
		fprintf(stderr, "argo-blkbench: %s is too small (%llu bytes)\n", devpath,
		        (unsigned long long)size);
		return 1;
	}
	lat = calloc(ops, sizeof(*lat));
	if (!lat || posix_memalign((void **)&buf, 4096, bs)) {
		fprintf(stderr, "argo-blkbench: out of memory\n");
		return 1;
	}
	for (i = 0; i < bs; i++)
		buf[i] = (unsigned char)(xorshift(&seed) >> 24);

	start = now_ns();
	for (i = 0; i < ops; i++) {
		ssize_t n;

		off = random ? (xorshift(&seed) % (span / bs)) * bs : i * bs;
		t0 = now_ns();
		n = writing ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);
		t1 = now_ns();
		if (n != (ssize_t)bs) {
			fprintf(stderr, "argo-blkbench: %s at %llu: %s\n", mode,
			        (unsigned long long)off, n < 0 ? strerror(errno) : "short");
			return 1;
		}
		lat[i] = t1 - t0;
	}
	if (writing && fsync(fd) < 0) {
		fprintf(stderr, "argo-blkbench: fsync: %s\n", strerror(errno));
		return 1;
	}
	secs = (double)(now_ns() - start) / 1e9;
	qsort(lat, ops, sizeof(*lat), cmp_u64);
	printf("%s bs=%llu ops=%llu bytes=%llu seconds=%.3f MiB/s=%.2f iops=%.0f lat_us: min=%.0f "
	       "p50=%.0f p99=%.0f max=%.0f\n",
	       mode, (unsigned long long)bs, (unsigned long long)ops,
	       (unsigned long long)(ops * bs), secs, (double)(ops * bs) / secs / (1 << 20),
	       (double)ops / secs, lat[0] / 1e3, lat[ops / 2] / 1e3, lat[ops * 99 / 100] / 1e3,
	       lat[ops - 1] / 1e3);
	free(lat);
	free(buf);
	close(fd);
	return 0;
}
