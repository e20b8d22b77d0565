"""Where kernel logs come from: files (plain or compressed), stdin, and this host's kernel log.

The only module of :mod:`oomlens.oomreport` that does I/O. Files are read as raw byte chunks (the
parser decodes with ``errors="replace"``); compression is detected from the magic bytes, never
from the file name. Every failure to read becomes :class:`oomlens.errors.InputError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import stat
import sys
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from oomlens.errors import InputError
from oomlens.oomreport.events import REAPER_GRACE_LINES
from oomlens.oomreport.model import OomEvent
from oomlens.oomreport.scan import (
    ANCHORS,
    LOOKBACK_QUIET,
    QUIET_CLOSE,
    REAPER_ANCHOR,
    REAPER_WINDOW,
    EventParser,
    is_oom_line,
    iter_events,
    no_oom_line_within,
)
from oomlens.sources.forkhelper import can_fork_a_helper, fork_helper

__all__ = ["DEFAULT_CHUNK_SIZE", "KmsgCursor", "KmsgRecord", "iter_chunks", "iter_file_events", "iter_kernel_log_lines",
           "open_binary", "parse_kmsg_record"]

DEFAULT_CHUNK_SIZE = 8 << 20

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz (modules imported lazily)


def _open(path: str) -> tuple[Any, Any, bool]:
    """(stream to read, underlying file to close or None, whether the stream decompresses). The stream
    is a buffered binary reader, decompressing when the first bytes are a gzip / bzip2 / xz magic number."""
    if path == "-":
        raw = sys.stdin.buffer
        peekable: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
        owned = None
    else:
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise InputError(path, "no such file", hint="check the path; use '-' for stdin") from None
        except IsADirectoryError:
            raise InputError(path, "is a directory", hint="give a log file, not a directory") from None
        except PermissionError:
            raise InputError(path, "permission denied",
                             hint="run as root or with read access (e.g. the adm group)") from None
        except OSError as e:
            raise InputError(path, f"cannot open: {e.strerror or e}") from None
        peekable = owned = f
    try:
        head: bytes = peekable.peek(6)[:6]
    except OSError as e:
        if owned is not None:
            owned.close()
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    if head.startswith(_MAGIC[0]):
        import gzip
        return gzip.GzipFile(fileobj=peekable, mode="rb"), owned, True
    if head.startswith(_MAGIC[1]):
        import bz2
        return bz2.BZ2File(peekable), owned, True
    if head.startswith(_MAGIC[2]):
        import lzma
        return lzma.LZMAFile(peekable), owned, True
    return peekable, owned, False


class _Guarded(io.RawIOBase):
    """A readable binary stream whose read errors (I/O, corrupt or truncated compression)
    become :class:`InputError` — after everything read before the error.

    A read that fails reads as the end of the input and the error is kept (:attr:`error`):
    :func:`open_binary` raises it when the reading is done, so a parser has flushed what it read
    first (a truncated ``.gz`` of a log being rotated still gives its events). A compressed stream is
    read in the pieces its decompressor returns, so no more than the piece being decompressed is
    lost to the error (``zcat`` recovers the same bytes)."""

    def __init__(self, stream: Any, path: str, compressed: bool = False) -> None:
        super().__init__()
        self._s = stream
        self._path = path
        self._compressed = compressed
        self.error: InputError | None = None

    def readable(self) -> bool:
        return True

    def _fail(self, e: BaseException) -> InputError:
        return InputError(self._path, f"cannot read: {e}",
                          hint="is the file truncated, or not really compressed?")

    def readinto(self, b: Any, /) -> int | None:
        if self.error is not None:
            return 0
        if not self._compressed:
            try:
                n: int | None = self._s.readinto(b)
                return n
            except Exception as e:  # noqa: BLE001 - OSError, ...
                self.error = self._fail(e)
                return 0
        with memoryview(b) as mv, mv.cast("B") as out:
            got = 0
            try:
                while got < len(out):
                    piece = self._s.read1(len(out) - got)  # one decompressed piece, at most that
                    if not piece:
                        break
                    out[got:got + len(piece)] = piece
                    got += len(piece)
            except Exception as e:  # noqa: BLE001 - EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, ...
                self.error = self._fail(e)
        return got

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        buf = bytearray(size)
        n = self.readinto(buf) or 0
        return bytes(buf[:n])


@contextlib.contextmanager
def open_binary(path: str) -> Iterator[_Guarded]:
    """Open ``path`` (``-`` = stdin) for binary reading, gzip / bzip2 / xz decompressed
    transparently (detected by magic bytes). Raises :class:`InputError`: on opening, or once the
    caller is done when a read failed (the stream read as ended at the error; see :class:`_Guarded`)."""
    stream, owned, compressed = _open(path)
    try:
        guarded = _Guarded(stream, path, compressed)
        yield guarded
        if guarded.error is not None:
            raise guarded.error
    finally:
        if stream is not owned and stream is not getattr(sys.stdin, "buffer", None):
            stream.close()
        if owned is not None:
            owned.close()


def iter_chunks(path: str, chunk_size: int | None = None) -> Iterator[bytes]:
    """Yield the bytes of ``path`` (``-`` = stdin) in chunks of about ``chunk_size``, compressed
    files decompressed. Raises :class:`InputError` if it cannot be read."""
    size = chunk_size or DEFAULT_CHUNK_SIZE
    with open_binary(path) as f:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk


def iter_kernel_log_lines(since: str | None = None) -> Iterator[str]:
    """This host's kernel log, one line at a time.

    ``journalctl -k -o short-precise --no-pager [--since SINCE]`` when journalctl exists and
    works; otherwise ``dmesg``; otherwise a non-blocking read of ``/dev/kmsg``. Raises
    :class:`InputError` when none of them can be read."""
    import shutil

    errors: list[str] = []
    if shutil.which("journalctl"):
        cmd = ["journalctl", "-k", "-o", "short-precise", "--no-pager"]
        if since:
            cmd += ["--since", since]
        status, err = yield from _run_lines(cmd)
        if status == "ok":
            return
        # an empty journal may just not keep kernel messages (Storage=none, containers): ask dmesg too
        errors.append(f"journalctl: {err or 'no kernel messages in the journal'}")
    if shutil.which("dmesg"):
        status, err = yield from _run_lines(["dmesg"] + (["--since", since] if since else []))
        if status in ("ok", "empty"):
            return
        errors.append(f"dmesg: {err}")
    if since:  # /dev/kmsg has no wall-clock filter: refuse rather than ignore --since silently
        raise InputError("kernel log", "; ".join(errors + ["/dev/kmsg cannot be filtered by --since"]),
                         hint="drop --since, or pass a saved log file")
    try:
        yield from _read_kmsg()
        return
    except OSError as e:
        errors.append(f"/dev/kmsg: {e.strerror or e}")
    raise InputError("kernel log", "; ".join(errors),
                     hint="run as root or a member of systemd-journal/adm, or pass a log file")


def _run_lines(cmd: list[str]) -> Generator[str, None, tuple[str, str]]:
    """Stream a command's stdout lines. Returns ("ok", "") when it exited 0 after producing output,
    ("empty", "") when it exited 0 with nothing to show (no lines in the range asked for), and
    ("failed", reason) when it failed (or found no journal) before any line: then nothing was yielded."""
    import subprocess

    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    except OSError as e:
        return "failed", str(e)
    produced = no_journal = False
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if not produced and "No journal files were found" in line:
                no_journal = True
                continue
            if not produced and line.startswith("-- No entries --"):
                continue
            produced = True
            yield line
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        rc = proc.wait()
    if produced:
        return "ok", ""
    if rc == 0 and not no_journal and "No journal files were found" not in err:
        return "empty", ""
    return "failed", err.splitlines()[-1] if err else ("no journal files" if no_journal else f"exit status {rc}")


def _read_kmsg() -> Iterator[str]:
    """Records already in the kernel ring buffer, read from /dev/kmsg without blocking, in the raw
    ``prio,seq,usec,flags;message`` form the normalizer understands."""
    with KmsgCursor(start="begin") as cur:
        while True:
            raws = cur.read_raw()
            if not raws:
                return
            for raw in raws:
                for line in raw.decode("utf-8", "replace").splitlines():
                    yield line + "\n"


# --- /dev/kmsg: one reader, with a cursor and a live follow mode ---------------------------------


@dataclass(frozen=True)
class KmsgRecord:
    """One /dev/kmsg record: its sequence number, its timestamp (µs since boot) and its text."""

    seq: int
    usec: int
    message: str

    def line(self) -> str:
        """The record as ``dmesg`` prints it: ``[   54.552251] message``."""
        return f"[{self.usec // 1_000_000:5d}.{self.usec % 1_000_000:06d}] {self.message}"


_KMSG_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def parse_kmsg_record(raw: bytes) -> KmsgRecord | None:
    """One ``read()`` of /dev/kmsg (``prio,seq,usec,flags;text\\n[ KEY=value\\n...]``) as a record;
    None when it is not one. ``\\xNN`` escapes in the text are decoded."""
    text = raw.decode("utf-8", "replace")
    head, sep, rest = text.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    try:
        seq, usec = int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return None
    msg = rest.split("\n", 1)[0]
    msg = _KMSG_ESCAPE.sub(lambda m: chr(int(m[1], 16)), msg)
    return KmsgRecord(seq, usec, msg)


class KmsgCursor:
    """Reads the kernel log from ``/dev/kmsg`` (``start="end"``: only records that arrive after it was
    opened; ``"begin"``: everything still in the ring buffer first).

    Each record carries a sequence number, so nothing already in the ring buffer is ever mistaken
    for a new report. :meth:`poll` appends new records to :attr:`records` (unless ``keep=False``);
    :meth:`follow` waits for them. ``overrun`` counts the times the ring buffer wrapped past the cursor
    (EPIPE: records were lost); ``lost`` estimates how many, from the sequence numbers.
    :meth:`mark` writes a unique marker record (root only).
    """

    def __init__(self, path: str = "/dev/kmsg", *, start: str = "end", tag: str = "oomlens",
                 keep: bool = True) -> None:
        self.path = path
        self.tag = tag
        self.keep = keep
        self.records: list[KmsgRecord] = []
        self.overrun = 0
        self.lost = 0
        self._last_seq: int | None = None
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise InputError(path, f"cannot read the kernel log: {e.strerror}",
                             hint="run as root (the kernel's OOM reports are read from /dev/kmsg), "
                                  "or set kernel.dmesg_restrict=0") from None
        if start == "end":
            os.lseek(self._fd, 0, os.SEEK_END)

    def mark(self, text: str) -> str:
        """Write ``<tag>: <text> <token>`` to the kernel log; returns the unique token."""
        token = f"mark-{uuid.uuid4().hex[:16]}"
        # A fresh open each time: /dev/kmsg ratelimits writers per open file.
        fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, f"<5>{self.tag}: {text} {token}\n".encode())
        finally:
            os.close(fd)
        return token

    def read_raw(self) -> list[bytes]:
        """Every raw record that arrived since the last call, without blocking."""
        out = []
        while True:
            try:
                raw = os.read(self._fd, 16384)
            except BlockingIOError:
                break
            except BrokenPipeError:      # records were overwritten before we read them
                self.overrun += 1
                continue
            if not raw:
                break
            out.append(raw)
        return out

    def poll(self) -> list[KmsgRecord]:
        """Read every record that arrived since the last call (never blocks)."""
        new = []
        for raw in self.read_raw():
            rec = parse_kmsg_record(raw)
            if rec is None:
                continue
            if self._last_seq is not None and rec.seq > self._last_seq + 1:
                self.lost += rec.seq - self._last_seq - 1
            self._last_seq = rec.seq
            new.append(rec)
        if self.keep:
            self.records.extend(new)
        return new

    def wait(self, timeout: float | None) -> bool:
        """Block until a record can be read or ``timeout`` seconds pass; True when one can."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        return bool(ready)

    def follow(self, timeout: float | None = None) -> Iterator[list[KmsgRecord]]:
        """Live follow mode: yields each batch of new records as it arrives, and an empty batch every
        ``timeout`` seconds of silence (so a consumer can flush a report on a time-out)."""
        while self._fd >= 0:
            batch = self.poll()
            if batch:
                yield batch
                continue
            if not self.wait(timeout):
                yield []

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> KmsgCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def iter_file_events(path: str) -> Iterator[OomEvent]:
    """Events of a plain or compressed log file (``-`` = stdin), read in place in large chunks.
    Raises :class:`oomlens.errors.InputError` when it cannot be read.

    A plain file of :data:`SPLIT_MIN_BYTES` or more is read by two processes at once when it can be split
    (:func:`split_point`): a forked helper parses the second part while this process parses the first and
    yields its events. Where the first part ends, the parser must be at rest (``EventParser.at_rest``: no
    report, reaper window or held line open); then the helper's events follow: the events of one parser over
    the whole file, each host's in the same order (the parser's contract is completion order per host; two
    hosts' reports completed close together may come in the other order). Otherwise (or when the helper
    fails) this process's parser reads on past the split point."""
    split = split_point(path)
    if split is None:
        with open_binary(path) as f:
            yield from iter_events(f, path)
        return
    yield from _iter_split(path, split)


SPLIT_MIN_BYTES = 64 << 20
"""Smallest plain file that :func:`iter_file_events` splits between two processes."""
_AHEAD_BYTES = 4 << 20
"""What the first part's parser may look at past the split point (``EventParser.at_rest``)."""
_SPLIT_LINES = LOOKBACK_QUIET + QUIET_CLOSE
"""Lines next to a split point (on each side) that must not be OOM lines."""


def split_point(path: str) -> int | None:
    """Where :func:`iter_file_events` may split ``path``, or None: not a plain regular file of
    :data:`SPLIT_MIN_BYTES`, compressed, no second CPU or other threads here, or no such place near the middle.

    A split point starts a line; the :data:`_SPLIT_LINES` lines on each side of it are not OOM lines (so a
    backwards walk from a later report stops after it, and a report before it has gone quiet), and no
    ``oom_reaper`` line lies within a reaper window of it (a reaper line is searched that far from its
    report). Whether the first part really ends at rest is checked when it has been parsed."""
    if path == "-":
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size < SPLIT_MIN_BYTES or not can_fork_a_helper():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.pread(fd, 6, 0).startswith(_MAGIC):
            return None
        size, w = st.st_size, REAPER_WINDOW
        fallback = None
        for k in range(33):  # the middle, then 1 MiB steps either side
            c = size // 2 + (k + 1) // 2 * (1 << 20) * (1 if k % 2 else -1)
            if c - w < 0 or c + w > size:
                continue
            win = os.pread(fd, 2 * w, c - w)
            if len(win) == 2 * w and REAPER_ANCHOR not in win:
                at = _quiet_line_start(win, w)
                if at is None:
                    continue
                split = c - w + at
                # best: no OOM line for a reaper grace before it, so every report before it is over there
                before = os.pread(fd, min(split, _AHEAD_BYTES), max(0, split - _AHEAD_BYTES))
                if no_oom_line_within(before, REAPER_GRACE_LINES, ANCHORS, last=True):
                    return split
                fallback = fallback if fallback is not None else split
        return fallback
    except OSError:
        return None
    finally:
        os.close(fd)


def _quiet_line_start(win: bytes, start: int) -> int | None:
    """The first line start at or after ``start`` in ``win`` (within 64 KiB) with :data:`_SPLIT_LINES` lines
    on each side that are not OOM lines, and no CR next to it; None if there is none."""
    limit = min(len(win), start + (64 << 10))
    p = win.find(b"\n", start) + 1
    while 0 < p < limit:
        lines_before = win[:p - 1].rsplit(b"\n", _SPLIT_LINES)[1:]
        lines_after = win[p:].split(b"\n", _SPLIT_LINES)[:_SPLIT_LINES]
        if (len(lines_before) == _SPLIT_LINES and len(lines_after) == _SPLIT_LINES
                and b"\r" not in win[p - 2:p + 1] and not any(is_oom_line(ln) for ln in lines_before + lines_after)):
            return p
        # an OOM line nearby: try again past the lines checked
        p = win.find(b"\n", p + sum(len(x) + 1 for x in lines_after)) + 1
    return None


class _Range(io.RawIOBase):
    """Bytes ``start`` to ``end`` (None: to the end of the file) of an open file, read with ``pread``."""

    def __init__(self, fd: int, path: str, start: int, end: int | None) -> None:
        super().__init__()
        self._fd, self._path, self._pos, self._end = fd, path, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any, /) -> int:
        with memoryview(b) as mv:
            n = len(mv) if self._end is None else min(len(mv), self._end - self._pos)
            if n <= 0:
                return 0
            try:
                got = os.preadv(self._fd, [mv[:n]], self._pos)
            except OSError as e:
                raise InputError(self._path, f"cannot read: {e.strerror or e}") from None
        self._pos += got
        return got


def _line_ends(fd: int, path: str, end: int) -> int:
    """Line ends in the first ``end`` bytes, as the parser counts them (LF, CRLF once, a lone CR)."""
    n = 0
    off = 0
    prev_cr = False
    while off < end:
        chunk = os.pread(fd, min(8 << 20, end - off), off)
        if not chunk:
            raise InputError(path, "the file shrank while it was read")
        n += chunk.count(b"\n")
        if b"\r" in chunk:
            n += chunk.count(b"\r") - chunk.count(b"\r\n")
        if prev_cr and chunk[:1] == b"\n":  # a CRLF across the chunks: its CR was counted as a line end
            n -= 1
        prev_cr = chunk[-1:] == b"\r"
        off += len(chunk)
    return n


def _iter_split(path: str, split: int) -> Iterator[OomEvent]:
    try:  # opened once: the helper inherits the descriptor (pread: no shared offset), a rename cannot split us
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise InputError(path, f"cannot open: {e.strerror or e}") from None

    def tail() -> list[OomEvent]:  # in the helper
        parser = EventParser(path, first_lineno=_line_ends(fd, path, split) + 1)
        return list(parser.read_from(_Range(fd, path, split, None)))

    try:
        helper = fork_helper(tail)
        head = EventParser(path)
        try:
            yield from head.read_part(_Range(fd, path, 0, split))
            over = head.at_rest(os.pread(fd, _AHEAD_BYTES, split)) if helper is not None else None
            if over is not None:
                yield from over
                assert helper is not None
                rest = helper.collect()
                if rest is not None:
                    yield from rest
                    return
        finally:
            if helper is not None:
                helper.abandon()  # nothing once collected
        # the helper failed or the first part did not end at rest: this parser reads on (never a second parse)
        off = split
        while chunk := os.pread(fd, DEFAULT_CHUNK_SIZE, off):
            off += len(chunk)
            yield from head.feed(chunk)
        yield from head.flush()
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
