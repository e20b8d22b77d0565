"""``oomlens snapshot``: save everything the model needs as JSON."""

from __future__ import annotations

import sys

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import handle_errors, one_shot


@click.command(epilog=exit_codes.HELP)
@click.option("-o", "--output", "output", metavar="FILE", required=True, type=click.Path(dir_okay=False),
              help="Where to write the JSON snapshot ('-' for stdout).")
@click.option("--cgroup", metavar="PATH", help="Also record this memory cgroup as the OOM domain.")
@click.option("--legacy", is_flag=True, help="Also record cpu times, nice and capabilities (for <=2.6.35 rules).")
@click.option("--proc", default="/proc", show_default=True, hidden=True)
@handle_errors
@one_shot
def snapshot(output: str, cgroup: str | None, legacy: bool, proc: str) -> None:
    """Save everything the model needs as JSON, to analyse elsewhere with --snapshot FILE."""
    from oomlens.sources import live
    from oomlens.sources.procfs import ProcFS

    snap = live.take_snapshot(ProcFS(proc), cgroup=cgroup, legacy=legacy, with_oom_scores=True, with_stat=True)
    if output == "-":
        sys.stdout.write(snap.to_json() + "\n")
    else:
        live.save_snapshot(snap, output)
        click.echo(f"wrote {output}: {len(snap.tasks)} tasks, kernel {snap.kernel_release}", err=True)
