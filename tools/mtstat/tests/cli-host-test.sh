#!/bin/sh
# mtstat's command-line conventions, on the build host (no memtrack needed):
# a bad option is one line and exit 1, a write error is exit 5 whatever
# was written, and -b/--watch without the family say one line and exit 4.
#   cli-host-test.sh MTSTAT
set -u
mtstat=${1:?usage: cli-host-test.sh MTSTAT}
fail=0
check() {	# DESCRIPTION EXPECTED-STATUS STATUS
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1 (exit $3, wanted $2)"
		fail=1
	fi
}
err=$(mktemp)
trap 'rm -f "$err"' EXIT

"$mtstat" --no-such-option >/dev/null 2>"$err"
check "an unknown option exits 1" 1 $?
check "with two lines: what, and where to look" 2 "$(wc -l <"$err")"
grep -q "mtstat --help" "$err" || { echo "not ok - no pointer to --help"; fail=1; }

"$mtstat" --help >/dev/full 2>"$err"
check "--help to a full disk exits 5" 5 $?
grep -q "write error" "$err" || { echo "not ok - no write error message"; fail=1; }

"$mtstat" -V >/dev/full 2>/dev/null
check "-V to a full disk exits 5" 5 $?

"$mtstat" --source procfs >/dev/full 2>"$err"
check "a procfs view to a full disk exits 5" 5 $?

# Only where the running kernel has no memtrack family (the build host).
if "$mtstat" -V | grep -q "family: not available"; then
	for v in -b -w; do
		"$mtstat" $v >/dev/null 2>"$err"
		check "$v without memtrack exits 4" 4 $?
		check "$v without memtrack says one line" 1 "$(wc -l <"$err")"
	done
fi
exit $fail
