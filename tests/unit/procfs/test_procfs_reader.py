"""ProcFS over fake /proc trees: Task fields, races, error translation, system files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from proc_builders import OTHER_PID_NS, FakeTask, add_task, status_bytes

import oomlens.sources.procfs as procfs_mod
from oomlens.errors import AccessDenied, AdjustError, NoSuchProcess, ProcParseError
from oomlens.kernel.types import UNKNOWN, MemInfo, VmSysctls
from oomlens.sources.identity import ProcessIdentity
from oomlens.sources.procfs import PF_EXITING, PF_KTHREAD, ProcFS, ScanStats

CAP_ADMIN_RESOURCE = (1 << 21) | (1 << 24)


def test_task_fields_converted_once_to_pages(procfs) -> None:  # type: ignore[no-untyped-def]
    t = FakeTask(pid=100, name="worker", ppid=42, uid=1001, rss_anon_kb=8192, rss_file_kb=4100, rss_shmem_kb=12,
                 swap_kb=2048, pte_kb=76, vmsize_kb=123456, threads=4, capeff=CAP_ADMIN_RESOURCE, adj=250)
    task = procfs([t]).read_task(100)
    assert (task.pid, task.name, task.uid, task.tgid, task.ppid) == (100, "worker", 1001, 100, 42)
    assert task.oom_score_adj == 250
    assert (task.rss_anon, task.rss_file, task.rss_shmem) == (2048, 1025, 3)
    assert task.swapents == 512
    assert task.pgtables_bytes == 76 * 1024
    assert task.total_vm == 123456 // 4
    assert task.has_mm and task.rss_split_known
    assert not task.is_kthread and not task.is_global_init and not task.exiting
    assert (task.cap_sys_admin, task.cap_sys_resource, task.cap_sys_rawio) == (True, True, False)
    assert task.num_threads == 4 and task.state == "S"
    assert task.children == ()
    assert task.oom_skip is UNKNOWN and task.in_vfork is UNKNOWN and task.oom_origin is UNKNOWN


def test_page_size_from_meta(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=10, rss_anon_kb=640, pte_kb=64)], page_size=65536)
    t = p.read_task(10)
    assert p.page_size == 65536
    assert t.rss_anon == 10 and t.pgtables_bytes == 65536
    assert p.read_meminfo().totalram_pages == 24684092 // 64


@pytest.mark.parametrize("name", ["a) Z b", "x\ny", "", "back\\slash"])
def test_hostile_names(procfs, name: str) -> None:  # type: ignore[no-untyped-def]
    task = procfs([FakeTask(pid=7, name=name)]).read_task(7)
    assert task.name == name


def test_zombie_has_no_mm(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=50, name="defunct", state="Z", has_mm=False)])
    task = p.read_task(50)
    assert task.state == "Z" and not task.has_mm
    assert task.rss == 0 and task.swapents == 0 and task.pgtables_bytes == 0
    assert [t.pid for t in p.iter_tasks()] == [50]


def test_zombie_leader_with_live_thread_uses_thread_mm(procfs) -> None:  # type: ignore[no-untyped-def]
    """find_lock_task_mm(): the mm is found through any live thread of the group."""
    live = status_bytes(FakeTask(pid=61, name="thr", state="R", rss_anon_kb=40960, threads=2))
    p = procfs([FakeTask(pid=60, name="leader", state="Z", has_mm=False, threads=2, thread_status={61: live})])
    task = p.read_task(60)
    assert task.has_mm and task.rss_anon == 10240
    assert task.name == "leader" and task.state == "Z" and task.pid == 60


def test_kernel_thread(procfs) -> None:  # type: ignore[no-untyped-def]
    task = procfs([FakeTask(pid=2, name="kthreadd", ppid=0, kthread=True, has_mm=False, flags=PF_KTHREAD)]).read_task(2)
    assert task.is_kthread and not task.has_mm and not task.is_global_init


def test_kthread_from_stat_flags_when_status_lacks_kthread_line(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=3, kthread=None, has_mm=False, flags=PF_KTHREAD | 0x40, starttime=2),
                FakeTask(pid=4, kthread=None, flags=0x400000 | PF_EXITING, starttime=250)])
    k, u = p.read_task(3), p.read_task(4)
    assert k.is_kthread and not u.is_kthread
    assert u.exiting and u.start_time_s == 2.5  # stat was read (clk_tck 100)


def test_stat_not_read_when_status_has_kthread(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=5, flags=PF_EXITING, starttime=999)])
    opened: list[str] = []
    real = procfs_mod._read_bytes
    monkeypatch.setattr(procfs_mod, "_read_bytes", lambda path: (opened.append(path), real(path))[1])
    t = p.read_task(5)
    assert [os.path.basename(x) for x in opened] == ["status", "oom_score_adj"]
    assert not t.exiting and t.start_time_s == 0.0
    opened.clear()
    t = p.read_task(5, with_stat=True)
    assert [os.path.basename(x) for x in opened] == ["status", "oom_score_adj", "stat"]
    assert t.exiting and t.start_time_s == 9.99


def test_legacy_reads_times_nice(procfs) -> None:  # type: ignore[no-untyped-def]
    t = procfs([FakeTask(pid=8, utime=120, stime=30, nice=5, starttime=4200)]).read_task(8, legacy=True)
    assert (t.utime_ticks, t.stime_ticks, t.nice, t.start_time_s) == (120, 30, 5, 42.0)


def test_global_init_vs_container_init(procfs, make_proc) -> None:  # type: ignore[no-untyped-def]
    init = FakeTask(pid=1, name="systemd", ppid=0, uid=0)
    assert procfs([init]).read_task(1).is_global_init
    # /proc of a container: its pid 1 lives in another pid namespace and IS an OOM candidate
    assert not procfs([init], init_ns=OTHER_PID_NS, name="ct").read_task(1).is_global_init
    # NSpid with more than one entry: pid 1 of a nested namespace
    nested = FakeTask(pid=1, name="tini", ppid=0, nspid=(1, 1))
    assert not procfs([nested], init_ns=None, name="nested").read_task(1).is_global_init
    # a container's init seen from the host has its host pid: not pid 1
    seen_from_host = FakeTask(pid=4242, name="tini", nspid=(4242, 1))
    assert not procfs([seen_from_host], name="host").read_task(4242).is_global_init


@pytest.mark.parametrize("adj", [-1000, 0, 1000])
def test_oom_score_adj_extremes(procfs, adj: int) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=11, adj=adj)])
    assert p.read_task(11).oom_score_adj == adj
    assert p.read_oom_score_adj(11) == adj


def test_swap_only_usage(procfs) -> None:  # type: ignore[no-untyped-def]
    t = procfs([FakeTask(pid=12, rss_anon_kb=0, rss_file_kb=0, rss_shmem_kb=0, swap_kb=1048576)]).read_task(12)
    assert t.has_mm and t.rss == 0 and t.swapents == 262144


def test_pre_4_5_status_without_rss_split(procfs) -> None:  # type: ignore[no-untyped-def]
    t = procfs([FakeTask(pid=13, rss_split=False, rss_anon_kb=400, rss_file_kb=400, rss_shmem_kb=0)]).read_task(13)
    assert t.rss_anon == 200 and t.rss_file == 0 and not t.rss_split_known


def test_read_oom_score_and_write_adj(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=14, oom_score=700, adj=100)])
    assert p.read_oom_score(14) == 700
    ident = ProcessIdentity.capture(14, p)
    assert ident.pidfd is None  # a fake tree: its pids are not this system's
    w = p.write_oom_score_adj(ident, -500)
    assert (w.pid, w.before, w.after, w.changed) == (14, 100, -500, True)
    assert p.read_oom_score_adj(14) == -500
    for bad in (1001, -1001, True, "5"):
        with pytest.raises(AdjustError):
            p.write_oom_score_adj(ident, bad)  # type: ignore[arg-type]
    assert p.read_oom_score_adj(14) == -500


def test_missing_process_raises_never_zero(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=15)])
    for call in (p.read_task, p.read_oom_score, p.read_oom_score_adj, p.read_cgroup_of):
        with pytest.raises(NoSuchProcess) as ei:
            call(16)
        assert ei.value.pid == 16


def test_file_missing_but_pid_present_is_parse_error(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=17)])
    os.unlink(Path(p.root) / "17" / "oom_score_adj")
    with pytest.raises(ProcParseError) as ei:
        p.read_task(17)
    assert "oom_score_adj" in str(ei.value)


def deny_reads(monkeypatch, pid: int) -> None:  # type: ignore[no-untyped-def]
    """Make every file of ``pid`` raise PermissionError (root bypasses chmod, so fake it)."""
    real = procfs_mod._read_bytes

    def deny(path: str) -> bytes:
        if f"/{pid}/" in path:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(procfs_mod, "_read_bytes", deny)


def test_permission_error_becomes_access_denied(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=18)])
    deny_reads(monkeypatch, 18)
    with pytest.raises(AccessDenied) as ei:
        p.read_task(18)
    assert ei.value.pid == 18


def test_esrch_after_exit_becomes_no_such_process(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=19)])
    real = procfs_mod._read_bytes

    def dying(path: str) -> bytes:
        if path.endswith("/19/oom_score_adj"):
            shutil.rmtree(Path(p.root) / "19")
            raise ProcessLookupError(3, "No such process")
        return real(path)

    monkeypatch.setattr(procfs_mod, "_read_bytes", dying)
    with pytest.raises(NoSuchProcess):
        p.read_task(19)


@pytest.mark.parametrize("status", [
    b"",
    b"State:\tS (sleeping)\n",
    b"Name:\tx\nState:\tS (sleeping)\nTgid:\t1\n",  # no PPid/Uid/Threads
    b"Name:\tx\nState:\tS\nPPid:\tone\nUid:\t0\t0\t0\t0\nThreads:\t1\n",
    b"Name:\tx\nState:\tS\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmSize:\t  100 kB\nThreads:\t1\n",  # Vm without Rss/PTE
])
def test_malformed_status_is_parse_error(procfs, status: bytes) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=20)])
    (Path(p.root) / "20" / "status").write_bytes(status)
    with pytest.raises(ProcParseError) as ei:
        p.read_task(20)
    assert ei.value.path.endswith("/20/status")


def test_iter_tasks_skips_vanished_silently(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=i) for i in (30, 31, 32)])
    monkeypatch.setattr(p, "pids", lambda: [30, 31, 32, 33])  # 33 listed, gone before the read
    real = procfs_mod._read_bytes

    def racy(path: str) -> bytes:
        data = real(path)
        if path.endswith("/31/status"):  # 31 exits between its status and oom_score_adj reads
            shutil.rmtree(Path(p.root) / "31")
        return data

    monkeypatch.setattr(procfs_mod, "_read_bytes", racy)
    stats = ScanStats()
    assert [t.pid for t in p.iter_tasks(stats=stats)] == [30, 32]
    assert (stats.listed, stats.read, stats.vanished, stats.unreadable) == (4, 2, 2, 0)
    assert p.last_scan is stats


def test_iter_tasks_counts_unreadable(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=i) for i in (40, 41, 42, 43)])
    (Path(p.root) / "43" / "status").write_bytes(b"garbage")
    deny_reads(monkeypatch, 41)
    assert [t.pid for t in p.iter_tasks()] == [40, 42]
    assert p.last_scan.unreadable == 2
    assert p.last_scan.unreadable_pids == [41, 43]
    assert p.last_scan.vanished == 0
    assert len(p.last_scan.errors) == 2


def test_iter_tasks_yields_zombies_and_kthreads(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=1, ppid=0), FakeTask(pid=2, ppid=0, kthread=True, has_mm=False),
                FakeTask(pid=3, state="Z", has_mm=False)])
    tasks = {t.pid: t for t in p.iter_tasks()}
    assert tasks[1].is_global_init and tasks[2].is_kthread and tasks[3].state == "Z"
    assert not tasks[2].has_mm and not tasks[3].has_mm


def test_pids_sorted_numeric_only(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=i) for i in (100, 9, 25)])
    assert p.pids() == [9, 25, 100]


def test_meminfo_sysctls_release(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([], sysctls={"panic_on_oom": 2, "oom_kill_allocating_task": 1, "oom_dump_tasks": 0, "swappiness": 10})
    assert p.read_meminfo() == MemInfo(totalram_pages=6171023, total_swap_pages=524288, page_size=4096,
                                       node_present_pages=(3998 + 782336, 5505024))
    assert p.read_sysctls() == VmSysctls(panic_on_oom=2, oom_kill_allocating_task=1, oom_dump_tasks=0, swappiness=10)
    assert p.kernel_release() == "6.18.44-test"
    assert p.hostname() == "fakehost"
    assert p.read_uptime() == 518.19


def test_meminfo_without_zoneinfo(procfs) -> None:  # type: ignore[no-untyped-def]
    assert procfs([], zoneinfo=None).read_meminfo().node_present_pages == ()


def test_not_a_procfs(tmp_path: Path) -> None:
    p = ProcFS(str(tmp_path))
    for call in (p.read_meminfo, p.read_sysctls, p.kernel_release, p.read_uptime):
        with pytest.raises(ProcParseError):
            call()
    assert p.pids() == []


def test_read_cgroup_of(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=21, cgroup="4:memory:/a/b\n0::/\n")])
    got = p.read_cgroup_of(21)
    assert got.v1_memory == "/a/b" and got.v2 == "/"


def test_pid_order_is_creation_order(procfs, make_proc) -> None:  # type: ignore[no-untyped-def]
    tasks = [FakeTask(pid=i) for i in (1, 2, 300)]
    assert procfs(tasks, forks=400, pid_max=32768).pid_order_is_creation_order()
    assert not procfs(tasks, forks=40000, pid_max=32768, name="wrapped").pid_order_is_creation_order()
    assert not procfs(tasks, forks=400, last_pid=200, name="cursor").pid_order_is_creation_order()


def test_late_added_task(procfs) -> None:  # type: ignore[no-untyped-def]
    p = procfs([FakeTask(pid=1)])
    add_task(Path(p.root), FakeTask(pid=2, name="late"))
    assert p.read_task(2).name == "late"
