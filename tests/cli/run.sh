# bibim run from the command line: greedy text equals llama.cpp's, errors and exit codes.
. "$(dirname "$0")/lib.sh"

model=$SHARED/models/stories260K.gguf
tsv=$SHARED/refs/stories260K/greedy.tsv
if [ -f "$model" ] && [ -f "$tsv" ]; then
    # Each reference row: prompt (JSON string) and the text of 64 greedy tokens (JSON string).
    node -e '
        const rows = require("fs").readFileSync(process.argv[1], "utf8").split("\n").slice(1).filter(Boolean);
        rows.forEach((r, i) => {
            const c = r.split("\t");
            require("fs").writeFileSync(process.argv[2] + "/prompt" + i, JSON.parse(c[0]));
            require("fs").writeFileSync(process.argv[2] + "/want" + i, JSON.parse(c[3]));
        });' "$tsv" "$TMP"
    for i in 0 1 2 3 4; do
        "$BIBIM" run -m "$model" -f "$TMP/prompt$i" -n 64 --temp 0 -t 2 >"$TMP/got$i" 2>"$TMP/err$i"
        if cmp -s "$TMP/got$i" "$TMP/want$i"; then pass "run_greedy_$i"; else
            fail "run_greedy_$i" "got: $(head -c 200 "$TMP/got$i") | want: $(head -c 200 "$TMP/want$i") | $(tail -3 "$TMP/err$i")"
        fi
    done
    grep -q "tokens/s" "$TMP/err0" && pass run_reports_speed || fail run_reports_speed "$(cat "$TMP/err0")"
    "$BIBIM" run -m "$model" -p "Once upon a time" -n 16 --temp 0 --echo >"$TMP/echo" 2>/dev/null
    case "$(cat "$TMP/echo")" in "Once upon a time"?*) pass run_echo ;; *) fail run_echo "$(cat "$TMP/echo")" ;; esac
    # A fixed seed gives the same text; sampling is not greedy.
    "$BIBIM" run -m "$model" -p "Lily" -n 40 --seed 5 --temp 1 >"$TMP/s1" 2>/dev/null
    "$BIBIM" run -m "$model" -p "Lily" -n 40 --seed 5 --temp 1 -t 1 >"$TMP/s2" 2>/dev/null
    "$BIBIM" run -m "$model" -p "Lily" -n 40 --seed 6 --temp 1 >"$TMP/s3" 2>/dev/null
    cmp -s "$TMP/s1" "$TMP/s2" && pass run_same_seed_same_text || fail run_same_seed_same_text
    cmp -s "$TMP/s1" "$TMP/s3" && fail run_other_seed_other_text || pass run_other_seed_other_text
    # The context: a prompt that does not fit is an error; generation that fills it stops with a notice.
    expect run_prompt_too_long 2 "$BIBIM" run -m "$model" -p "Once upon a time there was a girl" -c 4
    grep -q "context" "$TMP/err" && pass run_prompt_too_long_message || fail run_prompt_too_long_message "$(cat "$TMP/err")"
    expect run_fills_context 0 "$BIBIM" run -m "$model" -p "Once" -c 12 --temp 0
    grep -q "context of 12 tokens is full" "$TMP/err" && pass run_context_notice || fail run_context_notice "$(cat "$TMP/err")"
    expect run_stop_string 0 "$BIBIM" run -m "$model" -p "Once upon a time" -n 64 --temp 0 --stop Lily
    grep -q "Lily" "$TMP/out" && fail run_stop_string_cut "$(cat "$TMP/out")" || pass run_stop_string_cut
else
    skip run_greedy "$model or $tsv is absent"
fi
expect run_no_model 1 "$BIBIM" run -p hi
expect run_bad_temp 1 "$BIBIM" run -m x.gguf --temp hot
grep -q -- "--temp" "$TMP/err" && pass run_bad_temp_message || fail run_bad_temp_message "$(cat "$TMP/err")"
expect run_missing_model 2 "$BIBIM" run -m "$TMP/none.gguf" -p hi
grep -q "none.gguf" "$TMP/err" && pass run_missing_model_message || fail run_missing_model_message "$(cat "$TMP/err")"
printf 'GGUF\003\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$TMP/empty.gguf"
expect run_no_architecture 2 "$BIBIM" run -m "$TMP/empty.gguf" -p hi
grep -q "general.architecture" "$TMP/err" && pass run_no_architecture_message || fail run_no_architecture_message "$(cat "$TMP/err")"
expect run_prompt_file_missing 2 "$BIBIM" run -m "$model" -f "$TMP/nope.txt"
finish
