#!/bin/bash
# tests/load/run.sh BUILD_DIR: flightsearch-load (bench/load/) against a server this test starts
# (ctest load_short, release tree only; about 30 s).
#
# Demo data (flightsearch-gen, today onwards) served over HTTP/1.1 and h2c on one port and h2 /
# HTTP/1.1 over TLS (a self-signed certificate made here by openssl) on another, with
# --private-sources and a tokens file, so that a bearer token of scope * changes what /metrics
# shows: the proof that --key and --header reach the server. tests/load/check.py is the oracle:
#   1. discovery of every mix: each "hit" of the mix file is answerable and each "miss" is not,
#      judged from the feed files themselves (decoded by check.py, not by the server), with a
#      city code (--cities: LIS for LIS and OPO) that the discovery must leave out;
#   2. HTTP/1.1 open loop at 200/s for 5 s: sent within 5% of 1000, and sent = answered = the
#      requests the server counted in /metrics (curl before and after);
#   3. h2c closed loop with --key: the same exact count; the per-source series present;
#      without a key absent;
#   4. TLS: without --insecure the self-signed certificate is refused (exit 1); with it, h2 by
#      ALPN (--header carrying the token, a 1 s --warmup counted like the rest), then HTTP/1.1
#      (--proto h1), counts exact;
#   5. the same mix file and seed sent twice (once with --check-sample, whose draws must not
#      disturb the mix's): the same number of each query kind; the 10 sampled answers equal the
#      same queries asked alone (the data does not change here); no report file holds the token;
#   6. weights from a query log: only its routes in the mix;
#   and every report's files exist and parse (the PNG only when gnuplot is installed).
# No latency is asserted. Only 127.0.0.1; every process started here is stopped here, by its pid.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
LOAD=$BUILD/bench/flightsearch-load
SERVER=$BUILD/flightsearch
GEN=$BUILD/bench/flightsearch-gen
CHECK="python3 $HERE/check.py"
for tool in python3 curl openssl; do
    command -v $tool >/dev/null || { echo "load: $tool is not installed (make deps)"; exit 1; }
done

WORK=$(mktemp -d /tmp/fs-load-test.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

"$GEN" --size demo --seed 1 --start "$(date -u +%F)" --out feeds --quiet
mkdir data && cp feeds/*.msgpack data/
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
TOKEN=load-test-token-0123456789abcdef
echo "$TOKEN *" >tokens && chmod 600 tokens
# LIS made a city of LIS and OPO: a search for LIS then covers both airports, so routes touching
# LIS must stay out of the mix (their dates with seats would be the city's, not the route's).
echo "LIS LIS,OPO" >cities

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
TLS_PORT=$(free_port)
"$SERVER" --listen 127.0.0.1:$PORT --tls-listen 127.0.0.1:$TLS_PORT --tls-cert cert.pem --tls-key key.pem --threads 2 \
    --data-dir data --tokens tokens --private-sources --cities cities --quiet &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "load: the server did not get ready"; exit 1; }
URL=http://127.0.0.1:$PORT
TLS_URL=https://127.0.0.1:$TLS_PORT
FAILS=0
check() { $CHECK "$@" || FAILS=$((FAILS + 1)); }
scrape() { curl -sf "$URL/metrics" >"$1"; }

echo "== 1. discovery: every mix, 5% misses"
"$LOAD" "$URL" --mix all --miss-share 0.05 --draws 2000 --discover-only --save-mix all.mix --quiet
check mix feeds all.mix 0.03 0.07
if grep -v '^#' all.mix | cut -f4 | grep -E '^/v1/(search|calendar)' | grep -qE '(origin|destination)=LIS'; then
    echo "FAIL mix: a search or calendar of the city code LIS is in the mix"; FAILS=$((FAILS + 1))
fi

echo "== 2. HTTP/1.1, open loop 200/s for 5 s"
scrape m0
"$LOAD" "$URL" --mix-file all.mix --rate 200 --duration 5 --out open --quiet
scrape m1
check count m0 m1 open.json 1000 0.05
check report open http/1.1
check key open.json absent

echo "== 3. h2c, closed loop 2 x 8 for 2 s, --key"
scrape m2
"$LOAD" "$URL" --proto h2 --mix-file all.mix --connections 2 --streams 8 --duration 2 --key "$TOKEN" --out h2c --quiet
scrape m3
check count m2 m3 h2c.json 0 0
check report h2c h2
check key h2c.json present

echo "== 4. TLS: refused without --insecure; h2 by ALPN with --header; HTTP/1.1"
if "$LOAD" "$TLS_URL" --mix-file all.mix --rate 50 --duration 1 --out refused --quiet 2>refused.err; then
    echo "FAIL tls: a self-signed certificate was accepted without --insecure"
    FAILS=$((FAILS + 1))
else
    grep -q 'certificate' refused.err || { echo "FAIL tls: the refusal does not name the certificate:"; cat refused.err; FAILS=$((FAILS + 1)); }
fi
scrape m4
"$LOAD" "$TLS_URL" --insecure --mix-file all.mix --rate 200 --warmup 1 --duration 2 --header "Authorization: Bearer $TOKEN" \
    --out tls --quiet
scrape m5
check count m4 m5 tls.json 600 0.05 # a warm-up second is sent and counted too
check report tls h2
check key tls.json present
scrape m6
"$LOAD" "$TLS_URL" --insecure --proto h1 --mix-file all.mix --connections 2 --streams 1 --duration 1 --out tls1 --quiet
scrape m7
check count m6 m7 tls1.json 0 0
check report tls1 http/1.1

echo "== 4b. the key appears in no report file"
if grep -l "$TOKEN" h2c.json h2c.md tls.json tls.md; then
    echo "FAIL key: the token was written to the report files above"; FAILS=$((FAILS + 1))
fi

echo "== 5. replay: the same mix file and seed, twice"
"$LOAD" "$URL" --mix-file all.mix --rate 300 --duration 1 --check-sample 10 --out replay_a --quiet
"$LOAD" "$URL" --mix-file all.mix --rate 300 --duration 1 --out replay_b --quiet
check same replay_a.json replay_b.json
check sample replay_a.json 10

echo "== 6. a mix of one mix kind, weights from a query log"
printf '%s\n' "/v1/search?origin=GRU&destination=GIG&date=$(date -u -d '+3 days' +%F)" \
    "/v1/search?origin=GRU&destination=GIG&date=$(date -u -d '+4 days' +%F)" >log.txt
"$LOAD" "$URL" --mix direct_7day --weights-from log.txt --miss-share 0 --discover-only --save-mix log.mix --quiet
check mix feeds log.mix 0 0
if cut -f4 log.mix | grep -v '^#' | grep -v '^path' | grep -qv 'origin=GRU&destination=GIG'; then
    echo "FAIL weights: a route the log never asked for is in the mix"; FAILS=$((FAILS + 1))
fi

if [ "$FAILS" -ne 0 ]; then
    echo "load: $FAILS check(s) failed"
    exit 1
fi
echo "load: every check passed"
