#!/usr/bin/env python3
"""Benchmark: `oomlens top --json --all` against `ps -eo pid,oom,oomadj,rss,comm --sort=-oom`, and the
human table (`oomlens top --all` to a pipe) against the JSON.

Starts EXTRA (default 3000) sleeping processes, then times the three commands in turn ROUNDS times and
prints the median wall-time ratios: JSON / ps (target <= 0.8) and table / JSON (target <= 2.0: the
human table must not be the slow path). Cleans up its sleepers.

oomlens runs as an installed user runs it: with Python's bytecode cache (PYTHONDONTWRITEBYTECODE is
removed from its environment; the warm-up run writes the cache). Pass --no-bytecode to measure
without it (every module recompiled at each start).

    .venv/bin/python bench/bench_top.py [--extra 3000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time


def spawn_sleepers(n: int) -> list[int]:
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:  # child: sleep until killed, without touching Python objects
            try:
                signal.pause()
            finally:
                os._exit(0)
        pids.append(pid)
    return pids


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as set")
    args = ap.parse_args()
    env = dict(os.environ)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    oomlens = [sys.executable, "-m", "oomlens", "top", "--json", "--all"]
    table = [sys.executable, "-m", "oomlens", "top", "--all"]
    ps = ["ps", "-eo", "pid,oom,oomadj,rss,comm", "--sort=-oom"]
    pids = spawn_sleepers(args.extra)
    try:
        time.sleep(0.5)
        nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
        timed(oomlens, env), timed(ps)  # warm the page cache, dentries and bytecode cache
        timed(table, env)
        ours, theirs, human = [], [], []
        for _ in range(args.rounds):
            ours.append(timed(oomlens, env))
            theirs.append(timed(ps))
            human.append(timed(table, env))
        ratios = [a / b for a, b in zip(ours, theirs)]
        hratios = [h / a for h, a in zip(human, ours)]
        print(f"processes: {nproc}")
        print(f"oomlens top --json --all: median {statistics.median(ours) * 1000:.0f} ms")
        print(f"ps -eo ... --sort=-oom:    median {statistics.median(theirs) * 1000:.0f} ms")
        print(f"oomlens top --all | pipe:  median {statistics.median(human) * 1000:.0f} ms")
        print(f"json / ps (median of per-round ratios):    {statistics.median(ratios):.2f}  "
              f"[{min(ratios):.2f}-{max(ratios):.2f}]  (target <= 0.8)")
        print(f"table / json (median of per-round ratios): {statistics.median(hratios):.2f}  "
              f"[{min(hratios):.2f}-{max(hratios):.2f}]  (target <= 2.0)")
    finally:
        for p in pids:
            os.kill(p, signal.SIGKILL)
        for p in pids:
            os.waitpid(p, 0)


if __name__ == "__main__":
    main()
