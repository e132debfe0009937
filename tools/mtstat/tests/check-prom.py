#!/usr/bin/env python3
"""Parse mtstat --prometheus output with the Prometheus client library's
own parser and check it against the demo workload.

  check-prom.py FILE

FILE starts with "# demo: camera=PID compositor=PID helper=PID" (a comment
to the parser), then the exposition."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

MiB = 1 << 20


def main():
    text = open(sys.argv[1]).read()
    m = re.search(r"# demo: camera=(\d+) compositor=(\d+) helper=(\d+)", text)
    if not m:
        sys.exit("no demo pids in the output")
    camera = m.group(1)
    families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(metric, **labels):
        for s in families[metric].samples:
            if all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        sys.exit(f"no {metric} sample with {labels}")

    for name in ("memtrack_process_held_bytes", "memtrack_process_pss_bytes",
                 "memtrack_process_buffers", "memtrack_process_name_bytes",
                 "memtrack_bytes", "memtrack_kernel_only_bytes", "memtrack_info"):
        if name not in families:
            sys.exit(f"missing metric family {name}")
        if families[name].type != "gauge":
            sys.exit(f"{name} is a {families[name].type}, not a gauge")
    checks = [
        ("the camera holds 20 MiB", value("memtrack_process_held_bytes", pid=camera), 20 * MiB),
        ("the camera holds 6 buffers", value("memtrack_process_buffers", pid=camera), 6),
        ("camera-still is 8 MiB of it",
         value("memtrack_process_name_bytes", pid=camera, name="camera-still"), 8 * MiB),
        ("one MiB is kernel-only", value("memtrack_kernel_only_bytes"), MiB),
        ("the source is netlink", value("memtrack_info", source="netlink"), 1),
    ]
    fail = False
    for what, got, want in checks:
        ok = got == want
        fail |= not ok
        print(f"{'ok' if ok else 'not ok'} - {what} ({got:g}, wanted {want:g})")
    labels = families["memtrack_process_held_bytes"].samples[0].labels
    if set(labels) != {"pid", "comm", "user", "cgroup"}:
        print(f"not ok - process labels are {sorted(labels)}")
        fail = True
    sys.exit(1 if fail else 0)


main()
