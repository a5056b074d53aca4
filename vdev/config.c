/* SPDX-License-Identifier: MIT */
/*
 * argo-vdevd's configuration file (docs/virtio-argo.md, "Configuration"),
 * read with libinih as argo-relayd's is: our own line reader counts lines
 * (so every problem names its line), sees every section header (so a
 * section is checked when it ends, even an empty one), strips leading
 * blanks and refuses lines longer than inih's buffer instead of letting it
 * split them. The first problem is kept and stops the reading.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argo/ring.h"
#include "vdev.h"

#define KiB            1024ull
#define MiB            (1024ull * KiB)
#define MAX_RING_LEN   (XEN_ARGO_MAX_RING_SIZE - sizeof(struct xen_argo_ring))
#define LINE_MAX_BYTES 198 /* libinih's buffer, less its newline and NUL */

enum section { SEC_NONE, SEC_VDEVD, SEC_DEVICE };

struct parser {
	struct vdev_config *cfg;
	const char *path;
	FILE *file;
	unsigned int line;
	enum section section;
	bool vdevd_seen;
	unsigned int dev_lines[8]; /* type, number, socket, frontend: where given */
	bool failed;
	char *err;
	size_t errsz;
};

static void fail(struct parser *p, unsigned int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parser *p, unsigned int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(p->err, p->errsz, "%s:%u: %s", p->path, line, msg);
	else
		snprintf(p->err, p->errsz, "%s: %s", p->path, msg);
}

/* A number: decimal or 0x hex, no sign, no octal. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

/* A size: a decimal number with an optional K or M suffix (binary). */
static bool parse_size(const char *s, uint64_t *v)
{
	char buf[32], *end;
	size_t n = strlen(s);
	uint64_t mul = 1;

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == 'K' || buf[n - 1] == 'M') {
		mul = buf[n - 1] == 'K' ? KiB : MiB;
		buf[--n] = 0;
	}
	if (!n || buf[0] < '0' || buf[0] > '9')
		return false;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || *end || *v > UINT32_MAX / mul)
		return false;
	*v *= mul;
	return true;
}

static bool range(struct parser *p, const char *key, const char *value, uint64_t min, uint64_t max,
                  bool size, uint64_t *out)
{
	uint64_t v;

	if (!(size ? parse_size(value, &v) : parse_u64(value, &v))) {
		fail(p, p->line, "%s: '%s' is not a %s", key, value, size ? "size" : "number");
		return false;
	}
	if (v < min || v > max) {
		fail(p, p->line, "%s must be %llu to %llu (got %llu)", key, (unsigned long long)min,
		     (unsigned long long)max, (unsigned long long)v);
		return false;
	}
	*out = v;
	return true;
}

static bool ring_len_ok(struct parser *p, const char *key, uint64_t v)
{
	if (!argo_ring_len_valid((uint32_t)v) || v > MAX_RING_LEN || v < 4096) {
		fail(p, p->line,
		     "%s must be a multiple of 16 from 4096 to %llu (an Argo ring length)", key,
		     (unsigned long long)MAX_RING_LEN);
		return false;
	}
	return true;
}

static bool copy_str(struct parser *p, const char *key, const char *value, char *dst, size_t size)
{
	size_t n = strlen(value);

	if (!n || n >= size) {
		fail(p, p->line, "%s must be 1 to %zu bytes", key, size - 1);
		return false;
	}
	memcpy(dst, value, n + 1);
	return true;
}

static bool parse_uuid(const char *s, uint8_t out[16])
{
	unsigned int i, j = 0;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		hi = s[i] >= 'a' ? s[i] - 'a' + 10 : s[i] >= 'A' ? s[i] - 'A' + 10 : s[i] - '0';
		lo = s[i + 1] >= 'a'   ? s[i + 1] - 'a' + 10
		     : s[i + 1] >= 'A' ? s[i + 1] - 'A' + 10
		                       : s[i + 1] - '0';
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
			return false;
		out[j++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return j == 16;
}

static void vdevd_key(struct parser *p, const char *key, const char *value)
{
	struct vdev_config *c = p->cfg;
	uint64_t v;

	if (!strcmp(key, "fabric"))
		copy_str(p, key, value, c->fabric, sizeof(c->fabric));
	else if (!strcmp(key, "control"))
		copy_str(p, key, value, c->control, sizeof(c->control));
	else if (!strcmp(key, "bus_port")) {
		/* Room for the device ports above it. */
		if (range(p, key, value, 1, 0xFFFFFFFFull - VIRTIO_ARGO_MAX_DEVICES - 1, false, &v))
			c->bus_port = (uint32_t)v;
	} else if (!strcmp(key, "ring_len")) {
		if (range(p, key, value, 0, MAX_RING_LEN, true, &v) && ring_len_ok(p, key, v))
			c->ring_len = (uint32_t)v;
	} else if (!strcmp(key, "reset_timeout_ms")) {
		if (range(p, key, value, 100, 600000, false, &v))
			c->reset_timeout_ms = (uint32_t)v;
	} else if (!strcmp(key, "reconnect_ms")) {
		if (range(p, key, value, 10, 600000, false, &v))
			c->reconnect_ms = (uint32_t)v;
	} else if (!strcmp(key, "ring_check_ms")) {
		if (range(p, key, value, 100, 60000, false, &v))
			c->ring_check_ms = (uint32_t)v;
	} else
		fail(p, p->line, "unknown key '%s' in [vdevd]", key);
}

static void device_key(struct parser *p, const char *key, const char *value)
{
	struct vdev_device_config *d = &p->cfg->devices[p->cfg->ndevices - 1];
	uint64_t v;

	if (!strcmp(key, "type")) {
		if (!strcmp(value, "blk"))
			d->type = VDEV_BLK;
		else if (!strcmp(value, "fs"))
			d->type = VDEV_FS;
		else
			fail(p, p->line, "type must be blk or fs");
		p->dev_lines[0] = p->line;
	} else if (!strcmp(key, "number")) {
		if (range(p, key, value, 0, VIRTIO_ARGO_MAX_DEVICES - 1, false, &v))
			d->number = (uint16_t)v;
		p->dev_lines[1] = p->line;
	} else if (!strcmp(key, "socket")) {
		copy_str(p, key, value, d->socket, sizeof(d->socket));
		p->dev_lines[2] = p->line;
	} else if (!strcmp(key, "frontend")) {
		if (!strcmp(value, "any"))
			d->frontend = XEN_ARGO_DOMID_ANY;
		else if (range(p, key, value, 0, XEN_DOMID_FIRST_RESERVED - 1, false, &v))
			d->frontend = (argo_domid_t)v;
		p->dev_lines[3] = p->line;
	} else if (!strcmp(key, "ring_len")) {
		if (range(p, key, value, 0, MAX_RING_LEN, true, &v) && ring_len_ok(p, key, v))
			d->ring_len = (uint32_t)v;
	} else if (!strcmp(key, "queue_size")) {
		if (range(p, key, value, 2, VDEV_MAX_QUEUE_SIZE, false, &v)) {
			if (v & (v - 1))
				fail(p, p->line, "queue_size must be a power of 2");
			d->queue_size = (uint32_t)v;
		}
	} else if (!strcmp(key, "max_segs")) {
		if (range(p, key, value, 3, VDEV_MAX_QUEUE_SIZE, false, &v))
			d->max_segs = (uint32_t)v;
	} else if (!strcmp(key, "max_chain")) {
		if (range(p, key, value, 4096, 16 * MiB, true, &v))
			d->max_chain = (uint32_t)v;
	} else if (!strcmp(key, "tag")) {
		copy_str(p, key, value, d->tag, sizeof(d->tag));
	} else if (!strcmp(key, "request_queues")) {
		if (range(p, key, value, 1, VDEV_MAX_QUEUES - 1, false, &v))
			d->request_queues = (uint32_t)v;
	} else if (!strcmp(key, "uuid")) {
		if (!parse_uuid(value, d->uuid))
			fail(p, p->line,
			     "uuid must look like 01234567-89ab-cdef-0123-456789abcdef");
		d->uuid_set = true;
	} else
		fail(p, p->line, "unknown key '%s' in [device]", key);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;

	(void)section;
	if (p->failed)
		return 0;
	if (p->section == SEC_VDEVD)
		vdevd_key(p, key, value);
	else if (p->section == SEC_DEVICE)
		device_key(p, key, value);
	else
		fail(p, p->line, "'%s' outside a section", key);
	return !p->failed;
}

/* Checks the [device] section that just ended. */
static void end_device(struct parser *p)
{
	static const char *const required[] = {"type", "number", "socket", "frontend"};
	struct vdev_device_config *d = &p->cfg->devices[p->cfg->ndevices - 1];
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (!p->dev_lines[i]) {
			fail(p, d->line, "[device %s]: missing required key '%s'", d->name,
			     required[i]);
			return;
		}
	for (i = 0; i + 1 < p->cfg->ndevices; i++)
		if (p->cfg->devices[i].number == d->number) {
			fail(p, p->dev_lines[1], "device number %u is also [device %s]'s",
			     d->number, p->cfg->devices[i].name);
			return;
		}
	if (d->type == VDEV_FS && !d->tag[0])
		fail(p, d->line, "[device %s]: a file system needs 'tag'", d->name);
	if (d->type == VDEV_BLK && (d->tag[0] || d->request_queues))
		fail(p, d->line, "[device %s]: 'tag' and 'request_queues' are for type fs",
		     d->name);
	if (!d->request_queues)
		d->request_queues = 1;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 31)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static void begin_section(struct parser *p, const char *line)
{
	const char *close = strchr(line, ']');
	char name[64];
	size_t n;

	if (p->section == SEC_DEVICE)
		end_device(p);
	if (p->failed)
		return;
	if (!close || close[1] != '\0' || (size_t)(close - line - 1) >= sizeof(name)) {
		fail(p, p->line, "malformed section header");
		return;
	}
	n = (size_t)(close - line - 1);
	memcpy(name, line + 1, n);
	name[n] = 0;
	if (!strcmp(name, "vdevd")) {
		if (p->vdevd_seen)
			fail(p, p->line, "[vdevd] given twice");
		p->vdevd_seen = true;
		p->section = SEC_VDEVD;
	} else if (!strncmp(name, "device ", 7)) {
		struct vdev_device_config *d;
		unsigned int i;

		if (!name_ok(name + 7)) {
			fail(p, p->line, "device name must be 1 to 31 of [A-Za-z0-9._-]");
			return;
		}
		for (i = 0; i < p->cfg->ndevices; i++)
			if (!strcmp(p->cfg->devices[i].name, name + 7)) {
				fail(p, p->line, "[device %s] given twice", name + 7);
				return;
			}
		if (p->cfg->ndevices == VDEV_MAX_DEVICES) {
			fail(p, p->line, "more than %u devices", VDEV_MAX_DEVICES);
			return;
		}
		d = &p->cfg->devices[p->cfg->ndevices++];
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", name + 7);
		d->line = p->line;
		d->ring_len = (uint32_t)(4 * MiB);
		d->queue_size = 128;
		d->max_segs = 258;
		d->max_chain = (uint32_t)(MiB + 8 * KiB);
		memset(p->dev_lines, 0, sizeof(p->dev_lines));
		p->section = SEC_DEVICE;
	} else
		fail(p, p->line, "unknown section [%s] (want [vdevd] or [device NAME])", name);
}

/* inih's reader: one line per call, counted and checked. */
static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	char buf[1024], *s;
	size_t n;

	if (p->failed || !fgets(buf, sizeof(buf), p->file))
		return NULL;
	p->line++;
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (n && buf[n - 1] == '\r')
		buf[--n] = 0;
	if (n > LINE_MAX_BYTES || n + 2 > (size_t)num) {
		fail(p, p->line, "line longer than %d bytes", LINE_MAX_BYTES);
		return NULL;
	}
	if (memchr(buf, 0, n)) {
		fail(p, p->line, "NUL byte");
		return NULL;
	}
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	if (*s == '[')
		begin_section(p, s);
	if (p->failed)
		return NULL;
	snprintf(str, (size_t)num, "%s\n", s);
	return str;
}

int vdev_config_load(const char *path, struct vdev_config *cfg, char *err, size_t errsz)
{
	struct parser p = {.cfg = cfg, .path = path, .err = err, .errsz = errsz};
	unsigned int i, n;
	argo_domid_t partners[VDEV_MAX_DEVICES];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->bus_port = VIRTIO_ARGO_BUS_PORT;
	cfg->ring_len = 256 * 1024;
	cfg->reset_timeout_ms = 10000;
	cfg->reconnect_ms = 1000;
	cfg->ring_check_ms = 2000;
	p.file = fopen(path, "r");
	if (!p.file) {
		int e = errno;

		snprintf(err, errsz, "%s: %s", path, strerror(e));
		return -e;
	}
	rc = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.file);
	if (!p.failed && rc > 0)
		fail(&p, (unsigned int)rc, "syntax error");
	if (!p.failed && p.section == SEC_DEVICE)
		end_device(&p);
	if (!p.failed && !p.vdevd_seen)
		fail(&p, 0, "missing [vdevd]");
	if (!p.failed && !cfg->fabric[0])
		fail(&p, 0, "missing required key 'fabric' in [vdevd]");
	if (!p.failed && !cfg->control[0])
		fail(&p, 0, "missing required key 'control' in [vdevd]");
	if (!p.failed && !cfg->ndevices)
		fail(&p, 0, "no [device NAME] section");
	/* One bus ring per frontend domain: bounded. */
	for (i = n = 0; !p.failed && i < cfg->ndevices; i++) {
		unsigned int j;

		for (j = 0; j < n && partners[j] != cfg->devices[i].frontend; j++)
			;
		if (j == n)
			partners[n++] = cfg->devices[i].frontend;
		if (n > VDEV_MAX_PARTNERS)
			fail(&p, cfg->devices[i].line, "more than %u frontend domains",
			     VDEV_MAX_PARTNERS);
	}
	for (i = 0; !p.failed && i < cfg->ndevices; i++) {
		const struct vdev_device_config *d = &cfg->devices[i];

		if (d->max_chain > d->ring_len * 16ull)
			fail(&p, d->line, "[device %s]: max_chain above 16 ring lengths", d->name);
	}
	return p.failed ? -EINVAL : 0;
}
