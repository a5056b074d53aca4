/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd as a daemon: detaching (-d), its pid file, and telling the
 * service manager how it is (sd_notify's protocol, spoken here without
 * libsystemd: one datagram of "KEY=VALUE" lines to $NOTIFY_SOCKET).
 * docs/man/argo-relayd.8 says what a user sees.
 *
 * Return conventions: 0 or a negative errno.
 */
#ifndef ARGO_RELAY_DAEMON_H
#define ARGO_RELAY_DAEMON_H

/*
 * Forks. The parent waits until the child says it serves (daemon_ready())
 * and exits 0, or exits 1 if the child ends first; it never returns. The
 * child starts a new session, lets go of the caller's stdin and stdout
 * (standard error stays: it is the log, unless --syslog), and returns 0
 * with *ready_fd to write to once serving.
 */
int daemon_detach(int *ready_fd);
/* Serving: the parent of daemon_detach() may exit 0 (ready_fd < 0: no-op). */
void daemon_ready(int ready_fd);

/* Writes our pid to path (made anew, mode 0644). */
int daemon_write_pidfile(const char *path);

/*
 * Tells the service manager our state: "READY=1", "RELOADING=1",
 * "STOPPING=1", "STATUS=...", several joined by newlines. A no-op (0)
 * when $NOTIFY_SOCKET is not set; a path starting with '@' is an abstract
 * socket. Errors are returned, never fatal to the caller.
 */
int daemon_notify(const char *state);

#endif /* ARGO_RELAY_DAEMON_H */
