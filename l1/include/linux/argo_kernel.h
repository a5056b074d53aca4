/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Argo for other kernel modules: the small in-kernel API argo.ko exports
 * next to /dev/argo. Kernel-internal (not uapi): the virtio-argo transport
 * (l1/virtio-argo/) is its user. l1/README.md describes it.
 *
 * One module owns Argo in a domain because Xen has one VIRQ_ARGO per domain
 * and one ring namespace per domain: argo.ko binds the VIRQ, keeps the
 * rings of /dev/argo and of kernel users in one place (neither can take the
 * other's ring by name), and runs every hypercall.
 *
 * A kernel ring lives in kernel memory that argo.ko allocates; its user
 * reads messages in place (argo_kring_peek, argo_kmsg_copy,
 * argo_kring_consume) with no copy but the one into its final buffer.
 * Events: Xen raises VIRQ_ARGO for the whole domain (a message arrived on
 * any ring, or space appeared on a ring a send or notify waited for), so
 * every kernel ring's event function is called on every VIRQ_ARGO, in hard
 * IRQ context: it must not sleep and should only schedule work.
 *
 * Return values: a negative errno on failure. Hypercall failures are Xen's
 * own errors, unchanged: -EAGAIN (the destination ring lacks space; Xen
 * raises VIRQ_ARGO once it has room for the message), -ECONNREFUSED (no
 * such ring, or not for us), -EMSGSIZE (larger than the ring can ever
 * hold), -EEXIST (register: the ring exists), -EOPNOTSUPP (Argo disabled),
 * -EINVAL, -EPERM, -EFAULT.
 */
#ifndef _LINUX_ARGO_KERNEL_H
#define _LINUX_ARGO_KERNEL_H

#include <linux/types.h>
#include <linux/uio.h>

/* A ring's partner: any domain (Xen needs mac-permissive=1 for these). */
#define ARGO_KDOMID_ANY		0x7FF4

/* Most iovs in one send (Xen's XEN_ARGO_MAXIOV). */
#define ARGO_KMAXIOV		8U

/*
 * The ring-header and slot overheads: a message of n payload bytes takes
 * ALIGN(n + ARGO_KMSG_HEADER, 16) bytes of its destination ring.
 */
#define ARGO_KMSG_HEADER	16U

/*
 * Called on every VIRQ_ARGO, in hard IRQ context, with the priv given at
 * registration.
 */
typedef void (*argo_kring_event_fn)(void *priv);

struct argo_kring;

/*
 * argo_kring_register - register a ring (aport, partner) of len bytes
 * (a multiple of 16; Xen's limits apply). event is called on every
 * VIRQ_ARGO from the moment the ring exists until argo_kring_unregister
 * returns. A ring of that name already registered in this domain, by
 * /dev/argo or by a kernel user, is refused (-EEXIST); /dev/argo in turn
 * cannot register or unregister a kernel ring's name (-EADDRINUSE).
 * Sleeps. Returns the ring or an ERR_PTR.
 */
struct argo_kring *argo_kring_register(u32 aport, u16 partner, u32 len,
				       argo_kring_event_fn event, void *priv);

/*
 * argo_kring_unregister - unregister and free; event is no longer running
 * or called once this returns. Sleeps.
 */
void argo_kring_unregister(struct argo_kring *ring);

/* Largest payload the ring can hold: len - 32 (Xen's rule). */
u32 argo_kring_max_msg(const struct argo_kring *ring);

/* Whether a message is waiting (cheap; for event functions). */
bool argo_kring_pending(const struct argo_kring *ring);

/* Free bytes of the ring, as a sender would see them now. */
u32 argo_kring_space(const struct argo_kring *ring);

/* One message, as argo_kring_peek found it at the head of the ring. */
struct argo_kmsg {
	u32 src_aport;
	u16 src_domid;
	u32 type;	/* Xen's message_type */
	u32 len;	/* payload bytes */
	u32 data;	/* private: ring offset of the payload */
	u32 next;	/* private: rx_ptr once consumed */
};

/*
 * argo_kring_peek - describe the oldest unread message. 0, -EAGAIN (ring
 * empty) or -EBADMSG (the ring's pointers or header are not what Xen
 * writes: the ring is unusable). The caller serialises peek, copy and
 * consume of one ring (one reader).
 */
int argo_kring_peek(struct argo_kring *ring, struct argo_kmsg *msg);

/* Copy payload bytes [off, off + n) of msg (off + n <= msg->len). */
void argo_kmsg_copy(const struct argo_kring *ring, const struct argo_kmsg *msg,
		    u32 off, void *dst, u32 n);

/*
 * argo_kring_consume - drop msg (the one peek returned) from the ring.
 * Returns the ring's free bytes before the message was dropped, so that the
 * caller can tell whether a sender may have been waiting for space (then it
 * calls argo_knotify(NULL, 0) once it has read what it wants).
 */
u32 argo_kring_consume(struct argo_kring *ring, const struct argo_kmsg *msg);

/*
 * argo_ksendv - send one message of the iovs' bytes, end to end, from our
 * port src_aport to (dst_domid, dst_aport). iov_base are kernel addresses
 * (direct map, vmalloc or slab); at most ARGO_KMAXIOV of them. Any context
 * (it does not sleep). Returns the payload length or Xen's error.
 */
int argo_ksendv(u32 src_aport, u16 dst_domid, u32 dst_aport,
		const struct kvec *iov, unsigned int niov, u32 message_type);

/* A ring to ask about in argo_knotify: Xen's xen_argo_ring_data_ent. */
struct argo_knotify_ent {
	u32 aport;		/* the ring: (domid, aport), partner us or any */
	u16 domid;
	u16 flags;		/* out: ARGO_KRING_* */
	u32 space_required;	/* in: wake us once this much payload fits */
	u32 max_message_size;	/* out */
};

#define ARGO_KRING_EXISTS	(1U << 0)
#define ARGO_KRING_SHARED	(1U << 1)
#define ARGO_KRING_EMPTY	(1U << 2)
#define ARGO_KRING_SUFFICIENT	(1U << 3)
#define ARGO_KRING_EMSGSIZE	(1U << 4)
#define ARGO_KRING_EBUSY	(1U << 5)

/* Most entries in one argo_knotify call. */
#define ARGO_KNOTIFY_MAX	16U

/*
 * argo_knotify - Xen's notify: wakes senders waiting for space on our own
 * rings; for each entry, says whether the ring exists and has room for
 * space_required payload bytes (if not, Xen raises VIRQ_ARGO once it has).
 * ents may be NULL (n 0). Any context. 0 or Xen's error.
 */
int argo_knotify(struct argo_knotify_ent *ents, unsigned int n);

#endif /* _LINUX_ARGO_KERNEL_H */
