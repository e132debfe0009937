#!/bin/sh
# In the VM: mtstat --prometheus --by-name on the demo workload, after a
# line with the demo's pids, for check-prom.py on the host.
set -u
rm -f /tmp/ready
memtrack-demo --ready-file /tmp/ready >/dev/null &
while [ ! -s /tmp/ready ]; do sleep 0.1; done
echo "# demo: $(cat /tmp/ready)"
mtstat --prometheus --by-name
