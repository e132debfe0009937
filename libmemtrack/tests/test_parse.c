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

static void put_proc_buffer(struct buf *b, uint64_t id, uint64_t size,
			    const char *exp, const char *name, uint32_t fds)
{
	nest_start(b, MEMTRACK_A_PROC_BUFFER);
	put_u64(b, MEMTRACK_A_BUFFER_ID, id);
	put_u32(b, MEMTRACK_A_BUFFER_SIZE, (uint32_t)size);	/* a 4-byte uint */
	put_str(b, MEMTRACK_A_BUFFER_EXPORTER, exp);
	if (name)
		put_str(b, MEMTRACK_A_BUFFER_NAME, name);
	put_u32(b, MEMTRACK_A_BUFFER_FDS, fds);
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
	return mtnl__parse_proc(b->data, b->len, p, false, why, 160);
}

static void test_well_formed_proc(void)
{
	struct buf b = { 0 };
	struct mtnl_proc p;
	char why[160] = "";
	int ret;

	put_proc_header(&b, 42);
	put_proc_buffer(&b, 10, 1 << 20, "system", "camera", 2);
	put_proc_buffer(&b, 11, 2 << 20, "udmabuf", NULL, 1);
	put_u32(&b, 200, 5);	/* unknown attribute: skipped */
	ret = parse_proc(&b, &p, why);
	CHECK(ret == 0, "ret %d: %s", ret, why);
	CHECK(p.pid == 42, "pid %u", p.pid);
	CHECK(!strcmp(p.comm, "camera"), "comm %s", p.comm);
	CHECK(p.nr_buffers == 2 && p.nr_fds == 3, "counts");
	CHECK(p.total == 3 << 20, "total");
	CHECK(p.generation == 77, "generation");
	CHECK(!p.incomplete, "incomplete");
	CHECK(p.nbufs == 2, "nbufs %zu", p.nbufs);
	if (p.nbufs == 2) {
		CHECK(p.bufs[0].id == 10 && p.bufs[0].size == 1 << 20, "buf0");
		CHECK(!strcmp(p.bufs[0].name, "camera"), "name");
		CHECK(p.bufs[0].fds == 2 && p.bufs[0].holders == -1, "fds");
		CHECK(!strcmp(p.bufs[1].exporter, "udmabuf"), "exporter");
		CHECK(!strcmp(p.bufs[1].name, ""), "no name");
	}
	mtnl__proc_reset(&p);
}

static void test_continuation(void)
{
	struct buf b1 = { 0 }, b2 = { 0 }, b3 = { 0 };
	struct mtnl_proc p;
	char why[160] = "";

	put_proc_header(&b1, 42);
	put_proc_buffer(&b1, 10, 4096, "system", NULL, 1);
	put_proc_header(&b2, 42);
	put_proc_buffer(&b2, 12, 4096, "system", NULL, 1);
	CHECK(parse_proc(&b1, &p, why) == 0, "%s", why);
	CHECK(mtnl__parse_proc(b2.data, b2.len, &p, true, why, sizeof(why)) == 0,
	      "%s", why);
	CHECK(p.nbufs == 2, "nbufs %zu", p.nbufs);
	/* A continuation must not go backwards or change pid. */
	CHECK(mtnl__parse_proc(b1.data, b1.len, &p, true, why, sizeof(why)) == -EBADMSG,
	      "order");
	put_proc_header(&b3, 43);
	CHECK(mtnl__parse_proc(b3.data, b3.len, &p, true, why, sizeof(why)) == -EBADMSG,
	      "pid change");
	mtnl__proc_reset(&p);
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
	char big[300];
	uint16_t u16 = 1;

	/* Truncated: cut the message inside an attribute. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	put_proc_buffer(&b, 10, 4096, "system", NULL, 1);
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

	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	nest_start(&b, MEMTRACK_A_PROC_BUFFER);
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 5);
	nest_end(&b);
	expect_bad(&b, "buffer without size");

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
	put_proc_header(&b, 1);
	nest_start(&b, MEMTRACK_A_PROC_BUFFER);
	put_u64(&b, MEMTRACK_A_BUFFER_ID, 5);
	put_u64(&b, MEMTRACK_A_BUFFER_SIZE, 5);
	put_str(&b, MEMTRACK_A_BUFFER_EXPORTER, "system");
	put_str(&b, MEMTRACK_A_BUFFER_NAME, big);
	put_u32(&b, MEMTRACK_A_BUFFER_FDS, 1);
	nest_end(&b);
	expect_bad(&b, "oversized name");

	/* A flag with a payload, and a pid of zero. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	put_u32(&b, MEMTRACK_A_PROC_INCOMPLETE, 1);
	expect_bad(&b, "flag with data");

	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 0);
	expect_bad(&b, "pid 0");

	/* Nested garbage. */
	memset(&b, 0, sizeof(b));
	put_proc_header(&b, 1);
	put(&b, MEMTRACK_A_PROC_BUFFER | NLA_F_NESTED, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	expect_bad(&b, "nested garbage");
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
}

int main(void)
{
	test_well_formed_proc();
	test_continuation();
	test_malformed();
	test_system_buffer();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all parser checks passed\n");
	return 0;
}
