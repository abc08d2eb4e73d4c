#!/usr/bin/env bash
# Cross-builds the library and the C tests for AArch64 (build-aarch64/) and
# runs them under qemu-user from the repository root:
#   -cpu max         has the dot product and int8 matrix multiply
#                    extensions: default level i8mm; every test, then
#                    test_logits_ref and test_forward again with
#                    BIBIM_CPU=scalar, neon and dotprod;
#   -cpu cortex-a76  Armv8.2 with dotprod, no i8mm: default level dotprod;
#   -cpu cortex-a53  Armv8.0, no dotprod: default level neon.
# The last two run the dispatch tests (CROSS_DISPATCH_TESTS in lib.sh; all
# with CROSS_FULL=1). test_dot_simd must report the level named above as
# the default.
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (Debian).
# Usage: tests/cross/aarch64.sh [test names...]   (default: CROSS_CORE_TESTS in lib.sh)
# Prints "RESULT passed failed skipped" last; exit status 0 if all passed,
# 1 if a build or a test failed, 2 if a tool is missing (skipped).
set -u
cd "$(dirname "$0")/../.."
. tests/cross/lib.sh
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
SYSROOT=${CROSS_SYSROOT:-/usr/aarch64-linux-gnu}
BUILD=build-aarch64
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${CROSS_CORE_TESTS[@]}")
command -v "$CC" >/dev/null || cross_skip aarch64 "$CC not found (apt-get install gcc-aarch64-linux-gnu)"
command -v qemu-aarch64 >/dev/null || cross_skip aarch64 "qemu-aarch64 not found (apt-get install qemu-user)"
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] && [ -e "$SYSROOT/include/stdio.h" ] ||
    cross_skip aarch64 "no AArch64 C library in $SYSROOT (apt-get install libc6-dev-arm64-cross)"

# Debian's aarch64-linux-gnu-gcc 12.2 cannot build some tests with the
# normal flags: an internal compiler error in the vectorizer
# (vect_transform_reduction; test_dot.c, test_logits_ref.c) and a
# -Wformat-truncation warning (tests/model_builder.h) made an error by
# -Werror. Those test programs (never the library) are rebuilt with these
# flags, which the environment's CFLAGS adds (the Makefile appends).
CROSS_WORKAROUND_CFLAGS="-fno-tree-vectorize -Wno-error=format-truncation"
cross_build aarch64 "$CC" "$BUILD" -- "${tests[@]}" || { echo "RESULT 0 1 0"; exit 1; }

# run CPU DEFAULT_LEVEL TEST...
run() {
    local cpu=$1 level=$2 t
    shift 2
    for t in "$@"; do
        cross_run "$cpu $t" "$([ "$t" = test_dot_simd ] && echo "$level")" \
            env BIBIM_NO_BENCH=1 qemu-aarch64 -cpu "$cpu" -L "$SYSROOT" "$BUILD/tests/$t"
    done
}
run max i8mm "${tests[@]}"
for cpu_level in cortex-a76:dotprod cortex-a53:neon; do
    if [ "${CROSS_FULL:-0}" = 1 ]; then
        run "${cpu_level%%:*}" "${cpu_level#*:}" "${tests[@]}"
    else
        run "${cpu_level%%:*}" "${cpu_level#*:}" $(cross_dispatch_subset "${tests[@]}")
    fi
done
# The whole-model logits at the lower levels explicitly.
for level in scalar neon dotprod; do
    for t in $(cross_dispatch_subset "${tests[@]}"); do
        [ "$t" = test_dot_simd ] && continue
        cross_run "max BIBIM_CPU=$level $t" "" \
            env BIBIM_CPU=$level BIBIM_NO_BENCH=1 qemu-aarch64 -cpu max -L "$SYSROOT" "$BUILD/tests/$t"
    done
done
cross_finish aarch64
