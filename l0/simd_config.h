/* SPDX-License-Identifier: MIT */
/*
 * argo-simd's configuration: from the command line and, optionally, an INI
 * file (docs/sim-fabric.md has the reference). The command line wins where
 * both set something, except policy rules, which add up (file first).
 */
#ifndef ARGO_SIMD_CONFIG_H
#define ARGO_SIMD_CONFIG_H

#include <stdbool.h>

#include "argo/abi.h"
#include "sim_policy.h"

#define SIMD_MAX_STATIC_DOMAINS 64
#define SIMD_PATH_MAX           108 /* sun_path */

struct simd_static_domain {
	argo_domid_t domid;
	char socket[SIMD_PATH_MAX];
};

/* The event loop (simd.h): io_uring where it works, or epoll. */
enum simd_engine_choice {
	SIMD_ENGINE_AUTO,
	SIMD_ENGINE_URING,
	SIMD_ENGINE_EPOLL,
};

struct simd_config {
	char socket[SIMD_PATH_MAX]; /* allocating socket; may be empty */
	argo_domid_t first_domid;   /* lowest domid handed out dynamically */
	bool mac_permissive;
	struct sim_policy policy;
	struct simd_static_domain statics[SIMD_MAX_STATIC_DOMAINS];
	unsigned int nstatics;
	char user[64]; /* drop privileges to this user after binding */
	/* Who may connect (docs/sim-fabric.md, "Who may connect"): the file
	 * modes of the dynamic socket and of the static ones, and the group of
	 * all of them (-1: the daemon's own). */
	unsigned int socket_mode, domain_mode;
	long group;
	char pidfile[256];
	bool daemonize;
	int verbose;
	enum simd_engine_choice engine;
};

/* Fills *config from argv (and the file named by --config). On error prints
 * one line naming the problem (and the file and line, for the file) to
 * stderr and returns -1; for --help or --version prints it to stdout and
 * returns 1. */
int simd_config_parse(struct simd_config *config, int argc, char **argv);

#endif /* ARGO_SIMD_CONFIG_H */
