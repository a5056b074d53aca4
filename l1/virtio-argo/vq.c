// SPDX-License-Identifier: GPL-2.0
/*
 * The data path (docs/virtio-argo.md, section 4). The virtqueues are the
 * kernel's own split rings in our memory; the device never sees them. On a
 * notify we are the only reader of the available ring: each new chain goes
 * out as one BUF request carrying its out buffers (fragmented beyond the
 * device's largest message), and its BUF response carries what the device
 * wrote; we copy that into the chain's in buffers, fill the used ring and
 * call vring_interrupt(), as a device would.
 *
 * Send side: under dev->tx_lock (the notify callback may come in any
 * context). Receive side: the device's reader work, under dev->vq_lock; it
 * is the only writer of the used rings. A chain's state is written by the
 * sender before the request goes out (release) and read by the reader
 * (acquire); the reader frees it before the driver can see it used.
 *
 * Descriptor addresses are what our DMA ops gave (bus.c): physical
 * addresses of ordinary kernel memory.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fuse.h>
#include <linux/mm.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "vargo.h"

#define VARGO_BUF_HDR (sizeof(struct virtio_argo_hdr) + \
		       sizeof(struct virtio_argo_buf))

/* A chain's buffers, as parse found them. */
struct vargo_chain_desc {
	unsigned int n_out, n_in;
	u64 out_bytes, in_bytes;
	struct vargo_seg *segs;		/* n_out + n_in of them, if all fit */
	struct vargo_seg first_out;	/* kept even when segs overflowed */
	struct vargo_seg first_in;
	struct vargo_seg last_in;
};

/* A descriptor's buffer as a kernel address, or NULL if it is not RAM. */
static u8 *vargo_va(u64 addr, u32 len)
{
	u64 last = addr + len - 1;

	if (!len || last < addr || !pfn_valid(PHYS_PFN(addr)) ||
	    !pfn_valid(PHYS_PFN(last)))
		return NULL;
	return phys_to_virt(addr);
}

/*
 * Walk the chain at head, direct or indirect, into segs (max of them).
 * -E2BIG when it has more (cd still counts them all), -EINVAL for a chain
 * the virtio rules forbid (in before out, nested indirect, a loop),
 * -EFAULT for an address that is not RAM.
 */
static int vargo_parse(struct vargo_vq *vvq, u16 head, struct vargo_seg *segs,
		       unsigned int max, struct vargo_chain_desc *cd)
{
	struct virtio_device *vdev = vvq->vq->vdev;
	const struct vring_desc *tbl = vvq->vring->desc;
	unsigned int tnum = vvq->num, i = head, steps = 0, n;
	struct vargo_seg seg;
	bool too_many = false;
	u16 flags;
	u32 len;

	memset(cd, 0, sizeof(*cd));
	cd->segs = segs;
	if (head >= vvq->num)
		return -EINVAL;
	flags = virtio16_to_cpu(vdev, READ_ONCE(tbl[i].flags));
	if (flags & VRING_DESC_F_INDIRECT) {
		len = virtio32_to_cpu(vdev, READ_ONCE(tbl[i].len));
		if (!virtio_has_feature(vdev, VIRTIO_RING_F_INDIRECT_DESC) ||
		    flags & VRING_DESC_F_NEXT || !len ||
		    len % sizeof(struct vring_desc))
			return -EINVAL;
		tbl = (const struct vring_desc *)
			vargo_va(virtio64_to_cpu(vdev, READ_ONCE(tbl[i].addr)),
				 len);
		if (!tbl)
			return -EFAULT;
		tnum = len / sizeof(*tbl);
		i = 0;
	}
	for (;;) {
		if (i >= tnum || steps++ >= tnum)
			return -EINVAL;
		flags = virtio16_to_cpu(vdev, READ_ONCE(tbl[i].flags));
		len = virtio32_to_cpu(vdev, READ_ONCE(tbl[i].len));
		if (flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		if (len) {
			seg.len = len;
			seg.va = vargo_va(virtio64_to_cpu(vdev,
							  READ_ONCE(tbl[i].addr)),
					  len);
			if (!seg.va)
				return -EFAULT;
			if (flags & VRING_DESC_F_WRITE) {
				if (!cd->n_in)
					cd->first_in = seg;
				cd->last_in = seg;
				cd->n_in++;
				cd->in_bytes += len;
			} else {
				if (cd->n_in)
					return -EINVAL;
				if (!cd->n_out)
					cd->first_out = seg;
				cd->n_out++;
				cd->out_bytes += len;
			}
			n = cd->n_out + cd->n_in;
			if (n <= max)
				segs[n - 1] = seg;
			else
				too_many = true;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = virtio16_to_cpu(vdev, READ_ONCE(tbl[i].next));
	}
	return too_many ? -E2BIG : 0;
}

/* Copy bytes [off, off + n) of segs (end to end) to dst. */
static void vargo_segs_read(const struct vargo_seg *segs, unsigned int count,
			    u64 off, u8 *dst, u32 n)
{
	unsigned int i;
	u32 piece;

	for (i = 0; i < count && n; i++) {
		if (off >= segs[i].len) {
			off -= segs[i].len;
			continue;
		}
		piece = min_t(u64, segs[i].len - off, n);
		memcpy(dst, segs[i].va + off, piece);
		dst += piece;
		n -= piece;
		off = 0;
	}
}

/*
 * Describe bytes [off, off + n) of segs as at most max kvecs, merging
 * buffers that sit end to end. Returns how many, or -E2BIG.
 */
static int vargo_segs_kvec(const struct vargo_seg *segs, unsigned int count,
			   u64 off, u32 n, struct kvec *iov, unsigned int max)
{
	unsigned int i, used = 0;
	u32 piece;
	u8 *va;

	for (i = 0; i < count && n; i++) {
		if (off >= segs[i].len) {
			off -= segs[i].len;
			continue;
		}
		piece = min_t(u64, segs[i].len - off, n);
		va = segs[i].va + off;
		if (used && (u8 *)iov[used - 1].iov_base +
			    iov[used - 1].iov_len == va) {
			iov[used - 1].iov_len += piece;
		} else {
			if (used == max)
				return -E2BIG;
			iov[used].iov_base = va;
			iov[used].iov_len = piece;
			used++;
		}
		n -= piece;
		off = 0;
	}
	return used;
}

/*
 * Copy payload bytes [moff, moff + n) of msg to bytes [off, off + n) of
 * the in buffers segs.
 */
static void vargo_segs_fill(struct vargo_dev *dev, const struct vargo_seg *segs,
			    unsigned int count, u64 off,
			    const struct argo_kmsg *msg, u32 moff, u32 n)
{
	unsigned int i;
	u32 piece;

	for (i = 0; i < count && n; i++) {
		if (off >= segs[i].len) {
			off -= segs[i].len;
			continue;
		}
		piece = min_t(u64, segs[i].len - off, n);
		argo_kmsg_copy(dev->ep.ring, msg, moff, segs[i].va + off, piece);
		moff += piece;
		n -= piece;
		off = 0;
	}
}

/*
 * A chain's state passes between the sender and the reader: the fields of
 * an in-flight chain are written before its state (release), and read
 * after it (acquire).
 */
static u8 vargo_chain_state(const struct vargo_chain *ch)
{
	/* Pairs with the release in vargo_chain_set(). */
	return smp_load_acquire(&ch->state);
}

static void vargo_chain_set(struct vargo_chain *ch, u8 state)
{
	/* The chain's other fields before its new state. */
	smp_store_release(&ch->state, state);
}

/* ---- Send ---------------------------------------------------------------- */

/* One BUF message: hdr (hlen bytes), then out bytes [off, off + len). */
static int vargo_tx_msg(struct vargo_dev *dev, void *hdr, u32 hlen,
			const struct vargo_chain_desc *cd, u64 off, u32 len)
{
	struct kvec iov[ARGO_KMAXIOV];
	int n;

	iov[0].iov_base = hdr;
	iov[0].iov_len = hlen;
	n = vargo_segs_kvec(cd->segs, cd->n_out, off, len, iov + 1,
			    ARGO_KMAXIOV - 1);
	if (n < 0) {
		/* More pieces than Xen takes in one sendv: copy them. */
		vargo_segs_read(cd->segs, cd->n_out, off, dev->bounce, len);
		iov[1].iov_base = dev->bounce;
		iov[1].iov_len = len;
		n = 1;
	}
	return vargo_ep_send(&dev->ep, iov, 1 + n, VARGO_ST_SENDV_BUF);
}

static u16 vargo_token(const struct vargo_vq *vvq, u16 head)
{
	return (vvq->index << 8) | head;
}

/* Leave a chain to the reader, to complete with an I/O error. */
static void vargo_chain_refuse(struct vargo_dev *dev, struct vargo_vq *vvq,
			       u16 head, int why)
{
	dev_err_ratelimited(&dev->vdev.dev,
			    "chain %u of queue %u not sent: %d\n",
			    head, vvq->index, why);
	vargo_chain_set(&vvq->chains[head], VARGO_CHAIN_FAILED);
	set_bit(VARGO_DEV_HAVE_FAILED, &dev->flags);
	vargo_dev_kick(dev);
}

/* The rest of a chain whose out bytes did not fit one message. */
static int vargo_tx_partial(struct vargo_dev *dev)
{
	struct {
		struct virtio_argo_hdr h;
		struct virtio_argo_buf b;
	} f;
	struct vargo_chain_desc cd;
	struct vargo_vq *vvq = dev->partial.vq;
	u32 len;
	int ret;

	lockdep_assert_held(&dev->tx_lock);
	if (!vvq)
		return 0;
	/* The chain is the driver's until it is used: it has not changed. */
	ret = vargo_parse(vvq, dev->partial.head, dev->txsegs, dev->max_segs,
			  &cd);
	if (WARN_ON_ONCE(ret))
		return -EIO;
	memset(&f, 0, sizeof(f));
	f.h.type = VIRTIO_ARGO_TYPE_BUS;
	f.h.msg_id = VIRTIO_ARGO_BUS_BUF;
	f.h.token = cpu_to_le16(vargo_token(vvq, dev->partial.head));
	f.h.msg_size = cpu_to_le16(sizeof(f));
	f.b.dev_num = cpu_to_le16(dev->num);
	f.b.vq = cpu_to_le16(vvq->index);
	f.b.id = cpu_to_le16(dev->partial.head);
	f.b.total = cpu_to_le32(dev->partial.total);
	while (dev->partial.off < dev->partial.total) {
		len = min(dev->partial.total - dev->partial.off,
			  dev->frag_max - (u32)sizeof(f));
		f.b.offset = cpu_to_le32(dev->partial.off);
		f.b.data_len = cpu_to_le32(len);
		ret = vargo_tx_msg(dev, &f, sizeof(f), &cd, dev->partial.off,
				   len);
		if (ret)
			return ret;
		dev->partial.off += len;
		vargo_stat_add(&dev->ep, VARGO_ST_FRAGS_OUT, 1);
		vargo_stat_add(&dev->ep, VARGO_ST_BYTES_OUT, len);
	}
	dev->partial.vq = NULL;
	return 0;
}

/*
 * Send the chain at head: its first (often only) message. 0 when it went or
 * was refused here (then the reader fails it), -EAGAIN when the device's
 * ring is full (nothing went), else the send error.
 */
static int vargo_tx_chain(struct vargo_dev *dev, struct vargo_vq *vvq,
			  u16 head)
{
	struct virtio_argo_hdr *h = (void *)dev->txhdr;
	struct virtio_argo_buf *b = (void *)(h + 1);
	__le32 *seg_len = (void *)(b + 1);
	struct vargo_chain_desc cd;
	struct vargo_chain *ch;
	unsigned int i, n;
	u32 hlen, data_len;
	int ret;

	if (head >= vvq->num) {
		dev_err_ratelimited(&dev->vdev.dev,
				    "queue %u: available head %u out of range\n",
				    vvq->index, head);
		vargo_stat_add(&dev->ep, VARGO_ST_ERRORS, 1);
		return 0;
	}
	ch = &vvq->chains[head];
	if (vargo_chain_state(ch) != VARGO_CHAIN_FREE) {
		dev_err_ratelimited(&dev->vdev.dev,
				    "queue %u: chain %u made available twice\n",
				    vvq->index, head);
		vargo_stat_add(&dev->ep, VARGO_ST_ERRORS, 1);
		return 0;
	}
	ret = vargo_parse(vvq, head, dev->txsegs, dev->max_segs, &cd);
	n = cd.n_out + cd.n_in;
	hlen = VARGO_BUF_HDR + 4 * n;
	if (!ret && (!n || cd.out_bytes + cd.in_bytes > dev->max_chain ||
		     hlen >= dev->frag_max))
		ret = -E2BIG;
	if (ret) {
		vargo_chain_refuse(dev, vvq, head, ret);
		return 0;
	}

	data_len = min_t(u64, cd.out_bytes, dev->frag_max - hlen);
	memset(h, 0, VARGO_BUF_HDR);
	h->type = VIRTIO_ARGO_TYPE_BUS;
	h->msg_id = VIRTIO_ARGO_BUS_BUF;
	h->token = cpu_to_le16(vargo_token(vvq, head));
	h->msg_size = cpu_to_le16(hlen);
	b->dev_num = cpu_to_le16(dev->num);
	b->vq = cpu_to_le16(vvq->index);
	b->id = cpu_to_le16(head);
	b->data_len = cpu_to_le32(data_len);
	b->total = cpu_to_le32(cd.out_bytes);
	b->n_out = cpu_to_le16(cd.n_out);
	b->n_in = cpu_to_le16(cd.n_in);
	for (i = 0; i < n; i++)
		seg_len[i] = cpu_to_le32(cd.segs[i].len);

	ch->in_bytes = cd.in_bytes;
	ch->total = 0;
	ch->got = 0;
	ch->sent = jiffies;
	/* In flight before it goes: the answer may beat sendv's return. */
	vargo_chain_set(ch, VARGO_CHAIN_INFLIGHT);
	ret = vargo_tx_msg(dev, dev->txhdr, hlen, &cd, 0, data_len);
	if (ret == -EAGAIN) {
		WRITE_ONCE(ch->state, VARGO_CHAIN_FREE);
		return ret;
	}
	if (ret)
		return ret;	/* in flight: failed with the device */
	vargo_stat_add(&dev->ep, VARGO_ST_CHAINS, 1);
	vargo_stat_add(&dev->ep, VARGO_ST_BYTES_OUT, data_len);
	if (data_len < cd.out_bytes) {
		dev->partial.vq = vvq;
		dev->partial.head = head;
		dev->partial.off = data_len;
		dev->partial.total = cd.out_bytes;
	}
	return 0;
}

/* Send what vvq has available. 0, -EAGAIN (blocked), or a send error. */
static int vargo_tx_vq(struct vargo_dev *dev, struct vargo_vq *vvq)
{
	struct virtio_device *vdev = &dev->vdev;
	const struct vring *vr = vvq->vring;
	u16 avail, head;
	int ret;

	lockdep_assert_held(&dev->tx_lock);
	for (;;) {
		ret = vargo_tx_partial(dev);
		if (ret)
			return ret;
		avail = virtio16_to_cpu(vdev, READ_ONCE(vr->avail->idx));
		if (vvq->last_avail == avail)
			return 0;
		/* The entries the index covers, read after it. */
		virtio_rmb(true);
		head = virtio16_to_cpu(vdev,
				       READ_ONCE(vr->avail->ring[vvq->last_avail &
								 (vvq->num - 1)]));
		ret = vargo_tx_chain(dev, vvq, head);
		if (ret == -EAGAIN)
			return ret;
		vvq->last_avail++;
		if (ret)
			return ret;
	}
}

static void vargo_tx_failed(struct vargo_dev *dev, int err)
{
	if (err == -EAGAIN) {
		/* Xen raises VIRQ_ARGO when there is room; the reader retries. */
		dev->tx_blocked = true;
		return;
	}
	vargo_dev_gone(dev, "sending a chain failed", err);
}

bool vargo_vq_notify(struct virtqueue *vq)
{
	struct vargo_vq *vvq = vq->priv;
	struct vargo_dev *dev = vvq->dev;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&dev->tx_lock, flags);
	if (test_bit(VARGO_DEV_GONE, &dev->flags)) {
		/* The reader fails the new chains. */
		vargo_dev_kick(dev);
	} else if (!dev->tx_blocked) {
		ret = vargo_tx_vq(dev, vvq);
		if (ret)
			vargo_tx_failed(dev, ret);
	}
	spin_unlock_irqrestore(&dev->tx_lock, flags);
	return true;
}

/* After a VIRQ_ARGO: send what waited for room. */
void vargo_tx_retry(struct vargo_dev *dev)
{
	unsigned long flags;
	unsigned int i;
	int ret;

	spin_lock_irqsave(&dev->tx_lock, flags);
	if (dev->tx_blocked && !test_bit(VARGO_DEV_GONE, &dev->flags)) {
		dev->tx_blocked = false;
		for (i = 0; i < dev->nvqs; i++) {
			if (!dev->vqs[i])
				continue;
			ret = vargo_tx_vq(dev, dev->vqs[i]);
			if (ret) {
				vargo_tx_failed(dev, ret);
				break;
			}
		}
	}
	spin_unlock_irqrestore(&dev->tx_lock, flags);
}

/* ---- Receive (the reader, under vq_lock) ---------------------------------- */

static void vargo_used_add(struct vargo_vq *vvq, u16 id, u32 len)
{
	struct virtio_device *vdev = vvq->vq->vdev;
	struct vring_used_elem *e;

	e = &vvq->vring->used->ring[vvq->used_idx & (vvq->num - 1)];
	e->id = cpu_to_virtio32(vdev, id);
	e->len = cpu_to_virtio32(vdev, len);
	vvq->used_idx++;
	vvq->kick = true;
}

/* Publish the used entries added, and interrupt where the driver wants it. */
void vargo_flush_used(struct vargo_dev *dev)
{
	struct virtio_device *vdev = &dev->vdev;
	struct vargo_vq *vvq;
	unsigned int i;
	u16 flags;

	lockdep_assert_held(&dev->vq_lock);
	for (i = 0; i < dev->nvqs; i++) {
		vvq = dev->vqs[i];
		if (!vvq || !vvq->kick)
			continue;
		vvq->kick = false;
		/* The entries before the index that covers them. */
		virtio_wmb(true);
		WRITE_ONCE(vvq->vring->used->idx,
			   cpu_to_virtio16(vdev, vvq->used_idx));
		/* The index before we read whether the driver wants a call. */
		virtio_mb(true);
		flags = virtio16_to_cpu(vdev, READ_ONCE(vvq->vring->avail->flags));
		if (flags & VRING_AVAIL_F_NO_INTERRUPT)
			continue;
		/* As from an interrupt: softirqs raised run at bh enable. */
		local_bh_disable();
		vring_interrupt(0, vvq->vq);
		local_bh_enable();
	}
}

/*
 * Write the device type's own I/O error into a chain's in buffers; returns
 * the used length. virtio-blk: the status byte (the last in byte); virtio-fs:
 * a FUSE reply header with -EIO. Other types: nothing (used length 0).
 */
static u32 vargo_error_reply(struct vargo_dev *dev,
			     const struct vargo_chain_desc *cd)
{
	struct fuse_out_header oh;
	u64 unique;

	switch (dev->vdev.id.device) {
	case VIRTIO_ID_BLOCK:
		if (!cd->n_in)
			return 0;
		cd->last_in.va[cd->last_in.len - 1] = VIRTIO_BLK_S_IOERR;
		return min_t(u64, cd->in_bytes, U32_MAX);
	case VIRTIO_ID_FS:
		if (cd->first_out.len < sizeof(struct fuse_in_header) ||
		    cd->first_in.len < sizeof(oh))
			return 0;
		memcpy(&unique, cd->first_out.va +
		       offsetof(struct fuse_in_header, unique), sizeof(unique));
		oh.len = sizeof(oh);
		oh.error = -EIO;
		oh.unique = unique;
		memcpy(cd->first_in.va, &oh, sizeof(oh));
		return sizeof(oh);
	default:
		return 0;
	}
}

static void vargo_fail_chain(struct vargo_dev *dev, struct vargo_vq *vvq,
			     u16 id)
{
	struct vargo_chain_desc cd;
	u32 used = 0;
	int ret;

	ret = vargo_parse(vvq, id, dev->rxsegs, dev->max_segs, &cd);
	if (ret == 0 || ret == -E2BIG)
		used = vargo_error_reply(dev, &cd);
	WRITE_ONCE(vvq->chains[id].state, VARGO_CHAIN_FREE);
	vargo_used_add(vvq, id, used);
	vargo_stat_add(&dev->ep, VARGO_ST_FAILED, 1);
}

/*
 * Complete with an I/O error the chains refused here, and, once the device
 * is gone, every chain it had and every chain not sent yet.
 */
void vargo_fail_pending(struct vargo_dev *dev)
{
	struct virtio_device *vdev = &dev->vdev;
	bool gone = test_bit(VARGO_DEV_GONE, &dev->flags);
	struct vargo_vq *vvq;
	unsigned long flags;
	unsigned int i, id;
	u16 avail, head;
	u8 st;

	lockdep_assert_held(&dev->vq_lock);
	if (!test_and_clear_bit(VARGO_DEV_HAVE_FAILED, &dev->flags) && !gone)
		return;
	if (gone) {
		/* Take the unsent chains, so that nothing sends them. */
		spin_lock_irqsave(&dev->tx_lock, flags);
		dev->partial.vq = NULL;
		dev->tx_blocked = false;
		for (i = 0; i < dev->nvqs; i++) {
			vvq = dev->vqs[i];
			if (!vvq)
				continue;
			avail = virtio16_to_cpu(vdev,
						READ_ONCE(vvq->vring->avail->idx));
			virtio_rmb(true);
			for (; vvq->last_avail != avail; vvq->last_avail++) {
				head = virtio16_to_cpu(vdev,
					READ_ONCE(vvq->vring->avail->ring[vvq->last_avail &
									  (vvq->num - 1)]));
				if (head < vvq->num &&
				    vvq->chains[head].state == VARGO_CHAIN_FREE)
					vvq->chains[head].state =
						VARGO_CHAIN_FAILED;
			}
		}
		spin_unlock_irqrestore(&dev->tx_lock, flags);
	}
	for (i = 0; i < dev->nvqs; i++) {
		vvq = dev->vqs[i];
		if (!vvq)
			continue;
		for (id = 0; id < vvq->num; id++) {
			st = vargo_chain_state(&vvq->chains[id]);
			if (st == VARGO_CHAIN_FAILED ||
			    (gone && st == VARGO_CHAIN_INFLIGHT))
				vargo_fail_chain(dev, vvq, id);
		}
	}
	vargo_flush_used(dev);
}

/* A malformed completion: the device cannot be trusted with the rest. */
static void vargo_rx_bad(struct vargo_dev *dev, const char *what,
			 unsigned int vq, unsigned int id)
{
	vargo_stat_add(&dev->ep, VARGO_ST_ERRORS, 1);
	dev_err_ratelimited(&dev->vdev.dev,
			    "bad completion (queue %u, chain %u): %s\n",
			    vq, id, what);
	vargo_dev_gone(dev, "it sent a bad completion", -EPROTO);
}

/* A BUF response: (part of) a chain's completion. */
void vargo_rx_buf(struct vargo_dev *dev, const struct virtio_argo_hdr *hdr,
		  const struct argo_kmsg *msg)
{
	struct vargo_chain_desc cd;
	struct virtio_argo_buf b;
	struct vargo_chain *ch;
	struct vargo_vq *vvq;
	u32 off, len, total;
	u16 q, id;

	lockdep_assert_held(&dev->vq_lock);
	if (le16_to_cpu(hdr->msg_size) != VARGO_BUF_HDR ||
	    msg->len < VARGO_BUF_HDR) {
		vargo_rx_bad(dev, "short", 0, 0);
		return;
	}
	argo_kmsg_copy(dev->ep.ring, msg, sizeof(*hdr), &b, sizeof(b));
	q = le16_to_cpu(b.vq);
	id = le16_to_cpu(b.id);
	off = le32_to_cpu(b.offset);
	len = le32_to_cpu(b.data_len);
	total = le32_to_cpu(b.total);
	if (msg->len - VARGO_BUF_HDR != len || le16_to_cpu(b.dev_num) != dev->num ||
	    b.flags || b.n_out || b.n_in) {
		vargo_rx_bad(dev, "bad fields or length", q, id);
		return;
	}
	if (test_bit(VARGO_DEV_GONE, &dev->flags))
		return;		/* its chains are failed already */
	vvq = q < dev->nvqs ? dev->vqs[q] : NULL;
	if (!vvq || id >= vvq->num) {
		vargo_rx_bad(dev, "no such queue or chain", q, id);
		return;
	}
	ch = &vvq->chains[id];
	if (vargo_chain_state(ch) != VARGO_CHAIN_INFLIGHT) {
		vargo_rx_bad(dev, "chain not in flight", q, id);
		return;
	}
	if (off != ch->got || (off && total != ch->total) ||
	    total > ch->in_bytes || len > total - off) {
		vargo_rx_bad(dev, "out of order or too long", q, id);
		return;
	}
	if (len) {
		if (vargo_parse(vvq, id, dev->rxsegs, dev->max_segs, &cd)) {
			vargo_rx_bad(dev, "chain changed in flight", q, id);
			return;
		}
		vargo_segs_fill(dev, cd.segs + cd.n_out, cd.n_in, off, msg,
				VARGO_BUF_HDR, len);
	}
	ch->total = total;
	ch->got += len;
	vargo_stat_add(&dev->ep, VARGO_ST_BYTES_IN, len);
	if (off)
		vargo_stat_add(&dev->ep, VARGO_ST_FRAGS_IN, 1);
	if (ch->got < total)
		return;
	WRITE_ONCE(ch->state, VARGO_CHAIN_FREE);
	vargo_used_add(vvq, id, total);
	vargo_stat_add(&dev->ep, VARGO_ST_COMPLETIONS, 1);
}

/*
 * Whether the device holds a chain it was given more than timeout jiffies
 * ago, and has sent us nothing for as long: a device that answers PING
 * but never completes (a back end stuck for good) would otherwise hang its
 * driver, which has no time-out of its own (virtio_blk). A busy device
 * that completes other chains is not stuck.
 */
bool vargo_dev_stuck(struct vargo_dev *dev, unsigned long timeout)
{
	unsigned long now = jiffies;
	struct vargo_vq *vvq;
	unsigned int i, id;
	bool stuck = false;

	if (!time_after(now, READ_ONCE(dev->last_rx) + timeout))
		return false;
	mutex_lock(&dev->vq_lock);
	for (i = 0; i < dev->nvqs && !stuck; i++) {
		vvq = dev->vqs[i];
		if (!vvq)
			continue;
		for (id = 0; id < vvq->num && !stuck; id++)
			/* sent is written before the state's release. */
			stuck = vargo_chain_state(&vvq->chains[id]) ==
					VARGO_CHAIN_INFLIGHT &&
				time_after(now, vvq->chains[id].sent + timeout);
	}
	mutex_unlock(&dev->vq_lock);
	return stuck;
}

/* An ERROR about a BUF request: that chain will not complete; fail it. */
void vargo_rx_error_buf(struct vargo_dev *dev, u16 token)
{
	unsigned int q = token >> 8, id = token & 0xff;
	struct vargo_vq *vvq;

	lockdep_assert_held(&dev->vq_lock);
	vvq = q < dev->nvqs ? dev->vqs[q] : NULL;
	if (!vvq || id >= vvq->num ||
	    vargo_chain_state(&vvq->chains[id]) != VARGO_CHAIN_INFLIGHT)
		return;
	vargo_fail_chain(dev, vvq, id);
}

/*
 * After a reset (the device answered it: no completion of an older chain
 * comes any more): forget every chain. The queues themselves go with
 * del_vqs.
 */
void vargo_vqs_quiesce(struct vargo_dev *dev)
{
	struct vargo_vq *vvq;
	unsigned long flags;
	unsigned int i;

	mutex_lock(&dev->vq_lock);
	spin_lock_irqsave(&dev->tx_lock, flags);
	dev->partial.vq = NULL;
	dev->tx_blocked = false;
	for (i = 0; i < dev->nvqs; i++) {
		vvq = dev->vqs[i];
		if (vvq)
			memset(vvq->chains, 0, vvq->num * sizeof(*vvq->chains));
	}
	spin_unlock_irqrestore(&dev->tx_lock, flags);
	clear_bit(VARGO_DEV_HAVE_FAILED, &dev->flags);
	mutex_unlock(&dev->vq_lock);
}
