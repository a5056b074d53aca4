/* SPDX-License-Identifier: MIT */
/*
 * Routed mode: a program that knows it lives in a world of relays talks to
 * global addresses (hvid, domid, port) directly, through the relay of its
 * own fabric, instead of through the relay's configured import ports.
 *
 * It is plain Argo underneath, on any fabric (sim, xen):
 *
 *   sending: the message goes to (relay domid, ARGO_ROUTED_PORT) with a
 *   32-byte routed header in front of the payload naming the destination.
 *   The relay strips it and routes by hvid, like any other message (policy,
 *   order, back-pressure, no loss, no duplicate).
 *
 *   receiving: the last relay sends the message from its own routed port,
 *   with a routed header naming the true global source in front of the
 *   payload, so that the receiver can answer with argo_routed_sendv().
 *   argo_routed_recv() takes the header off. Only a header that comes from
 *   the relay's routed port is believed: any domain can pick port
 *   ARGO_ROUTED_PORT as its source, so the relay's domid is an argument.
 *
 *   errors: a message the relays cannot deliver comes back from the relay's
 *   routed port as a report (message_type ARGO_MSGTYPE_UNDELIVERABLE);
 *   argo_routed_recv() turns it into the errno Xen would have given for the
 *   send (-ECONNREFUSED no ring, -EMSGSIZE too large, -EACCES refused by a
 *   policy, -EHOSTUNREACH no route to the hvid).
 *
 * The relay's routed ring is a wildcard ring: its fabric must allow those
 * (argo-simd -m, Xen's argo mac-permissive=1). docs/client-api.md has the
 * byte layout.
 *
 * Return conventions as in argo/argo.h.
 */
#ifndef ARGO_ROUTED_H
#define ARGO_ROUTED_H

#include "argo/argo.h"

#define ARGO_ROUTED_PORT           0xA4600000u
#define ARGO_MSGTYPE_UNDELIVERABLE 0xA4600001u
#define ARGO_ROUTED_HDR_SIZE       32u
#define ARGO_ROUTED_REPORT_SIZE    28u /* an undeliverable report's payload */
#define ARGO_ROUTED_MAGIC          0x54525241u /* "ARRT" */
#define ARGO_ROUTED_VERSION        1u
#define ARGO_HVID_SIZE             16u

struct argo_gaddr {
	char hvid[ARGO_HVID_SIZE]; /* NUL terminated; empty: this fabric (no relay) */
	argo_domid_t domid;
	uint32_t port;
};

/* Parses "HVID:DOMID:PORT" (hvid 1..15 of [A-Za-z0-9._-]): 0 or -EINVAL. */
int argo_gaddr_parse(const char *text, struct argo_gaddr *addr);

/* Writes / reads a routed header (ARGO_ROUTED_HDR_SIZE bytes, little
 * endian). Decoding returns 0, or -EBADMSG for a bad magic, version,
 * reserved field or hvid. */
void argo_routed_hdr_put(uint8_t *hdr, const struct argo_gaddr *addr);
int argo_routed_hdr_get(const uint8_t *hdr, struct argo_gaddr *addr);

/* Writes / reads the payload of an undeliverable report (message_type
 * ARGO_MSGTYPE_UNDELIVERABLE, ARGO_ROUTED_REPORT_SIZE bytes, little endian):
 * error (a positive errno), then the global destination that failed (an
 * empty hvid when the routed header that should have named it could not be
 * read). The relays write it; argo_routed_recv() reads it. Decoding returns
 * 0, or -EBADMSG for a wrong length, a bad hvid or reserved field. */
void argo_routed_report_put(uint8_t *out, uint32_t error, const struct argo_gaddr *dst);
int argo_routed_report_get(const uint8_t *in, size_t len, uint32_t *error, struct argo_gaddr *dst);

/* Sends iov (at most XEN_ARGO_MAXIOV - 1 entries: the header takes one) to
 * dst through the relay whose domid on this fabric is 'relay', from our
 * port src_port. Returns the payload bytes sent (the header not counted)
 * or -errno as argo_sendv() (-EAGAIN: the relay's ring is full; wait for
 * the event). -EINVAL for a bad hvid or too many iovs. */
ssize_t argo_routed_sendv(struct argo_fabric *fabric, argo_domid_t relay, uint32_t src_port,
                          const struct argo_gaddr *dst, const struct iovec *iov, unsigned int niov,
                          uint32_t message_type);

/* Reads the next message of ring. buf must have room for the payload plus
 * ARGO_ROUTED_HDR_SIZE bytes (-EMSGSIZE otherwise, nothing consumed).
 *   >= 0: a message; *src is its global source (an empty hvid for a plain
 *         message from a domain of this fabric) and the payload is at buf;
 *   -EAGAIN: the ring is empty;
 *   -ECONNREFUSED, -EMSGSIZE, -EACCES, -EHOSTUNREACH (or another errno the
 *         relay reported): an undeliverable report for a message we sent
 *         to *src (the destination that failed); consumed;
 *   -EBADMSG: a corrupt ring, or a routed message from the relay with a bad
 *         header (consumed, so the next call goes on).
 * message_type and src may be NULL. Call argo_notify() after consuming, as
 * after argo_recv(). */
ssize_t argo_routed_recv(struct argo_ring *ring, argo_domid_t relay, struct argo_gaddr *src,
                         uint32_t *message_type, void *buf, size_t bufsz);

#endif /* ARGO_ROUTED_H */
