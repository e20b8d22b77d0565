"""``oomlens selftest``: check the model against this kernel."""

from __future__ import annotations

import sys

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import _emit_json, handle_errors


@click.command(epilog=exit_codes.HELP)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--scenario", "names", multiple=True, metavar="NAME", help="Run only these scenarios.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@handle_errors
def selftest(as_json: bool, names: tuple[str, ...], list_only: bool) -> None:
    """Check the model against this kernel: provoke real OOM kills in a throwaway memory cgroup.

    Needs root and a writable memory cgroup. Never touches the global domain; always removes its cgroups
    and processes.
    """
    from oomlens.selftest import harness as st

    scenarios = list(st.BUILTIN_SCENARIOS)
    if names:
        unknown = sorted(set(names) - {s.name for s in scenarios})
        if unknown:
            raise click.BadParameter(f"unknown scenario(s) {', '.join(unknown)}; see --list", param_hint="--scenario")
        scenarios = [s for s in scenarios if s.name in names]
    if list_only:
        for s in scenarios:
            click.echo(f"{s.name}: {s.notes or s.expected}")
        return
    from oomlens.cli.text import visible

    # a terminal sees each result as its scenario ends (one line each, on stdout); JSON waits for all
    progress = None if as_json else (lambda msg: click.echo(visible(msg)))
    hierarchy = st.describe_hierarchy()
    if progress is not None:
        progress(f"memory hierarchy: {hierarchy}")
    results = st.run_selftest(scenarios, progress=progress)
    ok = all(r.agrees for r in results)
    if as_json:
        _emit_json({"agrees": ok, "hierarchy": hierarchy,
                    "results": [r.to_dict() if hasattr(r, "to_dict") else vars(r) for r in results]})
    else:
        click.echo(f"{sum(r.agrees for r in results)}/{len(results)} scenarios agree with the kernel")
    sys.exit(exit_codes.OK if ok else exit_codes.SELFTEST_FAILED)
