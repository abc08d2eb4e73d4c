#!/usr/bin/env bash
# Cross-architecture tests: tests/cross/aarch64.sh and tests/cross/armv7.sh,
# each with the core suite on small models (CROSS_CORE_TESTS in lib.sh) or the
# tests named as arguments (tests/cross/all.sh [test names...]), the two
# at once (each building with half the cores; CROSS_PARALLEL=0 runs one
# after the other). An architecture whose cross compiler, C library or qemu
# is missing is skipped with a message (counted as 1 skipped).
# Prints each architecture's lines, then "RESULT passed failed skipped" (the
# sums of the test programs' RESULT lines, as tests/run_tests.sh adds them);
# with CROSS_TOTALS=FILE also appends "passed failed skipped" to FILE.
# Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/../.."
archs=(aarch64 armv7)
start=$(date +%s)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
jobs=$(($(nproc) / ${#archs[@]}))
[ "$jobs" -ge 1 ] || jobs=1
pids=()
for a in "${archs[@]}"; do
    if [ "${CROSS_PARALLEL:-1}" = 1 ]; then
        CROSS_JOBS=$jobs bash "tests/cross/$a.sh" "$@" >"$logs/$a" 2>&1 &
        pids+=($!)
    else
        bash "tests/cross/$a.sh" "$@" 2>&1 | tee "$logs/$a" | sed "/^RESULT /d"
    fi
done
passed=0 failed=0 skipped=0
for i in "${!archs[@]}"; do
    a=${archs[$i]}
    if [ "${CROSS_PARALLEL:-1}" = 1 ]; then
        wait "${pids[$i]}"
        sed "/^RESULT /d" "$logs/$a"
    fi
    res=$(grep '^RESULT ' "$logs/$a" | tail -1)
    if [ -z "$res" ]; then
        echo "$a: no RESULT line"
        failed=$((failed + 1))
        continue
    fi
    set -- $res
    passed=$((passed + $2)) failed=$((failed + $3)) skipped=$((skipped + $4))
done
echo "cross: $passed passed, $failed failed, $skipped skipped in $(($(date +%s) - start)) s (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
[ -n "${CROSS_TOTALS:-}" ] && echo "$passed $failed $skipped" >>"$CROSS_TOTALS"
echo "RESULT $passed $failed $skipped"
[ "$failed" = 0 ]
