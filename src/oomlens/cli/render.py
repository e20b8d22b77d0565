"""Human output. Only the CLI imports this module.

Two rules hold for every line written here:

* External text (process names, cgroup paths, releases, log fields, notes quoting them) is *data*: it never
  reaches rich as markup, and its control characters are shown, not sent (:func:`visible`). A process named
  ``[/]`` or ``\\x1b[2J`` prints as itself.
* Numbers are never clipped. Tables fit a terminal by dropping lower-priority columns (like ``ps``/``htop``),
  never by cutting digits; text columns may be shortened, with a visible ``…``. Output to a pipe or a file has
  no width: nothing is dropped, cut or wrapped. ``COLUMNS=N`` sets the width explicitly (pipes included).
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oomlens.analysis.ranking import Explanation, Prediction, Ranking, ScoredTask
from oomlens.cli.text import visible
from oomlens.kernel.eras import Era, badness_pages

if TYPE_CHECKING:  # imported where used: `oomlens top` does not load the post-mortem analysis
    from oomlens.analysis.postmortem import EventAnalysis, Tally, Verdict

# --------------------------------------------------------------------------- text that is data

def cells(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters count 2)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


# --------------------------------------------------------------------------- the screen

def _env_int(name: str) -> int | None:
    v = os.environ.get(name, "")
    return int(v) if v.isascii() and v.isdigit() and int(v) > 0 else None


@dataclass(slots=True)
class Screen:
    """Where output goes: a terminal (styled, with a size) or a pipe/file (plain, unbounded)."""

    tty: bool
    width: int | None
    """Columns available; None: unbounded (a pipe or file without ``COLUMNS``)."""
    height: int | None
    """Rows of a terminal (its first screen must hold the answer); None for pipes and files."""

    @classmethod
    def detect(cls) -> Screen:
        tty = sys.stdout.isatty()
        width, height = _env_int("COLUMNS"), _env_int("LINES")
        if tty:
            size = shutil.get_terminal_size()
            width = width or size.columns
            height = height or size.lines
        return cls(tty, width, height if tty else None)

    def rows_of(self, line: str) -> int:
        """Screen rows one line takes once the terminal wraps it."""
        if not self.width:
            return 1
        return max(1, -(-cells(line) // self.width))


Segment = str | tuple[str, str]
"""A piece of a line: text, or (text, rich style) — the text is data and is made :func:`visible`."""


class Writer:
    """Writes whole lines: styled through rich on a terminal, plain text elsewhere. Lines are never
    hard-wrapped (a terminal wraps long lines itself, so a command in a note stays one line when copied)."""

    def __init__(self, screen: Screen | None = None) -> None:
        self.screen = screen or Screen.detect()
        self._console: Any = None
        self._out = sys.stdout

    def _rich(self) -> Any:
        if self._console is None:
            from rich.console import Console

            class _Console(Console):
                def on_broken_pipe(self) -> None:
                    """`oomlens top | head`: the reader stopped early, which is not an error."""
                    self.quiet = True
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                    raise SystemExit(0)

            # markup, emoji and highlighting off: nothing in a line is ever interpreted
            self._console = _Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
        return self._console

    def line(self, *parts: Segment) -> None:
        if not self.screen.tty or all(isinstance(p, str) for p in parts):
            text = "".join(visible(p if isinstance(p, str) else p[0]) for p in parts)
            if self.screen.tty:
                self._rich().print(text, soft_wrap=True, markup=False, emoji=False, highlight=False)
            else:
                self._out.write(text + "\n")
            return
        from rich.text import Text

        self._rich().print(Text.assemble(*[visible(p) if isinstance(p, str) else (visible(p[0]), p[1])
                                           for p in parts]), soft_wrap=True)

    def lines(self, items: Sequence[tuple[str, str]]) -> None:
        """Many (text, style) lines at once; text already :func:`visible`. Plain output is one write."""
        if not self.screen.tty:
            self._out.write("".join(t + "\n" for t, _ in items))
            return
        from rich.text import Text

        con = self._rich()
        for t, style in items:
            con.print(Text(t, style=style), soft_wrap=True)


# --------------------------------------------------------------------------- tables

@dataclass(slots=True)
class Column:
    header: str
    right: bool = True
    drop: int = 0
    """0: always shown; otherwise dropped on a narrow screen, highest number first."""
    shrink: int = 0
    """Text columns only: the narrowest this column may be cut to (with a trailing ``…``); 0: never cut."""
    last: bool = False
    """Takes whatever width is left (cut with ``…``); dropped if less than ``shrink`` remains."""


def _cut(text: str, width: int) -> str:
    if cells(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cells(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _hidden(width: int | None, dropped: list[str]) -> str:
    """What a table's footer says of the columns :func:`layout` dropped to fit ``width``."""
    return f"hidden at {width} columns: {', '.join(dropped)} (wider terminal, or --json)"


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None,
           styles: Sequence[str] | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """Lay ``rows`` (cells already :func:`visible`) out as aligned text lines, header first.

    Returns the (line, style) pairs and the headers of the columns dropped to fit ``width``. Numbers are
    never cut: when the kept columns still do not fit, lines run long and the terminal wraps them.
    """
    n = len(columns)
    full = [cells(c.header) for c in columns]
    for row in rows:
        for i in range(n):
            w = cells(row[i])
            if w > full[i]:
                full[i] = w
    widths = list(full)
    # a droppable column with nothing in it (WHY NOT when every task is eligible) goes first
    keep = [i for i in range(n) if not columns[i].drop or full[i] > cells(columns[i].header)
            or any(row[i] for row in rows)]

    def total() -> int:
        return sum(widths[i] for i in keep) + 2 * (len(keep) - 1)

    if width is not None:
        orders = sorted({c.drop for c in columns if c.drop}, reverse=True)
        while True:
            for i in keep:  # the free-text last column takes what is left
                c = columns[i]
                if c.last and c.shrink:
                    widths[i] = full[i]
                    room = width - (total() - widths[i])
                    widths[i] = max(min(full[i], room), max(c.shrink, cells(c.header)))
            if total() <= width or not orders:
                break
            order = orders.pop(0)
            keep = [i for i in keep if columns[i].drop != order]
        for i in keep:  # then text columns that may be cut, down to their minimum
            over = total() - width
            if over <= 0:
                break
            c = columns[i]
            if c.shrink and not c.last:
                widths[i] = max(c.shrink, cells(c.header), widths[i] - over)
    dropped = [columns[i].header for i in range(n) if i not in keep and any(row[i] for row in rows)]
    last = keep[-1] if keep else -1
    right = [c.right for c in columns]

    def fmt(values: Sequence[str]) -> str:
        parts = []
        for i in keep:
            v = values[i]
            w = widths[i]
            vw = cells(v)
            if vw > w:
                v, vw = _cut(v, w), w
            if right[i]:
                parts.append(" " * (w - vw) + v)
            else:
                parts.append(v if i == last else v + " " * (w - vw))
        return "  ".join(parts).rstrip()

    out = [(fmt([c.header for c in columns]), "bold")]
    for j, row in enumerate(rows):
        out.append((fmt(row), styles[j] if styles else ""))
    return out, dropped


# --------------------------------------------------------------------------- numbers and units

def human(pages: int | None, page_size: int = 4096) -> str:
    if pages is None:
        return "-"
    b = pages * page_size  # integers throughout: a hostile log's 400-digit value must not overflow a float
    sign = "-" if b < 0 else ""
    b = abs(b)
    for i, unit in enumerate(("B", "K", "M", "G", "T")):
        if b < 1024 ** (i + 1) or unit == "T":
            if b >= 1024 ** (i + 1):  # beyond 1024T: whole terabytes, however many digits
                return f"{sign}{b // 1024 ** i}{unit}"
            n = b / 1024 ** i
            return f"{sign}{n:.0f}{unit}" if unit == "B" or n >= 100 else f"{sign}{n:.1f}{unit}"
    return str(pages)  # pragma: no cover


def unit_word(era: Era) -> str:
    """How a badness figure of this era reads: ``pages``, ``‰ of T`` or ``points``."""
    return {"pages": "pages", "permille": "‰ of T"}.get(era.badness_unit, "points")


def badness_text(era: Era, points: int, totalpages: int | None, page_size: int, *, signed: bool = False) -> str:
    """``points`` of badness (or a gap between two) with its unit, and the memory it stands for:
    ``12800 pages (50.0M)``, ``37‰ of T (≈ 9472 pages, 37.0M)``, ``5120 points``."""
    num = f"{points:+d}" if signed else str(points)
    conv = badness_pages(era, points, totalpages)
    if conv is None:
        return f"{num} points"
    pages, exact = conv
    if exact:
        return f"{num} pages ({human(pages, page_size)})"
    return f"{num}‰ of T (≈ {pages} pages, {human(pages, page_size)})"


def percent_of_t(era: Era, points: int, totalpages: int) -> str:
    if era.badness_unit == "permille":
        return f"{points / 10:.1f}"
    return f"{100 * points / max(totalpages, 1):.1f}"


_users: dict[int, str] = {}


def user(uid: int) -> str:
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = str(uid)
    return _users[uid]


# --------------------------------------------------------------------------- notes

# Notes that hold on every run (what /proc cannot show, the domain assumed, how the scan order was known):
# they qualify every answer alike, so a terminal folds them behind --verbose. Every other note (a kernel
# override, a cgroup without a limit, an approximated root bonus, unreadable processes, an assumed scan
# order...) can change the answer and is always shown. JSON always carries all of them.
_STANDING = (
    "MMF_OOM_SKIP (a victim already reaped)",
    "processes sharing the victim's mm",
    "a previous victim still being reaped",
    "global domain shown;",
    "PF_EXITING not read",
    "since 6.2 the kernel scores with approximate per-CPU",
    "start times not read: tasks in pid order, which is creation order because",
    "tasks in creation order from pidfs inode numbers",
)


def split_notes(notes: Sequence[str]) -> tuple[list[str], list[str]]:
    """(notes that can change the answer, standing caveats)."""
    shown: list[str] = []
    folded: list[str] = []
    for n in dict.fromkeys(notes):
        (folded if n.startswith(_STANDING) else shown).append(n)
    return shown, folded


def _note_lines(notes: Sequence[str], verbose: bool) -> list[tuple[str, str]]:
    shown, folded = split_notes(notes)
    out = [(visible("note: " + n), "dim") for n in (shown + folded if verbose else shown)]
    if folded and not verbose:
        out.append((f"+ {len(folded)} standing note{'s' if len(folded) != 1 else ''} "
                    "(what /proc cannot show, assumptions): --verbose or --json", "dim"))
    return out


# --------------------------------------------------------------------------- top

def _domain_line(r: Ranking) -> str:
    dom = f"memcg {r.cgroup}" if r.cgroup else "global"
    head = f"kernel {r.release} (rules {r.era.name}) · domain {dom} ({r.constraint.value}) · "
    if r.era.scoring == "legacy":
        return head + "no T: the legacy heuristic scores total_vm, children, cpu and run time, nice and privileges"
    return head + f"T = {r.totalpages} pages ({human(r.totalpages, r.page_size)}), T/1000 = {r.totalpages // 1000}"


def _formula(era: Era) -> str:
    if era.badness_unit == "pages":
        return "BADNESS in pages: anon+file+shmem+swap+page tables + ADJ TERM (adj × T/1000)"
    if era.badness_unit == "permille":
        return "BADNESS in ‰ of T, not pages: (anon+file+shmem+swap+page tables)×1000/T + ADJ TERM (= adj)"
    return "BADNESS in heuristic points (total_vm, children, cpu and run time, nice, privileges), not memory"


def _victim_line(r: Ranking) -> list[Segment]:
    sel = r.selection
    if r.victim is None:
        return [("no victim", "bold"), f": {sel.message or sel.outcome}"]
    v = r.victim
    parts: list[Segment] = ["next victim: ", (f"{v.task.pid} ({v.task.name})", "bold red"),
                            f" badness {badness_text(r.era, v.terms.points, r.totalpages, r.page_size)}"]
    if v.task.pid == os.getpid():
        parts.append(" — this oomlens process itself, which exits in a moment")
    if sel.sacrificed_for is not None:
        parts.append(f" — child sacrificed for {sel.sacrificed_for.pid} ({sel.sacrificed_for.name})")
    if sel.oom_group:
        parts.append(f" — memory.oom.group {sel.oom_group}: {len(sel.also_killed)} more")
    return parts


def _top_columns(era: Era) -> list[Column]:
    cols = [Column("#", drop=2), Column("PID"), Column("NAME", right=False, shrink=6),
            Column("USER", right=False, drop=7), Column("ADJ", drop=3), Column("ANON", drop=4),
            Column("FILE", drop=9), Column("SHMEM", drop=10), Column("SWAP", drop=8), Column("PTBL", drop=11),
            Column("ADJ TERM", drop=6), Column("BADNESS"), Column("SCORE"), Column("%T", drop=5),
            Column("WHY NOT", right=False, drop=1, shrink=12, last=True)]
    if era.badness_unit == "points":
        cols = [c for c in cols if c.header != "%T"]
    return cols


def _top_row(r: Ranking, s: ScoredTask, with_pct: bool) -> list[str]:
    task, b, ps = s.task, s.terms, r.page_size
    elig = s.eligible
    row = [str(s.rank or ""), str(task.pid), visible(task.name), visible(user(task.uid)), str(task.oom_score_adj),
           human(task.rss_anon, ps) if task.rss_split_known else human(task.rss, ps) + "*",
           human(task.rss_file, ps), human(task.rss_shmem, ps), human(task.swapents, ps),
           human(task.pgtables_bytes // ps, ps), str(b.adj_term) if elig else "-",
           str(b.points) if elig else "-", str(s.oom_score)]
    if with_pct:
        row.append(percent_of_t(r.era, b.points, r.totalpages) if elig else "-")
    row.append(visible(s.reason or ""))
    return row


def top(r: Ranking, rows: Sequence[ScoredTask], *, limit: int | None = None, verbose: bool = False,
        more_hint: str = "use -n N or --all", writer: Writer | None = None) -> None:
    """The ranking as a table, the answer first. ``limit`` (``-n``) caps the rows; without it a terminal
    shows as many as fit its first screen (at most 20) and a pipe gets them all."""
    w = writer or Writer()
    scr = w.screen
    head: list[list[Segment]] = [_victim_line(r), [_domain_line(r)]]
    if r.selection.outcome == "panic":
        head.append([(r.selection.message or "panic", "bold red")])
    cols = _top_columns(r.era)
    with_pct = any(c.header == "%T" for c in cols)
    skipped = len(r.tasks) - len(r.eligible)
    foot = f"{len(r.eligible)} candidates, {skipped} not eligible"
    if r.unreadable:
        foot += f", {r.unreadable} unreadable (permission denied)"
    notes = _note_lines(r.notes, verbose)

    cap = limit if limit is not None else (20 if scr.height is not None else None)
    shown = list(rows[:cap]) if cap is not None else list(rows)
    while True:
        styles = ["bold red" if r.victim is s else ("dim" if not s.eligible else "") for s in shown]
        table, dropped = layout(cols, [_top_row(r, s, with_pct) for s in shown], scr.width, styles)
        more = len(rows) - len(shown)
        tail = [(f"… {more} more; {more_hint}", "")] if more > 0 else []
        tail.append((foot + ". " + _formula(r.era), "dim"))
        if dropped:
            tail.append((_hidden(scr.width, dropped), "dim"))
        if limit is not None or scr.height is None or len(shown) <= 1:
            break
        used = sum(scr.rows_of("".join(p if isinstance(p, str) else p[0] for p in h)) for h in head)
        used += sum(scr.rows_of(t) for t, _ in table + tail + notes) + (1 if more == 0 else 0) + 1  # + prompt
        if used <= scr.height:
            break
        shown = shown[:max(1, len(shown) - (used - scr.height))]
    for h in head:
        w.line(*h)
    w.lines(table + tail + notes)


# --------------------------------------------------------------------------- explain

def explain(ex: Explanation, *, verbose: bool = False, writer: Writer | None = None) -> None:
    w = writer or Writer()
    r, s = ex.ranking, ex.target
    task, b = s.task, s.terms
    ps, era, T = r.page_size, r.era, r.totalpages
    is_victim = r.victim is s
    unit = unit_word(era)
    if not s.eligible:
        w.line((f"{task.pid} ({task.name})", "bold"), f": not an OOM candidate: {s.reason}")
    else:
        w.line((f"{task.pid} ({task.name})", "bold"),
               f": rank {s.rank} of {len(r.eligible)}, badness "
               + (f"{b.points} {unit} (clamped)" if b.clamped else badness_text(era, b.points, T, ps)),
               (" — the next OOM victim", "bold red") if is_victim else "")
    w.line(_domain_line(r))
    w.line(f"uid {task.uid} ({user(task.uid)}) oom_score_adj {task.oom_score_adj}")
    if not s.eligible:
        w.lines(_note_lines([n for n in ex.notes + r.notes if not n.startswith("not a candidate:")], verbose))
        return
    out: list[str] = []
    if b.legacy:
        out.append("legacy heuristic (<=2.6.35), in points (not a memory size):")
        out += [f"  {step:<45} → {pts}" for step, pts in b.legacy]
    else:
        out.append("oom_badness():")
        out.append(f"  rss          {b.rss:>12} pages  (anon {task.rss_anon} + file {task.rss_file} + shmem {task.rss_shmem})")
        out.append(f"  + swapents   {b.swapents:>12} pages")
        out.append(f"  + pagetables {b.pgtables:>12} pages  ({task.pgtables_bytes} bytes / {ps})")
        if era.badness_unit == "permille":
            out.append(f"  = {b.base} pages × 1000 / T({T}) = {b.base * 1000 // max(T, 1)}‰ of T")
            if b.root_bonus:
                out.append(f"  − {b.root_bonus}‰ (CAP_SYS_ADMIN)")
            out.append(f"  + oom_score_adj {b.adj_term}‰")
        else:
            out.append(f"  = {b.base:>14} pages")
            if b.root_bonus:
                out.append(f"  − root bonus {b.root_bonus}")
            out.append(f"  + adj term   {b.adj_term:>12} pages  (oom_score_adj {b.adj} × (T/1000 = {T // 1000}))")
    out.append(f"  = badness    {b.points:>12} {unit}" + ("  (clamped)" if b.clamped else "")
               + ("  (32-bit overflow, as that kernel)" if b.overflowed else ""))
    out.append(f"/proc/{task.pid}/oom_score = {s.oom_score} (global T = {r.global_totalpages})")
    if ex.rival is not None and ex.margin is not None:
        who = "runner-up" if is_victim else "victim"
        out.append(f"{who}: {ex.rival.task.pid} ({ex.rival.task.name}) badness {ex.rival.terms.points} {unit}; "
                   f"margin {badness_text(era, ex.margin, T, ps, signed=True)}")
    if era.badness_unit == "points":
        pass  # no adj counterfactuals for the legacy heuristic (the note says so)
    elif is_victim:
        if ex.spare_adj is not None:
            out.append(f"oom_score_adj ≤ {ex.spare_adj} would spare it"
                       + (f" ({ex.rival.task.name} would die instead)" if ex.rival else ""))
        else:
            out.append("no oom_score_adj above -1000 spares it (only -1000 does)")
        if ex.shed_pages is not None:
            conv = badness_pages(era, ex.shed_pages, T)
            if era.badness_unit == "permille" and conv is not None:
                out.append(f"or shedding about {conv[0]} pages ({human(conv[0], ps)}) of memory "
                           f"({ex.shed_pages}‰ of T; each ‰ is {T // 1000} pages)")
            else:
                out.append(f"or shedding {ex.shed_pages} pages ({human(ex.shed_pages, ps)}) of memory")
    else:
        if ex.victim_adj is not None:
            out.append(f"oom_score_adj ≥ {ex.victim_adj} would make it the victim")
        else:
            out.append("no oom_score_adj up to 1000 makes it the victim")
    out += [f"assumption: {a}" for a in b.assumptions]
    w.lines([(visible(t), "") for t in out] + _note_lines(ex.notes + r.notes, verbose))


# --------------------------------------------------------------------------- predict

def predict(p: Prediction, *, verbose: bool = False, writer: Writer | None = None) -> None:
    """``oomlens predict`` for a person: the answer (enough? first victim?), then the kill order."""
    w = writer or Writer()
    r = p.ranking
    era, page_size = r.era, r.page_size
    steps = p.steps
    if p.need_pages is not None:
        msg = "enough" if p.satisfied else "NOT enough: the kernel would run out of candidates"
        w.line(f"need {human(p.need_pages, page_size)}: ", (msg, "bold" if p.satisfied else "bold red"),
               f" after {len(steps)} kill{'s' if len(steps) != 1 else ''}")
    elif steps:
        v = steps[0].victim.task
        w.line("first victim: ", (f"{v.pid} ({v.name})", "bold red"),
               f"; {len(steps)} kills until no candidate is left")
    elif r.selection.message and r.selection.outcome != "no_killable":
        w.line(("no victim", "bold"), f": {r.selection.message}")
    else:
        w.line(("no victim", "bold"), ": no OOM candidate in this domain")
    w.line(f"kernel {r.release} (rules {era.name}) · domain "
           f"{'memcg ' + r.cgroup if r.cgroup else 'global'} · T = {r.totalpages} pages")
    cols = [Column("#"), Column("PID"), Column("NAME", right=False, shrink=6), Column("ADJ", drop=3),
            Column("BADNESS"), Column("FREES", drop=2), Column("TOTAL FREED"),
            Column("ALSO KILLED", right=False, drop=1, shrink=12, last=True)]
    rows = [[str(i), str(s.victim.task.pid), visible(s.victim.task.name), str(s.victim.task.oom_score_adj),
             str(s.victim.terms.points), human(s.freed_pages, page_size), human(s.cumulative_pages, page_size),
             ",".join(str(t.pid) for t in s.also_killed)] for i, s in enumerate(steps, 1)]
    table, dropped = layout(cols, rows, w.screen.width)
    foot = f"BADNESS in {unit_word(era)}" + ("" if era.badness_unit == "pages" else " (not pages)")
    if dropped:
        foot += "; " + _hidden(w.screen.width, dropped)
    w.lines(table + [(foot, "dim")] + _note_lines(p.notes, verbose))


# --------------------------------------------------------------------------- postmortem

def _verdict_style(v: Verdict) -> str:
    from oomlens.analysis.postmortem import Verdict

    return {Verdict.AGREES: "bold green", Verdict.DISAGREES: "bold red", Verdict.UNDECIDABLE: "bold yellow"}[v]


def _pid_name(pid: int, name: str | None) -> str:
    """``pid (name)``; a name the log does not show (a line cut short) is said so, never printed as None."""
    return f"{pid} ({name})" if name is not None else f"{pid} (name not in the log)"


def postmortem_event(a: EventAnalysis, verbose: bool = False, writer: Writer | None = None) -> None:
    w = writer or Writer()
    ev = a.event
    when = f" at {a.timestamp}" if a.timestamp else ""
    host = f" host {ev.host}" if ev.host else ""
    w.line((f"── {ev.source}:{ev.start_line}-{ev.end_line}{host}{when}", "bold"))
    if a.repeat_of is not None:
        w.lines([(visible(f"note: {a.reason}"), "dim"), ("", "")])
        return
    w.line((f"verdict: {a.verdict}", _verdict_style(a.verdict)), f" — {a.reason}" if a.reason else "")
    rel = a.kernel_release or "release not printed"
    allowed = a.era_range_text
    w.line(f"kernel: {rel} · rules {a.era_name}" + (f" (the evidence allows {allowed})" if allowed else "")
           + f" ({a.era_source})")
    inv = a.invoked_by
    if inv:
        # a field the header does not print is left out (the 2.6.11 form names no task and, before 2.6.16, no order)
        gfp = inv.gfp_mask if not isinstance(inv.gfp_mask, int) else f"{inv.gfp_mask:#x}"
        what = (["sysrq-f (forced)"] if ev.sysrq else
                [f"order={inv.order}"] * (inv.order is not None) + [f"gfp={gfp}"] * (gfp is not None))
        who = inv.comm if inv.comm is not None else "not named by this header"
        w.line(f"allocating task: {who}" + (f" (pid {inv.pid})" if inv.pid else "")
               + (f", {' '.join(what)}" if what else ""))
    dom = a.domain_text
    T = a.totalpages
    bound = a.totalpages_at_least and not a.totalpages_exact   # a lower bound: say so, not "approximate"
    w.line(f"domain: {dom} ({a.constraint}) · T " + ("= unknown" if T is None else f"≥ {T} pages" if bound
                                                      else f"= {T} pages")
           + ("" if a.totalpages_exact or T is None or bound else " (approximate)")
           + (f" — {a.totalpages_how}" if a.totalpages_how else ""))
    ol = a.over_limit
    if ol:
        share = f"{ol.percent}%" if ol.percent is not None else "a limit of 0: every charge is over it"
        w.line(f"memcg usage {ol.usage_kb} kB of limit {ol.limit_kb} kB ({share}), failcnt {ol.failcnt}")
    s = ev.selection
    if s:
        sc = a.score_check
        check = ("" if sc is None else " (the model's score for it too)" if sc.matches
                 else f" (the model's score for it: {sc.model})")
        if a.unscanned_choice:
            w.line(f"kernel selected: {_pid_name(s.pid, s.name)} — the allocating task, no badness scan (see the notes)")
        elif a.allocating_task_policy:
            w.line(f"kernel selected: {_pid_name(s.pid, s.name)}, the allocating task, by vm.oom_kill_allocating_task=1 "
                   "(no scan: " + (f"the printed score {s.score} is no badness)" if s.score is not None else
                                   "no badness)"))
        else:
            score = f"score {s.score}" if s.score is not None else "score not in the log (the line is cut short)"
            w.line(f"kernel selected: {_pid_name(s.pid, s.name)} {score}{check}")
    elif ev.summary is not None and ev.summary.pid is not None and not ev.killed:
        # dump_oom_summary() names the task the kernel chose (5.0+), in the report before its kill line
        w.line(f"kernel selected: {_pid_name(ev.summary.pid, ev.summary.task)} — named by the oom-kill: summary line")
    if ev.killed:
        w.line("kernel killed: " + ", ".join(_pid_name(k.pid, k.name) for k in ev.killed)
               + (f" — memory.oom.group {ev.oom_group_path}" if ev.oom_group_path else ""))
    elif not s:
        w.line("kernel killed: (not in the log)")
    if ev.sharing_killed:
        n = len(ev.sharing_killed)
        listed = ", ".join(f"{pid} ({name})" for pid, name in ev.sharing_killed[:6])
        w.line(f"also killed, sharing the victim's memory: {listed}" + (f", … ({n} in all)" if n > 6 else ""))
    if ev.panic and ev.victim_pid is not None:
        w.line(f"then: Kernel panic - not syncing: {ev.panic}")
    if ev.reaped:
        w.line("oom_reaper: " + ", ".join(f"{r.pid} {'reaped' if r.reaped else 'NOT reaped'}" for r in ev.reaped))
    mv = a.model_victim
    if mv and a.table_incomplete:
        w.line(f"model picks: — (the task table is incomplete; of the rows in the log, {mv.pid} ({mv.name}) scores "
               "highest)")
    else:
        w.line("model picks: " + (f"{mv.pid} ({mv.name})" if mv else "the allocating task "
                                  "(vm.oom_kill_allocating_task=1: no scan)" if a.allocating_task_policy else "—"))
    ex = a.explanation
    era = a.ranking.era if a.ranking is not None else None
    unit = unit_word(era) if era is not None else "points"
    lines: list[tuple[str, str]] = []
    if ex is not None and a.ranking is not None:
        cols = [Column("#"), Column("PID"), Column("NAME", right=False, shrink=6), Column("ADJ", drop=4),
                Column("RSS", drop=3), Column("SWAP", drop=5), Column("PTBL", drop=6), Column("ADJ TERM", drop=2),
                Column("BADNESS", right=False), Column("vs MODEL PICK", drop=1)]
        shown = a.ranking.tasks if verbose else a.ranking.eligible[:5]
        # the margins are against the kernel's choice when the table shows it (eligible), else the model's pick
        v = a.ranking.victim
        kr = next((t for t in a.ranking.tasks if t.task.pid == a.kernel_row), None)
        if kr is not None and kr.eligible:
            v = kr
            cols[-1] = Column("vs KERNEL PICK", drop=1)
        rows, styles = [], []
        dep = a.t_dependent
        for r in shown:
            b = r.terms
            adj_term, points = str(b.adj_term), str(b.points)
            if r.eligible and r.task.pid in dep:  # T unknown: shown as a formula in T, never as a number
                lin = dep[r.task.pid]
                if lin is None:
                    points = "depends on T"
                else:
                    adj_term = f"{lin[1]}×T/1000"
                    points = f"{lin[0]}{lin[1]:+d}×T/1000"
            known = r.eligible and v is not None and r.task.pid not in dep and v.task.pid not in dep
            rows.append([str(r.rank or ""), str(r.task.pid), visible(r.task.name), str(r.task.oom_score_adj),
                         str(b.rss), str(b.swapents), str(b.pgtables), adj_term if r.eligible else "-",
                         points if r.eligible else visible(r.reason or "-"),
                         f"{b.points - v.terms.points:+d}" if known and v is not None else ""])
            styles.append("bold red" if r is a.ranking.victim else ("dim" if not r.eligible else ""))
        table, dropped = layout(cols, rows, w.screen.width, styles)
        lines += table
        lines.append((f"BADNESS in {unit}; RSS, SWAP, PTBL in pages"
                      + ("; T unknown: the order after the victim is at T's lower bound" if a.t_dependent else "")
                      + ("; " + _hidden(w.screen.width, dropped) if dropped else ""), "dim"))
        ru = ex.runner_up
        if ru is not None and era is not None and ex.margin_text is not None:
            mp = ex.margin_pages
            ps = a.page_kb * 1024
            size = ("" if mp is None else f" ({human(mp, ps)})" if ex.margin_pages_exact else f", ≈{human(mp, ps)}")
            vic, run = f"{ex.victim.name} ({ex.victim.pid})", f"{ru.name} ({ru.pid})"
            if ex.margin == 0:
                memcg = a.constraint == "CONSTRAINT_MEMCG"
                lines.append((visible(f"why: a tie: {vic} and {run} both score {ex.victim.badness} {unit}; {era.name} "
                                      f"kernels keep the {era.tie(memcg).value} of equal scores in scan order (the "
                                      f"table's order): {vic}"), ""))
            else:
                lines.append((visible(f"why: {vic} led {run} by {ex.margin_text}{size}"), ""))
            if ex.spare_adj is not None:
                lines.append((visible(f"oom_score_adj ≤ {ex.spare_adj} on {vic} would have spared it; {run} would "
                                      "have died instead"), ""))
            elif a.t_low is not None and era.badness_unit != "points":
                lines.append((visible(f"the oom_score_adj that would have spared {vic} is not given: T is unknown and "
                                      "an adj term scales with it (adj × T/1000 pages)"), "dim"))
    lines += [(visible("note: " + n), "dim") for n in a.all_notes]
    lines.append(("", ""))
    w.lines(lines)


def postmortem_summary(tally: Tally, sources: list[tuple[str, bool, int]], writer: Writer | None = None) -> None:
    """The end-of-run tally: events and verdicts, overall and per host; unreadable inputs named.
    ``sources``: (path, failed, events read from it) per input; one that failed after giving events was read
    in part."""
    from oomlens.analysis.postmortem import Verdict

    w = writer or Writer()
    read = [p for p, failed, _ in sources if not failed]
    read += [f"{p} (in part: unreadable after {n} event{'s' if n != 1 else ''})" for p, failed, n in sources
             if failed and n]
    bad = [p for p, failed, n in sources if failed and not n]
    where = ", ".join(read) if read else "no readable input"
    unread = f" ({len(bad)} unreadable: {', '.join(bad)})" if bad else ""
    n = tally.events
    if n == 0:
        w.line(f"no OOM event found in {where}{unread}")
        return

    def counts(c: dict[Verdict, int]) -> str:
        return (f"{c[Verdict.AGREES]} agree, {c[Verdict.DISAGREES]} disagree, "
                f"{c[Verdict.UNDECIDABLE]} undecidable")

    nrep = len(tally.repeats)
    rep = (f"; {nrep} repeated cop{'ies' if nrep != 1 else 'y'} or stray part{'s' if nrep != 1 else ''} of an "
           "event dropped") if nrep else ""
    w.line(f"{n} OOM event{'s' if n != 1 else ''} in {where}{unread}: {counts(tally.counts())}{rep}")
    hosts = list(tally.hosts.values())
    if len(hosts) > 1 or (hosts and hosts[0].host):
        for h in hosts:
            label = h.host if h.host and h.source is None else (
                f"{h.host or '(no host name)'} in {h.source}")
            w.line(f"  {label}: {h.events} event{'s' if h.events != 1 else ''}, {counts(h.counts)}")
