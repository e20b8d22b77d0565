"""Public analysis API: rank a snapshot with the kernel model, explain one task, predict kill orders.

Pure: the snapshot comes from the caller. The CLI is a thin edge over these functions;
``Ranking.to_dict()`` is the ``oomlens top --json`` contract.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from oomlens.analysis.domain import OomDomain, snapshot_domain
from oomlens.errors import KernelVersionError, NoSuchProcess
from oomlens.kernel.eras import Era, badness_pages, era_for
from oomlens.kernel.oom_kill import (
    BadnessTerms,
    Evaluation,
    OomControl,
    OomOutcome,
    Selection,
    badness_terms,
    kill_order,
    out_of_memory,
    proc_oom_score,
    ranked,
)
from oomlens.kernel.snapshot import Snapshot
from oomlens.kernel.types import LONG_MIN, MemInfo, OomConstraint, Task, VmSysctls

UNOBSERVABLE = (
    "MMF_OOM_SKIP (a victim already reaped), in_vfork and swapoff/KSM origin tasks are invisible in "
    "/proc: assumed unset",
    "processes sharing the victim's mm (CLONE_VM without CLONE_THREAD) are killed with it; /proc cannot "
    "show mm sharing",
    "a previous victim still being reaped makes the kernel abort without killing; not modelled",
)


@dataclass(slots=True)
class ScoredTask:
    """One task with the model's verdict: the kernel's evaluation in its domain (badness with the domain's
    T) plus what the model adds: the /proc oom_score (global T) and the rank in kill order."""

    evaluation: Evaluation
    oom_score: int
    rank: int | None

    @property
    def task(self) -> Task:
        return self.evaluation.task

    @property
    def terms(self) -> BadnessTerms:
        return self.evaluation.badness

    @property
    def eligible(self) -> bool:
        return self.evaluation.eligible

    @property
    def reason(self) -> str | None:
        return self.evaluation.reason

    @property
    def points(self) -> int | None:
        return self.terms.points if self.eligible else None

    def to_dict(self, page_size: int) -> dict[str, Any]:
        ev = self.evaluation
        t, b, eligible = ev.task, ev.badness, ev.eligible
        d: dict[str, Any] = {
            "pid": t.pid, "name": t.name, "uid": t.uid, "oom_score_adj": t.oom_score_adj,
            "rss_anon": t.rss_anon, "rss_file": t.rss_file, "rss_shmem": t.rss_shmem,
            "swapents": t.swapents, "pgtables_pages": b.pgtables if eligible else t.pgtables_bytes // page_size,
            "badness": b.points if eligible else None, "oom_score": self.oom_score, "eligible": eligible,
            "reason": ev.reason, "rank": self.rank, "adj_term": b.adj_term if eligible else None,
            "root_bonus": b.root_bonus if eligible else None,
            "clamped": b.clamped, "rss_split_known": t.rss_split_known,
        }
        if b.legacy:
            d["legacy_steps"] = [{"step": s, "points": p} for s, p in b.legacy]
        if b.assumptions:
            d["assumptions"] = list(b.assumptions)
        return d


@dataclass(slots=True)
class Ranking:
    """The kernel's view of one OOM domain: every task in kill order, victim first."""

    release: str
    era: Era
    domain: OomDomain
    tasks: list[ScoredTask]
    selection: Selection
    notes: list[str] = field(default_factory=list)
    unreadable: int = 0

    @property
    def constraint(self) -> OomConstraint:
        return self.domain.constraint

    @property
    def cgroup(self) -> str | None:
        """The domain's memory cgroup (None: global)."""
        return self.domain.cgroup

    @property
    def totalpages(self) -> int:
        return self.domain.totalpages

    @property
    def global_totalpages(self) -> int:
        return self.domain.global_totalpages

    @property
    def page_size(self) -> int:
        return self.domain.page_size

    @property
    def victim(self) -> ScoredTask | None:
        v = self.selection.victim
        return self.get(v.pid) if v is not None else None

    @property
    def chosen(self) -> ScoredTask | None:
        c = self.selection.chosen
        return self.get(c.pid) if c is not None else None

    @property
    def eligible(self) -> list[ScoredTask]:
        return [t for t in self.tasks if t.eligible]

    def get(self, pid: int) -> ScoredTask:
        for t in self.tasks:
            if t.task.pid == pid:
                return t
        raise NoSuchProcess(pid, msg=f"pid {pid} is not in this OOM domain"
                            + (f" (cgroup {self.cgroup})" if self.cgroup else ""))

    def task_dicts(self, tasks: Iterable[ScoredTask] | None = None) -> Iterator[dict[str, Any]]:
        """The rows of :meth:`to_dict`'s ``tasks``, one at a time (for output written as it is encoded)."""
        page_size = self.page_size
        rows = self.tasks if tasks is None else tasks
        marked = self.domain.marked
        if self.domain.requested_cgroup is None:
            return (t.to_dict(page_size) for t in rows)
        return ({**t.to_dict(page_size), "in_requested_cgroup": t.task.pid in marked} for t in rows)

    def to_dict(self, tasks: Iterable[ScoredTask] | None = None) -> dict[str, Any]:
        """The ``top --json`` document; ``tasks`` (default: all, in kill order) are the rows to include."""
        v = self.victim
        sel = self.selection
        return {
            "kernel": {"release": self.release, "era": self.era.name},
            "badness_unit": self.era.badness_unit,
            "domain": {"constraint": self.constraint.value, "cgroup": self.cgroup, "totalpages": self.totalpages,
                       "global_totalpages": self.global_totalpages, "page_size": self.page_size,
                       "requested_cgroup": self.domain.requested_cgroup,
                       "oom_kill_disabled": self.domain.oom_kill_disabled},
            "victim": v.to_dict(self.page_size) if v else None,
            "chosen_pid": sel.chosen.pid if sel.chosen else None,
            "outcome": sel.outcome,
            "message": sel.message,
            "oom_group": sel.oom_group,
            "also_killed": [t.pid for t in sel.also_killed],
            "tasks": list(self.task_dicts(tasks)),
            "unreadable": self.unreadable,
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- ranking a domain

def rank_domain(domain: OomDomain, *, release: str, era: Era, kernel: str | None = None,
                sysctls: VmSysctls | None = None, uptime_s: float = 0.0, oom_groups: dict[str, bool] | None = None,
                notes: Iterable[str] = (), unreadable: int = 0) -> Ranking:
    """Score the domain's tasks (in the kernel's scan order) with ``era``'s rules; ``kernel`` is the version the
    user asked for (notes only)."""
    oc = domain.control(era)
    oc.sysctls = sysctls or VmSysctls()
    oc.uptime_s = uptime_s
    oc.oom_groups = oom_groups or {}
    sel = out_of_memory(oc)
    order = kill_order(sel.evaluations, era, memcg=domain.memcg is not None)
    scored: list[ScoredTask] = []
    n = 0
    for ev in order:
        if ranked(ev, era):
            n += 1
            r: int | None = n
        else:
            r = None
        scored.append(ScoredTask(ev, _proc_score(ev, oc, domain.global_totalpages, domain.page_size), r))
    all_notes = list(notes) + list(domain.notes) + list(UNOBSERVABLE) + _era_notes(era, release, kernel)
    all_notes = list(dict.fromkeys(all_notes))
    if any("uid 0" in a for ev in order for a in ev.badness.assumptions):
        all_notes.append("CAP_SYS_ADMIN not known for some tasks: the root bonus was approximated by uid 0")
    return Ranking(release=release, era=era, domain=domain, tasks=scored, selection=sel, notes=all_notes,
                   unreadable=unreadable)


def _proc_score(ev: Evaluation, oc: OomControl, global_T: int, page_size: int) -> int:
    """/proc/PID/oom_score uses the global T even for tasks in a limited memcg."""
    era = oc.era
    if era.scoring == "legacy":
        return ev.badness.points if ev.badness.eligible else 0
    if oc.totalpages == global_T:
        pts = ev.badness.points
    else:
        pts = badness_terms(ev.task, global_T, era, page_size=page_size).points
    if not ev.badness.eligible and era.initial_best == "long_min":
        pts = LONG_MIN
    return proc_oom_score(pts, global_T, era)


def _era_notes(era: Era, release: str, kernel: str | None) -> list[str]:
    notes = []
    try:
        host_era: Era | None = era_for(release)
    except KernelVersionError:
        host_era = None
    if kernel and host_era is not era:
        notes.append(f"scored with the rules of kernel {kernel} (era {era.name}); this host runs {release}")
    if era.scoring == "legacy":
        notes.append("legacy (<=2.6.35) heuristic: CONFIG_HZ assumed 250 and the cpuset factor assumed not to "
                     "apply; /proc inputs approximate what that kernel saw")
    if era.scoring == "signed" and host_era is not None and host_era.first >= (6, 2, 0):
        notes.append("since 6.2 the kernel scores with approximate per-CPU RSS counters; /proc shows precise "
                     "sums (since ~6.16). They can differ by about batch x CPUs pages per counter")
    return notes


def rank(snapshot: Snapshot, *, kernel: str | None = None) -> Ranking:
    """Rank a :class:`oomlens.kernel.snapshot.Snapshot` in its OOM domain (global, the snapshot's cgroup, or
    that cgroup's nearest limited ancestor: see :func:`oomlens.analysis.domain.snapshot_domain`)."""
    era = era_for(kernel or snapshot.kernel_release)
    return rank_domain(snapshot_domain(snapshot, era), release=snapshot.kernel_release, era=era, kernel=kernel,
                       sysctls=snapshot.sysctls, uptime_s=snapshot.uptime_s, oom_groups=dict(snapshot.oom_groups),
                       notes=snapshot.notes, unreadable=snapshot.unreadable)


def rank_tasks(tasks: Sequence[Task], meminfo: MemInfo, *, release: str, page_size: int,
               kernel: str | None = None) -> Ranking:
    """:func:`rank` for a bare task list (in scan order) in the global domain of ``meminfo``."""
    snap = Snapshot(taken_at="1970-01-01T00:00:00+00:00", hostname="", kernel_release=release, page_size=page_size,
                    uptime_s=0.0, meminfo=meminfo, sysctls=VmSysctls(), tasks=tuple(tasks))
    return rank(snap, kernel=kernel)


# --------------------------------------------------------------------------- explain

@dataclass(slots=True)
class Explanation:
    """Why one task ranks where it does, with counterfactuals."""

    ranking: Ranking
    target: ScoredTask
    rival: ScoredTask | None
    """The victim (when the target is not the victim) or the runner-up (when it is)."""
    margin: int | None
    """Points between target and rival (positive: the target leads)."""
    spare_adj: int | None
    """Highest oom_score_adj at which the target would not be the victim (None: no adj spares it but -1000)."""
    victim_adj: int | None
    """Lowest oom_score_adj at which the target would be the victim (None: no adj ≤ 1000 makes it one)."""
    shed_pages: int | None
    """Pages the target must shed to stop being the victim (only for the victim)."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        r = self.ranking
        # margin and the shed figure are in badness units; shed_pages is memory: in a per-mille era the
        # points (shed_points) stand for about points*T/1000 pages
        shed = self.shed_pages
        conv = badness_pages(r.era, shed, r.totalpages) if shed is not None else None
        return {
            "kernel": {"release": r.release, "era": r.era.name},
            "badness_unit": r.era.badness_unit,
            "domain": {"constraint": r.constraint.value, "cgroup": r.cgroup, "totalpages": r.totalpages},
            "task": self.target.to_dict(r.page_size),
            "is_victim": r.victim is not None and r.victim.task.pid == self.target.task.pid,
            "rival": self.rival.to_dict(r.page_size) if self.rival else None,
            "margin": self.margin, "spare_adj": self.spare_adj, "victim_adj": self.victim_adj,
            "shed_pages": conv[0] if conv else None, "shed_points": shed,
            "candidates": len(r.eligible), "notes": self.notes + r.notes,
        }


def _wins(era: Era, memcg: bool, mine: int, my_index: int, other: int, other_index: int) -> bool:
    """Would a task scoring ``mine`` at scan position ``my_index`` beat one scoring ``other``?"""
    if mine != other:
        return mine > other
    tie = era.tie(memcg)
    return (my_index > other_index) if tie == "last" else (my_index < other_index)


def explain(ranking: Ranking, pid: int) -> Explanation:
    """Explain ``pid``'s place in ``ranking``: margin to the victim (or runner-up) and what would change it."""
    target = ranking.get(pid)
    era, memcg = ranking.era, ranking.cgroup is not None
    scan = {ev.task.pid: i for i, ev in enumerate(ranking.selection.evaluations)}
    # ranking.eligible is in kill order (kill_order applies the same tie rule): the first other task is
    # the one that would die in the target's place
    best_other = next((t for t in ranking.eligible if t.task.pid != pid), None)
    notes: list[str] = []
    if ranking.selection.outcome is OomOutcome.OOM_KILL_DISABLED:
        return Explanation(ranking, target, None, None, None, None, None,
                           [ranking.selection.message or "the kernel kills nobody in this domain"])
    if not target.eligible:
        return Explanation(ranking, target, ranking.victim, None, None, None, None,
                           [f"not a candidate: {target.reason}"])
    is_victim = ranking.victim is not None and ranking.victim.task.pid == pid
    rival = best_other if is_victim else ranking.victim
    margin = (target.terms.points - rival.terms.points) if rival and rival.eligible else None

    def victim_with(adj: int) -> bool:
        pts = badness_terms(target.task.with_(oom_score_adj=adj), ranking.totalpages, era,
                            page_size=ranking.page_size)
        if not pts.eligible:
            return False
        if best_other is None:
            return True
        return _wins(era, memcg, pts.points, scan[pid], best_other.terms.points, scan[best_other.task.pid])

    if era.scoring == "legacy":
        notes.append("adj counterfactuals are not computed for the legacy heuristic")
        spare = vadj = None
    else:
        # badness is monotonic in adj: binary search the threshold in [-999, 1000]
        lo, hi = -999, 1000
        if not victim_with(hi):
            spare, vadj = 1000, None
        elif victim_with(lo):
            spare, vadj = None, -999
        else:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if victim_with(mid):
                    hi = mid
                else:
                    lo = mid
            spare, vadj = lo, hi
        if ranking.totalpages // 1000 == 0:
            notes.append("T < 1000 pages: oom_score_adj has no effect in this domain (adj * (T/1000) = 0)")
    shed = None
    if is_victim and best_other is not None and era.scoring != "legacy":
        need = target.terms.points - best_other.terms.points
        if _wins(era, memcg, target.terms.points - need, scan[pid], best_other.terms.points, scan[best_other.task.pid]):
            need += 1
        shed = max(need, 0)
    return Explanation(ranking, target, rival, margin, spare, vadj, shed, notes)


# --------------------------------------------------------------------------- predict

@dataclass(slots=True)
class KillStep:
    victim: ScoredTask
    also_killed: list[Task]
    freed_pages: int
    cumulative_pages: int


def freed_by_kill(task: Task, page_size: int) -> int:
    """Pages a kill frees for sure: anonymous memory, swap entries and page tables. File pages stay in the
    page cache (reclaimable anyway) and shmem stays while its tmpfs/memfd is referenced elsewhere."""
    return task.rss_anon + task.swapents + task.pgtables_bytes // page_size


def predict(first: Ranking, *, sysctls: VmSysctls | None = None, uptime_s: float = 0.0,
            oom_groups: dict[str, bool] | None = None, need_pages: int | None = None,
            max_kills: int = 10_000) -> list[KillStep]:
    """The kernel's kill order, one OOM at a time (each kill is a separate OOM invocation), from ``first`` (the
    domain ranked now) until ``need_pages`` would be freed (None: until nobody is left). Later OOMs re-rank the
    survivors in the same domain with the same inputs."""
    steps: list[KillStep] = []
    total = 0
    page_size = first.page_size
    r = first
    while len(steps) < max_kills:
        v = r.victim
        if v is None or r.selection.outcome == "panic":
            break
        dead = [v.task, *r.selection.also_killed]
        freed = sum(freed_by_kill(t, page_size) for t in dead)
        total += freed
        steps.append(KillStep(v, list(r.selection.also_killed), freed, total))
        if need_pages is not None and total >= need_pages:
            break
        gone = {t.pid for t in dead}
        remaining = tuple(t for t in r.domain.tasks if t.pid not in gone)
        if not remaining:
            break
        r = rank_domain(dataclasses.replace(r.domain, tasks=remaining), release=first.release, era=first.era,
                        sysctls=sysctls, uptime_s=uptime_s, oom_groups=oom_groups)
    return steps


def apply_what_if(snapshot: Any, *, add: Sequence[tuple[str, int, int]] = (), set_adj: dict[int, int] | None = None,
                  limit_pages: int | None = None) -> Any:
    """A copy of ``snapshot`` with what-if edits: new tasks ``(name, rss_pages, adj)`` appended (newest, so last
    in scan order), oom_score_adj overrides, and a new limit (the cgroup's, or the machine's RAM)."""
    tasks = list(snapshot.tasks)
    known = {t.pid for t in tasks}
    for pid in (set_adj or {}):
        if pid not in known:
            raise NoSuchProcess(pid)
    tasks = [t.with_(oom_score_adj=(set_adj or {})[t.pid]) if t.pid in (set_adj or {}) else t for t in tasks]
    next_pid = max(known | {0}) + 1
    members = list(getattr(snapshot, "cgroup_pids", None) or [])
    memcg = getattr(snapshot, "cgroup", None)
    for name, rss, adj in add:
        tasks.append(Task(pid=next_pid, name=name, uid=0, oom_score_adj=adj, rss_anon=rss,
                          memcg=memcg.path if memcg else None))
        members.append(next_pid)
        next_pid += 1
    changes: dict[str, Any] = {"tasks": tuple(tasks)}
    if memcg is not None:
        changes["cgroup_pids"] = tuple(members)
    if limit_pages is not None:
        if memcg is not None:
            changes["cgroup"] = dataclasses.replace(memcg, memory_max=limit_pages)
        else:
            changes["meminfo"] = dataclasses.replace(snapshot.meminfo, totalram_pages=limit_pages)
    return dataclasses.replace(snapshot, **changes)


@dataclass(slots=True)
class Prediction:
    """The kill order in one domain until ``need_pages`` would be freed (the ``oomlens predict`` answer)."""

    ranking: Ranking
    """The domain as it stands now (the first step's ranking)."""
    steps: list[KillStep]
    need_pages: int | None = None

    @property
    def satisfied(self) -> bool:
        """Would the kills free ``need_pages`` (always True without a need)?"""
        if self.need_pages is None:
            return True
        return bool(self.steps) and self.steps[-1].cumulative_pages >= self.need_pages

    def to_dict(self) -> dict[str, Any]:
        """The ``oomlens predict --json`` document."""
        r = self.ranking
        page_size = r.page_size
        return {
            "kernel": {"release": r.release, "era": r.era.name},
            "domain": {"constraint": r.constraint.value, "cgroup": r.cgroup, "totalpages": r.totalpages,
                       "requested_cgroup": r.domain.requested_cgroup},
            "badness_unit": r.era.badness_unit.value,
            "outcome": r.selection.outcome.value,
            "need_pages": self.need_pages,
            "satisfied": self.satisfied,
            "kills": [{"order": i, **s.victim.to_dict(page_size), "also_killed": [t.pid for t in s.also_killed],
                       "freed_pages": s.freed_pages, "cumulative_pages": s.cumulative_pages}
                      for i, s in enumerate(self.steps, 1)],
            "notes": self.notes,
        }

    @property
    def notes(self) -> list[str]:
        """What the prediction assumes, then the domain's notes."""
        return ["the kernel kills one process per OOM invocation and re-evaluates; this order assumes nothing "
                "else changes between kills",
                "freed = anon + swap + page tables; file pages stay in the page cache, shmem while referenced",
                *self.ranking.notes]


def predict_snapshot(snapshot: Snapshot, *, kernel: str | None = None, need_pages: int | None = None) -> Prediction:
    """:func:`predict` in the snapshot's OOM domain, starting from :func:`rank`'s ranking (one domain, one
    first ranking)."""
    first = rank(snapshot, kernel=kernel)
    steps = predict(first, sysctls=snapshot.sysctls, uptime_s=snapshot.uptime_s,
                    oom_groups=dict(snapshot.oom_groups), need_pages=need_pages)
    return Prediction(first, steps, need_pages)
