"""Helpers for the tests over real OOM reports kept under tests/data/postmortem/<set>/ (sources in SOURCES.tsv)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oomlens.analysis.postmortem import analyze_events
from oomlens.sources.kernellog import iter_file_events

POSTMORTEM_DATA = Path(__file__).resolve().parents[1] / "data" / "postmortem"


def analyses(data_set: str, name: str) -> list[Any]:
    """Every event of the one log of ``data_set`` whose file name starts with ``name``, analysed strictly."""
    (path,) = (POSTMORTEM_DATA / data_set).glob(name + "*.log")
    return list(analyze_events(iter_file_events(str(path)), strict=True))
