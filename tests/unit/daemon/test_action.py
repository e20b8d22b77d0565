"""The early kill's signalling, through ``sources.identity.ProcessIdentity``: a fake /proc describes a real child
process (same pid), so the identity checks read the fake files while the pidfd and the signals reach the real
process. A start time that changes between the choice and the pidfd (the pid was reused) is never signalled."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import proc_builders
import pytest
from proc_builders import FakeTask

from oomlens.analysis.ranking import Ranking, rank_tasks
from oomlens.daemon.action import EarlyKiller
from oomlens.daemon.alerts import AlertSink
from oomlens.daemon.config import ActionConfig
from oomlens.daemon.state import Counters
from oomlens.kernel.types import MemInfo, Task
from oomlens.sources import identity as identity_mod
from oomlens.sources.procfs import ProcFS

pytestmark = pytest.mark.skipif(not hasattr(signal, "pidfd_send_signal"), reason="needs pidfds (Linux 5.3+)")

IGNORE_TERM = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); " \
              "time.sleep(300)"


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    p = subprocess.Popen([sys.executable, "-c", IGNORE_TERM], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline() == "ready\n"
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()


def _setup(tmp_path: Path, pid: int, *, grace: float = 1.0, use_pidfd: bool | None = True
           ) -> tuple[EarlyKiller, Ranking, io.StringIO, Clock, Path]:
    root = proc_builders.make_proc(tmp_path, [FakeTask(1, "init", uid=0),
                                              FakeTask(pid, "victim", starttime=5000, rss_anon_kb=900_000)])
    ranking = rank_tasks([Task(pid, "victim", rss_anon=225_000), Task(7, "small", rss_anon=1000)],
                         MemInfo(4_000_000), release="6.18.0", page_size=4096)
    assert ranking.victim is not None and ranking.victim.task.pid == pid
    out, clock = io.StringIO(), Clock()
    killer = EarlyKiller(ActionConfig(kill=True, grace=grace), AlertSink(stream=out), Counters(), clock,
                         ProcFS(str(root)), use_pidfd=use_pidfd)
    return killer, ranking, out, clock, root


def _events(out: io.StringIO, event: str) -> list[dict[str, object]]:
    return [x for x in map(json.loads, out.getvalue().splitlines()) if x.get("event") == event]


def _still_running(p: subprocess.Popen[str]) -> bool:
    try:
        p.wait(timeout=0.3)
    except subprocess.TimeoutExpired:
        return True
    return False


def test_sigterm_then_sigkill_after_grace_through_the_pidfd(tmp_path, child) -> None:  # type: ignore[no-untyped-def]
    killer, ranking, out, clock, _ = _setup(tmp_path, child.pid)
    assert killer.act("global", ranking, {}, 1000)
    (ev,) = _events(out, "early-kill")
    assert (ev["pid"], ev["comm"], ev["verdict"]) == (child.pid, "victim", "SIGTERM")
    assert killer.busy("global") and killer.pending["global"].proc.pidfd is not None
    assert _still_running(child)                 # it ignores SIGTERM
    assert killer.tick()                         # grace not over: nothing more
    assert _still_running(child)
    clock.t += 1.0
    killer.tick()                                # grace over: SIGKILL through the same pidfd
    assert child.wait(timeout=10) == -signal.SIGKILL
    assert not killer.tick() and not killer.busy("global")   # exited: forgotten, pidfd closed
    assert killer.counters.copy()[1] == {("global", "victim"): 1}


def test_pid_reused_before_the_pidfd_is_opened_is_not_signalled(tmp_path, child, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    killer, ranking, out, _, root = _setup(tmp_path, child.pid, grace=0)
    real_open = identity_mod.os.pidfd_open

    def reuse_then_open(pid: int, *a: int) -> int:
        # the chosen process exits and another takes its pid (new start time, same comm) just before the pidfd
        (root / str(pid) / "stat").write_bytes(proc_builders.stat_bytes(FakeTask(pid, "victim", starttime=9000)))
        return real_open(pid, *a)

    monkeypatch.setattr(identity_mod.os, "pidfd_open", reuse_then_open)
    assert not killer.act("global", ranking, {}, 1000)
    assert _still_running(child)
    assert _events(out, "early-kill") == [] and not killer.busy("global")
    assert "now belongs to another process" in out.getvalue()
    assert killer.counters.copy()[1] == {}


def test_unchanged_identity_is_killed_at_once_with_grace_zero(tmp_path, child) -> None:  # type: ignore[no-untyped-def]
    killer, ranking, out, _, _ = _setup(tmp_path, child.pid, grace=0)
    assert killer.act("global", ranking, {}, 1000)
    assert child.wait(timeout=10) == -signal.SIGKILL
    assert [e["verdict"] for e in _events(out, "early-kill")] == ["SIGKILL"]


def test_comm_changed_since_the_scan_is_not_signalled(tmp_path, child) -> None:  # type: ignore[no-untyped-def]
    killer, ranking, out, _, root = _setup(tmp_path, child.pid, grace=0)
    (root / str(child.pid) / "stat").write_bytes(proc_builders.stat_bytes(FakeTask(child.pid, "other", starttime=5000)))
    assert not killer.act("global", ranking, {}, 1000)
    assert _still_running(child) and _events(out, "early-kill") == []


def test_without_pidfds_nothing_is_signalled(tmp_path, child) -> None:  # type: ignore[no-untyped-def]
    # a /proc that is not the live one gives no pidfds by default: its pids are not ours to signal
    killer, ranking, out, _, _ = _setup(tmp_path, child.pid, grace=0, use_pidfd=None)
    assert not killer.use_pidfd
    assert not killer.act("global", ranking, {}, 1000)
    assert _still_running(child)
    assert [e["verdict"] for e in _events(out, "early-kill")] == ["unsupported"]


def test_a_process_gone_before_the_pidfd_is_skipped(tmp_path, child) -> None:  # type: ignore[no-untyped-def]
    killer, ranking, out, _, _ = _setup(tmp_path, child.pid, grace=0)
    child.kill()
    child.wait()
    assert not killer.act("global", ranking, {}, 1000)
    assert _events(out, "early-kill") == [] and not killer.busy("global")
