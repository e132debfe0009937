// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A caller of libmemtrack-nl that builds as C99 with -pedantic-errors:
 * the header must compile (check/libmemtrack-nl-header-c99 runs the
 * compiler on this file only, -fsyntax-only).
 */
#include <memtrack-nl.h>

int main(void)
{
	MTNL_OPTS(mtnl_dump_opts, o, .pid = 1, .name = "camera");
	struct mtnl_dump_opts old = { sizeof(old), 0, { "camera" }, 0 };

	o.tag = "preview";	/* the 1.0 spelling, the same member */
	return o.name == old.tag;
}
