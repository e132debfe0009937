// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Message parsing.  Everything from the kernel is checked: attribute
 * headers must fit, fixed-size attributes must have their exact size,
 * strings must be NUL-terminated and fit their field, and the attributes
 * a message cannot do without must be there.  Unknown attributes are
 * skipped so that newer kernels stay readable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "internal.h"

static int bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/*
 * One attribute, read without assuming alignment: the parser also runs on
 * arbitrary buffers (the fuzzer), where a struct nlattr may be misaligned.
 */
struct attr {
	uint16_t type;		/* without NLA_F_NESTED / NLA_F_NET_BYTEORDER */
	const char *data;
	size_t len;
};

/* Walk attributes; false at the end, and flags truncation. */
static bool next_attr(const char **pos, const char *end, struct attr *a,
		      bool *truncated)
{
	size_t left = (size_t)(end - *pos);
	struct nlattr hdr;

	if (left == 0)
		return false;
	if (left < NLA_HDRLEN) {
		*truncated = true;
		return false;
	}
	memcpy(&hdr, *pos, sizeof(hdr));
	if (hdr.nla_len < NLA_HDRLEN || hdr.nla_len > left) {
		*truncated = true;
		return false;
	}
	a->type = hdr.nla_type & NLA_TYPE_MASK;
	a->data = *pos + NLA_HDRLEN;
	a->len = hdr.nla_len - NLA_HDRLEN;
	*pos += (size_t)NLA_ALIGN(hdr.nla_len) < left ? (size_t)NLA_ALIGN(hdr.nla_len) : left;
	return true;
}

static int get_u32(const struct attr *a, uint32_t *v, char *why, size_t wl,
		   const char *what)
{
	if (a->len != sizeof(*v))
		return bad(why, wl, "%s: expected 4 bytes, got %zu", what, a->len);
	memcpy(v, a->data, sizeof(*v));
	return 0;
}

/* "uint" attributes are 4 or 8 bytes. */
static int get_uint(const struct attr *a, uint64_t *v, char *why, size_t wl,
		    const char *what)
{
	uint32_t v32;

	if (a->len == sizeof(*v)) {
		memcpy(v, a->data, sizeof(*v));
		return 0;
	}
	if (a->len == sizeof(v32)) {
		memcpy(&v32, a->data, sizeof(v32));
		*v = v32;
		return 0;
	}
	return bad(why, wl, "%s: expected 4 or 8 bytes, got %zu", what, a->len);
}

/* A counter: a "uint" that this library keeps in 32 bits. */
static int get_count(const struct attr *a, uint32_t *v, char *why, size_t wl,
		     const char *what)
{
	uint64_t v64 = 0;
	int ret = get_uint(a, &v64, why, wl, what);

	if (ret)
		return ret;
	if (v64 > UINT32_MAX)
		return bad(why, wl, "%s: %" PRIu64 " does not fit in 32 bits", what, v64);
	*v = (uint32_t)v64;
	return 0;
}

static int get_str(const struct attr *a, char *dst, size_t size, char *why,
		   size_t wl, const char *what)
{
	const char *s = a->data;
	size_t n = a->len;
	const char *nul = memchr(s, '\0', n);

	if (!nul)
		return bad(why, wl, "%s: string is not NUL-terminated", what);
	if ((size_t)(nul - s) >= size)
		return bad(why, wl, "%s: string longer than %zu bytes", what, size - 1);
	memcpy(dst, s, (size_t)(nul - s) + 1);
	return 0;
}

/*
 * The attribute types of a buffer's own attributes: in a buffer message
 * or event (the buffer set), or in a process's pair (the proc-buffer set,
 * which adds the process's side: pid, fds, mapped).
 */
struct buf_types {
	uint16_t id, size, exporter, name, holders;
	uint16_t pid, fds, mapped, handles;	/* 0: not in this set */
};

static const struct buf_types buffer_types = {
	.id = MEMTRACK_A_BUFFER_ID,
	.size = MEMTRACK_A_BUFFER_SIZE,
	.exporter = MEMTRACK_A_BUFFER_EXPORTER,
	.name = MEMTRACK_A_BUFFER_NAME,
	.holders = MEMTRACK_A_BUFFER_HOLDERS,
};

/*
 * Parse a buffer's attributes of types @t into @b (and the pid of a pair
 * into *@pid).  Attributes of other types are skipped: a newer kernel's,
 * or the holder list, which mtnl__parse_buffer() reads.
 */
static int parse_buffer_attrs(const void *attrs, size_t len,
			      const struct buf_types *t, struct mtnl_buffer *b,
			      uint32_t *pid, char *why, size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	bool truncated = false, has_id = false, has_size = false;
	bool has_exp = false, has_fds = false;
	struct attr a;
	int ret = 0;

	memset(b, 0, sizeof(*b));
	b->holders = -1;
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		if (a.type == t->id) {
			ret = get_uint(&a, &b->id, why, wl, "buffer id");
			has_id = true;
		} else if (a.type == t->size) {
			ret = get_uint(&a, &b->size, why, wl, "buffer size");
			has_size = true;
		} else if (a.type == t->exporter) {
			ret = get_str(&a, b->exporter, sizeof(b->exporter), why, wl,
				      "buffer exporter");
			has_exp = true;
		} else if (a.type == t->name) {
			ret = get_str(&a, b->name, sizeof(b->name), why, wl,
				      "buffer name");
		} else if (a.type == t->holders) {
			uint32_t h = 0;

			ret = get_count(&a, &h, why, wl, "buffer holders");
			b->holders = h;
		} else if (t->pid && a.type == t->pid) {
			ret = get_u32(&a, pid, why, wl, "pid");
		} else if (t->fds && a.type == t->fds) {
			ret = get_count(&a, &b->fds, why, wl, "buffer fds");
			has_fds = true;
		} else if (t->mapped && a.type == t->mapped) {
			ret = get_uint(&a, &b->mapped, why, wl, "buffer mapped");
		} else if (t->handles && a.type == t->handles) {
			ret = get_count(&a, &b->handles, why, wl, "buffer handles");
		}
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated buffer attribute");
	if (!has_id || !has_size || !has_exp)
		return bad(why, wl, "buffer without %s",
			   !has_id ? "an id" : !has_size ? "a size" : "an exporter");
	if (t->pid && !*pid)
		return bad(why, wl, "process buffer without a pid");
	if (t->fds && !has_fds)
		return bad(why, wl, "process buffer %llu without an fd count",
			   (unsigned long long)b->id);
	if (!t->pid && b->holders < 0)
		return bad(why, wl, "buffer %llu without a holder count",
			   (unsigned long long)b->id);
	return 0;
}

void mtnl__buffer_reset(struct mtnl_buffer *b)
{
	size_t i;

	free(b->holder_list);
	for (i = 0; i < b->nimporters; i++)
		free(b->importer_list[i]);
	free(b->importer_list);
	memset(b, 0, sizeof(*b));
}

/* Append the device name of an importer attribute to @b's list. */
static int add_importer(struct mtnl_buffer *b, const struct attr *a,
			char *why, size_t wl)
{
	const char *nul = a->len ? memchr(a->data, '\0', a->len) : NULL;
	char **nl;
	char *name;

	if (!nul)
		return bad(why, wl, "buffer importer: string is not NUL-terminated");
	name = malloc((size_t)(nul - (const char *)a->data) + 1);
	if (!name)
		return -ENOMEM;
	memcpy(name, a->data, (size_t)(nul - (const char *)a->data) + 1);
	nl = realloc(b->importer_list, (b->nimporters + 1) * sizeof(*nl));
	if (!nl) {
		free(name);
		return -ENOMEM;
	}
	b->importer_list = nl;
	b->importer_list[b->nimporters++] = name;
	return 0;
}

static int parse_holder(const void *attrs, size_t len, struct mtnl_holder *h,
			char *why, size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	bool truncated = false, has_fds = false;
	struct attr a;
	int ret = 0;

	memset(h, 0, sizeof(*h));
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		switch (a.type) {
		case MEMTRACK_A_HOLDER_PID:
			ret = get_u32(&a, &h->pid, why, wl, "holder pid");
			break;
		case MEMTRACK_A_HOLDER_COMM:
			ret = get_str(&a, h->comm, sizeof(h->comm), why, wl,
				      "holder comm");
			break;
		case MEMTRACK_A_HOLDER_FDS:
			ret = get_count(&a, &h->fds, why, wl, "holder fds");
			has_fds = true;
			break;
		case MEMTRACK_A_HOLDER_MAPPED:
			ret = get_uint(&a, &h->mapped, why, wl, "holder mapped");
			break;
		default:
			break;
		}
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated holder attribute");
	if (!h->pid || !has_fds)
		return bad(why, wl, "holder without %s", h->pid ? "an fd count" : "a pid");
	return 0;
}

int mtnl__parse_buffer(const void *attrs, size_t len, struct mtnl_buffer *b,
		       char *why, size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	bool truncated = false;
	struct attr a;
	int ret;

	ret = parse_buffer_attrs(attrs, len, &buffer_types, b, NULL, why, wl);
	if (ret)
		return ret;
	/* The holders and the importers, in a reply about one buffer. */
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		struct mtnl_holder h, *nh;

		if (a.type == MEMTRACK_A_BUFFER_IMPORTER) {
			ret = add_importer(b, &a, why, wl);
			continue;
		}
		if (a.type != MEMTRACK_A_BUFFER_HOLDER)
			continue;
		ret = parse_holder(a.data, a.len, &h, why, wl);
		if (ret)
			break;
		if (b->nholders && h.pid <= b->holder_list[b->nholders - 1].pid) {
			ret = bad(why, wl, "holder %u out of order", h.pid);
			break;
		}
		nh = realloc(b->holder_list, (b->nholders + 1) * sizeof(*nh));
		if (!nh) {
			ret = -ENOMEM;
			break;
		}
		b->holder_list = nh;
		b->holder_list[b->nholders++] = h;
	}
	if (ret)
		mtnl__buffer_reset(b);
	return ret;
}

void mtnl__proc_reset(struct mtnl_proc *p)
{
	free(p->bufs);
	memset(p, 0, sizeof(*p));
}

int mtnl__parse_proc(const void *attrs, size_t len, struct mtnl_proc *p,
		     char *why, size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	bool truncated = false, has_pid = false, has_total = false;
	struct attr a;
	struct mtnl_proc hdr;
	uint32_t pid = 0;
	int ret = 0;

	memset(&hdr, 0, sizeof(hdr));
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		switch (a.type) {
		case MEMTRACK_A_PROC_PID:
			ret = get_u32(&a, &pid, why, wl, "pid");
			hdr.pid = pid;
			has_pid = true;
			break;
		case MEMTRACK_A_PROC_COMM:
			ret = get_str(&a, hdr.comm, sizeof(hdr.comm), why, wl, "comm");
			break;
		case MEMTRACK_A_PROC_NR_BUFFERS:
			ret = get_count(&a, &hdr.nr_buffers, why, wl, "nr-buffers");
			break;
		case MEMTRACK_A_PROC_NR_FDS:
			ret = get_count(&a, &hdr.nr_fds, why, wl, "nr-fds");
			break;
		case MEMTRACK_A_PROC_TOTAL:
			ret = get_uint(&a, &hdr.total, why, wl, "total");
			has_total = true;
			break;
		case MEMTRACK_A_PROC_GENERATION:
			ret = get_uint(&a, &hdr.generation, why, wl, "generation");
			break;
		case MEMTRACK_A_PROC_PSS:
			ret = get_uint(&a, &hdr.pss, why, wl, "pss");
			break;
		case MEMTRACK_A_PROC_UNIQUE:
			ret = get_uint(&a, &hdr.unique, why, wl, "unique");
			break;
		case MEMTRACK_A_PROC_HWM:
			ret = get_uint(&a, &hdr.hwm, why, wl, "hwm");
			break;
		case MEMTRACK_A_PROC_MAPPED:
			ret = get_uint(&a, &hdr.mapped, why, wl, "mapped");
			break;
		case MEMTRACK_A_PROC_INCOMPLETE:
			if (a.len)
				ret = bad(why, wl, "incomplete: a flag carries no data");
			hdr.incomplete = true;
			break;
		default:
			break;
		}
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated process attribute");
	if (!has_pid || !hdr.pid || !has_total)
		return bad(why, wl, "process message without %s",
			   !has_pid || !hdr.pid ? "a pid" : "a total");
	p->pid = hdr.pid;
	memcpy(p->comm, hdr.comm, sizeof(p->comm));
	p->nr_buffers = hdr.nr_buffers;
	p->nr_fds = hdr.nr_fds;
	p->total = hdr.total;
	p->pss = hdr.pss;
	p->unique = hdr.unique;
	p->hwm = hdr.hwm;
	p->mapped = hdr.mapped;
	p->generation = hdr.generation;
	p->incomplete = hdr.incomplete;
	return 0;
}

int mtnl__parse_stats(const void *attrs, size_t len, struct mtnl_stats *st,
		      char *why, size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	bool truncated = false, has_total = false;
	struct attr a;
	size_t sz = st->sz;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	st->sz = sz;
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		switch (a.type) {
		case MEMTRACK_A_STATS_NR_BUFFERS:
			ret = get_count(&a, &st->nr_buffers, why, wl, "nr-buffers");
			break;
		case MEMTRACK_A_STATS_TOTAL:
			ret = get_uint(&a, &st->total, why, wl, "total");
			has_total = true;
			break;
		case MEMTRACK_A_STATS_HELD:
			ret = get_uint(&a, &st->held, why, wl, "held");
			break;
		case MEMTRACK_A_STATS_KERNEL_ONLY:
			ret = get_uint(&a, &st->kernel_only, why, wl, "kernel-only");
			break;
		case MEMTRACK_A_STATS_HWM:
			ret = get_uint(&a, &st->hwm, why, wl, "hwm");
			break;
		case MEMTRACK_A_STATS_GENERATION:
			ret = get_uint(&a, &st->generation, why, wl, "generation");
			break;
		default:
			break;
		}
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated stats attribute");
	if (!has_total)
		return bad(why, wl, "stats without a total");
	return 0;
}

int mtnl__parse_event(uint8_t cmd, const void *attrs, size_t len,
		      struct mtnl_event *ev, char *why, size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	bool truncated = false, has_seq = false, has_pid = false;
	struct attr a;
	int ret = 0;

	memset(ev, 0, sizeof(*ev));
	switch (cmd) {
	case MEMTRACK_CMD_PROC_BUFFER_ADD_NTF:
		ev->kind = MTNL_EVENT_INSTALL;
		break;
	case MEMTRACK_CMD_PROC_BUFFER_DEL_NTF:
		ev->kind = MTNL_EVENT_UNINSTALL;
		break;
	case MEMTRACK_CMD_PROC_FORK_NTF:
		ev->kind = MTNL_EVENT_FORK;
		break;
	case MEMTRACK_CMD_PROC_BULK_NTF:
		ev->kind = MTNL_EVENT_BULK;
		break;
	default:
		return -ENOMSG;
	}
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		switch (a.type) {
		case MEMTRACK_A_EVENT_SEQ:
			ret = get_uint(&a, &ev->seq, why, wl, "seq");
			has_seq = true;
			break;
		case MEMTRACK_A_EVENT_PID:
			ret = get_u32(&a, &ev->pid, why, wl, "pid");
			has_pid = true;
			break;
		case MEMTRACK_A_EVENT_COMM:
			ret = get_str(&a, ev->comm, sizeof(ev->comm), why, wl, "comm");
			break;
		case MEMTRACK_A_EVENT_REASON:
			ret = get_u32(&a, &ev->reason, why, wl, "reason");
			break;
		case MEMTRACK_A_EVENT_TOTAL:
			ret = get_uint(&a, &ev->total, why, wl, "total");
			break;
		case MEMTRACK_A_EVENT_NR_BUFFERS:
			ret = get_count(&a, &ev->nr_buffers, why, wl, "nr-buffers");
			break;
		case MEMTRACK_A_EVENT_PARENT_PID:
			ret = get_u32(&a, &ev->parent_pid, why, wl, "parent-pid");
			break;
		case MEMTRACK_A_EVENT_NR_ADDED:
			ret = get_count(&a, &ev->nr_added, why, wl, "nr-added");
			break;
		case MEMTRACK_A_EVENT_NR_REMOVED:
			ret = get_count(&a, &ev->nr_removed, why, wl, "nr-removed");
			break;
		case MEMTRACK_A_EVENT_BUFFER:
			ret = parse_buffer_attrs(a.data, a.len, &buffer_types,
						 &ev->buffer, NULL, why, wl);
			ev->has_buffer = true;
			break;
		default:
			break;
		}
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated event attribute");
	if (!has_seq || !has_pid)
		return bad(why, wl, "event without %s", has_seq ? "a pid" : "a seq");
	if ((ev->kind == MTNL_EVENT_INSTALL || ev->kind == MTNL_EVENT_UNINSTALL) &&
	    !ev->has_buffer)
		return bad(why, wl, "install or uninstall event without a buffer");
	if (ev->kind == MTNL_EVENT_BULK && !ev->nr_added && !ev->nr_removed)
		return bad(why, wl, "bulk event that adds and removes nothing");
	if (ev->kind == MTNL_EVENT_FORK && !ev->parent_pid)
		return bad(why, wl, "fork event without a parent");
	return 0;
}

int mtnl__opts_copy(void *dst, size_t dst_sz, const void *src, size_t min_sz)
{
	size_t sz, i;

	memcpy(&sz, src, sizeof(sz));
	if (sz < min_sz || sz < sizeof(sz))
		return -EINVAL;
	for (i = dst_sz; i < sz; i++)
		if (((const unsigned char *)src)[i])
			return -E2BIG;
	memcpy(dst, src, sz < dst_sz ? sz : dst_sz);
	/* The library's own size, whatever the caller's was. */
	memcpy(dst, &dst_sz, sizeof(dst_sz));
	return 0;
}

/* A ref nest: the process's side of one buffer. */
static int parse_ref(const struct attr *nest, struct mtnl_ref_entry *r,
		     char *why, size_t wl)
{
	const char *pos = nest->data, *end = nest->data + nest->len;
	bool truncated = false, has_id = false, has_fds = false;
	struct attr a;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		switch (a.type) {
		case MEMTRACK_A_REF_ID:
			ret = get_uint(&a, &r->id, why, wl, "ref id");
			has_id = true;
			break;
		case MEMTRACK_A_REF_FDS:
			ret = get_count(&a, &r->fds, why, wl, "ref fds");
			has_fds = true;
			break;
		case MEMTRACK_A_REF_MAPPED:
			ret = get_uint(&a, &r->mapped, why, wl, "ref mapped");
			break;
		case MEMTRACK_A_REF_HANDLES:
			ret = get_count(&a, &r->handles, why, wl, "ref handles");
			break;
		default:
			break;
		}
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated ref attribute");
	if (!has_id || !has_fds)
		return bad(why, wl, "ref without %s", has_id ? "an fd count" : "an id");
	return 0;
}

int mtnl__parse_refs(const void *attrs, size_t len,
		     const struct mtnl_refs_cbs *cbs, void *arg, char *why,
		     size_t wl)
{
	const char *pos = attrs, *end = (const char *)attrs + len;
	struct mtnl_refs_msg m = { 0 };
	struct mtnl_ref_entry r;
	bool truncated = false;
	struct mtnl_buffer b;
	struct attr a;
	int ret = 0;

	/* The process first: whether this message starts it or goes on. */
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		if (a.type == MEMTRACK_A_PROC_PID)
			ret = get_u32(&a, &m.pid, why, wl, "pid");
		else if (a.type == MEMTRACK_A_PROC_NR_BUFFERS)
			m.has_figures = true;
		else if (a.type == MEMTRACK_A_PROC_INCOMPLETE)
			m.incomplete = true;
	}
	if (ret)
		return ret;
	if (truncated)
		return bad(why, wl, "truncated process attribute");
	if (!m.pid)
		return bad(why, wl, "process message without a pid");
	if (m.has_figures) {
		ret = mtnl__parse_proc(attrs, len, &m.figures, why, wl);
		if (ret)
			return ret;
	}
	if (cbs->begin) {
		ret = cbs->begin(&m, arg);
		if (ret)
			return ret;
	}
	/* Then, in order, the descriptions and the refs they precede. */
	pos = attrs;
	while (!ret && next_attr(&pos, end, &a, &truncated)) {
		if (a.type == MEMTRACK_A_PROC_DESC) {
			ret = parse_buffer_attrs(a.data, a.len, &buffer_types, &b,
						 NULL, why, wl);
			if (!ret && cbs->desc)
				ret = cbs->desc(&b, arg);
		} else if (a.type == MEMTRACK_A_PROC_REF) {
			ret = parse_ref(&a, &r, why, wl);
			if (!ret && cbs->ref)
				ret = cbs->ref(&r, arg);
		}
	}
	return ret;
}
