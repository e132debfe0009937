/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/memtrack.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_MEMTRACK_GEN_H
#define _LINUX_MEMTRACK_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/memtrack.h>

int memtrack_nl_proc_get_doit(struct sk_buff *skb, struct genl_info *info);
int memtrack_nl_proc_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb);
int memtrack_nl_buffer_get_doit(struct sk_buff *skb, struct genl_info *info);
int memtrack_nl_buffer_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb);
int memtrack_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info);
int memtrack_nl_hwm_reset_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	MEMTRACK_NLGRP_EVENTS,
};

extern struct genl_family memtrack_nl_family;

#endif /* _LINUX_MEMTRACK_GEN_H */
