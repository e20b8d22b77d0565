"""Issue 7.4 (analysis side): values no kernel prints (above 2**64, ~1e308 and beyond, negative) and
releases outside 2-99 make *that* event say so; nothing raises, the JSON stays valid."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_postmortem import report68

from oomlens.analysis.postmortem import analyze_events
from oomlens.cli.main import cli
from oomlens.oomreport import parse_text

BIG = "9" * 400  # about 1e400: float() of it raises OverflowError
MEMCG = report68([(10, 500), (11, 900)], 11, memcg={"path": "/a"}, limit_kb=102400)
GLOBAL = report68([(10, 500), (11, 900)], 11)


def analyze(text: str) -> list[dict]:
    out = [a.to_dict() for a in analyze_events(parse_text(text), strict=True)]
    json.dumps(out)  # valid JSON whatever the input
    return out


def test_huge_rss_in_the_table_is_undecidable_and_named():
    (d,) = analyze(MEMCG.replace(" 900 ", f" {BIG} ", 1))
    # the parser refuses the row (no kernel prints a 400-digit rss): the table is incomplete, so undecidable
    assert d["verdict"] == "undecidable" and "incomplete" in d["reason"]
    assert any("task-table row not used" in n and "400 characters" in n for n in d["notes"])


def test_out_of_range_adj_is_undecidable():
    (d,) = analyze(GLOBAL.replace("             0 p11", "          5000 p11"))
    assert d["verdict"] == "undecidable" and "oom_score_adj = 5000" in d["reason"]


def test_huge_memcg_usage_is_dropped_with_a_note():
    # the parser sets the whole usage/limit line aside (it cannot vouch for the rest of it): T is unknown, and
    # with no oom_score_adj anywhere the ranking does not depend on T, so the verdict stands
    (d,) = analyze(MEMCG.replace("memory: usage 102400kB", f"memory: usage {BIG}kB"))
    assert d["over_limit"] is None and d["totalpages"] is None and d["verdict"] == "agrees"
    assert any("OOM line not used: usage" in n for n in d["notes"])


def test_huge_memcg_limit_makes_T_unknown():
    (d,) = analyze(MEMCG.replace("limit 102400kB", f"limit {BIG}kB", 1))
    assert d["totalpages"] is None and any("OOM line not used: limit" in n for n in d["notes"])
    # no oom_score_adj anywhere: the ranking does not depend on T, the verdict stands
    assert d["verdict"] == "agrees"


def test_huge_pages_ram_makes_global_T_unknown():
    (d,) = analyze(GLOBAL.replace("1000000 pages RAM", f"{BIG} pages RAM"))
    assert d["totalpages"] is None and all(t["oom_score"] is None for t in d["tasks"])


def test_huge_kill_line_kb_is_ignored_for_the_page_size():
    (d,) = analyze(GLOBAL.replace("anon-rss:4kB", f"anon-rss:{BIG}kB"))
    assert d["verdict"] == "agrees" and any("OOM line not used" in n and "Killed process" in n for n in d["notes"])


def test_huge_printed_score_is_not_checked():
    text = RHEL7.replace("score 651", f"score {BIG}")
    (d,) = analyze(text)
    assert d["score_check"] is None and any("OOM line not used: score" in n for n in d["notes"])


@pytest.mark.parametrize("release", ["1.2.3", "100.0", "4294967296.13.0"])
def test_release_outside_2_to_99_is_ignored_not_a_usage_error(release):
    (d,) = analyze(report68([(10, 500), (11, 900)], 11, release=release))
    assert d["verdict"] == "agrees" and d["kernel_era"] == "5.9+"  # dated by the 6.8 table format
    assert any(f"release '{release}', which no Linux kernel has" in n for n in d["notes"])
    r = CliRunner().invoke(cli, ["postmortem", "--json", "-"], input=report68([(10, 500), (11, 900)], 11, release=release))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["events"][0]["verdict"] == "agrees"


def test_human_output_survives_huge_values(tmp_path):
    p = tmp_path / "k.log"
    p.write_text(MEMCG.replace("limit 102400kB", f"limit {BIG}kB", 1).replace("memory: usage 102400kB", f"memory: usage {BIG}kB"))
    r = CliRunner().invoke(cli, ["postmortem", str(p)])
    assert r.exit_code == 0, r.output
    assert "verdict:" in r.output


RHEL7 = """\
[100.000001] mysqld invoked oom-killer: gfp_mask=0x280da, order=0, oom_score_adj=0
[100.000002] CPU: 1 PID: 6576 Comm: mysqld Not tainted 3.10.0-514.6.1.el7.x86_64 #1
[100.000003] Mem-Info:
[100.000004] Total swap = 0kB
[100.000005] 1000000 pages RAM
[100.000006] 0 pages reserved
[100.000007] [ pid ]   uid  tgid total_vm      rss nr_ptes swapents oom_score_adj name
[100.000008] [  100]     0   100     4096     1000       4        0             0 sshd
[100.000009] [  101]     0   101     4096     1000       4        0             0 cron
[100.000010] [ 6576]    27  6576  1000000   651000       0        0             0 mysqld
[100.000011] Out of memory: Kill process 6576 (mysqld) score 651 or sacrifice child
[100.000012] Killed process 6576 (mysqld) total-vm:4000000kB, anon-rss:2604000kB, file-rss:0kB, shmem-rss:0kB
"""


def test_rhel7_fixture_checks_its_score():
    # 651000 pages * 1000 // T 1000000 = 651: the printed score is checked and matches
    (d,) = analyze(RHEL7)
    assert d["score_check"]["matches"] is True and d["verdict"] == "agrees"


def test_an_analysis_bug_makes_that_event_undecidable_and_the_run_goes_on(monkeypatch):
    from oomlens.analysis import postmortem

    calls = []

    def broken(self, ev, key):
        calls.append(ev.start_line)
        if len(calls) == 1:
            raise ZeroDivisionError("boom")
        return real(self, ev, key)

    real = postmortem.Analyzer._analyze
    monkeypatch.setattr(postmortem.Analyzer, "_analyze", broken)
    two = report68([(10, 900), (11, 500)], 10, ts=10.0) + report68([(10, 900), (11, 500)], 10, ts=20.0)
    a, b = [x.to_dict() for x in analyze_events(parse_text(two))]
    assert a["verdict"] == "undecidable" and "ZeroDivisionError: boom" in a["reason"]
    assert b["verdict"] == "agrees"
    with pytest.raises(ZeroDivisionError):
        calls.clear()
        list(analyze_events(parse_text(two), strict=True))
