/* SPDX-License-Identifier: MIT */
/*
 * argo-echo: a stand-in driver domain. Registers a ring and sends every
 * message back to whoever sent it (the source the fabric stamped), with the
 * same message type and payload; except a relay's undeliverable report
 * (message type ARGO_MSGTYPE_UNDELIVERABLE: one of our replies could not be
 * delivered), which is counted and told on stderr, never sent back: a
 * report echoed to a relay would be a report about a report. Options:
 * usage() below, and argo-echo(1) (docs/man/argo-echo.1).
 *
 * --routed also answers messages that came in routed mode (argo/routed.h)
 * through the relay of that domid: back to their global source, in routed
 * mode. Plain messages are answered plainly either way.
 *
 * --echo-all sends back the relays' reports too, as a careless service
 * would: for tests, which check that the relays drop such echoes instead of
 * answering them (issue 11).
 *
 * --die-after N SIGKILLs itself right after its Nth reply, as a crash would:
 * for tests that need the service to die in the middle of a conversation
 * however slow the machine (a test that polls, then kills, may come too
 * late on a loaded machine: the conversation is over).
 *
 * When the fabric goes away (argo-simd stopped), a call fails with
 * -ENOTCONN, or argo_fabric_check() says so after a second without a
 * message: argo-echo says so and exits 1 instead of serving nothing.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>

#include "argo/routed.h"
#include "tool_util.h"

static volatile sig_atomic_t stop;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: argo-echo --fabric URI --port PORT [options]\n"
	        "Sends every message that arrives on ring PORT back to its sender, with the\n"
	        "same message type and payload.\n"
	        "\n"
	        "  -f, --fabric URI          the fabric: sim:SOCKET (argo-simd) or xen:/dev/argo\n"
	        "  -p, --port PORT           Argo port of the ring to serve (required)\n"
	        "  -P, --partner DOMID       take messages from DOMID only (default: any domain,\n"
	        "                            a wildcard ring, which needs argo-simd -m)\n"
	        "  -n, --count N             exit after echoing N messages (default: until\n"
	        "                            SIGTERM or SIGINT)\n"
	        "  -r, --ring-len BYTES      ring length, a multiple of 16 (default 262144)\n"
	        "  -R, --routed RELAY_DOMID  also answer routed-mode messages that come\n"
	        "                            through the relay of domain RELAY_DOMID\n"
	        "  -A, --echo-all            send the relays' undeliverable reports back too\n"
	        "                            (for tests: by default they are counted, never\n"
	        "                            answered)\n"
	        "  -D, --die-after N         SIGKILL ourselves right after the Nth reply, as a\n"
	        "                            crash would (for tests)\n"
	        "  -h, --help                print this help and exit\n"
	        "  -V, --version             print the version and exit\n"
	        "\n"
	        "Prints 'argo-echo: domain D serving port P' once serving. Exit status: 0\n"
	        "after --count messages or a signal, 1 when the fabric fails or goes away,\n"
	        "2 for a usage error.\n");
}

/* A failure of the fabric itself, not of one message: nothing more can work. */
static bool fabric_gone(long err)
{
	return err == -ENOTCONN || err == -EPROTO;
}

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
	    {"echo-all", no_argument, NULL, 'A'},
	    {"die-after", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int routed = 0, echo_all = 0;
	argo_domid_t relay = 0;
	xen_argo_register_ring_t reg = {.partner_id = XEN_ARGO_DOMID_ANY, .len = 256 * 1024};
	const char *uri = NULL;
	unsigned long count = 0, echoed = 0, reports = 0, unsent = 0, die_after = 0;
	struct argo_fabric *fabric;
	struct argo_ring *ring;
	static uint8_t buf[XEN_ARGO_MAX_RING_SIZE];
	int c, ret, have_port = 0, status = 0;

	while ((c = getopt_long(argc, argv, "f:p:P:n:r:R:AD:hV", options, NULL)) != -1) {
		unsigned long long v = 0;

		switch (c) {
		case 'f':
			uri = optarg;
			break;
		case 'p':
			if (tool_parse_number("argo-echo", "port", optarg, 0, UINT32_MAX, &v) < 0)
				return 2;
			reg.aport = (uint32_t)v;
			have_port = 1;
			break;
		case 'P':
			if (tool_parse_number("argo-echo", "partner", optarg, 0,
			                      XEN_DOMID_FIRST_RESERVED - 1, &v) < 0)
				return 2;
			reg.partner_id = (argo_domid_t)v;
			break;
		case 'n':
			if (tool_parse_number("argo-echo", "count", optarg, 1, ULONG_MAX, &v) < 0)
				return 2;
			count = (unsigned long)v;
			break;
		case 'r':
			if (tool_parse_number("argo-echo", "ring-len", optarg, 1, UINT32_MAX, &v) <
			    0)
				return 2;
			reg.len = (uint32_t)v;
			break;
		case 'R':
			if (tool_parse_number("argo-echo", "routed", optarg, 0,
			                      XEN_DOMID_FIRST_RESERVED - 1, &v) < 0)
				return 2;
			routed = 1;
			relay = (argo_domid_t)v;
			break;
		case 'A':
			echo_all = 1;
			break;
		case 'D':
			if (tool_parse_number("argo-echo", "die-after", optarg, 1, ULONG_MAX, &v) <
			    0)
				return 2;
			die_after = (unsigned long)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return tool_print_version("argo-echo");
		default:
			return tool_usage_error("argo-echo");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "argo-echo: unexpected argument '%s'\n", argv[optind]);
		return tool_usage_error("argo-echo");
	}
	if (!uri || !have_port) {
		fprintf(stderr, "argo-echo: --fabric and --port are required\n");
		return tool_usage_error("argo-echo");
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	ret = argo_open(uri, &fabric);
	if (ret < 0) {
		fprintf(stderr, "argo-echo: %s\n", argo_open_error());
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
			/* Tell senders waiting on our ring that it has room again;
			 * the first call to fail tells that the fabric is gone (its
			 * event fd cannot: it stays open when the fabric dies). */
			ret = argo_notify(fabric, NULL);
			if (!fabric_gone(ret)) {
				ret = tool_wait_event(fabric, 1000);
				if (ret < 0) {
					status = 1;
					break;
				}
				/* Idle for a second: libargo answers a notify with
				 * nobody to wake itself, so ask (argo_fabric_check). */
				ret = ret == 0 ? argo_fabric_check(fabric) : 0;
			}
			if (fabric_gone(ret)) {
				fprintf(stderr,
				        "argo-echo: lost the fabric %s: %s; is its daemon "
				        "running?\n",
				        uri, argo_strerror(ret));
				status = 1;
				break;
			}
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "argo-echo: reading the ring: %s\n", argo_strerror((int)n));
			status = 1;
			break;
		}
		if (type == ARGO_MSGTYPE_UNDELIVERABLE) {
			uint32_t error = 0;
			struct argo_gaddr failed;

			/* The first ten, then every thousandth: a burst of them
			 * (a client died with replies on their way) stays short. */
			if (reports++ < 10 || reports % 1000 == 0) {
				if (argo_routed_report_get(buf, (size_t)n, &error, &failed) == 0)
					fprintf(stderr,
					        "argo-echo: a reply to %s:%u:%u was undeliverable: "
					        "%s (report %lu)\n",
					        failed.hvid, failed.domid, failed.port,
					        strerror((int)error), reports);
				else
					fprintf(stderr,
					        "argo-echo: a malformed report from %u:%u (report "
					        "%lu)\n",
					        addr.dst.domain_id, addr.dst.aport, reports);
			}
			if (!echo_all)
				continue;
		}
		struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
		ssize_t s;

		if (gsrc.hvid[0])
			s = routed_send_wait(fabric, relay, reg.aport, &gsrc, &iov, type, 5000);
		else
			s = tool_send_wait(fabric, &addr, &iov, 1, type, 5000);
		if (fabric_gone(s)) {
			fprintf(stderr,
			        "argo-echo: lost the fabric %s: %s; is its daemon running?\n", uri,
			        argo_strerror((int)s));
			status = 1;
			break;
		}
		if (s < 0) {
			/* Counted: a reply that could not be sent is lost to its
			 * sender, which counts it lost after its time-out. */
			if (unsent++ < 10 || unsent % 1000 == 0)
				fprintf(stderr, "argo-echo: reply to %s:%u:%u: %s (%lu not sent)\n",
				        gsrc.hvid, addr.dst.domain_id, addr.dst.aport,
				        argo_strerror((int)s), unsent);
		} else
			echoed++;
		if (die_after && echoed == die_after) {
			fprintf(stderr, "argo-echo: echoed %lu messages: SIGKILL (--die-after)\n",
			        echoed);
			raise(SIGKILL);
		}
	}
	if (!status)
		argo_notify(fabric, NULL);
	printf("argo-echo: echoed %lu messages, %lu undeliverable reports, %lu replies not sent\n",
	       echoed, reports, unsent);
	argo_unregister_ring(fabric, ring);
	argo_close(fabric);
	return status;
}
