"""One OOM domain: the tasks the kernel would choose from, its T, its page size and its constraint.

Every analysis (rank, explain, predict, postmortem) gets its domain from here, so they cannot disagree
about T or about which tasks compete:

- :func:`snapshot_domain` — from a :class:`~oomlens.kernel.snapshot.Snapshot`. A cgroup without a memory
  limit of its own cannot run out of memory by itself: its OOM happens in the nearest ancestor with a
  limit (whose whole subtree competes), or it is a global OOM. The domain is then that ancestor (or
  global), the ranking covers *its* tasks, and the requested cgroup's tasks are marked — never a "next
  victim" that is not the next victim.
- :func:`recovered_domain` — from a kernel log, where T was recovered from the report's numbers.

Pure; standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from oomlens.kernel.eras import Era
from oomlens.kernel.oom_kill import OomControl, constrained_alloc, nearest_limited_memcg
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import MemcgLimits, MemInfo, OomConstraint, Task

__all__ = ["OomDomain", "recovered_domain", "snapshot_domain"]


@dataclass(frozen=True, slots=True)
class OomDomain:
    """Where an OOM happens and what the kernel chooses from."""

    constraint: OomConstraint
    totalpages: int
    """T: the pages ``oom_badness`` scales by (memcg limit (+swap), or RAM + swap)."""
    global_totalpages: int
    """RAM + swap: the T of ``/proc/PID/oom_score``."""
    page_size: int
    tasks: tuple[Task, ...]
    """The domain's tasks in the kernel's scan order."""
    meminfo: MemInfo
    memcg: MemcgLimits | None = None
    """The limits that define T in a memcg OOM (the domain cgroup's own)."""
    requested_cgroup: str | None = None
    """The cgroup the user asked about, when the domain is another (its nearest limited ancestor, or global)."""
    marked: frozenset[int] = frozenset()
    """Pids of ``requested_cgroup`` (empty when the domain is the requested cgroup itself)."""
    totalpages_exact: bool = True
    notes: tuple[str, ...] = ()

    @property
    def cgroup(self) -> str | None:
        """The domain's memory cgroup (None: global)."""
        return self.memcg.path if self.memcg is not None else None

    @property
    def oom_kill_disabled(self) -> bool:
        """cgroup v1 ``memory.oom_control`` oom_kill_disable = 1: the kernel kills nobody in this memcg."""
        return self.memcg is not None and self.memcg.oom_kill_disable

    def control(self, era: Era) -> OomControl:
        """The ``struct oom_control`` for this domain, with T already set (``constrained_alloc`` keeps it)."""
        return OomControl(tasks=list(self.tasks), meminfo=self.meminfo, era=era, page_size=self.page_size,
                          memcg=self.memcg,
                          constraint=self.constraint, known_totalpages=self.totalpages)


def _totalpages(meminfo: MemInfo, memcg: MemcgLimits | None, era: Era, page_size: int) -> tuple[OomConstraint, int]:
    oc = OomControl(tasks=[], meminfo=meminfo, era=era, page_size=page_size, memcg=memcg)
    constraint = constrained_alloc(oc)
    return constraint, oc.totalpages


def snapshot_domain(snapshot: Snapshot, era: Era) -> OomDomain:
    """The OOM domain of ``snapshot``: its cgroup (or that cgroup's nearest limited ancestor), else global.

    T follows ``constrained_alloc`` with ``era``'s rules; a global domain assumes no cpuset or mempolicy
    constraint (said in the notes).
    """
    meminfo = snapshot.meminfo
    global_T = meminfo.totalram_pages + meminfo.total_swap_pages
    requested = snapshot.cgroup
    if requested is None:
        constraint, T = _totalpages(meminfo, None, era, snapshot.page_size)
        return OomDomain(constraint, T, global_T, snapshot.page_size, tuple(snapshot.tasks), meminfo,
                         notes=("global domain shown; an allocation constrained by a cpuset or mempolicy uses "
                                "a smaller T",))
    by_pid = {t.pid: t for t in snapshot.tasks}
    members = tuple(by_pid[p] for p in dict.fromkeys(snapshot.cgroup_pids) if p in by_pid)
    if requested.memory_max is not None:
        constraint, T = _totalpages(meminfo, requested, era, snapshot.page_size)
        return OomDomain(constraint, T, global_T, snapshot.page_size, members, meminfo, memcg=requested)
    marked = frozenset(t.pid for t in members)
    limited = nearest_limited_memcg(snapshot.cgroup_ancestors)  # parent first
    if limited is not None:
        if snapshot.domain_pids is None:
            # a snapshot that did not record the ancestor's members cannot rank its domain
            tasks = members
            note = (f"cgroup {requested.path} has no memory limit: an OOM there happens in its ancestor "
                    f"{limited.path}, whose other members compete too, but this snapshot did not record them: "
                    f"only {requested.path}'s tasks are ranked, so the real victim may be another task "
                    f"(retake it with --cgroup {limited.path})")
        else:
            tasks = tuple(by_pid[p] for p in dict.fromkeys(snapshot.domain_pids) if p in by_pid)
            note = (f"cgroup {requested.path} has no memory limit: an OOM there happens in its ancestor "
                    f"{limited.path} (limit {limited.memory_max} pages), whose whole subtree competes; "
                    f"ranked there, with {requested.path}'s tasks marked")
        constraint, T = _totalpages(meminfo, limited, era, snapshot.page_size)
        return OomDomain(constraint, T, global_T, snapshot.page_size, tasks, meminfo, memcg=limited,
                         requested_cgroup=requested.path, marked=marked, notes=(note,))
    constraint, T = _totalpages(meminfo, None, era, snapshot.page_size)
    note = (f"cgroup {requested.path} and its ancestors have no memory limit: only a global OOM can kill its "
            f"processes; ranked in the global domain, with {requested.path}'s tasks marked")
    return OomDomain(constraint, T, global_T, snapshot.page_size, tuple(snapshot.tasks), meminfo,
                     requested_cgroup=requested.path, marked=marked, notes=(note,))


def recovered_domain(tasks: Sequence[Task], meminfo: MemInfo, *, totalpages: int, page_size: int,
                     memcg: MemcgLimits | None = None, constraint: OomConstraint | None = None,
                     exact: bool = True, notes: Sequence[str] = ()) -> OomDomain:
    """A domain whose T was recovered from a kernel report rather than computed from limits."""
    if constraint is None:
        constraint = OomConstraint.MEMCG if memcg is not None else OomConstraint.NONE
    global_T = meminfo.totalram_pages + meminfo.total_swap_pages
    return OomDomain(constraint, totalpages, global_T, page_size, tuple(tasks), meminfo, memcg=memcg,
                     totalpages_exact=exact, notes=tuple(notes))
