/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for argo-simd's client protocol: l0/simd_proto.c (the
 * daemon's dispatch of every request a connected domain can send) over the
 * fabric model (l0/sim_fabric.c), as the daemon runs them, without the
 * sockets. `make fuzz` builds it with clang -fsanitize=fuzzer,address,
 * undefined and runs it on a copy of tests/fuzz/corpus/simd/ (seeds written
 * by this target itself: FUZZ_WRITE_CORPUS=DIR fuzz-simd).
 *
 * An input is a script of steps for two domains on one fresh fabric: A
 * (domid 1, static: may hold persistent rings) and B (domid 2). Each step
 * starts with a byte k:
 *   k % 8 == 7   a domain's life: (k >> 3) % 4 = 0 B dies and comes back
 *                (its partners' rings vanish), 1 A is detached and attached
 *                again (its process died), 2 A dies and comes back, 3 the
 *                client scribbles on its ring memory (memfd index, offset,
 *                4 bytes: as a guest may at any time);
 *   otherwise    one request from A ((k >> 3) & 1 == 0) or B, with fds as
 *                k % 8 says (0 none, 1 a sealed memfd of 1-8 pages, 2 an
 *                unsealed memfd, 3 a sealed memfd of one page, 4 /dev/null,
 *                5 two sealed memfds, 6 a sealed memfd of 1-8 pages kept
 *                mapped for scribbling), then a 16-bit length and that many
 *                request bytes (sim_proto.h's structures, host endian).
 * Every reply must be at least a header and at most SIMD_REPLY_MAX with
 * the op's result in it; an adopt's fd is closed; no fd may leak (the
 * lowest free fd is the same after each input as before).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argo/ring.h"
#include "sim_fabric.h"
#include "simd_proto.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_simd: %s:%d: check failed: %s\n", __FILE__,          \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_STEPS   64
#define MAX_KEPT    8 /* memfds kept mapped for scribbling */
#define MAX_PAGES   8
#define MAX_REQUEST 2048

static uint8_t *staging;
/* One fabric for every input (cheaper than a new one each time); each input
 * starts with its two domains made anew and ends with them destroyed, so
 * nothing of one input is left for the next. */
static struct sim_fabric *fabric;
static _Alignas(16) uint8_t request[MAX_REQUEST];
static _Alignas(16) uint8_t reply[SIMD_REPLY_MAX];

struct kept {
	int fd;
	uint8_t *mem;
	size_t size;
};

static void on_signal(void *ctx)
{
	(void)ctx;
}

/* The lowest free fd: it moves when an input leaves an fd open (fds are
 * given lowest first). */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	CHECK(fd >= 0);
	close(fd);
	return fd;
}

static int make_memfd(size_t pages, int seals)
{
	int fd = memfd_create("fuzz-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)(pages * XEN_ARGO_PAGE_SIZE)) == 0);
	if (seals)
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

struct run {
	struct sim_fabric *fabric;
	struct sim_domain *a, *b;
	struct kept kept[MAX_KEPT];
	int nkept;
};

static void new_domain(struct run *r, argo_domid_t id)
{
	struct sim_domain **d = id == 1 ? &r->a : &r->b;

	CHECK(sim_domain_create(r->fabric, id, r, d) == 0);
	if (id == 1)
		sim_domain_allow_persist(*d, 1);
}

static void life(struct run *r, unsigned int what)
{
	switch (what) {
	case 0:
		sim_domain_destroy(r->fabric, r->b);
		new_domain(r, 2);
		break;
	case 1:
		if (sim_domain_detach(r->fabric, r->a) == 0)
			sim_domain_attach(r->fabric, r->a, r);
		break;
	case 2:
		sim_domain_destroy(r->fabric, r->a);
		new_domain(r, 1);
		break;
	}
}

static void scribble(struct run *r, const uint8_t *p)
{
	struct kept *k;
	uint32_t off;

	if (!r->nkept)
		return;
	k = &r->kept[p[0] % r->nkept];
	off = (uint32_t)(p[1] | p[2] << 8 | p[3] << 16) % (uint32_t)(k->size - 3);
	memcpy(k->mem + off, p + 4, 4);
}

/* One request; fds made as spec says (all closed by the dispatch). */
static void one_request(struct run *r, struct sim_domain *d, unsigned int spec, uint8_t pages,
                        const uint8_t *bytes, size_t len)
{
	int fds[2], nfds = 0, reply_fd = -1;
	size_t reply_len = 0;
	int64_t ret;

	pages = (uint8_t)(pages % MAX_PAGES + 1);
	switch (spec) {
	case 1:
	case 6:
		fds[nfds++] = make_memfd(pages, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
		if (spec == 6 && r->nkept < MAX_KEPT) {
			struct kept *k = &r->kept[r->nkept];

			k->size = (size_t)pages * XEN_ARGO_PAGE_SIZE;
			k->fd = dup(fds[0]);
			k->mem = mmap(NULL, k->size, PROT_READ | PROT_WRITE, MAP_SHARED, k->fd, 0);
			CHECK(k->fd >= 0 && k->mem != MAP_FAILED);
			r->nkept++;
		}
		break;
	case 2:
		fds[nfds++] = make_memfd(pages, 0);
		break;
	case 3:
		fds[nfds++] = make_memfd(1, F_SEAL_SHRINK);
		break;
	case 4:
		fds[nfds] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHECK(fds[nfds] >= 0);
		nfds++;
		break;
	case 5:
		fds[nfds++] = make_memfd(1, F_SEAL_SHRINK);
		fds[nfds++] = make_memfd(1, F_SEAL_SHRINK);
		break;
	}
	memset(request, 0, sizeof(request));
	memcpy(request, bytes, len);
	memset(reply, 0xA5, sizeof(reply));
	ret = simd_handle_request(r->fabric, d, staging, request, len, false, fds, nfds, reply,
	                          &reply_len, &reply_fd);
	CHECK(reply_len >= sizeof(struct argo_sim_reply) && reply_len <= SIMD_REPLY_MAX);
	CHECK(((struct argo_sim_reply *)(void *)reply)->ret == (int32_t)ret);
	CHECK(ret <= 0 || ret <= (int64_t)XEN_ARGO_MAX_RING_SIZE);
	if (reply_fd >= 0) {
		struct stat st;

		CHECK(ret == 0 && fstat(reply_fd, &st) == 0 && S_ISREG(st.st_mode));
		close(reply_fd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;
	size_t at = 0;
	int steps = 0, fd0 = lowest_free_fd(), i;

	memset(&r, 0, sizeof(r));
	r.fabric = fabric;
	new_domain(&r, 1);
	new_domain(&r, 2);
	while (at < size && steps++ < MAX_STEPS) {
		uint8_t k = data[at++];

		if (k % 8 == 7) {
			if ((k >> 3) % 4 == 3) {
				if (size - at < 8)
					break;
				scribble(&r, data + at);
				at += 8;
			} else {
				life(&r, (k >> 3) % 4);
			}
			continue;
		}
		if (size - at < 3)
			break;
		{
			uint8_t pages = data[at];
			size_t len = (size_t)(data[at + 1] | data[at + 2] << 8);

			at += 3;
			if (len > MAX_REQUEST)
				len %= MAX_REQUEST + 1;
			if (len > size - at)
				len = size - at;
			one_request(&r, (k >> 3) & 1 ? r.b : r.a, k % 8, pages, data + at, len);
			at += len;
		}
	}
	sim_domain_destroy(fabric, r.a);
	sim_domain_destroy(fabric, r.b);
	for (i = 0; i < r.nkept; i++) {
		munmap(r.kept[i].mem, r.kept[i].size);
		close(r.kept[i].fd);
	}
	CHECK(lowest_free_fd() == fd0);
	return 0;
}

/* ---- Seeds (FUZZ_WRITE_CORPUS=DIR) ---------------------------------------- */

struct seed {
	uint8_t buf[4096];
	size_t len;
};

static void put_req(struct seed *s, uint8_t k, uint8_t pages, const void *req, size_t len)
{
	s->buf[s->len++] = k;
	s->buf[s->len++] = pages;
	s->buf[s->len++] = (uint8_t)len;
	s->buf[s->len++] = (uint8_t)(len >> 8);
	memcpy(s->buf + s->len, req, len);
	s->len += len;
}

static void put_register(struct seed *s, uint8_t dom_bit, uint8_t spec, uint32_t aport,
                         uint16_t partner, uint32_t len, uint32_t flags, uint32_t lib)
{
	struct argo_sim_req_register q = {
	    .hdr = {.op = ARGO_SIM_OP_REGISTER, .cookie = 1},
	    .reg = {.aport = aport, .partner_id = partner, .len = len},
	    .npages = argo_ring_npages(len),
	    .flags = flags,
	    .lib_flags = lib};

	put_req(s, (uint8_t)(dom_bit << 3 | spec), (uint8_t)(argo_ring_npages(len) - 1), &q,
	        sizeof(q));
}

static void put_sendv(struct seed *s, uint8_t dom_bit, uint16_t dst, uint32_t port, uint32_t n,
                      uint64_t tag)
{
	struct {
		struct argo_sim_req_sendv q;
		struct xen_argo_iov iov;
	} m = {.q = {.hdr = {.op = ARGO_SIM_OP_SENDV, .cookie = 2},
	             .addr = {.src = {.aport = 9, .domain_id = XEN_ARGO_DOMID_ANY},
	                      .dst = {.aport = port, .domain_id = dst}},
	             .niov = 1,
	             .message_type = 7,
	             .tag = tag},
	       .iov = {.iov_hnd = 0, .iov_len = n}};

	put_req(s, (uint8_t)(dom_bit << 3), 0, &m, sizeof(m));
}

static void put_simple(struct seed *s, uint8_t dom_bit, uint32_t op)
{
	struct argo_sim_req_hdr h = {.op = op, .cookie = 3};

	put_req(s, (uint8_t)(dom_bit << 3), 0, &h, sizeof(h));
}

static void write_seed(const char *dir, int n, const struct seed *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%02d.bin", dir, n);
	f = fopen(path, "wb");
	CHECK(f && fwrite(s->buf, 1, s->len, f) == s->len && fclose(f) == 0);
}

static void write_corpus(const char *dir)
{
	struct seed s;
	int n = 0;

	/* A ring each way, messages, a notify that asks about both. */
	memset(&s, 0, sizeof(s));
	put_register(&s, 0, 6, 7000, 2, 4032, 1, 0);
	put_register(&s, 1, 1, 7000, XEN_ARGO_DOMID_ANY, 4032, 0, 0);
	put_sendv(&s, 1, 1, 7000, 100, 0);
	put_sendv(&s, 0, 2, 7000, 200, 0);
	{
		struct argo_sim_req_notify q = {.hdr = {.op = ARGO_SIM_OP_NOTIFY, .cookie = 4},
		                                .has_ring_data = 1};
		struct xen_argo_ring_data rd = {.nent = 2};
		struct xen_argo_ring_data_ent e[2] = {
		    {.ring = {.aport = 7000, .domain_id = 1}, .space_required = 64},
		    {.ring = {.aport = 7000, .domain_id = 2}, .space_required = 5000}};
		uint8_t m[sizeof(q) + sizeof(rd) + sizeof(e)];

		memcpy(m, &q, sizeof(q));
		memcpy(m + sizeof(q), &rd, sizeof(rd));
		memcpy(m + sizeof(q) + sizeof(rd), e, sizeof(e));
		put_req(&s, 1 << 3, 0, m, sizeof(m));
	}
	write_seed(dir, n++, &s);

	/* Persistent rings, a tagged send, the partner dies, detach, adopt,
	 * register again with FAIL_EXIST (argo_ring_reregister), last tag. */
	memset(&s, 0, sizeof(s));
	put_register(&s, 0, 6, 7100, 2, 4032, 1, ARGO_SIM_REG_PERSIST);
	put_register(&s, 0, 1, 7101, XEN_ARGO_DOMID_ANY, 4032, 1, ARGO_SIM_REG_PERSIST);
	put_sendv(&s, 1, 1, 7100, 64, 0);
	put_sendv(&s, 0, 1, 7101, 32, 0x1234);
	s.buf[s.len++] = 7;          /* B dies and comes back */
	s.buf[s.len++] = 1 << 3 | 7; /* A detached, attached */
	put_simple(&s, 0, ARGO_SIM_OP_ADOPT);
	put_simple(&s, 0, ARGO_SIM_OP_ADOPT);
	put_simple(&s, 0, ARGO_SIM_OP_ADOPT);
	put_register(&s, 0, 1, 7100, 2, 4032, 1, ARGO_SIM_REG_PERSIST);
	put_simple(&s, 0, ARGO_SIM_OP_LAST_TAG);
	write_seed(dir, n++, &s);

	/* A scribbled rx_ptr, then sends; unregister; a bad op. */
	memset(&s, 0, sizeof(s));
	put_register(&s, 0, 6, 7200, XEN_ARGO_DOMID_ANY, 256, 0, 0);
	s.buf[s.len++] = 3 << 3 | 7;
	memcpy(s.buf + s.len, "\0\0\0\0\xff\xff\xff\x7f", 8);
	s.len += 8;
	put_sendv(&s, 1, 1, 7200, 16, 0);
	put_sendv(&s, 1, 1, 7200, 300, 0);
	{
		struct argo_sim_req_unregister u = {
		    .hdr = {.op = ARGO_SIM_OP_UNREGISTER},
		    .unreg = {.aport = 7200, .partner_id = XEN_ARGO_DOMID_ANY}};

		put_req(&s, 0, 0, &u, sizeof(u));
	}
	put_simple(&s, 1, 0x7777);
	write_seed(dir, n++, &s);
	fprintf(stderr, "fuzz_simd: wrote %d seeds to %s\n", n, dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sim_fabric_config cfg = {.mac_permissive = 1, .signal = on_signal};
	const char *dir = getenv("FUZZ_WRITE_CORPUS");

	(void)argc;
	(void)argv;
	staging = calloc(1, ARGO_SIM_STAGING_SIZE);
	fabric = sim_fabric_new(&cfg);
	CHECK(staging && fabric);
	if (dir) {
		write_corpus(dir);
		exit(0);
	}
	return 0;
}
