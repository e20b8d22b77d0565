"""The event state machine: classified kernel lines in, :class:`OomEvent` objects out.

A report is printed in a fixed order (spec 6): ``invoked`` line, ``cpuset`` line, CPU/Call Trace,
memory state (memcg block or ``Mem-Info``), task table, ``oom-kill:`` summary, selection and kill
lines, and later, asynchronously, ``oom_reaper`` lines. Each line kind has a *stage* in that order.
One :class:`_Draft` accumulates the report of one host; a line starts a new draft when it cannot
belong to the open one:

* an ``invoked oom-killer`` line always starts a report;
* a line whose stage is *earlier* than the draft's (e.g. a memcg block after a kill line) starts a
  report that lost its beginning (ratelimited header, cut paste: corpus 008, 012);
* a line that repeats something the draft already has (second ``Mem-Info``, second table,
  second selection, a second kill without ``memory.oom.group``) starts a report too. So do bursts
  of kill lines without headers (``dump_header`` is ratelimited, the kill line is not).

CPU/Call-Trace lines seen after the memory stage go to a side buffer: they either open the next
(header-less) report, which then starts (and is timed) at them, or were an unrelated warning
interleaved with this one.

Only a draft with OOM evidence outlives its region (the scanner's run of adjacent lines): what
waits for the next report (side lines, ratelimit notes, lookalike warnings) and an evidence-less
draft are dropped when the region closes (see :meth:`Assembler.region_closed`).

A draft without OOM evidence (only ``Mem-Info`` of a page-allocation failure, or the trace of an
unrelated WARNING) is dropped. Finished drafts that killed something wait (bounded: a few events,
a few thousand lines) for their ``oom_reaper`` lines, which name the victim pid; reaper lines for
other pids are recorded as ``other_reaped``. Everything uncertain becomes a note on the event.

Memory: one open draft per host plus a bounded queue; never the input.

Pure: standard library only.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

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
from oomlens.oomreport.normalize import LogLine, clock_seconds, normalize_line, rewrapped_record, split_at_stamp
from oomlens.oomreport.parse import (
    HEADERLESS_LAYOUTS,
    INIT_PANIC_LINE,
    OOM_FRAMES,
    Cut,
    Kind,
    Unusable,
    classify,
    cut_oom_head,
    cut_reaper,
    headerless_layouts,
    headerless_numbers,
    parse_dump_tasks_row,
    parse_dump_tasks_row_cut,
    parse_oom_summary,
    sane_release,
    table_variant,
)

__all__ = ["Item", "Assembler", "process_region", "is_reversed", "classify_line", "qp_decode"]

# Stage of each kind in the printed order (tens = coarse stage).
STAGE = {
    Kind.SYSRQ: 0, Kind.INVOKED: 10, Kind.CPUSET: 11, Kind.CPU: 20, Kind.TRACE: 21,
    Kind.TASK_IN: 30, Kind.MEMCG_USAGE: 31, Kind.MEMCG_STATS: 32, Kind.MEMCG_KV: 32,
    Kind.MEMINFO: 33, Kind.VMSTAT: 33, Kind.TASKS_STATE: 40, Kind.TABLE_HEADER: 41,
    Kind.TABLE_ROW: 42, Kind.SUMMARY: 50, Kind.SUMMARY_CONT: 50, Kind.SELECT: 60,
    Kind.NO_KILLABLE: 60, Kind.KILLED: 61, Kind.EXITING: 61, Kind.SHARING: 62, Kind.PINNED: 62,
    Kind.OOM_GROUP: 63, Kind.PANIC: 64, Kind.REAPER: 70,
}
# Kinds that prove a report is an OOM report (dump_tasks and the memcg OOM block only print there).
EVIDENCE = frozenset({
    Kind.SYSRQ, Kind.INVOKED, Kind.TASK_IN, Kind.MEMCG_USAGE, Kind.TASKS_STATE, Kind.TABLE_HEADER,
    Kind.SUMMARY, Kind.SELECT, Kind.KILLED, Kind.SHARING, Kind.PINNED, Kind.OOM_GROUP,
    Kind.EXITING, Kind.NO_KILLABLE, Kind.PANIC,
})
# Kinds whose shape is too generic to start a report on their own.
CONTEXTUAL = frozenset({Kind.MEMCG_KV, Kind.VMSTAT, Kind.SUMMARY_CONT})

MAX_GAP_LINES = 1000
"""An unfinished report continues across at most this many unrelated lines."""
REAPER_GRACE_LINES = 4000
"""How long (in input lines) a finished report waits for its ``oom_reaper`` lines (the reaper
runs within milliseconds, or after a 2 s timer from ~5.17; compare ``scan.REAPER_WINDOW``)."""
_REAPER_KILL_VARIANTS = frozenset({"4.5", "5.3", "5.4"})
"""Kill-line formats of kernels that have an oom_reaper (4.6+; the 4.5 format runs to 5.0)."""
MAX_PENDING = 4
"""Finished reports kept waiting for reaper lines, per host."""
MAX_SIDE_LINES = 400
MAX_NOTES = 32


_NOT_DEDUPED = frozenset({Kind.TABLE_ROW, Kind.TRACE})
"""Kinds a repeated stamped line is kept for: table rows have their own duplicate rule; trace frames and noise
may repeat within one record."""


class Item(NamedTuple):
    """One classified line of a region (``end``: last physical line when several were joined;
    ``lead``: see ``Normalizer.lead``; ``cut``: the ``CUT_*`` the line was classified with;
    ``note``: what a repair of the region did to it, for the report's notes)."""

    lineno: int
    line: LogLine
    kind: str
    payload: Any
    end: int = 0
    lead: int = 0
    cut: str | None = None
    note: str | None = None


def classify_line(text: str, trusted: bool, lineno: int, cut: str | None = None) -> tuple[str, Any]:
    """:func:`parse.classify` for a line of the input: a line that does not come from the kernel is
    noise, its payload what it looked like (for a warning), never kernel output."""
    kind, payload = classify(text, lineno, cut)
    if not trusted:
        return Kind.NOISE, (kind if kind not in (Kind.NOISE, Kind.PARTIAL) else None)
    return kind, payload


class _Draft:
    """Mutable accumulator for one report."""

    def __init__(self, host: str | None, lineno: int, line: LogLine) -> None:
        self.host = host
        self.start = lineno
        self.end = lineno
        self.timestamp = line.timestamp
        self.uptime = line.uptime
        self.stage = -1
        self.evidence = False
        self.hints: dict[str, None] = {}
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.reversed = False
        self.sysrq_line = False
        self.invoked: InvokedLine | None = None
        self.cpu: CpuLine | None = None
        self.cpuset: tuple[str, str, str] | None = None
        self.frames: dict[str, None] = {}
        self.task_in: tuple[str, str] | None = None
        self.memcg: dict[str, Any] = {}
        self.memcg_stats: list[tuple[str, int]] = []
        self.memcg_stats_open = False
        self.meminfo: dict[str, Any] = {}
        self.zones: list[ZoneInfo] = []
        self.buddy_kb: set[int] = set()   # the first block size of each buddy list printed
        self.vmstat: list[tuple[str, int]] = []
        self.meminfo_header = False
        self.columns: tuple[str, ...] | None = None
        self.table_started = False
        self.tasks_state = False
        self.wide = False
        self.rows: list[TaskRow | None] = []   # None: replaced by a later row of the same pid
        self.row_index: dict[int, int] = {}     # pid -> index in rows
        self.replaced = 0
        self.dups = 0
        self.seen: set[tuple[float, str]] = set()   # (uptime stamp, text) of the report's stamped lines
        self.dup_lines = 0
        self.table_gap = False
        self.headerless_rows = 0
        self.headerless_raw: list[tuple[str, int]] = []   # (text, line number) of the whole headerless rows
        self.summary: SummaryLine | None = None
        self.summary_text: str | None = None
        self.selection: SelectionLine | None = None
        self.killed: list[KillLine] = []
        self.killed_pids: set[int] = set()
        self.kill_dups: list[int] = []   # pids of repeated kill lines
        self.sharing: list[tuple[int, str]] = []
        self.pinned: list[tuple[int, str, int, str]] = []
        self.oom_group: str | None = None
        self.exiting: list[tuple[int, str, str]] = []
        self.no_killable = False
        self.panic: str | None = None
        self.reaped: list[ReaperLine] = []
        self.other_reaped: list[ReaperLine] = []
        self.first_kind: str | None = None
        self.finished_by = ""
        self.serial: int | None = None          # the OOM[N] serial of its lines (a patched kernel)
        self.deferred_table = False             # rows of its serial came after its kill line
        self.rows_open = False                  # a task table's header or rows are being read: an elision here lost rows
        self.table_elided = False
        self.fixes: dict[str, list[int]] = {}   # repair tag (a wrapper) -> lines it was made on
        self.after_cpu: CpuLine | None = None   # a CPU line right after the report's outcome or selection
        self.after_next = False                 # ... that opens the host's next report (its stack dump)
        self.followed_by: int | None = None     # a line of the host's next report, when that follows directly

    # -- small helpers -------------------------------------------------------------------------
    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def warn(self, text: str) -> None:
        if text not in self.warnings and len(self.warnings) < MAX_NOTES:
            self.warnings.append(text)

    def touch(self, lineno: int) -> None:
        if lineno < self.start:
            self.start = lineno
        if lineno > self.end:
            self.end = lineno

    @property
    def has_kill_outcome(self) -> bool:
        return bool(self.killed or self.exiting or self.no_killable or self.panic)

    @property
    def complete(self) -> bool:
        return self.has_kill_outcome

    def wants_reaper(self) -> bool:
        """Killed something on a kernel with an oom_reaper, and not all of it was reaped yet."""
        if not any(k.variant in _REAPER_KILL_VARIANTS for k in self.killed):
            return False
        return bool(self.killed_pids - {r.pid for r in self.reaped})

    # -- does a line belong here? ---------------------------------------------------------------
    def starts_new(self, kind: str, payload: Any) -> bool:
        """True when ``kind`` cannot continue this report (see module docstring)."""
        if kind == Kind.INVOKED:
            return self.stage >= 10 or self.invoked is not None
        if kind == Kind.SYSRQ:
            return self.stage >= 0
        if kind == Kind.CPU:
            return self.cpu is not None or self.stage >= 30
        if kind == Kind.CPUSET:
            return self.cpuset is not None or self.stage >= 20
        stage = STAGE[kind]
        if stage // 10 < self.stage // 10:
            return True
        if kind == Kind.TASK_IN:
            return self.task_in is not None
        if kind == Kind.MEMCG_USAGE:
            return payload[1] in self.memcg
        if kind == Kind.MEMCG_STATS:
            return self.table_started
        if kind == Kind.MEMINFO:
            what = payload[0]
            if what == "header":
                return self.meminfo_header or self.table_started
            if what == "pages" and payload[1] in ("RAM", "reserved"):
                return ("pages " + payload[1]) in self.meminfo
            return self.table_started
        if kind in (Kind.TASKS_STATE, Kind.TABLE_HEADER):
            return self.table_started and (bool(self.rows) or kind == Kind.TASKS_STATE)
        if kind == Kind.SUMMARY:
            return self.summary is not None or self.summary_text is not None
        if kind == Kind.SELECT:
            return self.selection is not None or self.has_kill_outcome
        if kind == Kind.NO_KILLABLE:
            return self.has_kill_outcome or self.selection is not None
        if kind == Kind.KILLED:
            if not self.killed and not self.exiting:
                return self.no_killable
            if payload.pid in self.killed_pids or self.oom_group is not None:
                return False
            # 2.6.11 killed every process sharing the victim's mm, one legacy line each.
            return not (self.invoked is not None and payload.kind == "legacy")
        if kind == Kind.EXITING:
            return self.has_kill_outcome and self.oom_group is None
        return False


    # -- apply ---------------------------------------------------------------------------------
    def apply(self, item: Item) -> None:
        kind = item.kind
        if self.pending_sep is not None:
            self._commit_sep()   # the report goes on after a '--': lines were omitted inside it
        self.touch(item.lineno)
        if item.end:
            self.touch(item.end)
        if self.first_kind is None and kind in STAGE:
            self.first_kind = kind
        stage = STAGE.get(kind, -1)
        if kind == Kind.SUMMARY and self.stage < 30 and not self.has_kill_outcome and self.selection is None:
            # before the memory state: linux-next/mmotm trees of 4.18-4.20 printed it right after the stack (5.0's
            # ef8444ea01d7 moved it after the task table), or the report starts at it; the stage stays, so the
            # memory state and table that may follow are this report's
            self.summary_early = True
        elif stage > self.stage and kind != Kind.REAPER:
            if self.summary_early and 30 <= stage < 50 and not self.has_kill_outcome and self.selection is None:
                self.summary_first = True   # the memory state or table after it: it was printed first
            self.stage = stage
        if kind in EVIDENCE:
            self.evidence = True
        line = item.line
        if self.timestamp is None and line.timestamp is not None:
            self.timestamp = line.timestamp
        if self.uptime is None and line.uptime is not None:
            self.uptime = line.uptime
        self.hints[line.prefix] = None
        if line.wrappers:
            for w in line.wrappers.split("+"):
                self.hints[w] = None
                if w in _FIX_NOTES:
                    self.fixes.setdefault(w, []).append(item.lineno)
        if line.continuation:
            self.hints["continuation"] = None
        if line.serial is not None and self.serial is None:
            self.serial = line.serial
        if item.note is not None:
            self.note(item.note)
        if kind != Kind.MEMCG_KV and kind != Kind.MEMCG_STATS:
            self.memcg_stats_open = False
        if kind == Kind.TABLE_ROW or kind == Kind.TABLE_HEADER:  # not 'Tasks state': its header comes next
            self.rows_open = True
        elif stage >= 50:
            self.rows_open = False
        handler = _APPLY.get(kind)
        if handler is not None:
            handler(self, item.payload, item)

    # handlers (payload, item) ------------------------------------------------------------------
    def _sysrq(self, p: Any, item: Item) -> None:
        self.sysrq_line = True

    def _invoked(self, p: InvokedLine, item: Item) -> None:
        self.invoked = p

    def _cpuset(self, p: tuple[str, str, str], item: Item) -> None:
        self.cpuset = p

    def _cpu(self, p: CpuLine, item: Item) -> None:
        if self.cpu is None:
            self.cpu = p

    def _trace(self, p: str | None, item: Item) -> None:
        if p is not None and p in OOM_FRAMES:
            self.frames[p] = None
            self.evidence = True

    def _task_in(self, p: tuple[str, str, str], item: Item) -> None:
        self.task_in = (p[1], p[2])

    def _usage(self, p: tuple[str, str, int, int, int], item: Item) -> None:
        self.memcg[p[1]] = (p[2], p[3], p[4])

    def _stats(self, p: tuple[str, str, tuple[tuple[str, int], ...]], item: Item) -> None:
        if self.memcg.get("stats_path") is not None:
            # 3.9-5.2 print one line per cgroup of the subtree, the OOMing one first
            self.memcg["sub_stats"] = self.memcg.get("sub_stats", 0) + 1
            self.note(f"line {item.lineno}: memory stats of sub-cgroup {p[1]} not kept "
                      f"(only those of {self.memcg['stats_path']})")
            return
        self.memcg["stats_path"] = p[1]
        if p[2]:
            self.memcg["stats_unit"] = "KB"
            self.memcg_stats.extend(p[2])
        else:
            self.memcg["stats_unit"] = "memory.stat"
            self.memcg_stats_open = True

    def _kv(self, p: tuple[str, int], item: Item) -> None:
        if self.memcg_stats_open and len(self.memcg_stats) < 512:
            self.memcg_stats.append(p)
            self.memcg_stats_open = True

    def _meminfo(self, p: tuple[Any, ...], item: Item) -> None:
        what = p[0]
        if what == "header":
            self.meminfo_header = True
        elif what == "pages":
            self.meminfo.setdefault("pages " + p[1], p[2])
        elif what == "pagecache":
            self.meminfo.setdefault("pagecache", p[1])
        elif what == "swap_kb":
            self.meminfo.setdefault(p[1] + " swap", p[2])
        elif what == "zone":
            self.zones.append(p[1])
        elif what == "buddy":
            self.buddy_kb.add(p[1])

    def _vmstat(self, p: tuple[Any, ...], item: Item) -> None:
        # Only the global counters right after "Mem-Info:" (continuation lines included).
        if self.meminfo_header and not self.zones and len(self.vmstat) < 128:
            self.vmstat.extend(p[1])

    def _tasks_state(self, p: Any, item: Item) -> None:
        self.tasks_state = True
        self.table_started = True

    def _table_header(self, p: tuple[tuple[str, ...], bool], item: Item) -> None:
        self.columns, self.wide = p
        self.table_started = True

    def _table_row(self, p: str | Cut, item: Item) -> None:
        lineno = item.lineno
        text, flag, how = (p.payload, p.flag, p.how) if isinstance(p, Cut) else (p, 0, "")
        try:
            row, lost = parse_dump_tasks_row_cut(text, self.columns, lineno, flag)
        except Unusable as e:
            self.table_gap = True
            self.note(f"line {lineno}: task-table row not used, the table is incomplete: {e}")
            return
        if row is not None and lost is not None:
            # a cut row: ranking the numbers left would rank a wrong number
            self.table_gap = True
            self.table_started = True
            self.note(f"line {lineno}: task-table row of pid {row.pid} cut short ({how or 'it ends before its name'}): "
                      f"{lost} and what follows unknown; the row is not used and the table is incomplete")
            return
        if row is None:  # unused, so the table lacks a task: the ranking would be of the others only
            self.table_gap = True
            self.table_started = True
            self.note(f"line {lineno}: task-table row does not fit the header: {text[:80]!r}; the row is not used "
                      f"and the table is incomplete")
            return
        if self.columns is None:
            self.headerless_rows += 1
            if not flag:
                self.headerless_raw.append((text, lineno))
        self.table_started = True
        at = self.row_index.get(row.pid)
        if at is not None:
            old = self.rows[at]
            assert old is not None
            if _same_row(old, row):
                self.dups += 1
                return
            # one task per pid: the kernel scans each task once, so one of the rows is stale
            # (a pasted or merged log); the later row is the one printed last
            self.replaced += 1
            self.rows[at] = None
            self.warn(f"task table lists pid {row.pid} twice with different values "
                      f"(lines {old.lineno} and {lineno}); the later row is kept")
        self.row_index[row.pid] = len(self.rows)
        self.rows.append(row)

    def _summary(self, p: SummaryLine, item: Item) -> None:
        if p.pid is None:
            # Early 5.0 printed the tail with pr_info, i.e. on a line of its own: wait for it.
            self.summary_text = item.line.text
            self.summary_lineno = item.lineno
        self.summary = p

    def _summary_cont(self, text: str, item: Item) -> None:
        if self.summary_text is None:
            self.note(f"line {item.lineno}: summary continuation without its first half: "
                      f"{text[:80]!r}")
            return
        text = self.summary_text + text
        joined = parse_oom_summary(text, self.summary_lineno, split=True)
        if joined is not None:
            if joined.pid is not None:
                self.summary_cut_note = None   # the second half came: not cut
            self.summary = joined
            self.summary_text = text if joined.pid is None else None
            self.hints["summary-split"] = None

    def _select(self, p: SelectionLine, item: Item) -> None:
        self.selection = p

    def _killed(self, p: KillLine, item: Item) -> None:
        if p.pid in self.killed_pids:
            self.kill_dups.append(p.pid)
            return
        self.killed.append(p)
        self.killed_pids.add(p.pid)

    def _sharing(self, p: tuple[str, int, str], item: Item) -> None:
        self.sharing.append((p[1], p[2]))

    def _pinned(self, p: tuple[str, int, str, int, str], item: Item) -> None:
        self.pinned.append((p[1], p[2], p[3], p[4]))

    def _oom_group(self, p: tuple[str, str], item: Item) -> None:
        self.oom_group = p[1]

    def _exiting(self, p: tuple[str, int, str, str], item: Item) -> None:
        self.exiting.append((p[1], p[2], p[3]))

    def _no_killable(self, p: Any, item: Item) -> None:
        self.no_killable = True

    def _panic(self, p: str, item: Item) -> None:
        self.panic = p

    def _ratelimit(self, p: tuple[str, int], item: Item) -> None:
        self.note(f"line {item.lineno}: '{p[0]}: {p[1]} callbacks suppressed' (printk "
                  f"ratelimit: OOM reports or lines before this one were not logged)")

    def _commit_sep(self) -> None:
        assert self.pending_sep is not None
        lineno, in_table = self.pending_sep
        self.pending_sep = None
        self.table_gap = self.table_gap or in_table
        self.hints["grep-separator"] = None
        self.note(f"line {lineno}: '--' separator: lines were omitted here "
                  f"(grep context output)")

    def elided(self, item: Item) -> None:
        """An elision ("...", "(...snipped...)") while the task table is read: its rows are not all here."""
        self.table_elided = True
        self.note(f"line {item.lineno}: {item.line.text!r} inside the task table: rows were left out here "
                  f"(an excerpt)")

    summary_text: str | None = None
    summary_lineno: int = 0
    summary_early = False
    """The ``oom-kill:`` summary came before any memory state or task table (see :meth:`apply`)."""
    summary_first = False
    """... and this report's memory state or table followed it (linux-next 4.18-4.20's order)."""
    summary_cut_note: str | None = None
    pending_sep: tuple[int, bool] | None = None
    """A '--' line not yet known to sit inside the report: (its line, whether the table had started)."""


def _same_row(a: TaskRow, b: TaskRow) -> bool:
    return a == b or (a.uid, a.tgid, a.total_vm, a.rss, a.swapents, a.oom_score_adj, a.name,
                      a.pgtables_bytes, a.nr_ptes, a.rss_anon) == (
        b.uid, b.tgid, b.total_vm, b.rss, b.swapents, b.oom_score_adj, b.name,
        b.pgtables_bytes, b.nr_ptes, b.rss_anon)


_APPLY: dict[str, Callable[[_Draft, Any, Item], None]] = {
    Kind.SYSRQ: _Draft._sysrq, Kind.INVOKED: _Draft._invoked, Kind.CPUSET: _Draft._cpuset,
    Kind.CPU: _Draft._cpu, Kind.TRACE: _Draft._trace, Kind.TASK_IN: _Draft._task_in,
    Kind.MEMCG_USAGE: _Draft._usage, Kind.MEMCG_STATS: _Draft._stats, Kind.MEMCG_KV: _Draft._kv,
    Kind.MEMINFO: _Draft._meminfo, Kind.VMSTAT: _Draft._vmstat,
    Kind.TASKS_STATE: _Draft._tasks_state, Kind.TABLE_HEADER: _Draft._table_header,
    Kind.TABLE_ROW: _Draft._table_row, Kind.SUMMARY: _Draft._summary,
    Kind.SUMMARY_CONT: _Draft._summary_cont, Kind.SELECT: _Draft._select,
    Kind.KILLED: _Draft._killed, Kind.SHARING: _Draft._sharing, Kind.PINNED: _Draft._pinned,
    Kind.OOM_GROUP: _Draft._oom_group, Kind.EXITING: _Draft._exiting,
    Kind.NO_KILLABLE: _Draft._no_killable, Kind.PANIC: _Draft._panic,
    Kind.RATELIMIT: _Draft._ratelimit,
}

_DEFERRED_KINDS = frozenset({Kind.TASKS_STATE, Kind.TABLE_HEADER, Kind.TABLE_ROW})
"""What a kernel patched to defer ``dump_tasks()`` prints after the kill line (with the report's OOM[N])."""


class _Host:
    """Per-host state: the open draft, held-back stack lines, finished drafts awaiting their
    reaper lines (FIFO, emitted in finish order) and reaper lines that matched no report."""

    __slots__ = ("cur", "side", "done", "orphans", "untrusted", "ratelimit")

    def __init__(self) -> None:
        self.cur: _Draft | None = None
        self.side: list[Item] = []
        self.done: deque[_Draft] = deque()
        self.orphans: deque[Item] = deque(maxlen=64)
        self.untrusted: list[str] = []
        self.ratelimit: list[Item] = []


class Assembler:
    """Streaming event builder. Feed :class:`Item` s in (logical) order with :meth:`feed`, call
    :meth:`region_closed` / :meth:`expire` as the input advances and :meth:`flush` at the end;
    collect finished events with :meth:`take`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.hosts: dict[str | None, _Host] = {}
        self.out: list[OomEvent] = []
        self.reversed_context = False

    # -- public --------------------------------------------------------------------------------
    def take(self) -> list[OomEvent]:
        out, self.out = self.out, []
        return out

    def feed(self, item: Item) -> None:
        kind = item.kind
        cut_note: str | None = None
        if isinstance(item.payload, Cut) and kind != Kind.TABLE_ROW:
            # a line cut short: its whole fields, None for the rest, and a note for the event
            cut_note = item.payload.note
            item = item._replace(payload=item.payload.payload)
        if kind == Kind.NOISE and (item.payload is None or item.line.trusted):
            if item.line.trusted and item.line.text.startswith(INIT_PANIC_LINE):
                self._init_panic(item)
            return
        h = self.hosts.get(item.line.host)
        if h is None:
            h = self.hosts[item.line.host] = _Host()
        if not item.line.trusted:
            if item.payload is not None and len(h.untrusted) < 8:
                h.untrusted.append(f"line {item.lineno}: ignored {item.payload} line that does "
                                   f"not come from the kernel: {item.line.text[:80]!r}")
            return
        if kind == Kind.REAPER:
            self._reaper(h, item)
            return
        if item.line.serial is not None and kind in _DEFERRED_KINDS and self._deferred(h, item, cut_note):
            return
        cur = h.cur
        if cur is not None and self._gap(cur, item.lineno) > MAX_GAP_LINES:
            self._finish(h, "gap")
            cur = None
        if cur is not None and item.line.uptime is not None and kind not in _NOT_DEDUPED:
            # the same record twice (same stamp, same text) is a copy-and-paste artifact, not a new report
            key = (item.line.uptime, item.line.text)
            if key in cur.seen:
                cur.dup_lines += 1
                cur.touch(item.lineno)
                return
            cur.seen.add(key)
        cut_head = cut_oom_head(item.line.text) if kind == Kind.PARTIAL else None
        if cut_head is not None:
            kind, item = Kind.UNUSABLE, item._replace(kind=Kind.UNUSABLE, payload=(cut_head, True))
            if cur is not None and (cur.selection is not None or cur.killed):
                # a selection or kill line cut before its pid after this report's own: the next OOM's
                self._finish(h, "new")
                cur = None
        if kind == Kind.UNUSABLE:
            why, oom_line = item.payload
            if cur is None and oom_line:
                cur = h.cur = self._new(h, item)
                cur.evidence = True
            if cur is not None:
                cur.touch(item.lineno)
                cur.note(f"line {item.lineno}: OOM line not used: {why}: {item.line.text[:100]!r}")
            return
        if kind == Kind.PARTIAL:
            if cur is not None:
                cur.note(f"line {item.lineno}: oom_reaper line cut short, its numbers unknown: {item.line.text[:100]!r}"
                         if cut_reaper(item.line.text) else
                         f"line {item.lineno}: OOM-like line not understood: {item.line.text[:100]!r}")
            return
        if kind == Kind.RATELIMIT:
            # printed just before the next message that got through: it belongs to what follows
            if cur is not None and not cur.complete:
                cur.apply(item)
            elif len(h.ratelimit) < 4:
                h.ratelimit.append(item)
            return
        if kind == Kind.GREP_SEP:
            # grep's context separator, or a mail footer's '--' after the report: lines were omitted inside the
            # report only when it goes on after the '--' (committed by the next line the report takes)
            if cur is not None and cur.pending_sep is None:
                cur.pending_sep = (item.lineno, cur.table_started)
            return
        if kind == Kind.ELIDED:
            # an elision without a host of its own (a structured log's record: no continuation of a host's line)
            # may sit inside any host's task table
            for d in ([cur] if item.line.host is not None else [x.cur for x in self.hosts.values()]):
                if d is not None and d.rows_open:
                    d.elided(item)
            return
        if cur is None:
            if kind in CONTEXTUAL:
                return
            if h.done and kind in _TRAILING and self._can_reopen(h.done[-1], item):
                cur = h.cur = h.done.pop()
            else:
                cur = h.cur = self._new(h, item)
        elif kind in CONTEXTUAL:
            if STAGE[kind] // 10 < cur.stage // 10:
                return
        elif (kind == Kind.CPU or kind == Kind.TRACE) and cur.stage >= 30:
            if len(h.side) < MAX_SIDE_LINES:
                h.side.append(item)
            if kind == Kind.CPU and cur.stage >= 60 and cur.after_cpu is None and not _earlier(item.line, cur):
                # printed after the report's selection, outcome or panic: a stack dump of the same kernel (the
                # panic's own, a crash's, the next report's), whose CPU line names its release
                cur.after_cpu = item.payload
            return
        elif cur.starts_new(kind, item.payload) or (
                h.side and any(i.kind == Kind.TRACE and i.payload in OOM_FRAMES for i in h.side)) or (
                item.line.serial is not None and cur.serial is not None and item.line.serial != cur.serial):
            # (an OOM call trace after this report's memory stage is the next report's stack)
            if not _earlier(item.line, cur):
                cur.followed_by = item.lineno
            if STAGE.get(kind, 0) >= 30 and cur.after_cpu is not None:
                # the held-back stack from its last CPU line on becomes the next report's (see _new)
                cpus = [s.payload for s in h.side if s.kind == Kind.CPU]
                cur.after_next = bool(cpus) and cpus[-1] is cur.after_cpu
            glued = "glued-trace" in item.line.wrappers
            if glued:
                cur.note(f"line {item.lineno}: the next report's first line is glued to a call-trace line of this one "
                         f"(two CPUs printed at once): the lines after it may belong to either report")
            side = h.side
            h.side = []
            self._finish(h, "new")
            h.side = side
            cur = h.cur = self._new(h, item)
            if glued:
                cur.note(f"line {item.lineno}: this report's first line is glued to a call-trace line of the report "
                         f"before it (two CPUs printed at once): the lines after it may belong to either report")
        elif h.side:
            h.side.clear()   # an unrelated WARNING / page-allocation-failure trace
        cur.apply(item)
        if cut_note is not None:
            if kind == Kind.SUMMARY:
                cur.summary_cut_note = cut_note   # early 5.0 printed it in two halves: wait
            else:
                cur.note(cut_note)

    @staticmethod
    def _deferred(h: _Host, item: Item, cut_note: str | None) -> bool:
        """A task-table line numbered ``OOM[N]:`` that comes after report N's kill line (a kernel patched to
        defer ``dump_tasks()`` prints the table once the victim is killed): it goes to report N, the open
        one or one waiting for its reaper lines. False when no such report has its outcome yet."""
        serial = item.line.serial
        cur = h.cur
        d = cur if cur is not None and cur.serial == serial else next(
            (x for x in reversed(h.done) if x.serial == serial), None)
        if d is None or not d.has_kill_outcome:
            return False
        d.deferred_table = True
        d.apply(item)
        if cut_note is not None:
            d.note(cut_note)
        return True

    def _init_panic(self, item: Item) -> None:
        """``Kernel panic - not syncing: Attempted to kill init!``: init's death, whatever killed it. The outcome of
        the host's open report (or of the last one, waiting for its reaper lines) only when that report killed pid 1;
        otherwise not an OOM line."""
        h = self.hosts.get(item.line.host)
        if h is None:
            return
        cur = h.cur
        target = cur if cur is not None else (h.done[-1] if h.done else None)
        if (target is None or not (1 in target.killed_pids or any(p == 1 for p, _ in target.sharing))
                or self._gap(target, item.lineno) > MAX_GAP_LINES):
            return
        if cur is None:
            h.cur = h.done.pop()
        target.apply(item._replace(kind=Kind.PANIC, payload=item.line.text[len("Kernel panic - not syncing: "):].rstrip()))

    def awaiting_reaper(self) -> bool:
        """Whether a report that killed something may still get ``oom_reaper`` lines."""
        return any((h.cur is not None and h.cur.wants_reaper())
                   or any(d.wants_reaper() for d in h.done) for h in self.hosts.values())

    def region_closed(self, lineno: int) -> None:
        """The input went quiet (``scan.QUIET_CLOSE`` unrelated lines): finish reports that have
        their outcome (kill line etc.) and drop what only the lines next to it could use.

        A region boundary is where a report's lines stop being adjacent, so nothing that waits for
        *what follows* crosses it: lookalike-line warnings and ratelimit notes held for the next
        report, held-back CPU / Call Trace lines, and a draft without OOM evidence (the
        ``Mem-Info`` of a page-allocation failure, an unrelated WARNING's stack). The scanner's
        fast path never feeds a region without an anchor line (such regions have no evidence),
        so anything such a region left behind would make ``scan_all`` differ from it."""
        for h in self.hosts.values():
            cur = h.cur
            if cur is not None and (cur.complete or not cur.evidence):
                self._finish(h, "region")
            h.side.clear()
            h.untrusted.clear()
            h.ratelimit.clear()
        self.expire(lineno)

    def expire(self, lineno: int) -> None:
        """Release reports whose reaper grace period has passed, and stale drafts."""
        for h in self.hosts.values():
            if h.cur is not None and self._gap(h.cur, lineno) > MAX_GAP_LINES:
                self._finish(h, "gap")
            while h.done and (not h.done[0].wants_reaper()
                              or self._gap(h.done[0], lineno) > REAPER_GRACE_LINES):
                self._emit(h.done.popleft())
            while h.orphans and abs(lineno - h.orphans[0].lineno) > REAPER_GRACE_LINES:
                self._emit_orphan(h.orphans.popleft())

    def at_rest(self, lineno: int, quiet_ahead: bool = False) -> bool:
        """Release what is over at ``lineno`` (:meth:`expire`); then whether nothing is left that later input
        could extend, finish or attach to (no draft, no report awaiting reaper lines, no orphan reaper line,
        no held-back or pending line), so a fresh Assembler would carry on from here alike.

        ``quiet_ahead``: the caller knows that the next ``REAPER_GRACE_LINES`` lines hold no OOM line at all:
        reports waiting for reaper lines and orphan reaper lines are then released now, as :meth:`expire`
        would release them unchanged once that grace is over."""
        self.expire(lineno)
        if quiet_ahead:
            for h in self.hosts.values():
                if h.cur is None:
                    while h.done:
                        self._emit(h.done.popleft())
                    while h.orphans:
                        self._emit_orphan(h.orphans.popleft())
        return not self.reversed_context and all(
            h.cur is None and not h.done and not h.orphans and not h.side and not h.untrusted and not h.ratelimit
            for h in self.hosts.values())

    def flush(self) -> None:
        for h in self.hosts.values():
            self._finish(h, "eof")
            while h.done:
                self._emit(h.done.popleft())
            while h.orphans:
                self._emit_orphan(h.orphans.popleft())

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _gap(d: _Draft, lineno: int) -> int:
        return min(abs(lineno - d.end), abs(lineno - d.start))

    def _new(self, h: _Host, item: Item) -> _Draft:
        stack: list[Item] = []
        if h.side and STAGE.get(item.kind, 0) >= 30:
            # CPU / Call Trace held back after the previous report: the stack of this one,
            # from its last CPU line on (earlier lines belong to an unrelated warning).
            side = h.side
            cpus = [i for i, s in enumerate(side) if s.kind == Kind.CPU]
            stack = side[cpus[-1]:] if cpus else list(side)
        h.side.clear()
        # The report starts at its first line: the held-back stack when there is one (its time,
        # as when the CPU line had opened the draft itself), else this line.
        first = stack[0] if stack else item
        d = _Draft(first.line.host, first.lineno, first.line)
        d.reversed = self.reversed_context
        if h.untrusted:
            for w in h.untrusted:
                d.warn(w)
            h.untrusted.clear()
        for s in stack:
            d.apply(s)
        if h.ratelimit:
            for r in h.ratelimit:
                d.apply(r)
            h.ratelimit.clear()
        return d

    @staticmethod
    def _can_reopen(d: _Draft, item: Item) -> bool:
        if Assembler._gap(d, item.lineno) > MAX_GAP_LINES:
            return False
        kind = item.kind
        if kind == Kind.KILLED:
            return d.oom_group is not None or item.payload.pid in d.killed_pids
        if kind == Kind.EXITING:
            return d.oom_group is not None
        if kind in (Kind.SHARING, Kind.PINNED, Kind.OOM_GROUP, Kind.PANIC):
            return bool(d.killed)
        return False

    def _reaper(self, h: _Host, item: Item) -> None:
        rl: ReaperLine = item.payload
        cands = ([h.cur] if h.cur is not None else []) + list(reversed(h.done))
        for d in cands:
            if rl.pid in d.killed_pids or any(rl.pid == e[0] for e in d.exiting):
                if any(r.pid == rl.pid and r.reaped == rl.reaped for r in d.reaped):
                    # the reaper reports a victim's mm once: a second line is a copy (a quoted or pasted log)
                    d.note(f"line {item.lineno}: a second oom_reaper line for pid {rl.pid}: a copy, dropped")
                    d.touch(item.lineno)
                    return
                d.reaped.append(rl)
                d.touch(item.lineno)
                self.expire(item.lineno)
                return
        for d in cands:
            if d.evidence and self._gap(d, item.lineno) <= REAPER_GRACE_LINES:
                d.other_reaped.append(rl)
                d.touch(item.lineno)
                return
        h.orphans.append(item)

    def _finish(self, h: _Host, why: str) -> None:
        d = h.cur
        h.cur = None
        h.side.clear()
        if d is None or not d.evidence:
            return
        d.finished_by = why
        if h.orphans:
            keep: deque[Item] = deque(maxlen=64)
            for o in h.orphans:
                if o.payload.pid in d.killed_pids:
                    d.reaped.append(o.payload)
                    d.touch(o.lineno)
                elif d.reversed and self._gap(d, o.lineno) <= REAPER_GRACE_LINES:
                    d.other_reaped.append(o.payload)
                    d.touch(o.lineno)
                else:
                    keep.append(o)
            h.orphans = keep
        h.done.append(d)
        while len(h.done) > MAX_PENDING:
            self._emit(h.done.popleft())
        while h.done and not h.done[0].wants_reaper():
            self._emit(h.done.popleft())

    def _emit(self, d: _Draft) -> None:
        self.out.append(build_event(d, self.source))

    def _emit_orphan(self, item: Item) -> None:
        rl: ReaperLine = item.payload
        self.out.append(OomEvent(
            source=self.source, host=item.line.host, start_line=item.lineno, end_line=item.lineno,
            timestamp=item.line.timestamp, uptime=item.line.uptime,
            format_hints=(item.line.prefix, "reaper-only"), reaped=(rl,),
            notes=(f"only an oom_reaper line was found for pid {rl.pid} ({rl.name}): the OOM "
                   f"report that killed it is not in the input",)))


def _earlier(line: LogLine, d: _Draft) -> bool:
    """Whether ``line``'s uptime stamp is earlier than the report's (another boot's, or an older line): then it says
    nothing about the kernel that printed the report. Lines without stamps are taken as following it."""
    return line.uptime is not None and d.uptime is not None and line.uptime < d.uptime


_FIX_NOTES = {
    "qp": "quoted-printable mail text ('=3D' escapes, lines ending in '=' continued on the next) decoded",
    "rejoined": ("records hard-wrapped onto the next line (a mail client's line length) rejoined; a task-table row "
                 "only when that line holds exactly its missing columns and a name"),
    "term-pad": ("a terminal's wrap padding (blanks filling a wrapped record's first row to the width of the window "
                 "it was copied from) removed and the record rejoined"),
    "term-pad-cut": ("a terminal's wrap padding inside a record, the record not rejoined (not exactly one way of "
                     "joining it, with a blank or without, reads as it whole): read as cut short there"),
    "glued-trace": ("an OOM line glued to the end of a call-trace line (its newline lost) split off and read as a "
                    "line of its own"),
    "rewrapped-syslog": ("a syslog log re-wrapped by a mail client (a record starting in the middle of a line, after "
                         "the words of the one before): each record split off where its header starts and the lines "
                         "that continue it joined to it"),
    "glued-syslog": ("the start of the next syslog line (its newline lost) was glued after the selection line's "
                     "wording: split off (read as a line of its own when its header is whole, else dropped)"),
}
"""Repairs of the input that a report says it made (the wrapper tag of the repaired lines -> what was done)."""

_TRAILING = frozenset({Kind.KILLED, Kind.EXITING, Kind.SHARING, Kind.PINNED, Kind.OOM_GROUP,
                       Kind.PANIC})


# ---------------------------------------------------------------------------------------------
# Regions: join hard-wrapped records, detect reversed order, feed.

def _tag(line: LogLine, text: str, wrapper: str) -> LogLine:
    w = line.wrappers
    if w and wrapper not in w.split("+"):
        w += "+" + wrapper
    return line._replace(text=text, wrappers=w or wrapper)


def _headerless(it: Item) -> bool:
    """A line without a record header of its own: the rest of the record before it, if that was wrapped."""
    return it.line.continuation or it.line.prefix == "bare"


def _joined(first: Item, last: Item, text: str, wrapper: str) -> Item:
    """``first`` .. ``last`` as one record of ``text``, classified (with ``last``'s cut: the record ends there)."""
    kind, payload = classify_line(text, first.line.trusted, first.lineno, last.cut)
    return Item(first.lineno, _tag(first.line, text, wrapper), kind, payload, last.end or last.lineno, first.lead,
                last.cut, first.note)


# ---- quoted-printable mail bodies: "=3D" for "=", "=XX" for other bytes, a line ending in "=" continues on the next

_QP_ESCAPES = re.compile(r"(?:=[0-9A-F]{2})+")
_NOT_QP = re.compile(r"=(?![0-9A-F]{2}|$)")
"""An "=" that is neither an escape nor a soft line break: the text is not quoted-printable."""
_NOT_UNDERSTOOD = frozenset({Kind.NOISE, Kind.PARTIAL, Kind.UNUSABLE})


def qp_decode(text: str) -> str:
    """``text`` with its quoted-printable escapes (``=3D``, ``=XX`` bytes of UTF-8) decoded."""
    return _QP_ESCAPES.sub(lambda m: bytes.fromhex(m.group().replace("=", "")).decode("utf-8", "replace"), text)


MAX_SOFT_BREAKS = 16
"""Quoted-printable soft-broken lines followed, at most, to read one record (1024 bytes at 76 columns: 14): to prove a
body quoted-printable here, and to read a hit line's record in the scanner."""


def _soft_break_proves_qp(items: list[Item], i: int) -> bool:
    """Item ``i`` ends in "=" and, that "=" dropped and the next line's text appended as is (and so on while the
    joined text ends in "=": a record of three lines or more), makes an OOM line that it alone is not: a
    quoted-printable soft line break (the kernel prints no "=" there)."""
    it = items[i]
    if not (it.kind in _NOT_UNDERSTOOD or isinstance(it.payload, Cut)):
        return False
    text, j = it.line.text, i
    while text.endswith("=") and j + 1 < len(items) and _headerless(items[j + 1]) and j - i < MAX_SOFT_BREAKS:
        j += 1
        text = text[:-1] + " " * items[j].lead + items[j].line.text
    if j == i:
        return False
    kind, payload = classify_line(text, True, it.lineno)
    return kind not in _NOT_UNDERSTOOD and not isinstance(payload, Cut) and kind != Kind.TABLE_ROW


def _decode_qp(items: list[Item]) -> list[Item]:
    """Decode a region pasted from a quoted-printable mail body (``=3D``, soft line breaks), only when it
    surely is one: every "=" in it is an escape or ends a line, and it has a ``=3D`` or a soft break that
    splits an OOM line. The leading blanks of a continuation (``Item.lead``) are kept."""
    if not any(it.line.text.endswith("=") or "=3D" in it.line.text for it in items):
        return items
    if any("=" in it.line.text and _NOT_QP.search(it.line.text) for it in items):
        return items
    if not any("=3D" in it.line.text for it in items) and not any(
            it.line.text.endswith("=") and _soft_break_proves_qp(items, i) for i, it in enumerate(items[:-1])):
        return items
    out: list[Item] = []
    i = 0
    while i < len(items):
        first = last = items[i]
        text = first.line.text
        while text.endswith("=") and i + 1 < len(items) and _headerless(items[i + 1]):
            i += 1
            last = items[i]
            text = text[:-1] + " " * last.lead + last.line.text
        i += 1
        if text.endswith("="):
            text = text[:-1]   # a soft break before an empty line (or a record with a header: not joined)
        decoded = qp_decode(text)
        out.append(first if last is first and decoded == first.line.text
                   else _joined(first, last, decoded.strip(), "qp"))
    return out


# ---- console output glued before a kernel time stamp: "Running sysctl: [ 5201.325838] klogd invoked oom-killer: .."

_GLUABLE = frozenset({Kind.NOISE, Kind.PARTIAL, Kind.UNUSABLE, Kind.INVOKED, Kind.CPUSET})
_NOT_RECOGNISED = frozenset({Kind.NOISE, Kind.PARTIAL, Kind.UNUSABLE, Kind.MEMCG_KV, Kind.VMSTAT,
                             Kind.SUMMARY_CONT, Kind.GREP_SEP, Kind.ELIDED})


def _unglue_console(items: list[Item]) -> list[Item]:
    """A line without a time stamp of its own that holds one further on, followed by an OOM line (a serial
    console where userspace and the kernel write to the same line): the kernel's record starts at the stamp."""
    out = items
    for i, it in enumerate(items):
        line = it.line
        if line.uptime is not None or not line.trusted or "] " not in line.text or it.kind not in _GLUABLE:
            continue
        r = split_at_stamp(line.text)
        if r is None:
            continue
        dropped, rec = r
        kind, payload = classify_line(rec.text, True, it.lineno, it.cut)
        if kind in _NOT_RECOGNISED:
            continue
        if out is items:
            out = list(items)
        new = _tag(line, rec.text, "console-glued")._replace(
            uptime=rec.uptime, prefix=rec.prefix if line.prefix == "bare" else line.prefix)
        out[i] = it._replace(line=new, kind=kind, payload=payload, note=(
            f"line {it.lineno}: {dropped[:60]!r} before the time stamp [{rec.uptime:.6f}] dropped: console output "
            f"shared the line with the kernel's"))
    return out


# ---- a terminal's wrap padding: a record wrapped at the terminal's width, its first row padded with blanks to the
# width of the window it was copied from and the rows copied as one line ("... or sacrifice<118 blanks>child")

PAD = " " * 16
"""A run of blanks no kernel prints inside an OOM record's fields (a task-table row's widest gap is 13)."""
_PAD_RUN = re.compile(PAD + " *")
MAX_PAD_RUNS = 3
CUT_PAD = "a terminal's wrap padding, a long run of blanks, follows it"
_ONE_BLANK = frozenset({Kind.INVOKED, Kind.SELECT, Kind.KILLED, Kind.REAPER, Kind.SUMMARY})
"""Records whose words are one blank apart: a padded one that reads whole in one way measures the padding."""
_PADDED_OOM = frozenset({Kind.PARTIAL, Kind.UNUSABLE, Kind.INVOKED, Kind.CPUSET, Kind.TASK_IN, Kind.MEMCG_USAGE,
                         Kind.TABLE_ROW, Kind.SUMMARY, Kind.SELECT, Kind.KILLED, Kind.SHARING, Kind.PINNED,
                         Kind.OOM_GROUP, Kind.EXITING, Kind.NO_KILLABLE, Kind.REAPER})
"""OOM records that never hold such a run of blanks themselves: one that starts a padded line is rejoined when one
way of joining reads it whole, else read cut short. Any other line (a CPU line's taint flags, a firmware name, the
slab table's columns may hold long runs) is rejoined only with the padding's width known, else left as it is."""


_INT = re.compile(r"-?\d+")


def _named_row(row: TaskRow | None) -> bool:
    """A task-table row read whole: a name that a comm can be (at most 64 characters, not starting with a number: a
    number cut in two by a wrap leaves one number too many, the last read as the name)."""
    return row is not None and bool(row.name) and len(row.name) <= 64 and not _INT.fullmatch(row.name.split(None, 1)[0])


def _whole_record(text: str, lineno: int, cut: str | None, cols: tuple[str, ...] | None) -> tuple[str, Any] | None:
    """``text`` classified when it is an OOM record read whole (a task-table row: with its header's columns when
    known, a name not starting with a number), else None."""
    kind, payload = classify_line(text, True, lineno, cut)
    if kind in _NOT_UNDERSTOOD or isinstance(payload, Cut):
        return None
    if kind == Kind.TABLE_ROW:
        try:
            row = parse_dump_tasks_row(text, cols)
        except Unusable:
            return None
        if not _named_row(row):
            return None
    return kind, payload


class _Padded(NamedTuple):
    at: int                         # index in the region
    pieces: list[str]               # the text around the runs of blanks
    runs: list[int]                 # the runs' lengths
    cols: tuple[str, ...] | None    # the columns of the task table being read
    start: str                      # what the text before the first run reads as (cut there)
    unique: tuple[str, ...] | None  # the one way of joining the pieces (a blank or none) that reads whole, if one
    whole: str | None = None        # what that way reads as


def _pad_joined(p: _Padded, joiners: Sequence[str]) -> str:
    return p.pieces[0] + "".join(j + piece for j, piece in zip(joiners, p.pieces[1:]))


def _joiner_sets(n: int) -> list[tuple[str, ...]]:
    """Every way of joining ``n + 1`` pieces with a blank or nothing."""
    sets: list[tuple[str, ...]] = [()]
    for _ in range(n):
        sets = [s + (j,) for s in sets for j in ("", " ")]
    return sets


def _padding_width(padded: list[_Padded]) -> int | None:
    """The padding's width: a run is the padding plus the blanks the record had there (none inside a word, one
    between the words of a record of :data:`_ONE_BLANK`). Known when every such record that reads whole in one way
    only says the same."""
    widths = {r - len(j) for p in padded if p.unique is not None and p.whole in _ONE_BLANK
              for r, j in zip(p.runs, p.unique)}
    return widths.pop() if len(widths) == 1 else None


def _unpad(items: list[Item]) -> list[Item]:
    """Remove a terminal's wrap padding from the records of a region and rejoin them: with the blanks the record had
    there (each run minus the padding's width, see :func:`_padding_width`) when that width is known, else where
    exactly one way of joining (a blank or none) reads as the whole record, for the records of :data:`_PADDED_OOM`.
    Such a record neither settles is read cut short where the padding starts (never as if whole); any other line
    (it may hold such blanks itself) is left as it is unless the padding's width settles it."""
    if not any(PAD in it.line.text for it in items):
        return items
    padded: list[_Padded] = []
    cols: tuple[str, ...] | None = None
    for i, it in enumerate(items):
        if it.kind == Kind.TABLE_HEADER:
            cols = None if PAD in it.line.text else it.payload[0]  # a padded header's columns come once it is rejoined
        text = it.line.text
        if PAD not in text or not it.line.trusted:
            continue
        runs = list(_PAD_RUN.finditer(text))
        pieces = [text[:runs[0].start()]] + [text[a.end():b.start() if b is not None else len(text)]
                                              for a, b in zip(runs, runs[1:] + [None])]
        start = classify_line(pieces[0], True, it.lineno, CUT_PAD)[0]
        p = _Padded(i, pieces, [m.end() - m.start() for m in runs], cols, start, None)
        if len(runs) <= MAX_PAD_RUNS and start in _PADDED_OOM:
            ways = [(js, w[0]) for js in _joiner_sets(len(runs))
                    if (w := _whole_record(_pad_joined(p, js), it.lineno, it.cut, cols)) is not None]
            if len(ways) == 1:
                p = p._replace(unique=ways[0][0], whole=ways[0][1])
        padded.append(p)
    width = _padding_width(padded)
    out = list(items)
    rejoined_cols: tuple[str, ...] | None = None  # the columns of a padded header once rejoined
    for p in padded:
        it = items[p.at]
        joiners: Sequence[str] | None = p.unique
        if width is not None:
            joiners = [" " * (r - width) for r in p.runs] if all(r >= width for r in p.runs) else None
        whole = None
        if joiners is not None:
            text = _pad_joined(p, joiners)
            whole = _whole_record(text, it.lineno, it.cut, p.cols if p.cols is not None else rejoined_cols)
        if whole is not None:
            if whole[0] == Kind.TABLE_HEADER:
                rejoined_cols = whole[1][0]
            out[p.at] = it._replace(line=_tag(it.line, text, "term-pad"), kind=whole[0], payload=whole[1])
        elif p.start in _PADDED_OOM:
            kind, payload = classify_line(p.pieces[0], True, it.lineno, CUT_PAD)
            if kind not in _NOT_UNDERSTOOD and not isinstance(payload, Cut):
                kind, payload = Kind.PARTIAL, None   # a format read whole when cut: not used at all
            out[p.at] = it._replace(line=_tag(it.line, p.pieces[0], "term-pad-cut"), kind=kind, payload=payload)
    return out


# ---- records hard-wrapped onto a second line (a mail client's line length, a terminal)

_ZONE_TAIL = re.compile(r"[a-z_()]+:\s?\d+(?:kB|KB)?(?:\s+[a-z_()]+:\s?\d+(?:kB|KB)?)*(?:\s+all_unreclaimable\? (?:yes|no))?")


def _rejoined_row(prev: Item, it: Item, cols: tuple[str, ...]) -> Item | None:
    """A task-table row that stops before its name, and a line that holds exactly the missing columns and a
    name not starting with a number (so a number the wrap cut in two, which would leave one number too
    many, is not taken for two): the row, rejoined. (A row that stops right before its name reads as a
    task with an empty name when whole: the next line is its name when it is nothing else.)"""
    text = prev.payload
    if not isinstance(text, str) or it.kind != Kind.NOISE:
        return None
    try:
        row, lost = parse_dump_tasks_row_cut(text, cols, prev.lineno)
        if row is None or (lost is None and row.name):
            return None
        whole = parse_dump_tasks_row(text + " " + it.line.text, cols)
    except Unusable:
        return None
    if not _named_row(whole):
        return None
    return _joined(prev, it, text + " " + it.line.text, "rejoined")


_KILL_LATER_FIELDS: dict[str, tuple[str, ...]] = {"bare": ("total-vm:", "vsz:"), "5.3": ("pgtables:",)}
"""A kill line that ends where the format of its era may end, and the field a later era prints next after a blank
(where a mail client may wrap): its variant -> that field. ('..., file-rss:NkB' and '..., shmem-rss:NkB' go on after
a comma: wrapped there, the line reads cut.)"""


_IN_GFP_FLAGS = re.compile(r"gfp_mask=0x[0-9a-f]+\([A-Z0-9_|]*$")
_GFP_FLAGS_REST = re.compile(r"[A-Z0-9_|]*(?:\)|\|)")


def _wrap_sep(a: str, b: str) -> str:
    """What a hard wrap between ``a`` and ``b`` replaced: a blank, or nothing inside a gfp mask's flags, which the
    kernel prints with none ("%pGg": "(GFP_KERNEL_ACCOUNT|__GFP_ZERO)"): a wrap there cut a word or came at a "|"."""
    return "" if _IN_GFP_FLAGS.search(a) and _GFP_FLAGS_REST.match(b) else " "


def _rejoined_cut(prev: Item, it: Item) -> Item | None:
    """An OOM record cut short (a :class:`Cut` payload that lost fields) or an OOM-like line not understood
    (``Kind.PARTIAL``: cut before a field that names anything), and the header-less line ``it``: one record when,
    joined, they read as that record (for a partial line, as any OOM record): a mail client wrapped it. Whole, or
    still cut but further on (a record wrapped twice: the next line may complete it; else it is noted as cut).
    Never a record that a terminal's padding cut (its rest is lost, not on the next line)."""
    if "term-pad-cut" in prev.line.wrappers.split("+"):
        return None
    j = _joined(prev, it, prev.line.text + _wrap_sep(prev.line.text, it.line.text) + it.line.text, "rejoined")
    if j.kind in _NOT_UNDERSTOOD or (prev.kind != Kind.PARTIAL and j.kind != prev.kind):
        return None
    return j


def _rejoin(prev: Item, it: Item, cols: tuple[str, ...] | None) -> Item | None:
    """``prev`` and the header-less line ``it`` as one record when ``prev`` is a record it completes."""
    kind = prev.kind
    if kind == Kind.TABLE_ROW:
        return _rejoined_row(prev, it, cols) if cols is not None else None
    if it.kind != Kind.NOISE:
        return None
    payload = prev.payload
    if isinstance(payload, Cut):
        if payload.note is not None:
            return _rejoined_cut(prev, it)   # a record cut short is never read as if whole: only its rest completes it
        payload = payload.payload   # flagged as cut (the input's end), but whole
    elif kind == Kind.PARTIAL:
        return _rejoined_cut(prev, it)
    t = prev.line.text
    if kind == Kind.NOISE:
        want = (Kind.TABLE_HEADER if t.startswith("[") and "pid" in t[:12]
                else Kind.CPU if t.startswith(("CPU: ", "Pid: ")) else None)
    elif kind == Kind.MEMINFO and payload[0] == "zone" and _ZONE_TAIL.fullmatch(it.line.text):
        want = Kind.MEMINFO
    elif kind == Kind.KILLED and it.line.text.startswith(_KILL_LATER_FIELDS.get(payload.variant, ())):
        want = Kind.KILLED   # "Killed process 1 (x)" is a whole 2.6.2x line, but not with 2.6.36's values after it
    else:
        return None
    if want is None:
        return None
    j = _joined(prev, it, t + " " + it.line.text, "rejoined")
    if j.kind != want:
        return None
    # a kill line wrapped twice reads cut after its first continuation: it is noted so, or completed by the next
    return j if not isinstance(j.payload, Cut) or want == Kind.KILLED else None


MAX_RECORD_CHARS = 2048
"""Twice the longest record printk keeps (a 1024-byte buffer in every era, prefix included): text joined longer than
this from wrapped lines is no one record (and joining on would re-read ever longer text: quadratic time)."""


def _join_wrapped(items: list[Item]) -> list[Item]:
    """Join a record that a mail client or terminal hard-wrapped (corpus 031): an OOM line that
    does not parse, followed by header-less continuation text, is retried joined. So are a task
    table's header, a row that stops before its name (see :func:`_rejoined_row`), a CPU line and a
    zone line, each only when the joined text is that record whole."""
    out: list[Item] = []
    cols: tuple[str, ...] | None = None   # the columns of the table being read
    for it in items:
        prev = out[-1] if out else None
        if (prev is not None and it.line.continuation and it.line.text
                and (prev.kind == Kind.PARTIAL or (isinstance(prev.payload, Cut) and prev.payload.note is not None
                                                   and prev.kind != Kind.TABLE_ROW))):
            if len(prev.line.text) + len(it.line.text) >= MAX_RECORD_CHARS:
                out.append(it)   # longer joined than any record: not the rest of this one
                continue
            text = prev.line.text + _wrap_sep(prev.line.text, it.line.text) + it.line.text
            kind, payload = classify(text, prev.lineno)
            if prev.kind != Kind.PARTIAL and (kind in (Kind.NOISE, Kind.PARTIAL) or isinstance(payload, Cut)):
                out.append(it)   # joined it is no better: the record was cut, not wrapped
                continue
            wrappers = (prev.line.wrappers + "+wrapped") if prev.line.wrappers else "wrapped"
            out[-1] = Item(prev.lineno, prev.line._replace(text=text, wrappers=wrappers),
                           kind if kind != Kind.NOISE else Kind.PARTIAL, payload, it.lineno)
            continue
        if prev is not None and it.line.text and _headerless(it) and prev.line.trusted:
            j = _rejoin(prev, it, cols)
            if j is not None:
                out[-1] = j
                if j.kind == Kind.TABLE_HEADER:
                    cols = j.payload[0]
                continue
        if it.kind == Kind.TABLE_HEADER:
            cols = it.payload[0]
        out.append(it)
    return out


# ---- a syslog log re-wrapped by a mail client: records start in the middle of a line (normalize splits them off
# there, tagged 'rewrapped-syslog') and go on on the next lines

_QUOTING = frozenset({"markdown", "pipe", "colon-quote"})
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DANGLING_HEADER = re.compile(
    rf"(?:^| )(?P<date>{_MONTH} {{1,2}}\d{{1,2}})(?: (?P<time>\d\d:\d\d:\d\d(?:\.\d{{1,9}})?)(?: (?P<host>[^\s\[\]:]+))?)?$")
"""A syslog header wrapped before its end: what a line's last words hold of it (a kernel record never ends so)."""
_HOST_TAG = re.compile(r"(?P<host>[^\s\[\]:]+) kernel:(?: +|$)")


def _rest_of_header(prev: Item, it: Item) -> tuple[int, LogLine] | None:
    """``prev`` ends with the start of a syslog header and the line ``it`` holds its rest (what the normalizer made
    of it: a time-only header, a host and tag, or the text after a bare ``kernel:`` it peeled): where the header
    starts in ``prev``'s text, and the record it heads."""
    m = _DANGLING_HEADER.search(prev.line.text)
    if m is None:
        return None
    known, line = prev.line.host, it.line
    wrappers = _tag(line, line.text, "rewrapped-syslog").wrappers
    if m.group("time") is None:   # "... Mar 16" / "21:40:40 host kernel: text": read as a time-only header
        if line.prefix == "time" and not line.continuation and line.host and line.timestamp and known in (
                None, line.host):
            rec = rewrapped_record(f"{m.group('date')} {line.timestamp}", line.host, line.text, wrappers, line.serial)
            return m.start(), rec._replace(uptime=rec.uptime if rec.uptime is not None else line.uptime)
        return None
    ts = f"{m.group('date')} {m.group('time')}"
    if m.group("host") is None:   # "... Mar 16 21:40:40" / "host kernel: text"
        h = _HOST_TAG.match(line.text) if line.continuation else None
        if h is None or known not in (None, h.group("host")):
            return None
        return m.start(), rewrapped_record(ts, h.group("host"), line.text[h.end():], wrappers, line.serial)
    # "... Mar 16 21:40:40 host" / "kernel: text": the bare 'kernel: ' peeled (and a '[ seconds]' stamp after it)
    if known not in (None, m.group("host")) or not (
            line.continuation or (line.prefix == "dmesg" and line.host is None and line.timestamp is None)):
        return None
    rec = rewrapped_record(ts, m.group("host"), line.text, wrappers, line.serial)
    return m.start(), rec._replace(uptime=rec.uptime if rec.uptime is not None else line.uptime)


def _rejoined_records(prev: Item, it: Item) -> list[Item]:
    """The record ``prev`` and the line ``it`` that continues it, joined and read again as the kernel's records: a
    header the wrap cut in two ('... May' / '17 17:00:28 host kernel: ...') starts a record there, a time stamp the
    wrap cut ('kernel: [' / '2685.747591] ...') is peeled."""
    ll = prev.line
    text = (ll.text + " " + it.line.text).strip()
    lls = normalize_line(f"{ll.timestamp} {ll.host} kernel: {text}") if ll.timestamp and ll.host else []
    if not lls or lls[0].host != ll.host:
        return [_joined(prev, it, text, "rewrapped-syslog")]
    first = _joined(prev, it, lls[0].text, "rewrapped-syslog")
    recs = [first._replace(line=first.line._replace(uptime=lls[0].uptime if lls[0].uptime is not None else ll.uptime))]
    quoting = "+".join(w for w in ll.wrappers.split("+") if w in _QUOTING)
    for x in lls[1:]:
        line = _tag(x._replace(wrappers=quoting), x.text, "rewrapped-syslog")
        recs.append(Item(it.lineno, line, *classify_line(x.text, x.trusted, it.lineno, it.cut), it.end or it.lineno,
                         0, it.cut))
    return recs


def _reflow_rewrapped(items: list[Item]) -> list[Item]:
    """In a region where a record started in the middle of a line (a re-wrapped syslog), every header-less line is
    the rest of the record before it: joined to the last record quoted alike (a line quoted otherwise, the replier's
    own words between the quoted lines, is left alone and does not end the record). A header wrapped itself
    ('... Mar 16 21:40:40' / 'host kernel: ...') starts its record on the next line."""
    if not any("rewrapped-syslog" in it.line.wrappers for it in items):
        return items
    out: list[Item] = []
    last: dict[tuple[str, ...], int] = {}   # quoting -> index of the record that goes on
    for it in items:
        line = it.line
        key = tuple(w for w in line.wrappers.split("+") if w in _QUOTING)
        at = last.get(key)
        if at is not None and (line.continuation or line.prefix in ("time", "dmesg")):
            prev = out[at]
            split = _rest_of_header(prev, it)
            if split is not None:
                cut, rec = split
                out[at] = _joined(prev, prev, prev.line.text[:cut], "rewrapped-syslog")
                kind, payload = classify_line(rec.text, rec.trusted, it.lineno, it.cut)
                it = it._replace(line=rec, kind=kind, payload=payload)
            elif line.continuation:
                recs = _rejoined_records(prev, it)
                out[at] = recs[0]
                out.extend(recs[1:])
                if len(recs) > 1:
                    last[key] = len(out) - 1
                continue
        out.append(it)
        if it.line.continuation:
            continue
        if it.line.prefix != "bare":
            last[key] = len(out) - 1
        else:
            last.pop(key, None)   # a line without a header that continues nothing: not the record's
    return out


def _repair(items: list[Item]) -> list[Item]:
    """Undo what mail, terminals and consoles did to a region's lines: quoted-printable encoding, a terminal's
    wrap padding, console output glued before a record, a re-wrapped syslog, hard wraps."""
    return _join_wrapped(_reflow_rewrapped(_unglue_console(_unpad(_decode_qp(items)))))


_MILESTONES = frozenset(STAGE) - {Kind.TRACE, Kind.VMSTAT, Kind.MEMCG_KV, Kind.REAPER,
                                  Kind.SUMMARY_CONT}


def is_reversed(items: Sequence[Item]) -> bool:
    """Whether a region was printed newest-first (``journalctl -r``, ``tac``).

    Structural vote: steps between consecutive report milestones (per host) that go backwards in
    the printed order (kill line before table, rows before header, ...) against forward steps.
    When the structure cannot tell (fewer than two steps), the timestamps vote."""
    fwd = back = 0
    last: dict[str | None, int] = {}
    for it in items:
        if it.kind not in _MILESTONES or not it.line.trusted:
            continue
        s = STAGE[it.kind]
        p = last.get(it.line.host)
        if p is not None and p != s:
            if s > p:
                fwd += 1
            else:
                back += 1
        last[it.line.host] = s
    if fwd + back >= 2:
        return back > fwd
    inc = dec = 0
    prev: dict[str | None, float] = {}
    for it in items:
        if it.kind == Kind.NOISE or not it.line.trusted:
            continue
        t = it.line.uptime if it.line.uptime is not None else clock_seconds(it.line.timestamp)
        if t is None:
            continue
        q = prev.get(it.line.host)
        if q is not None:
            if t > q:
                inc += 1
            elif t < q:
                dec += 1
        prev[it.line.host] = t
    return dec >= 2 and dec > inc


def _reverse_records(items: list[Item]) -> list[Item]:
    """Reverse the order of records, keeping each record's own lines (journal multi-line
    continuations, ``#012`` parts) in their printed order."""
    records: list[list[Item]] = []
    for it in items:
        if records and (it.line.continuation or it.lineno == records[-1][-1].lineno):
            records[-1].append(it)
        else:
            records.append([it])
    records.reverse()
    return [it for rec in records for it in rec]


def process_region(items: list[Item], asm: Assembler) -> None:
    """Feed one region (a run of input lines around OOM lines) to the assembler."""
    items = _repair(items)
    rev = is_reversed(items)
    if rev:
        items = _reverse_records(items)
    asm.reversed_context = rev
    try:
        for it in items:
            asm.feed(it)
    finally:
        asm.reversed_context = False


# ---------------------------------------------------------------------------------------------
# Draft -> OomEvent

def build_event(d: _Draft, source: str) -> OomEvent:
    """Freeze a draft into an :class:`OomEvent`, adding notes for everything that is missing or
    doubtful."""
    hints = dict(d.hints)
    inv = d.invoked
    cpu = d.cpu
    if cpu is not None and cpu.release is not None and not sane_release(cpu.release):
        d.note(f"the CPU line prints release {cpu.release[:40]!r}, which no Linux kernel has: "
               f"release unknown")
        cpu = replace(cpu, release=None)
    if inv is not None:
        hints["invoked:" + inv.variant] = None
        if cpu is not None and inv.pid is None and cpu.pid is not None:
            if inv.comm is None or inv.comm == cpu.comm:
                inv = replace(inv, pid=cpu.pid)
            else:
                d.note(f"the CPU line names {cpu.comm!r} (pid {cpu.pid}) but the header names "
                       f"{inv.comm!r}: pid of the allocating task left unknown")
    elif d.first_kind in (Kind.SELECT, Kind.KILLED, Kind.EXITING) and cpu is None:
        hints["kill-only"] = None
        d.note("only the kill line(s) of this OOM: dump_header() is ratelimited while the kill "
               "line is not (2.4 kernels printed nothing else)")
    else:
        d.note(f"no 'invoked oom-killer' line: the report starts mid-way at line {d.start} "
               f"(cut, filtered or ratelimited)")
        hints["headless"] = None
    sysrq = bool((inv is not None and inv.order == -1) or "moom_callback" in d.frames
                 or d.sysrq_line)
    summ = d.summary
    if summ is not None:
        hints["summary"] = None
        if d.summary_first:
            hints["summary-first"] = None   # printed before the memory state (linux-next 4.18-4.20)
        if summ.pid is None:
            d.note(d.summary_cut_note or "the oom-kill: summary line is incomplete")
        elif d.summary_cut_note is not None and summ.uid is None:
            d.note(d.summary_cut_note)
    constraint = summ.constraint if summ else None
    nodemask = summ.nodemask if summ and summ.nodemask is not None else (inv.nodemask if inv else None)
    cpuset = summ.cpuset if summ and summ.cpuset is not None else (d.cpuset[1] if d.cpuset else None)
    mems = (summ.mems_allowed if summ and summ.mems_allowed is not None
            else (d.cpuset[2] if d.cpuset else None))
    oom_memcg = summ.oom_memcg if summ else None
    task_memcg = summ.task_memcg if summ else None
    if d.task_in is not None:
        task_memcg = task_memcg or d.task_in[0]
        oom_memcg = oom_memcg or d.task_in[1]
    if summ is not None and summ.constraint == "CONSTRAINT_NONE" and summ.oom_memcg:
        d.note("constraint=CONSTRAINT_NONE with oom_memcg=: the early-5.x summary bug; this is "
               "a memcg OOM")
    memcg = _memcg_block(d, hints)
    meminfo = _meminfo_block(d)
    table = _task_table(d, hints)
    for k in d.killed:
        hints["kill:" + k.variant] = None
    if d.selection is not None:
        sel = d.selection
        hints["select:" + (sel.wording or "cut")] = None
        if sel.score is not None and sel.score > 1000:
            d.note(f"printed score {sel.score} exceeds 1000")
        if d.killed and d.killed[0].pid != sel.pid:
            d.note(f"the selection line names pid {sel.pid} ({sel.name}) but the kill line pid "
                   f"{d.killed[0].pid} ({d.killed[0].name}): a child was sacrificed, or the "
                   f"selection named a thread and the kill its thread-group leader")
    if _ends_inside(d):
        d.note("the input ends inside this report")
    after = d.after_cpu
    if not d.has_kill_outcome:
        if d.selection is not None and after is not None and not d.after_next:
            d.note(f"selection line without a 'Killed process' line: a kernel stack dump follows it instead (the CPU "
                   f"line at line {after.lineno}: a BUG, oops or WARNING while the victim was being killed): the kill "
                   "was interrupted, or its line was not logged")
        elif d.selection is not None:
            d.note("selection line without a 'Killed process' line (input ends or was filtered)")
        else:
            d.note("no kill line: nothing was killed, or the line was not logged (it is "
                   "KERN_ERR; some syslog setups drop that level) or was filtered out")
    if d.kill_dups:
        # memory.oom.group prints its victim twice (before the group kill and in it); any other repeat is a copy
        group_repeat = d.oom_group is not None and d.killed and set(d.kill_dups) == {d.killed[0].pid}
        pids = ", ".join(map(str, dict.fromkeys(d.kill_dups)))
        d.note(f"{len(d.kill_dups)} repeated 'Killed process' line(s) for the same pid dropped (pid {pids}: "
               + ("memory.oom.group prints the victim twice)" if group_repeat
                  else "the same kill printed again: a pasted or quoted copy)"))
    if d.reversed:
        hints["reversed"] = None
        d.note("these lines were printed newest-first (e.g. journalctl -r); parsed in "
               "reverse order")
    if d.deferred_table:
        d.note(f"the task table came after the kill line, its lines numbered OOM[{d.serial}] as this report's "
               f"(a kernel patched to defer dump_tasks()): taken as this report's table")
    for tag, lines in d.fixes.items():
        where = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]} ({len(lines)} records)"
        d.note(f"{where}: {_FIX_NOTES[tag]}")
    if d.other_reaped:
        d.note("oom_reaper lines for pids this report did not kill: "
               + ", ".join(f"{r.pid} ({r.name})" for r in d.other_reaped[:8])
               + " (victims of OOM kills whose reports are not in the input)")
    release = cpu.release if cpu else None
    if cpu is None and after is not None and after.release is not None and sane_release(after.release):
        # the same kernel printed it right after the report: the release is that kernel's
        release = after.release
        what = ("the next report's stack dump" if d.after_next else "the panic's own stack dump" if d.panic else
                "the stack dump that came instead of the kill line" if d.selection and not d.has_kill_outcome else
                "a stack dump printed right after the report")
        d.note(f"release {release}: from the CPU line at line {after.lineno} ({what}); the report prints none itself")
    ev = OomEvent(
        source=source, host=d.host, start_line=d.start, end_line=d.end, timestamp=d.timestamp,
        uptime=d.uptime, kernel_release=release, followed_by=d.followed_by,
        format_hints=tuple(h for h in hints if h),
        invoked=inv, cpu=cpu, sysrq=sysrq, constraint=constraint, nodemask=nodemask,
        cpuset=cpuset, mems_allowed=mems, oom_memcg=oom_memcg, task_memcg=task_memcg,
        memcg=memcg, meminfo=meminfo, table=table, summary=summ, selection=d.selection,
        killed=tuple(d.killed), sharing_killed=tuple(d.sharing), mm_pinned_by=tuple(d.pinned),
        oom_group_path=d.oom_group, reaped=tuple(d.reaped), other_reaped=tuple(d.other_reaped),
        already_exiting=tuple(d.exiting), no_killable=d.no_killable, panic=d.panic,
        trace_evidence=tuple(d.frames), notes=tuple(d.notes), warnings=tuple(d.warnings))
    if table is not None and table.rows and not table.filtered:
        ev = _maybe_filtered(ev, table)
    return ev


def _memcg_block(d: _Draft, hints: dict[str, None]) -> MemcgBlock | None:
    m = d.memcg
    if not m:
        return None
    def get(which: str, i: int) -> int | None:
        v = m.get(which)
        return v[i] if v is not None else None
    version = 1 if ("memory+swap" in m or "kmem" in m) else (2 if "swap" in m else None)
    if version is not None:
        hints[f"memcg-v{version}"] = None
    if m.get("stats_unit"):
        hints["memcg-stats:" + m["stats_unit"]] = None
    return MemcgBlock(
        usage_kb=get("memory", 0), limit_kb=get("memory", 1), failcnt=get("memory", 2),
        memsw_usage_kb=get("memory+swap", 0), memsw_limit_kb=get("memory+swap", 1),
        memsw_failcnt=get("memory+swap", 2), swap_usage_kb=get("swap", 0),
        swap_limit_kb=get("swap", 1), swap_failcnt=get("swap", 2), kmem_usage_kb=get("kmem", 0),
        kmem_limit_kb=get("kmem", 1), kmem_failcnt=get("kmem", 2), version=version,
        stats_path=m.get("stats_path"), stats_unit=m.get("stats_unit"),
        stats=tuple(d.memcg_stats))


def _meminfo_block(d: _Draft) -> MemInfoBlock | None:
    mi = d.meminfo
    if not (mi or d.zones or d.meminfo_header or d.vmstat or d.buddy_kb):
        return None
    highmem = mi.get("pages HighMem/MovableOnly")
    return MemInfoBlock(
        pages_ram=mi.get("pages RAM"), pages_reserved=mi.get("pages reserved"),
        pages_highmem=mi.get("pages HighMem", highmem), pages_movable_only=mi.get("pages MovableOnly"),
        pages_cma_reserved=mi.get("pages cma reserved"), pages_hwpoisoned=mi.get("pages hwpoisoned"),
        pages_shared=mi.get("pages shared"), pages_non_shared=mi.get("pages non-shared"),
        pages_in_swap_cache=mi.get("pages in swap cache"), total_pagecache_pages=mi.get("pagecache"),
        total_swap_kb=mi.get("Total swap"), free_swap_kb=mi.get("Free swap"),
        zones=tuple(d.zones), vmstat=tuple(d.vmstat), has_header=d.meminfo_header,
        buddy_page_kb=next(iter(d.buddy_kb)) if len(d.buddy_kb) == 1 else None)


def _after_table(d: _Draft) -> bool:
    """Whether a line printed after the whole task table came: the selection line, or an ``oom-kill:`` summary
    printed after the table (5.0+; one printed before the memory state proves nothing about the table)."""
    return d.selection is not None or (d.summary is not None and not d.summary_early)


def _ends_inside(d: _Draft) -> bool:
    """Whether the input ends inside the report: before its kill line, summary or selection line."""
    return d.finished_by == "eof" and not d.has_kill_outcome and not _after_table(d)


_HEADERLESS_RELEASE = re.compile(r"(\d{1,2})\.(\d{1,3})(?:\.(\d{1,4}))?")


def _format_bounds(d: _Draft) -> list[tuple[tuple[int, int, int] | None, tuple[int, int, int] | None, str]]:
    """The releases this report's own lines allow (what dates a task table's layout when its header is lost)."""
    out: list[tuple[tuple[int, int, int] | None, tuple[int, int, int] | None, str]] = []
    rel = d.cpu.release if d.cpu is not None else None
    m = _HEADERLESS_RELEASE.match(rel) if rel and sane_release(rel) else None
    if m is not None:
        v = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
        out.append((v, v, f"release {rel}"))
    if d.summary is not None:
        out.append(((4, 18, 0), None, "the oom-kill: summary line (5.0+)"))
    if d.tasks_state:
        out.append(((4, 19, 0), None, "the 'Tasks state' line (4.19+)"))
    whole = [k for k in d.killed if not k.cut]
    kinds = {k.variant for k in whole}
    if kinds & {"5.3", "5.4"}:
        out.append(((5, 3, 0), None, "the kill line's UID:/pgtables: (5.3/5.4+)"))
    elif "2.6.36" in kinds and not kinds & {"4.5", "rhel7"}:
        out.append(((2, 6, 36), (4, 4, 9999), "the kill line without shmem-rss (2.6.36-4.4)"))
    if "rhel7" in kinds:
        out.append(((3, 10, 0), (3, 10, 9999), "the kill line's ', UID U,' (RHEL/CentOS 7's 3.10)"))
    inv = d.invoked
    if inv is not None and inv.variant == "3.7-4.4" and inv.oom_score_adj is not None:
        out.append(((3, 7, 0), (4, 4, 9999), "the 'invoked oom-killer:' line's numeric gfp_mask (3.7-4.4)"))
    elif inv is not None and inv.variant in ("4.9-4.19", "4.10-4.16"):
        out.append(((4, 9, 0), (4, 19, 9999), "the 'invoked oom-killer:' line's nodemask= (4.9-4.19)"))
    elif inv is not None and inv.variant == "2.6.36-3.6":
        out.append(((2, 6, 36), (3, 6, 9999), "the 'invoked oom-killer:' line's oom_adj= (2.6.36-3.6)"))
    return out


def _headerless_layout(d: _Draft) -> tuple[str, tuple[str, ...], str] | None:
    """The one mainline layout that the headerless rows' numbers and this report's dating lines allow: (variant,
    columns, how it was settled), re-reading ``d.rows`` with its columns; None (rows untouched) when not exactly one."""
    if d.columns is not None or len(d.headerless_raw) != d.headerless_rows:
        return None
    nums = [headerless_numbers(text) for text, _ in d.headerless_raw]
    if any(n is None for n in nums):
        return None
    fits = headerless_layouts([n for n in nums if n is not None])
    count = len(nums[0] or ())
    bounds = _format_bounds(d)
    layouts = {name: (cols, lo, hi) for name, cols, lo, hi in HEADERLESS_LAYOUTS}

    def allowed(f: str) -> bool:
        _cols, lo, hi = layouts[f]
        return all((b_hi is None or lo <= b_hi) and (b_lo is None or hi is None or b_lo <= hi) for b_lo, b_hi, _ in bounds)

    dated = [f for f in fits if allowed(f)]
    if len(dated) != 1:
        return None
    name = dated[0]
    cols, lo, hi = layouts[name]
    same_count = [n for n, c, _lo, _hi in HEADERLESS_LAYOUTS if len(c) == count]
    era = f"{'.'.join(map(str, lo[:2]))}-{'.'.join(map(str, hi[:2]))}" if hi else f"{'.'.join(map(str, lo[:2]))}+"
    how = f"{count} numbers after the pid, which only the {era} layout prints"
    if len(same_count) > 1:
        others = [n for n in same_count if n != name]
        why = "; ".join(w for (_lo, _hi, w) in bounds)
        how = (f"{count} numbers after the pid, as in the layouts of " + ", ".join(others + [name])
               + (f"; their values and the report's dating ({why})" if why else "; their values")
               + f" leave only the {era} one")
    columns = ("pid",) + cols + ("name",)
    at = {r.pid: i for i, r in enumerate(d.rows) if r is not None}
    rows = [parse_dump_tasks_row(text, columns, lineno) for text, lineno in d.headerless_raw]
    if any(r is None or r.pid not in at for r in rows):
        return None
    for r in rows:
        if r is not None:
            d.rows[at[r.pid]] = r
    return name, columns, how


def _task_table(d: _Draft, hints: dict[str, None]) -> TaskTable | None:
    if not (d.columns or d.rows or d.tasks_state):
        return None
    variant = table_variant(d.columns or (), d.tasks_state, d.wide)
    why: list[str] = []
    columns = d.columns
    if d.headerless_rows:
        why.append("rows without their header")
        inferred = _headerless_layout(d)
        if inferred is None:
            d.note(f"{d.headerless_rows} task-table row(s) without their header: only uid, tgid, "
                   f"total_vm and rss could be mapped")
        else:
            variant, columns, how = inferred
            d.note(f"{d.headerless_rows} task-table row(s) without their header: {how}; read with its columns "
                   f"({' '.join(columns[1:-1])})")
    hints["table:" + variant] = None
    if d.table_gap:
        why.append("rows cut short or unusable (see the notes)")
    if d.table_elided:
        why.append("rows left out of an excerpt (see the notes)")
    if not d.rows and (d.columns or d.tasks_state) and d.no_killable and not d.table_gap and not d.table_elided:
        # dump_tasks() lists every process the OOM could have chosen (adj -1000 ones too; not init, kernel threads or
        # processes outside its domain): an empty table is what "no killable processes" prints when there are none
        d.note("the task table has no rows, as the kernel says right after it ('Out of memory and no killable "
               "processes...'): no process in the OOM's domain but init and kernel threads had memory (e.g. at boot)")
    elif not d.rows and (d.columns or d.tasks_state):
        if d.has_kill_outcome or _after_table(d):
            d.note("the task table header has no rows (filtered log?)")
        why.append("a header without rows")
    if _ends_inside(d):
        # the oom-kill: summary (5.0+) and the selection line (2.6.19-5.0) are printed after dump_header() has
        # printed the whole table: either one proves the table before it complete
        why.append("the input ends inside the report, before any kill line")
    truncated = bool(why)
    if d.dups:
        d.note(f"{d.dups} duplicated task-table row(s) dropped")
    if d.dup_lines:
        d.note(f"{d.dup_lines} repeated line(s) (same time stamp and text: pasted twice) dropped")
    if d.replaced:
        d.note(f"{d.replaced} task-table row(s) replaced by a later row of the same pid "
               f"(one task per pid)")
    return TaskTable(variant=variant, columns=columns or (), rows=tuple(r for r in d.rows if r is not None),
                     tasks_state_line=d.tasks_state, filtered=False, truncated=truncated,
                     duplicates_removed=d.dups, truncated_why="; ".join(why) or None)


def _maybe_filtered(ev: OomEvent, table: TaskTable) -> OomEvent:
    notes = list(ev.notes)
    filtered = False
    if ev.domain == "global" and len(table.rows) <= 2:
        filtered = True
        notes.append(f"the task table of a global OOM lists only {len(table.rows)} task(s): the "
                     f"log was probably filtered (a global table lists every user process)")
    victim = ev.victim_pid
    pids = {r.pid for r in table.rows} | {r.tgid for r in table.rows if r.tgid is not None}
    if victim is not None and victim not in pids and table.columns:
        notes.append(f"the killed pid {victim} is not in the task table")
    if not filtered and len(notes) == len(ev.notes):
        return ev
    return replace(ev, table=replace(table, filtered=filtered), notes=tuple(notes))
