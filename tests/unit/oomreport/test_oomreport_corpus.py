"""Every real report of the corpus against its hand-checked ``<name>.expected.json``.

The expected files were written by reading each log and ``INDEX.tsv`` (not from parser output).
Their ``model`` section (totalpages, the victim the kernel model should choose, the verdict) is
for the postmortem re-scoring tests; here only its internal consistency is checked.
"""

from __future__ import annotations

import json
import os

import pytest
from oomreport_expect import DATA, check_file, expected_paths

from oomlens.oomreport import iter_events
from oomlens.sources.kernellog import iter_chunks, iter_file_events

CORPUS = os.path.join(DATA, "corpus")
EXPECTED = expected_paths("corpus")


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_corpus_is_complete() -> None:
    assert len(EXPECTED) >= 18   # every public corpus file and the 6.18 smoke log


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: os.path.basename(p)[:3])
def test_corpus_file(path: str) -> None:
    check_file("corpus", path)


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: os.path.basename(p)[:3])
def test_model_section_is_consistent(path: str) -> None:
    """The postmortem engineer tests against ``model``; keep it well-formed and honest."""
    exp = _load(path)
    m = exp["model"]
    assert m["verdict"] in ("agrees", "disagrees", "undecidable")
    assert m["why"] and m["totalpages_how"]
    if m["verdict"] == "agrees":
        assert m["victim_pid"] == exp["event"]["victim_pid"]
    if m["verdict"] == "undecidable":
        # a victim may be named only as "best of the rows that were printed" (filtered table)
        assert m["victim_pid"] is None or "filtered" in m["why"]
    ev = exp["event"]
    # totalpages for global OOMs is RAM - reserved + swap/4 whenever those were printed
    if (m["totalpages"] is not None and ev.get("domain") == "global"
            and ev.get("pages_ram") is not None):
        assert m["totalpages"] == ev["pages_ram"] - ev["pages_reserved"] + ev["total_swap_kb"] // 4
    if m["totalpages"] is not None and ev.get("domain") == "memcg" and exp["file"][:3] in (
            "008", "037", "6.1"):
        assert m["totalpages"] == ev["memcg_limit_kb"] // 4


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: os.path.basename(p)[:3])
def test_corpus_same_result_any_way_it_is_read(path: str) -> None:
    """Tiny chunks, str lines, the readinto path and the no-prefilter path agree."""
    name = _load(path)["file"]
    full = os.path.join(CORPUS, name)
    ref = [e.to_dict() for e in iter_file_events(full)]
    assert [e.to_dict() for e in iter_events(iter_chunks(full, 5), full)] == ref
    assert [e.to_dict() for e in iter_events(iter_chunks(full), full, scan_all=True)] == ref
    with open(full, encoding="utf-8", errors="replace") as f:
        assert [e.to_dict() for e in iter_events(f.readlines(), full)] == ref
