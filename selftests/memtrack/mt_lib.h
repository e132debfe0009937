/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the memtrack selftests: a raw generic-netlink client that
 * checks the wire format independently of libmemtrack-nl, dma-buf
 * allocation from the system heap and udmabuf, and a ground-truth reader
 * of /proc/PID/fdinfo.
 */
#ifndef MT_LIB_H
#define MT_LIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <drm/drm.h>
#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/udmabuf.h>
#include <linux/memtrack.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define MT_NAME_MAX 64

struct mt_buf {
	uint64_t id;
	uint64_t size;
	char exporter[MT_NAME_MAX];
	char name[MT_NAME_MAX];
	uint32_t fds;
	uint32_t holders;
	uint64_t mapped;
	uint32_t handles;	/* DRM files with a handle to it (GEM) */
	bool has_fds;
	bool has_holders;
	bool has_handles;	/* the attribute is absent when 0 */
};

struct mt_proc {
	uint32_t pid;
	char comm[32];
	uint32_t nr_buffers;
	uint32_t nr_fds;
	uint64_t total;
	uint64_t pss;
	uint64_t unique;
	uint64_t hwm;
	uint64_t mapped;
	uint64_t generation;
	bool has_generation;	/* only for those who may subscribe */
	bool incomplete;
	unsigned int nbufs;
	unsigned int messages;	/* proc-get messages about this process */
	struct mt_buf *bufs;	/* from proc-buffer-get, one message each */
};

struct mt_nl {
	int fd;
	uint16_t family;
	uint32_t seq;
	uint32_t portid;
	char extack[256];	/* message of the last error, if any */
	uint32_t extack_off;	/* offset of the bad attribute, if any */
	uint32_t miss_type;	/* missing attribute reported, if any */
	unsigned int recvs;	/* recv() calls of the last request */
	bool dump_intr;		/* a dump reply carried NLM_F_DUMP_INTR */
};

/* ------------------------------------------------------------------ */
/* Attribute helpers                                                   */

struct mt_msg {
	union {
		struct nlmsghdr nlh;
		char buf[4096];
	};
};

static inline struct nlattr *mt_put(struct mt_msg *m, uint16_t type,
				    const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->nlh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static inline void mt_put_u32(struct mt_msg *m, uint16_t type, uint32_t v)
{
	mt_put(m, type, &v, sizeof(v));
}

static inline void mt_put_u64(struct mt_msg *m, uint16_t type, uint64_t v)
{
	mt_put(m, type, &v, sizeof(v));
}

static inline void mt_msg_init(struct mt_msg *m, const struct mt_nl *nl,
			       uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct genlmsghdr *g;

	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh.nlmsg_type = type;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	m->nlh.nlmsg_seq = nl->seq;
	g = NLMSG_DATA(&m->nlh);
	g->cmd = cmd;
	g->version = 1;
}

/* Attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flags. */
#define mt_type(a) ((a)->nla_type & NLA_TYPE_MASK)

#define mt_for_each_attr(a, start, len)					\
	for (a = (struct nlattr *)(start);				\
	     (char *)(a) + NLA_HDRLEN <= (char *)(start) + (len) &&	\
	     a->nla_len >= NLA_HDRLEN &&				\
	     (char *)(a) + a->nla_len <= (char *)(start) + (len);	\
	     a = (struct nlattr *)((char *)(a) + NLA_ALIGN(a->nla_len)))

static inline void *mt_attr_data(const struct nlattr *a)
{
	return (char *)a + NLA_HDRLEN;
}

static inline int mt_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

/* "uint" attributes are 4 or 8 bytes on the wire. */
static inline uint64_t mt_attr_uint(const struct nlattr *a)
{
	uint64_t v64;
	uint32_t v32;

	if (mt_attr_len(a) == 8) {
		memcpy(&v64, mt_attr_data(a), 8);
		return v64;
	}
	memcpy(&v32, mt_attr_data(a), 4);
	return v32;
}

static inline void mt_attr_str(const struct nlattr *a, char *dst, size_t size)
{
	size_t n = mt_attr_len(a);

	if (n >= size)
		n = size - 1;
	memcpy(dst, mt_attr_data(a), n);
	dst[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Socket and request/response loop                                   */

typedef int (*mt_msg_cb)(const struct nlmsghdr *nlh, void *arg);

static int mt_nl_recv_loop(struct mt_nl *nl, mt_msg_cb cb, void *arg,
			   size_t bufsize);

static inline void mt_parse_extack(struct mt_nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = NLMSG_DATA(nlh);
	size_t off = sizeof(*err);
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(err->msg);
	if (NLMSG_HDRLEN + off > nlh->nlmsg_len)
		return;
	mt_for_each_attr(a, (char *)err + off, nlh->nlmsg_len - NLMSG_HDRLEN - off) {
		if (mt_type(a) == NLMSGERR_ATTR_MSG)
			mt_attr_str(a, nl->extack, sizeof(nl->extack));
		else if (mt_type(a) == NLMSGERR_ATTR_OFFS)
			memcpy(&nl->extack_off, mt_attr_data(a), 4);
		else if (mt_type(a) == NLMSGERR_ATTR_MISS_TYPE)
			memcpy(&nl->miss_type, mt_attr_data(a), 4);
	}
}

/* An error that ends a dump carries its extack after the error code. */
static inline void mt_parse_done_extack(struct mt_nl *nl,
					const struct nlmsghdr *h)
{
	size_t off = NLMSG_HDRLEN + sizeof(int);
	const struct nlattr *a;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	mt_for_each_attr(a, (char *)h + off, h->nlmsg_len - off)
		if (mt_type(a) == NLMSGERR_ATTR_MSG)
			mt_attr_str(a, nl->extack, sizeof(nl->extack));
}

/*
 * Receive replies until the request completes.  Returns 0, or -errno from
 * the kernel with nl->extack holding its message.
 */
static int mt_nl_recv_loop(struct mt_nl *nl, mt_msg_cb cb, void *arg,
			   size_t bufsize)
{
	char *buf = malloc(bufsize);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(nl->fd, buf, bufsize, 0);
		struct nlmsghdr *nlh;

		if (n < 0) {
			ret = -errno;
			break;
		}
		nl->recvs++;
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != nl->seq)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				nl->dump_intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				mt_parse_extack(nl, nlh);
				ret = e->error;
				goto out;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int err;

				memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
				if (err < 0)
					mt_parse_done_extack(nl, nlh);
				ret = err;
				goto out;
			}
			if (cb) {
				ret = cb(nlh, arg);
				if (ret)
					goto out;
			}
			if (!(nlh->nlmsg_flags & NLM_F_MULTI)) {
				/* A do reply; the ACK follows only if asked. */
				ret = 0;
				goto out;
			}
		}
	}
out:
	free(buf);
	return ret;
}

static inline int mt_nl_send(struct mt_nl *nl, struct mt_msg *m)
{
	nl->extack[0] = '\0';
	nl->extack_off = 0;
	nl->miss_type = 0;
	nl->recvs = 0;
	nl->dump_intr = false;
	if (send(nl->fd, m, m->nlh.nlmsg_len, 0) < 0)
		return -errno;
	return 0;
}

struct mt_family_arg {
	const char *name;
	uint16_t id;
};

static inline int mt_family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct mt_family_arg *fa = arg;
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *a;

	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN))
		if (mt_type(a) == CTRL_ATTR_FAMILY_ID)
			memcpy(&fa->id, mt_attr_data(a), 2);
	return 0;
}

/* Open a socket and resolve the family.  -ENOENT: no memtrack here. */
static inline int mt_nl_open(struct mt_nl *nl)
{
	struct mt_family_arg fa = { .name = MEMTRACK_FAMILY_NAME };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	struct mt_msg m;
	int one = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		return -errno;
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(nl->fd, (struct sockaddr *)&sa, &salen) < 0) {
		ret = -errno;
		close(nl->fd);
		return ret;
	}
	nl->portid = sa.nl_pid;
	nl->seq = 1;
	mt_msg_init(&m, nl, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	mt_put(&m, CTRL_ATTR_FAMILY_NAME, MEMTRACK_FAMILY_NAME,
	       strlen(MEMTRACK_FAMILY_NAME) + 1);
	ret = mt_nl_send(nl, &m);
	if (!ret)
		ret = mt_nl_recv_loop(nl, mt_family_cb, &fa, 8192);
	if (!ret && !fa.id)
		ret = -ENOENT;
	if (ret) {
		close(nl->fd);
		return ret;
	}
	nl->family = fa.id;
	return 0;
}

static inline void mt_nl_close(struct mt_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

/* ------------------------------------------------------------------ */
/* Process replies                                                     */

static inline void mt_proc_free(struct mt_proc *p)
{
	free(p->bufs);
	memset(p, 0, sizeof(*p));
}

struct mt_proc_list {
	struct mt_proc *procs;
	unsigned int n;
	unsigned int cap;
	unsigned int messages;
	unsigned int max_proc_len;	/* longest proc-get message, bytes */
	bool bad_order;		/* pids or buffer ids went backwards */
	uint32_t last_pair_pid;	/* of the last proc-buffer-get message */
};

static inline void mt_proc_list_free(struct mt_proc_list *l)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		mt_proc_free(&l->procs[i]);
	free(l->procs);
	memset(l, 0, sizeof(*l));
}

static inline int mt_parse_buf(const struct nlattr *nest, struct mt_buf *b)
{
	const struct nlattr *a;

	memset(b, 0, sizeof(*b));
	mt_for_each_attr(a, mt_attr_data(nest), mt_attr_len(nest)) {
		switch (mt_type(a)) {
		case MEMTRACK_A_BUFFER_ID:
			b->id = mt_attr_uint(a);
			break;
		case MEMTRACK_A_BUFFER_SIZE:
			b->size = mt_attr_uint(a);
			break;
		case MEMTRACK_A_BUFFER_EXPORTER:
			mt_attr_str(a, b->exporter, sizeof(b->exporter));
			break;
		case MEMTRACK_A_BUFFER_NAME:
			mt_attr_str(a, b->name, sizeof(b->name));
			break;
		case MEMTRACK_A_BUFFER_HOLDERS:
			b->holders = mt_attr_uint(a);
			b->has_holders = true;
			break;
		}
	}
	return b->id ? 0 : -EINVAL;
}

/* Parse a proc-buffer-get message: one buffer of process *@pid. */
static inline int mt_parse_pair(const struct nlmsghdr *nlh, uint32_t *pid,
				char *comm, size_t comm_len, struct mt_buf *b)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *a;

	memset(b, 0, sizeof(*b));
	*pid = 0;
	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		switch (mt_type(a)) {
		case MEMTRACK_A_PROC_BUFFER_PID:
			*pid = *(uint32_t *)mt_attr_data(a);
			break;
		case MEMTRACK_A_PROC_BUFFER_COMM:
			if (comm)
				mt_attr_str(a, comm, comm_len);
			break;
		case MEMTRACK_A_PROC_BUFFER_ID:
			b->id = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_BUFFER_SIZE:
			b->size = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_BUFFER_EXPORTER:
			mt_attr_str(a, b->exporter, sizeof(b->exporter));
			break;
		case MEMTRACK_A_PROC_BUFFER_NAME:
			mt_attr_str(a, b->name, sizeof(b->name));
			break;
		case MEMTRACK_A_PROC_BUFFER_FDS:
			b->fds = mt_attr_uint(a);
			b->has_fds = true;
			break;
		case MEMTRACK_A_PROC_BUFFER_HOLDERS:
			b->holders = mt_attr_uint(a);
			b->has_holders = true;
			break;
		case MEMTRACK_A_PROC_BUFFER_MAPPED:
			b->mapped = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_BUFFER_HANDLES:
			b->handles = mt_attr_uint(a);
			b->has_handles = true;
			break;
		}
	}
	return *pid && b->id ? 0 : -EINVAL;
}

/* Parse a proc-get message into @p. */
static inline int mt_parse_proc(const struct nlmsghdr *nlh, struct mt_proc *p)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *a;

	p->messages++;
	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		switch (mt_type(a)) {
		case MEMTRACK_A_PROC_PID:
			p->pid = *(uint32_t *)mt_attr_data(a);
			break;
		case MEMTRACK_A_PROC_COMM:
			mt_attr_str(a, p->comm, sizeof(p->comm));
			break;
		case MEMTRACK_A_PROC_NR_BUFFERS:
			p->nr_buffers = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_NR_FDS:
			p->nr_fds = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_TOTAL:
			p->total = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_GENERATION:
			p->generation = mt_attr_uint(a);
			p->has_generation = true;
			break;
		case MEMTRACK_A_PROC_PSS:
			p->pss = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_UNIQUE:
			p->unique = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_HWM:
			p->hwm = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_MAPPED:
			p->mapped = mt_attr_uint(a);
			break;
		case MEMTRACK_A_PROC_INCOMPLETE:
			p->incomplete = true;
			break;
		}
	}
	return 0;
}

static inline struct mt_proc *mt_proc_list_add(struct mt_proc_list *l,
					       uint32_t pid)
{
	if (l->n == l->cap) {
		struct mt_proc *np;

		l->cap = l->cap ? 2 * l->cap : 64;
		np = realloc(l->procs, l->cap * sizeof(*np));
		if (!np)
			return NULL;
		l->procs = np;
	}
	memset(&l->procs[l->n], 0, sizeof(l->procs[0]));
	l->procs[l->n].pid = pid;
	return &l->procs[l->n++];
}

static inline struct mt_proc *mt_proc_list_find(struct mt_proc_list *l,
						uint32_t pid)
{
	unsigned int i;

	for (i = l->n; i > 0; i--)
		if (l->procs[i - 1].pid == pid)
			return &l->procs[i - 1];
	return NULL;
}

/*
 * Collect proc-get messages (a process's figures) and proc-buffer-get
 * messages (one buffer of a process) into @arg, a struct mt_proc_list.
 */
static inline int mt_proc_list_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	struct mt_proc_list *l = arg;
	struct mt_proc *p;

	l->messages++;
	if (g->cmd == MEMTRACK_CMD_PROC_BUFFER_GET) {
		char comm[sizeof(l->procs[0].comm)] = "";
		struct mt_buf b, *nb;
		uint32_t pid;

		if (mt_parse_pair(nlh, &pid, comm, sizeof(comm), &b))
			return -EINVAL;
		if (l->last_pair_pid > pid)
			l->bad_order = true;
		l->last_pair_pid = pid;
		p = mt_proc_list_find(l, pid);
		if (!p)
			p = mt_proc_list_add(l, pid);
		if (!p)
			return -ENOMEM;
		if (comm[0])
			memcpy(p->comm, comm, sizeof(comm));
		if (p->nbufs && b.id <= p->bufs[p->nbufs - 1].id)
			l->bad_order = true;
		nb = realloc(p->bufs, (p->nbufs + 1) * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		p->bufs = nb;
		p->bufs[p->nbufs++] = b;
		return 0;
	}
	if (g->cmd != MEMTRACK_CMD_PROC_GET)
		return -EINVAL;
	if (nlh->nlmsg_len > l->max_proc_len)
		l->max_proc_len = nlh->nlmsg_len;
	p = mt_proc_list_add(l, 0);
	if (!p)
		return -ENOMEM;
	if (mt_parse_proc(nlh, p) || !p->pid)
		return -EINVAL;
	if (l->n > 1 && l->procs[l->n - 2].pid >= p->pid)
		l->bad_order = true;
	return 0;
}

struct mt_stats {
	uint32_t nr_buffers;
	uint64_t total;
	uint64_t held;
	uint64_t kernel_only;
	uint64_t hwm;
	uint64_t generation;
	bool has_generation;	/* only for those who may subscribe */
};

static inline int mt_stats_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct mt_stats *st = arg;
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *a;

	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		switch (mt_type(a)) {
		case MEMTRACK_A_STATS_NR_BUFFERS:
			st->nr_buffers = mt_attr_uint(a);
			break;
		case MEMTRACK_A_STATS_TOTAL:
			st->total = mt_attr_uint(a);
			break;
		case MEMTRACK_A_STATS_HELD:
			st->held = mt_attr_uint(a);
			break;
		case MEMTRACK_A_STATS_KERNEL_ONLY:
			st->kernel_only = mt_attr_uint(a);
			break;
		case MEMTRACK_A_STATS_HWM:
			st->hwm = mt_attr_uint(a);
			break;
		case MEMTRACK_A_STATS_GENERATION:
			st->generation = mt_attr_uint(a);
			st->has_generation = true;
			break;
		}
	}
	return 0;
}

static inline int mt_stats_get(struct mt_nl *nl, struct mt_stats *st)
{
	struct mt_msg m;
	int ret;

	memset(st, 0, sizeof(*st));
	nl->seq++;
	mt_msg_init(&m, nl, nl->family, 0, MEMTRACK_CMD_STATS_GET);
	ret = mt_nl_send(nl, &m);
	return ret ? ret : mt_nl_recv_loop(nl, mt_stats_cb, st, 8192);
}

/* hwm-reset, acknowledged. */
static inline int mt_hwm_reset(struct mt_nl *nl)
{
	struct mt_msg m;
	int ret;

	nl->seq++;
	mt_msg_init(&m, nl, nl->family, NLM_F_ACK, MEMTRACK_CMD_HWM_RESET);
	ret = mt_nl_send(nl, &m);
	return ret ? ret : mt_nl_recv_loop(nl, NULL, NULL, 8192);
}

/* Send a proc-buffer-get dump request and collect its messages into @out. */
static inline int mt_proc_buffers(struct mt_nl *nl, uint32_t pid, uint64_t id,
				  const char *tag, const char *exporter,
				  size_t bufsize, struct mt_proc_list *out)
{
	struct mt_msg m;
	int ret;

	nl->seq++;
	mt_msg_init(&m, nl, nl->family, NLM_F_DUMP,
		    MEMTRACK_CMD_PROC_BUFFER_GET);
	if (pid)
		mt_put_u32(&m, MEMTRACK_A_PROC_BUFFER_PID, pid);
	if (id)
		mt_put_u64(&m, MEMTRACK_A_PROC_BUFFER_ID, id);
	if (tag)
		mt_put(&m, MEMTRACK_A_PROC_BUFFER_FILTER_NAME, tag,
		       strlen(tag) + 1);
	if (exporter)
		mt_put(&m, MEMTRACK_A_PROC_BUFFER_FILTER_EXPORTER, exporter,
		       strlen(exporter) + 1);
	ret = mt_nl_send(nl, &m);
	return ret ? ret : mt_nl_recv_loop(nl, mt_proc_list_cb, out, bufsize);
}

/*
 * A process query (do, or dump with @dump) with optional tag and exporter
 * filters (NULL: none): the figures from proc-get, then the buffers from
 * a proc-buffer-get dump with the same pid and filters.  Callers query
 * processes at quiescent points, where the two agree.
 */
static inline int mt_proc_query_sized(struct mt_nl *nl, bool dump,
				      uint32_t pid, const char *tag,
				      const char *exporter, size_t bufsize,
				      struct mt_proc_list *out)
{
	struct mt_msg m;
	bool intr;
	int ret;

	memset(out, 0, sizeof(*out));
	nl->seq++;
	mt_msg_init(&m, nl, nl->family, dump ? NLM_F_DUMP : 0,
		    MEMTRACK_CMD_PROC_GET);
	if (pid || !dump)
		mt_put_u32(&m, MEMTRACK_A_PROC_PID, pid);
	if (tag)
		mt_put(&m, MEMTRACK_A_PROC_FILTER_NAME, tag, strlen(tag) + 1);
	if (exporter)
		mt_put(&m, MEMTRACK_A_PROC_FILTER_EXPORTER, exporter,
		       strlen(exporter) + 1);
	ret = mt_nl_send(nl, &m);
	if (!ret)
		ret = mt_nl_recv_loop(nl, mt_proc_list_cb, out, bufsize);
	if (ret)
		return ret;
	intr = nl->dump_intr;
	ret = mt_proc_buffers(nl, pid, 0, tag, exporter, bufsize, out);
	nl->dump_intr |= intr;
	return ret;
}

static inline int mt_proc_query(struct mt_nl *nl, bool dump, uint32_t pid,
				const char *tag, const char *exporter,
				struct mt_proc_list *out)
{
	return mt_proc_query_sized(nl, dump, pid, tag, exporter, 65536, out);
}

/* One process by pid.  Returns 0 or -errno (nl->extack explains). */
static inline int mt_proc_get(struct mt_nl *nl, uint32_t pid, struct mt_proc *out)
{
	struct mt_proc_list l;
	int ret;

	ret = mt_proc_query(nl, false, pid, NULL, NULL, &l);
	if (!ret && (l.n != 1 || l.procs[0].pid != pid))
		ret = -EPROTO;
	if (!ret) {
		*out = l.procs[0];
		l.n = 0;
	}
	mt_proc_list_free(&l);
	return ret;
}

/*
 * Dump every visible process holding buffers (or one, with @pid != 0),
 * reading with a receive buffer of @bufsize bytes.
 */
static inline int mt_proc_dump(struct mt_nl *nl, uint32_t pid, size_t bufsize,
			       struct mt_proc_list *out)
{
	return mt_proc_query_sized(nl, true, pid, NULL, NULL, bufsize, out);
}

struct mt_buf_list {
	struct mt_buf *bufs;
	unsigned int n;
};

static inline int mt_buf_list_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct mt_buf_list *l = arg;
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	struct nlattr fake;
	struct mt_buf *nb;
	char *tmp;
	size_t len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	int ret;

	/* Reuse the nest parser: the message body is a buffer attribute set. */
	tmp = malloc(NLA_HDRLEN + len);
	if (!tmp)
		return -ENOMEM;
	fake.nla_len = NLA_HDRLEN + len;
	fake.nla_type = 0;
	memcpy(tmp, &fake, NLA_HDRLEN);
	memcpy(tmp + NLA_HDRLEN, (char *)g + GENL_HDRLEN, len);
	nb = realloc(l->bufs, (l->n + 1) * sizeof(*nb));
	if (!nb) {
		free(tmp);
		return -ENOMEM;
	}
	l->bufs = nb;
	ret = mt_parse_buf((struct nlattr *)tmp, &l->bufs[l->n]);
	free(tmp);
	if (ret)
		return ret;
	l->n++;
	return 0;
}

/* The system-wide buffer list (needs CAP_NET_ADMIN). */
static inline int mt_buffer_dump(struct mt_nl *nl, struct mt_buf_list *out)
{
	struct mt_msg m;
	int ret;

	memset(out, 0, sizeof(*out));
	nl->seq++;
	mt_msg_init(&m, nl, nl->family, NLM_F_DUMP, MEMTRACK_CMD_BUFFER_GET);
	ret = mt_nl_send(nl, &m);
	if (!ret)
		ret = mt_nl_recv_loop(nl, mt_buf_list_cb, out, 32768);
	return ret;
}

static inline const struct mt_buf *mt_buf_list_find(const struct mt_buf_list *l,
						    uint64_t id)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (l->bufs[i].id == id)
			return &l->bufs[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Ground truth: /proc/PID/fdinfo                                      */

static inline const struct mt_buf *mt_proc_find(const struct mt_proc *p,
						uint64_t id)
{
	unsigned int i;

	for (i = 0; i < p->nbufs; i++)
		if (p->bufs[i].id == id)
			return &p->bufs[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* proc-refs-get: figures and columns, each buffer described once      */

struct mt_refs_dump {
	struct mt_proc_list l;	/* the processes, with their buffers */
	struct mt_buf_list meta;	/* the buffers described */
	unsigned int described;	/* desc nests received */
	unsigned int continued;	/* messages that continued a process */
	unsigned int restarted;	/* processes sent again from their figures */
	unsigned int intr;	/* messages flagged NLM_F_DUMP_INTR */
	unsigned int max_descs;	/* most desc nests in one message */
	unsigned long bytes;	/* of every message */
	unsigned int max_ref_bytes;	/* largest ref nest */
	char bad[256];		/* the first malformed thing, if any */
};

static inline void mt_refs_dump_free(struct mt_refs_dump *d)
{
	mt_proc_list_free(&d->l);
	free(d->meta.bufs);
	memset(d, 0, sizeof(*d));
}

static inline struct mt_buf *mt_refs_meta(struct mt_refs_dump *d, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < d->meta.n; i++)
		if (d->meta.bufs[i].id == id)
			return &d->meta.bufs[i];
	return NULL;
}

#define mt_refs_bad(d, ...)						\
	({ if (!(d)->bad[0])						\
		snprintf((d)->bad, sizeof((d)->bad), __VA_ARGS__);	\
	   0; })

/* The id attribute of type @type in @nest, or 0. */
static inline uint64_t mt_refs_nest_id(const struct nlattr *nest, int type)
{
	const struct nlattr *a;

	mt_for_each_attr(a, mt_attr_data(nest), mt_attr_len(nest))
		if (mt_type(a) == type)
			return mt_attr_uint(a);
	return 0;
}

/* Add the buffer a desc nest describes to d->meta (a later one replaces). */
static inline int mt_refs_desc(struct mt_refs_dump *d, const struct nlattr *a)
{
	struct mt_buf b, *m;

	d->described++;
	if (mt_parse_buf(a, &b) || !b.has_holders)
		return mt_refs_bad(d, "a desc lacks id or holders");
	m = mt_refs_meta(d, b.id);
	if (m) {
		*m = b;
		return 0;
	}
	m = realloc(d->meta.bufs, (d->meta.n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	d->meta.bufs = m;
	d->meta.bufs[d->meta.n++] = b;
	return 0;
}

/* Append the buffer a ref nest lists to @p, from its description. */
static inline int mt_refs_ref(struct mt_refs_dump *d, struct mt_proc *p,
			      const struct nlattr *nest)
{
	const struct nlattr *a;
	struct mt_buf b = {}, *nb;
	const struct mt_buf *m;

	if ((unsigned int)mt_attr_len(nest) > d->max_ref_bytes)
		d->max_ref_bytes = mt_attr_len(nest);
	mt_for_each_attr(a, mt_attr_data(nest), mt_attr_len(nest)) {
		switch (mt_type(a)) {
		case MEMTRACK_A_REF_ID:
			b.id = mt_attr_uint(a);
			break;
		case MEMTRACK_A_REF_FDS:
			b.fds = mt_attr_uint(a);
			b.has_fds = true;
			break;
		case MEMTRACK_A_REF_MAPPED:
			b.mapped = mt_attr_uint(a);
			if (!b.mapped)
				return mt_refs_bad(d, "pid %u: a ref with mapped 0", p->pid);
			break;
		case MEMTRACK_A_REF_HANDLES:
			b.handles = mt_attr_uint(a);
			b.has_handles = true;
			if (!b.handles)
				return mt_refs_bad(d, "pid %u: a ref with handles 0", p->pid);
			break;
		}
	}
	if (!b.id || !b.has_fds)
		return mt_refs_bad(d, "pid %u: a ref without id or fds", p->pid);
	m = mt_refs_meta(d, b.id);
	if (!m)
		return mt_refs_bad(d, "pid %u lists buffer %llu before it was described",
				   p->pid, (unsigned long long)b.id);
	if (p->nbufs && b.id <= p->bufs[p->nbufs - 1].id)
		d->l.bad_order = true;
	nb = realloc(p->bufs, (p->nbufs + 1) * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	p->bufs = nb;
	nb = &p->bufs[p->nbufs++];
	*nb = *m;
	nb->fds = b.fds;
	nb->has_fds = true;
	nb->mapped = b.mapped;
	nb->handles = b.handles;
	nb->has_handles = b.has_handles;
	return 0;
}

/*
 * Collect a proc-refs-get message into @arg, a struct mt_refs_dump: a
 * message with figures starts a process (over, if it has the pid being
 * listed), one without continues it; desc nests come before the first
 * ref about their buffer.
 */
static inline int mt_refs_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	struct mt_refs_dump *d = arg;
	struct mt_proc *p, fig = {};
	const struct nlattr *a;
	unsigned int descs = 0;
	uint64_t desc_id = 0;	/* of the desc that awaits its ref */
	bool figures = false;
	int ret;

	d->l.messages++;
	d->bytes += nlh->nlmsg_len;
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		d->intr++;
	if (g->cmd != MEMTRACK_CMD_PROC_REFS_GET)
		return mt_refs_bad(d, "message of command %u", g->cmd);
	mt_parse_proc(nlh, &fig);
	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN))
		if (mt_type(a) == MEMTRACK_A_PROC_NR_BUFFERS)
			figures = true;
	if (!fig.pid)
		return mt_refs_bad(d, "a message without pid");
	p = d->l.n ? &d->l.procs[d->l.n - 1] : NULL;
	if (figures && p && p->pid == fig.pid) {
		/* The process changed while it was listed: sent again. */
		d->restarted++;
		mt_proc_free(p);
		*p = fig;
	} else if (figures) {
		if (p && p->pid >= fig.pid)
			d->l.bad_order = true;
		p = mt_proc_list_add(&d->l, fig.pid);
		if (!p)
			return -ENOMEM;
		*p = fig;
	} else {
		if (!p || p->pid != fig.pid)
			return mt_refs_bad(d, "pid %u continued without its figures", fig.pid);
		d->continued++;
		p->messages++;
	}
	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		if (mt_type(a) == MEMTRACK_A_PROC_DESC) {
			/* Each desc comes just before the first ref about it. */
			if (desc_id)
				return mt_refs_bad(d, "pid %u: two descs in a row", fig.pid);
			descs++;
			desc_id = mt_refs_nest_id(a, MEMTRACK_A_BUFFER_ID);
			ret = mt_refs_desc(d, a);
		} else if (mt_type(a) == MEMTRACK_A_PROC_REF) {
			uint64_t id = mt_refs_nest_id(a, MEMTRACK_A_REF_ID);

			if (desc_id && id != desc_id)
				return mt_refs_bad(d, "pid %u: desc %llu not followed by its ref",
						   fig.pid, (unsigned long long)desc_id);
			desc_id = 0;
			ret = mt_refs_ref(d, p, a);
		} else {
			continue;
		}
		if (ret)
			return ret;
	}
	if (descs > d->max_descs)
		d->max_descs = descs;
	return 0;
}

/*
 * A proc-refs-get dump, of every visible process or of @pid, with an
 * optional name filter, read with a receive buffer of @bufsize bytes.
 */
static inline int mt_proc_refs(struct mt_nl *nl, uint32_t pid, const char *tag,
			       size_t bufsize, struct mt_refs_dump *out)
{
	struct mt_msg m;
	int ret;

	memset(out, 0, sizeof(*out));
	nl->seq++;
	mt_msg_init(&m, nl, nl->family, NLM_F_DUMP, MEMTRACK_CMD_PROC_REFS_GET);
	if (pid)
		mt_put_u32(&m, MEMTRACK_A_PROC_PID, pid);
	if (tag)
		mt_put(&m, MEMTRACK_A_PROC_FILTER_NAME, tag, strlen(tag) + 1);
	ret = mt_nl_send(nl, &m);
	return ret ? ret : mt_nl_recv_loop(nl, mt_refs_cb, out, bufsize);
}

static int mt_buf_cmp(const void *a, const void *b)
{
	const struct mt_buf *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Read one fdinfo file into @b.  Returns true if it describes a dma-buf
 * (it has an exp_name line).
 */
static inline bool mt_fdinfo_parse(const char *path, struct mt_buf *b)
{
	bool is_dmabuf = false;
	char line[256];
	FILE *f;

	memset(b, 0, sizeof(*b));
	f = fopen(path, "re");
	if (!f)
		return false;	/* closed meanwhile */
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!v)
			continue;
		*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "ino")) {
			b->id = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "size")) {
			b->size = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "exp_name")) {
			snprintf(b->exporter, sizeof(b->exporter), "%s", v);
			is_dmabuf = true;
		} else if (!strcmp(line, "name")) {
			snprintf(b->name, sizeof(b->name), "%s", v);
		}
	}
	fclose(f);
	return is_dmabuf;
}

/* The entry of @id in @out, added (with fields from @b) if it is new. */
static inline struct mt_buf *mt_truth_slot(struct mt_proc *out,
					   const struct mt_buf *b)
{
	struct mt_buf *slot = (struct mt_buf *)mt_proc_find(out, b->id);

	if (slot)
		return slot;
	slot = realloc(out->bufs, (out->nbufs + 1) * sizeof(*slot));
	if (!slot)
		return NULL;
	out->bufs = slot;
	slot = &out->bufs[out->nbufs++];
	*slot = *b;
	slot->has_fds = true;
	out->nr_buffers++;
	out->total += b->size;
	return slot;
}

/* Read a one-line sysfs attribute into @out, without the newline. */
static inline int mt_read_line(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(out, size, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/*
 * Describe buffer @ino, which no fd of the process refers to, from
 * /sys/kernel/dmabuf/buffers/INO (CONFIG_DMABUF_SYSFS_STATS): its file
 * cannot be opened through /proc/PID/map_files.  @name is the rest of the
 * maps line after "/dmabuf:".
 */
static inline int mt_sysfs_buffer(unsigned long ino, const char *name,
				  struct mt_buf *b)
{
	char path[128], v[128];
	int ret;

	memset(b, 0, sizeof(*b));
	b->id = ino;
	snprintf(b->name, sizeof(b->name), "%.*s", (int)strcspn(name, "\n"), name);
	snprintf(path, sizeof(path), "/sys/kernel/dmabuf/buffers/%lu/size", ino);
	ret = mt_read_line(path, v, sizeof(v));
	if (ret)
		return ret;
	b->size = strtoull(v, NULL, 10);
	snprintf(path, sizeof(path),
		 "/sys/kernel/dmabuf/buffers/%lu/exporter_name", ino);
	ret = mt_read_line(path, v, sizeof(v));
	if (ret)
		return ret;
	snprintf(b->exporter, sizeof(b->exporter), "%.*s", (int)sizeof(b->exporter) - 1, v);
	return 0;
}

/*
 * Add what the task directory @dir ("/proc/PID" or "/proc/PID/task/TID")
 * maps, from its maps file: every VMA of a dma-buf (its path is
 * "/dmabuf:NAME") maps the buffer whose id is the VMA's inode.
 */
static inline int mt_truth_read_maps_at(const char *dir, struct mt_proc *out)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/maps", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, ino;
		struct mt_buf b, *slot;
		int pos = 0;

		if (sscanf(line, "%lx-%lx %*s %*x %*x:%*x %lu %n", &start, &end,
			   &ino, &pos) < 3 || !pos ||
		    strncmp(line + pos, "/dmabuf:", 8))
			continue;
		slot = (struct mt_buf *)mt_proc_find(out, ino);
		if (!slot) {
			int ret = mt_sysfs_buffer(ino, line + pos + 8, &b);

			if (ret) {
				fclose(f);
				return ret;
			}
			slot = mt_truth_slot(out, &b);
			if (!slot) {
				fclose(f);
				return -ENOMEM;
			}
		}
		slot->mapped += end - start;
		out->mapped += end - start;
	}
	fclose(f);
	return 0;
}

/* Add what @pid maps, from /proc/PID/maps. */
static inline int mt_truth_read_maps(pid_t pid, struct mt_proc *out)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	return mt_truth_read_maps_at(dir, out);
}

/*
 * Add the dma-buf fds of the descriptor table that the task directory
 * @dir uses, from its fdinfo files: every fd whose fdinfo has an exp_name
 * line is a dma-buf, grouped by ino.  Reading several tables of one
 * process adds their fds up.
 */
static inline int mt_truth_read_fds_at(const char *dir, struct mt_proc *out)
{
	char path[400];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/fdinfo", dir);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct mt_buf b, *slot;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/fdinfo/%s", dir, de->d_name);
		if (!mt_fdinfo_parse(path, &b))
			continue;
		out->nr_fds++;
		slot = (struct mt_buf *)mt_proc_find(out, b.id);
		if (slot) {
			slot->fds++;
			continue;
		}
		b.fds = 1;
		if (!mt_truth_slot(out, &b)) {
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

/*
 * Build the view memtrack should report for @pid from its fdinfo files
 * and its maps.
 */
static inline int mt_truth_read(pid_t pid, struct mt_proc *out)
{
	char dir[64];
	int ret;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	ret = mt_truth_read_fds_at(dir, out);
	if (!ret)
		ret = mt_truth_read_maps(pid, out);
	if (ret)
		return ret;
	qsort(out->bufs, out->nbufs, sizeof(*out->bufs), mt_buf_cmp);
	return 0;
}

/*
 * The same for a process whose threads use distinct descriptor tables
 * (a thread that called unshare(CLONE_FILES)): @tids names one live
 * thread per table, and the first one's maps are the process's.  A
 * zombie group leader has no table and no maps in /proc/PID, which is
 * why a live thread's directory is read.
 */
static inline int mt_truth_read_tables(pid_t pid, const pid_t *tids,
				       unsigned int n, struct mt_proc *out)
{
	char dir[96];
	unsigned int i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	for (i = 0; i < n && !ret; i++) {
		snprintf(dir, sizeof(dir), "/proc/%d/task/%d", pid, tids[i]);
		ret = mt_truth_read_fds_at(dir, out);
	}
	if (!ret && n) {
		snprintf(dir, sizeof(dir), "/proc/%d/task/%d", pid, tids[0]);
		ret = mt_truth_read_maps_at(dir, out);
	}
	if (ret)
		return ret;
	qsort(out->bufs, out->nbufs, sizeof(*out->bufs), mt_buf_cmp);
	return 0;
}

/* The state letter of /proc/PID/task/TID/stat, or 0 if it is gone. */
static inline char mt_task_state(pid_t pid, pid_t tid)
{
	char path[96], line[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* The comm may hold anything: the state follows its last ')'. */
	p = p ? strrchr(line, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : 0;
}

/* A thread of @pid that is neither a zombie nor dead, or 0. */
static inline pid_t mt_live_thread(pid_t pid)
{
	char path[64];
	struct dirent *de;
	pid_t tid = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!tid && (de = readdir(d))) {
		pid_t t = (pid_t)atoi(de->d_name);
		char st = t > 0 ? mt_task_state(pid, t) : 0;

		if (st && st != 'Z' && st != 'X')
			tid = t;
	}
	closedir(d);
	return tid;
}

/*
 * Ground truth for a process whose live threads share one table, read
 * through one of them: right even when the group leader is a zombie.
 */
static inline int mt_truth_read_live(pid_t pid, struct mt_proc *out)
{
	pid_t tid = mt_live_thread(pid);

	if (!tid)
		return -ESRCH;
	if (tid == pid)
		return mt_truth_read(pid, out);
	return mt_truth_read_tables(pid, &tid, 1, out);
}

/*
 * Compare a memtrack reply with ground truth.  Returns NULL when they
 * agree, or a static description of the first difference.
 */
static inline const char *mt_proc_diff(const struct mt_proc *got,
				       const struct mt_proc *want)
{
	static char why[1024];
	unsigned int i;

	if (got->nr_buffers != want->nr_buffers || got->nbufs != want->nbufs) {
		snprintf(why, sizeof(why), "buffers: memtrack %u (%u listed), truth %u",
			 got->nr_buffers, got->nbufs, want->nr_buffers);
		return why;
	}
	if (got->nr_fds != want->nr_fds) {
		snprintf(why, sizeof(why), "fds: memtrack %u, truth %u",
			 got->nr_fds, want->nr_fds);
		return why;
	}
	if (got->mapped != want->mapped) {
		snprintf(why, sizeof(why), "mapped: memtrack %llu, truth %llu",
			 (unsigned long long)got->mapped,
			 (unsigned long long)want->mapped);
		return why;
	}
	if (got->total != want->total) {
		snprintf(why, sizeof(why), "total: memtrack %llu, truth %llu",
			 (unsigned long long)got->total,
			 (unsigned long long)want->total);
		return why;
	}
	for (i = 0; i < want->nbufs; i++) {
		const struct mt_buf *w = &want->bufs[i], *g = &got->bufs[i];

		if (g->id != w->id || g->size != w->size || g->fds != w->fds ||
		    g->mapped != w->mapped ||
		    strcmp(g->exporter, w->exporter) || strcmp(g->name, w->name)) {
			snprintf(why, sizeof(why),
				 "buffer %u: memtrack id=%llu size=%llu fds=%u mapped=%llu exp=%s name=%s; truth id=%llu size=%llu fds=%u mapped=%llu exp=%s name=%s",
				 i, (unsigned long long)g->id,
				 (unsigned long long)g->size, g->fds,
				 (unsigned long long)g->mapped, g->exporter,
				 g->name, (unsigned long long)w->id,
				 (unsigned long long)w->size, w->fds,
				 (unsigned long long)w->mapped, w->exporter,
				 w->name);
			return why;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Making dma-bufs                                                     */

/* A dma-buf of @size bytes from the system heap, or -errno. */
static inline int mt_heap_alloc(size_t size)
{
	struct dma_heap_allocation_data data = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap, ret;

	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap < 0)
		return -errno;
	ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data);
	ret = ret < 0 ? -errno : (int)data.fd;
	close(heap);
	return ret;
}

/* A dma-buf of @size bytes (page multiple) from udmabuf, or -errno. */
static inline int mt_udmabuf_alloc(size_t size)
{
	struct udmabuf_create create = { 0 };
	int memfd, dev, ret;

	memfd = syscall(SYS_memfd_create, "mt-udmabuf", MFD_ALLOW_SEALING);
	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, size) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		ret = -errno;
		close(memfd);
		return ret;
	}
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		ret = -errno;
		close(memfd);
		return ret;
	}
	create.memfd = memfd;
	create.size = size;
	create.flags = UDMABUF_FLAGS_CLOEXEC;
	ret = ioctl(dev, UDMABUF_CREATE, &create);
	if (ret < 0)
		ret = -errno;
	close(dev);
	close(memfd);
	return ret;
}

/*
 * The path of vgem's primary node, or NULL if there is none: not always
 * card0, on a machine with a real GPU.
 */
static inline const char *mt_vgem_path(void)
{
	static char path[32];
	static int found = -1;
	int i, fd;

	for (i = 0; found < 0 && i < 16; i++) {
		char name[16] = "";
		struct drm_version v = {
			.name = name, .name_len = sizeof(name) - 1,
		};

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			found = 1;
		close(fd);
	}
	if (found < 0)
		found = 0;
	return found ? path : NULL;
}

static inline int mt_set_name(int fd, const char *name)
{
	return ioctl(fd, DMA_BUF_SET_NAME, name) < 0 ? -errno : 0;
}

static inline uint64_t mt_fd_ino(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	return st.st_ino;
}

/* ------------------------------------------------------------------ */
/* Parking children at a known state                                   */

/*
 * A child that does some work, reports readiness and waits to be told
 * to exit, so that the parent can inspect it at a quiescent point.
 */
/* Send @fd over @sock with SCM_RIGHTS and one byte of data; 0 or -1. */
static inline int mt_send_fd(int sock, int fd)
{
	char data = 'x', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receive one fd sent by mt_send_fd(); the fd, or -1. */
static inline int mt_recv_fd(int sock)
{
	char data, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * Leave @fd's file in flight: sent over a new socket pair with SCM_RIGHTS
 * and never received, then closed.  Only the socket's queue, a kernel
 * reference, keeps the buffer alive: no process holds it.  Closing both
 * @sock ends releases it.  Returns 0 or -errno.
 */
static inline int mt_fd_in_flight(int fd, int sock[2])
{
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sock))
		return -errno;
	if (mt_send_fd(sock[0], fd))
		return -errno;
	return close(fd) ? -errno : 0;
}

struct mt_child {
	pid_t pid;
	int ready;	/* parent reads: child is parked */
	int go;		/* parent writes: child may exit */
};

static inline void mt_child_park(int ready_fd, int go_fd)
{
	char c = 'r';

	if (write(ready_fd, &c, 1) != 1)
		_exit(90);
	if (read(go_fd, &c, 1) < 0)
		_exit(91);
}

static inline int mt_child_wait_ready(struct mt_child *c)
{
	char ch;

	return read(c->ready, &ch, 1) == 1 ? 0 : -1;
}

/* Release a parked child and reap it; returns its exit status or -1. */
static inline int mt_child_finish(struct mt_child *c)
{
	char bye = 'x';
	int status;

	/* Say so explicitly: a child sharing or copying our table also
	 * holds the write end, so it would never see EOF.
	 */
	if (write(c->go, &bye, 1) != 1)
		return -1;
	close(c->go);
	close(c->ready);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

struct mt_event {
	uint8_t cmd;
	uint64_t seq;
	uint32_t pid;
	uint32_t parent;
	uint32_t reason;
	uint64_t total;
	uint32_t nr_buffers;
	uint64_t nr_added;	/* proc-bulk-ntf */
	uint64_t nr_removed;	/* proc-bulk-ntf */
	bool has_buf;
	struct mt_buf buf;
};

/* The id of the family's events group, from CTRL_CMD_GETFAMILY. */
static inline int mt_events_grp_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct genlmsghdr *gh = NLMSG_DATA(nlh);
	const struct nlattr *a, *grp, *ga;
	uint32_t *out = arg;

	mt_for_each_attr(a, (char *)gh + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		if (mt_type(a) != CTRL_ATTR_MCAST_GROUPS)
			continue;
		mt_for_each_attr(grp, mt_attr_data(a), mt_attr_len(a)) {
			uint32_t id = 0;
			char name[32] = "";

			mt_for_each_attr(ga, mt_attr_data(grp), mt_attr_len(grp)) {
				if (mt_type(ga) == CTRL_ATTR_MCAST_GRP_ID)
					memcpy(&id, mt_attr_data(ga), 4);
				else if (mt_type(ga) == CTRL_ATTR_MCAST_GRP_NAME)
					mt_attr_str(ga, name, sizeof(name));
			}
			if (!strcmp(name, MEMTRACK_MCGRP_EVENTS))
				*out = id;
		}
	}
	return 0;
}

/*
 * A socket subscribed to the events group, or -errno.  A positive
 * @rcvbuf sets its receive buffer, past rmem_max when the caller may
 * (SO_RCVBUFFORCE).
 */
/* Become user @uid (and group @uid, with no supplementary groups); 0 or -1. */
static inline int mt_drop_to_user(uid_t uid)
{
	return setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	       setresuid(uid, uid, uid) ? -1 : 0;
}

/* Drop @cap from the effective set; 0 or -1. */
static inline int mt_drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

static inline int mt_events_open(int rcvbuf)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct mt_nl nl;
	struct mt_msg m;
	uint32_t grp = 0;
	int fd, ret;

	ret = mt_nl_open(&nl);
	if (ret)
		return ret;
	nl.seq++;
	mt_msg_init(&m, &nl, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	mt_put(&m, CTRL_ATTR_FAMILY_NAME, MEMTRACK_FAMILY_NAME,
	       strlen(MEMTRACK_FAMILY_NAME) + 1);
	ret = mt_nl_send(&nl, &m);
	if (!ret)
		ret = mt_nl_recv_loop(&nl, mt_events_grp_cb, &grp, 8192);
	mt_nl_close(&nl);
	if (ret)
		return ret;
	if (!grp)
		return -ENOENT;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	/* Multicast skips port 0, so the socket must have a port: bind. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static inline void mt_event_parse(const struct nlmsghdr *nlh, struct mt_event *e)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *a;

	memset(e, 0, sizeof(*e));
	e->cmd = g->cmd;
	mt_for_each_attr(a, (char *)g + GENL_HDRLEN,
			 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)) {
		switch (mt_type(a)) {
		case MEMTRACK_A_EVENT_SEQ:
			e->seq = mt_attr_uint(a);
			break;
		case MEMTRACK_A_EVENT_PID:
			e->pid = *(uint32_t *)mt_attr_data(a);
			break;
		case MEMTRACK_A_EVENT_PARENT_PID:
			e->parent = *(uint32_t *)mt_attr_data(a);
			break;
		case MEMTRACK_A_EVENT_REASON:
			e->reason = *(uint32_t *)mt_attr_data(a);
			break;
		case MEMTRACK_A_EVENT_TOTAL:
			e->total = mt_attr_uint(a);
			break;
		case MEMTRACK_A_EVENT_NR_BUFFERS:
			e->nr_buffers = mt_attr_uint(a);
			break;
		case MEMTRACK_A_EVENT_BUFFER:
			e->has_buf = !mt_parse_buf(a, &e->buf);
			break;
		case MEMTRACK_A_EVENT_NR_ADDED:
			e->nr_added = mt_attr_uint(a);
			break;
		case MEMTRACK_A_EVENT_NR_REMOVED:
			e->nr_removed = mt_attr_uint(a);
			break;
		}
	}
}

/* One event on one line, for failure messages. */
static inline const char *mt_event_str(const struct mt_event *e)
{
	static const char *const reasons[] = {
		[MEMTRACK_REASON_CLOSE] = "close", [MEMTRACK_REASON_EXEC] = "exec",
		[MEMTRACK_REASON_EXIT] = "exit", [MEMTRACK_REASON_UNMAP] = "unmap",
		[MEMTRACK_REASON_HANDLE_CLOSE] = "handle-close",
	};
	static char out[256];

	switch (e->cmd) {
	case MEMTRACK_CMD_PROC_BUFFER_ADD_NTF:
	case MEMTRACK_CMD_PROC_BUFFER_DEL_NTF:
		snprintf(out, sizeof(out),
			 "seq %llu pid %u %s%s%s buffer %llu (%llu bytes, holders %u) -> total %llu, %u buffers",
			 (unsigned long long)e->seq, e->pid,
			 e->cmd == MEMTRACK_CMD_PROC_BUFFER_ADD_NTF ? "install" : "uninstall",
			 e->cmd == MEMTRACK_CMD_PROC_BUFFER_ADD_NTF ? "" : "/",
			 e->cmd == MEMTRACK_CMD_PROC_BUFFER_ADD_NTF ? "" :
			 e->reason < ARRAY_SIZE(reasons) && reasons[e->reason] ?
			 reasons[e->reason] : "?",
			 (unsigned long long)e->buf.id, (unsigned long long)e->buf.size,
			 e->buf.holders, (unsigned long long)e->total, e->nr_buffers);
		break;
	case MEMTRACK_CMD_PROC_FORK_NTF:
		snprintf(out, sizeof(out), "seq %llu pid %u fork of %u -> total %llu, %u buffers",
			 (unsigned long long)e->seq, e->pid, e->parent,
			 (unsigned long long)e->total, e->nr_buffers);
		break;
	case MEMTRACK_CMD_PROC_BULK_NTF:
		snprintf(out, sizeof(out), "seq %llu pid %u bulk +%llu -%llu/%s -> total %llu, %u buffers",
			 (unsigned long long)e->seq, e->pid,
			 (unsigned long long)e->nr_added,
			 (unsigned long long)e->nr_removed,
			 !e->reason ? "-" :
			 e->reason < ARRAY_SIZE(reasons) && reasons[e->reason] ?
			 reasons[e->reason] : "?",
			 (unsigned long long)e->total, e->nr_buffers);
		break;
	default:
		snprintf(out, sizeof(out), "seq %llu pid %u command %u",
			 (unsigned long long)e->seq, e->pid, e->cmd);
	}
	return out;
}

/* Every event a subscribed socket received, in order. */
struct mt_evlog {
	int fd;
	struct mt_event *ev;
	unsigned int n;
	unsigned int cap;
	bool enobufs;		/* the socket overflowed: events were lost */
};

static inline int mt_evlog_open(struct mt_evlog *l, int rcvbuf)
{
	memset(l, 0, sizeof(*l));
	l->fd = mt_events_open(rcvbuf);
	return l->fd < 0 ? l->fd : 0;
}

static inline void mt_evlog_close(struct mt_evlog *l)
{
	if (l->fd > 0)
		close(l->fd);
	free(l->ev);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/*
 * Read what the socket has, waiting at most @ms for the first event and
 * then until 50 ms pass without one.  @ms 0 only drains.
 */
static inline void mt_evlog_read(struct mt_evlog *l, int ms)
{
	char buf[16384];

	for (;;) {
		struct pollfd p = { .fd = l->fd, .events = POLLIN };
		struct nlmsghdr *nlh;
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return;
		if (ms)
			ms = 50;
		n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS)
				l->enobufs = true;
			continue;
		}
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (l->n == l->cap) {
				unsigned int cap = l->cap ? 2 * l->cap : 256;
				struct mt_event *ne = realloc(l->ev, cap * sizeof(*ne));

				if (!ne)
					return;
				l->ev = ne;
				l->cap = cap;
			}
			mt_event_parse(nlh, &l->ev[l->n++]);
		}
	}
}

/* No loss: no overflow and sequence numbers that step by one. */
static inline bool mt_evlog_complete(const struct mt_evlog *l)
{
	unsigned int i;

	for (i = 1; i < l->n; i++)
		if (l->ev[i].seq != l->ev[i - 1].seq + 1)
			return false;
	return !l->enobufs;
}

/*
 * Replay of events per process: each event's total and nr-buffers must
 * follow from the previous event of the same pid (install adds the
 * buffer's size and one buffer, uninstall removes them, fork-ntf gives a
 * new process its starting figures), and an uninstall must name a
 * process that held the buffer according to the earlier events.
 */
struct mt_replay_proc {
	uint32_t pid;
	int64_t total;
	int64_t nr;
	unsigned int events;
	unsigned int unknown;	/* buffers it got at fork, not named there */
	unsigned int nheld;
	uint64_t *held;		/* buffers named by its installs */
};

struct mt_replay {
	struct mt_replay_proc *procs;
	unsigned int n;
	char why[768];
};

static inline struct mt_replay_proc *mt_replay_find(struct mt_replay *r,
						    uint32_t pid, bool add)
{
	struct mt_replay_proc *np;
	unsigned int i;

	for (i = 0; i < r->n; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	if (!add)
		return NULL;
	np = realloc(r->procs, (r->n + 1) * sizeof(*np));
	if (!np)
		return NULL;
	r->procs = np;
	np = &r->procs[r->n++];
	memset(np, 0, sizeof(*np));
	np->pid = pid;
	return np;
}

static inline void mt_replay_free(struct mt_replay *r)
{
	unsigned int i;

	for (i = 0; i < r->n; i++)
		free(r->procs[i].held);
	free(r->procs);
	memset(r, 0, sizeof(*r));
}

/* Apply @e; false, with r->why, if it does not follow from the earlier ones. */
static inline bool mt_replay_apply(struct mt_replay *r, const struct mt_event *e)
{
	struct mt_replay_proc *p = mt_replay_find(r, e->pid, true);
	int64_t want_total, want_nr;
	unsigned int i;
	bool ok = true;

	r->why[0] = '\0';
	if (!p) {
		snprintf(r->why, sizeof(r->why), "out of memory");
		return false;
	}
	p->events++;
	switch (e->cmd) {
	case MEMTRACK_CMD_PROC_FORK_NTF:
		if (p->total || p->nr) {
			snprintf(r->why, sizeof(r->why),
				 "%s: a new process with a pid whose last holder still had %lld bytes in %lld buffers",
				 mt_event_str(e), (long long)p->total, (long long)p->nr);
			ok = false;
		}
		p->nheld = 0;
		p->unknown = e->nr_buffers;
		p->total = (int64_t)e->total;
		p->nr = e->nr_buffers;
		return ok;
	case MEMTRACK_CMD_PROC_BULK_NTF:
		/*
		 * Buffers added or removed without their ids: the count must
		 * follow, the total is taken as given, and which buffers the
		 * process holds is known no more (as after a fork).
		 */
		want_nr = p->nr + (int64_t)e->nr_added - (int64_t)e->nr_removed;
		if (want_nr != e->nr_buffers || (!e->nr_added && !e->nr_removed) ||
		    (e->nr_removed && !e->reason) || (!e->nr_removed && e->reason)) {
			snprintf(r->why, sizeof(r->why),
				 "%s: the earlier events of pid %u make it %lld buffers",
				 mt_event_str(e), e->pid, (long long)want_nr);
			ok = false;
		}
		p->nheld = 0;
		p->unknown = e->nr_buffers;
		p->total = (int64_t)e->total;
		p->nr = e->nr_buffers;
		return ok;
	case MEMTRACK_CMD_PROC_BUFFER_ADD_NTF:
		for (i = 0; i < p->nheld; i++)
			if (p->held[i] == e->buf.id)
				break;
		if (i < p->nheld) {
			snprintf(r->why, sizeof(r->why),
				 "%s: installed in a process that already held it",
				 mt_event_str(e));
			ok = false;
		} else {
			uint64_t *nh = realloc(p->held, (p->nheld + 1) * sizeof(*nh));

			if (nh) {
				p->held = nh;
				p->held[p->nheld++] = e->buf.id;
			}
		}
		want_total = p->total + (int64_t)e->buf.size;
		want_nr = p->nr + 1;
		break;
	case MEMTRACK_CMD_PROC_BUFFER_DEL_NTF:
		for (i = 0; i < p->nheld; i++)
			if (p->held[i] == e->buf.id)
				break;
		if (i < p->nheld) {
			p->held[i] = p->held[--p->nheld];
		} else if (p->unknown) {
			p->unknown--;
		} else {
			snprintf(r->why, sizeof(r->why),
				 "%s: names a process that did not hold the buffer according to the earlier events",
				 mt_event_str(e));
			ok = false;
		}
		want_total = p->total - (int64_t)e->buf.size;
		want_nr = p->nr - 1;
		break;
	default:
		snprintf(r->why, sizeof(r->why), "%s: unknown event", mt_event_str(e));
		return false;
	}
	if (ok && (want_total != (int64_t)e->total || want_nr != e->nr_buffers)) {
		snprintf(r->why, sizeof(r->why),
			 "%s: the earlier events of pid %u make it %lld bytes in %lld buffers",
			 mt_event_str(e), e->pid, (long long)want_total, (long long)want_nr);
		ok = false;
	}
	/* Go on from what the kernel said, to report one problem once. */
	p->total = (int64_t)e->total;
	p->nr = e->nr_buffers;
	return ok;
}

/* ------------------------------------------------------------------ */
/* Sysctls changed for a test, and exhausted pids                      */

static inline int mt_read_int(const char *path, int *v)
{
	char line[32];
	int ret = mt_read_line(path, line, sizeof(line));

	if (!ret)
		*v = atoi(line);
	return ret;
}

static inline int mt_write_int(const char *path, int v)
{
	char line[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%d\n", v);
	if (write(fd, line, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* A sysctl set to another value, and a guard that puts it back. */
struct mt_sysctl {
	char path[96];
	int orig;
	pid_t guard;
	int fd;			/* guard pipe: EOF makes the guard restore */
	bool set;
};

/*
 * Set the sysctl @path to @value.  A guard process in a session of its
 * own puts the old value back once the write end of its pipe is closed
 * everywhere, so even a test killed by the harness (which kills its
 * process group) leaves the system as it found it.  The normal way back
 * is mt_sysctl_restore().  Returns 0 or -errno.
 */
static inline int mt_sysctl_set(struct mt_sysctl *s, const char *path, int value)
{
	int p[2], ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	ret = mt_read_int(path, &s->orig);
	if (ret)
		return ret;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	s->guard = fork();
	if (s->guard < 0) {
		ret = -errno;
		close(p[0]);
		close(p[1]);
		return ret;
	}
	if (s->guard == 0) {
		char c;

		setsid();
		/* Hold nothing of the test's but the pipe. */
		if (p[0] > 3)
			syscall(SYS_close_range, 3, p[0] - 1, 0);
		syscall(SYS_close_range, p[0] + 1, ~0U, 0);
		for (;;) {
			ssize_t n = read(p[0], &c, 1);

			if (n == 0 || (n < 0 && errno != EINTR))
				break;
		}
		mt_write_int(s->path, s->orig);
		_exit(0);
	}
	close(p[0]);
	s->fd = p[1];
	ret = mt_write_int(path, value);
	if (ret) {
		close(s->fd);
		s->fd = -1;
		waitpid(s->guard, NULL, 0);
		s->guard = 0;
		return ret;
	}
	s->set = true;
	return 0;
}

/* Put the sysctl back and end its guard.  Returns 0 or -errno. */
static inline int mt_sysctl_restore(struct mt_sysctl *s)
{
	int ret = 0;

	if (s->set)
		ret = mt_write_int(s->path, s->orig);
	s->set = false;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->guard > 0)
		waitpid(s->guard, NULL, 0);
	s->guard = 0;
	return ret;
}

/* RESERVED_PIDS: once past it, new pids wrap around to it, not to 1. */
#define MT_RESERVED_PIDS 300

/* fork() fails with EAGAIN: pid_max at its minimum and every pid taken. */
struct mt_pid_squeeze {
	struct mt_sysctl pid_max;
	pid_t parkers[512];
	unsigned int n;
};

/*
 * Make every fork() (and thread creation) fail in alloc_pid(), after
 * copy_process() has copied the descriptor table and the address space:
 * move the pid cursor past RESERVED_PIDS with short-lived children, set
 * pid_max to its minimum, RESERVED_PIDS + 1, so that only pids from 300
 * to 300 remain, and occupy whatever is free there with parked children
 * until fork() says EAGAIN.  The caller should hold no buffer yet: the
 * parked children copy its table.  Returns 0 or -errno; undo with
 * mt_pids_release() (the pid_max guard also restores it if we die).
 */
static inline int mt_pids_exhaust(struct mt_pid_squeeze *q)
{
	pid_t pid = 0;
	int i, ret;

	memset(q, 0, sizeof(*q));
	q->pid_max.fd = -1;
	for (i = 0; i < 4 * MT_RESERVED_PIDS && pid <= MT_RESERVED_PIDS; i++) {
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	ret = mt_sysctl_set(&q->pid_max, "/proc/sys/kernel/pid_max",
			    MT_RESERVED_PIDS + 1);
	if (ret)
		return ret;
	for (;;) {
		if (q->n == ARRAY_SIZE(q->parkers))
			return -EBUSY;
		pid = fork();
		if (pid < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (pid == 0) {
			if (q->pid_max.fd >= 0)
				close(q->pid_max.fd);
			for (;;)
				pause();
		}
		q->parkers[q->n++] = pid;
	}
}

/* Give pid_max back, then the pids.  Returns 0 or -errno. */
static inline int mt_pids_release(struct mt_pid_squeeze *q)
{
	int ret = mt_sysctl_restore(&q->pid_max);
	unsigned int i;

	for (i = 0; i < q->n; i++) {
		kill(q->parkers[i], SIGKILL);
		waitpid(q->parkers[i], NULL, 0);
	}
	q->n = 0;
	return ret;
}

/*
 * On a kernel without memtrack, or one booted with memtrack=off, every
 * memtrack test is skipped, as kselftests do for what the kernel lacks:
 * "make -C tools/testing/selftests TARGETS=memtrack run_tests" must not
 * fail there.  Each main() calls this after dispatching the helper modes
 * it re-executes itself in.
 */
static inline void mt_require_memtrack(void)
{
	struct mt_nl nl;
	int ret = mt_nl_open(&nl);

	if (!ret) {
		mt_nl_close(&nl);
		return;
	}
	if (ret == -ENOENT) {
		ksft_print_header();
		ksft_exit_skip("no memtrack netlink family in this kernel (not built, or memtrack=off)\n");
	}
	ksft_exit_fail_msg("cannot query generic netlink: %s\n", strerror(-ret));
}

/* TEST_HARNESS_MAIN, skipping every test without memtrack. */
#define MT_HARNESS_MAIN						\
	int main(int argc, char **argv)				\
	{							\
		mt_require_memtrack();				\
		return test_harness_run(argc, argv);		\
	}

#endif /* MT_LIB_H */
