// SPDX-License-Identifier: GPL-2.0
/*
 * argo.ko: Xen Argo inter-domain messaging for user space, as /dev/argo.
 *
 * Linux has no Argo driver; this module is a thin, faithful pass-through of
 * Xen's argo_op hypercall (xen/common/argo.c, Xen 4.17) to user space. The
 * user-space interface is include/uapi/linux/argo_dev.h beside this folder.
 *
 * What the module adds to the bare hypercall:
 *  - ring memory: REGISTER allocates the ring's pages (zeroed), gives Xen
 *    their frame numbers, and lets the caller mmap() them to read messages
 *    in place;
 *  - copies: SENDV bounces the payload through kernel memory and NOTIFY
 *    copies the ring_data array, so every handle Xen sees is kernel memory;
 *  - ownership: every ring belongs to the file that registered it and is
 *    unregistered when that file is released, unless it was registered
 *    persistent: then it stays registered, orphaned, until a later file
 *    adopts it (ADOPT), so that a killed process's successor finds its rings
 *    with their contents, as the domain (which did not die) still has them;
 *  - send tags: a tagged SENDV records its tag once Xen took the message;
 *  - events: VIRQ_ARGO feeds one counter that every fd can poll and read;
 *  - an in-kernel API (linux/argo_kernel.h) for other modules: rings in
 *    kernel memory with an event function, sends from kernel buffers,
 *    notify. Kernel rings share the domain's ring namespace with those of
 *    /dev/argo, so this module keeps both and refuses to let one take the
 *    other's ring by name.
 *
 * Arguments are otherwise handed to Xen unchanged (pads included), and its
 * return value is handed back, so that user space sees Xen's own errors in
 * Xen's own order. Where an argument would need an absurd amount of kernel
 * memory before Xen could refuse it, the module passes Xen only what Xen
 * checks first (a page count above 4096, more than 8 iovs, more than 256
 * notify entries, over-long iovs) and reads nothing more: Xen's answer is
 * the same.
 *
 * Handles in the hypercall are guest virtual addresses of kernel memory
 * (slab, vmalloc or stack). A PV guest is fine with that: Xen walks the
 * guest's current page tables. HVM and PVH guests work the same way (Xen
 * translates guest linear addresses through the current CR3), which holds
 * for vmalloc memory because x86-64 pre-populates the vmalloc top-level
 * entries in every page table. Ring pages are named to Xen by GFN:
 * xen_page_to_gfn() gives the MFN on PV and the PFN on auto-translated
 * guests. The pages are ordinary unmovable kernel pages, so they stay put
 * while Xen maps them. Only x86-64 has been considered (the hypercall goes
 * through asm/xen/hypercall.h); a 32-bit kernel would need the compat
 * layout of xen_argo_iov.
 *
 * Locking: argo_lock serialises register, unregister, adopt, release and
 * mmap against the one list of rings (and the orphans among them). Rings
 * are named per domain in Xen, not per fd (a second registration of the
 * same aport and partner through another fd takes the ring over), so the
 * bookkeeping is domain-wide too. No user memory is touched while argo_lock
 * is held: mmap() takes it under the mmap lock, so a fault under it could
 * deadlock. argo_tag_lock, a leaf lock, guards the last send tag; it is
 * never held with argo_lock.
 *
 * Page lifetime: a ring's pages are given back to the kernel only when Xen
 * is known to have dropped them (unregister said 0 or -ENOENT, or a later
 * registration of the same ring replaced them); otherwise they are leaked
 * with a warning, because Xen may still write into them. A user mapping
 * holds its own references, so user space never sees a freed page.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include <xen/events.h>
#include <xen/interface/xen.h>
#include <xen/page.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include <asm/xen/hypercall.h>

#include <linux/argo_dev.h>
#include <linux/argo_kernel.h>

/* Xen's public interface, xen/include/public/xen.h and argo.h (Xen 4.17). */
#ifndef __HYPERVISOR_argo_op
#define __HYPERVISOR_argo_op 39 /* __HYPERVISOR_xc_reserved_op in Linux 6.1 */
#endif
#ifndef VIRQ_ARGO
#define VIRQ_ARGO 11 /* VIRQ_XC_RESERVED in Linux 6.1; a global VIRQ */
#endif

#define XEN_ARGO_OP_register_ring	1
#define XEN_ARGO_OP_unregister_ring	2
#define XEN_ARGO_OP_sendv		3
#define XEN_ARGO_OP_notify		4

#define XEN_ARGO_REGISTER_FLAG_FAIL_EXIST	0x1U

#define XEN_ARGO_MAXIOV			8U
#define XEN_ARGO_DOMID_ANY		0x7FF4U
#define XEN_ARGO_REGISTER_FLAG_FAIL_EXIST 0x1U
#define XEN_ARGO_MSG_SLOT		16U
#define XEN_ARGO_MAX_RING_SIZE		0x1000000U
/* Xen refuses more ring pages than this with -EINVAL, first thing. */
#define ARGO_MAX_RING_PAGES		(XEN_ARGO_MAX_RING_SIZE / XEN_PAGE_SIZE)
/* Xen's MAX_ARGO_MESSAGE_SIZE: ring size less a header and a slot. */
#define ARGO_MAX_MESSAGE		(XEN_ARGO_MAX_RING_SIZE - 16U - 16U)
/* Xen's MAX_NOTIFY_COUNT: more entries are refused with -EACCES. */
#define ARGO_MAX_NOTIFY			256U
/* sizeof(xen_argo_ring_t): rx_ptr, tx_ptr, reserved[56]. */
#define ARGO_RING_HEADER		64U

struct xen_argo_addr {
	u32 aport;
	u16 domain_id;
	u16 pad;
};

struct xen_argo_send_addr {
	struct xen_argo_addr src;
	struct xen_argo_addr dst;
};

struct xen_argo_register_ring {
	u32 aport;
	u16 partner_id;
	u16 pad;
	u32 len;
};

struct xen_argo_unregister_ring {
	u32 aport;
	u16 partner_id;
	u16 pad;
};

struct xen_argo_iov {
	u64 iov_hnd; /* XEN_GUEST_HANDLE(uint8): 8 bytes on x86-64 */
	u32 iov_len;
	u32 pad;
};

struct xen_argo_ring_data_ent {
	struct xen_argo_addr ring;
	u16 flags;
	u16 pad;
	u32 space_required;
	u32 max_message_size;
};

struct xen_argo_ring_data {
	u32 nent;
	u32 pad;
	struct xen_argo_ring_data_ent data[];
};

/* The shared ring: Xen writes tx_ptr and messages, the reader rx_ptr. */
struct xen_argo_ring {
	u32 rx_ptr;
	u32 tx_ptr;
	u8 reserved[56];
	u8 ring[];
};

struct xen_argo_ring_message_header {
	u32 len;			/* header + payload */
	struct xen_argo_addr source;
	u32 message_type;
};

static_assert(sizeof(struct xen_argo_addr) == 8);
static_assert(sizeof(struct xen_argo_ring) == ARGO_RING_HEADER);
static_assert(sizeof(struct xen_argo_ring_message_header) == ARGO_KMSG_HEADER);
static_assert(sizeof(struct xen_argo_send_addr) == 16);
static_assert(sizeof(struct xen_argo_register_ring) == 12);
static_assert(sizeof(struct xen_argo_unregister_ring) == 8);
static_assert(sizeof(struct xen_argo_iov) == 16);
static_assert(sizeof(struct xen_argo_ring_data_ent) == 20);
static_assert(sizeof(struct xen_argo_ring_data) == 8);
static_assert(sizeof(struct argo_dev_addr) == 8);
static_assert(sizeof(struct argo_dev_register) == 32);
static_assert(sizeof(struct argo_dev_unregister) == 8);
static_assert(sizeof(struct argo_dev_iov) == 16);
static_assert(sizeof(struct argo_dev_sendv) == 32);
static_assert(sizeof(struct argo_dev_notify) == 8);
static_assert(sizeof(struct argo_dev_sendv_tagged) == 40);
static_assert(sizeof(struct argo_dev_adopt) == 24);
static_assert(sizeof(struct argo_dev_reregister) == 8);

/*
 * One ring Xen has our pages for. Every field is protected by argo_lock.
 *
 * A ring is owned by the file that registered or adopted it, or by none:
 * orphaned, a persistent ring whose file was released. Only orphans are on
 * argo_orphans; only the owner may mmap the ring. Ownership aside, the
 * domain's ring namespace is shared: UNREGISTER, or a registration of the
 * same name, through any fd, ends an entry, orphaned or not.
 */
struct argo_ring {
	struct list_head node;		/* in argo_rings, oldest first */
	/* in argo_orphans iff owner is NULL, else empty */
	struct list_head orphan;
	struct argo_file *owner;	/* NULL: orphaned */
	bool persistent;		/* ARGO_DEV_REG_PERSIST */
	u32 aport;
	u16 partner_id;
	u32 len;
	unsigned int npages;
	unsigned long pgoff;		/* mmap offset in pages; never reused */
	struct page **pages;
};

/*
 * A kernel user's ring (linux/argo_kernel.h). The fields are set before
 * the ring is published on argo_krings and never change after; node is
 * guarded by argo_lock (writers) and RCU (the VIRQ handler). The ring
 * memory's rx_ptr belongs to the ring's one reader, tx_ptr to Xen.
 */
struct argo_kring {
	struct list_head node;		/* in argo_krings */
	u32 aport;
	u16 partner_id;
	u32 len;
	unsigned int npages;
	struct xen_argo_ring *mem;	/* vmalloc'd, npages pages */
	argo_kring_event_fn event;
	void *priv;
};

/* One open file description of /dev/argo. */
struct argo_file {
	/* argo_events at this fd's last read, less one for each kick since */
	atomic64_t seen;
};

/* argo_lock guards argo_rings, argo_orphans, argo_next_pgoff, every ring. */
static DEFINE_MUTEX(argo_lock);
static LIST_HEAD(argo_rings);		/* every ring of ours Xen has */
/*
 * Kernel users' rings: changed under argo_lock, walked under RCU by the
 * VIRQ handler.
 */
static LIST_HEAD(argo_krings);
static LIST_HEAD(argo_orphans);	/* orphaned rings, oldest first */
static unsigned long argo_next_pgoff = 1;

/*
 * argo_tag_lock guards argo_last_tag, and is held across the hypercall of a
 * tagged send, so that the tag recorded last is that of the send Xen took
 * last. One per module, as the rings are: the domain's, not a process's.
 */
static DEFINE_MUTEX(argo_tag_lock);
static u64 argo_last_tag;

static atomic64_t argo_events = ATOMIC64_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(argo_wq);
static int argo_irq = -1;

static long argo_op(unsigned int cmd, void *arg1, void *arg2,
		    unsigned long arg3, unsigned long arg4)
{
	/*
	 * Linux 6.1 has _hypercall0.._hypercall4 only; xen_single_call() is its
	 * five-argument form (through the xen_hypercall static call, exported
	 * to modules). No __xen_stac(): every handle is kernel memory.
	 */
	return xen_single_call(__HYPERVISOR_argo_op, cmd, (unsigned long)arg1,
			       (unsigned long)arg2, arg3, arg4);
}

static irqreturn_t argo_virq_handler(int irq, void *dev_id)
{
	struct argo_kring *kr;

	atomic64_inc(&argo_events);
	wake_up_interruptible_poll(&argo_wq, EPOLLIN | EPOLLRDNORM);
	/* The VIRQ does not say which ring: every kernel user hears it. */
	rcu_read_lock();
	list_for_each_entry_rcu(kr, &argo_krings, node)
		kr->event(kr->priv);
	rcu_read_unlock();
	return IRQ_HANDLED;
}

/* ---- Rings --------------------------------------------------------------- */

static void argo_ring_free(struct argo_ring *ring)
{
	unsigned int i;

	for (i = 0; i < ring->npages; i++)
		if (ring->pages[i])
			__free_page(ring->pages[i]);
	kvfree(ring->pages);
	kfree(ring);
}

/* For a ring Xen may still map: forget it, but never reuse its pages. */
static void argo_ring_leak(struct argo_ring *ring, long why)
{
	pr_warn_ratelimited("unregistering ring (aport %u, partner %u) failed (%ld): leaking its %u pages\n",
			    ring->aport, ring->partner_id, why, ring->npages);
	kvfree(ring->pages);
	kfree(ring);
}

static struct argo_ring *argo_ring_alloc(unsigned int npages)
{
	struct argo_ring *ring;
	unsigned int i;

	ring = kzalloc(sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return NULL;
	INIT_LIST_HEAD(&ring->orphan);
	ring->npages = npages;
	ring->pages = kvcalloc(npages, sizeof(*ring->pages), GFP_KERNEL);
	if (!ring->pages)
		goto fail;
	for (i = 0; i < npages; i++) {
		ring->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!ring->pages[i])
			goto fail;
	}
	return ring;

fail:
	if (ring->pages)
		argo_ring_free(ring);
	else
		kfree(ring);
	return NULL;
}

static struct argo_ring *argo_ring_find(u32 aport, u16 partner_id)
{
	struct argo_ring *ring;

	lockdep_assert_held(&argo_lock);
	list_for_each_entry(ring, &argo_rings, node)
		if (ring->aport == aport && ring->partner_id == partner_id)
			return ring;
	return NULL;
}

static struct argo_kring *argo_kring_find(u32 aport, u16 partner_id)
{
	struct argo_kring *kr;

	lockdep_assert_held(&argo_lock);
	list_for_each_entry(kr, &argo_krings, node)
		if (kr->aport == aport && kr->partner_id == partner_id)
			return kr;
	return NULL;
}

/* Xen no longer has a ring (aport, partner): give back its pages. */
static void argo_ring_forget(u32 aport, u16 partner_id)
{
	struct argo_ring *ring = argo_ring_find(aport, partner_id);

	if (ring) {
		list_del(&ring->node);
		list_del(&ring->orphan);
		argo_ring_free(ring);
	}
}

/* Unregister a ring of ours from Xen, and free (or leak) its pages. */
static void argo_ring_drop(struct argo_ring *ring)
{
	struct xen_argo_unregister_ring unreg = {
		.aport = ring->aport,
		.partner_id = ring->partner_id,
	};
	long ret;

	lockdep_assert_held(&argo_lock);
	ret = argo_op(XEN_ARGO_OP_unregister_ring, &unreg, NULL, 0, 0);
	list_del(&ring->node);
	list_del(&ring->orphan);
	if (ret == 0 || ret == -ENOENT)
		argo_ring_free(ring);
	else
		argo_ring_leak(ring, ret);
}

static long argo_ioc_register(struct argo_file *f,
			      struct argo_dev_register __user *uarg)
{
	struct argo_dev_register arg;
	struct xen_argo_register_ring reg;
	struct argo_ring *ring;
	u64 npages, *gfns;
	unsigned int i;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.dev_flags & ~ARGO_DEV_REG_PERSIST)
		return -EINVAL;
	reg.aport = arg.aport;
	reg.partner_id = arg.partner_id;
	reg.pad = arg.pad;
	reg.len = arg.len;

	/*
	 * The page count Xen demands for this len (NPAGES_RING; rounding len
	 * up to 16 first changes nothing, 4096 being a multiple of 16). Xen
	 * refuses more than 4096 pages before it looks at anything else, so
	 * such a request goes to Xen without any page behind it.
	 */
	npages = DIV_ROUND_UP((u64)arg.len + ARGO_RING_HEADER, XEN_PAGE_SIZE);
	if (npages > ARGO_MAX_RING_PAGES)
		return argo_op(XEN_ARGO_OP_register_ring, &reg, NULL, npages,
			       arg.flags);

	ring = argo_ring_alloc(npages);
	if (!ring)
		return -ENOMEM;
	gfns = kvmalloc_array(npages, sizeof(*gfns), GFP_KERNEL);
	if (!gfns) {
		argo_ring_free(ring);
		return -ENOMEM;
	}
	for (i = 0; i < npages; i++)
		gfns[i] = xen_page_to_gfn(ring->pages[i]);
	ring->owner = f;
	ring->persistent = arg.dev_flags & ARGO_DEV_REG_PERSIST;
	ring->aport = arg.aport;
	ring->partner_id = arg.partner_id;
	ring->len = arg.len;

	mutex_lock(&argo_lock);
	/* A kernel user's ring: Xen would hand it over to us. */
	if (argo_kring_find(arg.aport, arg.partner_id))
		ret = -EADDRINUSE;
	else
		ret = argo_op(XEN_ARGO_OP_register_ring, &reg, gfns, npages,
			      arg.flags);
	if (ret == 0) {
		/*
		 * Registering a ring that exists (same size, no FAIL_EXIST)
		 * makes Xen drop the old pages for these: the old entry,
		 * whichever fd had it (or none: an orphan), is gone.
		 */
		argo_ring_forget(arg.aport, arg.partner_id);
		ring->pgoff = argo_next_pgoff++;
		list_add_tail(&ring->node, &argo_rings);
		arg.mmap_offset = (u64)ring->pgoff << PAGE_SHIFT;
		arg.npages = npages;
	}
	mutex_unlock(&argo_lock);
	kvfree(gfns);

	if (ret) {
		/* Xen holds no reference to pages of a failed registration. */
		argo_ring_free(ring);
		return ret;
	}
	/*
	 * The ring stays registered, and is unregistered on release (or
	 * orphaned, if persistent).
	 */
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

static long argo_ioc_unregister(struct argo_dev_unregister __user *uarg)
{
	struct argo_dev_unregister arg;
	struct xen_argo_unregister_ring unreg;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	unreg.aport = arg.aport;
	unreg.partner_id = arg.partner_id;
	unreg.pad = arg.pad;

	mutex_lock(&argo_lock);
	if (argo_kring_find(arg.aport, arg.partner_id)) {
		mutex_unlock(&argo_lock);
		return -EADDRINUSE;
	}
	ret = argo_op(XEN_ARGO_OP_unregister_ring, &unreg, NULL, 0, 0);
	/*
	 * 0: Xen dropped the ring and its pages. -ENOENT: Xen has no such ring
	 * (say its partner died), so no page of an entry for it is in use.
	 * Either way the entry can go, whichever fd registered it, orphans
	 * too: the ring namespace is the domain's.
	 */
	if (ret == 0 || ret == -ENOENT)
		argo_ring_forget(arg.aport, arg.partner_id);
	mutex_unlock(&argo_lock);
	return ret;
}

/*
 * Register f's ring of that name with Xen again, on its own pages, with
 * FAIL_EXIST: Xen drops a ring whose partner domain died without telling
 * us (argo.c's domain_destroy), and this is how its owner asks whether Xen
 * still has it, and gives it back if not (the partner being there again).
 * The entry, its pages and its mmap offset stay as they are whatever Xen
 * says: EEXIST (still there), 0 (registered again), ESRCH (no partner).
 */
static long argo_ioc_reregister(struct argo_file *f,
				struct argo_dev_reregister __user *uarg)
{
	struct argo_dev_reregister arg;
	struct xen_argo_register_ring reg;
	struct argo_ring *ring;
	unsigned int i;
	u64 *gfns;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.pad)
		return -EINVAL;
	mutex_lock(&argo_lock);
	ring = argo_ring_find(arg.aport, arg.partner_id);
	if (!ring || ring->owner != f) {
		mutex_unlock(&argo_lock);
		return -ENOENT;
	}
	gfns = kvmalloc_array(ring->npages, sizeof(*gfns), GFP_KERNEL);
	if (!gfns) {
		mutex_unlock(&argo_lock);
		return -ENOMEM;
	}
	for (i = 0; i < ring->npages; i++)
		gfns[i] = xen_page_to_gfn(ring->pages[i]);
	reg.aport = ring->aport;
	reg.partner_id = ring->partner_id;
	reg.pad = 0;
	reg.len = ring->len;
	ret = argo_op(XEN_ARGO_OP_register_ring, &reg, gfns, ring->npages,
		      XEN_ARGO_REGISTER_FLAG_FAIL_EXIST);
	mutex_unlock(&argo_lock);
	kvfree(gfns);
	return ret;
}

/*
 * Make f poll readable, and its next read() count one more event, as if a
 * VIRQ_ARGO had come for it alone.
 */
static void argo_kick(struct argo_file *f)
{
	atomic64_dec(&f->seen);
	wake_up_interruptible_poll(&argo_wq, EPOLLIN | EPOLLRDNORM);
}

/*
 * Hand the oldest orphan to f, as if f had registered it. Events need no
 * rewiring: VIRQ_ARGO is per domain and every file sees every one, so f
 * hears of the ring's messages from now on; the kick tells it of those that
 * came while the ring was orphaned, which raised no event it could see.
 */
static long argo_ioc_adopt(struct argo_file *f,
			   struct argo_dev_adopt __user *uarg)
{
	struct argo_dev_adopt arg = {};
	struct argo_ring *ring;
	unsigned long pgoff;

	mutex_lock(&argo_lock);
	ring = list_first_entry_or_null(&argo_orphans, struct argo_ring,
					orphan);
	if (!ring) {
		mutex_unlock(&argo_lock);
		return -ENOENT;
	}
	list_del_init(&ring->orphan);
	ring->owner = f;
	pgoff = ring->pgoff;
	arg.aport = ring->aport;
	arg.partner_id = ring->partner_id;
	arg.len = ring->len;
	arg.npages = ring->npages;
	arg.mmap_offset = (u64)pgoff << PAGE_SHIFT;
	mutex_unlock(&argo_lock);

	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		/*
		 * The caller cannot learn which ring it got: give it back,
		 * first in line again, unless it went meanwhile (an UNREGISTER
		 * or a registration of its name through another fd). pgoff
		 * names it: offsets are never reused.
		 */
		mutex_lock(&argo_lock);
		list_for_each_entry(ring, &argo_rings, node) {
			if (ring->pgoff == pgoff && ring->owner == f) {
				ring->owner = NULL;
				list_add(&ring->orphan, &argo_orphans);
				break;
			}
		}
		mutex_unlock(&argo_lock);
		return -EFAULT;
	}
	argo_kick(f);
	return 0;
}

/* ---- Send and notify ----------------------------------------------------- */

/*
 * Xen's sendv() ends with "return (ret < 0) ? ret : len;", ret an int and
 * len an unsigned int, so an error reaches us as a 32-bit value, zero
 * extended: -ECONNREFUSED as 0xffffff91. (ioctl() truncates its result to
 * int, which hid this while the value went straight back.) A payload byte
 * count is below 2^24, so the int is the answer.
 */
static long argo_sendv_hcall(struct xen_argo_send_addr *addr,
			     struct xen_argo_iov *xiov, u32 niov,
			     u32 message_type)
{
	return (int)argo_op(XEN_ARGO_OP_sendv, addr, xiov, niov, message_type);
}

/*
 * The sendv hypercall; with a tag (not 0), also record the tag if Xen took
 * the message. Nothing between the hypercall and the record can fail or
 * sleep on user memory, and a fatal signal is acted on only when the ioctl
 * returns, so a process sees both or neither.
 */
static long argo_sendv_op(struct xen_argo_send_addr *addr,
			  struct xen_argo_iov *xiov, u32 niov,
			  u32 message_type, u64 tag)
{
	long ret;

	if (!tag)
		return argo_sendv_hcall(addr, xiov, niov, message_type);
	mutex_lock(&argo_tag_lock);
	ret = argo_sendv_hcall(addr, xiov, niov, message_type);
	if (ret >= 0)
		argo_last_tag = tag;
	mutex_unlock(&argo_tag_lock);
	return ret;
}

static long argo_do_sendv(const struct argo_dev_sendv *arg, u64 tag)
{
	struct argo_dev_iov uiov[XEN_ARGO_MAXIOV];
	struct xen_argo_iov xiov[XEN_ARGO_MAXIOV];
	struct xen_argo_send_addr addr;
	bool in_bounds = true;
	u64 total = 0;
	u8 *buf = NULL;
	unsigned int i;
	long ret;

	addr.src.aport = arg->src.aport;
	addr.src.domain_id = arg->src.domain_id;
	addr.src.pad = arg->src.pad;
	addr.dst.aport = arg->dst.aport;
	addr.dst.domain_id = arg->dst.domain_id;
	addr.dst.pad = arg->dst.pad;

	/* Xen refuses more than 8 iovs before reading any. */
	if (arg->niov > XEN_ARGO_MAXIOV)
		return argo_sendv_op(&addr, NULL, arg->niov, arg->message_type,
				     tag);

	if (arg->niov && copy_from_user(uiov, u64_to_user_ptr(arg->iov),
					arg->niov * sizeof(uiov[0])))
		return -EFAULT;

	memset(xiov, 0, sizeof(xiov));
	for (i = 0; i < arg->niov; i++) {
		u32 len = min_t(u64, uiov[i].iov_len, U32_MAX);

		xiov[i].iov_len = len;
		if (len > ARGO_MAX_MESSAGE)
			in_bounds = false;
		total += len;
	}
	if (total > ARGO_MAX_MESSAGE)
		in_bounds = false;

	/*
	 * An iov longer than a message (-EINVAL) or a total beyond it
	 * (-EMSGSIZE) is refused by Xen before it reads any data, after its
	 * checks of the addresses and the ring: such a send goes to Xen with
	 * the lengths alone (null handles), and nothing is copied.
	 */
	if (in_bounds && total) {
		size_t off = 0;

		buf = kvmalloc(total, GFP_KERNEL_ACCOUNT);
		if (!buf)
			return -ENOMEM;
		for (i = 0; i < arg->niov; i++) {
			size_t len = xiov[i].iov_len;

			if (!len)
				continue;
			if (copy_from_user(buf + off,
					   u64_to_user_ptr(uiov[i].iov_base), len)) {
				kvfree(buf);
				return -EFAULT;
			}
			xiov[i].iov_hnd = (unsigned long)(buf + off);
			off += len;
		}
	}

	ret = argo_sendv_op(&addr, xiov, arg->niov, arg->message_type, tag);
	kvfree(buf);
	return ret;
}

static long argo_ioc_sendv(struct argo_dev_sendv __user *uarg)
{
	struct argo_dev_sendv arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	return argo_do_sendv(&arg, 0);
}

static long argo_ioc_sendv_tagged(struct argo_dev_sendv_tagged __user *uarg)
{
	struct argo_dev_sendv_tagged arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	return argo_do_sendv(&arg.sendv, arg.tag);
}

static long argo_ioc_last_tag(u64 __user *uarg)
{
	u64 tag;

	mutex_lock(&argo_tag_lock);
	tag = argo_last_tag;
	mutex_unlock(&argo_tag_lock);
	return put_user(tag, uarg);
}

static long argo_ioc_notify(struct argo_dev_notify __user *uarg)
{
	struct xen_argo_ring_data_ent __user *uent;
	struct xen_argo_ring_data __user *urd;
	struct xen_argo_ring_data hdr, *rd;
	struct argo_dev_notify arg;
	unsigned int i;
	size_t size;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.ring_data)
		return argo_op(XEN_ARGO_OP_notify, NULL, NULL, 0, 0);

	urd = u64_to_user_ptr(arg.ring_data);
	if (copy_from_user(&hdr, urd, sizeof(hdr)))
		return -EFAULT;
	/* Xen says -EACCES to more entries, before reading them. */
	if (hdr.nent > ARGO_MAX_NOTIFY)
		return argo_op(XEN_ARGO_OP_notify, &hdr, NULL, 0, 0);

	size = struct_size(rd, data, hdr.nent);
	rd = kvmalloc(size, GFP_KERNEL);
	if (!rd)
		return -ENOMEM;
	if (copy_from_user(rd, urd, size)) {
		kvfree(rd);
		return -EFAULT;
	}
	/* The count checked above, whatever user space did since. */
	rd->nent = hdr.nent;

	ret = argo_op(XEN_ARGO_OP_notify, rd, NULL, 0, 0);

	/*
	 * As Xen: only flags and max_message_size go back. Xen stops at the
	 * first failing entry with the earlier ones written; the later ones
	 * still hold what user space gave, so writing all of them is the same.
	 */
	uent = urd->data;
	for (i = 0; i < hdr.nent; i++) {
		if (put_user(rd->data[i].flags, &uent[i].flags) ||
		    put_user(rd->data[i].max_message_size,
			     &uent[i].max_message_size)) {
			ret = -EFAULT;
			break;
		}
	}
	kvfree(rd);
	return ret;
}

/*
 * Not cached: a domain's id changes when it is migrated or restored (and
 * Xen does not carry Argo rings across that either).
 */
static long argo_ioc_get_domid(u32 __user *uarg)
{
	unsigned int id = 0;

	if (!xen_initial_domain()) {
		/* "domid" in our xenstore home, written by the toolstack. */
		int n = xenbus_scanf(XBT_NIL, "domid", "", "%u", &id);

		if (n < 0)
			return n;
		if (n != 1 || id >= DOMID_FIRST_RESERVED)
			return -EIO;
	}
	return put_user((u32)id, uarg);
}

/* ---- The in-kernel API (linux/argo_kernel.h) ----------------------------- */

struct argo_kring *argo_kring_register(u32 aport, u16 partner, u32 len,
				       argo_kring_event_fn event, void *priv)
{
	struct xen_argo_register_ring reg = {
		.aport = aport,
		.partner_id = partner,
		.len = len,
	};
	struct argo_kring *kr;
	u64 npages, *gfns = NULL;
	unsigned int i;
	long ret;

	npages = DIV_ROUND_UP((u64)len + ARGO_RING_HEADER, XEN_PAGE_SIZE);
	if (!event || !len || len % XEN_ARGO_MSG_SLOT ||
	    npages > ARGO_MAX_RING_PAGES)
		return ERR_PTR(-EINVAL);

	kr = kzalloc(sizeof(*kr), GFP_KERNEL);
	if (!kr)
		return ERR_PTR(-ENOMEM);
	kr->aport = aport;
	kr->partner_id = partner;
	kr->len = len;
	kr->npages = npages;
	kr->event = event;
	kr->priv = priv;
	kr->mem = vzalloc(npages * XEN_PAGE_SIZE);
	if (kr->mem)
		gfns = kvmalloc_array(npages, sizeof(*gfns), GFP_KERNEL);
	if (!gfns) {
		vfree(kr->mem);
		kfree(kr);
		return ERR_PTR(-ENOMEM);
	}
	for (i = 0; i < npages; i++)
		gfns[i] = xen_page_to_gfn(vmalloc_to_page((u8 *)kr->mem +
							  i * XEN_PAGE_SIZE));

	mutex_lock(&argo_lock);
	/*
	 * Never take a ring over: one of /dev/argo's is refused here, anything
	 * else Xen has (registered behind our back) by FAIL_EXIST.
	 */
	if (argo_ring_find(aport, partner) || argo_kring_find(aport, partner))
		ret = -EEXIST;
	else
		ret = argo_op(XEN_ARGO_OP_register_ring, &reg, gfns, npages,
			      XEN_ARGO_REGISTER_FLAG_FAIL_EXIST);
	if (ret == 0)
		list_add_tail_rcu(&kr->node, &argo_krings);
	mutex_unlock(&argo_lock);
	kvfree(gfns);

	if (ret) {
		/* Xen holds no reference to pages of a failed registration. */
		vfree(kr->mem);
		kfree(kr);
		return ERR_PTR(ret);
	}
	return kr;
}
EXPORT_SYMBOL_GPL(argo_kring_register);

void argo_kring_unregister(struct argo_kring *kr)
{
	struct xen_argo_unregister_ring unreg = {
		.aport = kr->aport,
		.partner_id = kr->partner_id,
	};
	long ret;

	mutex_lock(&argo_lock);
	list_del_rcu(&kr->node);
	ret = argo_op(XEN_ARGO_OP_unregister_ring, &unreg, NULL, 0, 0);
	mutex_unlock(&argo_lock);
	/* No VIRQ handler still runs kr->event once this returns. */
	synchronize_rcu();
	if (ret == 0 || ret == -ENOENT)
		vfree(kr->mem);
	else
		pr_warn_ratelimited("unregistering kernel ring (aport %u, partner %u) failed (%ld): leaking its %u pages\n",
				    kr->aport, kr->partner_id, ret, kr->npages);
	kfree(kr);
}
EXPORT_SYMBOL_GPL(argo_kring_unregister);

u32 argo_kring_max_msg(const struct argo_kring *kr)
{
	/* Xen's largest message: a header and one slot less than the ring. */
	return kr->len - ARGO_KMSG_HEADER - XEN_ARGO_MSG_SLOT;
}
EXPORT_SYMBOL_GPL(argo_kring_max_msg);

bool argo_kring_pending(const struct argo_kring *kr)
{
	return READ_ONCE(kr->mem->rx_ptr) != READ_ONCE(kr->mem->tx_ptr);
}
EXPORT_SYMBOL_GPL(argo_kring_pending);

u32 argo_kring_space(const struct argo_kring *kr)
{
	u32 rx = READ_ONCE(kr->mem->rx_ptr);
	u32 tx = READ_ONCE(kr->mem->tx_ptr);

	if (rx >= kr->len || tx >= kr->len)
		return 0;
	if (rx == tx)
		return kr->len;
	return rx > tx ? rx - tx : kr->len - (tx - rx);
}
EXPORT_SYMBOL_GPL(argo_kring_space);

int argo_kring_peek(struct argo_kring *kr, struct argo_kmsg *msg)
{
	struct xen_argo_ring_message_header hdr;
	struct xen_argo_ring *r = kr->mem;
	u32 len = kr->len, rx, tx, used, size;

	/* Pairs with Xen's barrier between writing a message and tx_ptr. */
	tx = smp_load_acquire(&r->tx_ptr);
	rx = READ_ONCE(r->rx_ptr);
	if (tx >= len || rx >= len || (tx | rx) % XEN_ARGO_MSG_SLOT)
		return -EBADMSG;
	if (rx == tx)
		return -EAGAIN;
	used = tx > rx ? tx - rx : len - (rx - tx);
	/* rx is slot aligned and len a multiple of a slot: no wrap inside. */
	memcpy(&hdr, r->ring + rx, sizeof(hdr));
	if (hdr.len < sizeof(hdr) || hdr.len > used)
		return -EBADMSG;
	size = ALIGN(hdr.len, XEN_ARGO_MSG_SLOT);
	if (size > used)
		return -EBADMSG;
	msg->src_aport = hdr.source.aport;
	msg->src_domid = hdr.source.domain_id;
	msg->type = hdr.message_type;
	msg->len = hdr.len - sizeof(hdr);
	msg->data = rx + sizeof(hdr);
	if (msg->data == len)
		msg->data = 0;
	msg->next = rx + size;
	if (msg->next >= len)
		msg->next -= len;
	return 0;
}
EXPORT_SYMBOL_GPL(argo_kring_peek);

void argo_kmsg_copy(const struct argo_kring *kr, const struct argo_kmsg *msg,
		    u32 off, void *dst, u32 n)
{
	u32 at, to_end;

	if (WARN_ON_ONCE(off > msg->len || n > msg->len - off))
		return;
	at = msg->data + off;	/* below 2 * len: off < len */
	if (at >= kr->len)
		at -= kr->len;
	to_end = kr->len - at;
	if (n > to_end) {
		memcpy(dst, kr->mem->ring + at, to_end);
		memcpy((u8 *)dst + to_end, kr->mem->ring, n - to_end);
	} else {
		memcpy(dst, kr->mem->ring + at, n);
	}
}
EXPORT_SYMBOL_GPL(argo_kmsg_copy);

u32 argo_kring_consume(struct argo_kring *kr, const struct argo_kmsg *msg)
{
	u32 before = argo_kring_space(kr);

	/* Our copies are done before Xen may see the bytes as free. */
	smp_store_release(&kr->mem->rx_ptr, msg->next);
	return before;
}
EXPORT_SYMBOL_GPL(argo_kring_consume);

int argo_ksendv(u32 src_aport, u16 dst_domid, u32 dst_aport,
		const struct kvec *iov, unsigned int niov, u32 message_type)
{
	struct xen_argo_send_addr addr = {
		/* Xen fills in our domain id. */
		.src = { .aport = src_aport, .domain_id = XEN_ARGO_DOMID_ANY },
		.dst = { .aport = dst_aport, .domain_id = dst_domid },
	};
	struct xen_argo_iov xiov[XEN_ARGO_MAXIOV] = {};
	unsigned int i;

	if (niov > XEN_ARGO_MAXIOV)
		return -EINVAL;
	for (i = 0; i < niov; i++) {
		if (iov[i].iov_len > ARGO_MAX_MESSAGE)
			return -EMSGSIZE;
		xiov[i].iov_hnd = (unsigned long)iov[i].iov_base;
		xiov[i].iov_len = iov[i].iov_len;
	}
	return argo_sendv_hcall(&addr, xiov, niov, message_type);
}
EXPORT_SYMBOL_GPL(argo_ksendv);

/* xen_argo_ring_data with room for ARGO_KNOTIFY_MAX entries. */
struct argo_knotify_data {
	u32 nent;
	u32 pad;
	struct xen_argo_ring_data_ent data[ARGO_KNOTIFY_MAX];
};
static_assert(offsetof(struct argo_knotify_data, data) ==
	      offsetof(struct xen_argo_ring_data, data));

int argo_knotify(struct argo_knotify_ent *ents, unsigned int n)
{
	struct argo_knotify_data rd = {};
	unsigned int i;
	long ret;

	if (!n)
		return argo_op(XEN_ARGO_OP_notify, NULL, NULL, 0, 0);
	if (n > ARGO_KNOTIFY_MAX)
		return -EINVAL;
	rd.nent = n;
	for (i = 0; i < n; i++) {
		rd.data[i].ring.aport = ents[i].aport;
		rd.data[i].ring.domain_id = ents[i].domid;
		rd.data[i].space_required = ents[i].space_required;
	}
	ret = argo_op(XEN_ARGO_OP_notify, &rd, NULL, 0, 0);
	for (i = 0; i < n; i++) {
		ents[i].flags = rd.data[i].flags;
		ents[i].max_message_size = rd.data[i].max_message_size;
	}
	return ret;
}
EXPORT_SYMBOL_GPL(argo_knotify);

/* ---- File operations ----------------------------------------------------- */

static int argo_open(struct inode *inode, struct file *file)
{
	struct argo_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	atomic64_set(&f->seen, atomic64_read(&argo_events));
	file->private_data = f;
	return stream_open(inode, file);
}

/*
 * The last reference is gone: no mapping of our rings remains either. Our
 * persistent rings stay registered, orphaned, in registration order; the
 * others are unregistered.
 */
static int argo_release(struct inode *inode, struct file *file)
{
	struct argo_file *f = file->private_data;
	struct argo_ring *ring, *tmp;

	mutex_lock(&argo_lock);
	list_for_each_entry_safe(ring, tmp, &argo_rings, node) {
		if (ring->owner != f)
			continue;
		if (ring->persistent) {
			ring->owner = NULL;
			list_add_tail(&ring->orphan, &argo_orphans);
		} else {
			argo_ring_drop(ring);
		}
	}
	mutex_unlock(&argo_lock);
	kfree(f);
	return 0;
}

static long argo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct argo_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case ARGO_IOC_REGISTER:
		return argo_ioc_register(f, uarg);
	case ARGO_IOC_UNREGISTER:
		return argo_ioc_unregister(uarg);
	case ARGO_IOC_SENDV:
		return argo_ioc_sendv(uarg);
	case ARGO_IOC_NOTIFY:
		return argo_ioc_notify(uarg);
	case ARGO_IOC_GET_DOMID:
		return argo_ioc_get_domid(uarg);
	case ARGO_IOC_SENDV_TAGGED:
		return argo_ioc_sendv_tagged(uarg);
	case ARGO_IOC_ADOPT:
		return argo_ioc_adopt(f, uarg);
	case ARGO_IOC_LAST_TAG:
		return argo_ioc_last_tag(uarg);
	case ARGO_IOC_REREGISTER:
		return argo_ioc_reregister(f, uarg);
	default:
		return -ENOTTY;
	}
}

static int argo_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct argo_file *f = file->private_data;
	struct argo_ring *ring;
	int ret = -EINVAL;

	/* A private mapping would copy the page on the first rx_ptr write. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	mutex_lock(&argo_lock);
	list_for_each_entry(ring, &argo_rings, node) {
		if (ring->owner != f || ring->pgoff != vma->vm_pgoff)
			continue;
		if (vma_pages(vma) != ring->npages)
			break;
		vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
		/* Takes a reference on each page for the mapping's lifetime. */
		ret = vm_map_pages_zero(vma, ring->pages, ring->npages);
		break;
	}
	mutex_unlock(&argo_lock);
	return ret;
}

static __poll_t argo_poll(struct file *file, poll_table *wait)
{
	struct argo_file *f = file->private_data;

	poll_wait(file, &argo_wq, wait);
	if (atomic64_read(&argo_events) != atomic64_read(&f->seen))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static bool argo_have_events(struct argo_file *f)
{
	return atomic64_read(&argo_events) != atomic64_read(&f->seen);
}

/* 8 bytes: how many VIRQ_ARGO since this fd's last read; then caught up. */
static ssize_t argo_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct argo_file *f = file->private_data;
	s64 now, seen;
	u64 val;
	int ret;

	if (count < sizeof(val))
		return -EINVAL;
	for (;;) {
		now = atomic64_read(&argo_events);
		seen = atomic64_read(&f->seen);
		if (now != seen) {
			if (atomic64_cmpxchg(&f->seen, seen, now) == seen)
				break;
			continue;
		}
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(argo_wq, argo_have_events(f));
		if (ret)
			return ret;
	}
	val = (u64)(now - seen);
	if (copy_to_user(buf, &val, sizeof(val)))
		return -EFAULT;
	return sizeof(val);
}

static const struct file_operations argo_fops = {
	.owner = THIS_MODULE,
	.open = argo_open,
	.release = argo_release,
	.read = argo_read,
	.poll = argo_poll,
	.mmap = argo_mmap,
	.unlocked_ioctl = argo_ioctl,
	/* Every structure has one layout for 32- and 64-bit callers. */
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice argo_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "argo",
	.fops = &argo_fops,
	.mode = 0600,
};

static int __init argo_init(void)
{
	long probe;
	int ret;

	/* Ring pages are named to Xen one kernel page each. */
	BUILD_BUG_ON(XEN_PAGE_SIZE != PAGE_SIZE);
	if (!xen_domain())
		return -ENODEV;

	/*
	 * Tell whether Xen has Argo for us. A notify without ring data only
	 * wakes senders waiting on this domain's rings, which is harmless.
	 */
	probe = argo_op(XEN_ARGO_OP_notify, NULL, NULL, 0, 0);

	ret = bind_virq_to_irqhandler(VIRQ_ARGO, 0, argo_virq_handler, 0,
				      "argo", NULL);
	if (ret < 0) {
		pr_err("binding VIRQ_ARGO failed: %d\n", ret);
		return ret;
	}
	argo_irq = ret;

	ret = misc_register(&argo_misc);
	if (ret) {
		unbind_from_irqhandler(argo_irq, NULL);
		return ret;
	}

	if (probe == 0)
		pr_info("/dev/argo ready (VIRQ_ARGO on irq %d)\n", argo_irq);
	else if (probe == -EOPNOTSUPP)
		pr_warn("/dev/argo ready, but Xen has Argo disabled (boot Xen with argo=1): every operation will fail with EOPNOTSUPP\n");
	else
		pr_warn("/dev/argo ready, but Argo's probe said %ld (-ENODEV: no Argo for this domain)\n",
			probe);
	return 0;
}

static void __exit argo_exit(void)
{
	struct argo_ring *ring, *tmp;

	misc_deregister(&argo_misc);
	unbind_from_irqhandler(argo_irq, NULL);

	/*
	 * Every file is closed (we own the fops), so only orphans are left:
	 * nobody can adopt them any more. Kernel users hold a reference on
	 * this module, so none of their rings is left either.
	 */
	WARN_ON(!list_empty(&argo_krings));
	mutex_lock(&argo_lock);
	list_for_each_entry_safe(ring, tmp, &argo_rings, node) {
		WARN_ON(ring->owner);
		argo_ring_drop(ring);
	}
	mutex_unlock(&argo_lock);
	WARN_ON(!list_empty(&argo_orphans));
}

module_init(argo_init);
module_exit(argo_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Xen Argo inter-domain messaging: /dev/argo and an in-kernel API");
MODULE_AUTHOR("argo-relay project");
