"""The three servers a run compares, each started on the server core and stopped by the harness:
flightsearch itself, the floor (Debian's h2o serving static files of the mixes' median response
sizes) and the peer (PostgreSQL in a temporary directory, loopback only).

Every server here listens on 127.0.0.1 only and is owned by the harness: stop() ends exactly the
process it started.
"""
import glob
import http.client
import os
import shutil
import signal
import subprocess
import time

from .system import free_port, pinned, rss_bytes, stat_cpu_seconds, wait_port


def http_get(port, path, timeout=10.0, headers=None):
    """(status, body) of one GET on 127.0.0.1:port, or (None, reason)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


def parse_metrics(text):
    """Prometheus text -> {name or name{labels}: float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(" ", 1)
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def _stop(proc, timeout=15.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Flightsearch:
    """build/flightsearch with one worker thread on one core."""

    def __init__(self, binary, data_dir, core, workdir, name="flightsearch", extra_args=()):
        self.binary, self.data_dir, self.core, self.workdir, self.name = binary, data_dir, core, workdir, name
        self.extra_args = list(extra_args)  # e.g. --tokens FILE for the feed endpoints
        self.proc = None
        self.port = None

    def start(self, ready_timeout=600.0):
        """Starts the server and waits for /readyz 200. Returns the seconds from spawn to ready."""
        self.port = free_port()
        self.stderr = open(os.path.join(self.workdir, f"{self.name}.stderr"), "wb")
        argv = [self.binary, "--listen", f"127.0.0.1:{self.port}", "--threads", "1", "--data-dir", self.data_dir, "--quiet"]
        argv += self.extra_args
        t0 = time.monotonic()
        self.proc = subprocess.Popen(pinned(self.core, argv), stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = t0 + ready_timeout
        conn = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"flightsearch exited with status {self.proc.returncode} (see {self.stderr.name})")
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/readyz")
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    ready = time.monotonic() - t0
                    # CPU used to get there, every thread (the loaders have exited): robust to a busy machine
                    self.ready_cpu_s = stat_cpu_seconds(self.proc.pid)
                    conn.close()
                    return ready
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.002)
        raise RuntimeError(f"flightsearch not ready after {ready_timeout:.0f} s")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def rss(self):
        return rss_bytes(self.pid)

    def metrics(self):
        status, body = http_get(self.port, "/metrics")
        return parse_metrics(body.decode()) if status == 200 else {}

    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        _stop(self.proc)
        self.proc = None


class H2oFloor:
    """Debian's h2o binary serving static files from a directory, one thread on one core.

    As root h2o needs a `user` to drop to: the files and their directory are made world-readable
    and it runs as nobody. No access log (flightsearch runs with --quiet too)."""

    def __init__(self, workdir, core):
        self.dir = os.path.join(workdir, "floor")
        self.www = os.path.join(self.dir, "www")
        self.core = core
        self.proc = None
        self.port = None

    @staticmethod
    def binary():
        return shutil.which("h2o")

    def add_file(self, name, body):
        os.makedirs(self.www, exist_ok=True)
        path = os.path.join(self.www, name)
        with open(path, "wb") as f:
            f.write(body)
        os.chmod(path, 0o644)
        return "/" + name

    def start(self):
        binary = self.binary()
        if binary is None:
            raise RuntimeError("h2o is not installed (apt-get install h2o)")
        self.port = free_port()
        for d in (os.path.dirname(self.dir), self.dir, self.www):
            os.chmod(d, 0o755)
        conf = os.path.join(self.dir, "h2o.conf")
        lines = []
        if os.geteuid() == 0:
            lines.append("user: nobody")
        lines += [
            "num-threads: 1",
            f"error-log: {os.path.join(self.dir, 'error.log')}",
            "listen:",
            "  host: 127.0.0.1",
            f"  port: {self.port}",
            "hosts:",
            '  "default":',
            "    paths:",
            "      /:",
            f"        file.dir: {self.www}",
        ]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.out = open(os.path.join(self.dir, "h2o.stderr"), "wb")
        self.proc = subprocess.Popen(pinned(self.core, [binary, "-c", conf]), stdout=self.out, stderr=self.out)
        if not wait_port(self.port, 15):
            self.stop()
            raise RuntimeError("h2o did not start listening (see floor/h2o.stderr)")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        _stop(self.proc)
        self.proc = None


class Postgres:
    """A throw-away PostgreSQL cluster in workdir/pg, on 127.0.0.1 only, every process on one core.

    initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres`
    user (created by the Debian package) and every server-side command runs through runuser."""

    def __init__(self, workdir, core, memory_bytes):
        self.dir = os.path.join(workdir, "pg")
        self.data = os.path.join(self.dir, "data")
        self.core = core
        self.port = None
        self.bindir = self.find_bindir()
        gb = (memory_bytes or 4 << 30) / (1 << 30)
        self.shared_buffers_mb = int(max(128, min(8192, gb * 1024 / 4)))
        self.effective_cache_mb = int(max(256, gb * 1024 / 2))

    @staticmethod
    def find_bindir():
        def major(path):
            v = path.split("/")[4]
            return int(v) if v.isdigit() else 0

        cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=major)
        if cands:
            return os.path.dirname(cands[-1])
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            if out.returncode == 0 and os.path.exists(os.path.join(out.stdout.strip(), "postgres")):
                return out.stdout.strip()
        return None

    def _as_owner(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def version(self):
        if not self.bindir:
            return None
        out = subprocess.run([os.path.join(self.bindir, "postgres"), "--version"], capture_output=True, text=True)
        return out.stdout.strip() or None

    def start(self):
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        if os.geteuid() == 0:
            try:
                import pwd

                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("no 'postgres' user to run PostgreSQL as (install the postgresql package)")
            os.makedirs(self.dir, exist_ok=True)
            os.chmod(os.path.dirname(self.dir), 0o755)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        else:
            os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        init = subprocess.run(
            self._as_owner([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust", "-U", "bench", "-E", "UTF8",
                            "--no-locale", "--no-sync"]),
            capture_output=True, text=True)
        if init.returncode != 0:
            raise RuntimeError("initdb failed: " + (init.stderr.strip().splitlines() or ["?"])[-1])
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": self.dir,
            "shared_buffers": f"{self.shared_buffers_mb}MB",
            "effective_cache_size": f"{self.effective_cache_mb}MB",
            "work_mem": "64MB",
            "maintenance_work_mem": "1GB",
            "random_page_cost": "1.1",
            "jit": "off",  # JIT compilation costs more than these millisecond queries take
            "max_parallel_workers_per_gather": "0",  # one core: no parallel workers
            "max_parallel_maintenance_workers": "0",
            "fsync": "off",  # durability is not under test; loading is faster
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "max_wal_size": "8GB",
            "checkpoint_timeout": "1h",
            "autovacuum": "off",  # the table is loaded once and analysed by hand
            "logging_collector": "off",
        }
        with open(os.path.join(self.dir, "bench.conf"), "w") as f:
            for k, v in settings.items():
                f.write(f"{k} = '{v}'\n")
        os.chmod(os.path.join(self.dir, "bench.conf"), 0o644)
        # include our settings from the generated postgresql.conf (owned by the cluster's user)
        conf = os.path.join(self.data, "postgresql.conf")
        subprocess.run(self._as_owner(["sh", "-c", f"echo \"include '{self.dir}/bench.conf'\" >> {conf}"]), check=True)
        start = subprocess.run(
            pinned(self.core, self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l",
                                              os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start"])),
            capture_output=True, text=True)
        if start.returncode != 0:
            raise RuntimeError("pg_ctl start failed: " + (start.stderr.strip() or start.stdout.strip()).splitlines()[-1])

    def psql_argv(self, *extra):
        return [os.path.join(self.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "bench", "-d", "postgres"] + list(extra)

    def sql(self, text, stdin_path=None, timeout=7200):
        """Runs SQL through psql (as the current user, over loopback); returns stdout. Raises on error."""
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            out = subprocess.run(self.psql_argv("-At", "-c", text), stdin=stdin, capture_output=True, timeout=timeout)
        finally:
            if stdin_path:
                stdin.close()
        if out.returncode != 0:
            raise RuntimeError("psql: " + out.stderr.decode(errors="replace").strip()[-400:])
        return out.stdout.decode()

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.bindir is None or not os.path.exists(os.path.join(self.data, "postmaster.pid")):
            return
        subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"]),
                       capture_output=True)
