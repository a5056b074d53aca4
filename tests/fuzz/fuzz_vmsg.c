/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the virtio-argo decoder (vdev/vmsg.c). `make fuzz`
 * builds it with clang -fsanitize=fuzzer,address,undefined and runs it on a
 * copy of tests/fuzz/corpus/vmsg/ (messages written by
 * `test-vmsg --write-corpus`).
 *
 * Each input is one Argo message payload, copied to a buffer of exactly its
 * length so that ASan sees any read past it. Whatever decodes must
 * re-encode to the same bytes; a refusal must be -EBADMSG with a known
 * reason; anything else aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmsg.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_vmsg: %s:%d: check failed: %s\n", __FILE__,          \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1), *out = malloc(size ? size : 1);
	struct vmsg m;
	int reason = -1, rc;
	ssize_t n;

	CHECK(in && out);
	if (size)
		memcpy(in, data, size);
	rc = vmsg_decode(in, size, &m, &reason);
	if (rc == 0) {
		CHECK(reason == 0);
		n = vmsg_encode(out, size, &m, 1);
		CHECK(n == (ssize_t)size);
		CHECK(memcmp(in, out, size) == 0);
		/* Every decoded size is consistent with the header. */
		CHECK(m.msg_size >= VMSG_HDR_SIZE && m.msg_size <= size);
		if (m.msg_id != VIRTIO_ARGO_BUS_BUF || !(m.type & VIRTIO_ARGO_TYPE_BUS))
			CHECK(m.msg_size == size && size <= VIRTIO_ARGO_MAX_MSG_SIZE);
		else
			CHECK((uint64_t)m.u.buf.offset + m.u.buf.data_len <= m.u.buf.total);
	} else {
		CHECK(rc == -EBADMSG);
		CHECK(reason >= VIRTIO_ARGO_ERR_SHORT && reason <= VIRTIO_ARGO_ERR_BACKEND);
		CHECK(vmsg_reason_name(reason)[0] != '?');
	}
	/* The in-place reader's form: only the head of the message at hand.
	 * It must agree with the whole-message decode, and never hand out a
	 * data pointer past what it was given. */
	if (size >= VMSG_HDR_SIZE) {
		size_t avail = VMSG_HDR_SIZE + (size - VMSG_HDR_SIZE) / 2;
		uint8_t *head = malloc(avail);
		struct vmsg h;
		int hr = -1, hrc;

		CHECK(head != NULL);
		memcpy(head, data, avail);
		hrc = vmsg_decode_head(head, avail, size, &h, &hr);
		if (hrc == 0) {
			CHECK(rc == 0 && h.msg_size <= avail);
			CHECK(h.type == m.type && h.msg_id == m.msg_id && h.token == m.token);
			if ((h.type & VIRTIO_ARGO_TYPE_BUS) && h.msg_id == VIRTIO_ARGO_BUS_BUF &&
			    avail < size)
				CHECK(h.u.buf.data == NULL);
		} else
			CHECK(hrc == -EBADMSG && (rc != 0 || hr == VIRTIO_ARGO_ERR_SIZE));
		free(head);
	}
	free(in);
	free(out);
	return 0;
}
