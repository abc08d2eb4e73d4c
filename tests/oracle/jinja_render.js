// Prints @huggingface/jinja's rendering of {template, context} read from the
// JSON file given as argv[2], exact bytes, no trailing newline added.
// On a template error it prints "ERROR: <message>" to stderr and exits 1.
"use strict";
const fs = require("fs");
const { Template } = require("@huggingface/jinja");
const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
try {
  const out = new Template(input.template).render(input.context || {});
  process.stdout.write(out);
} catch (e) {
  process.stderr.write("ERROR: " + e.message + "\n");
  process.exit(1);
}
