// SPDX-License-Identifier: GPL-2.0
/*
 * The read benchmarks' anchor on stock kernels: BPF iterators (Linux 5.8+
 * for task_file, 5.12+ for task_vma) that walk every task's descriptor
 * table and address space in the kernel and emit one fixed-size record
 * per dma-buf fd or mapping, so that one read() lists what procfs needs
 * thousands of syscalls for.  This is the fastest thing a user can run
 * today without memtrack; tools/bench/mtbench.c loads and reads it.
 *
 * No vmlinux.h: the few kernel types used are declared here with
 * preserve_access_index, and libbpf relocates the field offsets against
 * the running kernel's BTF (CO-RE), so the object builds without a kernel
 * tree and loads on any kernel with BTF.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define DMA_BUF_MAGIC 0x444d4142	/* include/uapi/linux/magic.h */

struct super_block {
	unsigned long s_magic;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	void *private_data;
} __attribute__((preserve_access_index));

struct dma_buf {
	__kernel_size_t size;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

struct vm_area_struct {
	struct file *vm_file;
} __attribute__((preserve_access_index));

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
} __attribute__((preserve_access_index));

/* The iterators' contexts, as kernel/bpf/task_iter.c defines them. */
struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __attribute__((preserve_access_index));

struct bpf_iter__task_vma {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	struct vm_area_struct *vma;
} __attribute__((preserve_access_index));

/* Must match struct dmabuf_iter_rec in mtbench.c. */
struct dmabuf_iter_rec {
	__u32 tgid;
	__u32 mapped;	/* 0: an fd, 1: a mapping */
	__u64 ino;	/* the buffer's identity, as in fdinfo */
	__u64 size;
};

static __always_inline int emit(struct seq_file *seq, struct task_struct *task,
				struct file *file, __u32 mapped)
{
	struct dmabuf_iter_rec rec;
	struct inode *inode = file->f_inode;

	if (!inode || inode->i_sb->s_magic != DMA_BUF_MAGIC)
		return 0;
	rec.tgid = task->tgid;
	rec.mapped = mapped;
	rec.ino = inode->i_ino;
	rec.size = BPF_CORE_READ((struct dma_buf *)file->private_data, size);
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

/*
 * The same walk summed in the kernel, as a tool that only wants each
 * process's totals would do it: one record per process (its tasks come
 * one after another), its buffers told apart by inode in an array used as
 * an open-addressing table, whose entries are stale once the generation
 * moves on.  Exact for processes whose threads share one table (the
 * iterator visits a table once per process then); a process whose
 * threads have tables of their own is reported once per table.
 */
#define SEEN_SLOTS	(1 << 16)
#define SEEN_PROBES	16

struct seen {
	__u64 ino;
	__u64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SEEN_SLOTS);
	__type(key, __u32);
	__type(value, struct seen);
} seen SEC(".maps");

/* Must match struct dmabuf_proc_rec in bpfscan.c. */
struct dmabuf_proc_rec {
	__u32 tgid;
	__u32 nr_buffers;	/* distinct */
	__u64 nr_fds;
	__u64 bytes;		/* of the distinct buffers */
};

static struct dmabuf_proc_rec cur;
static __u64 gen, session;

/* Emit the process summed so far; on overflow, the iterator shows the
 * same object again with an empty buffer, and this runs again. */
static __always_inline int flush(struct seq_file *seq)
{
	if (cur.nr_fds && bpf_seq_write(seq, &cur, sizeof(cur)))
		return -1;
	cur.nr_fds = 0;
	cur.nr_buffers = 0;
	cur.bytes = 0;
	gen++;
	return 0;
}

SEC("iter/task_file")
int dmabuf_procs(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct inode *inode;
	__u32 key, i;
	__u64 ino;

	if (ctx->meta->session_id != session) {
		session = ctx->meta->session_id;
		cur.nr_fds = 0;
		cur.tgid = 0;
		flush(seq);
	}
	if (!task || !file) {
		flush(seq);	/* the end of the walk */
		return 0;
	}
	if ((__u32)task->tgid != cur.tgid) {
		if (flush(seq))
			return 0;
		cur.tgid = task->tgid;
	}
	inode = file->f_inode;
	if (!inode || inode->i_sb->s_magic != DMA_BUF_MAGIC)
		return 0;
	cur.nr_fds++;
	ino = inode->i_ino;
	key = (__u32)(ino * 0x9e3779b97f4a7c15ull >> 40) & (SEEN_SLOTS - 1);
	for (i = 0; i < SEEN_PROBES; i++) {
		struct seen *s = bpf_map_lookup_elem(&seen, &key);

		if (!s)
			return 0;
		if (s->gen == gen && s->ino == ino)
			return 0;	/* another fd on a buffer counted */
		if (s->gen != gen) {
			s->gen = gen;
			s->ino = ino;
			break;
		}
		key = (key + 1) & (SEEN_SLOTS - 1);
	}
	/* SEEN_PROBES taken: counted again, which the reader is told. */
	if (i == SEEN_PROBES)
		cur.nr_fds |= 1ull << 63;
	cur.nr_buffers++;
	cur.bytes += BPF_CORE_READ((struct dma_buf *)file->private_data, size);
	return 0;
}

SEC("iter/task_file")
int dmabuf_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	if (!task || !file)
		return 0;
	return emit(ctx->meta->seq, task, file, 0);
}

SEC("iter/task_vma")
int dmabuf_vmas(struct bpf_iter__task_vma *ctx)
{
	struct task_struct *task = ctx->task;
	struct vm_area_struct *vma = ctx->vma;
	struct file *file;

	if (!task || !vma)
		return 0;
	file = vma->vm_file;
	if (!file)
		return 0;
	return emit(ctx->meta->seq, task, file, 1);
}

char LICENSE[] SEC("license") = "GPL";
