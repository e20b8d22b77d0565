"""Follow the kernel log live and turn each OOM kill into a post-mortem verdict within a second.

A thread waits on ``/dev/kmsg`` (:class:`~oomlens.sources.kernellog.KmsgCursor`, from its end) or, when
that cannot be read, on ``journalctl -k -f``. Lines are kept in a bounded window; a report is closed as soon
as its kill line arrives (the kernel prints ``Killed process`` last, so nothing later is awaited), or after
``CLOSE_AFTER`` seconds of silence when it has an OOM line but no kill (already exiting, no killable task).
The closed window goes through the post-mortem code and ``on_event`` gets each analysis.

Record loss (EPIPE on /dev/kmsg: the ring buffer overwrote records before they were read; or a jump in the
sequence numbers) is reported through ``on_gap``; the window is kept, so a report cut by the gap is still
parsed with what arrived (the post-mortem says what is missing).
"""

from __future__ import annotations

import collections
import os
import select
import threading
from collections.abc import Callable
from typing import Any, Protocol

from oomlens.analysis.postmortem import Analyzer, EventAnalysis
from oomlens.oomreport.model import OomEvent
from oomlens.oomreport.scan import iter_events

__all__ = ["CLOSE_AFTER", "KernelWatch", "close_reports"]

CLOSE_AFTER = 0.3
WINDOW_LINES = 5000
_KILL_MARKS = ("Killed process", "is already exiting. Skip killing", "Out of memory and no killable processes")
_OOM_MARKS = ("invoked oom-killer", "oom-kill:") + _KILL_MARKS


def close_reports(lines: list[str], source: str = "kernel") -> list[OomEvent]:
    """The OOM events in ``lines`` (a window that ends with a complete report).

    The one piece of glue to the parser: the chunk scanner closes every open report at the end of its input.
    When the incremental ``feed()``/``flush()`` API lands, this becomes feed(lines) + flush()."""
    return list(iter_events([("".join(lines)).encode("utf-8", "surrogateescape")], source))


class _Source(Protocol):
    overrun: int
    lost: int

    def fileno(self) -> int: ...
    def close(self) -> None: ...


class KernelWatch:
    """``source``: a KmsgCursor (records) or anything with ``poll_lines()`` (journal)."""

    def __init__(self, source: Any, on_event: Callable[[EventAnalysis, OomEvent], None],
                 on_gap: Callable[[int], None] | None = None, *, close_after: float = CLOSE_AFTER) -> None:
        self.source = source
        self.on_event = on_event
        self.on_gap = on_gap
        self.close_after = close_after
        self.analyzer = Analyzer()
        self.window: collections.deque[str] = collections.deque(maxlen=WINDOW_LINES)
        self.pending = False       # an OOM line is in the window, not yet reported
        self._seen_overrun = 0
        self._seen_lost = 0
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread: threading.Thread | None = None
        self.events = 0
        self.errors: list[str] = []

    # -- feeding (also used directly by tests) -----------------------------------------------------
    def _lines(self) -> list[str]:
        src = self.source
        if hasattr(src, "poll_lines"):
            lines: list[str] = src.poll_lines()
            return lines
        return [r.line() + "\n" for r in src.poll()]

    def step(self) -> None:
        """Read what arrived, close reports whose kill line came, report gaps."""
        lines = self._lines()
        src = self.source
        gap = (src.overrun - self._seen_overrun) + (src.lost - self._seen_lost)
        if gap and self.on_gap is not None:
            self.on_gap(max(gap, src.lost - self._seen_lost))
        self._seen_overrun, self._seen_lost = src.overrun, src.lost
        for line in lines:
            self.window.append(line)
            if any(m in line for m in _OOM_MARKS):
                self.pending = True
                if any(m in line for m in _KILL_MARKS):
                    self.flush()

    def flush(self) -> None:
        """Close the window: analyse every report in it, then forget it."""
        lines = list(self.window)
        self.window.clear()
        self.pending = False
        for ev in close_reports(lines):
            try:
                analysis = self.analyzer.analyze(ev)
            except Exception as e:  # noqa: BLE001 - a parser/model bug must not stop the follower
                self.errors.append(f"{type(e).__name__}: {e}")
                continue
            self.events += 1
            self.on_event(analysis, ev)

    # -- thread ------------------------------------------------------------------------------------
    def run(self) -> None:
        fd = self.source.fileno()
        while True:
            timeout = self.close_after if self.pending else None
            ready, _, _ = select.select([fd, self._stop_r], [], [], timeout)
            if self._stop_r in ready:
                return
            if ready:
                self.step()
            elif self.pending:
                self.flush()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="oomlens-kernelwatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(2.0)
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.source.close()
