"""Constant memory: ~300 MiB of log, produced lazily by a generator (never stored), parsed in a
child process whose peak RSS must stay far below the input size. Measures memory, not time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from oomreport_expect import DATA

CHILD = textwrap.dedent(r"""
    import json, sys
    from oomlens.oomreport import iter_events

    report = open(sys.argv[1], "rb").read()
    mib = int(sys.argv[2])
    # 1 MiB of varied kernel noise, reused: the generator yields it again and again (lazily)
    lines = [b"[%12.6f] usb 1-%d: new high-speed USB device number %d using xhci_hcd\n" % (i / 7, i % 9, i)
             if i % 3 else b"[%12.6f] IPv4: martian source 10.0.0.%d from 10.0.0.7, on dev eth0\n"
             % (i / 7, i % 250) for i in range(12000)]
    noise = b"".join(lines)[: 1 << 20]
    noise = noise[: noise.rfind(b"\n") + 1]

    def gen():
        for i in range(mib):
            yield noise
            if i % 32 == 16:
                yield report

    n = rows = 0
    for ev in iter_events(gen(), "generated"):
        n += 1
        rows += len(ev.table.rows) if ev.table else 0
    # VmHWM is this process's own peak. ru_maxrss is not: Linux folds the pre-exec mm's peak into it,
    # and subprocess vforks, so it would report pytest's own size (seen: 280 MiB on a first CI run).
    with open("/proc/self/status") as f:
        peak_kib = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    print(json.dumps({"events": n, "rows": rows, "peak_kib": peak_kib}))
""")


@pytest.mark.streaming
def test_parsing_300_mib_lazily_keeps_memory_bounded() -> None:
    report = os.path.join(DATA, "corpus", "020-oomanalyser-arch-6.1-doxygen.log")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", CHILD, report, "300"], capture_output=True,
                         text=True, env=env, timeout=300, check=True)
    res = json.loads(out.stdout)
    assert res["events"] == 9             # a report after MiB 16, 48, ..., 272
    assert res["rows"] == 9 * 112
    assert res["peak_kib"] < 150 * 1024, res   # the input is 300 MiB; we need a small fraction


def test_a_complete_report_fed_line_by_line_is_emitted_by_flush() -> None:
    """Issue 6: a live follower closes a report on a time-out; no further line is needed."""
    from oomlens.oomreport import EventParser

    path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "oomreport", "synthetic",
                        "s01-4.19-global-tasks-state.log")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    report = [x for x in lines if "usb 1-1" not in x and "wlp4s0: auth" not in x]
    p = EventParser("kmsg")
    early = [ev for line in report for ev in p.feed(line)]
    assert early == []          # the report could still go on: nothing is final yet
    [ev] = p.flush()
    assert ev.victim_pid == 1833435 and [r.pid for r in ev.reaped] == [1833435]
    assert ev.table is not None and len(ev.table.rows) == 8
    assert p.flush() == []      # nothing left; feeding may go on
    assert [e.victim_pid for e in p.feed(report) + p.flush()] == [1833435]
