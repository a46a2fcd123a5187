#!/usr/bin/env python3
"""tests/load/check.py: the oracle of tests/load/run.sh, independent of flightsearch-load and of
the server: it reads the feed files itself (a small msgpack decoder below, no library), the
server's /metrics as scraped by curl, and the tool's report and mix files.

    check.py mix FEED_DIR MIX_FILE MIN_MISS MAX_MISS
        every "hit" line asks for something the feeds answer, every "miss" line for something
        they do not; the miss share of the weights lies in [MIN_MISS, MAX_MISS]
    check.py count METRICS_BEFORE METRICS_AFTER REPORT_JSON EXPECT_SENT TOLERANCE
        the tool's sent and answered counts equal the requests the server counted (search,
        calendar, routes) between the two scrapes, and sent is within TOLERANCE of EXPECT_SENT
        (skipped when EXPECT_SENT is 0); every answer was a 2xx with a good body (or a 503/429)
    check.py report PREFIX PROTOCOL
        PREFIX.json parses and holds the figures, PREFIX.md exists; the run spoke PROTOCOL
    check.py key REPORT_JSON present|absent
        the /metrics the tool scraped with its headers has the per-source series (the server
        shows them, with --private-sources, only to a bearer token of scope *)
    check.py same REPORT_A REPORT_B
        two runs of the same mix file and seed sent the same number of each query kind
    check.py sample REPORT_JSON N
        N answers were sampled under load and each equals the same query asked alone

Exit 0 when every check holds; otherwise 1 with one line per failure.
"""
import datetime
import json
import os
import re
import struct
import sys
from urllib.parse import parse_qs, urlsplit

# ------------------------------------------------------------------ msgpack


def unpack(buf):
    """Decodes one msgpack value (the subset a feed uses, and then some)."""
    pos = 0

    def take(n):
        nonlocal pos
        b = buf[pos:pos + n]
        if len(b) != n:
            raise ValueError("truncated msgpack")
        pos += n
        return b

    def value():
        b = take(1)[0]
        if b <= 0x7f:
            return b
        if b >= 0xe0:
            return b - 0x100
        if 0x80 <= b <= 0x8f:
            return {key(): value() for _ in range(b & 0x0f)}
        if 0x90 <= b <= 0x9f:
            return [value() for _ in range(b & 0x0f)]
        if 0xa0 <= b <= 0xbf:
            return take(b & 0x1f).decode()
        simple = {0xc0: None, 0xc2: False, 0xc3: True}
        if b in simple:
            return simple[b]
        fmt = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q",
               0xca: ">f", 0xcb: ">d"}
        if b in fmt:
            return struct.unpack(fmt[b], take(struct.calcsize(fmt[b])))[0]
        lens = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I"}
        if b in lens:
            n = struct.unpack(lens[b], take(struct.calcsize(lens[b])))[0]
            raw = take(n)
            return raw.decode() if b in (0xd9, 0xda, 0xdb) else raw
        if b in (0xdc, 0xdd):
            n = struct.unpack(">H" if b == 0xdc else ">I", take(2 if b == 0xdc else 4))[0]
            return [value() for _ in range(n)]
        if b in (0xde, 0xdf):
            n = struct.unpack(">H" if b == 0xde else ">I", take(2 if b == 0xde else 4))[0]
            return {key(): value() for _ in range(n)}
        raise ValueError(f"msgpack byte 0x{b:02x} not handled")

    def key():
        return value()

    return value()


def load_legs(feed_dir):
    """(origin, destination, local date, {cabin: seats}) of every leg of every feed file."""
    legs = []
    for name in sorted(os.listdir(feed_dir)):
        if not name.endswith(".msgpack"):
            continue
        with open(os.path.join(feed_dir, name), "rb") as f:
            doc = unpack(f.read())
        for leg in doc["legs"]:
            seats = {c: v["seats"] for c, v in leg["cabins"].items()}
            legs.append((leg["origin"], leg["destination"], leg["departs_at"][:10], seats))
    if not legs:
        raise SystemExit(f"check: no legs in {feed_dir}")
    return legs


# --------------------------------------------------------------------- mix


def day(s):
    return datetime.date.fromisoformat(s)


def answerable(kind, q, idx):
    """Does the feed hold an answer to this query? idx: (origin, destination) -> [(date, seats)]."""
    o = q["origin"][0]
    if kind == "routes":
        return any(k[0] == o for k in idx)
    d = q["destination"][0]
    if kind == "search_1stop":
        # A connection A->X->B: a leg A->X that day with an economy seat and a leg X->B the
        # same day or the next with one. (The server's 60-720 minute window is stricter; the
        # tool asked each 1-stop query once and kept those with an itinerary.)
        when = day(q["date"][0])
        for (a, x), firsts in idx.items():
            if a != o or x == d:
                continue
            if not any(dt == when and s.get("economy", 0) >= 1 for dt, s in firsts):
                continue
            if any(dt in (when, when + datetime.timedelta(days=1)) and s.get("economy", 0) >= 1
                   for dt, s in idx.get((x, d), [])):
                return True
        return False
    if "date" in q:
        lo = hi = day(q["date"][0])
    else:
        lo, hi = day(q["start_date"][0]), day(q["end_date"][0])
    cabin = q.get("cabin", [None])[0]
    for dt, seats in idx.get((o, d), []):
        if lo <= dt <= hi and any(n >= 1 for c, n in seats.items() if cabin is None or c == cabin):
            return True
    return False


def check_mix(feed_dir, mix_file, min_miss, max_miss):
    idx = {}
    for o, d, dt, seats in load_legs(feed_dir):
        idx.setdefault((o, d), []).append((day(dt), seats))
    fails, hits, misses, w_all, w_miss, kinds = [], 0, 0, 0.0, 0.0, set()
    with open(mix_file) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            weight, kind, answer, path = line.rstrip("\n").split("\t")
            q = parse_qs(urlsplit(path).query)
            ok = answerable(kind, q, idx)
            kinds.add(kind)
            w_all += float(weight)
            if answer == "hit":
                hits += 1
                if not ok:
                    fails.append(f"mix: a hit the feeds cannot answer: {path}")
            else:
                misses += 1
                w_miss += float(weight)
                if ok:
                    fails.append(f"mix: a miss the feeds answer: {path}")
    share = w_miss / w_all if w_all else 0
    print(f"check mix: {hits} hits and {misses} misses checked against {sum(len(v) for v in idx.values())} legs; "
          f"kinds {sorted(kinds)}; miss share of the weights {share:.4f}")
    if hits == 0:
        fails.append("mix: no hit at all")
    if not float(min_miss) <= share <= float(max_miss):
        fails.append(f"mix: miss share {share:.4f} outside [{min_miss}, {max_miss}]")
    return fails[:20]


# ------------------------------------------------------------------ counts


def scrape(path):
    vals = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'flightsearch_requests_total\{endpoint="(search|calendar|routes)",status="(\d+)"\} (\d+)', line)
            if m:
                vals[(m.group(1), m.group(2))] = int(m.group(3))
    return vals


def check_count(before, after, report, expect_sent, tolerance):
    b, a = scrape(before), scrape(after)
    served = sum(v - b.get(k, 0) for k, v in a.items())
    with open(report) as f:
        rep = json.load(f)
    t = rep["totals"]
    fails = []
    print(f"check count: tool sent {t['sent']}, answered {t['answered']} ({t['status']}); server counted {served}")
    if t["sent"] != served or t["answered"] != served:
        fails.append(f"count: the tool sent {t['sent']} and counted {t['answered']} answers, the server {served}")
    # 503 (over the search budget on a busy machine) and 429 are answers the server counted too;
    # anything else is a failure of the tool or of the server.
    broken = t["status"]["other_status"] + t["status"]["connection_errors"] + t["status"]["timeouts"] + t["bad_shape"]
    if broken or t["status"]["2xx"] == 0:
        fails.append(f"count: answers other than 2xx/503/429: {t['status']}, bad bodies {t['bad_shape']}")
    expect = int(expect_sent)
    if expect and abs(t["sent"] - expect) > float(tolerance) * expect:
        fails.append(f"count: open loop sent {t['sent']}, expected {expect} within {float(tolerance) * 100:.0f}%")
    return fails


def check_report(prefix, protocol):
    fails = []
    with open(prefix + ".json") as f:
        rep = json.load(f)
    for k in ("totals", "phases", "series", "mix", "server", "settings"):
        if k not in rep:
            fails.append(f"report: no '{k}' in {prefix}.json")
    lat = rep["totals"]["latency"]
    if not lat["p50_ms"] <= lat["p99_ms"] <= lat["p999_ms"] <= lat["max_ms"]:
        fails.append(f"report: percentiles out of order: {lat}")
    if rep["protocol"] != protocol:
        fails.append(f"report: protocol {rep['protocol']}, expected {protocol}")
    if not rep["server"]["metrics_before"] or not rep["server"]["metrics_after"]:
        fails.append("report: /metrics before and after missing")
    if sum(s["answered"] for s in rep["series"]) != rep["totals"]["answered"]:
        fails.append("report: the per-second series does not add up to the total")
    if sum(m["answered"] for m in rep["totals"]["per_mix"].values()) != rep["totals"]["answered"]:
        fails.append("report: the per-mix figures do not add up to the total")
    if not os.path.getsize(prefix + ".md"):
        fails.append(f"report: {prefix}.md is empty")
    print(f"check report: {prefix}.json ({len(rep['series'])} seconds, {len(rep['phases'])} phase(s)) and .md; "
          f"png: {'yes' if os.path.exists(prefix + '.png') else 'no (gnuplot missing)'}")
    return fails


def check_key(report, want):
    with open(report) as f:
        rep = json.load(f)
    text = rep["server"]["metrics_after"] or ""
    present = "flightsearch_source_legs{source=" in text
    print(f"check key: per-source series in the scraped /metrics: {'present' if present else 'absent'}")
    return [] if present == (want == "present") else [f"key: per-source series {'present' if present else 'absent'}, expected {want}"]


def check_same(a, b):
    with open(a) as f:
        ra = json.load(f)
    with open(b) as f:
        rb = json.load(f)
    ka, kb = ra["totals"]["by_mix"], rb["totals"]["by_mix"]
    print(f"check same: {ka} and {kb}")
    return [] if ka == kb and ra["totals"]["sent"] == rb["totals"]["sent"] else [f"same: replays differ: {ka} vs {kb}"]


def check_sample(report, n):
    with open(report) as f:
        ac = json.load(f)["answer_check"]
    print(f"check sample: {ac}")
    if ac is None or ac["compared"] != int(n) or ac["identical"] != int(n):
        return [f"sample: expected {n} answers compared and identical, got {ac}"]
    return []


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fails = {"mix": check_mix, "count": check_count, "report": check_report, "key": check_key, "same": check_same,
             "sample": check_sample}[cmd](*args)
    for f in fails:
        print("FAIL " + f)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
