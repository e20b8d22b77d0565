"""The live snapshot: read this host into a :class:`~oomlens.kernel.snapshot.Snapshot`, and store or load
one as a file.

Reads through :class:`~oomlens.sources.procfs.ProcFS` and :class:`~oomlens.sources.cgroupfs.CgroupFS`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from oomlens.errors import CgroupError, OomLensError, OutputAccessDenied, OutputError, SnapshotError
from oomlens.kernel.oom_kill import nearest_limited_memcg
from oomlens.kernel.snapshot import MAX_BYTES, Snapshot
from oomlens.kernel.types import MemcgLimits, Task, VmSysctls
from oomlens.sources.cgroupfs import CgroupFS
from oomlens.sources.procfs import ProcFS, ScanStats

__all__ = ["load_snapshot", "save_snapshot", "take_snapshot"]


def save_snapshot(snap: Snapshot, path: str | os.PathLike[str]) -> None:
    """Write ``snap`` as JSON, atomically (a temporary file renamed over ``path``)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(snap.to_json())
            f.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, PermissionError):
            raise OutputAccessDenied(path, exc.strerror or "permission denied") from None
        raise OutputError(path, exc.strerror or str(exc)) from None


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot saved by :func:`save_snapshot`.

    Raises SnapshotError for: a missing or unreadable file, a file above MAX_BYTES (256 MiB) or nested
    deeper than a snapshot can be, text that is not JSON, a wrong or missing ``format`` tag, and any
    missing, unknown, ill-typed or out-of-range field (named in the message, e.g. ``tasks[3].rss_anon``).
    A pid listed twice (in ``tasks`` or ``cgroup_pids``) keeps its last entry, and a note says so.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)  # never more: a larger file is refused, whatever it holds
    except FileNotFoundError:
        raise SnapshotError(path, "no such file") from None
    except IsADirectoryError:
        raise SnapshotError(path, "is a directory") from None
    except PermissionError:
        raise SnapshotError(path, "permission denied") from None
    except OSError as exc:
        raise SnapshotError(path, f"cannot read: {exc.strerror or exc}") from None
    return Snapshot.from_json(data, path)


def take_snapshot(procfs: Any = None, cgroups: Any = None, *, cgroup: str | None = None, legacy: bool = False,
                  with_oom_scores: bool = False, with_stat: bool | None = None) -> Snapshot:
    """Read this host into a :class:`Snapshot`.

    ``cgroup`` (a cgroupfs path or a ``/proc/PID/cgroup`` path) makes it a memcg snapshot: limits,
    ancestors' limits, member pids in scan order. ``legacy`` also reads ``stat`` for CPU times and
    nice (the ≤2.6.35 heuristic). ``with_oom_scores`` records ``/proc/PID/oom_score``.

    ``with_stat``: True reads ``/proc/PID/stat`` for every process (start times, PF_EXITING);
    False never does (unless a kernel lacks status ``Kthread:``); None (default) reads it only when
    needed: legacy, or when pids may have wrapped (then pid order is not creation order) and the
    kernel gives no pidfs inode numbers (before 6.9; with them, the cheaper pidfd gives the order).
    ``children`` is filled from ``ppid``, in creation order.
    """
    procfs = procfs if procfs is not None else ProcFS()
    # what /proc cannot show is said by the model (oomlens.analysis.ranking.UNOBSERVABLE), once
    notes: list[str] = []
    release = procfs.kernel_release()
    meminfo = procfs.read_meminfo()
    # A host that hides /proc/sys or /proc/uptime (some containers) still gets a snapshot: the defaults are
    # assumed and said; only what the ranking cannot do without (the tasks, meminfo) is fatal.
    try:
        sysctls = procfs.read_sysctls()
    except OomLensError as exc:
        sysctls = VmSysctls()
        notes.append(f"vm sysctls unreadable ({exc}): assumed panic_on_oom=0, oom_kill_allocating_task=0, "
                     "swappiness=60")
    try:
        uptime = procfs.read_uptime()
    except OomLensError as exc:
        uptime = 0.0
        notes.append(f"/proc/uptime unreadable ({exc}): process ages unknown (used only by <=2.6.35 rules)")
    try:
        hostname = procfs.hostname()
    except Exception:  # noqa: BLE001 - a fixture may not record it
        hostname = os.uname().nodename

    pids = procfs.pids()
    no_wrap = procfs.pid_order_is_creation_order(pids)
    pidfs_ids: dict[int, int] | None = None
    if with_stat is None and not legacy and not no_wrap:
        if procfs.has_pidfs_ids():
            pidfs_ids = {}
        else:
            with_stat = True
    stats = ScanStats()
    tasks: list[Task] = []
    scores: dict[int, int] | None = {} if with_oom_scores else None
    for t in procfs.iter_tasks(legacy, with_stat=with_stat, stats=stats, pids=pids, pidfs_ids=pidfs_ids):
        tasks.append(t)
        if scores is not None:
            try:
                scores[t.pid] = procfs.read_oom_score(t.pid)
            except Exception:  # noqa: BLE001 - vanished or unreadable: no score to verify against
                pass
    if pidfs_ids is not None:
        tasks.sort(key=lambda t, ids=pidfs_ids: ids[t.pid])  # type: ignore[misc]
        scan_order = "pidfs"
        notes.append("tasks in creation order from pidfs inode numbers (numbered at fork; pids have wrapped "
                     "since boot, so pid order is not creation order); start times not read")
    else:
        tasks.sort(key=lambda t: (t.start_time_s, t.pid))  # without start times: pid order
        scan_order = "start_time" if any(t.start_time_s for t in tasks) else "pid"
        if scan_order == "pid":
            notes.append("start times not read: tasks in pid order, which is creation order because pids have "
                         "not wrapped since boot (forks since boot < pid_max)" if no_wrap
                         else "start times not read: tasks in pid order, assumed to be creation order")
    if scan_order != "start_time":
        notes.append("PF_EXITING not read (/proc/PID/stat is not read unless the scan order needs it): no task "
                     "is taken to be exiting")
    if stats.unreadable:
        notes.append(f"{stats.unreadable} processes unreadable (skipped)")

    limits = None
    members: tuple[int, ...] = ()
    domain_pids: tuple[int, ...] | None = None
    ancestors: tuple[MemcgLimits, ...] = ()
    groups: dict[str, bool] = {}
    memcg_of: dict[int, str] = {}
    if cgroup is not None or cgroups is not None or procfs.root == "/proc":
        cgfs = cgroups if cgroups is not None else CgroupFS(procfs=procfs, page_size=procfs.page_size)
        if cgroup is not None:
            cg = cgfs.resolve(cgroup)
            limits = cgfs.limits(cg, global_swappiness=sysctls.swappiness)
            ancestors = cgfs.ancestor_limits(cg, global_swappiness=sysctls.swappiness)
            groups = cgfs.oom_group_flags(cg)
            members, memcg_of = _members_in_scan_order(cgfs.member_pids(cg), tasks, cg.version, notes)
            if limits.memory_max is None:
                # no limit of its own: the OOM domain is the nearest limited ancestor's whole subtree
                limited = nearest_limited_memcg(ancestors)
                if limited is not None:
                    domain_cg = cgfs.ancestors(cg)[ancestors.index(limited)]
                    domain_pids, domain_memcg_of = _members_in_scan_order(
                        cgfs.member_pids(domain_cg), tasks, cg.version, [])
                    memcg_of = {**domain_memcg_of, **memcg_of}
        elif cgfs.v1_memory is None and cgfs.v2 is not None:
            # cgroup v2 with memory: record each task's memcg so memory.oom.group can be applied.
            try:
                root = cgfs.resolve(cgfs.v2)
                groups = cgfs.oom_group_flags(root)
                memcg_of = dict(cgfs.member_pids(root))
            except CgroupError:
                pass
    if memcg_of:
        tasks = [t.with_(memcg=memcg_of[t.pid]) if t.pid in memcg_of else t for t in tasks]
    tasks = _with_children(tasks)
    return Snapshot(
        taken_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        hostname=hostname,
        kernel_release=release,
        page_size=procfs.page_size,
        uptime_s=uptime,
        meminfo=meminfo,
        sysctls=sysctls,
        tasks=tuple(tasks),
        scan_order=scan_order,
        cgroup=limits,
        cgroup_pids=members,
        cgroup_ancestors=ancestors,
        domain_pids=domain_pids,
        oom_groups=groups,
        oom_scores=scores,
        unreadable=stats.unreadable,
        notes=tuple(notes),
    )


def _members_in_scan_order(members: list[tuple[int, str]], tasks: list[Task], version: int,
                           notes: list[str]) -> tuple[tuple[int, ...], dict[int, str]]:
    """Member pids that have a task, in memcg scan order, and their cgroup paths."""
    pos = {t.pid: i for i, t in enumerate(tasks)}
    kept = [(pid, path) for pid, path in members if pid in pos]
    if len(kept) < len(members):
        notes.append(f"{len(members) - len(kept)} cgroup members exited or were unreadable during the scan")
    if version == 1:
        # v1 cgroup.procs is sorted by pid; the kernel walks each cgroup's css_sets in the order
        # tasks joined them. Creation order is the closer approximation: keep the pre-order of
        # cgroups, and order the tasks of each cgroup as in the global list.
        out: list[tuple[int, str]] = []
        i = 0
        while i < len(kept):
            j = i
            while j < len(kept) and kept[j][1] == kept[i][1]:
                j += 1
            out.extend(sorted(kept[i:j], key=lambda m: pos[m[0]]))
            i = j
        kept = out
        notes.append("cgroup v1: within one cgroup, members are ordered by creation (cgroup.procs is sorted by "
                     "pid, the kernel's css_set order is not visible)")
    return tuple(pid for pid, _ in kept), dict(kept)


def _with_children(tasks: list[Task]) -> list[Task]:
    """Fill ``children`` from ``ppid``; tasks are in creation order, which is the order of the
    kernel's ``p->children`` list (fork appends)."""
    kids: dict[int, list[int]] = {}
    for t in tasks:
        if t.ppid:
            kids.setdefault(t.ppid, []).append(t.pid)
    if not kids:
        return tasks
    return [t.with_(children=tuple(kids[t.pid])) if t.pid in kids else t for t in tasks]
