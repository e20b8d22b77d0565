"""Real OOM reports in shapes the parser did not read (tests/data/postmortem/realoom7, sources in SOURCES.tsv): a
Cloud Logging JSON export, a terminal's wrap padding, an rsyslog template prefix, an OOM line glued to a call-trace
line. Checked by hand.

Every expected value is worked out by hand from the log text and the kernel's rules (kernel-oom-spec.md), not
copied from the tool's output. Each test fails on the parser before these repairs (f8c6f06)."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import Verdict


def test_a_cloud_logging_json_export_gives_its_two_invocations() -> None:
    # lines 9 and 29: "textPayload": "[195998.443208] node invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0,
    # oom_score_adj=991\\r\\n" (the serial console's text escaped once more: "\\r\\n" is its line end), the same
    # for ZMQbg/IO/0 at 196120.737205; the other 18 lines of each entry are JSON around them
    first, second = analyses("realoom7", "017")
    for a, comm, line, uptime in ((first, "node", 9, 195998.443208), (second, "ZMQbg/IO/0", 29, 196120.737205)):
        inv = a.event.invoked
        assert inv is not None and (inv.comm, inv.gfp_mask, inv.order, inv.oom_score_adj) == (comm, 0xCC0, 0, 991)
        assert a.event.start_line == line and a.event.uptime == uptime
        # the excerpt holds nothing but the invoked lines: no kill, no table
        assert not a.event.killed and a.verdict == Verdict.UNDECIDABLE


def test_records_padded_by_an_80_column_terminal_are_rejoined() -> None:
    # each wrapped record's first row is padded with blanks to column 197 and its rest follows: line 4
    # "... score 895 or sacrifice<118 blanks>child", line 5 "anon-rss:832856k<117 blanks>B, file-rss:2788kB, ..",
    # line 6 "file-<117 blanks>rss:0kB"; 117 blanks are the padding (197 - 80), 118 = the padding + the record's
    # own blank between "sacrifice" and "child"; a row's 130 = 117 + the 13 blanks 4.14 prints before
    # oom_score_adj ("%8lu         %5hd")
    (a,) = analyses("realoom7", "018")
    ev = a.event
    assert ev.selection is not None and (ev.selection.pid, ev.selection.name, ev.selection.score) == (6155, "python", 895)
    assert ev.selection.wording == "or sacrifice child"
    (k,) = ev.killed
    assert (k.pid, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) == (6155, 1054044, 832856, 2788, 0)
    assert [(r.pid, r.reaped, r.anon_rss_kb, r.file_rss_kb) for r in ev.reaped] == [(6155, True, 0, 0)]
    # the three rows (no header: the excerpt starts at them): uid, tgid, total_vm, rss and the name
    assert ev.table is not None
    assert [(r.pid, r.uid, r.total_vm, r.rss, r.name) for r in ev.table.rows] == [
        (5602, 1001, 9909, 721, "python2.7"), (6150, 0, 2476, 309, "pigpiod"), (6155, 1000, 263511, 208911, "python")]
    assert any("wrap padding" in n for n in ev.notes)
    # rows without their header: other candidates may be missing
    assert a.verdict == Verdict.UNDECIDABLE


def test_an_rsyslog_template_prefix_is_peeled_not_taken_for_console_output() -> None:
    # "warning|kernel[-]|[2919920.414131] memhog invoked oom-killer: ..", "info|kernel[-]|[2919920.414220] memory:
    # usage 81920kB, limit 81920kB, failcnt 30", "err|kernel[-]|[..] Memory cgroup out of memory: Killed process
    # 2021820 (memhog) ..": rsyslog's "%syslogseverity-text%|%programname%[%procid%]|" on every line
    first, second, third, fourth = analyses("realoom7", "024")
    for a, comm, uptime, failcnt, victim in ((first, "memhog", 2919920.414131, 30, 2021820),
                                             (second, "main", 2925796.529231, 199, 3238866)):
        ev = a.event
        assert ev.invoked is not None and ev.invoked.comm == comm and ev.uptime == uptime
        assert "rsyslog-template" in ev.format_hints
        # T = the memcg limit 81920 kB / 4 kB = 20480 pages
        assert ev.memcg is not None and (ev.memcg.limit_kb, ev.memcg.failcnt) == (81920, failcnt)
        assert a.domain is not None and a.domain.totalpages == 20480
        assert [k.pid for k in ev.killed] == [victim]
        # the template is a record header, not console output sharing the line
        assert not any("console output" in n or "dropped" in n for n in ev.notes)
    # the two "kernel: [ ..]" excerpts are as before
    assert [k.pid for k in third.event.killed] == [1822] and [k.pid for k in fourth.event.killed] == [1734]


def test_an_oom_killer_line_glued_to_a_call_trace_line_is_a_second_report() -> None:
    # line 29: " [__alloc_pages+623/795] __alloc_pages+0x26f/0x31boom-killer: gfp_mask=0xd0, order=1": the frame of
    # line 27's report ("623/795" = "0x26f/0x31b": whole), then a second CPU's "oom-killer: gfp_mask=0xd0, order=1"
    evs = analyses("realoom7", "022")
    assert [a.event.start_line for a in evs] == [27, 29, 145, 147]
    first, second, third, _ = evs
    for a in (first, second):
        assert a.event.invoked is not None and (a.event.invoked.gfp_mask, a.event.invoked.order) == (0xD0, 1)
        assert any("glued to a call-trace line" in n and "either report" in n for n in a.event.notes)
    # the two CPUs' dumps are interleaved after it: the kills (children 4368, 4375 of 1810) follow the second
    assert not first.event.killed
    assert second.event.selection is not None and second.event.selection.score == 50338
    assert [k.pid for k in second.event.killed] == [4368] and [k.pid for k in third.event.killed] == [4375]
