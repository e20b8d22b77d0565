"""What one region (a run of adjacent lines around OOM lines) leaves for the next one.

Regression of the property test ``test_report_embedded_anywhere_in_noise_is_found_unchanged`` on
s19: noise inside the report split the page-allocation failure and the lookalike line off into a
region of their own. The fast path never reads that region (it has no anchor line); looking at
every line (``scan_all``) did, and its leftovers (a draft without OOM evidence, the lookalike's
warning held for the next report) changed the report: it was timed at its ``memory: usage``
line instead of its CPU line, and got the warning of a userspace line printed seconds before.
"""

from __future__ import annotations

import pytest

from oomlens.oomreport import OomEvent, iter_events


def _k(clock: str, msg: str) -> str:
    return f"Mar  2 {clock} h1 kernel: {msg}"


def _noise(n: int) -> list[str]:
    return [_k("09:00:00", f"usb 1-1: new high-speed USB device number {i} using xhci_hcd")
            for i in range(n)]


PAGE_ALLOC_FAILURE = [
    _k("09:00:00", "[ 100.000001] kworker/u16:3: page allocation failure: order:4, "
                   "mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0"),
    _k("09:00:00", "[ 100.000002] CPU: 3 PID: 412 Comm: kworker/u16:3 Not tainted "
                   "5.15.0-107-generic #117-Ubuntu"),
    _k("09:00:00", "[ 100.000003] Call Trace:"),
    _k("09:00:00", "[ 100.000004]  warn_alloc+0x138/0x160"),
    _k("09:00:00", "[ 100.000005] Mem-Info:"),
    _k("09:00:00", "[ 100.000006] active_anon:2001 inactive_anon:30100 isolated_anon:0"),
    _k("09:00:00", "[ 100.000007] 2097054 pages RAM"),
    _k("09:00:00", "[ 100.000008] 51098 pages reserved"),
]
LOOKALIKE = ("Mar  2 09:00:05 h1 kernel[19202]: Out of memory: Killed process 1 (systemd) "
             "total-vm:1kB, anon-rss:1kB, file-rss:1kB, shmem-rss:0kB, UID:0 pgtables:1kB "
             "oom_score_adj:0")
WARNING = [
    _k("09:00:08", "[ 108.000001] WARNING: CPU: 1 PID: 0 at net/sched/sch_generic.c:477 "
                   "dev_watchdog+0x21f/0x230"),
    _k("09:00:08", "[ 108.000002] CPU: 1 PID: 0 Comm: swapper/1 Not tainted "
                   "5.15.0-107-generic #117-Ubuntu"),
    _k("09:00:08", "[ 108.000003] Call Trace:"),
    _k("09:00:08", "[ 108.000004]  call_timer_fn+0x29/0x120"),
    _k("09:00:08", "[ 108.000005] ---[ end trace 7c1e3b2a1d0f9e11 ]---"),
]
# a memcg OOM whose 'invoked oom-killer' line was lost (ratelimited)
STACK = [
    _k("09:00:09", "[ 109.000001] CPU: 0 PID: 5150 Comm: apk Not tainted "
                   "5.15.0-107-generic #117-Ubuntu"),
    _k("09:00:09", "[ 109.000002] Call Trace:"),
    _k("09:00:09", "[ 109.000003]  dump_stack_lvl+0x4a/0x63"),
]
REST = [
    _k("09:00:09", "[ 109.000004]  dump_header+0x4a/0x1f4"),
    _k("09:00:09", "[ 109.000005]  oom_kill_process.cold+0xb/0x10"),
    _k("09:00:09", "[ 109.000006]  mem_cgroup_out_of_memory+0x136/0x150"),
    _k("09:00:10", "[ 109.000007] memory: usage 8192kB, limit 8192kB, failcnt 282"),
    _k("09:00:10", "[ 109.000008] swap: usage 0kB, limit 0kB, failcnt 0"),
    _k("09:00:10", "[ 109.000009] Tasks state (memory values in pages):"),
    _k("09:00:10", "[ 109.000010] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes "
                   "swapents oom_score_adj name"),
    _k("09:00:10", "[ 109.000011] [   5150]     0  5150     5150     2024    81920        0"
                   "             0 apk"),
    _k("09:00:10", "[ 109.000012] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),"
                   "cpuset=/,mems_allowed=0,oom_memcg=/ci/job7,task_memcg=/ci/job7,task=apk,"
                   "pid=5150,uid=0"),
    _k("09:00:10", "[ 109.000013] Memory cgroup out of memory: Killed process 5150 (apk) "
                   "total-vm:20600kB, anon-rss:7508kB, file-rss:588kB, shmem-rss:0kB, UID:0 "
                   "pgtables:80kB oom_score_adj:0"),
]


def _parse(lines: list[str], scan_all: bool) -> list[OomEvent]:
    return list(iter_events(["\n".join(lines) + "\n"], "t", scan_all=scan_all))


def _lineno(lines: list[str], line: str) -> int:
    return lines.index(line) + 1


def _split_log() -> list[str]:
    # 14 unrelated lines after "pages reserved" (>= QUIET_CLOSE): the page-allocation failure
    # and the lookalike form a region of their own, without any anchor line
    return (_noise(30) + PAGE_ALLOC_FAILURE + _noise(5) + [LOOKALIKE] + _noise(7) + WARNING
            + STACK + _noise(8) + REST + _noise(20))


@pytest.mark.parametrize("scan_all", [False, True], ids=["fast", "scan_all"])
def test_a_region_without_an_anchor_leaves_nothing_to_the_next_report(scan_all: bool) -> None:
    lines = _split_log()
    [ev] = _parse(lines, scan_all)
    assert ev.victim_pid == 5150
    assert ev.start_line == _lineno(lines, STACK[0])
    assert ev.end_line == _lineno(lines, REST[-1])
    # timed at its CPU line, where it starts
    assert ev.uptime == 109.000001
    assert ev.timestamp == "Mar  2 09:00:09"
    assert ev.cpu is not None and ev.cpu.pid == 5150
    assert ev.trace_evidence   # the call trace before the noise is the report's
    # the lookalike was printed seconds earlier, with 14 unrelated lines after it: not this one's
    assert ev.warnings == ()
    assert ev.meminfo is None   # the page-allocation failure's Mem-Info is not this report's


def test_fast_path_and_scan_all_agree_on_the_split_log() -> None:
    lines = _split_log()
    assert ([e.to_dict() for e in _parse(lines, False)]
            == [e.to_dict() for e in _parse(lines, True)])


@pytest.mark.parametrize("scan_all", [False, True], ids=["fast", "scan_all"])
def test_a_report_timed_at_its_held_back_stack(scan_all: bool) -> None:
    # one region: the report's CPU line comes while the page-allocation failure's draft is open
    # (past its memory stage), so it is held back until 'memory: usage' starts the report
    lines = _noise(3) + PAGE_ALLOC_FAILURE + WARNING + STACK + REST
    [ev] = _parse(lines, scan_all)
    assert ev.start_line == _lineno(lines, STACK[0])
    assert (ev.uptime, ev.timestamp) == (109.000001, "Mar  2 09:00:09")
    assert ev.cpu is not None and ev.cpu.pid == 5150


@pytest.mark.parametrize("scan_all", [False, True], ids=["fast", "scan_all"])
def test_a_lookalike_next_to_a_report_is_still_reported(scan_all: bool) -> None:
    # within the report's run of lines the lookalike's warning goes to the report that follows
    lines = _noise(3) + PAGE_ALLOC_FAILURE + [LOOKALIKE] + WARNING + STACK + REST
    [ev] = _parse(lines, scan_all)
    assert ev.uptime == 109.000001
    lineno = _lineno(lines, LOOKALIKE)
    assert [w.split(":")[0] for w in ev.warnings] == [f"line {lineno}"]
    assert "ignored killed line that does not come from the kernel" in ev.warnings[0]


@pytest.mark.parametrize("scan_all", [False, True], ids=["fast", "scan_all"])
def test_a_ratelimit_note_does_not_cross_a_quiet_gap(scan_all: bool) -> None:
    # printk's "callbacks suppressed" belongs to the next message that got through; after
    # QUIET_CLOSE unrelated lines that is not an OOM line (the fast path never sees it at all)
    ratelimit = _k("09:00:09", "[ 109.000000] oom_kill_process: 3 callbacks suppressed")
    far = _noise(5) + [ratelimit] + _noise(20) + STACK + REST
    [ev] = _parse(far, scan_all)
    assert not any("callbacks suppressed" in n for n in ev.notes)
    near = _noise(5) + [ratelimit] + _noise(2) + STACK + REST
    [ev] = _parse(near, scan_all)
    assert any(n.startswith(f"line {_lineno(near, ratelimit)}: 'oom_kill_process: 3 callbacks")
               for n in ev.notes)
