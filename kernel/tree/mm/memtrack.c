// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack: per-process accounting of shared-buffer memory.
 *
 * Two structures make up the state:
 *
 *  - a registry of every buffer an allocator exported, ordered by id, so
 *    that buffers kept alive only by the kernel can be listed too;
 *  - per descriptor table, the set of buffers its fds refer to, with an fd
 *    count for each one and the total size of the distinct buffers;
 *  - per address space, the set of buffers it maps, with the bytes mapped
 *    of each one.
 *
 * A process holds the union of what its table and its address space hold.
 * When both hold a buffer, their two references are paired (see struct
 * memtrack_ref) so that the process counts once among the buffer's
 * holders, and an fd closed on a buffer that stays mapped, or a mapping
 * removed from a buffer that an fd still refers to, is no uninstall.
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
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched/task.h>
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

/* Bumped by hwm-reset; holders catch up lazily, see memtrack_hwm_read(). */
static atomic_t memtrack_hwm_epoch = ATOMIC_INIT(0);

/* Protects the clearing of memtrack_ref.partner, see there. */
static DEFINE_SPINLOCK(memtrack_pair_lock);

static struct kmem_cache *memtrack_ref_cachep __ro_after_init;
static struct kmem_cache *memtrack_files_cachep __ro_after_init;
static struct kmem_cache *memtrack_mm_cachep __ro_after_init;
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
 * The figures of a process whose table state is @mt and whose address
 * space state is @mm_mt (either may be NULL): buffers its table holds,
 * plus buffers only its address space holds.  A mapped buffer whose
 * reference is paired counts in the table already.
 */
static void memtrack_proc_figures(struct memtrack_files *mt,
				  struct memtrack_mm *mm_mt, u64 *total,
				  u32 *nr_buffers)
{
	struct rb_node *node;

	*total = mt ? mt->total : 0;
	*nr_buffers = mt ? mt->nr_buffers : 0;
	if (!mm_mt)
		return;
	lockdep_assert_held(&mm_mt->lock);
	/* Few buffers are mapped, so walking them is cheap. */
	for (node = rb_first(&mm_mt->refs); node; node = rb_next(node)) {
		struct memtrack_ref *ref = rb_entry(node, struct memtrack_ref,
						    node);

		if (!READ_ONCE(ref->partner)) {
			*total += ref->buf->size;
			(*nr_buffers)++;
		}
	}
}

/*
 * Capture an event about a process whose figures after the change are
 * @total and @nr_buffers, under the locks of the holders that changed, so
 * that its sequence number orders it against every query of them: a reply
 * built under those locks reflects exactly the events up to its
 * generation.
 */
static bool memtrack_event_capture_figures(u64 total, u32 nr_buffers,
					   struct memtrack_event *ev)
{
	/*
	 * Membership is checked at each event rather than cached in a
	 * static key: genetlink's bind and unbind callbacks are not paired
	 * (dropping a group one never joined calls unbind), so a count
	 * kept from them could go wrong.  The check is a bitmap test.
	 */
	if (!memtrack_nl_has_listeners())
		return false;
	ev->seq = atomic64_inc_return(&memtrack_event_seq);
	ev->total = total;
	ev->nr_buffers = nr_buffers;
	return true;
}

/* The same, computing the figures only when somebody listens. */
static bool memtrack_event_capture(struct memtrack_files *mt,
				   struct memtrack_mm *mm_mt,
				   struct memtrack_event *ev)
{
	u64 total;
	u32 nr;

	if (!memtrack_nl_has_listeners())
		return false;
	memtrack_proc_figures(mt, mm_mt, &total, &nr);
	return memtrack_event_capture_figures(total, nr, ev);
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

/* An address space missed a mapping: its figures are now a lower bound. */
static void memtrack_mm_mark_incomplete(struct mm_struct *mm)
{
	if (!READ_ONCE(mm->memtrack_incomplete)) {
		WRITE_ONCE(mm->memtrack_incomplete, true);
		pr_warn_ratelimited("out of memory, accounting of an address space is incomplete\n");
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

static struct memtrack_ref *memtrack_ref_find(struct rb_root *refs, u64 id)
{
	struct rb_node *node = rb_find(&id, refs, memtrack_ref_cmp);

	return node ? rb_entry(node, struct memtrack_ref, node) : NULL;
}

/**
 * memtrack_ref_first_from() - first held buffer with an id of at least @id
 * @refs: the references of a descriptor table or an address space
 * @id: lowest id wanted
 *
 * Lets a dump resume from a stable key rather than from a position.
 *
 * Context: the lock of the holder of @refs held.
 * Return: the reference, or NULL if there is none.
 */
struct memtrack_ref *memtrack_ref_first_from(struct rb_root *refs, u64 id)
{
	struct rb_node *node = refs->rb_node;
	struct memtrack_ref *best = NULL;

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

/*
 * Pair a new reference with the same process's reference of the other
 * kind, if that one has no partner yet.  Both holders' locks are held, so
 * neither reference can be paired by anyone else meanwhile.
 */
static bool memtrack_ref_pair(struct memtrack_ref *other,
			      struct memtrack_ref *ref)
{
	bool paired = false;

	if (!other || READ_ONCE(other->partner))
		return false;
	spin_lock(&memtrack_pair_lock);
	if (!other->partner) {
		other->partner = ref;
		ref->partner = other;
		paired = true;
	}
	spin_unlock(&memtrack_pair_lock);
	return paired;
}

/*
 * Unpair a reference that is going away.  Returns true if it had a
 * partner, which then holds the buffer for the process alone.  Under its
 * holder's lock nobody can pair the reference, so a NULL partner read
 * without memtrack_pair_lock stays NULL.
 */
static bool memtrack_ref_unpair(struct memtrack_ref *ref)
{
	bool paired = false;

	if (!READ_ONCE(ref->partner))
		return false;
	spin_lock(&memtrack_pair_lock);
	if (ref->partner) {
		WRITE_ONCE(ref->partner->partner, NULL);
		WRITE_ONCE(ref->partner, NULL);
		paired = true;
	}
	spin_unlock(&memtrack_pair_lock);
	return paired;
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
	mb->vm_ops = NULL;
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
 * By then no process may hold the buffer: every fd and every mapping
 * pins the buffer's file, so the buffer cannot be released while one
 * exists.
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
	kfree(mb->vm_ops);
	mb->vm_ops = NULL;
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

/* The current high-water epoch, for new state. */
static void memtrack_hwm_init(struct memtrack_hwm *h, u64 total)
{
	h->hwm = total;
	h->epoch = atomic_read(&memtrack_hwm_epoch);
}

static u64 memtrack_hwm_read(const struct memtrack_hwm *h, u64 total)
{
	if (h->epoch != (unsigned int)atomic_read(&memtrack_hwm_epoch))
		return total;
	return max(h->hwm, total);
}

/**
 * memtrack_proc_hwm() - high-water mark of a process's total
 * @mt: accounting of its descriptor table, or NULL
 * @mm_mt: accounting of its address space, or NULL
 * @total: its current total
 *
 * Each holder records the process totals it saw at its own changes.
 *
 * Context: the locks of @mt and @mm_mt held.
 * Return: the largest total since the holders' states were created or the
 * marks were last reset.
 */
u64 memtrack_proc_hwm(struct memtrack_files *mt, struct memtrack_mm *mm_mt,
		      u64 total)
{
	u64 hwm = total;

	if (mt)
		hwm = max(hwm, memtrack_hwm_read(&mt->hwm, total));
	if (mm_mt)
		hwm = max(hwm, memtrack_hwm_read(&mm_mt->hwm, total));
	return hwm;
}

/*
 * Called before a holder's process total changes.  After a reset the mark
 * restarts from the total the process had at that moment, which is the
 * total it still has here, since this is the holder's first change since
 * the reset.  The holders' locks are held.
 */
static void memtrack_hwm_before(struct memtrack_hwm *h,
				struct memtrack_files *mt,
				struct memtrack_mm *mm_mt)
{
	unsigned int epoch = atomic_read(&memtrack_hwm_epoch);
	u64 total;
	u32 nr;

	if (h->epoch == epoch)
		return;
	memtrack_proc_figures(mt, mm_mt, &total, &nr);
	h->epoch = epoch;
	h->hwm = total;
}

/**
 * memtrack_hwm_reset() - restart every high-water mark from now
 *
 * Per-process marks are reset lazily: a holder whose epoch is stale
 * reports the current total, and restarts its mark on its next change.
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
	memtrack_hwm_init(&mt->hwm, 0);

	/* Threads sharing the table may race to create its state. */
	old = cmpxchg_release(&files->memtrack, NULL, mt);
	if (old) {
		kmem_cache_free(memtrack_files_cachep, mt);
		return old;
	}
	return mt;
}

/*
 * The address-space state of the process that owns @files, for pairing
 * and figures: only known when @files is the caller's own table.  The
 * caller's address space cannot go away under it.
 */
static struct memtrack_mm *memtrack_current_mm(struct files_struct *files)
{
	struct mm_struct *mm = current->mm;

	if (files != current->files || !mm)
		return NULL;
	return memtrack_mm_state(mm);
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
	struct memtrack_ref *ref, *new;
	struct memtrack_mm *mm_mt;
	bool event = false, paired;
	struct memtrack_event ev;
	struct memtrack_files *mt;
	u64 total;
	u32 nr;

	might_sleep();
	mt = memtrack_files_get(files);
	if (!mt)
		goto incomplete;

	spin_lock(&mt->lock);
	ref = memtrack_ref_find(&mt->refs, mb->id);
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
	new->partner = NULL;
	new->nr_fds = 1;

	spin_lock(&mt->lock);
	ref = memtrack_ref_find(&mt->refs, mb->id);
	if (ref) {
		/* Another thread installed the same buffer meanwhile. */
		memtrack_ref_get(mt, ref);
	} else {
		/* Only a new reference needs the address space, to pair. */
		mm_mt = memtrack_current_mm(files);
		if (mm_mt)
			spin_lock(&mm_mt->lock);
		memtrack_hwm_before(&mt->hwm, mt, mm_mt);
		rb_add(&new->node, &mt->refs, memtrack_ref_less);
		mt->nr_buffers++;
		mt->nr_fds++;
		mt->total += mb->size;
		/* Mapped already: the process held it, and still counts once. */
		paired = mm_mt &&
			 memtrack_ref_pair(memtrack_ref_find(&mm_mt->refs, mb->id),
					   new);
		/* After pairing: a paired buffer counts in the table only. */
		memtrack_proc_figures(mt, mm_mt, &total, &nr);
		mt->hwm.hwm = max(mt->hwm.hwm, total);
		if (!paired) {
			atomic_inc(&mb->nr_holders);
			event = memtrack_event_capture_figures(total, nr, &ev);
		}
		if (mm_mt)
			spin_unlock(&mm_mt->lock);
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
		ref = memtrack_ref_find(&mt->refs, mb->id);
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
	struct memtrack_mm *mm_mt;
	struct memtrack_event ev;
	bool event = false;

	if (mt) {
		spin_lock(&mt->lock);
		ref = memtrack_ref_find(&mt->refs, mb->id);
		if (ref) {
			mt->nr_fds--;
			if (--ref->nr_fds == 0) {
				mm_mt = memtrack_current_mm(files);
				if (mm_mt)
					spin_lock(&mm_mt->lock);
				memtrack_hwm_before(&mt->hwm, mt, mm_mt);
				rb_erase(&ref->node, &mt->refs);
				mt->nr_buffers--;
				mt->total -= mb->size;
				/* Still mapped: the process still holds it. */
				if (!memtrack_ref_unpair(ref)) {
					atomic_dec(&mb->nr_holders);
					event = memtrack_event_capture(mt, mm_mt,
								       &ev);
				}
				if (mm_mt)
					spin_unlock(&mm_mt->lock);
				dead = ref;
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
 * get here.  The copy's references are paired with the new process's
 * address space by __memtrack_fork().
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
		ref = memtrack_ref_find(&mt->refs, mb->id);
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
		ref->partner = NULL;
		ref->nr_fds = 1;
		rb_add(&ref->node, &mt->refs, memtrack_ref_less);
		mt->nr_buffers++;
		mt->nr_fds++;
		mt->total += mb->size;
		atomic_inc(&mb->nr_holders);
	}
	if (mt) {
		mt->hwm.hwm = mt->total;
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
 * By then an exiting process has torn its address space down, so what
 * the table held is what the process held.
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
			spin_lock(&mt->lock);
			mt->total -= ref->buf->size;
			mt->nr_buffers--;
			event = false;
			/* A paired mapping outlives the table, and holds on. */
			if (!memtrack_ref_unpair(ref)) {
				atomic_dec(&ref->buf->nr_holders);
				event = memtrack_event_capture(mt, NULL, &ev);
			}
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
 * __memtrack_fork() - account and report a new process
 * @child: the new process, not yet running
 * @clone_flags: its clone flags
 *
 * The child's copied table and copied address space were accounted
 * without knowing they belong together; pair their references so that
 * the child counts once among each buffer's holders, then report the
 * child with one event.
 *
 * Context: Process context (the parent, in copy_process()).
 */
void __memtrack_fork(struct task_struct *child, u64 clone_flags)
{
	struct memtrack_files *mt = NULL;
	struct memtrack_mm *mm_mt = NULL;
	struct memtrack_event ev;
	struct rb_node *node;
	bool event = false;
	u64 total;
	u32 nr;

	/* The child cannot exit, exec or unshare before it first runs. */
	if (child->files)
		mt = memtrack_files_state(child->files);
	if (!(clone_flags & CLONE_VM) && child->mm)
		mm_mt = memtrack_mm_state(child->mm);
	if (!mt && !mm_mt)
		return;
	if (mt)
		spin_lock(&mt->lock);
	if (mm_mt) {
		spin_lock(&mm_mt->lock);
		if (!mm_mt->owner)
			mm_mt->owner = get_pid(task_tgid(child));
		for (node = rb_first(&mm_mt->refs); mt && node;
		     node = rb_next(node)) {
			struct memtrack_ref *ref = rb_entry(node,
							    struct memtrack_ref,
							    node);

			if (!ref->partner &&
			    memtrack_ref_pair(memtrack_ref_find(&mt->refs,
								ref->buf->id),
					      ref))
				atomic_dec(&ref->buf->nr_holders);
		}
	}
	memtrack_proc_figures(mt, mm_mt, &total, &nr);
	/* The child's marks start from what it was born with. */
	if (mt && !(clone_flags & CLONE_FILES))
		mt->hwm.hwm = max(mt->hwm.hwm, total);
	if (mm_mt)
		memtrack_hwm_init(&mm_mt->hwm, total);
	if (nr)
		event = memtrack_event_capture_figures(total, nr, &ev);
	if (mm_mt)
		spin_unlock(&mm_mt->lock);
	if (mt)
		spin_unlock(&mt->lock);
	memtrack_changed();
	if (event)
		memtrack_nl_notify(MEMTRACK_CMD_FORK_NTF, child, NULL, &ev, 0,
				   current, GFP_KERNEL);
}

/* Address spaces and mappings. */

static struct memtrack_mm *memtrack_mm_get(struct mm_struct *mm)
{
	struct memtrack_mm *mm_mt = memtrack_mm_state(mm);
	struct memtrack_mm *old;

	if (likely(mm_mt))
		return mm_mt;

	mm_mt = kmem_cache_alloc(memtrack_mm_cachep, GFP_KERNEL_ACCOUNT);
	if (!mm_mt)
		return NULL;
	spin_lock_init(&mm_mt->lock);
	mm_mt->refs = RB_ROOT;
	mm_mt->nr_buffers = 0;
	mm_mt->total = 0;
	mm_mt->mapped = 0;
	memtrack_hwm_init(&mm_mt->hwm, 0);
	/* A copy made by fork gets its owner in __memtrack_fork(). */
	mm_mt->owner = current->mm == mm ? get_pid(task_tgid(current)) : NULL;

	/* The mmap lock is held for writing: nobody races, but be safe. */
	old = cmpxchg_release(&mm->memtrack, NULL, mm_mt);
	if (old) {
		put_pid(mm_mt->owner);
		kmem_cache_free(memtrack_mm_cachep, mm_mt);
		return old;
	}
	return mm_mt;
}

/*
 * The table state of the process that owns @mm, for pairing and figures:
 * the caller's own, when the caller is that process (mmap, munmap, and
 * the teardown at exit and exec).  NULL while a fork copies @mm.
 */
static struct memtrack_files *memtrack_mm_files(struct mm_struct *mm,
						struct memtrack_mm *mm_mt)
{
	if (!current->files)
		return NULL;
	if (current->mm != mm &&
	    !(mm_mt && mm_mt->owner && mm_mt->owner == task_tgid(current)))
		return NULL;
	return memtrack_files_state(current->files);
}

/* The process an address-space event is about, with a reference. */
static struct task_struct *memtrack_mm_task(struct memtrack_mm *mm_mt)
{
	struct task_struct *tsk;

	rcu_read_lock();
	tsk = pid_task(mm_mt->owner, PIDTYPE_TGID);
	if (!tsk)
		tsk = current;
	get_task_struct(tsk);
	rcu_read_unlock();
	return tsk;
}

/*
 * Count @bytes more of @mb mapped into @mm.  Returns -ENOMEM if memory
 * ran out, leaving the accounting untouched.
 */
static int memtrack_mm_map(struct mm_struct *mm, struct memtrack_buffer *mb,
			   u64 bytes)
{
	struct memtrack_ref *ref, *new;
	struct memtrack_files *mt;
	struct memtrack_mm *mm_mt;
	struct task_struct *tsk;
	bool event = false, paired;
	struct memtrack_event ev;
	u64 total;
	u32 nr;

	might_sleep();
	mm_mt = memtrack_mm_get(mm);
	if (!mm_mt)
		return -ENOMEM;
	/* Mapping is rare next to fd traffic: allocate up front. */
	new = kmem_cache_alloc(memtrack_ref_cachep, GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;
	new->buf = mb;
	new->partner = NULL;
	new->mapped = bytes;

	mt = memtrack_mm_files(mm, mm_mt);
	if (mt)
		spin_lock(&mt->lock);
	spin_lock(&mm_mt->lock);
	ref = memtrack_ref_find(&mm_mt->refs, mb->id);
	if (ref) {
		ref->mapped += bytes;
		mm_mt->mapped += bytes;
	} else {
		memtrack_hwm_before(&mm_mt->hwm, mt, mm_mt);
		rb_add(&new->node, &mm_mt->refs, memtrack_ref_less);
		mm_mt->nr_buffers++;
		mm_mt->total += mb->size;
		mm_mt->mapped += bytes;
		/* Held through an fd already: no new holder, no event. */
		paired = mt && memtrack_ref_pair(memtrack_ref_find(&mt->refs,
								   mb->id),
						 new);
		/* After pairing: a paired buffer counts in the table only. */
		memtrack_proc_figures(mt, mm_mt, &total, &nr);
		mm_mt->hwm.hwm = max(mm_mt->hwm.hwm, total);
		if (!paired) {
			atomic_inc(&mb->nr_holders);
			/* A copy being forked is reported by the fork event. */
			if (mm_mt->owner)
				event = memtrack_event_capture_figures(total,
								       nr, &ev);
		}
		new = NULL;
	}
	spin_unlock(&mm_mt->lock);
	if (mt)
		spin_unlock(&mt->lock);
	if (new)
		kmem_cache_free(memtrack_ref_cachep, new);
	memtrack_changed();
	if (event) {
		tsk = memtrack_mm_task(mm_mt);
		memtrack_nl_notify(MEMTRACK_CMD_INSTALL_NTF, tsk, mb, &ev, 0,
				   NULL, GFP_KERNEL);
		put_task_struct(tsk);
	}
	return 0;
}

/* Why an address space stopped mapping a buffer. */
static u32 memtrack_unmap_reason(struct mm_struct *mm)
{
	/* No user left: the address space is being torn down. */
	if (!atomic_read(&mm->mm_users))
		return current->in_execve ? MEMTRACK_REASON_EXEC :
					    MEMTRACK_REASON_EXIT;
	return MEMTRACK_REASON_UNMAP;
}

/* Count @bytes less of @mb mapped into @mm. */
static void memtrack_mm_unmap(struct mm_struct *mm, struct memtrack_buffer *mb,
			      u64 bytes)
{
	struct memtrack_mm *mm_mt = memtrack_mm_state(mm);
	struct memtrack_ref *ref = NULL, *dead = NULL;
	struct memtrack_files *mt;
	struct task_struct *tsk;
	struct memtrack_event ev;
	bool event = false;

	if (!mm_mt)
		goto lost;
	mt = memtrack_mm_files(mm, mm_mt);
	if (mt)
		spin_lock(&mt->lock);
	spin_lock(&mm_mt->lock);
	ref = memtrack_ref_find(&mm_mt->refs, mb->id);
	if (ref) {
		if (WARN_ON_ONCE(ref->mapped < bytes))
			bytes = ref->mapped;
		ref->mapped -= bytes;
		mm_mt->mapped -= bytes;
		if (!ref->mapped) {
			memtrack_hwm_before(&mm_mt->hwm, mt, mm_mt);
			rb_erase(&ref->node, &mm_mt->refs);
			mm_mt->nr_buffers--;
			mm_mt->total -= mb->size;
			/* An fd still refers to it: the process holds on. */
			if (!memtrack_ref_unpair(ref)) {
				atomic_dec(&mb->nr_holders);
				if (mm_mt->owner)
					event = memtrack_event_capture(mt, mm_mt,
								       &ev);
			}
			dead = ref;
		}
	}
	spin_unlock(&mm_mt->lock);
	if (mt)
		spin_unlock(&mt->lock);
	if (!ref)
		goto lost;
	if (dead)
		kmem_cache_free(memtrack_ref_cachep, dead);
	memtrack_changed();
	if (event) {
		tsk = memtrack_mm_task(mm_mt);
		memtrack_nl_notify(MEMTRACK_CMD_UNINSTALL_NTF, tsk, mb, &ev,
				   memtrack_unmap_reason(mm), NULL, GFP_KERNEL);
		put_task_struct(tsk);
	}
	return;
lost:
	/* The mapping was lost to an allocation failure. */
	WARN_ON_ONCE(!READ_ONCE(mm->memtrack_incomplete));
}

static inline u64 memtrack_vma_bytes(struct vm_area_struct *vma)
{
	return vma->vm_end - vma->vm_start;
}

/*
 * A VMA opened by __split_vma() is carved out of a VMA that is still in
 * the tree and still spans it: the bytes mapped do not change.  Copies
 * made by fork and mremap() are new bytes mapped.
 */
static bool memtrack_vma_is_split(struct vm_area_struct *vma)
{
	struct vm_area_struct *old = vma_lookup(vma->vm_mm, vma->vm_start);

	return old && old != vma && old->vm_file == vma->vm_file &&
	       old->vm_end >= vma->vm_end;
}

static void memtrack_vm_open(struct vm_area_struct *vma)
{
	struct memtrack_buffer *mb = memtrack_file_buffer(vma->vm_file);
	const struct vm_operations_struct *orig = mb->vm_ops->orig;

	if (!memtrack_vma_is_split(vma) &&
	    memtrack_mm_map(vma->vm_mm, mb, memtrack_vma_bytes(vma)))
		memtrack_mm_mark_incomplete(vma->vm_mm);
	if (orig && orig->open)
		orig->open(vma);
}

static void memtrack_vm_close(struct vm_area_struct *vma)
{
	struct memtrack_buffer *mb = memtrack_file_buffer(vma->vm_file);
	const struct vm_operations_struct *orig = mb->vm_ops->orig;

	if (orig && orig->close)
		orig->close(vma);
	/*
	 * Every VMA is closed exactly once, with the size it has then.
	 * Splits keep the sum of the sizes, and VM_DONTEXPAND keeps a VMA
	 * from growing, so the bytes counted at open and at close match.
	 */
	memtrack_mm_unmap(vma->vm_mm, mb, memtrack_vma_bytes(vma));
}

/*
 * A copy of the exporter's VMA operations with open and close replaced,
 * so that everything else (fault, access, name, may_split, ...) behaves
 * exactly as the exporter's, including which operations are absent.
 */
static struct memtrack_vm_ops *
memtrack_vm_ops_alloc(const struct vm_operations_struct *orig)
{
	static const struct vm_operations_struct hooks = {
		.open = memtrack_vm_open,
		.close = memtrack_vm_close,
	};
	struct memtrack_vm_ops *ops;
	char *copy;

	ops = kzalloc(sizeof(*ops), GFP_KERNEL_ACCOUNT);
	if (!ops)
		return NULL;
	/* The table is const once published; fill it while it is private. */
	copy = (char *)&ops->ops;
	if (orig)
		memcpy(copy, orig, sizeof(*orig));
	memcpy(copy + offsetof(typeof(hooks), open), &hooks.open,
	       sizeof(hooks.open));
	memcpy(copy + offsetof(typeof(hooks), close), &hooks.close,
	       sizeof(hooks.close));
	ops->orig = orig;
	return ops;
}

/**
 * __memtrack_vma_map() - account a new mapping of a buffer
 * @mb: the buffer
 * @vma: a VMA of the caller's mmap() that the exporter has just set up
 *
 * Wraps the VMA's operations so that every later copy of it (fork, split,
 * mremap()) opens and every removal closes through memtrack, and counts
 * the VMA's bytes for its address space.  The wrapper keeps the exporter's
 * operations for everything else.  VM_DONTEXPAND, which the dma-buf
 * exporters set anyway, keeps the VMA's size what was counted.
 *
 * Context: Process context, mmap lock held for writing; may sleep.
 * Return: 0, or -ENOMEM.
 */
int __memtrack_vma_map(struct memtrack_buffer *mb, struct vm_area_struct *vma)
{
	const struct vm_operations_struct *orig = vma->vm_ops;
	struct memtrack_vm_ops *ops = READ_ONCE(mb->vm_ops), *old;

	mmap_assert_write_locked(vma->vm_mm);
	if (!ops) {
		ops = memtrack_vm_ops_alloc(orig);
		if (!ops)
			return -ENOMEM;
		/* Two address spaces may map the buffer at once. */
		old = cmpxchg(&mb->vm_ops, NULL, ops);
		if (old) {
			kfree(ops);
			ops = old;
		}
	}
	if (ops->orig != orig) {
		/* The exporter changed operations between mmaps: not ours. */
		pr_warn_once("buffer %llu: exporter %s uses varying VMA operations, its mappings are not accounted\n",
			     mb->id, mb->exporter);
		memtrack_mm_mark_incomplete(vma->vm_mm);
		return 0;
	}
	if (memtrack_mm_map(vma->vm_mm, mb, memtrack_vma_bytes(vma)))
		return -ENOMEM;
	vma->vm_ops = &ops->ops;
	vm_flags_set(vma, VM_DONTEXPAND);
	return 0;
}

/**
 * __memtrack_mm_release() - free the accounting of a torn-down mm
 * @mm: the address space; exit_mmap() has closed all its VMAs
 *
 * Context: Process context.  No task can reach @mm any more.
 */
void __memtrack_mm_release(struct mm_struct *mm)
{
	struct memtrack_mm *mm_mt = memtrack_mm_state(mm);
	struct memtrack_ref *ref, *next;

	/* Every VMA closed, so only a bug leaves a reference here. */
	WARN_ON_ONCE(!RB_EMPTY_ROOT(&mm_mt->refs));
	rbtree_postorder_for_each_entry_safe(ref, next, &mm_mt->refs, node) {
		if (!memtrack_ref_unpair(ref))
			atomic_dec(&ref->buf->nr_holders);
		kmem_cache_free(memtrack_ref_cachep, ref);
	}
	put_pid(mm_mt->owner);
	kmem_cache_free(memtrack_mm_cachep, mm_mt);
	mm->memtrack = NULL;
	memtrack_changed();
}

static int __init memtrack_init(void)
{
	if (!memtrack_boot_enabled) {
		pr_info("disabled on the command line\n");
		return 0;
	}
	memtrack_ref_cachep = KMEM_CACHE(memtrack_ref, SLAB_PANIC);
	memtrack_files_cachep = KMEM_CACHE(memtrack_files, SLAB_PANIC);
	memtrack_mm_cachep = KMEM_CACHE(memtrack_mm, SLAB_PANIC);
	static_branch_enable(&memtrack_enabled_key);
	return 0;
}

/* Before any exporter (dma-buf heaps, udmabuf) can create a buffer. */
early_initcall(memtrack_init);
