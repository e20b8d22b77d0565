"""The full process scan, per watched domain: a snapshot of the domain (all processes for ``global``, only
the cgroup's members for a memcg) ranked by the kernel model.

A memcg domain reads only its members' ``/proc`` files, not every process: :class:`_Members` narrows the
procfs listing to them, and :func:`oomlens.sources.live.take_snapshot` does the rest (order, limits,
ancestors, oom.group) exactly as ``oomlens top --cgroup`` does. Processes that vanish mid-scan are skipped
there (and counted in the snapshot's notes).

:func:`policy_matches` weighs the scanned processes by the policy (``oomlens.policy``: the same first-match
``plan`` as ``oomlens policy check``); :func:`policy_drift` counts, per rule, the processes whose live
``oom_score_adj`` is not the rule's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from oomlens.analysis.ranking import Ranking, rank
from oomlens.kernel.types import Task
from oomlens.policy.engine import Change, plan
from oomlens.policy.rules import Policy
from oomlens.sources.cgroupfs import Cgroup, CgroupFS
from oomlens.sources.live import take_snapshot
from oomlens.sources.procfs import ProcFS
from oomlens.sources.protect import process_infos

__all__ = ["policy_drift", "policy_matches", "scan_domain"]


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


def policy_matches(policy: Policy | None, procfs: ProcFS, tasks: Iterable[Task]) -> dict[int, Change]:
    """pid -> what the policy wants for it, for every scanned process a rule matches (first match wins;
    kernel threads, zombies and the daemon itself are never matched). Empty without a policy."""
    if policy is None:
        return {}
    infos = process_infos(procfs, tasks, identify=False)
    return {c.pid: c for c in plan(policy, infos, {i.pid: i.oom_score_adj for i in infos})}


def policy_drift(policy: Policy | None, matches: dict[int, Change]) -> dict[str, int]:
    """Per rule (every rule, 0 included): how many of its processes have a live ``oom_score_adj`` other
    than the rule's."""
    if policy is None:
        return {}
    out = {r.name: 0 for r in policy.rules}
    for c in matches.values():
        if c.needed:
            out[c.rule.name] += 1
    return out
