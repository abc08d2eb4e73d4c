// Tool calls through `bibim serve`, with the official `openai` npm client
// (and fetch for what the client hides). The server runs a random-weight
// model made by `bibim synth`: FORMAT hermes, with Qwen 3's tokenizer and
// chat template (<tool_call>...</tool_call> after optional text), llama3,
// with Llama 3.1's tokenizer and tests/serve/llama3_tools.jinja ({"name":
// ..., "parameters": ...} as the whole answer), or mistral, with Llama 3.1's
// tokenizer plus a control token [TOOL_CALLS] and a token holding MISTRAL_CALLS
// below, and tests/serve/mistral_tools.jinja. Random weights never
// call a tool on their own, so the requests force the output with the
// ordinary sampling fields: greedy, each token of the wanted text gets a
// logit_bias 5 lower than the one before, and repeat_penalty 100 sinks every
// token once it has been generated, so the tokens come in exactly that order.
// Nothing in the server knows about this; it parses what the model wrote.
//
// Usage: node tests/serve/tools_client.js BASE_URL API_KEY [hermes|llama3]
// Prints "ok NAME" or "FAIL NAME: why" per case (tests/cli/serve.sh counts them).
"use strict";
const { OpenAI, BadRequestError } = require("openai");
const { check, eq, done } = require("./cases.js");

const [BASE, KEY, FORMAT = "hermes"] = process.argv.slice(2);
const LLAMA = FORMAT === "llama3", MISTRAL = FORMAT === "mistral";
if (!KEY) {
    console.error("usage: node tools_client.js BASE_URL API_KEY");
    process.exit(2);
}
const client = new OpenAI({ baseURL: BASE + "/v1", apiKey: KEY, maxRetries: 0, timeout: 60000 });

const WEATHER = {
    type: "function",
    function: {
        name: "get_weather",
        description: "The weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
};
const OTHER = { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } };
// Pushes the tool text of the system prompt out of the penalty window (the last 64 tokens).
const FILLER = " The quick brown fox jumps over the lazy dog.".repeat(8);
const USER = { role: "user", content: "What is the weather in Paris?" + FILLER };
const CALL_TEXT = LLAMA ? '{"name":"get_weather","parameters":{"city": "Paris"}}'
                        : '<tool_call>{"name":"get_weather","arguments":{"city": "Paris"}}</tool_call>';
// Text before the call: Hermes' format allows it, Llama's does not (the call is the whole answer).
const BEFORE = LLAMA ? "" : "Sure!";
const BEFORE_CONTENT = LLAMA ? null : "Sure!";
const named = (n) => `${FORMAT}_${n}`;
// Mistral: the calls as one token (serve.sh adds it to the vocabulary), after the [TOOL_CALLS] control token
const MISTRAL_CALLS = '[{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1B2c3D4e"}, {"name": "get_weather", "arguments": {"city": "Lyon"}}]';

async function tokenize(text) {
    const r = await fetch(BASE + "/tokenize", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + KEY },
        body: JSON.stringify({ content: text, parse_special: true }),
    });
    const j = await r.json();
    if (!r.ok) throw new Error("tokenize: " + JSON.stringify(j));
    return j.tokens;
}
// The sampling fields that make the model write exactly `text`.
async function forced(text) {
    const ids = await tokenize(text);
    if (new Set(ids).size !== ids.length) throw new Error(`'${text}' has a repeated token: ${ids}`);
    const logit_bias = {};
    ids.forEach((id, i) => (logit_bias[id] = 100 - 5 * i));
    return { logit_bias, repeat_penalty: 100, temperature: 0, max_tokens: ids.length };
}
async function rawPost(body) {
    const r = await fetch(BASE + "/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + KEY },
        body: JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
}

async function mistral() {
    // [TOOL_CALLS] is a control token: it is not in the text, the list of calls is
    const f = await forced("[TOOL_CALLS]" + MISTRAL_CALLS);
    eq(f.max_tokens, 2, "tokens of the forced answer");
    const want = [["get_weather", '{"city": "Paris"}'], ["get_weather", '{"city": "Lyon"}']];
    let first = null;
    await check(named("whole_two_calls"), async () => {
        const r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], ...f });
        const m = r.choices[0].message;
        eq([r.choices[0].finish_reason, m.content], ["tool_calls", null], "finish_reason, content");
        eq(m.tool_calls.map((t) => [t.function.name, t.function.arguments]), want, "calls");
        eq(m.tool_calls[0].id, "a1B2c3D4e", "the model's own id");
        if (!/^[A-Za-z0-9]{9}$/.test(m.tool_calls[1].id)) throw new Error("a made id is not 9 letters and digits: " + m.tool_calls[1].id);
        first = m;
    });
    await check(named("stream_two_calls"), async () => {
        const runner = client.chat.completions.stream({ model: "m", messages: [USER], tools: [WEATHER], ...f });
        const done = await runner.finalChatCompletion();
        const m = done.choices[0].message;
        eq([done.choices[0].finish_reason, m.content || null], ["tool_calls", null], "finish_reason, content");
        eq(m.tool_calls.map((t) => [t.function.name, t.function.arguments]), want, "calls");
        eq(m.tool_calls[0].id, "a1B2c3D4e", "id");
    });
    await check(named("history_round_trip"), async () => {
        if (!first) throw new Error("no calls from whole_two_calls");
        const msgs = [USER, { role: "assistant", content: null, tool_calls: first.tool_calls },
                      { role: "tool", tool_call_id: first.tool_calls[0].id, content: "20 C" },
                      { role: "tool", tool_call_id: first.tool_calls[1].id, content: "18 C" }];
        const r = await client.chat.completions.create({ model: "m", messages: msgs, tools: [WEATHER], max_tokens: 2, temperature: 0 });
        eq(r.choices[0].message.role, "assistant", "answer after the tool results");
        const t = await fetch(BASE + "/apply-template", {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: "Bearer " + KEY },
            body: JSON.stringify({ messages: msgs, tools: [WEATHER] }),
        }).then((x) => x.json());
        const wantText = `[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1B2c3D4e"}, ` +
                         `{"name": "get_weather", "arguments": {"city": "Lyon"}, "id": "${first.tool_calls[1].id}"}]<|eot_id|>` +
                         '[TOOL_RESULTS]{"content": "20 C", "call_id": "a1B2c3D4e"}[/TOOL_RESULTS]';
        if (!t.prompt || !t.prompt.includes(wantText)) throw new Error("rendered: " + JSON.stringify(t.prompt && t.prompt.slice(-400)));
    });
    await check(named("unknown_name_is_text"), async () => {
        const r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [OTHER], ...f });
        eq([r.choices[0].message.content, r.choices[0].message.tool_calls, r.choices[0].finish_reason], [MISTRAL_CALLS, undefined, "length"], "answer");
    });
    done();
}

(async () => {
    if (MISTRAL) return mistral();
    const f = await forced(BEFORE + CALL_TEXT);
    let first = null;

    await check(named("whole_tool_call"), async () => {
        const r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER, OTHER], ...f });
        const c = r.choices[0], m = c.message;
        eq(c.finish_reason, "tool_calls", "finish_reason");
        eq(m.role, "assistant", "role");
        eq(m.content, BEFORE_CONTENT, "content (the text before the call)");
        eq(m.tool_calls.length, 1, "number of calls");
        const t = m.tool_calls[0];
        if (!/^call_[A-Za-z0-9]{24}$/.test(t.id)) throw new Error("id " + t.id);
        eq([t.type, t.function.name, t.function.arguments], ["function", "get_weather", '{"city": "Paris"}'], "the call");
        eq(JSON.parse(t.function.arguments), { city: "Paris" }, "arguments parsed");
        eq(r.usage.completion_tokens, f.max_tokens, "completion_tokens");
        first = m;
    });

    await check(named("whole_exact_json"), async () => {
        const r = await rawPost({ messages: [USER], tools: [WEATHER], ...f });
        eq(r.status, 200, "status");
        const j = JSON.parse(r.text);
        const m = j.choices[0].message;
        eq(Object.keys(m), ["role", "content", "refusal", "tool_calls"], "message keys");
        eq(Object.keys(m.tool_calls[0]), ["id", "type", "function"], "call keys");
        eq(Object.keys(m.tool_calls[0].function), ["name", "arguments"], "function keys");
    });

    await check(named("stream_tool_call"), async () => {
        const stream = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], stream: true, ...f });
        let content = "", finish = null, calls = [], pieces = 0;
        for await (const ch of stream) {
            const d = ch.choices[0].delta;
            if (d.content) {
                if (calls.length) throw new Error("content after a tool call piece");
                content += d.content;
            }
            for (const t of d.tool_calls || []) {
                pieces++;
                if (!calls[t.index]) calls[t.index] = { id: t.id, type: t.type, name: t.function.name, arguments: "" };
                calls[t.index].arguments += t.function.arguments || "";
            }
            if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
        }
        eq(content, BEFORE, "streamed content");
        eq(finish, "tool_calls", "finish_reason");
        eq(pieces, 2, "pieces (the head, then the arguments)");
        eq(calls.length, 1, "calls");
        if (!/^call_[A-Za-z0-9]{24}$/.test(calls[0].id)) throw new Error("id " + calls[0].id);
        eq([calls[0].type, calls[0].name, calls[0].arguments], ["function", "get_weather", '{"city": "Paris"}'], "the call");
    });

    await check(named("stream_helper_final_message"), async () => {
        // the client's own assembly of the deltas (ChatCompletionStream)
        const runner = client.chat.completions.stream({ model: "m", messages: [USER], tools: [WEATHER], ...f });
        const done = await runner.finalChatCompletion();
        const m = done.choices[0].message;
        eq([m.content, m.tool_calls[0].function.name, m.tool_calls[0].function.arguments, done.choices[0].finish_reason],
           [BEFORE_CONTENT, "get_weather", '{"city": "Paris"}', "tool_calls"], "final message");
    });

    await check(named("history_round_trip"), async () => {
        if (!first) throw new Error("no call from tools_whole_tool_call");
        const msgs = [USER, { role: "assistant", content: null, tool_calls: first.tool_calls },
                      { role: "tool", tool_call_id: first.tool_calls[0].id, content: "20 C and sunny" }];
        const r = await client.chat.completions.create({ model: "m", messages: msgs, tools: [WEATHER], max_tokens: 4, temperature: 0 });
        eq(r.choices[0].message.role, "assistant", "answer after the tool result");
        const t = await fetch(BASE + "/apply-template", {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: "Bearer " + KEY },
            body: JSON.stringify({ messages: msgs, tools: [WEATHER] }),
        }).then((x) => x.json());
        // arguments reach the template as an object (not a JSON string quoted again)
        const want = LLAMA
            ? '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>' +
              "<|start_header_id|>ipython<|end_header_id|>\n\n20 C and sunny<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
            : '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
              "<|im_start|>user\n<tool_response>\n20 C and sunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n";
        if (!t.prompt || !t.prompt.endsWith(want)) throw new Error("rendered: " + JSON.stringify(t.prompt && t.prompt.slice(-300)));
    });

    await check(named("choice_none_is_text"), async () => {
        const r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], tool_choice: "none", ...f });
        const m = r.choices[0].message;
        eq([m.content, m.tool_calls, r.choices[0].finish_reason], [BEFORE + CALL_TEXT, undefined, "length"], "answer");
    });

    await check(named("choice_auto_required_named"), async () => {
        for (const tool_choice of ["auto", "required", { type: "function", function: { name: "get_weather" } }]) {
            const r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER, OTHER], tool_choice, ...f });
            eq([r.choices[0].finish_reason, r.choices[0].message.tool_calls[0].function.name], ["tool_calls", "get_weather"],
               "tool_choice " + JSON.stringify(tool_choice));
        }
    });

    await check(named("unknown_name_is_text"), async () => {
        // a call of a tool the request does not offer is returned as text, never a 500
        let r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [OTHER], ...f });
        eq([r.choices[0].message.content, r.choices[0].message.tool_calls, r.choices[0].finish_reason],
           [BEFORE + CALL_TEXT, undefined, "length"], "tools without get_weather");
        r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER, OTHER],
                                                   tool_choice: { type: "function", function: { name: "get_time" } }, ...f });
        eq([r.choices[0].message.content, r.choices[0].finish_reason], [BEFORE + CALL_TEXT, "length"], "tool_choice get_time");
    });

    await check(named("broken_call_is_text"), async () => {
        // Llama: JSON that is no call (held back while streaming, since it could have been one)
        const text = LLAMA ? '{"weather":"sunny"}' : 'Ok<tool_call>{"name":"get_weather","arguments":{"city": </tool_call>';
        const g = await forced(text);
        const r = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], ...g });
        eq([r.choices[0].message.content, r.choices[0].message.tool_calls], [text, undefined], "answer");
        // streamed: the held-back text comes out as content at the end
        const stream = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], stream: true, ...g });
        let content = "", calls = 0, finish = null;
        for await (const ch of stream) {
            content += ch.choices[0].delta.content || "";
            calls += (ch.choices[0].delta.tool_calls || []).length;
            if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
        }
        eq([content, calls, finish], [r.choices[0].message.content, 0, "length"], "streamed");
    });

    await check(named("plain_text_streams_unchanged"), async () => {
        const g = await forced("Sunny today in Paris");
        const whole = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], ...g });
        const stream = await client.chat.completions.create({ model: "m", messages: [USER], tools: [WEATHER], stream: true, ...g });
        let content = "";
        for await (const ch of stream) content += ch.choices[0].delta.content || "";
        eq([whole.choices[0].message.content, content], ["Sunny today in Paris", "Sunny today in Paris"], "text");
    });

    await check(named("bad_requests"), async () => {
        const bad = [
            [{ tools: [WEATHER], tool_choice: "sometimes" }, "tool_choice"],
            [{ tools: [WEATHER], tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
            [{ tool_choice: "required" }, "tool_choice"],
            [{ tools: [{ type: "function" }] }, "tools"],
            [{ tools: [{ type: "retrieval", function: { name: "x" } }] }, "tools"],
            [{ tools: {} }, "tools"],
            [{ tools: [WEATHER], parallel_tool_calls: "yes" }, "parallel_tool_calls"],
        ];
        for (const [fields, param] of bad) {
            try {
                await client.chat.completions.create({ model: "m", messages: [USER], max_tokens: 1, ...fields });
                throw new Error("accepted " + JSON.stringify(fields));
            } catch (e) {
                if (!(e instanceof BadRequestError)) throw e;
                eq([e.status, e.param], [400, param], JSON.stringify(fields));
            }
        }
    });

    done();
})();
