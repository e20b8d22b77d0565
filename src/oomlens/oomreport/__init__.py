"""Kernel OOM report parser: any text containing Linux OOM-killer reports in, structured
:class:`OomEvent` objects out.

Pure, streaming and fast: :func:`iter_events` reads byte chunks, skips ordinary log lines with
``bytes.find`` and runs the line-level state machine only around OOM reports; memory does not
grow with the input. It only *parses*: re-scoring with the kernel model is done elsewhere.
Nothing is guessed silently; doubts are recorded in ``OomEvent.notes`` / ``.warnings``.

Modules: :mod:`.model` (value types), :mod:`.normalize` (syslog/journal/dmesg/kmsg prefixes),
:mod:`.parse` (one parser per printing kernel function), :mod:`.events` (the state machine),
:mod:`.scan` (chunked prefilter). Reading files, stdin and the host's kernel log is
:mod:`oomlens.sources.kernellog`'s job (``iter_file_events`` lives there).

Standard library only.
"""

from __future__ import annotations

from oomlens.oomreport.model import (
    CpuLine,
    InvokedLine,
    KillLine,
    MemcgBlock,
    MemInfoBlock,
    OomEvent,
    ReaperLine,
    SelectionLine,
    SummaryLine,
    TaskRow,
    TaskTable,
    ZoneInfo,
)
from oomlens.oomreport.parse import (
    parse_dump_header,
    parse_dump_stack_print_info,
    parse_dump_tasks,
    parse_dump_tasks_header,
    parse_dump_tasks_row,
    parse_mem_cgroup_print_oom_info,
    parse_oom_kill_process,
    parse_oom_reaper,
    parse_oom_summary,
    parse_show_mem,
)
from oomlens.oomreport.scan import EventParser, iter_events

__all__ = [
    "CpuLine", "EventParser", "InvokedLine", "KillLine", "MemInfoBlock", "MemcgBlock", "OomEvent", "ReaperLine",
    "SelectionLine", "SummaryLine", "TaskRow", "TaskTable", "ZoneInfo", "iter_events", "parse_dump_header",
    "parse_dump_stack_print_info", "parse_dump_tasks", "parse_dump_tasks_header", "parse_dump_tasks_row",
    "parse_mem_cgroup_print_oom_info", "parse_oom_kill_process", "parse_oom_reaper", "parse_oom_summary",
    "parse_show_mem", "parse_text",
]


def parse_text(text: str, source: str = "<text>") -> list[OomEvent]:
    """All events of a text held in memory (convenience over :func:`iter_events`)."""
    return list(iter_events([text.encode("utf-8", "surrogateescape")], source))
