"""Issue 8.3 / 8.6: postmortem says badness in the era's unit (per mille of T in 2.6.36-3.4, not pages),
gives page figures only where they can be derived (and says when approximate), and emits oom_score null
when the report lacks the host's T."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from oomlens.analysis.postmortem import analyze_events
from oomlens.cli.main import cli
from oomlens.sources.kernellog import iter_file_events

CORPUS = Path(__file__).resolve().parents[1] / "data" / "oomreport" / "corpus"


def events(name: str) -> list[dict]:
    (path,) = CORPUS.glob(name + "*.log")
    return [a.to_dict() for a in analyze_events(iter_file_events(str(path)))]


def test_rhel6_java_vim_gap_is_per_mille_not_pages():
    # 003: T = 2097151 - 81869 + 0 swap = 2015282. java rss 889625 -> 889625*1000//2015282 = 441,
    # vim 814178 -> 404: a 37-point gap = 37*2015282//1000 = 74565 pages (the rss gap is 75447).
    (d,) = events("003-")
    assert d["badness_unit"] == "permille"
    ex = d["explanation"]
    assert ex["badness_unit"] == "permille" and ex["margin"] == 37
    assert ex["margin_pages"] == 74565 and ex["margin_pages_exact"] is False
    # to stop being the victim java must lose 38 points: java is scanned before vim and a tie goes to the
    # first scanned (2.6.36-3.1), so at 404 java would still die
    assert ex["shed_points"] == 38 and ex["shed_pages"] == 38 * 2015282 // 1000 and ex["shed_pages_exact"] is False
    assert "per mille" in ex["margin_text"]


def test_rhel6_human_output_does_not_call_points_pages():
    r = CliRunner().invoke(cli, ["postmortem", str(CORPUS / "003-blog-java-vim-rhel6.log")])
    assert r.exit_code == 0, r.output
    why = next(line for line in r.output.splitlines() if line.startswith("why:"))
    assert "37 pages" not in why and "148K" not in why
    assert "37 points per mille of T" in why and "74565 pages" in why and "291M" in why


def test_pages_era_margin_is_exact_pages():
    # 008: stress 24387 has 24901 points (see test_postmortem_hosts); stress 24386: rss 210 + nr_ptes 9 +
    # nr_pmds 3 = 222, minus the 3% root bonus (6) = 216. Margin 24685 pages; 24386 is scanned first and
    # wins a tie, so shedding exactly the margin suffices.
    (d,) = events("008-")
    ex = d["explanation"]
    assert d["badness_unit"] == ex["badness_unit"] == "pages"
    assert ex["margin"] == ex["margin_pages"] == 24685 and ex["margin_pages_exact"] is True
    assert ex["shed_pages"] == ex["shed_points"] == 24685 and ex["shed_pages_exact"] is True


@pytest.mark.parametrize("name", ["002-", "008-", "012-", "037-"])
def test_memcg_report_without_host_totals_has_no_oom_score(name):
    # these memcg reports print no "pages RAM": the /proc scale (global T) is unknown
    for d in events(name):
        assert d["constraint"] == "CONSTRAINT_MEMCG"
        assert d["tasks"] and all(t["oom_score"] is None for t in d["tasks"])


def test_memcg_report_with_host_totals_scores_on_the_global_T():
    # 004 prints the global Mem-Info too: G = 294896 - 7632 + 2064376 kB/4 = 803358 pages; 2.6.36-3.1
    # /proc/PID/oom_score = badness with the global T = 12903*1000//803358 = 16 (badness in the memcg: 49)
    (d,) = events("004-")
    (t,) = d["tasks"]
    assert t["badness"] == 12903 * 1000 // 262144 == 49
    assert t["oom_score"] == 16


def test_global_report_with_unknown_T_has_no_oom_score():
    from test_postmortem import report68

    from oomlens.oomreport import parse_text

    text = "\n".join(line for line in report68([(10, 500), (11, 900)], 11).splitlines()
                     if "pages RAM" not in line) + "\n"
    (a,) = analyze_events(parse_text(text))
    d = a.to_dict()
    assert d["totalpages"] is None
    assert all(t["oom_score"] is None for t in d["tasks"])
    json.dumps(d)
