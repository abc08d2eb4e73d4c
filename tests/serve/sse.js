// Checks the exact Server-Sent Events framing of a streamed answer saved by
// curl, and prints what it carried as JSON on stdout:
// {"text", "finish", "usage", "events", "error", "ids", "roles", "tool_calls"}
// (tool_calls: the delta.tool_calls pieces put together by index, as
// OpenAI's clients do; "content_after_calls": content that came after one).
// Framing: nothing but `data: PAYLOAD\n\n` events, each payload one JSON
// object on one line, the last one `data: [DONE]` and nothing after it.
// Usage: node tests/serve/sse.js BODY_FILE chat|completion
// Exit status 1 (with the reason on stderr) when the framing is wrong.
"use strict";
const fs = require("fs");
const [file, kind] = process.argv.slice(2);
const raw = fs.readFileSync(file, "utf8");
const die = (why) => {
    process.stderr.write(why + "\n");
    process.exit(1);
};
if (!raw.endsWith("\n\n")) die(`does not end with an empty line: ...${JSON.stringify(raw.slice(-80))}`);
const events = raw.slice(0, -2).split("\n\n");
const out = { text: "", finish: [], usage: null, events: events.length, error: null, ids: [], roles: [], logprobs: 0,
              tool_calls: [], content_after_calls: false };
events.forEach((ev, i) => {
    if (!ev.startsWith("data: ") || ev.includes("\n")) die(`event ${i} is not one 'data: ' line: ${JSON.stringify(ev.slice(0, 200))}`);
    const payload = ev.slice(6);
    if (payload === "[DONE]") {
        if (i !== events.length - 1) die(`[DONE] is event ${i} of ${events.length}`);
        return;
    }
    if (i === events.length - 1) die(`the last event is not [DONE]: ${payload.slice(0, 200)}`);
    let j;
    try {
        j = JSON.parse(payload);
    } catch (e) {
        die(`event ${i} is not JSON: ${payload.slice(0, 200)}`);
    }
    if (j.error) {
        out.error = j.error;
        return;
    }
    out.ids.push(j.id);
    const want = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    if (j.object !== want) die(`event ${i}: object ${j.object}, wanted ${want}`);
    if (j.usage) out.usage = j.usage;
    for (const c of j.choices) {
        if (kind === "chat") {
            if (c.delta.role) out.roles.push(c.delta.role);
            out.text += c.delta.content || "";
            if (c.delta.content && out.tool_calls.length) out.content_after_calls = true;
            for (const t of c.delta.tool_calls || []) {
                if (!Number.isInteger(t.index)) die(`event ${i}: a tool call piece without an index`);
                const have = out.tool_calls[t.index];
                if (!have) {
                    if (t.index !== out.tool_calls.length) die(`event ${i}: tool call ${t.index} before ${out.tool_calls.length}`);
                    if (!t.id || t.type !== "function" || !t.function || typeof t.function.name !== "string")
                        die(`event ${i}: the first piece of a tool call lacks its id, type or name`);
                    out.tool_calls.push({ id: t.id, type: t.type, function: { name: t.function.name, arguments: t.function.arguments || "" } });
                } else {
                    if (t.id && t.id !== have.id) die(`event ${i}: tool call ${t.index} changed its id`);
                    have.function.arguments += (t.function && t.function.arguments) || "";
                }
            }
        } else {
            out.text += c.text;
        }
        if (c.finish_reason) out.finish.push(c.finish_reason);
        if (c.logprobs) out.logprobs++;
    }
});
if (events[events.length - 1] !== "data: [DONE]") die("no data: [DONE] at the end");
if (new Set(out.ids).size > 1) die(`several ids: ${[...new Set(out.ids)].join(" ")}`);
out.ids = [...new Set(out.ids)];
process.stdout.write(JSON.stringify(out));
