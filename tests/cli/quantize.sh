# bibim quantize from the command line: types, refusal, errors.
. "$(dirname "$0")/lib.sh"

f32=$SHARED/refs/quant/tiny-f32.gguf
if [ -f "$f32" ]; then
    expect quantize_q4_k_m 0 "$BIBIM" quantize "$f32" "$TMP/q.gguf" Q4_K_M -t 2
    "$BIBIM" info --json "$TMP/q.gguf" >"$TMP/q.json" 2>/dev/null
    if node -e '
        const j = JSON.parse(require("fs").readFileSync(process.argv[1]));
        const type = n => j.tensors.find(t => t.name === n).type;
        const ok = j.metadata["general.file_type"] === 15 && j.metadata["general.quantization_version"] === 2 &&
            type("output.weight") === "q6_K" && type("blk.1.attn_v.weight") === "q6_K" &&
            type("blk.0.attn_v.weight") === "q4_K" && type("blk.0.attn_norm.weight") === "f32";
        process.exit(ok ? 0 : 1);' "$TMP/q.json"; then pass quantize_q4_k_m_types; else fail quantize_q4_k_m_types; fi
    expect quantize_refuses_input 1 "$BIBIM" quantize "$f32" "$f32" Q4_0
    grep -q "overwrite" "$TMP/err" && pass quantize_refuses_message || fail quantize_refuses_message "$(cat "$TMP/err")"
    expect quantize_bad_type 1 "$BIBIM" quantize "$f32" "$TMP/x.gguf" Q7_X
    grep -q "Q7_X" "$TMP/err" && pass quantize_bad_type_message || fail quantize_bad_type_message "$(cat "$TMP/err")"
    expect quantize_bad_threads 1 "$BIBIM" quantize "$f32" "$TMP/x.gguf" Q4_0 -t zero
    expect quantize_unwritable 2 "$BIBIM" quantize "$f32" "$TMP/no/such/dir/x.gguf" Q4_0
    [ ! -e "$TMP/x.gguf" ] && pass quantize_left_nothing || fail quantize_left_nothing
else
    skip quantize "$f32 is absent"
fi
printf 'GGUF\003\000\000\000' >"$TMP/trunc.gguf"
expect quantize_truncated_input 2 "$BIBIM" quantize "$TMP/trunc.gguf" "$TMP/y.gguf" Q4_0
[ ! -e "$TMP/y.gguf" ] && [ ! -e "$TMP/y.gguf.tmp" ] && pass quantize_truncated_left_nothing || fail quantize_truncated_left_nothing
expect quantize_no_args 1 "$BIBIM" quantize
finish
