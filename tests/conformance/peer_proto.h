/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's remote peers: the wire between the suite's
 * `remote:` domains (remote_peer.c) and argo-conformance-peer, which runs
 * in another domain (a PV domU on Xen) and makes the calls there.
 *
 * A byte stream (a UNIX socket; between domains, vchan-socket-proxy
 * carries it over a Xen vchan) of frames: a header, then len bytes of
 * payload. Requests go from the suite to the peer and each gets one reply
 * (op | PEER_REPLY, the same seq); the peer also sends PEER_EVENT frames
 * whenever its domain got VIRQ_ARGO. Every frame carries the session the
 * suite chose in its HELLO; frames of another session are dropped, and a
 * reader that finds no magic where a header should be skips bytes until it
 * does: a vchan can hand a new connection bytes the last one left behind.
 * Both ends are the same machine type, so fields are in host byte order.
 */
#ifndef ARGO_PEER_PROTO_H
#define ARGO_PEER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "argo/abi.h"

#define PEER_MAGIC       0x31524550u /* "PER1" */
#define PEER_MAX_PAYLOAD (64u << 20)
#define PEER_MAX_RINGS   1024u /* ring handles one session may hold */
#define PEER_MAX_IOVS    64u   /* iovs passed through (Xen refuses > 8) */
#define PEER_MAX_NENT    4096u /* notify entries passed through */

enum peer_op {
	/* -> {}; <- {int32 ret, uint32 domid}: closes the session's fabric (if
	 * any) and opens a new one: a new domain on sim, the same one on Xen. */
	PEER_HELLO = 1,
	/* -> {register_ring, uint32 flags}; <- {int32 ret, uint32 id} */
	PEER_REGISTER = 2,
	/* -> {unregister_ring}; <- {int32 ret} */
	PEER_UNREGISTER = 3,
	/* -> {uint32 id}; <- {int32 ret}: argo_ring_release of the handle */
	PEER_RELEASE = 4,
	/* -> {send_addr, uint32 niov, uint32 type, uint32 nlens, uint32 pad,
	 *     uint64 len[nlens], the payload}; <- {int64 ret} */
	PEER_SENDV = 5,
	/* -> {uint32 has_data, xen_argo_ring_data header, entries};
	 * <- {int32 ret, uint32 nent, entries as written back} */
	PEER_NOTIFY = 6,
	/* -> {uint32 id}; <- {int32 ret, uint32 size, header + ring bytes} */
	PEER_READ_RING = 7,
	/* -> {uint32 id, uint32 bufsz, uint32 peek}; <- {int64 ret,
	 *     xen_argo_addr source, uint32 type, payload (recv only)} */
	PEER_RECV = 8,
	/* -> {}; <- {int32 0}, then the peer closes its fabric and exits */
	PEER_DIE = 9,
	/* <- {uint64 count}: unsolicited, the peer's domain got VIRQ_ARGO */
	PEER_EVENT = 0x40,
	PEER_REPLY = 0x8000,
};

struct peer_hdr {
	uint32_t magic;
	uint32_t session;
	uint32_t seq;
	uint16_t op;
	uint16_t flags; /* 0 */
	uint32_t len;
};

/* Writes one frame (header, then up to two pieces of payload). 0 or -errno. */
int peer_send(int fd, uint32_t session, uint32_t seq, uint16_t op, const void *p1, size_t n1,
              const void *p2, size_t n2);

/* Reads the next frame; *payload is malloc'd (NULL when len is 0), the
 * caller frees it. 0, -ECONNRESET at the end of the stream, or -errno. */
int peer_recv(int fd, struct peer_hdr *hdr, void **payload);

#endif
