/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemtrack-nl internals: object layouts and the message parser, which
 * works on raw netlink payloads so that it can be unit-tested and fuzzed
 * without a kernel or libnl.
 */
#ifndef MTNL_INTERNAL_H
#define MTNL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/memtrack.h>

#include "memtrack-nl.h"

#define MTNL_COMM_LEN 16	/* TASK_COMM_LEN */

/* The offset of the byte after @member of @type. */
#define offsetofend(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * Whether @head bytes followed by @n elements of @elem bytes (@elem > 0)
 * would not fit in a size_t: the check before allocating a struct with a
 * flexible array member.
 */
static inline bool mtnl__size_overflows(size_t head, size_t n, size_t elem)
{
	return n > (SIZE_MAX - head) / elem;
}

struct mtnl_holder {
	uint32_t pid;
	uint32_t fds;
	uint64_t mapped;
	char comm[16];		/* TASK_COMM_LEN */
};

struct mtnl_buffer {
	uint64_t id;
	uint64_t size;
	uint32_t fds;
	uint32_t handles;	/* DRM files with a handle to it */
	int64_t holders;	/* -1 when not reported */
	uint64_t mapped;
	char exporter[MEMTRACK_EXPORTER_LEN];
	char name[MEMTRACK_NAME_LEN];
	/* The processes holding it: only in a reply to mtnl_buffer_get(). */
	struct mtnl_holder *holder_list;
	size_t nholders;
	/* The devices attached to it: only in a reply to mtnl_buffer_get(). */
	char **importer_list;
	size_t nimporters;
};

struct mtnl_proc {
	uint32_t pid;
	uint32_t nr_buffers;
	uint32_t nr_fds;
	bool incomplete;
	uint64_t total;
	uint64_t pss;
	uint64_t unique;
	uint64_t hwm;
	uint64_t mapped;
	uint64_t generation;
	char comm[MTNL_COMM_LEN];
	bool changed;	/* the kernel flagged a change while listing it */
	size_t nbufs;
	size_t cap;
	struct mtnl_buffer *bufs;
};

/*
 * Parse the attributes of a MEMTRACK_CMD_PROC_GET message (the payload
 * after the genetlink header) into the figures of @p; its buffers are
 * left alone.
 *
 * Return: 0 or -EBADMSG for a malformed message (with a reason in @why).
 */
int mtnl__parse_proc(const void *attrs, size_t len, struct mtnl_proc *p,
		     char *why, size_t whylen);

/*
 * Parse the attributes of a MEMTRACK_CMD_BUFFER_GET message, with its
 * holders if it lists them (free them with mtnl__buffer_reset()).
 * Return: 0, -EBADMSG (with a reason in @why) or -ENOMEM.
 */
int mtnl__parse_buffer(const void *attrs, size_t len, struct mtnl_buffer *b,
		       char *why, size_t whylen);

/* The process a proc-refs-get message is about. */
struct mtnl_refs_msg {
	uint32_t pid;
	bool has_figures;		/* it starts the process (over) */
	bool incomplete;		/* what it lists may miss something */
	struct mtnl_proc figures;	/* if has_figures; without buffers */
};

/* A ref of a proc-refs-get message: the process's side of one buffer. */
struct mtnl_ref_entry {
	uint64_t id;
	uint64_t mapped;
	uint32_t fds;
	uint32_t handles;
};

/* What mtnl__parse_refs() calls, each optional. */
struct mtnl_refs_cbs {
	/* The message's process, before its descriptions and refs. */
	int (*begin)(const struct mtnl_refs_msg *m, void *arg);
	/* A buffer the dump describes, before the first ref about it. */
	int (*desc)(const struct mtnl_buffer *b, void *arg);
	/* One buffer the process holds, in the message's order. */
	int (*ref)(const struct mtnl_ref_entry *r, void *arg);
};

/*
 * Parse a MEMTRACK_CMD_PROC_REFS_GET message: check its process, call
 * cbs->begin, then cbs->desc and cbs->ref for its nests in order.  A
 * malformed nest stops the walk, after the calls for the ones before it.
 * Return: 0, -EBADMSG (with a reason in @why), or the first non-zero
 * value a callback returned.
 */
int mtnl__parse_refs(const void *attrs, size_t len,
		     const struct mtnl_refs_cbs *cbs, void *arg, char *why,
		     size_t whylen);

void mtnl__proc_reset(struct mtnl_proc *p);

/* Free what a buffer owns (its holder list) and clear it. */
void mtnl__buffer_reset(struct mtnl_buffer *b);

struct mtnl_event {
	enum mtnl_event_kind kind;
	uint64_t seq;
	uint32_t pid;
	uint32_t parent_pid;
	uint32_t reason;
	uint32_t nr_buffers;
	uint64_t total;
	uint64_t lost;
	uint32_t nr_added;	/* BULK */
	uint32_t nr_removed;	/* BULK */
	bool has_buffer;
	char comm[MTNL_COMM_LEN];
	struct mtnl_buffer buffer;
};

/*
 * Parse an event message of command @cmd.
 * Return: 0, -EBADMSG (with a reason in @why), or -ENOMSG for a command
 * this library does not know (a newer kernel's event).
 */
int mtnl__parse_event(uint8_t cmd, const void *attrs, size_t len,
		      struct mtnl_event *ev, char *why, size_t whylen);

/* Parse a MEMTRACK_CMD_STATS_GET reply.  Return: 0 or -EBADMSG. */
int mtnl__parse_stats(const void *attrs, size_t len, struct mtnl_stats *st,
		      char *why, size_t whylen);

/*
 * Copy a caller's options struct @src, whose first member is its size_t
 * sz, into the library's @dst of @dst_sz bytes (already filled with the
 * defaults), as the kernel's copy_struct_from_user() does: an older,
 * shorter struct keeps the defaults of the fields it lacks; a newer,
 * longer one is accepted only if the bytes this library does not know are
 * zero (-E2BIG otherwise); a struct shorter than @min_sz is -EINVAL.
 */
int mtnl__opts_copy(void *dst, size_t dst_sz, const void *src, size_t min_sz);

#endif /* MTNL_INTERNAL_H */
