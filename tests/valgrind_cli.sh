# The bibim command under valgrind's memcheck: a generation, info, quantize,
# tokenize and a failing load. Any memcheck error or definite leak fails.
. "$(dirname "$0")/cli/lib.sh"

vg() { valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$@"; }
model=$SHARED/models/stories260K.gguf
if [ -f "$model" ]; then
    expect valgrind_run 0 vg "$BIBIM" run -m "$model" -p "Once upon a time" -n 24 --temp 0.8 --seed 1 -t 2
    expect valgrind_info 0 vg "$BIBIM" info "$model"
    expect valgrind_info_json 0 vg "$BIBIM" info --json "$model"
    expect valgrind_quantize 0 vg "$BIBIM" quantize "$model" "$TMP/q.gguf" Q8_0 -t 2
    expect valgrind_tokenize 0 vg "$BIBIM" tokenize -m "$model" "Hello world"
else
    skip valgrind_run "$model is absent"
fi
expect valgrind_synth 0 vg "$BIBIM" synth -o "$TMP/s.gguf" --preset tiny --layers 1 -t 2
expect valgrind_bad_model 2 vg "$BIBIM" run -m "$TMP/none.gguf" -p hi
finish
