/* SPDX-License-Identifier: MIT */
/*
 * vdrv: a user-space virtio-argo driver (the frontend's side of
 * docs/virtio-argo.md) for tests and benchmarks: it speaks the protocol
 * over libargo as the Linux frontend module does over argo.ko, without
 * virtqueues of its own (a test names its chains' ids itself).
 *
 * Return conventions: 0 or a count on success, a negative errno value on
 * failure; -ETIMEDOUT when no answer came in time; -EREMOTEIO when the
 * device answered with an ERROR event (its reason in dev->last_error).
 */
#ifndef TESTS_VDRV_H
#define TESTS_VDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "argo/argo.h"
#include "vmsg.h"

#define VDRV_PORT_BASE 0x56420000u /* our bus ring; device N's at +1+N */

/* One received message, copied out of the ring. */
struct vdrv_msg {
	struct vdrv_msg *next;
	xen_argo_addr_t src;
	uint32_t message_type;
	size_t len;
	uint8_t *buf;
	struct vmsg m; /* decoded, pointers into buf; m.type 0xFF if it did not decode */
};

struct vdrv_ring {
	struct argo_ring *ring;
	uint32_t port;
	struct vdrv_msg *head, *tail; /* received, not yet taken */
};

struct vdrv {
	struct argo_fabric *fabric;
	argo_domid_t domid;
	argo_domid_t bus_domid;
	uint32_t bus_port;
	struct vdrv_ring bus;
	uint16_t next_token;
	int timeout_ms;
	uint64_t sendv_calls, notify_calls; /* Argo operations made */
};

struct vdrv_dev {
	struct vdrv *drv;
	uint16_t dev_num;
	uint32_t port;                            /* the device's port (theirs) */
	struct vdrv_ring r;                       /* ours */
	uint32_t max_rx;                          /* ours, told in ATTACH */
	uint32_t dev_max_rx, max_segs, max_chain; /* from the ATTACH response */
	struct virtio_argo_error last_error;      /* host order */
	bool has_error;
};

/* A chain's completion. */
struct vdrv_done {
	uint16_t vq, id, token;
	uint32_t used_len;
	uint8_t *data; /* used_len bytes, malloc'd: the caller frees */
	unsigned int fragments;
};

int vdrv_open(struct vdrv *drv, const char *uri, argo_domid_t bus_domid, uint32_t bus_port,
              uint32_t ring_len);
void vdrv_close(struct vdrv *drv);

/* Registers our ring for device dev_num (local port VDRV_PORT_BASE + 1 +
 * dev_num + port_shift, ring_len bytes). */
int vdrv_dev_open(struct vdrv *drv, struct vdrv_dev *dev, uint16_t dev_num, uint32_t ring_len,
                  uint32_t port_shift);
void vdrv_dev_close(struct vdrv_dev *dev);

/* Reads every ring into its queue; waits up to timeout_ms for something
 * when nothing is there. Returns messages read. */
int vdrv_pump(struct vdrv *drv, struct vdrv_dev **devs, unsigned int ndevs, int timeout_ms);

/* Sends raw bytes from ring r's port to (bus domid, port). */
int vdrv_send_raw(struct vdrv *drv, struct vdrv_ring *r, uint32_t port, const void *buf, size_t len,
                  const void *data, size_t dlen, uint32_t message_type);

/* A request on the bus port, waiting for its response (into *resp, whose
 * pointers stay valid until the next call on drv). */
int vdrv_bus_call(struct vdrv *drv, struct vmsg *req, struct vmsg *resp);

/* A request to the device, waiting for its response. */
int vdrv_call(struct vdrv_dev *dev, struct vmsg *req, struct vmsg *resp);

/* Takes the next message on dev's ring that is not a BUF response: an
 * event or an answer nobody waited for. -ETIMEDOUT if none came. */
int vdrv_next_event(struct vdrv_dev *dev, struct vmsg *m, int timeout_ms);

/* Drops everything queued for dev (and the bus ring). */
void vdrv_flush(struct vdrv_dev *dev);

/* Shortcuts. status/features/queue set-up; attach with max_rx. */
int vdrv_attach(struct vdrv_dev *dev, uint32_t max_rx, uint32_t features, uint32_t *status);
int vdrv_set_status(struct vdrv_dev *dev, uint32_t status, uint32_t *result);
int vdrv_get_features(struct vdrv_dev *dev, uint64_t *features);
int vdrv_set_features(struct vdrv_dev *dev, uint64_t features);
int vdrv_get_config(struct vdrv_dev *dev, uint32_t offset, uint32_t len, uint8_t *buf,
                    uint32_t *generation);
int vdrv_set_vqueue(struct vdrv_dev *dev, uint32_t index, uint32_t size, uint32_t flags);
int vdrv_get_vqueue(struct vdrv_dev *dev, uint32_t index, struct vmsg_vqueue *q);
/* The whole initialisation: info, attach, reset, ACK, DRIVER, features
 * (offered & want), FEATURES_OK, each of nqueues queues of size qsize,
 * DRIVER_OK. Returns 0, or the step's error. */
int vdrv_init_device(struct vdrv_dev *dev, uint64_t want, uint32_t nqueues, uint32_t qsize,
                     uint32_t max_rx, uint64_t *negotiated);

/* Sends chain (vq, id): out buffers (n_out pointers and lengths), in
 * buffer lengths (n_in). Fragments by the device's max_rx, or by frag when
 * frag is not 0. Returns 0 or the sendv error. */
int vdrv_submit(struct vdrv_dev *dev, uint16_t vq, uint16_t id, const void *const *out,
                const uint32_t *out_len, uint16_t n_out, const uint32_t *in_len, uint16_t n_in,
                uint32_t frag, uint16_t *token);
/* Waits for the next whole completion on dev. */
int vdrv_wait_done(struct vdrv_dev *dev, struct vdrv_done *done, int timeout_ms);

/* Waits for an ERROR event about token (or any ERROR when token is
 * 0xFFFFFFFF) on dev's ring, or on the bus ring when dev is NULL: 0 and
 * *e, or -ETIMEDOUT. */
int vdrv_wait_error(struct vdrv *drv, struct vdrv_dev *dev, uint32_t token,
                    struct virtio_argo_error *e, int timeout_ms);

#endif /* TESTS_VDRV_H */
