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
from oomlens.errors import OomLensError

PAGE = 4096
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)?\s*$", re.I)


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


def report_error(exc: OomLensError) -> None:
    """The one-line error and its hint on stderr (a command that goes on after it exits later)."""
    msg = f"oomlens: error: {exc}"
    if exc.hint:
        msg += f"\n  hint: {exc.hint}"
    click.echo(msg, err=True)


def _fail(exc: OomLensError) -> None:
    report_error(exc)
    sys.exit(exit_codes.code_for(exc))


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

    return wrapper


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


domain_options = [
    click.option("--cgroup", "cgroup", metavar="PATH",
                 help="Memory cgroup as OOM domain: /sys/fs/cgroup/... path or the path shown in /proc/PID/cgroup."),
    click.option("--snapshot", "snapshot_file", metavar="FILE", type=click.Path(dir_okay=False),
                 help="Analyse a snapshot saved by `oomlens snapshot` instead of this host."),
    click.option("--kernel", metavar="VERSION", help="Score with another kernel's rules, e.g. 3.10 or 4.19."),
    click.option("--proc", default="/proc", show_default=True, hidden=True, help="procfs root."),
]


def with_domain(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(domain_options):
        fn = opt(fn)
    return fn
