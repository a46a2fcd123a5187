#!/bin/bash
# tests/soak/run.sh [BUILD_DIR]: minutes of mixed searches and feed pushes with graceful restarts
# in between (tests/soak/soak.c says what is checked).
#
#   make soak                              # SOAK_SECONDS=600
#   SOAK_SECONDS=60 tests/soak/run.sh build   # ctest soak_short
#
# Prepares a work dir: demo data from today (flightsearch-gen), which the server imports as seed
# files at its first start; a tokens file (soaktoken0000000000000 with scope *); 2000 realistic
# searches drawn from the demo legs (tests/overload/uris.awk). Then runs the soak driver.
#
# Environment (defaults): SOAK_SECONDS (600), SOAK_RESTART_EVERY (seconds / 6, at least 30),
# SOAK_WARMUP (a third of that), SOAK_RATE (200 searches/s), SOAK_PUSH_EVERY_MS (250),
# SOAK_SNAPSHOT_EVERY (100), SOAK_THREADS (2), SOAK_STRICT (0: 1 fails on a legitimate search shed
# with 503 + Retry-After instead of re-sending it), SOAK_KEEP (0: 1 keeps the work dir and the log).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
for f in "$BUILD/flightsearch" "$BUILD/bench/flightsearch-gen" "$BUILD/tests/soak_driver"; do
    [ -x "$f" ] || { echo "soak: $f is missing; build first (make build)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/fs-soak-XXXXXX)
cleanup() {
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

TOKEN=soaktoken0000000000000
printf '# soak test\n%s *\n' "$TOKEN" >"$WORK/tokens.txt"
chmod 600 "$WORK/tokens.txt" # the server refuses a tokens file others can read
"$BUILD/bench/flightsearch-gen" --size demo --seed 1 --start "$(date -u +%F)" --out "$WORK/data" --csv "$WORK/legs.csv" \
    --quiet >"$WORK/gen.log" 2>&1
awk -F, -v seed=2 -v count=2000 -f "$ROOT/tests/overload/uris.awk" "$WORK/legs.csv" >"$WORK/paths.txt"
rm -f "$WORK/legs.csv"

ARGS=(--binary "$BUILD/flightsearch" --data-dir "$WORK/data" --tokens "$WORK/tokens.txt" --token "$TOKEN"
      --uris "$WORK/paths.txt" --seconds "${SOAK_SECONDS:-600}" --rate "${SOAK_RATE:-200}"
      --push-every-ms "${SOAK_PUSH_EVERY_MS:-250}" --snapshot-every "${SOAK_SNAPSHOT_EVERY:-100}" --threads "${SOAK_THREADS:-2}" --strict "${SOAK_STRICT:-0}")
# Under a sanitizer RSS measures its quarantine and shadow memory, not the server: report only.
if grep -Eq '^FS_(ASAN|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    ARGS+=(--rss-check 0)
fi
[ -n "${SOAK_RESTART_EVERY:-}" ] && ARGS+=(--restart-every "$SOAK_RESTART_EVERY")
[ -n "${SOAK_WARMUP:-}" ] && ARGS+=(--warmup "$SOAK_WARMUP")
set +e
"$BUILD/tests/soak_driver" "${ARGS[@]}"
RC=$?
set -e
if [ "$RC" != 0 ] && [ -s "$WORK/server.log" ]; then
    echo "soak: the server's log (last 30 lines):"
    tail -30 "$WORK/server.log"
fi
exit "$RC"
