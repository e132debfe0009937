// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for the libmemtrack-nl parser: arbitrary bytes as the
 * attributes of a process, buffer, stats or event message, including a
 * continuation of a previous process message.
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
	struct mtnl_buffer b;
	struct mtnl_event ev;
	char why[160];
	uint32_t pid;
	size_t half;

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
	/* Two pairs of one process: the second must follow the first. */
	half = size / 2;
	if (mtnl__parse_proc_buffer(data, half, &pid, &b, why, sizeof(why)) == 0 &&
	    mtnl__proc_add_buffer(&p, &b) == 0 &&
	    mtnl__parse_proc_buffer(data + half, size - half, &pid, &b, why,
				    sizeof(why)) == 0)
		mtnl__proc_add_buffer(&p, &b);
	mtnl__proc_reset(&p);
	return 0;
}
