// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat --watch: the live event stream, one line (or one JSON object)
 * per event.  Lost events print a line saying how many, then mtstat
 * resynchronises with a fresh dump and goes on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <memtrack-nl.h>

#include "mtstat.h"
#include "print.h"

static const char *kind_name(enum mtnl_event_kind k)
{
	switch (k) {
	case MTNL_EVENT_INSTALL: return "install";
	case MTNL_EVENT_UNINSTALL: return "uninstall";
	case MTNL_EVENT_FORK: return "fork";
	case MTNL_EVENT_LOST: return "lost";
	case MTNL_EVENT_BULK: return "bulk";
	}
	return "?";
}

static const char *reason_name(enum mtnl_reason r)
{
	switch (r) {
	case MTNL_REASON_CLOSE: return "close";
	case MTNL_REASON_EXEC: return "exec";
	case MTNL_REASON_EXIT: return "exit";
	case MTNL_REASON_UNMAP: return "unmap";
	case MTNL_REASON_HANDLE_CLOSE: return "handle-close";
	case MTNL_REASON_UNKNOWN: break;
	}
	return "unknown";
}

/* The local time as ISO 8601 with milliseconds and the UTC offset. */
static void now_str(char *buf, size_t len)
{
	char date[24], zone[8];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	/* +hhmm -> +hh:mm, the extended format of the rest. */
	snprintf(buf, len, "%.19s.%03u%.3s:%.2s", date,
		 (unsigned int)(tv.tv_usec / 1000) % 1000u, zone, zone + 3);
}

static bool wanted(const struct mtnl_event *ev, const struct mt_filter *f)
{
	const struct mtnl_buffer *b = mtnl_event_buffer(ev);
	size_t i;

	if (f->pids) {
		for (i = 0; i < f->npids; i++)
			if (f->pids[i] == mtnl_event_pid(ev) ||
			    f->pids[i] == mtnl_event_parent_pid(ev))
				break;
		if (i == f->npids)
			return false;
	}
	if (f->has_uid && mt_proc_uid(mtnl_event_pid(ev)) != f->uid)
		return false;
	if ((f->name || f->exporter) && !b)
		return false;
	if (f->name && strcmp(mtnl_buffer_name(b), f->name))
		return false;
	if (f->exporter && strcmp(mtnl_buffer_exporter(b), f->exporter))
		return false;
	return true;
}

static void print_event(const struct mtnl_event *ev, const struct mt_output *o)
{
	const struct mtnl_buffer *b = mtnl_event_buffer(ev);
	enum mtnl_event_kind k = mtnl_event_kind(ev);
	char t[48], sz[32], tot[32], what[48], comm[64], name[256];

	now_str(t, sizeof(t));
	if (o->json) {
		struct pr p;

		/* One object per line, even with --pretty: a stream. */
		pr_init(&p, stdout, true, false);
		pr_open_object(&p, NULL);
		pr_string(&p, PR_JSON, "time", NULL, t);
		pr_string(&p, PR_JSON, "event", NULL, kind_name(k));
		pr_uint(&p, PR_JSON, "seq", NULL, mtnl_event_seq(ev));
		pr_uint(&p, PR_JSON, "pid", NULL, mtnl_event_pid(ev));
		pr_string(&p, PR_JSON, "comm", NULL, mtnl_event_comm(ev));
		if (k == MTNL_EVENT_UNINSTALL ||
		    (k == MTNL_EVENT_BULK && mtnl_event_nr_removed(ev)))
			pr_string(&p, PR_JSON, "reason", NULL,
				  reason_name(mtnl_event_reason(ev)));
		if (k == MTNL_EVENT_BULK) {
			pr_uint(&p, PR_JSON, "nr_added", NULL, mtnl_event_nr_added(ev));
			pr_uint(&p, PR_JSON, "nr_removed", NULL, mtnl_event_nr_removed(ev));
		}
		if (k == MTNL_EVENT_FORK)
			pr_uint(&p, PR_JSON, "parent", NULL, mtnl_event_parent_pid(ev));
		if (b) {
			pr_open_object(&p, "buffer");
			pr_uint(&p, PR_JSON, "id", NULL, mtnl_buffer_id(b));
			pr_uint(&p, PR_JSON, "size", NULL, mtnl_buffer_size(b));
			pr_string(&p, PR_JSON, "exporter", NULL, mtnl_buffer_exporter(b));
			pr_string(&p, PR_JSON, "name", NULL, mtnl_buffer_name(b));
			pr_uint(&p, PR_JSON, "holders", NULL,
				(uint64_t)mtnl_buffer_holders(b));
			pr_close_object(&p);
		}
		pr_uint(&p, PR_JSON, "nr_buffers", NULL, mtnl_event_nr_buffers(ev));
		pr_uint(&p, PR_JSON, "total", NULL, mtnl_event_total(ev));
		pr_close_object(&p);
		pr_end(&p);
		return;
	}
	if (k == MTNL_EVENT_UNINSTALL)
		snprintf(what, sizeof(what), "uninstall/%s", reason_name(mtnl_event_reason(ev)));
	else if (k == MTNL_EVENT_FORK)
		snprintf(what, sizeof(what), "fork<%u", mtnl_event_parent_pid(ev));
	else if (k == MTNL_EVENT_BULK && mtnl_event_nr_removed(ev))
		snprintf(what, sizeof(what), "bulk+%u-%u/%s", mtnl_event_nr_added(ev),
			 mtnl_event_nr_removed(ev), reason_name(mtnl_event_reason(ev)));
	else if (k == MTNL_EVENT_BULK)
		snprintf(what, sizeof(what), "bulk+%u", mtnl_event_nr_added(ev));
	else
		snprintf(what, sizeof(what), "%s", kind_name(k));
	mt_size_str(b ? mtnl_buffer_size(b) : 0, o->bytes, sz, sizeof(sz));
	mt_size_str(mtnl_event_total(ev), o->bytes, tot, sizeof(tot));
	/* Any process picks its comm and its buffers' names: no escapes. */
	mt_text_safe(mtnl_event_comm(ev), comm, sizeof(comm));
	if (b)
		printf("%s  %-16s %7u %-16s %10" PRIu64 " %11s %-20s %11s\n", t, what,
		       mtnl_event_pid(ev), comm, mtnl_buffer_id(b), sz,
		       *mtnl_buffer_name(b) ?
		       mt_text_safe(mtnl_buffer_name(b), name, sizeof(name)) : "-", tot);
	else
		printf("%s  %-16s %7u %-16s %10s %11s %-20s %11s  (%u buffers)\n", t,
		       what, mtnl_event_pid(ev), comm, "-", "-", "-",
		       tot, mtnl_event_nr_buffers(ev));
}

struct resync_sum {
	size_t procs;
	uint64_t bytes;
};

static int sum_proc(const struct mtnl_proc *p, void *arg)
{
	struct resync_sum *s = arg;

	s->procs++;
	s->bytes += mtnl_proc_total(p);
	return 0;
}

/* After a loss: a fresh, consistent snapshot to continue from. */
static int resync(const struct mt_output *o, uint64_t lost)
{
	struct resync_sum sum = { 0 };
	uint64_t gen = 0;
	struct mtnl *h;
	char buf[32];
	int ret;

	ret = mtnl_open(&h);
	if (!ret)
		ret = mtnl_resync(h, sum_proc, &sum, &gen);
	if (o->json) {
		printf("{\"event\":\"lost\",\"count\":%" PRIu64 ",\"resync\":%s,"
		       "\"nr_processes\":%zu,\"total\":%" PRIu64 ",\"generation\":%" PRIu64 "}\n",
		       lost, ret ? "false" : "true", sum.procs, sum.bytes, gen);
	} else {
		if (lost)
			printf("--- %" PRIu64 " events lost; resyncing\n", lost);
		else
			printf("--- events lost (receive buffer overflow); resyncing\n");
		if (ret)
			printf("--- resync failed: %s %s\n", strerror(-ret),
			       h ? mtnl_last_error(h) : "");
		else
			printf("--- resynced at generation %" PRIu64 ": %zu processes hold %s\n",
			       gen, sum.procs, mt_size_str(sum.bytes, o->bytes, buf, sizeof(buf)));
	}
	mtnl_close(h);
	return ret;
}

int mt_watch(const struct mt_output *o, const struct mt_filter *f,
	     volatile sig_atomic_t *stop)
{
	struct mtnl_events_opts opts = { .sz = sizeof(opts), .rcvbuf = o->rcvbuf };
	struct mtnl_events *e;
	int ret;

	ret = mtnl_events_open(&e, &opts);
	if (ret) {
		if (ret == -EPERM) {
			fprintf(stderr, "mtstat: watching events needs CAP_NET_ADMIN and "
					"CAP_SYS_ADMIN, because events describe every process\n");
			return MTSTAT_EPERM;
		}
		fprintf(stderr, "mtstat: cannot subscribe to memtrack events: %s\n",
			mtnl_strerror(ret));
		return ret == -ENOENT ? MTSTAT_EUNAVAIL : MTSTAT_EFAIL;
	}
	if (!o->json)
		/* TIME is 29 characters: 2026-01-31T12:00:00.000+01:00 */
		printf("%-29s  %-16s %7s %-16s %10s %11s %-20s %11s\n", "TIME", "EVENT",
		       "PID", "COMM", "BUFFER", "SIZE", "NAME", "TOTAL");
	fflush(stdout);
	while (!*stop) {
		struct mtnl_event *ev;

		ret = mtnl_events_read(e, &ev, 500);
		if (ret == -EAGAIN || ret == -EINTR)
			continue;
		if (ret) {
			fprintf(stderr, "mtstat: reading events failed: %s\n",
				mtnl_events_last_error(e));
			mtnl_events_close(e);
			return MTSTAT_EFAIL;
		}
		if (mtnl_event_kind(ev) == MTNL_EVENT_LOST)
			resync(o, mtnl_event_lost(ev));
		else if (wanted(ev, f))
			print_event(ev, o);
		mtnl_event_free(ev);
		fflush(stdout);
	}
	mtnl_events_close(e);
	return MTSTAT_OK;
}
