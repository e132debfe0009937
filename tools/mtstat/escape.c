// SPDX-License-Identifier: GPL-2.0-only
/*
 * Strings mtstat did not write: command names, buffer names, exporters,
 * cgroup paths and user names are bytes that any process may choose.
 * JSON and the Prometheus format must be valid UTF-8, and a terminal must
 * not receive control sequences, so every such string goes out through
 * one of these.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <string.h>

#include "mtstat.h"

/*
 * The length of the well-formed UTF-8 sequence at @s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if the byte at
 * @s does not start one; *@cp receives its code point.  A NUL ends a
 * sequence early, so nothing past the string is read.
 */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* U+D800..U+DFFF: surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		return 0;	/* a continuation byte, C0, C1 or F5..FF */
	}
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = c;
	return n;
}

void mt_json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc_unlocked('"', out);
	while (*p) {
		uint32_t c;
		size_t n = 0;

		/* A run of printable ASCII goes out as it is, in one write. */
		while (p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"' && p[n] != '\\')
			n++;
		if (n) {
			fwrite_unlocked(p, 1, n, out);
			p += n;
			continue;
		}
		n = utf8_seq(p, &c);

		if (!n) {
			fputs("\\ufffd", out);	/* each invalid byte */
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", (char)c);
		else if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			/* C0, DEL and C1 controls: valid JSON either way, but
			 * escaped they cannot reach a terminal. */
			fprintf(out, "\\u%04x", (unsigned int)c);
		else
			fwrite_unlocked(p, 1, n, out);
		p += n;
	}
	fputc_unlocked('"', out);
}

void mt_prom_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t c;
		size_t n = utf8_seq(p, &c);

		if (!n) {
			fputs("\xef\xbf\xbd", out);	/* U+FFFD for each invalid byte */
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", (char)c);
		else if (c == '\n')
			fputs("\\n", out);
		else
			fwrite(p, 1, n, out);
		p += n;
	}
}

/*
 * Copy @s into @buf of @len bytes, each invalid UTF-8 byte (and, with
 * @text, each control character) replaced by @bad, NUL-terminated and cut
 * at a whole character.
 */
static char *copy_valid(const char *s, char *buf, size_t len, bool text,
			const char *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, nbad = strlen(bad);

	if (!len)
		return buf;
	while (*p) {
		uint32_t c;
		size_t n = utf8_seq(p, &c);
		bool replace = !n || (text && (c < 0x20 || (c >= 0x7f && c <= 0x9f)));
		size_t w = replace ? nbad : n;

		if (o + w >= len)
			break;
		memcpy(buf + o, replace ? (const unsigned char *)bad : p, w);
		o += w;
		p += n ? n : 1;
	}
	buf[o] = '\0';
	return buf;
}

char *mt_utf8_repair(const char *s, char *buf, size_t len)
{
	return copy_valid(s, buf, len, false, "\xef\xbf\xbd");
}

/* As ps(1) does: a control or an invalid byte is '?'. */
char *mt_text_safe(const char *s, char *buf, size_t len)
{
	return copy_valid(s, buf, len, true, "?");
}
