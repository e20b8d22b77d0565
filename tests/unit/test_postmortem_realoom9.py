"""Real OOM reports of sweep 5 (tests/data/postmortem/realoom9, sources in SOURCES.tsv) whose release, era or domain
the log states and oomlens missed, or whose wording said something the log does not: the release printed by the
panic's or a crash's own stack dump, the eras that memory.oom.group, shmem-rss, oom_reaper and the 4.19 no-killable
messages allow, the domain of an OOM that found nothing to kill, T with a swap total carried from an earlier report,
a task table without its header, the page size an earlier report showed, and a report interrupted by a crash.

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md and the kernel
sources named in the comments), not copied from the tool's output."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import Verdict


def _one(name: str):  # type: ignore[no-untyped-def]
    (a,) = analyses("realoom9", name)
    return a


def _events(text: str) -> list:  # type: ignore[type-arg]
    from oomlens.analysis.postmortem import analyze_events
    from oomlens.oomreport import parse_text

    return list(analyze_events(parse_text(text), strict=True))


def _stamp(lines: list[str], t0: float = 100.0) -> str:
    return "".join(f"[{t0 + i * 1e-5:12.6f}] {line}\n" for i, line in enumerate(lines))


# --------------------------------------------------------------------------- L2: the printed release

def test_005_the_panics_own_cpu_line_names_the_release() -> None:
    # "Kernel panic - not syncing: System is deadlocked on memory" is followed by the panic's dump_stack(): "CPU: 4
    # PID: 1 Comm: systemd Kdump: loaded Tainted: G" wrapped before "O      5.4.51-xxx #1" (rejoined: one record
    # with no header of its own on the next line). 5.4.51 is in 5.3-5.8 (no signed badness, 9066e5cfb73c is 5.9).
    # That panic is reached only when the OOM is neither a memcg one nor sysrq-f's (4.19 out_of_memory(): "if
    # (!is_sysrq_oom(oc) && !is_memcg_oom(oc)) panic(...)"): not a memcg OOM.
    a = _one("005")
    assert a.kernel_release == "5.4.51-xxx" and a.era_name == "5.3-5.8"
    assert a.era_source == "printed release 5.4.51-xxx"
    assert any("from the CPU line at line 9 (the panic's own stack dump)" in n for n in a.all_notes)
    assert a.constraint == "CONSTRAINT_NONE"
    assert a.verdict == Verdict.UNDECIDABLE


def test_synthetic_s390_cpu_line_names_the_release() -> None:
    # 003's first report with its records whole (the mail client re-wrapped them): s390's own dump_stack() of 2.6.28
    # prints "CPU: %d %s %s %.*s" (cpu, print_tainted(), release, version up to its first blank) and the task on
    # the next line, "Process %s (pid: %d, task: %p, ksp: %p)" (arch/s390/kernel/traps.c). 2.6.28 is in the
    # 2.6.25-2.6.31 era (legacy heuristic), not the 3.5-3.13 rules the 'pages shared' lines alone allowed.
    head = "Mar 16 21:40:40 t6360003 kernel: "
    lines = ["basename invoked oom-killer: gfp_mask=0xd0, order=2, oomkilladj=0",
             "CPU: 0 Not tainted 2.6.28 #1",
             "Process basename (pid: 30555, task: 000000007baa6838, ksp: 0000000063867968)",
             "Mem-Info:", "Total swap = 1999992kB", "1048576 pages RAM", "20255 pages reserved", "10560 pages shared",
             "878998 pages non-shared",
             "Out of memory: kill process 30502 (cc1) score 3672 or a child", "Killed process 30502 (cc1)"]
    (a,) = _events("".join(head + line + "\n" for line in lines))
    assert a.kernel_release == "2.6.28" and a.era_name == "2.6.25-2.6.31"
    assert a.event.cpu is not None and a.event.cpu.cpu == 0 and a.event.cpu.pid is None
    # the invoked line keeps its own task: the CPU line names none
    assert a.event.invoked is not None and a.event.invoked.pid is None
    # with a taint, and what must not read as one: a line cut before the release, more than one word after it
    from oomlens.oomreport.parse import Kind, classify

    kind, cpu = classify("CPU: 2 Tainted: P      W  2.6.32-foo #3", 1)
    assert kind == Kind.CPU and cpu.release == "2.6.32-foo" and cpu.tainted == "P      W"
    assert classify("CPU: 5 Not tainted", 1)[0] == Kind.NOISE
    assert classify("CPU: 0 Not tainted 2.6.28 #1 SMP extra", 1)[0] == Kind.NOISE
    assert classify("CPU:    0", 1)[0] == Kind.NOISE


_NO_KILL_PANIC = ["Out of memory and no killable processes...",
                  "Kernel panic - not syncing: System is deadlocked on memory"]


def test_synthetic_only_a_cpu_line_after_the_report_of_the_same_boot_names_its_release() -> None:
    cpu = "CPU: 4 PID: 1 Comm: systemd Not tainted 5.4.51-xxx #1"
    (a,) = _events(_stamp(_NO_KILL_PANIC + [cpu, "Call Trace:"]))
    assert a.kernel_release == "5.4.51-xxx"
    # a CPU line stamped before the report (another boot's, lines pasted out of order) names nothing of it
    (b,) = _events(_stamp(_NO_KILL_PANIC) + _stamp([cpu, "Call Trace:"], t0=5.0))
    assert b.kernel_release is None
    # the report's own CPU line wins over one printed after it
    own = ["x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
           "CPU: 0 PID: 77 Comm: x Not tainted 5.10.0-9-amd64 #1"]
    (c,) = _events(_stamp(own + _NO_KILL_PANIC + [cpu]))
    assert c.kernel_release == "5.10.0-9-amd64"
    assert not any("from the CPU line" in n for n in c.all_notes)


# --------------------------------------------------------------------------- L6: what the era range ignored

def test_001_memory_oom_group_dates_the_report() -> None:
    # "Tasks in /A1 are going to be killed due to memory.oom.group set": 4.19 (3d8b38eb81ca; this is a 4.18-rc
    # with the series applied, and RHEL 8's 4.18 carries 4.19's OOM work): 4.18 at the lowest, where the selection
    # line alone allowed 2.6.36-5.0; the era (4.17-5.0) is all the range allows
    a = _one("001")
    assert a.evidence_range == ((4, 18, 0), (5, 0, 9999))
    assert a.era_name == "4.17-5.0" and a.era_range_text is None


def test_004_the_oom_reaper_line_dates_the_report() -> None:
    # the second block: "score 755 or sacrifice child" (2.6.36-5.0), a kill line with shmem-rss (4.5, and RHEL 7's
    # 3.10) and "oom_reaper: reaped process 1036073 (oom02)" (4.6, aac453635549; RHEL 7's last 3.10.0-1160 has no
    # oom_reaper): 4.6-5.0; and its headerless rows have 7 numbers whose 5th (393216) exceeds total_vm (4773), so it is
    # neither nr_ptes (3.6-3.19) nor a cpu (2.6.36-3.5): pgtables_bytes, 4.15+: 4.15-5.0
    evs = analyses("realoom9", "004")
    assert len(evs) == 2
    assert evs[1].evidence_range == ((4, 15, 0), (5, 0, 9999)) and evs[1].era_range_text == "4.15–5.0"


def test_synthetic_message_bounds_and_a_vendor_release_below_them() -> None:
    from oomlens.analysis.postmortem import format_range

    kill = "Killed process 10 (a) total-vm:8kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB"
    reaper = "oom_reaper: reaped process 10 (a), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
    (a,) = _events(_stamp([kill, reaper]))
    assert format_range(a.event)[:2] == ((4, 6, 0), (5, 0, 9999))
    # a release below a message's first mainline release: a vendor backport of a message that changes nothing in
    # the scoring: the release's own rules (a SUSE-like 4.4 with the reaper backported is in 4.0-4.6)
    (b,) = _events(_stamp(["CPU: 1 PID: 10 Comm: a Not tainted 4.4.21-69-default #1", kill, reaper]))
    assert b.era_name == "4.0-4.6" and "a vendor backport" in b.era_source and "oom_reaper lines" in b.era_source
    # a release that contradicts the format itself is still clamped to it (the table, here: 4.15-4.18)
    (c,) = _events(_stamp(["CPU: 1 PID: 10 Comm: a Not tainted 4.4.21-69-default #1",
                           "[ pid ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
                           "[   10]     0    10     1000      500     8192        0             0 a",
                           "[   11]     0    11     1000      400     8192        0             0 b",
                           "[   12]     0    12     1000      300     8192        0             0 c",
                           "Out of memory: Kill process 10 (a) score 1 or sacrifice child", kill]))
    assert c.era_name == "4.15-4.16"
    # the no-killable line of its own and the deadlock panic: 4.19 (RHEL 8's 4.18 too); no bound without them
    (d,) = _events(_stamp(_NO_KILL_PANIC))
    assert format_range(d.event)[:2] == ((4, 18, 0), None)
    (e,) = _events(_stamp(["Kernel panic - not syncing: Out of memory and no killable processes..."]))
    assert format_range(e.event)[0] == (0, 0, 0)


# --------------------------------------------------------------------------- L5: the domain of a no-killable OOM

def test_006_no_panic_before_the_next_report_makes_a_memcg_oom() -> None:
    # 4.19 out_of_memory(): after "Out of memory and no killable processes..." it panics unless is_memcg_oom() or
    # is_sysrq_oom(); the next "invoked oom-killer" is printed under oom_lock, which the panicking CPU never
    # releases: each of the 21 reports followed by the next one (same boot, later stamps) was no global OOM, and
    # its order=0 is no sysrq-f (order=-1): a memcg OOM. The first (line 8, its invoked line is not in the excerpt)
    # may be sysrq-f's; after the last nothing follows: both stay unknown.
    evs = analyses("realoom9", "006")
    assert len(evs) == 23
    assert [a.constraint for a in evs[1:22]] == ["CONSTRAINT_MEMCG"] * 21
    assert evs[0].constraint == "unknown" and evs[22].constraint == "unknown"
    assert any("next OOM report follows at line 9" in n and "sysrq-f" in n for n in evs[0].all_notes)
    assert any("next OOM report follows at line 11" in n for n in evs[1].all_notes)
    assert all(a.verdict == Verdict.UNDECIDABLE for a in evs)


def test_011_no_killable_at_the_end_of_the_log_leaves_the_domain_unknown() -> None:
    # nothing the kernel printed follows the line (shell prompts): whether it panicked is not in the log
    a = _one("011")
    assert a.constraint == "unknown"
    assert any("no panic follows in the log" in n and "memcg" in n for n in a.all_notes)


def test_synthetic_what_a_no_killable_line_shows_of_the_domain() -> None:
    inv = "a.out invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), nodemask=(null), order={o}, oom_score_adj=0"
    nk = "Out of memory and no killable processes..."
    (a, _) = _events(_stamp([inv.format(o=0), nk, inv.format(o=0), nk]))
    assert a.constraint == "CONSTRAINT_MEMCG"
    # sysrq-f (order=-1) does not panic either: not a memcg OOM for that
    (b, _) = _events(_stamp([inv.format(o=-1), nk, inv.format(o=0), nk]))
    assert b.constraint == "unknown"
    # the next report is stamped before it: another boot's, it proves nothing
    (c, _) = _events(_stamp([inv.format(o=0), nk], t0=100.0) + _stamp([inv.format(o=0), nk], t0=5.0))
    assert c.constraint == "unknown"
    # the panic follows: global
    (d,) = _events(_stamp([inv.format(o=0)] + _NO_KILL_PANIC))
    assert d.constraint == "CONSTRAINT_NONE"


# --------------------------------------------------------------------------- T1: T's swap from an earlier report

def test_003_t_says_where_its_swap_comes_from() -> None:
    # T = pages RAM 1048576 - reserved 20255 + Total swap 1999992 kB / 4 = 1028321 + 499998 = 1528319 in every
    # report of this host (the swap total is the first report's where a report does not print its own): the text
    # never says the swap was not printed while counting it. The page size: the first report's buddy lists
    # ("101853*4kB"...) show 4 KiB pages; the same host's later reports show none and are not "assumed" any more.
    # (Where the 2.6.28 release printed in the re-wrapped CPU lines is read, the legacy heuristic has no T at all.)
    # The re-wrapped CPU lines are rejoined (realoom8), so the printed 2.6.28 is read: every report is scored by
    # the legacy heuristic, which has no T, and says so (the rule itself: test_synthetic_t_with_the_swap_total_...).
    evs = analyses("realoom9", "003")
    assert len(evs) == 4 and all(a.era is not None and a.era.name == "2.6.25-2.6.31" for a in evs)
    assert all(a.totalpages is None and "legacy heuristic does not use one" in (a.totalpages_how or "") for a in evs)
    assert not any("Total swap not printed" in (a.totalpages_how or "") for a in evs)
    assert all(a.page_kb == 4 for a in evs)
    assert not any("page size is not in the report" in n for a in evs for n in a.all_notes)


def test_synthetic_t_with_the_swap_total_of_an_earlier_report() -> None:
    # T = 262144 - 6144 + 8192 kB / 4 = 256000 + 2048 = 258048 in both reports; the second prints no swap total
    cpu = "CPU: 0 PID: 1 Comm: a Not tainted 3.16.0-4-amd64 #1"
    head = ["Mem-Info:", "262144 pages RAM", "6144 pages reserved"]
    sel = "Out of memory: Kill process 2 (b) score 1 or sacrifice child"
    a, b = _events(_stamp([cpu, *head, "Total swap = 8192kB", sel]) + _stamp([cpu, *head, sel], t0=200.0))
    assert a.totalpages == b.totalpages == 258048
    assert "2048 swap pages (the Total swap of an earlier report of this host" in (b.totalpages_how or "")


def test_synthetic_a_report_with_its_own_swap_total_and_one_without_any() -> None:
    head = ["Mem-Info:", "262144 pages RAM", "6144 pages reserved"]
    (a,) = _events(_stamp(["CPU: 0 PID: 1 Comm: a Not tainted 3.16.0-4-amd64 #1", *head, "Total swap = 8192kB",
                           "Out of memory: Kill process 2 (b) score 1 or sacrifice child"]))
    assert "Total swap 8192 kB / 4 kB per page" in (a.totalpages_how or "") and a.totalpages == 256000 + 2048
    (b,) = _events(_stamp(["CPU: 0 PID: 1 Comm: a Not tainted 3.16.0-4-amd64 #1", *head,
                           "Out of memory: Kill process 2 (b) score 1 or sacrifice child"]))
    assert "Total swap not printed (counted as 0)" in (b.totalpages_how or "") and b.totalpages == 256000


# --------------------------------------------------------------------------- T2: table columns, page size, eligibility

def test_004_rows_without_their_header_are_no_format_without_swap() -> None:
    # the second block's rows carry pgtables_bytes and swapents ("6258739  3540314 37814272 104 0 oom02"): only
    # their header was left out of the excerpt, so the columns after rss are not absent; 7 numbers whose 5th exceeds
    # total_vm (neither nr_ptes nor a cpu number) can only be 4.15+'s pgtables_bytes swapents oom_score_adj
    a = analyses("realoom9", "004")[1]
    notes = a.all_notes
    assert any("without their header" in n and "pgtables_bytes swapents oom_score_adj" in n for n in notes)
    (oom02,) = [r for r in a.event.table.rows if r.pid == 1036073]
    assert (oom02.pgtables_bytes, oom02.swapents, oom02.oom_score_adj) == (37814272, 104, 0)
    assert not any("this table format has no swap or page-table columns" in n for n in notes)


def test_004_no_killable_although_rows_look_eligible() -> None:
    # the first block: "Out of memory and no killable processes..." under a table whose rows with an
    # oom_score_adj above -1000 are dbus-daemon (-900), rtkit-daemon, DetectThread, at-spi2-registr, five
    # QXcbEventQueue, fcitx, runltp, systemd-journal (-250) and oom02 1036087: 13 of 17 (sshd, systemd-udevd and two
    # oom02 are at -1000). Mainline 4.19 skips an adj > -1000 task only for MMF_OOM_SKIP or vfork (oom_badness()),
    # which a table does not show: the note says so, it does not call them killable
    a = analyses("realoom9", "004")[0]
    assert a.event.table is not None and len(a.event.table.rows) == 17
    (note,) = [n for n in a.all_notes if "found no killable process, yet" in n]
    assert "13 row(s)" in note and "2578 (dbus-daemon, adj -900)" in note and "MMF_OOM_SKIP" in note


def test_synthetic_rows_that_look_eligible_under_no_killable() -> None:
    def report(adj_b: int) -> object:
        rows = ["Tasks state (memory values in pages):",
                "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
                "[     10]     0    10     1000      500     8192        0         -1000 a",
                f"[     11]     0    11     1000      400     8192        0         {adj_b:>5} b"]
        (a,) = _events(_stamp(["x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), nodemask=(null), order=0, "
                               "oom_score_adj=0", *rows, *_NO_KILL_PANIC]))
        return a

    assert any("1 row(s)" in n and "11 (b, adj -999)" in n for n in report(-999).all_notes)  # type: ignore[attr-defined]
    # every row at -1000: what the kernel says, no note
    assert not any("found no killable process, yet" in n for n in report(-1000).all_notes)  # type: ignore[attr-defined]


def _kill_report(t0: float, with_kill: bool) -> str:
    # 64 KiB pages shown by the kill line against the victim's row: total-vm 64000 kB = 1000 pages of 64 KiB, and
    # anon 32000 + file 0 + shmem 0 = 32000 kB = 500 pages
    lines = ["x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
             "Tasks state (memory values in pages):",
             "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
             "[     10]  1000    10     1000      500   131072        0             0 a",
             "[     11]  1000    11     1000      400   131072        0             0 b",
             "[     12]  1000    12     1000      300   131072        0             0 c",
             "Out of memory: Kill process 10 (a) score 1 or sacrifice child"]
    if with_kill:
        lines.append("Killed process 10 (a) total-vm:64000kB, anon-rss:32000kB, file-rss:0kB, shmem-rss:0kB")
    return _stamp(lines, t0)


def test_synthetic_the_page_size_of_an_earlier_report_of_the_same_boot() -> None:
    # the second report shows no page size itself: the first's 64 KiB carries over (same source, later stamps)
    a, b = _events(_kill_report(100.0, True) + _kill_report(200.0, False))
    assert a.page_kb == 64 and b.page_kb == 64
    assert any("64 KiB pages, as an earlier report of this host shows" in n for n in b.all_notes)
    # after a reboot (the stamps go back) nothing carries over: assumed, and said so
    c, d = _events(_kill_report(100.0, True) + _kill_report(50.0, False))
    assert c.page_kb == 64 and d.page_kb == 4
    assert any("page size is not in the report" in n for n in d.all_notes)


# --------------------------------------------------------------------------- T5: a crash instead of the kill line

def test_007_a_crash_after_the_selection_line_is_said() -> None:
    # "Memory cgroup out of memory: Kill process 15858 (syz-executor1) score 1148 or sacrifice child", then a KASAN
    # use-after-free in oom_kill_process (its CPU line at line 24: "CPU: 1 PID: 15817 Comm: syz-executor1 Not
    # tainted 5.0.0-rc2+ #29"): the input goes on, but with a crash instead of the kill line
    a = _one("007")
    assert any("a kernel stack dump follows it instead (the CPU line at line 24" in n for n in a.all_notes)
    assert not any("input ends or was filtered" in n for n in a.all_notes)
    assert a.kernel_release == "5.0.0-rc2+" and a.era_name == "4.17-5.0"


def test_synthetic_a_stack_dump_or_the_end_of_the_input_after_the_selection_line() -> None:
    sel = "Memory cgroup out of memory: Kill process 10 (a) score 900 or sacrifice child"
    (a,) = _events(_stamp([sel, "CPU: 1 PID: 15 Comm: a Not tainted 5.0.0 #1", "Call Trace:"]))
    assert any("a kernel stack dump follows it instead (the CPU line at line 2" in n for n in a.all_notes)
    # at the end of the input: as before
    (b,) = _events(_stamp([sel]))
    assert any("selection line without a 'Killed process' line (input ends or was filtered)" in n
               for n in b.all_notes)
    # the stack dump is the next report's (its header ratelimited): no crash, and it names the release still
    c, _ = _events(_stamp([sel, "CPU: 1 PID: 15 Comm: a Not tainted 4.19.0 #1", "Call Trace:", " dump_stack+0x5c/0x80",
                           " oom_kill_process+0x2c2/0x400", " out_of_memory+0x11d/0x4b0",
                           "memory: usage 4096kB, limit 4096kB, failcnt 10",
                           "Memory cgroup out of memory: Kill process 11 (b) score 900 or sacrifice child"]))
    assert not any("stack dump follows it instead" in n for n in c.all_notes)
    assert c.kernel_release == "4.19.0"
    assert any("(the next report's stack dump)" in n for n in c.all_notes)


# --------------------------------------------------------------------------- T6: an empty table the kernel explains

def test_010_an_empty_table_before_no_killable_is_no_filtered_log() -> None:
    # swapper/0 at 1.94 s (unpacking the initramfs): the table header, no row, then "Out of memory and no killable
    # processes...": dump_tasks() lists every process the OOM could choose (adj -1000 ones too), and there was none
    a = _one("010")
    assert not any("filtered log" in n for n in a.all_notes)
    assert any("the task table has no rows, as the kernel says right after it" in n for n in a.all_notes)
    assert a.totalpages == 51359 - 23450  # 27909: RAM - reserved, no swap


def test_synthetic_an_empty_table_before_no_killable_or_before_a_kill() -> None:
    head = ["x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
            "Tasks state (memory values in pages):",
            "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"]
    (a,) = _events(_stamp(head + _NO_KILL_PANIC))
    assert any("the task table has no rows, as the kernel says" in n for n in a.all_notes)
    assert a.event.table is not None and not a.event.table.truncated
    # before a kill line an empty table is still suspect
    (b,) = _events(_stamp(head + ["Out of memory: Killed process 10 (a) total-vm:8kB, anon-rss:4kB, file-rss:0kB, "
                                  "shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"]))
    assert any("the task table header has no rows (filtered log?)" in n for n in b.all_notes)
