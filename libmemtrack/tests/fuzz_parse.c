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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtnl_stats st = { .sz = sizeof(st) };
	struct mtnl_proc p = { 0 };
	struct mtnl_refs_msg m;
	struct mtnl_buffer b;
	struct mtnl_event ev;
	volatile uint64_t sum = 0;
	char why[160];
	size_t i;

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
	/* A proc-refs-get message, its descriptions and its columns. */
	if (mtnl__parse_refs(data, size, &m, NULL, NULL, why, sizeof(why)) == 0) {
		for (i = 0; i < m.n; i++)
			sum += mtnl__ref_u64(m.id, i) + mtnl__ref_u32(m.fds, i) +
			       mtnl__ref_u64(m.mapped, i) + mtnl__ref_u32(m.handles, i);
		(void)sum;
	}
	mtnl__proc_reset(&p);
	return 0;
}
