// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat output: aligned human tables with IEC sizes, or JSON with raw
 * integers, both from one description of each view's columns and one
 * printing call per field (print.h).
 */
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "mtstat.h"
#include "print.h"

const char *mt_size_str(uint64_t v, bool bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	if (bytes) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Columns                                                             */

enum col_id {
	/* processes */
	C_PID, C_COMM, C_BUFS, C_FDS, C_TOTAL, C_PSS, C_UNIQUE, C_MAPPED, C_HWM,
	/* buffers */
	C_ID, C_SIZE, C_EXPORTER, C_NAME, C_BFDS, C_HANDLES, C_BMAPPED, C_HOLDERS,
};

/*
 * A column: its name for -o and -s, its JSON key, its text header, width
 * (negative: left-aligned) and the separator before it (unless first).
 */
struct col {
	enum col_id id;
	const char *name;
	const char *json;
	const char *head;
	int width;
	const char *sep;
};

static const struct col proc_cols[] = {
	{ C_PID, "pid", "pid", "PID", 7, "" },
	{ C_COMM, "comm", "comm", "COMM", -16, "  " },
	{ C_BUFS, "bufs", "nr_buffers", "BUFS", 5, " " },
	{ C_FDS, "fds", "nr_fds", "FDS", 5, " " },
	{ C_TOTAL, "total", "total", "TOTAL", 11, " " },
	{ C_PSS, "pss", "pss", "PSS", 11, " " },
	{ C_UNIQUE, "unique", "unique", "UNIQUE", 11, " " },
	{ C_MAPPED, "mapped", "mapped", "MAPPED", 11, " " },
	{ C_HWM, "hwm", "hwm", "HWM", 11, " " },
};

/* A process's buffers (-p): the holding side included. */
static const struct col pbuf_cols[] = {
	{ C_ID, "id", "id", "ID", 10, "" },
	{ C_SIZE, "size", "size", "SIZE", 11, " " },
	{ C_EXPORTER, "exporter", "exporter", "EXPORTER", -12, "  " },
	{ C_NAME, "name", "name", "NAME", -20, " " },
	{ C_BFDS, "fds", "fds", "FDS", 4, " " },
	{ C_HANDLES, "handles", "handles", "HANDLES", 7, " " },
	{ C_BMAPPED, "mapped", "mapped", "MAPPED", 11, " " },
	{ C_HOLDERS, "holders", "holders", "HOLDERS", 7, " " },
};

/* The system's buffers (-b). */
static const struct col sbuf_cols[] = {
	{ C_ID, "id", "id", "ID", 10, "" },
	{ C_SIZE, "size", "size", "SIZE", 11, " " },
	{ C_EXPORTER, "exporter", "exporter", "EXPORTER", -12, "  " },
	{ C_NAME, "name", "name", "NAME", -20, " " },
	{ C_HOLDERS, "holders", "holders", "HOLDERS", 7, " " },
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static const struct col *view_cols(enum mt_view v, size_t *n)
{
	switch (v) {
	case MT_VIEW_PIDS:
		*n = NCOLS(pbuf_cols);
		return pbuf_cols;
	case MT_VIEW_BUFFERS:
		*n = NCOLS(sbuf_cols);
		return sbuf_cols;
	default:
		*n = NCOLS(proc_cols);
		return proc_cols;
	}
}

static const struct col *col_find(enum mt_view v, const char *name, size_t len)
{
	const struct col *c;
	size_t i, n;

	c = view_cols(v, &n);
	/* "tag" is the first revision's name of the name column. */
	if (len == 3 && !strncmp(name, "tag", 3)) {
		name = "name";
		len = 4;
	}
	for (i = 0; i < n; i++)
		if (strlen(c[i].name) == len && !strncmp(c[i].name, name, len))
			return &c[i];
	return NULL;
}

bool mt_sort_field_valid(const char *field, enum mt_view v)
{
	if (*field == '-')
		field++;
	return col_find(v, field, strlen(field)) != NULL;
}

int mt_columns_parse(const char *list, enum mt_view v, struct mt_output *o,
		     char *err, size_t errlen)
{
	const char *p = list;

	o->ncols = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		const struct col *c = col_find(v, p, len);

		if (!c) {
			snprintf(err, errlen, "no column '%.*s' in this view", (int)len, p);
			return -1;
		}
		if (o->ncols == MT_MAX_COLS) {
			snprintf(err, errlen, "too many columns");
			return -1;
		}
		o->cols[o->ncols++] = (int)(c - view_cols(v, &(size_t){ 0 }));
		p += len;
		if (*p == ',')
			p++;
	}
	if (!o->ncols) {
		snprintf(err, errlen, "-o needs at least one column");
		return -1;
	}
	return 0;
}

/* The columns to print in text: -o's, or all of the view's. */
static size_t text_cols(enum mt_view v, const struct mt_output *o,
			const struct col **out)
{
	const struct col *all;
	size_t i, n;

	all = view_cols(v, &n);
	if (!o->ncols) {
		for (i = 0; i < n; i++)
			out[i] = &all[i];
		return n;
	}
	for (i = 0; i < o->ncols; i++)
		out[i] = &all[o->cols[i]];
	return o->ncols;
}

/* The text format of column @c for conversion @conv. */
static const char *cell_fmt(char *buf, size_t len, const struct col *c,
			    bool first, const char *conv)
{
	snprintf(buf, len, "%s%%%s%d%s", first ? "" : c->sep,
		 c->width < 0 ? "-" : "", c->width < 0 ? -c->width : c->width,
		 conv);
	return buf;
}

static void put_u(struct pr *p, const struct col *c, bool first, uint64_t v)
{
	char f[32];

	pr_uint(p, PR_ANY, c->json,
		p->json ? NULL : cell_fmt(f, sizeof(f), c, first, PRIu64), v);
}

static void put_s(struct pr *p, const struct col *c, bool first, const char *v)
{
	char f[32];

	pr_string(p, PR_ANY, c->json,
		  p->json ? NULL : cell_fmt(f, sizeof(f), c, first, "s"), v);
}

/* A size: IEC text (or raw with --bytes), a raw integer in JSON. */
static void put_size(struct pr *p, const struct col *c, bool first, uint64_t v,
		     const struct mt_output *o)
{
	char f[32], s[32];

	/* The text alone needs the IEC string, and its printf of a double. */
	if (!p->json)
		pr_string(p, PR_TEXT, NULL, cell_fmt(f, sizeof(f), c, first, "s"),
			  mt_size_str(v, o->bytes, s, sizeof(s)));
	pr_uint(p, PR_JSON, c->json, NULL, v);
}

static void put_header(struct pr *p, const struct col **cols, size_t n,
		       const struct mt_output *o)
{
	char f[32];
	size_t i;

	if (o->no_headers)
		return;
	for (i = 0; i < n; i++)
		pr_string(p, PR_TEXT, NULL, cell_fmt(f, sizeof(f), cols[i], !i, "s"),
			  cols[i]->head);
	pr_text(p, "\n");
}

/* ------------------------------------------------------------------ */
/* Sorting                                                             */

static enum col_id sort_col;
static int sort_dir;	/* 1, or -1 for -r and "-FIELD" */

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a > b ? -1 : a < b;
}

static int cmp_u64_asc(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int proc_cmp(const void *a, const void *b)
{
	const struct mt_proc *x = a, *y = b;
	int r;

	switch (sort_col) {
	case C_PID: r = cmp_u64_asc(x->pid, y->pid); break;
	case C_COMM: r = strcmp(x->comm, y->comm); break;
	case C_BUFS: r = cmp_u64_desc(x->nbufs, y->nbufs); break;
	case C_FDS: r = cmp_u64_desc(x->nfds, y->nfds); break;
	case C_PSS: r = cmp_u64_desc(x->pss, y->pss); break;
	case C_UNIQUE: r = cmp_u64_desc(x->unique, y->unique); break;
	case C_MAPPED: r = cmp_u64_desc(x->mapped, y->mapped); break;
	case C_HWM: r = cmp_u64_desc(x->hwm, y->hwm); break;
	default: r = cmp_u64_desc(x->total, y->total); break;
	}
	return sort_dir * (r ? r : cmp_u64_asc(x->pid, y->pid));
}

static int buf_cmp(const void *a, const void *b)
{
	const struct mt_buf *x = a, *y = b;
	int r;

	switch (sort_col) {
	case C_ID: r = cmp_u64_asc(x->id, y->id); break;
	case C_EXPORTER: r = strcmp(x->exporter, y->exporter); break;
	case C_NAME: r = strcmp(x->name, y->name); break;
	case C_HOLDERS: r = cmp_u64_desc(x->procs, y->procs); break;
	case C_BFDS: r = cmp_u64_desc(x->fds, y->fds); break;
	case C_HANDLES: r = cmp_u64_desc(x->handles, y->handles); break;
	case C_BMAPPED: r = cmp_u64_desc(x->mapped, y->mapped); break;
	default: r = cmp_u64_desc(x->size, y->size); break;
	}
	return sort_dir * (r ? r : cmp_u64_asc(x->id, y->id));
}

/* Set the sort of view @v from -s (default @def) and -r. */
static void sort_setup(enum mt_view v, const struct mt_output *o,
		       const char *def)
{
	const char *key = o->sort ? o->sort : def;
	const struct col *c;

	sort_dir = o->reverse ? -1 : 1;
	if (*key == '-') {
		sort_dir = -sort_dir;
		key++;
	}
	c = col_find(v, key, strlen(key));
	if (!c)
		c = col_find(v, def, strlen(def));
	sort_col = c->id;
}

/* Rows to print: all, or the first -n. */
static size_t row_limit(size_t n, const struct mt_output *o)
{
	return o->top && o->top < n ? o->top : n;
}

/* ------------------------------------------------------------------ */
/* Groups (--by-name, --by-exporter)                                    */

/*
 * A group of a process's buffers.  Names are bytes, and JSON and the
 * Prometheus format carry them as valid UTF-8: buffers are grouped by
 * that form, so that two names that read the same there are one group
 * (one JSON key, one series), not two.
 */
struct group {
	char key[3 * sizeof(((struct mt_buf *)0)->name) + 1];	/* valid UTF-8 */
	const char *raw;	/* the first buffer's own name, for text */
	size_t first;		/* index of its first buffer: groups keep that order */
	uint32_t bufs;
	uint64_t bytes;
};

static int group_key_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	return r ? r : x->first < y->first ? -1 : x->first > y->first;
}

static int group_first_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * The buffers of @p by name or exporter, in the order of each group's
 * first buffer: as many groups as it takes (by name, that may be one per
 * buffer).  *@out receives them, to free; returns their number, or -1 out
 * of memory.
 */
static ssize_t group_bufs(const struct mt_proc *p, bool by_name,
			  struct group **out)
{
	struct group *g = calloc(p->n ? p->n : 1, sizeof(*g));
	size_t i, n = 0;

	if (!g)
		return -1;
	/* One entry per buffer, sorted by key; then runs of a key merged. */
	for (i = 0; i < p->n; i++) {
		const char *raw = by_name ? p->bufs[i].name : p->bufs[i].exporter;

		g[i].raw = *raw ? raw : "-";
		mt_utf8_repair(g[i].raw, g[i].key, sizeof(g[i].key));
		g[i].first = i;
		g[i].bufs = 1;
		g[i].bytes = p->bufs[i].size;
	}
	qsort(g, p->n, sizeof(*g), group_key_cmp);
	for (i = 0; i < p->n; i++) {
		if (n && !strcmp(g[i].key, g[n - 1].key)) {
			g[n - 1].bufs++;
			g[n - 1].bytes += g[i].bytes;
		} else if (n++ != i) {
			g[n - 1] = g[i];
		}
	}
	qsort(g, n, sizeof(*g), group_first_cmp);
	*out = g;
	return (ssize_t)n;
}

/* A process's buffers by name or exporter: indented rows, or an object.
 * 0, or -1 out of memory. */
static int put_groups(struct pr *p, const struct mt_proc *proc,
		      const struct mt_output *o)
{
	struct group *g;
	ssize_t j, ng;
	char s[32];

	if (!o->by_name && !o->by_exporter)
		return 0;
	ng = group_bufs(proc, o->by_name, &g);
	if (ng < 0)
		return -1;
	pr_open_object(p, o->by_name ? "by_name" : "by_exporter");
	for (j = 0; j < ng; j++) {
		pr_open_object(p, g[j].key);
		pr_string(p, PR_TEXT, NULL, "%7s    ", "");
		pr_string(p, PR_TEXT, NULL, "%-14s", g[j].raw);
		pr_uint(p, PR_ANY, "nr_buffers", " %5" PRIu64, g[j].bufs);
		pr_string(p, PR_TEXT, NULL, " %5s ", "");
		pr_string(p, PR_TEXT, NULL, "%11s\n",
			  mt_size_str(g[j].bytes, o->bytes, s, sizeof(s)));
		pr_uint(p, PR_JSON, "bytes", NULL, g[j].bytes);
		pr_close_object(p);
	}
	pr_close_object(p);
	free(g);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Views                                                               */

/* The summary's figures: buffers held by the processes shown, each once,
 * and the system's. */
struct summary {
	uint64_t held, nheld;		/* distinct buffers of the processes */
	uint64_t all, nall;		/* every buffer (has_system) */
	uint64_t konly, nkonly;		/* those no process holds */
};

struct id_size {
	uint64_t id;
	uint64_t size;
};

static int id_size_cmp(const void *a, const void *b)
{
	const struct id_size *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* 0, or -1 out of memory. */
static int system_summary(const struct mt_snapshot *s, struct summary *sum)
{
	struct id_size *ids;
	size_t i, j, n = 0, total = 0;

	*sum = (struct summary){ 0 };
	if (s->held_from_system) {
		/* Every process was read, without buffers: theirs are these. */
		for (i = 0; i < s->nsys; i++) {
			if (s->sys[i].kholders <= 0)
				continue;
			sum->held += s->sys[i].size;
			sum->nheld++;
		}
	}
	for (i = 0; i < s->nprocs && !s->held_from_system; i++)
		total += s->procs[i].n;
	ids = calloc(total ? total : 1, sizeof(*ids));
	if (!ids)
		return -1;
	for (i = 0; i < s->nprocs && !s->held_from_system; i++)
		for (j = 0; j < s->procs[i].n; j++)
			ids[n++] = (struct id_size){ s->procs[i].bufs[j].id,
						     s->procs[i].bufs[j].size };
	/* Each buffer once, however many processes hold it. */
	qsort(ids, n, sizeof(*ids), id_size_cmp);
	for (i = 0; i < n && !s->held_from_system; i++) {
		if (i && ids[i].id == ids[i - 1].id)
			continue;
		sum->held += ids[i].size;
		sum->nheld++;
	}
	free(ids);
	for (i = 0; i < s->nsys; i++) {
		sum->all += s->sys[i].size;
		sum->nall++;
		if (s->sys[i].kholders == 0) {
			sum->konly += s->sys[i].size;
			sum->nkonly++;
		}
	}
	return 0;
}

static void put_proc_cell(struct pr *p, const struct col *c, bool first,
			  const struct mt_proc *proc,
			  const struct mt_snapshot *s,
			  const struct mt_output *o)
{
	char f[32];

	switch (c->id) {
	case C_PID: put_u(p, c, first, proc->pid); break;
	case C_COMM: put_s(p, c, first, proc->comm); break;
	case C_BUFS: put_u(p, c, first, proc->nbufs); break;
	case C_FDS: put_u(p, c, first, proc->nfds); break;
	case C_TOTAL: put_size(p, c, first, proc->total, o); break;
	case C_PSS: put_size(p, c, first, proc->pss, o); break;
	case C_UNIQUE: put_size(p, c, first, proc->unique, o); break;
	case C_MAPPED: put_size(p, c, first, proc->mapped, o); break;
	case C_HWM:
		/* Only the kernel keeps high-water marks. */
		if (s->kernel_figures)
			put_size(p, c, first, proc->hwm, o);
		else
			pr_null(p, PR_ANY, c->json,
				cell_fmt(f, sizeof(f), c, first, "s"), "-");
		break;
	default:
		break;
	}
}

/* Every field of a process, in JSON, whatever -o chose for text. */
static void put_proc_fields(struct pr *p, const struct mt_proc *proc,
			    const struct mt_snapshot *s,
			    const struct mt_output *o)
{
	const struct col *cols[MT_MAX_COLS];
	size_t i, n;

	if (p->json) {
		for (i = 0; i < NCOLS(proc_cols); i++)
			put_proc_cell(p, &proc_cols[i], !i, proc, s, o);
		pr_bool(p, PR_JSON, "incomplete", NULL, proc->incomplete);
		return;
	}
	n = text_cols(MT_VIEW_PROCESSES, o, cols);
	for (i = 0; i < n; i++)
		put_proc_cell(p, cols[i], !i, proc, s, o);
	pr_text(p, "%s\n", proc->incomplete ? "  (incomplete)" : "");
}

static void put_summary(struct pr *p, const struct mt_snapshot *s,
			const struct summary *sum, const struct mt_output *o)
{
	char a[32], b[32], c[32];

	if (o->no_headers && !p->json)
		return;
	pr_open_object(p, "summary");
	pr_uint(p, PR_JSON, "held_buffers", NULL, sum->nheld);
	pr_uint(p, PR_JSON, "held_bytes", NULL, sum->held);
	pr_text(p, "\n%" PRIu64 " buffers, %s held by the processes shown\n",
		sum->nheld, mt_size_str(sum->held, o->bytes, a, sizeof(a)));
	if (s->has_system) {
		pr_uint(p, PR_JSON, "all_buffers", NULL, sum->nall);
		pr_uint(p, PR_JSON, "all_bytes", NULL, sum->all);
		pr_uint(p, PR_JSON, "kernel_only_buffers", NULL, sum->nkonly);
		pr_uint(p, PR_JSON, "kernel_only_bytes", NULL, sum->konly);
		pr_text(p, "%" PRIu64 " buffers, %s in the system; %" PRIu64
			" kernel-only, %s\n", sum->nall,
			mt_size_str(sum->all, o->bytes, b, sizeof(b)), sum->nkonly,
			mt_size_str(sum->konly, o->bytes, c, sizeof(c)));
	}
	pr_close_object(p);
}

static void put_doc_start(struct pr *p, const struct mt_snapshot *s)
{
	pr_open_object(p, NULL);
	pr_string(p, PR_JSON, "source", NULL, s->source);
	pr_uint(p, PR_JSON, "generation", NULL, s->generation);
}

int mt_print_processes(FILE *out, const struct mt_snapshot *s,
		       const struct mt_output *o)
{
	struct mt_proc *procs = malloc((s->nprocs ? s->nprocs : 1) * sizeof(*procs));
	const struct col *cols[MT_MAX_COLS];
	struct summary sum;
	size_t i, n;
	struct pr p;
	int ret = 0;

	/* Everything that can fail, before the first byte. */
	if (!procs || system_summary(s, &sum)) {
		free(procs);
		return -1;
	}
	memcpy(procs, s->procs, s->nprocs * sizeof(*procs));
	sort_setup(MT_VIEW_PROCESSES, o, "total");
	qsort(procs, s->nprocs, sizeof(*procs), proc_cmp);

	pr_init(&p, out, o->json, o->pretty);
	put_doc_start(&p, s);
	n = text_cols(MT_VIEW_PROCESSES, o, cols);
	put_header(&p, cols, n, o);
	pr_open_array(&p, "processes");
	for (i = 0; !ret && i < row_limit(s->nprocs, o); i++) {
		pr_open_object(&p, NULL);
		put_proc_fields(&p, &procs[i], s, o);
		ret = put_groups(&p, &procs[i], o);
		pr_close_object(&p);
	}
	pr_close_array(&p);
	put_summary(&p, s, &sum, o);
	pr_close_object(&p);
	pr_end(&p);
	free(procs);
	return ret;
}

static void put_buf_cell(struct pr *p, const struct col *c, bool first,
			 const struct mt_buf *b, const struct mt_output *o)
{
	char f[32], h[40], sz[32];

	switch (c->id) {
	case C_ID: put_u(p, c, first, b->id); break;
	case C_SIZE:
		if (!b->size_unknown) {
			put_size(p, c, first, b->size, o);
			break;
		}
		/* procfs saw only mappings: a lower bound, not a size. */
		snprintf(h, sizeof(h), ">=%s", mt_size_str(b->size, o->bytes, sz, sizeof(sz)));
		pr_string(p, PR_TEXT, NULL, cell_fmt(f, sizeof(f), c, first, "s"), h);
		pr_null(p, PR_JSON, c->json, NULL, NULL);
		pr_uint(p, PR_JSON, "size_at_least", NULL, b->size);
		break;
	case C_EXPORTER:
		if (b->exporter_unknown)
			pr_null(p, PR_ANY, c->json, cell_fmt(f, sizeof(f), c, first, "s"), "?");
		else
			put_s(p, c, first, b->exporter);
		break;
	case C_NAME:
		pr_string(p, PR_TEXT, NULL, cell_fmt(f, sizeof(f), c, first, "s"),
			  *b->name ? b->name : "-");
		pr_string(p, PR_JSON, c->json, NULL, b->name);
		break;
	case C_BFDS: put_u(p, c, first, b->fds); break;
	case C_HANDLES: put_u(p, c, first, b->handles); break;
	case C_BMAPPED: put_size(p, c, first, b->mapped, o); break;
	case C_HOLDERS:
		/* In the system list, "kernel": no process holds it. */
		if (b->kholders == 0)
			snprintf(h, sizeof(h), "kernel");
		else
			snprintf(h, sizeof(h), "%u", b->procs);
		pr_string(p, PR_TEXT, NULL, cell_fmt(f, sizeof(f), c, first, "s"), h);
		pr_uint(p, PR_JSON, c->json, NULL, b->procs);
		break;
	default:
		break;
	}
}

static void put_buf_row(struct pr *p, enum mt_view v, const struct mt_buf *b,
			const struct mt_output *o)
{
	const struct col *cols[MT_MAX_COLS], *all;
	size_t i, n;

	pr_open_object(p, NULL);
	if (p->json) {
		all = view_cols(v, &n);
		for (i = 0; i < n; i++)
			put_buf_cell(p, &all[i], !i, b, o);
		if (v == MT_VIEW_BUFFERS)
			pr_bool(p, PR_JSON, "kernel_only", NULL, b->kholders == 0);
	} else {
		n = text_cols(v, o, cols);
		for (i = 0; i < n; i++)
			put_buf_cell(p, cols[i], !i, b, o);
		pr_text(p, "\n");
	}
	pr_close_object(p);
}

int mt_print_pids(FILE *out, const struct mt_snapshot *s,
		  const struct mt_output *o)
{
	const struct col *cols[MT_MAX_COLS];
	char a[32], b[32], c[32], m[32], h[32], comm[sizeof(s->procs->comm)];
	size_t i, j, n, most = 1;
	struct mt_buf *bufs;
	struct pr p;
	int ret = 0;

	/* One copy to sort each process's buffers in, before any output. */
	for (i = 0; i < s->nprocs; i++)
		if (s->procs[i].n > most)
			most = s->procs[i].n;
	bufs = malloc(most * sizeof(*bufs));
	if (!bufs)
		return -1;
	pr_init(&p, out, o->json, o->pretty);
	put_doc_start(&p, s);
	pr_open_array(&p, "processes");
	for (i = 0; !ret && i < s->nprocs; i++) {
		const struct mt_proc *proc = &s->procs[i];

		memcpy(bufs, proc->bufs, proc->n * sizeof(*bufs));
		sort_setup(MT_VIEW_PIDS, o, "size");
		qsort(bufs, proc->n, sizeof(*bufs), buf_cmp);

		pr_open_object(&p, NULL);
		if (p.json) {
			put_proc_fields(&p, proc, s, o);
		} else {
			pr_text(&p, "%sPID %u (%s): %u buffers, %u fds, total %s, pss %s, unique %s, mapped %s",
				i ? "\n" : "", proc->pid,
				mt_text_safe(proc->comm, comm, sizeof(comm)),
				proc->nbufs, proc->nfds,
				mt_size_str(proc->total, o->bytes, a, sizeof(a)),
				mt_size_str(proc->pss, o->bytes, b, sizeof(b)),
				mt_size_str(proc->unique, o->bytes, c, sizeof(c)),
				mt_size_str(proc->mapped, o->bytes, m, sizeof(m)));
			if (s->kernel_figures)
				pr_text(&p, ", hwm %s",
					mt_size_str(proc->hwm, o->bytes, h, sizeof(h)));
			pr_text(&p, "%s\n", proc->incomplete ? " (incomplete)" : "");
		}
		ret = put_groups(&p, proc, o);
		n = text_cols(MT_VIEW_PIDS, o, cols);
		if (proc->n)
			put_header(&p, cols, n, o);
		pr_open_array(&p, "buffers");
		for (j = 0; j < row_limit(proc->n, o); j++)
			put_buf_row(&p, MT_VIEW_PIDS, &bufs[j], o);
		pr_close_array(&p);
		pr_close_object(&p);
	}
	pr_close_array(&p);
	pr_close_object(&p);
	pr_end(&p);
	free(bufs);
	return ret;
}

int mt_print_buffers(FILE *out, const struct mt_snapshot *s,
		     const struct mt_output *o)
{
	struct mt_buf *bufs = malloc((s->nsys ? s->nsys : 1) * sizeof(*bufs));
	const struct col *cols[MT_MAX_COLS];
	size_t i, n;
	struct pr p;

	if (!bufs)
		return -1;
	memcpy(bufs, s->sys, s->nsys * sizeof(*bufs));
	sort_setup(MT_VIEW_BUFFERS, o, "size");
	qsort(bufs, s->nsys, sizeof(*bufs), buf_cmp);

	pr_init(&p, out, o->json, o->pretty);
	put_doc_start(&p, s);
	n = text_cols(MT_VIEW_BUFFERS, o, cols);
	put_header(&p, cols, n, o);
	pr_open_array(&p, "buffers");
	for (i = 0; i < row_limit(s->nsys, o); i++)
		put_buf_row(&p, MT_VIEW_BUFFERS, &bufs[i], o);
	pr_close_array(&p);
	pr_close_object(&p);
	pr_end(&p);
	free(bufs);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Owners (--by-user, --by-cgroup)                                     */

struct owner {
	char key[256];		/* user name, or cgroup path */
	uid_t uid;
	uint32_t procs;
	uint64_t pss;
	uint64_t mapped;
	size_t nids;		/* buffers of its processes, with repeats */
	struct mt_buf **bufs;
	/* Distinct buffers and their bytes, once counted. */
	uint64_t nbufs;
	uint64_t held;
};

static int buf_ptr_cmp(const void *a, const void *b)
{
	const struct mt_buf *x = *(const struct mt_buf *const *)a;
	const struct mt_buf *y = *(const struct mt_buf *const *)b;

	return cmp_u64_asc(x->id, y->id);
}

/* Count the distinct buffers of @o (each buffer once, however many of its
 * processes hold it). */
static void owner_count(struct owner *o)
{
	size_t i;

	qsort(o->bufs, o->nids, sizeof(*o->bufs), buf_ptr_cmp);
	o->nbufs = o->held = 0;
	for (i = 0; i < o->nids; i++) {
		if (i && o->bufs[i]->id == o->bufs[i - 1]->id)
			continue;
		o->nbufs++;
		o->held += o->bufs[i]->size;
	}
}

static int owner_add_bufs(struct owner *o, const struct mt_proc *p)
{
	struct mt_buf **nb;
	size_t i;

	nb = realloc(o->bufs, (o->nids + p->n + 1) * sizeof(*nb));
	if (!nb)
		return -1;
	o->bufs = nb;
	for (i = 0; i < p->n; i++)
		o->bufs[o->nids++] = &p->bufs[i];
	return 0;
}

static void owner_key(const struct mt_proc *p, enum mt_owner by, char *key,
		      size_t len)
{
	struct passwd *pw;

	if (by == MT_BY_CGROUP) {
		mt_proc_cgroup(p->pid, key, len);
		return;
	}
	pw = p->uid == (uid_t)-1 ? NULL : getpwuid(p->uid);
	if (pw)
		snprintf(key, len, "%s", pw->pw_name);
	else
		snprintf(key, len, "%ld", p->uid == (uid_t)-1 ? -1L : (long)p->uid);
}

static int owner_cmp(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;
	int r = cmp_u64_desc(x->held, y->held);

	return r ? r : strcmp(x->key, y->key);
}

static void put_owner(struct pr *p, const struct owner *o, enum mt_owner by,
		      const char *name, const struct mt_output *out)
{
	char s1[32], s2[32], s3[32];

	pr_open_object(p, name);
	if (!name) {
		pr_string(p, PR_ANY, by == MT_BY_CGROUP ? "cgroup" : "user",
			  by == MT_BY_CGROUP ? "%-40s" : "%-16s", o->key);
		if (by == MT_BY_USER)
			pr_uint(p, PR_JSON, "uid", NULL, o->uid);
	} else {
		pr_string(p, PR_TEXT, NULL, by == MT_BY_CGROUP ? "%-40s" : "%-16s",
			  "TOTAL");
	}
	pr_uint(p, PR_ANY, "nr_processes", " %6" PRIu64, o->procs);
	pr_uint(p, PR_ANY, "nr_buffers", " %5" PRIu64, o->nbufs);
	pr_string(p, PR_TEXT, NULL, " %11s", mt_size_str(o->held, out->bytes, s1, sizeof(s1)));
	pr_uint(p, PR_JSON, "held", NULL, o->held);
	pr_string(p, PR_TEXT, NULL, " %11s", mt_size_str(o->pss, out->bytes, s2, sizeof(s2)));
	pr_uint(p, PR_JSON, "pss", NULL, o->pss);
	pr_string(p, PR_TEXT, NULL, " %11s\n", mt_size_str(o->mapped, out->bytes, s3, sizeof(s3)));
	pr_uint(p, PR_JSON, "mapped", NULL, o->mapped);
	pr_close_object(p);
}

int mt_print_owners(FILE *out, const struct mt_snapshot *s,
		    const struct mt_output *o, enum mt_owner by)
{
	struct owner *owners = calloc(s->nprocs + 1, sizeof(*owners));
	struct owner all = { .key = "TOTAL" };
	size_t i, j, n = 0;
	char key[256];
	struct pr p;
	int ret = 0;

	if (!owners)
		return -1;
	for (i = 0; i < s->nprocs; i++) {
		const struct mt_proc *proc = &s->procs[i];

		owner_key(proc, by, key, sizeof(key));
		for (j = 0; j < n && strcmp(owners[j].key, key); j++)
			;
		if (j == n) {
			snprintf(owners[n].key, sizeof(owners[n].key), "%s", key);
			owners[n].uid = proc->uid;
			n++;
		}
		owners[j].procs++;
		owners[j].pss += proc->pss;
		owners[j].mapped += proc->mapped;
		all.procs++;
		all.pss += proc->pss;
		all.mapped += proc->mapped;
		if (owner_add_bufs(&owners[j], proc) || owner_add_bufs(&all, proc)) {
			ret = -1;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		owner_count(&owners[i]);
	owner_count(&all);
	qsort(owners, n, sizeof(*owners), owner_cmp);

	pr_init(&p, out, o->json, o->pretty);
	put_doc_start(&p, s);
	if (!o->no_headers)
		pr_text(&p, by == MT_BY_CGROUP ? "%-40s %6s %5s %11s %11s %11s\n" :
			"%-16s %6s %5s %11s %11s %11s\n",
			by == MT_BY_CGROUP ? "CGROUP" : "USER", "PROCS", "BUFS",
			"HELD", "PSS", "MAPPED");
	pr_open_array(&p, by == MT_BY_CGROUP ? "cgroups" : "users");
	for (i = 0; i < row_limit(n, o); i++)
		put_owner(&p, &owners[i], by, NULL, o);
	pr_close_array(&p);
	/* Each buffer once: not the sum of the rows when owners share. */
	if (!o->no_headers || p.json)
		put_owner(&p, &all, by, "total", o);
	pr_close_object(&p);
	pr_end(&p);
out:
	for (i = 0; i < n; i++)
		free(owners[i].bufs);
	free(all.bufs);
	free(owners);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Prometheus text exposition (--prometheus)                           */

/* A label and its value, escaped and valid UTF-8 as the exposition format wants. */
static void prom_label(FILE *out, const char *name, const char *v, bool comma)
{
	fprintf(out, "%s%s=\"", comma ? "," : "", name);
	mt_prom_str(out, v);
	fputc('"', out);
}

static void prom_head(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/*
 * The labels of a process's series, as the text between the braces: to
 * free; NULL out of memory.  Resolved once per process and snapshot (a
 * user name lookup, a read of /proc/PID/cgroup) for all its series.
 */
static char *prom_proc_labels(const struct mt_proc *p)
{
	char pid[16], user[256], cgroup[256], *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return NULL;
	snprintf(pid, sizeof(pid), "%u", p->pid);
	owner_key(p, MT_BY_USER, user, sizeof(user));
	mt_proc_cgroup(p->pid, cgroup, sizeof(cgroup));
	prom_label(out, "pid", pid, false);
	prom_label(out, "comm", p->comm, true);
	prom_label(out, "user", user, true);
	prom_label(out, "cgroup", cgroup, true);
	if (ferror(out) | fclose(out)) {
		free(text);
		return NULL;
	}
	return text;
}

enum prom_field { PF_HELD, PF_PSS, PF_UNIQUE, PF_MAPPED, PF_HWM, PF_BUFS, PF_FDS, PF_INCOMPLETE };

static const struct {
	enum prom_field f;
	const char *name;
	const char *help;
} prom_proc_series[] = {
	{ PF_HELD, "memtrack_process_held_bytes",
	  "Bytes of the shared buffers a process holds, each buffer once." },
	{ PF_PSS, "memtrack_process_pss_bytes",
	  "Proportional share: each buffer's size divided by its holders." },
	{ PF_UNIQUE, "memtrack_process_unique_bytes",
	  "Bytes of the buffers no other process holds." },
	{ PF_MAPPED, "memtrack_process_mapped_bytes",
	  "Bytes of its buffers mapped into the process." },
	{ PF_HWM, "memtrack_process_hwm_bytes",
	  "High-water mark of held bytes (memtrack kernels only)." },
	{ PF_BUFS, "memtrack_process_buffers",
	  "Distinct shared buffers the process holds." },
	{ PF_FDS, "memtrack_process_fds",
	  "File descriptors of the process that refer to shared buffers." },
	{ PF_INCOMPLETE, "memtrack_process_incomplete",
	  "1 when the process's figures may miss buffers." },
};

static uint64_t prom_value(const struct mt_proc *p, enum prom_field f)
{
	switch (f) {
	case PF_HELD: return p->total;
	case PF_PSS: return p->pss;
	case PF_UNIQUE: return p->unique;
	case PF_MAPPED: return p->mapped;
	case PF_HWM: return p->hwm;
	case PF_BUFS: return p->nbufs;
	case PF_FDS: return p->nfds;
	case PF_INCOMPLETE: return p->incomplete;
	}
	return 0;
}

int mt_print_prometheus(FILE *out, const struct mt_snapshot *s,
			const struct mt_output *o)
{
	char **labels = calloc(s->nprocs ? s->nprocs : 1, sizeof(*labels));
	struct summary sum;
	size_t i, k;
	ssize_t j, ng;
	int ret = -1;

	/* Everything that can fail, but the groups, before the first byte. */
	if (!labels || system_summary(s, &sum))
		goto out;
	for (i = 0; i < s->nprocs; i++)
		if (!(labels[i] = prom_proc_labels(&s->procs[i])))
			goto out;
	for (k = 0; k < sizeof(prom_proc_series) / sizeof(prom_proc_series[0]); k++) {
		if (prom_proc_series[k].f == PF_HWM && !s->kernel_figures)
			continue;
		prom_head(out, prom_proc_series[k].name, prom_proc_series[k].help);
		for (i = 0; i < s->nprocs; i++)
			fprintf(out, "%s{%s} %" PRIu64 "\n", prom_proc_series[k].name,
				labels[i], prom_value(&s->procs[i], prom_proc_series[k].f));
	}
	if (o->by_name || o->by_exporter) {
		const char *name = o->by_name ? "memtrack_process_name_bytes" :
					       "memtrack_process_exporter_bytes";

		prom_head(out, name, o->by_name ?
			  "Bytes a process holds in buffers of one name (the dma-buf name)." :
			  "Bytes a process holds in buffers of one exporter.");
		for (i = 0; i < s->nprocs; i++) {
			struct group *g;

			ng = group_bufs(&s->procs[i], o->by_name, &g);
			if (ng < 0)
				goto out;
			for (j = 0; j < ng; j++) {
				fprintf(out, "%s{%s", name, labels[i]);
				prom_label(out, o->by_name ? "name" : "exporter", g[j].key, true);
				fprintf(out, "} %" PRIu64 "\n", g[j].bytes);
			}
			free(g);
		}
	}
	prom_head(out, "memtrack_held_bytes",
		  "Bytes of the distinct buffers the processes shown hold.");
	fprintf(out, "memtrack_held_bytes %" PRIu64 "\n", sum.held);
	prom_head(out, "memtrack_held_buffers",
		  "Distinct buffers the processes shown hold.");
	fprintf(out, "memtrack_held_buffers %" PRIu64 "\n", sum.nheld);
	if (s->has_system) {
		prom_head(out, "memtrack_buffers", "Shared buffers in the system.");
		fprintf(out, "memtrack_buffers %" PRIu64 "\n", sum.nall);
		prom_head(out, "memtrack_bytes", "Bytes of the shared buffers in the system.");
		fprintf(out, "memtrack_bytes %" PRIu64 "\n", sum.all);
		prom_head(out, "memtrack_kernel_only_bytes",
			  "Bytes of the buffers no process holds (kept by the kernel).");
		fprintf(out, "memtrack_kernel_only_bytes %" PRIu64 "\n", sum.konly);
		prom_head(out, "memtrack_kernel_only_buffers",
			  "Buffers no process holds (kept by the kernel).");
		fprintf(out, "memtrack_kernel_only_buffers %" PRIu64 "\n", sum.nkonly);
	}
	prom_head(out, "memtrack_info", "The source of the figures (1).");
	fprintf(out, "memtrack_info{");
	prom_label(out, "source", s->source, false);
	fprintf(out, "} 1\n");
	ret = 0;
out:
	for (i = 0; labels && i < s->nprocs; i++)
		free(labels[i]);
	free(labels);
	return ret;
}
