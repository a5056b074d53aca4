/* SPDX-License-Identifier: MIT */
/*
 * The private protocol between libargo's sim backend and argo-simd.
 *
 * Transport: a unix SOCK_SEQPACKET socket; one connection is one domain.
 * Every request is one packet and gets exactly one reply packet, in order.
 *
 * On accept the daemon sends a welcome packet carrying three fds (SCM_RIGHTS):
 *   [0] an eventfd: the domain's VIRQ_ARGO. The daemon adds 1 to it whenever
 *       Xen would raise the VIRQ; the client polls and reads it.
 *   [1] a memfd of ARGO_SIM_STAGING_SIZE bytes: the domain's "guest memory"
 *       for sendv. The client lays iov contents into it and passes offsets
 *       as iov handles; the daemon copies from there into destination rings,
 *       as Xen copies from guest memory. The daemon created it and sealed it
 *       against shrinking, so a client cannot make the daemon fault.
 *   [2] a memfd of one page, struct argo_sim_shared: what the daemon tells
 *       the client without a round trip (the space waiters on its rings, the
 *       events raised). The daemon writes it; the client can map it only
 *       read-only (F_SEAL_FUTURE_WRITE) and uses it only to skip calls that
 *       would do nothing: a notify with no waiter to wake, a read of an
 *       eventfd nothing was written to.
 *
 * register_ring passes the ring's memory as one memfd (SCM_RIGHTS) which the
 * client created, sized to npages pages, and sealed with F_SEAL_SHRINK; the
 * daemon refuses any fd that is not such a memfd (-EINVAL), as Xen refuses
 * gfns that are not the guest's own writable RAM.
 *
 * Durable rings and tagged sends (libargo's extension for relays, not Xen's
 * ABI; docs/sim-fabric.md): register's lib_flags may ask for a persistent
 * ring (a static domain only), which outlives the connection; a later
 * connection of the same static domain takes it over with ADOPT, whose reply
 * carries the ring's memfd. sendv carries a tag that the daemon records as
 * the domain's last send tag when the send succeeds; LAST_TAG reads it.
 * KEEP makes a static domain outlive its connection even without a
 * persistent ring (a relay holding a leaf endpoint's domain).
 *
 * All integers are host-endian: both ends are on one machine.
 */
#ifndef ARGO_SIM_PROTO_H
#define ARGO_SIM_PROTO_H

#include <stdint.h>

#include "argo/abi.h"

#define ARGO_SIM_MAGIC   0x4f475241u /* "ARGO" */
#define ARGO_SIM_VERSION 3u

/* sendv staging area: the largest message Xen takes, plus a page. */
#define ARGO_SIM_STAGING_SIZE (XEN_ARGO_MAX_RING_SIZE + XEN_ARGO_PAGE_SIZE)

/* Requests larger than this are truncated by the daemon (and then refused
 * by the per-op length checks); the largest legal one is a notify of 256
 * entries, about 5 KiB. */
#define ARGO_SIM_MAX_REQUEST 65536u

/* Request ops reuse the hypercall's sub-command numbers; the extension's
 * own ops are numbered far from them. */
enum argo_sim_op {
	ARGO_SIM_OP_REGISTER = XEN_ARGO_OP_register_ring,
	ARGO_SIM_OP_UNREGISTER = XEN_ARGO_OP_unregister_ring,
	ARGO_SIM_OP_SENDV = XEN_ARGO_OP_sendv,
	ARGO_SIM_OP_NOTIFY = XEN_ARGO_OP_notify,
	ARGO_SIM_OP_ADOPT = 0x100,    /* struct argo_sim_req_hdr alone */
	ARGO_SIM_OP_LAST_TAG = 0x101, /* struct argo_sim_req_hdr alone */
	ARGO_SIM_OP_KEEP = 0x102,     /* struct argo_sim_req_keep */
};

/* register's lib_flags (not Xen's flags): any other bit is -EINVAL. */
#define ARGO_SIM_REG_PERSIST   0x1u /* keep the ring when the connection closes */
#define ARGO_SIM_REG_LIB_FLAGS ARGO_SIM_REG_PERSIST

/* status < 0 refuses the connection (no fds then): -EBUSY when a static
 * domain's socket already has its domain, -ENOSPC when no domid is free. */
struct argo_sim_welcome {
	uint32_t magic;
	uint32_t version;
	int32_t status;
	uint32_t domid;
	uint32_t staging_size;
	uint32_t shared_size; /* ARGO_SIM_SHARED_SIZE */
};

/*
 * The shared page (welcome fd [2]). Only the daemon writes it, with
 * sequentially consistent atomics; each field says what the client may skip
 * on the strength of it. docs/sim-fabric.md ("The shared page") gives the
 * orderings that make each skip safe.
 */
struct argo_sim_shared {
	/* Space waiters queued on this domain's rings, all of them. While it is
	 * 0 a notify without ring data has nobody to wake: libargo answers it
	 * itself. The daemon publishes a new waiter before it looks at the
	 * ring's rx_ptr one more time (and wakes the waiter if the space is
	 * there), so a consumer that read 0 after moving rx_ptr loses nobody. */
	uint32_t ring_waiters;
	uint32_t pad;
	/* VIRQ_ARGO raises, counted before each eventfd write (of 1) is issued.
	 * When it equals the sum of the counts the client's eventfd reads have
	 * returned, every write was consumed and the eventfd is not readable:
	 * argo_event_clear() need not read. */
	uint64_t events_raised;
	uint64_t reserved;
};
#define ARGO_SIM_SHARED_SIZE 4096u

_Static_assert(sizeof(struct argo_sim_welcome) == 24, "argo_sim_welcome size");
_Static_assert(sizeof(struct argo_sim_shared) == 24, "argo_sim_shared size");

struct argo_sim_req_hdr {
	uint32_t op;
	uint32_t cookie; /* echoed in the reply */
};

struct argo_sim_req_register {
	struct argo_sim_req_hdr hdr;
	struct xen_argo_register_ring reg;
	uint32_t npages;    /* arg3 */
	uint32_t flags;     /* arg4, Xen's flags, checked as Xen does */
	uint32_t lib_flags; /* ARGO_SIM_REG_*: the extension's, checked first */
	                    /* + one memfd in SCM_RIGHTS */
};

struct argo_sim_req_unregister {
	struct argo_sim_req_hdr hdr;
	struct xen_argo_unregister_ring unreg;
};

struct argo_sim_req_sendv {
	struct argo_sim_req_hdr hdr;
	struct xen_argo_send_addr addr;
	uint32_t niov;         /* arg3 */
	uint32_t message_type; /* arg4 */
	uint64_t tag;          /* 0, or the domain's last send tag if this send succeeds */
	/* + niov struct xen_argo_iov, iov_hnd = offset into the staging memfd */
};

/* Keep (1) or no longer keep (0) this static domain when its connection
 * closes, rings or not (argo_keep_domain()). */
struct argo_sim_req_keep {
	struct argo_sim_req_hdr hdr;
	uint32_t keep;
	uint32_t pad;
};

struct argo_sim_req_notify {
	struct argo_sim_req_hdr hdr;
	uint32_t has_ring_data; /* 0: the NULL handle */
	uint32_t pad;
	/* + struct xen_argo_ring_data and its entries when has_ring_data */
};

struct argo_sim_reply {
	uint32_t cookie;
	int32_t ret; /* the hypercall's return value */
	             /* notify: + the ring_data entries as written back, when ret == 0;
	              * adopt: + struct argo_sim_adopt_reply, when ret == 0;
	              * last_tag: + struct argo_sim_last_tag_reply, when ret == 0 */
};

/* After the reply header of a successful ADOPT, which also carries exactly
 * one fd (SCM_RIGHTS): the ring's memfd, npages pages, to map shared. */
struct argo_sim_adopt_reply {
	uint32_t aport;
	uint32_t partner_id; /* an argo_domid_t, or XEN_ARGO_DOMID_ANY */
	uint32_t len;
	uint32_t npages;
};

struct argo_sim_last_tag_reply {
	uint64_t tag; /* 0 when the domain never made a tagged send */
};

#endif /* ARGO_SIM_PROTO_H */
