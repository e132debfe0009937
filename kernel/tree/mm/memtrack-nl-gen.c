// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/memtrack.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "memtrack-nl-gen.h"

#include <uapi/linux/memtrack.h>

/* MEMTRACK_CMD_PROC_GET - do */
static const struct nla_policy memtrack_proc_get_do_nl_policy[MEMTRACK_A_PROC_FILTER_EXPORTER + 1] = {
	[MEMTRACK_A_PROC_PID] = NLA_POLICY_MIN(NLA_U32, 1),
	[MEMTRACK_A_PROC_FILTER_NAME] = { .type = NLA_NUL_STRING, .len = 31, },
	[MEMTRACK_A_PROC_FILTER_EXPORTER] = { .type = NLA_NUL_STRING, .len = 63, },
};

/* MEMTRACK_CMD_PROC_GET - dump */
static const struct nla_policy memtrack_proc_get_dump_nl_policy[MEMTRACK_A_PROC_FILTER_EXPORTER + 1] = {
	[MEMTRACK_A_PROC_PID] = NLA_POLICY_MIN(NLA_U32, 1),
	[MEMTRACK_A_PROC_FILTER_NAME] = { .type = NLA_NUL_STRING, .len = 31, },
	[MEMTRACK_A_PROC_FILTER_EXPORTER] = { .type = NLA_NUL_STRING, .len = 63, },
};

/* MEMTRACK_CMD_BUFFER_GET - do */
static const struct nla_policy memtrack_buffer_get_nl_policy[MEMTRACK_A_BUFFER_ID + 1] = {
	[MEMTRACK_A_BUFFER_ID] = { .type = NLA_UINT, },
};

/* Ops table for memtrack */
static const struct genl_split_ops memtrack_nl_ops[] = {
	{
		.cmd		= MEMTRACK_CMD_PROC_GET,
		.doit		= memtrack_nl_proc_get_doit,
		.policy		= memtrack_proc_get_do_nl_policy,
		.maxattr	= MEMTRACK_A_PROC_FILTER_EXPORTER,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MEMTRACK_CMD_PROC_GET,
		.dumpit		= memtrack_nl_proc_get_dumpit,
		.policy		= memtrack_proc_get_dump_nl_policy,
		.maxattr	= MEMTRACK_A_PROC_FILTER_EXPORTER,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= MEMTRACK_CMD_BUFFER_GET,
		.doit		= memtrack_nl_buffer_get_doit,
		.policy		= memtrack_buffer_get_nl_policy,
		.maxattr	= MEMTRACK_A_BUFFER_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= MEMTRACK_CMD_BUFFER_GET,
		.dumpit	= memtrack_nl_buffer_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= MEMTRACK_CMD_STATS_GET,
		.doit	= memtrack_nl_stats_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= MEMTRACK_CMD_HWM_RESET,
		.doit	= memtrack_nl_hwm_reset_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group memtrack_nl_mcgrps[] = {
	[MEMTRACK_NLGRP_EVENTS] = { "events", },
};

struct genl_family memtrack_nl_family __ro_after_init = {
	.name		= MEMTRACK_FAMILY_NAME,
	.version	= MEMTRACK_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= memtrack_nl_ops,
	.n_split_ops	= ARRAY_SIZE(memtrack_nl_ops),
	.mcgrps		= memtrack_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(memtrack_nl_mcgrps),
};
