// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmemtrack-nl transport, on libnl-3 and libnl-genl-3.
 *
 * libnl maps kernel errors onto its own NLE_* codes and loses information
 * on the way (ENOBUFS becomes NLE_NOMEM; ESRCH and ENOENT both become
 * NLE_OBJ_NOTFOUND) and it ignores the error a dump reports in NLMSG_DONE.
 * So every request installs its own error and finish callbacks, which
 * keep the raw errno and the extack message in the handle; NLE_* codes
 * never leave this file.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "internal.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

struct mtnl {
	struct nl_sock *sk;
	int family;
	uint32_t family_version;
	bool has_v2_ops;	/* proc-refs-get: the v2 uAPI */
	int err;		/* -errno of the request in progress */
	bool dump_intr;
	char errmsg[256];
	/* State of the request in progress. */
	struct mtnl_proc *procs;	/* a proc-refs-get dump, in pid order */
	size_t nprocs, procs_cap;
	/*
	 * The buffers a proc-refs-get dump described, each once, and an
	 * open-addressing index of them by id (entry + 1; 0 is empty).
	 */
	struct mtnl_buffer *descs;
	size_t ndescs, descs_cap;
	uint32_t *desc_index;
	size_t index_cap;		/* 2^index_bits, or 0 */
	unsigned int index_bits;
	struct mtnl_proc *cur;		/* the process of the message being read */
	uint32_t seq;			/* of the request in progress */
	mtnl_buffer_cb buf_cb;
	mtnl_proc_cb proc_cb;
	uint32_t last_pid;		/* of a figures dump, for its order */
	void *cb_arg;
	int cb_ret;
	uint64_t generation;
	struct mtnl_proc *single;	/* a do reply */
	struct mtnl_buffer *single_buf;
	struct mtnl_stats *stats;
};

const char *mtnl_version(void)
{
	return MTNL_VERSION_STRING;
}

const char *mtnl_strerror(int err)
{
	/* -errno as the library returns it, or errno itself: the same. */
	int n = err >= 0 ? err : err == INT_MIN ? INT_MAX : -err;

	switch (n) {
	case ENOENT:
		return "the running kernel has no memtrack netlink family (built without CONFIG_MEMTRACK, or booted with memtrack=off)";
	case EPROTO:
		return "the kernel's memtrack family is an older revision than this library speaks";
	case EPERM:
		return "operation not permitted (memtrack's events, its list of every buffer and high-water mark resets need CAP_NET_ADMIN and CAP_SYS_ADMIN)";
	case E2BIG:
		return "an options struct has fields this version of libmemtrack-nl does not know";
	}
	return strerror(n);
}

static void set_error(struct mtnl *h, int err, const char *fmt, ...)
{
	va_list ap;

	h->err = err;
	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
	va_end(ap);
}

const char *mtnl_last_error(const struct mtnl *h)
{
	return h ? h->errmsg : "";
}

uint32_t mtnl_family_version(const struct mtnl *h)
{
	return h->family_version;
}

/* Extended-ack attributes of an NLMSG_ERROR or NLMSG_DONE message. */
static void read_extack(struct mtnl *h, const struct nlmsghdr *nlh,
			size_t off)
{
	const char *pos = (const char *)nlh + off;
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	while (pos + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)pos;

		if (a->nla_len < NLA_HDRLEN || pos + a->nla_len > end)
			break;
		if (a->nla_type == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN) {
			size_t n = a->nla_len - NLA_HDRLEN;

			if (n >= sizeof(h->errmsg))
				n = sizeof(h->errmsg) - 1;
			memcpy(h->errmsg, pos + NLA_HDRLEN, n);
			h->errmsg[n] = '\0';
		}
		pos += NLA_ALIGN(a->nla_len);
	}
}

static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct mtnl *h = arg;
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	(void)nla;
	h->err = e->error;
	h->errmsg[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (off <= nlh->nlmsg_len)
		read_extack(h, nlh, off);
	if (!h->errmsg[0])
		snprintf(h->errmsg, sizeof(h->errmsg), "%s", strerror(-e->error));
	return NL_STOP;
}

/* libnl does not look at the error a dump ends with: do it here. */
static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	const struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int err = 0;

	if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int))
		memcpy(&err, nlmsg_data(nlh), sizeof(int));
	if (err < 0) {
		h->err = err;
		h->errmsg[0] = '\0';
		read_extack(h, nlh, NLMSG_HDRLEN + sizeof(int));
		if (!h->errmsg[0])
			snprintf(h->errmsg, sizeof(h->errmsg), "%s", strerror(-err));
	}
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		h->dump_intr = true;
	return NL_STOP;
}

static void procs_free(struct mtnl *h)
{
	size_t i;

	for (i = 0; i < h->nprocs; i++)
		mtnl__proc_reset(&h->procs[i]);
	free(h->procs);
	h->procs = NULL;
	h->nprocs = 0;
	h->procs_cap = 0;
	h->cur = NULL;
}

static void descs_free(struct mtnl *h)
{
	free(h->descs);
	free(h->desc_index);
	h->descs = NULL;
	h->desc_index = NULL;
	h->ndescs = h->descs_cap = h->index_cap = 0;
	h->index_bits = 0;
}

/*
 * Fibonacci hashing of a buffer id into an index of 2^@bits slots: the
 * top bits of the product, in which every bit of the id counts.
 */
static size_t desc_slot(uint64_t id, unsigned int bits)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
}

static const struct mtnl_buffer *desc_find(const struct mtnl *h, uint64_t id)
{
	size_t i;

	if (!h->index_cap)
		return NULL;
	for (i = desc_slot(id, h->index_bits); h->desc_index[i];
	     i = (i + 1) & (h->index_cap - 1))
		if (h->descs[h->desc_index[i] - 1].id == id)
			return &h->descs[h->desc_index[i] - 1];
	return NULL;
}

static int desc_index_grow(struct mtnl *h)
{
	unsigned int bits = h->index_cap ? h->index_bits + 1 : 8;
	uint32_t *index;
	size_t cap, i, j;

	if (bits >= sizeof(size_t) * 8 - 1)
		return -ENOMEM;
	cap = (size_t)1 << bits;
	index = calloc(cap, sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (i = 0; i < h->ndescs; i++) {
		for (j = desc_slot(h->descs[i].id, bits); index[j];
		     j = (j + 1) & (cap - 1))
			;
		index[j] = (uint32_t)i + 1;
	}
	free(h->desc_index);
	h->desc_index = index;
	h->index_cap = cap;
	h->index_bits = bits;
	return 0;
}

/*
 * A buffer a proc-refs-get message describes: kept for the entries of
 * the rest of the dump, replacing an earlier description of it.
 */
static int desc_store(struct mtnl *h, const struct mtnl_buffer *b)
{
	struct mtnl_buffer *known = (struct mtnl_buffer *)desc_find(h, b->id);
	size_t i;

	if (known) {
		*known = *b;
		return 0;
	}
	if (h->ndescs >= UINT32_MAX - 1)
		return -EBADMSG;
	/* At most half full, so that probes stay short. */
	if (2 * (h->ndescs + 1) > h->index_cap && desc_index_grow(h))
		return -ENOMEM;
	if (h->ndescs == h->descs_cap) {
		size_t cap = h->descs_cap ? 2 * h->descs_cap : 64;
		struct mtnl_buffer *nd;

		if (cap > SIZE_MAX / sizeof(*nd))
			return -ENOMEM;
		nd = realloc(h->descs, cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		h->descs = nd;
		h->descs_cap = cap;
	}
	h->descs[h->ndescs] = *b;
	for (i = desc_slot(b->id, h->index_bits); h->desc_index[i];
	     i = (i + 1) & (h->index_cap - 1))
		;
	h->desc_index[i] = (uint32_t)++h->ndescs;
	return 0;
}

static struct mtnl_proc *procs_add(struct mtnl *h)
{
	if (h->nprocs == h->procs_cap) {
		size_t cap = h->procs_cap ? 2 * h->procs_cap : 64;
		struct mtnl_proc *np = realloc(h->procs, cap * sizeof(*np));

		if (!np)
			return NULL;
		h->procs = np;
		h->procs_cap = cap;
	}
	memset(&h->procs[h->nprocs], 0, sizeof(h->procs[0]));
	return &h->procs[h->nprocs++];
}

static bool short_msg(struct mtnl *h, const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN))
		return false;
	set_error(h, -EBADMSG, "short message from the kernel");
	return true;
}

/* The reply to a proc-get do: the figures of h->single. */
static int proc_msg_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	char why[160];
	int ret;

	if (short_msg(h, nlh))
		return NL_STOP;
	ret = mtnl__parse_proc(genlmsg_attrdata(nlmsg_data(nlh), 0),
			       (size_t)genlmsg_attrlen(nlmsg_data(nlh), 0),
			       h->single, why, sizeof(why));
	if (ret)
		set_error(h, ret, "bad reply from the kernel: %s", why);
	return NL_STOP;
}

/* Make room for @n more buffers in @p. */
static int proc_reserve(struct mtnl_proc *p, size_t n)
{
	size_t cap = p->cap ? p->cap : 16;
	struct mtnl_buffer *nb;

	if (p->nbufs + n <= p->cap)
		return 0;
	while (cap < p->nbufs + n) {
		if (cap > SIZE_MAX / 2 / sizeof(*nb))
			return -ENOMEM;
		cap *= 2;
	}
	nb = realloc(p->bufs, cap * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	p->bufs = nb;
	p->cap = cap;
	return 0;
}

/*
 * The process a proc-refs-get message is about: a new one, the one being
 * listed again from its figures (it changed while it was listed), or the
 * one being listed, continued.
 */
static int refs_begin(const struct mtnl_refs_msg *m, void *arg)
{
	struct mtnl *h = arg;
	struct mtnl_proc *p = h->nprocs ? &h->procs[h->nprocs - 1] : NULL;

	h->cur = NULL;
	if (!m->has_figures) {
		if (!p || p->pid != m->pid) {
			set_error(h, -EBADMSG,
				  "bad reply from the kernel: pid %u continued without its figures",
				  m->pid);
			return -EBADMSG;
		}
		/* The mapped bytes of this part could not be read, say. */
		p->incomplete |= m->incomplete;
	} else if (p && p->pid == m->pid) {
		mtnl__proc_reset(p);
		*p = m->figures;
	} else {
		if (p && p->pid > m->pid) {
			set_error(h, -EBADMSG, "bad reply from the kernel: pid %u out of order",
				  m->pid);
			return -EBADMSG;
		}
		p = procs_add(h);
		if (!p) {
			set_error(h, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
		*p = m->figures;
	}
	if (m->has_figures) {
		if (p->generation > h->generation)
			h->generation = p->generation;
		/* Room for its buffers, up to a bound: it grows as they come. */
		if (proc_reserve(p, p->nr_buffers < 1024 ? p->nr_buffers : 1024)) {
			set_error(h, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
	}
	h->cur = p;
	return 0;
}

static int refs_desc(const struct mtnl_buffer *b, void *arg)
{
	struct mtnl *h = arg;
	int ret = desc_store(h, b);

	if (ret)
		set_error(h, ret, ret == -ENOMEM ? "out of memory" :
			  "bad reply from the kernel: too many buffers");
	return ret;
}

/*
 * One buffer of the process: the buffer as the dump described it, with
 * the process's side filled in.  A copy into the process's array: no
 * allocation per buffer.
 */
static int refs_ref(const struct mtnl_ref_entry *r, void *arg)
{
	struct mtnl *h = arg;
	struct mtnl_proc *p = h->cur;
	const struct mtnl_buffer *d = desc_find(h, r->id);
	struct mtnl_buffer *b;

	if (!d || (p->nbufs && r->id <= p->bufs[p->nbufs - 1].id)) {
		set_error(h, -EBADMSG, d ?
			  "bad reply from the kernel: buffer %llu out of order" :
			  "bad reply from the kernel: buffer %llu listed before it was described",
			  (unsigned long long)r->id);
		return -EBADMSG;
	}
	if (proc_reserve(p, 1)) {
		set_error(h, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	b = &p->bufs[p->nbufs++];
	*b = *d;
	b->fds = r->fds;
	b->mapped = r->mapped;
	b->handles = r->handles;
	return 0;
}

static const struct mtnl_refs_cbs refs_cbs = {
	.begin = refs_begin,
	.desc = refs_desc,
	.ref = refs_ref,
};

/*
 * A proc-refs-get message: a process's figures, its listing again, or a
 * continuation of it, with a run of its buffers.
 */
static int refs_msg_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	size_t before;
	char why[160];
	int ret;

	/* After an error, read the rest of the dump, for the next request. */
	if (h->err || short_msg(h, nlh))
		return NL_SKIP;
	before = h->nprocs;
	ret = mtnl__parse_refs(genlmsg_attrdata(nlmsg_data(nlh), 0),
			       (size_t)genlmsg_attrlen(nlmsg_data(nlh), 0),
			       &refs_cbs, h, why, sizeof(why));
	if (ret == -EBADMSG && !h->err)
		set_error(h, ret, "bad reply from the kernel: %s", why);
	if (ret)
		return NL_SKIP;
	/*
	 * The kernel flags the first message after what went wrong: a
	 * process that kept changing (this message goes on with it), or one
	 * that went away while it was listed (this message starts the next
	 * process).  Either way, read that one again.
	 */
	if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) && h->cur) {
		if (h->nprocs > before && h->nprocs >= 2)
			h->procs[h->nprocs - 2].changed = true;
		else
			h->cur->changed = true;
	}
	return NL_OK;
}

static int buffer_msg_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct mtnl_buffer b;
	char why[160];
	int ret;

	/*
	 * The callback stopped the dump, or something went wrong: read the
	 * rest of a dump, for the next request (a do reply is one message).
	 */
	if (h->cb_ret || h->err)
		return NL_SKIP;
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) {
		set_error(h, -EBADMSG, "short message from the kernel");
		return h->single_buf ? NL_STOP : NL_SKIP;
	}
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		h->dump_intr = true;
	ret = mtnl__parse_buffer(genlmsg_attrdata(nlmsg_data(nlh), 0),
				 (size_t)genlmsg_attrlen(nlmsg_data(nlh), 0),
				 &b, why, sizeof(why));
	if (ret) {
		set_error(h, ret, "bad reply from the kernel: %s", why);
		return h->single_buf ? NL_STOP : NL_SKIP;
	}
	if (h->single_buf) {
		*h->single_buf = b;
		return NL_STOP;
	}
	if (h->buf_cb) {
		ret = h->buf_cb(&b, h->cb_arg);
		mtnl__buffer_reset(&b);
		if (ret)
			h->cb_ret = ret;
	}
	mtnl__buffer_reset(&b);
	return NL_OK;
}

/*
 * libnl fails a whole dump that carries NLM_F_DUMP_INTR unless a callback
 * takes the flag: it is the library's to judge (one process to read
 * again), and the message is still to be read.
 */
static int intr_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;

	(void)msg;
	h->dump_intr = true;
	return NL_OK;
}

/*
 * Only the replies to the request in progress: with automatic acks off,
 * libnl checks no sequence number, and a reply of an earlier request
 * that failed midway must not pass for this one's.
 */
static int seq_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;

	return nlmsg_hdr(msg)->nlmsg_seq == h->seq ? NL_OK : NL_SKIP;
}

/* An acknowledgement ends a request that has no reply. */
static int ack_cb(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_STOP;
}

/*
 * Send @msg and read replies until the request completes.  Returns 0 or
 * the raw -errno; the handle keeps the message.
 */
static int transact(struct mtnl *h, struct nl_msg *msg, nl_recvmsg_msg_cb_t valid)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	if (!cb) {
		nlmsg_free(msg);
		set_error(h, -ENOMEM, "out of memory");
		return h->err;
	}
	h->err = 0;
	h->errmsg[0] = '\0';
	h->dump_intr = false;
	h->cb_ret = 0;
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, h);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, h);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, h);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, h);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, intr_cb, h);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, seq_cb, h);

	ret = nl_send_auto(h->sk, msg);
	h->seq = nlmsg_hdr(msg)->nlmsg_seq;	/* completed by the send */
	nlmsg_free(msg);
	if (ret < 0) {
		nl_cb_put(cb);
		set_error(h, -errno ? -errno : -EIO, "cannot send the request: %s",
			  nl_geterror(ret));
		return h->err;
	}
	ret = nl_recvmsgs(h->sk, cb);
	nl_cb_put(cb);
	if (h->err)
		return h->err;
	if (ret < 0) {
		/* A failure libnl saw itself, such as a socket error. */
		int e = errno ? errno : EIO;

		set_error(h, -e, "receive failed: %s", nl_geterror(ret));
		return h->err;
	}
	return 0;
}

static struct nl_msg *new_request(struct mtnl *h, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, h->family, 0, flags,
			 cmd, MTNL_FAMILY_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * CTRL_CMD_GETFAMILY reply: the family's version, and whether it has the
 * operations of the uAPI this library speaks (proc-buffer-get came with
 * the second revision; the family version stayed 1, as YNL sets it).
 */
static int family_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *op;
	int rem;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, CTRL_ATTR_MAX, NULL))
		return NL_STOP;
	if (tb[CTRL_ATTR_VERSION])
		h->family_version = nla_get_u32(tb[CTRL_ATTR_VERSION]);
	if (!tb[CTRL_ATTR_OPS])
		return NL_STOP;
	nla_for_each_nested(op, tb[CTRL_ATTR_OPS], rem) {
		struct nlattr *ob[CTRL_ATTR_OP_MAX + 1];

		if (nla_parse_nested(ob, CTRL_ATTR_OP_MAX, op, NULL) == 0 &&
		    ob[CTRL_ATTR_OP_ID] &&
		    nla_get_u32(ob[CTRL_ATTR_OP_ID]) == MEMTRACK_CMD_PROC_REFS_GET)
			h->has_v2_ops = true;
	}
	return NL_STOP;
}

int mtnl_open(struct mtnl **out)
{
	struct mtnl *h;
	struct nl_msg *msg;
	int one = 1, ret, fd;

	if (!out)
		return -EINVAL;
	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->sk = nl_socket_alloc();
	if (!h->sk) {
		free(h);
		return -ENOMEM;
	}
	ret = genl_connect(h->sk);
	if (ret < 0) {
		ret = errno ? -errno : -EIO;
		goto fail;
	}
	fd = nl_socket_get_fd(h->sk);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/*
	 * Replies are unbounded (a do reply carries every buffer): peek.  A
	 * large buffer also lets the kernel fill dump rounds of up to 32 KiB,
	 * which cuts the number of receive calls of a big dump.
	 */
	nl_socket_enable_msg_peek(h->sk);
	nl_socket_set_msg_buf_size(h->sk, 65536);
	nl_socket_disable_auto_ack(h->sk);

	h->family = genl_ctrl_resolve(h->sk, MEMTRACK_FAMILY_NAME);
	if (h->family < 0) {
		ret = h->family == -NLE_OBJ_NOTFOUND ? -ENOENT : -EIO;
		goto fail;
	}

	msg = nlmsg_alloc();
	if (!msg) {
		ret = -ENOMEM;
		goto fail;
	}
	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, 0,
		    CTRL_CMD_GETFAMILY, 1);
	nla_put_string(msg, CTRL_ATTR_FAMILY_NAME, MEMTRACK_FAMILY_NAME);
	ret = transact(h, msg, family_cb);
	if (ret)
		goto fail;
	if (h->family_version < MTNL_FAMILY_VERSION || !h->has_v2_ops) {
		/* A kernel with the first revision of the uAPI, or older. */
		ret = -EPROTO;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	nl_socket_free(h->sk);
	free(h);
	return ret;
}

void mtnl_close(struct mtnl *h)
{
	if (!h)
		return;
	procs_free(h);
	descs_free(h);
	nl_socket_free(h->sk);
	free(h);
}

/*
 * A request about processes, proc-get or proc-refs-get, with a pid (a do
 * always names its pid, so that the kernel judges pid 0) and filters.
 */
static struct nl_msg *proc_request(struct mtnl *h, uint8_t cmd, int flags,
				   uint32_t pid, const char *name,
				   const char *exporter)
{
	struct nl_msg *msg = new_request(h, cmd, flags);
	bool put_pid = pid || !(flags & NLM_F_DUMP);

	if (!msg ||
	    (put_pid && nla_put_u32(msg, MEMTRACK_A_PROC_PID, pid) < 0) ||
	    (name && nla_put_string(msg, MEMTRACK_A_PROC_FILTER_NAME, name) < 0) ||
	    (exporter &&
	     nla_put_string(msg, MEMTRACK_A_PROC_FILTER_EXPORTER, exporter) < 0)) {
		nlmsg_free(msg);
		set_error(h, -ENOMEM, "out of memory");
		return NULL;
	}
	return msg;
}

/*
 * Whether the buffers listed for @p add up to its figures.  A process
 * whose buffers span several messages of the dump and that changed in
 * between is flagged by the kernel (p->changed); the sums catch a
 * kernel that disagrees with itself.
 */
static bool proc_consistent(const struct mtnl_proc *p)
{
	uint64_t total = 0, fds = 0;
	size_t i;

	if (p->changed || p->nbufs != p->nr_buffers)
		return false;
	for (i = 0; i < p->nbufs; i++) {
		total += p->bufs[i].size;
		fds += p->bufs[i].fds;
	}
	return total == p->total && fds == p->nr_fds;
}

/* How many times a process that changed while it was listed is read again. */
#define MTNL_PROC_TRIES 4

/*
 * Read one process: proc-get tells whether it exists and may be read
 * (with the kernel's message), then a proc-refs-get dump of its pid gives
 * its figures and buffers together.  The processes of a dump in progress
 * (h->procs) are set aside meanwhile.
 */
static int proc_read(struct mtnl *h, uint32_t pid, const char *name,
		     const char *exporter, struct mtnl_proc *p)
{
	struct mtnl_proc *saved = h->procs;
	size_t nsaved = h->nprocs, saved_cap = h->procs_cap;
	struct nl_msg *msg;
	unsigned int tries;
	int ret = 0;

	h->procs = NULL;
	h->nprocs = h->procs_cap = 0;
	for (tries = 0; tries < MTNL_PROC_TRIES; tries++) {
		mtnl__proc_reset(p);
		procs_free(h);
		msg = proc_request(h, MEMTRACK_CMD_PROC_GET, 0, pid, name, exporter);
		if (!msg) {
			ret = -ENOMEM;
			break;
		}
		h->single = p;
		ret = transact(h, msg, proc_msg_cb);
		h->single = NULL;
		if (!ret && !p->pid) {
			set_error(h, -EPROTO, "the kernel sent no reply");
			ret = -EPROTO;
		}
		if (!ret) {
			msg = proc_request(h, MEMTRACK_CMD_PROC_REFS_GET,
					   NLM_F_DUMP, pid, name, exporter);
			ret = msg ? transact(h, msg, refs_msg_cb) : -ENOMEM;
		}
		if (ret)
			break;
		/*
		 * Nothing listed: it holds nothing (that the filters let
		 * through), as proc-get said, unless it changed since.
		 */
		if (h->nprocs == 1 && h->procs[0].pid == pid) {
			mtnl__proc_reset(p);
			*p = h->procs[0];
			h->nprocs = 0;
		} else if (h->nprocs || p->nr_buffers) {
			continue;
		}
		if (proc_consistent(p))
			break;
	}
	procs_free(h);
	descs_free(h);
	h->procs = saved;
	h->nprocs = nsaved;
	h->procs_cap = saved_cap;
	if (ret)
		return ret;
	if (tries == MTNL_PROC_TRIES) {
		set_error(h, -EAGAIN, "process %u kept changing while it was read", pid);
		return -EAGAIN;
	}
	return 0;
}

int mtnl_proc_get(struct mtnl *h, uint32_t pid, struct mtnl_proc **out)
{
	struct mtnl_proc *p;
	int ret;

	if (!h || !out)
		return -EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		set_error(h, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	ret = proc_read(h, pid, NULL, NULL, p);
	if (ret) {
		mtnl_proc_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

static int buffer_copy_lists(struct mtnl_buffer *dst, const struct mtnl_buffer *src);

struct mtnl_proc *mtnl_proc_dup(const struct mtnl_proc *p)
{
	struct mtnl_proc *copy;
	size_t i;

	if (!p) {
		errno = EINVAL;
		return NULL;
	}
	copy = malloc(sizeof(*copy));
	if (!copy)
		return NULL;
	*copy = *p;
	copy->bufs = NULL;
	copy->nbufs = copy->cap = 0;
	if (p->nbufs) {
		copy->bufs = calloc(p->nbufs, sizeof(*copy->bufs));
		if (!copy->bufs)
			goto fail;
		copy->cap = p->nbufs;
		for (i = 0; i < p->nbufs; i++) {
			copy->bufs[i] = p->bufs[i];
			copy->nbufs = i + 1;
			if (buffer_copy_lists(&copy->bufs[i], &p->bufs[i]))
				goto fail;
		}
	}
	return copy;
fail:
	mtnl_proc_free(copy);
	errno = ENOMEM;
	return NULL;
}

void mtnl_proc_free(struct mtnl_proc *p)
{
	if (!p)
		return;
	mtnl__proc_reset(p);
	free(p);
}

/*
 * Deliver the processes of a dump, reading again the ones whose figures
 * and buffers disagree.  Returns 0, the callback's value, -EINTR when a
 * process kept changing (delivered as last read), or -errno.
 */
static int procs_deliver(struct mtnl *h, const struct mtnl_dump_opts *o,
			 mtnl_proc_cb cb, void *arg)
{
	bool intr = false;
	size_t i;
	int ret;

	for (i = 0; i < h->nprocs; i++) {
		struct mtnl_proc *p = &h->procs[i];

		if (!proc_consistent(p)) {
			struct mtnl_proc again = { 0 };

			ret = proc_read(h, p->pid, o->name, o->exporter, &again);
			if (ret == -ESRCH || ret == -EACCES) {
				/* Gone meanwhile, or exec'd out of reach. */
				mtnl__proc_reset(&again);
				continue;
			}
			if (ret == -EAGAIN) {
				intr = true;
				mtnl__proc_reset(&again);
			} else if (ret) {
				mtnl__proc_reset(&again);
				return ret;
			} else {
				mtnl__proc_reset(p);
				*p = again;
				if (p->generation > h->generation)
					h->generation = p->generation;
				/* A filtered dump lists only processes with a match. */
				if (!p->nr_buffers && (o->name || o->exporter))
					continue;
			}
		}
		/* Sent again holding nothing, or read again so: not listed. */
		if (!p->nr_buffers && !p->nbufs && !p->incomplete)
			continue;
		if (cb) {
			ret = cb(p, arg);
			if (ret)
				return ret;
		}
	}
	if (intr) {
		set_error(h, -EINTR, "a process kept changing while it was read");
		return -EINTR;
	}
	return 0;
}

/* The caller's dump options, of the fields its version of the struct has. */
static int dump_opts_get(struct mtnl *h, const struct mtnl_dump_opts *opts,
			 struct mtnl_dump_opts *o)
{
	int ret;

	if (!opts)
		return 0;
	ret = mtnl__opts_copy(o, sizeof(*o), opts,
			      offsetofend(struct mtnl_dump_opts, pid));
	if (ret)
		set_error(h, ret, ret == -E2BIG ?
			  "mtnl_dump_opts has non-zero fields this library does not know" :
			  "mtnl_dump_opts.sz is too small");
	return ret;
}

int mtnl_proc_dump(struct mtnl *h, const struct mtnl_dump_opts *opts,
		   mtnl_proc_cb cb, void *arg, uint64_t *generation)
{
	struct mtnl_dump_opts o = { .sz = sizeof(o) };
	struct nl_msg *msg;
	int ret;

	if (!h)
		return -EINVAL;
	ret = dump_opts_get(h, opts, &o);
	if (ret)
		return ret;
	h->generation = 0;
	procs_free(h);
	descs_free(h);
	/* Every process, with its figures and its buffers. */
	msg = proc_request(h, MEMTRACK_CMD_PROC_REFS_GET, NLM_F_DUMP, o.pid,
			   o.name, o.exporter);
	ret = msg ? transact(h, msg, refs_msg_cb) : -ENOMEM;
	/* The processes have copies of what they hold. */
	descs_free(h);
	/* The end of the dump is flagged: the last process went away. */
	if (!ret && h->dump_intr && h->nprocs)
		h->procs[h->nprocs - 1].changed = true;
	if (!ret)
		ret = procs_deliver(h, &o, cb, arg);
	procs_free(h);
	if (generation)
		*generation = h->generation;
	return ret;
}

/* A proc-get dump message: one process's figures, passed on at once. */
static int figures_msg_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct mtnl_proc p = { 0 };
	char why[160];
	int ret;

	/*
	 * The callback stopped the dump, or something went wrong: read the
	 * rest, for the next request.
	 */
	if (h->cb_ret || h->err || short_msg(h, nlh))
		return NL_SKIP;
	ret = mtnl__parse_proc(genlmsg_attrdata(nlmsg_data(nlh), 0),
			       (size_t)genlmsg_attrlen(nlmsg_data(nlh), 0),
			       &p, why, sizeof(why));
	if (ret) {
		set_error(h, ret, "bad reply from the kernel: %s", why);
		return NL_SKIP;
	}
	if (p.pid <= h->last_pid) {
		set_error(h, -EBADMSG, "bad reply from the kernel: pid %u out of order",
			  p.pid);
		return NL_SKIP;
	}
	h->last_pid = p.pid;
	if (p.generation > h->generation)
		h->generation = p.generation;
	if (h->proc_cb) {
		ret = h->proc_cb(&p, h->cb_arg);
		if (ret)
			h->cb_ret = ret;
	}
	return NL_OK;
}

int mtnl_proc_dump_figures(struct mtnl *h, const struct mtnl_dump_opts *opts,
			   mtnl_proc_cb cb, void *arg, uint64_t *generation)
{
	struct mtnl_dump_opts o = { .sz = sizeof(o) };
	struct nl_msg *msg;
	int ret;

	if (!h)
		return -EINVAL;
	ret = dump_opts_get(h, opts, &o);
	if (ret)
		return ret;
	h->generation = 0;
	h->last_pid = 0;
	msg = proc_request(h, MEMTRACK_CMD_PROC_GET, NLM_F_DUMP, o.pid, o.name,
			   o.exporter);
	if (!msg)
		return -ENOMEM;
	h->proc_cb = cb;
	h->cb_arg = arg;
	ret = transact(h, msg, figures_msg_cb);
	h->proc_cb = NULL;
	if (generation)
		*generation = h->generation;
	if (!ret && h->cb_ret)
		return h->cb_ret;
	return ret;
}

int mtnl_buffer_dump(struct mtnl *h, mtnl_buffer_cb cb, void *arg)
{
	struct nl_msg *msg;
	int ret;

	if (!h)
		return -EINVAL;
	msg = new_request(h, MEMTRACK_CMD_BUFFER_GET, NLM_F_DUMP);
	if (!msg) {
		set_error(h, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	h->buf_cb = cb;
	h->cb_arg = arg;
	ret = transact(h, msg, buffer_msg_cb);
	h->buf_cb = NULL;
	if (!ret && h->cb_ret)
		return h->cb_ret;
	if (!ret && h->dump_intr) {
		set_error(h, -EINTR, "the accounting changed during the dump");
		return -EINTR;
	}
	return ret;
}

int mtnl_buffer_get(struct mtnl *h, uint64_t id, struct mtnl_buffer **out)
{
	struct mtnl_buffer *b;
	struct nl_msg *msg;
	int ret;

	if (!h || !out)
		return -EINVAL;
	*out = NULL;
	b = calloc(1, sizeof(*b));
	msg = b ? new_request(h, MEMTRACK_CMD_BUFFER_GET, 0) : NULL;
	if (!msg || nla_put_u64(msg, MEMTRACK_A_BUFFER_ID, id) < 0) {
		nlmsg_free(msg);
		free(b);
		set_error(h, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	h->single_buf = b;
	ret = transact(h, msg, buffer_msg_cb);
	h->single_buf = NULL;
	if (!ret && !b->id) {
		set_error(h, -EPROTO, "the kernel sent no reply");
		ret = -EPROTO;
	}
	if (ret) {
		mtnl_buffer_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

/* Copy what @src owns (its holder and importer lists) into @dst. */
static int buffer_copy_lists(struct mtnl_buffer *dst, const struct mtnl_buffer *src)
{
	size_t i;

	dst->holder_list = NULL;
	dst->importer_list = NULL;
	dst->nholders = dst->nimporters = 0;
	if (src->nholders) {
		dst->holder_list = malloc(src->nholders * sizeof(*dst->holder_list));
		if (!dst->holder_list)
			return -ENOMEM;
		memcpy(dst->holder_list, src->holder_list,
		       src->nholders * sizeof(*dst->holder_list));
		dst->nholders = src->nholders;
	}
	if (src->nimporters) {
		dst->importer_list = calloc(src->nimporters, sizeof(*dst->importer_list));
		if (!dst->importer_list)
			return -ENOMEM;
		for (i = 0; i < src->nimporters; i++) {
			size_t len = strlen(src->importer_list[i]) + 1;

			dst->importer_list[i] = malloc(len);
			if (!dst->importer_list[i])
				return -ENOMEM;
			memcpy(dst->importer_list[i], src->importer_list[i], len);
			dst->nimporters = i + 1;
		}
	}
	return 0;
}

struct mtnl_buffer *mtnl_buffer_dup(const struct mtnl_buffer *b)
{
	struct mtnl_buffer *copy;

	if (!b) {
		errno = EINVAL;
		return NULL;
	}
	copy = malloc(sizeof(*copy));
	if (!copy)
		return NULL;
	*copy = *b;
	if (buffer_copy_lists(copy, b)) {
		mtnl_buffer_free(copy);
		errno = ENOMEM;
		return NULL;
	}
	return copy;
}

void mtnl_buffer_free(struct mtnl_buffer *b)
{
	if (!b)
		return;
	mtnl__buffer_reset(b);
	free(b);
}

static int stats_msg_cb(struct nl_msg *msg, void *arg)
{
	struct mtnl *h = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	char why[160];
	int ret;

	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) {
		set_error(h, -EBADMSG, "short message from the kernel");
		return NL_STOP;
	}
	ret = mtnl__parse_stats(genlmsg_attrdata(nlmsg_data(nlh), 0),
				(size_t)genlmsg_attrlen(nlmsg_data(nlh), 0),
				h->stats, why, sizeof(why));
	if (ret)
		set_error(h, ret, "bad reply from the kernel: %s", why);
	return NL_STOP;
}

int mtnl_stats_get(struct mtnl *h, struct mtnl_stats *st)
{
	struct mtnl_stats tmp = { .sz = sizeof(tmp) };
	struct nl_msg *msg;
	int ret;

	if (!h || !st || st->sz < offsetof(struct mtnl_stats, nr_buffers))
		return -EINVAL;
	msg = new_request(h, MEMTRACK_CMD_STATS_GET, 0);
	if (!msg) {
		set_error(h, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	h->stats = &tmp;
	ret = transact(h, msg, stats_msg_cb);
	h->stats = NULL;
	if (ret)
		return ret;
	/* Copy what the caller's version of the struct has room for. */
	memcpy((char *)st + sizeof(st->sz), (char *)&tmp + sizeof(tmp.sz),
	       (st->sz < sizeof(tmp) ? st->sz : sizeof(tmp)) - sizeof(st->sz));
	return 0;
}

int mtnl_hwm_reset(struct mtnl *h)
{
	struct nl_msg *msg;

	if (!h)
		return -EINVAL;
	msg = new_request(h, MEMTRACK_CMD_HWM_RESET, NLM_F_ACK);
	if (!msg) {
		set_error(h, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	return transact(h, msg, ack_cb);
}

/* Accessors. */
uint32_t mtnl_proc_pid(const struct mtnl_proc *p) { return p->pid; }
const char *mtnl_proc_comm(const struct mtnl_proc *p) { return p->comm; }
uint32_t mtnl_proc_nr_buffers(const struct mtnl_proc *p) { return p->nr_buffers; }
uint32_t mtnl_proc_nr_fds(const struct mtnl_proc *p) { return p->nr_fds; }
uint64_t mtnl_proc_total(const struct mtnl_proc *p) { return p->total; }
uint64_t mtnl_proc_pss(const struct mtnl_proc *p) { return p->pss; }
uint64_t mtnl_proc_unique(const struct mtnl_proc *p) { return p->unique; }
uint64_t mtnl_proc_hwm(const struct mtnl_proc *p) { return p->hwm; }
uint64_t mtnl_proc_mapped(const struct mtnl_proc *p) { return p->mapped; }
uint64_t mtnl_proc_generation(const struct mtnl_proc *p) { return p->generation; }
bool mtnl_proc_incomplete(const struct mtnl_proc *p) { return p->incomplete; }
size_t mtnl_proc_buffer_count(const struct mtnl_proc *p) { return p->nbufs; }

const struct mtnl_buffer *mtnl_proc_buffer(const struct mtnl_proc *p, size_t i)
{
	if (i >= p->nbufs) {
		errno = ERANGE;
		return NULL;
	}
	return &p->bufs[i];
}

uint64_t mtnl_buffer_id(const struct mtnl_buffer *b) { return b->id; }
uint64_t mtnl_buffer_size(const struct mtnl_buffer *b) { return b->size; }
const char *mtnl_buffer_exporter(const struct mtnl_buffer *b) { return b->exporter; }
const char *mtnl_buffer_name(const struct mtnl_buffer *b) { return b->name; }
uint32_t mtnl_buffer_fds(const struct mtnl_buffer *b) { return b->fds; }
uint32_t mtnl_buffer_handles(const struct mtnl_buffer *b) { return b->handles; }
int64_t mtnl_buffer_holders(const struct mtnl_buffer *b) { return b->holders; }
uint64_t mtnl_buffer_mapped(const struct mtnl_buffer *b) { return b->mapped; }
size_t mtnl_buffer_holder_count(const struct mtnl_buffer *b) { return b->nholders; }

const struct mtnl_holder *mtnl_buffer_holder(const struct mtnl_buffer *b, size_t i)
{
	if (i >= b->nholders) {
		errno = ERANGE;
		return NULL;
	}
	return &b->holder_list[i];
}

size_t mtnl_buffer_importer_count(const struct mtnl_buffer *b) { return b->nimporters; }

const char *mtnl_buffer_importer(const struct mtnl_buffer *b, size_t i)
{
	if (i >= b->nimporters) {
		errno = ERANGE;
		return NULL;
	}
	return b->importer_list[i];
}

uint32_t mtnl_holder_pid(const struct mtnl_holder *ho) { return ho->pid; }
const char *mtnl_holder_comm(const struct mtnl_holder *ho) { return ho->comm; }
uint32_t mtnl_holder_fds(const struct mtnl_holder *ho) { return ho->fds; }
uint64_t mtnl_holder_mapped(const struct mtnl_holder *ho) { return ho->mapped; }
