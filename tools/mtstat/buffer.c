// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat -b ID...: who holds these buffers, as dmabuf_dump -a and the old
 * debugfs users ask: each buffer with every process that holds it (pid,
 * comm, fds, bytes mapped) and the devices attached to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <memtrack-nl.h>

#include "mtstat.h"
#include "print.h"

static void put_buffer(struct pr *p, const struct mtnl_buffer *b,
		       const struct mt_output *o)
{
	size_t i, nh = mtnl_buffer_holder_count(b);
	size_t ni = mtnl_buffer_importer_count(b);
	int64_t holders = mtnl_buffer_holders(b);
	char s[32];

	pr_open_object(p, NULL);
	pr_uint(p, PR_ANY, "id", "Buffer %" PRIu64, mtnl_buffer_id(b));
	pr_string(p, PR_TEXT, NULL, ": %s",
		  mt_size_str(mtnl_buffer_size(b), o->bytes, s, sizeof(s)));
	pr_uint(p, PR_JSON, "size", NULL, mtnl_buffer_size(b));
	pr_string(p, PR_ANY, "exporter", ", exporter %s", mtnl_buffer_exporter(b));
	pr_string(p, PR_TEXT, NULL, ", name %s",
		  *mtnl_buffer_name(b) ? mtnl_buffer_name(b) : "-");
	pr_string(p, PR_JSON, "name", NULL, mtnl_buffer_name(b));
	pr_uint(p, PR_ANY, "holders", ", %" PRIu64 " holders",
		holders < 0 ? 0 : (uint64_t)holders);
	pr_bool(p, PR_JSON, "kernel_only", NULL, holders == 0);
	pr_text(p, "%s\n", holders == 0 ? " (kernel-only)" : "");

	pr_open_array(p, "importers");
	if (ni)
		pr_text(p, "  attached to:");
	for (i = 0; i < ni; i++)
		pr_string(p, PR_ANY, NULL, " %s", mtnl_buffer_importer(b, i));
	if (ni)
		pr_text(p, "\n");
	pr_close_array(p);

	pr_open_array(p, "processes");
	if (nh && !o->no_headers)
		pr_text(p, "%9s  %-16s %5s %11s\n", "PID", "COMM", "FDS", "MAPPED");
	for (i = 0; i < nh; i++) {
		const struct mtnl_holder *h = mtnl_buffer_holder(b, i);

		pr_open_object(p, NULL);
		pr_uint(p, PR_ANY, "pid", "%9" PRIu64, mtnl_holder_pid(h));
		pr_string(p, PR_ANY, "comm", "  %-16s", mtnl_holder_comm(h));
		pr_uint(p, PR_ANY, "fds", " %5" PRIu64, mtnl_holder_fds(h));
		pr_string(p, PR_TEXT, NULL, " %11s\n",
			  mt_size_str(mtnl_holder_mapped(h), o->bytes, s, sizeof(s)));
		pr_uint(p, PR_JSON, "mapped", NULL, mtnl_holder_mapped(h));
		pr_close_object(p);
	}
	pr_close_array(p);
	pr_close_object(p);
}

int mt_print_buffer_ids(FILE *out, const uint64_t *ids, size_t n,
			const struct mt_output *o, char *err, size_t errlen)
{
	struct mtnl_buffer **bufs;
	struct mtnl *h;
	int ret, code = MTSTAT_OK;
	struct pr p;
	size_t i;

	ret = mtnl_open(&h);
	if (ret) {
		snprintf(err, errlen, "cannot open the memtrack family: %s",
			 mtnl_strerror(ret));
		return ret == -ENOENT ? MTSTAT_EUNAVAIL : MTSTAT_EFAIL;
	}
	bufs = calloc(n, sizeof(*bufs));
	if (!bufs) {
		mtnl_close(h);
		snprintf(err, errlen, "out of memory");
		return MTSTAT_EFAIL;
	}
	/* Every id first: an unknown one fails the run before any output. */
	for (i = 0; i < n; i++) {
		ret = mtnl_buffer_get(h, ids[i], &bufs[i]);
		if (ret) {
			snprintf(err, errlen, "buffer %" PRIu64 ": %s", ids[i],
				 *mtnl_last_error(h) ? mtnl_last_error(h) : strerror(-ret));
			code = ret == -ENOENT ? MTSTAT_ENOPID :
			       ret == -EPERM ? MTSTAT_EPERM : MTSTAT_EFAIL;
			goto out;
		}
	}
	pr_init(&p, out, o->json, o->pretty);
	pr_open_object(&p, NULL);
	pr_string(&p, PR_JSON, "source", NULL, "netlink");
	pr_open_array(&p, "buffers");
	for (i = 0; i < n; i++) {
		if (i)
			pr_text(&p, "\n");
		put_buffer(&p, bufs[i], o);
	}
	pr_close_array(&p);
	pr_close_object(&p);
	pr_end(&p);
out:
	for (i = 0; i < n; i++)
		mtnl_buffer_free(bufs[i]);
	free(bufs);
	mtnl_close(h);
	return code;
}
