/* SPDX-License-Identifier: MIT */
/*
 * The sim fabric: Xen's argo.c semantics over memfd rings. Line references
 * "argo.c:N" are to Xen 4.17 (Debian 4.17.5), see docs/sim-fabric.md.
 *
 * Ring memory is shared with its owner, who may scribble on it at any time.
 * Rules that keep the daemon safe whatever the owner does:
 *   - the mapping's size is fixed at registration and the memfd is sealed
 *     against shrinking, so no access can fault;
 *   - rx_ptr is read once per operation and sanitised (argo_ring_sanitise_ptr);
 *   - tx_ptr is ours: the page's copy is written, never read after
 *     registration (ring->tx is the truth).
 */
#define _GNU_SOURCE
#include "sim_fabric.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argo/ring.h"
#include "argo/routed.h"

/* Xen's largest single iov, and largest sendv total (argo.c:57, 740-757). */
#define MAX_ARGO_MESSAGE_SIZE                                                                      \
	(XEN_ARGO_MAX_RING_SIZE - 2 * sizeof(struct xen_argo_ring_message_header))

/* A sender waiting for space on a ring (Xen's pending_ent). */
struct sim_waiter {
	struct sim_waiter *next;
	argo_domid_t domid;
	uint32_t len; /* payload bytes wanted; only ever grows */
};

struct sim_ring {
	struct sim_ring *next; /* in owner->rings */
	struct sim_domain *owner;
	uint32_t aport;
	argo_domid_t partner; /* XEN_ARGO_DOMID_ANY for a wildcard ring */
	uint32_t len;
	uint32_t tx; /* the fabric's tx pointer: the only one trusted */
	struct xen_argo_ring *mem;
	size_t map_size;
	struct sim_waiter *waiters;
	unsigned int nwaiters;
	/* Extension: a persistent ring outlives its owner's process (it keeps
	 * keep_fd, a dup of the memfd, to hand over on adopt); adopted is true
	 * while a process of the owner holds it. */
	bool persistent;
	bool adopted;
	int keep_fd; /* -1 unless persistent */
};

/*
 * A persistent ring the fabric dropped because its partner died. Xen forgets
 * such a ring too (argo.c:1263-1311), but its pages are the guest's and
 * outlive the registration (argo.ko keeps them for ADOPT): so the fabric
 * keeps the memory of this one, unregistered, for a later process of the
 * owner to adopt, and for argo_ring_reregister() to register again.
 */
struct sim_vanished {
	struct sim_vanished *next; /* in owner->vanished, oldest first */
	uint32_t aport;
	argo_domid_t partner;
	uint32_t len, npages;
	int keep_fd;
	bool adopted;
};

struct sim_domain {
	argo_domid_t domid;
	void *ctx;
	struct sim_ring *rings;
	/* Xen's ring_count: +1 on every successful register (re-registers
	 * too), -1 on unregister or when a partner's death removes a ring. */
	unsigned int nrings;
	/* Space waiters on this domain's rings (the sum of their nwaiters), and
	 * where it is published for the domain's process (or NULL). */
	uint32_t nwaiters;
	uint32_t *published_waiters;
	/* Extension (sim_fabric.h, "Durable rings"). */
	bool may_persist; /* a static domain: may register persistent rings */
	bool detached;    /* no process: ctx is NULL, signals are deferred */
	bool keep;        /* detached, not destroyed, even with no persistent ring */
	uint64_t last_tag;
	struct sim_vanished *vanished;
};

struct sim_fabric {
	struct sim_fabric_config config;
	/* Indexed by domid; NULL where no domain lives. */
	struct sim_domain *domains[XEN_DOMID_FIRST_RESERVED];
	struct sim_fabric_stats stats;
	/* Indexed by domid, whether the domain lives or not. */
	struct sim_domid_stats by_domid[XEN_DOMID_FIRST_RESERVED];
};

struct sim_fabric *sim_fabric_new(const struct sim_fabric_config *config)
{
	struct sim_fabric *fabric = calloc(1, sizeof(*fabric));

	if (!fabric)
		return NULL;
	fabric->config = *config;
	return fabric;
}

void sim_fabric_free(struct sim_fabric *fabric)
{
	unsigned int d;

	if (!fabric)
		return;
	for (d = 0; d < XEN_DOMID_FIRST_RESERVED; d++)
		if (fabric->domains[d])
			sim_domain_destroy(fabric, fabric->domains[d]);
	free(fabric);
}

static struct sim_domain *find_domain(const struct sim_fabric *fabric, argo_domid_t domid)
{
	return domid < XEN_DOMID_FIRST_RESERVED ? fabric->domains[domid] : NULL;
}

int sim_domain_exists(const struct sim_fabric *fabric, argo_domid_t domid)
{
	return find_domain(fabric, domid) != NULL;
}

argo_domid_t sim_domain_id(const struct sim_domain *domain)
{
	return domain->domid;
}

int sim_domain_create(struct sim_fabric *fabric, argo_domid_t domid, void *ctx,
                      struct sim_domain **domainp)
{
	struct sim_domain *domain;

	if (domid >= XEN_DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (fabric->domains[domid])
		return -EEXIST;
	domain = calloc(1, sizeof(*domain));
	if (!domain)
		return -ENOMEM;
	domain->domid = domid;
	domain->ctx = ctx;
	fabric->domains[domid] = domain;
	fabric->stats.domains++;
	*domainp = domain;
	return 0;
}

static void signal_domain(struct sim_fabric *fabric, argo_domid_t domid)
{
	struct sim_domain *domain = find_domain(fabric, domid);

	/* A detached domain has no process to tell: the event stays pending
	 * until a process attaches (sim_domain_attach raises it then). */
	if (domain && domain->detached) {
		fabric->stats.signals_deferred++;
		return;
	}
	/* A waiter whose domain has gone is skipped silently (argo.c:444-454). */
	if (domain && fabric->config.signal) {
		fabric->config.signal(domain->ctx);
		fabric->stats.signals++;
	}
}

/* Every change of a ring's waiter count goes through here, so that the
 * owner's total stays right and published. */
static void count_waiters(struct sim_ring *ring, int delta)
{
	struct sim_domain *owner = ring->owner;

	ring->nwaiters = (unsigned int)((int)ring->nwaiters + delta);
	owner->nwaiters = (uint32_t)((int)owner->nwaiters + delta);
	if (owner->published_waiters)
		__atomic_store_n(owner->published_waiters, owner->nwaiters, __ATOMIC_SEQ_CST);
}

void sim_domain_publish_waiters(struct sim_domain *domain, uint32_t *where)
{
	domain->published_waiters = where;
	if (where)
		__atomic_store_n(where, domain->nwaiters, __ATOMIC_SEQ_CST);
}

static void free_waiters(struct sim_ring *ring)
{
	struct sim_waiter *w = ring->waiters, *next;

	for (; w; w = next) {
		next = w->next;
		free(w);
	}
	ring->waiters = NULL;
	count_waiters(ring, -(int)ring->nwaiters);
}

static void unmap_ring(struct sim_ring *ring)
{
	if (ring->mem)
		munmap(ring->mem, ring->map_size);
	ring->mem = NULL;
	ring->map_size = 0;
	if (ring->keep_fd >= 0)
		close(ring->keep_fd);
	ring->keep_fd = -1;
	ring->persistent = false;
}

/* Messages and bytes still unread in a ring about to go: lost with it
 * (counted in the fabric's stats, so that a test can account for them).
 * The owner may have scribbled on the ring: the walk stops at anything
 * inconsistent. */
static void count_lost(struct sim_fabric *fabric, const struct sim_ring *ring)
{
	uint32_t at, next, steps = ring->len / XEN_ARGO_MSG_SLOT_SIZE;
	ssize_t n;

	if (!ring->mem)
		return;
	at = argo_ring_sanitise_ptr(__atomic_load_n(&ring->mem->rx_ptr, __ATOMIC_ACQUIRE),
	                            ring->len);
	while (steps-- &&
	       (n = argo_ring_read_at(ring->mem, ring->len, at, NULL, NULL, NULL, 0, &next)) >= 0) {
		fabric->stats.lost_messages++;
		fabric->stats.lost_bytes += (uint64_t)n;
		at = next;
	}
}

/* Unlinks and frees a ring; its waiters are dropped without a signal. */
static void remove_ring(struct sim_fabric *fabric, struct sim_ring *ring)
{
	struct sim_domain *owner = ring->owner;
	struct sim_ring **pp;

	count_lost(fabric, ring);
	for (pp = &owner->rings; *pp; pp = &(*pp)->next) {
		if (*pp == ring) {
			*pp = ring->next;
			break;
		}
	}
	owner->nrings--;
	fabric->stats.rings--;
	free_waiters(ring);
	unmap_ring(ring);
	free(ring);
}

static void drop_waiter(struct sim_ring *ring, argo_domid_t domid)
{
	struct sim_waiter **pp = &ring->waiters, *w;

	while ((w = *pp)) {
		if (w->domid == domid) {
			*pp = w->next;
			free(w);
			count_waiters(ring, -1);
		} else {
			pp = &w->next;
		}
	}
}

static void free_vanished(struct sim_vanished *v)
{
	if (v->keep_fd >= 0)
		close(v->keep_fd);
	free(v);
}

/* Forgets the vanished ring (aport, partner) of domain, if it has one:
 * 1 when it did. */
static int drop_vanished(struct sim_domain *domain, uint32_t aport, argo_domid_t partner)
{
	struct sim_vanished **pp, *v;

	for (pp = &domain->vanished; (v = *pp); pp = &v->next) {
		if (v->aport == aport && v->partner == partner) {
			*pp = v->next;
			free_vanished(v);
			return 1;
		}
	}
	return 0;
}

/* A ring whose partner died, of a domain whose process lives: unregistered
 * as Xen does; the owner still has the memory and what is in it. */
static void remove_ring_kept(struct sim_fabric *fabric, struct sim_ring *ring)
{
	munmap(ring->mem, ring->map_size);
	ring->mem = NULL;
	remove_ring(fabric, ring);
}

/* A persistent ring whose partner died: unregistered as Xen does, its
 * memory kept (struct sim_vanished). */
static void ring_vanishes(struct sim_fabric *fabric, struct sim_ring *ring)
{
	struct sim_domain *owner = ring->owner;
	struct sim_vanished *v = calloc(1, sizeof(*v)), **pp;

	if (v) {
		v->aport = ring->aport;
		v->partner = ring->partner;
		v->len = ring->len;
		v->npages = (uint32_t)(ring->map_size / XEN_ARGO_PAGE_SIZE);
		v->keep_fd = ring->keep_fd;
		v->adopted = ring->adopted;
		ring->keep_fd = -1; /* the entry has it now */
		for (pp = &owner->vanished; *pp; pp = &(*pp)->next)
			;
		*pp = v;
		fabric->stats.rings_vanished++;
	}
	/* Its messages are in memory that stays: not lost. */
	remove_ring_kept(fabric, ring);
}

void sim_domain_destroy(struct sim_fabric *fabric, struct sim_domain *domain)
{
	unsigned int d;

	/* 1. Its own rings (argo.c:1243-1261). */
	while (domain->rings)
		remove_ring(fabric, domain->rings);
	while (domain->vanished) {
		struct sim_vanished *v = domain->vanished;

		domain->vanished = v->next;
		free_vanished(v);
	}
	fabric->domains[domain->domid] = NULL;
	if (domain->detached)
		fabric->stats.detached--;

	for (d = 0; d < XEN_DOMID_FIRST_RESERVED; d++) {
		struct sim_domain *other = fabric->domains[d];
		struct sim_ring *ring, *next;

		if (!other)
			continue;
		for (ring = other->rings; ring; ring = next) {
			next = ring->next;
			/* 2. Rings whose single partner it was (argo.c:1263-1311);
			 * a persistent one leaves its memory behind. */
			if (ring->partner == domain->domid && ring->persistent)
				ring_vanishes(fabric, ring);
			else if (ring->partner == domain->domid)
				remove_ring_kept(fabric, ring);
			/* 3. Its waits on wildcard rings (argo.c:1181-1203). */
			else
				drop_waiter(ring, domain->domid);
		}
	}
	fabric->stats.domains--;
	free(domain);
}

/* Exact (aport, partner) match only: register and unregister. */
static struct sim_ring *find_ring_exact(const struct sim_domain *domain, uint32_t aport,
                                        argo_domid_t partner)
{
	struct sim_ring *ring;

	for (ring = domain->rings; ring; ring = ring->next)
		if (ring->aport == aport && ring->partner == partner)
			return ring;
	return NULL;
}

/* The ring a sender reaches: its own partner ring first, then the
 * wildcard one (argo.c:384-404). */
static struct sim_ring *find_ring_for_sender(const struct sim_domain *domain, uint32_t aport,
                                             argo_domid_t sender)
{
	struct sim_ring *ring = find_ring_exact(domain, aport, sender);

	return ring ? ring : find_ring_exact(domain, aport, XEN_ARGO_DOMID_ANY);
}

/* Free bytes of the ring now, from the sanitised rx and our own tx. */
static uint32_t ring_space(const struct sim_ring *ring)
{
	uint32_t rx = argo_ring_sanitise_ptr(__atomic_load_n(&ring->mem->rx_ptr, __ATOMIC_ACQUIRE),
	                                     ring->len);

	return argo_ring_free_space(rx, ring->tx, ring->len);
}

/* Payload bytes a sender could put in the ring now: the free space less a
 * header and the slot that must stay empty (argo.c:656-714). */
static uint32_t payload_space(const struct sim_ring *ring)
{
	uint32_t space = ring_space(ring);

	return space > 2 * XEN_ARGO_MSG_SLOT_SIZE ? space - 2 * XEN_ARGO_MSG_SLOT_SIZE : 0;
}

/* Records (or widens) a sender's wait for space (argo.c:1098-1156).
 * -EBUSY when the ring already has its 32 waiters. */
static int requeue_waiter(struct sim_ring *ring, argo_domid_t domid, uint32_t len)
{
	struct sim_waiter *w;

	for (w = ring->waiters; w; w = w->next) {
		if (w->domid == domid) {
			if (len > w->len)
				w->len = len;
			return 0;
		}
	}
	if (ring->nwaiters >= XEN_ARGO_MAX_PENDERS_PER_RING)
		return -EBUSY;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->domid = domid;
	w->len = len;
	w->next = ring->waiters;
	ring->waiters = w;
	count_waiters(ring, 1);
	return 0;
}

/*
 * domid was just queued (or its wait widened) on ring. If the ring's owner
 * skips notifies when it sees no waiter published, it may have moved rx_ptr
 * and read the count just before this waiter was published: then nobody
 * would wake it. So look at the space once more, after the publication
 * (the fence pairs with the one libargo puts between its rx_ptr store and
 * its read of the count: one side sees the other's store), and do for this
 * waiter what the skipped notify would have done. Waiters published earlier
 * need nothing: an owner that read the count after them notifies. Without
 * a concurrent reader the space is what the caller just found too small,
 * so nothing happens.
 */
static void recheck_after_queueing(struct sim_fabric *fabric, struct sim_ring *ring,
                                   argo_domid_t domid)
{
	struct sim_waiter **pp, *w;
	uint32_t space;

	if (!ring->owner->published_waiters)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	space = payload_space(ring);
	for (pp = &ring->waiters; (w = *pp); pp = &w->next) {
		if (w->domid != domid)
			continue;
		/* The test notify makes (wake_ring_waiters). */
		if (space && space >= w->len) {
			*pp = w->next;
			free(w);
			count_waiters(ring, -1);
			fabric->stats.rechecks_woken++;
			signal_domain(fabric, domid);
		}
		return;
	}
}

/*
 * Maps a client's ring memory. It must be a memfd sealed against shrinking
 * and at least npages long; anything else is -EINVAL, as Xen refuses gfns
 * that are not the guest's own writable RAM.
 */
static int map_ring_memory(int fd, uint32_t npages, struct xen_argo_ring **memp, size_t *sizep)
{
	size_t size = (size_t)npages * XEN_ARGO_PAGE_SIZE;
	struct stat st;
	void *mem;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
		return -EINVAL;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	*memp = mem;
	*sizep = size;
	return 0;
}

int sim_register_ring(struct sim_fabric *fabric, struct sim_domain *domain,
                      const struct xen_argo_register_ring *reg, uint32_t npages, uint32_t flags,
                      int ring_fd)
{
	return sim_register_ring_ext(fabric, domain, reg, npages, flags, 0, ring_fd);
}

int sim_register_ring_ext(struct sim_fabric *fabric, struct sim_domain *domain,
                          const struct xen_argo_register_ring *reg, uint32_t npages, uint32_t flags,
                          uint32_t lib_flags, int ring_fd)
{
	struct sim_ring *ring;
	int keep_fd = -1;
	bool existed;
	uint32_t tx;
	int ret;

	/* The extension's checks come first; Xen's below see flags untouched. */
	if (lib_flags & ~SIM_REG_PERSIST)
		return -EINVAL;
	if ((lib_flags & SIM_REG_PERSIST) && !domain->may_persist)
		return -EOPNOTSUPP;

	/* Dispatch: npages beyond a maximal ring (argo.c:2108). */
	if (npages > (XEN_ARGO_MAX_RING_SIZE >> 12))
		return -EINVAL;
	if (flags & ~XEN_ARGO_REGISTER_FLAG_MASK)
		return -EINVAL;
	if (!argo_ring_len_valid(reg->len) || argo_ring_npages(reg->len) != npages || reg->pad)
		return -EINVAL;

	if (reg->partner_id == XEN_ARGO_DOMID_ANY) {
		if (!fabric->config.mac_permissive)
			return -EPERM;
	} else if (!find_domain(fabric, reg->partner_id)) {
		return -ESRCH;
	}

	/* Xen counts before looking for an existing ring (argo.c:1711). */
	if (domain->nrings >= XEN_ARGO_MAX_RINGS_PER_DOMAIN)
		return -ENOSPC;

	ring = find_ring_exact(domain, reg->aport, reg->partner_id);
	existed = ring != NULL;
	if (ring) {
		if (flags & XEN_ARGO_REGISTER_FLAG_FAIL_EXIST)
			return -EEXIST;
		if (ring->len != reg->len)
			return -EEXIST;
	}
	/* A persistent ring keeps the memory's fd; take it before changing
	 * anything, so that running out of fds changes nothing. */
	if (lib_flags & SIM_REG_PERSIST) {
		keep_fd = fcntl(ring_fd, F_DUPFD_CLOEXEC, 0);
		if (keep_fd < 0)
			return errno == EBADF ? -EINVAL : -ENOMEM;
	}
	if (ring) {
		/* Same size: re-register onto the new memory, waiters kept. */
		unmap_ring(ring);
	} else {
		ring = calloc(1, sizeof(*ring));
		if (!ring) {
			if (keep_fd >= 0)
				close(keep_fd);
			return -ENOMEM;
		}
		ring->keep_fd = -1;
		ring->owner = domain;
		ring->aport = reg->aport;
		ring->partner = reg->partner_id;
		ring->len = reg->len;
		ring->next = domain->rings;
		domain->rings = ring;
		domain->nrings++;
		fabric->stats.rings++;
	}

	ring->keep_fd = keep_fd;
	ring->persistent = keep_fd >= 0;
	ring->adopted = true; /* the registering process holds it */
	ret = map_ring_memory(ring_fd, npages, &ring->mem, &ring->map_size);
	if (ret < 0) {
		/* Xen removes the ring, even one that existed before (argo.c:1784),
		 * but does not uncount one that existed: its slot stays used. */
		remove_ring(fabric, ring);
		if (existed)
			domain->nrings++;
		return ret;
	}
	/* Xen's ring_count++ (argo.c:1825) runs on every successful register,
	 * a same-size re-register of an existing ring too: that ring now takes
	 * two of the domain's slots until the domain dies (unregister gives
	 * back one). nrings is Xen's count, not the number of rings. */
	if (existed)
		domain->nrings++;
	/* A ring of that name left by a dead partner is replaced. */
	drop_vanished(domain, reg->aport, reg->partner_id);

	/* Adopt the page's tx_ptr if it is sane, else start at rx (argo.c:1805-1823). */
	tx = __atomic_load_n(&ring->mem->tx_ptr, __ATOMIC_RELAXED);
	if (tx >= reg->len || tx % XEN_ARGO_MSG_SLOT_SIZE) {
		tx = argo_ring_sanitise_ptr(__atomic_load_n(&ring->mem->rx_ptr, __ATOMIC_RELAXED),
		                            reg->len);
		__atomic_store_n(&ring->mem->tx_ptr, tx, __ATOMIC_RELEASE);
	}
	ring->tx = tx;
	return 0;
}

int sim_unregister_ring(struct sim_fabric *fabric, struct sim_domain *domain,
                        const struct xen_argo_unregister_ring *unreg)
{
	struct sim_ring *ring;

	if (unreg->pad)
		return -EINVAL;
	ring = find_ring_exact(domain, unreg->aport, unreg->partner_id);
	if (!ring) {
		/* Xen no longer has a ring its partner's death removed: ENOENT;
		 * its memory kept here goes too. */
		drop_vanished(domain, unreg->aport, unreg->partner_id);
		return -ENOENT;
	}
	remove_ring(fabric, ring);
	return 0;
}

/* Checks the iovs as Xen's iov_count() does (argo.c:721-763). */
static int64_t count_iovs(const struct xen_argo_iov *iovs, uint32_t niov)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < niov; i++) {
		if (iovs[i].pad)
			return -EINVAL;
		if (iovs[i].iov_len > MAX_ARGO_MESSAGE_SIZE)
			return -EINVAL;
		total += iovs[i].iov_len;
		if (total > MAX_ARGO_MESSAGE_SIZE)
			return -EMSGSIZE;
	}
	return (int64_t)total;
}

static int64_t send_failed(struct sim_fabric *fabric, int64_t ret)
{
	fabric->stats.sends_failed++;
	return ret;
}

int64_t sim_sendv(struct sim_fabric *fabric, struct sim_domain *domain,
                  const struct xen_argo_send_addr *addr, const struct xen_argo_iov *iovs,
                  uint32_t niov, uint32_t message_type, const uint8_t *memory, size_t memory_size)
{
	struct iovec segs[XEN_ARGO_MAXIOV];
	struct xen_argo_addr source;
	struct sim_domain *dst;
	struct sim_ring *ring;
	argo_domid_t src_domid;
	int64_t total, ret;
	uint32_t i;

	if (niov > XEN_ARGO_MAXIOV)
		return send_failed(fabric, -EINVAL);
	if (addr->src.pad || addr->dst.pad)
		return send_failed(fabric, -EINVAL);

	/* The true source: ANY means "me"; anybody else is a forgery. */
	src_domid = addr->src.domain_id;
	if (src_domid == XEN_ARGO_DOMID_ANY)
		src_domid = domain->domid;
	if (src_domid != domain->domid)
		return send_failed(fabric, -EPERM);

	dst = find_domain(fabric, addr->dst.domain_id);
	if (!dst)
		return send_failed(fabric, -ESRCH);
	if (fabric->config.policy &&
	    !sim_policy_allows(fabric->config.policy, src_domid, addr->src.aport, dst->domid,
	                       addr->dst.aport))
		return send_failed(fabric, -EACCES);

	ring = find_ring_for_sender(dst, addr->dst.aport, src_domid);
	if (!ring)
		return send_failed(fabric, -ECONNREFUSED);

	total = count_iovs(iovs, niov);
	if (total < 0)
		return send_failed(fabric, total);

	if (argo_ring_too_large((uint32_t)total, ring->len))
		return send_failed(fabric, -EMSGSIZE);
	if (!argo_ring_fits((uint32_t)total, ring_space(ring))) {
		/* Full now: remember the sender so notify can wake it (argo.c:2044-2053). */
		ret = requeue_waiter(ring, src_domid, (uint32_t)total);
		if (ret == 0)
			recheck_after_queueing(fabric, ring, src_domid);
		return send_failed(fabric, ret < 0 ? ret : -EAGAIN);
	}

	/* Only now are the guest addresses touched (argo.c:855-956); empty
	 * iovs are skipped without looking at their handle. */
	for (i = 0; i < niov; i++) {
		uint64_t hnd = iovs[i].iov_hnd, len = iovs[i].iov_len;

		if (len && (hnd > memory_size || len > memory_size - hnd))
			return send_failed(fabric, -EFAULT);
		segs[i].iov_base = len ? (void *)(memory + hnd) : NULL;
		segs[i].iov_len = len;
	}

	source.aport = addr->src.aport;
	source.domain_id = src_domid;
	source.pad = 0;
	ret = argo_ring_insert(ring->mem, ring->len, ring->tx, &source, message_type, segs, niov,
	                       (uint32_t)total);
	if (ret < 0)
		return send_failed(fabric, ret);
	ring->tx = (uint32_t)ret;

	fabric->stats.sends_ok++;
	fabric->stats.bytes_sent += (uint64_t)total;
	fabric->by_domid[src_domid].sent++;
	fabric->by_domid[dst->domid].received++;
	if (message_type == ARGO_MSGTYPE_UNDELIVERABLE) {
		fabric->by_domid[src_domid].sent_reports++;
		fabric->by_domid[dst->domid].received_reports++;
	}
	signal_domain(fabric, dst->domid);
	return total;
}

/* Wakes every sender waiting on the ring whose wanted length now fits
 * (argo.c:1876-1900). */
static void wake_ring_waiters(struct sim_fabric *fabric, struct sim_ring *ring)
{
	argo_domid_t woken[XEN_ARGO_MAX_PENDERS_PER_RING];
	struct sim_waiter **pp = &ring->waiters, *w;
	uint32_t space = payload_space(ring);
	unsigned int nwoken = 0, i;

	if (!space)
		return;
	while ((w = *pp)) {
		if (space >= w->len) {
			*pp = w->next;
			woken[nwoken++] = w->domid;
			count_waiters(ring, -1);
			free(w);
		} else {
			pp = &w->next;
		}
	}
	for (i = 0; i < nwoken; i++)
		signal_domain(fabric, woken[i]);
}

/* Wakes the waiters of every ring of the caller (notify). */
static void wake_waiters(struct sim_fabric *fabric, struct sim_domain *domain)
{
	struct sim_ring *ring;

	for (ring = domain->rings; ring; ring = ring->next)
		wake_ring_waiters(fabric, ring);
}

/* One ring_data entry (argo.c:1313-1412). Only flags and max_message_size
 * are written back; a missing ring leaves max_message_size as given. */
static int fill_ring_data(struct sim_fabric *fabric, struct sim_domain *caller,
                          struct xen_argo_ring_data_ent *ent)
{
	struct sim_domain *dst = find_domain(fabric, ent->ring.domain_id);
	struct sim_ring *ring;
	uint16_t flags = 0;
	uint32_t max, space;
	int ret;

	if (!dst)
		goto out;
	ring = find_ring_for_sender(dst, ent->ring.aport, caller->domid);
	if (!ring)
		goto out;

	flags |= XEN_ARGO_RING_EXISTS;
	max = argo_ring_max_message_size(ring->len);
	ent->max_message_size = max;
	if (ring->partner == XEN_ARGO_DOMID_ANY)
		flags |= XEN_ARGO_RING_SHARED;
	space = payload_space(ring);
	if (ent->space_required > max) {
		flags |= XEN_ARGO_RING_EMSGSIZE;
	} else if (space >= ent->space_required) {
		drop_waiter(ring, caller->domid);
		flags |= XEN_ARGO_RING_SUFFICIENT;
	} else {
		ret = requeue_waiter(ring, caller->domid, ent->space_required);
		if (ret == -EBUSY)
			flags |= XEN_ARGO_RING_EBUSY;
		else if (ret < 0)
			return ret;
		else
			recheck_after_queueing(fabric, ring, caller->domid);
	}
	if (space == max)
		flags |= XEN_ARGO_RING_EMPTY;
out:
	ent->flags = flags;
	return 0;
}

int sim_notify(struct sim_fabric *fabric, struct sim_domain *domain,
               struct xen_argo_ring_data *ring_data, size_t ring_data_bytes)
{
	uint32_t i;
	int ret = 0;

	fabric->stats.notifies++;
	wake_waiters(fabric, domain);
	if (!ring_data)
		return 0;
	if (ring_data_bytes < sizeof(*ring_data))
		return -EFAULT;
	if (ring_data->nent > XEN_ARGO_MAX_NOTIFY_COUNT)
		return -EACCES;
	if ((ring_data_bytes - sizeof(*ring_data)) / sizeof(ring_data->data[0]) < ring_data->nent)
		return -EFAULT;
	for (i = 0; i < ring_data->nent && !ret; i++)
		ret = fill_ring_data(fabric, domain, &ring_data->data[i]);
	return ret;
}

void sim_fabric_get_stats(const struct sim_fabric *fabric, struct sim_fabric_stats *stats)
{
	*stats = fabric->stats;
}

void sim_fabric_domid_stats(const struct sim_fabric *fabric, argo_domid_t domid,
                            struct sim_domid_stats *stats)
{
	if (domid < XEN_DOMID_FIRST_RESERVED)
		*stats = fabric->by_domid[domid];
	else
		*stats = (struct sim_domid_stats){0};
}

/* ---- Durable rings and tagged sends (libargo's extension) ---------------- */

void sim_domain_allow_persist(struct sim_domain *domain, int allow)
{
	domain->may_persist = allow != 0;
}

int sim_domain_is_detached(const struct sim_domain *domain)
{
	return domain->detached;
}

int sim_domain_keep(struct sim_domain *domain, int keep)
{
	if (!domain->may_persist)
		return -EOPNOTSUPP;
	domain->keep = keep != 0;
	return 0;
}

int sim_domain_detach(struct sim_fabric *fabric, struct sim_domain *domain)
{
	struct sim_ring *ring, *next;
	unsigned int d;

	for (ring = domain->rings; ring; ring = ring->next)
		if (ring->persistent)
			break;
	if (!ring && !domain->vanished && !domain->keep)
		return -ENOENT;

	/* Its other rings go, as if the process had unregistered them. */
	for (ring = domain->rings; ring; ring = next) {
		next = ring->next;
		if (!ring->persistent)
			remove_ring(fabric, ring);
	}
	/* Its waits go: nobody is left to retry the send (its own rings too). */
	for (d = 0; d < XEN_DOMID_FIRST_RESERVED; d++) {
		struct sim_domain *other = fabric->domains[d];

		if (!other)
			continue;
		for (ring = other->rings; ring; ring = ring->next)
			drop_waiter(ring, domain->domid);
	}
	domain->ctx = NULL;
	domain->detached = true;
	fabric->stats.detached++;
	return 0;
}

void sim_domain_attach(struct sim_fabric *fabric, struct sim_domain *domain, void *ctx)
{
	struct sim_ring *ring;

	struct sim_vanished *v;

	for (ring = domain->rings; ring; ring = ring->next)
		if (ring->persistent)
			ring->adopted = false;
	for (v = domain->vanished; v; v = v->next)
		v->adopted = false;
	if (domain->detached)
		fabric->stats.detached--;
	domain->ctx = ctx;
	domain->detached = false;
	/* The pending event, raised whether or not anything came while
	 * detached: the previous process may have died before draining what it
	 * had been told of. */
	signal_domain(fabric, domain->domid);
}

int sim_adopt_ring(struct sim_fabric *fabric, struct sim_domain *domain, struct sim_adopted *out)
{
	struct sim_ring *ring, *found = NULL;
	int fd;

	(void)fabric;
	if (!domain->may_persist)
		return -EOPNOTSUPP;
	/* The list is newest first: the last match is the oldest. */
	for (ring = domain->rings; ring; ring = ring->next)
		if (ring->persistent && !ring->adopted)
			found = ring;
	if (!found) {
		/* Then the memory of rings their partner's death unregistered
		 * (oldest first): the adopter learns that with
		 * argo_ring_reregister(), as on Xen. */
		struct sim_vanished *v;

		for (v = domain->vanished; v && v->adopted; v = v->next)
			;
		if (!v)
			return -ENOENT;
		fd = fcntl(v->keep_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return errno == EMFILE || errno == ENFILE ? -errno : -ENOMEM;
		v->adopted = true;
		out->aport = v->aport;
		out->partner = v->partner;
		out->len = v->len;
		out->npages = v->npages;
		out->fd = fd;
		return 0;
	}
	fd = fcntl(found->keep_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE ? -errno : -ENOMEM;
	found->adopted = true;
	out->aport = found->aport;
	out->partner = found->partner;
	out->len = found->len;
	out->npages = (uint32_t)(found->map_size / XEN_ARGO_PAGE_SIZE);
	out->fd = fd;
	return 0;
}

int64_t sim_sendv_tagged(struct sim_fabric *fabric, struct sim_domain *domain,
                         const struct xen_argo_send_addr *addr, const struct xen_argo_iov *iovs,
                         uint32_t niov, uint32_t message_type, const uint8_t *memory,
                         size_t memory_size, uint64_t tag)
{
	int64_t ret =
	    sim_sendv(fabric, domain, addr, iovs, niov, message_type, memory, memory_size);

	if (ret >= 0 && tag)
		domain->last_tag = tag;
	return ret;
}

uint64_t sim_domain_last_tag(const struct sim_domain *domain)
{
	return domain->last_tag;
}
