"""Kernel eras of the OOM killer, as data.

Each :class:`Era` row says how one range of mainline releases scores, compares and reports. The model
(:mod:`oomlens.kernel.oom_kill`) reads these fields; it never tests version numbers itself. Sources and
confidence: ``kernel-oom-spec.md`` §0-§5 (commit ids are quoted there and in the ``note`` fields).

Distribution kernels backport features (RHEL 7's 3.10 prints 4.5's ``shmem-rss``); the post-mortem
layer picks an era from the *log format* and uses the release only as a hint.

Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from oomlens.errors import KernelVersionError
from oomlens.kernel.types import KernelRelease

Version = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Era:
    """How the OOM killer of releases ``first`` .. ``last`` (inclusive) behaves."""

    name: str
    first: Version
    last: Version | None
    scoring: str
    """``legacy`` (<=2.6.35 heuristic), ``permille`` (2.6.36-3.4), ``pages`` (3.5-5.8), ``signed`` (5.9+)."""
    pgtables: str | None = None
    """Page-table term: ``nr_ptes`` (2.6.36-3.19), ``nr_ptes+nr_pmds`` (4.0-4.14), ``pgtables_bytes`` (4.15+)."""
    root_bonus: str | None = None
    """``permille30`` (2.6.36-3.4: -30 after scaling), ``adj30`` (3.5-3.13: adj -= 30),
    ``pct3`` (3.14-4.16: points -= points*3/100), or None (4.17+)."""
    overflow32: bool = False
    """2.6.36-3.1: ``points`` was a 32-bit int and ``points*1000`` wrapped (56c6a8a4aadc fixed it)."""
    tie_global: str = "first"
    """Equal maxima in a global OOM: ``first`` or ``last`` scanned wins (spec §4.2)."""
    tie_memcg: str = "first"
    initial_best: str = "zero"
    """``none`` (<=2.6.35: first eligible taken even at 0), ``zero``, ``long_min`` (5.9+)."""
    proc_score: str = "badness"
    """/proc/PID/oom_score: ``raw``, ``badness``, ``permille`` (b*1000/T), ``signed`` ((1000+b*1000/T)*2/3)."""
    sacrifice_child: str | None = None
    """``first_child`` (<=2.6.35), ``highest`` (2.6.36-5.0, 5e9d834a0e0c), None (5.1+, bbbe48029720)."""
    skips_oom_skip: bool = False
    """MMF_OOM_REAPED (4.7) / MMF_OOM_SKIP (4.9+) makes a task ineligible."""
    skips_in_vfork: bool = False
    memcg_limit: str = "swappiness"
    """``none`` (<2.6.36: no T), ``min_swap_memsw`` (2.6.36-3.5), ``swappiness`` (3.6-5.8), ``do_memsw`` (5.9+)."""
    node_pages: str = "spanned"
    """Pages per node for cpuset/mempolicy T: ``spanned`` (<5.4) or ``present`` (5.4+)."""
    origin: str = "max"
    """Swapoff/KSM origin tasks: ``ulong_max`` (2.6.32-35), ``permille1000`` (2.6.36-3.1), ``adj1000``
    (3.2-3.7), ``max`` (3.8+: chosen at once with LONG_MAX)."""
    # legacy heuristic details (scoring == "legacy")
    legacy_children: str | None = None
    """``full`` (<=2.6.15) or ``half`` (2.6.16+: total_vm/2 + 1, 9827b781f208)."""
    legacy_privileged: str | None = None
    """``uid0_or_admin`` (<=2.6.24) or ``admin_or_resource`` (2.6.25+)."""
    legacy_cputime_process: bool = False
    """cpu time of the whole thread group (2.6.32+) rather than of one thread."""
    scan_threads: bool = False
    """The scan walks every thread (ties between threads of one process resolve to the leader)."""
    note: str = ""

    def tie(self, memcg: bool) -> str:
        """The tie rule of a memcg OOM or of a global one: ``first`` or ``last`` scanned wins."""
        return self.tie_memcg if memcg else self.tie_global

    @property
    def badness_unit(self) -> str:
        """What one point of this era's badness is: ``pages`` (3.5+, also signed 5.9+), ``permille`` of T
        (2.6.36-3.4: ``points*1000/T``) or ``points`` (the <=2.6.35 heuristic: no memory unit at all).
        Every output that prints a badness, a margin or a gap says this unit (see :func:`badness_pages`)."""
        return BADNESS_UNIT[self.scoring]


BADNESS_UNIT: dict[str, str] = {"legacy": "points", "permille": "permille", "pages": "pages", "signed": "pages"}
"""``Era.scoring`` → the unit of its badness (``pages``, ``permille`` of T, or heuristic ``points``)."""


def badness_pages(era: Era, points: int, totalpages: int | None) -> tuple[int, bool] | None:
    """The memory ``points`` of badness (or a difference of two badness values) stand for, in pages, and
    whether that figure is exact: ``(points, True)`` where badness is in pages; ``(points*T//1000, False)``
    where it is per mille of T (each point covers T/1000 pages, so the figure is approximate to that);
    None for the legacy heuristic or an unknown T in a per-mille era (no page figure can be derived)."""
    unit = era.badness_unit
    if unit == "pages":
        return points, True
    if unit == "permille" and totalpages is not None and totalpages > 0:
        pages = abs(points) * totalpages // 1000  # toward zero, so a gap and its negation match
        return (pages if points >= 0 else -pages), False
    return None


def _v(s: str) -> Version:
    a = tuple(int(x) for x in s.split("."))
    return (a + (0, 0, 0))[:3]  # type: ignore[return-value]


_LEGACY = dict(scoring="legacy", initial_best="none", proc_score="raw", sacrifice_child="first_child",
               memcg_limit="none", origin="ulong_max")
_PERMILLE = dict(scoring="permille", pgtables="nr_ptes", root_bonus="permille30", proc_score="badness",
                 sacrifice_child="highest", memcg_limit="min_swap_memsw", scan_threads=True)
_PAGES = dict(scoring="pages", proc_score="permille", sacrifice_child="highest", memcg_limit="swappiness",
              scan_threads=True)

ERAS: tuple[Era, ...] = (
    Era("<=2.6.15", _v("0"), _v("2.6.15"), legacy_children="full", legacy_privileged="uid0_or_admin",
        scan_threads=True, note="2.4 and early 2.6: total_vm heuristic; children add their whole total_vm",
        **_LEGACY),  # type: ignore[arg-type]
    Era("2.6.16-2.6.24", _v("2.6.16"), _v("2.6.24"), legacy_children="half", legacy_privileged="uid0_or_admin",
        scan_threads=True, note="children add total_vm/2+1 (9827b781f208)", **_LEGACY),  # type: ignore[arg-type]
    Era("2.6.25-2.6.31", _v("2.6.25"), _v("2.6.31"), legacy_children="half",
        legacy_privileged="admin_or_resource", scan_threads=True,
        note="privilege = CAP_SYS_ADMIN or CAP_SYS_RESOURCE", **_LEGACY),  # type: ignore[arg-type]
    Era("2.6.32-2.6.35", _v("2.6.32"), _v("2.6.35"), legacy_children="half",
        legacy_privileged="admin_or_resource", legacy_cputime_process=True,
        note="process scan; cpu time of the whole thread group", **_LEGACY),  # type: ignore[arg-type]
    Era("2.6.36-3.1", _v("2.6.36"), _v("3.1.9999"), overflow32=True, origin="permille1000",
        note="a63d83f427fb rewrite; int points*1000 overflow until 56c6a8a4aadc", **_PERMILLE),  # type: ignore[arg-type]
    Era("3.2-3.4", _v("3.2"), _v("3.4.9999"), origin="adj1000", **_PERMILLE),  # type: ignore[arg-type]
    Era("3.5-3.13", _v("3.5"), _v("3.13.9999"), pgtables="nr_ptes", root_bonus="adj30",
        origin="max", note="a7f638f999ff: pages; root adj -= 30", **_PAGES),  # type: ignore[arg-type]
    Era("3.14-3.19", _v("3.14"), _v("3.19.9999"), pgtables="nr_ptes", root_bonus="pct3",
        note="778c14affaf9: root bonus 3% of own usage; d49ad9355420 leader tie-break", **_PAGES),  # type: ignore[arg-type]
    Era("4.0-4.6", _v("4.0"), _v("4.6.9999"), pgtables="nr_ptes+nr_pmds", root_bonus="pct3",
        note="dc6c9a35b66b counts pmd pages", **_PAGES),  # type: ignore[arg-type]
    Era("4.7", _v("4.7"), _v("4.7.9999"), pgtables="nr_ptes+nr_pmds", root_bonus="pct3", tie_global="last",
        skips_oom_skip=True, note="for_each_process with >=: last wins (global only); MMF_OOM_REAPED",
        **{**_PAGES, "scan_threads": False}),  # type: ignore[arg-type]
    Era("4.8-4.14", _v("4.8"), _v("4.14.9999"), pgtables="nr_ptes+nr_pmds", root_bonus="pct3",
        skips_oom_skip=True, skips_in_vfork=True, note="7c5f64f84483 shared oom_evaluate_task",
        **_PAGES),  # type: ignore[arg-type]
    Era("4.15-4.16", _v("4.15"), _v("4.16.9999"), pgtables="pgtables_bytes", root_bonus="pct3",
        skips_oom_skip=True, skips_in_vfork=True, note="af5b0f6a09e4 pgtables_bytes", **_PAGES),  # type: ignore[arg-type]
    Era("4.17-5.0", _v("4.17"), _v("5.0.9999"), pgtables="pgtables_bytes", skips_oom_skip=True,
        skips_in_vfork=True, note="d46078b28889 removed the root bonus", **_PAGES),  # type: ignore[arg-type]
    Era("5.1-5.2", _v("5.1"), _v("5.2.9999"), pgtables="pgtables_bytes", skips_oom_skip=True,
        skips_in_vfork=True, note="bbbe48029720 removed sacrifice-child",
        **{**_PAGES, "sacrifice_child": None}),  # type: ignore[arg-type]
    Era("5.3-5.8", _v("5.3"), _v("5.8.9999"), pgtables="pgtables_bytes", skips_oom_skip=True,
        skips_in_vfork=True, tie_global="last", tie_memcg="last", node_pages="present",
        note="CSS_TASK_ITER_PROCS: ties go to the last task scanned; node present pages from 5.4 (5.3: spanned)",
        **{**_PAGES, "sacrifice_child": None, "scan_threads": False}),  # type: ignore[arg-type]
    Era("5.9+", _v("5.9"), None, scoring="signed", pgtables="pgtables_bytes", skips_oom_skip=True,
        skips_in_vfork=True, tie_global="last", tie_memcg="last", initial_best="long_min",
        proc_score="signed", memcg_limit="do_memsw", node_pages="present",
        note="9066e5cfb73c: long, LONG_MIN, may be negative; /proc shows (1000+b*1000/T)*2/3"),
)

def parse_version(release: str) -> Version:
    """``'6.18.44-fc-v657'`` → ``(6, 18, 44)``; raises :class:`KernelVersionError`."""
    try:
        v = KernelRelease.parse(release).version
    except ValueError:
        raise KernelVersionError(release) from None
    return (tuple(v) + (0, 0, 0))[:3]  # type: ignore[return-value]


def era_for(release: str | Version) -> Era:
    """The era whose rules the given kernel release follows."""
    v = parse_version(release) if isinstance(release, str) else release
    if v[0] < 2 or v[0] > 99:
        raise KernelVersionError(".".join(map(str, v)))
    # The table is ordered and gap-free: the era is the last one starting at or before v.
    return [era for era in ERAS if era.first <= v][-1]


def era_by_name(name: str) -> Era:
    for era in ERAS:
        if era.name == name:
            return era
    raise KernelVersionError(name)
