"""The daemon against the real kernel, in throwaway memcgs:

* a kernel OOM kill while the daemon runs: its `kernel-oom-kill` alert names the kernel's victim with the
  verdict `agrees`, less than a second after the kill line reached the kernel log;
* early action: processes grow in a memcg the daemon watches with `kill = true`; the daemon kills the
  model's victim (never the protected process) before the kernel does: no OOM report for that memcg.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from oomlens.selftest.harness import Holder, MemcgSandbox, provoke
from oomlens.sources.kernellog import KmsgCursor

from .daemon_proc import DaemonProc

pytestmark = pytest.mark.oracle

MiB = 1 << 20


def _config(domain: str, **extra: str) -> str:
    action = extra.pop("action", "")
    policy = extra.pop("policy", "")
    return (f'interval = "1s"\nscan_interval = "5s"\n{policy}\n[exporter]\nlisten = ""\n'
            f'[[domain]]\npath = "{domain}"\nwarn_below = "{extra.get("warn", "10%")}"\n'
            f'kill_below = "{extra.get("kill", "2%")}"\n{action}')


def test_kernel_oom_alert_names_the_victim_within_a_second(memcg_oracle: str, tmp_path) -> None:
    with MemcgSandbox() as sb:
        sb.spawn([Holder("big", anon_mib=24), Holder("small", anon_mib=4)])
        with DaemonProc(_config(sb.path), tmp_path) as d:
            assert d.wait_for(lambda x: x.get("msg") == "watching", 20), "".join(d.raw)
            with KmsgCursor(start="end") as cur:
                res = provoke(sb)
                cur.poll()
                kill = [r for r in cur.records if f"Killed process {res.victim_pid} " in r.message]
            got = d.wait_for(lambda x: x.get("event") == "kernel-oom-kill" and x.get("pid") == res.victim_pid, 5)
            assert got is not None, f"no alert for the kernel's victim {res.victim_pid}:\n" + "".join(d.raw)
            t_alert, alert = got
            assert res.victim_name == "big"
            assert alert["comm"] == "big"
            assert alert["verdict"] == "agrees", alert
            assert alert["domain"] == sb.kernel_path
            assert alert["model_victim"] == res.victim_pid
            assert kill, "the kill line is not in the kernel log"
            # kernel log timestamps are local_clock(), within milliseconds of CLOCK_MONOTONIC (time.monotonic)
            lag = t_alert - kill[0].usec / 1e6
            print(f"alert {lag:.3f}s after the kill line")
            assert lag < 1.0, (lag, alert)


GROWER = r"""
import os, sys, time, mmap
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
import ctypes
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)
step, every, cap = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
held = []
print("ready", flush=True)
while sum(len(m) for m in held) < cap:
    m = mmap.mmap(-1, step)
    for i in range(0, step, 4096):
        m[i] = 1
    held.append(m)
    time.sleep(every)
time.sleep(3600)
"""


def _grower(sb: MemcgSandbox, name: str, step_mib: float, every: float, cap_mib: float) -> subprocess.Popen:
    procs = os.path.join(sb.path, "cgroup.procs")
    p = subprocess.Popen([sys.executable, "-I", "-S", "-c",
                          "import sys; open(sys.argv[1], 'w').write('0')\n" + GROWER, procs, name,
                          str(int(step_mib * MiB)), str(every), str(int(cap_mib * MiB))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    return p


def test_early_kill_beats_the_kernel_and_spares_the_protected(memcg_oracle: str, tmp_path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\nname = "precious"\nmatch = { comm = "precious" }\nintent = "protect"\n')
    with MemcgSandbox() as sb:
        # the protected process is the biggest: the kernel would kill it first; the daemon must not
        precious, _ = sb.spawn([Holder("precious", anon_mib=50), Holder("bystander", anon_mib=3)])
        sb.set_limit(128 * MiB)
        cfg = _config(sb.path, warn="40%", kill="30%", policy=f'policy = "{policy}"',
                      action='[action]\nkill = true\ngrace = "1s"\n')
        hog = None
        with KmsgCursor(start="end") as cur, DaemonProc(cfg, tmp_path) as d:
            try:
                watching = d.wait_for(lambda x: x.get("msg") == "watching", 20)
                assert watching is not None, "".join(d.raw)
                assert watching[1]["victim"] == precious.pid, "scenario: the model's victim should be the protected one"
                hog = _grower(sb, "hog", 1.0, 0.05, 200)   # 20 MiB/s: would reach the limit in ~4 s
                got = d.wait_for(lambda x: x.get("event") == "early-kill", 20)
                assert got is not None, "no early kill:\n" + "".join(d.raw)
                alert = got[1]
                assert alert["pid"] == hog.pid and alert["comm"] == "hog", alert
                hog.wait(10)
                assert hog.returncode in (-15, -9)
                time.sleep(1.5)
                cur.poll()
                text = "\n".join(r.message for r in cur.records)
                assert sb.kernel_path not in text, "the kernel logged an OOM report for the memcg:\n" + text[-3000:]
                assert sb.oom_kill_count() == 0
                assert precious.returncode is None, "the protected process died"
                assert all(e["pid"] != precious.pid for e in d.events("early-kill"))
                assert d.events("protected-at-risk"), "the protected process at rank 1 was not alerted"
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
                    for f in (hog.stdout, hog.stderr):
                        if f is not None:
                            f.close()
