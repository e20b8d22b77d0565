"""Scan order of a snapshot when pids have wrapped: pidfs inode numbers (Linux 6.9+) instead of stat
start times. On fake trees with wrapped pids and exact badness ties, the victim and the whole kill order
must equal those of a snapshot that read every start time."""

from __future__ import annotations

from pathlib import Path

import pytest
from proc_builders import FakeTask

import oomlens.sources.procfs as procfs_mod
from oomlens.analysis.ranking import rank
from oomlens.errors import NoSuchProcess, ProcessError
from oomlens.kernel.snapshot import Snapshot
from oomlens.sources.live import take_snapshot
from oomlens.sources.procfs import ProcFS

# Creation order (start ticks): 1, 2, 32700, 32750, 305, 310, 320, 330 -- pids wrapped after 32750.
# Every user task has the same memory, hence the same badness: only the scan order decides.
CREATED = [(1, 1), (2, 1), (32700, 100), (32750, 200), (305, 300), (310, 300), (320, 400), (330, 500)]


def _tree(make_proc, **kw):  # type: ignore[no-untyped-def]
    tasks = [FakeTask(pid=1, name="init", ppid=0, uid=0, starttime=1),
             FakeTask(pid=2, name="kthreadd", ppid=0, kthread=True, has_mm=False, starttime=1)]
    tasks += [FakeTask(pid=pid, name=f"w{pid}", ppid=1, starttime=start) for pid, start in CREATED[2:-1]]
    tasks.append(FakeTask(pid=330, name="bigger", ppid=1, starttime=500, rss_anon_kb=8192))
    return make_proc(tasks, forks=70000, **kw)  # forks > pid_max: pids have wrapped


class PidfsProcFS(ProcFS):
    """A fake tree with pidfs numbers: ``ids`` maps pid -> number, or -> an exception to raise."""

    def __init__(self, root: str, ids: dict[int, object]) -> None:
        super().__init__(root)
        self.ids = ids

    def has_pidfs_ids(self) -> bool:
        return True

    def pidfs_id(self, pid: int) -> int:
        got = self.ids[pid]
        if isinstance(got, Exception):
            raise got
        return got  # type: ignore[return-value]


def _ids() -> dict[int, object]:
    return {pid: 1000 + i for i, (pid, _) in enumerate(CREATED)}


def test_pidfs_order_equals_start_time_order(make_proc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = str(_tree(make_proc))
    full = take_snapshot(ProcFS(root), with_stat=True)
    assert full.scan_order == "start_time"

    reads: list[str] = []
    real = procfs_mod.ProcFS._read
    monkeypatch.setattr(procfs_mod.ProcFS, "_read", lambda self, pid, name: reads.append(name) or real(self, pid, name))
    snap = take_snapshot(PidfsProcFS(root, _ids()))
    assert "stat" not in reads  # no start time read
    assert snap.scan_order == "pidfs" and any("pidfs" in n for n in snap.notes)
    assert all(t.start_time_s == 0.0 for t in snap.tasks)

    assert [t.pid for t in snap.tasks] == [t.pid for t in full.tasks] == [pid for pid, _ in CREATED]
    a, b = rank(snap), rank(full)
    assert a.victim is not None and b.victim is not None
    assert a.victim.task.pid == b.victim.task.pid == 330
    assert [s.task.pid for s in a.tasks] == [s.task.pid for s in b.tasks] == [330, 320, 310, 305, 32750, 32700, 1, 2]
    assert a.tasks[1].points == a.tasks[2].points == a.tasks[5].points  # the tie the order decides
    assert {t.pid: t.children for t in snap.tasks} == {t.pid: t.children for t in full.tasks}
    # pid order would have ranked 32750 first among the tied tasks
    assert [s.task.pid for s in rank(take_snapshot(ProcFS(root), with_stat=False)).tasks][1] == 32750


@pytest.mark.parametrize("kernel", ["4.19", "3.10", "2.6.39", "5.4"])
def test_pidfs_order_equals_start_time_order_in_every_era(make_proc, kernel: str) -> None:  # type: ignore[no-untyped-def]
    root = str(_tree(make_proc))
    a = rank(take_snapshot(PidfsProcFS(root, _ids())), kernel=kernel)
    b = rank(take_snapshot(ProcFS(root), with_stat=True), kernel=kernel)
    assert [(s.task.pid, s.rank) for s in a.tasks] == [(s.task.pid, s.rank) for s in b.tasks]
    assert (a.victim and a.victim.task.pid) == (b.victim and b.victim.task.pid)


def test_pidfs_not_used_when_pids_never_wrapped_or_stat_wanted(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = str(make_proc([FakeTask(pid=5, starttime=9), FakeTask(pid=9, starttime=10)], forks=400))
    assert take_snapshot(PidfsProcFS(root, {5: 2, 9: 1})).scan_order == "pid"
    wrapped = str(_tree(make_proc, name="p2"))
    assert take_snapshot(PidfsProcFS(wrapped, _ids()), with_stat=True).scan_order == "start_time"
    assert take_snapshot(PidfsProcFS(wrapped, _ids()), legacy=True).scan_order == "start_time"


def test_pidfd_failures_count_like_read_failures(make_proc) -> None:  # type: ignore[no-untyped-def]
    ids = _ids()
    ids[305] = NoSuchProcess(305)  # exited after its files were read
    ids[310] = ProcessError(310, None, "cannot access pidfd of 310: Too many open files")
    p = PidfsProcFS(str(_tree(make_proc)), ids)
    snap = take_snapshot(p)
    assert 305 not in {t.pid for t in snap.tasks} and 310 not in {t.pid for t in snap.tasks}
    assert p.last_scan.vanished == 1 and p.last_scan.unreadable_pids == [310] and snap.unreadable == 1
    assert [t.pid for t in snap.tasks] == [1, 2, 32700, 32750, 320, 330]


def test_fixture_trees_have_no_pidfs_ids(make_proc) -> None:  # type: ignore[no-untyped-def]
    assert ProcFS(str(_tree(make_proc))).has_pidfs_ids() is False


def test_scan_order_pidfs_roundtrips(make_proc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snap = take_snapshot(PidfsProcFS(str(_tree(make_proc)), _ids()))
    assert Snapshot.from_json(snap.to_json()) == snap
