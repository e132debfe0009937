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
	sed -e 's/"buffer_list".*//' | grep -o '"buffers":[0-9]*,"fds":[0-9]*,"total":[0-9]*'
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
check "camera holds 5 buffers, 19 MiB" \
	sh -c "mtstat -j -p $camera | grep -q '\"buffers\":5,\"fds\":5,\"total\":19922944'"
check "the tag filter keeps the 3 holders of camera-still" \
	[ "$(mtstat -j -t camera-still | grep -o '"pid":' | wc -l)" = 3 ]
check "the exporter filter keeps udmabuf's 2 MiB" \
	sh -c "mtstat -j -e udmabuf -p $camera | grep -q '\"total\":2097152'"
check "-b marks the mapped-only buffer kernel-only" \
	sh -c "mtstat -b | grep camera-retired | grep -q kernel"
check "--by-tag lists per-tag lines" sh -c "mtstat --by-tag -p $camera >/dev/null && mtstat --by-tag | grep -q camera-preview-0"
check "--bytes prints raw sizes" sh -c "mtstat --bytes | grep -q 19922944"
check "-s pid sorts by pid" sh -c "mtstat -j -s pid | grep -o '\"pid\":[0-9]*' | cut -d: -f2 | sort -nc"
check "-i 0.2 -c 2 prints two rounds" [ "$(mtstat -i 0.2 -c 2 | grep -c '^---')" = 2 ]
check "--version names the family version" sh -c "mtstat --version | grep -q 'family version 1'"
check "--help exits 0" status_is 0 mtstat --help
check "unknown pid exits 2" status_is 2 mtstat -p 4000000
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

kill "$camera"
wait
echo "$fails failure(s)"
[ "$fails" = 0 ]
