/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd's log: one line per event on stderr, prefixed with the
 * relay's hvid. Level 0 always shows; each -v shows one level more.
 */
#ifndef ARGO_RELAY_LOG_H
#define ARGO_RELAY_LOG_H

extern int relay_verbose;

/* The hvid every line names (until set: "-"). */
void relay_log_set_hvid(const char *hvid);
void relay_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* ARGO_RELAY_LOG_H */
