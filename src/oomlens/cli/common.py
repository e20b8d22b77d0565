"""What the command modules share: sizes, the error-to-exit-code wrapper (the one place errors become
exit codes), JSON output, the snapshot/domain options.

Imports stay light at module level (click only): ``top --json`` must start fast; rich is loaded by the
human renderers alone.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

import click

from oomlens.cli import exit_codes
from oomlens.cli.text import visible
from oomlens.errors import OomLensError

PAGE = 4096
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(i?b?)?\s*$", re.I)


def parse_size(text: str, page_size: int = PAGE) -> int:
    """``512M``, ``2G``, ``1.5GiB``, ``300000p`` (pages) or plain bytes → pages."""
    m = _SIZE.match(text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a size (examples: 512M, 2G, 1048576, 25600p)")
    num, unit = float(m.group(1)), m.group(2).lower()
    if unit == "p":
        return int(num)
    mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[unit]
    return int(num * mult) // page_size


def error_lines(msg: str, hint: str | None) -> str:
    """The one error format: one line, and a ``hint:`` line when there is something to do."""
    out = f"oomlens: error: {visible(msg)}"
    if hint:
        out += f"\n  hint: {visible(hint)}"
    return out


def report_error(exc: OomLensError) -> None:
    """The one-line error and its hint on stderr (a command that goes on after it exits later)."""
    click.echo(error_lines(str(exc), exc.hint), err=True)


def _fail(exc: OomLensError) -> None:
    report_error(exc)
    sys.exit(exit_codes.code_for(exc))


def usage_error(exc: click.ClickException) -> None:
    """click's usage errors in the one error format (instead of click's usage block), exit 2."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "oomlens"
    msg = " ".join(exc.format_message().split())  # click's messages may span lines; ours are one
    hint = f"see `{path} --help`"
    click.echo(error_lines(msg, hint), err=True)
    sys.exit(exc.exit_code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map the oomlens error hierarchy to documented exit codes, in one place."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OomLensError as exc:
            if os.environ.get("OOMLENS_DEBUG"):
                raise
            _fail(exc)
        except BrokenPipeError:  # `oomlens top | head`
            sys.stderr.close()
            sys.exit(exit_codes.OK)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # usage errors and exits: click's main (cli.main) formats them
        except Exception as exc:  # a bug: the one error format too, the traceback only when asked for
            if os.environ.get("OOMLENS_DEBUG"):
                raise
            internal_error(exc)

    return wrapper


def internal_error(exc: Exception) -> None:
    """An exception that is not an :class:`OomLensError` (a bug): one line and a hint, exit 1."""
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
    msg = " ".join(f"internal error: {type(exc).__name__}: {exc}{where}".split())
    click.echo(error_lines(msg, "this is a bug in oomlens; please report it with the traceback that "
                                "OOMLENS_DEBUG=1 oomlens ... prints"), err=True)
    sys.exit(exit_codes.INTERNAL)


def one_shot(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command that reads /proc with the cyclic garbage collector paused.

    Such a command builds about ten objects per process in one go and keeps them to the end; they form no
    reference cycles, so the collector's passes over them (one per 700 new objects: ~60 in `top` on 3,000
    processes, 4% of its time) free nothing. Reference counting still frees everything; the collector's
    state is restored afterwards.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def _emit_json(doc: dict[str, Any], rows: tuple[str, Iterable[Any]] | None = None) -> None:
    """Write ``doc`` as JSON: indented for a person at a terminal; compact (and ~3x faster to encode) for
    pipes and files. ``rows`` = (key, items) puts the list of items at ``doc[key]`` (a placeholder there
    keeps its place among the keys); compact output encodes and writes them a batch at a time, so the
    whole document never sits in memory as dicts and text at once: the same bytes, ~30% faster for
    `top --json` on 3,000 processes (every new page of memory is a page fault)."""
    out = sys.stdout
    if out.isatty() or rows is None:
        if rows is not None:
            doc = {**doc, rows[0]: list(rows[1])}
        out.write(json.dumps(doc, indent=1, default=str) if out.isatty()
                  else json.dumps(doc, separators=(",", ":"), default=str))
        out.write("\n")
        return
    encode = json.JSONEncoder(separators=(",", ":"), default=str).encode
    key, items = rows
    keys = list(doc)
    at = keys.index(key)
    head = encode({k: doc[k] for k in keys[:at]})[:-1]  # '{"a":1' (or '{')
    tail = encode({k: doc[k] for k in keys[at + 1:]})[1:]  # '"z":2}' (or '}')
    out.write(head + ("," if at else "") + encode(key) + ":[")
    batch: list[Any] = []
    first = True
    for item in items:
        batch.append(item)
        if len(batch) == _BATCH:
            out.write(("" if first else ",") + encode(batch)[1:-1])
            batch, first = [], False
    if batch:
        out.write(("" if first else ",") + encode(batch)[1:-1])
    out.write("]" + ("," if tail != "}" else "") + tail + "\n")


_BATCH = 256


def _snapshot(snapshot_file: str | None, cgroup: str | None, proc: str, legacy: bool = False) -> Any:
    from oomlens.kernel import snapshot as snap_mod
    from oomlens.sources import live

    if snapshot_file:
        snap = live.load_snapshot(snapshot_file)
        if cgroup is not None:
            snap = snap_mod.restrict_to_cgroup(snap, cgroup)
        return snap
    from oomlens.sources.procfs import ProcFS

    return live.take_snapshot(ProcFS(proc), cgroup=cgroup, legacy=legacy)


def _legacy(kernel: str | None) -> bool:
    if not kernel:
        return False
    from oomlens.kernel.eras import era_for

    return era_for(kernel).scoring == "legacy"


# Release lines that exist: the last minor of each finished major (2.6.39, 3.19, 4.20, 5.19); 6.x and 7.x
# are open. Anything else (99.1, 3.40) is a typo, refused rather than scored with some era's rules.
_LAST_MINOR = {2: 6, 3: 19, 4: 20, 5: 19}
_NEWEST_MAJOR = 7


def _check_kernel(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from oomlens.errors import KernelVersionError
    from oomlens.kernel.eras import parse_version

    examples = "give a release like 3.10, 4.19 or 6.8.0-45-generic"
    if not value.strip():
        raise click.BadParameter(f"empty; {examples}")
    try:
        major, minor, _ = parse_version(value.strip())
    except KernelVersionError:
        raise click.BadParameter(f"{value!r} is not a kernel release; {examples}") from None
    if not 2 <= major <= _NEWEST_MAJOR or minor > _LAST_MINOR.get(major, minor):
        raise click.BadParameter(f"{value!r}: there is no such Linux release (known: 2.4 to 2.6.39, 3.0-3.19, "
                                 f"4.0-4.20, 5.0-5.19, 6.x); {examples}")
    return value.strip()


def _check_cgroup(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("empty path; give /sys/fs/cgroup/... or the path shown in /proc/PID/cgroup "
                                 "(omit --cgroup for the global domain)")
    return value


def unit_fields(era: Any) -> dict[str, str]:
    """JSON: the unit of every badness figure in the document (``pages``, ``permille`` of T, or heuristic
    ``points``): ``badness`` keeps its meaning, the kernel's value, whose unit depends on the era."""
    return {"badness_unit": era.badness_unit}


verbose_option = click.option("-v", "--verbose", is_flag=True,
                              help="Also show the standing notes (what /proc cannot show, assumptions); "
                                   "--json always has them all.")


def missing_pid(pid: int, snap: Any, *, snapshot_file: str | None, cgroup: str | None, proc: str,
                command: str = "explain") -> OomLensError:
    """Why ``pid`` is not in the ranked domain, said precisely: a thread (named by its process), a live
    process in another cgroup, a pid the snapshot lacks, or no such process at all."""
    from oomlens.errors import NoSuchProcess

    snap_opt = f" --snapshot {snapshot_file}" if snapshot_file else ""
    def err(msg: str, hint: str) -> OomLensError:
        e = NoSuchProcess(pid, msg=msg)
        e.hint = hint
        return e

    domain = f"cgroup {cgroup}" if cgroup else "the global domain"
    if snapshot_file:
        known = {t.pid: t for t in snap.tasks}
        if pid in known and cgroup:
            return err(f"pid {pid} ({known[pid].name}) is in snapshot {snapshot_file} but not in {domain}",
                       f"`oomlens {command} {pid}{snap_opt}` ranks it in the snapshot's domain")
        return err(f"no such process in snapshot {snapshot_file}: pid {pid}",
                   f"list its processes with `oomlens top --all{snap_opt}`")
    from oomlens.sources.procfs import ProcFS

    pfs = ProcFS(proc)
    try:
        status = pfs.read_status(pid)
    except (OomLensError, OSError):
        return err(f"no such process: pid {pid}", "list candidates with `oomlens top --all`")
    name, tgid = status.get("Name", "?"), status.get("Tgid", str(pid))
    if tgid.isascii() and tgid.isdigit() and int(tgid) != pid:
        try:
            leader = pfs.read_status(int(tgid)).get("Name", "?")
        except (OomLensError, OSError):
            leader = "?"
        return err(f"pid {pid} ({name}) is a thread of process {tgid} ({leader}); the OOM killer scores processes",
                   f"`oomlens {command} {tgid}`")
    if cgroup:
        try:
            from oomlens.sources.cgroupfs import CgroupFS

            where = CgroupFS(procfs=pfs).memcg_of(pid).path
        except (OomLensError, OSError):
            where = None
        loc = f"it is in memory cgroup {where}" if where else "it is in another cgroup"
        cmd = f"oomlens {command} {pid}" + (f" --cgroup {where}" if where and where != "/" else "")
        return err(f"pid {pid} ({name}) is a live process, but not in {domain}: {loc}", f"`{cmd}`")
    return err(f"pid {pid} ({name}) was not in the scan (it started after it, or could not be read)",
               "run the command again; `oomlens top --all` lists what the scan sees")


domain_options = [
    click.option("--cgroup", "cgroup", metavar="PATH", callback=_check_cgroup,
                 help="Memory cgroup as OOM domain: /sys/fs/cgroup/... path or the path shown in /proc/PID/cgroup."),
    click.option("--snapshot", "snapshot_file", metavar="FILE", type=click.Path(dir_okay=False),
                 help="Analyse a snapshot saved by `oomlens snapshot` instead of this host."),
    click.option("--kernel", metavar="VERSION", callback=_check_kernel,
                 help="Score with another kernel's rules, e.g. 3.10 or 4.19."),
    click.option("--proc", default="/proc", show_default=True, hidden=True, help="procfs root."),
]


def with_domain(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(domain_options):
        fn = opt(fn)
    return fn
