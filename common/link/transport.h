/* SPDX-License-Identifier: MIT */
/*
 * Link transports: each turns a configured address into a connected,
 * non-blocking byte-stream fd. The link layers (session, frames, stream) do
 * everything else (framing, authentication, ordering) the same way on all
 * of them.
 *
 * One file per transport: transport_unix.c, transport_tcp.c,
 * transport_serial.c, transport_vsock.c, transport_argo.c.
 *
 * Return conventions: an fd (>= 0) or a negative errno; *why (may be NULL)
 * gets a static string for configuration-type errors.
 */
#ifndef ARGO_RELAY_TRANSPORT_H
#define ARGO_RELAY_TRANSPORT_H

/* The kinds, in the order of the configuration's names (transport_name()). */
enum transport_kind {
	TRANSPORT_UNIX,
	TRANSPORT_TCP,
	TRANSPORT_SERIAL,
	TRANSPORT_VSOCK,
	TRANSPORT_ARGO,
};

/* The longest address (with its NUL) a transport takes. */
#define TRANSPORT_ADDR_MAX 256
#define TRANSPORT_PEER_MAX 64

/* Who connected (accept()), as far as the transport can tell. */
struct transport_peer {
	/* For the log: "127.0.0.1:40312", "uid 1000 pid 4242", "cid 3 port
	 * 1025", "domain 7 port 0xf1000003". */
	char name[TRANSPORT_PEER_MAX];
	/* What failed handshakes are counted against (a lockout keeps this
	 * source out, and only it): the address without the port, the uid,
	 * the CID, the domain. */
	char source[TRANSPORT_PEER_MAX];
};

struct transport_ops {
	enum transport_kind kind;
	/* Checks an address's syntax (at config time): 0 or -EINVAL. */
	int (*check_address)(const char *address, const char **why);
	/* A listening fd (non-blocking); NULL when the transport has no
	 * listening side (serial in a guest opens a device instead). */
	int (*listen)(const char *address);
	/* Accepts one connection from a listening fd: a non-blocking fd;
	 * peer (may be NULL) says who connected. */
	int (*accept)(int listen_fd, struct transport_peer *peer);
	/* Starts connecting: a non-blocking fd, possibly still connecting
	 * (the link waits for it to become writable and checks SO_ERROR
	 * when is_socket). */
	int (*connect)(const char *address);
	int is_socket;
};

const struct transport_ops *transport_get(enum transport_kind kind);
/* "unix", "tcp", "serial", "vsock", "argo" ("?" for anything else). */
const char *transport_name(enum transport_kind kind);

/* argo: messages its pumps dropped since start-up (from a domain or port
 * that is not the peer's, or of an unknown type). For tests. */
unsigned long transport_argo_dropped(void);

#endif /* ARGO_RELAY_TRANSPORT_H */
