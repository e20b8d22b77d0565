"""The pure policy engine: a policy and the processes as they are now -> the intended ``oom_score_adj``
changes (:func:`plan`), their effect on each OOM domain's predicted victim (:func:`domain_effects`, through
``analysis.ranking``), and the audit's risk findings (:func:`audit`)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oomlens.analysis.ranking import Ranking, apply_what_if, rank
from oomlens.kernel.types import OOM_SCORE_ADJ_MIN, Task
from oomlens.policy.k8s import BESTEFFORT_OOM_SCORE_ADJ, GUARANTEED_OOM_SCORE_ADJ, burstable_bounds
from oomlens.policy.rules import Policy, ProcessView, Rule

__all__ = ["Change", "DomainEffect", "Finding", "FindingKind", "PodView", "audit", "domain_effects", "plan"]


@dataclass(frozen=True, slots=True)
class Change:
    """What the policy wants for one process. ``current == intended`` means it already holds."""

    pid: int
    comm: str
    rule: Rule
    current: int
    intended: int

    @property
    def needed(self) -> bool:
        return self.current != self.intended

    @property
    def lowers(self) -> bool:
        """Lowering may need CAP_SYS_RESOURCE (below the process's oom_score_adj_min, which /proc does not show)."""
        return self.intended < self.current

    @property
    def warning(self) -> str | None:
        return self.rule.warning

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "comm": self.comm, "rule": self.rule.name, "current": self.current,
                "intended": self.intended, "needed": self.needed, "warning": self.warning}


def plan(policy: Policy, processes: Sequence[ProcessView], current_adj: Mapping[int, int]) -> list[Change]:
    """One Change for each process a rule matches (first match wins), in the order of ``processes``."""
    out = []
    for p in processes:
        rule = policy.rule_for(p)
        if rule is not None:
            out.append(Change(p.pid, p.comm, rule, current_adj[p.pid], rule.adj))
    return out


@dataclass(frozen=True, slots=True)
class DomainEffect:
    """The predicted victim of one OOM domain ("global" or a memcg path) before and after the changes."""

    domain: str
    before: tuple[int, str] | None
    after: tuple[int, str] | None

    @property
    def moved(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "victim_before": _v(self.before), "victim_after": _v(self.after),
                "moved": self.moved}


def _v(x: tuple[int, str] | None) -> dict[str, Any] | None:
    return None if x is None else {"pid": x[0], "name": x[1]}


def _victim(r: Ranking) -> tuple[int, str] | None:
    v = r.victim
    return None if v is None else (v.task.pid, v.task.name)


def domain_effects(snapshots: Sequence[Any], changes: Sequence[Change], *, kernel: str | None = None) -> list[DomainEffect]:
    """For every domain snapshot (global first, then each limited memcg): the victim before and after
    applying the changes' intended values (``analysis.ranking.apply_what_if`` + ``rank``)."""
    out = []
    for snap in snapshots:
        known = {t.pid for t in snap.tasks}
        edits = {c.pid: c.intended for c in changes if c.pid in known and c.needed}
        before = rank(snap, kernel=kernel)
        after = rank(apply_what_if(snap, set_adj=edits), kernel=kernel) if edits else before
        name = snap.cgroup.path if snap.cgroup is not None else "global"
        out.append(DomainEffect(name, _victim(before), _victim(after)))
    return out


# --- audit --------------------------------------------------------------------------------------------


class FindingKind(enum.Enum):
    IMMUNE = "immune"
    PROTECTED_HOG = "protected-hog"
    PROTECTED_VICTIM = "protected-next-victim"
    POLICY_DRIFT = "policy-drift"
    UNIT_DRIFT = "unit-drift"
    POLICY_UNIT_CONFLICT = "policy-unit-conflict"
    K8S_DRIFT = "k8s-drift"


@dataclass(frozen=True, slots=True)
class Finding:
    risk: int
    """0..100, higher first."""
    kind: FindingKind
    pid: int | None
    comm: str | None
    domain: str | None
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"risk": self.risk, "kind": self.kind.value, "pid": self.pid, "comm": self.comm, "domain": self.domain,
                "message": self.message, **self.data}


@dataclass(frozen=True, slots=True)
class PodView:
    """A process in a Kubernetes pod, as its cgroup path shows it."""

    pid: int
    comm: str
    pod_uid: str
    qos: str  # guaranteed | burstable | besteffort
    live_adj: int


HOG_SHARE = 0.5
"""A protected process holding at least this share of a domain's T is a finding."""


def _mem(t: Task) -> int:
    return t.rss + t.swapents + t.pgtables_bytes // 4096


def audit(rankings: Sequence[Ranking], *, changes: Sequence[Change] = (), units: Mapping[int, tuple[str, int | None]]
          = {}, pods: Sequence[PodView] = (), live_adj: Mapping[int, int] = {}) -> list[Finding]:
    """Risk findings, highest risk first.

    ``rankings``: the global domain first, then each limited memcg. ``changes``: the policy's plan (drift is
    a change still needed). ``units``: pid -> (unit, its ``OOMScoreAdjust=`` or None when unset) for processes
    in a systemd service. ``pods``: processes in Kubernetes pods.
    """
    out: list[Finding] = []
    seen_immune: set[int] = set()
    for r in rankings:
        domain = r.cgroup or "global"
        T = r.totalpages
        victim = r.victim
        for st in r.tasks:
            t = st.task
            if not t.has_mm or t.is_kthread:
                continue
            if t.oom_score_adj == OOM_SCORE_ADJ_MIN and t.pid not in seen_immune:
                seen_immune.add(t.pid)
                share = _mem(t) / T if T else 0.0
                out.append(Finding(70 + min(29, int(share * 60)), FindingKind.IMMUNE, t.pid, t.name, domain,
                                   f"pid {t.pid} ({t.name}) has oom_score_adj -1000: the OOM killer never takes it "
                                   f"(holds {share:.0%} of {domain} memory); if it grows, everything else dies first "
                                   "and then the kernel panics", {"share": round(share, 4)}))
            if t.oom_score_adj < 0 and T:
                share = _mem(t) / T
                if share >= HOG_SHARE:
                    out.append(Finding(60 + min(35, int((share - HOG_SHARE) * 70)), FindingKind.PROTECTED_HOG, t.pid,
                                       t.name, domain,
                                       f"protected pid {t.pid} ({t.name}, adj {t.oom_score_adj}) holds {share:.0%} of "
                                       f"{domain} memory: an OOM there can free little without it (or panic)",
                                       {"share": round(share, 4), "adj": t.oom_score_adj}))
            if t.oom_score_adj < 0 and victim is not None and victim.task.pid == t.pid:
                out.append(Finding(80, FindingKind.PROTECTED_VICTIM, t.pid, t.name, domain,
                                   f"pid {t.pid} ({t.name}) is protected (adj {t.oom_score_adj}) yet it is the next "
                                   f"victim in {domain}: its memory outweighs the protection "
                                   f"(`oomlens explain {t.pid}` shows the adj that would spare it)",
                                   {"adj": t.oom_score_adj}))
    policy_adj = {c.pid: c for c in changes}
    for c in changes:
        if c.needed:
            out.append(Finding(50 if c.lowers else 30, FindingKind.POLICY_DRIFT, c.pid, c.comm, None,
                               f"pid {c.pid} ({c.comm}): policy rule {c.rule.name!r} wants {c.intended}, live value "
                               f"is {c.current}", {"rule": c.rule.name, "intended": c.intended, "live": c.current}))
    for pid, (unit, unit_adj) in sorted(units.items()):
        live = live_adj.get(pid)
        pc = policy_adj.get(pid)
        if unit_adj is not None and live is not None and live != unit_adj:
            out.append(Finding(40, FindingKind.UNIT_DRIFT, pid, pc.comm if pc else None, None,
                               f"pid {pid} in {unit}: the unit sets OOMScoreAdjust={unit_adj}, live value is {live} "
                               "(changed at runtime, or by the program itself)",
                               {"unit": unit, "unit_adj": unit_adj, "live": live}))
        if pc is not None and unit_adj is not None and unit_adj != pc.intended:
            out.append(Finding(35, FindingKind.POLICY_UNIT_CONFLICT, pid, pc.comm, None,
                               f"pid {pid} in {unit}: policy rule {pc.rule.name!r} wants {pc.intended} but the unit sets "
                               f"OOMScoreAdjust={unit_adj}: each restart undoes the policy until it is applied again "
                               "(`oomlens policy export --systemd` writes the drop-in)",
                               {"unit": unit, "unit_adj": unit_adj, "intended": pc.intended}))
    lo, hi = burstable_bounds()
    for p in pods:
        expected: str
        if p.qos == "guaranteed":
            ok, expected = p.live_adj == GUARANTEED_OOM_SCORE_ADJ, str(GUARANTEED_OOM_SCORE_ADJ)
        elif p.qos == "besteffort":
            ok, expected = p.live_adj == BESTEFFORT_OOM_SCORE_ADJ, str(BESTEFFORT_OOM_SCORE_ADJ)
        else:
            ok = lo <= p.live_adj <= hi or p.live_adj == GUARANTEED_OOM_SCORE_ADJ  # node-critical burstable pods
            expected = f"{lo}..{hi} (1000 - 1000*request/capacity; -997 if node-critical)"
        if not ok:
            out.append(Finding(45, FindingKind.K8S_DRIFT, p.pid, p.comm, None,
                               f"pid {p.pid} ({p.comm}) in {p.qos} pod {p.pod_uid}: the kubelet's QoS rule gives "
                               f"{expected}, live value is {p.live_adj}",
                               {"pod_uid": p.pod_uid, "qos": p.qos, "kubelet": expected, "live": p.live_adj}))
    out.sort(key=lambda f: (-f.risk, f.kind.value, f.pid or 0))
    return out
