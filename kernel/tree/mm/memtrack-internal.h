/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrack internals shared by the accounting core and the netlink family.
 */
#ifndef _MM_MEMTRACK_INTERNAL_H
#define _MM_MEMTRACK_INTERNAL_H

#include <linux/memtrack_hooks.h>
#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <uapi/linux/memtrack.h>

/*
 * struct memtrack_ref - one buffer held by one descriptor table or one
 * address space
 * @node: link in the holder's refs, ordered by buffer id
 * @buf: the buffer; alive while the reference is, since each fd and each
 *	mapping pins the buffer's file
 * @partner: the reference of the same process's other holder (its address
 *	space for a table's reference, and the other way round), so that a
 *	process holding a buffer both ways counts once in @buf's holders.
 *	Set with both holders' locks and memtrack_pair_lock held, cleared
 *	under memtrack_pair_lock only.
 * @nr_fds: in a table, descriptors that refer to @buf
 * @mapped: in an address space, bytes of its VMAs that map @buf
 */
struct memtrack_ref {
	struct rb_node node;
	struct memtrack_buffer *buf;
	struct memtrack_ref *partner;
	union {
		unsigned int nr_fds;
		u64 mapped;
	};
};

/*
 * struct memtrack_hwm - a high-water mark that hwm-reset restarts lazily
 * @hwm: largest process total seen since @epoch began
 * @epoch: value of memtrack_hwm_epoch when @hwm was last updated; a stale
 *	epoch means the marks were reset and @hwm no longer counts
 */
struct memtrack_hwm {
	u64 hwm;
	unsigned int epoch;
};

/*
 * struct memtrack_files - accounting of one descriptor table
 * @lock: protects everything below; nests inside files->file_lock and
 *	task_lock(), and outside the allocator's name lock
 * @refs: held buffers, ordered by id
 * @nr_buffers: number of entries in @refs
 * @nr_fds: sum of nr_fds over @refs
 * @total: sum of buffer sizes over @refs
 * @hwm: largest total of the table's process seen at the table's changes
 * @committed: the table is in use; false for a copy made by dup_fd()
 *	until the fork or unshare that made it succeeds, so that the
 *	references of a copy that is thrown away count for nobody
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
	struct memtrack_hwm hwm;
	bool committed;
};

/*
 * enum memtrack_mm_state - whom an address space's mappings count for
 * @MEMTRACK_MM_COPY: a copy being made by fork: its references are kept
 *	but count for nobody until the fork succeeds
 * @MEMTRACK_MM_OWNED: its references count for @owner
 * @MEMTRACK_MM_ORPHANED: the owner left it (exit, exec) while something
 *	else kept it alive; it holds nothing and is no longer accounted
 */
enum memtrack_mm_state {
	MEMTRACK_MM_COPY,
	MEMTRACK_MM_OWNED,
	MEMTRACK_MM_ORPHANED,
};

/*
 * struct memtrack_mm - accounting of one address space
 * @lock: protects everything below but @owner; nests inside the lock of
 *	a struct memtrack_files
 * @refs: mapped buffers, ordered by id
 * @nr_buffers: number of entries in @refs
 * @total: sum of buffer sizes over @refs
 * @mapped: sum of mapped bytes over @refs
 * @hwm: largest total of the address space's process seen at its changes
 * @owner: thread group that owns the address space: the process whose
 *	figures include it and that its events name.  Set when the owner
 *	itself creates the state, or when the fork that copied the address
 *	space succeeds.
 * @state: see enum memtrack_mm_state
 *
 * Allocated on the first mapping of a tracked buffer, freed when the
 * address space is torn down.
 */
struct memtrack_mm {
	spinlock_t lock;	/* see above */
	struct rb_root refs;
	unsigned int nr_buffers;
	u64 total;
	u64 mapped;
	struct memtrack_hwm hwm;
	struct pid *owner;
	enum memtrack_mm_state state;
};

/*
 * struct memtrack_vm_ops - VMA operations of a buffer's mappings
 * @ops: @orig, with open and close wrapped; written before the wrapper
 *	is published and never after
 * @orig: the operations the VMA had after the exporter's mmap; usually
 *	the exporter's, but an exporter that sets none keeps an importer's
 * @buf: the buffer the VMAs map, whatever their vm_file says
 * @next: the buffer's next wrapper, for other operations
 *
 * A buffer gets one wrapper per distinct @orig, on a list that only
 * grows until the buffer is freed.
 */
struct memtrack_vm_ops {
	const struct vm_operations_struct ops;
	const struct vm_operations_struct *orig;
	struct memtrack_buffer *buf;
	struct memtrack_vm_ops *next;
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

u64 memtrack_proc_hwm(struct memtrack_files *mt, struct memtrack_mm *mm_mt,
		      u64 total);
bool memtrack_nl_has_listeners(void);
void memtrack_nl_notify(u8 cmd, struct task_struct *tsk,
			struct memtrack_buffer *mb,
			const struct memtrack_event *ev, u32 reason,
			struct task_struct *parent, gfp_t gfp);
void memtrack_hwm_reset(void);
struct sk_buff *memtrack_nl_event_alloc(gfp_t gfp);
int memtrack_nl_event_fill(struct sk_buff *skb, u8 cmd, u32 pid,
			   const char *comm, struct memtrack_buffer *mb,
			   const struct memtrack_event *ev, u32 reason,
			   u32 parent_pid);
void memtrack_nl_event_send(struct sk_buff *skb, gfp_t gfp);

struct memtrack_ref *memtrack_ref_first_from(struct rb_root *refs, u64 id);
struct memtrack_buffer *memtrack_buffer_first_from(u64 id);

static inline struct memtrack_files *
memtrack_files_state(struct files_struct *files)
{
	/* Pairs with the cmpxchg_release() that publishes the state. */
	return smp_load_acquire(&files->memtrack);
}

static inline struct memtrack_mm *memtrack_mm_state(struct mm_struct *mm)
{
	/* Pairs with the cmpxchg_release() that publishes the state. */
	return smp_load_acquire(&mm->memtrack);
}

#endif /* _MM_MEMTRACK_INTERNAL_H */
