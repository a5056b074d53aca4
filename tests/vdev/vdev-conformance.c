/* SPDX-License-Identifier: MIT */
/*
 * The device-side conformance suite for argo-vdevd (docs/virtio-argo.md,
 * docs/testing.md): a user-space driver (vdrv.c) on the sim fabric drives
 * a real argo-vdevd serving real back ends, qemu-storage-daemon (a raw and
 * a qcow2 vhost-user-blk export) and virtiofsd.
 *
 *   vdev-conformance --bin DIR [--leaf] [--keep]
 *
 * DIR holds argo-simd and argo-vdevd (the plain or the sanitizer build).
 * With --leaf, argo-vdevd runs as a leaf endpoint (fabric link:unix:...)
 * whose domain an argo-relayd (from DIR too) holds on the same sim fabric,
 * as a driver domain without Argo of its own would; nothing else changes.
 * The suite starts everything itself in a fresh folder under /tmp (kept
 * with --keep), checks after every test that the daemon is still alive,
 * and stops what it started, by pid. Tests are a table; cunit_main() runs
 * them and prints the summary line.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vdrv.h"
#include "../cunit_main.h"

#define DRIVER_DOMID     5
#define VDEVD_DOMID      2
#define IMG_BYTES        (64u << 20)
#define DEV_BLK0         0 /* raw image, frontend DRIVER_DOMID */
#define DEV_BLK1         1 /* qcow2 image, frontend any */
#define DEV_FS           2 /* virtiofsd, frontend DRIVER_DOMID */
#define DEV_HIDDEN       3 /* for domain 9 only: nobody here sees it */
#define SILENT_DOMID     9 /* exists (test_ring_checks) but never talks */
#define RING_CHECK_MS    300

#define F_VERSION_1      (1ull << 32)
#define F_RING_RESET     (1ull << 40)
#define F_PACKED         (1ull << 34)
#define F_BLK_SEG_MAX    (1ull << 2)
#define F_BLK_SIZE_MAX   (1ull << 1)
#define F_BLK_CONFIG_WCE (1ull << 11)
#define S_OK_ALL         15u /* ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK */

#define BLK_T_IN         0
#define BLK_T_OUT        1
#define BLK_T_FLUSH      4
#define BLK_T_GET_ID     8

#define CHECKF(cond, ...)                                                                          \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_) {                                                                        \
			fprintf(stderr, "\n    %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
		}                                                                                  \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE);             \
	} while (0)

static char dir[64], bin[512];
static bool keep;
static pid_t simd_pid, qsd_pid, fsd_pid, vdevd_pid, relay_pid;
/* --leaf: argo-vdevd is a leaf endpoint (a link: fabric) whose domain an
 * argo-relayd holds, as in a driver domain that has no Argo of its own. */
static bool leaf_mode;
static char qsd_cmd[2048];
static struct vdrv drv;
static struct vdrv_dev blk0, blk1, fs0;

/* ---- processes ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	poll(NULL, 0, ms);
}

static pid_t spawn(const char *cmd, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static bool wait_path(const char *path, int ms)
{
	int64_t end = now_ms() + ms;
	struct stat st;

	while (now_ms() < end) {
		if (stat(path, &st) == 0)
			return true;
		nap_ms(20);
	}
	return false;
}

static void stop(pid_t *pid)
{
	int64_t end;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	end = now_ms() + 5000;
	while (now_ms() < end && waitpid(*pid, NULL, WNOHANG) == 0)
		nap_ms(20);
	if (waitpid(*pid, NULL, WNOHANG) == 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static bool daemon_alive(void)
{
	return vdevd_pid > 0 && waitpid(vdevd_pid, NULL, WNOHANG) == 0;
}

/* Asks the daemon's control socket; the answer into buf. */
static int control(const char *cmd, char *buf, size_t size)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vdevd.ctl", dir);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return -1;
	}
	while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(fd);
	return 0;
}

/* A counter of a device from "counters": -1 if not found. */
static long long counter(const char *dev, const char *name)
{
	static char buf[65536];
	char key[64], *p;

	if (control("counters", buf, sizeof(buf)))
		return -1;
	snprintf(key, sizeof(key), "device %s ", dev);
	p = strstr(buf, key);
	if (!p)
		return -1;
	snprintf(key, sizeof(key), "\n  %s ", name);
	p = strstr(p, key);
	return p ? atoll(p + strlen(key)) : -1;
}

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Copies template into out, with @D the test folder and @B the binaries'. */
static void expand(char *out, size_t size, const char *template)
{
	size_t n = 0;

	for (; *template && n + 1 < size; template ++) {
		const char *sub = NULL;

		if (template[0] == '@' && template[1] == 'D')
			sub = dir;
		else if (template[0] == '@' && template[1] == 'B')
			sub = bin;
		if (sub) {
			n += (size_t)snprintf(out + n, size - n, "%s", sub);
			if (n >= size)
				n = size - 1;
			template ++;
		} else
			out[n++] = *template;
	}
	out[n] = 0;
}

static const char qsd_tail[] =
    " --blockdev driver=file,node-name=f0,filename=@D/disk.raw"
    " --export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=@D/blk0.sock,"
    "writable=on"
    " --blockdev driver=file,node-name=f1,filename=@D/disk.qcow2"
    " --blockdev driver=qcow2,node-name=q1,file=f1"
    " --export type=vhost-user-blk,id=e1,node-name=q1,addr.type=unix,addr.path=@D/blk1.sock,"
    "writable=on"
    " --blockdev driver=file,node-name=f3,filename=@D/small.raw"
    " --export type=vhost-user-blk,id=e3,node-name=f3,addr.type=unix,addr.path=@D/blk3.sock,"
    "writable=on";

static int start_qsd(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/blk0.sock", dir);
	unlink(path);
	qsd_pid = spawn(qsd_cmd, "/dev/null");
	return wait_path(path, 10000) ? 0 : -1;
}

/* virtiofsd serves one connection, then exits: started again after each. */
static int start_fsd(void)
{
	char cmd[512], path[128];

	expand(cmd, sizeof(cmd),
	       "mkdir -p @D/share && printf 'hello from the driver domain\\n' > "
	       "@D/share/hello.txt && exec /usr/lib/qemu/virtiofsd "
	       "--socket-path=@D/fs.sock -o source=@D/share -o sandbox=chroot "
	       "-o cache=none");
	snprintf(path, sizeof(path), "%s/fs.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/fsd.log", dir);
	fsd_pid = spawn(cmd, path);
	snprintf(path, sizeof(path), "%s/fs.sock", dir);
	return wait_path(path, 10000) ? 0 : -1;
}

/* argo-vdevd on @D/vdevd.conf; ready once both kinds of back end are
 * connected. */
static int start_vdevd(void)
{
	char cmd[256], path[128], buf[4096];
	int64_t end;

	expand(cmd, sizeof(cmd), "exec @B/argo-vdevd -v @D/vdevd.conf");
	snprintf(path, sizeof(path), "%s/vdevd.ctl", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/vdevd.log", dir);
	vdevd_pid = spawn(cmd, path);
	snprintf(path, sizeof(path), "%s/vdevd.ctl", dir);
	if (!wait_path(path, 5000))
		return -1;
	end = now_ms() + 5000;
	while (now_ms() < end) {
		if (!control("status", buf, sizeof(buf)) && strstr(buf, "fs.sock (up)") &&
		    strstr(buf, "blk0.sock (up)") && strstr(buf, "blk1.sock (up)"))
			return 0;
		nap_ms(50);
	}
	return 0; /* the tests see what is missing */
}

static int setup_world(void)
{
	char cmd[2048], path[256];
	FILE *f;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/vdev-conf.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* Images: raw (sparse), qcow2, a small raw for the hidden device. */
	snprintf(path, sizeof(path), "%s/disk.raw", dir);
	fd = open(path, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || ftruncate(fd, IMG_BYTES) < 0)
		return -1;
	close(fd);
	snprintf(path, sizeof(path), "%s/small.raw", dir);
	fd = open(path, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s/disk.qcow2 32M", dir);
	if (system(cmd))
		return -1;
	expand(qsd_cmd, sizeof(qsd_cmd), "exec qemu-storage-daemon");
	expand(qsd_cmd + strlen(qsd_cmd), sizeof(qsd_cmd) - strlen(qsd_cmd), qsd_tail);
	if (start_qsd())
		return -1;
	if (start_fsd())
		return -1;
	expand(cmd, sizeof(cmd),
	       "exec @B/argo-simd -s @D/sim.sock -m -D " STR(DRIVER_DOMID) "=@D/drv.sock -D " STR(
	           VDEVD_DOMID) "=@D/vdevd.sock -D 1=@D/relay.sock -D " STR(SILENT_DOMID) "=@D/silent.sock");
	snprintf(path, sizeof(path), "%s/simd.log", dir);
	simd_pid = spawn(cmd, path);
	snprintf(path, sizeof(path), "%s/sim.sock", dir);
	if (!wait_path(path, 5000))
		return -1;
	if (leaf_mode) {
		/* The relay holds argo-vdevd's domain (VDEVD_DOMID's socket). */
		expand(
		    cmd, sizeof(cmd),
		    "umask 077 && head -c 32 /dev/urandom > @D/leaf.key && printf '[relay]\\nhvid "
		    "= l0\\nfabric = sim:@D/relay.sock\\ncontrol = @D/relay.ctl\\n[link "
		    "vdevd]\\ntransport = unix\\nlisten = @D/leaf.sock\\npeer = "
		    "vdevd\\nkey = leaf.key\\nleaf = sim:@D/vdevd.sock\\n' > @D/relay.conf");
		if (system(cmd))
			return -1;
		expand(cmd, sizeof(cmd), "exec @B/argo-relayd -v @D/relay.conf");
		snprintf(path, sizeof(path), "%s/relay.log", dir);
		relay_pid = spawn(cmd, path);
		snprintf(path, sizeof(path), "%s/relay.ctl", dir);
		if (!wait_path(path, 5000))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/vdevd.conf", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	expand(cmd, sizeof(cmd),
	       leaf_mode
	           ? "[vdevd]\nfabric = link:unix:@D/leaf.sock?key=@D/leaf.key&hvid=l0&name=vdevd\n"
	           : "[vdevd]\nfabric = sim:@D/vdevd.sock\n");
	fputs(cmd, f);
	/* clang-format off */
	expand(cmd, sizeof(cmd),
	    "control = @D/vdevd.ctl\n"
	    "reconnect_ms = 200\nreset_timeout_ms = 3000\n"
	    "ring_check_ms = " STR(RING_CHECK_MS) "\n"
	    "[device blk0]\ntype = blk\nnumber = " STR(DEV_BLK0) "\nsocket = @D/blk0.sock\n"
	    "frontend = " STR(DRIVER_DOMID) "\nring_len = 1M\n"
	    "[device blk1]\ntype = blk\nnumber = " STR(DEV_BLK1) "\nsocket = @D/blk1.sock\n"
	    "frontend = any\nring_len = 256K\n"
	    "[device fs0]\ntype = fs\nnumber = " STR(DEV_FS) "\nsocket = @D/fs.sock\n"
	    "frontend = " STR(DRIVER_DOMID) "\ntag = share\n"
	    "[device hidden]\ntype = blk\nnumber = " STR(DEV_HIDDEN) "\nsocket = @D/blk3.sock\n"
	    "frontend = 9\n");
	/* clang-format on */
	fputs(cmd, f);
	fclose(f);
	if (start_vdevd())
		return -1;
	snprintf(path, sizeof(path), "sim:%s/drv.sock", dir);
	if (vdrv_open(&drv, path, VDEVD_DOMID, VIRTIO_ARGO_BUS_PORT, 64 * 1024))
		return -1;
	if (vdrv_dev_open(&drv, &blk0, DEV_BLK0, 2 << 20, 0) ||
	    vdrv_dev_open(&drv, &blk1, DEV_BLK1, 2 << 20, 0) ||
	    vdrv_dev_open(&drv, &fs0, DEV_FS, 2 << 20, 0))
		return -1;
	return 0;
}

static void teardown_world(void)
{
	char cmd[128];

	vdrv_dev_close(&blk0);
	vdrv_dev_close(&blk1);
	vdrv_dev_close(&fs0);
	vdrv_close(&drv);
	stop(&vdevd_pid);
	stop(&relay_pid);
	stop(&fsd_pid);
	stop(&qsd_pid);
	stop(&simd_pid);
	if (!keep && dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

/* After each test: the daemon lives, and answers a PING. */
static void after_test(void)
{
	struct vmsg q = {.type = VIRTIO_ARGO_TYPE_BUS, .msg_id = VIRTIO_ARGO_BUS_PING}, r;

	CHECKF(daemon_alive(), "argo-vdevd died (see %s/vdevd.log)\n", dir);
	q.u.u32 = 0x5A5A1234;
	CHECKF(vdrv_bus_call(&drv, &q, &r) == 0 && r.u.u32 == 0x5A5A1234,
	       "argo-vdevd does not answer PING\n");
}

static struct vmsg msg(uint8_t type, uint8_t id)
{
	struct vmsg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.msg_id = id;
	return m;
}

/* ---- blk helpers ---- */

static void blk_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, 16);
	h[0] = (uint8_t)type;
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(sector >> (8 * i));
}

/* Writes len bytes at sector through dev; returns the status byte or <0. */
static int blk_write(struct vdrv_dev *dev, uint16_t id, uint64_t sector, const uint8_t *data,
                     uint32_t len, uint32_t frag)
{
	uint8_t h[16];
	const void *out[2] = {h, data};
	uint32_t out_len[2] = {16, len}, in_len[1] = {1};
	struct vdrv_done d;
	int rc;

	blk_hdr(h, BLK_T_OUT, sector);
	rc = vdrv_submit(dev, 0, id, out, out_len, 2, in_len, 1, frag, NULL);
	if (rc)
		return rc;
	rc = vdrv_wait_done(dev, &d, 10000);
	if (rc)
		return rc;
	rc = d.used_len >= 1 && d.id == id ? d.data[d.used_len - 1] : -EPROTO;
	free(d.data);
	return rc;
}

/* Reads len bytes at sector into buf (in segments of seg bytes). */
static int blk_read(struct vdrv_dev *dev, uint16_t id, uint64_t sector, uint8_t *buf, uint32_t len,
                    uint32_t seg, unsigned int *fragments)
{
	uint8_t h[16];
	const void *out[1] = {h};
	uint32_t out_len[1] = {16}, in_len[300], n = 0, off;
	struct vdrv_done d;
	int rc;

	for (off = 0; off < len; off += seg)
		in_len[n++] = len - off < seg ? len - off : seg;
	in_len[n++] = 1;
	blk_hdr(h, BLK_T_IN, sector);
	rc = vdrv_submit(dev, 0, id, out, out_len, 1, in_len, (uint16_t)n, 0, NULL);
	if (rc)
		return rc;
	rc = vdrv_wait_done(dev, &d, 10000);
	if (rc)
		return rc;
	if (d.used_len != len + 1 || d.id != id) {
		free(d.data);
		return -EPROTO;
	}
	memcpy(buf, d.data, len);
	rc = d.data[len];
	if (fragments)
		*fragments = d.fragments;
	free(d.data);
	return rc;
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

static int init_blk(struct vdrv_dev *dev, uint32_t max_rx)
{
	uint64_t neg;

	vdrv_flush(dev);
	return vdrv_init_device(dev, ~F_PACKED, 1, 128, max_rx, &neg);
}

/* ---- bus ---- */

static void test_bus_hello(void)
{
	struct vmsg q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_HELLO), r;

	q.u.hello.bus_version = VIRTIO_ARGO_BUS_VERSION;
	q.u.hello.revision = VIRTIO_ARGO_REVISION;
	q.u.hello.features = 0xFFFFFFFF;
	q.u.hello.max_msg_size = VIRTIO_ARGO_MAX_MSG_SIZE;
	q.u.hello.max_rx = 65504;
	CU_ASSERT_FATAL(vdrv_bus_call(&drv, &q, &r) == 0);
	CU_ASSERT(r.u.hello.bus_version == VIRTIO_ARGO_BUS_VERSION);
	CU_ASSERT(r.u.hello.revision == VIRTIO_ARGO_REVISION);
	CU_ASSERT(r.u.hello.features == VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION);
	CU_ASSERT(r.u.hello.max_msg_size == VIRTIO_ARGO_MAX_MSG_SIZE);
	CU_ASSERT(r.u.hello.max_rx == 128 * 1024 - 32);
	/* blk0, blk1 (any) and fs0; not the device for domain 9. */
	CU_ASSERT(r.u.hello.num_devices == 3);
}

static void test_bus_get_devices(void)
{
	struct vmsg q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_GET_DEVICES), r;

	q.u.devices.count = 64;
	CU_ASSERT_FATAL(vdrv_bus_call(&drv, &q, &r) == 0);
	CU_ASSERT(r.u.devices.offset == 0);
	CU_ASSERT(r.u.devices.count == 3); /* trailing absent devices left out */
	CU_ASSERT(r.u.devices.next_offset == 0);
	CU_ASSERT_FATAL(r.u.devices.bitmap != NULL);
	CU_ASSERT(r.u.devices.bitmap[0] == 0x07);
	/* A window past the devices: empty, terminal. */
	q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_GET_DEVICES);
	q.u.devices.offset = 3;
	q.u.devices.count = 8;
	CU_ASSERT_FATAL(vdrv_bus_call(&drv, &q, &r) == 0);
	CU_ASSERT(r.u.devices.count == 0 && r.u.devices.next_offset == 0);
	/* A window of one that leaves devices beyond it. */
	q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_GET_DEVICES);
	q.u.devices.count = 1;
	CU_ASSERT_FATAL(vdrv_bus_call(&drv, &q, &r) == 0);
	CU_ASSERT(r.u.devices.count == 1 && r.u.devices.next_offset == 1);
}

static void test_bus_ping(void)
{
	struct vmsg q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_PING), r;

	q.u.u32 = 0xC0FFEE;
	CU_ASSERT(vdrv_bus_call(&drv, &q, &r) == 0 && r.u.u32 == 0xC0FFEE);
}

static void test_bus_refusals(void)
{
	struct vmsg q = msg(0, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS), r;
	uint8_t raw[8] = {VIRTIO_ARGO_TYPE_BUS, 0x9F, 0, 0, 0x77, 0, 8, 0};
	struct virtio_argo_error e;

	/* A transport message on the bus port: ERROR DEVICE. */
	CU_ASSERT(vdrv_bus_call(&drv, &q, &r) == -EREMOTEIO);
	CU_ASSERT(r.msg_id == VIRTIO_ARGO_BUS_ERROR && r.u.error.reason == VIRTIO_ARGO_ERR_DEVICE);
	CU_ASSERT(r.u.error.dev_num == VIRTIO_ARGO_DEV_NONE);
	/* An unknown bus message id. */
	CU_ASSERT(vdrv_send_raw(&drv, &drv.bus, VIRTIO_ARGO_BUS_PORT, raw, 8, NULL, 0,
	                        VIRTIO_ARGO_MSGTYPE) == 0);
	CU_ASSERT(vdrv_wait_error(&drv, NULL, 0x77, &e, 3000) == 0);
	CU_ASSERT(e.reason == VIRTIO_ARGO_ERR_UNKNOWN && e.bad_msg_id == 0x9F);
	/* A message of another Argo type: ignored, counted, no answer. */
	raw[1] = VIRTIO_ARGO_BUS_PING;
	CU_ASSERT(vdrv_send_raw(&drv, &drv.bus, VIRTIO_ARGO_BUS_PORT, raw, 8, NULL, 0, 0x1234) ==
	          0);
	CU_ASSERT(vdrv_wait_error(&drv, NULL, 0xFFFFFFFF, &e, 300) == -ETIMEDOUT);
}

/* ---- negotiation ---- */

static void test_device_info(void)
{
	struct vmsg q = msg(0, VIRTIO_ARGO_MSG_GET_DEVICE_INFO), r;
	static const uint8_t nil[16];

	vdrv_flush(&blk0);
	CU_ASSERT_FATAL(vdrv_call(&blk0, &q, &r) == 0);
	CU_ASSERT(r.dev_num == DEV_BLK0);
	CU_ASSERT(r.u.info.device_id == 2 && r.u.info.vendor_id == VIRTIO_ARGO_VENDOR_ID);
	CU_ASSERT(r.u.info.num_feature_blocks == 2 && r.u.info.config_size == 60);
	CU_ASSERT(r.u.info.max_virtqueues == 1 && r.u.info.admin_vq_count == 0);
	CU_ASSERT(memcmp(r.u.info.uuid, nil, 16) == 0);
	q = msg(0, VIRTIO_ARGO_MSG_GET_DEVICE_INFO);
	CU_ASSERT_FATAL(vdrv_call(&fs0, &q, &r) == 0);
	CU_ASSERT(r.u.info.device_id == 26 && r.u.info.config_size == 40);
	CU_ASSERT(r.u.info.max_virtqueues == 2);
}

static void test_not_attached(void)
{
	struct vmsg q = msg(0, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS), r;
	uint32_t st;

	/* DETACH first, so the device is free (an earlier test may hold it). */
	vdrv_flush(&blk0);
	if (vdrv_attach(&blk0, 0, 0, &st) == 0) {
		struct vmsg d = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH);

		d.u.attach.dev_num = DEV_BLK0;
		CU_ASSERT(vdrv_call(&blk0, &d, &r) == 0 && r.u.attach.status == 0);
	}
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == -EREMOTEIO);
	CU_ASSERT(blk0.last_error.reason == VIRTIO_ARGO_ERR_NOT_ATTACHED);
	CU_ASSERT(blk0.last_error.error == ENOTCONN);
	/* ATTACH with a ring too small for the protocol. */
	CU_ASSERT(vdrv_attach(&blk0, 100, 0, &st) == 0 && st == EINVAL);
	/* A wrong device number in ATTACH. */
	q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_ATTACH);
	q.u.attach.dev_num = 7;
	q.u.attach.max_rx = 65536;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == -EREMOTEIO &&
	          blk0.last_error.reason == VIRTIO_ARGO_ERR_DEVICE);
}

static void test_attach_and_features(void)
{
	uint64_t offered;
	uint32_t st;

	vdrv_flush(&blk0);
	CU_ASSERT_FATAL(vdrv_attach(&blk0, 0, VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION, &st) == 0);
	CU_ASSERT_FATAL(st == 0);
	CU_ASSERT(blk0.dev_max_rx == (1u << 19) - 32); /* half its 1 MiB ring */
	CU_ASSERT(blk0.max_segs == 258 && blk0.max_chain == (1u << 20) + 8192);
	CU_ASSERT(vdrv_set_status(&blk0, 1, &st) == 0 && st == 1);
	CU_ASSERT(vdrv_set_status(&blk0, 3, &st) == 0 && st == 3);
	CU_ASSERT_FATAL(vdrv_get_features(&blk0, &offered) == 0);
	CU_ASSERT(!!(offered & F_VERSION_1)); /* CU_ASSERT takes an int */
	CU_ASSERT(!!(offered & F_RING_RESET));
	CU_ASSERT((offered & (F_BLK_SEG_MAX | F_BLK_SIZE_MAX)) == (F_BLK_SEG_MAX | F_BLK_SIZE_MAX));
	CU_ASSERT(!(offered & F_PACKED) && !(offered & (1ull << 33)) && !(offered & (1ull << 38)));
	/* A bit the device did not offer: FEATURES_OK is refused. */
	CU_ASSERT(vdrv_set_features(&blk0, offered | F_PACKED) == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 11, &st) == 0 && st == 3);
	/* Without VERSION_1: refused too. */
	CU_ASSERT(vdrv_set_features(&blk0, offered & ~F_VERSION_1) == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 11, &st) == 0 && st == 3);
	/* Status bits are cleared only by a reset. */
	CU_ASSERT(vdrv_set_status(&blk0, 1, &st) == 0 && st == 3);
	CU_ASSERT(vdrv_set_features(&blk0, offered) == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 11, &st) == 0 && st == 11);
	/* DRIVER_OK, then a reset answers 0. */
	CU_ASSERT(vdrv_set_status(&blk0, 15, &st) == 0 && st == 15);
	CU_ASSERT(vdrv_set_status(&blk0, 0, &st) == 0 && st == 0);
}

static void test_config(void)
{
	uint8_t cfg[60], wce = 1;
	uint32_t gen, gen2, seg_max, size_max;
	uint64_t cap;
	struct vmsg q, r;

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	CU_ASSERT_FATAL(vdrv_get_config(&blk0, 0, 60, cfg, &gen) == 0);
	memcpy(&cap, cfg, 8);
	memcpy(&size_max, cfg + 8, 4);
	memcpy(&seg_max, cfg + 12, 4);
	CU_ASSERT(cap == IMG_BYTES / 512);
	/* Rewritten so that a request fits one chain. */
	CU_ASSERT(seg_max >= 1 && seg_max <= blk0.max_segs - 2);
	CU_ASSERT(size_max >= 4096 && (uint64_t)seg_max * size_max + 4096 <= blk0.max_chain);
	/* Out of range. */
	q = msg(0, VIRTIO_ARGO_MSG_GET_CONFIG);
	q.u.config.offset = 56;
	q.u.config.length = 8;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == -EREMOTEIO &&
	          blk0.last_error.reason == VIRTIO_ARGO_ERR_FIELD);
	/* A read-only field: not written (length 0), generation unchanged. */
	q = msg(0, VIRTIO_ARGO_MSG_SET_CONFIG);
	q.u.config.generation = gen;
	q.u.config.offset = 0;
	q.u.config.length = 8;
	q.u.config.data = cfg;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0 && r.u.config.length == 0 &&
	          r.u.config.generation == gen && r.u.config.data == NULL);
	/* wce (CONFIG_WCE negotiated): written, generation moves. */
	q = msg(0, VIRTIO_ARGO_MSG_SET_CONFIG);
	q.u.config.generation = gen;
	q.u.config.offset = 32;
	q.u.config.length = 1;
	q.u.config.data = &wce;
	CU_ASSERT_FATAL(vdrv_call(&blk0, &q, &r) == 0);
	CU_ASSERT(r.u.config.length == 1 && r.u.config.generation == gen + 1);
	CU_ASSERT(vdrv_get_config(&blk0, 32, 1, cfg, &gen2) == 0 && cfg[0] == 1 && gen2 == gen + 1);
	/* Strict profile (ATTACH granted it? init_blk asks none): a stale
	 * generation is ignored in the baseline profile. */
	q = msg(0, VIRTIO_ARGO_MSG_SET_CONFIG);
	q.u.config.generation = 12345;
	q.u.config.offset = 32;
	q.u.config.length = 1;
	wce = 0;
	q.u.config.data = &wce;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0 && r.u.config.length == 1);
}

static void test_strict_generation(void)
{
	uint32_t st, gen;
	uint64_t offered;
	uint8_t wce = 1, b;
	struct vmsg q, r;

	vdrv_flush(&blk0);
	CU_ASSERT_FATAL(vdrv_attach(&blk0, 0, VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION, &st) == 0 &&
	                st == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 3, &st) == 0);
	CU_ASSERT(vdrv_get_features(&blk0, &offered) == 0);
	CU_ASSERT(vdrv_set_features(&blk0, offered) == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 11, &st) == 0 && st == 11);
	CU_ASSERT_FATAL(vdrv_get_config(&blk0, 32, 1, &b, &gen) == 0);
	q = msg(0, VIRTIO_ARGO_MSG_SET_CONFIG);
	q.u.config.generation = gen + 7;
	q.u.config.offset = 32;
	q.u.config.length = 1;
	q.u.config.data = &wce;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0 && r.u.config.length == 0);
	q.u.config.generation = gen;
	q.token = 0;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0 && r.u.config.length == 1);
}

static void test_vqueue(void)
{
	struct vmsg_vqueue v;
	struct vmsg q, r;
	uint32_t st;
	uint64_t offered;

	vdrv_flush(&blk0);
	CU_ASSERT_FATAL(vdrv_attach(&blk0, 0, 0, &st) == 0 && st == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 3, &st) == 0);
	CU_ASSERT(vdrv_get_features(&blk0, &offered) == 0);
	CU_ASSERT(vdrv_set_features(&blk0, offered) == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 11, &st) == 0 && st == 11);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0);
	CU_ASSERT(v.index == 0 && v.max_size == 128 && v.cur_size == 0 && v.flags == 0);
	/* Out of range: the zero sentinel, index echoed. */
	CU_ASSERT(vdrv_get_vqueue(&blk0, 5, &v) == 0);
	CU_ASSERT(v.index == 5 && v.max_size == 0 && v.cur_size == 0 && v.desc_addr == 0);
	/* No-ops: not a power of 2, above max_size, reserved bits, state 3. */
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 100, 0) == 0);
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 256, 0) == 0);
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 64, 1u << 7) == 0);
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 64, 3) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 0 && v.flags == 0);
	q = msg(0, VIRTIO_ARGO_MSG_SET_VQUEUE);
	q.u.vqueue.size = 64;
	q.u.vqueue.reserved = 1;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 0);
	/* Set while disabled, then enable: addresses echoed. */
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 64, VIRTIO_ARGO_SETVQ_KEEP_DISABLED) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 64 && v.flags == 0 &&
	          v.desc_addr == 0x1000 && v.device_addr == 0x3000);
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 0,
	                          VIRTIO_ARGO_SETVQ_ENABLE | VIRTIO_ARGO_SETVQ_SIZE_IGNORE |
	                              VIRTIO_ARGO_SETVQ_DESC_IGNORE |
	                              VIRTIO_ARGO_SETVQ_DRIVER_IGNORE |
	                              VIRTIO_ARGO_SETVQ_DEVICE_IGNORE) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 64 && v.flags == 1);
	/* An enabled queue keeps its size and state. */
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 32, VIRTIO_ARGO_SETVQ_KEEP_STATE) == 0);
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 0,
	                          VIRTIO_ARGO_SETVQ_KEEP_DISABLED | VIRTIO_ARGO_SETVQ_SIZE_IGNORE |
	                              VIRTIO_ARGO_SETVQ_DESC_IGNORE |
	                              VIRTIO_ARGO_SETVQ_DRIVER_IGNORE |
	                              VIRTIO_ARGO_SETVQ_DEVICE_IGNORE) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 64 && v.flags == 1);
	/* DRIVER_OK, then reset the queue (RING_RESET negotiated). */
	CU_ASSERT(vdrv_set_status(&blk0, 15, &st) == 0 && st == 15);
	q = msg(0, VIRTIO_ARGO_MSG_RESET_VQUEUE);
	q.u.u32 = 0;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 0 && v.flags == 0);
	/* Reconfigured and enabled again, it carries I/O. */
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 128, VIRTIO_ARGO_SETVQ_ENABLE) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 128 && v.flags == 1);
	{
		uint8_t buf[4096];

		CU_ASSERT(blk_read(&blk0, 3, 0, buf, sizeof(buf), 4096, NULL) == 0);
	}
	/* Without RING_RESET negotiated, RESET_VQUEUE changes nothing. */
	CU_ASSERT(vdrv_set_status(&blk0, 0, &st) == 0 && st == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 3, &st) == 0);
	CU_ASSERT(vdrv_set_features(&blk0, offered & ~F_RING_RESET) == 0);
	CU_ASSERT(vdrv_set_status(&blk0, 11, &st) == 0 && st == 11);
	CU_ASSERT(vdrv_set_vqueue(&blk0, 0, 16, VIRTIO_ARGO_SETVQ_ENABLE) == 0);
	q = msg(0, VIRTIO_ARGO_MSG_RESET_VQUEUE);
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0);
	CU_ASSERT(vdrv_get_vqueue(&blk0, 0, &v) == 0 && v.cur_size == 16 && v.flags == 1);
	/* GET_SHM: no shared memory on this bus. */
	q = msg(0, VIRTIO_ARGO_MSG_GET_SHM);
	q.u.u32 = 4;
	CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0 && r.u.shm.shmid == 4 && r.u.shm.length == 0);
}

/* ---- block I/O ---- */

static void test_blk_cycle(void)
{
	static uint8_t w[1 << 20], rb[1 << 20], img[1 << 20];
	const uint32_t sizes[] = {512, 4096, 65536, 1008 * 1024};
	uint64_t sector = 2048;
	char path[128];
	int fd, i;

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	for (i = 0; i < 4; i++) {
		pattern(w, sizes[i], (uint32_t)i + 1);
		CHECKF(blk_write(&blk0, (uint16_t)i, sector, w, sizes[i], 0) == 0,
		       "write of %u bytes\n", sizes[i]);
		memset(rb, 0, sizes[i]);
		CHECKF(blk_read(&blk0, (uint16_t)(i + 10), sector, rb, sizes[i], 4096, NULL) == 0,
		       "read of %u bytes\n", sizes[i]);
		CHECKF(memcmp(w, rb, sizes[i]) == 0, "%u bytes read back differ\n", sizes[i]);
		/* The image itself holds them: nothing corrupted on the way. */
		snprintf(path, sizeof(path), "%s/disk.raw", dir);
		fd = open(path, O_RDONLY);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT(pread(fd, img, sizes[i], (off_t)sector * 512) == (ssize_t)sizes[i]);
		close(fd);
		CHECKF(memcmp(w, img, sizes[i]) == 0, "image differs after a %u-byte write\n",
		       sizes[i]);
		sector += sizes[i] / 512 + 8;
	}
}

static void test_blk_flush_get_id(void)
{
	uint8_t h[16];
	const void *out[1] = {h};
	uint32_t out_len[1] = {16}, in_len[2] = {20, 1}, st1[1] = {1};
	struct vdrv_done d;

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	blk_hdr(h, BLK_T_FLUSH, 0);
	CU_ASSERT_FATAL(vdrv_submit(&blk0, 0, 1, out, out_len, 1, st1, 1, 0, NULL) == 0);
	CU_ASSERT_FATAL(vdrv_wait_done(&blk0, &d, 5000) == 0);
	CU_ASSERT(d.used_len == 1 && d.data[0] == 0);
	free(d.data);
	blk_hdr(h, BLK_T_GET_ID, 0);
	CU_ASSERT_FATAL(vdrv_submit(&blk0, 0, 2, out, out_len, 1, in_len, 2, 0, NULL) == 0);
	CU_ASSERT_FATAL(vdrv_wait_done(&blk0, &d, 5000) == 0);
	CU_ASSERT(d.used_len == 21 && d.data[20] == 0);
	free(d.data);
}

/* Requests in many fragments (4 KiB each), completions in many fragments
 * (the driver's ring takes 8 KiB messages), several chains in flight. */
static void test_blk_fragments(void)
{
	static uint8_t w[8][256 * 1024], r[256 * 1024];
	unsigned int frags = 0;
	int i, done = 0;
	uint8_t h[8][16];

	CU_ASSERT_FATAL(init_blk(&blk0, 8192) == 0);
	for (i = 0; i < 8; i++) {
		const void *out[2] = {h[i], w[i]};
		uint32_t out_len[2] = {16, sizeof(w[i])}, in_len[1] = {1};

		pattern(w[i], sizeof(w[i]), 100 + (uint32_t)i);
		blk_hdr(h[i], BLK_T_OUT, 65536 + (uint64_t)i * 512);
		CU_ASSERT_FATAL(vdrv_submit(&blk0, 0, (uint16_t)(40 + i), out, out_len, 2, in_len,
		                            1, 4096, NULL) == 0);
	}
	for (i = 0; i < 8; i++) {
		struct vdrv_done d;

		if (vdrv_wait_done(&blk0, &d, 10000) == 0) {
			done += d.used_len == 1 && d.data[0] == 0 && d.id >= 40 && d.id < 48;
			free(d.data);
		}
	}
	CU_ASSERT(done == 8);
	for (i = 0; i < 8; i++) {
		CU_ASSERT(blk_read(&blk0, 50, 65536 + (uint64_t)i * 512, r, sizeof(r), 65536,
		                   &frags) == 0);
		CU_ASSERT(memcmp(r, w[i], sizeof(r)) == 0);
		CU_ASSERT(frags >= (sizeof(r) + 1) / (8192 - 32)); /* it came in pieces */
	}
}

static void test_blk_qcow2(void)
{
	static uint8_t w[128 * 1024], r[128 * 1024];
	uint64_t neg;
	uint8_t cfg[8];
	uint64_t cap;

	vdrv_flush(&blk1);
	CU_ASSERT_FATAL(vdrv_init_device(&blk1, ~F_PACKED, 1, 64, 0, &neg) == 0);
	CU_ASSERT(vdrv_get_config(&blk1, 0, 8, cfg, NULL) == 0);
	memcpy(&cap, cfg, 8);
	CU_ASSERT(cap == (32u << 20) / 512);
	pattern(w, sizeof(w), 77);
	CU_ASSERT(blk_write(&blk1, 1, 1000, w, sizeof(w), 0) == 0);
	CU_ASSERT(blk_read(&blk1, 2, 1000, r, sizeof(r), 4096, NULL) == 0);
	CU_ASSERT(memcmp(w, r, sizeof(r)) == 0);
}

/* ---- virtio-fs ---- */

struct fuse_hdr {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t extlen, pad;
};

static int fuse_call(uint16_t id, uint32_t opcode, uint64_t nodeid, const void *arg,
                     uint32_t arg_len, uint32_t out_room, struct vdrv_done *d)
{
	static uint64_t next_unique = 1;
	struct fuse_hdr h = {
	    .len = (uint32_t)sizeof(h) + arg_len, .opcode = opcode, .nodeid = nodeid};
	const void *out[2] = {&h, arg};
	uint32_t out_len[2] = {sizeof(h), arg_len}, in_len[2] = {16, out_room};
	int rc;

	h.unique = ++next_unique;
	rc = vdrv_submit(&fs0, 1, id, out, out_len, arg_len ? 2 : 1, in_len, out_room ? 2 : 1, 0,
	                 NULL);
	if (rc)
		return rc;
	rc = vdrv_wait_done(&fs0, d, 5000);
	if (rc)
		return rc;
	/* fuse_out_header {len, error, unique}. */
	if (d->used_len < 16 || memcmp(d->data + 8, &h.unique, 8)) {
		free(d->data);
		return -EPROTO;
	}
	return 0;
}

static void test_fs_fuse(void)
{
	uint32_t init_in[16] = {7, 36}; /* fuse_init_in of FUSE 7.36 */
	char name[] = "hello.txt";
	uint64_t neg, nodeid, fh, rd[5] = {0};
	struct vdrv_done d;
	int32_t err;
	uint32_t open_in[2] = {0 /* O_RDONLY */, 0};
	uint8_t cfg[40];

	vdrv_flush(&fs0);
	CU_ASSERT_FATAL(vdrv_init_device(&fs0, ~F_PACKED, 2, 64, 0, &neg) == 0);
	CU_ASSERT(vdrv_get_config(&fs0, 0, 40, cfg, NULL) == 0);
	CU_ASSERT(memcmp(cfg, "share", 6) == 0 && cfg[36] == 1);
	/* FUSE_INIT (26). */
	CU_ASSERT_FATAL(fuse_call(1, 26, 0, init_in, sizeof(init_in), 64, &d) == 0);
	memcpy(&err, d.data + 4, 4);
	CU_ASSERT(err == 0 && d.used_len >= 16 + 8);
	CU_ASSERT(d.used_len >= 24 && *(uint32_t *)(d.data + 16) == 7);
	free(d.data);
	/* FUSE_LOOKUP (1) of hello.txt in the root (nodeid 1). */
	CU_ASSERT_FATAL(fuse_call(2, 1, 1, name, sizeof(name), 128, &d) == 0);
	memcpy(&err, d.data + 4, 4);
	CU_ASSERT_FATAL(err == 0 && d.used_len == 16 + 128);
	memcpy(&nodeid, d.data + 16, 8);
	CU_ASSERT(nodeid != 0);
	CU_ASSERT(*(uint64_t *)(d.data + 16 + 48) == 29); /* attr.size */
	free(d.data);
	/* FUSE_OPEN (14), FUSE_READ (15). */
	CU_ASSERT_FATAL(fuse_call(3, 14, nodeid, open_in, sizeof(open_in), 16, &d) == 0);
	memcpy(&err, d.data + 4, 4);
	CU_ASSERT_FATAL(err == 0);
	memcpy(&fh, d.data + 16, 8);
	free(d.data);
	rd[0] = fh;
	rd[2] = 4096; /* size (u32) then read_flags (u32) */
	CU_ASSERT_FATAL(fuse_call(4, 15, nodeid, rd, 40, 4096, &d) == 0);
	memcpy(&err, d.data + 4, 4);
	CU_ASSERT(err == 0 && d.used_len == 16 + 29);
	CU_ASSERT(memcmp(d.data + 16, "hello from the driver domain\n", 29) == 0);
	free(d.data);
	/* FUSE_CREATE (35) and FUSE_WRITE (16) a new file: the driver
	 * domain sees it in the shared folder, byte for byte. */
	{
		uint32_t create_in[4] = {0101 /* O_WRONLY | O_CREAT */, 0644, 0, 0};
		uint8_t arg[16 + 16];
		uint64_t wr[5] = {0};
		uint8_t wbuf[40 + 3000];
		char text[3000], back[3100];
		FILE *f;
		size_t got;

		for (int i = 0; i < 3000; i++)
			text[i] = (char)('a' + i % 26);
		memcpy(arg, create_in, 16);
		memcpy(arg + 16, "written.txt", 12);
		CU_ASSERT_FATAL(fuse_call(6, 35, 1, arg, 28, 144, &d) == 0);
		memcpy(&err, d.data + 4, 4);
		CU_ASSERT_FATAL(err == 0 && d.used_len == 16 + 144);
		memcpy(&nodeid, d.data + 16, 8);
		memcpy(&fh, d.data + 16 + 128, 8);
		free(d.data);
		wr[0] = fh;
		wr[2] = 3000; /* size; write_flags 0 */
		memcpy(wbuf, wr, 40);
		memcpy(wbuf + 40, text, 3000);
		CU_ASSERT_FATAL(fuse_call(7, 16, nodeid, wbuf, sizeof(wbuf), 8, &d) == 0);
		memcpy(&err, d.data + 4, 4);
		CU_ASSERT(err == 0 && d.used_len == 16 + 8 && *(uint32_t *)(d.data + 16) == 3000);
		free(d.data);
		snprintf(back, sizeof(back), "%s/share/written.txt", dir);
		f = fopen(back, "r");
		CU_ASSERT_FATAL(f != NULL);
		got = fread(back, 1, sizeof(back), f);
		fclose(f);
		CU_ASSERT(got == 3000 && memcmp(back, text, 3000) == 0);
	}
	/* A lookup of what is not there: the back end's own error comes back. */
	CU_ASSERT_FATAL(fuse_call(5, 1, 1, "nothere", 8, 128, &d) == 0);
	memcpy(&err, d.data + 4, 4);
	CU_ASSERT(err == -ENOENT);
	free(d.data);
}

/* ---- hostile drivers ---- */

/* The daemon sends at most 10 ERRORs a second per port (more are only
 * counted): a test that wants to see each one keeps below that. */
static void pace(void)
{
	static int64_t window;
	static int n;

	if (now_ms() - window > 1100) {
		window = now_ms();
		n = 0;
	}
	if (n >= 8) {
		nap_ms((int)(window + 1100 - now_ms()));
		window = now_ms();
		n = 0;
	}
	n++;
}

static void send_bytes(struct vdrv_dev *dev, const void *b, size_t len)
{
	pace();
	CU_ASSERT(vdrv_send_raw(&drv, &dev->r, dev->port, b, len, NULL, 0, VIRTIO_ARGO_MSGTYPE) ==
	          0);
}

static void expect_error(struct vdrv_dev *dev, uint32_t token, uint32_t reason, const char *what)
{
	struct virtio_argo_error e;
	int rc = vdrv_wait_error(&drv, dev, token, &e, 3000);

	CHECKF(rc == 0 && e.reason == reason, "%s: rc %d, reason %u (%s), expected %s\n", what, rc,
	       rc ? 0 : e.reason, rc ? "-" : vmsg_reason_name((int)e.reason),
	       vmsg_reason_name((int)reason));
}

static void test_wrong_lengths(void)
{
	uint8_t b[64] = {0, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS, DEV_BLK0, 0, 0x31, 0, 12, 0, 1, 0, 0,
	                 0};

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	send_bytes(&blk0, b, 11); /* msg_size 12 in 11 bytes */
	expect_error(&blk0, 0x31, VIRTIO_ARGO_ERR_SIZE, "msg_size above the message");
	b[4] = 0x32;
	send_bytes(&blk0, b, 13);
	expect_error(&blk0, 0x32, VIRTIO_ARGO_ERR_SIZE, "a byte past msg_size");
	b[4] = 0x33;
	b[6] = 13;
	send_bytes(&blk0, b, 13);
	expect_error(&blk0, 0x33, VIRTIO_ARGO_ERR_SIZE, "SET_DEVICE_STATUS of 5 bytes");
	b[0] = 0x80; /* reserved type bit */
	b[4] = 0x34;
	b[6] = 12;
	send_bytes(&blk0, b, 12);
	expect_error(&blk0, 0x34, VIRTIO_ARGO_ERR_TYPE, "reserved type bit");
	/* Too short for a header: an ERROR with what we had (no token). */
	send_bytes(&blk0, b, 5);
	expect_error(&blk0, 0, VIRTIO_ARGO_ERR_SHORT, "5 bytes");
}

static void test_unknown_ids(void)
{
	uint8_t b[8] = {0, 0x2A, DEV_BLK0, 0, 0x41, 0, 8, 0};

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	send_bytes(&blk0, b, 8);
	expect_error(&blk0, 0x41, VIRTIO_ARGO_ERR_UNKNOWN, "transport id 0x2a");
	b[0] = VIRTIO_ARGO_TYPE_BUS;
	b[1] = 0xBE;
	b[2] = 0;
	b[4] = 0x42;
	send_bytes(&blk0, b, 8);
	expect_error(&blk0, 0x42, VIRTIO_ARGO_ERR_UNKNOWN, "bus id 0xbe");
	/* A response sent to the device. */
	b[0] = VIRTIO_ARGO_TYPE_RESPONSE;
	b[1] = VIRTIO_ARGO_MSG_GET_DEVICE_INFO;
	b[2] = DEV_BLK0;
	b[4] = 0x43;
	send_bytes(&blk0, b, 8);
	{
		struct virtio_argo_error e;

		/* A GET_DEVICE_INFO response has 44 bytes: malformed, and a
		 * response is never answered. */
		CU_ASSERT(vdrv_wait_error(&drv, &blk0, 0x43, &e, 500) == -ETIMEDOUT);
	}
	/* Another device's number on this port. */
	{
		uint8_t m[8] = {0, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS, DEV_BLK1, 0, 0x44, 0, 8, 0};

		send_bytes(&blk0, m, 8);
		expect_error(&blk0, 0x44, VIRTIO_ARGO_ERR_DEVICE, "dev_num of another device");
	}
}

/* A BUF request, built by hand: the first fragment of (vq, id). */
static void bad_buf(struct vdrv_dev *dev, uint16_t token, uint16_t vq, uint16_t id, uint32_t total,
                    uint32_t data_len, uint16_t n_out, uint16_t n_in, const uint32_t *segs,
                    uint32_t offset)
{
	struct vmsg m = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_BUF);
	static uint8_t buf[1 << 20];
	static uint8_t data[1 << 16];
	ssize_t n;

	pace();
	m.token = token;
	m.u.buf.dev_num = dev->dev_num;
	m.u.buf.vq = vq;
	m.u.buf.id = id;
	m.u.buf.offset = offset;
	m.u.buf.total = total;
	m.u.buf.data_len = data_len;
	m.u.buf.n_out = n_out;
	m.u.buf.n_in = n_in;
	m.u.buf.seg_len = (const uint8_t *)segs;
	m.u.buf.data = data;
	n = vmsg_encode(buf, sizeof(buf), &m, 1);
	CU_ASSERT_FATAL(n > 0);
	send_bytes(dev, buf, (size_t)n);
}

static void test_bad_chains(void)
{
	uint32_t segs[300];
	int i;

	for (i = 0; i < 300; i++)
		segs[i] = 512;
	segs[0] = 16;
	/* Before DRIVER_OK. */
	vdrv_flush(&blk0);
	{
		uint32_t st;

		CU_ASSERT_FATAL(vdrv_attach(&blk0, 0, 0, &st) == 0 && st == 0);
	}
	bad_buf(&blk0, 0x50, 0, 0, 16, 16, 1, 1, segs, 0);
	expect_error(&blk0, 0x50, VIRTIO_ARGO_ERR_NOT_READY, "BUF before DRIVER_OK");
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	bad_buf(&blk0, 0x51, 1, 0, 16, 16, 1, 1, segs, 0);
	expect_error(&blk0, 0x51, VIRTIO_ARGO_ERR_QUEUE, "queue 1 of 1");
	bad_buf(&blk0, 0x52, 9, 0, 16, 16, 1, 1, segs, 0);
	expect_error(&blk0, 0x52, VIRTIO_ARGO_ERR_QUEUE, "queue 9");
	bad_buf(&blk0, 0x53, 0, 128, 16, 16, 1, 1, segs, 0);
	expect_error(&blk0, 0x53, VIRTIO_ARGO_ERR_ID, "id 128 of a 128-entry queue");
	/* Too many segments; too many bytes. */
	bad_buf(&blk0, 0x54, 0, 1, 16, 16, 1, 299, segs, 0);
	expect_error(&blk0, 0x54, VIRTIO_ARGO_ERR_SEGS, "300 segments");
	segs[1] = 2u << 20;
	bad_buf(&blk0, 0x55, 0, 1, 16, 16, 1, 1, segs, 0);
	expect_error(&blk0, 0x55, VIRTIO_ARGO_ERR_TOO_LARGE, "a 2 MiB in buffer");
	segs[1] = 512;
	/* A buffer longer than declared: more data than the out lengths say. */
	bad_buf(&blk0, 0x56, 0, 1, 16, 17, 1, 1, segs, 0);
	expect_error(&blk0, 0x56, VIRTIO_ARGO_ERR_FRAGMENT, "17 data bytes for 16");
	/* A table that does not add up to total. */
	bad_buf(&blk0, 0x57, 0, 1, 20, 20, 1, 1, segs, 0);
	expect_error(&blk0, 0x57, VIRTIO_ARGO_ERR_FRAGMENT, "table 16, total 20");
	/* A later fragment for an id not in flight. */
	bad_buf(&blk0, 0x58, 0, 2, 8192, 512, 0, 0, segs, 4096);
	expect_error(&blk0, 0x58, VIRTIO_ARGO_ERR_ID_IN_USE, "fragment without a first");
	/* A chain left half sent (id 3: 16 of 32 out bytes), then the same id
	 * again, then a fragment out of order. */
	segs[0] = 32;
	bad_buf(&blk0, 0x59, 0, 3, 32, 16, 1, 1, segs, 0);
	bad_buf(&blk0, 0x5A, 0, 3, 32, 16, 1, 1, segs, 0);
	expect_error(&blk0, 0x5A, VIRTIO_ARGO_ERR_ID_IN_USE, "id 3 twice");
	bad_buf(&blk0, 0x5B, 0, 3, 32, 8, 0, 0, segs, 24);
	expect_error(&blk0, 0x5B, VIRTIO_ARGO_ERR_FRAGMENT, "a gap in id 3");
	/* The device still works, and a reset frees id 3. */
	{
		uint8_t buf[512];

		CU_ASSERT(blk_read(&blk0, 4, 0, buf, sizeof(buf), 512, NULL) == 0);
	}
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	{
		uint8_t buf[512];

		CU_ASSERT(blk_read(&blk0, 3, 0, buf, sizeof(buf), 512, NULL) == 0);
	}
}

/* A second driver (another domain) on a device someone holds; a domain
 * that is not a device's partner cannot even reach it. */
static void test_busy_and_partners(void)
{
	struct vdrv other;
	struct vdrv_dev o1, o0;
	struct vmsg q = msg(0, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS), r;
	char uri[128];
	uint32_t st;
	uint64_t neg;

	vdrv_flush(&blk1);
	CU_ASSERT_FATAL(vdrv_init_device(&blk1, ~F_PACKED, 1, 64, 0, &neg) == 0);
	snprintf(uri, sizeof(uri), "sim:%s/sim.sock", dir);
	CU_ASSERT_FATAL(vdrv_open(&other, uri, VDEVD_DOMID, VIRTIO_ARGO_BUS_PORT, 64 * 1024) == 0);
	CU_ASSERT_FATAL(vdrv_dev_open(&other, &o1, DEV_BLK1, 256 * 1024, 0) == 0);
	CU_ASSERT(vdrv_attach(&o1, 0, 0, &st) == 0 && st == EBUSY);
	CU_ASSERT(vdrv_call(&o1, &q, &r) == -EREMOTEIO &&
	          o1.last_error.reason == VIRTIO_ARGO_ERR_BUSY);
	/* Its view of the bus: blk1 only (the others are for domain 5). */
	{
		struct vmsg g = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_GET_DEVICES);

		g.u.devices.count = 16;
		/* The bus ring for "any" exists (blk1), so it may ask. */
		CU_ASSERT(vdrv_bus_call(&other, &g, &r) == 0 && r.u.devices.count == 2 &&
		          r.u.devices.bitmap && r.u.devices.bitmap[0] == 0x02);
	}
	/* blk0's ring admits domain 5 only: the hypervisor refuses. */
	CU_ASSERT_FATAL(vdrv_dev_open(&other, &o0, DEV_BLK0, 64 * 1024, 0) == 0);
	{
		uint8_t b[8] = {0, VIRTIO_ARGO_MSG_GET_DEVICE_INFO, DEV_BLK0, 0, 1, 0, 8, 0};

		CU_ASSERT(vdrv_send_raw(&other, &o0.r, o0.port, b, 8, NULL, 0,
		                        VIRTIO_ARGO_MSGTYPE) == -ECONNREFUSED);
	}
	/* When the holder detaches, the other may attach. */
	q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH);
	q.u.attach.dev_num = DEV_BLK1;
	CU_ASSERT(vdrv_call(&blk1, &q, &r) == 0);
	CU_ASSERT(vdrv_attach(&o1, 0, 0, &st) == 0 && st == 0);
	vdrv_dev_close(&o0);
	vdrv_dev_close(&o1);
	vdrv_close(&other);
}

/* argo-vdevd SIGKILLed with requests in flight and started again, its back
 * ends left running (qemu-storage-daemon finishes the old session and
 * takes the new one; virtiofsd, which serves one connection, is started
 * again, as a driver domain does): a driver that HELLOs and attaches again
 * finds its data. What virtio-argo-xen does to the guest's /dev/vda. */
static void test_vdevd_restart(void)
{
	static uint8_t w[256 * 1024], r[256 * 1024];
	struct vmsg q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_HELLO), a;
	char uri[128];
	unsigned int i;
	int64_t end;

	memset(&a, 0, sizeof(a));
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	pattern(w, sizeof(w), 777);
	CU_ASSERT_FATAL(blk_write(&blk0, 1, 8192, w, sizeof(w), 0) == 0);
	for (i = 0; i < 16; i++) {
		uint8_t h[16];
		const void *out[1] = {h};
		uint32_t out_len[1] = {16}, in_len[2] = {sizeof(r), 1};

		blk_hdr(h, BLK_T_IN, 8192);
		CU_ASSERT_FATAL(vdrv_submit(&blk0, 0, (uint16_t)(10 + i), out, out_len, 1, in_len,
		                            2, 0, NULL) == 0);
	}
	kill(vdevd_pid, SIGKILL);
	waitpid(vdevd_pid, NULL, 0);
	vdevd_pid = 0;
	end = now_ms() + 5000;
	while (now_ms() < end && waitpid(fsd_pid, NULL, WNOHANG) == 0)
		nap_ms(20);
	stop(&fsd_pid); /* if it did not end with its connection */
	CU_ASSERT_FATAL(start_fsd() == 0);
	CU_ASSERT_FATAL(start_vdevd() == 0);
	/* On sim a process is a domain: domain 2 died and came back, and
	 * our rings for it died with it (as Xen drops the rings whose
	 * partner dies). A driver registers them again. On Xen the driver
	 * domain lives on and the guest's rings stay. */
	vdrv_dev_close(&blk0);
	vdrv_dev_close(&blk1);
	vdrv_dev_close(&fs0);
	vdrv_close(&drv);
	snprintf(uri, sizeof(uri), "sim:%s/drv.sock", dir);
	CU_ASSERT_FATAL(vdrv_open(&drv, uri, VDEVD_DOMID, VIRTIO_ARGO_BUS_PORT, 64 * 1024) == 0);
	CU_ASSERT_FATAL(vdrv_dev_open(&drv, &blk0, DEV_BLK0, 2 << 20, 0) == 0 &&
	                vdrv_dev_open(&drv, &blk1, DEV_BLK1, 2 << 20, 0) == 0 &&
	                vdrv_dev_open(&drv, &fs0, DEV_FS, 2 << 20, 0) == 0);

	q.u.hello.bus_version = VIRTIO_ARGO_BUS_VERSION;
	q.u.hello.revision = VIRTIO_ARGO_REVISION;
	q.u.hello.max_msg_size = VIRTIO_ARGO_MAX_MSG_SIZE;
	q.u.hello.max_rx = 65504;
	/* Until argo-vdevd has noticed that domain 5 came back too (its
	 * rings for it went when ours did) and registered them again. */
	end = now_ms() + 5000;
	while (vdrv_bus_call(&drv, &q, &a) != 0 && now_ms() < end)
		nap_ms(50);
	CU_ASSERT(a.u.hello.num_devices == 3);
	/* Likewise for the device rings (their next check: ring_check_ms). */
	end = now_ms() + 5000;
	while (init_blk(&blk0, 0) != 0 && now_ms() < end)
		nap_ms(50);
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	memset(r, 0, sizeof(r));
	CU_ASSERT(blk_read(&blk0, 40, 8192, r, sizeof(r), 65536, NULL) == 0);
	CU_ASSERT(memcmp(r, w, sizeof(r)) == 0);
	/* The file system device too: the new virtiofsd answers FUSE_INIT. */
	{
		uint32_t init_in[16] = {7, 36};
		struct vdrv_done d;
		uint64_t neg;
		int32_t err = -1;

		vdrv_flush(&fs0);
		CU_ASSERT_FATAL(vdrv_init_device(&fs0, ~F_PACKED, 2, 64, 0, &neg) == 0);
		CU_ASSERT_FATAL(fuse_call(1, 26, 0, init_in, sizeof(init_in), 64, &d) == 0);
		memcpy(&err, d.data + 4, 4);
		CU_ASSERT(err == 0);
		free(d.data);
	}
}

/* The existence checks of our rings (struct ringslot in vdev/vdev.h): a
 * ring a partner talks through costs no FAIL_EXIST probe (Xen logs each on
 * its console); a silent one is probed less and less often; one whose
 * partner dies is still noticed (the ring is gone). */
static void test_ring_checks(void)
{
	long long checks = counter("blk0", "ring_checks"), probes = counter("blk0", "ring_probes");
	long long p, lost = counter("hidden", "rings_lost");
	int64_t end, seen[3] = {0, 0, 0};
	struct argo_fabric *silent = NULL;
	char uri[128];
	int n = 0;

	/* Our driver talks to blk0 (a control request every 20 ms): its
	 * checks are free. */
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	end = now_ms() + 5000;
	while (now_ms() < end && counter("blk0", "ring_checks") < checks + 3) {
		struct vmsg q = msg(0, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS), r;

		CU_ASSERT(vdrv_call(&blk0, &q, &r) == 0);
		nap_ms(20);
	}
	CU_ASSERT(counter("blk0", "ring_checks") >= checks + 3);
	CU_ASSERT(counter("blk0", "ring_probes") == probes);

	/* A domain that exists and never talks: the hidden device's ring for
	 * it gets registered, then probed at growing intervals. */
	snprintf(uri, sizeof(uri), "sim:%s/silent.sock", dir);
	CU_ASSERT_FATAL(argo_open(uri, &silent) == 0);
	p = counter("hidden", "ring_probes");
	end = now_ms() + 8 * RING_CHECK_MS + 2000;
	while (n < 3 && now_ms() < end) {
		long long q = counter("hidden", "ring_probes");

		if (q > p) {
			seen[n++] = now_ms();
			p = q;
		}
		nap_ms(10);
	}
	CU_ASSERT_FATAL(n == 3);
	/* 2x then 4x the shortest interval, give or take the daemon's tick
	 * (100 ms) and our polling; without back-off both would be 1x. */
	CU_ASSERT(seen[1] - seen[0] >= 2 * RING_CHECK_MS - 150);
	CU_ASSERT(seen[2] - seen[1] >= 4 * RING_CHECK_MS - 150);
	CU_ASSERT(counter("hidden", "rings_lost") == lost);

	/* It dies: the next probe finds the ring gone. */
	argo_close(silent);
	end = now_ms() + 8 * RING_CHECK_MS + 2000;
	while (now_ms() < end && counter("hidden", "rings_lost") <= lost)
		nap_ms(20);
	CU_ASSERT(counter("hidden", "rings_lost") == lost + 1);
}

/* A driver killed in the middle of requests: the device notices its ring
 * is gone, resets, and serves the next driver. */
static void test_driver_dies(void)
{
	long long gone = counter("blk1", "driver_gone");
	char uri[128];
	pid_t pid;
	int64_t end;
	uint64_t neg;
	int status;

	snprintf(uri, sizeof(uri), "sim:%s/sim.sock", dir);
	/* Make sure blk1 is free (an earlier test's driver may hold it). */
	vdrv_flush(&blk1);
	{
		uint32_t st;
		struct vmsg q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH), r;

		if (vdrv_attach(&blk1, 0, 0, &st) == 0 && st == 0) {
			q.u.attach.dev_num = DEV_BLK1;
			vdrv_call(&blk1, &q, &r);
		}
	}
	pid = fork();
	if (pid == 0) {
		struct vdrv d;
		struct vdrv_dev dev;
		static uint8_t data[128 * 1024], h[16];
		const void *out[2] = {h, data};
		uint32_t out_len[2] = {16, sizeof(data)};
		uint32_t rd_in[2] = {65536, 1};

		if (vdrv_open(&d, uri, VDEVD_DOMID, VIRTIO_ARGO_BUS_PORT, 64 * 1024) ||
		    vdrv_dev_open(&d, &dev, DEV_BLK1, 64 * 1024, 0) ||
		    vdrv_init_device(&dev, ~F_PACKED, 1, 64, 0, NULL))
			_exit(2);
		/* A read in flight, and a write of which only the first of
		 * many fragments was sent. */
		blk_hdr(h, BLK_T_IN, 0);
		vdrv_submit(&dev, 0, 1, out, out_len, 1, rd_in, 2, 0, NULL);
		blk_hdr(h, BLK_T_OUT, 0);
		out_len[1] = sizeof(data);
		{
			struct vmsg m = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_BUF);
			uint8_t tbl[12] = {16, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0};
			static uint8_t buf[8192];
			ssize_t n;

			m.u.buf.dev_num = DEV_BLK1;
			m.u.buf.id = 2;
			m.u.buf.total = 16 + sizeof(data);
			m.u.buf.data_len = 4096;
			m.u.buf.n_out = 2;
			m.u.buf.n_in = 1;
			m.u.buf.seg_len = tbl;
			m.u.buf.data = data;
			n = vmsg_encode(buf, sizeof(buf), &m, 1);
			vdrv_send_raw(&d, &dev.r, dev.port, buf, (size_t)n, NULL, 0,
			              VIRTIO_ARGO_MSGTYPE);
		}
		kill(getpid(), SIGKILL); /* no goodbye */
		_exit(3);
	}
	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	end = now_ms() + 5000;
	while (now_ms() < end && counter("blk1", "driver_gone") <= gone)
		nap_ms(50);
	CU_ASSERT(counter("blk1", "driver_gone") > gone);
	/* The next driver gets the device, and it works. */
	vdrv_flush(&blk1);
	CU_ASSERT_FATAL(vdrv_init_device(&blk1, ~F_PACKED, 1, 64, 0, &neg) == 0);
	{
		static uint8_t w[65536], r[65536];

		pattern(w, sizeof(w), 9);
		CU_ASSERT(blk_write(&blk1, 1, 0, w, sizeof(w), 0) == 0);
		CU_ASSERT(blk_read(&blk1, 2, 0, r, sizeof(r), 4096, NULL) == 0);
		CU_ASSERT(memcmp(w, r, sizeof(r)) == 0);
	}
}

/* A flood: thousands of requests and garbage sent without reading the
 * answers. The device stops reading when our ring is full, ERRORs are
 * rate-limited, everything valid is answered in order once we read. */
static void test_flood(void)
{
	long long waits = counter("blk0", "send_waits"),
	          supp = counter("blk0", "errors_suppressed");
	unsigned int sent = 0, answered = 0, errors = 0, i;
	uint16_t first_token = 0, expect = 0;
	struct vdrv_dev fl;
	struct vmsg m, q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH), r;
	bool in_order = true;
	uint64_t neg;

	/* blk0 from a driver whose ring holds about 120 answers. */
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	q.u.attach.dev_num = DEV_BLK0;
	CU_ASSERT_FATAL(vdrv_call(&blk0, &q, &r) == 0);
	CU_ASSERT_FATAL(vdrv_dev_open(&drv, &fl, DEV_BLK0, 4096, 0x100) == 0);
	CU_ASSERT_FATAL(vdrv_init_device(&fl, ~F_PACKED, 1, 128, 0, &neg) == 0);
	for (i = 0; i < 20000; i++) {
		uint8_t b[8] = {0, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS, DEV_BLK0, 0, 0, 0, 8, 0};
		uint16_t token = (uint16_t)(0x1000 + i);
		int rc;

		if (i % 2) {
			b[1] = 0x3E; /* unknown: an ERROR, rate-limited */
			token = 0;
		}
		b[4] = (uint8_t)token;
		b[5] = (uint8_t)(token >> 8);
		do {
			rc =
			    vdrv_send_raw(&drv, &fl.r, fl.port, b, 8, NULL, 0, VIRTIO_ARGO_MSGTYPE);
			if (rc == -EAGAIN) {
				/* The device stopped reading: read some answers. */
				if (vdrv_next_event(&fl, &m, 100) == 0) {
					if (m.msg_id == VIRTIO_ARGO_BUS_ERROR)
						errors++;
					else if (m.msg_id == VIRTIO_ARGO_MSG_GET_DEVICE_STATUS) {
						if (answered && m.token != expect)
							in_order = false;
						expect = (uint16_t)(m.token + 2);
						answered++;
					}
				}
			}
		} while (rc == -EAGAIN);
		CU_ASSERT_FATAL(rc == 0);
		if (!(i % 2)) {
			if (!sent)
				first_token = token;
			sent++;
		}
	}
	if (!answered)
		expect = first_token;
	/* Now read everything. */
	while (answered < sent && vdrv_next_event(&fl, &m, 2000) == 0) {
		if (m.msg_id == VIRTIO_ARGO_BUS_ERROR)
			errors++;
		else if (m.msg_id == VIRTIO_ARGO_MSG_GET_DEVICE_STATUS) {
			if (m.token != expect)
				in_order = false;
			expect = (uint16_t)(m.token + 2);
			answered++;
		}
	}
	CHECKF(answered == sent, "%u of %u status requests answered\n", answered, sent);
	CU_ASSERT(in_order);
	CU_ASSERT(sent == 10000);
	CU_ASSERT(errors > 0 && errors < 1000);
	CU_ASSERT(counter("blk0", "send_waits") > waits);
	CU_ASSERT(counter("blk0", "errors_suppressed") > supp);
	/* And it serves I/O as before. */
	{
		uint8_t buf[512];

		vdrv_flush(&fl);
		CU_ASSERT(blk_read(&fl, 1, 0, buf, sizeof(buf), 512, NULL) == 0);
	}
	q = msg(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH);
	q.u.attach.dev_num = DEV_BLK0;
	CU_ASSERT(vdrv_call(&fl, &q, &r) == 0);
	vdrv_dev_close(&fl);
}

/* The back end killed while chains are in flight, then restarted: every
 * chain completes (with its data, or with IOERR), none is lost, and the
 * device resumes on the new back end with the data intact. */
static void test_backend_restart(void)
{
	static uint8_t w[256 * 1024], r[256 * 1024];
	unsigned int ok = 0, failed = 0, i;
	int64_t end;
	long long lost = counter("blk0", "backend_lost");

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	pattern(w, sizeof(w), 4242);
	CU_ASSERT_FATAL(blk_write(&blk0, 1, 4096, w, sizeof(w), 0) == 0);
	for (i = 0; i < 16; i++) {
		uint8_t h[16];
		const void *out[1] = {h};
		uint32_t out_len[1] = {16}, in_len[2] = {sizeof(r), 1};

		blk_hdr(h, BLK_T_IN, 4096);
		CU_ASSERT_FATAL(vdrv_submit(&blk0, 0, (uint16_t)(10 + i), out, out_len, 1, in_len,
		                            2, 0, NULL) == 0);
	}
	kill(qsd_pid, SIGKILL);
	waitpid(qsd_pid, NULL, 0);
	qsd_pid = 0;
	for (i = 0; i < 16; i++) {
		struct vdrv_done d;

		if (vdrv_wait_done(&blk0, &d, 10000))
			break;
		if (d.used_len == sizeof(r) + 1 && d.data[sizeof(r)] == 0 &&
		    !memcmp(d.data, w, sizeof(r)))
			ok++;
		else if (d.used_len == sizeof(r) + 1 && d.data[sizeof(r)] == 1)
			failed++; /* IOERR: the request failed cleanly */
		free(d.data);
	}
	CHECKF(ok + failed == 16, "%u ok, %u failed, of 16\n", ok, failed);
	end = now_ms() + 5000;
	while (now_ms() < end && counter("blk0", "backend_lost") <= lost)
		nap_ms(20);
	CU_ASSERT(counter("blk0", "backend_lost") > lost);
	/* While it is down, a request fails at once. */
	memset(r, 0, sizeof(r));
	CU_ASSERT(blk_read(&blk0, 30, 4096, r, 4096, 4096, NULL) == 1);
	CU_ASSERT_FATAL(start_qsd() == 0);
	/* Back: the device resumes without a reset, the data is there. */
	end = now_ms() + 5000;
	while (now_ms() < end) {
		char buf[4096];

		if (!control("status", buf, sizeof(buf)) && strstr(buf, "blk0.sock (up)"))
			break;
		nap_ms(50);
	}
	CU_ASSERT(blk_read(&blk0, 31, 4096, r, sizeof(r), 65536, NULL) == 0);
	CU_ASSERT(memcmp(r, w, sizeof(r)) == 0);
}

/* Last: SIGTERM. The daemon tells HELLO'd drivers each device is gone,
 * exits 0, and its log has no sanitizer report. */
static void test_clean_exit(void)
{
	unsigned int removed = 0;
	char path[128], line[512];
	int status = -1;
	int64_t end;
	FILE *f;

	vdrv_flush(&blk0);
	kill(vdevd_pid, SIGTERM);
	end = now_ms() + 10000;
	while (now_ms() < end && waitpid(vdevd_pid, &status, WNOHANG) == 0)
		nap_ms(20);
	CU_ASSERT_FATAL(WIFEXITED(status));
	CU_ASSERT(WEXITSTATUS(status) == 0);
	vdevd_pid = 0;
	while (vdrv_pump(&drv, NULL, 0, 200) > 0)
		;
	while (drv.bus.head) {
		struct vdrv_msg *m = drv.bus.head;

		drv.bus.head = m->next;
		removed += m->m.type == VIRTIO_ARGO_TYPE_BUS &&
		           m->m.msg_id == VIRTIO_ARGO_BUS_EVENT_DEVICE &&
		           m->m.u.event_device.state == VIRTIO_ARGO_DEVICE_REMOVED;
		free(m->buf);
		free(m);
	}
	drv.bus.tail = NULL;
	CU_ASSERT(removed == 3); /* blk0, blk1, fs0: what domain 5 sees */
	snprintf(path, sizeof(path), "%s/vdevd.log", dir);
	f = fopen(path, "r");
	CU_ASSERT_FATAL(f != NULL);
	while (fgets(line, sizeof(line), f))
		CHECKF(!strstr(line, "Sanitizer") && !strstr(line, "runtime error"), "%s", line);
	fclose(f);
}

/* A back end that keeps a chain (stopped with SIGSTOP): a reset still
 * completes, after reset_timeout_ms (3 s here), by dropping that back end;
 * the chain is never answered; the device works again once the back end
 * runs and is reconnected. */
static void test_backend_stuck(void)
{
	long long lost = counter("blk0", "backend_lost"),
	          dropped = counter("blk0", "chains_dropped");
	uint8_t h[16];
	const void *out[1] = {h};
	uint32_t out_len[1] = {16}, in_len[2] = {4096, 1}, st = 99;
	struct vdrv_done d;
	int64_t t0, took;

	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	CU_ASSERT_FATAL(kill(qsd_pid, SIGSTOP) == 0);
	blk_hdr(h, BLK_T_IN, 0);
	CU_ASSERT(vdrv_submit(&blk0, 0, 5, out, out_len, 1, in_len, 2, 0, NULL) == 0);
	drv.timeout_ms = 15000;
	t0 = now_ms();
	CU_ASSERT(vdrv_set_status(&blk0, 0, &st) == 0);
	took = now_ms() - t0;
	drv.timeout_ms = 5000;
	CU_ASSERT(st == 0);
	CHECKF(took >= 2500 && took < 12000, "the reset took %lld ms\n", (long long)took);
	CU_ASSERT(counter("blk0", "backend_lost") == lost + 1);
	CU_ASSERT(counter("blk0", "chains_dropped") >= dropped + 1);
	CU_ASSERT(vdrv_wait_done(&blk0, &d, 300) == -ETIMEDOUT);
	kill(qsd_pid, SIGCONT);
	{
		int64_t end = now_ms() + 5000;
		char buf[4096];

		while (now_ms() < end) {
			if (!control("status", buf, sizeof(buf)) && strstr(buf, "blk0.sock (up)"))
				break;
			nap_ms(50);
		}
	}
	CU_ASSERT_FATAL(init_blk(&blk0, 0) == 0);
	{
		uint8_t buf[4096];

		CU_ASSERT(blk_read(&blk0, 5, 0, buf, sizeof(buf), 4096, NULL) == 0);
	}
}

static const struct test_def bus_tests[] = {
    T(test_bus_hello),
    T(test_bus_get_devices),
    T(test_bus_ping),
    T(test_bus_refusals),
};
static const struct test_def negotiation_tests[] = {
    T(test_device_info), T(test_not_attached),      T(test_attach_and_features),
    T(test_config),      T(test_strict_generation), T(test_vqueue),
};
static const struct test_def io_tests[] = {
    T(test_blk_cycle), T(test_blk_flush_get_id), T(test_blk_fragments),
    T(test_blk_qcow2), T(test_fs_fuse),
};
static const struct test_def hostile_tests[] = {
    T(test_wrong_lengths), T(test_unknown_ids), T(test_bad_chains),      T(test_busy_and_partners),
    T(test_driver_dies),   T(test_flood),       T(test_backend_restart), T(test_backend_stuck),
    T(test_vdevd_restart), T(test_ring_checks),
};

static int suite_init(void)
{
	return 0;
}

#define VSUITE(name, tests)                                                                        \
	{                                                                                          \
		name, tests, N(tests), suite_init, NULL, NULL, after_test                          \
	}

static const struct test_def exit_tests[] = {T(test_clean_exit)};

static const struct suite_def suites[] = {
    VSUITE("bus", bus_tests),  VSUITE("negotiation", negotiation_tests),
    VSUITE("io", io_tests),    VSUITE("hostile", hostile_tests),
    SUITE("exit", exit_tests),
};

int main(int argc, char **argv)
{
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bin") && i + 1 < argc)
			snprintf(bin, sizeof(bin), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--keep"))
			keep = true;
		else if (!strcmp(argv[i], "--leaf"))
			leaf_mode = true;
		else {
			fprintf(stderr, "usage: vdev-conformance --bin DIR [--leaf] [--keep]\n");
			return 2;
		}
	}
	if (!bin[0]) {
		fprintf(stderr, "usage: vdev-conformance --bin DIR [--leaf] [--keep]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (setup_world()) {
		fprintf(stderr, "vdev-conformance: set-up failed (folder %s)\n", dir);
		keep = true;
		teardown_world();
		printf("0 passed, 1 failed\n");
		return 1;
	}
	rc = cunit_main(suites, N(suites));
	if (rc)
		keep = true; /* logs for whoever looks */
	teardown_world();
	if (keep)
		fprintf(stderr, "vdev-conformance: logs in %s\n", dir);
	return rc;
}
