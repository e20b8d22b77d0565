"""``oomlens top --watch``: the live ranking, redrawn in place (rich Live) every ``interval`` seconds.

The victim row is highlighted; rows whose rank moved since the previous refresh are marked ``▲``/``▼``,
new ones ``+``, and the victim changing is said in the title. Ctrl-C ends it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from oomlens.analysis.ranking import Ranking

__all__ = ["changes", "watch"]


def changes(prev: dict[int, int], now: list[tuple[int, int]]) -> dict[int, str]:
    """Mark per pid: '+' new in the list, '▲'/'▼' rank moved up/down, '' unchanged. ``prev`` = {pid: rank}."""
    out = {}
    for pid, rank in now:
        before = prev.get(pid)
        out[pid] = "+" if before is None and prev else ("▲" if before and rank < before else
                                                         "▼" if before and rank > before else "")
    return out


def _table(r: Ranking, limit: int, marks: dict[int, str], title: str) -> Table:
    t = Table(title=title, expand=False)
    for col in ("", "rank", "pid", "comm", "adj", "rss MiB", "swap MiB", "badness", "oom_score", "% of T"):
        t.add_column(col, justify="right" if col not in ("comm", "") else "left")
    ps = r.page_size
    v = r.victim
    for st in r.eligible[:limit]:
        task = st.task
        style = "bold red" if v is not None and task.pid == v.task.pid else None
        t.add_row(marks.get(task.pid, ""), str(st.rank), str(task.pid), task.name, str(task.oom_score_adj),
                  f"{task.rss * ps / 2**20:.1f}", f"{task.swapents * ps / 2**20:.1f}", str(st.terms.points),
                  str(st.oom_score), f"{100 * st.terms.points / max(r.totalpages, 1):.1f}", style=style)
    return t


def watch(take: Callable[[], Ranking], *, interval: float, limit: int, console: Any = None,
          iterations: int | None = None) -> None:
    console = console or Console()
    prev: dict[int, int] = {}
    prev_victim: int | None = None
    n = 0
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while iterations is None or n < iterations:
            r = take()
            rows = [(st.task.pid, st.rank or 0) for st in r.eligible[:limit]]
            marks = changes(prev, rows)
            v = r.victim
            dom = r.cgroup or "global"
            title = f"oomlens top --watch  domain {dom}  T={r.totalpages} pages  every {interval:g}s"
            if v is not None and prev_victim is not None and v.task.pid != prev_victim:
                title += f"  [bold yellow]victim changed: now {v.task.pid} ({v.task.name})[/]"
            live.update(_table(r, limit, marks, title), refresh=True)
            prev = dict(rows)
            prev_victim = v.task.pid if v is not None else None
            n += 1
            if iterations is None or n < iterations:
                time.sleep(interval)
