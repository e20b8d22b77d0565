"""ProcFS.iter_tasks with a forked second reader: the same Tasks, counters and order as one reader, and a
child that fails or is abandoned costs nothing but time."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import pytest
from proc_builders import FakeTask

import oomlens.sources.procfs as procfs_mod
from oomlens.kernel.types import UNKNOWN
from oomlens.sources.procfs import ScanStats


def _tasks(n: int) -> list[FakeTask]:
    # distinct values in every field the scan reads, so a record rebuilt with a field out of place differs
    return [FakeTask(pid=100 + i, name=f"t{i}", ppid=1 + i % 7, uid=i % 5, rss_anon_kb=4 * (i + 1),
                     rss_file_kb=8 * i, rss_shmem_kb=4 * (i % 3), swap_kb=4 * (i % 11), pte_kb=4 + i,
                     vmsize_kb=4096 + 4 * i, threads=1 + i % 4, capeff=(1 << 21) if i % 2 else 0,
                     adj=(i * 37) % 2001 - 1000, state="SRD"[i % 3])
            for i in range(n)]


@pytest.fixture
def forked(monkeypatch):  # type: ignore[no-untyped-def]
    """Count the forks of second readers (they happen whatever threads pytest has); afterwards this process's
    signal mask must be what it was (the fork is done with every signal blocked)."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    monkeypatch.setattr(procfs_mod, "can_fork_a_helper", lambda: True)
    forks: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(procfs_mod.os, "fork", fork)
    yield forks
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask


def _scan(p, **kw):  # type: ignore[no-untyped-def]
    stats = ScanStats()
    return list(p.iter_tasks(stats=stats, **kw)), stats


def test_same_tasks_and_counters_as_one_reader(procfs, forked) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(41))
    (Path(p.root) / "135" / "status").write_bytes(b"garbage")  # unreadable, in the child's half
    (Path(p.root) / "104" / "oom_score_adj").write_bytes(b"x")  # unreadable, in this process's half
    p.parallel_min = 10**9
    one, one_stats = _scan(p, legacy=True)
    assert not forked
    p.parallel_min = 2
    two, two_stats = _scan(p, legacy=True)
    assert len(forked) == 1
    assert len(one) == 39 and [t.pid for t in two] == [t.pid for t in one]
    assert two == one  # every field, the stat ones (legacy) included
    assert two[30].cap_sys_admin is True and two[30].oom_skip is UNKNOWN
    assert (two_stats.listed, two_stats.read, two_stats.unreadable, two_stats.vanished) == (41, 39, 2, 0)
    assert two_stats.unreadable_pids == [104, 135] == one_stats.unreadable_pids
    assert len(two_stats.errors) == 2


def test_vanished_in_the_childs_half_are_counted(procfs, forked, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(10))
    p.parallel_min = 2
    monkeypatch.setattr(p, "pids", lambda: [*range(100, 110), 120, 121])  # 120, 121 listed, gone before the read
    tasks, stats = _scan(p)
    assert [t.pid for t in tasks] == list(range(100, 110))
    assert (stats.listed, stats.read, stats.vanished, stats.unreadable) == (12, 10, 2, 0)
    assert len(forked) == 1


def test_a_failing_child_leaves_its_half_to_this_process(procfs, forked, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(20))
    p.parallel_min = 10**9
    expected, _ = _scan(p)
    p.parallel_min = 2

    def broken(task):  # type: ignore[no-untyped-def]
        raise RuntimeError("the child cannot encode")  # only the child encodes Tasks

    monkeypatch.setattr(procfs_mod, "_task_fields", broken)
    tasks, stats = _scan(p)
    assert len(forked) == 1
    assert tasks == expected
    assert (stats.listed, stats.read, stats.unreadable) == (20, 20, 0)  # the failed half is not counted twice


def test_no_fork_below_parallel_min_or_with_one_cpu(procfs, forked, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(8))
    p.parallel_min = 9
    _scan(p)
    assert not forked
    p.parallel_min = 8
    _scan(p)
    assert len(forked) == 1
    monkeypatch.setattr(procfs_mod, "can_fork_a_helper", lambda: False)
    _scan(p)
    assert len(forked) == 1


def test_fork_failure_reads_everything_here(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(12))
    p.parallel_min = 2
    monkeypatch.setattr(procfs_mod, "can_fork_a_helper", lambda: True)

    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(procfs_mod.os, "fork", no_fork)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    tasks, stats = _scan(p)
    assert [t.pid for t in tasks] == list(range(100, 112)) and stats.read == 12
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask  # signals unblocked again


def test_abandoned_scan_kills_and_reaps_the_child(procfs, forked) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(600))  # the child's records exceed a pipe's buffer: it blocks writing
    p.parallel_min = 2
    it = p.iter_tasks()
    assert next(it).pid == 100
    it.close()
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forked[0], os.WNOHANG)  # reaped: no zombie left behind


def test_signals_stay_unblocked_in_this_process(procfs, forked) -> None:  # type: ignore[no-untyped-def]
    p = procfs(_tasks(6))
    p.parallel_min = 2
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    _scan(p)
    assert len(forked) == 1
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


def test_can_fork_a_helper_only_single_threaded() -> None:
    import threading

    ev = threading.Event()
    t = threading.Thread(target=ev.wait)
    t.start()
    try:
        assert procfs_mod.can_fork_a_helper() is False
    finally:
        ev.set()
        t.join()


def test_parallel_false_never_forks(make_proc, forked) -> None:  # type: ignore[no-untyped-def]
    from oomlens.sources.procfs import ProcFS

    p = ProcFS(str(make_proc(_tasks(6))), parallel=False)
    assert len(list(p.iter_tasks())) == 6
    assert not forked


def test_the_daemon_scans_with_one_reader(tmp_path, make_proc, forked, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from oomlens.daemon.alerts import AlertSink
    from oomlens.daemon.config import parse_config
    from oomlens.daemon.loop import Daemon

    cfg = parse_config('[exporter]\nlisten = ""\n', str(tmp_path / "d.toml"))
    d = Daemon(cfg, alerts=AlertSink(stream=io.StringIO()), proc_root=str(make_proc(_tasks(8))),
               cgroup_root=str(tmp_path / "nocg"))
    monkeypatch.setattr(procfs_mod.ProcFS, "parallel_min", 2)  # any other ProcFS would fork for 8 processes
    assert len(list(d.procfs.iter_tasks())) == 8
    assert not forked
    list(procfs_mod.ProcFS(d.procfs.root).iter_tasks())
    assert len(forked) == 1


def test_interrupted_collect_leaves_no_child() -> None:
    """A KeyboardInterrupt while waiting for the helper kills and reaps it (it used to be left running, then a
    zombie)."""
    import time

    from oomlens.sources import forkhelper

    h = forkhelper.fork_helper(lambda: time.sleep(30))
    assert h is not None
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(KeyboardInterrupt):
            h.collect()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(ChildProcessError):
        os.waitpid(h.pid, os.WNOHANG)  # reaped
