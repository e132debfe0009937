#!/bin/sh
# Runs inside the guest: start the demo workload, then show mtstat's views.
set -e
rm -f /tmp/demo.ready
memtrack-demo --ready-file /tmp/demo.ready >/dev/null &
while [ ! -s /tmp/demo.ready ]; do sleep 0.1; done
eval "$(cat /tmp/demo.ready)"

show() {
	echo "\$ $*"
	"$@"
	echo
}
echo "Demo workload: camera ($camera) shares buffers with compositor ($compositor)"
echo "over SCM_RIGHTS; the compositor maps two and forks comp-helper ($helper)."
echo "The camera keeps camera-retired through a mapping only; camera-in-flight sits"
echo "in a socket queue, kept alive by the kernel alone."
gpu=
if [ -e /dev/dri/card0 ] && command -v memtrack-gpu-client >/dev/null; then
	rm -f /tmp/gpu.ready
	memtrack-gpu-client --from "$camera" --name camera-preview-0 \
		--ready-file /tmp/gpu.ready &
	while [ ! -s /tmp/gpu.ready ]; do sleep 0.1; done
	eval "$(cat /tmp/gpu.ready)"
	echo "gpu-client ($gpu) imported camera-preview-0 into the GPU (vgem) with PRIME and"
	echo "closed the fd: a GEM handle alone keeps it, which a procfs scan cannot see."
fi
echo
show mtstat
show mtstat -p "$camera,$compositor${gpu:+,$gpu}"
show mtstat --by-name -N camera-preview-0
show mtstat -b
show mtstat -j -p "$helper"
echo "The same processes, found the slow way (procfs scan, as dmabuf_dump does):"
show mtstat --source=procfs
# The demo doubles as a smoke test: fail if the views missed the workload.
json=$(mtstat -j)
for want in '"comm":"camera"' '"comm":"compositor"' '"comm":"comp-helper"' \
	    '"kernel_only_buffers":1'; do
	case $json in
	*"$want"*) ;;
	*) echo "demo: mtstat -j lacks $want" >&2; kill "$camera"; exit 1 ;;
	esac
done
if [ -n "$gpu" ]; then
	case $json in
	*'"comm":"gpu-client"'*) ;;
	*) echo "demo: mtstat -j lacks the GPU client" >&2; kill "$camera" "$gpu"; exit 1 ;;
	esac
	kill "$gpu"
fi
kill "$camera"
wait
