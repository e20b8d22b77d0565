"""``python -m oomlens.oomreport [--json|--count] [FILE ...|--kernel-log [--since WHEN]]``

Print the OOM events found in each FILE (``-`` = stdin; gzip/bzip2/xz detected by content), or
in this host's kernel log. Default output: one line per event. ``--json``: one JSON object per
line (``OomEvent.to_dict()``). ``--count``: just the number of events. Exit status 0 when the
input was read (even with no event), 7 when an input could not be read (as ``oomlens``).
Standard library only; the ``oomlens postmortem`` command is the user-facing interface.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from oomlens.cli.exit_codes import code_for
from oomlens.errors import InputError
from oomlens.oomreport.model import OomEvent
from oomlens.oomreport.scan import iter_events
from oomlens.sources.kernellog import iter_file_events, iter_kernel_log_lines


def _line(ev: OomEvent) -> str:
    where = f"{ev.source}:{ev.start_line}-{ev.end_line}"
    host = f" host={ev.host}" if ev.host else ""
    victim = (f"killed {ev.victim_pid} ({ev.victim_name})" if ev.victim_pid is not None
              else "no kill line")
    extra = []
    if ev.selection is not None:
        extra.append(f"score {ev.selection.score}")
    if ev.kernel_release:
        extra.append(ev.kernel_release)
    if ev.sysrq:
        extra.append("sysrq")
    dom = ev.constraint or ev.domain or "?"
    if ev.oom_memcg:
        dom += f" {ev.oom_memcg}"
    return f"{where}{host} {dom}: {victim}" + (f" [{', '.join(extra)}]" if extra else "")


def _emit(events: Iterable[OomEvent], mode: str) -> int:
    n = 0
    out = sys.stdout
    for ev in events:
        n += 1
        if mode == "json":
            out.write(json.dumps(ev.to_dict(), separators=(",", ":")) + "\n")
        elif mode == "text":
            out.write(_line(ev) + "\n")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oomlens.oomreport",
                                 description="Find Linux OOM-killer reports in kernel logs.")
    ap.add_argument("files", nargs="*", metavar="FILE", help="log files ('-' = stdin)")
    ap.add_argument("--kernel-log", action="store_true", help="read this host's kernel log")
    ap.add_argument("--since", help="with --kernel-log: passed to journalctl --since")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="one JSON object per event")
    g.add_argument("--count", action="store_true", help="print the number of events only")
    args = ap.parse_args(argv)
    mode = "json" if args.json else "count" if args.count else "text"
    if not args.files and not args.kernel_log:
        args.files = ["-"]
    total = 0
    try:
        if args.kernel_log:
            total += _emit(iter_events(iter_kernel_log_lines(args.since), "kernel-log"), mode)
        for path in args.files:
            total += _emit(iter_file_events(path), mode)
    except InputError as e:
        sys.stdout.flush()
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return code_for(e)  # the CLI's one error -> exit code table (7 for unreadable input)
    if mode == "count":
        print(total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
