#!/bin/sh
# mtstat's command-line conventions, on the build host (no memtrack needed):
# a bad option or combination is one line and exit 1, a write error is
# exit 5 whatever was written, --file replaces its file whole or not at
# all, and -b/--watch without the family say one line and exit 4.
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
d=$(mktemp -d)
trap 'rm -f "$err"; rm -rf "$d"' EXIT

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

# -b ID shows whole buffers: options it would ignore are usage errors.
for o in "--file $d/ids" "-N camera" "--name camera" "-t camera" "-e system" "-u 0"; do
	"$mtstat" -b 1 $o >/dev/null 2>"$err"
	check "-b ID with $o exits 1" 1 $?
	check "-b ID with $o says one line" 1 "$(wc -l <"$err")"
done

# --file: a whole new file (0644 whatever the umask) or none, and no
# temporary file left behind either way.
(umask 077 && "$mtstat" --source procfs --file "$d/table" 2>"$err")
check "--file writes the table" 0 $?
check "--file makes it 0644" 644 "$(stat -c %a "$d/table")"
"$mtstat" --source procfs --prometheus --file "$d/table" 2>"$err"
check "--file replaces it" 0 $?
grep -q '^memtrack_info{source="procfs"} 1$' "$d/table" ||
	{ echo "not ok - --file did not replace the file's content"; fail=1; }
mkdir "$d/dir"
"$mtstat" --source procfs --file "$d/dir" 2>"$err"
check "--file onto a directory exits 5" 5 $?
check "with one line" 1 "$(wc -l <"$err")"
grep -q "Is a directory" "$err" || { echo "not ok - not the rename's error: $(cat "$err")"; fail=1; }
"$mtstat" --source procfs --file "$d/missing/table" 2>"$err"
check "--file in a missing directory exits 5" 5 $?
grep -q "No such file or directory" "$err" || { echo "not ok - not the open's error: $(cat "$err")"; fail=1; }
check "no temporary file is left" "dir table" "$(ls "$d" | tr '\n' ' ' | sed 's/ $//')"

# Only where the running kernel has no memtrack family (the build host).
if "$mtstat" -V | grep -q "family: not available"; then
	for v in -b -w; do
		"$mtstat" $v >/dev/null 2>"$err"
		check "$v without memtrack exits 4" 4 $?
		check "$v without memtrack says one line" 1 "$(wc -l <"$err")"
	done
fi
exit $fail
