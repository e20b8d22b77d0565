"""Snapshots: taking one from fake trees, exact JSON round trip, and every malformed file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proc_builders import FakeTask, make_cgroup_v1, make_cgroup_v2

from oomlens.errors import CgroupError, OutputError, SnapshotError
from oomlens.kernel.snapshot import FORMAT, Snapshot, restrict_to_cgroup
from oomlens.kernel.types import UNKNOWN, MemcgLimits, MemInfo, Task, VmSysctls
from oomlens.sources.cgroupfs import CgroupFS
from oomlens.sources.live import load_snapshot, save_snapshot, take_snapshot
from oomlens.sources.procfs import ProcFS

MiB = 1 << 20


def _tasks() -> list[FakeTask]:
    # pid 300 was created before 250 (pids wrapped): creation order is by start time
    return [
        FakeTask(pid=1, name="init", ppid=0, uid=0, starttime=1),
        FakeTask(pid=2, name="kthreadd", ppid=0, kthread=True, has_mm=False, starttime=1),
        FakeTask(pid=300, name="old", ppid=1, starttime=500, oom_score=700),
        FakeTask(pid=250, name="young", ppid=1, starttime=900, oom_score=680),
        FakeTask(pid=260, name="child", ppid=300, starttime=950),
        FakeTask(pid=270, name="zombie", ppid=300, state="Z", has_mm=False, starttime=960),
    ]


def test_take_snapshot_global_creation_order(make_proc) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS(str(make_proc(_tasks(), forks=40000)))  # forks > pid_max: pids may have wrapped
    snap = take_snapshot(procfs, with_oom_scores=True)
    assert snap.format == FORMAT and snap.kernel_release == "6.18.44-test" and snap.hostname == "fakehost"
    assert snap.scan_order == "start_time"
    assert [t.pid for t in snap.tasks] == [1, 2, 300, 250, 260, 270]
    by = {t.pid: t for t in snap.tasks}
    assert by[1].children == (300, 250) and by[300].children == (260, 270) and by[2].children == ()
    assert snap.oom_scores is not None and snap.oom_scores[300] == 700 and snap.oom_scores[250] == 680
    assert snap.cgroup is None and snap.cgroup_pids == () and snap.unreadable == 0
    assert snap.meminfo.totalram_pages == 6171023 and snap.page_size == 4096 and snap.uptime_s == 518.19
    # what /proc cannot show is said once, by the model's output
    from oomlens.analysis.ranking import rank

    assert sum("MMF_OOM_SKIP" in n for n in rank(snap).notes) == 1


def test_take_snapshot_skips_stat_when_pids_never_wrapped(make_proc) -> None:  # type: ignore[no-untyped-def]
    tasks = [t for t in _tasks() if t.pid != 300 and t.pid != 260 and t.pid != 270]
    snap = take_snapshot(ProcFS(str(make_proc(tasks, forks=400))))
    assert snap.scan_order == "pid"
    assert [t.pid for t in snap.tasks] == [1, 2, 250]
    assert all(t.start_time_s == 0.0 for t in snap.tasks)
    assert snap.oom_scores is None
    assert any("pids have not wrapped" in n for n in snap.notes)
    forced = take_snapshot(ProcFS(str(make_proc(tasks, forks=400, name="p2"))), with_stat=True)
    assert forced.scan_order == "start_time"


def test_take_snapshot_counts_unreadable(make_proc) -> None:  # type: ignore[no-untyped-def]
    root = make_proc(_tasks())
    (root / "250" / "status").write_bytes(b"broken")
    snap = take_snapshot(ProcFS(str(root)))
    assert snap.unreadable == 1 and 250 not in {t.pid for t in snap.tasks}
    assert any("1 processes unreadable" in n for n in snap.notes)


def test_take_snapshot_cgroup_v1(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS(str(make_proc(_tasks(), forks=40000)))
    cgroups = CgroupFS(str(make_cgroup_v1(tmp_path, {
        "/app": {"limit": 512 * MiB, "procs": [250, 300, 4444]},  # 4444 exited meanwhile
        "/app/sub": {"limit": 64 * MiB, "procs": [260]},
    })), procfs=procfs)
    snap = take_snapshot(procfs, cgroups, cgroup="/app")
    assert snap.cgroup is not None and snap.cgroup.path == "/app" and snap.cgroup.memory_max == 131072
    assert [a.path for a in snap.cgroup_ancestors] == ["/"]
    # v1 cgroup.procs is pid-sorted: within a cgroup, reordered by creation (300 before 250)
    assert snap.cgroup_pids == (300, 250, 260)
    by = {t.pid: t for t in snap.tasks}
    assert by[300].memcg == "/app" and by[260].memcg == "/app/sub" and by[1].memcg is None
    assert snap.oom_groups == {}
    assert any("cgroup v1" in n for n in snap.notes) and any("exited" in n for n in snap.notes)


def test_take_snapshot_cgroup_v2(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS(str(make_proc(_tasks(), sysctls={"swappiness": 20})))
    cgroups = CgroupFS(str(make_cgroup_v2(tmp_path, {
        "/job": {"max": 256 * MiB, "oom_group": 1, "procs": [250, 300]},
        "/job/step": {"procs": [260]},
    })), procfs=procfs)
    snap = take_snapshot(procfs, cgroups, cgroup=f"{cgroups.root}/job")
    assert snap.cgroup == MemcgLimits(path="/job", version=2, memory_max=65536, swap_max=None, swappiness=20,
                                      oom_group=True, usage=0)
    assert snap.cgroup_pids == (250, 300, 260)  # v2 order kept
    assert snap.oom_groups == {"/job": True}


def test_take_snapshot_bad_cgroup(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    procfs = ProcFS(str(make_proc(_tasks())))
    cgroups = CgroupFS(str(make_cgroup_v1(tmp_path, {})), procfs=procfs)
    with pytest.raises(CgroupError):
        take_snapshot(procfs, cgroups, cgroup="/nope")


# --- round trip -----------------------------------------------------------------------------------

def _snap(**changes: object) -> Snapshot:
    base = Snapshot(
        taken_at="2026-11-26T16:00:00+00:00", hostname="h", kernel_release="6.18.44", page_size=4096, uptime_s=12.5,
        meminfo=MemInfo(totalram_pages=1000, total_swap_pages=10, node_present_pages=(600, 500)),
        sysctls=VmSysctls(swappiness=10),
        tasks=(Task(pid=1, name="init", is_global_init=True, cap_sys_admin=True, start_time_s=0.01, children=(7,)),
               Task(pid=7, name="a) Z\nb", ppid=1, rss_anon=5, oom_score_adj=-1000, memcg="/app", nr_ptes=3,
                    oom_skip=False)),
        cgroup=MemcgLimits(path="/app", version=1, memory_max=100, memsw_max=None, oom_kill_disable=True),
        cgroup_pids=(7,),
        cgroup_ancestors=(MemcgLimits(path="/", version=1, memory_max=None),),
        oom_groups={"/app": True}, oom_scores={1: 0, 7: 1}, unreadable=2, notes=("n1", "n2"),
    )
    return dataclasses.replace(base, **changes)


def test_roundtrip_exact(tmp_path: Path) -> None:
    snap = _snap()
    assert Snapshot.from_json(snap.to_json()) == snap
    path = tmp_path / "s.json"
    save_snapshot(snap, path)
    assert load_snapshot(path) == snap
    assert load_snapshot(str(path)).tasks[1].oom_skip is False and load_snapshot(path).tasks[0].oom_skip is UNKNOWN
    empty = _snap(tasks=(), cgroup=None, cgroup_pids=(), oom_scores=None)
    assert Snapshot.from_json(empty.to_json()) == empty


def test_roundtrip_of_a_taken_snapshot(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    snap = take_snapshot(ProcFS(str(make_proc(_tasks(), forks=40000))), with_oom_scores=True)
    path = tmp_path / "live.json"
    save_snapshot(snap, path)
    assert load_snapshot(path) == snap


_names = st.text(max_size=16)
_tasks_st = st.builds(
    Task,
    pid=st.integers(1, 4_194_304), name=_names, uid=st.integers(0, 2**32 - 1),
    tgid=st.none() | st.integers(1, 99999), ppid=st.integers(0, 99999), oom_score_adj=st.integers(-1000, 1000),
    rss_anon=st.integers(0, 2**40), swapents=st.integers(0, 2**40), pgtables_bytes=st.integers(0, 2**40),
    nr_ptes=st.none() | st.integers(0, 2**30), has_mm=st.booleans(), is_kthread=st.booleans(),
    oom_skip=st.sampled_from([True, False, UNKNOWN]), cap_sys_admin=st.sampled_from([True, False, UNKNOWN]),
    nice=st.integers(-20, 19), start_time_s=st.floats(0, 1e9, allow_nan=False),
    children=st.lists(st.integers(1, 99999), max_size=4).map(tuple), memcg=st.none() | _names,
    state=st.sampled_from(["R", "S", "Z", "D", ""]), legacy_oom_adj=st.none() | st.integers(-17, 15),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_tasks_st, max_size=6, unique_by=lambda t: t.pid), st.text(max_size=30),
       st.floats(0, 1e9, allow_nan=False))
def test_roundtrip_property(tasks: list[Task], note: str, uptime: float) -> None:
    snap = _snap(tasks=tuple(tasks), cgroup=None, cgroup_pids=(), oom_scores=None, notes=(note,), uptime_s=uptime)
    assert Snapshot.from_json(snap.to_json()) == snap


# --- malformed files: every case names what is wrong ---------------------------------------------

def _doc() -> dict:  # type: ignore[type-arg]
    return json.loads(_snap().to_json())


def _load_doc(tmp_path: Path, doc: object) -> Snapshot:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    return load_snapshot(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such file") as ei:
        load_snapshot(tmp_path / "nope.json")
    assert ei.value.path.endswith("nope.json")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="is a directory"):
        load_snapshot(tmp_path)


def test_not_json(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"format": "oomlens-snapshot/1",\n oops}')
    with pytest.raises(SnapshotError, match=r"not JSON: .* line 2 column 2"):
        load_snapshot(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SnapshotError, match="not"):
        load_snapshot(p)


@pytest.mark.parametrize("doc, message", [
    ([], "expected a JSON object"),
    ({"tasks": []}, "no 'format' field"),
    ({"format": "oomlens-snapshot/2"}, "format is 'oomlens-snapshot/2'"),
])
def test_not_a_snapshot(tmp_path: Path, doc: object, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        _load_doc(tmp_path, doc)


TOP_FIELDS = ["taken_at", "hostname", "kernel_release", "page_size", "uptime_s", "meminfo", "sysctls", "scan_order",
              "cgroup", "cgroup_pids", "cgroup_ancestors", "oom_groups", "oom_scores", "unreadable", "notes", "tasks"]


@pytest.mark.parametrize("name", TOP_FIELDS)
def test_missing_top_field(tmp_path: Path, name: str) -> None:
    doc = _doc()
    del doc[name]
    with pytest.raises(SnapshotError, match=f"missing field '{name}'"):
        _load_doc(tmp_path, doc)


@pytest.mark.parametrize("name, value, message", [
    ("taken_at", 5, "field 'taken_at': expected a string, got an integer"),
    ("taken_at", "yesterday", "field 'taken_at': not an ISO 8601 time"),
    ("hostname", None, "field 'hostname': expected a string, got null"),
    ("kernel_release", [], "field 'kernel_release': expected a string, got a list"),
    ("page_size", "4096", "field 'page_size': expected an integer, got a string"),
    ("page_size", 4095, "field 'page_size': 4095 is not a power of two"),
    ("page_size", True, "field 'page_size': expected an integer, got a boolean"),
    ("uptime_s", "1", "field 'uptime_s': expected a number"),
    ("meminfo", [], "field 'meminfo': expected an object, got a list"),
    ("sysctls", None, "field 'sysctls': expected an object, got null"),
    ("scan_order", "random", "field 'scan_order'"),
    ("cgroup", 3, "field 'cgroup': expected an object, got an integer"),
    ("cgroup_pids", [1, "7"], "field 'cgroup_pids': expected a list of integers"),
    ("cgroup_pids", [99], r"field 'cgroup_pids\[0\]': pid 99 has no entry in 'tasks'"),
    ("cgroup_ancestors", {}, "field 'cgroup_ancestors': expected a list"),
    ("oom_groups", [], "field 'oom_groups': expected an object"),
    ("oom_groups", {"/a": 1}, r"field 'oom_groups./a': expected true or false"),
    ("oom_scores", [], "field 'oom_scores': expected an object or null"),
    ("oom_scores", {"x": 1}, "field 'oom_scores.x': key is not a pid"),
    ("oom_scores", {"7": "1"}, "field 'oom_scores.7': expected an integer"),
    ("unreadable", 1.5, "field 'unreadable': expected an integer, got a number"),
    ("notes", "n", "field 'notes': expected a list of strings"),
    ("notes", [1], "field 'notes': expected a list of strings"),
    ("tasks", {}, "field 'tasks': expected a list, got an object"),
])
def test_ill_typed_top_field(tmp_path: Path, name: str, value: object, message: str) -> None:
    doc = _doc()
    doc[name] = value
    with pytest.raises(SnapshotError, match=message):
        _load_doc(tmp_path, doc)


def test_unknown_top_field(tmp_path: Path) -> None:
    doc = _doc()
    doc["extra"] = 1
    with pytest.raises(SnapshotError, match="unknown field 'extra'"):
        _load_doc(tmp_path, doc)


def test_cgroup_pids_without_cgroup(tmp_path: Path) -> None:
    doc = _doc()
    doc["cgroup"] = None
    with pytest.raises(SnapshotError, match="'cgroup' is null"):
        _load_doc(tmp_path, doc)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Task)])
def test_missing_task_field(tmp_path: Path, field: str) -> None:
    doc = _doc()
    del doc["tasks"][1][field]
    with pytest.raises(SnapshotError, match=rf"missing field 'tasks\[1\]\.{field}'"):
        _load_doc(tmp_path, doc)


@pytest.mark.parametrize("field, value, expected", [
    ("pid", "7", "an integer"),
    ("pid", 7.0, "an integer"),
    ("name", 3, "a string"),
    ("rss_anon", None, "an integer"),
    ("tgid", "x", "an integer or null"),
    ("has_mm", 1, "true or false"),
    ("oom_skip", "maybe", 'true, false or "unknown"'),
    ("start_time_s", "0", "a number"),
    ("children", [1, "2"], "a list of integers"),
    ("children", 3, "a list of integers"),
    ("memcg", 5, "a string or null"),
])
def test_ill_typed_task_field(tmp_path: Path, field: str, value: object, expected: str) -> None:
    doc = _doc()
    doc["tasks"][1][field] = value
    with pytest.raises(SnapshotError, match=rf"field 'tasks\[1\]\.{field}': expected {expected}"):
        _load_doc(tmp_path, doc)


@pytest.mark.parametrize("where, field", [("meminfo", "totalram_pages"), ("sysctls", "swappiness"),
                                          ("cgroup", "memory_max"), ("cgroup", "path")])
def test_nested_field_errors_name_the_field(tmp_path: Path, where: str, field: str) -> None:
    doc = _doc()
    del doc[where][field]
    with pytest.raises(SnapshotError, match=rf"missing field '{where}\.{field}'"):
        _load_doc(tmp_path, doc)
    doc = _doc()
    doc[where][field] = {"no": 1}
    with pytest.raises(SnapshotError, match=rf"field '{where}\.{field}': expected"):
        _load_doc(tmp_path, doc)


def test_unknown_task_field_and_bad_task(tmp_path: Path) -> None:
    doc = _doc()
    doc["tasks"][0]["bogus"] = 1
    with pytest.raises(SnapshotError, match=r"unknown field 'tasks\[0\]\.bogus'"):
        _load_doc(tmp_path, doc)
    doc = _doc()
    doc["tasks"][0] = [1, 2]
    with pytest.raises(SnapshotError, match=r"field 'tasks\[0\]': expected an object, got a list"):
        _load_doc(tmp_path, doc)


def test_ancestor_field_error(tmp_path: Path) -> None:
    doc = _doc()
    doc["cgroup_ancestors"][0]["version"] = "1"
    with pytest.raises(SnapshotError, match=r"field 'cgroup_ancestors\[0\]\.version': expected an integer"):
        _load_doc(tmp_path, doc)


def test_from_json_source_name() -> None:
    with pytest.raises(SnapshotError) as ei:
        Snapshot.from_json("nope", source="stdin")
    assert ei.value.path == "stdin" and "not JSON" in str(ei.value)


def test_save_unwritable(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        save_snapshot(_snap(), tmp_path / "no" / "dir" / "s.json")


def test_restrict_to_cgroup() -> None:
    snap = _snap()
    assert restrict_to_cgroup(snap, "/app") is snap
    assert restrict_to_cgroup(snap, "/sys/fs/cgroup/memory/app/") is snap
    with pytest.raises(CgroupError, match="taken for cgroup /app"):
        restrict_to_cgroup(snap, "/other")
    with pytest.raises(CgroupError, match="taken globally"):
        restrict_to_cgroup(_snap(cgroup=None, cgroup_pids=()), "/app")


def test_every_field_type_has_a_codec() -> None:
    """A field added to the shared types with a new annotation must get a JSON coding."""
    from oomlens.kernel.snapshot import _fields

    for cls in (Task, MemInfo, MemcgLimits, VmSysctls):
        assert len(_fields(cls)) == len(dataclasses.fields(cls))


def test_take_snapshot_without_sysctls_or_uptime_is_partial_not_fatal(make_proc) -> None:  # type: ignore[no-untyped-def]
    # a container that hides /proc/sys and /proc/uptime still gets ranked, with the defaults said
    import shutil

    root = make_proc(_tasks())
    shutil.rmtree(root / "sys" / "vm")
    (root / "uptime").unlink()
    snap = take_snapshot(ProcFS(str(root)))
    assert snap.sysctls == VmSysctls() and snap.uptime_s == 0.0
    assert any("vm sysctls unreadable" in n for n in snap.notes)
    assert any("/proc/uptime unreadable" in n for n in snap.notes)
    assert [t.pid for t in snap.tasks][:2] == [1, 2]
