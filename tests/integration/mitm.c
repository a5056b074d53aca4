/* SPDX-License-Identifier: MIT */
/*
 * test-mitm: a man in the middle of a relay link, for tests. It listens,
 * and for every connection it accepts it connects to the upstream address
 * and forwards bytes both ways, cutting each direction's stream into frames
 * (wire_parse_header) so that it can spoil exactly one frame at a time:
 *
 *   test-mitm --listen ADDR --connect ADDR FAULT [--dir up|down]
 *             [--after N] [--at K | --every K] [--type TYPE] [--seed S]
 *             [--key FILE]
 *
 *   ADDR       unix:PATH or tcp:HOST:PORT
 *   FAULT      --flip         flip one bit of a DATA frame's payload
 *              --replay       after the frame, send the one before it again
 *              --reorder      swap the frame and the next one
 *              --drop         drop the frame
 *              --truncate     send part of the frame, then cut the connection
 *              --garbage      inject 1..64 random bytes before the frame
 *              --rewrite-src HVID
 *                             rewrite a DATA frame's source hvid and sign it
 *                             again with the session key (needs --key: the
 *                             mitm then is a rogue neighbour holding the PSK)
 *              --none         forward only (counts frames)
 *   --dir      up: frames from the accepted connection to the upstream one
 *              (the connecting relay's direction, the default); down: back
 *   --after N  the first N authenticated frames of each session in that
 *              direction pass untouched (default 1: the AUTH frame)
 *   --type T   only frames of that type count (data, ack, routes, ping, pong,
 *              undeliverable, close, auth, any); default data for --flip and
 *              --rewrite-src, any for the others
 *   --at K     spoil the K-th counted frame, once in the whole run (default 1)
 *   --every K  spoil every K-th counted frame of every session
 *   --seed S   random seed (printed at start; bits, lengths, garbage)
 *   --key FILE the link's PSK: needed by --rewrite-src; frames are then also
 *              checked (a MAC the mitm cannot verify is reported)
 *
 * The counters restart with every connection (every session). A fault that
 * ends the session (all but --rewrite-src and --none) is the last one of its
 * connection: what follows it passes untouched, so that each fault reported
 * is one the receiving relay must catch and count once. Every fault
 * is reported on stderr as one line starting "test-mitm: FAULT"; the line
 * "test-mitm: listening on ADDR" says it is ready. SIGUSR1 stops the faults
 * (forwarding goes on) and prints "test-mitm: faults stopped after N faults",
 * so that a test can wait for the relays to have seen every one of them.
 * SIGTERM or SIGINT ends it with a summary line. If a direction's stream stops parsing (the mitm's own
 * garbage is never parsed), that direction is forwarded as raw bytes.
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

#include "auth.h"
#include "wire.h"

#define MAX_PAIRS   16
#define OUT_LIMIT   (4u << 20) /* stop reading a side while its peer lags this much */
#define READ_CHUNK  (256u * 1024)
#define GARBAGE_MAX 64u

enum fault { F_NONE, F_FLIP, F_REPLAY, F_REORDER, F_DROP, F_TRUNCATE, F_GARBAGE, F_REWRITE };

static const char *const fault_names[] = {"none", "flip",     "replay",  "reorder",
					  "drop", "truncate", "garbage", "rewrite-src"};

static const char *const type_names[] = {"?",      "hello",         "auth", "data", "ack",
					 "routes", "undeliverable", "ping", "pong", "close"};

static struct {
	const char *listen, *connect;
	enum fault fault;
	int dir; /* 0 up, 1 down */
	uint64_t after, at, every;
	int type; /* 0 any, else a wire type */
	bool type_given;
	char rewrite_hvid[WIRE_HVID_SIZE];
	bool have_key;
	struct auth_psk psk;
	uint64_t seed;
} opt = {.after = 1, .at = 1};

static volatile sig_atomic_t stop, freeze;
static bool frozen;
static uint64_t rng_state;
static unsigned long nconnections, nfaults, nframes[2], nbadmac;
static bool once_done;

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
	bool raw;              /* stopped parsing: forward as it comes */
	bool hello_seen;
	struct wire_hello hello;
	uint64_t auth_frames;  /* authenticated frames seen this session */
	uint64_t counted;      /* of those, after --after and of --type */
	struct buf last;       /* the last authenticated frame forwarded (replay) */
	struct buf held;       /* a frame held back (reorder) */
	bool holding;
};

struct pair {
	bool used;
	unsigned long id;
	int fd[2]; /* 0: the accepted (downstream) side, 1: upstream */
	struct dir d[2]; /* d[0]: fd[0] -> fd[1] ("up"); d[1]: fd[1] -> fd[0] ("down") */
	bool keys_ready;
	struct auth_session keys; /* derived as the initiator: tx = i2a, rx = a2i */
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
	explicit_bzero(&pr->keys, sizeof(pr->keys));
	memset(pr, 0, sizeof(*pr));
	pr->fd[0] = pr->fd[1] = -1;
}

/* The key a frame in direction d is signed with. */
static const uint8_t *dir_key(const struct pair *pr, int d)
{
	return pr->d[d].hello.role == WIRE_ROLE_INITIATOR ? pr->keys.tx_key : pr->keys.rx_key;
}

static void derive_keys(struct pair *pr)
{
	const struct wire_hello *a = &pr->d[0].hello, *b = &pr->d[1].hello;
	const struct wire_hello *init = a->role == WIRE_ROLE_INITIATOR ? a : b;
	const struct wire_hello *acc = a->role == WIRE_ROLE_INITIATOR ? b : a;

	if (!opt.have_key || !pr->d[0].hello_seen || !pr->d[1].hello_seen || pr->keys_ready)
		return;
	if (init == acc || auth_derive(&opt.psk, init, acc, WIRE_ROLE_INITIATOR, &pr->keys) < 0) {
		say("conn %lu: cannot derive the session keys (roles %u/%u)", pr->id, a->role,
		    b->role);
		return;
	}
	pr->keys_ready = true;
}

static bool counts(const struct wire_header *hdr)
{
	return opt.type == 0 || hdr->type == opt.type;
}

static const char *tname(uint8_t type)
{
	return type < sizeof(type_names) / sizeof(type_names[0]) ? type_names[type] : "?";
}

/* Forwards one frame (possibly spoiled). Returns false when the pair must
 * be cut after what is queued. */
static bool on_frame(struct pair *pr, int d, const struct wire_header *hdr, uint8_t *frame,
		     size_t total)
{
	struct dir *dr = &pr->d[d];
	bool spoil = false;
	char what[200];

	nframes[d]++;
	if (hdr->type == WIRE_HELLO) {
		const char *why = NULL;

		if (wire_parse_hello(frame + WIRE_HEADER_SIZE, hdr->length, &dr->hello, &why) == 0) {
			dr->hello_seen = true;
			derive_keys(pr);
		} else {
			say("conn %lu %s: HELLO does not parse: %s", pr->id, dir_name(d), why);
		}
		return buf_add(&dr->out, frame, total) == 0;
	}

	dr->auth_frames++;
	if (pr->keys_ready &&
	    auth_verify(dir_key(pr, d), frame, WIRE_HEADER_SIZE + hdr->length,
			frame + WIRE_HEADER_SIZE + hdr->length) < 0) {
		nbadmac++;
		say("conn %lu %s: %s frame seq %llu: its MAC does not verify with --key", pr->id,
		    dir_name(d), tname(hdr->type), (unsigned long long)hdr->seq);
	}
	if (d == opt.dir && dr->auth_frames > opt.after && counts(hdr) && !dr->holding &&
	    !pr->spoiled) {
		dr->counted++;
		if (opt.every)
			spoil = dr->counted % opt.every == 0;
		else
			spoil = !once_done && dr->counted == opt.at;
	}
	if (spoil && (opt.fault == F_NONE || frozen))
		spoil = false;

	/* A frame held back for a reorder goes right after this one. */
	if (dr->holding) {
		if (buf_add(&dr->out, frame, total) < 0 ||
		    buf_add(&dr->out, dr->held.p + dr->held.off, buf_used(&dr->held)) < 0)
			return false;
		dr->held.off = dr->held.len = 0;
		dr->holding = false;
		goto remember;
	}
	if (!spoil) {
		if (buf_add(&dr->out, frame, total) < 0)
			return false;
		goto remember;
	}

	once_done = true;
	nfaults++;
	pr->spoiled = opt.fault != F_REWRITE;
	snprintf(what, sizeof(what), "%s frame seq %llu (length %u)", tname(hdr->type),
		 (unsigned long long)hdr->seq, hdr->length);
	switch (opt.fault) {
	case F_FLIP: {
		/* Every authenticated type has a payload; be safe anyway. */
		uint32_t span = hdr->length ? hdr->length : WIRE_MAC_SIZE;
		uint32_t byte = (uint32_t)(rnd() % span), bit = (uint32_t)(rnd() % 8);

		frame[WIRE_HEADER_SIZE + byte] ^= (uint8_t)(1u << bit);
		say("FAULT conn %lu %s: flipped bit %u of payload byte %u of %s", pr->id,
		    dir_name(d), bit, byte, what);
		if (buf_add(&dr->out, frame, total) < 0)
			return false;
		break;
	}
	case F_REPLAY:
		if (buf_add(&dr->out, frame, total) < 0)
			return false;
		if (buf_used(&dr->last)) {
			struct wire_header old;

			wire_parse_header(dr->last.p + dr->last.off, buf_used(&dr->last), &old, NULL);
			say("FAULT conn %lu %s: after %s, replayed the %s frame seq %llu", pr->id,
			    dir_name(d), what, tname(old.type), (unsigned long long)old.seq);
			if (buf_add(&dr->out, dr->last.p + dr->last.off, buf_used(&dr->last)) < 0)
				return false;
		} else {
			say("FAULT conn %lu %s: replayed %s", pr->id, dir_name(d), what);
			if (buf_add(&dr->out, frame, total) < 0)
				return false;
		}
		break;
	case F_REORDER:
		say("FAULT conn %lu %s: holding %s to send it after the next frame", pr->id,
		    dir_name(d), what);
		dr->held.off = dr->held.len = 0;
		if (buf_add(&dr->held, frame, total) < 0)
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
		buf_add(&dr->out, frame, keep);
		pr->cut = true;
		return false;
	}
	case F_GARBAGE: {
		uint8_t junk[GARBAGE_MAX];
		size_t n = 1 + (size_t)(rnd() % GARBAGE_MAX), i;

		for (i = 0; i < n; i++)
			junk[i] = (uint8_t)rnd();
		/* Never a plausible header: the version byte is not 1. */
		if (junk[0] == WIRE_VERSION)
			junk[0] = 0xA5;
		say("FAULT conn %lu %s: injected %zu random bytes before %s", pr->id, dir_name(d),
		    n, what);
		if (buf_add(&dr->out, junk, n) < 0 || buf_add(&dr->out, frame, total) < 0)
			return false;
		break;
	}
	case F_REWRITE: {
		char old[WIRE_HVID_SIZE + 1] = {0};

		if (!pr->keys_ready || hdr->type != WIRE_DATA || hdr->length < 24) {
			say("conn %lu %s: cannot rewrite %s (no keys or not DATA)", pr->id,
			    dir_name(d), what);
			nfaults--;
			if (buf_add(&dr->out, frame, total) < 0)
				return false;
			break;
		}
		/* DATA payload: msn (8), then src: hvid (16), domid, port. */
		memcpy(old, frame + WIRE_HEADER_SIZE + 8, WIRE_HVID_SIZE);
		memcpy(frame + WIRE_HEADER_SIZE + 8, opt.rewrite_hvid, WIRE_HVID_SIZE);
		auth_mac(dir_key(pr, d), frame, WIRE_HEADER_SIZE + hdr->length,
			 frame + WIRE_HEADER_SIZE + hdr->length);
		say("FAULT conn %lu %s: rewrote the source of %s from %s to %s and signed it again",
		    pr->id, dir_name(d), what, old, opt.rewrite_hvid);
		if (buf_add(&dr->out, frame, total) < 0)
			return false;
		break;
	}
	case F_NONE:
		break;
	}
remember:
	dr->last.off = dr->last.len = 0;
	buf_add(&dr->last, frame, total);
	return true;
}

/* Cuts what direction d has read into frames and queues them. Returns
 * false when the pair must end (after flushing, if pr->cut). */
static bool process(struct pair *pr, int d)
{
	struct dir *dr = &pr->d[d];

	while (buf_used(&dr->in)) {
		uint8_t *p = dr->in.p + dr->in.off;
		size_t avail = buf_used(&dr->in);
		struct wire_header hdr;
		const char *why = NULL;
		int64_t total;

		if (dr->raw) {
			if (buf_add(&dr->out, p, avail) < 0)
				return false;
			dr->in.off += avail;
			break;
		}
		total = wire_parse_header(p, avail, &hdr, &why);
		if (total == -EAGAIN || (total > 0 && (size_t)total > avail))
			break;
		if (total < 0) {
			say("conn %lu %s: the stream does not parse (%s): forwarding it raw", pr->id,
			    dir_name(d), why ? why : "?");
			dr->raw = true;
			continue;
		}
		dr->in.off += (size_t)total;
		if (!on_frame(pr, d, &hdr, p, (size_t)total))
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
	up = open_addr(opt.connect, false);
	if (up < 0) {
		say("conn %lu: upstream %s unreachable: closed the accepted connection",
		    nconnections, opt.connect);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on unix: fine */
	set_nonblock(fd);
	set_nonblock(up);
	memset(pr, 0, sizeof(*pr));
	pr->used = true;
	pr->id = nconnections;
	pr->fd[0] = fd;
	pr->fd[1] = up;
	say("conn %lu: accepted, connected to %s", pr->id, opt.connect);
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
	size_t i;

	if (!strcmp(s, "any"))
		return 0;
	for (i = 1; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (!strcmp(s, type_names[i]))
			return (int)i;
	return -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: test-mitm --listen ADDR --connect ADDR\n"
		"         (--flip|--replay|--reorder|--drop|--truncate|--garbage|--none|\n"
		"          --rewrite-src HVID --key FILE)\n"
		"         [--dir up|down] [--after N] [--at K|--every K] [--type TYPE] [--seed S]\n"
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
		{"none", no_argument, NULL, 'N'},
		{"rewrite-src", required_argument, NULL, 'W'},
		{"key", required_argument, NULL, 'k'},
		{"dir", required_argument, NULL, 'd'},
		{"after", required_argument, NULL, 'a'},
		{"at", required_argument, NULL, 't'},
		{"every", required_argument, NULL, 'e'},
		{"type", required_argument, NULL, 'y'},
		{"seed", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t blocked, waiting;
	const char *key_file = NULL;
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
		case 'N':
			opt.fault = c == 'F'   ? F_FLIP
				    : c == 'R' ? F_REPLAY
				    : c == 'O' ? F_REORDER
				    : c == 'D' ? F_DROP
				    : c == 'T' ? F_TRUNCATE
				    : c == 'G' ? F_GARBAGE
					       : F_NONE;
			nfault_opts++;
			break;
		case 'W':
			if (strlen(optarg) >= WIRE_HVID_SIZE || !wire_hvid_valid(optarg)) {
				fprintf(stderr, "test-mitm: --rewrite-src: not a valid hvid\n");
				return 2;
			}
			memset(opt.rewrite_hvid, 0, sizeof(opt.rewrite_hvid));
			memcpy(opt.rewrite_hvid, optarg, strlen(optarg));
			opt.fault = F_REWRITE;
			nfault_opts++;
			break;
		case 'k':
			key_file = optarg;
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
				fprintf(stderr, "test-mitm: --type: unknown frame type '%s'\n",
					optarg);
				return 2;
			}
			opt.type_given = true;
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!opt.listen || !opt.connect || nfault_opts > 1 || optind != argc || opt.at == 0 ||
	    (opt.fault == F_REWRITE && !key_file)) {
		usage();
		return 2;
	}
	if (!opt.type_given && (opt.fault == F_FLIP || opt.fault == F_REWRITE))
		opt.type = WIRE_DATA;
	if (key_file) {
		char why[512];

		if (auth_load_psk(key_file, geteuid(), &opt.psk, why, sizeof(why)) < 0) {
			fprintf(stderr, "test-mitm: %s\n", why);
			return 2;
		}
		opt.have_key = true;
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
	say("fault %s, direction %s, after %llu frames, %s %llu, frame type %s, seed %llu",
	    fault_names[opt.fault], dir_name(opt.dir), (unsigned long long)opt.after,
	    opt.every ? "every" : "once at", (unsigned long long)(opt.every ? opt.every : opt.at),
	    opt.type ? type_names[opt.type] : "any", (unsigned long long)opt.seed);
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
					flush_side(pr, 1 - side);
				} else if (r < 0) {
					/* Pass on what is queued for the other side, then end. */
					flush_side(pr, 1 - side);
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
	say("done: %lu connections, frames %lu up / %lu down, %lu faults, %lu bad MACs", nconnections,
	    nframes[0], nframes[1], nfaults, nbadmac);
	explicit_bzero(&opt.psk, sizeof(opt.psk));
	return 0;
}
