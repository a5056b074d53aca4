/* SPDX-License-Identifier: MIT */
/*
 * virtio-argo messages in user space: a strict decoder and an encoder for
 * every message of docs/virtio-argo.md (layouts: linux/virtio_argo.h).
 * No I/O here; argo-vdevd, its tests and the fuzzer share it.
 *
 * Return conventions: vmsg_decode() returns 0, or -EBADMSG with *reason set
 * to a VIRTIO_ARGO_ERR_* value saying why; -EMSGSIZE when an encoder's
 * buffer is too small; encoders return the bytes written.
 */
#ifndef VDEV_VMSG_H
#define VDEV_VMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/virtio_argo.h>

/* Sizes of the fixed payloads. */
#define VMSG_HDR_SIZE  8u
#define VMSG_BUF_FIXED 24u /* struct virtio_argo_buf */

/* Which message: type bits RESPONSE|BUS with msg_id. */
#define VMSG_KIND(type, id) ((unsigned int)(type) << 8 | (unsigned int)(id))

struct vmsg_features { /* GET_DEVICE_FEATURES, SET_DRIVER_FEATURES */
	uint32_t block_index, num_blocks;
	const uint8_t *blocks; /* num_blocks le32 values, or NULL (request of GET) */
};

struct vmsg_config {     /* GET_CONFIG (request: offset, length only), SET_CONFIG, EVENT_CONFIG */
	uint32_t status; /* EVENT_CONFIG only */
	uint32_t generation; /* not in a GET_CONFIG request */
	uint32_t offset, length;
	const uint8_t *data; /* length bytes, or NULL (GET_CONFIG request, EVENT_CONFIG without
	                        data, SET_CONFIG response of length 0) */
};

struct vmsg_vqueue { /* GET_VQUEUE response, SET_VQUEUE request */
	uint32_t index, max_size, cur_size, flags, size, reserved;
	uint64_t desc_addr, driver_addr, device_addr;
};

struct vmsg_devices { /* GET_DEVICES request and response */
	uint16_t offset, count, next_offset;
	const uint8_t *bitmap; /* response: (count + 7) / 8 bytes */
};

struct vmsg_buf {
	uint16_t dev_num, vq, id, flags;
	uint32_t offset, data_len, total;
	uint16_t n_out, n_in;
	const uint8_t *seg_len; /* n_out + n_in le32 values, or NULL */
	uint64_t in_bytes;      /* request with a table: the sum of the in lengths */
	const uint8_t *data;    /* data_len bytes */
};

struct vmsg {
	uint8_t type, msg_id;
	uint16_t dev_num, token, msg_size;
	union {
		struct vmsg_features features;
		struct vmsg_config config;
		uint32_t u32; /* status, index, shmid, ping data, EVENT_USED vq */
		struct {
			uint32_t vq_index, next_offset;
		} avail;
		struct {
			uint32_t device_id, vendor_id;
			uint8_t uuid[16];
			uint32_t num_feature_blocks, config_size, max_virtqueues;
			uint32_t admin_vq_start, admin_vq_count;
		} info;
		struct vmsg_vqueue vqueue;
		struct {
			uint32_t shmid, reserved;
			uint64_t length, address;
		} shm;
		struct vmsg_devices devices;
		struct {
			uint16_t number, state;
		} event_device;
		struct {
			uint16_t bus_version, revision, num_devices;
			uint32_t features, max_msg_size, max_rx;
		} hello;
		struct {
			uint16_t dev_num;
			uint32_t status, features, max_rx, max_segs, max_chain;
		} attach;
		struct vmsg_buf buf;
		struct {
			uint16_t dev_num, bad_token;
			uint8_t bad_type, bad_msg_id;
			uint32_t error, reason;
		} error;
	} u;
};

/* Decodes one Argo message payload (len bytes) strictly: the header, the
 * exact length of the message's payload, zero reserved fields and padding,
 * and the internal consistency of variable parts (a BUF's segment table and
 * fragment bounds, bitmap lengths). Pointers in *m point into buf. */
int vmsg_decode(const void *buf, size_t len, struct vmsg *m, int *reason);

/* The same for a message of len bytes of which only the first avail are in
 * buf (a BUF whose data the caller copies from elsewhere): avail must cover
 * msg_size (else -EBADMSG, SIZE); a BUF's data pointer is then NULL. */
int vmsg_decode_head(const void *buf, size_t avail, size_t len, struct vmsg *m, int *reason);

/* Encodes m (as vmsg_decode() would have filled it) into buf: the header
 * and payload, msg_size bytes, then for BUF the data_len data bytes when
 * with_data. Computes msg_size itself (m->msg_size is ignored). Returns the
 * bytes written or -EMSGSIZE; -EINVAL for a message kind it does not know. */
ssize_t vmsg_encode(void *buf, size_t size, const struct vmsg *m, int with_data);

/* The payload length a message kind has (its fixed part): -1 if unknown. */
int vmsg_fixed_len(uint8_t type, uint8_t msg_id);

/* A name for a message kind, for logs ("SET_VQUEUE", "BUF response"). */
const char *vmsg_name(uint8_t type, uint8_t msg_id);

/* A name for a VIRTIO_ARGO_ERR_* reason. */
const char *vmsg_reason_name(int reason);

/* Little-endian access to the variable arrays. */
static inline uint32_t vmsg_le32(const uint8_t *p, uint32_t i)
{
	p += 4 * (size_t)i;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif /* VDEV_VMSG_H */
