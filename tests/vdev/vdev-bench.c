/* SPDX-License-Identifier: MIT */
/*
 * vdev-bench: what virtio-argo costs a block device (docs/benchmarks.md,
 * "virtio-argo"). One qemu-storage-daemon exports two raw images; the same
 * request mix runs, in interleaved turns, against
 *   direct: export A driven by our own vhost-user front end in this process
 *           (vdev/vhost_user.c, vdev/vring.c), the buffers already in shared
 *           memory: what a VM attached to the export as vhost-user-blk
 *           costs, without the VM;
 *   argo:   export B through argo-vdevd, from a user-space driver (vdrv.c)
 *           on the sim fabric: every byte copied through Argo both ways.
 * Phases per turn: 1 MiB sequential writes, 1 MiB sequential reads, 4 KiB
 * random reads at queue depth 1. Prints per-turn figures and the medians.
 *
 *   vdev-bench --bin DIR [--turns N] [--mib M] [--randreads R]
 *
 * Not a test: nothing here passes or fails on speed (make bench-vdev).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vdev.h"
#include "vdrv.h"

#define QSIZE    128u
#define MAX_SEGS 258u
#define CHAIN    ((1u << 20) + 8192)
#define BIG      (1u << 20)
#define SMALL    4096u

static char dir[64], bin[512];
static pid_t pids[8];
static unsigned int npids;
static bool keep;

int vdev_verbose; /* vhost_user.c and vring.c log through these */
void vdev_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}
uint64_t vdev_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
uint64_t vdev_now_ms(void)
{
	return vdev_now_us() / 1000;
}

static void spawn(const char *cmd, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	pids[npids++] = pid;
}

static int wait_path(const char *path)
{
	struct stat st;
	int i;

	for (i = 0; i < 500; i++) {
		if (!stat(path, &st))
			return 0;
		poll(NULL, 0, 20);
	}
	return -1;
}

static void stop_all(void)
{
	while (npids) {
		pid_t pid = pids[--npids];

		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* CPU time a process used so far, all threads, in ns (schedstat: exact,
 * unlike the clock ticks of /proc/PID/stat). */
static uint64_t cpu_ns(pid_t pid)
{
	char path[300], line[128];
	uint64_t sum = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		unsigned long long ns;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && sscanf(line, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* ---- the direct front end ---- */

struct direct {
	struct vhu v;
	struct shadow s;
	struct svring r;
	int kick, call;
};

static int direct_open(struct direct *d, const char *sock)
{
	uint64_t f;
	int rc;

	rc = vhu_connect(&d->v, sock);
	if (!rc)
		rc = vhu_handshake(&d->v);
	if (rc)
		return rc;
	f = (1ull << 32) | (1ull << 28) | (d->v.features & (1ull << VHU_F_PROTOCOL_FEATURES));
	rc = shadow_create(&d->s, 1, QSIZE, MAX_SEGS, CHAIN);
	d->kick = eventfd(0, EFD_CLOEXEC);
	d->call = eventfd(0, EFD_CLOEXEC);
	if (!rc)
		rc = vhu_set_features(&d->v, f);
	if (!rc)
		rc =
		    vhu_set_mem_table(&d->v, d->s.memfd, d->s.size, (uint64_t)(uintptr_t)d->s.base);
	svring_init(&d->r, &d->s, 0, QSIZE);
	if (!rc)
		rc = vhu_set_vring_num(&d->v, 0, QSIZE);
	if (!rc)
		rc = vhu_set_vring_base(&d->v, 0, 0);
	if (!rc)
		rc = vhu_set_vring_addr(&d->v, 0,
		                        (uint64_t)(uintptr_t)shadow_ptr(&d->s, d->r.desc_off),
		                        (uint64_t)(uintptr_t)shadow_ptr(&d->s, d->r.used_off),
		                        (uint64_t)(uintptr_t)shadow_ptr(&d->s, d->r.avail_off));
	if (!rc)
		rc = vhu_set_vring_fd(&d->v, VHU_SET_VRING_KICK, 0, d->kick);
	if (!rc)
		rc = vhu_set_vring_fd(&d->v, VHU_SET_VRING_CALL, 0, d->call);
	if (!rc)
		rc = vhu_set_vring_enable(&d->v, 0, true);
	return rc;
}

static void blk_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, 16);
	h[0] = (uint8_t)type;
	memcpy(h + 8, &sector, 8);
}

/* One request on the direct path, waiting for it: its status byte. */
static int direct_io(struct direct *d, uint32_t type, uint64_t sector, uint32_t len)
{
	uint8_t *slot = shadow_data(&d->s, 0, 0), tbl[12];
	uint32_t v[3] = {16, len, 1}, id, ulen;
	uint64_t one = 1, n;

	blk_hdr(slot, type, sector);
	memcpy(tbl, v, 12);
	/* Writes: hdr and data out, status in; reads: hdr out, data and
	 * status in. Same slot layout either way. */
	svring_table(&d->s, 0, 0, tbl, type == 1 ? 2 : 1, type == 1 ? 1 : 2);
	svring_publish(&d->r, &d->s, 0, 0, 3);
	if (write(d->kick, &one, 8) != 8)
		return -errno;
	/* The back end may make the eventfds non-blocking (the file
	 * description is shared): wait with poll. */
	while (!svring_used(&d->r, &d->s, &id, &ulen)) {
		struct pollfd p = {.fd = d->call, .events = POLLIN};

		poll(&p, 1, 1000);
		if (read(d->call, &n, 8) != 8 && errno != EAGAIN)
			return -errno;
	}
	return slot[16 + len];
}

/* ---- the Argo path ---- */

static int argo_io(struct vdrv_dev *dev, uint32_t type, uint64_t sector, uint8_t *buf, uint32_t len)
{
	uint8_t h[16];
	struct vdrv_done done;
	int rc;

	blk_hdr(h, type, sector);
	if (type == 1) {
		const void *out[2] = {h, buf};
		uint32_t out_len[2] = {16, len}, in_len[1] = {1};

		rc = vdrv_submit(dev, 0, 0, out, out_len, 2, in_len, 1, 0, NULL);
	} else {
		const void *out[1] = {h};
		uint32_t out_len[1] = {16}, in_len[2] = {len, 1};

		rc = vdrv_submit(dev, 0, 0, out, out_len, 1, in_len, 2, 0, NULL);
	}
	if (!rc)
		rc = vdrv_wait_done(dev, &done, 10000);
	if (rc)
		return rc;
	if (type == 0 && done.used_len == len + 1)
		memcpy(buf, done.data, len);
	rc = done.used_len ? done.data[done.used_len - 1] : -EPROTO;
	free(done.data);
	return rc;
}

/* The daemon's own sendv and notify counts (its "bus:" counters). */
static int bus_ops(uint64_t *sendv, uint64_t *notify)
{
	char cmd[1024], line[256];
	FILE *f;
	int found = 0;

	snprintf(cmd, sizeof(cmd), "%s/argo-vdevctl -s %s/vdevd.ctl counters", bin, dir);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "  sendv_calls %llu", &v) == 1 && !(found & 1)) {
			*sendv = v;
			found |= 1;
		} else if (sscanf(line, "  notify_calls %llu", &v) == 1 && !(found & 2)) {
			*notify = v;
			found |= 2;
		}
	}
	pclose(f);
	return found == 3 ? 0 : -1;
}

/* ---- phases ---- */

struct result {
	double iops, mbps, p50_us, p99_us;
	double cpu_us[4]; /* per request: this process (the driver), sim, argo-vdevd, qsd */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* n requests of len bytes; random sectors in the first 'span' bytes when
 * random. mode: 0 direct, 1 argo. */
static int phase(int mode, struct direct *d, struct vdrv_dev *dev, uint32_t type, uint32_t len,
                 unsigned int n, bool random, uint64_t span, struct result *res)
{
	static uint8_t buf[BIG];
	uint64_t *lat = calloc(n, sizeof(*lat)), t0 = vdev_now_us(), t, c0[4];
	pid_t who[4] = {getpid(), pids[1], pids[2], pids[0]};
	unsigned int i;

	if (!lat)
		return -ENOMEM;
	for (i = 0; i < 4; i++)
		c0[i] = cpu_ns(who[i]);
	for (i = 0; i < n; i++) {
		uint64_t sector =
		    random ? next_rand() % (span / len) * (len / 512) : (uint64_t)i * (len / 512);
		uint64_t s = vdev_now_us();
		int rc =
		    mode ? argo_io(dev, type, sector, buf, len) : direct_io(d, type, sector, len);

		if (rc) {
			fprintf(stderr, "vdev-bench: %s request failed: %d\n",
			        mode ? "argo" : "direct", rc);
			free(lat);
			return -EIO;
		}
		lat[i] = vdev_now_us() - s;
	}
	t = vdev_now_us() - t0;
	for (i = 0; i < 4; i++)
		res->cpu_us[i] = (double)(cpu_ns(who[i]) - c0[i]) / 1000.0 / n;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	res->iops = n / (t / 1e6);
	res->mbps = (double)n * len / (t / 1e6) / 1e6;
	res->p50_us = (double)lat[n / 2];
	res->p99_us = (double)lat[n * 99 / 100];
	free(lat);
	return 0;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const char *const names[3] = {"seqwrite 1M", "seqread 1M", "randread 4K QD1"};
	unsigned int turns = 11, mib = 64, randreads = 2000, t, p, m, i;
	double iops[3][2][64], mbps[3][2][64], p50[3][2][64], p99[3][2][64], cpu[3][2][4][64];
	char cmd[4096], path[256];
	struct direct d;
	struct vdrv drv;
	struct vdrv_dev dev;
	uint64_t neg;
	int fd;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--bin") && i + 1 < (unsigned int)argc)
			snprintf(bin, sizeof(bin), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--turns") && i + 1 < (unsigned int)argc)
			turns = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--mib") && i + 1 < (unsigned int)argc)
			mib = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--keep"))
			keep = true;
		else if (!strcmp(argv[i], "--randreads") && i + 1 < (unsigned int)argc)
			randreads = (unsigned int)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: vdev-bench --bin DIR [--turns N] [--mib M] "
			                "[--randreads R]\n");
			return 2;
		}
	}
	if (!bin[0] || !turns || turns > 64 || !mib || !randreads) {
		fprintf(stderr,
		        "usage: vdev-bench --bin DIR [--turns 1-64] [--mib M] [--randreads R]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* vdrv copies each message out of its ring into a malloc'd buffer (a
	 * frontend module copies into the guest's buffers instead). Keep those
	 * buffers on the heap, not fresh mmaps: on this VM a page fault costs
	 * ~30 us, and fresh 1 MiB buffers would make the driver's page faults,
	 * not virtio-argo, the cost measured. */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	snprintf(dir, sizeof(dir), "/tmp/vdev-bench.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/disk%u.raw", dir, i);
		fd = open(path, O_CREAT | O_RDWR, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)mib << 20) < 0)
			return 1;
		close(fd);
	}
	snprintf(cmd, sizeof(cmd),
	         "exec qemu-storage-daemon"
	         " --blockdev driver=file,node-name=f0,filename=%s/disk0.raw"
	         " --export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,"
	         "addr.path=%s/a.sock,writable=on"
	         " --blockdev driver=file,node-name=f1,filename=%s/disk1.raw"
	         " --export type=vhost-user-blk,id=e1,node-name=f1,addr.type=unix,"
	         "addr.path=%s/b.sock,writable=on",
	         dir, dir, dir, dir);
	snprintf(path, sizeof(path), "%s/qsd.log", dir);
	spawn(cmd, path);
	snprintf(cmd, sizeof(cmd),
	         "exec %s/argo-simd -s %s/sim.sock -D 5=%s/drv.sock -D 2=%s/d.sock", bin, dir, dir,
	         dir);
	snprintf(path, sizeof(path), "%s/simd.log", dir);
	spawn(cmd, path);
	snprintf(path, sizeof(path), "%s/b.sock", dir);
	if (wait_path(path))
		goto fail;
	snprintf(path, sizeof(path), "%s/sim.sock", dir);
	if (wait_path(path))
		goto fail;
	snprintf(path, sizeof(path), "%s/vdevd.conf", dir);
	{
		FILE *f = fopen(path, "w");

		if (!f)
			goto fail;
		fprintf(f,
		        "[vdevd]\nfabric = sim:%s/d.sock\ncontrol = %s/vdevd.ctl\n"
		        "[device b]\ntype = blk\nnumber = 0\nsocket = %s/b.sock\nfrontend = 5\n"
		        "ring_len = 4M\n",
		        dir, dir, dir);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "exec %s/argo-vdevd %s/vdevd.conf", bin, dir);
	snprintf(path, sizeof(path), "%s/vdevd.log", dir);
	spawn(cmd, path);
	snprintf(path, sizeof(path), "%s/vdevd.ctl", dir);
	if (wait_path(path))
		goto fail;
	snprintf(path, sizeof(path), "%s/a.sock", dir);
	if (direct_open(&d, path)) {
		fprintf(stderr, "vdev-bench: direct front end failed\n");
		goto fail;
	}
	snprintf(path, sizeof(path), "sim:%s/drv.sock", dir);
	/* Rings as a frontend module would size them: 4 MiB per device. */
	{
		int rc = vdrv_open(&drv, path, 2, VIRTIO_ARGO_BUS_PORT, 64 * 1024);

		if (!rc)
			rc = vdrv_dev_open(&drv, &dev, 0, 4 << 20, 0);
		if (!rc)
			rc = vdrv_init_device(&dev, ~(1ull << 34), 1, QSIZE, 0, &neg);
		if (rc) {
			fprintf(stderr, "vdev-bench: argo driver failed: %s\n", strerror(-rc));
			goto fail;
		}
	}
	printf("# vdev-bench: %u turns, %u MiB sequential, %u random 4 KiB reads per phase\n",
	       turns, mib, randreads);
	printf("# turn mode phase iops MB/s p50_us p99_us\n");
	for (t = 0; t < turns; t++) {
		for (m = 0; m < 2; m++) {
			unsigned int mode = (t + m) % 2; /* alternate which goes first */
			struct result r;

			for (p = 0; p < 3; p++) {
				uint32_t type = p == 0 ? 1 : 0, len = p == 2 ? SMALL : BIG;
				unsigned int n = p == 2 ? randreads : mib;

				if (phase((int)mode, &d, &dev, type, len, n, p == 2,
				          (uint64_t)mib << 20, &r))
					goto fail;
				iops[p][mode][t] = r.iops;
				mbps[p][mode][t] = r.mbps;
				p50[p][mode][t] = r.p50_us;
				p99[p][mode][t] = r.p99_us;
				for (i = 0; i < 4; i++)
					cpu[p][mode][i][t] = r.cpu_us[i];
				printf("%u %s %-16s %.0f %.1f %.0f %.0f\n", t,
				       mode ? "argo" : "direct", names[p], r.iops, r.mbps, r.p50_us,
				       r.p99_us);
			}
		}
	}
	printf("\n# medians over %u turns\n", turns);
	printf("%-16s %-7s %10s %9s %8s %8s\n", "phase", "path", "req/s", "MB/s", "p50_us",
	       "p99_us");
	for (p = 0; p < 3; p++) {
		double mi[2], mm[2], m50[2], m99[2];

		for (m = 0; m < 2; m++) {
			mi[m] = median(iops[p][m], turns);
			mm[m] = median(mbps[p][m], turns);
			m50[m] = median(p50[p][m], turns);
			m99[m] = median(p99[p][m], turns);
			printf("%-16s %-7s %10.0f %9.1f %8.0f %8.0f\n", names[p],
			       m ? "argo" : "direct", mi[m], mm[m], m50[m], m99[m]);
		}
		printf("%-16s %-7s %10.2f %9.2f %8.2f %8.2f\n", names[p], "ratio", mi[1] / mi[0],
		       mm[1] / mm[0], m50[1] / m50[0], m99[1] / m99[0]);
	}
	printf("\n# CPU time per request, us (medians): the driver (this process), argo-simd, "
	       "argo-vdevd, qemu-storage-daemon\n");
	printf("%-16s %-7s %8s %8s %8s %8s %8s\n", "phase", "path", "driver", "sim", "vdevd", "qsd",
	       "total");
	for (p = 0; p < 3; p++)
		for (m = 0; m < 2; m++) {
			double c[4], tot = 0;

			for (i = 0; i < 4; i++) {
				c[i] = median(cpu[p][m][i], turns);
				tot += c[i];
			}
			printf("%-16s %-7s %8.1f %8.1f %8.1f %8.1f %8.1f\n", names[p],
			       m ? "argo" : "direct", c[0], c[1], c[2], c[3], tot);
		}
	/* Argo operations per request: 1000 more 4 KiB reads, counted. */
	{
		uint64_t s0 = drv.sendv_calls, n0 = drv.notify_calls, ds0, dn0, ds1, dn1;
		struct result r;

		if (bus_ops(&ds0, &dn0) ||
		    phase(1, &d, &dev, 0, SMALL, 1000, true, (uint64_t)mib << 20, &r) ||
		    bus_ops(&ds1, &dn1))
			goto fail;
		printf("\n# Argo operations per 4 KiB read (1000 reads): driver sendv %.2f notify "
		       "%.2f, device sendv %.2f notify %.2f\n",
		       (drv.sendv_calls - s0) / 1000.0, (drv.notify_calls - n0) / 1000.0,
		       (ds1 - ds0) / 1000.0, (dn1 - dn0) / 1000.0);
	}
	{
		char ctl[8192];

		snprintf(cmd, sizeof(cmd), "%s/argo-vdevctl -s %s/vdevd.ctl counters", bin, dir);
		FILE *f = popen(cmd, "r");
		size_t n = f ? fread(ctl, 1, sizeof(ctl) - 1, f) : 0;

		if (f)
			pclose(f);
		ctl[n] = 0;
		printf("\n# argo-vdevd counters after the run\n%s", ctl);
	}
	vdrv_dev_close(&dev);
	vdrv_close(&drv);
	vhu_close(&d.v);
	stop_all();
	if (keep) {
		fprintf(stderr, "vdev-bench: files in %s\n", dir);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
fail:
	fprintf(stderr, "vdev-bench: failed; logs in %s\n", dir);
	stop_all();
	return 1;
}
