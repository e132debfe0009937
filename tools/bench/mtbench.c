// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtbench: memtrack's benchmarks, run inside the guest by tools/bench/run.
 *
 *   mtbench hot [--listener]   fd hot paths, in operations per second
 *   mtbench read               netlink against procfs on 100,000 references
 *   mtbench events             event throughput and loss by receive buffer
 *   mtbench memory             slab bytes per reference, struct growth
 *   mtbench contend            1 and 2 processes on the fd and mapping
 *                              paths at once, for lock contention (2 vCPUs)
 *   mtbench scale read|fork    growth curves: the full read against the
 *                              references, one pid against the processes,
 *                              fork against the buffers held
 *   mtbench scale read BUFS    the full read's point for 1,000 processes
 *                              of BUFS buffers alone (a quick check)
 *   mtbench bpfscan [--mapped] [--pinned DIR]
 *                              the BPF iterator baseline as a user runs
 *                              it: load (or open pinned iterators), read,
 *                              one "pid buffers bytes" line per process
 *
 * Every line of output is "key value [unit]" so that the host script can
 * build a table.  Times are guest CLOCK_MONOTONIC; under QEMU -icount
 * they count instructions, which makes runs deterministic.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-heap.h>
#if __has_include(<drm/drm.h>)
#include <drm/drm.h>
#include <drm/drm_mode.h>
#define MTBENCH_GEM 1
#endif
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/genetlink.h>
#include <linux/memtrack.h>
#include <linux/netlink.h>
#include <memtrack-nl.h>
#ifdef MTBENCH_BPF
#include "bpfscan.h"
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int heap_fd = -1;

static int dmabuf(size_t size)
{
	struct dma_heap_allocation_data d = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };

	if (heap_fd < 0)
		heap_fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap_fd < 0 || ioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0) {
		perror("dma-heap");
		exit(1);
	}
	return (int)d.fd;
}

static void report(const char *name, uint64_t ops, uint64_t ns)
{
	printf("%s %.0f ops/s\n", name, (double)ops * 1e9 / (double)(ns ? ns : 1));
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Hot paths                                                           */

#define N_CHEAP 20000

static void bench_open_close(void)
{
	uint64_t t = now_ns();
	int i;

	for (i = 0; i < N_CHEAP; i++)
		close(open("/dev/null", O_RDONLY));
	report("open_close_devnull", N_CHEAP, now_ns() - t);
}

static void bench_dup_close(const char *name, int fd)
{
	uint64_t t = now_ns();
	int i;

	for (i = 0; i < N_CHEAP; i++)
		close(dup(fd));
	report(name, N_CHEAP, now_ns() - t);
}

/* Map one page of a buffer and unmap it: the VMA open and close hooks. */
static void bench_mmap_munmap(const char *name, int fd)
{
	uint64_t t = now_ns();
	int i;

	for (i = 0; i < N_CHEAP / 4; i++) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED)
			exit(1);
		munmap(p, 4096);
	}
	report(name, N_CHEAP / 4, now_ns() - t);
}

static void bench_pipe_close(void)
{
	uint64_t t = now_ns();
	int i, p[2];

	for (i = 0; i < N_CHEAP / 2; i++) {
		if (pipe(p))
			exit(1);
		close(p[0]);
		close(p[1]);
	}
	report("pipe_close", N_CHEAP / 2, now_ns() - t);
}

static void bench_socketpair_close(void)
{
	uint64_t t = now_ns();
	int i, p[2];

	for (i = 0; i < N_CHEAP / 4; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
			exit(1);
		close(p[0]);
		close(p[1]);
	}
	report("socketpair_close", N_CHEAP / 4, now_ns() - t);
}

static void bench_dup2_over_dmabuf(int a, int b)
{
	uint64_t t = now_ns();
	int i, target = dup(b);

	/* Alternate so that each dup2 replaces the other buffer's fd. */
	for (i = 0; i < N_CHEAP; i++)
		dup2(i & 1 ? a : b, target);
	close(target);
	report("dmabuf_dup2_over_dmabuf", N_CHEAP, now_ns() - t);
}

static void bench_scm_rights(int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], data = 'x';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	uint64_t t;
	int i, sv[2], n = N_CHEAP / 4;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		exit(1);
	t = now_ns();
	for (i = 0; i < n; i++) {
		int got;

		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sv[0], &msg, 0) != 1)
			exit(1);
		msg.msg_controllen = sizeof(cbuf);
		if (recvmsg(sv[1], &msg, 0) != 1)
			exit(1);
		memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
		close(got);
	}
	report("dmabuf_scm_rights_send_recv", n, now_ns() - t);
	close(sv[0]);
	close(sv[1]);
}

static void bench_pidfd_getfd(int fd)
{
	int pidfd, i, n = N_CHEAP / 4;
	uint64_t t;
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	t = now_ns();
	for (i = 0; i < n; i++)
		close((int)syscall(SYS_pidfd_getfd, pidfd, fd, 0));
	report("dmabuf_pidfd_getfd", n, now_ns() - t);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pidfd);
}

static void *park(void *arg)
{
	char c;

	return read(*(int *)arg, &c, 1) == 1 ? NULL : arg;
}

/*
 * fork + exit + wait of a process holding @nfds distinct dma-bufs.  With
 * @threaded, a parked second thread shares the descriptor table, so the
 * child's copy is counted fd by fd, as the table may change under it
 * (most processes that hold many buffers have threads).
 */
static void bench_fork(int nfds, bool threaded)
{
	int i, *fds = calloc((size_t)nfds + 1, sizeof(int)), n = nfds >= 10000 ? 20 : nfds >= 1000 ? 100 : 300;
	int p[2] = { -1, -1 };
	char name[64];
	pthread_t th;
	uint64_t t;

	if (!fds)
		return;
	if (threaded && (pipe(p) || pthread_create(&th, NULL, park, &p[0]))) {
		free(fds);
		return;
	}
	/* Each fd its own buffer: the worst case for the child's walk. */
	for (i = 0; i < nfds; i++)
		fds[i] = dmabuf(4096);
	t = now_ns();
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	snprintf(name, sizeof(name), "fork_exit_wait_%d_dmabufs%s", nfds,
		 threaded ? "_threaded" : "");
	report(name, n, now_ns() - t);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	free(fds);
	if (threaded) {
		if (write(p[1], "x", 1) == 1)
			pthread_join(th, NULL);
		close(p[0]);
		close(p[1]);
	}
}

static void bench_exec(void)
{
	int i, fds[100], n = 100;
	uint64_t t;

	for (i = 0; i < 100; i++)
		fds[i] = dmabuf(4096);	/* O_CLOEXEC */
	t = now_ns();
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			execl("/bin/true", "true", NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
	}
	report("fork_exec_100_cloexec_dmabufs", n, now_ns() - t);
	for (i = 0; i < 100; i++)
		close(fds[i]);
}

/*
 * A listener in a process of its own, as mtstat --watch is: a thread
 * would share the benchmark's descriptor table and send its forks down
 * the path of a shared table (see bench_fork()).  Returns its
 * pid once it is subscribed, or -1.
 */
static pid_t listener_start(void)
{
	struct mtnl_events_opts o = { .sz = sizeof(o), .rcvbuf = 4 << 20 };
	struct mtnl_events *e;
	struct mtnl_event *ev;
	int ready[2];
	pid_t pid;
	char c = 0;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(ready[0]);
		if (mtnl_events_open(&e, &o))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		close(ready[1]);
		for (;;)
			if (mtnl_events_read(e, &ev, 1000) == 0)
				mtnl_event_free(ev);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1 || c != 'r') {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

#ifdef MTBENCH_GEM
/*
 * GEM handles, on vgem's card: a dumb buffer created and its handle
 * closed (the object is created and freed too), and a system-heap
 * dma-buf imported with PRIME (a foreign import: vgem attaches to it)
 * and its handle closed.
 */
static void bench_gem(void)
{
	int card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	struct drm_gem_close gc = { 0 };
	uint64_t t;
	int i, buf;

	if (card < 0)
		return;
	t = now_ns();
	for (i = 0; i < N_CHEAP / 4; i++) {
		struct drm_mode_create_dumb c = { .width = 64, .height = 64, .bpp = 32 };

		if (ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &c))
			goto out;
		gc.handle = c.handle;
		ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	report("gem_dumb_create_close", N_CHEAP / 4, now_ns() - t);
	buf = dmabuf(4096);
	t = now_ns();
	for (i = 0; i < N_CHEAP / 4; i++) {
		struct drm_prime_handle p = { .fd = buf };

		if (ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p))
			break;
		gc.handle = p.handle;
		ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	if (i == N_CHEAP / 4)
		report("gem_prime_import_close", N_CHEAP / 4, now_ns() - t);
	close(buf);
out:
	close(card);
}
#else
static void bench_gem(void)
{
}
#endif

static int cmd_hot(int listen)
{
	pid_t listener = 0;
	int a, b, p[2];

	if (listen) {
		listener = listener_start();
		if (listener < 0) {
			fprintf(stderr, "mtbench: cannot subscribe\n");
			return 1;
		}
	}
	bench_open_close();
	if (pipe(p))
		return 1;
	bench_dup_close("pipe_dup_close", p[0]);
	bench_pipe_close();
	bench_socketpair_close();
	a = dmabuf(4096);
	b = dmabuf(4096);
	bench_dup_close("dmabuf_dup_close", a);
	bench_mmap_munmap("dmabuf_mmap_munmap", a);
	bench_dup2_over_dmabuf(a, b);
	bench_scm_rights(a);
	bench_pidfd_getfd(a);
	close(a);
	close(b);
	bench_gem();
	bench_fork(0, false);
	bench_fork(100, false);
	bench_fork(1000, false);
	bench_fork(1000, true);
	bench_exec();
	if (listener > 0) {
		kill(listener, SIGKILL);
		waitpid(listener, NULL, 0);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Read side                                                           */

/*
 * The procfs scan of Android's libdmabufinfo, for one process: every fd's
 * link to find dma-bufs, their fdinfo for size and inode, then the maps
 * file for mapped dma-bufs.  Returns the dma-buf fds found.
 */
static int procfs_scan_pid(const char *pid)
{
	char path[512], link[256], line[512];
	struct dirent *de;
	int found = 0;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "/dmabuf:", 8))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			;
		fclose(f);
		found++;
	}
	closedir(dir);
	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strstr(line, "/dmabuf:"))
				found += 0;
		fclose(f);
	}
	return found;
}

static long procfs_scan_all(void)
{
	struct dirent *de;
	long refs = 0;
	DIR *dir = opendir("/proc");

	while (dir && (de = readdir(dir)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			refs += procfs_scan_pid(de->d_name);
	if (dir)
		closedir(dir);
	return refs;
}

/*
 * The floor of a full read: a proc-refs-get dump received into one buffer
 * and not parsed, only its bytes counted.  Returns the bytes, or -1.
 */
static long raw_refs_dump(void)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char attrs[64];
	} req = { 0 };
	static char buf[65536];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	long total = 0, family = -1;
	struct nlattr *a;
	ssize_t len;
	int round;

	if (fd < 0)
		return -1;
	/* Resolve the family, then dump; round 0 is the resolution. */
	for (round = 0; round < 2; round++) {
		memset(&req, 0, sizeof(req));
		req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
		req.n.nlmsg_flags = NLM_F_REQUEST;
		req.n.nlmsg_seq = (uint32_t)round + 1;
		if (round == 0) {
			req.n.nlmsg_type = GENL_ID_CTRL;
			req.g.cmd = CTRL_CMD_GETFAMILY;
			req.g.version = 1;
			a = (struct nlattr *)req.attrs;
			a->nla_type = CTRL_ATTR_FAMILY_NAME;
			a->nla_len = NLA_HDRLEN + sizeof(MEMTRACK_FAMILY_NAME);
			memcpy((char *)a + NLA_HDRLEN, MEMTRACK_FAMILY_NAME,
			       sizeof(MEMTRACK_FAMILY_NAME));
			req.n.nlmsg_len += NLA_ALIGN(a->nla_len);
		} else {
			req.n.nlmsg_type = (uint16_t)family;
			req.n.nlmsg_flags |= NLM_F_DUMP;
			req.g.cmd = MEMTRACK_CMD_PROC_REFS_GET;
			req.g.version = MEMTRACK_FAMILY_VERSION;
		}
		if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa,
			   sizeof(sa)) < 0)
			goto fail;
		for (;;) {
			struct nlmsghdr *nh = (struct nlmsghdr *)buf;
			bool done = false;

			len = recv(fd, buf, sizeof(buf), 0);
			if (len <= 0)
				goto fail;
			for (; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
				if (nh->nlmsg_type == NLMSG_ERROR)
					goto fail;
				if (nh->nlmsg_type == NLMSG_DONE || round == 0)
					done = true;
				if (round == 0 && nh->nlmsg_type == GENL_ID_CTRL) {
					int rem = (int)nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

					a = (struct nlattr *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN);
					for (; rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
					     rem -= NLA_ALIGN(a->nla_len),
					     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
						if (a->nla_type == CTRL_ATTR_FAMILY_ID)
							family = *(uint16_t *)((char *)a + NLA_HDRLEN);
				}
				if (round == 1)
					total += nh->nlmsg_len;
			}
			if (done)
				break;
		}
		if (family < 0)
			goto fail;
	}
	close(fd);
	return total;
fail:
	close(fd);
	return -1;
}

static int count_refs(const struct mtnl_proc *p, void *arg)
{
	*(long *)arg += (long)mtnl_proc_nr_fds(p);
	return 0;
}

static uint64_t run_cmd(const char *cmd)
{
	uint64_t t = now_ns();

	if (system(cmd) != 0)
		fprintf(stderr, "mtbench: '%s' failed\n", cmd);
	return now_ns() - t;
}

#ifdef MTBENCH_BPF
#define MTBENCH_BPF_PIN "/sys/fs/bpf/mtbench"

/*
 * The BPF iterator as a user's tool runs it, end to end: loading it, or
 * with @pinned, opening the iterators an installation pinned in bpffs.
 */
static int cmd_bpfscan(int mapped, const char *pinned)
{
	struct bpfscan_result res;
	struct bpfscan *s;
	int err = pinned ? bpfscan_open_pinned(&s, pinned) :
			   bpfscan_open(&s, MTBENCH_BPF_OBJ);

	if (err) {
		fprintf(stderr, "mtbench: cannot load %s: %s\n",
			pinned ? pinned : MTBENCH_BPF_OBJ, strerror(-err));
		return 1;
	}
	err = bpfscan_run(s, mapped, &res, stdout);
	bpfscan_close(s);
	if (err)
		fprintf(stderr, "mtbench: reading the iterator: %s\n", strerror(-err));
	return err ? 1 : 0;
}

/*
 * As installed: the iterators of @s pinned once in bpffs, a command that
 * opens them; its time, or 0 if they cannot be pinned.
 */
static uint64_t run_pinned(struct bpfscan *s, int mapped)
{
	uint64_t t;

	mkdir("/sys/fs/bpf", 0755);
	mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL);	/* EBUSY if mounted */
	mkdir(MTBENCH_BPF_PIN, 0755);
	if (bpfscan_pin(s, MTBENCH_BPF_PIN, true)) {
		fprintf(stderr, "mtbench: cannot pin the iterators in %s\n", MTBENCH_BPF_PIN);
		return 0;
	}
	t = run_cmd(mapped ? "/usr/libexec/memtrack/mtbench bpfscan --mapped --pinned "
			     MTBENCH_BPF_PIN " >/dev/null" :
			     "/usr/libexec/memtrack/mtbench bpfscan --pinned "
			     MTBENCH_BPF_PIN " >/dev/null");
	bpfscan_pin(s, MTBENCH_BPF_PIN, false);
	return t;
}

/*
 * The in-process figures of the baseline: the load once, then a scan with
 * the iterators attached, which must find what the procfs scan found.
 */
static int bench_bpf(struct bpfscan **s, int mapped, long refs_truth)
{
	struct bpfscan_result res;
	uint64_t t = now_ns();
	int err;

	if (!*s) {
		err = bpfscan_open(s, MTBENCH_BPF_OBJ);
		if (err) {
			printf("read_bpf_unavailable %d errno\n", -err);
			return 0;
		}
		printf("read_bpf_load %" PRIu64 " ns\n", now_ns() - t);
		t = now_ns();
	}
	err = bpfscan_run(*s, mapped, &res, NULL);
	t = now_ns() - t;
	if (!err) {
		uint64_t r = now_ns();
		long bytes = bpfscan_read(*s, mapped);

		printf("read_full_bpf_raw%s %" PRIu64 " ns (%ld bytes, not summed)\n",
		       mapped ? "_mapped" : "", now_ns() - r, bytes);
	}
	if (err || res.fds != refs_truth) {
		fprintf(stderr, "mtbench: the BPF scan found %ld dma-buf fds, procfs %ld (%s)\n",
			res.fds, refs_truth, strerror(err ? -err : 0));
		return 1;
	}
	printf("read_full_bpf_iter%s %" PRIu64 " ns (%ld fds, %ld mappings, %ld processes)\n",
	       mapped ? "_mapped" : "", t, res.fds, res.mappings, res.procs);
	/* A warm second scan: buffers and tables already touched once. */
	t = now_ns();
	err = bpfscan_run(*s, mapped, &res, NULL);
	printf("read_full_bpf_iter_warm%s %" PRIu64 " ns\n", mapped ? "_mapped" : "",
	       now_ns() - t);
	printf("read_full_bpf_tool%s %" PRIu64 " ns\n", mapped ? "_mapped" : "",
	       run_cmd(mapped ? "/usr/libexec/memtrack/mtbench bpfscan --mapped >/dev/null" :
				"/usr/libexec/memtrack/mtbench bpfscan >/dev/null"));
	t = run_pinned(*s, mapped);
	if (!t)
		return 1;
	printf("read_full_bpf_pinned%s %" PRIu64 " ns\n", mapped ? "_mapped" : "", t);
	return err ? 1 : 0;
}
#endif

static int cmd_read(void)
{
	enum { PROCS = 1000, BUFS = 100, MAPPED = 10 };
	int i, ready[2], go[2], mapgo[2], bufs[BUFS];
	pid_t *pids = calloc(PROCS, sizeof(pid_t));
	uint64_t t, nl_ns, pf_ns, mt_ns, mtp_ns, one_nl, one_pf;
	uint64_t nlm_ns, pfm_ns, mtm_ns, mtpid_ns, mtbuf_ns, raw_ns, true_ns;
	long raw_bytes, refs_fig = 0;
	uint64_t fig_ns;
	char cmd[64];
	struct rlimit rl = { 4096, 4096 };
	long refs_nl = 0, refs_pf;
	struct mtnl *h;
	char pidstr[16], ch;
#ifdef MTBENCH_BPF
	struct bpfscan *bpf = NULL;
#endif

	for (i = 0; i < BUFS; i++)
		bufs[i] = dmabuf(4096);
	if (pipe(ready) || pipe(go) || pipe(mapgo))
		return 1;
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int j;

			close(go[1]);
			close(mapgo[1]);
			if (write(ready[1], "r", 1) != 1 || read(mapgo[0], &ch, 1) < 0)
				_exit(1);
			/* Second phase: map MAPPED of the buffers, one VMA each. */
			for (j = 0; j < MAPPED; j++)
				if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, bufs[j], 0) ==
				    MAP_FAILED)
					_exit(1);
			if (write(ready[1], "m", 1) != 1 || read(go[0], &ch, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < PROCS; i++)
		if (read(ready[0], &ch, 1) != 1)
			return 1;
	if (mtnl_open(&h))
		return 1;

	t = now_ns();
	mtnl_proc_dump(h, NULL, count_refs, &refs_nl, NULL);
	nl_ns = now_ns() - t;
	t = now_ns();
	refs_pf = procfs_scan_all();
	pf_ns = now_ns() - t;
	t = now_ns();
	raw_bytes = raw_refs_dump();
	raw_ns = now_ns() - t;
	t = now_ns();
	mtnl_proc_dump_figures(h, NULL, count_refs, &refs_fig, NULL);
	fig_ns = now_ns() - t;
	mt_ns = run_cmd("mtstat -j >/dev/null");
	mtp_ns = run_cmd("mtstat --source=procfs -j >/dev/null");
	/* What running a command costs: the floor of any mtstat figure. */
	true_ns = run_cmd("true");
	/* What a user asks about one process, or the buffers, on that system. */
	snprintf(cmd, sizeof(cmd), "mtstat -j -p %d >/dev/null", (int)pids[PROCS / 2]);
	mtpid_ns = run_cmd(cmd);
	mtbuf_ns = run_cmd("mtstat -j -b >/dev/null");
	printf("read_references_netlink %ld refs\n", refs_nl);
	printf("read_references_procfs %ld refs\n", refs_pf);
	printf("read_full_dump_library %" PRIu64 " ns\n", nl_ns);
	printf("read_full_dump_raw %" PRIu64 " ns\n", raw_ns);
	printf("read_figures_library %" PRIu64 " ns (%ld fds)\n", fig_ns, refs_fig);
	printf("read_full_dump_raw_bytes %ld bytes\n", raw_bytes);
	printf("read_command_floor %" PRIu64 " ns\n", true_ns);
	printf("read_full_scan_procfs %" PRIu64 " ns\n", pf_ns);
	printf("read_full_mtstat_netlink %" PRIu64 " ns\n", mt_ns);
	printf("read_full_mtstat_procfs %" PRIu64 " ns\n", mtp_ns);
	printf("read_pid_mtstat_netlink %" PRIu64 " ns\n", mtpid_ns);
	printf("read_buffers_mtstat_netlink %" PRIu64 " ns\n", mtbuf_ns);
	printf("read_ns_per_reference_library %.1f ns\n", (double)nl_ns / (double)refs_nl);
	printf("read_ns_per_reference_procfs %.1f ns\n", (double)pf_ns / (double)refs_pf);
#ifdef MTBENCH_BPF
	if (bench_bpf(&bpf, 0, refs_pf))
		return 1;
#endif

	/*
	 * The same with every process mapping MAPPED of its buffers: replies
	 * then read the bytes mapped from each process's VMAs.
	 */
	close(mapgo[1]);
	for (i = 0; i < PROCS; i++)
		if (read(ready[0], &ch, 1) != 1 || ch != 'm')
			return 1;
	refs_nl = 0;
	t = now_ns();
	mtnl_proc_dump(h, NULL, count_refs, &refs_nl, NULL);
	nlm_ns = now_ns() - t;
	t = now_ns();
	procfs_scan_all();
	pfm_ns = now_ns() - t;
	mtm_ns = run_cmd("mtstat -j >/dev/null");
	printf("read_full_dump_library_mapped %" PRIu64 " ns\n", nlm_ns);
	printf("read_full_scan_procfs_mapped %" PRIu64 " ns\n", pfm_ns);
	printf("read_full_mtstat_netlink_mapped %" PRIu64 " ns\n", mtm_ns);
#ifdef MTBENCH_BPF
	if (bench_bpf(&bpf, 1, refs_pf))
		return 1;
	bpfscan_close(bpf);
#endif

	close(go[1]);
	for (i = 0; i < PROCS; i++)
		waitpid(pids[i], NULL, 0);
	for (i = 0; i < BUFS; i++)
		close(bufs[i]);

	/* One process with 1,000 fds, 10 of them dma-bufs. */
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < 990; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			return 1;
	for (i = 0; i < 10; i++)
		dmabuf(4096);
	snprintf(pidstr, sizeof(pidstr), "%d", getpid());
	t = now_ns();
	for (i = 0; i < 100; i++) {
		struct mtnl_proc *p;

		if (mtnl_proc_get(h, (uint32_t)getpid(), &p) == 0)
			mtnl_proc_free(p);
	}
	one_nl = (now_ns() - t) / 100;
	t = now_ns();
	for (i = 0; i < 10; i++)
		procfs_scan_pid(pidstr);
	one_pf = (now_ns() - t) / 10;
	printf("read_single_pid_netlink %" PRIu64 " ns\n", one_nl);
	printf("read_single_pid_procfs %" PRIu64 " ns\n", one_pf);
	mtnl_close(h);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Scaling                                                             */

struct population {
	pid_t *pids;
	int nr, go[2];
};

/*
 * @procs children that each hold the same @bufs dma-bufs (the parent's,
 * closed again once they are inherited) and sleep until released.
 */
static int populate(struct population *pop, int procs, int bufs)
{
	int i, ready[2], *fds = calloc((size_t)bufs + 1, sizeof(int));
	char ch;

	pop->pids = calloc((size_t)procs, sizeof(pid_t));
	pop->nr = 0;
	if (!fds || !pop->pids || pipe(ready) || pipe(pop->go))
		return -1;
	for (i = 0; i < bufs; i++)
		fds[i] = dmabuf(4096);
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return -1;
		if (pid == 0) {
			close(pop->go[1]);
			if (write(ready[1], "r", 1) != 1 || read(pop->go[0], &ch, 1) < 0)
				_exit(1);
			_exit(0);
		}
		pop->pids[pop->nr++] = pid;
	}
	for (i = 0; i < bufs; i++)
		close(fds[i]);
	free(fds);
	for (i = 0; i < procs; i++)
		if (read(ready[0], &ch, 1) != 1)
			return -1;
	close(ready[0]);
	close(ready[1]);
	close(pop->go[0]);
	return 0;
}

static void depopulate(struct population *pop)
{
	int i;

	close(pop->go[1]);
	for (i = 0; i < pop->nr; i++)
		waitpid(pop->pids[i], NULL, 0);
	free(pop->pids);
}

/*
 * Growth curves for the plots of benchmarks.rst: the full read against
 * the number of references, and a one-process query against the number of
 * processes.  One line per point: "scale_<what> <x> <key>=<ns> ...".
 */
static int cmd_scale_read(int only_bufs)
{
	static const int bufs[] = { 1, 10, 100, 1000 };
	static const int procs[] = { 10, 100, 1000, 10000 };
	struct rlimit rl = { 8192, 8192 };
	struct population pop;
	struct mtnl *h;
	unsigned int i;
	FILE *f;
	int j;

	if (setrlimit(RLIMIT_NOFILE, &rl) || mtnl_open(&h))
		return 1;
	/* tinyconfig's default pid_max (4,096) is below the largest system. */
	f = fopen("/proc/sys/kernel/pid_max", "we");
	if (!f || fputs("32768", f) < 0 || fclose(f))
		return 1;
	/* 1,000 processes holding 1 to 1,000 buffers: 1k to 1M references. */
	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		uint64_t t, lib, mt, pf, raw;
		long refs = 0, refs_pf;

		if (only_bufs && bufs[i] != only_bufs)
			continue;
		if (populate(&pop, 1000, bufs[i]))
			return 1;
		t = now_ns();
		mtnl_proc_dump(h, NULL, count_refs, &refs, NULL);
		lib = now_ns() - t;
		t = now_ns();
		raw_refs_dump();
		raw = now_ns() - t;
		mt = run_cmd("mtstat -j >/dev/null");
		t = now_ns();
		refs_pf = procfs_scan_all();
		pf = now_ns() - t;
		if (refs != refs_pf) {
			fprintf(stderr, "mtbench: netlink %ld references, procfs %ld\n", refs, refs_pf);
			return 1;
		}
		printf("scale_dump %ld library=%" PRIu64 " raw=%" PRIu64 " mtstat=%" PRIu64
		       " procfs=%" PRIu64, refs, lib, raw, mt, pf);
#ifdef MTBENCH_BPF
		{
			struct bpfscan_result res;
			struct bpfscan *s;

			if (bpfscan_open(&s, MTBENCH_BPF_OBJ) == 0) {
				t = now_ns();
				if (bpfscan_run(s, false, &res, NULL) || res.fds != refs_pf) {
					fprintf(stderr, "mtbench: the BPF scan disagrees with procfs\n");
					return 1;
				}
				printf(" bpf_iter=%" PRIu64, now_ns() - t);
				t = run_pinned(s, false);
				if (!t)
					return 1;
				printf(" bpf_pinned=%" PRIu64, t);
				bpfscan_close(s);
				printf(" bpf_tool=%" PRIu64,
				       run_cmd("/usr/libexec/memtrack/mtbench bpfscan >/dev/null"));
			}
		}
#endif
		printf("\n");
		fflush(stdout);
		depopulate(&pop);
	}
	/* One process with 10 buffers, among 10 to 10,000 processes. */
	for (i = 0; !only_bufs && i < sizeof(procs) / sizeof(procs[0]); i++) {
		uint64_t t, lib, mt, pf;
		char cmd[64], pidstr[16];
		pid_t pid;

		if (populate(&pop, procs[i], 10))
			return 1;
		pid = pop.pids[pop.nr / 2];
		t = now_ns();
		for (j = 0; j < 100; j++) {
			struct mtnl_proc *p;

			if (mtnl_proc_get(h, (uint32_t)pid, &p))
				return 1;
			mtnl_proc_free(p);
		}
		lib = (now_ns() - t) / 100;
		snprintf(cmd, sizeof(cmd), "mtstat -j -p %d >/dev/null", (int)pid);
		mt = run_cmd(cmd);
		snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
		t = now_ns();
		for (j = 0; j < 10; j++)
			procfs_scan_pid(pidstr);
		pf = (now_ns() - t) / 10;
		printf("scale_pid %d library=%" PRIu64 " mtstat=%" PRIu64 " procfs=%" PRIu64 "\n",
		       procs[i], lib, mt, pf);
		fflush(stdout);
		depopulate(&pop);
	}
	mtnl_close(h);
	return 0;
}

/* fork + exit + wait against the number of distinct dma-bufs held. */
static int cmd_scale_fork(void)
{
	static const int bufs[] = { 0, 10, 100, 1000, 10000 };
	struct rlimit rl = { 16384, 16384 };
	unsigned int i;

	if (setrlimit(RLIMIT_NOFILE, &rl))
		return 1;
	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		bench_fork(bufs[i], false);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

struct storm {
	int iterations;
};

static void *storm_thread(void *arg)
{
	struct storm *s = arg;
	int i;

	/* Each iteration makes two events: install, and close. */
	for (i = 0; i < s->iterations; i++)
		close(dmabuf(4096));
	return NULL;
}

struct drain {
	struct mtnl_events *e;
	volatile int stop;
	uint64_t got;
	uint64_t lost_known;
	int loss_reports;
};

/* A listener that keeps up as well as it can, during the storm. */
static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	struct mtnl_event *ev;

	for (;;) {
		int ret = mtnl_events_read(d->e, &ev, 200);

		if (ret == -EAGAIN && d->stop)
			break;
		if (ret)
			continue;
		if (mtnl_event_kind(ev) == MTNL_EVENT_LOST) {
			d->loss_reports++;
			d->lost_known += mtnl_event_lost(ev);
		} else {
			d->got++;
		}
		mtnl_event_free(ev);
	}
	return NULL;
}

static int cmd_events(void)
{
	static const int sizes[] = { 16384, 65536, 262144, 1048576, 4194304, 16777216 };
	unsigned int k;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct mtnl_events_opts o = { .sz = sizeof(o), .rcvbuf = sizes[k] };
		struct storm s = { .iterations = 2000 };
		struct drain d = { 0 };
		pthread_t t1, t2, td;
		uint64_t t, storm_ns;

		if (mtnl_events_open(&d.e, &o))
			return 1;
		pthread_create(&td, NULL, drain_thread, &d);
		t = now_ns();
		pthread_create(&t1, NULL, storm_thread, &s);
		pthread_create(&t2, NULL, storm_thread, &s);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		storm_ns = now_ns() - t;
		d.stop = 1;
		pthread_join(td, NULL);
		printf("events_rcvbuf_%d %" PRIu64 " of 8000 received, %d loss report(s)%s\n",
		       sizes[k], d.got, d.loss_reports,
		       d.got == 8000 && !d.loss_reports ? ", no loss" :
		       d.loss_reports ? ", loss detected" : ", LOSS NOT DETECTED");
		printf("events_rate_rcvbuf_%d %.0f events/s\n", sizes[k],
		       (double)d.got * 1e9 / (double)storm_ns);
		mtnl_events_close(d.e);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Contention                                                          */

#define N_CONTEND 20000

/*
 * One worker's loop.  "own": dup and close of a buffer only this process
 * holds (its table's lock).  "shared": a buffer every worker maps once
 * and takes an fd to and closes again, each time through pidfd_getfd(),
 * so that every iteration pairs and unpairs the fd's reference with the
 * mapping's (memtrack_pair_lock) and moves the buffer's holders count.
 */
static void contend_loop(const char *kind, int fd, int pidfd)
{
	int i;

	if (!strcmp(kind, "own")) {
		for (i = 0; i < N_CONTEND; i++)
			close(dup(fd));
		return;
	}
	for (i = 0; i < N_CONTEND / 4; i++)
		close((int)syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

/* Wall time of @workers processes running contend_loop() at once. */
static uint64_t contend_run(const char *kind, int workers, int shared)
{
	int i, start[2], ready[2], pidfd;
	pid_t pids[2];
	uint64_t t;
	char ch;

	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0 || pipe(start) || pipe(ready))
		exit(1);
	for (i = 0; i < workers; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int fd = strcmp(kind, "own") ? shared : dmabuf(4096);

			if (strcmp(kind, "own") &&
			    mmap(NULL, 4096, PROT_READ, MAP_SHARED, shared, 0) == MAP_FAILED)
				_exit(1);
			/* Hold the shared buffer only through the mapping. */
			if (strcmp(kind, "own"))
				close(shared);
			close(start[1]);
			if (write(ready[1], "r", 1) != 1 || read(start[0], &ch, 1) < 0)
				_exit(1);
			contend_loop(kind, fd, pidfd);
			_exit(0);
		}
	}
	for (i = 0; i < workers; i++)
		if (read(ready[0], &ch, 1) != 1)
			exit(1);
	t = now_ns();
	close(start[1]);
	for (i = 0; i < workers; i++)
		waitpid(pids[i], NULL, 0);
	t = now_ns() - t;
	close(start[0]);
	close(ready[0]);
	close(ready[1]);
	close(pidfd);
	return t;
}

static int cmd_contend(void)
{
	static const char *const kinds[] = { "own", "shared" };
	int shared = dmabuf(4096);
	unsigned int k;

	for (k = 0; k < 2; k++) {
		uint64_t one = contend_run(kinds[k], 1, shared);
		uint64_t two = contend_run(kinds[k], 2, shared);

		printf("contend_%s_1_worker %" PRIu64 " ns\n", kinds[k], one);
		printf("contend_%s_2_workers %" PRIu64 " ns\n", kinds[k], two);
		/* 1.0: two workers take as long as one (no contention). */
		printf("contend_%s_scaling %.3f\n", kinds[k], (double)two / (double)one);
	}
	close(shared);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */

static long slab_value(const char *cache, const char *file)
{
	char path[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, file);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int cmd_memory(void)
{
	long slab, objs;

	printf("files_struct_object_size %ld bytes\n", slab_value("files_cache", "object_size"));
	slab = slab_value("memtrack_ref", "slab_size");
	objs = slab_value("memtrack_ref", "objs_per_slab");
	printf("memtrack_ref_object_size %ld bytes\n", slab_value("memtrack_ref", "object_size"));
	printf("memtrack_ref_slab_size %ld bytes\n", slab);
	printf("memtrack_ref_objs_per_slab %ld\n", objs);
	printf("memtrack_files_object_size %ld bytes\n", slab_value("memtrack_files", "object_size"));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "hot"))
		return cmd_hot(argc >= 3 && !strcmp(argv[2], "--listener"));
	if (argc >= 2 && !strcmp(argv[1], "read"))
		return cmd_read();
	if (argc >= 2 && !strcmp(argv[1], "events"))
		return cmd_events();
	if (argc >= 2 && !strcmp(argv[1], "memory"))
		return cmd_memory();
	if (argc >= 2 && !strcmp(argv[1], "contend"))
		return cmd_contend();
	if (argc >= 3 && !strcmp(argv[1], "scale") && !strcmp(argv[2], "read"))
		return cmd_scale_read(argc >= 4 ? atoi(argv[3]) : 0);
	if (argc >= 3 && !strcmp(argv[1], "scale") && !strcmp(argv[2], "fork"))
		return cmd_scale_fork();
#ifdef MTBENCH_BPF
	if (argc >= 2 && !strcmp(argv[1], "bpfscan")) {
		const char *pinned = NULL;
		int i, mapped = 0;

		for (i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--mapped"))
				mapped = 1;
			else if (!strcmp(argv[i], "--pinned") && i + 1 < argc)
				pinned = argv[++i];
		}
		return cmd_bpfscan(mapped, pinned);
	}
#endif
	fprintf(stderr, "usage: mtbench hot [--listener] | read | events | memory | contend | scale read [BUFS]|fork | bpfscan [--mapped] [--pinned DIR]\n");
	return 2;
}
