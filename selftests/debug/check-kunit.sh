#!/bin/sh
# Runs in the guest: memtrack's KUnit suite ran at boot (CONFIG_KUNIT,
# CONFIG_MEMTRACK_KUNIT_TEST).  Print its KTAP from the kernel log and
# require every one of its CASES cases to have passed (without CASES:
# every case it reports, and at least one).
#
#   check-kunit.sh [CASES]
cases=${1:-[1-9][0-9]*}
log=$(dmesg | sed 's/^\[[^]]*\] //')
echo "$log" | sed -n '/# Subtest: memtrack$/,/^ *\(not \)\{0,1\}ok [0-9]* memtrack$/p'
summary=$(echo "$log" | grep -E '# memtrack: pass:[0-9]+ fail:[0-9]+ skip:[0-9]+ total:[0-9]+' | tail -n 1)
if [ -z "$summary" ]; then
	echo "not ok - no memtrack KUnit summary in the kernel log"
	exit 1
fi
total=$(echo "$summary" | sed 's/.*total:\([0-9]*\).*/\1/')
if ! echo "$summary" | grep -qE "pass:$cases fail:0 skip:0 total:$cases\$" ||
   ! echo "$summary" | grep -q "pass:$total "; then
	echo "not ok - expected $cases memtrack KUnit cases to pass: $summary"
	exit 1
fi
echo "ok - memtrack KUnit: $total of $total cases passed"
