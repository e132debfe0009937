// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack: per-process accounting of shared-buffer memory.
 *
 * Two structures make up the state:
 *
 *  - a registry of every buffer an allocator exported, ordered by id, so
 *    that buffers kept alive only by the kernel can be listed too;
 *  - per descriptor table, the set of buffers its fds refer to, with an fd
 *    count for each one and the total size of the distinct buffers.
 *
 * The fd-table hooks follow one rule: a reference is counted before the
 * file becomes visible in the table and uncounted after it has left it
 * (and after file_lock is dropped, while the caller still holds the file).
 * Counts are commutative, so no other ordering between concurrent hooks
 * matters.  Installs allocate with GFP_KERNEL before any fd-table lock is
 * taken; the only hook under file_lock, dup2()'s, never allocates.
 * Events are built in the hooks' own context, never under file_lock.
 */

#define pr_fmt(fmt) "memtrack: " fmt

#include <linux/fdtable.h>
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "memtrack-internal.h"

DEFINE_STATIC_KEY_FALSE(memtrack_enabled_key);

/* Every accounting change; dumps compare it to flag NLM_F_DUMP_INTR. */
atomic64_t memtrack_changes = ATOMIC64_INIT(0);
/* Sequence number of the last event emitted. */
atomic64_t memtrack_event_seq = ATOMIC64_INIT(0);
DEFINE_SPINLOCK(memtrack_registry_lock);
struct rb_root memtrack_registry = RB_ROOT;
struct memtrack_registry_stats memtrack_registry_stats;

/* Bumped by hwm-reset; tables catch up lazily, see memtrack_files_hwm(). */
static atomic_t memtrack_hwm_epoch = ATOMIC_INIT(0);

static struct kmem_cache *memtrack_ref_cachep __ro_after_init;
static struct kmem_cache *memtrack_files_cachep __ro_after_init;
static bool memtrack_boot_enabled __initdata = true;

static int __init memtrack_setup(char *str)
{
	return kstrtobool(str, &memtrack_boot_enabled) == 0;
}
__setup("memtrack=", memtrack_setup);

static inline struct memtrack_buffer *memtrack_file_buffer(struct file *file)
{
	return file_inode(file)->i_private;
}

static inline void memtrack_changed(void)
{
	atomic64_inc(&memtrack_changes);
}

/*
 * Capture an event about @mt's process, under @mt->lock so that its
 * sequence number orders it against every query of the table: a reply
 * built under the lock reflects exactly the events up to its generation.
 */
static bool memtrack_event_capture(struct memtrack_files *mt,
				   struct memtrack_event *ev)
{
	lockdep_assert_held(&mt->lock);
	/*
	 * Membership is checked at each event rather than cached in a
	 * static key: genetlink's bind and unbind callbacks are not paired
	 * (dropping a group one never joined calls unbind), so a count
	 * kept from them could go wrong.  The check is a bitmap test.
	 */
	if (!memtrack_nl_has_listeners())
		return false;
	ev->seq = atomic64_inc_return(&memtrack_event_seq);
	ev->total = mt->total;
	ev->nr_buffers = mt->nr_buffers;
	return true;
}

/* The uAPI reason of a drop. */
static u32 memtrack_reason(enum memtrack_drop_reason reason)
{
	switch (reason) {
	case MEMTRACK_DROP_EXEC:
		return MEMTRACK_REASON_EXEC;
	case MEMTRACK_DROP_EXIT:
		return MEMTRACK_REASON_EXIT;
	default:
		return MEMTRACK_REASON_CLOSE;
	}
}

/* A table missed a reference: its figures are now a lower bound. */
static void memtrack_files_mark_incomplete(struct files_struct *files)
{
	if (!READ_ONCE(files->memtrack_incomplete)) {
		WRITE_ONCE(files->memtrack_incomplete, true);
		pr_warn_ratelimited("out of memory, accounting of a descriptor table is incomplete\n");
	}
	memtrack_changed();
}

static int memtrack_ref_cmp(const void *key, const struct rb_node *node)
{
	u64 id = *(const u64 *)key;
	u64 other = rb_entry(node, struct memtrack_ref, node)->buf->id;

	if (id < other)
		return -1;
	return id > other;
}

static bool memtrack_ref_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct memtrack_ref, node)->buf->id <
	       rb_entry(b, struct memtrack_ref, node)->buf->id;
}

static struct memtrack_ref *memtrack_ref_find(struct memtrack_files *mt,
					      u64 id)
{
	struct rb_node *node = rb_find(&id, &mt->refs, memtrack_ref_cmp);

	return node ? rb_entry(node, struct memtrack_ref, node) : NULL;
}

/**
 * memtrack_ref_first_from() - first held buffer with an id of at least @id
 * @mt: accounting of a descriptor table
 * @id: lowest id wanted
 *
 * Lets a dump resume from a stable key rather than from a position.
 *
 * Context: @mt->lock held.
 * Return: the reference, or NULL if there is none.
 */
struct memtrack_ref *memtrack_ref_first_from(struct memtrack_files *mt,
					     u64 id)
{
	struct rb_node *node = mt->refs.rb_node;
	struct memtrack_ref *best = NULL;

	lockdep_assert_held(&mt->lock);
	while (node) {
		struct memtrack_ref *ref = rb_entry(node, struct memtrack_ref,
						    node);

		if (ref->buf->id >= id) {
			best = ref;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return best;
}

/**
 * memtrack_buffer_first_from() - first registered buffer with id >= @id
 * @id: lowest id wanted
 *
 * Context: memtrack_registry_lock held.
 * Return: the buffer, or NULL if there is none.
 */
struct memtrack_buffer *memtrack_buffer_first_from(u64 id)
{
	struct rb_node *node = memtrack_registry.rb_node;
	struct memtrack_buffer *best = NULL;

	lockdep_assert_held(&memtrack_registry_lock);
	while (node) {
		struct memtrack_buffer *mb = rb_entry(node,
						      struct memtrack_buffer,
						      node);

		if (mb->id >= id) {
			best = mb;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return best;
}

static bool memtrack_buffer_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct memtrack_buffer, node)->id <
	       rb_entry(b, struct memtrack_buffer, node)->id;
}

/**
 * memtrack_buffer_init() - register a newly exported buffer
 * @mb: memtrack state embedded in the allocator's buffer object
 * @id: system-wide unique id of the buffer, stable for its lifetime
 * @size: size of the buffer in bytes
 * @exporter: name of the exporter; must outlive the buffer
 * @ops: allocator callbacks; must outlive the buffer
 *
 * Must be called before the buffer's file can reach any descriptor table,
 * and be paired with memtrack_buffer_remove().
 *
 * Context: Any context that may take a spinlock.
 */
void memtrack_buffer_init(struct memtrack_buffer *mb, u64 id, u64 size,
			  const char *exporter,
			  const struct memtrack_buffer_ops *ops)
{
	mb->id = id;
	mb->size = size;
	mb->exporter = exporter;
	mb->ops = ops;
	atomic_set(&mb->nr_holders, 0);
	RB_CLEAR_NODE(&mb->node);
	if (!memtrack_enabled())
		return;

	spin_lock(&memtrack_registry_lock);
	rb_add(&mb->node, &memtrack_registry, memtrack_buffer_less);
	memtrack_registry_stats.nr_buffers++;
	memtrack_registry_stats.bytes += size;
	if (memtrack_registry_stats.bytes > memtrack_registry_stats.hwm)
		memtrack_registry_stats.hwm = memtrack_registry_stats.bytes;
	spin_unlock(&memtrack_registry_lock);
	memtrack_changed();
}
EXPORT_SYMBOL_GPL(memtrack_buffer_init);

/**
 * memtrack_buffer_remove() - unregister a buffer that is being freed
 * @mb: memtrack state initialised by memtrack_buffer_init()
 *
 * By then no descriptor table may hold the buffer: every fd pins the
 * buffer's file, so the buffer cannot be released while one is open.
 *
 * Context: Any context that may take a spinlock.
 */
void memtrack_buffer_remove(struct memtrack_buffer *mb)
{
	if (RB_EMPTY_NODE(&mb->node))
		return;

	WARN_ON_ONCE(atomic_read(&mb->nr_holders));
	spin_lock(&memtrack_registry_lock);
	rb_erase(&mb->node, &memtrack_registry);
	memtrack_registry_stats.nr_buffers--;
	memtrack_registry_stats.bytes -= mb->size;
	spin_unlock(&memtrack_registry_lock);
	RB_CLEAR_NODE(&mb->node);
	memtrack_changed();
}
EXPORT_SYMBOL_GPL(memtrack_buffer_remove);

/**
 * memtrack_file_mark() - mark a buffer's file for fd-table accounting
 * @file: the file through which userspace reaches the buffer
 * @mb: the buffer, registered with memtrack_buffer_init()
 *
 * The inode of @file must belong to this buffer alone: memtrack finds the
 * buffer through inode->i_private.  Call before the file is installed in
 * any descriptor table.
 *
 * Context: Any context.
 */
void memtrack_file_mark(struct file *file, struct memtrack_buffer *mb)
{
	if (!memtrack_enabled() || RB_EMPTY_NODE(&mb->node))
		return;
	file_inode(file)->i_private = mb;
	file->f_mode |= FMODE_MEMTRACK;
}
EXPORT_SYMBOL_GPL(memtrack_file_mark);

static struct memtrack_files *memtrack_files_get(struct files_struct *files)
{
	struct memtrack_files *mt = memtrack_files_state(files);
	struct memtrack_files *old;

	if (likely(mt))
		return mt;

	mt = kmem_cache_alloc(memtrack_files_cachep, GFP_KERNEL_ACCOUNT);
	if (!mt)
		return NULL;
	spin_lock_init(&mt->lock);
	mt->refs = RB_ROOT;
	mt->nr_buffers = 0;
	mt->nr_fds = 0;
	mt->total = 0;
	mt->hwm = 0;
	mt->hwm_epoch = atomic_read(&memtrack_hwm_epoch);

	/* Threads sharing the table may race to create its state. */
	old = cmpxchg_release(&files->memtrack, NULL, mt);
	if (old) {
		kmem_cache_free(memtrack_files_cachep, mt);
		return old;
	}
	return mt;
}

/**
 * memtrack_files_hwm() - high-water mark of a table's total
 * @mt: accounting of a descriptor table
 *
 * Context: @mt->lock held.
 * Return: the largest total since the table's state was created or the
 * marks were last reset.
 */
u64 memtrack_files_hwm(struct memtrack_files *mt)
{
	lockdep_assert_held(&mt->lock);
	if (mt->hwm_epoch != (unsigned int)atomic_read(&memtrack_hwm_epoch))
		return mt->total;
	return max(mt->hwm, mt->total);
}

/*
 * Called before @mt->total changes.  After a reset the mark restarts from
 * the total the table had at that moment, which is the total it still has
 * here, since this is its first change since the reset.
 */
static void memtrack_files_sync_hwm(struct memtrack_files *mt)
{
	unsigned int epoch = atomic_read(&memtrack_hwm_epoch);

	lockdep_assert_held(&mt->lock);
	if (mt->hwm_epoch != epoch) {
		mt->hwm_epoch = epoch;
		mt->hwm = mt->total;
	}
}

/**
 * memtrack_hwm_reset() - restart every high-water mark from now
 *
 * Per-table marks are reset lazily: a table whose epoch is stale reports
 * its current total, and restarts its mark on its next growth.
 *
 * Context: Any context that may take a spinlock.
 */
void memtrack_hwm_reset(void)
{
	atomic_inc(&memtrack_hwm_epoch);
	spin_lock(&memtrack_registry_lock);
	memtrack_registry_stats.hwm = memtrack_registry_stats.bytes;
	spin_unlock(&memtrack_registry_lock);
	memtrack_changed();
}

/* Count one more fd on an existing reference. */
static void memtrack_ref_get(struct memtrack_files *mt,
			     struct memtrack_ref *ref)
{
	lockdep_assert_held(&mt->lock);
	ref->nr_fds++;
	mt->nr_fds++;
}

/**
 * __memtrack_fd_install() - count a tracked file entering a table
 * @files: the descriptor table
 * @file: a file marked with memtrack_file_mark()
 *
 * Called before @file becomes visible in @files, so that a concurrent
 * close of the new fd always finds the reference.  If memory runs out the
 * table is marked incomplete and the install itself still succeeds.
 *
 * Context: Process context; may sleep.  No fd-table lock held.
 */
void __memtrack_fd_install(struct files_struct *files, struct file *file)
{
	struct memtrack_buffer *mb = memtrack_file_buffer(file);
	struct memtrack_event ev;
	struct memtrack_files *mt;
	struct memtrack_ref *ref, *new;
	bool event = false;

	might_sleep();
	mt = memtrack_files_get(files);
	if (!mt)
		goto incomplete;

	spin_lock(&mt->lock);
	ref = memtrack_ref_find(mt, mb->id);
	if (ref) {
		/* More fds on a held buffer are silent. */
		memtrack_ref_get(mt, ref);
		spin_unlock(&mt->lock);
		memtrack_changed();
		return;
	}
	spin_unlock(&mt->lock);

	new = kmem_cache_alloc(memtrack_ref_cachep, GFP_KERNEL_ACCOUNT);
	if (!new)
		goto incomplete;
	new->buf = mb;
	new->nr_fds = 1;

	spin_lock(&mt->lock);
	ref = memtrack_ref_find(mt, mb->id);
	if (ref) {
		/* Another thread installed the same buffer meanwhile. */
		memtrack_ref_get(mt, ref);
	} else {
		rb_add(&new->node, &mt->refs, memtrack_ref_less);
		memtrack_files_sync_hwm(mt);
		mt->nr_buffers++;
		mt->nr_fds++;
		mt->total += mb->size;
		mt->hwm = max(mt->hwm, mt->total);
		atomic_inc(&mb->nr_holders);
		event = memtrack_event_capture(mt, &ev);
		new = NULL;
	}
	spin_unlock(&mt->lock);
	if (new)
		kmem_cache_free(memtrack_ref_cachep, new);
	memtrack_changed();
	if (event)
		memtrack_nl_notify(MEMTRACK_CMD_INSTALL_NTF, current, mb, &ev,
				   0, NULL, GFP_KERNEL);
	return;

incomplete:
	memtrack_files_mark_incomplete(files);
}

/**
 * __memtrack_fd_dup_locked() - count a tracked file duplicated in a table
 * @files: the descriptor table
 * @file: a file that another fd of @files already refers to
 *
 * For dup2() and dup3(), which look the source file up under file_lock
 * and publish the copy before dropping it.  Because the source fd holds
 * the buffer in the same table, the reference already exists and no
 * allocation is needed.
 *
 * Context: @files->file_lock held.
 */
void __memtrack_fd_dup_locked(struct files_struct *files, struct file *file)
{
	struct memtrack_buffer *mb = memtrack_file_buffer(file);
	struct memtrack_files *mt = memtrack_files_state(files);
	struct memtrack_ref *ref = NULL;

	lockdep_assert_held(&files->file_lock);
	if (mt) {
		spin_lock(&mt->lock);
		ref = memtrack_ref_find(mt, mb->id);
		if (ref)
			memtrack_ref_get(mt, ref);
		spin_unlock(&mt->lock);
	}
	if (!ref) {
		/* Only a reference lost to an earlier failure gets here. */
		WARN_ON_ONCE(!READ_ONCE(files->memtrack_incomplete));
		memtrack_files_mark_incomplete(files);
		return;
	}
	memtrack_changed();
}

/**
 * __memtrack_fd_uninstall() - uncount a tracked file leaving a table
 * @files: the descriptor table
 * @file: the file that was removed from @files
 * @reason: why it was removed
 *
 * Called after @file has left @files, and before the caller drops its
 * reference to @file, so the buffer is still alive for the event.
 * Never sleeps.
 *
 * Context: Process context.  No fd-table lock held.
 */
void __memtrack_fd_uninstall(struct files_struct *files, struct file *file,
			     enum memtrack_drop_reason reason)
{
	struct memtrack_buffer *mb = memtrack_file_buffer(file);
	struct memtrack_files *mt = memtrack_files_state(files);
	struct memtrack_ref *ref = NULL, *dead = NULL;
	struct memtrack_event ev;
	bool event = false;

	if (mt) {
		spin_lock(&mt->lock);
		ref = memtrack_ref_find(mt, mb->id);
		if (ref) {
			mt->nr_fds--;
			if (--ref->nr_fds == 0) {
				memtrack_files_sync_hwm(mt);
				rb_erase(&ref->node, &mt->refs);
				mt->nr_buffers--;
				mt->total -= mb->size;
				atomic_dec(&mb->nr_holders);
				dead = ref;
				event = memtrack_event_capture(mt, &ev);
			}
		}
		spin_unlock(&mt->lock);
	}
	if (!ref) {
		/* The install was lost to an allocation failure. */
		WARN_ON_ONCE(!READ_ONCE(files->memtrack_incomplete));
		return;
	}
	if (dead)
		kmem_cache_free(memtrack_ref_cachep, dead);
	memtrack_changed();
	if (event)
		memtrack_nl_notify(MEMTRACK_CMD_UNINSTALL_NTF, current, mb, &ev,
				   memtrack_reason(reason), NULL, GFP_NOWAIT);
}

/**
 * __memtrack_files_dup() - account a table copied by dup_fd()
 * @oldf: the table that was copied
 * @newf: the copy, not yet visible to any task
 *
 * The copy is whatever dup_fd() saw under @oldf's file_lock, so it is
 * counted from @newf itself rather than from @oldf's accounting, which
 * may have moved on since.  Only tables that ever held a tracked buffer
 * get here.
 *
 * Context: Process context; may sleep.  No fd-table lock held.
 */
void __memtrack_files_dup(struct files_struct *oldf,
			  struct files_struct *newf)
{
	/* Nobody else can reach newf yet, so its fd array is stable. */
	struct fdtable *fdt = rcu_dereference_raw(newf->fdt);
	struct memtrack_files *mt = NULL;
	unsigned int fd;

	for (fd = find_first_bit(fdt->open_fds, fdt->max_fds);
	     fd < fdt->max_fds;
	     fd = find_next_bit(fdt->open_fds, fdt->max_fds, fd + 1)) {
		struct file *file = rcu_dereference_raw(fdt->fd[fd]);
		struct memtrack_buffer *mb;
		struct memtrack_ref *ref;

		if (!file || !memtrack_file_tracked(file))
			continue;
		if (!mt) {
			mt = memtrack_files_get(newf);
			if (!mt)
				goto incomplete;
			/* Private until the copy is installed: no contention. */
			spin_lock(&mt->lock);
		}
		mb = memtrack_file_buffer(file);
		ref = memtrack_ref_find(mt, mb->id);
		if (ref) {
			memtrack_ref_get(mt, ref);
			continue;
		}
		/*
		 * The lock only satisfies lockdep's view of the helpers; as
		 * nobody else can take it, sleeping to allocate is fine once it
		 * is dropped around the allocation.
		 */
		spin_unlock(&mt->lock);
		ref = kmem_cache_alloc(memtrack_ref_cachep, GFP_KERNEL_ACCOUNT);
		spin_lock(&mt->lock);
		if (!ref) {
			spin_unlock(&mt->lock);
			goto incomplete;
		}
		ref->buf = mb;
		ref->nr_fds = 1;
		rb_add(&ref->node, &mt->refs, memtrack_ref_less);
		mt->nr_buffers++;
		mt->nr_fds++;
		mt->total += mb->size;
		atomic_inc(&mb->nr_holders);
	}
	if (mt) {
		mt->hwm = mt->total;
		spin_unlock(&mt->lock);
	}
	/* One change for the whole copy; memtrack_fork() reports it. */
	memtrack_changed();
	return;

incomplete:
	memtrack_files_mark_incomplete(newf);
}

/**
 * __memtrack_files_release() - drop all accounting of a dying table
 * @files: the table, whose last user is gone
 *
 * Called before the table's files are closed, so every buffer is alive.
 *
 * Context: Process context.  No task can reach @files any more.
 */
void __memtrack_files_release(struct files_struct *files)
{
	struct memtrack_files *mt = memtrack_files_state(files);
	struct memtrack_ref *ref, *next;
	struct memtrack_event ev;
	struct rb_node *node;
	bool event;

	if (mt) {
		/* One exit event per buffer, each with the total left after it. */
		for (node = rb_first(&mt->refs); node; node = rb_next(node)) {
			ref = rb_entry(node, struct memtrack_ref, node);
			atomic_dec(&ref->buf->nr_holders);
			spin_lock(&mt->lock);
			mt->total -= ref->buf->size;
			mt->nr_buffers--;
			event = memtrack_event_capture(mt, &ev);
			spin_unlock(&mt->lock);
			if (event)
				memtrack_nl_notify(MEMTRACK_CMD_UNINSTALL_NTF,
						   current, ref->buf, &ev,
						   MEMTRACK_REASON_EXIT, NULL,
						   GFP_NOWAIT);
		}
		rbtree_postorder_for_each_entry_safe(ref, next, &mt->refs, node)
			kmem_cache_free(memtrack_ref_cachep, ref);
		kmem_cache_free(memtrack_files_cachep, mt);
		files->memtrack = NULL;
	}
	memtrack_changed();
}

/**
 * __memtrack_fork() - report a new process that holds buffers
 * @child: the new process, not yet running
 *
 * Context: Process context (the parent, in copy_process()).
 */
void __memtrack_fork(struct task_struct *child)
{
	struct memtrack_files *mt = NULL;
	struct memtrack_event ev;
	bool event = false;

	/* The child cannot exit or unshare before it first runs. */
	if (child->files)
		mt = memtrack_files_state(child->files);
	if (!mt)
		return;
	spin_lock(&mt->lock);
	if (mt->nr_buffers)
		event = memtrack_event_capture(mt, &ev);
	spin_unlock(&mt->lock);
	if (event)
		memtrack_nl_notify(MEMTRACK_CMD_FORK_NTF, child, NULL, &ev, 0,
				   current, GFP_KERNEL);
}

static int __init memtrack_init(void)
{
	if (!memtrack_boot_enabled) {
		pr_info("disabled on the command line\n");
		return 0;
	}
	memtrack_ref_cachep = KMEM_CACHE(memtrack_ref, SLAB_PANIC);
	memtrack_files_cachep = KMEM_CACHE(memtrack_files, SLAB_PANIC);
	static_branch_enable(&memtrack_enabled_key);
	return 0;
}

/* Before any exporter (dma-buf heaps, udmabuf) can create a buffer. */
early_initcall(memtrack_init);
