"""ProcFS / CgroupFS / snapshots against this machine's real /proc and memory cgroups.

Only errors that match reality are accepted: NoSuchProcess for a pid that is really gone, AccessDenied
for one that is really unreadable. The cgroup test makes a throwaway memcg with one sleeping child of
ours and always removes both.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from oomlens.errors import AccessDenied, NoSuchProcess
from oomlens.kernel.snapshot import Snapshot
from oomlens.sources.cgroupfs import CgroupFS
from oomlens.sources.identity import ProcessIdentity
from oomlens.sources.live import take_snapshot
from oomlens.sources.procfs import PF_EXITING, PF_KTHREAD, PROC_PID_INIT_INO, ProcFS, parse_stat

pytestmark = pytest.mark.live

MEMCG_ROOT = "/sys/fs/cgroup/memory"


def test_every_process_reads_sanely() -> None:
    p = ProcFS()
    tasks = list(p.iter_tasks(with_stat=True))
    assert len(tasks) >= 2
    assert p.last_scan.read == len(tasks)
    for pid in p.last_scan.unreadable_pids:  # only acceptable if really unreadable now
        with pytest.raises((AccessDenied, NoSuchProcess)):
            p.read_task(pid)
    for t in tasks:
        assert t.pid > 0 and t.tgid == t.pid
        assert -1000 <= t.oom_score_adj <= 1000
        assert min(t.rss_anon, t.rss_file, t.rss_shmem, t.swapents, t.pgtables_bytes, t.total_vm) >= 0
        assert t.num_threads >= 1 and t.state
        try:
            stat = parse_stat(Path(f"/proc/{t.pid}/stat").read_bytes())
        except FileNotFoundError:
            continue  # exited since
        assert t.is_kthread == bool(int(stat["flags"]) & PF_KTHREAD)
        if t.is_kthread:
            assert not t.has_mm and t.rss == 0
        if t.state != "Z" and not t.is_kthread and not int(stat["flags"]) & PF_EXITING:
            assert t.has_mm  # an exiting task drops its mm before it becomes a zombie (exit_mm)


def test_pid1_is_global_init_here() -> None:
    # /proc/1/ns/pid needs ptrace access to pid 1, which this root may lack; our own link does not
    if os.readlink("/proc/self/ns/pid") != f"pid:[{PROC_PID_INIT_INO}]":
        pytest.skip("we run in a non-initial pid namespace")
    assert ProcFS().read_task(1).is_global_init


def test_own_process() -> None:
    p = ProcFS()
    me = p.read_task(os.getpid(), with_stat=True)
    assert me.has_mm and me.rss_anon > 0 and me.pgtables_bytes > 0 and me.total_vm > me.rss
    assert me.ppid == os.getppid() and me.uid == os.getuid()
    assert me.name == Path("/proc/self/comm").read_text().rstrip("\n")
    assert 0 < me.start_time_s <= p.read_uptime()
    assert 0 <= p.read_oom_score(os.getpid()) <= 2000
    assert p.read_oom_score_adj(os.getpid()) == me.oom_score_adj


def test_system_files() -> None:
    p = ProcFS()
    mi = p.read_meminfo()
    memtotal_kb = int(Path("/proc/meminfo").read_text().split()[1])
    assert mi.totalram_pages == memtotal_kb * 1024 // os.sysconf("SC_PAGE_SIZE")
    assert mi.page_size == os.sysconf("SC_PAGE_SIZE")
    assert all(n >= 0 for n in mi.node_present_pages)
    s = p.read_sysctls()
    assert s.panic_on_oom in (0, 1, 2) and 0 <= s.swappiness <= 200
    assert p.kernel_release() == os.uname().release
    assert p.read_cgroup_of(os.getpid()).memcg is not None


def test_zombie_child() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        p = ProcFS()
        for _ in range(200):
            t = p.read_task(pid)
            if t.state == "Z":
                break
            time.sleep(0.01)
        assert t.state == "Z" and not t.has_mm
        assert pid in {x.pid for x in p.iter_tasks()}
    finally:
        os.waitpid(pid, 0)
    with pytest.raises(NoSuchProcess):
        ProcFS().read_task(pid)


def test_live_snapshot_roundtrip() -> None:
    snap = take_snapshot(with_oom_scores=True)
    assert Snapshot.from_json(snap.to_json()) == snap
    assert os.getpid() in {t.pid for t in snap.tasks}
    starts = [t.start_time_s for t in snap.tasks]
    assert snap.scan_order == "pid" or starts == sorted(starts)


def test_pidfs_ids_follow_creation_order() -> None:
    p = ProcFS()
    if not p.has_pidfs_ids():
        pytest.skip("no pidfs inode numbers here (Linux < 6.9, or pidfd_open unavailable)")
    children = [subprocess.Popen(["sleep", "30"]) for _ in range(3)]
    try:
        ids = [p.pidfs_id(c.pid) for c in children]
        assert ids == sorted(set(ids)) and p.pidfs_id(os.getpid()) < ids[0]
    finally:
        for c in children:
            c.kill()
            c.wait()
    # every process: in pidfs order, start times never go back (both are taken at fork)
    numbers: dict[int, int] = {}
    tasks = list(p.iter_tasks(with_stat=True, pidfs_ids=numbers))
    starts = [t.start_time_s for t in sorted(tasks, key=lambda t: numbers[t.pid])]
    assert len(starts) >= 10 and starts == sorted(starts)


def _memcg_writable() -> bool:
    return os.geteuid() == 0 and os.access(MEMCG_ROOT, os.W_OK) and os.path.exists(f"{MEMCG_ROOT}/memory.limit_in_bytes")


@pytest.mark.skipif(not _memcg_writable(), reason="needs root and a writable cgroup-v1 memory hierarchy")
def test_throwaway_memcg() -> None:
    name = f"oomlens-procfs-test-{os.getpid()}"
    path = f"{MEMCG_ROOT}/{name}"
    child = None
    os.mkdir(path)
    try:
        with open(f"{path}/memory.limit_in_bytes", "w") as f:
            f.write(str(64 << 20))
        child = subprocess.Popen(["sleep", "300"])
        with open(f"{path}/cgroup.procs", "w") as f:
            f.write(str(child.pid))
        procfs = ProcFS()
        cg = CgroupFS(procfs=procfs)
        assert cg.resolve(path) == cg.resolve(f"/{name}")
        limits = cg.limits(f"/{name}")
        assert limits.path == f"/{name}" and limits.version == 1
        assert limits.memory_max == (64 << 20) // procfs.page_size
        assert limits.usage is not None and limits.usage >= 0
        assert cg.member_pids(f"/{name}") == [(child.pid, f"/{name}")]
        assert procfs.read_cgroup_of(child.pid).v1_memory == f"/{name}"
        assert cg.memcg_of(child.pid).path == f"/{name}"
        procfs.write_oom_score_adj(ProcessIdentity.capture(child.pid, procfs), 500)  # our own child only
        assert procfs.read_oom_score_adj(child.pid) == 500
        snap = take_snapshot(procfs, cg, cgroup=f"/{name}")
        assert snap.cgroup is not None and snap.cgroup.memory_max == limits.memory_max
        assert snap.cgroup_pids == (child.pid,)
        assert snap.task(child.pid).memcg == f"/{name}"  # type: ignore[union-attr]
        assert snap.task(child.pid).oom_score_adj == 500  # type: ignore[union-attr]
    finally:
        if child is not None:
            child.kill()
            child.wait()
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
    assert not os.path.exists(path)


def test_parallel_scan_equals_one_reader_on_real_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked second reader on this host's /proc: the same Tasks and pidfs creation numbers as one reader."""
    import signal

    import oomlens.sources.procfs as procfs_mod

    if not procfs_mod.can_fork_a_helper():
        pytest.skip("one CPU, or this test process has other threads")
    readers: list[int] = []
    real_fork = os.fork

    kids = []
    for _ in range(40):
        pid = os.fork()
        if pid == 0:
            signal.pause()
            os._exit(0)
        kids.append(pid)
    try:
        p = ProcFS()
        if not p.has_pidfs_ids():
            pytest.skip("no pidfs inode numbers on this kernel")
        one_ids: dict[int, int] = {}
        p.parallel_min = 10**9
        one = list(p.iter_tasks(pids=kids, pidfs_ids=one_ids))
        two_ids: dict[int, int] = {}
        p.parallel_min = 2
        monkeypatch.setattr(os, "fork", lambda: readers.append(0) or real_fork())
        two = list(p.iter_tasks(pids=kids, pidfs_ids=two_ids))
        monkeypatch.undo()
        assert len(readers) == 1
        # the sleepers' memory and state may move between the two scans (copy-on-write faults after the fork):
        # compare what cannot change; tests/unit/procfs/test_parallel_scan.py compares every field on fixtures
        def ident(ts):  # type: ignore[no-untyped-def]
            return [(t.pid, t.tgid, t.ppid, t.uid, t.name, t.oom_score_adj, t.has_mm, t.is_kthread) for t in ts]

        assert len(one) == 40 and ident(two) == ident(one)
        assert all(t.rss_anon > 0 and t.rss_file > 0 for t in two)
        assert two_ids == one_ids and sorted(two_ids, key=two_ids.__getitem__) == kids  # forked in this order
        assert len(set(two_ids.values())) == 40
    finally:
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
        for pid in kids:
            os.waitpid(pid, 0)
