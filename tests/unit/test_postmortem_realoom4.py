"""Real OOM reports that a paste, a mail client or a console mangled (tests/data/postmortem/realoom4, sources in
SOURCES.tsv), checked by hand.

Every expected value is worked out by hand from the log text and the kernel's rules (kernel-oom-spec.md), not
copied from the tool's output. Each test fails on the parser before these repairs (7f6f422)."""

from __future__ import annotations

from dataclasses import replace

from realdata import analyses

from oomlens.analysis.postmortem import Verdict


def test_console_output_glued_before_the_first_stamp_is_dropped_and_noted() -> None:
    # line 1: "Running sysctl: [ 5201.325838] klogd invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), .."
    # (a serial console: userspace's "Running sysctl: " and the kernel's record share the line)
    (a,) = analyses("realoom4", "001")
    ev = a.event
    assert ev.invoked is not None and ev.invoked.comm == "klogd"
    # "CPU: 0 PID: 50 Comm: klogd Not tainted 5.0.9 #1" names the same task: its pid is the allocating task's
    assert ev.invoked.pid == 50
    assert ev.start_line == 1 and ev.uptime == 5201.325838
    assert any("'Running sysctl:'" in n and "dropped" in n for n in ev.notes)
    assert not any("left unknown" in n for n in a.notes)
    # rcS: 21 rss + 12288 B / 4 KiB = 3 page-table pages = 24 of T = 2048 - 978 = 1070 pages: 24 * 1000 // 1070 = 22,
    # the printed score; klogd 20 + 3 = 23
    assert a.verdict == Verdict.AGREES and a.model_victim is not None and a.model_victim.pid == 38


def test_a_syslog_month_glued_after_the_selection_wording_is_split_off() -> None:
    # "Out of memory: Kill process 28536 (java) score 673 or sacrifice childSep " (the next line's "Sep" glued on)
    (a,) = analyses("realoom4", "002")
    sel = a.event.selection
    assert sel is not None and (sel.pid, sel.name, sel.score) == (28536, "java", 673)
    assert sel.wording == "or sacrifice child" and sel.lineno == 1
    assert [k.pid for k in a.event.killed] == [28536]
    assert a.event.start_line == 1
    assert any(n.startswith("line 1: ") and "glued" in n for n in a.event.notes)


def test_a_mail_wrapped_report_is_rejoined_row_by_row() -> None:
    (a,) = analyses("realoom4", "003")
    ev = a.event
    # "CPU: 11 PID: 2992 Comm: irqbalance Tainted: G        W" + "I     4.9.0-rc3 #1"
    assert ev.kernel_release == "4.9.0-rc3" and ev.invoked is not None and ev.invoked.pid == 2992
    t = ev.table
    # "[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds" + "swapents oom_score_adj name"
    assert t is not None and t.columns[-3:] == ("swapents", "oom_score_adj", "name")
    assert len(t.rows) == 46 and not t.truncated
    rows = {r.pid: r for r in t.rows}
    # "[ 1912]     0  1912    10572     1903      27       3" + "    58             0 systemd-journal"
    r = rows[1912]
    assert (r.uid, r.tgid, r.total_vm, r.rss, r.nr_ptes, r.nr_pmds, r.swapents, r.oom_score_adj, r.name) == (
        0, 1912, 10572, 1903, 27, 3, 58, 0, "systemd-journal")
    assert (rows[1915].swapents, rows[1915].oom_score_adj, rows[1915].name) == (304, -1000, "systemd-udevd")
    assert (rows[3714].rss, rows[3714].swapents, rows[3714].nr_ptes, rows[3714].nr_pmds) == (15661, 33671, 261, 8)
    assert (rows[15616].swapents, rows[15616].name) == (0, "less")
    # "Killed process 3714 (dsm_om_connsvcd)" + "total-vm:3844004kB, anon-rss:49616kB, file-rss:13028kB, shmem-rss:0kB"
    (k,) = ev.killed
    assert (k.pid, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) == (3714, 3844004, 49616, 13028, 0)
    assert k.variant == "4.5"
    # "Node 0 Normal free:44968kB min:45192kB low:61736kB" + 6 lines up to "local_pcp:0kB free_cma:0kB"
    assert ev.meminfo is not None
    zones = {(z.node, z.zone): z for z in ev.meminfo.zones}
    assert (zones[(0, "Normal")].present_kb, zones[(0, "Normal")].managed_kb) == (16777216, 16546296)
    assert zones[(1, "DMA32")].present_kb == 3378660 and zones[(1, "Normal")].high_kb == 62152
    assert any("rejoined" in n for n in ev.notes)
    assert not any("cut short" in n for n in a.notes)
    # T = 8385304 - 134396 + 48300028 / 4 = 20325915; 3714: 15661 + 33671 + 261 + 8 = 49601, less 3 % for root
    # (4.x) = 48113, * 1000 // T = 2, the printed score; next snmpd (uid 105): 770 + 5046 + 36 + 3 = 5855
    assert a.domain is not None and a.domain.totalpages == 20325915
    assert a.verdict == Verdict.AGREES and a.model_victim is not None and a.model_victim.pid == 3714


def test_the_raw_quoted_printable_mail_reads_as_its_decoded_form() -> None:
    (raw,) = analyses("realoom4", "004")
    (dec,) = analyses("realoom3", "009")
    ev = raw.event
    # "pidof invoked oom-killer: gfp_mask=3D0x840d0, order=3D0, oom_adj=3D0, oom_s=" + "core_adj=3D0"
    assert ev.invoked is not None and ev.invoked.comm == "pidof" and ev.invoked.gfp_mask == 0x840d0
    assert (ev.invoked.order, ev.invoked.oom_adj, ev.invoked.oom_score_adj) == (0, 0, 0)
    # "Killed process 1913 (plymouthd) total-vm:5160kB, anon-rss:392kB, file-rss:1=" + "068kB"
    (k,) = ev.killed
    assert (k.pid, k.total_vm_kb, k.anon_rss_kb, k.file_rss_kb) == (1913, 5160, 392, 1068)
    # the zone line, soft-broken five times, one continuation starting with a blank (" writeback:0kB ..")
    assert ev.meminfo is not None and ev.meminfo.total_swap_kb == 0
    (z,) = ev.meminfo.zones
    assert (z.free_kb, z.min_kb, z.high_kb, z.present_kb) == (5700, 5752, 8628, 2068480)
    assert any("quoted-printable" in n for n in ev.notes)
    assert not any("not understood" in n for n in ev.notes)
    assert (raw.verdict, raw.reason) == (dec.verdict, dec.reason)
    assert ev.table is not None and dec.event.table is not None
    assert [replace(r, lineno=0) for r in ev.table.rows] == [replace(r, lineno=0) for r in dec.event.table.rows]
    assert ev.selection is not None and dec.event.selection is not None
    assert replace(ev.selection, lineno=0) == replace(dec.event.selection, lineno=0)


def test_oom_serial_prefixes_and_the_deferred_table_make_one_report() -> None:
    # every OOM line starts "OOM[1]: "; the task table comes after the kill line, the reaper line between its rows
    (a,) = analyses("realoom4", "005")
    ev = a.event
    assert ev.invoked is not None and ev.invoked.comm == "kworker/4:1" and ev.invoked.order == -1
    assert ev.summary is not None and (ev.summary.constraint, ev.summary.pid) == ("CONSTRAINT_NONE", 737)
    (k,) = ev.killed
    assert (k.pid, k.uid, k.pgtables_kb, k.oom_score_adj, k.kind) == (737, 0, 421888, 0, "global")
    assert [r.pid for r in ev.reaped] == [737]
    assert ev.table is not None and [r.pid for r in ev.table.rows] == [548, 737, 1300]
    r = ev.table.rows[0]
    assert (r.total_vm, r.rss, r.pgtables_bytes, r.name) == (9772, 1172, 110592, "systemd-journal")
    assert (ev.start_line, ev.end_line) == (1, 12)
    assert any("OOM[1]" in n for n in ev.notes)
    # "(...snipped....)" between the rows: other candidates may be missing, so no verdict
    assert ev.table.truncated
    assert a.verdict == Verdict.UNDECIDABLE and a.reason is not None and "left out" in a.reason


def test_quoted_printable_soft_breaks_inside_dmesg_records() -> None:
    (a,) = analyses("realoom4", "006")
    ev = a.event
    # "CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.6.0-rc1-00054-=" + "gd32122774dab #12"
    assert ev.kernel_release == "5.6.0-rc1-00054-gd32122774dab"
    # "swapper/0 invoked oom-killer: gfp_mask=3D0x100cc2(GFP_HIGH=" + "USER), order=3D0, oom_score_adj=3D0"
    assert ev.invoked is not None and (ev.invoked.comm, ev.invoked.pid) == ("swapper/0", 1)
    assert ev.invoked.gfp_flags == "GFP_HIGHUSER" and ev.start_line == 1
    # "Kernel panic - not syncing: System is deadlocked on memory=" before an empty line: the "=" is a soft break
    assert ev.panic == "System is deadlocked on memory"
    assert ev.meminfo is not None
    (z,) = ev.meminfo.zones
    assert (z.present_kb, z.managed_kb) == (8192, 5528)
