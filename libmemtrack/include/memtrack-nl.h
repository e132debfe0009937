/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemtrack-nl: a client of the Linux "memtrack" generic netlink family,
 * which reports which processes keep how much shared-buffer memory
 * (dma-bufs) alive.
 *
 * Conventions:
 *  - Every object is opaque and reached through accessors.
 *  - Functions that can fail return 0 (or a count) on success and a
 *    negative errno on failure; functions returning a pointer return NULL
 *    with errno set.  After a failure, mtnl_last_error() returns the
 *    kernel's extended-ack message, or a description from the library.
 *  - A handle is one netlink connection.  It is not thread-safe: a thread
 *    owns a handle, and threads that query concurrently open one each.
 *    There is no global state.
 *  - Strings and objects returned by accessors are owned by the object
 *    they were read from and stay valid until that object is freed.
 */
#ifndef MEMTRACK_NL_H
#define MEMTRACK_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MTNL_BUILDING) && defined(__GNUC__)
#define MTNL_API __attribute__((visibility("default")))
#else
#define MTNL_API
#endif

/*
 * Version of the headers compiled against; mtnl_version() gives that of
 * the library loaded at run time.  MAJOR follows the soname, MINOR the
 * newest symbol version node (MEMTRACK_NL_MAJOR.MINOR).
 */
#define MTNL_VERSION_MAJOR 1
#define MTNL_VERSION_MINOR 2
#define MTNL_VERSION_PATCH 0
/* True when the headers are at least version @maj.@min.@patch. */
#define MTNL_VERSION_AT_LEAST(maj, min, patch)				\
	(MTNL_VERSION_MAJOR > (maj) ||					\
	 (MTNL_VERSION_MAJOR == (maj) && (MTNL_VERSION_MINOR > (min) ||	\
	  (MTNL_VERSION_MINOR == (min) && MTNL_VERSION_PATCH >= (patch)))))

/* Version of this library, as a string ("MAJOR.MINOR.PATCH"). */
MTNL_API const char *mtnl_version(void);

/*
 * MTNL_OPTS() - declare an options struct with its size set, and the given
 * fields, e.g.  MTNL_OPTS(mtnl_dump_opts, o, .pid = 42);
 * Options structs grow at their end: the library keeps the defaults of the
 * fields an older caller's struct lacks, and refuses with -E2BIG a newer
 * caller's struct whose fields it does not know are not zero.
 *
 * For maintainers: a new field of an options struct (struct
 * mtnl_dump_opts, struct mtnl_events_opts) is only ever appended after the
 * last member, and never placed in the existing struct's tail padding.  A
 * library checks a caller's bytes only from its own sizeof on, so a field
 * in what was padding would be ignored by an older library rather than
 * refused with -E2BIG; fill such padding with an explicit reserved member
 * (always zero) first, so that the new field lies past the old sizeof.
 */
#define MTNL_OPTS(type, name, ...)					\
	struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

/* Version of the memtrack netlink family this library speaks. */
#define MTNL_FAMILY_VERSION 1

struct mtnl;		/* a connection to the memtrack family */
struct mtnl_proc;	/* the buffers held by one process */
struct mtnl_buffer;	/* one buffer, in a process or in the system list */

/**
 * mtnl_open() - connect to the memtrack family
 * @out: receives the new handle; release it with mtnl_close()
 *
 * Return: 0, or -ENOENT when the running kernel has no memtrack family
 * (not built in, or booted with memtrack=off), -EPROTO when the family
 * speaks an older version than MTNL_FAMILY_VERSION or an older revision
 * of the uAPI (without proc-refs-get), or another -errno from the
 * socket layer.  On failure *@out is NULL.
 */
MTNL_API int mtnl_open(struct mtnl **out);

/**
 * mtnl_strerror() - explanation of a value mtnl_open() or
 *	mtnl_events_open() returned, which leave no handle to ask
 * @err: the negative errno they returned; a positive errno is taken alike
 *
 * Return: a sentence for the values with a memtrack meaning (-ENOENT: the
 * kernel has no memtrack family; -EPROTO: an older uAPI revision; -EPERM:
 * not permitted, with the capabilities events and the system-wide requests
 * need; -E2BIG: an options struct newer than the library), strerror()
 * otherwise.  Static storage for the former, strerror()'s for the latter.
 * Since MEMTRACK_NL_1.2.
 */
MTNL_API const char *mtnl_strerror(int err);

/* mtnl_close() - close a handle and free it; NULL is accepted. */
MTNL_API void mtnl_close(struct mtnl *h);

/**
 * mtnl_last_error() - explanation of the last failure on @h
 * @h: handle, or NULL
 *
 * Return: the kernel's extack message for the last failed request, or a
 * library message, or "" when there is none.  Owned by @h; valid until
 * the next call on @h.
 */
MTNL_API const char *mtnl_last_error(const struct mtnl *h);

/* mtnl_family_version() - version the kernel's family reports. */
MTNL_API uint32_t mtnl_family_version(const struct mtnl *h);

/**
 * mtnl_proc_get() - the buffers held by one process
 * @h: handle
 * @pid: thread-group id in the caller's pid namespace
 * @out: receives the report; release it with mtnl_proc_free()
 *
 * The kernel says whether the process exists and may be read (proc-get),
 * then sends its figures and its buffers together (a proc-refs-get dump
 * of its pid), built under the process's locks; a process with too many
 * buffers for one message that changed while they were sent is read
 * again, a few times.
 *
 * Return: 0; -ESRCH when no such process exists in the caller's pid
 * namespace; -EACCES when the caller may not read it (the rule of
 * /proc/PID/fdinfo: ptrace read access); -ERANGE for pid 0; -EAGAIN when
 * it kept changing while it was read; -errno.
 */
MTNL_API int mtnl_proc_get(struct mtnl *h, uint32_t pid,
			   struct mtnl_proc **out);

/**
 * mtnl_proc_dup() - a copy of a process report that the caller owns
 * @p: a report, for example one passed to an mtnl_proc_cb, which is valid
 *	only during the callback
 *
 * Return: the copy, with its buffers, to free with mtnl_proc_free(); NULL
 * with errno ENOMEM.  Since MEMTRACK_NL_1.2.
 */
MTNL_API struct mtnl_proc *mtnl_proc_dup(const struct mtnl_proc *p);

/* mtnl_proc_free() - free a report from mtnl_proc_get() or mtnl_proc_dup(); NULL is fine. */
MTNL_API void mtnl_proc_free(struct mtnl_proc *p);

/**
 * struct mtnl_dump_opts - options of mtnl_proc_dump()
 * @sz: sizeof(struct mtnl_dump_opts), so that the struct can grow
 * @pid: report only this pid (0: every visible process)
 * @name: only buffers with this name, the dma-buf name (NULL: any),
 *	applied in the kernel; the process figures then cover the matching
 *	buffers, and processes without a match are left out.  Since
 *	MEMTRACK_NL_1.2; the same member as @tag.
 * @tag: the first revision's spelling of @name, kept so that callers
 *	written for 1.0 still build
 * @exporter: only buffers of this exporter (NULL: any), likewise
 *
 * New fields are appended after @exporter, never in tail padding (see
 * MTNL_OPTS()).
 */
struct mtnl_dump_opts {
	size_t sz;
	uint32_t pid;
	/*
	 * An anonymous union is C11: marked as an extension for GNU C
	 * compilers, callers built as C99 with -pedantic-errors compile.
	 */
#ifdef __GNUC__
	__extension__
#endif
	union {
		const char *name;
		const char *tag;
	};
	const char *exporter;
};

/**
 * typedef mtnl_proc_cb - called once per process of a dump
 * @p: the process, with its figures and its buffers; valid only during
 *	the call
 * @arg: the caller's argument
 *
 * Return: 0 to continue, or a non-zero value to stop the dump, which
 * mtnl_proc_dump() then returns.
 */
typedef int (*mtnl_proc_cb)(const struct mtnl_proc *p, void *arg);

/**
 * mtnl_proc_dump() - every visible process that holds buffers
 * @h: handle
 * @opts: options, or NULL for defaults
 * @cb: called for each process, in increasing pid order
 * @arg: passed to @cb
 * @generation: if not NULL, receives the highest accounting generation
 *	seen in the dump; 0 if the kernel reports none, which it does only
 *	to callers that may subscribe to events (CAP_NET_ADMIN and
 *	CAP_SYS_ADMIN)
 *
 * Processes the caller may not read are skipped by the kernel.  One dump
 * (proc-refs-get) gives each process's figures with its buffers, and
 * each buffer's size, exporter and name once; a process whose buffers
 * span several messages and that changed while they were sent (the
 * kernel flags it) is read again on its own before it is passed to @cb.
 * No memory is allocated per buffer: each process's buffers are one
 * array.
 *
 * Return: 0; -EINTR when a process kept changing while it was read (it
 * was passed to @cb as last read; retry for an exact snapshot); the
 * non-zero value @cb returned; or -errno.
 */
MTNL_API int mtnl_proc_dump(struct mtnl *h, const struct mtnl_dump_opts *opts,
			    mtnl_proc_cb cb, void *arg, uint64_t *generation);

/**
 * mtnl_proc_dump_figures() - the figures of every visible process, without
 *	their buffers
 * @h: handle
 * @opts: options, as for mtnl_proc_dump(), or NULL
 * @cb: called for each process that holds buffers (that the filters let
 *	through), in increasing pid order; mtnl_proc_buffer_count() is 0
 * @arg: passed to @cb
 * @generation: if not NULL, receives the highest generation seen, as for
 *	mtnl_proc_dump()
 *
 * One fixed-size message per process (proc-get), built under the
 * process's locks, whatever it holds: for views that show the figures
 * (nr-buffers, total, pss, unique, mapped, hwm) and not the buffers, at a
 * cost that does not grow with the number of buffers a process holds.
 * Each process is passed to @cb as its message arrives.  Since
 * MEMTRACK_NL_1.2.
 *
 * Return: 0; the non-zero value @cb returned; or -errno.
 */
MTNL_API int mtnl_proc_dump_figures(struct mtnl *h,
				    const struct mtnl_dump_opts *opts,
				    mtnl_proc_cb cb, void *arg,
				    uint64_t *generation);

/* Process accessors. */
MTNL_API uint32_t mtnl_proc_pid(const struct mtnl_proc *p);
/* Command name; owned by @p. */
MTNL_API const char *mtnl_proc_comm(const struct mtnl_proc *p);
/* Number of distinct buffers held. */
MTNL_API uint32_t mtnl_proc_nr_buffers(const struct mtnl_proc *p);
/* Number of descriptors that refer to buffers. */
MTNL_API uint32_t mtnl_proc_nr_fds(const struct mtnl_proc *p);
/* Bytes held, each distinct buffer counted once. */
MTNL_API uint64_t mtnl_proc_total(const struct mtnl_proc *p);
/* Proportional share: sum of size / holders over its buffers. */
MTNL_API uint64_t mtnl_proc_pss(const struct mtnl_proc *p);
/* Bytes of its buffers that no other process holds. */
MTNL_API uint64_t mtnl_proc_unique(const struct mtnl_proc *p);
/* Largest total since it started holding buffers or the marks were reset. */
MTNL_API uint64_t mtnl_proc_hwm(const struct mtnl_proc *p);
/*
 * Bytes of its buffers mapped into its address space (a buffer mapped
 * twice counts twice).  Since MEMTRACK_NL_1.1; 0 from kernels that do not
 * account mappings.
 */
MTNL_API uint64_t mtnl_proc_mapped(const struct mtnl_proc *p);
/*
 * Accounting generation the report was built at: the seq of the last event
 * it reflects.  0 for callers that may not subscribe to events, to whom the
 * kernel does not report it.
 */
MTNL_API uint64_t mtnl_proc_generation(const struct mtnl_proc *p);
/* True when the kernel could not track every reference (out of memory). */
MTNL_API bool mtnl_proc_incomplete(const struct mtnl_proc *p);
/* Number of buffer entries, in increasing id order. */
MTNL_API size_t mtnl_proc_buffer_count(const struct mtnl_proc *p);
/* Entry @i (< mtnl_proc_buffer_count()); owned by @p. */
MTNL_API const struct mtnl_buffer *mtnl_proc_buffer(const struct mtnl_proc *p,
						   size_t i);

/**
 * typedef mtnl_buffer_cb - called once per buffer of mtnl_buffer_dump()
 * @b: the buffer, valid only during the call
 * @arg: the caller's argument
 *
 * Return: 0 to continue, non-zero to stop (and be returned).
 */
typedef int (*mtnl_buffer_cb)(const struct mtnl_buffer *b, void *arg);

/**
 * mtnl_buffer_dump() - every registered buffer, in increasing id order
 * @h: handle
 * @cb: called for each buffer
 * @arg: passed to @cb
 *
 * Includes buffers held by no process (holders == 0), kept alive only by
 * the kernel.
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN and CAP_NET_ADMIN; -EINTR as for
 * mtnl_proc_dump(); the value @cb returned; or -errno.
 */
MTNL_API int mtnl_buffer_dump(struct mtnl *h, mtnl_buffer_cb cb, void *arg);

/**
 * mtnl_buffer_get() - one registered buffer by id, with its holders
 * @h: handle
 * @id: the buffer's id (its inode number)
 * @out: receives the buffer; release it with mtnl_buffer_free()
 *
 * The buffer comes with the processes that hold it (see
 * mtnl_buffer_holder()), those of the caller's pid namespace that the
 * caller may read, in increasing pid order, and with the devices attached
 * to it (see mtnl_buffer_importer()), which keep alive a buffer that no
 * process holds.
 *
 * Return: 0; -ENOENT for an unknown id; -EPERM without CAP_SYS_ADMIN and CAP_NET_ADMIN.
 */
MTNL_API int mtnl_buffer_get(struct mtnl *h, uint64_t id,
			     struct mtnl_buffer **out);

/**
 * mtnl_buffer_dup() - a copy of a buffer that the caller owns
 * @b: a buffer, for example one passed to an mtnl_buffer_cb or read from a
 *	process or an event, which lives only as long as its owner
 *
 * Return: the copy, with its holders and importers, to free with
 * mtnl_buffer_free(); NULL with errno ENOMEM.  Since MEMTRACK_NL_1.2.
 */
MTNL_API struct mtnl_buffer *mtnl_buffer_dup(const struct mtnl_buffer *b);

/* mtnl_buffer_free() - free a buffer from mtnl_buffer_get() or mtnl_buffer_dup(). */
MTNL_API void mtnl_buffer_free(struct mtnl_buffer *b);

/* Buffer accessors. */
/* Id: the dma-buf's inode number, as in the "ino:" line of fdinfo. */
MTNL_API uint64_t mtnl_buffer_id(const struct mtnl_buffer *b);
MTNL_API uint64_t mtnl_buffer_size(const struct mtnl_buffer *b);
/* Exporter name; owned by the buffer's owner. */
MTNL_API const char *mtnl_buffer_exporter(const struct mtnl_buffer *b);
/* Name set with DMA_BUF_SET_NAME, or "" when none. */
MTNL_API const char *mtnl_buffer_name(const struct mtnl_buffer *b);
/* Descriptors of the process that refer to it (process entries only). */
MTNL_API uint32_t mtnl_buffer_fds(const struct mtnl_buffer *b);
/*
 * Processes that hold it, through fds or mappings, each once; 0 (system
 * list only) means kernel-only.  -1 when the kernel did not report it.
 */
MTNL_API int64_t mtnl_buffer_holders(const struct mtnl_buffer *b);
/*
 * Bytes of it mapped into the process (process entries only): a process
 * whose fds are all closed still holds a buffer it maps.  Since
 * MEMTRACK_NL_1.1.
 */
MTNL_API uint64_t mtnl_buffer_mapped(const struct mtnl_buffer *b);
/*
 * DRM files of the process that have a handle to it, a GEM object (process
 * entries only): each file once, however many descriptors refer to it.
 * Since MEMTRACK_NL_1.2.
 */
MTNL_API uint32_t mtnl_buffer_handles(const struct mtnl_buffer *b);

struct mtnl_holder;	/* one process that holds a buffer */

/*
 * Holders of a buffer from mtnl_buffer_get(); 0 for buffers from a dump
 * or a process.  Since MEMTRACK_NL_1.2.
 */
MTNL_API size_t mtnl_buffer_holder_count(const struct mtnl_buffer *b);
/* Holder @i (< mtnl_buffer_holder_count()); owned by @b.  Since MEMTRACK_NL_1.2. */
MTNL_API const struct mtnl_holder *mtnl_buffer_holder(const struct mtnl_buffer *b,
						     size_t i);
/*
 * Devices attached to a buffer from mtnl_buffer_get(), one per attachment
 * (dev_name() of the importing device, e.g. "memtrack_test"); 0 for
 * buffers from a dump or a process, and for exporters that do not report
 * them.  Since MEMTRACK_NL_1.2.
 */
MTNL_API size_t mtnl_buffer_importer_count(const struct mtnl_buffer *b);
/*
 * Device name of attachment @i (< mtnl_buffer_importer_count()), owned by
 * @b; NULL with errno ERANGE beyond.  Since MEMTRACK_NL_1.2.
 */
MTNL_API const char *mtnl_buffer_importer(const struct mtnl_buffer *b, size_t i);
/* Holder accessors (since MEMTRACK_NL_1.2): pid in the caller's namespace, */
MTNL_API uint32_t mtnl_holder_pid(const struct mtnl_holder *ho);
/* its command name (owned by the buffer), */
MTNL_API const char *mtnl_holder_comm(const struct mtnl_holder *ho);
/* its descriptors on the buffer (0: held by mapping only), */
MTNL_API uint32_t mtnl_holder_fds(const struct mtnl_holder *ho);
/* and the bytes of the buffer it maps. */
MTNL_API uint64_t mtnl_holder_mapped(const struct mtnl_holder *ho);

/**
 * struct mtnl_stats - system-wide figures, from mtnl_stats_get()
 * @sz: set by the caller to sizeof(struct mtnl_stats)
 * @nr_buffers: registered buffers
 * @total: their bytes
 * @held: bytes of buffers some descriptor table holds
 * @kernel_only: bytes of buffers no descriptor table holds
 * @hwm: largest @total since boot or the last reset
 * @generation: accounting generation the figures were read at; 0 for
 *	callers that may not subscribe to events
 */
struct mtnl_stats {
	size_t sz;
	uint32_t nr_buffers;
	uint64_t total;
	uint64_t held;
	uint64_t kernel_only;
	uint64_t hwm;
	uint64_t generation;
};

/**
 * mtnl_stats_get() - system-wide figures; open to every caller
 * @h: handle
 * @st: filled in; @st->sz must be set
 * Return: 0 or -errno.
 */
MTNL_API int mtnl_stats_get(struct mtnl *h, struct mtnl_stats *st);

/**
 * mtnl_hwm_reset() - restart every high-water mark from the current totals
 * @h: handle
 *
 * Return: 0; -EPERM without CAP_SYS_ADMIN and CAP_NET_ADMIN; -errno.
 */
MTNL_API int mtnl_hwm_reset(struct mtnl *h);

/*
 * Events.  A subscription is its own socket, with no sequence checks, so
 * that a handle's queries never interleave with events.  Subscribing
 * needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
 */
struct mtnl_events;	/* a subscription to the events group */
struct mtnl_event;	/* one event */

/* What an event reports, from mtnl_event_kind(). */
enum mtnl_event_kind {
	MTNL_EVENT_INSTALL = 1,	/* a process started holding a buffer */
	MTNL_EVENT_UNINSTALL,	/* a process stopped holding a buffer */
	MTNL_EVENT_FORK,	/* a process was born holding buffers */
	MTNL_EVENT_LOST,	/* events were lost: resynchronise */
	/*
	 * The process started and stopped holding mtnl_event_nr_added() and
	 * mtnl_event_nr_removed() buffers at once (since MEMTRACK_NL_1.2): a
	 * DRM file entered or left its table, or it exited (once for what
	 * its address space held alone, then once for its table) or called
	 * execve() (once for its close-on-exec fds, then once for its old
	 * address space); mtnl_event_reason() says which.  Which buffers,
	 * a query of the process tells (none, or -ESRCH, after an exit).
	 */
	MTNL_EVENT_BULK,
};

/* Why a process stopped holding a buffer, from mtnl_event_reason(). */
enum mtnl_reason {
	MTNL_REASON_CLOSE = 0,	/* its last fd on the buffer was closed */
	MTNL_REASON_EXEC,	/* execve(): close-on-exec fds, the old mm (BULK) */
	MTNL_REASON_EXIT,	/* it exited (BULK: its mm, then its fd table) */
	MTNL_REASON_UNMAP,	/* its last mapping went, and no fd refers to it */
	/* its last GEM handle to the buffer was closed (since MEMTRACK_NL_1.2) */
	MTNL_REASON_HANDLE_CLOSE,
	MTNL_REASON_UNKNOWN = 255, /* a reason this library does not know */
};

/**
 * struct mtnl_events_opts - options of mtnl_events_open()
 * @sz: sizeof(struct mtnl_events_opts)
 * @rcvbuf: socket receive buffer in bytes (0: the system default); larger
 *	buffers lose fewer events in bursts
 *
 * New fields are appended after @rcvbuf, past the struct's tail padding
 * (see MTNL_OPTS()), never in it.
 */
struct mtnl_events_opts {
	size_t sz;
	int rcvbuf;
};

/**
 * mtnl_events_open() - subscribe to memtrack events
 * @out: receives the subscription; release it with mtnl_events_close()
 * @opts: options, or NULL for defaults
 *
 * Return: 0; -EPERM without CAP_NET_ADMIN and CAP_SYS_ADMIN; -ENOENT
 * without memtrack; -E2BIG for an @opts newer than the library; -errno.
 * mtnl_strerror() explains them.
 */
MTNL_API int mtnl_events_open(struct mtnl_events **out,
			      const struct mtnl_events_opts *opts);

/* mtnl_events_close() - unsubscribe and free; NULL is accepted. */
MTNL_API void mtnl_events_close(struct mtnl_events *e);

/**
 * mtnl_events_fd() - a file descriptor to poll() or epoll for POLLIN
 * @e: subscription
 *
 * Owned by @e; valid until mtnl_events_close().  Read with
 * mtnl_events_read() when it is readable.
 */
MTNL_API int mtnl_events_fd(const struct mtnl_events *e);

/**
 * mtnl_events_read() - the next event
 * @e: subscription
 * @out: receives the event; release it with mtnl_event_free()
 * @timeout_ms: how long to wait: 0 polls, -1 waits forever
 *
 * Loss is never silent: when the socket overflowed (ENOBUFS) or a sequence
 * number was skipped, the next event returned is of kind
 * %MTNL_EVENT_LOST, with mtnl_event_lost() giving the count when known.
 * The caller then resynchronises with mtnl_resync().  After an overflow
 * the events still queued are discarded, since the resync covers them;
 * events read after it whose sequence number is not above the resync's
 * generation are already in that snapshot.
 *
 * Return: 0; -EAGAIN when no event came within @timeout_ms; -EINTR when a
 * signal interrupted the wait; -errno.
 */
MTNL_API int mtnl_events_read(struct mtnl_events *e, struct mtnl_event **out,
			      int timeout_ms);

struct mtnl_event_buffer;	/* storage for events read together */

/**
 * mtnl_event_buffer_new() - storage for up to @capacity events
 * @capacity: how many events one mtnl_events_read_batch() may return, at
 *	most INT_MAX
 *
 * For busy listeners: a batch read allocates nothing, and its events stay
 * valid until the next read into the same buffer or its release.
 *
 * Return: the buffer, to free with mtnl_event_buffer_free(); NULL with
 * errno EINVAL for a @capacity of 0, above INT_MAX or too large to
 * allocate, or ENOMEM.  Since MEMTRACK_NL_1.2.
 */
MTNL_API struct mtnl_event_buffer *mtnl_event_buffer_new(size_t capacity);
/* mtnl_event_buffer_free() - free an event buffer; NULL is fine. */
MTNL_API void mtnl_event_buffer_free(struct mtnl_event_buffer *b);
/* The number of events the last batch read put in @b.  Since MEMTRACK_NL_1.2. */
MTNL_API size_t mtnl_event_buffer_count(const struct mtnl_event_buffer *b);
/*
 * Event @i (< mtnl_event_buffer_count()) of @b, owned by @b; NULL with
 * errno ERANGE beyond.  Since MEMTRACK_NL_1.2.
 */
MTNL_API const struct mtnl_event *mtnl_event_buffer_get(const struct mtnl_event_buffer *b,
							size_t i);

/**
 * mtnl_events_read_batch() - every event that has arrived, up to a buffer
 * @e: subscription
 * @b: where the events go, replacing those of the last batch
 * @timeout_ms: how long to wait for the first event; -1 waits forever,
 *	0 does not wait
 *
 * Waits for one event, then takes the events already received without
 * waiting, until @b is full.  A MTNL_EVENT_LOST event ends the batch, so
 * that the caller resynchronises before it reads on.  An error after the
 * first event ends the batch early and is returned by the next read.
 *
 * Return: the number of events in @b (at least 1); -EAGAIN when none came
 * within @timeout_ms; -EINTR; -EBADMSG for a malformed event (see
 * mtnl_events_last_error()); -errno.  Since MEMTRACK_NL_1.2.
 */
MTNL_API int mtnl_events_read_batch(struct mtnl_events *e,
				    struct mtnl_event_buffer *b, int timeout_ms);

/**
 * mtnl_event_dup() - a copy of an event that the caller owns
 * @ev: an event, for example one of an event buffer
 *
 * Return: the copy, to free with mtnl_event_free(); NULL with errno
 * EINVAL for a NULL @ev, or ENOMEM.  Since MEMTRACK_NL_1.2.
 */
MTNL_API struct mtnl_event *mtnl_event_dup(const struct mtnl_event *ev);

/* mtnl_events_last_error() - explanation of the last failure on @e. */
MTNL_API const char *mtnl_events_last_error(const struct mtnl_events *e);

/* mtnl_event_free() - free an event; NULL is accepted. */
MTNL_API void mtnl_event_free(struct mtnl_event *ev);

/* Event accessors.  Strings and the buffer are owned by the event. */
MTNL_API enum mtnl_event_kind mtnl_event_kind(const struct mtnl_event *ev);
/* Sequence number: one more than the previous event's (0 for LOST). */
MTNL_API uint64_t mtnl_event_seq(const struct mtnl_event *ev);
/* The process, in the initial pid namespace. */
MTNL_API uint32_t mtnl_event_pid(const struct mtnl_event *ev);
MTNL_API const char *mtnl_event_comm(const struct mtnl_event *ev);
/* The parent of a FORK event, else 0. */
MTNL_API uint32_t mtnl_event_parent_pid(const struct mtnl_event *ev);
/*
 * Why an UNINSTALL, or the removals of a BULK event, happened;
 * MTNL_REASON_UNKNOWN for a reason newer than the library.
 */
MTNL_API enum mtnl_reason mtnl_event_reason(const struct mtnl_event *ev);
/* The process's total and number of buffers after the event. */
MTNL_API uint64_t mtnl_event_total(const struct mtnl_event *ev);
MTNL_API uint32_t mtnl_event_nr_buffers(const struct mtnl_event *ev);
/* The buffer of an INSTALL or UNINSTALL event, else NULL. */
MTNL_API const struct mtnl_buffer *mtnl_event_buffer(const struct mtnl_event *ev);
/* Events lost, for a LOST event; 0 when the count is unknown. */
MTNL_API uint64_t mtnl_event_lost(const struct mtnl_event *ev);
/*
 * Buffers the process started and stopped holding, for a BULK event;
 * which ones, a query of the process tells.  Since MEMTRACK_NL_1.2.
 */
MTNL_API uint32_t mtnl_event_nr_added(const struct mtnl_event *ev);
MTNL_API uint32_t mtnl_event_nr_removed(const struct mtnl_event *ev);

/**
 * mtnl_resync() - a fresh dump to continue an event stream from
 * @h: query handle
 * @cb: called for each process; mtnl_proc_generation() of each tells
 *	which events it already reflects: apply to that process only events
 *	with a larger sequence number
 * @arg: passed to @cb
 * @generation: receives the largest generation of the dump
 *
 * Retries while the accounting changes under the dump (at most 8 times),
 * so that the processes form one consistent snapshot.  Subscribe before
 * calling it, so that no event falls between the dump and the stream.
 *
 * Return: 0, the value @cb returned, or -errno (-EINTR if no consistent
 * dump could be taken).
 */
MTNL_API int mtnl_resync(struct mtnl *h, mtnl_proc_cb cb, void *arg,
			 uint64_t *generation);

#ifdef __cplusplus
}
#endif

#endif /* MEMTRACK_NL_H */
