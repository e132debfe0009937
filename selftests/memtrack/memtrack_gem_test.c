// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack GEM selftests: a process holds a GEM object while a DRM file
 * that its descriptor table refers to has a handle to it, or while it
 * maps the object.  Dumb buffers of vgem are created, exported, imported,
 * mapped and closed, DRM files are duplicated, passed and inherited, and
 * every step is checked against what the test made and against what
 * /proc shows: the dma-buf fds from /proc/PID/fdinfo, the GEM mappings
 * from /proc/PID/maps, and the liveness of the test's own handles
 * (DRM_IOCTL_MODE_MAP_DUMB fails with ENOENT on a closed handle).
 *
 * DRM fdinfo gives nothing to compare with here: vgem's file operations
 * (DEFINE_DRM_GEM_FOPS) have no show_fdinfo, so /proc/PID/fdinfo of a
 * vgem file shows only pos, flags, mnt_id and ino, with no drm-total-* or
 * drm-shared-* lines.  The dma-buf of an exported object shows
 * "exp_name: drm" in its fdinfo (drm_gem_prime_export() exports as the
 * drm module), while memtrack names the driver, "vgem".
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define KiB 1024ULL
#define MiB (1024ULL * KiB)

/* ------------------------------------------------------------------ */
/* GEM objects                                                         */

struct gem {
	uint32_t handle;
	uint64_t size;
	uint64_t id;		/* memtrack's id (the dma-buf's inode number) */
	uint64_t offset;	/* fake mmap offset, once asked for */
};

static int card_open(void)
{
	const char *path = mt_vgem_path();
	int fd = path ? open(path, O_RDWR | O_CLOEXEC) : -ENODEV;

	if (!path)
		return fd;

	return fd < 0 ? -errno : fd;
}

/* A dumb buffer of @mib MiB: 1024 x (256 * @mib) pixels of 32 bits. */
static int dumb_create(int card, unsigned int mib, struct gem *g)
{
	struct drm_mode_create_dumb c = {
		.width = 1024, .height = 256 * mib, .bpp = 32,
	};

	memset(g, 0, sizeof(*g));
	if (ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &c))
		return -errno;
	g->handle = c.handle;
	g->size = c.size;
	return 0;
}

static int gem_close(int card, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return ioctl(card, DRM_IOCTL_GEM_CLOSE, &c) ? -errno : 0;
}

/* The dma-buf fd of @handle, or -errno. */
static int gem_export(int card, uint32_t handle)
{
	struct drm_prime_handle p = {
		.handle = handle, .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1,
	};

	return ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p) ? -errno : p.fd;
}

static int gem_import(int card, int fd, uint32_t *handle)
{
	struct drm_prime_handle p = { .fd = fd };

	if (ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p))
		return -errno;
	*handle = p.handle;
	return 0;
}

static int gem_map_offset(int card, struct gem *g)
{
	struct drm_mode_map_dumb m = { .handle = g->handle };

	if (ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &m))
		return -errno;
	g->offset = m.offset;
	return 0;
}

/* Ground truth of a handle of ours: does @card still have it? */
static bool handle_alive(int card, uint32_t handle)
{
	struct drm_mode_map_dumb m = { .handle = handle };

	return !ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &m);
}

/*
 * Fill in the ids of @n objects of distinct sizes that @pid holds and
 * has not exported, from its pairs: the only other way to learn the id of
 * an object is to export it.  Returns 0, or -1 if a size does not match
 * exactly one vgem buffer.
 */
static int gem_find_ids(struct mt_nl *nl, pid_t pid, struct gem *g,
			unsigned int n)
{
	struct mt_proc_list l = { 0 };
	struct mt_proc *p;
	unsigned int i, j, found;
	int ret = 0;

	if (mt_proc_buffers(nl, pid, 0, NULL, "vgem", 65536, &l))
		return -1;
	p = mt_proc_list_find(&l, pid);
	for (i = 0; i < n && !ret; i++) {
		found = 0;
		for (j = 0; p && j < p->nbufs; j++) {
			if (p->bufs[j].size == g[i].size) {
				g[i].id = p->bufs[j].id;
				found++;
			}
		}
		if (found != 1)
			ret = -1;
	}
	mt_proc_list_free(&l);
	return ret;
}

/* ------------------------------------------------------------------ */
/* What a process should hold, checked against /proc and memtrack      */

struct want {
	uint64_t id;
	uint64_t size;
	uint32_t fds;		/* its dma-buf fds */
	uint32_t handles;	/* DRM files of its table with a handle */
	uint32_t holders;
	uint64_t mapped;	/* bytes of its GEM mappings of the buffer */
	uint64_t offset;	/* fake offset of those mappings */
	int card;		/* > 0: a file of ours that has ... */
	uint32_t handle;	/* ... this handle to it */
};

static struct want want_of(const struct gem *g, uint32_t fds, uint32_t handles,
			   uint32_t holders, uint64_t mapped, int card)
{
	struct want w = {
		.id = g->id, .size = g->size, .fds = fds, .handles = handles,
		.holders = holders, .mapped = mapped, .offset = g->offset,
		.card = handles ? card : 0, .handle = g->handle,
	};

	return w;
}

/*
 * The bytes of @pid's mappings of DRM files whose file offset falls in
 * [@offset, @offset + @size), from /proc/PID/maps (a GEM mapping's file
 * offset is the object's fake offset; the inode is the DRM file's), or
 * of all its DRM mappings with @size 0.
 */
static uint64_t maps_drm_bytes(pid_t pid, uint64_t offset, uint64_t size)
{
	char path[64], line[512];
	uint64_t sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		int pos = 0;

		if (sscanf(line, "%llx-%llx %*s %llx %*x:%*x %*u %n", &start,
			   &end, &off, &pos) < 3 || !pos ||
		    strncmp(line + pos, "/dev/dri/", 9))
			continue;
		if (!size || (off >= offset && off < offset + size))
			sum += end - start;
	}
	fclose(f);
	return sum;
}

static const struct want *want_find(const struct want *w, unsigned int n,
				    uint64_t id)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (w[i].id == id)
			return &w[i];
	return NULL;
}

/*
 * Check that @w (what the test made @pid hold) agrees with /proc, then
 * that memtrack's figures and pairs for @pid are exactly @w.  Logs the
 * first difference.  @got, if not NULL, keeps the reply.
 */
static bool check_proc(struct __test_metadata *_metadata, struct mt_nl *nl,
		       pid_t pid, const struct want *w, unsigned int n,
		       struct mt_proc *got_out)
{
	uint64_t total = 0, pss = 0, unique = 0, mapped = 0, bytes;
	uint32_t nr_fds = 0;
	struct mt_proc got, truth;
	unsigned int i;
	bool ok = false;
	int ret;

	memset(&got, 0, sizeof(got));
	memset(&truth, 0, sizeof(truth));
	/* The test's expectation against /proc first. */
	ret = mt_truth_read(pid, &truth);
	if (ret) {
		TH_LOG("truth of %d: %s", pid, strerror(-ret));
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct mt_buf *t = mt_proc_find(&truth, w[i].id);
		uint32_t fds = t ? t->fds : 0;

		if (fds != w[i].fds || (t && t->size != w[i].size)) {
			TH_LOG("pid %d buffer %" PRIu64 ": fdinfo shows %u fds of %" PRIu64
			       " bytes, the test made %u of %" PRIu64,
			       pid, w[i].id, fds, t ? t->size : 0, w[i].fds,
			       w[i].size);
			goto out;
		}
		bytes = w[i].offset ? maps_drm_bytes(pid, w[i].offset, w[i].size) : 0;
		if (bytes != w[i].mapped) {
			TH_LOG("pid %d buffer %" PRIu64 ": maps shows %" PRIu64
			       " bytes mapped, the test made %" PRIu64,
			       pid, w[i].id, bytes, w[i].mapped);
			goto out;
		}
		if (w[i].card > 0 && !handle_alive(w[i].card, w[i].handle)) {
			TH_LOG("pid %d buffer %" PRIu64 ": handle %u is gone",
			       pid, w[i].id, w[i].handle);
			goto out;
		}
		total += w[i].size;
		nr_fds += w[i].fds;
		mapped += w[i].mapped;
		pss += w[i].holders ? w[i].size / w[i].holders : 0;
		unique += w[i].holders == 1 ? w[i].size : 0;
	}
	if (truth.nr_fds != nr_fds || truth.mapped ||
	    maps_drm_bytes(pid, 0, 0) != mapped) {
		TH_LOG("pid %d: /proc shows %u dma-buf fds, %" PRIu64
		       " bytes of DRM mappings and %" PRIu64
		       " of dma-buf mappings; the test made %u, %" PRIu64 " and 0",
		       pid, truth.nr_fds, maps_drm_bytes(pid, 0, 0),
		       truth.mapped, nr_fds, mapped);
		goto out;
	}

	/* Then memtrack against the expectation. */
	ret = mt_proc_get(nl, pid, &got);
	if (ret) {
		TH_LOG("query of %d: %s (%s)", pid, strerror(-ret), nl->extack);
		goto out;
	}
	if (got.nr_buffers != n || got.nbufs != n || got.total != total ||
	    got.nr_fds != nr_fds || got.mapped != mapped || got.pss != pss ||
	    got.unique != unique || got.incomplete) {
		TH_LOG("pid %d: memtrack %u buffers (%u listed), %u fds, total %" PRIu64
		       ", mapped %" PRIu64 ", pss %" PRIu64 ", unique %" PRIu64
		       "%s; expected %u, %u, %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64,
		       pid, got.nr_buffers, got.nbufs, got.nr_fds, got.total,
		       got.mapped, got.pss, got.unique,
		       got.incomplete ? " (incomplete)" : "", n, nr_fds,
		       total, mapped, pss, unique);
		goto out;
	}
	for (i = 0; i < got.nbufs; i++) {
		const struct mt_buf *b = &got.bufs[i];
		const struct want *x = want_find(w, n, b->id);

		if (!x) {
			TH_LOG("pid %d: memtrack lists buffer %" PRIu64 " (%" PRIu64
			       " bytes, %s), which the test did not make it hold",
			       pid, b->id, b->size, b->exporter);
			goto out;
		}
		if (b->size != x->size || strcmp(b->exporter, "vgem") ||
		    b->fds != x->fds || b->handles != x->handles ||
		    b->has_handles != !!x->handles || b->mapped != x->mapped ||
		    b->holders != x->holders) {
			TH_LOG("pid %d buffer %" PRIu64 ": memtrack size %" PRIu64
			       " exporter %s fds %u handles %u%s mapped %" PRIu64
			       " holders %u; expected %" PRIu64 " vgem %u %u %" PRIu64 " %u",
			       pid, b->id, b->size, b->exporter, b->fds,
			       b->handles, b->has_handles ? "" : " (absent)",
			       b->mapped, b->holders, x->size, x->fds,
			       x->handles, x->mapped, x->holders);
			goto out;
		}
	}
	ok = true;
out:
	mt_proc_free(&truth);
	if (got_out && ok)
		*got_out = got;
	else
		mt_proc_free(&got);
	return ok;
}

#define CHECK(pid, w, n)						\
	ASSERT_TRUE(check_proc(_metadata, &self->nl, (pid), (w), (n), NULL))

/* The system-wide entry of @id: its holders, or -1 if it is not listed. */
static int64_t sys_holders(struct mt_nl *nl, uint64_t id, const char **exporter)
{
	static char exp[MT_NAME_MAX];
	const struct mt_buf *b;
	struct mt_buf_list l;
	int64_t h = -1;

	if (mt_buffer_dump(nl, &l))
		return -2;
	b = mt_buf_list_find(&l, id);
	if (b) {
		h = b->holders;
		snprintf(exp, sizeof(exp), "%s", b->exporter);
		if (exporter)
			*exporter = exp;
	}
	free(l.bufs);
	return h;
}

/* The name memtrack reports for buffer @id of ours, or "(absent)". */
static const char *gem_name(struct mt_nl *nl, uint64_t id)
{
	static char name[MT_NAME_MAX];
	const struct mt_buf *b;
	struct mt_proc p;

	snprintf(name, sizeof(name), "(absent)");
	if (mt_proc_get(nl, getpid(), &p))
		return name;
	b = mt_proc_find(&p, id);
	if (b)
		snprintf(name, sizeof(name), "%s", b->name);
	mt_proc_free(&p);
	return name;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

/* The events of @pid from index @from on, as a compact string. */
static const char *describe(const struct mt_evlog *l, unsigned int from,
			    uint32_t pid)
{
	static const char *const reasons[] = {
		[MEMTRACK_REASON_CLOSE] = "close", [MEMTRACK_REASON_EXEC] = "exec",
		[MEMTRACK_REASON_EXIT] = "exit", [MEMTRACK_REASON_UNMAP] = "unmap",
		[MEMTRACK_REASON_HANDLE_CLOSE] = "handle-close",
	};
	static char out[2048];
	size_t len = 0;
	unsigned int i;

	out[0] = '\0';
	for (i = from; i < l->n && len < sizeof(out) - 96; i++) {
		const struct mt_event *e = &l->ev[i];
		const char *r = e->reason < ARRAY_SIZE(reasons) &&
				reasons[e->reason] ? reasons[e->reason] : "?";

		if (e->pid != pid)
			continue;
		switch (e->cmd) {
		case MEMTRACK_CMD_PROC_BUFFER_ADD_NTF:
			len += snprintf(out + len, sizeof(out) - len, "add:%" PRIu64 "M ",
					(uint64_t)(e->buf.size / MiB));
			break;
		case MEMTRACK_CMD_PROC_BUFFER_DEL_NTF:
			len += snprintf(out + len, sizeof(out) - len, "del:%" PRIu64 "M:%s ",
					(uint64_t)(e->buf.size / MiB), r);
			break;
		case MEMTRACK_CMD_PROC_FORK_NTF:
			len += snprintf(out + len, sizeof(out) - len, "fork:%u ",
					e->nr_buffers);
			break;
		case MEMTRACK_CMD_PROC_BULK_NTF:
			len += snprintf(out + len, sizeof(out) - len,
					"bulk:+%" PRIu64 ":-%" PRIu64 ":%s ",
					e->nr_added, e->nr_removed,
					e->reason ? r : "-");
			break;
		default:
			len += snprintf(out + len, sizeof(out) - len, "cmd%u ", e->cmd);
		}
	}
	if (len)
		out[len - 1] = '\0';
	return out;
}

/* The @nth (from 0) event of @pid from index @from on, or NULL. */
static const struct mt_event *event_of(const struct mt_evlog *l,
				       unsigned int from, uint32_t pid,
				       unsigned int nth)
{
	unsigned int i;

	for (i = from; i < l->n; i++)
		if (l->ev[i].pid == pid && !nth--)
			return &l->ev[i];
	return NULL;
}

/*
 * Every event received steps its seq by one, nothing was lost, and each
 * event's total and nr-buffers follow from the previous event of its pid.
 */
static bool events_consistent(struct __test_metadata *_metadata,
			      const struct mt_evlog *l)
{
	struct mt_replay r = { 0 };
	bool ok = true;
	unsigned int i;

	if (!mt_evlog_complete(l)) {
		TH_LOG("events were lost (%s)", l->enobufs ? "ENOBUFS" : "seq gap");
		return false;
	}
	for (i = 0; i < l->n && ok; i++) {
		ok = mt_replay_apply(&r, &l->ev[i]);
		if (!ok)
			TH_LOG("event %u: %s", i, r.why);
	}
	mt_replay_free(&r);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Children                                                            */

/*
 * A child closes @drop_fd (if >= 0), runs @fn, then tells the parent it
 * is ready and parks until it is told to go, then exits.  It exits with
 * @fn's nonzero result if @fn fails.  The pipes are close-on-exec.
 */
struct kid {
	pid_t pid;
	int ready;
	int go;
};

static int kid_start(struct kid *k, int drop_fd, int (*fn)(void *), void *arg)
{
	int ready[2], go[2];

	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		return -1;
	k->pid = fork();
	if (k->pid < 0)
		return -1;
	if (k->pid == 0) {
		int ret;
		char c;

		close(ready[0]);
		close(go[1]);
		/* A DRM file it should not share with its parent. */
		if (drop_fd >= 0 && close(drop_fd))
			_exit(89);
		ret = fn ? fn(arg) : 0;
		if (ret)
			_exit(ret);
		c = 'r';
		if (write(ready[1], &c, 1) != 1)
			_exit(90);
		/* 'g' or EOF: exit. */
		if (read(go[0], &c, 1) < 0)
			_exit(91);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	k->ready = ready[0];
	k->go = go[1];
	return 0;
}

/* Wait for @k to be ready: 0, or its exit status (reaped) if it failed. */
static int kid_ready(struct kid *k)
{
	int status;
	char c;

	if (read(k->ready, &c, 1) == 1)
		return 0;
	if (waitpid(k->pid, &status, 0) != k->pid)
		return -1;
	k->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Let @k exit and reap it: its exit status, or -1. */
static int kid_finish(struct kid *k)
{
	int status;

	if (k->pid <= 0)
		return -1;
	if (write(k->go, "g", 1) != 1)
		return -1;
	close(k->go);
	close(k->ready);
	if (waitpid(k->pid, &status, 0) != k->pid)
		return -1;
	k->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------------ */

FIXTURE(gem)
{
	struct mt_nl nl;
	struct mt_evlog ev;
	int card;
};

FIXTURE_SETUP(gem)
{
	int ret;

	self->card = -1;
	self->ev.fd = -1;
	self->nl.fd = -1;
	if (!mt_vgem_path())
		SKIP(return, "no vgem device in /dev/dri (CONFIG_DRM_VGEM)");
	ret = card_open();
	ASSERT_GE(ret, 0) TH_LOG("open %s: %s", mt_vgem_path(), strerror(-ret));
	self->card = ret;
	ret = mt_nl_open(&self->nl);
	ASSERT_EQ(0, ret) TH_LOG("memtrack family: %s", strerror(-ret));
	ret = mt_evlog_open(&self->ev, 1 << 20);
	if (ret == -EPERM || ret == -EACCES)
		SKIP(return, "cannot subscribe to memtrack events: %s",
		     strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("subscribe: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(gem)
{
	if (self->card >= 0)
		close(self->card);
	mt_evlog_close(&self->ev);
	mt_nl_close(&self->nl);
}

/*
 * 1. Objects held through handles only: no fd refers to them, yet the
 * process holds each once, and GEM_CLOSE lets go of each.
 */
TEST_F(gem, handle_only_holder)
{
	const unsigned int n = 3;
	struct gem g[3];
	struct want w[3];
	const char *exp;
	unsigned int i;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, dumb_create(self->card, i + 1, &g[i]));
	for (i = 0; i < n; i++)
		ASSERT_EQ((i + 1) * MiB, g[i].size);
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), g, n));
	for (i = 0; i < n; i++)
		w[i] = want_of(&g[i], 0, 1, 1, 0, self->card);
	CHECK(getpid(), w, n);

	/* In the system list, each once, with this process its only holder. */
	for (i = 0; i < n; i++) {
		exp = NULL;
		EXPECT_EQ(1, sys_holders(&self->nl, g[i].id, &exp))
			TH_LOG("buffer %" PRIu64, g[i].id);
		if (exp)
			EXPECT_STREQ("vgem", exp);
	}

	/* Each GEM_CLOSE drops one, here and in the system list. */
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, gem_close(self->card, g[i].handle));
		EXPECT_FALSE(handle_alive(self->card, g[i].handle));
		CHECK(getpid(), w + i + 1, n - i - 1);
		EXPECT_EQ(-1, sys_holders(&self->nl, g[i].id, NULL))
			TH_LOG("buffer %" PRIu64 " is still listed with no handle",
			       g[i].id);
	}
}

/*
 * 2. An object with a handle and a dma-buf fd is one buffer, whose id is
 * the dma-buf's inode number, held once; importing it back into the same
 * file gives the same handle and changes nothing.  DMA_BUF_SET_NAME on
 * the dma-buf names the buffer.
 */
TEST_F(gem, export_counts_once)
{
	struct gem g;
	struct want w;
	uint32_t h2 = 0;
	int fd, fd2;

	ASSERT_EQ(0, dumb_create(self->card, 4, &g));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), &g, 1));
	fd = gem_export(self->card, g.handle);
	ASSERT_GE(fd, 0) TH_LOG("export: %s", strerror(-fd));
	/* The id it had before the export is the dma-buf's inode number. */
	EXPECT_EQ(g.id, mt_fd_ino(fd));
	g.id = mt_fd_ino(fd);
	w = want_of(&g, 1, 1, 1, 0, self->card);
	CHECK(getpid(), &w, 1);
	EXPECT_EQ(1, sys_holders(&self->nl, g.id, NULL));

	/* Re-import: the same handle, nothing new. */
	ASSERT_EQ(0, gem_import(self->card, fd, &h2));
	EXPECT_EQ(g.handle, h2);
	CHECK(getpid(), &w, 1);
	/* A second export gives the same dma-buf: one buffer, two fds. */
	fd2 = gem_export(self->card, g.handle);
	ASSERT_GE(fd2, 0);
	EXPECT_EQ(g.id, mt_fd_ino(fd2));
	w.fds = 2;
	CHECK(getpid(), &w, 1);
	close(fd2);
	w.fds = 1;
	CHECK(getpid(), &w, 1);

	/* Its name is the dma-buf's, as fdinfo shows it. */
	ASSERT_EQ(0, mt_set_name(fd, "gem-named"));
	EXPECT_STREQ("gem-named", gem_name(&self->nl, g.id));

	/* Only the handle: still held once, and the dma-buf keeps its name. */
	ASSERT_EQ(0, close(fd));
	w.fds = 0;
	CHECK(getpid(), &w, 1);
	EXPECT_STREQ("gem-named", gem_name(&self->nl, g.id));
	ASSERT_EQ(0, gem_close(self->card, g.handle));
	CHECK(getpid(), NULL, 0);
	EXPECT_EQ(-1, sys_holders(&self->nl, g.id, NULL));
}

/* Test 3's child: its own DRM file, and the object received by PRIME. */
static int prime_child(void *arg)
{
	int sock = *(int *)arg, card, fd;
	uint32_t handle;

	card = card_open();
	if (card < 0)
		return 10;
	fd = mt_recv_fd(sock);
	if (fd < 0)
		return 11;
	if (gem_import(card, fd, &handle))
		return 12;
	if (close(fd))
		return 13;
	/* Keeps card open: it holds the object through its handle. */
	return 0;
}

/*
 * 3. PRIME across processes: the child imports the parent's dma-buf into
 * a DRM file of its own and closes the dma-buf; both hold the one buffer.
 */
TEST_F(gem, prime_across_processes)
{
	struct kid k = { 0 };
	struct want w, wc;
	int sv[2], fd;
	struct gem g;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	/* Forked first, without our DRM file: it inherits no object. */
	ASSERT_EQ(0, kid_start(&k, self->card, prime_child, &sv[1]));
	close(sv[1]);

	ASSERT_EQ(0, dumb_create(self->card, 2, &g));
	fd = gem_export(self->card, g.handle);
	ASSERT_GE(fd, 0);
	g.id = mt_fd_ino(fd);
	ASSERT_EQ(0, mt_send_fd(sv[0], fd));
	ASSERT_EQ(0, kid_ready(&k)) TH_LOG("child failed");

	w = want_of(&g, 1, 1, 2, 0, self->card);
	CHECK(getpid(), &w, 1);
	/* The child: no fd, one handle (of its own file), pss halved. */
	wc = want_of(&g, 0, 1, 2, 0, -1);
	CHECK(k.pid, &wc, 1);
	EXPECT_EQ(2, sys_holders(&self->nl, g.id, NULL));

	/* The child gone, the parent holds it alone. */
	EXPECT_EQ(0, kid_finish(&k));
	w.holders = 1;
	CHECK(getpid(), &w, 1);
	close(fd);
	w.fds = 0;
	CHECK(getpid(), &w, 1);
	ASSERT_EQ(0, gem_close(self->card, g.handle));
	CHECK(getpid(), NULL, 0);
	close(sv[0]);
}

static int recv_child(void *arg)
{
	int sock = *(int *)arg;

	return mt_recv_fd(sock) < 0 ? 10 : 0;
}

/*
 * 4. A DRM file under several fds of one table counts one handle; passed
 * by SCM_RIGHTS, the receiver holds all its objects, with one bulk event;
 * inherited by fork, the fork event counts them.
 */
TEST_F(gem, drm_file_dup_pass_fork)
{
	const unsigned int n = 3;
	struct kid r = { 0 }, f = { 0 };
	struct want w[3], wr[3];
	const struct mt_event *e;
	uint64_t total = 0;
	unsigned int i, mark;
	pid_t rpid, fpid;
	int sv[2], d;
	struct gem g[3];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, kid_start(&r, self->card, recv_child, &sv[1]));
	close(sv[1]);

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, dumb_create(self->card, i + 1, &g[i]));
		total += g[i].size;
	}
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), g, n));
	for (i = 0; i < n; i++)
		w[i] = want_of(&g[i], 0, 1, 1, 0, self->card);
	CHECK(getpid(), w, n);
	mt_evlog_read(&self->ev, 1000);
	mark = self->ev.n;

	/* A second fd on the file: still one file with a handle. */
	d = fcntl(self->card, F_DUPFD_CLOEXEC, 0);
	ASSERT_GE(d, 0);
	CHECK(getpid(), w, n);

	/* Passed to another process: it holds all of them, in one event. */
	ASSERT_EQ(0, mt_send_fd(sv[0], d));
	ASSERT_EQ(0, kid_ready(&r)) TH_LOG("receiver failed");
	for (i = 0; i < n; i++) {
		w[i].holders = 2;
		wr[i] = want_of(&g[i], 0, 1, 2, 0, -1);
	}
	CHECK(getpid(), w, n);
	CHECK(r.pid, wr, n);
	mt_evlog_read(&self->ev, 1000);
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));
	EXPECT_STREQ("bulk:+3:-0:-", describe(&self->ev, mark, r.pid));
	e = event_of(&self->ev, mark, r.pid, 0);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(MEMTRACK_CMD_PROC_BULK_NTF, e->cmd);
	EXPECT_EQ(n, e->nr_added);
	EXPECT_EQ(0, e->nr_removed);
	EXPECT_EQ(0, e->reason);
	EXPECT_EQ(total, e->total);
	EXPECT_EQ(n, e->nr_buffers);
	mark = self->ev.n;

	/* Inherited by fork (two fds on it): one fork event counts them. */
	ASSERT_EQ(0, kid_start(&f, -1, NULL, NULL));
	ASSERT_EQ(0, kid_ready(&f));
	for (i = 0; i < n; i++) {
		w[i].holders = 3;
		wr[i].holders = 3;
	}
	CHECK(getpid(), w, n);
	CHECK(r.pid, wr, n);
	CHECK(f.pid, wr, n);
	mt_evlog_read(&self->ev, 1000);
	EXPECT_STREQ("fork:3", describe(&self->ev, mark, f.pid));
	e = event_of(&self->ev, mark, f.pid, 0);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(MEMTRACK_CMD_PROC_FORK_NTF, e->cmd);
	EXPECT_EQ(getpid(), e->parent);
	EXPECT_EQ(total, e->total);
	EXPECT_EQ(n, e->nr_buffers);
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));
	EXPECT_STREQ("", describe(&self->ev, mark, r.pid));

	/* Each exits holding them through the file: one summary each. */
	mark = self->ev.n;
	rpid = r.pid;
	fpid = f.pid;
	EXPECT_EQ(0, kid_finish(&f));
	EXPECT_EQ(0, kid_finish(&r));
	close(d);
	for (i = 0; i < n; i++)
		w[i].holders = 1;
	CHECK(getpid(), w, n);
	mt_evlog_read(&self->ev, 1000);
	EXPECT_STREQ("bulk:+0:-3:exit", describe(&self->ev, mark, rpid));
	EXPECT_STREQ("bulk:+0:-3:exit", describe(&self->ev, mark, fpid));
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
	close(sv[0]);
}

/*
 * 5. Closing a DRM file that still has handles: one bulk event for all of
 * them; closing one of two fds on it changes nothing and sends nothing.
 */
TEST_F(gem, drm_file_close)
{
	const unsigned int n = 3;
	const struct mt_event *e;
	struct want w[3];
	struct gem g[3];
	unsigned int i, mark;
	int d;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, dumb_create(self->card, i + 1, &g[i]));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), g, n));
	for (i = 0; i < n; i++)
		w[i] = want_of(&g[i], 0, 1, 1, 0, self->card);
	d = fcntl(self->card, F_DUPFD_CLOEXEC, 0);
	ASSERT_GE(d, 0);
	CHECK(getpid(), w, n);
	mt_evlog_read(&self->ev, 1000);
	mark = self->ev.n;

	/* One fd of two: silent. */
	ASSERT_EQ(0, close(d));
	CHECK(getpid(), w, n);
	mt_evlog_read(&self->ev, 300);
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));

	/* The last: one bulk event, down to nothing. */
	ASSERT_EQ(0, close(self->card));
	self->card = -1;
	mt_evlog_read(&self->ev, 1000);
	EXPECT_STREQ("bulk:+0:-3:close", describe(&self->ev, mark, getpid()));
	e = event_of(&self->ev, mark, getpid(), 0);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(MEMTRACK_CMD_PROC_BULK_NTF, e->cmd);
	EXPECT_EQ(0, e->nr_added);
	EXPECT_EQ(n, e->nr_removed);
	EXPECT_EQ(MEMTRACK_REASON_CLOSE, e->reason);
	EXPECT_EQ(0, e->total);
	EXPECT_EQ(0, e->nr_buffers);
	CHECK(getpid(), NULL, 0);
	for (i = 0; i < n; i++)
		EXPECT_EQ(-1, sys_holders(&self->nl, g[i].id, NULL));
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
}

/*
 * 6. A GEM mapping through the DRM file: counted as /proc/PID/maps shows
 * it, holds the object past GEM_CLOSE without an event, and its munmap
 * ends the holding with reason unmap.
 */
TEST_F(gem, gem_mmap)
{
	const struct mt_event *e;
	unsigned int mark;
	struct want w;
	struct gem g;
	char *p, *q;

	ASSERT_EQ(0, dumb_create(self->card, 2, &g));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), &g, 1));
	ASSERT_EQ(0, gem_map_offset(self->card, &g));
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, self->card,
		 g.offset);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	memset(p, 0x5a, 4 * KiB);
	/* A second mapping, of the first half. */
	q = mmap(NULL, g.size / 2, PROT_READ, MAP_SHARED, self->card, g.offset);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0x5a, q[0]);
	w = want_of(&g, 0, 1, 1, g.size + g.size / 2, self->card);
	CHECK(getpid(), &w, 1);
	mt_evlog_read(&self->ev, 1000);
	mark = self->ev.n;

	/* The handle goes, the mappings hold it: no event. */
	ASSERT_EQ(0, gem_close(self->card, g.handle));
	EXPECT_FALSE(handle_alive(self->card, g.handle));
	w.handles = 0;
	w.card = 0;
	CHECK(getpid(), &w, 1);
	EXPECT_EQ(1, sys_holders(&self->nl, g.id, NULL));
	ASSERT_EQ(0, munmap(q, g.size / 2));
	w.mapped = g.size;
	CHECK(getpid(), &w, 1);
	mt_evlog_read(&self->ev, 300);
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));

	/* The last mapping goes: reason unmap. */
	ASSERT_EQ(0, munmap(p, g.size));
	mt_evlog_read(&self->ev, 1000);
	EXPECT_STREQ("del:2M:unmap", describe(&self->ev, mark, getpid()));
	e = event_of(&self->ev, mark, getpid(), 0);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, e->cmd);
	EXPECT_EQ(MEMTRACK_REASON_UNMAP, e->reason);
	EXPECT_EQ(g.id, e->buf.id);
	EXPECT_EQ(g.size, e->buf.size);
	EXPECT_EQ(0, e->total);
	EXPECT_EQ(0, e->nr_buffers);
	CHECK(getpid(), NULL, 0);
	EXPECT_EQ(-1, sys_holders(&self->nl, g.id, NULL));
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
}

/*
 * 7. Events of handles: a new object is an add, the last handle's
 * GEM_CLOSE a del with reason handle-close, unless a dma-buf fd still
 * holds the object (then its close is the del, reason close).
 */
TEST_F(gem, handle_events)
{
	const struct mt_event *e;
	unsigned int mark, i;
	struct gem a, b;
	int fd;

	mt_evlog_read(&self->ev, 300);
	mark = self->ev.n;
	ASSERT_EQ(0, dumb_create(self->card, 1, &a));
	ASSERT_EQ(0, dumb_create(self->card, 2, &b));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), &a, 1));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), &b, 1));
	ASSERT_EQ(0, gem_close(self->card, a.handle));
	fd = gem_export(self->card, b.handle);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(b.id, mt_fd_ino(fd));
	ASSERT_EQ(0, gem_close(self->card, b.handle));	/* fd holds it */
	ASSERT_EQ(0, close(fd));
	mt_evlog_read(&self->ev, 1000);

	/* Opening the (empty) DRM file in setup sent nothing either. */
	ASSERT_STREQ("add:1M add:2M del:1M:handle-close del:2M:close",
		     describe(&self->ev, mark, getpid()));
	for (i = 0; i < 4; i++) {
		static const uint64_t totals[] = { 1 * MiB, 3 * MiB, 2 * MiB, 0 };
		static const uint32_t nrs[] = { 1, 2, 1, 0 };
		const struct gem *x = i == 0 || i == 2 ? &a : &b;

		e = event_of(&self->ev, mark, getpid(), i);
		ASSERT_NE(NULL, e);
		EXPECT_TRUE(e->has_buf);
		EXPECT_EQ(x->id, e->buf.id) TH_LOG("event %u", i);
		EXPECT_EQ(x->size, e->buf.size);
		EXPECT_STREQ("vgem", e->buf.exporter);
		EXPECT_EQ(i < 2 ? 1 : 0, e->buf.holders) TH_LOG("event %u", i);
		EXPECT_EQ(totals[i], e->total) TH_LOG("event %u", i);
		EXPECT_EQ(nrs[i], e->nr_buffers) TH_LOG("event %u", i);
	}
	e = event_of(&self->ev, mark, getpid(), 2);
	EXPECT_EQ(MEMTRACK_REASON_HANDLE_CLOSE, e->reason);
	e = event_of(&self->ev, mark, getpid(), 3);
	EXPECT_EQ(MEMTRACK_REASON_CLOSE, e->reason);
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
	CHECK(getpid(), NULL, 0);
}

/* Test 8's child: an object in a DRM file of its own, besides the inherited. */
static int own_object_child(void *arg)
{
	struct gem g;
	int card = card_open();

	(void)arg;
	if (card < 0)
		return 10;
	return dumb_create(card, 3, &g) ? 11 : 0;
}

/*
 * 8a. A child that holds objects through an inherited DRM file and one of
 * its own exits: one del per buffer (reason exit), its own object goes,
 * and the parent's are held by the parent alone again.
 */
TEST_F(gem, exit_drops_handles)
{
	struct kid k = { 0 };
	struct want w[2], wc[3];
	struct gem g[2], own;
	const struct mt_event *e;
	unsigned int i, mark;
	pid_t kpid;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, dumb_create(self->card, i + 1, &g[i]));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), g, 2));
	mt_evlog_read(&self->ev, 1000);
	mark = self->ev.n;

	ASSERT_EQ(0, kid_start(&k, -1, own_object_child, NULL));
	ASSERT_EQ(0, kid_ready(&k)) TH_LOG("child failed");
	own.size = 3 * MiB;
	ASSERT_EQ(0, gem_find_ids(&self->nl, k.pid, &own, 1));
	own.offset = 0;
	for (i = 0; i < 2; i++) {
		w[i] = want_of(&g[i], 0, 1, 2, 0, self->card);
		wc[i] = want_of(&g[i], 0, 1, 2, 0, -1);
	}
	wc[2] = want_of(&own, 0, 1, 1, 0, -1);
	CHECK(getpid(), w, 2);
	CHECK(k.pid, wc, 3);
	EXPECT_EQ(1, sys_holders(&self->nl, own.id, NULL));

	kpid = k.pid;
	EXPECT_EQ(0, kid_finish(&k));
	for (i = 0; i < 2; i++)
		w[i].holders = 1;
	CHECK(getpid(), w, 2);
	EXPECT_EQ(-1, sys_holders(&self->nl, own.id, NULL));
	mt_evlog_read(&self->ev, 1000);
	/* One summary for the three buffers, not a del per buffer. */
	EXPECT_STREQ("fork:2 add:3M bulk:+0:-3:exit",
		     describe(&self->ev, mark, kpid));
	e = event_of(&self->ev, mark, kpid, 0);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(getpid(), e->parent);
	EXPECT_EQ(3 * MiB, e->total);
	e = event_of(&self->ev, mark, kpid, 1);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(own.id, e->buf.id);
	EXPECT_EQ(6 * MiB, e->total);
	EXPECT_EQ(3, e->nr_buffers);
	e = event_of(&self->ev, mark, kpid, 2);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(3, e->nr_removed);
	EXPECT_EQ(MEMTRACK_REASON_EXIT, e->reason);
	EXPECT_EQ(0, e->total);
	EXPECT_EQ(0, e->nr_buffers);
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
}

/*
 * 8b. A child whose inherited DRM file is close-on-exec calls execve():
 * one bulk event, reason exec, and it holds nothing after.
 */
TEST_F(gem, exec_closes_drm_file)
{
	struct want w[2], wc[2];
	const struct mt_event *e;
	int ready[2], go[2], status;
	unsigned int i, mark;
	struct gem g[2];
	uint64_t total = 0;
	pid_t pid;
	char c;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, dumb_create(self->card, i + 1, &g[i]));
		total += g[i].size;
	}
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), g, 2));
	for (i = 0; i < 2; i++) {
		w[i] = want_of(&g[i], 0, 1, 1, 0, self->card);
		wc[i] = want_of(&g[i], 0, 1, 2, 0, -1);
	}
	ASSERT_EQ(FD_CLOEXEC, fcntl(self->card, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	mt_evlog_read(&self->ev, 1000);
	mark = self->ev.n;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char r[16], g_[16];

		/* Only the child's ends survive the exec. */
		if (fcntl(ready[1], F_SETFD, 0) || fcntl(go[0], F_SETFD, 0))
			_exit(80);
		/* First show the parent what it inherited. */
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(81);
		snprintf(r, sizeof(r), "%d", ready[1]);
		snprintf(g_, sizeof(g_), "%d", go[0]);
		execl("/proc/self/exe", "memtrack_gem_test", "--park", r, g_,
		      NULL);
		_exit(82);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	for (i = 0; i < 2; i++)
		w[i].holders = 2;
	CHECK(getpid(), w, 2);
	CHECK(pid, wc, 2);

	/* Exec; it says ready again from the new image. */
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(ready[0], &c, 1));
	CHECK(pid, NULL, 0);
	for (i = 0; i < 2; i++)
		w[i].holders = 1;
	CHECK(getpid(), w, 2);
	mt_evlog_read(&self->ev, 1000);
	EXPECT_STREQ("fork:2 bulk:+0:-2:exec", describe(&self->ev, mark, pid));
	e = event_of(&self->ev, mark, pid, 0);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(total, e->total);
	e = event_of(&self->ev, mark, pid, 1);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(MEMTRACK_CMD_PROC_BULK_NTF, e->cmd);
	EXPECT_EQ(2, e->nr_removed);
	EXPECT_EQ(0, e->nr_added);
	EXPECT_EQ(MEMTRACK_REASON_EXEC, e->reason);
	EXPECT_EQ(0, e->total);
	EXPECT_EQ(0, e->nr_buffers);

	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	close(go[1]);
	close(ready[0]);
	mt_evlog_read(&self->ev, 300);
	/* It held nothing when it exited. */
	EXPECT_STREQ("fork:2 bulk:+0:-2:exec", describe(&self->ev, mark, pid));
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
}

/* Test 9's child: map the object through the inherited file, close it. */
struct map_arg {
	int card;
	struct gem g;
};

static int map_child(void *arg)
{
	struct map_arg *a = arg;
	void *p;

	p = mmap(NULL, a->g.size, PROT_READ, MAP_SHARED, a->card, a->g.offset);
	if (p == MAP_FAILED)
		return 10;
	/* The mapping holds the object now; the file is not in the table. */
	return close(a->card) ? 11 : 0;
}

/*
 * 9. A DRM file shared with another process gains a handle to an object
 * that process maps already: it held the object and still holds it once
 * (holders stays 2, and it gets no event); the handle's GEM_CLOSE leaves
 * it holding the object through the mapping, again without an event.
 */
TEST_F(gem, shared_file_meets_mapping)
{
	struct map_arg a = { .card = self->card };
	struct kid k = { 0 };
	struct want w, wc;
	uint32_t h2 = 0;
	unsigned int mark;
	int card2, fd;

	card2 = card_open();
	ASSERT_GE(card2, 0);
	ASSERT_EQ(0, dumb_create(self->card, 2, &a.g));
	ASSERT_EQ(0, gem_find_ids(&self->nl, getpid(), &a.g, 1));
	ASSERT_EQ(0, gem_map_offset(self->card, &a.g));
	/* The child shares card2 (empty yet) and maps the object. */
	ASSERT_EQ(0, kid_start(&k, -1, map_child, &a));
	ASSERT_EQ(0, kid_ready(&k)) TH_LOG("child failed");
	wc = want_of(&a.g, 0, 0, 2, a.g.size, -1);
	CHECK(k.pid, &wc, 1);
	mt_evlog_read(&self->ev, 300);
	mark = self->ev.n;

	/* card2 gets a handle to it: a set change in the child's table. */
	fd = gem_export(self->card, a.g.handle);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(a.g.id, mt_fd_ino(fd));
	ASSERT_EQ(0, gem_import(card2, fd, &h2));
	ASSERT_EQ(0, close(fd));
	w = want_of(&a.g, 0, 2, 2, 0, self->card);
	CHECK(getpid(), &w, 1);
	EXPECT_TRUE(handle_alive(card2, h2));
	wc.handles = 1;
	CHECK(k.pid, &wc, 1);
	EXPECT_EQ(2, sys_holders(&self->nl, a.g.id, NULL));

	/* The handle goes: the child still maps it, the parent has card. */
	ASSERT_EQ(0, gem_close(card2, h2));
	w.handles = 1;
	CHECK(getpid(), &w, 1);
	wc.handles = 0;
	CHECK(k.pid, &wc, 1);
	EXPECT_EQ(2, sys_holders(&self->nl, a.g.id, NULL));
	mt_evlog_read(&self->ev, 300);
	EXPECT_STREQ("", describe(&self->ev, mark, k.pid));
	EXPECT_STREQ("", describe(&self->ev, mark, getpid()));

	/* The child exits with its mapping. */
	EXPECT_EQ(0, kid_finish(&k));
	w.holders = 1;
	CHECK(getpid(), &w, 1);
	mt_evlog_read(&self->ev, 1000);
	EXPECT_TRUE(events_consistent(_metadata, &self->ev));
	close(card2);
}

/*
 * 10. A dma-buf of another exporter (the system heap) imported into vgem:
 * the handle holds that dma-buf, under its own id, size and exporter,
 * once the fd is closed; GEM_CLOSE lets go of it.
 */
TEST_F(gem, foreign_import)
{
	const struct mt_buf *b;
	struct mt_proc p;
	uint32_t handle = 0;
	uint64_t id;
	int fd;

	fd = mt_heap_alloc(64 * KiB);
	if (fd == -ENOENT)
		SKIP(return, "no system heap");
	ASSERT_GE(fd, 0);
	id = mt_fd_ino(fd);
	ASSERT_EQ(0, gem_import(self->card, fd, &handle));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &p));
	b = mt_proc_find(&p, id);
	ASSERT_NE(NULL, b) TH_LOG("the imported heap buffer is not held");
	EXPECT_EQ(64 * KiB, b->size);
	EXPECT_STREQ("system", b->exporter);
	EXPECT_EQ(0, b->fds);
	EXPECT_EQ(1, b->handles);
	EXPECT_EQ(1, b->holders);
	EXPECT_EQ(1, p.nr_buffers);
	mt_proc_free(&p);
	EXPECT_EQ(1, sys_holders(&self->nl, id, NULL));

	ASSERT_EQ(0, gem_close(self->card, handle));
	CHECK(getpid(), NULL, 0);
	EXPECT_EQ(-1, sys_holders(&self->nl, id, NULL));
}

/* The exec'd image of exec_closes_drm_file: say ready, wait, exit. */
static int park_main(char **argv)
{
	char c;

	if (write(atoi(argv[2]), "r", 1) != 1)
		return 1;
	return read(atoi(argv[3]), &c, 1) < 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--park"))
		return park_main(argv);
	mt_require_memtrack();
	return test_harness_run(argc, argv);
}
