"""Real OOM reports (tests/data/postmortem/realoom8, sources in SOURCES.tsv) that crashed the parser or that it read
wrongly: a kill line a mail client wrapped after 'anon-rss:…kB,' (a crash that lost every event), an 'oom-kill:'
summary printed before the memcg block (linux-next 4.18), ': ' mail quoting, a syslog record that a reply client's
re-wrap starts mid-line, a pager's garbled position mark, and a memcg limit of 0 kB (T = 1).

Every expected value is worked out by hand from the log and the kernel's rules (kernel-oom-spec.md and the kernel
sources named in the comments), not copied from the tool's output."""

from __future__ import annotations

from realdata import analyses

from oomlens.analysis.postmortem import analyze_events
from oomlens.oomreport import OomEvent, iter_events


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
