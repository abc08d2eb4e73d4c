# bibim bench: the table and JSON have the right shape, tests can be skipped,
# bad options exit 1 naming the option, a bad model exits 2. Speeds are
# never asserted (only that they are positive numbers).
. "$(dirname "$0")/lib.sh"

model=$TMP/t.gguf
if ! "$BIBIM" synth -o "$model" --preset tiny --layers 1 -t 2 >/dev/null 2>"$TMP/err"; then
    fail bench_synth "$(head -c 300 "$TMP/err")"
    finish
    exit 0
fi

# The markdown table: headers, one row per thread count and test, in order.
expect bench_table 0 "$BIBIM" bench -m "$model" -p 16 -n 8 -r 2 -t 1,2
cp "$TMP/out" "$TMP/table"
cp "$TMP/err" "$TMP/table_err"
# md.js FILE: checks a bench table; prints "PASS name" or "FAIL name why" per check.
cat >"$TMP/md.js" <<'EOF'
const [file, want] = process.argv.slice(2);
const lines = require("fs").readFileSync(file, "utf8").split("\n").filter(Boolean);
const cells = l => l.split(/(?<!\\)\|/).slice(1, -1).map(c => c.trim());
const check = (name, ok, why) => console.log((ok ? "PASS " : "FAIL ") + name + (ok ? "" : " " + why));
const head = cells(lines[0] || "");
check("headers", JSON.stringify(head) === JSON.stringify(["model", "size", "params", "cpu", "threads", "test", "t/s",
    "GB/s", "% bw"]), JSON.stringify(head));
check("separator", /^\|( :?-+:? \|)+$/.test(lines[1] || "") && cells(lines[1]).length === 9, lines[1]);
const rows = lines.slice(2).map(cells);
const got = rows.map(r => r[4] + ":" + r[5]).join(" ");
check("rows", got === want, got);
for (const r of rows) {
    check("row_cells", r.length === 9, JSON.stringify(r));
    check("model_name", r[0] === "bibim synth tiny", r[0]);
    check("size", /^\d+\.\d\d (MiB|GiB)$/.test(r[1]), r[1]);
    check("params", /^\d+\.\d\d (M|B)$/.test(r[2]), r[2]);
    check("cpu", /^(scalar|avx2|avx512|neon|dotprod|i8mm)$/.test(r[3]), r[3]);
    const m = /^(\d+\.\d\d) ± (\d+\.\d\d)$/.exec(r[6]);
    check("ts", m && +m[1] > 0 && +m[2] >= 0, r[6]);
    check("gbs", +r[7] > 0, r[7]);
    check("bw_pct", r[8] === "-" || +r[8] > 0, r[8]);
}
EOF
# mdcheck NAME FILE WANT: runs md.js and turns its lines into pass/fail.
mdcheck() {
    local name=$1 out
    out=$(node "$TMP/md.js" "$2" "$3" 2>&1)
    if [ -n "$out" ] && ! grep -qv '^PASS ' <<<"$out"; then pass "$name"; else
        fail "$name" "$(grep -v '^PASS ' <<<"$out" | sort -u | head -5) | $(head -4 "$2")"
    fi
}
mdcheck bench_table_shape "$TMP/table" "1:pp16 1:tg8 2:pp16 2:tg8"
grep -q "^load: " "$TMP/table_err" && pass bench_load_time || fail bench_load_time "$(cat "$TMP/table_err")"
# The probe reads a buffer far larger than the caches, at least 3 passes: by
# default 1 GiB, or at least 256 MiB when filling it is slow (unless half the
# available memory is less). A second line per thread count, when the passes
# after the runs found more, says so.
avail_mib=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null)
bad=$(grep '^memory read bandwidth' "$TMP/table_err" | grep -Ev \
    '^memory read bandwidth: [0-9.]+ GB/s with [12] threads? \(best of [0-9]+ passes over [0-9]+ MiB(, with those after the runs)?\)$')
[ -z "$bad" ] && pass bench_bandwidth_lines || fail bench_bandwidth_lines "$bad"
for t in "1 thread" "2 threads"; do
    grep -Eq "^memory read bandwidth: [0-9.]+ GB/s with $t \(best of ([3-9]|[1-9][0-9]+) passes over [0-9]+ MiB\)$" \
        "$TMP/table_err" && pass "bench_bandwidth_${t%% *}" || fail "bench_bandwidth_${t%% *}" "$(cat "$TMP/table_err")"
    mib=$(sed -n "s/^memory read bandwidth: .* with $t (best of .* passes over \([0-9]*\) MiB)$/\1/p" "$TMP/table_err")
    [ -n "$mib" ] && [ "$mib" -le 1024 ] && { [ "$mib" -ge 256 ] || [ "${avail_mib:-0}" -lt 1024 ]; } &&
        pass "bench_bandwidth_buffer_${t%% *}" || fail "bench_bandwidth_buffer_${t%% *}" "$(cat "$TMP/table_err")"
done
[ "$(grep -c '^pp16\|^tg8' "$TMP/table_err")" = 4 ] && pass bench_progress_lines ||
    fail bench_progress_lines "$(cat "$TMP/table_err")"

# JSON: one object per test, with the fields as numbers and the raw samples.
expect bench_json 0 "$BIBIM" bench -m "$model" -p 16 -n 8 -r 3 -t 1,2 -o json --bw-mib 32
# --bw-mib sets the probe's buffer, whatever the thread count.
[ "$(grep -c '^memory read bandwidth: .* passes over 32 MiB)$' "$TMP/err")" = 2 ] && pass bench_bw_mib ||
    fail bench_bw_mib "$(cat "$TMP/err")"
node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const bad = [];
const need = (ok, what) => { if (!ok) bad.push(what); };
need(Array.isArray(a) && a.length === 4, "4 objects");
const tests = a.map(o => o.threads + ":" + o.test).join(" ");
need(tests === "1:pp16 1:tg8 2:pp16 2:tg8", tests);
for (const o of a) {
    need(o.model === "bibim synth tiny" && typeof o.model_file === "string", "model " + o.model);
    for (const k of ["size_bytes", "size_gib", "params", "weight_bytes_read", "ts_mean", "gb_s", "mem_bw_gb_s",
        "bw_pct"])
        need(typeof o[k] === "number" && o[k] > 0, k + " " + o[k]);
    need(o.weight_bytes_read <= o.size_bytes, "weight_bytes_read <= size_bytes");
    need(typeof o.cpu === "string" && o.cpu.length > 0, "cpu");
    need(typeof o.ts_sd === "number" && o.ts_sd >= 0, "ts_sd " + o.ts_sd);
    need(o.repetitions === 3 && o.samples_ts.length === 3 && o.samples_ns.length === 3, "3 samples");
    need(o.samples_ts.every(x => x > 0) && o.samples_ns.every(x => x > 0), "positive samples");
    const mean = o.samples_ts.reduce((s, x) => s + x, 0) / 3;
    need(Math.abs(mean - o.ts_mean) <= 1e-6 * mean, "ts_mean is the mean of samples_ts");
    const n = o.n_prompt + o.n_gen;
    need(o.samples_ts.every((x, i) => Math.abs(x - n / (o.samples_ns[i] * 1e-9)) <= 1e-3 * x), "samples agree");
    need(o.test === (o.n_prompt ? "pp" + o.n_prompt : "tg" + o.n_gen), "test name " + o.test);
    need(o.n_seq === 1, "n_seq " + o.n_seq);
    need(o.n_ctx === 24, "n_ctx " + o.n_ctx);
    need(Math.abs(o.bw_pct - 100 * o.gb_s / o.mem_bw_gb_s) <= 1e-6 * o.bw_pct, "bw_pct");
}
if (bad.length) { console.log(bad.join("; ")); process.exit(1); }
' "$TMP/out" >"$TMP/why" 2>&1 && pass bench_json_fields || fail bench_json_fields "$(head -c 400 "$TMP/why")"

# -p 0 and -n 0 skip a test; --bw-mib 0 skips the probe; -c is used.
expect bench_no_pp 0 "$BIBIM" bench -m "$model" -p 0 -n 4 -r 1 -t 1 --bw-mib 0
mdcheck bench_no_pp_rows "$TMP/out" "1:tg4"
grep -q "memory read bandwidth" "$TMP/err" && fail bench_no_probe "$(cat "$TMP/err")" || pass bench_no_probe
expect bench_no_tg 0 "$BIBIM" bench -m "$model" -p 8,4 -n 0 -r 1 -t 1 --bw-mib 0
mdcheck bench_no_tg_rows "$TMP/out" "1:pp8 1:pp4"
expect bench_json_no_probe 0 "$BIBIM" bench -m "$model" -p 4 -n 0 -r 1 -t 1 -c 100 -o json --bw-mib 0
node -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    process.exit(a.length === 1 && a[0].bw_pct === null && a[0].mem_bw_gb_s === null && a[0].n_ctx === 100 ? 0 : 1)' \
    "$TMP/out" && pass bench_json_null_bw || fail bench_json_null_bw "$(head -c 300 "$TMP/out")"

# --parallel S: each tg step is one batch of the next token of S sequences;
# t/s counts the tokens of all of them, GB/s the weights read once a step.
expect bench_parallel 0 "$BIBIM" bench -m "$model" -p 8 -n 4 -r 2 -t 1 --parallel 1,3 --bw-mib 0
mdcheck bench_parallel_rows "$TMP/out" "1:pp8 1:tg4 1:tg4x3"
expect bench_parallel_json 0 "$BIBIM" bench -m "$model" -p 0 -n 4 -r 2 -t 2 --parallel 2 -o json --bw-mib 0
node -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const o = a[0], bad = [];
    if (a.length !== 1 || o.test !== "tg4x2" || o.n_seq !== 2 || o.n_gen !== 4) bad.push("test " + o.test);
    o.samples_ts.forEach((x, i) => { if (Math.abs(x - 8 / (o.samples_ns[i] * 1e-9)) > 1e-3 * x) bad.push("t/s"); });
    const steps = o.samples_ns.reduce((s, ns) => s + 4 / (ns * 1e-9), 0) / 2;
    if (Math.abs(o.gb_s - o.weight_bytes_read * steps / 1e9) > 1e-6 * o.gb_s) bad.push("gb_s " + o.gb_s);
    if (bad.length) { console.log(bad.join("; ")); process.exit(1); }' "$TMP/out" >"$TMP/why" 2>&1 &&
    pass bench_parallel_fields || fail bench_parallel_fields "$(head -c 400 "$TMP/why") $(head -c 300 "$TMP/out")"

# Usage errors exit 1 and name the option; a bad model exits 2 and names the file.
usage_case() {
    local name=$1 opt=$2; shift 2
    expect "$name" 1 "$BIBIM" bench "$@"
    grep -q -- "$opt" "$TMP/err" && pass "${name}_message" || fail "${name}_message" "$(head -c 300 "$TMP/err")"
}
usage_case bench_bad_reps -r -m "$model" -r 0
usage_case bench_bad_threads -t -m "$model" -t x
usage_case bench_bad_thread_list -t -m "$model" -t 1,,2
usage_case bench_bad_prompt -p -m "$model" -p -1
usage_case bench_bad_output -o -m "$model" -o xml
usage_case bench_small_ctx -c -m "$model" -p 16 -c 8
usage_case bench_no_value -n -m "$model" -n
usage_case bench_nothing -p -m "$model" -p 0 -n 0
usage_case bench_bad_parallel --parallel -m "$model" --parallel 0
usage_case bench_too_parallel --parallel -m "$model" --parallel 1,257
usage_case bench_no_model -m -p 16
usage_case bench_unknown_option --frobnicate -m "$model" --frobnicate
expect bench_missing_model 2 "$BIBIM" bench -m "$TMP/none.gguf" -p 4 -n 4 -r 1 --bw-mib 0
grep -q "none.gguf" "$TMP/err" && pass bench_missing_model_message ||
    fail bench_missing_model_message "$(cat "$TMP/err")"
printf 'GGUF\003\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$TMP/empty.gguf"
expect bench_not_a_model 2 "$BIBIM" bench -m "$TMP/empty.gguf" -p 4 -r 1 --bw-mib 0
expect bench_help 0 "$BIBIM" bench --help
grep -q "usage: bibim bench" "$TMP/out" && pass bench_help_text || fail bench_help_text "$(head -c 200 "$TMP/out")"
finish
