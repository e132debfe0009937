// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack selftests of the derived figures and of access control:
 * sharing (pss, unique, holders) against hand-computed values, the
 * kernel-side tag and exporter filters, high-water marks and their reset,
 * the system-wide figures, and who may see what (another user, a
 * non-dumpable process, a user namespace).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define KiB 1024ULL
#define MiB (1024ULL * KiB)

FIXTURE(fig)
{
	struct mt_nl nl;
};

FIXTURE_SETUP(fig)
{
	int ret = mt_nl_open(&self->nl);

	ASSERT_EQ(0, ret) TH_LOG("cannot open the memtrack family: %s",
				 strerror(-ret));
}

FIXTURE_TEARDOWN(fig)
{
	mt_nl_close(&self->nl);
}

/* Fork a child that allocates @size (if non-zero), reports, and waits. */
static pid_t spawn_holder(size_t size, int *ready_fd, int *go_fd)
{
	int ready[2], go[2];
	pid_t pid;
	char c = 'r';

	if (pipe(ready) || pipe(go))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (size && mt_heap_alloc(size) < 0)
			_exit(1);
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		if (read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		return -1;
	*ready_fd = ready[0];
	*go_fd = go[1];
	return pid;
}

static int reap(pid_t pid, int ready_fd, int go_fd)
{
	int status;

	close(go_fd);
	close(ready_fd);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

TEST_F(fig, pss_unique_and_holders)
{
	int a = mt_heap_alloc(1 * MiB);
	int b = mt_udmabuf_alloc(256 * KiB);
	int ready, go;
	struct mt_proc p;
	pid_t child;

	ASSERT_GE(a, 0);
	ASSERT_GE(b, 0);
	/* The child inherits a and b and adds 64 KiB of its own. */
	child = spawn_holder(64 * KiB, &ready, &go);
	ASSERT_GT(child, 0);

	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(1 * MiB + 256 * KiB, p.total);
	EXPECT_EQ(512 * KiB + 128 * KiB, p.pss);
	EXPECT_EQ(0, p.unique);
	EXPECT_EQ(2, mt_proc_find(&p, mt_fd_ino(a))->holders);
	mt_proc_free(&p);

	ASSERT_EQ(0, mt_proc_get(&self->nl, child, &p));
	EXPECT_EQ(1 * MiB + 256 * KiB + 64 * KiB, p.total);
	EXPECT_EQ(512 * KiB + 128 * KiB + 64 * KiB, p.pss);
	EXPECT_EQ(64 * KiB, p.unique);
	EXPECT_EQ(2, mt_proc_find(&p, mt_fd_ino(b))->holders);
	mt_proc_free(&p);

	/* Once the child is gone, this process holds both alone. */
	EXPECT_EQ(0, reap(child, ready, go));
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(p.total, p.pss);
	EXPECT_EQ(p.total, p.unique);
	mt_proc_free(&p);
}

TEST_F(fig, tag_and_exporter_filters)
{
	int cam = mt_heap_alloc(128 * KiB);
	int gl = mt_udmabuf_alloc(64 * KiB);
	int plain = mt_heap_alloc(32 * KiB);
	char too_long[64];
	struct mt_proc_list l;
	unsigned int i;
	bool seen = false;

	ASSERT_GE(cam, 0);
	ASSERT_GE(gl, 0);
	ASSERT_GE(plain, 0);
	ASSERT_EQ(0, mt_set_name(cam, "camera"));
	ASSERT_EQ(0, mt_set_name(gl, "gl"));

	ASSERT_EQ(0, mt_proc_query(&self->nl, false, getpid(), "camera", NULL, &l));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(1, l.procs[0].nr_buffers);
	EXPECT_EQ(128 * KiB, l.procs[0].total);
	ASSERT_EQ(1, l.procs[0].nbufs);
	EXPECT_EQ(mt_fd_ino(cam), l.procs[0].bufs[0].id);
	/* The mark is never filtered. */
	EXPECT_GE(l.procs[0].hwm, 224 * KiB);
	mt_proc_list_free(&l);

	ASSERT_EQ(0, mt_proc_query(&self->nl, false, getpid(), NULL, "system", &l));
	EXPECT_EQ(2, l.procs[0].nr_buffers);
	EXPECT_EQ(160 * KiB, l.procs[0].total);
	mt_proc_list_free(&l);

	/* Both filters at once: nothing is a udmabuf named camera. */
	ASSERT_EQ(0, mt_proc_query(&self->nl, false, getpid(), "camera", "udmabuf", &l));
	EXPECT_EQ(0, l.procs[0].nr_buffers);
	EXPECT_EQ(0, l.procs[0].nbufs);
	mt_proc_list_free(&l);

	/* A dump lists only processes with a match. */
	ASSERT_EQ(0, mt_proc_query(&self->nl, true, 0, "gl", NULL, &l));
	for (i = 0; i < l.n; i++) {
		EXPECT_GT(l.procs[i].nr_buffers, 0);
		if (l.procs[i].pid == (uint32_t)getpid()) {
			seen = true;
			EXPECT_EQ(64 * KiB, l.procs[i].total);
		}
	}
	EXPECT_TRUE(seen);
	mt_proc_list_free(&l);
	ASSERT_EQ(0, mt_proc_query(&self->nl, true, 0, "no-such-tag", NULL, &l));
	EXPECT_EQ(0, l.n);
	mt_proc_list_free(&l);

	/* Longer than a dma-buf name can be: refused by the policy. */
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	EXPECT_NE(0, mt_proc_query(&self->nl, false, getpid(), too_long, NULL, &l));
	EXPECT_STRNE("", self->nl.extack);
	mt_proc_list_free(&l);
}

TEST_F(fig, high_water_marks_and_reset)
{
	int a = mt_heap_alloc(64 * KiB), b, c, burst;
	struct mt_stats st;
	struct mt_proc p;

	ASSERT_GE(a, 0);
	b = mt_heap_alloc(64 * KiB);
	c = mt_heap_alloc(64 * KiB);
	ASSERT_GE(b, 0);
	ASSERT_GE(c, 0);
	close(b);
	close(c);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(64 * KiB, p.total);
	EXPECT_EQ(192 * KiB, p.hwm);
	mt_proc_free(&p);

	ASSERT_EQ(0, mt_hwm_reset(&self->nl)) TH_LOG("%s", self->nl.extack);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(64 * KiB, p.hwm);
	mt_proc_free(&p);
	ASSERT_EQ(0, mt_stats_get(&self->nl, &st));
	EXPECT_EQ(st.total, st.hwm);

	/* A burst between two looks still shows. */
	burst = mt_heap_alloc(256 * KiB);
	ASSERT_GE(burst, 0);
	close(burst);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(64 * KiB, p.total);
	EXPECT_EQ(320 * KiB, p.hwm);
	mt_proc_free(&p);
	ASSERT_EQ(0, mt_stats_get(&self->nl, &st));
	EXPECT_GE(st.hwm, st.total + 256 * KiB);

	/* A drop after a reset does not lower the mark below the reset. */
	ASSERT_EQ(0, mt_hwm_reset(&self->nl));
	close(a);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(0, p.total);
	EXPECT_EQ(64 * KiB, p.hwm);
	mt_proc_free(&p);
}

TEST_F(fig, system_figures_add_up)
{
	struct mt_stats before, after;
	struct mt_buf_list l;
	uint64_t sum = 0, held = 0;
	unsigned int i;
	int a, sock[2];

	ASSERT_EQ(0, mt_stats_get(&self->nl, &before));
	a = mt_heap_alloc(128 * KiB);
	ASSERT_GE(a, 0);
	/* In flight in a socket queue, held by no process: kernel-only. */
	ASSERT_EQ(0, mt_fd_in_flight(a, sock));

	ASSERT_EQ(0, mt_stats_get(&self->nl, &after));
	EXPECT_EQ(before.nr_buffers + 1, after.nr_buffers);
	EXPECT_EQ(before.total + 128 * KiB, after.total);
	EXPECT_EQ(before.kernel_only + 128 * KiB, after.kernel_only);
	EXPECT_EQ(after.total, after.held + after.kernel_only);
	EXPECT_GE(after.hwm, after.total);

	/* The same figures from the buffer list. */
	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &l));
	for (i = 0; i < l.n; i++) {
		sum += l.bufs[i].size;
		if (l.bufs[i].holders)
			held += l.bufs[i].size;
	}
	EXPECT_EQ(after.nr_buffers, l.n);
	EXPECT_EQ(after.total, sum);
	EXPECT_EQ(after.held, held);
	free(l.bufs);
	close(sock[0]);
	close(sock[1]);
}

static int drop_to(uid_t uid)
{
	return setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	       setresuid(uid, uid, uid);
}

/* An unprivileged caller against another user's and a non-dumpable process. */
static int access_checks(pid_t other_user, pid_t nondumpable)
{
	struct mt_proc_list l;
	struct mt_nl nl;
	struct mt_proc p;
	unsigned int i;

	if (mt_nl_open(&nl))
		return 10;
	if (mt_proc_get(&nl, other_user, &p) != -EACCES || !nl.extack[0])
		return 11;
	if (mt_proc_get(&nl, nondumpable, &p) != -EACCES || !nl.extack[0])
		return 12;
	/* Filters do not open a side channel either. */
	if (mt_proc_query(&nl, false, nondumpable, "x", NULL, &l) != -EACCES)
		return 13;
	mt_proc_list_free(&l);
	if (mt_proc_dump(&nl, 0, 32768, &l))
		return 14;
	for (i = 0; i < l.n; i++)
		if (l.procs[i].pid == (uint32_t)other_user ||
		    l.procs[i].pid == (uint32_t)nondumpable)
			return 15;
	mt_proc_list_free(&l);
	/* Nor does a dump filtered on the pid. */
	if (mt_proc_dump(&nl, nondumpable, 32768, &l) || l.n)
		return 16;
	mt_proc_list_free(&l);
	if (mt_hwm_reset(&nl) != -EPERM || !nl.extack[0])
		return 17;
	return 0;
}

TEST_F(fig, other_users_and_nondumpable_processes_are_hidden)
{
	int r1, g1, r2, g2, status, pipefd[2];
	pid_t other, nondump, checker;
	char c;

	/* A root process holding a buffer: "another user's process". */
	other = spawn_holder(4 * KiB, &r1, &g1);
	ASSERT_GT(other, 0);

	/* A uid-1000 process that holds a buffer and is not dumpable. */
	ASSERT_EQ(0, chmod("/dev/dma_heap/system", 0666));
	ASSERT_EQ(0, pipe(pipefd));
	nondump = fork();
	ASSERT_GE(nondump, 0);
	if (nondump == 0) {
		close(pipefd[0]);
		if (drop_to(1000) || prctl(PR_SET_DUMPABLE, 0) ||
		    mt_heap_alloc(8 * KiB) < 0)
			_exit(1);
		if (write(pipefd[1], "r", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	r2 = pipefd[0];
	g2 = -1;

	checker = fork();
	ASSERT_GE(checker, 0);
	if (checker == 0)
		_exit(drop_to(1000) ? 20 : access_checks(other, nondump));
	ASSERT_EQ(checker, waitpid(checker, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("access check %d failed",
						 WEXITSTATUS(status));

	/* Root still sees the non-dumpable process. */
	{
		struct mt_proc p;

		ASSERT_EQ(0, mt_proc_get(&self->nl, nondump, &p));
		EXPECT_EQ(1, p.nr_buffers);
		mt_proc_free(&p);
	}
	kill(nondump, SIGKILL);
	waitpid(nondump, NULL, 0);
	close(r2);
	(void)g2;
	chmod("/dev/dma_heap/system", 0600);
	EXPECT_EQ(0, reap(other, r1, g1));
}

/* Root inside a new user namespace is not root for memtrack. */
static int userns_checks(pid_t outside)
{
	struct mt_buf_list bl;
	struct mt_nl nl;
	struct mt_proc p;

	if (unshare(CLONE_NEWUSER))
		return 30;
	if (mt_nl_open(&nl))
		return 31;
	if (mt_proc_get(&nl, getpid(), &p))
		return 32;
	mt_proc_free(&p);
	if (mt_proc_get(&nl, outside, &p) != -EACCES)
		return 33;
	if (mt_buffer_dump(&nl, &bl) != -EPERM)
		return 34;
	if (mt_hwm_reset(&nl) != -EPERM)
		return 35;
	return 0;
}

TEST_F(fig, user_namespace_grants_nothing_outside)
{
	int r, g, status;
	pid_t holder, child;

	holder = spawn_holder(4 * KiB, &r, &g);
	ASSERT_GT(holder, 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(userns_checks(holder));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("user namespace check %d failed",
						 WEXITSTATUS(status));
	EXPECT_EQ(0, reap(holder, r, g));
}

MT_HARNESS_MAIN
