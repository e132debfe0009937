// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack model-based stress test with a procfs oracle.
 *
 * A controller drives worker processes through random operations chosen by
 * a seeded generator: allocation from the system heap and udmabuf, a vgem
 * GEM object exported as a dma-buf whose handle and DRM file then go
 * (in either order), dup,
 * dup2, dup3, close, close_range, mmap, munmap, mprotect, mremap,
 * DMA_BUF_SET_NAME, SCM_RIGHTS, pidfd_getfd, fork, exec, exit, a thread
 * that dups and closes then exits, a CLONE_FILES child that unshares, and
 * unshare.  And the ways a process can be more than one task and one
 * table, or less:
 *
 *   leader_exit  the serving thread starts a new thread, which takes over
 *                serving commands, and calls pthread_exit(): once the
 *                main thread has done so, the group leader is a zombie
 *                for the rest of the worker's life (or until it execs);
 *   close_range_unshare
 *                close_range(lo, hi, CLOSE_RANGE_UNSHARE), half of the
 *                time while a clone(CLONE_FILES) child shares the table
 *                (the child exits afterwards, alone with the old table);
 *   spawn        posix_spawn() of a child that exits at once, or a
 *                clone(CLONE_VM | CLONE_VFORK) child that closes a buffer
 *                in its copy of the table and exits without exec;
 *   clone_vm     a clone(CLONE_VM) child (a table copy, the worker's
 *                address space) that maps a buffer and unmaps it or
 *                leaves it mapped, or makes a buffer and leaves only a
 *                mapping of it, closes its fd and exits; the worker maps
 *                a page first, so that it owns its address space's
 *                accounting;
 *   fork_fail    a fork() that fails with EAGAIN after copy_process()
 *                copied the table and the address space: the controller
 *                lowers pid_max to 301 and parks children on the last
 *                free pids around the step, then puts pid_max back.
 *
 * Some steps run two workers at once, and a querier process dumps and
 * queries without pause all along; none of its requests may fail.  At
 * quiescent points every worker's view from memtrack must equal ground
 * truth computed from /proc/PID/fdinfo and /proc/PID/maps (read through a
 * live thread: the leader may be a zombie): the buffers held, fds, mapped
 * bytes, holders, totals, pss and unique.
 *
 * The controller also subscribes to the events group for the whole run
 * (a receive buffer of 64 MiB) and replays the events per pid as they
 * come: each event's total and nr-buffers must follow from the previous
 * event of its pid (install adds the buffer's size and one buffer,
 * uninstall removes them, fork-ntf gives a new process its starting
 * figures), an uninstall must name a process that held the buffer, a
 * worker that exited must be back at zero, and at the end every pid is.
 * A lost event (a gap in sequence numbers, or ENOBUFS) fails the run.
 *
 *   memtrack_stress [--seed N] [--ops N] [--check-every N] [--soak SECONDS]
 *                   [--skip OP[,OP...]]
 *
 * --skip replaces the named local operations (and fork_fail) by a no-op
 * query, keeping the rest of the run as the seed makes it: to tell which
 * operation a failure needs.  On a mismatch it prints the seed, the operations since the last good
 * check and the last events; the same seed replays the same run.
 */
#define _GNU_SOURCE
#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>

#include "mt_lib.h"

#define MAX_WORKERS	8
#define CTRL_FD		500	/* a worker's control socket */
#define FD_LO		3	/* a worker's buffers live in [FD_LO, FD_HI] */
#define FD_HI		200
#define MAX_MAPS	32
#define PAGE		4096UL
#define TRACE_LEN	64

enum op {
	OP_HEAP, OP_UDMABUF, OP_DUP, OP_DUP2, OP_DUP3, OP_CLOSE, OP_CLOSE_RANGE,
	OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_RENAME, OP_THREAD,
	OP_CLONE_FILES, OP_UNSHARE, OP_LEADER_EXIT, OP_CLOSE_RANGE_UNSHARE,
	OP_SPAWN, OP_CLONE_VM, OP_GEM,
	/* Ops the controller takes part in. */
	OP_SEND, OP_RECV, OP_PICK, OP_GETFD, OP_FORK, OP_EXEC, OP_EXIT,
	OP_FORK_FAIL,
	OP_NR,
};

static const char *const op_names[OP_NR] = {
	"heap", "udmabuf", "dup", "dup2", "dup3", "close", "close_range",
	"mmap", "munmap", "mprotect", "mremap", "rename", "thread",
	"clone_files", "unshare", "leader_exit", "close_range_unshare",
	"spawn", "clone_vm", "gem", "send", "recv", "pick", "getfd", "fork",
	"exec", "exit", "fork_fail",
};

struct cmd {
	int op;
	uint64_t arg;
};

struct reply {
	int status;	/* 0, or a positive errno of a failed step */
	int value;
};

/* ------------------------------------------------------------------ */
/* Messages with an optional fd                                        */

static int send_msg(int sock, const void *buf, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int recv_msg(int sock, void *buf, size_t len, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	if (fd)
		*fd = -1;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)len)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (fd && cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Worker                                                              */

static struct { char *addr; size_t len; } maps[MAX_MAPS];
static unsigned int nmaps;
static char **self_argv;
/* mremap() targets: slots of a reservation, each used once. */
static char *resv;
static unsigned int next_slot;
#define RESV_SLOTS	1024
#define SLOT_SIZE	(1UL << 20)

/* The worker's buffer fds, in increasing order. */
static int buffer_fds(int *out)
{
	int fd, n = 0;

	for (fd = FD_LO; fd <= FD_HI; fd++) {
		char path[64];
		struct mt_buf b;

		if (fcntl(fd, F_GETFD) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		if (mt_fdinfo_parse(path, &b))
			out[n++] = fd;
	}
	return n;
}

static int pick_fd(uint64_t r)
{
	int fds[FD_HI + 1], n = buffer_fds(fds);

	return n ? fds[r % n] : -1;
}

/* Move a new fd to a random free slot of the buffer range. */
static int place(int fd, uint64_t r)
{
	int nfd = fcntl(fd, F_DUPFD, FD_LO + (int)(r % (FD_HI - FD_LO - 20)));

	close(fd);
	return nfd;
}

static const char *const tags[] = { "cam", "gl", "video", "ui" };

/*
 * A vgem object of @size bytes exported as a dma-buf (read-write, so
 * that it can be mapped), then its handle closed and its DRM file
 * closed, in the order bit 0 of @r picks: the fd is all that is left.
 * Closing the file first releases a DRM file with a handle; closing the
 * handle first is a handle close the dma-buf survives.  A heap buffer if
 * the guest has no vgem.  Returns the fd or -errno.
 */
static int gem_alloc(size_t size, uint64_t r)
{
	struct drm_mode_create_dumb c = {
		.width = 1024, .bpp = 32, .height = (uint32_t)(size / PAGE),
	};
	struct drm_prime_handle p = { .flags = DRM_CLOEXEC | DRM_RDWR };
	struct drm_gem_close gc = { 0 };
	const char *path = mt_vgem_path();
	int card = path ? open(path, O_RDWR | O_CLOEXEC) : -1, ret = 0;

	if (card < 0)
		return mt_heap_alloc(size);
	if (ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &c)) {
		ret = -errno;
		goto out;
	}
	p.handle = c.handle;
	gc.handle = c.handle;
	if (ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p))
		ret = -errno;
	if (r % 2 && ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc) && !ret)
		ret = -errno;
out:
	close(card);
	if (ret && p.fd > 0)
		close(p.fd);
	return ret ? ret : p.fd;
}

static void *thread_churn(void *arg)
{
	int fd = *(int *)arg, i;

	for (i = 0; i < 4; i++) {
		int d = dup(fd);

		if (d >= 0)
			close(d);
	}
	return NULL;
}

/* Fds a step needs for itself, out of the buffers' range. */
#define AUX_FD		300

extern char **environ;

/* A clone() child that waits until the fd in @arg is written or closed. */
static int park_child(void *arg)
{
	char c;

	return read(*(int *)arg, &c, 1) < 0;
}

/* A pipe whose ends sit at AUX_FD and above, close-on-exec. */
static int aux_pipe(int p[2])
{
	int t[2], i;

	if (pipe(t))
		return -1;
	for (i = 0; i < 2; i++) {
		p[i] = fcntl(t[i], F_DUPFD_CLOEXEC, AUX_FD);
		close(t[i]);
	}
	return p[0] < 0 || p[1] < 0 ? -1 : 0;
}

/* Of a CLONE_VM child: the worker's memory, table copy of its own. */
struct clone_vm_arg {
	int fd;
	uint64_t r;
	int err;
};

static int clone_vm_child(void *arg)
{
	struct clone_vm_arg *a = arg;
	off_t size = lseek(a->fd, 0, SEEK_END);
	size_t pages, off, len;
	char *p;

	/* This writes the worker's maps[]: the memory is the same. */
	if ((a->r >> 28) % 2) {
		/* A new buffer, left mapped: the worker holds it by mapping only. */
		int nfd = mt_heap_alloc((1 + (a->r >> 32) % 4) * PAGE);

		if (nfd < 0) {
			a->err = -nfd;
			_exit(0);
		}
		size = lseek(nfd, 0, SEEK_END);
		p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, nfd, 0);
		close(nfd);
		if (p == MAP_FAILED) {
			a->err = errno;
		} else if (nmaps == MAX_MAPS) {
			munmap(p, (size_t)size);
		} else {
			maps[nmaps].addr = p;
			maps[nmaps++].len = (size_t)size;
		}
	} else if (size > 0) {
		pages = (size_t)size / PAGE;
		off = (a->r >> 8) % pages;
		len = 1 + (a->r >> 16) % (pages - off);
		p = mmap(NULL, len * PAGE, PROT_READ, MAP_SHARED, a->fd,
			 (off_t)(off * PAGE));
		if (p == MAP_FAILED) {
			a->err = errno;
		} else if ((a->r >> 24) % 2 || nmaps == MAX_MAPS) {
			munmap(p, len * PAGE);
		} else {
			maps[nmaps].addr = p;
			maps[nmaps++].len = len * PAGE;
		}
	}
	close(a->fd);	/* only in the child's copy of the table */
	_exit(0);
}

/* A CLONE_VM | CLONE_VFORK child that closes a buffer and exits, no exec. */
static int vfork_child(void *arg)
{
	close(*(int *)arg);
	_exit(0);
}

static void worker_loop(void) __attribute__((noreturn));

/* The thread that takes over from one that leaves with pthread_exit(). */
static void *serve_thread(void *arg)
{
	pid_t old = (pid_t)(intptr_t)arg;
	struct reply rp = { 0 };
	int i;

	/*
	 * Serve once the old thread is gone for good (a zombie leader, or
	 * an ended thread): its exit then has nothing left to race with.
	 */
	for (i = 0; i < 20000; i++) {
		char st = mt_task_state(getpid(), old);

		if (!st || st == 'Z' || st == 'X')
			break;
		usleep(500);
	}
	if (send_msg(CTRL_FD, &rp, sizeof(rp), -1))
		_exit(0);
	worker_loop();
}

static int clone_files_child(void *arg)
{
	int fd = *(int *)arg, d = dup(fd);

	/* The shared table gains and loses an fd; then a private copy. */
	if (d >= 0)
		close(d);
	if (unshare(CLONE_FILES))
		return 1;
	close(fd);	/* only in the copy */
	return 0;
}

static int worker_step(struct cmd *c, struct reply *rp, int ctrl)
{
	uint64_t r = c->arg;
	int fd = -1, ret = 0;

	rp->value = -1;
	switch (c->op) {
	case OP_HEAP:
		fd = mt_heap_alloc((1 + r % 16) * PAGE);
		goto new_fd;
	case OP_UDMABUF:
		fd = mt_udmabuf_alloc((1 + r % 8) * PAGE);
		goto new_fd;
	case OP_GEM:
		fd = gem_alloc((1 + r % 16) * PAGE, r >> 40);
new_fd:
		if (fd < 0)
			return -fd;
		fd = place(fd, r >> 8);
		if (fd >= 0 && (r >> 20) % 2)
			mt_set_name(fd, tags[(r >> 24) % 4]);
		rp->value = fd;
		return fd < 0 ? errno : 0;
	case OP_DUP:
		fd = pick_fd(r);
		if (fd >= 0)
			rp->value = fcntl(fd, (r >> 16) % 2 ? F_DUPFD_CLOEXEC : F_DUPFD,
					  FD_LO + (int)((r >> 8) % (FD_HI - FD_LO - 20)));
		return 0;
	case OP_DUP2:
	case OP_DUP3:
		fd = pick_fd(r);
		if (fd >= 0) {
			int to = FD_LO + (int)((r >> 8) % (FD_HI - FD_LO));

			if (to != fd)
				rp->value = c->op == OP_DUP2 ? dup2(fd, to) :
					    dup3(fd, to, O_CLOEXEC);
		}
		return 0;
	case OP_CLOSE:
		fd = pick_fd(r);
		if (fd >= 0)
			close(fd);
		return 0;
	case OP_CLOSE_RANGE: {
		unsigned int lo = FD_LO + (unsigned int)(r % (FD_HI - FD_LO));
		unsigned int hi = lo + (unsigned int)((r >> 8) % 16);

		if (hi > FD_HI)
			hi = FD_HI;
		return syscall(SYS_close_range, lo, hi, 0) ? errno : 0;
	}
	case OP_MMAP: {
		off_t size;
		size_t pages, off, len;
		char *p;

		fd = pick_fd(r);
		if (fd < 0 || nmaps == MAX_MAPS)
			return 0;
		size = lseek(fd, 0, SEEK_END);
		pages = (size_t)size / PAGE;
		off = (r >> 8) % pages;
		len = 1 + (r >> 16) % (pages - off);
		p = mmap(NULL, len * PAGE, PROT_READ | ((r >> 24) % 2 ? PROT_WRITE : 0),
			 MAP_SHARED, fd, (off_t)(off * PAGE));
		if (p == MAP_FAILED)
			return errno;
		maps[nmaps].addr = p;
		maps[nmaps++].len = len * PAGE;
		return 0;
	}
	case OP_MUNMAP:
	case OP_MPROTECT:
	case OP_MREMAP: {
		unsigned int i;
		size_t pg, n;

		if (!nmaps)
			return 0;
		i = (unsigned int)(r % nmaps);
		n = maps[i].len / PAGE;
		pg = (r >> 8) % n;
		if (c->op == OP_MPROTECT)
			return mprotect(maps[i].addr + pg * PAGE, PAGE, PROT_READ) ? errno : 0;
		if (c->op == OP_MREMAP) {
			char *q;

			if (next_slot == RESV_SLOTS)
				return 0;
			q = mremap(maps[i].addr, maps[i].len, maps[i].len,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   resv + next_slot++ * SLOT_SIZE);
			if (q == MAP_FAILED)
				return errno;
			maps[i].addr = q;
			return 0;
		}
		/* The whole mapping, or a page punched out of it. */
		if ((r >> 16) % 2 || n == 1) {
			if (munmap(maps[i].addr, maps[i].len))
				return errno;
			maps[i] = maps[--nmaps];
			return 0;
		}
		if (munmap(maps[i].addr + pg * PAGE, PAGE))
			return errno;
		/* Keep tracking the larger piece only; the rest stays mapped. */
		if (pg >= n / 2) {
			maps[i].len = pg * PAGE;
		} else {
			maps[i].addr += (pg + 1) * PAGE;
			maps[i].len -= (pg + 1) * PAGE;
		}
		if (!maps[i].len)
			maps[i] = maps[--nmaps];
		return 0;
	}
	case OP_RENAME:
		fd = pick_fd(r);
		if (fd >= 0)
			mt_set_name(fd, tags[(r >> 8) % 4]);
		return 0;
	case OP_THREAD: {
		pthread_t t;

		fd = pick_fd(r);
		if (fd < 0)
			return 0;
		if (pthread_create(&t, NULL, thread_churn, &fd))
			return EAGAIN;
		pthread_join(t, NULL);
		return 0;
	}
	case OP_CLONE_FILES: {
		static char stack[64 * 1024] __attribute__((aligned(16)));
		int status;
		pid_t pid;

		fd = pick_fd(r);
		if (fd < 0)
			return 0;
		pid = clone(clone_files_child, stack + sizeof(stack),
			    CLONE_FILES | SIGCHLD, &fd);
		if (pid < 0)
			return errno;
		if (waitpid(pid, &status, 0) != pid || status)
			return ECHILD;
		return 0;
	}
	case OP_UNSHARE:
		return unshare(CLONE_FILES) ? errno : 0;
	case OP_LEADER_EXIT: {
		pthread_attr_t a;
		pthread_t t;

		if (pthread_attr_init(&a) ||
		    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED))
			return EAGAIN;
		if (pthread_create(&t, &a, serve_thread,
				   (void *)(intptr_t)syscall(SYS_gettid)))
			return EAGAIN;
		pthread_exit(NULL);
	}
	case OP_CLOSE_RANGE_UNSHARE: {
		static char stack[64 * 1024] __attribute__((aligned(16)));
		unsigned int lo = FD_LO + (unsigned int)(r % (FD_HI - FD_LO));
		unsigned int hi = lo + (unsigned int)((r >> 8) % 24);
		pid_t pid = -1;
		int go[2], status;

		if (hi > FD_HI)
			hi = FD_HI;
		if ((r >> 16) % 2) {
			/* A process shares the table: the call must copy it. */
			if (aux_pipe(go))
				return errno;
			pid = clone(park_child, stack + sizeof(stack),
				    CLONE_FILES | SIGCHLD, &go[0]);
			if (pid < 0) {
				ret = errno;
				close(go[0]);
				close(go[1]);
				return ret;
			}
		}
		ret = syscall(SYS_close_range, lo, hi, CLOSE_RANGE_UNSHARE) ? errno : 0;
		if (pid > 0) {
			if (write(go[1], "x", 1) != 1 || waitpid(pid, &status, 0) != pid ||
			    status)
				ret = ECHILD;
			close(go[0]);
			close(go[1]);
		}
		return ret;
	}
	case OP_SPAWN: {
		static char stack[64 * 1024] __attribute__((aligned(16)));
		char *argv[] = { self_argv[0], "--spawned", NULL };
		int status;
		pid_t pid;

		if (r % 2) {
			ret = posix_spawn(&pid, "/proc/thread-self/exe", NULL, NULL, argv,
					  environ);
			if (ret)
				return ret;
		} else {
			fd = pick_fd(r >> 8);
			pid = clone(vfork_child, stack + sizeof(stack),
				    CLONE_VM | CLONE_VFORK | SIGCHLD, &fd);
			if (pid < 0)
				return errno;
		}
		if (waitpid(pid, &status, 0) != pid || status)
			return ECHILD;
		return 0;
	}
	case OP_CLONE_VM: {
		static char stack[64 * 1024] __attribute__((aligned(16)));
		struct clone_vm_arg a = { .r = r };
		int status;
		pid_t pid;
		void *p;

		a.fd = pick_fd(r);
		if (a.fd < 0)
			return 0;
		/* Map first: this worker owns its address space's accounting. */
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, a.fd, 0);
		if (p == MAP_FAILED)
			return errno;
		munmap(p, PAGE);
		pid = clone(clone_vm_child, stack + sizeof(stack), CLONE_VM | SIGCHLD, &a);
		if (pid < 0)
			return errno;
		if (waitpid(pid, &status, 0) != pid || status)
			return ECHILD;
		return a.err;
	}
	case OP_FORK_FAIL: {
		/* The controller took every pid: this must fail, after copying. */
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0) {
			waitpid(pid, NULL, 0);
			rp->value = 1;
			return 0;
		}
		rp->value = 0;
		return errno == EAGAIN ? 0 : errno;
	}
	case OP_SEND:
		fd = pick_fd(r);
		rp->value = fd;
		rp->status = 0;
		if (send_msg(ctrl, rp, sizeof(*rp), fd))
			return EIO;
		return -1;	/* already replied */
	case OP_RECV:
		return 0;	/* the fd came with the command */
	case OP_PICK:
		rp->value = pick_fd(r);
		return 0;
	case OP_GETFD: {
		int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)(r >> 32), 0);

		if (pidfd < 0)
			return errno;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)(r & 0xffffffff), 0);
		close(pidfd);
		if (fd < 0)
			return errno;
		rp->value = place(fd, r >> 8);
		return 0;
	}
	case OP_FORK: {
		int sv[2];
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			return errno;
		pid = fork();
		if (pid < 0)
			return errno;
		if (pid == 0) {
			/* The child serves its own socket at the same fd. */
			if (dup3(sv[1], CTRL_FD, 0) < 0)
				_exit(70);
			close(sv[0]);
			close(sv[1]);
			return -2;
		}
		close(sv[1]);
		rp->value = pid;
		rp->status = 0;
		ret = send_msg(ctrl, rp, sizeof(*rp), sv[0]);
		close(sv[0]);
		return ret ? EIO : -1;
	}
	case OP_EXEC:
		/* thread-self: /proc/self/exe of a zombie leader is gone. */
		execl("/proc/thread-self/exe", self_argv[0], "--worker", NULL);
		return errno;
	case OP_EXIT:
		_exit(0);
	}
	return EINVAL;
}

static void worker_loop(void)
{
	for (;;) {
		struct reply rp = { 0 };
		struct cmd c;
		int fd, ret;

		/* Workers forked by this one are reaped here. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (recv_msg(CTRL_FD, &c, sizeof(c), &fd))
			_exit(0);	/* the controller went away */
		if (fd >= 0) {
			/* OP_RECV: SCM_RIGHTS delivered the fd. */
			rp.value = place(fd, c.arg);
		}
		ret = worker_step(&c, &rp, CTRL_FD);
		if (ret == -1)
			continue;
		if (ret == -2)
			continue;	/* a new worker, with its parent's mappings */
		rp.status = ret;
		if (send_msg(CTRL_FD, &rp, sizeof(rp), -1))
			_exit(0);
	}
}

static int worker_main(void)
{
	resv = mmap(NULL, RESV_SLOTS * SLOT_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		_exit(71);
	worker_loop();
}

/* ------------------------------------------------------------------ */
/* Controller                                                          */

struct worker {
	pid_t pid;
	int sock;
};

static struct worker workers[MAX_WORKERS];
static unsigned int nworkers;
static uint64_t rng;
static struct { unsigned long step; int op; pid_t pid; uint64_t arg; } trace[TRACE_LEN];
static unsigned long steps;
static unsigned long nchecks;
static unsigned long refused;	/* steps the kernel refused (ENOMEM, ...) */
static uint64_t seed;

/* The event stream, replayed per pid as it comes. */
static int events_fd = -1;
static struct mt_replay replay;
static struct mt_event evring[TRACE_LEN];
static unsigned long nevents;
static unsigned long failed_forks;
static unsigned long gem_objects;	/* OP_GEM steps sent, with vgem */
static bool skipped[OP_NR];	/* --skip: these become OP_PICK */

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void log_op(int op, pid_t pid, uint64_t arg)
{
	unsigned int i = steps % TRACE_LEN;

	trace[i].step = steps;
	trace[i].op = op;
	trace[i].pid = pid;
	trace[i].arg = arg;
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	unsigned long i, from = steps > TRACE_LEN ? steps - TRACE_LEN + 1 : 0;
	va_list ap;

	printf("FAIL seed %llu step %lu: ", (unsigned long long)seed, steps);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\nreplay: memtrack_stress --seed %llu --ops %lu\nlast operations:\n",
	       (unsigned long long)seed, steps + 1);
	for (i = from; i <= steps; i++) {
		unsigned int k = i % TRACE_LEN;

		if (trace[k].step == i)
			printf("  %6lu %-20s pid %-6d arg %#llx\n", i, op_names[trace[k].op],
			       trace[k].pid, (unsigned long long)trace[k].arg);
	}
	printf("last events:\n");
	for (i = nevents > TRACE_LEN ? nevents - TRACE_LEN : 0; i < nevents; i++)
		printf("  %s\n", mt_event_str(&evring[i % TRACE_LEN]));
	fflush(stdout);
	kill(0, SIGKILL);
	_exit(1);
}

/*
 * Replay the events that arrived, waiting up to @ms for the first: none
 * may be lost, and each must follow from the earlier ones of its pid.
 */
static void events_drain(int ms)
{
	char buf[16384];

	for (;;) {
		struct pollfd pfd = { .fd = events_fd, .events = POLLIN };
		struct nlmsghdr *nlh;
		ssize_t n;

		if (poll(&pfd, 1, ms) <= 0)
			return;
		if (ms)
			ms = 20;
		n = recv(events_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS)
				fail("events were lost: the subscriber's socket overflowed (ENOBUFS)");
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail("reading events: %s", strerror(errno));
		}
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			struct mt_event *e = &evring[nevents % TRACE_LEN];
			uint64_t prev = nevents ? evring[(nevents - 1) % TRACE_LEN].seq : 0;

			mt_event_parse(nlh, e);
			nevents++;
			if (prev && e->seq != prev + 1)
				fail("events were lost: sequence number %llu after %llu",
				     (unsigned long long)e->seq, (unsigned long long)prev);
			if (!mt_replay_apply(&replay, e))
				fail("event replay: %s", replay.why);
		}
	}
}

/* After @pid is gone, its events must have brought it back to zero. */
static void check_exited(pid_t pid)
{
	const struct mt_replay_proc *p = mt_replay_find(&replay, (uint32_t)pid, false);

	if (p && (p->total || p->nr))
		fail("pid %d exited, but its events leave it holding %lld bytes in %lld buffers",
		     pid, (long long)p->total, (long long)p->nr);
}

static void send_cmd(struct worker *w, int op, uint64_t arg, int fd)
{
	struct cmd c = { .op = op, .arg = arg };

	log_op(op, w->pid, arg);
	if (send_msg(w->sock, &c, sizeof(c), fd))
		fail("cannot send %s to worker %d", op_names[op], w->pid);
}

static struct reply get_reply(struct worker *w, int *fd)
{
	struct reply rp;

	if (recv_msg(w->sock, &rp, sizeof(rp), fd))
		fail("worker %d died", w->pid);
	/*
	 * The kernel saying no is not a bug: ENOMEM, EAGAIN, and EFAULT from
	 * an mremap() over a mapping that mprotect() split in pieces.
	 */
	if (rp.status && rp.status != ENOMEM && rp.status != EAGAIN &&
	    rp.status != EBADF && rp.status != EINVAL && rp.status != EFAULT)
		fail("worker %d: step failed: %s", w->pid, strerror(rp.status));
	refused += rp.status != 0;
	return rp;
}

/*
 * Tell worker @i to exit and wait until it has: its control socket, its
 * last fd, closes only after its mappings and other fds are gone.  A
 * worker forked by a worker is its parent's child, so EOF is the signal.
 */
static void exit_worker(unsigned int i)
{
	struct reply rp;

	send_cmd(&workers[i], OP_EXIT, 0, -1);
	if (recv(workers[i].sock, &rp, sizeof(rp), 0) != 0)
		fail("worker %d did not exit", workers[i].pid);
	close(workers[i].sock);
	events_drain(0);
	check_exited(workers[i].pid);
	workers[i] = workers[--nworkers];
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * A fork that fails after copy_process() copied the table and the
 * address space: every pid is taken for the duration of the step.
 */
static void fork_fail_step(struct worker *w, uint64_t r)
{
	struct mt_pid_squeeze q;
	struct reply rp;
	int ret = mt_pids_exhaust(&q);

	if (ret) {
		mt_pids_release(&q);
		fail("cannot use up the pids: %s", strerror(-ret));
	}
	send_cmd(w, OP_FORK_FAIL, r, -1);
	rp = get_reply(w, NULL);
	ret = mt_pids_release(&q);
	if (ret)
		fail("cannot restore pid_max: %s", strerror(-ret));
	if (rp.value)
		fail("fork() succeeded with every pid taken (%u parked)", q.n);
	failed_forks++;
}

/* Whether the guest has vgem: without it, OP_GEM steps make heap buffers. */
static bool have_vgem(void)
{
	return !!mt_vgem_path();
}

static void do_step(void)
{
	unsigned int i = (unsigned int)(next_rand() % nworkers), j;
	struct worker *w = &workers[i];
	uint64_t r = next_rand(), pick = next_rand() % 100;
	struct reply rp;
	int fd;

	if (pick < 14) {
		int op = pick < 9 ? OP_HEAP : pick < 12 ? OP_UDMABUF : OP_GEM;

		if (op == OP_GEM && (skipped[op] || !have_vgem()))
			op = OP_HEAP;
		gem_objects += op == OP_GEM;
		send_cmd(w, op, r, -1);
	} else if (pick < 58) {
		/* A local op; sometimes two workers at once. */
		static const int local[] = {
			OP_DUP, OP_DUP2, OP_DUP3, OP_CLOSE, OP_CLOSE, OP_CLOSE_RANGE,
			OP_MMAP, OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_RENAME,
			OP_THREAD, OP_CLONE_FILES, OP_UNSHARE, OP_LEADER_EXIT,
			OP_CLOSE_RANGE_UNSHARE, OP_SPAWN, OP_CLONE_VM,
		};
		int op = local[r % ARRAY_SIZE(local)];

		if (skipped[op])
			op = OP_PICK;

		j = (unsigned int)((r >> 40) % nworkers);
		send_cmd(w, op, r >> 4, -1);
		if (j != i && (r >> 48) % 2) {
			int other = (r >> 50) % 2 ? OP_MMAP : OP_CLOSE;

			send_cmd(&workers[j], other, r >> 6, -1);
			get_reply(&workers[j], NULL);
		}
	} else if (pick < 72) {
		/* SCM_RIGHTS through the controller. */
		j = (unsigned int)((r >> 40) % nworkers);
		send_cmd(w, OP_SEND, r, -1);
		rp = get_reply(w, &fd);
		if (fd >= 0) {
			send_cmd(&workers[j], OP_RECV, r >> 8, fd);
			close(fd);
			get_reply(&workers[j], NULL);
		}
		return;
	} else if (pick < 80) {
		/* pidfd_getfd of another worker's fd. */
		j = (unsigned int)((r >> 40) % nworkers);
		send_cmd(&workers[j], OP_PICK, r, -1);
		rp = get_reply(&workers[j], NULL);
		if (rp.value < 0)
			return;
		send_cmd(w, OP_GETFD, ((uint64_t)workers[j].pid << 32) | (uint32_t)rp.value, -1);
	} else if (pick < 88) {
		if (pick == 87 && skipped[OP_FORK_FAIL]) {
			send_cmd(w, OP_PICK, r, -1);
			get_reply(w, NULL);
			return;
		}
		if (pick == 87) {
			fork_fail_step(w, r);
			return;
		}
		if (nworkers == MAX_WORKERS) {
			exit_worker(i);
			return;
		}
		send_cmd(w, OP_FORK, r, -1);
		rp = get_reply(w, &fd);
		if (fd < 0)
			fail("fork gave no control socket");
		workers[nworkers].pid = rp.value;
		workers[nworkers++].sock = fd;
		return;
	} else if (pick < 94) {
		send_cmd(w, OP_EXEC, r, -1);
		/* The new image replies to nothing: ask it something. */
		send_cmd(w, OP_PICK, r, -1);
	} else {
		if (nworkers == 1) {
			send_cmd(w, OP_CLOSE, r, -1);
		} else {
			exit_worker(i);
			return;
		}
	}
	get_reply(w, NULL);
}

/* A step that never ends is a failure too, with the usual report. */
static void on_alarm(int sig)
{
	(void)sig;
	fail("step %lu has not finished after 120 s", steps);
}

/*
 * fdinfo and sysfs name the exporter of a GEM object's dma-buf "drm" (the
 * module drm_gem_prime_export() exports as); memtrack names the driver,
 * and vgem is the only GEM driver here.
 */
static void truth_exporters(struct mt_proc *p)
{
	unsigned int i;

	for (i = 0; i < p->nbufs; i++)
		if (!strcmp(p->bufs[i].exporter, "drm"))
			snprintf(p->bufs[i].exporter, sizeof(p->bufs[i].exporter),
				 "vgem");
}

/* Every worker against the oracle, and the sharing figures across them. */
static void check_all(struct mt_nl *nl)
{
	struct mt_proc got[MAX_WORKERS], want[MAX_WORKERS];
	struct mt_proc_list l = { 0 };
	unsigned int i, j, k, listed = 0;

	nchecks++;
	for (i = 0; i < nworkers; i++) {
		const char *why;
		int ret = mt_proc_get(nl, workers[i].pid, &got[i]);

		if (ret)
			fail("query %d: %s (%s)", workers[i].pid, strerror(-ret), nl->extack);
		/* Through a live thread: the leader may be a zombie. */
		if (mt_truth_read_live(workers[i].pid, &want[i]))
			fail("truth %d unreadable", workers[i].pid);
		truth_exporters(&want[i]);
		if (got[i].incomplete)
			fail("pid %d flagged incomplete without fault injection", workers[i].pid);
		why = mt_proc_diff(&got[i], &want[i]);
		if (why)
			fail("pid %d: %s", workers[i].pid, why);
	}
	/* Holders, pss and unique from the oracle's buffers of every worker. */
	for (i = 0; i < nworkers; i++) {
		uint64_t pss = 0, unique = 0;

		for (k = 0; k < want[i].nbufs; k++) {
			const struct mt_buf *b = &want[i].bufs[k];
			unsigned int holders = 0;

			for (j = 0; j < nworkers; j++)
				holders += !!mt_proc_find(&want[j], b->id);
			if (got[i].bufs[k].holders != holders)
				fail("pid %d buffer %llu: holders %u, truth %u", workers[i].pid,
				     (unsigned long long)b->id, got[i].bufs[k].holders, holders);
			pss += b->size / holders;
			unique += holders == 1 ? b->size : 0;
		}
		if (got[i].pss != pss || got[i].unique != unique)
			fail("pid %d: pss %llu unique %llu, truth %llu and %llu", workers[i].pid,
			     (unsigned long long)got[i].pss, (unsigned long long)got[i].unique,
			     (unsigned long long)pss, (unsigned long long)unique);
	}
	/* The dump lists exactly the workers that hold something. */
	if (mt_proc_dump(nl, 0, 32768, &l))
		fail("dump failed: %s", nl->extack);
	for (i = 0; i < l.n; i++) {
		for (j = 0; j < nworkers && workers[j].pid != (pid_t)l.procs[i].pid; j++)
			;
		if (j == nworkers) {
			/* Another test's processes are none of our business. */
			if (getpgid((pid_t)l.procs[i].pid) == getpgid(0))
				fail("dump lists pid %u of this test, which is no worker",
				     l.procs[i].pid);
			continue;
		}
		if (mt_proc_diff(&l.procs[i], &want[j]))
			fail("dump of %u: %s", l.procs[i].pid, mt_proc_diff(&l.procs[i], &want[j]));
		listed++;
	}
	for (j = 0; j < nworkers; j++)
		if (want[j].nbufs)
			listed--;
	if (listed)
		fail("the dump misses a worker that holds buffers");
	mt_proc_list_free(&l);
	for (i = 0; i < nworkers; i++) {
		mt_proc_free(&got[i]);
		mt_proc_free(&want[i]);
	}
}

/* Queries all along, on the other vCPU; none may fail. */
static pid_t start_querier(volatile pid_t *pids)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	for (unsigned long n = 0;; n++) {
		struct mt_proc_list l = { 0 };
		struct mt_buf_list bl = { 0 };
		struct mt_stats st;
		struct mt_proc p;
		struct mt_nl nl;
		int ret;

		if (mt_nl_open(&nl))
			_exit(2);
		ret = mt_proc_dump(&nl, 0, n % 2 ? 4096 : 32768, &l);
		if (ret)
			_exit(3);
		mt_proc_list_free(&l);
		ret = mt_proc_get(&nl, (uint32_t)pids[n % MAX_WORKERS] ?: 1, &p);
		if (ret && ret != -ESRCH)
			_exit(4);
		if (!ret)
			mt_proc_free(&p);
		if (mt_buffer_dump(&nl, &bl) || mt_stats_get(&nl, &st))
			_exit(5);
		free(bl.bufs);
		mt_nl_close(&nl);
	}
}

/* --skip: local operations (and fork_fail) to replace by a query. */
static int parse_skip(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int op, ret = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (op = 0; op < OP_NR && strcmp(op_names[op], tok); op++)
			;
		if (op == OP_NR || (op > OP_GEM && op != OP_FORK_FAIL)) {
			fprintf(stderr, "memtrack_stress: cannot skip '%s'\n", tok);
			ret = -1;
			break;
		}
		skipped[op] = true;
	}
	free(copy);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long ops = 2000, every = 50, soak = 0, i;
	volatile pid_t *shared;
	struct timeval t0, t;
	pid_t querier;
	struct mt_nl nl;
	int sv[2], status, a;
	unsigned int pk;

	self_argv = argv;
	if (argc == 2 && !strcmp(argv[1], "--worker"))
		return worker_main();
	if (argc == 2 && !strcmp(argv[1], "--spawned"))
		return 0;	/* OP_SPAWN's child */
	/*
	 * The same seed must replay the same run: without address-space
	 * randomisation, mappings land, split and merge the same way.
	 */
	if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) {
		personality(ADDR_NO_RANDOMIZE);
		execv("/proc/self/exe", argv);
	}
	seed = (uint64_t)time(NULL);
	for (a = 1; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--seed"))
			seed = strtoull(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--ops"))
			ops = strtoul(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--check-every"))
			every = strtoul(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--soak"))
			soak = strtoul(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "--skip") && parse_skip(argv[a + 1]))
			break;
		else if (strcmp(argv[a], "--skip"))
			break;
	}
	if (a < argc || !every) {
		fprintf(stderr, "usage: memtrack_stress [--seed N] [--ops N] [--check-every N] [--soak SECONDS] [--skip OP[,OP...]]\n");
		return 2;
	}
	rng = seed * 2654435761ULL + 1;
	printf("memtrack_stress: seed %llu, %lu ops, check every %lu%s\n",
	       (unsigned long long)seed, ops, every, soak ? ", soak" : "");
	fflush(stdout);
	mt_require_memtrack();
	if (mt_nl_open(&nl))
		ksft_exit_fail_msg("cannot open the memtrack family\n");
	signal(SIGALRM, on_alarm);
	/* Every event from here on, replayed as it comes. */
	events_fd = mt_events_open(64 << 20);
	if (events_fd < 0) {
		printf("FAIL: cannot subscribe to events: %s\n", strerror(-events_fd));
		return 1;
	}
	/* Our own process group, so that a failure can kill everything. */
	setpgid(0, 0);
	/* Workers whose parent worker exited become our children. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 1;
	querier = start_querier(shared);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return 1;
	workers[0].pid = fork();
	if (workers[0].pid == 0) {
		if (dup3(sv[1], CTRL_FD, 0) < 0)
			_exit(70);
		close(sv[0]);
		close(sv[1]);
		return worker_main();
	}
	close(sv[1]);
	workers[0].sock = sv[0];
	nworkers = 1;

	gettimeofday(&t0, NULL);
	for (i = 0, steps = 0; soak || i < ops; i++, steps++) {
		unsigned int k;

		alarm(120);
		do_step();
		alarm(0);
		events_drain(0);
		for (k = 0; k < MAX_WORKERS; k++)
			shared[k] = k < nworkers ? workers[k].pid : 0;
		if ((i + 1) % every == 0) {
			check_all(&nl);
			gettimeofday(&t, NULL);
			if (soak && (unsigned long)(t.tv_sec - t0.tv_sec) >= soak)
				break;
		}
	}
	check_all(&nl);
	if (waitpid(querier, &status, WNOHANG) == querier)
		fail("the querier failed (status %d): a concurrent query returned an error",
		     WEXITSTATUS(status));
	kill(querier, SIGKILL);
	waitpid(querier, NULL, 0);
	while (nworkers)
		exit_worker(0);
	/* Everything has exited: every pid's events end at zero. */
	events_drain(200);
	for (pk = 0; pk < replay.n; pk++)
		check_exited((pid_t)replay.procs[pk].pid);
	printf("ok: seed %llu, %lu ops (%lu refused by the kernel, %lu failed forks, %lu vgem objects%s), %lu checks against procfs, %lu events replayed over %u pids\n",
	       (unsigned long long)seed, i, refused, failed_forks, gem_objects,
	       have_vgem() ? "" : ": no vgem", nchecks, nevents, replay.n);
	return 0;
}
