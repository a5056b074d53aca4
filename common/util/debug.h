/* SPDX-License-Identifier: MIT */
/*
 * Run-time checks of invariants (custody, memory bounds), as Xen's argo.c
 * asserts its lock states: compiled in the debug and sanitizer builds
 * (ARGO_DEBUG: `make DEBUG=1`, `make SAN=1`), out of the plain build that
 * `make bench` measures. A failed check aborts with the file and line.
 */
#ifndef ARGO_UTIL_DEBUG_H
#define ARGO_UTIL_DEBUG_H

#ifdef ARGO_DEBUG
#include <assert.h>
#define DEBUG_ASSERT(cond) assert(cond)
#else
#define DEBUG_ASSERT(cond) ((void)0)
#endif

#endif /* ARGO_UTIL_DEBUG_H */
