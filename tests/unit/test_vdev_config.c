/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of argo-vdevd's configuration reader (vdev/config.c): a full
 * file and its defaults, and each problem reported once, with its file and
 * line, as `argo-vdevd --check-config` prints it.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev.h"
#include "../cunit_main.h"

/* config.c logs nothing, but links against these. */
int vdev_verbose;
void vdev_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static char path[64];
static struct vdev_config cfg;
static char err[512];

static int load(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/vdev-config.XXXXXX");
	{
		int fd = mkstemp(path);

		CU_ASSERT_FATAL(fd >= 0);
		f = fdopen(fd, "w");
	}
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
	err[0] = 0;
	{
		int rc = vdev_config_load(path, &cfg, err, sizeof(err));

		unlink(path);
		return rc;
	}
}

#define HEAD "[vdevd]\nfabric = sim:/run/a.sock\ncontrol = /run/v.ctl\n"
#define BLK  "[device d0]\ntype = blk\nnumber = 0\nsocket = /run/b.sock\nfrontend = 5\n"

/* The error names this line and says this. */
static void expect(const char *text, int line, const char *what)
{
	char want[64];

	CU_ASSERT(load(text) == -EINVAL);
	if (line)
		snprintf(want, sizeof(want), ":%d: ", line);
	else
		snprintf(want, sizeof(want), ": ");
	if (!strstr(err, want) || !strstr(err, what)) {
		fprintf(stderr, "\n    got \"%s\", want line %d and \"%s\"\n", err, line, what);
		CU_FAIL("wrong error");
	}
}

static void test_full(void)
{
	CU_ASSERT_FATAL(load(HEAD "bus_port = 0x1000\nring_len = 64K\nreset_timeout_ms = 500\n"
	                          "reconnect_ms = 50\nring_check_ms = 300\n" BLK
	                          "ring_len = 1M\nqueue_size = 256\n"
	                          "max_segs = 130\nmax_chain = 512K\n"
	                          "uuid = 01234567-89ab-cdef-0123-456789ABCDEF\n"
	                          "  [device fs]\n  type = fs\n  number = 7\n"
	                          "  socket = /run/f.sock ; a comment\n  frontend = any\n"
	                          "  tag = my-share\n  request_queues = 2\n") == 0);
	CU_ASSERT(cfg.bus_port == 0x1000 && cfg.ring_len == 65536);
	CU_ASSERT(cfg.reset_timeout_ms == 500 && cfg.reconnect_ms == 50);
	CU_ASSERT(cfg.ring_check_ms == 300);
	CU_ASSERT_FATAL(cfg.ndevices == 2);
	CU_ASSERT(!strcmp(cfg.devices[0].name, "d0") && cfg.devices[0].type == VDEV_BLK);
	CU_ASSERT(cfg.devices[0].frontend == 5 && cfg.devices[0].ring_len == 1u << 20);
	CU_ASSERT(cfg.devices[0].queue_size == 256 && cfg.devices[0].max_segs == 130);
	CU_ASSERT(cfg.devices[0].max_chain == 512 * 1024 && cfg.devices[0].uuid_set);
	CU_ASSERT(cfg.devices[0].uuid[0] == 0x01 && cfg.devices[0].uuid[15] == 0xEF);
	CU_ASSERT(cfg.devices[1].type == VDEV_FS && cfg.devices[1].number == 7);
	CU_ASSERT(cfg.devices[1].frontend == XEN_ARGO_DOMID_ANY);
	CU_ASSERT(!strcmp(cfg.devices[1].socket, "/run/f.sock"));
	CU_ASSERT(!strcmp(cfg.devices[1].tag, "my-share") && cfg.devices[1].request_queues == 2);
}

static void test_defaults(void)
{
	CU_ASSERT_FATAL(load(HEAD BLK) == 0);
	CU_ASSERT(cfg.bus_port == VIRTIO_ARGO_BUS_PORT && cfg.ring_len == 256 * 1024);
	CU_ASSERT(cfg.reset_timeout_ms == 10000 && cfg.reconnect_ms == 1000);
	CU_ASSERT(cfg.ring_check_ms == 2000);
	CU_ASSERT(cfg.devices[0].ring_len == 4u << 20 && cfg.devices[0].queue_size == 128);
	CU_ASSERT(cfg.devices[0].max_segs == 258 && cfg.devices[0].max_chain == (1u << 20) + 8192);
	CU_ASSERT(!cfg.devices[0].uuid_set && cfg.devices[0].request_queues == 1);
}

static void test_errors(void)
{
	CU_ASSERT(load("") == -EINVAL && strstr(err, "missing [vdevd]"));
	expect("[vdevd]\ncontrol = /x\n" BLK, 0, "missing required key 'fabric'");
	expect("[vdevd]\nfabric = sim:/x\n" BLK, 0, "missing required key 'control'");
	expect(HEAD, 0, "no [device NAME] section");
	expect(HEAD "colour = blue\n" BLK, 4, "unknown key 'colour' in [vdevd]");
	expect(HEAD "[relay]\n", 4, "unknown section [relay]");
	expect(HEAD "[device a b]\n", 4, "device name");
	expect(HEAD BLK BLK, 9, "[device d0] given twice");
	expect(HEAD "[vdevd]\n" BLK, 4, "[vdevd] given twice");
	expect(HEAD "[device x]\ntype = blk\nnumber = 1\nsocket = /s\n[device y]\n", 4,
	       "missing required key 'frontend'");
	expect(HEAD BLK "[device e]\ntype = blk\nnumber = 0\nsocket = /s\nfrontend = 5\n", 11,
	       "device number 0 is also [device d0]'s");
	expect(HEAD "[device d]\ntype = net\n", 5, "type must be blk or fs");
	expect(HEAD "[device d]\nnumber = 256\n", 5, "number must be 0 to 255");
	expect(HEAD "[device d]\nnumber = 010\n", 5, "is not a number");
	expect(HEAD "[device d]\nfrontend = 32752\n", 5, "frontend must be 0 to 32751");
	expect(HEAD BLK "queue_size = 100\n", 9, "queue_size must be a power of 2");
	expect(HEAD BLK "queue_size = 2048\n", 9, "queue_size must be 2 to 1024");
	expect(HEAD BLK "ring_len = 1000\n", 9, "multiple of 16 from 4096");
	expect(HEAD BLK "ring_len = 17M\n", 9, "ring_len must be 0 to");
	expect(HEAD BLK "max_chain = 1G\n", 9, "is not a size");
	expect(HEAD BLK "uuid = 1234\n", 9, "uuid must look like");
	expect(HEAD BLK "tag = t\n", 4, "'tag' and 'request_queues' are for type fs");
	expect(HEAD "[device f]\ntype = fs\nnumber = 1\nsocket = /s\nfrontend = 5\n", 4,
	       "a file system needs 'tag'");
	expect(HEAD "[device f]\ntag = 0123456789012345678901234567890123456789\n", 5,
	       "tag must be 1 to 36 bytes");
	expect(HEAD "reset_timeout_ms = 99\n" BLK, 4, "reset_timeout_ms must be 100 to");
	{
		char text[600];

		snprintf(text, sizeof(text), HEAD "control = /%0250d\n" BLK, 0);
		expect(text, 4, "line longer than 198 bytes");
	}
	expect("key = value\n", 1, "'key' outside a section");
	expect(HEAD "[device d\n", 4, "malformed section header");
	CU_ASSERT(vdev_config_load("/nonexistent/vdevd.conf", &cfg, err, sizeof(err)) == -ENOENT);
	CU_ASSERT(strstr(err, "/nonexistent/vdevd.conf") != NULL);
}

static void test_partners(void)
{
	char text[4096];
	size_t n = 0;
	int i;

	n += (size_t)snprintf(text + n, sizeof(text) - n, HEAD);
	for (i = 0; i < 9; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "[device d%d]\ntype = blk\nnumber = %d\nsocket = /s\n"
		                      "frontend = %d\n",
		                      i, i, 10 + i);
	expect(text, 4 + 5 * 8, "more than 8 frontend domains");
}

static const struct test_def tests[] = {T(test_full), T(test_defaults), T(test_errors),
                                        T(test_partners)};
static const struct suite_def suites[] = {SUITE("vdev-config", tests)};

int main(void)
{
	return cunit_main(suites, N(suites));
}
