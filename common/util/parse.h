/* SPDX-License-Identifier: MIT */
/*
 * Numbers in configuration values and addresses: decimal, or hexadecimal
 * after 0x; no sign, no blanks, no octal, nothing after the digits (what
 * strtoull() alone would let through). The one parser for the relay's
 * configuration and every transport's address.
 *
 * Return conventions: 0, or -EINVAL for anything else and for a value above
 * max; *out is written only on success.
 */
#ifndef ARGO_UTIL_PARSE_H
#define ARGO_UTIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The len bytes at s (not NUL terminated: a field of a longer string). */
int parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *out);
int parse_u32n(const char *s, size_t len, uint32_t max, uint32_t *out);
/* A whole NUL-terminated string. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);
int parse_u32(const char *s, uint32_t max, uint32_t *out);

#endif /* ARGO_UTIL_PARSE_H */
