/* SPDX-License-Identifier: MIT */
/* argo-relayd's log: see log.h. */
#define _GNU_SOURCE
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int relay_verbose;
static const char *log_hvid = "-";
static enum { TO_STDERR, TO_JOURNAL, TO_SYSLOG } log_to = TO_STDERR;

/* Is standard error the journal? systemd says so in $JOURNAL_STREAM
 * ("DEVICE:INODE" of the stream it gave us), and a shell that redirected
 * it elsewhere leaves the variable but not the match. */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void relay_log_open(bool use_syslog)
{
	if (use_syslog) {
		openlog("argo-relayd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_to = TO_SYSLOG;
	} else {
		log_to = stderr_is_journal() ? TO_JOURNAL : TO_STDERR;
	}
}

void relay_log_set_hvid(const char *hvid)
{
	log_hvid = hvid;
}

static int priority(int level)
{
	return level < 0 ? LOG_ERR : level == 0 ? LOG_NOTICE : level == 1 ? LOG_INFO : LOG_DEBUG;
}

void relay_log(int level, const char *fmt, ...)
{
	char text[1024], stamp[48], zone[8];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > relay_verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	switch (log_to) {
	case TO_SYSLOG:
		syslog(priority(level), "[%s] %s", log_hvid, text);
		break;
	case TO_JOURNAL:
		fprintf(stderr, "<%d>argo-relayd[%s]: %s\n", priority(level), log_hvid, text);
		break;
	case TO_STDERR:
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		strftime(zone, sizeof(zone), "%z", &tm);
		fprintf(stderr, "%s.%03ld%s argo-relayd[%s]: %s\n", stamp, ts.tv_nsec / 1000000L,
		        zone, log_hvid, text);
		break;
	}
}
