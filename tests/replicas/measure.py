#!/usr/bin/env python3
"""tests/replicas/measure.py: the replica figures of docs/performance.md ("Replicas").

Same processes as run.py (3 NATS nodes from deploy/replicas/nats.conf, 3 replicas), no faults:
  - push-to-visible: a 100-leg delta pushed to one replica (round robin), timed from sending it to
    the moment every replica's /readyz reports the generation the push was answered with;
  - catch-up: a fresh replica (empty data dir) started against the loaded stream, timed from its
    start to /readyz 200, for the data set of flightsearch-gen --size SIZE [--days D].

usage: measure.py BUILD_DIR [--size small] [--days D] [--samples 200]
Prints the figures; asserts nothing (figures are for docs/performance.md).
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class Conn:
    """One keep-alive connection per replica, for tight polling."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def generation(self):
        self.c.request("GET", "/readyz")
        r = self.c.getresponse()
        return json.loads(r.read())["generation"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--size", default="small")
    ap.add_argument("--days", type=int, default=0)
    ap.add_argument("--samples", type=int, default=200)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fs-replicas-measure-")
    cl = R.Cluster(os.path.abspath(a.build), work)
    try:
        for i in (1, 2, 3):
            cl.start_nats(i)
        R.wait_for("NATS", lambda: all(cl.nats_healthy(i) for i in (1, 2, 3)))
        for i in (1, 2, 3):
            cl.start_fs("r%d" % i)
        R.wait_for("replicas", lambda: all(cl.fs_ready("r%d" % i) for i in (1, 2, 3)), timeout=90)

        gen_dir = os.path.join(work, "gen")
        cmd = [os.path.join(a.build, "bench", "flightsearch-gen"), "--out", gen_dir, "--size", a.size, "--seed", "1",
               "--quiet"] + (["--days", str(a.days)] if a.days else [])
        subprocess.run(cmd, check=True)
        total = 0
        t0 = time.monotonic()
        for f in sorted(os.listdir(gen_dir)):
            src = f.split(".")[0]
            body = open(os.path.join(gen_dir, f), "rb").read()
            total += len(body)
            st, _, doc = R.request(cl.fs["r1"][1], "PUT", "/v1/feeds/%s/snapshot" % src, body,
                                   {"Authorization": "Bearer " + R.TOKEN, "Content-Type": "application/msgpack"},
                                   timeout=600)
            if st != 200:
                R.fail("seed %s: %d %s" % (src, st, doc[:200]))
        seed_s = time.monotonic() - t0
        legs = json.loads(R.request(cl.fs["r1"][1], "GET", "/v1/feeds", headers={"Authorization": "Bearer " + R.TOKEN})[2])
        nlegs = sum(s["legs"] for s in legs["sources"])
        R.say("seeded %d legs (%.1f MB msgpack) through r1 in %.1f s" % (nlegs, total / 1e6, seed_s))

        # push-to-visible: 100-leg deltas of a source of its own
        model = R.Model()
        seq, body, commit = model.snapshot("alpha", 100)
        R.push_until_ok(cl.fs["r1"][1], "snapshot", "alpha", body)
        commit()
        conns = [Conn(cl.fs["r%d" % i][1]) for i in (1, 2, 3)]
        acked, visible = [], []
        for k in range(a.samples):
            seq = model.seq["alpha"] + 1
            ups = [R.leg("alpha", 1 + i // 3, R.DAYS[i % 3], 1 + (i + k) % 9, 10000 + k) for i in range(100)]
            body = {"source": "alpha", "sequence": seq, "generated_at": "2026-11-21T20:00:00Z", "upsert": ups}
            port = cl.fs["r%d" % (1 + k % 3)][1]
            t0 = time.monotonic()
            st, _, doc = R.push(port, "delta", "alpha", body)
            t1 = time.monotonic()
            if st != 200:
                R.fail("delta %d: %d %s" % (seq, st, doc[:200]))
            model.seq["alpha"] = seq
            g = json.loads(doc)["generation"]
            for c in conns:
                while c.generation() < g:
                    pass
            t2 = time.monotonic()
            acked.append((t1 - t0) * 1000)
            visible.append((t2 - t0) * 1000)
        R.say("100-leg delta, %d samples: 200 after p50 %.1f ms p99 %.1f ms; visible on all 3 replicas after "
              "p50 %.1f ms p99 %.1f ms" % (a.samples, pct(acked, 50), pct(acked, 99), pct(visible, 50), pct(visible, 99)))

        t0 = time.monotonic()
        cl.start_fs("r4")
        R.wait_for("r4 ready", lambda: cl.fs_ready("r4"), timeout=3600, step=0.02)
        catch = time.monotonic() - t0
        R.say("fresh replica r4 (empty data dir) ready after %.2f s for %d legs (%.1f MB of snapshots, %d deltas)" %
              (catch, nlegs, total / 1e6, a.samples))
        return 0
    finally:
        cl.stop_all()


if __name__ == "__main__":
    sys.exit(main())
