// SPDX-License-Identifier: GPL-2.0-only
/*
 * memtrack-demo: a small graphics-stack-like workload of dma-bufs.
 *
 *   camera       allocates tagged buffers from the system heap and udmabuf,
 *                and passes some to the compositor over SCM_RIGHTS;
 *   compositor   receives them, maps two, and forks a helper that
 *                inherits them;
 *   camera       also keeps one buffer through a mapping only, its fd
 *                closed;
 *   (kernel)     one buffer sits in a socket queue nobody reads: no
 *                process holds it.
 *
 * It writes "camera=PID compositor=PID helper=PID" to --ready-file once
 * everything is in place, then waits for SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MiB (1024UL * 1024UL)

static void die(const char *what)
{
	fprintf(stderr, "memtrack-demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int heap_alloc(size_t size, const char *tag)
{
	struct dma_heap_allocation_data d = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

	if (heap < 0)
		die("open /dev/dma_heap/system");
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) < 0)
		die("DMA_HEAP_IOCTL_ALLOC");
	close(heap);
	if (ioctl((int)d.fd, DMA_BUF_SET_NAME, tag) < 0)
		die("DMA_BUF_SET_NAME");
	return (int)d.fd;
}

static int udmabuf_alloc(size_t size, const char *tag)
{
	struct udmabuf_create c = { .size = size, .flags = UDMABUF_FLAGS_CLOEXEC };
	int memfd = (int)syscall(SYS_memfd_create, "demo", MFD_ALLOW_SEALING);
	int dev, fd;

	if (memfd < 0 || ftruncate(memfd, (off_t)size) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		die("memfd");
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open /dev/udmabuf");
	c.memfd = (uint32_t)memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	if (fd < 0)
		die("UDMABUF_CREATE");
	close(dev);
	close(memfd);
	if (ioctl(fd, DMA_BUF_SET_NAME, tag) < 0)
		die("DMA_BUF_SET_NAME");
	return fd;
}

static void send_fds(int sock, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))], data = 'f';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg");
}

static int recv_fds(int sock, int *fds, int max)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))], data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int n;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg");
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		die("no SCM_RIGHTS");
	n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (n > max)
		n = max;
	memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
	return n;
}

static void wait_for_signal(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &sig);
}

int main(int argc, char **argv)
{
	const char *ready_file = NULL;
	int sv[2], limbo[2], ack[2], fds[8], n, i, status;
	pid_t compositor, helper = 0;
	sigset_t set;
	char c;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ready-file") && i + 1 < argc)
			ready_file = argv[++i];
		else {
			fprintf(stderr, "usage: memtrack-demo [--ready-file FILE]\n");
			return 2;
		}
	}
	/* Signals are taken with sigwait(), in every process. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe(ack))
		die("socketpair");
	compositor = fork();
	if (compositor < 0)
		die("fork");
	if (compositor == 0) {
		int pfd[2];
		void *map;

		prctl(PR_SET_NAME, "compositor");
		close(sv[0]);
		n = recv_fds(sv[1], fds, 8);
		/* Map the two preview buffers: they count in its RSS too. */
		for (i = 0; i < 2 && i < n; i++) {
			map = mmap(NULL, 4 * MiB, PROT_READ, MAP_SHARED, fds[i], 0);
			if (map == MAP_FAILED)
				die("mmap");
		}
		if (pipe(pfd))
			die("pipe");
		helper = fork();
		if (helper == 0) {
			prctl(PR_SET_NAME, "comp-helper");
			close(pfd[0]);
			if (write(pfd[1], "h", 1) != 1)
				die("write");
			wait_for_signal();
			_exit(0);
		}
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			die("read");
		/* Tell the camera the helper's pid, then that all is set. */
		if (write(ack[1], &helper, sizeof(helper)) != sizeof(helper))
			die("write");
		wait_for_signal();
		kill(helper, SIGTERM);
		waitpid(helper, NULL, 0);
		_exit(0);
	}

	prctl(PR_SET_NAME, "camera");
	close(sv[1]);
	fds[0] = heap_alloc(4 * MiB, "camera-preview-0");
	fds[1] = heap_alloc(4 * MiB, "camera-preview-1");
	fds[2] = heap_alloc(8 * MiB, "camera-still");
	fds[3] = udmabuf_alloc(2 * MiB, "gl-texture");
	fds[4] = heap_alloc(1 * MiB, "camera-metadata");
	send_fds(sv[0], fds, 4);
	/* A buffer the camera keeps through a mapping only: no fd. */
	{
		int k = heap_alloc(1 * MiB, "camera-retired");

		if (mmap(NULL, 1 * MiB, PROT_READ, MAP_SHARED, k, 0) == MAP_FAILED)
			die("mmap");
		close(k);
	}
	/*
	 * A buffer only the kernel keeps alive: sent over a socket that
	 * nobody reads, so it sits in the queue and no process holds it.
	 */
	{
		int k = heap_alloc(1 * MiB, "camera-in-flight");

		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, limbo))
			die("socketpair");
		send_fds(limbo[0], &k, 1);
		close(k);
	}
	if (read(ack[0], &helper, sizeof(helper)) != sizeof(helper))
		die("read");
	if (ready_file) {
		f = fopen(ready_file, "w");
		if (!f)
			die(ready_file);
		fprintf(f, "camera=%d compositor=%d helper=%d\n", getpid(),
			compositor, helper);
		fclose(f);
	}
	printf("camera=%d compositor=%d helper=%d\n", getpid(), compositor, helper);
	fflush(stdout);
	wait_for_signal();
	kill(compositor, SIGTERM);
	waitpid(compositor, &status, 0);
	return 0;
}
