/* SPDX-License-Identifier: MIT */
/*
 * argo-echo: a stand-in driver domain. Registers a ring and sends every
 * message back to whoever sent it (the source the fabric stamped), with the
 * same message type and payload.
 *
 *   argo-echo --fabric URI --port PORT [--partner DOMID] [--count N] [--ring-len BYTES]
 *             [--routed RELAY_DOMID]
 *
 * --routed also answers messages that came in routed mode (argo/routed.h)
 * through the relay of that domid: back to their global source, in routed
 * mode. Plain messages are answered plainly either way.
 *
 * --partner defaults to any domain (a wildcard ring: the fabric must be
 * mac-permissive). Exits 0 after --count messages, or runs until killed.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>

#include "argo/routed.h"
#include "tool_util.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* argo_routed_sendv() that waits for space, as tool_send_wait(). */
static ssize_t routed_send_wait(struct argo_fabric *fabric, argo_domid_t relay, uint32_t port,
                                const struct argo_gaddr *dst, const struct iovec *iov,
                                uint32_t type, int timeout_ms)
{
	for (;;) {
		ssize_t n = argo_routed_sendv(fabric, relay, port, dst, iov, 1, type);
		int w;

		if (n != -EAGAIN)
			return n;
		w = tool_wait_event(fabric, timeout_ms);
		if (w <= 0)
			return w < 0 ? w : -ETIMEDOUT;
		argo_event_clear(fabric);
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"fabric", required_argument, NULL, 'f'},
	    {"port", required_argument, NULL, 'p'},
	    {"partner", required_argument, NULL, 'P'},
	    {"count", required_argument, NULL, 'n'},
	    {"ring-len", required_argument, NULL, 'r'},
	    {"routed", required_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	int routed = 0;
	argo_domid_t relay = 0;
	xen_argo_register_ring_t reg = {.partner_id = XEN_ARGO_DOMID_ANY, .len = 256 * 1024};
	const char *uri = NULL;
	unsigned long count = 0, echoed = 0;
	struct argo_fabric *fabric;
	struct argo_ring *ring;
	static uint8_t buf[XEN_ARGO_MAX_RING_SIZE];
	int c, ret;

	while ((c = getopt_long(argc, argv, "f:p:P:n:r:R:", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			uri = optarg;
			break;
		case 'p':
			reg.aport = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			reg.partner_id = (argo_domid_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reg.len = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			routed = 1;
			relay = (argo_domid_t)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			        "usage: argo-echo --fabric URI --port PORT [--partner DOMID] "
			        "[--count N] [--ring-len BYTES]\n");
			return 2;
		}
	}
	if (!uri) {
		fprintf(stderr, "argo-echo: --fabric is required\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	ret = argo_open(uri, &fabric);
	if (ret < 0) {
		fprintf(stderr, "argo-echo: %s: %s%s%s\n", uri, argo_strerror(ret),
		        *argo_open_error() ? ": " : "", argo_open_error());
		return 1;
	}
	ret = argo_register_ring(fabric, &reg, 0, &ring);
	if (ret < 0) {
		fprintf(stderr, "argo-echo: register port %u: %s\n", reg.aport, argo_strerror(ret));
		argo_close(fabric);
		return 1;
	}
	printf("argo-echo: domain %u serving port %u\n", argo_domid(fabric), reg.aport);
	fflush(stdout);

	while (!stop && (!count || echoed < count)) {
		xen_argo_send_addr_t addr = {
		    .src = {.aport = reg.aport, .domain_id = XEN_ARGO_DOMID_ANY}};
		uint32_t type;
		ssize_t n;

		struct argo_gaddr gsrc = {{0}, 0, 0};

		argo_event_clear(fabric);
		if (routed) {
			n = argo_routed_recv(ring, relay, &gsrc, &type, buf, sizeof(buf));
			addr.dst.domain_id = gsrc.domid;
			addr.dst.aport = gsrc.port;
			if (n < 0 && n != -EAGAIN && n != -EBADMSG) {
				/* A report about one of our replies: nothing to echo. */
				fprintf(stderr,
				        "argo-echo: a reply to %s:%u:%u was undeliverable: %s\n",
				        gsrc.hvid, gsrc.domid, gsrc.port, strerror((int)-n));
				continue;
			}
		} else {
			n = argo_recv(ring, &addr.dst, &type, buf, sizeof(buf));
		}
		if (n == -EAGAIN) {
			/* Tell senders waiting on our ring that it has room again. */
			argo_notify(fabric, NULL);
			if (tool_wait_event(fabric, 1000) < 0)
				break;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "argo-echo: reading the ring: %s\n", argo_strerror((int)n));
			break;
		}
		struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
		ssize_t s;

		if (gsrc.hvid[0])
			s = routed_send_wait(fabric, relay, reg.aport, &gsrc, &iov, type, 5000);
		else
			s = tool_send_wait(fabric, &addr, &iov, 1, type, 5000);
		if (s < 0)
			fprintf(stderr, "argo-echo: reply to %s:%u:%u: %s\n", gsrc.hvid,
			        addr.dst.domain_id, addr.dst.aport, argo_strerror((int)s));
		else
			echoed++;
	}
	argo_notify(fabric, NULL);
	printf("argo-echo: echoed %lu messages\n", echoed);
	argo_unregister_ring(fabric, ring);
	argo_close(fabric);
	return 0;
}
