// Checks the answers of the malformed-request matrix of tests/cli/serve.sh.
// Each line of the manifest (tab-separated): NAME, wanted status, got
// status, wanted error.param ("null" for null), wanted error.code ("null"),
// the body file and the headers file. Every error body must be exactly
// {"error":{"message","type","param","code"}}, sent as application/json.
// Prints "ok NAME" or "FAIL NAME: why" per line.
"use strict";
const fs = require("fs");
let failed = 0;
for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean)) {
    const [name, wantStatus, gotStatus, wantParam, wantCode, bodyFile, headersFile] = line.split("\t");
    const why = [];
    const body = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile, "utf8") : "";
    const headers = fs.existsSync(headersFile) ? fs.readFileSync(headersFile, "utf8") : "";
    if (gotStatus !== wantStatus) why.push(`status ${gotStatus}, wanted ${wantStatus}`);
    let j = null;
    try {
        j = JSON.parse(body);
    } catch (e) {
        why.push(`the body is not JSON: ${JSON.stringify(body.slice(0, 200))}`);
    }
    if (j) {
        const e = j.error;
        if (!e || typeof e !== "object" || Object.keys(j).length !== 1) why.push(`not {"error": {...}}: ${body.slice(0, 200)}`);
        else {
            const keys = Object.keys(e).sort().join(",");
            if (keys !== "code,message,param,type") why.push(`error keys ${keys}`);
            if (typeof e.message !== "string" || !e.message) why.push("empty message");
            if (typeof e.type !== "string" || !e.type) why.push("empty type");
            const param = e.param === null ? "null" : e.param, code = e.code === null ? "null" : e.code;
            if (param !== wantParam) why.push(`param ${JSON.stringify(e.param)}, wanted ${wantParam}`);
            if (code !== wantCode) why.push(`code ${JSON.stringify(e.code)}, wanted ${wantCode}`);
            if (why.length) why.push(`message: ${e.message}`);
        }
    }
    if (!/^content-type: application\/json\r?$/im.test(headers)) why.push("Content-Type is not application/json");
    if (why.length) {
        failed++;
        console.log(`FAIL ${name}: ${why.join("; ")}`);
    } else {
        console.log(`ok   ${name}`);
    }
}
process.exit(failed ? 1 : 0);
