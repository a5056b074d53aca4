/* SPDX-License-Identifier: MIT */
/*
 * A growing string: printf-style appends, for answers built in pieces (the
 * relay's control socket). An append that cannot grow the buffer leaves it
 * as it was; the caller frees buf.
 */
#ifndef ARGO_UTIL_STRBUF_H
#define ARGO_UTIL_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf; /* NUL terminated once anything was added */
	size_t len, cap;
};

void strbuf_add(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* ARGO_UTIL_STRBUF_H */
