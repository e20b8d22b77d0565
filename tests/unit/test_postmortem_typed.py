"""The post-mortem's values are typed (Verdict, ScoreCheck, EventExplanation, InvokedBy, OverLimit) and their
to_dict() is the JSON's block; the expected dicts are worked out by hand from the logs."""

from __future__ import annotations

import json
from pathlib import Path

import oomlens
from oomlens.analysis.postmortem import (
    EventExplanation,
    InvokedBy,
    OverLimit,
    ScoreCheck,
    Tally,
    TaskBadness,
    TopRow,
    Verdict,
    analyze_events,
)
from oomlens.oomreport import parse_text

CORPUS = Path(__file__).resolve().parents[1] / "data" / "oomreport" / "corpus"


def test_verdict_values_are_the_json_strings():
    assert [v.value for v in Verdict] == ["agrees", "disagrees", "undecidable"]
    assert oomlens.Verdict is Verdict
    assert Verdict.AGREES == "agrees" and f"{Verdict.DISAGREES}" == "disagrees"
    assert json.dumps({"verdict": Verdict.UNDECIDABLE}) == '{"verdict": "undecidable"}'


def test_cadvisor_system_oom_is_typed_and_its_blocks_are_worked_by_hand():
    # 001 (3.13.0-27, 3.5-3.13 rules, badness in pages): T = 445340 pages RAM - 10614 reserved + 0 swap = 434726.
    # badness = rss + nr_ptes + swapents; uid-0 tasks lose 30 x T/1000 = 13020 pages (CAP_SYS_ADMIN, assumed
    # from uid 0) and clamp to 1, so the candidates are the uid 1020/10x tasks:
    #   1532 badsysprogram 398810 + 788 = 399598;  1408 bash 581 + 17 = 598;  1444 bash 581 + 16 = 597;
    #   1443 sshd 257 + 52 = 309;  1407 sshd 255 + 52 = 307  (ntpd 171, dbus-daemon 133, ... below)
    # printed "score 919": 399598 * 1000 // 434726 = 919.
    (a,) = oomlens.postmortem(str(CORPUS / "001-cadvisor-system-oom.log"))
    assert isinstance(a.verdict, Verdict) and a.verdict is Verdict.AGREES
    assert isinstance(a.score_check, ScoreCheck) and isinstance(a.explanation, EventExplanation)
    assert isinstance(a.explanation.victim, TaskBadness) and all(isinstance(t, TopRow) for t in a.explanation.top)
    assert a.score_check.to_dict() == {"printed": 919, "model": 919, "matches": True, "why": None}
    # margin 399598 - 598 = 399000 pages. adj x 434 (T/1000) must bring 399598 to 598 or below (bash, scanned
    # first, keeps a tie in 3.x): 399000 / 434 = 919.4, so -920 spares it; shedding the margin does too.
    assert a.explanation.to_dict() == {
        "badness_unit": "pages",
        "victim": {"pid": 1532, "name": "badsysprogram", "badness": 399598},
        "runner_up": {"pid": 1408, "name": "bash", "badness": 598},
        "margin": 399000,
        "margin_pages": 399000,
        "margin_pages_exact": True,
        "margin_text": "399000 pages",
        "spare_adj": -920,
        "would_die_instead": {"pid": 1408, "name": "bash"},
        "shed_points": 399000,
        "shed_pages": 399000,
        "shed_pages_exact": True,
        "top": [
            {"pid": 1532, "name": "badsysprogram", "badness": 399598, "rss": 398810, "swapents": 0, "pgtables": 788,
             "adj_term": 0, "margin_to_victim": 0},
            {"pid": 1408, "name": "bash", "badness": 598, "rss": 581, "swapents": 0, "pgtables": 17, "adj_term": 0,
             "margin_to_victim": -399000},
            {"pid": 1444, "name": "bash", "badness": 597, "rss": 581, "swapents": 0, "pgtables": 16, "adj_term": 0,
             "margin_to_victim": -399001},
            {"pid": 1443, "name": "sshd", "badness": 309, "rss": 257, "swapents": 0, "pgtables": 52, "adj_term": 0,
             "margin_to_victim": -399289},
            {"pid": 1407, "name": "sshd", "badness": 307, "rss": 255, "swapents": 0, "pgtables": 52, "adj_term": 0,
             "margin_to_victim": -399291},
        ],
        "kernel_victim_rank": 1,
    }
    # "badsysprogram invoked oom-killer: gfp_mask=0x280da, order=0" (no pid there: the CPU line's PID 1532)
    assert a.invoked_by == InvokedBy("badsysprogram", 1532, 0, 0x280DA)
    assert a.over_limit is None  # a global OOM
    d = a.to_dict()
    assert d["verdict"] == "agrees" and type(d["verdict"]) is str
    assert d["score_check"] == a.score_check.to_dict() and d["explanation"] == a.explanation.to_dict()
    assert d["invoked_by"] == {"comm": "badsysprogram", "pid": 1532, "order": 0, "gfp_mask": 164058}
    assert (d["timestamp"], d["kernel_release"], d["constraint"], d["cgroup"]) == (
        "Jan 28 19:58:45", "3.13.0-27-generic", "CONSTRAINT_NONE", None)
    assert (d["totalpages"], d["totalpages_exact"]) == (434726, True)  # confirmed by the printed score


def test_memcg_over_limit_is_typed():
    # 002: "memory: usage 980kB, limit 980kB, failcnt 4152239"; "memory+swap: usage 0kB, limit 18014398509481983kB"
    (a,) = oomlens.postmortem(str(CORPUS / "002-cadvisor-container-oom.log"))
    assert isinstance(a.over_limit, OverLimit)
    assert a.over_limit.to_dict() == {"usage_kb": 980, "limit_kb": 980, "failcnt": 4152239, "over_kb": 0,
                                      "percent": 100.0, "memsw_usage_kb": 0, "memsw_limit_kb": 18014398509481983}
    assert a.to_dict()["over_limit"] == a.over_limit.to_dict()
    assert (a.constraint, a.cgroup) == ("CONSTRAINT_MEMCG", "/mem2")


ROW = "[{pid:>7}] {uid:>5} {pid:>5} {vm:>8} {rss:>8} {pt:>14} {swap:>8}         {adj:>5} {name}"


def test_a_printed_score_the_model_cannot_reach_says_what_the_kernel_counted():
    # a 4.19 report (pages, exact T): T = 1000000 pages RAM - 0 reserved + 0 swap. big: 900000 rss + 4096 bytes
    # of page tables (1 page) = 900001 points, which prints 900001 * 1000 // T = 900; the log says 950, i.e.
    # 950 * 1000 .. 951 * 1000 points
    rows = [(2, 4000, "sshd"), (3, 1000, "cron"), (11, 900_000, "big")]
    lines = ["big invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), nodemask=(null), order=0, "
             "oom_score_adj=0",
             "CPU: 1 PID: 11 Comm: big Not tainted 4.19.0-1-amd64 #1",
             "Mem-Info:", "Total swap = 0kB", "1000000 pages RAM", "0 pages HighMem/MovableOnly", "0 pages reserved",
             "Tasks state (memory values in pages):",
             "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"]
    lines += [ROW.format(pid=p, uid=1000, vm=rss * 2, rss=rss, pt=4096, swap=0, adj=0, name=n) for p, rss, n in rows]
    lines += ["Out of memory: Kill process 11 (big) score 950 or sacrifice child",
              "Killed process 11 (big) total-vm:7200000kB, anon-rss:3600000kB, file-rss:0kB, shmem-rss:0kB"]
    text = "".join(f"[  100.{i:06d}] {line}\n" for i, line in enumerate(lines))
    (a,) = analyze_events(parse_text(text), strict=True)
    implied = "the kernel counted 950000..951000 points for 11 (big); the table gives 900001"
    why = implied + "; values moved between the selection and the table dump"
    assert a.score_check == ScoreCheck(950, 900, False, why, implied=implied, implied_points=(950000, 951000))
    assert a.score_check.to_dict() == {"printed": 950, "model": 900, "matches": False, "implied": implied,
                                       "implied_points": [950000, 951000], "why": why}
    assert a.verdict is Verdict.AGREES and a.reason == "same victim; printed score 950 vs model 900: " + why


def test_tally_counts_by_verdict():
    t = Tally()
    verdicts = []
    for a in oomlens.postmortem(*(str(p) for p in sorted(CORPUS.glob("*.log")))):
        t.add(a)
        verdicts.append(a.verdict)
    counts = t.counts()
    assert list(counts) == list(Verdict) and counts == {v: verdicts.count(v) for v in Verdict}
    d = t.to_dict()
    assert list(d) == ["events", "agrees", "disagrees", "undecidable", "hosts", "repeats"] and d["repeats"] == []
    assert d["events"] == len(verdicts) and d["agrees"] == verdicts.count(Verdict.AGREES)
    assert all(type(k) is str for h in d["hosts"] for k in h)
