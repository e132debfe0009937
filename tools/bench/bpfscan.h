/* SPDX-License-Identifier: GPL-2.0-only */
/* The BPF iterator baseline of mtbench (bpfscan.c). */
#ifndef MTBENCH_BPFSCAN_H
#define MTBENCH_BPFSCAN_H

#include <stdbool.h>
#include <stdio.h>

struct bpfscan;

struct bpfscan_result {
	long procs;	/* processes holding a dma-buf */
	long fds;	/* dma-buf fds */
	long mappings;	/* dma-buf mappings (mapped scans) */
	long pairs;	/* distinct (process, buffer) pairs */
};

/* Load the iterators of the object at @path and attach them: -errno. */
int bpfscan_open(struct bpfscan **s, const char *path);
/* Open iterators pinned in bpffs directory @dir, as an installed tool. */
int bpfscan_open_pinned(struct bpfscan **s, const char *dir);
/* Pin (or with !@pin, unpin) the iterators in bpffs directory @dir. */
int bpfscan_pin(struct bpfscan *s, const char *dir, bool pin);
void bpfscan_close(struct bpfscan *s);

/* The iterators' output read and not summed: its bytes, or -errno. */
long bpfscan_read(struct bpfscan *s, bool mapped);

/*
 * One scan of every process, summed per process; with @out, one "pid
 * buffers bytes" line each.  The fds alone are summed in the kernel (one
 * record per process; -ERANGE if its table of inodes overflowed); with
 * @mapped, the fds and the mappings come as one record each and are
 * summed here.
 */
int bpfscan_run(struct bpfscan *s, bool mapped, struct bpfscan_result *res,
		FILE *out);

#endif
