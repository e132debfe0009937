// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat data sources: the memtrack netlink family through libmemtrack-nl,
 * and a procfs scan (every /proc/PID/fdinfo/FD and /proc/PID/maps, the
 * way Android's dmabuf_dump does it) for kernels without memtrack.  Both fill the same
 * snapshot, and mt_snapshot_finish() derives the sharing figures.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <unistd.h>

#include <memtrack-nl.h>

#include "mtstat.h"

uid_t mt_proc_uid(uint32_t pid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%u", pid);
	return stat(path, &st) ? (uid_t)-1 : st.st_uid;
}

void mt_proc_cgroup(uint32_t pid, char *buf, size_t len)
{
	char path[40], line[512];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	/* cgroup v2 is "0::/path"; on a v1 or hybrid system, the first line. */
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (!strncmp(line, "0::", 3) || !strcmp(buf, "?"))
			snprintf(buf, len, "%s", p + 1);
		if (!strncmp(line, "0::", 3))
			break;
	}
	fclose(f);
}

static bool pid_wanted(const struct mt_filter *f, uint32_t pid)
{
	size_t i;

	if (!f->pids)
		return true;
	for (i = 0; i < f->npids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

static int proc_cmp(const void *a, const void *b);

/*
 * @arr, or a larger copy of it, with room for one more entry (@n used of
 * *@cap, @size bytes each); NULL if out of memory, @arr then unchanged.
 * It grows by half again: growing it by one moved it at almost every
 * entry (other allocations come between), quadratic in a list of
 * thousands.
 */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t want = *cap ? *cap + *cap / 2 : 64;
	void *na;

	if (n < *cap)
		return arr;
	na = reallocarray(arr, want, size);
	if (na)
		*cap = want;
	return na;
}

static int add_proc(struct mt_snapshot *s, struct mt_proc *p)
{
	struct mt_proc *np = grow(s->procs, &s->procs_cap, s->nprocs, sizeof(*np));

	if (!np)
		return -ENOMEM;
	s->procs = np;
	s->procs[s->nprocs++] = *p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* netlink                                                             */

int mt_netlink_available(void)
{
	struct mtnl *h;

	if (mtnl_open(&h))
		return 0;
	mtnl_close(h);
	return 1;
}

struct nl_ctx {
	struct mt_snapshot *s;
	const struct mt_filter *f;
	bool need_uid;		/* for -u and the owner views */
	int err;
};

/* Copy a string into a field, cut to fit: cheaper than snprintf() per buffer. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int copy_proc(const struct mtnl_proc *np, void *arg)
{
	struct nl_ctx *c = arg;
	struct mt_proc p = { 0 };
	size_t i, n = mtnl_proc_buffer_count(np);

	p.pid = mtnl_proc_pid(np);
	/* A stat() of /proc/PID each: only for the views that use it. */
	p.uid = c->need_uid ? mt_proc_uid(p.pid) : (uid_t)-1;
	copy_str(p.comm, sizeof(p.comm), mtnl_proc_comm(np));
	p.nbufs = mtnl_proc_nr_buffers(np);
	p.nfds = mtnl_proc_nr_fds(np);
	p.total = mtnl_proc_total(np);
	p.pss = mtnl_proc_pss(np);
	p.unique = mtnl_proc_unique(np);
	p.hwm = mtnl_proc_hwm(np);
	p.mapped = mtnl_proc_mapped(np);
	p.incomplete = mtnl_proc_incomplete(np);
	p.bufs = calloc(n ? n : 1, sizeof(*p.bufs));
	if (!p.bufs) {
		c->err = -ENOMEM;
		return 1;
	}
	for (i = 0; i < n; i++) {
		const struct mtnl_buffer *b = mtnl_proc_buffer(np, i);
		struct mt_buf *d = &p.bufs[i];

		d->id = mtnl_buffer_id(b);
		d->size = mtnl_buffer_size(b);
		d->fds = mtnl_buffer_fds(b);
		d->handles = mtnl_buffer_handles(b);
		d->mapped = mtnl_buffer_mapped(b);
		d->kholders = mtnl_buffer_holders(b);
		copy_str(d->exporter, sizeof(d->exporter), mtnl_buffer_exporter(b));
		copy_str(d->name, sizeof(d->name), mtnl_buffer_name(b));
	}
	p.n = n;
	if (add_proc(c->s, &p)) {
		free(p.bufs);
		c->err = -ENOMEM;
		return 1;
	}
	return 0;
}

static int copy_sys(const struct mtnl_buffer *b, void *arg)
{
	struct mt_snapshot *s = arg;
	struct mt_buf *nb = grow(s->sys, &s->sys_cap, s->nsys, sizeof(*nb));
	struct mt_buf *d;

	if (!nb)
		return -ENOMEM;
	s->sys = nb;
	d = &s->sys[s->nsys++];
	memset(d, 0, sizeof(*d));
	d->id = mtnl_buffer_id(b);
	d->size = mtnl_buffer_size(b);
	d->kholders = mtnl_buffer_holders(b);
	copy_str(d->exporter, sizeof(d->exporter), mtnl_buffer_exporter(b));
	copy_str(d->name, sizeof(d->name), mtnl_buffer_name(b));
	return 0;
}

static int errno_to_exit(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
		return MTSTAT_EPERM;
	case -ESRCH:
		return MTSTAT_ENOPID;
	case -ENOENT:
	case -EPROTO:
		return MTSTAT_EUNAVAIL;
	default:
		return MTSTAT_EFAIL;
	}
}

/*
 * Read the asked-for pids one by one, each with a request of its own:
 * the kernel computes the sharing figures, so the rest of the system is
 * not needed, and a missing or unreadable pid is reported rather than
 * silently absent.  With a name or exporter filter the pid's report is
 * the kernel's filtered dump of that pid alone.
 */
static int netlink_pids(struct mtnl *h, struct nl_ctx *c, char *err, size_t errlen)
{
	const struct mt_filter *f = c->f;
	size_t i, j;
	int ret;

	for (i = 0; i < f->npids; i++) {
		struct mtnl_proc *np;
		uint64_t gen = 0;

		for (j = 0; j < i && f->pids[j] != f->pids[i]; j++)
			;
		if (j < i)
			continue;	/* asked twice, shown once */
		ret = mtnl_proc_get(h, f->pids[i], &np);
		/* Say why, if procfs knows (a thread id, a zombie). */
		if (ret == -ESRCH && mt_pid_check(f->pids[i], err, errlen))
			return MTSTAT_ENOPID;
		if (ret) {
			const char *kmsg = mtnl_last_error(h);

			snprintf(err, errlen, "pid %u: %s%s%s%s", f->pids[i],
				 ret == -ESRCH ? "no such process" :
				 ret == -EACCES ? "permission denied" :
				 ret == -EAGAIN ? "its buffers kept changing while it was read" :
				 strerror(-ret),
				 *kmsg ? " (kernel: " : "", kmsg, *kmsg ? ")" : "");
			return errno_to_exit(ret);
		}
		if (!f->name && !f->exporter) {
			gen = mtnl_proc_generation(np);
			/*
			 * As in a dump, a process that holds nothing is left
			 * to mt_snapshot_check_pids(), which tells a live one
			 * (zero figures) from a zombie (an error).
			 */
			if (mtnl_proc_nr_buffers(np))
				ret = copy_proc(np, c) ? c->err : 0;
		} else {
			struct mtnl_dump_opts opts = {
				.sz = sizeof(opts), .pid = f->pids[i],
				.name = f->name, .exporter = f->exporter,
			};

			ret = mtnl_proc_dump(h, &opts, copy_proc, c, &gen);
			if (ret == 1)
				ret = c->err;
			/* -EINTR: changing while read; it was passed as last read. */
			if (ret == -EINTR)
				ret = 0;
		}
		mtnl_proc_free(np);
		if (ret) {
			snprintf(err, errlen, "pid %u: %s%s%s", f->pids[i], strerror(-ret),
				 *mtnl_last_error(h) ? ": " : "", mtnl_last_error(h));
			return errno_to_exit(ret);
		}
		if (gen > c->s->generation)
			c->s->generation = gen;
	}
	return MTSTAT_OK;
}

/*
 * Whether this process sees every process: it is in the initial pid
 * namespace, whose inode number is fixed (PROC_PID_INIT_INO), and may
 * read any process (CAP_SYS_PTRACE: the dumps skip what the caller
 * could not read in /proc/PID/fdinfo).  An LSM that denies ptrace reads
 * still could; it would show as processes missing from the list.
 */
static bool sees_every_process(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	struct stat st;

	if (syscall(SYS_capget, &hdr, data) ||
	    !(data[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective & CAP_TO_MASK(CAP_SYS_PTRACE)))
		return false;
	return !stat("/proc/self/ns/pid", &st) && st.st_ino == 0xEFFFFFFCU;
}

/*
 * The system-wide buffer list into @s, if the caller may read it (a
 * caller without CAP_SYS_ADMIN and CAP_NET_ADMIN goes without).  An
 * MTSTAT_* code.
 */
static int read_system(struct mtnl *h, struct mt_snapshot *s, char *err,
		       size_t errlen)
{
	int ret = mtnl_buffer_dump(h, copy_sys, s);

	if (ret == 0) {
		s->has_system = true;
		return MTSTAT_OK;
	}
	free(s->sys);
	s->sys = NULL;
	s->nsys = 0;
	s->sys_cap = 0;
	if (ret == -EPERM)
		return MTSTAT_OK;
	snprintf(err, errlen, "buffer list failed: %s: %s", strerror(-ret),
		 mtnl_last_error(h));
	return errno_to_exit(ret);
}

/* Say why a process dump failed; an MTSTAT_* code. */
static int proc_dump_failed(struct mtnl *h, int ret, char *err, size_t errlen)
{
	snprintf(err, errlen, "process dump failed: %s%s%s", strerror(-ret),
		 *mtnl_last_error(h) ? ": " : "", mtnl_last_error(h));
	return errno_to_exit(ret);
}

int mt_source_netlink(struct mt_snapshot *s, const struct mt_filter *f,
		      unsigned int want, char *err, size_t errlen)
{
	/* A view of figures alone has no -u and no owner column. */
	struct nl_ctx c = { .s = s, .f = f, .need_uid = !(want & MT_WANT_FIGURES) };
	struct mtnl *h;
	int ret, tries;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->source = "netlink";
	s->kernel_figures = true;
	ret = mtnl_open(&h);
	if (ret) {
		snprintf(err, errlen, "cannot open the memtrack family: %s",
			 mtnl_strerror(ret));
		return errno_to_exit(ret);
	}
	s->family_version = mtnl_family_version(h);

	if ((want & MT_WANT_PROCS) && f->pids) {
		ret = netlink_pids(h, &c, err, errlen);
		if (ret) {
			mtnl_close(h);
			return ret;
		}
		want &= ~MT_WANT_PROCS;
	}
	/*
	 * A view of figures alone, by a caller that may read the buffer
	 * list and sees every process (the initial pid namespace): one
	 * fixed-size message per process, and what the processes hold
	 * together from the buffer list.
	 */
	if ((want & MT_WANT_PROCS) && (want & MT_WANT_FIGURES) && sees_every_process()) {
		ret = read_system(h, s, err, errlen);
		if (ret)
			goto out;
		want &= ~MT_WANT_SYSTEM;
		if (s->has_system) {
			struct mtnl_dump_opts opts = {
				.sz = sizeof(opts), .name = f->name, .exporter = f->exporter,
			};

			s->held_from_system = true;
			want &= ~MT_WANT_PROCS;
			ret = mtnl_proc_dump_figures(h, &opts, copy_proc, &c, &s->generation);
			if (ret) {
				ret = proc_dump_failed(h, ret == 1 ? c.err : ret, err, errlen);
				goto out;
			}
		}
	}
	/* Retry a dump the accounting changed under, for a snapshot. */
	for (tries = 0; (want & MT_WANT_PROCS) && tries < 5; tries++) {
		struct mtnl_dump_opts opts = {
			.sz = sizeof(opts), .name = f->name, .exporter = f->exporter,
		};

		ret = mtnl_proc_dump(h, &opts, copy_proc, &c, &s->generation);
		/* Still changing after the last try: keep it, as last read. */
		if (ret != -EINTR || tries == 4) {
			if (ret == -EINTR)
				ret = 0;
			break;
		}
		for (i = 0; i < s->nprocs; i++)
			free(s->procs[i].bufs);
		s->nprocs = 0;
	}
	if (ret) {
		ret = proc_dump_failed(h, ret == 1 ? c.err : ret, err, errlen);
		goto out;
	}
	if (want & MT_WANT_SYSTEM)
		ret = read_system(h, s, err, errlen);
out:
	mtnl_close(h);
	return ret;
}

/* ------------------------------------------------------------------ */
/* procfs                                                              */

static int buf_cmp(const void *a, const void *b)
{
	const struct mt_buf *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Read a one-line file into @out without its newline; false if absent. */
static bool read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

/*
 * Add the dma-buf mappings of the task directory @base (/proc/PID, or
 * /proc/PID/task/TID) from its maps: a VMA whose path is "/dmabuf:NAME"
 * maps the buffer whose id is the VMA's inode.  A buffer
 * mapped but referred to by no fd is described by
 * /sys/kernel/dmabuf/buffers/ID when the kernel has it
 * (CONFIG_DMABUF_SYSFS_STATS); otherwise its exporter is unknown and its
 * size is at least the furthest byte a mapping of it reaches, and the
 * process is flagged incomplete.
 */
static int scan_maps(const char *base, struct mt_proc *p)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/maps", base);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, off, ino;
		struct mt_buf *b = NULL;
		int pos = 0;
		size_t i;

		if (sscanf(line, "%lx-%lx %*s %lx %*x:%*x %lu %n", &start, &end,
			   &off, &ino, &pos) < 4 || !pos ||
		    strncmp(line + pos, "/dmabuf:", 8))
			continue;
		for (i = 0; i < p->n; i++)
			if (p->bufs[i].id == ino)
				b = &p->bufs[i];
		if (!b) {
			struct mt_buf *nb = realloc(p->bufs, (p->n + 1) * sizeof(*nb));
			char v[64];

			if (!nb) {
				fclose(f);
				return -ENOMEM;
			}
			p->bufs = nb;
			b = &p->bufs[p->n++];
			memset(b, 0, sizeof(*b));
			b->id = ino;
			b->kholders = -1;
			snprintf(b->name, sizeof(b->name), "%.*s",
				 (int)strcspn(line + pos + 8, "\n"), line + pos + 8);
			snprintf(path, sizeof(path), "/sys/kernel/dmabuf/buffers/%lu/size", ino);
			if (read_line(path, v, sizeof(v)))
				b->size = strtoull(v, NULL, 10);
			else
				b->size_unknown = true;
			snprintf(path, sizeof(path),
				 "/sys/kernel/dmabuf/buffers/%lu/exporter_name", ino);
			b->exporter_unknown = !read_line(path, v, sizeof(v));
			snprintf(b->exporter, sizeof(b->exporter), "%s",
				 b->exporter_unknown ? "?" : v);
			p->nbufs++;
			p->total += b->size;
			p->incomplete |= b->size_unknown;
		}
		/* A lower bound: the buffer reaches at least this far. */
		if (b->size_unknown && off + (end - start) > b->size) {
			p->total += off + (end - start) - b->size;
			b->size = off + (end - start);
		}
		b->mapped += end - start;
		p->mapped += end - start;
	}
	fclose(f);
	return 0;
}

static char task_state(uint32_t pid, const char *tid);

/* A thread of @pid that is neither a zombie nor dead, or 0. */
static uint32_t live_thread(uint32_t pid)
{
	char path[64];
	struct dirent *de;
	uint32_t tid = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	dir = opendir(path);
	while (dir && !tid && (de = readdir(dir))) {
		char st = isdigit((unsigned char)de->d_name[0]) ?
			  task_state(pid, de->d_name) : 0;

		if (st && st != 'Z' && st != 'X')
			tid = (uint32_t)strtoul(de->d_name, NULL, 10);
	}
	if (dir)
		closedir(dir);
	return tid;
}

/*
 * The dma-bufs of the table and the address space that the task
 * directory @base uses, from its fdinfo files and its maps; -errno if
 * unreadable.  *@entries counts the fds, dma-bufs or not.
 */
static int scan_task(const char *base, struct mt_proc *p, unsigned int *entries)
{
	char path[600], line[256];
	struct dirent *de;
	DIR *dir;
	FILE *f;

	*entries = 0;
	snprintf(path, sizeof(path), "%s/fdinfo", base);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		struct mt_buf b = { .kholders = -1 };
		bool dmabuf = false;
		size_t i;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		(*entries)++;
		snprintf(path, sizeof(path), "%s/fdinfo/%s", base, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *v = strchr(line, ':');

			if (!v)
				continue;
			*v++ = '\0';
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			if (!strcmp(line, "ino"))
				b.id = strtoull(v, NULL, 10);
			else if (!strcmp(line, "size"))
				b.size = strtoull(v, NULL, 10);
			else if (!strcmp(line, "exp_name")) {
				snprintf(b.exporter, sizeof(b.exporter), "%s", v);
				dmabuf = true;
			} else if (!strcmp(line, "name")) {
				snprintf(b.name, sizeof(b.name), "%s", v);
			}
		}
		fclose(f);
		if (!dmabuf)
			continue;
		p->nfds++;
		for (i = 0; i < p->n && p->bufs[i].id != b.id; i++)
			;
		if (i < p->n) {
			p->bufs[i].fds++;
			continue;
		}
		{
			struct mt_buf *nb = realloc(p->bufs, (p->n + 1) * sizeof(*nb));

			if (!nb) {
				closedir(dir);
				return -ENOMEM;
			}
			p->bufs = nb;
		}
		b.fds = 1;
		p->bufs[p->n++] = b;
		p->nbufs++;
		p->total += b.size;
	}
	closedir(dir);
	/* maps needs ptrace read access like fdinfo; fdinfo was readable. */
	if (scan_maps(base, p) == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/*
 * One process's dma-bufs from its fdinfo files and its maps; -errno if
 * unreadable.  A group leader that exited while other threads live on
 * (a zombie) has no table and no address space: read a live thread's.
 */
static int scan_pid(uint32_t pid, struct mt_proc *p)
{
	char path[300];
	unsigned int entries;
	uint32_t tid;
	FILE *f;
	int ret;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(path, sizeof(path), "/proc/%u", pid);
	ret = scan_task(path, p, &entries);
	if (ret)
		return ret;
	if (!entries && (tid = live_thread(pid)) && tid != pid) {
		free(p->bufs);
		memset(p, 0, sizeof(*p));
		p->pid = pid;
		snprintf(path, sizeof(path), "/proc/%u/task/%u", pid, tid);
		ret = scan_task(path, p, &entries);
		if (ret)
			return ret;
	}
	qsort(p->bufs, p->n, sizeof(*p->bufs), buf_cmp);
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(p->comm, sizeof(p->comm), f))
			p->comm[strcspn(p->comm, "\n")] = '\0';
		fclose(f);
	}
	p->uid = mt_proc_uid(pid);
	return 0;
}

int mt_source_procfs(struct mt_snapshot *s, const struct mt_filter *f,
		     char *err, size_t errlen)
{
	struct dirent *de;
	size_t i;
	DIR *dir;

	memset(s, 0, sizeof(*s));
	s->source = "procfs";
	for (i = 0; f->pids && i < f->npids; i++) {
		struct mt_proc p;
		int ret = scan_pid(f->pids[i], &p);

		free(p.bufs);
		if (ret) {
			snprintf(err, errlen, "pid %u: %s", f->pids[i],
				 ret == -ENOENT ? "no such process" : strerror(-ret));
			return ret == -ENOENT ? MTSTAT_ENOPID :
			       ret == -EACCES || ret == -EPERM ? MTSTAT_EPERM :
			       MTSTAT_EFAIL;
		}
	}
	dir = opendir("/proc");
	if (!dir) {
		snprintf(err, errlen, "cannot read /proc: %s", strerror(errno));
		return MTSTAT_EUNAVAIL;
	}
	while ((de = readdir(dir))) {
		struct mt_proc p;
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid)
			continue;
		/* Like the netlink dump: skip what we may not read. */
		if (scan_pid((uint32_t)pid, &p) || !p.nbufs) {
			free(p.bufs);
			continue;
		}
		if (add_proc(s, &p)) {
			free(p.bufs);
			closedir(dir);
			return MTSTAT_EFAIL;
		}
	}
	closedir(dir);
	return MTSTAT_OK;
}

/* ------------------------------------------------------------------ */
/* Asked-for pids                                                      */

/* The state letter of /proc/PID/task/TID/stat, or 0 if it is gone. */
static char task_state(uint32_t pid, const char *tid)
{
	char path[300], line[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/task/%s/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* The comm may hold anything: the state follows its last ')'. */
	p = p ? strrchr(line, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : 0;
}

int mt_pid_check(uint32_t pid, char *err, size_t errlen)
{
	char path[64], line[256];
	struct dirent *de;
	long tgid = -1;
	bool live = false;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT || errno == ESRCH) {
			snprintf(err, errlen, "pid %u: no such process (in this pid namespace)",
				 pid);
			return MTSTAT_ENOPID;
		}
		snprintf(err, errlen, "pid %u: cannot read %s: %s", pid, path,
			 strerror(errno));
		return errno == EACCES || errno == EPERM ? MTSTAT_EPERM : MTSTAT_EFAIL;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	fclose(f);
	/* /proc/TID exists for every thread, though it is not listed. */
	if (tgid > 0 && (uint32_t)tgid != pid) {
		snprintf(err, errlen, "pid %u is a thread of process %ld; -p takes process ids",
			 pid, tgid);
		return MTSTAT_ENOPID;
	}
	/* A process lives while one of its threads does (its leader may not). */
	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	dir = opendir(path);
	while (dir && !live && (de = readdir(dir))) {
		char st;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		st = task_state(pid, de->d_name);
		live = st && st != 'Z' && st != 'X';
	}
	if (dir)
		closedir(dir);
	if (!live) {
		snprintf(err, errlen, "pid %u: the process has exited%s", pid,
			 dir ? " (a zombie its parent has not reaped yet)" : "");
		return MTSTAT_ENOPID;
	}
	return MTSTAT_OK;
}

int mt_snapshot_check_pids(struct mt_snapshot *s, const struct mt_filter *f,
			   char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; f->pids && i < f->npids; i++) {
		struct mt_proc p = { 0 };
		char path[64];
		FILE *cf;
		int ret;

		for (j = 0; j < s->nprocs && s->procs[j].pid != f->pids[i]; j++)
			;
		if (j < s->nprocs)
			continue;
		/*
		 * Not in the snapshot: gone, a zombie, a thread id, or a live
		 * process that holds nothing (that matches the filters).
		 */
		ret = mt_pid_check(f->pids[i], err, errlen);
		if (ret)
			return ret;
		p.pid = f->pids[i];
		p.uid = mt_proc_uid(p.pid);
		if (f->has_uid && p.uid != f->uid)
			continue;	/* -u leaves it out */
		snprintf(path, sizeof(path), "/proc/%u/comm", p.pid);
		cf = fopen(path, "re");
		if (cf) {
			if (fgets(p.comm, sizeof(p.comm), cf))
				p.comm[strcspn(p.comm, "\n")] = '\0';
			fclose(cf);
		}
		p.bufs = calloc(1, sizeof(*p.bufs));
		if (!p.bufs || add_proc(s, &p)) {
			free(p.bufs);
			snprintf(err, errlen, "out of memory");
			return MTSTAT_EFAIL;
		}
	}
	qsort(s->procs, s->nprocs, sizeof(*s->procs), proc_cmp);
	return MTSTAT_OK;
}

/* ------------------------------------------------------------------ */
/* Derived figures                                                     */

static bool buf_matches(const struct mt_buf *b, const struct mt_filter *f)
{
	if (f->name && strcmp(b->name, f->name))
		return false;
	if (f->exporter && strcmp(b->exporter, f->exporter))
		return false;
	return true;
}

static int proc_cmp(const void *a, const void *b)
{
	const struct mt_proc *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * Apply the name, exporter and user filters, then count for every buffer
 * the processes that hold it, and derive PSS and unique bytes from that.
 */
struct holder_count {
	uint64_t id;
	uint32_t procs;
};

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted (id, processes) pairs over every reference of the snapshot. */
static struct holder_count *count_holders(const struct mt_snapshot *s, size_t *n)
{
	struct holder_count *out;
	size_t i, j, total = 0, m = 0;
	uint64_t *ids;

	for (i = 0; i < s->nprocs; i++)
		total += s->procs[i].n;
	ids = malloc((total ? total : 1) * sizeof(*ids));
	out = malloc((total ? total : 1) * sizeof(*out));
	if (!ids || !out) {
		free(ids);
		free(out);
		*n = 0;
		return NULL;
	}
	for (i = 0, total = 0; i < s->nprocs; i++)
		for (j = 0; j < s->procs[i].n; j++)
			ids[total++] = s->procs[i].bufs[j].id;
	qsort(ids, total, sizeof(*ids), u64_cmp);
	for (i = 0; i < total; i++) {
		if (m && out[m - 1].id == ids[i]) {
			out[m - 1].procs++;
			continue;
		}
		out[m].id = ids[i];
		out[m++].procs = 1;
	}
	free(ids);
	*n = m;
	return out;
}

static uint32_t lookup_holders(const struct holder_count *h, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h[mid].id == id)
			return h[mid].procs;
		if (h[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void mt_snapshot_finish(struct mt_snapshot *s, const struct mt_filter *f)
{
	struct holder_count *holders;
	size_t i, j, out = 0, nholders;

	qsort(s->procs, s->nprocs, sizeof(*s->procs), proc_cmp);
	if (s->kernel_figures) {
		/* The kernel did the sharing figures and name/exporter filters. */
		for (i = 0; i < s->nprocs; i++) {
			struct mt_proc *p = &s->procs[i];

			if (!pid_wanted(f, p->pid) || (f->has_uid && p->uid != f->uid)) {
				free(p->bufs);
				continue;
			}
			for (j = 0; j < p->n; j++)
				p->bufs[j].procs = (uint32_t)(p->bufs[j].kholders > 0 ?
							      p->bufs[j].kholders : 0);
			s->procs[out++] = *p;
		}
		s->nprocs = out;
		for (i = 0; i < s->nsys; i++)
			s->sys[i].procs = (uint32_t)s->sys[i].kholders;
		if (f->name || f->exporter) {
			for (i = 0, out = 0; i < s->nsys; i++)
				if (buf_matches(&s->sys[i], f))
					s->sys[out++] = s->sys[i];
			s->nsys = out;
		}
		return;
	}
	/*
	 * Sharing is counted over every process the caller can see, before
	 * any filter: filtering a view must not change what a buffer costs.
	 */
	holders = count_holders(s, &nholders);
	for (i = 0; i < s->nprocs; i++)
		for (j = 0; j < s->procs[i].n; j++)
			s->procs[i].bufs[j].procs =
				lookup_holders(holders, nholders, s->procs[i].bufs[j].id);
	for (i = 0; i < s->nsys; i++)
		s->sys[i].procs = lookup_holders(holders, nholders, s->sys[i].id);
	free(holders);

	for (i = 0; i < s->nprocs; i++) {
		struct mt_proc *p = &s->procs[i];
		size_t kept = 0;
		bool narrowed = f->name || f->exporter;

		if (!pid_wanted(f, p->pid) || (f->has_uid && p->uid != f->uid)) {
			free(p->bufs);
			continue;
		}
		if (narrowed) {
			p->nbufs = 0;
			p->nfds = 0;
			p->total = 0;
			p->mapped = 0;
		}
		p->pss = 0;
		p->unique = 0;
		for (j = 0; j < p->n; j++) {
			struct mt_buf *b = &p->bufs[j], key = { .id = b->id };
			struct mt_buf *sb = s->nsys ? bsearch(&key, s->sys, s->nsys,
							     sizeof(key), buf_cmp) : NULL;

			if (narrowed && !buf_matches(b, f))
				continue;
			if (sb)
				b->kholders = sb->kholders;
			p->pss += b->size / (b->procs ? b->procs : 1);
			if (b->procs == 1)
				p->unique += b->size;
			if (narrowed) {
				p->nbufs++;
				p->nfds += b->fds;
				p->total += b->size;
				p->mapped += b->mapped;
			}
			p->bufs[kept++] = *b;
		}
		p->n = kept;
		/* A narrowed view lists only processes with a match. */
		if (narrowed && !kept && !f->pids) {
			free(p->bufs);
			continue;
		}
		s->procs[out++] = *p;
	}
	s->nprocs = out;
	if (f->name || f->exporter) {
		for (i = 0, out = 0; i < s->nsys; i++)
			if (buf_matches(&s->sys[i], f))
				s->sys[out++] = s->sys[i];
		s->nsys = out;
	}
}

void mt_snapshot_free(struct mt_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nprocs; i++)
		free(s->procs[i].bufs);
	free(s->procs);
	free(s->sys);
	memset(s, 0, sizeof(*s));
}
