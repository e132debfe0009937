// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack: per-process accounting of shared-buffer memory.
 *
 * Three structures make up the state:
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
#include <linux/mempool.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/netlink.h>

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
static struct kmem_cache *memtrack_vm_ops_cachep __ro_after_init;

/*
 * fd_install() must not sleep, so the records it needs come from the
 * slab without reclaim, or else from these reserves, which every record
 * freed refills.  Only when both are exhausted does a table lose a
 * reference and get flagged incomplete.
 */
#define MEMTRACK_REF_RESERVE	64
#define MEMTRACK_FILES_RESERVE	16
static mempool_t *memtrack_ref_pool __ro_after_init;
static mempool_t *memtrack_files_pool __ro_after_init;

/* Kinds of files through which buffers are reached (dma-buf). */
#define MEMTRACK_MAX_FILE_TYPES	4
static const struct memtrack_file_type *
memtrack_file_types[MEMTRACK_MAX_FILE_TYPES] __read_mostly;
static bool memtrack_boot_enabled __initdata = true;

static int __init memtrack_setup(char *str)
{
	return kstrtobool(str, &memtrack_boot_enabled) == 0;
}
__setup("memtrack=", memtrack_setup);

/*
 * The buffer that a tracked file refers to.  Only registered kinds of
 * files set FOP_MEMTRACK, so the lookup always succeeds.
 */
static struct memtrack_buffer *memtrack_file_buffer(struct file *file)
{
	const struct memtrack_file_type *type;
	unsigned int i;

	for (i = 0; i < MEMTRACK_MAX_FILE_TYPES; i++) {
		type = READ_ONCE(memtrack_file_types[i]);
		if (type && type->fops == file->f_op)
			return type->buffer(file);
	}
	WARN_ONCE(1, "memtrack: FOP_MEMTRACK set by %ps, a file type never registered\n",
		  file->f_op);
	return NULL;
}

/* A record for fd_install(), which must not sleep. */
static struct memtrack_ref *memtrack_ref_alloc_nowait(void)
{
	return mempool_alloc(memtrack_ref_pool,
			     GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT);
}

static void memtrack_ref_free(struct memtrack_ref *ref)
{
	mempool_free(ref, memtrack_ref_pool);
}

/*
 * An address space's reference pins its buffer: the VMAs pin it too,
 * but a reference can outlive them (an importer that failed after
 * dma_buf_mmap() leaves one until the owner leaves the address space),
 * and an orphaned address space's references are dropped by the owner
 * while other processes may unmap.  Table references need no pin: the
 * fds do that, and a reference goes before its last fd.
 */
static void memtrack_mm_ref_pin(struct memtrack_buffer *mb)
{
	if (mb->ops && mb->ops->get)
		mb->ops->get(mb);
}

/* Free an address space's reference; no memtrack lock may be held. */
static void memtrack_mm_ref_free(struct memtrack_ref *ref)
{
	struct memtrack_buffer *mb = ref->buf;

	memtrack_ref_free(ref);
	if (mb->ops && mb->ops->put)
		mb->ops->put(mb);
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
	/* No VMA is left to use a wrapper: each one pinned the buffer. */
	while (mb->vm_ops) {
		struct memtrack_vm_ops *w = mb->vm_ops;

		mb->vm_ops = w->next;
		kmem_cache_free(memtrack_vm_ops_cachep, w);
	}
	memtrack_changed();
}
EXPORT_SYMBOL_GPL(memtrack_buffer_remove);

/**
 * memtrack_register_file_type() - let memtrack account a kind of file
 * @type: the kind of file, whose operations set FOP_MEMTRACK, and how to
 *	go from such a file to its buffer; must outlive every such file
 *
 * Every buffer reached through such files must be registered with
 * memtrack_buffer_init() before its file can reach a descriptor table.
 *
 * Context: Process context, before any file of the kind exists.
 * Return: 0, -EINVAL if the operations lack FOP_MEMTRACK, or -ENOSPC.
 */
int memtrack_register_file_type(const struct memtrack_file_type *type)
{
	unsigned int i;

	if (WARN_ON(!(type->fops->fop_flags & FOP_MEMTRACK)))
		return -EINVAL;
	for (i = 0; i < MEMTRACK_MAX_FILE_TYPES; i++)
		if (!cmpxchg(&memtrack_file_types[i], NULL, type))
			return 0;
	return -ENOSPC;
}
EXPORT_SYMBOL_GPL(memtrack_register_file_type);

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

static struct memtrack_files *memtrack_files_get(struct files_struct *files,
						 bool committed, gfp_t gfp)
{
	struct memtrack_files *mt = memtrack_files_state(files);
	struct memtrack_files *old;

	if (likely(mt))
		return mt;

	mt = mempool_alloc(memtrack_files_pool, gfp);
	if (!mt)
		return NULL;
	spin_lock_init(&mt->lock);
	mt->refs = RB_ROOT;
	mt->nr_buffers = 0;
	mt->nr_fds = 0;
	mt->total = 0;
	mt->committed = committed;
	memtrack_hwm_init(&mt->hwm, 0);

	/* Threads sharing the table may race to create its state. */
	old = cmpxchg_release(&files->memtrack, NULL, mt);
	if (old) {
		mempool_free(mt, memtrack_files_pool);
		return old;
	}
	return mt;
}

/* Whether @mm_mt counts for the thread group of @tsk. */
static bool memtrack_mm_owned_by(struct memtrack_mm *mm_mt,
				 struct task_struct *tsk)
{
	return mm_mt->state == MEMTRACK_MM_OWNED &&
	       mm_mt->owner == task_tgid(tsk);
}

/*
 * Lock and return the address-space state that pairs with @files: that
 * of the caller's address space, when @files is the caller's table and
 * the caller's process owns the address space.  A process that only
 * shares another's address space (CLONE_VM without CLONE_THREAD) pairs
 * nothing with it.  Called with @files' state locked; the caller's
 * address space cannot go away under it.
 */
static struct memtrack_mm *memtrack_lock_own_mm(struct files_struct *files)
{
	struct mm_struct *mm = current->mm;
	struct memtrack_mm *mm_mt;

	if (files != current->files || !mm)
		return NULL;
	mm_mt = memtrack_mm_state(mm);
	if (!mm_mt)
		return NULL;
	spin_lock(&mm_mt->lock);
	if (memtrack_mm_owned_by(mm_mt, current))
		return mm_mt;
	spin_unlock(&mm_mt->lock);
	return NULL;
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
 * @file: a tracked file (see memtrack_file_tracked())
 *
 * Called before @file becomes visible in @files, so that a concurrent
 * close of the new fd always finds the reference.  Never sleeps: records
 * come from the slab without reclaim or from memtrack's reserve.  If both
 * fail the table is marked incomplete and the install itself succeeds.
 *
 * Context: Any context fd_install() is called in.  No fd-table lock held.
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

	if (!mb)
		return;
	mt = memtrack_files_get(files, true,
				GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT);
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

	new = memtrack_ref_alloc_nowait();
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
		mm_mt = mt->committed ? memtrack_lock_own_mm(files) : NULL;
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
		/* A copy not yet in use counts for nobody. */
		if (!paired && mt->committed) {
			atomic_inc(&mb->nr_holders);
			event = memtrack_event_capture_figures(total, nr, &ev);
		}
		if (mm_mt)
			spin_unlock(&mm_mt->lock);
		new = NULL;
	}
	spin_unlock(&mt->lock);
	memtrack_ref_free(new);
	memtrack_changed();
	if (event)
		memtrack_nl_notify(MEMTRACK_CMD_INSTALL_NTF, current, mb, &ev,
				   0, NULL, GFP_NOWAIT);
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
	if (!mb)
		return;
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

	if (!mb)
		return;
	if (mt) {
		spin_lock(&mt->lock);
		ref = memtrack_ref_find(&mt->refs, mb->id);
		if (ref) {
			mt->nr_fds--;
			if (--ref->nr_fds == 0) {
				mm_mt = mt->committed ?
					memtrack_lock_own_mm(files) : NULL;
				memtrack_hwm_before(&mt->hwm, mt, mm_mt);
				rb_erase(&ref->node, &mt->refs);
				mt->nr_buffers--;
				mt->total -= mb->size;
				/*
				 * Still mapped: the process still holds it.  A
				 * copy not yet in use (close_range() closing in
				 * its private copy) counted for nobody.
				 */
				if (!memtrack_ref_unpair(ref) && mt->committed) {
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
		memtrack_ref_free(dead);
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
 * get here.  The copy counts for nobody until the fork or unshare that
 * made it succeeds: see __memtrack_fork() and __memtrack_files_switch().
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
		mb = memtrack_file_buffer(file);
		if (!mb)
			continue;
		if (!mt) {
			mt = memtrack_files_get(newf, false, GFP_KERNEL_ACCOUNT);
			if (!mt)
				goto incomplete;
			/* Private until the copy is installed: no contention. */
			spin_lock(&mt->lock);
		}
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
	}
	if (mt) {
		mt->hwm.hwm = mt->total;
		spin_unlock(&mt->lock);
	}
	return;

incomplete:
	memtrack_files_mark_incomplete(newf);
}

/**
 * __memtrack_files_release() - drop all accounting of a dying table
 * @files: the table, whose last user is gone
 *
 * Called before the table's files are closed, so every buffer is alive.
 * When the last user was an exiting process, it stops holding what the
 * table held (its address space was left already, see
 * __memtrack_mm_leave()).  A table released otherwise is a copy thrown
 * away by a failed fork or unshare, or one a task switched away from:
 * no process stops holding anything, and no event is sent.
 *
 * Context: Process context.  No task can reach @files any more.
 */
void __memtrack_files_release(struct files_struct *files)
{
	struct memtrack_files *mt = memtrack_files_state(files);
	struct memtrack_ref *ref, *next;
	struct memtrack_event ev;
	struct rb_node *node;
	bool event, report;

	if (mt) {
		/*
		 * A thread with a table of its own that exits before its
		 * process does is not the process stopping to hold buffers.
		 */
		report = mt->committed && (current->flags & PF_EXITING) &&
			 !atomic_read(&current->signal->live);
		/* One exit event per buffer, each with the total left after it. */
		for (node = rb_first(&mt->refs); node; node = rb_next(node)) {
			ref = rb_entry(node, struct memtrack_ref, node);
			spin_lock(&mt->lock);
			mt->total -= ref->buf->size;
			mt->nr_buffers--;
			event = false;
			/* A paired mapping outlives the table, and holds on. */
			if (!memtrack_ref_unpair(ref) && mt->committed) {
				atomic_dec(&ref->buf->nr_holders);
				if (report)
					event = memtrack_event_capture(mt, NULL,
								       &ev);
			}
			spin_unlock(&mt->lock);
			if (event)
				memtrack_nl_notify(MEMTRACK_CMD_UNINSTALL_NTF,
						   current, ref->buf, &ev,
						   MEMTRACK_REASON_EXIT, NULL,
						   GFP_NOWAIT);
		}
		rbtree_postorder_for_each_entry_safe(ref, next, &mt->refs, node)
			memtrack_ref_free(ref);
		mempool_free(mt, memtrack_files_pool);
		files->memtrack = NULL;
	}
	memtrack_changed();
}

/*
 * Pair @ref, a reference of a table that is being taken into use, with
 * @mmref, the same buffer's reference in the owned address space of the
 * same process, taking @mmref over from the table it was paired with.
 * Returns true if the process counts as a holder through @ref alone, and
 * the buffer gains one.  The locks of both holders are held.
 */
static bool memtrack_ref_take_over(struct memtrack_ref *mmref,
				   struct memtrack_ref *ref)
{
	bool alone;

	if (!mmref)
		return true;
	spin_lock(&memtrack_pair_lock);
	/* The reference given up now counts on its own. */
	alone = mmref->partner;
	if (mmref->partner)
		WRITE_ONCE(mmref->partner->partner, NULL);
	WRITE_ONCE(mmref->partner, ref);
	WRITE_ONCE(ref->partner, mmref);
	spin_unlock(&memtrack_pair_lock);
	return alone;
}

/*
 * Lock two table states, either of which may be NULL, in address order:
 * the only order in which anything takes two.
 */
static void memtrack_files_lock_two(struct memtrack_files *a,
				    struct memtrack_files *b)
{
	if (!a || !b) {
		if (a || b)
			spin_lock(&(a ?: b)->lock);
		return;
	}
	if (a > b)
		swap(a, b);
	spin_lock(&a->lock);
	spin_lock_nested(&b->lock, SINGLE_DEPTH_NESTING);
}

static void memtrack_files_unlock_two(struct memtrack_files *a,
				      struct memtrack_files *b)
{
	if (a)
		spin_unlock(&a->lock);
	if (b)
		spin_unlock(&b->lock);
}

/*
 * Whether the process of a table that replaced @old_ref's table stopped
 * holding @old_ref's buffer: neither its new table @mt nor its own
 * address space @mm_mt holds it.
 */
static bool memtrack_ref_dropped(struct memtrack_ref *old_ref,
				 struct memtrack_files *mt,
				 struct memtrack_mm *mm_mt)
{
	u64 id = old_ref->buf->id;

	return !(mt && memtrack_ref_find(&mt->refs, id)) &&
	       !(mm_mt && memtrack_ref_find(&mm_mt->refs, id));
}

/*
 * Report the buffers the caller's process held through @old_mt and no
 * longer holds since it switched to @mt: close_range() closes the range
 * in the private copy before switching to it.  Each buffer's event is
 * built under the locks that keep it alive (@old_mt's reference pins it
 * through its fd), into a message allocated before they are taken, and
 * sent after.
 */
static void memtrack_files_report_dropped(struct files_struct *newf,
					  struct memtrack_files *old_mt,
					  struct memtrack_files *mt)
{
	struct memtrack_ref *ref, *later;
	struct memtrack_mm *mm_mt;
	struct memtrack_event ev;
	struct sk_buff *skb;
	struct rb_node *node;
	char comm[TASK_COMM_LEN];
	u64 from = 0, total;
	u32 nr;
	bool event;

	get_task_comm(comm, current->group_leader);
	for (;;) {
		if (!memtrack_nl_has_listeners())
			return;
		skb = memtrack_nl_event_alloc(GFP_KERNEL);
		if (!skb)
			return;
		memtrack_files_lock_two(old_mt, mt);
		mm_mt = memtrack_lock_own_mm(newf);
		ref = memtrack_ref_first_from(&old_mt->refs, from);
		while (ref && !memtrack_ref_dropped(ref, mt, mm_mt)) {
			node = rb_next(&ref->node);
			ref = node ? rb_entry(node, struct memtrack_ref, node) :
				     NULL;
		}
		event = false;
		if (ref) {
			/* The figures after this event: the later drops are still held. */
			memtrack_proc_figures(mt, mm_mt, &total, &nr);
			for (node = rb_next(&ref->node); node; node = rb_next(node)) {
				later = rb_entry(node, struct memtrack_ref, node);
				if (memtrack_ref_dropped(later, mt, mm_mt)) {
					total += later->buf->size;
					nr++;
				}
			}
			event = memtrack_event_capture_figures(total, nr, &ev) &&
				!memtrack_nl_event_fill(skb,
							MEMTRACK_CMD_UNINSTALL_NTF,
							task_tgid_nr(current),
							comm, ref->buf, &ev,
							MEMTRACK_REASON_CLOSE, 0);
			from = ref->buf->id + 1;
		}
		if (mm_mt)
			spin_unlock(&mm_mt->lock);
		memtrack_files_unlock_two(old_mt, mt);
		if (!event) {
			nlmsg_free(skb);
			if (!ref)
				return;
			continue;
		}
		memtrack_nl_event_send(skb, GFP_KERNEL);
	}
}

/**
 * __memtrack_files_switch() - account a task taking a table copy into use
 * @oldf: the table the task used, still referenced by the caller
 * @newf: the copy dup_fd() made of it, now current->files
 *
 * The copy starts counting: each of its buffers gains the task's process
 * as a holder, unless the process's own address space maps the buffer,
 * in which case the mapping's reference pairs with the copy's from now
 * on, leaving the old table's reference to count for the processes that
 * still use that table.  Then the process's drops are reported.
 *
 * Context: Process context, the task that switched; may sleep.
 */
void __memtrack_files_switch(struct files_struct *oldf,
			     struct files_struct *newf)
{
	struct memtrack_files *old_mt = memtrack_files_state(oldf);
	struct memtrack_files *mt = memtrack_files_state(newf);
	struct memtrack_mm *mm_mt;
	struct memtrack_ref *ref;
	struct rb_node *node;

	memtrack_files_lock_two(old_mt, mt);
	mm_mt = memtrack_lock_own_mm(newf);
	if (mt && !mt->committed) {
		for (node = rb_first(&mt->refs); node; node = rb_next(node)) {
			struct memtrack_ref *mmref = NULL;

			ref = rb_entry(node, struct memtrack_ref, node);
			if (mm_mt)
				mmref = memtrack_ref_find(&mm_mt->refs,
							  ref->buf->id);
			if (memtrack_ref_take_over(mmref, ref))
				atomic_inc(&ref->buf->nr_holders);
		}
		WRITE_ONCE(mt->committed, true);
	}
	/*
	 * A mapping paired with a reference the copy no longer has (closed
	 * by close_range() in the copy) leaves that reference to the
	 * processes still using the old table: both count on their own.
	 */
	for (node = (mm_mt && old_mt) ? rb_first(&mm_mt->refs) : NULL; node;
	     node = rb_next(node)) {
		ref = rb_entry(node, struct memtrack_ref, node);
		if (ref->partner &&
		    ref->partner == memtrack_ref_find(&old_mt->refs,
						      ref->buf->id) &&
		    memtrack_ref_unpair(ref))
			atomic_inc(&ref->buf->nr_holders);
	}
	if (mm_mt)
		spin_unlock(&mm_mt->lock);
	memtrack_files_unlock_two(old_mt, mt);
	memtrack_changed();
	if (old_mt)
		memtrack_files_report_dropped(newf, old_mt, mt);
}

/**
 * __memtrack_fork() - account the copies of a successful fork
 * @child: the new task, not yet running
 * @clone_flags: its clone flags
 *
 * The child's copied table and copied address space start counting now
 * that the fork can no longer fail.  They were copied without knowing
 * they belong together; their references are paired so that the child
 * counts once among each buffer's holders.  A new process (not a thread)
 * is then reported with one event.
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
		mm_mt->owner = get_pid(task_tgid(child));
		WRITE_ONCE(mm_mt->state, MEMTRACK_MM_OWNED);
	}
	if (mt && !mt->committed) {
		/* The child's own copy of the table: the child is a holder. */
		for (node = rb_first(&mt->refs); node; node = rb_next(node)) {
			struct memtrack_ref *ref = rb_entry(node,
							    struct memtrack_ref,
							    node);

			if (mm_mt)
				memtrack_ref_pair(memtrack_ref_find(&mm_mt->refs,
								    ref->buf->id),
						  ref);
			atomic_inc(&ref->buf->nr_holders);
		}
		WRITE_ONCE(mt->committed, true);
	}
	for (node = mm_mt ? rb_first(&mm_mt->refs) : NULL; node;
	     node = rb_next(node)) {
		struct memtrack_ref *ref = rb_entry(node, struct memtrack_ref,
						    node);

		/*
		 * Paired with the copied table above, which counted the child,
		 * or with a shared table's reference that counts already.
		 */
		if (ref->partner ||
		    (mt && memtrack_ref_pair(memtrack_ref_find(&mt->refs,
							       ref->buf->id),
					     ref)))
			continue;
		atomic_inc(&ref->buf->nr_holders);
	}
	memtrack_proc_figures(mt, mm_mt, &total, &nr);
	/* The child's marks start from what it was born with. */
	if (mt && !(clone_flags & CLONE_FILES))
		mt->hwm.hwm = max(mt->hwm.hwm, total);
	if (mm_mt)
		memtrack_hwm_init(&mm_mt->hwm, total);
	if (nr && !(clone_flags & CLONE_THREAD))
		event = memtrack_event_capture_figures(total, nr, &ev);
	if (mm_mt)
		spin_unlock(&mm_mt->lock);
	if (mt)
		spin_unlock(&mt->lock);
	memtrack_changed();
	/* Under cgroup_threadgroup_rwsem, as the proc connector: no sleep. */
	if (event)
		memtrack_nl_notify(MEMTRACK_CMD_FORK_NTF, child, NULL, &ev, 0,
				   current, GFP_NOWAIT);
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
	if (current->mm == mm) {
		/*
		 * A vfork child only borrows its parent's address space
		 * until it execs or exits: the parent owns it.
		 */
		rcu_read_lock();
		mm_mt->owner = get_pid(task_tgid(current->vfork_done ?
					rcu_dereference(current->real_parent) :
					current));
		rcu_read_unlock();
		mm_mt->state = MEMTRACK_MM_OWNED;
	} else {
		mm_mt->owner = NULL;
		mm_mt->state = MEMTRACK_MM_COPY;
	}

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
 * The table state that pairs with the owned address space @mm, locked:
 * the caller's, when the caller is a thread of the owner; else, for a
 * process that shares @mm without owning it, the owner's, reached
 * through one of its live threads, which is then locked too (its
 * task_lock() keeps the table alive) and returned in *@locked.  NULL for
 * a copy being forked or an orphaned address space.
 *
 * Lock order: task_lock(), then the table's, then the address space's.
 */
static struct memtrack_files *
memtrack_lock_mm_files(struct mm_struct *mm, struct memtrack_mm *mm_mt,
		       struct task_struct **locked)
{
	struct memtrack_files *mt = NULL;
	struct task_struct *leader, *t;

	*locked = NULL;
	if (READ_ONCE(mm_mt->state) != MEMTRACK_MM_OWNED)
		return NULL;
	if (current->mm == mm && mm_mt->owner == task_tgid(current)) {
		mt = current->files ? memtrack_files_state(current->files) :
				      NULL;
	} else {
		rcu_read_lock();
		/* Reaped: it left @mm, which is orphaned then. */
		leader = pid_task(mm_mt->owner, PIDTYPE_TGID);
		if (!leader)
			goto out_rcu;
		for_each_thread(leader, t) {
			task_lock(t);
			if (t->files) {
				get_task_struct(t);
				*locked = t;
				mt = memtrack_files_state(t->files);
				break;
			}
			task_unlock(t);
		}
out_rcu:
		rcu_read_unlock();
	}
	if (mt)
		spin_lock(&mt->lock);
	return mt;
}

static void memtrack_unlock_mm_files(struct memtrack_files *mt,
				     struct task_struct *locked)
{
	if (mt)
		spin_unlock(&mt->lock);
	if (locked) {
		task_unlock(locked);
		put_task_struct(locked);
	}
}

/*
 * The process an address-space event is about, with a reference: always
 * the owner, never whichever task happens to be running.  NULL if it is
 * gone, and then no event is sent.
 */
static struct task_struct *memtrack_mm_task(struct memtrack_mm *mm_mt)
{
	struct task_struct *tsk;

	rcu_read_lock();
	tsk = pid_task(mm_mt->owner, PIDTYPE_TGID);
	if (tsk)
		get_task_struct(tsk);
	rcu_read_unlock();
	return tsk;
}

static void memtrack_mm_notify(u8 cmd, struct memtrack_mm *mm_mt,
			       struct memtrack_buffer *mb,
			       const struct memtrack_event *ev, u32 reason)
{
	struct task_struct *tsk = memtrack_mm_task(mm_mt);

	if (!tsk)
		return;
	memtrack_nl_notify(cmd, tsk, mb, ev, reason, NULL, GFP_KERNEL);
	put_task_struct(tsk);
}

/*
 * Count @bytes more of @mb mapped into @mm, with @new as the reference if
 * one is needed (allocated here if @new is NULL).  Returns -ENOMEM if
 * memory ran out, leaving the accounting untouched; never fails when the
 * address space has state and @new is given.
 */
static int memtrack_mm_map(struct mm_struct *mm, struct memtrack_buffer *mb,
			   u64 bytes, struct memtrack_ref *new)
{
	struct memtrack_files *mt;
	struct memtrack_mm *mm_mt;
	struct memtrack_ref *ref;
	struct task_struct *locked;
	bool event = false, paired, owned;
	struct memtrack_event ev;
	u64 total;
	u32 nr;

	might_sleep();
	mm_mt = memtrack_mm_get(mm);
	if (!mm_mt) {
		if (new)
			memtrack_ref_free(new);
		return -ENOMEM;
	}
	if (!new) {
		/*
		 * A copy of a VMA of a buffer that is mapped already (mremap)
		 * adds bytes and needs no record: never fail it for lack of
		 * memory.
		 */
		spin_lock(&mm_mt->lock);
		ref = mm_mt->state == MEMTRACK_MM_ORPHANED ? NULL :
		      memtrack_ref_find(&mm_mt->refs, mb->id);
		if (ref) {
			ref->mapped += bytes;
			mm_mt->mapped += bytes;
		}
		spin_unlock(&mm_mt->lock);
		if (ref || READ_ONCE(mm_mt->state) == MEMTRACK_MM_ORPHANED) {
			memtrack_changed();
			return 0;
		}
		new = kmem_cache_alloc(memtrack_ref_cachep, GFP_KERNEL_ACCOUNT);
		if (!new)
			return -ENOMEM;
	}
	new->buf = mb;
	new->partner = NULL;
	new->mapped = bytes;

	mt = memtrack_lock_mm_files(mm, mm_mt, &locked);
	spin_lock(&mm_mt->lock);
	owned = mm_mt->state == MEMTRACK_MM_OWNED;
	ref = NULL;
	if (mm_mt->state != MEMTRACK_MM_ORPHANED)
		ref = memtrack_ref_find(&mm_mt->refs, mb->id);
	if (mm_mt->state == MEMTRACK_MM_ORPHANED) {
		/* Accounted to nobody any more. */
	} else if (ref) {
		ref->mapped += bytes;
		mm_mt->mapped += bytes;
	} else {
		if (owned)
			memtrack_hwm_before(&mm_mt->hwm, mt, mm_mt);
		memtrack_mm_ref_pin(mb);
		rb_add(&new->node, &mm_mt->refs, memtrack_ref_less);
		mm_mt->nr_buffers++;
		mm_mt->total += mb->size;
		mm_mt->mapped += bytes;
		/* Held through an fd already: no new holder, no event. */
		paired = mt && memtrack_ref_pair(memtrack_ref_find(&mt->refs,
								   mb->id),
						 new);
		/* A copy being forked counts from the fork's success on. */
		if (owned) {
			/* After pairing: a paired buffer counts in the table. */
			memtrack_proc_figures(mt, mm_mt, &total, &nr);
			mm_mt->hwm.hwm = max(mm_mt->hwm.hwm, total);
			if (!paired) {
				atomic_inc(&mb->nr_holders);
				event = memtrack_event_capture_figures(total,
								       nr, &ev);
			}
		}
		new = NULL;
	}
	spin_unlock(&mm_mt->lock);
	memtrack_unlock_mm_files(mt, locked);
	if (new)
		memtrack_ref_free(new);
	memtrack_changed();
	if (event)
		memtrack_mm_notify(MEMTRACK_CMD_INSTALL_NTF, mm_mt, mb, &ev, 0);
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
	struct task_struct *locked;
	struct memtrack_event ev;
	bool event = false, owned;

	if (!mm_mt)
		goto lost;
	mt = memtrack_lock_mm_files(mm, mm_mt, &locked);
	spin_lock(&mm_mt->lock);
	if (mm_mt->state == MEMTRACK_MM_ORPHANED) {
		/* Its owner left it, and with it everything it held. */
		spin_unlock(&mm_mt->lock);
		memtrack_unlock_mm_files(mt, locked);
		return;
	}
	owned = mm_mt->state == MEMTRACK_MM_OWNED;
	ref = memtrack_ref_find(&mm_mt->refs, mb->id);
	if (ref) {
		if (WARN_ON_ONCE(ref->mapped < bytes))
			bytes = ref->mapped;
		ref->mapped -= bytes;
		mm_mt->mapped -= bytes;
		if (!ref->mapped) {
			if (owned)
				memtrack_hwm_before(&mm_mt->hwm, mt, mm_mt);
			rb_erase(&ref->node, &mm_mt->refs);
			mm_mt->nr_buffers--;
			mm_mt->total -= mb->size;
			/* An fd still refers to it: the process holds on. */
			if (!memtrack_ref_unpair(ref) && owned) {
				atomic_dec(&mb->nr_holders);
				event = memtrack_event_capture(mt, mm_mt, &ev);
			}
			dead = ref;
		}
	}
	spin_unlock(&mm_mt->lock);
	memtrack_unlock_mm_files(mt, locked);
	if (!ref)
		goto lost;
	if (dead)
		memtrack_mm_ref_free(dead);
	memtrack_changed();
	if (event)
		memtrack_mm_notify(MEMTRACK_CMD_UNINSTALL_NTF, mm_mt, mb, &ev,
				   memtrack_unmap_reason(mm));
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

static inline const struct memtrack_vm_ops *
memtrack_vma_wrapper(struct vm_area_struct *vma)
{
	return container_of(vma->vm_ops, struct memtrack_vm_ops, ops);
}

static void memtrack_vm_open(struct vm_area_struct *vma)
{
	const struct memtrack_vm_ops *w = memtrack_vma_wrapper(vma);

	if (!memtrack_vma_is_split(vma) &&
	    memtrack_mm_map(vma->vm_mm, w->buf, memtrack_vma_bytes(vma), NULL))
		memtrack_mm_mark_incomplete(vma->vm_mm);
	if (w->orig && w->orig->open)
		w->orig->open(vma);
}

static void memtrack_vm_close(struct vm_area_struct *vma)
{
	const struct memtrack_vm_ops *w = memtrack_vma_wrapper(vma);

	if (w->orig && w->orig->close)
		w->orig->close(vma);
	/*
	 * Every VMA is closed exactly once, with the size it has then.
	 * Splits keep the sum of the sizes, and VM_DONTEXPAND keeps a VMA
	 * from growing, so the bytes counted at open and at close match.
	 */
	memtrack_mm_unmap(vma->vm_mm, w->buf, memtrack_vma_bytes(vma));
}

/*
 * Whether @w wraps @orig as it is now: a module loaded where another one
 * was may have operations at the same address with other contents.
 */
static bool memtrack_vm_ops_match(const struct memtrack_vm_ops *w,
				  const struct vm_operations_struct *orig)
{
	/* The wrapper differs from @orig in open and close only. */
	const size_t skip = offsetofend(typeof(*orig), close);

	BUILD_BUG_ON(offsetof(typeof(*orig), open) != 0 ||
		     offsetof(typeof(*orig), close) != sizeof(void *));
	if (w->orig != orig)
		return false;
	return !orig || !memcmp((const char *)orig + skip,
				(const char *)&w->ops + skip,
				sizeof(*orig) - skip);
}

/* The wrapper of @orig among @mb's, if it has one. */
static struct memtrack_vm_ops *
memtrack_vm_ops_find(struct memtrack_buffer *mb,
		     const struct vm_operations_struct *orig)
{
	struct memtrack_vm_ops *w;

	/* Pairs with the cmpxchg_release() in memtrack_vm_ops_add(). */
	for (w = smp_load_acquire(&mb->vm_ops); w; w = READ_ONCE(w->next))
		if (memtrack_vm_ops_match(w, orig))
			return w;
	return NULL;
}

/*
 * Fill @w as the wrapper of @orig for @mb and publish it: a copy of @orig
 * with open and close replaced, so that everything else (fault, access,
 * name, may_split, ...) behaves exactly as @orig, including which
 * operations are absent.  Two mmaps racing may publish two wrappers of
 * the same operations, which is harmless.
 */
static void memtrack_vm_ops_add(struct memtrack_buffer *mb,
				const struct vm_operations_struct *orig,
				struct memtrack_vm_ops *w)
{
	static const struct vm_operations_struct hooks = {
		.open = memtrack_vm_open,
		.close = memtrack_vm_close,
	};
	struct memtrack_vm_ops *head;
	char *copy = (char *)&w->ops;

	/* The table is const once published; fill it while it is private. */
	if (orig)
		memcpy(copy, orig, sizeof(*orig));
	memcpy(copy + offsetof(typeof(hooks), open), &hooks.open,
	       sizeof(hooks.open));
	memcpy(copy + offsetof(typeof(hooks), close), &hooks.close,
	       sizeof(hooks.close));
	w->orig = orig;
	w->buf = mb;
	do {
		head = READ_ONCE(mb->vm_ops);
		w->next = head;
	} while (cmpxchg_release(&mb->vm_ops, head, w) != head);
}

/**
 * __memtrack_vma_prepare() - allocate what accounting a mapping needs
 * @mb: the buffer
 * @vma: a VMA of the caller's mmap(), before the exporter's mmap runs
 * @prep: receives the allocations
 *
 * Context: Process context, mmap lock held for writing; may sleep.
 * Return: 0, or -ENOMEM with nothing allocated.
 */
int __memtrack_vma_prepare(struct memtrack_buffer *mb,
			   struct vm_area_struct *vma,
			   struct memtrack_vma_prep *prep)
{
	mmap_assert_write_locked(vma->vm_mm);
	if (!memtrack_mm_get(vma->vm_mm))
		return -ENOMEM;
	prep->ref = kmem_cache_alloc(memtrack_ref_cachep, GFP_KERNEL_ACCOUNT);
	if (!prep->ref)
		return -ENOMEM;
	/* The exporter's operations are only known after its mmap. */
	prep->ops = kmem_cache_zalloc(memtrack_vm_ops_cachep,
				      GFP_KERNEL_ACCOUNT);
	if (!prep->ops) {
		memtrack_ref_free(prep->ref);
		prep->ref = NULL;
		return -ENOMEM;
	}
	return 0;
}

/**
 * __memtrack_vma_abort() - free an unused preparation
 * @prep: filled by __memtrack_vma_prepare(); emptied
 *
 * Context: Any context.
 */
void __memtrack_vma_abort(struct memtrack_vma_prep *prep)
{
	memtrack_ref_free(prep->ref);
	if (prep->ops)
		kmem_cache_free(memtrack_vm_ops_cachep, prep->ops);
	prep->ref = NULL;
	prep->ops = NULL;
}

/**
 * __memtrack_vma_commit() - account a new mapping of a buffer
 * @mb: the buffer
 * @vma: a VMA of the caller's mmap() that the exporter has just set up
 * @prep: filled by __memtrack_vma_prepare(); consumed
 *
 * Wraps the VMA's operations so that every later copy of it (fork, split,
 * mremap()) opens and every removal closes through memtrack, and counts
 * the VMA's bytes for its address space.  The wrapper keeps the VMA's
 * operations for everything else; a buffer gets one wrapper per distinct
 * set of operations its mappings come with.  VM_DONTEXPAND, which the
 * dma-buf exporters set anyway, keeps the VMA's size what was counted.
 *
 * A mapping that is not the buffer's own file any more (the exporter
 * called vma_set_file()) cannot be followed: it is not counted, and the
 * address space's figures are flagged incomplete.
 *
 * Context: Process context, mmap lock held for writing.
 */
void __memtrack_vma_commit(struct memtrack_buffer *mb,
			   struct vm_area_struct *vma,
			   struct memtrack_vma_prep *prep)
{
	const struct vm_operations_struct *orig = vma->vm_ops;
	struct memtrack_vm_ops *w;

	mmap_assert_write_locked(vma->vm_mm);
	if (!vma->vm_file || !memtrack_file_tracked(vma->vm_file) ||
	    memtrack_file_buffer(vma->vm_file) != mb) {
		pr_warn_once("buffer %llu: exporter %s maps it through another file, such mappings are not accounted\n",
			     mb->id, mb->exporter);
		WRITE_ONCE(vma->vm_mm->memtrack_incomplete, true);
		memtrack_changed();
		goto out;
	}
	if (orig && orig->open == memtrack_vm_open) {
		/* Accounted already, by a mapping of a buffer it nests. */
		goto out;
	}
	w = memtrack_vm_ops_find(mb, orig);
	if (!w) {
		w = prep->ops;
		prep->ops = NULL;
		memtrack_vm_ops_add(mb, orig, w);
	}
	/* The address space has state and the reference is given. */
	memtrack_mm_map(vma->vm_mm, mb, memtrack_vma_bytes(vma), prep->ref);
	prep->ref = NULL;
	vma->vm_ops = &w->ops;
	vm_flags_set(vma, VM_DONTEXPAND);
out:
	if (prep->ref)
		memtrack_ref_free(prep->ref);
	if (prep->ops)
		kmem_cache_free(memtrack_vm_ops_cachep, prep->ops);
	prep->ref = NULL;
	prep->ops = NULL;
}

/**
 * __memtrack_mm_leave() - account a task leaving an address space
 * @mm: the address space the current task stopped using
 *
 * When the process that owns @mm leaves it for good, because its last
 * thread exits or it execs, it stops holding the buffers @mm maps, even
 * if @mm lives on, shared with another process (CLONE_VM) or pinned by a
 * reader.  It gets its uninstall events now, in its own context, and @mm
 * is accounted to nobody from then on: its later unmaps are silent.
 * References paired with the process's table stay held by the table.
 *
 * Context: Process context, from exit_mm() and exec_mmap(); may sleep.
 */
void __memtrack_mm_leave(struct mm_struct *mm)
{
	struct memtrack_mm *mm_mt = memtrack_mm_state(mm);
	struct memtrack_files *mt = NULL;
	struct memtrack_event ev;
	struct memtrack_ref *ref;
	struct rb_node *node;
	bool event;
	u32 reason;

	if (!memtrack_mm_owned_by(mm_mt, current))
		return;
	if (current->in_execve)
		reason = MEMTRACK_REASON_EXEC;
	else if (!atomic_read(&current->signal->live))
		reason = MEMTRACK_REASON_EXIT;
	else
		return;	/* another thread of the process uses @mm */
	if (current->files)
		mt = memtrack_files_state(current->files);

	for (;;) {
		if (mt)
			spin_lock(&mt->lock);
		spin_lock(&mm_mt->lock);
		/* Several dying threads may get here; the first one drains. */
		WRITE_ONCE(mm_mt->state, MEMTRACK_MM_ORPHANED);
		node = rb_first(&mm_mt->refs);
		event = false;
		ref = node ? rb_entry(node, struct memtrack_ref, node) : NULL;
		if (ref) {
			rb_erase(&ref->node, &mm_mt->refs);
			mm_mt->nr_buffers--;
			mm_mt->total -= ref->buf->size;
			mm_mt->mapped -= ref->mapped;
			if (!memtrack_ref_unpair(ref)) {
				atomic_dec(&ref->buf->nr_holders);
				event = memtrack_event_capture(mt, mm_mt, &ev);
			}
		}
		spin_unlock(&mm_mt->lock);
		if (mt)
			spin_unlock(&mt->lock);
		if (!ref)
			break;
		/* @mm still maps the buffer, which keeps it alive. */
		if (event)
			memtrack_nl_notify(MEMTRACK_CMD_UNINSTALL_NTF, current,
					   ref->buf, &ev, reason, NULL,
					   GFP_KERNEL);
		memtrack_mm_ref_free(ref);
	}
	memtrack_changed();
}

/**
 * __memtrack_mm_release() - free the accounting of a torn-down mm
 * @mm: the address space; exit_mmap() has closed all its VMAs
 *
 * A reference can be left over only by a mapping whose close never
 * reached memtrack: an importer that failed after dma_buf_mmap(), or
 * replaced the VMA's operations after it.  It is dropped here.
 *
 * Context: Process context.  No task can reach @mm any more.
 */
void __memtrack_mm_release(struct mm_struct *mm)
{
	struct memtrack_mm *mm_mt = memtrack_mm_state(mm);
	struct memtrack_ref *ref, *next;

	if (!RB_EMPTY_ROOT(&mm_mt->refs))
		pr_warn_once("a mapping was not unmapped through the operations dma_buf_mmap() installed\n");
	rbtree_postorder_for_each_entry_safe(ref, next, &mm_mt->refs, node) {
		if (!memtrack_ref_unpair(ref) &&
		    mm_mt->state == MEMTRACK_MM_OWNED)
			atomic_dec(&ref->buf->nr_holders);
		memtrack_mm_ref_free(ref);
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
	memtrack_vm_ops_cachep = KMEM_CACHE(memtrack_vm_ops, SLAB_PANIC);
	memtrack_ref_pool = mempool_create_slab_pool(MEMTRACK_REF_RESERVE,
						     memtrack_ref_cachep);
	memtrack_files_pool = mempool_create_slab_pool(MEMTRACK_FILES_RESERVE,
						       memtrack_files_cachep);
	if (!memtrack_ref_pool || !memtrack_files_pool) {
		pr_err("cannot allocate the reserves, memtrack is off\n");
		mempool_destroy(memtrack_ref_pool);
		mempool_destroy(memtrack_files_pool);
		return -ENOMEM;
	}
	static_branch_enable(&memtrack_enabled_key);
	return 0;
}

/* Before any exporter (dma-buf heaps, udmabuf) can create a buffer. */
early_initcall(memtrack_init);
