/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the virtio-argo decoder and encoder (vdev/vmsg.c): every
 * message kind round-trips, and each malformation is refused with its own
 * reason.
 *
 * `test-vmsg --write-corpus DIR` writes the fuzzer's seed corpus
 * (tests/fuzz/corpus/vmsg/) instead of running the tests.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmsg.h"
#include "../cunit_main.h"

#define CHECKF(cond, ...)                                                                          \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_) {                                                                        \
			fprintf(stderr, "\n    %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                              \
		}                                                                                  \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE);             \
	} while (0)

static const uint8_t config_bytes[40] = "tag-of-the-fs";
static uint8_t seg_table[4 * 3];
static uint8_t bitmap[2] = {0x25, 0x01};
static uint8_t feature_blocks[8] = {0x01, 0x02, 0x00, 0x10, 0x01, 0x01, 0x00, 0x00};
static uint8_t out_data[600];

/* One sample of every kind, filled in by init_samples(). */
static struct vmsg samples[64];
static size_t nsamples;

static struct vmsg *add(uint8_t type, uint8_t id)
{
	struct vmsg *m = &samples[nsamples++];

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->msg_id = id;
	m->token = (uint16_t)(0x100 + nsamples);
	if (!(type & VIRTIO_ARGO_TYPE_BUS))
		m->dev_num = 3;
	return m;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void init_samples(void)
{
	const uint8_t T = 0, TR = VIRTIO_ARGO_TYPE_RESPONSE, B = VIRTIO_ARGO_TYPE_BUS,
	              BR = VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE;
	struct vmsg *m;
	size_t i;

	for (i = 0; i < sizeof(out_data); i++)
		out_data[i] = (uint8_t)(i * 7 + 1);
	put_le32(seg_table, 16);      /* out: a virtio-blk header */
	put_le32(seg_table + 4, 512); /* in: a sector */
	put_le32(seg_table + 8, 1);   /* in: the status byte */
	nsamples = 0;
	add(T, VIRTIO_ARGO_MSG_GET_DEVICE_INFO);
	m = add(TR, VIRTIO_ARGO_MSG_GET_DEVICE_INFO);
	m->u.info.device_id = 2;
	m->u.info.vendor_id = VIRTIO_ARGO_VENDOR_ID;
	m->u.info.uuid[3] = 9;
	m->u.info.num_feature_blocks = 2;
	m->u.info.config_size = 60;
	m->u.info.max_virtqueues = 1;
	m = add(T, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES);
	m->u.features.num_blocks = 2;
	m = add(TR, VIRTIO_ARGO_MSG_GET_DEVICE_FEATURES);
	m->u.features.num_blocks = 2;
	m->u.features.blocks = feature_blocks;
	m = add(T, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES);
	m->u.features.block_index = 1;
	m->u.features.num_blocks = 1;
	m->u.features.blocks = feature_blocks + 4;
	add(TR, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES);
	m = add(T, VIRTIO_ARGO_MSG_GET_CONFIG);
	m->u.config.offset = 4;
	m->u.config.length = 40;
	m = add(TR, VIRTIO_ARGO_MSG_GET_CONFIG);
	m->u.config.generation = 1;
	m->u.config.length = 40;
	m->u.config.data = config_bytes;
	m = add(T, VIRTIO_ARGO_MSG_SET_CONFIG);
	m->u.config.offset = 32;
	m->u.config.length = 1;
	m->u.config.data = config_bytes;
	m = add(TR, VIRTIO_ARGO_MSG_SET_CONFIG);
	m->u.config.generation = 2;
	m->u.config.offset = 32;
	m = add(TR, VIRTIO_ARGO_MSG_SET_CONFIG);
	m->u.config.generation = 2;
	m->u.config.offset = 32;
	m->u.config.length = 1;
	m->u.config.data = config_bytes;
	add(T, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS);
	m = add(TR, VIRTIO_ARGO_MSG_GET_DEVICE_STATUS);
	m->u.u32 = 15;
	m = add(T, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS);
	m->u.u32 = 3;
	m = add(TR, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS);
	m->u.u32 = 3;
	m = add(T, VIRTIO_ARGO_MSG_GET_VQUEUE);
	m->u.u32 = 0;
	m = add(TR, VIRTIO_ARGO_MSG_GET_VQUEUE);
	m->u.vqueue.max_size = 256;
	m->u.vqueue.cur_size = 128;
	m->u.vqueue.flags = 1;
	m->u.vqueue.desc_addr = 0x123456789ULL;
	m = add(T, VIRTIO_ARGO_MSG_SET_VQUEUE);
	m->u.vqueue.flags = VIRTIO_ARGO_SETVQ_ENABLE;
	m->u.vqueue.size = 128;
	m->u.vqueue.device_addr = 0xFFFF000011110000ULL;
	add(TR, VIRTIO_ARGO_MSG_SET_VQUEUE);
	m = add(T, VIRTIO_ARGO_MSG_RESET_VQUEUE);
	m->u.u32 = 1;
	add(TR, VIRTIO_ARGO_MSG_RESET_VQUEUE);
	add(T, VIRTIO_ARGO_MSG_GET_SHM);
	m = add(TR, VIRTIO_ARGO_MSG_GET_SHM);
	m->u.shm.shmid = 1;
	m = add(T, VIRTIO_ARGO_MSG_EVENT_CONFIG);
	m->u.config.status = 0x4F;
	m->u.config.generation = 5;
	m = add(T, VIRTIO_ARGO_MSG_EVENT_CONFIG);
	m->u.config.generation = 6;
	m->u.config.offset = 32;
	m->u.config.length = 1;
	m->u.config.data = config_bytes;
	m = add(T, VIRTIO_ARGO_MSG_EVENT_AVAIL);
	m->u.avail.vq_index = 1;
	m = add(T, VIRTIO_ARGO_MSG_EVENT_USED);
	m->u.u32 = 1;
	m = add(B, VIRTIO_ARGO_BUS_GET_DEVICES);
	m->u.devices.count = 16;
	m = add(BR, VIRTIO_ARGO_BUS_GET_DEVICES);
	m->u.devices.count = 9;
	m->u.devices.next_offset = 16;
	m->u.devices.bitmap = bitmap;
	m = add(B, VIRTIO_ARGO_BUS_PING);
	m->u.u32 = 0xDEADBEEF;
	m = add(BR, VIRTIO_ARGO_BUS_PING);
	m->u.u32 = 0xDEADBEEF;
	m = add(B, VIRTIO_ARGO_BUS_EVENT_DEVICE);
	m->u.event_device.number = 4;
	m->u.event_device.state = VIRTIO_ARGO_DEVICE_REMOVED;
	m = add(B, VIRTIO_ARGO_BUS_HELLO);
	m->u.hello.bus_version = 1;
	m->u.hello.revision = 1;
	m->u.hello.max_msg_size = 264;
	m->u.hello.max_rx = 65504;
	m = add(BR, VIRTIO_ARGO_BUS_HELLO);
	m->u.hello.bus_version = 1;
	m->u.hello.revision = 1;
	m->u.hello.max_msg_size = 264;
	m->u.hello.max_rx = 1 << 20;
	m->u.hello.num_devices = 2;
	m = add(B, VIRTIO_ARGO_BUS_ATTACH);
	m->u.attach.dev_num = 3;
	m->u.attach.max_rx = 1 << 20;
	m = add(BR, VIRTIO_ARGO_BUS_ATTACH);
	m->u.attach.dev_num = 3;
	m->u.attach.max_rx = 4 << 20;
	m->u.attach.max_segs = 258;
	m->u.attach.max_chain = (1 << 20) + 8192;
	m = add(B, VIRTIO_ARGO_BUS_DETACH);
	m->u.attach.dev_num = 3;
	m = add(BR, VIRTIO_ARGO_BUS_DETACH);
	m->u.attach.dev_num = 3;
	m = add(B, VIRTIO_ARGO_BUS_BUF);
	m->u.buf.dev_num = 3;
	m->u.buf.id = 7;
	m->u.buf.total = 16;
	m->u.buf.data_len = 16;
	m->u.buf.n_out = 1;
	m->u.buf.n_in = 2;
	m->u.buf.seg_len = seg_table;
	m->u.buf.data = out_data;
	m = add(B, VIRTIO_ARGO_BUS_BUF); /* a later fragment */
	m->u.buf.dev_num = 3;
	m->u.buf.vq = 1;
	m->u.buf.id = 7;
	m->u.buf.offset = 4096;
	m->u.buf.total = 8192;
	m->u.buf.data_len = 512;
	m->u.buf.data = out_data;
	m = add(BR, VIRTIO_ARGO_BUS_BUF);
	m->u.buf.dev_num = 3;
	m->u.buf.id = 7;
	m->u.buf.total = 513;
	m->u.buf.data_len = 513;
	m->u.buf.data = out_data;
	m = add(B, VIRTIO_ARGO_BUS_ERROR);
	m->u.error.dev_num = VIRTIO_ARGO_DEV_NONE;
	m->u.error.bad_type = 0;
	m->u.error.bad_msg_id = 0x99;
	m->u.error.error = EBADMSG;
	m->u.error.reason = VIRTIO_ARGO_ERR_UNKNOWN;
}

static uint8_t *encode(const struct vmsg *m, size_t *len)
{
	static uint8_t buf[4096];
	ssize_t n = vmsg_encode(buf, sizeof(buf), m, 1);

	CU_ASSERT_FATAL(n > 0);
	*len = (size_t)n;
	return buf;
}

/* Encodes m into b (4096 bytes); returns its length. */
static size_t enc(uint8_t *b, const struct vmsg *m)
{
	size_t len;
	const uint8_t *e = encode(m, &len);

	memcpy(b, e, len);
	return len;
}

/* Every sample decodes to what it was made of, and re-encodes identically. */
static void test_round_trip(void)
{
	size_t i;

	for (i = 0; i < nsamples; i++) {
		uint8_t copy[4096], again[4096];
		struct vmsg d;
		size_t len;
		uint8_t *b = encode(&samples[i], &len);
		int reason = -1, rc;

		memcpy(copy, b, len);
		rc = vmsg_decode(copy, len, &d, &reason);
		CHECKF(rc == 0, "%s: rc %d reason %s\n",
		       vmsg_name(samples[i].type, samples[i].msg_id), rc, vmsg_reason_name(reason));
		if (rc)
			continue;
		CU_ASSERT(d.type == samples[i].type && d.msg_id == samples[i].msg_id);
		CU_ASSERT(d.token == samples[i].token && d.dev_num == samples[i].dev_num);
		CU_ASSERT(vmsg_encode(again, sizeof(again), &d, 1) == (ssize_t)len);
		CU_ASSERT(memcmp(again, copy, len) == 0);
	}
	CU_ASSERT(nsamples >= 40);
}

/* A few decoded fields, to be sure the offsets are the header's. */
static void test_fields(void)
{
	struct vmsg d;
	size_t len;
	uint8_t *b;
	size_t i;

	for (i = 0; i < nsamples; i++) {
		if (samples[i].msg_id == VIRTIO_ARGO_BUS_BUF && samples[i].u.buf.n_out == 1)
			break;
	}
	CU_ASSERT_FATAL(i < nsamples);
	b = encode(&samples[i], &len);
	CU_ASSERT(len == 8 + 24 + 12 + 16);
	CU_ASSERT(b[6] == 8 + 24 + 12 && b[7] == 0); /* msg_size excludes the data */
	CU_ASSERT_FATAL(vmsg_decode(b, len, &d, NULL) == 0);
	CU_ASSERT(d.u.buf.id == 7 && d.u.buf.n_in == 2 && d.u.buf.in_bytes == 513);
	CU_ASSERT(vmsg_le32(d.u.buf.seg_len, 1) == 512);
	CU_ASSERT(d.u.buf.data == b + 44 && d.u.buf.data[0] == out_data[0]);
}

/* Decodes b (len bytes) and expects a refusal with reason. */
static void expect_bad(const uint8_t *b, size_t len, int reason, const char *what)
{
	struct vmsg d;
	int got = -1, rc = vmsg_decode(b, len, &d, &got);

	CHECKF(rc == -EBADMSG && got == reason, "%s: rc %d reason %s, expected %s\n", what, rc,
	       vmsg_reason_name(got), vmsg_reason_name(reason));
}

static struct vmsg *sample(uint8_t type, uint8_t id)
{
	size_t i;

	for (i = 0; i < nsamples; i++)
		if (samples[i].type == type && samples[i].msg_id == id)
			return &samples[i];
	CU_FAIL_FATAL("no such sample");
	return NULL;
}

static void test_header_errors(void)
{
	uint8_t b[4096];
	size_t len;
	struct vmsg m = *sample(0, VIRTIO_ARGO_MSG_SET_DEVICE_STATUS);

	len = enc(b, &m);
	expect_bad(b, 0, VIRTIO_ARGO_ERR_SHORT, "empty");
	expect_bad(b, 7, VIRTIO_ARGO_ERR_SHORT, "7 bytes");
	expect_bad(b, len - 1, VIRTIO_ARGO_ERR_SIZE, "msg_size above the message");
	b[len] = 0;
	expect_bad(b, len + 1, VIRTIO_ARGO_ERR_SIZE, "a byte past msg_size");
	b[0] = 0x04;
	expect_bad(b, len, VIRTIO_ARGO_ERR_TYPE, "reserved type bit");
	b[0] = 0;
	b[1] = 0x33;
	expect_bad(b, len, VIRTIO_ARGO_ERR_UNKNOWN, "unknown id");
	b[1] = VIRTIO_ARGO_MSG_EVENT_CONFIG;
	b[0] = VIRTIO_ARGO_TYPE_RESPONSE;
	expect_bad(b, len, VIRTIO_ARGO_ERR_TYPE, "a response to an event");
	b[0] = 0;
	b[1] = VIRTIO_ARGO_MSG_SET_DEVICE_STATUS;
	b[6] = 7;
	expect_bad(b, len, VIRTIO_ARGO_ERR_SIZE, "msg_size below the header");
	b[6] = 8;
	expect_bad(b, 8, VIRTIO_ARGO_ERR_SHORT, "payload missing");
	b[6] = (uint8_t)len;
	/* A payload one byte too long for its kind. */
	b[6] = (uint8_t)(len + 1);
	b[len] = 0;
	expect_bad(b, len + 1, VIRTIO_ARGO_ERR_SIZE, "status of 5 bytes");
	/* Bus messages carry dev_num 0. */
	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_PING);
	len = enc(b, &m);
	b[2] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "bus message with dev_num");
	/* Above the largest transport message. */
	memset(b, 0, sizeof(b));
	b[0] = 0;
	b[1] = VIRTIO_ARGO_MSG_SET_CONFIG;
	b[6] = (265 & 0xFF);
	b[7] = 265 >> 8;
	b[8 + 8] = 265 - 20; /* length */
	expect_bad(b, 265, VIRTIO_ARGO_ERR_SIZE, "265-byte SET_CONFIG");
}

static void test_payload_errors(void)
{
	uint8_t b[4096];
	size_t len;
	struct vmsg m;

	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_HELLO);
	len = enc(b, &m);
	b[8 + 18] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "HELLO reserved");
	b[8 + 18] = 0;
	b[8 + 16] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "HELLO request with a device count");

	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_ATTACH);
	len = enc(b, &m);
	b[8 + 4] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "ATTACH request with a status");
	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_DETACH);
	len = enc(b, &m);
	b[8 + 12] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "DETACH with max_rx");

	m = *sample(VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE, VIRTIO_ARGO_BUS_GET_DEVICES);
	len = enc(b, &m);
	b[len - 1] |= 0x02; /* count 9: bit 1 of the second byte is past it */
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "bitmap bit past count");
	b[len - 1] = 0;
	expect_bad(b, len - 1, VIRTIO_ARGO_ERR_SIZE, "bitmap too short");

	m = *sample(VIRTIO_ARGO_TYPE_RESPONSE, VIRTIO_ARGO_MSG_GET_VQUEUE);
	len = enc(b, &m);
	b[8 + 12] = 3;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "GET_VQUEUE flags bit 1");

	m = *sample(0, VIRTIO_ARGO_MSG_SET_DRIVER_FEATURES);
	len = enc(b, &m);
	b[8 + 4] = 2; /* two blocks announced, one sent */
	expect_bad(b, len, VIRTIO_ARGO_ERR_SIZE, "feature blocks missing");

	m = *sample(0, VIRTIO_ARGO_MSG_SET_CONFIG);
	len = enc(b, &m);
	b[8 + 8] = 2;
	expect_bad(b, len, VIRTIO_ARGO_ERR_SIZE, "config data shorter than length");

	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_EVENT_DEVICE);
	len = enc(b, &m);
	b[8 + 2] = 3;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "EVENT_DEVICE state 3");

	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_ERROR);
	len = enc(b, &m);
	b[8 + 6] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "ERROR reserved");

	/* SET_VQUEUE's reserved bits are the device's no-op, not an error. */
	m = *sample(0, VIRTIO_ARGO_MSG_SET_VQUEUE);
	m.u.vqueue.reserved = 1;
	m.u.vqueue.flags = 0xFFFFFFFF;
	len = enc(b, &m);
	CU_ASSERT(vmsg_decode(b, len, &m, NULL) == 0);
	CU_ASSERT(m.u.vqueue.reserved == 1 && m.u.vqueue.flags == 0xFFFFFFFF);
}

static void test_buf_errors(void)
{
	uint8_t b[4096];
	size_t len;
	struct vmsg first = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_BUF), m;

	/* The first fragment: header 8, fixed 24, table 12, data 16. */
	len = enc(b, &first);
	expect_bad(b, len - 1, VIRTIO_ARGO_ERR_SIZE, "a data byte missing");
	b[len] = 0;
	expect_bad(b, len + 1, VIRTIO_ARGO_ERR_SIZE, "a data byte too many");
	b[8 + 6] = 1;
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "flags");
	b[8 + 6] = 0;
	b[32 + 4] = 0; /* in segment 0: 512 -> 0 */
	b[32 + 5] = 0;
	expect_bad(b, len, VIRTIO_ARGO_ERR_SEGS, "a segment of length 0");
	len = enc(b, &first);
	b[32] = 17; /* out segment 16 -> 17: sum differs from total */
	expect_bad(b, len, VIRTIO_ARGO_ERR_FRAGMENT, "out lengths against total");

	/* Data beyond the declared out bytes ("longer than declared"). */
	m = first;
	m.u.buf.data_len = 17;
	len = enc(b, &m);
	expect_bad(b, len, VIRTIO_ARGO_ERR_FRAGMENT, "17 data bytes of 16");

	/* No table in the first fragment. */
	m = first;
	m.u.buf.n_out = m.u.buf.n_in = 0;
	len = enc(b, &m);
	expect_bad(b, len, VIRTIO_ARGO_ERR_SEGS, "first fragment without a table");

	/* A table in a later fragment. */
	m = first;
	m.u.buf.offset = 8;
	m.u.buf.data_len = 8;
	len = enc(b, &m);
	expect_bad(b, len, VIRTIO_ARGO_ERR_FRAGMENT, "later fragment with a table");

	/* msg_size that does not cover the table it announces. */
	len = enc(b, &first);
	b[6] -= 4;
	expect_bad(b, len, VIRTIO_ARGO_ERR_SIZE, "table cut short");

	/* A response carries no table and stays within total. */
	m = *sample(VIRTIO_ARGO_TYPE_BUS | VIRTIO_ARGO_TYPE_RESPONSE, VIRTIO_ARGO_BUS_BUF);
	m.u.buf.total = 100;
	len = enc(b, &m);
	expect_bad(b, len, VIRTIO_ARGO_ERR_FRAGMENT, "completion data past the used length");
	m.u.buf.total = 513;
	m.u.buf.n_in = 1;
	m.u.buf.seg_len = seg_table;
	len = enc(b, &m);
	expect_bad(b, len, VIRTIO_ARGO_ERR_FIELD, "completion with a table");

	/* offset + data_len overflowing 32 bits. */
	m = *sample(VIRTIO_ARGO_TYPE_BUS, VIRTIO_ARGO_BUS_BUF);
	m.u.buf.n_out = m.u.buf.n_in = 0;
	m.u.buf.seg_len = NULL;
	m.u.buf.offset = 0xFFFFFFF0u;
	m.u.buf.total = 0xFFFFFFFFu;
	m.u.buf.data_len = 32;
	len = enc(b, &m);
	expect_bad(b, len, VIRTIO_ARGO_ERR_FRAGMENT, "offset + data_len wraps");
}

static void test_encode_limits(void)
{
	uint8_t b[16];
	struct vmsg m = *sample(VIRTIO_ARGO_TYPE_RESPONSE, VIRTIO_ARGO_MSG_GET_DEVICE_INFO);

	CU_ASSERT(vmsg_encode(b, sizeof(b), &m, 1) == -EMSGSIZE);
	m.msg_id = 0x3F;
	CU_ASSERT(vmsg_encode(b, sizeof(b), &m, 1) == -EINVAL);
	CU_ASSERT(vmsg_fixed_len(0, VIRTIO_ARGO_MSG_SET_VQUEUE) == 40);
	CU_ASSERT(vmsg_fixed_len(0, 0x3F) == -1);
	CU_ASSERT(strcmp(vmsg_reason_name(VIRTIO_ARGO_ERR_BACKEND), "BACKEND") == 0);
}

static int write_corpus(const char *dir)
{
	size_t i;

	init_samples();
	for (i = 0; i < nsamples; i++) {
		char path[512];
		uint8_t b[4096];
		ssize_t n = vmsg_encode(b, sizeof(b), &samples[i], 1);
		FILE *f;

		if (n <= 0)
			return 1;
		snprintf(path, sizeof(path), "%s/%02zu.bin", dir, i);
		f = fopen(path, "wb");
		if (!f || fwrite(b, 1, (size_t)n, f) != (size_t)n || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}

static const struct test_def tests[] = {
    T(test_round_trip),     T(test_fields),     T(test_header_errors),
    T(test_payload_errors), T(test_buf_errors), T(test_encode_limits),
};

static const struct suite_def suites[] = {SUITE("vmsg", tests)};

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	init_samples();
	return cunit_main(suites, N(suites));
}
