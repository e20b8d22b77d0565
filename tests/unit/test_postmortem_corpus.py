"""Every corpus report (real logs from public threads, plus this machine's 6.18 report) against the
expected results checked by hand in tests/data/oomreport/corpus/*.expected.json ("model" section)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oomlens.analysis.postmortem import analyze_events
from oomlens.sources.kernellog import iter_file_events

CORPUS = Path(__file__).resolve().parents[1] / "data" / "oomreport" / "corpus"
EXPECTED = sorted(CORPUS.glob("*.expected.json"))


def test_every_corpus_log_has_an_expected_file():
    logs = {p.name[: -len(".log")] for p in CORPUS.glob("*.log")}
    assert logs and logs == {p.name[: -len(".expected.json")] for p in EXPECTED}


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_postmortem_matches_the_hand_checked_result(expected_file):
    exp = json.loads(expected_file.read_text())
    model = exp["model"]
    analyses = [a.to_dict() for a in analyze_events(iter_file_events(str(CORPUS / exp["file"])))]
    assert len(analyses) == exp["events"]
    d = analyses[exp["main"]]
    assert d["verdict"] == model["verdict"], d["reason"]
    ev = exp["event"]
    if ev.get("victim_pid") is not None:
        assert d["kernel_victim"]["pid"] == ev["victim_pid"]
    if model["verdict"] == "agrees":
        assert d["model_victim"]["pid"] == d["kernel_victim"]["pid"]
    if model.get("totalpages") is not None and d["totalpages_exact"]:
        assert d["totalpages"] == model["totalpages"], d["totalpages_how"]
    if model.get("totalpages") is None:
        # nothing recoverable by hand: the tool must not claim an exact T either
        assert d["totalpages"] is None or not d["totalpages_exact"] or "inferred" in (d["totalpages_how"] or "")


def _hand_range(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The release range of a hand-written era: "3.5-3.13 (...)", "5.9-6.18", "<= 2.6.35 ...", "2.4"."""
    import re

    def v(s: str) -> tuple[int, ...]:
        return tuple(int(x) for x in s.split("."))

    m = re.match(r"\s*<=\s*([\d.]+)", text)
    if m:
        return (0,), v(m[1])
    m = re.match(r"\s*([\d.]+)-([\d.]+)", text)
    if m:
        return v(m[1]), v(m[2])
    m = re.match(r"\s*([\d.]+)", text)
    assert m, text
    return v(m[1]), v(m[1]) + (9999,)


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_independent_numbers_match_the_hand_worked_ones(expected_file):
    """The tool's era, T and the victim's badness against the values worked out by hand (not by the tool):
    the era must lie in the hand-worked release range, T must equal the hand value whenever the tool gives
    one (exact or not), and the victim's badness must equal the hand-computed one."""
    from oomlens.kernel.eras import era_by_name

    exp = json.loads(expected_file.read_text())
    model = exp["model"]
    d = [a.to_dict() for a in analyze_events(iter_file_events(str(CORPUS / exp["file"])))][exp["main"]]
    if model.get("era") and d["kernel_era"]:
        lo, hi = _hand_range(model["era"])
        first = era_by_name(d["kernel_era"]).first
        assert lo <= first[: len(lo)] or first <= lo, (d["kernel_era"], model["era"])
        assert first[: len(hi)] <= hi, (d["kernel_era"], model["era"], d["era_source"])
    if model.get("totalpages") is not None and d["totalpages"] is not None:
        assert d["totalpages"] == model["totalpages"], d["totalpages_how"]
    if model.get("victim_badness") is not None and d["model_victim"] is not None:
        row = next(t for t in d["tasks"] if t["pid"] == d["model_victim"]["pid"])
        assert row["badness"] == model["victim_badness"]
