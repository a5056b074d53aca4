/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_argo.ko: virtio devices of a driver domain, over Argo, for
 * unmodified virtio drivers. Internal header: structures and the
 * prototypes of each file. The protocol is docs/virtio-argo.md; the wire
 * layouts are include/uapi/linux/virtio_argo.h; l1/README.md says how the
 * module is built and used.
 *
 * Functions return 0 or a negative errno unless their comment says else.
 *
 * Locks, outermost first:
 *   bus->lock (mutex)    the device table; held by bus work only
 *   ep->req_lock (mutex) one request in flight per endpoint
 *   dev->vq_lock (mutex) the virtqueue table against the reader
 *   dev->tx_lock (spin, irqsave) the send side of the data path
 *   ep->req_spin (spin, irqsave) matching a response to the request
 */
#ifndef VARGO_H
#define VARGO_H

#include <linux/completion.h>
#include <linux/device.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/virtio.h>
#include <linux/virtio_ring.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <linux/argo_kernel.h>
#include <linux/virtio_argo.h>

/*
 * Most virtqueues per device, and most descriptors per virtqueue: a BUF
 * token is (queue << 8) | chain id.
 */
#define VARGO_MAX_VQS		64U
#define VARGO_MAX_QUEUE_SIZE	256U

/* Counters of one endpoint (bus or device), shown in sysfs. */
enum vargo_stat {
	VARGO_ST_SENDV_CTRL,	/* sendv hypercalls of control messages */
	VARGO_ST_SENDV_BUF,	/* sendv hypercalls of BUF requests */
	VARGO_ST_EAGAIN,	/* of those, refused for space (retried) */
	VARGO_ST_NOTIFY,	/* notify hypercalls */
	VARGO_ST_CHAINS,	/* chains sent (BUF requests) */
	VARGO_ST_COMPLETIONS,	/* chains completed by the device */
	VARGO_ST_FRAGS_OUT,	/* BUF messages beyond a chain's first */
	VARGO_ST_FRAGS_IN,	/* BUF responses beyond a chain's first */
	VARGO_ST_BYTES_OUT,	/* out-buffer bytes sent */
	VARGO_ST_BYTES_IN,	/* in-buffer bytes received */
	VARGO_ST_FAILED,	/* chains completed here with an I/O error */
	VARGO_ST_ERRORS,	/* ERROR events and malformed messages */
	VARGO_ST_DROPPED,	/* messages not ours (type, source) */
	VARGO_ST_CTRL,		/* control requests */
	VARGO_ST_TIMEOUTS,	/* control requests not answered in time, and
				 * devices given up for a chain not completed */
	VARGO_ST_EVENTS,	/* EVENT_DEVICE / EVENT_CONFIG received */
	VARGO_ST_UNDELIVERABLE,	/* relays' reports: a message refused */
	VARGO_NR_STATS,
};

/* The request an endpoint is waiting an answer to. */
struct vargo_req {
	bool waiting;		/* req_spin */
	u8 msg_id;
	u16 token;
	int status;		/* 0, or why it failed */
	u32 len;		/* response payload bytes in resp */
	u8 resp[VIRTIO_ARGO_MAX_MSG_SIZE];
	struct completion done;
};

/*
 * One of our rings and the peer port it talks to: the bus ring (to the
 * device side's bus port) or a device ring (to that device's port). We
 * send from our ring's port, so the answers come back to it.
 */
struct vargo_ep {
	struct vargo_bus *bus;
	struct argo_kring *ring;
	u32 port;		/* ours */
	u32 peer_port;		/* the device side's */
	u32 max_rx;		/* largest message we announced */
	struct mutex req_lock;
	spinlock_t req_spin;
	struct vargo_req req;
	u16 next_token;		/* req_lock */
	bool gone;		/* req_spin: requests fail at once */
	atomic64_t stats[VARGO_NR_STATS];
};

struct vargo_bus {
	struct device *root;	/* parent of our virtio devices */
	u16 domid;		/* the driver domain */
	struct vargo_ep ep;
	struct workqueue_struct *wq;	/* ordered: discovery, events, removal */
	struct workqueue_struct *rx_wq;	/* readers of every ring */
	/*
	 * Drivers' probes (register_virtio_device), apart: a probe does I/O
	 * that only the bus's PING round can fail if the device never
	 * answers, so it must not hold wq or lock.
	 */
	struct workqueue_struct *probe_wq;
	struct work_struct rx_work;
	struct delayed_work hello_work;
	struct delayed_work ping_work;
	wait_queue_head_t event_wq;	/* woken on every VIRQ_ARGO */
	atomic_t events;
	struct mutex lock;
	struct vargo_dev *devs[VIRTIO_ARGO_MAX_DEVICES];	/* lock */
	bool up;		/* lock: HELLO answered, devices listed */
	bool stopping;		/* lock: module unloading */
	bool dying;		/* no more bus reader work */
	u32 ring_len;		/* of each device ring */
	u32 max_rx;		/* largest message we let a device send */
};

/* A chain the driver made available, from our side. */
enum vargo_chain_state {
	VARGO_CHAIN_FREE,
	VARGO_CHAIN_INFLIGHT,	/* sent (at least its first fragment) */
	VARGO_CHAIN_FAILED,	/* to complete here with an I/O error */
};

struct vargo_chain {
	u8 state;		/* written with release, read with acquire */
	unsigned long sent;	/* jiffies when it went (before INFLIGHT) */
	u32 in_bytes;		/* room in its in-buffers */
	u32 total;		/* used length the device announced */
	u32 got;		/* completion bytes received so far */
};

struct vargo_vq {
	struct virtqueue *vq;
	struct vargo_dev *dev;
	unsigned int index;
	unsigned int num;
	const struct vring *vring;
	u16 last_avail;		/* tx_lock: next avail entry to take */
	u16 used_idx;		/* reader: next used entry to fill */
	bool kick;		/* reader: used entries added, interrupt due */
	struct vargo_chain *chains;	/* [num], by head descriptor */
};

/* One buffer of a chain, as the kernel sees it. */
struct vargo_seg {
	u8 *va;
	u32 len;
};

struct vargo_dev {
	struct virtio_device vdev;
	struct vargo_bus *bus;
	u16 num;		/* device number on the bus */
	struct vargo_ep ep;
	struct virtio_argo_device_info info;	/* wire byte order */
	u32 dev_max_rx;		/* the device's largest message */
	u32 max_segs;
	u32 max_chain;
	u32 generation;		/* last configuration generation seen */
	u8 status;		/* last device status seen */
	unsigned long flags;	/* VARGO_DEV_* bits */
	struct work_struct rx_work;
	struct work_struct add_work;	/* on probe_wq: registration */
	struct work_struct remove_work;
	unsigned long last_rx;	/* jiffies of its last message to us */

	struct mutex vq_lock;
	struct vargo_vq *vqs[VARGO_MAX_VQS];	/* vq_lock (and tx_lock to clear) */
	unsigned int nvqs;

	spinlock_t tx_lock;
	bool tx_blocked;	/* a send met a full ring: retry on VIRQ */
	struct {		/* a chain whose out bytes went only in part */
		struct vargo_vq *vq;
		u16 head;
		u32 off, total;
	} partial;		/* vq NULL: none */
	u8 *txhdr;		/* BUF header and segment table */
	u8 *bounce;		/* out data that needs more than 7 iovs */
	u32 frag_max;		/* bytes of a message we send, header included */
	struct vargo_seg *txsegs;	/* max_segs */
	struct vargo_seg *rxsegs;	/* max_segs, the reader's */
};

#define VARGO_DEV_GONE		0	/* failing everything; removal queued */
#define VARGO_DEV_DYING		1	/* being torn down: no more work */
#define VARGO_DEV_REGISTERED	2	/* registered with the virtio core */
#define VARGO_DEV_REMOVING	3	/* remove_work queued (once) */
#define VARGO_DEV_HAVE_FAILED	4	/* chains refused here await the reader */
#define VARGO_DEV_CORE		5	/* freed by the core's last put */
#define VARGO_DEV_PUBLISHED	6	/* in the bus's table: removal possible */

static inline struct vargo_dev *to_vargo_dev(struct virtio_device *vdev)
{
	return container_of(vdev, struct vargo_dev, vdev);
}

/* bus.c */
extern unsigned int vargo_timeout_ms;
struct vargo_ep *vargo_ep_of_device(struct device *d);
void vargo_dev_gone(struct vargo_dev *dev, const char *why, int err);
void vargo_dev_kick(struct vargo_dev *dev);

/* msg.c */
void vargo_ep_init(struct vargo_ep *ep, struct vargo_bus *bus, u32 port,
		   u32 peer_port);
int vargo_ep_request(struct vargo_ep *ep, u8 type, u8 msg_id, u16 dev_num,
		     const void *payload, u32 len, void *resp, u32 resp_min,
		     u32 resp_max);
void vargo_ep_fail(struct vargo_ep *ep, int err);
void vargo_ep_refused(struct vargo_ep *ep, int err);
int vargo_ep_send(struct vargo_ep *ep, const struct kvec *iov,
		  unsigned int niov, enum vargo_stat stat);
bool vargo_ep_response(struct vargo_ep *ep, const struct virtio_argo_hdr *hdr,
		       const struct argo_kmsg *msg);
bool vargo_ep_error(struct vargo_ep *ep, const struct virtio_argo_error *e);
void vargo_ep_rx_done(struct vargo_ep *ep, u32 space_before, bool consumed);
int vargo_read_hdr(struct vargo_ep *ep, const struct argo_kmsg *msg,
		   u16 src_domid, struct virtio_argo_hdr *hdr);
int vargo_read_report(struct vargo_ep *ep, const struct argo_kmsg *msg,
		      u16 src_domid);
int vargo_errno_of(u32 positive_errno);
const struct attribute_group *vargo_stats_group(void);
ssize_t vargo_stat_show(struct vargo_ep *ep, enum vargo_stat st, char *buf);

static inline void vargo_stat_add(struct vargo_ep *ep, enum vargo_stat st,
				  u64 n)
{
	atomic64_add(n, &ep->stats[st]);
}

/* vdev.c */
struct vargo_dev *vargo_dev_create(struct vargo_bus *bus, u16 num);
void vargo_dev_check(struct vargo_dev *dev);
int vargo_dev_register(struct vargo_dev *dev);
bool vargo_dev_stuck(struct vargo_dev *dev, unsigned long timeout);
void vargo_dev_destroy(struct vargo_dev *dev);
void vargo_dev_rx_work(struct work_struct *work);

/* vq.c */
bool vargo_vq_notify(struct virtqueue *vq);
void vargo_tx_retry(struct vargo_dev *dev);
void vargo_rx_buf(struct vargo_dev *dev, const struct virtio_argo_hdr *hdr,
		  const struct argo_kmsg *msg);
void vargo_rx_error_buf(struct vargo_dev *dev, u16 token);
void vargo_fail_pending(struct vargo_dev *dev);
void vargo_flush_used(struct vargo_dev *dev);
void vargo_vqs_quiesce(struct vargo_dev *dev);

#endif /* VARGO_H */
