/*
 * argo-hcall: issues one Xen hypercall through /dev/xen/privcmd, for the
 * end-to-end smoke tests (no Xen library needed).
 *
 *   argo-hcall version       XENVER_version: prints "MAJOR.MINOR"
 *   argo-hcall argo-notify   argo_op(XEN_ARGO_OP_notify, NULL, NULL, 0, 0):
 *                            0 when Argo is on, EOPNOTSUPP when it is off
 *
 * Prints the result on stdout; exits 0 when the hypercall returned >= 0,
 * 1 when it returned an error (printed as "error N (name)"), 2 when
 * privcmd could not be used at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* From Linux's include/uapi/xen/privcmd.h. */
struct privcmd_hypercall {
	uint64_t op;
	uint64_t arg[5];
};
#define IOCTL_PRIVCMD_HYPERCALL _IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))

/* From Xen's public headers. */
#define HYPERVISOR_xen_version 17
#define HYPERVISOR_argo_op     39
#define XENVER_version         0
#define XEN_ARGO_OP_notify     4

static int open_privcmd(void)
{
	static const char *const paths[] = {"/dev/xen/privcmd", "/proc/xen/privcmd"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = open(paths[i], O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct privcmd_hypercall h;
	const char *what = argc == 2 ? argv[1] : "";

	memset(&h, 0, sizeof(h));
	if (strcmp(what, "version") == 0) {
		h.op = HYPERVISOR_xen_version;
		h.arg[0] = XENVER_version;
	} else if (strcmp(what, "argo-notify") == 0) {
		h.op = HYPERVISOR_argo_op;
		h.arg[0] = XEN_ARGO_OP_notify;
	} else {
		fprintf(stderr, "usage: argo-hcall version|argo-notify\n");
		return 2;
	}

	int fd = open_privcmd();
	if (fd < 0) {
		fprintf(stderr, "argo-hcall: cannot open privcmd: %s\n", strerror(errno));
		return 2;
	}
	long rc = ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &h);
	int err = errno;
	close(fd);
	if (rc < 0) {
		printf("error %d (%s)\n", err, strerror(err));
		return 1;
	}
	if (h.op == HYPERVISOR_xen_version)
		printf("%ld.%ld\n", rc >> 16, rc & 0xffff);
	else
		printf("%ld\n", rc);
	return 0;
}
