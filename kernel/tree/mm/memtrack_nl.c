// SPDX-License-Identifier: GPL-2.0
/*
 * memtrack generic-netlink family: per-process queries and dumps, and the
 * system-wide buffer list.  The policies and ops table are generated from
 * Documentation/netlink/specs/memtrack.yaml into memtrack-nl-gen.c.
 *
 * A caller sees a process only if it passes a PTRACE_MODE_READ_FSCREDS
 * check on it, the rule that guards /proc/PID/fdinfo, and every pid is
 * translated into the caller's pid namespace.
 */

#define pr_fmt(fmt) "memtrack: " fmt

#include <linux/capability.h>
#include <linux/fdtable.h>
#include <linux/pid_namespace.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "memtrack-internal.h"
#include "memtrack-nl-gen.h"

/* Upper bound of the attributes of one buffer entry in a process reply. */
#define MEMTRACK_NL_BUF_ENTRY_SIZE					\
	(nla_total_size(0) +						\
	 3 * nla_total_size(sizeof(u64)) +				\
	 nla_total_size(MEMTRACK_EXPORTER_LEN) +			\
	 nla_total_size(MEMTRACK_NAME_LEN) +				\
	 2 * nla_total_size(sizeof(u32)))

/* Largest do reply we are willing to build for one process. */
#define MEMTRACK_NL_MAX_REPLY	(32U << 20)

struct memtrack_nl_proc_dump_ctx {
	u32 next_pid;		/* next tgid to visit, in the caller's ns */
	u32 filter_pid;		/* only this tgid, or 0 for all */
	u64 next_buf;		/* first buffer id to emit for next_pid */
};

/* Buffer filters of a request; empty strings match everything. */
struct memtrack_nl_filter {
	char name[MEMTRACK_NAME_LEN];
	char exporter[MEMTRACK_EXPORTER_LEN];
};

static void memtrack_nl_get_filter(struct nlattr **attrs,
				   struct memtrack_nl_filter *f)
{
	f->name[0] = '\0';
	f->exporter[0] = '\0';
	if (attrs[MEMTRACK_A_PROC_FILTER_NAME])
		nla_strscpy(f->name, attrs[MEMTRACK_A_PROC_FILTER_NAME],
			    sizeof(f->name));
	if (attrs[MEMTRACK_A_PROC_FILTER_EXPORTER])
		nla_strscpy(f->exporter, attrs[MEMTRACK_A_PROC_FILTER_EXPORTER],
			    sizeof(f->exporter));
}

static bool memtrack_nl_filter_active(const struct memtrack_nl_filter *f)
{
	return f->name[0] || f->exporter[0];
}

static void memtrack_nl_buffer_name(struct memtrack_buffer *mb, char *name,
				    size_t len)
{
	name[0] = '\0';
	if (mb->ops && mb->ops->get_name)
		mb->ops->get_name(mb, name, len);
}

static bool memtrack_nl_filter_match(const struct memtrack_nl_filter *f,
				     struct memtrack_buffer *mb)
{
	char name[MEMTRACK_NAME_LEN];

	if (f->exporter[0] && strcmp(f->exporter, mb->exporter ?: ""))
		return false;
	if (f->name[0]) {
		memtrack_nl_buffer_name(mb, name, sizeof(name));
		if (strcmp(f->name, name))
			return false;
	}
	return true;
}

/* Most distinct descriptor tables of one process that a reply covers. */
#define MEMTRACK_NL_MAX_TABLES	4

/*
 * What one process holds, locked for a reply: the distinct descriptor
 * tables its live threads use (a thread that called unshare(CLONE_FILES)
 * has its own) and the address space it owns.  The process is reached
 * through any live thread, so that a group leader that exited before the
 * other threads does not hide it.
 */
struct memtrack_nl_proc {
	struct task_struct *locked[MEMTRACK_NL_MAX_TABLES + 1];
	unsigned int nr_locked;
	struct memtrack_files *mt[MEMTRACK_NL_MAX_TABLES];
	unsigned int nr_mt;
	struct memtrack_mm *mm_mt;
	bool incomplete;
};

static bool memtrack_nl_files_seen(struct files_struct **files,
				   unsigned int nr, struct files_struct *f)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (files[i] == f)
			return true;
	return false;
}

/*
 * Lock what the thread group of @leader holds.  Lock order: the threads'
 * task_lock() in thread-list order (which keeps their tables and address
 * space alive), then the tables' states in address order, then the
 * address space's.  The accounting hooks take at most one table state
 * and the address space's, and never under task_lock(); the only other
 * path taking two table states, memtrack_files_lock_two(), also goes by
 * address.
 */
static void memtrack_nl_proc_lock(struct task_struct *leader,
				  struct memtrack_nl_proc *p)
{
	struct files_struct *files[MEMTRACK_NL_MAX_TABLES];
	unsigned int nr_files = 0, i, j;
	struct mm_struct *mm = NULL;
	struct memtrack_mm *mm_mt;
	struct task_struct *t;

	memset(p, 0, sizeof(*p));
	rcu_read_lock();
	for_each_thread(leader, t) {
		struct files_struct *f = READ_ONCE(t->files);

		/* A peek: most threads share what was seen already. */
		if ((!f || memtrack_nl_files_seen(files, nr_files, f)) &&
		    (mm || !READ_ONCE(t->mm)))
			continue;
		if (p->nr_locked == ARRAY_SIZE(p->locked)) {
			p->incomplete = true;
			break;
		}
		spin_lock_nested(&t->alloc_lock, p->nr_locked);
		get_task_struct(t);
		p->locked[p->nr_locked++] = t;
		f = t->files;
		if (f && !memtrack_nl_files_seen(files, nr_files, f)) {
			if (nr_files < ARRAY_SIZE(files))
				files[nr_files++] = f;
			else
				p->incomplete = true;
		}
		if (!mm)
			mm = t->mm;
	}
	rcu_read_unlock();

	for (i = 0; i < nr_files; i++) {
		struct memtrack_files *mt = memtrack_files_state(files[i]);

		p->incomplete |= READ_ONCE(files[i]->memtrack_incomplete);
		/* A copy that a fork has not finished making counts for nobody. */
		if (!mt || !READ_ONCE(mt->committed))
			continue;
		/* Insertion sort by address, the order they are locked in. */
		for (j = p->nr_mt; j > 0 && p->mt[j - 1] > mt; j--)
			p->mt[j] = p->mt[j - 1];
		p->mt[j] = mt;
		p->nr_mt++;
	}
	for (i = 0; i < p->nr_mt; i++)
		spin_lock_nested(&p->mt[i]->lock, i);
	if (!mm)
		return;
	p->incomplete |= READ_ONCE(mm->memtrack_incomplete);
	mm_mt = memtrack_mm_state(mm);
	if (!mm_mt)
		return;
	spin_lock(&mm_mt->lock);
	if (mm_mt->state == MEMTRACK_MM_OWNED &&
	    mm_mt->owner == task_tgid(leader)) {
		p->mm_mt = mm_mt;
		return;
	}
	/*
	 * The process shares an address space that another process owns
	 * (CLONE_VM without CLONE_THREAD, vfork), or whose owner left it:
	 * its mappings count for nobody here.
	 */
	spin_unlock(&mm_mt->lock);
	p->incomplete = true;
}

static void memtrack_nl_proc_unlock(struct memtrack_nl_proc *p)
{
	unsigned int i;

	if (p->mm_mt)
		spin_unlock(&p->mm_mt->lock);
	for (i = p->nr_mt; i > 0; i--)
		spin_unlock(&p->mt[i - 1]->lock);
	for (i = p->nr_locked; i > 0; i--) {
		task_unlock(p->locked[i - 1]);
		put_task_struct(p->locked[i - 1]);
	}
}

/*
 * A walk over the union of what a process's tables and address space
 * hold, in increasing buffer id order.  Their locks are held.
 */
struct memtrack_nl_walk {
	struct rb_node *fd[MEMTRACK_NL_MAX_TABLES];	/* next of each table */
	unsigned int nr_fd;
	struct rb_node *map;		/* next of the address space */
};

static struct rb_node *memtrack_nl_first_from(struct rb_root *refs, u64 from)
{
	struct memtrack_ref *ref = memtrack_ref_first_from(refs, from);

	return ref ? &ref->node : NULL;
}

static void memtrack_nl_walk_start(struct memtrack_nl_walk *w,
				   const struct memtrack_nl_proc *p, u64 from)
{
	unsigned int i;

	w->nr_fd = p->nr_mt;
	for (i = 0; i < p->nr_mt; i++)
		w->fd[i] = memtrack_nl_first_from(&p->mt[i]->refs, from);
	w->map = p->mm_mt ? memtrack_nl_first_from(&p->mm_mt->refs, from) :
			    NULL;
}

static inline u64 memtrack_nl_node_id(struct rb_node *node)
{
	return rb_entry(node, struct memtrack_ref, node)->buf->id;
}

/*
 * The next buffer, with the number of the process's fds that refer to it
 * and its address-space reference, if any.
 */
static struct memtrack_buffer *
memtrack_nl_walk_next(struct memtrack_nl_walk *w, u32 *nr_fds,
		      struct memtrack_ref **map)
{
	struct memtrack_buffer *mb = NULL;
	struct memtrack_ref *ref;
	unsigned int i;
	u64 id = U64_MAX;
	bool any = false;

	for (i = 0; i < w->nr_fd; i++) {
		if (w->fd[i] && memtrack_nl_node_id(w->fd[i]) <= id) {
			id = memtrack_nl_node_id(w->fd[i]);
			any = true;
		}
	}
	if (w->map && memtrack_nl_node_id(w->map) <= id) {
		id = memtrack_nl_node_id(w->map);
		any = true;
	}
	*nr_fds = 0;
	*map = NULL;
	if (!any)
		return NULL;
	for (i = 0; i < w->nr_fd; i++) {
		if (!w->fd[i] || memtrack_nl_node_id(w->fd[i]) != id)
			continue;
		ref = rb_entry(w->fd[i], struct memtrack_ref, node);
		*nr_fds += ref->nr_fds;
		mb = ref->buf;
		w->fd[i] = rb_next(w->fd[i]);
	}
	if (w->map && memtrack_nl_node_id(w->map) == id) {
		*map = rb_entry(w->map, struct memtrack_ref, node);
		mb = (*map)->buf;
		w->map = rb_next(w->map);
	}
	return mb;
}

/* The figures of a process reply, over the buffers that pass the filter. */
struct memtrack_nl_proc_sums {
	u32 nr_buffers;
	u32 nr_fds;
	u64 total;
	u64 pss;
	u64 unique;
	u64 mapped;
};

static void memtrack_nl_proc_sum(const struct memtrack_nl_proc *p,
				 const struct memtrack_nl_filter *f,
				 struct memtrack_nl_proc_sums *sums)
{
	bool filtered = memtrack_nl_filter_active(f);
	struct memtrack_nl_walk w;
	struct memtrack_buffer *mb;
	struct memtrack_ref *map;
	u32 nr_fds;

	memset(sums, 0, sizeof(*sums));
	memtrack_nl_walk_start(&w, p, 0);
	while ((mb = memtrack_nl_walk_next(&w, &nr_fds, &map))) {
		u32 holders;

		if (filtered && !memtrack_nl_filter_match(f, mb))
			continue;
		holders = max(atomic_read(&mb->nr_holders), 1);
		sums->nr_buffers++;
		sums->nr_fds += nr_fds;
		sums->mapped += map ? map->mapped : 0;
		sums->total += mb->size;
		sums->pss += div_u64(mb->size, holders);
		if (holders == 1)
			sums->unique += mb->size;
	}
}

/* The process's total over all its buffers, for the unfiltered hwm. */
static u64 memtrack_nl_proc_total(const struct memtrack_nl_proc *p,
				  const struct memtrack_nl_filter *f,
				  const struct memtrack_nl_proc_sums *sums)
{
	static const struct memtrack_nl_filter none;
	struct memtrack_nl_proc_sums all;

	if (!memtrack_nl_filter_active(f))
		return sums->total;
	memtrack_nl_proc_sum(p, &none, &all);
	return all.total;
}

/* The high-water mark of the process, over what each of its holders saw. */
static u64 memtrack_nl_proc_hwm(const struct memtrack_nl_proc *p, u64 total)
{
	u64 hwm = memtrack_proc_hwm(NULL, p->mm_mt, total);
	unsigned int i;

	for (i = 0; i < p->nr_mt; i++)
		hwm = max(hwm, memtrack_proc_hwm(p->mt[i], NULL, total));
	return hwm;
}

struct memtrack_nl_buf_dump_ctx {
	u64 next_id;		/* first buffer id to emit */
};

static void memtrack_nl_buffer_name(struct memtrack_buffer *mb, char *name,
				    size_t len);

static int memtrack_nl_put_buffer_common(struct sk_buff *skb,
					 struct memtrack_buffer *mb)
{
	char name[MEMTRACK_NAME_LEN];

	memtrack_nl_buffer_name(mb, name, sizeof(name));

	if (nla_put_uint(skb, MEMTRACK_A_BUFFER_ID, mb->id) ||
	    nla_put_uint(skb, MEMTRACK_A_BUFFER_SIZE, mb->size) ||
	    nla_put_string(skb, MEMTRACK_A_BUFFER_EXPORTER,
			   mb->exporter ?: "") ||
	    (name[0] && nla_put_string(skb, MEMTRACK_A_BUFFER_NAME, name)))
		return -EMSGSIZE;
	return 0;
}

/*
 * Fill the buffers of one process from *@next_buf on.  Returns 0 when all
 * were emitted, or -EMSGSIZE with *@next_buf set to the first buffer that
 * did not fit.
 */
static int memtrack_nl_put_proc_buffers(struct sk_buff *skb,
					const struct memtrack_nl_proc *p,
					const struct memtrack_nl_filter *f,
					u64 *next_buf)
{
	bool filtered = memtrack_nl_filter_active(f);
	struct memtrack_nl_walk w;
	struct memtrack_buffer *mb;
	struct memtrack_ref *map;
	u32 nr_fds;

	memtrack_nl_walk_start(&w, p, *next_buf);
	while ((mb = memtrack_nl_walk_next(&w, &nr_fds, &map))) {
		struct nlattr *nest;

		if (filtered && !memtrack_nl_filter_match(f, mb))
			continue;
		nest = nla_nest_start(skb, MEMTRACK_A_PROC_BUFFER);
		if (!nest)
			goto full;
		if (memtrack_nl_put_buffer_common(skb, mb) ||
		    nla_put_u32(skb, MEMTRACK_A_BUFFER_FDS, nr_fds) ||
		    nla_put_uint(skb, MEMTRACK_A_BUFFER_MAPPED,
				 map ? map->mapped : 0) ||
		    nla_put_u32(skb, MEMTRACK_A_BUFFER_HOLDERS,
				atomic_read(&mb->nr_holders))) {
			nla_nest_cancel(skb, nest);
			goto full;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
full:
	*next_buf = mb->id;
	return -EMSGSIZE;
}

/*
 * Build one process message.  @pid is the tgid in the caller's namespace.
 * With @skip_empty, a process that holds nothing produces no message and
 * returns -ENOENT.  Returns -EMSGSIZE, with *@next_buf set, when only part
 * of the buffers fit; a partial message is kept only if it carries at
 * least one buffer and it is the first in @skb or a continuation, so that
 * a process is split only when it cannot fit in a message of its own.
 */
static int memtrack_nl_fill_proc(struct sk_buff *skb,
				 struct task_struct *tsk, u32 pid,
				 u32 portid, u32 seq, int flags,
				 struct netlink_callback *cb,
				 const struct memtrack_nl_filter *filter,
				 bool skip_empty, u64 *next_buf)
{
	struct memtrack_nl_proc_sums sums = {};
	struct memtrack_nl_proc p;
	char comm[TASK_COMM_LEN];
	u64 resume = *next_buf;
	/* Only a process alone in its message is split across messages. */
	bool alone = !skb->len;
	int empty_len, err;
	void *hdr;

	get_task_comm(comm, tsk);

	memtrack_nl_proc_lock(tsk, &p);
	memtrack_nl_proc_sum(&p, filter, &sums);
	if (skip_empty && !sums.nr_buffers &&
	    (!p.incomplete || memtrack_nl_filter_active(filter))) {
		err = -ENOENT;
		goto out_unlock;
	}

	hdr = genlmsg_put(skb, portid, seq, &memtrack_nl_family, flags,
			  MEMTRACK_CMD_PROC_GET);
	if (!hdr) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	if (cb)
		genl_dump_check_consistent(cb, hdr);

	if (nla_put_u32(skb, MEMTRACK_A_PROC_PID, pid) ||
	    nla_put_string(skb, MEMTRACK_A_PROC_COMM, comm) ||
	    nla_put_u32(skb, MEMTRACK_A_PROC_NR_BUFFERS, sums.nr_buffers) ||
	    nla_put_u32(skb, MEMTRACK_A_PROC_NR_FDS, sums.nr_fds) ||
	    nla_put_uint(skb, MEMTRACK_A_PROC_TOTAL, sums.total) ||
	    nla_put_uint(skb, MEMTRACK_A_PROC_PSS, sums.pss) ||
	    nla_put_uint(skb, MEMTRACK_A_PROC_UNIQUE, sums.unique) ||
	    nla_put_uint(skb, MEMTRACK_A_PROC_MAPPED, sums.mapped) ||
	    nla_put_uint(skb, MEMTRACK_A_PROC_HWM,
			 memtrack_nl_proc_hwm(&p,
					      memtrack_nl_proc_total(&p, filter,
								     &sums))) ||
	    nla_put_uint(skb, MEMTRACK_A_PROC_GENERATION,
			 atomic64_read(&memtrack_event_seq)) ||
	    (p.incomplete && nla_put_flag(skb, MEMTRACK_A_PROC_INCOMPLETE)))
		goto cancel;
	empty_len = skb->len;

	err = memtrack_nl_put_proc_buffers(skb, &p, filter, next_buf);
	if (err) {
		/*
		 * Leave the process for the next message if no buffer fit, or
		 * if it would fit whole in a message of its own.
		 */
		if (skb->len == empty_len || (!alone && !resume))
			goto cancel;
		genlmsg_end(skb, hdr);
		goto out_unlock;
	}
	genlmsg_end(skb, hdr);
	*next_buf = 0;
	err = 0;
	goto out_unlock;

cancel:
	genlmsg_cancel(skb, hdr);
	*next_buf = resume;
	err = -EMSGSIZE;
out_unlock:
	memtrack_nl_proc_unlock(&p);
	return err;
}

/*
 * Whether the caller may read the process of @leader, by the rule that
 * guards /proc/PID/fdinfo, judged on a live thread: a group leader that
 * exited first has no address space and stale dumpability.
 */
static bool memtrack_nl_may_read(struct task_struct *leader)
{
	struct task_struct *t, *live = leader;
	bool ok;

	rcu_read_lock();
	for_each_thread(leader, t) {
		if (READ_ONCE(t->mm)) {
			live = t;
			break;
		}
	}
	get_task_struct(live);
	rcu_read_unlock();
	ok = ptrace_may_access(live, PTRACE_MODE_READ_FSCREDS);
	put_task_struct(live);
	return ok;
}

/*
 * Find the thread group with id @nr in the caller's pid namespace, taking
 * a reference on its leader.
 */
static struct task_struct *memtrack_nl_get_tgid(u32 nr)
{
	struct task_struct *tsk;

	rcu_read_lock();
	tsk = pid_task(find_vpid(nr), PIDTYPE_TGID);
	if (tsk)
		get_task_struct(tsk);
	rcu_read_unlock();
	return tsk;
}

/**
 * memtrack_nl_proc_get_doit() - report the buffers of one process
 * @skb: request
 * @info: request info; MEMTRACK_A_PROC_PID selects the process
 *
 * Context: Process context.
 * Return: 0 on success; -ESRCH if the pid is unknown in the caller's pid
 * namespace; -EACCES if the caller may not read the process; -ENOMEM.
 */
int memtrack_nl_proc_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct memtrack_nl_filter filter;
	struct memtrack_nl_proc p;
	struct task_struct *tsk;
	struct sk_buff *msg;
	unsigned int i;
	size_t size;
	u64 next_buf;
	u32 pid;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MEMTRACK_A_PROC_PID)) {
		NL_SET_ERR_MSG(info->extack, "the pid attribute is required");
		return -EINVAL;
	}
	pid = nla_get_u32(info->attrs[MEMTRACK_A_PROC_PID]);
	memtrack_nl_get_filter(info->attrs, &filter);

	tsk = memtrack_nl_get_tgid(pid);
	if (!tsk) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[MEMTRACK_A_PROC_PID],
				    "no such process in the caller's pid namespace");
		return -ESRCH;
	}
	if (!memtrack_nl_may_read(tsk)) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[MEMTRACK_A_PROC_PID],
				    "reading this process requires ptrace read access, as for /proc/PID/fdinfo");
		err = -EACCES;
		goto out_put;
	}

	/* Size for the current buffer count; grow if it rose meanwhile. */
	size = NLMSG_GOODSIZE;
	memtrack_nl_proc_lock(tsk, &p);
	for (i = 0; i < p.nr_mt; i++)
		size += (size_t)p.mt[i]->nr_buffers *
			MEMTRACK_NL_BUF_ENTRY_SIZE;
	if (p.mm_mt)
		size += (size_t)p.mm_mt->nr_buffers *
			MEMTRACK_NL_BUF_ENTRY_SIZE;
	memtrack_nl_proc_unlock(&p);

	for (;;) {
		msg = genlmsg_new(size, GFP_KERNEL);
		if (!msg) {
			err = -ENOMEM;
			goto out_put;
		}
		next_buf = 0;
		err = memtrack_nl_fill_proc(msg, tsk, pid, info->snd_portid,
					    info->snd_seq, 0, NULL, &filter,
					    false, &next_buf);
		if (!err)
			break;
		nlmsg_free(msg);
		if (err != -EMSGSIZE || size >= MEMTRACK_NL_MAX_REPLY) {
			NL_SET_ERR_MSG(info->extack,
				       "process holds too many buffers for one reply, use a dump");
			goto out_put;
		}
		size *= 2;
	}
	put_task_struct(tsk);
	return genlmsg_reply(msg, info);

out_put:
	put_task_struct(tsk);
	return err;
}

/**
 * memtrack_nl_proc_get_dumpit() - report every visible process with buffers
 * @skb: reply buffer for this round
 * @cb: dump state
 *
 * Processes are visited in increasing pid order of the caller's pid
 * namespace, and a process split across messages resumes at the buffer
 * id it stopped at, so the dump resumes from stable keys.
 * NLM_F_DUMP_INTR is set when any accounting changed between rounds.
 *
 * Context: Process context.
 * Return: the length of @skb, 0 when the dump is complete, or -errno.
 */
int memtrack_nl_proc_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	struct memtrack_nl_proc_dump_ctx *ctx = (void *)cb->ctx;
	const struct genl_info *info = genl_info_dump(cb);
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct memtrack_nl_filter filter;
	int err = 0;

	NL_ASSERT_DUMP_CTX_FITS(struct memtrack_nl_proc_dump_ctx);
	memtrack_nl_get_filter(info->attrs, &filter);

	if (!ctx->next_pid) {
		ctx->next_pid = 1;
		if (info->attrs[MEMTRACK_A_PROC_PID]) {
			ctx->filter_pid =
				nla_get_u32(info->attrs[MEMTRACK_A_PROC_PID]);
			ctx->next_pid = ctx->filter_pid;
		}
	}
	cb->seq = (u32)atomic64_read(&memtrack_changes) | 1;

	while (ctx->next_pid && ctx->next_pid <= PID_MAX_LIMIT) {
		struct task_struct *tsk = NULL;
		struct pid *pid;
		u32 nr;

		rcu_read_lock();
		for (;;) {
			pid = find_ge_pid(ctx->next_pid, ns);
			if (!pid)
				break;
			nr = pid_nr_ns(pid, ns);
			tsk = pid_task(pid, PIDTYPE_TGID);
			if (tsk)
				break;
			ctx->next_pid = nr + 1;
			ctx->next_buf = 0;
		}
		/* Past the one pid asked for: done, and take no reference. */
		if (tsk && ctx->filter_pid && nr != ctx->filter_pid)
			tsk = NULL;
		if (tsk)
			get_task_struct(tsk);
		rcu_read_unlock();
		if (!tsk)
			break;

		err = 0;
		if (memtrack_nl_may_read(tsk))
			err = memtrack_nl_fill_proc(skb, tsk, nr,
						    NETLINK_CB(cb->skb).portid,
						    cb->nlh->nlmsg_seq,
						    NLM_F_MULTI, cb, &filter,
						    true, &ctx->next_buf);
		put_task_struct(tsk);
		if (err == -EMSGSIZE)
			break;
		ctx->next_pid = nr + 1;
		ctx->next_buf = 0;
		err = 0;
	}
	if (err == -EMSGSIZE && !skb->len)
		return err;
	return skb->len;
}

static int memtrack_nl_fill_buffer(struct sk_buff *skb,
				   struct memtrack_buffer *mb, u32 portid,
				   u32 seq, int flags,
				   struct netlink_callback *cb)
{
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &memtrack_nl_family, flags,
			  MEMTRACK_CMD_BUFFER_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	if (memtrack_nl_put_buffer_common(skb, mb) ||
	    nla_put_u32(skb, MEMTRACK_A_BUFFER_HOLDERS,
			atomic_read(&mb->nr_holders))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static bool memtrack_nl_may_list_buffers(struct netlink_ext_ack *extack)
{
	if (capable(CAP_SYS_ADMIN))
		return true;
	NL_SET_ERR_MSG(extack,
		       "listing every buffer requires CAP_SYS_ADMIN; query processes instead");
	return false;
}

/**
 * memtrack_nl_buffer_get_doit() - report one registered buffer
 * @skb: request
 * @info: request info; MEMTRACK_A_BUFFER_ID selects the buffer
 *
 * Context: Process context.
 * Return: 0 on success, -EPERM without CAP_SYS_ADMIN, -ENOENT for an
 * unknown id, -ENOMEM.
 */
int memtrack_nl_buffer_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct memtrack_buffer *mb;
	struct sk_buff *msg;
	u64 id;
	int err;

	if (!memtrack_nl_may_list_buffers(info->extack))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, MEMTRACK_A_BUFFER_ID)) {
		NL_SET_ERR_MSG(info->extack, "the id attribute is required");
		return -EINVAL;
	}
	id = nla_get_uint(info->attrs[MEMTRACK_A_BUFFER_ID]);

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	spin_lock(&memtrack_registry_lock);
	mb = memtrack_buffer_first_from(id);
	if (mb && mb->id == id)
		err = memtrack_nl_fill_buffer(msg, mb, info->snd_portid,
					      info->snd_seq, 0, NULL);
	else
		err = -ENOENT;
	spin_unlock(&memtrack_registry_lock);

	if (err) {
		nlmsg_free(msg);
		if (err == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[MEMTRACK_A_BUFFER_ID],
					    "no registered buffer has this id");
		return err;
	}
	return genlmsg_reply(msg, info);
}

/**
 * memtrack_nl_buffer_get_dumpit() - list every registered buffer
 * @skb: reply buffer for this round
 * @cb: dump state
 *
 * Buffers are listed in increasing id order and the dump resumes from the
 * last id sent.  Buffers held by no process have zero holders.
 *
 * Context: Process context.
 * Return: the length of @skb, 0 when the dump is complete, or -errno.
 */
int memtrack_nl_buffer_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct memtrack_nl_buf_dump_ctx *ctx = (void *)cb->ctx;
	struct memtrack_buffer *mb;
	struct rb_node *node;
	int err = 0;

	NL_ASSERT_DUMP_CTX_FITS(struct memtrack_nl_buf_dump_ctx);

	if (!memtrack_nl_may_list_buffers(cb->extack))
		return -EPERM;
	cb->seq = (u32)atomic64_read(&memtrack_changes) | 1;

	spin_lock(&memtrack_registry_lock);
	mb = memtrack_buffer_first_from(ctx->next_id);
	for (node = mb ? &mb->node : NULL; node; node = rb_next(node)) {
		mb = rb_entry(node, struct memtrack_buffer, node);
		err = memtrack_nl_fill_buffer(skb, mb,
					      NETLINK_CB(cb->skb).portid,
					      cb->nlh->nlmsg_seq, NLM_F_MULTI,
					      cb);
		if (err)
			break;
		ctx->next_id = mb->id + 1;
	}
	spin_unlock(&memtrack_registry_lock);

	if (err && !skb->len)
		return err;
	return skb->len;
}

/**
 * memtrack_nl_stats_get_doit() - report the system-wide figures
 * @skb: request
 * @info: request info
 *
 * Context: Process context.
 * Return: 0 on success, -ENOMEM.
 */
int memtrack_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct memtrack_registry_stats stats;
	struct memtrack_buffer *mb;
	struct rb_node *node;
	struct sk_buff *msg;
	u64 held = 0;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	spin_lock(&memtrack_registry_lock);
	stats = memtrack_registry_stats;
	for (node = rb_first(&memtrack_registry); node; node = rb_next(node)) {
		mb = rb_entry(node, struct memtrack_buffer, node);
		if (atomic_read(&mb->nr_holders))
			held += mb->size;
	}
	spin_unlock(&memtrack_registry_lock);

	hdr = genlmsg_iput(msg, info);
	if (!hdr ||
	    nla_put_u32(msg, MEMTRACK_A_STATS_NR_BUFFERS, stats.nr_buffers) ||
	    nla_put_uint(msg, MEMTRACK_A_STATS_TOTAL, stats.bytes) ||
	    nla_put_uint(msg, MEMTRACK_A_STATS_HELD, held) ||
	    nla_put_uint(msg, MEMTRACK_A_STATS_KERNEL_ONLY, stats.bytes - held) ||
	    nla_put_uint(msg, MEMTRACK_A_STATS_HWM, stats.hwm) ||
	    nla_put_uint(msg, MEMTRACK_A_STATS_GENERATION,
			 atomic64_read(&memtrack_event_seq))) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/**
 * memtrack_nl_hwm_reset_doit() - reset every high-water mark
 * @skb: request
 * @info: request info
 *
 * Context: Process context.
 * Return: 0 on success, -EPERM without CAP_SYS_ADMIN.
 */
int memtrack_nl_hwm_reset_doit(struct sk_buff *skb, struct genl_info *info)
{
	if (!capable(CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(info->extack,
			       "resetting the high-water marks requires CAP_SYS_ADMIN");
		return -EPERM;
	}
	memtrack_hwm_reset();
	return 0;
}

/**
 * memtrack_nl_has_listeners() - whether anyone receives events
 *
 * Context: Any context.
 * Return: true if a socket of the initial network namespace is
 * subscribed to the events group.
 */
bool memtrack_nl_has_listeners(void)
{
	return genl_has_listeners(&memtrack_nl_family, &init_net,
				  MEMTRACK_NLGRP_EVENTS);
}

/**
 * memtrack_nl_event_alloc() - allocate an event message
 * @gfp: allocation flags
 *
 * For callers that fill an event under locks, where they cannot allocate.
 *
 * Context: Any context that allows @gfp.
 * Return: the message, or NULL.
 */
struct sk_buff *memtrack_nl_event_alloc(gfp_t gfp)
{
	return genlmsg_new(NLMSG_GOODSIZE, gfp);
}

/**
 * memtrack_nl_event_fill() - build an install, uninstall or fork event
 * @skb: a message from memtrack_nl_event_alloc()
 * @cmd: MEMTRACK_CMD_INSTALL_NTF, _UNINSTALL_NTF or _FORK_NTF
 * @pid: the process, in the initial pid namespace
 * @comm: its command name
 * @mb: the buffer (install and uninstall), or NULL (fork)
 * @ev: the figures captured with the change
 * @reason: the uninstall reason
 * @parent_pid: the parent of a fork, or 0
 *
 * Allocates nothing and takes no lock but the buffer's name lock.
 *
 * Context: Any context.
 * Return: 0, or -EMSGSIZE; the caller frees @skb on failure.
 */
int memtrack_nl_event_fill(struct sk_buff *skb, u8 cmd, u32 pid,
			   const char *comm, struct memtrack_buffer *mb,
			   const struct memtrack_event *ev, u32 reason,
			   u32 parent_pid)
{
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, 0, 0, &memtrack_nl_family, 0, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_uint(skb, MEMTRACK_A_EVENT_SEQ, ev->seq) ||
	    nla_put_u32(skb, MEMTRACK_A_EVENT_PID, pid) ||
	    nla_put_string(skb, MEMTRACK_A_EVENT_COMM, comm) ||
	    nla_put_uint(skb, MEMTRACK_A_EVENT_TOTAL, ev->total) ||
	    nla_put_u32(skb, MEMTRACK_A_EVENT_NR_BUFFERS, ev->nr_buffers))
		return -EMSGSIZE;
	if (cmd == MEMTRACK_CMD_UNINSTALL_NTF &&
	    nla_put_u32(skb, MEMTRACK_A_EVENT_REASON, reason))
		return -EMSGSIZE;
	if (parent_pid &&
	    nla_put_u32(skb, MEMTRACK_A_EVENT_PARENT_PID, parent_pid))
		return -EMSGSIZE;
	if (mb) {
		nest = nla_nest_start(skb, MEMTRACK_A_EVENT_BUFFER);
		if (!nest || memtrack_nl_put_buffer_common(skb, mb) ||
		    nla_put_u32(skb, MEMTRACK_A_BUFFER_HOLDERS,
				atomic_read(&mb->nr_holders)))
			return -EMSGSIZE;
		nla_nest_end(skb, nest);
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/**
 * memtrack_nl_event_send() - multicast an event built by _fill()
 * @skb: the event; consumed
 * @gfp: allocation flags for the calling context
 *
 * A notification that cannot be delivered is lost; subscribers see the
 * gap in sequence numbers.
 *
 * Context: Any context that allows @gfp.
 */
void memtrack_nl_event_send(struct sk_buff *skb, gfp_t gfp)
{
	genlmsg_multicast_netns(&memtrack_nl_family, &init_net, skb, 0,
				MEMTRACK_NLGRP_EVENTS, gfp);
}

/**
 * memtrack_nl_notify() - multicast an install, uninstall or fork event
 * @cmd: MEMTRACK_CMD_INSTALL_NTF, _UNINSTALL_NTF or _FORK_NTF
 * @tsk: the process the event is about
 * @mb: the buffer (install and uninstall), or NULL (fork)
 * @ev: the figures captured with the change
 * @reason: the uninstall reason
 * @parent: the parent (fork), or NULL
 * @gfp: allocation flags for the calling context
 *
 * Pids are reported in the initial pid namespace, the namespace of every
 * possible subscriber.  A notification that cannot be allocated is lost;
 * subscribers see the gap in sequence numbers.
 *
 * Context: Any context that allows @gfp; never under an fd-table lock.
 */
void memtrack_nl_notify(u8 cmd, struct task_struct *tsk,
			struct memtrack_buffer *mb,
			const struct memtrack_event *ev, u32 reason,
			struct task_struct *parent, gfp_t gfp)
{
	char comm[TASK_COMM_LEN];
	struct sk_buff *skb;

	skb = memtrack_nl_event_alloc(gfp);
	if (!skb)
		return;
	get_task_comm(comm, tsk->group_leader);
	if (memtrack_nl_event_fill(skb, cmd, task_tgid_nr(tsk), comm, mb, ev,
				   reason, parent ? task_tgid_nr(parent) : 0)) {
		nlmsg_free(skb);
		return;
	}
	memtrack_nl_event_send(skb, gfp);
}

/*
 * The events group reveals every process, so subscribing requires
 * CAP_SYS_ADMIN over the network namespace (events are only sent in the
 * initial one).  The 6.12 YNL generator cannot express group flags, so
 * the generated group table is replaced by this one before registration.
 */
static const struct genl_multicast_group memtrack_nl_mcgrps_priv[] = {
	[MEMTRACK_NLGRP_EVENTS] = {
		.name = MEMTRACK_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_SYS_ADMIN,
	},
};

static int __init memtrack_nl_init(void)
{
	int err;

	if (!memtrack_enabled())
		return 0;
	BUILD_BUG_ON(ARRAY_SIZE(memtrack_nl_mcgrps_priv) != MEMTRACK_NLGRP_EVENTS + 1);
	memtrack_nl_family.mcgrps = memtrack_nl_mcgrps_priv;
	memtrack_nl_family.n_mcgrps = ARRAY_SIZE(memtrack_nl_mcgrps_priv);
	err = genl_register_family(&memtrack_nl_family);
	if (err)
		pr_err("cannot register the netlink family: %d\n", err);
	return err;
}
device_initcall(memtrack_nl_init);
