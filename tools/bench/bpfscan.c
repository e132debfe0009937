// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF iterator baseline of mtbench: load dmabuf_iter.bpf.o, read its
 * task_file (and task_vma) iterator, and sum what every process holds the
 * way a dma-buf tool would: distinct buffers and their bytes per process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfscan.h"

/* Must match struct dmabuf_iter_rec in dmabuf_iter.bpf.c. */
struct dmabuf_iter_rec {
	uint32_t tgid;
	uint32_t mapped;
	uint64_t ino;
	uint64_t size;
};

/* Must match struct dmabuf_proc_rec in dmabuf_iter.bpf.c. */
struct dmabuf_proc_rec {
	uint32_t tgid;
	uint32_t nr_buffers;
	uint64_t nr_fds;	/* bit 63: the kernel's table was too full */
	uint64_t bytes;
};

#define DMABUF_PROC_INEXACT	(1ull << 63)

struct bpfscan {
	struct bpf_object *obj;
	struct bpf_link *procs, *files, *vmas;
	char *buf;
	size_t len, cap;
};

/* One (process, buffer) pair seen, or one process's totals. */
struct slot {
	uint64_t key;	/* 0: empty */
	uint64_t a, b;
};

struct table {
	struct slot *slots;
	size_t mask;
};

static int table_init(struct table *t, size_t want)
{
	size_t n = 64;

	while (n < want * 2)
		n <<= 1;
	t->slots = calloc(n, sizeof(*t->slots));
	t->mask = n - 1;
	return t->slots ? 0 : -ENOMEM;
}

/* The slot of @key, claimed if new (*fresh set). */
static struct slot *table_get(struct table *t, uint64_t key, bool *fresh)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & t->mask;

	for (;; i = (i + 1) & t->mask) {
		if (t->slots[i].key == key) {
			*fresh = false;
			return &t->slots[i];
		}
		if (!t->slots[i].key) {
			t->slots[i].key = key;
			*fresh = true;
			return &t->slots[i];
		}
	}
}

/* libbpf's messages: warnings and errors, all with MTBENCH_BPF_DEBUG. */
static int bpfscan_print(enum libbpf_print_level level, const char *fmt,
			 va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("MTBENCH_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int bpfscan_open(struct bpfscan **out, const char *path)
{
	struct bpfscan *s = calloc(1, sizeof(*s));
	struct bpf_program *prog;
	int err;

	if (!s)
		return -ENOMEM;
	libbpf_set_print(bpfscan_print);
	s->obj = bpf_object__open_file(path, NULL);
	err = (int)libbpf_get_error(s->obj);
	if (err) {
		s->obj = NULL;
		goto fail;
	}
	err = bpf_object__load(s->obj);
	if (err)
		goto fail;
	prog = bpf_object__find_program_by_name(s->obj, "dmabuf_procs");
	s->procs = prog ? bpf_program__attach_iter(prog, NULL) : NULL;
	prog = bpf_object__find_program_by_name(s->obj, "dmabuf_files");
	s->files = prog ? bpf_program__attach_iter(prog, NULL) : NULL;
	prog = bpf_object__find_program_by_name(s->obj, "dmabuf_vmas");
	s->vmas = prog ? bpf_program__attach_iter(prog, NULL) : NULL;
	if (!s->procs || !s->files || !s->vmas) {
		err = errno ? -errno : -ENOENT;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	bpfscan_close(s);
	return err;
}

static const char *const link_names[] = { "procs", "files", "vmas" };

static struct bpf_link **link_slot(struct bpfscan *s, unsigned int i)
{
	return i == 0 ? &s->procs : i == 1 ? &s->files : &s->vmas;
}

int bpfscan_open_pinned(struct bpfscan **out, const char *dir)
{
	struct bpfscan *s = calloc(1, sizeof(*s));
	char path[256];
	unsigned int i;

	if (!s)
		return -ENOMEM;
	libbpf_set_print(bpfscan_print);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, link_names[i]);
		*link_slot(s, i) = bpf_link__open(path);
		if (!*link_slot(s, i)) {
			int err = errno ? -errno : -ENOENT;

			bpfscan_close(s);
			return err;
		}
	}
	*out = s;
	return 0;
}

int bpfscan_pin(struct bpfscan *s, const char *dir, bool pin)
{
	char path[256];
	unsigned int i;
	int err = 0;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, link_names[i]);
		if (pin)
			err = bpf_link__pin(*link_slot(s, i), path);
		else
			bpf_link__unpin(*link_slot(s, i));
		if (err)
			return err;
	}
	return 0;
}

void bpfscan_close(struct bpfscan *s)
{
	if (!s)
		return;
	bpf_link__destroy(s->procs);
	bpf_link__destroy(s->files);
	bpf_link__destroy(s->vmas);
	bpf_object__close(s->obj);
	free(s->buf);
	free(s);
}

/* Append everything one iterator emits to s->buf. */
static int read_iter(struct bpfscan *s, struct bpf_link *link)
{
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t n;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (s->cap - s->len < 65536) {
			size_t cap = s->cap ? s->cap * 2 : 1 << 20;
			char *buf = realloc(s->buf, cap);

			if (!buf) {
				close(fd);
				return -ENOMEM;
			}
			s->buf = buf;
			s->cap = cap;
		}
		n = read(fd, s->buf + s->len, s->cap - s->len);
		/* EAGAIN: a million objects shown and nothing written yet. */
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		s->len += (size_t)n;
	}
	close(fd);
	return 0;
}

long bpfscan_read(struct bpfscan *s, bool mapped)
{
	int err;

	s->len = 0;
	err = read_iter(s, mapped ? s->files : s->procs);
	if (!err && mapped)
		err = read_iter(s, s->vmas);
	return err ? err : (long)s->len;
}

/* One "pid buffers bytes" line per process of @procs (keyed by pid + 1). */
static void print_procs(const struct table *procs, FILE *out)
{
	size_t i;

	for (i = 0; i <= procs->mask; i++)
		if (procs->slots[i].key)
			fprintf(out, "%llu %llu %llu\n",
				(unsigned long long)procs->slots[i].key - 1,
				(unsigned long long)procs->slots[i].a,
				(unsigned long long)procs->slots[i].b);
}

/*
 * The fds alone, summed per process in the kernel: one record per
 * process (per table, for a process whose threads have tables of their
 * own, merged here by pid).
 */
static int sum_procs(struct bpfscan *s, struct bpfscan_result *res, FILE *out)
{
	const struct dmabuf_proc_rec *r;
	struct table procs;
	size_t i, nr;
	int err = read_iter(s, s->procs);

	if (err)
		return err;
	r = (const struct dmabuf_proc_rec *)s->buf;
	nr = s->len / sizeof(*r);
	if (table_init(&procs, nr))
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		struct slot *proc;
		bool fresh;

		if (r[i].nr_fds & DMABUF_PROC_INEXACT)
			err = -ERANGE;
		proc = table_get(&procs, (uint64_t)r[i].tgid + 1, &fresh);
		res->procs += fresh;
		res->fds += (long)(r[i].nr_fds & ~DMABUF_PROC_INEXACT);
		res->pairs += r[i].nr_buffers;
		proc->a += r[i].nr_buffers;
		proc->b += r[i].bytes;
	}
	if (out)
		print_procs(&procs, out);
	free(procs.slots);
	return err;
}

int bpfscan_run(struct bpfscan *s, bool mapped, struct bpfscan_result *res,
		FILE *out)
{
	const struct dmabuf_iter_rec *r;
	struct table pairs, procs;
	size_t i, nr, runs;
	int err;

	memset(res, 0, sizeof(*res));
	s->len = 0;
	if (!mapped)
		return sum_procs(s, res, out);
	err = read_iter(s, s->files);
	if (!err)
		err = read_iter(s, s->vmas);
	if (err)
		return err;
	r = (const struct dmabuf_iter_rec *)s->buf;
	nr = s->len / sizeof(*r);
	/* Records come task by task: the runs of a pid bound the processes. */
	for (i = 0, runs = 0; i < nr; i++)
		runs += !i || r[i].tgid != r[i - 1].tgid;
	if (table_init(&pairs, nr) || table_init(&procs, runs)) {
		free(pairs.slots);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		/*
		 * The pid in the high half and the inode's low 32 bits: exact
		 * while the dma-buf inode counter stays below 2^32 on one boot.
		 */
		uint64_t key = (uint64_t)r[i].tgid << 32 | (uint32_t)r[i].ino;
		struct slot *proc;
		bool fresh, pfresh;

		if (!r[i].mapped)
			res->fds++;
		else
			res->mappings++;
		table_get(&pairs, key, &fresh);
		proc = table_get(&procs, (uint64_t)r[i].tgid + 1, &pfresh);
		if (pfresh)
			res->procs++;
		if (fresh) {
			proc->a++;		/* distinct buffers */
			proc->b += r[i].size;	/* their bytes */
			res->pairs++;
		}
	}
	if (out)
		print_procs(&procs, out);
	free(pairs.slots);
	free(procs.slots);
	return 0;
}
