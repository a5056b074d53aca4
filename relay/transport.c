/* SPDX-License-Identifier: MIT */
/*
 * The table of link transports (transport.h). Each lives in its own file;
 * argo (a ring pair on an outer Xen fabric) is not written yet, and
 * config_load() refuses it while transport_get() says NULL.
 */
#include <stddef.h>

#include "transport.h"

extern const struct transport_ops transport_unix_ops;
extern const struct transport_ops transport_tcp_ops;
extern const struct transport_ops transport_serial_ops;
extern const struct transport_ops transport_vsock_ops;

const struct transport_ops *transport_get(enum transport_kind kind)
{
	switch (kind) {
	case TRANSPORT_UNIX:
		return &transport_unix_ops;
	case TRANSPORT_TCP:
		return &transport_tcp_ops;
	case TRANSPORT_SERIAL:
		return &transport_serial_ops;
	case TRANSPORT_VSOCK:
		return &transport_vsock_ops;
	case TRANSPORT_ARGO:
		return NULL;
	}
	return NULL;
}
