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
