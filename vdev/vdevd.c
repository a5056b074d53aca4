/* SPDX-License-Identifier: MIT */
/*
 * argo-vdevd: serves virtio devices over Argo (docs/virtio-argo.md) from
 * vhost-user back ends.
 *
 *   argo-vdevd [-v]... CONFIG          run until SIGTERM or SIGINT
 *   argo-vdevd --check-config CONFIG   check the file and exit (0 valid, 2 not)
 *   argo-vdevd --help | --version
 *
 * Stages: the configuration is read and checked in full; then the fabric,
 * its rings, the back ends and the control socket are set up; then the
 * event loop runs. The loop is an epoll set whose watchers carry their own
 * handler (struct watch): the fabric's event fd, each back end's socket,
 * each queue's call eventfd, the control socket, a signalfd and a 100 ms
 * timer for time-outs, liveness checks and back-end reconnection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vdev.h"

#define TICK_MS 100

int vdev_verbose;
static int epoll_fd = -1;
static bool stopping;
static struct bus the_bus;
static struct vdev_config the_config;
static uint64_t last_tick_ms;
static struct watch *dead; /* unwatched during this round */

uint64_t vdev_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t vdev_now_ms(void)
{
	return vdev_now_us() / 1000;
}

void vdev_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > vdev_verbose)
		return;
	va_start(ap, fmt);
	fputs("argo-vdevd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

struct watch *vdev_watch(int fd, uint32_t events, void (*fn)(struct watch *, uint32_t), void *ctx)
{
	struct watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = events};

	if (!w)
		return NULL;
	w->fd = fd;
	w->fn = fn;
	w->ctx = ctx;
	ev.data.ptr = w;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		vdev_log(0, "epoll_ctl: %s", strerror(errno));
		free(w);
		return NULL;
	}
	return w;
}

void vdev_unwatch(struct watch *w)
{
	if (!w)
		return;
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	/* Events already fetched for w may still be in the loop's array:
	 * mark it dead; run() frees it after the round. */
	w->fn = NULL;
	w->ctx = NULL;
	w->fd = -1;
	w->next_dead = dead;
	dead = w;
}

static void bury(void)
{
	while (dead) {
		struct watch *w = dead;

		dead = w->next_dead;
		free(w);
	}
}

static void on_fabric(struct watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	bus_poll(&the_bus);
}

static void on_timer(struct watch *w, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		vdev_log(0, "timerfd: %s", strerror(errno));
	last_tick_ms = vdev_now_ms();
	bus_tick(&the_bus, last_tick_ms);
}

static void on_signal(struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vdev_log(0, "signal %u: stopping", si.ssi_signo);
	stopping = true;
}

static void on_control(struct watch *w, uint32_t events)
{
	(void)events;
	control_accept(w->fd, &the_bus);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: argo-vdevd [-v]... CONFIG\n"
	             "       argo-vdevd --check-config CONFIG\n"
	             "       argo-vdevd --help | --version\n"
	             "Serves virtio devices over Argo from vhost-user back ends "
	             "(docs/virtio-argo.md).\n"
	             "  -v               more log (repeat for more)\n"
	             "  --check-config   check CONFIG and exit: 0 valid, 2 not\n"
	             "Counters: argo-vdevctl -s CONTROL_SOCKET [status|devices|counters] "
	             "[--json]\n");
}

static int run(void)
{
	struct itimerspec its = {.it_interval = {0, TICK_MS * 1000000L},
	                         .it_value = {0, TICK_MS * 1000000L}};
	struct watch *w[4];
	int timer_fd, sig_fd, ctl_fd, rc, i;
	sigset_t mask;

	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sig_fd < 0 || timer_fd < 0 || timerfd_settime(timer_fd, 0, &its, NULL) < 0)
		return -errno;
	/* The rings and back ends first: once the control socket exists, the
	 * daemon serves (scripts wait for it). */
	rc = bus_open(&the_bus, &the_config);
	if (rc)
		return rc;
	ctl_fd = control_open(the_config.control);
	if (ctl_fd < 0) {
		vdev_log(0, "control socket %s: %s", the_config.control, strerror(-ctl_fd));
		return ctl_fd;
	}
	w[0] = vdev_watch(argo_event_fd(the_bus.fabric), EPOLLIN, on_fabric, NULL);
	w[1] = vdev_watch(timer_fd, EPOLLIN, on_timer, NULL);
	w[2] = vdev_watch(sig_fd, EPOLLIN, on_signal, NULL);
	w[3] = vdev_watch(ctl_fd, EPOLLIN, on_control, NULL);
	if (!w[0] || !w[1] || !w[2] || !w[3])
		return -ENOMEM;
	vdev_log(0, "ready; control socket %s", the_config.control);
	bus_poll(&the_bus);
	while (!stopping) {
		struct epoll_event ev[32];
		int i, n = epoll_wait(epoll_fd, ev, 32, TICK_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			struct watch *w = ev[i].data.ptr;

			if (w->fn)
				w->fn(w, ev[i].events);
		}
		bury();
		/* A busy loop must not starve the timer's work. */
		if (vdev_now_ms() - last_tick_ms >= 2 * TICK_MS) {
			last_tick_ms = vdev_now_ms();
			bus_tick(&the_bus, last_tick_ms);
		}
	}
	bus_close(&the_bus);
	for (i = 0; i < 4; i++)
		vdev_unwatch(w[i]);
	bury();
	close(timer_fd);
	close(sig_fd);
	close(ctl_fd);
	unlink(the_config.control);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool check = false;
	char err[512];
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			vdev_verbose++;
		else if (!strcmp(argv[i], "-vv"))
			vdev_verbose += 2;
		else if (!strcmp(argv[i], "--check-config"))
			check = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("argo-vdevd %s (virtio-argo bus %d, virtio-msg revision %d)\n",
			       VDEV_VERSION, VIRTIO_ARGO_BUS_VERSION, VIRTIO_ARGO_REVISION);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			usage(stderr);
			return 2;
		} else
			path = argv[i];
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	rc = vdev_config_load(path, &the_config, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "argo-vdevd: %s\n", err);
		return 2;
	}
	if (check) {
		printf("%s: valid, %u device(s)\n", path, the_config.ndevices);
		return 0;
	}
	rc = run();
	if (rc) {
		vdev_log(0, "stopped: %s", strerror(-rc));
		return 1;
	}
	return 0;
}
