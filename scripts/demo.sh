#!/usr/bin/env bash
# `make demo`: start an embedded Milvus Lite on a free loopback port and walk through what
# a newcomer should discover, each step saying what it proves: connections and their
# health, readiness against a real collection, a team profile layered under a personal
# one, login and logout with a credential store kept in a temporary folder (never your
# own keyring), the Prometheus exporter answering a probe, doctor. Everything lives in a
# throw-away folder, removed at the end with the server.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
work=$(mktemp -d)
mine="$work/mine.toml" team="$work/team.toml"
export CONN_PROFILE="$mine"
# conn keeps connection state and its parse cache per user, apart from the profile: for a
# throw-away profile, in the throw-away folder too. So is the demo's credential store:
# keyrings.alt's file backend under $XDG_DATA_HOME, not the keyring of your session.
export XDG_STATE_HOME="$work/state" XDG_CACHE_HOME="$work/cache" XDG_DATA_HOME="$work/data"
export PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring
free_port() {
    "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
lite="127.0.0.1:$port"

"$BIN/python" -m milvus_lite server --data-dir "$work/lite" --host 127.0.0.1 --port "$port" \
    >"$work/milvus-lite.log" 2>&1 &
server=$!
exporter=
trap 'kill $server $exporter 2>/dev/null; wait $server $exporter 2>/dev/null; rm -rf "$work"' EXIT
echo "Milvus Lite starting on $lite (profiles: $mine over $team)"

proves() { printf '\n# %s\n' "$*"; }

step() {
    local expect=$1; shift
    printf '$ conn %s\n' "$*"
    "$BIN/conn" "$@"
    local code=$?
    echo "[exit $code]"
    if [ "$code" -ne "$expect" ]; then
        echo "demo: expected exit $expect" >&2
        exit 1
    fi
}

collection() {  # load or release the demo's collection, as a job's own code would
    "$BIN/python" - "$lite" "$1" <<'EOF'
import sys
from pymilvus import MilvusClient

client = MilvusClient(uri=f"http://{sys.argv[1]}")
if not client.has_collection("books"):
    client.create_collection("books", dimension=4)  # created loaded
getattr(client, f"{sys.argv[2]}_collection")("books")
client.close()
EOF
}

proves "what is installed, and the alias a CI job would use; --wait rides out the server's start"
step 0 --version
step 0 add demo --address "$lite" --timeout 5
step 0 connect demo --wait 60

proves "healthy is not ready: a job needs its collection to exist and be loaded (exit 4 names what is missing)"
collection load
step 0 has demo --collection books --loaded
collection release
step 4 has demo --collection books --loaded
step 0 has demo --ready

proves "a team profile under a personal one: the first file that defines an alias wins, and --explain says which file"
step 0 --profile "$team" add shared --address "$lite" --db-name default
export CONN_PROFILE="$mine:$team"
step 0 list
step 0 addr shared --explain

proves "conn login keeps a password in the OS credential store (here a throw-away file store), never in the profile"
step 0 add secured --address "$lite" --user demo
printf 'demo-password\n' | step 0 login secured --password-stdin
step 0 connect secured
step 0 addr secured --explain --json
step 0 logout secured

proves "conn exporter serves the profile's aliases to Prometheus: one scrape of /probe"
eport=$(free_port)
"$BIN/conn" exporter --listen "127.0.0.1:$eport" >"$work/exporter.log" 2>&1 &
exporter=$!
printf '$ curl http://127.0.0.1:%s/probe?alias=demo\n' "$eport"
"$BIN/python" - "$eport" <<'EOF' || exit 1
import sys, time, urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/probe?alias=demo"
for _ in range(100):  # until the exporter listens
    try:
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("demo: the exporter did not answer")
print("\n".join(line for line in body.splitlines() if line.startswith(("probe_", "conn_"))))
EOF
kill "$exporter"; wait "$exporter" 2>/dev/null; exporter=

proves "every alias probed at once, then the setup checked with its fixes"
step 0 list --check
step 0 doctor --network

proves "the recorded state, without the network; and conn forgets cleanly"
step 0 has demo --no-probe
step 0 disconnect demo
step 1 has demo --no-probe
step 0 remove demo
echo
echo "Demo finished: every command answered as documented."
