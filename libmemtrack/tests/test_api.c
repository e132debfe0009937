// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmemtrack-nl's API where no memtrack kernel is needed (it runs on the
 * build host): version macros against mtnl_version(), options structs
 * that are older, newer or malformed, and the messages mtnl_strerror()
 * gives for what mtnl_open() returns on a kernel without memtrack.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtrack-nl.h>

#include "internal.h"

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

/* A caller built against a newer library: one more field. */
struct newer_events_opts {
	size_t sz;
	int rcvbuf;
	uint64_t future;	/* past the padding of the current struct */
};

static void test_versions(void)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", MTNL_VERSION_MAJOR,
		 MTNL_VERSION_MINOR, MTNL_VERSION_PATCH);
	CHECK(!strcmp(mtnl_version(), want), "mtnl_version() %s, headers %s",
	      mtnl_version(), want);
	CHECK(MTNL_VERSION_AT_LEAST(1, 2, 0), "at least 1.2.0");
	CHECK(MTNL_VERSION_AT_LEAST(1, 1, 9), "at least 1.1.9");
	CHECK(!MTNL_VERSION_AT_LEAST(1, 2, 1), "not 1.2.1");
	CHECK(!MTNL_VERSION_AT_LEAST(2, 0, 0), "not 2.0.0");
}

static void test_opts_copy(void)
{
	MTNL_OPTS(mtnl_dump_opts, def, .pid = 7);
	struct mtnl_dump_opts got;
	struct {
		struct mtnl_dump_opts o;
		uint64_t future;
	} big = { .o = { .sz = sizeof(big), .pid = 9 } };
	size_t old_sz = offsetofend(struct mtnl_dump_opts, pid);

	CHECK(def.sz == sizeof(def) && def.pid == 7 && !def.name, "MTNL_OPTS");

	/* Same size: copied. */
	memset(&got, 0, sizeof(got));
	CHECK(mtnl__opts_copy(&got, sizeof(got), &def, old_sz) == 0, "same size");
	CHECK(got.pid == 7 && got.sz == sizeof(got), "same size copied");
	{
		/* Callers written for 1.0 set .tag: the same member as .name. */
		struct mtnl_dump_opts old = { .sz = sizeof(old), .tag = "x" };

		CHECK(old.name == old.tag && !strcmp(old.name, "x"), "tag aliases name");
	}

	/* Older, shorter: the defaults of the fields it lacks stay. */
	got = (struct mtnl_dump_opts){ .sz = sizeof(got), .name = "default" };
	def.sz = old_sz;
	def.name = "not read";
	CHECK(mtnl__opts_copy(&got, sizeof(got), &def, old_sz) == 0, "older");
	CHECK(got.pid == 7 && !strcmp(got.name, "default") && got.tag == got.name && got.sz == sizeof(got),
	      "older struct keeps the defaults");

	/* Too short for the fields required. */
	def.sz = sizeof(size_t);
	CHECK(mtnl__opts_copy(&got, sizeof(got), &def, old_sz) == -EINVAL, "too short");

	/* Newer with a zero tail: accepted; with a non-zero tail: -E2BIG. */
	CHECK(mtnl__opts_copy(&got, sizeof(got), &big, old_sz) == 0, "newer, zero tail");
	CHECK(got.pid == 9 && got.sz == sizeof(got), "newer copied");
	big.future = 1;
	CHECK(mtnl__opts_copy(&got, sizeof(got), &big, old_sz) == -E2BIG, "newer, non-zero tail");
}

static void test_without_memtrack(void)
{
	struct newer_events_opts eo = { .sz = sizeof(eo), .future = 1 };
	struct mtnl_events *e = NULL;
	struct mtnl *h = NULL;
	int ret;

	/* The refusal of unknown fields comes before any socket. */
	ret = mtnl_events_open(&e, (const struct mtnl_events_opts *)&eo);
	CHECK(ret == -E2BIG && !e, "newer events opts: %d", ret);
	CHECK(strstr(mtnl_strerror(ret), "does not know") != NULL, "%s", mtnl_strerror(ret));

	/* This test runs where the kernel has no memtrack. */
	ret = mtnl_open(&h);
	if (ret != -ENOENT) {
		printf("# skipped: mtnl_open() returned %d here (a memtrack kernel?)\n", ret);
		mtnl_close(h);
		return;
	}
	CHECK(!h, "no handle on failure");
	CHECK(strstr(mtnl_strerror(ret), "no memtrack netlink family") != NULL,
	      "%s", mtnl_strerror(ret));
	CHECK(!strcmp(mtnl_strerror(-EBADF), strerror(EBADF)), "plain errno");
}

/* Copies own everything: freeing the original leaves the copy intact. */
static void test_dup(void)
{
	struct mtnl_buffer *b = calloc(1, sizeof(*b)), *c;
	struct mtnl_proc *p = calloc(1, sizeof(*p)), *pc;
	struct mtnl_event ev = { .kind = MTNL_EVENT_INSTALL, .seq = 7 }, *ec;

	if (!b || !p)
		return;
	b->id = 42;
	b->size = 4096;
	snprintf(b->exporter, sizeof(b->exporter), "system");
	b->holder_list = calloc(2, sizeof(*b->holder_list));
	b->holder_list[1].pid = 99;
	b->nholders = 2;
	b->importer_list = calloc(1, sizeof(char *));
	b->importer_list[0] = malloc(8);
	snprintf(b->importer_list[0], 8, "gpu0");
	b->nimporters = 1;
	c = mtnl_buffer_dup(b);
	mtnl_buffer_free(b);
	CHECK(c && mtnl_buffer_id(c) == 42 && !strcmp(mtnl_buffer_exporter(c), "system"),
	      "buffer copy");
	CHECK(c && mtnl_buffer_holder_count(c) == 2 &&
	      mtnl_holder_pid(mtnl_buffer_holder(c, 1)) == 99, "holders copied");
	CHECK(c && mtnl_buffer_importer_count(c) == 1 &&
	      !strcmp(mtnl_buffer_importer(c, 0), "gpu0"), "importers copied");
	mtnl_buffer_free(c);

	p->pid = 5;
	p->bufs = calloc(3, sizeof(*p->bufs));
	p->cap = 3;
	p->nbufs = 2;
	p->bufs[1].id = 77;
	pc = mtnl_proc_dup(p);
	mtnl_proc_free(p);
	CHECK(pc && mtnl_proc_pid(pc) == 5 && mtnl_proc_buffer_count(pc) == 2 &&
	      mtnl_buffer_id(mtnl_proc_buffer(pc, 1)) == 77, "process copy");
	mtnl_proc_free(pc);

	ec = mtnl_event_dup(&ev);
	CHECK(ec && mtnl_event_seq(ec) == 7 && mtnl_event_kind(ec) == MTNL_EVENT_INSTALL,
	      "event copy");
	mtnl_event_free(ec);

	CHECK(mtnl_proc_dump_figures(NULL, NULL, NULL, NULL, NULL) == -EINVAL,
	      "mtnl_proc_dump_figures(NULL)");
	errno = 0;
	CHECK(!mtnl_event_dup(NULL) && errno == EINVAL, "mtnl_event_dup(NULL)");
	errno = 0;
	CHECK(!mtnl_proc_dup(NULL) && errno == EINVAL, "mtnl_proc_dup(NULL)");
	errno = 0;
	CHECK(!mtnl_buffer_dup(NULL) && errno == EINVAL, "mtnl_buffer_dup(NULL)");

	CHECK(!mtnl_event_buffer_new(0) && errno == EINVAL, "empty event buffer refused");
	{
		struct mtnl_event_buffer *eb = mtnl_event_buffer_new(4);

		CHECK(eb && mtnl_event_buffer_count(eb) == 0 &&
		      !mtnl_event_buffer_get(eb, 0) && errno == ERANGE, "new event buffer");
		mtnl_event_buffer_free(eb);
	}
}

/*
 * An event buffer's capacity: 0, above INT_MAX (a negative int passed as
 * size_t included) or a size that would wrap is EINVAL, before any
 * allocation.  (INT_MAX itself may succeed or fail with ENOMEM.)
 */
static void test_event_buffer_capacity(void)
{
	const size_t ev = sizeof(struct mtnl_event);
	size_t head = 2 * sizeof(size_t), fit = (SIZE_MAX - head) / ev;

	errno = 0;
	CHECK(!mtnl_event_buffer_new((size_t)-1) && errno == EINVAL, "capacity -1");
	errno = 0;
	CHECK(!mtnl_event_buffer_new((size_t)INT_MAX + 1) && errno == EINVAL,
	      "capacity INT_MAX + 1");
	errno = 0;
	CHECK(!mtnl_event_buffer_new(SIZE_MAX / ev + 1) && errno == EINVAL,
	      "capacity whose size wraps");

	/* The overflow check itself, at its edge. */
	CHECK(!mtnl__size_overflows(head, fit, ev), "largest capacity that fits");
	CHECK(mtnl__size_overflows(head, fit + 1, ev), "one more wraps");
	CHECK(mtnl__size_overflows(head, SIZE_MAX, 1), "SIZE_MAX bytes after a header");
	CHECK(!mtnl__size_overflows(0, SIZE_MAX, 1), "SIZE_MAX bytes alone");
	CHECK(!mtnl__size_overflows(head, 0, ev), "nothing after a header");
	CHECK(!mtnl__size_overflows(head, INT_MAX, ev) || SIZE_MAX <= UINT32_MAX,
	      "INT_MAX events fit a 64-bit size_t");
}

/* mtnl_strerror(): -errno and errno alike; EPERM not only about events. */
static void test_strerror(void)
{
	CHECK(!strcmp(mtnl_strerror(ENOENT), mtnl_strerror(-ENOENT)), "ENOENT, either sign");
	CHECK(!strcmp(mtnl_strerror(EPROTO), mtnl_strerror(-EPROTO)), "EPROTO, either sign");
	CHECK(!strcmp(mtnl_strerror(E2BIG), mtnl_strerror(-E2BIG)), "E2BIG, either sign");
	CHECK(!strcmp(mtnl_strerror(EBADF), strerror(EBADF)), "plain positive errno");
	CHECK(!strcmp(mtnl_strerror(-EBADF), strerror(EBADF)), "plain negative errno");
	CHECK(strstr(mtnl_strerror(-EPERM), "not permitted") != NULL &&
	      strstr(mtnl_strerror(EPERM), "CAP_NET_ADMIN") != NULL, "%s",
	      mtnl_strerror(-EPERM));
	CHECK(mtnl_strerror(INT_MIN) != NULL && mtnl_strerror(0) != NULL, "extremes");
}

int main(void)
{
	test_versions();
	test_dup();
	test_opts_copy();
	test_event_buffer_capacity();
	test_strerror();
	test_without_memtrack();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all API checks passed\n");
	return 0;
}
