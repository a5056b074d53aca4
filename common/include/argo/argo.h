/* SPDX-License-Identifier: MIT */
/*
 * libargo: one Argo-shaped API over every fabric.
 *
 * A program opens a fabric by URI, registers rings, sends with sendv, reads
 * messages out of its rings in place, calls notify, and polls one fd that
 * fires as VIRQ_ARGO does. The same program runs unchanged on:
 *   sim:/path/to/socket   the argo-simd user-space fabric (l0/)
 *   xen:/dev/argo         real Xen, through the argo.ko module (l1/kmod)
 *   link:serial:/dev/virtio-ports/argo0?key=/etc/argo/leaf.key&hvid=l0
 *                         a leaf endpoint: a domain at a relay, where there
 *                         is no Argo here (docs/client-api.md)
 *
 * Return conventions, for every function below unless it says otherwise:
 *   >= 0          success (a byte count where the function says so);
 *   -errno        failure, with the errno value Xen's argo_op would return
 *                 for the same call (see docs/client-api.md), or, for
 *                 failures of the transport to the fabric itself, -ENOTCONN
 *                 (the fabric went away) or -EPROTO (it answered nonsense).
 * errno is never set; nothing here prints.
 *
 * Threads: one struct argo_fabric may be used from several threads; calls
 * on it are serialised. Reading a ring (argo_recv) needs no lock against the
 * fabric, but only one thread may read a given ring at a time.
 */
#ifndef ARGO_ARGO_H
#define ARGO_ARGO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "argo/abi.h"
#include "argo/ring.h"

struct argo_fabric;

/* A registered ring, mapped into this process. Fields are read-only. */
struct argo_ring {
	struct xen_argo_ring *shared; /* the ring page(s): header, then len bytes */
	uint32_t len;
	uint32_t aport;
	argo_domid_t partner_id;
	void *backend; /* owned by the fabric backend */
};

/* Opens a fabric. -EINVAL for a malformed URI, -EPROTONOSUPPORT for an
 * unknown scheme, -ENOENT/-ECONNREFUSED when nothing serves it, -EPROTO on a
 * version mismatch. On success *fabricp is set. */
int argo_open(const char *uri, struct argo_fabric **fabricp);

/* Why the last argo_open() of this thread failed and what to check, in a
 * sentence naming the errno ("" when it did not fail): a fabric's transport,
 * not Argo ("no fabric socket at PATH (ENOENT): is argo-simd running on
 * PATH?", a static domain already taken, the socket's mode), or a `link:`
 * URI's problem, its key file's, what the relay answered. Thread-local,
 * valid until this thread's next argo_open(). For messages; never parse it. */
const char *argo_open_error(void);

/* Closes the fabric: every ring registered through it goes, as when a domain
 * dies (persistent rings excepted: see argo_register_ring_persistent()). Ring
 * handles still held are freed too; do not use them after. */
void argo_close(struct argo_fabric *fabric);

/* This domain's id on the fabric (assigned by the fabric, never chosen). */
argo_domid_t argo_domid(const struct argo_fabric *fabric);

/* An fd that polls readable when the fabric raised VIRQ_ARGO for us:
 * a message arrived, or space a sender waited for came back. */
int argo_event_fd(const struct argo_fabric *fabric);

/* Consumes pending notifications: 1 if there were any, 0 if none. Call it
 * before draining rings, so that a notification raised during the drain is
 * not lost. */
int argo_event_clear(struct argo_fabric *fabric);

/* Waits until the fabric raises our event, at most timeout_ms (-1: no
 * limit), and takes it in the same system call: 1 on an event, 0 on
 * time-out, -errno. An event raised since the previous argo_event_wait()
 * returned (or pending before the first) returns at once, so the loop
 * "drain the rings; argo_event_wait()" loses none and needs no
 * argo_event_clear(). It watches the event fd edge-triggered and never
 * reads it: a program that also polls argo_event_fd() must clear it as
 * usual. Safe from several threads; the first call makes an epoll fd,
 * closed by argo_close(). */
int argo_event_wait(struct argo_fabric *fabric, int timeout_ms);

/* register_ring. The library allocates and maps the ring's pages (zeroed)
 * and passes them to the fabric; reg is passed as given (pads included),
 * flags likewise. On success *ringp is a new handle. Registering the same
 * (aport, partner) again without FAIL_EXIST replaces the fabric's ring with
 * the new handle's pages: release the old handle with argo_ring_release(). */
int argo_register_ring(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                       uint32_t flags, struct argo_ring **ringp);

/* unregister_ring for this handle, then frees it whatever the answer
 * (-ENOENT when the fabric no longer had it, as after a partner's death). */
int argo_unregister_ring(struct argo_fabric *fabric, struct argo_ring *ring);

/* unregister_ring with a caller-made argument (for tests of the ABI); does
 * not touch any handle. */
int argo_unregister_raw(struct argo_fabric *fabric, const xen_argo_unregister_ring_t *unreg);

/* Frees a handle's mapping without telling the fabric. */
void argo_ring_release(struct argo_ring *ring);

/* sendv: returns the payload bytes sent (sum of iov lengths), or -errno.
 * addr->src.domain_id may be XEN_ARGO_DOMID_ANY (the fabric fills in ours).
 * niov may be 0 (a header-only message); more than XEN_ARGO_MAXIOV is
 * -EINVAL. -EAGAIN: the ring is full now; the fabric has recorded us as a
 * waiter and will raise the event when the space is back. */
ssize_t argo_sendv(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                   const struct iovec *iov, unsigned int niov, uint32_t message_type);

/* notify: wakes senders waiting on our rings, then, when ring_data is not
 * NULL, fills in flags and max_message_size of each entry (and queues a
 * waiter for space_required where it does not fit). */
int argo_notify(struct argo_fabric *fabric, xen_argo_ring_data_t *ring_data);

/* Whether the fabric is still there, without waiting: 0, or -ENOTCONN once
 * it went away (sim: argo-simd closed our connection or died). A call the
 * library answers itself never finds out (argo_notify(fabric, NULL) while
 * no sender waits, an argo_event_clear() with nothing raised, argo_recv),
 * so a program that can sit idle calls this when its wait times out. No
 * system call to the fabric; on xen always 0 (the hypervisor stays). */
int argo_fabric_check(struct argo_fabric *fabric);

/*
 * Durable rings and tagged sends: a libargo extension for relays.
 *
 * Not part of Xen's Argo ABI. A relay (argo-relayd) must survive being
 * killed and restarted without losing or duplicating messages. On Xen the
 * guest domain does not die when one of its processes does, so its rings
 * could outlive the process; these calls let a fabric keep a ring, with its
 * memory and unread messages, for the next process of the same domain, and
 * record with each send a tag that the next process can read back to know
 * how far its predecessor got. Supported by sim on a static domain
 * (argo-simd -D DOMID=PATH; docs/sim-fabric.md, "Durable rings") and by xen
 * (argo.ko keeps the rings of the guest; docs/xen-fabric.md); a sim
 * *dynamic* domain, which dies with its connection, answers -EOPNOTSUPP.
 */

/* Registers like argo_register_ring(), and asks the fabric to keep the ring
 * (registered, with its memory and contents) when the process that holds the
 * fabric goes away, so that a later process of the same domain can take it over
 * with argo_adopt_ring(). -EOPNOTSUPP where the fabric cannot (a sim *dynamic*
 * domain, which dies with its connection; an argo.ko without persistent rings).
 * Otherwise the same returns as argo_register_ring(). */
int argo_register_ring_persistent(struct argo_fabric *fabric, const xen_argo_register_ring_t *reg,
                                  uint32_t flags, struct argo_ring **ringp);

/* Takes over one persistent ring that an earlier process of this domain left
 * behind: 0 and *ringp (aport, partner_id, len filled in; the memory as it was:
 * rx_ptr, tx_ptr, header reserved bytes, and every message, including those
 * sent to it while no process held it). The ring stays registered and
 * persistent throughout. -ENOENT when none is left (call it in a loop until
 * then), -EOPNOTSUPP as above. */
int argo_adopt_ring(struct argo_fabric *fabric, struct argo_ring **ringp);

/* argo_sendv() that, when it succeeds, also records tag (non-zero) as this
 * domain's last send tag, atomically with the send (nothing can observe or
 * interrupt one without the other: the daemon does both in one request). A
 * failed send leaves the recorded tag unchanged. tag 0 behaves as argo_sendv(). */
ssize_t argo_sendv_tagged(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                          const struct iovec *iov, unsigned int niov, uint32_t message_type,
                          uint64_t tag);

/* The tag of this domain's last successful tagged send (0 when none), kept
 * by the fabric across processes of a static sim domain or a Xen guest. 0 or
 * -errno. */
int argo_last_send_tag(struct argo_fabric *fabric, uint64_t *tag);

/* Registers the ring again, on its own memory and with everything in it,
 * if the fabric no longer has it. A fabric drops a ring whose partner domain
 * died, and tells nobody (Xen's domain_destroy does; so argo-simd and
 * argo.ko do too): a ring partnered with a domain that died and came back
 * (a sim static domain, a Xen domid used again) is no longer reachable by
 * the new domain until this is done. Always a register_ring with
 * XEN_ARGO_REGISTER_FLAG_FAIL_EXIST, so it is also the way to ask whether
 * the ring is still there:
 *   0            it was gone and is registered again (its partner lives);
 *   -EEXIST      the fabric still has it; nothing changed;
 *   -ESRCH       its partner does not exist: the ring stays unregistered,
 *                its memory and the messages in it stay readable;
 *   -EOPNOTSUPP  a fabric that cannot (an argo.ko without it);
 * otherwise as argo_register_ring(). A persistent ring stays persistent. */
int argo_ring_reregister(struct argo_fabric *fabric, struct argo_ring *ring);

/* keep != 0: the fabric keeps this domain, with its persistent rings and
 * last send tag, when this process goes, even if it has no persistent ring
 * (a relay holding a leaf endpoint's domain: the leaf, not the relay, is
 * the guest). keep 0: the domain dies with its last process again unless a
 * persistent ring keeps it. Kept across processes. A sim static domain;
 * -EOPNOTSUPP elsewhere. 0 or -errno. */
int argo_keep_domain(struct argo_fabric *fabric, int keep);

/* Where this process's ring memory is a copy of the fabric's (a `link:`
 * leaf endpoint, docs/client-api.md "Leaf endpoints"), waits until every
 * message the fabric delivered into this domain's rings, and every event it
 * raised, before the call is here, and the fabric has seen every rx_ptr
 * this process moved. Elsewhere ring memory is the fabric's own and it
 * returns 0 at once. 0 or -errno (a transport error). */
int argo_sync(struct argo_fabric *fabric);

/* Reads the next message of a ring in place (see argo_ring_recv() in
 * argo/ring.h for the return values). Call argo_notify(fabric, NULL) after
 * consuming, so that waiting senders learn of the space. */
static inline ssize_t argo_recv(struct argo_ring *ring, xen_argo_addr_t *source,
                                uint32_t *message_type, void *buf, size_t bufsz)
{
	return argo_ring_recv(ring->shared, ring->len, source, message_type, buf, bufsz);
}

/* Describes the next message without consuming it (payload length). */
static inline ssize_t argo_peek(const struct argo_ring *ring, xen_argo_addr_t *source,
                                uint32_t *message_type)
{
	return argo_ring_peek(ring->shared, ring->len, source, message_type);
}

/* A readable name for a negative errno value returned by this library. */
const char *argo_strerror(int err);

#endif /* ARGO_ARGO_H */
