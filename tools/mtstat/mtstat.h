/* SPDX-License-Identifier: GPL-2.0-only */
/* mtstat: shared-buffer memory per process.  Shared declarations. */
#ifndef MTSTAT_H
#define MTSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes, documented in mtstat(1). */
enum {
	MTSTAT_OK = 0,
	MTSTAT_EUSAGE = 1,	/* bad command line */
	MTSTAT_ENOPID = 2,	/* an asked-for pid is not found or not visible */
	MTSTAT_EPERM = 3,	/* permission denied */
	MTSTAT_EUNAVAIL = 4,	/* no usable source (no memtrack, no procfs) */
	MTSTAT_EFAIL = 5,	/* any other failure */
};

struct mt_buf {
	uint64_t id;
	uint64_t size;
	char exporter[64];
	char name[64];
	uint32_t fds;		/* in a process: its fds on the buffer */
	uint32_t handles;	/* in a process: its DRM files with a handle to it */
	uint32_t procs;		/* processes holding it, in this snapshot */
	uint64_t mapped;	/* in a process: bytes of it the process maps */
	int64_t kholders;	/* processes holding it, from the kernel; -1 unknown */
	/*
	 * procfs, a buffer only mapped, without /sys/kernel/dmabuf: @size is
	 * a lower bound (the furthest byte a mapping reaches) and the
	 * exporter is unknown.
	 */
	bool size_unknown;
	bool exporter_unknown;
};

struct mt_proc {
	uint32_t pid;
	uid_t uid;
	char comm[32];
	uint32_t nbufs;
	uint32_t nfds;
	uint64_t total;
	uint64_t pss;		/* sum of size / holding processes */
	uint64_t unique;	/* bytes of buffers only this process holds */
	uint64_t hwm;		/* high-water mark of total (netlink only) */
	uint64_t mapped;	/* bytes of its buffers it maps */
	bool incomplete;
	size_t n;
	struct mt_buf *bufs;
};

struct mt_snapshot {
	const char *source;	/* "netlink" or "procfs" */
	/* The kernel computed pss, unique, holders and applied the name and
	 * exporter filters (netlink); otherwise mtstat derives them.
	 */
	bool kernel_figures;
	struct mt_proc *procs;
	size_t nprocs;
	size_t procs_cap;	/* entries allocated in procs */
	bool has_system;	/* the system-wide buffer list is known */
	/*
	 * The processes were read without their buffers: what they hold
	 * together is the buffer list's buffers with holders.
	 */
	bool held_from_system;
	struct mt_buf *sys;	/* every registered buffer */
	size_t nsys;
	size_t sys_cap;		/* entries allocated in sys */
	uint64_t generation;
	unsigned int family_version;
};

struct mt_filter {
	const char *name;
	const char *exporter;
	bool has_uid;
	uid_t uid;
	const uint32_t *pids;	/* only these pids (NULL: all) */
	size_t npids;
};

/* What a netlink snapshot reads: only what the view shows. */
enum {
	MT_WANT_PROCS = 1,	/* the processes (only @f's pids, if it has any) */
	MT_WANT_SYSTEM = 2,	/* the system-wide buffer list */
	/*
	 * The processes' figures suffice, not their buffers: the summary's
	 * held figures may then come from the buffer list, when the caller
	 * may read it and sees every process.
	 */
	MT_WANT_FIGURES = 4,
};

/* Sources fill @s and return 0 or an MTSTAT_E* code, with @err set. */
int mt_source_netlink(struct mt_snapshot *s, const struct mt_filter *f,
		      unsigned int want, char *err, size_t errlen);
int mt_source_procfs(struct mt_snapshot *s, const struct mt_filter *f,
		     char *err, size_t errlen);
/* 1 if the kernel has the memtrack family, 0 if not. */
int mt_netlink_available(void);
/*
 * Whether @pid is a live process of the caller's pid namespace, from
 * /proc: 0, or MTSTAT_ENOPID (no such process, a zombie, a thread id) or
 * another MTSTAT_E* code, with @err saying why.
 */
int mt_pid_check(uint32_t pid, char *err, size_t errlen);
/*
 * After mt_snapshot_finish(): every pid of @f must be in @s.  One that
 * is missing because it holds nothing (that matches) is added with zero
 * figures; one that is not a live process is an error.  Returns 0 or an
 * MTSTAT_E* code with @err set.
 */
int mt_snapshot_check_pids(struct mt_snapshot *s, const struct mt_filter *f,
			   char *err, size_t errlen);

void mt_snapshot_finish(struct mt_snapshot *s, const struct mt_filter *f);
void mt_snapshot_free(struct mt_snapshot *s);
uid_t mt_proc_uid(uint32_t pid);

/* The three snapshot views. */
enum mt_view {
	MT_VIEW_PROCESSES,	/* every process (default) */
	MT_VIEW_PIDS,		/* -p: the buffers of these processes */
	MT_VIEW_BUFFERS,	/* -b: every buffer in the system */
};

#define MT_MAX_COLS 16

struct mt_output {
	bool json;
	bool pretty;		/* --pretty: indented JSON */
	bool bytes;
	const char *sort;	/* -s FIELD, "-FIELD" reversed */
	bool reverse;		/* -r */
	bool no_headers;	/* --no-headers: rows only */
	size_t top;		/* -n: at most this many rows; 0: all */
	int cols[MT_MAX_COLS];	/* -o: text columns, as indexes; none: all */
	size_t ncols;
	bool by_name;
	bool by_exporter;
	int rcvbuf;		/* --watch receive buffer in bytes */
};


/* -o LIST for view @v into @o; 0, or -1 with @err saying why. */
int mt_columns_parse(const char *list, enum mt_view v, struct mt_output *o,
		     char *err, size_t errlen);

/* The snapshot views: 0, or -1 out of memory (before any output where
 * it can be). */
int mt_print_processes(FILE *out, const struct mt_snapshot *s,
		       const struct mt_output *o);
int mt_print_pids(FILE *out, const struct mt_snapshot *s,
		  const struct mt_output *o);
int mt_print_buffers(FILE *out, const struct mt_snapshot *s,
		     const struct mt_output *o);

/* Processes grouped by their owner, with a total row. */
enum mt_owner {
	MT_BY_USER,	/* --by-user, as smem -u */
	MT_BY_CGROUP,	/* --by-cgroup: containers, systemd services */
};
/* 0, or -1 out of memory. */
int mt_print_owners(FILE *out, const struct mt_snapshot *s,
		    const struct mt_output *o, enum mt_owner by);
/* The Prometheus text exposition format, for node_exporter's textfile
 * collector; 0, or -1 out of memory. */
int mt_print_prometheus(FILE *out, const struct mt_snapshot *s,
			const struct mt_output *o);
/*
 * mtstat -b ID...: each buffer with its holders and attached devices (the
 * netlink source only).  Returns an MTSTAT_* code, with @err set.
 */
int mt_print_buffer_ids(FILE *out, const uint64_t *ids, size_t n,
			const struct mt_output *o, char *err, size_t errlen);
/* The cgroup (v2 path) of @pid into @buf, or "?" when unknown. */
void mt_proc_cgroup(uint32_t pid, char *buf, size_t len);
/*
 * Strings from other processes (comm, buffer names, exporters, cgroup
 * paths) are arbitrary bytes; they go out through these (escape.c).
 *
 * @s as a JSON string: quoted, escaped (controls as \u00XX) and valid
 * UTF-8, each byte that is not part of a well-formed sequence as \ufffd.
 */
void mt_json_str(FILE *out, const char *s);
/* @s as a Prometheus label value, without the quotes: \\, \" and \n
 * escaped, each invalid UTF-8 byte as U+FFFD. */
void mt_prom_str(FILE *out, const char *s);
/*
 * @s as valid UTF-8, each invalid byte as U+FFFD, into @buf of @len bytes
 * (3 * strlen(@s) + 1 always suffice; cut short between characters
 * otherwise): what a JSON or Prometheus reader gets for @s, so that keys
 * that must be distinct there are compared in this form.  Returns @buf.
 */
char *mt_utf8_repair(const char *s, char *buf, size_t len);
/*
 * @s for a terminal, into @buf of @len bytes (truncated to fit): each
 * control character (C0, DEL, C1) and each invalid UTF-8 byte as '?', as
 * ps(1) does; valid multibyte characters kept.  Returns @buf.
 */
char *mt_text_safe(const char *s, char *buf, size_t len);
/* IEC (or raw with @bytes) rendering of a size; returns @buf. */
const char *mt_size_str(uint64_t v, bool bytes, char *buf, size_t len);
/* The live event stream until *@stop; returns an MTSTAT_* code. */
#include <signal.h>
int mt_watch(const struct mt_output *o, const struct mt_filter *f,
	     volatile sig_atomic_t *stop);

/* Returns false for an unknown sort field of view @v ("-FIELD" allowed). */
bool mt_sort_field_valid(const char *field, enum mt_view v);

#endif /* MTSTAT_H */
