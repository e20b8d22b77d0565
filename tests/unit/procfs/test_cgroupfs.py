"""CgroupFS over fake cgroup v1 (hybrid) and v2 trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from proc_builders import FakeTask, make_cgroup_v1, make_cgroup_v2

from oomlens.errors import CgroupError, NoMemoryController
from oomlens.kernel.types import MemcgLimits
from oomlens.sources.cgroupfs import Cgroup, CgroupFS, is_descendant, oom_group_target, parent_of

MiB = 1 << 20


@pytest.fixture
def v1(tmp_path: Path) -> CgroupFS:
    root = make_cgroup_v1(tmp_path, {
        "/app": {"limit": 512 * MiB, "memsw": 768 * MiB, "swappiness": 0, "usage": 100 * MiB, "procs": [30, 10, 20]},
        "/app/web": {"limit": 256 * MiB, "procs": [50, 40], "oom_kill_disable": 1},
        "/app/db": {"procs": [60]},
        "/free": {"memsw": "absent"},
    })
    return CgroupFS(str(root), page_size=4096)


@pytest.fixture
def v2(tmp_path: Path) -> CgroupFS:
    root = make_cgroup_v2(tmp_path, {
        "/sys": {"procs": [1, 2]},
        "/work": {"max": 1024 * MiB, "swap": 0, "oom_group": 0, "current": 8 * MiB, "procs": [300, 100]},
        "/work/job": {"max": "max", "swap": "max", "oom_group": 1, "procs": [900, 500]},
        "/work/job/step": {"max": 64 * MiB, "swap": "absent", "oom_group": 1, "procs": [700]},
        "/work/svc": {"procs": [800]},
        "/plain": {"memory": False, "procs": [5]},
    }, name="v2")
    return CgroupFS(str(root), page_size=4096)


def test_discovery_hybrid(v1: CgroupFS) -> None:
    assert v1.v1_memory.endswith("/memory") and v1.v2.endswith("/unified")  # type: ignore[union-attr]
    assert [os.path.basename(d) for d in v1.v1_other] == ["cpu"]


def test_discovery_pure_v2(v2: CgroupFS) -> None:
    assert v2.v2 == v2.root and v2.v1_memory is None


def test_resolve_forms_v1(v1: CgroupFS) -> None:
    by_fs = v1.resolve(f"{v1.root}/memory/app/web")
    by_proc = v1.resolve("/app/web")
    assert by_fs == by_proc == Cgroup("/app/web", f"{v1.root}/memory/app/web", 1, f"{v1.root}/memory")
    assert v1.resolve("app/web/").path == "/app/web"
    assert v1.resolve(f"{v1.root}/memory").path == "/"
    assert v1.resolve("/").is_root
    assert v1.resolve(by_fs) is by_fs


def test_resolve_forms_v2(v2: CgroupFS) -> None:
    assert v2.resolve(f"{v2.root}/work/job").path == "/work/job"
    assert v2.resolve("/work/job").version == 2
    assert v2.resolve("/").is_root  # root lists memory in cgroup.controllers


def test_resolve_errors(v1: CgroupFS, v2: CgroupFS) -> None:
    with pytest.raises(CgroupError) as ei:
        v1.resolve("/nope")
    assert type(ei.value) is CgroupError
    with pytest.raises(CgroupError):
        v1.resolve(f"{v1.root}/memory/nope")
    with pytest.raises(CgroupError):
        v1.resolve("/app/../../etc")
    with pytest.raises(NoMemoryController):
        v1.resolve(f"{v1.root}/cpu/other")  # v1 hierarchy of another controller
    with pytest.raises(NoMemoryController):
        v1.resolve(f"{v1.root}/unified/v2only")  # cgroup2 without the memory controller
    with pytest.raises(NoMemoryController):
        v1.resolve("/v2only")  # /proc/PID/cgroup-style path that exists only in cgroup2
    with pytest.raises(NoMemoryController):
        v2.resolve("/plain")
    with pytest.raises(CgroupError):
        v2.resolve(f"{v2.root}/work/nope")


def test_limits_v1(v1: CgroupFS) -> None:
    assert v1.limits("/app") == MemcgLimits(path="/app", version=1, memory_max=131072, memsw_max=196608,
                                            swappiness=0, usage=25600)
    web = v1.limits("/app/web")
    assert web.memory_max == 65536 and web.memsw_max is None and web.oom_kill_disable and web.swappiness == 60
    free = v1.limits(f"{v1.root}/memory/free")
    assert free.memory_max is None and free.memsw_max is None  # unlimited; no swap accounting


def test_limits_v2(v2: CgroupFS) -> None:
    assert v2.limits("/work", global_swappiness=30) == MemcgLimits(
        path="/work", version=2, memory_max=262144, swap_max=0, swappiness=30, oom_group=False, usage=2048)
    job = v2.limits("/work/job", global_swappiness=60)
    assert job.memory_max is None and job.swap_max is None and job.oom_group
    step = v2.limits("/work/job/step", global_swappiness=60)
    assert step.memory_max == 16384 and step.swap_max is None
    root = v2.limits("/", global_swappiness=60)
    assert root.memory_max is None and root.usage is None and not root.oom_group


def test_limits_v2_global_swappiness_from_procfs(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    from oomlens.sources.procfs import ProcFS

    procfs = ProcFS(str(make_proc([FakeTask(pid=1)], sysctls={"swappiness": 17})))
    cg = CgroupFS(str(make_cgroup_v2(tmp_path, {"/a": {}}, name="v2s")), procfs=procfs)
    assert cg.page_size == 4096
    assert cg.limits("/a").swappiness == 17


def test_ancestor_limits(v1: CgroupFS) -> None:
    anc = v1.ancestor_limits("/app/web")
    assert [a.path for a in anc] == ["/app", "/"]
    assert anc[0].memory_max == 131072 and anc[1].memory_max is None
    assert [a.path for a in v1.ancestors("/app/web")] == ["/app", "/"]
    assert v1.ancestors("/") == ()


def _children_by_inode(d: str) -> list[str]:
    return [e.name for e in sorted((e for e in os.scandir(d) if e.is_dir()), key=lambda e: e.inode())]


def test_member_pids_preorder_v1(v1: CgroupFS) -> None:
    got = v1.member_pids("/app")
    # v1 cgroup.procs is sorted by the kernel: within a cgroup, pid order
    by_cg: dict[str, list[int]] = {}
    for pid, path in got:
        by_cg.setdefault(path, []).append(pid)
    assert by_cg == {"/app": [10, 20, 30], "/app/web": [40, 50], "/app/db": [60]}
    order = ["/app"] + [f"/app/{n}" for n in _children_by_inode(f"{v1.root}/memory/app")]
    assert [p for p, _ in _runs(got)] == order
    assert v1.member_pids("/app/db") == [(60, "/app/db")]


def test_member_pids_preorder_v2_keeps_kernel_order(v2: CgroupFS) -> None:
    got = v2.member_pids("/work")
    by_cg = {path: pids for path, pids in _runs(got)}
    assert by_cg["/work"] == [300, 100]  # v2 cgroup.procs: iteration order, kept
    assert by_cg["/work/job"] == [900, 500]
    # pre-order: a subtree is contiguous and comes right after its parent
    paths = [p for p, _ in _runs(got)]
    assert paths[0] == "/work"
    assert paths.index("/work/job/step") == paths.index("/work/job") + 1
    kids = _children_by_inode(f"{v2.root}/work")
    assert [p for p in paths if p.count("/") == 2] == [f"/work/{k}" for k in kids]


def _runs(members: list[tuple[int, str]]) -> list[tuple[str, list[int]]]:
    out: list[tuple[str, list[int]]] = []
    for pid, path in members:
        if out and out[-1][0] == path:
            out[-1][1].append(pid)
        else:
            out.append((path, [pid]))
    return out


def test_member_pids_skips_pid_zero_and_duplicates(v2: CgroupFS) -> None:
    Path(v2.root, "work", "svc", "cgroup.procs").write_text("0\n800\n800\n")
    assert v2.member_pids("/work/svc") == [(800, "/work/svc")]


def test_oom_group_target_pure() -> None:
    flags = {"/a": True, "/a/b": True, "/a/b/c": False, "/x": False}
    assert oom_group_target("/a/b/c", "/", flags) == "/a"  # highest one with the flag
    assert oom_group_target("/a/b/c", "/a/b", flags) == "/a/b"  # not above the OOM domain
    assert oom_group_target("/a/b/c", None, flags) == "/a"
    assert oom_group_target("/x/y", "/", flags) is None
    assert oom_group_target("/", "/", {"/": True}) is None  # root is never the target
    assert oom_group_target("/a/b", "/x", flags) is None  # victim outside the domain
    assert oom_group_target("/a/b/c", "/a/b/c", flags) is None
    assert oom_group_target("/a/b/c", "/a/b/c", lambda p: p == "/a/b/c") == "/a/b/c"  # the domain itself counts


def test_oom_group_target_reads_tree(v1: CgroupFS, v2: CgroupFS) -> None:
    assert v2.oom_group_target("/work/job/step") == "/work/job"
    assert v2.oom_group_target("/work/job/step", "/work/job/step") == "/work/job/step"
    assert v2.oom_group_target("/work/svc") is None
    assert v1.oom_group_target("/app/web") is None  # v1 has no memory.oom.group
    assert v2.oom_group_flags("/work") == {"/work/job": True, "/work/job/step": True}
    assert v1.oom_group_flags("/app") == {}


def test_path_helpers() -> None:
    assert parent_of("/a/b") == "/a" and parent_of("/a") == "/" and parent_of("/") is None
    assert is_descendant("/a/b", "/a") and is_descendant("/a", "/a") and is_descendant("/a", "/")
    assert not is_descendant("/ab", "/a")


def test_memcg_of_pid(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    from oomlens.sources.procfs import ProcFS

    procfs = ProcFS(str(make_proc([FakeTask(pid=10, cgroup="4:memory:/app\n0::/\n"),
                                   FakeTask(pid=11, cgroup="0::/work/job\n")])))
    hybrid = CgroupFS(str(make_cgroup_v1(tmp_path, {"/app": {"procs": [10]}})), procfs=procfs)
    assert hybrid.memcg_of(10).path == "/app"
    pure = CgroupFS(str(make_cgroup_v2(tmp_path, {"/work/job": {"procs": [11]}}, name="v2m")), procfs=procfs)
    assert pure.memcg_of(11) == pure.resolve("/work/job")


def test_no_cgroup_mounts(tmp_path: Path) -> None:
    empty = CgroupFS(str(tmp_path), page_size=4096)
    with pytest.raises(CgroupError):
        empty.resolve("/anything")


def test_limited_domain_of_is_the_nearest_limit(tmp_path: Path, make_proc) -> None:  # type: ignore[no-untyped-def]
    from oomlens.sources.procfs import ProcFS

    procfs = ProcFS(str(make_proc([FakeTask(pid=10, cgroup="4:memory:/top/mid/leaf\n0::/\n"),
                                   FakeTask(pid=11, cgroup="4:memory:/free\n0::/\n")])))
    cg = CgroupFS(str(make_cgroup_v1(tmp_path, {"/top": {"limit": 400 << 20}, "/top/mid": {},
                                                 "/top/mid/leaf": {"procs": [10]}, "/free": {"procs": [11]}})),
                  procfs=procfs)
    found = cg.limited_domain_of(10)
    # the leaf and /top/mid have no limit: the nearest limit is /top's, 400 MiB = 102400 pages
    assert found is not None and found[0].path == "/top/mid/leaf" and found[1].path == "/top"
    assert found[1].memory_max == 102_400
    assert cg.limited_domain_of(11) is None


def test_mountinfo_parsing_and_kernel_paths(tmp_path: Path) -> None:
    from oomlens.sources import cgroupfs

    mi = tmp_path / "mountinfo"
    # a v1 memory hierarchy mounted at a path with a space (octal-escaped by the kernel) and a cgroup2 mount
    mi.write_text("35 25 0:30 / /sys/fs/cgroup/mem\\040ory rw,nosuid - cgroup cgroup rw,memory\n"
                  "36 25 0:31 /sub /mnt/cg2 rw - cgroup2 cgroup2 rw,nsdelegate\n"
                  "bogus line without separator\n")
    ms = cgroupfs.mounts(str(mi))
    assert [(m.mountpoint, m.root, m.fstype) for m in ms] == [("/sys/fs/cgroup/mem ory", "/", "cgroup"),
                                                               ("/mnt/cg2", "/sub", "cgroup2")]
    assert "memory" in ms[0].superopts and cgroupfs.mounts(str(tmp_path / "missing")) == []
