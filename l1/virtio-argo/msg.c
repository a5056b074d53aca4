// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoints: one of our rings and the device-side port it talks to. A
 * request goes out from our ring's port and its response comes back into
 * our ring; one request is in flight per endpoint. Also the header checks
 * every message goes through, and the sysfs counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/sysfs.h>

#include "vargo.h"

void vargo_ep_init(struct vargo_ep *ep, struct vargo_bus *bus, u32 port,
		   u32 peer_port)
{
	unsigned int i;

	ep->bus = bus;
	ep->port = port;
	ep->peer_port = peer_port;
	mutex_init(&ep->req_lock);
	spin_lock_init(&ep->req_spin);
	init_completion(&ep->req.done);
	for (i = 0; i < VARGO_NR_STATS; i++)
		atomic64_set(&ep->stats[i], 0);
}

/* One sendv; 0 or Xen's error (-EAGAIN: the peer's ring is full). */
int vargo_ep_send(struct vargo_ep *ep, const struct kvec *iov,
		  unsigned int niov, enum vargo_stat stat)
{
	int ret;

	vargo_stat_add(ep, stat, 1);
	ret = argo_ksendv(ep->port, ep->bus->domid, ep->peer_port, iov, niov,
			  VIRTIO_ARGO_MSGTYPE);
	if (ret == -EAGAIN)
		vargo_stat_add(ep, VARGO_ST_EAGAIN, 1);
	return ret < 0 ? ret : 0;
}

/*
 * Send a control message, waiting while the peer's ring is full: Xen
 * raised VIRQ_ARGO once it has room (it queued us as a waiter).
 */
static int vargo_ep_send_wait(struct vargo_ep *ep, const struct kvec *iov,
			      unsigned int niov, unsigned long deadline)
{
	struct vargo_bus *bus = ep->bus;
	long left;
	int seen, ret;

	for (;;) {
		seen = atomic_read(&bus->events);
		ret = vargo_ep_send(ep, iov, niov, VARGO_ST_SENDV_CTRL);
		if (ret != -EAGAIN)
			return ret;
		left = (long)(deadline - jiffies);
		if (left <= 0)
			return -ETIMEDOUT;
		wait_event_timeout(bus->event_wq,
				   atomic_read(&bus->events) != seen ||
				   READ_ONCE(ep->gone), left);
		if (READ_ONCE(ep->gone))
			return -ENODEV;
	}
}

/*
 * vargo_ep_request - send a request and wait for its response. type is
 * 0 (transport) or VIRTIO_ARGO_TYPE_BUS. The response's payload (at least
 * resp_min bytes, else -EPROTO) is copied into resp, resp_max bytes at
 * most. Returns the response's payload length, -ETIMEDOUT (no answer in
 * timeout_ms), -ENODEV (the endpoint is gone), an errno the device side
 * gave in an ERROR about it, or a send error (-ECONNREFUSED: no ring).
 * Sleeps.
 */
int vargo_ep_request(struct vargo_ep *ep, u8 type, u8 msg_id, u16 dev_num,
		     const void *payload, u32 len, void *resp, u32 resp_min,
		     u32 resp_max)
{
	struct {
		struct virtio_argo_hdr h;
		u8 p[VIRTIO_ARGO_MAX_MSG_SIZE - sizeof(struct virtio_argo_hdr)];
	} m;
	struct kvec iov;
	unsigned long deadline, flags;
	long left;
	int ret;

	if (WARN_ON(len > sizeof(m.p)))
		return -EINVAL;
	mutex_lock(&ep->req_lock);
	m.h.type = type;
	m.h.msg_id = msg_id;
	m.h.dev_num = cpu_to_le16(dev_num);
	m.h.token = cpu_to_le16(++ep->next_token);
	m.h.msg_size = cpu_to_le16(sizeof(m.h) + len);
	memcpy(m.p, payload, len);
	iov.iov_base = &m;
	iov.iov_len = sizeof(m.h) + len;

	spin_lock_irqsave(&ep->req_spin, flags);
	if (ep->gone) {
		spin_unlock_irqrestore(&ep->req_spin, flags);
		mutex_unlock(&ep->req_lock);
		return -ENODEV;
	}
	ep->req.waiting = true;
	ep->req.msg_id = msg_id;
	ep->req.token = ep->next_token;
	ep->req.status = 0;
	ep->req.len = 0;
	reinit_completion(&ep->req.done);
	spin_unlock_irqrestore(&ep->req_spin, flags);
	vargo_stat_add(ep, VARGO_ST_CTRL, 1);

	deadline = jiffies + msecs_to_jiffies(vargo_timeout_ms);
	ret = vargo_ep_send_wait(ep, &iov, 1, deadline);
	if (ret == 0) {
		left = (long)(deadline - jiffies);
		if (left <= 0 ||
		    !wait_for_completion_timeout(&ep->req.done, left))
			ret = -ETIMEDOUT;
	}

	spin_lock_irqsave(&ep->req_spin, flags);
	ep->req.waiting = false;
	/* An answer that came just as we gave up still counts. */
	if (ret == -ETIMEDOUT && completion_done(&ep->req.done))
		ret = 0;
	if (ret == 0) {
		ret = ep->req.status;
		if (ret == 0 && ep->req.len < resp_min)
			ret = -EPROTO;
		if (ret == 0) {
			memcpy(resp, ep->req.resp, min(ep->req.len, resp_max));
			ret = ep->req.len;
		}
	}
	spin_unlock_irqrestore(&ep->req_spin, flags);
	if (ret == -ETIMEDOUT)
		vargo_stat_add(ep, VARGO_ST_TIMEOUTS, 1);
	mutex_unlock(&ep->req_lock);
	return ret;
}

/* Fail the request in flight and every later one with err. Any context. */
void vargo_ep_fail(struct vargo_ep *ep, int err)
{
	unsigned long flags;

	spin_lock_irqsave(&ep->req_spin, flags);
	ep->gone = true;
	if (ep->req.waiting && !completion_done(&ep->req.done)) {
		ep->req.status = err;
		complete(&ep->req.done);
	}
	spin_unlock_irqrestore(&ep->req_spin, flags);
	wake_up_all(&ep->bus->event_wq);
}

/*
 * A relay reported a message of ours undeliverable: the request in flight,
 * if any, fails with err, as its send would have failed on one Xen. Later
 * requests go out as usual (the device side may come back). Any context.
 */
void vargo_ep_refused(struct vargo_ep *ep, int err)
{
	unsigned long flags;

	spin_lock_irqsave(&ep->req_spin, flags);
	if (ep->req.waiting && !completion_done(&ep->req.done)) {
		ep->req.status = err;
		complete(&ep->req.done);
	}
	spin_unlock_irqrestore(&ep->req_spin, flags);
}

/*
 * A response (type RESPONSE) read from the ring: if it answers the request
 * in flight, hand it over. Returns whether it did.
 */
bool vargo_ep_response(struct vargo_ep *ep, const struct virtio_argo_hdr *hdr,
		       const struct argo_kmsg *msg)
{
	u32 len = msg->len - sizeof(*hdr);
	unsigned long flags;
	bool mine;

	spin_lock_irqsave(&ep->req_spin, flags);
	mine = ep->req.waiting && !completion_done(&ep->req.done) &&
	       hdr->msg_id == ep->req.msg_id &&
	       le16_to_cpu(hdr->token) == ep->req.token;
	if (mine) {
		if (len > sizeof(ep->req.resp)) {
			ep->req.status = -EPROTO;
		} else {
			argo_kmsg_copy(ep->ring, msg, sizeof(*hdr),
				       ep->req.resp, len);
			ep->req.len = len;
		}
		complete(&ep->req.done);
	}
	spin_unlock_irqrestore(&ep->req_spin, flags);
	return mine;
}

/*
 * An ERROR event about the request in flight fails it with the device
 * side's errno. Returns whether it was about that request.
 */
bool vargo_ep_error(struct vargo_ep *ep, const struct virtio_argo_error *e)
{
	unsigned long flags;
	bool mine;

	spin_lock_irqsave(&ep->req_spin, flags);
	mine = ep->req.waiting && !completion_done(&ep->req.done) &&
	       e->bad_msg_id == ep->req.msg_id &&
	       le16_to_cpu(e->bad_token) == ep->req.token;
	if (mine) {
		ep->req.status = vargo_errno_of(le32_to_cpu(e->error));
		complete(&ep->req.done);
	}
	spin_unlock_irqrestore(&ep->req_spin, flags);
	return mine;
}

/* A positive errno from the wire as a negative one we can return. */
int vargo_errno_of(u32 positive_errno)
{
	if (positive_errno == 0 || positive_errno >= MAX_ERRNO)
		return -EIO;
	return -(int)positive_errno;
}

/*
 * After reading the ring: if it had less room than the largest message the
 * device side may send us, a send of its may have been refused for space,
 * and Xen wakes such a sender only when we notify. Otherwise no hypercall.
 */
void vargo_ep_rx_done(struct vargo_ep *ep, u32 space_before, bool consumed)
{
	if (!consumed ||
	    space_before >= ep->max_rx + 2 * ARGO_KMSG_HEADER + 16)
		return;
	vargo_stat_add(ep, VARGO_ST_NOTIFY, 1);
	argo_knotify(NULL, 0);
}

/*
 * Check a message's source, Argo type and virtio-msg header, and read the
 * header. 0, or -EBADMSG (counted as dropped: not ours; or as an error:
 * ours but malformed).
 */
int vargo_read_hdr(struct vargo_ep *ep, const struct argo_kmsg *msg,
		   u16 src_domid, struct virtio_argo_hdr *hdr)
{
	u32 size;

	if (msg->src_domid != src_domid || msg->src_aport != ep->peer_port ||
	    msg->type != VIRTIO_ARGO_MSGTYPE) {
		vargo_stat_add(ep, VARGO_ST_DROPPED, 1);
		return -EBADMSG;
	}
	if (msg->len < sizeof(*hdr))
		goto bad;
	argo_kmsg_copy(ep->ring, msg, 0, hdr, sizeof(*hdr));
	size = le16_to_cpu(hdr->msg_size);
	if (hdr->type & VIRTIO_ARGO_TYPE_RESERVED || size < sizeof(*hdr) ||
	    size > VIRTIO_ARGO_MAX_MSG_SIZE || size > msg->len)
		goto bad;
	/* Only BUF carries data after msg_size; BUF checks its own length. */
	if (size != msg->len && !(hdr->type & VIRTIO_ARGO_TYPE_BUS &&
				  hdr->msg_id == VIRTIO_ARGO_BUS_BUF))
		goto bad;
	return 0;
bad:
	vargo_stat_add(ep, VARGO_ST_ERRORS, 1);
	pr_warn_ratelimited("malformed message (%u bytes) from %u:%#x dropped\n",
			    msg->len, msg->src_domid, msg->src_aport);
	return -EBADMSG;
}

/*
 * A relay's undeliverable report (VIRTIO_ARGO_RELAY_REPORT_TYPE) from the
 * port ep sends to: the negative errno Xen would have given the send (no
 * ring: -ECONNREFUSED). 0 when msg is no such report; vargo_read_hdr()
 * then drops and counts whatever it is.
 */
int vargo_read_report(struct vargo_ep *ep, const struct argo_kmsg *msg,
		      u16 src_domid)
{
	__le32 error;

	if (msg->type != VIRTIO_ARGO_RELAY_REPORT_TYPE ||
	    msg->src_domid != src_domid || msg->src_aport != ep->peer_port ||
	    msg->len != VIRTIO_ARGO_RELAY_REPORT_SIZE)
		return 0;
	argo_kmsg_copy(ep->ring, msg, 0, &error, sizeof(error));
	vargo_stat_add(ep, VARGO_ST_UNDELIVERABLE, 1);
	return vargo_errno_of(le32_to_cpu(error));
}

/* ---- sysfs: the counters, in an "argo" folder of the device -------------- */

ssize_t vargo_stat_show(struct vargo_ep *ep, enum vargo_stat st, char *buf)
{
	return sysfs_emit(buf, "%llu\n", (u64)atomic64_read(&ep->stats[st]));
}

#define VARGO_STAT_ATTR(_name, _st)					\
static ssize_t _name##_show(struct device *d,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return vargo_stat_show(vargo_ep_of_device(d), _st, buf);	\
}									\
static DEVICE_ATTR_RO(_name)

VARGO_STAT_ATTR(sendv_ctrl, VARGO_ST_SENDV_CTRL);
VARGO_STAT_ATTR(sendv_buf, VARGO_ST_SENDV_BUF);
VARGO_STAT_ATTR(eagain, VARGO_ST_EAGAIN);
VARGO_STAT_ATTR(notify, VARGO_ST_NOTIFY);
VARGO_STAT_ATTR(chains, VARGO_ST_CHAINS);
VARGO_STAT_ATTR(completions, VARGO_ST_COMPLETIONS);
VARGO_STAT_ATTR(fragments_out, VARGO_ST_FRAGS_OUT);
VARGO_STAT_ATTR(fragments_in, VARGO_ST_FRAGS_IN);
VARGO_STAT_ATTR(bytes_out, VARGO_ST_BYTES_OUT);
VARGO_STAT_ATTR(bytes_in, VARGO_ST_BYTES_IN);
VARGO_STAT_ATTR(failed, VARGO_ST_FAILED);
VARGO_STAT_ATTR(errors, VARGO_ST_ERRORS);
VARGO_STAT_ATTR(dropped, VARGO_ST_DROPPED);
VARGO_STAT_ATTR(requests, VARGO_ST_CTRL);
VARGO_STAT_ATTR(timeouts, VARGO_ST_TIMEOUTS);
VARGO_STAT_ATTR(events, VARGO_ST_EVENTS);
VARGO_STAT_ATTR(undeliverable, VARGO_ST_UNDELIVERABLE);

static struct attribute *vargo_stats_attrs[] = {
	&dev_attr_sendv_ctrl.attr,
	&dev_attr_sendv_buf.attr,
	&dev_attr_eagain.attr,
	&dev_attr_notify.attr,
	&dev_attr_chains.attr,
	&dev_attr_completions.attr,
	&dev_attr_fragments_out.attr,
	&dev_attr_fragments_in.attr,
	&dev_attr_bytes_out.attr,
	&dev_attr_bytes_in.attr,
	&dev_attr_failed.attr,
	&dev_attr_errors.attr,
	&dev_attr_dropped.attr,
	&dev_attr_requests.attr,
	&dev_attr_timeouts.attr,
	&dev_attr_events.attr,
	&dev_attr_undeliverable.attr,
	NULL,
};

static const struct attribute_group vargo_stats_attr_group = {
	.name = "argo",
	.attrs = vargo_stats_attrs,
};

const struct attribute_group *vargo_stats_group(void)
{
	return &vargo_stats_attr_group;
}
