# examples/simple.c, the API example in README.md, compiles against the installed
# layout (bibim.h + libbibim.a) and generates llama.cpp's greedy text.
. "$(dirname "$0")/lib.sh"

build=$(dirname "$BIBIM")
# Sanitizer builds need the sanitizer runtime when linking the static library.
san=""
case "$build" in *san*) san="-fsanitize=address,undefined" ;; esac
if cc -std=c11 -Wall -Wextra -Werror $san -Iinclude examples/simple.c "$build/libbibim.a" -lm -lpthread -o "$TMP/simple" 2>"$TMP/cc.err"; then
    pass example_compiles
else
    fail example_compiles "$(head -c 500 "$TMP/cc.err")"
fi
model=$SHARED/models/stories260K.gguf
tsv=$SHARED/refs/stories260K/greedy.tsv
if [ -f "$model" ] && [ -f "$tsv" ] && [ -x "$TMP/simple" ]; then
    node -e '
        const row = require("fs").readFileSync(process.argv[1], "utf8").split("\n")[1].split("\t");
        process.stdout.write(JSON.parse(row[3]));' "$tsv" >"$TMP/want"
    "$TMP/simple" "$model" "Once upon a time" >"$TMP/got" 2>"$TMP/err"
    cmp -s "$TMP/got" "$TMP/want" && pass example_greedy_text || fail example_greedy_text "$(head -c 300 "$TMP/got") $(cat "$TMP/err")"
    expect example_bad_model 1 "$TMP/simple" "$TMP/none.gguf" hi
    grep -q "none.gguf" "$TMP/err" && pass example_error_message || fail example_error_message "$(cat "$TMP/err")"
else
    skip example_greedy_text "$model or $tsv is absent"
fi
finish
