/* SPDX-License-Identifier: MIT */
/*
 * The Argo side of argo-vdevd (docs/virtio-argo.md §1-2): the bus port's
 * rings (one per frontend domain) and one ring per device; reading them,
 * the bus messages (HELLO, GET_DEVICES, PING, EVENT_DEVICE), sending with
 * Argo's back-pressure, ERROR events.
 *
 * Messages are read in place: the header and the control part are copied
 * out and decoded first; a BUF's data then goes straight from the ring into
 * its chain's shadow slot, one copy. A device whose driver's ring is full
 * (or that is being reset) is not read: its own ring fills and its driver's
 * sendv gets -EAGAIN, which is Argo's back-pressure doing its job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdev.h"

#define READ_BATCH     64  /* messages per ring per pass: no ring starves the others */
#define BUS_OUT_MAX    64  /* bus answers held while a driver's ring is full */
#define DEVICE_OUT_MAX 256 /* the same per device (it stops reading first) */
#define RXBUF_SIZE     65536

static int ensure_ring(struct bus *b, struct ringslot *slot, struct device *d, uint64_t now_ms);

static bool visible(const struct device *d, argo_domid_t domid)
{
	return device_ready(d) &&
	       (d->cfg->frontend == XEN_ARGO_DOMID_ANY || d->cfg->frontend == domid);
}

static int reason_errno(int reason)
{
	switch (reason) {
	case VIRTIO_ARGO_ERR_SIZE:
		return EMSGSIZE;
	case VIRTIO_ARGO_ERR_UNKNOWN:
		return EOPNOTSUPP;
	case VIRTIO_ARGO_ERR_DEVICE:
		return ENODEV;
	case VIRTIO_ARGO_ERR_NOT_ATTACHED:
		return ENOTCONN;
	case VIRTIO_ARGO_ERR_BUSY:
		return EBUSY;
	case VIRTIO_ARGO_ERR_QUEUE:
		return ENOENT;
	case VIRTIO_ARGO_ERR_ID:
		return ERANGE;
	case VIRTIO_ARGO_ERR_ID_IN_USE:
		return EEXIST;
	case VIRTIO_ARGO_ERR_SEGS:
	case VIRTIO_ARGO_ERR_TOO_LARGE:
		return E2BIG;
	case VIRTIO_ARGO_ERR_NOT_READY:
		return EAGAIN;
	case VIRTIO_ARGO_ERR_FIELD:
		return EINVAL;
	case VIRTIO_ARGO_ERR_NEEDS_RESET:
	case VIRTIO_ARGO_ERR_BACKEND:
		return EIO;
	default:
		return EBADMSG;
	}
}

int bus_send(struct bus *b, uint32_t from_port, const xen_argo_addr_t *dst, const void *buf,
             size_t len, const void *data, size_t dlen)
{
	xen_argo_send_addr_t a = {.src = {.aport = from_port, .domain_id = XEN_ARGO_DOMID_ANY},
	                          .dst = *dst};
	struct iovec iov[2] = {{(void *)buf, len}, {(void *)data, dlen}};
	ssize_t n;

	a.dst.pad = 0;
	n = argo_sendv(b->fabric, &a, iov, dlen ? 2 : 1, VIRTIO_ARGO_MSGTYPE);
	b->c.sendv_calls++;
	return n < 0 ? (int)n : 0;
}

int bus_reply(struct bus *b, uint32_t from_port, const xen_argo_addr_t *dst, const struct vmsg *m,
              struct out_msg **head, struct out_msg **tail, unsigned int *count)
{
	uint8_t buf[VIRTIO_ARGO_MAX_MSG_SIZE];
	ssize_t len = vmsg_encode(buf, sizeof(buf), m, 1);
	struct out_msg *o;
	int rc = -EAGAIN;

	if (len < 0)
		return (int)len;
	/* Behind earlier messages to anyone: keep the order. */
	if (!*head)
		rc = bus_send(b, from_port, dst, buf, (size_t)len, NULL, 0);
	if (rc != -EAGAIN)
		return rc;
	if (*count >= (head == &b->out_head ? BUS_OUT_MAX : DEVICE_OUT_MAX))
		return -ENOBUFS;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->from = from_port;
	o->dst = *dst;
	o->len = (uint16_t)len;
	memcpy(o->buf, buf, (size_t)len);
	if (*tail)
		(*tail)->next = o;
	else
		*head = o;
	*tail = o;
	(*count)++;
	return 0;
}

void bus_error(struct bus *b, uint32_t from_port, const xen_argo_addr_t *src, uint16_t dev_num,
               uint8_t type, uint8_t msg_id, uint16_t token, int reason, int err,
               uint64_t *window_ms, unsigned int *count, struct counters *c)
{
	struct vmsg e = {.type = VIRTIO_ARGO_TYPE_BUS, .msg_id = VIRTIO_ARGO_BUS_ERROR};
	uint8_t buf[64];
	uint64_t now = vdev_now_ms();
	ssize_t len;

	if (now - *window_ms >= 1000) {
		*window_ms = now;
		*count = 0;
	}
	if (*count >= VDEV_ERRORS_PER_SEC) {
		c->errors_suppressed++;
		return;
	}
	(*count)++;
	e.u.error.dev_num = dev_num;
	e.u.error.bad_type = type;
	e.u.error.bad_msg_id = msg_id;
	e.u.error.bad_token = token;
	e.u.error.error = (uint32_t)(err ? err : reason_errno(reason));
	e.u.error.reason = (uint32_t)reason;
	len = vmsg_encode(buf, sizeof(buf), &e, 1);
	/* Best effort: a full ring loses the ERROR, counted. */
	if (len > 0 && bus_send(b, from_port, src, buf, (size_t)len, NULL, 0) == 0)
		c->errors_sent++;
	else
		c->errors_suppressed++;
}

int bus_ring_exists(struct bus *b, const xen_argo_addr_t *addr, uint32_t space)
{
	union {
		xen_argo_ring_data_t rd;
		uint8_t buf[sizeof(xen_argo_ring_data_t) + sizeof(xen_argo_ring_data_ent_t)];
	} u;
	int rc;

	memset(&u, 0, sizeof(u));
	u.rd.nent = 1;
	u.rd.data[0].ring.aport = addr->aport;
	u.rd.data[0].ring.domain_id = addr->domain_id;
	u.rd.data[0].space_required = space;
	rc = argo_notify(b->fabric, &u.rd);
	b->c.notify_calls++;
	if (rc)
		return rc;
	return (u.rd.data[0].flags & XEN_ARGO_RING_EXISTS) ? 1 : 0;
}

void bus_device_event(struct bus *b, struct device *d, uint16_t state)
{
	struct vmsg e = {.type = VIRTIO_ARGO_TYPE_BUS, .msg_id = VIRTIO_ARGO_BUS_EVENT_DEVICE};
	unsigned int i;

	e.u.event_device.number = d->cfg->number;
	e.u.event_device.state = state;
	for (i = 0; i < b->nsubscribers; i++) {
		const xen_argo_addr_t *s = &b->subscribers[i];

		if (d->cfg->frontend != XEN_ARGO_DOMID_ANY && d->cfg->frontend != s->domain_id)
			continue;
		if (bus_reply(b, b->cfg->bus_port, s, &e, &b->out_head, &b->out_tail,
		              &b->out_count) == 0)
			b->c.msgs_out++;
	}
}

/* ---- the bus port ---- */

static void bus_refuse(struct bus *b, const xen_argo_addr_t *src, const struct vmsg *m, int reason)
{
	b->c.refused[reason]++;
	bus_error(b, b->cfg->bus_port, src, VIRTIO_ARGO_DEV_NONE, m->type, m->msg_id, m->token,
	          reason, 0, &b->err_window_ms, &b->err_count, &b->c);
}

static void bus_answer(struct bus *b, const xen_argo_addr_t *src, const struct vmsg *req,
                       struct vmsg *r)
{
	r->type = req->type | VIRTIO_ARGO_TYPE_RESPONSE;
	r->msg_id = req->msg_id;
	r->token = req->token;
	if (bus_reply(b, b->cfg->bus_port, src, r, &b->out_head, &b->out_tail, &b->out_count) == 0)
		b->c.msgs_out++;
}

static void subscribe(struct bus *b, const xen_argo_addr_t *src)
{
	unsigned int i;

	for (i = 0; i < b->nsubscribers; i++)
		if (b->subscribers[i].domain_id == src->domain_id &&
		    b->subscribers[i].aport == src->aport)
			return;
	if (b->nsubscribers < VDEV_MAX_SUBSCRIBERS)
		b->subscribers[b->nsubscribers++] = *src;
}

static void bus_message(struct bus *b, const xen_argo_addr_t *src, const struct vmsg *m)
{
	struct vmsg r;
	unsigned int i;

	b->c.msgs_in++;
	if (!(m->type & VIRTIO_ARGO_TYPE_BUS)) {
		bus_refuse(b, src, m,
		           VIRTIO_ARGO_ERR_DEVICE); /* transport messages go to devices */
		return;
	}
	if (m->type & VIRTIO_ARGO_TYPE_RESPONSE) {
		bus_refuse(b, src, m, VIRTIO_ARGO_ERR_TYPE);
		return;
	}
	memset(&r, 0, sizeof(r));
	switch (m->msg_id) {
	case VIRTIO_ARGO_BUS_PING:
		r.u.u32 = m->u.u32;
		bus_answer(b, src, m, &r);
		return;
	case VIRTIO_ARGO_BUS_HELLO:
		r.u.hello.bus_version = VIRTIO_ARGO_BUS_VERSION;
		r.u.hello.revision = VIRTIO_ARGO_REVISION;
		r.u.hello.features = m->u.hello.features & VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION;
		r.u.hello.max_msg_size = VIRTIO_ARGO_MAX_MSG_SIZE;
		r.u.hello.max_rx = vdev_max_rx(b->cfg->ring_len);
		for (i = 0; i < b->ndevices; i++)
			if (visible(&b->devices[i], src->domain_id))
				r.u.hello.num_devices++;
		if (m->u.hello.bus_version == VIRTIO_ARGO_BUS_VERSION &&
		    m->u.hello.revision == VIRTIO_ARGO_REVISION)
			subscribe(b, src);
		bus_answer(b, src, m, &r);
		return;
	case VIRTIO_ARGO_BUS_GET_DEVICES: {
		uint8_t bitmap[VIRTIO_ARGO_MAX_DEVICES / 8];
		uint32_t off = m->u.devices.offset, want = m->u.devices.count, end, last = 0;
		bool beyond = false;

		memset(bitmap, 0, sizeof(bitmap));
		end = off + want;
		for (i = 0; i < b->ndevices; i++) {
			uint32_t n = b->devices[i].cfg->number;

			if (!visible(&b->devices[i], src->domain_id))
				continue;
			if (n >= off && n < end && n - off < VIRTIO_ARGO_MAX_DEVICES) {
				bitmap[(n - off) / 8] |= (uint8_t)(1u << ((n - off) % 8));
				if (n - off + 1 > last)
					last = n - off + 1;
			} else if (n >= end)
				beyond = true;
		}
		/* The window up to the last present device (trailing absent
		 * ones are left out); next_offset only if something lies past. */
		r.u.devices.offset = (uint16_t)off;
		r.u.devices.count = (uint16_t)last;
		r.u.devices.next_offset = beyond && end <= 0xFFFF ? (uint16_t)end : 0;
		r.u.devices.bitmap = last ? bitmap : NULL;
		bus_answer(b, src, m, &r);
		return;
	}
	default:
		/* EVENT_DEVICE and ERROR are ours to send; device messages go
		 * to device ports. */
		bus_refuse(b, src, m,
		           m->msg_id == VIRTIO_ARGO_BUS_ATTACH ||
		                   m->msg_id == VIRTIO_ARGO_BUS_DETACH ||
		                   m->msg_id == VIRTIO_ARGO_BUS_BUF
		               ? VIRTIO_ARGO_ERR_DEVICE
		               : VIRTIO_ARGO_ERR_TYPE);
		return;
	}
}

/* ---- reading rings ---- */

/* n bytes at offset off of the payload of the message at rx. */
static void ring_copy(const struct argo_ring *r, uint32_t rx, uint32_t off, void *dst, uint32_t n)
{
	uint64_t pos = ((uint64_t)rx + sizeof(struct xen_argo_ring_message_header) + off) % r->len;
	uint32_t first = n < r->len - pos ? n : (uint32_t)(r->len - pos);

	memcpy(dst, r->shared->ring + pos, first);
	if (n > first)
		memcpy((uint8_t *)dst + first, r->shared->ring, n - first);
}

/* Reads up to READ_BATCH messages of slot's ring (of device d, or the bus
 * port when d is NULL). Returns how many it read. */
static int read_ring(struct bus *b, struct ringslot *slot, struct device *d)
{
	struct argo_ring *r = slot->ring;
	struct counters *c = d ? &d->c : &b->c;
	/* A sender can have been refused (and wait for a notify) only while
	 * the ring had less free room than its message needs; our senders'
	 * messages are at most max_rx (devices) or a transport message (bus). */
	uint32_t limit = argo_roundup16(d ? vdev_max_rx(r->len) : VIRTIO_ARGO_MAX_MSG_SIZE) + 32;
	int n;

	for (n = 0; n < READ_BATCH; n++) {
		xen_argo_addr_t src;
		uint32_t type, rx, next, head;
		struct vmsg m;
		int reason;
		ssize_t len;

		if (d && (d->blocked || d->quiesce != Q_NONE))
			break;
		/* Free room only shrinks between our reads: checking before
		 * each one sees the least there was since the last. */
		if (r->len - argo_ring_used(r->shared, r->len) < limit)
			b->notify_due = true;
		rx = __atomic_load_n(&r->shared->rx_ptr, __ATOMIC_RELAXED); /* ours */
		len = argo_ring_read_at(r->shared, r->len, rx, &src, &type, NULL, 0, &next);
		if (len == -EAGAIN)
			break;
		if (len < 0) {
			/* Only the hypervisor writes here: a broken ring is a
			 * fabric bug. Say so and leave the ring alone. */
			vdev_log(0, "ring on port %#x is inconsistent (%s): not read any more",
			         r->aport, strerror((int)-len));
			c->backend_errors++;
			break;
		}
		c->bytes_in += (uint64_t)len;
		if (type != VIRTIO_ARGO_MSGTYPE) {
			c->foreign++;
			goto release;
		}
		/* The control part: the header says how long it is. */
		head = (uint32_t)len < VMSG_HDR_SIZE ? (uint32_t)len : VMSG_HDR_SIZE;
		ring_copy(r, rx, 0, b->rxbuf, head);
		if (head == VMSG_HDR_SIZE) {
			uint32_t msg_size = b->rxbuf[6] | (uint32_t)b->rxbuf[7] << 8;

			if (msg_size > head)
				head = msg_size < (uint32_t)len ? msg_size : (uint32_t)len;
			ring_copy(r, rx, 0, b->rxbuf, head);
		}
		if (vmsg_decode_head(b->rxbuf, head, (size_t)len, &m, &reason)) {
			uint8_t t = head >= 2 ? b->rxbuf[0] : 0, id = head >= 2 ? b->rxbuf[1] : 0;
			uint16_t tok = head >= 6 ? (uint16_t)(b->rxbuf[4] | b->rxbuf[5] << 8) : 0;

			c->refused[reason]++;
			/* Never answer a response or an event. */
			if (!(t & VIRTIO_ARGO_TYPE_RESPONSE) && !(id & VIRTIO_ARGO_ID_EVENT))
				bus_error(b, d ? d->port : b->cfg->bus_port, &src,
				          d ? d->cfg->number : VIRTIO_ARGO_DEV_NONE, t, id, tok,
				          reason, 0, d ? &d->err_window_ms : &b->err_window_ms,
				          d ? &d->err_count : &b->err_count, c);
			goto release;
		}
		if (!d)
			bus_message(b, &src, &m);
		else if ((m.type & VIRTIO_ARGO_TYPE_BUS) && m.msg_id == VIRTIO_ARGO_BUS_BUF &&
		         !(m.type & VIRTIO_ARGO_TYPE_RESPONSE)) {
			uint8_t *dst = NULL;

			d->c.msgs_in++;
			if (device_buf_target(d, &src, &m, &dst)) {
				if (dst && m.u.buf.data_len)
					ring_copy(r, rx, m.msg_size, dst, m.u.buf.data_len);
				device_buf_done(d, &m);
			}
		} else
			device_message(d, &src, &m);
	release:
		argo_ring_release_to(r->shared, next);
	}
	/* A message came through this very ring: it is there. (A handler
	 * may have released it meanwhile: then there is nothing to mark.) */
	if (n && slot->ring && slot->partner != XEN_ARGO_DOMID_ANY)
		slot->heard = true;
	return n;
}

static void flush_bus(struct bus *b)
{
	while (b->out_head) {
		struct out_msg *o = b->out_head;
		int rc = bus_send(b, o->from, &o->dst, o->buf, o->len, NULL, 0);

		if (rc == -EAGAIN)
			return;
		if (rc == 0)
			b->c.msgs_out++;
		else if (rc == -ECONNREFUSED || rc == -ESRCH) {
			unsigned int i;

			/* A subscriber that went away. */
			for (i = 0; i < b->nsubscribers; i++)
				if (b->subscribers[i].domain_id == o->dst.domain_id &&
				    b->subscribers[i].aport == o->dst.aport)
					b->subscribers[i] = b->subscribers[--b->nsubscribers];
		}
		b->out_head = o->next;
		if (!b->out_head)
			b->out_tail = NULL;
		b->out_count--;
		free(o);
	}
}

void bus_poll(struct bus *b)
{
	unsigned int i;
	int progress;

	argo_event_clear(b->fabric);
	do {
		progress = 0;
		for (i = 0; i < b->nrings; i++)
			if (b->rings[i].ring)
				progress += read_ring(b, &b->rings[i], NULL);
		for (i = 0; i < b->ndevices; i++) {
			struct device *d = &b->devices[i];

			if (d->rs.ring)
				progress += read_ring(b, &d->rs, d);
			device_kick_all(d);
		}
		/* What we consumed is room for senders that wait: tell them. */
		if (b->notify_due) {
			b->notify_due = false;
			argo_notify(b->fabric, NULL);
			b->c.notify_calls++;
		}
		flush_bus(b);
		for (i = 0; i < b->ndevices; i++) {
			struct device *d = &b->devices[i];
			bool was = d->blocked;

			if (d->out_head || d->done_head)
				device_flush(d);
			if (was && !d->blocked)
				progress++; /* its ring may be read again */
		}
	} while (progress);
}

void bus_tick(struct bus *b, uint64_t now_ms)
{
	unsigned int i;

	for (i = 0; i < b->nsubscribers;) {
		if (bus_ring_exists(b, &b->subscribers[i], 0) == 0)
			b->subscribers[i] = b->subscribers[--b->nsubscribers];
		else
			i++;
	}
	for (i = 0; i < b->nrings; i++)
		ensure_ring(b, &b->rings[i], NULL, now_ms);
	for (i = 0; i < b->ndevices; i++) {
		ensure_ring(b, &b->devices[i].rs, &b->devices[i], now_ms);
		device_tick(&b->devices[i], now_ms);
	}
	bus_poll(b);
}

/* Registers slot's ring when it is absent; checks that it still exists
 * when it is due (struct ringslot: free when a message came through it,
 * else a FAIL_EXIST probe, backing off while the partner stays silent).
 * Returns 0 or a negative errno that stops the daemon (a configuration the
 * fabric refuses). */
static int ensure_ring(struct bus *b, struct ringslot *slot, struct device *d, uint64_t now_ms)
{
	xen_argo_register_ring_t reg = {
	    .aport = slot->port, .partner_id = slot->partner, .len = slot->len};
	struct counters *c = d ? &d->c : &b->c;
	uint32_t min_ms = b->cfg->ring_check_ms;
	struct argo_ring *ring = NULL;
	int rc;

	if (slot->ring) {
		if (slot->partner == XEN_ARGO_DOMID_ANY || now_ms < slot->next_check_ms)
			return 0;
		c->ring_checks++;
		if (slot->heard) {
			slot->heard = false;
			slot->check_ms = min_ms;
			slot->next_check_ms = now_ms + slot->check_ms;
			return 0;
		}
		c->ring_probes++;
	}
	rc = argo_register_ring(b->fabric, &reg, slot->ring ? XEN_ARGO_REGISTER_FLAG_FAIL_EXIST : 0,
	                        &ring);
	if (rc == -EEXIST && slot->ring) {
		/* Still there; its partner silent: look again, less often. */
		slot->check_ms = 2 * (slot->check_ms ? slot->check_ms : min_ms);
		if (slot->check_ms > RING_CHECK_BACKOFF * min_ms)
			slot->check_ms = RING_CHECK_BACKOFF * min_ms;
		slot->next_check_ms = now_ms + slot->check_ms;
		return 0;
	}
	slot->check_ms = min_ms;
	slot->next_check_ms = now_ms + slot->check_ms;
	slot->heard = false;
	if (slot->ring) {
		/* It vanished with its partner: a new ring (rc 0), or none
		 * until the partner is back (ESRCH). */
		vdev_log(0, "port %#x: ring for domain %u vanished (the domain died)%s", slot->port,
		         slot->partner, rc ? "" : "; registered again");
		c->rings_lost++;
		argo_ring_release(slot->ring);
		slot->ring = NULL;
		if (d)
			device_ring_lost(d);
	}
	if (rc == 0) {
		slot->ring = ring;
		slot->last_err = 0;
		if (slot->partner == XEN_ARGO_DOMID_ANY)
			vdev_log(1, "port %#x: ring registered (any partner, %u bytes)", slot->port,
			         slot->len);
		else
			vdev_log(1, "port %#x: ring registered (partner %u, %u bytes)", slot->port,
			         slot->partner, slot->len);
		return 0;
	}
	if (rc != slot->last_err) {
		slot->last_err = rc;
		if (rc == -ESRCH)
			vdev_log(0, "port %#x: domain %u does not exist yet; waiting for it",
			         slot->port, slot->partner);
		else if (rc == -EPERM && slot->partner == XEN_ARGO_DOMID_ANY)
			vdev_log(0,
			         "port %#x: a ring for any frontend needs wildcard rings "
			         "(Xen: argo=1,mac-permissive=1; sim: argo-simd -m)",
			         slot->port);
		else
			vdev_log(0, "port %#x (partner %u): register_ring: %s", slot->port,
			         slot->partner, argo_strerror(rc));
	}
	return rc == -ESRCH ? 0 : rc;
}

int bus_open(struct bus *b, struct vdev_config *cfg)
{
	unsigned int i, j;
	int rc;

	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->rxbuf = malloc(RXBUF_SIZE);
	if (!b->rxbuf)
		return -ENOMEM;
	rc = argo_open(cfg->fabric, &b->fabric);
	if (rc) {
		vdev_log(0, "cannot open fabric %s: %s", cfg->fabric, argo_open_error());
		return rc;
	}
	b->domid = argo_domid(b->fabric);
	for (i = 0; i < cfg->ndevices; i++) {
		argo_domid_t p = cfg->devices[i].frontend;
		struct ringslot *slot;

		for (j = 0; j < b->nrings && b->rings[j].partner != p; j++)
			;
		if (j < b->nrings)
			continue;
		slot = &b->rings[b->nrings++];
		slot->port = cfg->bus_port;
		slot->partner = p;
		slot->len = cfg->ring_len;
		rc = ensure_ring(b, slot, NULL, vdev_now_ms());
		if (rc)
			return rc;
	}
	for (i = 0; i < cfg->ndevices; i++) {
		struct device *d = &b->devices[i];

		rc = device_init(d, b, &cfg->devices[i]);
		b->ndevices++;
		if (rc)
			return rc;
		d->rs.port = d->port;
		d->rs.partner = cfg->devices[i].frontend;
		d->rs.len = cfg->devices[i].ring_len;
		rc = ensure_ring(b, &d->rs, d, vdev_now_ms());
		if (rc)
			return rc;
		device_backend_poll(d, vdev_now_ms());
	}
	vdev_log(0, "serving %u device(s) as domain %u, bus port %#x", b->ndevices, b->domid,
	         cfg->bus_port);
	return 0;
}

void bus_close(struct bus *b)
{
	unsigned int i;

	for (i = 0; i < b->ndevices; i++)
		if (device_ready(&b->devices[i]))
			bus_device_event(b, &b->devices[i], VIRTIO_ARGO_DEVICE_REMOVED);
	flush_bus(b);
	for (i = 0; i < b->ndevices; i++)
		device_fini(&b->devices[i]);
	while (b->out_head) {
		struct out_msg *o = b->out_head;

		b->out_head = o->next;
		free(o);
	}
	if (b->fabric)
		argo_close(b->fabric);
	free(b->rxbuf);
	memset(b, 0, sizeof(*b));
}
