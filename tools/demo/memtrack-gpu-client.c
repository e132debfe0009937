// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack-gpu-client: what Mesa and compositors do with a camera frame.
 *
 *   memtrack-gpu-client --from PID --name NAME [--ready-file FILE]
 *
 * Takes the dma-buf named NAME from process PID (pidfd_getfd(), as a
 * compositor receives a client's buffer), imports it into the GPU's DRM
 * file with PRIME (vgem's /dev/dri/card0 in the test guest), closes the
 * fd and keeps the GEM handle, then waits until killed.  The buffer stays
 * alive through the handle alone: memtrack counts this process as one of
 * its holders (0 fds, 1 handle); a procfs scan cannot see it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <drm/drm.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "memtrack-gpu-client: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The fd number of PID's dma-buf named @name, from its fdinfo. */
static int find_fd(int pid, const char *name)
{
	char path[320], line[256], want[256];
	struct dirent *d;
	DIR *dir;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	snprintf(want, sizeof(want), "name:\t%s\n", name);
	dir = opendir(path);
	if (!dir)
		die(path);
	while (found < 0 && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strcmp(line, want))
				found = atoi(d->d_name);
		fclose(f);
	}
	closedir(dir);
	return found;
}

int main(int argc, char **argv)
{
	const char *name = NULL, *ready = NULL;
	struct drm_prime_handle p = { 0 };
	int pid = 0, i, pidfd, fd, card;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--from") && i + 1 < argc)
			pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--ready-file") && i + 1 < argc)
			ready = argv[++i];
		else
			pid = 0, name = NULL, i = argc;
	}
	if (pid <= 0 || !name) {
		fprintf(stderr, "usage: memtrack-gpu-client --from PID --name NAME [--ready-file FILE]\n");
		return 1;
	}
	prctl(PR_SET_NAME, "gpu-client");
	fd = find_fd(pid, name);
	if (fd < 0) {
		fprintf(stderr, "memtrack-gpu-client: process %d has no dma-buf named %s\n",
			pid, name);
		return 1;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (fd < 0)
		die("pidfd_getfd");
	card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (card < 0)
		die("/dev/dri/card0");
	p.fd = fd;
	if (ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p))
		die("PRIME import");
	/* The handle alone keeps the frame alive from here on. */
	close(fd);
	close(pidfd);
	if (ready) {
		f = fopen(ready, "w");
		if (!f)
			die(ready);
		fprintf(f, "gpu=%d handle=%u\n", getpid(), p.handle);
		fclose(f);
	}
	pause();
	return 0;
}
