"""Hostile input (issue 7): every line parses in time linear in its length, numbers no kernel
prints never raise, CR-only and mixed line ends are line ends.

Timing is asserted only as a ratio between two input sizes (8x apart): linear work grows ~8x,
quadratic ~64x. A noise floor keeps microsecond timings from deciding anything."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable

import pytest
from oomreport_expect import DATA

from oomlens.oomreport import iter_events, parse_text
from oomlens.oomreport.parse import Kind, classify

FLOOR = 2e-3          # below this, a timing is noise
GROWTH = 8            # the big input is 8x the small one
LIMIT = 24            # linear: ~8x; quadratic: ~64x


def best_time(f: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``f`` (seconds): the run least disturbed by the machine."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def assert_linear(make: Callable[[int], str], n: int = 2000) -> None:
    small, big = make(n), make(n * GROWTH)
    t_small = best_time(lambda: classify(small))
    t_big = best_time(lambda: classify(big))
    assert t_big <= LIMIT * max(t_small, FLOOR), (t_small, t_big)
    # the same line inside a report (the state machine, the normaliser, the region logic)
    head = "[  1.000000] x invoked oom-killer: gfp_mask=0x0, order=0, oom_score_adj=0\n"
    rs = (head + "[  1.000001] " + small + "\n").encode("utf-8", "surrogateescape")
    rb = (head + "[  1.000001] " + big + "\n").encode("utf-8", "surrogateescape")
    t_small = best_time(lambda: list(iter_events([rs], "h")))
    t_big = best_time(lambda: list(iter_events([rb], "h")))
    assert t_big <= LIMIT * max(t_small, FLOOR), (t_small, t_big)


# Minimal reproducers of the fuzz campaign's findings (issue 7, item 3)
HOSTILE_LINES: dict[str, Callable[[int], str]] = {
    "invoked: long comm, no 'invoked'": lambda n: "a" * n + " oom-killer: gfp_mask=0x0 zzz",
    "invoked: NULs before it": lambda n: "\0" * n + "invoked oom-killer: gfp_mask=0x0",
    "invoked: NULs, no gfp_mask": lambda n: "\0" * n + "invoked oom-killer:",
    "CPU line: Tainted + blanks": lambda n: "CPU: 0 PID: 1 Comm: x Tainted: G" + " " * n + "x",
    "CPU line: many Tainted:": lambda n: "CPU: 0 PID: 1 Comm: " + "x Tainted: G " * (n // 13) + "!",
    "Pid line: Tainted + blanks": lambda n: "Pid: 1, comm: x Tainted: G" + " " * n + "x",
    "table header + blanks": lambda n: "[ pid ]   uid" + " " * n + "x",
    "table header: many columns": lambda n: "[ pid ] " + "uid " * (n // 4) + "X",
    "Task in + blanks": lambda n: "Task in /a killed as a result of limit of /b" + " " * n + "x",
    "panic + blanks": lambda n: "Kernel panic - not syncing: Out of memory" + " " * n + "x",
    "cpuset repeated": lambda n: "x" + " cpuset=" * (n // 8) + " mems_allowed=0 x",
    "summary: repeated ,cpuset=": lambda n: "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null)"
                                            + ",cpuset=" * (n // 8) + "x",
    "summary: repeated ,task=": lambda n: "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
                                          "mems_allowed=0,global_oom,task_memcg=/" + ",task=" * (n // 6) + "x",
    "pinned: repeated names": lambda n: "oom killer 1 (a) has mm pinned by 2 (" + ") " * (n // 2),
    "killed: repeated suffix": lambda n: "Killed process 1 (" + ") total-vm:1kB, anon-rss:1kB, file-rss:1kB"
                                         * (n // 40) + "x",
    "selection: repeated score": lambda n: "Out of memory: Kill process 1 (" + ") score 1 " * (n // 10) + "x",
    "lowmem_reserve + blanks": lambda n: "lowmem_reserve[]: 0" + " " * n + "x",
    "memcg stats: letters": lambda n: "Memory cgroup stats for /: " + "a" * n,
    "quoted many times": lambda n: "> " * (n // 2) + "Killed process 1 (x)",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_LINES))
def test_hostile_line_parses_in_linear_time(name: str) -> None:
    assert_linear(HOSTILE_LINES[name])


def _reports() -> bytes:
    d = os.path.join(DATA, "synthetic")
    names = ["s01-4.19-global-tasks-state.log", "s02-5.10-memcg-v2-journal.log",
             "s04-allocating-task.log", "s08-2.6.25-oomkilladj.log"]
    out = b""
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            out += f.read()
    return out


@pytest.mark.parametrize("ends", [b"\r", b"\r\n"])
def test_cr_and_crlf_line_ends_are_line_ends(ends: bytes) -> None:
    text = _reports()
    ref = [e.to_dict() for e in iter_events([text], "x")]
    assert len(ref) == 4
    other = text.replace(b"\n", ends)
    for got in (iter_events([other], "x"), iter_events(io.BytesIO(other), "x"),
                iter_events([other[i:i + 5] for i in range(0, len(other), 5)], "x")):
        assert [e.to_dict() for e in got] == ref


def test_mixed_line_ends() -> None:
    text = _reports()
    lines = text.split(b"\n")
    mixed = b"".join(line + (b"\r", b"\n", b"\r\n")[i % 3] for i, line in enumerate(lines[:-1]))
    ref = [(e.victim_pid, e.start_line, e.end_line) for e in iter_events([text], "x")]
    assert [(e.victim_pid, e.start_line, e.end_line) for e in iter_events([mixed], "x")] == ref


# Numbers no kernel prints (issue 7, item 4): a note on the event, never an exception
BIG = "9" * 4301


@pytest.mark.parametrize("line", [
    f"Out of memory: Killed process {BIG} (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB",
    f"Out of memory: Kill process {BIG} (java) score 900 or sacrifice child",
    f"Out of memory: Killed process 12 (x) total-vm:{BIG}kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB",
    f"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
    f"task_memcg=/,task=x,pid={BIG},uid=0",
    f"x invoked oom-killer: gfp_mask=0x{'f' * 400}, order=0, oom_score_adj=0",
])
def test_number_no_kernel_prints_becomes_a_note(line: str) -> None:
    [ev] = parse_text(line + "\n")
    assert any("is not a number a kernel prints" in n for n in ev.notes)
    assert ev.victim_pid is None
    ev.to_dict()


def test_table_row_with_a_huge_number_makes_the_table_incomplete() -> None:
    with open(os.path.join(DATA, "synthetic", "s01-4.19-global-tasks-state.log")) as f:
        text = f.read()
    lines = text.splitlines()
    i = next(i for i, x in enumerate(lines) if x.rstrip().endswith("dbus-daemon"))
    head, _, tail = lines[i].rpartition("]")
    lines[i] = head + "] " + " ".join(BIG if k == 2 else w for k, w in enumerate(tail.split()))
    [ev] = parse_text("\n".join(lines) + "\n")
    assert ev.table is not None and ev.table.truncated
    assert any("task-table row not used" in n for n in ev.notes)


@pytest.mark.parametrize("stamp", [f"[{BIG}.5] ", f"[1.{BIG}] ", f"6,{BIG},{BIG},-;"])
def test_huge_timestamps_do_not_raise(stamp: str) -> None:
    evs = parse_text(stamp + "Out of memory: Killed process 7 (x) total-vm:1kB, anon-rss:1kB, "
                     "file-rss:0kB, shmem-rss:0kB\n")
    assert [e.victim_pid for e in evs] == [7]
    assert all(e.uptime is None or e.uptime < 1e16 for e in evs)


@pytest.mark.parametrize("release", ["1.2.3", "100.0", "4294967296.13.0"])
def test_release_no_linux_has_is_unknown_and_noted(release: str) -> None:
    [ev] = parse_text(f"CPU: 0 PID: 5 Comm: a Not tainted {release} #1\n"
                      "Out of memory: Killed process 7 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n")
    assert ev.kernel_release is None and ev.cpu is not None and ev.cpu.release is None
    assert any(release in n and "no Linux kernel" in n for n in ev.notes)


def test_unusable_kill_line_kind() -> None:
    assert classify(f"Killed process {BIG} (x)")[0] == Kind.UNUSABLE


def test_the_grepped_seed_line_alone_is_an_event() -> None:
    """Issue 8: the line people grep for and paste, with its bare 'kernel:' tag."""
    [ev] = parse_text("kernel: Out of memory: Kill process 1234 (java) score 900 or sacrifice child\n")
    assert ev.selection is not None and (ev.selection.pid, ev.selection.name, ev.selection.score) == (1234, "java", 900)
    assert ev.victim_pid is None   # a child may have been killed instead: the log does not say
