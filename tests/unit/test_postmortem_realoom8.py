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
