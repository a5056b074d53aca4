/* SPDX-License-Identifier: MIT */
/* Strict number parsing: see parse.h. */
#include "parse.h"

#include <errno.h>
#include <stdbool.h>

static int digit_value(char c, bool hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (hex && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned int base = hex ? 16 : 10;
	uint64_t v = 0;
	size_t i;

	if (hex) {
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int d = digit_value(s[i], hex);

		if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / base)
			return -EINVAL;
		v = v * base + (uint64_t)d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u32n(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64n(s, len, max, &v) < 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static size_t length(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	return parse_u64n(s, length(s), max, out);
}

int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	return parse_u32n(s, length(s), max, out);
}
