/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for routed mode's wire forms (common/libargo/routed.c):
 * the 32-byte routed header, the undeliverable report, the "HVID:DOMID:PORT"
 * text, and argo_routed_recv() reading a message that any domain could have
 * put in a ring (it believes a header only from the relay's routed port).
 * `make fuzz` builds it with clang -fsanitize=fuzzer,address,undefined and
 * runs it on a copy of tests/fuzz/corpus/routed/.
 *
 * The input's first 8 bytes steer the recv part (the message's source
 * domid and port, whether it comes from the relay's routed port, its type,
 * the reader's buffer size); the rest is the bytes. Whatever decodes must
 * encode back to the same bytes (the header and the report have one form
 * each); a refusal is -EBADMSG / -EINVAL; argo_routed_recv() consumes the
 * message unless it says -EMSGSIZE, and what it returns follows from the
 * message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argo/routed.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_routed: %s:%d: check failed: %s\n", __FILE__,        \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define RELAY    7
#define RING_LEN (64 * 1024)

static _Alignas(16) uint8_t ring_mem[sizeof(struct xen_argo_ring) + RING_LEN];

static void forms(const uint8_t *data, size_t size)
{
	uint8_t buf[ARGO_ROUTED_HDR_SIZE] = {0}, out[ARGO_ROUTED_HDR_SIZE];
	struct argo_gaddr g, g2;
	char text[64];
	uint32_t error;
	int rc;

	/* The header: exactly its 32 bytes (ASan sees any read past them). */
	if (size >= ARGO_ROUTED_HDR_SIZE) {
		uint8_t *h = malloc(ARGO_ROUTED_HDR_SIZE);

		CHECK(h);
		memcpy(h, data, ARGO_ROUTED_HDR_SIZE);
		rc = argo_routed_hdr_get(h, &g);
		CHECK(rc == 0 || rc == -EBADMSG);
		if (rc == 0) {
			CHECK(g.hvid[0] && strnlen(g.hvid, ARGO_HVID_SIZE) < ARGO_HVID_SIZE);
			argo_routed_hdr_put(out, &g);
			CHECK(memcmp(out, h, ARGO_ROUTED_HDR_SIZE) == 0);
		}
		free(h);
	}
	/* The report, any length. */
	{
		uint8_t *r = malloc(size ? size : 1);

		CHECK(r);
		memcpy(r, data, size);
		rc = argo_routed_report_get(r, size, &error, &g);
		CHECK(rc == 0 || rc == -EBADMSG);
		if (rc == 0) {
			CHECK(size == ARGO_ROUTED_REPORT_SIZE);
			argo_routed_report_put(buf, error, &g);
			CHECK(memcmp(buf, r, ARGO_ROUTED_REPORT_SIZE) == 0);
		}
		free(r);
	}
	/* The text form. */
	{
		size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

		memcpy(text, data, n);
		text[n] = '\0';
		rc = argo_gaddr_parse(text, &g);
		CHECK(rc == 0 || rc == -EINVAL);
		if (rc == 0) {
			snprintf(text, sizeof(text), "%s:%u:%u", g.hvid, g.domid, g.port);
			CHECK(argo_gaddr_parse(text, &g2) == 0);
			CHECK(!strcmp(g.hvid, g2.hvid) && g.domid == g2.domid && g.port == g2.port);
		}
	}
}

static void recv_one(const uint8_t *ctl, const uint8_t *data, size_t size)
{
	struct xen_argo_ring *shared = (struct xen_argo_ring *)(void *)ring_mem;
	struct argo_ring ring = {.shared = shared, .len = RING_LEN, .aport = 1, .partner_id = 0};
	struct xen_argo_addr source = {.aport = ARGO_ROUTED_PORT, .domain_id = RELAY};
	struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = size};
	uint32_t type = ctl[1] & 1 ? ARGO_MSGTYPE_UNDELIVERABLE : 0x50494e47u, got_type = 0;
	size_t bufsz = (size_t)(ctl[2] | ctl[3] << 8) % (size + ARGO_ROUTED_HDR_SIZE + 2);
	struct argo_gaddr src;
	uint8_t *buf = malloc(bufsz ? bufsz : 1);
	bool routed = !(ctl[0] & 1);
	int64_t tx;
	ssize_t n;

	CHECK(buf);
	if (!routed) {
		source.domain_id = (argo_domid_t)(ctl[4] | ctl[5] << 8) % XEN_DOMID_FIRST_RESERVED;
		source.aport = ctl[0] & 2 ? ARGO_ROUTED_PORT : (uint32_t)(ctl[6] | ctl[7] << 8);
		routed = source.domain_id == RELAY && source.aport == ARGO_ROUTED_PORT;
	}
	memset(ring_mem, 0, sizeof(struct xen_argo_ring));
	tx = argo_ring_insert(shared, RING_LEN, 0, &source, type, &iov, 1, (uint32_t)size);
	CHECK(tx > 0);
	n = argo_routed_recv(&ring, RELAY, &src, &got_type, buf, bufsz);
	if (size > bufsz) {
		CHECK(n == -EMSGSIZE && shared->rx_ptr == 0);
	} else {
		CHECK(shared->rx_ptr == (uint32_t)tx && got_type == type);
		if (!routed) {
			CHECK(n == (ssize_t)size && src.domid == source.domain_id &&
			      src.port == source.aport && !src.hvid[0]);
			CHECK(!size || memcmp(buf, data, size) == 0);
		} else if (type == ARGO_MSGTYPE_UNDELIVERABLE) {
			CHECK(n < 0 && n > -4096);
		} else if (n >= 0) {
			CHECK((size_t)n + ARGO_ROUTED_HDR_SIZE == size && src.hvid[0]);
			CHECK(!n || memcmp(buf, data + ARGO_ROUTED_HDR_SIZE, (size_t)n) == 0);
		} else {
			CHECK(n == -EBADMSG);
		}
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	forms(data, size);
	if (size >= 8 && size - 8 <= RING_LEN / 2)
		recv_one(data, data + 8, size - 8);
	return 0;
}
