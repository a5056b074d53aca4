/* SPDX-License-Identifier: MIT */
/*
 * argo-dev-test: drives /dev/argo (argo.ko) directly, with good and hostile
 * arguments, in a Xen guest with Argo on (argo=1). Checks that every ioctl
 * answers as the module's interface says (Xen's errno, or the device's own
 * EFAULT/EINVAL/ENOTTY), that ring pages map and carry messages, that
 * events count, and that nothing takes the kernel down (the harness watches
 * the console for oopses).
 *
 *   argo-dev-test [DEVICE]      (default /dev/argo)
 *
 * Output: one line per check, then "N passed, N failed". Exit 0 iff none
 * failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/argo_dev.h>

#define PAGE         4096u
#define DOMID_ANY    0x7FF4u
#define MAX_MESSAGE  0xFFFFE0u
#define LARGEST_RING (0x1000000u - 64u)
#define KERNEL_PTR   ((uint64_t)0xffffffff81000000ull)

static const char *dev = ARGO_DEV_PATH;
static int passed, failed;
static uint16_t me;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

/* ioctl's result as a value or -errno. */
static long xioctl(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

static void expect(long got, long want, const char *what)
{
	check(got == want, "%s: expected %ld (%s), got %ld (%s)", what, want,
	      want < 0 ? strerror((int)-want) : "ok", got, got < 0 ? strerror((int)-got) : "ok");
}

static int dev_open(void)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		printf("FAIL open %s: %s\n0 passed, 1 failed\n", dev, strerror(errno));
		exit(1);
	}
	return fd;
}

static long reg(int fd, uint32_t aport, uint16_t partner, uint32_t len, uint32_t flags,
                struct argo_dev_register *out)
{
	struct argo_dev_register r = {
	    .aport = aport, .partner_id = partner, .len = len, .flags = flags};
	long ret = xioctl(fd, ARGO_IOC_REGISTER, &r);

	if (out)
		*out = r;
	return ret;
}

static long unreg(int fd, uint32_t aport, uint16_t partner)
{
	struct argo_dev_unregister u = {.aport = aport, .partner_id = partner};

	return xioctl(fd, ARGO_IOC_UNREGISTER, &u);
}

static long sendv(int fd, uint32_t dport, const struct argo_dev_iov *iov, uint32_t niov,
                  uint32_t type)
{
	struct argo_dev_sendv s = {
	    .src = {.aport = 1, .domain_id = DOMID_ANY},
	    .dst = {.aport = dport, .domain_id = me},
	    .iov = (uint64_t)(uintptr_t)iov,
	    .niov = niov,
	    .message_type = type,
	};

	return xioctl(fd, ARGO_IOC_SENDV, &s);
}

static long notify_one(int fd, uint32_t aport, uint32_t space, uint16_t *flags, uint32_t *maxmsg)
{
	struct {
		uint32_t nent, pad;
		struct {
			struct argo_dev_addr ring;
			uint16_t flags, pad;
			uint32_t space_required, max_message_size;
		} ent;
	} rd = {.nent = 1,
	        .ent = {.ring = {.aport = aport, .domain_id = me},
	                .space_required = space,
	                .max_message_size = 0x5EED}};
	struct argo_dev_notify n = {.ring_data = (uint64_t)(uintptr_t)&rd};
	long ret = xioctl(fd, ARGO_IOC_NOTIFY, &n);

	*flags = rd.ent.flags;
	*maxmsg = rd.ent.max_message_size;
	return ret;
}

static void t_basics(int fd)
{
	uint32_t domid = 0xFFFFFFFF;
	char buf[8];

	expect(xioctl(fd, ARGO_IOC_GET_DOMID, &domid), 0, "GET_DOMID");
	check(domid < 0x7FF0, "GET_DOMID gave domid %u", domid);
	if (domid >= 0x7FF0) {
		printf("%d passed, %d failed\n", passed, failed + 1);
		exit(1);
	}
	me = (uint16_t)domid;
	expect(xioctl(fd, ARGO_IOC_GET_DOMID, NULL), -EFAULT, "GET_DOMID to NULL");
	expect(xioctl(fd, _IO(ARGO_IOC_MAGIC, 99), NULL), -ENOTTY, "unknown ioctl");
	expect(xioctl(fd, _IOW(ARGO_IOC_MAGIC, 1, char[3]), buf), -ENOTTY,
	       "REGISTER number with a wrong size");
	expect(xioctl(fd, ARGO_IOC_REGISTER, NULL), -EFAULT, "REGISTER from NULL");
	expect(xioctl(fd, ARGO_IOC_REGISTER, (void *)(uintptr_t)KERNEL_PTR), -EFAULT,
	       "REGISTER from a kernel address");
	expect(xioctl(fd, ARGO_IOC_UNREGISTER, (void *)1), -EFAULT, "UNREGISTER from 0x1");
	expect(xioctl(fd, ARGO_IOC_SENDV, NULL), -EFAULT, "SENDV from NULL");
	expect(xioctl(fd, ARGO_IOC_NOTIFY, NULL), -EFAULT, "NOTIFY from NULL");
	{
		struct argo_dev_notify n = {0};

		expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), 0, "NOTIFY with Xen's NULL");
	}
}

static void t_register(int fd)
{
	struct argo_dev_register out;
	struct argo_dev_register r = {.aport = 100, .partner_id = me, .len = 256, .reserved = 1};
	void *m;

	expect(xioctl(fd, ARGO_IOC_REGISTER, &r), -EINVAL, "REGISTER with reserved != 0");
	expect(reg(fd, 100, me, 0xFFFFFFFFu, 0, NULL), -EINVAL, "REGISTER len 0xFFFFFFFF");
	expect(reg(fd, 100, me, 0xFFFFFFF0u, 0, NULL), -EINVAL, "REGISTER len 0xFFFFFFF0");
	expect(reg(fd, 100, me, 0x1000000u, 0, NULL), -EINVAL, "REGISTER len 16 MiB (4097 pages)");
	expect(reg(fd, 100, me, 0, 0, NULL), -EINVAL, "REGISTER len 0");
	expect(reg(fd, 100, me, 47, 0, NULL), -EINVAL, "REGISTER len 47");
	expect(reg(fd, 100, me, 256, 2, NULL), -EINVAL, "REGISTER flags 2");
	expect(reg(fd, 100, 0x7FE0, 256, 0, NULL), -ESRCH, "REGISTER missing partner");
	{
		struct argo_dev_register p = {.aport = 100, .partner_id = me, .pad = 1, .len = 256};

		expect(xioctl(fd, ARGO_IOC_REGISTER, &p), -EINVAL, "REGISTER pad 1");
	}

	expect(reg(fd, 100, me, 256, 0, &out), 0, "REGISTER 256");
	check(out.npages == 1 && out.mmap_offset && !(out.mmap_offset % PAGE),
	      "REGISTER out: npages %u, offset 0x%llx", out.npages,
	      (unsigned long long)out.mmap_offset);
	m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)out.mmap_offset);
	check(m == MAP_FAILED && errno == EINVAL, "mmap with the wrong length refused");
	if (m != MAP_FAILED)
		munmap(m, 2 * PAGE);
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)out.mmap_offset);
	check(m == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE refused");
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t)out.mmap_offset + 64 * PAGE);
	check(m == MAP_FAILED && errno == EINVAL, "mmap at an unknown offset refused");
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)out.mmap_offset);
	check(m != MAP_FAILED, "mmap of the ring");
	if (m != MAP_FAILED) {
		void *g = mremap(m, PAGE, 2 * PAGE, 0);

		check(g == MAP_FAILED, "mremap cannot grow the ring mapping");
		check(((volatile uint32_t *)m)[0] == 0 && ((volatile uint32_t *)m)[1] == 0,
		      "ring header zeroed");
		munmap(m, PAGE);
	}
	expect(reg(fd, 100, me, 256, 1, NULL), -EEXIST, "REGISTER again with FAIL_EXIST");
	expect(reg(fd, 100, me, 512, 0, NULL), -EEXIST, "REGISTER again with another len");
	expect(reg(fd, 100, me, 256, 0, &out), 0, "REGISTER again, same len (re-map)");
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)out.mmap_offset);
	check(m != MAP_FAILED, "mmap of the re-registered ring");
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	expect(unreg(fd, 100, me), 0, "UNREGISTER");
	expect(unreg(fd, 100, me), -ENOENT, "UNREGISTER again");
	{
		struct argo_dev_unregister u = {.aport = 100, .partner_id = me, .pad = 1};

		expect(xioctl(fd, ARGO_IOC_UNREGISTER, &u), -EINVAL, "UNREGISTER pad 1");
	}

	/* The largest ring Xen takes: 4096 pages. */
	expect(reg(fd, 101, me, LARGEST_RING, 0, &out), 0, "REGISTER the largest ring");
	if (out.npages == 4096) {
		m = mmap(NULL, 4096ul * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		         (off_t)out.mmap_offset);
		check(m != MAP_FAILED, "mmap of the largest ring");
		if (m != MAP_FAILED) {
			/* 8 MiB in two iovs: the bounce buffer is vmalloc memory. */
			size_t half = 4u << 20, i;
			uint8_t *data = malloc(2 * half);
			struct argo_dev_iov iov[2] = {{(uintptr_t)data, half},
			                              {(uintptr_t)data + half, half}};
			const uint8_t *payload = (const uint8_t *)m + 64 + 16;
			int same = 1;

			if (data) {
				for (i = 0; i < 2 * half; i++)
					data[i] = (uint8_t)(i * 7 + (i >> 12));
				expect(sendv(fd, 101, iov, 2, 9), (long)(2 * half),
				       "SENDV 8 MiB into the largest ring");
				for (i = 0; i < 2 * half && same; i++)
					same = payload[i] == data[i];
				check(same && ((volatile uint32_t *)m)[16] == 2 * half + 16,
				      "the 8 MiB message arrived intact in the mapped ring");
				free(data);
			}
			munmap(m, 4096ul * PAGE);
		}
	} else {
		check(0, "largest ring npages %u", out.npages);
	}
	expect(unreg(fd, 101, me), 0, "UNREGISTER the largest ring");
}

static int wait_event(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void t_send(int fd)
{
	struct argo_dev_register out;
	struct argo_dev_iov iov[9];
	static char big[MAX_MESSAGE + 16];
	char msg[40] = "hello, argo";
	uint64_t count = 0;
	uint16_t flags = 0;
	uint32_t maxmsg = 0;
	volatile uint32_t *ring;
	uint8_t *m;
	int i;

	expect(reg(fd, 200, me, 4032, 0, &out), 0, "REGISTER 4032 for sends");
	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)out.mmap_offset);
	check(m != MAP_FAILED, "mmap of the send ring");
	if (m == MAP_FAILED)
		return;
	ring = (volatile uint32_t *)m;

	/* Drain pending events, then none. */
	while (read(fd, &count, sizeof(count)) == sizeof(count))
		;
	check(read(fd, &count, sizeof(count)) < 0 && errno == EAGAIN, "read with no event: EAGAIN");
	check(read(fd, &count, 4) < 0 && errno == EINVAL, "read of 4 bytes: EINVAL");

	iov[0].iov_base = (uintptr_t)msg;
	iov[0].iov_len = 11;
	iov[1].iov_base = (uintptr_t)(msg + 11);
	iov[1].iov_len = 0;
	expect(sendv(fd, 200, iov, 2, 0x42), 11, "SENDV 11 bytes to ourselves");
	check(wait_event(fd, 5000), "poll: readable after the send");
	check(read(fd, &count, sizeof(count)) == 8 && count >= 1, "read: %llu event(s)",
	      (unsigned long long)count);
	check(!wait_event(fd, 0), "poll: not readable after the read");
	check(ring[1] == 32, "tx_ptr 32 after the message (got %u)", ring[1]);
	check(ring[16] == 27 && ring[17] == 1 && (ring[18] & 0xFFFF) == me && ring[19] == 0x42 &&
	          memcmp(m + 64 + 16, msg, 11) == 0,
	      "message header and payload in the mapped ring");
	ring[0] = 32; /* consumed */
	expect(notify_one(fd, 200, 100, &flags, &maxmsg), 0, "NOTIFY one entry");
	check(flags == (1 | 4 | 8) && maxmsg == 4032 - 32, "NOTIFY flags 0x%x, max %u", flags,
	      maxmsg);

	expect(sendv(fd, 200, iov, 9, 0), -EINVAL, "SENDV 9 iovs");
	expect(sendv(fd, 200, NULL, 0xFFFFFFFFu, 0), -EINVAL, "SENDV 0xFFFFFFFF iovs");
	expect(sendv(fd, 200, (void *)1, 1, 0), -EFAULT, "SENDV iov array at 0x1");
	expect(sendv(fd, 200, NULL, 0, 7), 0, "SENDV no iov (header only)");
	iov[0].iov_base = (uintptr_t)KERNEL_PTR;
	iov[0].iov_len = 64;
	expect(sendv(fd, 200, iov, 1, 0), -EFAULT, "SENDV data at a kernel address");
	iov[0].iov_base = 0;
	expect(sendv(fd, 200, iov, 1, 0), -EFAULT, "SENDV data at NULL");
	iov[0].iov_len = (uint64_t)1 << 63;
	expect(sendv(fd, 200, iov, 1, 0), -EINVAL, "SENDV iov_len 2^63 (Xen: iov too long)");
	expect(sendv(fd, 201, iov, 1, 0), -ECONNREFUSED, "SENDV iov_len 2^63 to no ring");
	for (i = 0; i < 8; i++) {
		iov[i].iov_base = 0;
		iov[i].iov_len = MAX_MESSAGE / 4;
	}
	expect(sendv(fd, 200, iov, 8, 0), -EMSGSIZE, "SENDV 8 x MAX/4 (Xen: total too long)");
	iov[0].iov_base = (uintptr_t)big;
	iov[0].iov_len = MAX_MESSAGE;
	expect(sendv(fd, 200, iov, 1, 0), -EMSGSIZE, "SENDV MAX bytes to a 4032 ring");

	munmap(m, PAGE);
	expect(unreg(fd, 200, me), 0, "UNREGISTER the send ring");
}

static void t_notify(int fd)
{
	static struct {
		uint32_t nent, pad;
		uint8_t ents[257 * 20];
	} rd;
	struct argo_dev_notify n = {.ring_data = (uint64_t)(uintptr_t)&rd};
	uint8_t *page;

	rd.nent = 257;
	expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), -EACCES, "NOTIFY 257 entries");
	rd.nent = 0xFFFFFFFFu;
	expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), -EACCES, "NOTIFY 0xFFFFFFFF entries");
	rd.nent = 256;
	expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), 0, "NOTIFY 256 entries for no ring");
	rd.nent = 0;
	expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), 0, "NOTIFY 0 entries");
	n.ring_data = KERNEL_PTR;
	expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), -EFAULT, "NOTIFY ring_data at a kernel address");
	/* A header at the end of a page, its entries past it (unmapped). */
	page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED) {
		munmap(page + PAGE, PAGE);
		((uint32_t *)(page + PAGE - 8))[0] = 2;
		n.ring_data = (uint64_t)(uintptr_t)(page + PAGE - 8);
		expect(xioctl(fd, ARGO_IOC_NOTIFY, &n), -EFAULT, "NOTIFY entries past the mapping");
		munmap(page, PAGE);
	}
}

/* Two fds of one domain share ring names: the second registration wins. */
static void t_takeover(void)
{
	int a = dev_open(), b = dev_open();
	struct argo_dev_register ra, rb;
	uint16_t flags = 0;
	uint32_t maxmsg = 0;
	void *ma = MAP_FAILED;

	expect(reg(a, 300, me, 256, 0, &ra), 0, "fd A registers 300");
	ma = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, a, (off_t)ra.mmap_offset);
	check(ma != MAP_FAILED, "fd A maps it");
	expect(reg(b, 300, me, 256, 0, &rb), 0, "fd B registers 300 (takes it over)");
	{
		void *x = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, a, (off_t)ra.mmap_offset);

		check(x == MAP_FAILED, "fd A's offset is gone");
		if (x != MAP_FAILED)
			munmap(x, PAGE);
		x = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, a, (off_t)rb.mmap_offset);
		check(x == MAP_FAILED, "fd B's offset does not map through fd A");
		if (x != MAP_FAILED)
			munmap(x, PAGE);
	}
	close(a);
	if (ma != MAP_FAILED) {
		check(((volatile uint32_t *)ma)[0] == 0, "fd A's old mapping still readable");
		munmap(ma, PAGE);
	}
	expect(notify_one(b, 300, 0, &flags, &maxmsg), 0, "NOTIFY after fd A closed");
	check(flags & 1, "ring 300 still exists (fd B owns it), flags 0x%x", flags);
	close(b);
	b = dev_open();
	expect(notify_one(b, 300, 0, &flags, &maxmsg), 0, "NOTIFY after fd B closed");
	check(!(flags & 1), "ring 300 gone with fd B, flags 0x%x", flags);
	close(b);
}

/* Xen's 128 rings per domain, and release of them all at close. */
static void t_many(void)
{
	int fd = dev_open(), n, ok = 1;
	long r = 0;

	for (n = 0; n < 200; n++) {
		r = reg(fd, 1000 + (uint32_t)n, me, 48, 0, NULL);
		if (r)
			break;
	}
	check(r == -ENOSPC && n <= 128, "ENOSPC after %d rings (%ld)", n, r);
	close(fd);
	fd = dev_open();
	for (n = 0; n < 100 && ok; n++)
		ok = reg(fd, 2000 + (uint32_t)n, me, 48, 0, NULL) == 0;
	check(ok, "100 rings again after the close");
	close(fd);
}

struct racer {
	int fd;
	uint32_t base;
};

static void *race(void *p)
{
	struct racer *r = p;
	int i;

	for (i = 0; i < 300; i++) {
		uint32_t port = r->base + (uint32_t)(i % 7);
		struct argo_dev_register out;

		/* FAIL_EXIST: Xen counts a re-registration as one more ring
		 * (argo.c ring_count++), which would use up the domain's 128. */
		if (reg(r->fd, port, me, 4032 + 16 * (uint32_t)(i % 2), 1, &out) == 0 && (i % 3)) {
			void *m = mmap(NULL, (size_t)out.npages * PAGE, PROT_READ | PROT_WRITE,
			               MAP_SHARED, r->fd, (off_t)out.mmap_offset);
			if (m != MAP_FAILED)
				munmap(m, (size_t)out.npages * PAGE);
		}
		unreg(r->fd, r->base + (uint32_t)((i * 3) % 7), me);
	}
	return NULL;
}

static void t_race(void)
{
	int fd = dev_open(), fd2 = dev_open(), i;
	pthread_t t[4];
	struct racer r[4] = {{fd, 5000}, {fd, 5000}, {fd2, 5000}, {fd, 6000}};

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, race, &r[i]);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	close(fd);
	close(fd2);
	fd = dev_open();
	{
		int n, ok = 1;

		for (n = 0; n < 7 && ok; n++)
			ok = reg(fd, 5000 + (uint32_t)n, me, 48, 1, NULL) == 0 &&
			     reg(fd, 6000 + (uint32_t)n, me, 48, 1, NULL) == 0;
		check(ok, "after racing threads and close, the raced ports are free");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc > 1)
		dev = argv[1];
	fd = dev_open();
	t_basics(fd);
	t_register(fd);
	t_send(fd);
	t_notify(fd);
	close(fd);
	t_takeover();
	t_many();
	t_race();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
