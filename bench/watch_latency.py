#!/usr/bin/env python3
"""Latency of watch events on loopback: from a delta's 200 to the event on a connected SSE stream,
and to the first webhook attempt at a receiver in this script (docs/performance.md, "Watches").

    python3 bench/watch_latency.py build/flightsearch [N]

Starts the server on a free port with a temporary data dir (--webhook-allow-private), one watch
(GRU-LIS business, notify opened and closed) with a webhook to a receiver thread here, one
GET /v1/events stream, then pushes N deltas (default 200), each once the previous one's event has
arrived on both paths, each opening or closing the seats: one event each. For every event it records when the push's 200 came back and
when the event reached the stream and the receiver (time.monotonic in this process), and prints
p50, p99 and max of each difference. An event that arrives before the 200 counts as 0.
"""
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "bench-token-0123456789abcdef0123"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def leg(seats):
    return {"carrier": "TP", "flight": 82, "origin": "GRU", "destination": "LIS",
            "departs_at": "2026-12-01T21:35:00-03:00", "arrives_at": "2026-12-02T11:05:00+00:00",
            "cabins": {"business": {"seats": seats, "miles": 70000, "taxes_cents": 45000, "currency": "BRL"}}}


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    work = tempfile.mkdtemp(prefix="fs-watch-latency-")
    tokens = os.path.join(work, "tokens")
    with open(tokens, "w") as f:
        f.write(TOKEN + " *\n")
    os.chmod(tokens, 0o600)
    data = os.path.join(work, "data")
    os.mkdir(data)

    arrivals_hook = {}
    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            t = time.monotonic()
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals_hook.setdefault(int(self.headers["Flightsearch-Event-Id"]), t)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()

    port = free_port()
    proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--tokens", tokens,
                             "--threads", "2", "--quiet", "--webhook-allow-private"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        feed = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        auth = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}

        def push(kind, seq, seats):
            body = {"source": "tap", "sequence": seq, "generated_at": "2026-11-21T20:00:00Z"}
            body["legs" if kind == "snapshot" else "upsert"] = [leg(seats)]
            feed.request("PUT" if kind == "snapshot" else "POST", f"/v1/feeds/tap/{kind}s" if kind == "delta"
                         else "/v1/feeds/tap/snapshot", json.dumps(body), auth)
            r = feed.getresponse()
            r.read()
            assert r.status == 200, r.status
            return time.monotonic()

        push("snapshot", 1, 0)
        w = {"origin": ["GRU"], "destination": ["LIS"], "date": "2026-12-01", "cabin": "business",
             "notify": ["opened", "closed"],
             "webhook": {"url": f"http://127.0.0.1:{hook.server_address[1]}/hook", "secret": "bench-secret-0123456789"}}
        feed.request("POST", "/v1/watches", json.dumps(w), {"Content-Type": "application/json"})
        r = feed.getresponse()
        r.read()
        assert r.status == 201, r.status

        arrivals_sse = {}
        stream = socket.create_connection(("127.0.0.1", port))
        stream.sendall(f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())

        def read_stream():
            buf = b""
            while True:
                chunk = stream.recv(65536)
                if not chunk:
                    return
                t = time.monotonic()
                buf += chunk
                while b"\nid: " in buf or buf.startswith(b"id: "):
                    i = buf.find(b"id: ")
                    j = buf.find(b"\n", i)
                    if j < 0:
                        break
                    arrivals_sse.setdefault(int(buf[i + 4:j]), t)
                    buf = buf[j:]
        threading.Thread(target=read_stream, daemon=True).start()
        time.sleep(0.2)

        # one delta at a time, the next once both arrivals of the previous are in: events of
        # publishes that come faster than evaluation may be merged into one (docs/api.md)
        answered = []
        for k in range(n):
            answered.append(push("delta", 2 + k, 2 if k % 2 == 0 else 0))
            deadline = time.monotonic() + 5
            while (len(arrivals_sse) <= k or len(arrivals_hook) <= k) and time.monotonic() < deadline:
                time.sleep(0.0005)
        ids = sorted(arrivals_sse)[:n]
        if len(ids) < n or len(arrivals_hook) < n:
            print(f"only {len(arrivals_sse)} stream events and {len(arrivals_hook)} webhooks of {n}")
            return 1

        def report(name, arrivals):
            d = sorted(max(0.0, arrivals[ids[k]] - answered[k]) * 1000 for k in range(n))
            print(f"{name}: n={n} p50 {d[n // 2]:.2f} ms, p99 {d[min(n - 1, (n * 99) // 100)]:.2f} ms, max {d[-1]:.2f} ms")
        report("delta 200 -> SSE event", arrivals_sse)
        report("delta 200 -> first webhook attempt", arrivals_hook)
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        hook.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
