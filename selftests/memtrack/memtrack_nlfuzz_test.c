// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack netlink misuse selftests: thousands of random and malformed
 * requests (unknown commands, wrong attribute types and lengths, oversized
 * strings, nested garbage, huge and negative pids, dump flags on do-only
 * operations) each get a clean answer; sockets closed in the middle of a
 * dump, and many dumpers while processes churn, are harmless.  Kernel
 * reports fail the run through the VM runner.
 */
#define _GNU_SOURCE
#include <time.h>
#include <sys/time.h>

#include "mt_lib.h"
#include "../kselftest_harness.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* An attribute of random type, length and content; sometimes a crafted one. */
static void put_garbage(struct mt_msg *m)
{
	static const uint32_t pids[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 4194304 };
	char data[3000];
	uint64_t r = next_rand();
	uint16_t type = (uint16_t)(r % 24);
	size_t used = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_HDRLEN + 64;
	size_t len, room;
	unsigned int i;

	/* Keep every attribute, nested ones included, inside the message. */
	if (used >= sizeof(m->buf))
		return;
	room = sizeof(m->buf) - used;

	switch ((r >> 8) % 8) {
	case 0:		/* huge and negative pids, in and out of range */
		mt_put_u32(m, MEMTRACK_A_PROC_PID, pids[(r >> 16) % 6]);
		return;
	case 1:		/* a u32 attribute of the wrong size */
		len = (r >> 16) % 9;
		break;
	case 2:		/* an oversized, unterminated string */
		type = (r >> 16) % 2 ? MEMTRACK_A_PROC_FILTER_NAME :
				       MEMTRACK_A_PROC_FILTER_EXPORTER;
		len = 64 + (r >> 20) % 2000;
		memset(data, 'x', len);
		if (len > room)
			len = room;
		mt_put(m, type, data, len);
		return;
	case 3: {	/* nested garbage */
		struct nlattr *outer;

		outer = mt_put(m, (uint16_t)(NLA_F_NESTED | type), NULL, 0);
		for (i = 0; i < 3; i++)
			mt_put_u32(m, (uint16_t)(next_rand() % 12), (uint32_t)next_rand());
		outer->nla_len = (uint16_t)((char *)m->buf + m->nlh.nlmsg_len - (char *)outer);
		return;
	}
	default:
		len = (r >> 16) % 64;
		break;
	}
	if (len > room)
		len = room;
	for (i = 0; i < len; i++)
		data[i] = (char)next_rand();
	mt_put(m, type, data, len);
}

TEST(random_and_malformed_requests_get_clean_errors)
{
	static const int allowed[] = {
		0, -EINVAL, -ERANGE, -EOPNOTSUPP, -ESRCH, -EACCES, -EPERM, -ENOENT,
		-EMSGSIZE,
	};
	struct timeval tv = { .tv_sec = 10 };
	unsigned int i, k, ok = 0, with_msg = 0, errors = 0;
	time_t deadline;
	struct mt_stats st;
	struct mt_nl nl;

	ASSERT_EQ(0, mt_nl_open(&nl));
	ASSERT_EQ(0, setsockopt(nl.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	/*
	 * 5,000 requests, or as many as 20 s allow (a debug kernel under
	 * emulation is slow), within the harness's 30 s.
	 */
	deadline = time(NULL) + 20;
	for (i = 0; i < 5000 && time(NULL) < deadline; i++) {
		uint64_t r = next_rand();
		/* Known commands mostly, unknown ones too; do and dump. */
		uint8_t cmd = (r % 8) ? (uint8_t)(1 + (r >> 8) % 10) : (uint8_t)(r >> 8);
		uint16_t flags = NLM_F_ACK | ((r >> 16) % 3 ? 0 : NLM_F_DUMP);
		unsigned int nattrs = (unsigned int)((r >> 24) % 6);
		struct mt_msg m;
		int ret;

		nl.seq++;
		mt_msg_init(&m, &nl, nl.family, flags, cmd);
		for (k = 0; k < nattrs; k++)
			put_garbage(&m);
		/*
		 * Now and then, a message that lies about its length.  One
		 * shorter than a netlink header is dropped unanswered by the
		 * netlink core, before any family sees it: keep the header.
		 */
		if ((r >> 32) % 50 == 0 && m.nlh.nlmsg_len >= NLMSG_HDRLEN + 8)
			m.nlh.nlmsg_len -= (uint32_t)((r >> 40) % 8);
		ASSERT_EQ(0, mt_nl_send(&nl, &m));
		ret = mt_nl_recv_loop(&nl, NULL, NULL, 65536);
		ASSERT_NE(-EAGAIN, ret) TH_LOG("no answer to request %u (cmd %u)", i, cmd);
		for (k = 0; k < ARRAY_SIZE(allowed); k++)
			if (ret == allowed[k])
				break;
		EXPECT_LT(k, ARRAY_SIZE(allowed))
			TH_LOG("request %u (cmd %u, flags %#x): unexpected %d (%s)", i, cmd,
			       flags, ret, nl.extack);
		if (!ret)
			ok++;
		else
			errors++;
		if (ret && nl.extack[0])
			with_msg++;
	}
	TH_LOG("%u requests: %u accepted, %u refused (%u with an extack message)",
	       i, ok, errors, with_msg);
	/* At least a fifth refused, a fiftieth with a message, however many ran. */
	ASSERT_GE(i, 500);
	EXPECT_GT(errors, i / 5);
	EXPECT_GT(with_msg, i / 50);
	/* The family still answers properly. */
	nl.seq++;
	ASSERT_EQ(0, mt_stats_get(&nl, &st));
	mt_nl_close(&nl);
}

/* A dump whose socket is closed after its first message. */
TEST(sockets_closed_during_dumps)
{
	int fds[8], i, round;

	for (i = 0; i < 8; i++) {
		fds[i] = mt_heap_alloc(4096);
		ASSERT_GE(fds[i], 0);
	}
	for (round = 0; round < 200; round++) {
		int small = 1024, kinds = round % 2;
		struct mt_msg m;
		struct mt_nl nl;
		char buf[512];

		ASSERT_EQ(0, mt_nl_open(&nl));
		ASSERT_EQ(0, setsockopt(nl.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
		nl.seq++;
		mt_msg_init(&m, &nl, nl.family, NLM_F_DUMP,
			    kinds ? MEMTRACK_CMD_BUFFER_GET : MEMTRACK_CMD_PROC_GET);
		ASSERT_EQ(0, mt_nl_send(&nl, &m));
		if (round % 3)
			ASSERT_LT(0, recv(nl.fd, buf, sizeof(buf), MSG_TRUNC));
		mt_nl_close(&nl);
	}
	for (i = 0; i < 8; i++)
		close(fds[i]);
}

/* A fixture only for the timeout: minutes under KASAN, not 30 seconds. */
FIXTURE(churn) {
};

FIXTURE_SETUP(churn)
{
}

FIXTURE_TEARDOWN(churn)
{
}

/* Dumpers on both vCPUs while processes come and go with buffers. */
TEST_F_TIMEOUT(churn, concurrent_dumpers_while_processes_churn, 300)
{
	pid_t dumpers[4];
	int i, status, fd = mt_heap_alloc(8192);

	ASSERT_GE(fd, 0);
	for (i = 0; i < 4; i++) {
		dumpers[i] = fork();
		ASSERT_GE(dumpers[i], 0);
		if (dumpers[i] == 0) {
			int n;

			for (n = 0; n < 40; n++) {
				struct mt_proc_list l = { 0 };
				struct mt_buf_list bl = { 0 };
				struct mt_refs_dump refs;
				struct mt_nl nl;

				if (mt_nl_open(&nl))
					_exit(2);
				if (mt_proc_dump(&nl, 0, (n + i) % 2 ? 2048 : 32768, &l))
					_exit(3);
				if (mt_buffer_dump(&nl, &bl))
					_exit(4);
				/* The compact dump: well formed while all churns. */
				if (mt_proc_refs(&nl, 0, NULL, (n + i) % 2 ? 2048 : 32768,
						 &refs))
					_exit(5);
				if (refs.bad[0] || refs.l.bad_order)
					_exit(6);
				mt_refs_dump_free(&refs);
				mt_proc_list_free(&l);
				free(bl.bufs);
				mt_nl_close(&nl);
			}
			_exit(0);
		}
	}
	/* Churn: children that inherit, map, allocate and exit. */
	for (i = 0; i < 60; i++) {
		pid_t c = fork();

		ASSERT_GE(c, 0);
		if (c == 0) {
			int b = mt_udmabuf_alloc(4096);

			if (b < 0 || mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
				_exit(1);
			close(fd);
			_exit(0);
		}
		ASSERT_EQ(c, waitpid(c, &status, 0));
		EXPECT_EQ(0, status);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(dumpers[i], waitpid(dumpers[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
		EXPECT_EQ(0, status) TH_LOG("dumper %d failed with %d", i, WEXITSTATUS(status));
	}
	close(fd);
}

MT_HARNESS_MAIN
