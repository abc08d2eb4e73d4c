# tests/cross/lib.sh — sourced by the architecture scripts (aarch64.sh,
# armv7.sh): cross-build the library and C tests, run them under qemu-user,
# add up their RESULT lines.

# The core suite on small models, a few minutes under qemu. Left out:
# test_batch (2-3 minutes per emulated CPU; batching is not
# architecture-specific, and test_packed checks the kernels it uses),
# test_jinja, test_quantize_model, test_model_errors and the CLI tests.
CROSS_CORE_TESTS=(test_dot_simd test_dot test_vec_ops test_quant test_forward test_sampler test_logits_ref
                  test_packed test_packed_f16 test_gguf test_gguf_hostile test_tokenizer test_text_stream test_chat)
# What the other emulated CPUs and the forced levels run: the kernels, the
# runtime dispatch and whole-model logits.
CROSS_DISPATCH_TESTS=(test_dot_simd test_forward test_logits_ref)

cross_passed=0 cross_failed=0 cross_skipped=0
cross_broken=()

# The tests of $@ that are also in the dispatch list.
cross_dispatch_subset() {
    local t d
    for t in "$@"; do
        for d in "${CROSS_DISPATCH_TESTS[@]}"; do [ "$t" = "$d" ] && printf '%s\n' "$t"; done
    done
}

# cross_skip ARCH MESSAGE: the whole architecture is skipped (a tool is
# missing); exit status 2.
cross_skip() {
    echo "$1: skipped: $2"
    echo "RESULT 0 0 1"
    exit 2
}

# cross_build ARCH CC BUILD [MAKE_VAR=VALUE ...] -- TEST...
# Builds BUILD/libbibim.a and BUILD/tests/TEST. A test program that fails to
# build with the normal flags is rebuilt with CROSS_WORKAROUND_CFLAGS (which
# the Makefile adds to its own CFLAGS), if the architecture sets them.
cross_build() {
    local arch=$1 cc=$2 build=$3
    shift 3
    local vars=() targets=() t
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    for t in "$@"; do targets+=("$build/tests/$t"); done
    mkdir -p "$build"
    local jobs
    jobs=${CROSS_JOBS:-$(nproc)}
    if ! make -s -j"$jobs" CC="$cc" BUILD="$build" "${vars[@]}" "$build/libbibim.a" >"$build/build-lib.log" 2>&1; then
        tail -30 "$build/build-lib.log"
        echo "$arch: library build failed"
        return 1
    fi
    make -s -k -j"$jobs" CC="$cc" BUILD="$build" "${vars[@]}" "${targets[@]}" >"$build/build-tests.log" 2>&1
    local shown=0
    for t in "${targets[@]}"; do
        # Up to date: built now, or before from the same sources.
        make -q CC="$cc" BUILD="$build" "${vars[@]}" "$t" 2>/dev/null && continue
        if [ -z "${CROSS_WORKAROUND_CFLAGS:-}" ]; then
            tail -20 "$build/build-tests.log"
            echo "$arch: build of $t failed"
            return 1
        fi
        if [ $shown = 0 ]; then
            grep -E 'internal compiler error|error:' "$build/build-tests.log" | head -6 | sed 's|^|    |'
            shown=1
        fi
        echo "[build $(basename "$t")] failed with the normal flags; retrying with CFLAGS=\"$CROSS_WORKAROUND_CFLAGS\""
        if ! CFLAGS="$CROSS_WORKAROUND_CFLAGS" make -s CC="$cc" BUILD="$build" "${vars[@]}" "$t"; then
            echo "$arch: build of $t failed"
            return 1
        fi
    done
}

# cross_run LABEL WANT_LEVEL COMMAND...
# Runs one test program (under a time limit), prints its RESULT line with
# the time it took, or its last lines if it failed, and adds up the counts.
# With WANT_LEVEL set, the program (test_dot_simd) must also report that
# level as the default: the runtime dispatch picked the best the emulated
# CPU has.
cross_run() {
    local label=$1 want=$2
    shift 2
    local out rc res start secs
    start=$(date +%s)
    out=$(timeout "${CROSS_TIMEOUT:-900}" "$@" 2>&1)
    rc=$?
    secs=$(($(date +%s) - start))
    res=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
    printf '%s\n' "$out" | grep -E '^(  (scalar|avx2|avx512|neon|dotprod|i8mm) |  default level)' | sed "s|^|[$label] |"
    local bad=""
    if [ -z "$res" ]; then
        bad="crashed or timed out (status $rc), no RESULT line"
        cross_failed=$((cross_failed + 1))
    else
        set -- $res
        cross_passed=$((cross_passed + $2))
        cross_failed=$((cross_failed + $3))
        cross_skipped=$((cross_skipped + $4))
        if [ "$3" != 0 ]; then
            bad="$res"
        elif [ "$rc" != 0 ]; then
            bad="status $rc after $res"
            cross_failed=$((cross_failed + 1))
        elif [ -n "$want" ] && ! printf '%s\n' "$out" | grep -qx "  default level: $want"; then
            bad="the default level is not $want"
            cross_failed=$((cross_failed + 1))
        fi
    fi
    if [ -n "$bad" ]; then
        printf '%s\n' "$out" | grep -v '^RESULT ' | tail -40 | sed "s|^|[$label] |"
        echo "[$label] FAILED: $bad (${secs} s)"
        cross_broken+=("$label")
    else
        echo "[$label] $res (${secs} s)"
    fi
}

# cross_finish ARCH: the totals, as "RESULT passed failed skipped" last;
# exit status 1 if anything failed.
cross_finish() {
    [ ${#cross_broken[@]} -gt 0 ] && echo "$1: failing: ${cross_broken[*]}"
    echo "$1: $cross_passed passed, $cross_failed failed, $cross_skipped skipped"
    echo "RESULT $cross_passed $cross_failed $cross_skipped"
    [ "$cross_failed" = 0 ]
}
