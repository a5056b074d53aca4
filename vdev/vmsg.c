/* SPDX-License-Identifier: MIT */
/*
 * The strict virtio-argo decoder and its encoder (docs/virtio-argo.md).
 * Every message kind has one row in kinds[]: its fixed payload length and
 * how its variable part is sized; decode() and encode() walk the same row,
 * so that whatever decodes re-encodes to the same bytes (the fuzzer checks).
 */
#include <errno.h>
#include <string.h>

#include "argo/routed.h"
#include "vmsg.h"

/* The kernel driver reads relays' reports by the uapi header's names. */
_Static_assert(VIRTIO_ARGO_RELAY_REPORT_TYPE == ARGO_MSGTYPE_UNDELIVERABLE, "relay report type");
_Static_assert(VIRTIO_ARGO_RELAY_REPORT_SIZE == ARGO_ROUTED_REPORT_SIZE, "relay report size");

#define T_REQ  0
#define T_RESP VIRTIO_ARGO_TYPE_RESPONSE
#define B_REQ  VIRTIO_ARGO_TYPE_BUS
#define B_RESP (VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE)

/* How the payload after the fixed part is sized. */
enum var {
	V_NONE,     /* fixed only */
	V_FEATURES, /* num_blocks le32 */
	V_CONFIG,   /* length bytes */
	V_CONFIG_0, /* length bytes, or none when length is 0 (SET_CONFIG response) */
	V_EVCONFIG, /* none, or length bytes */
	V_BITMAP,   /* (count + 7) / 8 bytes */
	V_BUF,      /* segment table, then data_len bytes outside msg_size */
};

struct kind {
	uint8_t type, id;
	uint8_t fixed;
	enum var var;
	const char *name;
};

static const struct kind kinds[] = {
    {T_REQ, VIRTIO_ARGO_MSG_GET_DEVICE_INFO, 0, V_NONE, "GET_DEVICE_INFO"},
    {T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_INFO, 44, V_NONE, "GET_DEVICE_INFO response"},
    {T_REQ, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES, 8, V_NONE, "GET_DEVICE_FEATURES"},
    {T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES, 8, V_FEATURES, "GET_DEVICE_FEATURES response"},
    {T_REQ, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES, 8, V_FEATURES, "SET_DRIVER_FEATURES"},
    {T_RESP, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES, 0, V_NONE, "SET_DRIVER_FEATURES response"},
    {T_REQ, VIRTIO_ARGO_MSG_GET_CONFIG, 8, V_NONE, "GET_CONFIG"},
    {T_RESP, VIRTIO_ARGO_MSG_GET_CONFIG, 12, V_CONFIG, "GET_CONFIG response"},
    {T_REQ, VIRTIO_ARGO_MSG_SET_CONFIG, 12, V_CONFIG, "SET_CONFIG"},
    {T_RESP, VIRTIO_ARGO_MSG_SET_CONFIG, 12, V_CONFIG_0, "SET_CONFIG response"},
    {T_REQ, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS, 0, V_NONE, "GET_DEVICE_STATUS"},
    {T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS, 4, V_NONE, "GET_DEVICE_STATUS response"},
    {T_REQ, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS, 4, V_NONE, "SET_DEVICE_STATUS"},
    {T_RESP, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS, 4, V_NONE, "SET_DEVICE_STATUS response"},
    {T_REQ, VIRTIO_ARGO_MSG_GET_VQUEUE, 4, V_NONE, "GET_VQUEUE"},
    {T_RESP, VIRTIO_ARGO_MSG_GET_VQUEUE, 40, V_NONE, "GET_VQUEUE response"},
    {T_REQ, VIRTIO_ARGO_MSG_SET_VQUEUE, 40, V_NONE, "SET_VQUEUE"},
    {T_RESP, VIRTIO_ARGO_MSG_SET_VQUEUE, 0, V_NONE, "SET_VQUEUE response"},
    {T_REQ, VIRTIO_ARGO_MSG_RESET_VQUEUE, 4, V_NONE, "RESET_VQUEUE"},
    {T_RESP, VIRTIO_ARGO_MSG_RESET_VQUEUE, 0, V_NONE, "RESET_VQUEUE response"},
    {T_REQ, VIRTIO_ARGO_MSG_GET_SHM, 4, V_NONE, "GET_SHM"},
    {T_RESP, VIRTIO_ARGO_MSG_GET_SHM, 24, V_NONE, "GET_SHM response"},
    {T_REQ, VIRTIO_ARGO_MSG_EVENT_CONFIG, 16, V_EVCONFIG, "EVENT_CONFIG"},
    {T_REQ, VIRTIO_ARGO_MSG_EVENT_AVAIL, 8, V_NONE, "EVENT_AVAIL"},
    {T_REQ, VIRTIO_ARGO_MSG_EVENT_USED, 4, V_NONE, "EVENT_USED"},
    {B_REQ, VIRTIO_ARGO_BUS_GET_DEVICES, 4, V_NONE, "GET_DEVICES"},
    {B_RESP, VIRTIO_ARGO_BUS_GET_DEVICES, 6, V_BITMAP, "GET_DEVICES response"},
    {B_REQ, VIRTIO_ARGO_BUS_PING, 4, V_NONE, "PING"},
    {B_RESP, VIRTIO_ARGO_BUS_PING, 4, V_NONE, "PING response"},
    {B_REQ, VIRTIO_ARGO_BUS_EVENT_DEVICE, 4, V_NONE, "EVENT_DEVICE"},
    {B_REQ, VIRTIO_ARGO_BUS_HELLO, 20, V_NONE, "HELLO"},
    {B_RESP, VIRTIO_ARGO_BUS_HELLO, 20, V_NONE, "HELLO response"},
    {B_REQ, VIRTIO_ARGO_BUS_ATTACH, 24, V_NONE, "ATTACH"},
    {B_RESP, VIRTIO_ARGO_BUS_ATTACH, 24, V_NONE, "ATTACH response"},
    {B_REQ, VIRTIO_ARGO_BUS_DETACH, 24, V_NONE, "DETACH"},
    {B_RESP, VIRTIO_ARGO_BUS_DETACH, 24, V_NONE, "DETACH response"},
    {B_REQ, VIRTIO_ARGO_BUS_BUF, VMSG_BUF_FIXED, V_BUF, "BUF"},
    {B_RESP, VIRTIO_ARGO_BUS_BUF, VMSG_BUF_FIXED, V_BUF, "BUF response"},
    {B_REQ, VIRTIO_ARGO_BUS_ERROR, 16, V_NONE, "ERROR"},
};

static const struct kind *find_kind(uint8_t type, uint8_t id)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].type == type && kinds[i].id == id)
			return &kinds[i];
	return NULL;
}

int vmsg_fixed_len(uint8_t type, uint8_t msg_id)
{
	const struct kind *k = find_kind(type, msg_id);

	return k ? k->fixed : -1;
}

const char *vmsg_name(uint8_t type, uint8_t msg_id)
{
	const struct kind *k = find_kind(type & (T_RESP | B_REQ), msg_id);

	return k ? k->name : "unknown";
}

const char *vmsg_reason_name(int reason)
{
	static const char *const names[] = {
	    "none",         "SHORT",    "SIZE",      "TYPE",  "UNKNOWN",     "DEVICE",
	    "NOT_ATTACHED", "BUSY",     "QUEUE",     "ID",    "ID_IN_USE",   "SEGS",
	    "TOO_LARGE",    "FRAGMENT", "NOT_READY", "FIELD", "NEEDS_RESET", "BACKEND",
	};

	if (reason < 0 || (size_t)reason >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[reason];
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return vmsg_le32(p, 0);
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static int bad(int *reason, int why)
{
	if (reason)
		*reason = why;
	return -EBADMSG;
}

/* The fixed part of each kind, into m->u. p points at the payload, which
 * holds at least k->fixed bytes. Returns a reason, or 0. */
static int decode_fixed(unsigned int kind, const uint8_t *p, struct vmsg *m)
{
	switch (kind) {
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_INFO):
		m->u.info.device_id = le32(p);
		m->u.info.vendor_id = le32(p + 4);
		memcpy(m->u.info.uuid, p + 8, 16);
		m->u.info.num_feature_blocks = le32(p + 24);
		m->u.info.config_size = le32(p + 28);
		m->u.info.max_virtqueues = le32(p + 32);
		m->u.info.admin_vq_start = le32(p + 36);
		m->u.info.admin_vq_count = le32(p + 40);
		return 0;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES):
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES):
		m->u.features.block_index = le32(p);
		m->u.features.num_blocks = le32(p + 4);
		m->u.features.blocks = NULL;
		return 0;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_CONFIG):
		m->u.config.generation = 0;
		m->u.config.offset = le32(p);
		m->u.config.length = le32(p + 4);
		m->u.config.data = NULL;
		return 0;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_CONFIG):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_CONFIG):
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_SET_CONFIG):
		m->u.config.generation = le32(p);
		m->u.config.offset = le32(p + 4);
		m->u.config.length = le32(p + 8);
		m->u.config.data = NULL;
		return 0;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_EVENT_CONFIG):
		m->u.config.status = le32(p);
		m->u.config.generation = le32(p + 4);
		m->u.config.offset = le32(p + 8);
		m->u.config.length = le32(p + 12);
		m->u.config.data = NULL;
		return 0;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS):
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_VQUEUE):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_RESET_VQUEUE):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_SHM):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_EVENT_USED):
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_PING):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_PING):
		m->u.u32 = le32(p);
		return 0;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_EVENT_AVAIL):
		m->u.avail.vq_index = le32(p);
		m->u.avail.next_offset = le32(p + 4);
		return 0;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_VQUEUE):
		memset(&m->u.vqueue, 0, sizeof(m->u.vqueue));
		m->u.vqueue.index = le32(p);
		m->u.vqueue.max_size = le32(p + 4);
		m->u.vqueue.cur_size = le32(p + 8);
		m->u.vqueue.flags = le32(p + 12);
		m->u.vqueue.desc_addr = le64(p + 16);
		m->u.vqueue.driver_addr = le64(p + 24);
		m->u.vqueue.device_addr = le64(p + 32);
		/* The device must leave bits 31:1 clear. */
		return m->u.vqueue.flags & ~VIRTIO_ARGO_VQ_ENABLED ? VIRTIO_ARGO_ERR_FIELD : 0;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_VQUEUE):
		/* Reserved bits and state 3 are the device's no-op cases
		 * (virtio-msg), not a malformed message: kept as they are. */
		memset(&m->u.vqueue, 0, sizeof(m->u.vqueue));
		m->u.vqueue.index = le32(p);
		m->u.vqueue.flags = le32(p + 4);
		m->u.vqueue.size = le32(p + 8);
		m->u.vqueue.reserved = le32(p + 12);
		m->u.vqueue.desc_addr = le64(p + 16);
		m->u.vqueue.driver_addr = le64(p + 24);
		m->u.vqueue.device_addr = le64(p + 32);
		return 0;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_SHM):
		m->u.shm.shmid = le32(p);
		m->u.shm.reserved = le32(p + 4);
		m->u.shm.length = le64(p + 8);
		m->u.shm.address = le64(p + 16);
		return m->u.shm.reserved ? VIRTIO_ARGO_ERR_FIELD : 0;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_GET_DEVICES):
		m->u.devices.offset = le16(p);
		m->u.devices.count = le16(p + 2);
		m->u.devices.next_offset = 0;
		m->u.devices.bitmap = NULL;
		return 0;
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_GET_DEVICES):
		m->u.devices.offset = le16(p);
		m->u.devices.next_offset = le16(p + 2);
		m->u.devices.count = le16(p + 4);
		m->u.devices.bitmap = NULL;
		return 0;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_EVENT_DEVICE):
		m->u.event_device.number = le16(p);
		m->u.event_device.state = le16(p + 2);
		if (m->u.event_device.state != VIRTIO_ARGO_DEVICE_ADDED &&
		    m->u.event_device.state != VIRTIO_ARGO_DEVICE_REMOVED)
			return VIRTIO_ARGO_ERR_FIELD;
		return 0;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_HELLO):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_HELLO):
		m->u.hello.bus_version = le16(p);
		m->u.hello.revision = le16(p + 2);
		m->u.hello.features = le32(p + 4);
		m->u.hello.max_msg_size = le32(p + 8);
		m->u.hello.max_rx = le32(p + 12);
		m->u.hello.num_devices = le16(p + 16);
		if (le16(p + 18))
			return VIRTIO_ARGO_ERR_FIELD;
		/* A request has no device count. */
		if (kind == VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_HELLO) && m->u.hello.num_devices)
			return VIRTIO_ARGO_ERR_FIELD;
		return 0;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_ATTACH):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_ATTACH):
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_DETACH):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_DETACH):
		m->u.attach.dev_num = le16(p);
		m->u.attach.status = le32(p + 4);
		m->u.attach.features = le32(p + 8);
		m->u.attach.max_rx = le32(p + 12);
		m->u.attach.max_segs = le32(p + 16);
		m->u.attach.max_chain = le32(p + 20);
		if (le16(p + 2))
			return VIRTIO_ARGO_ERR_FIELD;
		/* Requests say nothing of status or the device's limits;
		 * DETACH carries dev_num (and a response's status) only. */
		if (!(kind & (T_RESP << 8)) &&
		    (m->u.attach.status || m->u.attach.max_segs || m->u.attach.max_chain))
			return VIRTIO_ARGO_ERR_FIELD;
		if (m->msg_id == VIRTIO_ARGO_BUS_DETACH &&
		    (m->u.attach.features || m->u.attach.max_rx || m->u.attach.max_segs ||
		     m->u.attach.max_chain))
			return VIRTIO_ARGO_ERR_FIELD;
		return 0;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_BUF):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_BUF):
		memset(&m->u.buf, 0, sizeof(m->u.buf));
		m->u.buf.dev_num = le16(p);
		m->u.buf.vq = le16(p + 2);
		m->u.buf.id = le16(p + 4);
		m->u.buf.flags = le16(p + 6);
		m->u.buf.offset = le32(p + 8);
		m->u.buf.data_len = le32(p + 12);
		m->u.buf.total = le32(p + 16);
		m->u.buf.n_out = le16(p + 20);
		m->u.buf.n_in = le16(p + 22);
		return m->u.buf.flags ? VIRTIO_ARGO_ERR_FIELD : 0;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_ERROR):
		m->u.error.dev_num = le16(p);
		m->u.error.bad_type = p[2];
		m->u.error.bad_msg_id = p[3];
		m->u.error.bad_token = le16(p + 4);
		m->u.error.error = le32(p + 8);
		m->u.error.reason = le32(p + 12);
		return le16(p + 6) ? VIRTIO_ARGO_ERR_FIELD : 0;
	default:
		return 0; /* no fixed fields */
	}
}

/* A BUF's segment table and data bounds. */
static int check_buf(struct vmsg *m, const uint8_t *table, size_t tail, const uint8_t *data)
{
	struct vmsg_buf *b = &m->u.buf;
	uint32_t nseg = (uint32_t)b->n_out + b->n_in;
	uint64_t out = 0, in = 0;
	uint32_t i;

	if (tail != b->data_len)
		return VIRTIO_ARGO_ERR_SIZE;
	if ((uint64_t)b->offset + b->data_len > b->total)
		return VIRTIO_ARGO_ERR_FRAGMENT;
	b->data = data;
	if (m->type & VIRTIO_ARGO_TYPE_RESPONSE)
		return nseg ? VIRTIO_ARGO_ERR_FIELD : 0;
	/* Request: the first fragment (offset 0) carries the table, the
	 * others none. */
	if (b->offset == 0 && nseg == 0)
		return VIRTIO_ARGO_ERR_SEGS;
	if (b->offset != 0 && nseg != 0)
		return VIRTIO_ARGO_ERR_FRAGMENT;
	if (!nseg)
		return 0;
	for (i = 0; i < nseg; i++) {
		uint32_t len = vmsg_le32(table, i);

		if (len == 0)
			return VIRTIO_ARGO_ERR_SEGS;
		if (i < b->n_out)
			out += len;
		else
			in += len;
	}
	if (out != b->total)
		return VIRTIO_ARGO_ERR_FRAGMENT;
	b->seg_len = table;
	b->in_bytes = in;
	return 0;
}

int vmsg_decode(const void *buf, size_t len, struct vmsg *m, int *reason)
{
	return vmsg_decode_head(buf, len, len, m, reason);
}

int vmsg_decode_head(const void *buf, size_t avail, size_t len, struct vmsg *m, int *reason)
{
	const uint8_t *p = buf, *pl;
	const struct kind *k;
	size_t plen;
	int why;

	memset(m, 0, sizeof(*m));
	if (len < VMSG_HDR_SIZE || avail < VMSG_HDR_SIZE || avail > len)
		return bad(reason, VIRTIO_ARGO_ERR_SHORT);
	m->type = p[0];
	m->msg_id = p[1];
	m->dev_num = le16(p + 2);
	m->token = le16(p + 4);
	m->msg_size = le16(p + 6);
	if (m->type & VIRTIO_ARGO_TYPE_RESERVED)
		return bad(reason, VIRTIO_ARGO_ERR_TYPE);
	if (m->msg_size < VMSG_HDR_SIZE || m->msg_size > len)
		return bad(reason, VIRTIO_ARGO_ERR_SIZE);
	k = find_kind(m->type, m->msg_id);
	if (!k) {
		/* An event id with the response bit, or a response to an event,
		 * is a type error; anything else an unknown message. */
		if (find_kind(m->type & ~VIRTIO_ARGO_TYPE_RESPONSE, m->msg_id))
			return bad(reason, VIRTIO_ARGO_ERR_TYPE);
		return bad(reason, VIRTIO_ARGO_ERR_UNKNOWN);
	}
	if (k->var != V_BUF && (m->msg_size != len || len > VIRTIO_ARGO_MAX_MSG_SIZE))
		return bad(reason, VIRTIO_ARGO_ERR_SIZE);
	if (avail < m->msg_size)
		return bad(reason, VIRTIO_ARGO_ERR_SIZE);
	if ((m->type & VIRTIO_ARGO_TYPE_BUS) && m->dev_num)
		return bad(reason, VIRTIO_ARGO_ERR_FIELD);
	pl = p + VMSG_HDR_SIZE;
	plen = m->msg_size - VMSG_HDR_SIZE;
	if (plen < k->fixed)
		return bad(reason, VIRTIO_ARGO_ERR_SHORT);
	why = decode_fixed(VMSG_KIND(k->type, k->id), pl, m);
	if (why)
		return bad(reason, why);
	switch (k->var) {
	case V_NONE:
		if (plen != k->fixed)
			return bad(reason, VIRTIO_ARGO_ERR_SIZE);
		break;
	case V_FEATURES:
		if (plen != k->fixed + 4 * (uint64_t)m->u.features.num_blocks)
			return bad(reason, VIRTIO_ARGO_ERR_SIZE);
		m->u.features.blocks = m->u.features.num_blocks ? pl + k->fixed : NULL;
		break;
	case V_CONFIG:
		if (plen != k->fixed + (uint64_t)m->u.config.length)
			return bad(reason, VIRTIO_ARGO_ERR_SIZE);
		m->u.config.data = m->u.config.length ? pl + k->fixed : NULL;
		break;
	case V_CONFIG_0:
	case V_EVCONFIG:
		/* Data present (length bytes) or, for an event or a write
		 * that was not applied, absent. */
		if (plen == k->fixed + (uint64_t)m->u.config.length)
			m->u.config.data = m->u.config.length ? pl + k->fixed : NULL;
		else if (plen != k->fixed || (k->var == V_CONFIG_0 && m->u.config.length))
			return bad(reason, VIRTIO_ARGO_ERR_SIZE);
		break;
	case V_BITMAP: {
		size_t nb = ((size_t)m->u.devices.count + 7) / 8;

		if (plen != k->fixed + nb)
			return bad(reason, VIRTIO_ARGO_ERR_SIZE);
		m->u.devices.bitmap = nb ? pl + k->fixed : NULL;
		/* Bits past count are zero. */
		if (m->u.devices.count % 8 && (pl[k->fixed + nb - 1] >> (m->u.devices.count % 8)))
			return bad(reason, VIRTIO_ARGO_ERR_FIELD);
		break;
	}
	case V_BUF: {
		uint32_t nseg = (uint32_t)m->u.buf.n_out + m->u.buf.n_in;

		if (plen != k->fixed + 4 * (uint64_t)nseg)
			return bad(reason, VIRTIO_ARGO_ERR_SIZE);
		why = check_buf(m, pl + k->fixed, len - m->msg_size, p + m->msg_size);
		if (why)
			return bad(reason, why);
		if (!m->u.buf.data_len || avail < len)
			m->u.buf.data = NULL;
		break;
	}
	}
	if (reason)
		*reason = 0;
	return 0;
}

/* Length of the variable part as encoded from m. */
static size_t var_len(const struct kind *k, const struct vmsg *m)
{
	switch (k->var) {
	case V_FEATURES:
		return 4 * (size_t)m->u.features.num_blocks;
	case V_CONFIG:
		return m->u.config.length;
	case V_CONFIG_0:
	case V_EVCONFIG:
		return m->u.config.data ? m->u.config.length : 0;
	case V_BITMAP:
		return ((size_t)m->u.devices.count + 7) / 8;
	case V_BUF:
		return 4 * ((size_t)m->u.buf.n_out + m->u.buf.n_in);
	default:
		return 0;
	}
}

static void encode_fixed(unsigned int kind, uint8_t *p, const struct vmsg *m)
{
	switch (kind) {
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_INFO):
		put32(p, m->u.info.device_id);
		put32(p + 4, m->u.info.vendor_id);
		memcpy(p + 8, m->u.info.uuid, 16);
		put32(p + 24, m->u.info.num_feature_blocks);
		put32(p + 28, m->u.info.config_size);
		put32(p + 32, m->u.info.max_virtqueues);
		put32(p + 36, m->u.info.admin_vq_start);
		put32(p + 40, m->u.info.admin_vq_count);
		break;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES):
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES):
		put32(p, m->u.features.block_index);
		put32(p + 4, m->u.features.num_blocks);
		break;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_CONFIG):
		put32(p, m->u.config.offset);
		put32(p + 4, m->u.config.length);
		break;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_CONFIG):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_CONFIG):
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_SET_CONFIG):
		put32(p, m->u.config.generation);
		put32(p + 4, m->u.config.offset);
		put32(p + 8, m->u.config.length);
		break;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_EVENT_CONFIG):
		put32(p, m->u.config.status);
		put32(p + 4, m->u.config.generation);
		put32(p + 8, m->u.config.offset);
		put32(p + 12, m->u.config.length);
		break;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS):
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_VQUEUE):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_RESET_VQUEUE):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_GET_SHM):
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_EVENT_USED):
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_PING):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_PING):
		put32(p, m->u.u32);
		break;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_EVENT_AVAIL):
		put32(p, m->u.avail.vq_index);
		put32(p + 4, m->u.avail.next_offset);
		break;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_VQUEUE):
		put32(p, m->u.vqueue.index);
		put32(p + 4, m->u.vqueue.max_size);
		put32(p + 8, m->u.vqueue.cur_size);
		put32(p + 12, m->u.vqueue.flags);
		put64(p + 16, m->u.vqueue.desc_addr);
		put64(p + 24, m->u.vqueue.driver_addr);
		put64(p + 32, m->u.vqueue.device_addr);
		break;
	case VMSG_KIND(T_REQ, VIRTIO_ARGO_MSG_SET_VQUEUE):
		put32(p, m->u.vqueue.index);
		put32(p + 4, m->u.vqueue.flags);
		put32(p + 8, m->u.vqueue.size);
		put32(p + 12, m->u.vqueue.reserved);
		put64(p + 16, m->u.vqueue.desc_addr);
		put64(p + 24, m->u.vqueue.driver_addr);
		put64(p + 32, m->u.vqueue.device_addr);
		break;
	case VMSG_KIND(T_RESP, VIRTIO_ARGO_MSG_GET_SHM):
		put32(p, m->u.shm.shmid);
		put32(p + 4, m->u.shm.reserved);
		put64(p + 8, m->u.shm.length);
		put64(p + 16, m->u.shm.address);
		break;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_GET_DEVICES):
		put16(p, m->u.devices.offset);
		put16(p + 2, m->u.devices.count);
		break;
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_GET_DEVICES):
		put16(p, m->u.devices.offset);
		put16(p + 2, m->u.devices.next_offset);
		put16(p + 4, m->u.devices.count);
		break;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_EVENT_DEVICE):
		put16(p, m->u.event_device.number);
		put16(p + 2, m->u.event_device.state);
		break;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_HELLO):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_HELLO):
		put16(p, m->u.hello.bus_version);
		put16(p + 2, m->u.hello.revision);
		put32(p + 4, m->u.hello.features);
		put32(p + 8, m->u.hello.max_msg_size);
		put32(p + 12, m->u.hello.max_rx);
		put16(p + 16, m->u.hello.num_devices);
		put16(p + 18, 0);
		break;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_ATTACH):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_ATTACH):
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_DETACH):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_DETACH):
		put16(p, m->u.attach.dev_num);
		put16(p + 2, 0);
		put32(p + 4, m->u.attach.status);
		put32(p + 8, m->u.attach.features);
		put32(p + 12, m->u.attach.max_rx);
		put32(p + 16, m->u.attach.max_segs);
		put32(p + 20, m->u.attach.max_chain);
		break;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_BUF):
	case VMSG_KIND(B_RESP, VIRTIO_ARGO_BUS_BUF):
		put16(p, m->u.buf.dev_num);
		put16(p + 2, m->u.buf.vq);
		put16(p + 4, m->u.buf.id);
		put16(p + 6, m->u.buf.flags);
		put32(p + 8, m->u.buf.offset);
		put32(p + 12, m->u.buf.data_len);
		put32(p + 16, m->u.buf.total);
		put16(p + 20, m->u.buf.n_out);
		put16(p + 22, m->u.buf.n_in);
		break;
	case VMSG_KIND(B_REQ, VIRTIO_ARGO_BUS_ERROR):
		put16(p, m->u.error.dev_num);
		p[2] = m->u.error.bad_type;
		p[3] = m->u.error.bad_msg_id;
		put16(p + 4, m->u.error.bad_token);
		put16(p + 6, 0);
		put32(p + 8, m->u.error.error);
		put32(p + 12, m->u.error.reason);
		break;
	default:
		break;
	}
}

ssize_t vmsg_encode(void *buf, size_t size, const struct vmsg *m, int with_data)
{
	const struct kind *k = find_kind(m->type, m->msg_id);
	uint8_t *p = buf;
	size_t vl, msg_size, total;
	const uint8_t *var = NULL;

	if (!k)
		return -EINVAL;
	vl = var_len(k, m);
	msg_size = VMSG_HDR_SIZE + k->fixed + vl;
	if (msg_size > 0xFFFF)
		return -EMSGSIZE;
	total = msg_size;
	if (k->var == V_BUF && with_data)
		total += m->u.buf.data_len;
	if (total > size)
		return -EMSGSIZE;
	p[0] = m->type;
	p[1] = m->msg_id;
	put16(p + 2, m->dev_num);
	put16(p + 4, m->token);
	put16(p + 6, (uint16_t)msg_size);
	encode_fixed(VMSG_KIND(k->type, k->id), p + VMSG_HDR_SIZE, m);
	switch (k->var) {
	case V_FEATURES:
		var = m->u.features.blocks;
		break;
	case V_CONFIG:
	case V_CONFIG_0:
	case V_EVCONFIG:
		var = m->u.config.data;
		break;
	case V_BITMAP:
		var = m->u.devices.bitmap;
		break;
	case V_BUF:
		var = m->u.buf.seg_len;
		break;
	default:
		break;
	}
	if (vl) {
		if (var)
			memcpy(p + VMSG_HDR_SIZE + k->fixed, var, vl);
		else
			memset(p + VMSG_HDR_SIZE + k->fixed, 0, vl);
	}
	if (k->var == V_BUF && with_data && m->u.buf.data_len) {
		if (m->u.buf.data)
			memcpy(p + msg_size, m->u.buf.data, m->u.buf.data_len);
		else
			memset(p + msg_size, 0, m->u.buf.data_len);
	}
	return (ssize_t)total;
}
