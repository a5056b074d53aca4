/* SPDX-License-Identifier: MIT */
/*
 * argo-simd's side of the private protocol (common/libargo/sim_proto.h):
 * one request, as bytes and the fds that came with it, run against the
 * fabric for the domain that sent it, and its reply. Apart from the
 * daemon's sockets (simd.c) so that a fuzzer (tests/fuzz/fuzz_simd.c)
 * drives exactly what a client reaches.
 */
#define _GNU_SOURCE
#include "simd_proto.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sim_proto.h"

static void close_fds(const int *fds, int nfds)
{
	int i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

int64_t simd_handle_request(struct sim_fabric *fabric, struct sim_domain *domain,
                            const uint8_t *staging, uint8_t *request, size_t len, bool truncated,
                            const int *fds, int nfds, uint8_t *reply_buf, size_t *reply_lenp,
                            int *reply_fd)
{
	const struct argo_sim_req_hdr *hdr = (const void *)request;
	struct argo_sim_reply *reply = (void *)reply_buf;
	size_t reply_len = sizeof(*reply);
	int64_t ret;

	reply->cookie = len >= sizeof(*hdr) ? hdr->cookie : 0;
	if (len < sizeof(*hdr)) {
		ret = -EINVAL;
		goto out;
	}
	/* Only register carries an fd, and exactly one. */
	if (nfds != (hdr->op == ARGO_SIM_OP_REGISTER ? 1 : 0)) {
		ret = -EINVAL;
		goto out;
	}

	switch (hdr->op) {
	case ARGO_SIM_OP_REGISTER: {
		const struct argo_sim_req_register *req = (const void *)request;

		if (len != sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		ret = sim_register_ring_ext(fabric, domain, &req->reg, req->npages, req->flags,
		                            req->lib_flags, fds[0]);
		break;
	}
	case ARGO_SIM_OP_UNREGISTER: {
		const struct argo_sim_req_unregister *req = (const void *)request;

		if (len != sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		ret = sim_unregister_ring(fabric, domain, &req->unreg);
		break;
	}
	case ARGO_SIM_OP_SENDV: {
		const struct argo_sim_req_sendv *req = (const void *)request;
		struct xen_argo_iov iovs[XEN_ARGO_MAXIOV];
		uint32_t niov;

		if (len < sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		/* Dispatch order: niov is checked before the iovs are read. */
		niov = req->niov;
		if (niov > XEN_ARGO_MAXIOV) {
			ret = sim_sendv(fabric, domain, &req->addr, NULL, niov, req->message_type,
			                NULL, 0);
			break;
		}
		if (len != sizeof(*req) + niov * sizeof(iovs[0])) {
			ret = -EFAULT; /* the iov array is not where it should be */
			break;
		}
		memcpy(iovs, request + sizeof(*req), niov * sizeof(iovs[0]));
		ret = sim_sendv_tagged(fabric, domain, &req->addr, iovs, niov, req->message_type,
		                       staging, ARGO_SIM_STAGING_SIZE, req->tag);
		break;
	}
	case ARGO_SIM_OP_NOTIFY: {
		const struct argo_sim_req_notify *req = (const void *)request;
		struct xen_argo_ring_data *rd;
		size_t rd_bytes;

		if (len < sizeof(*req) || truncated) {
			ret = -EINVAL;
			break;
		}
		if (!req->has_ring_data) {
			ret = sim_notify(fabric, domain, NULL, 0);
			break;
		}
		rd = (void *)(request + sizeof(*req));
		rd_bytes = len - sizeof(*req);
		ret = sim_notify(fabric, domain, rd, rd_bytes);
		if (ret == 0) {
			size_t ents = (size_t)rd->nent * sizeof(rd->data[0]);

			memcpy(reply_buf + sizeof(*reply), rd, sizeof(*rd) + ents);
			reply_len += sizeof(*rd) + ents;
		}
		break;
	}
	case ARGO_SIM_OP_ADOPT: {
		struct argo_sim_adopt_reply body;
		struct sim_adopted adopted;

		if (len != sizeof(*hdr) || truncated) {
			ret = -EINVAL;
			break;
		}
		ret = sim_adopt_ring(fabric, domain, &adopted);
		if (ret == 0) {
			body.aport = adopted.aport;
			body.partner_id = adopted.partner;
			body.len = adopted.len;
			body.npages = adopted.npages;
			memcpy(reply_buf + sizeof(*reply), &body, sizeof(body));
			reply_len += sizeof(body);
			*reply_fd = adopted.fd; /* sent with the reply, then closed */
		}
		break;
	}
	case ARGO_SIM_OP_KEEP: {
		const struct argo_sim_req_keep *req = (const void *)request;

		if (len != sizeof(*req) || truncated || req->keep > 1 || req->pad) {
			ret = -EINVAL;
			break;
		}
		ret = sim_domain_keep(domain, (int)req->keep);
		break;
	}
	case ARGO_SIM_OP_LAST_TAG: {
		struct argo_sim_last_tag_reply body;

		if (len != sizeof(*hdr) || truncated) {
			ret = -EINVAL;
			break;
		}
		body.tag = sim_domain_last_tag(domain);
		memcpy(reply_buf + sizeof(*reply), &body, sizeof(body));
		reply_len += sizeof(body);
		ret = 0;
		break;
	}
	default:
		ret = -EOPNOTSUPP;
		break;
	}
out:
	close_fds(fds, nfds);
	reply->ret = (int32_t)ret;
	*reply_lenp = reply_len;
	return ret;
}
