// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmemtrack-nl against the real patched kernel (run in the test VM as
 * root): every API call, compared with the workload this program builds
 * and with /proc/PID/fdinfo; events across install, fork and uninstall;
 * and forced loss followed by a resync that ends equal to ground truth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drivers/dma-buf/memtrack_test_uapi.h>
#if __has_include(<drm/drm.h>)
#include <drm/drm.h>
#include <drm/drm_mode.h>
#define MTNL_TEST_GEM 1
#endif
#include <memtrack-nl.h>

/* The selftests' dma-buf and fdinfo helpers. */
#include "../../selftests/memtrack/mt_lib.h"

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static const struct mtnl_buffer *find_buf(const struct mtnl_proc *p, uint64_t id)
{
	size_t i;

	for (i = 0; i < mtnl_proc_buffer_count(p); i++)
		if (mtnl_buffer_id(mtnl_proc_buffer(p, i)) == id)
			return mtnl_proc_buffer(p, i);
	return NULL;
}

/* memtrack's view of @pid through the library equals its fdinfo. */
static void check_truth(struct mtnl *h, pid_t pid, const char *when)
{
	struct mt_proc truth;
	struct mtnl_proc *p;
	unsigned int i;
	int ret = mtnl_proc_get(h, (uint32_t)pid, &p);

	CHECK(ret == 0, "%s: proc_get: %s (%s)", when, strerror(-ret), mtnl_last_error(h));
	if (ret)
		return;
	CHECK(mt_truth_read(pid, &truth) == 0, "%s: fdinfo", when);
	CHECK(mtnl_proc_nr_buffers(p) == truth.nr_buffers, "%s: buffers %u vs %u", when,
	      mtnl_proc_nr_buffers(p), truth.nr_buffers);
	CHECK(mtnl_proc_nr_fds(p) == truth.nr_fds, "%s: fds", when);
	CHECK(mtnl_proc_total(p) == truth.total, "%s: total", when);
	CHECK(mtnl_proc_mapped(p) == truth.mapped, "%s: mapped %llu vs %llu", when,
	      (unsigned long long)mtnl_proc_mapped(p), (unsigned long long)truth.mapped);
	CHECK(mtnl_proc_buffer_count(p) == truth.nbufs, "%s: listed", when);
	for (i = 0; i < truth.nbufs; i++) {
		const struct mtnl_buffer *b = find_buf(p, truth.bufs[i].id);

		CHECK(b != NULL, "%s: buffer %llu missing", when,
		      (unsigned long long)truth.bufs[i].id);
		if (!b)
			continue;
		CHECK(mtnl_buffer_size(b) == truth.bufs[i].size, "%s: size", when);
		CHECK(mtnl_buffer_fds(b) == truth.bufs[i].fds, "%s: fds of buffer", when);
		CHECK(mtnl_buffer_mapped(b) == truth.bufs[i].mapped, "%s: mapped of buffer", when);
		CHECK(!strcmp(mtnl_buffer_exporter(b), truth.bufs[i].exporter), "%s: exporter", when);
		CHECK(!strcmp(mtnl_buffer_name(b), truth.bufs[i].name), "%s: name", when);
	}
	mt_proc_free(&truth);
	mtnl_proc_free(p);
}

struct dump_find {
	uint32_t pid;
	int seen;
	uint64_t total;
};

static int dump_cb(const struct mtnl_proc *p, void *arg)
{
	struct dump_find *d = arg;

	if (mtnl_proc_pid(p) == d->pid) {
		d->seen++;
		d->total = mtnl_proc_total(p);
	}
	return 0;
}

struct figures_find {
	uint32_t pid;
	int seen, stop;
	uint64_t total, pss;
	uint32_t nr_buffers, nr_fds;
	size_t listed;
};

static int figures_cb(const struct mtnl_proc *p, void *arg)
{
	struct figures_find *f = arg;

	if (f->stop)
		return f->stop;
	if (mtnl_proc_pid(p) != f->pid)
		return 0;
	f->seen++;
	f->total = mtnl_proc_total(p);
	f->pss = mtnl_proc_pss(p);
	f->nr_buffers = mtnl_proc_nr_buffers(p);
	f->nr_fds = mtnl_proc_nr_fds(p);
	f->listed = mtnl_proc_buffer_count(p);
	return 0;
}

static int count_buffers(const struct mtnl_buffer *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
	return 0;
}

static void test_queries(struct mtnl *h)
{
	struct mtnl_dump_opts opts = { .sz = sizeof(opts) };
	struct dump_find d = { .pid = (uint32_t)getpid() };
	struct mtnl_stats st = { .sz = sizeof(st) };
	int a = mt_heap_alloc(256 * 1024), b = mt_udmabuf_alloc(64 * 1024);
	struct mtnl_buffer *one;
	struct mtnl_proc *p;
	uint64_t gen = 0;
	int n = 0, ret;

	CHECK(a >= 0 && b >= 0, "allocation");
	CHECK(mt_set_name(a, "lib-a") == 0, "name");
	CHECK(dup(a) >= 0, "dup");
	check_truth(h, getpid(), "after allocation");
	/* A buffer held through a mapping only: 0 fds, its bytes mapped. */
	{
		int m = mt_heap_alloc(16 * 1024);
		void *map = m >= 0 ? mmap(NULL, 8192, PROT_READ, MAP_SHARED, m, 4096) : MAP_FAILED;

		CHECK(map != MAP_FAILED, "mmap");
		close(m);
		check_truth(h, getpid(), "with a mapping-only buffer");
		CHECK(mtnl_proc_get(h, (uint32_t)getpid(), &p) == 0, "proc_get");
		CHECK(mtnl_proc_mapped(p) == 8192, "mapped %llu",
		      (unsigned long long)mtnl_proc_mapped(p));
		mtnl_proc_free(p);
		if (map != MAP_FAILED)
			munmap(map, 8192);
	}

	CHECK(mtnl_proc_dump(h, NULL, dump_cb, &d, &gen) == 0, "dump: %s", mtnl_last_error(h));
	CHECK(d.seen == 1 && d.total == 320 * 1024, "dump saw self %d times, total %llu",
	      d.seen, (unsigned long long)d.total);

	/* The figures alone: the same figures, and no buffers. */
	{
		struct figures_find f = { .pid = (uint32_t)getpid() };

		CHECK(mtnl_proc_get(h, (uint32_t)getpid(), &p) == 0, "proc_get");
		CHECK(mtnl_proc_dump_figures(h, NULL, figures_cb, &f, NULL) == 0,
		      "figures dump: %s", mtnl_last_error(h));
		CHECK(f.seen == 1 && f.total == mtnl_proc_total(p) &&
		      f.pss == mtnl_proc_pss(p) && f.nr_buffers == mtnl_proc_nr_buffers(p) &&
		      f.nr_fds == mtnl_proc_nr_fds(p) && f.listed == 0,
		      "figures dump: seen %d, total %llu, %zu buffers listed", f.seen,
		      (unsigned long long)f.total, f.listed);
		mtnl_proc_free(p);
		f.seen = 0;
		opts.name = "lib-a";
		CHECK(mtnl_proc_dump_figures(h, &opts, figures_cb, &f, NULL) == 0 &&
		      f.seen == 1 && f.total == 256 * 1024, "filtered figures dump");
		opts.name = NULL;
		/* What the callback returns stops the dump and is returned. */
		f.stop = 7;
		CHECK(mtnl_proc_dump_figures(h, NULL, figures_cb, &f, NULL) == 7,
		      "callback's value");
		/* The rest of that dump was drained: the handle works on. */
		f.stop = 0;
		f.seen = 0;
		CHECK(mtnl_proc_dump_figures(h, NULL, figures_cb, &f, NULL) == 0 &&
		      f.seen == 1, "figures dump after a stopped one: %s",
		      mtnl_last_error(h));
	}

	/* Kernel-side filters. */
	d.seen = 0;
	opts.name = "lib-a";
	CHECK(mtnl_proc_dump(h, &opts, dump_cb, &d, NULL) == 0, "filtered dump");
	CHECK(d.seen == 1 && d.total == 256 * 1024, "name filter total %llu",
	      (unsigned long long)d.total);
	d.seen = 0;
	opts.name = NULL;
	opts.exporter = "udmabuf";
	CHECK(mtnl_proc_dump(h, &opts, dump_cb, &d, NULL) == 0, "filtered dump");
	CHECK(d.seen == 1 && d.total == 64 * 1024, "exporter filter total");

	CHECK(mtnl_buffer_dump(h, count_buffers, &n) == 0 && n >= 2, "buffer dump %d", n);
	ret = mtnl_buffer_get(h, mt_fd_ino(a), &one);
	CHECK(ret == 0, "buffer_get: %s", mtnl_last_error(h));
	if (!ret) {
		CHECK(mtnl_buffer_holders(one) == 1, "holders");
		CHECK(!strcmp(mtnl_buffer_name(one), "lib-a"), "name");
		/* Who holds it: this process, through its two fds. */
		CHECK(mtnl_buffer_holder_count(one) == 1, "holder list of %zu",
		      mtnl_buffer_holder_count(one));
		if (mtnl_buffer_holder_count(one) == 1) {
			const struct mtnl_holder *ho = mtnl_buffer_holder(one, 0);

			CHECK(mtnl_holder_pid(ho) == (uint32_t)getpid(), "holder pid");
			CHECK(mtnl_holder_fds(ho) == 2, "holder fds %u", mtnl_holder_fds(ho));
			CHECK(mtnl_holder_comm(ho)[0], "holder comm");
		}
		CHECK(mtnl_buffer_holder(one, 1) == NULL && errno == ERANGE,
		      "holder out of range");
		CHECK(mtnl_buffer_importer_count(one) == 0, "importers of a buffer attached to nothing");
		mtnl_buffer_free(one);
	}
	/* Attached to a device (the test exporter's), it names the device. */
	{
		int dev = open("/dev/memtrack_test", O_RDWR | O_CLOEXEC);
		struct memtrack_test_attach at = { .fd = a };

		if (dev >= 0) {
			CHECK(ioctl(dev, MEMTRACK_TEST_IOC_ATTACH, &at) == 0, "attach");
			ret = mtnl_buffer_get(h, mt_fd_ino(a), &one);
			CHECK(ret == 0, "buffer_get: %s", mtnl_last_error(h));
			if (!ret) {
				CHECK(mtnl_buffer_importer_count(one) == 1, "importers: %zu",
				      mtnl_buffer_importer_count(one));
				CHECK(mtnl_buffer_importer_count(one) == 1 &&
				      !strcmp(mtnl_buffer_importer(one, 0), "memtrack_test"),
				      "importer name");
				CHECK(mtnl_buffer_importer(one, 1) == NULL && errno == ERANGE,
				      "importer out of range");
				mtnl_buffer_free(one);
			}
			close(dev);
		} else {
			printf("# no /dev/memtrack_test: importers not checked\n");
		}
	}
	CHECK(mtnl_stats_get(h, &st) == 0, "stats");
	CHECK(st.total == st.held + st.kernel_only && st.nr_buffers >= 2, "stats add up");
	CHECK(mtnl_hwm_reset(h) == 0, "hwm_reset: %s", mtnl_last_error(h));
	CHECK(mtnl_proc_get(h, (uint32_t)getpid(), &p) == 0, "proc_get");
	CHECK(mtnl_proc_hwm(p) == mtnl_proc_total(p), "hwm after reset");
	CHECK(mtnl_proc_pss(p) == mtnl_proc_total(p), "pss of unshared buffers");
	mtnl_proc_free(p);

	/* Errors: the raw errno and the kernel's message, never NLE_*. */
	CHECK(mtnl_proc_get(h, 0, &p) == -ERANGE && p == NULL, "pid 0");
	CHECK(*mtnl_last_error(h), "pid 0 has a message");
	CHECK(mtnl_proc_get(h, 4194303, &p) == -ESRCH, "unknown pid");
	CHECK(strstr(mtnl_last_error(h), "no such process") != NULL, "message: %s",
	      mtnl_last_error(h));
	CHECK(mtnl_buffer_get(h, ~0ULL, &one) == -ENOENT, "unknown buffer");
	/* The handle still works after errors. */
	check_truth(h, getpid(), "after errors");
}

static void test_unprivileged(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct mtnl_events *e;
		struct mtnl_proc *p;
		struct mtnl *h;
		int n = 0;

		if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) ||
		    setresuid(1000, 1000, 1000))
			_exit(10);
		if (mtnl_open(&h))
			_exit(11);
		if (mtnl_proc_get(h, 1, &p) != -EACCES || !*mtnl_last_error(h))
			_exit(12);
		if (mtnl_buffer_dump(h, count_buffers, &n) != -EPERM)
			_exit(13);
		if (mtnl_events_open(&e, NULL) != -EPERM)
			_exit(14);
		mtnl_close(h);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0,
	      "unprivileged checks: %d", WEXITSTATUS(status));
}

/* Read events until @want arrive or a second passes. */
static int read_events(struct mtnl_events *e, struct mtnl_event **out, int want)
{
	int n = 0;

	while (n < want && mtnl_events_read(e, &out[n], 1000) == 0)
		n++;
	return n;
}

static void test_events(void)
{
	struct mtnl_event *ev[16];
	struct mtnl_events *e;
	int a, n, i, status;
	uint64_t id;
	pid_t pid;

	CHECK(mtnl_events_open(&e, NULL) == 0, "subscribe");
	if (!e)
		return;
	CHECK(mtnl_events_fd(e) >= 0, "fd");
	a = mt_heap_alloc(8192);
	id = mt_fd_ino(a);
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	close(a);
	/* install, fork (child), bulk:exit (child), uninstall:close. */
	n = read_events(e, ev, 4);
	CHECK(n == 4, "got %d events", n);
	if (n == 4) {
		CHECK(mtnl_event_kind(ev[0]) == MTNL_EVENT_INSTALL &&
		      mtnl_event_pid(ev[0]) == (uint32_t)getpid() &&
		      mtnl_buffer_id(mtnl_event_buffer(ev[0])) == id, "install");
		CHECK(mtnl_event_kind(ev[1]) == MTNL_EVENT_FORK &&
		      mtnl_event_pid(ev[1]) == (uint32_t)pid &&
		      mtnl_event_parent_pid(ev[1]) == (uint32_t)getpid() &&
		      mtnl_event_nr_buffers(ev[1]) == 1, "fork");
		/* An exit is one summary, however many buffers it drops. */
		CHECK(mtnl_event_kind(ev[2]) == MTNL_EVENT_BULK &&
		      mtnl_event_pid(ev[2]) == (uint32_t)pid &&
		      mtnl_event_reason(ev[2]) == MTNL_REASON_EXIT &&
		      mtnl_event_nr_removed(ev[2]) == 1 &&
		      mtnl_event_nr_added(ev[2]) == 0 &&
		      mtnl_event_total(ev[2]) == 0 &&
		      !mtnl_event_buffer(ev[2]), "child exit");
		CHECK(mtnl_event_kind(ev[3]) == MTNL_EVENT_UNINSTALL &&
		      mtnl_event_reason(ev[3]) == MTNL_REASON_CLOSE &&
		      mtnl_event_total(ev[3]) == 0, "close");
		for (i = 1; i < 4; i++)
			CHECK(mtnl_event_seq(ev[i]) == mtnl_event_seq(ev[i - 1]) + 1, "seq");
	}
	for (i = 0; i < n; i++)
		mtnl_event_free(ev[i]);
	CHECK(mtnl_events_read(e, &ev[0], 0) == -EAGAIN, "no more events");

	/* The same sequence read as batches, into storage that is reused. */
	{
		struct mtnl_event_buffer *eb = mtnl_event_buffer_new(3);
		enum mtnl_event_kind kinds[8];
		uint64_t seqs[8];
		int got = 0, r;

		a = mt_heap_alloc(8192);
		pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, &status, 0);
		close(a);
		while (eb && got < 4 && (r = mtnl_events_read_batch(e, eb, 1000)) > 0) {
			CHECK((size_t)r == mtnl_event_buffer_count(eb) && r <= 3, "batch of %d", r);
			for (i = 0; i < r && got < 8; i++, got++) {
				kinds[got] = mtnl_event_kind(mtnl_event_buffer_get(eb, i));
				seqs[got] = mtnl_event_seq(mtnl_event_buffer_get(eb, i));
			}
		}
		CHECK(got == 4, "batches gave %d events", got);
		if (got == 4) {
			CHECK(kinds[0] == MTNL_EVENT_INSTALL && kinds[1] == MTNL_EVENT_FORK &&
			      kinds[2] == MTNL_EVENT_BULK && kinds[3] == MTNL_EVENT_UNINSTALL,
			      "batch kinds");
			for (i = 1; i < 4; i++)
				CHECK(seqs[i] == seqs[i - 1] + 1, "batch seq");
		}
		CHECK(mtnl_events_read_batch(e, eb, 0) == -EAGAIN, "no more batches");
		mtnl_event_buffer_free(eb);
	}
	mtnl_events_close(e);
}

struct view {
	int procs;
	int self_seen;
	uint64_t self_total;
};

static int view_cb(const struct mtnl_proc *p, void *arg)
{
	struct view *v = arg;

	v->procs++;
	if (mtnl_proc_pid(p) == (uint32_t)getpid()) {
		v->self_seen++;
		v->self_total = mtnl_proc_total(p);
	}
	return 0;
}

static void test_loss_and_resync(struct mtnl *h)
{
	struct mtnl_events_opts opts = { .sz = sizeof(opts), .rcvbuf = 1 };
	struct mtnl_event *ev;
	struct mtnl_events *e;
	struct mt_proc truth;
	struct view v = { 0 };
	bool lost = false;
	int i, fds[200];
	uint64_t gen = 0;

	CHECK(mtnl_events_open(&e, &opts) == 0, "subscribe with a tiny buffer");
	if (!e)
		return;
	for (i = 0; i < 200; i++)
		fds[i] = mt_heap_alloc(4096);
	for (i = 0; i < 200; i += 2)
		close(fds[i]);
	while (mtnl_events_read(e, &ev, 500) == 0) {
		if (mtnl_event_kind(ev) == MTNL_EVENT_LOST)
			lost = true;
		mtnl_event_free(ev);
	}
	CHECK(lost, "300 events into a tiny buffer reported no loss");
	CHECK(mtnl_resync(h, view_cb, &v, &gen) == 0, "resync: %s", mtnl_last_error(h));
	CHECK(mt_truth_read(getpid(), &truth) == 0, "fdinfo");
	CHECK(v.self_seen == 1 && v.self_total == truth.total,
	      "resync total %llu, fdinfo %llu", (unsigned long long)v.self_total,
	      (unsigned long long)truth.total);
	CHECK(gen > 0, "generation");
	mt_proc_free(&truth);
	mtnl_events_close(e);
	for (i = 1; i < 200; i += 2)
		close(fds[i]);
}

#ifdef MTNL_TEST_GEM
/*
 * GEM handles on vgem: a handle's install, the pair's handles, and the
 * one bulk event when the DRM file with two handles is closed.
 */
static void test_gem(struct mtnl *h)
{
	struct mtnl_events *e;
	struct mtnl_event *ev = NULL;
	struct mtnl_proc *p = NULL;
	uint64_t total0 = 0;
	unsigned int i, n;
	uint32_t nr0 = 0;
	int card;

	/* Earlier checks may leave buffers: count from what is held now. */
	if (mtnl_proc_get(h, (uint32_t)getpid(), &p) == 0) {
		nr0 = mtnl_proc_nr_buffers(p);
		total0 = mtnl_proc_total(p);
		mtnl_proc_free(p);
		p = NULL;
	}
	card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (card < 0) {
		printf("no /dev/dri/card0: GEM checks skipped\n");
		return;
	}
	CHECK(mtnl_events_open(&e, NULL) == 0, "subscribe");
	if (!e) {
		close(card);
		return;
	}
	for (i = 0; i < 2; i++) {
		struct drm_mode_create_dumb c = { .width = 256, .height = 256 * (i + 1), .bpp = 32 };

		CHECK(ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &c) == 0, "dumb buffer");
		CHECK(mtnl_events_read(e, &ev, 2000) == 0 &&
		      mtnl_event_kind(ev) == MTNL_EVENT_INSTALL &&
		      mtnl_event_pid(ev) == (uint32_t)getpid() &&
		      !strcmp(mtnl_buffer_exporter(mtnl_event_buffer(ev)), "vgem") &&
		      mtnl_buffer_size(mtnl_event_buffer(ev)) == c.size,
		      "install of GEM object %u", i);
		mtnl_event_free(ev);
		ev = NULL;
	}
	CHECK(mtnl_proc_get(h, (uint32_t)getpid(), &p) == 0, "proc_get");
	if (p) {
		CHECK(mtnl_proc_nr_buffers(p) == nr0 + 2 &&
		      mtnl_proc_total(p) == total0 + 3 * 256 * 1024,
		      "two objects more: %u buffers", mtnl_proc_nr_buffers(p));
		for (i = 0, n = 0; i < mtnl_proc_buffer_count(p); i++) {
			const struct mtnl_buffer *b = mtnl_proc_buffer(p, i);

			if (strcmp(mtnl_buffer_exporter(b), "vgem"))
				continue;
			n++;
			CHECK(mtnl_buffer_handles(b) == 1 && mtnl_buffer_fds(b) == 0,
			      "handles %u, fds %u", mtnl_buffer_handles(b), mtnl_buffer_fds(b));
		}
		CHECK(n == 2, "%u vgem objects listed", n);
		mtnl_proc_free(p);
	}
	close(card);
	CHECK(mtnl_events_read(e, &ev, 2000) == 0 &&
	      mtnl_event_kind(ev) == MTNL_EVENT_BULK &&
	      mtnl_event_nr_removed(ev) == 2 && mtnl_event_nr_added(ev) == 0 &&
	      mtnl_event_reason(ev) == MTNL_REASON_CLOSE &&
	      mtnl_event_nr_buffers(ev) == nr0 && mtnl_event_total(ev) == total0,
	      "one bulk event for the DRM file's close");
	mtnl_event_free(ev);
	mtnl_events_close(e);
}
#else
static void test_gem(struct mtnl *h)
{
	(void)h;
}
#endif

int main(void)
{
	struct mtnl *h;
	int ret;

	printf("libmemtrack-nl %s, family version %d\n", mtnl_version(), MTNL_FAMILY_VERSION);
	ret = mtnl_open(&h);
	if (ret) {
		fprintf(stderr, "mtnl_open: %s\n", strerror(-ret));
		return 1;
	}
	CHECK(mtnl_family_version(h) >= MTNL_FAMILY_VERSION, "family version");
	/* First, while this process holds no buffer: exact event counts. */
	test_events();
	test_queries(h);
	test_unprivileged();
	test_loss_and_resync(h);
	test_gem(h);
	mtnl_close(h);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all library integration checks passed\n");
	return 0;
}
