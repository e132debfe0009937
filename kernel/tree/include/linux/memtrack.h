/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrack: per-process accounting of shared-buffer memory.
 *
 * The interface for allocators of buffers that userspace reaches through
 * file descriptors (dma-buf today).  An allocator embeds a struct
 * memtrack_buffer in its buffer object and registers it with
 * memtrack_buffer_init() before the buffer's file can reach a descriptor
 * table; its files' operations set FOP_MEMTRACK, and it registers the
 * kind of file once with memtrack_register_file_type(), so that memtrack
 * can go from a file to its buffer.  From then on the descriptor-table,
 * fork and address-space hooks (linux/memtrack_hooks.h) account which
 * processes hold the buffer.  Mapping a buffer also holds it: the
 * allocator's mmap path brackets the exporter's mmap with
 * memtrack_vma_prepare() and memtrack_vma_commit().
 *
 * State is keyed on the descriptor table (struct files_struct) and on the
 * address space, never on a task: either may be shared by several
 * processes and replaced at any time, and the accounting follows them.
 *
 * This header is kept small, since every user of the allocator's header
 * includes it.
 */
#ifndef _LINUX_MEMTRACK_H
#define _LINUX_MEMTRACK_H

#include <linux/atomic.h>
#include <linux/jump_label.h>
#include <linux/rbtree_types.h>
#include <linux/types.h>

struct file;
struct memtrack_buffer;
struct memtrack_ref;
struct memtrack_vm_ops;
struct vm_area_struct;

/**
 * struct memtrack_buffer_ops - callbacks from memtrack into an allocator
 * @get_name: copy the buffer's current name (an empty string when it has
 *	none) into @buf of @len bytes.  Called in atomic context.
 * @get: take a reference that keeps the buffer alive, for an address
 *	space's record of it.  Called in atomic context.
 * @put: drop a reference taken with @get.  Called in process context
 *	with no memtrack lock held; may free the buffer.
 */
struct memtrack_buffer_ops {
	void (*get_name)(struct memtrack_buffer *mb, char *buf, size_t len);
	void (*get)(struct memtrack_buffer *mb);
	void (*put)(struct memtrack_buffer *mb);
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

/**
 * struct memtrack_file_type - a kind of file through which userspace
 * reaches buffers
 * @fops: the file operations of such files; they set FOP_MEMTRACK
 * @buffer: the buffer that a file of this kind refers to
 */
struct memtrack_file_type {
	const struct file_operations *fops;
	struct memtrack_buffer *(*buffer)(struct file *file);
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

void memtrack_buffer_init(struct memtrack_buffer *mb, u64 id, u64 size,
			  const char *exporter,
			  const struct memtrack_buffer_ops *ops);
void memtrack_buffer_remove(struct memtrack_buffer *mb);
int memtrack_register_file_type(const struct memtrack_file_type *type);
int __memtrack_vma_prepare(struct memtrack_buffer *mb,
			   struct vm_area_struct *vma,
			   struct memtrack_vma_prep *prep);
void __memtrack_vma_commit(struct memtrack_buffer *mb,
			   struct vm_area_struct *vma,
			   struct memtrack_vma_prep *prep);
void __memtrack_vma_abort(struct memtrack_vma_prep *prep);

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

#else /* !CONFIG_MEMTRACK */

static inline bool memtrack_enabled(void)
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

static inline int
memtrack_register_file_type(const struct memtrack_file_type *type)
{
	return 0;
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

#endif /* CONFIG_MEMTRACK */

#endif /* _LINUX_MEMTRACK_H */
