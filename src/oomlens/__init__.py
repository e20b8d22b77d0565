"""oomlens: reproduce the Linux OOM killer's victim choice exactly, live or from kernel logs.

The public API (everything else is internal and may change)::

    import oomlens

    snap = oomlens.snapshot()                      # this host now (or cgroup="/sys/fs/cgroup/...")
    ranking = oomlens.rank(snap)                   # the kill order, victim first
    print(ranking.victim.task.pid, ranking.victim.terms.points, ranking.totalpages)
    why = oomlens.explain(snap, pid=1234)          # margin, rival, the adj that would spare it
    plan = oomlens.predict(snap, need_pages=262144)  # who dies, one OOM at a time
    for event in oomlens.postmortem("/var/log/kern.log"):
        print(event.verdict, event.reason)       # a Verdict: AGREES, DISAGREES or UNDECIDABLE

:func:`snapshot` is the only call that reads the host; the others are pure functions of a
:class:`Snapshot` (which also loads from a file: :func:`load_snapshot`). Errors are
:class:`OomLensError` subclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from oomlens.errors import (
    AccessDenied,
    CgroupError,
    InputError,
    KernelVersionError,
    NoMemoryController,
    NoSuchProcess,
    OomLensError,
    OomReportParseError,
    ProcessError,
    ProcParseError,
    SnapshotError,
    ZombieProcess,
)
from oomlens.kernel.types import (
    LONG_MIN,
    PAGE_SIZE,
    KernelRelease,
    MemcgLimits,
    MemInfo,
    OomConstraint,
    Task,
    VmSysctls,
)

if TYPE_CHECKING:
    from oomlens.analysis.postmortem import EventAnalysis
    from oomlens.analysis.ranking import Explanation, Prediction, Ranking
    from oomlens.kernel.snapshot import Snapshot
    from oomlens.oomreport.model import OomEvent

__version__ = "0.1.0"

# The live-data boundary and the analyses are imported on first use: `import oomlens` stays cheap.
_LAZY = {"ProcFS": "oomlens.sources.procfs", "CgroupFS": "oomlens.sources.cgroupfs",
         "Snapshot": "oomlens.kernel.snapshot", "take_snapshot": "oomlens.sources.live",
         "load_snapshot": "oomlens.sources.live", "save_snapshot": "oomlens.sources.live",
         "Ranking": "oomlens.analysis.ranking", "Explanation": "oomlens.analysis.ranking",
         "Prediction": "oomlens.analysis.ranking", "EventAnalysis": "oomlens.analysis.postmortem",
         "Verdict": "oomlens.analysis.postmortem"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'oomlens' has no attribute {name!r}")


def snapshot(cgroup: str | None = None, *, proc: str = "/proc") -> Snapshot:
    """Read this host (``cgroup``: a memory cgroup as OOM domain, as ``--cgroup`` takes it) into a
    :class:`Snapshot`. The only public call that touches the host."""
    from oomlens.sources.live import take_snapshot
    from oomlens.sources.procfs import ProcFS

    return take_snapshot(ProcFS(proc), cgroup=cgroup)


def rank(snap: Snapshot, *, kernel: str | None = None) -> Ranking:
    """Every task of ``snap``'s OOM domain in the order the kernel would kill them, victim first, scored
    with the rules of ``kernel`` (default: the snapshot's release)."""
    from oomlens.analysis.ranking import rank as _rank

    return _rank(snap, kernel=kernel)


def explain(snap: Snapshot, pid: int, *, kernel: str | None = None) -> Explanation:
    """Why ``pid`` ranks where it does: the margin to the victim (or the runner-up), and the oom_score_adj
    that would spare it or make it the victim. Raises :class:`NoSuchProcess` outside the domain."""
    from oomlens.analysis.ranking import explain as _explain
    from oomlens.analysis.ranking import rank as _rank

    return _explain(_rank(snap, kernel=kernel), pid)


def predict(snap: Snapshot, *, kernel: str | None = None, need_pages: int | None = None) -> Prediction:
    """The kill order, one OOM at a time, until ``need_pages`` would be freed (None: until nobody is left)."""
    from oomlens.analysis.ranking import predict_snapshot

    return predict_snapshot(snap, kernel=kernel, need_pages=need_pages)


def postmortem(*sources: str | Iterable[str]) -> Iterator[EventAnalysis]:
    """Find every OOM report in ``sources`` (file paths, ``-`` for stdin, or iterables of log lines),
    re-score each with the rules of the kernel that printed it, and yield its verdict. A repeat of an
    earlier report of the same source (the same OOM shown twice: exactly, or once more with task-table rows left out)
    comes with ``repeat_of`` set and is not analysed again."""
    from oomlens.analysis.postmortem import analyze_events
    from oomlens.oomreport.scan import iter_events
    from oomlens.sources.kernellog import iter_file_events

    def events() -> Iterator[OomEvent]:
        for i, src in enumerate(sources):
            if isinstance(src, str):
                yield from iter_file_events(src)
            else:
                lines = (line if line.endswith("\n") else line + "\n" for line in src)
                yield from iter_events((line.encode("utf-8", "surrogateescape") for line in lines), f"<lines {i}>")

    return analyze_events(events())


__all__ = [
    "AccessDenied", "CgroupError", "CgroupFS", "EventAnalysis", "Explanation", "InputError", "KernelRelease",
    "KernelVersionError", "LONG_MIN", "MemInfo", "MemcgLimits", "NoMemoryController", "NoSuchProcess",
    "OomConstraint", "OomLensError", "OomReportParseError", "PAGE_SIZE", "Prediction", "ProcFS",
    "ProcParseError", "ProcessError", "Ranking", "Snapshot", "SnapshotError", "Task", "Verdict", "VmSysctls",
    "ZombieProcess", "__version__", "explain", "load_snapshot", "postmortem", "predict", "rank",
    "save_snapshot", "snapshot", "take_snapshot",
]
