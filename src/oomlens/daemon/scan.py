"""The full process scan, per watched domain: a snapshot of the domain (all processes for ``global``, only
the cgroup's members for a memcg) ranked by the kernel model.

A memcg domain reads only its members' ``/proc`` files, not every process: :class:`_Members` narrows the
procfs listing to them, and :func:`oomlens.sources.live.take_snapshot` does the rest (order, limits,
ancestors, oom.group) exactly as ``oomlens top --cgroup`` does. Processes that vanish mid-scan are skipped
there (and counted in the snapshot's notes).
"""

from __future__ import annotations

from typing import Any

from oomlens.analysis.ranking import Ranking, rank
from oomlens.sources.cgroupfs import Cgroup, CgroupFS
from oomlens.sources.live import take_snapshot
from oomlens.sources.procfs import ProcFS

__all__ = ["scan_domain"]


class _Members:
    """A ProcFS whose listing is only ``pids`` (everything else delegates)."""

    def __init__(self, procfs: ProcFS, pids: list[int]) -> None:
        self._procfs = procfs
        self._pids = sorted(pids)

    def pids(self) -> list[int]:
        return list(self._pids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._procfs, name)


def scan_domain(procfs: ProcFS, cgroups: CgroupFS, cg: Cgroup | None) -> Ranking:
    """Rank the global domain (``cg`` None) or the memcg ``cg``."""
    if cg is None:
        return rank(take_snapshot(procfs, cgroups))
    members = [pid for pid, _ in cgroups.member_pids(cg)]
    snap = take_snapshot(_Members(procfs, members), cgroups, cgroup=cg.fs_path)
    return rank(snap)
