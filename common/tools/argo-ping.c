/* SPDX-License-Identifier: MIT */
/*
 * argo-ping: sends numbered requests to an echo service and checks every
 * reply: its source, its sequence number and its whole payload. Options:
 * usage() below, and argo-ping(1) (docs/man/argo-ping.1).
 *
 * --global uses routed mode (argo/routed.h): the requests go through the
 * relay of this fabric (domain --relay, 0 by default) to a global address,
 * and the replies must come back from that global address.
 *
 * With --max-size, request i is --size << (i mod k) bytes, capped at
 * --max-size (k the number of powers of two from one to the other), so
 * every size class appears all along the run; each reply is compared byte
 * for byte with the request it answers. --window N keeps up to N requests
 * in flight (default 1: one at a time); replies must come back in order.
 *
 * Prints one line per failure and a summary with round-trip percentiles;
 * exits 0 only if every reply came back intact and in order.
 *
 * A reply that does not come within --timeout ends the run, unless
 * --keep-going: then that request counts as lost and the next one goes (a
 * reply that comes later still is counted "late", not duplicated). For
 * tests that restart the service in the middle of a run.
 *
 * A request that a relay could not deliver comes back as a control message
 * of the reserved message_type ARGO_MSGTYPE_UNDELIVERABLE (argo/routed.h,
 * argo_routed_report_get(): the error and the destination). It is reported as
 *   argo-ping: request #N undeliverable: <strerror(error)> (reported by the relay)
 * and counted as "refused" in the summary.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>

#include "argo/routed.h"
#include "tool_util.h"

#define PING_TYPE 0x50494e47u /* "PING" */

/* Bounds of --count (one 8-byte round-trip slot each) and --size. */
#define MAX_COUNT  100000000ul
#define MAX_SIZE   (1024ul * 1024)
#define MAX_WINDOW 64ul

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: argo-ping --fabric URI --to DOMID:PORT [options]\n"
	        "       argo-ping --fabric URI --global HVID:DOMID:PORT [--relay DOMID] [options]\n"
	        "Sends numbered requests to an echo service (argo-echo), --window at a time,\n"
	        "and checks every reply: its source, its number and its whole payload.\n"
	        "\n"
	        "  -f, --fabric URI          the fabric: sim:SOCKET (argo-simd) or xen:/dev/argo\n"
	        "  -t, --to DOMID:PORT       the echo service's ring (through a relay: the\n"
	        "                            relay's domid and an import port it serves)\n"
	        "  -g, --global HVID:DOMID:PORT\n"
	        "                            routed mode: a global address, through the relay\n"
	        "                            of this fabric\n"
	        "  -R, --relay DOMID         the relay's domid, with --global (default 0)\n"
	        "  -p, --port PORT           Argo port of our reply ring (default 40000)\n"
	        "  -n, --count N             requests to send, 1 to 100000000 (default 1000)\n"
	        "  -s, --size BYTES          request size, 8 to 1048576 (default 64)\n"
	        "  -M, --max-size BYTES      requests of every power-of-two size from --size\n"
	        "                            up to BYTES, in turn (default: --size only)\n"
	        "  -w, --window N            up to N requests in flight, 1 to 64 (default 1)\n"
	        "  -T, --timeout MS          give up waiting for space or a reply after MS\n"
	        "                            milliseconds (default 5000)\n"
	        "  -k, --keep-going          a reply that does not come within --timeout is\n"
	        "                            lost, and the run goes on (default: it ends)\n"
	        "  -h, --help                print this help and exit\n"
	        "  -V, --version             print the version and exit\n"
	        "\n"
	        "Prints one line per failure and a summary with round-trip percentiles.\n"
	        "Exit status: 0 if every reply came back intact, in order and once; 1 if\n"
	        "not, or the fabric failed; 2 for a usage error.\n");
}

static void fill(uint8_t *buf, size_t size, uint64_t seq)
{
	size_t i;

	memcpy(buf, &seq, size < 8 ? size : 8);
	for (i = 8; i < size; i++)
		buf[i] = (uint8_t)(seq * 31 + i);
}

/* argo_routed_sendv() that waits for space, as tool_send_wait(). */
static ssize_t routed_send_wait(struct argo_fabric *fabric, argo_domid_t relay, uint32_t port,
                                const struct argo_gaddr *dst, const struct iovec *iov,
                                int timeout_ms)
{
	for (;;) {
		ssize_t n = argo_routed_sendv(fabric, relay, port, dst, iov, 1, PING_TYPE);
		int w;

		if (n != -EAGAIN)
			return n;
		w = tool_wait_event(fabric, timeout_ms);
		if (w <= 0)
			return w < 0 ? w : -ETIMEDOUT;
		argo_event_clear(fabric);
	}
}

/* The size of request i: --size, doubled i mod k times, at most max. */
static unsigned long size_of(unsigned long i, unsigned long min, unsigned long max)
{
	unsigned long classes = 0, s;

	for (s = min; s <= max; s <<= 1)
		classes++;
	s = min << (i % classes);
	return s > max ? max : s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"fabric", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"port", required_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'n'},
	    {"size", required_argument, NULL, 's'},
	    {"max-size", required_argument, NULL, 'M'},
	    {"window", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"global", required_argument, NULL, 'g'},
	    {"relay", required_argument, NULL, 'R'},
	    {"keep-going", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int keep_going = 0;
	unsigned long late = 0;
	uint8_t *answered;
	struct argo_gaddr global = {{0}, 0, 0};
	argo_domid_t relay = 0;
	int routed = 0;
	xen_argo_send_addr_t addr = {.src = {.aport = 40000, .domain_id = XEN_ARGO_DOMID_ANY}};
	unsigned long count = 1000, size = 64, max_size = 0, ok = 0, bad = 0, lost = 0, dup = 0,
	              refused = 0;
	int timeout_ms = 5000, have_to = 0, c, ret;
	xen_argo_register_ring_t reg;
	struct argo_fabric *fabric;
	struct argo_ring *ring;
	uint8_t *out, *in;
	uint64_t *rtt;
	const char *uri = NULL;
	unsigned long min_size, cur, window = 1, next_send = 0, next_recv = 0;
	uint64_t *t_sent;
	uint8_t *failed;

	while ((c = getopt_long(argc, argv, "f:t:p:n:s:M:w:T:g:R:khV", options, NULL)) != -1) {
		unsigned long long v = 0;

		switch (c) {
		case 'f':
			uri = optarg;
			break;
		case 't':
			if (tool_parse_addr(optarg, &addr.dst) < 0) {
				fprintf(stderr, "argo-ping: --to takes DOMID:PORT, not '%s'\n",
				        optarg);
				return 2;
			}
			have_to = 1;
			break;
		case 'p':
			if (tool_parse_number("argo-ping", "port", optarg, 0, UINT32_MAX, &v) < 0)
				return 2;
			addr.src.aport = (uint32_t)v;
			break;
		case 'n':
			if (tool_parse_number("argo-ping", "count", optarg, 1, MAX_COUNT, &v) < 0)
				return 2;
			count = (unsigned long)v;
			break;
		case 's':
			if (tool_parse_number("argo-ping", "size", optarg, 8, MAX_SIZE, &v) < 0)
				return 2;
			size = (unsigned long)v;
			break;
		case 'M':
			if (tool_parse_number("argo-ping", "max-size", optarg, 8, MAX_SIZE, &v) < 0)
				return 2;
			max_size = (unsigned long)v;
			break;
		case 'w':
			if (tool_parse_number("argo-ping", "window", optarg, 1, MAX_WINDOW, &v) < 0)
				return 2;
			window = (unsigned long)v;
			break;
		case 'T':
			if (tool_parse_number("argo-ping", "timeout", optarg, 1, INT_MAX, &v) < 0)
				return 2;
			timeout_ms = (int)v;
			break;
		case 'g':
			if (argo_gaddr_parse(optarg, &global) < 0) {
				fprintf(stderr,
				        "argo-ping: --global takes HVID:DOMID:PORT, not '%s'\n",
				        optarg);
				return 2;
			}
			routed = have_to = 1;
			break;
		case 'R':
			if (tool_parse_number("argo-ping", "relay", optarg, 0,
			                      XEN_DOMID_FIRST_RESERVED - 1, &v) < 0)
				return 2;
			relay = (argo_domid_t)v;
			break;
		case 'k':
			keep_going = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return tool_print_version("argo-ping");
		default:
			return tool_usage_error("argo-ping");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "argo-ping: unexpected argument '%s'\n", argv[optind]);
		return tool_usage_error("argo-ping");
	}
	if (!uri || !have_to) {
		fprintf(stderr, "argo-ping: --fabric and one of --to or --global are required\n");
		return tool_usage_error("argo-ping");
	}
	if (!max_size)
		max_size = size;
	if (max_size < size) {
		fprintf(stderr, "argo-ping: --max-size %lu is below --size %lu\n", max_size, size);
		return tool_usage_error("argo-ping");
	}
	/* From here on, size is the largest request; cur the one in flight. */
	min_size = size;
	size = max_size;

	ret = argo_open(uri, &fabric);
	if (ret < 0) {
		fprintf(stderr, "argo-ping: %s\n", argo_open_error());
		return 1;
	}
	/* Replies come only from the echo service's domain. */
	{
		/* Room for every reply of the window (and a few more). */
		unsigned long slot = (size + 32 + 15) / 16 * 16, len = slot * (window + 3);

		if (len < 4096)
			len = 4032;
		if (len > XEN_ARGO_MAX_RING_SIZE - 64)
			len = XEN_ARGO_MAX_RING_SIZE - 64;
		reg = (xen_argo_register_ring_t){
		    .aport = addr.src.aport,
		    .partner_id = routed ? relay : addr.dst.domain_id,
		    .len = (uint32_t)len,
		};
	}
	ret = argo_register_ring(fabric, &reg, 0, &ring);
	if (ret < 0) {
		fprintf(stderr, "argo-ping: register port %u: %s\n", reg.aport, argo_strerror(ret));
		argo_close(fabric);
		return 1;
	}
	out = malloc(size);
	/* Room for a relay's report too, whatever the request size. */
	in = malloc((size < ARGO_ROUTED_REPORT_SIZE ? ARGO_ROUTED_REPORT_SIZE : size) +
	            ARGO_ROUTED_HDR_SIZE);
	rtt = calloc(count, sizeof(*rtt));
	t_sent = calloc(count, sizeof(*t_sent));
	failed = calloc(count, 1);
	answered = calloc(count, 1);
	if (!out || !in || !rtt || !t_sent || !failed || !answered) {
		fprintf(stderr, "argo-ping: out of memory\n");
		return 1;
	}

	/* Up to `window` requests in flight; replies come back in order (one
	 * source, one destination), so the oldest outstanding is the one due. */
	while (next_recv < count) {
		xen_argo_addr_t from;
		struct argo_gaddr gfrom = {{0}, 0, 0};
		uint64_t seq = 0;
		uint32_t type, error;
		struct argo_gaddr undelivered;
		ssize_t n;

		while (next_send < count && next_send - next_recv < window) {
			struct iovec iov;

			cur = size_of(next_send, min_size, max_size);
			iov = (struct iovec){.iov_base = out, .iov_len = cur};
			fill(out, cur, next_send);
			t_sent[next_send] = tool_now_ns();
			if (routed)
				n = routed_send_wait(fabric, relay, addr.src.aport, &global, &iov,
				                     timeout_ms);
			else
				n = tool_send_wait(fabric, &addr, &iov, 1, PING_TYPE, timeout_ms);
			if (n != (ssize_t)cur) {
				fprintf(stderr, "argo-ping: send #%lu: %s\n", next_send,
				        argo_strerror(n < 0 ? (int)n : -EIO));
				failed[next_send] = 1;
			}
			next_send++;
		}
		while (next_recv < next_send && failed[next_recv])
			next_recv++;
		if (next_recv >= next_send)
			continue;

		/* The reply due: next_recv; an older one arriving again is a
		 * duplicate. */
		for (;;) {
			argo_event_clear(fabric);
			if (routed) {
				n = argo_routed_recv(ring, relay, &gfrom, &type, in,
				                     max_size + ARGO_ROUTED_HDR_SIZE);
				from.domain_id = gfrom.domid;
				from.aport = gfrom.port;
			} else {
				n = argo_recv(ring, &from, &type, in,
				              max_size < ARGO_ROUTED_REPORT_SIZE
				                  ? ARGO_ROUTED_REPORT_SIZE
				                  : max_size);
			}
			if (n != -EAGAIN)
				break;
			ret = tool_wait_event(fabric, timeout_ms);
			if (ret <= 0) {
				n = ret < 0 ? ret : -ETIMEDOUT;
				break;
			}
		}
		if (n >= 0)
			argo_notify(fabric, NULL);
		if (n < 0 && routed && n != -ETIMEDOUT && n != -EBADMSG) {
			/* Routed mode: the relays' report, as the errno Xen gives. */
			fprintf(
			    stderr,
			    "argo-ping: request #%lu undeliverable: %s (%s:%u:%u, routed mode)\n",
			    next_recv, strerror((int)-n), gfrom.hvid, gfrom.domid, gfrom.port);
			refused++;
			next_recv++;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "argo-ping: reply #%lu: %s\n", next_recv,
			        argo_strerror((int)n));
			if (n == -ETIMEDOUT && !keep_going)
				break; /* everything outstanding is lost */
			next_recv++;
			continue;
		}
		if (type == ARGO_MSGTYPE_UNDELIVERABLE &&
		    argo_routed_report_get(in, (size_t)n, &error, &undelivered) == 0) {
			fprintf(
			    stderr,
			    "argo-ping: request #%lu undeliverable: %s (reported by the relay)\n",
			    next_recv, strerror((int)error));
			refused++;
			next_recv++;
			continue;
		}
		memcpy(&seq, in, n >= 8 ? 8 : 0);
		if (n >= 8 && seq < next_recv && type == PING_TYPE) {
			if (answered[seq]) {
				fprintf(stderr, "argo-ping: reply #%llu arrived again\n",
				        (unsigned long long)seq);
				dup++;
			} else {
				/* Given up for lost (--keep-going), then came. */
				answered[seq] = 1;
				late++;
			}
			continue;
		}
		if (n >= 8 && seq > next_recv && seq < next_send && type == PING_TYPE) {
			/* The replies before it never came: lost (counted below). */
			fprintf(stderr, "argo-ping: replies #%lu..#%llu never came\n", next_recv,
			        (unsigned long long)seq - 1);
			next_recv = (unsigned long)seq;
		}
		cur = size_of(next_recv, min_size, max_size);
		rtt[ok + bad] = tool_now_ns() - t_sent[next_recv];
		fill(out, cur, next_recv);
		if ((size_t)n != cur || type != PING_TYPE ||
		    (routed
		         ? strcmp(gfrom.hvid, global.hvid) != 0 || gfrom.domid != global.domid ||
		               gfrom.port != global.port
		         : from.domain_id != addr.dst.domain_id || from.aport != addr.dst.aport) ||
		    seq != next_recv || memcmp(in, out, cur) != 0) {
			fprintf(
			    stderr,
			    "argo-ping: reply #%lu is wrong (seq %llu, %zd bytes, from %u:%u)\n",
			    next_recv, (unsigned long long)seq, n, from.domain_id, from.aport);
			bad++;
		} else {
			ok++;
		}
		answered[next_recv] = 1;
		next_recv++;
	}

	qsort(rtt, ok + bad, sizeof(*rtt), cmp_u64);
	/* Requests never answered (a time-out ends the run early) are lost. */
	lost = count - ok - bad - refused;
	if (ok + bad) {
		printf("argo-ping: %lu sent, %lu ok, %lu wrong, %lu lost, %lu duplicated, %lu "
		       "refused, %lu late; "
		       "round trip p50 %.1f us, p99 %.1f us\n",
		       count, ok, bad, lost, dup, refused, late, rtt[(ok + bad) / 2] / 1000.0,
		       rtt[(ok + bad) * 99 / 100] / 1000.0);
	} else {
		printf("argo-ping: %lu sent, no reply, %lu refused\n", count, refused);
	}
	free(out);
	free(in);
	free(rtt);
	free(t_sent);
	free(failed);
	free(answered);
	argo_unregister_ring(fabric, ring);
	argo_close(fabric);
	return ok == count && dup == 0 ? 0 : 1;
}
