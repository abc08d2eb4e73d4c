// JSON mode (`response_format: {"type": "json_object"}`) through the
// official `openai` npm client: chat and text completions, whole and
// streamed, greedy and sampled under several settings and seeds. Whenever
// finish_reason is "stop" the content must parse (JSON.parse) as an object;
// greedy answers must equal `bibim run --json` on the same prompt. The
// stories model left alone writes one long string, so most requests push it
// towards closing with logit_bias on '"' and '}' (tokens 436 and 128).
// Also: {"type": "text"} changes nothing, json_schema and unknown types are
// 400 naming response_format, and json_object with tools is 400.
//
// Usage: node tests/serve/json_mode.js BASE_URL API_KEY ALIAS BIBIM MODEL
// Prints "ok NAME" or "FAIL NAME: why" per case (tests/cli/serve.sh counts them).
"use strict";
const { check, eq, done, commandLine } = require("./cases.js");
const { OpenAI, BadRequestError } = require("openai");

const [BASE, KEY, ALIAS, BIBIM, MODEL] = process.argv.slice(2);
if (!MODEL) {
    console.error("usage: node json_mode.js BASE_URL API_KEY ALIAS BIBIM MODEL");
    process.exit(2);
}
const client = new OpenAI({ baseURL: BASE + "/v1", apiKey: KEY, maxRetries: 0, timeout: 60000 });
const { runText, chatPrompt } = commandLine(BIBIM, MODEL);

function isObject(text, what) {
    let v;
    try {
        v = JSON.parse(text);
    } catch (e) {
        throw new Error(`${what}: JSON.parse: ${e.message}: ${JSON.stringify(text).slice(0, 300)}`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${what}: not an object: ${text.slice(0, 200)}`);
    return v;
}
const JSON_MODE = { type: "json_object" };
const CLOSE = { 436: 4, 128: 6 };
const messages = [{ role: "system", content: "Answer in JSON." }, { role: "user", content: "Tell me about the dog." }];

(async () => {
    // greedy: equals `bibim run --json` (cut by max_tokens: the same bytes)
    await check("json_chat_greedy_equals_run", async () => {
        const r = await client.chat.completions.create({ model: ALIAS, messages, max_tokens: 40, temperature: 0,
                                                         response_format: JSON_MODE });
        eq(r.choices[0].finish_reason, "length", "finish_reason");
        eq(r.choices[0].message.content, runText(chatPrompt(messages), 40, ["--json", "--stop", "<|im_end|>"]), "content");
    });
    await check("json_completion_greedy_equals_run", async () => {
        const r = await client.completions.create({ model: ALIAS, prompt: "Once upon a time", max_tokens: 30, temperature: 0,
                                                    response_format: JSON_MODE });
        eq(r.choices[0].text, runText("Once upon a time", 30, ["--json"]), "text");
    });
    // finished answers parse as objects, whole and streamed, greedy and sampled
    const settings = [
        { temperature: 0 },
        { temperature: 1 },
        { temperature: 0.8, top_p: 0.9 },
        { temperature: 1.2, top_k: 20, min_p: 0.05 },
        { temperature: 0.7, presence_penalty: 0.5, frequency_penalty: 0.3 },
    ];
    let stopped = 0, total = 0;
    for (const [i, s] of settings.entries()) {
        for (const seed of s.temperature === 0 ? [1] : [1, 2, 3]) {
            await check(`json_chat_setting${i}_seed${seed}`, async () => {
                const r = await client.chat.completions.create({ model: ALIAS, messages, max_tokens: 400, seed, logit_bias: CLOSE,
                                                                 response_format: JSON_MODE, ...s });
                const c = r.choices[0];
                total++;
                if (c.finish_reason === "stop") stopped++, isObject(c.message.content, "content");
                else eq(c.finish_reason, "length", "finish_reason");
            });
            await check(`json_chat_stream_setting${i}_seed${seed}`, async () => {
                const stream = await client.chat.completions.create({ model: ALIAS, messages, max_tokens: 400, seed, logit_bias: CLOSE,
                                                                      response_format: JSON_MODE, stream: true, ...s });
                let text = "", finish = null;
                for await (const chunk of stream) {
                    const c = chunk.choices[0];
                    if (!c) continue;
                    if (c.delta && c.delta.content) text += c.delta.content;
                    if (c.finish_reason) finish = c.finish_reason;
                }
                total++;
                if (finish === "stop") stopped++, isObject(text, "streamed content");
                else eq(finish, "length", "finish_reason");
            });
        }
    }
    await check("json_most_answers_close", async () => {
        if (stopped < total / 2) throw new Error(`only ${stopped} of ${total} answers finished with "stop"`);
    });
    await check("json_completion_stream_parses", async () => {
        const stream = await client.completions.create({ model: ALIAS, prompt: "Once upon a time", max_tokens: 400, temperature: 0,
                                                         logit_bias: { 436: 6, 128: 8 }, response_format: JSON_MODE, stream: true });
        let text = "", finish = null;
        for await (const chunk of stream) {
            text += chunk.choices[0].text || "";
            if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
        }
        eq(finish, "stop", "finish_reason");
        isObject(text, "text");
    });
    // text mode is unchanged
    await check("text_mode_unchanged", async () => {
        const base = { model: ALIAS, messages, max_tokens: 30, temperature: 0 };
        const a = await client.chat.completions.create(base);
        const b = await client.chat.completions.create({ ...base, response_format: { type: "text" } });
        eq(b.choices[0].message.content, a.choices[0].message.content, "content");
        eq(a.choices[0].message.content, runText(chatPrompt(messages), 30, ["--stop", "<|im_end|>"]), "content vs run");
        const j = await client.chat.completions.create({ ...base, response_format: JSON_MODE });
        if (j.choices[0].message.content === a.choices[0].message.content) throw new Error("JSON mode changed nothing");
    });
    // errors the client turns into BadRequestError
    const bad = async (name, extra, what) =>
        check(name, async () => {
            try {
                await client.chat.completions.create({ model: ALIAS, messages, max_tokens: 4, ...extra });
            } catch (e) {
                if (!(e instanceof BadRequestError)) throw e;
                eq(e.status, 400, "status");
                eq(e.param, "response_format", "param");
                if (!e.message.includes(what)) throw new Error(`message: ${e.message}`);
                return;
            }
            throw new Error("accepted");
        });
    await bad("json_schema_refused", { response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } } },
              "not supported");
    await bad("unknown_type_refused", { response_format: { type: "yaml" } }, "yaml");
    await bad("json_with_tools_refused",
              { response_format: JSON_MODE, tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] },
              "tools");
    await check("json_with_tool_choice_none_allowed", async () => {
        const r = await client.chat.completions.create({ model: ALIAS, messages, max_tokens: 400, temperature: 0, logit_bias: CLOSE,
                                                         response_format: JSON_MODE, tool_choice: "none",
                                                         tools: [{ type: "function", function: { name: "f" } }] });
        if (r.choices[0].finish_reason === "stop") isObject(r.choices[0].message.content, "content");
    });
    done();
})();
