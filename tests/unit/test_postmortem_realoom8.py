"""Real OOM reports (tests/data/postmortem/realoom8, sources in SOURCES.tsv) that crashed the parser or that it read
wrongly: a kill line a mail client wrapped after 'anon-rss:…kB,' (a crash that lost every event), an 'oom-kill:'
summary printed before the memcg block (linux-next 4.18), ': ' mail quoting, a syslog record that a reply client's
re-wrap starts mid-line, a pager's garbled position mark, and a memcg limit of 0 kB (T = 1).

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md and the kernel
sources named in the comments), not copied from the tool's output."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import Verdict, analyze_events
from oomlens.oomreport import OomEvent, iter_events
from oomlens.oomreport.normalize import normalize_line


def _events(lines: list[str]) -> list[OomEvent]:
    return list(iter_events(lines))


def _stamp(lines: list[str], t0: float = 100.0) -> list[str]:
    return [f"[{t0 + i * 1e-3:12.6f}] {line}" for i, line in enumerate(lines)]


# --------------------------------------------------------------------------- C1: a kill line wrapped after anon-rss

def test_008_a_kill_line_wrapped_after_anon_rss_is_rejoined_and_nothing_is_lost() -> None:
    # lines 6-7 quote syzbot's 72-column wrap of the kill line: "> Killed process 23767 (syz-executor2)
    # total-vm:70472kB, anon-rss:104kB," / "> file-rss:32768kB, shmem-rss:0kB"; file-rss and shmem-rss are only on
    # line 7, so the two lines are one kill line. Reading it used to raise (the events of the file were lost).
    evs = [a.event for a in analyses("realoom8", "008")]
    quoted = [e for e in evs if e.start_line == 6]
    assert len(quoted) == 1
    (k,) = quoted[0].killed
    assert (k.pid, k.name, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) == (
        23767, "syz-executor2", 70472, 104, 32768, 0)
    # the reaper line, wrapped the same way (lines 8-9), is rejoined too: "now anon-rss:0kB," / "file-rss:32000kB, .."
    assert [r.pid for r in quoted[0].reaped] == [23767]
    # the two real OOMs are read (23766 killed at 366.529422, 23767 at 367.180119)
    stamped = sorted((k.pid, e.uptime is not None) for e in evs for k in e.killed if e.uptime is not None)
    assert [p for p, _ in stamped] == [23766, 23767]


_KILL_54 = ("Out of memory: Killed process 200 (beta) total-vm:358672kB, anon-rss:22640kB, file-rss:12328kB, "
            "shmem-rss:0kB, UID:0 pgtables:421888kB oom_score_adj:0")


def test_synthetic_a_cut_kill_line_is_completed_by_the_line_a_mail_client_wrapped_it_onto() -> None:
    # wrapped once (the 4.5-5.0 format without a prefix, as in 008)
    (ev,) = _events(["Killed process 23767 (syz-executor2) total-vm:70472kB, anon-rss:104kB,",
                     "file-rss:32768kB, shmem-rss:0kB"])
    (k,) = ev.killed
    assert (k.file_rss_kb, k.shmem_rss_kb, k.variant) == (32768, 0, "4.5")
    assert any("rejoined" in n for n in ev.notes) and not any("cut short" in n for n in ev.notes)
    # wrapped twice (5.4+): the first continuation leaves it cut, the second completes it
    a, b = _KILL_54.index(" file-rss"), _KILL_54.index(" pgtables")
    (ev,) = _events([_KILL_54[:a], _KILL_54[a + 1:b], _KILL_54[b + 1:]])
    (k,) = ev.killed
    assert (k.file_rss_kb, k.uid, k.pgtables_kb, k.oom_score_adj, k.variant) == (12328, 0, 421888, 0, "5.4")
    assert not any("cut short" in n for n in ev.notes)
    # a reaper line cut before a field that names anything is completed by its rest too
    (ev,) = _events(["Killed process 7 (x) total-vm:100kB, anon-rss:40kB, file-rss:4kB, shmem-rss:0kB",
                     "oom_reaper: reaped process 7 (x), now anon-rss:0kB,", "file-rss:0kB, shmem-rss:0kB"])
    assert [r.pid for r in ev.reaped] == [7] and ev.reaped[0].file_rss_kb == 0


def test_synthetic_a_cut_kill_line_stays_cut_when_the_next_line_is_not_its_rest() -> None:
    # prose after it, or a number that does not continue the format: read cut short (never as if whole), not joined
    for rest in ("I wonder why it was killed", "32768kB, shmem-rss:0kB", "file-rss:32768kB, shmem-rss:0kB, or so"):
        (ev,) = _events(["Killed process 23767 (syz-executor2) total-vm:70472kB, anon-rss:104kB,", rest])
        (k,) = ev.killed
        assert k.anon_rss_kb == 104 and k.file_rss_kb is None and k.shmem_rss_kb is None
        assert any("cut short" in n and "file-rss" in n for n in ev.notes)
        assert not any("rejoined" in n for n in ev.notes)
    # the next kill line is a record of its own, not the rest of the cut one
    evs = _events(["Killed process 1 (a) total-vm:100kB, anon-rss:40kB,",
                   "Killed process 2 (b) total-vm:100kB, anon-rss:40kB, file-rss:4kB, shmem-rss:0kB"])
    assert sorted(k.pid for e in evs for k in e.killed) == [1, 2]
    # analysed without a crash either way
    assert len(list(analyze_events(iter(evs), strict=True))) == len(evs)


# --------------------------------------------------------------------------- L3: ': ' quoting

def test_008_a_table_quoted_with_colons_is_read_whole() -> None:
    # Michal Hocko quotes the log with ': '. The first OOM's table (lines 24-26) has both rows; 4.19 format, 4 KiB
    # pages: 23766 = rss 8221 + swapents 0 + 126976 // 4096 (31) = 8252, 23767 = 8218 + 0 + 31 = 8249. The memcg
    # limit is 0 kB, so T = 1 (oom_kill.c: mem_cgroup_get_max() ?: 1): 8252 * 1000 // 1 = 8252000, the printed
    # score: the kernel chose 23766, the larger.
    (a,) = [a for a in analyses("realoom8", "008") if a.event.selection is not None and a.event.selection.pid == 23766]
    assert a.event.table is not None and not a.event.table.truncated
    assert sorted(r.pid for r in a.event.table.rows) == [23766, 23767]
    assert a.verdict == Verdict.AGREES and a.model_victim is not None and a.model_victim.pid == 23766
    assert a.domain is not None and a.domain.totalpages == 1
    assert not any("before the time stamp" in n for n in a.all_notes)   # ':' is quoting, not console output


def test_synthetic_colon_quoting_is_peeled_before_a_record_header_only() -> None:
    (ll,) = normalize_line(": [  366.501237] [  23766]     0 23766    17620     8221   126976        0             0 x")
    assert ll.uptime == 366.501237 and ll.text.startswith("[  23766]") and ll.prefix == "dmesg"
    assert "colon-quote" in ll.wrappers
    (ll,) = normalize_line(": Mar 17 01:33:12 t6360003 kernel: Killed process 1 (x)")
    assert ll.host == "t6360003" and ll.text == "Killed process 1 (x)"
    (ll,) = normalize_line("> : [  1.000000] oom_reaper: reaped process 1 (x), now anon-rss:0kB, file-rss:0kB, "
                           "shmem-rss:0kB")
    assert ll.uptime == 1.0 and ll.text.startswith("oom_reaper:")
    # anything else after ': ' is text as it was (no record header: nothing says it is quoting)
    for raw in (": [...]", ": Killed process 1 (x)", ": 12 pages RAM", ":[  1.000000] x"):
        (ll,) = normalize_line(raw)
        assert ll.text == raw and ll.prefix == "bare" and "colon-quote" not in ll.wrappers
    # the rows between quoted stamps are in the report: the table is whole, the pick is checked
    rows = ["[  100]     0   100    10000     5000   409600        0             0 a",
            "[  200]     0   200    20000     9000   409600        0             0 b"]
    lines = _stamp(["Tasks state (memory values in pages):",
                    "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name", *rows,
                    "Memory cgroup out of memory: Kill process 200 (b) score 1 or sacrifice child"])
    (ev,) = _events(["prose", "", *(": " + x for x in lines)])
    assert ev.table is not None and [r.pid for r in ev.table.rows] == [100, 200] and not ev.table.truncated


# --------------------------------------------------------------------------- W1: the summary before the memcg block

def test_008_the_summary_before_the_memcg_block_is_part_of_its_report() -> None:
    # linux-next 4.18 (mmotm, Aug 2018) printed 'oom-kill:' in dump_header() right after the stack, before
    # mem_cgroup_print_oom_meminfo() (5.0's ef8444ea01d7 moved it after the task table): line 12 (366.435015)
    # and line 36 (367.085870) start the two OOMs, each going on with 'memory: usage 112kB, limit 0kB'. The summary
    # names the task the selection line names (23766, then 23767).
    stamped = [a for a in analyses("realoom8", "008") if a.event.uptime is not None]
    assert [(a.event.start_line, a.event.summary.pid if a.event.summary else None) for a in stamped] == [
        (12, 23766), (36, 23767)]
    for a, victim in zip(stamped, (23766, 23767)):
        ev = a.event
        assert ev.memcg is not None and ev.memcg.limit_kb == 0 and [k.pid for k in ev.killed] == [victim]
        assert a.domain is not None and a.domain.totalpages == 1   # limit 0 kB: T = 0 ?: 1
        assert "summary-first" in ev.format_hints and a.verdict == Verdict.AGREES
    # 23767 is killed at 367.180119, after the first OOM: the quoted copy of that kill line (lines 6-7, no stamp)
    # does not make it a previous victim of the first OOM; 23766 (killed at 366.529422) is one of the second
    assert not any("previous OOM victims" in n for n in stamped[0].all_notes)
    assert any("previous OOM victims" in n and "23766" in n for n in stamped[1].all_notes)


_INV_419 = ("a invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0")
_CPU_418 = "CPU: 1 PID: 100 Comm: a Not tainted 4.18.0-next-20180803+ #1"
_SUMM_MEMCG = ("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/m,"
               "task_memcg=/m,task=b,pid=200,uid=0")
_MEMCG = ["memory: usage 40960kB, limit 40960kB, failcnt 10",
          "memory+swap: usage 0kB, limit 9007199254740988kB, failcnt 0",
          "kmem: usage 0kB, limit 9007199254740988kB, failcnt 0"]
_TABLE = ["Tasks state (memory values in pages):",
          "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
          "[    100]     0   100     3000     1000    40960        0             0 a",
          "[    200]     0   200     9000     8000    81920        0             0 b"]
_SEL_KILL = ["Memory cgroup out of memory: Kill process 200 (b) score 783 or sacrifice child",
             "Killed process 200 (b) total-vm:36000kB, anon-rss:32000kB, file-rss:0kB, shmem-rss:0kB"]


def _analyses(lines: list[str]) -> list:  # type: ignore[type-arg]
    return list(analyze_events(iter(_events(lines)), strict=True))


def test_synthetic_a_summary_printed_before_the_memory_state_belongs_to_its_report() -> None:
    # T = 40960 kB / 4 = 10240 pages; b = 8000 + 0 + 81920 // 4096 (20) = 8020 pages, 8020 * 1000 // 10240 = 783
    (a,) = _analyses(_stamp([_INV_419, _CPU_418, _SUMM_MEMCG, *_MEMCG, *_TABLE, *_SEL_KILL]))
    ev = a.event
    assert ev.summary is not None and ev.summary.pid == 200 and ev.memcg is not None and ev.memcg.limit_kb == 40960
    assert ev.table is not None and len(ev.table.rows) == 2 and "summary-first" in ev.format_hints
    # with the nodemask= invoked line (4.9-4.19) and the 'Tasks state' table (4.19+): 4.19, not "5.0+"
    assert a.evidence_range == ((4, 19, 0), (4, 19, 9999)) and a.verdict == Verdict.AGREES
    assert "summary line before the memory state" in a.era_source
    # 5.0's order (after the table): one report, and no 'summary-first'
    (a,) = _analyses(_stamp([_INV_419.replace("nodemask=(null), ", ""), _CPU_418.replace("4.18.0-next-20180803+",
                                                                                         "5.0.0"),
                             *_MEMCG, *_TABLE, _SUMM_MEMCG, *_SEL_KILL]))
    assert "summary-first" not in a.event.format_hints and a.evidence_range is not None
    assert a.evidence_range[0] == (5, 0, 0)


def test_synthetic_what_an_early_summary_does_not_join_or_prove() -> None:
    # a summary and its kill line (the excerpt starts there), then a memcg block without a header: another report
    evs = _events(_stamp([_SUMM_MEMCG, _SEL_KILL[1], *_MEMCG, *_TABLE[:3]]))
    assert len(evs) == 2 and evs[0].memcg is None and evs[1].memcg is not None
    assert not any("summary-first" in e.format_hints for e in evs)
    # a summary before the table proves nothing about the table: the input ending in its rows leaves it incomplete
    (ev,) = _events(_stamp([_INV_419, _CPU_418, _SUMM_MEMCG, *_MEMCG, *_TABLE]))
    assert ev.table is not None and ev.table.truncated and "input ends inside" in (ev.table.truncated_why or "")
    # after the table (5.0) it proves the table complete
    (ev,) = _events(_stamp([_INV_419, *_MEMCG, *_TABLE, _SUMM_MEMCG]))
    assert ev.table is not None and not ev.table.truncated


def test_synthetic_a_kill_quoted_without_stamps_makes_no_stamped_task_a_previous_victim() -> None:
    # a mail quotes a kill line of a (no stamp) above the log: a is no previous victim of the log's reports (the copy
    # may be of a later kill); b (8020 pages against a's 1000 + 10) is chosen either way
    quoted = "Killed process 100 (a) total-vm:12000kB, anon-rss:4000kB, file-rss:0kB, shmem-rss:0kB"
    report = _stamp([_INV_419, _CPU_418, _SUMM_MEMCG, *_MEMCG, *_TABLE, *_SEL_KILL])
    a = _analyses([quoted, "", "the log:", *report])[-1]
    assert a.verdict == Verdict.AGREES and not any("previous OOM victims" in n for n in a.all_notes)
    # what must not change: a kill in an earlier report placed alike (both stamped, or both without stamps) does
    b = _analyses(_stamp([quoted], 50.0) + report)[-1]
    assert any("previous OOM victims" in n and "100" in n for n in b.all_notes)
    unstamped = [x.split("] ", 1)[1] for x in report]
    c = _analyses([quoted, *unstamped])[-1]
    assert any("previous OOM victims" in n and "100" in n for n in c.all_notes)


# --------------------------------------------------------------------------- L1: a syslog re-wrapped by a reply client

def test_003_a_rewrapped_syslog_gives_its_four_ooms_their_kills_and_scores() -> None:
    # KMail re-wrapped Heiko Carstens' 2.6.28 syslog at ~78 columns: records start in the middle of a line
    # ("> (rpmbuild) score 3460 or a child Mar 17 01:33:12 t6360003 kernel: Killed" / "> process 27519 (sh)").
    # Four OOMs (2.6.24-2.6.32 "kill process N (x) score S or a child", then "Killed process N (x)"):
    evs = [a.event for a in analyses("realoom8", "003")]
    assert [(e.selection.pid, e.selection.name, e.selection.score) for e in evs if e.selection] == [
        (30502, "cc1", 3672), (27449, "rpmbuild", 3460), (29305, "make", 3403), (16782, "cc1", 3375)]
    assert [[k.pid for k in e.killed] for e in evs] == [[30502], [27519], [29320], [16782]]   # two children killed
    # 'X invoked oom-killer: gfp_mask=0xd0, order=2, oomkilladj=0' (2.6.19-2.6.30) for each
    assert [(e.invoked.comm, e.invoked.gfp_mask, e.invoked.order, e.invoked.oom_adj) for e in evs if e.invoked] == [
        ("basename", 0xD0, 2, 0), ("sh", 0xD0, 2, 0), ("as", 0xD0, 2, 0), ("sh", 0xD0, 2, 0)]
    # the replier's unquoted line 14 between 'kernel: CPU:' (line 12) and '> 0 Not tainted 2.6.28 #1' (line 17) is
    # no part of the record; the four are dated by their formats: 2.6.24-2.6.30, legacy badness
    a = analyses("realoom8", "003")[0]
    assert a.era is not None and a.era.scoring == "legacy" and a.evidence_range == ((2, 6, 24), (2, 6, 30))


_H = "Mar 17 01:33:12 h kernel: "


def test_synthetic_a_record_that_starts_mid_line_is_split_off_and_its_rest_joined() -> None:
    (ev,) = _events([f"> {_H}Out of memory: kill process 27449",
                     f"> (rpmbuild) score 3460 or a child {_H}Killed",
                     "> process 27519 (sh)"])
    assert ev.selection is not None and (ev.selection.pid, ev.selection.score) == (27449, 3460)
    assert [k.pid for k in ev.killed] == [27519] and ev.host == "h"
    assert any("re-wrapped" in n for n in ev.notes)
    # the header itself wrapped, after its date, its time or its host
    for a, b in (("Mar 17", "01:33:12 h kernel: Killed"), ("Mar 17 01:33:12", "h kernel: Killed"),
                 ("Mar 17 01:33:12 h", "kernel: Killed")):
        (ev,) = _events([f"> {_H}Out of memory: kill process 27449 (rpmbuild) score 3460 or a child {a}",
                         f"> {b} process 27519 (sh) {_H}foo", "> bar"])
        assert [k.pid for k in ev.killed] == [27519], (a, b)
        assert ev.selection is not None and ev.selection.score == 3460


def test_synthetic_what_is_not_a_rewrapped_syslog() -> None:
    # another host's header, or a program's (kernel[pid], sshd), inside a record: text, no record of its own
    for inner in ("Mar 17 01:33:12 other kernel: Killed process 1 (x)", "Mar 17 01:33:12 h kernel[7]: Killed process 1 (x)",
                  "Mar 17 01:33:12 h sshd: Killed process 1 (x)"):
        lines = normalize_line(f"{_H}Out of memory: kill process 2 (y) score 3 or a child {inner}")
        assert len(lines) == 1 and "rewrapped-syslog" not in lines[0].wrappers
    # a program's line that quotes a kernel record: the record is the program's, not the kernel's
    assert not any(x.trusted for x in normalize_line("Mar 17 01:33:12 h sshd: x Mar 17 01:33:12 h kernel: Killed y"))
    # a syslog whose records go on on header-less lines (journald's continuation) and start no record mid-line: left
    # to the hard-wrap repair, as before
    (ev,) = _events([f"{_H}Out of memory: Kill process 2 (y) score 3 or sacrifice child",
                     f"{_H}Killed process 2 (y) total-vm:100kB, anon-rss:40kB,", "file-rss:4kB, shmem-rss:0kB"])
    assert ev.killed[0].file_rss_kb == 4 and not any("re-wrapped" in n for n in ev.notes)
    # the replier's own unquoted words between quoted lines do not join the quoted record
    (ev,) = _events([f"> {_H}x invoked oom-killer: gfp_mask=0xd0, order=2, oomkilladj=0 {_H}Out of",
                     "", "I think it is order 2.", "", "> memory: kill process 2 (y) score 3 or a child"])
    assert ev.selection is not None and ev.selection.pid == 2 and ev.selection.name == "y"


# --------------------------------------------------------------------------- L4: a pager's garbled position mark

def test_009_an_invoked_line_ending_in_a_garbled_position_mark_is_read() -> None:
    # line 57: "fork invoked oom-killer: gfp_mask=0x26000c0(GFP_KERNEL|__GFP_NOTRACK), order=0, oom_score_adj=0
    # <blanks> [2[2/9152]" (tmux's copy-mode position redrawn over an older one); line 59: "CPU: 5 PID: 1269 Comm: fork"
    second = [a.event for a in analyses("realoom8", "009")][1]
    assert second.start_line == 57 and second.invoked is not None
    assert (second.invoked.comm, second.invoked.pid, second.invoked.gfp_mask, second.invoked.order) == (
        "fork", 1269, 0x26000C0, 0)
    assert not any("not understood" in n or "mid-way" in n for n in second.notes)


def test_synthetic_copy_mode_positions_garbled_or_not_are_dropped_and_nothing_else() -> None:
    inv = "fork invoked oom-killer: gfp_mask=0x26000c0(GFP_KERNEL), order=0, oom_score_adj=0"
    for mark in ("[108/9620]", "[2[2/9152]", "[12[3/40]"):
        (ll,) = normalize_line(inv + " " * 30 + mark)
        assert ll.text == inv, mark
    # not a position mark: no blanks before it, or not a position
    for tail in ("[2/9152]", "  [2/9152", "  [2[x/9152]", "  [a/b]"):
        (ll,) = normalize_line(inv + tail)
        assert ll.text == inv + tail, tail


# --------------------------------------------------------------------------- T3, T4: a memcg limit of 0 kB

def _text(a) -> str:  # type: ignore[no-untyped-def]
    import io

    from oomlens.cli.render import Screen, Writer, postmortem_event

    w = Writer(Screen(False, None, None))
    w._out = io.StringIO()
    postmortem_event(a, verbose=True, writer=w)
    return w._out.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_008_a_zero_limit_prints_no_none_and_its_scores_are_no_impossible_ones() -> None:
    # 'memory: usage 112kB, limit 0kB': no percentage of a zero limit. T = 0 ?: 1 (constrained_alloc), so
    # 'score 8252000' = (8221 + 126976 // 4096) * 1000 // 1 is exactly what the kernel prints: no "more than ...
    # kernels print" (that bound, about 2000, holds when a task's memory is at most T: an OOM of the whole machine)
    for a in analyses("realoom8", "008"):
        text = _text(a)
        assert "None" not in text
        assert not any("kernels print" in n for n in a.all_notes)
        if a.event.memcg is not None:
            assert "limit 0 kB (a limit of 0" in text


_GLOBAL_313 = ["app invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0",
               "CPU: 0 PID: 300 Comm: app Not tainted 3.13.0-27-generic #50-Ubuntu",
               "Mem-Info:", "Free swap  = 0kB", "Total swap = 0kB", "262144 pages RAM", "6144 pages reserved",
               "[ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name",
               "[  200]  1000   200    20000    10000      30        0             0 b"]


def test_synthetic_the_score_bound_is_said_of_an_oom_of_the_whole_machine_only() -> None:
    # global, 3.13: b = 10000 + 30 = 10030 pages of T = 262144 - 6144 = 256000: 39 per mille; no 3.5-5.0 kernel
    # prints 2500 for a whole-machine OOM (memory <= T, oom_score_adj <= +1000: about 2000 at most)
    (a,) = _analyses(_stamp(_GLOBAL_313 + ["Out of memory: Kill process 200 (b) score 2500 or sacrifice child"]))
    assert any("printed score 2500 is more than" in n for n in a.all_notes)
    # a memcg OOM: its T is the limit, which a task's memory may pass: no bound
    memcg = [x for x in _GLOBAL_313 if not x.startswith(("Mem-Info", "Free swap", "Total swap", "262144", "6144"))]
    (a,) = _analyses(_stamp(memcg[:2] + ["memory: usage 4kB, limit 0kB, failcnt 9"] + memcg[2:]
                            + ["Memory cgroup out of memory: Kill process 200 (b) score 2500 or sacrifice child"]))
    assert not any("kernels print" in n for n in a.all_notes)
    assert "(a limit of 0: every charge is over it)" in _text(a)
