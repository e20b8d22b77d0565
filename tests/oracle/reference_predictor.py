"""A throwaway, independent predictor used to validate the self-test scenarios against the kernel.

It is deliberately *not* oomlens's model: it reads /proc/PID/status for every process in a memory
cgroup subtree and applies the 5.9+ formula from the spec (§1.4) directly:

    badness = RssAnon + RssFile + RssShmem + VmSwap + VmPTE  (all in pages)  + adj * (T // 1000)

with T = the cgroup's memory limit in pages (the self test sets swappiness 0 / swap.max 0, so no
swap term), adj −1000 not eligible, and the last maximum in scan order winning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class RefTask:
    pid: int
    rss_anon: int
    rss_file: int
    rss_shmem: int
    swapents: int
    pgtables_pages: int
    oom_score_adj: int
    badness: int


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _limit_pages(cgroup: str) -> int:
    for name in ("memory.limit_in_bytes", "memory.max"):
        path = os.path.join(cgroup, name)
        if os.path.exists(path):
            raw = _read(path).strip()
            return max(1, (1 << 62 if raw == "max" else int(raw)) // PAGE_SIZE)
    raise FileNotFoundError(f"{cgroup}: no memory limit file")


def _subtree(cgroup: str) -> list[str]:
    out = [cgroup]
    for name in sorted(os.listdir(cgroup)):
        sub = os.path.join(cgroup, name)
        if os.path.isdir(sub):
            out += _subtree(sub)
    return out


def tasks(cgroup: str) -> list[RefTask]:
    T = _limit_pages(cgroup)
    out = []
    for cg in _subtree(cgroup):
        for pid in map(int, _read(os.path.join(cg, "cgroup.procs")).split()):
            try:
                status = _read(f"/proc/{pid}/status")
                adj = int(_read(f"/proc/{pid}/oom_score_adj"))
            except OSError:
                continue
            kb = {}
            for line in status.splitlines():
                key, _, val = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem", "VmSwap", "VmPTE"):
                    kb[key] = int(val.split()[0])
            if "RssAnon" not in kb or adj == -1000:     # no mm (kernel thread / exited) or not eligible
                continue
            pg = {k: v * 1024 // PAGE_SIZE for k, v in kb.items()}
            rss = pg["RssAnon"] + pg["RssFile"] + pg["RssShmem"]
            badness = rss + pg.get("VmSwap", 0) + pg.get("VmPTE", 0) + adj * (T // 1000)
            out.append(RefTask(pid, pg["RssAnon"], pg["RssFile"], pg["RssShmem"], pg.get("VmSwap", 0),
                               pg.get("VmPTE", 0), adj, badness))
    return out


def predict(cgroup: str) -> int:
    best = None
    for t in tasks(cgroup):
        if best is None or t.badness >= best.badness:
            best = t
    if best is None:
        raise LookupError(f"no eligible task in {cgroup}")
    return best.pid
