// Writes a tokenizer for a Mistral-style tool-call test model (tests/cli/serve.sh):
// a Hugging Face tokenizer.json with two tokens added, the control token
// [TOOL_CALLS] and a token whose text is CALLS_TEXT (so the model's answer can
// be forced in two tokens), and a tokenizer_config.json with TEMPLATE as the
// chat template. `bibim synth --tokenizer-json OUT_DIR/tokenizer.json` reads both.
// Usage: node tests/serve/mistral_tokenizer.js BASE_TOKENIZER_JSON TEMPLATE CALLS_TEXT OUT_DIR
"use strict";
const fs = require("fs");
const [base, template, calls, dir] = process.argv.slice(2);
if (!dir) {
    console.error("usage: node mistral_tokenizer.js BASE_TOKENIZER_JSON TEMPLATE CALLS_TEXT OUT_DIR");
    process.exit(2);
}
const t = JSON.parse(fs.readFileSync(base, "utf8"));
let max = 0;
for (const id of Object.values(t.model.vocab)) max = Math.max(max, id);
for (const a of t.added_tokens || []) max = Math.max(max, a.id);
const token = (id, content, special) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
t.added_tokens = [...(t.added_tokens || []), token(max + 1, "[TOOL_CALLS]", true), token(max + 2, calls, false)];
fs.writeFileSync(dir + "/tokenizer.json", JSON.stringify(t));
fs.writeFileSync(dir + "/tokenizer_config.json", JSON.stringify({
    bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>", chat_template: fs.readFileSync(template, "utf8"),
}));
