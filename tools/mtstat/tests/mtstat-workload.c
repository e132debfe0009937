// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat-workload: scripted dma-buf activity with a known event sequence,
 * for mtstat's --watch tests.
 *
 *   mtstat-workload            the script below; prints
 *                              "parent=PID child=PID" when done
 *   mtstat-workload --flood N  allocate and close N buffers, 2N events
 *   mtstat-workload --leader-exit FILE
 *                              hold a 64 KiB buffer named w-live in a
 *                              thread while the main thread has exited
 *                              (a zombie group leader), write
 *                              "pid=PID tid=TID" to FILE, wait for a signal
 *   mtstat-workload --zombie FILE
 *                              hold nothing, fork a child that exits and
 *                              is never reaped, write "zombie=PID" to
 *                              FILE, wait for a signal
 *
 * The script, and the events memtrack must report for it:
 *
 *   a = 64 KiB system-heap buffer, named w-a      install (parent)
 *   dup(a), close the dup                         (silent)
 *   mmap(a), close(a)                             (silent: still mapped)
 *   fork; the child inherits only the mapping     fork (child, 1 buffer)
 *   the child exits                               bulk/exit, 1 removed (child)
 *   munmap                                        uninstall/unmap w-a (parent)
 *   b = 32 KiB udmabuf, named w-b                 install (parent)
 *   close(b)                                      uninstall/close w-b (parent)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>

static void die(const char *what)
{
	fprintf(stderr, "mtstat-workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int heap_alloc(size_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

	if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d))
		die("system heap");
	close(heap);
	return (int)d.fd;
}

static int udmabuf_alloc(size_t size)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	int memfd = memfd_create("w", MFD_ALLOW_SEALING);
	struct udmabuf_create c = { .size = size, .flags = UDMABUF_FLAGS_CLOEXEC };
	int fd;

	if (dev < 0 || memfd < 0 || ftruncate(memfd, (off_t)size) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		die("udmabuf setup");
	c.memfd = (uint32_t)memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	if (fd < 0)
		die("udmabuf");
	close(memfd);
	close(dev);
	return fd;
}

static void name(int fd, const char *n)
{
	if (ioctl(fd, DMA_BUF_SET_NAME_B, n))
		die("DMA_BUF_SET_NAME");
}

/* Wait until thread @tid of @pid is a zombie. */
static void wait_zombie(pid_t pid, pid_t tid)
{
	char path[64], line[512], *st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	for (;;) {
		f = fopen(path, "re");
		st = f && fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		if (f)
			fclose(f);
		if (st && st[1] == ' ' && st[2] == 'Z')
			return;
		usleep(10000);
	}
}

/* Write @text to @file whole: a reader polling for it never sees half. */
static void report(const char *file, const char *text)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) || rename(tmp, file))
		die("report file");
}

/* The thread that outlives the main thread, for --leader-exit FILE. */
static void *survivor(void *arg)
{
	pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
	char text[64];

	/* Report once the group leader is a zombie. */
	wait_zombie(pid, pid);
	snprintf(text, sizeof(text), "pid=%d tid=%d\n", pid, tid);
	report(arg, text);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int a, b, d, status;
	pid_t child;
	void *p;

	if (argc == 3 && !strcmp(argv[1], "--flood")) {
		long i, n = strtol(argv[2], NULL, 10);

		for (i = 0; i < n; i++)
			close(heap_alloc(4096));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--leader-exit")) {
		pthread_t t;

		a = heap_alloc(64 * 1024);
		name(a, "w-live");
		if (pthread_create(&t, NULL, survivor, argv[2]))
			die("pthread_create");
		pthread_exit(NULL);
	}
	if (argc == 3 && !strcmp(argv[1], "--zombie")) {
		char text[64];

		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0)
			_exit(0);
		wait_zombie(child, child);
		snprintf(text, sizeof(text), "zombie=%d\n", child);
		report(argv[2], text);
		for (;;)
			pause();
	}
	if (argc != 1) {
		fprintf(stderr, "usage: mtstat-workload [--flood N | --leader-exit FILE | --zombie FILE]\n");
		return 2;
	}

	a = heap_alloc(64 * 1024);
	name(a, "w-a");
	d = dup(a);
	if (d < 0)
		die("dup");
	close(d);
	p = mmap(NULL, 64 * 1024, PROT_READ, MAP_SHARED, a, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(a);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		_exit(0);
	if (waitpid(child, &status, 0) != child || status)
		die("child");
	if (munmap(p, 64 * 1024))
		die("munmap");
	b = udmabuf_alloc(32 * 1024);
	name(b, "w-b");
	close(b);
	printf("parent=%d child=%d\n", getpid(), child);
	return 0;
}
