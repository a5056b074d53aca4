/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * virtio-argo: the virtio-msg transport (revision 1) on an Argo bus.
 *
 * One header for both halves: the Linux frontend module (l1/) and the
 * user-space device side (argo-vdevd, vdev/) and its tests. It holds wire
 * layouts and constants only; docs/virtio-argo.md is the protocol's
 * description and wins where this file is too terse.
 *
 * Every Argo message of this bus has message_type VIRTIO_ARGO_MSGTYPE and
 * holds exactly one virtio-msg message: the 8-byte common header, then its
 * payload, msg_size bytes in all; a BUF message (the data path) carries, in
 * addition, data_len bytes of buffer contents after its msg_size bytes
 * (bus framing that virtio-msg's size limit does not count). All numbers
 * are little endian. Structures are naturally aligned and need no packing;
 * their sizes and offsets are pinned by the static assertions at the end.
 *
 * Kernel code reads fields with le16_to_cpu() and friends, user space with
 * le16toh() (<endian.h>).
 */
#ifndef _UAPI_LINUX_VIRTIO_ARGO_H
#define _UAPI_LINUX_VIRTIO_ARGO_H

#include <linux/types.h>

/* ---- The Argo bus ---- */

/* Version of this binding (the Argo bus); virtio-msg's own revision is
 * VIRTIO_ARGO_REVISION. */
#define VIRTIO_ARGO_BUS_VERSION 1
/* The virtio-msg transport revision spoken. */
#define VIRTIO_ARGO_REVISION 1

/* message_type of every Argo message of this bus; a message with another
 * type on a virtio-argo ring is not ours and is dropped. */
#define VIRTIO_ARGO_MSGTYPE 0xA4601001u

/*
 * Through a relay (docs/virtio-argo.md, "Through relays"), sends to its
 * import ports succeed, and a message the relays cannot deliver (no ring,
 * too large, a policy, no route) comes back later from the port it was
 * sent to, as a report of this message_type: a little-endian u32 errno,
 * then the global destination (24 bytes). Argo-relayd's
 * ARGO_MSGTYPE_UNDELIVERABLE (argo/routed.h).
 */
#define VIRTIO_ARGO_RELAY_REPORT_TYPE 0xA4600001u
#define VIRTIO_ARGO_RELAY_REPORT_SIZE 28u

/*
 * Ports of the device side (the driver domain). The bus listens on
 * VIRTIO_ARGO_BUS_PORT (the default; a deployment may pick another base);
 * device N has its own ring at VIRTIO_ARGO_DEVICE_PORT(base, N). A
 * frontend reaching the bus through a relay's import ports sees the same
 * arithmetic on the import side (consecutive import ports).
 */
#define VIRTIO_ARGO_BUS_PORT 0x56410000u
#define VIRTIO_ARGO_DEVICE_PORT(bus_port, dev_num) ((__u32)(bus_port) + 1u + (__u32)(dev_num))
/* Most devices one bus may have: device numbers are 0 to this - 1. */
#define VIRTIO_ARGO_MAX_DEVICES 256u
/* Not a device: the dev_num of an ERROR about a message on the bus port. */
#define VIRTIO_ARGO_DEV_NONE 0xFFFFu

/* Smallest max_rx either side may announce (HELLO, ATTACH): room for any
 * control message and a BUF fragment of 64 data bytes. */
#define VIRTIO_ARGO_MIN_RX 512u

/* ---- The virtio-msg common header ---- */

struct virtio_argo_hdr {
	__u8 type;       /* VIRTIO_ARGO_TYPE_* */
	__u8 msg_id;     /* VIRTIO_ARGO_MSG_* (transport) or VIRTIO_ARGO_BUS_* (bus) */
	__le16 dev_num;  /* transport: the device; bus messages: 0 */
	__le16 token;    /* set by the requester, copied into the response */
	__le16 msg_size; /* header + payload, in bytes (BUF: without its data) */
};

#define VIRTIO_ARGO_TYPE_RESPONSE 0x01 /* bit 0: 0 request or event, 1 response */
#define VIRTIO_ARGO_TYPE_BUS      0x02 /* bit 1: 0 transport, 1 bus message */
#define VIRTIO_ARGO_TYPE_RESERVED 0xFC /* must be 0 */

#define VIRTIO_ARGO_ID_EVENT 0x40 /* msg_id bit 6: an event (one way, never answered) */
#define VIRTIO_ARGO_ID_IMPL  0x80 /* msg_id bit 7: defined by this bus, not by virtio-msg */

/* Largest transport message either side sends or accepts, header included
 * (virtio-msg's recommended maximum). */
#define VIRTIO_ARGO_MAX_MSG_SIZE 264u

/* ---- Transport messages (type bit 1 clear), on a device's port ---- */

#define VIRTIO_ARGO_MSG_GET_DEVICE_INFO     0x02
#define VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES 0x03
#define VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES 0x04
#define VIRTIO_ARGO_MSG_GET_CONFIG          0x05
#define VIRTIO_ARGO_MSG_SET_CONFIG          0x06
#define VIRTIO_ARGO_MSG_GET_DEVICE_STATUS   0x07
#define VIRTIO_ARGO_MSG_SET_DEVICE_STATUS   0x08
#define VIRTIO_ARGO_MSG_GET_VQUEUE          0x09
#define VIRTIO_ARGO_MSG_SET_VQUEUE          0x0A
#define VIRTIO_ARGO_MSG_RESET_VQUEUE        0x0B
#define VIRTIO_ARGO_MSG_GET_SHM             0x0C
#define VIRTIO_ARGO_MSG_EVENT_CONFIG        0x40 /* device -> driver */
#define VIRTIO_ARGO_MSG_EVENT_AVAIL         0x41 /* not used on this bus: BUF carries it */
#define VIRTIO_ARGO_MSG_EVENT_USED          0x42 /* not used on this bus: BUF's response is it */

/* Transport feature bits (HELLO and ATTACH features). */
#define VIRTIO_ARGO_F_STRICT_CONFIG_GENERATION (1u << 0)

/* GET_DEVICE_INFO: request has no payload. */
struct virtio_argo_device_info {
	__le32 device_id;          /* virtio device type: 2 block, 26 file system */
	__le32 vendor_id;          /* VIRTIO_ARGO_VENDOR_ID */
	__u8 device_uuid[16];      /* all zero: none */
	__le32 num_feature_blocks; /* 32-bit feature blocks */
	__le32 config_size;        /* bytes of configuration space */
	__le32 max_virtqueues;
	__le32 admin_vq_start; /* 0 */
	__le32 admin_vq_count; /* 0 */
};
#define VIRTIO_ARGO_VENDOR_ID 0x4F475241u /* "ARGO" */

/* GET_DEVICE_FEATURES request; SET_DRIVER_FEATURES request is this then
 * num_blocks __le32 blocks; GET_DEVICE_FEATURES response likewise.
 * SET_DRIVER_FEATURES response has no payload. */
struct virtio_argo_features {
	__le32 block_index;
	__le32 num_blocks;
	/* __le32 features[num_blocks]; */
};

/* GET_CONFIG request. */
struct virtio_argo_get_config {
	__le32 offset;
	__le32 length;
};

/* GET_CONFIG response, SET_CONFIG request and response: then length bytes
 * of configuration data (SET_CONFIG response: none when length is 0, i.e.
 * nothing was written). */
struct virtio_argo_config {
	__le32 generation;
	__le32 offset;
	__le32 length;
	/* __u8 data[length]; */
};
/* Most configuration bytes in one message: 264 - 8 - 12. */
#define VIRTIO_ARGO_MAX_CONFIG_CHUNK 244u

/* GET_DEVICE_STATUS response, SET_DEVICE_STATUS request and response. */
struct virtio_argo_status {
	__le32 status; /* virtio device status bits; 0 requests a reset */
};

/* GET_VQUEUE request, RESET_VQUEUE request. RESET_VQUEUE and SET_VQUEUE
 * responses have no payload. */
struct virtio_argo_vq_index {
	__le32 index;
};

/* GET_VQUEUE response. On this bus the three addresses are the driver's
 * own business (the device never reads the driver's memory): the device
 * keeps and echoes what SET_VQUEUE gave. */
struct virtio_argo_vqueue_info {
	__le32 index;
	__le32 max_size; /* 0: no such queue */
	__le32 cur_size; /* 0: not configured */
	__le32 flags;    /* VIRTIO_ARGO_VQ_ENABLED */
	__le64 desc_addr;
	__le64 driver_addr;
	__le64 device_addr;
};
#define VIRTIO_ARGO_VQ_ENABLED 0x1u

/* SET_VQUEUE request. */
struct virtio_argo_set_vqueue {
	__le32 index;
	__le32 flags; /* VIRTIO_ARGO_SETVQ_* */
	__le32 size;  /* a power of 2, 1 to max_size */
	__le32 reserved;
	__le64 desc_addr;
	__le64 driver_addr;
	__le64 device_addr;
};
#define VIRTIO_ARGO_SETVQ_STATE_MASK     0x3u /* bits 1:0, the state operation: */
#define VIRTIO_ARGO_SETVQ_KEEP_DISABLED  0x0u /*   stays disabled */
#define VIRTIO_ARGO_SETVQ_ENABLE         0x1u /*   enable */
#define VIRTIO_ARGO_SETVQ_KEEP_STATE     0x2u /*   unchanged (3 is reserved) */
#define VIRTIO_ARGO_SETVQ_SIZE_IGNORE    (1u << 2)
#define VIRTIO_ARGO_SETVQ_DESC_IGNORE    (1u << 3)
#define VIRTIO_ARGO_SETVQ_DRIVER_IGNORE  (1u << 4)
#define VIRTIO_ARGO_SETVQ_DEVICE_IGNORE  (1u << 5)
#define VIRTIO_ARGO_SETVQ_RESERVED       0xFFFFFFC0u

/* GET_SHM request: __le32 shmid (virtio_argo_vq_index's layout); response: */
struct virtio_argo_shm {
	__le32 shmid;
	__le32 reserved;
	__le64 length; /* always 0 on this bus: no shared memory regions */
	__le64 address;
};

/* EVENT_CONFIG (device -> driver), then length bytes of data, or none. */
struct virtio_argo_event_config {
	__le32 device_status;
	__le32 generation;
	__le32 offset;
	__le32 length;
	/* __u8 data[]; */
};

/* EVENT_AVAIL and EVENT_USED layouts, for completeness (not sent here). */
struct virtio_argo_event_avail {
	__le32 vq_index;
	__le32 next_offset;
};
struct virtio_argo_event_used {
	__le32 vq_index;
};

/* ---- Bus messages (type bit 1 set, dev_num 0) ---- */

/* Standard virtio-msg bus messages, on the bus port. */
#define VIRTIO_ARGO_BUS_GET_DEVICES  0x02
#define VIRTIO_ARGO_BUS_PING         0x03
#define VIRTIO_ARGO_BUS_EVENT_DEVICE 0x40 /* device side -> HELLO'd drivers */
/* This bus's own messages. */
#define VIRTIO_ARGO_BUS_HELLO  0x80 /* bus port: versions and limits; subscribes */
#define VIRTIO_ARGO_BUS_ATTACH 0x81 /* device port: bind the device to the sender */
#define VIRTIO_ARGO_BUS_DETACH 0x82 /* device port: reset and unbind */
#define VIRTIO_ARGO_BUS_BUF    0x83 /* device port: a chain's buffers, and its completion */
#define VIRTIO_ARGO_BUS_ERROR  0xC0 /* device side -> sender of a refused message */

/* GET_DEVICES request. */
struct virtio_argo_get_devices {
	__le16 offset; /* first device number */
	__le16 count;  /* device numbers asked about */
};
/* GET_DEVICES response, then (count + 7) / 8 bytes of bitmap (bit i of
 * byte i / 8, least significant first: device offset + i is present). */
struct virtio_argo_devices {
	__le16 offset;
	__le16 next_offset; /* 0: nothing beyond; else where to ask next */
	__le16 count;
	/* __u8 bitmap[]; */
};

/* PING request and response (either side may ask). */
struct virtio_argo_ping {
	__le32 data;
};

/* EVENT_DEVICE. */
struct virtio_argo_event_device {
	__le16 device_number;
	__le16 device_bus_state; /* VIRTIO_ARGO_DEVICE_* */
};
#define VIRTIO_ARGO_DEVICE_ADDED   0x0001
#define VIRTIO_ARGO_DEVICE_REMOVED 0x0002

/* HELLO request and response: each side's view; the response carries the
 * device side's values and the features both have. */
struct virtio_argo_hello {
	__le16 bus_version;  /* VIRTIO_ARGO_BUS_VERSION */
	__le16 revision;     /* VIRTIO_ARGO_REVISION */
	__le32 features;     /* VIRTIO_ARGO_F_* */
	__le32 max_msg_size; /* largest transport message accepted (>= 52) */
	__le32 max_rx;       /* largest Argo payload the sender's ring accepts */
	__le16 num_devices;  /* response: devices on the bus now; request: 0 */
	__le16 reserved;     /* 0 */
};

/* ATTACH request and response, DETACH request and response (DETACH uses
 * dev_num only; the rest is 0). */
struct virtio_argo_attach {
	__le16 dev_num;
	__le16 reserved; /* 0 */
	__le32 status;   /* response: 0, or a positive errno: refused */
	__le32 features; /* request: wanted; response: granted (VIRTIO_ARGO_F_*) */
	__le32 max_rx;   /* largest Argo payload the sender's ring for this device takes */
	__le32 max_segs; /* response: most buffers (descriptors) in one chain */
	__le32 max_chain; /* response: most bytes (out + in) in one chain */
};

/*
 * BUF: one descriptor chain of a virtqueue.
 *
 * Request (driver -> device): the chain's out-buffer contents, in one
 * message or several fragments. The fragment with offset 0 comes first and
 * holds the segment table: n_out + n_in __le32 lengths, out buffers first,
 * right after this structure; later fragments have n_out = n_in = 0 and no
 * table. msg_size covers header, this structure and the table; data_len
 * bytes of out data follow, which are bytes [offset, offset + data_len) of
 * the chain's out bytes (all out buffers end to end).
 *
 * Response (device -> driver, type RESPONSE|BUS, token of the request):
 * the completion: total is the used length (bytes the device wrote into the
 * in buffers), and data_len bytes at offset are bytes [offset, offset +
 * data_len) of what it wrote, in-buffer bytes end to end. No table. The
 * chain is complete when offset + data_len == total.
 */
struct virtio_argo_buf {
	__le16 dev_num;
	__le16 vq;       /* virtqueue index */
	__le16 id;       /* chain id: below the queue's size, unique in flight */
	__le16 flags;    /* 0 */
	__le32 offset;   /* where this fragment's data goes */
	__le32 data_len; /* data bytes after msg_size */
	__le32 total;    /* request: the chain's out bytes; response: the used length */
	__le16 n_out;    /* request, offset 0: out buffers; else 0 */
	__le16 n_in;     /* request, offset 0: in buffers; else 0 */
	/* __le32 seg_len[n_out + n_in]; then data */
};

/* ERROR (event, device side -> the sender of a message it refused). */
struct virtio_argo_error {
	__le16 dev_num;   /* device of the port the message came to, or DEV_NONE */
	__u8 bad_type;    /* the refused message's type, msg_id and token */
	__u8 bad_msg_id;
	__le16 bad_token;
	__le16 reserved;
	__le32 error;  /* a positive errno value */
	__le32 reason; /* VIRTIO_ARGO_ERR_* */
};

/* ERROR reasons. */
#define VIRTIO_ARGO_ERR_SHORT         1  /* shorter than its header or structure */
#define VIRTIO_ARGO_ERR_SIZE          2  /* msg_size (+ data_len) is not the message's length */
#define VIRTIO_ARGO_ERR_TYPE          3  /* reserved type bits, or a response/event sent to us */
#define VIRTIO_ARGO_ERR_UNKNOWN       4  /* unknown msg_id */
#define VIRTIO_ARGO_ERR_DEVICE        5  /* no such device, or not this port's */
#define VIRTIO_ARGO_ERR_NOT_ATTACHED  6  /* ATTACH first */
#define VIRTIO_ARGO_ERR_BUSY          7  /* attached to another driver */
#define VIRTIO_ARGO_ERR_QUEUE         8  /* no such queue, or not enabled */
#define VIRTIO_ARGO_ERR_ID            9  /* chain id out of range */
#define VIRTIO_ARGO_ERR_ID_IN_USE     10 /* chain id already in flight */
#define VIRTIO_ARGO_ERR_SEGS          11 /* no, or too many, segments */
#define VIRTIO_ARGO_ERR_TOO_LARGE     12 /* chain longer than max_chain */
#define VIRTIO_ARGO_ERR_FRAGMENT      13 /* data outside the declared bytes, or out of order */
#define VIRTIO_ARGO_ERR_NOT_READY     14 /* device not DRIVER_OK, or being reset */
#define VIRTIO_ARGO_ERR_FIELD         15 /* a reserved field not 0, or a value out of range */
#define VIRTIO_ARGO_ERR_NEEDS_RESET   16 /* the device needs a reset */
#define VIRTIO_ARGO_ERR_BACKEND       17 /* the device's back end failed */

/* ---- Layout (x86-64 and every other Linux ABI: natural alignment) ---- */

#define VIRTIO_ARGO_ASSERT_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " size")
#define VIRTIO_ARGO_ASSERT_OFF(t, f, n)                                                            \
	_Static_assert(__builtin_offsetof(struct t, f) == (n), #t "." #f " offset")

VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_hdr, 8);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_hdr, msg_id, 1);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_hdr, dev_num, 2);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_hdr, token, 4);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_hdr, msg_size, 6);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_device_info, 44);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_device_info, device_uuid, 8);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_device_info, num_feature_blocks, 24);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_device_info, admin_vq_count, 40);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_features, 8);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_get_config, 8);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_config, 12);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_status, 4);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_vq_index, 4);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_vqueue_info, 40);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_vqueue_info, desc_addr, 16);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_vqueue_info, device_addr, 32);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_set_vqueue, 40);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_set_vqueue, reserved, 12);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_set_vqueue, desc_addr, 16);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_shm, 24);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_shm, length, 8);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_event_config, 16);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_event_avail, 8);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_event_used, 4);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_get_devices, 4);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_devices, 6);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_ping, 4);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_event_device, 4);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_hello, 20);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_hello, max_rx, 12);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_hello, num_devices, 16);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_attach, 24);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_attach, status, 4);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_attach, max_chain, 20);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_buf, 24);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_buf, offset, 8);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_buf, data_len, 12);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_buf, total, 16);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_buf, n_out, 20);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_buf, n_in, 22);
VIRTIO_ARGO_ASSERT_SIZE(virtio_argo_error, 16);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_error, error, 8);
VIRTIO_ARGO_ASSERT_OFF(virtio_argo_error, reason, 12);

#endif /* _UAPI_LINUX_VIRTIO_ARGO_H */
