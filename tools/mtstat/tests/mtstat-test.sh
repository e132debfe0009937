#!/bin/sh
# mtstat against the real patched kernel (runs in the test VM as root).
# Each check compares mtstat's output with another source of truth: the
# procfs scan, the demo workload's known layout, or the exit-code table.
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
status_is() {	# EXPECTED COMMAND...
	want=$1
	shift
	"$@" >/tmp/out 2>/tmp/err
	got=$?
	[ "$got" = "$want" ] || { echo "  exit $got, wanted $want; stderr: $(cat /tmp/err)"; return 1; }
}
figures() {	# the per-process figures both sources know
	jq -c '.processes[] | [.pid, .nr_buffers, .nr_fds, .total]'
}

rm -f /tmp/ready
memtrack-demo --ready-file /tmp/ready >/dev/null &
while [ ! -s /tmp/ready ]; do sleep 0.1; done
eval "$(cat /tmp/ready)"

for p in "$camera" "$compositor" "$helper"; do
	nl=$(mtstat -j -p "$p" | figures)
	pf=$(mtstat --source=procfs -j -p "$p" | figures)
	check "pid $p: netlink and procfs agree ($nl)" [ -n "$nl" -a "$nl" = "$pf" ]
done
# -p asks the kernel for those pids alone: its figures, sharing included,
# must be the ones the all-process view shows for them.
one_vs_all() {	# PID
	one=$(mtstat -j -p "$1" | jq -c '.processes[0] | del(.buffers)')
	all=$(mtstat -j | jq -c ".processes[] | select(.pid == $1)")
	case $one in *'"pss":'*) ;; *) echo "  no figures: $one"; return 1 ;; esac
	[ "$one" = "$all" ] || { echo "  -p: $one"; echo "  all: $all"; return 1; }
}
for p in "$camera" "$compositor" "$helper"; do
	check "pid $p: -p and the all-process view agree, pss and unique included" one_vs_all "$p"
done
check "-p with a name filter: the pid's figures cover the matching buffers" \
	sh -c "[ \"\$(mtstat -j -N camera-still -p $camera | jq -c '.processes[0] | del(.buffers)')\" = \
	        \"\$(mtstat -j -N camera-still | jq -c '.processes[] | select(.pid == $camera)')\" ]"
check "-p the same pid twice shows it once" \
	sh -c "mtstat -j -p $camera,$compositor,$camera | jq -e '[.processes[].pid] == [$camera, $compositor]' >/dev/null"
check "-p with a filter nothing matches shows the pid with zero figures" \
	sh -c "mtstat -j -N no-such-name -p $camera | jq -e '.processes[0] | .pid == $camera and .total == 0' >/dev/null"
check "camera holds 6 buffers, one through a mapping only, 20 MiB" \
	sh -c "mtstat -j -p $camera | grep -q '\"nr_buffers\":6,\"nr_fds\":5,\"total\":20971520'"
check "camera maps 1 MiB, the compositor 8 MiB" \
	sh -c "mtstat -j -p $camera | grep -q '\"mapped\":1048576,' &&
	       mtstat -j -p $compositor | grep -q '\"mapped\":8388608,'"
check "-p shows the mapping-only buffer with 0 fds and its mapped bytes" \
	sh -c "mtstat -p $camera | grep camera-retired | grep -q ' 0 *1.0 MiB'"
check "procfs finds the same mapped bytes" \
	sh -c "mtstat --source=procfs -j -p $compositor | grep -q '\"mapped\":8388608,'"
check "the name filter keeps the 3 holders of camera-still" \
	[ "$(mtstat -j -N camera-still | grep -o '"pid":' | wc -l)" = 3 ]
check "-t, --tag and --by-tag, the first revision's spellings, still work" \
	sh -c "[ \"\$(mtstat -j -t camera-still)\" = \"\$(mtstat -j --name camera-still)\" ] &&
	       [ \"\$(mtstat -j --tag camera-still -s tag)\" = \"\$(mtstat -j -N camera-still -s name)\" ] &&
	       mtstat -j --by-tag -p $camera | jq -e '.processes[0].by_name[\"camera-still\"]' >/dev/null"
check "the exporter filter keeps udmabuf's 2 MiB" \
	sh -c "mtstat -j -e udmabuf -p $camera | grep -q '\"total\":2097152'"
check "-b marks the in-flight buffer kernel-only, not the mapped one" \
	sh -c "mtstat -b | grep camera-in-flight | grep -q kernel &&
	       ! mtstat -b | grep camera-retired | grep -q kernel"
check "--by-name lists per-name lines" sh -c "mtstat --by-name -p $camera >/dev/null && mtstat --by-name | grep -q camera-preview-0"
check "--bytes prints raw sizes" sh -c "mtstat --bytes | grep -q 20971520"
check "-s pid sorts by pid" sh -c "mtstat -j -s pid | grep -o '\"pid\":[0-9]*' | cut -d: -f2 | sort -nc"
check "-i 0.2 -c 2 prints two rounds" [ "$(mtstat -i 0.2 -c 2 | grep -c '^---')" = 2 ]
check "--version names the family version" sh -c "mtstat --version | grep -q 'family version 1'"
check "--help exits 0" status_is 0 mtstat --help
check "unknown pid exits 2" status_is 2 mtstat -p 4000000
# A pid that is not a live process is never silently absent: a message on
# stderr, nothing on stdout, status 2 -- in every mode and from both sources.
no_pid() {	# PATTERN MTSTAT-ARGS...: exit 2, nothing printed, PATTERN on stderr
	pat=$1
	shift
	timeout 20 mtstat "$@" >/tmp/o 2>/tmp/e
	got=$?
	[ "$got" = 2 ] && [ ! -s /tmp/o ] && grep -Eq "$pat" /tmp/e ||
		{ echo "  exit $got; stdout: $(cat /tmp/o); stderr: $(cat /tmp/e)"; return 1; }
}
check "unknown pid: a message on stderr" no_pid 'pid 4000000: no such process' -p 4000000
check "unknown pid, JSON: a message, no output" no_pid 'no such process' -j -p 4000000
check "unknown pid, procfs: a message" no_pid 'no such process' --source=procfs -p 4000000
check "unknown pid among known ones: a message" no_pid 'pid 4000000' -p "$camera,4000000"
check "--watch of an unknown pid exits 2 at once" \
	no_pid 'no such process' -w -p 4000000
# A zombie: its parent, which holds nothing, never reaps it.
rm -f /tmp/zpid
/usr/libexec/memtrack/tests/mtstat-workload --zombie /tmp/zpid &
zparent=$!
while [ ! -s /tmp/zpid ]; do sleep 0.1; done
eval "$(cat /tmp/zpid)"
check "a zombie pid: exit 2, it has exited" no_pid 'has exited|no such process' -p "$zombie"
check "a zombie pid, procfs: exit 2, it has exited" no_pid 'has exited' --source=procfs -p "$zombie"
check "a live process that holds nothing is shown with zero figures" \
	sh -c "mtstat -j -p $zparent | jq -e '.processes | length == 1 and .[0].pid == $zparent and .[0].nr_buffers == 0 and .[0].total == 0' >/dev/null"
kill "$zparent"
wait "$zparent" 2>/dev/null
# A process whose main thread exited while another thread holds a
# buffer: the leader is a zombie, the process is not; its thread id is
# not a process id.
rm -f /tmp/le
/usr/libexec/memtrack/tests/mtstat-workload --leader-exit /tmp/le &
lexit=$!
while [ ! -s /tmp/le ]; do sleep 0.1; done
eval "$(cat /tmp/le)"
check "a process with a zombie leader shows its buffer (netlink)" \
	sh -c "mtstat -j -p $pid | jq -e '.processes[0] | .pid == $pid and .nr_buffers == 1 and .total == 65536' >/dev/null"
check "a process with a zombie leader shows its buffer (procfs)" \
	sh -c "mtstat --source=procfs -j -p $pid | jq -e '.processes[0] | .pid == $pid and .nr_buffers == 1 and .total == 65536' >/dev/null"
check "the process list includes a process with a zombie leader" \
	sh -c "mtstat -j | jq -e '[.processes[] | select(.pid == $pid)] | length == 1' >/dev/null"
check "a thread id: exit 2, it names the process" no_pid "thread of process $pid" -p "$tid"
check "a thread id, procfs: exit 2, it names the process" \
	no_pid "thread of process $pid" --source=procfs -p "$tid"
kill "$lexit"
wait "$lexit" 2>/dev/null
check "bad pid exits 1" status_is 1 mtstat -p 12abc
check "bad sort field exits 1" status_is 1 mtstat -s nonsense
check "-c without -i exits 1" status_is 1 mtstat -c 3
check "unknown option exits 1" status_is 1 mtstat --frobnicate
check "an unprivileged -b exits 3 and says why" sh -c \
	"su -s /bin/sh mtuser -c 'mtstat -b' >/dev/null 2>/tmp/err; [ \$? = 3 ] && grep -q CAP_SYS_ADMIN /tmp/err"
check "an unprivileged -p of root's process exits 3" sh -c \
	"su -s /bin/sh mtuser -c 'mtstat -p $camera' >/dev/null 2>/tmp/err; [ \$? = 3 ] && grep -q 'permission denied' /tmp/err"
check "an unprivileged --watch exits 3" sh -c \
	"su -s /bin/sh mtuser -c 'mtstat -w' >/dev/null 2>&1; [ \$? = 3 ]"

# --watch: one JSON object per event while a second workload runs.
mtstat -w -j >/tmp/watch 2>/tmp/watch.err &
watcher=$!
sleep 0.5
memtrack-demo --ready-file /tmp/ready2 >/dev/null &
demo2=$!
while [ ! -s /tmp/ready2 ]; do sleep 0.1; done
kill "$demo2"
wait "$demo2"
sleep 0.5
kill -INT "$watcher"
wait "$watcher"
check "--watch exits 0 on SIGINT" [ $? = 0 ]
check "--watch saw installs" grep -q '"event":"install"' /tmp/watch
check "--watch saw the compositor's fork" grep -q '"event":"fork"' /tmp/watch
check "--watch saw exit uninstalls" grep -q '"reason":"exit"' /tmp/watch
check "--watch lines are whole JSON objects" sh -c "! grep -v '^{.*}\$' /tmp/watch"

# --- JSON, parsed with jq and checked against the demo workload.
jq_check() {	# DESCRIPTION JQ-EXPRESSION MTSTAT-ARGS...
	desc=$1
	expr=$2
	shift 2
	check "$desc" sh -c 'mtstat -j "$@" | jq -e "$0" >/dev/null' "$expr" "$@"
}
MiB=1048576
# pss divides each buffer by its holders in integers: 4 MiB / 3 rounds down.
jq_check "JSON: the camera's figures" \
	".processes[] | select(.pid == $camera) | .comm == \"camera\" and .nr_buffers == 6 and
	 .nr_fds == 5 and .total == 20 * $MiB and .unique == 2 * $MiB and
	 (8 * $MiB - .pss) < 4 and
	 .mapped == $MiB and .hwm == 21 * $MiB and .incomplete == false"
jq_check "JSON: the compositor and its helper share 18 MiB three ways" \
	"[.processes[] | select(.pid == $compositor or .pid == $helper) |
	  .nr_buffers == 4 and .nr_fds == 4 and .total == 18 * $MiB and (6 * $MiB - .pss) < 4 and
	  .unique == 0 and .mapped == 8 * $MiB] == [true, true]"
jq_check "JSON: the summary counts the kernel-only buffer" \
	".summary | .held_buffers == 6 and .held_bytes == 20 * $MiB and .all_buffers == 7 and
	 .all_bytes == 21 * $MiB and .kernel_only_buffers == 1 and .kernel_only_bytes == $MiB"
# The plain list reads the processes' figures alone and takes the
# summary's held figures from the buffer list; -u 0 (every demo process
# is root's) makes it read every buffer of every process instead.  Both
# must say the same.
check "the summary is the same read from figures alone and from every buffer" \
	sh -c "[ \"\$(mtstat -j | jq -c '[.summary, [.processes[] | del(.user)]]')\" = \
	        \"\$(mtstat -j -u 0 | jq -c '[.summary, [.processes[] | del(.user)]]')\" ]"
jq_check "JSON: the name filter applies to the summary read from figures alone" \
	".summary | .held_buffers == 1 and .all_buffers == 1" -N camera-still
jq_check "JSON: -p lists the mapping-only buffer with 0 fds" \
	".processes[0].buffers[] | select(.name == \"camera-retired\") |
	 .fds == 0 and .mapped == $MiB and .holders == 1 and .size == $MiB" -p "$camera"
jq_check "JSON: -p counts holders as processes" \
	"[.processes[0].buffers[] | select(.name == \"camera-preview-0\") |
	  .holders == 3 and .fds == 1 and .mapped == 4 * $MiB] == [true]" -p "$compositor"
jq_check "JSON: -b marks only the in-flight buffer kernel-only" \
	"[.buffers[] | select(.kernel_only) | .name] == [\"camera-in-flight\"] and
	 ([.buffers[] | select(.name == \"camera-retired\") | .holders] == [1])" -b
preview=$(mtstat -j -b | jq -r '.buffers[] | select(.name == "camera-preview-0") | .id')
inflight=$(mtstat -j -b | jq -r '.buffers[] | select(.name == "camera-in-flight") | .id')
jq_check "JSON: -b ID lists the three holders of a shared buffer" \
	".buffers[0] | .id == $preview and .holders == 3 and (.processes | length) == 3 and
	 ([.processes[].pid] | sort) == ([$camera, $compositor, $helper] | sort) and
	 ([.processes[] | select(.pid == $compositor) | .mapped] == [4 * $MiB])" -b "$preview"
jq_check "JSON: -b ID of a kernel-only buffer has no process" \
	".buffers[0] | .kernel_only and .holders == 0 and .processes == []" -b "$inflight"
check "-b ID says who holds it" sh -c "mtstat -b $preview | grep -q '3 holders' &&
	[ \$(mtstat -b $preview | grep -cE '^ +[0-9]+  ') = 3 ]"
check "-b of an unknown id exits 2" status_is 2 mtstat -b 999999999999
held=$(mtstat -j | jq '.summary.held_bytes')
jq_check "JSON: --by-user puts the demo's root processes in one row, total held once" \
	"([.users[] | select(.user == \"root\")] | length) == 1 and
	 .total.held == $held and .total.held <= ([.users[].held] | add)" --by-user
# The compositor moves to its own cgroup: two rows, and the compositor's
# row holds what the compositor holds alone.
comp_total=$(mtstat -j -p "$compositor" | jq '.processes[0].total')
mkdir /sys/fs/cgroup/compositor && echo "$compositor" >/sys/fs/cgroup/compositor/cgroup.procs
jq_check "JSON: --by-cgroup has the root and the compositor's cgroup, total held once" \
	"([.cgroups[].cgroup] | sort) == [\"/\", \"/compositor\"] and
	 ([.cgroups[] | select(.cgroup == \"/compositor\") | [.nr_processes, .held]] ==
	  [[1, $comp_total]]) and
	 .total.held == $held and ([.cgroups[].held] | add) >= .total.held and
	 .total.nr_processes == ([.cgroups[].nr_processes] | add)" --by-cgroup
check "--prometheus labels the compositor with its cgroup" \
	sh -c "mtstat --prometheus | grep -q 'pid=\"$compositor\".*cgroup=\"/compositor\"'"
check "--by-user ends with a TOTAL row" sh -c "mtstat --by-user | tail -1 | grep -q '^TOTAL '"
jq_check "JSON: --by-name splits the camera's total" \
	".processes[] | select(.pid == $camera) | .by_name[\"camera-still\"].bytes == 8 * $MiB and
	 .by_name[\"gl-texture\"].bytes == 2 * $MiB" --by-name

# --- Golden human output: each view on the demo workload.  Pids become
# names and buffer ids ID; spacing is compared separately, as alignment.
golden=/usr/libexec/memtrack/tests/golden
norm() {	# [ids]: also replace a leading number (a buffer id) by ID
	awk -v c="$camera" -v m="$compositor" -v h="$helper" -v ids="${1:-}" '{
		for (i = 1; i <= NF; i++)
			if ($i == c) $i = "CAMERA"
			else if ($i == m) $i = "COMPOSITOR"
			else if ($i == h) $i = "HELPER"
			else if ($i == "(" c ")" || $i == c ":") $i = "CAMERA"
		if (ids && $1 ~ /^[0-9]+$/) $1 = "ID"
		$1 = $1
		print
	}'
}
aligned() {	# every line of a table has the header's length
	awk 'NR == 1 { n = length($0) } length($0) != n { print "  misaligned: " $0; bad = 1 }
	     END { exit bad }'
}
golden_check() {	# NAME [ids] -- MTSTAT-ARGS...
	name=$1
	ids=$2
	shift 3
	mtstat "$@" >/tmp/g.raw 2>/tmp/g.err
	norm "$ids" </tmp/g.raw >/tmp/g.out
	if cmp -s /tmp/g.out "$golden/$name.txt"; then
		echo "ok - golden: mtstat $*"
	else
		echo "not ok - golden: mtstat $*"
		diff "$golden/$name.txt" /tmp/g.out | sed 's/^/  /'
		fails=$((fails + 1))
	fi
}
proc_table_aligned() { mtstat | sed '/^$/,$d' | aligned; }
pid_table_aligned() { mtstat -p "$camera" | tail -n +2 | aligned; }
buffer_table_aligned() { mtstat -b | aligned; }
golden_check processes "" -- -s pid
check "the process table is aligned" proc_table_aligned
golden_check pid-camera ids -- -p "$camera"
check "the -p table is aligned" pid_table_aligned
golden_check buffers ids -- -b -s name
check "the -b table is aligned" buffer_table_aligned
golden_check by-exporter "" -- --by-exporter -s pid

# --- --watch: the exact events of a scripted workload, in both formats.
W=/usr/libexec/memtrack/tests/mtstat-workload
subscribed() {	# FILE...: wait until every watcher printed an event
	tries=0
	while [ $tries -lt 300 ]; do
		"$W" --flood 1
		ok=1
		for f in "$@"; do
			grep -q 'install' "$f" || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
		tries=$((tries + 1))
	done
	echo "  a watcher never subscribed"
	return 1
}
mtstat -w -j >/tmp/wj 2>/tmp/wj.err &
wj=$!
mtstat -w >/tmp/wh 2>/tmp/wh.err &
wh=$!
subscribed /tmp/wj /tmp/wh
"$W" >/tmp/wl || echo "  the workload failed"
sleep 0.5
kill -INT "$wj" "$wh"
wait "$wj"
wait "$wh"
eval "$(cat /tmp/wl)"
got=$(jq -r --argjson p "$parent" --argjson c "$child" 'select(.pid == $p or .pid == $c) |
	"\(if .pid == $p then "P" else "C" end) \(.event)\(if .reason then "/" + .reason else "" end) \(.buffer.name // "-") \(.total)"' /tmp/wj |
	tr '\n' ';')
want="P install  65536;C fork - 65536;C bulk/exit - 0;P uninstall/unmap w-a 0;P install  32768;P uninstall/close w-b 0;"
check "--watch -j: exactly the workload's events ($got)" [ "$got" = "$want" ]
# jq -s: one verdict over the whole stream (-e alone judges the last line).
check "--watch -j: the fork names its parent" \
	jq -s -e "[.[] | select(.event == \"fork\" and .pid == $child)] |
		  length == 1 and .[0].parent == $parent and .[0].nr_buffers == 1" /tmp/wj
check "--watch -j: sequence numbers step by one" \
	jq -s -e '[.[].seq] as $s | length > 5 and all(range(1; $s | length); $s[.] == $s[. - 1] + 1)' /tmp/wj
check "--watch: the human stream has the same events" sh -c \
	"[ \$(grep -c \" $parent \\| $child \" /tmp/wh) = 6 ] &&
	 grep \"uninstall/unmap\" /tmp/wh | grep -q \" $parent .* w-a \" &&
	 grep -q \"fork<$parent  *$child \" /tmp/wh"

# --- Forced loss: watchers with a tiny buffer, stopped during a flood,
# print the loss line, resynchronise, and go on.
mtstat -w -j --rcvbuf 2048 >/tmp/lj 2>&1 &
lj=$!
mtstat -w --rcvbuf 2048 >/tmp/lh 2>&1 &
lh=$!
subscribed /tmp/lj /tmp/lh
kill -STOP "$lj" "$lh"
"$W" --flood 300
kill -CONT "$lj" "$lh"
# Let both resynchronise before more events come (a slow kernel needs time).
tries=0
while [ $tries -lt 600 ] && ! { grep -q '"resync"' /tmp/lj && grep -q '^--- resync' /tmp/lh; }; do
	sleep 0.1
	tries=$((tries + 1))
done
sleep 1
"$W" >/tmp/wl
sleep 0.5
kill -INT "$lj" "$lh"
wait "$lj"
wait "$lh"
eval "$(cat /tmp/wl)"
check "a forced loss prints the loss line and resyncs (JSON)" \
	jq -s -e '[.[] | select(.event == "lost")] | length >= 1 and all(.resync)' /tmp/lj
check "a forced loss prints the loss line and resyncs (human)" sh -c \
	"grep -q '^--- .*events lost' /tmp/lh && grep -q '^--- resynced at generation' /tmp/lh"
check "after the loss the watch goes on" \
	jq -s -e "any(.[]; .pid == $parent and .reason == \"unmap\")" /tmp/lj
grep '"lost"' /tmp/lj | sed 's/^/  /'
grep '^---' /tmp/lh | sed 's/^/  /'
check "--rcvbuf without --watch exits 1" status_is 1 mtstat --rcvbuf 4096
check "a tiny --rcvbuf exits 1" status_is 1 mtstat -w --rcvbuf 12

kill "$camera"
wait
echo "$fails failure(s)"
[ "$fails" = 0 ]
