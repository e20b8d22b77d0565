"""``oomlens`` command line: one module per command (``cli/*_cmd.py``) over the public API; errors become
exit codes in :mod:`oomlens.cli.common` only.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import click

from oomlens.cli import exit_codes
from oomlens.cli.adj_cmd import adj, run
from oomlens.cli.common import _emit_json, _fail, parse_size, usage_error
from oomlens.cli.daemon_cmd import daemon
from oomlens.cli.explain_cmd import explain
from oomlens.cli.k8s_cmd import k8s_adj
from oomlens.cli.policy_cmd import audit_cmd, policy_group
from oomlens.cli.postmortem_cmd import postmortem
from oomlens.cli.predict_cmd import predict
from oomlens.cli.selftest_cmd import selftest
from oomlens.cli.snapshot_cmd import snapshot
from oomlens.cli.top_cmd import top
from oomlens.errors import OomLensError

__all__ = ["_emit_json", "cli", "main", "parse_size"]


class _Group(click.Group):
    """Usage errors in the one error format: one line and a ``hint:`` line (not click's usage block)."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:  # UsageError, BadParameter, NoSuchOption... and FileError
            usage_error(exc)
        except click.exceptions.Abort:
            click.echo("oomlens: aborted", err=True)
            sys.exit(exit_codes.INTERNAL)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else exit_codes.OK)


@click.group(cls=_Group, invoke_without_command=True, epilog=exit_codes.HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oomlens")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Who will the Linux OOM killer take next, and why. With no command: `oomlens top`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(top)


for _command in (top, explain, predict, snapshot, selftest, postmortem, adj, run, policy_group, audit_cmd, k8s_adj,
                 daemon):
    cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="oomlens")
    except OomLensError as exc:  # pragma: no cover - handled per command
        _fail(exc)
    finally:
        # The process ends here. The interpreter's final collection would walk every live object (every
        # module's functions and classes) to find no cycles: ~4 ms after `top`. Frozen objects are skipped.
        gc.freeze()
