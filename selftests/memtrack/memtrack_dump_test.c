// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack dump selftests: resumption across many recv() calls with a
 * small receive buffer, over 1,000 processes and over one process whose
 * buffers span several rounds, checked against /proc/PID/fdinfo; the
 * cost of one process independent of the rest; NLM_F_DUMP_INTR scoped
 * to the process that changed; the compact dump (proc-refs-get) against
 * the truth and the pair dump.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

#define NR_CHILDREN 1000
#define NR_SPLIT_BUFFERS 300
#define SMALL_RECV 8192

FIXTURE(dump)
{
	struct mt_nl nl;
};

FIXTURE_SETUP(dump)
{
	int ret = mt_nl_open(&self->nl);

	ASSERT_EQ(0, ret) TH_LOG("cannot open the memtrack family: %s",
				 strerror(-ret));
}

FIXTURE_TEARDOWN(dump)
{
	mt_nl_close(&self->nl);
}

static const struct mt_proc *find_pid(const struct mt_proc_list *l, uint32_t pid)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (l->procs[i].pid == pid)
			return &l->procs[i];
	return NULL;
}

TEST_F_TIMEOUT(dump, resumes_over_1000_processes, 900)
{
	int shared = mt_heap_alloc(64 * 1024);
	int ready[2], go[2], small = SMALL_RECV;
	pid_t *pids = calloc(NR_CHILDREN, sizeof(*pids));
	struct mt_proc_list l;
	struct mt_buf_list bl;
	const struct mt_buf *sb;
	unsigned int i, seen = 0;
	char ch;

	ASSERT_NE(NULL, pids);
	ASSERT_GE(shared, 0);
	ASSERT_EQ(0, mt_set_name(shared, "shared"));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));

	for (i = 0; i < NR_CHILDREN; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			/* Each child: the shared buffer, plus one of its own
			 * for every tenth child.
			 */
			close(ready[0]);
			close(go[1]);
			if (i % 10 == 0 && mt_udmabuf_alloc(4096) < 0)
				_exit(1);
			ch = 'r';
			if (write(ready[1], &ch, 1) != 1)
				_exit(2);
			if (read(go[0], &ch, 1) < 0)
				_exit(3);
			_exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < NR_CHILDREN; i++)
		ASSERT_EQ(1, read(ready[0], &ch, 1));

	/* A small receive buffer forces many dump rounds. */
	ASSERT_EQ(0, setsockopt(self->nl.fd, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, mt_proc_dump(&self->nl, 0, SMALL_RECV, &l))
		TH_LOG("dump: %s", self->nl.extack);
	TH_LOG("%u processes in %u messages over %u recv() calls",
	       l.n, l.messages, self->nl.recvs);
	EXPECT_GT(self->nl.recvs, 10);
	EXPECT_FALSE(l.bad_order);

	for (i = 0; i < NR_CHILDREN; i++) {
		const struct mt_proc *p = find_pid(&l, pids[i]);
		struct mt_proc truth;
		const char *why;

		ASSERT_NE(NULL, p) TH_LOG("child %d missing from the dump", pids[i]);
		ASSERT_EQ(1, p->messages) TH_LOG("child %d listed twice", pids[i]);
		ASSERT_EQ(0, mt_truth_read(pids[i], &truth));
		why = mt_proc_diff(p, &truth);
		EXPECT_TRUE(!why) TH_LOG("child %d: %s", pids[i], why);
		mt_proc_free(&truth);
		if (mt_proc_find(p, mt_fd_ino(shared)))
			seen++;
	}
	EXPECT_EQ(NR_CHILDREN, seen);
	/* No pid appears twice anywhere in the dump. */
	for (i = 1; i < l.n; i++)
		EXPECT_LT(l.procs[i - 1].pid, l.procs[i].pid);
	mt_proc_list_free(&l);

	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &bl));
	sb = mt_buf_list_find(&bl, mt_fd_ino(shared));
	ASSERT_NE(NULL, sb);
	EXPECT_EQ(NR_CHILDREN + 1, sb->holders);
	EXPECT_STREQ("shared", sb->name);
	free(bl.bufs);

	close(go[1]);
	for (i = 0; i < NR_CHILDREN; i++) {
		int status;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_EQ(0, status);
	}
	ASSERT_EQ(0, mt_buffer_dump(&self->nl, &bl));
	sb = mt_buf_list_find(&bl, mt_fd_ino(shared));
	ASSERT_NE(NULL, sb);
	EXPECT_EQ(1, sb->holders);
	free(bl.bufs);
	free(pids);
}

/*
 * A process holding 300 buffers: its proc-get reply is one small message
 * (figures only), and its buffers come from proc-buffer-get, one message
 * each, over several receive rounds, resumed in order.
 */
TEST_F_TIMEOUT(dump, large_process_is_one_small_reply_and_a_resumable_list, 300)
{
	struct mt_proc_list l;
	struct mt_proc truth, single;
	const char *why;
	char name[32];
	int i;

	for (i = 0; i < NR_SPLIT_BUFFERS; i++) {
		int fd = mt_heap_alloc(4096);

		ASSERT_GE(fd, 0) TH_LOG("allocation %d: %s", i, strerror(-fd));
		snprintf(name, sizeof(name), "split-%03d-padding-to-the-max", i);
		ASSERT_EQ(0, mt_set_name(fd, name));
	}

	ASSERT_EQ(0, mt_proc_dump(&self->nl, getpid(), SMALL_RECV, &l))
		TH_LOG("dump: %s", self->nl.extack);
	ASSERT_EQ(1, l.n);
	TH_LOG("%u buffers over %u recv() calls; process message %u bytes",
	       l.procs[0].nbufs, self->nl.recvs, l.max_proc_len);
	EXPECT_EQ(1, l.procs[0].messages);
	EXPECT_LT(l.max_proc_len, 256);
	EXPECT_GT(self->nl.recvs, 1);
	EXPECT_FALSE(self->nl.dump_intr);
	EXPECT_FALSE(l.bad_order);
	EXPECT_EQ(NR_SPLIT_BUFFERS, l.procs[0].nbufs);
	EXPECT_EQ(NR_SPLIT_BUFFERS, l.procs[0].nr_buffers);
	ASSERT_EQ(0, mt_truth_read(getpid(), &truth));
	why = mt_proc_diff(&l.procs[0], &truth);
	EXPECT_TRUE(!why) TH_LOG("dump: %s", why);

	ASSERT_EQ(0, mt_proc_get(&self->nl, getpid(), &single));
	EXPECT_EQ(1, single.messages);
	why = mt_proc_diff(&single, &truth);
	EXPECT_TRUE(!why) TH_LOG("do: %s", why);
	mt_proc_free(&single);
	mt_proc_free(&truth);
	mt_proc_list_free(&l);
}

/*
 * Rounds of a pair dump end inside processes, not only between them:
 * 60 processes with 5 buffers each, read in 8 KiB rounds, are listed
 * with every buffer exactly once.
 */
TEST_F_TIMEOUT(dump, pairs_resume_inside_a_process, 300)
{
	int ready[2], go[2], i, j;
	struct mt_proc_list l;
	pid_t pids[60];
	char c;

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	for (i = 0; i < 60; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			close(go[1]);
			for (j = 0; j < 5; j++)
				if (mt_heap_alloc(4096) < 0)
					_exit(1);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
				_exit(2);
			_exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < 60; i++)
		ASSERT_EQ(1, read(ready[0], &c, 1));

	ASSERT_EQ(0, mt_proc_dump(&self->nl, 0, SMALL_RECV, &l));
	EXPECT_GT(self->nl.recvs, 2);
	EXPECT_FALSE(l.bad_order);
	for (i = 0; i < 60; i++) {
		const struct mt_proc *p = find_pid(&l, pids[i]);

		ASSERT_NE(NULL, p);
		EXPECT_EQ(5, p->nr_buffers);
		EXPECT_EQ(5, p->nbufs) TH_LOG("pid %d listed %u buffers", pids[i], p->nbufs);
	}
	mt_proc_list_free(&l);
	close(go[1]);
	for (i = 0; i < 60; i++)
		ASSERT_EQ(pids[i], waitpid(pids[i], NULL, 0));
}

/* Query one process: its proc-get message length and how many pairs. */
static int query_one(struct mt_nl *nl, pid_t pid, unsigned int *len,
		     unsigned int *pairs, unsigned int *recvs)
{
	struct mt_proc_list l;
	int ret = mt_proc_query(nl, false, pid, NULL, NULL, &l);

	if (ret)
		return ret;
	*len = l.max_proc_len;
	*pairs = l.n == 1 ? l.procs[0].nbufs : ~0U;
	*recvs = nl->recvs;
	mt_proc_list_free(&l);
	return 0;
}

/*
 * What one process costs to read depends on that process only: another
 * process taking 900 more buffers changes neither the size of its
 * figures nor the messages that list its buffers.
 */
TEST_F_TIMEOUT(dump, one_process_reply_does_not_grow_with_the_system, 300)
{
	unsigned int len1, pairs1, recvs1, len2, pairs2, recvs2;
	int ready[2], go[2], fd;
	pid_t other;
	char c;

	fd = mt_heap_alloc(4096);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, query_one(&self->nl, getpid(), &len1, &pairs1, &recvs1));
	ASSERT_EQ(1, pairs1);

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	other = fork();
	ASSERT_GE(other, 0);
	if (other == 0) {
		close(go[1]);
		close(ready[0]);
		for (int i = 0; i < 900; i++)
			if (mt_heap_alloc(4096) < 0)
				_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("the other process failed");

	ASSERT_EQ(0, query_one(&self->nl, getpid(), &len2, &pairs2, &recvs2));
	EXPECT_EQ(len1, len2);
	EXPECT_EQ(1, pairs2);
	EXPECT_EQ(recvs1, recvs2);

	close(go[1]);
	ASSERT_EQ(other, waitpid(other, NULL, 0));
	close(fd);
}

/*
 * NLM_F_DUMP_INTR is scoped to what the dump returns: a process whose
 * buffers span rounds and that changes in between is flagged; churn in
 * another process is not.
 */
TEST_F_TIMEOUT(dump, dump_intr_follows_only_the_listed_process, 300)
{
	int i, fds[200], ready[2], stop[2];
	struct mt_proc_list l;
	pid_t churn;
	char c;

	for (i = 0; i < 200; i++) {
		fds[i] = mt_heap_alloc(4096);
		ASSERT_GE(fds[i], 0);
	}
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(stop, O_CLOEXEC));
	churn = fork();
	ASSERT_GE(churn, 0);
	if (churn == 0) {
		/* Allocate and close buffers until told to stop. */
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(stop[0], &c, 1) < 0) {
			int fd = mt_heap_alloc(4096);

			if (fd < 0)
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));

	/* Our 200 buffers take several rounds, while the churn runs. */
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, mt_proc_dump(&self->nl, getpid(), SMALL_RECV, &l));
		EXPECT_FALSE(self->nl.dump_intr);
		EXPECT_GT(self->nl.recvs, 2);
		ASSERT_EQ(1, l.n);
		EXPECT_EQ(200, l.procs[0].nbufs);
		mt_proc_list_free(&l);
	}
	ASSERT_EQ(1, write(stop[1], "s", 1));
	ASSERT_EQ(churn, waitpid(churn, NULL, 0));
	for (i = 0; i < 200; i++)
		close(fds[i]);
}

TEST_F(dump, abandoned_and_interrupted_dumps_are_harmless)
{
	struct mt_proc_list l;
	struct mt_msg m;
	int i, fds[200];
	char buf[4096];

	/* Enough for several dump rounds of one process. */
	for (i = 0; i < 200; i++) {
		fds[i] = mt_heap_alloc(4096);
		ASSERT_GE(fds[i], 0);
		ASSERT_EQ(0, mt_set_name(fds[i], "abandoned-dump-test-buffer"));
	}
	/* Start dumps and walk away: read one chunk, then close. */
	for (i = 0; i < 20; i++) {
		struct mt_nl nl;

		ASSERT_EQ(0, mt_nl_open(&nl));
		nl.seq++;
		mt_msg_init(&m, &nl, nl.family, NLM_F_DUMP, MEMTRACK_CMD_PROC_GET);
		ASSERT_EQ(0, mt_nl_send(&nl, &m));
		if (i & 1)
			ASSERT_LT(0, recv(nl.fd, buf, sizeof(buf), 0));
		mt_nl_close(&nl);
	}
	/*
	 * A process that changes while its buffers are listed over several
	 * rounds is flagged with NLM_F_DUMP_INTR.  Reading the first round
	 * runs the second, so the change lands before the third.
	 */
	self->nl.seq++;
	mt_msg_init(&m, &self->nl, self->nl.family, NLM_F_DUMP,
		    MEMTRACK_CMD_PROC_BUFFER_GET);
	mt_put_u32(&m, MEMTRACK_A_PROC_BUFFER_PID, getpid());
	ASSERT_EQ(0, mt_nl_send(&self->nl, &m));
	ASSERT_LT(0, recv(self->nl.fd, buf, 2048, 0));	/* first round */
	close(fds[199]);
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, mt_nl_recv_loop(&self->nl, mt_proc_list_cb, &l, 32768));
	EXPECT_TRUE(self->nl.dump_intr);
	mt_proc_list_free(&l);

	ASSERT_EQ(0, mt_proc_dump(&self->nl, getpid(), 32768, &l));
	EXPECT_FALSE(self->nl.dump_intr);
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(199, l.procs[0].nbufs);
	mt_proc_list_free(&l);
}

/*
 * proc-refs-get against ground truth and against the pair dump: 20
 * children that inherit 100 shared buffers and map one of their own,
 * read in small rounds.  Each buffer is described once in the dump,
 * each child, which fits in a round, comes in one message, and a ref
 * takes 16 bytes of nest, 24 with mapped.
 */
TEST_F_TIMEOUT(dump, refs_match_truth_and_the_pair_dump, 300)
{
	int shared[100], ready[2], go[2], i;
	struct mt_refs_dump d;
	struct mt_proc_list pairs;
	pid_t pids[21];
	char c;

	for (i = 0; i < 100; i++) {
		shared[i] = mt_heap_alloc(4096 * (1 + i % 3));
		ASSERT_GE(shared[i], 0);
	}
	ASSERT_EQ(0, mt_set_name(shared[7], "refs-tagged"));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	for (i = 0; i < 20; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (pids[i] == 0) {
			int own = mt_udmabuf_alloc(8192);

			close(go[1]);
			if (own < 0 || mmap(NULL, 8192, PROT_READ, MAP_SHARED,
					    own, 0) == MAP_FAILED)
				_exit(1);
			/* Held through the mapping only, from now on. */
			close(own);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
				_exit(2);
			_exit(0);
		}
	}
	pids[20] = getpid();
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < 20; i++)
		ASSERT_EQ(1, read(ready[0], &c, 1));

	ASSERT_EQ(0, mt_proc_refs(&self->nl, 0, NULL, SMALL_RECV, &d))
		TH_LOG("dump: %s", self->nl.extack);
	EXPECT_STREQ("", d.bad);
	EXPECT_FALSE(d.l.bad_order);
	EXPECT_FALSE(self->nl.dump_intr);
	EXPECT_GT(self->nl.recvs, 2);
	EXPECT_EQ(0, d.restarted);
	EXPECT_EQ(d.meta.n, d.described) TH_LOG("a buffer was described twice");
	/* id, fds and mapped (8,192), each a 4-byte uint: 24 bytes of nest. */
	EXPECT_EQ(24, d.max_ref_bytes);
	TH_LOG("%lu bytes for %u messages", d.bytes, d.l.messages);
	/* 2,120 pairs: well under the 120 or so bytes of a pair message. */
	EXPECT_LT(d.bytes, 40 * 2120);
	ASSERT_EQ(0, mt_proc_dump(&self->nl, 0, 65536, &pairs));
	for (i = 0; i < 21; i++) {
		const struct mt_proc *p = find_pid(&d.l, pids[i]);
		const struct mt_proc *q = find_pid(&pairs, pids[i]);
		struct mt_proc truth;
		const char *why;
		unsigned int j;

		ASSERT_NE(NULL, p) TH_LOG("pid %d missing", pids[i]);
		ASSERT_NE(NULL, q);
		EXPECT_EQ(i < 20 ? 101 : 100, p->nbufs);
		/* A child fits in a round: one message, under its locks. */
		if (i < 20)
			EXPECT_EQ(1, p->messages) TH_LOG("pid %d split", pids[i]);
		ASSERT_EQ(0, mt_truth_read(pids[i], &truth));
		why = mt_proc_diff(p, &truth);
		EXPECT_TRUE(!why) TH_LOG("pid %d: %s", pids[i], why);
		mt_proc_free(&truth);
		/* The figures are those proc-get sends; so are the pairs. */
		EXPECT_EQ(q->total, p->total);
		EXPECT_EQ(q->pss, p->pss);
		EXPECT_EQ(q->unique, p->unique);
		EXPECT_EQ(q->hwm, p->hwm);
		EXPECT_EQ(q->mapped, p->mapped);
		EXPECT_EQ(q->nr_fds, p->nr_fds);
		ASSERT_EQ(q->nbufs, p->nbufs);
		for (j = 0; j < p->nbufs; j++) {
			EXPECT_EQ(q->bufs[j].id, p->bufs[j].id);
			EXPECT_EQ(q->bufs[j].holders, p->bufs[j].holders);
			EXPECT_EQ(q->bufs[j].mapped, p->bufs[j].mapped);
		}
	}
	for (i = 0; i < 100; i++) {
		const struct mt_buf *m = mt_refs_meta(&d, mt_fd_ino(shared[i]));

		ASSERT_NE(NULL, m);
		EXPECT_EQ(21, m->holders);
		EXPECT_EQ(4096 * (1 + i % 3), m->size);
	}
	mt_proc_list_free(&pairs);
	mt_refs_dump_free(&d);

	/* Filtered: one buffer per process, described once. */
	ASSERT_EQ(0, mt_proc_refs(&self->nl, 0, "refs-tagged", SMALL_RECV, &d));
	EXPECT_STREQ("", d.bad);
	EXPECT_EQ(1, d.described);
	for (i = 0; i < 21; i++) {
		const struct mt_proc *p = find_pid(&d.l, pids[i]);

		ASSERT_NE(NULL, p);
		ASSERT_EQ(1, p->nbufs);
		EXPECT_EQ(1, p->nr_buffers);
		EXPECT_EQ(mt_fd_ino(shared[7]), p->bufs[0].id);
		EXPECT_EQ(p->bufs[0].size, p->total);
		EXPECT_EQ(1, p->bufs[0].fds);
		EXPECT_STREQ("refs-tagged", p->bufs[0].name);
	}
	/* No process maps the tagged buffer: id and fds only. */
	EXPECT_EQ(16, d.max_ref_bytes);
	mt_refs_dump_free(&d);

	close(go[1]);
	for (i = 0; i < 20; i++) {
		int status;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_EQ(0, status);
	}
	for (i = 0; i < 100; i++)
		close(shared[i]);
}

/* Feed the messages of one round, received by hand, to mt_refs_cb(). */
static void refs_feed(const char *buf, ssize_t len, struct mt_refs_dump *d)
{
	const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;

	for (; len > 0 && NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len))
		if (nh->nlmsg_type != NLMSG_DONE && nh->nlmsg_type != NLMSG_ERROR)
			mt_refs_cb(nh, d);
}

/* Start a proc-refs-get dump of @pid on a fresh socket; read one round. */
static int refs_first_round(struct mt_nl *nl, pid_t pid, struct mt_refs_dump *d)
{
	static char buf[8192];
	struct mt_msg m;
	ssize_t len;

	memset(d, 0, sizeof(*d));
	if (mt_nl_open(nl))
		return -1;
	nl->seq++;
	mt_msg_init(&m, nl, nl->family, NLM_F_DUMP, MEMTRACK_CMD_PROC_REFS_GET);
	mt_put_u32(&m, MEMTRACK_A_PROC_PID, pid);
	if (mt_nl_send(nl, &m))
		return -1;
	/*
	 * The family lookup read with 8 KiB, so rounds are of 8 KiB at most
	 * and none is truncated.
	 */
	len = recv(nl->fd, buf, sizeof(buf), 0);
	if (len <= 0)
		return -1;
	refs_feed(buf, len, d);
	return 0;
}

/*
 * A process with 300 named buffers does not fit in one message: it
 * continues over several, its figures in the first only, and adds up
 * to the truth.  One that changes while it is listed is sent again from
 * its figures, and the result is exact; one that exits while it is
 * listed ends the dump with NLM_F_DUMP_INTR.  Dumps abandoned midway
 * free what they hold (the debug kernel's kmemleak scan checks it).
 */
TEST_F_TIMEOUT(dump, refs_continue_a_large_process, 300)
{
	struct mt_refs_dump d;
	struct mt_proc truth;
	struct mt_msg m;
	struct mt_nl nl;
	char name[32], buf[2048];
	const char *why;
	int i, fds[NR_SPLIT_BUFFERS], ready[2];
	pid_t child;

	for (i = 0; i < NR_SPLIT_BUFFERS; i++) {
		fds[i] = mt_heap_alloc(4096);
		ASSERT_GE(fds[i], 0);
		snprintf(name, sizeof(name), "split-%03d-padding-to-the-max", i);
		ASSERT_EQ(0, mt_set_name(fds[i], name));
	}
	ASSERT_EQ(0, mt_proc_refs(&self->nl, getpid(), NULL, SMALL_RECV, &d));
	EXPECT_STREQ("", d.bad);
	ASSERT_EQ(1, d.l.n);
	EXPECT_GT(d.continued, 0);
	EXPECT_EQ(1 + d.continued, d.l.messages);
	EXPECT_FALSE(self->nl.dump_intr);
	EXPECT_FALSE(d.l.bad_order);
	EXPECT_EQ(NR_SPLIT_BUFFERS, d.described);
	EXPECT_EQ(NR_SPLIT_BUFFERS, d.l.procs[0].nbufs);
	ASSERT_EQ(0, mt_truth_read(getpid(), &truth));
	why = mt_proc_diff(&d.l.procs[0], &truth);
	EXPECT_TRUE(!why) TH_LOG("%s", why);
	mt_proc_free(&truth);
	mt_refs_dump_free(&d);

	/*
	 * In 32 KiB rounds (the first dump raises the socket's round size),
	 * a message stops at the 248 buffers it may describe and the next
	 * goes on in the same round.
	 */
	ASSERT_EQ(0, mt_proc_refs(&self->nl, getpid(), NULL, 32768, &d));
	mt_refs_dump_free(&d);
	ASSERT_EQ(0, mt_proc_refs(&self->nl, getpid(), NULL, 32768, &d));
	EXPECT_STREQ("", d.bad);
	EXPECT_EQ(248, d.max_descs);
	EXPECT_EQ(NR_SPLIT_BUFFERS, d.described);
	EXPECT_EQ(2, d.l.messages);
	ASSERT_EQ(1, d.l.n);
	EXPECT_EQ(NR_SPLIT_BUFFERS, d.l.procs[0].nbufs);
	mt_refs_dump_free(&d);

	/* Abandoned after the first round, or before reading anything. */
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, mt_nl_open(&nl));
		nl.seq++;
		mt_msg_init(&m, &nl, nl.family, NLM_F_DUMP,
			    MEMTRACK_CMD_PROC_REFS_GET);
		ASSERT_EQ(0, mt_nl_send(&nl, &m));
		if (i & 1)
			ASSERT_LT(0, recv(nl.fd, buf, sizeof(buf), 0));
		mt_nl_close(&nl);
	}

	/*
	 * Reading the first round runs the second: a change then lands
	 * before the third, inside the process.  It is sent again.
	 */
	ASSERT_EQ(0, refs_first_round(&nl, getpid(), &d));
	ASSERT_EQ(1, d.l.n);
	close(fds[NR_SPLIT_BUFFERS - 1]);
	ASSERT_EQ(0, mt_nl_recv_loop(&nl, mt_refs_cb, &d, 8192));
	EXPECT_STREQ("", d.bad);
	EXPECT_FALSE(nl.dump_intr);
	EXPECT_EQ(0, d.intr);
	EXPECT_EQ(1, d.restarted);
	/* The restart describes nothing again. */
	EXPECT_EQ(d.meta.n, d.described);
	ASSERT_EQ(1, d.l.n);
	EXPECT_EQ(NR_SPLIT_BUFFERS - 1, d.l.procs[0].nr_buffers);
	ASSERT_EQ(0, mt_truth_read(getpid(), &truth));
	why = mt_proc_diff(&d.l.procs[0], &truth);
	EXPECT_TRUE(!why) TH_LOG("after the restart: %s", why);
	mt_proc_free(&truth);
	mt_refs_dump_free(&d);
	mt_nl_close(&nl);

	/* A process that exits while it is listed: the end is flagged. */
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &name[0], 1));
	ASSERT_EQ(0, refs_first_round(&nl, child, &d));
	ASSERT_EQ(1, d.l.n);
	ASSERT_EQ(0, kill(child, SIGKILL));
	ASSERT_EQ(child, waitpid(child, NULL, 0));
	ASSERT_EQ(0, mt_nl_recv_loop(&nl, mt_refs_cb, &d, 8192));
	/* The end of the dump carries it, no message about the process. */
	EXPECT_TRUE(nl.dump_intr);
	EXPECT_EQ(0, d.intr);
	mt_refs_dump_free(&d);
	mt_nl_close(&nl);

	for (i = 0; i < NR_SPLIT_BUFFERS - 1; i++)
		close(fds[i]);
	ASSERT_EQ(0, mt_proc_refs(&self->nl, getpid(), NULL, SMALL_RECV, &d));
	EXPECT_EQ(0, d.l.n);
	EXPECT_EQ(0, d.described);
	mt_refs_dump_free(&d);
}

MT_HARNESS_MAIN
