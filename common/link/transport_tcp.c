/* SPDX-License-Identifier: MIT */
/*
 * The tcp transport: ADDR is HOST:PORT or [V6]:PORT. HOST is an IPv4
 * address, a host name (resolved with getaddrinfo when the link connects or
 * listens, not at configuration time) or, in brackets, an IPv6 address.
 * PORT is a decimal number (1..65535; listen() also takes 0, an ephemeral
 * port, which tests use).
 *
 * Every connected socket has TCP_NODELAY (frames are small and latency
 * matters) and short keepalives plus TCP_USER_TIMEOUT, so that a peer that
 * vanished (host down, cable out) is noticed in seconds, not hours.
 * connect() returns a socket that may still be connecting (EINPROGRESS):
 * the link waits for it to become writable and reads SO_ERROR.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

#define TCP_BACKLOG           16
#define TCP_HOST_MAX          254 /* a DNS name is at most 253 bytes */
#define TCP_KEEPALIVE_IDLE_S  5   /* dead peer noticed after 5 + 3 * 2 s */
#define TCP_KEEPALIVE_INTVL_S 2
#define TCP_KEEPALIVE_COUNT   3
#define TCP_USER_TIMEOUT_MS   15000 /* unacknowledged data: give up after 15 s */

struct tcp_addr {
	char host[TCP_HOST_MAX + 1];
	char port[6];
	bool v6; /* written in brackets */
};

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static bool numeric_ok(const char *host, int family)
{
	struct addrinfo hints = {.ai_family = family, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc == 0)
		freeaddrinfo(res);
	return rc == 0;
}

/* Splits and checks an address. Returns 0 or -EINVAL with *why. */
static int tcp_parse(const char *address, struct tcp_addr *out, bool allow_port0, const char **why)
{
	const char *colon, *p;
	size_t hlen, plen;
	unsigned long port;
	char *end;
	bool all_numeric = true;

	if (!address || !*address) {
		*why = "a tcp address is HOST:PORT or [IPV6]:PORT";
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (address[0] == '[') {
		const char *close = strchr(address, ']');

		if (!close || close[1] != ':') {
			*why = "a tcp address with an IPv6 host is [IPV6]:PORT";
			return -EINVAL;
		}
		hlen = (size_t)(close - address - 1);
		if (hlen == 0 || hlen > TCP_HOST_MAX) {
			*why = "an IPv6 address in brackets is empty or too long";
			return -EINVAL;
		}
		memcpy(out->host, address + 1, hlen);
		out->v6 = true;
		colon = close + 1;
		if (!numeric_ok(out->host, AF_INET6)) {
			*why = "the host in brackets is not an IPv6 address";
			return -EINVAL;
		}
	} else {
		colon = strrchr(address, ':');
		if (!colon) {
			*why = "a tcp address is HOST:PORT or [IPV6]:PORT (the port is missing)";
			return -EINVAL;
		}
		hlen = (size_t)(colon - address);
		if (hlen == 0) {
			*why = "a tcp address needs a host (0.0.0.0 or [::] to listen on all)";
			return -EINVAL;
		}
		if (memchr(address, ':', hlen)) {
			*why = "an IPv6 address goes in brackets: [IPV6]:PORT";
			return -EINVAL;
		}
		if (hlen > TCP_HOST_MAX - 1) {
			*why = "a tcp host name is at most 253 bytes long";
			return -EINVAL;
		}
		for (p = address; p < colon; p++) {
			if (!host_char_ok(*p)) {
				*why = "a tcp host has a character outside [A-Za-z0-9._-]";
				return -EINVAL;
			}
			if (!(*p >= '0' && *p <= '9') && *p != '.')
				all_numeric = false;
		}
		memcpy(out->host, address, hlen);
		if (all_numeric && !numeric_ok(out->host, AF_INET)) {
			*why = "the host is not a valid IPv4 address";
			return -EINVAL;
		}
	}
	p = colon + 1;
	plen = strlen(p);
	if (plen == 0 || plen > 5 || p[0] < '0' || p[0] > '9') {
		*why = "a tcp port is a number from 1 to 65535";
		return -EINVAL;
	}
	errno = 0;
	port = strtoul(p, &end, 10);
	if (errno || *end || port > 65535 || (port == 0 && !allow_port0)) {
		*why = "a tcp port is a number from 1 to 65535";
		return -EINVAL;
	}
	memcpy(out->port, p, plen + 1);
	return 0;
}

static int tcp_check_address(const char *address, const char **why)
{
	struct tcp_addr a;
	const char *dummy;

	return tcp_parse(address, &a, false, why ? why : &dummy);
}

static int gai_errno(int rc)
{
	switch (rc) {
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
	case EAI_ADDRFAMILY:
		return -EHOSTUNREACH;
	default:
		return -EINVAL;
	}
}

static int resolve(const struct tcp_addr *a, bool passive, struct addrinfo **res)
{
	struct addrinfo hints = {
	    .ai_family = a->v6 ? AF_INET6 : AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_protocol = IPPROTO_TCP,
	    .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	int rc = getaddrinfo(a->host, a->port, &hints, res);

	return rc ? gai_errno(rc) : 0;
}

/* TCP_NODELAY and keepalives on a connected (or connecting) socket. */
static int tcp_tune(int fd)
{
	static const struct {
		int level, name, value;
	} opts[] = {
	    {IPPROTO_TCP, TCP_NODELAY, 1},
	    {SOL_SOCKET, SO_KEEPALIVE, 1},
	    {IPPROTO_TCP, TCP_KEEPIDLE, TCP_KEEPALIVE_IDLE_S},
	    {IPPROTO_TCP, TCP_KEEPINTVL, TCP_KEEPALIVE_INTVL_S},
	    {IPPROTO_TCP, TCP_KEEPCNT, TCP_KEEPALIVE_COUNT},
	    {IPPROTO_TCP, TCP_USER_TIMEOUT, TCP_USER_TIMEOUT_MS},
	};
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (setsockopt(fd, opts[i].level, opts[i].name, &opts[i].value,
		               sizeof(opts[i].value)) < 0)
			return -errno;
	return 0;
}

static int tcp_listen(const char *address)
{
	struct addrinfo *res, *ai;
	struct tcp_addr a;
	const char *why;
	int rc, fd = -1;
	const int one = 1;

	rc = tcp_parse(address, &a, true, &why);
	if (rc < 0)
		return rc;
	rc = resolve(&a, true, &res);
	if (rc < 0)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, TCP_BACKLOG) < 0) {
			rc = -errno;
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

/* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) and "ADDR". */
static void tcp_describe(const struct sockaddr_storage *ss, struct transport_peer *peer)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(peer->name, sizeof(peer->name), "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(peer->name, sizeof(peer->name), "[%s]:%u", host, port);
	} else {
		snprintf(peer->name, sizeof(peer->name), "?");
	}
	snprintf(peer->source, sizeof(peer->source), "%s", host);
}

static int tcp_accept(int listen_fd, struct transport_peer *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, rc;

	memset(&ss, 0, sizeof(ss));
	do
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (peer)
		tcp_describe(&ss, peer);
	rc = tcp_tune(fd);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Tries the resolved addresses in order until one connects or starts to:
 * an address that fails at once (no route, refused on loopback) gives way
 * to the next one. */
static int tcp_connect(const char *address)
{
	struct addrinfo *res, *ai;
	struct tcp_addr a;
	const char *why;
	int rc, fd = -1;

	rc = tcp_parse(address, &a, false, &why);
	if (rc < 0)
		return rc;
	rc = resolve(&a, false, &res);
	if (rc < 0)
		return rc;
	rc = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		rc = tcp_tune(fd);
		if (rc == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
			rc = -errno;
		if (rc == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

extern const struct transport_ops transport_tcp_ops;
const struct transport_ops transport_tcp_ops = {
    .kind = TRANSPORT_TCP,
    .check_address = tcp_check_address,
    .listen = tcp_listen,
    .accept = tcp_accept,
    .connect = tcp_connect,
    .is_socket = 1,
};
