// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack fault-injection selftest: with failslab making memtrack's own
 * slab allocations fail, every fd and mapping operation still works
 * (accounting never makes one fail), a process's figures are exact unless
 * it is flagged incomplete, and then they are a lower bound of ground
 * truth.
 * Nothing leaks: every buffer is freed once its processes are gone.
 *
 * Needs CONFIG_FAILSLAB with debugfs, and caches that are not merged
 * (boot with slab_nomerge): the debug kernel run by the debug-kernel ctest.
 * Skips elsewhere.
 */
#define _GNU_SOURCE
#include "mt_lib.h"
#include "../kselftest_harness.h"

#define KiB 1024ULL
#define NR_PROCS 6
#define FAILSLAB "/sys/kernel/debug/failslab/"

static const char *const caches[] = { "memtrack_ref", "memtrack_files", "memtrack_mm" };

static int write_str(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, v, strlen(v));
	close(fd);
	return n == (ssize_t)strlen(v) ? 0 : -EIO;
}

static int failslab_setup(bool on)
{
	char path[128];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(caches) && !ret; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/failslab", caches[i]);
		ret = write_str(path, on ? "1" : "0");
	}
	if (ret || !on)
		return ret;
	/* Only flagged caches, only tasks that ask for it, GFP_KERNEL too. */
	if (write_str(FAILSLAB "cache-filter", "Y") ||
	    write_str(FAILSLAB "task-filter", "Y") ||
	    write_str(FAILSLAB "ignore-gfp-wait", "N") ||
	    write_str(FAILSLAB "probability", "20") ||
	    write_str(FAILSLAB "interval", "1") ||
	    write_str(FAILSLAB "times", "-1") ||
	    write_str(FAILSLAB "verbose", "0"))
		return -EIO;
	return 0;
}

/*
 * What a worker does under injection: buffers, dups, dup2, mappings,
 * closes, and a fork whose copy may be incomplete.  Every operation must
 * succeed: only memtrack's caches fail, and memtrack fails none.
 */
static void churn(unsigned int round)
{
	int fds[8], i;

	for (i = 0; i < 8; i++) {
		fds[i] = (i + round) % 3 ? mt_heap_alloc((i + 1) * 4 * KiB) :
					   mt_udmabuf_alloc(8 * KiB);
		if (fds[i] < 0)
			_exit(10);
	}
	for (i = 0; i < 8; i++) {
		int d = dup(fds[i]);
		void *p;

		if (d < 0)
			_exit(11);
		if (i % 2)
			close(d);
		if (dup2(fds[(i + 1) % 8], 200 + i) < 0)
			_exit(12);
		p = mmap(NULL, 4 * KiB, PROT_READ, MAP_SHARED, fds[i], 0);
		if (p == MAP_FAILED)
			_exit(13);
		if (i % 3 == 0)
			munmap(p, 4 * KiB);
		if (i % 4 == 0)
			close(fds[i]);
	}
}

/*
 * memtrack's view of @pid against ground truth: exact, or, when flagged
 * incomplete, a subset with no figure above the truth.
 */
static const char *check_proc(struct mt_nl *nl, pid_t pid, bool *incomplete)
{
	static char why[1200];
	struct mt_proc got, want;
	const char *diff;
	unsigned int i;

	if (mt_proc_get(nl, pid, &got))
		return "query failed";
	if (mt_truth_read(pid, &want)) {
		mt_proc_free(&got);
		return "truth failed";
	}
	*incomplete = got.incomplete;
	diff = mt_proc_diff(&got, &want);
	why[0] = '\0';
	if (!got.incomplete && diff) {
		snprintf(why, sizeof(why), "complete but wrong: %s", diff);
	} else if (got.incomplete) {
		for (i = 0; i < got.nbufs && !why[0]; i++) {
			const struct mt_buf *g = &got.bufs[i];
			const struct mt_buf *w = mt_proc_find(&want, g->id);

			if (!w || g->fds > w->fds || g->mapped > w->mapped)
				snprintf(why, sizeof(why),
					 "incomplete, but buffer %llu is above the truth",
					 (unsigned long long)g->id);
		}
		if (!why[0] && (got.total > want.total || got.nr_fds > want.nr_fds))
			snprintf(why, sizeof(why), "incomplete, but totals are above the truth");
	}
	mt_proc_free(&got);
	mt_proc_free(&want);
	return why[0] ? why : NULL;
}

/* A child of @parent, from the PPid of every /proc/PID/stat; or 0. */
static pid_t child_of(pid_t parent)
{
	struct dirent *de;
	pid_t found = 0;
	DIR *d = opendir("/proc");

	while (d && !found && (de = readdir(d))) {
		char path[64], buf[512], *p;
		int pid = atoi(de->d_name), ppid;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && sscanf(p, ") %*c %d", &ppid) == 1 && ppid == parent)
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

TEST(slab_failures_leave_exact_or_flagged_lower_bound_figures)
{
	struct mt_child kids[NR_PROCS];
	struct mt_buf_list l = { 0 };
	unsigned int i, incomplete = 0;
	struct mt_nl nl;

	if (access(FAILSLAB "probability", W_OK) ||
	    access("/sys/kernel/slab/memtrack_ref/failslab", W_OK))
		SKIP(return, "needs CONFIG_FAILSLAB and debugfs (the debug kernel)");
	ASSERT_EQ(0, failslab_setup(true))
		TH_LOG("failslab setup failed: boot with slab_nomerge so that memtrack's caches are their own");
	ASSERT_EQ(0, mt_nl_open(&nl));

	for (i = 0; i < NR_PROCS; i++) {
		int ready[2], go[2];

		ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
		kids[i].pid = fork();
		ASSERT_GE(kids[i].pid, 0);
		if (kids[i].pid == 0) {
			pid_t grandchild;

			/* Only the test holds the write end: its exit frees us. */
			close(ready[0]);
			close(go[1]);
			if (write_str("/proc/self/make-it-fail", "1"))
				_exit(20);
			churn(i);
			/* The copy of a table and an mm may be incomplete too. */
			grandchild = fork();
			if (grandchild == 0) {
				churn(i + 1);
				mt_child_park(ready[1], go[0]);
				_exit(0);
			}
			mt_child_park(ready[1], go[0]);
			waitpid(grandchild, NULL, 0);
			_exit(0);
		}
		close(ready[1]);
		close(go[0]);
		kids[i].ready = ready[0];
		kids[i].go = go[1];
		/* The child and its grandchild both report ready. */
		ASSERT_EQ(0, mt_child_wait_ready(&kids[i]));
		ASSERT_EQ(0, mt_child_wait_ready(&kids[i]));
	}
	ASSERT_EQ(0, failslab_setup(false));

	for (i = 0; i < NR_PROCS; i++) {
		int gc;
		bool inc;
		const char *why = check_proc(&nl, kids[i].pid, &inc);

		EXPECT_EQ(NULL, why) TH_LOG("child %d: %s", kids[i].pid, why);
		incomplete += inc;
		/* Its grandchild: the process whose parent it is. */
		gc = child_of(kids[i].pid);
		ASSERT_GT(gc, 0);
		why = check_proc(&nl, gc, &inc);
		EXPECT_EQ(NULL, why) TH_LOG("grandchild %d: %s", gc, why);
		incomplete += inc;
	}
	TH_LOG("%u of %u processes flagged incomplete", incomplete, 2 * NR_PROCS);
	EXPECT_GT(incomplete, 0) TH_LOG("no injected failure reached memtrack");

	/* Release everyone: every buffer they held must be freed. */
	for (i = 0; i < NR_PROCS; i++) {
		char bye = 'x';

		/* One byte per parked process: the child and its grandchild. */
		ASSERT_EQ(1, write(kids[i].go, &bye, 1));
		EXPECT_EQ(0, mt_child_finish(&kids[i]));
	}
	ASSERT_EQ(0, mt_buffer_dump(&nl, &l));
	for (i = 0; i < l.n; i++)
		EXPECT_EQ(0, l.bufs[i].holders)
			TH_LOG("buffer %llu still has holders", (unsigned long long)l.bufs[i].id);
	EXPECT_EQ(0, l.n) TH_LOG("%u buffers outlived their processes", l.n);
	free(l.bufs);
	mt_nl_close(&nl);
}

MT_HARNESS_MAIN
