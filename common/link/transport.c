/* SPDX-License-Identifier: MIT */
/*
 * The table of link transports (transport.h). Each lives in its own file.
 */
#include <stddef.h>

#include "transport.h"

extern const struct transport_ops transport_unix_ops;
extern const struct transport_ops transport_tcp_ops;
extern const struct transport_ops transport_serial_ops;
extern const struct transport_ops transport_vsock_ops;
extern const struct transport_ops transport_argo_ops;

static const char *const transport_names[] = {
    [TRANSPORT_UNIX] = "unix",   [TRANSPORT_TCP] = "tcp",   [TRANSPORT_SERIAL] = "serial",
    [TRANSPORT_VSOCK] = "vsock", [TRANSPORT_ARGO] = "argo",
};

const char *transport_name(enum transport_kind kind)
{
	if ((unsigned int)kind < sizeof(transport_names) / sizeof(transport_names[0]))
		return transport_names[kind];
	return "?";
}

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
		return &transport_argo_ops;
	}
	return NULL;
}
