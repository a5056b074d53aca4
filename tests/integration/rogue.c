/* SPDX-License-Identifier: MIT */
/*
 * test-rogue: an attacker of a relay's link, for tests
 * (tests/integration/test-link-attacks.sh). Either a stranger (no key) or a
 * rogue neighbour that holds its link's key and speaks the protocol
 * through common/link (session, frames), as a leaf endpoint would, but
 * breaks its rules on purpose.
 *
 *   test-rogue --connect ADDR [--bind IP] [--hvid ME --peer HVID --key FILE]
 *              ACTION...
 *
 *   ADDR unix:PATH or tcp:HOST:PORT; --bind: the local address of TCP
 *   connections (another source, e.g. 127.0.0.2).
 *
 * Actions, done in the order given:
 *   --storm N MS          N bare connections, opened and closed, MS apart
 *   --bad-handshakes N    N TLS handshakes with a fresh random key (as
 *                         --hvid to --peer): each must fail
 *   --send-file FILE      a connection that sends FILE's bytes (a captured
 *                         handshake, test-mitm --capture), then reads what
 *                         comes back for a second
 *   --preauth-frame       a connection that sends, before any handshake, a
 *                         frame header announcing a DATA of 16 MiB and
 *                         then 16 MiB of bytes, as fast as it is taken
 *   --preauth-tls         the same as a TLS record announcing a ClientHello
 *                         of 16 MiB
 *   --up                  connects and brings a session up with --key
 *                         (the relay's link for --hvid must accept it), and
 *                         grants the relay all the credit it wants
 *   --announce H:N,...    (up) a ROUTES frame: hvid H at N hops...
 *   --data N SIZE SRC DST (up) N DATA of SIZE bytes from global address
 *                         SRC (HVID:DOMID:PORT) to DST; within the relay's
 *                         credit unless --ignore-credit came before
 *   --ignore-credit       DATA after it ignore the relay's grants
 *   --report N SRC DST ERRNO  (up) N UNDELIVERABLE reports for msn 1..N
 *                         of SRC -> DST that we never received
 *   --hold MS             (up) stays connected MS, answers pings, counts
 *                         what comes
 *
 * Every action prints one line "test-rogue: ACTION: ..."; the last line is
 * "test-rogue: summary: ..." with what the session did: up or not, DATA
 * sent, DATA and UNDELIVERABLE received, and whether and why the relay
 * ended it. Exit status 0 unless the tool itself failed (bad arguments,
 * no connection).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "frames.h"
#include "session.h"
#include "wire.h"

#define BIG_CREDIT (1ull << 50)

static struct {
	const char *connect, *bind, *hvid, *peer, *key;
	bool ignore_credit;
} opt;

/* The session of --up. */
static struct {
	int fd;
	struct auth_psk psk;
	struct session_creds creds;
	struct session s;
	struct frames f;
	bool up, ended;
	char ended_why[256];
	uint64_t credit, sent_cost, next_msn;
	uint64_t data_sent, data_rx, reports_rx, frames_rx;
} r = {.fd = -1, .next_msn = 1};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stdout, "test-rogue: ");
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "test-rogue: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Connections --------------------------------------------------------- */

/* A connected socket to --connect (blocking connect, then non-blocking). */
static int dial(void)
{
	int fd = -1;

	if (!strncmp(opt.connect, "unix:", 5)) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		if (strlen(opt.connect + 5) >= sizeof(sun.sun_path))
			die("%s: path too long", opt.connect);
		strcpy(sun.sun_path, opt.connect + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			if (fd >= 0)
				close(fd);
			return -errno;
		}
	} else if (!strncmp(opt.connect, "tcp:", 4)) {
		char host[256];
		const char *colon = strrchr(opt.connect + 4, ':');
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
		size_t hl;

		if (!colon || (hl = (size_t)(colon - opt.connect - 4)) >= sizeof(host))
			die("%s: expected tcp:HOST:PORT", opt.connect);
		memcpy(host, opt.connect + 4, hl);
		host[hl] = '\0';
		if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
			die("%s: cannot resolve", opt.connect);
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && opt.bind) {
			struct sockaddr_in b = {.sin_family = AF_INET};

			if (inet_pton(AF_INET, opt.bind, &b.sin_addr) != 1 ||
			    bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0)
				die("--bind %s: %s", opt.bind, strerror(errno));
		}
		if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
			int e = errno;

			freeaddrinfo(res);
			if (fd >= 0)
				close(fd);
			return -e;
		}
		freeaddrinfo(res);
	} else {
		die("%s: expected unix:PATH or tcp:HOST:PORT", opt.connect);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Writes all of buf, waiting while the socket is full, until the peer
 * closes or ms pass: the bytes written. */
static size_t write_all(int fd, const void *buf, size_t len, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	size_t off = 0;

	while (off < len && now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		ssize_t n = write(fd, (const uint8_t *)buf + off, len - off);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		poll(&p, 1, 50);
	}
	return off;
}

/* Reads and drops what comes for ms, or until EOF: the bytes read. */
static size_t drain(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	uint8_t buf[4096];
	size_t got = 0;

	while (now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			break;
		if (n > 0)
			got += (size_t)n;
	}
	return got;
}

/* ---- Unauthenticated actions ---------------------------------------------- */

static void do_storm(unsigned int n, unsigned int ms)
{
	unsigned int i, made = 0;

	for (i = 0; i < n; i++) {
		int fd = dial();

		if (fd >= 0) {
			made++;
			close(fd);
		}
		usleep(ms * 1000u);
	}
	say("storm: %u of %u connections made and closed, %u ms apart", made, n, ms);
}

static int ignore_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	(void)ctx;
	(void)hdr;
	(void)frame;
	return 0;
}

static void do_bad_handshakes(unsigned int n)
{
	unsigned int i, failed = 0, closed = 0, refused = 0, accepted = 0;

	if (!opt.hvid || !opt.peer)
		die("--bad-handshakes needs --hvid and --peer");
	for (i = 0; i < n; i++) {
		struct auth_psk psk = {.len = 32};
		struct session_creds creds;
		struct session s;
		struct frames f;
		char why[256];
		uint64_t end = now_ms() + 3000;
		int fd = dial(), ret;

		if (fd < 0) {
			refused++;
			continue;
		}
		auth_random(psk.key, 32);
		if (session_creds_psk(&creds, WIRE_ROLE_INITIATOR, opt.hvid, opt.peer, &psk, why,
		                      sizeof(why)) < 0)
			die("creds: %s", why);
		memset(&s, 0, sizeof(s));
		frames_init(&f);
		if (session_start(&s, fd, &creds, NULL) < 0)
			die("session_start");
		frames_attach(&f, &s);
		for (;;) {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			ret = frames_flush(&f);
			if (ret < 0 && ret != -EAGAIN)
				break;
			if (s.phase != SESSION_TLS) {
				ret = 0;
				break;
			}
			if (now_ms() > end) {
				ret = -ETIMEDOUT;
				break;
			}
			poll(&p, 1, 100);
			ret = frames_read(&f, ignore_frame, NULL, NULL);
			if (ret < 0)
				break;
		}
		if (ret == -EACCES)
			failed++;
		else if (ret == 0 && s.phase != SESSION_TLS)
			accepted++;
		else
			closed++;
		frames_fini(&f);
		session_end(&s);
		session_creds_fini(&creds);
		close(fd);
		usleep(50 * 1000);
	}
	say("bad-handshakes: %u tried: %u refused by TLS, %u closed by the relay, %u no "
	    "connection, %u accepted",
	    n, failed, closed, refused, accepted);
}

static void do_send_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *file = fopen(path, "rb");
	size_t n, sent;
	int fd;

	if (!file)
		die("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf), file);
	fclose(file);
	fd = dial();
	if (fd < 0) {
		say("send-file: no connection: %s", strerror(-fd));
		return;
	}
	sent = write_all(fd, buf, n, 2000);
	say("send-file: sent %zu of %zu bytes of %s, got %zu bytes back", sent, n, path,
	    drain(fd, 1000));
	close(fd);
}

/* A claim of 16 MiB before any handshake, and the bytes to go with it. */
static void do_preauth(bool tls)
{
	size_t total = 16u << 20, sent;
	uint8_t *buf = calloc(1, total + 64);
	int fd;

	if (!buf)
		die("out of memory");
	if (tls) {
		/* A handshake record (22, TLS 1.0 in the record version as a
		 * ClientHello has), then a ClientHello claiming 16 MiB - 1. */
		buf[0] = 22;
		buf[1] = 3;
		buf[2] = 1;
		buf[3] = 0x40;
		buf[4] = 0x00;
		buf[5] = 1;
		buf[6] = buf[7] = buf[8] = 0xFF;
	} else {
		wire_put_header(buf, WIRE_DATA, WIRE_DATA_HEADER_SIZE + WIRE_MAX_MESSAGE, 1);
	}
	fd = dial();
	if (fd < 0) {
		say("preauth-%s: no connection: %s", tls ? "tls" : "frame", strerror(-fd));
		free(buf);
		return;
	}
	sent = write_all(fd, buf, total, 5000);
	say("preauth-%s: the relay took %zu of %zu bytes, then %s", tls ? "tls" : "frame", sent,
	    total, sent < total ? "closed or stopped reading" : "nothing more");
	drain(fd, 200);
	close(fd);
	free(buf);
}

/* ---- The rogue neighbour ------------------------------------------------- */

static void end_session(const char *why)
{
	if (r.ended)
		return;
	r.ended = true;
	snprintf(r.ended_why, sizeof(r.ended_why), "%s", why ? why : "?");
	say("session ended: %s", r.ended_why);
}

static int put(uint8_t type, const void *p1, uint32_t l1, const void *p2, uint32_t l2)
{
	return frames_put(&r.f, &r.s, type, p1, l1, p2, l2);
}

static int on_frame(void *ctx, const struct wire_header *hdr, const uint8_t *frame)
{
	const uint8_t *payload = frame + WIRE_HEADER_SIZE;
	const char *why = NULL;

	(void)ctx;
	r.frames_rx++;
	if (session_open(&r.s, hdr, frame, &why) < 0) {
		end_session(why);
		return -1;
	}
	switch (hdr->type) {
	case WIRE_HELLO:
		if (session_on_hello(&r.s, payload, hdr->length, &why) < 0) {
			end_session(why);
			return -1;
		}
		r.up = true;
		break;
	case WIRE_DATA: {
		struct wire_data d;

		if (wire_parse_data(payload, hdr->length, &d, &why) == 0) {
			r.data_rx++;
			if (d.credit > r.credit)
				r.credit = d.credit;
		}
		break;
	}
	case WIRE_ACK: {
		struct wire_ack a;

		if (wire_parse_ack(payload, hdr->length, &a, &why) == 0 && a.credit > r.credit)
			r.credit = a.credit;
		break;
	}
	case WIRE_UNDELIVERABLE:
		r.reports_rx++;
		break;
	case WIRE_PING:
		put(WIRE_PONG, payload, hdr->length, NULL, 0);
		break;
	case WIRE_CLOSE:
		end_session("the relay sent CLOSE");
		return -1;
	default:
		break;
	}
	return 0;
}

/* Moves bytes for up to ms (0: what is ready now). */
static void io(int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		struct pollfd p = {.fd = r.fd, .events = POLLIN};
		const char *why = NULL;
		int ret;

		if (r.ended)
			return;
		ret = frames_flush(&r.f);
		if (ret == -EAGAIN)
			p.events |= POLLOUT;
		else if (ret < 0) {
			end_session(r.f.why ? r.f.why : strerror(-ret));
			return;
		}
		if (poll(&p, 1, ms ? 20 : 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			ret = frames_read(&r.f, on_frame, NULL, &why);
			if (ret < 0 && ret != -ECANCELED) {
				end_session(why ? why : strerror(-ret));
				return;
			}
		}
	} while (now_ms() < end);
}

static void do_up(void)
{
	uint8_t hello[WIRE_HELLO_SIZE], ack[WIRE_ACK_SIZE];
	struct wire_hello h = {0};
	struct wire_ack grant = {.acked_msn = 0, .credit = BIG_CREDIT};
	char why[512];
	const char *w = NULL;
	uint64_t end;

	if (!opt.hvid || !opt.peer || !opt.key)
		die("--up needs --hvid, --peer and --key");
	if (auth_load_psk(opt.key, geteuid(), &r.psk, why, sizeof(why)) < 0)
		die("%s", why);
	if (session_creds_psk(&r.creds, WIRE_ROLE_INITIATOR, opt.hvid, opt.peer, &r.psk, why,
	                      sizeof(why)) < 0)
		die("creds: %s", why);
	r.fd = dial();
	if (r.fd < 0)
		die("up: cannot connect to %s: %s", opt.connect, strerror(-r.fd));
	frames_init(&r.f);
	if (session_start(&r.s, r.fd, &r.creds, &w) < 0)
		die("session_start: %s", w);
	frames_attach(&r.f, &r.s);
	auth_random(&h.boot_id, sizeof(h.boot_id));
	h.rx_next_msn = 1;
	if (session_hello(&r.s, &h, hello, &w) < 0 ||
	    put(WIRE_HELLO, hello, WIRE_HELLO_SIZE, NULL, 0) < 0)
		die("hello: %s", w ? w : "?");
	end = now_ms() + 5000;
	while (!r.up && !r.ended && now_ms() < end)
		io(20);
	if (!r.up) {
		say("up: no session: %s", r.ended ? r.ended_why : "timed out");
		return;
	}
	wire_put_ack(ack, sizeof(ack), &grant);
	put(WIRE_ACK, ack, sizeof(ack), NULL, 0);
	io(0);
	say("up: session with %s (%s, %s)", opt.peer, r.s.cipher, r.s.group);
}

static void need_up(const char *what)
{
	if (!r.up)
		die("%s needs --up first", what);
}

static void parse_gaddr(const char *s, struct wire_gaddr *a)
{
	char hvid[64];
	unsigned int domid, port;

	memset(a, 0, sizeof(*a));
	if (sscanf(s, "%63[^:]:%u:%u", hvid, &domid, &port) != 3 || strlen(hvid) >= WIRE_HVID_SIZE)
		die("%s: expected HVID:DOMID:PORT", s);
	memcpy(a->hvid, hvid, strlen(hvid));
	a->domid = (argo_domid_t)domid;
	a->port = port;
}

static void do_announce(const char *list)
{
	struct wire_route routes[64];
	uint8_t payload[4 + 64 * 20];
	char buf[1024], *tok, *save = NULL;
	uint32_t n = 0;
	int len;

	need_up("--announce");
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');

		memset(&routes[n], 0, sizeof(routes[n]));
		if (colon)
			*colon = '\0';
		snprintf(routes[n].hvid, sizeof(routes[n].hvid), "%s", tok);
		routes[n].hops = colon ? (uint8_t)atoi(colon + 1) : 0;
		n++;
	}
	len = wire_put_routes(payload, sizeof(payload), routes, n);
	if (len < 0)
		die("--announce %s: cannot encode", list);
	put(WIRE_ROUTES, payload, (uint32_t)len, NULL, 0);
	io(100);
	say("announce: %u routes (%s)", n, list);
}

static void do_data(unsigned long n, uint32_t size, const char *src, const char *dst)
{
	static uint8_t message[WIRE_MAX_MESSAGE];
	struct wire_data d = {0};
	uint8_t hdr[WIRE_DATA_HEADER_SIZE];
	unsigned long i, sent = 0;
	uint64_t epoch, stuck = 0;

	need_up("--data");
	if (size > WIRE_MAX_MESSAGE)
		die("--data: size above %u", WIRE_MAX_MESSAGE);
	parse_gaddr(src, &d.src);
	parse_gaddr(dst, &d.dst);
	auth_random(&epoch, sizeof(epoch));
	memset(message, 0x5A, size);
	for (i = 0; i < n && !r.ended; i++) {
		/* Within credit, as a sender must be, unless told not to. */
		while (!opt.ignore_credit && r.sent_cost >= r.credit && !r.ended) {
			io(20);
			if (++stuck > 500) {
				say("data: no credit for 10 s");
				goto out;
			}
		}
		d.msn = r.next_msn++;
		d.origin.epoch = epoch;
		d.origin.index = (uint32_t)i;
		d.length = size;
		d.message = message;
		wire_put_data_header(hdr, sizeof(hdr), &d);
		if (put(WIRE_DATA, hdr, sizeof(hdr), message, size) < 0)
			die("out of memory");
		r.sent_cost += WIRE_DATA_COST(size);
		r.data_sent++;
		sent++;
		if (frames_backlog(&r.f) > (4u << 20) || i % 64 == 63)
			io(0);
		while (frames_backlog(&r.f) > (4u << 20) && !r.ended)
			io(20);
	}
	io(200);
out:
	say("data: %lu of %lu DATA of %u bytes sent (%s credit), %s", sent, n, size,
	    opt.ignore_credit ? "ignoring" : "within",
	    r.ended ? "the session ended" : "session up");
}

static void do_report(unsigned long n, const char *src, const char *dst, unsigned int err)
{
	struct wire_undeliverable u = {0};
	uint8_t out[WIRE_UNDELIVERABLE_SIZE];
	unsigned long i;

	need_up("--report");
	parse_gaddr(src, &u.src);
	parse_gaddr(dst, &u.dst);
	u.error = err;
	for (i = 0; i < n && !r.ended; i++) {
		u.msn = i + 1;
		wire_put_undeliverable(out, sizeof(out), &u);
		put(WIRE_UNDELIVERABLE, out, sizeof(out), NULL, 0);
		if (i % 16 == 15)
			io(0);
	}
	io(100);
	say("report: %lu UNDELIVERABLE for %s -> %s (error %u) sent", i, src, dst, err);
}

/* ---- Main ---------------------------------------------------------------- */

static const char *arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		die("%s needs an argument", argv[*i]);
	return argv[++*i];
}

int main(int argc, char **argv)
{
	int i;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--connect"))
			opt.connect = arg(argc, argv, &i);
		else if (!strcmp(a, "--bind"))
			opt.bind = arg(argc, argv, &i);
		else if (!strcmp(a, "--hvid"))
			opt.hvid = arg(argc, argv, &i);
		else if (!strcmp(a, "--peer"))
			opt.peer = arg(argc, argv, &i);
		else if (!strcmp(a, "--key"))
			opt.key = arg(argc, argv, &i);
		else if (!strcmp(a, "--ignore-credit"))
			opt.ignore_credit = true;
		else if (!opt.connect)
			die("--connect ADDR comes first");
		else if (!strcmp(a, "--storm")) {
			unsigned int n = (unsigned int)atoi(arg(argc, argv, &i));

			do_storm(n, (unsigned int)atoi(arg(argc, argv, &i)));
		} else if (!strcmp(a, "--bad-handshakes"))
			do_bad_handshakes((unsigned int)atoi(arg(argc, argv, &i)));
		else if (!strcmp(a, "--send-file"))
			do_send_file(arg(argc, argv, &i));
		else if (!strcmp(a, "--preauth-frame"))
			do_preauth(false);
		else if (!strcmp(a, "--preauth-tls"))
			do_preauth(true);
		else if (!strcmp(a, "--up"))
			do_up();
		else if (!strcmp(a, "--announce"))
			do_announce(arg(argc, argv, &i));
		else if (!strcmp(a, "--data")) {
			unsigned long n = strtoul(arg(argc, argv, &i), NULL, 0);
			uint32_t size = (uint32_t)strtoul(arg(argc, argv, &i), NULL, 0);
			const char *src = arg(argc, argv, &i);

			do_data(n, size, src, arg(argc, argv, &i));
		} else if (!strcmp(a, "--report")) {
			unsigned long n = strtoul(arg(argc, argv, &i), NULL, 0);
			const char *src = arg(argc, argv, &i);
			const char *dst = arg(argc, argv, &i);

			do_report(n, src, dst, (unsigned int)atoi(arg(argc, argv, &i)));
		} else if (!strcmp(a, "--hold")) {
			int ms = atoi(arg(argc, argv, &i));

			need_up("--hold");
			io(ms);
			say("hold: %d ms, session %s", ms, r.ended ? "ended" : "still up");
		} else
			die("unknown argument %s (see tests/integration/rogue.c)", a);
	}
	if (r.fd >= 0) {
		say("summary: up %s, data_sent %llu, data_rx %llu, reports_rx %llu, ended %s%s%s%s",
		    r.up ? "yes" : "no", (unsigned long long)r.data_sent,
		    (unsigned long long)r.data_rx, (unsigned long long)r.reports_rx,
		    r.ended ? "yes" : "no", r.ended ? " (" : "", r.ended ? r.ended_why : "",
		    r.ended ? ")" : "");
		frames_fini(&r.f);
		session_end(&r.s);
		session_creds_fini(&r.creds);
		auth_psk_wipe(&r.psk);
		close(r.fd);
	}
	return 0;
}
