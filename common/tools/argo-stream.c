/* SPDX-License-Identifier: MIT */
/*
 * argo-stream: a one-way stream of numbered messages, checked at the far
 * end for order, loss, duplication and content. For tests and benchmarks.
 * Options: usage() below, and argo-stream(1) (docs/man/argo-stream.1).
 *
 * Message i carries i in its first 8 bytes and a pattern derived from i in
 * the rest; its size cycles through powers of two from --min-size to
 * --max-size (16 B .. 64 KiB by default), so every size class appears all
 * along the stream. The receiver prints one summary line:
 *   argo-stream: received N of N, 0 missing, 0 duplicated, 0 reordered, 0 corrupted, X MB/s
 * and exits 0 only if all N arrived once, in order, intact.
 * --stall-ms makes the receiver stop reading for that long first (to test
 * back-pressure): the sender must see its ring full and wait, not lose.
 * --linger-ms keeps the receiver reading that long after the last message,
 * so that a copy arriving late (after a relay restart) is counted too.
 * --progress-ms prints "argo-stream: progress next #N" at most that often
 * while messages come (what a receiver that dies had taken).
 * --from-first takes the first message's number as the start (a receiver
 * in a domain started again mid-stream): the summary then says
 * "received N of M from #S", M counting from S.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>

#include "tool_util.h"

#define STREAM_TYPE 0x5354524du /* "STRM" */
/* The largest message a ring can take (XEN_ARGO_MAX_RING_SIZE - 32 - 32). */
#define MAX_SIZE 0xFFFFE0u

static uint32_t size_of(uint64_t i, uint32_t min, uint32_t max)
{
	uint32_t classes = 0, s;

	for (s = min; s <= max && s; s <<= 1)
		classes++;
	s = min << (i % classes);
	return s > max ? max : s;
}

static void fill(uint8_t *buf, uint32_t size, uint64_t i)
{
	uint32_t k;

	memcpy(buf, &i, 8);
	for (k = 8; k < size; k++)
		buf[k] = (uint8_t)(i * 131 + k * 7);
}

static int check(const uint8_t *buf, uint32_t size, uint64_t i)
{
	uint32_t k;

	for (k = 8; k < size; k++)
		if (buf[k] != (uint8_t)(i * 131 + k * 7))
			return -1;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: argo-stream recv --fabric URI [--port PORT] [--count N] [options]\n"
	        "       argo-stream send --fabric URI --to DOMID:PORT [--count N] [options]\n"
	        "A one-way stream of numbered messages, checked at the receiving end for\n"
	        "order, loss, duplication and content. Start the receiver first.\n"
	        "\n"
	        "Both modes:\n"
	        "  -f, --fabric URI         the fabric: sim:SOCKET (argo-simd) or xen:/dev/argo\n"
	        "  -n, --count N            messages in the stream (default 1000)\n"
	        "  -p, --port PORT          recv: Argo port of the ring; send: source port\n"
	        "                           (default 41000)\n"
	        "  -m, --min-size BYTES     smallest message, at least 8 (default 16)\n"
	        "  -M, --max-size BYTES     largest message, at most 16776672 (default 65536);\n"
	        "                           sizes cycle through the powers of two between\n"
	        "                           them, and both ends must be given the same\n"
	        "  -T, --timeout MS         give up after MS milliseconds without progress\n"
	        "                           (default 10000)\n"
	        "recv:\n"
	        "  -P, --partner DOMID      take messages from DOMID only (default: any\n"
	        "                           domain, a wildcard ring: argo-simd -m)\n"
	        "  -r, --ring-len BYTES     ring length, a multiple of 16 (default 1048576)\n"
	        "  -S, --stall-ms MS        do not read for MS milliseconds first, so that\n"
	        "                           the ring fills and the sender must wait\n"
	        "  -L, --linger-ms MS       keep reading MS milliseconds after the last\n"
	        "                           message, to count late duplicates\n"
	        "  -G, --progress-ms MS     print 'argo-stream: progress next #N' at most\n"
	        "                           every MS milliseconds while messages come\n"
	        "  -F, --from-first         take the first message's number as the start\n"
	        "                           (a receiver started again mid-stream)\n"
	        "send:\n"
	        "  -t, --to DOMID:PORT      the receiver's ring (required)\n"
	        "\n"
	        "  -h, --help               print this help and exit\n"
	        "  -V, --version            print the version and exit\n"
	        "\n"
	        "The receiver prints 'argo-stream: domain D receiving on port P' once ready,\n"
	        "and at the end one line: received N of N, missing, duplicated, reordered,\n"
	        "corrupted, MB/s. Exit status: 0 if all N arrived once, in order, intact\n"
	        "(send: if all N were sent); 1 otherwise; 2 for a usage error.\n");
}

struct opts {
	const char *uri;
	xen_argo_addr_t to;
	uint32_t port, ring_len, min_size, max_size;
	argo_domid_t partner;
	unsigned long count;
	int timeout_ms, stall_ms, linger_ms, progress_ms;
	bool from_first;
};

static int do_send(struct opts *o)
{
	xen_argo_send_addr_t addr = {.src = {.aport = o->port, .domain_id = XEN_ARGO_DOMID_ANY},
	                             .dst = o->to};
	struct argo_fabric *fabric;
	uint8_t *buf = malloc(o->max_size);
	unsigned long i, eagain_waits = 0;
	int ret;

	if (!buf)
		return 1;
	ret = argo_open(o->uri, &fabric);
	if (ret < 0) {
		fprintf(stderr, "argo-stream: %s\n", argo_open_error());
		free(buf);
		return 1;
	}
	for (i = 0; i < o->count; i++) {
		uint32_t size = size_of(i, o->min_size, o->max_size);
		struct iovec iov = {.iov_base = buf, .iov_len = size};
		ssize_t n;

		fill(buf, size, i);
		for (;;) {
			n = argo_sendv(fabric, &addr, &iov, 1, STREAM_TYPE);
			if (n != -EAGAIN)
				break;
			eagain_waits++;
			ret = tool_wait_event(fabric, o->timeout_ms);
			if (ret <= 0) {
				n = ret < 0 ? ret : -ETIMEDOUT;
				break;
			}
			argo_event_clear(fabric);
		}
		if (n != (ssize_t)size) {
			fprintf(stderr, "argo-stream: send #%lu (%u bytes): %s\n", i, size,
			        argo_strerror(n < 0 ? (int)n : -EIO));
			argo_close(fabric);
			free(buf);
			return 1;
		}
	}
	printf("argo-stream: sent %lu, waited for ring space %lu times\n", o->count, eagain_waits);
	argo_close(fabric);
	free(buf);
	return 0;
}

static int do_recv(struct opts *o)
{
	xen_argo_register_ring_t reg = {
	    .aport = o->port, .partner_id = o->partner, .len = o->ring_len};
	unsigned long got = 0, dup = 0, reorder = 0, corrupt = 0;
	uint64_t next = 0, bytes = 0, t0 = 0, t_done = 0, linger_end = 0, first = 0, t_progress = 0;
	struct argo_fabric *fabric;
	struct argo_ring *ring;
	uint8_t *buf = malloc(XEN_ARGO_MAX_RING_SIZE);
	int ret;

	if (!buf)
		return 1;
	ret = argo_open(o->uri, &fabric);
	if (ret < 0) {
		fprintf(stderr, "argo-stream: %s\n", argo_open_error());
		free(buf);
		return 1;
	}
	ret = argo_register_ring(fabric, &reg, 0, &ring);
	if (ret < 0) {
		fprintf(stderr, "argo-stream: register port %u: %s\n", o->port, argo_strerror(ret));
		argo_close(fabric);
		free(buf);
		return 1;
	}
	printf("argo-stream: domain %u receiving on port %u\n", argo_domid(fabric), o->port);
	fflush(stdout);
	if (o->stall_ms > 0) {
		/* Not reading: the ring fills and senders must wait. */
		struct timespec ts = {.tv_sec = o->stall_ms / 1000,
		                      .tv_nsec = (long)(o->stall_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	for (;;) {
		xen_argo_addr_t from;
		uint32_t type;
		uint64_t seq = 0;
		ssize_t n;
		bool lingering = next >= o->count;

		if (o->progress_ms > 0 && got &&
		    tool_now_ns() - t_progress >= (uint64_t)o->progress_ms * 1000000) {
			printf("argo-stream: progress next #%llu\n", (unsigned long long)next);
			fflush(stdout);
			t_progress = tool_now_ns();
		}

		if (lingering && !linger_end) {
			t_done = tool_now_ns();
			linger_end =
			    t_done + (uint64_t)(o->linger_ms > 0 ? o->linger_ms : 0) * 1000000;
		}
		if (lingering && tool_now_ns() >= linger_end)
			break;
		argo_event_clear(fabric);
		n = argo_recv(ring, &from, &type, buf, XEN_ARGO_MAX_RING_SIZE);
		if (n == -EAGAIN) {
			int wait_ms = o->timeout_ms;

			if (lingering)
				wait_ms = (int)((linger_end - tool_now_ns()) / 1000000) + 1;
			argo_notify(fabric, NULL);
			ret = tool_wait_event(fabric, wait_ms);
			if (ret <= 0 && !lingering) {
				fprintf(stderr, "argo-stream: nothing for %d ms after #%llu\n",
				        o->timeout_ms, (unsigned long long)next);
				break;
			}
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "argo-stream: ring: %s\n", argo_strerror((int)n));
			break;
		}
		if (!t0)
			t0 = tool_now_ns();
		got++;
		if (!lingering)
			bytes += (uint64_t)n;
		if (n >= 8)
			memcpy(&seq, buf, 8);
		if (o->from_first && got == 1 && n >= 8 && type == STREAM_TYPE && seq < o->count) {
			first = next = seq;
			printf("argo-stream: first message #%llu\n", (unsigned long long)seq);
			fflush(stdout);
		}
		if (n < 8 || type != STREAM_TYPE) {
			corrupt++;
		} else if (seq < next) {
			dup++;
		} else if (seq > next) {
			fprintf(stderr, "argo-stream: #%llu arrived where #%llu was due\n",
			        (unsigned long long)seq, (unsigned long long)next);
			reorder++;
			next = seq + 1;
		} else {
			if ((uint32_t)n != size_of(seq, o->min_size, o->max_size) ||
			    check(buf, (uint32_t)n, seq) < 0)
				corrupt++;
			next++;
		}
		if (got % 64 == 0)
			argo_notify(fabric, NULL);
	}
	argo_notify(fabric, NULL);
	{
		double secs = t0 ? (double)((t_done ? t_done : tool_now_ns()) - t0) / 1e9 : 0;
		unsigned long want = o->count - (unsigned long)first;
		unsigned long missing =
		    want - (got - dup - corrupt > want ? want : got - dup - corrupt);
		char from[40] = "";

		if (o->from_first)
			snprintf(from, sizeof(from), " from #%llu", (unsigned long long)first);
		printf(
		    "argo-stream: received %lu of %lu%s, %lu missing, %lu duplicated, %lu reordered, "
		    "%lu corrupted, %.1f MB/s\n",
		    got - dup, want, from, missing, dup, reorder, corrupt,
		    secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
		ret = (missing || dup || reorder || corrupt) ? 1 : 0;
	}
	argo_unregister_ring(fabric, ring);
	argo_close(fabric);
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"fabric", required_argument, NULL, 'f'},    {"to", required_argument, NULL, 't'},
	    {"port", required_argument, NULL, 'p'},      {"partner", required_argument, NULL, 'P'},
	    {"count", required_argument, NULL, 'n'},     {"ring-len", required_argument, NULL, 'r'},
	    {"min-size", required_argument, NULL, 'm'},  {"max-size", required_argument, NULL, 'M'},
	    {"timeout", required_argument, NULL, 'T'},   {"stall-ms", required_argument, NULL, 'S'},
	    {"linger-ms", required_argument, NULL, 'L'}, {"progress-ms", required_argument, NULL, 'G'},
	    {"from-first", no_argument, NULL, 'F'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
	};
	struct opts o = {
	    .port = 41000,
	    .ring_len = 1024 * 1024,
	    .min_size = 16,
	    .max_size = 65536,
	    .partner = XEN_ARGO_DOMID_ANY,
	    .count = 1000,
	    .timeout_ms = 10000,
	};
	int have_to = 0, c;
	const char *mode;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")))
		return tool_print_version("argo-stream");
	if (argc < 2 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		fprintf(stderr, "argo-stream: the first argument is the mode, send or recv\n");
		return tool_usage_error("argo-stream");
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "f:t:p:P:n:r:m:M:T:S:L:G:FhV", options, NULL)) != -1) {
		unsigned long long v = 0;
		int bad = 0;

		switch (c) {
		case 'f':
			o.uri = optarg;
			break;
		case 't':
			if (tool_parse_addr(optarg, &o.to) < 0) {
				fprintf(stderr, "argo-stream: --to takes DOMID:PORT, not '%s'\n",
				        optarg);
				return 2;
			}
			have_to = 1;
			break;
		case 'p':
			bad = tool_parse_number("argo-stream", "port", optarg, 0, UINT32_MAX, &v);
			o.port = (uint32_t)v;
			break;
		case 'P':
			bad = tool_parse_number("argo-stream", "partner", optarg, 0,
			                        XEN_DOMID_FIRST_RESERVED - 1, &v);
			o.partner = (argo_domid_t)v;
			break;
		case 'n':
			bad = tool_parse_number("argo-stream", "count", optarg, 1, ULONG_MAX, &v);
			o.count = (unsigned long)v;
			break;
		case 'r':
			bad =
			    tool_parse_number("argo-stream", "ring-len", optarg, 1, UINT32_MAX, &v);
			o.ring_len = (uint32_t)v;
			break;
		case 'm':
			bad = tool_parse_number("argo-stream", "min-size", optarg, 8, MAX_SIZE, &v);
			o.min_size = (uint32_t)v;
			break;
		case 'M':
			bad = tool_parse_number("argo-stream", "max-size", optarg, 8, MAX_SIZE, &v);
			o.max_size = (uint32_t)v;
			break;
		case 'T':
			bad = tool_parse_number("argo-stream", "timeout", optarg, 1, INT_MAX, &v);
			o.timeout_ms = (int)v;
			break;
		case 'S':
			bad = tool_parse_number("argo-stream", "stall-ms", optarg, 0, INT_MAX, &v);
			o.stall_ms = (int)v;
			break;
		case 'L':
			bad = tool_parse_number("argo-stream", "linger-ms", optarg, 0, INT_MAX, &v);
			o.linger_ms = (int)v;
			break;
		case 'G':
			bad = tool_parse_number("argo-stream", "progress-ms", optarg, 0, INT_MAX, &v);
			o.progress_ms = (int)v;
			break;
		case 'F':
			o.from_first = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return tool_print_version("argo-stream");
		default:
			return tool_usage_error("argo-stream");
		}
		if (bad)
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "argo-stream: unexpected argument '%s'\n", argv[optind]);
		return tool_usage_error("argo-stream");
	}
	if (!o.uri || (!strcmp(mode, "send") && !have_to)) {
		fprintf(stderr, "argo-stream: --fabric is required (and --to, to send)\n");
		return tool_usage_error("argo-stream");
	}
	if (o.max_size < o.min_size) {
		fprintf(stderr, "argo-stream: --max-size %u is below --min-size %u\n", o.max_size,
		        o.min_size);
		return 2;
	}
	return !strcmp(mode, "send") ? do_send(&o) : do_recv(&o);
}
