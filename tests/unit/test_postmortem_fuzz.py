"""Fuzz (issue 7.8, analysis side): mutated corpus reports. No exception escapes `analyze_events` (run
strict, so the per-event safety net cannot hide one), and `postmortem --json` output parses and has the
documented fields. Derandomized on CI by Hypothesis's `ci` profile, like the other property tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from oomlens.analysis.postmortem import analyze_events
from oomlens.cli.main import cli
from oomlens.oomreport import parse_text

DATA = Path(__file__).resolve().parents[1] / "data" / "oomreport"
LOGS = {p.name: p.read_text(encoding="utf-8", errors="surrogateescape")
        for p in sorted((DATA / "corpus").glob("*.log")) + sorted((DATA / "synthetic").glob("*.log"))}
NUMBER = re.compile(r"\d+")
# values a hostile log may hold; the parser's own limit on digits (4,300) is the parser's business
WILD = st.one_of(st.integers(0, 10), st.integers(0, 2**70), st.sampled_from([2**63, 2**64, 2**64 - 1, 10**308, 10**309]),
                 st.integers(10**300, 10**400), st.integers(-2**64, -1))
KEY_LINES = re.compile(r"usage|limit|pages RAM|reserved|Total swap|anon-rss|score|^\S*.*\[\s*\d+\]\s+\d+")
"""Lines whose numbers the analysis uses (memcg, Mem-Info, kill, selection, task rows): mutated half the time."""
EVENT_FIELDS = ("source", "host", "kernel_era", "badness_unit", "constraint", "totalpages", "kernel_victim",
                "model_victim", "verdict", "reason", "tasks", "notes", "explanation")


@st.composite
def mutated_logs(draw: st.DrawFn) -> str:
    text = LOGS[draw(st.sampled_from(sorted(LOGS)))]
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        hot = [k for k, line in enumerate(lines) if KEY_LINES.search(line)]
        i = draw(st.sampled_from(hot)) if hot and draw(st.booleans()) else draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["number", "number", "number", "release", "delete", "duplicate", "swap", "cut"]))
        if op == "number":
            nums = list(NUMBER.finditer(lines[i]))
            if nums:
                m = nums[draw(st.integers(0, len(nums) - 1))]
                lines[i] = lines[i][:m.start()] + str(draw(WILD)) + lines[i][m.end():]
        elif op == "release":
            rel = draw(st.sampled_from(["1.2.3", "100.0", "4294967296.13.0", "0.0", "99.99", "2.6.36", "x"]))
            lines[i] = re.sub(r"\d+\.\d+\.\d+\S*", rel, lines[i], count=1)
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines) + "\n"


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_logs())
def test_analysis_of_mutated_reports_never_raises(text: str) -> None:
    try:
        events = parse_text(text, "fuzz.log")
    except Exception:
        reject()
    for a in analyze_events(events, strict=True):
        d = a.to_dict()
        json.dumps(d)
        assert d["verdict"] in ("agrees", "disagrees", "undecidable")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_logs())
def test_postmortem_json_of_mutated_reports_is_valid(text: str) -> None:
    r = CliRunner().invoke(cli, ["postmortem", "--json", "-"], input=text)
    doc = json.loads(r.stdout)  # valid JSON, whatever happened
    if r.exit_code == 1:  # a parser exception (the parser's business): reported as this source's error
        (src,) = doc["sources"]
        assert "internal error while reading it" in src["error"] and src["hint"]
        return
    assert r.exit_code == 0, r.output
    assert list(doc) == ["events", "sources", "summary"]
    for ev in doc["events"]:
        for k in EVENT_FIELDS:
            assert k in ev
    s = doc["summary"]
    assert s["events"] == len(doc["events"]) == s["agrees"] + s["disagrees"] + s["undecidable"]
    # sources[].events counts what the parser found, repeats and stray parts of a report included (README)
    assert doc["sources"] == [{"path": "-", "events": len(doc["events"]) + len(s["repeats"]), "error": None,
                               "hint": None}]
