"""``oomlens adj PID [VALUE]`` and ``oomlens run --adj N -- CMD``: choom parity, with identity checks."""

from __future__ import annotations

import os

import click

from oomlens.cli.common import _emit_json, handle_errors
from oomlens.errors import ExecError, NoSuchProcess
from oomlens.kernel.oom_kill import oom_adj_to_oom_score_adj
from oomlens.kernel.types import OOM_ADJUST_MAX, OOM_DISABLE, OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN

_NEG = {"ignore_unknown_options": True}  # so that VALUE may be negative: `oomlens adj 1234 -500`


def _int_arg(value: str | None, name: str, lo: int, hi: int) -> int | None:
    if value is None:
        return None
    try:
        v = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an integer", param_hint=name) from None
    if not lo <= v <= hi:
        raise click.BadParameter(f"{v} is not in {lo}..{hi}", param_hint=name)
    return v


@click.command("adj", context_settings=_NEG)
@click.argument("pid", type=int)
@click.argument("value", required=False)
@click.option("--legacy", is_flag=True, help="Read/set the legacy oom_adj (-17..15) instead; the kernel converts it.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--proc", default="/proc", show_default=True, hidden=True, help="procfs root.")
@handle_errors
def adj(pid: int, value: str | None, legacy: bool, as_json: bool, proc: str) -> None:
    """Show or set PID's oom_score_adj (-1000..1000), or with --legacy its oom_adj (-17..15).

    Setting re-checks that PID is still the same process (pid + start time, pidfd), writes, and reads the
    value back: it fails (exit 10/11) unless the kernel took it. Lowering below the process's
    oom_score_adj_min needs CAP_SYS_RESOURCE."""
    from oomlens.sources.identity import ProcessIdentity
    from oomlens.sources.procfs import ProcFS

    procfs = ProcFS(proc)
    v = _int_arg(value, "VALUE", OOM_DISABLE, OOM_ADJUST_MAX) if legacy else \
        _int_arg(value, "VALUE", OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX)
    with ProcessIdentity.capture(pid, procfs) as ident:
        doc: dict[str, object] = {"pid": pid, "comm": ident.comm}
        if v is not None:
            w = procfs.write_oom_adj(ident, v) if legacy else procfs.write_oom_score_adj(ident, v)
            doc.update(before=w.before, oom_score_adj=w.after, changed=w.changed)
            if legacy:
                doc["oom_adj"] = v
                doc["converted"] = oom_adj_to_oom_score_adj(v)
        else:
            doc["oom_score_adj"] = procfs.read_oom_score_adj(pid)
            ident.verify(procfs)
        try:
            doc["oom_adj_read"] = procfs.read_oom_adj(pid)
            doc["oom_score"] = procfs.read_oom_score(pid)
        except NoSuchProcess:
            pass
    if as_json:
        _emit_json(doc)
        return
    line = f"pid {pid} ({ident.comm}): oom_score_adj "
    if v is None:
        line += str(doc["oom_score_adj"])
        if legacy:
            line = f"pid {pid} ({ident.comm}): oom_adj {doc.get('oom_adj_read')} (oom_score_adj {doc['oom_score_adj']})"
    elif legacy:
        line = (f"pid {pid} ({ident.comm}): oom_adj set to {v}: the kernel stored oom_score_adj {doc['oom_score_adj']} "
                f"(was {doc['before']})")
    else:
        line += f"{doc['before']} -> {doc['oom_score_adj']}" + ("" if doc["changed"] else " (unchanged)")
    click.echo(line)


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--adj", "adj_value", required=True, metavar="N", help="oom_score_adj for CMD (-1000..1000).")
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
def run(adj_value: str, cmd: tuple[str, ...]) -> None:
    """Run CMD with oom_score_adj N (inherited by its children): `oomlens run --adj 500 -- CMD ARGS...`.

    oomlens sets its own value, checks the kernel kept it, then execs CMD (same pid). Lowering below the
    current oom_score_adj_min needs CAP_SYS_RESOURCE (exit 10, CMD not run)."""
    from oomlens.sources.identity import ProcessIdentity
    from oomlens.sources.procfs import ProcFS

    v = _int_arg(adj_value, "--adj", OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX)
    assert v is not None
    args = list(cmd[1:] if cmd and cmd[0] == "--" else cmd)
    if not args:
        raise click.UsageError("no command given: oomlens run --adj N -- CMD [ARGS...]")
    procfs = ProcFS()
    with ProcessIdentity.capture(os.getpid(), procfs, use_pidfd=False) as me:
        procfs.write_oom_score_adj(me, v)
    try:
        os.execvp(args[0], args)
    except OSError as exc:
        raise ExecError(f"cannot execute {args[0]!r}: {exc.strerror}",
                        hint="check the command name and PATH (put -- before the command)") from None
