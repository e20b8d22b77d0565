"""The HTML page's view of real reports (tests/data/postmortem/realoom): the domain in the same words as the
text output (never "global" for a memcg OOM), and no badness chart drawn at an invented T."""

from __future__ import annotations

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
