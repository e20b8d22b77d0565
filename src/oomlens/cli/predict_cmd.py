"""``oomlens predict``: the kill order, one OOM at a time, with what-if edits."""

from __future__ import annotations

import re

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import (
    PAGE,
    _emit_json,
    _legacy,
    _snapshot,
    handle_errors,
    missing_pid,
    one_shot,
    parse_size,
    verbose_option,
    with_domain,
)
from oomlens.errors import NoSuchProcess


def _parse_add(values: tuple[str, ...]) -> list[tuple[str, int, int]]:
    out = []
    for v in values:
        parts = v.split(":")
        if len(parts) not in (2, 3) or not parts[0]:
            raise click.BadParameter(f"{v!r}: expected NAME:RSS[:ADJ], e.g. java:4G:0", param_hint="--add")
        adj = int(parts[2]) if len(parts) == 3 and re.fullmatch(r"-?[0-9]+", parts[2]) else (0 if len(parts) == 2 else None)
        if adj is None or not -1000 <= adj <= 1000:
            raise click.BadParameter(f"{v!r}: ADJ must be an integer in -1000..1000", param_hint="--add")
        out.append((parts[0], parse_size(parts[1]), adj))
    return out


def _parse_set_adj(values: tuple[str, ...]) -> dict[int, int]:
    out = {}
    for v in values:
        m = re.fullmatch(r"([0-9]+)=(-?[0-9]+)", v.strip())
        if not m or not -1000 <= int(m.group(2)) <= 1000:
            raise click.BadParameter(f"{v!r}: expected PID=ADJ with ADJ in -1000..1000", param_hint="--set-adj")
        out[int(m.group(1))] = int(m.group(2))
    return out


@click.command(epilog=exit_codes.HELP)
@with_domain
@click.option("--need", metavar="SIZE", help="Stop once this much memory would be freed (e.g. 2G).")
@click.option("--add", multiple=True, metavar="NAME:RSS[:ADJ]", help="What-if: add a process (newest).")
@click.option("--set-adj", multiple=True, metavar="PID=N", help="What-if: change a process's oom_score_adj.")
@click.option("--limit", "limit_size", metavar="SIZE", help="What-if: the cgroup's limit (or the machine's RAM).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@verbose_option
@handle_errors
@one_shot
def predict(cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str, need: str | None,
            add: tuple[str, ...], set_adj: tuple[str, ...], limit_size: str | None, as_json: bool,
            verbose: bool) -> None:
    """Who dies, in what order: the kernel kills one process per OOM, re-choosing each time."""
    from oomlens.analysis import ranking as api

    adds, adjs = _parse_add(add), _parse_set_adj(set_adj)
    snap = _snapshot(snapshot_file, cgroup, proc, _legacy(kernel))
    page = getattr(snap, "page_size", PAGE)
    limit_pages = parse_size(limit_size, page) if limit_size else None
    if limit_pages is not None and limit_pages < 1:
        raise click.BadParameter(f"{limit_size!r} is less than one page: no memory, no OOM domain "
                                 "(examples: 512M, 2G)", param_hint="--limit")
    _check_set_adj(adjs, snap, snapshot_file=snapshot_file, cgroup=cgroup, proc=proc)
    snap = api.apply_what_if(snap, add=adds, set_adj=adjs, limit_pages=limit_pages)
    need_pages = parse_size(need, page) if need else None
    if need_pages is not None and need_pages < 1:
        raise click.BadParameter(f"{need!r} is less than one page: nothing needs to be freed, no OOM "
                                 "(examples: 512M, 2G)", param_hint="--need")
    prediction = api.predict_snapshot(snap, kernel=kernel, need_pages=need_pages)
    doc = prediction.to_dict()
    if as_json:
        _emit_json(doc)
        return
    from oomlens.cli import render

    render.predict(prediction, verbose=verbose)


def _check_set_adj(adjs: dict[int, int], snap: object, *, snapshot_file: str | None, cgroup: str | None,
                   proc: str) -> None:
    """--set-adj on a pid outside the domain, or on a task the OOM killer never scores, would be silently
    ignored: refuse it (exit 3) and say why."""
    from oomlens.kernel.types import Task

    tasks: dict[int, Task] = {t.pid: t for t in getattr(snap, "tasks", ())}
    members = getattr(snap, "cgroup_pids", None) if getattr(snap, "cgroup", None) is not None else None
    for pid in adjs:
        t = tasks.get(pid)
        if t is None or (members is not None and pid not in members):
            raise missing_pid(pid, snap, snapshot_file=snapshot_file, cgroup=cgroup, proc=proc, command="explain")
        if t.is_kthread or not t.has_mm:
            err = NoSuchProcess(pid, t.name, f"pid {pid} ({t.name}) is a kernel thread: the OOM killer never "
                                             "kills it, so --set-adj on it changes nothing")
            err.hint = "pick a process from `oomlens top`"
            raise err
        if t.is_global_init:
            err = NoSuchProcess(pid, t.name, f"pid {pid} ({t.name}) is the global init: the OOM killer never "
                                             "kills it, so --set-adj on it changes nothing")
            err.hint = "pick a process from `oomlens top`"
            raise err
