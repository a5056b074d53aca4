/* SPDX-License-Identifier: MIT */
/* A growing string: see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void strbuf_add(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = sb->cap - sb->len, cap;
		char *p;

		va_start(ap, fmt);
		n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		cap = (sb->cap + (size_t)n + 1) * 2;
		p = realloc(sb->buf, cap);
		if (!p)
			return;
		sb->buf = p;
		sb->cap = cap;
	}
}
