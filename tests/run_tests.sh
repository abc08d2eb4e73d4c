#!/usr/bin/env bash
# Runs every test of a build directory from the repository root and prints
# "N passed, N failed, N skipped". Usage: tests/run_tests.sh BUILD_DIR
# With VALGRIND=1 the C tests run under valgrind's memcheck (any error or
# definite leak fails them) and, instead of the CLI tests, a few commands do.
set -u
build=${1:?usage: tests/run_tests.sh BUILD_DIR}
cd "$(dirname "$0")/.."
export BIBIM="$build/bibim"
passed=0 failed=0 skipped=0 broken=()
run_one() {
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^RESULT ' | sed "s|^|[$name] |"
    local res
    res=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
    if [ -z "$res" ]; then
        echo "[$name] crashed or exited early (status $rc)"
        failed=$((failed + 1)); broken+=("$name"); return
    fi
    set -- $res
    passed=$((passed + $2)); failed=$((failed + $3)); skipped=$((skipped + $4))
    if [ "$3" != 0 ] || [ "$rc" != 0 ]; then broken+=("$name"); [ "$3" = 0 ] && failed=$((failed + 1)); fi
}
memcheck=()
[ "${VALGRIND:-0}" = 1 ] && memcheck=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "${memcheck[@]}" "$t"
done
if [ "${VALGRIND:-0}" = 1 ]; then
    run_one valgrind_cli bash tests/valgrind_cli.sh
    tests=()
else
    tests=(tests/cli/*.sh)
fi
for t in "${tests[@]}"; do
    [ -f "$t" ] && [ "$(basename "$t")" != lib.sh ] || continue
    run_one "$(basename "$t" .sh)" bash "$t"
done
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
echo "$passed $failed $skipped" >>"$build/test-totals"
[ "$failed" = 0 ]
