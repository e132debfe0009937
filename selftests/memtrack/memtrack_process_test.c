// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack selftests of what a process is: a thread group found through
 * any live thread (a zombie group leader hides nothing), the union of the
 * descriptor tables of its threads and the address space it owns; table
 * copies that count only once they are used (a fork or unshare that fails
 * after copying sends no event and changes no figure); close_range() with
 * CLOSE_RANGE_UNSHARE; CLONE_VM and vfork children, which do not own the
 * address space they share; and events that always name the process that
 * held the buffer, with figures that replay exactly, per pid.
 *
 * Every figure is compared with ground truth: what the test created,
 * /proc/PID/fdinfo and /proc/PID/maps (or, for a zombie leader or a
 * thread with its own table, /proc/PID/task/TID).  The behaviour checked
 * is the one Documentation/userspace-api/memtrack.rst describes.
 *
 * Some cases change system settings for a moment (pid_max, to make fork
 * fail; max_user_namespaces, to make unshare fail); a guard process puts
 * them back even if the test is killed.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/prctl.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define KiB 1024ULL
#define PAGE (4 * KiB)
#define STACK_SIZE (256 * 1024)

extern char **environ;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* A buffer fd placed at @at or above, without FD_CLOEXEC; -errno. */
static int place_at(int fd, int at)
{
	int nfd;

	if (fd < 0)
		return fd;
	nfd = fcntl(fd, F_DUPFD, at);
	close(fd);
	return nfd < 0 ? -errno : nfd;
}

/* A stack for clone(): mapped here, so shared with a CLONE_VM child. */
static void *clone_stack(void)
{
	char *s = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	return s == MAP_FAILED ? NULL : s + STACK_SIZE;
}

/* clone() child: wait until the fd in @arg is written to or closed. */
static int park_fn(void *arg)
{
	char c;

	return syscall(SYS_read, *(int *)arg, &c, 1) < 0;
}

/* Wait until thread @tid of @pid is in state @want; false on timeout. */
static bool wait_task_state(pid_t pid, pid_t tid, char want)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (mt_task_state(pid, tid) == want)
			return true;
		usleep(5000);
	}
	return false;
}

/* The entry of @pid in a dump, or NULL. */
static const struct mt_proc *dump_find(const struct mt_proc_list *l, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (l->procs[i].pid == (uint32_t)pid)
			return &l->procs[i];
	return NULL;
}

/* The figures a failed fork or unshare must leave alone. */
struct figures {
	uint32_t nr_buffers;
	uint32_t nr_fds;
	uint64_t total;
	uint64_t pss;
	uint64_t unique;
	uint64_t hwm;
	uint64_t mapped;
	uint64_t generation;
	bool incomplete;
	unsigned int n;
	uint64_t ids[8];
	uint32_t holders[8];
};

static void figures_of(const struct mt_proc *p, struct figures *f)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	f->nr_buffers = p->nr_buffers;
	f->nr_fds = p->nr_fds;
	f->total = p->total;
	f->pss = p->pss;
	f->unique = p->unique;
	f->hwm = p->hwm;
	f->mapped = p->mapped;
	f->generation = p->generation;
	f->incomplete = p->incomplete;
	for (i = 0; i < p->nbufs && i < 8; i++) {
		f->ids[i] = p->bufs[i].id;
		f->holders[i] = p->bufs[i].holders;
	}
	f->n = p->nbufs;
}

/* NULL if equal, or what differs (a static string). */
static const char *figures_diff(const struct figures *a, const struct figures *b)
{
	static char why[256];
	unsigned int i;

#define FIG_CMP(field)							\
	do {								\
		if (a->field != b->field) {				\
			snprintf(why, sizeof(why), #field " %llu, then %llu", \
				 (unsigned long long)a->field,		\
				 (unsigned long long)b->field);		\
			return why;					\
		}							\
	} while (0)
	FIG_CMP(nr_buffers);
	FIG_CMP(nr_fds);
	FIG_CMP(total);
	FIG_CMP(pss);
	FIG_CMP(unique);
	FIG_CMP(hwm);
	FIG_CMP(mapped);
	FIG_CMP(generation);
	FIG_CMP(incomplete);
	FIG_CMP(n);
	for (i = 0; i < a->n && i < 8; i++) {
		FIG_CMP(ids[i]);
		if (a->holders[i] != b->holders[i]) {
			snprintf(why, sizeof(why), "buffer %llu: holders %u, then %u",
				 (unsigned long long)a->ids[i], a->holders[i],
				 b->holders[i]);
			return why;
		}
	}
#undef FIG_CMP
	return NULL;
}

/*
 * Replay the events of @l about the pids in @pids (all if @npids is 0)
 * into @r, logging every event and each one that does not follow from
 * the earlier ones.  Returns the number of those.
 */
static unsigned int replay(struct __test_metadata *_metadata,
			   const struct mt_evlog *l, struct mt_replay *r,
			   const pid_t *pids, unsigned int npids)
{
	unsigned int i, j, bad = 0;

	for (i = 0; i < l->n; i++) {
		const struct mt_event *e = &l->ev[i];

		for (j = 0; j < npids && pids[j] != (pid_t)e->pid; j++)
			;
		if (npids && j == npids)
			continue;
		TH_LOG("  event %s", mt_event_str(e));
		if (!mt_replay_apply(r, e)) {
			TH_LOG("  ^ %s", r->why);
			bad++;
		}
	}
	return bad;
}

/* The replayed figures of @pid are zero (a pid without events is). */
static bool replay_at_zero(struct mt_replay *r, pid_t pid)
{
	const struct mt_replay_proc *p = mt_replay_find(r, (uint32_t)pid, false);

	return !p || (!p->total && !p->nr);
}

/* Query @pid and compare with @want; logs and returns the difference. */
static const char *query_vs(struct __test_metadata *_metadata, struct mt_nl *nl,
			    pid_t pid, const struct mt_proc *want, struct mt_proc *got)
{
	const char *why;
	int ret;

	memset(got, 0, sizeof(*got));
	ret = mt_proc_get(nl, (uint32_t)pid, got);
	if (ret) {
		TH_LOG("query %d: %s (%s)", pid, strerror(-ret), nl->extack);
		return "query failed";
	}
	why = mt_proc_diff(got, want);
	if (why)
		TH_LOG("pid %d against ground truth: %s", pid, why);
	return why;
}

FIXTURE(proc)
{
	struct mt_nl nl;
	struct mt_evlog ev;
	struct mt_pid_squeeze squeeze;
	struct mt_sysctl userns;
	pid_t kids[8];		/* killed and reaped at teardown */
	unsigned int nkids;
};

FIXTURE_SETUP(proc)
{
	int ret;

	self->ev.fd = -1;
	self->squeeze.pid_max.fd = -1;
	self->userns.fd = -1;
	ret = mt_nl_open(&self->nl);
	ASSERT_EQ(0, ret) TH_LOG("cannot open the memtrack family: %s",
				 strerror(-ret));
}

FIXTURE_TEARDOWN(proc)
{
	unsigned int i;

	/* First give the system its settings back, whatever happened. */
	EXPECT_EQ(0, mt_pids_release(&self->squeeze));
	EXPECT_EQ(0, mt_sysctl_restore(&self->userns));
	for (i = 0; i < self->nkids; i++) {
		kill(self->kids[i], SIGKILL);
		waitpid(self->kids[i], NULL, __WALL);
	}
	mt_evlog_close(&self->ev);
	mt_nl_close(&self->nl);
}

#define KEEP_KID(pid)							\
	do {								\
		if (self->nkids < ARRAY_SIZE(self->kids)) \
			self->kids[self->nkids++] = (pid);		\
	} while (0)

/* Subscribe to events, or skip the case where that is not possible. */
#define SUBSCRIBE()							\
	do {								\
		int __r = mt_evlog_open(&self->ev, 4 << 20);		\
		ASSERT_EQ(0, __r) TH_LOG("subscribe: %s", strerror(-__r)); \
	} while (0)

/* ------------------------------------------------------------------ */
/* Finding a process                                                   */

struct survivor {
	int ready;	/* write: the surviving thread's tid */
	int go;		/* read: exit the process */
};

static void *survivor_thread(void *arg)
{
	struct survivor *s = arg;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	char c;

	if (write(s->ready, &tid, sizeof(tid)) != sizeof(tid))
		_exit(2);
	if (read(s->go, &c, 1) < 0)
		_exit(3);
	_exit(0);
}

/*
 * The main thread of a process exits with pthread_exit() while another
 * thread keeps the process, its table and its address space alive: the
 * leader is a zombie, and /proc/PID/fdinfo and /proc/PID/maps are empty,
 * but the process is found by its tgid, with everything it holds.
 */
TEST_F_TIMEOUT(proc, process_found_through_any_live_thread, 120)
{
	int ready[2], go[2], status;
	struct mt_proc got, want;
	struct mt_proc_list l;
	const struct mt_proc *d;
	const char *why;
	pid_t pid, tid;
	unsigned int i;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct survivor s = { .ready = ready[1], .go = go[0] };
		int fd = mt_heap_alloc(64 * KiB), mfd = mt_udmabuf_alloc(4 * PAGE);
		pthread_t t;

		/* One buffer by fd, one through a mapping only. */
		if (fd < 0 || mfd < 0 || mt_set_name(fd, "by-fd"))
			_exit(10);
		if (mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, mfd, 0) == MAP_FAILED)
			_exit(11);
		close(mfd);
		if (pthread_create(&t, NULL, survivor_thread, &s))
			_exit(12);
		pthread_exit(NULL);
	}
	KEEP_KID(pid);
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(sizeof(tid), read(ready[0], &tid, sizeof(tid)));
	ASSERT_TRUE(wait_task_state(pid, pid, 'Z'))
		TH_LOG("the group leader never became a zombie");

	/* Ground truth through the live thread. */
	ASSERT_EQ(0, mt_truth_read_tables(pid, &tid, 1, &want));
	ASSERT_EQ(2, want.nr_buffers);
	why = query_vs(_metadata, &self->nl, pid, &want, &got);
	EXPECT_TRUE(!why)
		TH_LOG("a process whose leader is a zombie: %s", why);
	EXPECT_FALSE(got.incomplete);
	for (i = 0; i < got.nbufs; i++)
		EXPECT_EQ(1, got.bufs[i].holders);
	EXPECT_EQ(want.total, got.pss);
	EXPECT_EQ(want.total, got.unique);
	mt_proc_free(&got);

	/* The dump lists it, with the same figures. */
	ASSERT_EQ(0, mt_proc_dump(&self->nl, 0, 32768, &l));
	d = dump_find(&l, pid);
	EXPECT_NE(NULL, d) TH_LOG("the dump does not list a process whose leader is a zombie");
	if (d) {
		why = mt_proc_diff(d, &want);
		EXPECT_TRUE(!why) TH_LOG("dump: %s", why);
	}
	mt_proc_list_free(&l);
	mt_proc_free(&want);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	self->nkids--;
}

struct own_table {
	int ready;	/* write: tid, then the id of its buffer */
	int go;		/* read: close it and return */
	uint64_t id;
};

static void *own_table_thread(void *arg)
{
	struct own_table *o = arg;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int fd;
	char c;

	/* A private copy of the table, then a buffer only it holds. */
	if (unshare(CLONE_FILES))
		return (void *)1;
	fd = mt_heap_alloc(32 * KiB);
	if (fd < 0)
		return (void *)2;
	o->id = mt_fd_ino(fd);
	if (write(o->ready, &tid, sizeof(tid)) != sizeof(tid))
		return (void *)3;
	if (read(o->go, &c, 1) != 1)
		return (void *)4;
	close(fd);
	return NULL;
}

/*
 * A thread that called unshare(CLONE_FILES) has a table of its own; what
 * it holds belongs to its process, next to what the main table holds.
 */
TEST_F_TIMEOUT(proc, thread_with_own_table_is_not_lost, 120)
{
	struct own_table o = { 0 };
	int ready[2], go[2], fd;
	struct mt_proc got, want;
	struct mt_proc_list l;
	const struct mt_proc *d;
	const struct mt_buf *b;
	const char *why;
	pid_t tids[2] = { getpid(), 0 };
	pthread_t t;
	void *res;
	char *p;

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	o.ready = ready[1];
	o.go = go[0];
	ASSERT_EQ(0, pthread_create(&t, NULL, own_table_thread, &o));
	ASSERT_EQ(sizeof(tids[1]), read(ready[0], &tids[1], sizeof(tids[1])));

	/* The main table's buffer, made after the thread's copy: by fd and mapped. */
	fd = mt_udmabuf_alloc(4 * PAGE);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	ASSERT_EQ(0, mt_truth_read_tables(getpid(), tids, 2, &want));
	ASSERT_EQ(2, want.nr_buffers);
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why) TH_LOG("a thread's own table: %s", why);
	b = mt_proc_find(&got, o.id);
	EXPECT_NE(NULL, b) TH_LOG("the buffer of the thread's own table is missing");
	if (b)
		EXPECT_EQ(1, b->holders);
	b = mt_proc_find(&got, mt_fd_ino(fd));
	EXPECT_NE(NULL, b) TH_LOG("the main table's buffer is missing");
	if (b) {
		EXPECT_EQ(1, b->holders);
		EXPECT_EQ(4 * PAGE, b->mapped);
	}
	EXPECT_EQ(want.total, got.pss);
	EXPECT_EQ(want.total, got.unique);
	EXPECT_FALSE(got.incomplete);
	mt_proc_free(&got);

	ASSERT_EQ(0, mt_proc_dump(&self->nl, getpid(), 32768, &l));
	d = dump_find(&l, getpid());
	EXPECT_NE(NULL, d);
	if (d) {
		why = mt_proc_diff(d, &want);
		EXPECT_TRUE(!why) TH_LOG("dump: %s", why);
	}
	mt_proc_list_free(&l);
	mt_proc_free(&want);

	/* The thread closes its buffer and ends: the main table's is left. */
	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(0, pthread_join(t, &res));
	ASSERT_EQ(NULL, res);
	ASSERT_EQ(0, mt_truth_read(getpid(), &want));
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why) TH_LOG("after the thread ended: %s", why);
	EXPECT_EQ(NULL, mt_proc_find(&got, o.id));
	mt_proc_free(&got);
	mt_proc_free(&want);
}

/* ------------------------------------------------------------------ */
/* Table copies and sharers                                            */

/*
 * P holds X by fd and mapping; a clone(CLONE_FILES) child C shares P's
 * table; P unshares; C exits and is reaped: P is X's only holder again.
 */
TEST_F_TIMEOUT(proc, unshared_clone_files_sharer_leaves_one_holder, 120)
{
	const uint64_t size = 64 * KiB;
	int fd = mt_heap_alloc(size), go[2], status;
	struct mt_buf_list all;
	struct mt_proc got, want;
	const struct mt_buf *b;
	const char *why;
	void *stack = clone_stack();
	uint64_t id;
	pid_t c;

	ASSERT_GE(fd, 0);
	ASSERT_NE(NULL, stack);
	id = mt_fd_ino(fd);
	ASSERT_NE(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	c = clone(park_fn, stack, CLONE_FILES | SIGCHLD, &go[0]);
	ASSERT_GT(c, 0);
	KEEP_KID(c);
	ASSERT_EQ(0, unshare(CLONE_FILES));

	/* Two tables and two address spaces: P and C hold X, one each. */
	ASSERT_EQ(0, mt_truth_read(getpid(), &want));
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why);
	b = mt_proc_find(&got, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(2, b->holders);
	EXPECT_EQ(size / 2, got.pss);
	EXPECT_EQ(0, got.unique);
	mt_proc_free(&got);
	mt_proc_free(&want);
	ASSERT_EQ(0, mt_truth_read(c, &want));
	why = query_vs(_metadata, &self->nl, c, &want, &got);
	EXPECT_TRUE(!why) TH_LOG("the sharer");
	mt_proc_free(&got);
	mt_proc_free(&want);

	/* C exits and is reaped. */
	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(c, waitpid(c, &status, 0));
	EXPECT_EQ(0, status);
	self->nkids--;

	ASSERT_EQ(0, mt_truth_read(getpid(), &want));
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why);
	b = mt_proc_find(&got, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->holders) TH_LOG("the sharer's old table is gone: one holder left");
	EXPECT_EQ(size, got.unique);
	EXPECT_EQ(size, got.pss);
	mt_proc_free(&got);
	mt_proc_free(&want);
	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &all));
	b = mt_buf_list_find(&all, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->holders);
	free(all.bufs);
}

/* A process that keeps querying another while a fork or unshare fails. */
struct watcher {
	volatile int armed;
	volatile int stop;
	pid_t target;
	struct figures want;
	volatile unsigned long polls;
	volatile unsigned long deviations;
	char why[256];
};

static struct watcher *watcher_start(pid_t *pid)
{
	struct watcher *w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (w == MAP_FAILED)
		return NULL;
	memset(w, 0, sizeof(*w));
	*pid = fork();
	if (*pid < 0)
		return NULL;
	if (*pid == 0) {
		struct mt_nl nl;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (mt_nl_open(&nl))
			_exit(1);
		while (!w->stop) {
			struct figures f;
			struct mt_proc p;
			const char *why;

			if (!w->armed) {
				usleep(1000);
				continue;
			}
			if (mt_proc_get(&nl, (uint32_t)w->target, &p))
				continue;
			figures_of(&p, &f);
			mt_proc_free(&p);
			w->polls++;
			why = figures_diff(&w->want, &f);
			if (why && !w->deviations++)
				snprintf(w->why, sizeof(w->why), "%s", why);
		}
		_exit(0);
	}
	return w;
}

static void watcher_stop(struct watcher *w, pid_t pid)
{
	w->stop = 1;
	waitpid(pid, NULL, 0);
}

/*
 * copy_process() copies the table (dup_fd()) and the address space
 * (dup_mmap()) before it allocates the pid: with every pid taken, fork()
 * fails with EAGAIN after both copies were made.  The copies never count:
 * no event, and no figure moves, not even for a moment.
 */
TEST_F_TIMEOUT(proc, failed_fork_emits_nothing_and_changes_nothing, 180)
{
	struct figures before, after;
	struct mt_stats s0, s1;
	struct mt_proc p;
	struct watcher *w;
	const char *why;
	pid_t wpid;
	int fd, mfd, xfd, i, forked = 0, ret;
	unsigned int k;
	char *m;

	/* Everything that needs a pid, before the pids run out. */
	w = watcher_start(&wpid);
	ASSERT_NE(NULL, w);
	KEEP_KID(wpid);
	ret = mt_pids_exhaust(&self->squeeze);
	ASSERT_EQ(0, ret) TH_LOG("cannot use up the pids: %s", strerror(-ret));
	TH_LOG("pid_max %d, %u parked children took the last free pids",
	       self->squeeze.pid_max.orig, self->squeeze.n);
	SUBSCRIBE();

	/* Held by fd and mapping, by mapping only, by fd only. */
	fd = mt_heap_alloc(64 * KiB);
	mfd = mt_udmabuf_alloc(4 * PAGE);
	xfd = mt_heap_alloc(16 * KiB);
	ASSERT_GE(fd, 0);
	ASSERT_GE(mfd, 0);
	ASSERT_GE(xfd, 0);
	m = mmap(NULL, 64 * KiB, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_NE(MAP_FAILED, mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, mfd, 0));
	ASSERT_EQ(0, close(mfd));
	mt_evlog_read(&self->ev, 200);
	self->ev.n = 0;

	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	ASSERT_EQ(3, p.nr_buffers);
	figures_of(&p, &before);
	mt_proc_free(&p);
	ASSERT_EQ(0, mt_stats_get(&self->nl, &s0));
	w->target = getpid();
	w->want = before;
	w->armed = 1;

	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0) {
			waitpid(pid, NULL, 0);
			forked++;
			continue;
		}
		EXPECT_EQ(EAGAIN, errno);
	}
	ASSERT_EQ(0, forked) TH_LOG("fork() succeeded with every pid taken");

	/* Let the watcher see a few more replies, then stop it. */
	for (i = 0; i < 200 && w->polls < 20; i++)
		usleep(5000);
	mt_evlog_read(&self->ev, 500);
	EXPECT_EQ(0, self->ev.n) TH_LOG("%u events from forks that failed", self->ev.n);
	for (k = 0; k < self->ev.n; k++)
		TH_LOG("  %s", mt_event_str(&self->ev.ev[k]));

	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	figures_of(&p, &after);
	mt_proc_free(&p);
	why = figures_diff(&before, &after);
	EXPECT_TRUE(!why) TH_LOG("after failed forks: %s", why);
	ASSERT_EQ(0, mt_stats_get(&self->nl, &s1));
	EXPECT_EQ(s0.generation, s1.generation);
	EXPECT_EQ(s0.held, s1.held);
	EXPECT_EQ(s0.hwm, s1.hwm);

	w->armed = 0;
	watcher_stop(w, wpid);
	self->nkids--;
	TH_LOG("the watcher compared %lu replies during the failed forks", w->polls);
	EXPECT_EQ(0, w->deviations) TH_LOG("%lu replies moved while fork failed: %s",
					   w->deviations, w->why);
	EXPECT_EQ(0, mt_pids_release(&self->squeeze));
	munmap(w, sizeof(*w));
}

/*
 * A child that holds buffers by fd and mapping, shares its table (a
 * thread, or a clone(CLONE_FILES) child with @clone_files_sharer), drops
 * privileges if @uid, and calls unshare(@flags) when told; it writes
 * back the errno.
 */
struct unsharer {
	pid_t pid;
	int cmd;	/* write: 'u' unshare, 'x' exit */
	int res;	/* read: 'r' ready, then the errno */
};

static void *parked_thread(void *arg)
{
	char c;

	if (read(*(int *)arg, &c, 1) < 0)
		return NULL;
	return NULL;
}

static int unsharer_start(struct unsharer *u, unsigned long flags, uid_t uid,
			  bool clone_files_sharer)
{
	int cmd[2], res[2];

	if (pipe(cmd) || pipe(res))
		return -1;
	u->pid = fork();
	if (u->pid < 0)
		return -1;
	if (u->pid == 0) {
		int fd = mt_heap_alloc(64 * KiB), mfd = mt_udmabuf_alloc(4 * PAGE);
		int park[2], err;
		pthread_t t;
		char c;

		close(cmd[1]);
		close(res[0]);
		if (fd < 0 || mfd < 0 || pipe(park))
			_exit(10);
		if (mmap(NULL, 64 * KiB, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ||
		    mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, mfd, 0) == MAP_FAILED)
			_exit(11);
		close(mfd);
		if (clone_files_sharer) {
			void *stack = clone_stack();

			if (!stack || clone(park_fn, stack, CLONE_FILES | SIGCHLD,
					    &park[0]) < 0)
				_exit(12);
		} else if (pthread_create(&t, NULL, parked_thread, &park[0])) {
			_exit(13);
		}
		if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
			    setresuid(uid, uid, uid)))
			_exit(14);
		if (write(res[1], "r", 1) != 1)
			_exit(15);
		while (read(cmd[0], &c, 1) == 1) {
			if (c == 'x')
				break;
			err = unshare(flags) ? errno : 0;
			if (write(res[1], &err, sizeof(err)) != sizeof(err))
				_exit(16);
		}
		close(park[1]);
		_exit(0);
	}
	close(cmd[0]);
	close(res[1]);
	u->cmd = cmd[1];
	u->res = res[0];
	return 0;
}

/* Run one failing unshare in @u; the test's assertions around it. */
static void failed_unshare(struct __test_metadata *_metadata,
			   FIXTURE_DATA(proc) * self, struct unsharer *u,
			   int want_errno)
{
	struct figures before, after;
	struct mt_proc p;
	const char *why;
	unsigned int k;
	int err, i;
	char c;

	ASSERT_EQ(1, read(u->res, &c, 1)) TH_LOG("the child did not start");
	mt_evlog_read(&self->ev, 200);
	self->ev.n = 0;
	ASSERT_EQ(0, mt_proc_get(&self->nl, u->pid, &p));
	ASSERT_EQ(2, p.nr_buffers);
	figures_of(&p, &before);
	mt_proc_free(&p);

	for (i = 0; i < 10; i++) {
		ASSERT_EQ(1, write(u->cmd, "u", 1));
		ASSERT_EQ(sizeof(err), read(u->res, &err, sizeof(err)));
		ASSERT_EQ(want_errno, err) TH_LOG("unshare: %s, wanted %s",
						  strerror(err), strerror(want_errno));
	}
	mt_evlog_read(&self->ev, 500);
	EXPECT_EQ(0, self->ev.n) TH_LOG("%u events from unshares that failed", self->ev.n);
	for (k = 0; k < self->ev.n; k++)
		TH_LOG("  %s", mt_event_str(&self->ev.ev[k]));
	ASSERT_EQ(0, mt_proc_get(&self->nl, u->pid, &p));
	figures_of(&p, &after);
	mt_proc_free(&p);
	why = figures_diff(&before, &after);
	EXPECT_TRUE(!why) TH_LOG("after failed unshares: %s", why);

	ASSERT_EQ(1, write(u->cmd, "x", 1));
	ASSERT_EQ(u->pid, waitpid(u->pid, &err, 0));
	EXPECT_EQ(0, err);
}

/*
 * unshare(CLONE_FILES | CLONE_NEWUTS) by an unprivileged process whose
 * table a thread shares: the table is copied, then the new namespace is
 * refused (EPERM).  The copy is thrown away without a trace.
 */
TEST_F_TIMEOUT(proc, failed_unshare_unprivileged_emits_nothing_and_changes_nothing, 120)
{
	struct unsharer u;

	SUBSCRIBE();
	ASSERT_EQ(0, unsharer_start(&u, CLONE_FILES | CLONE_NEWUTS, 1000, false));
	KEEP_KID(u.pid);
	failed_unshare(_metadata, self, &u, EPERM);
}

/*
 * unshare(CLONE_FILES | CLONE_NEWUSER) by root while user namespaces are
 * used up (max_user_namespaces 0) and a clone(CLONE_FILES) child shares
 * the table: copied, then ENOSPC.
 */
TEST_F_TIMEOUT(proc, failed_unshare_user_ns_emits_nothing_and_changes_nothing, 120)
{
	struct unsharer u;
	int ret;

	ret = mt_sysctl_set(&self->userns, "/proc/sys/user/max_user_namespaces", 0);
	ASSERT_EQ(0, ret) TH_LOG("max_user_namespaces: %s", strerror(-ret));
	SUBSCRIBE();
	ASSERT_EQ(0, unsharer_start(&u, CLONE_FILES | CLONE_NEWUSER, 0, true));
	KEEP_KID(u.pid);
	failed_unshare(_metadata, self, &u, ENOSPC);
}

/*
 * close_range(lo, hi, CLOSE_RANGE_UNSHARE) on a table that a
 * clone(CLONE_FILES) child shares: the caller ends with a private table
 * without the range, and an uninstall (close) for each buffer it no
 * longer holds at all; the sharer keeps everything.
 */
TEST_F_TIMEOUT(proc, close_range_unshare_reports_what_was_closed, 120)
{
	int a, b, cb, d, go[2], status, cdup, uninstalls = 0;
	struct mt_proc got, want;
	struct mt_replay r = { 0 };
	const struct mt_buf *buf;
	const char *why;
	void *stack = clone_stack();
	uint64_t ida, idb, idc, idd;
	pid_t s, pids[2];
	unsigned int k;

	SUBSCRIBE();
	a = place_at(mt_heap_alloc(16 * KiB), 100);
	b = place_at(mt_heap_alloc(32 * KiB), 101);
	cb = place_at(mt_udmabuf_alloc(2 * PAGE), 102);
	d = place_at(mt_heap_alloc(PAGE), 120);
	ASSERT_EQ(100, a);
	ASSERT_EQ(101, b);
	ASSERT_EQ(102, cb);
	ASSERT_EQ(120, d);
	ASSERT_NE(NULL, stack);
	cdup = fcntl(cb, F_DUPFD, 150);
	ASSERT_EQ(150, cdup);
	ida = mt_fd_ino(a);
	idb = mt_fd_ino(b);
	idc = mt_fd_ino(cb);
	idd = mt_fd_ino(d);
	/* b is also mapped, cb also has an fd past the range. */
	ASSERT_NE(MAP_FAILED, mmap(NULL, 32 * KiB, PROT_READ, MAP_SHARED, b, 0));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	s = clone(park_fn, stack, CLONE_FILES | SIGCHLD, &go[0]);
	ASSERT_GT(s, 0);
	KEEP_KID(s);
	mt_evlog_read(&self->ev, 200);
	pids[0] = getpid();
	pids[1] = s;
	EXPECT_EQ(0, replay(_metadata, &self->ev, &r, pids, 2));
	self->ev.n = 0;

	ASSERT_EQ(0, syscall(SYS_close_range, 100, 110, CLOSE_RANGE_UNSHARE));
	mt_evlog_read(&self->ev, 500);
	EXPECT_EQ(0, replay(_metadata, &self->ev, &r, pids, 2));
	for (k = 0; k < self->ev.n; k++) {
		const struct mt_event *e = &self->ev.ev[k];

		EXPECT_EQ(getpid(), (pid_t)e->pid) TH_LOG("an event about the sharer");
		if (e->cmd == MEMTRACK_CMD_PROC_BUFFER_DEL_NTF && e->pid == (uint32_t)getpid()) {
			uninstalls++;
			EXPECT_EQ(ida, e->buf.id);
			EXPECT_EQ(MEMTRACK_REASON_CLOSE, e->reason);
			EXPECT_EQ(32 * KiB + 2 * PAGE + PAGE, e->total);
			EXPECT_EQ(3, e->nr_buffers);
		}
	}
	EXPECT_EQ(1, uninstalls) TH_LOG("want exactly one uninstall, of the buffer closed for good");
	EXPECT_EQ(1, self->ev.n);

	/* Both views against their ground truth. */
	ASSERT_EQ(0, mt_truth_read(getpid(), &want));
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why);
	EXPECT_EQ(NULL, mt_proc_find(&got, ida));
	mt_proc_free(&got);
	mt_proc_free(&want);
	ASSERT_EQ(0, mt_truth_read(s, &want));
	ASSERT_EQ(4, want.nr_buffers);
	why = query_vs(_metadata, &self->nl, s, &want, &got);
	EXPECT_TRUE(!why) TH_LOG("the sharer keeps its view");
	buf = mt_proc_find(&got, ida);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(1, buf->holders);
	buf = mt_proc_find(&got, idb);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(2, buf->holders);
	buf = mt_proc_find(&got, idc);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(2, buf->holders);
	buf = mt_proc_find(&got, idd);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(2, buf->holders);
	mt_proc_free(&got);
	mt_proc_free(&want);

	/* The sharer, alone with the old table, exits: back to zero. */
	self->ev.n = 0;
	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(s, waitpid(s, &status, 0));
	self->nkids--;
	EXPECT_EQ(0, status);
	mt_evlog_read(&self->ev, 500);
	EXPECT_EQ(0, replay(_metadata, &self->ev, &r, pids, 2));
	EXPECT_TRUE(replay_at_zero(&r, s));
	EXPECT_TRUE(mt_evlog_complete(&self->ev));
	mt_replay_free(&r);
}

/* ------------------------------------------------------------------ */
/* Processes that share an address space they do not own              */

struct cvm {
	int go_c;	/* C reads: exit */
};

static int cvm_child(void *arg)
{
	struct cvm *c = arg;
	char ch;

	/* Shares A's memory and libc state: raw system calls only. */
	syscall(SYS_read, c->go_c, &ch, 1);
	syscall(SYS_exit, 0);
	return 0;
}

/*
 * A maps X and keeps its fd; A starts a clone(CLONE_VM) child C, which
 * gets a copy of A's table (so holds X by fd) and shares A's address
 * space; A closes its fd and exits while C lives on; then C exits.
 * Every event names a process that held X by the earlier events, each
 * replays exactly, and both end at zero; A gets its uninstall when it
 * leaves its address space, not when C does.
 */
TEST_F_TIMEOUT(proc, clone_vm_child_events_name_the_holder, 120)
{
	const uint64_t size = 64 * KiB;
	int ready[2], goa[2], goc[2], status;
	struct { pid_t c; uint64_t id; } rep;
	struct mt_replay r = { 0 };
	struct mt_proc got;
	const struct mt_buf *b;
	pid_t a, pids[2];
	unsigned int k;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	SUBSCRIBE();
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(goa));
	ASSERT_EQ(0, pipe(goc));
	a = fork();
	ASSERT_GE(a, 0);
	if (a == 0) {
		struct cvm arg = { .go_c = goc[0] };
		int fd = mt_heap_alloc(size);
		void *stack = clone_stack();
		char c;

		close(ready[0]);
		close(goa[1]);
		close(goc[1]);
		if (fd < 0 || !stack)
			_exit(10);
		if (mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
			_exit(11);
		rep.id = mt_fd_ino(fd);
		rep.c = clone(cvm_child, stack, CLONE_VM | SIGCHLD, &arg);
		if (rep.c < 0)
			_exit(12);
		close(fd);
		if (write(ready[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(13);
		if (read(goa[0], &c, 1) < 0)
			_exit(14);
		_exit(0);
	}
	KEEP_KID(a);
	close(ready[1]);
	close(goa[0]);
	close(goc[0]);
	ASSERT_EQ(sizeof(rep), read(ready[0], &rep, sizeof(rep)));
	KEEP_KID(rep.c);
	pids[0] = a;
	pids[1] = rep.c;

	/* A holds X through the address space it owns, C through its table. */
	ASSERT_EQ(0, mt_proc_get(&self->nl, a, &got));
	b = mt_proc_find(&got, rep.id);
	EXPECT_NE(NULL, b);
	if (b) {
		EXPECT_EQ(0, b->fds);
		EXPECT_EQ(size, b->mapped);
	}
	mt_proc_free(&got);
	ASSERT_EQ(0, mt_proc_get(&self->nl, rep.c, &got));
	EXPECT_EQ(1, got.nr_buffers);
	EXPECT_EQ(1, got.nr_fds);
	EXPECT_EQ(0, got.mapped) TH_LOG("C does not own the address space it shares");
	EXPECT_TRUE(got.incomplete) TH_LOG("C shares an address space it does not own");
	mt_proc_free(&got);

	/* A leaves: it stops holding X then, though the address space lives on. */
	ASSERT_EQ(1, write(goa[1], "x", 1));
	ASSERT_EQ(a, waitpid(a, &status, 0));
	self->kids[0] = rep.c;
	self->nkids = 1;
	EXPECT_EQ(0, status);
	mt_evlog_read(&self->ev, 500);
	TH_LOG("events until A was reaped:");
	EXPECT_EQ(0, replay(_metadata, &self->ev, &r, pids, 2));
	EXPECT_TRUE(replay_at_zero(&r, a))
		TH_LOG("A exited: its events must bring it to zero");
	ASSERT_EQ(0, mt_proc_get(&self->nl, rep.c, &got));
	EXPECT_EQ(1, got.nr_buffers);
	EXPECT_EQ(0, got.mapped);
	b = mt_proc_find(&got, rep.id);
	EXPECT_NE(NULL, b);
	if (b)
		EXPECT_EQ(1, b->holders);
	mt_proc_free(&got);

	/* Then C exits. */
	k = self->ev.n;
	ASSERT_EQ(1, write(goc[1], "x", 1));
	ASSERT_EQ(rep.c, waitpid(rep.c, &status, 0));
	self->nkids = 0;
	EXPECT_EQ(0, status);
	mt_evlog_read(&self->ev, 500);
	TH_LOG("events after C exited:");
	memmove(self->ev.ev, self->ev.ev + k, (self->ev.n - k) * sizeof(*self->ev.ev));
	self->ev.n -= k;
	EXPECT_EQ(0, replay(_metadata, &self->ev, &r, pids, 2));
	for (k = 0; k < self->ev.n; k++)
		EXPECT_TRUE(self->ev.ev[k].pid == (uint32_t)a ||
			    self->ev.ev[k].pid == (uint32_t)rep.c)
			TH_LOG("an event names pid %u, which never held X",
			       self->ev.ev[k].pid);
	EXPECT_TRUE(replay_at_zero(&r, a));
	EXPECT_TRUE(replay_at_zero(&r, rep.c)) TH_LOG("C exited: its events must bring it to zero");
	mt_replay_free(&r);
}

static struct {
	int ret;
	struct mt_proc p;
} vfork_view;

/* A CLONE_VM | CLONE_VFORK child: look at itself, then leave. */
static int vfork_query(void *arg)
{
	struct mt_nl nl;

	(void)arg;
	vfork_view.ret = mt_nl_open(&nl);
	if (!vfork_view.ret) {
		vfork_view.ret = mt_proc_get(&nl, (uint32_t)getpid(), &vfork_view.p);
		mt_nl_close(&nl);
	}
	_exit(0);
}

static int park_main(char **argv)
{
	char c;

	if (write(atoi(argv[2]), "r", 1) != 1)
		return 1;
	return read(atoi(argv[3]), &c, 1) < 0;
}

/*
 * A vfork child gets a copy of the table (so holds the parent's buffer
 * by fd) and shares the parent's address space until it execs: before
 * the exec its reply has the fd but not the parent's mapping, flagged
 * incomplete; after the exec (posix_spawn) it is a holder through its
 * table copy alone.
 */
TEST_F_TIMEOUT(proc, vfork_child_holds_its_table_copy, 120)
{
	const uint64_t size = 64 * KiB;
	int fd, ready[2], go[2], status;
	struct mt_replay r = { 0 };
	struct mt_proc got, want;
	const struct mt_buf *b;
	const char *why;
	char rs[16], gs[16];
	char *argv[5];
	void *stack = clone_stack();
	pid_t v, c, pids[3];
	uint64_t id;

	SUBSCRIBE();
	fd = place_at(mt_heap_alloc(size), 3);
	ASSERT_GE(fd, 0);
	ASSERT_NE(NULL, stack);
	id = mt_fd_ino(fd);
	ASSERT_NE(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0));

	/* Before any exec: the view of a child that shares our memory. */
	v = clone(vfork_query, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	ASSERT_GT(v, 0);
	ASSERT_EQ(v, waitpid(v, &status, 0));
	ASSERT_EQ(0, vfork_view.ret) TH_LOG("the vfork child's query: %s",
					    strerror(-vfork_view.ret));
	b = mt_proc_find(&vfork_view.p, id);
	EXPECT_NE(NULL, b) TH_LOG("the vfork child holds the buffer by its table copy");
	if (b) {
		EXPECT_EQ(1, b->fds);
		EXPECT_EQ(0, b->mapped) TH_LOG("the parent's mapping is not the child's");
	}
	EXPECT_EQ(1, vfork_view.p.nr_buffers);
	EXPECT_EQ(size, vfork_view.p.total);
	EXPECT_EQ(0, vfork_view.p.mapped);
	EXPECT_TRUE(vfork_view.p.incomplete)
		TH_LOG("it shares an address space it does not own");
	mt_proc_free(&vfork_view.p);

	/* posix_spawn: the child execs a parked copy of this program. */
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, fcntl(ready[0], F_SETFD, FD_CLOEXEC));
	ASSERT_EQ(0, fcntl(go[1], F_SETFD, FD_CLOEXEC));
	snprintf(rs, sizeof(rs), "%d", ready[1]);
	snprintf(gs, sizeof(gs), "%d", go[0]);
	argv[0] = "memtrack_process_test";
	argv[1] = "--park";
	argv[2] = rs;
	argv[3] = gs;
	argv[4] = NULL;
	ASSERT_EQ(0, posix_spawn(&c, "/proc/self/exe", NULL, NULL, argv, environ));
	KEEP_KID(c);
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], rs, 1));

	ASSERT_EQ(0, mt_truth_read(c, &want));
	why = query_vs(_metadata, &self->nl, c, &want, &got);
	EXPECT_TRUE(!why) TH_LOG("the spawned child");
	EXPECT_FALSE(got.incomplete);
	b = mt_proc_find(&got, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->fds);
	EXPECT_EQ(0, b->mapped);
	EXPECT_EQ(2, b->holders);
	mt_proc_free(&got);
	mt_proc_free(&want);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &got));
	b = mt_proc_find(&got, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(2, b->holders);
	EXPECT_EQ(size / 2, got.pss);
	mt_proc_free(&got);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(c, waitpid(c, &status, 0));
	self->nkids--;
	EXPECT_EQ(0, status);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &got));
	b = mt_proc_find(&got, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->holders);
	EXPECT_EQ(size, got.pss);
	EXPECT_EQ(size, got.unique);
	mt_proc_free(&got);

	/* Both children replay to zero, and the parent stays consistent. */
	mt_evlog_read(&self->ev, 500);
	pids[0] = getpid();
	pids[1] = v;
	pids[2] = c;
	EXPECT_EQ(0, replay(_metadata, &self->ev, &r, pids, 3));
	EXPECT_TRUE(replay_at_zero(&r, v));
	EXPECT_TRUE(replay_at_zero(&r, c));
	EXPECT_TRUE(mt_evlog_complete(&self->ev));
	mt_replay_free(&r);
}

/* ------------------------------------------------------------------ */
/* Ids, concurrency, generation                                        */

/*
 * Buffer ids are unique 64-bit values equal to the inode numbers that
 * fstat(), fdinfo and maps show.
 */
TEST_F_TIMEOUT(proc, buffer_ids_are_unique_and_match_inodes, 120)
{
	enum { N = 96 };
	struct mt_buf_list all;
	struct mt_proc got, want;
	const struct mt_buf *b;
	const char *why;
	uint64_t ids[N];
	int fds[N], i, j;

	for (i = 0; i < N; i++) {
		fds[i] = i % 2 ? mt_udmabuf_alloc((1 + i % 3) * PAGE) :
				 mt_heap_alloc((1 + i % 5) * PAGE);
		ASSERT_GE(fds[i], 0) TH_LOG("buffer %d: %s", i, strerror(-fds[i]));
		ids[i] = mt_fd_ino(fds[i]);
		ASSERT_NE(0, ids[i]);
	}
	/* A few held through a mapping only: their id is the maps inode. */
	for (i = 0; i < N; i += 16) {
		ASSERT_NE(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fds[i], 0));
		close(fds[i]);
	}
	for (i = 0; i < N; i++)
		for (j = 0; j < i; j++)
			ASSERT_NE(ids[i], ids[j]) TH_LOG("inodes %d and %d", i, j);

	ASSERT_EQ(0, mt_truth_read(getpid(), &want));
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why);
	ASSERT_EQ(N, got.nbufs);
	for (i = 0; i < N; i++) {
		b = mt_proc_find(&got, ids[i]);
		EXPECT_NE(NULL, b) TH_LOG("inode %llu is not a buffer id",
					  (unsigned long long)ids[i]);
	}
	for (i = 1; i < (int)got.nbufs; i++)
		EXPECT_LT(got.bufs[i - 1].id, got.bufs[i].id);
	mt_proc_free(&got);
	mt_proc_free(&want);

	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &all));
	for (i = 0; i < N; i++)
		EXPECT_NE(NULL, mt_buf_list_find(&all, ids[i]));
	for (i = 1; i < (int)all.n; i++)
		EXPECT_NE(all.bufs[i - 1].id, all.bufs[i].id);
	free(all.bufs);
}

struct churn {
	volatile int stop;
	unsigned long rounds;
	unsigned int seed;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		unsigned int r = rand_r(&c->seed);
		int fd = r % 2 ? mt_heap_alloc((1 + r % 4) * PAGE) :
				 mt_udmabuf_alloc((1 + r % 2) * PAGE);
		int d = -1;
		void *p = MAP_FAILED;

		if (fd < 0)
			continue;
		if (r & 4)
			d = dup(fd);
		if (r & 8)
			p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			munmap(p, PAGE);
		if (d >= 0)
			close(d);
		close(fd);
		c->rounds++;
	}
	return NULL;
}

/*
 * Threads install and close buffers without pause while the main thread
 * forks: each child compares its own figures with its fdinfo and maps,
 * exactly.  A copy made while an fd was being installed must count what
 * the copy has, no more and no less.
 */
TEST_F_TIMEOUT(proc, fork_while_installing_copies_exact_accounting, 300)
{
	struct churn c[2] = { { .seed = 1 }, { .seed = 2 } };
	int fd = mt_heap_alloc(64 * KiB), i, bad = 0;
	struct mt_proc got, want;
	const char *why;
	pthread_t t[2];

	ASSERT_GE(fd, 0);
	ASSERT_NE(MAP_FAILED, mmap(NULL, 64 * KiB, PROT_READ, MAP_SHARED, fd, 0));
	struct timespec t0, now;
	int forks;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn_thread, &c[i]));
	/*
	 * 150 forks, or as many as fit in a minute: the debug kernel
	 * (KASAN, kmemleak, lockdep) is ten times slower.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 150; i++) {
		int status;
		pid_t pid;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (i >= 10 && now.tv_sec - t0.tv_sec > 60)
			break;
		pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct mt_nl nl;
			struct mt_proc g, w;
			const char *d;

			if (mt_nl_open(&nl) || mt_proc_get(&nl, getpid(), &g) ||
			    mt_truth_read(getpid(), &w))
				_exit(2);
			d = mt_proc_diff(&g, &w);
			if (d || g.incomplete) {
				fprintf(stderr, "# fork %d: %s\n", i,
					d ? d : "flagged incomplete");
				_exit(1);
			}
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		bad += status != 0;
	}
	forks = i;
	for (i = 0; i < 2; i++) {
		c[i].stop = 1;
		pthread_join(t[i], NULL);
	}
	TH_LOG("the threads made %lu and %lu buffers during %d forks",
	       c[0].rounds, c[1].rounds, forks);
	EXPECT_EQ(0, bad) TH_LOG("%d of %d children differ from their ground truth",
				 bad, forks);
	ASSERT_EQ(0, mt_truth_read(getpid(), &want));
	why = query_vs(_metadata, &self->nl, getpid(), &want, &got);
	EXPECT_TRUE(!why);
	EXPECT_FALSE(got.incomplete);
	mt_proc_free(&got);
	mt_proc_free(&want);
}

/* Changes that would be events: install, close, mmap, munmap. */
static void some_changes(void)
{
	int a = mt_heap_alloc(PAGE), b = mt_udmabuf_alloc(PAGE);
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, b, 0);

	close(a);
	close(b);
	if (p != MAP_FAILED)
		munmap(p, PAGE);
}

/*
 * generation, in proc and stats replies, is the sequence number of the
 * last event sent: it moves only while someone is subscribed, by one per
 * event.  Root may subscribe, so it gets it.
 */
TEST_F_TIMEOUT(proc, generation_advances_only_with_events, 120)
{
	struct mt_stats s0, s1;
	struct mt_proc p;
	uint64_t last;
	unsigned int k;

	ASSERT_EQ(0, mt_stats_get(&self->nl, &s0));
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	ASSERT_TRUE(s0.has_generation);
	ASSERT_TRUE(p.has_generation);
	EXPECT_EQ(s0.generation, p.generation);
	mt_proc_free(&p);

	/* Nobody subscribed: no event, so no new generation. */
	some_changes();
	ASSERT_EQ(0, mt_stats_get(&self->nl, &s1));
	EXPECT_EQ(s0.generation, s1.generation) TH_LOG("changes without subscribers");
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(s0.generation, p.generation);
	mt_proc_free(&p);

	/* Subscribed: install a, install b, close a, munmap b's last mapping. */
	SUBSCRIBE();
	some_changes();
	mt_evlog_read(&self->ev, 500);
	ASSERT_EQ(4, self->ev.n);
	last = s1.generation;
	for (k = 0; k < self->ev.n; k++) {
		EXPECT_EQ(last + 1, self->ev.ev[k].seq)
			TH_LOG("%s", mt_event_str(&self->ev.ev[k]));
		last = self->ev.ev[k].seq;
	}
	ASSERT_EQ(0, mt_stats_get(&self->nl, &s1));
	EXPECT_EQ(last, s1.generation);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(last, p.generation);
	mt_proc_free(&p);

	/* Unsubscribed again: it stays. */
	mt_evlog_close(&self->ev);
	some_changes();
	ASSERT_EQ(0, mt_stats_get(&self->nl, &s1));
	EXPECT_EQ(last, s1.generation);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	EXPECT_EQ(last, p.generation);
	mt_proc_free(&p);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--park"))
		return park_main(argv);
	mt_require_memtrack();
	return test_harness_run(argc, argv);
}
