// cases.js — what the openai-client test scripts (openai_client.js,
// json_mode.js, tools_client.js) share: named cases printed as "ok NAME" or
// "FAIL NAME: why" (tests/cli/serve.sh counts them), equality checks, and
// the `bibim` commands whose output the server's answers are compared with.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

let failures = 0;
async function check(name, fn) {
    try {
        await fn();
        console.log("ok   " + name);
    } catch (e) {
        failures++;
        console.log("FAIL " + name + ": " + String(e && e.message ? e.message : e).replace(/\n/g, " | ").slice(0, 600));
    }
}
function eq(got, want, what) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    if (g !== w) throw new Error(`${what}: got ${g && g.slice(0, 400)}, want ${w && w.slice(0, 400)}`);
}
function truthy(v, what) {
    if (!v) throw new Error(what);
}
// Ends the script: status 1 if any case failed.
function done() {
    process.exit(failures ? 1 : 0);
}

// The command line on MODEL: files in a temporary folder (removed at exit),
// `bibim ARGS`, greedy `bibim run` on exactly these prompt bytes, and the
// chat prompt `bibim template` renders.
function commandLine(BIBIM, MODEL) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bibim-serve-"));
    process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
    let nfile = 0;
    const file = (text) => {
        const f = path.join(tmp, "f" + nfile++);
        fs.writeFileSync(f, text);
        return f;
    };
    const bibim = (args) =>
        execFileSync(BIBIM, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 24 }).toString("utf8");
    const runText = (prompt, n, extra = []) =>
        bibim(["run", "-m", MODEL, "-f", file(prompt), "-n", String(n), "--temp", "0", "-t", "1", ...extra]);
    const chatPrompt = (messages) =>
        bibim(["template", "-m", MODEL, "--messages", file(JSON.stringify(messages)), "--add-generation-prompt"]);
    return { file, bibim, runText, chatPrompt };
}

module.exports = { check, eq, truthy, done, commandLine };
