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
    # --json: the output is one JSON object (node's JSON.parse), generation stops when it closes. The
    # stories model left alone writes one endless string: --logit-bias on '"' (436) and '}' (128) makes
    # it close, greedy and under several sampling settings.
    is_object() { node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
                           if (v === null || typeof v !== "object" || Array.isArray(v)) process.exit(1)' "$1" 2>/dev/null; }
    close_bias=(--logit-bias 436=4 --logit-bias 128=6)
    k=0
    for args in "--temp 0 --logit-bias 436=6 --logit-bias 128=8" "--temp 1 --seed 2" "--temp 0.8 --top-k 0 --top-p 0.9 --seed 3" \
                "--temp 1.2 --min-p 0.1 --repeat-penalty 1.2 --seed 4"; do
        # shellcheck disable=SC2086
        "$BIBIM" run -m "$model" -p "Once upon a time" -n 1000 -t 1 --json "${close_bias[@]}" $args >"$TMP/json$k" 2>"$TMP/json-err$k"
        n=$(sed -n 's/^generation: *\([0-9]*\) tokens.*/\1/p' "$TMP/json-err$k")
        if is_object "$TMP/json$k" && [ -n "$n" ] && [ "$n" -lt 1000 ]; then pass "run_json_$k"; else
            fail "run_json_$k" "$args: $n tokens: $(head -c 300 "$TMP/json$k")"
        fi
        k=$((k + 1))
    done
    # cut by -n: a prefix of an object (whitespace, then '{'), not the text mode's story
    "$BIBIM" run -m "$model" -p "Once upon a time" -n 30 --temp 0 --json -t 1 >"$TMP/json-cut" 2>/dev/null
    "$BIBIM" run -m "$model" -p "Once upon a time" -n 30 --temp 0 -t 1 >"$TMP/text-cut" 2>/dev/null
    node -e 'const t = require("fs").readFileSync(process.argv[1], "utf8"); process.exit(/^[ \t\r\n]*\{/.test(t) ? 0 : 1)' "$TMP/json-cut" &&
        ! cmp -s "$TMP/json-cut" "$TMP/text-cut" && pass run_json_cut_is_a_prefix || fail run_json_cut_is_a_prefix "$(head -c 200 "$TMP/json-cut")"
    # no token can go on ('{' banned, whitespace used up): an error, not invalid JSON
    expect run_json_no_valid_token 2 "$BIBIM" run -m "$model" -p "Once upon a time" -n 100 --temp 0 --json --logit-bias 126=-inf -t 1
    grep -q "no token of the vocabulary can continue the JSON object" "$TMP/err" && ! grep -q '{' "$TMP/out" &&
        pass run_json_no_valid_token_message || fail run_json_no_valid_token_message "$(cat "$TMP/err")"
    expect run_logit_bias_bad 1 "$BIBIM" run -m "$model" -p x --logit-bias 5
    grep -q "TOKEN_ID=BIAS" "$TMP/err" && pass run_logit_bias_bad_message || fail run_logit_bias_bad_message "$(cat "$TMP/err")"
    expect run_logit_bias_out_of_vocab 2 "$BIBIM" run -m "$model" -p x --logit-bias 512=1
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
