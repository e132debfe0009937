#!/bin/sh
# Runs in the guest on the debug kernel (KASAN, kmemleak, lockdep,
# PROVE_RCU, DEBUG_OBJECTS, DEBUG_VM, fault injection): every memtrack
# selftest, the fault-injection and stress tests and the library's
# integration test; then a kmemleak scan that must find nothing.  Kernel
# reports (KASAN, lockdep, WARNING, ...) are caught by tools/vm/run from
# the kernel log.
#
#   run-debug-suite.sh [STRESS-SEEDS...]
st=/usr/libexec/memtrack/selftests
tests=/usr/libexec/memtrack/tests
fails=0
failed=""
run() {	# NAME COMMAND...
	name=$1
	shift
	echo "### $name"
	start=$(cut -d. -f1 /proc/uptime)
	if "$@"; then
		echo "### ok - $name ($(($(cut -d. -f1 /proc/uptime) - start)) s)"
	else
		echo "### not ok - $name (status $?, $(($(cut -d. -f1 /proc/uptime) - start)) s)"
		fails=$((fails + 1))
		failed="$failed $name;"
	fi
}

# Let kmemleak settle the boot's own allocations before anything runs.
echo scan >/sys/kernel/debug/kmemleak
echo clear >/sys/kernel/debug/kmemleak

run "KUnit at boot" "$st/check-kunit.sh"
for t in memtrack_test memtrack_dump_test memtrack_figures_test \
	 memtrack_map_test memtrack_events_test memtrack_nlfuzz_test \
	 memtrack_fault_test memtrack_exporter_test memtrack_process_test \
	 memtrack_gem_test; do
	case $t in
	memtrack_dump_test)
		# The scale case forks 1,000 processes: minutes under KASAN for
		# the paths the smaller dump cases cover too; the test kernel
		# runs it.
		run "$t" "$st/$t" -T resumes_over_1000_processes ;;
	*)
		run "$t" "$st/$t" ;;
	esac
done
for seed in ${*:-4}; do
	run "stress seed $seed" "$st/memtrack_stress" --seed "$seed" --ops 250
done
run "libmemtrack-nl integration" "$tests/mtnl_test_integration"
# mtstat's own test is left to the test kernel and to its ASan+UBSan run:
# what it asks the kernel, the selftests ask too, and it took a sixth of
# this boot.

# Every test process has exited.  kmemleak reports objects unreferenced
# for 5 s or more, and an object needs two scans to be reported.
sleep 6
echo scan >/sys/kernel/debug/kmemleak
echo scan >/sys/kernel/debug/kmemleak
leaks=$(cat /sys/kernel/debug/kmemleak)
if [ -n "$leaks" ]; then
	echo "### not ok - kmemleak found leaked objects:"
	echo "$leaks"
	fails=$((fails + 1))
	failed="$failed kmemleak;"
else
	echo "### ok - kmemleak: no leaked object"
fi
echo "### $fails failure(s)${failed:+:$failed}"
[ "$fails" = 0 ]
