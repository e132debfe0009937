/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrack: per-process accounting of shared-buffer memory.
 *
 * Allocators of buffers that userspace reaches through file descriptors
 * (dma-buf today) embed a struct memtrack_buffer in their buffer object,
 * register it with memtrack_buffer_init() and mark the buffer's file with
 * memtrack_file_mark().  From then on the fd-table code keeps per-table
 * accounting through the memtrack_fd_*() and memtrack_files_*() hooks,
 * which cost a patched-out static branch when memtrack is off and one
 * f_mode test for every file that is not a tracked buffer.
 *
 * Mapping a buffer also holds it: the allocator's mmap path brackets the
 * exporter's mmap with memtrack_vma_prepare() and memtrack_vma_commit(),
 * which wrap the open and close operations of the buffer's VMAs, so that
 * each address space (struct mm_struct) keeps the bytes it maps of each
 * buffer.  An address space is accounted to the process that owns it.
 *
 * State is keyed on the descriptor table (struct files_struct) and on the
 * address space, never on a task: either may be shared by several
 * processes and replaced at any time, and the accounting follows them.
 */
#ifndef _LINUX_MEMTRACK_H
#define _LINUX_MEMTRACK_H

#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/jump_label.h>
#include <linux/mm_types.h>
#include <linux/rbtree.h>
#include <linux/types.h>

struct memtrack_buffer;
struct memtrack_ref;
struct memtrack_vm_ops;

/**
 * enum memtrack_drop_reason - why a descriptor table dropped a reference
 * @MEMTRACK_DROP_CLOSE: close(), close_range(), dup2() over the fd, or a
 *	failed install being rolled back
 * @MEMTRACK_DROP_EXEC: close-on-exec descriptors closed by execve()
 * @MEMTRACK_DROP_EXIT: the last user of the descriptor table went away
 */
enum memtrack_drop_reason {
	MEMTRACK_DROP_CLOSE,
	MEMTRACK_DROP_EXEC,
	MEMTRACK_DROP_EXIT,
};

/**
 * struct memtrack_buffer_ops - callbacks from memtrack into an allocator
 * @get_name: copy the buffer's current name (an empty string when it has
 *	none) into @buf of @len bytes.  Called in atomic context.
 */
struct memtrack_buffer_ops {
	void (*get_name)(struct memtrack_buffer *mb, char *buf, size_t len);
};

/**
 * struct memtrack_buffer - memtrack's view of one shared buffer
 * @id: stable, system-wide unique 64-bit id (for a dma-buf, the 64-bit
 *	counter its inode number is taken from)
 * @size: size in bytes, invariant over the buffer's lifetime
 * @exporter: name of the allocator that exported the buffer
 * @ops: allocator callbacks
 * @node: link in the global registry, ordered by @id
 * @nr_holders: number of processes that hold the buffer, through their
 *	descriptor table, their address space or both
 * @vm_ops: list of wrappers of the VMA operations the buffer's mappings
 *	were made with, one per distinct set of operations; allocated on
 *	mapping, freed with the buffer
 *
 * Embedded in the allocator's buffer object.  Only @id, @size, @exporter
 * and @ops are set by the allocator, through memtrack_buffer_init().
 */
struct memtrack_buffer {
	u64 id;
	u64 size;
	const char *exporter;
	const struct memtrack_buffer_ops *ops;
	struct rb_node node;
	atomic_t nr_holders;
	struct memtrack_vm_ops *vm_ops;
};

/**
 * struct memtrack_vma_prep - what accounting a new mapping needs
 * @ref: the mapping's reference, allocated before the exporter's mmap
 * @ops: a wrapper of VMA operations, in case the exporter's are new
 *
 * Filled by memtrack_vma_prepare() and consumed by memtrack_vma_commit()
 * or memtrack_vma_abort(), so that nothing can fail once the exporter's
 * mmap has succeeded.
 */
struct memtrack_vma_prep {
	struct memtrack_ref *ref;
	struct memtrack_vm_ops *ops;
};

#ifdef CONFIG_MEMTRACK

DECLARE_STATIC_KEY_FALSE(memtrack_enabled_key);

/**
 * memtrack_enabled - whether memtrack is accounting
 *
 * Return: true unless memtrack was switched off with "memtrack=off".
 */
static __always_inline bool memtrack_enabled(void)
{
	return static_branch_likely(&memtrack_enabled_key);
}

/**
 * memtrack_file_tracked - whether @file is a buffer that memtrack tracks
 * @file: the file being installed into or removed from a descriptor table
 *
 * This is the only cost memtrack adds to descriptor-table operations on
 * files that are not tracked buffers.
 *
 * Return: true if @file was marked with memtrack_file_mark().
 */
static __always_inline bool memtrack_file_tracked(const struct file *file)
{
	return static_branch_unlikely(&memtrack_enabled_key) &&
	       unlikely(file->f_mode & FMODE_MEMTRACK);
}

void memtrack_buffer_init(struct memtrack_buffer *mb, u64 id, u64 size,
			  const char *exporter,
			  const struct memtrack_buffer_ops *ops);
void memtrack_buffer_remove(struct memtrack_buffer *mb);
void memtrack_file_mark(struct file *file, struct memtrack_buffer *mb);

void __memtrack_fd_install(struct files_struct *files, struct file *file);
void __memtrack_fd_dup_locked(struct files_struct *files, struct file *file);
void __memtrack_fd_uninstall(struct files_struct *files, struct file *file,
			     enum memtrack_drop_reason reason);
void __memtrack_files_dup(struct files_struct *oldf,
			  struct files_struct *newf);
void __memtrack_files_release(struct files_struct *files);
void __memtrack_files_switch(struct files_struct *oldf,
			     struct files_struct *newf);
void __memtrack_fork(struct task_struct *child, u64 clone_flags);
int __memtrack_vma_prepare(struct memtrack_buffer *mb,
			   struct vm_area_struct *vma,
			   struct memtrack_vma_prep *prep);
void __memtrack_vma_commit(struct memtrack_buffer *mb,
			   struct vm_area_struct *vma,
			   struct memtrack_vma_prep *prep);
void __memtrack_vma_abort(struct memtrack_vma_prep *prep);
void __memtrack_mm_leave(struct mm_struct *mm);
void __memtrack_mm_release(struct mm_struct *mm);

/*
 * The wrappers below are what fs/file.c calls.  They are always inlined
 * (a -Os build would otherwise call them) so that other files pay a
 * patched-out jump and, with memtrack on, one f_mode test.
 */
static __always_inline void memtrack_fd_install(struct files_struct *files,
						struct file *file)
{
	if (memtrack_file_tracked(file))
		__memtrack_fd_install(files, file);
}

static __always_inline void memtrack_fd_dup_locked(struct files_struct *files,
						   struct file *file)
{
	if (memtrack_file_tracked(file))
		__memtrack_fd_dup_locked(files, file);
}

static __always_inline void memtrack_fd_uninstall(struct files_struct *files,
						  struct file *file,
						  enum memtrack_drop_reason reason)
{
	if (memtrack_file_tracked(file))
		__memtrack_fd_uninstall(files, file, reason);
}

static __always_inline void memtrack_files_dup(struct files_struct *oldf,
					       struct files_struct *newf)
{
	if (!static_branch_unlikely(&memtrack_enabled_key))
		return;
	/*
	 * A table that never held a buffer cannot have passed one on.  One
	 * that lost a reference is recounted, which makes the copy exact.
	 *
	 * fd_install() publishes the table's state before the fd (see
	 * __memtrack_fd_install()), but dup_fd() read the fds without
	 * ordering against this load: order it, so that a tracked file in
	 * the copy implies that the state is seen.  Pairs with the
	 * cmpxchg_release() that publishes files->memtrack and the release
	 * in rcu_assign_pointer() that publishes the fd.
	 */
	smp_rmb();
	if (READ_ONCE(oldf->memtrack) || READ_ONCE(oldf->memtrack_incomplete))
		__memtrack_files_dup(oldf, newf);
}

static __always_inline void memtrack_files_release(struct files_struct *files)
{
	if (static_branch_unlikely(&memtrack_enabled_key) && files->memtrack)
		__memtrack_files_release(files);
}

/**
 * memtrack_files_switch() - a task has replaced its descriptor table
 * @oldf: the table it used, still referenced by the caller
 * @newf: its copy, now the task's table
 *
 * Called by unshare(CLONE_FILES), close_range(CLOSE_RANGE_UNSHARE) and
 * execve() after current->files was switched from @oldf to @newf, before
 * @oldf is put.  A copy counts for nobody until this point, so that a
 * copy that is never used changes no figure and sends no event.
 */
static __always_inline void memtrack_files_switch(struct files_struct *oldf,
						  struct files_struct *newf)
{
	if (static_branch_unlikely(&memtrack_enabled_key) &&
	    (oldf->memtrack || newf->memtrack))
		__memtrack_files_switch(oldf, newf);
}

/**
 * memtrack_fork() - account the copies a successful fork made
 * @child: the new task, fully set up but not yet running
 * @clone_flags: its clone flags
 *
 * Called once copy_process() can no longer fail: the child's copied
 * table and address space count from here on, and a new process that
 * holds buffers is reported.  Only tasks whose table or copied address
 * space ever held a buffer go further.
 */
static __always_inline void memtrack_fork(struct task_struct *child,
					  u64 clone_flags)
{
	if (static_branch_unlikely(&memtrack_enabled_key) &&
	    ((child->files && child->files->memtrack) ||
	     (!(clone_flags & CLONE_VM) && child->mm && child->mm->memtrack)))
		__memtrack_fork(child, clone_flags);
}

/**
 * memtrack_vma_prepare() - get ready to account a new mapping of a buffer
 * @mb: the buffer
 * @vma: the VMA being set up, before the exporter's mmap runs
 * @prep: filled with what memtrack_vma_commit() needs
 *
 * Makes every allocation the accounting needs, so that a failure fails
 * the mmap before the exporter has done anything it would have to undo.
 *
 * Return: 0, or -ENOMEM, in which case the mmap must fail.
 */
static __always_inline int memtrack_vma_prepare(struct memtrack_buffer *mb,
						struct vm_area_struct *vma,
						struct memtrack_vma_prep *prep)
{
	prep->ref = NULL;
	prep->ops = NULL;
	if (static_branch_unlikely(&memtrack_enabled_key) &&
	    !RB_EMPTY_NODE(&mb->node))
		return __memtrack_vma_prepare(mb, vma, prep);
	return 0;
}

/**
 * memtrack_vma_commit() - account a mapping the exporter has set up
 * @mb: the buffer
 * @vma: the VMA, after the exporter's mmap succeeded
 * @prep: what memtrack_vma_prepare() allocated; consumed
 *
 * Cannot fail.  From then on the VMA's copies (fork, split, mremap) and
 * its unmapping are accounted through its open and close operations.
 */
static __always_inline void memtrack_vma_commit(struct memtrack_buffer *mb,
						struct vm_area_struct *vma,
						struct memtrack_vma_prep *prep)
{
	if (prep->ref)
		__memtrack_vma_commit(mb, vma, prep);
}

/**
 * memtrack_vma_abort() - drop what memtrack_vma_prepare() allocated
 * @prep: the preparation of a mapping whose exporter's mmap failed
 */
static __always_inline void memtrack_vma_abort(struct memtrack_vma_prep *prep)
{
	if (prep->ref)
		__memtrack_vma_abort(prep);
}

/**
 * memtrack_mm_init() - start an address space without memtrack state
 * @mm: a new address space, possibly a byte copy of another one
 */
static inline void memtrack_mm_init(struct mm_struct *mm)
{
	mm->memtrack = NULL;
	mm->memtrack_incomplete = false;
}

/**
 * memtrack_mm_leave() - a task stopped using an address space
 * @mm: the address space it used until now
 *
 * Called by exit_mm() and exec_mmap().  When the process that owns @mm
 * leaves it for good, it stops holding what @mm maps, even if another
 * process sharing @mm (CLONE_VM) or a reader keeps @mm alive.
 */
static __always_inline void memtrack_mm_leave(struct mm_struct *mm)
{
	if (static_branch_unlikely(&memtrack_enabled_key) && mm->memtrack)
		__memtrack_mm_leave(mm);
}

/**
 * memtrack_mm_release() - free the state of a torn-down address space
 * @mm: the address space, whose VMAs are all gone
 */
static __always_inline void memtrack_mm_release(struct mm_struct *mm)
{
	if (static_branch_unlikely(&memtrack_enabled_key) && mm->memtrack)
		__memtrack_mm_release(mm);
}

#else /* !CONFIG_MEMTRACK */

static inline bool memtrack_enabled(void)
{
	return false;
}

static inline bool memtrack_file_tracked(const struct file *file)
{
	return false;
}

static inline void memtrack_buffer_init(struct memtrack_buffer *mb, u64 id,
					u64 size, const char *exporter,
					const struct memtrack_buffer_ops *ops)
{
}

static inline void memtrack_buffer_remove(struct memtrack_buffer *mb)
{
}

static inline void memtrack_file_mark(struct file *file,
				      struct memtrack_buffer *mb)
{
}

static __always_inline void memtrack_fd_install(struct files_struct *files,
						struct file *file)
{
}

static __always_inline void memtrack_fd_dup_locked(struct files_struct *files,
						   struct file *file)
{
}

static __always_inline void memtrack_fd_uninstall(struct files_struct *files,
						  struct file *file,
						  enum memtrack_drop_reason reason)
{
}

static __always_inline void memtrack_files_dup(struct files_struct *oldf,
					       struct files_struct *newf)
{
}

static __always_inline void memtrack_files_release(struct files_struct *files)
{
}

static __always_inline void memtrack_fork(struct task_struct *child,
					  u64 clone_flags)
{
}

static __always_inline int memtrack_vma_prepare(struct memtrack_buffer *mb,
						struct vm_area_struct *vma,
						struct memtrack_vma_prep *prep)
{
	return 0;
}

static __always_inline void memtrack_vma_commit(struct memtrack_buffer *mb,
						struct vm_area_struct *vma,
						struct memtrack_vma_prep *prep)
{
}

static __always_inline void memtrack_vma_abort(struct memtrack_vma_prep *prep)
{
}

static __always_inline void memtrack_files_switch(struct files_struct *oldf,
						  struct files_struct *newf)
{
}

static __always_inline void memtrack_mm_leave(struct mm_struct *mm)
{
}

static inline void memtrack_mm_init(struct mm_struct *mm)
{
}

static __always_inline void memtrack_mm_release(struct mm_struct *mm)
{
}

#endif /* CONFIG_MEMTRACK */

#endif /* _LINUX_MEMTRACK_H */
