/* SPDX-License-Identifier: MIT */
/*
 * One virtio device: the virtio-msg transport's device side
 * (docs/virtio-argo.md §3-4) on top of a vhost-user back end.
 *
 * Set-up apart from the data path: device_backend_poll() connects and
 * learns the back end (features, configuration, queues); DRIVER_OK starts
 * it (features, shadow memory, rings); BUF chains then go from the device's
 * Argo ring into shadow slots and onto the shadow rings, and come back from
 * the used rings as BUF responses. A reset, a queue reset, an ATTACH or a
 * DETACH first waits for the chains the back end holds (quiesce), because
 * their memory is the back end's until it returns them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev.h"

/* Device status bits (virtio). */
#define S_ACKNOWLEDGE 1u
#define S_DRIVER      2u
#define S_DRIVER_OK   4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u
#define S_FAILED      128u

/* Feature bits. */
#define F_BLK_SIZE_MAX   1
#define F_BLK_SEG_MAX    2
#define F_BLK_MQ         12
#define F_BLK_CONFIG_WCE 11
#define F_RING_INDIRECT  28
#define F_RING_EVENT_IDX 29
#define F_VERSION_1      32
#define F_RING_RESET     40
#define BIT(n)           (1ull << (n))
#define DEVICE_BITS      0x00FFFFFFull /* device-type specific: 0-23 */

#define BLK_CONFIG_SIZE  60u /* virtio_blk_config up to write_zeroes_may_unmap */
#define BLK_SIZE_MAX     8   /* config offsets */
#define BLK_SEG_MAX      12
#define BLK_WCE          32
#define BLK_NUM_QUEUES   34
#define FS_CONFIG_SIZE   40u /* tag[36], num_request_queues */

#define BLK_S_IOERR      1
#define FUSE_EIO         5

static void queue_stop(struct device *d, uint32_t qi);
static bool quiet(const struct device *d);
static void call_ready(struct watch *w, uint32_t events);
static void backend_hup(struct watch *w, uint32_t events);
static void finish_quiesce(struct device *d, bool timed_out);

static bool same_addr(const xen_argo_addr_t *a, const xen_argo_addr_t *b)
{
	return a->domain_id == b->domain_id && a->aport == b->aport;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return vmsg_le32(p, 0);
}

static void dlog(const struct device *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dlog(const struct device *d, int level, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vdev_log(level, "device %s (%u): %s", d->cfg->name, d->cfg->number, msg);
}

bool device_ready(const struct device *d)
{
	return d->ever_up;
}

/* ---- answers ---- */

static void driver_gone(struct device *d, int err);

static void reply(struct device *d, const xen_argo_addr_t *dst, struct vmsg *r)
{
	int rc;

	r->dev_num = (r->type & VIRTIO_ARGO_TYPE_BUS) ? 0 : d->cfg->number;
	rc = bus_reply(d->bus, d->port, dst, r, &d->out_head, &d->out_tail, &d->out_count);
	if (rc == 0) {
		d->c.msgs_out++;
		return;
	}
	if (d->attached && same_addr(dst, &d->driver) && (rc == -ECONNREFUSED || rc == -ESRCH))
		driver_gone(d, rc);
}

static void answer(struct device *d, const xen_argo_addr_t *dst, const struct vmsg *req,
                   struct vmsg *r)
{
	r->type = (uint8_t)(req->type | VIRTIO_ARGO_TYPE_RESPONSE);
	r->msg_id = req->msg_id;
	r->token = req->token;
	reply(d, dst, r);
}

static void refuse(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m, int reason)
{
	d->c.refused[reason]++;
	dlog(d, 2, "refused %s from %u:%#x: %s", vmsg_name(m->type, m->msg_id), src->domain_id,
	     src->aport, vmsg_reason_name(reason));
	bus_error(d->bus, d->port, src, d->cfg->number, m->type, m->msg_id, m->token, reason, 0,
	          &d->err_window_ms, &d->err_count, &d->c);
}

/* ---- the back end ---- */

static int backend_learn(struct device *d)
{
	const struct vdev_device_config *cfg = d->cfg;
	uint64_t f = d->vhu.features;
	uint32_t nq;
	int rc;

	if (!(f & BIT(F_VERSION_1)) || !(f & BIT(F_RING_INDIRECT))) {
		snprintf(d->backend_why, sizeof(d->backend_why),
		         "back end offers %s%s: argo-vdevd needs both",
		         f & BIT(F_VERSION_1) ? "" : "no VIRTIO_F_VERSION_1 ",
		         f & BIT(F_RING_INDIRECT) ? "" : "no VIRTIO_RING_F_INDIRECT_DESC");
		return -EPROTO;
	}
	memset(d->config, 0, sizeof(d->config));
	d->offered = (f & DEVICE_BITS) | BIT(F_VERSION_1) | BIT(F_RING_INDIRECT) |
	             BIT(F_RING_EVENT_IDX) | BIT(F_RING_RESET);
	if (cfg->type == VDEV_BLK) {
		uint32_t seg_max, size_max;

		rc = vhu_get_config(&d->vhu, 0, d->config, BLK_CONFIG_SIZE);
		if (rc) {
			snprintf(d->backend_why, sizeof(d->backend_why),
			         "cannot read the back end's configuration: %s", strerror(-rc));
			return rc;
		}
		d->config_size = BLK_CONFIG_SIZE;
		nq = 1;
		if ((f & BIT(F_BLK_MQ)) && d->config[BLK_NUM_QUEUES])
			nq = d->config[BLK_NUM_QUEUES] | (uint32_t)d->config[BLK_NUM_QUEUES + 1]
			                                     << 8;
		/* A request must fit one chain: seg_max buffers of size_max
		 * bytes, plus a header and a status (docs §3, Features). */
		seg_max = cfg->max_segs - 2;
		if ((f & BIT(F_BLK_SEG_MAX)) && get_le32(d->config + BLK_SEG_MAX) &&
		    get_le32(d->config + BLK_SEG_MAX) < seg_max)
			seg_max = get_le32(d->config + BLK_SEG_MAX);
		size_max = (cfg->max_chain - 4096) / seg_max / 4096 * 4096;
		if (size_max < 4096) {
			seg_max = (cfg->max_chain - 4096) / 4096;
			size_max = 4096;
		}
		if ((f & BIT(F_BLK_SIZE_MAX)) && get_le32(d->config + BLK_SIZE_MAX) &&
		    get_le32(d->config + BLK_SIZE_MAX) < size_max)
			size_max = get_le32(d->config + BLK_SIZE_MAX);
		put_le32(d->config + BLK_SEG_MAX, seg_max);
		put_le32(d->config + BLK_SIZE_MAX, size_max);
		d->offered |= BIT(F_BLK_SEG_MAX) | BIT(F_BLK_SIZE_MAX);
	} else {
		/* virtio-fs: the tag and queue count are the front end's to
		 * give (virtiofsd has no configuration space). */
		memcpy(d->config, cfg->tag, strlen(cfg->tag));
		put_le32(d->config + 36, cfg->request_queues);
		d->config_size = FS_CONFIG_SIZE;
		nq = 1 + cfg->request_queues;
	}
	if (d->vhu.queue_num && nq > d->vhu.queue_num) {
		snprintf(d->backend_why, sizeof(d->backend_why),
		         "back end has %u queues, the device needs %u", d->vhu.queue_num, nq);
		return -EPROTO;
	}
	if (nq > VDEV_MAX_QUEUES)
		nq = VDEV_MAX_QUEUES;
	d->nqueues = nq;
	return 0;
}

static void backend_connect(struct device *d)
{
	int rc = vhu_connect(&d->vhu, d->cfg->socket);
	char why[sizeof(d->backend_why)];

	if (rc) {
		snprintf(why, sizeof(why), "cannot connect to %s: %s", d->cfg->socket,
		         strerror(-rc));
		goto fail;
	}
	d->vhu.timeout_ms = d->cfg_all->reset_timeout_ms;
	rc = vhu_handshake(&d->vhu);
	if (rc) {
		snprintf(why, sizeof(why), "vhost-user handshake with %s failed: %s",
		         d->cfg->socket, strerror(-rc));
		goto fail;
	}
	d->backend_why[0] = 0;
	rc = backend_learn(d);
	if (rc) {
		snprintf(why, sizeof(why), "%s", d->backend_why);
		goto fail;
	}
	/* A new connection gets new shadow memory (vring.c). */
	shadow_destroy(&d->shadow);
	rc = shadow_create(&d->shadow, d->nqueues, d->cfg->queue_size, d->cfg->max_segs,
	                   d->cfg->max_chain);
	if (rc) {
		snprintf(why, sizeof(why), "shadow memory: %s", strerror(-rc));
		goto fail;
	}
	d->backend_watch = vdev_watch(d->vhu.fd, EPOLLIN | EPOLLRDHUP, backend_hup, d);
	d->backend_up = true;
	d->backend_why[0] = 0;
	d->c.backend_connects++;
	dlog(d, 0, "back end %s connected: features %#llx, %u queue(s)", d->cfg->socket,
	     (unsigned long long)d->vhu.features, d->nqueues);
	if (!d->ever_up) {
		d->ever_up = true;
		bus_device_event(d->bus, d, VIRTIO_ARGO_DEVICE_ADDED);
	}
	return;
fail:
	vhu_close(&d->vhu);
	if (strcmp(why, d->backend_why)) { /* log each cause once */
		dlog(d, 0, "%s; retrying every %u ms", why, d->cfg_all->reconnect_ms);
		snprintf(d->backend_why, sizeof(d->backend_why), "%s", why);
	}
}

/* The guest-visible address of shadow memory offset off, for the back end. */
static uint64_t uaddr(const struct device *d, uint64_t off)
{
	return (uint64_t)(uintptr_t)shadow_ptr(&d->shadow, off);
}

static int queue_start(struct device *d, uint32_t qi)
{
	struct vqueue *q = &d->q[qi];
	int rc;

	svring_init(&q->ring, &d->shadow, qi, q->size);
	q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->kick_fd < 0 || q->call_fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = vhu_set_vring_num(&d->vhu, qi, q->size);
	if (!rc)
		rc = vhu_set_vring_base(&d->vhu, qi, 0);
	if (!rc)
		rc = vhu_set_vring_addr(&d->vhu, qi, uaddr(d, q->ring.desc_off),
		                        uaddr(d, q->ring.used_off), uaddr(d, q->ring.avail_off));
	if (!rc)
		rc = vhu_set_vring_fd(&d->vhu, VHU_SET_VRING_KICK, qi, q->kick_fd);
	if (!rc)
		rc = vhu_set_vring_fd(&d->vhu, VHU_SET_VRING_CALL, qi, q->call_fd);
	if (!rc)
		rc = vhu_set_vring_enable(&d->vhu, qi, true);
	if (rc)
		goto fail;
	q->call_watch = vdev_watch(q->call_fd, EPOLLIN, call_ready, d);
	q->started = true;
	q->inflight = 0;
	return 0;
fail:
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->kick_fd = q->call_fd = -1;
	return rc;
}

/* DRIVER_OK: the back end gets the features, the memory and the rings. */
static int backend_start(struct device *d)
{
	uint64_t f;
	uint32_t i;
	int rc;

	if (!d->backend_up)
		return -ENOTCONN;
	/* Device bits as the driver chose them (those the back end offers);
	 * ring features are ours to choose: indirect descriptors only. */
	f = (d->driver_features & d->vhu.features & DEVICE_BITS) | BIT(F_VERSION_1) |
	    BIT(F_RING_INDIRECT) | (d->vhu.features & BIT(VHU_F_PROTOCOL_FEATURES));
	rc = vhu_set_features(&d->vhu, f);
	if (!rc)
		rc = vhu_set_mem_table(&d->vhu, d->shadow.memfd, d->shadow.size,
		                       (uint64_t)(uintptr_t)d->shadow.base);
	for (i = 0; !rc && i < d->nqueues; i++)
		if (d->q[i].enabled)
			rc = queue_start(d, i);
	if (rc) {
		dlog(d, 0, "starting the back end failed: %s", strerror(-rc));
		d->c.backend_errors++;
		return rc;
	}
	d->backend_started = true;
	return 0;
}

static void queue_stop(struct device *d, uint32_t qi)
{
	struct vqueue *q = &d->q[qi];
	uint32_t base;

	if (!q->started)
		return;
	if (d->backend_up)
		vhu_get_vring_base(&d->vhu, qi, &base); /* stops the ring */
	vdev_unwatch(q->call_watch);
	q->call_watch = NULL;
	close(q->kick_fd);
	close(q->call_fd);
	q->kick_fd = q->call_fd = -1;
	q->started = false;
	q->inflight = 0;
}

void device_kick_all(struct device *d)
{
	uint32_t i;

	for (i = 0; i < d->nqueues; i++) {
		struct vqueue *q = &d->q[i];
		uint64_t one = 1;

		if (!q->kick_due || !q->started)
			continue;
		q->kick_due = false;
		/* The back end sleeps on this eventfd; it has the ring's new
		 * idx once it wakes (svring_publish released it). */
		if (write(q->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			dlog(d, 0, "kick: %s", strerror(errno));
	}
}

/* ---- chains ---- */

static void done_push(struct device *d, struct chain *ch)
{
	ch->state = CHAIN_DONE;
	ch->next = NULL;
	if (d->done_tail)
		d->done_tail->next = ch;
	else
		d->done_head = ch;
	d->done_tail = ch;
}

/* Completes ch with the device type's own error: the driver's request
 * fails cleanly instead of waiting for ever. */
static void chain_fail(struct device *d, struct chain *ch)
{
	uint8_t *data = d->shadow.base ? shadow_data(&d->shadow, ch->q, ch->id) : NULL;
	uint8_t *in = data ? data + ch->out_bytes : NULL;

	ch->used_len = 0;
	if (!in)
		; /* no memory to answer from: an empty completion */
	else if (d->cfg->type == VDEV_BLK && ch->in_bytes >= 1) {
		memset(in, 0, ch->in_bytes);
		in[ch->in_bytes - 1] = BLK_S_IOERR; /* the status byte ends the chain */
		ch->used_len = ch->in_bytes;
	} else if (d->cfg->type == VDEV_FS && ch->out_bytes >= 16 && ch->in_bytes >= 16) {
		/* A fuse_out_header {len, error, unique}, unique from the
		 * request's fuse_in_header. */
		put_le32(in, 16);
		put_le32(in + 4, (uint32_t)-FUSE_EIO);
		memcpy(in + 8, data + 8, 8);
		ch->used_len = 16;
	}
	d->c.chains_failed++;
	done_push(d, ch);
}

static void chain_submit(struct device *d, struct chain *ch)
{
	struct vqueue *q = &d->q[ch->q];

	if (ch->failed || !d->backend_up || !q->started) {
		chain_fail(d, ch);
		return;
	}
	svring_publish(&q->ring, &d->shadow, ch->q, ch->id, (uint32_t)ch->n_out + ch->n_in);
	ch->state = CHAIN_BACKEND;
	q->inflight++;
	q->kick_due = true;
	d->c.chains++;
	d->c.chain_out_bytes += ch->out_bytes;
}

int device_buf_target(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m,
                      uint8_t **dst)
{
	const struct vmsg_buf *b = &m->u.buf;
	struct vqueue *q;
	struct chain *ch;
	int why = 0;

	if (m->type & VIRTIO_ARGO_TYPE_RESPONSE)
		why = VIRTIO_ARGO_ERR_TYPE;
	else if (b->dev_num != d->cfg->number)
		why = VIRTIO_ARGO_ERR_DEVICE;
	else if (!d->attached)
		why = VIRTIO_ARGO_ERR_NOT_ATTACHED;
	else if (!same_addr(src, &d->driver))
		why = VIRTIO_ARGO_ERR_BUSY;
	else if (d->status & S_NEEDS_RESET)
		why = VIRTIO_ARGO_ERR_NEEDS_RESET;
	else if (!(d->status & S_DRIVER_OK))
		why = VIRTIO_ARGO_ERR_NOT_READY;
	else if (b->vq >= d->nqueues || !d->q[b->vq].enabled)
		why = VIRTIO_ARGO_ERR_QUEUE;
	else if (b->id >= d->q[b->vq].size)
		why = VIRTIO_ARGO_ERR_ID;
	if (why)
		goto refused;
	q = &d->q[b->vq];
	ch = &q->chains[b->id];
	if (b->offset == 0) {
		uint32_t nseg = (uint32_t)b->n_out + b->n_in;

		if (ch->state != CHAIN_FREE)
			why = VIRTIO_ARGO_ERR_ID_IN_USE;
		else if (nseg > d->cfg->max_segs)
			why = VIRTIO_ARGO_ERR_SEGS;
		else if ((uint64_t)b->total + b->in_bytes > d->cfg->max_chain)
			why = VIRTIO_ARGO_ERR_TOO_LARGE;
		if (why)
			goto refused;
		memset(ch, 0, sizeof(*ch));
		ch->state = CHAIN_FILLING;
		ch->q = b->vq;
		ch->id = b->id;
		ch->token = m->token;
		ch->n_out = b->n_out;
		ch->n_in = b->n_in;
		ch->out_bytes = b->total;
		ch->in_bytes = (uint32_t)b->in_bytes;
		ch->start_us = vdev_now_us();
		/* Without a back end the slot may not exist; the chain then
		 * fails when its last byte is in (chain_submit). */
		if (!d->backend_up)
			ch->failed = true;
		else
			svring_table(&d->shadow, b->vq, b->id, b->seg_len, b->n_out, b->n_in);
	} else {
		if (ch->state != CHAIN_FILLING)
			why = VIRTIO_ARGO_ERR_ID_IN_USE;
		else if (b->offset != ch->received || b->total != ch->out_bytes)
			why = VIRTIO_ARGO_ERR_FRAGMENT;
		if (why)
			goto refused;
	}
	d->c.fragments_in++;
	/* Without shadow memory the bytes are counted but go nowhere. */
	*dst = d->shadow.base ? shadow_data(&d->shadow, b->vq, b->id) + b->offset : NULL;
	return 1;
refused:
	refuse(d, src, m, why);
	return 0;
}

void device_buf_done(struct device *d, const struct vmsg *m)
{
	const struct vmsg_buf *b = &m->u.buf;
	struct chain *ch = &d->q[b->vq].chains[b->id];

	ch->received += b->data_len;
	if (ch->received == ch->out_bytes)
		chain_submit(d, ch);
}

void device_used(struct device *d, uint32_t qi)
{
	struct vqueue *q = &d->q[qi];
	uint32_t id, len;
	uint64_t now = vdev_now_us();

	if (!q->started)
		return;
	while (svring_used(&q->ring, &d->shadow, &id, &len)) {
		struct chain *ch = id < q->size ? &q->chains[id] : NULL;

		if (!ch || ch->state != CHAIN_BACKEND) {
			/* The back end returned what we never gave it. */
			d->c.backend_errors++;
			dlog(d, 0, "queue %u: back end used unknown chain %u", qi, id);
			continue;
		}
		q->inflight--;
		if (d->quiesce == Q_RESET || (d->quiesce == Q_RESET_VQ && d->quiesce_vq == qi)) {
			ch->state = CHAIN_FREE; /* its driver reset it: no answer */
			d->c.chains_dropped++;
			continue;
		}
		ch->used_len = len < ch->in_bytes ? len : ch->in_bytes;
		d->c.chain_in_bytes += ch->used_len;
		if (now > ch->start_us) {
			uint64_t us = now - ch->start_us;

			d->c.latency_us_sum += us;
			d->c.latency_samples++;
			if (us > d->c.latency_us_max)
				d->c.latency_us_max = us;
		}
		done_push(d, ch);
	}
	if (d->quiesce != Q_NONE && quiet(d))
		finish_quiesce(d, false);
	device_flush(d);
}

static void call_ready(struct watch *w, uint32_t events)
{
	struct device *d = w->ctx;
	uint64_t n;
	uint32_t i;

	(void)events;
	for (i = 0; i < d->nqueues; i++)
		if (d->q[i].call_watch == w) {
			/* Drain the eventfd before reading the ring, so that a
			 * call raised meanwhile is not lost. */
			if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				dlog(d, 0, "call: %s", strerror(errno));
			device_used(d, i);
		}
}

/* ---- sending to the driver ---- */

/* One completion, in as many messages as the driver's max_rx needs. */
static int send_chain(struct device *d, struct chain *ch)
{
	const uint8_t *in =
	    ch->used_len ? shadow_data(&d->shadow, ch->q, ch->id) + ch->out_bytes : NULL;
	uint32_t room = d->driver_max_rx - VMSG_HDR_SIZE - VMSG_BUF_FIXED;

	do {
		uint8_t hdr[VMSG_HDR_SIZE + VMSG_BUF_FIXED];
		struct vmsg r = {.type = VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE,
		                 .msg_id = VIRTIO_ARGO_BUS_BUF,
		                 .token = ch->token};
		uint32_t n = ch->used_len - ch->sent;
		int rc;

		if (n > room)
			n = room;
		r.u.buf.dev_num = d->cfg->number;
		r.u.buf.vq = ch->q;
		r.u.buf.id = ch->id;
		r.u.buf.offset = ch->sent;
		r.u.buf.data_len = n;
		r.u.buf.total = ch->used_len;
		vmsg_encode(hdr, sizeof(hdr), &r, 0);
		rc = bus_send(d->bus, d->port, &d->driver, hdr, sizeof(hdr),
		              n ? in + ch->sent : NULL, n);
		if (rc == -EAGAIN) {
			d->blocked_need = (uint32_t)sizeof(hdr) + n;
			return rc;
		}
		if (rc)
			return rc;
		d->c.msgs_out++;
		d->c.fragments_out++;
		d->c.bytes_out += sizeof(hdr) + n;
		ch->sent += n;
	} while (ch->sent < ch->used_len);
	return 0;
}

int device_flush(struct device *d)
{
	int rc;

	d->blocked = false;
	while (d->out_head) {
		struct out_msg *o = d->out_head;

		rc = bus_send(d->bus, o->from, &o->dst, o->buf, o->len, NULL, 0);
		if (rc == -EAGAIN) {
			d->blocked = true;
			d->blocked_need = o->len;
			d->c.send_waits++;
			return 0;
		}
		bool to_driver = d->attached && same_addr(&o->dst, &d->driver);

		d->out_head = o->next;
		if (!d->out_head)
			d->out_tail = NULL;
		d->out_count--;
		free(o);
		if (rc == 0)
			d->c.msgs_out++;
		else if (to_driver && (rc == -ECONNREFUSED || rc == -ESRCH)) {
			driver_gone(d, rc);
			return 1;
		}
	}
	while (d->done_head) {
		struct chain *ch = d->done_head;

		rc = d->attached ? send_chain(d, ch) : -ENOTCONN;
		if (rc == -EAGAIN) {
			d->blocked = true;
			d->c.send_waits++;
			return 0;
		}
		d->done_head = ch->next;
		if (!d->done_head)
			d->done_tail = NULL;
		ch->state = CHAIN_FREE;
		if (rc == -ECONNREFUSED || rc == -ESRCH) {
			driver_gone(d, rc);
			return 1;
		}
		if (rc)
			d->c.chains_dropped++;
	}
	return 1;
}

/* Drops the completions and messages waiting for the driver: after a reset
 * it must see none of them. */
static void drop_waiting(struct device *d, int vq)
{
	struct chain **pp = &d->done_head, *ch;

	d->done_tail = NULL;
	while ((ch = *pp)) {
		if (vq < 0 || ch->q == (uint16_t)vq) {
			*pp = ch->next;
			ch->state = CHAIN_FREE;
			d->c.chains_dropped++;
		} else {
			d->done_tail = ch;
			pp = &ch->next;
		}
	}
	if (vq < 0) {
		while (d->out_head) {
			struct out_msg *o = d->out_head;

			d->out_head = o->next;
			free(o);
		}
		d->out_tail = NULL;
		d->out_count = 0;
	}
}

/* ---- resets ---- */

static bool quiet(const struct device *d)
{
	uint32_t i;

	for (i = 0; i < d->nqueues; i++)
		if (d->q[i].inflight && (d->quiesce == Q_RESET || d->quiesce_vq == i))
			return false;
	return true;
}

/* Starts a reset of the device (Q_RESET) or of queue vq (Q_RESET_VQ); it
 * completes, and req (if any) is answered, once the back end has returned
 * every chain of what is reset. */
static void begin_quiesce(struct device *d, enum quiesce kind, uint32_t vq, bool detach,
                          const xen_argo_addr_t *src, const struct vmsg *req)
{
	uint32_t i;

	d->quiesce = kind;
	d->quiesce_vq = vq;
	d->quiesce_detach = detach;
	d->quiesce_respond = req != NULL;
	if (req) {
		d->quiesce_req = *req;
		d->quiesce_src = *src;
	}
	d->quiesce_deadline_ms = vdev_now_ms() + d->cfg_all->reset_timeout_ms;
	drop_waiting(d, kind == Q_RESET ? -1 : (int)vq);
	/* Chains still filling have no back end to wait for. */
	for (i = 0; i < d->nqueues; i++) {
		uint32_t id;

		if (kind == Q_RESET_VQ && i != vq)
			continue;
		for (id = 0; d->q[i].chains && id < d->cfg->queue_size; id++)
			if (d->q[i].chains[id].state == CHAIN_FILLING)
				d->q[i].chains[id].state = CHAIN_FREE;
	}
	if (quiet(d))
		finish_quiesce(d, false);
}

static void reset_queue_state(struct device *d, uint32_t qi)
{
	struct vqueue *q = &d->q[qi];
	uint32_t id;

	queue_stop(d, qi);
	q->size = 0;
	q->enabled = false;
	q->desc_addr = q->driver_addr = q->device_addr = 0;
	q->kick_due = false;
	for (id = 0; id < d->cfg->queue_size; id++)
		q->chains[id].state = CHAIN_FREE;
}

static void finish_quiesce(struct device *d, bool timed_out)
{
	enum quiesce kind = d->quiesce;
	uint32_t vq = d->quiesce_vq, i, id;
	struct vmsg r;

	/* Done first, so that what follows cannot finish it a second time. */
	d->quiesce = Q_NONE;
	if (timed_out) {
		/* The chains of what is reset belong to the reset: dropped.
		 * Those of other queues fail with the back end. */
		for (i = 0; i < d->nqueues; i++) {
			if (kind == Q_RESET_VQ && i != vq)
				continue;
			for (id = 0; id < d->cfg->queue_size; id++)
				if (d->q[i].chains[id].state == CHAIN_BACKEND) {
					d->q[i].chains[id].state = CHAIN_FREE;
					d->c.chains_dropped++;
				}
			d->q[i].inflight = 0;
		}
		dlog(d, 0, "the back end kept chains past reset_timeout_ms: dropping it");
		device_backend_lost(d, "reset timed out");
	}
	if (kind == Q_RESET) {
		for (i = 0; i < d->nqueues; i++)
			reset_queue_state(d, i);
		d->status = 0;
		d->driver_features = 0;
		d->bad_features = false;
		d->backend_started = false;
		d->c.resets++;
	} else if (kind == Q_RESET_VQ)
		reset_queue_state(d, vq);
	if (d->quiesce_detach) {
		d->attached = false;
		d->quiesce_detach = false;
		d->c.detaches++;
	}
	if (!d->quiesce_respond)
		return;
	d->quiesce_respond = false;
	memset(&r, 0, sizeof(r));
	switch (d->quiesce_req.msg_id) {
	case VIRTIO_ARGO_MSG_SET_DEVICE_STATUS:
		r.u.u32 = d->status;
		break;
	case VIRTIO_ARGO_BUS_ATTACH:
		r.u.attach.dev_num = d->cfg->number;
		r.u.attach.features = d->transport_features;
		r.u.attach.max_rx = vdev_max_rx(d->cfg->ring_len);
		r.u.attach.max_segs = d->cfg->max_segs;
		r.u.attach.max_chain = d->cfg->max_chain;
		break;
	case VIRTIO_ARGO_BUS_DETACH:
		r.u.attach.dev_num = d->cfg->number;
		break;
	default: /* RESET_VQUEUE: no payload */
		break;
	}
	answer(d, &d->quiesce_src, &d->quiesce_req, &r);
}

static void driver_gone(struct device *d, int err)
{
	if (!d->attached || d->quiesce_detach)
		return;
	dlog(d, 0, "driver %u:%#x gone (%s): resetting", d->driver.domain_id, d->driver.aport,
	     strerror(-err));
	d->c.driver_gone++;
	begin_quiesce(d, Q_RESET, 0, true, NULL, NULL);
}

void device_ring_lost(struct device *d)
{
	driver_gone(d, -ESRCH);
}

void device_backend_lost(struct device *d, const char *why)
{
	uint32_t i, id;

	if (!d->backend_up)
		return;
	dlog(d, 0, "back end lost: %s", why);
	d->c.backend_lost++;
	vdev_unwatch(d->backend_watch);
	d->backend_watch = NULL;
	d->backend_up = false;
	for (i = 0; i < d->nqueues; i++) {
		struct vqueue *q = &d->q[i];

		if (q->started) {
			vdev_unwatch(q->call_watch);
			q->call_watch = NULL;
			close(q->kick_fd);
			close(q->call_fd);
			q->kick_fd = q->call_fd = -1;
			q->started = false;
		}
		q->inflight = 0;
		for (id = 0; q->chains && id < d->cfg->queue_size; id++) {
			struct chain *ch = &q->chains[id];

			/* Chains the back end held fail now, those still
			 * filling when their last byte is in. */
			if (ch->state == CHAIN_BACKEND) {
				if (d->quiesce == Q_RESET ||
				    (d->quiesce == Q_RESET_VQ && d->quiesce_vq == i))
					ch->state = CHAIN_FREE;
				else
					chain_fail(d, ch);
			} else if (ch->state == CHAIN_FILLING)
				ch->failed = true;
		}
	}
	vhu_close(&d->vhu);
	d->backend_started = false;
	d->backend_retry_ms = vdev_now_ms() + d->cfg_all->reconnect_ms;
	/* virtiofsd's state (inodes, open files) died with it: the driver
	 * must start again. A block device just goes on once it is back. */
	if (d->cfg->type == VDEV_FS && (d->status & S_DRIVER_OK)) {
		struct vmsg e = {.type = 0, .msg_id = VIRTIO_ARGO_MSG_EVENT_CONFIG};

		d->status |= S_NEEDS_RESET;
		e.u.config.status = d->status;
		e.u.config.generation = d->generation;
		if (d->attached)
			reply(d, &d->driver, &e);
	}
	if (d->quiesce != Q_NONE && quiet(d))
		finish_quiesce(d, false);
	device_flush(d);
}

static void backend_hup(struct watch *w, uint32_t events)
{
	struct device *d = w->ctx;
	char c;

	(void)events;
	/* The back end never speaks first on this socket: readable means
	 * closed (or broken). */
	if (recv(w->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0 || errno != EAGAIN)
		device_backend_lost(d, "its socket closed");
}

void device_backend_poll(struct device *d, uint64_t now_ms)
{
	if (d->backend_up || now_ms < d->backend_retry_ms)
		return;
	d->backend_retry_ms = now_ms + d->cfg_all->reconnect_ms;
	backend_connect(d);
	/* A block device that was running resumes on the new back end. */
	if (d->backend_up && d->cfg->type == VDEV_BLK && (d->status & S_DRIVER_OK) &&
	    !(d->status & S_NEEDS_RESET) && d->quiesce == Q_NONE) {
		if (backend_start(d)) {
			d->status |= S_NEEDS_RESET;
			d->c.backend_errors++;
		} else
			dlog(d, 0, "resumed on the new back end");
	}
}

/* ---- transport messages ---- */

static void get_device_info(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	struct vmsg r;

	memset(&r, 0, sizeof(r));
	r.u.info.device_id = d->cfg->type;
	r.u.info.vendor_id = VIRTIO_ARGO_VENDOR_ID;
	if (d->cfg->uuid_set)
		memcpy(r.u.info.uuid, d->cfg->uuid, 16);
	r.u.info.num_feature_blocks = 2;
	r.u.info.config_size = d->config_size;
	r.u.info.max_virtqueues = d->nqueues;
	answer(d, src, m, &r);
}

static void set_status(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	uint32_t want = m->u.u32, added;
	struct vmsg r;

	if (want == 0) {
		begin_quiesce(d, Q_RESET, 0, false, src, m);
		return;
	}
	memset(&r, 0, sizeof(r));
	/* Bits are cleared only by a reset; a device that needs one changes
	 * nothing else. */
	if ((d->status & ~want) || (d->status & S_NEEDS_RESET))
		goto out;
	added = want & ~d->status;
	if (added & S_FEATURES_OK) {
		bool ok = !d->bad_features && !(d->driver_features & ~d->offered) &&
		          (d->driver_features & BIT(F_VERSION_1));

		if (!ok) {
			want &= ~(S_FEATURES_OK | S_DRIVER_OK);
			dlog(d, 1, "FEATURES_OK refused: features %#llx, offered %#llx",
			     (unsigned long long)d->driver_features,
			     (unsigned long long)d->offered);
		}
	}
	if ((added & S_DRIVER_OK) && (want & S_DRIVER_OK)) {
		if (!(want & S_FEATURES_OK))
			want &= ~S_DRIVER_OK;
		else if (backend_start(d))
			want |= S_NEEDS_RESET;
	}
	d->status = want;
out:
	r.u.u32 = d->status;
	answer(d, src, m, &r);
}

static void set_vqueue(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	const struct vmsg_vqueue *v = &m->u.vqueue;
	uint32_t state = v->flags & VIRTIO_ARGO_SETVQ_STATE_MASK;
	bool set_size = !(v->flags & VIRTIO_ARGO_SETVQ_SIZE_IGNORE);
	bool set_any = set_size || !(v->flags & VIRTIO_ARGO_SETVQ_DESC_IGNORE) ||
	               !(v->flags & VIRTIO_ARGO_SETVQ_DRIVER_IGNORE) ||
	               !(v->flags & VIRTIO_ARGO_SETVQ_DEVICE_IGNORE);
	struct vmsg r;
	struct vqueue *q;

	memset(&r, 0, sizeof(r));
	/* virtio-msg's no-op cases: the normal empty answer, nothing changed. */
	if (v->index >= d->nqueues || v->reserved || (v->flags & VIRTIO_ARGO_SETVQ_RESERVED) ||
	    state == 3)
		goto out;
	q = &d->q[v->index];
	if (q->enabled && (state == VIRTIO_ARGO_SETVQ_KEEP_DISABLED || set_any))
		goto out;
	if (set_size && (!v->size || v->size > d->cfg->queue_size || (v->size & (v->size - 1))))
		goto out;
	if (state == VIRTIO_ARGO_SETVQ_ENABLE && !(set_size ? v->size : q->size))
		goto out;
	if (set_size)
		q->size = v->size;
	if (!(v->flags & VIRTIO_ARGO_SETVQ_DESC_IGNORE))
		q->desc_addr = v->desc_addr;
	if (!(v->flags & VIRTIO_ARGO_SETVQ_DRIVER_IGNORE))
		q->driver_addr = v->driver_addr;
	if (!(v->flags & VIRTIO_ARGO_SETVQ_DEVICE_IGNORE))
		q->device_addr = v->device_addr;
	if (state == VIRTIO_ARGO_SETVQ_ENABLE && !q->enabled) {
		q->enabled = true;
		/* A queue enabled after DRIVER_OK starts at once. */
		if (d->backend_started && queue_start(d, v->index)) {
			d->status |= S_NEEDS_RESET;
			d->c.backend_errors++;
		}
	}
out:
	answer(d, src, m, &r);
}

static void get_config(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	const struct vmsg_config *c = &m->u.config;
	struct vmsg r;

	if ((uint64_t)c->offset + c->length > d->config_size ||
	    c->length > VIRTIO_ARGO_MAX_CONFIG_CHUNK) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_FIELD);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.u.config.generation = d->generation;
	r.u.config.offset = c->offset;
	r.u.config.length = c->length;
	r.u.config.data = c->length ? d->config + c->offset : NULL;
	answer(d, src, m, &r);
}

static void set_config(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	const struct vmsg_config *c = &m->u.config;
	bool ok = false;
	struct vmsg r;

	if ((uint64_t)c->offset + c->length > d->config_size) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_FIELD);
		return;
	}
	/* Only what the device type lets a driver write: virtio-blk's wce,
	 * when CONFIG_WCE was negotiated. */
	if (c->length == 0)
		ok = true;
	else if ((d->transport_features & VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION) &&
	         c->generation != d->generation)
		ok = false;
	else if (d->cfg->type == VDEV_BLK && c->offset == BLK_WCE && c->length == 1 &&
	         (d->driver_features & BIT(F_BLK_CONFIG_WCE)) && d->backend_up &&
	         vhu_set_config(&d->vhu, BLK_WCE, c->data, 1) == 0) {
		d->config[BLK_WCE] = c->data[0];
		d->generation++;
		ok = true;
	}
	memset(&r, 0, sizeof(r));
	r.u.config.generation = d->generation;
	r.u.config.offset = c->offset;
	r.u.config.length = ok ? c->length : 0;
	r.u.config.data = ok && c->length ? c->data : NULL;
	answer(d, src, m, &r);
}

static void attach(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	struct vmsg r;
	uint32_t err = 0;

	memset(&r, 0, sizeof(r));
	r.u.attach.dev_num = d->cfg->number;
	if (m->u.attach.dev_num != d->cfg->number) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_DEVICE);
		return;
	}
	if (!d->backend_up)
		err = ENODEV;
	else if (m->u.attach.max_rx < VIRTIO_ARGO_MIN_RX)
		err = EINVAL;
	else if (d->attached && !same_addr(src, &d->driver)) {
		/* Busy, unless the old driver's ring is gone. */
		if (bus_ring_exists(d->bus, &d->driver, 0) != 0)
			err = EBUSY;
		else
			d->c.driver_gone++;
	}
	if (err) {
		r.u.attach.status = err;
		answer(d, src, m, &r);
		return;
	}
	d->attached = true;
	d->driver = *src;
	d->driver_max_rx = m->u.attach.max_rx > ARGO_MAX_MESSAGE_PAYLOAD ? ARGO_MAX_MESSAGE_PAYLOAD
	                                                                 : m->u.attach.max_rx;
	d->transport_features = m->u.attach.features & VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION;
	d->last_liveness_ms = vdev_now_ms();
	d->c.attaches++;
	dlog(d, 1, "attached to %u:%#x", src->domain_id, src->aport);
	begin_quiesce(d, Q_RESET, 0, false, src, m);
}

void device_message(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m)
{
	bool bus = m->type & VIRTIO_ARGO_TYPE_BUS;
	struct vmsg r;

	d->c.msgs_in++;
	if (m->type & VIRTIO_ARGO_TYPE_RESPONSE) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_TYPE);
		return;
	}
	if (bus) {
		switch (m->msg_id) {
		case VIRTIO_ARGO_BUS_ATTACH:
			attach(d, src, m);
			return;
		case VIRTIO_ARGO_BUS_DETACH:
			if (m->u.attach.dev_num != d->cfg->number)
				refuse(d, src, m, VIRTIO_ARGO_ERR_DEVICE);
			else if (!d->attached)
				refuse(d, src, m, VIRTIO_ARGO_ERR_NOT_ATTACHED);
			else if (!same_addr(src, &d->driver))
				refuse(d, src, m, VIRTIO_ARGO_ERR_BUSY);
			else
				begin_quiesce(d, Q_RESET, 0, true, src, m);
			return;
		default: /* BUF is handled by the reader; the rest is not for a device port */
			refuse(d, src, m, VIRTIO_ARGO_ERR_TYPE);
			return;
		}
	}
	if (m->dev_num != d->cfg->number) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_DEVICE);
		return;
	}
	if (m->msg_id == VIRTIO_ARGO_MSG_GET_DEVICE_INFO) {
		get_device_info(d, src, m);
		return;
	}
	if (!d->attached) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_NOT_ATTACHED);
		return;
	}
	if (!same_addr(src, &d->driver)) {
		refuse(d, src, m, VIRTIO_ARGO_ERR_BUSY);
		return;
	}
	memset(&r, 0, sizeof(r));
	switch (m->msg_id) {
	case VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES: {
		uint8_t blocks[4 * 62];
		uint32_t i;

		if (m->u.features.num_blocks > 62) {
			refuse(d, src, m, VIRTIO_ARGO_ERR_FIELD);
			return;
		}
		for (i = 0; i < m->u.features.num_blocks; i++) {
			uint64_t b = (uint64_t)m->u.features.block_index + i;

			put_le32(blocks + 4 * i, b < 2 ? (uint32_t)(d->offered >> (32 * b)) : 0);
		}
		r.u.features = m->u.features;
		r.u.features.blocks = blocks;
		answer(d, src, m, &r);
		return;
	}
	case VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES: {
		uint32_t i;

		/* Features are fixed once FEATURES_OK is set. */
		if (!(d->status & S_FEATURES_OK)) {
			for (i = 0; i < m->u.features.num_blocks; i++) {
				uint64_t b = (uint64_t)m->u.features.block_index + i;
				uint32_t v = vmsg_le32(m->u.features.blocks, i);

				if (b < 2) {
					d->driver_features &= ~(0xFFFFFFFFull << (32 * b));
					d->driver_features |= (uint64_t)v << (32 * b);
				} else if (v)
					d->bad_features = true;
			}
		}
		answer(d, src, m, &r);
		return;
	}
	case VIRTIO_ARGO_MSG_GET_CONFIG:
		get_config(d, src, m);
		return;
	case VIRTIO_ARGO_MSG_SET_CONFIG:
		set_config(d, src, m);
		return;
	case VIRTIO_ARGO_MSG_GET_DEVICE_STATUS:
		r.u.u32 = d->status;
		answer(d, src, m, &r);
		return;
	case VIRTIO_ARGO_MSG_SET_DEVICE_STATUS:
		set_status(d, src, m);
		return;
	case VIRTIO_ARGO_MSG_GET_VQUEUE:
		r.u.vqueue.index = m->u.u32;
		if (m->u.u32 < d->nqueues) {
			const struct vqueue *q = &d->q[m->u.u32];

			r.u.vqueue.max_size = d->cfg->queue_size;
			r.u.vqueue.cur_size = q->size;
			r.u.vqueue.flags = q->enabled ? VIRTIO_ARGO_VQ_ENABLED : 0;
			r.u.vqueue.desc_addr = q->desc_addr;
			r.u.vqueue.driver_addr = q->driver_addr;
			r.u.vqueue.device_addr = q->device_addr;
		}
		answer(d, src, m, &r);
		return;
	case VIRTIO_ARGO_MSG_SET_VQUEUE:
		set_vqueue(d, src, m);
		return;
	case VIRTIO_ARGO_MSG_RESET_VQUEUE:
		if (m->u.u32 < d->nqueues && (d->driver_features & BIT(F_RING_RESET)) &&
		    (d->status & S_FEATURES_OK))
			begin_quiesce(d, Q_RESET_VQ, m->u.u32, false, src, m);
		else
			answer(d, src, m, &r);
		return;
	case VIRTIO_ARGO_MSG_GET_SHM:
		r.u.shm.shmid = m->u.u32;
		answer(d, src, m, &r);
		return;
	case VIRTIO_ARGO_MSG_EVENT_AVAIL:
		return; /* BUF carries notifications on this bus */
	default:
		refuse(d, src, m, VIRTIO_ARGO_ERR_TYPE);
		return;
	}
}

void device_tick(struct device *d, uint64_t now_ms)
{
	if (d->quiesce != Q_NONE) {
		if (quiet(d))
			finish_quiesce(d, false);
		else if (now_ms >= d->quiesce_deadline_ms)
			finish_quiesce(d, true);
	}
	device_backend_poll(d, now_ms);
	/* Once a second, is the driver still there? A ring that went away
	 * (its domain died) frees the device. While we wait for room in that
	 * ring the check asks for the room again, so the wait goes on. */
	if (d->attached && d->quiesce == Q_NONE && now_ms - d->last_liveness_ms >= 1000) {
		int rc;

		d->last_liveness_ms = now_ms;
		rc = bus_ring_exists(d->bus, &d->driver, d->blocked ? d->blocked_need : 0);
		if (rc == 0)
			driver_gone(d, -ECONNREFUSED);
		else if (rc > 0 && d->blocked)
			device_flush(d);
	}
}

int device_init(struct device *d, struct bus *bus, const struct vdev_device_config *cfg)
{
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->cfg_all = bus->cfg;
	d->cfg = cfg;
	d->bus = bus;
	d->vhu.fd = -1;
	d->shadow.memfd = -1;
	d->generation = 1;
	d->port = VIRTIO_ARGO_DEVICE_PORT(bus->cfg->bus_port, cfg->number);
	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		d->q[i].kick_fd = d->q[i].call_fd = -1;
		d->q[i].chains = calloc(cfg->queue_size, sizeof(struct chain));
		if (!d->q[i].chains)
			return -ENOMEM;
	}
	return 0;
}

void device_fini(struct device *d)
{
	uint32_t i;

	for (i = 0; i < d->nqueues; i++)
		queue_stop(d, i);
	if (d->backend_watch)
		vdev_unwatch(d->backend_watch);
	vhu_close(&d->vhu);
	shadow_destroy(&d->shadow);
	drop_waiting(d, -1);
	for (i = 0; i < VDEV_MAX_QUEUES; i++)
		free(d->q[i].chains);
}
