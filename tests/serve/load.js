// The load run of tests/cli/serve.sh when wrk is not installed: the
// requests of post.lua from CONNECTIONS keep-alive loops for SECONDS, then
// the same summary line as post.lua.
// Usage: node tests/serve/load.js BASE_URL API_KEY SECONDS CONNECTIONS
"use strict";
const http = require("http");
const [base, key, seconds, conns] = process.argv.slice(2);
const url = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns) });
const reqs = [
    ["/v1/completions", { prompt: "Once upon a time", max_tokens: 4, temperature: 0 }],
    ["/v1/completions", { prompt: "The little dog", max_tokens: 4, temperature: 0.8, seed: 1 }],
    ["/v1/chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 4, temperature: 0 }],
    ["/v1/completions", { prompt: "Lily and Ben", max_tokens: 4, temperature: 0, stream: true }],
];
const s = { requests: 0, connect: 0, read: 0, write: 0, timeout: 0, status: 0, bad_body: 0 };
const end = Date.now() + Number(seconds) * 1000;
function one(i) {
    return new Promise((resolve) => {
        const [path, body] = reqs[i % reqs.length];
        const data = JSON.stringify(body);
        const r = http.request({ host: url.hostname, port: url.port, path, method: "POST", agent, timeout: 10000,
            headers: { "Content-Type": "application/json", Authorization: "Bearer " + key, "Content-Length": Buffer.byteLength(data) } },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (d) => (text += d));
                res.on("end", () => {
                    s.requests++;
                    if (res.statusCode < 200 || res.statusCode >= 400) s.status++;
                    else if (!text.includes('"usage"') && !text.includes("data: [DONE]")) s.bad_body++;
                    resolve();
                });
                res.on("error", () => (s.read++, resolve()));
            });
        r.on("timeout", () => (s.timeout++, r.destroy()));
        r.on("error", (e) => ((e.code === "ECONNREFUSED" ? s.connect++ : s.write++), resolve()));
        r.end(data);
    });
}
async function loop(k) {
    for (let i = k; Date.now() < end; i += Number(conns)) await one(i);
}
Promise.all(Array.from({ length: Number(conns) }, (_, k) => loop(k))).then(() => {
    console.log("bibim-load " + Object.entries(s).map(([k, v]) => `${k}=${v}`).join(" "));
    agent.destroy();
});
