// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack with exporters and importers that do unusual things with a
 * VMA, through the test exporter /dev/memtrack_test
 * (CONFIG_MEMTRACK_TEST_EXPORTER, drivers/dma-buf/memtrack_test_uapi.h):
 * a buffer mapped through two different VMA operations, an exporter that
 * replaces vma->vm_file, an importer that fails after dma_buf_mmap() or
 * overwrites the VMA operations after it, a mapping that mremap() grows,
 * VMA operations memtrack cannot stand in for, a mapping whose
 * accounting cannot be allocated, and buffers kept alive only by devices
 * attached to them.  Ground truth is what the test created,
 * /proc/PID/maps, debugfs's dma_buf/bufinfo and the exporter's own
 * counters (MEMTRACK_TEST_IOC_STATS), which show that no buffer and no
 * mapping reference leaks.  A kernel
 * warning fails the run (tools/vm/run).
 *
 * Skips without /dev/memtrack_test; the failslab case also skips without
 * CONFIG_FAILSLAB (the debug kernel, booted with slab_nomerge).
 */
#define _GNU_SOURCE
#include <drivers/dma-buf/memtrack_test_uapi.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define DEV "/dev/memtrack_test"
#define FAILSLAB "/sys/kernel/debug/failslab/"

static size_t page;

static int mtt_create(int dev, uint64_t size, uint32_t flags)
{
	struct memtrack_test_create c = { .size = size, .flags = flags };

	return ioctl(dev, MEMTRACK_TEST_IOC_CREATE, &c) ? -errno : c.fd;
}

static int mtt_stats(int dev, struct memtrack_test_stats *st)
{
	return ioctl(dev, MEMTRACK_TEST_IOC_STATS, st) ? -errno : 0;
}

/* Map @len bytes of @fd's buffer through the importer, in @mode. */
static void *mtt_import_map(int dev, int fd, uint32_t mode, size_t len)
{
	struct memtrack_test_import imp = { .fd = fd, .mode = mode };

	if (ioctl(dev, MEMTRACK_TEST_IOC_IMPORT, &imp))
		return MAP_FAILED;
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
}

/* The path of the caller's VMA that starts at @addr, or "" if none. */
static const char *vma_path(const void *addr)
{
	static char path[256];
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	path[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start;
		int pos = 0;

		if (sscanf(line, "%lx-%*x %*s %*x %*x:%*x %*u %n", &start, &pos) < 1 ||
		    start != (unsigned long)addr)
			continue;
		snprintf(path, sizeof(path), "%.*s",
			 (int)strcspn(line + pos, "\n"), line + pos);
		break;
	}
	if (f)
		fclose(f);
	return path;
}

/* The buffer @id in the system-wide list: 1 found, 0 absent, -errno. */
static int buffer_lookup(struct mt_nl *nl, uint64_t id, struct mt_buf *out)
{
	struct mt_buf_list l = { 0 };
	const struct mt_buf *b;
	int ret = mt_buffer_dump(nl, &l);

	if (ret)
		return ret;
	b = mt_buf_list_find(&l, id);
	if (b)
		*out = *b;
	free(l.bufs);
	return !!b;
}

static int mtt_attach(int dev, int fd)
{
	struct memtrack_test_attach a = { .fd = fd };

	return ioctl(dev, MEMTRACK_TEST_IOC_ATTACH, &a) ? -errno : 0;
}

#define MAX_IMPORTERS 8

struct importers {
	char name[MAX_IMPORTERS][64];
	unsigned int n;		/* importer attributes in the reply */
	uint64_t holders;
	bool has_holders;
};

static int importers_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	struct importers *im = arg;
	const struct nlattr *a;

	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		if (mt_type(a) == MEMTRACK_A_BUFFER_HOLDERS) {
			im->holders = mt_attr_uint(a);
			im->has_holders = true;
		}
		if (mt_type(a) != MEMTRACK_A_BUFFER_IMPORTER)
			continue;
		if (im->n < MAX_IMPORTERS)
			mt_attr_str(a, im->name[im->n], sizeof(im->name[0]));
		im->n++;
	}
	return 0;
}

/* buffer-get of @id: the devices attached to it; 0 or -errno. */
static int importers_get(struct mt_nl *nl, uint64_t id, struct importers *im)
{
	struct mt_msg m;
	int ret;

	memset(im, 0, sizeof(*im));
	nl->seq++;
	mt_msg_init(&m, nl, nl->family, 0, MEMTRACK_CMD_BUFFER_GET);
	mt_put_u64(&m, MEMTRACK_A_BUFFER_ID, id);
	ret = mt_nl_send(nl, &m);
	return ret ? ret : mt_nl_recv_loop(nl, importers_cb, im, 65536);
}

/*
 * Ground truth from the dma-buf core: how many devices debugfs's bufinfo
 * lists as attached to the buffer with inode @id; -1 if bufinfo cannot
 * be read or does not list the buffer.
 */
static int bufinfo_attached(uint64_t id)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "re");
	bool in = false, seen = false;
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long size, ino;
		char exp[64];

		if (sscanf(line, "%llu %*x %*x %*d %63s %llu", &size, exp,
			   &ino) == 3) {
			in = ino == id;
			seen |= in;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "Total ", 6)) {
			in = false;
			continue;
		}
		/* Device names follow "Attached Devices:", one per line. */
		if (line[0] == '\t' && !strchr(line, ':'))
			n++;
	}
	fclose(f);
	return seen ? n : -1;
}

FIXTURE(exporter)
{
	struct mt_nl nl;
	struct mt_proc p, truth;
	struct memtrack_test_stats start;
	int dev;
};

FIXTURE_SETUP(exporter)
{
	page = sysconf(_SC_PAGESIZE);
	memset(&self->p, 0, sizeof(self->p));
	memset(&self->truth, 0, sizeof(self->truth));
	self->dev = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, DEV " is absent: needs CONFIG_MEMTRACK_TEST_EXPORTER");
	ASSERT_LE(0, self->dev) TH_LOG(DEV ": %s", strerror(errno));
	ASSERT_EQ(0, mt_nl_open(&self->nl));
	ASSERT_EQ(0, mtt_stats(self->dev, &self->start));
}

FIXTURE_TEARDOWN(exporter)
{
	mt_proc_free(&self->p);
	mt_proc_free(&self->truth);
	mt_nl_close(&self->nl);
	close(self->dev);
}

/* Our figures from memtrack and from ground truth, compared. */
#define QUERY_SELF()							\
	do {								\
		const char *why;					\
		mt_proc_free(&self->p);					\
		mt_proc_free(&self->truth);				\
		ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &self->p));	\
		ASSERT_EQ(0, mt_truth_read(getpid(), &self->truth));	\
		why = mt_proc_diff(&self->p, &self->truth);		\
		EXPECT_EQ(NULL, why) TH_LOG("against ground truth: %s", why);	\
	} while (0)

/* The exporter's counters against those at the start of the test. */
#define EXPECT_STATS(live, refs, calls)					\
	do {								\
		struct memtrack_test_stats st;				\
		ASSERT_EQ(0, mtt_stats(self->dev, &st));		\
		EXPECT_EQ(self->start.live_buffers + (live), st.live_buffers);	\
		EXPECT_EQ(self->start.mmap_refs + (refs), st.mmap_refs);	\
		EXPECT_EQ(self->start.exporter_mmap_calls + (calls),	\
			  st.exporter_mmap_calls);			\
	} while (0)

/*
 * An exporter that sets no VMA operations leaves the importer's in place:
 * the buffer's mappings come with two different vm_ops, and both count.
 */
TEST_F(exporter, mapping_through_two_vm_ops_is_counted)
{
	int fd = mtt_create(self->dev, 4 * page, MEMTRACK_TEST_NO_VM_OPS);
	const struct mt_buf *b;
	char *imported, *direct;
	uint64_t id;

	ASSERT_LE(0, fd);
	id = mt_fd_ino(fd);
	imported = mtt_import_map(self->dev, fd, MEMTRACK_TEST_IMPORT_PLAIN,
				  4 * page);
	ASSERT_NE(MAP_FAILED, imported) TH_LOG("import: %s", strerror(errno));
	direct = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, direct);
	/* Both map the buffer's pages. */
	memset(imported, 0x5a, 4 * page);
	EXPECT_EQ(0x5a, (unsigned char)direct[page]);
	EXPECT_STATS(1, 0, 2);

	QUERY_SELF();
	EXPECT_FALSE(self->p.incomplete);
	b = mt_proc_find(&self->truth, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(6 * page, b->mapped) TH_LOG("/proc/self/maps: both mappings");
	EXPECT_EQ(6 * page, self->p.mapped);
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(6 * page, b->mapped);
	EXPECT_EQ(1, b->fds);
	EXPECT_EQ(1, b->holders);

	/* Each mapping goes away with its own bytes. */
	ASSERT_EQ(0, munmap(imported, 4 * page));
	QUERY_SELF();
	EXPECT_EQ(2 * page, self->p.mapped);
	ASSERT_EQ(0, munmap(direct, 2 * page));
	QUERY_SELF();
	EXPECT_EQ(0, self->p.mapped);
	ASSERT_EQ(0, close(fd));
	EXPECT_STATS(0, 0, 2);
}

/*
 * An exporter whose mmap installs another file in the VMA: the mapping
 * works but cannot be accounted, and the reply says so; the buffer's fd
 * is still counted exactly.
 */
TEST_F(exporter, exporter_that_replaces_vm_file_is_flagged)
{
	int fd = mtt_create(self->dev, 4 * page, MEMTRACK_TEST_SET_FILE);
	const struct mt_buf *b;
	uint64_t id;
	char *p;

	ASSERT_LE(0, fd);
	id = mt_fd_ino(fd);
	p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xa5, 4 * page);
	EXPECT_EQ(0xa5, (unsigned char)p[3 * page]);
	/* Ground truth: the VMA's file is the exporter's, not the buffer. */
	EXPECT_EQ(NULL, strstr(vma_path(p), "/dmabuf:"));
	EXPECT_NE(NULL, strstr(vma_path(p), "memtrack_test"))
		TH_LOG("the mapping's file: '%s'", vma_path(p));
	EXPECT_STATS(1, 1, 1);

	QUERY_SELF();
	EXPECT_TRUE(self->p.incomplete) TH_LOG("a mapping was not accounted");
	EXPECT_EQ(0, self->p.mapped);
	EXPECT_EQ(1, self->p.nr_fds);
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->fds);
	EXPECT_EQ(0, b->mapped);
	EXPECT_EQ(1, b->holders);

	ASSERT_EQ(0, munmap(p, 4 * page));
	EXPECT_STATS(1, 0, 1);
	ASSERT_EQ(0, close(fd));
	QUERY_SELF();
	EXPECT_EQ(NULL, mt_proc_find(&self->p, id));
	EXPECT_STATS(0, 0, 1);
}

/*
 * memtrack counts VMAs and reads their sizes when asked: a mapping that
 * mremap() grows (the exporter does not set VM_DONTEXPAND), then splits,
 * is reported at the size /proc/self/maps shows at every step.
 */
TEST_F(exporter, mapping_grown_by_mremap_is_counted_at_its_size)
{
	int fd = mtt_create(self->dev, 4 * page, MEMTRACK_TEST_EXPANDABLE);
	const struct mt_buf *b;
	char *p, *q;
	uint64_t id;

	ASSERT_LE(0, fd);
	id = mt_fd_ino(fd);
	p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));
	QUERY_SELF();
	EXPECT_EQ(2 * page, self->p.mapped);

	q = mremap(p, 2 * page, 4 * page, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mremap: %s", strerror(errno));
	QUERY_SELF();
	EXPECT_FALSE(self->p.incomplete);
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(4 * page, b->mapped);
	EXPECT_EQ(0, b->fds);
	EXPECT_EQ(1, b->holders);

	/* A hole in the middle: two VMAs, three pages. */
	ASSERT_EQ(0, munmap(q + page, page));
	QUERY_SELF();
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(3 * page, b->mapped);
	EXPECT_STATS(1, 2, 1);

	ASSERT_EQ(0, munmap(q, 4 * page));
	QUERY_SELF();
	EXPECT_EQ(NULL, mt_proc_find(&self->p, id));
	EXPECT_STATS(0, 0, 1);
}

/*
 * VMA operations that mm treats differently for being present at all
 * (here page_mkwrite, which asks for write notification) are left on the
 * VMA: the mapping works as the exporter made it, is not counted, and
 * the reply says its figures are incomplete.
 */
TEST_F(exporter, operations_memtrack_cannot_stand_in_for_are_left_alone)
{
	int fd = mtt_create(self->dev, 4 * page, MEMTRACK_TEST_MKWRITE);
	const struct mt_buf *b;
	uint64_t id;
	char *p;

	ASSERT_LE(0, fd);
	id = mt_fd_ino(fd);
	p = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_NE(NULL, strstr(vma_path(p), "/dmabuf:"))
		TH_LOG("the mapping's file: '%s'", vma_path(p));
	EXPECT_STATS(1, 1, 1);

	/* Not QUERY_SELF(): the figures are a lower bound of the truth. */
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &self->p));
	ASSERT_EQ(0, mt_truth_read(getpid(), &self->truth));
	EXPECT_TRUE(self->p.incomplete) TH_LOG("a mapping was not accounted");
	b = mt_proc_find(&self->p, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1, b->fds);
	EXPECT_EQ(0, b->mapped);
	EXPECT_EQ(1, b->holders);
	b = mt_proc_find(&self->truth, id);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(4 * page, b->mapped) TH_LOG("/proc/self/maps shows it");

	/* Held through the mapping only, which is not counted. */
	ASSERT_EQ(0, close(fd));
	mt_proc_free(&self->p);
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &self->p));
	EXPECT_EQ(NULL, mt_proc_find(&self->p, id));
	ASSERT_EQ(0, munmap(p, 4 * page));
	EXPECT_STATS(0, 0, 1);
}

/*
 * Run @child_fn(dev, fd) in a child that inherits @fd, a new buffer,
 * while the test's own reference is left in flight in @sock: once the
 * child is gone, no process holds the buffer.  Returns the child's exit
 * status, or -1.
 */
static int run_child_on_buffer(int dev, int fd, int sock[2],
			       int (*child_fn)(int dev, int fd))
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(child_fn(dev, fd));
	if (mt_fd_in_flight(fd, sock) || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether /proc/self/maps maps buffer @id. */
static bool maps_buffer(uint64_t id)
{
	struct mt_proc t;
	bool found;

	memset(&t, 0, sizeof(t));
	if (mt_truth_read_maps(getpid(), &t))
		return true;
	found = !!mt_proc_find(&t, id);
	mt_proc_free(&t);
	return found;
}

static int fail_after_child(int dev, int fd)
{
	struct memtrack_test_stats before, after;
	uint64_t id = mt_fd_ino(fd);
	void *p;

	if (mtt_stats(dev, &before))
		return 10;
	p = mtt_import_map(dev, fd, MEMTRACK_TEST_IMPORT_FAIL_AFTER, 4 * page);
	if (p != MAP_FAILED)
		return 11;
	if (errno != EIO)
		return 12;
	if (mtt_stats(dev, &after))
		return 10;
	/* dma_buf_mmap() reached the exporter, which took no reference. */
	if (after.exporter_mmap_calls != before.exporter_mmap_calls + 1)
		return 13;
	if (after.mmap_refs != before.mmap_refs)
		return 14;
	if (maps_buffer(id))
		return 15;
	close(fd);
	/* Exit with whatever memtrack may still count for the mapping. */
	return 0;
}

/*
 * An importer that fails after dma_buf_mmap() succeeded: the mmap fails,
 * no warning, and once the process has exited nothing of it remains.
 */
TEST_F(exporter, importer_failing_after_dma_buf_mmap)
{
	int fd = mtt_create(self->dev, 4 * page, MEMTRACK_TEST_NO_VM_OPS);
	struct mt_buf b;
	int sock[2];
	uint64_t id;

	ASSERT_LE(0, fd);
	id = mt_fd_ino(fd);
	ASSERT_EQ(0, run_child_on_buffer(self->dev, fd, sock, fail_after_child))
		TH_LOG("10: stats, 11: mmap worked, 12: not EIO, 13: exporter not called, 14: mmap ref taken, 15: mapped");
	EXPECT_STATS(1, 0, 1);
	ASSERT_EQ(1, buffer_lookup(&self->nl, id, &b));
	EXPECT_EQ(0, b.holders) TH_LOG("the exited child still holds the buffer");

	close(sock[0]);
	close(sock[1]);
	EXPECT_EQ(0, buffer_lookup(&self->nl, id, &b)) TH_LOG("buffer not freed");
	EXPECT_STATS(0, 0, 1);
}

static int overwrite_child(int dev, int fd)
{
	uint64_t id = mt_fd_ino(fd);
	char *p, *q;

	p = mtt_import_map(dev, fd, MEMTRACK_TEST_IMPORT_OVERWRITE_OPS,
			   4 * page);
	if (p == MAP_FAILED)
		return 20;
	if (!maps_buffer(id))
		return 21;
	memset(p, 0x3c, 4 * page);
	q = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
	if (q == MAP_FAILED)
		return 22;
	if ((unsigned char)q[2 * page] != 0x3c)
		return 23;
	if (munmap(q, 4 * page) || munmap(p, 4 * page))
		return 24;
	close(fd);
	/* Exit with whatever memtrack may still count for the mapping. */
	return 0;
}

/*
 * An importer that overwrites vma->vm_ops after dma_buf_mmap(): the
 * mapping works, and after munmap and exit everything is released.
 */
TEST_F(exporter, importer_overwriting_vm_ops)
{
	int fd = mtt_create(self->dev, 4 * page, MEMTRACK_TEST_NO_VM_OPS);
	struct mt_buf b;
	int sock[2];
	uint64_t id;

	ASSERT_LE(0, fd);
	id = mt_fd_ino(fd);
	ASSERT_EQ(0, run_child_on_buffer(self->dev, fd, sock, overwrite_child))
		TH_LOG("20: mmap failed, 21: not in maps, 22: direct mmap failed, 23: pages differ, 24: munmap failed");
	EXPECT_STATS(1, 0, 2);
	ASSERT_EQ(1, buffer_lookup(&self->nl, id, &b));
	EXPECT_EQ(0, b.holders) TH_LOG("the exited child still holds the buffer");

	close(sock[0]);
	close(sock[1]);
	EXPECT_EQ(0, buffer_lookup(&self->nl, id, &b)) TH_LOG("buffer not freed");
	EXPECT_STATS(0, 0, 2);
}

static const char *const caches[] = {
	"memtrack_ref", "memtrack_mm",
};

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

/* Fail every allocation from memtrack's mapping caches, for make-it-fail. */
static int failslab_setup(struct __test_metadata *_metadata, bool on)
{
	char path[128];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(caches); i++) {
		int err;

		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/failslab", caches[i]);
		if (access(path, F_OK)) {
			if (on)
				TH_LOG("no cache %s here", caches[i]);
			continue;
		}
		err = write_str(path, on ? "1" : "0");
		ret = ret ? ret : err;
	}
	if (!on) {
		int err = write_str(FAILSLAB "probability", "0");

		return ret ? ret : err;
	}
	if (ret)
		return ret;
	if (write_str(FAILSLAB "cache-filter", "Y") ||
	    write_str(FAILSLAB "task-filter", "Y") ||
	    write_str(FAILSLAB "ignore-gfp-wait", "N") ||
	    write_str(FAILSLAB "probability", "100") ||
	    write_str(FAILSLAB "interval", "1") ||
	    write_str(FAILSLAB "times", "-1") ||
	    write_str(FAILSLAB "verbose", "0"))
		return -EIO;
	return 0;
}

/* What the child that mapped under failslab saw. */
struct fail_result {
	int mmap_errno;		/* 0: the mmap worked */
	int query;		/* mt_proc_get() once failslab was off */
	bool incomplete;
	uint64_t mapped;
	struct memtrack_test_stats before, mapped_stats, after;
};

/*
 * A mapping whose accounting cannot be allocated still works: accounting
 * never makes an mmap fail.  It is not counted, the reply says the
 * figures are incomplete, and unmapping it leaves no exporter reference.
 */
TEST_F(exporter, mapping_accounting_failure_is_flagged_and_leaks_nothing)
{
	struct fail_result r;
	int fd, res[2], status;
	pid_t pid;

	if (access(FAILSLAB "probability", W_OK) ||
	    access("/sys/kernel/slab/memtrack_ref/failslab", W_OK))
		SKIP(return, "needs CONFIG_FAILSLAB and debugfs (the debug kernel)");
	/* A fresh buffer, whose exporter takes a reference per mapping. */
	fd = mtt_create(self->dev, 4 * page, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe2(res, O_CLOEXEC));
	ASSERT_EQ(0, failslab_setup(_metadata, true))
		TH_LOG("failslab setup failed: boot with slab_nomerge so that memtrack's caches are their own");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *p;

		memset(&r, 0, sizeof(r));
		if (mtt_stats(self->dev, &r.before) ||
		    write_str("/proc/self/make-it-fail", "1"))
			_exit(1);
		p = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
		r.mmap_errno = p == MAP_FAILED ? errno : 0;
		if (write_str("/proc/self/make-it-fail", "0") ||
		    mtt_stats(self->dev, &r.mapped_stats))
			_exit(1);
		{
			struct mt_nl nl;
			struct mt_proc me = {};

			r.query = mt_nl_open(&nl);
			if (!r.query)
				r.query = mt_proc_get(&nl, getpid(), &me);
			r.incomplete = me.incomplete;
			r.mapped = me.mapped;
			mt_proc_free(&me);
			if (!r.query)
				mt_nl_close(&nl);
		}
		if ((p != MAP_FAILED && munmap(p, 4 * page)) ||
		    mtt_stats(self->dev, &r.after) ||
		    write(res[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(res[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, failslab_setup(_metadata, false));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(sizeof(r), read(res[0], &r, sizeof(r)));
	close(res[0]);

	EXPECT_EQ(0, r.mmap_errno) TH_LOG("mmap: %s", strerror(r.mmap_errno));
	EXPECT_EQ(r.before.exporter_mmap_calls + 1,
		  r.mapped_stats.exporter_mmap_calls);
	EXPECT_EQ(self->start.mmap_refs + 1, r.mapped_stats.mmap_refs);
	ASSERT_EQ(0, r.query) TH_LOG("the child's query failed");
	EXPECT_TRUE(r.incomplete) TH_LOG("an uncounted mapping is not flagged");
	EXPECT_EQ(0, r.mapped);
	EXPECT_EQ(self->start.mmap_refs, r.after.mmap_refs)
		TH_LOG("an exporter reference of the unmapped mapping remains");
	ASSERT_EQ(0, close(fd));
	EXPECT_STATS(0, 0, r.after.exporter_mmap_calls -
			   self->start.exporter_mmap_calls);
}

/*
 * A buffer that no process holds any more, kept alive by the devices
 * attached to it, says which: buffer-get of its id lists each attachment
 * (the test device, twice for two attachments), as debugfs's bufinfo
 * does, for a system-heap buffer and for one of the test exporter, and a
 * buffer without attachments lists none.  Detaching frees the buffers.
 */
TEST_F(exporter, kernel_only_buffer_names_its_importers)
{
	int heap = mt_heap_alloc(64 * 1024);
	int own = mtt_create(self->dev, 16 * 1024, 0);
	int plain = mt_heap_alloc(4 * 1024);
	uint64_t heap_id, own_id, plain_id;
	struct {
		uint64_t id;
		unsigned int attached;
	} kept[2];
	struct importers im;
	struct mt_buf b;
	unsigned int i, k;
	int dev2, truth;

	ASSERT_GE(heap, 0);
	ASSERT_GE(own, 0);
	ASSERT_GE(plain, 0);
	heap_id = mt_fd_ino(heap);
	own_id = mt_fd_ino(own);
	plain_id = mt_fd_ino(plain);
	dev2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, mtt_attach(dev2, heap));
	ASSERT_EQ(0, mtt_attach(dev2, heap));
	ASSERT_EQ(0, mtt_attach(dev2, own));
	close(heap);
	close(own);
	kept[0].id = heap_id;
	kept[0].attached = 2;
	kept[1].id = own_id;
	kept[1].attached = 1;

	/* Held by no process: only the attachments keep them. */
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, importers_get(&self->nl, kept[k].id, &im));
		ASSERT_TRUE(im.has_holders);
		EXPECT_EQ(0, im.holders);
		ASSERT_EQ(kept[k].attached, im.n);
		for (i = 0; i < im.n; i++)
			EXPECT_STREQ("memtrack_test", im.name[i]);
		/* As the dma-buf core's debugfs lists them (-1: no debugfs). */
		truth = bufinfo_attached(kept[k].id);
		EXPECT_TRUE(truth == -1 || truth == (int)im.n)
			TH_LOG("debugfs bufinfo lists %d", truth);
	}

	/* Held by this process, attached to nothing. */
	ASSERT_EQ(0, importers_get(&self->nl, plain_id, &im));
	EXPECT_EQ(1, im.holders);
	EXPECT_EQ(0, im.n);

	/* More attachments than one file takes are refused. */
	for (i = 3; i < 16; i++)
		ASSERT_EQ(0, mtt_attach(dev2, plain));
	EXPECT_EQ(-ENOSPC, mtt_attach(dev2, plain));

	/* Detached, the buffers no process holds are gone. */
	close(dev2);
	EXPECT_EQ(0, buffer_lookup(&self->nl, heap_id, &b));
	EXPECT_EQ(0, buffer_lookup(&self->nl, own_id, &b));
	EXPECT_EQ(1, buffer_lookup(&self->nl, plain_id, &b));
	EXPECT_EQ(-ENOENT, importers_get(&self->nl, heap_id, &im));
	close(plain);
	EXPECT_STATS(0, 0, 0);
}

MT_HARNESS_MAIN
