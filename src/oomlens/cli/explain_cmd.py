"""``oomlens explain PID``: the kernel's arithmetic for one process."""

from __future__ import annotations

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import (
    _emit_json,
    _legacy,
    _snapshot,
    handle_errors,
    missing_pid,
    one_shot,
    verbose_option,
    with_domain,
)


@click.command(epilog=exit_codes.HELP)
@click.argument("pid", type=int)
@with_domain
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@verbose_option
@handle_errors
@one_shot
def explain(pid: int, cgroup: str | None, snapshot_file: str | None, kernel: str | None, proc: str,
            as_json: bool, verbose: bool) -> None:
    """Write out the kernel's arithmetic for PID: rank, margin, and what would change the outcome."""
    from oomlens.analysis import ranking as api
    from oomlens.errors import NoSuchProcess

    snap = _snapshot(snapshot_file, cgroup, proc, _legacy(kernel))
    ranking = api.rank(snap, kernel=kernel)
    try:
        ex = api.explain(ranking, pid)
    except NoSuchProcess:
        raise missing_pid(pid, snap, snapshot_file=snapshot_file, cgroup=cgroup, proc=proc) from None
    if cgroup is None and snapshot_file is None:
        ex.notes.extend(_memcg_domains_note(pid, proc))
    if as_json:
        _emit_json(ex.to_dict())
        return
    from oomlens.cli import render

    render.explain(ex, verbose=verbose)


def _memcg_domains_note(pid: int, proc: str) -> list[str]:
    """A process in a memory cgroup with a limit (its own or an ancestor's) has a second, usually tighter,
    OOM domain: say so, with the command that ranks it there."""
    from oomlens.errors import OomLensError as _Err
    from oomlens.sources.cgroupfs import CgroupFS
    from oomlens.sources.procfs import ProcFS

    try:
        found = CgroupFS(procfs=ProcFS(proc)).limited_domain_of(pid)
    except (_Err, OSError):
        return []
    if found is None:
        return []
    cg, m = found
    return [f"pid {pid} is in memory cgroup {cg.path}; {m.path} has a limit of {m.memory_max} pages, so a memcg "
            f"OOM there ranks it among that cgroup's tasks with T = that limit: "
            f"`oomlens explain {pid} --cgroup {cg.path}`"]
