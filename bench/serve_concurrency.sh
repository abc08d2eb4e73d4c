#!/usr/bin/env bash
# Aggregate decode speed of `bibim serve` with 1, 4 and 8 concurrent
# streams: every step of the server is one batched forward pass, so the
# weights are read once per step for all running requests and the
# aggregate tokens/s should grow with the number of streams.
# Usage: bench/serve_concurrency.sh MODEL.gguf [TOKENS_PER_REQUEST] [THREADS]
# (e.g. a model from `bibim synth --preset llama-3.2-1b --type Q4_0 -o 1b.gguf`).
# Prints a markdown table. Needs curl.
set -u
model=${1:?usage: bench/serve_concurrency.sh MODEL.gguf [TOKENS] [THREADS]}
tokens=${2:-64}
threads=${3:-}
cd "$(dirname "$0")/.."
BIBIM=${BIBIM:-build/bibim}
log=$(mktemp)
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
"$BIBIM" serve -m "$model" --port 0 --parallel 8 -c 512 ${threads:+-t $threads} 2>"$log" &
pid=$!
for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$log")
[ -n "$url" ] || { cat "$log"; exit 1; }

# one request: a short prompt, exactly $tokens tokens (greedy; a random-weight
# model practically never samples an end token)
request() {
    local n
    n=$(curl -s "$url/v1/completions" -H 'Content-Type: application/json' \
        -d "{\"prompt\":\"Request $1 tells a story about\",\"max_tokens\":$tokens,\"temperature\":0}" |
        sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p')
    echo "$n" # one write, so concurrent requests do not interleave their lines
}
request warmup >/dev/null

echo "| streams | tokens | seconds | aggregate t/s | per stream t/s |"
echo "|---|---|---|---|---|"
for n in 1 4 8; do
    start=$(date +%s.%N)
    out=$(for i in $(seq "$n"); do request "$i" & done; wait)
    end=$(date +%s.%N)
    total=$(echo "$out" | awk 'NF {s += $1} END {print s}')
    awk -v n="$n" -v t="$total" -v a="$start" -v b="$end" \
        'BEGIN {d = b - a; printf "| %d | %d | %.2f | %.1f | %.1f |\n", n, t, d, t / d, t / d / n}'
done
