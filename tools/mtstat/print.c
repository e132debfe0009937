// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat's printing layer; see print.h.  It writes through the _unlocked
 * stdio calls: one thread writes a stream, and a JSON list of thousands
 * of processes is tens of thousands of small writes, which locking each
 * would dominate.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mtstat.h"
#include "print.h"

void pr_init(struct pr *p, FILE *out, bool json, bool pretty)
{
	*p = (struct pr){ .out = out, .json = json, .pretty = pretty };
}

static void indent(struct pr *p)
{
	unsigned int i;

	if (!p->pretty)
		return;
	fputc_unlocked('\n', p->out);
	for (i = 0; i < p->depth; i++)
		fputs_unlocked("  ", p->out);
}

/* Start a member of the current container: comma, indentation, key. */
static void member(struct pr *p, const char *key)
{
	if (p->comma[p->depth])
		fputc_unlocked(',', p->out);
	p->comma[p->depth] = true;
	if (p->depth)
		indent(p);
	if (key) {
		mt_json_str(p->out, key);
		fputs_unlocked(p->pretty ? ": " : ":", p->out);
	}
}

static void open_container(struct pr *p, const char *key, char c)
{
	if (!p->json)
		return;
	member(p, key);
	fputc_unlocked(c, p->out);
	if (p->depth + 1 < PR_MAX_DEPTH)
		p->depth++;
	p->comma[p->depth] = false;
}

static void close_container(struct pr *p, char c)
{
	bool empty;

	if (!p->json)
		return;
	empty = !p->comma[p->depth];
	if (p->depth)
		p->depth--;
	if (!empty)
		indent(p);
	fputc_unlocked(c, p->out);
}

void pr_open_object(struct pr *p, const char *key)
{
	open_container(p, key, '{');
}

void pr_close_object(struct pr *p)
{
	close_container(p, '}');
}

void pr_open_array(struct pr *p, const char *key)
{
	open_container(p, key, '[');
}

void pr_close_array(struct pr *p)
{
	close_container(p, ']');
}

void pr_end(struct pr *p)
{
	if (p->json)
		fputc('\n', p->out);
}

static bool for_text(const struct pr *p, enum pr_where w)
{
	return !p->json && w != PR_JSON;
}

static bool for_json(const struct pr *p, enum pr_where w)
{
	return p->json && w != PR_TEXT;
}

void pr_uint(struct pr *p, enum pr_where w, const char *key, const char *fmt,
	     uint64_t v)
{
	if (for_text(p, w)) {
		fprintf(p->out, fmt, v);
	} else if (for_json(p, w)) {
		char digits[24], *d = digits + sizeof(digits);

		member(p, key);
		do
			*--d = (char)('0' + v % 10);
		while (v /= 10);
		fwrite_unlocked(d, 1, (size_t)(digits + sizeof(digits) - d), p->out);
	}
}

/* @v through @fmt, made safe for a terminal (see mt_text_safe()). */
static void text_string(FILE *out, const char *fmt, const char *v)
{
	char small[512], *big = NULL;
	size_t len = strlen(v) + 1;

	/* Out of memory, a long string is cut short rather than lost. */
	if (len > sizeof(small))
		big = malloc(len);
	fprintf(out, fmt, big ? mt_text_safe(v, big, len) :
				mt_text_safe(v, small, sizeof(small)));
	free(big);
}

void pr_string(struct pr *p, enum pr_where w, const char *key,
	       const char *fmt, const char *v)
{
	if (for_text(p, w)) {
		text_string(p->out, fmt, v);
	} else if (for_json(p, w)) {
		member(p, key);
		mt_json_str(p->out, v);
	}
}

void pr_bool(struct pr *p, enum pr_where w, const char *key, const char *fmt,
	     bool v)
{
	if (for_text(p, w)) {
		fprintf(p->out, fmt, v ? "true" : "false");
	} else if (for_json(p, w)) {
		member(p, key);
		fputs_unlocked(v ? "true" : "false", p->out);
	}
}

void pr_null(struct pr *p, enum pr_where w, const char *key, const char *fmt,
	     const char *text)
{
	if (for_text(p, w)) {
		fprintf(p->out, fmt, text);
	} else if (for_json(p, w)) {
		member(p, key);
		fputs("null", p->out);
	}
}

void pr_text(struct pr *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
}
