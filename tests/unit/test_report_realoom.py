"""The HTML page's view of real reports (tests/data/postmortem/realoom): the domain in the same words as the
text output (never "global" for a memcg OOM), and no badness chart drawn at an invented T."""

from __future__ import annotations

import pytest
from realdata import analyses

from oomlens.report.view import event_view


def test_memcg_without_a_path_is_not_global_on_the_page() -> None:
    # 017: a bare memcg selection line ("Memory cgroup out of memory: Kill process 1012 ... score 1035")
    (a,) = analyses("realoom", "017")
    v = event_view(1, a)
    assert v.domain.startswith("memcg (cgroup path not printed)") and "global" not in v.domain


def test_no_chart_at_an_invented_t() -> None:
    # 007: T is not printed; python's badness (1868878 + 4581 + 467803 pages, adj 0) wins at every T, but the
    # other candidates' (adj -900, -1000...) depend on T: a bar chart would draw them at some T the log lacks
    (a,) = analyses("realoom", "007")
    assert a.totalpages is None and a.t_dependent and a.verdict == "agrees"
    v = event_view(1, a)
    assert v.chart is None and v.no_chart is not None and "T is unknown" in v.no_chart


def test_an_event_without_a_chart_takes_no_chart_slot(tmp_path, monkeypatch) -> None:
    # one chart allowed: 007 draws none (T unknown), so 009's (a ranking at a known T) is drawn, none omitted
    pytest.importorskip("jinja2")
    from oomlens.cli import html

    monkeypatch.setattr(html, "MAX_CHARTS", 1)
    pages = []
    monkeypatch.setattr(html, "write", lambda path, text: pages.append(text))
    (first,), second = analyses("realoom", "007"), analyses("realoom", "009-blog")[0]
    assert second.ranking is not None and not second.t_dependent
    list(html._tee([first, second], str(tmp_path / "p.html"), ("x",)))
    (page,) = pages
    assert "chart omitted" not in page and "charts only" not in page
    assert event_view(2, second, with_chart=True).chart is not None
    assert event_view(2, second, with_chart=False).chart_omitted and not event_view(1, first, False).chart_omitted
