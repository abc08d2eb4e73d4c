# The bibim command under valgrind's memcheck: a generation, info, quantize,
# tokenize, a chat through a pipe, a template and a failing load. Any
# memcheck error or definite leak fails.
. "$(dirname "$0")/cli/lib.sh"

vg() { valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$@"; }
model=$SHARED/models/stories260K.gguf
if [ -f "$model" ]; then
    expect valgrind_run 0 vg "$BIBIM" run -m "$model" -p "Once upon a time" -n 24 --temp 0.8 --seed 1 -t 2
    expect valgrind_info 0 vg "$BIBIM" info "$model"
    expect valgrind_info_json 0 vg "$BIBIM" info --json "$model"
    expect valgrind_quantize 0 vg "$BIBIM" quantize "$model" "$TMP/q.gguf" Q8_0 -t 2
    expect valgrind_tokenize 0 vg "$BIBIM" tokenize -m "$model" "Hello world"
    printf 'Once upon a time\nThe dog\n/system Be brief.\n/save %s\n/load %s\n/reset\nHi\n' "$TMP/c.json" "$TMP/c.json" \
        >"$TMP/chat-in"
    expect valgrind_chat 0 vg "$BIBIM" chat -m "$model" -n 12 --seed 1 -t 2 -c 96 <"$TMP/chat-in"
    printf '[{"role":"user","content":"Hi \\u00e9"}]' >"$TMP/m.json"
    expect valgrind_template 0 vg "$BIBIM" template -m "$model" --messages "$TMP/m.json" --add-generation-prompt
    # bibim serve: a short session (a completion, a chat stream, two requests
    # at once, the small endpoints, errors), then SIGTERM: exit 0, no error, no leak.
    if command -v curl >/dev/null; then
        . "$(dirname "$0")/serve/lib.sh"
        SERVE_WRAP=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
        if SERVE_START_WAIT=120 start_server vg-serve -m "$model" --parallel 2 -t 1 --api-key vg-key; then
            KEY=vg-key
            "$BIBIM" run -m "$model" -p "Once upon a time" -n 8 --temp 0 -t 1 >"$TMP/want" 2>/dev/null
            st=$(post /v1/completions '{"prompt":"Once upon a time","max_tokens":8,"temperature":0}')
            [ "$st" = 200 ] && grep -qF "\"text\":\"$(cat "$TMP/want")\"" "$TMP/body" && pass valgrind_serve_completion ||
                fail valgrind_serve_completion "$st $(head -c 300 "$TMP/body")"
            st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' -N)
            [ "$st" = 200 ] && grep -q '"choices":\[\],"usage":{"prompt_tokens":42,"completion_tokens":8,' "$TMP/body" &&
                [ "$(tail -c 14 "$TMP/body")" = "$(printf 'data: [DONE]\n\n')" ] && pass valgrind_serve_stream ||
                fail valgrind_serve_stream "$st $(tail -c 300 "$TMP/body")"
            vpids=()
            for i in 1 2; do
                curl -s --max-time 120 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -o "$TMP/par$i" \
                    -d "{\"prompt\":\"Lily $i\",\"max_tokens\":8,\"temperature\":0.8,\"seed\":$i,\"logprobs\":2}" "$BASE/v1/completions" &
                vpids+=($!)
            done
            wait "${vpids[@]}"
            grep -q '"completion_tokens":8' "$TMP/par1" && grep -q '"completion_tokens":8' "$TMP/par2" && pass valgrind_serve_parallel ||
                fail valgrind_serve_parallel "$(head -c 200 "$TMP/par1") | $(head -c 200 "$TMP/par2")"
            st1=$(post /tokenize '{"content":"Hello wörld","with_pieces":true}')
            st2=$(post /detokenize '{"tokens":[1,346,306,414]}')
            st3=$(post /apply-template '{"messages":[{"role":"user","content":"Hi"}]}')
            st4=$(http GET /metrics '')
            st5=$(post /v1/chat/completions '{"messages":[{"role":"user"}],"temperature":"hot"}')
            st6=$(post /v1/completions '{"prompt":[1,2' -H 'Content-Type: text/plain')
            st7=$(KEY=wrong post /v1/completions '{"prompt":"x"}')
            [ "$st1 $st2 $st3 $st4 $st5 $st6 $st7" = "200 200 200 200 400 415 401" ] && pass valgrind_serve_endpoints ||
                fail valgrind_serve_endpoints "$st1 $st2 $st3 $st4 $st5 $st6 $st7"
            stop_server "$SPID" TERM 120
            [ "$STOP_RC" = 0 ] && grep -q '^bibim serve: stopped$' "$SLOG" && pass valgrind_serve_shutdown ||
                fail valgrind_serve_shutdown "exit $STOP_RC: $(grep -E '^==|bibim serve' "$SLOG" | head -c 1500)"
        else
            fail valgrind_serve_start "$(head -c 1500 "$SLOG")"
        fi
    else
        skip valgrind_serve "curl is not installed"
    fi
else
    skip valgrind_run "$model is absent"
fi
expect valgrind_synth 0 vg "$BIBIM" synth -o "$TMP/s.gguf" --preset tiny --layers 1 -t 2
expect valgrind_bad_model 2 vg "$BIBIM" run -m "$TMP/none.gguf" -p hi
finish
