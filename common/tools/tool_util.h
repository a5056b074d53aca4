/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the example programs (header-only). */
#ifndef ARGO_TOOL_UTIL_H
#define ARGO_TOOL_UTIL_H

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "argo/argo.h"
#include "argo/version.h"

/* --version: one line on stdout, as GNU programs print it. */
static inline int tool_print_version(const char *prog)
{
	printf("%s (%s) %s\n", prog, ARGO_PACKAGE, ARGO_VERSION);
	return 0;
}

/* After a usage error (getopt has said what was wrong): exit status 2. */
static inline int tool_usage_error(const char *prog)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return 2;
}

/*
 * Reads option OPT's value S as a number from MIN to MAX: decimal, or
 * hexadecimal after 0x (no octal, no sign, nothing after the digits). On
 * anything else prints "PROG: --OPT takes a number from MIN to MAX, not 'S'"
 * and returns -EINVAL.
 */
static inline int tool_parse_number(const char *prog, const char *opt, const char *s,
                                    unsigned long long min, unsigned long long max,
                                    unsigned long long *out)
{
	int base = 10;
	const char *digits = s;
	unsigned long long v;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = s + 2;
	}
	errno = 0;
	v = strtoull(digits, &end, base);
	/* strtoull would take blanks and a sign first: the digits must come first. */
	if (!(base == 16 ? isxdigit((unsigned char)*digits) : isdigit((unsigned char)*digits)) ||
	    *end || errno || v < min || v > max) {
		fprintf(stderr, "%s: --%s takes a number from %llu to %llu, not '%s'\n", prog, opt,
		        min, max, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Parses "DOMID:PORT". */
static inline int tool_parse_addr(const char *s, xen_argo_addr_t *addr)
{
	unsigned long domid, port;
	char *end;

	errno = 0;
	domid = strtoul(s, &end, 10);
	if (errno || end == s || *end != ':' || domid >= XEN_DOMID_FIRST_RESERVED)
		return -EINVAL;
	s = end + 1;
	port = strtoul(s, &end, 10);
	if (errno || end == s || *end || port > UINT32_MAX)
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	addr->domain_id = (argo_domid_t)domid;
	addr->aport = (uint32_t)port;
	return 0;
}

/* Waits until the fabric raises our event, or timeout_ms passes (-1: no
 * limit). Returns 1 on an event, 0 on time-out, -errno on failure. */
static inline int tool_wait_event(struct argo_fabric *fabric, int timeout_ms)
{
	struct pollfd pfd = {.fd = argo_event_fd(fabric), .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n > 0;
}

static inline uint64_t tool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * sendv that waits for space: on -EAGAIN the fabric has queued us as a
 * waiter and will raise our event when the receiver frees room, so wait for
 * it and try again. Gives up after timeout_ms without progress.
 */
static inline ssize_t tool_send_wait(struct argo_fabric *fabric, const xen_argo_send_addr_t *addr,
                                     const struct iovec *iov, unsigned int niov, uint32_t type,
                                     int timeout_ms)
{
	for (;;) {
		ssize_t n = argo_sendv(fabric, addr, iov, niov, type);
		int w;

		if (n != -EAGAIN)
			return n;
		w = tool_wait_event(fabric, timeout_ms);
		if (w <= 0)
			return w < 0 ? w : -ETIMEDOUT;
		argo_event_clear(fabric);
	}
}

#endif
