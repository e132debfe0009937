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
	size_t half;

	if (!size)
		return 0;
	/* The first byte picks the event command, the rest is attributes. */
	mtnl__parse_event(data[0] % 8, data + 1, size - 1, &ev, why, sizeof(why));
	mtnl__parse_buffer(data, size, &b, why, sizeof(why));
	mtnl__parse_stats(data, size, &st, why, sizeof(why));
	mtnl__proc_msg_pid(data, size);
	/* A message, then the rest as its continuation. */
	half = size / 2;
	if (mtnl__parse_proc(data, half, &p, false, why, sizeof(why)) == 0)
		mtnl__parse_proc(data + half, size - half, &p, true, why, sizeof(why));
	mtnl__proc_reset(&p);
	return 0;
}
