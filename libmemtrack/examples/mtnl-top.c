// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mtnl-top: the smallest useful libmemtrack-nl program.  Prints the
 * processes that hold the most dma-buf memory, then follows events for
 * a few seconds when run with -f (needs CAP_NET_ADMIN).
 *
 *   cc mtnl-top.c $(pkg-config --cflags --libs libmemtrack-nl)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtrack-nl.h>

struct top {
	uint32_t pid[5];
	uint64_t total[5];
	char comm[5][16];
};

/* Keep the five largest totals. */
static int keep_largest(const struct mtnl_proc *p, void *arg)
{
	struct top *t = arg;
	int i, j;

	for (i = 0; i < 5; i++) {
		if (mtnl_proc_total(p) <= t->total[i])
			continue;
		for (j = 4; j > i; j--) {
			t->pid[j] = t->pid[j - 1];
			t->total[j] = t->total[j - 1];
			memcpy(t->comm[j], t->comm[j - 1], sizeof(t->comm[j]));
		}
		t->pid[i] = mtnl_proc_pid(p);
		t->total[i] = mtnl_proc_total(p);
		snprintf(t->comm[i], sizeof(t->comm[i]), "%s", mtnl_proc_comm(p));
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct top t = { 0 };
	struct mtnl *h;
	int i, ret;

	ret = mtnl_open(&h);
	if (ret) {
		fprintf(stderr, "mtnl-top: %s\n", ret == -2 ?
			"this kernel has no memtrack family" : strerror(-ret));
		return 1;
	}
	ret = mtnl_proc_dump(h, NULL, keep_largest, &t, NULL);
	if (ret && ret != -4 /* -EINTR: changed meanwhile, fine for a top */) {
		fprintf(stderr, "mtnl-top: %s: %s\n", strerror(-ret), mtnl_last_error(h));
		mtnl_close(h);
		return 1;
	}
	printf("%7s %-16s %12s\n", "PID", "COMM", "BYTES");
	for (i = 0; i < 5 && t.pid[i]; i++)
		printf("%7u %-16s %12" PRIu64 "\n", t.pid[i], t.comm[i], t.total[i]);
	mtnl_close(h);

	if (argc > 1 && !strcmp(argv[1], "-f")) {
		struct mtnl_events *e;
		struct mtnl_event *ev;

		ret = mtnl_events_open(&e, NULL);
		if (ret) {
			fprintf(stderr, "mtnl-top: events: %s\n", strerror(-ret));
			return 1;
		}
		while (mtnl_events_read(e, &ev, 3000) == 0) {
			printf("event %" PRIu64 " kind %d pid %u total %" PRIu64 "\n",
			       mtnl_event_seq(ev), mtnl_event_kind(ev),
			       mtnl_event_pid(ev), mtnl_event_total(ev));
			mtnl_event_free(ev);
		}
		mtnl_events_close(e);
	}
	return 0;
}
