"""The protection commands on real processes this test starts: `adj` raises (and reads back), lowering is
refused with exit 10 on this host (no CAP_SYS_RESOURCE), `run` execs with the value, and `policy apply
--watch` covers a matching process started after it within a second."""

from __future__ import annotations

import json
import os
import random
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.live
OOMLENS = [sys.executable, "-m", "oomlens"]


def _cap_sys_resource() -> bool:
    with open("/proc/self/status") as f:
        caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    return bool(caps >> 24 & 1)


def _adj(pid: int) -> int:
    with open(f"/proc/{pid}/oom_score_adj") as f:
        return int(f.read())


def test_adj_cli_raises_and_refuses_lowering(sleeper) -> None:  # type: ignore[no-untyped-def]
    r = subprocess.run([*OOMLENS, "adj", str(sleeper.pid), "400", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["before"], doc["oom_score_adj"], doc["comm"]) == (0, 400, "sleep") and _adj(sleeper.pid) == 400
    # legacy: oom_adj 10 -> 10*1000/17 = 588 (truncated), a raise
    r = subprocess.run([*OOMLENS, "adj", str(sleeper.pid), "10", "--legacy", "--json"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["oom_score_adj"] == 588 and _adj(sleeper.pid) == 588
    if _cap_sys_resource():
        pytest.skip("CAP_SYS_RESOURCE held: the refusal is tested in the VM (tests/vm) instead")
    r = subprocess.run([*OOMLENS, "adj", str(sleeper.pid), "-500"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 10 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and "CAP_SYS_RESOURCE" in lines[0] and lines[1].strip().startswith("hint:")
    assert "OOMScoreAdjust=" in lines[1]
    assert _adj(sleeper.pid) == 588  # nothing changed


def test_adj_cli_unknown_pid_and_bad_value() -> None:
    r = subprocess.run([*OOMLENS, "adj", "999999999"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "hint:" in r.stderr
    r = subprocess.run([*OOMLENS, "adj", str(os.getpid()), "1001"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2


def test_run_execs_with_the_value() -> None:
    r = subprocess.run([*OOMLENS, "run", "--adj", "321", "--", "sh", "-c", "cat /proc/self/oom_score_adj; sleep 0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "321\n"  # the child of the exec'd shell inherited it
    if not _cap_sys_resource():
        r = subprocess.run([*OOMLENS, "run", "--adj", "-321", "--", "true"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 10


def test_watch_covers_a_new_process_within_a_second(tmp_path: Path) -> None:
    token = f"{random.randrange(10**6, 10**7)}.{os.getpid()}"
    pol = tmp_path / "p.toml"
    pol.write_text(f'[[rule]]\nname = "late"\nmatch = {{ comm = "sleep", cmdline = "^sleep {token}$" }}\nintent = "prefer"\n')
    watcher = subprocess.Popen([*OOMLENS, "policy", "apply", str(pol), "--watch", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    late = None
    try:
        assert watcher.stderr is not None and watcher.stdout is not None
        deadline = time.monotonic() + 60
        while "watching" not in watcher.stderr.readline():
            assert time.monotonic() < deadline and watcher.poll() is None
        late = subprocess.Popen(["sleep", token])
        started = time.monotonic()
        sel = selectors.DefaultSelector()
        sel.register(watcher.stdout, selectors.EVENT_READ)
        event = None
        while time.monotonic() - started < 5 and event is None:
            if sel.select(timeout=0.1):
                doc = json.loads(watcher.stdout.readline())
                if doc["pid"] == late.pid:
                    event = doc
        elapsed = time.monotonic() - started
        assert event is not None, "the watcher never applied the rule"
        assert (event["status"], event["rule"], event["before"], event["after"]) == ("applied", "late", 0, 500)
        assert elapsed < 1.0, f"covered after {elapsed:.2f}s"
        assert _adj(late.pid) == 500
    finally:
        watcher.terminate()
        watcher.communicate(timeout=10)  # drains and closes the pipes
        if late is not None:
            late.kill()
            late.wait()
