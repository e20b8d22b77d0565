"""``oomlens daemon --config FILE``: watch OOM domains, alert, export metrics, optionally kill early."""

from __future__ import annotations

import sys

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import handle_errors


@click.command(epilog=exit_codes.HELP)
@click.option("--config", "config_path", required=True, metavar="FILE", help="The daemon's TOML config file.")
@click.option("--check", is_flag=True, help="Check the config (and the domains it names), print it, and exit.")
@click.option("--proc", default="/proc", show_default=True, hidden=True, help="procfs root.")
@click.option("--cgroup-root", default="/sys/fs/cgroup", show_default=True, hidden=True, help="cgroupfs root.")
@handle_errors
def daemon(config_path: str, check: bool, proc: str, cgroup_root: str) -> None:
    """Watch memory headroom and the OOM killer's next victims; alert on stderr (JSON lines) and the exec
    hook; serve Prometheus metrics; with [action] kill = true, kill the model's victim before the kernel.
    SIGHUP reloads the config (a broken one is refused and the running one kept)."""
    from oomlens.daemon.run import run_daemon

    sys.exit(run_daemon(config_path, check=check, proc_root=proc, cgroup_root=cgroup_root))

