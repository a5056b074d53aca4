/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the sim fabric model (l0/sim_fabric.c, l0/sim_policy.c),
 * driven directly, without the daemon. Every errno and its order is the one
 * docs/xen-argo-notes.md records from Xen's argo.c (sections b-h).
 *
 * Rings are memfds made the way the client library makes them (memfd_create
 * with sealing allowed, ftruncate to npages * 4096, sealed against
 * shrink/grow/further sealing), mapped here too so that the test reads the
 * ring with argo_ring_recv() as a receiver would. sendv's iov handles are
 * offsets into MEM, the sending domain's staging memory.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argo/ring.h"
#include "argo/routed.h"
#include "sim_fabric.h"
#include "../cunit_main.h"
#include "sim_policy.h"

#define ANY      XEN_ARGO_DOMID_ANY
#define SENTINEL 0x5EA5EA5Eu
#define MAXDOM   64

/* ---------------------------------------------------------------------------
 * Fixture: one fabric, domains indexed by domid, a signal counter per domain.
 */

struct dom {
	struct sim_domain *d;
	argo_domid_t id;
	unsigned int signals;
};

static struct sim_fabric *F;
static struct dom D[MAXDOM];
static uint8_t MEM[1 << 16]; /* a sending domain's staging memory */

static void on_signal(void *ctx)
{
	((struct dom *)ctx)->signals++;
}

static void fx_init(int mac_permissive, const struct sim_policy *policy)
{
	struct sim_fabric_config cfg = {
	    .mac_permissive = mac_permissive,
	    .policy = policy,
	    .signal = on_signal,
	};

	memset(D, 0, sizeof(D));
	F = sim_fabric_new(&cfg);
	CU_ASSERT_FATAL(F != NULL);
}

static void fx_fini(void)
{
	sim_fabric_free(F);
	F = NULL;
}

static struct dom *mkdom(argo_domid_t id)
{
	CU_ASSERT_FATAL(id < MAXDOM);
	memset(&D[id], 0, sizeof(D[id]));
	D[id].id = id;
	CU_ASSERT_EQUAL_FATAL(sim_domain_create(F, id, &D[id], &D[id].d), 0);
	return &D[id];
}

static unsigned int total_signals(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < MAXDOM; i++)
		n += D[i].signals;
	return n;
}

static struct sim_fabric_stats stats(void)
{
	struct sim_fabric_stats s;

	sim_fabric_get_stats(F, &s);
	return s;
}

/* ---------------------------------------------------------------------------
 * Ring memory, as the client makes it.
 */

struct tring {
	int fd;
	struct xen_argo_ring *mem;
	size_t size;
	uint32_t len;
};

static int make_memfd(size_t size, int seals)
{
	int fd = memfd_create("test-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)size) == 0);
	if (seals)
		CU_ASSERT_FATAL(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

static void tring_open(struct tring *t, uint32_t len)
{
	t->len = len;
	t->size = (size_t)argo_ring_npages(len) * XEN_ARGO_PAGE_SIZE;
	t->fd = make_memfd(t->size, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	t->mem = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
	CU_ASSERT_FATAL(t->mem != MAP_FAILED);
}

static void tring_close(struct tring *t)
{
	munmap(t->mem, t->size);
	close(t->fd);
}

static int reg_flags(struct dom *d, uint32_t aport, argo_domid_t partner, uint32_t len,
                     uint32_t npages, uint32_t flags, int fd)
{
	struct xen_argo_register_ring r = {
	    .aport = aport, .partner_id = partner, .pad = 0, .len = len};

	return sim_register_ring(F, d->d, &r, npages, flags, fd);
}

static int reg(struct dom *d, uint32_t aport, argo_domid_t partner, const struct tring *t)
{
	return reg_flags(d, aport, partner, t->len, argo_ring_npages(t->len), 0, t->fd);
}

static int unreg(struct dom *d, uint32_t aport, argo_domid_t partner)
{
	struct xen_argo_unregister_ring u = {.aport = aport, .partner_id = partner, .pad = 0};

	return sim_unregister_ring(F, d->d, &u);
}

static struct xen_argo_send_addr saddr(argo_domid_t sdom, uint32_t sport, argo_domid_t ddom,
                                       uint32_t dport)
{
	struct xen_argo_send_addr a = {
	    .src = {.aport = sport, .domain_id = sdom, .pad = 0},
	    .dst = {.aport = dport, .domain_id = ddom, .pad = 0},
	};

	return a;
}

static uint8_t pat(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 29u + i * 13u + 7u);
}

/* Sends n pattern bytes (seed) from MEM[0..n) as one iov, src = ANY. */
static int64_t snd(struct dom *from, argo_domid_t dst, uint32_t dport, uint32_t n, uint32_t seed)
{
	struct xen_argo_send_addr a = saddr(ANY, 1000 + from->id, dst, dport);
	struct xen_argo_iov iov = {.iov_hnd = 0, .iov_len = n, .pad = 0};
	uint32_t i;

	CU_ASSERT_FATAL(n <= sizeof(MEM));
	for (i = 0; i < n; i++)
		MEM[i] = pat(seed, i);
	return sim_sendv(F, from->d, &a, &iov, 1, seed, MEM, sizeof(MEM));
}

static int64_t sendv_iovs(struct dom *from, const struct xen_argo_send_addr *a,
                          const struct xen_argo_iov *iovs, uint32_t niov)
{
	return sim_sendv(F, from->d, a, iovs, niov, 0, MEM, sizeof(MEM));
}

/* Receives the next message of a ring and checks it is n pattern bytes
 * (seed) from domain 'from'. */
static bool rcv_check(struct tring *t, uint32_t n, uint32_t seed, argo_domid_t from)
{
	static uint8_t buf[1 << 16];
	struct xen_argo_addr src;
	uint32_t type = 0, i;
	ssize_t got = argo_ring_recv(t->mem, t->len, &src, &type, buf, sizeof(buf));

	if (got != (ssize_t)n || src.domain_id != from || src.aport != 1000u + from ||
	    type != seed) {
		fprintf(stderr, "\n    rcv_check: got %zd (want %u) from %u type %u\n", got, n,
		        src.domain_id, type);
		return false;
	}
	for (i = 0; i < n; i++)
		if (buf[i] != pat(seed, i))
			return false;
	return true;
}

static bool ring_empty(struct tring *t)
{
	return argo_ring_recv(t->mem, t->len, NULL, NULL, NULL, 0) == -EAGAIN;
}

/* notify with one entry from 'caller' about (dom, aport); returns flags,
 * *max gets the written-back max_message_size (SENTINEL going in). */
static int notify1(struct dom *caller, argo_domid_t dom, uint32_t aport, uint32_t req,
                   uint32_t *max)
{
	size_t bytes = sizeof(struct xen_argo_ring_data) + sizeof(struct xen_argo_ring_data_ent);
	struct xen_argo_ring_data *rd = calloc(1, bytes);
	int ret, flags;

	CU_ASSERT_FATAL(rd != NULL);
	rd->nent = 1;
	rd->data[0].ring.aport = aport;
	rd->data[0].ring.domain_id = dom;
	rd->data[0].flags = 0xFFFF;
	rd->data[0].space_required = req;
	rd->data[0].max_message_size = SENTINEL;
	ret = sim_notify(F, caller->d, rd, bytes);
	CU_ASSERT_EQUAL(ret, 0);
	/* Only flags and max_message_size are written back. */
	CU_ASSERT_EQUAL(rd->data[0].ring.aport, aport);
	CU_ASSERT_EQUAL(rd->data[0].ring.domain_id, dom);
	CU_ASSERT_EQUAL(rd->data[0].space_required, req);
	if (max)
		*max = rd->data[0].max_message_size;
	flags = ret ? -1 : rd->data[0].flags;
	free(rd);
	return flags;
}

#define EXISTS     XEN_ARGO_RING_EXISTS
#define SHARED     XEN_ARGO_RING_SHARED
#define EMPTY      XEN_ARGO_RING_EMPTY
#define SUFFICIENT XEN_ARGO_RING_SUFFICIENT
#define EMSGSIZE_F XEN_ARGO_RING_EMSGSIZE
#define EBUSY_F    XEN_ARGO_RING_EBUSY

/* ---------------------------------------------------------------------------
 * Suite: domains.
 */

static void test_domain_create(void)
{
	struct sim_domain *d = NULL;

	fx_init(0, NULL);
	mkdom(1);
	CU_ASSERT_EQUAL(sim_domain_create(F, 1, NULL, &d), -EEXIST);
	CU_ASSERT_EQUAL(sim_domain_create(F, XEN_DOMID_FIRST_RESERVED, NULL, &d), -EINVAL);
	CU_ASSERT_EQUAL(sim_domain_create(F, ANY, NULL, &d), -EINVAL);
	CU_ASSERT_EQUAL(sim_domain_create(F, 0xFFFF, NULL, &d), -EINVAL);
	CU_ASSERT_EQUAL(sim_domain_create(F, XEN_DOMID_FIRST_RESERVED - 1, NULL, &d), 0);
	CU_ASSERT_EQUAL(sim_domain_id(d), XEN_DOMID_FIRST_RESERVED - 1);
	CU_ASSERT_EQUAL(sim_domain_id(D[1].d), 1);
	CU_ASSERT_TRUE(sim_domain_exists(F, 1));
	CU_ASSERT_FALSE(sim_domain_exists(F, 2));
	CU_ASSERT_FALSE(sim_domain_exists(F, ANY));
	CU_ASSERT_EQUAL(stats().domains, 2);
	sim_domain_destroy(F, d);
	CU_ASSERT_FALSE(sim_domain_exists(F, XEN_DOMID_FIRST_RESERVED - 1));
	CU_ASSERT_EQUAL(stats().domains, 1);
	fx_fini();
}

/* ---------------------------------------------------------------------------
 * Suite: register_ring.
 */

static void test_register_flags_and_pad(void)
{
	struct xen_argo_register_ring r = {.aport = 7000, .partner_id = 2, .pad = 1, .len = 64};
	struct tring t;
	struct dom *d1;

	fx_init(0, NULL);
	d1 = mkdom(1);
	mkdom(2);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 2, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 3, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0x80000000u, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(sim_register_ring(F, d1->d, &r, 1, 0, t.fd), -EINVAL);
	r.pad = 0x8000;
	CU_ASSERT_EQUAL(sim_register_ring(F, d1->d, &r, 1, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(stats().rings, 0);
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), -ENOENT);
	/* FAIL_EXIST alone is a valid flag. */
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, t.fd), 0);
	CU_ASSERT_EQUAL(stats().rings, 1);
	fx_fini();
	tring_close(&t);
}

static void test_register_len_and_npages(void)
{
	static const uint32_t bad_len[] = {
	    0, 16, 32, 40, 47, 50, 65, 4040, XEN_ARGO_MAX_RING_SIZE + 16};
	struct tring t, big;
	struct dom *d1;
	size_t k;

	fx_init(0, NULL);
	d1 = mkdom(1);
	tring_open(&t, 4048);
	for (k = 0; k < sizeof(bad_len) / sizeof(bad_len[0]); k++)
		CU_ASSERT_EQUAL(
		    reg_flags(d1, 1, 1, bad_len[k], argo_ring_npages(bad_len[k]), 0, t.fd),
		    -EINVAL);
	/* npages must be exactly ceil((len + 64) / 4096). */
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 64, 0, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 64, 2, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 4032, 2, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 4048, 1, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 4048, 3, 0, t.fd), -EINVAL);
	/* npages beyond 4096 (dispatch check), even for a ring needing them. */
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 64, 4097, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 64, 0xFFFFFFFFu, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, XEN_ARGO_MAX_RING_SIZE, 4097, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, XEN_ARGO_MAX_RING_SIZE, 4096, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(stats().rings, 0);

	/* The edges that are accepted. */
	CU_ASSERT_EQUAL(reg_flags(d1, 1, 1, 48, 1, 0, t.fd), 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 2, 1, 4032, 1, 0, t.fd), 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 3, 1, 4048, 2, 0, t.fd), 0);
	CU_ASSERT_EQUAL(stats().rings, 3);

	/* The largest ring that can be registered: 16 MiB - 64 in 4096 pages. */
	tring_open(&big, XEN_ARGO_MAX_RING_SIZE - 64);
	CU_ASSERT_EQUAL(big.size, 4096u * 4096u);
	CU_ASSERT_EQUAL(reg(d1, 4, 1, &big), 0);
	CU_ASSERT_EQUAL(snd(d1, 1, 4, 60000, 77), 60000);
	CU_ASSERT_TRUE(rcv_check(&big, 60000, 77, 1));
	fx_fini();
	tring_close(&big);
	tring_close(&t);
}

static void test_register_partner(void)
{
	struct tring t;
	struct dom *d1;

	/* Without mac-permissive a wildcard ring is EPERM ... */
	fx_init(0, NULL);
	d1 = mkdom(1);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), -EPERM);
	/* ... after the len/flags checks. */
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, ANY, 47, 1, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, ANY, 64, 1, 4, t.fd), -EINVAL);
	/* Missing partner: ESRCH, after the EINVAL checks. DOMID_SELF is not
	 * translated. */
	CU_ASSERT_EQUAL(reg(d1, 7000, 9, &t), -ESRCH);
	CU_ASSERT_EQUAL(reg(d1, 7000, XEN_DOMID_FIRST_RESERVED, &t), -ESRCH);
	CU_ASSERT_EQUAL(reg(d1, 7000, 0x7FFF, &t), -ESRCH);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 9, 64, 2, 0, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(stats().rings, 0);
	mkdom(9);
	CU_ASSERT_EQUAL(reg(d1, 7000, 9, &t), 0);
	/* Partner == self is allowed. */
	CU_ASSERT_EQUAL(reg(d1, 7001, 1, &t), 0);
	CU_ASSERT_EQUAL(stats().rings, 2);
	fx_fini();

	/* ... with it, allowed. */
	fx_init(1, NULL);
	d1 = mkdom(1);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(notify1(d1, 1, 7000, 0, NULL), EXISTS | SHARED | SUFFICIENT | EMPTY);
	fx_fini();
	tring_close(&t);
}

static void test_register_ring_limit(void)
{
	struct tring t;
	struct dom *d1, *d2;
	uint32_t i;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 64);
	for (i = 0; i < XEN_ARGO_MAX_RINGS_PER_DOMAIN; i++)
		CU_ASSERT_EQUAL(reg(d1, i, (i & 1) ? ANY : 2, &t), 0);
	CU_ASSERT_EQUAL(stats().rings, 128);
	CU_ASSERT_EQUAL(reg(d1, 500, 2, &t), -ENOSPC);
	CU_ASSERT_EQUAL(reg(d1, 501, ANY, &t), -ENOSPC);
	/* The count is checked before looking for an existing ring. */
	CU_ASSERT_EQUAL(reg(d1, 0, 2, &t), -ENOSPC);
	CU_ASSERT_EQUAL(reg_flags(d1, 0, 2, 64, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, t.fd),
	                -ENOSPC);
	/* ... but after the partner lookup. */
	CU_ASSERT_EQUAL(reg(d1, 500, 9, &t), -ESRCH);
	/* The limit is per domain. */
	CU_ASSERT_EQUAL(reg(d2, 500, 1, &t), 0);
	CU_ASSERT_EQUAL(unreg(d1, 5, ANY), 0);
	CU_ASSERT_EQUAL(reg(d1, 500, 2, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 501, 2, &t), -ENOSPC);
	CU_ASSERT_EQUAL(stats().rings, 129);
	fx_fini();
	tring_close(&t);
}

static void test_register_existing(void)
{
	struct tring a, b, c;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&a, 128);
	tring_open(&b, 128);
	tring_open(&c, 256);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &a), 0);
	/* FAIL_EXIST on an existing ring, then a different size: EEXIST, and
	 * the ring stays as it was. */
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 128, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, b.fd),
	                -EEXIST);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &c), -EEXIST);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 256, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, c.fd),
	                -EEXIST);
	CU_ASSERT_EQUAL(stats().rings, 1);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 10, 1), 10);
	CU_ASSERT_TRUE(rcv_check(&a, 10, 1, 2));
	CU_ASSERT_TRUE(ring_empty(&b));
	CU_ASSERT_TRUE(ring_empty(&c));
	/* Same aport, other partner: another ring. */
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 1, 128, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, b.fd), 0);
	CU_ASSERT_EQUAL(stats().rings, 2);
	fx_fini();
	tring_close(&a);
	tring_close(&b);
	tring_close(&c);
}

/* Same size, no FAIL_EXIST: re-registered onto the new memory, its waiters
 * kept. */
static void test_register_reregister_same_size(void)
{
	struct tring a, b;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&a, 128);
	tring_open(&b, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &a), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 1), 48);      /* 64 of 128 used */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 2), -EAGAIN); /* d2 waits for 48 */
	CU_ASSERT_EQUAL(a.mem->tx_ptr, 64);
	CU_ASSERT_EQUAL(d1->signals, 1);

	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &b), 0);
	CU_ASSERT_EQUAL(stats().rings, 1);
	CU_ASSERT_EQUAL(total_signals(), 1); /* register signals nobody */
	/* The wait survived: the owner's notify now finds room on the new
	 * (empty) memory and wakes d2. */
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 1);
	/* New messages go to the new memory, from its tx_ptr (0). */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 3), 48);
	CU_ASSERT_EQUAL(b.mem->tx_ptr, 64);
	CU_ASSERT_TRUE(rcv_check(&b, 48, 3, 2));
	CU_ASSERT_EQUAL(a.mem->tx_ptr, 64);
	CU_ASSERT_TRUE(rcv_check(&a, 48, 1, 2));
	CU_ASSERT_TRUE(ring_empty(&a));
	fx_fini();
	tring_close(&a);
	tring_close(&b);
}

static void test_register_bad_memory(void)
{
	char path[] = "/tmp/argo-test-XXXXXX";
	int pipefd[2], tmp, fd, closed;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);

	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, pipefd[0]), -EINVAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, pipefd[1]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	tmp = mkstemp(path);
	CU_ASSERT_FATAL(tmp >= 0);
	unlink(path);
	CU_ASSERT_FATAL(ftruncate(tmp, 4096) == 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, tmp), -EINVAL);
	close(tmp);

	/* memfd without any seal, and with every seal but SHRINK. */
	fd = make_memfd(4096, 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, fd), -EINVAL);
	close(fd);
	fd = make_memfd(4096, F_SEAL_GROW | F_SEAL_SEAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, fd), -EINVAL);
	close(fd);
	/* Sealed, but smaller than npages pages. */
	fd = make_memfd(4096, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 4048, 2, 0, fd), -EINVAL);
	close(fd);
	fd = make_memfd(0, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, fd), -EINVAL);
	close(fd);
	fd = make_memfd(4095, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, fd), -EINVAL);
	close(fd);
	/* Not a file descriptor at all. */
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, -1), -EINVAL);
	closed = make_memfd(4096, F_SEAL_SHRINK);
	close(closed);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, closed), -EINVAL);

	/* None of them left a ring behind. */
	CU_ASSERT_EQUAL(stats().rings, 0);
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), -ENOENT);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 1, 1), -ECONNREFUSED);
	/* Sealed against shrinking only is enough. */
	fd = make_memfd(4096, F_SEAL_SHRINK);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, fd), 0);
	close(fd);
	fx_fini();
}

/* tx_ptr at registration: a valid one in the page is adopted; an invalid
 * one becomes the sanitised rx_ptr, written back. rx_ptr is never written. */
static void test_register_tx_adoption(void)
{
	static const struct {
		uint32_t rx, tx, want_tx;
	} cases[] = {
	    {32, 32, 32},          /* valid: kept */
	    {112, 112, 112},       /* valid, last slot */
	    {0, 96, 96},           /* valid (rx not looked at) */
	    {50, 17, 64},          /* unaligned tx: RU(rx) */
	    {5, 128, 16},          /* tx == len */
	    {0xFFFFFFF5u, 500, 0}, /* rx rounds (32-bit) to 0 */
	    {113, 0xFFFFFFF0u, 0}, /* RU(rx) == len -> 0 */
	    {1000, 8, 0},          /* rx >= len -> 0 */
	    {64, 0x80000000u, 64},
	};
	struct dom *d1, *d2;
	size_t k;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct tring t;
		uint32_t want_next;

		tring_open(&t, 128);
		t.mem->rx_ptr = cases[k].rx;
		t.mem->tx_ptr = cases[k].tx;
		CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
		CU_ASSERT_EQUAL(t.mem->tx_ptr, cases[k].want_tx);
		CU_ASSERT_EQUAL(t.mem->rx_ptr, cases[k].rx);
		/* The next message goes at that tx (make room first: rx = tx). */
		t.mem->rx_ptr = cases[k].want_tx;
		CU_ASSERT_EQUAL(snd(d2, 1, 7000, 20, (uint32_t)k), 20);
		want_next = (cases[k].want_tx + 48) % 128;
		CU_ASSERT_EQUAL(t.mem->tx_ptr, want_next);
		CU_ASSERT_TRUE(rcv_check(&t, 20, (uint32_t)k, 2));
		CU_ASSERT_EQUAL(unreg(d1, 7000, 2), 0);
		tring_close(&t);
	}
	fx_fini();
}

/* After registration the page's tx_ptr is only written: a receiver
 * scribbling on it does not move where messages go. */
static void test_register_tx_ptr_is_fabrics(void)
{
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 5, 1), 5); /* tx 32 */
	t.mem->tx_ptr = 96;
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 5, 2), 5); /* at 32, tx 64 */
	CU_ASSERT_EQUAL(t.mem->tx_ptr, 64);
	CU_ASSERT_TRUE(rcv_check(&t, 5, 1, 2));
	CU_ASSERT_TRUE(rcv_check(&t, 5, 2, 2));
	CU_ASSERT_TRUE(ring_empty(&t));
	fx_fini();
	tring_close(&t);
}

/* A failed re-register removes the ring that existed (Xen: argo.c:1784). */
static void test_register_failed_reregister_removes(void)
{
	struct tring a, b;
	int pipefd[2];
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&a, 64);
	tring_open(&b, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &a), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 0, 2), -EAGAIN); /* d2 waits */
	CU_ASSERT_EQUAL(total_signals(), 1);

	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 7000, 2, 64, 1, 0, pipefd[0]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	CU_ASSERT_EQUAL(stats().rings, 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 1, 3), -ECONNREFUSED);
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), -ENOENT);
	CU_ASSERT_EQUAL(total_signals(), 1); /* dropped silently */

	/* A new ring under the same id does not inherit the old waiter. */
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &b), 0);
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 0);
	fx_fini();
	tring_close(&a);
	tring_close(&b);
}

/*
 * Xen counts rings, not ring names (argo.c ring_count): a successful
 * same-size re-register counts one more ring (argo.c:1825), and a failed
 * re-register that removes the ring does not uncount it (argo.c:1784);
 * unregister gives back one slot, only the domain's death all of them.
 * Seen on Xen 4.17 by the xen-conformance scenario (register-too-many after
 * register-reregister-same-size in a long-lived dom0).
 */
static void test_register_reregister_counts(void)
{
	struct tring a, b, t;
	struct dom *d1, *d2;
	int pipefd[2];
	uint32_t i;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&a, 64);
	tring_open(&b, 64);
	tring_open(&t, 64);

	/* One ring, re-registered (same size) once: two slots. */
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &a), 0);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &b), 0);
	CU_ASSERT_EQUAL(stats().rings, 1);
	for (i = 0; i < XEN_ARGO_MAX_RINGS_PER_DOMAIN - 2; i++)
		CU_ASSERT_EQUAL(reg(d1, 8000 + i, 2, &t), 0);
	CU_ASSERT_EQUAL(stats().rings, 127);
	CU_ASSERT_EQUAL(reg(d1, 9000, 2, &t), -ENOSPC);

	/* Unregistering the re-registered ring gives back one slot only:
	 * 127 rings at most now. */
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), 0);
	CU_ASSERT_EQUAL(stats().rings, 126);
	CU_ASSERT_EQUAL(reg(d1, 9000, 2, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 9001, 2, &t), -ENOSPC);
	CU_ASSERT_EQUAL(stats().rings, 127);

	/* A re-register refused (FAIL_EXIST, another size) counts nothing. */
	CU_ASSERT_EQUAL(unreg(d1, 8000, 2), 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 9000, 2, 64, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, t.fd),
	                -EEXIST);
	CU_ASSERT_EQUAL(reg_flags(d1, 9000, 2, 128, 1, 0, t.fd), -EEXIST);
	CU_ASSERT_EQUAL(reg(d1, 9001, 2, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 9002, 2, &t), -ENOSPC);

	/* A failed re-register removes the ring and keeps its slot. */
	CU_ASSERT_EQUAL(unreg(d1, 8001, 2), 0);
	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 9000, 2, 64, 1, 0, pipefd[0]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	CU_ASSERT_EQUAL(unreg(d1, 9000, 2), -ENOENT);
	CU_ASSERT_EQUAL(stats().rings, 125);
	CU_ASSERT_EQUAL(reg(d1, 9000, 2, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 9002, 2, &t), -ENOSPC);

	/* A failed first register leaves the count as it was. */
	CU_ASSERT_EQUAL(unreg(d1, 8002, 2), 0);
	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	CU_ASSERT_EQUAL(reg_flags(d1, 9100, 2, 64, 1, 0, pipefd[0]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	CU_ASSERT_EQUAL(reg(d1, 9002, 2, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 9003, 2, &t), -ENOSPC);
	CU_ASSERT_EQUAL(stats().rings, 126);

	/* The count is per domain, and a new domain starts from 0. */
	CU_ASSERT_EQUAL(reg(d2, 7000, 1, &a), 0);
	CU_ASSERT_EQUAL(reg(d2, 7000, 1, &b), 0);
	sim_domain_destroy(F, d1->d);
	d1->d = NULL;
	d1 = mkdom(3);
	for (i = 0; i < XEN_ARGO_MAX_RINGS_PER_DOMAIN; i++)
		CU_ASSERT_EQUAL(reg(d1, 8000 + i, 2, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 9000, 2, &t), -ENOSPC);
	fx_fini();
	tring_close(&a);
	tring_close(&b);
	tring_close(&t);
}

/* ---------------------------------------------------------------------------
 * Suite: unregister_ring.
 */

static void test_unregister(void)
{
	struct xen_argo_unregister_ring u = {.aport = 7000, .partner_id = ANY, .pad = 1};
	struct tring any, p2;
	struct dom *d1, *d2, *d3;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&any, 64);
	tring_open(&p2, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &any), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, 2, &p2), 0);

	CU_ASSERT_EQUAL(sim_unregister_ring(F, d1->d, &u), -EINVAL);
	CU_ASSERT_EQUAL(stats().rings, 2);
	/* Exact match only: a wildcard ring must be named with ANY, a partner
	 * ring with its partner. */
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d1, 7000, 1), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d1, 7001, ANY), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d1, 7001, 3), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d1, 7002, 2), -ENOENT);
	/* Another domain can't name them either. */
	CU_ASSERT_EQUAL(unreg(d2, 7000, ANY), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d2, 7001, 2), -ENOENT);
	CU_ASSERT_EQUAL(stats().rings, 2);

	/* A waiter on the wildcard ring, dropped silently by unregister. */
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 0, 2), -EAGAIN);
	CU_ASSERT_EQUAL(total_signals(), 1);
	CU_ASSERT_EQUAL(unreg(d1, 7000, ANY), 0);
	CU_ASSERT_EQUAL(unreg(d1, 7000, ANY), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d1, 7001, 2), 0);
	CU_ASSERT_EQUAL(unreg(d1, 7001, 2), -ENOENT);
	CU_ASSERT_EQUAL(stats().rings, 0);
	CU_ASSERT_EQUAL(total_signals(), 1);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 1, 3), -ECONNREFUSED);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 1, 3), -ECONNREFUSED);
	fx_fini();
	tring_close(&any);
	tring_close(&p2);
}

/* ---------------------------------------------------------------------------
 * Suite: sendv.
 */

static void test_sendv_niov(void)
{
	struct xen_argo_send_addr a = saddr(ANY, 1, 1, 7000);
	struct xen_argo_iov iovs[9];
	struct tring t;
	struct dom *d1, *d2;
	uint64_t failed;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	failed = stats().sends_failed;
	CU_ASSERT_EQUAL(sim_sendv(F, d2->d, &a, NULL, 9, 0, MEM, sizeof(MEM)), -EINVAL);
	CU_ASSERT_EQUAL(sim_sendv(F, d2->d, &a, NULL, 0xFFFFFFFFu, 0, MEM, sizeof(MEM)), -EINVAL);
	/* Before every other check: a forged source still gives EINVAL. */
	a.src.domain_id = 5;
	CU_ASSERT_EQUAL(sim_sendv(F, d2->d, &a, NULL, 9, 0, MEM, sizeof(MEM)), -EINVAL);
	CU_ASSERT_EQUAL(stats().sends_failed, failed + 3);
	/* 8 is the maximum. */
	a.src.domain_id = ANY;
	memset(iovs, 0, sizeof(iovs));
	iovs[7].iov_len = 3;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iovs, 8), 3);
	CU_ASSERT_EQUAL(total_signals(), 1);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_addr_checks(void)
{
	struct xen_argo_iov iov = {.iov_hnd = 0, .iov_len = 4, .pad = 0};
	struct xen_argo_send_addr a;
	struct xen_argo_addr src;
	struct tring t;
	struct dom *d1, *d2;
	uint8_t buf[8];

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	mkdom(3);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);

	a = saddr(ANY, 1, 1, 7000);
	a.src.pad = 1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), -EINVAL);
	a = saddr(ANY, 1, 1, 7000);
	a.dst.pad = 0x100;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), -EINVAL);
	/* pad is checked before the forged source. */
	a = saddr(3, 1, 1, 7000);
	a.src.pad = 1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), -EINVAL);

	/* Forged source: EPERM, even to a missing domain. */
	a = saddr(3, 1, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), -EPERM);
	a = saddr(1, 1, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), -EPERM);
	a = saddr(3, 1, 9, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), -EPERM);
	CU_ASSERT_TRUE(ring_empty(&t));
	CU_ASSERT_EQUAL(total_signals(), 0);

	/* src ANY: stamped with the caller's domid; the aport as given. */
	memcpy(MEM, "ping", 4);
	a = saddr(ANY, 0xCAFEBABEu, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), 4);
	CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, &src, NULL, buf, sizeof(buf)), 4);
	CU_ASSERT_EQUAL(src.domain_id, 2);
	CU_ASSERT_EQUAL(src.aport, 0xCAFEBABEu);
	CU_ASSERT_EQUAL(src.pad, 0);
	CU_ASSERT_EQUAL(memcmp(buf, "ping", 4), 0);
	/* An explicit own domid is fine too. */
	a = saddr(2, 0, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &iov, 1), 4);
	CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, &src, NULL, buf, sizeof(buf)), 4);
	CU_ASSERT_EQUAL(src.domain_id, 2);
	CU_ASSERT_EQUAL(src.aport, 0);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_dst_and_ring_lookup(void)
{
	struct xen_argo_iov bad = {.iov_hnd = 0, .iov_len = 4, .pad = 1};
	struct xen_argo_iov huge = {.iov_hnd = 0, .iov_len = 0xFFFFE1, .pad = 0};
	struct xen_argo_send_addr a;
	struct tring t;
	struct dom *d1, *d2, *d3;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&t, 128);
	/* Missing destination domain: ESRCH, before any iov check. */
	CU_ASSERT_EQUAL(snd(d2, 9, 7000, 4, 1), -ESRCH);
	CU_ASSERT_EQUAL(snd(d2, ANY, 7000, 4, 1), -ESRCH);
	CU_ASSERT_EQUAL(snd(d2, XEN_DOMID_FIRST_RESERVED, 7000, 4, 1), -ESRCH);
	CU_ASSERT_EQUAL(snd(d2, 0xFFFF, 7000, 4, 1), -ESRCH);
	a = saddr(ANY, 1, 9, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &bad, 1), -ESRCH);
	/* No ring: ECONNREFUSED, also before iov checks. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), -ECONNREFUSED);
	a = saddr(ANY, 1, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &bad, 1), -ECONNREFUSED);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &huge, 1), -ECONNREFUSED);
	/* A ring for partner 2 is not reachable by 3. */
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 4, 1), -ECONNREFUSED);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 4, 1), -ECONNREFUSED);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), 4);
	CU_ASSERT_EQUAL(d1->signals, 1);
	CU_ASSERT_EQUAL(total_signals(), 1);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_exact_ring_preferred(void)
{
	struct tring any, p2;
	struct dom *d1, *d2, *d3;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&any, 128);
	tring_open(&p2, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &any), 0);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &p2), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 6, 1), 6);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 7, 2), 7);
	CU_ASSERT_TRUE(rcv_check(&p2, 6, 1, 2));
	CU_ASSERT_TRUE(ring_empty(&p2));
	CU_ASSERT_TRUE(rcv_check(&any, 7, 2, 3));
	CU_ASSERT_TRUE(ring_empty(&any));
	/* notify uses the same rule. */
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 0, NULL), EXISTS | SUFFICIENT | EMPTY);
	CU_ASSERT_EQUAL(notify1(d3, 1, 7000, 0, NULL), EXISTS | SHARED | SUFFICIENT | EMPTY);
	/* Without the partner ring, 2 reaches the wildcard one. */
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 8, 3), 8);
	CU_ASSERT_TRUE(rcv_check(&any, 8, 3, 2));
	fx_fini();
	tring_close(&any);
	tring_close(&p2);
}

static void test_sendv_iov_checks(void)
{
	struct xen_argo_send_addr a = saddr(ANY, 1, 1, 7000);
	struct xen_argo_iov iov[8];
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	memset(iov, 0, sizeof(iov));

	iov[0].iov_len = 4;
	iov[0].pad = 1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 1), -EINVAL);
	memset(iov, 0, sizeof(iov));
	iov[7].pad = 0x80000000u; /* even on an empty iov, even the last */
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 8), -EINVAL);
	memset(iov, 0, sizeof(iov));
	/* One iov longer than 0xFFFFE0: EINVAL; exactly that: the ring's
	 * EMSGSIZE. */
	iov[0].iov_len = 0xFFFFE1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 1), -EINVAL);
	iov[0].iov_len = 0xFFFFFFFFu;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 1), -EINVAL);
	iov[0].iov_len = 0xFFFFE0;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 1), -EMSGSIZE);
	/* Total beyond 0xFFFFE0: EMSGSIZE. */
	iov[0].iov_len = 0x800000;
	iov[1].iov_len = 0x800000;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 2), -EMSGSIZE);
	iov[0].iov_len = 0xFFFFE0;
	iov[1].iov_len = 1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 2), -EMSGSIZE);
	/* Per-iov checks run in order, each before the running total. */
	iov[1].iov_len = 0xFFFFE1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 2), -EINVAL);
	iov[1].iov_len = 1;
	iov[1].pad = 1;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 2), -EINVAL);
	iov[1].pad = 0;
	iov[2].pad = 1; /* after the total already overflowed */
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 3), -EMSGSIZE);
	/* Eight iovs of 0x200000 = 16 MiB: EMSGSIZE at the 8th. */
	memset(iov, 0, sizeof(iov));
	for (int i = 0; i < 8; i++)
		iov[i].iov_len = 0x200000;
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 8), -EMSGSIZE);

	CU_ASSERT_EQUAL(t.mem->tx_ptr, 0);
	CU_ASSERT_TRUE(ring_empty(&t));
	CU_ASSERT_EQUAL(total_signals(), 0);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_ring_too_small(void)
{
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 33, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 2), 32); /* len - 32 fits empty */
	/* Full now, but too large is still EMSGSIZE, and queues no wait. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 33, 3), -EMSGSIZE);
	CU_ASSERT_TRUE(rcv_check(&t, 32, 2, 2));
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_EQUAL(d1->signals, 1);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_full_queues_waiter(void)
{
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 1), 48); /* 64 used, 64 free */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 2), -EAGAIN);
	CU_ASSERT_EQUAL(t.mem->tx_ptr, 64);
	CU_ASSERT_EQUAL(d1->signals, 1); /* EAGAIN does not signal */
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 3), 32); /* what fits still goes */
	CU_ASSERT_EQUAL(d1->signals, 2);
	/* The owner's notify before consuming: no room, no wake. */
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_TRUE(rcv_check(&t, 48, 1, 2));
	CU_ASSERT_TRUE(rcv_check(&t, 32, 3, 2));
	/* Consumed + notify: the waiter is signalled once, and only once. */
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 1);
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 1);
	CU_ASSERT_EQUAL(d1->signals, 2); /* notify never signals its caller */
	fx_fini();
	tring_close(&t);
}

/* 32 distinct waiters per ring; the 33rd gets EBUSY and is not queued. */
static void test_sendv_ebusy(void)
{
	struct tring t;
	struct dom *d1, *filler;
	argo_domid_t id;

	fx_init(1, NULL);
	d1 = mkdom(1);
	filler = mkdom(2);
	for (id = 10; id < 10 + 33; id++)
		mkdom(id);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(filler, 1, 7000, 32, 1), 32); /* full */
	for (id = 10; id < 10 + 32; id++)
		CU_ASSERT_EQUAL(snd(&D[id], 1, 7000, 0, id), -EAGAIN);
	CU_ASSERT_EQUAL(snd(&D[42], 1, 7000, 0, 42), -EBUSY);
	CU_ASSERT_EQUAL(snd(&D[42], 1, 7000, 16, 42), -EBUSY);
	/* An already-waiting domain is not a new waiter. */
	CU_ASSERT_EQUAL(snd(&D[10], 1, 7000, 16, 10), -EAGAIN);
	CU_ASSERT_EQUAL(total_signals(), 1);

	CU_ASSERT_TRUE(rcv_check(&t, 32, 1, 2));
	sim_notify(F, d1->d, NULL, 0);
	for (id = 10; id < 10 + 32; id++)
		CU_ASSERT_EQUAL(D[id].signals, 1);
	CU_ASSERT_EQUAL(D[42].signals, 0);
	CU_ASSERT_EQUAL(filler->signals, 0);
	CU_ASSERT_EQUAL(stats().signals, 1 + 32);
	/* The queue is empty again: 42 can now wait. */
	CU_ASSERT_EQUAL(snd(filler, 1, 7000, 32, 2), 32);
	CU_ASSERT_EQUAL(snd(&D[42], 1, 7000, 0, 42), -EAGAIN);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_efault(void)
{
	struct xen_argo_send_addr a = saddr(ANY, 1, 1, 7000);
	struct xen_argo_iov iov[3];
	uint8_t mem[256], buf[64];
	struct tring t;
	struct dom *d1, *d2;
	unsigned int i;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	for (i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)i;
	memset(iov, 0, sizeof(iov));

#define SEND(n) sim_sendv(F, d2->d, &a, iov, (n), 0, mem, sizeof(mem))
	iov[0] = (struct xen_argo_iov){.iov_hnd = 250, .iov_len = 8};
	CU_ASSERT_EQUAL(SEND(1), -EFAULT);
	iov[0] = (struct xen_argo_iov){.iov_hnd = 256, .iov_len = 1};
	CU_ASSERT_EQUAL(SEND(1), -EFAULT);
	iov[0] = (struct xen_argo_iov){.iov_hnd = 200, .iov_len = 57};
	CU_ASSERT_EQUAL(SEND(1), -EFAULT);
	/* Too large for the ring is reported before the handle is looked at. */
	iov[0] = (struct xen_argo_iov){.iov_hnd = 0, .iov_len = 257};
	CU_ASSERT_EQUAL(SEND(1), -EMSGSIZE);
	iov[0] = (struct xen_argo_iov){.iov_hnd = 0xFFFFFFFFFFFFFFF0ull, .iov_len = 32};
	CU_ASSERT_EQUAL(SEND(1), -EFAULT);
	/* A good iov first, a bad one after it. */
	iov[0] = (struct xen_argo_iov){.iov_hnd = 0, .iov_len = 4};
	iov[1] = (struct xen_argo_iov){.iov_hnd = 1ull << 40, .iov_len = 4};
	CU_ASSERT_EQUAL(SEND(2), -EFAULT);
	/* Nothing visible, nobody signalled. */
	CU_ASSERT_EQUAL(t.mem->tx_ptr, 0);
	CU_ASSERT_TRUE(ring_empty(&t));
	CU_ASSERT_EQUAL(total_signals(), 0);

	/* The last byte of memory is fine; an empty iov's handle is not looked at. */
	iov[0] = (struct xen_argo_iov){.iov_hnd = 252, .iov_len = 4};
	iov[1] = (struct xen_argo_iov){.iov_hnd = 0xDEADBEEFDEADBEEFull, .iov_len = 0};
	iov[2] = (struct xen_argo_iov){.iov_hnd = 256, .iov_len = 0};
	CU_ASSERT_EQUAL(SEND(3), 4);
	CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, NULL, NULL, buf, sizeof(buf)), 4);
	CU_ASSERT_EQUAL(memcmp(buf, mem + 252, 4), 0);
	/* No memory at all: only empty iovs can be sent. */
	CU_ASSERT_EQUAL(sim_sendv(F, d2->d, &a, iov + 1, 2, 0, NULL, 0), 0);
	iov[0] = (struct xen_argo_iov){.iov_hnd = 0, .iov_len = 1};
	CU_ASSERT_EQUAL(sim_sendv(F, d2->d, &a, iov, 1, 0, NULL, 0), -EFAULT);
	CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, NULL, NULL, buf, sizeof(buf)), 0);
	CU_ASSERT_TRUE(ring_empty(&t));

	/* A full ring answers EAGAIN before the handles are looked at. */
	iov[0] = (struct xen_argo_iov){.iov_hnd = 0, .iov_len = 96};
	CU_ASSERT_EQUAL(SEND(1), 96);
	iov[0] = (struct xen_argo_iov){.iov_hnd = 1ull << 40, .iov_len = 4};
	CU_ASSERT_EQUAL(SEND(1), -EAGAIN);
#undef SEND
	fx_fini();
	tring_close(&t);
}

static void test_sendv_return_and_signals(void)
{
	struct xen_argo_send_addr a = saddr(ANY, 1, 1, 7000);
	struct xen_argo_iov iov[3];
	struct sim_fabric_stats s0, s1;
	uint8_t buf[32];
	struct tring t;
	struct dom *d1, *d2, *d3;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&t, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	memcpy(MEM, "hello", 5);
	memcpy(MEM + 100, " world, argo", 11);
	iov[0] = (struct xen_argo_iov){.iov_hnd = 0, .iov_len = 5};
	iov[1] = (struct xen_argo_iov){.iov_hnd = 50, .iov_len = 0};
	iov[2] = (struct xen_argo_iov){.iov_hnd = 100, .iov_len = 11};
	s0 = stats();
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, iov, 3), 16); /* payload bytes, no header */
	s1 = stats();
	CU_ASSERT_EQUAL(d1->signals, 1);
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_EQUAL(d3->signals, 0);
	CU_ASSERT_EQUAL(s1.sends_ok, s0.sends_ok + 1);
	CU_ASSERT_EQUAL(s1.bytes_sent, s0.bytes_sent + 16);
	CU_ASSERT_EQUAL(s1.signals, s0.signals + 1);
	CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, NULL, NULL, buf, sizeof(buf)), 16);
	CU_ASSERT_EQUAL(memcmp(buf, "hello world, arg", 16), 0);

	/* Failures signal nobody. */
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 4, 1), -ECONNREFUSED);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 4, 1), -ECONNREFUSED);
	CU_ASSERT_EQUAL(snd(d2, 5, 7000, 4, 1), -ESRCH);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 97, 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 96, 1), 96);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 0, 1), -EAGAIN);
	CU_ASSERT_EQUAL(d1->signals, 2);
	CU_ASSERT_EQUAL(total_signals(), 2);
	s0 = stats();
	CU_ASSERT_EQUAL(s0.sends_ok, 2);
	CU_ASSERT_EQUAL(s0.sends_failed, 5);
	CU_ASSERT_EQUAL(s0.bytes_sent, 16 + 96);
	CU_ASSERT_EQUAL(s0.signals, 2);
	fx_fini();
	tring_close(&t);
}

/* Per domid: successful sends only, reports (the relays' reserved type)
 * apart, kept after the domain dies. */
static void test_sendv_domid_stats(void)
{
	struct sim_domid_stats d1s, d2s, d9s;
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 256);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 8, 1), 8);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 8, ARGO_MSGTYPE_UNDELIVERABLE), 8);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 8, 1), -ECONNREFUSED); /* not counted */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 300, 1), -EMSGSIZE);   /* nor this */
	sim_domain_destroy(F, d2->d);
	sim_fabric_domid_stats(F, 1, &d1s);
	sim_fabric_domid_stats(F, 2, &d2s);
	sim_fabric_domid_stats(F, 9, &d9s);
	CU_ASSERT_EQUAL(d1s.received, 2);
	CU_ASSERT_EQUAL(d1s.received_reports, 1);
	CU_ASSERT_EQUAL(d1s.sent, 0);
	CU_ASSERT_EQUAL(d2s.sent, 2);
	CU_ASSERT_EQUAL(d2s.sent_reports, 1);
	CU_ASSERT_EQUAL(d2s.received, 0);
	CU_ASSERT_EQUAL(d9s.sent + d9s.received, 0);
	sim_fabric_domid_stats(F, XEN_ARGO_DOMID_ANY, &d9s);
	CU_ASSERT_EQUAL(d9s.sent + d9s.received, 0);
	fx_fini();
	tring_close(&t);
}

static void test_sendv_to_self(void)
{
	struct tring t, any;
	struct dom *d1;

	fx_init(1, NULL);
	d1 = mkdom(1);
	tring_open(&t, 128);
	tring_open(&any, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 1, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, ANY, &any), 0);
	CU_ASSERT_EQUAL(snd(d1, 1, 7000, 9, 1), 9);
	CU_ASSERT_EQUAL(d1->signals, 1);
	CU_ASSERT_EQUAL(snd(d1, 1, 7001, 10, 2), 10);
	CU_ASSERT_EQUAL(d1->signals, 2);
	CU_ASSERT_TRUE(rcv_check(&t, 9, 1, 1));
	CU_ASSERT_TRUE(rcv_check(&any, 10, 2, 1));
	fx_fini();
	tring_close(&t);
	tring_close(&any);
}

static void test_sendv_policy(void)
{
	static struct sim_policy pol;
	struct xen_argo_iov bad = {.iov_hnd = 0, .iov_len = 4, .pad = 1};
	struct xen_argo_send_addr a;
	const char *why = NULL;
	struct tring t, t2;
	struct dom *d1, *d2, *d3;

	sim_policy_init(&pol, true);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny src 2 dst 1:7000", &why), 0);
	fx_init(1, &pol);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&t, 128);
	tring_open(&t2, 128);
	/* No ring yet: the policy answers before the ring lookup. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), -EACCES);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 4, 1), -ECONNREFUSED);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, ANY, &t2), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), -EACCES);
	/* ... and before the iov checks. */
	a = saddr(ANY, 1, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &bad, 1), -EACCES);
	/* Forged source and missing domain come first. */
	a = saddr(3, 1, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &bad, 1), -EPERM);
	CU_ASSERT_TRUE(ring_empty(&t));
	CU_ASSERT_EQUAL(total_signals(), 0);
	/* Others, and other ports, pass. */
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 4, 2), 4);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 4, 3), 4);
	CU_ASSERT_TRUE(rcv_check(&t, 4, 2, 3));
	CU_ASSERT_TRUE(rcv_check(&t2, 4, 3, 2));
	fx_fini();

	/* "deny src 2": ESRCH for a missing domain still comes first. */
	sim_policy_init(&pol, true);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny src 2", &why), 0);
	fx_init(1, &pol);
	d1 = mkdom(1);
	d2 = mkdom(2);
	CU_ASSERT_EQUAL(snd(d2, 9, 7000, 4, 1), -ESRCH);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), -EACCES);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), -EACCES);
	/* Sending to itself is a send too. */
	CU_ASSERT_EQUAL(reg(d2, 7000, 2, &t2), 0);
	CU_ASSERT_EQUAL(snd(d2, 2, 7000, 4, 1), -EACCES);
	CU_ASSERT_EQUAL(snd(d1, 2, 7000, 4, 1), -ECONNREFUSED);
	fx_fini();

	/* A source port rule matches the sender's src.aport as given. */
	sim_policy_init(&pol, true);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny src 2:5", &why), 0);
	fx_init(1, &pol);
	d1 = mkdom(1);
	d2 = mkdom(2);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	memset(MEM, 0, 4);
	bad.pad = 0;
	a = saddr(ANY, 5, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &bad, 1), -EACCES);
	a = saddr(2, 6, 1, 7000);
	CU_ASSERT_EQUAL(sendv_iovs(d2, &a, &bad, 1), 4);
	fx_fini();

	/* A default-deny policy. */
	sim_policy_init(&pol, false);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "allow src 2 dst 1", &why), 0);
	fx_init(1, &pol);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 4, 1), 4);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 4, 1), -EACCES);
	fx_fini();
	tring_close(&t);
	tring_close(&t2);
}

/* ---------------------------------------------------------------------------
 * Suite: notify.
 */

static void test_notify_args(void)
{
	size_t big =
	    sizeof(struct xen_argo_ring_data) + 257 * sizeof(struct xen_argo_ring_data_ent);
	struct xen_argo_ring_data *rd = calloc(1, big);
	struct dom *d1;
	uint64_t n0;
	uint32_t i;

	CU_ASSERT_FATAL(rd != NULL);
	fx_init(0, NULL);
	d1 = mkdom(1);
	n0 = stats().notifies;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, NULL, 0), 0);
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, NULL, 12345), 0);
	CU_ASSERT_EQUAL(stats().notifies, n0 + 2);

	for (i = 0; i < 257; i++) {
		rd->data[i].ring.domain_id = 9; /* no such domain */
		rd->data[i].flags = 0xFFFF;
		rd->data[i].max_message_size = SENTINEL;
	}
	/* nent > 256: EACCES, checked before the entries' size. */
	rd->nent = 257;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, big), -EACCES);
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, sizeof(*rd)), -EACCES);
	rd->nent = 0xFFFFFFFFu;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, sizeof(*rd)), -EACCES);
	CU_ASSERT_EQUAL(rd->data[0].flags, 0xFFFF);
	/* Too few bytes for the header or the entries: EFAULT, nothing written. */
	rd->nent = 0;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, 4), -EFAULT);
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, 0), -EFAULT);
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, sizeof(*rd)), 0);
	rd->nent = 2;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, sizeof(*rd) + 2 * sizeof(rd->data[0]) - 1),
	                -EFAULT);
	CU_ASSERT_EQUAL(rd->data[0].flags, 0xFFFF);
	rd->nent = 256;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, sizeof(*rd) + 255 * sizeof(rd->data[0])), -EFAULT);
	CU_ASSERT_EQUAL(rd->data[0].flags, 0xFFFF);
	/* 256 entries, exactly enough bytes: all processed, the 257th not. */
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, rd, sizeof(*rd) + 256 * sizeof(rd->data[0])), 0);
	for (i = 0; i < 256; i++) {
		CU_ASSERT_EQUAL(rd->data[i].flags, 0);
		CU_ASSERT_EQUAL(rd->data[i].max_message_size, SENTINEL);
	}
	CU_ASSERT_EQUAL(rd->data[256].flags, 0xFFFF);
	CU_ASSERT_EQUAL(total_signals(), 0);
	fx_fini();
	free(rd);
}

static void test_notify_flags(void)
{
	size_t bytes =
	    sizeof(struct xen_argo_ring_data) + 8 * sizeof(struct xen_argo_ring_data_ent);
	struct xen_argo_ring_data *rd = calloc(1, bytes);
	static const struct {
		argo_domid_t dom;
		uint32_t aport, req;
		uint16_t flags;
		uint32_t max;
	} e[8] = {
	    {1, 7000, 0, EXISTS | SUFFICIENT | EMPTY, 224},
	    {1, 7001, 10, EXISTS | SHARED | SUFFICIENT | EMPTY, 96},
	    {1, 7001, 97, EXISTS | SHARED | EMSGSIZE_F | EMPTY, 96},
	    {1, 7002, 0, 0, SENTINEL}, /* no ring: max echoed */
	    {9, 7000, 0, 0, SENTINEL}, /* no domain */
	    {1, 7000, 224, EXISTS | SUFFICIENT | EMPTY, 224},
	    {1, 7000, 225, EXISTS | EMSGSIZE_F | EMPTY, 224},
	    {1, 7000, 0xFFFFFFFFu, EXISTS | EMSGSIZE_F | EMPTY, 224},
	};
	struct tring a, b;
	struct dom *d1, *d2, *d3;
	uint32_t i, max;

	CU_ASSERT_FATAL(rd != NULL);
	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&a, 256);
	tring_open(&b, 128);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &a), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, ANY, &b), 0);

	rd->nent = 8;
	for (i = 0; i < 8; i++) {
		rd->data[i].ring.aport = e[i].aport;
		rd->data[i].ring.domain_id = e[i].dom;
		rd->data[i].pad = 0x1234; /* not checked, not written */
		rd->data[i].flags = 0xFFFF;
		rd->data[i].space_required = e[i].req;
		rd->data[i].max_message_size = SENTINEL;
	}
	CU_ASSERT_EQUAL(sim_notify(F, d2->d, rd, bytes), 0);
	for (i = 0; i < 8; i++) {
		if (rd->data[i].flags != e[i].flags || rd->data[i].max_message_size != e[i].max)
			fprintf(stderr, "\n    entry %u: flags %#x max %#x\n", i, rd->data[i].flags,
			        rd->data[i].max_message_size);
		CU_ASSERT_EQUAL(rd->data[i].flags, e[i].flags);
		CU_ASSERT_EQUAL(rd->data[i].max_message_size, e[i].max);
		CU_ASSERT_EQUAL(rd->data[i].ring.aport, e[i].aport);
		CU_ASSERT_EQUAL(rd->data[i].ring.domain_id, e[i].dom);
		CU_ASSERT_EQUAL(rd->data[i].pad, 0x1234);
		CU_ASSERT_EQUAL(rd->data[i].space_required, e[i].req);
	}

	/* Not the partner: the partner ring does not exist for 3. */
	CU_ASSERT_EQUAL(notify1(d3, 1, 7000, 0, &max), 0);
	CU_ASSERT_EQUAL(max, SENTINEL);

	/* 64 bytes used of 256: payload space 160. Not EMPTY any more. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 1), 48);
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 0, &max), EXISTS | SUFFICIENT);
	CU_ASSERT_EQUAL(max, 224);
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 160, NULL), EXISTS | SUFFICIENT);
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 161, NULL), EXISTS); /* queued */
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 225, NULL), EXISTS | EMSGSIZE_F);
	/* Emptied again by the reader: EMPTY is back. */
	CU_ASSERT_TRUE(rcv_check(&a, 48, 1, 2));
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 161, NULL), EXISTS | SUFFICIENT | EMPTY);
	/* A garbage rx_ptr is sanitised: 0xFFFFFFF1 -> 0, tx 64: 192 free. */
	a.mem->rx_ptr = 0xFFFFFFF1u;
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 160, NULL), EXISTS | SUFFICIENT);
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 161, NULL), EXISTS);
	/* Unaligned rx is rounded up: 49 -> 64 == tx, so the ring is empty
	 * (raw, it would read as 241 bytes free). */
	a.mem->rx_ptr = 49;
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 224, NULL), EXISTS | SUFFICIENT | EMPTY);
	a.mem->rx_ptr = 33; /* -> 48: 240 free, payload space 208 */
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 208, NULL), EXISTS | SUFFICIENT);
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 209, NULL), EXISTS);
	CU_ASSERT_EQUAL(total_signals(), 1);
	fx_fini();
	tring_close(&a);
	tring_close(&b);
	free(rd);
}

static void test_notify_ebusy(void)
{
	struct tring t;
	struct dom *d1, *filler;
	argo_domid_t id;

	fx_init(1, NULL);
	d1 = mkdom(1);
	filler = mkdom(2);
	for (id = 10; id < 10 + 33; id++)
		mkdom(id);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(filler, 1, 7000, 32, 1), 32);
	/* 32 waiters queued by notify itself. */
	for (id = 10; id < 10 + 32; id++)
		CU_ASSERT_EQUAL(notify1(&D[id], 1, 7000, 16, NULL), EXISTS | SHARED);
	CU_ASSERT_EQUAL(notify1(&D[42], 1, 7000, 16, NULL), EXISTS | SHARED | EBUSY_F);
	CU_ASSERT_EQUAL(snd(&D[42], 1, 7000, 16, 42), -EBUSY);
	/* A queued one asking again is fine. */
	CU_ASSERT_EQUAL(notify1(&D[10], 1, 7000, 32, NULL), EXISTS | SHARED);
	/* SUFFICIENT and EMSGSIZE don't need a slot. */
	CU_ASSERT_EQUAL(notify1(&D[42], 1, 7000, 0, NULL), EXISTS | SHARED | SUFFICIENT);
	CU_ASSERT_EQUAL(notify1(&D[42], 1, 7000, 33, NULL), EXISTS | SHARED | EMSGSIZE_F);
	CU_ASSERT_TRUE(rcv_check(&t, 32, 1, 2));
	sim_notify(F, d1->d, NULL, 0);
	for (id = 10; id < 10 + 32; id++)
		CU_ASSERT_EQUAL(D[id].signals, 1);
	CU_ASSERT_EQUAL(D[42].signals, 0);
	fx_fini();
	tring_close(&t);
}

/* space_required 0: SUFFICIENT, and the caller's wait on that ring is
 * cancelled. */
static void test_notify_cancels_wait(void)
{
	struct tring t;
	struct dom *d1, *d2, *d3;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 16, 2), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 16, 3), -EAGAIN);
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 0, NULL), EXISTS | SHARED | SUFFICIENT);
	CU_ASSERT_TRUE(rcv_check(&t, 32, 1, 3));
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 0); /* cancelled */
	CU_ASSERT_EQUAL(d3->signals, 1); /* still waited */
	fx_fini();
	tring_close(&t);
}

/* A wait's length only grows: the largest of the sendv/notify requests. */
static void test_notify_wait_len_grows(void)
{
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 256);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 1), 48);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 2), 48);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 48, 3), 48);             /* 192 used: 32 payload free */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 40, 4), -EAGAIN);        /* waits for 40 */
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 100, NULL), EXISTS); /* now 100 */
	CU_ASSERT_EQUAL(notify1(d2, 1, 7000, 40, NULL), EXISTS);  /* still 100 */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 33, 5), -EAGAIN);        /* still 100 */
	CU_ASSERT_TRUE(rcv_check(&t, 48, 1, 2));
	sim_notify(F, d1->d, NULL, 0); /* 96 free: not enough for 100 */
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_TRUE(rcv_check(&t, 48, 2, 2));
	sim_notify(F, d1->d, NULL, 0); /* 160 free */
	CU_ASSERT_EQUAL(d2->signals, 1);
	fx_fini();
	tring_close(&t);
}

/* The owner's notify wakes every waiter whose length now fits, only those,
 * each once; nobody else's notify wakes them. */
static void test_notify_wakes_fitting_waiters(void)
{
	struct tring t;
	struct dom *d1, *d2, *d3, *d4, *d5;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	d4 = mkdom(4);
	d5 = mkdom(5);
	tring_open(&t, 256);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(d5, 1, 7000, 48, 1), 48);
	CU_ASSERT_EQUAL(snd(d5, 1, 7000, 48, 2), 48);
	CU_ASSERT_EQUAL(snd(d5, 1, 7000, 48, 3), 48); /* payload space 32 */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 40, 4), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 100, 5), -EAGAIN);
	CU_ASSERT_EQUAL(notify1(d4, 1, 7000, 200, NULL), EXISTS | SHARED);
	CU_ASSERT_EQUAL(d1->signals, 3);

	/* Someone else's notify does not wake waiters on d1's ring. */
	CU_ASSERT_TRUE(rcv_check(&t, 48, 1, 5));
	sim_notify(F, d3->d, NULL, 0);
	sim_notify(F, d5->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals + d3->signals + d4->signals, 0);

	sim_notify(F, d1->d, NULL, 0); /* 96 free */
	CU_ASSERT_EQUAL(d2->signals, 1);
	CU_ASSERT_EQUAL(d3->signals, 0);
	CU_ASSERT_EQUAL(d4->signals, 0);
	CU_ASSERT_TRUE(rcv_check(&t, 48, 2, 5));
	sim_notify(F, d1->d, NULL, 0); /* 160 free */
	CU_ASSERT_EQUAL(d2->signals, 1);
	CU_ASSERT_EQUAL(d3->signals, 1);
	CU_ASSERT_EQUAL(d4->signals, 0);
	CU_ASSERT_TRUE(rcv_check(&t, 48, 3, 5));
	/* Empty, while d4 still waits (until the owner's notify). */
	CU_ASSERT_EQUAL(notify1(d5, 1, 7000, 0, NULL), EXISTS | SHARED | SUFFICIENT | EMPTY);
	CU_ASSERT_EQUAL(d4->signals, 0);
	sim_notify(F, d1->d, NULL, 0); /* 224 free */
	CU_ASSERT_EQUAL(d2->signals, 1);
	CU_ASSERT_EQUAL(d3->signals, 1);
	CU_ASSERT_EQUAL(d4->signals, 1);
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals + d3->signals + d4->signals, 3);
	CU_ASSERT_EQUAL(d5->signals, 0);
	CU_ASSERT_EQUAL(d1->signals, 3);
	CU_ASSERT_EQUAL(stats().signals, 6);
	fx_fini();
	tring_close(&t);
}

/* The wake pass runs only when there is payload space at all: a waiter
 * for 0 bytes is not woken by a ring with no payload space. */
static void test_notify_zero_len_waiter(void)
{
	struct tring t;
	struct dom *d1, *d2, *d3;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(snd(d3, 1, 7000, 32, 1), 32); /* 16 free: payload space 0 */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 0, 2), -EAGAIN);
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_TRUE(rcv_check(&t, 32, 1, 3));
	sim_notify(F, d1->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 1);
	fx_fini();
	tring_close(&t);
}

/* The owner's wake pass runs first, even when notify then fails on its
 * arguments (argo.c:1921 comes before every argument check). */
static void test_notify_wakes_before_arg_checks(void)
{
	struct xen_argo_ring_data rd = {.nent = 257, .pad = 0};
	struct tring t;
	struct dom *d1, *d2;

	fx_init(0, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 1, 2), -EAGAIN);
	CU_ASSERT_TRUE(rcv_check(&t, 32, 1, 2));
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, &rd, sizeof(rd)), -EACCES);
	CU_ASSERT_EQUAL(d2->signals, 1);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 3), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 1, 4), -EAGAIN);
	CU_ASSERT_TRUE(rcv_check(&t, 32, 3, 2));
	rd.nent = 1;
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, &rd, sizeof(rd)), -EFAULT);
	CU_ASSERT_EQUAL(d2->signals, 2);
	CU_ASSERT_EQUAL(d1->signals, 2);
	fx_fini();
	tring_close(&t);
}

/* ---------------------------------------------------------------------------
 * Suite: teardown.
 */

static void test_teardown(void)
{
	struct tring r1, r1any, r1c, r2, r2self, r2any, r3, r3any;
	struct sim_fabric_stats s;
	struct dom *d1, *d2, *d3;
	unsigned int sig;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&r1, 64);
	tring_open(&r1any, 64);
	tring_open(&r1c, 64);
	tring_open(&r2, 64);
	tring_open(&r2self, 64);
	tring_open(&r2any, 64);
	tring_open(&r3, 64);
	tring_open(&r3any, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &r1), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, ANY, &r1any), 0);
	CU_ASSERT_EQUAL(reg(d1, 7002, 3, &r1c), 0);
	CU_ASSERT_EQUAL(reg(d2, 7000, 3, &r2), 0);
	CU_ASSERT_EQUAL(reg(d2, 7001, 2, &r2self), 0);
	CU_ASSERT_EQUAL(reg(d2, 7002, ANY, &r2any), 0);
	CU_ASSERT_EQUAL(reg(d3, 7000, 2, &r3), 0);
	CU_ASSERT_EQUAL(reg(d3, 7001, ANY, &r3any), 0);
	CU_ASSERT_EQUAL(stats().rings, 8);

	/* d2 waits on d1's and d3's wildcard rings and on d3's ring for it;
	 * d1 and d3 wait on d2's rings. */
	CU_ASSERT_EQUAL(snd(d3, 1, 7001, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 8, 2), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d1, 3, 7001, 32, 3), 32);
	CU_ASSERT_EQUAL(snd(d2, 3, 7001, 8, 4), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d2, 3, 7000, 32, 5), 32);
	CU_ASSERT_EQUAL(snd(d2, 3, 7000, 8, 6), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d1, 2, 7002, 32, 7), 32);
	CU_ASSERT_EQUAL(snd(d1, 2, 7002, 8, 8), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d3, 2, 7000, 32, 9), 32);
	CU_ASSERT_EQUAL(snd(d3, 2, 7000, 8, 10), -EAGAIN);
	/* Signals so far to everyone but d2 (whose struct is reused below). */
	sig = total_signals() - d2->signals;

	s = stats();
	sim_domain_destroy(F, d2->d);
	d2->d = NULL;
	/* Nobody is signalled. */
	CU_ASSERT_EQUAL(total_signals() - d2->signals, sig);
	CU_ASSERT_EQUAL(d2->signals, 2);
	CU_ASSERT_EQUAL(stats().signals, s.signals);
	/* Its 3 rings and the 2 whose single partner it was are gone. */
	CU_ASSERT_EQUAL(stats().rings, s.rings - 5);
	CU_ASSERT_EQUAL(stats().domains, s.domains - 1);
	CU_ASSERT_FALSE(sim_domain_exists(F, 2));
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d3, 7000, 2), -ENOENT);
	/* Sends to it, and rings for it, find no domain. */
	CU_ASSERT_EQUAL(snd(d1, 2, 7000, 1, 11), -ESRCH);
	CU_ASSERT_EQUAL(reg(d1, 7000, 2, &r1), -ESRCH);
	/* Wildcard rings, and partner rings of others, stay. */
	CU_ASSERT_EQUAL(notify1(d3, 1, 7001, 0, NULL), EXISTS | SHARED | SUFFICIENT);
	CU_ASSERT_EQUAL(notify1(d1, 3, 7001, 0, NULL), EXISTS | SHARED | SUFFICIENT);
	CU_ASSERT_EQUAL(notify1(d3, 1, 7002, 0, NULL), EXISTS | SUFFICIENT | EMPTY);

	/* Its waits went with it: a new domain 2 is not woken for them. */
	d2 = mkdom(2);
	CU_ASSERT_TRUE(rcv_check(&r1any, 32, 1, 3));
	CU_ASSERT_TRUE(rcv_check(&r3any, 32, 3, 1));
	sim_notify(F, d1->d, NULL, 0);
	sim_notify(F, d3->d, NULL, 0);
	CU_ASSERT_EQUAL(d2->signals, 0);
	CU_ASSERT_EQUAL(total_signals(), sig);
	/* The rings left work. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 5, 12), 5);
	CU_ASSERT_TRUE(rcv_check(&r1any, 5, 12, 2));
	CU_ASSERT_EQUAL(snd(d3, 1, 7002, 5, 13), 5);
	CU_ASSERT_TRUE(rcv_check(&r1c, 5, 13, 3));
	CU_ASSERT_EQUAL(unreg(d1, 7001, ANY), 0);
	CU_ASSERT_EQUAL(unreg(d1, 7002, 3), 0);
	CU_ASSERT_EQUAL(unreg(d3, 7001, ANY), 0);
	s = stats();
	CU_ASSERT_EQUAL(s.rings, 0);
	CU_ASSERT_EQUAL(s.domains, 3);
	CU_ASSERT_EQUAL(s.sends_ok, 5 + 2);
	CU_ASSERT_EQUAL(s.sends_failed, 5 + 1);
	CU_ASSERT_EQUAL(s.bytes_sent, 5 * 32 + 10);
	CU_ASSERT_EQUAL(s.signals, (uint64_t)sig + 2 + 2);
	fx_fini();
	tring_close(&r1);
	tring_close(&r1any);
	tring_close(&r1c);
	tring_close(&r2);
	tring_close(&r2self);
	tring_close(&r2any);
	tring_close(&r3);
	tring_close(&r3any);
}

/* Freeing the fabric with domains and rings left tears them down. */
static void test_fabric_free_with_rings(void)
{
	struct tring t;
	struct dom *d1, *d2;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&t, 64);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(reg(d2, 7000, 1, &t), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 2), -EAGAIN);
	CU_ASSERT_EQUAL(total_signals(), 1);
	fx_fini();
	CU_ASSERT_EQUAL(D[1].signals + D[2].signals, 1);
	tring_close(&t);
}

/* ---------------------------------------------------------------------------
 * Suite: durable rings and tagged sends (libargo's extension for relays).
 */

/* Open fds of this process: a persistent ring keeps a dup of its memfd. */
static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CU_ASSERT_FATAL(dir != NULL);
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own fd */
}

static int reg_persist(struct dom *d, uint32_t aport, argo_domid_t partner, const struct tring *t)
{
	struct xen_argo_register_ring r = {
	    .aport = aport, .partner_id = partner, .pad = 0, .len = t->len};

	return sim_register_ring_ext(F, d->d, &r, argo_ring_npages(t->len), 0, SIM_REG_PERSIST,
	                             t->fd);
}

/* A static domain: one that may hold persistent rings. */
static struct dom *mkdom_static(argo_domid_t id)
{
	struct dom *d = mkdom(id);

	sim_domain_allow_persist(d->d, 1);
	return d;
}

/* Adopts the next ring: true if it is (aport, partner) of t's memory. */
static bool adopt_check(struct dom *d, uint32_t aport, argo_domid_t partner, const struct tring *t)
{
	struct sim_adopted a = {.fd = -1};
	struct stat st1, st2;
	int ret = sim_adopt_ring(F, d->d, &a);
	bool ok;

	if (ret != 0) {
		fprintf(stderr, "\n    adopt: %d, want ring %u\n", ret, aport);
		return false;
	}
	ok = a.aport == aport && a.partner == partner && a.len == t->len &&
	     a.npages == argo_ring_npages(t->len) && fstat(a.fd, &st1) == 0 &&
	     fstat(t->fd, &st2) == 0 && st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev &&
	     a.fd != t->fd;
	if (!ok)
		fprintf(stderr, "\n    adopt: got ring %u partner %u len %u, want %u %u %u\n",
		        a.aport, a.partner, a.len, aport, partner, t->len);
	close(a.fd);
	return ok;
}

/* The extension's register checks come before Xen's, which are unchanged. */
static void test_durable_register_checks(void)
{
	struct xen_argo_register_ring r = {.aport = 7000, .partner_id = 2, .pad = 0, .len = 64};
	struct sim_adopted a;
	struct dom *d1, *d2;
	struct tring t;
	int fds;

	fx_init(0, NULL);
	d1 = mkdom_static(1);
	d2 = mkdom(2); /* dynamic: no persistent rings */
	tring_open(&t, 64);
	fds = count_fds();

	/* Unknown lib_flags bits, before anything else. */
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0, 0x2, t.fd), -EINVAL);
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0, 0x80000001u, t.fd), -EINVAL);
	r.partner_id = 1;
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d2->d, &r, 1, 0, SIM_REG_PERSIST, t.fd),
	                -EOPNOTSUPP);
	/* ... even where Xen's checks would refuse too. */
	r.len = 65;
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d2->d, &r, 1, 0, SIM_REG_PERSIST, t.fd),
	                -EOPNOTSUPP);
	r.len = 64;
	r.partner_id = 2;
	/* Xen's flags are checked as before. */
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0x2, SIM_REG_PERSIST, t.fd),
	                -EINVAL);
	r.len = 65;
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0, SIM_REG_PERSIST, t.fd), -EINVAL);
	r.len = 64;
	r.partner_id = 9;
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0, SIM_REG_PERSIST, t.fd), -ESRCH);
	r.partner_id = 2;
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0, SIM_REG_PERSIST, -1), -EINVAL);
	CU_ASSERT_EQUAL(stats().rings, 0);
	CU_ASSERT_EQUAL(count_fds(), fds);

	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d1->d, &r, 1, 0, SIM_REG_PERSIST, t.fd), 0);
	CU_ASSERT_EQUAL(count_fds(), fds + 1);
	CU_ASSERT_EQUAL(
	    sim_register_ring_ext(F, d1->d, &r, 1, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, 1, t.fd),
	    -EEXIST);
	CU_ASSERT_EQUAL(count_fds(), fds + 1);
	/* A ring the process registered is held: nothing to adopt. */
	CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &a), -ENOENT);
	CU_ASSERT_EQUAL(sim_adopt_ring(F, d2->d, &a), -EOPNOTSUPP);
	/* A dynamic domain still registers ordinary rings. */
	r.partner_id = 1;
	CU_ASSERT_EQUAL(sim_register_ring_ext(F, d2->d, &r, 1, 0, 0, t.fd), 0);
	CU_ASSERT_EQUAL(count_fds(), fds + 1);
	/* Without persistent rings a domain does not detach. */
	CU_ASSERT_EQUAL(sim_domain_detach(F, d2->d), -ENOENT);
	CU_ASSERT_FALSE(sim_domain_is_detached(d2->d));
	CU_ASSERT_EQUAL(stats().rings, 2);
	CU_ASSERT_EQUAL(stats().detached, 0);
	/* Unregister removes a persistent ring for good, and its fd. */
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), 0);
	CU_ASSERT_EQUAL(count_fds(), fds);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), -ENOENT);
	fx_fini();
	tring_close(&t);
}

/*
 * Detach: persistent rings stay registered and take messages (and queue
 * waiters), the others go; the domain's own waits go; rings of others for
 * it stay; its signals are deferred. Attach and adopt give the rings back
 * with every message, and the waiters are woken by the new process.
 */
static void test_durable_detach_attach(void)
{
	struct tring p, q, w, r2, r3any;
	struct sim_fabric_stats s;
	struct dom *d1, *d2, *d3;
	unsigned int sig2, sig3;
	uint64_t deferred;

	fx_init(1, NULL);
	d1 = mkdom_static(1);
	d2 = mkdom(2);
	d3 = mkdom(3);
	tring_open(&p, 256);
	tring_open(&q, 64);
	tring_open(&w, 64);
	tring_open(&r2, 64);
	tring_open(&r3any, 64);
	CU_ASSERT_EQUAL(reg_persist(d1, 7000, 2, &p), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, 2, &q), 0);
	CU_ASSERT_EQUAL(reg_persist(d1, 7002, ANY, &w), 0);
	CU_ASSERT_EQUAL(reg(d2, 7000, 1, &r2), 0);
	CU_ASSERT_EQUAL(reg(d3, 7001, ANY, &r3any), 0);

	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 1), 32);
	/* d1 waits on d2's ring for it, on d3's wildcard ring, on its own W;
	 * d3 waits on W too. */
	CU_ASSERT_EQUAL(snd(d1, 2, 7000, 32, 2), 32);
	CU_ASSERT_EQUAL(snd(d1, 2, 7000, 8, 3), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d2, 3, 7001, 32, 4), 32);
	CU_ASSERT_EQUAL(snd(d1, 3, 7001, 8, 5), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d1, 1, 7002, 32, 6), 32);
	CU_ASSERT_EQUAL(snd(d1, 1, 7002, 8, 7), -EAGAIN);
	CU_ASSERT_EQUAL(snd(d3, 1, 7002, 8, 8), -EAGAIN);

	s = stats();
	CU_ASSERT_EQUAL(d1->signals, 2);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	CU_ASSERT_TRUE(sim_domain_is_detached(d1->d));
	/* The domain lives on with its persistent rings only. */
	CU_ASSERT_TRUE(sim_domain_exists(F, 1));
	CU_ASSERT_EQUAL(stats().domains, s.domains);
	CU_ASSERT_EQUAL(stats().detached, 1);
	CU_ASSERT_EQUAL(stats().rings, s.rings - 1);
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 1, 9), -ECONNREFUSED);
	/* Its partner ring at d2 stays; a new ring for it can be made. */
	CU_ASSERT_EQUAL(reg(d3, 7005, 1, &q), 0);
	/* Nobody was signalled. */
	CU_ASSERT_EQUAL(stats().signals, s.signals);

	/* Its waits went: draining d2's and d3's rings wakes nobody. */
	deferred = stats().signals_deferred;
	CU_ASSERT_TRUE(rcv_check(&r2, 32, 2, 1));
	CU_ASSERT_TRUE(rcv_check(&r3any, 32, 4, 2));
	CU_ASSERT_EQUAL(sim_notify(F, d2->d, NULL, 0), 0);
	CU_ASSERT_EQUAL(sim_notify(F, d3->d, NULL, 0), 0);
	CU_ASSERT_EQUAL(stats().signals_deferred, deferred);
	CU_ASSERT_EQUAL(stats().signals, s.signals);

	/* Sends into the persistent ring go on; the signal is deferred, the
	 * ctx (gone with the process) is not called. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 10), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 11), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 100, 12), -EAGAIN); /* d2 waits */
	CU_ASSERT_EQUAL(stats().signals_deferred, deferred + 2);
	CU_ASSERT_EQUAL(d1->signals, 2);
	CU_ASSERT_EQUAL(stats().signals, s.signals);
	/* Notify from others sees the ring (and d3 still waits for 8 bytes). */
	CU_ASSERT_EQUAL(notify1(d3, 1, 7002, 8, NULL), EXISTS | SHARED);

	/* A new process: one signal at once; both rings to adopt, oldest first. */
	sig2 = d2->signals;
	sig3 = d3->signals;
	d1->signals = 0;
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_FALSE(sim_domain_is_detached(d1->d));
	CU_ASSERT_EQUAL(stats().detached, 0);
	CU_ASSERT_EQUAL(d1->signals, 1);
	CU_ASSERT_TRUE(adopt_check(d1, 7000, 2, &p));
	CU_ASSERT_TRUE(adopt_check(d1, 7002, ANY, &w));
	{
		struct sim_adopted a;

		CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &a), -ENOENT);
		CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &a), -ENOENT);
	}
	/* Every message is there, the one from before the detach first. */
	CU_ASSERT_TRUE(rcv_check(&p, 32, 1, 2));
	CU_ASSERT_TRUE(rcv_check(&p, 32, 10, 2));
	CU_ASSERT_TRUE(rcv_check(&p, 32, 11, 2));
	CU_ASSERT_TRUE(ring_empty(&p));
	CU_ASSERT_TRUE(rcv_check(&w, 32, 6, 1));
	CU_ASSERT_TRUE(ring_empty(&w));
	/* The new process's notify wakes d2 and d3, not its own dropped wait. */
	CU_ASSERT_EQUAL(sim_notify(F, d1->d, NULL, 0), 0);
	CU_ASSERT_EQUAL(d2->signals, sig2 + 1);
	CU_ASSERT_EQUAL(d3->signals, sig3 + 1);
	CU_ASSERT_EQUAL(d1->signals, 1);
	/* And it works as before: signals reach the new ctx. */
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 100, 12), 100);
	CU_ASSERT_EQUAL(d1->signals, 2);
	CU_ASSERT_TRUE(rcv_check(&p, 100, 12, 2));
	CU_ASSERT_EQUAL(snd(d1, 2, 7000, 8, 13), 8);
	CU_ASSERT_TRUE(rcv_check(&r2, 8, 13, 1));
	CU_ASSERT_EQUAL(unreg(d2, 7000, 1), 0);
	CU_ASSERT_EQUAL(unreg(d3, 7005, 1), 0);
	fx_fini();
	tring_close(&p);
	tring_close(&q);
	tring_close(&w);
	tring_close(&r2);
	tring_close(&r3any);
}

/* Adopt order, re-attach, rings registered by the process, unregister and
 * re-register changing persistence. */
static void test_durable_adopt_order(void)
{
	struct tring a, b, c, d, e;
	struct sim_adopted x;
	struct dom *d1;
	int fds;

	fx_init(1, NULL);
	d1 = mkdom_static(1);
	tring_open(&a, 64);
	tring_open(&b, 64);
	tring_open(&c, 128);
	tring_open(&d, 64);
	tring_open(&e, 64);
	fds = count_fds();
	CU_ASSERT_EQUAL(reg_persist(d1, 1, ANY, &a), 0);
	CU_ASSERT_EQUAL(reg_persist(d1, 2, ANY, &b), 0);
	CU_ASSERT_EQUAL(reg_persist(d1, 3, 1, &c), 0);
	CU_ASSERT_EQUAL(reg(d1, 4, ANY, &e), 0);
	/* Same-size re-register: the ring keeps its place, the new memory. */
	CU_ASSERT_EQUAL(reg_persist(d1, 2, ANY, &d), 0);
	CU_ASSERT_EQUAL(count_fds(), fds + 3);

	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_TRUE(adopt_check(d1, 1, ANY, &a));
	/* Registered after the attach: held, not offered. */
	CU_ASSERT_EQUAL(reg_persist(d1, 5, ANY, &e), 0);
	CU_ASSERT_TRUE(adopt_check(d1, 2, ANY, &d));
	CU_ASSERT_TRUE(adopt_check(d1, 3, 1, &c));
	CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &x), -ENOENT);
	CU_ASSERT_EQUAL(count_fds(), fds + 4);

	/* The second process adopted only some; the third gets all again. */
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_TRUE(adopt_check(d1, 1, ANY, &a));
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_TRUE(adopt_check(d1, 1, ANY, &a));
	/* Unregistered: gone for good, its fd closed. */
	CU_ASSERT_EQUAL(unreg(d1, 2, ANY), 0);
	CU_ASSERT_EQUAL(count_fds(), fds + 3);
	/* Re-registered without persistence: ordinary now, its fd closed. */
	CU_ASSERT_EQUAL(reg(d1, 3, 1, &c), 0);
	CU_ASSERT_EQUAL(count_fds(), fds + 2);
	CU_ASSERT_TRUE(adopt_check(d1, 5, ANY, &e));
	CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &x), -ENOENT);
	CU_ASSERT_EQUAL(stats().rings, 3);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	CU_ASSERT_EQUAL(stats().rings, 2);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_TRUE(adopt_check(d1, 1, ANY, &a));
	CU_ASSERT_TRUE(adopt_check(d1, 5, ANY, &e));
	CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &x), -ENOENT);
	fx_fini();
	CU_ASSERT_EQUAL(count_fds(), fds);
	tring_close(&a);
	tring_close(&b);
	tring_close(&c);
	tring_close(&d);
	tring_close(&e);
}

static int64_t snd_tagged(struct dom *from, argo_domid_t dst, uint32_t dport, uint32_t n,
                          uint64_t tag)
{
	struct xen_argo_send_addr a = saddr(ANY, 1000 + from->id, dst, dport);
	struct xen_argo_iov iov = {.iov_hnd = 0, .iov_len = n, .pad = 0};

	return sim_sendv_tagged(F, from->d, &a, &iov, 1, 0, MEM, sizeof(MEM), tag);
}

/* The last send tag: set by successful tagged sends only, kept across a
 * detach, per domain. */
static void test_durable_last_tag(void)
{
	struct tring t, u;
	struct dom *d1, *d2;

	fx_init(1, NULL);
	d1 = mkdom_static(1);
	d2 = mkdom(2);
	tring_open(&t, 64);
	tring_open(&u, 64);
	CU_ASSERT_EQUAL(reg(d2, 7000, ANY, &t), 0);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), 0);
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 16, 0x1111), 16);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), 0x1111);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d2->d), 0);
	/* Failures leave it: no ring, no domain, full, bad handle, forged. */
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7001, 16, 0x2222), -ECONNREFUSED);
	CU_ASSERT_EQUAL(snd_tagged(d1, 9, 7000, 16, 0x2222), -ESRCH);
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 16, 0x2222), -EAGAIN);
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 200, 0x2222), -EMSGSIZE);
	{
		struct xen_argo_send_addr a = saddr(2, 1, 2, 7000);
		struct xen_argo_iov iov = {.iov_hnd = sizeof(MEM), .iov_len = 1, .pad = 0};

		CU_ASSERT_EQUAL(
		    sim_sendv_tagged(F, d1->d, &a, &iov, 1, 0, MEM, sizeof(MEM), 0x2222), -EPERM);
		CU_ASSERT_EQUAL(
		    sim_sendv_tagged(F, d1->d, &a, &iov, 9, 0, MEM, sizeof(MEM), 0x2222), -EINVAL);
		/* Room for the next one, which then faults. */
		CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, NULL, NULL, MEM, sizeof(MEM)), 16);
		a = saddr(ANY, 1, 2, 7000);
		CU_ASSERT_EQUAL(
		    sim_sendv_tagged(F, d1->d, &a, &iov, 1, 0, MEM, sizeof(MEM), 0x2222), -EFAULT);
	}
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), 0x1111);
	/* Tag 0 is an ordinary send: the tag stays. */
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 16, 0), 16);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), 0x1111);
	CU_ASSERT_EQUAL(argo_ring_recv(t.mem, t.len, NULL, NULL, MEM, sizeof(MEM)), 16);
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), UINT64_MAX);
	/* Kept while detached and after the attach. */
	CU_ASSERT_EQUAL(reg_persist(d1, 1, ANY, &u), 0);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), UINT64_MAX);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), UINT64_MAX);
	fx_fini();
	tring_close(&t);
	tring_close(&u);
}

/*
 * A detached domain that is destroyed (or left to sim_fabric_free) goes
 * entirely: its persistent rings, their kept fds and waiters, and now the
 * rings of others whose single partner it was. Under ASan a leak fails.
 */
/* A kept domain (a leaf endpoint's, held by a relay) detaches with no
 * persistent ring: its send tag stays, and so do others' rings for it;
 * unkept, it dies with its process again. */
static void test_durable_kept_domain(void)
{
	struct tring r2;
	struct dom *d1, *d2;

	fx_init(1, NULL);
	d1 = mkdom_static(1);
	d2 = mkdom(2);
	tring_open(&r2, 256);
	CU_ASSERT_EQUAL(sim_domain_keep(d2->d, 1), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(sim_domain_keep(d1->d, 1), 0);
	CU_ASSERT_EQUAL(reg(d2, 7000, 1, &r2), 0);
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 16, 0x77), 16);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	CU_ASSERT_TRUE(sim_domain_is_detached(d1->d));
	CU_ASSERT_EQUAL(stats().detached, 1);
	CU_ASSERT_EQUAL(sim_domain_last_tag(d1->d), 0x77);
	/* Its partner's ring stays: the domain did not die. */
	CU_ASSERT_EQUAL(stats().rings, 1);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_FALSE(sim_domain_is_detached(d1->d));
	CU_ASSERT_EQUAL(snd_tagged(d1, 2, 7000, 16, 0x78), 16);
	/* Still kept after the attach; unkept, it does not detach. */
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_EQUAL(sim_domain_keep(d1->d, 0), 0);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), -ENOENT);
	sim_domain_destroy(F, d1->d);
	d1->d = NULL;
	CU_ASSERT_EQUAL(stats().rings, 0); /* the partner's ring went with it */
	fx_fini();
	tring_close(&r2);
}

static void test_durable_destroy_detached(void)
{
	struct tring p, w, r2;
	struct sim_fabric_stats s;
	struct dom *d1, *d2, *d4;
	int fds;

	fx_init(1, NULL);
	d1 = mkdom_static(1);
	d2 = mkdom(2);
	tring_open(&p, 64);
	tring_open(&w, 64);
	tring_open(&r2, 64);
	fds = count_fds();
	CU_ASSERT_EQUAL(reg_persist(d1, 7000, 2, &p), 0);
	CU_ASSERT_EQUAL(reg_persist(d1, 7001, ANY, &w), 0);
	CU_ASSERT_EQUAL(reg(d2, 7000, 1, &r2), 0);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 1), 32);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 32, 2), -EAGAIN); /* a waiter to free */
	CU_ASSERT_EQUAL(count_fds(), fds + 2);
	s = stats();
	sim_domain_destroy(F, d1->d);
	d1->d = NULL;
	CU_ASSERT_FALSE(sim_domain_exists(F, 1));
	CU_ASSERT_EQUAL(count_fds(), fds);
	CU_ASSERT_EQUAL(stats().rings, s.rings - 3);
	CU_ASSERT_EQUAL(stats().domains, s.domains - 1);
	CU_ASSERT_EQUAL(stats().detached, 0);
	CU_ASSERT_EQUAL(unreg(d2, 7000, 1), -ENOENT);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 1, 3), -ESRCH);

	/* A persistent ring is unregistered when its single partner dies,
	 * detached or not, as Xen does; but its memory stays (a guest's pages
	 * outlive the registration), offered by adopt after the registered
	 * ones. Unregistering it by name then says ENOENT, as Xen, and lets
	 * the memory go. */
	d1 = mkdom_static(1);
	CU_ASSERT_EQUAL(reg_persist(d1, 7000, 2, &p), 0);
	CU_ASSERT_EQUAL(reg_persist(d1, 7001, ANY, &w), 0);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	s = stats();
	sim_domain_destroy(F, d2->d);
	d2->d = NULL;
	CU_ASSERT_EQUAL(count_fds(), fds + 2);
	CU_ASSERT_EQUAL(stats().rings, s.rings - 1);
	CU_ASSERT_EQUAL(stats().rings_vanished, s.rings_vanished + 1);
	sim_domain_attach(F, d1->d, d1);
	CU_ASSERT_TRUE(adopt_check(d1, 7001, ANY, &w));
	CU_ASSERT_TRUE(adopt_check(d1, 7000, 2, &p));
	CU_ASSERT_EQUAL(sim_adopt_ring(F, d1->d, &(struct sim_adopted){.fd = -1}), -ENOENT);
	CU_ASSERT_EQUAL(unreg(d1, 7000, 2), -ENOENT);
	CU_ASSERT_EQUAL(count_fds(), fds + 1);

	/* The fabric freed with a detached domain in it frees it too. */
	d4 = mkdom(4);
	CU_ASSERT_EQUAL(reg(d4, 7000, 1, &r2), 0);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	CU_ASSERT_EQUAL(snd(d4, 1, 7001, 32, 4), 32);
	CU_ASSERT_EQUAL(snd(d4, 1, 7001, 32, 5), -EAGAIN);
	fx_fini();
	CU_ASSERT_EQUAL(count_fds(), fds);
	tring_close(&p);
	tring_close(&w);
	tring_close(&r2);
}

/*
 * A ring whose partner died and came back with the same domid (a static
 * domain's service restarted): the owner's ring is unregistered, so the new
 * domain's sends are refused, until the owner registers the same memory
 * again (argo_ring_reregister(): FAIL_EXIST on the same fd). Then the ring
 * goes on where it was: what was in it is still there, before what comes
 * next. FAIL_EXIST on a ring that is there changes nothing.
 */
static int rereg(struct dom *d, uint32_t aport, argo_domid_t partner, const struct tring *t,
                 bool persistent)
{
	struct xen_argo_register_ring r = {
	    .aport = aport, .partner_id = partner, .pad = 0, .len = t->len};

	return sim_register_ring_ext(F, d->d, &r, argo_ring_npages(t->len),
	                             XEN_ARGO_REGISTER_FLAG_FAIL_EXIST,
	                             persistent ? SIM_REG_PERSIST : 0, t->fd);
}

static void test_durable_vanish_reregister(void)
{
	struct tring p, q;
	struct dom *d1, *d2;
	int i;

	for (i = 0; i < 2; i++) {
		bool persistent = i == 1;

		fx_init(1, NULL);
		d1 = mkdom_static(1);
		d2 = mkdom(2);
		tring_open(&p, 256);
		CU_ASSERT_EQUAL(persistent ? reg_persist(d1, 7000, 2, &p) : reg(d1, 7000, 2, &p), 0);
		CU_ASSERT_EQUAL(rereg(d1, 7000, 2, &p, persistent),
		                -EEXIST);
		CU_ASSERT_EQUAL(snd(d2, 1, 7000, 24, 1), 24);
		sim_domain_destroy(F, d2->d);
		d2 = mkdom(2);
		CU_ASSERT_EQUAL(snd(d2, 1, 7000, 24, 2), -ECONNREFUSED);
		/* The owner's memory still holds the message sent before. */
		CU_ASSERT_EQUAL(argo_ring_used(p.mem, p.len), 48u);
		CU_ASSERT_EQUAL(rereg(d1, 7000, 2, &p, persistent),
		                0);
		CU_ASSERT_EQUAL(snd(d2, 1, 7000, 24, 3), 24);
		CU_ASSERT_TRUE(rcv_check(&p, 24, 1, 2));
		CU_ASSERT_TRUE(rcv_check(&p, 24, 3, 2));
		CU_ASSERT_TRUE(ring_empty(&p));
		/* With the partner gone for good, the probe says so. */
		sim_domain_destroy(F, d2->d);
		d2->d = NULL;
		CU_ASSERT_EQUAL(rereg(d1, 7000, 2, &p, persistent),
		                -ESRCH);
		fx_fini();
		tring_close(&p);
	}

	/* Detached: the memory of a persistent ring whose partner died is
	 * adopted, messages and all, and registered again once the partner
	 * is back. */
	fx_init(1, NULL);
	d1 = mkdom_static(1);
	d2 = mkdom(2);
	tring_open(&p, 256);
	CU_ASSERT_EQUAL(reg_persist(d1, 7000, 2, &p), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 24, 4), 24);
	CU_ASSERT_EQUAL(sim_domain_detach(F, d1->d), 0);
	tring_close(&p);
	sim_domain_destroy(F, d2->d);
	d2 = mkdom(2);
	sim_domain_attach(F, d1->d, d1);
	{
		struct sim_adopted a = {.fd = -1};

		CU_ASSERT_EQUAL_FATAL(sim_adopt_ring(F, d1->d, &a), 0);
		CU_ASSERT_EQUAL(a.aport, 7000u);
		q.len = 256;
		q.fd = a.fd;
		q.mem = mmap(NULL, (size_t)a.npages * XEN_ARGO_PAGE_SIZE, PROT_READ | PROT_WRITE,
		             MAP_SHARED, a.fd, 0);
		CU_ASSERT_FATAL(q.mem != MAP_FAILED);
		q.size = (size_t)a.npages * XEN_ARGO_PAGE_SIZE;
	}
	CU_ASSERT_EQUAL(rereg(d1, 7000, 2, &q, true), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 24, 5), 24);
	CU_ASSERT_TRUE(rcv_check(&q, 24, 4, 2));
	CU_ASSERT_TRUE(rcv_check(&q, 24, 5, 2));
	fx_fini();
	tring_close(&q);
}

/* Messages still unread in a ring that goes are counted as lost (the
 * accounting of tests), those of a persistent ring whose partner died
 * excepted: its memory stays. */
static void test_lost_messages_counted(void)
{
	struct tring r, u;
	struct sim_fabric_stats s;
	struct dom *d1, *d2;

	fx_init(1, NULL);
	d1 = mkdom(1);
	d2 = mkdom(2);
	tring_open(&r, 1024);
	tring_open(&u, 1024);
	CU_ASSERT_EQUAL(reg(d1, 7000, ANY, &r), 0);
	CU_ASSERT_EQUAL(reg(d1, 7001, 2, &u), 0);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 24, 1), 24);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 100, 2), 100);
	CU_ASSERT_EQUAL(snd(d2, 1, 7000, 0, 3), 0);
	CU_ASSERT_TRUE(rcv_check(&r, 24, 1, 2));
	CU_ASSERT_EQUAL(snd(d2, 1, 7001, 8, 4), 8);
	/* The partner's death takes the ring from the fabric, not from its
	 * owner, who can still read it: nothing lost. */
	s = stats();
	sim_domain_destroy(F, d2->d);
	d2 = mkdom(2);
	CU_ASSERT_EQUAL(stats().lost_messages, s.lost_messages);
	CU_ASSERT_EQUAL(argo_ring_used(u.mem, u.len), 32u);
	CU_ASSERT_EQUAL(reg(d1, 7001, 2, &u), 0);
	CU_ASSERT_EQUAL(unreg(d1, 7001, 2), 0);
	CU_ASSERT_EQUAL(stats().lost_messages, s.lost_messages + 1);
	CU_ASSERT_EQUAL(stats().lost_bytes, s.lost_bytes + 8);
	sim_domain_destroy(F, d1->d);
	d1->d = NULL;
	CU_ASSERT_EQUAL(stats().lost_messages, s.lost_messages + 3);
	CU_ASSERT_EQUAL(stats().lost_bytes, s.lost_bytes + 108);
	fx_fini();
	tring_close(&r);
	tring_close(&u);
}

/* ---------------------------------------------------------------------------
 * Suite: policy parser.
 */

static void test_policy_parse_valid(void)
{
	static struct sim_policy pol;
	static const char *const ok[] = {
	    "allow",
	    "deny",
	    "deny src 5",
	    "allow src 1 dst 0:7000",
	    "deny dst *:22",
	    "allow src *:* dst *",
	    "  deny\tsrc   3:4 \t dst 5  ",
	    "deny dst 1 src 2",
	    "deny src 32751",
	    "deny dst 0:4294967295",
	    "deny src 0000000007",
	};
	const char *why;
	size_t k;

	sim_policy_init(&pol, true);
	for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		why = "unset";
		CU_ASSERT_EQUAL(sim_policy_add(&pol, ok[k], &why), 0);
		CU_ASSERT_PTR_NULL(why);
		CU_ASSERT_EQUAL(pol.nrules, k + 1);
	}
	/* "allow" with every field a wildcard. */
	CU_ASSERT_TRUE(pol.rules[0].allow);
	CU_ASSERT_EQUAL(pol.rules[0].src_domid, SIM_POLICY_ANY);
	CU_ASSERT_EQUAL(pol.rules[0].dst_port, SIM_POLICY_ANY);
	CU_ASSERT_FALSE(pol.rules[1].allow);
	CU_ASSERT_EQUAL(pol.rules[2].src_domid, 5);
	CU_ASSERT_EQUAL(pol.rules[2].src_port, SIM_POLICY_ANY);
	CU_ASSERT_EQUAL(pol.rules[2].dst_domid, SIM_POLICY_ANY);
	CU_ASSERT_TRUE(pol.rules[3].allow);
	CU_ASSERT_EQUAL(pol.rules[3].src_domid, 1);
	CU_ASSERT_EQUAL(pol.rules[3].dst_domid, 0);
	CU_ASSERT_EQUAL(pol.rules[3].dst_port, 7000);
	CU_ASSERT_EQUAL(pol.rules[4].dst_domid, SIM_POLICY_ANY);
	CU_ASSERT_EQUAL(pol.rules[4].dst_port, 22);
	CU_ASSERT_EQUAL(pol.rules[6].src_domid, 3);
	CU_ASSERT_EQUAL(pol.rules[6].src_port, 4);
	CU_ASSERT_EQUAL(pol.rules[6].dst_domid, 5);
	CU_ASSERT_EQUAL(pol.rules[7].src_domid, 2);
	CU_ASSERT_EQUAL(pol.rules[7].dst_domid, 1);
	CU_ASSERT_EQUAL(pol.rules[8].src_domid, 32751);
	CU_ASSERT_EQUAL(pol.rules[9].dst_port, 4294967295);
	CU_ASSERT_EQUAL(pol.rules[10].src_domid, 7);
}

static void test_policy_parse_invalid(void)
{
	static struct sim_policy pol;
	static const char *const bad[] = {
	    "",
	    "   ",
	    "permit",
	    "Allow",
	    "allowed",
	    "deny src",
	    "deny dst",
	    "deny src x",
	    "deny src 1x",
	    "deny src -1",
	    "deny src +1",
	    "deny src 32752",
	    "deny src 65535",
	    "deny src 1 src 2",
	    "deny dst 1 dst 2",
	    "deny foo 1",
	    "deny src 1 extra",
	    "deny src 1:",
	    "deny src :5",
	    "deny src 1:2:3",
	    "deny dst 1:4294967296",
	    "deny src 12345678901",
	    "deny src **",
	    "deny src 1:*x",
	    "allow deny",
	};
	const char *why;
	size_t k;

	sim_policy_init(&pol, true);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny src 1", &why), 0);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		why = NULL;
		if (sim_policy_add(&pol, bad[k], &why) != -EINVAL)
			fprintf(stderr, "\n    accepted: \"%s\"\n", bad[k]);
		CU_ASSERT_PTR_NOT_NULL(why);
		CU_ASSERT_EQUAL(pol.nrules, 1);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		CU_ASSERT_EQUAL(sim_policy_add(&pol, bad[k], &why), -EINVAL);
	/* Full: ENOSPC. */
	while (pol.nrules < SIM_POLICY_MAX_RULES)
		CU_ASSERT_EQUAL_FATAL(sim_policy_add(&pol, "allow", &why), 0);
	why = NULL;
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "allow", &why), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(why);
	CU_ASSERT_EQUAL(pol.nrules, SIM_POLICY_MAX_RULES);
}

static void test_policy_match(void)
{
	static struct sim_policy pol;
	const char *why;

	/* Defaults with no rules. */
	sim_policy_init(&pol, true);
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 1, 2, 3, 4));
	sim_policy_init(&pol, false);
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 1, 2, 3, 4));

	/* First match wins. */
	sim_policy_init(&pol, true);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "allow src 2 dst 1:7000", &why), 0);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny src 2", &why), 0);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny dst *:22", &why), 0);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "allow src 3:9", &why), 0);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "deny src 3", &why), 0);
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 2, 0, 1, 7000));
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 2, 12345, 1, 7000));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 2, 0, 1, 7001));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 2, 0, 0, 7000));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 2, 0, 1, 22));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 4, 0, 7, 22));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 4, 0, 0, 22));
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 4, 0, 7, 23));
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 3, 9, 7, 23));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 3, 10, 7, 23));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 3, 9, 7, 22)); /* "dst *:22" first */
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 5, 0xFFFFFFFFu, 6, 0xFFFFFFFFu));

	/* Default deny, with full 32-bit ports. */
	sim_policy_init(&pol, false);
	CU_ASSERT_EQUAL(sim_policy_add(&pol, "allow dst 0:4294967295", &why), 0);
	CU_ASSERT_TRUE(sim_policy_allows(&pol, 9, 0, 0, 0xFFFFFFFFu));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 9, 0, 0, 0x7FFFFFFF));
	CU_ASSERT_FALSE(sim_policy_allows(&pol, 9, 0, 1, 0xFFFFFFFFu));
}

/* ---------------------------------------------------------------------------
 */

/* ---------------------------------------------------------------------------
 * Publishing the waiter count (sim_domain_publish_waiters): the owner's
 * process skips its notify when it reads 0 after moving rx_ptr.
 */

static void test_publish_counts_waiters(void)
{
	struct dom *a, *b, *c;
	struct tring t;
	uint32_t pub = SENTINEL;

	fx_init(0, NULL);
	a = mkdom(1);
	b = mkdom(2);
	c = mkdom(3);
	tring_open(&t, 160); /* one 64-byte message fills it */
	CU_ASSERT_EQUAL(reg(a, 7, ANY, &t), -EPERM);
	CU_ASSERT_EQUAL(reg(a, 7, 2, &t), 0);
	sim_domain_publish_waiters(a->d, &pub);
	CU_ASSERT_EQUAL(pub, 0);
	CU_ASSERT_EQUAL(snd(b, 1, 7, 64, 1), 64);
	CU_ASSERT_EQUAL(snd(b, 1, 7, 64, 2), -EAGAIN);
	CU_ASSERT_EQUAL(pub, 1);
	CU_ASSERT_EQUAL(snd(b, 1, 7, 80, 3), -EAGAIN); /* widened, not a second waiter */
	CU_ASSERT_EQUAL(pub, 1);
	/* Nothing moved since the check: the recheck woke nobody. */
	CU_ASSERT_EQUAL(b->signals, 0);
	CU_ASSERT_EQUAL(stats().rechecks_woken, 0);
	/* A notify with ring data that does not fit queues c as well. */
	{
		struct {
			struct xen_argo_ring_data rd;
			struct xen_argo_ring_data_ent ent;
		} q = {.rd = {.nent = 1},
		       .ent = {.ring = {.aport = 7, .domain_id = 1}, .space_required = 64}};

		CU_ASSERT_EQUAL(sim_notify(F, c->d, &q.rd, sizeof(q)), 0);
		CU_ASSERT_EQUAL(pub, 1); /* c's ring lookup finds no ring of a's for c */
	}
	/* The owner consumes and notifies: b is woken, the count drops. */
	CU_ASSERT(rcv_check(&t, 64, 1, 2));
	CU_ASSERT_EQUAL(sim_notify(F, a->d, NULL, 0), 0);
	CU_ASSERT_EQUAL(b->signals, 1);
	CU_ASSERT_EQUAL(pub, 0);
	/* Unpublished: the count is no longer written. */
	sim_domain_publish_waiters(a->d, NULL);
	CU_ASSERT_EQUAL(snd(b, 1, 7, 64, 4), 64);
	CU_ASSERT_EQUAL(snd(b, 1, 7, 64, 5), -EAGAIN);
	CU_ASSERT_EQUAL(pub, 0);
	sim_domain_publish_waiters(a->d, &pub); /* a new process: told at once */
	CU_ASSERT_EQUAL(pub, 1);
	sim_domain_destroy(F, a->d); /* the ring and its waiter go */
	D[1].d = NULL;
	fx_fini();
	tring_close(&t);
}

struct race_owner {
	struct tring *t;
	uint32_t *pub;
	int stop;
	int notify_wanted; /* it saw a waiter after consuming: it would notify */
	unsigned long skipped;
};

/* The owner's process: consumes whatever arrives at once, then notifies
 * only if a waiter is published (asks the main thread, which runs the
 * model, to do it), as libargo's sim backend does. */
static void *race_owner_main(void *arg)
{
	struct race_owner *o = arg;
	struct xen_argo_ring *mem = o->t->mem;

	while (!__atomic_load_n(&o->stop, __ATOMIC_ACQUIRE)) {
		uint32_t tx = __atomic_load_n(&mem->tx_ptr, __ATOMIC_ACQUIRE);

		if (tx == __atomic_load_n(&mem->rx_ptr, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&mem->rx_ptr, tx, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(o->pub, __ATOMIC_RELAXED))
			__atomic_store_n(&o->notify_wanted, 1, __ATOMIC_RELEASE);
		else
			o->skipped++;
	}
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The race the recheck closes: the owner moves rx_ptr after the sender's
 * space check and reads the count before the waiter is published, so it
 * skips its notify. A second thread consumes every message at once while
 * this one sends two in a row: the second often finds the ring full at
 * that very moment. Every waiter must be woken (by the recheck or by the
 * owner's notify); one that is not within a second is a lost wake-up.
 */
static void test_publish_race_loses_no_waiter(void)
{
	struct race_owner o = {0};
	struct dom *a, *b;
	struct tring t;
	uint32_t pub = 0;
	unsigned long i, waits = 0, lost = 0;
	pthread_t th;
	uint64_t end;

	fx_init(0, NULL);
	a = mkdom(1);
	b = mkdom(2);
	tring_open(&t, 160);
	CU_ASSERT_EQUAL_FATAL(reg(a, 7, 2, &t), 0);
	sim_domain_publish_waiters(a->d, &pub);
	o.t = &t;
	o.pub = &pub;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, race_owner_main, &o) == 0);
	end = now_ns() + 3000000000ull;
	for (i = 0; i < 2000 && now_ns() < end; i++) {
		unsigned int before = b->signals;
		uint64_t deadline;
		int64_t r;

		/* Wait for an empty ring (the owner consumes at once). */
		while (__atomic_load_n(&t.mem->rx_ptr, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(&t.mem->tx_ptr, __ATOMIC_ACQUIRE))
			;
		CU_ASSERT_EQUAL(snd(b, 1, 7, 64, 1), 64);
		r = snd(b, 1, 7, 64, 2);
		if (r == 64)
			continue;
		CU_ASSERT_EQUAL(r, -EAGAIN);
		waits++;
		deadline = now_ns() + 1000000000ull;
		while (b->signals == before && now_ns() < deadline) {
			if (__atomic_exchange_n(&o.notify_wanted, 0, __ATOMIC_ACQ_REL))
				CU_ASSERT_EQUAL(sim_notify(F, a->d, NULL, 0), 0);
		}
		if (b->signals == before) {
			lost++;
			break;
		}
	}
	__atomic_store_n(&o.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	if (lost || !stats().rechecks_woken)
		printf("\n    %lu sends waited, %lu lost, %llu woken by the recheck, %lu notifies "
		       "skipped ",
		       waits, lost, (unsigned long long)stats().rechecks_woken, o.skipped);
	CU_ASSERT_EQUAL(lost, 0);
	sim_domain_publish_waiters(a->d, NULL);
	fx_fini();
	tring_close(&t);
}

int main(void)
{
	static const struct test_def domains[] = {
	    T(test_domain_create),
	    T(test_fabric_free_with_rings),
	};
	static const struct test_def registers[] = {
	    T(test_register_flags_and_pad),     T(test_register_len_and_npages),
	    T(test_register_partner),           T(test_register_ring_limit),
	    T(test_register_existing),          T(test_register_reregister_same_size),
	    T(test_register_bad_memory),        T(test_register_tx_adoption),
	    T(test_register_tx_ptr_is_fabrics), T(test_register_failed_reregister_removes),
	    T(test_register_reregister_counts),
	};
	static const struct test_def unregisters[] = {
	    T(test_unregister),
	};
	static const struct test_def sends[] = {
	    T(test_sendv_niov),
	    T(test_sendv_addr_checks),
	    T(test_sendv_dst_and_ring_lookup),
	    T(test_sendv_exact_ring_preferred),
	    T(test_sendv_iov_checks),
	    T(test_sendv_ring_too_small),
	    T(test_sendv_full_queues_waiter),
	    T(test_sendv_ebusy),
	    T(test_sendv_efault),
	    T(test_sendv_return_and_signals),
	    T(test_sendv_domid_stats),
	    T(test_sendv_to_self),
	    T(test_sendv_policy),
	};
	static const struct test_def notifies[] = {
	    T(test_notify_args),
	    T(test_notify_flags),
	    T(test_notify_ebusy),
	    T(test_notify_cancels_wait),
	    T(test_notify_wait_len_grows),
	    T(test_notify_wakes_fitting_waiters),
	    T(test_notify_zero_len_waiter),
	    T(test_notify_wakes_before_arg_checks),
	    T(test_publish_counts_waiters),
	    T(test_publish_race_loses_no_waiter),
	};
	static const struct test_def teardowns[] = {
	    T(test_teardown),
	};
	static const struct test_def durables[] = {
	    T(test_durable_register_checks),  T(test_durable_detach_attach),
	    T(test_durable_adopt_order),      T(test_durable_last_tag),
	    T(test_durable_destroy_detached), T(test_durable_vanish_reregister),
	    T(test_lost_messages_counted), T(test_durable_kept_domain),
	};
	static const struct test_def policies[] = {
	    T(test_policy_parse_valid),
	    T(test_policy_parse_invalid),
	    T(test_policy_match),
	};
	static const struct suite_def suites[] = {
	    SUITE("domains", domains),
	    SUITE("register_ring", registers),
	    SUITE("unregister_ring", unregisters),
	    SUITE("sendv", sends),
	    SUITE("notify", notifies),
	    SUITE("teardown", teardowns),
	    SUITE("durable", durables),
	    SUITE("policy", policies),
	};

	return cunit_main(suites, N(suites));
}
