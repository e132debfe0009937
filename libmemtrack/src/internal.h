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

struct mtnl_buffer {
	uint64_t id;
	uint64_t size;
	uint32_t fds;
	int64_t holders;	/* -1 when not reported */
	uint64_t mapped;
	char exporter[MEMTRACK_EXPORTER_LEN];
	char name[MEMTRACK_NAME_LEN];
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
	size_t nbufs;
	size_t cap;
	struct mtnl_buffer *bufs;
};

/*
 * Parse the attributes of a MEMTRACK_CMD_PROC_GET message (the payload
 * after the genetlink header) into @p.  With @append, @p already holds
 * the start of the same process and the message continues it: its
 * buffers are appended and must follow the ones already there.
 *
 * Return: 0, -EBADMSG for a malformed message (with a reason in @why),
 * or -ENOMEM.
 */
int mtnl__parse_proc(const void *attrs, size_t len, struct mtnl_proc *p,
		     bool append, char *why, size_t whylen);

/* The pid of a process message, or 0 if it has none. */
uint32_t mtnl__proc_msg_pid(const void *attrs, size_t len);

/*
 * Parse the attributes of a MEMTRACK_CMD_BUFFER_GET message.
 * Return: 0 or -EBADMSG (with a reason in @why).
 */
int mtnl__parse_buffer(const void *attrs, size_t len, struct mtnl_buffer *b,
		       char *why, size_t whylen);

void mtnl__proc_reset(struct mtnl_proc *p);

struct mtnl_event {
	enum mtnl_event_kind kind;
	uint64_t seq;
	uint32_t pid;
	uint32_t parent_pid;
	uint32_t reason;
	uint32_t nr_buffers;
	uint64_t total;
	uint64_t lost;
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

#endif /* MTNL_INTERNAL_H */
