"""Task tables: any length belongs to its report (issue 7 item 5); one task per pid (item 6)."""

from __future__ import annotations

from oomlens.oomreport import iter_events, parse_text

HEAD = ("[  100.000000] a invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), order=0, "
        "oom_score_adj=0\n"
        "[  100.000001] Tasks state (memory values in pages):\n"
        "[  100.000002] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n")
KILL = ("[  100.000009] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
        "global_oom,task_memcg=/,task=big,pid={pid},uid=0\n"
        "[  100.000010] Out of memory: Killed process {pid} (big) total-vm:4kB, anon-rss:4kB, "
        "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0\n")


def _row(pid: int, rss: int, name: str = "t") -> str:
    return f"[  100.000005] [{pid:7d}]     0 {pid:5d}     1000 {rss:8d}    40960        0             0 {name}\n"


def test_a_table_longer_than_the_region_bound_stays_in_its_report() -> None:
    n = 55_000    # more than scan.MAX_REGION_LINES (50,000)
    text = HEAD + "".join(_row(1000 + i, 10) for i in range(n)) + KILL.format(pid=1000 + n)
    events = list(iter_events([text.encode()], "big"))
    assert len(events) == 1
    ev = events[0]
    assert ev.table is not None and len(ev.table.rows) == n
    assert ev.table.rows[0].pid == 1000 and ev.table.rows[-1].pid == 1000 + n - 1
    assert ev.victim_pid == 1000 + n and not ev.table.truncated


def test_a_pid_listed_twice_keeps_the_later_row_and_says_so() -> None:
    text = (HEAD + _row(10, 100, "a") + _row(11, 200, "b") + _row(10, 999, "a2") + _row(12, 5, "c")
            + KILL.format(pid=10))
    [ev] = parse_text(text)
    assert ev.table is not None
    assert [(r.pid, r.rss, r.name) for r in ev.table.rows] == [(11, 200, "b"), (10, 999, "a2"), (12, 5, "c")]
    assert any("later row is kept" in w for w in ev.warnings)
    assert any("replaced by a later row" in n for n in ev.notes)
