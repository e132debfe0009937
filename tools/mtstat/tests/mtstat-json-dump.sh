#!/bin/sh
# In the VM: every JSON document mtstat prints, on the demo workload, each
# after a line "=== NAME", for check-json.py --sections on the host.
set -u
rm -f /tmp/ready
memtrack-demo --ready-file /tmp/ready >/dev/null &
while [ ! -s /tmp/ready ]; do sleep 0.1; done
eval "$(cat /tmp/ready)"
section() {	# NAME MTSTAT-ARGS...
	name=$1
	shift
	echo "=== $name"
	mtstat "$@" || echo "mtstat $* failed: $?" >&2
}
section processes -j
section processes-by-name -j --by-name
section processes-procfs -j --source=procfs
section pids -j -p "$camera,$compositor"
section pids-by-exporter -j --by-exporter -p "$camera"
section buffers -j -b
section buffer-ids -j -b $(mtstat -j -b | jq -r '[.buffers[].id] | .[0:3] | join(" ")')
section by-user -j --by-user
section by-cgroup --pretty --by-cgroup
mtstat -w -j >/tmp/wj 2>/dev/null &
w=$!
sleep 1
/usr/libexec/memtrack/tests/mtstat-workload >/dev/null
sleep 0.5
kill -INT "$w"
wait "$w"
echo "=== watch"
cat /tmp/wj
