/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of argo-relayd's configuration reader (relay/config.c,
 * docs/relay-config.md): a full file round-trips into struct relay_config;
 * every kind of mistake is refused with "FILE:LINE: problem" on the right
 * line (or "FILE: problem" for whole-file problems); key files are checked
 * through auth_load_psk(); policy rules match first-wins with wildcards.
 *
 * Every file is written into a fresh mkdtemp() folder, with its key files.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "../cunit_main.h"
#include "transport.h"

static char dir[64];
static char conf_path[128];
static struct relay_config *cfg; /* large: on the heap */
static char why[1024];

/* ---------------------------------------------------------------------------
 * Helpers
 */

static int write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A key of len bytes that passes the strength checks; seed makes keys
 * that differ (one key per link). */
static int make_key_seeded(const char *name, size_t len, mode_t mode, unsigned int seed)
{
	unsigned char key[2048];
	size_t i;

	for (i = 0; i < len && i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 37 + 11 + seed * 101);
	return write_file(name, key, len, mode);
}

static int make_key(const char *name, size_t len, mode_t mode)
{
	return make_key_seeded(name, len, mode, 0);
}

static int load_as(const char *text, uid_t owner)
{
	if (write_file("relay.conf", text, strlen(text), 0600) < 0)
		return -9999;
	why[0] = '\0';
	return config_load(conf_path, owner, cfg, why, sizeof(why));
}

static int load(const char *text)
{
	return load_as(text, geteuid());
}

/*
 * Loads text and checks that it is refused with "PATH:LINE: " (LINE 0:
 * "PATH: ") followed by a reason that contains needle.
 */
static void expect_error_at(const char *text, unsigned int line, const char *needle, int src_line)
{
	char prefix[256];
	int rc = load(text);
	bool ok_rc = rc < 0, ok_prefix, ok_needle;

	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", conf_path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", conf_path);
	ok_prefix = !strncmp(why, prefix, strlen(prefix));
	ok_needle = strstr(why + (ok_prefix ? strlen(prefix) : 0), needle) != NULL;
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "\n    %s", why);
	if (!ok_rc || !ok_prefix || !ok_needle)
		fprintf(stderr, "\n    line %d: rc %d, expected '%s...%s', got '%s'\n", src_line,
		        rc, prefix, needle, why);
	CU_assertImplementation(ok_rc, (unsigned int)src_line, "refused", __FILE__, "", CU_FALSE);
	CU_assertImplementation(ok_prefix, (unsigned int)src_line, "FILE:LINE prefix", __FILE__, "",
	                        CU_FALSE);
	CU_assertImplementation(ok_needle, (unsigned int)src_line, "reason", __FILE__, "",
	                        CU_FALSE);
}

#define EXPECT_ERROR(text, line, needle) expect_error_at(text, line, needle, __LINE__)

/* The [relay] head most cases start with: lines 1 to 4. */
#define HEAD                                                                                       \
	"[relay]\n"                                                                                \
	"hvid = l1\n"                                                                              \
	"fabric = sim:/run/argo/l1.sock\n"                                                         \
	"control = /run/argo-relay/l1.ctl\n"

/* A complete link section of 5 lines. */
#define LINK(name, addr_line)                                                                      \
	"[link " name "]\n"                                                                        \
	"transport = unix\n" addr_line "\n"                                                        \
	"peer = l0\n"                                                                              \
	"key = good.key\n"

/* ---------------------------------------------------------------------------
 * Valid files
 */

static void test_full_round_trip(void)
{
	static const char text[] = "; argo-relayd test configuration\n" /* 1 */
	                           "[relay]\n"
	                           "hvid = l1\n"
	                           "fabric = sim:/run/argo/l1.sock ; the level's sim fabric\n"
	                           "control = /run/argo-relay/l1.ctl\n" /* 5 */
	                           "state_dir = /var/lib/argo-relay/l1\n"
	                           "user = argo\n"
	                           "queue_bytes = 16M\n"
	                           "ring_len = 1M\n"
	                           "proxy_ports = 60000-60999\n" /* 10 */
	                           "max_auth_failures = 7\n"
	                           "reset_backoff_ms = 5000\n"
	                           "reconnect_ms = 250\n"
	                           "ping_ms = 2000\n"
	                           "\n" /* 15 */
	                           "[link up]\n"
	                           "transport = serial\n"
	                           "connect = /dev/virtio-ports/argo-relay\n"
	                           "peer = l0\n"
	                           "key = good.key\n" /* 20 */
	                           "\n"
	                           "[link down]\n"
	                           "  transport = vsock\n"
	                           "  listen = any:5000\n"
	                           "  peer = l2\n" /* 25 */
	                           "  key = good2.key\n"
	                           "[link far]\n"
	                           "transport = tcp\n"
	                           "connect = [::1]:7001\n"
	                           "peer = kvm-a\n" /* 30 */
	                           "key = good3.key\n"
	                           "[link local]\n"
	                           "transport = unix\n"
	                           "listen = /run/argo-relay/local.sock\n"
	                           "peer = test.1\n" /* 35 */
	                           "key = good4.key\n"
	                           "[routes]\n"
	                           "l3 = down\n"
	                           "kvm-b = far\n"
	                           "[imports]\n" /* 40 */
	                           "7000 = l0:5:80\n"
	                           "0x7001 = kvm-a:0:0x10 from 3\n"
	                           "[policy]\n"
	                           "default = allow\n"
	                           "rule = deny src l2:7 dst l0:5:80\n" /* 45 */
	                           "rule = allow dst *:*:22\n"
	                           "rule = deny\n"
	                           "rule = allow src *:4\n";
	const struct config_link *l;
	const struct config_rule *r;

	CU_ASSERT_EQUAL_FATAL(load(text), 0);
	CU_ASSERT_STRING_EQUAL(why, "");
	CU_ASSERT_STRING_EQUAL(cfg->path, conf_path);
	CU_ASSERT_STRING_EQUAL(cfg->hvid, "l1");
	CU_ASSERT_STRING_EQUAL(cfg->fabric, "sim:/run/argo/l1.sock");
	CU_ASSERT_STRING_EQUAL(cfg->control, "/run/argo-relay/l1.ctl");
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, "/var/lib/argo-relay/l1");
	CU_ASSERT_STRING_EQUAL(cfg->user, "argo");
	CU_ASSERT_EQUAL(cfg->queue_bytes, 16u * 1024 * 1024);
	CU_ASSERT_EQUAL(cfg->ring_len, 1024u * 1024);
	CU_ASSERT_EQUAL(cfg->proxy_port_min, 60000);
	CU_ASSERT_EQUAL(cfg->proxy_port_max, 60999);
	CU_ASSERT_EQUAL(cfg->max_auth_failures, 7);
	CU_ASSERT_EQUAL(cfg->reset_backoff_ms, 5000);
	CU_ASSERT_EQUAL(cfg->reconnect_ms, 250);
	CU_ASSERT_EQUAL(cfg->ping_ms, 2000);

	CU_ASSERT_EQUAL_FATAL(cfg->nlinks, 4);
	l = &cfg->links[0];
	CU_ASSERT_STRING_EQUAL(l->name, "up");
	CU_ASSERT_EQUAL(l->transport, TRANSPORT_SERIAL);
	CU_ASSERT_FALSE(l->listen);
	CU_ASSERT_STRING_EQUAL(l->address, "/dev/virtio-ports/argo-relay");
	CU_ASSERT_STRING_EQUAL(l->peer_hvid, "l0");
	CU_ASSERT_EQUAL(l->line, 16);
	CU_ASSERT_EQUAL(l->psk.len, 32);
	CU_ASSERT_EQUAL(l->psk.key[0], 11);
	CU_ASSERT_EQUAL(l->psk.key[1], 48);
	CU_ASSERT_PTR_NOT_NULL(strstr(l->key_file, "good.key"));
	CU_ASSERT_EQUAL(strncmp(l->key_file, dir, strlen(dir)), 0); /* relative to the file */
	l = &cfg->links[1];
	CU_ASSERT_STRING_EQUAL(l->name, "down");
	CU_ASSERT_EQUAL(l->transport, TRANSPORT_VSOCK);
	CU_ASSERT_TRUE(l->listen);
	CU_ASSERT_STRING_EQUAL(l->address, "any:5000");
	CU_ASSERT_STRING_EQUAL(l->peer_hvid, "l2");
	CU_ASSERT_EQUAL(l->line, 22);
	CU_ASSERT_EQUAL(l->psk.len, 64);
	l = &cfg->links[2];
	CU_ASSERT_STRING_EQUAL(l->name, "far");
	CU_ASSERT_EQUAL(l->transport, TRANSPORT_TCP);
	CU_ASSERT_FALSE(l->listen);
	CU_ASSERT_STRING_EQUAL(l->address, "[::1]:7001");
	CU_ASSERT_STRING_EQUAL(l->peer_hvid, "kvm-a");
	l = &cfg->links[3];
	CU_ASSERT_STRING_EQUAL(l->name, "local");
	CU_ASSERT_EQUAL(l->transport, TRANSPORT_UNIX);
	CU_ASSERT_TRUE(l->listen);
	CU_ASSERT_STRING_EQUAL(l->peer_hvid, "test.1");
	CU_ASSERT_EQUAL(l->line, 32);

	CU_ASSERT_EQUAL_FATAL(cfg->nroutes, 2);
	CU_ASSERT_STRING_EQUAL(cfg->routes[0].hvid, "l3");
	CU_ASSERT_EQUAL(cfg->routes[0].link, 1);
	CU_ASSERT_STRING_EQUAL(cfg->routes[1].hvid, "kvm-b");
	CU_ASSERT_EQUAL(cfg->routes[1].link, 2);

	CU_ASSERT_EQUAL_FATAL(cfg->nimports, 2);
	CU_ASSERT_EQUAL(cfg->imports[0].port, 7000);
	CU_ASSERT_EQUAL(cfg->imports[0].partner, XEN_ARGO_DOMID_ANY);
	CU_ASSERT_STRING_EQUAL(cfg->imports[0].target.hvid, "l0");
	CU_ASSERT_EQUAL(cfg->imports[0].target.domid, 5);
	CU_ASSERT_EQUAL(cfg->imports[0].target.port, 80);
	CU_ASSERT_EQUAL(cfg->imports[1].port, 0x7001);
	CU_ASSERT_EQUAL(cfg->imports[1].partner, 3);
	CU_ASSERT_STRING_EQUAL(cfg->imports[1].target.hvid, "kvm-a");
	CU_ASSERT_EQUAL(cfg->imports[1].target.domid, 0);
	CU_ASSERT_EQUAL(cfg->imports[1].target.port, 0x10);

	CU_ASSERT_TRUE(cfg->default_allow);
	CU_ASSERT_EQUAL_FATAL(cfg->nrules, 4);
	r = &cfg->rules[0];
	CU_ASSERT_FALSE(r->allow);
	CU_ASSERT_STRING_EQUAL(r->src_hvid, "l2");
	CU_ASSERT_EQUAL(r->src_domid, 7);
	CU_ASSERT_EQUAL(r->src_port, -1);
	CU_ASSERT_STRING_EQUAL(r->dst_hvid, "l0");
	CU_ASSERT_EQUAL(r->dst_domid, 5);
	CU_ASSERT_EQUAL(r->dst_port, 80);
	r = &cfg->rules[1];
	CU_ASSERT_TRUE(r->allow);
	CU_ASSERT_STRING_EQUAL(r->src_hvid, "");
	CU_ASSERT_EQUAL(r->src_domid, -1);
	CU_ASSERT_EQUAL(r->src_port, -1);
	CU_ASSERT_STRING_EQUAL(r->dst_hvid, "");
	CU_ASSERT_EQUAL(r->dst_domid, -1);
	CU_ASSERT_EQUAL(r->dst_port, 22);
	r = &cfg->rules[2];
	CU_ASSERT_FALSE(r->allow);
	CU_ASSERT_STRING_EQUAL(r->src_hvid, "");
	CU_ASSERT_STRING_EQUAL(r->dst_hvid, "");
	CU_ASSERT_EQUAL(r->src_domid, -1);
	CU_ASSERT_EQUAL(r->dst_port, -1);
	r = &cfg->rules[3];
	CU_ASSERT_TRUE(r->allow);
	CU_ASSERT_STRING_EQUAL(r->src_hvid, "");
	CU_ASSERT_EQUAL(r->src_domid, 4);
}

static void test_defaults(void)
{
	CU_ASSERT_EQUAL_FATAL(load(HEAD), 0);
	CU_ASSERT_EQUAL(cfg->queue_bytes, 8u * 1024 * 1024);
	CU_ASSERT_EQUAL(cfg->ring_len, 256u * 1024);
	CU_ASSERT_EQUAL(cfg->proxy_port_min, 0xF0000000u);
	CU_ASSERT_EQUAL(cfg->proxy_port_max, 0xF000FFFFu);
	CU_ASSERT_EQUAL(cfg->max_auth_failures, 5);
	CU_ASSERT_EQUAL(cfg->reset_backoff_ms, 30000);
	CU_ASSERT_EQUAL(cfg->reconnect_ms, 200);
	CU_ASSERT_EQUAL(cfg->ping_ms, 1000);
	CU_ASSERT_FALSE(cfg->default_allow);
	CU_ASSERT_EQUAL(cfg->nlinks, 0);
	CU_ASSERT_EQUAL(cfg->nroutes, 0);
	CU_ASSERT_EQUAL(cfg->nimports, 0);
	CU_ASSERT_EQUAL(cfg->nrules, 0);
	CU_ASSERT_STRING_EQUAL(cfg->state_dir, "");
	CU_ASSERT_STRING_EQUAL(cfg->user, "");
	CU_ASSERT_EQUAL(cfg->report_rate, 100);
	CU_ASSERT_EQUAL(cfg->control_mode, 0600);
	CU_ASSERT_EQUAL(cfg->control_group, -1);
	CU_ASSERT_EQUAL(cfg->state_sync, STATE_SYNC_NO);
}

/* The keys of issue 11: reports per destination, the control socket's
 * mode and group, writing the state through to the disk. */
static void test_reliability_keys(void)
{
	CU_ASSERT_EQUAL_FATAL(load(HEAD "report_rate = 0\ncontrol_mode = 0660\ncontrol_group = 100\n"
	                               "state_dir = /var/lib/argo\nstate_sync = yes\n"),
	                      0);
	CU_ASSERT_EQUAL(cfg->report_rate, 0);
	CU_ASSERT_EQUAL(cfg->control_mode, 0660);
	CU_ASSERT_EQUAL(cfg->control_group, 100);
	CU_ASSERT_EQUAL(cfg->state_sync, STATE_SYNC_BATCH);
	CU_ASSERT_EQUAL(load(HEAD "state_dir = /var/lib/argo\nstate_sync = each\n"), 0);
	CU_ASSERT_EQUAL(cfg->state_sync, STATE_SYNC_EACH);
	CU_ASSERT_EQUAL(load(HEAD "state_dir = /var/lib/argo\nstate_sync = batch\n"), 0);
	CU_ASSERT_EQUAL(cfg->state_sync, STATE_SYNC_BATCH);
	CU_ASSERT_EQUAL(load(HEAD "report_rate = 1000000\ncontrol_group = root\n"), 0);
	CU_ASSERT_EQUAL(cfg->report_rate, 1000000);
	CU_ASSERT_EQUAL(cfg->control_group, 0);
	EXPECT_ERROR(HEAD "report_rate = 1000001\n", 5, "report_rate must be a number from 0");
	EXPECT_ERROR(HEAD "control_mode = 0800\n", 5, "control_mode must be an octal file mode");
	EXPECT_ERROR(HEAD "control_mode = -1\n", 5, "control_mode must be an octal file mode");
	EXPECT_ERROR(HEAD "control_mode = 01000\n", 5, "control_mode must be an octal file mode");
	EXPECT_ERROR(HEAD "control_group = no-such-group-here\n", 5, "is no group");
	EXPECT_ERROR(HEAD "state_sync = maybe\n", 5, "state_sync must be no, yes (batch) or each");
	EXPECT_ERROR(HEAD "state_sync = yes\n", 5, "state_sync needs state_dir");
}

static void test_size_edges(void)
{
	CU_ASSERT_EQUAL(load(HEAD "queue_bytes = 64K\nring_len = 48\n"), 0);
	CU_ASSERT_EQUAL(cfg->queue_bytes, 65536);
	CU_ASSERT_EQUAL(cfg->ring_len, 48);
	CU_ASSERT_EQUAL(load(HEAD "queue_bytes = 4G\nring_len = 16777152\n"), 0);
	CU_ASSERT_EQUAL(cfg->queue_bytes, 4ull << 30);
	CU_ASSERT_EQUAL(cfg->ring_len, 16777152u);
	CU_ASSERT_EQUAL(load(HEAD "queue_bytes = 1048576\nring_len = 4k\n"), 0);
	CU_ASSERT_EQUAL(cfg->queue_bytes, 1048576);
	CU_ASSERT_EQUAL(cfg->ring_len, 4096);
	CU_ASSERT_EQUAL(load(HEAD "proxy_ports = 0x100-0x100\n"), 0);
	CU_ASSERT_EQUAL(cfg->proxy_port_min, 256);
	CU_ASSERT_EQUAL(cfg->proxy_port_max, 256);
	/* Hex and decimal, no octal: 010 is ten. */
	CU_ASSERT_EQUAL(load(HEAD "ping_ms = 0x100\nreconnect_ms = 010\n"), 0);
	CU_ASSERT_EQUAL(cfg->ping_ms, 256);
	CU_ASSERT_EQUAL(cfg->reconnect_ms, 10);
}

/* Every transport's address forms that the parser must take. */
static void test_good_addresses(void)
{
	static const char *const good[] = {
	    "transport = unix\nconnect = /run/x.sock",
	    "transport = unix\nlisten = rel/x.sock",
	    "transport = tcp\nconnect = 192.0.2.1:7000",
	    "transport = tcp\nconnect = relay-l0.example.org:7000",
	    "transport = tcp\nlisten = 0.0.0.0:65535",
	    "transport = tcp\nlisten = [::]:1",
	    "transport = serial\nconnect = /dev/virtio-ports/argo",
	    "transport = serial\nlisten = /run/qemu/l1-chardev.sock",
	    "transport = vsock\nconnect = 3:5000",
	    "transport = vsock\nconnect = host:5000",
	    "transport = vsock\nlisten = 5000",
	    "transport = vsock\nlisten = any:0x1388",
	    "transport = argo\nconnect = sim:/run/argo/l0-links.sock@0:7100",
	    "transport = argo\nconnect = xen:/dev/argo@0x7FEF:0xFFFFFFFF",
	    "transport = argo\nlisten = sim:/run/argo/l0-links.sock@7100",
	    "transport = argo\nlisten = xen:@7100",
	};
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc;

		snprintf(text, sizeof(text), HEAD "[link a]\n%s\npeer = l0\nkey = good.key\n",
		         good[i]);
		rc = load(text);
		if (rc != 0)
			fprintf(stderr, "\n    '%s': %s\n", good[i], why);
		CU_ASSERT_EQUAL(rc, 0);
	}
}

/* The examples of docs/relay-config.md (three relays, then the driver
 * domain as a leaf endpoint) load as written (the tests run from the top
 * of the source tree, as `make check` does). */
static void test_doc_example(void)
{
	static const char doc[] = "docs/relay-config.md";
	static const char *const hvids[] = {"l0", "l1", "l2", "l0"};
	char *text = NULL, *p, *end;
	size_t cap = 0;
	ssize_t n;
	unsigned int found = 0;
	FILE *f = fopen(doc, "re");

	if (!f)
		fprintf(stderr, "\n    cannot open %s from %s: run from the source tree\n", doc,
		        getcwd(why, sizeof(why)) ? why : "?");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL_FATAL(make_key("l1-l0.key", 32, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(make_key("l2-l1.key", 48, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(make_key_seeded("dd.key", 32, 0600, 3), 0);
	for (p = strstr(text, "```ini\n"); p; p = strstr(end, "```ini\n")) {
		p += strlen("```ini\n");
		end = strstr(p, "```\n");
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		*end++ = '\0';
		if (load(p) != 0)
			fprintf(stderr, "\n    example %u: %s\n", found, why);
		CU_ASSERT_EQUAL(load(p), 0);
		if (found < 4)
			CU_ASSERT_STRING_EQUAL(cfg->hvid, hvids[found]);
		if (found == 2) {
			/* l2: vsock up to the host, an import to the driver. */
			CU_ASSERT_EQUAL(cfg->nlinks, 1);
			CU_ASSERT_EQUAL(cfg->links[0].transport, TRANSPORT_VSOCK);
			CU_ASSERT_STRING_EQUAL(cfg->links[0].address, "host:5000");
			CU_ASSERT_EQUAL(cfg->links[0].psk.len, 48);
			CU_ASSERT_EQUAL(cfg->nimports, 1);
			CU_ASSERT_EQUAL(cfg->imports[0].port, 7000);
			CU_ASSERT_EQUAL(cfg->imports[0].target.domid, 5);
			CU_ASSERT_EQUAL(cfg->nrules, 2);
		}
		if (found == 3) {
			/* The driver domain as a leaf endpoint. */
			CU_ASSERT_EQUAL(cfg->nlinks, 1);
			CU_ASSERT_EQUAL(cfg->links[0].transport, TRANSPORT_SERIAL);
			CU_ASSERT_STRING_EQUAL(cfg->links[0].leaf, "sim:/run/argo/l0-dom5.sock");
		}
		found++;
	}
	CU_ASSERT_EQUAL(found, 4);
	free(text);
}

/* ---------------------------------------------------------------------------
 * Errors
 */

/* A leaf endpoint's link (leaf =): lines 5 to 10. */
#define LEAF_LINK(name, leaf_value)                                                                \
	"[link " name "]\n"                                                                        \
	"transport = serial\n"                                                                     \
	"connect = /dev/virtio-ports/" name "\n"                                                   \
	"peer = " name "\n"                                                                        \
	"key = good.key\n"                                                                         \
	"leaf = " leaf_value "\n"

static void test_leaf_links(void)
{
	CU_ASSERT_EQUAL(load(HEAD LEAF_LINK("dd", "sim:/run/argo/l1-dom7.sock")), 0);
	CU_ASSERT_STRING_EQUAL(cfg->links[0].leaf, "sim:/run/argo/l1-dom7.sock");
	CU_ASSERT_EQUAL(load(HEAD LINK("a", "listen = /tmp/a.sock")), 0);
	CU_ASSERT_STRING_EQUAL(cfg->links[0].leaf, "");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "xen:/dev/argo"), 10,
	             "on a xen fabric the relay cannot make a domain");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "link:unix:/x?key=k&hvid=l0"), 10,
	             "a static socket of the level's argo-simd");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "sim:"), 10, "sim:PATH");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "sim:/run/argo/l1.sock"), 10, "this relay's own fabric");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "sim:/run/x.sock") LEAF_LINK("ee", "sim:/run/x.sock"), 16,
	             "one domain per leaf");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "sim:/run/x.sock") "[routes]\nl9 = dd\n", 12,
	             "serves a leaf endpoint");
	EXPECT_ERROR(HEAD "[link dd]\ntransport = argo\nconnect = sim:/x@1:7100\npeer = dd\n"
	                  "key = good.key\nleaf = sim:/run/x.sock\n",
	             6, "reaches its relay over unix, tcp, serial or vsock");
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "sim:/run/x.sock") "leaf = sim:/run/y.sock\n", 11,
	             "given twice");
	/* A leaf announces nothing and speaks only for its own domain. */
	EXPECT_ERROR(HEAD LEAF_LINK("dd", "sim:/run/x.sock") "announce = l5\n", 11,
	             "announce has no place here");
	/* A relay on Xen: its level cannot give it a domain for a leaf. */
	EXPECT_ERROR(
	    "[relay]\nhvid = l1\nfabric = xen:/dev/argo\ncontrol = /run/l1.ctl\n" LEAF_LINK(
	        "dd", "sim:/run/x.sock"),
	    10, "Xen makes domains");
}

static void test_error_unknown_section(void)
{
	EXPECT_ERROR(HEAD "[relays]\nx = 1\n", 5, "unknown section [relays]");
	EXPECT_ERROR("[relay]\nhvid = l1\n[link]\n", 3, "[link NAME]");
	EXPECT_ERROR(HEAD "[policy] junk\n", 5, "after the section header");
}

static void test_error_unknown_key(void)
{
	EXPECT_ERROR(HEAD "colour = blue\n", 5, "unknown key 'colour' in [relay]");
	EXPECT_ERROR(HEAD LINK("a", "listen = /tmp/a.sock") "speed = 9600\n", 10,
	             "unknown key 'speed' in [link a]");
	EXPECT_ERROR(HEAD "[policy]\nfallback = allow\n", 6, "unknown key 'fallback' in [policy]");
	EXPECT_ERROR("hvid = l1\n[relay]\n", 1, "outside any section");
}

static void test_error_missing_required(void)
{
	EXPECT_ERROR("[relay]\nfabric = sim:/x\ncontrol = /x.ctl\n", 0,
	             "missing required key 'hvid' in [relay]");
	EXPECT_ERROR("[relay]\nhvid = l1\ncontrol = /x.ctl\n", 0,
	             "missing required key 'fabric' in [relay]");
	EXPECT_ERROR("[relay]\nhvid = l1\nfabric = sim:/x\n", 0,
	             "missing required key 'control' in [relay]");
	EXPECT_ERROR("; nothing\n", 0, "missing section [relay]");
	/* In a link: reported at the link's section line. */
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a.sock\nkey = good.key\n", 5,
	             "[link a]: missing required key 'peer'");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a.sock\npeer = l0\n[routes]\n", 5,
	             "missing required key 'key'");
	EXPECT_ERROR(HEAD "[link a]\nlisten = /a.sock\npeer = l0\nkey = good.key\n", 5,
	             "missing required key 'transport'");
	/* An empty link section, then another section. */
	EXPECT_ERROR(HEAD "[link a]\n[policy]\n", 5, "[link a]: missing required key");
}

static void test_error_duplicates(void)
{
	EXPECT_ERROR(HEAD LINK("a", "listen = /a.sock") LINK("a", "listen = /b.sock"), 10,
	             "duplicate link name 'a'");
	EXPECT_ERROR(HEAD "hvid = l2\n", 5, "'hvid' given twice");
	EXPECT_ERROR(HEAD "[relay]\n", 5, "[relay] given twice");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\ntransport = tcp\n", 7,
	             "'transport' given twice");
	EXPECT_ERROR(HEAD "[policy]\ndefault = deny\ndefault = allow\n", 7,
	             "'default' given twice");
	EXPECT_ERROR(HEAD LINK("a", "listen = /a.sock") LINK("b", "listen = /a.sock"), 12,
	             "same address as [link a]");
}

static void test_error_bad_names(void)
{
	EXPECT_ERROR("[relay]\nhvid = l1!\n", 2, "not a valid hvid");
	EXPECT_ERROR("[relay]\nhvid = sixteen-chars-xx\n", 2, "not a valid hvid");
	EXPECT_ERROR("[relay]\nhvid =\n", 2, "not a valid hvid");
	EXPECT_ERROR(HEAD "[link a/b]\n", 5, "[link NAME]");
	EXPECT_ERROR(HEAD "[link abcdefghijklmnopqrstuvwxyz012345]\n", 5, "[link NAME]");
	EXPECT_ERROR(HEAD "[link a]\npeer = l 0\n", 6, "peer 'l 0' is not a valid hvid");
	EXPECT_ERROR(HEAD "user = -x\n", 5, "user must be");
	EXPECT_ERROR(HEAD "fabric2 = x\n", 5, "unknown key");
	EXPECT_ERROR("[relay]\nfabric = /run/argo/l1.sock\n", 2, "libargo URI");
}

static void test_error_sizes(void)
{
	EXPECT_ERROR(HEAD "queue_bytes = 8X\n", 5, "queue_bytes '8X' is not a size");
	EXPECT_ERROR(HEAD "queue_bytes = 8MB\n", 5, "not a size");
	EXPECT_ERROR(HEAD "queue_bytes = -8M\n", 5, "not a size");
	EXPECT_ERROR(HEAD "queue_bytes = 32K\n", 5, "from 64K to 4G");
	EXPECT_ERROR(HEAD "queue_bytes = 5G\n", 5, "from 64K to 4G");
	EXPECT_ERROR(HEAD "queue_bytes = 99999999999999999999G\n", 5, "not a size");
	EXPECT_ERROR(HEAD "ring_len = 1000\n", 5, "ring_len must be a valid Argo ring length");
	EXPECT_ERROR(HEAD "ring_len = 32\n", 5, "multiple of 16 from 48");
	EXPECT_ERROR(HEAD "ring_len = 16M\n", 5, "16M - 64");
	EXPECT_ERROR(HEAD "ring_len = 8G\n", 5, "valid Argo ring length");
}

static void test_error_numbers(void)
{
	EXPECT_ERROR(HEAD "proxy_ports = 61000-60000\n", 5, "inverted");
	EXPECT_ERROR(HEAD "proxy_ports = 60000\n", 5, "MIN-MAX");
	EXPECT_ERROR(HEAD "proxy_ports = 1-0x100000000\n", 5, "below 2^32");
	EXPECT_ERROR(HEAD "max_auth_failures = 0\n", 5, "max_auth_failures must be");
	EXPECT_ERROR(HEAD "ping_ms = fast\n", 5, "ping_ms must be a number");
	EXPECT_ERROR(HEAD "ping_ms = 0x0x100\n", 5, "ping_ms must be a number");
	EXPECT_ERROR(HEAD "ping_ms = 0x\n", 5, "ping_ms must be a number");
	EXPECT_ERROR(HEAD "ping_ms = 1 000\n", 5, "ping_ms must be a number");
	EXPECT_ERROR(HEAD "reconnect_ms = 1\n", 5, "reconnect_ms must be");
	EXPECT_ERROR(HEAD "reset_backoff_ms = 99999999999\n", 5, "reset_backoff_ms must be");
	EXPECT_ERROR(
	    "[relay]\ncontrol = "
	    "/run/argo-relay/a-very-long-folder-name-that-goes-on-and-on/and-on-and-on-and-on/"
	    "and-on-and-on-and-on/l1-control-socket.ctl\n",
	    2, "control must be a socket path");
}

static void test_error_transport(void)
{
	EXPECT_ERROR(HEAD "[link a]\ntransport = udp\n", 6,
	             "transport must be one of unix, tcp, serial, vsock, argo");
}

static void test_error_listen_connect(void)
{
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a.sock\nconnect = /b.sock\n", 8,
	             "both listen and connect");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nconnect = /a.sock\nlisten = /b.sock\n", 8,
	             "both listen and connect");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\npeer = l0\nkey = good.key\n", 5,
	             "'listen' or 'connect'");
}

/* Each address is checked once the link's section ends, at its own line,
 * whatever the order of transport and address in the section. */
static void test_error_addresses(void)
{
	static const struct {
		const char *lines, *needle;
	} bad[] = {
	    {"transport = unix\nlisten = "
	     "/tmp/0123456789012345678901234567890123456789012345678901234567890123456789/"
	     "0123456789012345678901234567890123456789.sock",
	     "107 bytes"},
	    {"transport = tcp\nconnect = 192.0.2.1", "port is missing"},
	    {"transport = tcp\nconnect = 192.0.2.1:70000", "1 to 65535"},
	    {"transport = tcp\nconnect = 192.0.2.1:0", "1 to 65535"},
	    {"transport = tcp\nconnect = 192.0.2.1:http", "1 to 65535"},
	    {"transport = tcp\nconnect = ::1:7000", "brackets"},
	    {"transport = tcp\nconnect = [::1]7000", "[IPV6]:PORT"},
	    {"transport = tcp\nconnect = [l0]:7000", "not an IPv6 address"},
	    {"transport = tcp\nconnect = 300.1.1.1:7000", "not a valid IPv4"},
	    {"transport = tcp\nconnect = bad_host!:7000", "outside"},
	    {"transport = tcp\nlisten = :7000", "needs a host"},
	    {"transport = vsock\nconnect = 5000", "connecting needs CID:PORT"},
	    {"transport = vsock\nconnect = any:5000", "connecting needs CID:PORT"},
	    {"transport = vsock\nlisten = guest:5000", "vsock CID"},
	    {"transport = vsock\nlisten = 3:4294967295", "vsock port"},
	    {"transport = vsock\nlisten = 3:", "vsock port"},
	    {"transport = argo\nconnect = sim:/l.sock@7100",
	     "connecting needs FABRIC_URI@DOMID:PORT"},
	    {"transport = argo\nlisten = sim:/l.sock@0:7100", "listening takes FABRIC_URI@PORT"},
	    {"transport = argo\nconnect = /l.sock@0:7100", "libargo URI"},
	    {"transport = argo\nconnect = sim:/l.sock", "FABRIC_URI@DOMID:PORT"},
	    {"transport = argo\nconnect = sim:/l.sock@32752:7100", "domid is a number below"},
	    {"transport = argo\nlisten = sim:/l.sock@4294967296", "argo port"},
	    {"transport = serial\nconnect = "
	     "/dev/virtio-ports/0123456789012345678901234567890123456789012345678901234567890123456"
	     "789012345678901234567890123456789",
	     "107 bytes"},
	};
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* transport first: address on line 7 */
		snprintf(text, sizeof(text), HEAD "[link a]\n%s\npeer = l0\nkey = good.key\n",
		         bad[i].lines);
		expect_error_at(text, 7, bad[i].needle, __LINE__ * 1000 + (int)i);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "address"));
	}
	/* address before transport: still the address's line */
	EXPECT_ERROR(HEAD "[link a]\nconnect = 192.0.2.1\ntransport = tcp\npeer = l0\nkey = "
	                  "good.key\n",
	             6, "bad connect address '192.0.2.1' for tcp");
}

static void test_error_routes(void)
{
	/* The route comes first; the error names its line, found at the end. */
	EXPECT_ERROR(HEAD "[routes]\nl0 = up\nl9 = nowhere\n" LINK("up", "connect = /u.sock"), 7,
	             "no link named 'nowhere'");
	EXPECT_ERROR(HEAD "[routes]\nl0! = up\n", 6, "not a valid hvid");
	EXPECT_ERROR(HEAD "[routes]\nl0 = up/2\n", 6, "not a link name");
	EXPECT_ERROR(HEAD LINK("up", "connect = /u.sock") "[routes]\nl0 = up\nl0 = up\n", 12,
	             "second route to l0");
	EXPECT_ERROR(HEAD LINK("up", "connect = /u.sock") "[routes]\nl1 = up\n", 11, "own hvid");
	EXPECT_ERROR(HEAD "[link up]\ntransport = unix\nconnect = /u\npeer = l1\nkey = good.key\n",
	             8, "peer l1 is this relay's own hvid");
}

static void test_error_imports(void)
{
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5\n", 6, "HVID:DOMID:PORT");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:80:1\n", 6, "HVID:DOMID:PORT");
	EXPECT_ERROR(HEAD "[imports]\n7000 =\n", 6, "HVID:DOMID:PORT");
	EXPECT_ERROR(HEAD "[imports]\nseven = l0:5:80\n", 6, "import port 'seven'");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:32752:80\n", 6, "target domid '32752'");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:eighty\n", 6, "target port 'eighty'");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0!:5:80\n", 6, "not a valid hvid");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:80 form 3\n", 6, "'from DOMID'");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:80 from\n", 6, "'from DOMID'");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:80 from x\n", 6, "'from x' is not a domid");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:80 from 3 extra\n", 6, "unexpected text");
	EXPECT_ERROR(HEAD "[imports]\n7000 = l0:5:80\n7000 = l0:5:81\n", 7, "given twice");
	EXPECT_ERROR(HEAD "proxy_ports = 7000-7999\n[imports]\n7100 = l0:5:80\n", 7,
	             "inside proxy_ports");
}

static void test_error_policy(void)
{
	EXPECT_ERROR(HEAD "[policy]\ndefault = maybe\n", 6, "allow or deny");
	EXPECT_ERROR(HEAD "[policy]\nrule = permit src l0\n", 6, "starts with allow or deny");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow from l0\n", 6, "expected 'src' or 'dst'");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow src\n", 6, "'src' needs");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow src l0 src l1\n", 6, "'src' given twice");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow dst l0!\n", 6, "dst: the hvid is not valid");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow dst l0:x\n", 6, "the domid is not a domid");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow dst l0:1:-5\n", 6, "the port is not");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow dst l0:1:2:3\n", 6, "HVID[:DOMID[:PORT]]");
	EXPECT_ERROR(HEAD "[policy]\nrule = allow src l0::5\n", 6, "the domid");
}

static void test_error_key_files(void)
{
	char text[512];

	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = open.key\n", 9,
	             "mode 0644");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = group.key\n",
	             9, "mode 0640");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = short.key\n",
	             9, "a key must be 32 to 1024 bytes");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = long.key\n", 9,
	             "a key must be 32 to 1024 bytes");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = none.key\n", 9,
	             "does not exist");
	EXPECT_ERROR(HEAD "[link a]\nkey =\n", 6, "path of a key file");
	/* A passphrase is no key: refused with how to make one. */
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = text.key\n", 9,
	             "is text");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = text.key\n", 9,
	             "head -c 32 /dev/urandom");
	/* One key per link: the same file, or a copy of its bytes, twice. */
	EXPECT_ERROR(HEAD LINK("a", "listen = /a") LINK("b", "listen = /b"), 14, "key file");
	EXPECT_ERROR(HEAD LINK("a", "listen = /a") LINK("b", "listen = /b"), 14,
	             "is also the key of [link a] (line 9)");
	CU_ASSERT_EQUAL_FATAL(make_key("same.key", 32, 0600), 0); /* good.key's bytes */
	EXPECT_ERROR(HEAD LINK("a", "listen = /a") "[link b]\ntransport = unix\nlisten = /b\n"
	                                           "peer = l3\nkey = same.key\n",
	             14, "give each link its own key");

	/* Wrong owner: the relay runs as another uid than the file's owner. */
	snprintf(text, sizeof(text), "%s%s", HEAD,
	         "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = good.key\n");
	CU_ASSERT(load_as(text, geteuid() + 1) < 0);
	CU_ASSERT_EQUAL(strncmp(why, conf_path, strlen(conf_path)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, ":9: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "owned by uid"));

	/* Two links, two keys: fine. */
	CU_ASSERT_EQUAL(
	    load(HEAD LINK("a", "listen = /a") "[link b]\ntransport = unix\n"
	                                       "listen = /b\npeer = l3\nkey = good3.key\n"),
	    0);

	/* An absolute path works as well as one relative to the file. */
	snprintf(text, sizeof(text),
	         HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = %s/good.key\n",
	         dir);
	CU_ASSERT_EQUAL(load(text), 0);
}

static void test_announce(void)
{
	const struct config_link *l;

	CU_ASSERT_EQUAL_FATAL(load(HEAD LINK("a", "listen = /a") "announce = l2 kvm-a,l3\n"), 0);
	l = &cfg->links[0];
	CU_ASSERT_EQUAL(l->nannounce, 3);
	CU_ASSERT_STRING_EQUAL(l->announce[0], "l2");
	CU_ASSERT_STRING_EQUAL(l->announce[1], "kvm-a");
	CU_ASSERT_STRING_EQUAL(l->announce[2], "l3");
	CU_ASSERT_FALSE(l->announce_any);
	CU_ASSERT_EQUAL_FATAL(load(HEAD LINK("a", "listen = /a") "announce = *\n"), 0);
	CU_ASSERT_TRUE(cfg->links[0].announce_any);
	CU_ASSERT_EQUAL(cfg->links[0].nannounce, 0);
	/* None given: the peer only. */
	CU_ASSERT_EQUAL_FATAL(load(HEAD LINK("a", "listen = /a")), 0);
	CU_ASSERT_FALSE(cfg->links[0].announce_any);
	CU_ASSERT_EQUAL(cfg->links[0].nannounce, 0);
	EXPECT_ERROR(HEAD LINK("a", "listen = /a") "announce = l2 bad/hvid\n", 10,
	             "'bad/hvid' is not a valid hvid");
	EXPECT_ERROR(HEAD LINK("a", "listen = /a") "announce = * l2\n", 10, "either '*' or a list");
	EXPECT_ERROR(HEAD LINK("a", "listen = /a") "announce =\n", 10, "announce takes");
}

static void test_certificates(void)
{
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\n", 5,
	             "missing required key 'key'");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\ncert = c.pem\n", 5,
	             "'cert_key' is missing");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\nkey = good.key\n"
	                  "ca = ca.pem\n",
	             10, "both a key (line 9) and certificates");
	/* The certificate's key file is private like a key file. */
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\ncert = c.pem\n"
	                  "cert_key = open.key\nca = ca.pem\n",
	             10, "certificate key file");
	EXPECT_ERROR(HEAD "[link a]\ntransport = unix\nlisten = /a\npeer = l0\ncert = c.pem\n"
	                  "cert_key = good.key\nca = ca.pem\n",
	             9, "certificate file");
}

static void test_error_syntax(void)
{
	EXPECT_ERROR(HEAD "hvid\n", 5, "syntax error");
	EXPECT_ERROR(HEAD "[policy\n", 5, "syntax error");
	/* A line longer than libinih's buffer is refused, not split. */
	{
		char text[1024];
		char pad[400];

		memset(pad, 'a', sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = '\0';
		snprintf(text, sizeof(text), HEAD "state_dir = /%s\n", pad);
		EXPECT_ERROR(text, 5, "line longer than");
	}
	/* A NUL byte inside a line is refused, not cut short. */
	{
		static const char text[] = HEAD "state_dir = /a\0/b\n";
		char prefix[256];

		CU_ASSERT_EQUAL_FATAL(write_file("relay.conf", text, sizeof(text) - 1, 0600), 0);
		CU_ASSERT(config_load(conf_path, geteuid(), cfg, why, sizeof(why)) < 0);
		snprintf(prefix, sizeof(prefix), "%s:5: ", conf_path);
		CU_ASSERT_EQUAL(strncmp(why, prefix, strlen(prefix)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "NUL"));
	}
}

/* Only the first problem is reported, whatever comes after it. */
static void test_first_error_wins(void)
{
	EXPECT_ERROR(HEAD "colour = blue\nqueue_bytes = 1X\n", 5, "colour");
	EXPECT_ERROR(HEAD "nonsense\nqueue_bytes = 1X\n", 5, "syntax error");
	EXPECT_ERROR(HEAD "queue_bytes = 1X\nnonsense\n", 5, "queue_bytes");
	EXPECT_ERROR(HEAD "[link a]\ntransport = udp\n[bogus]\n", 6, "transport must be");
	EXPECT_ERROR(HEAD "[bogus]\n[link a]\ntransport = udp\n", 5, "unknown section");
	EXPECT_ERROR("[relay]\nhvid = l1!\n", 2, "hvid"); /* not "missing control" */
}

static void test_cannot_open(void)
{
	char missing[256];

	snprintf(missing, sizeof(missing), "%s/none.conf", dir);
	CU_ASSERT(config_load(missing, geteuid(), cfg, why, sizeof(why)) < 0);
	CU_ASSERT_EQUAL(strncmp(why, missing, strlen(missing)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, ": cannot open"));
}

static void test_comments_and_blanks(void)
{
	static const char text[] = "# comment\n"
	                           "\n"
	                           "   [relay]   ; trailing comment\n"
	                           "\thvid = l1 ; comment\n"
	                           "fabric = sim:/run/a;b.sock\n" /* no blank: not a comment */
	                           "control = /c.ctl\r\n";

	CU_ASSERT_EQUAL_FATAL(load(text), 0);
	CU_ASSERT_STRING_EQUAL(cfg->hvid, "l1");
	CU_ASSERT_STRING_EQUAL(cfg->fabric, "sim:/run/a;b.sock");
	CU_ASSERT_STRING_EQUAL(cfg->control, "/c.ctl");
}

static void test_transport_name(void)
{
	CU_ASSERT_STRING_EQUAL(transport_name(TRANSPORT_UNIX), "unix");
	CU_ASSERT_STRING_EQUAL(transport_name(TRANSPORT_TCP), "tcp");
	CU_ASSERT_STRING_EQUAL(transport_name(TRANSPORT_SERIAL), "serial");
	CU_ASSERT_STRING_EQUAL(transport_name(TRANSPORT_VSOCK), "vsock");
	CU_ASSERT_STRING_EQUAL(transport_name(TRANSPORT_ARGO), "argo");
}

/* ---------------------------------------------------------------------------
 * Policy
 */

static struct wire_gaddr ga(const char *hvid, argo_domid_t domid, uint32_t port)
{
	struct wire_gaddr a;

	memset(&a, 0, sizeof(a));
	memcpy(a.hvid, hvid, strlen(hvid));
	a.domid = domid;
	a.port = port;
	return a;
}

static bool allows(struct wire_gaddr s, struct wire_gaddr d)
{
	return config_policy_allows(cfg, &s, &d);
}

static void test_policy_default(void)
{
	CU_ASSERT_EQUAL_FATAL(load(HEAD), 0);
	CU_ASSERT_FALSE(allows(ga("l1", 1, 1), ga("l0", 0, 80)));
	CU_ASSERT_EQUAL_FATAL(load(HEAD "[policy]\ndefault = allow\n"), 0);
	CU_ASSERT_TRUE(allows(ga("l1", 1, 1), ga("l0", 0, 80)));
	CU_ASSERT_EQUAL_FATAL(load(HEAD "[policy]\ndefault = deny\n"), 0);
	CU_ASSERT_FALSE(allows(ga("l1", 1, 1), ga("l0", 0, 80)));
}

static void test_policy_first_match(void)
{
	static const char text[] = HEAD "[policy]\n"
	                                "default = deny\n"
	                                "rule = deny src l2:7\n"
	                                "rule = allow src l2 dst l0:5:80\n"
	                                "rule = allow dst *:*:22\n"
	                                "rule = deny dst kvm-a\n"
	                                "rule = allow src *:4\n"
	                                "rule = allow dst kvm-a:3\n";

	CU_ASSERT_EQUAL_FATAL(load(text), 0);
	/* rule 1 first, even though rule 2 also matches */
	CU_ASSERT_FALSE(allows(ga("l2", 7, 1), ga("l0", 5, 80)));
	/* rule 2 */
	CU_ASSERT_TRUE(allows(ga("l2", 8, 1), ga("l0", 5, 80)));
	CU_ASSERT_FALSE(allows(ga("l2", 8, 1), ga("l0", 5, 81)));
	CU_ASSERT_FALSE(allows(ga("l2", 8, 1), ga("l0", 6, 80)));
	CU_ASSERT_FALSE(allows(ga("l3", 8, 1), ga("l0", 5, 80)));
	/* rule 3: port wildcard fields */
	CU_ASSERT_TRUE(allows(ga("l3", 9, 9), ga("x", 100, 22)));
	/* rule 4 before rule 5 and 6 */
	CU_ASSERT_FALSE(allows(ga("l1", 4, 1), ga("kvm-a", 3, 1)));
	/* rule 5: src domid 4 on any hvid */
	CU_ASSERT_TRUE(allows(ga("l9", 4, 1), ga("l0", 1, 1)));
	/* nothing: default */
	CU_ASSERT_FALSE(allows(ga("l9", 5, 1), ga("l0", 1, 1)));
	/* hvids compare whole, not as prefixes */
	CU_ASSERT_FALSE(allows(ga("l2x", 8, 1), ga("l0", 5, 80)));
	CU_ASSERT_TRUE(allows(ga("l2", 8, 1), ga("l0", 5, 80)));
}

static void test_policy_catch_all(void)
{
	CU_ASSERT_EQUAL_FATAL(load(HEAD "[policy]\ndefault = allow\nrule = deny\n"
	                                "rule = allow src l0\n"),
	                      0);
	CU_ASSERT_FALSE(allows(ga("l0", 1, 1), ga("l1", 1, 1)));
	CU_ASSERT_EQUAL_FATAL(load(HEAD "[policy]\nrule = allow src *:*:* dst *\n"), 0);
	CU_ASSERT_TRUE(allows(ga("l0", 1, 1), ga("l1", 1, 1)));
}

/* ---------------------------------------------------------------------------
 */

static int suite_init(void)
{
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/test-relay-config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/relay.conf", dir);
	if (make_key("good.key", 32, 0600) || make_key("good2.key", 64, 0400) ||
	    make_key("open.key", 32, 0644) || make_key("group.key", 32, 0640) ||
	    make_key("short.key", 31, 0600) || make_key("long.key", 1025, 0600) ||
	    make_key_seeded("good3.key", 32, 0600, 3) ||
	    make_key_seeded("good4.key", 40, 0600, 4) ||
	    write_file("text.key", "a passphrase that is long enough to pass", 40, 0600))
		return -1;
	return 0;
}

static int suite_clean(void)
{
	static const char *const files[] = {"good.key",  "good2.key", "open.key",   "group.key",
	                                    "short.key", "long.key",  "good3.key",  "good4.key",
	                                    "text.key",  "same.key",  "relay.conf", "l1-l0.key",
	                                    "l2-l1.key", "dd.key"};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	free(cfg);
	return 0;
}

/* --check-config --syntax-only: the file alone; key files are not read
 * (a missing one is no error), the psk stays empty. */
static void test_syntax_only(void)
{
	const char *text = HEAD LINK("up", "connect = /u.sock") "[link far]\ntransport = unix\n"
	                                                        "connect = /f.sock\npeer = l9\n"
	                                                        "key = no-such.key\n";

	CU_ASSERT(load(text) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "no-such.key"));
	why[0] = '\0';
	CU_ASSERT_EQUAL(
	    config_load_flags(conf_path, geteuid(), CONFIG_SYNTAX_ONLY, cfg, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(cfg->nlinks, 2);
	CU_ASSERT_EQUAL(cfg->links[1].psk.len, 0);
	/* Syntax errors are still errors. */
	text = HEAD "[link x]\ntransport = carrier-pigeon\n";
	CU_ASSERT(write_file("relay.conf", text, strlen(text), 0600) == 0);
	CU_ASSERT(
	    config_load_flags(conf_path, geteuid(), CONFIG_SYNTAX_ONLY, cfg, why, sizeof(why)) < 0);
}

static unsigned int warned;
static char warned_text[4][400];

static void collect(void *ctx, const char *text)
{
	(void)ctx;
	if (warned < 4)
		snprintf(warned_text[warned], sizeof(warned_text[0]), "%s", text);
	warned++;
}

/* What is valid but probably not meant. */
static void test_warnings(void)
{
	CU_ASSERT_EQUAL_FATAL(load(HEAD), 0);
	warned = 0;
	CU_ASSERT_EQUAL(config_warnings(cfg, 1000, collect, NULL), 2);
	CU_ASSERT_EQUAL(warned, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(warned_text[0], "[policy] allows nothing"));
	CU_ASSERT_PTR_NOT_NULL(strstr(warned_text[1], "no state_dir"));
	warned = 0;
	CU_ASSERT_EQUAL(config_warnings(cfg, 0, collect, NULL), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(warned_text[2], "no user"));
	/* A rule that allows something, a state_dir, a user: nothing to say. */
	CU_ASSERT_EQUAL_FATAL(load(HEAD "state_dir = /var/lib/argo-relay/l1\nuser = nobody\n"
	                                "[policy]\nrule = allow src l1 dst l0:5:80\n"),
	                      0);
	warned = 0;
	CU_ASSERT_EQUAL(config_warnings(cfg, 0, collect, NULL), 0);
	/* default = allow is no warning either. */
	CU_ASSERT_EQUAL_FATAL(load(HEAD "state_dir = /x\n[policy]\ndefault = allow\n"), 0);
	CU_ASSERT_EQUAL(config_warnings(cfg, 1000, collect, NULL), 0);
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_full_round_trip),
	    T(test_defaults),
	    T(test_reliability_keys),
	    T(test_size_edges),
	    T(test_good_addresses),
	    T(test_comments_and_blanks),
	    T(test_doc_example),
	    T(test_transport_name),
	    T(test_error_unknown_section),
	    T(test_error_unknown_key),
	    T(test_error_missing_required),
	    T(test_error_duplicates),
	    T(test_error_bad_names),
	    T(test_error_sizes),
	    T(test_error_numbers),
	    T(test_error_transport),
	    T(test_error_listen_connect),
	    T(test_error_addresses),
	    T(test_error_routes),
	    T(test_error_imports),
	    T(test_error_policy),
	    T(test_error_key_files),
	    T(test_error_syntax),
	    T(test_first_error_wins),
	    T(test_cannot_open),
	    T(test_policy_default),
	    T(test_policy_first_match),
	    T(test_policy_catch_all),
	    T(test_announce),
	    T(test_certificates),
	    T(test_leaf_links),
	    T(test_syntax_only),
	    T(test_warnings),
	};
	static const struct suite_def suites[] = {
	    {"relay config", tests, N(tests), suite_init, suite_clean, NULL, NULL},
	};

	return cunit_main(suites, N(suites));
}
