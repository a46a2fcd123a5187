#!/usr/bin/env python3
"""tests/replicas/run.py: replicas over NATS JetStream under failure (docs/replicas.md).

On loopback: 3 nats-server nodes clustered from deploy/replicas/nats.conf, 3 flightsearch replicas
(--nats, stream replication 3), HAProxy from deploy/replicas/haproxy.cfg in front. While a pusher
sends snapshots and deltas of several sources (one snapshot larger than max_payload, so chunked)
and a searcher reads through HAProxy:
  1. kill -9 one NATS node, then one replica; restart both;
  2. every push that got a 200 is on every live replica with exactly the content of the test's own
     model of what was pushed; no search through HAProxy failed; the replicas reach the same
     generation and answer a sample of queries identically;
  3. a fourth replica from an empty data dir catches up from the stream alone and answers the same,
     and a replica restarted from its data dir with nothing new in the log answers the same too;
  4. with 2 of the 3 NATS nodes down a push is refused 503 with Retry-After, and searches through
     HAProxy are still answered from the last state.
Every wait is on a condition with a generous deadline; nothing sleeps and hopes.

usage: run.py BUILD_DIR [--rounds N]   (make test: 1 round of pushes per phase; make replicas: more)
Exit 0 on success, 77 when nats-server or haproxy cannot be found (ctest: skipped), 1 on failure.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "replicas-test-token-0123456789abcdef"
SOURCES = {"alpha": "LIS", "bravo": "MAD", "charlie": "CDG"}  # source -> destination from GRU
BULK = "bulk"  # one snapshot over max_payload (chunks + manifest), destination FRA
DAYS = ["2026-12-01", "2026-12-02", "2026-12-03"]
T0 = time.monotonic()


def say(msg):
    print("replicas [%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def fail(msg):
    say("FAIL: " + msg)
    raise SystemExit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, timeout=60.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(step)
    fail("timed out after %.0f s waiting for %s" % (timeout, what))


def request(port, method, path, body=None, headers=None, timeout=30.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


# ------------------------------------------------------------------ the model

def leg(source, flight, day, seats, miles):
    d = int(day[-2:])
    return {"carrier": "TP", "flight": flight, "origin": "GRU", "destination": SOURCES.get(source, "FRA"),
            "departs_at": "%sT%02d:%02d:00-03:00" % (day, 6 + flight % 16, (flight * 7) % 60),
            "arrives_at": "2026-12-%02dT%02d:%02d:00+00:00" % (d + 1, 6 + flight % 16, (flight * 7) % 60),
            "cabins": {"economy": {"seats": seats, "miles": miles, "taxes_cents": 1000 + flight, "currency": "BRL"}}}


def key(l):
    return (l["flight"], l["departs_at"][:10])


class Model:
    """What the replicas must hold: per source, its legs by key and its last sequence."""

    def __init__(self):
        self.legs = {}
        self.seq = {}
        self.rng = random.Random(14)

    def snapshot(self, source, n):
        seq = self.seq.get(source, 0) + 1
        legs = [leg(source, 1 + i // len(DAYS), DAYS[i % len(DAYS)], self.rng.randint(1, 9),
                    self.rng.randint(10, 90) * 1000) for i in range(n)]
        body = {"source": source, "sequence": seq, "generated_at": "2026-11-21T20:00:00Z", "legs": legs}
        return seq, body, lambda: (self.legs.__setitem__(source, {key(l): l for l in legs}),
                                   self.seq.__setitem__(source, seq))

    def delta(self, source):
        seq = self.seq[source] + 1
        cur = self.legs[source]
        ups = [leg(source, self.rng.randint(1, 40), self.rng.choice(DAYS), self.rng.randint(1, 9),
                   self.rng.randint(10, 90) * 1000) for _ in range(self.rng.randint(1, 6))]
        ups = list({key(l): l for l in ups}.values())
        rem = [k for k in cur if self.rng.random() < 0.05 and k not in {key(l) for l in ups}][:3]
        body = {"source": source, "sequence": seq, "generated_at": "2026-11-21T20:%02d:00Z" % (seq % 60),
                "upsert": ups, "remove": [{"carrier": "TP", "flight": f, "origin": "GRU", "date": d} for f, d in rem]}

        def commit():
            for k in rem:
                cur.pop(k, None)
            for l in ups:
                cur[key(l)] = l
            self.seq[source] = seq
        return seq, body, commit


# ------------------------------------------------------------------ processes

class Cluster:
    def __init__(self, build, work):
        self.build, self.work = build, work
        self.nats = {}      # i -> Popen
        self.nats_ports = {i: (free_port(), free_port(), free_port()) for i in (1, 2, 3)}
        self.fs = {}        # name -> (Popen, port, data_dir)
        self.haproxy = None
        self.front = free_port()
        with open(os.path.join(work, "tokens"), "w") as f:
            f.write(TOKEN + " *\n")
        os.chmod(os.path.join(work, "tokens"), 0o600)

    def nats_urls(self):
        return ",".join("nats://127.0.0.1:%d" % self.nats_ports[i][0] for i in (1, 2, 3))

    def start_nats(self, i):
        client, http_port, route = self.nats_ports[i]
        env = dict(os.environ, NATS_NAME="nats-%d" % i, NATS_LISTEN="127.0.0.1:%d" % client,
                   NATS_HTTP="127.0.0.1:%d" % http_port, NATS_CLUSTER_LISTEN="127.0.0.1:%d" % route,
                   NATS_STORE_DIR=os.path.join(self.work, "nats-%d" % i),
                   **{"NATS_ROUTE_%d" % j: "nats://127.0.0.1:%d" % self.nats_ports[j][2] for j in (1, 2, 3)})
        log = open(os.path.join(self.work, "nats-%d.log" % i), "ab")
        self.nats[i] = subprocess.Popen([shutil.which("nats-server"), "-c", os.path.join(ROOT, "deploy/replicas/nats.conf")],
                                        env=env, stdout=log, stderr=log)

    def nats_healthy(self, i):
        st, _, _ = request(self.nats_ports[i][1], "GET", "/healthz", timeout=2)
        return st == 200

    def kill_nats(self, i):
        self.nats[i].send_signal(signal.SIGKILL)
        self.nats[i].wait()
        del self.nats[i]

    def start_fs(self, name, data_dir=None, port=None, env=None):
        port = port or free_port()
        data_dir = data_dir or os.path.join(self.work, "data-" + name)
        os.makedirs(data_dir, exist_ok=True)
        log = open(os.path.join(self.work, "fs-%s.log" % name), "ab")
        p = subprocess.Popen([os.path.join(self.build, "flightsearch"), "--listen", "127.0.0.1:%d" % port,
                              "--data-dir", data_dir, "--tokens", os.path.join(self.work, "tokens"), "--threads", "1",
                              "--loaders", "1", "--nats", self.nats_urls(), "--nats-replicas", "3", "--nats-name", name],
                             stdout=log, stderr=log, env=dict(os.environ, **(env or {})))
        self.fs[name] = (p, port, data_dir)
        return port

    def fs_ready(self, name):
        st, _, _ = request(self.fs[name][1], "GET", "/readyz", timeout=2)
        return st == 200

    def stop_fs(self, name):
        """SIGTERM: a graceful stop. Returns (port, data_dir, exit status)."""
        p, port, data_dir = self.fs.pop(name)
        p.send_signal(signal.SIGTERM)
        return port, data_dir, p.wait(timeout=60)

    def kill_fs(self, name):
        p, port, data_dir = self.fs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait()
        return port, data_dir

    def start_haproxy(self):
        env = dict(os.environ, FS_FRONT="127.0.0.1:%d" % self.front,
                   **{"FS_REPLICA_%d" % i: "127.0.0.1:%d" % self.fs["r%d" % i][1] for i in (1, 2, 3)})
        log = open(os.path.join(self.work, "haproxy.log"), "ab")
        self.haproxy = subprocess.Popen([shutil.which("haproxy"), "-db", "-f", os.path.join(ROOT, "deploy/replicas/haproxy.cfg")],
                                        env=env, stdout=log, stderr=log)

    def stop_all(self):
        """SIGTERM to everything; the replicas' exit statuses ({name: status}: 0 is a clean drain,
        a sanitizer report makes it nonzero)."""
        fs = dict((n, p) for n, (p, _, _) in self.fs.items())
        procs = list(fs.values()) + list(self.nats.values()) + ([self.haproxy] if self.haproxy else [])
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.fs, self.nats, self.haproxy = {}, {}, None
        return dict((n, p.returncode) for n, p in fs.items())


# ------------------------------------------------------------------ traffic

def push(port, kind, source, body, timeout=30.0):
    data = json.dumps(body).encode()
    path = "/v1/feeds/%s/%s" % (source, "snapshot" if kind == "snapshot" else "deltas")
    return request(port, "PUT" if kind == "snapshot" else "POST", path, data,
                   {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}, timeout=timeout)


def push_until_ok(port, kind, source, body, deadline_s=60.0):
    """A push retried (same body: stored once) until it gets 200. Returns the answer."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            st, hd, doc = push(port, kind, source, body)
            last = (st, doc[:300])
            if st == 200:
                return json.loads(doc)
            if st not in (502, 503, 504):
                fail("push %s seq %d of %s refused %d: %s" % (kind, body["sequence"], source, st, doc[:300]))
        except (OSError, http.client.HTTPException) as e:
            last = repr(e)
        time.sleep(0.2)
    fail("push %s seq %d of %s never acknowledged: last %r" % (kind, body["sequence"], source, last))


class Searcher(threading.Thread):
    """Searches through HAProxy until stopped; a search that fails after 3 tries is a failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.ok, self.retried, self.failed = port, threading.Event(), 0, 0, []

    def run(self):
        rng = random.Random(7)
        while not self.stop.is_set():
            src = rng.choice(list(SOURCES))
            path = "/v1/search?origin=GRU&destination=%s&date=%s&limit=500" % (SOURCES[src], rng.choice(DAYS))
            for attempt in range(3):
                try:
                    st, _, _ = request(self.port, "GET", path, timeout=10)
                    if st == 200:
                        self.ok += 1
                        break
                    err = "status %d" % st
                except (OSError, http.client.HTTPException) as e:
                    err = repr(e)
                self.retried += 1
                time.sleep(0.1)
            else:
                self.failed.append((path, err))


def source_state(port, source, dest):
    """The legs of source a replica serves, as the model holds them: {key: (seats, miles, taxes)}."""
    st, _, doc = request(port, "GET", "/v1/search?origin=GRU&destination=%s&start_date=%s&end_date=%s&sources=%s&limit=500"
                         "&sort=departure" % (dest, DAYS[0], DAYS[-1], source))
    if st != 200:
        raise ValueError("search %d" % st)
    d = json.loads(doc)
    if d.get("next_cursor"):
        raise ValueError("more than one page")
    out = {}
    for r in d["results"]:
        s = r["segments"][0]
        out[(s["flight"], r["date"])] = (r["seats"], r["miles"], r["taxes_cents"])
    return out


def model_state(model, source):
    return {k: (l["cabins"]["economy"]["seats"], l["cabins"]["economy"]["miles"], l["cabins"]["economy"]["taxes_cents"])
            for k, l in model.legs.get(source, {}).items()}


def generation(port):
    st, _, doc = request(port, "GET", "/readyz")
    return json.loads(doc)["generation"]


def check_replica(model, name, port, bulk_legs):
    for src, dest in SOURCES.items():
        got, want = source_state(port, src, dest), model_state(model, src)
        if got != want:
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            diff = [k for k in want if k in got and got[k] != want[k]][:5]
            fail("replica %s, source %s: %d legs served, %d pushed; missing %s extra %s different %s" %
                 (name, src, len(got), len(want), missing, extra, diff))
    st, _, doc = request(port, "GET", "/v1/feeds/" + BULK, headers={"Authorization": "Bearer " + TOKEN})
    d = json.loads(doc)
    if st != 200 or d["legs"] != bulk_legs or d["sequence"] != model.seq[BULK]:
        fail("replica %s: bulk source %s, expected %d legs at sequence %d" % (name, doc[:200], bulk_legs, model.seq[BULK]))


def sample_answers(port):
    out = []
    for dest in list(SOURCES.values()) + ["FRA"]:
        for day in DAYS:
            st, hd, doc = request(port, "GET", "/v1/search?origin=GRU&destination=%s&date=%s&limit=500" % (dest, day))
            d = json.loads(doc)
            d.pop("took_us", None)  # the one field that is not part of the answer's meaning
            out.append((st, hd.get("etag"), d))
    return out


def answer_diff(a, b):
    """Where two lists of sample answers first differ, for the failure message."""
    i = next(i for i in range(len(a)) if a[i] != b[i])
    if a[i][:2] != b[i][:2]:
        return "query %d: status/ETag %r vs %r" % (i, a[i][:2], b[i][:2])
    x, y = a[i][2], b[i][2]
    detail = [(k, x.get(k), y.get(k)) for k in set(x) | set(y) if k != "results" and x.get(k) != y.get(k)]
    rx, ry = x.get("results", []), y.get("results", [])
    detail += [(j, rx[j], ry[j]) for j in range(min(len(rx), len(ry))) if rx[j] != ry[j]][:2]
    return "query %d: %.1500r" % (i, detail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("REPLICAS_ROUNDS", "1")))
    args = ap.parse_args()
    for tool in ("nats-server", "haproxy"):
        if shutil.which(tool) is None:
            print("replicas: SKIP: %s is not installed (make deps installs Debian's %s)" % (tool, tool))
            return 77
    work = tempfile.mkdtemp(prefix="fs-replicas-")
    cl = Cluster(os.path.abspath(args.build), work)
    ok = False
    try:
        run(cl, args.rounds)
        codes = cl.stop_all()
        bad = dict((n, c) for n, c in codes.items() if c != 0)
        if bad:
            fail("replicas did not stop cleanly on SIGTERM (exit statuses %r; see their logs)" % bad)
        say("every replica stopped cleanly")
        ok = True
    finally:
        cl.stop_all()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say("logs kept in " + work)
            for f in sorted(os.listdir(work)):
                if f.endswith(".log"):
                    with open(os.path.join(work, f), "rb") as fp:
                        tail = fp.read()[-2500:].decode(errors="replace")
                    print("---- %s (tail)\n%s" % (f, tail))
    return 0


def traffic(cl, model, rounds, label):
    """rounds x (one delta per source, and a new snapshot of one source), all through HAProxy."""
    n = 0
    for r in range(rounds):
        for src in SOURCES:
            seq, body, commit = model.delta(src)
            push_until_ok(cl.front, "delta", src, body)
            commit()
            n += 1
        src = list(SOURCES)[r % len(SOURCES)]
        seq, body, commit = model.snapshot(src, 30 + r % 10)
        push_until_ok(cl.front, "snapshot", src, body)
        commit()
        n += 1
    say("%s: %d pushes acknowledged" % (label, n))


def run(cl, rounds):
    model = Model()
    for i in (1, 2, 3):
        cl.start_nats(i)
    wait_for("3 NATS nodes healthy (JetStream up)", lambda: all(cl.nats_healthy(i) for i in (1, 2, 3)))
    for i in (1, 2, 3):
        cl.start_fs("r%d" % i)
    wait_for("3 replicas ready", lambda: all(cl.fs_ready("r%d" % i) for i in (1, 2, 3)), timeout=90)
    cl.start_haproxy()
    wait_for("HAProxy forwarding", lambda: request(cl.front, "GET", "/readyz", timeout=2)[0] == 200)
    say("3 NATS nodes, 3 replicas, HAProxy up")

    # seed: a snapshot per source, and one larger than max_payload (chunks + manifest)
    for src in SOURCES:
        seq, body, commit = model.snapshot(src, 40)
        push_until_ok(cl.front, "snapshot", src, body)
        commit()
    bulk_legs = 4500  # ~1.2 MB of JSON: 2 chunks of the 1 MB max_payload
    seq, body, commit = model.snapshot(BULK, 0)
    body["legs"] = [leg(BULK, 1 + i // 30, "2026-12-%02d" % (1 + i % 30), 1 + i % 9, 20000 + i) for i in range(bulk_legs)]
    if len(json.dumps(body)) <= 1048576:
        fail("the bulk snapshot must be larger than max_payload")
    ans = push_until_ok(cl.front, "snapshot", BULK, body)
    commit()
    say("seeded: %d sources, bulk snapshot of %d bytes in chunks (generation %d)" % (len(SOURCES) + 1, len(json.dumps(body)),
                                                                                      ans["generation"]))

    searcher = Searcher(cl.front)
    searcher.start()
    traffic(cl, model, rounds, "before failures")

    cl.kill_nats(2)
    say("kill -9 NATS node 2")
    traffic(cl, model, rounds, "with NATS node 2 down")
    port2, data2 = cl.kill_fs("r2")
    say("kill -9 replica r2")
    traffic(cl, model, rounds, "with NATS node 2 and replica r2 down")

    cl.start_nats(2)
    wait_for("NATS node 2 healthy again", lambda: cl.nats_healthy(2), timeout=60)
    cl.start_fs("r2", data_dir=data2, port=port2)
    traffic(cl, model, rounds, "while r2 restarts")
    wait_for("r2 ready again (it applied the stream up to the head it saw at start)", lambda: cl.fs_ready("r2"), timeout=90)
    traffic(cl, model, rounds, "after both restarted")
    searcher.stop.set()
    searcher.join()
    if searcher.failed:
        fail("%d searches through HAProxy failed after 3 tries (first: %r)" % (len(searcher.failed), searcher.failed[0]))
    say("searches through HAProxy: %d answered, %d retried by the client, 0 failed" % (searcher.ok, searcher.retried))

    names = ["r1", "r2", "r3"]
    gen = lambda: [generation(cl.fs[n][1]) for n in names]
    wait_for("the replicas to reach the same generation", lambda: len(set(gen())) == 1, timeout=60)
    for n in names:
        check_replica(model, n, cl.fs[n][1], bulk_legs)
    answers = {n: sample_answers(cl.fs[n][1]) for n in names}
    for n in names:
        if answers[n] != answers["r1"]:
            fail("%s answers differently from r1 at generation %d: %s" % (n, gen()[0], answer_diff(answers[n], answers["r1"])))
    say("r1, r2, r3 at generation %d: every acknowledged push present with its content; %d sample answers identical "
        "(bodies and ETags)" % (gen()[0], len(answers["r1"])))

    cl.start_fs("r4")
    wait_for("a fourth replica from an empty data dir to be ready", lambda: cl.fs_ready("r4"), timeout=90)
    g = gen()[0]
    wait_for("r4 at generation %d" % g, lambda: generation(cl.fs["r4"][1]) == g, timeout=30)
    check_replica(model, "r4", cl.fs["r4"][1], bulk_legs)
    a4 = sample_answers(cl.fs["r4"][1])
    if a4 != answers["r1"]:
        fail("r4 answers differently from r1 at the same generation: " + answer_diff(a4, answers["r1"]))
    say("r4 caught up from the stream alone: generation %d, same content and answers" % g)

    # A restart with nothing new in the log: the data dir alone gives the same generation and the
    # same answers, sources' updated_at included (two sources' last message is a delta, replayed
    # from the store: its time must come from the delta file, not from this restart, which the
    # restore delay puts at least 1.5 s after every push).
    port1, data1, status = cl.stop_fs("r1")
    if status != 0:
        fail("r1 did not stop cleanly on SIGTERM (status %d)" % status)
    cl.start_fs("r1", data_dir=data1, port=port1, env={"FS_TEST_RESTORE_DELAY_MS": "1500"})
    wait_for("r1 ready after a restart", lambda: cl.fs_ready("r1"), timeout=90)
    if generation(port1) != g:
        fail("r1 restarted at generation %d, not %d" % (generation(port1), g))
    a1 = sample_answers(port1)
    if a1 != answers["r1"]:
        fail("r1 answers differently after a restart: " + answer_diff(a1, answers["r1"]))
    say("r1 restarted from its data dir: generation %d and the same answers" % g)

    cl.kill_nats(2)
    cl.kill_nats(3)
    say("kill -9 NATS nodes 2 and 3: no quorum")
    seq, body, commit = model.delta("alpha")
    st, hd, doc = push(cl.front, "delta", "alpha", body)
    if st != 503 or "retry-after" not in hd:
        fail("a push without a NATS quorum answered %d (%s), headers %s; expected 503 with Retry-After" % (st, doc[:200], hd))
    before = model_state(model, "alpha")
    for n in names:
        st2, _, _ = request(cl.front, "GET", "/v1/search?origin=GRU&destination=LIS&date=%s" % DAYS[0])
        if st2 != 200:
            fail("a search through HAProxy during the quorum loss answered %d" % st2)
        if source_state(cl.fs[n][1], "alpha", "LIS") != before:
            fail("replica %s changed source alpha during the quorum loss" % n)
    say("quorum loss: push refused 503 (Retry-After %s), searches served from the last state" % hd["retry-after"])
    say("PASS")


if __name__ == "__main__":
    sys.exit(main())
