"""``oomlens`` command line: one module per command (``cli/*_cmd.py``) over the public API; errors become
exit codes in :mod:`oomlens.cli.common` only.

Commands are registered lazily (:class:`LazyGroup`): a command's module is imported only when that command
runs (or when ``--help`` lists them all), so ``oomlens daemon`` does not carry every other command's imports
for its whole life, and ``oomlens top`` starts without them.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import _emit_json, _fail, parse_size, usage_error
from oomlens.errors import OomLensError

__all__ = ["COMMANDS", "LazyGroup", "_emit_json", "cli", "main", "parse_size"]

COMMANDS: dict[str, tuple[str, str]] = {
    # command name -> (module under oomlens.cli, the click command in it)
    "top": ("top_cmd", "top"),
    "explain": ("explain_cmd", "explain"),
    "predict": ("predict_cmd", "predict"),
    "snapshot": ("snapshot_cmd", "snapshot"),
    "selftest": ("selftest_cmd", "selftest"),
    "postmortem": ("postmortem_cmd", "postmortem"),
    "adj": ("adj_cmd", "adj"),
    "run": ("adj_cmd", "run"),
    "policy": ("policy_cmd", "policy_group"),
    "audit": ("policy_cmd", "audit_cmd"),
    "k8s-adj": ("k8s_cmd", "k8s_adj"),
    "daemon": ("daemon_cmd", "daemon"),
}


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


class LazyGroup(_Group):
    """A group whose commands are imported on first use from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        # __import__ rather than importlib.import_module: the same machinery as an import statement, so
        # `python -X importtime` accounts for the command's module too
        command = getattr(__import__(f"oomlens.cli.{spec[0]}", fromlist=[spec[1]]), spec[1])
        assert isinstance(command, click.Command) and command.name == cmd_name, (cmd_name, spec)
        return command


@click.group(cls=LazyGroup, invoke_without_command=True, epilog=exit_codes.HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oomlens")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Who will the Linux OOM killer take next, and why. With no command: `oomlens top`."""
    if ctx.invoked_subcommand is None:
        top = cli.get_command(ctx, "top")
        assert top is not None
        ctx.invoke(top)


def main() -> None:
    try:
        cli(prog_name="oomlens")
    except OomLensError as exc:  # pragma: no cover - handled per command
        _fail(exc)
    finally:
        # The process ends here. The interpreter's final collection would walk every live object (every
        # module's functions and classes) to find no cycles: ~4 ms after `top`. Frozen objects are skipped.
        gc.freeze()
