#!/usr/bin/env bash
# Cross-builds the library and the C tests for AArch64 (build-aarch64/) and
# runs them under qemu-user from the repository root, on two emulated CPUs:
#   -cpu max         has the dot product extension: levels scalar, neon, dotprod
#   -cpu cortex-a53  Armv8.0, no dotprod:           levels scalar, neon
# Needs gcc-aarch64-linux-gnu and qemu-user (Debian); not part of CI.
# Usage: tests/cross/aarch64.sh [test names...]   (default: the list below)
# Exits non-zero if a build or any test fails.
set -u
cd "$(dirname "$0")/../.."
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
SYSROOT=${CROSS_SYSROOT:-/usr/aarch64-linux-gnu}
BUILD=build-aarch64
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_dot_simd test_dot test_vec_ops test_quant test_forward test_sampler test_logits_ref
                                 test_packed test_packed_f16 test_gguf test_tokenizer)
command -v "$CC" >/dev/null || { echo "aarch64.sh: $CC not found (apt-get install gcc-aarch64-linux-gnu)"; exit 2; }
command -v qemu-aarch64 >/dev/null || { echo "aarch64.sh: qemu-aarch64 not found (apt-get install qemu-user)"; exit 2; }

targets=()
for t in "${tests[@]}"; do targets+=("$BUILD/tests/$t"); done
make -s -j"$(nproc)" CC="$CC" BUILD="$BUILD" "${targets[@]}" || { echo "aarch64.sh: build failed"; exit 1; }

failed=0
for cpu in max cortex-a53; do
    for t in "${tests[@]}"; do
        out=$(BIBIM_NO_BENCH=1 qemu-aarch64 -cpu "$cpu" -L "$SYSROOT" "$BUILD/tests/$t" 2>&1); rc=$?
        res=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
        if [ "$t" = test_dot_simd ]; then
            printf '%s\n' "$out" | grep -E '^(  (scalar|neon|dotprod) |skip level)' | sed "s|^|[$cpu $t] |"
        fi
        if [ -z "$res" ] || [ "$rc" != 0 ] || [ "$(set -- $res; echo "$3")" != 0 ]; then
            printf '%s\n' "$out" | grep -v '^RESULT ' | tail -40 | sed "s|^|[$cpu $t] |"
            echo "[$cpu $t] FAILED (status $rc): ${res:-no RESULT line}"
            failed=$((failed + 1))
        else
            echo "[$cpu $t] $res"
        fi
    done
done
echo "aarch64: $failed failing run(s)"
[ "$failed" = 0 ]
