"""Real OOM reports (tests/data/postmortem/realoom5, sources in SOURCES.tsv) on which postmortem gave a wrong answer
that looked right, and minimal synthetic reports for each rule (with what must not change).

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md, and the kernel
sources named in the comments), not copied from the tool's output."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import Tally, Verdict, analyze_events
from oomlens.oomreport.model import KillLine, SelectionLine
from oomlens.oomreport.parse import Kind, classify, parse_dump_stack_print_info
from oomlens.oomreport.scan import iter_events


def _events(text: str) -> list:  # type: ignore[type-arg]
    return list(iter_events([text.encode()], "t"))


def _analyses(text: str) -> list:  # type: ignore[type-arg]
    return list(analyze_events(_events(text), strict=True))


# ---- W1: the old constrained branches of out_of_memory() (2.6.16-2.6.35) ---------------------------------------
#
# 2.6.18 out_of_memory(): switch (constrained_alloc(..)) { case CONSTRAINT_MEMORY_POLICY:
# oom_kill_process(current, points, "No available memory (MPOL_BIND)"); case CONSTRAINT_CPUSET: .. "No available
# memory in cpuset"; case CONSTRAINT_NONE: p = select_bad_process(&points); oom_kill_process(p, points, "Out of
# memory") }, points = 0 (2.6.16: uninitialised) in the constrained branches. oom_kill_process() prints "Out of
# Memory: Kill process %d (%s) score %li and children." (hard-coded prefix), kills a child of p first, and
# __oom_kill_task() prints "%s: Killed process %d (%s)." with the branch's message. 2.6.20-2.6.35 print the message
# on the selection line ("%s: kill process %d (%s) score %li or a child") and a bare kill line; the cpuset branch is
# gone in 2.6.24 (cpuset OOMs scan), the MPOL_BIND one in 2.6.36.

def test_mpol_bind_kill_line_names_the_domain_and_the_selection_is_no_badness_choice() -> None:
    # line 58-59: "Out of Memory: Kill process 1 (init) score 0 and children." then
    # "No available memory (MPOL_BIND): Killed process 1267 (rc)." -- current was init (boot), a child died
    (a,) = analyses("realoom5", "001")
    assert a.constraint == "CONSTRAINT_MEMORY_POLICY"
    assert a.domain_text.startswith("mempolicy")
    assert a.event.selection is not None and a.event.selection.pid == 1 and a.event.selection.score == 0
    assert a.unscanned_choice is not None and "MPOL_BIND" in a.unscanned_choice
    assert any("without a badness scan" in n and "score 0" in n for n in a.all_notes)
    assert [k.pid for k in a.event.killed] == [1267]
    assert a.verdict == Verdict.UNDECIDABLE and a.model_victim is None


def test_cpuset_kill_line_names_the_domain() -> None:
    # line 23-24: "Out of Memory: Kill process 679783 (ncks) score 0 and children." then
    # "No available memory in cpuset: Killed process 679783 (ncks)." (current, no child to sacrifice)
    first, second = analyses("realoom5", "002")
    assert first.constraint == "CONSTRAINT_CPUSET" and first.domain_text.startswith("cpuset")
    assert first.unscanned_choice is not None and "cpuset" in first.unscanned_choice
    assert [k.pid for k in first.event.killed] == [679783]
    # the bare 'oom-killer: gfp_mask=0x200d2, order=0' 8 minutes later prints nothing of its domain
    assert second.constraint == "unknown" and second.unscanned_choice is None


def test_every_old_prefix_has_its_meaning() -> None:
    cases = {
        "Out of Memory: Killed process 7 (a).": ("legacy", "2.4"),                    # <=2.6.15
        "Out of memory: Killed process 7 (a).": ("global", "bare"),                   # 2.6.16-2.6.19, NONE
        "No available memory (MPOL_BIND): Killed process 7 (a).": ("mempolicy", "bare"),
        "No available memory in cpuset: Killed process 7 (a).": ("cpuset", "bare"),
        "Killed process 7 (a)": ("none", "bare"),                                     # 2.6.20-2.6.32
    }
    for text, (kind, variant) in cases.items():
        k, p = classify(text)
        assert k == Kind.KILLED and isinstance(p, KillLine) and (p.kind, p.variant) == (kind, variant), text
    sel = {
        "Out of Memory: Kill process 7 (a) score 0 and children.": "legacy",
        "No available memory (MPOL_BIND): kill process 7 (a) score 0 or a child": "mempolicy",
        "No available memory in cpuset: kill process 7 (a) score 0 or a child": "cpuset",
        "Out of memory (oom_kill_allocating_task): kill process 7 (a) score 0 or a child": "allocating_task",
        "Memory cgroup out of memory: kill process 7 (a) score 12 or a child": "memcg",
        "Out of memory: kill process 7 (a) score 12 or a child": "global",
    }
    for text, kind in sel.items():
        k, p = classify(text)
        assert k == Kind.SELECT and isinstance(p, SelectionLine) and p.kind == kind, text


def test_a_2_6_2x_mpol_bind_selection_line_is_no_badness_choice_but_a_scan_is() -> None:
    log = ("oom-killer: gfp_mask=0xd0, order=0\n"
           "No available memory (MPOL_BIND): kill process 812 (numactl) score 0 or a child\n"
           "Killed process 812 (numactl)\n")
    (a,) = _analyses(log)
    assert a.constraint == "CONSTRAINT_MEMORY_POLICY" and a.unscanned_choice is not None
    # not changed: the badness scan's "Out of memory" selection is a choice, in a domain the report does not show
    (b,) = _analyses(log.replace("No available memory (MPOL_BIND)", "Out of memory").replace("score 0", "score 4417"))
    assert b.unscanned_choice is None and b.constraint == "CONSTRAINT_NONE"
    assert not any("badness scan" in n for n in b.all_notes)


# ---- W3: RHEL / CentOS taint strings --------------------------------------------------------------------------------
#
# RHEL 6 kernel/panic.c (2.6.32-*.el6) tnts[]: bits 0-11 and 14 print their letter or ' ', the placeholder bits
# 12/13/15-26 '?' when set and '-' when not, 27-29 'Z'/'H'/'T' or ' '; RHEL 7 the same idea after its 16 mainline bits.
# print_tainted() is printed in "CPU: %d PID: %d Comm: %.20s %s %.*s %s", so the release follows after one blank.

def test_a_vendor_letter_in_the_rhel_dash_run_does_not_hide_the_release() -> None:
    # line 26: "... Comm: DefSch0200 Tainted: G           O E ----V-------   3.10.0-229.42.1.105.x86_64 #1"
    (a,) = analyses("realoom5", "020")
    assert a.kernel_release == "3.10.0-229.42.1.105.x86_64"
    assert a.era is not None and a.era.name == "3.5-3.13"
    # 3.5-3.13: root tasks get adj -= 30 (scaled: -30 * (T/1000)); a memcg OOM (mem_cgroup_oom_synchronize) whose
    # limit is not printed: T unknown. monitor 21904 (uid 0, line 124): 124104 rss + 0 swap + 368 nr_ptes = 124472,
    # less 30*(T/1000) -- not the 3.14+ bonus of 3% of its usage (124472 - 3734 = 120738) it was given
    assert a.t_dependent.get(21904) == (124472, -30)
    # SMU 6647 (uid 0, line 169): 110159 + 0 + 350 = 110509
    assert a.t_dependent.get(6647) == (110509, -30)
    assert a.verdict == Verdict.UNDECIDABLE   # a panic (panic_on_oom=2)


def test_taint_strings_of_every_shape_keep_the_release() -> None:
    cases = {
        "CPU: 0 PID: 1 Comm: x Tainted: G    B          ------------ T 3.10.0-123.el7.x86_64 #1":
            "G    B          ------------ T",
        "CPU: 0 PID: 1 Comm: x Tainted: P           ---------------- T 2.6.32-220.el6.x86_64 #1":
            "P           ---------------- T",
        "Pid: 1, comm: x Tainted: G        W  ----?-----------    2.6.32-431.el6.x86_64 #1 Dell":
            "G        W  ----?-----------",
        "CPU: 2 PID: 9 Comm: CPU 2/KVM Tainted: G I X 5.3.18-150300.59.63-default #1 SLE15-SP3": "G I X",
        "CPU: 1 PID: 2 Comm: a Tainted: G        W  O      6.1.0-13-amd64 #1 Debian": "G        W  O",
    }
    for text, taint in cases.items():
        c = parse_dump_stack_print_info(text)
        assert c is not None and c.tainted == taint, text
        assert c.release == text.split(taint, 1)[1].split()[0]
    c = parse_dump_stack_print_info("CPU: 1 PID: 2 Comm: a Not tainted 6.1.0 #1")
    assert c is not None and c.release == "6.1.0" and c.tainted is None
    # not a release: a run of dashes with nothing after it
    assert parse_dump_stack_print_info("CPU: 1 PID: 2 Comm: a Tainted: G ------------") is None


# ---- W4: a kill line retyped in prose ------------------------------------------------------------------------------

def test_a_kill_line_retyped_in_a_mail_body_is_no_event() -> None:
    # line 25 (prose): "Out of Memory : Killed process 1759 (mysqld)" -- no kernel prints a blank before the colon;
    # the real line is line 85, "Out of Memory: Killed process 1759 (mysqld)." (the <=2.6.15 form)
    (a,) = analyses("realoom5", "023")
    assert a.event.start_line == 34 and [k.pid for k in a.event.killed] == [1759]
    assert a.event.killed[0].variant == "2.4"


def test_only_prefixes_a_kernel_printed_make_kill_and_selection_lines() -> None:
    for text in ("Out of Memory : Killed process 1759 (mysqld)", "oom: Killed process 12 (a)",
                 "Mysqld got: Killed process 12 (a) total-vm:4kB, anon-rss:0kB, file-rss:0kB",
                 "Out of Memory : Kill process 1 (init) score 0 and children.",
                 "memory low: kill process 7 (a) score 0 or a child"):
        assert classify(text)[0] not in (Kind.KILLED, Kind.SELECT), text
    # an almost-kill line inside a report is a note, never an event
    log = ("[ 1.0] a invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0\n"
           "[ 1.1] Out of Memory : Killed process 1759 (mysqld)\n")
    (ev,) = _events(log)
    assert not ev.killed and any("not understood" in n and "1759" in n for n in ev.notes)
    # not changed: real prefixes, text glued before one (a log header left on the line), a line cut short
    for text in ("Out of memory: Killed process 9 (b) total-vm:8kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB, "
                 "UID:0 pgtables:4kB oom_score_adj:0",
                 "Memory cgroup out of memory: Killed process 9 (b) total-vm:8kB, anon-rss:4kB, file-rss:0kB, "
                 "shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0",
                 "Out of memory (oom_kill_allocating_task): Killed process 9 (b) total-vm:8kB, anon-rss:4kB, "
                 "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0",
                 "Killed process 9, UID 0, (b) total-vm:8kB, anon-rss:4kB, file-rss:0kB",
                 "Killed process 9 (b), UID 0, total-vm:8kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB",
                 "err|kernel[-]|[465.878438] Out of memory: Killed process 9 (b) total-vm:8kB, anon-rss:4kB, "
                 "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"):
        k, p = classify(text)
        assert k == Kind.KILLED and p.pid == 9, text
    k, p = classify("Out of memory: Killed process 9 (b) total-vm:8kB, anon-rss:4", cut="x")
    assert k == Kind.KILLED and p.payload.pid == 9 and p.payload.anon_rss_kb is None
    k, p = classify("Out of Memory : Killed process 9 (b) total-vm:8kB, anon-rss:4", cut="x")
    assert k != Kind.KILLED
    k, p = classify("`Warning OOMKilling  Memory cgroup out of memory: Kill process 4481 (stress) score 1994 or "
                    "sacrifice child")
    assert k == Kind.SELECT and p.kind == "memcg"


# ---- W5: one report shown twice -------------------------------------------------------------------------------------

def test_a_report_quoted_twice_is_one_oom() -> None:
    # lines 13-103 and 112-247: the same report (host rocky8, Jul 15 23:44:32, 'Killed process 2074 (oom)'), the
    # second time chunk by chunk between explanations. Its arithmetic, once: mempolicy nodemask=3, T = Total swap
    # 4149244 kB / 4 + Node 3 present 2048000 kB / 4 = 1037311 + 512000 = 1549311 (approximate: zone lines);
    # oom 2074: rss 468395 + swapents 1018086 + pgtables_bytes 11972608 // 4096 (2923) = 1489404, the largest
    first, again = analyses("realoom5", "025")
    assert (first.event.start_line, first.event.end_line) == (13, 103)
    assert first.verdict == Verdict.AGREES and first.repeat_of is None
    assert first.domain is not None and first.domain.totalpages == 1549311
    assert first.ranking is not None and first.ranking.get(2074).terms.points == 1489404
    assert (again.event.start_line, again.event.end_line) == (112, 247)
    assert again.repeat_of == (13, 103) and again.ranking is None and again.model_victim is None
    # the second copy is abridged: line 237 '[...]' stands for rows left out; every row it shows is in the first
    assert again.reason is not None and "a shortened copy of the report at lines 13-103" in again.reason
    t = Tally()
    for a in (first, again):
        t.add(a)
    d = t.to_dict()
    assert d["events"] == 1 and d["agrees"] == 1
    assert d["repeats"] == [{"source": again.event.source, "host": "rocky8", "lines": [112, 247],
                             "timestamp": "Jul 15 23:44:32", "repeat_of": [13, 103]}]


_REPORT = """[{t}] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[{t}] Mem-Info:
[{t}] 1000 pages RAM
[{t}] 0 pages reserved
[{t}] Total swap = 0kB
[{t}] Tasks state (memory values in pages):
[{t}] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
[{t}] [    {p}]  1000   {p}     9000      600    65536        0             0 a
[{t}] [    301]  1000   301     9000      300    65536        0             0 b
[{t}] [    302]  1000   302     9000      100    65536        0             0 c
[{t}] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=a,pid={p},uid=1000
[{t}] Out of memory: Killed process {p} (a) total-vm:36000kB, anon-rss:2400kB, file-rss:0kB, shmem-rss:0kB, \
UID:1000 pgtables:64kB oom_score_adj:0
"""


def test_only_an_exact_repeat_is_dropped() -> None:
    # T = 1000 pages RAM; a: 600 rss + 65536 // 4096 = 616 leads b (316) and c (116)
    one = _REPORT.format(t="  100.000001", p=200)
    a, b = _analyses(one + "some prose between the two copies\n" + one)
    assert a.verdict == Verdict.AGREES and a.repeat_of is None
    assert b.repeat_of == (a.event.start_line, a.event.end_line)
    # not changed: the restarted process killed again (a new pid), the same pid at another time, the same report
    # with one number changed, and a report that prints no time (nothing tells it is the same OOM)
    for other in (_REPORT.format(t="  100.000001", p=202), _REPORT.format(t="  160.500000", p=200),
                  one.replace(" 600 ", " 601 "), _REPORT.format(t="x", p=200).replace("[x] ", "")):
        first = one if "[" in other[:1] else other
        x, y = _analyses(first + "--- \n" + other)
        assert x.repeat_of is None and y.repeat_of is None, other[:60]
    # memory.oom.group kills several pids in one report: one event, no repeat
    group = one.replace("oom_score_adj:0\n", "oom_score_adj:0\n[  100.000001] Tasks in / are going to be killed "
                        "due to memory.oom.group set\n[  100.000001] Out of memory: Killed process 301 (b) "
                        "total-vm:36000kB, anon-rss:1200kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:64kB "
                        "oom_score_adj:0\n")
    (g,) = _analyses(group)
    assert g.repeat_of is None and [k.pid for k in g.event.killed] == [200, 301]


def test_a_copy_with_rows_left_out_is_a_repeat_only_when_it_adds_nothing() -> None:
    one = _REPORT.format(t="  100.000001", p=200)
    row_c = "[  100.000001] [    302]  1000   302     9000      100    65536        0             0 c\n"
    short = one.replace(row_c, "[  100.000001] ...\n")
    assert short != one
    a, b = _analyses(one + "the same, shortened:\n" + short)
    assert b.repeat_of == (a.event.start_line, a.event.end_line)
    assert b.reason is not None and "shortened copy" in b.reason and b.ranking is None
    # kept: the shortened copy first (the full one adds rows), and a shortened copy showing a row the first lacks
    x, y = _analyses(short + "the whole report:\n" + one)
    assert x.repeat_of is None and y.repeat_of is None
    other_row = short.replace("[  100.000001] ...\n", "[  100.000001] ...\n" + row_c.replace(" 100 ", " 101 "))
    x, y = _analyses(one + "again:\n" + other_row)
    assert x.repeat_of is None and y.repeat_of is None


# ---- W2: the page size, from exact relations only ------------------------------------------------------------------

def test_64k_pages_from_the_kill_line_total_vm_when_rss_is_0() -> None:
    # 6.12.0-211.el10.ppc64le, line 59: "[ 177372] 0 177372 571 0 0 0 0 51200 96 0 test_zswap" (total_vm 571 pages,
    # rss 0, pgtables_bytes 51200, swapents 96); line 61: "Killed process 177372 ... total-vm:36544kB" (K(total_vm)):
    # 36544 / 571 = 64 exactly. Badness 0 rss + 96 swap + 51200 // 65536 (0) = 96 (with 4 KiB: 51200 // 4096 = 12, 108)
    (a,) = analyses("realoom5", "008")
    assert a.page_kb == 64
    assert any("total-vm 36544 kB against 571 pages" in n for n in a.notes)
    assert a.ranking is not None and a.ranking.page_size == 65536
    v = a.ranking.get(177372)
    assert (v.terms.pgtables, v.terms.points) == (0, 96)
    assert a.verdict == Verdict.AGREES


_MEMCG = """[  100.000001] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[  100.000002] CPU: 1 UID: 0 PID: 10 Comm: a Not tainted {rel} #1
[  100.000003] memory: usage 102400kB, limit 102400kB, failcnt 7
[  100.000004] swap: usage 0kB, limit 0kB, failcnt 0
[  100.000005] Memory cgroup stats for /c:
[  100.000006] Tasks state (memory values in pages):
[  100.000007] [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
[  100.000008] [     10]  1000    10     1000      100      100        0         0   409600        0             0 a
[  100.000009] [     11]  1000    11     1000      150      150        0         0        0        0             0 b
[  100.000010] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/c,task_memcg=/c,\
task=a,pid=10,uid=1000
[  100.000011] Memory cgroup out of memory: Killed process 10 (a) total-vm:{vm}kB, anon-rss:{anon}kB, file-rss:0kB, \
shmem-rss:0kB, UID:1000 pgtables:400kB oom_score_adj:0
"""


def test_an_unknown_page_size_is_said_and_the_choice_that_depends_on_it_is_undecidable() -> None:
    # nothing in kB equals something in pages (total-vm 63936 kB = 999 x 64, anon-rss 6336 kB = 99 x 64: neither is
    # 1000 or 100 pages of any size), every kB value is a multiple of 64, the release names no architecture: the page
    # size is unknown. a: 100 rss + 409600 bytes of page tables = 100 + 100 (4 KiB) = 200 > b 150, but with 64 KiB
    # pages 100 + 6 = 106 < 150: the choice depends on it
    (a,) = _analyses(_MEMCG.format(rel="6.8.0-45-generic", vm=63936, anon=6336))
    assert a.page_kb == 4 and a.verdict == Verdict.UNDECIDABLE
    assert a.reason is not None and "does not show the page size" in a.reason and "64 KiB pages it picks 11" in a.reason
    assert any("page size is not in the report" in n and "page-table term" in n and "T (kB values" in n
               for n in a.notes)
    assert a.domain is not None and a.domain.totalpages == 25600 and not a.domain.exact   # 102400 kB / 4
    # not changed: a release that names x86_64 (4 KiB pages only) decides it: a (200) was killed, as the model says
    (b,) = _analyses(_MEMCG.format(rel="6.8.0-45.el9.x86_64", vm=63936, anon=6336))
    assert b.page_kb == 4 and b.verdict == Verdict.AGREES and not any("page size" in n for n in b.notes)
    # nor a kB value that is no multiple of 8 (only 4 KiB pages print it): anon-rss 6332 kB
    (c,) = _analyses(_MEMCG.format(rel="6.8.0-45-generic", vm=63936, anon=6332))
    assert c.page_kb == 4 and c.verdict == Verdict.AGREES
    # nor the kill line's total-vm against its row: 64000 kB = 1000 pages x 64 KiB: b (150) > a (106) disagrees
    (d,) = _analyses(_MEMCG.format(rel="6.8.0-45-generic", vm=64000, anon=6336))
    assert d.page_kb == 64 and d.domain is not None and d.domain.totalpages == 1600   # 102400 kB / 64
    assert d.ranking is not None and d.ranking.get(10).terms.points == 106 and d.verdict == Verdict.DISAGREES


def test_page_size_relations_are_exact_or_nothing() -> None:
    # anon-rss 6400 kB against rss 100 pages: 64 KiB exactly (63936 kB / 1000 pages of total_vm is no integer: no
    # relation there), and every kB value is a multiple of 64
    (a,) = _analyses(_MEMCG.format(rel="6.8.0-45-generic", vm=63936, anon=6400))
    assert a.page_kb == 64 and any("6400 kB of rss against 100 pages" in n for n in a.notes)
    # a ratio that is close but not exact proves nothing: 6404 kB against 100 pages (64.04) -- and 6404 is no
    # multiple of 8, so only 4 KiB pages can print it
    (b,) = _analyses(_MEMCG.format(rel="6.8.0-45-generic", vm=63936, anon=6404))
    assert b.page_kb == 4 and not any("KiB pages:" in n for n in b.notes)
    # two exact relations that disagree: the page size is not clear (4 KiB assumed, and said)
    (c,) = _analyses(_MEMCG.format(rel="6.8.0-45-generic", vm=64000, anon=400))   # 64 KiB vs 4 KiB
    assert c.page_kb == 4 and any("page size is not clear" in n for n in c.notes)


def test_a_thread_victim_and_the_buddy_lists_show_the_page_size() -> None:
    # the victim 12 is no row (a thread of row 10): its kill line's total-vm and rss equal row 10's at 64 KiB
    text = _MEMCG.format(rel="6.8.0-45-generic", vm=64000, anon=6400).replace("Killed process 10 (a)",
                                                                              "Killed process 12 (a)")
    (a,) = _analyses(text)
    assert a.page_kb == 64 and any("a thread of it" in n for n in a.notes)
    # show_free_areas(): "Node 0 DMA32: 3*64kB 1*128kB ... = 320kB": the order-0 block is one page
    ev = _events("[ 1.0] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n"
                 "[ 1.0] Mem-Info:\n[ 1.0] Node 0 DMA32: 3*64kB (U) 1*128kB (M) = 320kB\n"
                 "[ 1.0] Out of memory: Killed process 9 (a) total-vm:64kB, anon-rss:64kB, file-rss:0kB, "
                 "shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0\n")
    assert ev[0].meminfo is not None and ev[0].meminfo.buddy_page_kb == 64
    assert classify("Node 0 DMA: 1*4kB (U) 1*8kB (U) 0*16kB = 12kB") == (Kind.MEMINFO, ("buddy", 4))


_SCORE = """[  100.000001] a invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0
[  100.000002] CPU: 1 PID: 10 Comm: a Not tainted 3.13.0-44-generic #73-Ubuntu
[  100.000003] memory: usage 40000kB, limit 40000kB, failcnt 7
[  100.000004] memory+swap: usage 40000kB, limit 40000kB, failcnt 0
[  100.000005] [ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name
[  100.000006] [   10]  1000    10    90000     9000       0        0             0 a
[  100.000007] [   11]  1000    11    90000      500       0        0             0 b
[  100.000008] [   12]  1000    12    90000      400       0        0             0 c
[  100.000009] Memory cgroup out of memory: Kill process 10 (a) score {score} or sacrifice child
[  100.000010] Killed process 13 (a-child) total-vm:6400kB, anon-rss:3200kB, file-rss:0kB
"""


def test_a_printed_score_pins_the_page_size_it_is_reproduced_with() -> None:
    # 3.13 memcg: T = limit 40000 kB / page; a: 9000 rss + 0 nr_ptes = 9000 points, score = 9000*1000 // T:
    # 4 KiB -> T 10000 -> 900; 8 KiB -> T 5000 -> 1800; 16 KiB -> T 2500 -> 3600 (40000 kB is a multiple of 64 too:
    # memcg kB values are not used as K() values). Score 900 fits 4 KiB pages only, 3600 16 KiB only. (The child
    # 13 killed in a's place is no row; its 6400 / 3200 kB are multiples of 64 and equal no row's pages.)
    (a,) = _analyses(_SCORE.format(score=900))
    assert a.page_kb == 4 and a.domain is not None and a.domain.totalpages == 10000 and a.domain.exact
    assert not any("page size" in n for n in a.notes) and a.verdict == Verdict.AGREES
    (b,) = _analyses(_SCORE.format(score=3600))
    assert b.page_kb == 16 and b.domain is not None and b.domain.totalpages == 2500
    assert any("printed score 3600 is reproduced with them only" in n for n in b.notes)
