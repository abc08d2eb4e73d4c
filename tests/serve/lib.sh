# Helpers for the tests of `bibim serve` (sourced after tests/cli/lib.sh):
# starting servers on a free loopback port with a watchdog, stopping them
# (also when the test script ends early), and HTTP requests through curl.

SERVE_PIDS=()     # servers still running, killed when the script ends
SERVE_WATCHDOGS=()
# The script's EXIT trap: every server left is killed, then $TMP goes.
serve_cleanup() {
    local p
    for p in "${SERVE_WATCHDOGS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${SERVE_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap serve_cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME [SERVE ARGS...]: starts `$BIBIM serve --port 0 ARGS` (under
# the command array SERVE_WRAP if set, e.g. valgrind) with its stderr in
# $TMP/NAME.log and waits until it prints where it listens (at most
# SERVE_START_WAIT s, default 20). Sets SPID, PORT, BASE (http://127.0.0.1:PORT).
# A watchdog kills it after SERVE_LIFETIME s (default 180), whatever happens.
start_server() {
    local name=$1; shift
    SLOG=$TMP/$name.log
    : >"$SLOG"
    "${SERVE_WRAP[@]}" "$BIBIM" serve --port 0 "$@" >"$TMP/$name.stdout" 2>"$SLOG" </dev/null &
    SPID=$!
    SERVE_PIDS+=("$SPID")
    (
        trap 'kill "$s" 2>/dev/null; exit 0' TERM
        sleep "${SERVE_LIFETIME:-180}" &
        s=$!
        wait "$s" && kill -KILL "$SPID"
    ) >/dev/null 2>&1 </dev/null &
    SERVE_WATCHDOGS+=("$!")
    PORT=
    local waited=0 limit=$((${SERVE_START_WAIT:-20} * 10))
    while [ $waited -lt $limit ]; do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$SLOG" | head -1)
        [ -n "$PORT" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
        waited=$((waited + 1))
    done
    BASE=http://127.0.0.1:$PORT
    [ -n "$PORT" ]
}

# stop_server PID [SIGNAL] [SECONDS]: signals the server (default TERM) and waits
# for it at most SECONDS (default 20); sets STOP_RC to its exit status (or
# "timeout", after which it is killed).
stop_server() {
    local pid=$1 sig=${2:-TERM} limit=$((${3:-20} * 10)) waited=0
    kill -"$sig" "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt $limit ]; do
        # a zombie still answers kill -0: it has exited, wait reaps it below
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ $waited -ge $limit ]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        STOP_RC=timeout
    else
        wait "$pid"
        STOP_RC=$?
    fi
    local i
    for i in "${!SERVE_PIDS[@]}"; do [ "${SERVE_PIDS[$i]}" = "$pid" ] && unset "SERVE_PIDS[$i]"; done
}

# http METHOD PATH [BODY_FILE|-] [CURL ARGS...]: one request to $BASE with
# the API key $KEY (if set) and a JSON Content-Type (unless the curl
# arguments give another); the body goes to $TMP/body, the headers to
# $TMP/headers, and the status is printed.
http() {
    local method=$1 path=$2 data=${3:-}; shift 3 2>/dev/null || shift $#
    local args=(-s -S --max-time "${HTTP_MAX_TIME:-30}" -X "$method" -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}')
    [ -n "${KEY:-}" ] && args+=(-H "Authorization: Bearer $KEY")
    if [ -n "$data" ]; then
        local a own=0
        for a in "$@"; do case "$a" in [Cc]ontent-[Tt]ype:*) own=1 ;; esac; done
        [ $own = 0 ] && args+=(-H 'Content-Type: application/json')
        args+=(--data-binary "@$data")
    fi
    curl "${args[@]}" "$@" "$BASE$path" 2>"$TMP/curl-err"
}

# post PATH JSON [CURL ARGS...]: http POST with the JSON text as the body.
post() {
    local path=$1 json=$2; shift 2
    printf '%s' "$json" >"$TMP/req.json"
    http POST "$path" "$TMP/req.json" "$@"
}

# metric NAME: the value of one line of GET /metrics (the whole line name, labels included)
metric() {
    curl -s --max-time 10 ${KEY:+-H "Authorization: Bearer $KEY"} "$BASE/metrics" |
        awk -v n="$1" '$1 == n {print $2; found = 1} END {if (!found) print "none"}'
}

# rss_kib PID: the resident set of a process, in KiB
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
