/* SPDX-License-Identifier: MIT */
/* argo-relayd's log: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int relay_verbose;
static const char *log_hvid = "-";

void relay_log_set_hvid(const char *hvid)
{
	log_hvid = hvid;
}

void relay_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > relay_verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "argo-relayd[%s]: ", log_hvid);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
