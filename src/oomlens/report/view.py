"""What an HTML page shows, as typed values built from the analysis results (no HTML, no charting here).

* :func:`badness_chart`: one :class:`Bar` per OOM candidate of a :class:`~oomlens.analysis.ranking.Ranking`,
  its badness split into the kernel's terms (anon, file, shmem, swap, page tables, root bonus, adj term) in
  the era's unit, with the victim and the runner-up, the margin and the ``explain`` counterfactuals.
* :func:`event_view`: one post-mortem event (:class:`~oomlens.analysis.postmortem.EventAnalysis`).
* :func:`timeline`: the events of a post-mortem over time, one lane per host.

Units follow the era: pages for 3.5+ (``pages``, ``signed``), per mille of T for 2.6.36-3.4
(``permille``), heuristic points for <= 2.6.35 (``legacy``, which has no terms to split).

Standard library only, so the views are testable without the ``html`` extra.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from oomlens.analysis.postmortem import EventAnalysis, Verdict
from oomlens.analysis.ranking import Ranking, ScoredTask, explain

TERMS: tuple[tuple[str, str], ...] = (
    ("anon", "anon rss"),
    ("file", "file rss"),
    ("shmem", "shmem rss"),
    ("rss", "rss (the log does not split anon/file/shmem)"),
    ("swap", "swap entries"),
    ("pgtables", "page tables"),
    ("root_bonus", "root bonus (CAP_SYS_ADMIN)"),
    ("adj", "oom_score_adj term"),
    ("legacy", "legacy heuristic points (no terms to split)"),
    ("other", "kernel special case (see the details)"),
)
"""Term keys in stacking order, with their legend labels."""


@dataclass(frozen=True, slots=True)
class Unit:
    kind: str
    """``pages``, ``permille`` or ``points`` (legacy heuristic)."""
    label: str
    """Axis label, e.g. ``badness (pages)``."""
    page_size: int


def unit_for(ranking: Ranking) -> Unit:
    scoring = ranking.era.scoring
    if scoring == "legacy":
        return Unit("points", f"badness (points of the <=2.6.35 heuristic, era {ranking.era.name}; not pages)",
                    ranking.page_size)
    if scoring == "permille":
        return Unit("permille", f"badness (‰ of T = {ranking.totalpages} pages; era {ranking.era.name}, not pages)",
                    ranking.page_size)
    return Unit("pages", f"badness (pages of {ranking.page_size // 1024} KiB; era {ranking.era.name})", ranking.page_size)


@dataclass(frozen=True, slots=True)
class Bar:
    """One candidate: its terms (in the chart's unit, summing to ``unclamped``) and its badness."""

    pid: int
    name: str
    rank: int | None
    oom_score_adj: int
    terms: tuple[tuple[str, float], ...]
    """(term key from :data:`TERMS`, value): a negative adj term or root bonus is negative."""
    badness: int
    """The kernel's value (after any clamp)."""
    unclamped: int
    clamped: bool
    victim: bool
    runner_up: bool
    kernel_victim: bool = False
    """Post-mortem: the task the kernel killed (when the log says so)."""
    detail: tuple[str, ...] = ()
    """Hover lines: exact inputs (pages), legacy steps, assumptions."""

    def term(self, key: str) -> float:
        return next((v for k, v in self.terms if k == key), 0.0)


@dataclass(frozen=True, slots=True)
class Counterfactuals:
    victim_pid: int
    victim_name: str
    runner_up_pid: int | None
    runner_up_name: str | None
    margin: int | None
    """Victim's badness minus the runner-up's, in the chart's unit."""
    spare_adj: int | None
    """Highest oom_score_adj at which the victim would not be chosen (None: only -1000 spares it)."""
    runner_up_victim_adj: int | None
    """Lowest oom_score_adj at which the runner-up would be chosen instead (None: no adj <= 1000 does)."""
    shed_pages: int | None
    notes: tuple[str, ...] = ()
    t_unknown: bool = False
    """T is unknown (the chart is at a lower bound of T): an adj counterfactual scales with T, so only ±1 (the least
    change, whatever T) is given."""


@dataclass(frozen=True, slots=True)
class Chart:
    unit: Unit
    totalpages: int
    bars: tuple[Bar, ...]
    """Every eligible candidate, in kill order (victim first)."""
    counterfactuals: Counterfactuals | None
    not_eligible: int
    victim_label: str = "victim"
    """What the chart's victim is: the next ``victim`` (``top``), or the ``model's pick`` that a post-mortem sets
    beside the task the kernel killed."""

    def term_keys(self) -> list[str]:
        """The terms some candidate has (non-zero), in :data:`TERMS` order."""
        have = {k for b in self.bars for k, v in b.terms if v}
        return [k for k, _ in TERMS if k in have]


def _split(s: ScoredTask, scoring: str, root_rule: str | None) -> tuple[tuple[str, float], ...]:
    t, b = s.task, s.terms
    parts: list[tuple[str, float]] = (
        [("anon", t.rss_anon), ("file", t.rss_file), ("shmem", t.rss_shmem)] if t.rss_split_known
        else [("rss", t.rss)])
    parts += [("swap", b.swapents), ("pgtables", b.pgtables)]
    if scoring == "permille":
        # the kernel scales the sum once: base * 1000 / T, truncated (or wrapped at 32 bits before 3.2);
        # split that integer in proportion so the segments add up to exactly what the kernel computed
        scaled = b.unclamped - b.adj_term + b.root_bonus
        parts = [(k, (v * scaled / b.base) if b.base else 0.0) for k, v in parts]
    out = [(k, float(v)) for k, v in parts]
    if root_rule in ("pct3", "permille30") and b.root_bonus:
        out.append(("root_bonus", float(-b.root_bonus)))
    # adj30 (3.5-3.13) lowers adj itself by 30: the bonus is inside the adj term
    out.append(("adj", float(b.adj_term)))
    # an origin task (swapoff/KSM, 2.6.36-3.1) is given 1000 outright: no terms add up to it
    target = b.points if b.reason else b.unclamped
    rest = target - sum(v for _, v in out)
    if abs(rest) > 1e-6 * max(1, abs(target)):
        out.append(("other", rest))
    return tuple(out)


def _detail(s: ScoredTask, ranking: Ranking) -> tuple[str, ...]:
    t, b = s.task, s.terms
    ps = ranking.page_size
    lines = [f"oom_score_adj {t.oom_score_adj}, uid {t.uid}"]
    if b.legacy:
        lines += [f"{step}: {pts}" for step, pts in b.legacy]
    else:
        lines.append(f"rss {t.rss} pages ({_mib(t.rss, ps)}) + swap {b.swapents} + page tables {b.pgtables}"
                     f" = {b.base} pages")
        if ranking.era.root_bonus == "adj30" and b.root_bonus:
            lines.append("root bonus: adj lowered by 30 (CAP_SYS_ADMIN)")
        lines.append(f"adj term {b.adj_term}")
    if b.clamped:
        lines.append(f"sum {b.unclamped}, clamped by the kernel to {b.points}")
    if b.overflowed:
        lines.append("points*1000 wrapped at 32 bits, as that kernel computed it")
    lines += list(b.assumptions)
    return tuple(lines)


def _mib(pages: int, page_size: int) -> str:
    return f"{pages * page_size / 2**20:.1f} MiB"


def badness_chart(ranking: Ranking, kernel_victim: int | None = None, victim_label: str = "victim",
                  t_unknown: bool = False) -> Chart:
    """Every candidate of ``ranking`` with its terms, the victim, the runner-up and the counterfactuals;
    ``victim_label`` names the ranking's victim (see :attr:`Chart.victim_label`)."""
    era = ranking.era
    victim = ranking.victim
    eligible = ranking.eligible
    runner = next((s for s in eligible if victim is None or s.task.pid != victim.task.pid), None)
    bars = []
    for s in eligible:
        b = s.terms
        if era.scoring == "legacy":
            terms: tuple[tuple[str, float], ...] = (("legacy", float(b.points)),)
        else:
            terms = _split(s, era.scoring, era.root_bonus)
        bars.append(Bar(pid=s.task.pid, name=s.task.name, rank=s.rank, oom_score_adj=s.task.oom_score_adj,
                        terms=terms, badness=b.points, unclamped=b.unclamped if era.scoring != "legacy" else b.points,
                        clamped=b.clamped, victim=victim is not None and s is victim,
                        runner_up=runner is not None and s is runner and victim is not None,
                        kernel_victim=kernel_victim == s.task.pid, detail=_detail(s, ranking)))
    cf = None
    if victim is not None:
        ex = explain(ranking, victim.task.pid)
        ru_adj = explain(ranking, runner.task.pid).victim_adj if runner is not None else None
        cf = Counterfactuals(victim_pid=victim.task.pid, victim_name=victim.task.name,
                             runner_up_pid=runner.task.pid if runner else None,
                             runner_up_name=runner.task.name if runner else None,
                             margin=ex.margin, spare_adj=ex.spare_adj if not t_unknown or ex.spare_adj == -1 else None,
                             runner_up_victim_adj=ru_adj if not t_unknown or ru_adj == 1 else None,
                             shed_pages=ex.shed_pages, notes=tuple(ex.notes), t_unknown=t_unknown)
    return Chart(unit=unit_for(ranking), totalpages=ranking.totalpages, bars=tuple(bars), counterfactuals=cf,
                 not_eligible=len(ranking.tasks) - len(eligible), victim_label=victim_label)


# --------------------------------------------------------------------------- post-mortem events

@dataclass(frozen=True, slots=True)
class EventView:
    index: int
    """1-based position in the input."""
    source: str
    lines: tuple[int, int]
    host: str | None
    time_text: str | None
    """The time as the log printed it (wall clock, else ``[uptime]`` seconds)."""
    kernel_release: str | None
    era: str | None
    era_source: str
    domain: str
    totalpages: int | None
    totalpages_exact: bool
    verdict: Verdict
    reason: str | None
    kernel_victim: tuple[int, str] | None
    model_victim: tuple[int, str] | None
    chart: Chart | None
    """None when the event has no ranking (no task table, legacy heuristic...) or past the chart limit."""
    no_chart: str | None
    notes: tuple[str, ...] = ()
    chart_omitted: bool = False
    """The event has a chart, left out for the page's chart limit (``with_chart`` False)."""


def event_view(index: int, a: EventAnalysis, with_chart: bool = True) -> EventView:
    ev = a.event
    kv = (ev.victim_pid, ev.victim_name or "?") if ev.victim_pid is not None else None
    mv = (a.model_victim.pid, a.model_victim.name) if a.model_victim is not None else None
    if a.table_incomplete:
        mv = None   # the text output says so too
    chart = None
    no_chart = None
    omitted = False
    if a.ranking is None:
        no_chart = "no ranking: " + (a.reason or "the log lacks a task table")
    elif a.t_dependent:
        no_chart = ("no chart: T is unknown and the badness of some candidates depends on it (their terms are "
                    "formulas in T; see the JSON's badness_linear)")
    elif not with_chart:
        omitted = True
        no_chart = "chart omitted: the page shows the first events' charts only (see the notice at the top)"
    else:
        chart = badness_chart(a.ranking, kernel_victim=ev.victim_pid, victim_label="model's pick",
                              t_unknown=a.t_low is not None)
    when = ev.timestamp or (f"[{ev.uptime:.6f}]" if ev.uptime is not None else None)
    return EventView(index=index, source=ev.source, lines=(ev.start_line, ev.end_line), host=ev.host,
                     time_text=when, kernel_release=a.kernel_release, era=a.era_name, era_source=a.era_source,
                     domain=f"{a.domain_text} ({a.constraint})",
                     totalpages=a.totalpages, totalpages_exact=a.totalpages_exact, verdict=a.verdict,
                     reason=a.reason, kernel_victim=kv, model_victim=mv, chart=chart, no_chart=no_chart,
                     notes=tuple(a.all_notes), chart_omitted=omitted)


# --------------------------------------------------------------------------- timeline

@dataclass(frozen=True, slots=True)
class TimelinePoint:
    index: int
    lane: str
    x: float | str | int
    """A ``YYYY-MM-DD HH:MM:SS.ffffff`` text (date axis), seconds since boot, or the input position."""
    time_text: str | None
    verdict: Verdict
    victim: str | None
    """``pid (name)`` the kernel killed."""


@dataclass(frozen=True, slots=True)
class Timeline:
    axis: str
    """``date``, ``uptime`` or ``order``."""
    axis_label: str
    points: tuple[TimelinePoint, ...]
    year_assumed: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


_DMESG_T = "%a %b %d %H:%M:%S %Y"
_SYSLOG = re.compile(r"^([A-Z][a-z]{2})\s+(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)?$")
_PLACEHOLDER_YEAR = 2000  # a leap year: "Feb 29" parses


def parse_wall_clock(text: str) -> tuple[datetime, bool] | None:
    """(time as printed, year assumed?) for the wall-clock stamps logs carry; None when not one.

    ISO 8601 / RFC 5424 (kept in its own zone, shown as printed), ``dmesg -T`` (with a year), and BSD
    syslog ``Mmm dd HH:MM:SS`` (no year: a placeholder year is used and the caller must say so)."""
    t = text.strip()
    try:
        return datetime.fromisoformat(t).replace(tzinfo=None), False
    except ValueError:
        pass
    try:
        return datetime.strptime(t, _DMESG_T), False
    except ValueError:
        pass
    m = _SYSLOG.match(t)
    if m:
        mon, day, hh, mm, ss, frac = m.groups()
        try:
            dt = datetime.strptime(f"{_PLACEHOLDER_YEAR} {mon} {day} {hh}:{mm}:{ss}", "%Y %b %d %H:%M:%S")
        except ValueError:
            return None
        if frac:
            dt = dt.replace(microsecond=int((frac[1:] + "000000")[:6]))
        return dt, True
    return None


@dataclass(frozen=True, slots=True)
class TimelineInput:
    """What the timeline needs of one event (kept for every event, however many)."""

    index: int
    source: str
    host: str | None
    timestamp: str | None
    uptime: float | None
    verdict: Verdict
    victim: str | None


def timeline_input(index: int, a: EventAnalysis) -> TimelineInput:
    ev = a.event
    victim = f"{ev.victim_pid} ({ev.victim_name or '?'})" if ev.victim_pid is not None else None
    return TimelineInput(index, ev.source, ev.host, ev.timestamp, ev.uptime, a.verdict, victim)


def _lane(e: TimelineInput) -> str:
    return e.host if e.host else f"host not logged · {e.source.rsplit('/', 1)[-1]}"


def timeline(events: Sequence[TimelineInput]) -> Timeline:
    """Events per host over time: a date axis when every event has a wall-clock time; seconds since boot
    when none has one but all have the ``[uptime]`` stamp; otherwise the input order (never a made-up time)."""
    walls = [parse_wall_clock(e.timestamp) if e.timestamp else None for e in events]
    if events and all(w is not None for w in walls):
        parsed = [w for w in walls if w is not None]
        assumed = any(y for _, y in parsed)
        ok = True
        if assumed:
            # a year-less syslog stamp is only usable while each lane's times never go back (a new year)
            last: dict[str, datetime] = {}
            for e, (dt, _) in zip(events, parsed):
                lane = _lane(e)
                if lane in last and dt < last[lane]:
                    ok = False
                    break
                last[lane] = dt
            if ok and not all(y for _, y in parsed):
                ok = False  # mixing stamps with and without a year would place them years apart
            if ok and len({e.source for e in events}) > 1:
                ok = False  # year-less stamps from different inputs may be from different years
        if ok:
            pts = tuple(TimelinePoint(e.index, _lane(e), dt.strftime("%Y-%m-%d %H:%M:%S.%f"), e.timestamp, e.verdict,
                                      e.victim) for e, (dt, _) in zip(events, parsed))
            notes = ("syslog timestamps carry no year: the axis shows month, day and time only",) if assumed else ()
            return Timeline("date", "time as printed in the log", pts, year_assumed=assumed, notes=notes)
    if events and all(e.timestamp is None and e.uptime is not None for e in events):
        pts = tuple(TimelinePoint(e.index, _lane(e), float(e.uptime or 0.0), f"[{e.uptime:.6f}]", e.verdict, e.victim)
                    for e in events)
        return Timeline("uptime", "seconds since boot (the kernel's [uptime] stamp; a reboot resets it)", pts,
                        notes=("no wall-clock times in the log: seconds since boot",))
    pts = tuple(TimelinePoint(e.index, _lane(e), e.index,
                              e.timestamp or (f"[{e.uptime:.6f}]" if e.uptime is not None else None),
                              e.verdict, e.victim) for e in events)
    return Timeline("order", "event number, in input order", pts,
                    notes=("the events' times cannot be placed on one axis (missing, without a year, or mixed "
                           "formats): events are shown in input order with their times as printed",)
                    if events else ())
