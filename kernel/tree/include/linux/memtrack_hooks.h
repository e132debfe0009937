/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrack's hooks in the descriptor-table, fork, exit, exec and mmap
 * paths.  Only the core kernel files that own those paths include this.
 */
#ifndef _LINUX_MEMTRACK_HOOKS_H
#define _LINUX_MEMTRACK_HOOKS_H

#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/memtrack.h>
#include <linux/mm_types.h>
#include <linux/sched.h>

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

#ifdef CONFIG_MEMTRACK

/**
 * memtrack_file_tracked - whether @file is a buffer that memtrack tracks
 * @file: the file being installed into or removed from a descriptor table
 *
 * This is the only cost memtrack adds to descriptor-table operations on
 * files that are not tracked buffers: a patched-out jump, and with
 * memtrack on, a test of a flag of the file's operations.
 *
 * Return: true if @file's operations set FOP_MEMTRACK.
 */
static __always_inline bool memtrack_file_tracked(const struct file *file)
{
	return static_branch_unlikely(&memtrack_enabled_key) &&
	       unlikely(file->f_op->fop_flags & FOP_MEMTRACK);
}

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
void __memtrack_mm_leave(struct mm_struct *mm);
void __memtrack_mm_release(struct mm_struct *mm);

/*
 * The wrappers below are what fs/file.c calls.  They are always inlined
 * (a -Os build would otherwise call them) so that other files pay a
 * patched-out jump and, with memtrack on, one test of fop_flags.
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
	bool files = child->files && child->files->memtrack;

	if (!static_branch_unlikely(&memtrack_enabled_key))
		return;
	/*
	 * A copied table, a copied address space, or a new process to
	 * report.  A thread that shares both (pthread_create()) has none.
	 */
	if ((files && (clone_flags & (CLONE_FILES | CLONE_THREAD)) !=
		      (CLONE_FILES | CLONE_THREAD)) ||
	    (!(clone_flags & CLONE_VM) && child->mm && child->mm->memtrack))
		__memtrack_fork(child, clone_flags);
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

static inline bool memtrack_file_tracked(const struct file *file)
{
	return false;
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

#endif /* _LINUX_MEMTRACK_HOOKS_H */
