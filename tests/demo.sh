#!/bin/sh
# make demo: generate a demo feed (3 partner programs, ~260 routes, 60 days from today, built-in
# airport table), print the web page's URL and three example queries, and run the server in the
# foreground with it.
set -eu
BUILD=${1:-build}
PORT=${2:-8080}
DATA="$BUILD/demo-data"

rm -rf "$DATA"
"$BUILD/bench/flightsearch-gen" --size demo --seed 1 --start "$(date -u +%F)" --out "$DATA" --quiet

day() { date -u -d "+$1 days" +%F; }
BASE="http://127.0.0.1:$PORT"
cat <<TXT

flightsearch demo: $(ls "$DATA" | wc -l) partner feeds in $DATA, searchable once the server says "ready".
Open the web page (search, calendar, explore):  $BASE/

Or try, in another terminal:

  # 1. award seats from Sao Paulo to Lisbon in a week, cheapest first
  curl -s '$BASE/v1/search?origin=GRU&destination=LIS&date=$(day 7)&limit=3'

  # 2. the business-class calendar for the next 30 days
  curl -s '$BASE/v1/calendar?origin=GRU&destination=LIS&start_date=$(day 1)&end_date=$(day 30)&cabin=business'

  # 3. where you can fly from Sao Paulo
  curl -s '$BASE/v1/routes?origin=GRU'

Over HTTP/2: add --http2-prior-knowledge. Metrics: $BASE/metrics. API: docs/api.md. Stop with Ctrl-C.
Load test it: $BUILD/bench/flightsearch-load $BASE --rate 500 --duration 10 (docs/performance.md).

TXT
exec "$BUILD/flightsearch" --listen "127.0.0.1:$PORT" --data-dir "$DATA"
