/* SPDX-License-Identifier: MIT */
/*
 * Monotonic time in micro- and milliseconds, for time-outs and deadlines
 * (never the wall clock: it jumps). Header-only; clock_gettime() needs
 * _POSIX_C_SOURCE (or _GNU_SOURCE) defined before the first #include.
 */
#ifndef ARGO_UTIL_CLOCK_H
#define ARGO_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t now_ms(void)
{
	return now_us() / 1000;
}

#endif /* ARGO_UTIL_CLOCK_H */
