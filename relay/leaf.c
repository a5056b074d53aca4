/* SPDX-License-Identifier: MIT */
/*
 * A leaf endpoint's domain, held by the relay (leaf.h). The frames are
 * drawn in docs/protocol.md, "Leaf endpoints"; how a message reaches a
 * leaf and what survives what, in docs/relay-design.md, "Leaf endpoints".
 */
#define _GNU_SOURCE
#include "leaf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "bytes.h"
#include "log.h"

/* Stop writing ring bytes while this much waits for the connection. */
#define OUT_HIGH_WATER (1u << 20)

/* The record a leaf ring keeps in its header's reserved bytes (Xen never
 * touches them; the leaf's own copy of the header is its own): whose ring
 * it is, so that a restarted relay knows the rings it takes over. */
#define RECORD_MAGIC 0x4641454cu /* "LEAF" */
#define RECORD_OFF   0
#define RECORD_ID    4
#define RECORD_OWNER 8
#define RECORD_SIZE  16

/*
 * What a sendv whose payload was not sent points its iovs at: the send
 * fails (the lengths add up to more than Xen takes) before the payload is
 * copied, but libargo's sim backend copies what fits its staging area
 * (16 MiB + 4 KiB) first. Readable zero pages, never touched: no memory.
 */
#define ZERO_SIZE (32u << 20)
static const uint8_t *zero_pages;

static const char *leaf_name(const struct leaf *leaf)
{
	return leaf->cfg->name;
}

const char *leaf_state_name(const struct leaf *leaf)
{
	return !leaf->domain ? "none" : leaf->attached ? "attached" : "away";
}

/* ---- The maps of the domain's rings --------------------------------------- */

static struct leaf_ring_map *find_map(struct leaf *leaf, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < leaf->nmaps; i++)
		if (leaf->maps[i].id == id && id)
			return &leaf->maps[i];
	return NULL;
}

static int add_map(struct leaf *leaf, uint32_t id, struct argo_ring *ring)
{
	if (leaf->nmaps == leaf->cap) {
		unsigned int cap = leaf->cap ? 2 * leaf->cap : 16;
		struct leaf_ring_map *m = realloc(leaf->maps, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		leaf->maps = m;
		leaf->cap = cap;
	}
	leaf->maps[leaf->nmaps++] =
	    (struct leaf_ring_map){.id = id, .ring = ring, .mirrored = true};
	return 0;
}

/* The handle goes; the ring stays wherever the fabric has it. */
static void drop_map(struct leaf *leaf, unsigned int i)
{
	argo_ring_release(leaf->maps[i].ring);
	leaf->maps[i] = leaf->maps[--leaf->nmaps];
}

/* Rings the fabric no longer keeps at (aport, partner) on our handles:
 * unregistered, or moved onto a new handle by a same-size re-register. */
static void drop_maps_at(struct leaf *leaf, uint32_t aport, argo_domid_t partner,
                         const struct argo_ring *keep)
{
	unsigned int i = 0;

	while (i < leaf->nmaps) {
		const struct argo_ring *r = leaf->maps[i].ring;

		if (r != keep && r->aport == aport && r->partner_id == partner)
			drop_map(leaf, i);
		else
			i++;
	}
}

static void put_record(struct argo_ring *ring, uint32_t id, uint64_t owner)
{
	uint8_t *rec = ring->shared->reserved;

	put_u32(rec + RECORD_OFF, RECORD_MAGIC);
	put_u32(rec + RECORD_ID, id);
	put_u64(rec + RECORD_OWNER, owner);
}

/* ---- The domain --------------------------------------------------------------- */

static void on_event(struct ev_watcher *w, uint32_t events);

/* Connects to the domain's socket. The domain may have rings the previous
 * run left (adopt), or be new. */
static int open_domain(struct leaf *leaf)
{
	int ret = argo_open(leaf->cfg->leaf, &leaf->domain);

	if (ret < 0) {
		leaf->domain = NULL;
		relay_log(0, "link %s: leaf domain %s: %s", leaf_name(leaf), leaf->cfg->leaf,
		          argo_strerror(ret));
		return ret;
	}
	/* The domain is the leaf's: it outlives this relay process, as a
	 * guest outlives its dom0's relay, with its rings and send tag. Only
	 * a static domain can (a dynamic one is its connection). */
	ret = argo_keep_domain(leaf->domain, 1);
	if (ret < 0) {
		relay_log(0,
		          "link %s: leaf = %s: %s; a leaf's domain must be a static socket of "
		          "argo-simd (-D DOMID=PATH), of this project's version or later",
		          leaf_name(leaf), leaf->cfg->leaf, argo_strerror(ret));
		argo_close(leaf->domain);
		leaf->domain = NULL;
		return -EINVAL;
	}
	leaf->domid = argo_domid(leaf->domain);
	ev_watch(leaf->loop, &leaf->event_watch, argo_event_fd(leaf->domain), EPOLLIN);
	return 0;
}

static void close_domain(struct leaf *leaf)
{
	while (leaf->nmaps)
		drop_map(leaf, leaf->nmaps - 1);
	ev_unwatch(leaf->loop, &leaf->event_watch);
	argo_close(leaf->domain);
	leaf->domain = NULL;
	leaf->have_last = false;
	leaf->check_tag = false;
	leaf->event_owed = false;
}

/* The leaf process the domain was for is gone: so is the domain, as a
 * domain dies with its guest (its rings go, and with them every ring
 * whose only partner it was). */
static void end_domain(struct leaf *leaf, const char *why)
{
	unsigned int i;

	argo_keep_domain(leaf->domain, 0);
	for (i = 0; i < leaf->nmaps; i++) {
		xen_argo_unregister_ring_t u = {.aport = leaf->maps[i].ring->aport,
		                                .partner_id = leaf->maps[i].ring->partner_id};

		argo_unregister_raw(leaf->domain, &u);
	}
	relay_log(0, "link %s: leaf domain %u ends (%s)", leaf_name(leaf), leaf->domid, why);
	leaf->retired[leaf->next_retired++ % LEAF_RETIRED] = leaf->owner;
	close_domain(leaf);
}

/* At start-up: the domain the previous run left, with its rings, or a
 * new one (the leaf's domain exists from the relay's start: a send to it
 * finds no ring, ECONNREFUSED, as with a guest that registered none). */
static int take_over(struct leaf *leaf)
{
	struct argo_ring *ring;
	unsigned int taken = 0;

	int ret = open_domain(leaf);

	/* Not a static domain: a configuration error. Not there (argo-simd
	 * not serving it yet): tried again when the leaf attaches. */
	if (ret < 0)
		return ret == -EINVAL ? ret : 0;
	while (argo_adopt_ring(leaf->domain, &ring) == 0) {
		const uint8_t *rec = ring->shared->reserved;
		uint32_t id = 0;

		if (get_u32(rec + RECORD_OFF) == RECORD_MAGIC) {
			id = get_u32(rec + RECORD_ID);
			leaf->owner = get_u64(rec + RECORD_OWNER);
		}
		if (add_map(leaf, id, ring) < 0) {
			argo_ring_release(ring);
			continue;
		}
		leaf->maps[leaf->nmaps - 1].mirrored = false; /* until the leaf says */
		taken++;
	}
	/* Whose it is, the rings' records say; without rings nobody knows
	 * (owner 0): the first leaf to attach has it. The previous run may
	 * have made the leaf's last send and died before answering: the
	 * domain's last send tag tells (leaf.h). */
	leaf->check_tag = true;
	relay_log(0, "link %s: leaf domain %u, %u rings taken over", leaf_name(leaf), leaf->domid,
	          taken);
	return 0;
}

/* ---- To the leaf ------------------------------------------------------------- */

static bool link_up(const struct leaf *leaf)
{
	return leaf->link->state == LINK_UP && leaf->attached;
}

/* Sends what the fabric delivered into one ring since the leaf's copy was
 * last brought up to date, in chunks; the last one publishes tx_ptr (a
 * message boundary, as the fabric's own). Stops while the connection is
 * behind (leaf_writable() goes on). */
static void ship(struct leaf *leaf, struct leaf_ring_map *m)
{
	const struct argo_ring *r = m->ring;

	if (!m->mirrored)
		return;
	if (!m->in_flight) {
		/* Acquire: the bytes before tx_ptr are there. */
		uint32_t tx = __atomic_load_n(&r->shared->tx_ptr, __ATOMIC_ACQUIRE);

		if (tx == m->sent || tx >= r->len)
			return;
		m->target = tx;
		m->in_flight = true;
	}
	while (m->sent != m->target) {
		uint8_t hdr[LEAF_RING_MIN];
		uint32_t end = m->sent < m->target ? m->target : r->len;
		uint32_t n = end - m->sent, next;
		struct leaf_ring_bytes rb;

		if (link_backlog(leaf->link) >= OUT_HIGH_WATER)
			return;
		if (n > LEAF_RING_CHUNK)
			n = LEAF_RING_CHUNK;
		next = m->sent + n == r->len ? 0 : m->sent + n;
		rb = (struct leaf_ring_bytes){
		    .ring_id = m->id,
		    .offset = m->sent,
		    .flags = next == m->target ? LEAF_RING_PUBLISH : 0,
		    .tx = next == m->target ? m->target : 0,
		    .n = n,
		};
		if (leaf_put_ring(hdr, &rb) < 0 ||
		    link_put_frame(leaf->link, WIRE_LEAF_RING, hdr, sizeof(hdr),
		                   r->shared->ring + m->sent, n) < 0)
			return;
		m->sent = next;
		leaf->counters.ring_frames++;
		leaf->counters.ring_bytes += n;
	}
	m->in_flight = false;
}

/* Every ring, then the event if one is owed and nothing is half sent (the
 * leaf's program must find the messages when it wakes). */
static void ship_all(struct leaf *leaf)
{
	unsigned int i;
	bool behind = false;

	if (!link_up(leaf))
		return;
	for (i = 0; i < leaf->nmaps; i++) {
		ship(leaf, &leaf->maps[i]);
		behind |= leaf->maps[i].in_flight;
	}
	if (behind)
		return;
	if (leaf->event_owed &&
	    link_put_frame(leaf->link, WIRE_LEAF_EVENT, NULL, 0, NULL, 0) == 0) {
		leaf->event_owed = false;
		leaf->counters.events++;
	}
	/* An answer follows everything the fabric did before it. */
	if (leaf->reply_owed && link_put_frame(leaf->link, WIRE_LEAF_REPLY, leaf->last_reply,
	                                       leaf->last_len, NULL, 0) == 0)
		leaf->reply_owed = false;
}

/* Is a ring's delivery half sent (ship() stopped at the high water)? */
static bool shipping(const struct leaf *leaf)
{
	unsigned int i;

	for (i = 0; i < leaf->nmaps; i++)
		if (leaf->maps[i].in_flight)
			return true;
	return false;
}

/* Ships and writes until the connection is behind or nothing is left.
 * The connection may take everything at once (its reader keeps up): then
 * it will not poll writable, and leaf_writable() would not come. */
static void ship_and_flush(struct leaf *leaf)
{
	do {
		ship_all(leaf);
		link_flush(leaf->link);
	} while (link_up(leaf) && shipping(leaf) && link_backlog(leaf->link) < OUT_HIGH_WATER);
}

/* The domain's VIRQ_ARGO, seen now or at the event fd; then what the
 * rings got goes to the leaf. */
static void service(struct leaf *leaf)
{
	if (leaf->domain && argo_event_clear(leaf->domain) == 1)
		leaf->event_owed = true;
	ship_and_flush(leaf);
}

static void on_event(struct ev_watcher *w, uint32_t events)
{
	struct leaf *leaf = w->ctx;

	(void)events;
	service(leaf);
}

static void leaf_writable(void *ctx)
{
	ship_and_flush(ctx);
}

/* ---- From the leaf ------------------------------------------------------------- */

static int welcome(struct leaf *leaf, int32_t status, uint32_t flags)
{
	struct leaf_welcome w = {.status = status, .domid = leaf->domid, .flags = flags};
	uint8_t out[LEAF_WELCOME_SIZE];

	if (leaf_put_welcome(out, sizeof(out), &w) < 0)
		return -EINVAL;
	return link_put_frame(leaf->link, WIRE_LEAF_WELCOME, out, sizeof(out), NULL, 0);
}

static int on_attach(struct leaf *leaf, const uint8_t *p, uint32_t len, const char **why)
{
	struct leaf_ring_state st;
	struct leaf_attach a;
	bool resumed, was_owner;
	unsigned int i;
	uint32_t k;
	int ret;

	if (leaf->attached) {
		*why = "a second LEAF_ATTACH in one session";
		return -EPROTO;
	}
	ret = leaf_parse_attach(p, len, &a, why);
	if (ret < 0)
		return ret;
	for (k = 0; k < a.nrings; k++)
		if (leaf_get_ring_state(&a, k, &st, why) < 0)
			return -EBADMSG;
	/* A leaf process whose domain a newer one ended stays out: two
	 * processes on one link would otherwise end each other's domain. */
	for (i = 0; i < LEAF_RETIRED; i++)
		if (leaf->retired[i] == a.boot) {
			welcome(leaf, -ENOTCONN, 0);
			link_flush(leaf->link);
			return 0;
		}
	if (leaf->domain && leaf->owner && leaf->owner != a.boot)
		end_domain(leaf, "a new leaf process");
	/* Resumed: the domain is the one this leaf had (or one nobody had
	 * yet), with every ring the leaf knows registered (one the fabric
	 * removed since, its partner dead, still has its handle here). */
	was_owner = leaf->domain && leaf->owner == a.boot;
	resumed = leaf->domain != NULL;
	for (k = 0; resumed && k < a.nrings; k++) {
		leaf_get_ring_state(&a, k, &st, why);
		if ((st.flags & LEAF_RING_REGISTERED) && !find_map(leaf, st.id))
			resumed = false;
	}
	if (leaf->domain && !leaf->owner) {
		leaf->owner = a.boot;
		leaf->counters.domains++;
		relay_log(0, "link %s: leaf domain %u for %s", leaf_name(leaf), leaf->domid,
		          leaf->cfg->peer_hvid);
	}
	if (!leaf->domain) {
		ret = open_domain(leaf);
		if (ret < 0) {
			/* The leaf's open fails with it; the session may stay. */
			welcome(leaf, ret == -EBUSY ? -EBUSY : -ENODEV, 0);
			link_flush(leaf->link);
			return 0;
		}
		leaf->owner = a.boot;
		leaf->counters.domains++;
		relay_log(0, "link %s: leaf domain %u for %s", leaf_name(leaf), leaf->domid,
		          leaf->cfg->peer_hvid);
	}
	/* Where the leaf's copies are, and where its readers are. */
	for (i = 0; i < leaf->nmaps; i++)
		leaf->maps[i].mirrored = false;
	for (k = 0; k < a.nrings; k++) {
		struct leaf_ring_map *m;

		leaf_get_ring_state(&a, k, &st, why);
		m = find_map(leaf, st.id);
		if (!m || m->ring->len != st.len)
			continue;
		m->mirrored = true;
		m->in_flight = false;
		m->sent = st.tx;
		__atomic_store_n(&m->ring->shared->rx_ptr, st.rx, __ATOMIC_RELEASE);
	}
	leaf->attached = true;
	leaf->counters.attaches++;
	leaf->counters.resumes += was_owner && resumed;
	ret = welcome(leaf, 0, resumed ? LEAF_WELCOME_RESUMED : 0);
	if (ret < 0)
		return ret;
	/* After a cut the leaf may have waited for space the fabric no longer
	 * knows it waits for (a restart drops the waits): a wake-up makes it
	 * look again, as an event may always be spurious. */
	if (resumed)
		leaf->event_owed = true;
	service(leaf);
	return 0;
}

static void on_rx(struct leaf *leaf, const uint8_t *p, uint32_t len, const char **why, int *ret)
{
	const uint8_t *ents;
	uint32_t n, i;

	*ret = leaf_parse_rx(p, len, &n, &ents, why);
	if (*ret < 0)
		return;
	for (i = 0; i < n; i++) {
		struct leaf_ring_map *m;
		uint32_t id, rx;

		leaf_get_rx_ent(ents, i, &id, &rx);
		m = find_map(leaf, id);
		if (!m)
			continue; /* unregistered meanwhile */
		/* Release: what the reader freed is seen by the fabric's next
		 * look at the ring (a sendv, a notify), as a guest's store. */
		__atomic_store_n(&m->ring->shared->rx_ptr, rx, __ATOMIC_RELEASE);
		leaf->counters.rx_moves++;
	}
}

static int32_t do_register(struct leaf *leaf, const struct leaf_request *r)
{
	struct argo_ring *ring;
	int ret;

	/* Registered by the previous run, which died before answering. */
	if (find_map(leaf, r->u.reg.ring_id))
		return 0;
	ret = argo_register_ring_persistent(leaf->domain, &r->u.reg.reg, r->u.reg.flags, &ring);
	if (ret < 0)
		return ret;
	put_record(ring, r->u.reg.ring_id, leaf->owner);
	/* A same-size re-register moved the ring onto the new handle. */
	drop_maps_at(leaf, ring->aport, ring->partner_id, NULL);
	if (add_map(leaf, r->u.reg.ring_id, ring) < 0) {
		argo_unregister_ring(leaf->domain, ring);
		return -ENOMEM;
	}
	return 0;
}

static int32_t do_sendv(struct leaf *leaf, const struct leaf_request *r)
{
	struct iovec iov[XEN_ARGO_MAXIOV];
	uint32_t niov = r->u.send.niov, i;
	const uint8_t *data = r->u.send.data;
	uint64_t total = 0, tag;

	for (i = 0; i < niov && i < XEN_ARGO_MAXIOV; i++) {
		iov[i].iov_len = r->u.send.lens[i];
		total += r->u.send.has_data ? r->u.send.lens[i] : 0;
		iov[i].iov_base = (void *)(r->u.send.has_data ? data : zero_pages);
		if (r->u.send.has_data)
			data += r->u.send.lens[i];
	}
	if (leaf->check_tag) {
		leaf->check_tag = false;
		if (argo_last_send_tag(leaf->domain, &tag) == 0 && tag == r->id) {
			relay_log(1, "link %s: the leaf's send %llu was made before the restart",
			          leaf_name(leaf), (unsigned long long)r->id);
			leaf->counters.sends_settled++;
			return (int32_t)total;
		}
	}
	return (int32_t)argo_sendv_tagged(leaf->domain, &r->u.send.addr,
	                                  niov <= XEN_ARGO_MAXIOV ? iov : NULL, niov,
	                                  r->u.send.message_type, r->id);
}

/* notify; the entries written back go after the reply (*nent of them). */
static int32_t do_notify(struct leaf *leaf, const struct leaf_request *r, uint8_t *ents,
                         uint32_t *nent)
{
	uint32_t n = r->u.notify.nent <= XEN_ARGO_MAX_NOTIFY_COUNT ? r->u.notify.nent : 0, i;
	xen_argo_ring_data_t *rd;
	int32_t ret;

	*nent = 0;
	if (!r->u.notify.has_ring_data)
		return argo_notify(leaf->domain, NULL);
	rd = calloc(1, sizeof(*rd) + (size_t)n * sizeof(rd->data[0]));
	if (!rd)
		return -ENOMEM;
	rd->nent = r->u.notify.nent;
	rd->pad = r->u.notify.pad;
	for (i = 0; i < n; i++)
		leaf_get_notify_ent(r->u.notify.ents, i, &rd->data[i]);
	ret = argo_notify(leaf->domain, rd);
	if (ret == 0) {
		for (i = 0; i < n; i++)
			leaf_put_reply_ent(ents + (size_t)i * LEAF_REPLY_ENT_SIZE,
			                   rd->data[i].flags, rd->data[i].max_message_size);
		*nent = n;
	}
	free(rd);
	return ret;
}

static int on_request(struct leaf *leaf, const uint8_t *p, uint32_t len, const char **why)
{
	struct leaf_request r;
	struct leaf_reply rep = {0};
	uint8_t *out = leaf->last_reply;
	xen_argo_unregister_ring_t u;
	int32_t ret = 0;
	int rc;

	if (leaf->reply_owed) {
		*why = "a request before the answer to the last one";
		return -EPROTO;
	}

	rc = leaf_parse_request(p, len, &r, why);
	if (rc < 0)
		return rc;
	if (!leaf->attached) {
		*why = "a request before LEAF_ATTACH";
		return -EPROTO;
	}
	/* The same request again: the leaf did not get our answer (a cut). */
	if (leaf->have_last && r.id == leaf->last_id) {
		leaf->counters.replayed++;
		leaf->reply_owed = true;
		service(leaf);
		return 0;
	}
	leaf->counters.requests[r.op]++;
	rep.id = r.id;
	if (!leaf->domain) {
		ret = -ENOTCONN; /* after the leaf's CLOSE */
	} else {
		if (r.op != LEAF_OP_SENDV)
			leaf->check_tag = false;
		switch (r.op) {
		case LEAF_OP_REGISTER:
			ret = do_register(leaf, &r);
			break;
		case LEAF_OP_UNREGISTER:
			u = r.u.unreg;
			ret = argo_unregister_raw(leaf->domain, &u);
			if (ret == 0)
				drop_maps_at(leaf, u.aport, u.partner_id, NULL);
			break;
		case LEAF_OP_SENDV:
			ret = do_sendv(leaf, &r);
			break;
		case LEAF_OP_NOTIFY:
			ret = do_notify(leaf, &r, out + LEAF_REPLY_MIN, &rep.nent);
			break;
		case LEAF_OP_SYNC:
			break;
		case LEAF_OP_CLOSE:
			end_domain(leaf, "the leaf closed it");
			break;
		}
	}
	rep.ret = ret;
	if (leaf_put_reply(out, LEAF_REPLY_MIN, &rep) < 0) {
		*why = "an answer that cannot be encoded";
		return -EINVAL;
	}
	leaf->last_len = LEAF_REPLY_MIN + rep.nent * LEAF_REPLY_ENT_SIZE;
	leaf->last_id = r.id;
	leaf->have_last = leaf->domain != NULL;
	/* What the call delivered (a send to itself) or raised goes before
	 * its answer, which goes once the leaf's copies are up to date
	 * (ship_all()): the leaf then has everything the fabric did before. */
	leaf->reply_owed = true;
	service(leaf);
	return 0;
}

/* ---- The link's side ------------------------------------------------------------ */

static void leaf_up(void *ctx)
{
	struct leaf *leaf = ctx;

	leaf->attached = false;
}

static void leaf_down(void *ctx)
{
	struct leaf *leaf = ctx;
	unsigned int i;

	leaf->attached = false;
	/* An answer not sent goes when the leaf asks again (have_last). */
	leaf->reply_owed = false;
	for (i = 0; i < leaf->nmaps; i++)
		leaf->maps[i].in_flight = false;
}

static int leaf_frame(void *ctx, uint8_t type, const uint8_t *payload, uint32_t len,
                      const char **why)
{
	struct leaf *leaf = ctx;
	int ret = -EPROTO;

	switch (type) {
	case WIRE_LEAF_ATTACH:
		ret = on_attach(leaf, payload, len, why);
		break;
	case WIRE_LEAF_REQUEST:
		ret = on_request(leaf, payload, len, why);
		break;
	case WIRE_LEAF_RX:
		if (!leaf->attached) {
			*why = "LEAF_RX before LEAF_ATTACH";
			break;
		}
		on_rx(leaf, payload, len, why, &ret);
		break;
	}
	if (ret < 0)
		leaf->counters.malformed++;
	return ret;
}

static const struct link_leaf_ops leaf_link_ops = {
    .up = leaf_up,
    .down = leaf_down,
    .frame = leaf_frame,
    .writable = leaf_writable,
};

int leaf_init(struct leaf *leaf, const struct config_link *cfg, struct link *link,
              struct evloop *loop)
{
	memset(leaf, 0, sizeof(*leaf));
	leaf->cfg = cfg;
	leaf->link = link;
	leaf->loop = loop;
	ev_watcher_init(&leaf->event_watch, on_event, leaf);
	if (!zero_pages) {
		void *z = mmap(NULL, ZERO_SIZE, PROT_READ,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (z == MAP_FAILED)
			return -ENOMEM;
		zero_pages = z;
	}
	link_set_leaf(link, &leaf_link_ops, leaf);
	return take_over(leaf);
}

void leaf_fini(struct leaf *leaf)
{
	if (leaf->domain)
		close_domain(leaf);
	free(leaf->maps);
	leaf->maps = NULL;
	leaf->nmaps = leaf->cap = 0;
}
