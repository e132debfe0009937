#!/bin/sh
# --help, the man page and the option parser name the same long options.
#   help-man-agree.sh MTSTAT MAN-PAGE SOURCE
set -u
mtstat=$1
man=$2
src=$3
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$mtstat" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u >"$t/help"
sed -n '/^\.SH OPTIONS/,/^\.SH [A-Z]/p' "$man" | sed 's/\\-/-/g' | grep -oE -- '^\.B[IR]? +--[a-z][a-z-]+|^\.B[IR]? +-[a-zA-Z]+ ?", " --[a-z][a-z-]+' |
	grep -oE -- '--[a-z][a-z-]+' | sort -u >"$t/man"
# Old spellings kept for compatibility ("alias of") are documented in
# prose, not as options of their own.
grep -v 'alias of' "$src" |
	sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument.*/--\1/p' | sort -u >"$t/parser"
fail=0
for a in help man; do
	if ! diff -u "$t/parser" "$t/$a" >"$t/diff"; then
		echo "not ok - the parser's long options and the $a differ:"
		sed 's/^/  /' "$t/diff"
		fail=1
	fi
done
[ $fail = 0 ] && echo "ok - --help, mtstat(1) and the parser agree on $(wc -l <"$t/parser") long options"
"$mtstat" -V | head -1 | grep -q "^mtstat $(sed -n 's/^\.TH MTSTAT 1 [^ ]* "memtrack \([^"]*\)".*/\1/p' "$man")\$" ||
	{ echo "not ok - mtstat -V and the man page's version differ"; fail=1; }
exit $fail
