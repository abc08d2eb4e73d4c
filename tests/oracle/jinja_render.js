// @huggingface/jinja as the reference renderer for tests/test_jinja.c.
//
// Single case: argv[2] is a JSON file {template, context}; prints the
// rendering, exact bytes, no trailing newline added. On a template error it
// prints "ERROR: <message>" to stderr and exits 1.
//
// Batch: argv[2] is a JSON file holding an array of {template, context}; for
// each case, in order, prints a header line "OK <bytes>" or "ERR <bytes>"
// followed by that many bytes (the rendering as UTF-8, or the error message)
// and a newline.
"use strict";
const fs = require("fs");
const { Template } = require("@huggingface/jinja");

function render(c) {
  return new Template(c.template).render(c.context || {});
}

const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (Array.isArray(input)) {
  const parts = [];
  for (const c of input) {
    let tag, text;
    try {
      text = render(c);
      tag = "OK";
    } catch (e) {
      text = String(e && e.message !== undefined ? e.message : e);
      tag = "ERR";
    }
    const bytes = Buffer.from(text, "utf8");
    parts.push(Buffer.from(`${tag} ${bytes.length}\n`), bytes, Buffer.from("\n"));
  }
  process.stdout.write(Buffer.concat(parts));
} else {
  try {
    process.stdout.write(render(input));
  } catch (e) {
    process.stderr.write("ERROR: " + e.message + "\n");
    process.exit(1);
  }
}
