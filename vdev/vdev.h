/* SPDX-License-Identifier: MIT */
/*
 * argo-vdevd: serves virtio devices over Argo (docs/virtio-argo.md) by
 * driving existing vhost-user back ends (qemu-storage-daemon, virtiofsd) as
 * their front end.
 *
 * One header for the daemon, prototypes grouped per file. Everything runs
 * on one thread (the event loop of vdevd.c), so no field needs a lock.
 *
 * Return conventions, unless a function says otherwise: 0 or a count on
 * success, a negative errno value on failure; nothing sets errno for the
 * caller.
 */
#ifndef VDEV_VDEV_H
#define VDEV_VDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "argo/argo.h"
#include "argo/version.h"
#include "vmsg.h"

/* The project's one version (argo/version.h): --version, the status line. */
#define VDEV_VERSION         ARGO_VERSION

#define VDEV_MAX_DEVICES     32u   /* per daemon */
#define VDEV_MAX_QUEUES      16u   /* per device */
#define VDEV_MAX_QUEUE_SIZE  1024u /* libvhost-user's largest ring */
#define VDEV_MAX_PARTNERS    8u    /* distinct frontend domains (bus rings) */
#define VDEV_MAX_SUBSCRIBERS 16u   /* HELLO'd drivers told of EVENT_DEVICE */
#define VDEV_CONFIG_SPACE    256u  /* largest device configuration space */
#define VDEV_ERRORS_PER_SEC  10u   /* ERROR events per port and source */

enum vdev_type { VDEV_BLK = 2, VDEV_FS = 26 };

/* The largest message we let a peer send to a ring of ring_len bytes (we
 * announce it as max_rx): half the ring, so that a sender that found the
 * ring full could only have done so while less than max_rx + 32 bytes were
 * free, and a drain that never saw that little free space owes nobody a
 * notify (bus.c). */
static inline uint32_t vdev_max_rx(uint32_t ring_len)
{
	return ((ring_len / 2) & ~15u) - 32;
}

/* ---- config.c: the INI file (docs/virtio-argo.md, "argo-vdevd") ---- */

struct vdev_device_config {
	char name[32];
	enum vdev_type type;
	uint16_t number;       /* device number on the bus */
	char socket[108];      /* the back end's vhost-user socket */
	argo_domid_t frontend; /* ring partner; XEN_ARGO_DOMID_ANY for any */
	uint32_t ring_len;     /* the device ring */
	uint32_t queue_size;   /* largest queue size offered */
	uint32_t max_segs;
	uint32_t max_chain;
	char tag[37];            /* virtio-fs tag */
	uint32_t request_queues; /* virtio-fs */
	bool uuid_set;
	uint8_t uuid[16];
	unsigned int line; /* where its section starts */
};

struct vdev_config {
	char fabric[256];
	char control[108];
	uint32_t bus_port;
	uint32_t ring_len; /* bus port rings */
	uint32_t reset_timeout_ms;
	uint32_t reconnect_ms;
	uint32_t ring_check_ms; /* struct ringslot: the shortest check interval */
	unsigned int ndevices;
	struct vdev_device_config devices[VDEV_MAX_DEVICES];
};

/* Reads and checks path into *config. On failure returns -EINVAL (or the
 * errno of opening it) and writes one message ("FILE:LINE: problem") into
 * err. */
int vdev_config_load(const char *path, struct vdev_config *config, char *err, size_t errsz);

/* ---- vhost_user.c: our vhost-user front end (one connection) ---- */

struct vhu {
	int fd;                  /* -1: not connected */
	uint64_t features;       /* offered by the back end */
	uint64_t protocol;       /* protocol features negotiated */
	uint32_t queue_num;      /* GET_QUEUE_NUM, or 0 */
	unsigned int timeout_ms; /* per request */
};

int vhu_connect(struct vhu *v, const char *path);
void vhu_close(struct vhu *v);
/* SET_OWNER, GET_FEATURES, protocol features (MQ, REPLY_ACK, CONFIG when
 * offered), GET_QUEUE_NUM. */
int vhu_handshake(struct vhu *v);
int vhu_get_config(struct vhu *v, uint32_t offset, uint8_t *buf, uint32_t len);
int vhu_set_config(struct vhu *v, uint32_t offset, const uint8_t *buf, uint32_t len);
int vhu_set_features(struct vhu *v, uint64_t features);
int vhu_set_mem_table(struct vhu *v, int memfd, uint64_t size, uint64_t uaddr);
int vhu_set_vring_num(struct vhu *v, uint32_t index, uint32_t num);
int vhu_set_vring_addr(struct vhu *v, uint32_t index, uint64_t desc, uint64_t used, uint64_t avail);
int vhu_set_vring_base(struct vhu *v, uint32_t index, uint32_t base);
/* Stops the ring; *base gets the back end's next available index. */
int vhu_get_vring_base(struct vhu *v, uint32_t index, uint32_t *base);
int vhu_set_vring_fd(struct vhu *v, uint32_t request, uint32_t index, int fd);
int vhu_set_vring_enable(struct vhu *v, uint32_t index, bool enable);

#define VHU_SET_VRING_KICK       12u
#define VHU_SET_VRING_CALL       13u
#define VHU_F_PROTOCOL_FEATURES  30
#define VHU_PROTOCOL_F_MQ        0
#define VHU_PROTOCOL_F_REPLY_ACK 3
#define VHU_PROTOCOL_F_CONFIG    9

/* ---- vring.c: shadow memory and the split rings in it ---- */

/* The shadow memory of one back-end connection: a memfd holding, per
 * queue, a split ring of VDEV queue_size entries and one slot per chain id
 * (an indirect descriptor table, then the chain's bytes, out then in). */
struct shadow {
	int memfd;
	uint8_t *base;
	uint64_t size;
	uint32_t nqueues, qsize, max_segs;
	uint64_t ring_bytes, slot_bytes, table_bytes; /* per queue, per slot */
};

int shadow_create(struct shadow *s, uint32_t nqueues, uint32_t qsize, uint32_t max_segs,
                  uint32_t max_chain);
void shadow_destroy(struct shadow *s);
/* Offsets (guest physical addresses for the back end) and pointers. */
uint64_t shadow_ring_off(const struct shadow *s, uint32_t q);
uint64_t shadow_slot_off(const struct shadow *s, uint32_t q, uint32_t id);
static inline uint8_t *shadow_ptr(const struct shadow *s, uint64_t off)
{
	return s->base + off;
}

/* A split ring of num entries at ring offset off (desc, avail, used). */
struct svring {
	uint32_t num;
	uint64_t desc_off, avail_off, used_off;
	uint16_t next_avail; /* what we publish */
	uint16_t last_used;  /* what we have consumed */
};

void svring_init(struct svring *r, const struct shadow *s, uint32_t q, uint32_t num);
/* Writes chain id's indirect table: nseg segments whose lengths are
 * seg_len (le32), the first n_out readable, the others writable, laid out
 * end to end in the id's slot (out bytes, then in bytes). */
void svring_table(const struct shadow *s, uint32_t q, uint16_t id, const uint8_t *seg_len,
                  uint16_t n_out, uint16_t n_in);
/* Makes chain id (head descriptor = id, over its table) available. */
void svring_publish(struct svring *r, const struct shadow *s, uint32_t q, uint16_t id,
                    uint32_t nseg);
/* Where chain id's bytes start (out, then in). */
static inline uint8_t *shadow_data(const struct shadow *s, uint32_t q, uint32_t id)
{
	return s->base + shadow_slot_off(s, q, id) + s->table_bytes;
}
/* Takes the next used element: 1 and (*id, *len), or 0 when none. */
int svring_used(struct svring *r, const struct shadow *s, uint32_t *id, uint32_t *len);

/* ---- bus.c (rings) ---- */

/* One ring we keep registered. A ring for one partner domain exists only
 * while that domain does: registration waits for it (ESRCH), and the
 * hypervisor drops the ring when the partner dies, silently. Only a
 * register with FAIL_EXIST tells that the ring is still there (EEXIST),
 * and Xen logs every such refusal on its console. So a due check is free
 * when a message came through the ring since the last one (a driver PINGs
 * its bus and devices every few seconds), and the FAIL_EXIST probes of a
 * silent ring back off, doubling from ring_check_ms (configuration) to
 * RING_CHECK_BACKOFF times that (counters ring_checks, ring_probes,
 * rings_lost). That the partner still has rings of its own proves
 * nothing: it may have died and come back with the same domid, and ours
 * went with the first. */
#define RING_CHECK_BACKOFF 32u
struct ringslot {
	uint32_t port;
	argo_domid_t partner;
	uint32_t len;
	struct argo_ring *ring; /* NULL: not registered now */
	uint64_t next_check_ms;
	uint32_t check_ms; /* the interval to the next check (0: the shortest) */
	bool heard;        /* a message came through it since the last check */
	int last_err;      /* logged once per cause */
};

/* ---- device.c: one virtio device ---- */

struct counters {
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
	uint64_t chains, chain_out_bytes, chain_in_bytes, fragments_in, fragments_out;
	uint64_t errors_sent, errors_suppressed, refused[VIRTIO_ARGO_ERR_BACKEND + 1];
	uint64_t sendv_calls, notify_calls;            /* Argo operations (bus: the daemon's) */
	uint64_t ring_checks, ring_probes, rings_lost; /* our rings' existence (struct ringslot) */
	uint64_t send_waits, foreign, attaches, detaches, resets, driver_gone;
	uint64_t backend_connects, backend_lost, backend_errors, chains_failed, chains_dropped;
	uint64_t latency_us_sum, latency_samples, latency_us_max;
};

enum chain_state { CHAIN_FREE, CHAIN_FILLING, CHAIN_BACKEND, CHAIN_DONE };

struct chain {
	enum chain_state state;
	uint16_t token, n_out, n_in;
	uint32_t out_bytes, in_bytes, received; /* received: out bytes so far */
	uint32_t used_len, sent;                /* completion: length, bytes sent */
	bool failed; /* complete with the device type's error, not by the back end */
	uint64_t start_us;
	struct chain *next; /* in the device's completion FIFO */
	uint16_t q, id;
};

struct vqueue {
	uint32_t size; /* 0: not configured */
	bool enabled, started;
	uint64_t desc_addr, driver_addr, device_addr;
	struct svring ring;
	int kick_fd, call_fd;
	uint32_t inflight; /* chains given to the back end */
	bool kick_due;
	struct chain *chains; /* [queue_size] */
	void *call_watch;     /* the event loop's watcher of call_fd */
};

/* A small message waiting for room in the driver's ring. */
struct out_msg {
	struct out_msg *next;
	uint32_t from; /* our port */
	xen_argo_addr_t dst;
	uint16_t len;
	uint8_t buf[VIRTIO_ARGO_MAX_MSG_SIZE];
};

/* What must happen when the device has no chain in the back end. */
enum quiesce { Q_NONE, Q_RESET, Q_RESET_VQ };

struct device {
	struct vdev_config *cfg_all;
	const struct vdev_device_config *cfg;
	struct bus *bus;
	struct ringslot rs; /* its port's ring */
	uint32_t port;

	/* The back end. */
	struct vhu vhu;
	bool backend_up, ever_up, backend_started;
	uint64_t backend_retry_ms;
	char backend_why[256]; /* why it is down, logged once per cause */
	struct shadow shadow;
	void *backend_watch;
	uint64_t offered; /* features offered to the driver */
	uint8_t config[VDEV_CONFIG_SPACE];
	uint32_t config_size, generation;
	uint32_t nqueues;

	/* The driver. */
	bool attached;
	xen_argo_addr_t driver; /* the attached address */
	uint32_t driver_max_rx, transport_features;
	uint64_t driver_features;
	bool bad_features; /* the driver chose a bit beyond the offered blocks */
	uint32_t status;
	struct vqueue q[VDEV_MAX_QUEUES];

	/* Deferred work: a reset waiting for the back end's chains. */
	enum quiesce quiesce;
	uint32_t quiesce_vq;
	uint64_t quiesce_deadline_ms;
	bool quiesce_detach;     /* unbind when done */
	bool quiesce_respond;    /* a response is owed when done */
	struct vmsg quiesce_req; /* the request to answer */
	xen_argo_addr_t quiesce_src;

	/* Sending to the driver: completions and small messages, in order. */
	struct chain *done_head, *done_tail;
	struct out_msg *out_head, *out_tail;
	unsigned int out_count;
	bool blocked;          /* the driver's ring is full: stop reading ours */
	uint32_t blocked_need; /* the payload length that did not fit */

	uint64_t last_liveness_ms;
	uint64_t err_window_ms;
	unsigned int err_count;
	struct counters c;
};

int device_init(struct device *d, struct bus *bus, const struct vdev_device_config *cfg);
void device_fini(struct device *d);
/* Back end: (re)connect when due; lost when its socket closes. */
void device_backend_poll(struct device *d, uint64_t now_ms);
void device_backend_lost(struct device *d, const char *why);
/* A message on the device's port (decoded; data in place for BUF). */
void device_message(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m);
/* The back end used buffers on queue q. */
void device_used(struct device *d, uint32_t q);
/* Sends what waits; 1 if everything went, 0 if still blocked. */
int device_flush(struct device *d);
/* Once a second: liveness of the driver, time-outs. */
void device_tick(struct device *d, uint64_t now_ms);
bool device_ready(const struct device *d);
/* Checks a BUF fragment before its data is copied out of the Argo ring:
 * 1 and *dst (where the data goes; NULL: nowhere, drop it) when accepted,
 * then call device_buf_done(); 0 when refused (an ERROR went out). */
int device_buf_target(struct device *d, const xen_argo_addr_t *src, const struct vmsg *m,
                      uint8_t **dst);
/* The fragment's data is in place. */
void device_buf_done(struct device *d, const struct vmsg *m);
void device_kick_all(struct device *d);
/* The device's ring vanished (its partner domain died): its driver is gone. */
void device_ring_lost(struct device *d);

/* ---- bus.c: the Argo side ---- */

struct bus {
	struct vdev_config *cfg;
	struct argo_fabric *fabric;
	argo_domid_t domid;
	struct ringslot rings[VDEV_MAX_PARTNERS]; /* the bus port, per partner */
	unsigned int nrings;
	struct device devices[VDEV_MAX_DEVICES];
	unsigned int ndevices;
	xen_argo_addr_t subscribers[VDEV_MAX_SUBSCRIBERS];
	unsigned int nsubscribers;
	struct out_msg *out_head, *out_tail; /* bus answers waiting for room */
	unsigned int out_count;
	uint64_t err_window_ms;
	unsigned int err_count;
	uint8_t *rxbuf;  /* one message's control part */
	bool notify_due; /* a sender may be waiting for room we made */
	struct counters c;
};

int bus_open(struct bus *b, struct vdev_config *cfg);
void bus_close(struct bus *b);
/* Reads every ring until empty (or blocked), then retries what waits. */
void bus_poll(struct bus *b);
void bus_tick(struct bus *b, uint64_t now_ms);
/* Sends one message (header and payload in buf, then an optional data
 * span) to dst: 0 sent, -EAGAIN (the caller keeps it), or another error. */
int bus_send(struct bus *b, uint32_t from_port, const xen_argo_addr_t *dst, const void *buf,
             size_t len, const void *data, size_t dlen);
/* Encodes and sends m to dst from port; queues it on *head when dst's
 * ring is full. Returns 0, or a negative errno (the message is dropped). */
int bus_reply(struct bus *b, uint32_t from_port, const xen_argo_addr_t *dst, const struct vmsg *m,
              struct out_msg **head, struct out_msg **tail, unsigned int *count);
/* An ERROR event about m to src (rate-limited per window). */
void bus_error(struct bus *b, uint32_t from_port, const xen_argo_addr_t *src, uint16_t dev_num,
               uint8_t type, uint8_t msg_id, uint16_t token, int reason, int err,
               uint64_t *window_ms, unsigned int *count, struct counters *c);
void bus_device_event(struct bus *b, struct device *d, uint16_t state);
/* Does the ring (domid, port) still exist? 1 yes, 0 no, <0 error. With
 * space > 0 the check also (re)queues us as a waiter for that much room,
 * as a sendv that got -EAGAIN did (a notify entry with space_required 0
 * would cancel that wait). */
int bus_ring_exists(struct bus *b, const xen_argo_addr_t *addr, uint32_t space);

/* ---- control.c: the control socket ---- */

int control_open(const char *path);
/* Answers one client of the listening socket lfd. */
void control_accept(int lfd, struct bus *b);

/* ---- vdevd.c: the event loop ---- */

struct watch {
	int fd;
	void (*fn)(struct watch *w, uint32_t events);
	void *ctx;
	struct watch *next_dead;
};

extern int vdev_verbose;
void vdev_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t vdev_now_us(void);
uint64_t vdev_now_ms(void);
/* Watches fd for events (EPOLLIN...), calling fn; returns the watch or NULL. */
struct watch *vdev_watch(int fd, uint32_t events, void (*fn)(struct watch *, uint32_t), void *ctx);
void vdev_unwatch(struct watch *w);

#endif /* VDEV_VDEV_H */
