// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for the libmemtrack-nl parser: arbitrary bytes as the
 * attributes of a process, buffer, stats, event or proc-refs-get message.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch what the parser hands over, for the sanitizers to check. */
static volatile uint64_t fuzz_sum;

static int fuzz_begin(const struct mtnl_refs_msg *m, void *arg)
{
	(void)arg;
	fuzz_sum += m->pid + m->figures.total;
	return 0;
}

static int fuzz_desc(const struct mtnl_buffer *b, void *arg)
{
	(void)arg;
	fuzz_sum += b->id + strlen(b->exporter) + strlen(b->name);
	return 0;
}

static int fuzz_ref(const struct mtnl_ref_entry *r, void *arg)
{
	(void)arg;
	fuzz_sum += r->id + r->fds + r->mapped + r->handles;
	return 0;
}

static const struct mtnl_refs_cbs fuzz_refs = {
	.begin = fuzz_begin, .desc = fuzz_desc, .ref = fuzz_ref,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtnl_stats st = { .sz = sizeof(st) };
	struct mtnl_proc p = { 0 };
	struct mtnl_buffer b;
	struct mtnl_event ev;
	char why[160];

	if (!size)
		return 0;
	/*
	 * The first byte picks the command, known or not (the highest is
	 * MEMTRACK_CMD_MAX), the rest is attributes.
	 */
	mtnl__parse_event(data[0] % (MEMTRACK_CMD_MAX + 2), data + 1, size - 1,
			  &ev, why, sizeof(why));
	/* A buffer with its holders owns their list. */
	if (mtnl__parse_buffer(data, size, &b, why, sizeof(why)) == 0)
		mtnl__buffer_reset(&b);
	mtnl__parse_stats(data, size, &st, why, sizeof(why));
	mtnl__parse_proc(data, size, &p, why, sizeof(why));
	/* A proc-refs-get message, its descriptions and its refs. */
	mtnl__parse_refs(data, size, &fuzz_refs, NULL, why, sizeof(why));
	mtnl__proc_reset(&p);
	return 0;
}
