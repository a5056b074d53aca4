// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_argo.ko: the Argo bus of one driver domain (docs/virtio-argo.md,
 * section 2). At load it registers its bus ring and looks for the driver
 * domain's bus port: HELLO (which subscribes us to EVENT_DEVICE), then
 * GET_DEVICES, and each device found becomes a virtio device whose driver
 * binds as on any transport. A PING every ping_ms tells whether the driver
 * domain is still there; when it is not, or a device is REMOVED, its
 * devices fail what they have outstanding with I/O errors and are removed,
 * and the bus looks for the driver domain again.
 *
 * Here: the module, discovery, the device life cycle, the DMA ops. The
 * other parts: requests and answers (msg), one device and its
 * virtio_config_ops (vdev), the data path (vq).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-map-ops.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include <xen/xen.h>

#include "vargo.h"

static ushort domid;
module_param(domid, ushort, 0444);
MODULE_PARM_DESC(domid, "domain id of the driver domain (default 0)");

static uint bus_port = VIRTIO_ARGO_BUS_PORT;
module_param(bus_port, uint, 0444);
MODULE_PARM_DESC(bus_port, "the driver domain's bus port; device N is at bus_port + 1 + N (default 0x56410000)");

static uint rx_port = 0x56420000;
module_param(rx_port, uint, 0444);
MODULE_PARM_DESC(rx_port, "our bus ring's port; our ring for device N is at rx_port + 1 + N (default 0x56420000)");

static uint ring_kb = 4096;
module_param(ring_kb, uint, 0444);
MODULE_PARM_DESC(ring_kb, "size of our ring for each device, KiB (default 4096)");

static uint max_rx = SZ_1M + SZ_4K;
module_param(max_rx, uint, 0444);
MODULE_PARM_DESC(max_rx, "largest message a device may send us, bytes, at most the ring's (default 1 MiB + 4 KiB)");

unsigned int vargo_timeout_ms = 10000;
module_param_named(timeout_ms, vargo_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "a request not answered in this time means the device is gone (default 10000)");

static uint ping_ms = 2000;
module_param(ping_ms, uint, 0644);
MODULE_PARM_DESC(ping_ms, "PING the driver domain this often while its bus is up; 0: never (default 2000)");

static uint retry_ms = 1000;
module_param(retry_ms, uint, 0644);
MODULE_PARM_DESC(retry_ms, "HELLO again this often while the driver domain does not answer (default 1000)");

#define VARGO_BUS_RING_LEN	SZ_64K
#define VARGO_BUS_MAX_RX	4096U

/* One bus per module: the driver domain of the parameters. */
static struct vargo_bus *vargo_bus;

/* ---- DMA ops of our devices ----------------------------------------------- */

/*
 * The virtio ring code uses the DMA API on Xen (vring_use_dma_api()), with
 * the virtio device's parent. Nothing here does DMA: this transport copies
 * with the CPU. So the parent's DMA ops give physical addresses of the
 * kernel's own memory, which vq.c turns back into kernel addresses; no
 * bounce buffers, no grants.
 */
static void *vargo_dma_alloc(struct device *dev, size_t size,
			     dma_addr_t *handle, gfp_t gfp,
			     unsigned long attrs)
{
	void *va = alloc_pages_exact(size, gfp | __GFP_ZERO);

	if (va)
		*handle = virt_to_phys(va);
	return va;
}

static void vargo_dma_free(struct device *dev, size_t size, void *va,
			   dma_addr_t handle, unsigned long attrs)
{
	free_pages_exact(va, size);
}

static dma_addr_t vargo_dma_map_page(struct device *dev, struct page *page,
				     unsigned long offset, size_t size,
				     enum dma_data_direction dir,
				     unsigned long attrs)
{
	return page_to_phys(page) + offset;
}

static void vargo_dma_unmap_page(struct device *dev, dma_addr_t handle,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
}

static int vargo_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = sg_phys(sg);
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static const struct dma_map_ops vargo_dma_ops = {
	.alloc = vargo_dma_alloc,
	.free = vargo_dma_free,
	.map_page = vargo_dma_map_page,
	.unmap_page = vargo_dma_unmap_page,
	.map_sg = vargo_dma_map_sg,
};

/* ---- Devices --------------------------------------------------------------- */

void vargo_dev_kick(struct vargo_dev *dev)
{
	if (!test_bit(VARGO_DEV_DYING, &dev->flags))
		queue_work(dev->bus->rx_wq, &dev->rx_work);
}

/*
 * The device is gone (REMOVED, no answer, no ring, a protocol breach):
 * fail its requests, let its reader fail its chains with I/O errors, and
 * queue its removal. Once; any context.
 */
void vargo_dev_gone(struct vargo_dev *dev, const char *why, int err)
{
	if (test_and_set_bit(VARGO_DEV_GONE, &dev->flags))
		return;
	pr_warn("device %u of domain %u is gone: %s (%d)\n", dev->num,
		dev->bus->domid, why, err);
	vargo_ep_fail(&dev->ep, -ENODEV);
	vargo_dev_kick(dev);
	if (test_bit(VARGO_DEV_PUBLISHED, &dev->flags) &&
	    !test_and_set_bit(VARGO_DEV_REMOVING, &dev->flags))
		queue_work(dev->bus->wq, &dev->remove_work);
}

/* On the bus's ordered work queue: the only place devices are freed. */
static void vargo_dev_remove_work(struct work_struct *work)
{
	struct vargo_dev *dev = container_of(work, struct vargo_dev,
					     remove_work);
	struct vargo_bus *bus = dev->bus;

	/*
	 * A probe still running ends soon: the device is gone, so its
	 * requests fail at once and its reader fails its chains.
	 */
	cancel_work_sync(&dev->add_work);
	mutex_lock(&bus->lock);
	if (bus->devs[dev->num] == dev)
		bus->devs[dev->num] = NULL;
	mutex_unlock(&bus->lock);
	vargo_dev_destroy(dev);

	/*
	 * Whatever took it (the device side restarted and forgot us, most
	 * often), HELLO and list again: that subscribes us anew and adds what
	 * is there now. A device REMOVED is not listed.
	 */
	mutex_lock(&bus->lock);
	if (bus->up && !bus->stopping) {
		bus->up = false;
		queue_delayed_work(bus->wq, &bus->hello_work,
				   msecs_to_jiffies(retry_ms));
	}
	mutex_unlock(&bus->lock);
}

/* On probe_wq: the driver binds (and probes, with I/O) now. */
static void vargo_dev_add_work(struct work_struct *work)
{
	struct vargo_dev *dev = container_of(work, struct vargo_dev, add_work);

	if (vargo_dev_register(dev) == 0)
		dev_info(&dev->vdev.dev,
			 "device %u of domain %u: type %u, %u queues, messages up to %u bytes, chains up to %u buffers / %u bytes\n",
			 dev->num, dev->bus->domid, dev->vdev.id.device,
			 le32_to_cpu(dev->info.max_virtqueues),
			 dev->dev_max_rx, dev->max_segs, dev->max_chain);
}

static void vargo_bus_add(struct vargo_bus *bus, u16 num)
{
	struct vargo_dev *dev;

	lockdep_assert_held(&bus->lock);
	if (bus->devs[num])
		return;
	dev = vargo_dev_create(bus, num);
	if (IS_ERR(dev)) {
		pr_err("device %u of domain %u not added: %ld\n", num,
		       bus->domid, PTR_ERR(dev));
		return;
	}
	INIT_WORK(&dev->add_work, vargo_dev_add_work);
	INIT_WORK(&dev->remove_work, vargo_dev_remove_work);
	bus->devs[num] = dev;
	set_bit(VARGO_DEV_PUBLISHED, &dev->flags);
	queue_work(bus->probe_wq, &dev->add_work);
}

/* Every device is gone: the driver domain does not answer. */
static void vargo_bus_down(struct vargo_bus *bus, int err)
{
	unsigned int i;

	lockdep_assert_held(&bus->lock);
	pr_warn("domain %u does not answer on its bus (%d): its devices are gone\n",
		bus->domid, err);
	bus->up = false;
	for (i = 0; i < VIRTIO_ARGO_MAX_DEVICES; i++)
		if (bus->devs[i])
			vargo_dev_gone(bus->devs[i], "its domain went away",
				       err);
	if (!bus->stopping)
		queue_delayed_work(bus->wq, &bus->hello_work,
				   msecs_to_jiffies(retry_ms));
}

/* ---- Discovery -------------------------------------------------------------- */

static int vargo_bus_req(struct vargo_bus *bus, u8 msg_id, const void *p,
			 u32 len, void *resp, u32 resp_len)
{
	int ret = vargo_ep_request(&bus->ep, VIRTIO_ARGO_TYPE_BUS, msg_id, 0,
				   p, len, resp, resp_len, resp_len);

	return ret < 0 ? ret : 0;
}

static void vargo_bus_list(struct vargo_bus *bus)
{
	struct virtio_argo_get_devices req;
	struct {
		struct virtio_argo_devices d;
		u8 bitmap[VIRTIO_ARGO_MAX_DEVICES / 8];
	} resp;
	unsigned int offset = 0, count, i, n = 0;
	int ret;

	do {
		req.offset = cpu_to_le16(offset);
		req.count = cpu_to_le16(VIRTIO_ARGO_MAX_DEVICES - offset);
		memset(&resp, 0, sizeof(resp));
		ret = vargo_ep_request(&bus->ep, VIRTIO_ARGO_TYPE_BUS,
				       VIRTIO_ARGO_BUS_GET_DEVICES, 0, &req,
				       sizeof(req), &resp, sizeof(resp.d),
				       sizeof(resp));
		if (ret < 0) {
			pr_err("GET_DEVICES at %u failed: %d\n", offset, ret);
			return;
		}
		count = le16_to_cpu(resp.d.count);
		if (le16_to_cpu(resp.d.offset) != offset ||
		    count > VIRTIO_ARGO_MAX_DEVICES - offset ||
		    ret < (int)(sizeof(resp.d) + DIV_ROUND_UP(count, 8))) {
			pr_err("bad GET_DEVICES answer at %u\n", offset);
			return;
		}
		for (i = 0; i < count; i++) {
			if (resp.bitmap[i / 8] & BIT(i % 8)) {
				vargo_bus_add(bus, offset + i);
				n++;
			}
		}
		i = le16_to_cpu(resp.d.next_offset);
		if (i && (i <= offset || i >= VIRTIO_ARGO_MAX_DEVICES)) {
			pr_err("bad GET_DEVICES next_offset %u at %u\n", i,
			       offset);
			return;
		}
		offset = i;
	} while (offset);
	pr_info("domain %u has %u devices for us\n", bus->domid, n);
}

static void vargo_hello_work(struct work_struct *work)
{
	struct vargo_bus *bus = container_of(to_delayed_work(work),
					     struct vargo_bus, hello_work);
	struct virtio_argo_hello req = {
		.bus_version = cpu_to_le16(VIRTIO_ARGO_BUS_VERSION),
		.revision = cpu_to_le16(VIRTIO_ARGO_REVISION),
		.max_msg_size = cpu_to_le32(VIRTIO_ARGO_MAX_MSG_SIZE),
		.max_rx = cpu_to_le32(bus->ep.max_rx),
	}, resp;
	static int last_err;
	int ret;

	mutex_lock(&bus->lock);
	if (bus->stopping || bus->up)
		goto out;
	ret = vargo_bus_req(bus, VIRTIO_ARGO_BUS_HELLO, &req, sizeof(req),
			    &resp, sizeof(resp));
	if (ret) {
		if (ret != last_err)
			pr_info("no bus on domain %u port %#x yet (%d); trying every %u ms\n",
				bus->domid, bus->ep.peer_port, ret, retry_ms);
		last_err = ret;
		queue_delayed_work(bus->wq, &bus->hello_work,
				   msecs_to_jiffies(retry_ms));
		goto out;
	}
	last_err = 0;
	if (le16_to_cpu(resp.bus_version) != VIRTIO_ARGO_BUS_VERSION ||
	    le16_to_cpu(resp.revision) != VIRTIO_ARGO_REVISION) {
		pr_err("domain %u speaks bus version %u, revision %u; we speak %u, %u: not using it\n",
		       bus->domid, le16_to_cpu(resp.bus_version),
		       le16_to_cpu(resp.revision), VIRTIO_ARGO_BUS_VERSION,
		       VIRTIO_ARGO_REVISION);
		goto out;
	}
	bus->up = true;
	pr_info("domain %u: bus up, %u devices\n", bus->domid,
		le16_to_cpu(resp.num_devices));
	vargo_bus_list(bus);
	if (ping_ms)
		queue_delayed_work(bus->wq, &bus->ping_work,
				   msecs_to_jiffies(ping_ms));
out:
	mutex_unlock(&bus->lock);
}

static void vargo_ping_work(struct work_struct *work)
{
	struct vargo_bus *bus = container_of(to_delayed_work(work),
					     struct vargo_bus, ping_work);
	struct virtio_argo_ping ping, pong;
	unsigned int i;
	int ret;

	mutex_lock(&bus->lock);
	if (bus->stopping || !bus->up)
		goto out;
	/*
	 * Each device: a request only an attached driver gets answered. A
	 * device side that restarted (its rings back at once, so no send
	 * fails) answers NOT_ATTACHED, and the device is gone: its chains in
	 * flight would never complete. Also a safety net: a send that waits
	 * for room looks again.
	 */
	for (i = 0; i < VIRTIO_ARGO_MAX_DEVICES; i++) {
		if (!bus->devs[i])
			continue;
		vargo_dev_check(bus->devs[i]);
		if (vargo_dev_stuck(bus->devs[i],
				    msecs_to_jiffies(vargo_timeout_ms))) {
			vargo_stat_add(&bus->devs[i]->ep, VARGO_ST_TIMEOUTS, 1);
			vargo_dev_gone(bus->devs[i],
				       "a request not completed within timeout_ms",
				       -ETIMEDOUT);
		}
		vargo_dev_kick(bus->devs[i]);
	}
	ping.data = cpu_to_le32(jiffies);
	ret = vargo_bus_req(bus, VIRTIO_ARGO_BUS_PING, &ping, sizeof(ping),
			    &pong, sizeof(pong));
	if (ret == 0 && pong.data != ping.data)
		ret = -EPROTO;
	if (ret) {
		vargo_bus_down(bus, ret);
		goto out;
	}
	if (ping_ms)
		queue_delayed_work(bus->wq, &bus->ping_work,
				   msecs_to_jiffies(ping_ms));
out:
	mutex_unlock(&bus->lock);
}

/* An EVENT_DEVICE, handled on the bus's work queue. */
struct vargo_event {
	struct work_struct work;
	struct vargo_bus *bus;
	u16 num;
	u16 state;
};

static void vargo_event_work(struct work_struct *work)
{
	struct vargo_event *ev = container_of(work, struct vargo_event, work);
	struct vargo_bus *bus = ev->bus;
	struct vargo_dev *dev;

	mutex_lock(&bus->lock);
	dev = bus->devs[ev->num];
	if (bus->stopping || !bus->up) {
		kfree(ev);
	} else if (ev->state == VIRTIO_ARGO_DEVICE_REMOVED) {
		if (dev)
			vargo_dev_gone(dev, "the driver domain removed it",
				       -ENODEV);
		kfree(ev);
	} else if (dev) {
		/*
		 * ADDED while we have it: the device side started anew and
		 * forgot us. Drop ours; add it again after its removal.
		 */
		vargo_dev_gone(dev, "the driver domain added it again",
			       -ENODEV);
		queue_work(bus->wq, &ev->work);
	} else {
		vargo_bus_add(bus, ev->num);
		kfree(ev);
	}
	mutex_unlock(&bus->lock);
}

/* PING from the device side: answer it. */
static void vargo_bus_pong(struct vargo_bus *bus,
			   const struct virtio_argo_hdr *hdr,
			   const struct argo_kmsg *msg)
{
	struct {
		struct virtio_argo_hdr h;
		struct virtio_argo_ping p;
	} m;
	struct kvec iov = { .iov_base = &m, .iov_len = sizeof(m) };

	if (msg->len != sizeof(m)) {
		vargo_stat_add(&bus->ep, VARGO_ST_ERRORS, 1);
		return;
	}
	argo_kmsg_copy(bus->ep.ring, msg, 0, &m, sizeof(m));
	m.h.type |= VIRTIO_ARGO_TYPE_RESPONSE;
	vargo_ep_send(&bus->ep, &iov, 1, VARGO_ST_SENDV_CTRL);
}

static void vargo_bus_rx_msg(struct vargo_bus *bus, const struct argo_kmsg *msg)
{
	struct virtio_argo_event_device ed;
	struct virtio_argo_error e;
	struct virtio_argo_hdr hdr;
	struct vargo_event *ev;
	u32 plen;
	int err;

	/* Through a relay: the send of the request in flight was refused. */
	err = vargo_read_report(&bus->ep, msg, bus->domid);
	if (err) {
		pr_warn_ratelimited("domain %u: a relay could not deliver to its bus (%d)\n",
				    bus->domid, err);
		vargo_ep_refused(&bus->ep, err);
		return;
	}
	if (vargo_read_hdr(&bus->ep, msg, bus->domid, &hdr))
		return;
	plen = msg->len - sizeof(hdr);
	if (!(hdr.type & VIRTIO_ARGO_TYPE_BUS))
		goto bad;
	if (hdr.type & VIRTIO_ARGO_TYPE_RESPONSE) {
		if (!vargo_ep_response(&bus->ep, &hdr, msg))
			goto bad;	/* late, or never asked */
		return;
	}
	switch (hdr.msg_id) {
	case VIRTIO_ARGO_BUS_EVENT_DEVICE:
		if (plen != sizeof(ed))
			goto bad;
		argo_kmsg_copy(bus->ep.ring, msg, sizeof(hdr), &ed, sizeof(ed));
		vargo_stat_add(&bus->ep, VARGO_ST_EVENTS, 1);
		ev = kzalloc(sizeof(*ev), GFP_KERNEL);
		if (!ev)
			return;
		ev->bus = bus;
		ev->num = le16_to_cpu(ed.device_number);
		ev->state = le16_to_cpu(ed.device_bus_state);
		if (ev->num >= VIRTIO_ARGO_MAX_DEVICES ||
		    (ev->state != VIRTIO_ARGO_DEVICE_ADDED &&
		     ev->state != VIRTIO_ARGO_DEVICE_REMOVED)) {
			kfree(ev);
			goto bad;
		}
		INIT_WORK(&ev->work, vargo_event_work);
		queue_work(bus->wq, &ev->work);
		return;
	case VIRTIO_ARGO_BUS_PING:
		vargo_bus_pong(bus, &hdr, msg);
		return;
	case VIRTIO_ARGO_BUS_ERROR:
		if (plen < sizeof(e))
			goto bad;
		argo_kmsg_copy(bus->ep.ring, msg, sizeof(hdr), &e, sizeof(e));
		vargo_stat_add(&bus->ep, VARGO_ST_ERRORS, 1);
		pr_err_ratelimited("domain %u refused bus message %#x/%#x: reason %u, errno %u\n",
				   bus->domid, e.bad_type, e.bad_msg_id,
				   le32_to_cpu(e.reason), le32_to_cpu(e.error));
		vargo_ep_error(&bus->ep, &e);
		return;
	}
bad:
	vargo_stat_add(&bus->ep, VARGO_ST_ERRORS, 1);
}

static void vargo_bus_rx_work(struct work_struct *work)
{
	struct vargo_bus *bus = container_of(work, struct vargo_bus, rx_work);
	struct argo_kring *ring = bus->ep.ring;
	u32 space = argo_kring_space(ring);
	struct argo_kmsg msg;
	bool consumed = false;
	int ret;

	while ((ret = argo_kring_peek(ring, &msg)) == 0) {
		vargo_bus_rx_msg(bus, &msg);
		argo_kring_consume(ring, &msg);
		consumed = true;
	}
	if (ret != -EAGAIN)
		pr_err_ratelimited("bus ring unreadable: %d\n", ret);
	vargo_ep_rx_done(&bus->ep, space, consumed);
}

/* Every VIRQ_ARGO: read the bus ring, wake senders waiting for room. */
static void vargo_bus_event(void *priv)
{
	struct vargo_bus *bus = priv;

	atomic_inc(&bus->events);
	wake_up_all(&bus->event_wq);
	if (!READ_ONCE(bus->dying))
		queue_work(bus->rx_wq, &bus->rx_work);
}

/* ---- sysfs ----------------------------------------------------------------- */

struct vargo_ep *vargo_ep_of_device(struct device *d)
{
	if (d == vargo_bus->root)
		return &vargo_bus->ep;
	return &to_vargo_dev(dev_to_virtio(d))->ep;
}

/* ---- Module ---------------------------------------------------------------- */

static int __init vargo_init(void)
{
	struct vargo_bus *bus;
	int ret;

	if (!xen_domain())
		return -ENODEV;
	if (ring_kb < 4 || ring_kb > SZ_16M / SZ_1K || max_rx < VIRTIO_ARGO_MIN_RX ||
	    rx_port > U32_MAX - VIRTIO_ARGO_MAX_DEVICES - 1 ||
	    bus_port > U32_MAX - VIRTIO_ARGO_MAX_DEVICES - 1) {
		pr_err("bad parameters (ring_kb 4 to 16384, max_rx at least %u, ports below 2^32 - 257)\n",
		       VIRTIO_ARGO_MIN_RX);
		return -EINVAL;
	}
	bus = kzalloc(sizeof(*bus), GFP_KERNEL);
	if (!bus)
		return -ENOMEM;
	bus->domid = domid;
	bus->ring_len = ring_kb * SZ_1K - 64; /* with its header: whole pages */
	bus->max_rx = max_rx;
	mutex_init(&bus->lock);
	init_waitqueue_head(&bus->event_wq);
	INIT_WORK(&bus->rx_work, vargo_bus_rx_work);
	INIT_DELAYED_WORK(&bus->hello_work, vargo_hello_work);
	INIT_DELAYED_WORK(&bus->ping_work, vargo_ping_work);
	vargo_ep_init(&bus->ep, bus, rx_port, bus_port);

	ret = -ENOMEM;
	bus->wq = alloc_ordered_workqueue("virtio-argo-bus", WQ_MEM_RECLAIM);
	/* Completions of block I/O come through here: never starve it. */
	bus->rx_wq = alloc_workqueue("virtio-argo-rx",
				     WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	bus->probe_wq = alloc_workqueue("virtio-argo-probe", 0, 0);
	if (!bus->wq || !bus->rx_wq || !bus->probe_wq)
		goto fail_wq;

	bus->root = root_device_register("virtio-argo");
	if (IS_ERR(bus->root)) {
		ret = PTR_ERR(bus->root);
		goto fail_wq;
	}
	bus->root->coherent_dma_mask = DMA_BIT_MASK(64);
	bus->root->dma_mask = &bus->root->coherent_dma_mask;
	set_dma_ops(bus->root, &vargo_dma_ops);
	vargo_bus = bus;
	ret = sysfs_create_group(&bus->root->kobj, vargo_stats_group());
	if (ret)
		goto fail_root;

	bus->ep.ring = argo_kring_register(rx_port, domid, VARGO_BUS_RING_LEN,
					   vargo_bus_event, bus);
	if (IS_ERR(bus->ep.ring)) {
		ret = PTR_ERR(bus->ep.ring);
		pr_err("registering our bus ring (port %#x, partner %u) failed: %d\n",
		       rx_port, domid, ret);
		goto fail_sysfs;
	}
	/* Bus messages are small: announcing less than the ring holds spares
	 * us a notify after most reads (vargo_ep_rx_done).
	 */
	bus->ep.max_rx = min(argo_kring_max_msg(bus->ep.ring), VARGO_BUS_MAX_RX);
	pr_info("looking for virtio devices of domain %u (bus port %#x; our ports from %#x)\n",
		domid, bus_port, rx_port);
	queue_delayed_work(bus->wq, &bus->hello_work, 0);
	return 0;

fail_sysfs:
	sysfs_remove_group(&bus->root->kobj, vargo_stats_group());
fail_root:
	root_device_unregister(bus->root);
fail_wq:
	if (bus->probe_wq)
		destroy_workqueue(bus->probe_wq);
	if (bus->rx_wq)
		destroy_workqueue(bus->rx_wq);
	if (bus->wq)
		destroy_workqueue(bus->wq);
	kfree(bus);
	vargo_bus = NULL;
	return ret;
}

static void __exit vargo_exit(void)
{
	struct vargo_bus *bus = vargo_bus;
	struct vargo_dev *dev;
	unsigned int i;

	mutex_lock(&bus->lock);
	bus->stopping = true;
	mutex_unlock(&bus->lock);
	cancel_delayed_work_sync(&bus->hello_work);
	cancel_delayed_work_sync(&bus->ping_work);
	/* Removals already queued, and events (which now do nothing). */
	flush_workqueue(bus->wq);

	mutex_lock(&bus->lock);
	for (i = 0; i < VIRTIO_ARGO_MAX_DEVICES; i++) {
		dev = bus->devs[i];
		if (dev && !test_and_set_bit(VARGO_DEV_REMOVING, &dev->flags))
			queue_work(bus->wq, &dev->remove_work);
	}
	mutex_unlock(&bus->lock);
	flush_workqueue(bus->wq);

	/* As vargo_dev_stop_rx: no reader left before the ring goes. */
	WRITE_ONCE(bus->dying, true);
	synchronize_rcu();
	cancel_work_sync(&bus->rx_work);
	argo_kring_unregister(bus->ep.ring);
	sysfs_remove_group(&bus->root->kobj, vargo_stats_group());
	root_device_unregister(bus->root);
	destroy_workqueue(bus->probe_wq);
	destroy_workqueue(bus->rx_wq);
	destroy_workqueue(bus->wq);
	kfree(bus);
}

module_init(vargo_init);
module_exit(vargo_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("virtio devices of a Xen driver domain over Argo (virtio-msg on an Argo bus)");
MODULE_AUTHOR("argo-relay project");
