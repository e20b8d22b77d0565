"""ProcFS._build_task's fast path (one anchored match over kernel-shaped status) against the general
path (_parse_task): the same Task, or the same error, for the same bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from proc_builders import FakeTask, make_proc, stat_bytes, status_bytes

import oomlens.sources.procfs as procfs_mod
from oomlens.errors import OomLensError
from oomlens.sources.procfs import ProcFS

PID = 4242

names = st.one_of(st.text(max_size=20), st.binary(max_size=16).filter(lambda b: b"\0" not in b),
                  st.sampled_from(["a) Z b", "x\ny", "back\\slash", "Uid:\t0", "\nVmSize:\t1 kB", ""]))
kb = st.integers(min_value=0, max_value=2**40)

fake_tasks = st.builds(
    FakeTask,
    pid=st.just(PID),
    name=names,
    state=st.sampled_from(["S", "R", "Z", "I", "D", "t", "X"]),
    ppid=st.integers(min_value=0, max_value=4194304),
    uid=st.integers(min_value=0, max_value=2**32 - 2),
    tgid=st.one_of(st.none(), st.integers(min_value=1, max_value=4194304)),
    kthread=st.one_of(st.none(), st.booleans()),
    has_mm=st.booleans(),
    rss_anon_kb=kb, rss_file_kb=kb, rss_shmem_kb=kb, swap_kb=kb, pte_kb=kb, vmsize_kb=kb,
    rss_split=st.booleans(),
    threads=st.integers(min_value=1, max_value=3),
    capeff=st.integers(min_value=0, max_value=2**41 - 1),
    adj=st.integers(min_value=-1000, max_value=1000),
    flags=st.sampled_from([0x00400000, 0x00400004, 0x00200040]),
    extra_status=st.dictionaries(st.sampled_from(["Foo", "untag_mask", "Seccomp_filters"]), st.just("1"), max_size=2),
)


def _mutate(data: bytes, how: int, where: int) -> bytes:
    """Malformed variants: drop a line, garble a value, change a unit, duplicate a line."""
    lines = data.split(b"\n")
    i = where % len(lines)
    if how == 1:
        del lines[i]
    elif how == 2:
        key, _, _ = lines[i].partition(b":")
        lines[i] = key + b":\tx1"
    elif how == 3:
        lines[i] = lines[i].replace(b" kB", b" MB")
    elif how == 4:
        lines.insert(i, lines[(i + 7) % len(lines)])
    return b"\n".join(lines)


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except OomLensError as exc:
        return (type(exc).__name__, str(exc))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=fake_tasks, how=st.integers(min_value=0, max_value=4), where=st.integers(min_value=0, max_value=99),
       legacy=st.booleans(), with_stat=st.sampled_from([None, False, True]))
@example(t=FakeTask(pid=PID), how=0, where=0, legacy=False, with_stat=None)
@example(t=FakeTask(pid=PID, kthread=False, has_mm=False, threads=3), how=0, where=0, legacy=False, with_stat=None)
def test_fast_path_equals_general_path(t: FakeTask, how: int, where: int, legacy: bool, with_stat: bool | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fs = ProcFS(str(make_proc(Path(tmp), [t])))
        status = _mutate(status_bytes(t), how, where)
        adj = f"{t.adj}\n".encode()
        fast = _outcome(fs._build_task, PID, status, adj, legacy, with_stat)
        general = _outcome(fs._parse_task, PID, status, adj, legacy, with_stat)
        assert fast == general


def test_fast_path_taken_for_kernel_status(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Kernel-shaped status (6.18 layout) never reaches the general path, kernel threads included."""
    p = procfs([FakeTask(pid=10, name="w"), FakeTask(pid=11, name="kworker/0:1", kthread=True, has_mm=False),
                FakeTask(pid=12, state="Z", has_mm=False)])
    monkeypatch.setattr(ProcFS, "_parse_task", lambda *a: (_ for _ in ()).throw(AssertionError("general path")))
    assert [t.pid for t in p.iter_tasks()] == [10, 11, 12]
    assert [t.pid for t in p.iter_tasks(with_stat=True)] == [10, 11, 12]


def test_fast_path_reads_stat_only_when_asked(procfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    t = FakeTask(pid=10, starttime=4200, utime=5, nice=3, flags=0x00400004)
    p = procfs([t])
    reads: list[str] = []
    real = procfs_mod.ProcFS._read
    monkeypatch.setattr(procfs_mod.ProcFS, "_read", lambda self, pid, name: reads.append(name) or real(self, pid, name))
    plain = p.read_task(10)
    assert "stat" not in reads and plain.start_time_s == 0.0 and not plain.exiting
    full = p.read_task(10, with_stat=True)
    assert reads.count("stat") == 1
    assert (full.start_time_s, full.utime_ticks, full.nice, full.exiting) == (42.0, 5, 3, True)
    assert stat_bytes(t)  # the fixture wrote the stat file these came from
