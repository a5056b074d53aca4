/* SPDX-License-Identifier: MIT */
/*
 * argo-dev-test: drives /dev/argo (argo.ko) directly, with good and hostile
 * arguments, in a Xen guest with Argo on (argo=1). Checks that every ioctl
 * answers as the module's interface says (Xen's errno, or the device's own
 * EFAULT/EINVAL/ENOTTY), that ring pages map and carry messages, that
 * events count, and that nothing takes the kernel down (the harness watches
 * the console for oopses).
 *
 *   argo-dev-test [DEVICE]                 (default /dev/argo)
 *   argo-dev-test --durable [DEVICE]       persistent rings and send tags
 *   argo-dev-test --leave-orphan [DEVICE]  a killed process's persistent ring
 *   argo-dev-test --orphan-gone [DEVICE]   ... that a module reload removed
 *   argo-dev-test --vanish DOMID [DEVICE]  rings partnered with a domU that dies
 *
 * --durable checks persistent rings (ARGO_DEV_REG_PERSIST, ARGO_IOC_ADOPT)
 * and send tags (ARGO_IOC_SENDV_TAGGED, ARGO_IOC_LAST_TAG) with processes
 * that are SIGKILLed while they hold rings; each check is named ("PASS
 * NAME: ..."), for the kmod scenario to report as cases. --leave-orphan and
 * --orphan-gone go around an rmmod/insmod: the unload must unregister the
 * orphan from Xen. --vanish registers a ring partnered with domain DOMID
 * and leaves an orphan partnered with it, prints READY, waits for SIGUSR1
 * (sent once that domain is gone), then checks that ARGO_IOC_REREGISTER
 * notices both rings went with their partner, and that the orphan is
 * still adopted with what the domU sent into it.
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
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
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

static long reg_dev(int fd, uint32_t aport, uint16_t partner, uint32_t len, uint32_t flags,
                    uint32_t dev_flags, struct argo_dev_register *out)
{
	struct argo_dev_register r = {.aport = aport,
	                              .partner_id = partner,
	                              .len = len,
	                              .flags = flags,
	                              .dev_flags = dev_flags};
	long ret = xioctl(fd, ARGO_IOC_REGISTER, &r);

	if (out)
		*out = r;
	return ret;
}

static long reg(int fd, uint32_t aport, uint16_t partner, uint32_t len, uint32_t flags,
                struct argo_dev_register *out)
{
	return reg_dev(fd, aport, partner, len, flags, 0, out);
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
	struct argo_dev_register r = {.aport = 100, .partner_id = me, .len = 256, .dev_flags = 2};
	void *m;

	expect(xioctl(fd, ARGO_IOC_REGISTER, &r), -EINVAL,
	       "REGISTER with an unknown dev_flags bit");
	r.dev_flags = 0x80000001u;
	expect(xioctl(fd, ARGO_IOC_REGISTER, &r), -EINVAL, "REGISTER with dev_flags 0x80000001");
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

/* ---- Durable rings and send tags (--durable) ------------------------------ */

#define D_PORT      8000u /* persistent, held by a child that is SIGKILLed */
#define D_ORDINARY  8001u /* an ordinary ring of that child */
#define D_LEN       4032u /* one page */
#define D_MARKER    0x1122334455667788ull
#define ORPHAN_PORT 8100u /* --leave-orphan, --orphan-gone */

/* A named check: "PASS NAME: ...", one case of the kmod scenario. */
static void dcheck(const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void dcheck(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s: ", ok ? "PASS" : "FAIL", name);
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

static const char *err_name(long r)
{
	return r < 0 ? strerror((int)-r) : "ok";
}

static long send_tagged(int fd, uint32_t dport, const void *data, size_t n, uint32_t type,
                        uint64_t tag)
{
	struct argo_dev_iov iov = {.iov_base = (uintptr_t)data, .iov_len = n};
	struct argo_dev_sendv_tagged s = {
	    .sendv =
	        {
	            .src = {.aport = 1, .domain_id = DOMID_ANY},
	            .dst = {.aport = dport, .domain_id = me},
	            .iov = (uint64_t)(uintptr_t)&iov,
	            .niov = 1,
	            .message_type = type,
	        },
	    .tag = tag,
	};

	return xioctl(fd, ARGO_IOC_SENDV_TAGGED, &s);
}

static long send_str(int fd, uint32_t dport, const char *str, uint32_t type)
{
	struct argo_dev_iov iov = {.iov_base = (uintptr_t)str, .iov_len = strlen(str)};

	return sendv(fd, dport, &iov, 1, type);
}

static uint64_t last_tag(int fd, long *ret)
{
	uint64_t tag = 0xDEADu;

	*ret = xioctl(fd, ARGO_IOC_LAST_TAG, &tag);
	return tag;
}

static long adopt(int fd, struct argo_dev_adopt *a)
{
	memset(a, 0xFF, sizeof(*a));
	return xioctl(fd, ARGO_IOC_ADOPT, a);
}

/* Drains fd's events (O_NONBLOCK). */
static void drain(int fd)
{
	uint64_t count;

	while (read(fd, &count, sizeof(count)) == sizeof(count))
		;
}

/* The message at off of a mapped ring (no wrap: small rings, few messages):
 * does it carry str with type from this domain? Gives the next offset. */
static int msg_is(const uint8_t *m, uint32_t *off, const char *str, uint32_t type)
{
	const volatile uint32_t *h = (const volatile uint32_t *)(m + 64 + *off);
	size_t n = strlen(str);
	int ok = h[0] == n + 16 && (h[2] & 0xFFFF) == me && h[3] == type &&
	         memcmp(m + 64 + *off + 16, str, n) == 0;

	*off += (uint32_t)((n + 16 + 15) & ~15u);
	return ok;
}

/* What the child reports before it is killed. */
struct child_report {
	char what[120]; /* "" when all went well, else the first failure */
	uint64_t mmap_offset;
};

/* The child: a persistent ring and an ordinary one; two messages in the
 * first, one of them read; a tagged send; a marker in the header's reserved
 * bytes. Then it reports and waits for its SIGKILL, mapping and fd held. */
static void durable_child(int wfd, uint64_t tag)
{
	struct child_report rep;
	struct argo_dev_register out, out2;
	long r;
	uint8_t *m = MAP_FAILED;
	int fd = dev_open();

	memset(&rep, 0, sizeof(rep));

	if ((r = reg_dev(fd, D_PORT, me, D_LEN, 1, ARGO_DEV_REG_PERSIST, &out)) != 0)
		snprintf(rep.what, sizeof(rep.what), "persistent REGISTER: %s", err_name(r));
	else if ((r = reg(fd, D_ORDINARY, me, D_LEN, 1, &out2)) != 0)
		snprintf(rep.what, sizeof(rep.what), "ordinary REGISTER: %s", err_name(r));
	else if ((m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	                   (off_t)out.mmap_offset)) == MAP_FAILED)
		snprintf(rep.what, sizeof(rep.what), "mmap: %s", strerror(errno));
	else if ((r = send_str(fd, D_PORT, "one", 1)) != 3 ||
	         (r = send_str(fd, D_PORT, "two", 2)) != 3)
		snprintf(rep.what, sizeof(rep.what), "SENDV: %s", err_name(r));
	else if ((r = send_tagged(fd, D_PORT, "three", 5, 3, tag)) != 5)
		snprintf(rep.what, sizeof(rep.what), "SENDV_TAGGED: %s", err_name(r));
	if (!rep.what[0]) {
		uint32_t off = 0;

		if (!msg_is(m, &off, "one", 1))
			snprintf(rep.what, sizeof(rep.what), "first message not in the ring");
		/* Consumed: rx_ptr past it. A marker in reserved bytes. */
		((volatile uint32_t *)m)[0] = off;
		*(volatile uint64_t *)(m + 8) = D_MARKER;
	}
	rep.mmap_offset = out.mmap_offset;
	if (write(wfd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(3);
	for (;;)
		pause();
}

/* A ring registered persistent through a new fd, which is then closed. */
static long orphan_by_close(uint32_t port)
{
	int fd = dev_open();
	long r = reg_dev(fd, port, me, 48, 1, ARGO_DEV_REG_PERSIST, NULL);

	close(fd);
	return r;
}

static void t_durable(void)
{
	uint64_t tag1 = 0xA110C0DE00000000ull | (uint64_t)getpid(), tag;
	struct child_report rep;
	struct argo_dev_adopt a;
	int p[2], fd, st = 0, i, ok;
	long r, r2, r3;
	uint8_t *m;
	pid_t pid;
	uint32_t off;

	if (pipe(p) < 0) {
		dcheck("persist-register", 0, "pipe: %s", strerror(errno));
		return;
	}
	/* No orphan from an earlier run in the way (all tests unregister theirs). */
	fd = dev_open();
	while (adopt(fd, &a) == 0)
		unreg(fd, a.aport, a.partner_id);
	close(fd);

	pid = fork();
	if (pid == 0) {
		close(p[0]);
		durable_child(p[1], tag1);
	}
	close(p[1]);
	memset(&rep, 0, sizeof(rep));
	ok = pid > 0 && read(p[0], &rep, sizeof(rep)) == (ssize_t)sizeof(rep);
	close(p[0]);
	dcheck("persist-register", ok && !rep.what[0],
	       "a child registers persistent ring %u and ordinary ring %u, sends, reads one, "
	       "tags a send: %s",
	       D_PORT, D_ORDINARY,
	       !ok           ? "no report"
	       : rep.what[0] ? rep.what
	                     : "done");
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	ok = waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	dcheck("child-sigkilled", ok, "the child died of SIGKILL holding its rings (status 0x%x)",
	       st);

	fd = dev_open();
	r = send_str(fd, D_ORDINARY, "x", 9);
	dcheck("ordinary-ring-gone", r == -ECONNREFUSED,
	       "SENDV to the dead child's ordinary ring: expected %s, got %s",
	       strerror(ECONNREFUSED), err_name(r));

	r = send_str(fd, D_PORT, "four", 4);
	r2 = send_str(fd, D_PORT, "five", 5);
	r3 = send_str(fd, D_PORT, "six", 6);
	dcheck("send-to-orphan", r == 4 && r2 == 4 && r3 == 3,
	       "3 SENDV into the orphaned ring: %s, %s, %s", err_name(r), err_name(r2),
	       err_name(r3));

	tag = last_tag(fd, &r);
	dcheck("last-tag-survives", r == 0 && tag == tag1,
	       "LAST_TAG after the tagging process died: %s, 0x%llx (want 0x%llx)", err_name(r),
	       (unsigned long long)tag, (unsigned long long)tag1);

	r = send_tagged(fd, D_ORDINARY, "lost", 4, 1, tag1 + 1);
	r2 = send_tagged(fd, D_PORT, (void *)1, 4, 1, tag1 + 2);
	tag = last_tag(fd, &r3);
	dcheck("tagged-fail-keeps-tag",
	       r == -ECONNREFUSED && r2 == -EFAULT && r3 == 0 && tag == tag1,
	       "SENDV_TAGGED to no ring: %s, with bad data: %s; LAST_TAG then 0x%llx (want 0x%llx)",
	       err_name(r), err_name(r2), (unsigned long long)tag, (unsigned long long)tag1);

	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t)rep.mmap_offset);
	dcheck("orphan-not-mappable", m == MAP_FAILED && errno == EINVAL,
	       "the orphan's offset does not map through another fd before ADOPT");
	if (m != MAP_FAILED)
		munmap(m, PAGE);

	/* The adopt: this process never held the ring. */
	drain(fd);
	r = adopt(fd, &a);
	dcheck("adopt",
	       r == 0 && a.aport == D_PORT && a.partner_id == me && a.pad == 0 && a.len == D_LEN &&
	           a.npages == 1 && a.mmap_offset == rep.mmap_offset,
	       "ADOPT: %s, aport %u, partner %u, len %u, npages %u, offset 0x%llx", err_name(r),
	       a.aport, a.partner_id, a.len, a.npages, (unsigned long long)a.mmap_offset);
	if (r != 0) {
		close(fd);
		return;
	}
	dcheck("adopt-kicks", wait_event(fd, 0), "the adopting fd polls readable at once");
	drain(fd);
	r = adopt(fd, &a);
	dcheck("adopt-again-enoent", r == -ENOENT, "a second ADOPT: expected %s, got %s",
	       strerror(ENOENT), err_name(r));

	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)rep.mmap_offset);
	dcheck("adopted-mappable", m != MAP_FAILED, "mmap of the adopted ring: %s",
	       m == MAP_FAILED ? strerror(errno) : "ok");
	if (m == MAP_FAILED) {
		close(fd);
		return;
	}
	{
		volatile uint32_t *h = (volatile uint32_t *)m;
		uint32_t rx = h[0], tx = h[1];

		off = rx;
		ok = rx == 32 && tx == 192 && *(volatile uint64_t *)(m + 8) == D_MARKER;
		ok = msg_is(m, &off, "two", 2) && ok;
		ok = msg_is(m, &off, "three", 3) && ok;
		ok = msg_is(m, &off, "four", 4) && ok;
		ok = msg_is(m, &off, "five", 5) && ok;
		ok = msg_is(m, &off, "six", 6) && ok;
		dcheck("adopted-contents", ok && off == tx,
		       "rx_ptr %u (want 32), tx_ptr %u (want 192), reserved marker %s, the child's "
		       "unread and tagged messages and the 3 sent to the orphan, in order",
		       rx, tx, *(volatile uint64_t *)(m + 8) == D_MARKER ? "kept" : "lost");
		h[0] = tx; /* all consumed */
	}
	r = send_str(fd, D_PORT, "seven", 7);
	dcheck("adopted-ring-events", r == 5 && wait_event(fd, 5000),
	       "a send into the adopted ring (%s) raises an event on the adopting fd", err_name(r));
	drain(fd);
	munmap(m, PAGE);
	close(fd);

	/* Adopted rings stay persistent: closing the adopter orphans it again. */
	fd = dev_open();
	r = adopt(fd, &a);
	ok = r == 0 && a.aport == D_PORT;
	m = ok ? mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t)a.mmap_offset) : MAP_FAILED;
	off = 192;
	dcheck("adopted-stays-persistent",
	       m != MAP_FAILED && ((volatile uint32_t *)m)[0] == 192 && msg_is(m, &off, "seven", 7),
	       "after the adopter's close, ADOPT again: %s, aport %u; rx_ptr as the adopter left "
	       "it, the later message there",
	       err_name(r), a.aport);
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	r = unreg(fd, D_PORT, me);
	r2 = adopt(fd, &a);
	r3 = send_str(fd, D_PORT, "x", 9);
	dcheck("unregister-adopted", r == 0 && r2 == -ENOENT && r3 == -ECONNREFUSED,
	       "UNREGISTER of the adopted ring: %s; then ADOPT: %s, SENDV to it: %s", err_name(r),
	       err_name(r2), err_name(r3));

	/* Tags: a successful tagged send records; tag 0 and plain sends do not. */
	r = reg(fd, D_ORDINARY, me, D_LEN, 1, NULL);
	r2 = send_tagged(fd, D_ORDINARY, "tagged", 6, 1, tag1 + 3);
	tag = last_tag(fd, &r3);
	ok = r == 0 && r2 == 6 && r3 == 0 && tag == tag1 + 3;
	r2 = send_tagged(fd, D_ORDINARY, "untagged", 8, 1, 0);
	r3 = send_str(fd, D_ORDINARY, "plain", 1);
	tag = last_tag(fd, &r);
	dcheck("tagged-send-records", ok && r2 == 8 && r3 == 5 && r == 0 && tag == tag1 + 3,
	       "SENDV_TAGGED records its tag; with tag 0 (%s) and a plain SENDV (%s) it stays: "
	       "0x%llx",
	       err_name(r2), err_name(r3), (unsigned long long)tag);
	unreg(fd, D_ORDINARY, me);

	r = xioctl(fd, ARGO_IOC_SENDV_TAGGED, NULL);
	r2 = xioctl(fd, ARGO_IOC_LAST_TAG, NULL);
	r3 = xioctl(fd, ARGO_IOC_ADOPT, NULL);
	dcheck("bad-pointers", r == -EFAULT && r2 == -EFAULT && r3 == -ENOENT,
	       "SENDV_TAGGED from NULL: %s; LAST_TAG to NULL: %s; ADOPT to NULL, no orphan: %s",
	       err_name(r), err_name(r2), err_name(r3));

	/* An ADOPT that cannot write its answer leaves the orphan in line. */
	r = orphan_by_close(D_PORT + 2);
	r2 = xioctl(fd, ARGO_IOC_ADOPT, (void *)(uintptr_t)KERNEL_PTR);
	r3 = adopt(fd, &a);
	dcheck("adopt-efault-keeps-orphan",
	       r == 0 && r2 == -EFAULT && r3 == 0 && a.aport == D_PORT + 2 && a.len == 48,
	       "persistent REGISTER then close: %s; ADOPT to a kernel address: %s; ADOPT: %s, "
	       "aport %u",
	       err_name(r), err_name(r2), err_name(r3), a.aport);
	unreg(fd, D_PORT + 2, me);

	/* Orphans are offered oldest first: by file release, then registration. */
	{
		int x = dev_open();
		uint32_t got[3] = {0};

		r = reg_dev(x, D_PORT + 3, me, 48, 1, ARGO_DEV_REG_PERSIST, NULL);
		r2 = reg_dev(x, D_PORT + 4, me, 48, 1, ARGO_DEV_REG_PERSIST, NULL);
		reg(x, D_PORT + 9, me, 48, 1, NULL); /* ordinary: not offered */
		close(x);
		r3 = orphan_by_close(D_PORT + 5);
		ok = r == 0 && r2 == 0 && r3 == 0;
		for (i = 0; i < 3; i++)
			if (adopt(fd, &a) == 0)
				got[i] = a.aport;
		r = adopt(fd, &a);
		dcheck("orphans-fifo",
		       ok && got[0] == D_PORT + 3 && got[1] == D_PORT + 4 && got[2] == D_PORT + 5 &&
		           r == -ENOENT,
		       "adopted %u, %u, %u (want %u, %u, %u), then %s", got[0], got[1], got[2],
		       D_PORT + 3, D_PORT + 4, D_PORT + 5, err_name(r));
		for (i = 3; i <= 5; i++)
			unreg(fd, D_PORT + (uint32_t)i, me);
	}

	/* The ring namespace is the domain's: by name, an orphan can be taken
	 * over or unregistered from any fd, and is then not offered. */
	r = orphan_by_close(D_PORT + 6);
	r2 = reg(fd, D_PORT + 6, me, 48, 1, NULL);
	r3 = reg(fd, D_PORT + 6, me, 48, 0, NULL);
	i = (int)adopt(fd, &a);
	dcheck("orphan-reregister-takes-over", r == 0 && r2 == -EEXIST && r3 == 0 && i == -ENOENT,
	       "orphan %u: REGISTER with FAIL_EXIST: %s; without: %s; then ADOPT: %s", D_PORT + 6,
	       err_name(r2), err_name(r3), err_name(i));
	unreg(fd, D_PORT + 6, me);

	r = orphan_by_close(D_PORT + 7);
	r2 = unreg(fd, D_PORT + 7, me);
	r3 = adopt(fd, &a);
	dcheck("orphan-unregister", r == 0 && r2 == 0 && r3 == -ENOENT,
	       "orphan %u: UNREGISTER by name from another fd: %s; then ADOPT: %s", D_PORT + 7,
	       err_name(r2), err_name(r3));

	/* REREGISTER: a ring Xen still has is left alone (EEXIST); only the
	 * fd that holds a ring may; pad must be 0. */
	{
		struct argo_dev_reregister rr = {.aport = D_PORT + 10, .partner_id = me};
		int x = dev_open();

		r = reg(fd, D_PORT + 10, me, 48, 1, NULL);
		r2 = xioctl(fd, ARGO_IOC_REREGISTER, &rr);
		r3 = xioctl(x, ARGO_IOC_REREGISTER, &rr);
		i = (int)send_str(fd, D_PORT + 10, "still", 1);
		rr.pad = 1;
		ok = xioctl(fd, ARGO_IOC_REREGISTER, &rr) == -EINVAL;
		rr.pad = 0;
		rr.aport = D_PORT + 11;
		ok = ok && xioctl(fd, ARGO_IOC_REREGISTER, &rr) == -ENOENT &&
		     xioctl(fd, ARGO_IOC_REREGISTER, NULL) == -EFAULT;
		dcheck("reregister-present", r == 0 && r2 == -EEXIST && r3 == -ENOENT && i == 5 && ok,
		       "REREGISTER of a ring Xen has: %s; through another fd: %s; the ring still "
		       "takes messages: %s; bad pad, unknown ring, NULL: %s",
		       err_name(r2), err_name(r3), err_name(i), ok ? "refused" : "not refused");
		unreg(fd, D_PORT + 10, me);
		close(x);
	}

	/* Registering again sets persistence anew. */
	{
		int x = dev_open();

		r = reg_dev(x, D_PORT + 8, me, 48, 0, ARGO_DEV_REG_PERSIST, NULL);
		r2 = reg_dev(x, D_PORT + 8, me, 48, 0, 0, NULL);
		close(x);
		r3 = adopt(fd, &a);
		dcheck(
		    "reregister-clears-persist", r == 0 && r2 == 0 && r3 == -ENOENT,
		    "persistent REGISTER, then an ordinary one of the same ring, close: ADOPT %s",
		    err_name(r3));
		unreg(fd, D_PORT + 8, me);
	}
	close(fd);
}

/* --leave-orphan: a process registers ORPHAN_PORT persistent and is killed. */
static void t_leave_orphan(void)
{
	int p[2], fd;
	char c = 0;
	pid_t pid;
	long r;

	fd = dev_open();
	unreg(fd, ORPHAN_PORT, me);
	close(fd);
	if (pipe(p) < 0) {
		check(0, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		fd = dev_open();
		c = reg_dev(fd, ORPHAN_PORT, me, D_LEN, 1, ARGO_DEV_REG_PERSIST, NULL) == 0;
		if (write(p[1], &c, 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	check(pid > 0 && read(p[0], &c, 1) == 1 && c == 1, "a child registered ring %u persistent",
	      ORPHAN_PORT);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(p[0]);
	close(p[1]);
	fd = dev_open();
	r = send_str(fd, ORPHAN_PORT, "left behind", 1);
	check(r == 11, "after its SIGKILL the ring takes messages: %s", err_name(r));
	close(fd);
}

/* --orphan-gone: after rmmod and insmod, nothing is left to adopt, and Xen
 * no longer has the ring (the unload unregistered it). */
static void t_orphan_gone(void)
{
	struct argo_dev_adopt a;
	int fd = dev_open();
	long r = adopt(fd, &a), r2;

	check(r == -ENOENT, "ADOPT after the reload: expected %s, got %s", strerror(ENOENT),
	      err_name(r));
	r = send_str(fd, ORPHAN_PORT, "x", 1);
	check(r == -ECONNREFUSED, "SENDV to ring %u: expected %s, got %s", ORPHAN_PORT,
	      strerror(ECONNREFUSED), err_name(r));
	r2 = reg(fd, ORPHAN_PORT, me, D_LEN, 1, NULL);
	check(r2 == 0, "REGISTER %u with FAIL_EXIST: %s (Xen had dropped it)", ORPHAN_PORT,
	      err_name(r2));
	unreg(fd, ORPHAN_PORT, me);
	close(fd);
}

/* ---- Rings whose partner dies (--vanish DOMID) --------------------------- */

#define V_LIVE   8200u /* held by this process all along */
#define V_ORPHAN 8201u /* left by a killed child */

static long rereg(int fd, uint32_t aport, uint16_t partner)
{
	struct argo_dev_reregister rr = {.aport = aport, .partner_id = partner};

	return xioctl(fd, ARGO_IOC_REREGISTER, &rr);
}

/* The first message of a mapped ring: from domain 'from', with n bytes? */
static int first_msg_from(const uint8_t *m, uint16_t from, uint32_t *n)
{
	const volatile uint32_t *h = (const volatile uint32_t *)m;
	const volatile uint32_t *mh = (const volatile uint32_t *)(m + 64 + h[0]);

	*n = mh[0] >= 16 ? mh[0] - 16 : 0;
	return h[1] != h[0] && (mh[2] & 0xFFFF) == from;
}

static void t_vanish(uint16_t partner)
{
	struct argo_dev_register out;
	struct argo_dev_adopt a;
	sigset_t set;
	struct timespec ts = {.tv_sec = 900};
	uint8_t *m = MAP_FAILED, *om = MAP_FAILED;
	uint32_t n = 0, n2 = 0;
	int fd = dev_open(), x, sig;
	long r, r2, r3;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	unreg(fd, V_LIVE, partner);
	unreg(fd, V_ORPHAN, partner);
	r = reg_dev(fd, V_LIVE, partner, D_LEN, 1, ARGO_DEV_REG_PERSIST, &out);
	if (r == 0)
		m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)out.mmap_offset);
	x = dev_open();
	r2 = reg_dev(x, V_ORPHAN, partner, D_LEN, 1, ARGO_DEV_REG_PERSIST, NULL);
	close(x); /* orphaned */
	r3 = rereg(fd, V_LIVE, partner);
	dcheck("partner-alive", r == 0 && m != MAP_FAILED && r2 == 0 && r3 == -EEXIST,
	       "rings %u (held) and %u (orphaned) partnered with domain %u: %s, %s; REREGISTER "
	       "while it lives: %s",
	       V_LIVE, V_ORPHAN, partner, err_name(r), err_name(r2), err_name(r3));
	printf("READY\n");
	fflush(stdout);
	sig = sigtimedwait(&set, NULL, &ts);
	dcheck("partner-died", sig == SIGUSR1, "told that domain %u is gone: %s", partner,
	       sig == SIGUSR1 ? "yes" : "timed out");

	/* Xen dropped both (argo.c domain_destroy: partner rings); nobody told us. */
	r = rereg(fd, V_LIVE, partner);
	dcheck("vanish-noticed", r == -ESRCH,
	       "REREGISTER of the held ring after its partner died: expected %s, got %s",
	       strerror(ESRCH), err_name(r));
	dcheck("vanish-memory-kept", m != MAP_FAILED && first_msg_from(m, partner, &n) && n == 16,
	       "what the domU sent is still in the held ring's pages (%u bytes from it)", n);
	r = adopt(fd, &a);
	if (r == 0 && a.aport == V_ORPHAN)
		om = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t)a.mmap_offset);
	r2 = r == 0 ? rereg(fd, V_ORPHAN, partner) : r;
	dcheck("orphan-partner-died",
	       r == 0 && a.aport == V_ORPHAN && om != MAP_FAILED && r2 == -ESRCH &&
	           first_msg_from(om, partner, &n2) && n2 == 16,
	       "ADOPT of the orphan whose partner died: %s (aport %u); REREGISTER: %s; the "
	       "domU's message still in it (%u bytes)",
	       err_name(r), a.aport, err_name(r2), n2);
	r = unreg(fd, V_LIVE, partner);
	r2 = unreg(fd, V_ORPHAN, partner);
	r3 = adopt(fd, &a);
	dcheck("vanished-unregister", r == -ENOENT && r2 == -ENOENT && r3 == -ENOENT,
	       "UNREGISTER of both: %s, %s (Xen had dropped them; their pages go back); then "
	       "ADOPT: %s",
	       err_name(r), err_name(r2), err_name(r3));
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	if (om != MAP_FAILED)
		munmap(om, PAGE);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *mode = "";
	unsigned long partner = 0;
	int fd;

	if (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		mode = argv[1];
		argc--;
		argv++;
	}
	if (!strcmp(mode, "--vanish")) {
		char *end = NULL;

		partner = argc > 1 ? strtoul(argv[1], &end, 10) : 0;
		if (!end || *end || partner == 0 || partner >= DOMID_ANY)
			mode = "?";
		argc--;
		argv++;
	}
	if (argc > 1)
		dev = argv[1];
	if (*mode && strcmp(mode, "--durable") && strcmp(mode, "--leave-orphan") &&
	    strcmp(mode, "--orphan-gone") && strcmp(mode, "--vanish")) {
		fprintf(stderr, "usage: argo-dev-test [--durable|--leave-orphan|--orphan-gone|"
		                "--vanish DOMID] [DEVICE]\n");
		return 2;
	}
	fd = dev_open();
	t_basics(fd);
	if (!strcmp(mode, "--durable")) {
		close(fd);
		t_durable();
	} else if (!strcmp(mode, "--leave-orphan")) {
		close(fd);
		t_leave_orphan();
	} else if (!strcmp(mode, "--orphan-gone")) {
		close(fd);
		t_orphan_gone();
	} else if (!strcmp(mode, "--vanish")) {
		close(fd);
		t_vanish((uint16_t)partner);
	} else {
		t_register(fd);
		t_send(fd);
		t_notify(fd);
		close(fd);
		t_takeover();
		t_many();
		t_race();
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
