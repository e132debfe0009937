/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrack internals shared by the accounting core and the netlink family.
 */
#ifndef _MM_MEMTRACK_INTERNAL_H
#define _MM_MEMTRACK_INTERNAL_H

#include <linux/memtrack.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <uapi/linux/memtrack.h>

/*
 * struct memtrack_ref - one buffer held by one descriptor table
 * @node: link in memtrack_files.refs, ordered by buffer id
 * @buf: the buffer; alive while @nr_fds > 0, since each fd pins its file
 * @nr_fds: descriptors of the table that refer to @buf
 */
struct memtrack_ref {
	struct rb_node node;
	struct memtrack_buffer *buf;
	unsigned int nr_fds;
};

/*
 * struct memtrack_files - accounting of one descriptor table
 * @lock: protects everything below; nests inside files->file_lock and
 *	task_lock(), and outside the allocator's name lock
 * @refs: held buffers, ordered by id
 * @nr_buffers: number of entries in @refs
 * @nr_fds: sum of nr_fds over @refs
 * @total: sum of buffer sizes over @refs
 * @hwm: largest @total since the table was created or @hwm_epoch began
 * @hwm_epoch: value of memtrack_hwm_epoch when @hwm was last updated;
 *	a stale epoch means the marks were reset and @hwm is @total
 *
 * Allocated on the first tracked install into a table and freed with the
 * table, so that tables that never held a buffer cost one NULL pointer.
 */
struct memtrack_files {
	spinlock_t lock;	/* see above */
	struct rb_root refs;
	unsigned int nr_buffers;
	unsigned int nr_fds;
	u64 total;
	u64 hwm;
	unsigned int hwm_epoch;
};

/*
 * struct memtrack_registry_stats - system-wide figures of the registry
 * @nr_buffers: registered buffers
 * @bytes: their total size
 * @hwm: largest @bytes since boot or the last reset
 *
 * Protected by memtrack_registry_lock.
 */
struct memtrack_registry_stats {
	unsigned int nr_buffers;
	u64 bytes;
	u64 hwm;
};

/*
 * struct memtrack_event - what an event reports about its process,
 * captured under the table's lock together with the change it reports
 * @seq: the event's sequence number
 * @total: the process's total after the change
 * @nr_buffers: its number of buffers after the change
 */
struct memtrack_event {
	u64 seq;
	u64 total;
	u32 nr_buffers;
};

extern atomic64_t memtrack_changes;
extern atomic64_t memtrack_event_seq;
extern spinlock_t memtrack_registry_lock;
extern struct rb_root memtrack_registry;
extern struct memtrack_registry_stats memtrack_registry_stats;

u64 memtrack_files_hwm(struct memtrack_files *mt);
bool memtrack_nl_has_listeners(void);
void memtrack_nl_notify(u8 cmd, struct task_struct *tsk,
			struct memtrack_buffer *mb,
			const struct memtrack_event *ev, u32 reason,
			struct task_struct *parent, gfp_t gfp);
void memtrack_hwm_reset(void);

struct memtrack_ref *memtrack_ref_first_from(struct memtrack_files *mt,
					     u64 id);
struct memtrack_buffer *memtrack_buffer_first_from(u64 id);

static inline struct memtrack_files *
memtrack_files_state(struct files_struct *files)
{
	/* Pairs with the cmpxchg_release() that publishes the state. */
	return smp_load_acquire(&files->memtrack);
}

#endif /* _MM_MEMTRACK_INTERNAL_H */
