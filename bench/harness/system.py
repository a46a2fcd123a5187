"""The machine: progress lines, pinning, CPU and memory accounting, versions of every tool.

Machines are shared and noisy, so every load run records, beside its own figures, how much CPU
the server under test used and how busy its core was in all: a figure taken while something else
ran on core 0 says so in the output instead of silently being low.
"""
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

_T0 = time.monotonic()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    """One progress line on stderr, with the seconds since the harness started."""
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def elapsed():
    return time.monotonic() - _T0


# Niceness for everything the bench starts (bench/run.py --nice); None leaves it alone.
NICE = None


def pinned(core, argv):
    """argv run on one core (taskset) at the bench's niceness; unpinned when core is None or
    taskset is missing."""
    argv = list(argv)
    if core is not None and shutil.which("taskset") is not None:
        argv = ["taskset", "-c", str(core)] + argv
    if NICE is not None:
        argv = ["nice", "-n", str(NICE)] + argv
    return argv


def free_port():
    """A TCP port free on 127.0.0.1 now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout):
    """Waits until something accepts on 127.0.0.1:port; returns True when it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.01)
    return False


def process_cpu_seconds(pid):
    """CPU seconds of a process's live threads: the scheduler's exact run time of each
    (/proc/PID/task/*/schedstat, nanoseconds); the tick-based figure when schedstat is missing."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return stat_cpu_seconds(pid)


def stat_cpu_seconds(pid, reaped_children=False):
    """User + system CPU seconds of a process from /proc/PID/stat (tick-based), threads that have
    exited included; with reaped_children, plus the children it has waited for (how a
    postmaster's finished backends are counted)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if reaped_children:
            ticks += int(fields[13]) + int(fields[14])
        return ticks / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def core_jiffies(core):
    """(busy, total) jiffies of one core since boot (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{core} "):
                    v = [int(x) for x in line.split()[1:]]
                    idle = v[3] + (v[4] if len(v) > 4 else 0)
                    return sum(v) - idle, sum(v)
    except OSError:
        pass
    return 0, 0


def rss_bytes(pid):
    """VmRSS of a process in bytes, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class TreeCpuSampler:
    """CPU seconds of a process and its children, counting children that start and exit while it
    runs (a PostgreSQL backend lives as long as pgbench's connection): a thread samples the tree
    every `period` seconds and keeps each pid's last exact figure. Call it for the running total;
    a child's last `period` before it exits can be missed."""

    def __init__(self, root_pid, period=0.05):
        self.root, self.period = root_pid, period
        self.seen = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _children(self):
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.root:
                            out.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        return out

    def _sample(self):
        for pid in [self.root] + self._children():
            v = process_cpu_seconds(pid)
            with self.lock:
                if v > self.seen.get(pid, 0.0):
                    self.seen[pid] = v

    def _loop(self):
        while not self.done.wait(self.period):
            self._sample()

    def __call__(self):
        self._sample()
        with self.lock:
            return sum(self.seen.values())

    def __enter__(self):
        self._sample()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        return False


def rss_breakdown(pid):
    """VmRSS and its parts (RssAnon: heap; RssFile: mapped files such as segment images;
    RssShmem), in bytes."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


class Accounting:
    """Measures one load run: wall time, CPU of the server processes, how busy the server's core
    was in all (the rest is someone else), and the CPU the load generator (a waited-for child)
    used. Use as a context manager around the run; `raw` holds the sums (they add up over the
    rounds of a run), utilisation() turns them into shares of one core."""

    def __init__(self, pids, core, cpu_fn=None, settle_s=0.0):
        self.pids = [p for p in pids if p]
        self.core = core
        self.settle_s = settle_s
        self.cpu_fn = cpu_fn or (lambda: sum(process_cpu_seconds(p) for p in self.pids))

    def __enter__(self):
        self.t0 = time.monotonic()
        self.cpu0 = self.cpu_fn()
        self.core0 = core_jiffies(self.core) if self.core is not None else (0, 0)
        self.ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        if self.settle_s:
            time.sleep(self.settle_s)  # let the server reap what the run started
        cpu = self.cpu_fn() - self.cpu0
        busy1, total1 = core_jiffies(self.core) if self.core is not None else (0, 0)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = (ru1.ru_utime - self.ru0.ru_utime) + (ru1.ru_stime - self.ru0.ru_stime)
        self.raw = {"wall_s": wall, "server_cpu_s": cpu, "core_busy_j": busy1 - self.core0[0],
                    "core_total_j": total1 - self.core0[1], "client_cpu_s": client}
        return False


def add_raw(a, b):
    """Sums two Accounting.raw dicts (either may be None)."""
    if not a:
        return dict(b)
    return {k: a[k] + b[k] for k in a}


def utilisation(raw):
    """Shares of one core: the server's, the whole server core's, other processes' on the server
    core, and the load generator's."""
    wall, total = raw["wall_s"], raw["core_total_j"]
    server = raw["server_cpu_s"] / wall if wall > 0 else None
    busy = raw["core_busy_j"] / total if total > 0 else None
    return {
        "wall_s": round(wall, 3),
        "server_cpu_util": None if server is None else round(server, 3),
        "server_core_busy": None if busy is None else round(busy, 3),
        "others_on_server_core": None if server is None or busy is None else round(max(0.0, busy - server), 3),
        "client_cpu_util": round(raw["client_cpu_s"] / wall, 3) if wall > 0 else None,
    }


def _first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(tools):
    """CPU model, cores, memory, kernel, load and the version line of each tool in tools
    (name -> argv printing a version)."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"MemTotal:\s+(\d+)", f.read())
            mem = int(m.group(1)) * 1024 if m else None
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
    except OSError:
        load = None
    os_name = None
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]+)', f.read(), re.M)
            os_name = m.group(1) if m else None
    except OSError:
        pass
    versions = {name: (_first_line(argv) if shutil.which(argv[0]) else None) for name, argv in tools.items()}
    return {
        "host": platform.node(),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "kernel": platform.release(),
        "os": os_name,
        "loadavg_at_start": load,
        "python": platform.python_version(),
        "versions": versions,
    }
