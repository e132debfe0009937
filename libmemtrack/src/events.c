// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmemtrack-nl events.  libnl connects the socket, resolves the family
 * and its "events" group and joins it; the library reads with recv()
 * itself, because libnl reports a receive overflow (ENOBUFS) as
 * NLE_NOMEM and loss must be told apart from lack of memory.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "internal.h"

#define MTNL_EVENTS_BUF 65536

struct mtnl_events {
	struct nl_sock *sk;
	int fd;
	uint64_t last_seq;	/* 0: unknown, after a start or an overflow */
	char errmsg[256];
	/* Messages of the last datagram not handed out yet. */
	char *buf;
	size_t len;
	size_t off;
	/* An event held back while a LOST event goes first. */
	struct mtnl_event pending;
	bool has_pending;
	/* An error met after a batch's first event, for the next read. */
	int deferred;
};

/* Events read together, in storage the caller reuses (see the header). */
struct mtnl_event_buffer {
	size_t cap;
	size_t n;
	struct mtnl_event ev[];
};

static int ev_error(struct mtnl_events *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->errmsg, sizeof(e->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

const char *mtnl_events_last_error(const struct mtnl_events *e)
{
	return e ? e->errmsg : "";
}

int mtnl_events_open(struct mtnl_events **out, const struct mtnl_events_opts *opts)
{
	struct mtnl_events_opts o = { .sz = sizeof(o) };
	struct mtnl_events *e;
	int grp, ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		ret = mtnl__opts_copy(&o, sizeof(o), opts, sizeof(o.sz));
		if (ret)
			return ret;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->buf = malloc(MTNL_EVENTS_BUF);
	e->sk = nl_socket_alloc();
	if (!e->buf || !e->sk) {
		ret = -ENOMEM;
		goto fail;
	}
	/* Multicast carries no request sequence numbers. */
	nl_socket_disable_seq_check(e->sk);
	ret = genl_connect(e->sk);
	if (ret < 0) {
		ret = errno ? -errno : -EIO;
		goto fail;
	}
	grp = genl_ctrl_resolve_grp(e->sk, MEMTRACK_FAMILY_NAME, MEMTRACK_MCGRP_EVENTS);
	if (grp < 0) {
		ret = -ENOENT;
		goto fail;
	}
	e->fd = nl_socket_get_fd(e->sk);
	/*
	 * SO_RCVBUF is capped by net.core.rmem_max; subscribers are
	 * privileged anyway, so ask for the full size first.
	 */
	if (o.rcvbuf > 0 &&
	    setsockopt(e->fd, SOL_SOCKET, SO_RCVBUFFORCE, &o.rcvbuf, sizeof(o.rcvbuf)) &&
	    setsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(o.rcvbuf))) {
		ret = -errno;
		goto fail;
	}
	/* Join with setsockopt to keep the kernel's errno (EPERM). */
	if (setsockopt(e->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp))) {
		ret = -errno;
		goto fail;
	}
	*out = e;
	return 0;
fail:
	if (e->sk)
		nl_socket_free(e->sk);
	free(e->buf);
	free(e);
	return ret;
}

void mtnl_events_close(struct mtnl_events *e)
{
	if (!e)
		return;
	nl_socket_free(e->sk);
	free(e->buf);
	free(e);
}

int mtnl_events_fd(const struct mtnl_events *e)
{
	return e->fd;
}

static void lost_event(struct mtnl_event *ev, uint64_t count)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = MTNL_EVENT_LOST;
	ev->lost = count;
}

/* Parse the next event of the current datagram into @ev; -EAGAIN if none. */
static int next_from_buffer(struct mtnl_events *e, struct mtnl_event *ev)
{
	while (e->off < e->len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(e->buf + e->off);
		size_t left = e->len - e->off;
		char why[160];
		int ret;

		if (left < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN ||
		    nlh->nlmsg_len > left) {
			e->off = e->len;
			return ev_error(e, -EBADMSG, "truncated event message");
		}
		e->off += NLMSG_ALIGN(nlh->nlmsg_len) < left ? NLMSG_ALIGN(nlh->nlmsg_len) : left;
		if (nlh->nlmsg_type < NLMSG_MIN_TYPE ||
		    nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
			continue;
		memset(ev, 0, sizeof(*ev));
		ret = mtnl__parse_event(((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd,
					(char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
					nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
					ev, why, sizeof(why));
		if (ret == -ENOMSG)	/* a newer kernel's event */
			continue;
		if (ret)
			return ev_error(e, ret, "bad event from the kernel: %s", why);
		return 0;
	}
	return -EAGAIN;
}

/*
 * The next event into @ev, waiting at most @timeout_ms for it: what the
 * subscription reads, in place, with no allocation.
 */
static int read_one(struct mtnl_events *e, struct mtnl_event *ev, int timeout_ms)
{
	int ret;

	if (e->has_pending) {
		*ev = e->pending;
		e->has_pending = false;
		return 0;
	}
	for (;;) {
		struct pollfd p = { .fd = e->fd, .events = POLLIN };
		ssize_t n;

		ret = next_from_buffer(e, ev);
		if (ret != -EAGAIN)
			break;
		ret = poll(&p, 1, timeout_ms);
		if (ret < 0)
			return errno == EINTR ? -EINTR : ev_error(e, -errno, "poll: %s",
								  strerror(errno));
		if (ret == 0)
			return -EAGAIN;
		n = recv(e->fd, e->buf, MTNL_EVENTS_BUF, MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			/*
			 * The kernel dropped events for us: say so now.  What is
			 * still queued predates the loss and the caller's resync
			 * covers it, so drop it too; otherwise its stale sequence
			 * numbers would report the same loss a second time.
			 */
			e->len = 0;
			e->off = 0;
			while (recv(e->fd, e->buf, MTNL_EVENTS_BUF, MSG_DONTWAIT) > 0 ||
			       errno == ENOBUFS)
				;
			e->last_seq = 0;
			lost_event(ev, 0);
			ev_error(e, 0, "receive buffer overflowed: events lost");
			return 0;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return ev_error(e, -errno, "recv: %s", strerror(errno));
		}
		e->len = (size_t)n;
		e->off = 0;
	}
	if (ret)
		return ret;
	if (e->last_seq && ev->seq != e->last_seq + 1) {
		uint64_t missing = ev->seq > e->last_seq ? ev->seq - e->last_seq - 1 : 0;

		e->last_seq = ev->seq;
		e->pending = *ev;
		e->has_pending = true;
		lost_event(ev, missing);
		return 0;
	}
	e->last_seq = ev->seq;
	return 0;
}

int mtnl_events_read(struct mtnl_events *e, struct mtnl_event **out, int timeout_ms)
{
	struct mtnl_event *ev;
	int ret;

	if (!e || !out)
		return -EINVAL;
	*out = NULL;
	if (e->deferred) {
		ret = e->deferred;
		e->deferred = 0;
		return ret;
	}
	ev = malloc(sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ret = read_one(e, ev, timeout_ms);
	if (ret) {
		free(ev);
		return ret;
	}
	*out = ev;
	return 0;
}

struct mtnl_event_buffer *mtnl_event_buffer_new(size_t capacity)
{
	struct mtnl_event_buffer *b;

	/*
	 * The count is returned as an int; and the size must not wrap, which
	 * INT_MAX alone does not rule out where size_t is 32 bits wide.
	 */
	if (!capacity || capacity > INT_MAX ||
	    mtnl__size_overflows(sizeof(*b), capacity, sizeof(b->ev[0]))) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b) + capacity * sizeof(b->ev[0]));
	if (b)
		b->cap = capacity;
	return b;
}

void mtnl_event_buffer_free(struct mtnl_event_buffer *b)
{
	free(b);
}

size_t mtnl_event_buffer_count(const struct mtnl_event_buffer *b)
{
	return b->n;
}

const struct mtnl_event *mtnl_event_buffer_get(const struct mtnl_event_buffer *b,
					       size_t i)
{
	if (i >= b->n) {
		errno = ERANGE;
		return NULL;
	}
	return &b->ev[i];
}

int mtnl_events_read_batch(struct mtnl_events *e, struct mtnl_event_buffer *b,
			   int timeout_ms)
{
	int ret;

	if (!e || !b)
		return -EINVAL;
	b->n = 0;
	if (e->deferred) {
		ret = e->deferred;
		e->deferred = 0;
		return ret;
	}
	/* Wait for the first; then take what has arrived, without waiting. */
	ret = read_one(e, &b->ev[0], timeout_ms);
	if (ret)
		return ret;
	b->n = 1;
	while (b->n < b->cap && b->ev[b->n - 1].kind != MTNL_EVENT_LOST) {
		ret = read_one(e, &b->ev[b->n], 0);
		if (ret == -EAGAIN)
			break;
		if (ret) {
			e->deferred = ret;
			break;
		}
		b->n++;
	}
	return (int)b->n;
}

struct mtnl_event *mtnl_event_dup(const struct mtnl_event *ev)
{
	struct mtnl_event *copy;

	if (!ev) {
		errno = EINVAL;
		return NULL;
	}
	copy = malloc(sizeof(*copy));
	if (copy)
		*copy = *ev;
	return copy;
}

void mtnl_event_free(struct mtnl_event *ev)
{
	free(ev);
}

enum mtnl_event_kind mtnl_event_kind(const struct mtnl_event *ev) { return ev->kind; }
uint64_t mtnl_event_seq(const struct mtnl_event *ev) { return ev->seq; }
uint32_t mtnl_event_pid(const struct mtnl_event *ev) { return ev->pid; }
const char *mtnl_event_comm(const struct mtnl_event *ev) { return ev->comm; }
uint32_t mtnl_event_parent_pid(const struct mtnl_event *ev) { return ev->parent_pid; }
enum mtnl_reason mtnl_event_reason(const struct mtnl_event *ev)
{
	/* The kernel's reasons start at 1 (v2); the library's enum at 0 (v1 ABI). */
	switch (ev->reason) {
	case MEMTRACK_REASON_CLOSE: return MTNL_REASON_CLOSE;
	case MEMTRACK_REASON_EXEC: return MTNL_REASON_EXEC;
	case MEMTRACK_REASON_EXIT: return MTNL_REASON_EXIT;
	case MEMTRACK_REASON_UNMAP: return MTNL_REASON_UNMAP;
	case MEMTRACK_REASON_HANDLE_CLOSE: return MTNL_REASON_HANDLE_CLOSE;
	default: return MTNL_REASON_UNKNOWN;
	}
}
uint64_t mtnl_event_total(const struct mtnl_event *ev) { return ev->total; }
uint32_t mtnl_event_nr_buffers(const struct mtnl_event *ev) { return ev->nr_buffers; }
uint64_t mtnl_event_lost(const struct mtnl_event *ev) { return ev->lost; }
uint32_t mtnl_event_nr_added(const struct mtnl_event *ev) { return ev->nr_added; }
uint32_t mtnl_event_nr_removed(const struct mtnl_event *ev) { return ev->nr_removed; }

const struct mtnl_buffer *mtnl_event_buffer(const struct mtnl_event *ev)
{
	return ev->has_buffer ? &ev->buffer : NULL;
}

struct resync_set {
	struct mtnl_proc *procs;
	size_t n;
	size_t cap;
};

static void resync_set_clear(struct resync_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->procs[i].bufs);
	set->n = 0;
}

/* Keep a deep copy of each process until the dump proves consistent. */
static int resync_collect(const struct mtnl_proc *p, void *arg)
{
	struct resync_set *set = arg;
	struct mtnl_proc *copy;

	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		struct mtnl_proc *np = realloc(set->procs, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		set->procs = np;
		set->cap = cap;
	}
	copy = &set->procs[set->n];
	*copy = *p;
	copy->cap = p->nbufs;
	copy->bufs = NULL;
	if (p->nbufs) {
		copy->bufs = malloc(p->nbufs * sizeof(*copy->bufs));
		if (!copy->bufs)
			return -ENOMEM;
		memcpy(copy->bufs, p->bufs, p->nbufs * sizeof(*copy->bufs));
	}
	set->n++;
	return 0;
}

int mtnl_resync(struct mtnl *h, mtnl_proc_cb cb, void *arg, uint64_t *generation)
{
	struct resync_set set = { 0 };
	uint64_t gen = 0;
	int tries, ret = -EINTR;
	size_t i;

	if (!h || !cb)
		return -EINVAL;
	/*
	 * Only a dump no change interrupted is delivered, and only once.  A
	 * dump that the kernel could not queue (ENOBUFS) is retried too.
	 */
	for (tries = 0; tries < 8 && (ret == -EINTR || ret == -ENOBUFS); tries++) {
		resync_set_clear(&set);
		ret = mtnl_proc_dump(h, NULL, resync_collect, &set, &gen);
	}
	for (i = 0; !ret && i < set.n; i++)
		ret = cb(&set.procs[i], arg);
	resync_set_clear(&set);
	free(set.procs);
	if (!ret && generation)
		*generation = gen;
	return ret;
}
