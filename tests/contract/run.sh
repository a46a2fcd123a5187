#!/bin/sh
# The contract test: docs/openapi.yaml against the real server (contract.mjs says what is sent and
# checked). Starts two servers on free ports (--listen 127.0.0.1:0) over the demo feed
# (flightsearch-gen --size demo from 2026-12-01, the dates docs/api.md uses), runs the checks, and
# stops both servers whatever happens:
#   main     --tokens (a token of scope * and one of scope tap): read API and feed endpoints
#   private  no --tokens, --private-sources: 403 feeds_disabled, anonymous `searched` entries
#   keyed    --keys (one key, rate=1/h burst=2) over an empty data dir: 401, RateLimit-*, 429
#
#   sh tests/contract/run.sh BUILD_DIR
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
MODULES=$(sh "$ROOT/tests/contract/npm-tools.sh" "$BUILD")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fs-contract.XXXXXX")
PIDS=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    for pid in $PIDS; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
# A signal (ctest's timeout, Ctrl-C, a reader that went away) exits through cleanup too.
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

"$BUILD/bench/flightsearch-gen" --size demo --seed 1 --start 2026-12-01 --out "$WORK/main" --quiet 2>/dev/null
mkdir -p "$WORK/private"
cp "$WORK"/main/*.msgpack "$WORK/private/"
ADMIN_TOKEN=contract-admin-0123456789abcdef
TAP_TOKEN=contract-tap-0123456789abcdef
printf '%s *\n%s tap\n' "$ADMIN_TOKEN" "$TAP_TOKEN" >"$WORK/tokens"
chmod 600 "$WORK/tokens"
API_KEY=contract-key-0123456789abcdef
mkdir -p "$WORK/keyed"
printf '%s name=contract rate=1/h burst=2\n' "$API_KEY" >"$WORK/keys"
chmod 600 "$WORK/keys"

# start NAME ARGS...: runs the server in the background; sets URL_NAME once it is listening.
start() {
    name=$1
    shift
    : >"$WORK/$name.log"
    "$BUILD/flightsearch" --listen 127.0.0.1:0 --threads 1 --data-dir "$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while ! grep -q 'listening on http://' "$WORK/$name.log"; do
        i=$((i + 1))
        if [ "$i" -gt 200 ] || ! kill -0 "$!" 2>/dev/null; then
            echo "contract: the $name server did not start:" >&2
            cat "$WORK/$name.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    eval "URL_$name=\$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' \"\$WORK/\$name.log\" | head -1)"
}
start main --tokens "$WORK/tokens"
start private --private-sources
start keyed --keys "$WORK/keys"

cd "$ROOT"
status=0
# shellcheck disable=SC2154 # URL_main, URL_private and URL_keyed are set by start through eval
NODE_PATH="$MODULES" node tests/contract/contract.mjs --modules "$MODULES" --spec "$BUILD/openapi.json" \
    --url "$URL_main" --private-url "$URL_private" --keyed-url "$URL_keyed" --api-key "$API_KEY" --admin-token "$ADMIN_TOKEN" --tap-token "$TAP_TOKEN" || status=$?
# A client generated from the served spec, compiled strictly, must answer like the API (client.ts).
if [ "$status" -eq 0 ]; then
    mkdir -p "$WORK/client"
    ln -s "$MODULES" "$WORK/client/node_modules"
    cp tests/contract/client.ts "$WORK/client/"
    printf '{"type": "module"}\n' >"$WORK/client/package.json"
    printf '{"compilerOptions": {"target": "es2022", "module": "nodenext", "moduleResolution": "nodenext", "strict": true,
              "noUnusedLocals": false, "skipLibCheck": true, "types": ["node"], "outDir": "out"}, "files": ["client.ts"]}\n' \
        >"$WORK/client/tsconfig.json"
    curl -sf "$URL_main/openapi.json" -o "$WORK/client/openapi.json" &&
        node "$MODULES/openapi-typescript/bin/cli.js" "$WORK/client/openapi.json" -o "$WORK/client/api.d.ts" --silent &&
        node "$MODULES/typescript/bin/tsc" -p "$WORK/client" &&
        node "$WORK/client/out/client.js" "$URL_main" || status=$?
fi
if [ "$status" -ne 0 ]; then
    echo "contract: server logs:" >&2
    tail -n 20 "$WORK/main.log" "$WORK/private.log" "$WORK/keyed.log" >&2
fi
exit "$status"
