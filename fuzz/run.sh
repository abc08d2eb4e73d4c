#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time over a scratch copy of its
# committed seed corpus (fuzz/corpus/NAME -> fuzz/corpus-work/NAME,
# gitignored), and prints one summary line. Exits non-zero on any crash,
# leak, timeout or out-of-memory; skips (exit 0) when clang's libFuzzer
# runtime is missing or a file the target reads (NEEDS) is absent.
# Usage: fuzz/run.sh BINARY SECONDS CORPUS_DIR [NEEDS...]
set -u
bin=${1:?usage: fuzz/run.sh BINARY SECONDS}
seconds=${2:?usage: fuzz/run.sh BINARY SECONDS CORPUS_DIR [NEEDS...]}
seeds_dir=${3:?usage: fuzz/run.sh BINARY SECONDS CORPUS_DIR [NEEDS...]}
shift 3
cd "$(dirname "$0")/.."
name=$(basename "$bin")

# Can clang link a fuzzer at all? (Debian ships libFuzzer in libclang-rt-N-dev.)
fuzzer_runtime_present() {
    local probe
    probe=$(mktemp -d) || return 1
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
        >"$probe/p.c"
    clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1
    local rc=$?
    rm -rf "$probe"
    return $rc
}

if [ ! -x "$bin" ]; then
    if ! command -v clang >/dev/null 2>&1 || ! fuzzer_runtime_present; then
        echo "$name: skipped: clang with its libFuzzer runtime (-fsanitize=fuzzer) is not installed"
        exit 0
    fi
    echo "$name: $bin is not built (make fuzz)" >&2
    exit 1
fi

for need in "$@"; do
    if [ ! -e "$need" ]; then
        echo "$name: skipped: $need is absent"
        exit 0
    fi
done

work=fuzz/corpus-work/$name
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds_dir"/* "$work/corpus/"
seeds=$(ls "$work/corpus" | wc -l)
log="$work/fuzz.log"

"$bin" "$work/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$log" 2>&1
rc=$?

runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
corpus=$(ls "$work/corpus" | wc -l)
artifacts=$(ls "$work/artifacts" | wc -l)
if [ "$rc" -ne 0 ] || [ "$artifacts" -ne 0 ]; then
    echo "$name: FAILED (exit $rc) after ${runs:-?} runs; log: $log; inputs: $work/artifacts/"
    grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$log"
    exit 1
fi
echo "$name: ok: ${runs:-?} runs in ${seconds}s, coverage ${cov:-?} edges, corpus $seeds -> $corpus inputs, no crash"
