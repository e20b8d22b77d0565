"""Guest side of the VM kernel oracle: runs as root (pid 1's child) inside a throwaway virtme-ng guest.

``python -m tests.vm.guest --out FILE [--only NAME ...]`` runs every scenario of :data:`CASES` in order
against the guest's kernel and writes what it saw as JSON to ``FILE`` (rewritten after each scenario, so
a guest that dies mid-way still reports what it finished). It only *collects*: the prediction of
``oomlens top --json`` (the CLI, taken before the kernel acts), the kernel's report from ``/dev/kmsg``,
which of our processes died and how, ``oomlens postmortem --json`` on that report, and the facts needed
to check T independently (cgroupfs limits, ``/proc/meminfo``). ``tests/vm/test_vm_oracle.py`` judges
them on the host.

Holders, sandboxes and the kernel-log cursor are oomlens's own selftest machinery
(:mod:`oomlens.selftest.harness`). Global OOMs are provoked here, in the guest only: the guest's memory
is filled by an immune (adj -1000) filler so that the allocating task stays small, and this process
protects itself with adj -1000 (holders write their own adj, so they do not inherit it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oomlens.selftest.harness import (
    ALLOCATOR_NAME,
    PAGE_SIZE,
    Holder,
    MemcgSandbox,
    find_oom_report,
    provoke,
    read_text,
    write_text,
)
from oomlens.sources.kernellog import KmsgCursor

MiB = 1 << 20
_KILL = re.compile(r"(?:^|: )Killed process (\d+) \((.*?)\)")
#: zram swap for the swap scenarios (MiB) and the ext4-on-zram disk for file-backed holders.
SWAP_MIB = 256
DISK_MIB = 96
DISK_DIR = "/tmp/oomlens-vm-disk"
#: Global OOMs: free memory left beside the immune filler, which the allocating task then takes.
GLOBAL_RESERVE_MIB = 96
#: The kernel ratelimits OOM headers (5 per 5 s, burst): global OOMs are spaced this far apart.
GLOBAL_SPACING_S = 2.0


# ------------------------------------------------------------------------------------------ helpers

def meminfo_kb() -> dict[str, int]:
    out = {}
    for line in read_text("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        out[key] = int(rest.split()[0])
    return out


def status_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in read_text(f"/proc/{pid}/status").splitlines():
        key, _, rest = line.partition(":")
        if key.startswith(("Rss", "Vm")):
            out[key] = int(rest.split()[0])
    return out


def oomlens(*args: str) -> tuple[int, str, str]:
    """Run the oomlens CLI (its click entry point, in this process: a new interpreter costs seconds
    under TCG); returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from oomlens.cli.main import cli

    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def top_json(cgroup: str | None = None) -> dict[str, Any]:
    args = ["top", "--json"] + (["--cgroup", cgroup] if cgroup else [])
    rc, out, err = oomlens(*args)
    if rc != 0:
        raise RuntimeError(f"oomlens {' '.join(args)} exited {rc}: {err.strip()[-2000:]}")
    data: dict[str, Any] = json.loads(out)
    return data


def postmortem_json(text: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(text)
    try:
        rc, out, err = oomlens("postmortem", "--json", f.name)
    finally:
        os.unlink(f.name)
    if rc != 0:
        raise RuntimeError(f"oomlens postmortem exited {rc}: {err.strip()[-2000:]}")
    data: dict[str, Any] = json.loads(out)
    return data


def cg_int(path: str) -> int | None:
    """A cgroup v2 limit file in bytes (None for ``max``)."""
    raw = read_text(path).strip()
    return None if raw == "max" else int(raw)


def memcg_T(cgroup: str) -> int:
    """T for an OOM in ``cgroup`` (v2), from cgroupfs and /proc only (spec §3, 5.9+ rule):
    memory.max + min(swap.max, total swap) when vm.swappiness != 0, in pages."""
    mem = cg_int(os.path.join(cgroup, "memory.max"))
    assert mem is not None, f"{cgroup} has no memory limit"
    pages = mem // PAGE_SIZE
    swap_max = cg_int(os.path.join(cgroup, "memory.swap.max"))
    total_swap = meminfo_kb()["SwapTotal"] * 1024 // PAGE_SIZE
    if int(read_text("/proc/sys/vm/swappiness")) != 0:
        pages += min(total_swap if swap_max is None else swap_max // PAGE_SIZE, total_swap)
    return pages


def global_T() -> int:
    m = meminfo_kb()
    return (m["MemTotal"] + m["SwapTotal"]) * 1024 // PAGE_SIZE


def log_after(cur: KmsgCursor, marker: str) -> str:
    """dmesg-style text of every record from the marker on."""
    cur.poll()
    lines, seen = [], False
    for rec in cur.records:
        seen = seen or marker in rec.message
        if seen:
            lines.append(rec.line())
    return "\n".join(lines) + "\n"


def kills_after(cur: KmsgCursor, marker: str) -> list[int]:
    """Every pid a ``Killed process`` line names after the marker, in log order, once each."""
    out: list[int] = []
    seen = False
    for rec in cur.records:
        if not seen:
            seen = marker in rec.message
            continue
        m = _KILL.search(rec.message)
        if m and int(m[1]) not in out:
            out.append(int(m[1]))
    return out


# ------------------------------------------------------------------------------------------ cases

@dataclass
class Case:
    """One scenario: holders, the designed outcome and how to set it up."""

    name: str
    kind: str                                  # "memcg" | "global"
    holders: tuple[Holder, ...]
    expected: str                              # the designed victim (a holder name)
    notes: str
    group: tuple[str, ...] = ()                # memory.oom.group: every holder the kernel must kill
    setup: Callable[[MemcgSandbox], dict[str, Any]] | None = None     # after spawn, before arming
    post_arm: Callable[[MemcgSandbox], dict[str, Any]] | None = None  # after arming, before predicting
    predict_in: str = ""                       # sub-cgroup also to rank (``--cgroup``) besides the domain
    swap: bool = False                         # needs zram swap
    headroom_mib: float = 1.0


@dataclass
class Ctx:
    cur: KmsgCursor
    out: dict[str, Any]
    swap_on: bool = False
    disk: str | None = None
    last_oom: float = 0.0
    notes: list[str] = field(default_factory=list)


def run_memcg(case: Case, ctx: Ctx) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    t = rec["timings"] = {}
    t0 = time.monotonic()
    holders = case.holders
    if not any(h.trigger for h in holders):       # start the default allocator with the others (faster)
        holders += (Holder(ALLOCATOR_NAME, anon_mib=1.0, trigger=True),)
    with MemcgSandbox(headroom_mib=case.headroom_mib) as sb:
        sb.spawn(holders, timeout=300)
        t["spawn"] = round(time.monotonic() - t0, 1)
        rec["pids"] = {hp.name: hp.pid for hp in sb.procs}
        if case.setup:
            rec["setup"] = case.setup(sb)
        limit = sb.arm()
        rec["pids"] = {hp.name: hp.pid for hp in sb.procs}
        if case.post_arm:
            rec["post_arm"] = case.post_arm(sb)
        rec["cgroup"] = sb.path
        rec["kernel_cgroup"] = sb.kernel_path
        rec["limit_bytes"] = limit
        rec["expected_totalpages"] = memcg_T(sb.path)
        rec["status_kb"] = {hp.name: status_kb(hp.pid) for hp in sb.procs}
        t["arm"] = round(time.monotonic() - t0, 1)
        rec["top"] = top_json(sb.path)
        if case.predict_in:
            rec["top_sub"] = top_json(sb.cgroup(case.predict_in))
        t["top"] = round(time.monotonic() - t0, 1)
        pr = provoke(sb, timeout=240, cursor=ctx.cur)
        t["provoke"] = round(time.monotonic() - t0, 1)
        rec["kernel_victim_pid"] = pr.victim_pid
        rec["trigger_outcome"] = pr.trigger_outcome
        deadline = time.monotonic() + 30
        for hp in sb.procs:
            if hp.name in case.group:
                hp.reap(max(0.1, deadline - time.monotonic()))
        time.sleep(1.0)
        rec["died"] = {hp.name: hp.returncode for hp in sb.procs if hp.returncode is not None}
        rec["killed_pids"] = kills_after(ctx.cur, pr.marker)
        rec["log"] = log_after(ctx.cur, pr.marker)
    t["closed"] = round(time.monotonic() - t0, 1)
    rec["postmortem"] = postmortem_json(rec["log"])
    t["postmortem"] = round(time.monotonic() - t0, 1)
    return rec


def _pinned(h: Holder) -> Holder:
    return dataclasses.replace(h, pin=True)


def _pin_self() -> None:
    """mlockall(MCL_CURRENT): this process's code stays resident through the global OOMs."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).mlockall(1):
        raise OSError(ctypes.get_errno(), "mlockall")


def run_global(case: Case, ctx: Ctx) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    t = rec["timings"] = {}
    t0 = time.monotonic()
    # never limited: the sandbox only groups and counts our kills; the allocating task may take the
    # reserve, the swap and then some (its mapping must stay below RAM + swap: heuristic overcommit)
    headroom = GLOBAL_RESERVE_MIB + (SWAP_MIB if case.swap else 0) + 64
    with MemcgSandbox(headroom_mib=headroom) as sb:
        if case.swap:
            write_text(os.path.join(sb.path, "memory.swap.max"), "max")
        holders = tuple(map(_pinned, case.holders))
        if not any(h.trigger for h in holders):
            holders += (Holder(ALLOCATOR_NAME, anon_mib=1.0, trigger=True, pin=True),)
        sb.spawn(holders, timeout=300)
        avail = meminfo_kb()["MemAvailable"] // 1024
        filler = max(1, avail - GLOBAL_RESERVE_MIB)
        sb.spawn([Holder("filler", anon_mib=filler, oom_score_adj=-1000, pin=True)], timeout=300)
        t["spawn"] = round(time.monotonic() - t0, 1)
        trigger = sb.trigger
        assert trigger is not None
        rec["pids"] = {hp.name: hp.pid for hp in sb.procs}
        rec["filler_mib"] = filler
        rec["meminfo_kb"] = meminfo_kb()
        rec["expected_totalpages"] = global_T()
        rec["status_kb"] = {hp.name: status_kb(hp.pid) for hp in sb.procs}
        rec["top"] = top_json(None)
        t["top"] = round(time.monotonic() - t0, 1)
        wait = ctx.last_oom + GLOBAL_SPACING_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        marker = ctx.cur.mark(f"global {case.name}")
        trigger.send(b"g")
        deadline = time.monotonic() + 420
        ours = frozenset(rec["pids"].values())
        while True:
            ctx.cur.poll()
            kills = kills_after(ctx.cur, marker)
            if kills:
                break
            if trigger.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no global OOM kill (allocating task: exit {trigger.returncode} "
                                   f"{trigger.stderr_text()!r}, said {trigger.readline(0)!r}; meminfo {meminfo_kb()})")
            ctx.cur.wait(0.5)
        ctx.last_oom = time.monotonic()
        t["oom"] = round(time.monotonic() - t0, 1)
        rec["kernel_victim_pid"] = kills[0]
        victim = next((hp for hp in sb.procs if hp.pid == kills[0]), None)
        if victim is not None:
            victim.reap(30)
        report = find_oom_report(ctx.cur.records, ours, marker=marker)
        rec["report_complete"] = report is not None and report.complete
        # let the trigger stop (it has seen the kill), then free the memory before the next case
        if trigger is not victim:
            trigger.readline(10.0)
        time.sleep(1.0)
        rec["died"] = {hp.name: hp.returncode for hp in sb.procs if hp.returncode is not None}
        rec["killed_pids"] = kills_after(ctx.cur, marker)
        rec["log"] = log_after(ctx.cur, marker)
    rec["postmortem"] = postmortem_json(rec["log"])
    return rec


# --- set-up hooks ------------------------------------------------------------------------------

def _oom_group(sb: MemcgSandbox) -> dict[str, Any]:
    path = os.path.join(sb.cgroup("g"), "memory.oom.group")
    write_text(path, "1")
    return {"oom_group": read_text(path).strip()}


def _swap_out(rel: str, mib: int) -> Callable[[MemcgSandbox], dict[str, Any]]:
    """Push ``mib`` of sub-cgroup ``rel``'s memory to swap (memory.reclaim), so its holder has swapents."""
    def setup(sb: MemcgSandbox) -> dict[str, Any]:
        write_text(os.path.join(sb.path, "memory.swap.max"), "max")
        sub = sb.cgroup(rel)
        write_text(os.path.join(sub, "memory.swap.max"), "max")
        for _ in range(5):
            try:
                write_text(os.path.join(sub, "memory.reclaim"), f"{mib}M")
                break
            except OSError:          # EAGAIN: reclaimed less than asked; ask again
                time.sleep(0.2)
        return {"swap_current": int(read_text(os.path.join(sub, "memory.swap.current")))}
    return setup


def _swap_limit(sb: MemcgSandbox) -> dict[str, Any]:
    """swap.max of the domain = the swap it uses + 2 MiB: the OOM comes once that is used too."""
    used = int(read_text(os.path.join(sb.path, "memory.swap.current")))
    want = used + 2 * MiB
    write_text(os.path.join(sb.path, "memory.swap.max"), str(want - want % PAGE_SIZE))
    return {"swap_current": used, "swap_max": cg_int(os.path.join(sb.path, "memory.swap.max"))}


CASES: tuple[Case, ...] = (
    # ----- memcg (cgroup v2), no swap ---------------------------------------------------------
    Case("memcg-largest", "memcg",
         (Holder("anon12", anon_mib=12), Holder("anon36", anon_mib=36), Holder("anon24", anon_mib=24)),
         "anon36", "plain size: adj 0 everywhere, the largest rss wins (margin 12 MiB)"),
    Case("memcg-adj-scaled-by-limit", "memcg",
         (Holder("big40", anon_mib=40), Holder("adj100", anon_mib=8, oom_score_adj=100)),
         "big40", "adj 100 is worth 100*(T//1000) pages with T = memory.max (~60 MiB): ~1500 pages, "
                  "not the ~24000 a RAM-sized T would give"),
    Case("memcg-shmem", "memcg",
         (Holder("anon30", anon_mib=30), Holder("shm36", anon_mib=1, shmem_mib=36)),
         "shm36", "memfd shmem counts (rss_shmem): 37 MiB beats 30 MiB of anon"),
    Case("memcg-pgtables", "memcg",
         (Holder("anon32", anon_mib=32), Holder("anon28pt12", anon_mib=28, pgtable_mib=12)),
         "anon28pt12", "12 MiB of page tables + 28 MiB beats 32 MiB"),
    Case("memcg-threads", "memcg",
         (Holder("mt20x8", anon_mib=20, threads=8), Holder("single32", anon_mib=32)),
         "single32", "a 9-thread process is one candidate scored once: 20 MiB < 32 MiB"),
    Case("memcg-nested", "memcg",
         (Holder(ALLOCATOR_NAME, anon_mib=1, cgroup="a", trigger=True), Holder("a24", anon_mib=24, cgroup="a"),
          Holder("deep36", anon_mib=36, cgroup="b/c"), Holder("d12", anon_mib=12, cgroup="b/d")),
         "deep36", "the limited parent's whole subtree competes: a grandchild's 36 MiB wins"),
    Case("memcg-oom-group", "memcg",
         (Holder("g36", anon_mib=36, cgroup="g"), Holder("g4a", anon_mib=4, cgroup="g"),
          Holder("g4b", anon_mib=4, cgroup="g"), Holder("o24", anon_mib=24, cgroup="o"),
          Holder(ALLOCATOR_NAME, anon_mib=1, cgroup="o", trigger=True)),
         "g36", "memory.oom.group=1 on g: the victim g36 takes g4a and g4b with it; o24 survives",
         group=("g36", "g4a", "g4b"), setup=_oom_group),
    Case("memcg-unlimited-child", "memcg",
         (Holder("u40", anon_mib=40, cgroup="u"), Holder("u12", anon_mib=12, cgroup="u"),
          Holder("s24", anon_mib=24, cgroup="s"), Holder(ALLOCATOR_NAME, anon_mib=1, cgroup="s", trigger=True)),
         "u40", "child u has no limit; the OOM is its limited parent's, and T is the parent's limit, "
                "also when ranking with --cgroup u", predict_in="u"),
    Case("memcg-neg-adj-immune", "memcg",
         (Holder("imm48", anon_mib=48, oom_score_adj=-1000), Holder("b32", anon_mib=32),
          Holder("c16", anon_mib=16)),
         "b32", "adj -1000 is never a candidate, however large"),
    Case("memcg-neg-adj-spares", "memcg",
         (Holder("big40n300", anon_mib=40, oom_score_adj=-300), Holder("m32", anon_mib=32)),
         "m32", "adj -300 takes 300*(T//1000) (~6000) pages off 40 MiB (~12300): the 32 MiB process dies"),
    # ----- global OOM, no swap ----------------------------------------------------------------
    Case("global-adj", "global",
         (Holder("g256", anon_mib=256), Holder("g64a260", anon_mib=64, oom_score_adj=260)),
         "g64a260", "T = RAM (~245000 pages, T//1000 ~245): 64 MiB + 260*245 pages beats 256 MiB; "
                    "an immune filler takes the rest of RAM"),
    Case("global-allocator", "global",
         (Holder("alloc300", anon_mib=300, trigger=True), Holder("g200", anon_mib=200),
          Holder("g100", anon_mib=100)),
         "alloc300", "the allocating task is a candidate like any other: at 300 MiB it is the largest"),
    # ----- with zram swap ---------------------------------------------------------------------
    Case("memcg-swap-counts", "memcg",
         (Holder("sw48", anon_mib=48, cgroup="s"), Holder("r32", anon_mib=32, cgroup="r"),
          Holder(ALLOCATOR_NAME, anon_mib=1, cgroup="r", trigger=True)),
         "sw48", "sw48's pages are pushed to zram (memory.reclaim) before the OOM: rss ~2 MiB but "
                 "rss+swapents ~50 MiB beats r32's 32 MiB resident",
         setup=_swap_out("s", 48), post_arm=_swap_limit, swap=True),
    Case("memcg-swap-T", "memcg",
         (Holder("sw64", anon_mib=64, cgroup="s"), Holder("r40", anon_mib=40, cgroup="r"),
          Holder("adj800", anon_mib=4, cgroup="r", oom_score_adj=800),
          Holder(ALLOCATOR_NAME, anon_mib=1, cgroup="r", trigger=True)),
         "adj800", "T = memory.max + swap.max (~57 + 66 MiB, T//1000 ~31): adj800 scores ~27000 > sw64's "
                   "~18500; with T = memory.max alone (T//1000 ~14) it would score ~14300 and sw64 would die",
         setup=_swap_out("s", 64), post_arm=_swap_limit, swap=True),
    Case("global-swap", "global",
         (Holder("g420", anon_mib=420), Holder("g120a280", anon_mib=120, oom_score_adj=280)),
         "g120a280", f"T = RAM + {SWAP_MIB} MiB of zram swap (T//1000 ~310): 120 MiB + 280*310 beats 420 MiB; "
                     "with T = RAM only (T//1000 ~245) g420 would die. Swap fills before the OOM",
         swap=True),
)


# ------------------------------------------------------------------------------------------ daemon early kill

EARLY_KILL = "global-early-kill"
#: The daemon's global domain: warn / kill thresholds (percent of T = MemTotal + SwapTotal).
EARLY_WARN_PCT = 10
EARLY_KILL_PCT = 5
#: Holders: the protected one is the largest (the kernel's victim), the unprotected ``victim`` the next.
EARLY_HOLDERS = (Holder("precious", anon_mib=192), Holder("victim", anon_mib=128), Holder("small", anon_mib=48))
EARLY_PROTECTED, EARLY_VICTIM = "precious", "victim"
#: Headroom above kill_below left beside the immune filler; the grower eats it at GROW_MIB_S.
EARLY_MARGIN_MIB = 64
GROW_MIB_S = 20
#: The grower does not stop by itself before this much past the margin: without the daemon, a kernel OOM.
GROW_PAST_MIB = 160

_GROWER = r"""
import ctypes, mmap, os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(15, b"grower", 0, 0, 0)
open("/proc/self/oom_score_adj", "w").write("0")
if libc.mlockall(3):                          # MCL_CURRENT | MCL_FUTURE: no thrashing over 9p
    sys.exit("mlockall: " + os.strerror(ctypes.get_errno()))
step, every, cap = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()
held, t0 = [], time.monotonic()
while len(held) * step < cap:
    m = mmap.mmap(-1, step)
    for i in range(0, step, 4096):
        m[i] = 1
    held.append(m)
    time.sleep(max(0.0, t0 + len(held) * every - time.monotonic()))
print("capped", flush=True)
time.sleep(3600)
"""


def proc_sizes() -> dict[int, dict[str, Any]]:
    """Every user process's comm, oom_score_adj and VmRSS/VmSwap/VmPTE (kB), read from /proc here
    (not by oomlens): what the kernel's badness weighs."""
    out: dict[int, dict[str, Any]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            kb = status_kb(int(d))
            if "VmRSS" not in kb:          # kernel thread
                continue
            out[int(d)] = {"comm": read_text(f"/proc/{d}/comm").strip(), "adj": int(read_text(f"/proc/{d}/oom_score_adj")),
                           "rss_kb": kb["VmRSS"], "swap_kb": kb.get("VmSwap", 0), "pte_kb": kb.get("VmPTE", 0)}
        except (OSError, ValueError):
            continue
    return out


def run_early_kill(ctx: Ctx) -> dict[str, Any]:
    """``oomlens daemon`` with an early kill on the global domain: pinned holders (the largest protected by the
    policy), an immune filler, then a process growing at GROW_MIB_S until the daemon acts. Collected: the
    daemon's JSON lines, who died how, the sizes from /proc before the growth and the kernel log after."""
    from pathlib import Path

    from tests.oracle.daemon_proc import DaemonProc

    rec: dict[str, Any] = {"protected": EARLY_PROTECTED, "expected": EARLY_VICTIM, "timings": {}}
    tmp = Path(tempfile.mkdtemp(prefix="oomlens-vm-daemon-"))
    policy = tmp / "policy.toml"
    policy.write_text(f'[[rule]]\nname = "keep"\nmatch = {{ comm = "{EARLY_PROTECTED}" }}\nintent = "protect"\n')
    config = (f'interval = "1s"\nmin_interval = "100ms"\nscan_interval = "5s"\npolicy = "{policy}"\n'
              f'[exporter]\nlisten = ""\n[[domain]]\npath = "global"\nwarn_below = "{EARLY_WARN_PCT}%"\n'
              f'kill_below = "{EARLY_KILL_PCT}%"\n[action]\nkill = true\ngrace = "1s"\n')
    rec["config"] = config
    with MemcgSandbox(headroom_mib=1.0) as sb:
        # the daemon first: its interpreter takes a minute to start under TCG; the holders start meanwhile
        daemon = DaemonProc(config, tmp)
        try:
            return _early_kill(ctx, sb, daemon, rec)
        finally:
            daemon.stop()


def _early_kill(ctx: Ctx, sb: MemcgSandbox, daemon: Any, rec: dict[str, Any]) -> dict[str, Any]:
    """run_early_kill's body, with the daemon (a tests.oracle.daemon_proc.DaemonProc) already starting."""
    t = rec["timings"]
    t0 = time.monotonic()
    sb.spawn(tuple(map(_pinned, EARLY_HOLDERS)), timeout=300)
    t["spawn"] = round(time.monotonic() - t0, 1)
    rec["pids"] = {hp.name: hp.pid for hp in sb.procs}
    cap = (EARLY_MARGIN_MIB + GROW_PAST_MIB) * MiB
    grower = subprocess.Popen(      # idle (interpreter started, pinned) until told to go
        [sys.executable, "-I", "-S", "-c", _GROWER, os.path.join(sb.path, "cgroup.procs"), str(MiB),
         str(1.0 / GROW_MIB_S), str(cap)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert grower.stdout is not None and grower.stdin is not None
        line = grower.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"grower: {line!r} {grower.stderr.read() if grower.stderr else ''}")
        rec["pids"]["grower"] = grower.pid
        with daemon as d:
            try:
                rec["daemon_pid"] = d.proc.pid
                watching = d.wait_for(lambda x: x.get("msg") == "watching", 120)
                t["daemon_watching"] = round(time.monotonic() - t0, 1)
                if watching is None:
                    raise RuntimeError("the daemon never said 'watching':\n" + "".join(d.raw)[-3000:])
                rec["watching"] = watching[1]
                rec["T_pages"] = global_T()
                kill_below_mib = rec["T_pages"] * PAGE_SIZE * EARLY_KILL_PCT // 100 // MiB
                m = meminfo_kb()
                headroom_mib = (m["MemAvailable"] + m["SwapFree"]) // 1024
                filler = max(1, headroom_mib - kill_below_mib - EARLY_MARGIN_MIB)
                rec["marker"] = ctx.cur.mark(f"daemon {EARLY_KILL}")
                sb.spawn([Holder("filler", anon_mib=filler, oom_score_adj=-1000, pin=True)], timeout=300)
                rec["filler_mib"] = filler
                rec["pids"]["filler"] = sb.procs[-1].pid
                t["filler"] = round(time.monotonic() - t0, 1)
                m = meminfo_kb()
                rec["meminfo_before_kb"] = m
                rec["sizes_before"] = proc_sizes()
                views = [x for _, x in d.lines if x.get("msg") == "watching" or x.get("event") == "victim-changed"]
                rec["model_victim_before"] = views[-1].get("victim", views[-1].get("pid"))
                t["grow"] = round(time.monotonic() - t0, 1)
                grower.stdin.write("go\n")
                grower.stdin.flush()
                got = d.wait_for(lambda x: x.get("event") == "early-kill", (cap // MiB) / GROW_MIB_S + 30)
                t["early_kill"] = round(time.monotonic() - t0, 1)
                rec["grower_after_kb"] = status_kb(grower.pid) if grower.poll() is None else None
                rec["meminfo_after_kb"] = meminfo_kb()
                if got is not None:
                    rec["early_kill"] = got[1]
                    target = next((hp for hp in sb.procs if hp.pid == got[1].get("pid")), None)
                    if target is not None:
                        target.reap(15)
                # stop the growth (ours, not the daemon's doing), then let the daemon settle
                grower.kill()
                grower.wait()
                time.sleep(2.0)
            finally:
                rec["daemon_rc"] = d.stop()
                rec["daemon_lines"] = [x for _, x in d.lines]
                rec["daemon_raw_tail"] = "".join(d.raw)[-4000:]
        ctx.cur.poll()
        rec["died"] = {hp.name: hp.returncode for hp in sb.procs if hp.returncode is not None}
        rec["grower_rc"] = grower.returncode
        if "marker" in rec:
            rec["killed_pids"] = kills_after(ctx.cur, rec["marker"])
            rec["log"] = log_after(ctx.cur, rec["marker"])
    finally:
        if grower.poll() is None:
            grower.kill()
            grower.wait()
        for f in (grower.stdin, grower.stdout, grower.stderr):
            if f is not None:
                f.close()
    t["done"] = round(time.monotonic() - t0, 1)
    return rec


# ------------------------------------------------------------------------------------------ machine set-up

def _sh(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")


def zram_setup(ctx: Ctx) -> None:
    """zram0: swap; zram1: an ext4 disk for file-backed holders (page cache of a real block device)."""
    if ctx.swap_on:
        return
    _sh("modprobe", "zram", "num_devices=2")
    write_text("/sys/block/zram0/disksize", f"{SWAP_MIB}M")
    _sh("mkswap", "/dev/zram0")
    _sh("swapon", "/dev/zram0")
    write_text("/sys/block/zram1/disksize", f"{DISK_MIB}M")
    _sh("mkfs.ext4", "-q", "/dev/zram1")
    os.makedirs(DISK_DIR, exist_ok=True)
    _sh("mount", "/dev/zram1", DISK_DIR)
    ctx.swap_on, ctx.disk = True, DISK_DIR


def run_selftest(ctx: Ctx) -> dict[str, Any]:
    """``oomlens selftest`` on this kernel's cgroup v2, with the builtins the cases above do not repeat."""
    os.environ["OOMLENS_SELFTEST_FILE_DIR"] = ctx.disk or ""
    names = ["adj-beats-larger", "file-counts", "adj1000-tiny", "allocator-itself"]
    rc, out, err = oomlens("selftest", "--json", *[a for n in names for a in ("--scenario", n)])
    rec: dict[str, Any] = {"rc": rc, "stderr": err[-4000:], "names": names}
    try:
        rec["json"] = json.loads(out)
    except ValueError:
        rec["stdout"] = out[-4000:]
        return rec
    rec["postmortem"] = [postmortem_json(r["report"] + "\n") for r in rec["json"].get("results", [])]
    return rec


class _Outcomes:
    """A pytest plugin that records each test's outcome."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}
        self.failures: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.outcomes[report.nodeid] = report.outcome
            if report.outcome == "failed":
                self.failures[report.nodeid] = str(report.longrepr)[-3000:]


def run_capability_tests() -> dict[str, Any]:
    """The ``vm``-marked tests meant to run where root has every capability (tests/vm/test_protect_*.py),
    run here in the guest with pytest."""
    import glob

    import pytest

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    files = sorted(glob.glob(os.path.join(repo, "tests", "vm", "test_protect_*.py")))
    plugin = _Outcomes()
    write_text("/proc/self/oom_score_adj", "0")     # the processes these tests start must not inherit -1000
    try:
        rc = pytest.main(["-q", "-m", "vm", "-p", "no:cacheprovider", "--rootdir", repo, *files], plugins=[plugin])
    finally:
        write_text("/proc/self/oom_score_adj", "-1000")
    return {"rc": int(rc), "files": files, "outcomes": plugin.outcomes, "failures": plugin.failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="*", default=None, help=f"scenario names (and/or 'selftest', 'capabilities', '{EARLY_KILL}')")
    opts = ap.parse_args(argv)
    write_text("/proc/self/oom_score_adj", "-1000")
    oomlens("--help")       # import the CLI now, then lock this process's code in memory
    _pin_self()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    out: dict[str, Any] = {"release": os.uname().release, "page_size": PAGE_SIZE, "started": time.time(),
                           "meminfo_kb": meminfo_kb(), "cases": {}, "done": False}
    ctx = Ctx(KmsgCursor(tag="oomlens-vm"), out)

    def save() -> None:
        tmp = opts.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1, default=str)
        os.replace(tmp, opts.out)

    save()
    wanted = set(opts.only) if opts.only else None
    if wanted is None or EARLY_KILL in wanted:        # first: no swap yet, and no OOM before it
        t0 = time.monotonic()
        try:
            out["early_kill"] = run_early_kill(ctx)
        except Exception:
            out["early_kill"] = {"error": traceback.format_exc()}
        out["early_kill"]["elapsed"] = round(time.monotonic() - t0, 1)
        print(f"oomlens-vm: {EARLY_KILL}: {out['early_kill'].get('error', '').strip().splitlines()[-1:] or 'done'} "
              f"({out['early_kill']['elapsed']} s)", flush=True)
        save()
    for case in CASES:
        if wanted is not None and case.name not in wanted:
            continue
        t0 = time.monotonic()
        entry: dict[str, Any] = {"kind": case.kind, "expected": case.expected, "group": list(case.group),
                                 "notes": case.notes}
        try:
            if case.swap:
                zram_setup(ctx)
            entry.update(run_memcg(case, ctx) if case.kind == "memcg" else run_global(case, ctx))
        except Exception:
            entry["error"] = traceback.format_exc()
        entry["elapsed"] = round(time.monotonic() - t0, 1)
        out["cases"][case.name] = entry
        print(f"oomlens-vm: {case.name}: {entry.get('error', '').strip().splitlines()[-1:] or 'done'} "
              f"({entry['elapsed']} s)", flush=True)
        save()
    if wanted is None or "selftest" in wanted:
        t0 = time.monotonic()
        try:
            zram_setup(ctx)
            out["selftest"] = run_selftest(ctx)
        except Exception:
            out["selftest"] = {"error": traceback.format_exc()}
        out["selftest"]["elapsed"] = round(time.monotonic() - t0, 1)
        save()
    if wanted is None or "capabilities" in wanted:
        t0 = time.monotonic()
        try:
            out["capability_tests"] = run_capability_tests()
        except Exception:
            out["capability_tests"] = {"error": traceback.format_exc()}
        out["capability_tests"]["elapsed"] = round(time.monotonic() - t0, 1)
        save()
    # the whole boot's kernel log, every OOM in it, judged at once (previous victims are not candidates)
    try:
        dmesg = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=60, check=True).stdout
        out["whole_log"] = postmortem_json(dmesg)
    except Exception:
        out["whole_log"] = {"error": traceback.format_exc()}
    out["done"] = True
    out["elapsed"] = round(time.time() - out["started"], 1)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
