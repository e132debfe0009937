// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack mapping selftests: a process holds a buffer through its
 * mappings, even with every fd closed; mapped bytes follow mmap, munmap,
 * splits, mremap and fork; a process holding a buffer both ways counts
 * once among its holders.  Every step is compared with ground truth read
 * from /proc/PID/fdinfo and /proc/PID/maps.
 */
#define _GNU_SOURCE
#include <inttypes.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define KiB 1024ULL
#define PAGE (4 * KiB)

/* Query @pid and compare it with ground truth; logs the difference. */
static bool matches_truth(struct __test_metadata *_metadata, struct mt_nl *nl,
			  pid_t pid, struct mt_proc *got)
{
	struct mt_proc want;
	const char *why;
	int ret;

	ret = mt_proc_get(nl, pid, got);
	if (ret) {
		TH_LOG("query %d: %s (%s)", pid, strerror(-ret), nl->extack);
		return false;
	}
	ret = mt_truth_read(pid, &want);
	if (ret) {
		TH_LOG("truth %d: %s", pid, strerror(-ret));
		mt_proc_free(&want);
		return false;
	}
	why = mt_proc_diff(got, &want);
	if (why)
		TH_LOG("pid %d: %s", pid, why);
	mt_proc_free(&want);
	return !why;
}

/*
 * Fork a child that, if @map_it, maps the whole buffer @fd, then closes
 * its copy of @fd and parks: it holds the buffer through mappings only.
 */
static int map_child_start(struct mt_child *c, int fd, bool map_it)
{
	int ready[2], go[2];
	off_t size = lseek(fd, 0, SEEK_END);

	if (size <= 0 || pipe(ready) || pipe(go))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (map_it && mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
			_exit(80);
		close(fd);
		mt_child_park(ready[1], go[0]);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	c->ready = ready[0];
	c->go = go[1];
	return mt_child_wait_ready(c);
}

FIXTURE(map)
{
	struct mt_nl nl;
	struct mt_proc p;
};

FIXTURE_SETUP(map)
{
	ASSERT_EQ(0, mt_nl_open(&self->nl));
	memset(&self->p, 0, sizeof(self->p));
}

FIXTURE_TEARDOWN(map)
{
	mt_proc_free(&self->p);
	mt_nl_close(&self->nl);
}

#define CHECK_TRUTH()							\
	do {								\
		mt_proc_free(&self->p);					\
		ASSERT_TRUE(matches_truth(_metadata, &self->nl, getpid(),	\
					  &self->p));			\
	} while (0)

TEST_F(map, mapping_holds_after_close_until_munmap)
{
	int fd = mt_heap_alloc(4 * PAGE);
	const struct mt_buf *b;
	uint64_t id;
	char *p;

	ASSERT_GE(fd, 0);
	id = mt_fd_ino(fd);
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, 4 * PAGE);
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->fds);
	EXPECT_EQ(4 * PAGE, b->mapped);
	EXPECT_EQ(1, b->holders);

	ASSERT_EQ(0, close(fd));
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b) TH_LOG("a mapped buffer is held after its fd closed");
	EXPECT_EQ(0, b->fds);
	EXPECT_EQ(4 * PAGE, b->mapped);
	EXPECT_EQ(1, b->holders);
	EXPECT_EQ(1, self->p.nr_buffers);
	EXPECT_EQ(4 * PAGE, self->p.total);
	EXPECT_EQ(4 * PAGE, self->p.pss);
	EXPECT_EQ(4 * PAGE, self->p.unique);
	EXPECT_EQ(4 * PAGE, self->p.mapped);

	ASSERT_EQ(0, munmap(p, 4 * PAGE));
	CHECK_TRUTH();
	EXPECT_EQ(NULL, mt_proc_find(&self->p, id));
	EXPECT_EQ(0, self->p.mapped);
}

TEST_F(map, partial_maps_splits_and_merges)
{
	int fd = mt_heap_alloc(8 * PAGE);
	const struct mt_buf *b;
	char *a, *c, *twice;
	uint64_t id;

	ASSERT_GE(fd, 0);
	id = mt_fd_ino(fd);
	a = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, a);
	c = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 4 * PAGE);
	ASSERT_NE(MAP_FAILED, c);
	/* The same pages mapped twice count twice, as in the maps. */
	twice = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, twice);
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(10 * PAGE, b->mapped);

	/*
	 * mprotect() splits a VMA in three; putting the protection back does
	 * not merge VM_SPECIAL VMAs, and the figures follow the maps.
	 */
	ASSERT_EQ(0, mprotect(a + PAGE, PAGE, PROT_READ));
	CHECK_TRUTH();
	ASSERT_EQ(0, mprotect(a + PAGE, PAGE, PROT_READ | PROT_WRITE));
	CHECK_TRUTH();

	/* A hole punched in a mapping, then a page off one end. */
	ASSERT_EQ(0, munmap(c + PAGE, PAGE));
	CHECK_TRUTH();
	ASSERT_EQ(0, munmap(c + 3 * PAGE, PAGE));
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(8 * PAGE, b->mapped);

	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, munmap(twice, 2 * PAGE));
	ASSERT_EQ(0, munmap(a, 4 * PAGE));
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(2 * PAGE, b->mapped);
	ASSERT_EQ(0, munmap(c, 4 * PAGE));
	CHECK_TRUTH();
	EXPECT_EQ(NULL, mt_proc_find(&self->p, id));
}

TEST_F(map, mremap_moves_and_shrinks)
{
	int fd = mt_heap_alloc(4 * PAGE);
	const struct mt_buf *b;
	char *p, *q, *hole;
	uint64_t id;

	ASSERT_GE(fd, 0);
	id = mt_fd_ino(fd);
	p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));
	/* Reserve a destination, then move the whole mapping there. */
	hole = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	q = mremap(p, 4 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   hole + 2 * PAGE);
	ASSERT_NE(MAP_FAILED, q);
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(4 * PAGE, b->mapped);

	/* Move part of it, then shrink in place. */
	p = mremap(q + 3 * PAGE, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_NE(MAP_FAILED, p);
	CHECK_TRUTH();
	q = mremap(q, 3 * PAGE, PAGE, 0);
	ASSERT_NE(MAP_FAILED, q);
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(2 * PAGE, b->mapped);
	/*
	 * The heap maps with VM_PFNMAP, which mremap() never grows (the
	 * exporter test grows a mapping that can).
	 */
	EXPECT_EQ(MAP_FAILED, mremap(q, PAGE, 2 * PAGE, 0));

	ASSERT_EQ(0, munmap(hole, 8 * PAGE));
	CHECK_TRUTH();
	EXPECT_EQ(NULL, mt_proc_find(&self->p, id));
}

/*
 * A process that holds a buffer through an fd and a mapping is one
 * holder; a child that inherits only the mapping is another.
 */
TEST_F(map, holders_count_processes_across_fork)
{
	int fd = mt_heap_alloc(8 * PAGE);
	struct mt_buf_list all = { 0 };
	struct mt_child child;
	const struct mt_buf *b;
	struct mt_proc cp = { 0 };
	uint64_t id;
	void *p;

	ASSERT_GE(fd, 0);
	id = mt_fd_ino(fd);
	p = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->holders) TH_LOG("fd and mapping of one process: one holder");
	EXPECT_EQ(8 * PAGE, self->p.pss);
	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &all));
	b = mt_buf_list_find(&all, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->holders);
	free(all.bufs);

	/* The child keeps the mapping and drops the fd before it parks. */
	ASSERT_EQ(0, map_child_start(&child, fd, false));
	CHECK_TRUTH();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(2, b->holders);
	EXPECT_EQ(4 * PAGE, self->p.pss);
	EXPECT_EQ(0, self->p.unique);
	ASSERT_TRUE(matches_truth(_metadata, &self->nl, child.pid, &cp));
	b = mt_proc_find(&cp, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(0, b->fds);
	EXPECT_EQ(8 * PAGE, b->mapped);
	EXPECT_EQ(2, b->holders);
	EXPECT_EQ(4 * PAGE, cp.pss);
	mt_proc_free(&cp);

	/* The parent drops its fd, then its mapping: the child remains. */
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, munmap(p, 8 * PAGE));
	ASSERT_TRUE(matches_truth(_metadata, &self->nl, child.pid, &cp));
	b = mt_proc_find(&cp, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->holders);
	EXPECT_EQ(8 * PAGE, cp.unique);
	mt_proc_free(&cp);

	ASSERT_EQ(0, mt_child_finish(&child));
	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &all));
	EXPECT_EQ(NULL, mt_buf_list_find(&all, id)) TH_LOG("freed with its last mapping");
	free(all.bufs);
}

/* A dump lists a process that holds buffers through mappings only. */
TEST_F(map, dump_lists_mapping_only_holders)
{
	int fd = mt_udmabuf_alloc(4 * PAGE);
	struct mt_proc_list l = { 0 };
	struct mt_child child;
	struct mt_proc want;
	unsigned int i;
	bool found = false;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, map_child_start(&child, fd, true));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, mt_proc_dump(&self->nl, 0, 32768, &l));
	ASSERT_EQ(0, mt_truth_read(child.pid, &want));
	for (i = 0; i < l.n; i++) {
		if (l.procs[i].pid != (uint32_t)child.pid)
			continue;
		found = true;
		EXPECT_EQ(NULL, mt_proc_diff(&l.procs[i], &want));
		EXPECT_EQ(4 * PAGE, l.procs[i].mapped);
		EXPECT_EQ(0, l.procs[i].nr_fds);
	}
	EXPECT_TRUE(found);
	mt_proc_free(&want);
	mt_proc_list_free(&l);
	ASSERT_EQ(0, mt_child_finish(&child));
}

/*
 * The Rss of the caller's VMA that starts at @addr, from /proc/self/smaps,
 * or -1 if there is no such VMA.
 */
static int64_t vma_rss(const void *addr)
{
	char line[512];
	bool in = false;
	int64_t kb = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		/* Only a VMA's header line starts with "start-end". */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)addr;
			continue;
		}
		if (in && sscanf(line, "Rss: %" SCNd64 " kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb < 0 ? -1 : kb * (int64_t)KiB;
}

/*
 * Both heaps map with VM_PFNMAP, so touching every page of a mapping adds
 * nothing to the mapping's RSS: memtrack's mapped bytes are not already
 * counted in the process's mm counters.  Documented in
 * Documentation/userspace-api/memtrack.rst.
 */
TEST_F(map, heap_mappings_are_not_in_rss)
{
	const size_t size = 256 * PAGE;
	int fds[2] = { mt_heap_alloc(size), mt_udmabuf_alloc(size) };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		char *p;

		ASSERT_GE(fds[i], 0);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		ASSERT_NE(MAP_FAILED, p);
		memset(p, 1, size);
		EXPECT_EQ(0, vma_rss(p))
			TH_LOG("%s: the mapping's Rss is %" PRId64 " of %zu mapped",
			       i ? "udmabuf" : "system heap", vma_rss(p), size);
		CHECK_TRUTH();
		EXPECT_EQ(size, self->p.mapped);
		ASSERT_EQ(0, munmap(p, size));
		close(fds[i]);
	}
}

MT_HARNESS_MAIN
