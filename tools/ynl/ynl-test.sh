#!/bin/sh
# The kernel's own YNL CLI (tools/net/ynl/cli.py, as "ynl") is a second,
# independent client of the memtrack spec: for the demo workload, what it
# reads must be what mtstat (libmemtrack-nl) reads.  Runs in the test VM
# as root.
spec=/usr/share/memtrack/memtrack.yaml
fails=0
check() {	# DESCRIPTION, then a command that must succeed
	desc=$1
	shift
	if "$@"; then
		echo "ok - $desc"
	else
		echo "not ok - $desc"
		fails=$((fails + 1))
	fi
}
ynl_json() {	# ynl arguments; JSON on stdout
	ynl --spec "$spec" --output-json "$@"
}

rm -f /tmp/ready
memtrack-demo --ready-file /tmp/ready >/dev/null &
while [ ! -s /tmp/ready ]; do sleep 0.1; done
eval "$(cat /tmp/ready)"

ynl_json --dump proc-get >/tmp/ynl-procs.json
mtstat -j >/tmp/mtstat.json
check "ynl dumps proc-get" [ -s /tmp/ynl-procs.json ]
# Every holder mtstat lists, ynl lists, and nothing else.
jq -r '.[].pid' /tmp/ynl-procs.json | sort -n >/tmp/ynl-pids
jq -r '.processes[].pid' /tmp/mtstat.json | sort -n >/tmp/mtstat-pids
check "the same holders ($(wc -l </tmp/ynl-pids) processes)" \
	cmp -s /tmp/ynl-pids /tmp/mtstat-pids
for p in "$camera" "$compositor" "$helper"; do
	y=$(ynl_json --do proc-get --json "{\"pid\": $p}" |
	    jq -c '[."nr-buffers", ."nr-fds", .total, .pss, .unique, .mapped]')
	m=$(jq -c ".processes[] | select(.pid == $p) |
	    [.nr_buffers, .nr_fds, .total, .pss, .unique, .mapped]" /tmp/mtstat.json)
	check "pid $p: ynl --do and mtstat agree ($y)" [ -n "$y" -a "$y" = "$m" ]
done
n=$(ynl_json --dump proc-buffer-get --json "{\"pid\": $camera}" | jq length)
check "proc-buffer-get lists the camera's 6 buffers ($n)" [ "$n" = 6 ]
id=$(ynl_json --dump proc-buffer-get --json "{\"pid\": $compositor}" | jq '.[0].id')
same=$(ynl_json --do buffer-get --json "{\"id\": $id}" |
       jq '.holders == (.holder | length) and .holders >= 1')
check "buffer-get of $id lists as many holders as it counts" [ "$same" = true ]
check "the spec offers proc-buffer-get as a dump" \
	sh -c "ynl --spec $spec --list-ops | grep -q '^proc-buffer-get .*dump'"
kill %1 2>/dev/null
wait
[ "$fails" = 0 ] && echo "ynl: all checks passed"
exit "$fails"
