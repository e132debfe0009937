/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /dev/memtrack_test (CONFIG_MEMTRACK_TEST_EXPORTER): a dma-buf exporter
 * and importer for memtrack's selftests, which include this file from
 * the source tree (as the HMM selftests include lib/test_hmm_uapi.h).
 * Not a uAPI: it changes with the tests.
 */
#ifndef _MEMTRACK_TEST_UAPI_H
#define _MEMTRACK_TEST_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Flags of struct memtrack_test_create.
 * MEMTRACK_TEST_NO_VM_OPS: the exporter's mmap leaves vma->vm_ops as it
 *   found it.  Without it the exporter sets VMA operations that hold a
 *   reference on the buffer per VMA ("mmap refs").
 * MEMTRACK_TEST_SET_FILE: the exporter's mmap replaces vma->vm_file with
 *   a private file of the buffer (vma_set_file()).
 * MEMTRACK_TEST_EXPANDABLE: the exporter's mmap does not set
 *   VM_DONTEXPAND, so that mremap() can grow its mappings.
 * MEMTRACK_TEST_MKWRITE: the exporter's VMA operations have page_mkwrite
 *   (which refuses writes), as well as open and close.
 */
#define MEMTRACK_TEST_NO_VM_OPS		0x1
#define MEMTRACK_TEST_SET_FILE		0x2
#define MEMTRACK_TEST_EXPANDABLE	0x4
#define MEMTRACK_TEST_MKWRITE		0x8

/*
 * Export a buffer of @size bytes (rounded up to pages, at most 64 MiB);
 * @fd receives a dma-buf fd opened O_RDWR | O_CLOEXEC.
 */
struct memtrack_test_create {
	__u64 size;
	__u32 flags;
	__s32 fd;
};

/*
 * What the next mmap() of the /dev/memtrack_test file does after it set
 * its own VMA operations and called dma_buf_mmap() on the imported buffer.
 * PLAIN: returns dma_buf_mmap()'s result.
 * FAIL_AFTER: fails with EIO if dma_buf_mmap() succeeded.
 * OVERWRITE_OPS: sets its own VMA operations again, then succeeds.
 */
enum memtrack_test_import_mode {
	MEMTRACK_TEST_IMPORT_PLAIN,
	MEMTRACK_TEST_IMPORT_FAIL_AFTER,
	MEMTRACK_TEST_IMPORT_OVERWRITE_OPS,
};

/* The dma-buf of @fd is mapped by the next mmap() of this file. */
struct memtrack_test_import {
	__s32 fd;
	__u32 mode;
};

/*
 * Attach the dma-buf of @fd to the memtrack_test device, as an importer
 * that may use it for DMA does, until this /dev/memtrack_test file is
 * released.  The attachment keeps the buffer alive.  At most 16 per file.
 */
struct memtrack_test_attach {
	__s32 fd;
	__u32 reserved;		/* must be 0 */
};

/*
 * Global counters: buffers exported and not yet freed, references held
 * by VMAs on buffers, and calls of the exporter's mmap operation.
 */
struct memtrack_test_stats {
	__u64 live_buffers;
	__u64 mmap_refs;
	__u64 exporter_mmap_calls;
};

#define MEMTRACK_TEST_IOC_MAGIC		0xB9
#define MEMTRACK_TEST_IOC_CREATE	_IOWR(MEMTRACK_TEST_IOC_MAGIC, 0, \
					      struct memtrack_test_create)
#define MEMTRACK_TEST_IOC_IMPORT	_IOWR(MEMTRACK_TEST_IOC_MAGIC, 1, \
					      struct memtrack_test_import)
#define MEMTRACK_TEST_IOC_STATS		_IOWR(MEMTRACK_TEST_IOC_MAGIC, 2, \
					      struct memtrack_test_stats)
#define MEMTRACK_TEST_IOC_ATTACH	_IOW(MEMTRACK_TEST_IOC_MAGIC, 3, \
					     struct memtrack_test_attach)

#endif /* _MEMTRACK_TEST_UAPI_H */
