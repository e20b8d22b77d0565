"""``--html FILE`` for ``top`` and ``postmortem``: check the extra and the target before any work, build the
page (:mod:`oomlens.report`), write it atomically (a half-written page never replaces a good one)."""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from oomlens.errors import MissingExtra, OutputAccessDenied, OutputError

if TYPE_CHECKING:
    from oomlens.analysis.postmortem import EventAnalysis
    from oomlens.analysis.ranking import Ranking

MAX_CHARTS = 200
"""Events drawn with a candidate chart on one post-mortem page; later ones are listed (and the page says so)."""

HINT = "pip install 'oomlens[html]'"


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def check(path: str) -> None:
    """Fail fast (before reading /proc or logs): the extra is installed and ``path`` can be written."""
    missing = [m for m in ("jinja2", "plotly") if not _importable(m)]
    if missing:
        raise MissingExtra(f"--html needs the optional 'html' extra ({' and '.join(missing)} not installed)",
                           hint=HINT)
    p = Path(path)
    parent = p.parent
    if p.is_dir():
        raise OutputError(path, "is a directory", hint="give a file name, e.g. --html oom.html")
    if not parent.is_dir():
        raise OutputError(path, f"directory {parent} does not exist",
                          hint="create it first, or write the page elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputAccessDenied(path)


def write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename."""
    p = Path(path)
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
        tmp = ""
    except PermissionError as exc:
        raise OutputAccessDenied(path, exc.strerror or str(exc)) from exc
    except OSError as exc:
        raise OutputError(path, exc.strerror or str(exc),
                          hint="check the path and the free space") from exc
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            Path(tmp).unlink(missing_ok=True)
    click.echo(f"oomlens: wrote {path}", err=True)


def top_page(ranking: Ranking, path: str) -> None:
    """Write the page of ``oomlens top --html``: every candidate's badness, victim and runner-up marked."""
    check(path)
    from oomlens.report.page import render_top
    from oomlens.report.view import badness_chart

    r = ranking
    dom = f"memcg {r.cgroup}" if r.cgroup else "global"
    T = ("no T (the legacy heuristic does not use one)" if r.era.scoring == "legacy"
         else f"{r.totalpages} pages ({r.totalpages * r.page_size / 2**30:.2f} GiB), T/1000 = {r.totalpages // 1000}")
    facts = [("kernel", f"{r.release} (scored with the rules of {r.era.name})"),
             ("domain", f"{dom} ({r.constraint.value})"), ("T", T)]
    if r.selection.outcome == "panic" or r.victim is None:
        facts.append(("outcome", r.selection.message or r.selection.outcome))
    write(path, render_top(badness_chart(r), heading=f"{dom} domain, kernel {r.release}", facts=facts, notes=r.notes))


def tee_postmortem(analyses: Iterable[EventAnalysis], path: str, sources: Sequence[str]) -> Iterator[EventAnalysis]:
    """Pass ``analyses`` through unchanged (the usual output streams on) and write the page when they end.

    Checks the extra and ``path`` now, before the logs are read. Keeps what the page shows, not the
    analyses: charts for the first :data:`MAX_CHARTS` events with a ranking, a timeline entry for all."""
    check(path)
    return _tee(analyses, path, tuple(sources))


def _tee(analyses: Iterable[EventAnalysis], path: str, sources: tuple[str, ...]) -> Iterator[EventAnalysis]:
    from oomlens.report.page import render_postmortem
    from oomlens.report.view import EventView, TimelineInput, event_view, timeline, timeline_input

    views: list[EventView] = []
    points: list[TimelineInput] = []
    charts = omitted = 0
    i = 0
    for a in analyses:
        if a.repeat_of is not None:  # the same OOM again (its note is in the text / JSON output)
            yield a
            continue
        i += 1
        view = event_view(i, a, with_chart=charts < MAX_CHARTS)
        charts += view.chart is not None
        omitted += view.chart_omitted
        views.append(view)
        points.append(timeline_input(i, a))
        yield a
    write(path, render_postmortem(views, timeline(points), sources=sources, total=len(views), omitted=omitted))
