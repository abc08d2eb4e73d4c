# Shared helpers for the CLI tests (sourced). Each test script calls `pass`,
# `fail` or `skip` per case and `finish` at the end.
passed=0 failed=0 skipped=0
BIBIM=${BIBIM:-build/bibim}
SHARED=../shared
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: ${2:-}"; failed=$((failed + 1)); }
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }
# expect NAME STATUS CMD...: runs CMD, checks its exit status, keeps stderr in $TMP/err
expect() {
    local name=$1 want=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"; local got=$?
    if [ "$got" = "$want" ]; then pass "$name"; else fail "$name" "exit $got, wanted $want; stderr: $(head -c 300 "$TMP/err")"; fi
}
finish() { echo "RESULT $passed $failed $skipped"; }
