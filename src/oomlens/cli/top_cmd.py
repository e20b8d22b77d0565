"""``oomlens top``: rank processes as the OOM killer would."""

from __future__ import annotations

import sys

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import _emit_json, _legacy, _snapshot, handle_errors, one_shot, with_domain

SORT_KEYS = {
    "badness": None,
    "rss": lambda t: -(t.task.rss),
    "swap": lambda t: -t.task.swapents,
    "adj": lambda t: -t.task.oom_score_adj,
    "oom_score": lambda t: -t.oom_score,
    "pid": lambda t: t.task.pid,
    "name": lambda t: t.task.name,
}


@click.command(epilog=exit_codes.HELP)
@with_domain
@click.option("-n", "limit", type=click.IntRange(min=1), default=None,
              help="Show the first N tasks (default: 20 in a terminal, all with --json).")
@click.option("--all", "include_all", is_flag=True, help="Include tasks that are not eligible, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (memory in pages).")
@click.option("--sort", type=click.Choice(list(SORT_KEYS)), default="badness", show_default=True,
              help="Order of the table; `badness` is the kernel's kill order.")
@click.option("--html", "html_file", metavar="FILE", help="Also write a self-contained HTML page with the badness chart.")
@handle_errors
@one_shot
def top(cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str, limit: int | None,
        include_all: bool, as_json: bool, sort: str, html_file: str | None = None) -> None:
    """Rank processes the way the OOM killer would: victim first, with the kernel's arithmetic."""
    from oomlens.analysis.ranking import rank

    if html_file:
        from oomlens.cli import html
        html.check(html_file)
    ranking = rank(_snapshot(snapshot_file, cgroup, proc, _legacy(kernel)), kernel=kernel)
    if html_file:
        html.top_page(ranking, html_file)
    rows = ranking.tasks if include_all else ranking.eligible
    key = SORT_KEYS[sort]
    if key is not None:
        rows = sorted(rows, key=key)
    if limit is not None:
        rows = rows[:limit]
    if as_json:
        _emit_json(ranking.to_dict(()), ("tasks", ranking.task_dicts(rows)))
        return
    from oomlens.cli import render

    render.top(ranking, rows if limit is not None or not sys.stdout.isatty() else rows[:20],
               truncated=limit is None and sys.stdout.isatty() and len(rows) > 20)
