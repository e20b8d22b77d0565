"""The unit of badness by era (kernel-oom-spec.md §1): pages from 3.5, per mille of T in 2.6.36-3.4,
heuristic points before. One definition (``Era.badness_unit`` / ``badness_pages``) for every output."""

from __future__ import annotations

import pytest

from oomlens.kernel.eras import ERAS, badness_pages, era_for


@pytest.mark.parametrize(("release", "unit"), [
    ("2.6.16", "points"), ("2.6.32", "points"), ("2.6.35", "points"),
    ("2.6.36", "permille"), ("3.1", "permille"), ("3.2", "permille"), ("3.4.113", "permille"),
    ("3.5", "pages"), ("3.10", "pages"), ("4.19", "pages"), ("5.8", "pages"), ("5.9", "pages"), ("6.18", "pages"),
])
def test_unit_by_release(release: str, unit: str) -> None:
    assert era_for(release).badness_unit == unit


def test_every_era_has_a_unit() -> None:
    assert {e.badness_unit for e in ERAS} == {"points", "permille", "pages"}


def test_pages_era_is_exact() -> None:
    assert badness_pages(era_for("4.19"), 24685, 25600) == (24685, True)
    assert badness_pages(era_for("6.1"), -12, None) == (-12, True)  # T not needed


def test_permille_gap_of_rhel6_java_vim() -> None:
    # corpus 003: java 889625 pages, vim 814178 pages, T = 2097151 - 81869 = 2015282: badness 441 vs 404.
    # The 37-point gap is 37 * 2015282 / 1000 = 74565.4 pages (the rss gap is 75447: within T/1000 per point).
    assert badness_pages(era_for("2.6.36"), 37, 2015282) == (74565, False)
    assert badness_pages(era_for("3.2"), -37, 2015282) == (-74565, False)


def test_no_page_figure_without_t_or_for_legacy() -> None:
    assert badness_pages(era_for("3.1"), 37, None) is None
    assert badness_pages(era_for("3.1"), 37, 0) is None
    assert badness_pages(era_for("2.6.32"), 37, 2015282) is None
