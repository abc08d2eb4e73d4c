# bibim info: text and JSON views of real files, and clean failures.
. "$(dirname "$0")/lib.sh"

model=$SHARED/models/stories260K.gguf
if [ -f "$model" ]; then
    expect info_text 0 "$BIBIM" info "$model"
    grep -q 'general.architecture .*"llama"' "$TMP/out" && grep -q 'tokenizer.ggml.tokens .*\[string x 512\]' "$TMP/out" &&
        grep -q '^parameters: ' "$TMP/out" && pass info_text_content || fail info_text_content "$(head -c 400 "$TMP/out")"
    expect info_json 0 "$BIBIM" info --json "$model"
    # Cross-check the JSON against an independent reading of the header (node, no bibim code).
    if node -e '
        const fs = require("fs");
        const j = JSON.parse(fs.readFileSync(process.argv[1]));
        const b = fs.readFileSync(process.argv[2]);
        const ok = j.version === b.readUInt32LE(4) &&
            j.tensors.length === Number(b.readBigUInt64LE(8)) &&
            Object.keys(j.metadata).length === Number(b.readBigUInt64LE(16)) &&
            j.metadata["general.architecture"] === "llama" &&
            j.metadata["llama.embedding_length"] === 64 &&
            j.metadata["tokenizer.ggml.tokens"].len === 512 &&
            j.metadata["tokenizer.ggml.tokens"].head[1] === "<s>" &&
            j.n_params === j.tensors.reduce((s, t) => s + t.shape.reduce((a, x) => a * x, 1), 0) &&
            j.tensors.every(t => t.offset % j.alignment === 0 && t.offset + t.bytes <= b.length);
        process.exit(ok ? 0 : 1);' "$TMP/out" "$model"; then pass info_json_content; else fail info_json_content; fi
else
    skip info_text "$model is absent"
fi

expect info_missing_file 2 "$BIBIM" info "$TMP/none.gguf"
grep -q "none.gguf" "$TMP/err" && pass info_missing_file_message || fail info_missing_file_message "$(cat "$TMP/err")"
printf 'GGUF\001\000\000\000' >"$TMP/v1.gguf"
expect info_version_1 2 "$BIBIM" info "$TMP/v1.gguf"
grep -qi "version 1" "$TMP/err" && pass info_version_1_message || fail info_version_1_message "$(cat "$TMP/err")"
: >"$TMP/empty.gguf"
expect info_empty_file 2 "$BIBIM" info "$TMP/empty.gguf"
expect info_no_args 1 "$BIBIM" info
expect info_bad_option 1 "$BIBIM" info --frobnicate x.gguf
expect info_help 0 "$BIBIM" info --help
finish
