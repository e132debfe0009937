#!/bin/sh
# Every public function of libmemtrack-nl has a section 3 page, every page
# renders without a groff warning, and man(1) finds them by name.
#   check-man3.sh HEADER MANDIR
set -u
header=$1
dir=$2
fail=0
for f in $(sed -n 's/^MTNL_API [^(]*[ *]\(mtnl_[a-z0-9_]*\)(.*/\1/p' "$header"); do
	[ -f "$dir/man3/$f.3" ] || { echo "not ok - no page for $f"; fail=1; }
done
n=$(ls "$dir"/man3/*.3 "$dir"/man3type/*.3type | wc -l)
for p in "$dir"/man3/*.3 "$dir"/man3type/*.3type; do
	w=$(groff -man -ww -z "$p" 2>&1)
	[ -z "$w" ] || { echo "not ok - $p: $w"; fail=1; }
done
MANPATH=$dir man -w 3 mtnl_open >/dev/null 2>&1 ||
	{ echo "not ok - man 3 mtnl_open does not find the page"; fail=1; }
MANPATH=$dir man -w 3type mtnl_event_kind >/dev/null 2>&1 ||
	{ echo "not ok - man 3type mtnl_event_kind does not find the page"; fail=1; }
[ $fail = 0 ] && echo "ok - $n pages, one per public function and type, render cleanly"
exit $fail
