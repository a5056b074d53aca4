/* SPDX-License-Identifier: MIT */
/*
 * test-mitm: a man in the middle of a relay link, for tests. It listens,
 * and for every connection it accepts it connects to the upstream address
 * and forwards bytes both ways. Links run over TLS 1.3 (docs/protocol.md),
 * so what it sees are TLS records: it cuts each direction's stream into
 * records (a 5-byte header: type, version, length) so that it can spoil
 * exactly one record at a time, and the relays must notice through TLS:
 *
 *   test-mitm --listen ADDR --connect ADDR FAULT [--dir up|down]
 *             [--after N] [--at K | --every K] [--type TYPE]
 *             [--connections C] [--seed S] [--capture FILE]
 *
 *   ADDR       unix:PATH or tcp:HOST:PORT
 *   FAULT      --flip         flip one bit of a record's body
 *              --replay       after the record, send the one before it again
 *              --reorder      swap the record and the next one
 *              --drop         drop the record
 *              --truncate     send part of the record, then cut the connection
 *              --garbage      inject 1..64 random bytes before the record
 *              --reflect      send the accepted side's bytes back to it
 *                             instead of upstream (a handshake reflected to
 *                             its sender); no upstream connection is made
 *              --none         forward only (counts records)
 *   --dir      up: records from the accepted connection to the upstream one
 *              (the connecting relay's direction, the default); down: back
 *   --after N  the first N counted records of each connection in that
 *              direction pass untouched (default 2: a client's Finished and
 *              its HELLO)
 *   --type T   which records count: data (TLS application data, type 23:
 *              every record once the handshake's first flight is past; the
 *              default), handshake (type 22: ClientHello, ServerHello), any
 *   --at K     spoil the K-th counted record, once in the whole run (default 1)
 *   --every K  spoil every K-th counted record of every connection
 *   --connections C  only the first C connections are spoiled (or reflected);
 *              later ones are forwarded untouched
 *   --capture FILE   write what the accepted side of the first connection
 *              forwarded upstream sent (up to 64 KiB: its handshake and first
 *              frames) to FILE, for a test to replay it later
 *   --seed S   random seed (printed at start; bits, lengths, garbage)
 *
 * The counters restart with every connection. A fault ends the TLS
 * session, so it is the last one of its connection: what follows passes
 * untouched, and each fault reported is one the receiving relay must catch
 * and count once. Every fault is reported on stderr as one line starting
 * "test-mitm: FAULT"; the line "test-mitm: listening on ADDR" says it is
 * ready. SIGUSR1 stops the faults (forwarding goes on) and prints
 * "test-mitm: faults stopped after N faults", so that a test can wait for
 * the relays to have seen every one of them. SIGTERM or SIGINT ends it with
 * a summary line. If a direction's stream stops parsing as records (the
 * mitm's own garbage is never parsed), that direction is forwarded raw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define MAX_PAIRS   16
#define REC_HEADER  5u
#define REC_MAX     (16384u + 256u) /* TLS 1.3: the largest record body */
#define CAPTURE_MAX (64u * 1024)
#define TLS_HANDSHAKE 22
#define TLS_APPDATA   23
#define OUT_LIMIT   (4u << 20) /* stop reading a side while its peer lags this much */
#define READ_CHUNK  (256u * 1024)
#define GARBAGE_MAX 64u

enum fault { F_NONE, F_FLIP, F_REPLAY, F_REORDER, F_DROP, F_TRUNCATE, F_GARBAGE, F_REFLECT };

static const char *const fault_names[] = {"none", "flip",     "replay",  "reorder",
					  "drop", "truncate", "garbage", "reflect"};

static struct {
	const char *listen, *connect, *capture;
	enum fault fault;
	int dir; /* 0 up, 1 down */
	uint64_t after, at, every, connections;
	int type; /* 0 any, else a TLS record type */
	uint64_t seed;
} opt = {.after = 2, .at = 1, .type = TLS_APPDATA};

static volatile sig_atomic_t stop, freeze;
static bool frozen;
static uint64_t rng_state;
static unsigned long nconnections, nfaults, nrecords[2];
static bool once_done;
static int capture_fd = -1;
static size_t captured;
static unsigned long capture_conn; /* the connection captured, 0 before */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "test-mitm: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fflush(stderr);
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* ---- Buffers ------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t off, len, cap; /* data is p[off, len) */
};

static int buf_reserve(struct buf *b, size_t n);

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (buf_reserve(b, n) < 0)
		return -ENOMEM;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

/* Room for n more bytes at the end. */
static int buf_reserve(struct buf *b, size_t n)
{
	size_t len = b->len;

	if (b->len + n <= b->cap)
		return 0;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		len = b->len -= b->off;
		b->off = 0;
	}
	if (len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		uint8_t *p;

		while (cap < len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

static size_t buf_used(const struct buf *b)
{
	return b->len - b->off;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- Connection pairs ---------------------------------------------------- */

/* One direction: bytes read from fd[src] go, frame by frame, to out, which
 * is written to the other fd. */
struct dir {
	struct buf in, out;
	bool raw;          /* stopped parsing: forward as it comes */
	uint64_t of_type;  /* records of --type seen this connection */
	uint64_t counted;  /* of those, after --after */
	struct buf last;   /* the last record forwarded (replay) */
	struct buf held;   /* a record held back (reorder) */
	bool holding;
};

struct pair {
	bool used;
	unsigned long id;
	int fd[2]; /* 0: the accepted (downstream) side, 1: upstream (-1: reflecting) */
	struct dir d[2]; /* d[0]: fd[0] -> fd[1] ("up"); d[1]: fd[1] -> fd[0] ("down") */
	bool reflect; /* d[0]'s bytes go back to fd[0] */
	bool faulty;  /* one of the first --connections: it may be spoiled */
	bool cut; /* truncate: flush what is queued, then close both */
	/* A fault that ends the session was applied: the rest of this
	 * connection passes untouched, so that every fault counted here is
	 * one the relay must have caught. */
	bool spoiled;
};

static struct pair pairs[MAX_PAIRS];

static const char *dir_name(int d)
{
	return d == 0 ? "up" : "down";
}

static void pair_close(struct pair *pr, const char *why)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (pr->fd[i] >= 0)
			close(pr->fd[i]);
		buf_free(&pr->d[i].in);
		buf_free(&pr->d[i].out);
		buf_free(&pr->d[i].last);
		buf_free(&pr->d[i].held);
	}
	say("conn %lu: closed (%s)", pr->id, why);
	memset(pr, 0, sizeof(*pr));
	pr->fd[0] = pr->fd[1] = -1;
}

static bool counts(uint8_t type)
{
	return opt.type == 0 || type == opt.type;
}

static const char *rname(uint8_t type)
{
	switch (type) {
	case 20:
		return "change_cipher_spec";
	case 21:
		return "alert";
	case TLS_HANDSHAKE:
		return "handshake";
	case TLS_APPDATA:
		return "application_data";
	default:
		return "?";
	}
}

/* The queue a direction's records go to: the other side, or back. */
static struct buf *out_of(struct pair *pr, int d)
{
	return pr->reflect && d == 0 ? &pr->d[1].out : &pr->d[d].out;
}

/* Forwards one record (possibly spoiled). Returns false when the pair must
 * be cut after what is queued. */
static bool on_record(struct pair *pr, int d, uint8_t *rec, size_t total)
{
	struct dir *dr = &pr->d[d];
	struct buf *out = out_of(pr, d);
	uint8_t type = rec[0];
	bool spoil = false;
	char what[160];

	nrecords[d]++;
	if (counts(type)) {
		dr->of_type++;
		if (d == opt.dir && pr->faulty && dr->of_type > opt.after && !dr->holding &&
		    !pr->cut) {
			dr->counted++;
			if (opt.every)
				spoil = dr->counted % opt.every == 0;
			else
				spoil = !once_done && dr->counted == opt.at;
		}
	}
	if (spoil && (opt.fault == F_NONE || opt.fault == F_REFLECT || frozen || pr->spoiled))
		spoil = false;

	/* A record held back for a reorder goes right after this one. */
	if (dr->holding) {
		if (buf_add(out, rec, total) < 0 ||
		    buf_add(out, dr->held.p + dr->held.off, buf_used(&dr->held)) < 0)
			return false;
		dr->held.off = dr->held.len = 0;
		dr->holding = false;
		goto remember;
	}
	if (!spoil) {
		if (buf_add(out, rec, total) < 0)
			return false;
		goto remember;
	}

	once_done = true;
	nfaults++;
	pr->spoiled = true;
	snprintf(what, sizeof(what), "%s record #%llu (%zu bytes)", rname(type),
		 (unsigned long long)dr->of_type, total);
	switch (opt.fault) {
	case F_FLIP: {
		size_t byte = REC_HEADER + (size_t)(rnd() % (total - REC_HEADER));
		unsigned int bit = (unsigned int)(rnd() % 8);

		rec[byte] ^= (uint8_t)(1u << bit);
		say("FAULT conn %lu %s: flipped bit %u of byte %zu of %s", pr->id, dir_name(d), bit,
		    byte, what);
		if (buf_add(out, rec, total) < 0)
			return false;
		break;
	}
	case F_REPLAY:
		if (buf_add(out, rec, total) < 0)
			return false;
		if (buf_used(&dr->last)) {
			say("FAULT conn %lu %s: after %s, replayed the record before it (%zu bytes)",
			    pr->id, dir_name(d), what, buf_used(&dr->last));
			if (buf_add(out, dr->last.p + dr->last.off, buf_used(&dr->last)) < 0)
				return false;
		} else {
			say("FAULT conn %lu %s: replayed %s", pr->id, dir_name(d), what);
			if (buf_add(out, rec, total) < 0)
				return false;
		}
		break;
	case F_REORDER:
		say("FAULT conn %lu %s: holding %s to send it after the next record", pr->id,
		    dir_name(d), what);
		dr->held.off = dr->held.len = 0;
		if (buf_add(&dr->held, rec, total) < 0)
			return false;
		dr->holding = true;
		return true; /* not "last": the replay source stays the one before */
	case F_DROP:
		say("FAULT conn %lu %s: dropped %s", pr->id, dir_name(d), what);
		return true;
	case F_TRUNCATE: {
		size_t keep = 1 + (size_t)(rnd() % (total - 1));

		say("FAULT conn %lu %s: sent %zu of the %zu bytes of %s, then cut the connection",
		    pr->id, dir_name(d), keep, total, what);
		buf_add(out, rec, keep);
		pr->cut = true;
		return false;
	}
	case F_GARBAGE: {
		uint8_t junk[GARBAGE_MAX];
		size_t n = 1 + (size_t)(rnd() % GARBAGE_MAX), i;

		for (i = 0; i < n; i++)
			junk[i] = (uint8_t)rnd();
		/* Never a record type (20..24): the next header is not TLS. */
		if (junk[0] >= 20 && junk[0] <= 24)
			junk[0] = 0xA5;
		say("FAULT conn %lu %s: injected %zu random bytes before %s", pr->id, dir_name(d),
		    n, what);
		if (buf_add(out, junk, n) < 0 || buf_add(out, rec, total) < 0)
			return false;
		break;
	}
	case F_NONE:
	case F_REFLECT:
		break;
	}
remember:
	dr->last.off = dr->last.len = 0;
	buf_add(&dr->last, rec, total);
	return true;
}

/* Cuts what direction d has read into records and queues them. Returns
 * false when the pair must end (after flushing, if pr->cut). */
static bool process(struct pair *pr, int d)
{
	struct dir *dr = &pr->d[d];

	while (buf_used(&dr->in)) {
		uint8_t *p = dr->in.p + dr->in.off;
		size_t avail = buf_used(&dr->in), total;

		if (dr->raw) {
			if (buf_add(out_of(pr, d), p, avail) < 0)
				return false;
			dr->in.off += avail;
			break;
		}
		if (avail < REC_HEADER)
			break;
		total = REC_HEADER + ((size_t)p[3] << 8 | p[4]);
		if (p[0] < 20 || p[0] > 24 || p[1] != 3 || total - REC_HEADER > REC_MAX) {
			say("conn %lu %s: the stream does not parse as TLS records: forwarding it raw",
			    pr->id, dir_name(d));
			dr->raw = true;
			continue;
		}
		if (total > avail)
			break;
		dr->in.off += total;
		if (!on_record(pr, d, p, total))
			return false;
	}
	if (dr->in.off == dr->in.len)
		dr->in.off = dr->in.len = 0;
	return true;
}

/* Writes what is queued for fd[side]: 0 done or partial, -1 on error. */
static int flush_side(struct pair *pr, int side)
{
	struct buf *out = &pr->d[1 - side].out;

	if (pr->fd[side] < 0)
		return 0;

	while (buf_used(out)) {
		ssize_t n = write(pr->fd[side], out->p + out->off, buf_used(out));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		out->off += (size_t)n;
	}
	out->off = out->len = 0;
	return 0;
}

/* Reads from fd[side]: 1 read something, 0 nothing now, -1 EOF or error. */
static int read_side(struct pair *pr, int side)
{
	struct dir *dr = &pr->d[side];
	ssize_t n;

	if (dr->in.off && dr->in.off == dr->in.len)
		dr->in.off = dr->in.len = 0;
	if (buf_reserve(&dr->in, READ_CHUNK) < 0)
		return -1;
	do
		n = read(pr->fd[side], dr->in.p + dr->in.len, dr->in.cap - dr->in.len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	if (side == 0 && !pr->reflect && capture_fd >= 0 && !capture_conn)
		capture_conn = pr->id;
	if (side == 0 && pr->id == capture_conn && capture_fd >= 0 && captured < CAPTURE_MAX) {
		size_t k = (size_t)n < CAPTURE_MAX - captured ? (size_t)n : CAPTURE_MAX - captured;

		if (write(capture_fd, dr->in.p + dr->in.len, k) == (ssize_t)k)
			captured += k;
	}
	dr->in.len += (size_t)n;
	return 1;
}

/* ---- Sockets ------------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* unix:PATH or tcp:HOST:PORT: a listening (listen) or connected socket. */
static int open_addr(const char *addr, bool listening)
{
	int fd, one = 1;

	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		const char *path = addr + 5;

		if (strlen(path) >= sizeof(sun.sun_path)) {
			say("%s: path too long", addr);
			return -1;
		}
		memcpy(sun.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (listening) {
			unlink(path);
			if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0)
				goto fail;
		} else if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			goto fail;
		}
		return fd;
	}
	if (!strncmp(addr, "tcp:", 4)) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
					 .ai_flags = listening ? AI_PASSIVE : 0};
		struct addrinfo *res = NULL;
		char host[256];
		const char *colon = strrchr(addr + 4, ':');
		size_t hl;
		int rc;

		if (!colon || (hl = (size_t)(colon - (addr + 4))) >= sizeof(host)) {
			say("%s: expected tcp:HOST:PORT", addr);
			return -1;
		}
		memcpy(host, addr + 4, hl);
		host[hl] = '\0';
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		rc = getaddrinfo(host, colon + 1, &hints, &res);
		if (rc) {
			say("%s: %s", addr, gai_strerror(rc));
			return -1;
		}
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			freeaddrinfo(res);
			return -1;
		}
		if (listening) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			rc = bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0;
		} else {
			rc = connect(fd, res->ai_addr, res->ai_addrlen) < 0;
			if (!rc)
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		freeaddrinfo(res);
		if (rc)
			goto fail;
		return fd;
	}
	say("%s: expected unix:PATH or tcp:HOST:PORT", addr);
	return -1;
fail:
	say("%s: %s", addr, strerror(errno));
	close(fd);
	return -1;
}

static void on_accept(int lfd)
{
	struct pair *pr = NULL;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), up, i, one = 1;

	if (fd < 0)
		return;
	for (i = 0; i < MAX_PAIRS; i++)
		if (!pairs[i].used) {
			pr = &pairs[i];
			break;
		}
	if (!pr) {
		say("too many connections: refused one");
		close(fd);
		return;
	}
	nconnections++;
	memset(pr, 0, sizeof(*pr));
	pr->faulty = !opt.connections || nconnections <= opt.connections;
	pr->reflect = opt.fault == F_REFLECT && pr->faulty && !frozen;
	up = -1;
	if (!pr->reflect) {
		up = open_addr(opt.connect, false);
		if (up < 0) {
			say("conn %lu: upstream %s unreachable: closed the accepted connection",
			    nconnections, opt.connect);
			close(fd);
			return;
		}
		set_nonblock(up);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on unix: fine */
	set_nonblock(fd);
	pr->used = true;
	pr->id = nconnections;
	pr->fd[0] = fd;
	pr->fd[1] = up;
	if (pr->reflect) {
		nfaults++;
		say("FAULT conn %lu: reflecting what it sends back to it", pr->id);
	} else {
		say("conn %lu: accepted, connected to %s", pr->id, opt.connect);
	}
}

/* ---- Main ---------------------------------------------------------------- */

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		freeze = 1;
	else
		stop = 1;
}

static int parse_type(const char *s)
{
	if (!strcmp(s, "any"))
		return 0;
	if (!strcmp(s, "data"))
		return TLS_APPDATA;
	if (!strcmp(s, "handshake"))
		return TLS_HANDSHAKE;
	return -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: test-mitm --listen ADDR --connect ADDR\n"
		"         (--flip|--replay|--reorder|--drop|--truncate|--garbage|--reflect|--none)\n"
		"         [--dir up|down] [--after N] [--at K|--every K] [--type data|handshake|any]\n"
		"         [--connections C] [--capture FILE] [--seed S]\n"
		"  ADDR: unix:PATH or tcp:HOST:PORT (see tests/integration/mitm.c)\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"listen", required_argument, NULL, 'l'},
		{"connect", required_argument, NULL, 'c'},
		{"flip", no_argument, NULL, 'F'},
		{"replay", no_argument, NULL, 'R'},
		{"reorder", no_argument, NULL, 'O'},
		{"drop", no_argument, NULL, 'D'},
		{"truncate", no_argument, NULL, 'T'},
		{"garbage", no_argument, NULL, 'G'},
		{"reflect", no_argument, NULL, 'X'},
		{"none", no_argument, NULL, 'N'},
		{"dir", required_argument, NULL, 'd'},
		{"after", required_argument, NULL, 'a'},
		{"at", required_argument, NULL, 't'},
		{"every", required_argument, NULL, 'e'},
		{"type", required_argument, NULL, 'y'},
		{"connections", required_argument, NULL, 'C'},
		{"capture", required_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t blocked, waiting;
	int c, lfd, nfault_opts = 0;

	opt.fault = F_NONE;
	opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'l':
			opt.listen = optarg;
			break;
		case 'c':
			opt.connect = optarg;
			break;
		case 'F':
		case 'R':
		case 'O':
		case 'D':
		case 'T':
		case 'G':
		case 'X':
		case 'N':
			opt.fault = c == 'F'   ? F_FLIP
				    : c == 'R' ? F_REPLAY
				    : c == 'O' ? F_REORDER
				    : c == 'D' ? F_DROP
				    : c == 'T' ? F_TRUNCATE
				    : c == 'G' ? F_GARBAGE
				    : c == 'X' ? F_REFLECT
					       : F_NONE;
			nfault_opts++;
			break;
		case 'd':
			if (strcmp(optarg, "up") && strcmp(optarg, "down")) {
				fprintf(stderr, "test-mitm: --dir is up or down\n");
				return 2;
			}
			opt.dir = !strcmp(optarg, "down");
			break;
		case 'a':
			opt.after = strtoull(optarg, NULL, 10);
			break;
		case 't':
			opt.at = strtoull(optarg, NULL, 10);
			break;
		case 'e':
			opt.every = strtoull(optarg, NULL, 10);
			break;
		case 'y':
			opt.type = parse_type(optarg);
			if (opt.type < 0) {
				fprintf(stderr, "test-mitm: --type is data, handshake or any\n");
				return 2;
			}
			break;
		case 'C':
			opt.connections = strtoull(optarg, NULL, 10);
			break;
		case 'P':
			opt.capture = optarg;
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!opt.listen || !opt.connect || nfault_opts > 1 || optind != argc || opt.at == 0) {
		usage();
		return 2;
	}
	if (opt.capture) {
		capture_fd = open(opt.capture, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (capture_fd < 0) {
			fprintf(stderr, "test-mitm: %s: %s\n", opt.capture, strerror(errno));
			return 2;
		}
	}
	rng_state = opt.seed ? opt.seed : 0x9E3779B97F4A7C15ull;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* The signals are taken only inside ppoll(), so none is missed
	 * between the checks at the top of the loop and the wait. */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_BLOCK, &blocked, &waiting);
	signal(SIGPIPE, SIG_IGN);
	for (c = 0; c < MAX_PAIRS; c++)
		pairs[c].fd[0] = pairs[c].fd[1] = -1;

	lfd = open_addr(opt.listen, true);
	if (lfd < 0)
		return 1;
	set_nonblock(lfd);
	say("fault %s, direction %s, after %llu records, %s %llu, record type %s, seed %llu",
	    fault_names[opt.fault], dir_name(opt.dir), (unsigned long long)opt.after,
	    opt.every ? "every" : "once at", (unsigned long long)(opt.every ? opt.every : opt.at),
	    opt.type ? rname((uint8_t)opt.type) : "any", (unsigned long long)opt.seed);
	say("listening on %s", opt.listen);

	while (!stop) {
		struct pollfd pfd[1 + 2 * MAX_PAIRS];
		int map[1 + 2 * MAX_PAIRS], n = 0, i, k;

		if (freeze && !frozen) {
			frozen = true;
			say("faults stopped after %lu faults", nfaults);
		}
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (i = 0; i < MAX_PAIRS; i++) {
			struct pair *pr = &pairs[i];

			if (!pr->used)
				continue;
			for (k = 0; k < 2; k++) {
				short ev = 0;

				/* Read side k while the other side keeps up. */
				if (!pr->cut && buf_used(&pr->d[k].out) < OUT_LIMIT)
					ev |= POLLIN;
				if (buf_used(&pr->d[1 - k].out))
					ev |= POLLOUT;
				pfd[n].fd = pr->fd[k];
				pfd[n].events = ev;
				map[n++] = i * 2 + k;
			}
		}
		if (ppoll(pfd, (nfds_t)n, NULL, &waiting) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			on_accept(lfd);
		for (i = 1; i < n; i++) {
			struct pair *pr = &pairs[map[i] / 2];
			int side = map[i] % 2;
			short re = pfd[i].revents;

			if (!pr->used || !re)
				continue;
			if (re & POLLOUT) {
				if (flush_side(pr, side) < 0) {
					pair_close(pr, side ? "upstream write failed"
							    : "downstream write failed");
					continue;
				}
			}
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				int r = pr->cut ? 0 : read_side(pr, side);

				if (r > 0 && !process(pr, side) && !pr->cut) {
					pair_close(pr, "out of memory");
					continue;
				}
				if (r > 0) {
					flush_side(pr, pr->reflect ? 0 : 1 - side);
				} else if (r < 0) {
					/* Pass on what is queued for the other side, then end. */
					flush_side(pr, pr->reflect ? 0 : 1 - side);
					pair_close(pr, side ? "upstream closed" : "downstream closed");
					continue;
				}
			}
			if (pr->cut) {
				flush_side(pr, 0);
				flush_side(pr, 1);
				if (!buf_used(&pr->d[0].out) && !buf_used(&pr->d[1].out))
					pair_close(pr, "cut by the mitm (truncate)");
			}
		}
	}
	for (c = 0; c < MAX_PAIRS; c++)
		if (pairs[c].used)
			pair_close(&pairs[c], "mitm stopping");
	close(lfd);
	if (!strncmp(opt.listen, "unix:", 5))
		unlink(opt.listen + 5);
	say("done: %lu connections, records %lu up / %lu down, %lu faults", nconnections,
	    nrecords[0], nrecords[1], nfaults);
	if (capture_fd >= 0)
		close(capture_fd);
	return 0;
}
