/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * /dev/argo: Xen Argo inter-domain messaging for user space.
 *
 * The argo.ko module (l1/kmod/) exposes the four Argo hypercall operations
 * of Xen (xen/include/public/argo.h) to user space. Every argument is handed
 * to Xen as given, pads included, so the caller sees exactly Xen's answer
 * (a payload byte count for SENDV, 0 for the others, or -1 with errno set
 * to Xen's error). Errors of the device itself: EFAULT (bad user pointer),
 * ENOMEM, ENOTTY (unknown ioctl), EINVAL (an unknown dev_flags bit), ENOENT
 * (ADOPT with no orphaned ring).
 *
 * Beyond Xen, for a process that must survive being killed (argo-relayd):
 * persistent rings that outlive their file (ARGO_DEV_REG_PERSIST, then
 * ARGO_IOC_ADOPT in the next process), and a send tag recorded with a
 * successful send (ARGO_IOC_SENDV_TAGGED, ARGO_IOC_LAST_TAG).
 *
 * Each open file description holds its own set of rings: closing it (the
 * last mapping and the last fd) unregisters every ring it still owns, but
 * for rings registered persistent (ARGO_DEV_REG_PERSIST), which stay
 * registered, with their pages, for a later ARGO_IOC_ADOPT. Rings live in
 * one namespace per domain in Xen, so a second registration of the same
 * (aport, partner_id), through any fd, takes the ring over: Xen then writes
 * into the new pages only.
 *
 * Events: VIRQ_ARGO raises a counter shared by every fd (so an fd sees the
 * events of every ring of the domain, adopted ones included). poll() reports
 * EPOLLIN on an fd whose last-read value differs from it; read() of 8 bytes
 * returns the number of events since that fd's last read and catches up
 * (like an eventfd); it blocks, or fails with EAGAIN under O_NONBLOCK, when
 * there is nothing new.
 *
 * All structures have the same layout for 32- and 64-bit user space:
 * pointers travel as __u64, and every __u64 is 8-byte aligned.
 */
#ifndef _UAPI_LINUX_ARGO_DEV_H
#define _UAPI_LINUX_ARGO_DEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ARGO_DEV_PATH "/dev/argo"

/* xen_argo_addr */
struct argo_dev_addr {
	__u32 aport;
	__u16 domain_id;
	__u16 pad;
};

/*
 * ARGO_IOC_REGISTER. In: the fields of xen_argo_register_ring (aport,
 * partner_id, pad, len) and the register flags, all passed to Xen as given.
 * The module allocates npages = ceil((len + 64) / 4096) zeroed pages (the
 * count Xen demands for len) and registers them. Out, on success: the ring's
 * mmap offset and npages; map it with
 *   mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset)
 * to get the xen_argo_ring header (rx_ptr, tx_ptr, ...) then the ring data.
 * The offset is valid on the fd that registered the ring while it owns it.
 *
 * dev_flags are the device's own (Xen never sees them); an unknown bit is
 * EINVAL. 0 is an ordinary ring. ARGO_DEV_REG_PERSIST: when the file that
 * owns the ring is released (say its process was killed), the ring is not
 * unregistered: it stays registered in Xen, with its pages and whatever is
 * in them (senders go on writing into it), orphaned, until a process of
 * this domain takes it over with ARGO_IOC_ADOPT, unregisters it by name, or
 * the module is unloaded. Registering the same ring again sets or clears
 * the flag anew.
 */
struct argo_dev_register {
	__u32 aport;
	__u16 partner_id;
	__u16 pad;
	__u32 len;
	__u32 flags;
	__u64 mmap_offset; /* out */
	__u32 npages;      /* out */
	__u32 dev_flags;   /* ARGO_DEV_REG_*; was "reserved", which had to be 0 */
};

#define ARGO_DEV_REG_PERSIST (1U << 0)

/* ARGO_IOC_UNREGISTER: xen_argo_unregister_ring, passed to Xen as given. */
struct argo_dev_unregister {
	__u32 aport;
	__u16 partner_id;
	__u16 pad;
};

/* One piece of a message: the layout of struct iovec on 64-bit Linux. */
struct argo_dev_iov {
	__u64 iov_base; /* user pointer */
	__u64 iov_len;
};

/*
 * ARGO_IOC_SENDV: xen_argo_send_addr, then a user pointer to niov struct
 * argo_dev_iov. The payload is copied into the kernel and sent; the ioctl
 * returns the payload byte count. niov above 8 reaches Xen (which refuses
 * it) without any iov being read.
 */
struct argo_dev_sendv {
	struct argo_dev_addr src;
	struct argo_dev_addr dst;
	__u64 iov; /* user pointer to struct argo_dev_iov[niov] */
	__u32 niov;
	__u32 message_type;
};

/*
 * ARGO_IOC_SENDV_TAGGED: ARGO_IOC_SENDV with a tag. When Xen accepts the
 * message and tag is not 0, the module records tag as this domain's last
 * send tag (ARGO_IOC_LAST_TAG) before the ioctl returns: a process killed
 * at any moment has either sent and recorded, or done neither (a signal
 * takes effect only when the ioctl returns). A failed send leaves the
 * recorded tag as it was; tag 0 is a plain SENDV.
 */
struct argo_dev_sendv_tagged {
	struct argo_dev_sendv sendv;
	__u64 tag;
};

/*
 * ARGO_IOC_ADOPT: takes over the orphaned persistent ring that has waited
 * longest (rings are orphaned in the order their files are released, a
 * file's rings in the order they were registered) and makes it this fd's,
 * as if this fd had registered it: map it with mmap_offset and npages as
 * after ARGO_IOC_REGISTER; UNREGISTER and release work as for the fd's own
 * rings; it stays persistent. Its memory is as it was left: rx_ptr, tx_ptr,
 * the header's reserved bytes and every message, those sent while no
 * process held it included. The fd polls readable once after an adopt, so
 * that its process drains what arrived meanwhile. ENOENT when no ring is
 * orphaned. All fields are out.
 */
struct argo_dev_adopt {
	__u32 aport;
	__u16 partner_id;
	__u16 pad;         /* 0 */
	__u32 len;
	__u32 npages;
	__u64 mmap_offset;
};

/*
 * ARGO_IOC_REREGISTER: registers a ring this fd holds (registered or
 * adopted), named by aport and partner_id, with Xen again, on the same
 * pages, with XEN_ARGO_REGISTER_FLAG_FAIL_EXIST. Xen drops a ring whose
 * partner domain dies without telling its owner; this asks whether Xen
 * still has the ring and, if not, registers it again with everything in it
 * (Xen takes tx_ptr from the page). Xen's answer: 0 (it was gone and is
 * registered again), EEXIST (Xen still has it, nothing changed), ESRCH
 * (the partner does not exist: the ring stays unregistered, its pages this
 * fd's). The device's own: ENOENT (this fd holds no ring of that name),
 * EINVAL (pad not 0).
 */
struct argo_dev_reregister {
	__u32 aport;
	__u16 partner_id;
	__u16 pad;
};

/*
 * ARGO_IOC_NOTIFY: ring_data is a user pointer to a xen_argo_ring_data
 * (u32 nent, u32 pad, then nent 20-byte xen_argo_ring_data_ent), or 0 for
 * Xen's NULL. As Xen does, only flags and max_message_size of each entry
 * are written back. nent above 256 reaches Xen (which says EACCES) without
 * the entries being read.
 */
struct argo_dev_notify {
	__u64 ring_data;
};

#define ARGO_IOC_MAGIC      0xA7

#define ARGO_IOC_REGISTER   _IOWR(ARGO_IOC_MAGIC, 1, struct argo_dev_register)
#define ARGO_IOC_UNREGISTER _IOW(ARGO_IOC_MAGIC, 2, struct argo_dev_unregister)
#define ARGO_IOC_SENDV      _IOW(ARGO_IOC_MAGIC, 3, struct argo_dev_sendv)
#define ARGO_IOC_NOTIFY     _IOW(ARGO_IOC_MAGIC, 4, struct argo_dev_notify)
/* This domain's id (Xen's domid_t) into the __u32 pointed to. */
#define ARGO_IOC_GET_DOMID _IOR(ARGO_IOC_MAGIC, 5, __u32)
#define ARGO_IOC_SENDV_TAGGED _IOW(ARGO_IOC_MAGIC, 6, struct argo_dev_sendv_tagged)
#define ARGO_IOC_ADOPT      _IOR(ARGO_IOC_MAGIC, 7, struct argo_dev_adopt)
/*
 * The tag of this domain's last successful ARGO_IOC_SENDV_TAGGED, 0 when
 * none since the module was loaded, into the __u64 pointed to. Module-wide
 * (one per domain), kept across processes.
 */
#define ARGO_IOC_LAST_TAG   _IOR(ARGO_IOC_MAGIC, 8, __u64)
#define ARGO_IOC_REREGISTER _IOW(ARGO_IOC_MAGIC, 9, struct argo_dev_reregister)

#endif /* _UAPI_LINUX_ARGO_DEV_H */
