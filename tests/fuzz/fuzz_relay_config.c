/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for argo-relayd's configuration reader (relay/config.c,
 * config_load()), the first thing a relay does with a file an operator
 * wrote. `make fuzz` builds it with clang -fsanitize=fuzzer,address,
 * undefined and runs it on a copy of tests/fuzz/corpus/relay-config/.
 *
 * Each input is written to relay.conf in a private folder that also holds
 * k.key (32 bytes, mode 0600: what "key = k.key" names), and read. A file
 * refused must come with a reason naming the file; a file accepted must be
 * the complete, valid configuration config.h promises: every check the
 * relay relies on afterwards is made again here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argo/ring.h"
#include "config.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_relay_config: %s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static char dir[] = "/tmp/fuzz-relay-config.XXXXXX";
static char conf_path[64], key_path[64];
static int conf_fd = -1;
static struct relay_config config;

static void check_valid(const struct relay_config *c)
{
	unsigned int i, j;

	CHECK(wire_hvid_valid(c->hvid));
	CHECK(c->fabric[0] && strchr(c->fabric, ':'));
	CHECK(c->control[0]);
	CHECK(c->queue_bytes >= 64 * 1024);
	CHECK(argo_ring_len_valid(c->ring_len));
	CHECK(c->proxy_port_min <= c->proxy_port_max);
	CHECK(c->control_mode <= 0777);
	CHECK(c->nlinks <= CONFIG_MAX_LINKS && c->nroutes <= CONFIG_MAX_ROUTES &&
	      c->nimports <= CONFIG_MAX_IMPORTS && c->nrules <= CONFIG_MAX_RULES);
	for (i = 0; i < c->nlinks; i++) {
		CHECK(c->links[i].name[0] && c->links[i].address[0]);
		CHECK(wire_hvid_valid(c->links[i].peer_hvid));
		CHECK(strcmp(c->links[i].peer_hvid, c->hvid) != 0);
		for (j = 0; j < i; j++)
			CHECK(strcmp(c->links[i].name, c->links[j].name) != 0);
	}
	for (i = 0; i < c->nroutes; i++) {
		CHECK(c->routes[i].link < c->nlinks);
		CHECK(wire_hvid_valid(c->routes[i].hvid));
	}
	for (i = 0; i < c->nimports; i++) {
		CHECK(c->imports[i].port < c->proxy_port_min ||
		      c->imports[i].port > c->proxy_port_max);
		CHECK(wire_hvid_valid(c->imports[i].target.hvid));
	}
	/* The policy answers for anything, without reading past its rules. */
	{
		struct wire_gaddr a = {.hvid = "l0", .domid = 5, .port = 80};
		struct wire_gaddr b = {.hvid = "l2", .domid = 1, .port = 40000};

		(void)config_policy_allows(c, &a, &b);
		(void)config_policy_allows(c, &b, &a);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	int ret;

	CHECK(ftruncate(conf_fd, 0) == 0);
	CHECK(pwrite(conf_fd, data, size, 0) == (ssize_t)size);
	memset(why, 0x5a, sizeof(why));
	ret = config_load(conf_path, geteuid(), &config, why, sizeof(why));
	if (ret < 0) {
		/* One message, naming the file. */
		CHECK(memchr(why, '\0', sizeof(why)) != NULL);
		CHECK(strncmp(why, conf_path, strlen(conf_path)) == 0);
	} else {
		CHECK(ret == 0);
		check_valid(&config);
	}
	return 0;
}

static void cleanup(void)
{
	unlink(conf_path);
	unlink(key_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t key[32];
	int fd;

	(void)argc;
	(void)argv;
	CHECK(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/relay.conf", dir);
	snprintf(key_path, sizeof(key_path), "%s/k.key", dir);
	memset(key, 0x42, sizeof(key));
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && close(fd) == 0);
	conf_fd = open(conf_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(conf_fd >= 0);
	atexit(cleanup);
	return 0;
}
