"""Real OOM reports of sweep 6 (tests/data/postmortem/realoom11, sources in SOURCES.tsv), checked by hand.

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md), not copied
from the tool's output."""

from __future__ import annotations

import io

from realdata import analyses

from oomlens.analysis.postmortem import analyze_events
from oomlens.cli.render import Screen, Writer, postmortem_event
from oomlens.oomreport import parse_text


def _events(text: str) -> list:  # type: ignore[type-arg]
    return list(analyze_events(parse_text(text), strict=True))


def _stamp(lines: list[str], t0: float = 100.0) -> str:
    return "".join(f"[{t0 + i * 1e-5:12.6f}] {line}\n" for i, line in enumerate(lines))


def _human(a, verbose: bool = False) -> str:  # type: ignore[no-untyped-def]
    w = Writer(Screen(False, None, None))
    w._out = io.StringIO()
    postmortem_event(a, verbose=verbose, writer=w)
    return w._out.getvalue()  # type: ignore[attr-defined,no-any-return]


def _row(a, pid: int):  # type: ignore[no-untyped-def]
    (r,) = [r for r in a.event.table.rows if r.pid == pid]
    return r


# --------------------------------------------------------------------------- L1: headerless rows, layout by count


def test_019_ten_numbers_are_the_6_8_layout() -> None:
    # "1000 4076 14983560 11204801 11203232 1569 0 118214656 3073656 200 mprime": 10 numbers after the pid, only
    # 6.8+'s uid tgid total_vm rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj (and rss
    # 11204801 = 11203232 + 1569 + 0). mprime: 11204801 + 3073656 + 118214656 // 4096 (28861) = 14307318 pages
    (a,) = analyses("realoom11", "019")
    assert a.event.table.variant == "6.8"
    mp = _row(a, 4076)
    assert (mp.swapents, mp.pgtables_bytes, mp.oom_score_adj) == (3073656, 118214656, 200)
    assert a.evidence_range[0] == (6, 8, 0)
    assert any("without their header" in n and "6.8+ layout" in n for n in a.all_notes)
    # the rows may still be a part of the table: not a verdict
    assert a.event.table.truncated


def test_008_eight_numbers_are_the_4_0_layout() -> None:
    # "0 2737 2362 1506 8 0 0 0 dhcpd": 8 numbers, only 4.0-4.14's nr_ptes nr_pmds swapents oom_score_adj. The 4.0-4.14
    # rules take 3% off a root task: dhcpd 1506 + 8 = 1514 - 1514*3//100 (45) = 1469
    (a,) = analyses("realoom11", "008")
    assert a.event.table.variant == "4.0"
    assert a.evidence_range == ((4, 0, 0), (4, 14, 9999))
    assert a.era_name == "4.8-4.14"
    assert _row(a, 2737).nr_ptes == 8


def test_002_a_fifth_number_above_total_vm_is_pgtables_bytes() -> None:
    # "1004 29541 13691125 7552481 61505536 0 0 java": 7 numbers (2.6.36-3.5, 3.6-3.19 or 4.15+). 61505536 is
    # neither a cpu number (NR_CPUS <= 8192) nor nr_ptes (more page tables than the 13691125 pages mapped):
    # pgtables_bytes, 61505536 // 4096 = 15016 pages
    (a,) = analyses("realoom11", "002")
    assert a.event.table.variant == "4.15-6.7"
    assert _row(a, 29541).pgtables_bytes == 61505536
    assert a.evidence_range[0] == (4, 15, 0)


def test_006_the_kill_lines_uid_dates_seven_numbers() -> None:
    # 7 numbers; the kill line's "UID:0 pgtables:24kB" (5.3/5.4+) leaves pgtables_bytes: hostapd 24576 bytes = the
    # kill line's 24 kB; 279 + 24576 // 4096 (6) = 285
    (a,) = analyses("realoom11", "006")
    assert a.event.table.variant == "4.15-6.7"
    assert _row(a, 4183).pgtables_bytes == 24576


def test_010_a_kill_line_without_shmem_dates_seven_numbers() -> None:
    # "10000 19715 804134 76447 322 47965 0 java": the kill line has no shmem-rss (2.6.36-4.4), and 47965 is no
    # oom_adj (-17..15) of 2.6.36-3.5: 3.6-3.19's nr_ptes 322, swapents 47965
    a = analyses("realoom11", "010")[0]
    assert a.event.table.variant == "3.6"
    r = _row(a, 19715)
    assert (r.nr_ptes, r.swapents, r.oom_score_adj) == (322, 47965, 0)


def test_synthetic_seven_numbers_that_no_evidence_dates_stay_unmapped() -> None:
    # 7 small numbers fit 2.6.36 (cpu 1, oom_adj 0), 3.6 and 4.15+ alike: nothing is inferred
    text = _stamp(["[ 100]     0   100     5000     1000        1        0             0 foo",
                   "Out of memory: Kill process 100 (foo) score 10 or sacrifice child"])
    (a,) = _events(text)
    assert a.event.table.columns == () and a.event.table.variant == "headerless"
    assert any("only uid, tgid, total_vm and rss could be mapped" in n for n in a.all_notes)


def test_synthetic_rows_of_different_counts_or_a_contradicting_era_stay_unmapped() -> None:
    mixed = _stamp(["[ 100]     0   100     5000     1000        1        0        0             0 foo",
                    "[ 101]     0   101     5000     1000        1        0             0 bar",
                    "Out of memory: Kill process 100 (foo) score 10 or sacrifice child"])
    (a,) = _events(mixed)
    assert a.event.table.columns == ()
    # 8 numbers (4.0-4.14) under a kill line with UID: (5.3+): no mainline kernel printed both
    late = _stamp(["[ 100]     0   100     5000     1000        1        0        0             0 foo",
                   "Out of memory: Killed process 100 (foo) total-vm:20000kB, anon-rss:4000kB, file-rss:0kB, "
                   "shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0"])
    (b,) = _events(late)
    assert b.event.table.columns == ()
    # 10 numbers whose rss is not rss_anon + rss_file + rss_shmem: not 6.8's
    bad = _stamp(["[ 100]     0   100     5000     1000      10       10        0    40960        0             0 foo",
                  "Out of memory: Kill process 100 (foo) score 10 or sacrifice child"])
    (c,) = _events(bad)
    assert c.event.table.columns == ()


# --------------------------------------------------------------------------- L2: a level label glued to a syslog header


def test_014_a_level_label_glued_before_the_syslog_header() -> None:
    # "error:Jul 13 15:55:12 rocketmq-3 kernel: Out of memory: Kill process 2395 (java) score 908 or sacrifice child"
    (a,) = analyses("realoom11", "014")
    assert a.event.selection is not None and (a.event.selection.pid, a.event.selection.score) == (2395, 908)
    assert a.event.host == "rocketmq-3"


def test_synthetic_only_a_level_word_before_a_whole_syslog_header_is_peeled() -> None:
    from oomlens.oomreport.normalize import normalize_line

    (ll,) = normalize_line("WARNING:Jul 13 15:55:12 h1 kernel: Out of memory: Kill process 1 (x) score 9 or "
                           "sacrifice child")
    assert ll.host == "h1" and ll.text.startswith("Out of memory:") and "level-label" in ll.wrappers
    # another word, or a level not followed by a syslog header: the line is left as it is
    for raw in ("remark:Jul 13 15:55:12 h1 kernel: Out of memory: Kill process 1 (x) score 9 or sacrifice child",
                "error:Out of memory: Kill process 1 (x) score 9 or sacrifice child"):
        (ll,) = normalize_line(raw)
        assert ll.prefix == "bare" and ll.text == raw


# --------------------------------------------------------------------------- L4: the summary line's victim in the text


def test_004_the_summary_lines_victim_is_shown_without_a_kill_line() -> None:
    # "oom-kill:constraint=CONSTRAINT_NONE,...,task=broker-server,pid=447791,uid=0" and no 'Killed process' line:
    # dump_oom_summary() names the task the kernel chose
    a = analyses("realoom11", "004")[0]
    text = _human(a)
    assert "kernel selected: 447791 (broker-server) — named by the oom-kill: summary line" in text
    assert "kernel killed: (not in the log)" in text


def test_synthetic_a_selection_line_is_shown_rather_than_the_summary() -> None:
    # (5.0 prints the summary in dump_header(), before the selection line)
    text = _stamp(["oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
                   "task_memcg=/,task=foo,pid=100,uid=0",
                   "Out of memory: Kill process 100 (foo) score 10 or sacrifice child"])
    (a,) = _events(text)
    out = _human(a)
    assert "kernel selected: 100 (foo) score 10" in out and "named by the oom-kill: summary line" not in out


# --------------------------------------------------------------------------- T2: grep -H and logread prefixes


def test_004_grep_file_names_are_peeled_and_the_host_kept() -> None:
    # "/var/log/syslog.1:Oct 23 02:47:38 lavm-d5tyzgcsgg kernel: [15400497.675793] sshd invoked oom-killer: ..."
    a = analyses("realoom11", "004")[0]
    assert a.event.host == "lavm-d5tyzgcsgg"
    assert not any("console output" in n for n in a.all_notes)


def test_011_logread_prefixes_are_a_log_format_not_console_output() -> None:
    # "Sat Jan 25 09:40:15 2020 kern.warn kernel: [22042.640420] ubusd invoked oom-killer: ..." (ubox logread's
    # "%s %s.%s%s %s": ctime, facility.priority, " kernel:" for the kernel's messages)
    evs = analyses("realoom11", "011")
    assert len(evs) == 2
    for a in evs:
        assert not any("console output" in n for n in a.all_notes)
    assert evs[1].event.invoked is not None and evs[1].event.invoked.comm == "ubusd"


def test_synthetic_grep_and_logread_prefixes() -> None:
    from oomlens.oomreport.normalize import normalize_line

    (ll,) = normalize_line("kern.log:Oct 23 02:47:38 h1 kernel: [ 12.000001] Out of memory: Kill process 1 (x) "
                           "score 9 or sacrifice child")
    assert ll.host == "h1" and ll.uptime == 12.000001 and ll.text.startswith("Out of memory") and ll.trusted
    (ll,) = normalize_line("/var/log/messages:12:Oct 23 02:47:38 h1 kernel: Out of memory: Kill process 1 (x)")
    assert ll.host == "h1" and ll.text.startswith("Out of memory")
    (ll,) = normalize_line("Sat Jan  5 09:40:15 2020 kern.err kernel: [  5.100000] Killed process 1 (x)")
    assert ll.prefix == "logread" and ll.trusted and ll.text == "Killed process 1 (x)"
    # a program's message through logread is no kernel output
    (ll,) = normalize_line("Sat Jan 25 09:40:15 2020 daemon.info dnsmasq[12]: Killed process 1 (x)")
    assert not ll.trusted
    # a path not followed by a record header stays text
    for raw in ("/etc/foo.conf:Out of memory: Kill process 1 (x)", "syslog:no header here"):
        (ll,) = normalize_line(raw)
        assert ll.prefix == "bare" and ll.text == raw


def test_006_with_a_kill_line_the_summary_adds_no_selected_line() -> None:
    a = analyses("realoom11", "006")[0]
    text = _human(a)
    assert "kernel killed: 4183 (hostapd)" in text and "named by the oom-kill: summary line" not in text


# --------------------------------------------------------------------------- L3/T4: lines cut by the excerpt


def test_005_a_selection_line_cut_before_its_pid_is_an_oom_of_its_own() -> None:
    # line 12, 22:49:22 (9 minutes after the 10th): "Memory cgroup out of memory:" and nothing more
    evs = analyses("realoom11", "005")
    assert len(evs) == 11
    last = evs[-1]
    assert last.event.start_line == 12
    assert any("line 12:" in n and "cut short before its pid" in n for n in last.all_notes)
    assert not any("line 12" in n for n in evs[-2].all_notes)


def test_006_a_cut_reaper_line_is_called_cut_short() -> None:
    # "oom_reaper: reaped process 418" (the excerpt stops inside the pid or after it)
    a = analyses("realoom11", "006")[0]
    assert any("line 15: oom_reaper line cut short" in n for n in a.all_notes)
    assert not any("not understood" in n for n in a.all_notes)


def test_synthetic_cut_heads_and_lines_that_are_not_cut() -> None:
    from oomlens.oomreport.parse import cut_oom_head, cut_reaper

    assert cut_oom_head("Out of memory: Kill proc") is not None
    assert cut_oom_head("Memory cgroup out of memory:") is not None
    assert cut_oom_head("Out of memory: Compact memory now") is None
    assert cut_oom_head("Out of memory") is None
    assert cut_reaper("oom_reaper: reaped process 418") and cut_reaper("oom_reaper: reaped process 418 (hos")
    assert not cut_reaper("oom_reaper: unable to reap pid:418 (hostapd)")


# --------------------------------------------------------------------------- T3: a wrap inside the gfp flags


def test_017_a_wrap_inside_the_gfp_flags_is_rejoined_without_a_blank() -> None:
    # "gfp_mask=0x15080c0(GFP_KE" / "> RNEL_ACCOUNT|__GFP_ZERO), nodemask=(null),  order=1, oom_score_adj=0"
    (a,) = analyses("realoom11", "017")
    assert a.event.invoked is not None and a.event.invoked.gfp_flags == "GFP_KERNEL_ACCOUNT|__GFP_ZERO"


def test_synthetic_a_wrap_elsewhere_keeps_its_blank() -> None:
    from oomlens.oomreport.events import _wrap_sep

    assert _wrap_sep("x invoked oom-killer: gfp_mask=0x15080c0(GFP_KE", "RNEL_ACCOUNT|__GFP_ZERO), order=1") == ""
    assert _wrap_sep("x invoked oom-killer: gfp_mask=0x15080c0(GFP_KERNEL|", "__GFP_ZERO), order=1") == ""
    # after the flags, or outside any: the wrap replaced a blank
    assert _wrap_sep("x invoked oom-killer: gfp_mask=0x15080c0(GFP_KERNEL),", "nodemask=(null), order=1") == " "
    assert _wrap_sep("Killed process 1 (x) total-vm:10kB,", "anon-rss:1kB, file-rss:0kB") == " "


def test_synthetic_a_selection_line_wrapped_after_its_head_is_rejoined() -> None:
    text = ("Oct 14 10:22:40 h kernel: Memory cgroup out of memory:\n"
            "  Kill process 2687 (sh) score 0 or sacrifice child\n"
            "Oct 14 10:22:40 h kernel: Killed process 2687 (sh) total-vm:113124kB, anon-rss:200kB, file-rss:0kB\n")
    (a,) = _events(text)
    assert a.event.selection is not None and (a.event.selection.pid, a.event.selection.score) == (2687, 0)
    assert not any("cut short" in n for n in a.all_notes)
