#!/usr/bin/env bash
# Cross-builds the library and the C tests for 32-bit Arm, Debian armhf
# (Armv7-A, hard float, VFPv3-D16; build-armv7/), with the NEON-VFPv4
# kernels (src/dot_neon32.c, -mfpu=neon-vfpv4) chosen at run time, and runs
# them under qemu-user from the repository root:
#   -cpu cortex-a15  NEON and VFPv4: default level neon; every test, then
#                    test_logits_ref and test_forward with BIBIM_CPU=scalar;
#   -cpu cortex-r5f  Armv7 with VFPv3-D16 and no NEON (the armhf baseline,
#                    like a Tegra 2): default level scalar; the dispatch
#                    tests (CROSS_DISPATCH_TESTS in lib.sh; all with CROSS_FULL=1);
#   -cpu cortex-a9   NEON without VFPv4's FMA (also Cortex-A8): the kernels
#                    need both, so the default level is scalar; test_dot_simd.
# test_dot_simd must report the level named above as the default.
# Needs gcc-arm-linux-gnueabihf, libc6-dev-armhf-cross and qemu-user (Debian).
# Usage: tests/cross/armv7.sh [test names...]   (default: CROSS_CORE_TESTS in lib.sh)
# Prints "RESULT passed failed skipped" last; exit status 0 if all passed,
# 1 if a build or a test failed, 2 if a tool is missing (skipped).
set -u
cd "$(dirname "$0")/../.."
. tests/cross/lib.sh
CC=${CROSS_CC:-arm-linux-gnueabihf-gcc}
SYSROOT=${CROSS_SYSROOT:-/usr/arm-linux-gnueabihf}
BUILD=build-armv7
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${CROSS_CORE_TESTS[@]}")
command -v "$CC" >/dev/null || cross_skip armv7 "$CC not found (apt-get install gcc-arm-linux-gnueabihf)"
command -v qemu-arm >/dev/null || cross_skip armv7 "qemu-arm not found (apt-get install qemu-user)"
[ -e "$SYSROOT/lib/ld-linux-armhf.so.3" ] && [ -e "$SYSROOT/include/stdio.h" ] ||
    cross_skip armv7 "no armhf C library in $SYSROOT (apt-get install libc6-dev-armhf-cross)"

# FLAGS_dot_neon32: the Makefile's flags for src/dot_neon32.c on 32-bit Arm.
cross_build armv7 "$CC" "$BUILD" FLAGS_dot_neon32=-mfpu=neon-vfpv4 -- "${tests[@]}" || { echo "RESULT 0 1 0"; exit 1; }

# run CPU DEFAULT_LEVEL TEST...
run() {
    local cpu=$1 level=$2 t
    shift 2
    for t in "$@"; do
        cross_run "$cpu $t" "$([ "$t" = test_dot_simd ] && echo "$level")" \
            env BIBIM_NO_BENCH=1 qemu-arm -cpu "$cpu" -L "$SYSROOT" "$BUILD/tests/$t"
    done
}
run cortex-a15 neon "${tests[@]}"
if [ "${CROSS_FULL:-0}" = 1 ]; then
    run cortex-r5f scalar "${tests[@]}"
else
    run cortex-r5f scalar $(cross_dispatch_subset "${tests[@]}")
fi
for t in "${tests[@]}"; do [ "$t" = test_dot_simd ] && run cortex-a9 scalar test_dot_simd; done
# The whole-model logits at the scalar level on the NEON CPU.
for t in $(cross_dispatch_subset "${tests[@]}"); do
    [ "$t" = test_dot_simd ] && continue
    cross_run "cortex-a15 BIBIM_CPU=scalar $t" "" \
        env BIBIM_CPU=scalar BIBIM_NO_BENCH=1 qemu-arm -cpu cortex-a15 -L "$SYSROOT" "$BUILD/tests/$t"
done
cross_finish armv7
