#!/bin/sh
# flightsearch-gen --big-source-share: the first source ends up holding at least the share of the
# legs, counted by the feed tool's decoder (the server's, not the generator's summary); without
# the flag it holds much less; the output stays deterministic; bad values exit 2.
#
#   sh tests/gen/big_source.sh FLIGHTSEARCH-GEN FLIGHTSEARCH-FEED
set -eu
GEN=$1
FEED=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "big_source: $*" >&2; exit 1; }

# legs DIR SOURCE: that source's legs as the decoder counts them; legs DIR: all of them
legs() {
    "$FEED" validate "$1"/*.msgpack | awk -v s="${2:-}" '
        { n = $NF == "legs" ? $(NF - 1) : 0; if (s == "" || $6 == s",") t += n }
        END { print t + 0 }'
}

"$GEN" --size demo --out "$T/plain" --quiet 2>/dev/null
"$GEN" --size demo --out "$T/big" --big-source-share 0.5 --quiet 2>/dev/null
"$GEN" --size demo --out "$T/again" --big-source-share=0.5 --quiet 2>/dev/null

plain_first=$(legs "$T/plain" smiles)
plain_all=$(legs "$T/plain")
big_first=$(legs "$T/big" smiles)
big_all=$(legs "$T/big")
echo "without the flag: smiles $plain_first of $plain_all legs; with 0.5: $big_first of $big_all"
if [ "$plain_all" -eq 0 ] || [ "$big_all" -eq 0 ]; then fail "no legs decoded"; fi
# at least half with the flag; well under half without it (else this test proves nothing)
[ $((2 * big_first)) -ge "$big_all" ] || fail "smiles holds $big_first of $big_all legs with --big-source-share 0.5"
[ $((3 * plain_first)) -lt "$plain_all" ] || fail "smiles already holds $plain_first of $plain_all legs without the flag"
for f in "$T"/big/*.msgpack; do
    cmp -s "$f" "$T/again/$(basename "$f")" || fail "$(basename "$f") differs between two runs with the same flags"
done

for bad in 0 1 1.5 -0.2 abc 0.3x ""; do
    set +e
    "$GEN" --size demo --out "$T/bad" --big-source-share "$bad" --quiet 2>/dev/null
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "--big-source-share '$bad' exited $rc, expected 2"
done
echo "big_source: ok"
