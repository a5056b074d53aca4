/* SPDX-License-Identifier: MIT */
/*
 * The Xen Argo ABI, as upstream Xen defines it in xen/include/public/argo.h
 * (Xen 4.17). Written here from the published layout so that every program
 * of the project, and the sim fabric, share exactly the structures a real
 * hypervisor reads and writes. Every size and offset is pinned by a static
 * assertion below: if one of them fails, the project no longer speaks Argo.
 *
 * Layouts are x86-64 natural alignment, no packing, little endian.
 */
#ifndef ARGO_ABI_H
#define ARGO_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef uint16_t argo_domid_t;

/* Hypercall number and sub-commands of argo_op(). */
#define XEN_HYPERVISOR_ARGO_OP      39
#define XEN_ARGO_OP_register_ring   1
#define XEN_ARGO_OP_unregister_ring 2
#define XEN_ARGO_OP_sendv           3
#define XEN_ARGO_OP_notify          4

/* The per-domain virtual interrupt raised on message arrival or space. */
#define XEN_VIRQ_ARGO 11

/* DOMID_INVALID doubles as "any domain" for wildcard rings and as "fill in
 * my own domid" in a sendv source address. */
#define XEN_ARGO_DOMID_ANY ((argo_domid_t)0x7FF4)
/* Domids at or above this value are reserved by Xen (DOMID_FIRST_RESERVED). */
#define XEN_DOMID_FIRST_RESERVED ((argo_domid_t)0x7FF0)

#define XEN_ARGO_MAX_RING_SIZE   0x1000000u
#define XEN_ARGO_MSG_SLOT_SIZE   0x10u
#define XEN_ARGO_MAXIOV          8u
#define XEN_ARGO_PAGE_SIZE       4096u

/* register_ring flags: only this bit is defined; any other is -EINVAL. */
#define XEN_ARGO_REGISTER_FLAG_FAIL_EXIST 0x1u
#define XEN_ARGO_REGISTER_FLAG_MASK       XEN_ARGO_REGISTER_FLAG_FAIL_EXIST

/* ring_data_ent.flags, written back by notify. */
#define XEN_ARGO_RING_EXISTS     (1u << 0)
#define XEN_ARGO_RING_SHARED     (1u << 1)
#define XEN_ARGO_RING_EMPTY      (1u << 2)
#define XEN_ARGO_RING_SUFFICIENT (1u << 3)
#define XEN_ARGO_RING_EMSGSIZE   (1u << 4)
#define XEN_ARGO_RING_EBUSY      (1u << 5)

/* Limits internal to Xen's argo.c that a guest can observe. */
#define XEN_ARGO_MAX_RINGS_PER_DOMAIN 128u
#define XEN_ARGO_MAX_NOTIFY_COUNT     256u
#define XEN_ARGO_MAX_PENDERS_PER_RING 32u
/* Smallest ring: room for one header, one slot of data and the empty slot. */
#define XEN_ARGO_MIN_RING_LEN 48u

typedef struct xen_argo_addr {
	uint32_t aport;
	argo_domid_t domain_id;
	uint16_t pad;
} xen_argo_addr_t;

typedef struct xen_argo_send_addr {
	struct xen_argo_addr src;
	struct xen_argo_addr dst;
} xen_argo_send_addr_t;

/* The shared page(s) of a ring: 64 bytes of header, then len bytes of ring.
 * The receiver owns rx_ptr; the hypervisor owns tx_ptr after registration. */
typedef struct xen_argo_ring {
	uint32_t rx_ptr;
	uint32_t tx_ptr;
	uint8_t reserved[56];
	uint8_t ring[];
} xen_argo_ring_t;

typedef struct xen_argo_register_ring {
	uint32_t aport;
	argo_domid_t partner_id;
	uint16_t pad;
	uint32_t len;
} xen_argo_register_ring_t;

typedef struct xen_argo_unregister_ring {
	uint32_t aport;
	argo_domid_t partner_id;
	uint16_t pad;
} xen_argo_unregister_ring_t;

/* A guest handle (virtual address in the caller) and a length. */
typedef struct xen_argo_iov {
	uint64_t iov_hnd;
	uint32_t iov_len;
	uint32_t pad;
} xen_argo_iov_t;

typedef struct xen_argo_ring_data_ent {
	struct xen_argo_addr ring;
	uint16_t flags;
	uint16_t pad;
	uint32_t space_required;
	uint32_t max_message_size;
} xen_argo_ring_data_ent_t;

typedef struct xen_argo_ring_data {
	uint32_t nent;
	uint32_t pad;
	struct xen_argo_ring_data_ent data[];
} xen_argo_ring_data_t;

typedef struct xen_argo_ring_message_header {
	uint32_t len; /* payload + this 16-byte header */
	struct xen_argo_addr source;
	uint32_t message_type;
	uint8_t data[];
} xen_argo_ring_message_header_t;

#define ARGO_ABI_CHECK(type, field, off)                                                           \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " offset")
#define ARGO_ABI_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " size")

ARGO_ABI_CHECK(struct xen_argo_addr, aport, 0);
ARGO_ABI_CHECK(struct xen_argo_addr, domain_id, 4);
ARGO_ABI_CHECK(struct xen_argo_addr, pad, 6);
ARGO_ABI_SIZE(struct xen_argo_addr, 8);

ARGO_ABI_CHECK(struct xen_argo_send_addr, src, 0);
ARGO_ABI_CHECK(struct xen_argo_send_addr, dst, 8);
ARGO_ABI_SIZE(struct xen_argo_send_addr, 16);

ARGO_ABI_CHECK(struct xen_argo_ring, rx_ptr, 0);
ARGO_ABI_CHECK(struct xen_argo_ring, tx_ptr, 4);
ARGO_ABI_CHECK(struct xen_argo_ring, reserved, 8);
ARGO_ABI_CHECK(struct xen_argo_ring, ring, 64);
ARGO_ABI_SIZE(struct xen_argo_ring, 64);

ARGO_ABI_CHECK(struct xen_argo_register_ring, aport, 0);
ARGO_ABI_CHECK(struct xen_argo_register_ring, partner_id, 4);
ARGO_ABI_CHECK(struct xen_argo_register_ring, pad, 6);
ARGO_ABI_CHECK(struct xen_argo_register_ring, len, 8);
ARGO_ABI_SIZE(struct xen_argo_register_ring, 12);

ARGO_ABI_CHECK(struct xen_argo_unregister_ring, aport, 0);
ARGO_ABI_CHECK(struct xen_argo_unregister_ring, partner_id, 4);
ARGO_ABI_CHECK(struct xen_argo_unregister_ring, pad, 6);
ARGO_ABI_SIZE(struct xen_argo_unregister_ring, 8);

ARGO_ABI_CHECK(struct xen_argo_iov, iov_hnd, 0);
ARGO_ABI_CHECK(struct xen_argo_iov, iov_len, 8);
ARGO_ABI_CHECK(struct xen_argo_iov, pad, 12);
ARGO_ABI_SIZE(struct xen_argo_iov, 16);

ARGO_ABI_CHECK(struct xen_argo_ring_data_ent, ring, 0);
ARGO_ABI_CHECK(struct xen_argo_ring_data_ent, flags, 8);
ARGO_ABI_CHECK(struct xen_argo_ring_data_ent, pad, 10);
ARGO_ABI_CHECK(struct xen_argo_ring_data_ent, space_required, 12);
ARGO_ABI_CHECK(struct xen_argo_ring_data_ent, max_message_size, 16);
ARGO_ABI_SIZE(struct xen_argo_ring_data_ent, 20);

ARGO_ABI_CHECK(struct xen_argo_ring_data, nent, 0);
ARGO_ABI_CHECK(struct xen_argo_ring_data, pad, 4);
ARGO_ABI_CHECK(struct xen_argo_ring_data, data, 8);
ARGO_ABI_SIZE(struct xen_argo_ring_data, 8);

ARGO_ABI_CHECK(struct xen_argo_ring_message_header, len, 0);
ARGO_ABI_CHECK(struct xen_argo_ring_message_header, source, 4);
ARGO_ABI_CHECK(struct xen_argo_ring_message_header, message_type, 12);
ARGO_ABI_CHECK(struct xen_argo_ring_message_header, data, 16);
ARGO_ABI_SIZE(struct xen_argo_ring_message_header, 16);

#undef ARGO_ABI_CHECK
#undef ARGO_ABI_SIZE

#endif /* ARGO_ABI_H */
