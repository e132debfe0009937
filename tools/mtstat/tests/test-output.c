// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat's output layer on the build host, on made-up snapshots: strings
 * from other processes come out as valid UTF-8 (JSON, Prometheus) and
 * without control characters (text); --by-name has as many groups as it
 * takes; the summary counts each buffer once; Prometheus resolves a
 * process's labels once; and a view that cannot allocate says so (-1)
 * before it prints anything.
 *
 * Linked with output.c, print.c and escape.c only: mt_proc_cgroup() and
 * getpwuid() are stand-ins here, which count their calls.
 */
#define _GNU_SOURCE
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtstat.h"
#include "print.h"

static int failures;

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			failures++;					\
		}							\
	} while (0)

/* ---- Stand-ins ---------------------------------------------------- */

static unsigned int cgroup_calls, pwuid_calls;
static const char *cgroup_path = "/user.slice/app.scope";

void mt_proc_cgroup(uint32_t pid, char *buf, size_t len)
{
	(void)pid;
	cgroup_calls++;
	snprintf(buf, len, "%s", cgroup_path);
}

struct passwd *getpwuid(uid_t uid)
{
	static struct passwd pw = { .pw_name = "alice", .pw_uid = 1000 };

	pwuid_calls++;
	return uid == 1000 ? &pw : NULL;
}

/* ---- Helpers ------------------------------------------------------ */

struct capture {
	char *text;
	size_t len;
	FILE *f;
};

static FILE *cap_open(struct capture *c)
{
	*c = (struct capture){ 0 };
	c->f = open_memstream(&c->text, &c->len);
	if (!c->f) {
		perror("open_memstream");
		exit(2);
	}
	return c->f;
}

/* The text written, NUL-terminated; free with cap_free(). */
static const char *cap_close(struct capture *c)
{
	fclose(c->f);
	return c->text;
}

static void cap_free(struct capture *c)
{
	free(c->text);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

/* True when @s holds no C0 control but newline, and no DEL. */
static bool terminal_safe(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\n') || *s == 0x7f)
			return false;
	return true;
}

static struct mt_proc proc(uint32_t pid, const char *comm, size_t n)
{
	struct mt_proc p = { .pid = pid, .uid = 1000, .n = n };

	snprintf(p.comm, sizeof(p.comm), "%s", comm);
	p.bufs = calloc(n ? n : 1, sizeof(*p.bufs));
	if (!p.bufs)
		exit(2);
	p.nbufs = (uint32_t)n;
	return p;
}

static void buf(struct mt_proc *p, size_t i, uint64_t id, const char *name)
{
	p->bufs[i].id = id;
	p->bufs[i].size = id * 100;
	p->bufs[i].fds = 1;
	p->bufs[i].kholders = -1;
	snprintf(p->bufs[i].exporter, sizeof(p->bufs[i].exporter), "system");
	snprintf(p->bufs[i].name, sizeof(p->bufs[i].name), "%s", name);
	p->total += p->bufs[i].size;
}

static void snap_free(struct mt_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nprocs; i++)
		free(s->procs[i].bufs);
	free(s->procs);
}

/* ---- Escaping ----------------------------------------------------- */

static void test_json_str(void)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "abc", "\"abc\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "\xef\xbf\xbd", "\"\xef\xbf\xbd\"" },
		{ "\x01\x1b[31m\x7f\n", "\"\\u0001\\u001b[31m\\u007f\\u000a\"" },
		{ "\xc2\x9b", "\"\\u009b\"" },			/* C1 CSI */
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" },		/* overlong NUL */
		{ "\xc1\xbf", "\"\\ufffd\\ufffd\"" },		/* overlong */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },	/* overlong '/' */
		{ "\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* surrogate */
		{ "\xed\x9f\xbf", "\"\xed\x9f\xbf\"" },		/* U+D7FF */
		{ "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" },	/* U+10FFFF */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
		{ "\xf5\x80", "\"\\ufffd\\ufffd\"" },
		{ "\xff", "\"\\ufffd\"" },
		{ "a\xe2\x82", "\"a\\ufffd\\ufffd\"" },		/* cut short */
		{ "\x80z", "\"\\ufffdz\"" },			/* lone continuation */
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct capture c;

		mt_json_str(cap_open(&c), t[i].in);
		CHECK(!strcmp(cap_close(&c), t[i].out), "JSON of case %zu: %s, wanted %s",
		      i, c.text, t[i].out);
		cap_free(&c);
	}
}

static void test_prom_str(void)
{
	struct capture c;

	mt_prom_str(cap_open(&c), "a\"b\\c\nd\xff\xc3\xa9\xed\xa0\x80");
	CHECK(!strcmp(cap_close(&c), "a\\\"b\\\\c\\nd\xef\xbf\xbd\xc3\xa9"
		      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), "Prometheus: %s", c.text);
	cap_free(&c);
}

static void test_text_safe(void)
{
	char b[64];

	CHECK(!strcmp(mt_text_safe("\x1b]0;pwned\x07" "ok", b, sizeof(b)), "?]0;pwned?ok"),
	      "%s", b);
	CHECK(!strcmp(mt_text_safe("caf\xc3\xa9", b, sizeof(b)), "caf\xc3\xa9"), "%s", b);
	CHECK(!strcmp(mt_text_safe("\xff\x7f\xc2\x9b[2J", b, sizeof(b)), "???[2J"), "%s", b);
	CHECK(!strcmp(mt_text_safe("\xc0\xaf", b, sizeof(b)), "??"), "%s", b);
	/* Cut short, but never inside a character. */
	CHECK(!strcmp(mt_text_safe("\xe2\x82\xac\xe2\x82\xac", b, 6), "\xe2\x82\xac"), "%s", b);
	CHECK(!strcmp(mt_text_safe("abc", b, 3), "ab"), "%s", b);

	CHECK(!strcmp(mt_utf8_repair("a\xff\x1b\xc3\xa9", b, sizeof(b)), "a\xef\xbf\xbd\x1b\xc3\xa9"),
	      "repair: %s", b);
	CHECK(!strcmp(mt_utf8_repair("\xff\xff", b, 5), "\xef\xbf\xbd"), "repair cut: %s", b);
}

/* ---- Views -------------------------------------------------------- */

/* Three processes sharing buffers 1..4; bad bytes in comm and names. */
static void shared_snapshot(struct mt_snapshot *s)
{
	*s = (struct mt_snapshot){ .source = "procfs", .nprocs = 3 };
	s->procs = calloc(3, sizeof(*s->procs));
	if (!s->procs)
		exit(2);
	s->procs[0] = proc(10, "\x1b[2Jevil\xff", 2);
	buf(&s->procs[0], 0, 1, "cam\x1b]era");
	buf(&s->procs[0], 1, 2, "");
	s->procs[1] = proc(11, "caf\xc3\xa9", 2);
	buf(&s->procs[1], 0, 2, "");
	buf(&s->procs[1], 1, 3, "gpu");
	s->procs[2] = proc(12, "plain", 3);
	buf(&s->procs[2], 0, 3, "gpu");
	buf(&s->procs[2], 1, 1, "cam\x1b]era");
	buf(&s->procs[2], 2, 4, "\xc3\x28");
}

static void test_views_escape(void)
{
	struct mt_output text = { .by_name = true }, json = { .json = true, .by_name = true };
	struct mt_snapshot s;
	struct capture c;

	shared_snapshot(&s);

	CHECK(mt_print_processes(cap_open(&c), &s, &text) == 0, "processes, text");
	cap_close(&c);
	CHECK(terminal_safe(c.text), "text table with a control character:\n%s", c.text);
	CHECK(strstr(c.text, "?[2Jevil?") && strstr(c.text, "caf\xc3\xa9") &&
	      strstr(c.text, "cam?]era"), "text table:\n%s", c.text);
	cap_free(&c);

	CHECK(mt_print_pids(cap_open(&c), &s, &text) == 0, "pids, text");
	cap_close(&c);
	CHECK(terminal_safe(c.text) && strstr(c.text, "PID 10 (?[2Jevil?)"),
	      "-p text:\n%s", c.text);
	cap_free(&c);

	CHECK(mt_print_processes(cap_open(&c), &s, &json) == 0, "processes, JSON");
	cap_close(&c);
	CHECK(strstr(c.text, "\"comm\":\"\\u001b[2Jevil\\ufffd\"") &&
	      strstr(c.text, "\"cam\\u001b]era\":{") && strstr(c.text, "\"\xef\xbf\xbd(\":{") &&
	      !strchr(c.text, '\x1b') && !strchr(c.text, '\xff'), "JSON:\n%s", c.text);
	/* Each buffer once: 1, 2, 3 and 4, 1000 bytes. */
	CHECK(strstr(c.text, "\"held_buffers\":4,\"held_bytes\":1000"), "summary:\n%s", c.text);
	cap_free(&c);

	cgroup_path = "/evil\x1b[2J\xfe";
	CHECK(mt_print_owners(cap_open(&c), &s, &text, MT_BY_CGROUP) == 0, "--by-cgroup");
	cap_close(&c);
	CHECK(terminal_safe(c.text) && strstr(c.text, "/evil?[2J?"), "--by-cgroup:\n%s", c.text);
	cap_free(&c);

	cgroup_calls = pwuid_calls = 0;
	CHECK(mt_print_prometheus(cap_open(&c), &s, &text) == 0, "--prometheus");
	cap_close(&c);
	CHECK(strstr(c.text, "comm=\"\x1b[2Jevil\xef\xbf\xbd\"") &&
	      strstr(c.text, "cgroup=\"/evil\x1b[2J\xef\xbf\xbd\"") &&
	      strstr(c.text, "name=\"\xef\xbf\xbd(\"") && !strchr(c.text, '\xff') &&
	      !strchr(c.text, '\xfe'), "Prometheus:\n%s", c.text);
	/* Labels resolved once per process, for all eight series and the groups. */
	CHECK(cgroup_calls == 3 && pwuid_calls == 3, "cgroup read %u times, user %u times",
	      cgroup_calls, pwuid_calls);
	CHECK(strstr(c.text, "memtrack_held_buffers 4\n") &&
	      strstr(c.text, "memtrack_held_bytes 1000\n"), "Prometheus summary");
	cap_free(&c);
	cgroup_path = "/user.slice/app.scope";
	snap_free(&s);
}

/* One process with 100 names and a nameless buffer: 101 groups. */
static void test_many_groups(void)
{
	struct mt_output json = { .json = true, .by_name = true };
	struct mt_output prom = { .by_name = true }, text = { .by_exporter = true };
	struct mt_snapshot s = { .source = "netlink", .nprocs = 1 };
	struct capture c;
	char name[16];
	size_t i;

	s.procs = calloc(1, sizeof(*s.procs));
	if (!s.procs)
		exit(2);
	s.procs[0] = proc(42, "many", 101);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		buf(&s.procs[0], i, i + 1, name);
	}
	buf(&s.procs[0], 100, 101, "");

	CHECK(mt_print_processes(cap_open(&c), &s, &json) == 0, "JSON --by-name");
	cap_close(&c);
	CHECK(count(c.text, "\"bytes\":") == 101, "%zu groups in JSON", count(c.text, "\"bytes\":"));
	CHECK(strstr(c.text, "\"n0\":{\"nr_buffers\":1,\"bytes\":100}") &&
	      strstr(c.text, "\"n99\":{") && strstr(c.text, "\"-\":{\"nr_buffers\":1,\"bytes\":10100}"),
	      "groups in JSON");
	/* Groups in the order of their first buffer, not of their names. */
	CHECK(strstr(c.text, "\"n1\"") < strstr(c.text, "\"n2\"") &&
	      strstr(c.text, "\"n2\"") < strstr(c.text, "\"n10\"") &&
	      strstr(c.text, "\"n99\"") < strstr(c.text, "\"-\""), "order");
	cap_free(&c);

	CHECK(mt_print_prometheus(cap_open(&c), &s, &prom) == 0, "Prometheus --by-name");
	cap_close(&c);
	CHECK(count(c.text, "\nmemtrack_process_name_bytes{") == 101, "%zu name series",
	      count(c.text, "\nmemtrack_process_name_bytes{"));
	cap_free(&c);

	CHECK(mt_print_processes(cap_open(&c), &s, &text) == 0, "text --by-exporter");
	cap_close(&c);
	CHECK(count(c.text, "system") == 1, "one exporter group:\n%s", c.text);
	cap_free(&c);
	snap_free(&s);
}

/*
 * Names that differ only in invalid bytes read the same in JSON and
 * Prometheus (U+FFFD): one group, so no duplicate key or series.
 */
static void test_groups_by_readable_name(void)
{
	struct mt_output json = { .json = true, .by_name = true };
	struct mt_output prom = { .by_name = true }, text = { .by_name = true };
	struct mt_snapshot s = { .source = "netlink", .nprocs = 1 };
	struct capture c;

	s.procs = calloc(1, sizeof(*s.procs));
	if (!s.procs)
		exit(2);
	s.procs[0] = proc(7, "p", 4);
	buf(&s.procs[0], 0, 1, "x\xff");
	buf(&s.procs[0], 1, 2, "ok");
	buf(&s.procs[0], 2, 3, "x\xfe");
	buf(&s.procs[0], 3, 4, "x\xef\xbf\xbd");	/* a real U+FFFD */

	CHECK(mt_print_processes(cap_open(&c), &s, &json) == 0, "JSON");
	cap_close(&c);
	CHECK(count(c.text, "\"bytes\":") == 2 &&
	      strstr(c.text, "\"x\xef\xbf\xbd\":{\"nr_buffers\":3,\"bytes\":800}"),
	      "JSON groups:\n%s", c.text);
	cap_free(&c);
	CHECK(mt_print_prometheus(cap_open(&c), &s, &prom) == 0, "Prometheus");
	cap_close(&c);
	CHECK(count(c.text, "\nmemtrack_process_name_bytes{") == 2 &&
	      strstr(c.text, "name=\"x\xef\xbf\xbd\"} 800\n"), "series:\n%s", c.text);
	cap_free(&c);
	CHECK(mt_print_processes(cap_open(&c), &s, &text) == 0, "text");
	cap_close(&c);
	CHECK(terminal_safe(c.text) && strstr(c.text, "x?") && !strchr(c.text, '\xff'),
	      "text groups:\n%s", c.text);
	cap_free(&c);
	snap_free(&s);
}

/* Counts no allocation can serve: -1, and not a byte written. */
static void test_out_of_memory(void)
{
	struct mt_output o = { 0 };
	struct mt_proc one = { .pid = 1 };
	struct mt_snapshot s = { .source = "netlink", .procs = &one,
				 .nprocs = SIZE_MAX / sizeof(struct mt_proc) / 2 };
	struct capture c;

	CHECK(mt_print_processes(cap_open(&c), &s, &o) == -1, "processes");
	CHECK(!*cap_close(&c), "processes printed %s", c.text);
	cap_free(&c);
	CHECK(mt_print_prometheus(cap_open(&c), &s, &o) == -1, "Prometheus");
	CHECK(!*cap_close(&c), "Prometheus printed %s", c.text);
	cap_free(&c);
	s.nprocs = SIZE_MAX / 1024;
	CHECK(mt_print_owners(cap_open(&c), &s, &o, MT_BY_USER) == -1, "owners");
	CHECK(!*cap_close(&c), "owners printed %s", c.text);
	cap_free(&c);

	s.nprocs = 1;
	one.n = SIZE_MAX / sizeof(struct mt_buf) / 2;
	CHECK(mt_print_pids(cap_open(&c), &s, &o) == -1, "pids");
	CHECK(!*cap_close(&c), "pids printed %s", c.text);
	cap_free(&c);

	s.nprocs = 0;
	s.has_system = true;
	s.nsys = SIZE_MAX / sizeof(struct mt_buf) / 2;
	CHECK(mt_print_buffers(cap_open(&c), &s, &o) == -1, "buffers");
	CHECK(!*cap_close(&c), "buffers printed %s", c.text);
	cap_free(&c);
}

int main(void)
{
	test_json_str();
	test_prom_str();
	test_text_safe();
	test_views_escape();
	test_many_groups();
	test_groups_by_readable_name();
	test_out_of_memory();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all output checks passed\n");
	return 0;
}
