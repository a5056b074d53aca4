/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd's log: one line per event, prefixed with the relay's hvid.
 * Level 0 always shows; each -v shows one level more; RELAY_LOG_ERR
 * always shows and is an error (syslog's LOG_ERR, the journal's priority
 * 3), level 0 a notice, 1 info, more debug.
 *
 * Where the lines go (relay_log_open()): standard error with a timestamp
 * (ISO 8601, local time, milliseconds); standard error without one, with
 * the journal's "<PRIORITY>" prefix instead, when standard error is the
 * journal ($JOURNAL_STREAM names it: systemd stamps each line itself); or
 * syslog (--syslog, facility daemon).
 */
#ifndef ARGO_RELAY_LOG_H
#define ARGO_RELAY_LOG_H

#include <stdbool.h>

#define RELAY_LOG_ERR (-1)

extern int relay_verbose;

/* Chooses where lines go (see above); before it, standard error with a
 * timestamp. */
void relay_log_open(bool use_syslog);
/* The hvid every line names (until set: "-"). */
void relay_log_set_hvid(const char *hvid);
void relay_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* ARGO_RELAY_LOG_H */
