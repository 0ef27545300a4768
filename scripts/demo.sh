#!/usr/bin/env bash
# `make demo`: start an embedded Milvus Lite on a free loopback port and walk through
# every conn command against it, on a throw-away profile. Stops the server at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
work=$(mktemp -d)
export CONN_PROFILE="$work/profiles.toml"
# conn keeps connection state and its parse cache per user, apart from the profile:
# for a throw-away profile, in the throw-away directory too.
export XDG_STATE_HOME="$work/state" XDG_CACHE_HOME="$work/cache"
port=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$BIN/python" -m milvus_lite server --data-dir "$work/data" --host 127.0.0.1 --port "$port" \
    >"$work/milvus-lite.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
echo "Milvus Lite starting on 127.0.0.1:$port (profile: $CONN_PROFILE)"

step() {
    local expect=$1; shift
    printf '\n$ conn %s\n' "$*"
    "$BIN/conn" "$@"
    local code=$?
    echo "[exit $code]"
    if [ "$code" -ne "$expect" ]; then
        echo "demo: expected exit $expect" >&2
        exit 1
    fi
}

step 0 --version
step 0 add demo --uri "http://127.0.0.1:$port" --timeout 5
step 0 connect demo --wait 60
step 0 doctor --network
step 0 has demo
step 0 list
step 0 addr demo
step 0 addr demo --json
step 0 disconnect demo
step 1 has demo
step 0 remove demo
step 0 list --json
echo
echo "Demo finished: every command answered as documented."
