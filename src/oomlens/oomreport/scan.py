"""Find OOM reports in a large log without looking at every line in Python.

The input is read as large byte chunks. Between reports the scanner only runs ``bytes.find`` for a
few anchor strings (C speed) and ``bytes.count`` for line numbers. An anchor hit whose line is a
kernel OOM line opens a *region*:

* **lookback**: walking backwards from the hit, earlier lines are added while OOM lines keep
  appearing (at most ``LOOKBACK_QUIET`` unrelated lines in a row, ``LOOKBACK_BYTES`` in all).
  This recovers report parts that contain no anchor (the ``CPU:`` line of a report whose header
  was lost, a memcg block and task table before a kill line, ``Mem-Info`` tails);
* **forward**: every following line is normalised and classified until ``QUIET_CLOSE`` lines in a
  row are unrelated. Call traces, ``Mem-Info`` lines and table rows are OOM lines, so a whole
  report stays in one region however long it is. In a structured log (JSON) the lines around the
  records (brackets, other keys) count neither way, here and in the lookback: a pretty-printed
  export puts a dozen or more of them between two records.

Chunk boundaries: only complete lines are processed; the partial last line and up to
``LOOKBACK_BYTES`` of already-seen text are carried into the next chunk, so a report that spans a
boundary is handled like any other. Memory is one chunk plus that carry plus one open report.

Anchors. ``bytes.find`` costs about the same per byte whatever it finds, and long needles are
faster (CPython skips ahead by the needle length), so there are only three, all long:

* ``Killed process``: every kill line from 2.4 to 6.18 (with or without the ``Out of memory``,
  ``Memory cgroup out of memory`` or ``(oom_kill_allocating_task)`` prefix, RHEL 6 ``, UID``);
* ``oom-killer: gfp_mask=``: the ``invoked oom-killer`` line of every era (and 2.6.11's bare
  ``oom-killer: gfp_mask=``), i.e. the start of every report that has its header;
* ``is already exiting. Skip killing the task``: the one OOM line that can be printed alone
  (its header ratelimited, nothing killed).

Every other OOM line is printed next to one of these and is reached by the region logic: the
selection line, ``oom-kill:`` summary and task table just before a kill line (lookback), the
memory state and call trace after the header (forward), ``sharing same memory``, ``memory.oom.group``
kills, ``has mm pinned``, ``no killable processes`` and OOM panics after the header or the kill.
A report whose header was lost *and* that has no kill line cannot be found (nothing in it is
specific enough to search for cheaply).

``oom_reaper:`` lines come later (a 2 s timer from ~5.17), so ``oom_reaper: `` is searched only
within ``REAPER_WINDOW`` after a report that killed on a kernel with a reaper, and before every
report (input printed newest-first has them above the report). An ``oom_reaper`` line further
than that from any kill report is not found; ``scan_all=True`` finds it.

Pure: standard library only. Nothing is opened here: the caller supplies the chunks, or a binary
stream that :meth:`_Scanner.run_reader` reads with ``readinto``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from oomlens.oomreport.events import (
    MAX_SOFT_BREAKS,
    REAPER_GRACE_LINES,
    Assembler,
    Item,
    classify_line,
    process_region,
    qp_decode,
)
from oomlens.oomreport.model import OomEvent
from oomlens.oomreport.normalize import Normalizer, is_json_framing, normalize_line
from oomlens.oomreport.parse import CUT_CAP, CUT_EOF, Kind, classify

__all__ = ["ANCHORS", "CHUNK_SIZE", "EventParser", "find_anchor", "is_oom_line", "iter_events", "no_oom_line_within"]


Buf = bytes | bytearray


@runtime_checkable
class ReadInto(Protocol):
    """A binary stream with ``readinto`` (files, ``gzip.GzipFile``, ``sources.open_binary``)."""

    def readinto(self, buffer: Any, /) -> int | None: ...

# One pass over the input per anchor (a pass costs about what grep's whole run does): " process" finds every
# selection and kill line and "Out of memory and no killable processes"; "oom" followed by one of its
# ANCHOR_FOLLOWERS the header (oom-killer: gfp_mask=), the 5.0+ summary (oom-kill:constraint=), reaper lines
# (oom_reaper: ) and the panic_on_oom panics ("panic_on_oom is enabled", "... is selected") in one pass (a short
# needle hits more often, but a hit is checked in nanoseconds); "is already exiting" the exiting-victim line.
ANCHORS: tuple[bytes, ...] = (b" process", b"oom", b"is already exiting. Skip killing the task")
ANCHOR_FOLLOWERS: dict[bytes, tuple[bytes, ...]] = {b"oom": (b"-kill", b"_reap", b" is enabled", b" is selected")}
"""An anchor listed here is a hit only when one of these follows it (``oom-kill``, ``oom_reaper``,
``panic_on_oom is enabled``); any other ``oom`` (``room``, ``systemd-oomd``...) is skipped."""
REAPER_ANCHOR = b"oom_reaper: "
REAPER_WINDOW = 256 << 10
CHUNK_SIZE = 8 << 20
LOOKBACK_BYTES = 512 << 10
LOOKBACK_LINES = 20000
LOOKBACK_QUIET = 12
# before "invoked oom-killer" only a sysrq line belongs, but noise may sit between (fast path == scan_all)
LOOKBACK_QUIET_AFTER_HEADER = LOOKBACK_QUIET
QUIET_CLOSE = 12
MAX_REGION_LINES = 50_000
MAX_LINE_BYTES = 1 << 20
_NOT_OOM = frozenset({Kind.NOISE})


class _LineEnds:
    """CR-only (old Mac, ``tr '\\n' '\\r'``, terminal captures) and CRLF line ends become LF, so
    every line end is a line end; CRLF counts as one. Chunk boundaries may split a CRLF."""

    __slots__ = ("pending_cr",)

    def __init__(self) -> None:
        self.pending_cr = False

    def fix(self, data: Buf) -> Buf:
        drop = self.pending_cr and data[:1] == b"\n"
        self.pending_cr = data[-1:] == b"\r"
        if data.find(b"\r") >= 0:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data[1:] if drop else data


def no_oom_line_within(data: Buf, lines: int, anchors: tuple[bytes, ...], *, last: bool = False) -> bool:
    """Whether ``data`` holds at least ``lines`` complete lines and none of its first (``last``: final)
    ``lines`` lines is an OOM line that the scanner would find (an anchor hit whose line is an OOM line, or an
    ``oom_reaper`` line)."""
    if last:
        start = len(data)
        for _ in range(lines + 1):
            start = data.rfind(b"\n", 0, start)
            if start < 0:
                return False
        head = data[start + 1:]
    else:
        end = 0
        for _ in range(lines):
            nl = data.find(b"\n", end)
            if nl < 0:
                return False
            end = nl + 1
        head = data[:end]
    if REAPER_ANCHOR in head:
        return False
    for a in anchors:
        p = find_anchor(head, a, 0, len(head))
        while p >= 0:
            ls = head.rfind(b"\n", 0, p) + 1
            le = head.find(b"\n", p)
            if is_oom_line(head[ls:le if le >= 0 else len(head)]):
                return False
            p = find_anchor(head, a, p + 1, len(head))
    return True


def find_anchor(buf: Buf, anchor: bytes, pos: int, limit: int) -> int:
    """Offset of the next hit of ``anchor`` in ``buf[pos:limit]`` (-1: none): an occurrence followed by one of
    its :data:`ANCHOR_FOLLOWERS`, if it has any."""
    p = buf.find(anchor, pos, limit)
    followers = ANCHOR_FOLLOWERS.get(anchor)
    if followers is not None:
        while p >= 0 and not buf.startswith(followers, p + len(anchor)):
            p = buf.find(anchor, p + 1, limit)
    return p


def is_oom_line(raw: Buf) -> bool:
    """Stateless test used by the backwards walk: is this line (any record in it) an OOM line?"""
    for ll in normalize_line(raw.decode("utf-8", "replace")):
        if ll.trusted and classify(ll.text)[0] not in _NOT_OOM:
            return True
    return False


class _Scanner:
    """One pass over the input; see the module docstring.

    Offsets (``pos``, ``fed``, ``reaper_end``) are relative to the current buffer and shifted
    when the buffer is refilled."""

    def __init__(self, source: str, anchors: tuple[bytes, ...], scan_all: bool, first_lineno: int = 1) -> None:
        self.asm = Assembler(source)
        self.norm = Normalizer()
        self.anchors = anchors
        self.scan_all = scan_all
        self.region: list[Item] = []
        self.quiet = 0
        self.open = False
        self.pos = 0           # start of the next unprocessed line in buf
        self.fed = 0           # lines before this offset were fed (or are gone): never re-feed
        self.lineno = first_lineno  # line number of buf[pos]
        self.reaper_end = -1   # search REAPER_ANCHOR too while pos < reaper_end
        self.ends = _LineEnds()
        self.buf: Buf = b""    # feed_chunk's buffer: lookback context + unprocessed tail
        self.eof_lineno = -1   # the last line, when the input ends without a newline
        self.in_giant = False  # a line over the cap was cut: skip its rest up to its newline

    # -- line level ----------------------------------------------------------------------------
    def _feed_line(self, raw: Buf, lineno: int) -> bool | None:
        """Normalise + classify one line into the open region; True when it is an OOM line, None when it is the
        JSON around a structured log's records (it neither ends nor extends the region's quiet run)."""
        cut = CUT_EOF if lineno == self.eof_lineno else None
        if len(raw) >= MAX_LINE_BYTES:
            raw, cut = raw[:MAX_LINE_BYTES], CUT_CAP
        oom = False
        norm = self.norm
        lls = norm.normalize(raw.decode("utf-8", "replace"))
        if not lls and norm.framing:
            return None
        for i, ll in enumerate(lls):
            c = cut if i == len(lls) - 1 else None
            kind, payload = classify_line(ll.text, ll.trusted, lineno, c)
            self.region.append(Item(lineno, ll, kind, payload, 0, norm.lead if i == 0 else 0, c))
            if kind not in _NOT_OOM:
                oom = True
        return oom

    def _close(self) -> None:
        if self.region:
            process_region(self.region, self.asm)
            self.region = []
        self.asm.region_closed(self.lineno)
        self.open = False
        self.quiet = 0
        if self.asm.awaiting_reaper():
            self.reaper_end = self.pos + REAPER_WINDOW

    # -- chunk level ---------------------------------------------------------------------------
    def _keep_from(self, buf: Buf) -> int:
        """Offset from which the buffer must be kept when it is refilled (lookback context, not
        before ``fed``, and the unprocessed tail); shifts the offsets accordingly."""
        pos, fed = self.pos, self.fed
        keep = max(fed, pos - LOOKBACK_BYTES)
        if keep > fed:
            nl = buf.find(b"\n", keep, pos)
            keep = pos if nl < 0 else nl + 1
        self.pos -= keep
        self.fed = max(fed - keep, 0)
        if self.reaper_end >= 0:
            self.reaper_end -= keep
        return keep

    def feed_chunk(self, raw: Buf) -> None:
        """Scan the complete lines of one more chunk (the partial last line waits for the next)."""
        chunk = self.ends.fix(raw)
        if not chunk:
            return
        buf = self.buf
        keep = self._keep_from(buf)
        buf = buf[keep:] + chunk if keep < len(buf) else bytes(chunk)
        self._skip_giant_rest(buf, len(buf))
        limit = buf.rfind(b"\n") + 1
        if limit <= self.pos:
            if len(buf) - self.pos <= 4 * CHUNK_SIZE:
                self.buf = buf
                return
            buf = buf[:self.pos + MAX_LINE_BYTES] + b"\n"   # a gigantic line: cut it (noted)
            limit = len(buf)
            self.in_giant = True
        self.buf = buf
        self._scan(buf, limit)

    def _skip_giant_rest(self, buf: Buf, end: int) -> None:
        """After a line over the cap was cut, its rest (up to its newline) is not a new line."""
        if not self.in_giant:
            return
        nl = buf.find(b"\n", self.pos, end)
        self.pos = self.fed = end if nl < 0 else nl + 1
        self.in_giant = nl < 0

    def flush(self) -> None:
        """Treat what was fed as complete: scan a partial last line, close the open region and
        finish every report (a live follower calls this on a time-out)."""
        buf = self.buf
        self._skip_giant_rest(buf, len(buf))
        self.in_giant = False
        if self.pos < len(buf):
            if not buf.endswith(b"\n"):   # the last line may be cut short: noted if it is
                self.eof_lineno = self.lineno + buf.count(b"\n", self.pos)
                buf = buf + b"\n"
            self.buf = buf
            self._scan(buf, len(buf))
            self.eof_lineno = -1
        if self.open:
            self._close()
        self.asm.expire(self.lineno)   # no lookback comes after the end
        self.asm.flush()

    def at_rest(self, ahead: Buf = b"") -> bool:
        """After a non-final :meth:`run_reader` that ended at a line boundary: is nothing open here — no region,
        no report that later lines could still extend or finish differently, no reaper window, no held-back
        line — so that parsing the rest of the input with a fresh parser gives the events this one would?
        ``ahead``: the input that follows, if the caller has it: when its first ``REAPER_GRACE_LINES`` lines
        hold no anchor, reports that only wait for reaper lines are released now. Releases the reports that
        are over (collect them with ``asm.take()``)."""
        if self.open or self.region or self.in_giant or self.ends.pending_cr:
            return False
        quiet = no_oom_line_within(ahead, REAPER_GRACE_LINES, self.anchors)
        if self.pos < self.reaper_end and not quiet:
            return False
        return self.asm.at_rest(self.lineno, quiet)

    def run_reader(self, f: ReadInto, chunk_size: int = CHUNK_SIZE, final: bool = True) -> Iterator[OomEvent]:
        """Drive the scan from a binary file: ``readinto`` one reusable buffer (no per-chunk
        copies). ``final=False``: the stream is a part of the input that ends at a line boundary; its
        lines are scanned but nothing is flushed (see :meth:`at_rest`)."""
        buf = bytearray(chunk_size + LOOKBACK_BYTES + (64 << 10))
        n = 0
        while True:
            keep = self._keep_from(buf)
            if keep:
                buf[0:n - keep] = buf[keep:n]
                n -= keep
            if len(buf) - n < chunk_size:
                buf.extend(bytes(chunk_size))
            with memoryview(buf) as mv, mv[n:n + chunk_size] as dst:
                r = f.readinto(dst)
            if not r:
                break
            if self.ends.pending_cr or buf.find(b"\r", n, n + r) >= 0:
                fixed = self.ends.fix(bytes(buf[n:n + r]))
                buf[n:n + r] = fixed
                r = len(fixed)
            n += r
            self._skip_giant_rest(buf, n)
            limit = buf.rfind(b"\n", 0, n) + 1
            if limit <= self.pos:
                if n - self.pos <= max(4 * chunk_size, MAX_LINE_BYTES):
                    continue
                buf[self.pos + MAX_LINE_BYTES] = 10   # a gigantic line: cut it (noted)
                n = limit = self.pos + MAX_LINE_BYTES + 1
                self.in_giant = True
            self._scan(buf, limit)
            yield from self.asm.take()
        self.buf = bytes(buf[:n])
        if final:
            self.flush()
        yield from self.asm.take()

    def _next_hit(self, buf: Buf, nxt: list[int], limit: int) -> int:
        """Offset of the next anchor hit at or after pos (-1: none before limit)."""
        pos = self.pos
        find = buf.find
        h = -1
        for i, a in enumerate(self.anchors):
            p = nxt[i]
            if p != -1 and p < pos:
                p = nxt[i] = find_anchor(buf, a, pos, limit)
            if p >= 0 and (h < 0 or p < h):
                h = p
        if pos < self.reaper_end:
            p = nxt[-1]
            if p != -1 and p < pos:
                p = nxt[-1] = find(REAPER_ANCHOR, pos, min(limit, self.reaper_end))
            if p >= 0 and (h < 0 or p < h):
                h = p
        return h

    def _scan(self, buf: Buf, limit: int) -> None:
        find = buf.find
        nxt = [-2] * (len(self.anchors) + 1)   # cached next hit per anchor (-2: not searched)
        while self.pos < limit:
            pos = self.pos
            if self.open:
                nl = find(b"\n", pos, limit)
                oom = self._feed_line(buf[pos:nl], self.lineno)
                if oom:
                    self.quiet = 0
                elif oom is not None:
                    self.quiet += 1
                self.pos = self.fed = nl + 1
                self.lineno += 1
                if self.quiet >= QUIET_CLOSE:
                    self._close()
                    nxt[-1] = -2
                elif len(self.region) > MAX_REGION_LINES:
                    # a long report (a task table of any length): hand what we have to the
                    # assembler and keep the region open; memory grows with the report only
                    process_region(self.region, self.asm)
                    self.region = []
                continue
            h = pos if self.scan_all else self._next_hit(buf, nxt, limit)
            if h < 0:
                self.lineno += buf.count(b"\n", pos, limit)
                self.pos = limit
                # release reports whose reaper grace is over, and stale drafts, as of the first line that a later
                # region's lookback may still feed (as one chunk would: the chunk's end is no line of a report)
                back = buf.count(b"\n", max(self.fed, limit - LOOKBACK_BYTES), limit)
                self.asm.expire(self.lineno - min(back, LOOKBACK_LINES))
                return
            ls = buf.rfind(b"\n", pos, h) + 1
            if ls == 0:
                ls = pos
            le = find(b"\n", h, limit) + 1
            hit_lineno = self.lineno + buf.count(b"\n", pos, ls)
            raw = buf[ls:le - 1]
            self.pos, self.lineno = le, hit_lineno + 1
            # b"=" ending the line before: a quoted-printable soft break may have split the hit line's record
            back = self._soft_broken_start(buf, ls, raw) if ls - 2 >= self.fed and buf[ls - 2] == 0x3D else -1
            if back >= 0 or is_oom_line(raw):
                self._open_region(buf, ls, le, raw, hit_lineno, back)

    def _soft_broken_start(self, buf: Buf, ls: int, raw: Buf) -> int:
        """Where the record of a hit line that is no OOM line starts, when quoted-printable soft breaks (lines ending
        in "=", a mail body's 76 columns) split it over the lines before the hit and, joined and decoded, they make
        an OOM line ("... kernel: [ 518.05] Out of me=" / "mory: Killed process 15784 ..."); -1 otherwise."""
        start = ls
        parts = [bytes(raw)]
        for _ in range(MAX_SOFT_BREAKS):
            if start - 2 < self.fed or buf[start - 2] != 0x3D:
                break
            p = buf.rfind(b"\n", self.fed, start - 1) + 1 or self.fed
            parts.append(bytes(buf[p:start - 2]))
            start = p
        joined = qp_decode(b"".join(reversed(parts)).decode("utf-8", "replace"))
        return start if start < ls and is_oom_line(joined.encode("utf-8", "surrogateescape")) else -1

    def _open_region(self, buf: Buf, ls: int, le: int, raw: Buf, hit_lineno: int, back: int = -1) -> None:
        """Open a region at the hit line: earlier reaper lines, lookback lines, the hit line (``back``: where the
        hit line's record starts when it was split over the lines before it, see :meth:`_soft_broken_start`)."""
        quiet = LOOKBACK_QUIET_AFTER_HEADER if b"oom-killer: gfp_mask=" in raw else LOOKBACK_QUIET
        start = self._lookback_start(buf, ls if back < 0 else back, self.fed, quiet, raw.lstrip()[:1] in (b'"', b"{"))
        first = hit_lineno - (buf.count(b"\n", start, ls) if start < ls else 0)
        # what is over is over at the region's first line, not at the hit: a report the lookback lines continue (a
        # long table before a kill line, a pretty-printed JSON export's 11 lines a record) is not finished early
        self.asm.expire(first)
        if start > self.fed:
            self._feed_reapers_before(buf, max(self.fed, start - REAPER_WINDOW), start, first)
            self.norm.reset()
        if start < ls:
            for k, r in enumerate(bytes(buf[start:ls - 1]).split(b"\n")):
                self._feed_line(r, first + k)
        self._feed_line(raw, hit_lineno)
        self.open = True
        self.quiet = 0
        self.fed = le

    def _feed_reapers_before(self, buf: Buf, lo: int, hi: int, hi_lineno: int) -> None:
        """``oom_reaper`` lines in [lo, hi): for input printed newest-first, a victim's reaper
        line comes *before* its report. Fed as one-line regions (they become orphans until
        the report that killed the pid is finished)."""
        p = buf.find(REAPER_ANCHOR, lo, hi)
        while p >= 0:
            ls = buf.rfind(b"\n", lo, p) + 1 or lo
            le = buf.find(b"\n", p, hi) + 1 or hi
            if ls > lo or lo == self.fed:
                lineno = hi_lineno - buf.count(b"\n", ls, hi)
                norm = Normalizer()
                items = [Item(lineno, ll, *classify_line(ll.text, ll.trusted, lineno))
                         for ll in norm.normalize(buf[ls:le - 1].decode("utf-8", "replace"))]
                if any(i.kind == Kind.REAPER for i in items):
                    process_region(items, self.asm)
            p = buf.find(REAPER_ANCHOR, le, hi)

    def _lookback_start(self, buf: Buf, ls: int, fed: int, max_quiet: int, structured: bool = False) -> int:
        """Walk back from the hit line while OOM lines keep appearing (at most ``max_quiet``
        unrelated lines in a row; ``structured``: the hit line is a structured log's JSON, whose
        framing lines are not counted); return the first offset."""
        floor = max(fed, ls - LOOKBACK_BYTES)
        start = ls
        p = ls
        quiet = 0
        n = 0
        while p > floor and n < LOOKBACK_LINES:
            q = buf.rfind(b"\n", floor, p - 1)
            if q < 0:
                if floor != fed and floor != 0:
                    break      # the window starts mid-line
                lstart = floor
            else:
                lstart = q + 1
            n += 1
            if is_oom_line(buf[lstart:p - 1]):
                start = lstart
                quiet = 0
            elif structured and is_json_framing(bytes(buf[lstart:p - 1]).decode("utf-8", "replace")):
                pass
            else:
                quiet += 1
                if quiet >= max_quiet:
                    break
            p = lstart
        return start


def _as_chunks(items: Iterable[str | bytes | bytearray | memoryview]) -> Iterator[bytes]:
    """bytes-like items pass through as chunks; str items are lines (a missing final newline is
    added) or multi-line text, batched into ~1 MiB chunks."""
    batch: list[bytes] = []
    size = 0
    for x in items:
        if isinstance(x, str):
            b = x.encode("utf-8", "surrogateescape" if _has_surrogate(x) else "strict")
            if not b.endswith(b"\n"):
                b += b"\n"
            batch.append(b)
            size += len(b)
            if size >= 1 << 20:
                yield b"".join(batch)
                batch, size = [], 0
        else:
            if batch:
                yield b"".join(batch)
                batch, size = [], 0
            yield bytes(x)
    if batch:
        yield b"".join(batch)


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class EventParser:
    """The incremental parser: :meth:`feed` input as it arrives, collect finished events.

    ``feed`` takes ``bytes`` (raw chunks of the input, any size, not line-aligned), ``str`` (a
    line, or multi-line text) or an iterable of either; it returns the events that became
    complete. A report is complete when the next one starts or when the input goes quiet after
    its outcome (see :func:`iter_events`); a live follower (``/dev/kmsg``) that sees no more
    lines calls :meth:`flush` on a time-out, which finishes every open report now. Feeding may
    go on after a flush. Memory: one chunk, the lookback context and the open reports."""

    def __init__(self, source: str = "<input>", *, scan_all: bool = False, first_lineno: int = 1) -> None:
        self._scanner = _Scanner(source, ANCHORS, scan_all, first_lineno)

    def feed(self, data: str | bytes | bytearray | memoryview | Iterable[str | bytes]) -> list[OomEvent]:
        """Parse more input; the events it completed."""
        items = [data] if isinstance(data, (str, bytes, bytearray, memoryview)) else data
        sc = self._scanner
        for chunk in _as_chunks(items):
            sc.feed_chunk(chunk)
        return sc.asm.take()

    def flush(self) -> list[OomEvent]:
        """No more input for now (time-out) or ever (end of input): finish every open report."""
        sc = self._scanner
        sc.flush()
        return sc.asm.take()

    def read_from(self, f: ReadInto, chunk_size: int = CHUNK_SIZE) -> Iterator[OomEvent]:
        """Parse a whole binary stream read in place with ``readinto`` (the fastest way to parse
        a file), then flush."""
        return self._scanner.run_reader(f, chunk_size)

    def read_part(self, f: ReadInto, chunk_size: int = CHUNK_SIZE) -> Iterator[OomEvent]:
        """Parse a stream that is the first part of the input, ending at a line boundary, without flushing;
        then :meth:`at_rest` says whether the rest can be parsed apart (by a parser made with
        ``first_lineno`` = the next line's number) with the same result."""
        return self._scanner.run_reader(f, chunk_size, final=False)

    def at_rest(self, ahead: bytes = b"") -> list[OomEvent] | None:
        """After :meth:`read_part`: the events that are over here (to emit now) when nothing else is open
        (see :meth:`read_part`; ``ahead``, the input that follows, lets reports that only wait for reaper lines
        be released when none can come), else None (parse the whole input in one go instead)."""
        sc = self._scanner
        return sc.asm.take() if sc.at_rest(ahead) else None


def iter_events(lines_or_chunks: Iterable[str | bytes] | ReadInto, source: str = "<input>", *,
                scan_all: bool = False) -> Iterator[OomEvent]:
    """Parse kernel OOM reports out of any text.

    ``lines_or_chunks``: ``bytes`` items are raw chunks of the input (any size, not necessarily
    line-aligned; decoded as UTF-8 with ``errors="replace"``); ``str`` items are lines (or
    multi-line text). A binary file object (anything with ``readinto``) is read in place, which
    is the fastest way to parse a file. ``source`` names the input in the events.

    Events are yielded as soon as they are complete (a report is complete when the next one
    starts, when the input goes quiet after its kill line and its ``oom_reaper`` lines arrived
    or can no longer arrive), in completion order per host. Memory use does not grow with the
    input.

    ``scan_all=True`` disables the anchor prefilter and classifies every line (slow; for tests
    that check the prefilter loses nothing).
    """
    parser = EventParser(source, scan_all=scan_all)
    if isinstance(lines_or_chunks, ReadInto):
        return parser.read_from(lines_or_chunks)
    return _iter_fed(parser, lines_or_chunks)


def _iter_fed(parser: EventParser, items: Iterable[str | bytes]) -> Iterator[OomEvent]:
    for chunk in _as_chunks(items):
        yield from parser.feed(chunk)
    yield from parser.flush()
