/* SPDX-License-Identifier: MIT */
/*
 * argo-bench: round-trip latency (ping-pong) and one-way throughput of
 * messages of 16 B to 64 KiB, over any libargo fabric (sim, xen; plain or
 * routed mode through relays), and over a plain unix or TCP socket for the
 * baselines, with the same code and the same clock.
 *
 *   argo-bench server     --fabric URI --port PORT [--routed RELAY] ...
 *   argo-bench server     --listen unix:PATH | tcp:HOST:PORT | dev:PATH
 *   argo-bench latency    TARGET [--sizes LIST] [--count N | --duration S] [--json]
 *   argo-bench throughput TARGET [--sizes LIST] [--count N | --bytes B | --duration S]
 *     TARGET: --fabric URI --to DOMID:PORT
 *           | --fabric URI --global HVID:DOMID:PORT [--relay DOMID]
 *           | --connect unix:PATH | tcp:HOST:PORT
 *
 * Latencies go into a log-bucketed histogram (bench_hist.h); every reply is
 * checked (sequence number, size, whole payload) and every stream is
 * acknowledged by the server with what it received, so a wrong or lost
 * message fails the run instead of flattering it. `argo-bench --help` lists
 * every option; docs/benchmarks.md describes the method and the output.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "argo/routed.h"
#include "bench_hist.h"
#include "tool_util.h"

#ifndef ARGO_BENCH_VERSION
#define ARGO_BENCH_VERSION "unknown"
#endif

/* Message types: a request to echo, stream data, the end of a stream, and
 * the server's acknowledgement of it (payload: struct stream_ack). */
#define TYPE_PING    0x41425049u /* "IPBA" */
#define TYPE_DATA    0x41424454u
#define TYPE_END     0x4142454eu
#define TYPE_ACK     0x4142414bu

#define MIN_SIZE     16u
#define MAX_SIZE     (1024u * 1024u)
#define MAX_SIZES    32
#define SOCK_HDR_LEN 8u /* u32 type, u32 length, then the payload */

struct stream_ack {
	uint64_t messages; /* DATA messages since the previous END */
	uint64_t bytes;
	uint64_t out_of_order; /* a sequence number other than the next one */
	uint64_t corrupt;      /* a payload that does not match its pattern */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- Channels: the same send/receive over Argo or over a socket ---------- */

struct chan {
	/* Argo */
	struct argo_fabric *fabric;
	struct argo_ring *ring;
	xen_argo_send_addr_t addr; /* src: our port; dst: the peer (client) */
	bool routed;
	argo_domid_t relay;
	struct argo_gaddr global; /* routed mode: the peer's global address */
	/* the source of the last message received (the server answers it) */
	xen_argo_addr_t from;
	struct argo_gaddr gfrom;
	/* Socket */
	int fd;
	uint8_t *rbuf;
	size_t rlen, roff;
	int timeout_ms;
};

/* One message. Argo: sendv, waiting for ring space (the fabric wakes us
 * when the receiver frees it). to_last: answer the last message's source. */
static int chan_send(struct chan *c, uint32_t type, const void *buf, uint32_t len, bool to_last)
{
	if (c->fd >= 0) {
		uint32_t hdr[2] = {type, len};
		struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)buf, len}};
		size_t left = sizeof(hdr) + len;
		int i = 0;

		while (left) {
			ssize_t n = writev(c->fd, iov + i, 2 - i);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			left -= (size_t)n;
			while (i < 2 && (size_t)n >= iov[i].iov_len)
				n -= (ssize_t)iov[i++].iov_len;
			if (i < 2) {
				iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
				iov[i].iov_len -= (size_t)n;
			}
		}
		return 0;
	}
	struct iovec iov = {(void *)buf, len};
	bool routed = to_last ? c->gfrom.hvid[0] != 0 : c->routed;
	xen_argo_send_addr_t addr = c->addr;

	if (to_last)
		addr.dst = c->from;
	for (;;) {
		ssize_t n;
		int w;

		if (routed)
			n = argo_routed_sendv(c->fabric, c->relay, c->addr.src.aport,
			                      to_last ? &c->gfrom : &c->global, &iov, 1, type);
		else
			n = argo_sendv(c->fabric, &addr, &iov, 1, type);
		if (n >= 0)
			return n == (ssize_t)len ? 0 : -EIO;
		if (n != -EAGAIN)
			return (int)n;
		/* The fabric wakes us when the receiver frees room. */
		w = argo_event_wait(c->fabric, c->timeout_ms);
		if (w <= 0)
			return w < 0 ? w : -ETIMEDOUT;
	}
}

/* Socket: fills the read buffer until it holds 'need' bytes. */
static int sock_fill(struct chan *c, size_t need, size_t cap)
{
	if (c->roff && c->rlen - c->roff < need) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	while (c->rlen - c->roff < need) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, cap - c->rlen);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR && !stop)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		c->rlen += (size_t)n;
	}
	return 0;
}

/* The next message: its payload length, or -errno (-ETIMEDOUT). */
static ssize_t chan_recv(struct chan *c, uint32_t *type, void *buf, size_t cap)
{
	if (c->fd >= 0) {
		size_t bufcap = SOCK_HDR_LEN + MAX_SIZE + sizeof(struct stream_ack);
		uint32_t hdr[2];
		int ret = sock_fill(c, SOCK_HDR_LEN, bufcap);

		if (ret < 0)
			return ret;
		memcpy(hdr, c->rbuf + c->roff, sizeof(hdr));
		if (hdr[1] > cap || hdr[1] > bufcap - SOCK_HDR_LEN)
			return -EMSGSIZE;
		ret = sock_fill(c, SOCK_HDR_LEN + hdr[1], bufcap);
		if (ret < 0)
			return ret;
		memcpy(buf, c->rbuf + c->roff + SOCK_HDR_LEN, hdr[1]);
		c->roff += SOCK_HDR_LEN + hdr[1];
		if (c->roff == c->rlen)
			c->roff = c->rlen = 0;
		*type = hdr[0];
		return hdr[1];
	}
	for (;;) {
		ssize_t n;
		int w;

		memset(&c->gfrom, 0, sizeof(c->gfrom));
		if (c->routed) {
			n = argo_routed_recv(c->ring, c->relay, &c->gfrom, type, buf, cap);
			c->from.domain_id = c->gfrom.domid;
			c->from.aport = c->gfrom.port;
		} else {
			n = argo_recv(c->ring, &c->from, type, buf, cap);
		}
		if (n >= 0) {
			/* Tell senders waiting for room that there is some. */
			argo_notify(c->fabric, NULL);
			return n;
		}
		if (n != -EAGAIN)
			return n;
		if (stop)
			return -EINTR;
		/* Waits and takes the event in one call: an event raised
		 * since the last wait (while we read) returns at once. */
		w = argo_event_wait(c->fabric, c->timeout_ms);
		if (w <= 0)
			return w < 0 ? w : -ETIMEDOUT;
	}
}

/* "unix:PATH" or "tcp:HOST:PORT" into a socket address. */
static int parse_sockaddr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		if (!spec[5] || strlen(spec + 5) >= sizeof(un->sun_path))
			return -EINVAL;
		memset(un, 0, sizeof(*un));
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, spec + 5);
		*len = sizeof(*un);
		return 0;
	}
	if (!strncmp(spec, "tcp:", 4)) {
		char host[256];
		const char *colon = strrchr(spec + 4, ':');
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;

		if (!colon || colon == spec + 4 || (size_t)(colon - (spec + 4)) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 4, (size_t)(colon - (spec + 4)));
		host[colon - (spec + 4)] = 0;
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
			return -EINVAL;
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		*len = ai->ai_addrlen;
		freeaddrinfo(ai);
		return 0;
	}
	return -EINVAL;
}

static void sock_tune(int fd, int timeout_ms)
{
	int one = 1;

	if (timeout_ms > 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
		                     .tv_usec = (timeout_ms % 1000) * 1000};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	/* Latency, not throughput of small writes: no Nagle (TCP only). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- Options -------------------------------------------------------------- */

enum mode { MODE_SERVER, MODE_LATENCY, MODE_THROUGHPUT };

struct opts {
	enum mode mode;
	const char *uri, *sock_spec, *label;
	xen_argo_addr_t to;
	struct argo_gaddr global;
	bool have_to, routed, json, progress;
	argo_domid_t relay, partner;
	uint32_t port, ring_len;
	uint32_t sizes[MAX_SIZES];
	unsigned int nsizes;
	unsigned long count, warmup;
	uint64_t bytes;
	double duration; /* seconds per size, instead of a count */
	int timeout_ms;
};

/* The project's version (argo/version.h), as every program gives it, then
 * the source this binary was built from (also in the JSON output). */
static void print_version(void)
{
	tool_print_version("argo-bench");
	printf("built from %s\n", ARGO_BENCH_VERSION);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: argo-bench server --fabric URI --port PORT [--partner DOMID] [--ring-len B]\n"
	    "                         [--routed RELAY_DOMID]\n"
	    "       argo-bench server --listen unix:PATH|tcp:HOST:PORT|dev:PATH\n"
	    "       argo-bench latency|throughput TARGET [options]\n"
	    "\n"
	    "TARGET is one of\n"
	    "  --fabric URI --to DOMID:PORT        a server on a libargo fabric (sim:PATH, xen:)\n"
	    "  --fabric URI --global HVID:DOMID:PORT [--relay DOMID]\n"
	    "                                      the same in routed mode, through the relay\n"
	    "                                      of this fabric (domid 0 by default)\n"
	    "  --connect unix:PATH|tcp:HOST:PORT   a server on a plain socket (the baselines)\n"
	    "\n"
	    "A server on dev:PATH serves the socket protocol on a character device (a\n"
	    "virtio-serial port in a guest, whose host end a client reaches as\n"
	    "unix:CHARDEV-SOCKET; a tty in raw mode), one peer after another.\n"
	    "\n"
	    "options:\n"
	    "  --sizes LIST     message sizes in bytes, comma separated, K and M suffixes;\n"
	    "                   'all' is 16,64,256,1K,4K,16K,64K (default 64 for latency,\n"
	    "                   all for throughput); %u to %u\n"
	    "  --count N        round trips (latency) or messages (throughput) per size\n"
	    "                   (latency: 10000 by default)\n"
	    "  --bytes B        throughput: bytes per size\n"
	    "  --duration S     seconds per size instead (throughput: 2 by default)\n"
	    "  --warmup N       untimed round trips or messages before each size (default\n"
	    "                   count / 10, at most 1000; 200 with --duration or --bytes)\n"
	    "  --port PORT      our Argo port (default 40100); the server's port (server)\n"
	    "  --ring-len B     our ring's length (default: fits 4 messages; server 1M)\n"
	    "  --timeout MS     give up when the peer is silent this long (default 5000)\n"
	    "  --json           one JSON document on stdout instead of the table\n"
	    "  --progress       a line on stderr as each size is done (default: on a tty)\n"
	    "  --label TEXT     a name for this path in the output\n"
	    "  --help, --version\n"
	    "\n"
	    "Latencies are percentiles of a log-bucketed histogram (buckets 1/32 of the value\n"
	    "wide), min and max exact. docs/benchmarks.md explains the method.\n",
	    MIN_SIZE, MAX_SIZE);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_sizes(const char *list, struct opts *o)
{
	char buf[512], *tok, *save = NULL;

	if (!strcmp(list, "all"))
		list = "16,64,256,1K,4K,16K,64K";
	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	o->nsizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (o->nsizes == MAX_SIZES || parse_size(tok, &v) < 0 || v < MIN_SIZE ||
		    v > MAX_SIZE)
			return -EINVAL;
		o->sizes[o->nsizes++] = (uint32_t)v;
	}
	return o->nsizes ? 0 : -EINVAL;
}

static int parse_ulong(const char *s, unsigned long *out)
{
	uint64_t v;

	if (parse_size(s, &v) < 0 || v > ULONG_MAX)
		return -EINVAL;
	*out = (unsigned long)v;
	return 0;
}

/* 0: run; 1: done (help, version); 2: bad usage. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option options[] = {
	    {"fabric", required_argument, NULL, 'f'},   {"to", required_argument, NULL, 't'},
	    {"global", required_argument, NULL, 'g'},   {"relay", required_argument, NULL, 'R'},
	    {"routed", required_argument, NULL, 'R'},   {"connect", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},   {"port", required_argument, NULL, 'p'},
	    {"partner", required_argument, NULL, 'P'},  {"ring-len", required_argument, NULL, 'r'},
	    {"sizes", required_argument, NULL, 's'},    {"count", required_argument, NULL, 'n'},
	    {"bytes", required_argument, NULL, 'b'},    {"warmup", required_argument, NULL, 'w'},
	    {"duration", required_argument, NULL, 'd'}, {"timeout", required_argument, NULL, 'T'},
	    {"json", no_argument, NULL, 'j'},           {"progress", no_argument, NULL, 'G'},
	    {"label", required_argument, NULL, 'L'},    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
	};
	bool have_sizes = false, have_warmup = false, have_count = false;
	unsigned long v;
	char *end;
	uint64_t b;
	int c;

	o->partner = XEN_ARGO_DOMID_ANY;
	o->timeout_ms = 5000;
	o->progress = isatty(STDERR_FILENO);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 1;
	}
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		print_version();
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "server"))
		o->mode = MODE_SERVER;
	else if (!strcmp(argv[1], "latency"))
		o->mode = MODE_LATENCY;
	else if (!strcmp(argv[1], "throughput"))
		o->mode = MODE_THROUGHPUT;
	else {
		fprintf(stderr, "argo-bench: unknown command '%s' (server, latency, throughput)\n",
		        argv[1]);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->uri = optarg;
			break;
		case 't':
			if (tool_parse_addr(optarg, &o->to) < 0) {
				fprintf(stderr, "argo-bench: --to takes DOMID:PORT\n");
				return 2;
			}
			o->have_to = true;
			break;
		case 'g':
			if (argo_gaddr_parse(optarg, &o->global) < 0) {
				fprintf(stderr, "argo-bench: --global takes HVID:DOMID:PORT\n");
				return 2;
			}
			o->routed = o->have_to = true;
			break;
		case 'R':
			if (parse_ulong(optarg, &v) < 0 || v >= XEN_DOMID_FIRST_RESERVED) {
				fprintf(stderr, "argo-bench: --relay/--routed takes a domid\n");
				return 2;
			}
			o->relay = (argo_domid_t)v;
			if (o->mode == MODE_SERVER)
				o->routed = true;
			break;
		case 'c':
		case 'l':
			o->sock_spec = optarg;
			break;
		case 'p':
			if (parse_ulong(optarg, &v) < 0 || v > UINT32_MAX) {
				fprintf(stderr, "argo-bench: bad --port\n");
				return 2;
			}
			o->port = (uint32_t)v;
			break;
		case 'P':
			if (parse_ulong(optarg, &v) < 0 || v >= XEN_DOMID_FIRST_RESERVED) {
				fprintf(stderr, "argo-bench: bad --partner\n");
				return 2;
			}
			o->partner = (argo_domid_t)v;
			break;
		case 'r':
			if (parse_size(optarg, &b) < 0 ||
			    !argo_ring_len_valid(b > UINT32_MAX ? 0 : (uint32_t)b)) {
				fprintf(stderr,
				        "argo-bench: bad --ring-len (a multiple of 16, %u to %u)\n",
				        XEN_ARGO_MIN_RING_LEN, XEN_ARGO_MAX_RING_SIZE);
				return 2;
			}
			o->ring_len = (uint32_t)b;
			break;
		case 's':
			if (parse_sizes(optarg, o) < 0) {
				fprintf(
				    stderr,
				    "argo-bench: --sizes takes up to %d sizes of %u to %u bytes\n",
				    MAX_SIZES, MIN_SIZE, MAX_SIZE);
				return 2;
			}
			have_sizes = true;
			break;
		case 'n':
			if (parse_ulong(optarg, &o->count) < 0 || !o->count) {
				fprintf(stderr, "argo-bench: bad --count\n");
				return 2;
			}
			have_count = true;
			break;
		case 'b':
			if (parse_size(optarg, &o->bytes) < 0 || !o->bytes) {
				fprintf(stderr, "argo-bench: bad --bytes\n");
				return 2;
			}
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || !(o->duration > 0) || o->duration > 3600) {
				fprintf(stderr,
				        "argo-bench: --duration takes seconds (0 to 3600)\n");
				return 2;
			}
			break;
		case 'w':
			if (parse_ulong(optarg, &o->warmup) < 0) {
				fprintf(stderr, "argo-bench: bad --warmup\n");
				return 2;
			}
			have_warmup = true;
			break;
		case 'T':
			o->timeout_ms = atoi(optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'G':
			o->progress = true;
			break;
		case 'L':
			o->label = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			print_version();
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "argo-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->uri == !o->sock_spec) {
		fprintf(stderr, "argo-bench: give --fabric, or --%s\n",
		        o->mode == MODE_SERVER ? "listen" : "connect");
		return 2;
	}
	if (o->mode == MODE_SERVER) {
		if (o->uri && !o->port) {
			fprintf(stderr, "argo-bench: server: --port is required with --fabric\n");
			return 2;
		}
		if (!o->ring_len)
			o->ring_len = 1024 * 1024;
		return 0;
	}
	if (o->uri && !o->have_to) {
		fprintf(stderr, "argo-bench: --fabric needs --to or --global\n");
		return 2;
	}
	if (!o->port)
		o->port = 40100;
	if (!have_sizes) {
		if (o->mode == MODE_LATENCY)
			parse_sizes("64", o);
		else
			parse_sizes("all", o);
	}
	if ((have_count + (o->bytes > 0) + (o->duration > 0)) > 1) {
		fprintf(stderr, "argo-bench: give one of --count, --bytes, --duration\n");
		return 2;
	}
	if (o->bytes && o->mode == MODE_LATENCY) {
		fprintf(stderr, "argo-bench: --bytes is for throughput\n");
		return 2;
	}
	if (!have_count && !o->bytes && !o->duration) {
		if (o->mode == MODE_LATENCY)
			o->count = 10000;
		else
			o->duration = 2.0;
	}
	if (!have_warmup)
		o->warmup = UINT32_MAX; /* per size, from its count */
	return 0;
}

/* ---- Setting up ------------------------------------------------------------ */

static uint32_t max_size(const struct opts *o)
{
	uint32_t m = 0;
	unsigned int i;

	for (i = 0; i < o->nsizes; i++)
		if (o->sizes[i] > m)
			m = o->sizes[i];
	return m;
}

static int open_argo(const struct opts *o, struct chan *c)
{
	xen_argo_register_ring_t reg = {.aport = o->port};
	uint32_t biggest = o->mode == MODE_SERVER ? 0 : max_size(o);
	int ret;

	ret = argo_open(o->uri, &c->fabric);
	if (ret < 0) {
		fprintf(stderr, "argo-bench: %s\n", argo_open_error());
		return ret;
	}
	if (o->mode == MODE_SERVER) {
		reg.partner_id = o->partner;
		reg.len = o->ring_len;
	} else {
		/* Replies come only from the server's domain (or the relay). */
		uint64_t len = 4 * (argo_roundup16(biggest + ARGO_ROUTED_HDR_SIZE) +
		                    sizeof(struct xen_argo_ring_message_header));

		reg.partner_id = o->routed ? o->relay : o->to.domain_id;
		reg.len = o->ring_len ? o->ring_len : (uint32_t)(len < 4096 ? 4096 : len);
	}
	ret = argo_register_ring(c->fabric, &reg, 0, &c->ring);
	if (ret < 0) {
		fprintf(stderr, "argo-bench: register port %u on %s: %s\n", reg.aport, o->uri,
		        argo_strerror(ret));
		argo_close(c->fabric);
		return ret;
	}
	c->addr.src.aport = o->port;
	c->addr.src.domain_id = XEN_ARGO_DOMID_ANY;
	c->addr.dst = o->to;
	c->routed = o->routed;
	c->relay = o->relay;
	c->global = o->global;
	return 0;
}

static void close_chan(struct chan *c)
{
	if (c->fabric) {
		argo_unregister_ring(c->fabric, c->ring);
		argo_close(c->fabric);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->rbuf);
}

/* ---- Server ------------------------------------------------------------------ */

static bool pattern_ok(const uint8_t *buf, uint32_t len, uint64_t seq);

/* Serves one channel until it fails or we are told to stop: echoes PING,
 * counts DATA, acknowledges END with what it counted. */
static int serve(struct chan *c, uint8_t *buf, size_t cap)
{
	struct stream_ack ack = {0, 0, 0, 0};
	uint64_t next = 0;

	while (!stop) {
		uint32_t type;
		ssize_t n = chan_recv(c, &type, buf, cap);
		int ret;

		if (n == -ETIMEDOUT)
			continue;
		if (n < 0)
			return (int)n;
		switch (type) {
		case TYPE_PING:
			ret = chan_send(c, TYPE_PING, buf, (uint32_t)n, true);
			if (ret < 0)
				fprintf(stderr, "argo-bench: server: echo: %s\n",
				        argo_strerror(ret));
			break;
		case TYPE_DATA: {
			uint64_t seq = 0;

			if (n >= 8)
				memcpy(&seq, buf, 8);
			if (n < 8 || seq != next)
				ack.out_of_order++;
			else if (!pattern_ok(buf, (uint32_t)n, seq))
				ack.corrupt++;
			next = seq + 1;
			ack.messages++;
			ack.bytes += (uint64_t)n;
			break;
		}
		case TYPE_END:
			ret = chan_send(c, TYPE_ACK, &ack, sizeof(ack), true);
			if (ret < 0)
				fprintf(stderr, "argo-bench: server: ack: %s\n",
				        argo_strerror(ret));
			memset(&ack, 0, sizeof(ack));
			next = 0;
			break;
		default:
			fprintf(stderr, "argo-bench: server: message of unknown type %#x ignored\n",
			        type);
			break;
		}
	}
	return 0;
}

/* Raw 8N1, no echo, no translation, no flow control: every byte passes. */
static int tty_raw(int fd)
{
	struct termios tio;

	if (tcgetattr(fd, &tio) < 0)
		return -errno;
	cfmakeraw(&tio);
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	return tcsetattr(fd, TCSANOW, &tio) < 0 ? -errno : 0;
}

/* Until the device's other end is there, with something to read. A
 * virtio-serial port whose host end is closed polls POLLHUP at once and
 * reads end-of-file; when the host opens it again the port raises SIGIO
 * (O_ASYNC, owned by us), which we wait for with SIGIO blocked: nothing
 * runs while the host is away (a look every few milliseconds would load
 * the very guest being measured). A tty whose master closed raises none:
 * it is looked at again every second. */
static int wait_peer(int fd)
{
	sigset_t io;

	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	while (!stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p.revents & POLLNVAL)
			return -EBADF;
		if (!(p.revents & (POLLHUP | POLLERR)))
			return 0;
		/* A SIGIO since the poll is pending: no wake-up is lost. */
		if (sigtimedwait(&io, NULL, &(struct timespec){1, 0}) < 0 && errno != EAGAIN &&
		    errno != EINTR)
			return -errno;
	}
	return -EINTR;
}

/* Serves the socket protocol on a character device (a virtio-serial port
 * in a guest, whose host end is QEMU's chardev socket; a tty), for the
 * raw-serial baseline: one peer at a time, again after each hang-up. */
static int serve_device(const char *path, struct chan *c, uint8_t *buf, size_t cap)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
	sigset_t io;
	struct stat st;
	int ret = 0;

	c->fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->fd < 0 || fstat(c->fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		fprintf(stderr, "argo-bench: server: %s: %s\n", path,
		        c->fd < 0 ? strerror(errno) : "not a character device");
		if (c->fd >= 0)
			close(c->fd);
		return 1;
	}
	if (isatty(c->fd) && (ret = tty_raw(c->fd)) < 0) {
		fprintf(stderr, "argo-bench: server: %s: raw mode: %s\n", path, strerror(-ret));
		close(c->fd);
		return 1;
	}
	c->rbuf = malloc(SOCK_HDR_LEN + MAX_SIZE + sizeof(struct stream_ack));
	if (!c->rbuf) {
		close(c->fd);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* The port's SIGIO says the host is back (wait_peer); taken with
	 * sigtimedwait, so blocked, and never delivered. */
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	sigprocmask(SIG_BLOCK, &io, NULL);
	if (fcntl(c->fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_ASYNC) < 0)
		fprintf(stderr, "argo-bench: server: %s: no SIGIO (%s): looking every second\n",
		        path, strerror(errno));
	printf("argo-bench: server: serving %s\n", path);
	fflush(stdout);
	while (!stop) {
		ret = wait_peer(c->fd);
		if (ret < 0)
			break;
		c->rlen = c->roff = 0; /* a new peer: nothing of the last one */
		ret = serve(c, buf, cap);
		/* End of file (a virtio port) or EIO (a pty): the peer left. */
		if (ret < 0 && ret != -ECONNRESET && ret != -EIO && ret != -EINTR) {
			fprintf(stderr, "argo-bench: server: %s: %s\n", path, strerror(-ret));
			break;
		}
	}
	close(c->fd);
	free(c->rbuf);
	return ret < 0 && ret != -EINTR && ret != -ECONNRESET && ret != -EIO ? 1 : 0;
}

static int run_server(const struct opts *o)
{
	size_t cap = MAX_SIZE + ARGO_ROUTED_HDR_SIZE + sizeof(struct stream_ack);
	uint8_t *buf = malloc(cap);
	struct chan c = {.fd = -1, .timeout_ms = 1000};
	int ret = 0;

	if (!buf)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o->uri) {
		if (open_argo(o, &c) < 0) {
			free(buf);
			return 1;
		}
		printf("argo-bench: server: domain %u serving port %u\n", argo_domid(c.fabric),
		       o->port);
		fflush(stdout);
		ret = serve(&c, buf, cap);
		if (ret < 0)
			fprintf(stderr, "argo-bench: server: %s\n", argo_strerror(ret));
		close_chan(&c);
		free(buf);
		return ret < 0 ? 1 : 0;
	}

	if (!strncmp(o->sock_spec, "dev:", 4)) {
		ret = serve_device(o->sock_spec + 4, &c, buf, cap);
		free(buf);
		return ret;
	}

	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, one = 1;

	if (parse_sockaddr(o->sock_spec, &ss, &len) < 0) {
		fprintf(stderr, "argo-bench: --listen takes unix:PATH, tcp:HOST:PORT or dev:PATH\n");
		free(buf);
		return 2;
	}
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&ss)->sun_path);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 8) < 0) {
		fprintf(stderr, "argo-bench: listen on %s: %s\n", o->sock_spec, strerror(errno));
		free(buf);
		return 1;
	}
	/* accept() must not restart after a signal: we want to stop. */
	struct sigaction sa = {.sa_handler = on_signal};

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("argo-bench: server: listening on %s\n", o->sock_spec);
	fflush(stdout);
	c.rbuf = malloc(SOCK_HDR_LEN + MAX_SIZE + sizeof(struct stream_ack));
	while (!stop && c.rbuf) {
		c.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c.fd < 0)
			continue;
		sock_tune(c.fd, 0);
		c.rlen = c.roff = 0;
		ret = serve(&c, buf, cap);
		if (ret < 0 && ret != -ECONNRESET)
			fprintf(stderr, "argo-bench: server: connection: %s\n", strerror(-ret));
		close(c.fd);
		c.fd = -1;
	}
	close(lfd);
	if (ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&ss)->sun_path);
	free(c.rbuf);
	free(buf);
	return 0;
}

/* ---- Client ------------------------------------------------------------------ */

static void fill(uint8_t *buf, uint32_t len, uint64_t seq)
{
	uint32_t i;

	memcpy(buf, &seq, 8);
	for (i = 8; i < len; i++)
		buf[i] = (uint8_t)(seq * 131 + i * 7);
}

static bool pattern_ok(const uint8_t *buf, uint32_t len, uint64_t seq)
{
	uint32_t i;

	for (i = 8; i < len; i++)
		if (buf[i] != (uint8_t)(seq * 131 + i * 7))
			return false;
	return true;
}

struct result {
	uint32_t size;
	unsigned long count;
	struct bench_hist *hist; /* latency */
	double seconds;          /* throughput */
	uint64_t bytes;
};

static unsigned long warmup_of(const struct opts *o)
{
	if (o->warmup != UINT32_MAX)
		return o->warmup;
	if (!o->count)
		return 200;
	return o->count / 10 < 1000 ? o->count / 10 : 1000;
}

/* --duration in ns, or 0. */
static uint64_t duration_of(const struct opts *o)
{
	return o->duration > 0 ? (uint64_t)(o->duration * 1e9) : 0;
}

/* warmup + *count round trips of size bytes (for duration ns after the
 * warm-up instead, if not 0); the timed ones go into hist, and *count says
 * how many. */
static int pingpong(struct chan *c, uint32_t size, unsigned long *count, unsigned long warmup,
                    uint64_t duration, struct bench_hist *hist, uint8_t *out, uint8_t *in,
                    size_t cap)
{
	uint64_t deadline = UINT64_MAX;
	unsigned long i;

	for (i = 0; duration || i < warmup + *count; i++) {
		uint64_t t0, t1, seq = 0;
		uint32_t type;
		ssize_t n;
		int ret;

		fill(out, size, i);
		t0 = tool_now_ns();
		if (duration && i == warmup)
			deadline = t0 + duration;
		ret = chan_send(c, TYPE_PING, out, size, false);
		if (ret < 0) {
			fprintf(stderr, "argo-bench: request #%lu: %s\n", i, argo_strerror(ret));
			return ret;
		}
		n = chan_recv(c, &type, in, cap);
		t1 = tool_now_ns();
		if (n < 0) {
			fprintf(stderr, "argo-bench: reply #%lu: %s\n", i, argo_strerror((int)n));
			return (int)n;
		}
		if (n >= 8)
			memcpy(&seq, in, 8);
		if (type != TYPE_PING || (uint32_t)n != size || seq != i ||
		    memcmp(in, out, size) != 0) {
			fprintf(stderr,
			        "argo-bench: reply #%lu is wrong (type %#x, %zd bytes, seq %llu)\n",
			        i, type, n, (unsigned long long)seq);
			return -EBADMSG;
		}
		if (i >= warmup)
			bench_hist_add(hist, t1 - t0);
		if (duration && t1 >= deadline) {
			i++;
			break;
		}
	}
	*count = i - warmup;
	return 0;
}

/* *count messages one way (for duration ns instead, if not 0: then
 * *count says how many), then END; the server's ACK must account for
 * every one of them. *seconds: from the first send to the ACK. */
static int stream(struct chan *c, uint32_t size, unsigned long *countp, uint64_t duration,
                  uint8_t *out, uint8_t *in, size_t cap, double *seconds)
{
	struct stream_ack ack;
	uint64_t t0 = tool_now_ns(), deadline = duration ? t0 + duration : 0;
	unsigned long i, count;
	uint32_t type;
	ssize_t n;
	int ret;

	for (i = 0; deadline ? (i == 0 || tool_now_ns() < deadline) : i < *countp; i++) {
		fill(out, size, i);
		ret = chan_send(c, TYPE_DATA, out, size, false);
		if (ret < 0) {
			fprintf(stderr, "argo-bench: message #%lu: %s\n", i, argo_strerror(ret));
			return ret;
		}
	}
	count = *countp = i;
	ret = chan_send(c, TYPE_END, NULL, 0, false);
	if (ret < 0) {
		fprintf(stderr, "argo-bench: end of stream: %s\n", argo_strerror(ret));
		return ret;
	}
	n = chan_recv(c, &type, in, cap);
	*seconds = (double)(tool_now_ns() - t0) / 1e9;
	if (n < 0) {
		fprintf(stderr, "argo-bench: acknowledgement: %s\n", argo_strerror((int)n));
		return (int)n;
	}
	if (type != TYPE_ACK || (size_t)n != sizeof(ack)) {
		fprintf(stderr, "argo-bench: no acknowledgement (type %#x, %zd bytes)\n", type, n);
		return -EBADMSG;
	}
	memcpy(&ack, in, sizeof(ack));
	if (ack.messages != count || ack.bytes != (uint64_t)count * size || ack.out_of_order ||
	    ack.corrupt) {
		fprintf(stderr,
		        "argo-bench: the server got %llu of %lu messages, %llu of %llu bytes, "
		        "%llu out of order, %llu corrupt\n",
		        (unsigned long long)ack.messages, count, (unsigned long long)ack.bytes,
		        (unsigned long long)count * size, (unsigned long long)ack.out_of_order,
		        (unsigned long long)ack.corrupt);
		return -EBADMSG;
	}
	return 0;
}

static void target_name(const struct opts *o, char *buf, size_t len)
{
	if (o->sock_spec)
		snprintf(buf, len, "%s", o->sock_spec);
	else if (o->routed)
		snprintf(buf, len, "%s -> %s:%u:%u via relay %u", o->uri, o->global.hvid,
		         o->global.domid, o->global.port, o->relay);
	else
		snprintf(buf, len, "%s -> %u:%u", o->uri, o->to.domain_id, o->to.aport);
}

/* JSON string contents: the few characters that need escaping. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_results(const struct opts *o, const struct result *res, unsigned int nres)
{
	char target[512];
	unsigned int i, b;

	target_name(o, target, sizeof(target));
	if (!o->json) {
		if (o->mode == MODE_LATENCY) {
			printf("argo-bench latency: %s%s%s\n", o->label ? o->label : "",
			       o->label ? ": " : "", target);
			printf("%8s %9s %9s %9s %9s %9s %9s %9s %9s  (round trip, us)\n", "size",
			       "count", "min", "p50", "p90", "p99", "p99.9", "max", "mean");
			for (i = 0; i < nres; i++) {
				const struct bench_hist *h = res[i].hist;

				printf("%8u %9lu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
				       res[i].size, res[i].count, h->min / 1e3,
				       bench_hist_quantile(h, 0.5) / 1e3,
				       bench_hist_quantile(h, 0.9) / 1e3,
				       bench_hist_quantile(h, 0.99) / 1e3,
				       bench_hist_quantile(h, 0.999) / 1e3, h->max / 1e3,
				       bench_hist_mean(h) / 1e3);
			}
		} else {
			printf("argo-bench throughput: %s%s%s\n", o->label ? o->label : "",
			       o->label ? ": " : "", target);
			printf("%8s %10s %12s %10s %12s\n", "size", "messages", "bytes", "MB/s",
			       "messages/s");
			for (i = 0; i < nres; i++)
				printf("%8u %10lu %12llu %10.1f %12.0f\n", res[i].size,
				       res[i].count, (unsigned long long)res[i].bytes,
				       (double)res[i].bytes / res[i].seconds / 1e6,
				       (double)res[i].count / res[i].seconds);
		}
		return;
	}
	printf("{\"tool\": \"argo-bench\", \"version\": ");
	json_str(ARGO_BENCH_VERSION);
	printf(", \"mode\": \"%s\", \"target\": ",
	       o->mode == MODE_LATENCY ? "latency" : "throughput");
	json_str(target);
	if (o->label) {
		printf(", \"label\": ");
		json_str(o->label);
	}
	printf(", \"results\": [");
	for (i = 0; i < nres; i++) {
		printf("%s\n  {\"size\": %u, \"count\": %lu", i ? "," : "", res[i].size,
		       res[i].count);
		if (o->mode == MODE_LATENCY) {
			const struct bench_hist *h = res[i].hist;
			bool first = true;

			printf(", \"unit\": \"ns\", \"min\": %llu, \"p50\": %llu, \"p90\": %llu, "
			       "\"p99\": %llu, \"p999\": %llu, \"max\": %llu, \"mean\": %.1f",
			       (unsigned long long)h->min,
			       (unsigned long long)bench_hist_quantile(h, 0.5),
			       (unsigned long long)bench_hist_quantile(h, 0.9),
			       (unsigned long long)bench_hist_quantile(h, 0.99),
			       (unsigned long long)bench_hist_quantile(h, 0.999),
			       (unsigned long long)h->max, bench_hist_mean(h));
			/* The non-empty buckets: [lowest value, width, count]. */
			printf(", \"histogram\": [");
			for (b = 0; b < BENCH_HIST_BUCKETS; b++) {
				if (!h->counts[b])
					continue;
				printf("%s[%llu, %llu, %llu]", first ? "" : ", ",
				       (unsigned long long)bench_hist_lower(b),
				       (unsigned long long)bench_hist_width(b),
				       (unsigned long long)h->counts[b]);
				first = false;
			}
			printf("]}");
		} else {
			printf(", \"bytes\": %llu, \"seconds\": %.6f, \"mb_per_s\": %.2f, "
			       "\"messages_per_s\": %.1f}",
			       (unsigned long long)res[i].bytes, res[i].seconds,
			       (double)res[i].bytes / res[i].seconds / 1e6,
			       (double)res[i].count / res[i].seconds);
		}
	}
	printf("\n]}\n");
}

static int run_client(const struct opts *o)
{
	uint32_t biggest = max_size(o);
	size_t cap = biggest + ARGO_ROUTED_HDR_SIZE + sizeof(struct stream_ack);
	struct chan c = {.fd = -1, .timeout_ms = o->timeout_ms};
	struct result res[MAX_SIZES];
	uint8_t *out = malloc(biggest), *in = malloc(cap);
	unsigned int i, done = 0;
	int ret = 0;

	memset(res, 0, sizeof(res));
	signal(SIGPIPE, SIG_IGN);
	if (!out || !in) {
		fprintf(stderr, "argo-bench: out of memory\n");
		return 1;
	}
	if (o->uri) {
		if (open_argo(o, &c) < 0) {
			free(out);
			free(in);
			return 1;
		}
	} else {
		struct sockaddr_storage ss;
		socklen_t len;

		if (parse_sockaddr(o->sock_spec, &ss, &len) < 0) {
			fprintf(stderr, "argo-bench: --connect takes unix:PATH or tcp:HOST:PORT\n");
			free(out);
			free(in);
			return 2;
		}
		c.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&ss, len) < 0) {
			fprintf(stderr, "argo-bench: connect to %s: %s\n", o->sock_spec,
			        strerror(errno));
			close_chan(&c);
			free(out);
			free(in);
			return 1;
		}
		sock_tune(c.fd, o->timeout_ms);
		c.rbuf = malloc(SOCK_HDR_LEN + MAX_SIZE + sizeof(struct stream_ack));
		if (!c.rbuf) {
			close_chan(&c);
			free(out);
			free(in);
			return 1;
		}
	}

	for (i = 0; i < o->nsizes && ret == 0; i++) {
		uint32_t size = o->sizes[i];
		unsigned long count = o->count, warmup;

		res[i].size = size;
		warmup = warmup_of(o);
		if (o->mode == MODE_LATENCY) {
			res[i].hist = malloc(sizeof(*res[i].hist));
			if (!res[i].hist) {
				ret = -ENOMEM;
				break;
			}
			bench_hist_init(res[i].hist);
			ret = pingpong(&c, size, &count, warmup, duration_of(o), res[i].hist, out,
			               in, cap);
			res[i].count = count;
			if (ret == 0 && o->progress)
				fprintf(stderr,
				        "argo-bench: latency %u B: %lu round trips, p50 %.1f us\n",
				        size, count, bench_hist_quantile(res[i].hist, 0.5) / 1e3);
		} else {
			double secs = 0;

			if (o->bytes) {
				count = (unsigned long)(o->bytes / size);
				if (count < 16)
					count = 16;
			}
			if (warmup)
				ret = stream(&c, size, &warmup, 0, out, in, cap, &secs);
			if (ret == 0)
				ret = stream(&c, size, &count, duration_of(o), out, in, cap, &secs);
			res[i].count = count;
			res[i].bytes = (uint64_t)count * size;
			res[i].seconds = secs;
			if (ret == 0 && o->progress)
				fprintf(stderr,
				        "argo-bench: throughput %u B: %lu messages, %.1f MB/s\n",
				        size, count, (double)res[i].bytes / secs / 1e6);
		}
		if (ret == 0)
			done++;
	}
	if (ret == 0)
		print_results(o, res, done);
	for (i = 0; i < MAX_SIZES; i++)
		free(res[i].hist);
	close_chan(&c);
	free(out);
	free(in);
	return ret == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	int ret;

	memset(&o, 0, sizeof(o));
	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret == 1 ? 0 : 2;
	return o.mode == MODE_SERVER ? run_server(&o) : run_client(&o);
}
