// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests of the libmemtrack-nl message parser, fed crafted netlink
 * payloads: well-formed, truncated, wrong sizes, missing, unknown and
 * oversized attributes.  Each malformed input must give -EBADMSG with a
 * reason, and nothing may crash or leak (this also runs under ASan and
 * UBSan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "internal.h"

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

struct buf {
	unsigned char data[8192];
	size_t len;
	size_t nest[4];
	int depth;
};

static void put(struct buf *b, uint16_t type, const void *v, size_t n)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + n), .nla_type = type };

	memcpy(b->data + b->len, &a, sizeof(a));
	if (n)
		memcpy(b->data + b->len + NLA_HDRLEN, v, n);
	memset(b->data + b->len + NLA_HDRLEN + n, 0, NLA_ALIGN(n) - n);
	b->len += NLA_HDRLEN + NLA_ALIGN(n);
}

static void put_u32(struct buf *b, uint16_t type, uint32_t v) { put(b, type, &v, 4); }
static void put_u64(struct buf *b, uint16_t type, uint64_t v) { put(b, type, &v, 8); }
static void put_str(struct buf *b, uint16_t type, const char *s) { put(b, type, s, strlen(s) + 1); }

static void nest_start(struct buf *b, uint16_t type)
{
	b->nest[b->depth++] = b->len;
	put(b, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct buf *b)
{
	size_t start = b->nest[--b->depth];
	struct nlattr *a = (struct nlattr *)(b->data + start);

	a->nla_len = (uint16_t)(b->len - start);
}

/* A buffer nest of a proc-refs-get message: buffer @id, described. */
static void put_desc(struct buf *b, uint64_t id, uint64_t size,
		     const char *exp, const char *name)
{
	nest_start(b, MEMTRACK_A_PROC_DESC);
	put_u64(b, MEMTRACK_A_BUFFER_ID, id);
	put_u32(b, MEMTRACK_A_BUFFER_SIZE, (uint32_t)size);	/* a 4-byte uint */
	put_str(b, MEMTRACK_A_BUFFER_EXPORTER, exp);
	if (name)
		put_str(b, MEMTRACK_A_BUFFER_NAME, name);
	put_u32(b, MEMTRACK_A_BUFFER_HOLDERS, 2);
	nest_end(b);
}

static void put_proc_header(struct buf *b, uint32_t pid)
{
	put_u32(b, MEMTRACK_A_PROC_PID, pid);
	put_str(b, MEMTRACK_A_PROC_COMM, "camera");
	put_u32(b, MEMTRACK_A_PROC_NR_BUFFERS, 2);
	put_u32(b, MEMTRACK_A_PROC_NR_FDS, 3);
	put_u64(b, MEMTRACK_A_PROC_TOTAL, 3 << 20);
	put_u64(b, MEMTRACK_A_PROC_GENERATION, 77);
}

static int parse_proc(const struct buf *b, struct mtnl_proc *p, char *why)
{
	memset(p, 0, sizeof(*p));
	return mtnl__parse_proc(b->data, b->len, p, why, 160);
}

static void test_well_formed_proc(void)
{
	struct buf b = { 0 };
	struct mtnl_proc p;
	char why[160] = "";
	int ret;

	put_proc_header(&b, 42);
	put_u64(&b, MEMTRACK_A_PROC_MAPPED, 8192);
	put_u32(&b, 200, 5);	/* unknown attribute: skipped */
	ret = parse_proc(&b, &p, why);
	CHECK(ret == 0, "ret %d: %s", ret, why);
	CHECK(p.pid == 42, "pid %u", p.pid);
	CHECK(!strcmp(p.comm, "camera"), "comm %s", p.comm);
	CHECK(p.nr_buffers == 2 && p.nr_fds == 3, "counts");
	CHECK(p.total == 3 << 20, "total");
	CHECK(p.mapped == 8192, "mapped");
	CHECK(p.generation == 77, "generation");
	CHECK(!p.incomplete, "incomplete");
	CHECK(p.nbufs == 0, "a proc message lists no buffers");
	mtnl__proc_reset(&p);
}

/* A ref nest: buffer @id held through @fds fds, @mapped bytes mapped. */
static void put_ref(struct buf *b, uint64_t id, uint32_t fds, uint64_t mapped)
{
	nest_start(b, MEMTRACK_A_PROC_REF);
	put_u32(b, MEMTRACK_A_REF_ID, (uint32_t)id);	/* a 4-byte uint */
	put_u32(b, MEMTRACK_A_REF_FDS, fds);
	if (mapped)
		put_u64(b, MEMTRACK_A_REF_MAPPED, mapped);
	nest_end(b);
}

/* What a proc-refs-get message delivered, in order. */
struct seen {
	struct mtnl_refs_msg m;
	unsigned int begins;
	char order[16];		/* 'd' for a description, 'r' for a ref */
	struct mtnl_buffer desc[4];
	struct mtnl_ref_entry ref[4];
	size_t ndesc, nref;
};

static int seen_begin(const struct mtnl_refs_msg *m, void *arg)
{
	struct seen *s = arg;

	s->m = *m;
	s->begins++;
	return 0;
}

static int seen_desc(const struct mtnl_buffer *b, void *arg)
{
	struct seen *s = arg;

	if (s->ndesc == 4)
		return -ENOSPC;
	s->order[s->ndesc + s->nref] = 'd';
	s->desc[s->ndesc++] = *b;
	return 0;
}

static int seen_ref(const struct mtnl_ref_entry *r, void *arg)
{
	struct seen *s = arg;

	if (s->nref == 4)
		return -ENOSPC;
	s->order[s->ndesc + s->nref] = 'r';
	s->ref[s->nref++] = *r;
	return 0;
}

static const struct mtnl_refs_cbs seen_cbs = {
	.begin = seen_begin, .desc = seen_desc, .ref = seen_ref,
};

static int parse_refs(const struct buf *b, struct seen *s, char *why)
{
	memset(s, 0, sizeof(*s));
	return mtnl__parse_refs(b->data, b->len, &seen_cbs, s, why, 160);
}

static void test_refs(void)
{
	struct buf b = { 0 };
	struct seen s;
	char why[160] = "";
	int ret;

	/* The first message of a process: figures, then descs before refs. */
	put_proc_header(&b, 42);
	put_desc(&b, 10, 1 << 20, "system", "camera");
	put_ref(&b, 10, 2, 4096);
	put_desc(&b, 12, 4096, "udmabuf", NULL);
	put_ref(&b, 12, 1, 0);
	put_u32(&b, 200, 5);	/* an unknown attribute: skipped */
	ret = parse_refs(&b, &s, why);
	CHECK(ret == 0, "ret %d: %s", ret, why);
	CHECK(s.begins == 1 && s.m.pid == 42 && s.m.has_figures, "figures");
	CHECK(s.m.figures.nr_buffers == 2 && s.m.figures.total == 3 << 20,
	      "figures' values");
	CHECK(!strcmp(s.m.figures.comm, "camera"), "comm %s", s.m.figures.comm);
	CHECK(!strcmp(s.order, "drdr"), "order %s", s.order);
	CHECK(s.desc[0].id == 10 && s.desc[1].id == 12 && s.desc[0].holders == 2 &&
	      !strcmp(s.desc[0].name, "camera") && !strcmp(s.desc[1].exporter, "udmabuf") &&
	      s.desc[1].name[0] == '\0', "descriptions");
	CHECK(s.ref[0].id == 10 && s.ref[0].fds == 2 && s.ref[0].mapped == 4096 &&
	      s.ref[1].id == 12 && s.ref[1].mapped == 0 && s.ref[1].handles == 0,
	      "refs");

	/* A continuation: pid and refs, no figures; or even no ref. */
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 42);
	put_ref(&b, 13, 1, 0);
	CHECK(parse_refs(&b, &s, why) == 0, "%s", why);
	CHECK(s.begins == 1 && !s.m.has_figures && s.nref == 1, "continuation");
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 42);
	CHECK(parse_refs(&b, &s, why) == 0 && s.nref == 0, "empty continuation");

	/* A ref without an fd count, a message without a pid. */
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 42);
	nest_start(&b, MEMTRACK_A_PROC_REF);
	put_u32(&b, MEMTRACK_A_REF_ID, 5);
	nest_end(&b);
	CHECK(parse_refs(&b, &s, why) == -EBADMSG && why[0], "ref without fds");
	memset(&b, 0, sizeof(b));
	put_ref(&b, 5, 1, 0);
	CHECK(parse_refs(&b, &s, why) == -EBADMSG && s.begins == 0, "no pid");
	/* A description without holders; an id of 2 bytes. */
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 42);
	nest_start(&b, MEMTRACK_A_PROC_DESC);
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 10);
	put_u32(&b, MEMTRACK_A_BUFFER_SIZE, 10);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	nest_end(&b);
	CHECK(parse_refs(&b, &s, why) == -EBADMSG, "description without holders");
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 42);
	nest_start(&b, MEMTRACK_A_PROC_REF);
	put(&b, MEMTRACK_A_REF_ID, "ab", 2);
	put_u32(&b, MEMTRACK_A_REF_FDS, 1);
	nest_end(&b);
	CHECK(parse_refs(&b, &s, why) == -EBADMSG, "2-byte ref id");
	/* What a callback returns stops the walk. */
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 42);
	put_desc(&b, 1, 1, "a", NULL);
	put_desc(&b, 2, 1, "a", NULL);
	put_desc(&b, 3, 1, "a", NULL);
	put_desc(&b, 4, 1, "a", NULL);
	put_desc(&b, 5, 1, "a", NULL);
	CHECK(parse_refs(&b, &s, why) == -ENOSPC, "callback's error");
}

static void test_event(void)
{
	struct buf b = { 0 };
	struct mtnl_event ev;
	char why[160] = "";
	int ret;

	put_u64(&b, MEMTRACK_A_EVENT_SEQ, 9);
	put_u32(&b, MEMTRACK_A_EVENT_PID, 42);
	put_u32(&b, MEMTRACK_A_EVENT_REASON, MEMTRACK_REASON_EXIT);
	put_u64(&b, MEMTRACK_A_EVENT_TOTAL, 0);
	put_u32(&b, MEMTRACK_A_EVENT_NR_BUFFERS, 0);
	nest_start(&b, MEMTRACK_A_EVENT_BUFFER);
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 10);
	put_u64(&b, MEMTRACK_A_BUFFER_SIZE, 4096);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	put_u32(&b, MEMTRACK_A_BUFFER_HOLDERS, 1);
	nest_end(&b);
	ret = mtnl__parse_event(MEMTRACK_CMD_PROC_BUFFER_DEL_NTF, b.data, b.len,
				&ev, why, sizeof(why));
	CHECK(ret == 0, "ret %d: %s", ret, why);
	CHECK(ev.kind == MTNL_EVENT_UNINSTALL && ev.pid == 42 && ev.seq == 9, "event");
	CHECK(ev.reason == MEMTRACK_REASON_EXIT, "reason %u", ev.reason);
	CHECK(ev.has_buffer && ev.buffer.id == 10 && ev.buffer.holders == 1, "buffer");
	/* Commands this library does not know are left to newer libraries. */
	CHECK(mtnl__parse_event(200, b.data, b.len, &ev, why, sizeof(why)) == -ENOMSG,
	      "unknown command");
}

static void expect_bad(const struct buf *b, const char *what)
{
	struct mtnl_proc p;
	char why[160] = "";
	int ret = parse_proc(b, &p, why);

	CHECK(ret == -EBADMSG, "%s: ret %d", what, ret);
	CHECK(why[0], "%s: no reason given", what);
	mtnl__proc_reset(&p);
}

static void test_malformed(void)
{
	struct buf b;
	static const struct mtnl_refs_cbs none;
	char big[300], why[160];
	uint16_t u16 = 1;

	/* Truncated: cut the message inside an attribute. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	b.len -= 6;
	expect_bad(&b, "truncated");

	/* An attribute header claiming more than there is. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	((struct nlattr *)b.data)->nla_len = 2000;
	expect_bad(&b, "overlong attribute");

	/* An attribute length below the header size. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	((struct nlattr *)b.data)->nla_len = 2;
	expect_bad(&b, "short attribute");

	/* Wrong sizes. */
	memset(&b, 0, sizeof(b));
	put(&b, MEMTRACK_A_PROC_PID, &u16, 2);
	put_u64(&b, MEMTRACK_A_PROC_TOTAL, 1);
	expect_bad(&b, "2-byte pid");

	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 1);
	put(&b, MEMTRACK_A_PROC_TOTAL, &u16, 2);
	expect_bad(&b, "2-byte uint");

	/* Missing attributes. */
	memset(&b, 0, sizeof(b));
	put_u64(&b, MEMTRACK_A_PROC_TOTAL, 1);
	expect_bad(&b, "no pid");

	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 1);
	expect_bad(&b, "no total");

	/* Strings: unterminated and oversized. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	put(&b, MEMTRACK_A_PROC_COMM, "abc", 3);
	expect_bad(&b, "unterminated comm");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	put_str(&b, MEMTRACK_A_PROC_COMM, big);
	expect_bad(&b, "oversized comm");

	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 1);
	nest_start(&b, MEMTRACK_A_PROC_DESC);
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 5);
	put_u32(&b, MEMTRACK_A_BUFFER_SIZE, 5);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	put_str(&b, MEMTRACK_A_BUFFER_NAME, big);
	put_u32(&b, MEMTRACK_A_BUFFER_HOLDERS, 1);
	nest_end(&b);
	CHECK(mtnl__parse_refs(b.data, b.len, &none, NULL, why, sizeof(why)) == -EBADMSG,
	      "oversized name");

	/* A counter too large for the library's 32 bits. */
	memset(&b, 0, sizeof(b));
	put_u32(&b, MEMTRACK_A_PROC_PID, 1);
	put_u64(&b, MEMTRACK_A_PROC_TOTAL, 1);
	put_u64(&b, MEMTRACK_A_PROC_NR_FDS, 1ULL << 33);
	expect_bad(&b, "64-bit count");

	/* A flag with a payload, and a pid of zero. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	put_u32(&b, MEMTRACK_A_PROC_INCOMPLETE, 1);
	expect_bad(&b, "flag with data");

	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 0);
	expect_bad(&b, "pid 0");
}

static void test_system_buffer(void)
{
	struct mtnl_buffer mb;
	struct buf b = { 0 };
	char why[160] = "";

	put_u64(&b, MEMTRACK_A_BUFFER_ID, 9);
	put_u64(&b, MEMTRACK_A_BUFFER_SIZE, 8192);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	put_u32(&b, MEMTRACK_A_BUFFER_HOLDERS, 0);
	CHECK(mtnl__parse_buffer(b.data, b.len, &mb, why, sizeof(why)) == 0, "%s", why);
	CHECK(mb.holders == 0 && mb.size == 8192, "holders %lld", (long long)mb.holders);

	memset(&b, 0, sizeof(b));
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 9);
	put_u64(&b, MEMTRACK_A_BUFFER_SIZE, 8192);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	CHECK(mtnl__parse_buffer(b.data, b.len, &mb, why, sizeof(why)) == -EBADMSG,
	      "system buffer without holders");

	/* Empty input. */
	CHECK(mtnl__parse_buffer(b.data, 0, &mb, why, sizeof(why)) == -EBADMSG, "empty");

	/* The devices attached to it, in the reply about one buffer. */
	memset(&b, 0, sizeof(b));
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 9);
	put_u64(&b, MEMTRACK_A_BUFFER_SIZE, 8192);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	put_u32(&b, MEMTRACK_A_BUFFER_HOLDERS, 0);
	put_str(&b, MEMTRACK_A_BUFFER_IMPORTER, "0000:00:02.0");
	put_str(&b, MEMTRACK_A_BUFFER_IMPORTER, "memtrack_test");
	CHECK(mtnl__parse_buffer(b.data, b.len, &mb, why, sizeof(why)) == 0, "%s", why);
	CHECK(mb.nimporters == 2 && !strcmp(mb.importer_list[0], "0000:00:02.0") &&
	      !strcmp(mb.importer_list[1], "memtrack_test"), "importers");
	mtnl__buffer_reset(&mb);
	/* An importer name without its NUL is refused, and leaks nothing. */
	put(&b, MEMTRACK_A_BUFFER_IMPORTER, "gpu", 3);
	CHECK(mtnl__parse_buffer(b.data, b.len, &mb, why, sizeof(why)) == -EBADMSG,
	      "unterminated importer");
	CHECK(mb.nimporters == 0 && !mb.importer_list, "importers freed on error");
}

int main(void)
{
	test_well_formed_proc();
	test_refs();
	test_event();
	test_malformed();
	test_system_buffer();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all parser checks passed\n");
	return 0;
}
