// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat output: aligned human tables with IEC sizes, or JSON with raw
 * integers.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mtstat.h"

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

void mt_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* ------------------------------------------------------------------ */
/* Sorting                                                             */

static const char *const proc_fields[] = {
	"pid", "comm", "bufs", "fds", "total", "pss", "unique", "mapped", NULL
};
static const char *const buf_fields[] = {
	"id", "size", "exporter", "tag", "holders", "mapped", NULL
};

bool mt_sort_field_valid(const char *field, bool buffers)
{
	const char *const *f;

	for (f = buffers ? buf_fields : proc_fields; *f; f++)
		if (!strcmp(*f, field))
			return true;
	return false;
}

static const char *sort_key;

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a > b ? -1 : a < b;
}

static int proc_cmp(const void *a, const void *b)
{
	const struct mt_proc *x = a, *y = b;
	int r = 0;

	if (!strcmp(sort_key, "pid"))
		return x->pid < y->pid ? -1 : x->pid > y->pid;
	if (!strcmp(sort_key, "comm"))
		r = strcmp(x->comm, y->comm);
	else if (!strcmp(sort_key, "bufs"))
		r = cmp_u64_desc(x->nbufs, y->nbufs);
	else if (!strcmp(sort_key, "fds"))
		r = cmp_u64_desc(x->nfds, y->nfds);
	else if (!strcmp(sort_key, "pss"))
		r = cmp_u64_desc(x->pss, y->pss);
	else if (!strcmp(sort_key, "unique"))
		r = cmp_u64_desc(x->unique, y->unique);
	else if (!strcmp(sort_key, "mapped"))
		r = cmp_u64_desc(x->mapped, y->mapped);
	else
		r = cmp_u64_desc(x->total, y->total);
	return r ? r : (x->pid < y->pid ? -1 : x->pid > y->pid);
}

static int buf_cmp(const void *a, const void *b)
{
	const struct mt_buf *x = a, *y = b;
	int r = 0;

	if (!strcmp(sort_key, "id"))
		return x->id < y->id ? -1 : x->id > y->id;
	if (!strcmp(sort_key, "exporter"))
		r = strcmp(x->exporter, y->exporter);
	else if (!strcmp(sort_key, "tag"))
		r = strcmp(x->name, y->name);
	else if (!strcmp(sort_key, "holders"))
		r = cmp_u64_desc(x->procs, y->procs);
	else if (!strcmp(sort_key, "mapped"))
		r = cmp_u64_desc(x->mapped, y->mapped);
	else
		r = cmp_u64_desc(x->size, y->size);
	return r ? r : (x->id < y->id ? -1 : x->id > y->id);
}

/* ------------------------------------------------------------------ */
/* Groups (--by-tag, --by-exporter)                                    */

struct group {
	const char *key;
	uint32_t bufs;
	uint64_t bytes;
};

static size_t group_bufs(const struct mt_proc *p, bool by_tag,
			 struct group *g, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < p->n; i++) {
		const char *key = by_tag ? p->bufs[i].name : p->bufs[i].exporter;

		if (!*key)
			key = "-";
		for (j = 0; j < n && strcmp(g[j].key, key); j++)
			;
		if (j == n) {
			if (n == max)
				continue;
			g[n].key = key;
			g[n].bufs = 0;
			g[n].bytes = 0;
			n++;
		}
		g[j].bufs++;
		g[j].bytes += p->bufs[i].size;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Views                                                               */

static void system_summary(const struct mt_snapshot *s, uint64_t *held,
			   uint64_t *nheld, uint64_t *all, uint64_t *nall,
			   uint64_t *kernel_only, uint64_t *nkernel)
{
	size_t i, j;
	uint64_t *ids;
	size_t n = 0, total = 0;

	*held = *nheld = *all = *nall = *kernel_only = *nkernel = 0;
	for (i = 0; i < s->nprocs; i++)
		total += s->procs[i].n;
	ids = calloc(total ? total : 1, sizeof(*ids));
	for (i = 0; ids && i < s->nprocs; i++)
		for (j = 0; j < s->procs[i].n; j++) {
			const struct mt_buf *b = &s->procs[i].bufs[j];
			size_t k;

			for (k = 0; k < n && ids[k] != b->id; k++)
				;
			if (k < n)
				continue;
			ids[n++] = b->id;
			*held += b->size;
			(*nheld)++;
		}
	free(ids);
	for (i = 0; i < s->nsys; i++) {
		*all += s->sys[i].size;
		(*nall)++;
		if (s->sys[i].kholders == 0) {
			*kernel_only += s->sys[i].size;
			(*nkernel)++;
		}
	}
}

void mt_print_processes(FILE *out, const struct mt_snapshot *s,
			const struct mt_output *o)
{
	uint64_t held, nheld, all, nall, konly, nkonly;
	struct mt_proc *procs = malloc((s->nprocs ? s->nprocs : 1) * sizeof(*procs));
	char a[32], b[32], c[32], d[32], e[32];
	struct group g[64];
	size_t i, j, ng;

	if (!procs)
		return;
	memcpy(procs, s->procs, s->nprocs * sizeof(*procs));
	sort_key = o->sort ? o->sort : "total";
	qsort(procs, s->nprocs, sizeof(*procs), proc_cmp);
	system_summary(s, &held, &nheld, &all, &nall, &konly, &nkonly);

	if (o->json) {
		fprintf(out, "{\"source\":\"%s\",\"generation\":%" PRIu64 ",\"processes\":[",
			s->source, s->generation);
		for (i = 0; i < s->nprocs; i++) {
			const struct mt_proc *p = &procs[i];

			fprintf(out, "%s{\"pid\":%u,\"comm\":", i ? "," : "", p->pid);
			mt_json_str(out, p->comm);
			fprintf(out, ",\"buffers\":%u,\"fds\":%u,\"total\":%" PRIu64
				",\"pss\":%" PRIu64 ",\"unique\":%" PRIu64 ",\"mapped\":%" PRIu64
				",\"incomplete\":%s",
				p->nbufs, p->nfds, p->total, p->pss, p->unique, p->mapped,
				p->incomplete ? "true" : "false");
			if (s->kernel_figures)
				fprintf(out, ",\"hwm\":%" PRIu64, p->hwm);
			if (o->by_tag || o->by_exporter) {
				ng = group_bufs(p, o->by_tag, g, 64);
				fprintf(out, ",\"%s\":{", o->by_tag ? "by_tag" : "by_exporter");
				for (j = 0; j < ng; j++) {
					fprintf(out, "%s", j ? "," : "");
					mt_json_str(out, g[j].key);
					fprintf(out, ":{\"buffers\":%u,\"bytes\":%" PRIu64 "}",
						g[j].bufs, g[j].bytes);
				}
				fputc('}', out);
			}
			fputc('}', out);
		}
		fprintf(out, "],\"summary\":{\"held_buffers\":%" PRIu64
			",\"held_bytes\":%" PRIu64, nheld, held);
		if (s->has_system)
			fprintf(out, ",\"all_buffers\":%" PRIu64 ",\"all_bytes\":%" PRIu64
				",\"kernel_only_buffers\":%" PRIu64
				",\"kernel_only_bytes\":%" PRIu64, nall, all, nkonly, konly);
		fprintf(out, "}}\n");
		free(procs);
		return;
	}

	fprintf(out, "%7s  %-16s %5s %5s %11s %11s %11s %11s %11s\n",
		"PID", "COMM", "BUFS", "FDS", "TOTAL", "PSS", "UNIQUE", "MAPPED", "HWM");
	for (i = 0; i < s->nprocs; i++) {
		const struct mt_proc *p = &procs[i];

		fprintf(out, "%7u  %-16s %5u %5u %11s %11s %11s %11s %11s%s\n", p->pid,
			p->comm, p->nbufs, p->nfds,
			mt_size_str(p->total, o->bytes, a, sizeof(a)),
			mt_size_str(p->pss, o->bytes, b, sizeof(b)),
			mt_size_str(p->unique, o->bytes, c, sizeof(c)),
			mt_size_str(p->mapped, o->bytes, e, sizeof(e)),
			s->kernel_figures ? mt_size_str(p->hwm, o->bytes, d, sizeof(d)) : "-",
			p->incomplete ? "  (incomplete)" : "");
		if (o->by_tag || o->by_exporter) {
			ng = group_bufs(p, o->by_tag, g, 64);
			for (j = 0; j < ng; j++)
				fprintf(out, "%7s    %-14s %5u %5s %11s\n", "",
					g[j].key, g[j].bufs, "",
					mt_size_str(g[j].bytes, o->bytes, d, sizeof(d)));
		}
	}
	fprintf(out, "\n%" PRIu64 " buffers, %s held by the processes shown\n",
		nheld, mt_size_str(held, o->bytes, a, sizeof(a)));
	if (s->has_system)
		fprintf(out, "%" PRIu64 " buffers, %s in the system; %" PRIu64
			" kernel-only, %s\n", nall, mt_size_str(all, o->bytes, b, sizeof(b)),
			nkonly, mt_size_str(konly, o->bytes, c, sizeof(c)));
	free(procs);
}

void mt_print_pids(FILE *out, const struct mt_snapshot *s,
		   const struct mt_output *o)
{
	char a[32], b[32], c[32], m[32], h[16];
	size_t i, j;

	if (o->json)
		fprintf(out, "{\"source\":\"%s\",\"generation\":%" PRIu64 ",\"processes\":[",
			s->source, s->generation);
	for (i = 0; i < s->nprocs; i++) {
		const struct mt_proc *p = &s->procs[i];
		struct mt_buf *bufs = malloc((p->n ? p->n : 1) * sizeof(*bufs));

		if (!bufs)
			return;
		memcpy(bufs, p->bufs, p->n * sizeof(*bufs));
		sort_key = o->sort && mt_sort_field_valid(o->sort, true) ? o->sort : "size";
		qsort(bufs, p->n, sizeof(*bufs), buf_cmp);
		if (o->json) {
			fprintf(out, "%s{\"pid\":%u,\"comm\":", i ? "," : "", p->pid);
			mt_json_str(out, p->comm);
			fprintf(out, ",\"buffers\":%u,\"fds\":%u,\"total\":%" PRIu64
				",\"pss\":%" PRIu64 ",\"unique\":%" PRIu64 ",\"mapped\":%" PRIu64
				",\"incomplete\":%s,\"buffer_list\":[",
				p->nbufs, p->nfds, p->total, p->pss, p->unique, p->mapped,
				p->incomplete ? "true" : "false");
			for (j = 0; j < p->n; j++) {
				fprintf(out, "%s{\"id\":%" PRIu64 ",\"size\":%" PRIu64
					",\"exporter\":", j ? "," : "", bufs[j].id, bufs[j].size);
				mt_json_str(out, bufs[j].exporter);
				fprintf(out, ",\"tag\":");
				mt_json_str(out, bufs[j].name);
				fprintf(out, ",\"fds\":%u,\"mapped\":%" PRIu64 ",\"holders\":%u}",
					bufs[j].fds, bufs[j].mapped, bufs[j].procs);
			}
			fprintf(out, "]}");
		} else {
			fprintf(out, "%sPID %u (%s): %u buffers, %u fds, total %s, pss %s, unique %s, mapped %s%s\n",
				i ? "\n" : "", p->pid, p->comm, p->nbufs, p->nfds,
				mt_size_str(p->total, o->bytes, a, sizeof(a)),
				mt_size_str(p->pss, o->bytes, b, sizeof(b)),
				mt_size_str(p->unique, o->bytes, c, sizeof(c)),
				mt_size_str(p->mapped, o->bytes, m, sizeof(m)),
				p->incomplete ? " (incomplete)" : "");
			if (p->n)
				fprintf(out, "%10s %11s  %-12s %-20s %4s %11s %7s\n", "ID", "SIZE",
					"EXPORTER", "TAG", "FDS", "MAPPED", "HOLDERS");
			for (j = 0; j < p->n; j++) {
				snprintf(h, sizeof(h), "%u", bufs[j].procs);
				fprintf(out, "%10" PRIu64 " %11s  %-12s %-20s %4u %11s %7s\n",
					bufs[j].id, mt_size_str(bufs[j].size, o->bytes, a, sizeof(a)),
					bufs[j].exporter, *bufs[j].name ? bufs[j].name : "-",
					bufs[j].fds,
					mt_size_str(bufs[j].mapped, o->bytes, m, sizeof(m)), h);
			}
		}
		free(bufs);
	}
	if (o->json)
		fprintf(out, "]}\n");
}

void mt_print_buffers(FILE *out, const struct mt_snapshot *s,
		      const struct mt_output *o)
{
	struct mt_buf *bufs = malloc((s->nsys ? s->nsys : 1) * sizeof(*bufs));
	char a[32], t[16];
	size_t i;

	if (!bufs)
		return;
	memcpy(bufs, s->sys, s->nsys * sizeof(*bufs));
	sort_key = o->sort ? o->sort : "size";
	qsort(bufs, s->nsys, sizeof(*bufs), buf_cmp);
	if (o->json) {
		fprintf(out, "{\"source\":\"%s\",\"generation\":%" PRIu64 ",\"buffers\":[",
			s->source, s->generation);
		for (i = 0; i < s->nsys; i++) {
			fprintf(out, "%s{\"id\":%" PRIu64 ",\"size\":%" PRIu64 ",\"exporter\":",
				i ? "," : "", bufs[i].id, bufs[i].size);
			mt_json_str(out, bufs[i].exporter);
			fprintf(out, ",\"tag\":");
			mt_json_str(out, bufs[i].name);
			fprintf(out, ",\"holders\":%u,\"kernel_only\":%s}", bufs[i].procs,
				bufs[i].kholders == 0 ? "true" : "false");
		}
		fprintf(out, "]}\n");
		free(bufs);
		return;
	}
	fprintf(out, "%10s %11s  %-12s %-20s %7s\n", "ID", "SIZE", "EXPORTER", "TAG",
		"HOLDERS");
	for (i = 0; i < s->nsys; i++) {
		if (bufs[i].kholders == 0)
			snprintf(t, sizeof(t), "kernel");
		else
			snprintf(t, sizeof(t), "%u", bufs[i].procs);
		fprintf(out, "%10" PRIu64 " %11s  %-12s %-20s %7s\n", bufs[i].id,
			mt_size_str(bufs[i].size, o->bytes, a, sizeof(a)), bufs[i].exporter,
			*bufs[i].name ? bufs[i].name : "-", t);
	}
	free(bufs);
}
