"""``oomlens top``: rank processes as the OOM killer would."""

from __future__ import annotations

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import (
    _emit_json,
    _legacy,
    _snapshot,
    handle_errors,
    one_shot,
    verbose_option,
    with_domain,
)

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
              help="Show the first N tasks (default: what fits a terminal's first screen, at most 20; "
                   "all in a pipe and with --json).")
@click.option("--all", "include_all", is_flag=True, help="Include tasks that are not eligible, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (memory in pages), in kill order.")
@click.option("--sort", type=click.Choice(list(SORT_KEYS)), default="badness", show_default=True,
              help="Order of the table (not of --json, which is always kill order); `badness` is kill order.")
@click.option("--watch", "watch_every", type=float, default=None, is_flag=False, flag_value=2.0, metavar="[SECONDS]",
              help="Refresh the ranking in place every SECONDS (default 2), victim highlighted, changes marked.")
@click.option("--html", "html_file", metavar="FILE", help="Also write a self-contained HTML page with the badness chart.")
@verbose_option
@handle_errors
@one_shot
def top(cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str, limit: int | None,
        include_all: bool, as_json: bool, sort: str, verbose: bool, watch_every: float | None = None,
        html_file: str | None = None) -> None:
    """Rank processes the way the OOM killer would: victim first, with the kernel's arithmetic."""
    from oomlens.analysis.ranking import rank

    if html_file:
        from oomlens.cli import html
        html.check(html_file)
    if watch_every is not None:
        from oomlens.cli.watch import watch

        try:
            watch(lambda: rank(_snapshot(None, cgroup, proc, _legacy(kernel)), kernel=kernel),
                  interval=max(0.2, watch_every), limit=limit or 20)
        except KeyboardInterrupt:
            pass
        return

    ranking = rank(_snapshot(snapshot_file, cgroup, proc, _legacy(kernel)), kernel=kernel)
    if html_file:
        html.top_page(ranking, html_file)
    rows = ranking.tasks if include_all else ranking.eligible
    if as_json:  # the contract: tasks in kill order, victim first, whatever --sort says
        _emit_json(ranking.to_dict(()), ("tasks", ranking.task_dicts(rows[:limit])))
        return
    key = SORT_KEYS[sort]
    if key is not None:
        rows = sorted(rows, key=key)
    from oomlens.cli import render

    render.top(ranking, rows, limit=limit, verbose=verbose, more_hint="-n N shows N (a pipe or file gets them all)")
