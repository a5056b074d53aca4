// SPDX-License-Identifier: GPL-2.0
/*
 * One virtio device of the driver domain: its ring, ATTACH, the
 * virtio_config_ops that turn the virtio core's calls into virtio-msg
 * transport messages (docs/virtio-argo.md, section 3), and the reader of
 * its ring.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "vargo.h"

/* Transport feature bits we implement (the device-type bits pass). */
#define VARGO_FEATURES (GENMASK_ULL(VIRTIO_TRANSPORT_F_START - 1, 0) | \
			BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |		\
			BIT_ULL(VIRTIO_F_VERSION_1))

/*
 * A request on the device's port. A device that does not answer, or whose
 * ring is gone, is gone.
 */
static int vargo_dev_req(struct vargo_dev *dev, u8 type, u8 msg_id,
			 const void *payload, u32 len, void *resp,
			 u32 resp_min, u32 resp_max)
{
	u16 num = type & VIRTIO_ARGO_TYPE_BUS ? 0 : dev->num;
	int ret;

	ret = vargo_ep_request(&dev->ep, type, msg_id, num, payload, len,
			       resp, resp_min, resp_max);
	if (ret == -ETIMEDOUT || ret == -ECONNREFUSED || ret == -ESRCH)
		vargo_dev_gone(dev, "it does not answer", ret);
	else if (ret == -ENOTCONN)	/* NOT_ATTACHED: it forgot us */
		vargo_dev_gone(dev, "it no longer knows us", ret);
	return ret;
}

static int vargo_req(struct vargo_dev *dev, u8 msg_id, const void *payload,
		     u32 len, void *resp, u32 resp_len)
{
	int ret = vargo_dev_req(dev, 0, msg_id, payload, len, resp, resp_len,
				resp_len);

	if (ret >= 0 && ret != resp_len)
		ret = -EPROTO;
	return ret < 0 ? ret : 0;
}

/* ---- virtio_config_ops ---------------------------------------------------- */

static void vargo_get(struct virtio_device *vdev, unsigned int offset,
		      void *buf, unsigned int len)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	struct virtio_argo_get_config req;
	struct {
		struct virtio_argo_config c;
		u8 data[VIRTIO_ARGO_MAX_CONFIG_CHUNK];
	} resp;
	unsigned int n;
	int ret;

	while (len) {
		n = min(len, VIRTIO_ARGO_MAX_CONFIG_CHUNK);
		req.offset = cpu_to_le32(offset);
		req.length = cpu_to_le32(n);
		ret = vargo_dev_req(dev, 0, VIRTIO_ARGO_MSG_GET_CONFIG, &req,
				    sizeof(req), &resp, sizeof(resp.c),
				    sizeof(resp));
		if (ret >= 0 && (ret != sizeof(resp.c) + n ||
				 le32_to_cpu(resp.c.offset) != offset ||
				 le32_to_cpu(resp.c.length) != n))
			ret = -EPROTO;
		if (ret < 0) {
			dev_warn_ratelimited(&vdev->dev,
					     "reading config [%u, +%u) failed: %d\n",
					     offset, n, ret);
			memset(buf, 0, len);
			return;
		}
		memcpy(buf, resp.data, n);
		WRITE_ONCE(dev->generation, le32_to_cpu(resp.c.generation));
		buf += n;
		offset += n;
		len -= n;
	}
}

static void vargo_set(struct virtio_device *vdev, unsigned int offset,
		      const void *buf, unsigned int len)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	struct {
		struct virtio_argo_config c;
		u8 data[VIRTIO_ARGO_MAX_CONFIG_CHUNK];
	} m, resp;
	unsigned int n;
	int ret;

	while (len) {
		n = min(len, VIRTIO_ARGO_MAX_CONFIG_CHUNK);
		m.c.generation = cpu_to_le32(READ_ONCE(dev->generation));
		m.c.offset = cpu_to_le32(offset);
		m.c.length = cpu_to_le32(n);
		memcpy(m.data, buf, n);
		ret = vargo_dev_req(dev, 0, VIRTIO_ARGO_MSG_SET_CONFIG, &m,
				    sizeof(m.c) + n, &resp, sizeof(resp.c),
				    sizeof(resp));
		if (ret >= 0 && le32_to_cpu(resp.c.length) != n)
			ret = -EACCES;	/* the device wrote nothing */
		if (ret < 0) {
			dev_warn_ratelimited(&vdev->dev,
					     "writing config [%u, +%u) failed: %d\n",
					     offset, n, ret);
			return;
		}
		WRITE_ONCE(dev->generation, le32_to_cpu(resp.c.generation));
		buf += n;
		offset += n;
		len -= n;
	}
}

/* The generation of the last configuration read: no round trip. */
static u32 vargo_generation(struct virtio_device *vdev)
{
	return READ_ONCE(to_vargo_dev(vdev)->generation);
}

/*
 * Once a device is gone, status and reset act on our copy of the status
 * only: its driver's remove path resets and checks the status as usual.
 */
static u8 vargo_get_status(struct virtio_device *vdev)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	struct virtio_argo_status st;

	if (!test_bit(VARGO_DEV_GONE, &dev->flags) &&
	    vargo_req(dev, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS, NULL, 0, &st,
		      sizeof(st)) == 0)
		WRITE_ONCE(dev->status, le32_to_cpu(st.status));
	return READ_ONCE(dev->status);
}

/* Whether the device still knows us (bus.c asks now and then). */
void vargo_dev_check(struct vargo_dev *dev)
{
	if (!test_bit(VARGO_DEV_GONE, &dev->flags))
		vargo_get_status(&dev->vdev);
}

static int vargo_write_status(struct vargo_dev *dev, u8 status)
{
	struct virtio_argo_status st = { .status = cpu_to_le32(status) };
	int ret;

	ret = vargo_req(dev, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS, &st, sizeof(st),
			&st, sizeof(st));
	if (ret == 0)
		WRITE_ONCE(dev->status, le32_to_cpu(st.status));
	return ret;
}

static void vargo_set_status(struct virtio_device *vdev, u8 status)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	int ret;

	/* 0 is a reset: the reset op does it. */
	if (WARN_ON(!status))
		return;
	if (test_bit(VARGO_DEV_GONE, &dev->flags)) {
		WRITE_ONCE(dev->status, status);
		return;
	}
	ret = vargo_write_status(dev, status);
	if (ret)
		dev_warn(&vdev->dev, "setting status %#x failed: %d\n", status,
			 ret);
	else if (READ_ONCE(dev->status) & VIRTIO_CONFIG_S_NEEDS_RESET)
		dev_warn(&vdev->dev, "device needs a reset (status %#x)\n",
			 READ_ONCE(dev->status));
}

static void vargo_reset(struct virtio_device *vdev)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	int ret;

	if (!test_bit(VARGO_DEV_GONE, &dev->flags)) {
		ret = vargo_write_status(dev, 0);
		if (ret && !test_bit(VARGO_DEV_GONE, &dev->flags))
			dev_warn(&vdev->dev, "reset failed: %d\n", ret);
		else if (!ret && READ_ONCE(dev->status))
			dev_warn(&vdev->dev, "status %#x after reset\n",
				 READ_ONCE(dev->status));
	}
	if (test_bit(VARGO_DEV_GONE, &dev->flags)) {
		/* Its chains are (being) failed by the reader. */
		WRITE_ONCE(dev->status, 0);
		flush_work(&dev->rx_work);
		return;
	}
	vargo_vqs_quiesce(dev);
}

static u64 vargo_get_features(struct virtio_device *vdev)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	struct virtio_argo_features req = {
		.block_index = cpu_to_le32(0),
		.num_blocks = cpu_to_le32(2),
	};
	struct {
		struct virtio_argo_features f;
		__le32 blocks[2];
	} resp;
	u64 features;

	if (vargo_req(dev, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES, &req,
		      sizeof(req), &resp, sizeof(resp)))
		return 0;
	if (le32_to_cpu(resp.f.block_index) != 0 ||
	    le32_to_cpu(resp.f.num_blocks) != 2) {
		dev_err(&vdev->dev, "feature blocks %u+%u, asked for 0+2\n",
			le32_to_cpu(resp.f.block_index),
			le32_to_cpu(resp.f.num_blocks));
		return 0;
	}
	features = le32_to_cpu(resp.blocks[0]) |
		   (u64)le32_to_cpu(resp.blocks[1]) << 32;
	return features & VARGO_FEATURES;
}

static int vargo_finalize_features(struct virtio_device *vdev)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	struct {
		struct virtio_argo_features f;
		__le32 blocks[2];
	} req;

	vring_transport_features(vdev);
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "the device does not offer VERSION_1\n");
		return -EINVAL;
	}
	req.f.block_index = cpu_to_le32(0);
	req.f.num_blocks = cpu_to_le32(2);
	req.blocks[0] = cpu_to_le32(lower_32_bits(vdev->features));
	req.blocks[1] = cpu_to_le32(upper_32_bits(vdev->features));
	return vargo_req(dev, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES, &req,
			 sizeof(req), NULL, 0);
}

static int vargo_get_vqueue(struct vargo_dev *dev, unsigned int index,
			    struct virtio_argo_vqueue_info *qi)
{
	struct virtio_argo_vq_index req = { .index = cpu_to_le32(index) };
	int ret;

	ret = vargo_req(dev, VIRTIO_ARGO_MSG_GET_VQUEUE, &req, sizeof(req), qi,
			sizeof(*qi));
	if (ret == 0 && le32_to_cpu(qi->index) != index)
		ret = -EPROTO;
	return ret;
}

static void vargo_free_vq(struct vargo_vq *vvq)
{
	vring_del_virtqueue(vvq->vq);
	kfree(vvq->chains);
	kfree(vvq);
}

static struct virtqueue *vargo_setup_vq(struct vargo_dev *dev,
					unsigned int index,
					vq_callback_t *callback,
					const char *name, bool ctx)
{
	struct virtio_argo_vqueue_info qi;
	struct virtio_argo_set_vqueue sq = {};
	struct vargo_vq *vvq;
	struct virtqueue *vq;
	unsigned long flags;
	unsigned int num;
	int ret;

	if (index >= VARGO_MAX_VQS)
		return ERR_PTR(-ENOSPC);
	ret = vargo_get_vqueue(dev, index, &qi);
	if (ret)
		return ERR_PTR(ret);
	num = min(le32_to_cpu(qi.max_size), VARGO_MAX_QUEUE_SIZE);
	if (!num)
		return ERR_PTR(-ENOENT);
	if (le32_to_cpu(qi.flags) & VIRTIO_ARGO_VQ_ENABLED)
		return ERR_PTR(-EBUSY);
	num = rounddown_pow_of_two(num);

	vvq = kzalloc(sizeof(*vvq), GFP_KERNEL);
	if (!vvq)
		return ERR_PTR(-ENOMEM);
	vq = vring_create_virtqueue(index, num, PAGE_SIZE, &dev->vdev, true,
				    true, ctx, vargo_vq_notify, callback, name);
	if (!vq) {
		kfree(vvq);
		return ERR_PTR(-ENOMEM);
	}
	num = virtqueue_get_vring_size(vq);
	vvq->chains = kcalloc(num, sizeof(*vvq->chains), GFP_KERNEL);
	if (!vvq->chains) {
		vring_del_virtqueue(vq);
		kfree(vvq);
		return ERR_PTR(-ENOMEM);
	}
	vq->priv = vvq;
	vvq->vq = vq;
	vvq->dev = dev;
	vvq->index = index;
	vvq->num = num;
	vvq->vring = virtqueue_get_vring(vq);

	/* The addresses are only echoed: the device never reads them. */
	sq.index = cpu_to_le32(index);
	sq.flags = cpu_to_le32(VIRTIO_ARGO_SETVQ_ENABLE);
	sq.size = cpu_to_le32(num);
	sq.desc_addr = cpu_to_le64(virtqueue_get_desc_addr(vq));
	sq.driver_addr = cpu_to_le64(virtqueue_get_avail_addr(vq));
	sq.device_addr = cpu_to_le64(virtqueue_get_used_addr(vq));
	ret = vargo_req(dev, VIRTIO_ARGO_MSG_SET_VQUEUE, &sq, sizeof(sq), NULL,
			0);
	/* SET_VQUEUE's no-op cases answer as a success does: look. */
	if (!ret)
		ret = vargo_get_vqueue(dev, index, &qi);
	if (!ret && (!(le32_to_cpu(qi.flags) & VIRTIO_ARGO_VQ_ENABLED) ||
		     le32_to_cpu(qi.cur_size) != num))
		ret = -EIO;
	if (ret) {
		dev_err(&dev->vdev.dev, "queue %u (%u entries) not enabled: %d\n",
			index, num, ret);
		vargo_free_vq(vvq);
		return ERR_PTR(ret);
	}

	mutex_lock(&dev->vq_lock);
	spin_lock_irqsave(&dev->tx_lock, flags);
	dev->vqs[index] = vvq;
	dev->nvqs = max(dev->nvqs, index + 1);
	spin_unlock_irqrestore(&dev->tx_lock, flags);
	mutex_unlock(&dev->vq_lock);
	return vq;
}

static void vargo_del_vqs(struct virtio_device *vdev)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	struct vargo_vq *vqs[VARGO_MAX_VQS];
	unsigned long flags;
	unsigned int i, n;

	mutex_lock(&dev->vq_lock);
	spin_lock_irqsave(&dev->tx_lock, flags);
	n = dev->nvqs;
	for (i = 0; i < n; i++) {
		vqs[i] = dev->vqs[i];
		dev->vqs[i] = NULL;
	}
	dev->nvqs = 0;
	dev->partial.vq = NULL;
	dev->tx_blocked = false;
	spin_unlock_irqrestore(&dev->tx_lock, flags);
	mutex_unlock(&dev->vq_lock);
	/* The reader holds vq_lock while it uses a queue: none uses these. */
	for (i = 0; i < n; i++)
		if (vqs[i])
			vargo_free_vq(vqs[i]);
}

static int vargo_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			  struct virtqueue *vqs[], vq_callback_t *callbacks[],
			  const char * const names[], const bool *ctx,
			  struct irq_affinity *desc)
{
	struct vargo_dev *dev = to_vargo_dev(vdev);
	unsigned int i, index = 0;

	for (i = 0; i < nvqs; i++) {
		if (!names[i]) {
			vqs[i] = NULL;
			continue;
		}
		vqs[i] = vargo_setup_vq(dev, index++, callbacks[i], names[i],
					ctx ? ctx[i] : false);
		if (IS_ERR(vqs[i])) {
			int ret = PTR_ERR(vqs[i]);

			vargo_del_vqs(vdev);
			return ret;
		}
	}
	return 0;
}

/* Callbacks run in the reader: once it is idle, none is running. */
static void vargo_synchronize_cbs(struct virtio_device *vdev)
{
	flush_work(&to_vargo_dev(vdev)->rx_work);
}

static const char *vargo_bus_name(struct virtio_device *vdev)
{
	return "virtio-argo";
}

/* No shared memory regions on this bus (GET_SHM always says length 0). */
static bool vargo_get_shm_region(struct virtio_device *vdev,
				 struct virtio_shm_region *region, u8 id)
{
	return false;
}

static const struct virtio_config_ops vargo_config_ops = {
	.get = vargo_get,
	.set = vargo_set,
	.generation = vargo_generation,
	.get_status = vargo_get_status,
	.set_status = vargo_set_status,
	.reset = vargo_reset,
	.find_vqs = vargo_find_vqs,
	.del_vqs = vargo_del_vqs,
	.synchronize_cbs = vargo_synchronize_cbs,
	.get_features = vargo_get_features,
	.finalize_features = vargo_finalize_features,
	.bus_name = vargo_bus_name,
	.get_shm_region = vargo_get_shm_region,
};

/* ---- The reader --------------------------------------------------------- */

static void vargo_rx_config(struct vargo_dev *dev, const struct argo_kmsg *msg)
{
	struct virtio_argo_event_config ev;
	u32 status;

	if (msg->len < sizeof(struct virtio_argo_hdr) + sizeof(ev)) {
		vargo_stat_add(&dev->ep, VARGO_ST_ERRORS, 1);
		return;
	}
	argo_kmsg_copy(dev->ep.ring, msg, sizeof(struct virtio_argo_hdr), &ev,
		       sizeof(ev));
	vargo_stat_add(&dev->ep, VARGO_ST_EVENTS, 1);
	status = le32_to_cpu(ev.device_status);
	WRITE_ONCE(dev->generation, le32_to_cpu(ev.generation));
	WRITE_ONCE(dev->status, status);
	if (status & VIRTIO_CONFIG_S_NEEDS_RESET)
		dev_warn(&dev->vdev.dev, "device needs a reset (status %#x)\n",
			 status);
	if (test_bit(VARGO_DEV_REGISTERED, &dev->flags))
		virtio_config_changed(&dev->vdev);
}

static void vargo_rx_error(struct vargo_dev *dev, const struct argo_kmsg *msg)
{
	struct virtio_argo_error e;

	vargo_stat_add(&dev->ep, VARGO_ST_ERRORS, 1);
	if (msg->len < sizeof(struct virtio_argo_hdr) + sizeof(e))
		return;
	argo_kmsg_copy(dev->ep.ring, msg, sizeof(struct virtio_argo_hdr), &e,
		       sizeof(e));
	dev_err_ratelimited(&dev->vdev.dev,
			    "the device refused message %#x/%#x token %u: reason %u, errno %u\n",
			    e.bad_type, e.bad_msg_id, le16_to_cpu(e.bad_token),
			    le32_to_cpu(e.reason), le32_to_cpu(e.error));
	if (le32_to_cpu(e.reason) == VIRTIO_ARGO_ERR_NOT_ATTACHED) {
		vargo_dev_gone(dev, "it no longer knows us", -ENOTCONN);
		return;
	}
	if (e.bad_type & VIRTIO_ARGO_TYPE_BUS &&
	    e.bad_msg_id == VIRTIO_ARGO_BUS_BUF)
		vargo_rx_error_buf(dev, le16_to_cpu(e.bad_token));
	else
		vargo_ep_error(&dev->ep, &e);
}

static void vargo_rx_msg(struct vargo_dev *dev, const struct argo_kmsg *msg)
{
	struct virtio_argo_hdr hdr;
	bool response, bus;
	int err;

	/* Through a relay, what one Xen refuses at the send comes back. */
	err = vargo_read_report(&dev->ep, msg, dev->bus->domid);
	if (err) {
		vargo_dev_gone(dev, "a relay could not deliver to it", err);
		return;
	}
	if (vargo_read_hdr(&dev->ep, msg, dev->bus->domid, &hdr))
		return;
	WRITE_ONCE(dev->last_rx, jiffies);
	response = hdr.type & VIRTIO_ARGO_TYPE_RESPONSE;
	bus = hdr.type & VIRTIO_ARGO_TYPE_BUS;
	if (bus && hdr.msg_id == VIRTIO_ARGO_BUS_BUF && response) {
		vargo_rx_buf(dev, &hdr, msg);
		return;
	}
	if (bus && hdr.msg_id == VIRTIO_ARGO_BUS_ERROR && !response) {
		vargo_rx_error(dev, msg);
		return;
	}
	if (!bus && hdr.msg_id == VIRTIO_ARGO_MSG_EVENT_CONFIG && !response) {
		vargo_rx_config(dev, msg);
		return;
	}
	if (response && vargo_ep_response(&dev->ep, &hdr, msg))
		return;
	/* A late answer (after a time-out) or something we never asked. */
	vargo_stat_add(&dev->ep, VARGO_ST_ERRORS, 1);
}

/* Messages read per run before the work gives others a turn. */
#define VARGO_RX_BUDGET 256

void vargo_dev_rx_work(struct work_struct *work)
{
	struct vargo_dev *dev = container_of(work, struct vargo_dev, rx_work);
	struct argo_kring *ring = dev->ep.ring;
	u32 space = argo_kring_space(ring);
	struct argo_kmsg msg;
	unsigned int n;
	int ret = 0;

	mutex_lock(&dev->vq_lock);
	for (n = 0; n < VARGO_RX_BUDGET; n++) {
		ret = argo_kring_peek(ring, &msg);
		if (ret)
			break;
		vargo_rx_msg(dev, &msg);
		argo_kring_consume(ring, &msg);
	}
	if (ret && ret != -EAGAIN)
		vargo_dev_gone(dev, "its ring is corrupt", ret);
	vargo_flush_used(dev);
	vargo_fail_pending(dev);
	mutex_unlock(&dev->vq_lock);
	vargo_ep_rx_done(&dev->ep, space, n > 0);
	vargo_tx_retry(dev);
	if (n == VARGO_RX_BUDGET)
		vargo_dev_kick(dev);
}

/* ---- Life cycle ---------------------------------------------------------- */

static void vargo_dev_event(void *priv)
{
	vargo_dev_kick(priv);
}

static void vargo_dev_free(struct vargo_dev *dev)
{
	kvfree(dev->txsegs);
	kvfree(dev->rxsegs);
	kvfree(dev->bounce);
	kfree(dev->txhdr);
	kfree(dev);
}

static void vargo_dev_release(struct device *d)
{
	vargo_dev_free(to_vargo_dev(dev_to_virtio(d)));
}

static const struct attribute_group *vargo_dev_groups[2];

static void vargo_dev_stop_rx(struct vargo_dev *dev);

/* Most buffers per chain we take, whatever the device offers. */
#define VARGO_MAX_SEGS 1024U

/*
 * Register the device's ring, learn what it is and ATTACH it. Returns the
 * device (not registered with the virtio core yet) or an ERR_PTR.
 */
struct vargo_dev *vargo_dev_create(struct vargo_bus *bus, u16 num)
{
	struct virtio_argo_attach att = {}, ans;
	struct vargo_dev *dev;
	u32 hdr_max;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->bus = bus;
	dev->num = num;
	dev->generation = 0;
	dev->last_rx = jiffies;
	mutex_init(&dev->vq_lock);
	spin_lock_init(&dev->tx_lock);
	INIT_WORK(&dev->rx_work, vargo_dev_rx_work);
	vargo_ep_init(&dev->ep, bus, bus->ep.port + 1 + num,
		      VIRTIO_ARGO_DEVICE_PORT(bus->ep.peer_port, num));
	dev->ep.ring = argo_kring_register(dev->ep.port, bus->domid,
					   bus->ring_len, vargo_dev_event, dev);
	if (IS_ERR(dev->ep.ring)) {
		ret = PTR_ERR(dev->ep.ring);
		kfree(dev);
		return ERR_PTR(ret);
	}
	dev->ep.max_rx = min(argo_kring_max_msg(dev->ep.ring), bus->max_rx);

	ret = vargo_req(dev, VIRTIO_ARGO_MSG_GET_DEVICE_INFO, NULL, 0,
			&dev->info, sizeof(dev->info));
	if (ret)
		goto fail;

	att.dev_num = cpu_to_le16(num);
	att.max_rx = cpu_to_le32(dev->ep.max_rx);
	ret = vargo_dev_req(dev, VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_ATTACH,
			    &att, sizeof(att), &ans, sizeof(ans), sizeof(ans));
	if (ret >= 0 && ret != sizeof(ans))
		ret = -EPROTO;
	if (ret < 0)
		goto fail;
	if (le32_to_cpu(ans.status)) {
		ret = vargo_errno_of(le32_to_cpu(ans.status));
		goto fail;
	}
	dev->dev_max_rx = le32_to_cpu(ans.max_rx);
	dev->max_segs = min(le32_to_cpu(ans.max_segs), VARGO_MAX_SEGS);
	dev->max_chain = le32_to_cpu(ans.max_chain);
	hdr_max = sizeof(struct virtio_argo_hdr) +
		  sizeof(struct virtio_argo_buf) + 4 * dev->max_segs;
	if (dev->dev_max_rx < VIRTIO_ARGO_MIN_RX || !dev->max_segs ||
	    !dev->max_chain) {
		ret = -EPROTO;
		goto fail;
	}
	/* A message never needs more than a whole chain and its header. */
	dev->frag_max = min_t(u64, dev->dev_max_rx,
			      (u64)hdr_max + dev->max_chain);
	dev->txhdr = kmalloc(hdr_max, GFP_KERNEL);
	dev->bounce = kvmalloc(dev->frag_max, GFP_KERNEL);
	dev->txsegs = kvcalloc(dev->max_segs, sizeof(struct vargo_seg),
			       GFP_KERNEL);
	dev->rxsegs = kvcalloc(dev->max_segs, sizeof(struct vargo_seg),
			       GFP_KERNEL);
	if (!dev->txhdr || !dev->bounce || !dev->txsegs || !dev->rxsegs) {
		ret = -ENOMEM;
		goto fail;
	}
	return dev;

fail:
	vargo_ep_fail(&dev->ep, -ENODEV);
	vargo_dev_stop_rx(dev);
	vargo_dev_free(dev);
	return ERR_PTR(ret);
}

/*
 * Stop the reader for good and unregister the ring: no new work once DYING
 * is seen; an event function that looked before is done after the grace
 * period, so the cancel catches its work. Only then can the ring go.
 */
static void vargo_dev_stop_rx(struct vargo_dev *dev)
{
	set_bit(VARGO_DEV_DYING, &dev->flags);
	synchronize_rcu();
	cancel_work_sync(&dev->rx_work);
	argo_kring_unregister(dev->ep.ring);
}

/*
 * Hand the device to the virtio core: its driver binds now. On failure the
 * device is the core's and gone: its removal (vargo_dev_destroy) frees it.
 */
int vargo_dev_register(struct vargo_dev *dev)
{
	struct virtio_device *vdev = &dev->vdev;
	int ret;

	vargo_dev_groups[0] = vargo_stats_group();
	vdev->dev.parent = dev->bus->root;
	vdev->dev.release = vargo_dev_release;
	vdev->dev.groups = vargo_dev_groups;
	vdev->id.device = le32_to_cpu(dev->info.device_id);
	vdev->id.vendor = le32_to_cpu(dev->info.vendor_id);
	vdev->config = &vargo_config_ops;
	ret = register_virtio_device(vdev);
	set_bit(VARGO_DEV_CORE, &dev->flags);
	if (ret) {
		vargo_dev_gone(dev, "the virtio core refused it", ret);
		return ret;
	}
	/* Ours, until vargo_dev_destroy is done with it. */
	get_device(&vdev->dev);
	set_bit(VARGO_DEV_REGISTERED, &dev->flags);
	return 0;
}

/* Unbind the driver, DETACH (unless gone), free. Sleeps. */
void vargo_dev_destroy(struct vargo_dev *dev)
{
	struct virtio_argo_attach det = { .dev_num = cpu_to_le16(dev->num) };
	struct virtio_argo_attach ans;

	if (test_bit(VARGO_DEV_REGISTERED, &dev->flags))
		unregister_virtio_device(&dev->vdev);
	if (!test_bit(VARGO_DEV_GONE, &dev->flags))
		vargo_dev_req(dev, VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH,
			      &det, sizeof(det), &ans, 0, sizeof(ans));
	vargo_ep_fail(&dev->ep, -ENODEV);
	vargo_dev_stop_rx(dev);
	if (test_bit(VARGO_DEV_CORE, &dev->flags))
		put_device(&dev->vdev.dev);
	else
		vargo_dev_free(dev);
}
