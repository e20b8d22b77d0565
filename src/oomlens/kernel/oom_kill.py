"""The kernel's OOM victim choice, transliterated from ``mm/oom_kill.c`` for every era.

Pure: no I/O, no clock, standard library only. Functions carry the kernel's names; each docstring says
which releases it reproduces. Era differences come from :class:`oomlens.kernel.eras.Era` fields, never from
version tests here. Arithmetic is C arithmetic: :func:`c_div` truncates toward zero, and
``adj *= totalpages / 1000`` divides first.

Call graph, as in the kernel::

    out_of_memory(oc)
      ├─ check_panic_on_oom(oc)
      ├─ constrained_alloc(oc)            → constraint, oc.totalpages
      ├─ oom_kill_allocating_task path
      ├─ select_bad_process(oc)
      │    └─ oom_evaluate_task(task, oc) → oom_badness(task, totalpages)
      └─ oom_kill_process(oc)             → sacrifice child (<5.1), mm sharers, memory.oom.group
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from oomlens.kernel.eras import Era
from oomlens.kernel.types import (
    LONG_MAX,
    LONG_MIN,
    OOM_ADJUST_MAX,
    OOM_DISABLE,
    OOM_SCORE_ADJ_MIN,
    ULONG_MAX,
    MemcgLimits,
    MemInfo,
    OomConstraint,
    Task,
    Unknown,
    VmSysctls,
)


def page_counter_max(page_size: int) -> int:
    """What an unlimited memcg reads as in pages: ``PAGE_COUNTER_MAX`` = LONG_MAX / PAGE_SIZE (64-bit)."""
    return LONG_MAX // page_size


# --------------------------------------------------------------------------- C arithmetic

def c_div(a: int, b: int) -> int:
    """C's ``a / b`` for integers: truncates toward zero (Python's ``//`` floors)."""
    if b == 0:
        raise ZeroDivisionError("c_div by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _wrap(value: int, bits: int) -> int:
    """Two's-complement wrap-around of a signed ``bits``-wide C integer."""
    m = 1 << bits
    value &= m - 1
    return value - m if value >= (m >> 1) else value


def int_sqrt(x: int) -> int:
    """The kernel's ``int_sqrt``: floor of the square root."""
    return math.isqrt(x) if x > 0 else 0


def _known(flag: bool | Unknown) -> bool:
    """UNKNOWN counts as "not set" (and the caller records that assumption)."""
    return flag is True


# --------------------------------------------------------------------------- results

@dataclass(slots=True)
class BadnessTerms:
    """``oom_badness()`` written out term by term (pages unless noted).

    Treat it as immutable. It is not declared ``frozen`` for the reason :class:`~oomlens.kernel.types.Task`
    is not: one is built per task per ranking, and a frozen dataclass costs about 4x more to build
    (1.2 vs 0.3 µs for these 15 fields), which is ~3 ms of ``oomlens top`` on 3,000 processes.
    """

    points: int
    """The kernel's return value: LONG_MIN (5.9+) or 0 (earlier) when not eligible."""
    eligible: bool
    reason: str | None = None
    rss: int = 0
    swapents: int = 0
    pgtables: int = 0
    base: int = 0
    """rss + swapents + page tables (pages); for the legacy heuristic, total_vm incl. children."""
    adj: int = 0
    adj_term: int = 0
    """oom_score_adj * (totalpages // 1000) in page eras; the per-mille adj in 2.6.36-3.4."""
    root_bonus: int = 0
    """Pages (3.14-4.16) or points (2.6.36-3.4, and adj units in 3.5-3.13) taken off for CAP_SYS_ADMIN."""
    unclamped: int = 0
    clamped: bool = False
    overflowed: bool = False
    legacy: tuple[tuple[str, int], ...] = ()
    """Steps of the legacy heuristic: (description, points after the step)."""
    assumptions: tuple[str, ...] = ()


@dataclass(slots=True)
class Evaluation:
    """One task as ``oom_evaluate_task`` saw it."""

    task: Task
    badness: BadnessTerms
    skipped: str | None = None
    """Why the scan passed over it without scoring (unkillable, outside the domain, previous victim...)."""

    @property
    def eligible(self) -> bool:
        return self.skipped is None and self.badness.eligible

    @property
    def reason(self) -> str | None:
        return self.skipped or self.badness.reason


@dataclass(slots=True)
class OomControl:
    """Mirror of ``struct oom_control`` plus the world the kernel would look at.

    Inputs: ``tasks`` in the kernel's scan order (global: creation order; memcg: pre-order cgroup walk),
    ``meminfo``, ``era``; ``memcg`` for a memcg OOM; ``nodemask`` for an MPOL_BIND allocation;
    ``cpuset_mems`` for a cpuset-constrained allocation; ``order`` (-1 = sysrq-f); ``current`` (pid of the
    allocating task, when known); ``sysctls``; ``uptime_s`` and ``hz`` feed the legacy heuristic.
    Computed by the functions below: ``constraint``, ``totalpages``, ``chosen``, ``chosen_points``.
    """

    tasks: Sequence[Task]
    meminfo: MemInfo
    era: Era
    page_size: int
    """The kernel's PAGE_SIZE in bytes (4096 on x86-64; 16/64 KiB on some arm64 and ppc64 kernels)."""
    memcg: MemcgLimits | None = None
    nodemask: tuple[int, ...] | None = None
    cpuset_mems: tuple[int, ...] | None = None
    order: int = 0
    current: int | None = None
    sysctls: VmSysctls = field(default_factory=VmSysctls)
    uptime_s: float = 0.0
    hz: int = 250
    user_hz: int = 100
    oom_groups: Mapping[str, bool] = field(default_factory=dict)
    """memcg path → memory.oom.group, for cgroups on the victim's path (cgroup v2)."""
    known_totalpages: int | None = None
    """T when it is already known (recovered from a kernel report, or computed once for a domain):
    :func:`constrained_alloc` keeps it and the preset ``constraint``."""
    # computed
    constraint: OomConstraint = OomConstraint.NONE
    totalpages: int = 0
    chosen: Task | None = None
    chosen_points: int = 0

    @property
    def is_sysrq(self) -> bool:
        return self.order == -1

    @property
    def is_memcg_oom(self) -> bool:
        return self.memcg is not None


# --------------------------------------------------------------------------- eligibility

def oom_unkillable_task(task: Task) -> str | None:
    """``oom_unkillable_task()``: global init and kernel threads are never OOM victims (all eras).

    ≤2.6.35 recognised kernel threads by ``!mm``, 2.6.36+ by PF_KTHREAD; a container's pid 1 is *not*
    global init and stays a candidate. Returns the reason, or None when the task is killable.
    """
    if task.is_global_init:
        return "global init (pid 1 of the initial pid namespace)"
    if task.is_kthread:
        return "kernel thread"
    return None


def _ineligible(era: Era, reason: str, **kw: object) -> BadnessTerms:
    value = LONG_MIN if era.initial_best == "long_min" else 0
    return BadnessTerms(points=value, eligible=False, reason=reason, **kw)  # type: ignore[arg-type]


def _page_table_pages(task: Task, era: Era, page_size: int) -> int:
    if era.pgtables == "pgtables_bytes" or (task.nr_ptes is None and task.nr_pmds is None):
        return task.pgtables_bytes // page_size
    ptes = task.nr_ptes or 0
    if era.pgtables == "nr_ptes+nr_pmds":
        return ptes + (task.nr_pmds or 0)
    return ptes


def _is_root(task: Task) -> tuple[bool, tuple[str, ...]]:
    if isinstance(task.cap_sys_admin, bool):
        return task.cap_sys_admin, ()
    return task.uid == 0, ("CAP_SYS_ADMIN not known: approximated by uid 0",)


# --------------------------------------------------------------------------- oom_badness

def oom_badness(task: Task, totalpages: int, era: Era, *, page_size: int) -> int:
    """``oom_badness()`` for releases 2.6.36 - 6.18 (era-selected); the kernel's return value.

    5.9+: ``long``, LONG_MIN when not eligible, may be negative. 3.5-5.8: pages, at least 1, 0 when not
    eligible. 2.6.36-3.4: per mille in [1, 1000], 0 when not eligible. For ≤2.6.35 use :func:`badness`.
    """
    return badness_terms(task, totalpages, era, page_size=page_size).points


def badness_terms(task: Task, totalpages: int, era: Era, *, page_size: int) -> BadnessTerms:
    """:func:`oom_badness` with every term kept, for explanations (same arithmetic, same result).

    2.6.36-3.4 (a63d83f427fb): ``(rss+nr_ptes+swap)*1000/T``, −30 for CAP_SYS_ADMIN, + adj, clamp
    [1, 1000]; 2.6.36-3.1 wraps ``points*1000`` at 32 bits.
    3.5-5.8 (a7f638f999ff): ``rss+swap+PT + adj*(T/1000)``; root bonus adj −30 (3.5-3.13) or −3% of
    points (3.14-4.16); at least 1.
    5.9-6.18 (9066e5cfb73c): the same sum without bonus or clamp; LONG_MIN when not eligible.
    """
    if era.scoring == "legacy":
        raise ValueError("the legacy heuristic needs the task list and uptime: use badness()")
    why = oom_unkillable_task(task)
    if why:
        return _ineligible(era, why)
    if not task.has_mm:
        return _ineligible(era, "no mm (exited or zombie)")
    adj = task.oom_score_adj
    if adj == OOM_SCORE_ADJ_MIN:
        return _ineligible(era, "oom_score_adj is -1000 (OOM_SCORE_ADJ_MIN)")
    if era.skips_oom_skip and _known(task.oom_skip):
        return _ineligible(era, "already reaped (MMF_OOM_SKIP)")
    if era.skips_in_vfork and _known(task.in_vfork):
        return _ineligible(era, "in the middle of vfork()")
    assumptions: tuple[str, ...] = ()
    if era.origin == "permille1000" and _known(task.oom_origin):
        return BadnessTerms(points=1000, eligible=True, reason="swapoff/KSM origin task (PF_OOM_ORIGIN)")
    if era.origin == "adj1000" and _known(task.oom_origin):
        adj = 1000
        assumptions += ("origin task: oom_score_adj raised to 1000 during swapoff/KSM unmerge",)

    rss = task.rss
    pt = _page_table_pages(task, era, page_size)
    base = rss + task.swapents + pt
    T = max(totalpages, 1)
    root_bonus = 0
    overflowed = False

    if era.scoring == "permille":
        if era.overflow32:
            p = _wrap(base, 32)
            p = _wrap(p * 1000, 32)
            scaled = _wrap((p % 2**64) // T, 32)  # int / unsigned long: converted to unsigned long
            overflowed = scaled != base * 1000 // T
        else:
            scaled = base * 1000 // T
        points = scaled
        if era.root_bonus == "permille30":
            root, notes = _is_root(task)
            assumptions += notes
            if root:
                root_bonus = 30
                points -= 30
        points += adj
        unclamped = points
        clamped_points = 1 if points <= 0 else min(points, 1000)
        return BadnessTerms(points=clamped_points, eligible=True, rss=rss, swapents=task.swapents, pgtables=pt,
                            base=base, adj=adj, adj_term=adj, root_bonus=root_bonus, unclamped=unclamped,
                            clamped=clamped_points != unclamped, overflowed=overflowed,
                            assumptions=assumptions)

    # page-based eras
    points = base
    if era.root_bonus in ("adj30", "pct3"):
        root, notes = _is_root(task)
        assumptions += notes
        if root and era.root_bonus == "adj30":
            adj -= 30
            root_bonus = 30
        elif root:
            root_bonus = points * 3 // 100
            points -= root_bonus
    adj_term = adj * (T // 1000)
    points += adj_term
    if era.scoring == "pages":
        unclamped = points
        final = points if points > 0 else 1
        return BadnessTerms(points=final, eligible=True, rss=rss, swapents=task.swapents, pgtables=pt, base=base,
                            adj=task.oom_score_adj, adj_term=adj_term, root_bonus=root_bonus, unclamped=unclamped,
                            clamped=final != unclamped, assumptions=assumptions)
    return BadnessTerms(points=points, eligible=True, rss=rss, swapents=task.swapents, pgtables=pt, base=base,
                        adj=adj, adj_term=adj_term, unclamped=points, assumptions=assumptions)


# --------------------------------------------------------------------------- legacy heuristic

def legacy_oom_adj(task: Task) -> int:
    """The task's ``oom_adj`` for a ≤2.6.35 kernel: as printed, else converted from oom_score_adj."""
    if task.legacy_oom_adj is not None:
        return task.legacy_oom_adj
    return oom_score_adj_to_oom_adj(task.oom_score_adj, (2, 6, 36))


def badness(task: Task, uptime_s: float, era: Era, tasks_by_pid: Mapping[int, Task] | None = None, *,
            hz: int = 250, user_hz: int = 100) -> BadnessTerms:
    """Legacy ``badness()`` of mm/oom_kill.c, releases ≤ 2.6.35 (spec §1.1).

    Inputs that logs never show (cpu time, start time, nice, capabilities) come from a live snapshot;
    the node-overlap (cpuset) factor is assumed to pass. ``hz`` is the kernel's CONFIG_HZ (cpu times
    in /proc are in USER_HZ ticks).
    """
    why = oom_unkillable_task(task)
    if why:
        return _ineligible(era, why)
    if not task.has_mm:
        return _ineligible(era, "no mm (kernel thread, exited or zombie)")
    oom_adj = legacy_oom_adj(task)
    if oom_adj == OOM_DISABLE:
        return _ineligible(era, "oom_adj is -17 (OOM_DISABLE)")
    if _known(task.oom_origin):
        return BadnessTerms(points=ULONG_MAX, eligible=True, reason="swapoff origin (PF_OOM_ORIGIN/PF_SWAPOFF)")
    steps: list[tuple[str, int]] = []
    assumptions = ["the cpuset node-overlap factor (/8) is assumed not to apply"]
    points = task.total_vm
    steps.append(("total_vm (virtual size, pages)", points))
    for cpid in task.children:
        child = (tasks_by_pid or {}).get(cpid)
        if child is None or not child.has_mm:
            continue
        if task.mm_id is not None and child.mm_id == task.mm_id:
            continue
        points += child.total_vm if era.legacy_children == "full" else child.total_vm // 2 + 1
    if points != steps[-1][1]:
        steps.append(("+ children's total_vm" + ("" if era.legacy_children == "full" else "/2+1"), points))
    shift_hz = max(int(hz).bit_length() - 1, 0)
    jiffies = (task.utime_ticks + task.stime_ticks) * hz // user_hz
    cpu_time = jiffies >> (shift_hz + 3)
    start = task.start_time_s
    run_time = int(uptime_s - start) >> 10 if uptime_s >= start else 0
    if cpu_time:
        points //= int_sqrt(cpu_time)
        steps.append((f"/ int_sqrt(cpu_time={cpu_time})", points))
    if run_time:
        points //= int_sqrt(int_sqrt(run_time))
        steps.append((f"/ int_sqrt(int_sqrt(run_time={run_time}))", points))
    if task.nice > 0:
        points *= 2
        steps.append(("* 2 (niced)", points))
    if era.legacy_privileged == "uid0_or_admin":
        priv = task.uid == 0 or _known(task.cap_sys_admin)
    else:
        priv = _known(task.cap_sys_admin) or _known(task.cap_sys_resource)
    if priv:
        points //= 4
        steps.append(("/ 4 (privileged)", points))
    if _known(task.cap_sys_rawio):
        points //= 4
        steps.append(("/ 4 (CAP_SYS_RAWIO)", points))
    if oom_adj > 0:
        points = (max(points, 1) << oom_adj) & ULONG_MAX
        steps.append((f"<< oom_adj {oom_adj}", points))
    elif oom_adj < 0:
        points >>= -oom_adj
        steps.append((f">> {-oom_adj} (oom_adj {oom_adj})", points))
    return BadnessTerms(points=points, eligible=True, base=task.total_vm, adj=oom_adj, unclamped=points,
                        legacy=tuple(steps), assumptions=tuple(assumptions))


# --------------------------------------------------------------------------- /proc/PID/oom_score

def proc_oom_score(points: int, totalpages: int, era: Era) -> int:
    """``/proc/PID/oom_score`` (fs/proc/base.c) from the badness computed with the *global* T.

    ≤2.6.35: the raw badness; 2.6.36-3.4: the 0..1000 badness; 3.5-5.8: ``points*1000/T``;
    5.9-6.18: ``0`` for LONG_MIN else ``(1000 + b*1000/T) * 2 / 3`` (printed as unsigned long).
    """
    if era.proc_score in ("raw", "badness"):
        return points
    T = max(totalpages, 1)
    if era.proc_score == "permille":
        return points * 1000 // T
    if points == LONG_MIN:
        return 0
    # unsigned long points = (1000 + badness * 1000 / (long)totalpages) * 2 / 3;
    return c_div((1000 + c_div(points * 1000, T)) * 2, 3) % 2**64


# --------------------------------------------------------------------------- totalpages

def mem_cgroup_get_max(memcg: MemcgLimits, era: Era, total_swap_pages: int, *, page_size: int) -> int:
    """``mem_cgroup_get_limit()`` / ``mem_cgroup_get_max()`` in pages (spec §3).

    2.6.36-3.5: ``min(mem + total_swap, memsw)``; 3.6-5.8: swap counted only when swappiness != 0,
    v2 ``swap.max`` capped by total swap (4.5+); 5.9+: v1 ``mem + min(memsw - mem, total_swap)``,
    v2 ``mem + min(swap.max, total_swap)``, both only when swappiness != 0. Unlimited = PAGE_COUNTER_MAX.
    """
    unlimited = page_counter_max(page_size)
    mem = memcg.memory_max if memcg.memory_max is not None else unlimited
    memsw = memcg.memsw_max if memcg.memsw_max is not None else unlimited
    swap = memcg.swap_max if memcg.swap_max is not None else unlimited
    if era.memcg_limit == "min_swap_memsw":
        return min(mem + total_swap_pages, memsw)
    if memcg.swappiness == 0:
        return mem
    if era.memcg_limit == "swappiness":
        if memcg.version == 2:
            return min(mem + min(swap, total_swap_pages), memsw)
        return min(mem + total_swap_pages, memsw)
    if memcg.version == 2:
        return mem + min(swap, total_swap_pages)
    return mem + min(max(memsw - mem, 0), total_swap_pages)


def constrained_alloc(oc: OomControl) -> OomConstraint:
    """``constrained_alloc()`` (2.6.36-6.18): sets ``oc.constraint`` and ``oc.totalpages``.

    memcg: the memcg limit (0 → 1); MPOL_BIND nodemask smaller than all nodes: swap + node pages of
    the nodemask; cpuset: swap + node pages of ``cpuset_mems``; otherwise totalram + swap. Node sizes
    are ``meminfo.node_present_pages`` (present pages, 5.4+; spanned before, not distinguishable here).
    """
    mi = oc.meminfo
    if oc.known_totalpages is not None:
        oc.totalpages = oc.known_totalpages
        if oc.memcg is not None:
            oc.constraint = OomConstraint.MEMCG
        return oc.constraint
    oc.totalpages = mi.totalram_pages + mi.total_swap_pages
    if oc.memcg is not None:
        oc.totalpages = mem_cgroup_get_max(oc.memcg, oc.era, mi.total_swap_pages, page_size=oc.page_size) or 1
        oc.constraint = OomConstraint.MEMCG
        return oc.constraint
    nodes = mi.node_present_pages

    def span(ids: tuple[int, ...]) -> int:
        return mi.total_swap_pages + sum(nodes[i] for i in ids if 0 <= i < len(nodes))

    if oc.nodemask is not None and nodes and not set(range(len(nodes))) <= set(oc.nodemask):
        oc.totalpages = span(oc.nodemask)
        oc.constraint = OomConstraint.MEMORY_POLICY
    elif oc.cpuset_mems is not None and nodes and not set(range(len(nodes))) <= set(oc.cpuset_mems):
        oc.totalpages = span(oc.cpuset_mems)
        oc.constraint = OomConstraint.CPUSET
    else:
        oc.constraint = OomConstraint.NONE
    return oc.constraint


# --------------------------------------------------------------------------- selection

def _score(task: Task, oc: OomControl, by_pid: Mapping[int, Task]) -> BadnessTerms:
    if oc.era.scoring == "legacy":
        return badness(task, oc.uptime_s, oc.era, by_pid, hz=oc.hz, user_hz=oc.user_hz)
    return badness_terms(task, oc.totalpages, oc.era, page_size=oc.page_size)


def _origin_points(era: Era) -> int | None:
    return {"max": LONG_MAX, "ulong_max": ULONG_MAX}.get(era.origin)


def oom_evaluate_task(task: Task, oc: OomControl, *, by_pid: Mapping[int, Task] | None = None,
                      ) -> Evaluation:
    """``oom_evaluate_task()`` (4.8-6.18; earlier kernels inlined the same steps in select_bad_process).

    Skips unkillable tasks, previous victims already reaped (MMF_OOM_SKIP), and picks an origin task
    (swapoff/KSM) at once; otherwise scores with ``oom_badness``. Updates ``oc.chosen`` with the era's
    comparison: ``>=`` (later task wins) or ``>`` (earlier wins), from the era's initial best.
    """
    era = oc.era
    tie = era.tie(oc.is_memcg_oom)
    why = oom_unkillable_task(task)
    if why:
        return Evaluation(task, _ineligible(era, why), skipped=why)
    if not oc.is_sysrq and era.skips_oom_skip and _known(task.oom_skip):
        return Evaluation(task, _ineligible(era, "already reaped (MMF_OOM_SKIP)"),
                          skipped="previous OOM victim, already reaped (MMF_OOM_SKIP)")
    if _known(task.oom_origin) and _origin_points(era) is not None and era.scoring != "legacy":
        terms = BadnessTerms(points=_origin_points(era) or 0, eligible=True,
                             reason="swapoff/KSM origin task: chosen at once")
        oc.chosen, oc.chosen_points = task, terms.points
        return Evaluation(task, terms)
    terms = _score(task, oc, by_pid or {})
    ev = Evaluation(task, terms)
    if not terms.eligible:
        return ev
    points = terms.points
    if era.initial_best == "none":
        accept = oc.chosen is None or points > oc.chosen_points
    elif era.initial_best == "zero":
        accept = points > 0 and (points > oc.chosen_points or (tie == "last" and points == oc.chosen_points))
    else:
        accept = points > oc.chosen_points or (tie == "last" and points == oc.chosen_points)
    if accept:
        oc.chosen, oc.chosen_points = task, points
    return ev


class OomOutcome(enum.StrEnum):
    """What ``out_of_memory`` ends in."""

    KILL = "kill"
    """The chosen task (or a sacrificed child, <5.1) is killed."""
    KILL_ALLOCATING_TASK = "kill_allocating_task"
    """vm.oom_kill_allocating_task=1: the allocating task is killed without a scan (global OOM only)."""
    NO_KILLABLE = "no_killable"
    """Nothing eligible: a memcg OOM fails the charge; a global OOM panics (then ``PANIC``)."""
    PANIC = "panic"
    """vm.panic_on_oom, or a global OOM with nothing to kill."""
    OOM_KILL_DISABLED = "oom_kill_disabled"
    """cgroup v1 ``memory.oom_control`` oom_kill_disable=1: nobody is killed; the charging tasks wait."""


@dataclass(slots=True)
class Selection:
    """What ``select_bad_process`` + ``oom_kill_process`` decided, with every evaluation kept."""

    evaluations: list[Evaluation]
    chosen: Task | None
    chosen_points: int
    victim: Task | None
    """The task actually killed: ``chosen``, or the child sacrificed in its place (<5.1)."""
    sacrificed_for: Task | None = None
    outcome: OomOutcome = OomOutcome.KILL
    """``kill``, ``panic``, ``kill_allocating_task``, ``no_killable`` (then a global OOM panics)."""
    message: str | None = None
    also_killed: list[Task] = field(default_factory=list)
    """memory.oom.group members killed with the victim."""
    oom_group: str | None = None


def select_bad_process(oc: OomControl) -> list[Evaluation]:
    """``select_bad_process()`` (all eras): evaluates every task in scan order; sets ``oc.chosen``.

    The initial best is LONG_MIN (5.9+), 0 (2.6.36-5.8) or "none yet" (≤2.6.35), which with the era's
    ``>``/``>=`` gives its tie rule (spec §4.2).
    """
    oc.chosen = None
    oc.chosen_points = LONG_MIN if oc.era.initial_best == "long_min" else 0
    by_pid = {t.pid: t for t in oc.tasks}
    return [oom_evaluate_task(t, oc, by_pid=by_pid) for t in oc.tasks]


def check_panic_on_oom(oc: OomControl) -> str | None:
    """``check_panic_on_oom()``: the panic message when vm.panic_on_oom makes this OOM panic, else None.

    1 panics only for CONSTRAINT_NONE; 2 for every constraint (memcg included); sysrq never panics.
    """
    mode = oc.sysctls.panic_on_oom
    if not mode or oc.is_sysrq:
        return None
    if mode != 2 and oc.constraint != OomConstraint.NONE:
        return None
    return ("Kernel panic - not syncing: Out of memory: " +
            ("compulsory panic_on_oom is enabled" if mode == 2 else "system-wide panic_on_oom is enabled"))


def _sacrifice_child(chosen: Task, oc: OomControl, by_pid: Mapping[int, Task]) -> Task:
    era = oc.era
    kids = [by_pid[c] for c in chosen.children if c in by_pid]
    kids = [k for k in kids if not (chosen.mm_id is not None and k.mm_id == chosen.mm_id)]
    if era.sacrifice_child == "first_child":
        for k in kids:
            if k.has_mm and legacy_oom_adj(k) != OOM_DISABLE and not oom_unkillable_task(k):
                return k
        return chosen
    best, best_points = chosen, 0
    for k in kids:
        pts = _score(k, oc, by_pid).points
        if pts > best_points:
            best, best_points = k, pts
    return best


def parent_mem_cgroup(path: str) -> str | None:
    """``"/a/b"`` -> ``"/a"``, ``"/a"`` -> ``"/"``, ``"/"`` (the root) -> None."""
    if path == "/":
        return None
    return path.rsplit("/", 1)[0] or "/"


def nearest_limited_memcg(own_then_ancestors: Iterable[MemcgLimits]) -> MemcgLimits | None:
    """The memcg whose limit an OOM in a cgroup hits: the first with a ``memory.max`` of its own, walking from
    the cgroup up (``try_charge`` fails at the first page counter over its limit); None: only a global OOM."""
    return next((m for m in own_then_ancestors if m.memory_max is not None), None)


def mem_cgroup_is_descendant(path: str, ancestor: str) -> bool:
    """``mem_cgroup_is_descendant()`` on canonical cgroup paths: True for ``path == ancestor`` too."""
    return ancestor == "/" or path == ancestor or path.startswith(ancestor + "/")


def mem_cgroup_get_oom_group(victim_memcg: str | None, domain: str | None,
                             oom_group: Mapping[str, bool] | Callable[[str], bool]) -> str | None:
    """``mem_cgroup_get_oom_group()`` (mm/memcontrol.c, 4.19+): the cgroup whose whole subtree dies with
    the victim.

    Walk up from the victim's memcg to the OOM domain (None or ``"/"`` for a global OOM), inclusive, and
    keep the *highest* memcg with ``memory.oom.group`` = 1. The root memcg is never chosen (it has no
    such file), nor anything when the victim sits in the root or outside the domain. ``oom_group`` maps
    a canonical cgroup path to its flag (missing = 0) or is a predicate; cgroup v1 has no oom.group.
    """
    flag = oom_group if callable(oom_group) else (lambda p: bool(oom_group.get(p, False)))
    dom = domain or "/"
    if not victim_memcg or victim_memcg == "/" or not mem_cgroup_is_descendant(victim_memcg, dom):
        return None
    target = None
    cur: str | None = victim_memcg
    while cur is not None and cur != "/":
        if flag(cur):
            target = cur
        if cur == dom:
            break
        cur = parent_mem_cgroup(cur)
    return target


def oom_kill_process(oc: OomControl, evaluations: list[Evaluation]) -> Selection:
    """``oom_kill_process()``: the chosen task, sacrifice-child (≤5.0), memory.oom.group (4.19+).

    Every process sharing the victim's mm dies with it (not modelled as extra rows: /proc cannot tell
    which processes share an mm). memory.oom.group kills the whole group subtree except adj -1000 and
    global init.
    """
    chosen = oc.chosen
    sel = Selection(evaluations, chosen, oc.chosen_points, chosen)
    if chosen is None:
        sel.outcome = OomOutcome.NO_KILLABLE
        sel.message = "Out of memory and no killable processes..."
        return sel
    by_pid = {t.pid: t for t in oc.tasks}
    if oc.era.sacrifice_child and chosen.children:
        victim = _sacrifice_child(chosen, oc, by_pid)
        if victim is not chosen:
            sel.victim, sel.sacrificed_for = victim, chosen
    group = mem_cgroup_get_oom_group(sel.victim.memcg if sel.victim else None,
                                     oc.memcg.path if oc.memcg else None, oc.oom_groups)
    if group:
        sel.oom_group = group
        sel.also_killed = [t for t in oc.tasks if t is not sel.victim and t.memcg is not None
                           and mem_cgroup_is_descendant(t.memcg, group)
                           and t.oom_score_adj != OOM_SCORE_ADJ_MIN and not t.is_global_init and t.has_mm]
    return sel


def out_of_memory(oc: OomControl) -> Selection:
    """``out_of_memory()`` from constrained_alloc to the victim (2.6.36-6.18; ≤2.6.35 through the same
    steps with the legacy heuristic). Does not model: OOM notifiers, an exiting ``current``, or a previous
    victim still being reaped (the kernel then aborts without killing)."""
    constrained_alloc(oc)
    if oc.memcg is not None and oc.memcg.oom_kill_disable:
        # mem_cgroup_oom(): memcg->oom_kill_disable makes the charge wait (v1 only) instead of calling
        # out_of_memory; the tasks sleep until memory is freed or the limit raised.
        evs = select_bad_process(oc)
        return Selection(evs, None, 0, None, outcome=OomOutcome.OOM_KILL_DISABLED,
                         message=f"memory.oom_control oom_kill_disable=1 in {oc.memcg.path}: the kernel kills "
                                 "nobody; the tasks that need memory wait until some is freed or the limit raised")
    panic = check_panic_on_oom(oc)
    if panic:
        evs = select_bad_process(oc)
        return Selection(evs, None, 0, None, outcome=OomOutcome.PANIC, message=panic)
    if (oc.sysctls.oom_kill_allocating_task and not oc.is_memcg_oom and oc.current is not None):
        cur = next((t for t in oc.tasks if t.pid == oc.current), None)
        if (cur is not None and cur.has_mm and not oom_unkillable_task(cur)
                and cur.oom_score_adj != OOM_SCORE_ADJ_MIN):
            evs = select_bad_process(oc)
            oc.chosen, oc.chosen_points = cur, 0
            sel = oom_kill_process(oc, evs)
            sel.outcome = OomOutcome.KILL_ALLOCATING_TASK
            sel.message = "Out of memory (oom_kill_allocating_task)"
            return sel
    evs = select_bad_process(oc)
    sel = oom_kill_process(oc, evs)
    if sel.outcome is OomOutcome.NO_KILLABLE and oc.constraint == OomConstraint.NONE and not oc.is_sysrq:
        sel.outcome = OomOutcome.PANIC
        sel.message = "Out of memory and no killable processes... / Kernel panic - not syncing: System is deadlocked on memory"
    return sel


# --------------------------------------------------------------------------- ranking

def kill_order(evaluations: Sequence[Evaluation], era: Era, *, memcg: bool = False) -> list[Evaluation]:
    """All evaluations in the order the kernel would pick them, victim first, if each kill changed nothing
    else: descending points; among equal points the era's tie rule (later-scanned first for ``last``);
    ineligible tasks at the end in scan order. Equals what repeated ``select_bad_process`` calls give."""
    sign = -1 if era.tie(memcg) == "last" else 1
    elig: list[tuple[int, int, Evaluation]] = []  # (-points, ±scan index, e): the index is unique
    rest: list[Evaluation] = []
    for i, e in enumerate(evaluations):
        if ranked(e, era):
            elig.append((-e.badness.points, sign * i, e))
        else:
            rest.append(e)
    elig.sort()
    return [e for _, _, e in elig] + rest


def ranked(ev: Evaluation, era: Era) -> bool:
    """Could ``select_bad_process`` ever pick ``ev``? Eligible, and above 0 points where the initial best is 0."""
    return ev.eligible and (era.initial_best != "zero" or ev.badness.points > 0)


# --------------------------------------------------------------------------- oom_adj conversions

def oom_adj_to_oom_score_adj(oom_adj: int) -> int:
    """Writing legacy ``/proc/PID/oom_adj`` (2.6.36+): 15 → 1000, else ``oom_adj * 1000 / 17``
    (truncated toward zero; -17 → -1000, -16 → -941, 14 → 823)."""
    if oom_adj == OOM_ADJUST_MAX:
        return 1000
    return c_div(oom_adj * 1000, -OOM_DISABLE)


def oom_score_adj_to_oom_adj(score_adj: int, version: tuple[int, int, int] = (6, 18, 0)) -> int:
    """Reading ``oom_adj`` for a given oom_score_adj.

    2.6.36-3.6 (both stored; set when oom_score_adj is written): -1000 → -17, else ``s * 15 / 1000``.
    3.7+ (01dc52ebdf47, derived on read): 1000 → 15, else ``s * 17 / 1000``; values 942..999 read 16
    until the clamp to 15 (Oct 2020, ~5.11).
    """
    if version < (3, 7, 0):
        return OOM_DISABLE if score_adj == OOM_SCORE_ADJ_MIN else c_div(score_adj * OOM_ADJUST_MAX, 1000)
    if score_adj == 1000:
        return OOM_ADJUST_MAX
    v = c_div(score_adj * -OOM_DISABLE, 1000)
    if version >= (5, 11, 0):
        v = min(v, OOM_ADJUST_MAX)
    return v


# --------------------------------------------------------------------------- dump_tasks

# (first release, line before the header, header, row format) — spec §6.2; %Nd widths as printk's.
DUMP_TASKS_FORMATS: tuple[tuple[tuple[int, int, int], str | None, str, str], ...] = (
    ((2, 6, 25), None, "[ pid ]   uid  tgid total_vm      rss cpu oom_adj name",
     "[{pid:5d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {cpu:3d}     {oom_adj:3d} {name}"),
    ((2, 6, 36), None, "[ pid ]   uid  tgid total_vm      rss cpu oom_adj oom_score_adj name",
     "[{pid:5d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {cpu:3d}     {oom_adj:3d}         {adj:5d} {name}"),
    ((3, 6, 0), None, "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name",
     "[{pid:5d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {nr_ptes:7d} {swapents:8d}         {adj:5d} {name}"),
    ((4, 0, 0), None, "[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name",
     "[{pid:5d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {nr_ptes:7d} {nr_pmds:7d} {swapents:8d}         {adj:5d} {name}"),
    ((4, 15, 0), None, "[ pid ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
     "[{pid:5d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {pgtables_bytes:8d} {swapents:8d}         {adj:5d} {name}"),
    ((4, 19, 0), "Tasks state (memory values in pages):",
     "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
     "[{pid:7d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {pgtables_bytes:8d} {swapents:8d}         {adj:5d} {name}"),
    ((6, 8, 0), "Tasks state (memory values in pages):",
     "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
     "[{pid:7d}] {uid:5d} {tgid:5d} {total_vm:8d} {rss:8d} {rss_anon:8d} {rss_file:8d} {rss_shmem:9d} "
     "{pgtables_bytes:8d} {swapents:8d}         {adj:5d} {name}"),
)


def dump_tasks(tasks: Sequence[Task], version: tuple[int, int, int], *, page_size: int) -> list[str]:
    """``dump_tasks()``: the task table a kernel of ``version`` prints (2.6.25+; spec §6.2), in scan order.

    Like the kernel it omits global init, kernel threads and tasks without an mm, and it *does* list
    adj -1000 tasks and reaped victims. Page-table counts for 3.6-4.14 come from ``nr_ptes``/``nr_pmds``,
    else from ``pgtables_bytes``.
    """
    fmt = [f for f in DUMP_TASKS_FORMATS if f[0] <= version]
    if not fmt:
        return []
    _, pre, header, row = fmt[-1]
    out = ([pre] if pre else []) + [header]
    for t in tasks:
        if t.is_global_init or t.is_kthread or not t.has_mm:
            continue
        pt_pages = t.pgtables_bytes // page_size
        out.append(row.format(
            pid=t.pid, uid=t.uid, tgid=t.tgid if t.tgid is not None else t.pid, total_vm=t.total_vm, rss=t.rss,
            rss_anon=t.rss_anon, rss_file=t.rss_file, rss_shmem=t.rss_shmem, swapents=t.swapents,
            pgtables_bytes=t.pgtables_bytes, nr_ptes=t.nr_ptes if t.nr_ptes is not None else pt_pages,
            nr_pmds=t.nr_pmds or 0, cpu=0, oom_adj=legacy_oom_adj(t), adj=t.oom_score_adj, name=t.name))
    return out
