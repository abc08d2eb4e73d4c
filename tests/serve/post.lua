-- wrk script for the load run of tests/cli/serve.sh: small completions and
-- chats (max_tokens 4), taken in turn, with the API key of $BIBIM_KEY. At
-- the end it prints one line that serve.sh reads:
--   bibim-load requests=N connect=N read=N write=N timeout=N status=N bad_body=N
-- (status: answers that were not 2xx/3xx; bad_body: 2xx answers without a usage).
local bodies = {
    '{"prompt":"Once upon a time","max_tokens":4,"temperature":0}',
    '{"prompt":"The little dog","max_tokens":4,"temperature":0.8,"seed":1}',
    '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"temperature":0}',
    '{"prompt":"Lily and Ben","max_tokens":4,"temperature":0,"stream":true}',
}
local paths = { "/v1/completions", "/v1/completions", "/v1/chat/completions", "/v1/completions" }
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    n = 0
    bad = 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BIBIM_KEY") or "")
end

function request()
    n = n + 1
    local i = (n % #bodies) + 1
    return wrk.format("POST", paths[i], nil, bodies[i])
end

function response(status, headers, body)
    if status >= 200 and status < 300 and not (body:find('"usage"', 1, true) or body:find("data: [DONE]", 1, true)) then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local bad_total = 0
    for _, t in ipairs(threads) do
        bad_total = bad_total + (t:get("bad") or 0)
    end
    local e = summary.errors
    io.write(string.format("bibim-load requests=%d connect=%d read=%d write=%d timeout=%d status=%d bad_body=%d\n",
        summary.requests, e.connect, e.read, e.write, e.timeout, e.status, bad_total))
end
