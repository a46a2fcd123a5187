"""The load generators, each pinned to the client core and bounded in time, each returning the
same figures: requests/s, p50/p99/p99.9 latency in microseconds, errors.

- h2load (nghttp2-client) for h2c with -m 1 and -m 10 and, at a fixed rate, for HTTP/1.1 too.
  Latencies come from its per-request --log-file (start, status, microseconds to the end of the
  response); requests started during the warm-up are dropped.
- wrk for HTTP/1.1 at saturation, through bench/wrk_uris.lua (cycles the URI list, prints the
  percentiles as JSON).
- pgbench for PostgreSQL, -M prepared, one client (one backend), latencies from its -l log.

Rate mode (the 50%-load latency): h2load --rps gives each connection a request budget that a
timer refills, so requests are paced; the latency of a request is measured from when it is
actually sent, so a stall of the server is not charged to the requests queued behind it (no
coordinated-omission correction). pgbench -R measures from each transaction's scheduled start,
which does include such waits.
"""
import glob
import json
import os
import re
import subprocess

from .system import pinned

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_SCRIPT = os.path.join(HERE, "wrk_uris.lua")


def percentiles(values):
    """p50, p99, p99.9 and max by nearest rank (values: microseconds, any order)."""
    if not values:
        return {"p50_us": None, "p99_us": None, "p999_us": None, "max_us": None, "samples": 0}
    v = sorted(values)
    n = len(v)

    def rank(p):
        return v[min(n - 1, max(0, int(-(-p * n // 100)) - 1))]

    return {"p50_us": rank(50), "p99_us": rank(99), "p999_us": rank(99.9), "max_us": v[-1],
            "mean_us": round(sum(v) / n, 1), "samples": n}


def _fail(reason):
    return {"ok": False, "error": reason, "requests": 0, "duration_s": 0.0, "failed": 0, "non_2xx": 0, "_lat": []}


def merge(parts):
    """One figure set from the rounds of a run: requests/s over the summed durations, percentiles
    over every latency of every round (wrk gives percentiles only: then the worst round's)."""
    requests = sum(p["requests"] for p in parts)
    duration = sum(p["duration_s"] for p in parts)
    non_2xx = sum(p["non_2xx"] or 0 for p in parts)
    # Non-2xx answers (the server shedding load: 503) are not throughput: rps counts 2xx only
    # (goodput) and non_2xx_share says how much was shed.
    ok = all(p["ok"] for p in parts)
    res = {"ok": ok, "rps": round(requests / duration, 1) if duration > 0 else None, "requests": requests,
           "failed": sum(p["failed"] for p in parts), "non_2xx": non_2xx,
           "non_2xx_share": round(non_2xx / max(1, requests + non_2xx), 4), "rounds": len(parts)}
    errors = [p["error"] for p in parts if p.get("error")]
    if non_2xx:
        errors.append(f"{non_2xx} non-2xx answers of {requests + non_2xx} ({100 * non_2xx / max(1, requests + non_2xx):.2f}%; "
                      "503: shed by admission control or over the search budget)")
    if errors:
        res["error"] = "; ".join(sorted(set(errors)))
    if any("_pcts" in p for p in parts):
        for k in ("p50_us", "p99_us", "p999_us", "max_us", "mean_us"):
            vals = [p["_pcts"][k] for p in parts if "_pcts" in p]
            res[k] = max(vals) if vals else None
        res["samples"] = requests
    else:
        res.update(percentiles([x for p in parts for x in p["_lat"]]))
    for k in ("transactions_per_s", "statements_per_transaction"):
        if k in parts[0]:
            res[k] = parts[0][k]
    return res


def h2load(uri_file, core, conns, streams, duration, warmup, workdir, tag, h1=False, rps_total=None):
    """Runs h2load over the URI list. rps_total paces the whole run (split over connections)."""
    log_path = os.path.join(workdir, f"h2load-{tag}.tsv")
    argv = ["h2load", "-i", uri_file, "-c", str(conns), "-t", "1", "-m", str(streams), "-D", f"{int(duration * 1000)}ms",
            "--warm-up-time", f"{int(warmup * 1000)}ms", "--log-file", log_path]
    if h1:
        argv.append("--h1")
    if rps_total:
        argv.append(f"--rps={rps_total / conns:.3f}")
    try:
        out = subprocess.run(pinned(core, argv), capture_output=True, text=True, timeout=duration + warmup + 60)
    except subprocess.TimeoutExpired:
        return _fail("h2load did not finish in time")
    text = out.stdout
    m = re.search(r"finished in [\d.]+[mu]?s, ([\d.]+) req/s", text)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", text)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if out.returncode != 0 or not m or not r:
        return _fail("h2load: " + (out.stderr.strip().splitlines() or text.strip().splitlines() or ["no output"])[-1])
    rows = []
    try:
        with open(log_path) as f:
            for line in f:
                p = line.split("\t")
                if len(p) >= 3:
                    rows.append((int(p[0]), int(p[1]), int(p[2])))
    except OSError:
        pass
    lat = []
    if rows:
        cutoff = min(x[0] for x in rows) + int(warmup * 1e6)
        lat = [x[2] for x in rows if x[0] >= cutoff and 200 <= x[1] < 300]
    try:
        os.unlink(log_path)
    except OSError:
        pass
    rps, done = float(m.group(1)), int(r.group(4))
    non_2xx = sum(int(x) for x in s.groups()[1:]) if s else 0
    ok2xx = int(s.group(1)) if s else done
    # Only 2xx answers count as served: a shed request (503) is fast and would flatter the figure.
    # h2load counts a non-2xx answer as "failed" too; errored and timeout are the transport failures
    res = {"ok": True, "requests": ok2xx, "duration_s": done / rps if rps else duration,
           "failed": int(r.group(6)) + int(r.group(7)), "non_2xx": non_2xx, "_lat": lat}
    if res["failed"]:
        res["ok"] = False
        res["error"] = f"{res['failed']} requests failed (errored or timed out)"
    return res


def wrk(uri_file, core, conns, duration):
    """wrk (HTTP/1.1, no pipelining) over the URI list; figures from bench/wrk_uris.lua."""
    argv = ["wrk", "-t", "1", "-c", str(conns), "-d", f"{max(1, round(duration))}s", "--timeout", "10s", "-s", WRK_SCRIPT,
            _base(uri_file), "--", uri_file]
    try:
        out = subprocess.run(pinned(core, argv), capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return _fail("wrk did not finish in time")
    line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
    if out.returncode != 0 or line is None:
        return _fail("wrk: " + (out.stderr.strip().splitlines() or ["no output"])[-1])
    d = json.loads(line)
    errors = d["errors_connect"] + d["errors_read"] + d["errors_write"] + d["errors_timeout"]
    res = {"ok": errors == 0 and d["errors_status"] == 0, "requests": d["requests"], "duration_s": d["duration_us"] / 1e6,
           "failed": errors, "non_2xx": d["errors_status"],
           "_pcts": {k: d[k] for k in ("p50_us", "p99_us", "p999_us", "max_us", "mean_us")}}
    if not res["ok"]:
        res["error"] = f"{errors} socket errors, {d['errors_status']} non-2xx responses"
    return res


def _base(uri_file):
    with open(uri_file) as f:
        first = f.readline().strip()
    m = re.match(r"(https?://[^/]+)", first)
    return m.group(1) + "/" if m else first


def pgbench_script(path, sql, rows, per_transaction=1):
    """A pgbench script: per_transaction statements, each on a random row of the query table.
    With more than one they are sent as one pipeline (\\startpipeline ... \\endpipeline)."""
    with open(path, "w") as f:
        if per_transaction > 1:
            f.write("\\startpipeline\n")
        for _ in range(per_transaction):
            f.write(f"\\set i random(1, {rows})\n{sql};\n")
        if per_transaction > 1:
            f.write("\\endpipeline\n")


def pgbench(pg, script, core, duration, workdir, tag, per_transaction=1, rate=None):
    """pgbench -M prepared, one client. Returns statements/s and per-transaction latencies."""
    secs = max(1, int(round(duration)))
    prefix = os.path.join(workdir, f"pgbench-{tag}")
    for old in glob.glob(prefix + ".*"):
        os.unlink(old)
    argv = [os.path.join(pg.bindir, "pgbench"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "bench", "-n", "-M", "prepared",
            "-c", "1", "-j", "1", "-T", str(secs), "-f", script, "-l", f"--log-prefix={prefix}", "postgres"]
    if rate:
        argv[argv.index("-f"):argv.index("-f")] = ["-R", f"{rate:.1f}"]
    try:
        out = subprocess.run(pinned(core, argv), capture_output=True, text=True, timeout=duration + 120, cwd=workdir)
    except subprocess.TimeoutExpired:
        return _fail("pgbench did not finish in time")
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    if out.returncode != 0 or not m:
        return _fail("pgbench: " + (out.stderr.strip().splitlines() or out.stdout.strip().splitlines() or ["no output"])[-1])
    lat = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and p[2].isdigit():
                    lat.append(int(p[2]))
        os.unlink(path)
    tps = float(m.group(1))
    res = {"ok": True, "requests": round(tps * secs * per_transaction), "duration_s": float(secs),
           "transactions_per_s": tps, "statements_per_transaction": per_transaction,
           "failed": int(failed.group(1)) if failed else 0, "non_2xx": 0, "_lat": lat}
    if res["failed"]:
        res["ok"] = False
        res["error"] = f"{res['failed']} failed transactions"
    return res
