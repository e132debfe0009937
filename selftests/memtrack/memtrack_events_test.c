// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack event selftests: exact event sequences for install, close,
 * fork, exec, exit, threads and SCM_RIGHTS; sequence numbers that step by
 * one and match the generation of dumps; forced loss (ENOBUFS) detected
 * and repaired by a dump equal to ground truth; the privilege rule for
 * subscribing; and subscribers in other network and pid namespaces.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define KiB 1024ULL

struct mt_events {
	int fd;
	struct mt_event ev[512];
	unsigned int n;
	bool enobufs;
};

/* Read every event queued on @fd, waiting at most @ms for the first. */
static void events_read(struct mt_events *es, int ms)
{
	char buf[16384];

	for (;;) {
		struct pollfd p = { .fd = es->fd, .events = POLLIN };
		struct nlmsghdr *nlh;
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return;
		ms = 50;	/* then drain what follows closely */
		n = recv(es->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS)
				es->enobufs = true;
			continue;
		}
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n))
			if (es->n < ARRAY_SIZE(es->ev))
				mt_event_parse(nlh, &es->ev[es->n++]);
	}
}

/*
 * Names the test gives its buffers, by id: an install event is sent when
 * the buffer is created, before DMA_BUF_SET_NAME can name it.
 */
struct label {
	uint64_t id;
	const char *name;
};

static struct label labels[16];
static unsigned int nlabels;

static const char *label_of(const struct mt_buf *b)
{
	unsigned int i;

	for (i = 0; i < nlabels; i++)
		if (labels[i].id == b->id)
			return labels[i].name;
	return "?";
}

/* The events about @pid, in order, as a compact string. */
static const char *describe(const struct mt_events *es, uint32_t pid)
{
	static char out[2048];
	static const char *const reasons[] = {
		[MEMTRACK_REASON_CLOSE] = "close", [MEMTRACK_REASON_EXEC] = "exec",
		[MEMTRACK_REASON_EXIT] = "exit", [MEMTRACK_REASON_UNMAP] = "unmap",
	};
	size_t len = 0;
	unsigned int i;

	out[0] = '\0';
	for (i = 0; i < es->n && len < sizeof(out) - 64; i++) {
		const struct mt_event *e = &es->ev[i];

		if (e->pid != pid)
			continue;
		switch (e->cmd) {
		case MEMTRACK_CMD_PROC_BUFFER_ADD_NTF:
			len += snprintf(out + len, sizeof(out) - len, "install:%s ",
					label_of(&e->buf));
			break;
		case MEMTRACK_CMD_PROC_BUFFER_DEL_NTF:
			len += snprintf(out + len, sizeof(out) - len, "uninstall:%s:%s ",
					label_of(&e->buf),
					e->reason < ARRAY_SIZE(reasons) && reasons[e->reason] ?
			 reasons[e->reason] : "?");
			break;
		case MEMTRACK_CMD_PROC_FORK_NTF:
			len += snprintf(out + len, sizeof(out) - len, "fork:%u ",
					e->nr_buffers);
			break;
		case MEMTRACK_CMD_PROC_BULK_NTF:
			len += snprintf(out + len, sizeof(out) - len, "bulk:+%llu:-%llu:%s ",
					(unsigned long long)e->nr_added,
					(unsigned long long)e->nr_removed,
					e->reason < ARRAY_SIZE(reasons) && reasons[e->reason] ?
					reasons[e->reason] : "-");
			break;
		default:
			len += snprintf(out + len, sizeof(out) - len, "cmd%u ", e->cmd);
		}
	}
	if (len)
		out[len - 1] = '\0';
	return out;
}

static bool seqs_step_by_one(const struct mt_events *es)
{
	unsigned int i;

	for (i = 1; i < es->n; i++)
		if (es->ev[i].seq != es->ev[i - 1].seq + 1)
			return false;
	return true;
}

static const struct mt_event *find_event(const struct mt_events *es, uint8_t cmd,
					 uint32_t pid)
{
	unsigned int i;

	for (i = 0; i < es->n; i++)
		if (es->ev[i].cmd == cmd && es->ev[i].pid == pid)
			return &es->ev[i];
	return NULL;
}

static int named(size_t size, const char *name, bool cloexec)
{
	int fd = mt_heap_alloc(size);

	if (fd < 0 || mt_set_name(fd, name))
		return -1;
	if (nlabels < ARRAY_SIZE(labels)) {
		labels[nlabels].id = mt_fd_ino(fd);
		labels[nlabels++].name = name;
	}
	if (!cloexec) {
		int nf = fcntl(fd, F_DUPFD, 0);

		close(fd);
		fd = nf;
	}
	return fd;
}

FIXTURE(ev)
{
	struct mt_events *es;
	struct mt_nl nl;
};

FIXTURE_SETUP(ev)
{
	self->es = calloc(1, sizeof(*self->es));
	ASSERT_NE(NULL, self->es);
	self->es->fd = mt_events_open(0);
	ASSERT_GE(self->es->fd, 0) TH_LOG("subscribe: %s", strerror(-self->es->fd));
	ASSERT_EQ(0, mt_nl_open(&self->nl));
}

FIXTURE_TEARDOWN(ev)
{
	close(self->es->fd);
	free(self->es);
	mt_nl_close(&self->nl);
}

TEST_F(ev, install_and_close_with_silent_fd_changes)
{
	int a = named(64 * KiB, "ev-a", true);
	int d;
	const struct mt_event *e;

	ASSERT_GE(a, 0);
	d = dup(a);
	ASSERT_GE(d, 0);
	close(d);			/* fd-count changes are silent */
	close(a);
	events_read(self->es, 1000);
	/* The allocation's own install, and its close. */
	EXPECT_STREQ("install:ev-a uninstall:ev-a:close", describe(self->es, getpid()));
	EXPECT_TRUE(seqs_step_by_one(self->es));
	e = find_event(self->es, MEMTRACK_CMD_PROC_BUFFER_ADD_NTF, getpid());
	ASSERT_NE(NULL, e);
	EXPECT_EQ(64 * KiB, e->total);
	EXPECT_EQ(1, e->nr_buffers);
	EXPECT_EQ(64 * KiB, e->buf.size);
	EXPECT_STREQ("system", e->buf.exporter);
	EXPECT_EQ(1, e->buf.holders);
	e = find_event(self->es, MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, getpid());
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, e->total);
	EXPECT_EQ(0, e->nr_buffers);
	EXPECT_EQ(MEMTRACK_REASON_CLOSE, e->reason);
}

static int park_main(char **argv)
{
	char c;

	if (write(atoi(argv[2]), "r", 1) != 1)
		return 1;
	return read(atoi(argv[3]), &c, 1) < 0;
}

TEST_F(ev, fork_exec_and_exit)
{
	int keep = named(32 * KiB, "ev-keep", false);
	int drop = named(16 * KiB, "ev-drop", true);
	int drop2 = named(8 * KiB, "ev-drop2", true);
	int drop3 = named(4 * KiB, "ev-drop3", true);
	int ready[2], go[2], status;
	const struct mt_event *f;
	pid_t pid;
	char c;

	ASSERT_GE(keep, 0);
	ASSERT_GE(drop, 0);
	ASSERT_GE(drop2, 0);
	ASSERT_GE(drop3, 0);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	/* Only the child's ends survive its exec. */
	ASSERT_EQ(0, fcntl(ready[0], F_SETFD, FD_CLOEXEC));
	ASSERT_EQ(0, fcntl(go[1], F_SETFD, FD_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char r[16], g[16];

		snprintf(r, sizeof(r), "%d", ready[1]);
		snprintf(g, sizeof(g), "%d", go[0]);
		execl("/proc/self/exe", "memtrack_events_test", "--park", r, g, NULL);
		_exit(99);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	close(keep);
	close(drop);
	close(drop2);
	close(drop3);
	events_read(self->es, 1000);

	/* One fork event for four inherited buffers, not four installs. */
	f = find_event(self->es, MEMTRACK_CMD_PROC_FORK_NTF, pid);
	ASSERT_NE(NULL, f);
	EXPECT_EQ((uint32_t)getpid(), f->parent);
	EXPECT_EQ(4, f->nr_buffers);
	EXPECT_EQ(60 * KiB, f->total);
	/* One summary for the three close-on-exec fds, one for the exit. */
	EXPECT_STREQ("fork:4 bulk:+0:-3:exec bulk:+0:-1:exit", describe(self->es, pid));
	f = find_event(self->es, MEMTRACK_CMD_PROC_BULK_NTF, pid);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(MEMTRACK_REASON_EXEC, f->reason);
	EXPECT_EQ(32 * KiB, f->total);
	EXPECT_EQ(1, f->nr_buffers);
	EXPECT_EQ(NULL, find_event(self->es, MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, pid));
	EXPECT_STREQ("install:ev-keep install:ev-drop install:ev-drop2 install:ev-drop3 uninstall:ev-keep:close uninstall:ev-drop:close uninstall:ev-drop2:close uninstall:ev-drop3:close",
		     describe(self->es, getpid()));
	EXPECT_TRUE(seqs_step_by_one(self->es));
}

/*
 * A process that exits holding many buffers sends one summary event per
 * holder it stops using, not one per buffer: first its address space
 * (the buffers it holds only through mappings), then its table.  The
 * figures after each follow from the fork event's, and the sequence
 * numbers step by one.
 */
TEST_F(ev, exit_sends_one_summary_per_holder)
{
	enum { FDS = 12, MAPS = 5 };
	int fds[FDS], maps[MAPS], status, i;
	const struct mt_event *e;
	char want[128];
	pid_t pid;

	for (i = 0; i < FDS; i++)
		ASSERT_LE(0, fds[i] = mt_heap_alloc(4 * KiB));
	for (i = 0; i < MAPS; i++)
		ASSERT_LE(0, maps[i] = mt_heap_alloc(8 * KiB));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		for (i = 0; i < MAPS; i++) {
			if (mmap(NULL, 8 * KiB, PROT_READ, MAP_SHARED, maps[i], 0) ==
			    MAP_FAILED)
				_exit(1);
			close(maps[i]);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	for (i = 0; i < FDS; i++)
		close(fds[i]);
	for (i = 0; i < MAPS; i++)
		close(maps[i]);
	events_read(self->es, 1000);
	/* Closing a mapped buffer's fd is silent: the mapping holds it. */
	snprintf(want, sizeof(want), "fork:%d bulk:+0:-%d:exit bulk:+0:-%d:exit",
		 FDS + MAPS, MAPS, FDS);
	EXPECT_STREQ(want, describe(self->es, pid));
	e = find_event(self->es, MEMTRACK_CMD_PROC_BULK_NTF, pid);
	ASSERT_NE(NULL, e);
	/* The address space's summary leaves what the table holds. */
	EXPECT_EQ(FDS * 4 * KiB, e->total);
	EXPECT_EQ(FDS, e->nr_buffers);
	EXPECT_EQ(MEMTRACK_REASON_EXIT, e->reason);
	EXPECT_EQ(NULL, find_event(self->es, MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, pid));
	EXPECT_TRUE(seqs_step_by_one(self->es));
}

/*
 * A mapping holds a buffer: closing the fd of a mapped buffer is silent,
 * and the last munmap() uninstalls it with reason unmap.  Mapping a
 * buffer held through an fd, and splitting the mapping, are silent too.
 */
TEST_F(ev, mmap_close_munmap_sequence)
{
	int fd = named(16 * KiB, "ev-map", true);
	const struct mt_event *e;
	char *p;

	ASSERT_GE(fd, 0);
	p = mmap(NULL, 16 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));
	/* Split the mapping, then unmap the pieces. */
	ASSERT_EQ(0, munmap(p + 4 * KiB, 4 * KiB));
	ASSERT_EQ(0, munmap(p, 4 * KiB));
	ASSERT_EQ(0, munmap(p + 8 * KiB, 8 * KiB));
	events_read(self->es, 1000);
	EXPECT_STREQ("install:ev-map uninstall:ev-map:unmap",
		     describe(self->es, getpid()));
	EXPECT_TRUE(seqs_step_by_one(self->es));
	e = find_event(self->es, MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, getpid());
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, e->total);
	EXPECT_EQ(0, e->nr_buffers);
	EXPECT_EQ(0, e->buf.holders);
	EXPECT_EQ(MEMTRACK_REASON_UNMAP, e->reason);
}

/*
 * The other order: unmapping a buffer that an fd still refers to is
 * silent, and the close uninstalls.  A buffer held only through a mapping
 * at exit or exec is dropped by a summary (bulk) event with that reason.
 */
TEST_F(ev, mapping_only_holders_exit_and_exec)
{
	int fd = named(8 * KiB, "ev-fdmap", true);
	int x = named(4 * KiB, "ev-exit", true);
	int y = named(4 * KiB, "ev-exec", true);
	int ready[2], go[2], status;
	pid_t pid;
	void *p;
	char c;

	ASSERT_GE(fd, 0);
	ASSERT_GE(x, 0);
	ASSERT_GE(y, 0);
	p = mmap(NULL, 8 * KiB, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, 8 * KiB));
	ASSERT_EQ(0, close(fd));

	/* Mapping only: ev-exit in the child that exits. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(y);
		if (mmap(NULL, 4 * KiB, PROT_READ, MAP_SHARED, x, 0) == MAP_FAILED)
			_exit(1);
		close(x);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	events_read(self->es, 1000);
	EXPECT_STREQ("fork:2 uninstall:ev-exec:close bulk:+0:-1:exit",
		     describe(self->es, pid));

	/* Mapping only: ev-exec in the child that execs. */
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, fcntl(ready[0], F_SETFD, FD_CLOEXEC));
	ASSERT_EQ(0, fcntl(go[1], F_SETFD, FD_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char r[16], g[16];

		close(x);
		if (mmap(NULL, 4 * KiB, PROT_READ, MAP_SHARED, y, 0) == MAP_FAILED)
			_exit(1);
		close(y);
		snprintf(r, sizeof(r), "%d", ready[1]);
		snprintf(g, sizeof(g), "%d", go[0]);
		execl("/proc/self/exe", "memtrack_events_test", "--park", r, g, NULL);
		_exit(99);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(go[1]);
	close(ready[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	close(x);
	close(y);
	events_read(self->es, 1000);
	EXPECT_STREQ("fork:2 uninstall:ev-exit:close bulk:+0:-1:exec",
		     describe(self->es, pid));
	EXPECT_STREQ("install:ev-fdmap install:ev-exit install:ev-exec uninstall:ev-fdmap:close uninstall:ev-exit:close uninstall:ev-exec:close",
		     describe(self->es, getpid()));
	EXPECT_TRUE(seqs_step_by_one(self->es));
}

static void *thread_alloc(void *arg)
{
	*(int *)arg = named(8 * KiB, "ev-thread", true);
	return NULL;
}

TEST_F(ev, threads_report_their_process)
{
	pthread_t t;
	int fd = -1;

	ASSERT_EQ(0, pthread_create(&t, NULL, thread_alloc, &fd));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_GE(fd, 0);
	close(fd);
	events_read(self->es, 1000);
	/* Attributed to the thread group, whichever thread acted. */
	EXPECT_STREQ("install:ev-thread uninstall:ev-thread:close",
		     describe(self->es, getpid()));
}

TEST_F(ev, scm_rights_receiver_starts_holding)
{
	int sv[2], a = named(24 * KiB, "ev-scm", true), status;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, data = 'x';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	const struct mt_event *e;
	pid_t pid;

	ASSERT_GE(a, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();	/* before the buffer reaches it: no fork event */
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(a);	/* cloexec is not close: drop the inherited fd */
		_exit(recvmsg(sv[1], &msg, 0) == 1 ? 0 : 1);
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &a, sizeof(int));
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	events_read(self->es, 1000);
	/* It inherited the buffer (fork), dropped it, got it back, exited. */
	EXPECT_STREQ("fork:1 uninstall:ev-scm:close install:ev-scm bulk:+0:-1:exit",
		     describe(self->es, pid));
	e = find_event(self->es, MEMTRACK_CMD_PROC_BUFFER_ADD_NTF, pid);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(2, e->buf.holders);
	EXPECT_EQ(24 * KiB, e->total);
}

TEST_F(ev, dump_generation_matches_event_sequence)
{
	struct mt_proc p;
	int a = named(4 * KiB, "ev-gen", true);

	ASSERT_GE(a, 0);
	events_read(self->es, 1000);
	ASSERT_GT(self->es->n, 0);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	/* The reply reflects exactly the events up to its generation. */
	EXPECT_EQ(self->es->ev[self->es->n - 1].seq, p.generation);
	mt_proc_free(&p);
}

TEST_F_TIMEOUT(ev, loss_is_detected_and_a_dump_resyncs, 300)
{
	struct mt_events *small = calloc(1, sizeof(*small));
	struct mt_proc got, truth;
	int fds[64], i, round;
	const char *why;
	bool gap;

	ASSERT_NE(NULL, small);
	/* The smallest receive buffer the kernel allows. */
	small->fd = mt_events_open(1);
	ASSERT_GE(small->fd, 0);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 64; i++)
			fds[i] = mt_heap_alloc(4096);
		for (i = 0; i < 64; i++)
			if (i % 3)
				close(fds[i]);
	}
	events_read(small, 1000);
	gap = !seqs_step_by_one(small);
	EXPECT_TRUE(small->enobufs || gap)
		TH_LOG("2,560 events into a tiny buffer lost nothing visible");
	TH_LOG("received %u events, ENOBUFS %s, gap %s", small->n,
	       small->enobufs ? "yes" : "no", gap ? "yes" : "no");

	/* Resync: a dump equals ground truth. */
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &got));
	ASSERT_EQ(0, mt_truth_read(getpid(), &truth));
	why = mt_proc_diff(&got, &truth);
	EXPECT_TRUE(!why) TH_LOG("after loss: %s", why);
	mt_proc_free(&got);
	mt_proc_free(&truth);
	close(small->fd);
	free(small);
}

/* What subscribing returns in a child that first runs @drop. */
static int subscribe_after(int (*drop)(void))
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1000;
	if (pid == 0) {
		int fd;

		if (drop())
			_exit(100);
		fd = mt_events_open(0);
		if (fd >= 0)
			_exit(0);
		_exit(-fd < 100 ? -fd : 101);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1001;
	return -WEXITSTATUS(status);
}

static int drop_to_user(void)
{
	return mt_drop_to_user(1000);
}

static int drop_net_admin(void)
{
	return mt_drop_cap(CAP_NET_ADMIN);
}

static int drop_sys_admin(void)
{
	return mt_drop_cap(CAP_SYS_ADMIN);
}

static int drop_nothing(void)
{
	return 0;
}

/*
 * Events describe every process: the group asks for CAP_NET_ADMIN
 * (admin-perm) and CAP_SYS_ADMIN (sys-admin-perm) of the subscriber.
 */
TEST(subscribing_needs_cap_net_admin_and_cap_sys_admin)
{
	EXPECT_EQ(0, subscribe_after(drop_nothing));
	EXPECT_EQ(-EPERM, subscribe_after(drop_to_user));
	EXPECT_EQ(-EPERM, subscribe_after(drop_net_admin));
	EXPECT_EQ(-EPERM, subscribe_after(drop_sys_admin));
}

/*
 * A subscriber in a child pid namespace (root of the initial user and
 * network namespaces, as subscribing requires) receives the pids of the
 * initial pid namespace, as documented: one multicast message cannot be
 * translated for each subscriber.  A dump from the same place is
 * translated, so the process that is invisible there is not listed.
 */
/* Whether this process runs in the initial pid namespace. */
static bool in_initial_pid_ns(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int levels = 0;

	while (f && fgets(line, sizeof(line), f)) {
		char *p = line;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (p += 6; *p; p++)
			if (*p >= '0' && *p <= '9' && (p[-1] == ' ' || p[-1] == '\t'))
				levels++;
	}
	if (f)
		fclose(f);
	return levels == 1;
}

TEST(child_pid_namespace_subscriber_gets_initial_pids)
{
	int ready[2], go[2], status, buf, keep;
	pid_t child;
	char c;

	/* The test compares event pids with its own, as the initial one. */
	if (!in_initial_pid_ns())
		SKIP(return, "not in the initial pid namespace");

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	keep = mt_heap_alloc(4 * KiB);
	ASSERT_GE(keep, 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		pid_t inner;

		if (unshare(CLONE_NEWPID))
			_exit(10);
		inner = fork();
		if (inner < 0)
			_exit(11);
		if (inner == 0) {
			struct mt_proc_list l;
			struct mt_events *es;
			uint32_t parent;
			struct mt_nl nl;
			int own;

			if (getpid() != 1)
				_exit(20);
			es = calloc(1, sizeof(*es));
			if (!es)
				_exit(21);
			/* Room for the system's other events meanwhile. */
			es->fd = mt_events_open(1 << 20);
			if (es->fd < 0)
				_exit(22);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &parent, sizeof(parent)) != sizeof(parent))
				_exit(23);
			/* The parent's install and uninstall were sent by now. */
			events_read(es, 1000);
			if (!find_event(es, MEMTRACK_CMD_PROC_BUFFER_ADD_NTF, parent) ||
			    !find_event(es, MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, parent))
				_exit(24);
			/*
			 * A dump names only what this namespace sees: this
			 * process, as pid 1, and not the parent, which
			 * holds a buffer too.
			 */
			own = mt_heap_alloc(4 * KiB);
			if (own < 0 || mt_nl_open(&nl) ||
			    mt_proc_query(&nl, true, 0, NULL, NULL, &l))
				_exit(25);
			if (l.n != 1 || l.procs[0].pid != 1)
				_exit(26);
			_exit(0);
		}
		_exit(waitpid(inner, &status, 0) == inner && WIFEXITED(status) ?
		      WEXITSTATUS(status) : 12);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	buf = mt_heap_alloc(4 * KiB);
	ASSERT_GE(buf, 0);
	close(buf);
	ASSERT_EQ(sizeof(uint32_t),
		  write(go[1], &(uint32_t){ getpid() }, sizeof(uint32_t)));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("the child pid namespace's subscriber (step %d)",
		       WEXITSTATUS(status));
	close(keep);
}

/*
 * Events describe the whole system, so they are sent in the initial
 * network namespace only: a subscriber in another network namespace
 * (root here; an unprivileged user can make one with a user namespace)
 * receives none, while one in the initial namespace receives them.
 */
TEST(events_stay_in_the_initial_network_namespace)
{
	int ready[2], go[2], status, fd, buf;
	struct mt_events *es;
	pid_t child;
	char c;

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		struct pollfd p;

		if (unshare(CLONE_NEWNET))
			_exit(10);
		fd = mt_events_open(0);
		if (fd < 0)
			_exit(11);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(12);
		/* The parent's install and uninstall were sent by now. */
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		_exit(poll(&p, 1, 500) == 0 ? 0 : 13);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	es = calloc(1, sizeof(*es));
	ASSERT_NE(NULL, es);
	es->fd = mt_events_open(0);
	ASSERT_GE(es->fd, 0);
	buf = mt_heap_alloc(4 * KiB);
	ASSERT_GE(buf, 0);
	close(buf);
	events_read(es, 1000);
	/* The initial namespace saw the install and the uninstall. */
	EXPECT_NE(NULL, find_event(es, MEMTRACK_CMD_PROC_BUFFER_ADD_NTF, getpid()));
	EXPECT_NE(NULL, find_event(es, MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, getpid()));

	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("the child namespace's subscriber (step %d)",
		       WEXITSTATUS(status));
	close(es->fd);
	free(es);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--park"))
		return park_main(argv);
	mt_require_memtrack();
	return test_harness_run(argc, argv);
}
