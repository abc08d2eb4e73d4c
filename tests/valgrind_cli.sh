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
else
    skip valgrind_run "$model is absent"
fi
expect valgrind_synth 0 vg "$BIBIM" synth -o "$TMP/s.gguf" --preset tiny --layers 1 -t 2
expect valgrind_bad_model 2 vg "$BIBIM" run -m "$TMP/none.gguf" -p hi
finish
