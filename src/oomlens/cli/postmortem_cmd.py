"""``oomlens postmortem``: read kernel OOM reports and say whether the kernel's choice agrees with the model.

Inputs are read one after another as grep does: an unreadable one is reported on stderr (one line and a
hint), the others are still read, the JSON document stays valid (a ``sources`` entry with the error) and
the exit status is that of the first error (7) at the end.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import handle_errors, report_error
from oomlens.errors import OomLensError

_SINCE = re.compile(
    r"""^(?:today|yesterday|now|tomorrow
        |@\d+(?:\.\d+)?
        |[-+]?\s*\d+\s*(?:us|ms|s|sec|seconds?|m|min|minutes?|h|hours?|d|days?|w|weeks?|M|months?|y|years?)
            (?:\s+ago)?
        |\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?
        |\d{2}:\d{2}(?::\d{2})?)$""", re.X)
"""The journalctl --since forms accepted (systemd.time(7)): anything else is a usage error, not a log error."""


def _check_since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _SINCE.match(value.strip()):
        raise click.BadParameter(f"{value!r} is not a time (examples: '2024-05-01 10:00', today, -2h, '3 days ago')")
    return value


def _stdin_has_data() -> bool:
    """stdin is a pipe, a socket or a redirected file (not a terminal, not /dev/null): read it, as grep does."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):  # no real stdin (closed, a test harness's buffer)
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


@dataclass(slots=True)
class _Source:
    path: str
    events: int = 0
    error: OomLensError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "events": self.events,
                "error": None if self.error is None else str(self.error),
                "hint": None if self.error is None else self.error.hint}


@click.command(epilog=exit_codes.HELP)
@click.argument("files", nargs=-1, metavar="[FILE ...]")
@click.option("--since", metavar="TIME", callback=_check_since,
              help="Only with no FILE: read this host's kernel log from TIME (journalctl syntax: "
                   "'2024-05-01 10:00', today, -2h). Refused with FILE (files are not filtered).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, streamed event by event.")
@click.option("-v", "--verbose", is_flag=True, help="Show every candidate and all notes.")
@click.option("--html", "html_file", metavar="FILE", help="Also write a self-contained HTML page: timeline and charts.")
@handle_errors
def postmortem(files: tuple[str, ...], since: str | None, as_json: bool, verbose: bool,
               html_file: str | None = None) -> None:
    """Explain kernel OOM reports: what the kernel did, what the model says, and whether they agree.

    FILE may be plain or compressed (gzip, bzip2, xz), '-' for stdin. With no FILE: stdin when it is a pipe
    or a file (as grep), else this host's kernel log (journal if present, else the ring buffer); --since
    always reads this host's log. An unreadable FILE is reported and skipped; the others are read and the
    exit status is 7 at the end. Exit 0 whenever every input was read, even with no OOM event.
    """
    from oomlens.analysis.postmortem import Tally, analyze_events
    from oomlens.oomreport.model import OomEvent
    from oomlens.oomreport.scan import iter_events
    from oomlens.sources.kernellog import iter_file_events

    if since is not None and files:
        raise click.UsageError("--since filters this host's kernel log; it cannot filter FILE "
                               "(filter the file first, e.g. with journalctl --since ... or sed, or drop --since)")
    host_log = not files and (since is not None or not _stdin_has_data())
    inputs = ["kernel log"] if host_log else list(files or ("-",))
    debug = bool(os.environ.get("OOMLENS_DEBUG"))
    sources = [_Source(p) for p in inputs]

    def events() -> Iterator[OomEvent]:
        for src in sources:
            it: Iterator[OomEvent]
            if host_log:
                from oomlens.sources.kernellog import iter_kernel_log_lines

                it = iter_events(iter_kernel_log_lines(since), "kernel log")
            else:
                it = iter_file_events(src.path)
            try:
                for ev in it:
                    src.events += 1
                    yield ev
            except OomLensError as exc:  # this input is lost from here on; the others are still read
                src.error = exc
                report_error(exc)
            except Exception as exc:  # a parser bug: say so (exit 1 at the end), keep the JSON valid, go on
                if debug:
                    raise
                src.error = OomLensError(f"{src.path}: internal error while reading it ({type(exc).__name__}: "
                                         f"{str(exc)[:200]}); the events completed before it were analysed",
                                         hint="please report it, with the traceback OOMLENS_DEBUG=1 shows")
                report_error(src.error)

    analyses = analyze_events(events(), strict=debug)
    if html_file:
        from oomlens.cli.html import tee_postmortem
        analyses = tee_postmortem(analyses, html_file, files or ("kernel log",))
    tally = Tally()
    if as_json:
        out = sys.stdout
        out.write('{"events":[')
        first = True
        for a in analyses:
            tally.add(a)
            if a.repeat_of is not None:  # the same OOM again: no event (the summary lists it)
                continue
            out.write(("" if first else ",") + json.dumps(a.to_dict(), separators=(",", ":"), default=str))
            first = False
            out.flush()
        out.write('],"sources":' + json.dumps([s.to_dict() for s in sources], separators=(",", ":"))
                  + ',"summary":' + json.dumps(tally.to_dict(), separators=(",", ":")) + "}\n")
    else:
        from oomlens.cli import render

        for a in analyses:
            tally.add(a)
            render.postmortem_event(a, verbose=verbose)
        render.postmortem_summary(tally, [(s.path, s.error is not None, s.events) for s in sources])
    failed = next((s.error for s in sources if s.error is not None), None)
    if failed is not None:
        sys.exit(exit_codes.code_for(failed))
