/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/memtrack.yaml */
/* YNL-GEN uapi header */

#ifndef _UAPI_LINUX_MEMTRACK_H
#define _UAPI_LINUX_MEMTRACK_H

#define MEMTRACK_FAMILY_NAME	"memtrack"
#define MEMTRACK_FAMILY_VERSION	1

/**
 * enum memtrack_reason - Why a process stopped holding a buffer. Values start
 *   at 1, so that 0 is never a valid reason.
 * @MEMTRACK_REASON_CLOSE: Its last fd on the buffer was closed: close(),
 *   close_range(), dup2() or dup3() over it, io_uring or binder closing it.
 * @MEMTRACK_REASON_EXEC: It called execve(): its last fd on the buffer was
 *   close-on-exec, or it mapped the buffer in the address space it left.
 * @MEMTRACK_REASON_EXIT: The process exited. It stops holding what its address
 *   space maps when its last thread exits, and what its descriptor table holds
 *   when it was the table's last user.
 * @MEMTRACK_REASON_UNMAP: Its last mapping of the buffer was unmapped
 *   (munmap(), or a mapping replaced by MAP_FIXED or mremap()), and no
 *   descriptor of the process refers to the buffer.
 */
enum memtrack_reason {
	MEMTRACK_REASON_CLOSE = 1,
	MEMTRACK_REASON_EXEC,
	MEMTRACK_REASON_EXIT,
	MEMTRACK_REASON_UNMAP,
};

#define MEMTRACK_NAME_LEN	32
#define MEMTRACK_EXPORTER_LEN	64

enum {
	MEMTRACK_A_BUFFER_ID = 1,
	MEMTRACK_A_BUFFER_SIZE,
	MEMTRACK_A_BUFFER_EXPORTER,
	MEMTRACK_A_BUFFER_NAME,
	MEMTRACK_A_BUFFER_HOLDERS,
	MEMTRACK_A_BUFFER_FDS,
	MEMTRACK_A_BUFFER_MAPPED,

	__MEMTRACK_A_BUFFER_MAX,
	MEMTRACK_A_BUFFER_MAX = (__MEMTRACK_A_BUFFER_MAX - 1)
};

enum {
	MEMTRACK_A_PROC_PID = 1,
	MEMTRACK_A_PROC_COMM,
	MEMTRACK_A_PROC_NR_BUFFERS,
	MEMTRACK_A_PROC_NR_FDS,
	MEMTRACK_A_PROC_TOTAL,
	MEMTRACK_A_PROC_GENERATION,
	MEMTRACK_A_PROC_INCOMPLETE,
	MEMTRACK_A_PROC_BUFFER,
	MEMTRACK_A_PROC_PSS,
	MEMTRACK_A_PROC_UNIQUE,
	MEMTRACK_A_PROC_HWM,
	MEMTRACK_A_PROC_FILTER_NAME,
	MEMTRACK_A_PROC_FILTER_EXPORTER,
	MEMTRACK_A_PROC_MAPPED,

	__MEMTRACK_A_PROC_MAX,
	MEMTRACK_A_PROC_MAX = (__MEMTRACK_A_PROC_MAX - 1)
};

enum {
	MEMTRACK_A_STATS_NR_BUFFERS = 1,
	MEMTRACK_A_STATS_TOTAL,
	MEMTRACK_A_STATS_HELD,
	MEMTRACK_A_STATS_KERNEL_ONLY,
	MEMTRACK_A_STATS_HWM,
	MEMTRACK_A_STATS_GENERATION,

	__MEMTRACK_A_STATS_MAX,
	MEMTRACK_A_STATS_MAX = (__MEMTRACK_A_STATS_MAX - 1)
};

enum {
	MEMTRACK_A_EVENT_SEQ = 1,
	MEMTRACK_A_EVENT_PID,
	MEMTRACK_A_EVENT_COMM,
	MEMTRACK_A_EVENT_REASON,
	MEMTRACK_A_EVENT_TOTAL,
	MEMTRACK_A_EVENT_NR_BUFFERS,
	MEMTRACK_A_EVENT_BUFFER,
	MEMTRACK_A_EVENT_PARENT_PID,

	__MEMTRACK_A_EVENT_MAX,
	MEMTRACK_A_EVENT_MAX = (__MEMTRACK_A_EVENT_MAX - 1)
};

enum {
	MEMTRACK_CMD_PROC_GET = 1,
	MEMTRACK_CMD_BUFFER_GET,
	MEMTRACK_CMD_STATS_GET,
	MEMTRACK_CMD_HWM_RESET,
	MEMTRACK_CMD_PROC_BUFFER_ADD_NTF,
	MEMTRACK_CMD_PROC_BUFFER_DEL_NTF,
	MEMTRACK_CMD_PROC_FORK_NTF,

	__MEMTRACK_CMD_MAX,
	MEMTRACK_CMD_MAX = (__MEMTRACK_CMD_MAX - 1)
};

#define MEMTRACK_MCGRP_EVENTS	"events"

#endif /* _UAPI_LINUX_MEMTRACK_H */
