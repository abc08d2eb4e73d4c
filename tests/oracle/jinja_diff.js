// Differential testing of bibim's Jinja engine against @huggingface/jinja:
// random templates from a small grammar of what chat templates use, rendered
// by both (C through `test_jinja --render`), compared byte for byte.
// A developer's tool, not part of `make check`:
//   node tests/oracle/jinja_diff.js [COUNT] [SEED] [BINARY]
//   node tests/oracle/jinja_diff.js --files DIR [BINARY]   (templates from files,
//   e.g. a fuzzing corpus)
// Prints each mismatch (template, C's answer, the oracle's) and a summary;
// exits 1 when any was found.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const { Template } = require("@huggingface/jinja");

const fromFiles = process.argv[2] === "--files" ? process.argv[3] : null;
const count = fromFiles ? 0 : Number(process.argv[2] || 2000);
let seed = Number(process.argv[3] || 1) >>> 0 || 1;
const binary = (fromFiles ? process.argv[4] : process.argv[4]) || "build/tests/test_jinja";

function rnd(n) {
  // xorshift32
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}
const pick = (a) => a[rnd(a.length)];

const context = {
  n: 3, z: 0, f: 2.5, g: -1.5, b: false, t: true, s: "Hello World", u: "  é\u00a0x😀 ", e: "", y: null,
  xs: [3, 1, 2], ws: ["b", "A", "a"], d: { k: "v", a: 1, n: { m: [1, 2] } },
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi <tool_response>x</tool_response>" },
    { role: "assistant", content: "<think>\nhm\n</think>\n\nHello!", tool_calls: [{ type: "function", function: { name: "f", arguments: { a: 1, q: "x\"y" } } }] },
    { role: "tool", content: "{\"r\": 2}" },
    { role: "user", content: [{ type: "text", text: "part" }, { type: "image" }] },
  ],
};

const names = ["n", "z", "f", "g", "b", "t", "s", "u", "e", "y", "xs", "ws", "d", "messages", "undef", "loop", "ns"];
const strings = ["'a'", "'B c'", "''", "' x '", "'é😀'", "'\\n'", "'1'", "'0x1'", "'<think>'", "'a,b,,c'", "\"q'\""];
const numbers = ["0", "1", "2", "-1", "10", "1.5", "-0.5", "3.0", "1e3x"].filter((x) => !x.includes("x"));
const plainFilters = ["length", "upper", "lower", "title", "capitalize", "trim", "first", "last", "list", "string", "int",
  "float", "abs", "tojson", "join", "reverse", "sort", "unique", "items", "safe", "indent", "dictsort", "keys", "count", "bool"];
const callFilters = ["join(', ')", "join('')", "default('D')", "default('D', true)", "tojson(indent=2)", "tojson(sort_keys=true)",
  "indent(2)", "indent(2, true)", "replace('a', 'X')", "replace('', '.')", "map(attribute='role')", "map(attribute='content')",
  "selectattr('role', 'equalto', 'user')", "rejectattr('role', 'eq', 'tool')", "selectattr('tool_calls')",
  "sort(attribute='role')", "sort(reverse=true)", "int(7)", "float(1)", "trim()", "upper()", "dictsort(reverse=true)", "get('k')"];
const tests = ["defined", "undefined", "none", "string", "number", "integer", "iterable", "mapping", "sequence", "boolean",
  "true", "false", "odd", "even", "lower", "upper", "callable", "float"];
const binops = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"];
const methods = ["upper()", "lower()", "strip()", "lstrip()", "rstrip()", "title()", "split()", "split(',')", "split(' ', 1)",
  "startswith('H')", "endswith('>')", "replace('o', '0')", "replace('o', '0', 1)", "items()", "keys()", "values()", "get('k')",
  "get('zz', 5)", "length", "role", "content", "k", "n", "m", "0", "1"];

function expr(depth) {
  const r = rnd(depth > 3 ? 3 : 12);
  switch (r) {
    case 0: return pick(names);
    case 1: return pick(strings);
    case 2: return pick(numbers);
    case 3: return `${expr(depth + 1)} | ${pick(plainFilters)}`;
    case 4: return `${expr(depth + 1)} | ${pick(callFilters)}`;
    case 5: return `${expr(depth + 1)} ${pick(binops)} ${expr(depth + 1)}`;
    case 6: return `${expr(depth + 1)} is ${rnd(2) ? "not " : ""}${pick(tests)}`;
    case 7: return `${pick(names)}.${pick(methods)}`;
    case 8: return `(${expr(depth + 1)})${pick(["[0]", "[-1]", "[1:]", "[::-1]", "[:2]", "['role']", ".length", ""])}`;
    case 9: return `${expr(depth + 1)} if ${expr(depth + 1)} else ${expr(depth + 1)}`;
    case 10: return pick([`not ${expr(depth + 1)}`, `-${expr(depth + 1)}`, `[${expr(depth + 1)}, ${expr(depth + 1)}]`,
      `{'k': ${expr(depth + 1)}}`, `(${expr(depth + 1)}, ${expr(depth + 1)})`, `range(${pick(numbers)})`, `namespace(a=${expr(depth + 1)})`]);
    default: return `messages[${pick(["0", "1", "-1", "2"])}].${pick(["role", "content", "tool_calls"])}`;
  }
}

// expressions that mostly render for the context above
const safe = ["n", "f", "s", "u", "e", "xs", "ws", "d", "y", "b", "t", "z", "g", "messages[0].content", "d.k", "d.n.m",
  "s | upper", "u | trim", "xs | join(',')", "ws | sort | join", "n + 1", "f * 2", "n / 2", "n // 2", "-n", "s ~ n",
  "s[1:3]", "u | length", "xs | length", "d | tojson", "xs | tojson", "messages | length", "s.split()", "'a' in s",
  "n > 1", "undef is defined", "y is none", "t and 'yes'", "b or 'no'", "'x' if t else 'y'", "ws | map(attribute='k') | list",
  "messages | map(attribute='role') | join('/')", "messages | selectattr('role', 'equalto', 'user') | list | length",
  "range(n) | list", "d.items() | list", "u.strip().upper()", "s.replace('l', 'L')", "(xs | sort)[0]", "e or 'E'",
  "messages[-1].content is string", "messages[2].tool_calls[0].function.arguments | tojson", "n ** 2", "f | int", "z | string"];
function sx() {
  return rnd(4) ? pick(safe) : expr(2);
}

function stmt(depth) {
  const open = pick(["{%", "{%-"]), close = pick(["%}", "-%}"]);
  const oe = pick(["{{", "{{-"]), ce = pick(["}}", "-}}"]);
  const text = pick(["", " ", "\n", "x", " \n  ", "<|im_start|>"]);
  if (depth > 2) return `${text}${oe} ${sx()} ${ce}`;
  switch (rnd(9)) {
    case 0: return `${open} if ${sx()} ${close}${body(depth)}${pick(["", `${open} else ${close}${body(depth)}`, `${open} elif ${sx()} ${close}${body(depth)}`])}${open} endif ${close}`;
    case 1: {
      const v = pick(["m", "x", "k, v"]);
      const seq = v === "k, v" ? pick(["d.items()", "d | dictsort", "[[1, 2], ['a', 'b']]"]) : pick(["messages", "xs", "ws", "d", "range(3)", "messages | reverse", "messages[1:]", sx()]);
      const inner = v === "m" ? pick(["{{ m.role }}", "{{ m.content }}", "{{ m | tojson }}", "{{ m }}"]) : v === "x" ? "{{ x }}" : "{{ k }}={{ v }}";
      return `${open} for ${v} in ${seq}${pick(["", "", " if " + sx(), " if loop is undefined"])} ${close}${inner}${pick(["", "{{ loop.index }}", "{% if loop.last %}L{% endif %}", "{{ loop.previtem }}"])}${body(depth)}${pick(["", `${open} else ${close}x`])}${open} endfor ${close}`;
    }
    case 2: return `${open} set ${pick(["a", "ns.a", "a, b"])} = ${pick([sx(), sx() + ", " + sx()])} ${close}${oe} ${pick(["a", "ns.a", "b", "ns"])} ${ce}`;
    case 3: return `${open} set ns = namespace(a=0, s='') ${close}${body(depth)}${open} set ns.a = ns.a + 1 ${close}${open} set ns.s = ns.s ~ ${sx()} ${close}${oe} ns.a ${ce}${oe} ns.s ${ce}`;
    case 4: return `${open} macro mm(p, q=${sx()}) ${close}${body(depth)}[${oe} p ${ce}|${oe} q ${ce}]${open} endmacro ${close}${oe} mm(${sx()}) ${ce}${oe} mm(${sx()}, q=${sx()}) ${ce}`;
    case 5: return `${open} macro w() ${close}<${oe} caller() ${ce}>${open} endmacro ${close}${open} call w() ${close}${body(depth)}${open} endcall ${close}`;
    case 6: return `${open} filter ${pick(["upper", "trim", "indent(2)", "replace('x', 'y')"])} ${close}${body(depth)}${open} endfilter ${close}`;
    case 7: return `${open} ${pick(["break", "continue"])} ${close}`;
    default: return `${text}${oe} ${expr(1)} ${ce}${text}`;
  }
}

function body(depth) {
  let out = "";
  const k = 1 + rnd(2);
  for (let i = 0; i < k; i++) out += pick(["", "t", "\n", "  "]) + stmt(depth + 1);
  return out;
}

function renderOracle(t) {
  try {
    return { ok: true, text: new Template(t).render(JSON.parse(JSON.stringify(context))) };
  } catch (e) {
    return { ok: false, text: String(e && e.message) };
  }
}

const templates = [];
for (let i = 0; i < count; i++) templates.push(i % 2 ? body(0) : `{{ ${expr(1)} }}`);
if (fromFiles)
  for (const f of fs.readdirSync(fromFiles).sort()) {
    const t = fs.readFileSync(path.join(fromFiles, f));
    // JavaScript strings hold text: skip inputs that are not UTF-8
    if (Buffer.from(t.toString("utf8"), "utf8").equals(t)) templates.push(t.toString("utf8"));
  }

const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "jinja-diff-")), "cases");
const parts = [];
for (const rec of [JSON.stringify(context), ...templates]) {
  const b = Buffer.from(rec, "utf8");
  parts.push(Buffer.from(`${b.length}\n`), b);
}
fs.writeFileSync(file, Buffer.concat(parts));
const raw = execFileSync(binary, ["--render", file], { maxBuffer: 1 << 30 });
fs.rmSync(path.dirname(file), { recursive: true });

let at = 0, mismatches = 0, rendered = 0, known = 0;
for (const t of templates) {
  const nl = raw.indexOf(10, at);
  const [tag, len] = raw.slice(at, nl).toString().split(" ");
  const text = raw.slice(nl + 1, nl + 1 + Number(len)).toString("utf8");
  at = nl + 1 + Number(len) + 1;
  const want = renderOracle(t);
  const same = tag === "OK" ? want.ok && Buffer.from(want.text, "utf8").equals(raw.slice(nl + 1, nl + 1 + Number(len))) : !want.ok;
  rendered += want.ok;
  // known difference: HF prints a function as its JavaScript source
  if (!same && tag === "ERR" && text.includes("cannot convert a function") && want.ok && want.text.includes("=>")) {
    known++;
    continue;
  }
  if (!same) {
    mismatches++;
    if (mismatches <= 20)
      console.log(`--- template: ${JSON.stringify(t)}\n    C:      ${tag} ${JSON.stringify(text)}\n    oracle: ${want.ok ? "OK" : "ERR"} ${JSON.stringify(want.text)}`);
  }
}
console.log(`${templates.length} templates, ${rendered} rendered by the oracle, ${mismatches} mismatches` +
  (known ? ` (and ${known} known: functions printed)` : ""));
process.exit(mismatches ? 1 : 0);
