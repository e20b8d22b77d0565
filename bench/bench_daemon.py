#!/usr/bin/env python3
"""Resource budget of `oomlens daemon`: interval 1 s, EXTRA (default 1000) extra processes, DURATION (default
120 s), the global domain and the exporter on, scraped every 15 s like Prometheus would.

Targets: CPU <= 0.5% of one core (utime+stime of the daemon over the run, after a 5 s warm-up), RSS <= 30 MiB
(VmHWM, the peak), open fd count stable (same at the end as after warm-up). Prints the figures and exits 1
when a target is missed. Cleans up its sleepers.

    .venv/bin/python bench/bench_daemon.py [--extra 1000] [--duration 120]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from bench_top import spawn_sleepers

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def nfds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def kill_sleepers(pids: list[int]) -> None:
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
            os.waitpid(p, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=120.0)
    args = ap.parse_args()
    port = free_port()
    sleepers = spawn_sleepers(args.extra)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "d.toml")
        with open(cfg, "w") as f:
            f.write(f'interval = "1s"\n[exporter]\nlisten = "127.0.0.1:{port}"\n'
                    '[[domain]]\npath = "global"\nwarn_below = "10%"\n')
        d = subprocess.Popen([sys.executable, "-m", "oomlens", "daemon", "--config", cfg],
                             stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            time.sleep(5)
            procs = len([p for p in os.listdir("/proc") if p.isdigit()])
            cpu0, fd0, t0 = cpu_seconds(d.pid), nfds(d.pid), time.monotonic()
            fds = [fd0]
            scrapes = 0
            while time.monotonic() - t0 < args.duration:
                time.sleep(min(15.0, max(0.0, args.duration - (time.monotonic() - t0))))
                fds.append(nfds(d.pid))  # before the scrape: its connection socket is transient
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    r.read()
                scrapes += 1
            cpu1, t1 = cpu_seconds(d.pid), time.monotonic()
            hwm, rss = status_kb(d.pid, "VmHWM"), status_kb(d.pid, "VmRSS")
            time.sleep(1)
            fd1 = nfds(d.pid)
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait(10)
            kill_sleepers(sleepers)
    cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
    print(f"processes on the host: {procs} ({args.extra} extra); run {t1 - t0:.0f} s, {scrapes} scrapes")
    print(f"CPU {cpu1 - cpu0:.2f} s = {cpu_pct:.3f}% of one core (target <= 0.5%)")
    print(f"RSS peak {hwm / 1024:.1f} MiB, now {rss / 1024:.1f} MiB (target <= 30 MiB)")
    print(f"fds {fd0} after warm-up, {fd1} at the end, range {min(fds)}..{max(fds)} (target: stable)")
    ok = cpu_pct <= 0.5 and hwm <= 30 * 1024 and fd1 == fd0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
