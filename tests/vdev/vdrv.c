/* SPDX-License-Identifier: MIT */
/*
 * vdrv: the driver side of virtio-argo in user space (vdrv.h). Every
 * message read is kept, decoded, in its ring's queue until someone takes
 * it: a call takes its response (or the ERROR about it), vdrv_wait_done
 * takes BUF responses, vdrv_next_event the rest. Nothing is dropped behind
 * a test's back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vdrv.h"

struct partial {
	struct partial *next;
	uint16_t dev_num, vq, id, token;
	uint32_t used_len, got;
	unsigned int fragments;
	uint8_t *data;
};

static struct partial *partials; /* one test process, few devices: one list */
static struct vdrv_msg *held;    /* the message behind the last answer given out */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msg_free(struct vdrv_msg *m)
{
	if (m) {
		free(m->buf);
		free(m);
	}
}

static void hold(struct vdrv_msg *m)
{
	msg_free(held);
	held = m;
}

int vdrv_open(struct vdrv *drv, const char *uri, argo_domid_t bus_domid, uint32_t bus_port,
              uint32_t ring_len)
{
	xen_argo_register_ring_t reg = {
	    .aport = VDRV_PORT_BASE, .partner_id = bus_domid, .len = ring_len};
	int rc;

	memset(drv, 0, sizeof(*drv));
	drv->bus_domid = bus_domid;
	drv->bus_port = bus_port;
	drv->timeout_ms = 5000;
	drv->next_token = 1;
	rc = argo_open(uri, &drv->fabric);
	if (rc)
		return rc;
	drv->domid = argo_domid(drv->fabric);
	drv->bus.port = VDRV_PORT_BASE;
	rc = argo_register_ring(drv->fabric, &reg, 0, &drv->bus.ring);
	if (rc) {
		argo_close(drv->fabric);
		drv->fabric = NULL;
	}
	return rc;
}

static void ring_drop(struct vdrv_ring *r)
{
	while (r->head) {
		struct vdrv_msg *m = r->head;

		r->head = m->next;
		msg_free(m);
	}
	r->tail = NULL;
}

void vdrv_close(struct vdrv *drv)
{
	ring_drop(&drv->bus);
	if (drv->fabric)
		argo_close(drv->fabric);
	drv->fabric = NULL;
	hold(NULL);
	while (partials) {
		struct partial *p = partials;

		partials = p->next;
		free(p->data);
		free(p);
	}
}

int vdrv_dev_open(struct vdrv *drv, struct vdrv_dev *dev, uint16_t dev_num, uint32_t ring_len,
                  uint32_t port_shift)
{
	xen_argo_register_ring_t reg = {.partner_id = drv->bus_domid, .len = ring_len};

	memset(dev, 0, sizeof(*dev));
	dev->drv = drv;
	dev->dev_num = dev_num;
	dev->port = VIRTIO_ARGO_DEVICE_PORT(drv->bus_port, dev_num);
	dev->r.port = VDRV_PORT_BASE + 1 + dev_num + port_shift;
	/* Half the ring (see drain()). */
	dev->max_rx = ((ring_len / 2) & ~15u) - 32;
	reg.aport = dev->r.port;
	return argo_register_ring(drv->fabric, &reg, 0, &dev->r.ring);
}

void vdrv_dev_close(struct vdrv_dev *dev)
{
	ring_drop(&dev->r);
	if (dev->r.ring && dev->drv->fabric)
		argo_unregister_ring(dev->drv->fabric, dev->r.ring);
	dev->r.ring = NULL;
}

static void push(struct vdrv_ring *r, struct vdrv_msg *m)
{
	m->next = NULL;
	if (r->tail)
		r->tail->next = m;
	else
		r->head = m;
	r->tail = m;
}

/* As the daemon does (vdev/bus.c): a notify is owed only when a sender
 * could have found the ring too full for its largest message. */
static bool owe_notify;

static int drain(struct vdrv_ring *r)
{
	uint32_t limit = argo_roundup16(((r->ring->len / 2) & ~15u) - 32) + 32;
	int n = 0;

	for (;;) {
		struct vdrv_msg *m;
		ssize_t len;

		if (r->ring->len - argo_ring_used(r->ring->shared, r->ring->len) < limit)
			owe_notify = true;
		len = argo_peek(r->ring, NULL, NULL);

		if (len < 0)
			return n;
		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		m->buf = malloc(len ? (size_t)len : 1);
		if (!m->buf) {
			free(m);
			return -ENOMEM;
		}
		len = argo_recv(r->ring, &m->src, &m->message_type, m->buf, (size_t)len);
		if (len < 0) {
			msg_free(m);
			return (int)len;
		}
		m->len = (size_t)len;
		if (m->message_type != VIRTIO_ARGO_MSGTYPE ||
		    vmsg_decode(m->buf, m->len, &m->m, NULL))
			m->m.type = 0xFF;
		push(r, m);
		n++;
	}
}

int vdrv_pump(struct vdrv *drv, struct vdrv_dev **devs, unsigned int ndevs, int timeout_ms)
{
	struct pollfd p = {.fd = argo_event_fd(drv->fabric), .events = POLLIN};
	unsigned int i;
	int n;

	argo_event_clear(drv->fabric);
	n = drain(&drv->bus);
	for (i = 0; i < ndevs; i++)
		if (devs[i] && devs[i]->r.ring)
			n += drain(&devs[i]->r);
	if (n == 0 && timeout_ms > 0) {
		poll(&p, 1, timeout_ms);
		argo_event_clear(drv->fabric);
		n = drain(&drv->bus);
		for (i = 0; i < ndevs; i++)
			if (devs[i] && devs[i]->r.ring)
				n += drain(&devs[i]->r);
	}
	/* Room for a device that waits on our rings. */
	if (owe_notify) {
		owe_notify = false;
		argo_notify(drv->fabric, NULL);
		drv->notify_calls++;
	}
	return n;
}

int vdrv_send_raw(struct vdrv *drv, struct vdrv_ring *r, uint32_t port, const void *buf, size_t len,
                  const void *data, size_t dlen, uint32_t message_type)
{
	xen_argo_send_addr_t a = {.src = {.aport = r->port, .domain_id = XEN_ARGO_DOMID_ANY},
	                          .dst = {.aport = port, .domain_id = drv->bus_domid}};
	struct iovec iov[2] = {{(void *)buf, len}, {(void *)data, dlen}};
	ssize_t n = argo_sendv(drv->fabric, &a, iov, dlen ? 2 : 1, message_type);

	drv->sendv_calls++;
	return n < 0 ? (int)n : 0;
}

/* Sends m from ring r to port, retrying while the device's ring is full. */
static int send_msg(struct vdrv *drv, struct vdrv_ring *r, uint32_t port, struct vmsg *m,
                    const void *data, size_t dlen)
{
	uint8_t buf[65536];
	ssize_t len = vmsg_encode(buf, sizeof(buf), m, 0);
	int64_t deadline = now_ms() + drv->timeout_ms;
	int rc;

	if (len < 0)
		return (int)len;
	for (;;) {
		rc = vdrv_send_raw(drv, r, port, buf, (size_t)len, data, dlen, VIRTIO_ARGO_MSGTYPE);
		/* -ECONNREFUSED: the device side has not registered its ring
		 * for our domain yet (it does within 100 ms of our domain's
		 * birth, docs/virtio-argo.md §1): retry, as for a full ring. */
		if ((rc != -EAGAIN && rc != -ECONNREFUSED) || now_ms() > deadline)
			return rc;
		/* The fabric wakes us when the room is there; meanwhile keep
		 * our own rings drained so that the device is not stuck on us. */
		{
			struct pollfd p = {.fd = argo_event_fd(drv->fabric), .events = POLLIN};

			poll(&p, 1, 50);
		}
	}
}

/* Takes from r the first message for which want() says yes. */
static struct vdrv_msg *take(struct vdrv_ring *r, bool (*want)(const struct vdrv_msg *, void *),
                             void *ctx)
{
	struct vdrv_msg **pp, *m;

	for (pp = &r->head; (m = *pp); pp = &m->next) {
		if (!want(m, ctx))
			continue;
		*pp = m->next;
		if (r->tail == m) {
			struct vdrv_msg *t = r->head;

			while (t && t->next)
				t = t->next;
			r->tail = t;
		}
		return m;
	}
	return NULL;
}

struct call_ctx {
	uint8_t msg_id;
	uint16_t token;
};

static bool is_answer(const struct vdrv_msg *m, void *ctx)
{
	const struct call_ctx *c = ctx;

	if (m->m.type == 0xFF)
		return false;
	if ((m->m.type & VIRTIO_ARGO_TYPE_RESPONSE) && m->m.msg_id == c->msg_id &&
	    m->m.token == c->token)
		return true;
	return m->m.msg_id == VIRTIO_ARGO_BUS_ERROR && (m->m.type & VIRTIO_ARGO_TYPE_BUS) &&
	       m->m.u.error.bad_msg_id == c->msg_id && m->m.u.error.bad_token == c->token;
}

static int call(struct vdrv *drv, struct vdrv_ring *r, struct vdrv_dev *dev, uint32_t port,
                struct vmsg *req, struct vmsg *resp)
{
	struct call_ctx c = {.msg_id = req->msg_id};
	int64_t deadline;
	int rc;

	if (!req->token)
		req->token = drv->next_token++;
	if (!req->token) /* 0 means "pick one" */
		req->token = drv->next_token++;
	c.token = req->token;
	rc = send_msg(drv, r, port, req, NULL, 0);
	if (rc)
		return rc;
	deadline = now_ms() + drv->timeout_ms;
	for (;;) {
		struct vdrv_msg *m = take(r, is_answer, &c);
		struct vdrv_dev *devs[1] = {dev};
		int64_t left;

		if (m) {
			hold(m);
			*resp = m->m;
			if (m->m.msg_id == VIRTIO_ARGO_BUS_ERROR &&
			    !(m->m.type & VIRTIO_ARGO_TYPE_RESPONSE)) {
				if (dev) {
					dev->has_error = true;
					dev->last_error.dev_num = m->m.u.error.dev_num;
					dev->last_error.bad_type = m->m.u.error.bad_type;
					dev->last_error.bad_msg_id = m->m.u.error.bad_msg_id;
					dev->last_error.bad_token = m->m.u.error.bad_token;
					dev->last_error.error = m->m.u.error.error;
					dev->last_error.reason = m->m.u.error.reason;
				}
				return -EREMOTEIO;
			}
			return 0;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		vdrv_pump(drv, devs, dev ? 1 : 0, (int)(left > 100 ? 100 : left));
	}
}

int vdrv_bus_call(struct vdrv *drv, struct vmsg *req, struct vmsg *resp)
{
	return call(drv, &drv->bus, NULL, drv->bus_port, req, resp);
}

int vdrv_call(struct vdrv_dev *dev, struct vmsg *req, struct vmsg *resp)
{
	if (!(req->type & VIRTIO_ARGO_TYPE_BUS))
		req->dev_num = dev->dev_num;
	dev->has_error = false;
	return call(dev->drv, &dev->r, dev, dev->port, req, resp);
}

static bool is_event(const struct vdrv_msg *m, void *ctx)
{
	(void)ctx;
	return !(m->m.type == (VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE) &&
	         m->m.msg_id == VIRTIO_ARGO_BUS_BUF);
}

int vdrv_next_event(struct vdrv_dev *dev, struct vmsg *out, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct vdrv_msg *m = take(&dev->r, is_event, NULL);
		struct vdrv_dev *devs[1] = {dev};
		int64_t left;

		if (m) {
			hold(m);
			*out = m->m;
			return 0;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		vdrv_pump(dev->drv, devs, 1, (int)(left > 100 ? 100 : left));
	}
}

static bool is_error(const struct vdrv_msg *m, void *ctx)
{
	uint32_t token = *(uint32_t *)ctx;

	return m->m.type == VIRTIO_ARGO_TYPE_BUS && m->m.msg_id == VIRTIO_ARGO_BUS_ERROR &&
	       (token == 0xFFFFFFFFu || m->m.u.error.bad_token == token);
}

int vdrv_wait_error(struct vdrv *drv, struct vdrv_dev *dev, uint32_t token,
                    struct virtio_argo_error *e, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct vdrv_msg *m = take(dev ? &dev->r : &drv->bus, is_error, &token);
		struct vdrv_dev *devs[1] = {dev};
		int64_t left;

		if (m) {
			e->dev_num = m->m.u.error.dev_num;
			e->bad_type = m->m.u.error.bad_type;
			e->bad_msg_id = m->m.u.error.bad_msg_id;
			e->bad_token = m->m.u.error.bad_token;
			e->error = m->m.u.error.error;
			e->reason = m->m.u.error.reason;
			msg_free(m);
			return 0;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		vdrv_pump(drv, devs, dev ? 1 : 0, (int)(left > 100 ? 100 : left));
	}
}

void vdrv_flush(struct vdrv_dev *dev)
{
	struct vdrv_dev *devs[1] = {dev};

	while (vdrv_pump(dev->drv, devs, 1, 0) > 0)
		;
	ring_drop(&dev->r);
	ring_drop(&dev->drv->bus);
	while (partials) {
		struct partial *p = partials;

		partials = p->next;
		free(p->data);
		free(p);
	}
}

/* ---- shortcuts ---- */

static struct vmsg req(uint8_t type, uint8_t id)
{
	struct vmsg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.msg_id = id;
	return m;
}

int vdrv_attach(struct vdrv_dev *dev, uint32_t max_rx, uint32_t features, uint32_t *status)
{
	struct vmsg q = req(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_ATTACH), r;
	int rc;

	q.u.attach.dev_num = dev->dev_num;
	q.u.attach.features = features;
	q.u.attach.max_rx = max_rx ? max_rx : dev->max_rx;
	rc = vdrv_call(dev, &q, &r);
	if (rc)
		return rc;
	*status = r.u.attach.status;
	if (!r.u.attach.status) {
		dev->dev_max_rx = r.u.attach.max_rx;
		dev->max_segs = r.u.attach.max_segs;
		dev->max_chain = r.u.attach.max_chain;
	}
	return 0;
}

int vdrv_set_status(struct vdrv_dev *dev, uint32_t status, uint32_t *result)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS), r;
	int rc;

	q.u.u32 = status;
	rc = vdrv_call(dev, &q, &r);
	if (!rc && result)
		*result = r.u.u32;
	return rc;
}

int vdrv_get_features(struct vdrv_dev *dev, uint64_t *features)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES), r;
	int rc;

	q.u.features.num_blocks = 2;
	rc = vdrv_call(dev, &q, &r);
	if (rc)
		return rc;
	if (r.u.features.num_blocks != 2 || !r.u.features.blocks)
		return -EPROTO;
	*features = vmsg_le32(r.u.features.blocks, 0) | (uint64_t)vmsg_le32(r.u.features.blocks, 1)
	                                                    << 32;
	return 0;
}

int vdrv_set_features(struct vdrv_dev *dev, uint64_t features)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES), r;
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(features >> (8 * i));
	q.u.features.num_blocks = 2;
	q.u.features.blocks = b;
	return vdrv_call(dev, &q, &r);
}

int vdrv_get_config(struct vdrv_dev *dev, uint32_t offset, uint32_t len, uint8_t *buf,
                    uint32_t *generation)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_GET_CONFIG), r;
	int rc;

	q.u.config.offset = offset;
	q.u.config.length = len;
	rc = vdrv_call(dev, &q, &r);
	if (rc)
		return rc;
	if (r.u.config.length != len || r.u.config.offset != offset)
		return -EPROTO;
	if (len)
		memcpy(buf, r.u.config.data, len);
	if (generation)
		*generation = r.u.config.generation;
	return 0;
}

int vdrv_set_vqueue(struct vdrv_dev *dev, uint32_t index, uint32_t size, uint32_t flags)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_SET_VQUEUE), r;

	q.u.vqueue.index = index;
	q.u.vqueue.size = size;
	q.u.vqueue.flags = flags;
	q.u.vqueue.desc_addr = 0x1000ull * (index + 1); /* ours; the device only echoes them */
	q.u.vqueue.driver_addr = 0x2000ull * (index + 1);
	q.u.vqueue.device_addr = 0x3000ull * (index + 1);
	return vdrv_call(dev, &q, &r);
}

int vdrv_get_vqueue(struct vdrv_dev *dev, uint32_t index, struct vmsg_vqueue *vq)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_GET_VQUEUE), r;
	int rc;

	q.u.u32 = index;
	rc = vdrv_call(dev, &q, &r);
	if (!rc)
		*vq = r.u.vqueue;
	return rc;
}

int vdrv_init_device(struct vdrv_dev *dev, uint64_t want, uint32_t nqueues, uint32_t qsize,
                     uint32_t max_rx, uint64_t *negotiated)
{
	struct vmsg q = req(0, VIRTIO_ARGO_MSG_GET_DEVICE_INFO), r;
	uint64_t offered;
	uint32_t st, i;
	int rc;

	rc = vdrv_call(dev, &q, &r);
	if (rc)
		return rc;
	rc = vdrv_attach(dev, max_rx, 0, &st);
	if (rc)
		return rc;
	if (st)
		return -(int)st;
	rc = vdrv_set_status(dev, 1, &st);
	if (!rc)
		rc = vdrv_set_status(dev, 1 | 2, &st);
	if (!rc)
		rc = vdrv_get_features(dev, &offered);
	if (!rc)
		rc = vdrv_set_features(dev, offered & want);
	if (!rc)
		rc = vdrv_set_status(dev, 1 | 2 | 8, &st);
	if (rc)
		return rc;
	if (!(st & 8))
		return -ENOTSUP;
	for (i = 0; i < nqueues; i++) {
		rc = vdrv_set_vqueue(dev, i, qsize, VIRTIO_ARGO_SETVQ_ENABLE);
		if (rc)
			return rc;
	}
	rc = vdrv_set_status(dev, 1 | 2 | 8 | 4, &st);
	if (rc)
		return rc;
	if ((st & (4 | 64)) != 4)
		return -EIO;
	if (negotiated)
		*negotiated = offered & want;
	return 0;
}

/* ---- chains ---- */

int vdrv_submit(struct vdrv_dev *dev, uint16_t vq, uint16_t id, const void *const *out,
                const uint32_t *out_len, uint16_t n_out, const uint32_t *in_len, uint16_t n_in,
                uint32_t frag, uint16_t *token)
{
	struct vdrv *drv = dev->drv;
	uint32_t total = 0, nseg = (uint32_t)n_out + n_in, i, off = 0, room;
	uint8_t *table = malloc(4 * (size_t)nseg + 1), *flat;
	struct vmsg m;
	int rc = 0;

	if (!table)
		return -ENOMEM;
	for (i = 0; i < n_out; i++)
		total += out_len[i];
	for (i = 0; i < nseg; i++) {
		uint32_t v = i < n_out ? out_len[i] : in_len[i - n_out];

		table[4 * i] = (uint8_t)v;
		table[4 * i + 1] = (uint8_t)(v >> 8);
		table[4 * i + 2] = (uint8_t)(v >> 16);
		table[4 * i + 3] = (uint8_t)(v >> 24);
	}
	/* The out buffers end to end, as the frontend copies them. */
	flat = malloc(total ? total : 1);
	if (!flat) {
		free(table);
		return -ENOMEM;
	}
	for (i = 0; i < n_out; i++) {
		memcpy(flat + off, out[i], out_len[i]);
		off += out_len[i];
	}
	memset(&m, 0, sizeof(m));
	m.type = VIRTIO_ARGO_TYPE_BUS;
	m.msg_id = VIRTIO_ARGO_BUS_BUF;
	m.token = drv->next_token++;
	if (token)
		*token = m.token;
	m.u.buf.dev_num = dev->dev_num;
	m.u.buf.vq = vq;
	m.u.buf.id = id;
	m.u.buf.total = total;
	off = 0;
	do {
		uint32_t head = VMSG_HDR_SIZE + VMSG_BUF_FIXED + (off ? 0 : 4 * nseg), n;

		room = (dev->dev_max_rx ? dev->dev_max_rx : 65536) - head;
		if (frag && frag < room)
			room = frag;
		n = total - off < room ? total - off : room;
		m.u.buf.offset = off;
		m.u.buf.data_len = n;
		m.u.buf.n_out = off ? 0 : n_out;
		m.u.buf.n_in = off ? 0 : n_in;
		m.u.buf.seg_len = off ? NULL : table;
		rc = send_msg(drv, &dev->r, dev->port, &m, flat + off, n);
		off += n;
	} while (!rc && off < total);
	free(flat);
	free(table);
	return rc;
}

static bool is_buf(const struct vdrv_msg *m, void *ctx)
{
	(void)ctx;
	return m->m.type == (VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE) &&
	       m->m.msg_id == VIRTIO_ARGO_BUS_BUF;
}

int vdrv_wait_done(struct vdrv_dev *dev, struct vdrv_done *done, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct vdrv_msg *m = take(&dev->r, is_buf, NULL);
		struct vdrv_dev *devs[1] = {dev};
		int64_t left;

		if (m) {
			const struct vmsg_buf *b = &m->m.u.buf;
			struct partial **pp, *p;

			for (pp = &partials; (p = *pp); pp = &p->next)
				if (p->dev_num == b->dev_num && p->vq == b->vq && p->id == b->id)
					break;
			if (!p) {
				if (b->offset) {
					msg_free(m);
					return -EPROTO; /* a later fragment first */
				}
				p = calloc(1, sizeof(*p));
				if (!p)
					return -ENOMEM;
				p->dev_num = b->dev_num;
				p->vq = b->vq;
				p->id = b->id;
				p->token = m->m.token;
				p->used_len = b->total;
				p->data = malloc(b->total ? b->total : 1);
				p->next = partials;
				partials = p;
			}
			if (b->offset != p->got || b->total != p->used_len ||
			    b->dev_num != dev->dev_num) {
				msg_free(m);
				return -EPROTO;
			}
			if (b->data_len)
				memcpy(p->data + p->got, b->data, b->data_len);
			p->got += b->data_len;
			p->fragments++;
			msg_free(m);
			if (p->got == p->used_len) {
				for (pp = &partials; *pp != p; pp = &(*pp)->next)
					;
				*pp = p->next;
				done->vq = p->vq;
				done->id = p->id;
				done->token = p->token;
				done->used_len = p->used_len;
				done->data = p->data;
				done->fragments = p->fragments;
				free(p);
				return 0;
			}
			continue;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		vdrv_pump(dev->drv, devs, 1, (int)(left > 100 ? 100 : left));
	}
}
