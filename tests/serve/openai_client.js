// `bibim serve` through the official `openai` npm client: chat and text
// completions, whole and streamed, the models list, logprobs, stop strings,
// seeds and the error shapes the client turns into APIError. Every greedy
// (temperature 0) answer must equal what `bibim run` prints for the same
// prompt: for /v1/completions the prompt text itself, for chat the prompt
// `bibim template` renders (ChatML for a model without a template, hence
// `--stop '<|im_end|>'`).
//
// Usage: node tests/serve/openai_client.js BASE_URL API_KEY ALIAS BIBIM MODEL
// Prints "ok NAME" or "FAIL NAME: why" per case (tests/cli/serve.sh counts them).
"use strict";
const { check, eq, truthy, done, commandLine } = require("./cases.js");
const { OpenAI, APIError, BadRequestError, AuthenticationError, NotFoundError } = require("openai");

const [BASE, KEY, ALIAS, BIBIM, MODEL] = process.argv.slice(2);
if (!MODEL) {
    console.error("usage: node openai_client.js BASE_URL API_KEY ALIAS BIBIM MODEL");
    process.exit(2);
}
const client = new OpenAI({ baseURL: BASE + "/v1", apiKey: KEY, maxRetries: 0, timeout: 60000 });
// ---- references from the command line ----------------------------------------
const { file, bibim, runText, chatPrompt } = commandLine(BIBIM, MODEL);
const runChat = (messages, n, extra = []) => runText(chatPrompt(messages), n, ["--stop", "<|im_end|>", ...extra]);
// the prompt's token ids, with BOS, as `bibim tokenize` gives them
const tokenIds = (text) => bibim(["tokenize", "-m", MODEL, "-f", file(text)]).trim().split(/\s+/).map(Number);

// ---- checks ---------------------------------------------------------------------
// Expects fn to throw the client's APIError of this class, status, param and code.
async function expectError(fn, cls, status, param, code) {
    let err = null;
    try {
        await fn();
    } catch (e) {
        err = e;
    }
    truthy(err, `no error thrown, wanted ${status}`);
    truthy(err instanceof APIError, `not an APIError: ${err}`);
    truthy(err instanceof cls, `${err.constructor.name} (${err.status}: ${err.message}), wanted ${cls.name}`);
    eq(err.status, status, "status");
    eq(err.param, param, "error.param");
    eq(err.code, code, "error.code");
    truthy(typeof err.error.message === "string" && err.error.message.length > 0, "error.message is empty");
    eq(Object.keys(err.error).sort(), ["code", "message", "param", "type"], "error keys");
    truthy(typeof err.type === "string" && err.type.length > 0, "error.type is empty");
    return err;
}
async function collect(stream) {
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    return chunks;
}
// The common checks of a stream of chunks; returns the concatenated text, the finish reason and the usage.
function streamSummary(chunks, chat) {
    truthy(chunks.length >= 2, `only ${chunks.length} chunks`);
    const id = chunks[0].id, created = chunks[0].created;
    let text = "", finish = [], usage = null;
    chunks.forEach((c, i) => {
        eq(c.id, id, `chunk ${i} id`);
        eq(c.created, created, `chunk ${i} created`);
        eq(c.object, chat ? "chat.completion.chunk" : "text_completion", `chunk ${i} object`);
        eq(c.model, ALIAS, `chunk ${i} model`);
        if (c.usage) {
            eq(i, chunks.length - 1, "the usage chunk is the last one");
            eq(c.choices, [], "the usage chunk's choices");
            usage = c.usage;
            return;
        }
        eq(c.choices.length, 1, `chunk ${i} choices`);
        const ch = c.choices[0];
        eq(ch.index, 0, `chunk ${i} index`);
        if (chat) {
            if (i === 0) eq(ch.delta.role, "assistant", "the first chunk's delta.role");
            else truthy(ch.delta.role === undefined, `chunk ${i} repeats the role`);
            text += ch.delta.content || "";
        } else {
            text += ch.text;
        }
        if (ch.finish_reason) finish.push(ch.finish_reason);
    });
    truthy(new RegExp(chat ? "^chatcmpl-" : "^cmpl-").test(id), `id ${id}`);
    eq(finish.length, 1, "chunks with a finish_reason");
    return { text, finish: finish[0], usage };
}
function checkUsage(u, promptTokens, completionTokens) {
    eq(u.prompt_tokens, promptTokens, "usage.prompt_tokens");
    eq(u.completion_tokens, completionTokens, "usage.completion_tokens");
    eq(u.total_tokens, promptTokens + completionTokens, "usage.total_tokens");
}
async function metricsText() {
    const r = await fetch(BASE + "/metrics", { headers: { Authorization: "Bearer " + KEY } });
    return r.text();
}
async function busySlots() {
    const m = /^bibim_busy_slots (\S+)$/m.exec(await metricsText());
    return m ? Number(m[1]) : NaN;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const P1 = "Once upon a time";
const M1 = [{ role: "system", content: "You tell short stories." }, { role: "user", content: "Tell me about a cat" }];
const M2 = [
    { role: "user", content: "Once upon a time" },
    { role: "assistant", content: "there was a dog named Max." },
    { role: "user", content: "What did Max do? Écris-moi 🐶" },
];

(async () => {
    const now = Date.now() / 1000;
    await check("models_list", async () => {
        const page = await client.models.list();
        eq(page.data.length, 1, "models");
        const m = page.data[0];
        eq([m.id, m.object, typeof m.created, typeof m.owned_by], [ALIAS, "model", "number", "string"], "model");
        truthy(Math.abs(m.created - now) < 3600, `created ${m.created}`);
    });

    // ---- /v1/completions ----
    let c1 = null;
    await check("completion_greedy_equals_run", async () => {
        c1 = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 32, temperature: 0 });
        eq(c1.choices[0].text, runText(P1, 32), "text");
    });
    await check("completion_shape", async () => {
        truthy(/^cmpl-/.test(c1.id), `id ${c1.id}`);
        eq([c1.object, c1.model, c1.choices.length, c1.choices[0].index], ["text_completion", ALIAS, 1, 0], "head");
        truthy(Math.abs(c1.created - Date.now() / 1000) < 60, `created ${c1.created}`);
        eq(c1.choices[0].finish_reason, "length", "finish_reason");
        eq(c1.choices[0].logprobs, null, "logprobs");
        checkUsage(c1.usage, tokenIds(P1).length, 32);
    });
    await check("completion_stream_equals_whole", async () => {
        const chunks = await collect(await client.completions.create({
            model: ALIAS, prompt: P1, max_tokens: 32, temperature: 0, stream: true,
            stream_options: { include_usage: true } }));
        const s = streamSummary(chunks, false);
        eq(s.text, c1.choices[0].text, "streamed text");
        eq(s.finish, "length", "finish_reason");
        truthy(s.usage, "no usage chunk with include_usage");
        checkUsage(s.usage, c1.usage.prompt_tokens, 32);
        // the same prompt again: all of it but the last token comes from the KV cache
        eq(s.usage.prompt_tokens_details.cached_tokens, c1.usage.prompt_tokens - 1, "cached_tokens of a repeated prompt");
    });
    await check("completion_stream_without_usage", async () => {
        const chunks = await collect(await client.completions.create({
            model: ALIAS, prompt: P1, max_tokens: 5, temperature: 0, stream: true }));
        const s = streamSummary(chunks, false);
        eq(s.usage, null, "usage without include_usage");
        eq(s.text, runText(P1, 5), "text");
    });
    await check("completion_token_ids_prompt", async () => {
        const r = await client.completions.create({ model: ALIAS, prompt: tokenIds(P1), max_tokens: 32, temperature: 0 });
        eq(r.choices[0].text, c1.choices[0].text, "text from token ids");
        eq(r.usage.prompt_tokens, c1.usage.prompt_tokens, "prompt_tokens");
    });
    await check("completion_stop_string", async () => {
        const text = c1.choices[0].text, stop = text.slice(12, 16);
        const want = text.slice(0, text.indexOf(stop));
        eq(want, runText(P1, 32, ["--stop", stop]), "bibim run --stop (the reference)");
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 32, temperature: 0, stop: [stop, "zzzz"] });
        eq([r.choices[0].text, r.choices[0].finish_reason], [want, "stop"], "text and finish_reason");
        const s = streamSummary(await collect(await client.completions.create({
            model: ALIAS, prompt: P1, max_tokens: 32, temperature: 0, stop, stream: true })), false);
        eq([s.text, s.finish], [want, "stop"], "streamed text and finish_reason");
    });
    await check("completion_seeded_sampling", async () => {
        const req = { model: ALIAS, prompt: "Lily", max_tokens: 24, temperature: 1, seed: 42 };
        const a = await client.completions.create(req), b = await client.completions.create(req);
        const c = await client.completions.create({ ...req, seed: 43 });
        eq(b.choices[0].text, a.choices[0].text, "same seed, same text");
        truthy(c.choices[0].text !== a.choices[0].text, "seed 43 gave the text of seed 42");
        // OpenAI's defaults: no top-k, top-p or min-p
        eq(a.choices[0].text, bibim(["run", "-m", MODEL, "-p", "Lily", "-n", "24", "--temp", "1", "--top-k", "0", "--top-p", "1",
                                     "--min-p", "0", "--seed", "42", "-t", "1"]), "bibim run with the same seed and sampling");
    });
    await check("completion_penalties_equal_run", async () => {
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 40, temperature: 0,
                                                    frequency_penalty: 1.0, presence_penalty: 0.5 });
        eq(r.choices[0].text, runText(P1, 40, ["--frequency-penalty", "1.0", "--presence-penalty", "0.5"]), "frequency and presence");
        const q = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 40, temperature: 0, repeat_penalty: 1.3 });
        eq(q.choices[0].text, runText(P1, 40, ["--repeat-penalty", "1.3"]), "repeat_penalty");
    });
    await check("completion_sampling_params_equal_run", async () => {
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 40, temperature: 0.9, top_k: 20,
                                                    top_p: 0.8, min_p: 0.1, seed: 7 });
        eq(r.choices[0].text, bibim(["run", "-m", MODEL, "-p", P1, "-n", "40", "--temp", "0.9", "--top-k", "20", "--top-p", "0.8",
                                     "--min-p", "0.1", "--seed", "7", "-t", "1"]), "text");
    });
    await check("completion_stop_at_the_start", async () => {
        const first = c1.choices[0].text.slice(0, 1);
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 8, temperature: 0, stop: [first] });
        eq([r.choices[0].text, r.choices[0].finish_reason, r.usage.completion_tokens], ["", "stop", 1], "text, finish_reason, tokens");
    });
    await check("completion_logprobs", async () => {
        const req = { model: ALIAS, prompt: P1, max_tokens: 10, temperature: 0, logprobs: 2 };
        const r = await client.completions.create(req);
        const lp = r.choices[0].logprobs, text = r.choices[0].text;
        eq(text, runText(P1, 10), "text");
        eq(lp.tokens.length, 10, "tokens");
        eq(lp.tokens.join(""), text, "the tokens joined");
        eq([lp.token_logprobs.length, lp.top_logprobs.length, lp.text_offset.length], [10, 10, 10], "lengths");
        lp.tokens.forEach((t, i) => {
            truthy(lp.token_logprobs[i] <= 0, `token_logprobs[${i}] = ${lp.token_logprobs[i]}`);
            const top = Object.entries(lp.top_logprobs[i]);
            eq(top.length, 2, `top_logprobs[${i}] size`);
            // greedy: the token is the most likely one
            eq(top[0], [t, lp.token_logprobs[i]], `top_logprobs[${i}] first`);
            truthy(top[1][1] <= top[0][1], `top_logprobs[${i}] order`);
            if (i) eq(lp.text_offset[i] - lp.text_offset[i - 1], Buffer.byteLength(lp.tokens[i - 1]), `text_offset[${i}]`);
        });
        const chunks = await collect(await client.completions.create({ ...req, stream: true }));
        const got = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
        for (const c of chunks)
            if (c.choices[0] && c.choices[0].logprobs) for (const k in got) got[k].push(...c.choices[0].logprobs[k]);
        eq(got, lp, "the streamed logprobs");
    });
    await check("completion_logit_bias_bans_a_token", async () => {
        // ban the greedy first token: the second most likely one comes instead
        const r0 = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 1, temperature: 0, logprobs: 2 });
        const [t0, t1] = Object.keys(r0.choices[0].logprobs.top_logprobs[0]);
        const tok = await (await fetch(BASE + "/tokenize", { method: "POST",
            headers: { Authorization: "Bearer " + KEY, "Content-Type": "application/json" },
            body: JSON.stringify({ content: P1 + t0, with_pieces: true }) })).json();
        const last = tok.tokens[tok.tokens.length - 1];
        eq(last.piece, t0, "the greedy token's piece (test setup)");
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 1, temperature: 0, logprobs: 2,
                                                    logit_bias: { [last.id]: -100 } });
        eq(r.choices[0].logprobs.tokens[0], t1, "the first token with the greedy one banned");
        eq(r.choices[0].text, t1, "text");
    });
    await check("completion_max_completion_tokens", async () => {
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_completion_tokens: 3, temperature: 0 });
        eq([r.usage.completion_tokens, r.choices[0].text], [3, runText(P1, 3)], "completion_tokens and text");
    });

    // ---- /v1/chat/completions ----
    let k1 = null;
    await check("chat_greedy_equals_run", async () => {
        k1 = await client.chat.completions.create({ model: ALIAS, messages: M1, max_tokens: 40, temperature: 0 });
        eq(k1.choices[0].message.content, runChat(M1, 40), "content");
    });
    await check("chat_shape", async () => {
        truthy(/^chatcmpl-/.test(k1.id), `id ${k1.id}`);
        eq([k1.object, k1.model, k1.choices.length, k1.choices[0].index], ["chat.completion", ALIAS, 1, 0], "head");
        eq(k1.choices[0].message.role, "assistant", "role");
        const u = k1.usage;
        checkUsage(u, tokenIds(chatPrompt(M1)).length, u.completion_tokens);
        eq(k1.choices[0].finish_reason, u.completion_tokens === 40 ? "length" : "stop", "finish_reason");
    });
    await check("chat_stream_equals_whole", async () => {
        const chunks = await collect(await client.chat.completions.create({
            model: ALIAS, messages: M1, max_tokens: 40, temperature: 0, stream: true, stream_options: { include_usage: true } }));
        const s = streamSummary(chunks, true);
        eq(s.text, k1.choices[0].message.content, "streamed content");
        eq(s.finish, k1.choices[0].finish_reason, "finish_reason");
        truthy(s.usage, "no usage chunk with include_usage");
        checkUsage(s.usage, k1.usage.prompt_tokens, k1.usage.completion_tokens);
        eq(s.usage.prompt_tokens_details.cached_tokens, k1.usage.prompt_tokens - 1, "cached_tokens of a repeated conversation");
    });
    await check("chat_multi_turn_unicode", async () => {
        const r = await client.chat.completions.create({ model: ALIAS, messages: M2, max_tokens: 30, temperature: 0 });
        eq(r.choices[0].message.content, runChat(M2, 30), "content");
        eq(r.usage.prompt_tokens, tokenIds(chatPrompt(M2)).length, "prompt_tokens");
    });
    await check("chat_content_parts", async () => {
        // content as one text part (as many OpenAI clients send it) means the same as the string
        const parts = [{ role: "user", content: [{ type: "text", text: "Tell me about a cat" }] }];
        const r = await client.chat.completions.create({ model: ALIAS, messages: parts, max_tokens: 12, temperature: 0 });
        eq(r.choices[0].message.content, runChat([{ role: "user", content: "Tell me about a cat" }], 12), "content");
    });
    await check("chat_stop_string", async () => {
        const text = k1.choices[0].message.content, stop = text.slice(8, 11);
        const want = text.slice(0, text.indexOf(stop));
        const r = await client.chat.completions.create({ model: ALIAS, messages: M1, max_tokens: 40, temperature: 0, stop });
        eq([r.choices[0].message.content, r.choices[0].finish_reason], [want, "stop"], "content and finish_reason");
        const s = streamSummary(await collect(await client.chat.completions.create({
            model: ALIAS, messages: M1, max_tokens: 40, temperature: 0, stop: [stop], stream: true })), true);
        eq([s.text, s.finish], [want, "stop"], "streamed content and finish_reason");
    });
    await check("chat_logprobs", async () => {
        const req = { model: ALIAS, messages: M1, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 };
        const r = await client.chat.completions.create(req);
        const content = r.choices[0].logprobs.content, text = r.choices[0].message.content;
        eq(content.length, r.usage.completion_tokens, "entries");
        eq(Buffer.concat(content.map((e) => Buffer.from(e.bytes))).toString("utf8"), text, "the bytes joined");
        content.forEach((e, i) => {
            truthy(e.logprob <= 0, `logprob ${i} = ${e.logprob}`);
            eq(e.top_logprobs.length, 3, `top_logprobs ${i}`);
            eq([e.top_logprobs[0].token, e.top_logprobs[0].logprob], [e.token, e.logprob], `greedy token ${i} is the top one`);
            truthy(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob,
                   `top_logprobs ${i} order`);
        });
        const chunks = await collect(await client.chat.completions.create({ ...req, stream: true }));
        const streamed = chunks.flatMap((c) => (c.choices[0] && c.choices[0].logprobs ? c.choices[0].logprobs.content : []));
        eq(streamed, content, "the streamed logprobs");
    });
    // ---- errors, as the client sees them ----
    await check("error_wrong_type_400", async () => {
        await expectError(() => client.chat.completions.create({ model: ALIAS, messages: M1, temperature: "hot" }),
                          BadRequestError, 400, "temperature", null);
    });
    await check("error_wrong_type_in_stream_400", async () => {
        await expectError(() => client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 1.5, stream: true }),
                          BadRequestError, 400, "max_tokens", null);
    });
    await check("error_n_2", async () => {
        await expectError(() => client.chat.completions.create({ model: ALIAS, messages: M1, n: 2 }), BadRequestError, 400, "n", null);
    });
    await check("error_empty_messages", async () => {
        await expectError(() => client.chat.completions.create({ model: ALIAS, messages: [] }), BadRequestError, 400, "messages", null);
    });
    await check("error_context_length_exceeded", async () => {
        const long = "the cat sat on the mat. ".repeat(400);
        const e = await expectError(() => client.completions.create({ model: ALIAS, prompt: long, max_tokens: 4 }),
                                    BadRequestError, 400, "prompt", "context_length_exceeded");
        truthy(/maximum context length is 2048 tokens/.test(e.message), e.message);
        await expectError(() => client.chat.completions.create({ model: ALIAS, messages: [{ role: "user", content: long }] }),
                          BadRequestError, 400, "messages", "context_length_exceeded");
    });
    await check("error_wrong_api_key_401", async () => {
        const bad = new OpenAI({ baseURL: BASE + "/v1", apiKey: KEY + "x", maxRetries: 0 });
        await expectError(() => bad.chat.completions.create({ model: ALIAS, messages: M1, max_tokens: 2 }),
                          AuthenticationError, 401, null, "invalid_api_key");
        await expectError(() => bad.models.list(), AuthenticationError, 401, null, "invalid_api_key");
    });
    await check("models_retrieve", async () => {
        const m = await client.models.retrieve(ALIAS);
        eq([m.id, m.object, m.owned_by], [ALIAS, "model", "bibim"], "GET /v1/models/{id}");
        // another id: a 404 in OpenAI's shape
        await expectError(() => client.models.retrieve("no-such-model"), NotFoundError, 404, "model", "model_not_found");
    });

    // ---- the client goes away mid-stream: the slot is freed at once ----
    await check("client_abort_frees_the_slot", async () => {
        const before = await busySlots();
        eq(before, 0, "busy slots before");
        const stream = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 1900, temperature: 0,
                                                         logit_bias: { 2: -100 }, stream: true });
        let n = 0;
        for await (const c of stream) if (++n === 3) break; // leaving the loop aborts the request
        let busy = NaN;
        for (let i = 0; i < 30; i++) {
            busy = await busySlots();
            if (busy === 0) break;
            await sleep(100);
        }
        eq(busy, 0, "busy slots 3 s after the client left");
        const r = await client.completions.create({ model: ALIAS, prompt: P1, max_tokens: 32, temperature: 0 });
        eq(r.choices[0].text, c1.choices[0].text, "a request after the abort");
    });
    done();
})();
