"""``oomlens postmortem``: read kernel OOM reports and say whether the kernel's choice agrees with the model."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click

from oomlens.cli import exit_codes
from oomlens.cli.common import handle_errors


@click.command(epilog=exit_codes.HELP)
@click.argument("files", nargs=-1, metavar="[FILE ...]")
@click.option("--since", metavar="TIME", help="With no FILE: read the host's kernel log from TIME (journalctl syntax).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, streamed event by event.")
@click.option("-v", "--verbose", is_flag=True, help="Show every candidate and all notes.")
@click.option("--html", "html_file", metavar="FILE", help="Also write a self-contained HTML page: timeline and charts.")
@handle_errors
def postmortem(files: tuple[str, ...], since: str | None, as_json: bool, verbose: bool,
               html_file: str | None = None) -> None:
    """Explain kernel OOM reports: what the kernel did, what the model says, and whether they agree.

    FILE may be plain or gzip-compressed, '-' for stdin; with no FILE, this host's kernel log
    (journal if present, else the ring buffer). Exit 0 whenever the input was read, even with no OOM event.
    """
    from oomlens.analysis.postmortem import analyze_events
    from oomlens.oomreport.model import OomEvent
    from oomlens.oomreport.scan import iter_events
    from oomlens.sources.kernellog import iter_file_events

    def events() -> Iterator[OomEvent]:
        if not files:
            from oomlens.sources.kernellog import iter_kernel_log_lines

            yield from iter_events(iter_kernel_log_lines(since), "kernel log")
        for f in files:
            yield from iter_file_events(f)

    analyses = analyze_events(events())
    if html_file:
        from oomlens.cli.html import tee_postmortem
        analyses = tee_postmortem(analyses, html_file, files or ("kernel log",))
    if as_json:
        out = sys.stdout
        out.write('{"events":[')
        for i, a in enumerate(analyses):
            out.write(("," if i else "") + json.dumps(a.to_dict(), separators=(",", ":"), default=str))
            out.flush()
        out.write("]}\n")
        return
    from oomlens.cli import render

    n = 0
    for a in analyses:
        render.postmortem_event(a, verbose=verbose)
        n += 1
    render.postmortem_summary(n, files or ("kernel log",))
