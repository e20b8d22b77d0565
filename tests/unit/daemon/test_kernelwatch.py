"""The live kernel-log follower: a report is turned into a verdict as soon as its kill line arrives (no later
line needed), and a /dev/kmsg gap (EPIPE, a jump in sequence numbers) is reported, not fatal.

/dev/kmsg is simulated: a FIFO gives KmsgCursor a real fd to wait on; its ``os.read`` is scripted to return
one kmsg record per call (as /dev/kmsg does) or to raise BrokenPipeError (as /dev/kmsg does when the ring
buffer overwrote unread records)."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from oomlens.daemon.kernelwatch import KernelWatch
from oomlens.sources import kernellog
from oomlens.sources.kernellog import KmsgCursor

LOG = Path(__file__).parents[2] / "data" / "oomreport" / "6.18-memcg-v1-smoke.log"


def kmsg_records(first_seq: int = 100) -> list[bytes]:
    out = []
    for i, line in enumerate(LOG.read_text().splitlines()):
        m = re.match(r"\[\s*(\d+)\.(\d+)\] (.*)", line)
        assert m
        usec = int(m[1]) * 1_000_000 + int(m[2])
        out.append(f"6,{first_seq + i},{usec},-;{m[3]}\n".encode())
    return out


class FakeKmsg:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = tmp_path / "kmsg"
        os.mkfifo(self.path)
        self.script: list[bytes | BaseException] = []
        self.lock = threading.Lock()
        real_read = os.read
        self.cursor = KmsgCursor(str(self.path), start="begin", keep=False)
        self._w = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        fd = self.cursor.fileno()

        def read(f: int, n: int) -> bytes:
            if f != fd:
                return real_read(f, n)
            try:
                real_read(f, 65536)  # drain the wake-up bytes
            except BlockingIOError:
                pass
            with self.lock:
                if not self.script:
                    raise BlockingIOError
                item = self.script.pop(0)
            if isinstance(item, BaseException):
                raise item
            return item

        monkeypatch.setattr(kernellog.os, "read", read)

    def push(self, *items: bytes | BaseException) -> None:
        with self.lock:
            self.script.extend(items)
        os.write(self._w, b"x")

    def close(self) -> None:
        os.close(self._w)


def test_verdict_follows_the_kill_line_without_waiting_for_more(tmp_path, monkeypatch) -> None:
    fake = FakeKmsg(tmp_path, monkeypatch)
    got: list[tuple[float, object, object]] = []
    done = threading.Event()

    def on_event(a, ev) -> None:
        got.append((time.monotonic(), a, ev))
        done.set()

    w = KernelWatch(fake.cursor, on_event, close_after=30.0)  # a time-out flush would come far too late
    w.start()
    try:
        recs = kmsg_records()
        fake.push(*recs[:-1])
        time.sleep(0.3)
        assert not got, "a report was closed before its kill line"
        t_kill = time.monotonic()
        fake.push(recs[-1])        # the kill line, and then silence
        assert done.wait(1.0), "no verdict within a second of the kill line"
    finally:
        w.stop()
        fake.close()
    t, a, ev = got[0]
    assert t - t_kill < 1.0
    assert ev.victim_pid == 2091 and ev.victim_name == "python3"   # the kill line of the log
    assert a.verdict == "agrees"


def test_epipe_gap_is_reported_and_the_next_report_still_analysed(tmp_path, monkeypatch) -> None:
    fake = FakeKmsg(tmp_path, monkeypatch)
    gaps: list[int] = []
    events = []
    w = KernelWatch(fake.cursor, lambda a, ev: events.append((a, ev)), gaps.append)
    recs = kmsg_records(first_seq=100)
    after = kmsg_records(first_seq=100 + len(recs) + 7)   # 7 records lost in the gap
    fake.push(*recs[:10], BrokenPipeError(), *after)
    w.step()
    fake.close()
    assert fake.cursor.overrun == 1
    assert fake.cursor.lost == 7 + (len(recs) - 10)
    assert gaps and gaps[0] >= 7
    # the report cut by the gap is an event of its own, without a victim; the next one is whole
    assert len(events) == 2
    assert events[0][1].victim_pid is None and events[0][0].verdict != "agrees"
    assert events[1][1].victim_pid == 2091 and events[1][0].verdict == "agrees"
    w.stop()


def test_a_report_without_kill_line_is_flushed_after_the_silence(tmp_path, monkeypatch) -> None:
    fake = FakeKmsg(tmp_path, monkeypatch)
    done = threading.Event()
    events = []

    def on_event(a, ev) -> None:
        events.append(ev)
        done.set()

    w = KernelWatch(fake.cursor, on_event, close_after=0.2)
    w.start()
    try:
        recs = kmsg_records()
        # drop the kill line: the report ends with the "oom-kill:" summary only
        fake.push(*recs[:-1])
        assert done.wait(2.0)
    finally:
        w.stop()
        fake.close()
    assert len(events) == 1 and events[0].summary is not None
