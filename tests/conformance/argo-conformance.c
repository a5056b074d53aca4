/* SPDX-License-Identifier: MIT */
/*
 * argo-conformance: checks a fabric against what Xen's argo.c guarantees.
 * Options: usage() below, and argo-conformance(1).
 *
 * Every expectation here is a fact of Xen 4.17's xen/common/argo.c, as
 * collected in docs/xen-argo-notes.md (section letters and "A:line" below
 * refer to it), so the same suite runs unchanged on the sim fabric and on
 * real Xen. The cases use only the public client API (argo/argo.h); ring
 * memory is read through ring_mem/ring_recv/ring_peek, which fetch it when
 * the ring is in a remote domain.
 *
 * Each case opens its own domains (argo_open on --fabric for the primary,
 * on --peer for the others) and closes them when it ends, so cases are
 * independent; each uses its own block of ports. A case that needs a second
 * domain and cannot get one, or wildcard rings on a fabric that refuses
 * them, is skipped with the reason. Waits are polls on the event fd with a
 * time-out, never sleeps.
 *
 * Other domains come from --peer (default: --fabric, which on sim gives a
 * new domain at each open). On Xen every handle a guest opens is the same
 * domain, so there --peer remote:DIR gives domains elsewhere: each one an
 * argo-conformance-peer in its own PV domU, reached through a socket in DIR
 * (remote_peer.h; --peer-wait: how long to wait for a free one, default
 * 60 s); a case that closes a peer to see the domain die then kills that
 * domU. The cases run the same either way.
 *
 * Output: one line per case, "PASS name", "FAIL name: expected vs got" (the
 * first mismatch) or "SKIP name: reason", then "N passed, N failed[, N
 * skipped]". Exit status 0 iff nothing failed (2 for a usage error).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>

#include "tool_util.h"
#include "remote_peer.h"

/* How long an event that must come may take, and a domain's teardown. */
#define EVENT_TIMEOUT_MS    5000
#define TEARDOWN_TIMEOUT_MS 5000

/* A domid no fabric under test should have (well below the reserved range). */
#define MISSING_DOMID ((argo_domid_t)0x7FE0)
/* Xen's DOMID_SELF: never translated by argo (notes b.5). */
#define XEN_DOMID_SELF ((argo_domid_t)0x7FF0)
/* Xen's MAX_ARGO_MESSAGE_SIZE (A:57-58). */
#define MAX_MESSAGE 0xFFFFE0u
#define HDR         16u
/* The largest ring Xen registers: its pages (header included) must not
 * exceed XEN_ARGO_MAX_RING_SIZE >> PAGE_SHIFT = 4096 (A:2108, A:1646), so
 * len + 64 <= 16 MiB. A ring of exactly 16 MiB would need 4097 pages. */
#define LARGEST_RING (XEN_ARGO_MAX_RING_SIZE - 64u)
/* Written into max_message_size before a notify, to see what comes back. */
#define MARKER     0x5EEDF00Du

#define F_EXISTS   XEN_ARGO_RING_EXISTS
#define F_SHARED   XEN_ARGO_RING_SHARED
#define F_EMPTY    XEN_ARGO_RING_EMPTY
#define F_SUFF     XEN_ARGO_RING_SUFFICIENT
#define F_EMSGSIZE XEN_ARGO_RING_EMSGSIZE

static struct {
	const char *fabric;
	const char *peer;
	bool mac_permissive;
	int peer_wait_ms;
} opt;

enum result { PASS, FAIL, SKIP };

/* ---- Reporting ----------------------------------------------------------- */

static char g_why[1024];
static bool g_have_why;
static uint32_t g_port; /* first port of the running case's block */

static bool vfailf(const char *fmt, va_list ap)
{
	if (!g_have_why) {
		vsnprintf(g_why, sizeof(g_why), fmt, ap);
		g_have_why = true;
	}
	return false;
}

/* Records the first failure of the case; always returns false. */
static bool failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfailf(fmt, ap);
	va_end(ap);
	return false;
}

static enum result skipf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static enum result skipf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_why, sizeof(g_why), fmt, ap);
	va_end(ap);
	g_have_why = true;
	return SKIP;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return FAIL;                                                               \
	} while (0)

/* Declares char what[] holding the caller's printf-style description. */
#define FORMAT_WHAT(what, fmt)                                                                     \
	char what[320];                                                                            \
	do {                                                                                       \
		va_list ap_;                                                                       \
		va_start(ap_, fmt);                                                                \
		vsnprintf(what, sizeof(what), fmt, ap_);                                           \
		va_end(ap_);                                                                       \
	} while (0)

/* A return value for a message: a byte count, or a readable error. */
static const char *fmt_ret(long v, char *buf, size_t size)
{
	if (v < 0)
		snprintf(buf, size, "%s", argo_strerror((int)v));
	else
		snprintf(buf, size, "%ld", v);
	return buf;
}

static const char *fmt_num(uint64_t v, char *buf, size_t size)
{
	if (v < 10)
		snprintf(buf, size, "%llu", (unsigned long long)v);
	else
		snprintf(buf, size, "%llu (0x%llx)", (unsigned long long)v, (unsigned long long)v);
	return buf;
}

static const char *fmt_flags(unsigned int f, char *buf, size_t size)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
	    {XEN_ARGO_RING_EXISTS, "EXISTS"},     {XEN_ARGO_RING_SHARED, "SHARED"},
	    {XEN_ARGO_RING_EMPTY, "EMPTY"},       {XEN_ARGO_RING_SUFFICIENT, "SUFFICIENT"},
	    {XEN_ARGO_RING_EMSGSIZE, "EMSGSIZE"}, {XEN_ARGO_RING_EBUSY, "EBUSY"},
	};
	size_t used = 0, i;

	buf[0] = '\0';
	if (!f) {
		snprintf(buf, size, "0");
		return buf;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (f & names[i].bit) {
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "|" : "",
			                         names[i].name);
			f &= ~names[i].bit;
			if (used >= size)
				return buf;
		}
	}
	if (f)
		snprintf(buf + used, size - used, "%s0x%x", used ? "|" : "", f);
	return buf;
}

static bool expect_ret(long got, long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool expect_ret(long got, long want, const char *fmt, ...)
{
	char g[96], w[96];

	if (got == want)
		return true;
	FORMAT_WHAT(what, fmt);
	return failf("%s: expected %s, got %s", what, fmt_ret(want, w, sizeof(w)),
	             fmt_ret(got, g, sizeof(g)));
}

static bool expect_eq(uint64_t got, uint64_t want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool expect_eq(uint64_t got, uint64_t want, const char *fmt, ...)
{
	char g[64], w[64];

	if (got == want)
		return true;
	FORMAT_WHAT(what, fmt);
	return failf("%s: expected %s, got %s", what, fmt_num(want, w, sizeof(w)),
	             fmt_num(got, g, sizeof(g)));
}

static bool expect_flags(unsigned int got, unsigned int want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool expect_flags(unsigned int got, unsigned int want, const char *fmt, ...)
{
	char g[96], w[96];

	if (got == want)
		return true;
	FORMAT_WHAT(what, fmt);
	return failf("%s: expected %s, got %s", what, fmt_flags(want, w, sizeof(w)),
	             fmt_flags(got, g, sizeof(g)));
}

static bool expect_bytes(const void *got, const void *want, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool expect_bytes(const void *got, const void *want, size_t n, const char *fmt, ...)
{
	const uint8_t *g = got, *w = want;
	size_t i;

	for (i = 0; i < n; i++) {
		if (g[i] != w[i]) {
			FORMAT_WHAT(what, fmt);
			return failf("%s: byte %zu of %zu: expected 0x%02x, got 0x%02x", what, i, n,
			             w[i], g[i]);
		}
	}
	return true;
}

/* ---- Domains and memory of the running case ------------------------------ */

#define MAX_DOMS    8
#define MAX_SCRATCH 8
static struct argo_fabric *g_doms[MAX_DOMS];
static void *g_scratch[MAX_SCRATCH];

/* A URI of the suite's own scheme, remote:DIR, is a domain elsewhere
 * (remote_peer.h); anything else goes to libargo. */
static int dom_open(const char *uri, struct argo_fabric **fp)
{
	int ret, i;

	if (!strncmp(uri, REMOTE_SCHEME, strlen(REMOTE_SCHEME)))
		ret = remote_open(uri + strlen(REMOTE_SCHEME), opt.peer_wait_ms, fp);
	else
		ret = argo_open(uri, fp);

	if (ret < 0)
		return ret;
	for (i = 0; i < MAX_DOMS; i++) {
		if (!g_doms[i]) {
			g_doms[i] = *fp;
			return 0;
		}
	}
	argo_close(*fp);
	*fp = NULL;
	return -ENOMEM;
}

/* The domain dies: on sim, closing its fabric handle is its death; a
 * remote domain is killed first (on Xen: xl destroy). */
static void dom_close(struct argo_fabric *f)
{
	int i;

	if (remote_is(f)) {
		int ret = remote_kill(f);

		if (ret < 0)
			fprintf(stderr, "argo-conformance: killing remote domain %u: %s\n",
			        argo_domid(f), argo_strerror(ret));
	}

	for (i = 0; i < MAX_DOMS; i++)
		if (g_doms[i] == f)
			g_doms[i] = NULL;
	argo_close(f);
}

static void case_cleanup(void)
{
	int i;

	for (i = 0; i < MAX_DOMS; i++) {
		if (g_doms[i]) {
			argo_close(g_doms[i]);
			g_doms[i] = NULL;
		}
	}
	for (i = 0; i < MAX_SCRATCH; i++) {
		free(g_scratch[i]);
		g_scratch[i] = NULL;
	}
}

/* Zeroed memory freed when the case ends; NULL (failure noted) if none. */
static void *scratch(size_t size)
{
	int i;

	for (i = 0; i < MAX_SCRATCH; i++) {
		if (!g_scratch[i]) {
			g_scratch[i] = calloc(1, size ? size : 1);
			if (!g_scratch[i])
				failf("out of memory (%zu bytes)", size);
			return g_scratch[i];
		}
	}
	failf("internal: too many scratch buffers");
	return NULL;
}

static bool open_primary(struct argo_fabric **fp)
{
	int ret = dom_open(opt.fabric, fp);

	if (ret < 0)
		return failf("opening --fabric %s: expected success, got %s", opt.fabric,
		             strerror(-ret));
	return true;
}

/* Another domain, from --peer; SKIP (reason recorded) if none distinct. */
static enum result open_peer(struct argo_fabric **fp)
{
	int ret = dom_open(opt.peer, fp), i;

	if (ret < 0)
		return skipf("needs another domain, but opening --peer %s failed: %s", opt.peer,
		             strerror(-ret));
	for (i = 0; i < MAX_DOMS; i++) {
		if (g_doms[i] && g_doms[i] != *fp && argo_domid(g_doms[i]) == argo_domid(*fp)) {
			argo_domid_t d = argo_domid(*fp);

			dom_close(*fp);
			*fp = NULL;
			return skipf("needs another domain, but --peer %s gave domid %u, which "
			             "the case already has",
			             opt.peer, d);
		}
	}
	return PASS;
}

#define NEED_PEER(fp)                                                                              \
	do {                                                                                       \
		enum result r_ = open_peer(fp);                                                    \
		if (r_ != PASS)                                                                    \
			return r_;                                                                 \
	} while (0)

#define NEED_MAC()                                                                                 \
	do {                                                                                       \
		if (!opt.mac_permissive)                                                           \
			return skipf("needs wildcard rings (--mac-permissive yes)");               \
	} while (0)

/* ---- Rings, sends, notify ------------------------------------------------ */

static int reg_ring(struct argo_fabric *f, uint32_t aport, argo_domid_t partner, uint32_t len,
                    uint32_t flags, struct argo_ring **rp)
{
	xen_argo_register_ring_t reg = {.aport = aport, .partner_id = partner, .len = len};
	struct argo_ring *unused;

	/* A handle from an unexpected success is freed by argo_close. */
	return argo_register_ring(f, &reg, flags, rp ? rp : &unused);
}

static bool must_reg(struct argo_fabric *f, uint32_t aport, argo_domid_t partner, uint32_t len,
                     struct argo_ring **rp)
{
	return expect_ret(reg_ring(f, aport, partner, len, 0, rp), 0,
	                  "register_ring(aport %u, partner %u, len %u)", aport, partner, len);
}

static int unreg_raw(struct argo_fabric *f, uint32_t aport, argo_domid_t partner, uint16_t pad)
{
	xen_argo_unregister_ring_t u = {.aport = aport, .partner_id = partner, .pad = pad};

	return argo_unregister_raw(f, &u);
}

static xen_argo_send_addr_t mkaddr(argo_domid_t src_dom, uint32_t src_port, argo_domid_t dst_dom,
                                   uint32_t dst_port)
{
	xen_argo_send_addr_t a;

	memset(&a, 0, sizeof(a));
	a.src.domain_id = src_dom;
	a.src.aport = src_port;
	a.dst.domain_id = dst_dom;
	a.dst.aport = dst_port;
	return a;
}

static ssize_t send_buf(struct argo_fabric *f, argo_domid_t src_dom, uint32_t src_port,
                        argo_domid_t dst_dom, uint32_t dst_port, const void *buf, size_t n,
                        uint32_t type)
{
	xen_argo_send_addr_t a = mkaddr(src_dom, src_port, dst_dom, dst_port);
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};

	return argo_sendv(f, &a, &iov, 1, type);
}

static bool must_send(struct argo_fabric *f, argo_domid_t src_dom, uint32_t src_port,
                      argo_domid_t dst_dom, uint32_t dst_port, const void *buf, size_t n,
                      uint32_t type)
{
	return expect_ret(send_buf(f, src_dom, src_port, dst_dom, dst_port, buf, n, type), (long)n,
	                  "sendv of %zu bytes from %u:%u to %u:%u", n, src_dom, src_port, dst_dom,
	                  dst_port);
}

/*
 * Where a domain's ring memory is a copy that follows the fabric's (a
 * `link:` leaf endpoint), brings every open domain's up to date: what the
 * fabric delivered and raised before now is there, and the fabric sees the
 * rx_ptr each reader moved, as Xen sees guest memory at once. A no-op on
 * sim and Xen, whose ring memory is the fabric's own.
 */
static void sync_all(void)
{
	int i, ret;

	for (i = 0; i < MAX_DOMS; i++) {
		if (!g_doms[i] || remote_is(g_doms[i]))
			continue;
		ret = argo_sync(g_doms[i]);
		if (ret < 0)
			failf("argo_sync of domain %u: %s", argo_domid(g_doms[i]),
			      argo_strerror(ret));
	}
}

/*
 * A ring's memory as the fabric left it: the mapping itself, or, for a ring
 * of a remote domain, a copy fetched now. Reads of ring memory go through
 * ring_mem, ring_recv and ring_peek, never r->shared directly.
 */
static struct xen_argo_ring *ring_mem(struct argo_ring *r)
{
	if (remote_ring_is(r))
		return remote_ring_sync(r);
	sync_all();
	return r->shared;
}

static ssize_t ring_recv(struct argo_ring *r, xen_argo_addr_t *src, uint32_t *type, void *buf,
                         size_t size)
{
	ssize_t n;

	if (remote_ring_is(r))
		return remote_recv(r, src, type, buf, size);
	sync_all();
	n = argo_recv(r, src, type, buf, size);
	sync_all();
	return n;
}

static ssize_t ring_peek(struct argo_ring *r)
{
	if (remote_ring_is(r))
		return remote_peek(r, NULL, NULL);
	sync_all();
	return argo_peek(r, NULL, NULL);
}

static uint32_t ring_tx(struct argo_ring *r)
{
	return __atomic_load_n(&ring_mem(r)->tx_ptr, __ATOMIC_ACQUIRE);
}

static uint32_t ring_rx(struct argo_ring *r)
{
	return __atomic_load_n(&ring_mem(r)->rx_ptr, __ATOMIC_ACQUIRE);
}

/* The message header the fabric wrote at ring offset off. */
static bool expect_hdr(struct argo_ring *r, uint32_t off, uint32_t len, argo_domid_t dom,
                       uint32_t port, uint32_t type, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static bool expect_hdr(struct argo_ring *r, uint32_t off, uint32_t len, argo_domid_t dom,
                       uint32_t port, uint32_t type, const char *fmt, ...)
{
	xen_argo_ring_message_header_t h;

	FORMAT_WHAT(what, fmt);
	memcpy(&h, ring_mem(r)->ring + off, sizeof(h));
	return expect_eq(h.len, len, "%s: header at ring offset %u: len", what, off) &&
	       expect_eq(h.source.domain_id, dom, "%s: header at ring offset %u: source.domain_id",
	                 what, off) &&
	       expect_eq(h.source.aport, port, "%s: header at ring offset %u: source.aport", what,
	                 off) &&
	       expect_eq(h.source.pad, 0, "%s: header at ring offset %u: source.pad", what, off) &&
	       expect_eq(h.message_type, type, "%s: header at ring offset %u: message_type", what,
	                 off);
}

/* Takes the next message out of r and checks all of it. */
static bool expect_msg(struct argo_ring *r, argo_domid_t dom, uint32_t port, uint32_t type,
                       const void *data, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static bool expect_msg(struct argo_ring *r, argo_domid_t dom, uint32_t port, uint32_t type,
                       const void *data, size_t n, const char *fmt, ...)
{
	size_t cap = n ? n : 1;
	uint8_t *buf = malloc(cap);
	xen_argo_addr_t src;
	uint32_t t = 0xEEEEEEEEu;
	ssize_t got;
	bool ok;

	FORMAT_WHAT(what, fmt);
	if (!buf)
		return failf("%s: out of memory", what);
	memset(&src, 0xEE, sizeof(src));
	got = ring_recv(r, &src, &t, buf, cap);
	if (got == -EMSGSIZE) {
		ssize_t need = ring_peek(r);

		free(buf);
		return failf("%s: expected a %zu-byte message, got a %zd-byte one", what, n, need);
	}
	if (got == -EAGAIN) {
		free(buf);
		return failf("%s: expected a %zu-byte message, got an empty ring", what, n);
	}
	ok = expect_ret(got, (long)n, "%s: receive", what) &&
	     expect_eq(src.domain_id, dom, "%s: source.domain_id", what) &&
	     expect_eq(src.aport, port, "%s: source.aport", what) &&
	     expect_eq(src.pad, 0, "%s: source.pad", what) &&
	     expect_eq(t, type, "%s: message_type", what) &&
	     expect_bytes(buf, data, n, "%s: payload", what);
	free(buf);
	return ok;
}

static bool expect_ring_empty(struct argo_ring *r, const char *what)
{
	ssize_t n = ring_peek(r);
	char g[96];

	if (n == -EAGAIN)
		return true;
	if (n >= 0)
		return failf("%s: expected an empty ring, got a %zd-byte message", what, n);
	return failf("%s: expected an empty ring, got %s", what, fmt_ret(n, g, sizeof(g)));
}

static xen_argo_ring_data_t *rd_new(uint32_t nent)
{
	xen_argo_ring_data_t *rd =
	    scratch(sizeof(*rd) + (size_t)nent * sizeof(xen_argo_ring_data_ent_t));

	if (rd)
		rd->nent = nent;
	return rd;
}

static void ent_init(xen_argo_ring_data_ent_t *e, argo_domid_t dom, uint32_t port,
                     uint32_t space_required)
{
	memset(e, 0, sizeof(*e));
	e->ring.domain_id = dom;
	e->ring.aport = port;
	e->flags = 0xFFFF;
	e->space_required = space_required;
	e->max_message_size = MARKER;
}

/* notify with one entry; returns its result, *flags and *max as written back. */
static int query_raw(struct argo_fabric *f, argo_domid_t dom, uint32_t port,
                     uint32_t space_required, uint16_t *flags, uint32_t *max)
{
	xen_argo_ring_data_t *rd = malloc(sizeof(*rd) + sizeof(rd->data[0]));
	xen_argo_ring_data_ent_t e;
	int ret;

	if (!rd)
		return -ENOMEM;
	rd->nent = 1;
	rd->pad = 0;
	ent_init(&rd->data[0], dom, port, space_required);
	ret = argo_notify(f, rd);
	e = rd->data[0];
	free(rd);
	if (ret == 0 && (e.ring.domain_id != dom || e.ring.aport != port || e.ring.pad ||
	                 e.space_required != space_required || e.pad))
		return -EPROTO; /* Xen writes back only flags and max_message_size */
	*flags = e.flags;
	*max = e.max_message_size;
	return ret;
}

/* notify on (dom, port) must report exactly want_flags and want_max
 * (MARKER: the input echoed back). */
static bool expect_query(struct argo_fabric *f, argo_domid_t dom, uint32_t port,
                         uint32_t space_required, unsigned int want_flags, uint32_t want_max,
                         const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static bool expect_query(struct argo_fabric *f, argo_domid_t dom, uint32_t port,
                         uint32_t space_required, unsigned int want_flags, uint32_t want_max,
                         const char *fmt, ...)
{
	uint16_t flags = 0;
	uint32_t max = 0;
	int ret = query_raw(f, dom, port, space_required, &flags, &max);

	FORMAT_WHAT(what, fmt);
	if (ret == -EPROTO)
		return failf("%s: notify on %u:%u changed fields other than flags and "
		             "max_message_size",
		             what, dom, port);
	if (!expect_ret(ret, 0, "%s: notify on %u:%u (space_required %u)", what, dom, port,
	                space_required))
		return false;
	if (!expect_flags(flags, want_flags, "%s: notify on %u:%u (space_required %u): flags", what,
	                  dom, port, space_required))
		return false;
	return expect_eq(max, want_max, "%s: notify on %u:%u: max_message_size%s", what, dom, port,
	                 want_max == MARKER ? " (the input, echoed back)" : "");
}

/* ---- Events -------------------------------------------------------------- */

static bool expect_event(struct argo_fabric *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool expect_event(struct argo_fabric *f, const char *fmt, ...)
{
	int w;

	sync_all();
	w = tool_wait_event(f, EVENT_TIMEOUT_MS);

	if (w > 0) {
		argo_event_clear(f);
		return true;
	}
	FORMAT_WHAT(what, fmt);
	if (w < 0)
		return failf("%s: poll on the event fd: %s", what, strerror(-w));
	return failf("%s: expected domain %u's event within %d ms, got none", what, argo_domid(f),
	             EVENT_TIMEOUT_MS);
}

static bool expect_no_event(struct argo_fabric *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool expect_no_event(struct argo_fabric *f, const char *fmt, ...)
{
	int w;

	sync_all();
	w = tool_wait_event(f, 0);

	if (w == 0)
		return true;
	FORMAT_WHAT(what, fmt);
	if (w < 0)
		return failf("%s: poll on the event fd: %s", what, strerror(-w));
	return failf("%s: expected no event for domain %u, got one", what, argo_domid(f));
}

/* Waits until notify no longer finds domain dom's ring on port (its owner
 * was closed; teardown raises no event, so the condition is polled). */
static bool wait_ring_gone(struct argo_fabric *f, argo_domid_t dom, uint32_t port, const char *what)
{
	uint64_t deadline = tool_now_ns() + (uint64_t)TEARDOWN_TIMEOUT_MS * 1000000u;

	for (;;) {
		uint16_t flags;
		uint32_t max;
		int ret = query_raw(f, dom, port, 0, &flags, &max);

		if (ret < 0)
			return failf("%s: notify on %u:%u: expected success, got %s", what, dom,
			             port, argo_strerror(ret));
		if (!(flags & XEN_ARGO_RING_EXISTS))
			return true;
		if (tool_now_ns() > deadline)
			return failf("%s: expected domain %u's ring on port %u to go within %d ms "
			             "of the domain's fabric handle being closed; notify still "
			             "reports it",
			             what, dom, port, TEARDOWN_TIMEOUT_MS);
		sched_yield();
	}
}

static void pattern(uint8_t *b, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131u + i * 7u + 1u + (i >> 8));
}

/* ---- register_ring (notes b) --------------------------------------------- */

static enum result t_register_basic(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint32_t p = g_port;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(expect_query(a, me, p, 0, 0, MARKER, "before registering"));
	CHECK(must_reg(a, p, me, 256, &r));
	CHECK(expect_eq(r->len, 256, "ring handle len") &&
	      expect_eq(r->aport, p, "ring handle aport") &&
	      expect_eq(r->partner_id, me, "ring handle partner_id"));
	/* A zeroed page's tx_ptr is valid, so it is adopted as-is (A:1805-1823). */
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr of the new ring") &&
	      expect_eq(ring_rx(r), 0, "rx_ptr of the new ring"));
	CHECK(expect_query(a, me, p, 0, F_EXISTS | F_EMPTY | F_SUFF, 256 - 32, "the new ring"));
	CHECK(expect_ret(argo_unregister_ring(a, r), 0, "unregister_ring"));
	CHECK(expect_query(a, me, p, 0, 0, MARKER, "after unregistering"));
	return PASS;
}

static enum result t_register_bad_flags(void)
{
	static const uint32_t bad[] = {0x2, 0x3, 0x80000000u, 0xFFFFFFFFu};
	struct argo_fabric *a;
	argo_domid_t me;
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(expect_ret(reg_ring(a, g_port, me, 256, bad[i], NULL), -EINVAL,
		                 "register_ring with flags 0x%x", bad[i]));
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registrations"));
	CHECK(expect_ret(reg_ring(a, g_port, me, 256, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, NULL), 0,
	                 "register_ring of a new ring with flags FAIL_EXIST"));
	return PASS;
}

static enum result t_register_pad(void)
{
	static const uint16_t pads[] = {1, 0x8000, 0xFFFF};
	struct argo_fabric *a;
	argo_domid_t me;
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	for (i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		xen_argo_register_ring_t reg = {
		    .aport = g_port, .partner_id = me, .pad = pads[i], .len = 256};
		struct argo_ring *r;

		CHECK(expect_ret(argo_register_ring(a, &reg, 0, &r), -EINVAL,
		                 "register_ring with pad 0x%x", pads[i]));
	}
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registrations"));
	return PASS;
}

static enum result t_register_len_too_small(void)
{
	static const uint32_t small[] = {0, 16, 32, 47};
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[17] = {0};
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	for (i = 0; i < sizeof(small) / sizeof(small[0]); i++)
		CHECK(expect_ret(reg_ring(a, g_port, me, small[i], 0, NULL), -EINVAL,
		                 "register_ring with len %u", small[i]));
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registrations"));
	CHECK(must_reg(a, g_port, me, 48, &r));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 16, "the 48-byte ring"));
	/* The smallest ring takes one 16-byte slot of payload. */
	pattern(buf, sizeof(buf), 1);
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, 17, 0), -EMSGSIZE,
	                 "sendv of 17 bytes to the 48-byte ring"));
	CHECK(must_send(a, me, 1, me, g_port, buf, 16, 0));
	CHECK(expect_msg(r, me, 1, 0, buf, 16, "16 bytes through the 48-byte ring"));
	return PASS;
}

static enum result t_register_len_unaligned(void)
{
	static const uint32_t lens[] = {49, 50, 63, 100, 4031, 4033, 65535};
	struct argo_fabric *a;
	argo_domid_t me;
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		CHECK(expect_ret(reg_ring(a, g_port, me, lens[i], 0, NULL), -EINVAL,
		                 "register_ring with len %u", lens[i]));
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registrations"));
	return PASS;
}

static enum result t_register_len_too_large(void)
{
	static const uint32_t lens[] = {XEN_ARGO_MAX_RING_SIZE + 16,
	                                XEN_ARGO_MAX_RING_SIZE + XEN_ARGO_PAGE_SIZE};
	struct argo_fabric *a;
	argo_domid_t me;
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		CHECK(expect_ret(reg_ring(a, g_port, me, lens[i], 0, NULL), -EINVAL,
		                 "register_ring with len %u", lens[i]));
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registrations"));
	return PASS;
}

static enum result t_register_max_len(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[100];

	CHECK(open_primary(&a));
	me = argo_domid(a);
	/* len <= XEN_ARGO_MAX_RING_SIZE passes the len test, but the pages are
	 * limited to 4096 first (A:2108): 16 MiB of ring needs 4097. */
	CHECK(expect_ret(reg_ring(a, g_port, me, XEN_ARGO_MAX_RING_SIZE, 0, NULL), -EINVAL,
	                 "register_ring with len 16 MiB (4097 pages)"));
	CHECK(expect_ret(reg_ring(a, g_port, me, LARGEST_RING + 16, 0, NULL), -EINVAL,
	                 "register_ring with len 0x%x (4097 pages)", LARGEST_RING + 16));
	CHECK(must_reg(a, g_port, me, LARGEST_RING, &r));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, LARGEST_RING - 32,
	                   "the largest ring (16 MiB - 64)"));
	pattern(buf, sizeof(buf), 2);
	CHECK(must_send(a, me, 2, me, g_port, buf, sizeof(buf), 0x16));
	CHECK(expect_msg(r, me, 2, 0x16, buf, sizeof(buf), "a message through the largest ring"));
	CHECK(expect_ret(argo_unregister_ring(a, r), 0, "unregister_ring of the largest ring"));
	return PASS;
}

static enum result t_register_any_partner(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	if (!opt.mac_permissive) {
		/* A:1654-1660: wildcard rings need mac-permissive. */
		CHECK(expect_ret(reg_ring(a, g_port, XEN_ARGO_DOMID_ANY, 256, 0, NULL), -EPERM,
		                 "register_ring with partner ANY without mac-permissive"));
		CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registration"));
		return PASS;
	}
	CHECK(expect_ret(reg_ring(a, g_port, XEN_ARGO_DOMID_ANY, 256, 0, &r), 0,
	                 "register_ring with partner ANY with mac-permissive"));
	CHECK(expect_eq(r->partner_id, XEN_ARGO_DOMID_ANY, "ring handle partner_id"));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_SHARED | F_EMPTY | F_SUFF, 224,
	                   "the wildcard ring"));
	CHECK(expect_ret(argo_unregister_ring(a, r), 0, "unregister_ring of the wildcard ring"));
	return PASS;
}

static enum result t_register_missing_partner(void)
{
	struct argo_fabric *a;
	argo_domid_t me;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	if (me == MISSING_DOMID)
		return skipf("the primary domain has the domid used as missing (%u)", me);
	CHECK(expect_ret(reg_ring(a, g_port, MISSING_DOMID, 256, 0, NULL), -ESRCH,
	                 "register_ring with partner %u (no such domain)", MISSING_DOMID));
	/* DOMID_SELF is not translated (A:1663-1668). */
	CHECK(expect_ret(reg_ring(a, g_port, XEN_DOMID_SELF, 256, 0, NULL), -ESRCH,
	                 "register_ring with partner DOMID_SELF (0x7FF0)"));
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after the refused registrations"));
	return PASS;
}

static enum result t_register_fail_exist(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[5] = {1, 2, 3, 4, 5};

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	CHECK(expect_ret(reg_ring(a, g_port, me, 256, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, NULL),
	                 -EEXIST, "second register_ring of the same ring with FAIL_EXIST"));
	CHECK(expect_ret(reg_ring(a, g_port, me, 512, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, NULL),
	                 -EEXIST, "register_ring of the same ring, other len, with FAIL_EXIST"));
	/* The first ring is untouched. */
	CHECK(
	    expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 224, "the original ring"));
	CHECK(must_send(a, me, 3, me, g_port, buf, sizeof(buf), 7));
	CHECK(expect_msg(r, me, 3, 7, buf, sizeof(buf), "message into the original ring"));
	return PASS;
}

static enum result t_register_reregister_same_size(void)
{
	struct argo_fabric *a;
	struct argo_ring *r1, *r2;
	argo_domid_t me;
	uint8_t m1[11], m2[20], old[256];
	uint32_t p = g_port;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	pattern(m1, sizeof(m1), 11);
	pattern(m2, sizeof(m2), 22);
	CHECK(must_reg(a, p, me, 256, &r1));
	CHECK(must_send(a, me, 4, me, p, m1, sizeof(m1), 1));
	CHECK(expect_eq(ring_tx(r1), 32, "tx_ptr of the first handle after one message"));
	memcpy(old, ring_mem(r1)->ring, sizeof(old));

	/* Same (aport, partner, len), no FAIL_EXIST: the ring moves to the new
	 * pages; their zeroed tx_ptr is adopted (A:1735-1774, 1805-1823). */
	CHECK(expect_ret(reg_ring(a, p, me, 256, 0, &r2), 0,
	                 "re-register_ring of the same ring, same len"));
	CHECK(expect_eq(ring_tx(r2), 0, "tx_ptr of the new handle"));
	CHECK(must_send(a, me, 5, me, p, m2, sizeof(m2), 2));
	CHECK(expect_hdr(r2, 0, HDR + sizeof(m2), me, 5, 2, "message after re-registering"));
	CHECK(expect_eq(ring_tx(r2), 48, "tx_ptr of the new handle after its first message"));
	CHECK(expect_eq(ring_tx(r1), 32, "tx_ptr of the old handle after the re-register"));
	CHECK(expect_bytes(ring_mem(r1)->ring, old, sizeof(old),
	                   "the old handle's ring after a message to the re-registered ring"));
	CHECK(expect_msg(r2, me, 5, 2, m2, sizeof(m2), "message in the new handle"));
	CHECK(expect_ring_empty(r2, "the new handle after one message"));
	argo_ring_release(r1);

	CHECK(
	    expect_query(a, me, p, 0, F_EXISTS | F_EMPTY | F_SUFF, 224, "the re-registered ring"));
	CHECK(expect_ret(argo_unregister_ring(a, r2), 0, "unregister_ring"));
	/* There was only one ring. */
	CHECK(expect_ret(unreg_raw(a, p, me, 0), -ENOENT, "second unregister_ring"));
	return PASS;
}

static enum result t_register_reregister_other_size(void)
{
	static const uint32_t lens[] = {512, 128, 48};
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[40];
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	/* A:1751-1768: resizing is refused. */
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		CHECK(expect_ret(reg_ring(a, g_port, me, lens[i], 0, NULL), -EEXIST,
		                 "re-register_ring of a 256-byte ring with len %u", lens[i]));
	CHECK(
	    expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 224, "the original ring"));
	pattern(buf, sizeof(buf), 3);
	CHECK(must_send(a, me, 6, me, g_port, buf, sizeof(buf), 3));
	CHECK(expect_msg(r, me, 6, 3, buf, sizeof(buf), "message into the original ring"));
	return PASS;
}

/*
 * The limit is on Xen's ring_count, which a same-size re-register raises for
 * good (notes b, "Surprises in register"): in a domain with a history (a
 * long-lived dom0 that ran register-reregister-same-size), fewer than 128
 * new rings fit. What holds whatever the domain's history: -ENOSPC comes at
 * or before the 128th new ring, stays, refuses a re-register of an existing
 * ring too (the count is checked before the lookup, A:1711), and
 * unregistering one ring makes room for exactly one more.
 */
static enum result t_register_too_many(void)
{
	struct argo_ring *rings[XEN_ARGO_MAX_RINGS_PER_DOMAIN + 1];
	struct argo_fabric *a;
	argo_domid_t me;
	uint32_t k, p = g_port, n = XEN_ARGO_MAX_RINGS_PER_DOMAIN;
	int ret;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	for (k = 0; k <= n; k++) {
		ret = reg_ring(a, p + k, me, 48, 0, &rings[k]);
		if (ret == -ENOSPC)
			break;
		CHECK(expect_ret(ret, 0, "register_ring #%u (a new ring)", k + 1));
	}
	if (k > n) {
		failf("register_ring #%u: expected %s at or before ring #%u, got success", n + 1,
		      argo_strerror(-ENOSPC), n);
		return FAIL;
	}
	if (k == 0)
		return skipf("the domain has no ring slot left (Xen's count is at %u already)", n);
	CHECK(expect_ret(reg_ring(a, p + n + 1, me, 48, 0, NULL), -ENOSPC,
	                 "register_ring of another new ring after %s at ring #%u",
	                 argo_strerror(-ENOSPC), k + 1));
	/* The count is checked before the lookup (A:1711): even a re-register. */
	CHECK(expect_ret(reg_ring(a, p, me, 48, 0, NULL), -ENOSPC,
	                 "re-register_ring of an existing ring at the limit (%u new rings)", k));
	CHECK(expect_ret(reg_ring(a, p, me, 48, XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, NULL), -ENOSPC,
	                 "re-register_ring with FAIL_EXIST of an existing ring at the limit"));
	CHECK(expect_ret(argo_unregister_ring(a, rings[k / 2]), 0,
	                 "unregister_ring of ring #%u of %u", k / 2 + 1, k));
	CHECK(expect_ret(reg_ring(a, p + n + 1, me, 48, 0, NULL), 0,
	                 "register_ring after unregistering one of %u", k));
	CHECK(expect_ret(reg_ring(a, p + n + 2, me, 48, 0, NULL), -ENOSPC,
	                 "register_ring beyond the limit again"));
	return PASS;
}

/* ---- unregister_ring (notes c) ------------------------------------------- */

static enum result t_unregister_basic(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t b = 0x42;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	CHECK(expect_ret(unreg_raw(a, g_port, me, 0), 0, "unregister_ring"));
	CHECK(expect_ret(unreg_raw(a, g_port, me, 0), -ENOENT, "second unregister_ring"));
	argo_ring_release(r);
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "after unregistering"));
	CHECK(expect_ret(send_buf(a, me, 7, me, g_port, &b, 1, 0), -ECONNREFUSED,
	                 "sendv to the unregistered ring"));
	CHECK(must_reg(a, g_port, me, 256, &r));
	CHECK(must_send(a, me, 7, me, g_port, &b, 1, 0));
	CHECK(expect_msg(r, me, 7, 0, &b, 1, "message into the ring registered again"));
	return PASS;
}

static enum result t_unregister_missing(void)
{
	struct argo_fabric *a;
	argo_domid_t me;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(expect_ret(unreg_raw(a, g_port, me, 0), -ENOENT,
	                 "unregister_ring of a ring never registered"));
	CHECK(must_reg(a, g_port, me, 256, NULL));
	CHECK(expect_ret(unreg_raw(a, g_port + 1, me, 0), -ENOENT,
	                 "unregister_ring of another port"));
	CHECK(expect_ret(unreg_raw(a, g_port, MISSING_DOMID, 0), -ENOENT,
	                 "unregister_ring of the port with another partner"));
	CHECK(expect_ret(unreg_raw(a, g_port, me, 0), 0, "unregister_ring of the registered ring"));
	return PASS;
}

static enum result t_unregister_pad(void)
{
	struct argo_fabric *a;
	argo_domid_t me;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, NULL));
	CHECK(expect_ret(unreg_raw(a, g_port, me, 1), -EINVAL, "unregister_ring with pad 1"));
	CHECK(expect_ret(unreg_raw(a, g_port, me, 0x8000), -EINVAL,
	                 "unregister_ring with pad 0x8000"));
	/* pad is checked before the lookup (A:1542). */
	CHECK(expect_ret(unreg_raw(a, g_port + 1, me, 1), -EINVAL,
	                 "unregister_ring of a missing ring with pad 1"));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 224,
	                   "the ring after the refused unregisters"));
	CHECK(expect_ret(unreg_raw(a, g_port, me, 0), 0, "unregister_ring with pad 0"));
	return PASS;
}

static enum result t_unregister_any_needs_any(void)
{
	struct argo_fabric *a;
	argo_domid_t me;
	uint32_t p = g_port, q = g_port + 1;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	/* An exact ring is not removed by naming ANY (A:1559, no fallback). */
	CHECK(must_reg(a, q, me, 256, NULL));
	CHECK(expect_ret(unreg_raw(a, q, XEN_ARGO_DOMID_ANY, 0), -ENOENT,
	                 "unregister_ring(partner ANY) of a ring with partner self"));
	CHECK(expect_ret(unreg_raw(a, q, me, 0), 0,
	                 "unregister_ring(partner self) of a ring with partner self"));
	if (!opt.mac_permissive)
		return skipf("the wildcard half needs --mac-permissive yes (the exact-ring half "
		             "passed)");
	CHECK(must_reg(a, p, XEN_ARGO_DOMID_ANY, 256, NULL));
	CHECK(expect_ret(unreg_raw(a, p, me, 0), -ENOENT,
	                 "unregister_ring(partner self) of a wildcard ring"));
	CHECK(expect_ret(unreg_raw(a, p, MISSING_DOMID, 0), -ENOENT,
	                 "unregister_ring(partner %u) of a wildcard ring", MISSING_DOMID));
	CHECK(expect_query(a, me, p, 0, F_EXISTS | F_SHARED | F_EMPTY | F_SUFF, 224,
	                   "the wildcard ring after the refused unregisters"));
	CHECK(expect_ret(unreg_raw(a, p, XEN_ARGO_DOMID_ANY, 0), 0,
	                 "unregister_ring(partner ANY) of a wildcard ring"));
	CHECK(expect_query(a, me, p, 0, 0, MARKER, "after unregistering the wildcard ring"));
	return PASS;
}

/* ---- sendv (notes d) ----------------------------------------------------- */

static enum result t_sendv_basic(void)
{
	struct argo_fabric *a, *b;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t m1[11], m2[20], zero[256] = {0};
	uint32_t p = g_port, sport = g_port + 77;

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	pattern(m1, sizeof(m1), 31);
	pattern(m2, sizeof(m2), 32);
	CHECK(must_reg(b, p, da, 256, &r));

	CHECK(expect_ret(send_buf(a, da, sport, db, p, m1, sizeof(m1), 0x12345678u),
	                 (long)sizeof(m1), "sendv of 11 bytes (return value is the payload size)"));
	CHECK(expect_hdr(r, 0, HDR + sizeof(m1), da, sport, 0x12345678u, "first message"));
	CHECK(expect_bytes(ring_mem(r)->ring + HDR, m1, sizeof(m1), "first message payload"));
	CHECK(expect_eq(ring_tx(r), 32, "tx_ptr after a 11-byte message (roundup16(16 + 11))"));
	CHECK(expect_eq(ring_rx(r), 0, "rx_ptr (never written by the fabric)"));

	CHECK(expect_ret(send_buf(a, da, sport + 1, db, p, m2, sizeof(m2), 0xFEDCBA98u),
	                 (long)sizeof(m2), "sendv of 20 bytes"));
	CHECK(expect_hdr(r, 32, HDR + sizeof(m2), da, sport + 1, 0xFEDCBA98u, "second message"));
	CHECK(expect_bytes(ring_mem(r)->ring + 32 + HDR, m2, sizeof(m2), "second message payload"));
	CHECK(expect_eq(ring_tx(r), 32 + 48, "tx_ptr after the second message"));
	CHECK(expect_eq(ring_rx(r), 0, "rx_ptr (never written by the fabric)"));
	CHECK(expect_bytes(ring_mem(r)->ring + 80, zero, 256 - 80, "ring bytes past the messages"));

	CHECK(expect_msg(r, da, sport, 0x12345678u, m1, sizeof(m1), "first message"));
	CHECK(expect_msg(r, da, sport + 1, 0xFEDCBA98u, m2, sizeof(m2), "second message"));
	CHECK(expect_ring_empty(r, "after two messages"));
	return PASS;
}

static enum result t_sendv_padding_untouched(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t m1[80], m2[16], m3[3] = {'x', 'y', 'z'}, before[128];
	uint32_t p = g_port;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	pattern(m1, sizeof(m1), 41);
	pattern(m2, sizeof(m2), 42);
	CHECK(must_reg(a, p, me, 128, &r));
	/* Fill offsets 0..95 with a long message and consume it. */
	CHECK(must_send(a, me, 1, me, p, m1, sizeof(m1), 1));
	CHECK(expect_msg(r, me, 1, 1, m1, sizeof(m1), "the long message"));
	/* A message filling 96..127 brings tx back to 0. */
	CHECK(must_send(a, me, 1, me, p, m2, sizeof(m2), 2));
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr after a message ending at the ring's end"));
	CHECK(expect_msg(r, me, 1, 2, m2, sizeof(m2), "the message at the end"));
	CHECK(expect_ret(argo_notify(a, NULL), 0, "notify"));

	memcpy(before, ring_mem(r)->ring, sizeof(before));
	CHECK(expect_bytes(before + HDR + 3, m1 + 3, 13, "pre-filled bytes 19..31"));
	CHECK(must_send(a, me, 9, me, p, m3, sizeof(m3), 3));
	CHECK(expect_hdr(r, 0, HDR + 3, me, 9, 3, "the 3-byte message"));
	CHECK(expect_bytes(ring_mem(r)->ring + HDR, m3, 3, "the 3-byte message payload"));
	/* A:962-965: the gap to the next slot is not written. */
	CHECK(expect_bytes(ring_mem(r)->ring + HDR + 3, before + HDR + 3, 13,
	                   "pad bytes after a 3-byte payload (must keep their old contents)"));
	CHECK(expect_bytes(ring_mem(r)->ring + 32, before + 32, 128 - 32,
	                   "ring bytes past the 3-byte message"));
	CHECK(expect_eq(ring_tx(r), 32, "tx_ptr after the 3-byte message"));
	CHECK(expect_msg(r, me, 9, 3, m3, sizeof(m3), "the 3-byte message"));
	return PASS;
}

static enum result t_sendv_src_any(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[9];

	CHECK(open_primary(&a));
	me = argo_domid(a);
	pattern(buf, sizeof(buf), 5);
	CHECK(must_reg(a, g_port, me, 256, &r));
	CHECK(expect_ret(send_buf(a, XEN_ARGO_DOMID_ANY, 4321, me, g_port, buf, sizeof(buf), 5),
	                 (long)sizeof(buf), "sendv with source domain ANY"));
	CHECK(expect_hdr(r, 0, HDR + sizeof(buf), me, 4321, 5,
	                 "message sent with source ANY (stamped with the sender's domid)"));
	CHECK(expect_msg(r, me, 4321, 5, buf, sizeof(buf), "message sent with source ANY"));
	return PASS;
}

static enum result t_sendv_src_forged(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me, forged[4];
	uint8_t buf[9] = {0};
	size_t i, n = 0;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	forged[n++] = MISSING_DOMID;
	forged[n++] = XEN_DOMID_SELF; /* only ANY means "me" (A:1977-1981) */
	forged[n++] = me ? 0 : 1;
	forged[n++] = (argo_domid_t)(me + 1 < XEN_DOMID_FIRST_RESERVED ? me + 1 : me - 1);
	argo_event_clear(a);
	for (i = 0; i < n; i++) {
		if (forged[i] == me)
			continue;
		CHECK(expect_ret(send_buf(a, forged[i], 1, me, g_port, buf, sizeof(buf), 0), -EPERM,
		                 "sendv with source domain %u from domain %u", forged[i], me));
	}
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr after the refused sends"));
	CHECK(expect_ring_empty(r, "after the refused sends"));
	CHECK(expect_no_event(a, "after the refused sends"));
	return PASS;
}

static enum result t_sendv_missing_domain(void)
{
	struct argo_fabric *a;
	argo_domid_t me;
	uint8_t buf[4] = {0};
	xen_argo_send_addr_t addr;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	if (me == MISSING_DOMID)
		return skipf("the primary domain has the domid used as missing (%u)", me);
	CHECK(expect_ret(send_buf(a, me, 1, MISSING_DOMID, g_port, buf, sizeof(buf), 0), -ESRCH,
	                 "sendv to domain %u (no such domain)", MISSING_DOMID));
	addr = mkaddr(XEN_ARGO_DOMID_ANY, 1, MISSING_DOMID, g_port);
	CHECK(expect_ret(argo_sendv(a, &addr, NULL, 0, 0), -ESRCH,
	                 "sendv with no iov to domain %u (no such domain)", MISSING_DOMID));
	return PASS;
}

static enum result t_sendv_no_ring(void)
{
	struct argo_fabric *a;
	argo_domid_t me;
	uint8_t buf[4] = {0}, *big;
	struct iovec iov;
	xen_argo_send_addr_t addr;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, sizeof(buf), 0), -ECONNREFUSED,
	                 "sendv to a port without a ring"));
	CHECK(must_reg(a, g_port + 1, me, 256, NULL));
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, sizeof(buf), 0), -ECONNREFUSED,
	                 "sendv to a port next to a ring"));
	/* iov lengths are only checked once a ring is found (A:721-763). */
	big = scratch(MAX_MESSAGE + 1);
	CHECK(big);
	iov.iov_base = big;
	iov.iov_len = MAX_MESSAGE + 1;
	addr = mkaddr(me, 1, me, g_port);
	CHECK(expect_ret(argo_sendv(a, &addr, &iov, 1, 0), -ECONNREFUSED,
	                 "sendv of an over-long iov (0x%x bytes) to a port without a ring",
	                 MAX_MESSAGE + 1));
	return PASS;
}

static enum result t_sendv_zero_iov(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	struct iovec iov = {.iov_base = NULL, .iov_len = 0};
	xen_argo_send_addr_t addr;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	addr = mkaddr(me, 11, me, g_port);
	CHECK(expect_ret(argo_sendv(a, &addr, NULL, 0, 0xA0), 0, "sendv with no iov"));
	CHECK(expect_hdr(r, 0, HDR, me, 11, 0xA0, "header-only message"));
	CHECK(expect_eq(ring_tx(r), 16, "tx_ptr after a header-only message"));
	addr.src.aport = 12;
	CHECK(expect_ret(argo_sendv(a, &addr, &iov, 1, 0xA1), 0, "sendv with one zero-length iov"));
	CHECK(expect_hdr(r, 16, HDR, me, 12, 0xA1, "message of one empty iov"));
	CHECK(expect_eq(ring_tx(r), 32, "tx_ptr after a second header-only message"));
	CHECK(expect_msg(r, me, 11, 0xA0, NULL, 0, "header-only message"));
	CHECK(expect_msg(r, me, 12, 0xA1, NULL, 0, "message of one empty iov"));
	CHECK(expect_ring_empty(r, "after two header-only messages"));
	return PASS;
}

static enum result t_sendv_eight_iov(void)
{
	static const size_t lens[8] = {3, 0, 5, 0, 17, 1, 0, 9};
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	struct iovec iov[8];
	uint8_t parts[8][17], want[64];
	xen_argo_send_addr_t addr;
	size_t i, total = 0;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	for (i = 0; i < 8; i++) {
		pattern(parts[i], sizeof(parts[i]), (uint32_t)(60 + i));
		/* Empty iovs point nowhere: Xen skips them unread (A:855-956). */
		iov[i].iov_base = lens[i] ? parts[i] : NULL;
		iov[i].iov_len = lens[i];
		memcpy(want + total, parts[i], lens[i]);
		total += lens[i];
	}
	addr = mkaddr(me, 8, me, g_port);
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 8, 0x88), (long)total, "sendv with 8 iovs"));
	CHECK(expect_hdr(r, 0, HDR + (uint32_t)total, me, 8, 0x88, "message of 8 iovs"));
	CHECK(expect_bytes(ring_mem(r)->ring + HDR, want, total,
	                   "payload of 8 iovs (concatenated in order)"));
	CHECK(expect_eq(ring_tx(r), argo_roundup16(HDR + (uint32_t)total),
	                "tx_ptr after the message of 8 iovs"));
	CHECK(expect_msg(r, me, 8, 0x88, want, total, "message of 8 iovs"));
	return PASS;
}

static enum result t_sendv_nine_iov(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	struct iovec iov[9];
	uint8_t bytes[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	xen_argo_send_addr_t addr;
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	for (i = 0; i < 9; i++) {
		iov[i].iov_base = &bytes[i];
		iov[i].iov_len = 1;
	}
	argo_event_clear(a);
	addr = mkaddr(me, 9, me, g_port);
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 9, 0), -EINVAL, "sendv with 9 iovs"));
	/* Checked at dispatch, before the destination is looked up (A:2167). */
	addr = mkaddr(me, 9, MISSING_DOMID, g_port);
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 9, 0), -EINVAL,
	                 "sendv with 9 iovs to a missing domain"));
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr after the refused sends"));
	CHECK(expect_no_event(a, "after the refused sends"));
	return PASS;
}

static enum result t_sendv_too_large_for_ring(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[64];

	CHECK(open_primary(&a));
	me = argo_domid(a);
	pattern(buf, sizeof(buf), 7);
	CHECK(must_reg(a, g_port, me, 64, &r)); /* max message 32 */
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, 33, 0), -EMSGSIZE,
	                 "sendv of 33 bytes to an empty 64-byte ring"));
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, 64, 0), -EMSGSIZE,
	                 "sendv of 64 bytes to an empty 64-byte ring"));
	CHECK(must_send(a, me, 1, me, g_port, buf, 32, 0));
	/* The size test comes before the space test (A:789-791). */
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, 33, 0), -EMSGSIZE,
	                 "sendv of 33 bytes to a full 64-byte ring"));
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, buf, 1, 0), -EAGAIN,
	                 "sendv of 1 byte to a full 64-byte ring"));
	CHECK(expect_msg(r, me, 1, 0, buf, 32, "the 32-byte message"));
	return PASS;
}

static enum result t_sendv_max_message(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t m1[256], m2[224];

	CHECK(open_primary(&a));
	me = argo_domid(a);
	pattern(m1, sizeof(m1), 8);
	pattern(m2, sizeof(m2), 9);
	CHECK(must_reg(a, g_port, me, 256, &r));
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, m1, 256 - 31, 0), -EMSGSIZE,
	                 "sendv of len-31 = 225 bytes to an empty 256-byte ring"));
	CHECK(expect_ret(send_buf(a, me, 1, me, g_port, m1, 256 - 32, 1), 256 - 32,
	                 "sendv of len-32 = 224 bytes to an empty 256-byte ring"));
	CHECK(expect_eq(ring_tx(r), 240, "tx_ptr after a 224-byte message"));
	CHECK(expect_msg(r, me, 1, 1, m1, 224, "the first 224-byte message"));
	CHECK(expect_ret(argo_notify(a, NULL), 0, "notify"));
	/* Empty again at 240: the next one's payload wraps to the start. */
	CHECK(expect_ret(send_buf(a, me, 2, me, g_port, m2, 224, 2), 224,
	                 "sendv of 224 bytes to the emptied ring (payload wraps)"));
	CHECK(expect_hdr(r, 240, HDR + 224, me, 2, 2, "the wrapping message"));
	CHECK(expect_bytes(ring_mem(r)->ring, m2, 224, "the wrapped payload at the ring's start"));
	CHECK(expect_eq(ring_tx(r), 224, "tx_ptr after the wrapping message"));
	CHECK(expect_msg(r, me, 2, 2, m2, 224, "the wrapping message"));
	return PASS;
}

static enum result t_sendv_total_too_large(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t *big;
	struct iovec iov[8];
	xen_argo_send_addr_t addr;
	size_t i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, LARGEST_RING, &r));
	big = scratch(XEN_ARGO_MAX_RING_SIZE);
	CHECK(big);
	pattern(big, XEN_ARGO_MAX_RING_SIZE, 10);
	addr = mkaddr(me, 1, me, g_port);

	iov[0].iov_base = big;
	iov[0].iov_len = 0x800000;
	iov[1].iov_base = big + 0x800000;
	iov[1].iov_len = MAX_MESSAGE + 1 - 0x800000;
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 2, 0), -EMSGSIZE,
	                 "sendv of 2 iovs totalling 0x%x bytes", MAX_MESSAGE + 1));
	for (i = 0; i < 8; i++) {
		iov[i].iov_base = big + i * 0x200000;
		iov[i].iov_len = 0x200000;
	}
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 8, 0), -EMSGSIZE,
	                 "sendv of 8 iovs totalling 0x%x bytes", 8 * 0x200000));
	/* The running total is checked iov by iov (A:740-757): it is over the
	 * limit before the third, itself too long (EINVAL), is looked at. */
	iov[0].iov_len = 0x800000;
	iov[1].iov_len = 0x800000;
	iov[2].iov_base = big;
	iov[2].iov_len = MAX_MESSAGE + 1;
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 3, 0), -EMSGSIZE,
	                 "sendv of iovs of 0x800000, 0x800000 and 0x%x bytes", MAX_MESSAGE + 1));
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr after the refused sends"));

	/* Control: the ring takes its own largest message, len - 32. */
	iov[0].iov_base = big;
	iov[0].iov_len = 0x800000;
	iov[1].iov_base = big + 0x800000;
	iov[1].iov_len = LARGEST_RING - 32 - 0x800000;
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 2, 3), (long)(LARGEST_RING - 32),
	                 "sendv of 2 iovs totalling 0x%x bytes to a ring of 0x%x",
	                 LARGEST_RING - 32, LARGEST_RING));
	CHECK(expect_msg(r, me, 1, 3, big, LARGEST_RING - 32, "the largest message"));
	return PASS;
}

static enum result t_sendv_iov_too_large(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t *big;
	struct iovec iov[2];
	xen_argo_send_addr_t addr;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, LARGEST_RING, &r));
	big = scratch(MAX_MESSAGE + 16);
	CHECK(big);
	addr = mkaddr(me, 1, me, g_port);
	/* One iov longer than MAX_ARGO_MESSAGE_SIZE: EINVAL, not EMSGSIZE. */
	iov[0].iov_base = big;
	iov[0].iov_len = MAX_MESSAGE + 1;
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 1, 0), -EINVAL, "sendv of one iov of 0x%x bytes",
	                 MAX_MESSAGE + 1));
	iov[0].iov_len = 16;
	iov[1].iov_base = big;
	iov[1].iov_len = MAX_MESSAGE + 1;
	CHECK(expect_ret(argo_sendv(a, &addr, iov, 2, 0), -EINVAL,
	                 "sendv of iovs of 16 and 0x%x bytes", MAX_MESSAGE + 1));
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr after the refused sends"));
	return PASS;
}

static enum result t_sendv_addr_pad(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[4] = {0};
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	xen_argo_send_addr_t addr;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, &r));
	addr = mkaddr(me, 1, me, g_port);
	addr.src.pad = 1;
	CHECK(expect_ret(argo_sendv(a, &addr, &iov, 1, 0), -EINVAL, "sendv with src.pad 1"));
	addr = mkaddr(me, 1, me, g_port);
	addr.dst.pad = 0x100;
	CHECK(expect_ret(argo_sendv(a, &addr, &iov, 1, 0), -EINVAL, "sendv with dst.pad 0x100"));
	/* The pads are checked first (A:1974). */
	addr = mkaddr(MISSING_DOMID, 1, me, g_port);
	addr.src.pad = 1;
	CHECK(expect_ret(argo_sendv(a, &addr, &iov, 1, 0), -EINVAL,
	                 "sendv with src.pad 1 and a forged source"));
	addr = mkaddr(me, 1, MISSING_DOMID, g_port);
	addr.dst.pad = 1;
	CHECK(expect_ret(argo_sendv(a, &addr, &iov, 1, 0), -EINVAL,
	                 "sendv with dst.pad 1 to a missing domain"));
	CHECK(expect_eq(ring_tx(r), 0, "tx_ptr after the refused sends"));
	return PASS;
}

static enum result t_sendv_exact_before_any(void)
{
	struct argo_fabric *a, *b;
	struct argo_ring *exact, *any;
	argo_domid_t da, db;
	uint8_t m1[5] = {1, 1, 1, 1, 1}, m2[6] = {2, 2, 2, 2, 2, 2}, m3[7] = {3, 3, 3, 3, 3, 3, 3};
	uint32_t p = g_port;

	NEED_MAC();
	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(a, p, db, 256, &exact));
	CHECK(must_reg(a, p, XEN_ARGO_DOMID_ANY, 512, &any));

	/* The sender's own ring first, then the wildcard one (A:384-404). */
	CHECK(expect_query(b, da, p, 0, F_EXISTS | F_EMPTY | F_SUFF, 224,
	                   "ring seen by the exact partner"));
	CHECK(expect_query(a, da, p, 0, F_EXISTS | F_SHARED | F_EMPTY | F_SUFF, 480,
	                   "ring seen by another domain"));
	CHECK(must_send(b, db, 1, da, p, m1, sizeof(m1), 1));
	CHECK(must_send(a, da, 2, da, p, m2, sizeof(m2), 2));
	CHECK(expect_msg(exact, db, 1, 1, m1, sizeof(m1), "the partner's message (exact ring)"));
	CHECK(expect_ring_empty(exact, "the exact ring after the partner's message"));
	CHECK(
	    expect_msg(any, da, 2, 2, m2, sizeof(m2), "another domain's message (wildcard ring)"));
	CHECK(expect_ring_empty(any, "the wildcard ring"));

	CHECK(expect_ret(argo_unregister_ring(a, exact), 0, "unregister_ring of the exact ring"));
	CHECK(must_send(b, db, 3, da, p, m3, sizeof(m3), 3));
	CHECK(expect_msg(any, db, 3, 3, m3, sizeof(m3),
	                 "the partner's message once its exact ring is gone"));
	return PASS;
}

static enum result t_sendv_to_self(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t buf[33];

	CHECK(open_primary(&a));
	me = argo_domid(a);
	pattern(buf, sizeof(buf), 12);
	CHECK(must_reg(a, g_port, me, 256, &r));
	argo_event_clear(a);
	CHECK(must_send(a, me, 3, me, g_port, buf, sizeof(buf), 0x5E1F));
	CHECK(expect_event(a, "after sending to itself"));
	CHECK(expect_msg(r, me, 3, 0x5E1F, buf, sizeof(buf), "message to itself"));
	return PASS;
}

static enum result t_sendv_event_raised(void)
{
	struct argo_fabric *a, *b;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t buf[97] = {0};
	struct iovec iov9[9];
	xen_argo_send_addr_t addr;
	uint32_t p = g_port;
	int i;

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(b, p, da, 128, &r)); /* max message 96 */
	argo_event_clear(a);
	argo_event_clear(b);
	CHECK(expect_no_event(b, "before any send"));

	CHECK(must_send(a, da, 1, db, p, buf, 10, 0));
	CHECK(expect_event(b, "destination after a send"));
	CHECK(expect_no_event(a, "sender after its send"));

	/* A:2064: only a successful send raises the event. */
	argo_event_clear(b);
	CHECK(expect_ret(send_buf(a, da, 1, db, p + 1, buf, 10, 0), -ECONNREFUSED,
	                 "sendv to a port without a ring"));
	CHECK(expect_ret(send_buf(a, da, 1, db, p, buf, 97, 0), -EMSGSIZE,
	                 "sendv of 97 bytes to a 128-byte ring"));
	CHECK(expect_ret(send_buf(a, MISSING_DOMID, 1, db, p, buf, 10, 0), -EPERM,
	                 "sendv with a forged source"));
	for (i = 0; i < 9; i++) {
		iov9[i].iov_base = buf;
		iov9[i].iov_len = 1;
	}
	addr = mkaddr(da, 1, db, p);
	CHECK(expect_ret(argo_sendv(a, &addr, iov9, 9, 0), -EINVAL, "sendv with 9 iovs"));
	CHECK(expect_no_event(b, "destination after refused sends"));

	CHECK(must_send(a, da, 1, db, p, buf, 64, 0)); /* the ring is now full */
	CHECK(expect_event(b, "destination after the second send"));
	CHECK(expect_ret(send_buf(a, da, 1, db, p, buf, 0, 0), -EAGAIN,
	                 "sendv of 0 bytes to the full ring"));
	CHECK(expect_no_event(b, "destination after a send refused with EAGAIN"));
	CHECK(expect_no_event(a, "sender after its send was refused with EAGAIN"));
	return PASS;
}

/* ---- Full ring, order, waiters (notes d.10-11, g, i) --------------------- */

static enum result t_full_ring_eagain(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t m[8][16], one = 0x11;
	uint32_t p = g_port;
	int i;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, p, me, 256, &r));
	/* Each 16-byte message takes 32 bytes; a send needs roundup16(len)+16 <
	 * free space (A:814-819), so 7 fit and leave 32 bytes. */
	for (i = 0; i < 8; i++)
		pattern(m[i], 16, (uint32_t)(70 + i));
	for (i = 0; i < 7; i++)
		CHECK(expect_ret(send_buf(a, me, (uint32_t)i, me, p, m[i], 16, (uint32_t)i), 16,
		                 "sendv of 16-byte message #%d to a 256-byte ring", i + 1));
	CHECK(expect_eq(ring_tx(r), 224, "tx_ptr after 7 messages"));
	CHECK(expect_ret(send_buf(a, me, 99, me, p, m[7], 16, 99), -EAGAIN,
	                 "sendv of a 16-byte message with 32 bytes free"));
	CHECK(expect_ret(send_buf(a, me, 99, me, p, &one, 1, 99), -EAGAIN,
	                 "sendv of a 1-byte message with 32 bytes free"));
	CHECK(expect_ret(send_buf(a, me, 7, me, p, NULL, 0, 7), 0,
	                 "sendv of a header-only message with 32 bytes free"));
	CHECK(expect_eq(ring_tx(r), 240, "tx_ptr after the header-only message"));
	/* 16 bytes free: the last slot always stays empty. */
	CHECK(expect_ret(send_buf(a, me, 99, me, p, NULL, 0, 99), -EAGAIN,
	                 "sendv of a header-only message with 16 bytes free"));
	CHECK(expect_query(a, me, p, 1, F_EXISTS, 224, "the full ring"));

	/* Freeing one message (32 bytes) makes room for one 16-byte message,
	 * whose payload wraps to the ring's start. */
	CHECK(expect_msg(r, me, 0, 0, m[0], 16, "message #1"));
	CHECK(expect_ret(argo_notify(a, NULL), 0, "notify"));
	CHECK(expect_ret(send_buf(a, me, 8, me, p, m[7], 16, 8), 16,
	                 "sendv of a 16-byte message with 48 bytes free"));
	CHECK(expect_eq(ring_tx(r), 16, "tx_ptr after the wrapping message"));
	CHECK(expect_ret(send_buf(a, me, 99, me, p, NULL, 0, 99), -EAGAIN,
	                 "sendv of a header-only message with 16 bytes free after the wrap"));
	for (i = 1; i < 7; i++)
		CHECK(expect_msg(r, me, (uint32_t)i, (uint32_t)i, m[i], 16, "message #%d", i + 1));
	CHECK(expect_msg(r, me, 7, 7, NULL, 0, "the header-only message"));
	CHECK(expect_msg(r, me, 8, 8, m[7], 16, "the wrapping message"));
	CHECK(expect_ring_empty(r, "after draining"));
	return PASS;
}

static size_t order_len(unsigned int i)
{
	return (i * 37u) % 181u;
}

static enum result t_full_ring_order(void)
{
	enum { N = 400, RING = 1024 };
	struct argo_fabric *a, *b;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t out[181], want[181];
	unsigned int sent = 0, rcvd = 0, eagains = 0;
	uint32_t p = g_port;

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(b, p, da, RING, &r));
	argo_event_clear(a);
	while (sent < N) {
		size_t n = order_len(sent);
		ssize_t ret;

		pattern(out, n, sent);
		ret = send_buf(a, da, 1000 + sent % 7, db, p, out, n, sent);
		if (ret == (ssize_t)n) {
			sent++;
			continue;
		}
		CHECK(expect_ret(ret, -EAGAIN, "sendv of message #%u (%zu bytes)", sent, n));
		eagains++;
		CHECK(expect_no_event(a, "sender right after EAGAIN on message #%u", sent));
		/* The receiver drains until half the ring is free, then notifies:
		 * the sender's wanted length fits, so it is woken (A:1876-1900). */
		while (argo_ring_used(ring_mem(r), r->len) > RING / 2) {
			size_t m = order_len(rcvd);

			pattern(want, m, rcvd);
			CHECK(
			    expect_msg(r, da, 1000 + rcvd % 7, rcvd, want, m, "message #%u", rcvd));
			rcvd++;
		}
		CHECK(expect_ret(argo_notify(b, NULL), 0, "receiver's notify"));
		CHECK(expect_event(a,
		                   "sender waiting to send message #%u, after the receiver "
		                   "freed half the ring and called notify",
		                   sent));
	}
	while (rcvd < N) {
		size_t m = order_len(rcvd);

		pattern(want, m, rcvd);
		CHECK(expect_msg(r, da, 1000 + rcvd % 7, rcvd, want, m, "message #%u", rcvd));
		rcvd++;
	}
	CHECK(expect_ring_empty(r, "after all messages"));
	if (eagains == 0) {
		failf("expected the %u messages to fill the %u-byte ring at least once, got no "
		      "EAGAIN",
		      N, RING);
		return FAIL;
	}
	return PASS;
}

static enum result t_waiter_woken_only_on_fit(void)
{
	struct argo_fabric *a, *b;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t small[15][16], large[200];
	uint32_t p = g_port;
	int i;

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(b, p, da, 512, &r));
	/* 15 messages of 32 bytes leave 32 bytes free: payload space 0. */
	for (i = 0; i < 15; i++) {
		pattern(small[i], 16, (uint32_t)(100 + i));
		CHECK(expect_ret(send_buf(a, da, 1, db, p, small[i], 16, (uint32_t)i), 16,
		                 "sendv of 16-byte message #%d to a 512-byte ring", i + 1));
	}
	pattern(large, sizeof(large), 200);
	argo_event_clear(a);
	CHECK(expect_ret(send_buf(a, da, 2, db, p, large, sizeof(large), 200), -EAGAIN,
	                 "sendv of 200 bytes to the full ring"));
	/* A smaller retry does not shrink the wait: the waiter's length only
	 * grows (pending_requeue, A:1125-1156). */
	CHECK(expect_ret(send_buf(a, da, 2, db, p, large, 16, 16), -EAGAIN,
	                 "sendv of 16 bytes to the full ring, after 200 bytes were refused"));

	/* After k messages are consumed the payload space is 32*k: a waiter for
	 * 200 bytes is woken only at k = 7 (A:1084). */
	for (i = 0; i < 7; i++) {
		CHECK(expect_msg(r, da, 1, (uint32_t)i, small[i], 16, "message #%d", i + 1));
		CHECK(expect_ret(argo_notify(b, NULL), 0, "receiver's notify"));
		if (i < 6)
			CHECK(expect_no_event(a,
			                      "sender waiting for 200 bytes after the receiver "
			                      "freed %d bytes of payload space and notified",
			                      32 * (i + 1)));
	}
	CHECK(expect_event(a, "sender waiting for 200 bytes after the receiver freed 224 bytes "
	                      "of payload space and notified"));
	CHECK(expect_ret(send_buf(a, da, 2, db, p, large, sizeof(large), 200), 200,
	                 "sendv of 200 bytes after the wake-up"));
	for (i = 7; i < 15; i++)
		CHECK(expect_msg(r, da, 1, (uint32_t)i, small[i], 16, "message #%d", i + 1));
	CHECK(expect_msg(r, da, 2, 200, large, sizeof(large), "the 200-byte message"));
	CHECK(expect_ring_empty(r, "after draining"));
	return PASS;
}

/* ---- notify (notes e) ---------------------------------------------------- */

static enum result t_notify_null(void)
{
	struct argo_fabric *a;
	xen_argo_ring_data_t *rd;

	CHECK(open_primary(&a));
	CHECK(expect_ret(argo_notify(a, NULL), 0, "notify(NULL)"));
	rd = rd_new(0);
	CHECK(rd);
	CHECK(expect_ret(argo_notify(a, rd), 0, "notify with nent 0"));
	return PASS;
}

static enum result t_notify_too_many(void)
{
	struct argo_fabric *a;
	xen_argo_ring_data_t *rd;
	argo_domid_t me;
	uint32_t i, n = XEN_ARGO_MAX_NOTIFY_COUNT;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port + n - 1, me, 256, NULL));
	rd = rd_new(n + 1);
	CHECK(rd);
	for (i = 0; i < n + 1; i++)
		ent_init(&rd->data[i], me, g_port + i, 0);
	CHECK(expect_ret(argo_notify(a, rd), -EACCES, "notify with nent %u", n + 1));
	for (i = 0; i < n + 1; i++)
		CHECK(expect_flags(rd->data[i].flags, 0xFFFF,
		                   "flags of entry %u after a refused notify (untouched)", i) &&
		      expect_eq(rd->data[i].max_message_size, MARKER,
		                "max_message_size of entry %u after a refused notify", i));
	/* 256 is accepted, and every entry is filled in. */
	rd->nent = n;
	CHECK(expect_ret(argo_notify(a, rd), 0, "notify with nent %u", n));
	for (i = 0; i < n - 1; i++)
		CHECK(expect_flags(rd->data[i].flags, 0, "flags of entry %u (no ring)", i) &&
		      expect_eq(rd->data[i].max_message_size, MARKER,
		                "max_message_size of entry %u (no ring: echoed)", i));
	CHECK(expect_flags(rd->data[n - 1].flags, F_EXISTS | F_EMPTY | F_SUFF,
	                   "flags of entry %u (a ring)", n - 1) &&
	      expect_eq(rd->data[n - 1].max_message_size, 224,
	                "max_message_size of entry %u (a ring)", n - 1));
	CHECK(expect_flags(rd->data[n].flags, 0xFFFF, "flags of the entry past nent (untouched)"));
	return PASS;
}

static enum result t_notify_flags_exists_empty(void)
{
	struct argo_fabric *a;
	struct argo_ring *r;
	argo_domid_t me;
	uint8_t b = 1;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 1024, &r));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 1024 - 32,
	                   "an empty 1024-byte ring"));
	CHECK(expect_query(a, me, g_port, 1024 - 32, F_EXISTS | F_EMPTY | F_SUFF, 1024 - 32,
	                   "an empty 1024-byte ring"));
	CHECK(must_send(a, me, 1, me, g_port, &b, 1, 0));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_SUFF, 1024 - 32,
	                   "a 1024-byte ring holding one message"));
	CHECK(expect_msg(r, me, 1, 0, &b, 1, "the message"));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 1024 - 32,
	                   "the 1024-byte ring emptied"));
	return PASS;
}

static enum result t_notify_missing_ring(void)
{
	struct argo_fabric *a;
	xen_argo_ring_data_t *rd;
	argo_domid_t me;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(expect_query(a, me, g_port, 0, 0, MARKER, "a port without a ring"));
	CHECK(expect_query(a, me, g_port, 100, 0, MARKER,
	                   "a port without a ring, space_required 100"));
	if (me != MISSING_DOMID)
		CHECK(expect_query(a, MISSING_DOMID, g_port, 0, 0, MARKER, "a missing domain"));
	/* Several entries: each is answered on its own. */
	CHECK(must_reg(a, g_port + 1, me, 256, NULL));
	rd = rd_new(3);
	CHECK(rd);
	ent_init(&rd->data[0], me, g_port, 0);
	ent_init(&rd->data[1], me, g_port + 1, 0);
	ent_init(&rd->data[2], me, g_port + 2, 0);
	CHECK(expect_ret(argo_notify(a, rd), 0, "notify with 3 entries"));
	CHECK(expect_flags(rd->data[0].flags, 0, "entry 0 (no ring): flags") &&
	      expect_eq(rd->data[0].max_message_size, MARKER,
	                "entry 0 (no ring): max_message_size (echoed)") &&
	      expect_flags(rd->data[1].flags, F_EXISTS | F_EMPTY | F_SUFF,
	                   "entry 1 (a ring): flags") &&
	      expect_eq(rd->data[1].max_message_size, 224, "entry 1 (a ring): max_message_size") &&
	      expect_flags(rd->data[2].flags, 0, "entry 2 (no ring): flags") &&
	      expect_eq(rd->data[2].max_message_size, MARKER,
	                "entry 2 (no ring): max_message_size (echoed)"));
	return PASS;
}

static enum result t_notify_shared(void)
{
	struct argo_fabric *a;
	argo_domid_t me;

	NEED_MAC();
	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, XEN_ARGO_DOMID_ANY, 256, NULL));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_SHARED | F_EMPTY | F_SUFF, 224,
	                   "a wildcard ring"));
	/* An exact ring for the caller on the same port is found first. */
	CHECK(must_reg(a, g_port, me, 512, NULL));
	CHECK(expect_query(a, me, g_port, 0, F_EXISTS | F_EMPTY | F_SUFF, 480,
	                   "an exact ring next to a wildcard ring"));
	return PASS;
}

static enum result t_notify_emsgsize(void)
{
	struct argo_fabric *a;
	argo_domid_t me;

	CHECK(open_primary(&a));
	me = argo_domid(a);
	CHECK(must_reg(a, g_port, me, 256, NULL));
	CHECK(expect_query(a, me, g_port, 225, F_EXISTS | F_EMPTY | F_EMSGSIZE, 224,
	                   "space_required 225 on a 256-byte ring"));
	CHECK(expect_query(a, me, g_port, 0xFFFFFFFFu, F_EXISTS | F_EMPTY | F_EMSGSIZE, 224,
	                   "space_required 0xFFFFFFFF on a 256-byte ring"));
	CHECK(expect_query(a, me, g_port, 224, F_EXISTS | F_EMPTY | F_SUFF, 224,
	                   "space_required 224 on a 256-byte ring"));
	return PASS;
}

static enum result t_notify_insufficient_then_woken(void)
{
	struct argo_fabric *a, *b;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t m[7][16];
	uint32_t p = g_port;
	int i;

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(b, p, da, 256, &r));
	for (i = 0; i < 7; i++) {
		pattern(m[i], 16, (uint32_t)(300 + i));
		CHECK(expect_ret(send_buf(a, da, 1, db, p, m[i], 16, 0), 16,
		                 "sendv of 16-byte message #%d to a 256-byte ring", i + 1));
	}
	argo_event_clear(a);
	/* Payload space is 0 now: not SUFFICIENT, and a is queued for 100. */
	CHECK(expect_query(a, db, p, 100, F_EXISTS, 224, "a full ring, space_required 100"));
	CHECK(expect_no_event(a, "requester after its notify"));

	CHECK(expect_msg(r, da, 1, 0, m[0], 16, "message #1"));
	CHECK(expect_ret(argo_notify(b, NULL), 0, "owner's notify"));
	CHECK(expect_no_event(a, "requester for 100 bytes after the owner freed 32 bytes of "
	                         "payload space"));
	for (i = 1; i < 4; i++)
		CHECK(expect_msg(r, da, 1, 0, m[i], 16, "message #%d", i + 1));
	CHECK(expect_ret(argo_notify(b, NULL), 0, "owner's notify"));
	CHECK(expect_event(a, "requester for 100 bytes after the owner freed 128 bytes of "
	                      "payload space and notified"));
	CHECK(expect_query(a, db, p, 100, F_EXISTS | F_SUFF, 224,
	                   "the ring with 128 bytes of payload space, space_required 100"));
	for (i = 4; i < 7; i++)
		CHECK(expect_msg(r, da, 1, 0, m[i], 16, "message #%d", i + 1));
	CHECK(expect_query(a, db, p, 100, F_EXISTS | F_EMPTY | F_SUFF, 224, "the drained ring"));
	return PASS;
}

/* ---- Wildcard rings ------------------------------------------------------ */

static enum result t_wildcard_any_sender(void)
{
	struct argo_fabric *a, *b, *c;
	struct argo_ring *r;
	argo_domid_t da, db, dc;
	uint8_t mb[10], mc[20];
	uint32_t p = g_port;

	NEED_MAC();
	CHECK(open_primary(&a));
	NEED_PEER(&b);
	NEED_PEER(&c);
	da = argo_domid(a);
	db = argo_domid(b);
	dc = argo_domid(c);
	pattern(mb, sizeof(mb), 400);
	pattern(mc, sizeof(mc), 401);
	CHECK(must_reg(a, p, XEN_ARGO_DOMID_ANY, 256, &r));
	CHECK(expect_query(b, da, p, 0, F_EXISTS | F_SHARED | F_EMPTY | F_SUFF, 224,
	                   "the wildcard ring seen by the first sender"));
	CHECK(must_send(b, db, 111, da, p, mb, sizeof(mb), 1));
	CHECK(must_send(c, XEN_ARGO_DOMID_ANY, 222, da, p, mc, sizeof(mc), 2));
	CHECK(must_send(b, XEN_ARGO_DOMID_ANY, 333, da, p, mb, 3, 3));
	CHECK(expect_msg(r, db, 111, 1, mb, sizeof(mb), "the first sender's message"));
	CHECK(expect_msg(r, dc, 222, 2, mc, sizeof(mc), "the second sender's message"));
	CHECK(expect_msg(r, db, 333, 3, mb, 3, "the first sender's second message"));
	CHECK(expect_ring_empty(r, "after three messages"));
	return PASS;
}

/* ---- Teardown (notes h) -------------------------------------------------- */

static enum result t_teardown_partner_death(void)
{
	struct argo_fabric *a, *b;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t buf[4] = {1, 2, 3, 4};
	uint32_t p = g_port;

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(a, p, db, 256, &r));
	CHECK(must_reg(b, p + 1, da, 64, NULL)); /* tells a when b is gone */
	CHECK(must_send(b, db, 1, da, p, buf, sizeof(buf), 0));
	CHECK(expect_msg(r, db, 1, 0, buf, sizeof(buf), "the partner's message"));

	dom_close(b);
	CHECK(wait_ring_gone(a, db, p + 1, "after closing the partner"));
	/* A:1263-1311: rings whose partner died go, untold. */
	CHECK(expect_ret(argo_unregister_ring(a, r), -ENOENT,
	                 "unregister_ring of a ring whose partner died"));
	return PASS;
}

static enum result t_teardown_rings_of_dead(void)
{
	struct argo_fabric *a, *b;
	argo_domid_t da, db;
	uint8_t buf[4] = {1, 2, 3, 4};
	uint32_t p = g_port;
	ssize_t ret;
	char g[96];

	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(b, p, da, 256, NULL));
	CHECK(must_send(a, da, 1, db, p, buf, sizeof(buf), 0));

	dom_close(b);
	CHECK(wait_ring_gone(a, db, p, "after closing the ring's owner"));
	/* Gone (ESRCH), or still dying without argo state (ECONNREFUSED). */
	ret = send_buf(a, da, 1, db, p, buf, sizeof(buf), 0);
	if (ret != -ESRCH && ret != -ECONNREFUSED) {
		failf("sendv to a ring of a closed domain: expected %s or %s, got %s",
		      argo_strerror(-ESRCH), argo_strerror(-ECONNREFUSED),
		      fmt_ret(ret, g, sizeof(g)));
		return FAIL;
	}
	return PASS;
}

static enum result t_teardown_wildcard_survives(void)
{
	struct argo_fabric *a, *b, *c;
	struct argo_ring *r;
	argo_domid_t da, db;
	uint8_t m[7][16], mine[5] = {9, 8, 7, 6, 5};
	uint32_t p = g_port;
	int i;

	NEED_MAC();
	CHECK(open_primary(&a));
	NEED_PEER(&b);
	da = argo_domid(a);
	db = argo_domid(b);
	CHECK(must_reg(a, p, XEN_ARGO_DOMID_ANY, 256, &r));
	CHECK(must_reg(b, p + 1, da, 64, NULL)); /* tells a when b is gone */
	for (i = 0; i < 7; i++) {
		pattern(m[i], 16, (uint32_t)(500 + i));
		CHECK(must_send(b, db, 2, da, p, m[i], 16, (uint32_t)i));
	}
	/* b also waits for space on the ring when it dies. */
	CHECK(expect_ret(send_buf(b, db, 2, da, p, m[0], 16, 0), -EAGAIN,
	                 "sendv to the full wildcard ring"));

	dom_close(b);
	CHECK(wait_ring_gone(a, db, p + 1, "after closing the sender"));
	/* A:1181-1203: only the dead domain's waits go, not the ring. */
	CHECK(expect_query(a, da, p, 0, F_EXISTS | F_SHARED | F_SUFF, 224,
	                   "the wildcard ring after its sender died"));
	for (i = 0; i < 7; i++)
		CHECK(expect_msg(r, db, 2, (uint32_t)i, m[i], 16, "the dead sender's message #%d",
		                 i + 1));
	CHECK(expect_ret(argo_notify(a, NULL), 0, "notify after draining"));
	CHECK(must_send(a, da, 3, da, p, mine, sizeof(mine), 3));
	CHECK(expect_msg(r, da, 3, 3, mine, sizeof(mine), "the owner's own message"));
	/* And from a domain that came later, if there can be one. */
	if (open_peer(&c) == PASS) {
		argo_domid_t dc = argo_domid(c);

		CHECK(must_send(c, dc, 4, da, p, mine, sizeof(mine), 4));
		CHECK(expect_msg(r, dc, 4, 4, mine, sizeof(mine), "a new domain's message"));
	} else {
		g_have_why = false; /* not a reason to skip */
	}
	CHECK(expect_ret(argo_unregister_ring(a, r), 0, "unregister_ring of the wildcard ring"));
	return PASS;
}

/* ---- Driver -------------------------------------------------------------- */

static const struct test_case {
	const char *name;
	enum result (*fn)(void);
} cases[] = {
    {"register-basic", t_register_basic},
    {"register-bad-flags", t_register_bad_flags},
    {"register-pad", t_register_pad},
    {"register-len-too-small", t_register_len_too_small},
    {"register-len-unaligned", t_register_len_unaligned},
    {"register-len-too-large", t_register_len_too_large},
    {"register-max-len", t_register_max_len},
    {"register-any-partner", t_register_any_partner},
    {"register-missing-partner", t_register_missing_partner},
    {"register-fail-exist", t_register_fail_exist},
    {"register-reregister-same-size", t_register_reregister_same_size},
    {"register-reregister-other-size", t_register_reregister_other_size},
    {"register-too-many", t_register_too_many},
    {"unregister-basic", t_unregister_basic},
    {"unregister-missing", t_unregister_missing},
    {"unregister-pad", t_unregister_pad},
    {"unregister-any-needs-any", t_unregister_any_needs_any},
    {"sendv-basic", t_sendv_basic},
    {"sendv-padding-untouched", t_sendv_padding_untouched},
    {"sendv-src-any", t_sendv_src_any},
    {"sendv-src-forged", t_sendv_src_forged},
    {"sendv-missing-domain", t_sendv_missing_domain},
    {"sendv-no-ring", t_sendv_no_ring},
    {"sendv-zero-iov", t_sendv_zero_iov},
    {"sendv-eight-iov", t_sendv_eight_iov},
    {"sendv-nine-iov", t_sendv_nine_iov},
    {"sendv-too-large-for-ring", t_sendv_too_large_for_ring},
    {"sendv-max-message", t_sendv_max_message},
    {"sendv-total-too-large", t_sendv_total_too_large},
    {"sendv-iov-too-large", t_sendv_iov_too_large},
    {"sendv-addr-pad", t_sendv_addr_pad},
    {"sendv-exact-before-any", t_sendv_exact_before_any},
    {"sendv-to-self", t_sendv_to_self},
    {"sendv-event-raised", t_sendv_event_raised},
    {"full-ring-eagain", t_full_ring_eagain},
    {"full-ring-order", t_full_ring_order},
    {"waiter-woken-only-on-fit", t_waiter_woken_only_on_fit},
    {"notify-null", t_notify_null},
    {"notify-too-many", t_notify_too_many},
    {"notify-flags-exists-empty", t_notify_flags_exists_empty},
    {"notify-missing-ring", t_notify_missing_ring},
    {"notify-shared", t_notify_shared},
    {"notify-emsgsize", t_notify_emsgsize},
    {"notify-insufficient-then-woken", t_notify_insufficient_then_woken},
    {"wildcard-any-sender", t_wildcard_any_sender},
    {"teardown-partner-death", t_teardown_partner_death},
    {"teardown-rings-of-dead", t_teardown_rings_of_dead},
    {"teardown-wildcard-survives", t_teardown_wildcard_survives},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: argo-conformance --fabric URI [options]\n"
	           "Checks a fabric against what Xen 4.17's argo.c guarantees: the same cases,\n"
	           "with the same expected errnos, on sim and on real Xen.\n"
	           "\n"
	           "  -f, --fabric URI          the fabric of the primary domain\n"
	           "  -p, --peer URI            where the other domains come from (default: the\n"
	           "                            --fabric URI); remote:DIR for\n"
	           "                            argo-conformance-peer domains listening in DIR\n"
	           "  -m, --mac-permissive yes|no\n"
	           "                            whether the fabric allows wildcard rings\n"
	           "                            (default yes)\n"
	           "  -w, --peer-wait SECONDS   how long to wait for a free remote peer, 0 to\n"
	           "                            3600 (default 60)\n"
	           "  -c, --case NAME           run only that case\n"
	           "  -l, --list                list the cases and exit\n"
	           "  -h, --help                print this help and exit\n"
	           "  -V, --version             print the version and exit\n"
	           "\n"
	           "Prints PASS, FAIL or SKIP per case, then 'N passed, N failed[, N skipped]'.\n"
	           "Exit status: 0 if nothing failed, 1 if something did, 2 for a usage error.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"fabric", required_argument, NULL, 'f'},
	    {"peer", required_argument, NULL, 'p'},
	    {"mac-permissive", required_argument, NULL, 'm'},
	    {"peer-wait", required_argument, NULL, 'w'},
	    {"case", required_argument, NULL, 'c'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *only = NULL;
	unsigned int passed = 0, failed = 0, skipped = 0;
	bool list = false, found = false;
	size_t i;
	int c;

	opt.mac_permissive = true;
	opt.peer_wait_ms = 60000;
	while ((c = getopt_long(argc, argv, "f:p:m:w:c:lhV", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			opt.fabric = optarg;
			break;
		case 'p':
			opt.peer = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "yes")) {
				opt.mac_permissive = true;
			} else if (!strcmp(optarg, "no")) {
				opt.mac_permissive = false;
			} else {
				fprintf(stderr,
				        "argo-conformance: --mac-permissive takes yes or no\n");
				return 2;
			}
			break;
		case 'w': {
			char *end;
			long secs = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end || secs < 0 || secs > 3600) {
				fprintf(stderr, "argo-conformance: --peer-wait takes 0 to 3600 "
				                "seconds\n");
				return 2;
			}
			opt.peer_wait_ms = (int)secs * 1000;
			break;
		}
		case 'c':
			only = optarg;
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("argo-conformance (%s) %s\n", ARGO_PACKAGE, ARGO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (list) {
		for (i = 0; i < NCASES; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (!opt.fabric) {
		fprintf(stderr, "argo-conformance: --fabric is required\n");
		usage(stderr);
		return 2;
	}
	if (!opt.peer)
		opt.peer = opt.fabric;
	if (only) {
		for (i = 0; i < NCASES; i++)
			found |= !strcmp(cases[i].name, only);
		if (!found) {
			fprintf(stderr, "argo-conformance: no case named '%s' (see --list)\n",
			        only);
			return 2;
		}
	}

	for (i = 0; i < NCASES; i++) {
		enum result res;

		if (only && strcmp(cases[i].name, only))
			continue;
		g_have_why = false;
		g_why[0] = '\0';
		/* Each case has its own block of ports, the same in every run. */
		g_port = 10000u + 1000u * (uint32_t)i;
		res = cases[i].fn();
		case_cleanup();
		switch (res) {
		case PASS:
			printf("PASS %s\n", cases[i].name);
			passed++;
			break;
		case SKIP:
			printf("SKIP %s: %s\n", cases[i].name, g_why);
			skipped++;
			break;
		default:
			printf("FAIL %s: %s\n", cases[i].name,
			       g_have_why ? g_why : "(no detail recorded)");
			failed++;
			break;
		}
		fflush(stdout);
	}
	if (skipped)
		printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	else
		printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
