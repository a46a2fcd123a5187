#!/bin/sh
# The web page's browser test: headless Debian chromium, driven by playwright-core (page.mjs says
# what is done and checked), against the real server over the demo feed (flightsearch-gen
# --size demo from 2026-12-01, the dates docs/api.md uses), started here on a free port
# (--listen 127.0.0.1:0) with a token file so the feed status view has something to show.
# Screenshots of every view go to BUILD/browser-artifacts/. The server and the browser are
# stopped on every exit path: page.mjs closes the browser in a finally, playwright kills it when
# node is signalled, and the trap below stops node and the server.
#
#   sh tests/browser/run.sh BUILD_DIR
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "browser: $CHROMIUM is not installed (make deps installs Debian's chromium)" >&2; exit 1; }
MODULES=$(sh "$ROOT/tests/browser/npm-tools.sh" "$BUILD")
ARTIFACTS="$BUILD/browser-artifacts"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fs-browser.XXXXXX")
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

"$BUILD/bench/flightsearch-gen" --size demo --seed 1 --start 2026-12-01 --out "$WORK/data" --quiet 2>/dev/null
TOKEN=browser-test-0123456789abcdef
printf '%s *\n' "$TOKEN" >"$WORK/tokens"
chmod 600 "$WORK/tokens"

: >"$WORK/server.log" # before the loop below greps it: the background job creates it only when it runs
"$BUILD/flightsearch" --listen 127.0.0.1:0 --threads 1 --data-dir "$WORK/data" --tokens "$WORK/tokens" >"$WORK/server.log" 2>&1 &
SERVER=$!
PIDS="$SERVER"
i=0
while ! grep -q 'listening on http://' "$WORK/server.log"; do
    i=$((i + 1))
    if [ "$i" -gt 200 ] || ! kill -0 "$SERVER" 2>/dev/null; then
        echo "browser: the server did not start:" >&2
        cat "$WORK/server.log" >&2
        exit 1
    fi
    sleep 0.05
done
URL=$(sed -n 's|.*listening on \(http://[0-9.:]*\).*|\1|p' "$WORK/server.log" | head -1)
# Ready: the page's first search must see the whole feed, not a server still loading it.
i=0
until curl -sf "$URL/readyz" >/dev/null; do
    i=$((i + 1))
    [ "$i" -le 200 ] || { echo "browser: the server never became ready" >&2; exit 1; }
    sleep 0.05
done

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
status=0
# In the background, so the trap can stop it (and playwright its browser) on a signal.
NODE_PATH="$MODULES" node "$ROOT/tests/browser/page.mjs" --modules "$MODULES" --url "$URL" --token "$TOKEN" \
    --chromium "$CHROMIUM" --artifacts "$ARTIFACTS" &
PIDS="$! $PIDS"
wait "$!" || status=$?
if [ "$status" -ne 0 ]; then
    echo "browser: server log:" >&2
    tail -n 20 "$WORK/server.log" >&2
fi
exit "$status"
