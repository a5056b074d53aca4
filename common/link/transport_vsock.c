/* SPDX-License-Identifier: MIT */
/*
 * The vsock transport: AF_VSOCK stream sockets (KVM vhost-vsock), the L1 <->
 * L2 channel of a QEMU-in-QEMU chain.
 *
 *   connect = CID:PORT     CID a number, or "host" for the host (CID 2)
 *   listen  = PORT         on every CID of this machine (VMADDR_CID_ANY)
 *   listen  = any:PORT     the same
 *   listen  = CID:PORT     on one CID
 *
 * PORT is a number below 4294967295 (VMADDR_PORT_ANY). Numbers are decimal
 * or 0x hex. A kernel without AF_VSOCK gives -EAFNOSUPPORT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "parse.h"
#include "transport.h"

#define VSOCK_BACKLOG 16

/* Parses CID:PORT, any:PORT, host:PORT or PORT; *any says the CID was left
 * to the kernel (no CID or "any"). */
static int vsock_parse(const char *address, uint32_t *cid, uint32_t *port, bool *any,
                       const char **why)
{
	const char *colon;

	if (!address || !*address) {
		*why = "a vsock address is CID:PORT (connect) or PORT / any:PORT (listen)";
		return -EINVAL;
	}
	colon = strchr(address, ':');
	*any = false;
	if (!colon) {
		*any = true;
		*cid = VMADDR_CID_ANY;
		colon = address - 1;
	} else if ((size_t)(colon - address) == 3 && !strncmp(address, "any", 3)) {
		*any = true;
		*cid = VMADDR_CID_ANY;
	} else if ((size_t)(colon - address) == 4 && !strncmp(address, "host", 4)) {
		*cid = VMADDR_CID_HOST;
	} else if (parse_u32n(address, (size_t)(colon - address), UINT32_MAX - 1, cid) < 0) {
		*why = "a vsock CID is a number below 4294967295, 'host' or 'any'";
		return -EINVAL;
	}
	if (parse_u32(colon + 1, UINT32_MAX - 1, port) < 0) {
		*why = "a vsock port is a number below 4294967295";
		return -EINVAL;
	}
	return 0;
}

static int vsock_check_address(const char *address, const char **why)
{
	uint32_t cid, port;
	bool any;
	const char *dummy;

	return vsock_parse(address, &cid, &port, &any, why ? why : &dummy);
}

static int vsock_socket(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		return fd;
	/* No vsock in this kernel (module not loaded, no transport). */
	if (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT || errno == ENODEV ||
	    errno == ESOCKTNOSUPPORT)
		return -EAFNOSUPPORT;
	return -errno;
}

static void vsock_fill(struct sockaddr_vm *svm, uint32_t cid, uint32_t port)
{
	memset(svm, 0, sizeof(*svm));
	svm->svm_family = AF_VSOCK;
	svm->svm_cid = cid;
	svm->svm_port = port;
}

static int vsock_listen(const char *address)
{
	struct sockaddr_vm svm;
	uint32_t cid, port;
	const char *why;
	bool any;
	int fd, rc;

	rc = vsock_parse(address, &cid, &port, &any, &why);
	if (rc < 0)
		return rc;
	fd = vsock_socket();
	if (fd < 0)
		return fd;
	vsock_fill(&svm, cid, port);
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 || listen(fd, VSOCK_BACKLOG) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int vsock_accept(int listen_fd, struct transport_peer *peer)
{
	struct sockaddr_vm svm;
	socklen_t len = sizeof(svm);
	int fd;

	memset(&svm, 0, sizeof(svm));
	do
		fd =
		    accept4(listen_fd, (struct sockaddr *)&svm, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (peer) {
		snprintf(peer->name, sizeof(peer->name), "cid %u port %u", svm.svm_cid,
		         svm.svm_port);
		snprintf(peer->source, sizeof(peer->source), "cid %u", svm.svm_cid);
	}
	return fd;
}

static int vsock_connect(const char *address)
{
	struct sockaddr_vm svm;
	uint32_t cid, port;
	const char *why;
	bool any;
	int fd, rc;

	rc = vsock_parse(address, &cid, &port, &any, &why);
	if (rc < 0)
		return rc;
	if (any)
		return -EINVAL; /* connecting needs a CID */
	fd = vsock_socket();
	if (fd < 0)
		return fd;
	vsock_fill(&svm, cid, port);
	if (connect(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

extern const struct transport_ops transport_vsock_ops;
const struct transport_ops transport_vsock_ops = {
    .kind = TRANSPORT_VSOCK,
    .check_address = vsock_check_address,
    .listen = vsock_listen,
    .accept = vsock_accept,
    .connect = vsock_connect,
    .is_socket = 1,
};
