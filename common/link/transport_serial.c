/* SPDX-License-Identifier: MIT */
/*
 * The serial transport: a byte stream through a virtio-serial port or a
 * pty, the natural L1 <-> L0 channel on KVM/QEMU.
 *
 *   connect = /dev/virtio-ports/NAME   in the guest: the port's device
 *   connect = /dev/pts/N               a pty (tests, a QEMU -serial pty)
 *   connect = /run/qemu/l1.sock        on the host: the chardev's unix socket,
 *                                      QEMU/libvirt in server mode
 *   listen  = /run/argo-relay/l1.sock  on the host: a unix socket the
 *                                      chardev connects to (client mode)
 *
 * A device is opened O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC; when it is
 * a terminal (a pty, a real UART) it is put in raw mode: no echo, no line
 * editing, no CR/LF translation, no XON/XOFF flow control, 8 bits, no
 * parity, CLOCAL, so that every byte value passes unmodified. A virtio
 * port is not a terminal and needs none of that.
 *
 * is_socket is 0: the fd may be a terminal. When the address is a unix
 * socket, connect() returns only a connected socket (unix stream connects
 * complete at once), so the link never needs SO_ERROR here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "transport.h"

static int serial_check_address(const char *address, const char **why)
{
	struct sockaddr_un sun;

	if (!address || !*address) {
		if (why)
			*why = "a serial address is a device path or a unix socket path";
		return -EINVAL;
	}
	if (strlen(address) >= sizeof(sun.sun_path)) {
		if (why)
			*why = "a serial address (device or unix socket path) is at most 107 bytes "
			       "long";
		return -EINVAL;
	}
	return 0;
}

/* Raw 8N1, no flow control, no echo, no translation: bytes in, bytes out. */
static int make_raw(int fd)
{
	struct termios tio;

	if (tcgetattr(fd, &tio) < 0)
		return -errno;
	cfmakeraw(&tio);
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | INPCK | IUCLC | IMAXBEL);
	tio.c_iflag |= IGNPAR;
	tio.c_oflag &= ~(tcflag_t)OPOST;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ICANON | ISIG | IEXTEN);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS | HUPCL);
	tio.c_cflag |= CS8 | CLOCAL | CREAD;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &tio) < 0)
		return -errno;
	return 0;
}

static int serial_connect(const char *address)
{
	const char *why;
	struct stat st;
	int fd, rc;

	if (serial_check_address(address, &why) < 0)
		return -EINVAL;
	if (stat(address, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode))
		return transport_get(TRANSPORT_UNIX)->connect(address);
	if (!S_ISCHR(st.st_mode))
		return -ENODEV; /* a regular file, a directory, a FIFO: not a port */
	fd = open(address, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (isatty(fd)) {
		rc = make_raw(fd);
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	return fd;
}

static int serial_listen(const char *address)
{
	return transport_get(TRANSPORT_UNIX)->listen(address);
}

static int serial_accept(int listen_fd, struct transport_peer *peer)
{
	return transport_get(TRANSPORT_UNIX)->accept(listen_fd, peer);
}

extern const struct transport_ops transport_serial_ops;
const struct transport_ops transport_serial_ops = {
    .kind = TRANSPORT_SERIAL,
    .check_address = serial_check_address,
    .listen = serial_listen,
    .accept = serial_accept,
    .connect = serial_connect,
    .is_socket = 0,
};
