/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mtstat's printing layer: one call per field serves the text and the JSON
 * output, as iproute2's print_uint(PRINT_ANY, ...) does.  In text mode a
 * call prints its format (unless the field is JSON-only); in JSON mode it
 * prints "key": value (unless the field is text-only), with the commas,
 * nesting and, with --pretty, indentation that JSON needs.
 */
#ifndef MTSTAT_PRINT_H
#define MTSTAT_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum pr_where {
	PR_ANY,		/* text and JSON */
	PR_TEXT,	/* text only */
	PR_JSON,	/* JSON only */
};

#define PR_MAX_DEPTH 16

struct pr {
	FILE *out;
	bool json;
	bool pretty;
	unsigned int depth;
	bool comma[PR_MAX_DEPTH];	/* a member was printed at this depth */
};

void pr_init(struct pr *p, FILE *out, bool json, bool pretty);
/* Open a JSON object (@key: NULL inside an array or at the top). */
void pr_open_object(struct pr *p, const char *key);
void pr_close_object(struct pr *p);
void pr_open_array(struct pr *p, const char *key);
void pr_close_array(struct pr *p);
/* The end of the document: a newline after the JSON, nothing for text. */
void pr_end(struct pr *p);

void pr_uint(struct pr *p, enum pr_where w, const char *key, const char *fmt,
	     uint64_t v);
/* In text, controls and invalid UTF-8 in @v print as '?' (mt_text_safe()). */
void pr_string(struct pr *p, enum pr_where w, const char *key,
	       const char *fmt, const char *v);
void pr_bool(struct pr *p, enum pr_where w, const char *key, const char *fmt,
	     bool v);
/* JSON null, or @text in text mode. */
void pr_null(struct pr *p, enum pr_where w, const char *key, const char *fmt,
	     const char *text);
/* Text only: a literal string (separators, newlines). */
void pr_text(struct pr *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* MTSTAT_PRINT_H */
